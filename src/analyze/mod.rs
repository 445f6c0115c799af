//! The whole analysis of a checkpoint: plan the rows, compute them in parallel over layers,
//! and assemble the canonical [`AnalysisResult`].
//!
//! Parallelism is over layers (rayon), with BLAS single-threaded inside the workers: OpenBLAS
//! threads spin while waiting, and nesting both measured 2-47x slower (PERFORMANCE.md). Every
//! row is computed independently and deterministically, so results do not depend on the thread
//! count or the schedule. The largest layers are started first so no worker idles at the end
//! behind one big matrix.

mod adapter;
mod lora_row;
mod merged;
mod row;
pub mod rules;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::fit::FitOptions;
use crate::plan::{PlanOptions, PlannedLayer, plan};
use crate::result::{AnalysisResult, LayerResult, RESULT_FORMAT_VERSION, RunTimings};
use crate::spectrum::{Eigensolver, Lapack};

pub use adapter::analyze_adapter;
pub use merged::{MergedAnalysis, analyze_merged};
pub use rules::Rules;

/// Everything that changes what `analyze` computes. `AnalyzeOptions::default()` reproduces
/// WeightWatcher 0.7.6's `analyze()` defaults.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Which tensors become which rows.
    pub plan: PlanOptions,
    /// The power-law fit.
    pub fit: FitOptions,
    /// Also fit a Marchenko-Pastur bulk (WeightWatcher's `mp_fit=True`).
    pub mp_fit: bool,
    /// Also compute the randomized ESD, with this seed (WeightWatcher's `randomize=True`).
    pub randomize: Option<u64>,
    /// Worker threads (0 = one per core).
    pub threads: usize,
    /// The layer rules these options were set to with [`Rules::apply`], if any (provenance).
    pub rules: Option<Rules>,
}

impl AnalyzeOptions {
    /// The options as JSON, recorded in the result for provenance.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "min_evals": self.plan.min_evals,
            "max_evals": self.plan.max_evals,
            "max_n": self.plan.max_n,
            "per_slice": self.plan.per_slice,
            "conv_scaling": self.plan.conv_scaling,
            "layers": self.plan.layers.as_ref().map(|r| r.as_str().to_string()),
            "exclude": self.plan.exclude.as_ref().map(|r| r.as_str().to_string()),
            "rules": self.rules.map(Rules::as_str),
            "evals_thresh": self.fit.threshold.is_finite().then_some(self.fit.threshold),
            "precision": self.fit.precision.as_str(),
            "fit": format!("{:?}", self.fit.method).to_lowercase(),
            "small_n": format!("{:?}", self.fit.small_n).to_lowercase(),
            "fix_fingers": format!("{:?}", self.fit.fix_fingers).to_lowercase(),
            "xmin_window": self.fit.xmin_window,
            "mp_fit": self.mp_fit,
            "randomize": self.randomize,
        })
    }
}

/// Hears about progress. All methods may be called from worker threads.
pub trait Observer: Sync {
    /// Called once with the number of rows to compute and their estimated total cost.
    fn started(&self, _rows: usize, _cost: f64) {}
    /// Called after each row with its estimated cost (for a cost-weighted progress bar).
    fn row_done(&self, _row: &LayerResult, _cost: f64) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// Estimated flops of a row: Gram (N M^2) plus eigensolver (~ 4/3 M^3 ... 9 M^3; we use 4 M^3)
/// per matrix. Used to schedule big layers first, to weight progress, and to balance shards.
pub fn row_cost(p: &PlannedLayer) -> f64 {
    let (n, m) = (p.n as f64, p.m as f64);
    let per_matrix = n * m * m + 4.0 * m * m * m;
    per_matrix
        * if p.slice_id.is_some() {
            1.0
        } else {
            p.rf as f64
        }
}

/// Analyses a checkpoint with the LAPACK eigensolver. See [`analyze_with`].
pub fn analyze(
    ckpt: &Checkpoint,
    opts: &AnalyzeOptions,
    observer: &dyn Observer,
    cancel: Option<&AtomicBool>,
) -> Result<AnalysisResult> {
    analyze_with(ckpt, opts, &Lapack::default(), observer, cancel)
}

/// Analyses a checkpoint: every tensor becomes rows or a skipped entry with its reason.
///
/// Fails only for run-level problems (a thread pool that cannot start, cancellation via
/// `cancel`); layer-level trouble is reported in the rows' `status` and `message`.
pub fn analyze_with(
    ckpt: &Checkpoint,
    opts: &AnalyzeOptions,
    solver: &dyn Eigensolver,
    observer: &dyn Observer,
    cancel: Option<&AtomicBool>,
) -> Result<AnalysisResult> {
    let wall = Instant::now();
    let planned = plan(ckpt.tensors(), &opts.plan);
    let layers = run_rows(ckpt, &planned.layers, opts, solver, observer, cancel)?;
    let threads = effective_threads(opts.threads);
    Ok(assemble(
        ckpt.source().display().to_string(),
        opts,
        layers,
        planned.skipped,
        wall.elapsed().as_secs_f64(),
        threads,
    ))
}

/// Computes the given planned rows (any subset of a plan: a shard, the rows left to resume)
/// in parallel, biggest first, and returns them in `(layer_id, slice_id)` order.
pub fn run_rows(
    ckpt: &Checkpoint,
    rows: &[PlannedLayer],
    opts: &AnalyzeOptions,
    solver: &dyn Eigensolver,
    observer: &dyn Observer,
    cancel: Option<&AtomicBool>,
) -> Result<Vec<LayerResult>> {
    // One task per tensor, so its pages are released once all its rows are done.
    let mut tasks: Vec<Vec<&PlannedLayer>> = Vec::new();
    for p in rows {
        match tasks.last_mut() {
            Some(t) if t[0].layer_id == p.layer_id => t.push(p),
            _ => tasks.push(vec![p]),
        }
    }
    let cost = |t: &Vec<&PlannedLayer>| t.iter().map(|p| row_cost(p)).sum::<f64>();
    tasks.sort_by(|a, b| cost(b).total_cmp(&cost(a)));
    observer.started(rows.len(), tasks.iter().map(cost).sum());

    let pool = worker_pool(opts.threads)?;

    let out: Mutex<Vec<LayerResult>> = Mutex::new(Vec::with_capacity(rows.len()));
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    pool.install(|| {
        tasks.par_iter().with_max_len(1).for_each(|task| {
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return;
            }
            let id = task[0].layer_id;
            let t = Instant::now();
            let bytes = match ckpt.tensor_bytes(id) {
                Ok(b) => b,
                Err(e) => {
                    first_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                    return;
                }
            };
            let load = t.elapsed().as_secs_f64();
            for p in task {
                let r = row::analyze_row(p, &bytes, load, opts, solver);
                observer.row_done(&r, row_cost(p));
                out.lock().unwrap_or_else(|p| p.into_inner()).push(r);
            }
            ckpt.release(id);
        });
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(Error::Interrupted);
    }
    let mut out = out.into_inner().unwrap_or_else(|p| p.into_inner());
    out.sort_by_key(|r| (r.layer_id, r.slice_id));
    Ok(out)
}

/// Builds the canonical result from computed rows and skipped tensors (also used to merge
/// shards and resumed runs).
pub fn assemble(
    source: String,
    opts: &AnalyzeOptions,
    mut layers: Vec<LayerResult>,
    mut skipped: Vec<crate::result::SkippedTensor>,
    wall: f64,
    threads: usize,
) -> AnalysisResult {
    layers.sort_by_key(|r| (r.layer_id, r.slice_id));
    skipped.sort_by_key(|s| s.layer_id);
    let summary = crate::metrics::summary(&layers, skipped.len());
    let mut timings = RunTimings {
        wall,
        threads,
        ..RunTimings::default()
    };
    for l in &layers {
        timings.load += l.timings.load;
        timings.eigen += l.timings.eigen;
        timings.fit += l.timings.fit;
        timings.rest += l.timings.rest;
    }
    AnalysisResult {
        format_version: RESULT_FORMAT_VERSION,
        htdiag_version: env!("CARGO_PKG_VERSION").to_string(),
        source,
        options: opts.to_json(),
        layers,
        skipped,
        summary,
        timings,
    }
}

/// The pool of `threads` workers (0 = one per core), with BLAS single-threaded inside them
/// (see the module docs).
pub(crate) fn worker_pool(threads: usize) -> Result<rayon::ThreadPool> {
    let threads = effective_threads(threads);
    crate::spectrum::openblas::set_num_threads(1);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::InvalidArgument(format!("cannot start {threads} worker threads: {e}")))
}

/// Worker count for `threads` (0 = one per core).
pub fn effective_threads(threads: usize) -> usize {
    if threads > 0 {
        threads
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}
