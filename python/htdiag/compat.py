"""WeightWatcher's interface over htdiag, so an existing notebook changes one line:

    from htdiag.compat import WeightWatcher   # was: from weightwatcher import WeightWatcher
    ww = WeightWatcher(model=path_or_state_dict_or_module)
    details = ww.analyze(mp_fit=True)
    ww.get_summary(details)

WeightWatcher's argument names are accepted for the options htdiag has (``layers``,
``min_evals``, ``max_evals``, ``max_N``, ``mp_fit``, ``randomize``, ``conv2d_norm``, ``pool``,
``fix_fingers``, ``fit``). Any other argument is ignored with a warning (``HtdiagCompatWarning``)
saying so, unless it is passed with WeightWatcher's default value.
"""

import warnings

from . import analyze as _analyze
from . import esd as _esd
from . import summary as _summary


class HtdiagCompatWarning(UserWarning):
    """A WeightWatcher argument htdiag does not implement was ignored."""


# WeightWatcher arguments htdiag does not implement, with the default value that makes them
# harmless (passing that value says nothing and is accepted silently).
_IGNORED_DEFAULTS = {
    # WeightWatcher(...)
    "framework": None,
    "base_model": None,
    "log_level": None,
    # analyze(...) / get_ESD(...), as in WeightWatcher 0.7.7
    "min_size": None,
    "max_size": None,
    "glorot_fix": False,
    "plot": False,
    "savefig": "ww-img",
    "ww2x": False,
    "conv2d_fft": False,
    "fft": False,
    "deltas": False,
    "intra": False,
    "vectors": False,
    "channels": None,
    "stacked": False,
    "xmin_max": None,
    "max_fingers": 10,
    "finger_thresh": 1.0,
    "sparsify": True,
    "detX": False,
    "ERG": False,
    "svd_method": "fast",
    "tolerance": 0.000001,
    "start_ids": 0,
    "pl_package": "ww",
    "xmax": None,
    "peft": False,
    "inverse": False,
    "random": False,
    "params": None,
}


def _warn_ignored(where, kwargs):
    for k, v in kwargs.items():
        if k in _IGNORED_DEFAULTS and _same(v, _IGNORED_DEFAULTS[k]):
            continue
        known = "a WeightWatcher option htdiag does not implement" if k in _IGNORED_DEFAULTS \
            else "not an option htdiag knows"
        warnings.warn(
            f"htdiag.compat.WeightWatcher.{where}: {k}={v!r} is {known}; ignored",
            HtdiagCompatWarning,
            stacklevel=3,
        )


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b) or a is b
    except Exception:  # noqa: BLE001 - arrays and other odd values are simply "different"
        return False


class WeightWatcher:
    """``weightwatcher.WeightWatcher`` backed by htdiag. ``model``: a checkpoint path, a
    ``state_dict`` or a torch module (see :func:`htdiag.analyze`). ``key`` (htdiag's, not
    WeightWatcher's): the dict of a nested PyTorch checkpoint holding the tensors, as
    :func:`htdiag.analyze`'s ``key``; used for every model this object analyses."""

    def __init__(self, model=None, key=None, **kwargs):
        _warn_ignored("__init__", kwargs)
        self.model = model
        self.key = key
        self.details = None

    def analyze(
        self,
        model=None,
        layers=None,
        min_evals=None,
        max_evals=None,
        max_N=None,
        mp_fit=False,
        randomize=False,
        conv2d_norm=True,
        pool=True,
        fix_fingers=None,
        fit="PL",
        threads=None,
        progress=True,
        **kwargs,
    ):
        """The per-layer details frame (see :func:`htdiag.analyze`). ``pool=False`` analyses
        conv layers one kernel position at a time; ``layers``: tensor names or htdiag
        layer_ids (positions in checkpoint order), or a regex."""
        _warn_ignored("analyze", kwargs)
        model = self._model(model)
        opts = {}
        if min_evals is not None:
            opts["min_evals"] = min_evals
        if max_evals is not None:
            opts["max_evals"] = max_evals
        if max_N is not None:
            opts["max_n"] = max_N
        if fix_fingers is False:  # WeightWatcher's default
            fix_fingers = None
        self.details = _analyze(
            model,
            key=self.key,
            layers=list(layers) if isinstance(layers, (list, tuple)) else layers,
            mp_fit=mp_fit,
            randomize=randomize,
            conv_scaling=conv2d_norm,
            per_slice=not pool,
            fix_fingers=fix_fingers,
            fit=fit,
            threads=threads,
            progress=progress,
            **opts,
        )
        return self.details

    def get_details(self):
        """The frame of the last :meth:`analyze`."""
        return self.details

    def get_summary(self, details=None):
        """WeightWatcher's summary keys (means; see :func:`htdiag.summary`)."""
        details = self.details if details is None else details
        if details is None:
            raise ValueError("get_summary: call analyze() first or pass its details")
        return _summary(details)

    def get_ESD(self, model=None, layer=None, **kwargs):
        """The eigenvalues of one layer (a tensor name or htdiag layer_id), ascending."""
        _warn_ignored("get_ESD", kwargs)
        if layer is None:
            raise ValueError("get_ESD: give layer= (a tensor name or layer_id)")
        if model is None and self.details is not None:
            return _esd(self.details, layer)
        return _esd(self._model(model), layer, key=self.key)

    def _model(self, model):
        model = self.model if model is None else model
        if model is None:
            raise ValueError("WeightWatcher: no model given (WeightWatcher(model=...))")
        return model
