"""Export a bert/mpnet sentence-transformers model directory to ONNX with torch.onnx.export.

  python3 export_onnx.py MODEL_DIR OUT.onnx [--int8]

Graph: inputs input_ids, attention_mask (int64 [batch, seq], both axes dynamic) -> sentence_embedding
[batch, hidden] (Transformer -> Pooling -> Normalize inside the graph, like an Optimum export + the
sentence-transformers head). --int8 writes the dynamic-quantization graph that
onnxruntime.quantization.quantize_dynamic produces by default (per-tensor int8 weights, uint8 dynamic
activations, DynamicQuantizeLinear + MatMulInteger on every Linear) -- that tool is Python-only and not
installable here, so the graph is written directly from torch (see torch_bert.Linear).
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import SentenceModel  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    int8 = "--int8" in sys.argv
    if len(args) != 2:
        print(__doc__)
        sys.exit(2)
    model_dir, out = args
    t0 = time.time()
    m = SentenceModel(model_dir)
    if int8:
        m.quantize_dynamic()
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2178, 2028, 102, 0, 0]], dtype=torch.long)
    am = (torch.arange(ids.shape[1])[None, :] < torch.tensor([[6], [4]])).long()
    if m.model_type == "mpnet":  # its pad id is 1, and positions come from it
        ids = torch.where(am > 0, ids, torch.ones_like(ids))
    tmp = out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(m, (ids, am), tmp, input_names=["input_ids", "attention_mask"],
                          output_names=["sentence_embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "attention_mask": {0: "batch", 1: "sequence"},
                                        "sentence_embedding": {0: "batch"}},
                          opset_version=17 if not int8 else 14, do_constant_folding=True)
    os.replace(tmp, out)
    print(f"exported {out} ({'int8 dynamic' if int8 else 'fp32'}, {os.path.getsize(out) / 1e6:.1f} MB) in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
