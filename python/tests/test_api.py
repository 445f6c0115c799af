"""summary, report, compare, esd, Result save/load, the WeightWatcher shim, and the
list-of-dicts form without pandas; numbers checked against independent computations."""

import warnings

import numpy as np
import pytest

import htdiag
from htdiag import _frame
from htdiag.compat import HtdiagCompatWarning, WeightWatcher
from conftest import DEMO, SYNTH, read_safetensors


@pytest.fixture(scope="module")
def synth():
    return htdiag.analyze(str(SYNTH), progress=False)


def test_summary_is_the_mean_over_rows(synth):
    s = htdiag.summary(synth)
    assert list(s) == list(htdiag.SUMMARY_KEYS)
    fitted = synth[synth["alpha"] > 0]  # failed fits (alpha = -1) are left out of alpha means
    assert s["alpha"] == pytest.approx(fitted["alpha"].mean(), rel=1e-12)
    assert s["alpha_weighted"] == pytest.approx(fitted["alpha_weighted"].mean(), rel=1e-12)
    assert s["log_norm"] == pytest.approx(synth["log_norm"].mean(), rel=1e-12)
    assert s["stable_rank"] == pytest.approx(synth["stable_rank"].mean(), rel=1e-12)
    # A filtered frame summarises its own rows.
    convs = synth[synth["layer_type"] == "conv2d"]
    assert htdiag.summary(convs)["log_norm"] == pytest.approx(convs["log_norm"].mean(), rel=1e-12)
    with_mp = htdiag.analyze(str(DEMO), mp_fit=True, progress=False)
    assert htdiag.summary(with_mp)["mp_softrank"] == pytest.approx(with_mp["mp_softrank"].mean())


def test_esd_equals_numpy_eigenvalues_of_wtw(synth):
    w = dict((n, a) for n, _, a in read_safetensors(DEMO))["fc2.weight"].astype(np.float64)
    expected = np.sort(np.linalg.eigvalsh(w @ w.T))  # 100 x 100: M = 100 eigenvalues
    from_path = htdiag.esd(str(DEMO), "fc2.weight")
    np.testing.assert_allclose(from_path, expected, rtol=1e-9, atol=1e-12 * expected[-1])
    demo = htdiag.analyze(str(DEMO), progress=False)
    np.testing.assert_array_equal(htdiag.esd(demo, "fc2.weight"), from_path)
    np.testing.assert_array_equal(htdiag.esd(demo, 3), from_path)  # by layer_id
    assert demo["lambda_max"][1] == from_path[-1]
    with pytest.raises(htdiag.InvalidArgumentError, match="skipped: rank-1"):
        htdiag.esd(demo, "fc2.bias")


def test_report_and_saved_results(tmp_path, synth):
    path = htdiag.report(synth, tmp_path / "r.html")
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>") and "encoder.layer.0.attention.self.query.weight" in html
    result = synth.attrs["result"]
    result.save(str(tmp_path / "r.json"))
    again = htdiag.load(str(tmp_path / "r.json"))
    assert again.to_csv() == result.to_csv()
    assert len(again) == len(synth) == 20


def test_compare_deltas(tmp_path):
    a = htdiag.analyze(str(DEMO), progress=False)
    rng = np.random.default_rng(0)
    sd = {n: arr for n, _, arr in read_safetensors(DEMO)}
    sd["fc1.weight"] = sd["fc1.weight"] + rng.standard_normal(sd["fc1.weight"].shape).astype(np.float32) * 0.05
    b = htdiag.analyze(sd, progress=False)
    c = htdiag.compare(a, b, report=tmp_path / "c.html")
    assert (tmp_path / "c.html").stat().st_size > 0
    assert list(c["name"]) == ["fc1.weight", "fc2.weight", "fc3.weight"]
    assert list(c["alpha_delta"][1:]) == [0.0, 0.0]  # untouched layers
    assert c["alpha_delta"][0] == b["alpha"][0] - a["alpha"][0] != 0.0
    assert c["alpha_a"][0] == a["alpha"][0] and c["alpha_b"][0] == b["alpha"][0]
    assert c.attrs["summary"]["alpha"][2] == pytest.approx(htdiag.summary(b)["alpha"] - htdiag.summary(a)["alpha"])
    assert c.attrs["only_in_a"] == c.attrs["only_in_b"] == []


def test_weightwatcher_shim(synth):
    ww = WeightWatcher(model=str(SYNTH))
    details = ww.analyze(progress=False)
    assert details.equals(synth)
    assert ww.get_summary(details) == htdiag.summary(synth)
    np.testing.assert_array_equal(ww.get_ESD(layer="head.weight"), htdiag.esd(synth, "head.weight"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # WeightWatcher defaults of unsupported options: silent
        ww.analyze(plot=False, vectors=False, progress=False)
    with pytest.warns(HtdiagCompatWarning, match="plot=True is a WeightWatcher option htdiag does not implement"):
        ww.analyze(plot=True, progress=False)
    with pytest.warns(HtdiagCompatWarning, match="frobnicate=3 is not an option htdiag knows"):
        ww.analyze(frobnicate=3, progress=False)
    sliced = ww.analyze(pool=False, layers=["conv.0.weight"], max_N=100, progress=False)
    assert list(sliced["slice_id"]) == list(range(9))


def test_without_pandas_rows_are_dicts(monkeypatch, synth):
    monkeypatch.setattr(_frame, "have_pandas", lambda: False)
    rows = htdiag.analyze(str(SYNTH), progress=False)
    assert isinstance(rows, list) and len(rows) == 20
    assert list(rows[0]) == list(synth.columns)
    assert rows[0]["name"] == synth["name"][0] and rows[0]["slice_id"] is None
    assert [r["alpha"] for r in rows] == list(synth["alpha"])
    assert rows.attrs["skipped"] == synth.attrs["skipped"]
    assert htdiag.summary(rows) == htdiag.summary(synth)
    c = htdiag.compare(rows, synth)
    assert all(r["alpha_delta"] == 0.0 for r in c["rows"] if r["alpha_a"] == r["alpha_a"])
    listed = htdiag.inspect(str(SYNTH))
    assert isinstance(listed, list) and listed.attrs == {"notes": []}
    assert [r["name"] for r in listed][:3] == [n for n, _, _ in read_safetensors(SYNTH)][:3]
    assert rows.attrs["notes"] == []
