"""Runs the peer benchmark matrix and prints the table (called by bench/run_bench.sh; stdlib only).

For each model shape and each row (corpus x threads x batch), every system runs on the SAME texts
(a fixed subset file, the same for all systems of the row):
  embed        build/embed bench --model --threads --precision fp32|bf16|int8 --batch-size --corpus --format jsonl
               (end to end: tokenize + encode + pool + normalize, as `embed bench` reports it)
  onnxruntime  node bench/peers/ort_bench.js (fp32, and dynamic int8 when its export exists)
  pytorch      bench/peers/torch_bench.py (Debian torch, eager fp32)
The peers get token ids from HF tokenizers (npm @anush008/tokenizers), precomputed: their tokenization is
NOT timed. Each run is a separate process; a failing system is reported and skipped, never fatal.
Configuration comes from the environment (see bench/README.md).
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PEERS = os.path.join(ROOT, "bench", "peers")
WORK = os.environ.get("BENCH_WORK", os.path.join(ROOT, "bench", "work"))
SHARED_BENCH = os.environ.get("BENCH_INPUTS", os.path.join(ROOT, "..", "shared", "bench"))
PY = os.environ.get("BENCH_PYTHON", "/usr/bin/python3")
CLI = os.environ.get("BENCH_CLI", os.path.join(ROOT, "build", "embed"))
TIMEOUT = int(os.environ.get("BENCH_RUN_TIMEOUT", "900"))
LOG = os.path.join(WORK, "logs")


def env_list(name, default):
    return [x for x in os.environ.get(name, default).replace(",", " ").split() if x]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ["?"] * 3


# ---------------------------------------------------------------- inputs
def subset(corpus, n, tag):
    """First n lines of ../shared/bench/<corpus>.txt -> WORK/inputs/<corpus>.<tag>.txt (same for all systems)."""
    src = os.path.join(SHARED_BENCH, corpus + ".txt")
    lines = [l.rstrip("\n") for l in open(src, encoding="utf-8")]
    lines = [l for l in lines if l.strip()][:n]
    os.makedirs(os.path.join(WORK, "inputs"), exist_ok=True)
    path = os.path.join(WORK, "inputs", f"{corpus}.{tag}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def tokenize(model_dir, txt):
    out = txt[:-4] + "." + os.path.basename(model_dir) + ".ids.jsonl"
    r = subprocess.run(["node", os.path.join(PEERS, "tokenize.js"), model_dir, txt, out], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("tokenize.js failed: " + r.stderr.strip()[-400:])
    ids = [json.loads(l) for l in open(out) if l.strip()]
    return out, ids


def check_embed_tokenizer(model_dir, txt, ref_ids):
    """Our CLI's ids vs HF tokenizers' on the same texts (informational)."""
    if not os.access(CLI, os.X_OK):
        return "embed CLI not built"
    try:
        r = subprocess.run([CLI, "tokenize", "-m", model_dir], stdin=open(txt), capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "embed tokenize timed out"
    if r.returncode != 0:
        return f"embed tokenize failed (rc {r.returncode}): {r.stderr.strip()[-200:]}"
    got = []
    for l in r.stdout.splitlines():
        try:
            got.append(json.loads(l)["ids"])
        except (ValueError, KeyError, TypeError):
            return "embed tokenize output not parseable (" + l[:80] + ")"
    if len(got) != len(ref_ids):
        return f"embed tokenize gave {len(got)} lines for {len(ref_ids)} texts"
    bad = sum(1 for a, b in zip(got, ref_ids) if a != b)
    return f"embed tokenize vs HF tokenizers: {len(ref_ids) - bad}/{len(ref_ids)} texts identical ids"


# ---------------------------------------------------------------- systems
def run_logged(cmd, env, tag):
    """Runs cmd, writes its command line and output to LOG/<tag>.log; (stdout, None), or (None, why it failed)."""
    os.makedirs(LOG, exist_ok=True)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {TIMEOUT} s"
    with open(os.path.join(LOG, tag + ".log"), "w") as f:
        f.write(" ".join(cmd) + "\n--- stdout\n" + r.stdout + "\n--- stderr\n" + r.stderr)
    if r.returncode != 0:
        tail = [l for l in r.stderr.strip().splitlines() if l.strip()][-1:] or ["(no stderr)"]
        return None, f"exit {r.returncode}: {tail[0][:160]}"
    return r.stdout, None


def run_json(cmd, env=None, tag=""):
    t0 = time.time()
    out, err = run_logged(cmd, env, tag)
    if err:
        return None, err
    for line in reversed(out.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                d = json.loads(line)
                d["wall_s"] = time.time() - t0
                return d, None
            except ValueError:
                pass
    return None, "no JSON result line"


def torch_env(spin):
    env = dict(os.environ)
    ob = os.path.join(WORK, "openblas", "usr", "lib", "x86_64-linux-gnu", "openblas-openmp")
    if os.path.isdir(ob):
        env["LD_LIBRARY_PATH"] = ob + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    if OPENBLAS_CORETYPE:
        env["OPENBLAS_CORETYPE"] = OPENBLAS_CORETYPE
    env["MALLOC_MMAP_MAX_"] = "0"
    if spin == "0":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


def _coretype():
    """OpenBLAS 0.3.21 does not know this CPU: name its AVX-512 kernels (the machine's environment may say Haswell).
    BENCH_OPENBLAS_CORETYPE overrides; used for every system that links OpenBLAS (PyTorch, embed)."""
    if os.environ.get("BENCH_OPENBLAS_CORETYPE"):
        return os.environ["BENCH_OPENBLAS_CORETYPE"]
    flags = open("/proc/cpuinfo").read()
    if " avx512f" in flags:
        return "Cooperlake" if "avx512_bf16" in flags else "SkylakeX"
    return os.environ.get("OPENBLAS_CORETYPE")


OPENBLAS_CORETYPE = _coretype()


def engine_env():
    env = dict(os.environ)
    if OPENBLAS_CORETYPE:
        env["OPENBLAS_CORETYPE"] = OPENBLAS_CORETYPE
    return env


def parse_engine_output(text):
    """`embed bench --format jsonl`: the first JSON object with texts_per_s (one configuration per call)."""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if "texts_per_s" in d:
            keys = ("texts_per_s", "tokens_per_s", "latency_ms_median", "effective_gflops", "texts", "tokens",
                    "load_ms", "peak_rss_mb", "first_pass_texts_per_s")
            return {k: d[k] for k in keys if k in d}
    return {}


REPEATS = int(os.environ.get("BENCH_REPEATS", "2"))
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))
ROUND_KEYS = ("texts_per_s", "tokens_per_s", "latency_ms_median", "effective_gflops", "first_pass_texts_per_s")


def merge_rounds(rec, outs, ntok, ntexts):
    """One row's record from its rounds: the median round for throughput and latency, the best / lowest
    of all rounds for the best-pass fields; every round's numbers kept under "rounds"."""
    good = [d for d, _ in outs if d]
    errors = [e for _, e in outs if e]
    rec["error"] = None if good else (errors[0] if errors else "no result")
    if errors and good:
        rec["failed_rounds"] = errors
    rounds = []
    for d, _ in outs:
        if not d:
            rounds.append(None)
            continue
        r = {k: d[k] for k in ROUND_KEYS if d.get(k) is not None}
        if r.get("tokens_per_s") is None and r.get("texts_per_s") and ntok:
            r["tokens_per_s"] = r["texts_per_s"] * ntok / ntexts
        rounds.append(r)
    rec["rounds"] = rounds
    for k in ROUND_KEYS:
        vals = [r[k] for r in rounds if r and k in r]
        if vals:
            rec[k] = statistics.median(vals)
    for k, pick in (("texts_per_s_best", max), ("latency_ms_min", min), ("load_ms", min), ("peak_rss_mb", max),
                    ("padded_tokens", max)):
        vals = [d[k] for d in good if d.get(k) is not None]
        if vals:
            rec[k] = pick(vals)
    return rec


def paired_ratio(r, b, key):
    """r / b per round (the same round of both systems: measured minutes apart at most), median and range."""
    ratios = [x[key] / y[key] for x, y in zip(r.get("rounds") or [], b.get("rounds") or [])
              if x and y and x.get(key) and y.get(key)]
    if not ratios:
        return None
    return statistics.median(ratios), min(ratios), max(ratios)


def fmt_ratio(r, b, key, prefix=""):
    pr = paired_ratio(r, b, key)
    if pr is None:
        return None
    med, lo, hi = pr
    spread = f" ({lo:.2f}-{hi:.2f})" if len([x for x in r.get("rounds") or [] if x]) > 1 else ""
    return f"{prefix}{med:.2f}x{spread}"


def gemm_peaks(model_dir, threads_list):
    """embed bench --gemm-peak: this machine's oneDNN GEMM peak and multiply-add instruction peak per
    precision and thread count, and the kernels embed runs per precision."""
    peaks, ipeaks, lines, ilines, kernels = {}, {}, [], [], []
    one = subset("sentences", 1, "first1")
    for t in threads_list:
        cmd = [CLI, "bench", "--model", model_dir, "--threads", str(t), "--precision", "fp32,bf16,int8",
               "--batch-size", "32", "--corpus", one, "--repeat", "1", "--gemm-peak", "--format", "jsonl"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=engine_env())
        except subprocess.TimeoutExpired:
            lines.append(f"gemm peak threads={t}: timed out")
            continue
        for line in r.stdout.splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if "kernels" in d and t == threads_list[0]:
                kernels.append(f"{d['precision']}: {d['kernels']}")
            if "gemm_peak" in d:
                peaks[(d["threads"], d["precision"])] = d["gemm_peak"]
                lines.append(f"{d['precision']} threads={d['threads']}: {d['gemm_peak']:.1f} {d['unit']}")
            if "instruction_peak" in d:
                where = f"{d['precision']} threads={d['threads']}"
                if d["instruction_peak"] > 0:
                    ipeaks[(d["threads"], d["precision"])] = d["instruction_peak"]
                    ilines.append(f"{where}: {d['instruction_peak']:.1f} {d['unit']} ({d['instruction']})")
                else:
                    ilines.append(f"{where}: {d['instruction']}")
        if r.returncode != 0:
            lines.append(f"embed bench --gemm-peak threads={t}: exit {r.returncode}")
    return peaks, ipeaks, lines, ilines, kernels


def run_engine(model_dir, txt, threads, batch, precision, tag):
    cmd = [CLI, "bench", "--model", model_dir, "--threads", str(threads), "--precision", precision,
           "--batch-size", str(batch), "--corpus", txt, "--repeat", str(REPEATS), "--latency-texts", "100000",
           "--format", "jsonl"]
    out, err = run_logged(cmd, engine_env(), tag)
    if err:
        return None, err
    d = parse_engine_output(out)
    if "texts_per_s" not in d:
        return None, "no result line in `embed bench` output (see " + tag + ".log)"
    d.update(system="embed", precision=precision, threads=threads, batch=batch)
    return d, None


def peak_rss_mb(model_dir, corpus, batch):
    """Peak RSS in MB of `embed encode` (fp32, default threads) over `corpus` at `batch`; None if it failed."""
    with open(corpus, "rb") as stdin, open(os.devnull, "wb") as devnull:
        p = subprocess.Popen([CLI, "encode", "-m", model_dir, "--format", "npy", "--batch-size", str(batch)],
                             stdin=stdin, stdout=devnull, stderr=subprocess.DEVNULL, env=engine_env())
        _, status, usage = os.wait4(p.pid, 0)
    return usage.ru_maxrss / 1024.0 if status == 0 else None


def measure_rss(model_dir):
    """Peak RSS of encoding the whole sentences corpus vs the model file. The budget is 1.5x the file plus one
    batch's activations: batch 1 shows the first part (activations are tiny), batch 32 minus batch 1 the second."""
    corpus = os.path.join(SHARED_BENCH, "sentences.txt")
    weights = os.path.join(model_dir, "model.safetensors")
    if not (os.path.isfile(corpus) and os.path.isfile(weights)):
        return "peak RSS not measured (corpus or model.safetensors missing)"
    single, batched = peak_rss_mb(model_dir, corpus, 1), peak_rss_mb(model_dir, corpus, 32)
    if single is None or batched is None:
        return "peak RSS not measured (`embed encode` failed)"
    size = os.path.getsize(weights) / 2**20
    texts = sum(1 for _ in open(corpus, encoding="utf-8"))
    return (f"peak RSS of `embed encode` over sentences.txt ({texts} texts, fp32, default threads): batch 1 "
            f"{single:.0f} MB ({single / size:.2f}x model.safetensors, {size:.0f} MB); batch 32 {batched:.0f} MB "
            f"(+{batched - single:.0f} MB: one batch's activations and per-thread workspaces)")


# ---------------------------------------------------------------- accuracy
def cosines(a, b):
    out = []
    for x, y in zip(a, b):
        dot = sum(p * q for p, q in zip(x, y))
        nx = sum(p * p for p in x) ** 0.5
        ny = sum(q * q for q in y) ** 0.5
        out.append(dot / (nx * ny) if nx and ny else 0.0)
    return out


def embed_cli_embeddings(model_dir, txt, n, precision, batch=32):
    if not os.access(CLI, os.X_OK):
        return None, "embed CLI not built"
    lines = open(txt, encoding="utf-8").read().splitlines()[:n]
    try:
        r = subprocess.run([CLI, "encode", "-m", model_dir, "--format", "jsonl", "--precision", precision,
                            "--batch-size", str(batch)],
                           input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=600, env=engine_env())
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if r.returncode != 0:
        return None, f"exit {r.returncode}: {r.stderr.strip()[-160:]}"
    embs = {}
    for l in r.stdout.splitlines():
        try:
            d = json.loads(l)
            embs[d["index"]] = d["embedding"]
        except (ValueError, KeyError, TypeError):
            return None, "output not parseable: " + l[:80]
    if len(embs) != len(lines):
        return None, f"{len(embs)} embeddings for {len(lines)} texts"
    return [embs[i] for i in range(len(lines))], None


# ---------------------------------------------------------------- table
# Issue 5's targets, as (what, model, corpus, batch, threads, precision, baseline precision, wanted ratio).
# Throughput rows: embed texts/s ÷ the ONNX Runtime baseline's, at least `wanted`; batch-1 rows: embed
# latency ÷ the baseline's, at most `wanted`.
TARGETS = [
    ("fp32, sentences", "minilm-l6", "sentences", 32, 1, "fp32", "fp32", 1.5),
    ("fp32, sentences", "minilm-l6", "sentences", 32, 2, "fp32", "fp32", 1.6),
    ("fp32, passages", "minilm-l6", "passages", 32, 1, "fp32", "fp32", 1.3),
    ("fp32, passages", "minilm-l6", "passages", 32, 2, "fp32", "fp32", 1.3),
    ("bf16 vs ORT fp32", "minilm-l6", "sentences", 32, 1, "bf16", "fp32", 3.0),
    ("bf16 vs ORT fp32", "minilm-l6", "sentences", 32, 2, "bf16", "fp32", 3.0),
    ("int8 vs ORT fp32", "minilm-l6", "sentences", 32, 1, "int8", "fp32", 4.0),
    ("int8 vs ORT fp32", "minilm-l6", "sentences", 32, 2, "int8", "fp32", 4.0),
    ("int8 vs ORT int8", "minilm-l6", "sentences", 32, 1, "int8", "int8", 1.7),
    ("int8 vs ORT int8", "minilm-l6", "sentences", 32, 2, "int8", "int8", 1.7),
    ("batch-1 latency fp32", "minilm-l6", "sentences", 1, 1, "fp32", "fp32", 0.6),
    ("batch-1 latency fp32", "minilm-l6", "sentences", 1, 2, "fp32", "fp32", 0.6),
    ("batch-1 latency int8 vs ORT int8", "minilm-l6", "sentences", 1, 1, "int8", "int8", 0.7),
    ("batch-1 latency int8 vs ORT int8", "minilm-l6", "sentences", 1, 2, "int8", "int8", 0.7),
    ("base shape fp32, sentences", "mpnet-base", "sentences", 32, 1, "fp32", "fp32", 1.5),
    ("base shape fp32, sentences", "mpnet-base", "sentences", 32, 2, "fp32", "fp32", 1.5),
    ("base shape fp32, sentences", "bert-base", "sentences", 32, 1, "fp32", "fp32", 1.5),
    ("base shape fp32, sentences", "bert-base", "sentences", 32, 2, "fp32", "fp32", 1.5),
]


def needed_share(e, b, wanted, peaks, ipeaks):
    """For a throughput target: the effective GFLOP/s embed's row would need to reach `wanted` times the
    peer's median speed, as a share of this run's GEMM / instruction peak ("-" where not measured): a
    target that needs 100 % or more of a peak is beyond this machine, however good the code."""
    if not e.get("effective_gflops") or not e.get("texts_per_s") or not b.get("texts_per_s"):
        return "-"
    need = e["effective_gflops"] * wanted * b["texts_per_s"] / e["texts_per_s"]
    key = (e["threads"], e["precision"])
    shares = [f"{need / p:.0%}" if p else "-" for p in (peaks.get(key), ipeaks.get(key))]
    return f"{need:.0f} ({' / '.join(shares)})"


def targets_table(results, peaks, ipeaks):
    """The issue's targets against this run: the median per-round ratio, its range, whether the median
    meets the target (rows this run did not measure are left out), and for throughput targets what
    meeting them needs of the machine (needed_share)."""
    find = {(r["model"], r["corpus"], r["batch"], r["threads"], r["system"], r["precision"]): r
            for r in results if not r["error"]}
    lines = ["## Targets (issue 5), this run", "",
             "| target | model | threads | wanted | measured (median of rounds, range) | met | "
             "needs embed GFLOP/s (of GEMM / instruction peak) |", "|---|---|---|---|---|---|---|"]
    for what, model, corpus, batch, threads, prec, base_prec, wanted in TARGETS:
        e = find.get((model, corpus, batch, threads, "embed", prec))
        b = find.get((model, corpus, batch, threads, "onnxruntime", base_prec))
        if not e or not b:
            continue
        key = "latency_ms_median" if batch == 1 else "texts_per_s"
        pr = paired_ratio(e, b, key)
        if pr is None:
            continue
        med, lo, hi = pr
        met = med <= wanted if batch == 1 else med >= wanted
        sign = "<=" if batch == 1 else ">="
        needs = "-" if batch == 1 else needed_share(e, b, wanted, peaks, ipeaks)
        lines.append(f"| {what} | {model} | {threads} | {sign} {wanted:g}x | {med:.2f}x ({lo:.2f}-{hi:.2f}) | "
                     f"{'yes' if met else 'no'} | {needs} |")
    return lines if len(lines) > 4 else []


def fmt(v, nd=0):
    if v is None:
        return "-"
    if nd == 0:
        return f"{v:,.0f}"
    return f"{v:,.{nd}f}"


def main():
    models = env_list("BENCH_MODELS", "minilm-l6 mpnet-base")
    threads_list = [int(t) for t in env_list("BENCH_THREADS", "1 2")]
    spin = os.environ.get("BENCH_SPIN", "auto")
    la = loadavg()
    ncpu = os.cpu_count() or 1
    if spin == "auto":
        spin = "0" if float(la[0]) > 0.5 * ncpu else "default"
    repeats = REPEATS
    engine_precisions = env_list("BENCH_EMBED_PRECISIONS", "fp32 bf16 int8")
    have = {
        "ort": os.path.isdir(os.path.join(PEERS, "node_modules", "onnxruntime-node")),
        "torch": subprocess.run([PY, "-c", "import torch"], capture_output=True).returncode == 0,
        "engine": os.access(CLI, os.X_OK),
    }
    skipped = []
    if not have["engine"]:
        skipped.append(f"embed: {os.path.relpath(CLI, ROOT)} not built (see bench/work/build.log): embed rows skipped")
    if not have["ort"]:
        skipped.append("onnxruntime: npm onnxruntime-node not installed: ORT rows skipped")
    if not have["torch"]:
        skipped.append("pytorch: python3-torch not importable: PyTorch rows (and ONNX export) skipped")

    # per model: subset sizes (texts) for sentences / passages at batch 32, and the batch-1 texts
    sizes = {
        "minilm-l6": (int(os.environ.get("BENCH_SENTENCES", "128")), int(os.environ.get("BENCH_PASSAGES", "16")),
                      int(os.environ.get("BENCH_LATENCY_TEXTS", "32"))),
        "mpnet-base": (int(os.environ.get("BENCH_SENTENCES_BASE", "32")), int(os.environ.get("BENCH_PASSAGES_BASE", "4")),
                       int(os.environ.get("BENCH_LATENCY_TEXTS_BASE", "8"))),
    }
    results, notes = [], []
    t_start = time.time()
    peaks, ipeaks = {}, {}
    if have["engine"] and os.environ.get("BENCH_GEMM_PEAK", "1") != "0":
        first = next((os.path.join(WORK, m) for m in models if os.path.isfile(os.path.join(WORK, m, "config.json"))), None)
        if first:
            log("measuring the GEMM peak (embed bench --gemm-peak)")
            peaks, ipeaks, plines, ilines, kernels = gemm_peaks(first, threads_list)
            notes.append("this machine's GEMM peak (oneDNN, 2048^3, embed bench --gemm-peak): " + "; ".join(plines))
            notes.append("the core's multiply-add instruction peak (a loop of it on sums in registers: no GEMM exceeds it): "
                         + "; ".join(ilines))
            notes.append("embed's kernels here (embed bench): " + "; ".join(kernels))
    for model in models:
        mdir = os.path.join(WORK, model)
        if not os.path.isfile(os.path.join(mdir, "config.json")):
            skipped.append(f"{model}: model directory missing ({mdir}): skipped")
            continue
        cfg = json.load(open(os.path.join(mdir, "config.json")))
        pad_id = cfg.get("pad_token_id", 0) if cfg["model_type"] == "mpnet" else 0
        n_sent, n_pass, n_lat = sizes.get(model, sizes["mpnet-base"])
        rows = [("sentences", n_sent, 32), ("passages", n_pass, 32), ("sentences", n_lat, 1)]
        onnx32 = os.path.join(mdir, "model.onnx")
        onnx8 = os.path.join(mdir, "model.int8.onnx")
        for corpus, n, batch in rows:
            txt = subset(corpus, n, f"first{n}")
            try:
                ids_file, ids = tokenize(mdir, txt)
            except Exception as e:  # noqa: BLE001
                skipped.append(f"{model} {corpus}: tokenization for the peers failed ({e}): peers skipped")
                ids_file, ids = None, None
            if ids is not None and batch == 32 and corpus == "sentences":
                notes.append(f"{model}: " + check_embed_tokenizer(mdir, txt, ids))
            ntok = sum(len(t) for t in ids) if ids else None
            for threads in threads_list:
                row = dict(model=model, corpus=corpus, texts=n, tokens=ntok, batch=batch, threads=threads)
                tag = f"{model}.{corpus}{n}.b{batch}.t{threads}"
                log(f"[{time.time() - t_start:6.0f}s] {tag} (load {' '.join(loadavg())})")
                runs = []
                if have["engine"]:
                    for p in engine_precisions:
                        runs.append(("embed", p, lambda sfx, p=p: run_engine(mdir, txt, threads, batch, p, tag + f".embed.{p}{sfx}")))
                if have["ort"] and ids_file:
                    common = ["--ids", ids_file, "--threads", str(threads), "--batch", str(batch), "--repeats", str(repeats),
                              "--pad-id", str(pad_id), "--corpus", corpus]
                    if spin != "default":
                        common += ["--spin", spin]
                    if os.path.isfile(onnx32):
                        runs.append(("onnxruntime", "fp32", lambda sfx, c=common: run_json(
                            ["node", os.path.join(PEERS, "ort_bench.js"), "--model", onnx32, "--precision", "fp32"] + c, tag=tag + ".ort.fp32" + sfx)))
                    if os.path.isfile(onnx8):
                        runs.append(("onnxruntime", "int8", lambda sfx, c=common: run_json(
                            ["node", os.path.join(PEERS, "ort_bench.js"), "--model", onnx8, "--precision", "int8"] + c, tag=tag + ".ort.int8" + sfx)))
                if have["torch"] and ids_file:
                    runs.append(("pytorch", "fp32", lambda sfx: run_json(
                        [PY, os.path.join(PEERS, "torch_bench.py"), "--model", mdir, "--ids", ids_file, "--threads", str(threads),
                         "--batch", str(batch), "--repeats", str(repeats), "--corpus", corpus], env=torch_env(spin), tag=tag + ".torch.fp32" + sfx)))
                # Rounds: every system of the row runs once per round, the order reversed every other round,
                # so that load drifting over the row's minutes reaches all systems alike (ratios are per round).
                outcomes = [[] for _ in runs]
                for rnd in range(ROUNDS):
                    order = list(range(len(runs)))
                    if rnd % 2:
                        order.reverse()
                    for i in order:
                        system, prec, fn = runs[i]
                        d, err = fn(f".r{rnd + 1}" if ROUNDS > 1 else "")
                        outcomes[i].append((d, err))
                        log(f"    {system:11s} {prec:5s} " + (err or f"{d.get('texts_per_s', 0):9.1f} texts/s  "
                                                                 f"{d.get('tokens_per_s') or 0:9.0f} tok/s  "
                                                                 f"lat {d.get('latency_ms_median') or 0:8.2f} ms")
                            + (f"  (round {rnd + 1})" if ROUNDS > 1 else ""))
                for (system, prec, _), outs in zip(runs, outcomes):
                    rec = merge_rounds(dict(row, system=system, precision=prec), outs, ntok, n)
                    results.append(rec)
        # accuracy on the first sentences (64; 16 for base shapes): everything vs PyTorch fp32 (the reference function)
        n_acc = 64 if model == "minilm-l6" else 16
        if have["torch"] and ids is not None:
            txt = subset("sentences", n_acc, f"first{n_acc}")
            ids_file, ids = tokenize(mdir, txt)
            dumps = {}
            d, err = run_json([PY, os.path.join(PEERS, "torch_bench.py"), "--model", mdir, "--ids", ids_file, "--threads", "1",
                               "--batch", "32", "--repeats", "1", "--dump-count", str(n_acc),
                               "--dump-embeddings", os.path.join(WORK, f"{model}.emb.torch.json")],
                              env=torch_env(spin), tag=f"{model}.acc.torch")
            if d:
                ref = json.load(open(os.path.join(WORK, f"{model}.emb.torch.json")))
                for prec, path in (("fp32", onnx32), ("int8", onnx8)):
                    if have["ort"] and os.path.isfile(path):
                        out = os.path.join(WORK, f"{model}.emb.ort.{prec}.json")
                        d2, err2 = run_json(["node", os.path.join(PEERS, "ort_bench.js"), "--model", path, "--ids", ids_file,
                                             "--threads", "1", "--batch", "32", "--repeats", "1", "--pad-id", str(pad_id),
                                             "--dump-count", str(n_acc), "--dump-embeddings", out], tag=f"{model}.acc.ort.{prec}")
                        if d2:
                            c = cosines(ref, json.load(open(out)))
                            notes.append(f"{model}: onnxruntime {prec} vs PyTorch fp32 sentence embeddings, {n_acc} texts: min cosine {min(c):.6f}")
                # fp32 also at batch 1: a short text alone takes the small-rows GEMM kernel, not oneDNN's.
                for prec, batch in [(p, 32) for p in engine_precisions] + [("fp32", 1)]:
                    e, err3 = embed_cli_embeddings(mdir, txt, n_acc, prec, batch)
                    what = f"embed {prec}" + (" batch 1" if batch == 1 else "")
                    if e:
                        c = cosines(ref, e)
                        mx = max(max(abs(p - q) for p, q in zip(x, y)) for x, y in zip(ref, e))
                        notes.append(f"{model}: {what} (CLI, end to end, own tokenizer) vs PyTorch fp32, {n_acc} texts: "
                                     f"min cosine {min(c):.6f}, max abs diff {mx:.2e}")
                    else:
                        notes.append(f"{model}: {what} accuracy not measured ({err3})")
    la_end = loadavg()

    # ---- the table
    out = []
    P = out.append
    P(f"# embed peer benchmark  ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    P("")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    P(f"machine: {cpu}, {ncpu} CPUs; load average at start {' '.join(la)}, at end {' '.join(la_end)} "
      f"(other processes share these cores: compare ratios, not absolute numbers)")
    P(f"thread spinning: {'off (ORT allow_spinning=0, OMP_WAIT_POLICY=PASSIVE) because the machine was loaded' if spin == '0' else 'library defaults'}; "
      f"{ROUNDS} rounds of {repeats} passes per system, the systems of a row alternating round by round (median round shown, "
      f"every round in the JSON; ratios: median of the per-round ratios, their range in brackets); OPENBLAS_CORETYPE={OPENBLAS_CORETYPE} for PyTorch and embed; "
      f"PyTorch: OpenBLAS (OpenMP build) first on LD_LIBRARY_PATH, MALLOC_MMAP_MAX_=0")
    P("peers: token ids precomputed by HF tokenizers, tokenization NOT timed; batches sorted by length and padded to the "
      "batch's longest (sentence-transformers); pooling + normalize inside the timed call. embed: end to end "
      "(tokenize + encode + pool + normalize) as `embed bench` reports it"
      ". tokens = non-padding tokens. Latency: per call (batch 32 rows: one batch).")
    P("")
    P("| model | corpus (texts, tokens) | batch | threads | system | precision | texts/s | tokens/s | median latency ms | vs ORT fp32 | embed GFLOP/s (of GEMM / instruction peak) |")
    P("|---|---|---|---|---|---|---|---|---|---|---|")
    key = lambda r: (r["model"], r["corpus"], r["batch"], r["threads"])
    base = {key(r): r for r in results if r["system"] == "onnxruntime" and r["precision"] == "fp32" and not r["error"]}
    base8 = {key(r): r for r in results if r["system"] == "onnxruntime" and r["precision"] == "int8" and not r["error"]}
    for r in results:
        if r["error"]:
            P(f"| {r['model']} | {r['corpus']} ({r['texts']}, {fmt(r['tokens'])}) | {r['batch']} | {r['threads']} | {r['system']} | "
              f"{r['precision']} | failed: {r['error']} | | | | |")
            continue
        b = base.get(key(r))
        ratio = "-"
        if b and r is not b:
            per = "latency_ms_median" if r["batch"] == 1 else "texts_per_s"
            ratio = fmt_ratio(r, b, per, "latency " if r["batch"] == 1 else "") or "-"
            if r["system"].startswith("embed") and r["precision"] == "int8" and key(r) in base8:
                r8 = fmt_ratio(r, base8[key(r)], per, "latency " if r["batch"] == 1 else "")
                if r8:
                    ratio += f" (vs ORT int8: {r8})"
        eff = "-"
        if r.get("effective_gflops") is not None:
            eff = f"{r['effective_gflops']:.1f}"
            shares = [f"{r['effective_gflops'] / p:.0%}" if p else "-"
                      for p in (peaks.get((r["threads"], r["precision"])), ipeaks.get((r["threads"], r["precision"])))]
            if shares != ["-", "-"]:
                eff += f" ({' / '.join(shares)})"
        P(f"| {r['model']} | {r['corpus']} ({r['texts']}, {fmt(r['tokens'])}) | {r['batch']} | {r['threads']} | {r['system']} | "
          f"{r['precision']} | {fmt(r.get('texts_per_s'), 1)} | {fmt(r.get('tokens_per_s'))} | {fmt(r.get('latency_ms_median'), 2)} | {ratio} | {eff} |")
    P("")
    over = [r for r in results if r.get("effective_gflops") and peaks.get((r["threads"], r["precision"]))
            and r["effective_gflops"] > peaks[(r["threads"], r["precision"])]]
    if over:
        notes.append(f"{len(over)} embed rows show more than 100 % of the GEMM peak: the peak was measured once, at the start, "
                     "under that moment's load (and embed's effective GFLOP/s counts the linear layers' FLOPs from `embed bench`'s "
                     "formula); on a shared machine read the fraction as a rough guide only")
    for model in models:
        # embed's warm-up pass creates the GEMM kernels of each new batch shape: what a one-off encode sees
        first = {}
        for r in results:
            if r["model"] == model and r["system"] == "embed" and r.get("first_pass_texts_per_s") and r.get("texts_per_s"):
                first.setdefault(r["precision"], []).append(r["first_pass_texts_per_s"] / r["texts_per_s"])
        if first:
            notes.append(f"{model}: embed first pass (a one-off encode: GEMM kernels created for each new batch shape) "
                         "vs its steady state, batch-32 rows: " +
                         ", ".join(f"{p} {min(v):.2f}-{max(v):.2f}x" for p, v in sorted(first.items())))
        loads = [r["load_ms"] for r in results if r["model"] == model and r["system"] == "embed" and r.get("load_ms")]
        if loads:
            notes.append(f"{model}: embed model load (ready to encode, page cache warm), fastest of {len(loads)} loads: {min(loads):.0f} ms")
        if have["engine"] and os.environ.get("BENCH_RSS", "1") != "0":
            notes.append(f"{model}: " + measure_rss(os.path.join(WORK, model)))
    for n in notes:
        P("- " + n)
    for s in skipped:
        P("- SKIPPED " + s)
    P(f"- total time {time.time() - t_start:.0f} s; raw results: {os.path.relpath(WORK, ROOT)}/results.jsonl, logs: {os.path.relpath(LOG, ROOT)}/")
    targets = targets_table(results, peaks, ipeaks)
    if targets:
        P("")
        out.extend(targets)
    text = "\n".join(out)
    print(text)
    with open(os.path.join(WORK, "results.jsonl"), "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(WORK, "results.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
