//! `analyze --out DIR`: analysing (part of) a checkpoint into an output folder, each row
//! written the moment it finishes, and resuming an interrupted run.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{CheckpointId, Manifest, OUT_FORMAT_VERSION, OutDir, RESULT, RowKey};
use crate::analyze::{AnalyzeOptions, Observer, assemble, effective_threads, run_rows};
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::plan::plan;
use crate::result::{AnalysisResult, LayerResult};
use crate::shard::{ShardSpec, select};
use crate::spectrum::Eigensolver;
use crate::util::atomic_write;

/// How a run into a folder ended.
#[derive(Debug)]
pub struct DirRun {
    /// Rows found finished when the run started (not recomputed).
    pub reused: usize,
    /// Rows computed by this run.
    pub computed: usize,
    /// Rows this part owns.
    pub total: usize,
    /// The assembled result of this part: every owned row, and all skipped tensors. For an
    /// unsharded run it is the whole analysis (also written to `DIR/result.json`).
    pub result: AnalysisResult,
}

/// Writes each row as it finishes, then forwards to the caller's observer.
struct Writer<'a> {
    dir: &'a OutDir,
    inner: &'a dyn Observer,
    error: Mutex<Option<Error>>,
    stop: &'a AtomicBool,
}

impl Observer for Writer<'_> {
    fn started(&self, rows: usize, cost: f64) {
        self.inner.started(rows, cost);
    }
    fn row_done(&self, row: &LayerResult, cost: f64) {
        if let Err(e) = self.dir.write_row(row) {
            self.error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
            self.stop.store(true, Ordering::Relaxed);
        }
        self.inner.row_done(row, cost);
    }
}

/// Analyses (part of) a checkpoint into `out`, writing every row as it finishes; with
/// `resume`, rows already in `out` are read back instead of recomputed.
///
/// Cancellation (`cancel` set, e.g. by Ctrl-C) lets the rows in flight finish and be saved,
/// then returns [`Error::Interrupted`]; a later call with `resume` completes the run. A failed
/// row write stops the run too (and sets `cancel` if given) and is returned as the error.
#[allow(clippy::too_many_arguments)]
pub fn analyze_to_dir(
    ckpt: &Checkpoint,
    opts: &AnalyzeOptions,
    solver: &dyn Eigensolver,
    out: &Path,
    shard: ShardSpec,
    resume: bool,
    observer: &dyn Observer,
    cancel: Option<&AtomicBool>,
) -> Result<DirRun> {
    let wall = Instant::now();
    let planned = plan(ckpt.tensors(), &opts.plan);
    let mine = select(&planned.layers, shard)?;
    let want = Manifest {
        format: OUT_FORMAT_VERSION,
        htdiag_version: env!("CARGO_PKG_VERSION").to_string(),
        source: ckpt.source().display().to_string(),
        checkpoint: CheckpointId::of(ckpt)?,
        options: opts.to_json(),
        shard,
        rows: mine.iter().map(|p| (p.layer_id, p.slice_id)).collect(),
        skipped: planned.skipped.clone(),
    };
    let dir = OutDir::prepare(out, want, resume)?;
    let done = dir.finished()?;
    let done_keys: BTreeSet<RowKey> = done.iter().map(|r| (r.layer_id, r.slice_id)).collect();
    let todo: Vec<_> = mine
        .into_iter()
        .filter(|p| !done_keys.contains(&(p.layer_id, p.slice_id)))
        .collect();

    let local_stop = AtomicBool::new(false);
    let stop = cancel.unwrap_or(&local_stop);
    let writer = Writer {
        dir: &dir,
        inner: observer,
        error: Mutex::new(None),
        stop,
    };
    let outcome = run_rows(ckpt, &todo, opts, solver, &writer, Some(stop));
    let threads = effective_threads(opts.threads);
    let session = dir.add_session(wall.elapsed().as_secs_f64(), threads)?;
    if let Some(e) = writer.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let computed = outcome?;
    let (reused, n_new) = (done.len(), computed.len());
    let mut rows = done;
    rows.extend(computed);
    let result = assemble(
        dir.manifest().source.clone(),
        opts,
        rows,
        planned.skipped,
        session.wall,
        threads,
    );
    if shard.count == 1 {
        let p = out.join(RESULT);
        let text = crate::report::json::to_json(&result)?;
        atomic_write(&p, text.as_bytes())?;
    }
    Ok(DirRun {
        reused,
        computed: n_new,
        total: dir.manifest().rows.len(),
        result,
    })
}
