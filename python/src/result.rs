//! `htdiag.Result`: the library's canonical [`AnalysisResult`] held for Python. The DataFrame
//! `htdiag.analyze` returns is a view of it (`df.attrs["result"]`); reports, comparisons and
//! spectra are read from it without recomputing anything.

use std::path::PathBuf;

use htdiag::report::{csv::to_csv, html::write_html, json::to_json, load::read_result};
use htdiag::result::AnalysisResult;
use htdiag::util::atomic_write;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::columns::{Cell, cell, kind, names};
use crate::errors::{invalid, to_py};

/// The result of `htdiag.analyze` (every row's metrics and eigenvalues, the skipped tensors,
/// the options and timings). Immutable.
#[pyclass(module = "htdiag", name = "Result", frozen)]
pub struct PyAnalysis {
    pub inner: AnalysisResult,
    /// What opening the checkpoint noted (the dict key a nested PyTorch checkpoint's tensors
    /// were read from, GGUF dequantization); empty for a loaded result.
    pub notes: Vec<String>,
}

#[pymethods]
impl PyAnalysis {
    /// Reads a result saved by `Result.save` or `htdiag analyze --json`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = read_result(&path).map_err(|e| to_py(py, e))?;
        Ok(PyAnalysis {
            inner,
            notes: Vec::new(),
        })
    }

    /// Writes the result as JSON (the layout of `htdiag analyze --json`).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        to_json(&self.inner)
            .and_then(|text| atomic_write(&path, text.as_bytes()))
            .map_err(|e| to_py(py, e))
    }

    /// The result as CSV text, exactly as `htdiag analyze --csv` writes it.
    fn to_csv(&self) -> String {
        to_csv(&self.inner)
    }

    /// Writes the self-contained HTML report (as `htdiag analyze --report`).
    fn write_report(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| write_html(inner, &path))
            .map_err(|e| to_py(py, e))
    }

    /// `[(column, pandas dtype, values)]` in WeightWatcher's `details` layout.
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for col in names(&self.inner) {
            let values = PyList::empty(py);
            for l in &self.inner.layers {
                match cell(l, col) {
                    Cell::Int(v) => values.append(v)?,
                    Cell::Float(v) => values.append(v)?,
                    Cell::Str(v) => values.append(v)?,
                    Cell::Bool(v) => values.append(v)?,
                    Cell::MaybeInt(v) => values.append(v)?,
                }
            }
            out.append((col, kind(col), values))?;
        }
        Ok(out)
    }

    /// The tensors not analysed: `[{layer_id, name, dtype, shape, reason}]`.
    #[getter]
    fn skipped<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for s in &self.inner.skipped {
            let d = PyDict::new(py);
            d.set_item("layer_id", s.layer_id)?;
            d.set_item("name", &s.name)?;
            d.set_item("dtype", &s.dtype)?;
            d.set_item("shape", s.shape.clone())?;
            d.set_item("reason", &s.reason)?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// The model summary of the rows `rows` (`[(layer_id, slice_id)]`; all rows when None) as
    /// JSON: the library's means (failed fits left out of the alpha means) and counts.
    #[pyo3(signature = (rows=None))]
    fn summary_json(&self, rows: Option<Vec<(usize, Option<usize>)>>) -> String {
        let layers: Vec<_> = match rows {
            None => self.inner.layers.clone(),
            Some(keys) => self
                .inner
                .layers
                .iter()
                .filter(|l| keys.contains(&(l.layer_id, l.slice_id)))
                .cloned()
                .collect(),
        };
        let s = htdiag::metrics::summary(&layers, self.inner.skipped.len());
        serde_json::to_string(&s).unwrap_or_else(|_| "{}".into())
    }

    /// The eigenvalues (ascending, after conv scaling) of the row of tensor `layer` (its name
    /// or layer_id), conv slice `slice_id` for per-slice results.
    #[pyo3(signature = (layer, slice_id=None))]
    fn eigenvalues(
        &self,
        py: Python<'_>,
        layer: &Bound<'_, PyAny>,
        slice_id: Option<usize>,
    ) -> PyResult<Vec<f64>> {
        let found = if let Ok(id) = layer.extract::<usize>() {
            self.inner
                .layers
                .iter()
                .find(|l| l.layer_id == id && l.slice_id == slice_id)
        } else {
            let name: String = layer.extract()?;
            self.inner
                .layers
                .iter()
                .find(|l| l.name == name && l.slice_id == slice_id)
        };
        match found {
            Some(l) => Ok(l.eigenvalues.clone()),
            None => {
                let why = self
                    .inner
                    .skipped
                    .iter()
                    .find(|s| {
                        layer.extract::<usize>().ok() == Some(s.layer_id)
                            || layer.extract::<String>().ok().as_deref() == Some(s.name.as_str())
                    })
                    .map(|s| format!(" (skipped: {})", s.reason))
                    .unwrap_or_default();
                Err(invalid(
                    py,
                    format!(
                        "no analysed row for layer {}{}{why}",
                        layer.repr()?,
                        slice_id.map(|s| format!(" slice {s}")).unwrap_or_default()
                    ),
                ))
            }
        }
    }

    /// The checkpoint analysed (path, or `<state_dict>`).
    #[getter]
    fn source(&self) -> &str {
        &self.inner.source
    }

    /// The options used, as JSON (for provenance).
    #[getter]
    fn options_json(&self) -> String {
        self.inner.options.to_string()
    }

    /// What opening the checkpoint noted, as the command line prints it on stderr (which dict
    /// key of a nested PyTorch checkpoint held the tensors, and the others; that a GGUF
    /// file's quantized tensors were dequantized). Empty for a result read back by `load`.
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    /// Wall-clock seconds of the analysis.
    #[getter]
    fn wall_seconds(&self) -> f64 {
        self.inner.timings.wall
    }

    /// Worker threads used.
    #[getter]
    fn threads(&self) -> usize {
        self.inner.timings.threads
    }

    fn __len__(&self) -> usize {
        self.inner.layers.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<htdiag.Result of {}: {} rows, {} skipped, {:.3} s>",
            self.inner.source,
            self.inner.layers.len(),
            self.inner.skipped.len(),
            self.inner.timings.wall
        )
    }

    /// Immutable: copies are the object itself (pandas deep-copies `DataFrame.attrs`).
    fn __copy__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __deepcopy__<'py>(slf: Bound<'py, Self>, _memo: &Bound<'py, PyAny>) -> Bound<'py, Self> {
        slf
    }
}
