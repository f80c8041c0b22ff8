#!/usr/bin/env bash
# The course's journey end to end, as README.md's "The course: from a base to chat with adapters" shows it:
# a MiniGPT base on Tiny Shakespeare, two instruction adapters (examples/course/pirate.jsonl and robot.jsonl),
# a piped chat that compares, switches and turns them off, the adapters' loss curves, then the base quantised
# to q8 with an adapter on it. Writes models/course-base/, adapters/course-pirate/, adapters/course-robot/ and
# docs/images/course-adapters.png (the folders are git-ignored, the picture is the README's); an earlier run's
# folders are replaced.
#
#   scripts/course.sh              # the whole walkthrough (about 12 minutes on 2 shared cores, 10 of them the base)
#   SKIP_BASE=1 scripts/course.sh  # reuse models/course-base/model.safetensors
#
# EDGE (default: the Release build of src/Cli) and EDGE_DATA (default ../shared/data) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
EDGE=${EDGE:-src/Cli/bin/Release/net10.0/edge}
DATA=${EDGE_DATA:-../shared/data}
if [ ! -x "$EDGE" ]; then dotnet build src/Cli -c Release -v q; fi
[ -f "$DATA/tinyshakespeare.txt" ] || { echo "course.sh: $DATA/tinyshakespeare.txt is missing (set EDGE_DATA)" >&2; exit 1; }
edge() { echo "\$ edge $*"; "$EDGE" "$@"; }

BASE=models/course-base/model.safetensors
if [ -z "${SKIP_BASE:-}" ]; then
  # MiniGPT (context 256), 800 steps of batch 12, lr 2e-3 cosine to 2e-4, no dropout: about 6 minutes here.
  time edge train mini-gpt --data "$DATA/tinyshakespeare.txt" --steps 800 --batch 12 --lr 2e-3 --min-lr 2e-4 --dropout 0 \
    --eval-interval 200 --eval-iters 10 --out models/course-base --force --quiet
fi

# Two adapters, one per instruction set; each run holds out 10% of its pairs (--split-seed 42, the default).
for voice in pirate robot; do
  edge lora train --base "$BASE" --data examples/course/$voice.jsonl --rank 8 --targets c_attn,c_fc \
    --steps 300 --batch 8 --lr 3e-3 --eval-interval 50 --out adapters/course-$voice --force --quiet
done

# Held-out questions (the 4 of 45 pairs each run validates on are the same questions in both sets: night, wear,
# live, pet), answered greedily.
printf '%s\n' "compare Where do you live?" "adapter adapters/course-robot" "compare Where do you live?" \
  "adapter adapters/course-pirate" "What do you wear?" "clear" "adapter adapters/course-robot" "What do you wear?" \
  "clear" "adapters" "base" "What do you wear?" \
  | edge chat --model "$BASE" --template course --adapter adapters/course-pirate --tokens 80 --temperature 0

edge plot adapters/course-pirate adapters/course-robot --out docs/images/course-adapters.png --title "two instruction adapters on the course base"

edge quantize --in "$BASE" --out models/course-base/q8.safetensors --type q8 --quiet
printf '%s\n' "compare Do you have a pet?" "adapter adapters/course-robot" "compare Do you have a pet?" \
  | edge chat --model models/course-base/q8.safetensors --template course --adapter adapters/course-pirate --tokens 80 --temperature 0
