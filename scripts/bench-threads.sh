#!/usr/bin/env bash
# Thread scaling: the same benchmarks at 1, 2, 4, 8 and 16 threads (those up to the machine's cores, or THREADS="1 2 3"):
# the baby GPT's and GPT-2's training steps, GPT-2's decoding (fp32 and q4) and its 64-token prompt pass (fp32 and
# q4). Prints one JSON line per run (edge bench --json), then a table of medians with the speed-up over one thread.
#   bash scripts/bench-threads.sh                      # builds and runs src/Cli
#   EDGE=/path/to/edge bash scripts/bench-threads.sh   # a published binary (a machine without .NET: scripts/publish.sh)
# Not run by CI: a long run (about a minute per thread count on 2 cores).
set -euo pipefail
[ -n "${EDGE:-}" ] && EDGE=$(realpath "$EDGE")
cd "$(dirname "$0")/.."
if [ -z "${EDGE:-}" ]; then
  dotnet build src/Cli -c Release -v q -nologo > /dev/null
  edge() { dotnet src/Cli/bin/Release/net10.0/edge.dll "$@"; }
else
  edge() { "$EDGE" "$@"; }
fi
cores=$(nproc)
threads=${THREADS:-$(for t in 1 2 4 8 16; do if [ "$t" -le "$cores" ]; then echo "$t"; fi; done)}
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<< "$2"; }   # field NAME LINE: a number from a --json line

declare -A ms
runs=(
  "baby-train|train baby-gpt --steps 30"
  "gpt2-train|train gpt2 --batch 4 --context 64 --vocab 50257 --steps 3"
  "gpt2-decode|generate gpt2 --vocab 50257 --tokens 100"
  "gpt2-decode-q4|generate gpt2 --vocab 50257 --tokens 100 --type q4"
  "gpt2-prefill|prefill gpt2 --vocab 50257 --prompt-tokens 64"
  "gpt2-prefill-q4|prefill gpt2 --vocab 50257 --prompt-tokens 64 --type q4"
)
for t in $threads; do
  for run in "${runs[@]}"; do
    name=${run%%|*}
    # shellcheck disable=SC2086
    line=$(edge bench ${run#*|} --threads "$t" --json)
    echo "$line"
    ms[$name,$t]=$( (field ms_per_step_median "$line"; field ms_per_token_median "$line"; field ms_per_pass_median "$line") | head -n 1)
  done
done

echo
echo "| threads | baby GPT step, ms | GPT-2 step, ms | GPT-2 decode fp32, ms/token | q4 | GPT-2 prompt pass fp32 (64 tokens), ms | q4 |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
first=$(echo "$threads" | head -n 1)
for t in $threads; do
  row="| $t"
  for run in "${runs[@]}"; do
    name=${run%%|*}
    v=${ms[$name,$t]}
    row+=" | $(awk -v v="$v" -v one="${ms[$name,$first]}" 'BEGIN { printf "%.4g (%.2fx)", v, one / v }')"
  done
  echo "$row |"
done
echo
echo "(medians of each run; in brackets the speed-up over $first thread(s); $(nproc) cores, $(uname -m))"
