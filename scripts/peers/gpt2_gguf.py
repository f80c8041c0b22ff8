"""
A GGUF file of a GPT-2 124M-shaped model with random weights in f32, for llama.cpp's llama-bench in
scripts/bench-peers.sh (llama-quantize --pure makes the q8_0 and q4_0 copies from it). The weights are drawn as
GPT-2's initialisation (N(0, 0.02), LayerNorms at 1 and 0); the tokenizer is GPT-2's own (encoder.json and vocab.bpe,
which llama.cpp needs to load a model even when nothing is tokenised). Written with llama.cpp's gguf-py (numpy).

    /usr/bin/python3 scripts/peers/gpt2_gguf.py --gguf-py /work/llama.cpp/gguf-py --tokenizer ../shared/data/gpt2 --out gpt2-f32.gguf
"""

import argparse
import json
import os
import sys

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description="A random-weight GPT-2 124M GGUF (f32) for llama-bench.")
    p.add_argument("--gguf-py", required=True, help="llama.cpp's gguf-py folder")
    p.add_argument("--tokenizer", required=True, help="a folder with GPT-2's encoder.json and vocab.bpe")
    p.add_argument("--out", required=True)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--context", type=int, default=1024)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    sys.path.insert(0, args.gguf_py)
    import gguf  # noqa: E402

    with open(os.path.join(args.tokenizer, "encoder.json"), encoding="utf-8") as f:
        encoder = json.load(f)
    with open(os.path.join(args.tokenizer, "vocab.bpe"), encoding="utf-8") as f:
        merges = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#version")]
    tokens = [t for t, _ in sorted(encoder.items(), key=lambda kv: kv[1])]
    vocab, width, ff = len(tokens), args.width, 4 * args.width
    end = encoder.get("<|endoftext|>", vocab - 1)

    w = gguf.GGUFWriter(args.out, "gpt2")
    w.add_name("gpt2-random")
    w.add_context_length(args.context)
    w.add_embedding_length(width)
    w.add_feed_forward_length(ff)
    w.add_block_count(args.layers)
    w.add_head_count(args.heads)
    w.add_layer_norm_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if i == end else gguf.TokenType.NORMAL for i in range(vocab)])
    w.add_token_merges(merges)
    w.add_bos_token_id(end)
    w.add_eos_token_id(end)

    rng = np.random.default_rng(args.seed)

    def normal(*shape, std=0.02):
        return (rng.standard_normal(shape, dtype=np.float32) * std).astype(np.float32)

    ones, zeros = (lambda n: np.ones(n, np.float32)), (lambda n: np.zeros(n, np.float32))
    proj_std = 0.02 / np.sqrt(2 * args.layers)
    # numpy shapes are [rows, columns] = [out, in], GGML's ne reversed: token_embd [vocab, width] is ne {width, vocab}.
    w.add_tensor("token_embd.weight", normal(vocab, width))
    w.add_tensor("position_embd.weight", normal(args.context, width, std=0.01))
    for i in range(args.layers):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", ones(width))
        w.add_tensor(b + "attn_norm.bias", zeros(width))
        w.add_tensor(b + "attn_qkv.weight", normal(3 * width, width))
        w.add_tensor(b + "attn_qkv.bias", zeros(3 * width))
        w.add_tensor(b + "attn_output.weight", normal(width, width, std=proj_std))
        w.add_tensor(b + "attn_output.bias", zeros(width))
        w.add_tensor(b + "ffn_norm.weight", ones(width))
        w.add_tensor(b + "ffn_norm.bias", zeros(width))
        w.add_tensor(b + "ffn_up.weight", normal(ff, width))
        w.add_tensor(b + "ffn_up.bias", zeros(ff))
        w.add_tensor(b + "ffn_down.weight", normal(width, ff, std=proj_std))
        w.add_tensor(b + "ffn_down.bias", zeros(width))
    w.add_tensor("output_norm.weight", ones(width))
    w.add_tensor("output_norm.bias", zeros(width))
    # No output.weight: the head is tied to token_embd, as in GPT-2 and Edge's gpt2.
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{args.out}: GPT-2 shape ({args.layers} layers, width {width}, {args.heads} heads, context {args.context}, "
          f"vocabulary {vocab}), random f32 weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
