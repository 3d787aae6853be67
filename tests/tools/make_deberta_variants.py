#!/usr/bin/env python3
"""Writes tests/data/models/deberta-variants/{conv,buckets}/ (committed; the tests never run this).

DeBERTa-v2 options the deberta-v3-tiny fixture (made with transformers 4.19) does not reach, each in a
tiny random model with reference outputs:

  conv     embedding_size != hidden_size (embeddings.embed_proj), absolute positions
           (position_biased_input), token types, no position buckets (max_relative_positions 6: clamped
           relative positions), separate pos_key_proj / pos_query_proj (share_att_key false), no norm on the
           relative embeddings, the ConvLayer after the first layer (kernel 3, 2 groups, gelu), weights
           named "deberta.*".
  buckets  small log buckets (position_buckets 8, max_relative_positions 20, sequences up to 40 tokens:
           log buckets and clamping), p2c only (pos_att_type as the string "p2c"), shared keys, layer-normed
           relative embeddings, the ConvLayer with kernel 5 and its default tanh activation.

transformers is not installed here, so the reference is a float64 PyTorch transcription of
DebertaV2Model.forward as transformers 4.19 computes it (modeling_deberta_v2.py: DebertaV2Embeddings,
DebertaV2Encoder with get_rel_embedding / build_relative_position / make_log_bucket_position in numpy,
DisentangledSelfAttention with torch.gather on c2p / p2c, ConvLayer with nn.functional.conv1d), written
independently of the C++ engine. It is an oracle for the structure (gather directions, clamping, conv
padding and grouping, where each norm sits), not a substitute for the transformers fixture.

Needs python3-torch (Debian) and numpy. Run from anywhere: python3 tests/tools/make_deberta_variants.py
"""
import json
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "models", "deberta-variants")


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        dtype = {np.float32: "F32", np.float64: "F64", np.int64: "I64"}[array.dtype.type]
        data = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def make_weights(cfg, rng):
    """Random weights with the names and shapes of DebertaV2Model.state_dict() (no base-model prefix)."""
    H, E, I = cfg["hidden_size"], cfg.get("embedding_size", cfg["hidden_size"]), cfg["intermediate_size"]
    w = {}

    def mat(name, shape, std=0.3):
        w[name] = rng.normal(0.0, std, shape)

    def bias(name, n):
        w[name] = rng.normal(0.0, 0.1, (n,))

    def norm(name, n):
        w[name + ".weight"] = 1.0 + rng.normal(0.0, 0.25, (n,))
        w[name + ".bias"] = rng.normal(0.0, 0.1, (n,))

    def linear(name, n_in, n_out, has_bias=True):
        mat(name + ".weight", (n_out, n_in), 1.2 / np.sqrt(n_in))
        if has_bias:
            bias(name + ".bias", n_out)

    mat("embeddings.word_embeddings.weight", (cfg["vocab_size"], E), 1.0)
    if cfg.get("position_biased_input", True):
        mat("embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], E), 0.5)
    if cfg.get("type_vocab_size", 0) > 0:
        mat("embeddings.token_type_embeddings.weight", (cfg["type_vocab_size"], E), 0.5)
    if E != H:
        linear("embeddings.embed_proj", E, H, has_bias=False)
    norm("embeddings.LayerNorm", H)
    span = cfg["position_buckets"] if cfg.get("position_buckets", -1) > 0 else cfg["max_relative_positions"]
    mat("encoder.rel_embeddings.weight", (2 * span, H), 1.0)
    if "layer_norm" in cfg.get("norm_rel_ebd", "none"):
        norm("encoder.LayerNorm", H)
    pos_types = pos_att_types(cfg)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for name in ("query_proj", "key_proj", "value_proj"):
            linear(p + "attention.self." + name, H, H)
        if not cfg.get("share_att_key", False):
            if "c2p" in pos_types:
                linear(p + "attention.self.pos_key_proj", H, H)
            if "p2c" in pos_types:
                linear(p + "attention.self.pos_query_proj", H, H)
        linear(p + "attention.output.dense", H, H)
        norm(p + "attention.output.LayerNorm", H)
        linear(p + "intermediate.dense", H, I)
        linear(p + "output.dense", I, H)
        norm(p + "output.LayerNorm", H)
    k = cfg.get("conv_kernel_size", 0)
    if k > 0:
        groups = cfg.get("conv_groups", 1)
        mat("encoder.conv.conv.weight", (H, H // groups, k), 1.0 / np.sqrt(H // groups * k))
        bias("encoder.conv.conv.bias", H)
        norm("encoder.conv.LayerNorm", H)
    return w


def pos_att_types(cfg):
    t = cfg.get("pos_att_type") or []
    if isinstance(t, str):  # DebertaV2Config splits "a|b"
        t = [x.strip() for x in t.lower().split("|")]
    return t


# --- transformers 4.19 relative positions (numpy) ---
def make_log_bucket_position(relative_pos, bucket_size, max_position):
    sign = np.sign(relative_pos)
    mid = bucket_size // 2
    abs_pos = np.where((relative_pos < mid) & (relative_pos > -mid), mid - 1, np.abs(relative_pos))
    log_pos = np.ceil(np.log(abs_pos / mid) / np.log((max_position - 1) / mid) * (mid - 1)) + mid
    return np.where(abs_pos <= mid, relative_pos, log_pos * sign).astype(np.int64)


def build_relative_position(query_size, key_size, bucket_size, max_position):
    q_ids = np.arange(0, query_size)
    k_ids = np.arange(0, key_size)
    rel = q_ids[:, None] - np.tile(k_ids, (q_ids.shape[0], 1))
    if bucket_size > 0 and max_position > 0:
        rel = make_log_bucket_position(rel, bucket_size, max_position)
    return torch.tensor(rel, dtype=torch.long)[:query_size, :].unsqueeze(0)


ACT = {"gelu": F.gelu, "tanh": torch.tanh}


def reference(cfg, W, ids, types):
    """last_hidden_state [n, H] of one unpadded sequence, float64."""
    H, E, heads = cfg["hidden_size"], cfg.get("embedding_size", cfg["hidden_size"]), cfg["num_attention_heads"]
    eps = cfg["layer_norm_eps"]
    T = {k: torch.tensor(v, dtype=torch.float64) for k, v in W.items()}

    def ln(x, name):
        return F.layer_norm(x, (H,), T[name + ".weight"], T[name + ".bias"], eps)

    def lin(x, name):
        b = T.get(name + ".bias")
        return F.linear(x, T[name + ".weight"], b)

    n = len(ids)
    input_ids = torch.tensor([ids])
    x = F.embedding(input_ids, T["embeddings.word_embeddings.weight"])
    if cfg.get("position_biased_input", True):
        x = x + F.embedding(torch.arange(n)[None], T["embeddings.position_embeddings.weight"])
    if cfg.get("type_vocab_size", 0) > 0:
        x = x + F.embedding(torch.tensor([types]), T["embeddings.token_type_embeddings.weight"])
    if E != H:
        x = lin(x, "embeddings.embed_proj")
    x = ln(x, "embeddings.LayerNorm")  # * mask (all ones)

    max_rel = cfg.get("max_relative_positions", -1)
    if max_rel < 1:
        max_rel = cfg["max_position_embeddings"]
    buckets = cfg.get("position_buckets", -1)
    att_span = buckets if buckets > 0 else max_rel
    rel_emb = T["encoder.rel_embeddings.weight"]
    if "layer_norm" in [s.strip() for s in cfg.get("norm_rel_ebd", "none").lower().split("|")]:
        rel_emb = ln(rel_emb, "encoder.LayerNorm")
    relative_pos = build_relative_position(n, n, buckets, max_rel)
    types_ = pos_att_types(cfg)
    share = cfg.get("share_att_key", False)

    def split(t):  # transpose_for_scores: [1, n, H] -> [heads, n, d]
        return t.view(1, t.size(1), heads, -1).permute(0, 2, 1, 3).contiguous().view(-1, t.size(1), H // heads)

    def attention(h, p):
        q = split(lin(h, p + "query_proj"))
        k = split(lin(h, p + "key_proj"))
        v = split(lin(h, p + "value_proj"))
        scale_factor = 1 + ("c2p" in types_) + ("p2c" in types_)
        scale = np.sqrt(q.size(-1) * scale_factor)
        scores = torch.bmm(q, k.transpose(-1, -2)) / scale
        rel = rel_emb[0 : att_span * 2, :].unsqueeze(0)
        rel_pos = relative_pos.unsqueeze(1)
        if share:
            pos_q = split(lin(rel, p + "query_proj"))
            pos_k = split(lin(rel, p + "key_proj"))
        else:
            pos_k = split(lin(rel, p + "pos_key_proj")) if "c2p" in types_ else None
            pos_q = split(lin(rel, p + "pos_query_proj")) if "p2c" in types_ else None
        score = 0
        if "c2p" in types_:
            c2p = torch.bmm(q, pos_k.transpose(-1, -2))
            c2p_pos = torch.clamp(rel_pos + att_span, 0, att_span * 2 - 1)
            c2p = torch.gather(c2p, dim=-1, index=c2p_pos.squeeze(0).expand([q.size(0), q.size(1), n]))
            score = score + c2p / scale
        if "p2c" in types_:
            p2c_pos = torch.clamp(-rel_pos + att_span, 0, att_span * 2 - 1)
            p2c = torch.bmm(k, pos_q.transpose(-1, -2))
            p2c = torch.gather(p2c, dim=-1, index=p2c_pos.squeeze(0).expand([q.size(0), n, n])).transpose(-1, -2)
            score = score + p2c / scale
        scores = scores + score
        probs = torch.softmax(scores, -1)
        ctx = torch.bmm(probs, v).view(1, heads, n, -1).permute(0, 2, 1, 3).contiguous().view(1, n, H)
        out_prefix = p[: -len("self.")] + "output."  # DebertaV2SelfOutput
        return ln(lin(ctx, out_prefix + "dense") + h, out_prefix + "LayerNorm")

    act = ACT[cfg.get("hidden_act", "gelu")]
    h = x
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        a = attention(h, p + "attention.self.")
        inter = act(lin(a, p + "intermediate.dense"))
        out = ln(lin(inter, p + "output.dense") + a, p + "output.LayerNorm")
        if i == 0 and cfg.get("conv_kernel_size", 0) > 0:
            k = cfg["conv_kernel_size"]
            c = F.conv1d(x.permute(0, 2, 1), T["encoder.conv.conv.weight"], T["encoder.conv.conv.bias"],
                         padding=(k - 1) // 2, groups=cfg.get("conv_groups", 1)).permute(0, 2, 1)
            c = ACT[cfg.get("conv_act", "tanh")](c)
            out = ln(out + c, "encoder.conv.LayerNorm")
        h = out
    return h[0].numpy()


VARIANTS = {
    "conv": dict(
        config={
            "model_type": "deberta-v2", "hidden_size": 16, "embedding_size": 12, "num_attention_heads": 4,
            "num_hidden_layers": 2, "intermediate_size": 20, "vocab_size": 40, "max_position_embeddings": 24,
            "type_vocab_size": 2, "position_biased_input": True, "relative_attention": True,
            "position_buckets": -1, "max_relative_positions": 6, "pos_att_type": ["c2p", "p2c"],
            "share_att_key": False, "norm_rel_ebd": "none", "conv_kernel_size": 3, "conv_groups": 2,
            "conv_act": "gelu", "hidden_act": "gelu", "layer_norm_eps": 1e-7, "pad_token_id": 0,
        },
        prefix="deberta.",
        lengths=[1, 2, 5, 13, 24],
        seed=11,
    ),
    "buckets": dict(
        config={
            "model_type": "deberta-v2", "hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2,
            "intermediate_size": 24, "vocab_size": 40, "max_position_embeddings": 64, "type_vocab_size": 0,
            "position_biased_input": False, "relative_attention": True, "position_buckets": 8,
            "max_relative_positions": 20, "pos_att_type": "p2c", "share_att_key": True,
            "norm_rel_ebd": "layer_norm", "conv_kernel_size": 5, "hidden_act": "gelu", "layer_norm_eps": 1e-7,
            "pad_token_id": 0,
        },
        prefix="",
        lengths=[1, 4, 9, 23, 40],
        seed=12,
    ),
}


def main():
    for name, v in VARIANTS.items():
        rng = np.random.default_rng(v["seed"])
        cfg = v["config"]
        W = make_weights(cfg, rng)
        out_dir = os.path.join(ROOT, name)
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        write_safetensors(os.path.join(out_dir, "model.safetensors"),
                          {v["prefix"] + k: a.astype(np.float32) for k, a in W.items()})
        # The reference runs on the float32-rounded weights the engine reads, in float64.
        W32 = {k: a.astype(np.float32).astype(np.float64) for k, a in W.items()}
        texts, tensors = [], {}
        for i, n in enumerate(v["lengths"]):
            ids = [int(x) for x in rng.integers(1, cfg["vocab_size"], n)]
            types = [int(x) for x in rng.integers(0, max(1, cfg["type_vocab_size"]), n)]
            texts.append({"input_ids": ids, "token_type_ids": types, "num_tokens": n})
            with torch.no_grad():
                tensors[f"text.{i}.last_hidden_state.f64"] = reference(cfg, W32, ids, types)
        with open(os.path.join(out_dir, "expected.json"), "w") as f:
            json.dump({"model": "deberta-variants/" + name, "oracle": "tests/tools/make_deberta_variants.py "
                       "(float64 PyTorch transcription of transformers 4.19 DebertaV2Model)",
                       "texts": texts}, f, indent=1)
        write_safetensors(os.path.join(out_dir, "expected.safetensors"), tensors)
        print(name, "written:", out_dir)


if __name__ == "__main__":
    main()
