#!/usr/bin/env python3
"""Writes the PyTorch and GGUF test fixtures under tests/data/formats/.

PyTorch: torch itself is not needed (nor installed in CI). The files are written the way
torch/serialization.py writes them: the same pickled globals (`torch._utils._rebuild_tensor_v2`,
`torch.FloatStorage`, `collections.OrderedDict`), the same persistent ids
`('storage', <storage class>, key, location, numel)`, the same zip records
(`<name>/data.pkl`, `<name>/byteorder`, `<name>/data/<key>`, `<name>/version`, 64-byte aligned,
stored) and the same legacy layout (magic, protocol 1001, sys_info, object, sorted storage
keys, then int64 numel + bytes per storage). Python's own pickle module produces the opcodes.

GGUF: written by llama.cpp's `gguf` Python package (pip install gguf numpy); quantized types
it can quantize (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) are quantized from random weights, the K-quants
are random blocks with finite scales. The reference is the same weights dequantized by that
package's own numpy dequantizer, written as safetensors.

Every reference tensor is also written as safetensors (in the same order) so the Rust tests can
check that both analyses agree byte for byte.

Usage (from the repository root):
  python3 scripts/make_format_fixtures.py                 # tests/data/formats, fuzz seeds
  python3 scripts/make_format_fixtures.py --bench DIR [B]  # bench files, B blocks (default 2)
"""

import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

OUT = os.path.join("tests", "data", "formats")


# ---------------------------------------------------------------- torch look-alikes
def _module(name):
    m = sys.modules.get(name) or types.ModuleType(name)
    sys.modules[name] = m
    return m


_torch = _module("torch")
_utils = _module("torch._utils")


def _rebuild_tensor_v2(*a):  # never called: only pickled by reference
    raise RuntimeError


def _rebuild_parameter(*a):
    raise RuntimeError


_rebuild_tensor_v2.__module__ = "torch._utils"
_rebuild_parameter.__module__ = "torch._utils"
_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
_utils._rebuild_parameter = _rebuild_parameter

STORAGE_CLASS = {}
for cls_name, dt in [
    ("FloatStorage", np.float32),
    ("HalfStorage", np.float16),
    ("DoubleStorage", np.float64),
    ("BFloat16Storage", "bf16"),
    ("LongStorage", np.int64),
]:
    c = type(cls_name, (), {"__module__": "torch"})
    setattr(_torch, cls_name, c)
    STORAGE_CLASS[dt if isinstance(dt, str) else np.dtype(dt).str] = c


class Storage:
    """A flat storage: `data` is a 1-D numpy array (bf16 kept as uint16 bits)."""

    def __init__(self, data, bf16=False):
        self.data = data
        self.bf16 = bf16

    def cls(self):
        return STORAGE_CLASS["bf16" if self.bf16 else self.data.dtype.str]


class Tensor:
    def __init__(self, storage, offset, shape, stride, parameter=False):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride
        self.parameter = parameter

    def __reduce_ex__(self, proto):
        args = (
            self.storage,
            self.offset,
            tuple(self.shape),
            tuple(self.stride),
            False,
            collections.OrderedDict(),
        )
        if self.parameter:
            inner = Tensor(self.storage, self.offset, self.shape, self.stride)
            return (_rebuild_parameter, (inner, True, collections.OrderedDict()))
        return (_rebuild_tensor_v2, args)

    def values(self):
        """The tensor's elements as float64, row-major (what a reader must produce)."""
        d = self.storage.data
        if self.storage.bf16:
            d = (d.astype(np.uint32) << 16).view(np.float32)
        idx = np.full(self.shape, self.offset, dtype=np.int64)
        for k, (n, s) in enumerate(zip(self.shape, self.stride)):
            shape = [1] * len(self.shape)
            shape[k] = n
            idx = idx + (np.arange(n) * s).reshape(shape)
        return d[idx]


def contiguous(data, shape, bf16=False):
    stride, acc = [], 1
    for n in reversed(shape):
        stride.insert(0, acc)
        acc *= n
    return Tensor(Storage(data.reshape(-1), bf16), 0, list(shape), stride)


def pickler(buf, protocol, keys, legacy):
    p = pickle.Pickler(buf, protocol=protocol)

    def persistent_id(obj):
        if not isinstance(obj, Storage):
            return None
        key = keys.setdefault(id(obj), (str(len(keys)), obj))[0]
        pid = ("storage", obj.cls(), key, "cpu", obj.data.size)
        return pid + (None,) if legacy else pid

    p.persistent_id = persistent_id
    return p


def storage_bytes(s, big=False):
    d = s.data
    return (d.byteswap() if big else d).tobytes()


def save_zip(obj, path, protocol=2, big=False, compress_data=False):
    """torch.save(obj, path) with the zip format."""
    name = os.path.splitext(os.path.basename(path))[0]
    keys = {}
    buf = io.BytesIO()
    pickler(buf, protocol, keys, legacy=False).dump(obj)
    records = [("data.pkl", buf.getvalue()), (".format_version", b"1"),
               (".storage_alignment", b"64"), ("byteorder", b"big" if big else b"little")]
    for key, s in sorted(keys.values(), key=lambda ks: ks[0]):
        records.append((f"data/{key}", storage_bytes(s, big)))
    records += [("version", b"3\n"), (".data/serialization_id", b"0" * 40)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for rec, data in records:
            info = zipfile.ZipInfo(f"{name}/{rec}", date_time=(1980, 1, 1, 0, 0, 0))
            if compress_data and rec.startswith("data/"):
                info.compress_type = zipfile.ZIP_DEFLATED
            # Pad the local header with an extra field so the data starts 64-byte aligned,
            # as PyTorch's writer does.
            here = z.fp.tell() + 30 + len(info.filename.encode())
            pad = (-(here + 4)) % 64
            info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
            z.writestr(info, data)


def save_legacy(obj, path, protocol=2):
    """torch.save(obj, path, _use_new_zipfile_serialization=False)."""
    keys = {}
    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=protocol)
        pickle.dump(1001, f, protocol=protocol)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=protocol)
        pickler(f, protocol, keys, legacy=True).dump(obj)
        order = sorted(keys.values(), key=lambda ks: ks[0])
        pickle.dump([k for k, _ in order], f, protocol=protocol)
        for _, s in order:
            f.write(struct.pack("<q", s.data.size))
            f.write(storage_bytes(s))


# ---------------------------------------------------------------- safetensors reference
def save_safetensors(tensors, path):
    """tensors: list of (name, dtype name, shape, bytes), written in this order."""
    header, data = {}, b""
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def st_entry(name, t):
    v = t.values()
    if t.storage.bf16:
        bits = (v.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        return (name, "BF16", t.shape, bits.tobytes())
    dt = {np.float32: "F32", np.float16: "F16", np.float64: "F64", np.int64: "I64"}[v.dtype.type]
    return (name, dt, t.shape, np.ascontiguousarray(v).tobytes())


# ---------------------------------------------------------------- the model
def model(rng):
    fc1 = contiguous(rng.standard_normal((16, 24)).astype(np.float32), (16, 24))
    # One storage holding two weights: the second is at offset 16*20.
    shared = Storage(rng.standard_normal(2 * 16 * 20).astype(np.float32))
    bf = rng.standard_normal((12, 16)).astype(np.float32)
    bf_bits = (bf.view(np.uint32) >> 16).astype(np.uint16)
    sd = collections.OrderedDict()
    sd["features.0.weight"] = contiguous(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), (8, 3, 3, 3))
    sd["features.0.bias"] = contiguous(rng.standard_normal(8).astype(np.float32), (8,))
    sd["fc1.weight"] = fc1
    sd["fc1.bias"] = contiguous(rng.standard_normal(16).astype(np.float32), (16,))
    # The transpose of fc1.weight: same storage, strides (1, 24): not contiguous.
    sd["fc1_t.weight"] = Tensor(fc1.storage, 0, [24, 16], [1, 24])
    sd["a.weight"] = Tensor(shared, 0, [16, 20], [20, 1])
    sd["b.weight"] = Tensor(shared, 16 * 20, [16, 20], [20, 1], parameter=True)
    # Every other column of b.weight's storage region: offset + strides, not contiguous.
    sd["b_cols.weight"] = Tensor(shared, 16 * 20 + 1, [16, 10], [20, 2])
    sd["fc2.weight"] = contiguous(rng.standard_normal((10, 16)).astype(np.float16), (10, 16))
    sd["fc3.weight"] = contiguous(bf_bits, (12, 16), bf16=True)
    sd["fc4.weight"] = contiguous(rng.standard_normal((9, 20)), (9, 20))
    sd["ints.weight"] = contiguous(rng.integers(0, 100, (10, 10)).astype(np.int64), (10, 10))
    sd["bn.num_batches_tracked"] = contiguous(np.array([7], dtype=np.int64), ())
    # nn.Module.state_dict() attaches version metadata: pickled as BUILD state.
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("fc1", {"version": 1})])
    return sd


def write_torch(rng):
    sd = model(rng)
    save_safetensors([st_entry(k, t) for k, t in sd.items()], f"{OUT}/torch_reference.safetensors")
    save_zip(sd, f"{OUT}/torch_zip.pt")
    save_zip(sd, f"{OUT}/torch_zip_p4.pth", protocol=4)
    save_zip(sd, f"{OUT}/torch_zip_big_endian.pt", big=True)
    save_legacy(sd, f"{OUT}/torch_legacy.bin")
    # Lightning-style nesting: optimizer state holds tensors too, hyper_parameters plain data.
    opt = {"state": {0: {"exp_avg": contiguous(np.ones((16, 24), np.float32), (16, 24))}}}
    ckpt = {"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.1.0",
            "state_dict": sd, "optimizer_states": [opt], "hyper_parameters": {"lr": 0.1},
            "ema": collections.OrderedDict(
                [("fc1.weight", contiguous(np.full((16, 24), 0.5, np.float32), (16, 24)))])}
    save_zip(ckpt, f"{OUT}/lightning.ckpt")
    # Hugging Face shards: two legacy-free zip files and the index.
    os.makedirs(f"{OUT}/hf_sharded", exist_ok=True)
    names = list(sd)
    parts = [collections.OrderedDict((k, sd[k]) for k in names[:6]),
             collections.OrderedDict((k, sd[k]) for k in names[6:])]
    weight_map = {}
    for i, part in enumerate(parts):
        fname = f"pytorch_model-0000{i + 1}-of-00002.bin"
        save_zip(part, f"{OUT}/hf_sharded/{fname}")
        weight_map.update({k: fname for k in part})
    with open(f"{OUT}/hf_sharded/pytorch_model.bin.index.json", "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": dict(sorted(weight_map.items()))}, f,
                  indent=2)
    # The same shards' tensors in index (sorted) order, for comparison.
    save_safetensors([st_entry(k, sd[k]) for k in sorted(weight_map)],
                     f"{OUT}/hf_sharded_reference.safetensors")
    # A re-packed archive whose storages are deflated.
    save_zip(sd, f"{OUT}/torch_zip_deflated.pt", compress_data=True)


def write_two_dicts(rng):
    """Two state dicts of the same layout under the keys "model" and "ema" (a checkpoint
    with an EMA copy): only --key tells which one is analysed."""
    def sd():
        d = collections.OrderedDict()
        d["fc1.weight"] = contiguous(rng.standard_normal((24, 16)).astype(np.float32), (24, 16))
        d["fc2.weight"] = contiguous(rng.standard_normal((16, 24)).astype(np.float32), (16, 24))
        return d
    save_zip({"model": sd(), "ema": sd()}, f"{OUT}/two_dicts.pt")


# ---------------------------------------------------------------- GGUF
def write_gguf(rng):
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf import quants

    w = gguf.GGUFWriter(f"{OUT}/model.gguf", "llama")
    w.add_block_count(1)
    w.add_uint32("test.answer", 42)
    w.add_array("test.list", ["a", "b", "c"])
    ref = []

    def add(name, shape, qtype, raw=None):
        """shape is the PyTorch shape [rows, cols]; ggml's ne is its reverse."""
        if raw is None:
            x = rng.standard_normal(shape).astype(np.float32)
            raw = quants.quantize(x, qtype)
        w.add_tensor(name, raw, raw_dtype=qtype)
        deq = quants.dequantize(raw, qtype).astype(np.float32)
        assert list(deq.shape) == list(shape), (name, deq.shape, shape)
        # The reference keeps plain float types as they are and holds quantized ones as the
        # f32 values llama.cpp's own dequantizer gives.
        if qtype in (T.F16, T.BF16):
            ref.append((name, qtype.name, list(shape), raw.tobytes()))
        else:
            ref.append((name, "F32", list(shape), deq.astype("<f4").tobytes()))

    add("blk.0.f32.weight", (16, 64), T.F32)
    add("blk.0.f16.weight", (16, 64), T.F16)
    add("blk.0.bf16.weight", (16, 64), T.BF16)
    for t in [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]:
        add(f"blk.0.{t.name.lower()}.weight", (16, 64), t)
    for t in [T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]:
        block, size = gguf.GGML_QUANT_SIZES[t]
        rows, cols = 12, 512
        raw = rng.integers(0, 256, (rows, cols // block * size), dtype=np.uint8)
        # Keep every f16 scale finite and small: overwrite the scale fields.
        blocks = raw.reshape(-1, size)
        scale_at = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}[t]
        for at in scale_at:
            d = (rng.uniform(0.001, 0.05, blocks.shape[0])).astype(np.float16)
            blocks[:, at:at + 2] = d.view(np.uint8).reshape(-1, 2)
        add(f"blk.0.{t.name.lower()}.weight", (rows, cols), t, raw)
    add("output_norm.weight", (64,), T.F32)
    # A type htdiag does not dequantize, last: listed and skipped (absent from the reference).
    iq = rng.integers(0, 256, (16, 2 * 18), dtype=np.uint8)
    w.add_tensor("blk.0.iq4_nl.weight", iq, raw_dtype=T.IQ4_NL)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    entries = ref
    save_safetensors(entries, f"{OUT}/gguf_reference.safetensors")


def write_fuzz_seeds(rng):
    """Small seeds for the fuzz targets (fuzz/corpus/torch_open, fuzz/corpus/gguf_open)."""
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf import quants

    d = os.path.join("fuzz", "corpus")
    w = contiguous(rng.standard_normal((2, 3)).astype(np.float32), (2, 3))
    sd = collections.OrderedDict([("w", w), ("t", Tensor(w.storage, 1, [3, 1], [1, 3]))])
    save_zip(sd, f"{d}/torch_open/seed_small.pt")
    save_legacy(sd, f"{d}/torch_open/seed_small_legacy.pt")
    save_zip(sd, f"{d}/torch_open/seed_small_p5.pt", protocol=5)
    g = gguf.GGUFWriter(f"{d}/gguf_open/seed_small.gguf", "llama")
    g.add_tensor("q8", quants.quantize(rng.standard_normal((1, 32)).astype(np.float32), T.Q8_0),
                 raw_dtype=T.Q8_0)
    for t, size in [(T.Q4_K, 144), (T.Q6_K, 210), (T.Q3_K, 110)]:
        raw = rng.integers(0, 256, (1, size), dtype=np.uint8)
        g.add_tensor(t.name, raw, raw_dtype=t)
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()


def write_bench(out, blocks, rng):
    """Bench checkpoints (examples/bench_formats.rs): BERT-base-shaped blocks, the same f32
    weights as safetensors, a torch.save zip and a legacy file; the same weights as Q8_0 and
    as random Q4_K blocks in GGUF, each with its dequantized safetensors twin."""
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf import quants

    os.makedirs(out, exist_ok=True)
    shapes = []
    for b in range(blocks):
        for q in ["query", "key", "value", "output"]:
            shapes.append((f"layer.{b}.attention.{q}.weight", (768, 768)))
        shapes += [(f"layer.{b}.intermediate.weight", (3072, 768)),
                   (f"layer.{b}.output.weight", (768, 3072))]
    sd = collections.OrderedDict()
    for name, shape in shapes:
        x = (rng.standard_t(3, shape) * 0.02).astype(np.float32)
        sd[name] = contiguous(x, shape)
    save_safetensors([st_entry(k, t) for k, t in sd.items()], f"{out}/model.safetensors")
    save_zip(sd, f"{out}/model_zip.bin")
    save_legacy(sd, f"{out}/model_legacy.bin")
    for qtype in [T.Q8_0, T.Q4_K]:
        w = gguf.GGUFWriter(f"{out}/model_{qtype.name.lower()}.gguf", "bert")
        ref = []
        for name, t in sd.items():
            if qtype == T.Q8_0:
                raw = quants.quantize(t.values(), qtype)
            else:
                rows, cols = t.shape
                raw = rng.integers(0, 256, (rows, cols // 256 * 144), dtype=np.uint8)
                blk = raw.reshape(-1, 144)
                for at in (0, 2):
                    d = rng.uniform(0.0001, 0.001, blk.shape[0]).astype(np.float16)
                    blk[:, at:at + 2] = d.view(np.uint8).reshape(-1, 2)
            w.add_tensor(name, raw, raw_dtype=qtype)
            deq = quants.dequantize(raw, qtype).astype("<f4")
            ref.append((name, "F32", list(deq.shape), deq.tobytes()))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        save_safetensors(ref, f"{out}/model_{qtype.name.lower()}_reference.safetensors")


if __name__ == "__main__":
    if "--bench" in sys.argv:
        i = sys.argv.index("--bench")
        blocks = int(sys.argv[i + 2]) if len(sys.argv) > i + 2 else 2
        write_bench(sys.argv[i + 1], blocks, np.random.default_rng(16))
        sys.exit(0)
    os.makedirs(OUT, exist_ok=True)
    write_torch(np.random.default_rng(13))
    write_two_dicts(np.random.default_rng(17))
    if "--no-gguf" not in sys.argv:
        write_gguf(np.random.default_rng(14))
        write_fuzz_seeds(np.random.default_rng(15))
