"""Shared fixtures: the repository's checkpoints, the command-line binary, and an independent
safetensors reader (header JSON + numpy) to build state dicts from the same files."""

import json
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "assets" / "mnist-mlp.safetensors"
SYNTH = REPO / "tests" / "data" / "synthetic-model.safetensors"


@pytest.fixture(scope="session")
def cli():
    """The `htdiag` binary (HTDIAG_BIN, else target/debug/htdiag, built by
    scripts/python_test.sh)."""
    path = Path(os.environ.get("HTDIAG_BIN", REPO / "target" / "debug" / "htdiag"))
    if not path.is_file():
        pytest.fail(f"htdiag binary not found at {path}: run `cargo build` or set HTDIAG_BIN")
    return path


def cli_csv(cli, tmp_path, checkpoint, *flags):
    """The command line's CSV of `checkpoint`, read back exactly (round-trip floats)."""
    import pandas as pd

    out = tmp_path / f"{Path(checkpoint).stem}.csv"
    subprocess.run(
        [str(cli), "analyze", str(checkpoint), "--quiet", "--csv", str(out), *flags],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    text = ["name", "layer_type", "status", "warning", "message"]
    # pandas >= 3 parses floats exactly by default (and deprecates asking for it).
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    return pd.read_csv(out, dtype={c: str for c in text}, **exact)


# safetensors dtype -> numpy dtype; BF16 is read as its raw 16 bits (see `bf16_array`).
_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8"}


def read_safetensors(path):
    """`[(name, dtype, array)]` in file (data offset) order, read without safetensors'
    own Python package: 8-byte header length, JSON header, data section."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n :]
    out = []
    for name, h in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        a, b = h["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=_DTYPES[h["dtype"]]).reshape(h["shape"])
        out.append((name, h["dtype"], arr))
    return out


def bf16_array(bits):
    """A numpy bfloat16 array (ml_dtypes) with these raw 16-bit patterns."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    return bits.view(ml_dtypes.bfloat16)


def numpy_state_dict(path):
    """The checkpoint as a dict of numpy arrays, in file order (bf16 via ml_dtypes)."""
    return {
        name: bf16_array(arr) if dtype == "BF16" else arr
        for name, dtype, arr in read_safetensors(path)
    }
