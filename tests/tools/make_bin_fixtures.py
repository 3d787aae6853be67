#!/usr/bin/env python3
"""Writes the pytorch_model.bin fixtures under tests/data/bin/ (committed; the tests never run this).

  tests/data/bin/<model>/pytorch_model.bin   torch.save of tests/data/models/<model>/model.safetensors
  tests/data/bin/cases/mixed.bin             every supported dtype, views, shared storages, a Parameter,
                                             a scalar, an empty tensor; mixed.safetensors holds the
                                             same tensors (contiguous) to compare with
  tests/data/bin/cases/mixed-deflated.bin    mixed.bin re-zipped with deflate
  tests/data/bin/cases/mixed-zip64.bin       mixed.bin rewritten as a zip64 archive (as files over 4 GiB
                                             are), with torch 2.x's byteorder etc. entries
  tests/data/bin/cases/mixed-bigendian.bin   mixed.bin with byteorder "big" and byte-swapped storages
  tests/data/bin/cases/legacy.bin            torch.save(..., _use_new_zipfile_serialization=False)
  tests/data/bin/cases/complex.bin           a complex64 tensor (unsupported dtype)
  tests/data/bin/cases/evil-os-system.bin    data.pkl calls os.system through __reduce__ (protocol 2)
  tests/data/bin/cases/evil-builtins-eval.bin  data.pkl calls builtins.eval (protocol 4, STACK_GLOBAL)
  tests/data/bin/cases/missing-storage.bin   a tensor whose storage entry is not in the archive
  tests/data/bin/cases/storage-too-small.bin a tensor whose size/stride reach past its storage
  tests/data/bin/cases/expanded-huge.bin     a stride-0 view of 2^40 elements over an 8-element storage
  tests/data/bin/cases/unknown-opcode.bin    data.pkl with an opcode pickle does not have (0xff)

Needs python3-torch (Debian) and numpy; safetensors files are parsed here with json + numpy.
Run from anywhere: python3 tests/tools/make_bin_fixtures.py
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/
MODELS = os.path.join(ROOT, "data", "models")
OUT = os.path.join(ROOT, "data", "bin")
CASES = os.path.join(OUT, "cases")

ST_DTYPES = {
    "F32": (np.float32, torch.float32), "F64": (np.float64, torch.float64),
    "F16": (np.float16, torch.float16), "BF16": (np.int16, torch.bfloat16),
    "I64": (np.int64, torch.int64), "I32": (np.int32, torch.int32), "I16": (np.int16, torch.int16),
    "I8": (np.int8, torch.int8), "U8": (np.uint8, torch.uint8), "BOOL": (np.bool_, torch.bool),
}
TORCH_TO_ST = {t: name for name, (_, t) in ST_DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = collections.OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        np_t, torch_t = ST_DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        arr = np.frombuffer(body[b:e], dtype=np_t).reshape(info["shape"]).copy()
        t = torch.from_numpy(arr)
        if torch_t == torch.bfloat16:
            t = t.view(torch.bfloat16)
        out[name] = t
    return out


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        data = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": TORCH_TO_ST[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    """entries: list of (name, bytes)."""
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=compression)


def write_zip64(path, entries):
    """A stored zip64 archive, as torch.save writes for files over 4 GiB: every size and offset in the
    central directory is 0xffffffff with the real value in the zip64 extra field, and the end record
    points at a zip64 end record. Entries are 64-byte aligned through padding in the local extra field."""
    out = bytearray()
    central = []
    for name, data in entries:
        fname = name.encode()
        crc = zipfile.crc32(data) & 0xffffffff
        offset = len(out)
        z64 = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        pad = -(offset + 30 + len(fname) + len(z64) + 4) % 64
        extra = z64 + struct.pack("<HH", 0x4650, pad) + b"Z" * pad  # 'FB' padding record, as torch writes
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0x21, crc, 0xffffffff, 0xffffffff,
                           len(fname), len(extra)) + fname + extra
        assert len(out) % 64 == 0
        out += data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0x21, crc, 0xffffffff,
                                   0xffffffff, len(fname), len(cextra), 0, 0, 0, 0, 0xffffffff) + fname + cextra)
    cd_offset = len(out)
    cd = b"".join(central)
    out += cd
    z64_end = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, len(entries), len(entries), len(cd), cd_offset)
    out += struct.pack("<IIQI", 0x07064b50, 0, z64_end, 1)
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xffff, 0xffff, 0xffffffff, 0xffffffff, 0)
    with open(path, "wb") as f:
        f.write(out)


def read_zip(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


# ---- hand-made torch-style pickles (no torch objects needed, only its importable globals) -----------

class StorageRef:
    def __init__(self, storage_type, key, numel):
        self.storage_type, self.key, self.numel = storage_type, key, numel


class TensorSpec:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class TorchStylePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, StorageRef):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def torch_style_pickle(obj):
    buf = io.BytesIO()
    TorchStylePickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def archive(name, pkl, storages):
    return [(f"{name}/data.pkl", pkl)] + [(f"{name}/data/{k}", v) for k, v in storages] + [(f"{name}/version", b"3\n")]


class EvilSystem:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/embed-pwned",))


class EvilEval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('echo pwned')",))


def main():
    os.makedirs(CASES, exist_ok=True)

    # The model fixtures, as transformers' save_pretrained(safe_serialization=False) would write them.
    for model in ["bert-tiny", "mpnet-tiny", "deberta-v3-tiny", "multilingual-tiny"]:
        sd = read_safetensors(os.path.join(MODELS, model, "model.safetensors"))
        os.makedirs(os.path.join(OUT, model), exist_ok=True)
        torch.save(sd, os.path.join(OUT, model, "pytorch_model.bin"))

    # Every dtype, strided views, shared storages, a Parameter, a scalar, an empty tensor.
    g = torch.Generator().manual_seed(4)
    base = torch.randn(6, 5, generator=g)
    big = torch.randn(40, generator=g, dtype=torch.float64)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4, generator=g)
    sd["f16"] = torch.randn(2, 3, generator=g).half()
    sd["bf16"] = torch.randn(5, generator=g).bfloat16()
    sd["f64"] = big[:7]                     # a view at the start of a larger storage
    sd["f64.offset"] = big[10:16].view(2, 3)  # same storage, offset 10
    sd["i64"] = torch.arange(-3, 9, dtype=torch.int64).reshape(3, 4)
    sd["i32"] = torch.tensor([-2147483648, 2147483647, 0, 7], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 32767, 5], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 3], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True, True])
    sd["transposed"] = base.t()             # non-contiguous: stride (1, 5)
    sd["column"] = base[:, 2]               # non-contiguous: stride (5,), offset 2
    sd["rows"] = base[1:3]                  # contiguous view at offset 5
    sd["tied.a"] = base                     # tied weights: one storage, several names
    sd["tied.b"] = base
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 4)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g), requires_grad=True)
    sd["expanded"] = torch.randn(3, generator=g).expand(2, 3)  # stride 0
    # What nn.Module.state_dict() attaches (pickled as BUILD on the OrderedDict).
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("encoder", {"version": 1})])
    mixed = os.path.join(CASES, "mixed.bin")
    torch.save(sd, mixed)
    write_safetensors(os.path.join(CASES, "mixed.safetensors"),
                      collections.OrderedDict((k, v.detach().contiguous().clone()) for k, v in sd.items()))

    entries = read_zip(mixed)
    write_zip(os.path.join(CASES, "mixed-deflated.bin"), entries, zipfile.ZIP_DEFLATED)
    # zip64, with the extra records newer torch (2.x) writes next to data.pkl.
    prefix = next(n for n, _ in entries if n.endswith("/data.pkl"))[: -len("data.pkl")]
    torch2 = entries + [(prefix + "byteorder", b"little"), (prefix + ".data/serialization_id", b"1234567890"),
                        (prefix + ".format_version", b"1"), (prefix + ".storage_alignment", b"64")]
    write_zip64(os.path.join(CASES, "mixed-zip64.bin"), torch2)
    assert read_zip(os.path.join(CASES, "mixed-zip64.bin")) == torch2
    zip64 = torch.load(os.path.join(CASES, "mixed-zip64.bin"))
    assert all(torch.equal(zip64[k], v) for k, v in sd.items())

    # Big-endian: swap each storage by its element size (from the pickle's storage types).
    pkl = next(d for n, d in entries if n.endswith("/data.pkl"))
    key_size = {}

    class Probe(pickle.Unpickler):
        def persistent_load(self, pid):
            _, st_type, key, _, _ = pid
            key_size[key] = st_type(0).element_size()
            return torch.zeros(0)

        def find_class(self, module, name):
            if name == "_rebuild_tensor_v2" or name == "_rebuild_parameter":
                return lambda *a: None
            return super().find_class(module, name)

    Probe(io.BytesIO(pkl)).load()
    prefix = next(n for n, _ in entries if n.endswith("/data.pkl"))[: -len("data.pkl")]
    swapped = []
    for n, d in entries:
        if n.startswith(prefix + "data/"):
            es = key_size[n[len(prefix + "data/"):]]
            d = np.frombuffer(d, dtype=np.dtype(f"<u{es}") if es > 1 else np.uint8).byteswap().tobytes()
        swapped.append((n, d))
    swapped.append((prefix + "byteorder", b"big"))
    write_zip(os.path.join(CASES, "mixed-bigendian.bin"), swapped)

    # Legacy (pre-1.6) format: refused with a message saying to re-save.
    torch.save(collections.OrderedDict(w=torch.ones(2)), os.path.join(CASES, "legacy.bin"),
               _use_new_zipfile_serialization=False)
    # Unsupported dtype.
    torch.save(collections.OrderedDict(c=torch.ones(2, dtype=torch.complex64)), os.path.join(CASES, "complex.bin"))

    # Malicious pickles: plain pickle + zipfile, the way an attacker would write them.
    evil = collections.OrderedDict(weight=EvilSystem())
    write_zip(os.path.join(CASES, "evil-os-system.bin"), archive("archive", pickle.dumps(evil, protocol=2), []))
    evil = {"weight": EvilEval()}
    write_zip(os.path.join(CASES, "evil-builtins-eval.bin"), archive("archive", pickle.dumps(evil, protocol=4), []))

    # Structurally bad files.
    ones = np.ones(8, dtype=np.float32).tobytes()
    sd = collections.OrderedDict(
        ok=TensorSpec(StorageRef(torch.FloatStorage, "0", 8), 0, (2, 4), (4, 1)),
        lost=TensorSpec(StorageRef(torch.FloatStorage, "7", 8), 0, (8,), (1,)))
    write_zip(os.path.join(CASES, "missing-storage.bin"), archive("archive", torch_style_pickle(sd), [("0", ones)]))
    sd = collections.OrderedDict(
        ok=TensorSpec(StorageRef(torch.FloatStorage, "0", 8), 0, (2, 4), (4, 1)),
        too_big=TensorSpec(StorageRef(torch.FloatStorage, "0", 8), 2, (2, 4), (4, 1)))
    write_zip(os.path.join(CASES, "storage-too-small.bin"), archive("archive", torch_style_pickle(sd), [("0", ones)]))
    sd = collections.OrderedDict(huge=TensorSpec(StorageRef(torch.FloatStorage, "0", 8), 0, (1 << 20, 1 << 20), (0, 0)))
    write_zip(os.path.join(CASES, "expanded-huge.bin"), archive("archive", torch_style_pickle(sd), [("0", ones)]))
    write_zip(os.path.join(CASES, "unknown-opcode.bin"), archive("archive", b"\x80\x02}\xff.", []))
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
