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
size=$(stat -c %s "$edge")
echo "smoke: $size bytes"
# The device backend (src/Gpu, ILGPU) lives only in the JIT host edge-gpu: ILGPU needs dynamic code, and reachable ILGPU
# code would make trim/AOT warnings. The AOT binary must hold none of it, and keep its size: 6,817,248 bytes for the
# commit before the device backend was merged (x86-64-v3, .NET 10.0.401 SDK); within 5% of it.
if grep -qa ILGPU "$edge"; then echo "smoke: the NativeAOT edge contains ILGPU code" >&2; exit 1; fi
baseline=6817248
if [ $((size * 100)) -gt $((baseline * 105)) ] || [ $((size * 100)) -lt $((baseline * 95)) ]; then
  echo "smoke: the NativeAOT edge is $size bytes, more than 5% away from $baseline" >&2; exit 1
fi

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
