#!/usr/bin/env bash
# Interop with PyTorch: what Edge writes scores the same outside Edge. Trains a GPT-2-layout model with the CLI
# (baby-gpt, 30 steps on Tiny Shakespeare) and a LoRA adapter on all four kinds of block projection, asks
# `edge logits` for every position's logits of a full-context prompt, and compares them with
# tests/python/edge_torch.py (the project's own PyTorch model, reading the same checkpoint and PEFT folder, in
# float64): without the adapter, with it, and with it at half scale; then the bias-free, exact-GELU
# baby-gpt-nanogpt; then a Hugging Face Llama folder (tests/python/llama_torch.py). Fails when any logit differs by more than 1e-4, or when the PyTorch model does not train.
# Needs Python with torch and numpy ($PYTHON, default /usr/bin/python3: Debian's python3-torch python3-numpy) and
# ../shared/data/tinyshakespeare.txt (or $EDGE_DATA).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${PYTHON:-/usr/bin/python3}
data="${EDGE_DATA:-$root/../shared/data}/tinyshakespeare.txt"
tolerance=1e-4
[ -f "$data" ] || { echo "interop: $data not found (set EDGE_DATA to the folder that holds tinyshakespeare.txt)" >&2; exit 1; }
"$python" -c "import torch, numpy" 2>/dev/null \
  || { echo "interop: $python cannot import torch and numpy (apt-get install python3-torch python3-numpy libopenblas0-pthread)" >&2; exit 1; }

dotnet build src/Cli -c Release -v q -nologo > /dev/null
edge() { dotnet "$root/src/Cli/bin/Release/net10.0/edge.dll" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

edge train baby-gpt --data "$data" --steps 30 --eval-interval 30 --eval-iters 4 --sample 0 --out base --quiet > train.txt
edge lora train --base base/model.safetensors --data "$data" --steps 20 --rank 4 --lr 5e-3 --eval-interval 20 --eval-iters 4 \
  --targets attn.c_attn,attn.c_proj,mlp.c_fc,mlp.c_proj --out adapter --quiet > lora.txt
edge train baby-gpt-nanogpt --data "$data" --steps 30 --eval-interval 30 --eval-iters 4 --sample 0 --out nanogpt --quiet > nanogpt.txt

prompt=$'ROMEO:\nBut soft, what light through yonder window breaks?\nJULIET'   # 64 characters: the whole context
failed=0
# check NAME OPTIONS...: edge logits with OPTIONS (--model, --adapter) into NAME.json, then PyTorch on the same.
check() {
  local name=$1; shift
  edge logits --prompt "$prompt" --out "$name.json" "$@" > /dev/null
  "$python" "$root/tests/python/edge_torch.py" --prompt "$prompt" --compare "$name.json" --tolerance "$tolerance" "$@" || failed=1
}
check base --model base/model.safetensors
check adapter --model base/model.safetensors --adapter adapter
check adapter-half --model base/model.safetensors --adapter adapter:0.5
check nanogpt --model nanogpt/model.safetensors

# A Hugging Face Llama-layout folder (LlamaForCausalLM in small-llama's shape: grouped-query attention, half-rotation
# RoPE, RMSNorm, SwiGLU, tied head; random weights written by tests/python/llama_torch.py with a fixture's
# tokenizer.json) against the same file's own PyTorch Llama, written from the architecture's definition.
"$python" "$root/tests/python/llama_torch.py" --write llama --tokenizer "$root/tests/Edge.Tests/Text/Fixtures/tokenizers/hf-llama/tokenizer.json" > /dev/null
edge logits --model llama --prompt "The lighthouse keeper wrote: café, 42 ships and one light." --out llama.json > /dev/null
"$python" "$root/tests/python/llama_torch.py" --model llama --compare llama.json --tolerance "$tolerance" || failed=1

# The adapter must move the logits far more than the tolerance, or the comparisons with it would prove nothing.
"$python" - base.json adapter.json "$tolerance" <<'EOF' || failed=1
import json, sys
base, adapted = (json.load(open(path))["logits"] for path in sys.argv[1:3])
moved = max(abs(x - y) for row_b, row_a in zip(base, adapted) for x, y in zip(row_b, row_a))
print(f"the adapter moves Edge's logits by up to {moved:.3g}")
sys.exit(0 if moved > 100 * float(sys.argv[3]) else 1)
EOF

# The same model trains (what a speed comparison will time): AdamW steps on one random batch lower its loss.
"$python" - "$root/tests/python" <<'EOF' || failed=1
import sys; sys.path.insert(0, sys.argv[1])
import torch, edge_torch
torch.set_num_threads(1)
torch.manual_seed(0)
model = edge_torch.GPT.declared("baby-gpt", vocab_size=65, dropout=0.0)
optimizer = edge_torch.configure_optimizer(model)
inputs, targets = edge_torch.random_batch(4, 64, 65)
losses = [edge_torch.train_step(model, optimizer, inputs, targets) for _ in range(5)]
print("PyTorch training steps on one batch: loss " + " -> ".join(f"{loss:.3f}" for loss in losses))
sys.exit(0 if losses[-1] < losses[0] - 0.1 else 1)
EOF

if [ "$failed" -ne 0 ]; then echo "interop: Edge and PyTorch disagree (see above)" >&2; exit 1; fi
echo "interop: Edge's logits match PyTorch's within $tolerance (${SECONDS}s)"
