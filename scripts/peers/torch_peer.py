"""
The PyTorch side of scripts/bench-peers.sh: the same training step, decode step and prompt pass that `edge bench
train|generate|prefill` time, on tests/python/edge_torch.py's GPT (nanoGPT's model.py, Edge's declared shapes),
timed the way edge bench times them, one JSON object on stdout (the median and spread in milliseconds).

    /usr/bin/python3 scripts/peers/torch_peer.py train baby-gpt [--batch 12] [--context 64] [--steps 20]
    /usr/bin/python3 scripts/peers/torch_peer.py generate gpt2 --vocab 50257 --tokens 64
    /usr/bin/python3 scripts/peers/torch_peer.py prefill gpt2 --vocab 50257 --prompt-tokens 64
    /usr/bin/python3 scripts/peers/torch_peer.py check      # the KV-cache decoder against the full forward pass

What each one does, as edge bench does it (src/Hosting/Commands/BenchCommand.cs):
  train     random tokens, dropout as the model declares (0 for baby-gpt and gpt2), AdamW at lr 1e-4, betas (0.9,
            0.999), eps 1e-8, weight decay 0.1 on matrices and embeddings, gradient clipping at 1.0; 3 warm-up steps,
            then each timed step is forward + backward + clip + optimizer step (edge_torch.train_step).
  generate  batch 1 with a KV cache (KVDecoder below), sampling at temperature 0.8 with top-k 40 included; warm-up is
            one full-context prompt pass and 20 tokens from an empty prompt, so the timed tokens start at position
            21; a full context slides as Edge's TextGenerator does (the newest three quarters prefilled again).
  prefill   batch 1: N random prompt tokens fill an empty KV cache, the head computed for the last position only;
            3 warm-up passes.
Threads: --threads (default 2) for torch.set_num_threads; the BLAS's own threads come from the environment
(OPENBLAS_NUM_THREADS), which the calling script sets.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "python"))
import edge_torch  # noqa: E402  (the project's PyTorch GPT: the same model the interop check scores)


class KVDecoder:
    """Batch-1 inference on an edge_torch.GPT with a key/value cache: prefill(tokens) starts the cache afresh,
    step(token) appends one position; both return the logits after the last position (the head on one row only)."""

    def __init__(self, model):
        c = model.config
        self.model = model.eval()
        self.heads, self.width, self.context = c.n_head, c.n_embd, c.block_size
        hs = c.n_embd // c.n_head
        self.k = torch.zeros(c.n_layer, c.n_head, c.block_size, hs)
        self.v = torch.zeros(c.n_layer, c.n_head, c.block_size, hs)
        self.scale = 1.0 / math.sqrt(hs)
        self.cached = 0

    @torch.no_grad()
    def _forward(self, tokens):
        t, n, C, nh = len(tokens), self.cached, self.width, self.heads
        if n + t > self.context:
            raise ValueError(f"{n + t} positions, more than the context of {self.context}")
        tr = self.model.transformer
        idx = torch.tensor(tokens, dtype=torch.long)
        x = tr.wte(idx) + tr.wpe(torch.arange(n, n + t))  # (t, C)
        mask = None
        if t > 1:  # position n + i sees cached positions 0 .. n + i
            mask = torch.ones(t, n + t, dtype=torch.bool).tril(diagonal=n).logical_not()
        for layer, block in enumerate(tr.h):
            a = block.attn
            q, k, v = a.c_attn(block.ln_1(x)).split(C, dim=1)
            self.k[layer, :, n:n + t] = k.view(t, nh, -1).transpose(0, 1)
            self.v[layer, :, n:n + t] = v.view(t, nh, -1).transpose(0, 1)
            q = q.view(t, nh, -1).transpose(0, 1)  # (nh, t, hs)
            att = (q @ self.k[layer, :, :n + t].transpose(-2, -1)) * self.scale  # (nh, t, n + t)
            if mask is not None:
                att = att.masked_fill(mask, float("-inf"))
            y = (F.softmax(att, dim=-1) @ self.v[layer, :, :n + t]).transpose(0, 1).reshape(t, C)
            x = x + a.c_proj(y)
            x = x + block.mlp(block.ln_2(x))
        self.cached = n + t
        return self.model.lm_head(tr.ln_f(x[-1:]))[0]

    def prefill(self, tokens):
        self.cached = 0
        return self._forward(tokens)

    def step(self, token):
        return self._forward([token])


class Generator:
    """Edge's TextGenerator for a transformer: a window of at most the context; the first token after a reset
    prefills the window, later ones decode one position; a full cache keeps the newest three quarters, prefilled."""

    def __init__(self, decoder, padding=0, temperature=0.8, top_k=40, seed=1):
        self.decoder, self.padding = decoder, padding
        self.temperature, self.top_k = temperature, top_k
        self.rng = torch.Generator().manual_seed(seed)
        self.window, self.needs_prefill = [], True

    def reset(self, prompt):
        self.window = list(prompt) if prompt else [self.padding]
        self.needs_prefill = True

    def next(self):
        d = self.decoder
        if self.needs_prefill:
            logits = d.prefill(self.window)
        elif d.cached >= d.context:
            keep = max(1, d.context - d.context // 4)
            self.window = self.window[-keep:]
            logits = d.prefill(self.window)
        else:
            logits = d.step(self.window[-1])
        self.needs_prefill = False
        token = self.sample(logits)
        self.window.append(token)
        if len(self.window) > d.context:
            del self.window[0]
        return token

    def sample(self, logits):
        values, ids = torch.topk(logits / self.temperature, min(self.top_k, logits.numel()))
        return int(ids[torch.multinomial(F.softmax(values, dim=-1), 1, generator=self.rng)])


def summary(kind, model, times_ms, unit, tokens_per, **extra):
    times = sorted(times_ms)
    median = statistics.median(times)
    return dict(benchmark=kind, model=model, implementation=f"pytorch {torch.__version__}", threads=torch.get_num_threads(),
                **{f"ms_per_{unit}_median": round(median, 4), f"ms_per_{unit}_min": round(times[0], 4),
                   f"ms_per_{unit}_max": round(times[-1], 4)},
                count=len(times), tokens_per_second=round(tokens_per / (median / 1000), 2), **extra)


def timed(fn, n):
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def train(args):
    model = edge_torch.GPT.declared(args.model, args.vocab)
    if args.context > model.config.block_size:
        sys.exit(f"--context {args.context}: {args.model}'s context is {model.config.block_size}")
    optimizer = edge_torch.configure_optimizer(model, learning_rate=1e-4, weight_decay=0.1, betas=(0.9, 0.999))
    g = torch.Generator().manual_seed(2)
    batches = [edge_torch.random_batch(args.batch, args.context, args.vocab, g) for _ in range(3 + args.steps)]
    for inputs, targets in batches[:3]:
        edge_torch.train_step(model, optimizer, inputs, targets, grad_clip=1.0)
    it = iter(batches[3:])
    times = timed(lambda: edge_torch.train_step(model, optimizer, *next(it), grad_clip=1.0), args.steps)
    return summary("train", args.model, times, "step", args.batch * args.context,
                   shape=f"batch {args.batch}, context {args.context}, vocabulary {args.vocab}", dropout=model.config.dropout)


def generate(args):
    model = edge_torch.GPT.declared(args.model, args.vocab)
    decoder = KVDecoder(model)
    gen = Generator(decoder)
    with torch.inference_mode():
        gen.reset([0] * decoder.context)
        gen.next()
        gen.reset([])
        for _ in range(20):
            gen.next()
        times = timed(gen.next, args.tokens)
    return summary("generate", args.model, times, "token", 1, shape="batch 1, KV cache")


def prefill(args):
    model = edge_torch.GPT.declared(args.model, args.vocab)
    decoder = KVDecoder(model)
    if args.prompt_tokens > decoder.context:
        sys.exit(f"--prompt-tokens {args.prompt_tokens}: {args.model}'s context is {decoder.context}")
    prompt = torch.randint(args.vocab, (args.prompt_tokens,), generator=torch.Generator().manual_seed(1)).tolist()
    with torch.inference_mode():
        for _ in range(3):
            decoder.prefill(prompt)
        times = timed(lambda: decoder.prefill(prompt), args.passes)
    return summary("prefill", args.model, times, "pass", args.prompt_tokens, shape=f"batch 1, prompt of {args.prompt_tokens} tokens")


def check(args):
    """The decoder's logits at every position, by prefill and by steps, against the model's own full forward pass."""
    torch.manual_seed(0)
    model = edge_torch.GPT.declared(args.model, args.vocab).eval()
    decoder = KVDecoder(model)
    tokens = torch.randint(args.vocab, (decoder.context,)).tolist()
    with torch.inference_mode():
        full, _ = model(torch.tensor([tokens]))
        worst = (decoder.prefill(tokens) - full[0, -1]).abs().max().item()
        decoder.prefill(tokens[:5])
        for i in range(5, len(tokens)):
            worst = max(worst, (decoder.step(tokens[i]) - full[0, i]).abs().max().item())
    ok = worst < 1e-4
    return dict(benchmark="check", model=args.model, max_abs_difference=worst, ok=ok)


def main(argv=None):
    p = argparse.ArgumentParser(description="PyTorch timings of the steps edge bench times (see the module's docstring).")
    p.add_argument("what", choices=["train", "generate", "prefill", "check"])
    p.add_argument("model", nargs="?", default="baby-gpt", choices=sorted(edge_torch.EDGE_MODELS))
    p.add_argument("--batch", type=int, help="train: examples per step (default: 12 for baby-gpt, 4 otherwise, as the recipes)")
    p.add_argument("--context", type=int, help="train: tokens per example (default: the model's context)")
    p.add_argument("--steps", type=int, default=20, help="train: timed steps after 3 warm-up steps")
    p.add_argument("--tokens", type=int, default=200, help="generate: timed tokens")
    p.add_argument("--prompt-tokens", type=int, default=64, help="prefill: prompt length")
    p.add_argument("--passes", type=int, default=20, help="prefill: timed passes after 3 warm-up passes")
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    config = edge_torch.EDGE_MODELS[args.model]
    args.batch = args.batch or (12 if args.model.startswith("baby-gpt") else 16 if args.model == "mini-gpt" else 64 if args.model == "shakespeare-gpt" else 4)
    args.context = args.context or config.block_size
    result = dict(train=train, generate=generate, prefill=prefill, check=check)[args.what](args)
    result["openblas_num_threads"] = os.environ.get("OPENBLAS_NUM_THREADS", "")
    print(json.dumps(result))
    return 0 if result.get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
