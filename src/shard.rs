//! Splitting one analysis over many machines (`--shard K/N`): which rows each part computes.
//! Pure planning: the parts' output folders and their combination (`htdiag merge`) are
//! `outdir`'s.
//!
//! # The split
//! The plan (which depends only on the checkpoint's headers and the options) is cut into `N`
//! parts by tensor, so every tensor is read by exactly one machine, and balanced by the
//! estimated cost [`row_cost`]: tensors in decreasing cost (ties by `layer_id`) each go to the
//! part with the least cost so far (ties to the lowest index), the classic LPT rule (Graham
//! 1969: within 4/3 of the best makespan). It is deterministic: every machine computes the
//! same split from the same checkpoint and options, with no coordination. `K` is 0-based, as
//! `SLURM_ARRAY_TASK_ID` (with `--array=0-(N-1)`) and Kubernetes' `JOB_COMPLETION_INDEX`.

use serde::{Deserialize, Serialize};

use crate::analyze::row_cost;
use crate::error::{Error, Result};
use crate::plan::PlannedLayer;

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
                 SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX)"
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
