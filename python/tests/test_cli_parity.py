"""htdiag.analyze gives exactly the numbers of `htdiag analyze --csv` (same columns, every value
equal, NaN where the CLI writes nan), for the shipped demo and the conformance checkpoint."""

import numpy as np
import pandas as pd
import pytest

import htdiag
from conftest import DEMO, REPO, SYNTH, cli_csv

# (analyze() keywords, the same options as CLI flags)
OPTIONS = [
    ({}, []),
    (
        dict(mp_fit=True, randomize=True, seed=7, fix_fingers="clip_xmax"),
        ["--mp-fit", "--randomize", "--seed", "7", "--fix-fingers", "clip_xmax"],
    ),
    (dict(fit="median", per_slice=True, min_evals=4), ["--fit", "median", "--per-slice", "--min-evals", "4"]),
    (dict(fit="peak"), ["--fit", "peak"]),
]
FORMATS = REPO / "tests" / "data" / "formats"


def same(ours, theirs):
    """Our value equals the CLI's cell (read back exactly; empty cells are NaN, or -1 in an
    integer column)."""
    if isinstance(ours, str):
        return ours == ("" if pd.isna(theirs) else theirs)
    if isinstance(ours, (int, np.integer)) and not isinstance(ours, bool) and pd.isna(theirs):
        return ours == -1  # integer columns hold WeightWatcher's -1 where the CSV is empty
    if pd.isna(ours) or pd.isna(theirs):
        return pd.isna(ours) and pd.isna(theirs)
    return float(ours) == float(theirs)


@pytest.mark.parametrize("checkpoint", [DEMO, SYNTH], ids=["demo", "synthetic"])
@pytest.mark.parametrize("kw,flags", OPTIONS, ids=["defaults", "mp-rand-fingers", "median-slices", "peak"])
def test_rows_equal_the_cli_csv(cli, tmp_path, checkpoint, kw, flags):
    assert_rows_equal_the_cli(cli, tmp_path, checkpoint, kw, flags)


@pytest.mark.parametrize("name", ["torch_zip.pt", "torch_legacy.bin", "model.gguf"])
def test_other_formats_equal_the_cli_csv(cli, tmp_path, name):
    """A path is opened as the command line opens it, whatever its format (PyTorch zip and
    legacy pickles, GGUF with dequantized tensors)."""
    assert_rows_equal_the_cli(cli, tmp_path, FORMATS / name, {}, [])


def assert_rows_equal_the_cli(cli, tmp_path, checkpoint, kw, flags):
    df = htdiag.analyze(str(checkpoint), progress=False, **kw)
    csv = cli_csv(cli, tmp_path, checkpoint, *flags)
    analysed = csv[csv["status"] != "skipped"].reset_index(drop=True)
    assert len(df) == len(analysed) > 0
    shared = [c for c in analysed.columns if c in df.columns]
    # Every CLI column is in the frame (the frame adds WeightWatcher's has_esd, longname, dtype).
    assert set(analysed.columns) - set(shared) == set()
    compared = 0
    for col in shared:
        for i, (ours, theirs) in enumerate(zip(df[col], analysed[col])):
            assert same(ours, theirs), f"{checkpoint.name} row {i} ({df['name'][i]}) {col}: {ours!r} != {theirs!r}"
            compared += 1
    assert compared == len(df) * len(shared)
    # The skipped tensors are the CLI's, with the same reasons.
    skipped = csv[csv["status"] == "skipped"]
    assert [(s["name"], s["reason"]) for s in df.attrs["skipped"]] == list(
        zip(skipped["name"], skipped["message"])
    )


def test_conformance_checkpoint_analyses_the_reference_layers():
    """The same 20 layers WeightWatcher 0.7.7 analysed (README of the conformance folder)."""
    df = htdiag.analyze(str(SYNTH), progress=False)
    ref = pd.read_csv(SYNTH.with_name("synthetic-model_ww-0.7.7_details.csv"))
    strip = lambda n: n[: -len(".weight")] if n.endswith(".weight") else n  # noqa: E731
    assert sorted(map(strip, df["name"])) == sorted(ref["name"])
    ours = df.assign(key=df["name"].map(strip)).set_index("key")
    for _, r in ref.iterrows():
        assert ours.loc[r["name"], "alpha"] == pytest.approx(r["alpha"], rel=1e-6)


def test_weightwatcher_columns_and_dtypes():
    df = htdiag.analyze(str(DEMO), progress=False)
    ref = pd.read_csv(SYNTH.with_name("synthetic-model_ww-0.7.7_details.csv"))
    assert list(df.columns[: len(ref.columns)]) == list(ref.columns)
    assert list(df.columns[len(ref.columns) :]) == ["slice_id", "dtype", "message"]
    for col in ["layer_id", "M", "N", "matrix_rank", "num_evals", "num_pl_spikes", "rank_loss", "rf"]:
        assert df[col].dtype == "int64", col
    for col in ["D", "Q", "alpha", "alpha_weighted", "entropy", "lambda_max", "log_norm", "xmin"]:
        assert df[col].dtype == "float64", col
    assert df["has_esd"].dtype == bool and df["has_esd"].all()
    assert df["slice_id"].dtype == "Int64"
    assert list(df["name"]) == ["fc1.weight", "fc2.weight", "fc3.weight"]
