"""Plain-PyTorch BERT and MPNet encoders + sentence-transformers pooling, for the peer benchmark.

Benchmark-only: transformers and safetensors are not installed here, so this mirrors Hugging Face
transformers' BertModel / MPNetModel (4.19 semantics: eval mode, extended attention mask
(1 - mask) * finfo.min, exact erf GELU) and sentence-transformers' Pooling / Normalize modules,
reading model.safetensors with numpy + json. `check` compares it with the parity fixtures
(tests/data/models/{bert-tiny,mpnet-tiny}/expected.safetensors) so that every peer computes the same
function as the reference.

  python3 bench/peers/torch_bert.py check [tests/data/models]
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64,
           "I32": np.int32, "I8": np.int8, "U8": np.uint8}


def load_safetensors(path):
    """name -> numpy array (copies, so the file can be closed)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:  # e.g. BF16: not produced by our tools
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        s, e = info["data_offsets"]
        arr = np.frombuffer(data, dtype=_DTYPES[info["dtype"]], count=(e - s) // np.dtype(_DTYPES[info["dtype"]]).itemsize,
                            offset=base + s).reshape(info["shape"]).copy()
        out[name] = arr
    return out


class Linear(nn.Module):
    """nn.Linear, or (quantized=True) an ONNX-exportable dynamic-int8 linear:
    DynamicQuantizeLinear(x) -> MatMulInteger(u8 x, s8 W, per-tensor) -> Cast -> Mul(x_scale*w_scale) -> Add(bias),
    the graph onnxruntime.quantization.quantize_dynamic writes (default: QInt8 weights, per-tensor, U8 activations);
    ORT fuses it into DynamicQuantizeMatMul. The eager forward emulates the same arithmetic."""

    def __init__(self, weight, bias):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)  # [out, in]
        self.bias = nn.Parameter(bias, requires_grad=False)
        self.quantized = False

    def quantize(self):
        w = self.weight.detach().float().t().contiguous()  # [in, out] for MatMul
        amax = float(w.abs().max())
        scale = amax / 127.0 if amax > 0 else 1.0
        self.register_buffer("wq", torch.clamp(torch.round(w / scale), -127, 127).to(torch.int8))
        self.register_buffer("w_scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("w_zp", torch.tensor(0, dtype=torch.int8))
        self.quantized = True

    def forward(self, x):
        if not self.quantized:
            return F.linear(x, self.weight, self.bias)
        return _DynQLinear.apply(x, self.wq, self.w_scale, self.w_zp, self.bias)


class _DynQLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, wq, w_scale, w_zp, bias):
        # DynamicQuantizeLinear: uint8, range includes 0, zero point = round(-min/scale)
        xmin = torch.clamp(x.min(), max=0.0)
        xmax = torch.clamp(x.max(), min=0.0)
        xs = (xmax - xmin) / 255.0
        xs = torch.where(xs > 0, xs, torch.ones_like(xs))
        zp = torch.clamp(torch.round(-xmin / xs), 0, 255)
        xq = torch.clamp(torch.round(x / xs) + zp, 0, 255)
        y = torch.matmul(xq - zp, wq.float() - w_zp.float())
        return y * (xs * w_scale) + bias

    @staticmethod
    def symbolic(g, x, wq, w_scale, w_zp, bias):
        xq, xs, xzp = g.op("DynamicQuantizeLinear", x, outputs=3)
        y = g.op("MatMulInteger", xq, wq, xzp, w_zp)
        y = g.op("Cast", y, to_i=1)  # TensorProto.FLOAT
        y = g.op("Mul", y, g.op("Mul", xs, w_scale))
        return g.op("Add", y, bias)


def _ln(w, b, eps):
    m = nn.LayerNorm(w.shape[0], eps=eps)
    m.weight = nn.Parameter(w, requires_grad=False)
    m.bias = nn.Parameter(b, requires_grad=False)
    return m


def _ext_mask(attention_mask, dtype):
    m = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


class _Attn(nn.Module):
    def __init__(self, q, k, v, heads):
        super().__init__()
        self.q, self.k, self.v, self.heads = q, k, v, heads

    def forward(self, x, ext_mask, bias=None):
        b, s, h = x.shape
        d = h // self.heads

        def split(t):
            return t.view(b, s, self.heads, d).permute(0, 2, 1, 3)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
        if bias is not None:
            scores = scores + bias
        scores = scores + ext_mask
        p = torch.softmax(scores, dim=-1)
        c = torch.matmul(p, v).permute(0, 2, 1, 3).contiguous().view(b, s, h)
        return c


class BertEncoder(nn.Module):
    """transformers BertModel (absolute positions), returns last_hidden_state."""

    def __init__(self, cfg, w):
        super().__init__()
        T = lambda n: torch.from_numpy(w[n].astype(np.float32))
        eps = cfg.get("layer_norm_eps", 1e-12)
        self.heads = cfg["num_attention_heads"]
        self.word = nn.Parameter(T("embeddings.word_embeddings.weight"), requires_grad=False)
        self.pos = nn.Parameter(T("embeddings.position_embeddings.weight"), requires_grad=False)
        self.typ = nn.Parameter(T("embeddings.token_type_embeddings.weight"), requires_grad=False)
        self.emb_ln = _ln(T("embeddings.LayerNorm.weight"), T("embeddings.LayerNorm.bias"), eps)
        self.layers = nn.ModuleList()
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            L = lambda n: Linear(T(p + n + ".weight"), T(p + n + ".bias"))
            layer = nn.Module()
            layer.attn = _Attn(L("attention.self.query"), L("attention.self.key"), L("attention.self.value"), self.heads)
            layer.attn_out = L("attention.output.dense")
            layer.attn_ln = _ln(T(p + "attention.output.LayerNorm.weight"), T(p + "attention.output.LayerNorm.bias"), eps)
            layer.inter = L("intermediate.dense")
            layer.out = L("output.dense")
            layer.out_ln = _ln(T(p + "output.LayerNorm.weight"), T(p + "output.LayerNorm.bias"), eps)
            self.layers.append(layer)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        s = input_ids.shape[1]
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        pos_ids = torch.arange(s, dtype=torch.long, device=input_ids.device).unsqueeze(0)
        x = F.embedding(input_ids, self.word) + F.embedding(token_type_ids, self.typ) + F.embedding(pos_ids, self.pos)
        x = self.emb_ln(x)
        m = _ext_mask(attention_mask, x.dtype)
        for layer in self.layers:
            a = layer.attn_ln(layer.attn_out(layer.attn(x, m)) + x)
            x = layer.out_ln(layer.out(F.gelu(layer.inter(a))) + a)
        return x


def _relative_position_bucket(relative_position, num_buckets=32, max_distance=128):
    ret = 0
    n = -relative_position
    num_buckets //= 2
    ret += (n < 0).to(torch.long) * num_buckets
    n = torch.abs(n)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    val_if_large = max_exact + (
        torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    val_if_large = torch.min(val_if_large, torch.full_like(val_if_large, num_buckets - 1))
    ret += torch.where(is_small, n, val_if_large)
    return ret


class MPNetEncoder(nn.Module):
    """transformers MPNetModel (relative position bias, positions from the padding mask)."""

    def __init__(self, cfg, w):
        super().__init__()
        T = lambda n: torch.from_numpy(w[n].astype(np.float32))
        eps = cfg.get("layer_norm_eps", 1e-5)
        self.heads = cfg["num_attention_heads"]
        self.pad = cfg.get("pad_token_id", 1)
        self.buckets = cfg.get("relative_attention_num_buckets", 32)
        self.word = nn.Parameter(T("embeddings.word_embeddings.weight"), requires_grad=False)
        self.pos = nn.Parameter(T("embeddings.position_embeddings.weight"), requires_grad=False)
        self.emb_ln = _ln(T("embeddings.LayerNorm.weight"), T("embeddings.LayerNorm.bias"), eps)
        self.rel = nn.Parameter(T("encoder.relative_attention_bias.weight"), requires_grad=False)
        self.layers = nn.ModuleList()
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            L = lambda n: Linear(T(p + n + ".weight"), T(p + n + ".bias"))
            layer = nn.Module()
            layer.attn = _Attn(L("attention.attn.q"), L("attention.attn.k"), L("attention.attn.v"), self.heads)
            layer.attn_out = L("attention.attn.o")
            layer.attn_ln = _ln(T(p + "attention.LayerNorm.weight"), T(p + "attention.LayerNorm.bias"), eps)
            layer.inter = L("intermediate.dense")
            layer.out = L("output.dense")
            layer.out_ln = _ln(T(p + "output.LayerNorm.weight"), T(p + "output.LayerNorm.bias"), eps)
            self.layers.append(layer)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        b, s = input_ids.shape
        mask = (input_ids != self.pad).to(torch.long)
        pos_ids = torch.cumsum(mask, dim=1) * mask + self.pad
        x = F.embedding(input_ids, self.word) + F.embedding(pos_ids, self.pos)
        x = self.emb_ln(x)
        ar = torch.arange(s, dtype=torch.long, device=input_ids.device)
        rp = ar[None, :] - ar[:, None]
        bucket = _relative_position_bucket(rp, num_buckets=self.buckets)
        bias = F.embedding(bucket, self.rel).permute(2, 0, 1).unsqueeze(0).to(x.dtype)  # [1, heads, s, s]
        m = _ext_mask(attention_mask, x.dtype)
        for layer in self.layers:
            a = layer.attn_ln(layer.attn_out(layer.attn(x, m, bias)) + x)
            x = layer.out_ln(layer.out(F.gelu(layer.inter(a))) + a)
        return x


class SentenceModel(nn.Module):
    """Transformer -> Pooling -> (Normalize), as the model directory's modules.json says.
    forward(input_ids, attention_mask) -> sentence_embedding [batch, hidden]."""

    def __init__(self, model_dir):
        super().__init__()
        cfg = json.load(open(os.path.join(model_dir, "config.json")))
        w = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        mt = cfg["model_type"]
        if mt == "bert":
            self.encoder = BertEncoder(cfg, w)
        elif mt == "mpnet":
            self.encoder = MPNetEncoder(cfg, w)
        else:
            raise ValueError(f"{model_dir}: model_type {mt!r} not supported by the benchmark peers (bert, mpnet)")
        self.model_type = mt
        self.pooling = "mean"
        self.normalize = False
        mods = os.path.join(model_dir, "modules.json")
        if os.path.exists(mods):
            for m in json.load(open(mods)):
                t = m["type"].rsplit(".", 1)[-1]
                if t == "Pooling":
                    pc = json.load(open(os.path.join(model_dir, m["path"], "config.json")))
                    for mode in ("cls_token", "mean_tokens", "max_tokens"):
                        if pc.get("pooling_mode_" + mode):
                            self.pooling = mode.split("_")[0]
                            break
                    else:
                        raise ValueError(f"{model_dir}: pooling mode not supported by the benchmark peers: {pc}")
                elif t == "Normalize":
                    self.normalize = True
                elif t not in ("Transformer",):
                    raise ValueError(f"{model_dir}: module {t} not supported by the benchmark peers")
        self.max_seq_length = 512
        sb = os.path.join(model_dir, "sentence_bert_config.json")
        if os.path.exists(sb):
            self.max_seq_length = json.load(open(sb)).get("max_seq_length", 512)
        self.eval()

    def quantize_dynamic(self):
        for mod in self.modules():
            if isinstance(mod, Linear):
                mod.quantize()
        return self

    def token_embeddings(self, input_ids, attention_mask):
        return self.encoder(input_ids, attention_mask)

    def forward(self, input_ids, attention_mask):
        h = self.encoder(input_ids, attention_mask)
        mf = attention_mask.unsqueeze(-1).to(h.dtype)
        if self.pooling == "mean":
            e = (h * mf).sum(1) / torch.clamp(mf.sum(1), min=1e-9)
        elif self.pooling == "cls":
            e = h[:, 0]
        else:  # max
            e = torch.where(mf > 0, h, torch.full_like(h, -1e9)).max(1).values
        if self.normalize:
            e = F.normalize(e, p=2, dim=1)
        return e


def check(models_root):
    """Peer model == reference on the parity fixtures: token embeddings within 1e-4 of the .f64 reference."""
    ok = True
    for name in ("bert-tiny", "mpnet-tiny"):
        d = os.path.join(models_root, name)
        if not os.path.isdir(d):
            print(f"check {name}: fixture missing, skipped")
            continue
        exp = load_safetensors(os.path.join(d, "expected.safetensors"))
        m = SentenceModel(d)
        worst_tok = worst_sent = 0.0
        i = 0
        with torch.no_grad():
            while f"text.{i}.input_ids" in exp:
                ids = torch.from_numpy(exp[f"text.{i}.input_ids"]).long()[None]
                am = torch.from_numpy(exp[f"text.{i}.attention_mask"]).long()[None]
                h = m.token_embeddings(ids, am)[0].double().numpy()
                worst_tok = max(worst_tok, float(np.abs(h - exp[f"text.{i}.last_hidden_state.f64"]).max()))
                s = m(ids, am)[0].double().numpy()
                worst_sent = max(worst_sent, float(np.abs(s - exp[f"text.{i}.sentence_embedding.f64"]).max()))
                i += 1
            # the padded batch too (padding must not change anything)
            ids = torch.from_numpy(exp["batch.input_ids"]).long()
            am = torch.from_numpy(exp["batch.attention_mask"]).long()
            s = m(ids, am).double().numpy()
            worst_batch = float(np.abs(s - exp["batch.sentence_embedding.f64"]).max())
        good = worst_tok <= 1e-4 and worst_sent <= 1e-5 and worst_batch <= 1e-5
        ok &= good
        print(f"check {name}: {i} texts, max abs err token embeddings {worst_tok:.2e} (<= 1e-4), "
              f"sentence embeddings {worst_sent:.2e} / padded batch {worst_batch:.2e} (<= 1e-5): {'OK' if good else 'FAIL'}")
    return ok


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "check":
        root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "models")
        sys.exit(0 if check(root) else 1)
    print(__doc__)
    sys.exit(2)
