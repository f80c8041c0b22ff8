#!/usr/bin/env bash
# The GPU checks in one go, for a machine with an NVIDIA GPU and its driver but no .NET (issue #24).
#
#   bash scripts/gpu-check.sh publish [DIR]   here, with the .NET SDK: DIR (default artifacts/gpu-check) gets
#                                             edge-gpu.tar.xz (edge-gpu/: edge-gpu published self-contained for
#                                             linux-x64, JIT: ILGPU compiles kernels at run time; tests/: the device
#                                             test set, an xunit v3 program, self-contained, sharing edge-gpu's
#                                             runtime files), tinyshakespeare.txt and run.sh; fails if DIR holds more
#                                             than 64 MiB
#   bash DIR/run.sh [OUT]                     on the GPU machine: unpacks, then writes into OUT (default
#                                             gpu-results): the device's name, the test set on CUDA, the baby GPT's
#                                             recipe, the Shakespeare GPT's (nanoGPT's: batch 64, context 256, 5,000
#                                             steps), edge-gpu bench for GPT-2 124M training and generation, and
#                                             the CPU engine's benchmarks at 1 to 16 threads (bench-threads.sh)
#
# Each step's output goes to its own file; run.sh goes on after a failed step and says which failed at the end.
# SHAKESPEARE_STEPS (default 5000, the recipe's) shortens the longest step to fit a machine's time; the products are
# plain 16 x 16 shared-memory tiles, not yet tuned, so a first run should time a few hundred steps before the full recipe.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

publish() {
  cd "$here/.."
  local dir=${1:-artifacts/gpu-check}
  local data=${EDGE_DATA:-../shared/data}/tinyshakespeare.txt
  [ -f "$data" ] || { echo "gpu-check: $data not found (set EDGE_DATA)" >&2; exit 1; }
  rm -rf "$dir" && mkdir -p "$dir"
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  dotnet publish src/GpuCli -c Release -r linux-x64 --self-contained -p:SatelliteResourceLanguages=en -o "$work/edge-gpu" >/dev/null
  dotnet publish tests/Edge.Gpu.Tests -c Release -r linux-x64 --self-contained -p:SatelliteResourceLanguages=en -o "$work/tests" >/dev/null
  # Both carry the same runtime: a file of tests/ that edge-gpu/ has byte for byte becomes a link to it.
  local f name
  for f in "$work"/tests/*; do
    name=$(basename "$f")
    if [ -f "$work/edge-gpu/$name" ] && cmp -s "$f" "$work/edge-gpu/$name"; then ln -sf "../edge-gpu/$name" "$f"; fi
  done
  # The CPU engine too (NativeAOT, x86-64-v3), for the thread-scaling step: the machine has more cores than this one.
  bash scripts/publish.sh linux-x64 >/dev/null
  mkdir -p "$work/edge-cpu" && cp artifacts/publish/linux-x64/edge "$work/edge-cpu/edge"
  tar -C "$work" -cJf "$dir/edge-gpu.tar.xz" edge-gpu tests edge-cpu
  cp "$data" "$dir/"
  cp scripts/gpu-check.sh "$dir/gpu-check.sh"
  cp scripts/bench-threads.sh "$dir/bench-threads.sh"
  printf '#!/usr/bin/env bash\nexec bash "$(dirname "$0")/gpu-check.sh" run "$@"\n' > "$dir/run.sh"
  local bytes
  bytes=$(du -sb "$dir" | cut -f1)
  echo "gpu-check: $dir holds $bytes bytes ($(du -sh "$work" | cut -f1) unpacked)"
  [ "$bytes" -le $((64 * 1024 * 1024)) ] || { echo "gpu-check: more than 64 MiB" >&2; exit 1; }
}

run() {
  local out failed=()
  out=$(mkdir -p "${1:-gpu-results}" && cd "${1:-gpu-results}" && pwd)
  tar -C "$here" -xJf "$here/edge-gpu.tar.xz"
  local edge="$here/edge-gpu/edge-gpu" data="$here/tinyshakespeare.txt"
  step() {   # step NAME COMMAND...: output to OUT/NAME.txt with its wall time
    local name=$1; shift
    echo "gpu-check: $name"
    local start=$SECONDS
    if (cd "$out" && "$@") > "$out/$name.txt" 2>&1; then echo "wall ${name}: $((SECONDS - start)) s" >> "$out/times.txt"
    else echo "wall ${name}: $((SECONDS - start)) s (FAILED)" >> "$out/times.txt"; failed+=("$name"); fi
  }
  step device nvidia-smi
  step tests env EDGE_GPU_TEST_DEVICE=cuda "$here/tests/Edge.Gpu.Tests" -class- Edge.Gpu.Tests.CliTests
  step baby-gpt "$edge" train baby-gpt --data "$data" --eval-iters 20 --out models/baby-gpt --quiet
  step shakespeare-gpt "$edge" train shakespeare-gpt --data "$data" --batch 64 --steps "${SHAKESPEARE_STEPS:-5000}" --eval-interval 500 \
    --eval-iters 20 --out models/shakespeare-gpt --quiet
  step bench-gpt2-train "$edge" bench train gpt2 --vocab 50257 --batch 4 --context 1024 --steps 10 --quiet
  step bench-gpt2-generate "$edge" bench generate gpt2 --vocab 50257 --tokens 200 --quiet
  step threads env EDGE="$here/edge-cpu/edge" bash "$here/bench-threads.sh"
  cat "$out/times.txt"
  if [ ${#failed[@]} -gt 0 ]; then echo "gpu-check: failed: ${failed[*]}" >&2; exit 1; fi
  echo "gpu-check: every step passed; results in $out"
}

case "${1:-}" in
  publish) shift; publish "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: bash scripts/gpu-check.sh publish [DIR] | bash DIR/run.sh [OUT]" >&2; exit 2 ;;
esac
