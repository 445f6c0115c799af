//! Splitting one analysis over many machines (`--shard K/N`) and combining the parts
//! (`htdiag merge`) into the result a single machine would have produced.
//!
//! # The split
//! The plan (which depends only on the checkpoint's headers and the options) is cut into `N`
//! parts by tensor, so every tensor is read by exactly one machine, and balanced by the
//! estimated cost [`row_cost`]: tensors in decreasing cost (ties by `layer_id`) each go to the
//! part with the least cost so far (ties to the lowest index), the classic LPT rule (Graham
//! 1969: within 4/3 of the best makespan). It is deterministic: every machine computes the
//! same split from the same checkpoint and options, with no coordination. `K` is 0-based, as
//! `SLURM_ARRAY_TASK_ID` (with `--array=0-(N-1)`) and Kubernetes' `JOB_COMPLETION_INDEX`.
//!
//! # What "identical" means
//! Rows are computed independently and deterministically, so a row's numbers do not depend on
//! the machine's thread count, the schedule or the shard it fell in. Only time measurements
//! differ: [`LayerTimings`](crate::result::LayerTimings) in each row and
//! [`RunTimings`](crate::result::RunTimings) of the run. Two results are *the same* when they
//! are equal once every timing is set to zero ([`same_results`], comparing the JSON values so
//! NaN metrics compare equal). The CSV view has no timings, so its text is byte-identical; the
//! JSON text is identical except for the `timings` objects. A merged result's run timings are
//! the sums of the rows' phases (as in any run), its `wall` the sum of the parts' `wall` (the
//! machine-seconds spent) and its `threads` the largest part's.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analyze::{AnalyzeOptions, assemble, row_cost};
use crate::error::{Error, Result};
use crate::plan::PlannedLayer;
use crate::result::{AnalysisResult, LayerTimings, RunTimings};
use crate::resume::{OutDir, RowKey};

/// Part `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    /// Which part, `0 <= index < count`.
    pub index: usize,
    /// Number of parts.
    pub count: usize,
}

impl ShardSpec {
    /// The whole plan as one part.
    pub const WHOLE: ShardSpec = ShardSpec { index: 0, count: 1 };

    /// Parses `K/N` (0-based `K`).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::InvalidArgument(format!(
                "shard '{s}': {why} (expected K/N with 0 <= K < N, e.g. 0/4; K is 0-based like \
                 SLURM_ARRAY_TASK_ID with --array=0-3 and JOB_COMPLETION_INDEX)"
            ))
        };
        let (k, n) = s.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let index: usize = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let count: usize = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("K must be smaller than N"));
        }
        Ok(ShardSpec { index, count })
    }

    /// `K/N`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.index, self.count)
    }
}

/// Assigns every row to a part: returns, for each row of `rows`, its part index (see the
/// module docs). Rows of one tensor always share a part.
pub fn split(rows: &[PlannedLayer], count: usize) -> Vec<usize> {
    let count = count.max(1);
    // Tensors: (cost, layer_id), rows of one tensor together.
    let mut tensors: Vec<(f64, usize)> = Vec::new();
    for p in rows {
        match tensors.last_mut() {
            Some(t) if t.1 == p.layer_id => t.0 += row_cost(p),
            _ => tensors.push((row_cost(p), p.layer_id)),
        }
    }
    tensors.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut load = vec![0.0f64; count];
    let mut part_of = std::collections::HashMap::new();
    for (cost, id) in tensors {
        let k = (0..count)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        load[k] += cost;
        part_of.insert(id, k);
    }
    rows.iter().map(|p| part_of[&p.layer_id]).collect()
}

/// The rows of part `shard` (all rows for [`ShardSpec::WHOLE`]), in plan order.
pub fn select(rows: &[PlannedLayer], shard: ShardSpec) -> Result<Vec<PlannedLayer>> {
    if shard.count == 0 || shard.index >= shard.count {
        return Err(Error::InvalidArgument(format!(
            "shard {} is not a part (0 <= K < N)",
            shard.label()
        )));
    }
    let parts = split(rows, shard.count);
    Ok(rows
        .iter()
        .zip(parts)
        .filter(|(_, k)| *k == shard.index)
        .map(|(p, _)| p.clone())
        .collect())
}

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
        let differs = if m.checkpoint != m0.checkpoint {
            Some("checkpoint")
        } else if m.options != m0.options {
            Some("options")
        } else if m.htdiag_version != m0.htdiag_version {
            Some("htdiag version")
        } else if m.shard.count != m0.shard.count {
            Some("number of parts")
        } else if m.skipped != m0.skipped {
            Some("plan")
        } else {
            None
        };
        if let Some(what) = differs {
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
                "part {} in {} is unfinished: {} of {} rows done (rerun that part with --resume)",
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
        // The part's own result (when it finished) records its wall time; else count 0.
        if let Ok(p) = part_wall(dir) {
            wall += p.0;
            threads = threads.max(p.1);
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

/// Wall time and threads of a finished part (from `DIR/part.json`).
fn part_wall(dir: &Path) -> Result<(f64, usize)> {
    let p = dir.join(crate::resume::PART_TIMINGS);
    let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
    let t: RunTimings = serde_json::from_slice(&bytes).map_err(|e| Error::Serde {
        path: p,
        reason: e.to_string(),
    })?;
    Ok((t.wall, t.threads))
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
