"""htdiag: spectral diagnostics of neural-network weights (heavy-tailed self-regularization,
Martin & Mahoney, JMLR 2021), computed by a Rust core with WeightWatcher 0.7.6's numbers.

    import htdiag
    df = htdiag.analyze("model.safetensors")      # or a state_dict, or a torch module
    htdiag.summary(df)                            # WeightWatcher's get_summary() keys
    htdiag.report(df, "report.html")              # the HTML report of `htdiag analyze`
    htdiag.esd(df, "fc1.weight")                  # a layer's eigenvalues

``from htdiag.compat import WeightWatcher`` gives WeightWatcher's own interface.
"""

import json

from . import _frame, _progress, _state
from ._htdiag import Result, __version__
from ._htdiag import analyze as _analyze
from ._htdiag import compare as _compare
from .errors import (
    CheckpointError,
    DataError,
    GpuError,
    HtdiagError,
    InvalidArgumentError,
    NumericalError,
    ResultFileError,
)

__all__ = [
    "analyze",
    "summary",
    "report",
    "compare",
    "esd",
    "load",
    "Result",
    "HtdiagError",
    "CheckpointError",
    "InvalidArgumentError",
    "NumericalError",
    "GpuError",
    "DataError",
    "ResultFileError",
    "__version__",
]

# WeightWatcher's get_summary() keys, in its order.
SUMMARY_KEYS = (
    "log_norm",
    "alpha",
    "alpha_weighted",
    "log_alpha_norm",
    "log_spectral_norm",
    "stable_rank",
)


class Rows(list):
    """The rows as a list of dicts (when pandas is not installed); ``attrs`` holds
    ``result`` and ``skipped`` as a DataFrame's would."""

    def __init__(self, rows, result):
        super().__init__(rows)
        self.attrs = {"result": result, "skipped": result.skipped}


def analyze(
    model,
    *,
    mp_fit=False,
    randomize=False,
    seed=0,
    fit="ks",
    fix_fingers=None,
    layers=None,
    min_evals=8,
    max_evals=15000,
    max_n=50000,
    per_slice=False,
    conv_scaling=True,
    small_n="ww076",
    xmin_window=None,
    threads=None,
    progress=True,
):
    """Analyses every weight matrix of ``model`` and returns one row per analysed layer.

    ``model``: a checkpoint path (a safetensors, PyTorch ``torch.save`` or GGUF file, a shard
    index, or a folder of such files; as ``htdiag analyze`` reads them), or a
    ``state_dict`` (a mapping of names to numpy arrays, PyTorch tensors, or anything with the
    buffer protocol / ``__array__`` / ``__dlpack__``; bf16 included), or a ``torch.nn.Module``.
    In-memory tensors are read in place (no copy when C-contiguous and little-endian) and must
    not change while the analysis runs.

    Options (same names and defaults as ``htdiag analyze --help``; the defaults reproduce
    WeightWatcher's ``analyze()``): ``mp_fit`` (Marchenko-Pastur bulk fit), ``randomize`` and
    ``seed`` (ESD of the entry-shuffled matrix), ``fit`` (``"ks"``: Clauset's KS-optimal
    xmin; ``"median"``; ``"peak"``: AlphaPruning's alpha_peak), ``fix_fingers`` (None or ``"clip_xmax"``), ``layers`` (a regex
    searched in tensor names, or a list of names and layer ids), ``min_evals``,
    ``max_evals``, ``max_n``, ``per_slice`` (one row per conv kernel position),
    ``conv_scaling``, ``small_n`` (``"ww076"`` or ``"ww0755"``), ``xmin_window``
    (``(lo, hi)``), ``threads`` (None: one per core).

    The analysis runs with the GIL released. ``progress``: True shows a tqdm bar (when tqdm
    is installed), a callable ``f(event, value)`` is called with ``("start", rows)`` and
    ``("row", name)``. Ctrl-C stops it after the layers in flight (KeyboardInterrupt).

    Returns a pandas DataFrame with WeightWatcher's ``details`` columns and dtypes plus
    ``slice_id``, ``dtype`` and ``message``; ``df.attrs["skipped"]`` lists the tensors not
    analysed and why, ``df.attrs["result"]`` is the full :class:`htdiag.Result`. Without
    pandas, a list of dicts with the same ``attrs``.

    Raises :class:`CheckpointError` for an unreadable checkpoint or tensor, and
    :class:`InvalidArgumentError` for bad options.
    """
    if fix_fingers is False:  # WeightWatcher's spelling of "no correction"
        fix_fingers = None
    return _frame_of(
        _run(
            model,
            progress,
            mp_fit=mp_fit,
            randomize=randomize,
            seed=seed,
            fit=fit,
            fix_fingers=fix_fingers,
            layers=layers,
            min_evals=min_evals,
            max_evals=max_evals,
            max_n=max_n,
            per_slice=per_slice,
            conv_scaling=conv_scaling,
            small_n=small_n,
            xmin_window=xmin_window,
            threads=threads,
        )
    )


def _run(model, progress, **opts):
    """The :class:`Result` of analysing ``model`` with ``opts``."""
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        source = model
    elif _state.is_state_dict(model):
        source = ("<state_dict>", _state.describe(model))
    else:
        raise TypeError(
            "htdiag.analyze: model must be a checkpoint path, a state_dict (mapping of names "
            f"to tensors) or a torch module, not {type(model).__name__}"
        )
    callback, close = _progress.make(progress)
    try:
        return _analyze(source, opts, callback)
    finally:
        close()


def _frame_of(result):
    if _frame.have_pandas():
        return _frame.details(result)
    return Rows(_frame.details(result), result)


def summary(details):
    """WeightWatcher's ``get_summary(details)``: the means of log_norm, alpha, alpha_weighted,
    log_alpha_norm, log_spectral_norm, stable_rank (and mp_softrank with ``mp_fit``) over the
    rows of ``details`` (a frame from :func:`analyze`, possibly filtered, or a Result).

    As htdiag's command line (METRICS.md section 5): rows whose power-law fit failed
    (alpha = -1) are left out of the alpha-based means, which WeightWatcher averages in.
    """
    result = _frame.result_of(details, "summary")
    rows = None
    if not isinstance(details, Result) and hasattr(details, "attrs"):
        rows = _row_keys(details)
    full = json.loads(result.summary_json(rows))
    keys = SUMMARY_KEYS + (("mp_softrank",) if full.get("mp_softrank") is not None else ())
    return {k: float("nan") if full.get(k) is None else float(full[k]) for k in keys}


def _row_keys(details):
    """``[(layer_id, slice_id)]`` of the rows of a frame or list of dicts."""
    if isinstance(details, list):
        return [(r["layer_id"], r.get("slice_id")) for r in details]
    ids = [int(x) for x in details["layer_id"]]
    if "slice_id" not in details:
        return [(i, None) for i in ids]
    slices = [None if _is_missing(s) else int(s) for s in details["slice_id"]]
    return list(zip(ids, slices))


def _is_missing(x):
    if x is None or type(x).__name__ in ("NAType", "NaTType"):  # pandas' NA is not a bool
        return True
    return x != x


def report(result, path):
    """Writes the self-contained HTML report of ``result`` (a frame from :func:`analyze`, a
    Result, or a saved result's path) to ``path``, as ``htdiag analyze --report`` does."""
    _frame.result_of(result, "report").write_report(path)
    return path


def compare(a, b, *, report=None):
    """Compares two analyses (frames from :func:`analyze`, Results, or saved results' paths)
    as ``htdiag compare A B``: rows matched by tensor name and slice, metric deltas B - A.

    Returns a DataFrame with ``name, slice_id, layer_id_a, layer_id_b`` and ``{m}_a, {m}_b,
    {m}_delta`` per metric (alpha, alpha_weighted, D, log_norm, ...; NaN where a side lacks
    it), with ``attrs["summary"]`` (model means: ``{name: (a, b, delta)}``),
    ``attrs["only_in_a"]`` and ``attrs["only_in_b"]``; a dict of the same without pandas.
    ``report``: also write the HTML compare page there.
    """
    ra = _frame.result_of(a, "compare")
    rb = _frame.result_of(b, "compare")
    c = json.loads(_compare(ra, rb, None if report is None else str(report)))
    nan = float("nan")
    rows = []
    for m in c["matched"]:
        row = {
            "name": m["name"],
            "slice_id": m.get("slice_id"),
            "layer_id_a": m["layer_id_a"],
            "layer_id_b": m["layer_id_b"],
        }
        for name, pair in zip(c["metric_names"], m["metrics"]):
            for side in ("a", "b", "delta"):
                v = pair[side]
                row[f"{name}_{side}"] = nan if v is None else v
        rows.append(row)
    means = {
        s["name"]: tuple(nan if s[k] is None else s[k] for k in ("a", "b", "delta"))
        for s in c["summary"]
    }
    extra = {"summary": means, "only_in_a": c["only_in_a"], "only_in_b": c["only_in_b"]}
    if not _frame.have_pandas():
        return dict(rows=rows, **extra)
    import pandas as pd

    cols = ["name", "slice_id", "layer_id_a", "layer_id_b"] + [
        f"{m}_{s}" for m in c["metric_names"] for s in ("a", "b", "delta")
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["slice_id"] = df["slice_id"].astype("Int64")
    df.attrs.update(extra)
    return df


def esd(model, layer, *, slice_id=None, **options):
    """The eigenvalues of W^T W of one layer (ascending, after conv scaling) as a numpy array.

    ``model``: a frame from :func:`analyze` or a Result (read from it, nothing recomputed),
    or anything :func:`analyze` takes (then only that layer is analysed, with ``options``).
    ``layer``: the tensor name or its layer_id. Raises :class:`InvalidArgumentError` when the
    layer has no analysed row (with the reason it was skipped).
    """
    import numpy as np

    attrs = getattr(model, "attrs", None)
    if isinstance(model, Result) or (isinstance(attrs, dict) and "result" in attrs):
        result = _frame.result_of(model, "esd")
    elif isinstance(model, str) and model.endswith(".json"):
        result = Result.load(model)
    else:
        result = _run(model, options.pop("progress", False), layers=[layer], **options)
    return np.asarray(result.eigenvalues(layer, slice_id), dtype=np.float64)


def load(path):
    """Reads a result saved by ``Result.save`` or ``htdiag analyze --json``."""
    return Result.load(path)
