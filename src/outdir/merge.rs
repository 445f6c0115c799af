//! `htdiag merge`: combining the output folders of all parts of a sharded run into the result
//! a single machine would have produced.
//!
//! # What "identical" means
//! Rows are computed independently and deterministically, so a row's numbers do not depend on
//! the machine's thread count, the schedule or the shard it fell in. Only time measurements
//! differ: [`LayerTimings`] in each row and [`RunTimings`] of the run. Two results are *the
//! same* when they are equal once every timing is set to zero ([`same_results`], comparing
//! the JSON values so NaN metrics compare equal). The CSV view has no timings, so its text is
//! byte-identical; the JSON text is identical except for the `timings` objects. A merged
//! result's run timings are the sums of the rows' phases (as in any run), its `wall` the sum
//! of the parts' `wall` (the machine-seconds spent) and its `threads` the largest part's.

use std::collections::BTreeSet;
use std::path::Path;

use super::{OutDir, RowKey};
use crate::analyze::{AnalyzeOptions, assemble};
use crate::error::{Error, Result};
use crate::result::{AnalysisResult, LayerTimings, RunTimings};

/// Combines the output folders of all parts of a sharded run (each complete) into the result
/// a single machine would have produced ([`same_results`]). Fails, naming the folder, if the
/// parts disagree on checkpoint, options, version or part count, if a part is missing or given
/// twice, or if a part is unfinished.
pub fn merge(dirs: &[&Path]) -> Result<AnalysisResult> {
    let parts = dirs
        .iter()
        .map(|d| OutDir::open(d))
        .collect::<Result<Vec<_>>>()?;
    let Some(first) = parts.first() else {
        return Err(Error::InvalidArgument(
            "merge needs at least one part".into(),
        ));
    };
    let m0 = first.manifest().clone();
    let mut seen = vec![None::<&Path>; m0.shard.count];
    let mut layers = Vec::new();
    let mut keys: BTreeSet<RowKey> = BTreeSet::new();
    let mut wall = 0.0;
    let mut threads = 0;
    for (part, dir) in parts.iter().zip(dirs) {
        let m = part.manifest();
        if let Some(what) = m.part_mismatch(&m0) {
            return Err(Error::InvalidArgument(format!(
                "{} and {} are parts of different runs (their {what} differs)",
                dirs[0].display(),
                dir.display()
            )));
        }
        if m.shard.index >= m.shard.count {
            return Err(Error::InvalidArgument(format!(
                "{}: its manifest names part {}, which does not exist",
                dir.display(),
                m.shard.label()
            )));
        }
        if let Some(other) = seen[m.shard.index].replace(*dir) {
            return Err(Error::InvalidArgument(format!(
                "part {} is given twice: {} and {}",
                m.shard.label(),
                other.display(),
                dir.display()
            )));
        }
        let rows = part.finished()?;
        if rows.len() != m.rows.len() {
            return Err(Error::InvalidArgument(format!(
                "part {} in {} is unfinished: {} of {} rows done (resume that part to finish it)",
                m.shard.label(),
                dir.display(),
                rows.len(),
                m.rows.len()
            )));
        }
        for r in &rows {
            if !keys.insert((r.layer_id, r.slice_id)) {
                return Err(Error::InvalidArgument(format!(
                    "row {} ({}) appears in more than one part",
                    r.layer_id, r.name
                )));
            }
        }
        // The part's sessions record their wall time; a part without that file counts 0.
        if let Ok(t) = part.part_timings() {
            wall += t.wall;
            threads = threads.max(t.threads);
        }
        layers.extend(rows);
    }
    if let Some(k) = seen.iter().position(Option::is_none) {
        return Err(Error::InvalidArgument(format!(
            "part {k}/{} is missing ({} of {} parts given)",
            m0.shard.count,
            seen.iter().filter(|s| s.is_some()).count(),
            m0.shard.count
        )));
    }
    let mut result = assemble(
        m0.source.clone(),
        &AnalyzeOptions::default(),
        layers,
        m0.skipped.clone(),
        wall,
        threads,
    );
    result.options = m0.options;
    Ok(result)
}

/// A copy of `r` with every timing set to zero (see "What identical means").
pub fn without_timings(r: &AnalysisResult) -> AnalysisResult {
    let mut r = r.clone();
    r.timings = RunTimings::default();
    for l in &mut r.layers {
        l.timings = LayerTimings::default();
    }
    r
}

/// Whether two results are the same apart from timings (module docs).
pub fn same_results(a: &AnalysisResult, b: &AnalysisResult) -> bool {
    let j = |r: &AnalysisResult| serde_json::to_value(without_timings(r)).ok();
    match (j(a), j(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}
