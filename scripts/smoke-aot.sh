#!/usr/bin/env bash
# Publishes the NativeAOT `edge` binary for linux-x64 (scripts/publish.sh: x86-64-v3, trim/AOT warnings are
# failures), runs the end-to-end smoke test on it (scripts/smoke.sh), and trains on the corpus built into it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/publish.sh linux-x64
edge="$PWD/artifacts/publish/linux-x64/edge"
bash scripts/smoke.sh "$edge"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && "$edge" train baby-gpt --steps 6 --eval-interval 3 --eval-iters 2 --out m --sample 40 --quiet > train.txt)
grep -q "saved m/model.safetensors" "$work/train.txt" || { echo "smoke: training on the built-in corpus failed" >&2; exit 1; }
# The Llama family's tokenizer files (SentencePiece's, Hugging Face's, llama2.c's) read and encode natively too.
fixtures="$(pwd)/tests/Edge.Tests/Text/Fixtures/tokenizers"
for t in sp hf-llama hf-llama-metaspace hf-smollm hf-qwen2 llama2c/tokenizer.bin; do
  "$edge" tokenize --tokenizer "$fixtures/$t" --text "Hello world 🤖 café" | tail -n 1 | grep -q "tokens, 22 bytes" \
    || { echo "smoke: edge tokenize failed on $t" >&2; exit 1; }
done
"$edge" doctor --no-measure > "$work/doctor.txt" || { cat "$work/doctor.txt" >&2; exit 1; }
tail -n 1 "$work/doctor.txt"
echo "smoke: NativeAOT edge for linux-x64 passes"
