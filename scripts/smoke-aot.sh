#!/usr/bin/env bash
# Publishes the NativeAOT `edge` binary (the README's command, with trim/AOT warnings treated as failures)
# and runs it end to end: train a tiny model, generate from it, and check that bad input is refused.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/aot}
log=$(mktemp)
dotnet publish src/Cli -c Release -r linux-x64 -p:PublishAot=true -o "$out" 2>&1 | tee "$log"
if grep -E "warning (IL|AOT|CS)" "$log"; then echo "smoke: the AOT publish has warnings" >&2; exit 1; fi
edge="$(cd "$out" && pwd)/edge"
work=$(mktemp -d)
trap 'rm -rf "$work" "$log"' EXIT
size=$(stat -c %s "$edge")
echo "smoke: $size bytes"
# The device backend (src/Gpu, ILGPU) lives only in the JIT host edge-gpu: ILGPU needs dynamic code, and reachable ILGPU
# code would make trim/AOT warnings. The AOT binary must hold none of it, and keep its size: 5,891,200 bytes before the
# device backend existed, 5,820,544 after (both measured with this command, .NET 10.0.401 SDK); within 5% of the former.
if grep -qa ILGPU "$edge"; then echo "smoke: the NativeAOT edge contains ILGPU code" >&2; exit 1; fi
baseline=5891200
if [ $((size * 100)) -gt $((baseline * 105)) ] || [ $((size * 100)) -lt $((baseline * 95)) ]; then
  echo "smoke: the NativeAOT edge is $size bytes, more than 5% away from $baseline" >&2; exit 1
fi

(cd "$work" && "$edge" train baby-gpt --steps 6 --eval-interval 3 --eval-iters 2 --out m --sample 40 --quiet > train.txt)
grep -q "saved m/model.safetensors" "$work/train.txt"
text=$(cd "$work" && "$edge" generate --model m/model.safetensors --prompt "KEEPER:" --tokens 40 --seed 3 --top-p 0.9)
[ "${#text}" -ge 47 ] || { echo "smoke: generated text too short: '$text'" >&2; exit 1; }
again=$(cd "$work" && "$edge" generate --model m/model.safetensors --prompt "KEEPER:" --tokens 40 --seed 3 --top-p 0.9)
[ "$text" = "$again" ] || { echo "smoke: the same seed gave different text" >&2; exit 1; }
answer=$(cd "$work" && printf 'KEEPER:\ntemp 0\nquit\n' | "$edge" chat --model m/model.safetensors --tokens 10)
grep -q "(temp = 0)" <<< "$answer"

# Bad input: one line on stderr, the documented exit code, no stack trace.
# Quantised copies and LoRA adapters go through JSON records and more file parsing: run them natively too.
(cd "$work" && "$edge" quantize --in m/model.safetensors --out m/q4.safetensors --type q4m --quiet > quant.txt)
grep -q "q4_1" "$work/quant.txt"
for i in $(seq 200); do echo "the keeper lit the lamp and the sea was loud"; done > "$work/words.txt"
(cd "$work" && "$edge" lora train --base m/model.safetensors --data words.txt --steps 4 --eval-interval 2 --eval-iters 2 --out a --quiet > lora.txt)
[ -f "$work/a/adapter_model.safetensors" ] && [ -f "$work/a/adapter_config.json" ] || { echo "smoke: lora train wrote no adapter" >&2; exit 1; }
quantized=$(cd "$work" && "$edge" generate --model m/q4.safetensors --adapter a --prompt "KEEPER:" --tokens 20 --seed 3)
[ "${#quantized}" -ge 27 ] || { echo "smoke: the quantised model with an adapter generated too little: '$quantized'" >&2; exit 1; }

set +e
(cd "$work" && "$edge" generate --model missing.safetensors 2> err.txt); code=$?
set -e
[ "$code" -eq 1 ] && [ "$(wc -l < "$work/err.txt")" -eq 1 ] && grep -q "not found" "$work/err.txt" \
  || { echo "smoke: a missing model was not refused cleanly (exit $code)" >&2; cat "$work/err.txt" >&2; exit 1; }
set +e
(cd "$work" && "$edge" generate --model m/model.safetensors --temperature -2 2> err.txt); code=$?
set -e
[ "$code" -eq 2 ] || { echo "smoke: a bad option did not exit 2 (exit $code)" >&2; exit 1; }
echo "smoke: NativeAOT edge trains, generates, chats, quantises, trains and applies an adapter, and refuses bad input"
