//! `htdiag.analyze(...)`'s keyword arguments -> the library's [`AnalyzeOptions`], with the same
//! names and meanings as the command line's flags (`htdiag analyze --help`).

use htdiag::analyze::AnalyzeOptions;
use htdiag::checkpoint::TensorInfo;
use htdiag::fit::{FitMethod, FitOptions, FixFingers, SmallN};
use htdiag::plan::PlanOptions;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use regex::Regex;

use crate::errors::invalid;

/// Every key `options` understands (the Python wrapper passes all of them).
const KEYS: [&str; 14] = [
    "mp_fit",
    "randomize",
    "seed",
    "fit",
    "fix_fingers",
    "small_n",
    "xmin_window",
    "layers",
    "min_evals",
    "max_evals",
    "max_n",
    "per_slice",
    "conv_scaling",
    "threads",
];

/// Reads `key` from `d`, `default` when absent or None.
fn get<'py, T: FromPyObjectOwned<'py>>(
    d: &Bound<'py, PyDict>,
    key: &str,
    default: T,
) -> PyResult<T> {
    match d.get_item(key)? {
        Some(v) if !v.is_none() => v.extract::<T>().map_err(|e| {
            let e: PyErr = e.into();
            invalid(d.py(), format!("{key}={}: {}", repr(&v), e.value(d.py())))
        }),
        _ => Ok(default),
    }
}

fn repr(v: &Bound<'_, PyAny>) -> String {
    v.repr().map_or_else(|_| "?".into(), |r| r.to_string())
}

/// The options for a checkpoint whose tensors are `tensors` (needed to turn layer ids of a
/// `layers=[...]` list into names).
pub fn options(d: &Bound<'_, PyDict>, tensors: &[TensorInfo]) -> PyResult<AnalyzeOptions> {
    let py = d.py();
    for k in d.keys() {
        let k: String = k.extract()?;
        if !KEYS.contains(&k.as_str()) {
            return Err(invalid(py, format!("unknown option '{k}'")));
        }
    }
    let defaults = PlanOptions::default();
    let fit: String = get(d, "fit", "ks".to_string())?;
    let method = match fit.to_ascii_lowercase().as_str() {
        "ks" | "clauset" | "power_law" | "pl" => FitMethod::Clauset,
        "median" => FitMethod::Median,
        "peak" => FitMethod::Peak,
        other => {
            return Err(invalid(
                py,
                format!("fit='{other}': use 'ks' (Clauset, KS-optimal xmin), 'median' or 'peak'"),
            ));
        }
    };
    let fingers: String = get(d, "fix_fingers", "none".to_string())?;
    let fix_fingers = match fingers.to_ascii_lowercase().as_str() {
        "none" | "" => FixFingers::None,
        "clip_xmax" => FixFingers::ClipXmax,
        other => {
            return Err(invalid(
                py,
                format!("fix_fingers='{other}': use None or 'clip_xmax'"),
            ));
        }
    };
    let small: String = get(d, "small_n", "ww076".to_string())?;
    let small_n = match small.to_ascii_lowercase().as_str() {
        "ww076" => SmallN::Ww076,
        "ww0755" => SmallN::Ww0755,
        other => {
            return Err(invalid(
                py,
                format!("small_n='{other}': use 'ww076' or 'ww0755'"),
            ));
        }
    };
    let xmin_window: Option<(f64, f64)> = get(d, "xmin_window", None)?;
    if let Some((lo, hi)) = xmin_window
        && (lo > hi || lo.is_nan() || hi.is_nan())
    {
        return Err(invalid(
            py,
            format!("xmin_window=({lo}, {hi}) needs lo <= hi"),
        ));
    }
    let randomize: bool = get(d, "randomize", false)?;
    let seed: u64 = get(d, "seed", 0)?;
    Ok(AnalyzeOptions {
        plan: PlanOptions {
            min_evals: get(d, "min_evals", defaults.min_evals)?,
            max_evals: get(d, "max_evals", defaults.max_evals)?,
            max_n: get(d, "max_n", defaults.max_n)?,
            per_slice: get(d, "per_slice", defaults.per_slice)?,
            conv_scaling: get(d, "conv_scaling", defaults.conv_scaling)?,
            layers: layers_filter(d, tensors)?,
            exclude: None,
        },
        fit: FitOptions {
            method,
            small_n,
            fix_fingers,
            xmin_window,
            ..FitOptions::default()
        },
        mp_fit: get(d, "mp_fit", false)?,
        randomize: randomize.then_some(seed),
        threads: get(d, "threads", 0)?,
        rules: None,
    })
}

/// `layers`: a regular expression (searched in each tensor name, as `--layers`), or a list of
/// exact tensor names and layer ids (positions in checkpoint order).
fn layers_filter(d: &Bound<'_, PyDict>, tensors: &[TensorInfo]) -> PyResult<Option<Regex>> {
    let py = d.py();
    let Some(v) = d.get_item("layers")?.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let pattern = if v.is_instance_of::<PyString>() {
        v.extract::<String>()?
    } else {
        let mut names = Vec::new();
        for item in v.try_iter().map_err(|_| {
            invalid(
                py,
                format!("layers={}: give a regex or a list of names/ids", repr(&v)),
            )
        })? {
            let item = item?;
            let name = if let Ok(id) = item.extract::<usize>() {
                tensors.get(id).map(|t| t.name.clone()).ok_or_else(|| {
                    invalid(
                        py,
                        format!("layers: id {id} out of range ({} tensors)", tensors.len()),
                    )
                })?
            } else {
                item.extract::<String>().map_err(|_| {
                    invalid(
                        py,
                        format!("layers: {} is neither a name nor an id", repr(&item)),
                    )
                })?
            };
            names.push(regex::escape(&name));
        }
        if names.is_empty() {
            return Ok(None); // WeightWatcher's layers=[] means all layers
        }
        format!("^(?:{})$", names.join("|"))
    };
    Regex::new(&pattern)
        .map(Some)
        .map_err(|e| invalid(py, format!("layers={pattern:?}: {e}")))
}
