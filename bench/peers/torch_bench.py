"""PyTorch peer (Debian python3-torch, eager, fp32): throughput / latency on pre-tokenized ids.

  python3 torch_bench.py --model MODEL_DIR --ids F.ids.jsonl --threads N --batch B [--repeats R]
                         [--corpus NAME] [--dump-embeddings F.json --dump-count 64]

The model is torch_bert.SentenceModel (HF BertModel / MPNetModel + pooling + normalize, checked against the
fixtures). Batching as sentence-transformers: sort by length (longest first), batches of B, each padded to its
longest text. Tokenization is not timed (ids from a file); tensors are built before the clock starts.
Prints one JSON line.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import SentenceModel  # noqa: E402


def blas_in_use():
    try:
        libs = {l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower()}
        return sorted(os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p) for p in libs)
    except OSError:
        return []


def batches_of(texts, B, pad_id):
    order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
    out = []
    for s in range(0, len(order), B):
        idx = order[s:s + B]
        L = max(len(texts[i]) for i in idx)
        ids = torch.full((len(idx), L), pad_id, dtype=torch.long)
        am = torch.zeros((len(idx), L), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, :len(texts[i])] = torch.tensor(texts[i])
            am[r, :len(texts[i])] = 1
        out.append((ids, am))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--dump-embeddings")
    ap.add_argument("--dump-count", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    texts = [json.loads(l) for l in open(a.ids) if l.strip()]
    tokens = sum(len(t) for t in texts)
    t0 = time.perf_counter()
    m = SentenceModel(a.model)
    load_ms = (time.perf_counter() - t0) * 1e3
    pad_id = 1 if m.model_type == "mpnet" else 0
    bs = batches_of(texts, a.batch, pad_id)
    padded = sum(ids.numel() for ids, _ in bs)
    passes, lat = [], []
    with torch.inference_mode():
        m(*bs[0])
        m(*bs[-1])
        for _ in range(a.repeats):
            ps = time.perf_counter()
            for ids, am in bs:
                s = time.perf_counter()
                m(ids, am)
                lat.append((time.perf_counter() - s) * 1e3)
            passes.append(time.perf_counter() - ps)
        if a.dump_embeddings:
            emb = [m(*batches_of([t], 1, pad_id)[0])[0].tolist() for t in texts[:a.dump_count]]
            json.dump(emb, open(a.dump_embeddings, "w"))
    med = statistics.median(passes)
    res = dict(system="pytorch", version=torch.__version__, precision="fp32", threads=a.threads, batch=a.batch,
               corpus=a.corpus or a.ids, texts=len(texts), tokens=tokens, padded_tokens=padded, repeats=a.repeats,
               pass_s=passes, texts_per_s=len(texts) / med, texts_per_s_best=len(texts) / min(passes),
               tokens_per_s=tokens / med, tokens_per_s_best=tokens / min(passes),
               latency_ms_median=statistics.median(lat), latency_ms_min=min(lat), load_ms=load_ms,
               blas=blas_in_use(), openblas_coretype=os.environ.get("OPENBLAS_CORETYPE"),
               malloc_mmap_max=os.environ.get("MALLOC_MMAP_MAX_"),
               note="tokenization not timed; ids pre-tokenized by HF tokenizers")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
