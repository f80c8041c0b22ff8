#!/usr/bin/env bash
# The end-to-end smoke test of an `edge` binary, run as the given command (a binary, or an emulator and a binary):
# train a small transformer a few steps, generate (the same seed twice gives the same text), chat over piped
# input, quantise, train a LoRA adapter and apply it to the quantised copy, and check that bad input is refused
# with the documented exit codes. Sizes are small (a 1.3 KB text, batch 2) so that it takes seconds natively and
# about a minute under qemu.
#   bash scripts/smoke.sh artifacts/publish/linux-x64/edge
#   bash scripts/smoke.sh qemu-aarch64 artifacts/publish/linux-arm64/edge
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/smoke.sh [RUNNER...] EDGE" >&2; exit 2; }
cmd=("$@")
binary="${cmd[-1]}"
cmd[-1]="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
edge() { (cd "$work" && "${cmd[@]}" "$@"); }
fail() { echo "smoke: $*" >&2; exit 1; }

for i in $(seq 30); do echo "the keeper lit the lamp and the sea was loud"; done > "$work/words.txt"
edge train baby-gpt --data words.txt --steps 4 --batch 2 --eval-interval 2 --eval-iters 1 --out m --sample 20 --quiet > "$work/train.txt"
grep -q "saved m/model.safetensors" "$work/train.txt" || fail "train wrote no checkpoint: $(cat "$work/train.txt")"
text=$(edge generate --model m/model.safetensors --prompt "the keeper" --tokens 30 --seed 3 --top-p 0.9)
[ "${#text}" -ge 40 ] || fail "generated text too short: '$text'"
again=$(edge generate --model m/model.safetensors --prompt "the keeper" --tokens 30 --seed 3 --top-p 0.9)
[ "$text" = "$again" ] || fail "the same seed gave different text"
answer=$(printf 'the keeper\ntemp 0\nquit\n' | edge chat --model m/model.safetensors --tokens 10)
grep -q "(temp = 0)" <<< "$answer" || fail "chat did not take 'temp 0': $answer"

# Quantised copies and LoRA adapters go through JSON records, checksums and the base's fingerprint.
edge quantize --in m/model.safetensors --out m/q4.safetensors --type q4m --quiet > "$work/quant.txt"
grep -q "q4_1" "$work/quant.txt" || fail "quantize: $(cat "$work/quant.txt")"
edge lora train --base m/model.safetensors --data words.txt --steps 2 --batch 2 --eval-interval 2 --eval-iters 1 --out a --quiet > "$work/lora.txt"
[ -f "$work/a/adapter_model.safetensors" ] && [ -f "$work/a/adapter_config.json" ] || fail "lora train wrote no adapter"
quantized=$(edge generate --model m/q4.safetensors --adapter a --prompt "the keeper" --tokens 20 --seed 3)
[ "${#quantized}" -ge 30 ] || fail "the quantised model with an adapter generated too little: '$quantized'"

# Bad input: one line on stderr, the documented exit code, no stack trace.
set +e
edge generate --model missing.safetensors 2> "$work/err.txt"; code=$?
set -e
[ "$code" -eq 1 ] && [ "$(wc -l < "$work/err.txt")" -eq 1 ] && grep -q "not found" "$work/err.txt" \
  || { cat "$work/err.txt" >&2; fail "a missing model was not refused cleanly (exit $code)"; }
set +e
edge generate --model m/model.safetensors --temperature -2 2> "$work/err.txt"; code=$?
set -e
[ "$code" -eq 2 ] || fail "a bad option did not exit 2 (exit $code)"
echo "smoke: ${cmd[*]} trains, generates, chats, quantises, trains and applies an adapter, and refuses bad input"
