// Hugging Face `tokenizers` reference for Edge's tokenizer.json readers (tests/Edge.Tests/Text/Fixtures/tokenizers).
//
//   node hf_tokenizers_reference.js make DIR      write DIR/hf-smollm/tokenizer.json and DIR/hf-qwen2/tokenizer.json
//                                                 (byte-level BPEs trained here on Tiny Shakespeare and a few lines of
//                                                 other scripts, with SmolLM's and Qwen2's normalizer, pre-tokenizer,
//                                                 decoder and special tokens), then DIR/huggingface.json: the ids and
//                                                 decoded text of DIR/texts.json under every DIR/*/tokenizer.json
//   node hf_tokenizers_reference.js encode FILE   texts (a JSON array) on stdin -> [[ids], ...]: encode with special tokens
//   node hf_tokenizers_reference.js decode FILE   id lists on stdin -> [text, ...] (special tokens skipped for byte
//                                                 fallback models, kept for byte-level ones, as Edge decodes)
//
// Needs Node.js and the npm package `tokenizers` (Hugging Face's Rust library; 0.23.2 made the fixtures) in the
// node_modules folder named by $EDGE_REFERENCE_NODE_MODULES. Tiny Shakespeare is read from $EDGE_DATA or ../shared/data.
'use strict';
const fs = require('fs');
const path = require('path');
const modules = process.env.EDGE_REFERENCE_NODE_MODULES;
if (!modules) { console.error('set EDGE_REFERENCE_NODE_MODULES to a node_modules folder holding the npm package tokenizers'); process.exit(2); }
const { Tokenizer } = require(path.join(modules, 'tokenizers'));

// GPT-2's bytes_to_unicode: printable Latin-1 stands for itself, the other bytes for U+0100 on.
function byteChars() {
  const chars = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCodePoint(printable ? b : 256 + n++));
  }
  return chars;
}

const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const STYLES = {
  'hf-smollm': {
    specialsFirst: true,
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Digits', individual_digits: true },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }] },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    pairs: true,
  },
  'hf-qwen2': {
    specialsFirst: false,
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: QWEN2_PATTERN }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }] },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    pairs: false,
  },
};
const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

// Lines of other scripts, so that some merges hold accents, CJK and emoji bytes.
const EXTRA = [
  'café naïve résumé Zürich façade São Paulo Dvořák straße Ångström élève œuvre',
  '日本語の文章です。中文，汉字。한국어 텍스트 日本 中文 東京 大阪',
  '🤖 robot 😀 smile 👍🏽 thumbs 🇫🇷 flag ❤️ heart ✨ sparkles',
  'In 1887, 42 ships; 3.14159 and 2024-01-01 at 12:30:45; 1,000,000 and 007.',
];

function spec(style, vocab, merges) {
  const added = SPECIALS.map(content => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: style.normalizer, pre_tokenizer: style.pre_tokenizer, post_processor: style.post_processor, decoder: style.decoder,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
      byte_fallback: false, ignore_merges: false, vocab, merges: style.pairs ? merges : merges.map(m => m.join(' ')) },
  };
}

// A byte-level BPE trained on the pieces of `style`'s own pre-tokenizer: the most frequent adjacent pair, ties to the
// pair seen first, until `size` tokens.
function train(style, corpus, size) {
  const chars = byteChars();
  const vocab = {};
  const add = t => { vocab[t] = Object.keys(vocab).length; };
  if (style.specialsFirst) SPECIALS.forEach(add);
  chars.forEach(add);
  const splitter = Tokenizer.fromString(JSON.stringify(spec(style, { ...vocab, ...Object.fromEntries(SPECIALS.map((s, i) => [s, 1000 + i])) }, [])));
  const counts = new Map();
  for (const line of corpus) {
    const text = splitter.getNormalizer() ? splitter.getNormalizer().normalizeString(line) : line;
    for (const [piece] of splitter.getPreTokenizer().preTokenizeString(text)) counts.set(piece, (counts.get(piece) || 0) + 1);
  }
  const words = [...counts].map(([w, c]) => ({ symbols: Array.from(w), count: c }));
  const merges = [];
  while (Object.keys(vocab).length + (style.specialsFirst ? 0 : SPECIALS.length) < size) {
    const pairs = new Map();
    for (const w of words)
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const key = w.symbols[i] + '\u0000' + w.symbols[i + 1];
        pairs.set(key, (pairs.get(key) || 0) + w.count);
      }
    let best = null, bestCount = 0;
    for (const [key, c] of pairs) if (c > bestCount) { best = key; bestCount = c; }
    if (best === null) break;
    const [a, b] = best.split('\u0000');
    merges.push([a, b]);
    add(a + b);
    for (const w of words) {
      const out = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === a && w.symbols[i + 1] === b) { out.push(a + b); i++; } else out.push(w.symbols[i]);
      }
      w.symbols = out;
    }
  }
  if (!style.specialsFirst) SPECIALS.forEach(add);
  return spec(style, vocab, merges);
}

function byteFallback(file) {
  const model = JSON.parse(fs.readFileSync(file, 'utf8')).model;
  return model.byte_fallback === true;
}

function encodeAll(file, texts) {
  const tokenizer = Tokenizer.fromFile(file);
  return Promise.all(texts.map(t => tokenizer.encode(t, null, { addSpecialTokens: true }).then(e => e.getIds())));
}

function decodeAll(file, lists) {
  const tokenizer = Tokenizer.fromFile(file);
  const skip = byteFallback(file);
  return Promise.all(lists.map(ids => tokenizer.decode(ids, skip)));
}

function writeJson(file, value) {
  const text = JSON.stringify(value, null, 1).replace(/\[[-0-9.e,\s]*\]/g, m => JSON.stringify(JSON.parse(m)));
  fs.writeFileSync(file, text + '\n');
}

async function make(dir) {
  const data = path.join(process.env.EDGE_DATA || path.join(__dirname, '..', '..', '..', 'shared', 'data'), 'tinyshakespeare.txt');
  const corpus = fs.readFileSync(data, 'utf8').split('\n').map(l => l + '\n').concat(EXTRA.flatMap(l => Array(20).fill(l + '\n')));
  for (const [name, style] of Object.entries(STYLES)) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    writeJson(path.join(dir, name, 'tokenizer.json'), train(style, corpus, 1000));
  }
  const texts = JSON.parse(fs.readFileSync(path.join(dir, 'texts.json'), 'utf8'));
  const reference = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name, 'tokenizer.json');
    if (!fs.existsSync(file)) continue;
    const ids = await encodeAll(file, texts);
    reference[name] = { ids, decoded: await decodeAll(file, ids) };
  }
  writeJson(path.join(dir, 'huggingface.json'), reference);
}

async function main() {
  const [mode, target] = process.argv.slice(2);
  if (mode === 'make' && target) return make(target);
  if ((mode === 'encode' || mode === 'decode') && target) {
    const input = JSON.parse(fs.readFileSync(0, 'utf8'));
    const out = mode === 'encode' ? await encodeAll(target, input) : await decodeAll(target, input);
    process.stdout.write(JSON.stringify(out));
    return;
  }
  console.error('usage: hf_tokenizers_reference.js make DIR | encode FILE | decode FILE');
  process.exit(2);
}

main().catch(e => { console.error(e); process.exit(1); });
