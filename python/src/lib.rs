//! `htdiag._htdiag`: the Rust core of the Python package `htdiag` (see python/htdiag/ for the
//! public functions, which wrap these).
//!
//! Every analysis runs with the GIL released ([`run::detached`]); library errors become the
//! exceptions of `htdiag.errors` with the library's messages ([`errors::to_py`]).

mod columns;
mod errors;
mod open;
mod options;
mod result;
mod run;
mod state;

use std::path::PathBuf;

use htdiag::analyze::{analyze as run_analysis, analyze_adapter};
use htdiag::checkpoint::inspect::inspect as inspect_rows;
use htdiag::compare::{compare as compare_results, to_json as comparison_json};
use htdiag::report::compare_html::write_compare_html;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use errors::to_py;
use open::{Source, open};
use result::PyAnalysis;

/// Analyses a checkpoint (`source`: a path, or `(name, tensors)` from `_state.py`) with the
/// options of `htdiag.analyze` in `opts`; `progress(event, value)` hears about each row. `key`:
/// the dict of a nested PyTorch checkpoint holding the tensors (as `htdiag analyze --key`). A
/// PEFT LoRA adapter (a folder holding `adapter_config.json`, or its `adapter_model.*` file) is
/// analysed as the command line analyses it: one row per adapted module.
#[pyfunction]
#[pyo3(signature = (source, opts, progress=None, key=None))]
fn analyze(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    opts: &Bound<'_, PyDict>,
    progress: Option<&Bound<'_, PyAny>>,
    key: Option<String>,
) -> PyResult<PyAnalysis> {
    let opened = open(py, source, key, true)?;
    let options = options::options(opts, opened.checkpoint().tensors())?;
    let notes = opened.checkpoint().notes().to_vec();
    let opened_ref = &opened;
    let inner = run::detached(py, progress, |observer, cancel| match opened_ref {
        Source::Plain(ckpt) => run_analysis(ckpt, &options, observer, Some(cancel)),
        Source::Adapter(a) => analyze_adapter(a, &options, observer, Some(cancel)),
    })?;
    drop(opened); // releases the arrays of a state_dict while attached
    Ok(PyAnalysis { inner, notes })
}

/// The tensors of `source` (a path or `(name, tensors)`), from its headers alone, as JSON
/// (`htdiag inspect --json`'s layout), and the notes of opening it (which dict key was used,
/// dequantization).
#[pyfunction]
#[pyo3(signature = (source, key=None))]
fn inspect(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    key: Option<String>,
) -> PyResult<(String, Vec<String>)> {
    let opened = open(py, source, key, false)?;
    let ckpt = opened.checkpoint();
    let rows = serde_json::to_string(&inspect_rows(ckpt))
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((rows, ckpt.notes().to_vec()))
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
    use super::{PyAnalysis, analyze, compare, inspect};

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}
