#!/usr/bin/env python3
"""Cross-check of htdiag's AlphaPruning / TempBalance estimators against a small numpy
re-implementation written from docs/spec/ALLOCATION.md sections 2 and 3 (float32 throughout,
as their code). Not run by CI (the Rust tests are); run it by hand:

    cargo build --release
    python3 scripts/alloc_crosscheck.py target/release/htdiag

It writes a checkpoint of heavy-tailed random Linear layers (and one rank-deficient layer),
runs `htdiag analyze --rules alphapruning --json` (peak) and `--rules tempbalance` (median),
takes htdiag's f64 eigenvalues from the JSON (the SVD is not under test here), rounds them as
their pipeline does (float32 singular values, squared in float32) and recomputes alpha, D and
xmin in numpy. Sums are numpy's float32 pairwise sums, so alpha may differ in the last ulp.
"""
import json
import struct
import subprocess
import sys
import tempfile

import numpy as np

f32 = np.float32


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors:
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def tail_fit(l, i):
    n = f32(len(l) - i)
    logs = np.log(l)
    alpha = f32(1) + n / (np.sum(logs[i:], dtype=f32) - n * logs[i])
    if not alpha > 1:
        return alpha, f32(1)
    k = np.arange(len(l) - i, dtype=f32)
    d = np.max(np.abs(f32(1) - (l[i:] / l[i]) ** (f32(1) - alpha) - k / n))
    return alpha, d


def mid(l):
    i = len(l) // 2
    if l[i] <= 0:
        return None  # log(0) in the tail: alpha is NaN
    a, d = tail_fit(l, i)
    return a, d, l[i]


def peak(l):
    if l[0] <= 0:
        return None  # log10(0): torch.histc refuses the range
    h = np.log10(l)
    lo, hi = h[0], h[-1]
    pos = ((h - lo) * f32(100) / (hi - lo)).astype(np.int64)
    counts = np.bincount(np.minimum(pos, 99), minlength=100)
    step = (hi - lo) / f32(100)
    edges = [lo + step * f32(k) if k < 50 else hi - step * f32(100 - k) for k in range(101)]
    p = f32(10) ** edges[int(np.argmax(counts))]
    lower, upper = np.log10(f32(0.95) * p), f32(1.5) * p
    alphas = np.zeros(len(l) - 1, dtype=f32)
    ds = np.ones(len(l) - 1, dtype=f32)
    for c in range(len(l) - 1):
        if l[c] < lower:
            continue
        if l[c] > upper:
            break
        alphas[c], ds[c] = tail_fit(l, c)
    b = int(np.argmin(ds))
    return alphas[b], ds[b], l[b]


def their_eigenvalues(evals):
    s = np.sqrt(np.asarray(evals, dtype=np.float64)).astype(f32)
    return np.sort(s * s)


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else "htdiag"
    rng = np.random.default_rng(0)
    tensors = []
    for b in range(4):
        for name, (r, c) in {"q": (96, 96), "up": (192, 96), "down": (96, 192)}.items():
            w = rng.standard_t(df=2.0 + b, size=(r, c)) * 0.05
            tensors.append((f"model.layers.{b}.{name}.weight", w))
    low = rng.normal(size=(64, 8)) @ rng.normal(size=(8, 64))  # rank 8 of 64
    tensors.append(("model.layers.4.lowrank.weight", low))
    with tempfile.TemporaryDirectory() as d:
        ck = f"{d}/m.safetensors"
        write_safetensors(ck, tensors)
        worst = {}
        for rules, est in (("alphapruning", peak), ("tempbalance", mid)):
            out = f"{d}/{rules}.json"
            subprocess.run([exe, "analyze", ck, "--rules", rules, "--json", out, "-q"], check=True)
            res = json.load(open(out))
            for row in res["layers"]:
                l = their_eigenvalues(row["eigenvalues"])
                got = est(l)
                fit = row.get("fit") or {}
                ours = fit.get("alpha")
                if got is None or row["status"] != "success":
                    print(f"{rules:13s} {row['name']:32s} htdiag: {row['status']}: {row.get('message')}"
                          f"; numpy: {'fails' if got is None else got}")
                    continue
                a, dd, xmin = got
                ra = abs(float(ours) - float(a)) / abs(float(a))
                rd = abs(float(fit["D"]) - float(dd)) / max(abs(float(dd)), 1e-30)
                same = float(fit["xmin"]) == float(xmin)
                worst[rules] = max(worst.get(rules, 0.0), ra)
                print(f"{rules:13s} {row['name']:32s} alpha {float(ours):.7g} numpy {float(a):.7g} "
                      f"rel {ra:.1e}  D rel {rd:.1e}  same xmin {same}")
        print("max relative alpha difference:", worst)


if __name__ == "__main__":
    main()
