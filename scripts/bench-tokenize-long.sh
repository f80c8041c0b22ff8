#!/usr/bin/env bash
# One long word against normal text of the same size (the README's tokenizer figures). In a temporary folder,
# from the shared Tiny Shakespeare: the text repeated to SIZE MB, its letters run together into one word of SIZE
# MB, one letter repeated, and random lowercase letters (a fixed AES-CTR keystream, so every run encodes the same
# word). Each is encoded once by its own process, `edge bench tokenize --passes 0` under /usr/bin/time -v,
# RUNS times (default 3), and the row gives the median run's figures: the encoding's seconds (as the command
# reports them), the process's wall and user seconds and its peak resident memory, then each against the
# normal text.
# Usage: [RUNS=N] scripts/bench-tokenize-long.sh [SIZE_MB]   (default 40 MB; needs GNU time at /usr/bin/time and openssl)
# EDGE=path/to/edge measures another build (an older commit's, say) instead of building this tree's.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-40}
bytes=$((mb * 1000 * 1000))
data=${EDGE_DATA:-../shared/data}
if [ -z "${EDGE:-}" ]; then
  dotnet build src/Cli -c Release -v q -nologo > /dev/null
  EDGE=src/Cli/bin/Release/net10.0/edge
fi
edge=$EDGE
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

repeat_to() {   # repeat_to FILE OUT: FILE's bytes over and over, cut to $bytes
  local size copies
  size=$(stat -c %s "$1")
  copies=$((bytes / size + 1))
  for _ in $(seq "$copies"); do cat "$1"; done > "$2"
  truncate -s "$bytes" "$2"
}
repeat_to "$data/tinyshakespeare.txt" "$work/text.txt"
tr -cd 'A-Za-z' < "$data/tinyshakespeare.txt" > "$work/letters"
repeat_to "$work/letters" "$work/word.txt"
head -c "$bytes" /dev/zero | tr '\0' 'a' > "$work/a.txt"
head -c $((bytes * 11)) /dev/zero \
  | openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 2>/dev/null \
  | tr -dc 'a-z' > "$work/random.txt"        # about 10% of the keystream's bytes are a-z
truncate -s "$bytes" "$work/random.txt"

runs=${RUNS:-3}
printf '%-34s %12s %10s %8s %8s %10s %14s\n' input tokens encode_s wall_s user_s peak_MiB "vs text (wall, peak)"
text_wall=; text_peak=
for case in text:"normal text (Shakespeare repeated)" word:"one word: Shakespeare's letters" a:"one word: 'a' repeated" random:"one word: random letters"; do
  file=${case%%:*}; name=${case#*:}
  : > "$work/rows"
  for _ in $(seq "$runs"); do
    /usr/bin/time -v "$edge" bench tokenize "$data/gpt2" --data "$work/$file.txt" --passes 0 --quiet > "$work/out" 2> "$work/time"
    tokens=$(sed -n 's/.*-> \([0-9,]*\) tokens.*/\1/p' "$work/out")
    encode=$(sed -n 's/.*first pass, \([0-9.]*\) s).*/\1/p' "$work/out")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$work/time")
    user=$(awk -F': ' '/User time/ { print $2 }' "$work/time")
    peak=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/time")
    echo "$wall $encode $user $peak" >> "$work/rows"
  done
  read -r wall encode user peak < <(sort -n "$work/rows" | sed -n "$(( (runs + 1) / 2 ))p")     # the run of median wall time
  if [ -z "$text_wall" ]; then text_wall=$wall; text_peak=$peak; fi
  ratio=$(awk -v w="$wall" -v tw="$text_wall" -v p="$peak" -v tp="$text_peak" 'BEGIN { printf "%.2fx, %.2fx", w / tw, p / tp }')
  printf '%-34s %12s %10s %8s %8s %10s %14s\n' "$name" "$tokens" "$encode" "$wall" "$user" "$peak" "$ratio"
done
