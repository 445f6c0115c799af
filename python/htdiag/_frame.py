"""Result -> pandas DataFrame in WeightWatcher's ``details`` layout (or a list of dicts when
pandas is not installed)."""


def have_pandas():
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def details(result):
    """The analysed rows of ``result``: a DataFrame with WeightWatcher's columns and dtypes
    (``attrs["result"]`` the :class:`htdiag.Result`, ``attrs["skipped"]`` the tensors not
    analysed, ``attrs["notes"]`` what opening the checkpoint noted), or without pandas a list of dicts (one per row)."""
    columns = result.columns()
    if not have_pandas():
        n = len(result)
        return [{name: values[i] for name, _, values in columns} for i in range(n)]
    import pandas as pd

    data = {}
    for name, kind, values in columns:
        data[name] = pd.Series(values, dtype=kind if kind != "object" else object)
    df = pd.DataFrame(data, columns=[c[0] for c in columns])
    df.attrs["result"] = result
    df.attrs["skipped"] = result.skipped
    df.attrs["notes"] = result.notes
    return df


def result_of(obj, what):
    """The :class:`htdiag.Result` behind ``obj`` (a Result, a frame from htdiag.analyze, or a
    path to a result saved as JSON)."""
    from ._htdiag import Result

    if isinstance(obj, Result):
        return obj
    attrs = getattr(obj, "attrs", None)
    if isinstance(attrs, dict) and isinstance(attrs.get("result"), Result):
        return attrs["result"]
    if isinstance(obj, (str, bytes)) or hasattr(obj, "__fspath__"):
        return Result.load(obj)
    raise TypeError(
        f"{what}: expected an htdiag.Result, a DataFrame returned by htdiag.analyze, or the "
        f"path of a saved result, not {type(obj).__name__}"
    )
