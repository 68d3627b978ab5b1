// Checks the shipped tokenizer.json with Hugging Face's transformers.js: the ids of the 370 fixture strings must be
// SentencePiece's (tests/Jamba.Tests/Fixtures/tiny-stories-spm/expected.json). Nothing is downloaded at run time.
//
//   npm install @huggingface/transformers@4.3.1          (in a scratch folder)
//   mkdir models && ln -s REPO/models/jamba-tiny-stories models/shipped
//   cp REPO/models/jamba-tiny-stories/recipe/check_transformers_js.mjs . && node check_transformers_js.mjs REPO
// (copied: Node resolves the package from the script's folder)
import { AutoTokenizer, env } from '@huggingface/transformers';
import { readFileSync } from 'node:fs';

const repo = process.argv[2] ?? '.';
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = process.cwd() + '/models/';
const tok = await AutoTokenizer.from_pretrained('shipped');
const expected = JSON.parse(readFileSync(`${repo}/tests/Jamba.Tests/Fixtures/tiny-stories-spm/expected.json`, 'utf8'));
let bad = 0;
for (const c of expected.cases) {
    const ids = tok.encode(c.text, { add_special_tokens: false });
    if (JSON.stringify(ids) !== JSON.stringify(c.ids)) {
        bad++;
        console.log('DIFF', JSON.stringify(c.text), JSON.stringify(ids), JSON.stringify(c.ids));
    }
}
console.log(`${expected.cases.length - bad}/${expected.cases.length} strings give SentencePiece's ids`);
const prompt = '<|bom|><|user|>What does the blue cat have?<|eom|><|bom|><|assistant|>';
console.log('chat prompt ids', JSON.stringify(tok.encode(prompt, { add_special_tokens: false })));
process.exit(bad === 0 ? 0 : 1);
