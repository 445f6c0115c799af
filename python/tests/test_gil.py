"""The analysis runs with the GIL released: another Python thread keeps running meanwhile;
progress reaches a Python callback once per row."""

import threading
import time

import numpy as np

import htdiag
from htdiag import _htdiag, _state


def big_state_dict():
    rng = np.random.default_rng(1)
    return {f"layer{i}.weight": rng.standard_normal((900, 700)).astype(np.float32) for i in range(6)}


def test_another_python_thread_runs_during_an_analysis():
    """The main thread notes every 10 ms slot in which it ran Python code while a second
    thread was inside the Rust call. Were the GIL held there, no slot strictly inside the call
    could be noted (a C call holding the GIL is never preempted; at most one switch interval
    slips in at either end); released, most of them are."""
    source = ("<state_dict>", _state.describe(big_state_dict()))
    done = threading.Event()
    span = {}

    def work():
        span["t0"] = time.perf_counter()
        span["result"] = _htdiag.analyze(source, {"threads": 1}, None)
        span["t1"] = time.perf_counter()
        done.set()

    slots = set()
    worker = threading.Thread(target=work)
    worker.start()
    while not done.is_set():
        slots.add(int(time.perf_counter() * 100))  # pure Python: needs the GIL
    worker.join()
    assert len(span["result"]) == 6
    first, last = int(span["t0"] * 100) + 2, int(span["t1"] * 100) - 2
    inside = [s for s in slots if first <= s <= last]
    expected = last - first + 1
    assert expected >= 15, f"analysis too short to tell: {span['t1'] - span['t0']:.3f} s"
    assert len(inside) >= max(5, 0.2 * expected), (len(inside), expected)


def test_progress_callback_hears_every_row():
    events = []
    df = htdiag.analyze(big_state_dict(), progress=lambda e, v: events.append((e, v)))
    assert events[0] == ("start", 6)
    rows = [v for e, v in events[1:] if e == "row"]
    assert sorted(rows) == sorted(df["name"]) and len(events) == 7


def test_an_exception_in_the_callback_stops_the_run():
    def boom(event, value):
        if event == "row":
            raise RuntimeError("stop here")

    try:
        htdiag.analyze(big_state_dict(), threads=1, progress=boom)
    except RuntimeError as e:
        assert str(e) == "stop here"
    else:
        raise AssertionError("the callback's exception was swallowed")


def test_tqdm_bar_counts_rows(capsys):
    import pytest

    pytest.importorskip("tqdm")
    htdiag.analyze(big_state_dict(), progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err
