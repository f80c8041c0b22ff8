// GPT-2's encoder under Node.js, for the BPE exactness tests when Python lacks the `regex` module: the npm package
// gpt-3-encoder (OpenAI's encoder.py ported, with its own copy of GPT-2's vocab files) from the node_modules folder
// named by $EDGE_REFERENCE_NODE_MODULES (.ci/run installs it).
//   node gpt3_encoder_reference.js encode    JSON array of texts on stdin -> JSON array of id lists on stdout
//   node gpt3_encoder_reference.js classes   one letter per code point 0..0x10FFFF: s, L, N or o
// gpt-3-encoder's own regex uses JavaScript's \s (no U+0085, but U+FEFF) and its encode() concatenates arrays per
// piece (quadratic on long texts), so the text is split here with Python's \s (White_Space) and encoded piece by
// piece; <|endoftext|> is split out first and becomes 50256.
const path = require('path');
const mode = process.argv[2];
if (mode === 'encode') {
    const { encode } = require(path.join(process.env.EDGE_REFERENCE_NODE_MODULES, 'gpt-3-encoder'));
    const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;
    const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
    const out = texts.map(t => {
        const ids = [];
        t.split('<|endoftext|>').forEach((chunk, k) => {
            if (k > 0) ids.push(50256);
            for (const m of chunk.matchAll(pat)) for (const id of encode(m[0])) ids.push(id);
        });
        return ids;
    });
    process.stdout.write(JSON.stringify(out));
} else if (mode === 'classes') {
    const parts = [];
    for (let cp = 0; cp < 0x110000; cp++) {
        const c = String.fromCodePoint(cp);
        parts.push(/^\p{White_Space}$/u.test(c) ? 's' : /^\p{L}$/u.test(c) ? 'L' : /^\p{N}$/u.test(c) ? 'N' : 'o');
    }
    process.stdout.write(parts.join(''));
} else {
    process.stderr.write('usage: node gpt3_encoder_reference.js encode|classes\n');
    process.exit(2);
}
