// Writes expected.json beside each tokenizer fixture: the token ids and decoded text that transformers.js gives for
// a fixed list of strings. Run once, from a folder where `npm install @huggingface/transformers@4.3.1` was done:
//
//   node tests/Jamba.Tests/Fixtures/tokenizers/make_expected.mjs   (with NODE_PATH or a cwd that resolves the package)
//
// Nothing is downloaded: the tokenizers are read from the folders next to this script.
import { AutoTokenizer, env } from '@huggingface/transformers';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = here + '/';

// The special tokens written into text per fixture: {bos} {eos} {x} (another special token) and {unk}.
const specials = {
    mistral: { bos: '<s>', eos: '</s>', x: '<unk>', unk: '<unk>' },
    llama3: { bos: '<|begin_of_text|>', eos: '<|eot_id|>', x: '<|start_header_id|>', unk: '<|end_header_id|>' },
};

const fixed = [
    // ASCII
    '', 'a', 'A', 'Hello', 'Hello, world!', 'hello world', 'The quick brown fox jumps over the lazy dog.',
    "I'm here, you're there; it's fine. We'll see, they've gone, I'd go.", "DON'T SHOUT, IT'S LOUD", 'e.g. i.e. etc.',
    'a.b.c', 'Mr. Smith went to Washington.', 'What?!', '...', '?', '(parenthesised) [bracketed] {braced}',
    'snake_case camelCase PascalCase kebab-case', 'user@example.com', 'https://example.com/path?query=1&x=y#frag',
    'C:\\Windows\\System32', '~/.bashrc', '#hashtag @mention', '"double" \'single\' `back`', '$100 and 50%',
    'a-b--c---d----e', '-----', '=====', '*****', '_____', '!!!!!', 'lll', 'Helllo', 'aaaaaaaaaaaaaaaaaaaa',
    'abababababab', 'Mississippi', 'supercalifragilisticexpialidocious', 'antidisestablishmentarianism',
    // whitespace runs
    ' ', '  ', '   ', '    ', '        ', ' a', '  a', 'a ', 'a  ', 'a  b', 'a   b', 'a    b', 'a\tb', 'a\t\tb',
    '\t', '\n', '\n\n', '\r\n', 'a\nb', 'a\n\nb', 'a\n b', 'a \nb', 'a\n  b', ' \n ', '\t\n\r ', 'line1\nline2\nline3',
    '  leading', 'trailing  ', '  both  ', 'word  word', '\u00a0non-breaking\u00a0space', 'a\u2003em\u2009thin',
    'a\u3000b', '\u2581', '\u2581\u2581', 'a\u2581b', ' \u2581 ', '\u000b\u000c',
    // numbers
    '0', '1', '12', '123', '1234', '12345', '1234567890', '3.14159', '-42', '+7', '1,000,000', '1e10', '0x1F',
    '2024-01-15', '12:34:56', '10/20/30', '1st 2nd 3rd 4th', 'v1.2.3', '99 bottles', 'a1b2c3', '١٢٣', '½ ¾ ⅓',
    // Unicode
    'café', 'naïve résumé', 'Ångström', 'straße', 'Ελληνικά', 'Русский текст', 'Привет, мир!', 'עברית', 'العربية',
    'हिन्दी', 'ไทย', '日本語のテキスト', '中文文本', '你好，世界！', '한국어', 'Tiếng Việt', 'Türkçe ğüşöçı',
    'Łódź', 'Ærø', 'ﬁ ligature', 'e\u0301 combining', 'A\u030a', 'Ω ≈ ∑ ∫ √ ∞', '→ ← ↑ ↓', '©®™', '€£¥₹',
    '\u200b zero width', '\u200d', '\ufeffBOM', '\ufffd', 'ǅ', 'İstanbul', 'ΣΑΣ σας', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𝟙𝟚𝟛',
    '\u{10FFFD}', '\u{E0041}', 'a\u0000b', '\u0007bell',
    // emoji
    '😀', '😀😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷🇩🇪', '❤️', '☕ coffee', 'I ❤️ NY', '🤖 robot says hi 👋', '🦊🐟',
    'emoji🙂inside', ' 🎉 ', '⭐⭐⭐', '🏳️‍🌈',
    // code
    'def f(x):\n    return x * 2\n', 'for (int i = 0; i < n; i++) { sum += a[i]; }', 'if x == 1:\n\tpass',
    'const f = (a, b) => a + b;', '<div class="x">text</div>', '{"key": [1, 2, {"a": null}]}',
    'SELECT * FROM t WHERE id = 42;', '#include <stdio.h>\nint main() { return 0; }', 'x = y ** 2 // 3 % 4',
    'a != b && c >= d || !e', '    indented\n        more\n    less', '```python\nprint("hi")\n```',
    '// comment\n/* block */', 'λx.x', 'fn main() -> Result<(), Box<dyn Error>> {}', 'arr[i][j] += 1',
    '$ ls -la | grep foo > out.txt', '<?xml version="1.0"?>', 'https://x.y/z?a=b', 'git commit -m "msg"',
    // special tokens inside text
    '{bos}', '{eos}', '{bos}{eos}', '{bos}Hello', 'Hello{eos}', '{bos}Hello{eos}', 'Hello {eos} world', 'Hello{eos}world',
    ' {bos} ', '  {bos}  ', '{bos} Hello', '{bos}  Hello', 'a{x}b', 'a {x} b', '{x}{x}', '{x}\n{x}', '{unk}',
    'text {unk} text', 'user: hi{eos}assistant: hello{eos}', '{bos}{x}system{unk}\n\nBe nice.{eos}',
    '<s', 's>', '< s>', '<|', '|>', '<|begin_of_text', 'begin_of_text|>', '<<s>>', '<</s>>', '<|<|eot_id|>|>',
    '{eos}.', '.{eos}', '{bos}😀', '😀{eos}', '{bos}\n', '\n{eos}',
];

// Seeded random strings: a mix of every class above, so that unusual neighbours meet.
function mulberry32(seed) {
    return () => {
        seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
const alphabet = [...'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789     \t\n.,;:!?\'"-_()[]{}<>/\\|@#$%^&*+=~`éüßçøΩжд中文日本한😀👍🏽❤️\u2581'];
const random = mulberry32(20260103);
const randomStrings = [];
for (let i = 0; i < 60; i++) {
    const length = 1 + Math.floor(random() * 24);
    let s = '';
    for (let j = 0; j < length; j++) {
        const r = random();
        s += r < 0.05 ? '{bos}' : r < 0.08 ? '{eos}' : alphabet[Math.floor(random() * alphabet.length)];
    }
    randomStrings.push(s);
}

for (const name of Object.keys(specials)) {
    const tokenizer = await AutoTokenizer.from_pretrained(name);
    const fill = (s) => s.replaceAll(/\{(bos|eos|x|unk)\}/g, (_, k) => specials[name][k]);
    const cases = [...fixed, ...randomStrings].map(fill).map((text) => {
        const ids = tokenizer.encode(text, { add_special_tokens: false });
        const idsSpecial = tokenizer.encode(text, { add_special_tokens: true });
        const decode = (args) => (idsSpecial.length === 0 ? '' : tokenizer.decode(idsSpecial, args));
        return {
            text,
            ids,
            ids_special: idsSpecial,
            decoded: decode({}),
            decoded_skip: decode({ skip_special_tokens: true }),
            decoded_raw: decode({ skip_special_tokens: false, clean_up_tokenization_spaces: false }),
        };
    });
    const output = {
        provenance:
            'Generated by make_expected.mjs (beside this folder) with @huggingface/transformers 4.3.1 ' +
            '(AutoTokenizer.from_pretrained on the local tokenizer.json + tokenizer_config.json, no network): ' +
            'ids = encode(text, add_special_tokens=false); ids_special = encode(text) (add_special_tokens=true); ' +
            'decoded = decode(ids_special) with the defaults (special tokens kept, clean-up as configured); ' +
            'decoded_skip = decode(ids_special, skip_special_tokens=true); ' +
            'decoded_raw = decode(ids_special, skip_special_tokens=false, clean_up_tokenization_spaces=false).',
        cases,
    };
    writeFileSync(join(here, name, 'expected.json'), JSON.stringify(output, null, 1) + '\n');
    console.log(`${name}: ${cases.length} cases`);
}
