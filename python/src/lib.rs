//! `htdiag._htdiag`: the Rust core of the Python package `htdiag` (see python/htdiag/ for the
//! public functions, which wrap these).
//!
//! Every analysis runs with the GIL released ([`run::detached`]); library errors become the
//! exceptions of `htdiag.errors` with the library's messages ([`errors::to_py`]).

mod columns;
mod errors;
mod options;
mod result;
mod run;
mod state;

use std::path::PathBuf;

use htdiag::analyze::analyze as run_analysis;
use htdiag::checkpoint::Checkpoint;
use htdiag::compare::{compare as compare_results, to_json as comparison_json};
use htdiag::report::compare_html::write_compare_html;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use errors::to_py;
use result::PyAnalysis;

/// What to analyse: a checkpoint path, or in-memory tensors described by `htdiag/_state.py`.
fn open(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Checkpoint> {
    if let Ok(path) = source.extract::<PathBuf>() {
        // Opening maps files and parses headers only: quick, but still done off the GIL.
        return py
            .detach(|| Checkpoint::open(&path))
            .map_err(|e| to_py(py, e));
    }
    let (name, tensors): (String, Vec<_>) = source.extract()?;
    state::checkpoint(py, &name, tensors)
}

/// Analyses a checkpoint (`source`: a path, or `(name, tensors)` from `_state.py`) with the
/// options of `htdiag.analyze` in `opts`; `progress(event, value)` hears about each row.
#[pyfunction]
#[pyo3(signature = (source, opts, progress=None))]
fn analyze(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    opts: &Bound<'_, PyDict>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyAnalysis> {
    let ckpt = open(py, source)?;
    let options = options::options(opts, ckpt.tensors())?;
    let ckpt_ref = &ckpt;
    let inner = run::detached(py, progress, |observer, cancel| {
        run_analysis(ckpt_ref, &options, observer, Some(cancel))
    })?;
    drop(ckpt); // releases the arrays of a state_dict while attached
    Ok(PyAnalysis { inner })
}

/// Model means and counts of a whole result, A vs B, and per matched row the metric pairs,
/// as JSON (`htdiag compare`'s `--json` layout). With `report`, also writes the compare page.
#[pyfunction]
#[pyo3(signature = (a, b, report=None))]
fn compare(
    py: Python<'_>,
    a: &PyAnalysis,
    b: &PyAnalysis,
    report: Option<PathBuf>,
) -> PyResult<String> {
    let c = compare_results(&a.inner, &b.inner);
    if let Some(path) = report {
        write_compare_html(&a.inner, &b.inner, &c, &path).map_err(|e| to_py(py, e))?;
    }
    Ok(comparison_json(&c))
}

/// The Rust core of htdiag's Python package.
#[pymodule]
mod _htdiag {
    #[pymodule_export]
    use super::{PyAnalysis, analyze, compare};

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}
