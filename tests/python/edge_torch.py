"""
Edge's GPT-2-layout transformers in PyTorch, written from the file formats alone: it reads an Edge checkpoint
(safetensors, Hugging Face GPT-2 tensor names) and PEFT LoRA adapter folders, and computes logits, so what Edge
writes can be scored (and trained further) outside Edge. The model is nanoGPT's model.py, cut down to what the
checkpoints hold; nothing here imports Edge.

    /usr/bin/python3 tests/python/edge_torch.py --model models/baby-gpt/model.safetensors --prompt "ROMEO:" --last
    /usr/bin/python3 tests/python/edge_torch.py --model M --adapter adapters/names --compare edge-logits.json

Logits are computed in float64 by default (--dtype float32 for PyTorch's usual precision). As a module it also gives
what a training benchmark needs: GPT.declared('baby-gpt', vocab_size) with GPT-2's initialisation,
configure_optimizer (AdamW, decay on matrices and embeddings only) and train_step; pin threads with
torch.set_num_threads first.
"""

import argparse
import json
import math
import os
import struct
import sys
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

# ---- files ----------------------------------------------------------------------------------------------------------


def read_safetensors(path):
    """The F32 tensors of a safetensors file as numpy arrays, and its metadata: an 8-byte little-endian header length,
    the JSON header (name -> dtype, shape, [begin, end) in the data section), then the raw little-endian data."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {t['dtype']}; only F32 is read here (a quantised checkpoint?)")
        begin, end = t["data_offsets"]
        count = math.prod(t["shape"])
        if end - begin != 4 * count:
            raise ValueError(f"{path}: tensor {name} has {end - begin} bytes for shape {t['shape']}")
        tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=8 + n + begin).reshape(t["shape"])
    return tensors, metadata


class CharVocabulary:
    """An Edge checkpoint's tokenizer ("edge.tokenizer": {"symbols": [...], "marker": ...}): one id per character."""

    def __init__(self, json_text):
        self.symbols = json.loads(json_text)["symbols"]
        self.ids = {s: i for i, s in enumerate(self.symbols)}

    def encode(self, text):
        missing = [c for c in text if c not in self.ids]
        if missing:
            raise ValueError(f"character {missing[0]!r} is not in the model's vocabulary")
        return [self.ids[c] for c in text]


# ---- the model (nanoGPT's model.py) ----------------------------------------------------------------------------------


@dataclass
class GPTConfig:
    block_size: int = 64  # the context
    vocab_size: int = 65
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    bias: bool = True  # biases in the linear layers and LayerNorms
    gelu: str = "tanh"  # "tanh": GPT-2's gelu_new; "exact": the erf form, nn.GELU()
    dropout: float = 0.0


# What tensor shapes do not say about Edge's declared transformers (src/Models/Transformers.cs): the heads, the GELU,
# and the whole shape for a model built without a checkpoint. Every one has a tied head and LayerNorm eps 1e-5.
EDGE_MODELS = {
    "baby-gpt": GPTConfig(block_size=64, n_layer=4, n_head=4, n_embd=128),
    "baby-gpt-nanogpt": GPTConfig(block_size=64, n_layer=4, n_head=4, n_embd=128, bias=False, gelu="exact"),
    "mini-gpt": GPTConfig(block_size=256, n_layer=4, n_head=4, n_embd=128, dropout=0.1),
    "shakespeare-gpt": GPTConfig(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
    "gpt2": GPTConfig(block_size=1024, n_layer=12, n_head=12, n_embd=768),
    "distilgpt2": GPTConfig(block_size=1024, n_layer=6, n_head=12, n_embd=768),
}


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch's has no bias=False before 2.1)."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v for all heads
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("mask", mask.view(1, 1, config.block_size, config.block_size), persistent=False)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, nh, T, T)
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh" if config.gelu == "tanh" else "none")
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=LayerNorm(config.n_embd, config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied to the embedding
        # GPT-2's initialisation: N(0, 0.02), the residual projections scaled by 1/sqrt(2 x layers).
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            torch.nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None):
        """idx, targets: (B, T) token ids. Returns logits (B, T, V) and the mean cross-entropy (None without targets)."""
        B, T = idx.size()
        assert T <= self.config.block_size, f"{T} tokens, more than the context of {self.config.block_size}"
        pos = torch.arange(T, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss

    @classmethod
    def declared(cls, name, vocab_size, **overrides):
        """A freshly initialised model of one of Edge's declared transformers (EDGE_MODELS)."""
        return cls(replace(EDGE_MODELS[name], vocab_size=vocab_size, **overrides))

    @classmethod
    def from_edge(cls, path, n_head=None):
        """An Edge checkpoint: the shapes come from the tensors, the heads and GELU from the declared model
        ("edge.model" in the metadata) unless n_head is given. Returns (model, vocabulary or None, metadata)."""
        tensors, meta = read_safetensors(path)
        name = meta.get("edge.model", "")
        if "wte.weight" not in tensors or "h.0.attn.c_attn.weight" not in tensors:
            raise ValueError(f"{path}: not a GPT-2-layout checkpoint (model '{name}': no wte.weight or h.0.attn.c_attn.weight)")
        declared = EDGE_MODELS.get(name)
        if declared is None and n_head is None:
            raise ValueError(f"{path}: model '{name}' is not one of {', '.join(EDGE_MODELS)}; give its heads (--heads N)")
        vocab_size, n_embd = tensors["wte.weight"].shape
        n_layer = 1 + max(int(k.split(".")[1]) for k in tensors if k.startswith("h."))
        config = replace(declared or GPTConfig(), vocab_size=vocab_size, n_embd=n_embd, n_layer=n_layer,
                         block_size=tensors["wpe.weight"].shape[0], bias="ln_f.bias" in tensors, dropout=0.0,
                         n_head=n_head or declared.n_head)
        model = cls(config)
        model.load_gpt2_tensors(tensors, path)
        vocabulary = CharVocabulary(meta["edge.tokenizer"]) if "edge.tokenizer" in meta else None
        return model, vocabulary, meta

    def load_gpt2_tensors(self, tensors, source):
        """Hugging Face GPT-2 names onto this model; the four Conv1D weights are stored [in, out], nn.Linear's [out, in]."""
        conv1d = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
        own = {k: v for k, v in self.state_dict().items() if not k.startswith("lm_head.")}  # lm_head is wte
        extra = [k for k in tensors if "transformer." + k not in own and not k.startswith("optimizer.")]
        if extra:
            raise ValueError(f"{source}: tensor {extra[0]} has no place in a GPT-2 model of this shape")
        with torch.no_grad():
            for key, p in own.items():
                name = key[len("transformer."):]
                if name not in tensors:
                    raise ValueError(f"{source}: tensor {name} is missing")
                t = torch.from_numpy(tensors[name].copy())
                if name.endswith(conv1d):
                    t = t.t()
                if t.shape != p.shape:
                    raise ValueError(f"{source}: tensor {name} is {list(tensors[name].shape)}, expected {list(p.shape)}")
                p.copy_(t)

    def apply_lora(self, folder, scale=1.0):
        """Adds a PEFT LoRA adapter's terms to the modules it targets (several adapters add up): see LoRA."""
        with open(os.path.join(folder, "adapter_config.json")) as f:
            config = json.load(f)
        r, alpha = config["r"], config.get("lora_alpha", config["r"])
        scaling = scale * (alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r)
        path = os.path.join(folder, "adapter_model.safetensors")
        tensors, _ = read_safetensors(path)
        pairs = {}
        for name, t in tensors.items():
            # base_model.model.transformer.h.0.attn.c_attn.lora_A.weight (older PEFT: lora_A.default.weight)
            module, which = name.removeprefix("base_model.model.").removeprefix("transformer.").replace(".default.", ".").rsplit(".", 2)[:2]
            pairs.setdefault(module, {})[which] = torch.from_numpy(t.copy())
        for module, ab in pairs.items():
            parent, _, child = module.rpartition(".")
            owner = self.transformer.get_submodule(parent) if parent.startswith("h.") else None
            target = getattr(owner, child, None)
            if not isinstance(target, (nn.Linear, LoRA)) or set(ab) != {"lora_A", "lora_B"}:
                raise ValueError(f"{path}: module {module} is not a projection of this model with lora_A and lora_B")
            linear = target.base if isinstance(target, LoRA) else target
            if ab["lora_A"].shape != (r, linear.in_features) or ab["lora_B"].shape != (linear.out_features, r):
                raise ValueError(f"{path}: {module}'s A {list(ab['lora_A'].shape)} and B {list(ab['lora_B'].shape)} do not fit "
                                 f"[{r}, {linear.in_features}] and [{linear.out_features}, {r}]")
            setattr(owner, child, LoRA(target, ab["lora_A"], ab["lora_B"], scaling, config.get("lora_dropout", 0.0)))
        return len(pairs)


class LoRA(nn.Module):
    """PEFT's LoRA term on a projection: y = base(x) + scaling * dropout(x) A^T B^T, A [r, in], B [out, r]. (PEFT's
    fan_in_fan_out is about how GPT-2's Conv1D stores the base weight; A and B are stored the same either way.)"""

    def __init__(self, base, A, B, scaling, dropout=0.0):
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(A)
        self.lora_B = nn.Parameter(B)
        self.scaling = scaling
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.base(x) + self.scaling * (self.dropout(x) @ self.lora_A.t() @ self.lora_B.t())


# ---- training (what a speed comparison times) ------------------------------------------------------------------------


def configure_optimizer(model, learning_rate=1e-3, weight_decay=0.1, betas=(0.9, 0.99)):
    """AdamW with decay on matrices and embeddings (2-D and up), none on biases and LayerNorms, as nanoGPT and Edge."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [dict(params=[p for p in params if p.dim() >= 2], weight_decay=weight_decay),
              dict(params=[p for p in params if p.dim() < 2], weight_decay=0.0)]
    return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)


def random_batch(batch, context, vocab_size, generator=None):
    """(inputs, targets): (batch, context) random token ids, targets the inputs shifted by one."""
    tokens = torch.randint(vocab_size, (batch, context + 1), generator=generator)
    return tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()


def train_step(model, optimizer, inputs, targets, grad_clip=1.0):
    """One step: forward to the loss, backward, clip to a global norm, AdamW update. Returns the loss."""
    model.train()
    _, loss = model(inputs, targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


# ---- command line ----------------------------------------------------------------------------------------------------


def logits_json(tokens, logits):
    """edge logits' format: {"tokens":[...],"logits":[[...],...]}, a row per line."""
    compact = dict(separators=(",", ":"))
    rows = ",\n".join(json.dumps([float(x) for x in row], **compact) for row in logits)
    return f'{{"tokens":{json.dumps(tokens, **compact)},\n"logits":[\n{rows}]}}\n'


def main(argv=None):
    p = argparse.ArgumentParser(description="Logits of an Edge GPT-2-layout checkpoint (and LoRA adapters) in PyTorch.")
    p.add_argument("--model", required=True, help="an Edge checkpoint (.safetensors) of a GPT-2-layout model")
    p.add_argument("--adapter", action="append", default=[], metavar="DIR[:SCALE]", help="a PEFT LoRA folder (repeatable)")
    p.add_argument("--prompt", help="text, encoded with the checkpoint's character vocabulary")
    p.add_argument("--tokens", help="token ids, comma-separated (instead of --prompt)")
    p.add_argument("--compare", metavar="EDGE.json", help="the output of 'edge logits': score its tokens, compare its rows")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest |difference| --compare accepts (default 1e-4)")
    p.add_argument("--last", action="store_true", help="only the last position's logits")
    p.add_argument("--heads", type=int, help="attention heads, for a model not in EDGE_MODELS")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    model, vocabulary, meta = GPT.from_edge(args.model, args.heads)
    for spec in args.adapter:
        model.apply_lora(*adapter_spec(spec))
    model = model.to(getattr(torch, args.dtype)).eval()

    edge = None
    if args.compare:
        with open(args.compare) as f:
            edge = json.load(f)
    if args.tokens is not None:
        tokens = [int(t) for t in args.tokens.split(",")]
    elif args.prompt is not None:
        if vocabulary is None:
            sys.exit(f"{args.model}: no character vocabulary (edge.tokenizer) to encode --prompt with; give --tokens")
        tokens = vocabulary.encode(args.prompt)
    elif edge is not None:
        tokens = edge["tokens"]
    else:
        sys.exit("give --prompt, --tokens or --compare")
    if edge is not None and edge["tokens"] != tokens:
        sys.exit(f"token ids differ: Edge {edge['tokens']}, here {tokens}")

    with torch.no_grad():
        logits, _ = model(torch.tensor([tokens], dtype=torch.long))
    logits = logits[0].numpy().astype(np.float64)
    if edge is None:
        sys.stdout.write(logits_json(tokens, logits[-1:] if args.last else logits))
        return 0
    theirs = np.array(edge["logits"], dtype=np.float64)
    ours = logits[-len(theirs):]
    if theirs.shape != ours.shape:
        sys.exit(f"{args.compare}: logits are {list(theirs.shape)}, the model gives {list(ours.shape)} for the last {len(theirs)} positions")
    diff = np.abs(theirs - ours)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    ok = bool(diff.max() <= args.tolerance)
    adapters = f" + {', '.join(args.adapter)}" if args.adapter else ""
    print(f"{meta.get('edge.model', '?')}{adapters}: {ours.shape[0]} positions x {ours.shape[1]} logits in {args.dtype}, "
          f"max |difference| {diff.max():.3g} (position {worst[0]}, token {worst[1]}; tolerance {args.tolerance:g}) "
          f"{'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


def adapter_spec(spec):
    """"adapters/names:0.5" -> ("adapters/names", 0.5), as edge's --adapter: a suffix that is not a number is part of the path."""
    folder, _, scale = spec.rpartition(":")
    try:
        return (folder, float(scale)) if folder else (spec, 1.0)
    except ValueError:
        return spec, 1.0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, KeyError) as e:  # a missing or malformed file: one line, as edge reports it
        sys.exit(f"edge_torch: {e}")
