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
echo "smoke: $(stat -c %s "$edge") bytes"

(cd "$work" && "$edge" train baby-gpt --steps 6 --eval-interval 3 --eval-iters 2 --out m --sample 40 --quiet > train.txt)
grep -q "saved m/model.safetensors" "$work/train.txt"
text=$(cd "$work" && "$edge" generate --model m/model.safetensors --prompt "KEEPER:" --tokens 40 --seed 3 --top-p 0.9)
[ "${#text}" -ge 47 ] || { echo "smoke: generated text too short: '$text'" >&2; exit 1; }
again=$(cd "$work" && "$edge" generate --model m/model.safetensors --prompt "KEEPER:" --tokens 40 --seed 3 --top-p 0.9)
[ "$text" = "$again" ] || { echo "smoke: the same seed gave different text" >&2; exit 1; }
answer=$(cd "$work" && printf 'KEEPER:\ntemp 0\nquit\n' | "$edge" chat --model m/model.safetensors --tokens 10)
grep -q "(temp = 0)" <<< "$answer"

# Bad input: one line on stderr, the documented exit code, no stack trace.
set +e
(cd "$work" && "$edge" generate --model missing.safetensors 2> err.txt); code=$?
set -e
[ "$code" -eq 1 ] && [ "$(wc -l < "$work/err.txt")" -eq 1 ] && grep -q "not found" "$work/err.txt" \
  || { echo "smoke: a missing model was not refused cleanly (exit $code)" >&2; cat "$work/err.txt" >&2; exit 1; }
set +e
(cd "$work" && "$edge" generate --model m/model.safetensors --temperature -2 2> err.txt); code=$?
set -e
[ "$code" -eq 2 ] || { echo "smoke: a bad option did not exit 2 (exit $code)" >&2; exit 1; }
echo "smoke: NativeAOT edge trains, generates, chats and refuses bad input"
