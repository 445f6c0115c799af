"""Bad input raises the documented exceptions, with the library's messages."""

import subprocess

import numpy as np
import pytest

import htdiag
from conftest import DEMO


def cli_error(cli, *args):
    """The message the command line prints for the same problem."""
    p = subprocess.run([str(cli), *args], capture_output=True, text=True)
    assert p.returncode != 0
    return p.stderr


def test_missing_file_is_a_checkpoint_error(cli, tmp_path):
    path = tmp_path / "nope.safetensors"
    with pytest.raises(htdiag.CheckpointError) as e:
        htdiag.analyze(str(path), progress=False)
    assert str(e.value).startswith(f"{path}: ")
    assert e.value.path == str(path) and e.value.tensor is None
    assert str(e.value) in cli_error(cli, "analyze", str(path), "--quiet")
    assert isinstance(e.value, htdiag.HtdiagError)


def test_truncated_file_names_the_problem(cli, tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(DEMO.read_bytes()[:5000])
    with pytest.raises(htdiag.CheckpointError) as e:
        htdiag.analyze(path, progress=False)  # a pathlib.Path works too
    msg = str(e.value)
    assert msg.startswith(f"{path}: ")
    assert msg in cli_error(cli, "analyze", str(path), "--quiet")


def test_bad_options_are_invalid_argument_errors():
    with pytest.raises(htdiag.InvalidArgumentError, match="fit='tpl'"):
        htdiag.analyze(str(DEMO), fit="TPL", progress=False)
    with pytest.raises(htdiag.InvalidArgumentError, match="clip_xmax"):
        htdiag.analyze(str(DEMO), fix_fingers="xmin_peak", progress=False)
    with pytest.raises(htdiag.InvalidArgumentError, match="id 99 out of range"):
        htdiag.analyze(str(DEMO), layers=[99], progress=False)
    with pytest.raises(htdiag.InvalidArgumentError, match="min_evals"):
        htdiag.analyze(str(DEMO), min_evals=-1, progress=False)
    with pytest.raises(ValueError):  # InvalidArgumentError is a ValueError
        htdiag.analyze(str(DEMO), xmin_window=(2.0, 1.0), progress=False)
    with pytest.raises(TypeError):
        htdiag.analyze(str(DEMO), bogus=1)
    with pytest.raises(TypeError, match="state_dict"):
        htdiag.analyze(42)


def test_a_tensor_with_nan_is_an_error_row_not_an_exception():
    w = np.ones((20, 30), np.float32)
    w[3, 4] = np.nan
    df = htdiag.analyze({"w": w, "ok": np.eye(20, dtype=np.float32)}, progress=False)
    row = df.set_index("name").loc["w"]
    assert row["status"] == "error"
    assert row["message"] == "non-finite weight NaN at element [3, 4]"
    assert np.isnan(row["alpha"]) and row["matrix_rank"] == -1


def test_unreadable_saved_result_is_a_result_file_error(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    with pytest.raises(htdiag.ResultFileError) as e:
        htdiag.load(str(bad))
    assert str(bad) in str(e.value)
