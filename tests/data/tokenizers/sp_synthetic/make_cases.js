// Generates cases.jsonl for the sentencepiece synthetic variants with Hugging Face tokenizers (Rust,
// npm @anush008/tokenizers 0.6.0). usage (repo root):
//   NODE_PATH=bench/peers/node_modules node tests/data/tokenizers/sp_synthetic/make_cases.js
// Each variant = a base tokenizer.json (sibling dir) with top-level fields replaced by "override";
// "unigram_from_spm" replaces the model by Unigram(vocab and scores of that spm.model, byte_fallback)
// and "$SPM_CHARSMAP" by its normalizer_spec.precompiled_charsmap (base64).
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('@anush008/tokenizers');
const here = __dirname;
const root = path.join(here, '..');

function varint(buf, st) {
  let v = 0, mul = 1;
  for (;;) { const b = buf[st.pos++]; v += (b & 0x7f) * mul; mul *= 128; if (!(b & 0x80)) return v; }
}
function readSpm(file) {
  const buf = fs.readFileSync(file);
  const st = { pos: 0 };
  const pieces = []; let charsmap = null;
  while (st.pos < buf.length) {
    const key = varint(buf, st), f = Math.floor(key / 8), w = key & 7;
    if (w === 0) { varint(buf, st); continue; }
    if (w === 5) { st.pos += 4; continue; }
    if (w === 1) { st.pos += 8; continue; }
    const n = varint(buf, st), sub = buf.subarray(st.pos, st.pos + n); st.pos += n;
    if (f === 1) {
      const s2 = { pos: 0 }; let piece = '', score = 0;
      while (s2.pos < sub.length) {
        const k = varint(sub, s2), ff = Math.floor(k / 8), ww = k & 7;
        if (ww === 2) { const m = varint(sub, s2); if (ff === 1) piece = sub.subarray(s2.pos, s2.pos + m).toString('utf8'); s2.pos += m; }
        else if (ww === 5) { if (ff === 2) score = sub.readFloatLE(s2.pos); s2.pos += 4; }
        else if (ww === 0) varint(sub, s2); else s2.pos += 8;
      }
      pieces.push([piece, score]);
    } else if (f === 3) {
      const s2 = { pos: 0 };
      while (s2.pos < sub.length) {
        const k = varint(sub, s2), ff = Math.floor(k / 8), ww = k & 7;
        if (ww === 2) { const m = varint(sub, s2); if (ff === 2) charsmap = Buffer.from(sub.subarray(s2.pos, s2.pos + m)).toString('base64'); s2.pos += m; }
        else if (ww === 0) varint(sub, s2); else if (ww === 5) s2.pos += 4; else s2.pos += 8;
      }
    }
  }
  return { pieces, charsmap };
}

async function main() {
  const variants = JSON.parse(fs.readFileSync(path.join(here, 'variants.json'), 'utf8'));
  // texts: the deberta-v3-xsmall corpus (single, pair, truncated records)
  const corpus = fs.readFileSync(path.join(root, 'deberta-v3-xsmall', 'cases.jsonl'), 'utf8').trim().split('\n').map(JSON.parse);
  const extra = ['', '   ', 'a', '  lead and trail  ', 'x[MASK]y', 'x [MASK] y', '[MASK]', '<unk> </s>', 'e\u0301\u0301', '\u{10FFFD}\u{E000}', 'a\u00a0 \u3000b'];
  const out = [];
  for (const [name, v] of Object.entries(variants)) {
    const j = JSON.parse(fs.readFileSync(path.join(root, v.base, 'tokenizer.json'), 'utf8'));
    let spm = null;
    if (v.unigram_from_spm) spm = readSpm(path.join(root, v.unigram_from_spm));
    let ov = JSON.stringify(v.override);
    if (spm) ov = ov.split('$SPM_CHARSMAP').join(spm.charsmap);
    Object.assign(j, JSON.parse(ov));
    if (spm) j.model = { type: 'Unigram', unk_id: 3, vocab: spm.pieces, byte_fallback: true };
    const tok = Tokenizer.fromString(JSON.stringify(j));
    tok.disablePadding();
    const items = [];
    extra.forEach((t, i) => items.push({ id: `x-${i}`, kind: 'single', text: t }));
    corpus.forEach((c, i) => { if (i % 4 === 0 || c.kind !== 'single') items.push({ id: c.id, kind: c.kind, text: c.text, text2: c.text2, truncation: c.truncation }); });
    for (const it of items) {
      if (it.truncation) tok.setTruncation(it.truncation.max_length, { strategy: 'LongestFirst', direction: 'right', stride: 0 });
      else tok.disableTruncation();
      const e = await tok.encode(it.text, it.text2 === undefined ? null : it.text2);
      const ids = Array.from(e.getIds());
      const rec = { variant: name, id: `${name}-${it.id}`, kind: it.kind, text: it.text };
      if (it.text2 !== undefined) rec.text2 = it.text2;
      Object.assign(rec, {
        add_special_tokens: true, truncation: it.truncation || null, ids, tokens: e.getTokens(),
        offsets: e.getOffsets(), type_ids: Array.from(e.getTypeIds()),
        special_tokens_mask: Array.from(e.getSpecialTokensMask()), sequence_ids: e.getSequenceIds(),
        decoded: await tok.decode(ids, false), decoded_skip_special: await tok.decode(ids, true),
      });
      out.push(JSON.stringify(rec));
    }
  }
  fs.writeFileSync(path.join(here, 'cases.jsonl'), out.join('\n') + '\n');
  console.log(`${out.length} records`);
}
main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
