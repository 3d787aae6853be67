// Reference tokenization with Hugging Face `tokenizers` (Rust, npm @anush008/tokenizers), for the live
// oracle test. usage: node oracle_tokenize.js TOKENIZER_JSON INPUT.jsonl OUTPUT.jsonl
// Input: one JSON string per line. Output: {"ids": [...], "tokens": [...]} per line, special tokens added,
// no truncation or padding.
'use strict';
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');

async function main() {
  const [tokenizerJson, input, output] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(tokenizerJson);
  tok.disablePadding();
  tok.disableTruncation();
  const lines = fs.readFileSync(input, 'utf8').split('\n').filter((l) => l.length > 0);
  const out = [];
  for (const line of lines) {
    const enc = await tok.encode(JSON.parse(line));
    out.push(JSON.stringify({ ids: Array.from(enc.getIds()), tokens: enc.getTokens() }));
  }
  fs.writeFileSync(output, out.join('\n') + '\n');
}
main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
