//! A LoRA adapter against its base: every base weight an update changes, analysed as it is
//! (`W0`) and merged (`W0 + dW`, formed densely one layer at a time, in f64), as two results
//! whose rows have the same names and `layer_id`s so `compare` pairs them; and, per dense
//! module, how many of the merged weight's top-r left singular directions are new
//! (`metrics::new_directions`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::checkpoint::Checkpoint;
use crate::checkpoint::dtype::FloatDtype;
use crate::checkpoint::peft::{Adapter, LoraKind, LoraModule};
use crate::error::{Error, Result};
use crate::matrices::MatrixRef;
use crate::metrics::{NEW_DIRECTION_COSINE, effective_rank, new_directions};
use crate::plan::{MergedRow, PlannedLayer, plan_merged};
use crate::result::{AdapterInfo, AnalysisResult, LayerResult, NewDirections};
use crate::spectrum::{Lapack, top_left_singular_vectors};

use super::{AnalyzeOptions, Observer, assemble, effective_threads, run_rows, worker_pool};

/// The base weights that the adapter changes, before and after merging.
#[derive(Debug, Clone)]
pub struct MergedAnalysis {
    /// `W0` of every adapted module (rows named as in the base).
    pub base: AnalysisResult,
    /// `W0 + dW`, same rows; `adapter` says which module and holds the new-direction count.
    pub merged: AnalysisResult,
}

/// Analyses the base weights of `adapter`'s modules in `base`, without and with the update.
pub fn analyze_merged(
    adapter: &Adapter,
    base: &Checkpoint,
    opts: &AnalyzeOptions,
    observer: &dyn Observer,
    cancel: Option<&AtomicBool>,
) -> Result<MergedAnalysis> {
    let wall = Instant::now();
    let plan = plan_merged(adapter, base, &opts.plan);
    let solver = Lapack::default();
    let planned: Vec<PlannedLayer> = plan.rows.iter().map(|r| r.planned.clone()).collect();
    let before = run_rows(base, &planned, opts, &solver, observer, cancel)?;
    let source = base.source().display().to_string();
    let threads = effective_threads(opts.threads);
    let base_result = assemble(
        source.clone(),
        opts,
        before,
        plan.skipped.clone(),
        wall.elapsed().as_secs_f64(),
        threads,
    );

    let wall = Instant::now();
    // One task per base tensor (per-slice conv rows share it).
    let mut tasks: Vec<Vec<&MergedRow>> = Vec::new();
    for r in &plan.rows {
        match tasks.last_mut() {
            Some(t) if t[0].planned.layer_id == r.planned.layer_id => t.push(r),
            _ => tasks.push(vec![r]),
        }
    }
    let pool = worker_pool(opts.threads)?;
    let rows: Vec<Result<Vec<LayerResult>>> = pool.install(|| {
        tasks
            .par_iter()
            .with_max_len(1)
            .map(|task| {
                if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Ok(Vec::new());
                }
                merged_rows(adapter, base, task, opts, &solver)
            })
            .collect()
    });
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(Error::Interrupted);
    }
    let mut after = Vec::new();
    for r in rows {
        after.extend(r?);
    }
    let merged = assemble(
        format!("{source} + {}", adapter.checkpoint.source().display()),
        opts,
        after,
        plan.skipped,
        wall.elapsed().as_secs_f64(),
        threads,
    );
    Ok(MergedAnalysis {
        base: base_result,
        merged,
    })
}

/// The merged rows of one base tensor.
fn merged_rows(
    adapter: &Adapter,
    base: &Checkpoint,
    task: &[&MergedRow],
    opts: &AnalyzeOptions,
    solver: &Lapack,
) -> Result<Vec<LayerResult>> {
    let first = task[0];
    let (p, m) = (&first.planned, &first.module);
    let t = Instant::now();
    let w0 = widen(&base.tensor_bytes(p.layer_id)?, p.dtype, &p.shape);
    base.release(p.layer_id);
    let mut w = w0.clone();
    add_update(adapter, m, first.transposed, &mut w)?;
    let load = t.elapsed().as_secs_f64();
    let new_dirs = match m.kind {
        LoraKind::Conv2d { .. } => None,
        _ => Some(count_new(
            &w0,
            &w,
            &p.shape,
            first.transposed,
            m.scale.rank,
        )?),
    };
    let bytes: &[u8] = bytemuck::cast_slice(&w);
    Ok(task
        .iter()
        .map(|r| {
            let p64 = PlannedLayer {
                dtype: FloatDtype::F64,
                ..r.planned.clone()
            };
            let mut row = super::row::analyze_row(&p64, bytes, load, opts, solver);
            row.dtype = r.planned.dtype.as_str().to_string();
            row.adapter = Some(AdapterInfo {
                module: m.module.clone(),
                rank: m.scale.rank,
                lora_alpha: m.scale.alpha,
                scale: m.scale.scale,
                merged: true,
                effective_rank: effective_rank(&row.eigenvalues),
                new_directions: new_dirs.clone(),
            });
            row
        })
        .collect())
}

/// The tensor's elements, row-major, as f64.
fn widen(bytes: &[u8], dtype: FloatDtype, shape: &[usize]) -> Vec<f64> {
    let numel: usize = shape.iter().product();
    let rows = shape.first().copied().unwrap_or(1).max(1);
    MatrixRef::dense(bytes, dtype, rows, numel / rows).to_vec()
}

/// Adds `s B A` (transposed when the base stores the weight so) to `w`, formed with one
/// `dgemm`: `B` is `out x r`, A `r x (in kh kw)`, both row-major.
fn add_update(adapter: &Adapter, m: &LoraModule, transposed: bool, w: &mut [f64]) -> Result<()> {
    let ck = &adapter.checkpoint;
    let r = m.scale.rank;
    let (ta, tb) = (&ck.tensors()[m.a], &ck.tensors()[m.b]);
    let dtype = |t: &crate::checkpoint::TensorInfo| {
        t.float_dtype.ok_or_else(|| Error::Tensor {
            path: t.path.clone(),
            tensor: t.name.clone(),
            reason: format!("dtype {} is not a float", t.dtype),
        })
    };
    let cols = ta.num_elements() as usize / r;
    let a = MatrixRef::dense(&ck.tensor_bytes(m.a)?, dtype(ta)?, r, cols).to_vec();
    let b = MatrixRef::dense(&ck.tensor_bytes(m.b)?, dtype(tb)?, m.out, r).to_vec();
    // Row-major D (out x cols) = s B A is column-major D^T = s A^T B^T.
    let mut d = vec![0.0; m.out * cols];
    let (o, c, k) = (m.out as i32, cols as i32, r as i32);
    unsafe {
        blas::dgemm(
            b'N',
            b'N',
            c,
            o,
            k,
            m.scale.scale,
            &a,
            c,
            &b,
            k,
            0.0,
            &mut d,
            c,
        );
    }
    if transposed {
        // The base holds D^T (cols x out).
        for i in 0..m.out {
            for j in 0..cols {
                w[j * m.out + i] += d[i * cols + j];
            }
        }
    } else {
        w.iter_mut().zip(&d).for_each(|(x, y)| *x += y);
    }
    Ok(())
}

/// New directions of the merged weight relative to `W0`, both viewed as `[out, in]` (the
/// orientation of `B A`, so left singular vectors live in the module's output space).
fn count_new(
    w0: &[f64],
    w: &[f64],
    shape: &[usize],
    transposed: bool,
    k: usize,
) -> Result<NewDirections> {
    let (rows, cols) = (shape[0], shape[1]);
    let base = top_left_singular_vectors(&oriented(w0, rows, cols, transposed), usize::MAX)?;
    let merged = top_left_singular_vectors(&oriented(w, rows, cols, transposed), k)?;
    Ok(new_directions(&merged, &base, NEW_DIRECTION_COSINE))
}

/// The row-major `rows x cols` matrix `x`, or its transpose (a strided view, no copy).
fn oriented(x: &[f64], rows: usize, cols: usize, transposed: bool) -> MatrixRef<'_> {
    let m = MatrixRef::from_f64(x, rows, cols);
    if transposed {
        MatrixRef {
            rows: cols,
            cols: rows,
            row_stride: 1,
            col_stride: cols,
            ..m
        }
    } else {
        m
    }
}
