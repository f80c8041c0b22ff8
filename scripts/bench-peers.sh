#!/usr/bin/env bash
# Edge beside its peers on this machine, one command, alternating (Edge, peer, peer, Edge, ... so that other work on
# the machine and any drift slow both sides alike), then a table of the medians and the ratio peer time / Edge
# time (above 1: Edge is faster). Not run by CI: it takes minutes and measures the machine as much as the code.
#
#   PyTorch (always): the same training step and decode step that `edge bench` times, on the project's own PyTorch
#     model (tests/python/edge_torch.py, driven by scripts/peers/torch_peer.py: AdamW with edge bench's
#     hyperparameters, forward + backward + clip + step; batch-1 decoding with a KV cache and the same sampling),
#     for the baby GPT and GPT-2 124M, and GPT-2's 64-token prompt pass.
#   llama.cpp (when LLAMA_CPP names a build folder holding bin/llama-bench and bin/llama-quantize): `llama-bench -t
#     THREADS -p 64 -n 64` on a random-weight GPT-2 124M GGUF in f32, q8_0 and q4_0 (written once by
#     scripts/peers/gpt2_gguf.py with the source tree's gguf-py, quantised with llama-quantize --pure, kept in
#     PEERS_CACHE), against `edge bench generate|prefill gpt2 --vocab 50257` at fp32, --type q8 and --type q4.
#
#   bash scripts/bench-peers.sh
#   ROUNDS=5 LLAMA_CPP=/work/llama.cpp/build bash scripts/bench-peers.sh
#
# Environment: ROUNDS (default 3), THREADS (default 2: edge --threads, torch.set_num_threads, llama-bench -t),
# OPENBLAS_NUM_THREADS (default 1: PyTorch's BLAS single-threaded, torch's own threads do the parallel work),
# PYTHON (default /usr/bin/python3: Debian's python3-torch on libopenblas0-pthread), EDGE (default the Release
# build's src/Cli/bin/Release/net10.0/edge; built when missing), LLAMA_CPP (llama.cpp's build folder; its source tree
# is taken to be the folder above, or LLAMA_CPP_SRC), EDGE_DATA (the folder holding gpt2/encoder.json and
# gpt2/vocab.bpe, for the GGUF's tokenizer; default ../shared/data), PEERS_CACHE (default ~/.cache/edge-peers).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
python=${PYTHON:-/usr/bin/python3}
edge=${EDGE:-$root/src/Cli/bin/Release/net10.0/edge}
data=${EDGE_DATA:-$root/../shared/data}
cache=${PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-peers}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export DOTNET_CLI_TELEMETRY_OPTOUT=1

"$python" -c "import torch, numpy" 2>/dev/null \
  || { echo "bench-peers: $python cannot import torch and numpy (apt-get install python3-torch python3-numpy libopenblas0-pthread)" >&2; exit 1; }
if [ ! -x "$edge" ]; then
  echo "bench-peers: building Edge (Release)"
  dotnet build src/Cli -c Release -v q -nologo > /dev/null
fi

# The llama.cpp part: its tools and the three GGUF files, or a message saying why it is skipped.
llama=${LLAMA_CPP:-}
llama_note=""
if [ -z "$llama" ]; then
  llama_note="llama.cpp skipped: LLAMA_CPP is not set (a llama.cpp build folder with bin/llama-bench and bin/llama-quantize)"
elif [ ! -x "$llama/bin/llama-bench" ] || [ ! -x "$llama/bin/llama-quantize" ]; then
  llama_note="llama.cpp skipped: $llama/bin/llama-bench or llama-quantize not found (build them: cmake --build $llama --target llama-bench llama-quantize)"
  llama=""
elif [ ! -f "$data/gpt2/encoder.json" ] || [ ! -f "$data/gpt2/vocab.bpe" ]; then
  llama_note="llama.cpp skipped: $data/gpt2/encoder.json and vocab.bpe (GPT-2's tokenizer, for the GGUF) not found; set EDGE_DATA"
  llama=""
else
  llama_src=${LLAMA_CPP_SRC:-$(cd "$llama/.." && pwd)}
  mkdir -p "$cache"
  if [ ! -f "$cache/gpt2-f32.gguf" ]; then
    "$python" scripts/peers/gpt2_gguf.py --gguf-py "$llama_src/gguf-py" --tokenizer "$data/gpt2" --out "$cache/gpt2-f32.gguf.tmp"
    mv "$cache/gpt2-f32.gguf.tmp" "$cache/gpt2-f32.gguf"
  fi
  for q in q8_0 q4_0; do
    if [ ! -f "$cache/gpt2-$q.gguf" ]; then
      "$llama/bin/llama-quantize" --pure "$cache/gpt2-f32.gguf" "$cache/gpt2-$q.gguf.tmp" "$q" "$threads" > "$cache/quantize-$q.log" 2>&1 \
        || { echo "bench-peers: llama-quantize to $q failed (see $cache/quantize-$q.log)" >&2; exit 1; }
      mv "$cache/gpt2-$q.gguf.tmp" "$cache/gpt2-$q.gguf"
    fi
  done
  llama_version=$(git -C "$llama_src" log -1 --format=%h 2>/dev/null || echo "?")
fi

# The machine, as the README's table states it.
model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
avx512=no; grep -qw avx512f /proc/cpuinfo && avx512=yes
echo "machine: $model, $(nproc) cores, AVX-512 $avx512; $threads threads each side; $rounds alternating rounds"
echo "PyTorch $("$python" -c 'import torch; print(torch.__version__)') ($python), OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS, torch threads $threads"
[ -n "$llama" ] && echo "llama.cpp $llama_version ($llama)"
[ -n "$llama_note" ] && echo "$llama_note"
# The PyTorch decoder is checked before it is timed: its cached logits against the model's full forward pass.
"$python" scripts/peers/torch_peer.py check baby-gpt > /dev/null \
  || { echo "bench-peers: the PyTorch KV-cache decoder disagrees with the full forward pass" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A values
# median: of the numbers on stdin, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# record KEY VALUE: one round's figure for the table.
record() { values[$1]+="$2 "; }
# ms_of JSON: the "ms_per_..._median" figure of an edge bench --json or torch_peer.py line.
ms_of() { sed -n 's/.*"ms_per_[a-z]*_median": *\([0-9.eE+-]*\).*/\1/p' <<< "$1" | head -n 1; }

edge_run() { # KEY ARGS...: one edge bench run
  local key=$1; shift
  local out
  out=$(cd "$work" && "$edge" bench "$@" --threads "$threads" --json --quiet)
  local ms; ms=$(ms_of "$out")
  [ -n "$ms" ] || { echo "bench-peers: no time in edge bench $*: $out" >&2; exit 1; }
  echo "  edge    $key: $ms ms"
  record "$key|edge" "$ms"
}
torch_run() { # KEY ARGS...: one torch_peer.py run
  local key=$1; shift
  local out
  out=$("$python" "$root/scripts/peers/torch_peer.py" "$@" --threads "$threads")
  local ms; ms=$(ms_of "$out")
  [ -n "$ms" ] || { echo "bench-peers: no time in torch_peer.py $*: $out" >&2; exit 1; }
  echo "  pytorch $key: $ms ms"
  record "$key|peer" "$ms"
}
llama_run() { # TYPE: llama-bench on the GGUF of that type; records pp (ms per 64-token pass) and tg (ms per token)
  local q=$1 out
  out=$("$llama/bin/llama-bench" -m "$cache/gpt2-$q.gguf" -t "$threads" -p 64 -n 64 -o json 2> "$work/llama-bench.log") \
    || { echo "bench-peers: llama-bench failed:" >&2; cat "$work/llama-bench.log" >&2; exit 1; }
  local pp tg
  read -r pp tg < <("$python" -c '
import json, statistics, sys
runs = json.load(sys.stdin)
def ms(test):
    # samples_ns: the time of each repetition of the test, all its tokens
    return statistics.median(test["samples_ns"]) / 1e6
pp = next(r for r in runs if r["n_prompt"] > 0 and r["n_gen"] == 0)
tg = next(r for r in runs if r["n_gen"] > 0 and r["n_prompt"] == 0)
print("%.4f %.4f" % (ms(pp), ms(tg) / tg["n_gen"]))' <<< "$out")
  echo "  llama   decode $q: $tg ms/token, prefill $q: $pp ms"
  record "llama-decode-$q|peer" "$tg"
  record "llama-prefill-$q|peer" "$pp"
}

# The cases, each an Edge run and its peer's; their order flips every round.
cases=(train-baby train-gpt2 decode-baby decode-gpt2 prefill-gpt2)
[ -n "$llama" ] && cases+=(llama-f32 llama-q8_0 llama-q4_0)
run_case() { # CASE SIDE
  case "$1:$2" in
    train-baby:edge) edge_run train-baby train baby-gpt --batch 12 --context 64 --steps 20 ;;
    train-baby:peer) torch_run train-baby train baby-gpt --batch 12 --context 64 --steps 20 ;;
    train-gpt2:edge) edge_run train-gpt2 train gpt2 --batch 4 --context 64 --vocab 50257 --steps 5 ;;
    train-gpt2:peer) torch_run train-gpt2 train gpt2 --batch 4 --context 64 --vocab 50257 --steps 5 ;;
    decode-baby:edge) edge_run decode-baby generate baby-gpt ;;
    decode-baby:peer) torch_run decode-baby generate baby-gpt ;;
    decode-gpt2:edge) edge_run decode-gpt2 generate gpt2 --vocab 50257 --tokens 64 ;;
    decode-gpt2:peer) torch_run decode-gpt2 generate gpt2 --vocab 50257 --tokens 64 ;;
    prefill-gpt2:edge) edge_run prefill-gpt2 prefill gpt2 --vocab 50257 --prompt-tokens 64 ;;
    prefill-gpt2:peer) torch_run prefill-gpt2 prefill gpt2 --vocab 50257 --prompt-tokens 64 ;;
    llama-*:edge)
      local q=${1#llama-} type=()
      [ "$q" = q8_0 ] && type=(--type q8)
      [ "$q" = q4_0 ] && type=(--type q4)
      edge_run "llama-decode-$q" generate gpt2 --vocab 50257 --tokens 64 "${type[@]}"
      edge_run "llama-prefill-$q" prefill gpt2 --vocab 50257 --prompt-tokens 64 "${type[@]}" ;;
    llama-*:peer) llama_run "${1#llama-}" ;;
  esac
}
for ((r = 1; r <= rounds; r++)); do
  echo "round $r of $rounds"
  for c in "${cases[@]}"; do
    if ((r % 2)); then run_case "$c" edge; run_case "$c" peer; else run_case "$c" peer; run_case "$c" edge; fi
  done
done

# The table: medians over the rounds.
rows=(
  "train-baby|baby GPT training step (batch 12, context 64), ms|PyTorch"
  "train-gpt2|GPT-2 124M training step (batch 4, context 64), ms|PyTorch"
  "decode-baby|baby GPT decode, batch 1, KV cache, ms/token|PyTorch"
  "decode-gpt2|GPT-2 124M decode, batch 1, KV cache, ms/token|PyTorch"
  "prefill-gpt2|GPT-2 124M prompt pass, 64 tokens, ms|PyTorch"
)
if [ -n "$llama" ]; then
  for q in f32 q8_0 q4_0; do rows+=("llama-decode-$q|GPT-2 124M decode $q, ms/token (llama-bench tg64)|llama.cpp"); done
  for q in f32 q8_0 q4_0; do rows+=("llama-prefill-$q|GPT-2 124M prompt pass $q, 64 tokens, ms (llama-bench pp64)|llama.cpp"); done
fi
# fmt MS: 3 significant figures or so.
fmt() { [ -z "$1" ] || awk -v x="$1" 'BEGIN { printf (x < 10 ? "%.2f" : x < 100 ? "%.1f" : "%.0f"), x }'; }
echo
echo "| what | Edge | peer | peer's time | peer / Edge | fastest round: Edge, peer |"
echo "| --- | ---: | --- | ---: | ---: | ---: |"
for row in "${rows[@]}"; do
  IFS='|' read -r key what peer <<< "$row"
  e=$(tr ' ' '\n' <<< "${values[$key|edge]:-}" | awk NF | median)
  p=$(tr ' ' '\n' <<< "${values[$key|peer]:-}" | awk NF | median)
  e_best=$(tr ' ' '\n' <<< "${values[$key|edge]:-}" | awk NF | sort -g | sed -n 1p)
  p_best=$(tr ' ' '\n' <<< "${values[$key|peer]:-}" | awk NF | sort -g | sed -n 1p)
  ratio=$(awk -v e="$e" -v p="$p" 'BEGIN { if (e > 0 && p > 0) printf "%.2f", p / e }')
  printf '| %s | %s | %s | %s | %s | %s, %s |\n' "$what" "$(fmt "$e")" "$peer" "$(fmt "$p")" "$ratio" "$(fmt "$e_best")" "$(fmt "$p_best")"
done
echo
echo "(medians of $rounds alternating rounds, in ms; peer / Edge above 1: Edge takes less time; the last column is each"
echo " side's fastest round, what the machine gives when the other work beside it lets up)"
[ -n "$llama_note" ] && echo "$llama_note"
exit 0
