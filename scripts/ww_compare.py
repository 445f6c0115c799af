#!/usr/bin/env python3
"""Times WeightWatcher 0.7.6 against `htdiag analyze` on one checkpoint folder and checks that
their alphas agree (README, "Performance").

Setup (PyPI only; WeightWatcher reads safetensors through torch, so torch is needed too):
    python3 -m venv /tmp/wwvenv && /tmp/wwvenv/bin/pip install weightwatcher==0.7.6 torch
    cargo build --release
    cargo run --release --example bench_analyze -- --write /tmp/bert-base-synth
Run:
    /tmp/wwvenv/bin/python scripts/ww_compare.py /tmp/bert-base-synth [--htdiag target/release/htdiag]
                                                 [--mp-fit] [--reps N]

The folder must hold `model*.safetensors` (WeightWatcher's folder rule). Each tool runs `reps`
times (default 1); the best wall time is reported. htdiag runs with its defaults (all cores);
WeightWatcher with its defaults (numpy/scipy, whatever threads their BLAS uses).
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time


def time_ww(folder, mp_fit, reps):
    import weightwatcher as ww

    best, details = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        watcher = ww.WeightWatcher(model=folder)
        details = watcher.analyze(mp_fit=mp_fit)
        best = min(best, time.perf_counter() - t0)
    return best, details


def time_htdiag(binary, folder, mp_fit, reps):
    best, rows = float("inf"), None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "details.csv")
        cmd = [binary, "analyze", folder, "--quiet", "--csv", out]
        if mp_fit:
            cmd.append("--mp-fit")
        for _ in range(reps):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - t0)
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
    return best, rows


def strip_weight(name):
    return name[: -len(".weight")] if name.endswith(".weight") else name


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--htdiag", default="target/release/htdiag")
    ap.add_argument("--mp-fit", action="store_true")
    ap.add_argument("--reps", type=int, default=1)
    a = ap.parse_args()

    t_h, rows = time_htdiag(a.htdiag, a.folder, a.mp_fit, a.reps)
    t_w, details = time_ww(a.folder, a.mp_fit, a.reps)

    ours = {strip_weight(r["name"]): r for r in rows}
    worst, compared, missing = 0.0, 0, []
    worst_sigma = 0.0
    for _, r in details.iterrows():
        name = strip_weight(str(r["name"]))
        if name not in ours:
            missing.append(name)
            continue
        a_ww, a_h = float(r["alpha"]), float(ours[name]["alpha"])
        worst = max(worst, abs(a_ww - a_h) / max(abs(a_ww), 1e-300))
        if a.mp_fit and "sigma_mp" in r and ours[name].get("sigma_mp", "") != "":
            s_ww, s_h = float(r["sigma_mp"]), float(ours[name]["sigma_mp"])
            worst_sigma = max(worst_sigma, abs(s_ww - s_h) / max(abs(s_ww), 1e-300))
        compared += 1

    print(f"checkpoint      : {a.folder}")
    print(f"mp_fit          : {a.mp_fit}")
    print(f"WeightWatcher   : {t_w:8.2f} s  ({len(details)} layers)")
    print(f"htdiag analyze  : {t_h:8.2f} s  ({len(rows)} rows)")
    print(f"speed-up        : {t_w / t_h:8.1f}x")
    print(f"alpha agreement : {compared} layers compared, max relative difference {worst:.2e}")
    if a.mp_fit:
        print(f"sigma_mp        : max relative difference {worst_sigma:.2e}")
    if missing:
        print(f"not in htdiag's output: {missing}")
    return 0 if compared > 0 and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
