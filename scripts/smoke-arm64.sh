#!/usr/bin/env bash
# Cross-compiles the NativeAOT `edge` for linux-arm64 (scripts/publish.sh: trim/AOT warnings are failures) and runs it
# under qemu-user: `edge doctor` (every kernel on every ARM path against the scalar reference), the end-to-end smoke
# test (scripts/smoke.sh), then a model trained and quantised by the x64 binary, run by both binaries: the same
# greedy and seeded tokens and the same loss. Under qemu speed means nothing: this checks correctness only. Takes
# about three minutes.
# Needs: clang lld gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user, and Debian's arm64 libssl3 (multiarch,
# libssl3:arm64): .NET's SHA-256, which quantize and LoRA use for the base's fingerprint, is the system's OpenSSL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/publish.sh linux-arm64
arm="$PWD/artifacts/publish/linux-arm64/edge"
x64="$PWD/artifacts/publish/linux-x64/edge"
[ -x "$x64" ] || bash scripts/publish.sh linux-x64
echo "smoke-arm64: $arm: $(stat -c %s "$arm") bytes"

# With Debian's arm64 libraries installed (multiarch) the emulated loader finds them at their usual paths; otherwise
# the cross-compiler's C library serves (enough for everything but quantize and LoRA, which need libssl).
if [ -e /lib/ld-linux-aarch64.so.1 ]; then qemu=(qemu-aarch64); else qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu); fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${qemu[@]}" "$arm" doctor | tee "$work/doctor.txt"
grep -q "128-bit AdvSimd" "$work/doctor.txt" || { echo "smoke-arm64: the AdvSimd paths were not checked" >&2; exit 1; }

bash scripts/smoke.sh "${qemu[@]}" "$arm"

# A model trained and quantised on x64 generates the same greedy tokens on the arm64 binary (temperature 0: the argmax
# at every step, so any difference in the logits large enough to change a choice shows in the text), and scores the
# same loss on random batches of a text to rounding (its float sums are added in another order at another vector
# width). Seeded sampling is reported, not required: a draw that lands within rounding of a token's boundary may
# go either way, and the text then diverges.
(cd "$work" && "$x64" train baby-gpt --steps 200 --eval-interval 200 --eval-iters 4 --out g --sample 0 --quiet > train.txt)
for type in q8 q4 q4m; do (cd "$work" && "$x64" quantize --in g/model.safetensors --out "g/$type.safetensors" --type "$type" --quiet > /dev/null); done
for i in $(seq 30); do echo "the keeper lit the lamp and the sea was loud"; done > "$work/words.txt"
for model in model q8 q4 q4m; do
  greedy=(generate --model "g/$model.safetensors" --prompt "KEEPER:" --tokens 100 --temperature 0)
  ours=$(cd "$work" && "$x64" "${greedy[@]}")
  theirs=$(cd "$work" && "${qemu[@]}" "$arm" "${greedy[@]}")
  [ "$ours" = "$theirs" ] || { printf 'smoke-arm64: %s: greedy tokens differ\n--- x64\n%s\n--- arm64\n%s\n' "$model" "$ours" "$theirs" >&2; exit 1; }
  sampled=(generate --model "g/$model.safetensors" --prompt "KEEPER:" --tokens 100 --temperature 0.8 --seed 3)
  ours=$(cd "$work" && "$x64" "${sampled[@]}")
  theirs=$(cd "$work" && "${qemu[@]}" "$arm" "${sampled[@]}")
  length=${#ours} common=0
  while [ "$common" -lt "$length" ] && [ "${ours:$common:1}" = "${theirs:$common:1}" ]; do common=$((common + 1)); done
  # The loss is a sum of float terms added in another order at another vector width: equal to rounding.
  eval=(eval --model "g/$model.safetensors" --data words.txt --random-batches 2 --batch 4 --seed 1)
  ours=$(cd "$work" && "$x64" "${eval[@]}" | sed -n 's/.* loss \([0-9.]*\) .*/\1/p')
  theirs=$(cd "$work" && "${qemu[@]}" "$arm" "${eval[@]}" | sed -n 's/.* loss \([0-9.]*\) .*/\1/p')
  awk -v a="$ours" -v b="$theirs" 'BEGIN { d = a - b; exit !(a != "" && (d < 0 ? -d : d) <= 0.0002) }' \
    || { echo "smoke-arm64: $model: loss $ours on x64, $theirs on arm64" >&2; exit 1; }
  echo "smoke-arm64: g/$model.safetensors: the same 100 greedy tokens on x64 and arm64; loss $ours and $theirs; sampled (seed 3): the same first $((common - 7)) of $((length - 7)) characters"
done
echo "smoke-arm64: NativeAOT edge for linux-arm64 passes its self-check and the smoke test under qemu"
