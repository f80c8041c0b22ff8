#!/usr/bin/env python3
"""GPT-2's own encoder for the BPE exactness tests (tests/Edge.Tests/Text/BpeExactness*.cs).

The algorithm is OpenAI's gpt-2/src/encoder.py: bytes_to_unicode, the pre-tokenisation regex (with the `regex`
module's \\p classes) and bpe(), which merges the lowest-ranked pair, every occurrence left to right, until no
pair has a rank. <|endoftext|> is split out first and becomes its id, as the tests encode with specials allowed.

  python3 gpt2_reference.py update REFERENCE_JSON DATA_DIR
      Fills in the ids of every case in REFERENCE_JSON (the stored reference the tests compare with when no live
      reference runs), the class of every code point, and the digests of DATA_DIR/gpt2's vocab files. A case is
      {"name", "text"} (ids stored in full) or a recipe the tests rebuild: {"name", "repeat", "times"},
      {"name", "letters_of": FILE, "length"} (the first ASCII letters of a DATA_DIR file, run together) or
      {"name", "file"}, each with an optional "prefix" and "suffix"; a recipe stores its id count and the SHA-256
      of the ids as little-endian int32.
  python3 gpt2_reference.py encode ENCODER_JSON VOCAB_BPE
      A JSON array of texts on stdin -> a JSON array of id lists on stdout (the tests' live reference).
  python3 gpt2_reference.py classes
      One letter per code point 0..0x10FFFF on stdout: s (\\s), L (\\p{L}), N (\\p{N}) or o.

Regenerate the stored reference (needs `pip install regex`), from the repository root:
  python3 tests/Edge.Tests/Text/reference/gpt2_reference.py update tests/Edge.Tests/Text/reference/gpt2-reference.json ../shared/data
"""
import hashlib
import json
import os
import struct
import sys

import regex as re

PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Encoder:
    def __init__(self, encoder_json, vocab_bpe):
        with open(encoder_json, encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(vocab_bpe, encoding="utf-8") as f:
            merges = [tuple(m.split()) for m in f.read().split("\n")[1:-1]]
        self.ranks = dict(zip(merges, range(len(merges))))
        self.byte_encoder = bytes_to_unicode()
        self.pat = re.compile(PATTERN)
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        while len(word) > 1:
            bigram = min(zip(word, word[1:]), key=lambda pair: self.ranks.get(pair, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
        self.cache[token] = word
        return word

    def encode(self, text):
        ids = []
        for k, chunk in enumerate(text.split("<|endoftext|>")):
            if k > 0:
                ids.append(self.encoder["<|endoftext|>"])
            for token in re.findall(self.pat, chunk):
                ids.extend(self.encoder[t] for t in self.bpe("".join(self.byte_encoder[b] for b in token.encode("utf-8"))))
        return ids


def classes():
    s, l, n = re.compile(r"\s"), re.compile(r"\p{L}"), re.compile(r"\p{N}")
    return "".join("s" if s.match(c) else "L" if l.match(c) else "N" if n.match(c) else "o" for c in map(chr, range(0x110000)))


def runs(letters):
    """'<first code point in hex><letter>' for each run of equal letters: the class table in about 8 KB."""
    out, previous = [], None
    for cp, c in enumerate(letters):
        if c != previous:
            out.append(f"{cp:x}{c}")
            previous = c
    return "".join(out)


def case_text(case, data_dir):
    if "text" in case:
        return case["text"]
    if "repeat" in case:
        body = case["repeat"] * case["times"]
    else:
        with open(os.path.join(data_dir, case.get("letters_of") or case["file"]), encoding="utf-8", newline="") as f:
            body = f.read()
        if "letters_of" in case:
            body = "".join(c for c in body if "a" <= c <= "z" or "A" <= c <= "Z")[: case["length"]]
    return case.get("prefix", "") + body + case.get("suffix", "")


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def update(reference_path, data_dir):
    with open(reference_path, encoding="utf-8") as f:
        reference = json.load(f)
    encoder_json, vocab_bpe = os.path.join(data_dir, "gpt2", "encoder.json"), os.path.join(data_dir, "gpt2", "vocab.bpe")
    enc = Encoder(encoder_json, vocab_bpe)
    names = [case["name"] for case in reference["cases"]]
    if len(set(names)) != len(names):
        sys.exit("case names must be distinct: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
    for case in reference["cases"]:
        ids = enc.encode(case_text(case, data_dir))
        for key in ("ids", "count", "sha256"):
            case.pop(key, None)
        if "text" in case:
            case["ids"] = ids
        else:
            case["count"] = len(ids)
            case["sha256"] = hashlib.sha256(struct.pack(f"<{len(ids)}i", *ids)).hexdigest()
    reference["encoder_json_sha256"] = sha256_file(encoder_json)
    reference["vocab_bpe_sha256"] = sha256_file(vocab_bpe)
    reference["regex_version"] = re.__version__
    reference["classes"] = runs(classes())
    with open(reference_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n")
        f.write(f'"about": {json.dumps(reference["about"], ensure_ascii=False)},\n')
        for key in ("encoder_json_sha256", "vocab_bpe_sha256", "regex_version", "classes"):
            f.write(f'"{key}": {json.dumps(reference[key])},\n')
        f.write('"cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in reference["cases"]))
        f.write("\n]\n}\n")


def main(args):
    if len(args) == 3 and args[0] == "update":
        update(args[1], args[2])
    elif len(args) == 3 and args[0] == "encode":
        enc = Encoder(args[1], args[2])
        texts = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        sys.stdout.write(json.dumps([enc.encode(t) for t in texts]))
    elif args == ["classes"]:
        sys.stdout.write(classes())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
