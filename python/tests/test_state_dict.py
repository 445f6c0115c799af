"""State dicts (numpy arrays, PyTorch tensors) give the same rows as the file they came from,
and their memory is read in place."""

import numpy as np
import pandas as pd
import pytest

import htdiag
from htdiag import _state
from conftest import DEMO, SYNTH, numpy_state_dict, read_safetensors


def frame_equal(a, b):
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs["skipped"] == b.attrs["skipped"]


@pytest.mark.parametrize("checkpoint", [DEMO, SYNTH], ids=["demo", "synthetic"])
def test_numpy_state_dict_gives_the_rows_of_the_file(checkpoint):
    from_file = htdiag.analyze(str(checkpoint), progress=False, mp_fit=True)
    from_memory = htdiag.analyze(numpy_state_dict(checkpoint), progress=False, mp_fit=True)
    frame_equal(from_file, from_memory)
    assert from_memory.attrs["result"].source == "<state_dict>"
    if checkpoint == SYNTH:  # the bf16 and f16 matrices were analysed from memory too
        dtypes = dict(zip(from_memory["name"], from_memory["dtype"]))
        assert dtypes["extra.bf16.weight"] == "BF16" and dtypes["extra.f16.weight"] == "F16"


def test_torch_state_dict_and_module_give_the_rows_of_the_file():
    torch = pytest.importorskip("torch")
    sd = {}
    for name, dtype, arr in read_safetensors(SYNTH):
        t = torch.from_numpy(arr.copy())
        sd[name] = t.view(torch.int16).view(torch.bfloat16) if dtype == "BF16" else t
    frame_equal(htdiag.analyze(str(SYNTH), progress=False), htdiag.analyze(sd, progress=False))

    # A module: its state_dict() is analysed; requires_grad tensors are fine.
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    with_grad = htdiag.analyze(model, progress=False)
    as_numpy = htdiag.analyze(
        {k: v.detach().numpy() for k, v in model.state_dict().items()}, progress=False
    )
    frame_equal(with_grad, as_numpy)
    assert list(with_grad["name"]) == ["0.weight", "2.weight"]
    assert [s["name"] for s in with_grad.attrs["skipped"]] == ["0.bias", "2.bias"]


def test_arrays_are_read_in_place():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    (name, dtype, shape, owner, address, nbytes), = _state.describe({"w": a})
    assert (name, dtype, shape, nbytes) == ("w", "F32", [3, 4], 48)
    assert owner is a and address == a.__array_interface__["data"][0]
    torch = pytest.importorskip("torch")
    t = torch.zeros(5, 6, dtype=torch.bfloat16)
    (_, dtype, _, owner, address, nbytes), = _state.describe({"t": t})
    assert (dtype, nbytes) == ("BF16", 60) and address == t.data_ptr()


def test_non_contiguous_and_big_endian_arrays_are_copied_correctly():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((40, 90))
    expected = htdiag.analyze({"w": np.ascontiguousarray(w.T)}, progress=False)
    transposed = htdiag.analyze({"w": w.T}, progress=False)  # a strided view
    big_endian = htdiag.analyze({"w": np.ascontiguousarray(w.T).astype(">f8")}, progress=False)
    frame_equal(expected, transposed)
    frame_equal(expected, big_endian)
    assert expected["N"][0] == 90 and expected["M"][0] == 40


def test_values_that_are_not_float_tensors_are_skipped_with_a_reason():
    sd = {"w": np.ones((16, 16), np.float32), "step": 3, "note": "hello", "ids": np.arange(10)}
    df = htdiag.analyze(sd, progress=False)
    assert list(df["name"]) == ["w"]
    reasons = {s["name"]: s["reason"] for s in df.attrs["skipped"]}
    assert reasons["step"] == "dtype I64 is not a float"
    assert reasons["ids"] == "dtype I64 is not a float"
    assert reasons["note"].startswith("dtype numpy:str")
