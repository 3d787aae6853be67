// Token ids for the peers with Hugging Face `tokenizers` (Rust, npm @anush008/tokenizers): the reference
// tokenizer, so ONNX Runtime and PyTorch see exactly the ids sentence-transformers would give them.
// usage: node tokenize.js MODEL_DIR INPUT.txt OUTPUT.ids.jsonl
//   one line per input line: [id, id, ...]; input lines are stripped (as sentence-transformers does),
//   truncated at sentence_bert_config.json's max_seq_length (the padding/truncation stored in tokenizer.json
//   are ignored, as sentence-transformers does).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('@anush008/tokenizers');

async function main() {
  const [modelDir, input, output] = process.argv.slice(2);
  if (!output) { console.error('usage: node tokenize.js MODEL_DIR INPUT.txt OUTPUT.ids.jsonl'); process.exit(2); }
  let maxLen = 512;
  const sb = path.join(modelDir, 'sentence_bert_config.json');
  if (fs.existsSync(sb)) maxLen = JSON.parse(fs.readFileSync(sb, 'utf8')).max_seq_length || maxLen;
  const tok = Tokenizer.fromFile(path.join(modelDir, 'tokenizer.json'));
  tok.disablePadding();
  tok.setTruncation(maxLen);
  const lines = fs.readFileSync(input, 'utf8').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const out = [];
  for (const line of lines) {
    const enc = await tok.encode(line.trim());
    out.push(JSON.stringify(Array.from(enc.getIds())));
  }
  fs.writeFileSync(output, out.join('\n') + '\n');
}
main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
