#!/usr/bin/env bash
# fp32 against q8, q4 and q4m for one trained checkpoint: file sizes, loss and perplexity on the validation split
# edge train used, and generation speed at batch 1. Then the GPT-2 124M shape (random weights, quantised in
# memory: speed does not depend on the values) against this machine's copy bandwidth.
# Usage: scripts/quant-report.sh CHECKPOINT DATA   (e.g. models/shakespeare-gpt/model.safetensors ../shared/data/tinyshakespeare.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint=${1:?checkpoint}; data=${2:?data file}
dotnet build src/Cli -c Release -v q -nologo > /dev/null
edge() { dotnet src/Cli/bin/Release/net10.0/edge.dll "$@"; }
dir=$(dirname "$checkpoint")
for t in q8 q4 q4m; do
  edge quantize --in "$checkpoint" --out "$dir/$t.safetensors" --type "$t" --quiet
done
for f in "$checkpoint" "$dir/q8.safetensors" "$dir/q4.safetensors" "$dir/q4m.safetensors"; do
  echo "== $f ($(stat -c %s "$f") bytes)"
  edge eval --model "$f" --data "$data" --split val --quiet
  edge bench generate "$f" --tokens 300 --quiet | grep -E "ms per token|tokens per second|weights read|managed"
done
for t in "" q8 q4 q4m; do
  echo "== gpt2 ${t:-fp32}"
  edge bench generate gpt2 --vocab 50257 --tokens 100 --quiet ${t:+--type $t} | grep -E "ms per token|tokens per second|weights read|managed|peak memory"
done
