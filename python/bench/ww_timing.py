#!/usr/bin/env python3
"""Times htdiag.analyze against weightwatcher.WeightWatcher().analyze() on the same checkpoint
in one Python process, single-threaded and with default threads, and checks that their alphas
agree (README, "Python").

Setup (PyPI only; WeightWatcher reads safetensors through torch):
    python3 -m venv /tmp/pyvenv && /tmp/pyvenv/bin/pip install weightwatcher torch maturin
    (cd python && VIRTUAL_ENV=/tmp/pyvenv /tmp/pyvenv/bin/maturin develop --release)
Run:
    /tmp/pyvenv/bin/python python/bench/ww_timing.py FOLDER [--reps N] [--mp-fit]

FOLDER holds one `model.safetensors` (WeightWatcher's folder rule). Single-threaded means
htdiag with threads=1 and every BLAS/OpenMP pool of the process (numpy's, scipy's, torch's)
limited to one thread with threadpoolctl; "default" leaves both tools as they come (htdiag:
one worker per core; WeightWatcher: whatever its BLAS uses). Best of N runs each.
"""

import argparse
import glob
import os
import time


def best_of(reps, f):
    best, out = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def strip_weight(name):
    return name[: -len(".weight")] if name.endswith(".weight") else name


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--mp-fit", action="store_true")
    a = ap.parse_args()

    import htdiag
    import weightwatcher as ww
    from threadpoolctl import threadpool_limits

    (checkpoint,) = glob.glob(os.path.join(a.folder, "model*.safetensors"))
    print(f"htdiag {htdiag.__version__}, weightwatcher {ww.__version__}, {os.cpu_count()} cores,"
          f" load average {os.getloadavg()[0]:.1f}")
    for label, threads in (("single-threaded", 1), ("default threads", None)):
        with threadpool_limits(limits=threads):
            t_h, df = best_of(
                a.reps,
                lambda: htdiag.analyze(checkpoint, threads=threads, mp_fit=a.mp_fit, progress=False),
            )
            t_w, details = best_of(
                a.reps, lambda: ww.WeightWatcher(model=a.folder).analyze(mp_fit=a.mp_fit)
            )
        ours = {strip_weight(n): x for n, x in zip(df["name"], df["alpha"])}
        worst, compared = 0.0, 0
        for name, alpha in zip(details["name"], details["alpha"]):
            name = strip_weight(str(name))
            if name in ours:
                worst = max(worst, abs(alpha - ours[name]) / max(abs(alpha), 1e-300))
                compared += 1
        print(
            f"{label}: htdiag.analyze {t_h:.2f} s, WeightWatcher.analyze {t_w:.2f} s, "
            f"speed-up {t_w / t_h:.1f}x; {compared}/{len(details)} layers compared, "
            f"max relative alpha difference {worst:.1e}"
        )


if __name__ == "__main__":
    main()
