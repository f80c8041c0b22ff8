"""
A Hugging Face Llama-layout folder in PyTorch, written from the architecture's definition (Hugging Face's
LlamaForCausalLM: RMSNorm, rotary positions in the half-rotation layout, grouped-query attention, a SwiGLU MLP) and
the file formats alone; nothing here imports Edge or transformers.

    # a folder of random weights in small-llama's shape (config.json, model.safetensors, a tokenizer.json given)
    /usr/bin/python3 tests/python/llama_torch.py --write DIR --tokenizer tests/Edge.Tests/Text/Fixtures/tokenizers/hf-llama/tokenizer.json
    # its logits for the tokens 'edge logits --model DIR' scored, compared row by row
    /usr/bin/python3 tests/python/llama_torch.py --model DIR --compare edge-logits.json

Logits are computed in float64. The reader also follows Qwen2ForCausalLM (q/k/v biases) and untied heads
(lm_head.weight), for folders of those shapes.
"""

import argparse
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edge_torch import read_safetensors  # noqa: E402  (the same reader: F32 tensors and metadata)

# small-llama's shape (src/Models/Llama.cs): what the written folder must match for Edge to load it.
SMALL_LLAMA = dict(num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, hidden_size=128, intermediate_size=384,
                   max_position_embeddings=64, rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=True)


def write_safetensors(path, tensors):
    """name -> float32 numpy array, as safetensors: header length, JSON header padded to 8 bytes, raw data."""
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_folder(out, tokenizer, vocab_size, seed):
    """A LlamaForCausalLM folder of random weights (norm weights near 1, matrices at 0.08) in small-llama's shape."""
    c = dict(SMALL_LLAMA, model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=vocab_size, hidden_act="silu",
             tie_word_embeddings=True)
    rng = np.random.default_rng(seed)
    width, heads, kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = width // heads
    t = {"model.embed_tokens.weight": rng.normal(0, 0.5, (vocab_size, width))}
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        for name, shape in [("self_attn.q_proj", (heads * hd, width)), ("self_attn.k_proj", (kv * hd, width)),
                            ("self_attn.v_proj", (kv * hd, width)), ("self_attn.o_proj", (width, heads * hd)),
                            ("mlp.gate_proj", (c["intermediate_size"], width)), ("mlp.up_proj", (c["intermediate_size"], width)),
                            ("mlp.down_proj", (width, c["intermediate_size"]))]:
            t[p + name + ".weight"] = rng.normal(0, 0.08, shape)
        t[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, width)
        t[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, width)
    t["model.norm.weight"] = 1 + rng.normal(0, 0.1, width)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    write_safetensors(os.path.join(out, "model.safetensors"), t)
    shutil.copy(tokenizer, os.path.join(out, "tokenizer.json"))


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    """The half-rotation layout: dimension i pairs with i + head_dim/2."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def llama_logits(folder, tokens):
    """[T, V] float64 logits of the folder's model for one sequence of token ids."""
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    raw, _ = read_safetensors(os.path.join(folder, "model.safetensors"))
    w = {k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in raw.items()}
    width, heads = c["hidden_size"], c["num_attention_heads"]
    kv = c.get("num_key_value_heads", heads)
    hd, eps, T = width // heads, c["rms_norm_eps"], len(tokens)
    bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)

    inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    cos, sin = torch.cat((freqs, freqs), -1).cos(), torch.cat((freqs, freqs), -1).sin()   # [T, hd]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)

    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]                                  # [T, C]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."

        def proj(name, h):
            y = h @ w[p + name + ".weight"].T
            return y + w[p + name + ".bias"] if bias and name[-6:] in ("q_proj", "k_proj", "v_proj") else y

        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = proj("self_attn.q_proj", h).view(T, heads, hd).transpose(0, 1)                    # [H, T, hd]
        k = proj("self_attn.k_proj", h).view(T, kv, hd).transpose(0, 1)                       # [KV, T, hd]
        v = proj("self_attn.v_proj", h).view(T, kv, hd).transpose(0, 1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(heads // kv, dim=0), v.repeat_interleave(heads // kv, dim=0)  # query head i reads kv head i / (H/KV)
        att = F.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1)
        x = x + proj("self_attn.o_proj", (att @ v).transpose(0, 1).reshape(T, width))
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        x = x + proj("mlp.down_proj", F.silu(proj("mlp.gate_proj", h)) * proj("mlp.up_proj", h))
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return (x @ head.T).numpy()


def main(argv=None):
    p = argparse.ArgumentParser(description="A Hugging Face Llama-layout folder in PyTorch: write one of random weights, or compare its logits with Edge's.")
    p.add_argument("--write", metavar="DIR", help="write a LlamaForCausalLM folder of random weights in small-llama's shape")
    p.add_argument("--tokenizer", help="--write: the tokenizer.json to put in the folder (its vocabulary size is the model's)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--model", metavar="DIR", help="the folder to score")
    p.add_argument("--compare", metavar="EDGE.json", help="the output of 'edge logits --model DIR': score its tokens, compare its rows")
    p.add_argument("--tolerance", type=float, default=1e-4)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.write:
        with open(args.tokenizer) as f:
            t = json.load(f)
        vocab = max([*t["model"]["vocab"].values(), *(a["id"] for a in t.get("added_tokens", []))]) + 1
        write_folder(args.write, args.tokenizer, vocab, args.seed)
        print(f"wrote {args.write}: small-llama's shape, vocabulary {vocab}, tied head, seed {args.seed}")
        return 0
    with open(args.compare) as f:
        edge = json.load(f)
    with torch.no_grad():
        ours = llama_logits(args.model, edge["tokens"])
    theirs = np.array(edge["logits"], dtype=np.float64)
    ours = ours[-len(theirs):]
    if theirs.shape != ours.shape:
        sys.exit(f"{args.compare}: logits are {list(theirs.shape)}, the folder gives {list(ours.shape)}")
    diff = np.abs(theirs - ours)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    ok = bool(diff.max() <= args.tolerance)
    print(f"{args.model}: {ours.shape[0]} positions x {ours.shape[1]} logits in float64, max |difference| {diff.max():.3g} "
          f"(position {worst[0]}, token {worst[1]}; tolerance {args.tolerance:g}; logits span {np.ptp(ours):.3g}) {'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"llama_torch: {e}")
