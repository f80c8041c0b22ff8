#!/usr/bin/env bash
# The published NativeAOT binaries against the JIT build (`dotnet run`), on the README's two benchmarks: a baby-GPT
# training step and a GPT-2-shaped q8 token. Runs alternate (AOT, JIT, AOT, JIT, ...) so that a machine shared with
# other work slows both alike; prints the median of each column's medians and the vector width each reported.
#   bash scripts/bench-aot.sh [ROUNDS]            (default 5; about 20 s a round)
# Pairs: the x86-64-v3 binary against the JIT held to 256-bit vectors (DOTNET_PreferredVectorBitWidth=256), and on
# a CPU with AVX-512 also the x86-64-v4 binary against the JIT as it starts (512 bits there).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
[ -x artifacts/publish/linux-x64/edge ] || bash scripts/publish.sh linux-x64
pairs=("linux-x64:256")
if grep -qw avx512f /proc/cpuinfo; then
  [ -x artifacts/publish/linux-x64-v4/edge ] || bash scripts/publish.sh linux-x64-v4
  pairs+=("linux-x64-v4:")
fi
dotnet build src/Cli -c Release > /dev/null
benches=("train baby-gpt" "generate gpt2 --vocab 50257 --type q8")

# One run: prints "MEDIAN_MS VECTOR_BITS" from the benchmark's JSON.
measure() {
  "$@" --json --quiet | sed -n 's/.*"ms_per_[a-z]*_median":\([0-9.]*\).*"vector_bits":\([0-9]*\).*/\1 \2/p'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "| benchmark | binary | vector width | median ms (of $rounds runs) | JIT (\`dotnet run\`) | vector width | median ms | AOT / JIT |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for pair in "${pairs[@]}"; do
  target=${pair%%:*} width=${pair#*:}
  jit_env=(); [ -n "$width" ] && jit_env=(env DOTNET_PreferredVectorBitWidth="$width")
  for bench in "${benches[@]}"; do
    read -r -a words <<< "$bench"
    aot_ms=() jit_ms=()
    for ((i = 0; i < rounds; i++)); do
      read -r ms aot_bits < <(measure "artifacts/publish/$target/edge" bench "${words[@]}")
      aot_ms+=("$ms")
      read -r ms jit_bits < <(measure "${jit_env[@]}" dotnet run --project src/Cli -c Release --no-build -- bench "${words[@]}")
      jit_ms+=("$ms")
    done
    a=$(printf '%s\n' "${aot_ms[@]}" | median) j=$(printf '%s\n' "${jit_ms[@]}" | median)
    jit_name="JIT${width:+ (${width}-bit)}"
    echo "| \`edge bench $bench\` | $target | $aot_bits | $a | $jit_name | $jit_bits | $j | $(awk -v a="$a" -v j="$j" 'BEGIN { printf "%.2f", a / j }') |"
    echo "  AOT runs: ${aot_ms[*]}; JIT runs: ${jit_ms[*]}" >&2
  done
done
