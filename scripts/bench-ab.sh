#!/usr/bin/env bash
# Two builds of edge side by side on one command, alternating (A, B, A, B, ...) so that other work on the machine
# slows both alike: each run's median time (the "ms per ..." line of edge bench) or wall seconds, and its peak
# resident memory (GNU time), then the median of each column. The README's before/after figures come from it.
#   bash scripts/bench-ab.sh OLD_EDGE NEW_EDGE ROUNDS ARGS...
#   bash scripts/bench-ab.sh /tmp/old/edge src/Cli/bin/Release/net10.0/edge 3 bench generate gpt2 --vocab 50257 --tokens 40 --quiet
# ARGS run in a temporary directory (so `train ... --out m` writes nothing here); a data path must be absolute.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: scripts/bench-ab.sh OLD_EDGE NEW_EDGE ROUNDS ARGS..." >&2; exit 2; }
a=$(realpath "$1") b=$(realpath "$2") rounds=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
declare -A ms kb
for ((r = 1; r <= rounds; r++)); do
  for side in A B; do
    edge=$a; [ $side = B ] && edge=$b
    rm -rf "${work:?}"/*
    start=$(date +%s.%N)
    out=$(cd "$work" && /usr/bin/time -f "maxrss %M" "$edge" "$@" 2>&1)
    wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
    t=$(sed -n 's/.*ms per [a-z]* *\([0-9.]*\) median.*/\1/p' <<< "$out" | head -n 1)
    m=$(sed -n 's/^maxrss \([0-9]*\)$/\1/p' <<< "$out" | tail -n 1)
    [ -n "$t" ] || t=$wall
    echo "round $r $side: ${t} (ms, or wall s), ${m} KB peak"
    ms[$side]+="$t "
    kb[$side]+="$m "
  done
done
for side in A B; do
  echo "$side median: $(tr ' ' '\n' <<< "${ms[$side]}" | grep . | median) (ms, or wall s), $(tr ' ' '\n' <<< "${kb[$side]}" | grep . | median) KB peak"
done
