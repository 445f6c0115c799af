//! One LoRA update row: the factors A and B -> the nonzero singular values of `s B A` from
//! the r x r core (`spectrum::low_rank_singular_values`) -> eigenvalues of `dW^T dW` -> the
//! power-law fit when there are enough of them -> metrics.

use std::time::Instant;

use crate::checkpoint::Checkpoint;
use crate::checkpoint::peft::LoraKind;
use crate::fit::{failure_reason, fit_power_law};
use crate::matrices::MatrixRef;
use crate::metrics::{effective_rank, layer_metrics, pool};
use crate::plan::PlannedLora;
use crate::result::{AdapterInfo, LayerResult, LayerStatus, LayerTimings, LayerType, PowerLawFit};
use crate::spectrum::low_rank_singular_values;

use super::AnalyzeOptions;

/// Analyses one update row. Never fails: an unreadable factor, a non-finite weight or a LAPACK
/// failure becomes a row with status `error` and a message naming the tensor.
pub(crate) fn analyze_lora_row(
    p: &PlannedLora,
    ckpt: &Checkpoint,
    opts: &AnalyzeOptions,
) -> LayerResult {
    let m = &p.module;
    let mut row = LayerResult {
        layer_id: p.layer_id(),
        name: m.name.clone(),
        layer_type: LayerType::Lora,
        slice_id: p.slice_id,
        dtype: p.dtypes.0.as_str().to_string(),
        shape: p.shape.clone(),
        n: p.n,
        m: p.m,
        q: p.n as f64 / p.m as f64,
        rf: p.rf,
        status: LayerStatus::Error,
        message: None,
        num_evals: p.num_evals(),
        fit: None,
        metrics: None,
        mp: None,
        randomized: None,
        eigenvalues: Vec::new(),
        timings: LayerTimings::default(),
        adapter: Some(AdapterInfo {
            module: m.module.clone(),
            rank: m.scale.rank,
            lora_alpha: m.scale.alpha,
            scale: m.scale.scale,
            merged: false,
            effective_rank: f64::NAN,
            new_directions: None,
        }),
    };
    let t = Instant::now();
    let (a_bytes, b_bytes) = match (ckpt.tensor_bytes(m.a), ckpt.tensor_bytes(m.b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return error(row, e.to_string()),
    };
    let r = m.scale.rank;
    let b = MatrixRef::dense(&b_bytes, p.dtypes.1, m.out, r);
    let a_of = |i: usize, j: usize| match m.kind {
        LoraKind::Conv2d { kh, kw } => {
            MatrixRef::conv_slice(&a_bytes, p.dtypes.0, [r, m.inp, kh, kw], i, j)
        }
        _ => MatrixRef::dense(&a_bytes, p.dtypes.0, r, m.inp),
    };
    let names = ckpt.tensors();
    if let Some((i, j)) = b.find_non_finite() {
        let v = b.get(i, j);
        return error(
            row,
            format!(
                "non-finite weight {v} in '{}' at [{i}, {j}]",
                names[m.b].name
            ),
        );
    }
    let slices = p.slices();
    for &(si, sj) in &slices {
        let a = a_of(si, sj);
        if let Some((i, j)) = a.find_non_finite() {
            let v = a.get(i, j);
            return error(
                row,
                format!(
                    "non-finite weight {v} in '{}' at [{i}, {j}]",
                    names[m.a].name
                ),
            );
        }
    }
    row.timings.load = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut spectra = Vec::with_capacity(slices.len());
    for &(si, sj) in &slices {
        match low_rank_singular_values(&b, &a_of(si, sj), m.scale.scale) {
            Ok(sv) => {
                let mut ev: Vec<f64> = sv.iter().rev().map(|s| s * s * p.eval_scale).collect();
                ev.sort_by(f64::total_cmp);
                spectra.push(ev);
            }
            Err(e) => return error(row, e.to_string()),
        }
    }
    if spectra.iter().flatten().any(|v| !v.is_finite()) {
        return error(
            row,
            format!(
                "the update's singular values overflow f64 (scale s = {:e} from lora_alpha {} and r = {r})",
                m.scale.scale, m.scale.alpha
            ),
        );
    }
    let refs: Vec<&[f64]> = spectra.iter().map(Vec::as_slice).collect();
    let pooled = pool(&refs);
    row.timings.eigen = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let fit = p.fit.then(|| fit_power_law(&pooled, &opts.fit));
    row.timings.fit = t.elapsed().as_secs_f64();
    let placeholder = PowerLawFit::failed(pooled.last().copied().unwrap_or(f64::NAN));
    let mut metrics = layer_metrics(&pooled, &refs, p.n, fit.as_ref().unwrap_or(&placeholder));
    match fit {
        Some(f) if f.is_valid() => row.status = LayerStatus::Success,
        Some(_) => {
            row.status = LayerStatus::Failed;
            row.message = failure_reason(&pooled, &opts.fit);
        }
        None => {
            row.status = LayerStatus::Success;
            metrics.warning = String::new();
            row.message = Some(format!(
                "no power-law fit: {} eigenvalues < min_evals {} (a rank-{r} update has at \
                 most {r} per matrix; lower min_evals to fit)",
                pooled.len(),
                opts.plan.min_evals
            ));
        }
    }
    if let Some(info) = row.adapter.as_mut() {
        info.effective_rank = effective_rank(&pooled);
    }
    row.fit = fit;
    row.metrics = Some(metrics);
    row.eigenvalues = pooled;
    row.timings.rest = t.elapsed().as_secs_f64();
    row
}

fn error(mut row: LayerResult, message: String) -> LayerResult {
    row.status = LayerStatus::Error;
    row.message = Some(message);
    row
}
