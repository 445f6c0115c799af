"""Every format the command line reads works through Python (PyTorch zip/legacy pickles,
Hugging Face shard indexes, GGUF, PEFT adapters), and ``key=`` picks the tensor dict of a
nested PyTorch checkpoint as ``--key`` does.

The nested checkpoints are written without torch by scripts/make_format_fixtures.py's
torch.save look-alike (run in a subprocess: it registers a stand-in ``torch`` module that must
not leak into this process, where a real torch may be imported)."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import htdiag
from htdiag.compat import WeightWatcher
from conftest import REPO, cli_csv, numpy_state_dict, read_safetensors
from test_cli_parity import FORMATS, assert_rows_equal_the_cli

# Writes, into the folder argv[1], one model's state dict flat and nested in several ways.
WRITER = """
import collections, os, sys
import numpy as np
sys.path.insert(0, os.path.join(sys.argv[2], "scripts"))
import make_format_fixtures as f

out = sys.argv[1]
rng = np.random.default_rng(29)

def sd(n_out):
    d = collections.OrderedDict()
    d["fc1.weight"] = f.contiguous(rng.standard_normal((n_out, 20)).astype(np.float32), (n_out, 20))
    d["fc1.bias"] = f.contiguous(rng.standard_normal(n_out).astype(np.float32), (n_out,))
    d["fc2.weight"] = f.contiguous(rng.standard_t(3, (18, n_out)).astype(np.float32), (18, n_out))
    return d

model, ema = sd(24), sd(30)
f.save_zip(model, f"{out}/flat.pt")
f.save_zip(ema, f"{out}/flat_ema.pt")
opt = {"state": {0: {"exp_avg": f.contiguous(np.ones((24, 20), np.float32), (24, 20))}}}
f.save_zip({"epoch": 4, "state_dict": model, "optimizer_states": [opt],
            "hyper_parameters": {"lr": 0.1}, "ema": ema}, f"{out}/nested.ckpt")
f.save_legacy({"epoch": 4, "state_dict": model}, f"{out}/nested_legacy.pth")
f.save_zip({"step": 9, "weights": {"online": model, "target": ema}}, f"{out}/deep.pt")
"""


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    d = tmp_path_factory.mktemp("nested")
    subprocess.run([sys.executable, "-c", WRITER, str(d), str(REPO)], check=True)
    return d


def analyse(source, **kw):
    return htdiag.analyze(source, progress=False, **kw)


def frame_equal(a, b):
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs["skipped"] == b.attrs["skipped"]


def test_key_state_dict_gives_the_rows_of_the_flat_file(nested, cli, tmp_path):
    flat = analyse(nested / "flat.pt")
    assert list(flat["name"]) == ["fc1.weight", "fc2.weight"]
    for name in ["nested.ckpt", "nested_legacy.pth"]:
        frame_equal(analyse(nested / name, key="state_dict"), flat)
    # The command line's --key gives the same numbers, cell for cell.
    assert_rows_equal_the_cli(cli, tmp_path, nested / "nested.ckpt", dict(key="state_dict"),
                              ["--key", "state_dict"])


def test_key_chooses_another_dict_and_nested_paths(nested):
    ema = analyse(nested / "flat_ema.pt")
    assert ema["N"].tolist() != analyse(nested / "flat.pt")["N"].tolist()
    frame_equal(analyse(nested / "nested.ckpt", key="ema"), ema)
    frame_equal(analyse(nested / "deep.pt", key="weights/target"), ema)
    frame_equal(analyse(nested / "deep.pt", key="weights/online"), analyse(nested / "flat.pt"))
    # esd and the WeightWatcher shim pass the key on.
    np.testing.assert_array_equal(
        htdiag.esd(nested / "nested.ckpt", "fc2.weight", key="ema"),
        htdiag.esd(ema, "fc2.weight"),
    )
    ww = WeightWatcher(model=str(nested / "nested.ckpt"), key="ema")
    frame_equal(ww.analyze(progress=False), ema)


def test_without_key_the_state_dict_is_found_and_noted(nested):
    auto = analyse(nested / "nested.ckpt")
    frame_equal(auto, analyse(nested / "flat.pt"))
    notes = " ".join(auto.attrs["notes"])
    assert "'state_dict'" in notes and "ema" in notes and "optimizer_states" in notes
    assert analyse(nested / "flat.pt").attrs["notes"] == []


def test_a_wrong_key_names_it_and_the_top_level_keys(nested):
    path = nested / "nested.ckpt"
    for call in (analyse, htdiag.inspect):
        with pytest.raises(htdiag.CheckpointError) as e:
            call(path, key="bogus")
        msg = str(e.value)
        assert "bogus" in msg and e.value.path == str(path)
        for k in ["epoch", "state_dict", "optimizer_states", "hyper_parameters", "ema"]:
            assert k in msg, (k, msg)
    with pytest.raises(htdiag.CheckpointError, match="nope"):
        analyse(nested / "deep.pt", key="weights/nope")


def test_inspect_lists_the_tensors_of_the_chosen_dict(nested):
    flat = htdiag.inspect(nested / "flat.pt")
    assert list(flat.columns) == ["layer_id", "name", "dtype", "shape", "parameters", "bytes", "file"]
    assert list(flat["name"]) == ["fc1.weight", "fc1.bias", "fc2.weight"]
    assert flat["shape"].tolist() == [[24, 20], [24], [18, 24]]
    assert flat["parameters"].tolist() == [480, 24, 432]
    assert flat["bytes"].tolist() == [4 * 480, 4 * 24, 4 * 432]
    ema = htdiag.inspect(nested / "nested.ckpt", key="ema")
    assert ema["shape"].tolist() == [[30, 20], [30], [18, 30]]
    assert any("'ema'" in n for n in ema.attrs["notes"])
    auto = htdiag.inspect(nested / "nested.ckpt")
    assert auto[["name", "shape"]].equals(flat[["name", "shape"]])
    assert any("state_dict" in n for n in auto.attrs["notes"])


def test_key_selects_inside_a_mapping_in_memory():
    sd = numpy_state_dict(REPO / "assets" / "mnist-mlp.safetensors")
    loaded = {"epoch": 3, "state_dict": sd, "optimizer": {"lr": 0.1}}  # as torch.load gives it
    frame_equal(analyse(loaded, key="state_dict"), analyse(sd))
    frame_equal(analyse({"a": {"b": sd}}, key="a/b"), analyse(sd))
    with pytest.raises(htdiag.InvalidArgumentError) as e:
        analyse(loaded, key="model")
    assert "'model'" in str(e.value)
    assert all(k in str(e.value) for k in ["'epoch'", "'state_dict'", "'optimizer'"])
    # Without key, a mapping of mappings is refused with the hint to pass one.
    with pytest.raises(htdiag.InvalidArgumentError, match="pass key='state_dict'"):
        analyse(loaded)
    with pytest.raises(htdiag.InvalidArgumentError, match="not a mapping"):
        analyse(loaded, key="epoch")


# Files of every format the command line reads, and the safetensors file with the same tensors
# in the same order (scripts/make_format_fixtures.py wrote both).
SAME_AS = [
    ("torch_zip.pt", "torch_reference.safetensors"),
    ("torch_zip_p4.pth", "torch_reference.safetensors"),
    ("torch_zip_big_endian.pt", "torch_reference.safetensors"),
    ("torch_legacy.bin", "torch_reference.safetensors"),
    ("lightning.ckpt", "torch_reference.safetensors"),
    ("hf_sharded", "hf_sharded_reference.safetensors"),
    ("hf_sharded/pytorch_model.bin.index.json", "hf_sharded_reference.safetensors"),
]


@pytest.mark.parametrize("name,reference", SAME_AS, ids=[s[0] for s in SAME_AS])
def test_pytorch_files_give_the_rows_of_their_safetensors_twin(name, reference):
    frame_equal(analyse(FORMATS / name), analyse(FORMATS / reference))


@pytest.mark.parametrize("name", ["hf_sharded", "lightning.ckpt", "torch_zip_big_endian.pt"])
def test_more_formats_equal_the_cli_csv(cli, tmp_path, name):
    assert_rows_equal_the_cli(cli, tmp_path, FORMATS / name, {}, [])


def test_gguf_gives_the_rows_of_its_dequantized_twin():
    """Quantized tensors are analysed as llama.cpp's own dequantizer gives them (the twin holds
    those values as f32); only the dtype column differs."""
    gguf = analyse(FORMATS / "model.gguf")
    twin = analyse(FORMATS / "gguf_reference.safetensors")
    assert len(gguf) == 13
    pd.testing.assert_frame_equal(gguf, twin, check_exact=True)
    assert any("dequantiz" in n for n in gguf.attrs["notes"])
    listed = htdiag.inspect(FORMATS / "model.gguf").set_index("name")
    assert listed.loc["blk.0.q8_0.weight", "dtype"] == "Q8_0"
    assert listed.loc["blk.0.q8_0.weight", "bytes"] == 16 * 64 // 32 * 34  # 34-byte blocks of 32
    assert listed.loc["blk.0.iq4_nl.weight", "dtype"] == "IQ4_NL"
    assert "blk.0.iq4_nl.weight" in {s["name"] for s in gguf.attrs["skipped"]}


@pytest.mark.parametrize("which", ["folder", "weights file"])
def test_a_peft_adapter_gives_one_row_per_module(cli, tmp_path, which):
    """The update dW = (lora_alpha / r) B A of each module, as the command line analyses it;
    its eigenvalues equal numpy's squared singular values of the dense product."""
    folder = FORMATS / "lora_bin"
    path = folder if which == "folder" else folder / "adapter_model.bin"
    df = analyse(path)
    assert_rows_equal_the_cli(cli, tmp_path, path, {}, [])
    assert sorted(df["name"]) == sorted(
        f"model.layers.{i}.self_attn.{m}" for i in (0, 1) for m in ("q_proj", "v_proj")
    )
    assert set(df["layer_type"]) == {"lora"}
    ranks = dict(zip(df["name"], df["lora_rank"]))
    assert ranks["model.layers.0.self_attn.q_proj"] == 8 and ranks["model.layers.0.self_attn.v_proj"] == 4
    assert df["lora_scale"].tolist() == [16 / r for r in df["lora_rank"]]
    ref = {n: a.astype(np.float64) for n, _, a in read_safetensors(FORMATS / "lora_reference.safetensors")}
    for module, r in [("q_proj", 8), ("v_proj", 4)]:  # rank_pattern: v_proj has r = 4
        name = f"model.layers.1.self_attn.{module}"
        full = f"base_model.model.{name}"
        dw = (16 / r) * ref[f"{full}.lora_B.weight"] @ ref[f"{full}.lora_A.weight"]
        expected = np.sort(np.linalg.svd(dw, compute_uv=False)[:r] ** 2)
        np.testing.assert_allclose(htdiag.esd(df, name), expected, rtol=1e-9)
    # inspect lists the adapter file's factors, as `htdiag inspect` does.
    assert len(htdiag.inspect(path)) == 8


def test_key_is_refused_for_a_module():
    """A module (anything with ``state_dict()``, as torch.nn.Module) has a flat state dict."""

    class Module:
        def state_dict(self):
            return {"w": np.eye(12, dtype=np.float32)}

    assert len(analyse(Module())) == 1
    with pytest.raises(htdiag.InvalidArgumentError, match="not nested"):
        analyse(Module(), key="state_dict")


def test_a_folder_of_separate_models_is_refused_as_by_the_cli(cli, tmp_path):
    for f in [REPO / "assets" / "mnist-mlp.safetensors", REPO / "tests" / "data" / "synthetic-model.safetensors"]:
        (tmp_path / f.name).write_bytes(f.read_bytes())
    with pytest.raises(htdiag.CheckpointError, match="separate checkpoints") as e:
        analyse(tmp_path)
    assert e.value.path == str(tmp_path)
    p = subprocess.run([str(cli), "analyze", str(tmp_path), "--quiet"], capture_output=True, text=True)
    assert p.returncode != 0 and "separate checkpoints" in p.stderr
