// ONNX Runtime (npm onnxruntime-node) peer: throughput / latency on pre-tokenized ids.
// usage: node ort_bench.js --model M.onnx --ids F.ids.jsonl --threads N --batch B [--repeats R]
//        [--pad-id 0] [--precision fp32|int8] [--corpus NAME] [--dump-embeddings F.json --dump-count 64]
//        [--optimized-model F.onnx] [--spin 0|1]
// Batching as sentence-transformers: sort by length (longest first), cut into batches of B, pad each batch
// to its longest text. Tokenization is NOT timed (ids come from a file); tensors are built before the
// clock starts; each timed call is session.run on one batch (incl. pooling + normalize inside the graph).
// Prints one JSON line with the result.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2; };

function makeBatches(texts, B, padId) {
  const order = texts.map((t, i) => i).sort((a, b) => texts[b].length - texts[a].length || a - b);
  const batches = [];
  for (let s = 0; s < order.length; s += B) {
    const idx = order.slice(s, s + B);
    const L = Math.max(...idx.map((i) => texts[i].length));
    const ids = new BigInt64Array(idx.length * L).fill(BigInt(padId));
    const am = new BigInt64Array(idx.length * L);
    idx.forEach((ti, r) => texts[ti].forEach((id, c) => { ids[r * L + c] = BigInt(id); am[r * L + c] = 1n; }));
    batches.push({ idx, feeds: { input_ids: new ort.Tensor('int64', ids, [idx.length, L]), attention_mask: new ort.Tensor('int64', am, [idx.length, L]) } });
  }
  return batches;
}

async function main() {
  const model = arg('model'), idsFile = arg('ids');
  const threads = parseInt(arg('threads', '1')), B = parseInt(arg('batch', '32'));
  const repeats = parseInt(arg('repeats', '3')), padId = parseInt(arg('pad-id', '0'));
  const texts = fs.readFileSync(idsFile, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
  const tokens = texts.reduce((s, t) => s + t.length, 0);
  const opts = { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1,
                 graphOptimizationLevel: 'all', executionMode: 'sequential' };
  if (arg('optimized-model')) opts.optimizedModelFilePath = arg('optimized-model');
  // --spin 0: intra-op threads block instead of spinning between ops (ORT default: spin)
  if (arg('spin')) opts.extra = { session: { intra_op: { allow_spinning: arg('spin') } } };
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, opts);
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const batches = makeBatches(texts, B, padId);
  const padded = batches.reduce((s, b) => s + b.feeds.input_ids.dims[0] * b.feeds.input_ids.dims[1], 0);
  // warm-up: the longest and the shortest batch (allocator arenas, kernel selection)
  await session.run(batches[0].feeds);
  await session.run(batches[batches.length - 1].feeds);
  const passes = [], lat = [];
  for (let r = 0; r < repeats; r++) {
    const ps = process.hrtime.bigint();
    for (const b of batches) {
      const s = process.hrtime.bigint();
      await session.run(b.feeds);
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    passes.push(Number(process.hrtime.bigint() - ps) / 1e9);
  }
  const res = { system: 'onnxruntime', version: ort.env.versions.common, precision: arg('precision', 'fp32'),
    threads, spin: arg('spin', 'default'), batch: B, corpus: arg('corpus', idsFile), texts: texts.length, tokens, padded_tokens: padded,
    repeats, pass_s: passes, texts_per_s: texts.length / median(passes), texts_per_s_best: texts.length / Math.min(...passes),
    tokens_per_s: tokens / median(passes), tokens_per_s_best: tokens / Math.min(...passes),
    latency_ms_median: median(lat), latency_ms_min: Math.min(...lat), load_ms: loadMs,
    note: 'tokenization not timed; ids pre-tokenized by HF tokenizers' };
  const dump = arg('dump-embeddings');
  if (dump) {
    const n = Math.min(parseInt(arg('dump-count', '64')), texts.length);
    const emb = [];
    for (let i = 0; i < n; i++) {
      const [b] = makeBatches([texts[i]], 1, padId);
      const out = await session.run(b.feeds);
      emb.push(Array.from(out.sentence_embedding.data));
    }
    fs.writeFileSync(dump, JSON.stringify(emb));
  }
  console.log(JSON.stringify(res));
}
main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
