#!/usr/bin/env bash
# Regenerates the Llama-family tokenizer fixtures in tests/Edge.Tests/Text/Fixtures/tokenizers and the reference ids
# the tests compare with: SentencePiece trains a small BPE with byte fallback on Tiny Shakespeare (Llama's trainer
# options) and encodes texts.json (tests/python/sentencepiece_reference.py, which also writes the Hugging Face
# conversions and llama2.c's tokenizer.bin of that model); Hugging Face's tokenizers trains nothing itself but
# encodes texts.json with every tokenizer.json, after tests/node/hf_tokenizers_reference.js has trained the
# SmolLM- and Qwen2-style byte-level BPEs on their own pre-tokenizers.
# Needs Debian's python3-sentencepiece and python3-protobuf, Node.js, and the npm package tokenizers (installed here
# into a temporary folder unless EDGE_REFERENCE_NODE_MODULES names one that has it). About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/Edge.Tests/Text/Fixtures/tokenizers
/usr/bin/python3 -c "import sentencepiece, google.protobuf" 2>/dev/null \
  || { echo "tokenizer-fixtures: /usr/bin/python3 needs sentencepiece and protobuf (apt-get install python3-sentencepiece python3-protobuf)" >&2; exit 1; }
if [ -z "${EDGE_REFERENCE_NODE_MODULES:-}" ] || [ ! -d "$EDGE_REFERENCE_NODE_MODULES/tokenizers" ]; then
  reference=$(mktemp -d)
  trap 'rm -rf "$reference"' EXIT
  npm install --prefix "$reference" --no-save --silent tokenizers@0.23.2 >/dev/null
  export EDGE_REFERENCE_NODE_MODULES="$reference/node_modules"
fi
rm -rf "$out"
/usr/bin/python3 tests/python/sentencepiece_reference.py make "$out"
node tests/node/hf_tokenizers_reference.js make "$out"
echo "tokenizer-fixtures: wrote $(find "$out" -type f | wc -l) files, $(du -sk "$out" | cut -f1) KB, in $out"
