"""htdiag: spectral diagnostics of neural-network weights (heavy-tailed self-regularization,
Martin & Mahoney, JMLR 2021), computed by a Rust core with WeightWatcher 0.7.6's numbers.

    import htdiag
    df = htdiag.analyze("model.safetensors")      # or a state_dict, or a torch module
    htdiag.summary(df)                            # WeightWatcher's get_summary() keys
    htdiag.report(df, "report.html")              # the HTML report of `htdiag analyze`
    htdiag.esd(df, "fc1.weight")                  # a layer's eigenvalues
    htdiag.inspect("last.ckpt", key="state_dict") # the tensors, from the headers alone

``from htdiag.compat import WeightWatcher`` gives WeightWatcher's own interface.
"""

import json

from . import _frame, _progress, _state
from ._htdiag import Result, __version__
from ._htdiag import analyze as _analyze
from ._htdiag import compare as _compare
from ._htdiag import inspect as _inspect
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
    "inspect",
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
    """The rows as a list of dicts (when pandas is not installed), with the ``attrs`` a
    DataFrame's would hold (``result``, ``skipped``, ``notes``)."""

    def __init__(self, rows, attrs):
        super().__init__(rows)
        self.attrs = attrs


def analyze(
    model,
    *,
    key=None,
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
    not change while the analysis runs. A PEFT LoRA adapter (a folder holding
    ``adapter_config.json``, or its ``adapter_model.*`` file) gives one row per adapted module,
    the spectrum of its update ``(lora_alpha / r) B A``, as ``htdiag analyze ADAPTER`` does.

    ``key``: in a nested PyTorch checkpoint (a Lightning ``.ckpt``, ``{"model": ...,
    "optimizer": ...}``), the dict holding the tensors, ``"/"`` between the keys of nested
    dicts (``"state_dict"``, ``"model/ema"``); the command line's ``--key``. Without it the
    tensor dict is found automatically (the top level when it holds tensors, else
    ``state_dict``, ``model``, ..., else the entry with the most tensors) and
    ``df.attrs["notes"]`` says which key was used. For a ``state_dict`` mapping given in memory
    (e.g. ``torch.load("last.ckpt")``), ``key`` picks the nested mapping the same way. A key
    that is not there raises :class:`CheckpointError` (a file) or
    :class:`InvalidArgumentError` (a mapping) naming it and the keys there are.

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
    analysed and why, ``df.attrs["result"]`` is the full :class:`htdiag.Result`,
    ``df.attrs["notes"]`` what opening the file noted (the dict key used, GGUF
    dequantization). Without pandas, a list of dicts with the same ``attrs``.

    Raises :class:`CheckpointError` for an unreadable checkpoint or tensor, and
    :class:`InvalidArgumentError` for bad options.
    """
    if fix_fingers is False:  # WeightWatcher's spelling of "no correction"
        fix_fingers = None
    return _frame_of(
        _run(
            model,
            progress,
            key,
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


def _run(model, progress, key, **opts):
    """The :class:`Result` of analysing ``model`` with ``opts``."""
    source, key = _source(model, key, "analyze")
    callback, close = _progress.make(progress)
    try:
        return _analyze(source, opts, callback, key)
    finally:
        close()


def _source(model, key, what):
    """``(source, key)`` for the Rust core: a path with the ``key`` it is opened with, or the
    description of in-memory tensors (a nested mapping resolved by ``key`` first)."""
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        return model, key
    if not _state.is_state_dict(model):
        raise TypeError(
            f"htdiag.{what}: model must be a checkpoint path, a state_dict (mapping of names "
            f"to tensors) or a torch module, not {type(model).__name__}"
        )
    if key is not None:
        model = _state.select(model, key)
    else:
        _state.check_not_nested(model)
    return ("<state_dict>", _state.describe(model)), None


def inspect(model, *, key=None):
    """The tensors of a checkpoint from its headers alone (nothing is analysed), as
    ``htdiag inspect``: ``layer_id`` (the id :func:`analyze` gives the tensor), ``name``,
    ``dtype`` (a GGUF tensor's ggml type, e.g. ``Q4_K``), ``shape``, ``parameters``, ``bytes``
    (as stored, e.g. quantized) and ``file``.

    ``model``: a path (any checkpoint :func:`analyze` reads; a LoRA adapter's factors are
    listed as tensors) or an in-memory ``state_dict``; ``key`` as for :func:`analyze`.
    Returns a DataFrame (a list of dicts without pandas) with ``attrs["notes"]``.
    """
    source, key = _source(model, key, "inspect")
    text, notes = _inspect(source, key)
    rows = json.loads(text)
    if not _frame.have_pandas():
        return Rows(rows, {"notes": notes})
    import pandas as pd

    cols = ["layer_id", "name", "dtype", "shape", "parameters", "bytes", "file"]
    df = pd.DataFrame(rows, columns=cols)
    df.attrs["notes"] = notes
    return df


def _frame_of(result):
    if _frame.have_pandas():
        return _frame.details(result)
    attrs = {"result": result, "skipped": result.skipped, "notes": result.notes}
    return Rows(_frame.details(result), attrs)


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
    ``layer``: the tensor name or its layer_id; ``key`` (in ``options``) as for
    :func:`analyze`. Raises :class:`InvalidArgumentError` when the
    layer has no analysed row (with the reason it was skipped).
    """
    import numpy as np

    attrs = getattr(model, "attrs", None)
    if isinstance(model, Result) or (isinstance(attrs, dict) and "result" in attrs):
        result = _frame.result_of(model, "esd")
    elif isinstance(model, str) and model.endswith(".json"):
        result = Result.load(model)
    else:
        progress = options.pop("progress", False)
        key = options.pop("key", None)
        result = _run(model, progress, key, layers=[layer], **options)
    return np.asarray(result.eigenvalues(layer, slice_id), dtype=np.float64)


def load(path):
    """Reads a result saved by ``Result.save`` or ``htdiag analyze --json``."""
    return Result.load(path)
