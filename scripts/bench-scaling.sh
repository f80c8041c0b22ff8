#!/usr/bin/env bash
# How a training step's time grows with context (GPT-2's shape, width 768, batch 1, contexts 64..1024) and with
# width (context 64, batch 4: baby GPT 128, Shakespeare GPT 384, GPT-2 768), vocabulary 65, all threads.
# Prints one JSON line per run (edge bench train --json); the README's scaling table comes from this script.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Cli -c Release -v q -nologo > /dev/null
edge() { dotnet src/Cli/bin/Release/net10.0/edge.dll "$@"; }
for t in 64 128 256 512 1024; do
  edge bench train gpt2 --batch 1 --context "$t" --steps 3 --json
done
for m in baby-gpt shakespeare-gpt gpt2; do
  edge bench train "$m" --batch 4 --context 64 --steps 5 --json
done
