"""SentencePiece reference for Edge's Llama-family tokenizers (tests/Edge.Tests/Text/Fixtures/tokenizers).

    make DIR             train the fixture model on Tiny Shakespeare and write, under DIR:
                           sp/tokenizer.model            SentencePiece BPE with byte fallback (Llama's trainer options)
                           sp-collapse/tokenizer.model   the same pieces, normalizer with remove_extra_whitespaces
                           sp-unused/tokenizer.model     the same pieces, a few frequent ones marked UNUSED
                           sp-user/tokenizer.model       the same pieces, a few marked USER_DEFINED (matched whole, never merged)
                           hf-llama/tokenizer.json       the Hugging Face conversion, legacy form (Prepend + Replace)
                           hf-llama-metaspace/tokenizer.json   the newer form (a Metaspace pre-tokenizer)
                           llama2c/tokenizer.bin         llama2.c's export of the same model
                           texts.json                    the test texts
                           sentencepiece.json            SentencePiece's ids and decoded text for each text
    encode MODEL         texts (a JSON array) on stdin -> [[ids], ...] on stdout, SentencePiece's encode (no BOS)
    decode MODEL         id lists (JSON) on stdin -> [text, ...], SentencePiece's decode

Needs Debian's python3-sentencepiece and python3-protobuf (/usr/bin/python3). Tiny Shakespeare is read from
$EDGE_DATA or ../shared/data. The files are written by this script from the formats' public descriptions:
tokenizer.json follows what Hugging Face's LlamaConverter produces (vocab = the pieces, merges = every split of a
piece into two pieces, ordered by the piece's score), tokenizer.bin what llama2.c's tokenizer.py export writes
(uint32 max_token_length, then per piece float32 score, uint32 length, bytes, with '▁' written as ' ' and BOS/EOS
as "\n<s>\n" / "\n</s>\n").
"""
import json
import os
import re
import struct
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

SPACE = "\u2581"


def texts():
    """ASCII, accents (composed and decomposed), CJK, emoji outside the BMP, whitespace runs, digits, specials."""
    named = [
        "Hello world",
        "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n",
        "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.",
        "",
        " ",
        "  ",
        "a",
        "the the the theatre thee",
        "  two leading spaces",
        "trailing spaces   ",
        "a    b\tc \t d  \n\n\ne   \n  f\r\n",
        "\n\n\n",
        "\t\ttabs",
        "1234567 3.14159 -42 2024-01-01 12:30:45 1,000,000 007",
        "caf\u00e9 na\u00efve \u00c5ngstr\u00f6m r\u00e9sum\u00e9 Z\u00fcrich fa\u00e7ade S\u00e3o Paulo Dvo\u0159\u00e1k stra\u00dfe",
        "cafe\u0301 nai\u0308ve A\u030angstro\u0308m",
        "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059\u3002\u4e2d\u6587\uff0c\u6c49\u5b57\u3002\ud55c\uad6d\uc5b4",
        "\U0001f469\u200d\U0001f469\u200d\U0001f467 family \U0001f1eb\U0001f1f7 flag \U0001f916 robot \U0001f44d\U0001f3fd \U0001f600\U0001f600",
        "\U0001d400\U0001d401\U0001d402 math \U00020000 ext-B \U0001d7d8\U0001d7d9 digits \U00010348 gothic",
        "don't I'll we've she'd it's they're I'm 'S 'LL",
        "!!! ??? ... --- === <<< >>> $$$ %% @@ ## ((()))[]{} \"quoted\" `tick` \u00a9\u00ae\u2122",
        "<s> and </s> and <unk> in text",
        "nul\0byte bell\a esc\u001b[0m del\u007f \u0085x \u00a0nbsp \u3000ideographic",
        "x" * 40 + " " + "ab" * 30 + " " + "=" * 25,
        "Ah, thou'rt a \u00e9tranger \U0001f600 \u2014 \u201cquoted\u201d \u2026",
    ]
    import random
    rng = random.Random(1234)
    fragments = ["a", "b", "z", "Q", "the", " ", "  ", "\n", "\t", "'", "'s", "0", "7", "42", ".", ",", "!", "-", "(", ")",
                 "\u00e9", "\u00df", "\u00c5", "\u65e5", "\u672c", "\U0001f600", "\U0001f44d", "\U0001f3fd", "\u200d",
                 "\U0001d400", "\u00a0", "\u00bd", "\u0663", "\u0301", "\u20ac", "Thou", " art", "ing"]
    randoms = ["".join(rng.choice(fragments) for _ in range(rng.randrange(1, 60))) for _ in range(20)]
    return named + randoms


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_json(path, value):
    """Indented JSON with every list of numbers on one line."""
    text = json.dumps(value, ensure_ascii=False, indent=1)
    text = re.sub(r"\[[-0-9.e,\s]*\]", lambda m: json.dumps(json.loads(m.group(0))), text)
    write(path, (text + "\n").encode("utf-8"))


def train(out_dir):
    data = os.path.join(os.environ.get("EDGE_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"),
                        "tinyshakespeare.txt")
    os.makedirs(out_dir, exist_ok=True)
    prefix = os.path.join(out_dir, "train")
    # Llama's trainer options: BPE, identity normalisation, no whitespace collapsing, a dummy prefix, digits split,
    # byte fallback; a small vocabulary keeps the fixture small.
    spm.SentencePieceTrainer.train(
        input=data, model_prefix=prefix, model_type="bpe", vocab_size=1000, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, byte_fallback=True, split_digits=True,
        allow_whitespace_only_pieces=True, character_coverage=1.0, num_threads=1, minloglevel=2)
    model = open(prefix + ".model", "rb").read()
    os.remove(prefix + ".model")
    os.remove(prefix + ".vocab")
    return model


def hf_tokenizer_json(proto, metaspace):
    """The Hugging Face tokenizer.json of a SentencePiece BPE model with byte fallback."""
    pieces = [(p.piece, p.score, p.type) for p in proto.pieces]
    vocab = {piece: i for i, (piece, _, _) in enumerate(pieces)}
    merges = []
    for i, (piece, score, kind) in enumerate(pieces):
        if kind not in (pb.ModelProto.SentencePiece.NORMAL, pb.ModelProto.SentencePiece.USER_DEFINED):
            continue
        splits = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        splits.sort(key=lambda s: (vocab[s[0]], vocab[s[1]]))
        merges += [(score, i, left, right) for left, right in splits]
    merges.sort(key=lambda m: (-m[0], m[1]))          # by the piece's score, best first; stable within a piece
    special = [{"id": i, "content": piece, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
               for i, (piece, _, kind) in enumerate(pieces) if kind in (pb.ModelProto.SentencePiece.UNKNOWN, pb.ModelProto.SentencePiece.CONTROL)]
    bos = proto.trainer_spec.bos_id
    template = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": pieces[bos][0], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": pieces[bos][0], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": pieces[bos][0], "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {pieces[bos][0]: {"id": pieces[bos][0], "ids": [bos], "tokens": [pieces[bos][0]]}},
    }
    if metaspace:
        normalizer = None
        pre_tokenizer = {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": "first", "split": False}
    else:
        normalizer = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE}, {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]}
        pre_tokenizer = None
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": template,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": pieces[proto.trainer_spec.unk_id][0], "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[left, right] for _, _, left, right in merges]},
    }


def llama2c_bin(proto):
    spec = proto.trainer_spec
    tokens, scores = [], []
    for i, p in enumerate(proto.pieces):
        text = "\n<s>\n" if i == spec.bos_id else "\n</s>\n" if i == spec.eos_id else p.piece
        tokens.append(text.replace(SPACE, " ").encode("utf-8"))
        scores.append(p.score)
    out = [struct.pack("<I", max(len(t) for t in tokens))]
    for t, s in zip(tokens, scores):
        out.append(struct.pack("<fI", s, len(t)) + t)
    return b"".join(out)


def make(out_dir):
    model = train(out_dir)
    proto = pb.ModelProto()
    proto.ParseFromString(model)
    collapse = pb.ModelProto()
    collapse.CopyFrom(proto)
    collapse.normalizer_spec.remove_extra_whitespaces = True
    collapse.trainer_spec.input[:] = []
    unused = pb.ModelProto()
    unused.CopyFrom(collapse)
    unused.normalizer_spec.remove_extra_whitespaces = False
    for p in unused.pieces:
        if p.piece in ("he", "\u2581the", "ou", "\u2581a"):
            p.type = pb.ModelProto.SentencePiece.UNUSED
    proto.trainer_spec.input[:] = []                  # no machine paths in the fixture
    proto.trainer_spec.model_prefix = collapse.trainer_spec.model_prefix = ""
    write(os.path.join(out_dir, "sp", "tokenizer.model"), proto.SerializeToString())
    write(os.path.join(out_dir, "sp-collapse", "tokenizer.model"), collapse.SerializeToString())
    write(os.path.join(out_dir, "sp-unused", "tokenizer.model"), unused.SerializeToString())
    user = pb.ModelProto()
    user.CopyFrom(proto)
    for p in user.pieces:
        if p.piece in ("ing", "\u2581the", "ROMEO"):
            p.type = pb.ModelProto.SentencePiece.USER_DEFINED
    write(os.path.join(out_dir, "sp-user", "tokenizer.model"), user.SerializeToString())
    write_json(os.path.join(out_dir, "hf-llama", "tokenizer.json"), hf_tokenizer_json(proto, metaspace=False))
    write_json(os.path.join(out_dir, "hf-llama-metaspace", "tokenizer.json"), hf_tokenizer_json(proto, metaspace=True))
    write(os.path.join(out_dir, "llama2c", "tokenizer.bin"), llama2c_bin(proto))
    all_texts = texts()
    write_json(os.path.join(out_dir, "texts.json"), all_texts)
    reference = {}
    for name in ("sp", "sp-collapse", "sp-unused", "sp-user"):
        sp = spm.SentencePieceProcessor(model_file=os.path.join(out_dir, name, "tokenizer.model"))
        ids = [sp.encode(t) for t in all_texts]
        reference[name] = {"ids": ids, "decoded": [sp.decode(i) for i in ids]}
    write_json(os.path.join(out_dir, "sentencepiece.json"), reference)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] in ("encode", "decode"):
        sp = spm.SentencePieceProcessor(model_file=sys.argv[2])
        items = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        out = [sp.encode(t) for t in items] if sys.argv[1] == "encode" else [sp.decode(i) for i in items]
        sys.stdout.buffer.write(json.dumps(out).encode("utf-8"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
