//! One row of the analysis: a tensor's matrices -> eigenvalues -> fit -> metrics.

use std::time::Instant;

use crate::fit::fit_power_law;
use crate::matrices::MatrixRef;
use crate::metrics::{layer_metrics, mp_fit, pool, randomized, shuffle_entries};
use crate::plan::PlannedLayer;
use crate::result::{LayerResult, LayerStatus, LayerTimings};
use crate::spectrum::Eigensolver;

use super::AnalyzeOptions;

/// Analyses one planned row over its tensor's bytes. Never fails: trouble with this layer
/// (non-finite weights, an eigensolver error) becomes a row with status `error` and a message,
/// so one bad layer does not sink the run.
pub(crate) fn analyze_row(
    planned: &PlannedLayer,
    bytes: &[u8],
    load_seconds: f64,
    opts: &AnalyzeOptions,
    solver: &dyn Eigensolver,
) -> LayerResult {
    let mut timings = LayerTimings {
        load: load_seconds,
        ..LayerTimings::default()
    };
    let mut row = LayerResult {
        layer_id: planned.layer_id,
        name: planned.name.clone(),
        layer_type: planned.layer_type,
        slice_id: planned.slice_id,
        dtype: planned.dtype.as_str().to_string(),
        shape: planned.shape.clone(),
        n: planned.n,
        m: planned.m,
        q: planned.q(),
        rf: planned.rf,
        status: LayerStatus::Error,
        message: None,
        num_evals: planned.num_evals(),
        fit: None,
        metrics: None,
        mp: None,
        randomized: None,
        eigenvalues: Vec::new(),
        timings,
        adapter: None,
    };

    let t = Instant::now();
    let matrices = match planned.matrices(bytes) {
        Ok(m) => m,
        Err(e) => return error_row(row, e.to_string()),
    };
    for (k, w) in matrices.iter().enumerate() {
        if let Some((r, c)) = w.find_non_finite() {
            let at = if matrices.len() > 1 {
                format!("slice {k}, element [{r}, {c}]")
            } else {
                format!("element [{r}, {c}]")
            };
            let v = w.get(r, c);
            return error_row(row, format!("non-finite weight {v} at {at}"));
        }
    }
    // Reading the tensor (page-in and widening check) counts as load.
    timings.load += t.elapsed().as_secs_f64();

    let t = Instant::now();
    let slices = match spectra(&matrices, planned.eval_scale, solver) {
        Ok(s) => s,
        Err(e) => return error_row(row, e.to_string()),
    };
    let slice_refs: Vec<&[f64]> = slices.iter().map(Vec::as_slice).collect();
    let pooled = pool(&slice_refs);
    timings.eigen = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let fit = fit_power_law(&pooled, &opts.fit);
    timings.fit = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let metrics = layer_metrics(&pooled, &slice_refs, planned.n, &fit);
    if opts.mp_fit {
        row.mp = Some(mp_fit(&pooled, planned.n, planned.m));
    }
    if let Some(seed) = opts.randomize {
        let shuffled: Vec<Vec<f64>> = matrices
            .iter()
            .enumerate()
            .map(|(k, w)| shuffle_entries(w, row_seed(seed, planned, k)))
            .collect();
        let views: Vec<MatrixRef<'_>> = shuffled
            .iter()
            .zip(&matrices)
            .map(|(v, w)| MatrixRef::from_f64(v, w.rows, w.cols))
            .collect();
        match spectra(&views, planned.eval_scale, solver) {
            Ok(rs) => {
                let refs: Vec<&[f64]> = rs.iter().map(Vec::as_slice).collect();
                row.randomized = Some(randomized(&pooled, &pool(&refs)));
            }
            Err(e) => return error_row(row, format!("randomized ESD: {e}")),
        }
    }
    timings.rest = t.elapsed().as_secs_f64();

    row.status = if fit.is_valid() {
        LayerStatus::Success
    } else {
        LayerStatus::Failed
    };
    if !fit.is_valid() {
        row.message = crate::fit::failure_reason(&pooled, &opts.fit);
    }
    row.fit = Some(fit);
    row.metrics = Some(metrics);
    row.eigenvalues = pooled;
    row.timings = timings;
    row
}

/// Eigenvalues of each matrix, scaled (conv scaling) and ascending.
fn spectra(
    matrices: &[MatrixRef<'_>],
    scale: f64,
    solver: &dyn Eigensolver,
) -> crate::Result<Vec<Vec<f64>>> {
    matrices
        .iter()
        .map(|w| {
            let mut ev = solver.eigenvalues(w)?;
            if scale != 1.0 {
                ev.iter_mut().for_each(|x| *x *= scale);
            }
            Ok(ev)
        })
        .collect()
}

/// A per-matrix seed that depends only on the user's seed and the matrix's identity, so
/// randomized results do not depend on scheduling or thread count.
fn row_seed(seed: u64, planned: &PlannedLayer, k: usize) -> u64 {
    let slice = planned.slice_id.unwrap_or(k) as u64;
    seed ^ (planned.layer_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ slice.wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

fn error_row(mut row: LayerResult, message: String) -> LayerResult {
    row.status = LayerStatus::Error;
    row.message = Some(message);
    row
}
