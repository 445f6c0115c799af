//! TempBalance's layer-wise learning rates (`Tempbalance.get_layer_temps` in
//! `tempbalance.py`) and AlphaDecay's layer-wise weight decay (the same linear map in
//! `WeightDecayUnbalance.py`); ALLOCATION.md sections 5 and 6.
//!
//! Layers: every Linear/Conv2d weight in order; drop the first, then the last, then every
//! layer with fewer than 50 eigenvalues. With `v` the global value and ratios `(a, b)`:
//!
//! ```text
//! linear: np.interp(m_l, [min m, max m], [a v, b v])
//! sqrt:   sqrt(m_l) / np.sum(sqrt(m)) * n * v        log2: the same with log2
//! step:   v * (a + (b - a) * rank_l / n)              (rank by ascending m, 0-based)
//! ```
//!
//! Higher alpha, higher value. `min`/`max` are Python's builtins over the scores; the step
//! rank breaks ties by layer order (numpy's `argsort` is not stable above 16 values).

use super::{
    AllocatedLayer, Allocation, Excluded, Metric, ScheduleOptions, is_layer_weight, metric_values,
    module_of, numel, numpy,
};
use crate::error::{Error, Result};
use crate::result::{AnalysisResult, LayerResult};

/// TempBalance's `assign_func` (`--map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    /// `tb_linear_map` (every published config).
    Linear,
    /// `tb_sqrt`.
    Sqrt,
    /// `tb_log2`.
    Log2,
    /// `tb_step`.
    Step,
}

impl Map {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Map::Linear => "linear",
            Map::Sqrt => "sqrt",
            Map::Log2 => "log2",
            Map::Step => "step",
        }
    }
}

/// The values of `get_layer_temps` for the scores `m` (in layer order).
pub fn layer_values(m: &[f64], base: f64, (a, b): (f64, f64), map: Map) -> Vec<f64> {
    let n = m.len();
    match map {
        Map::Linear => {
            // Python's min()/max() over the array: the first extreme by `<` / `>`.
            let lo = m
                .iter()
                .copied()
                .fold(f64::INFINITY, |x, y| if y < x { y } else { x });
            let hi = m
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, |x, y| if y > x { y } else { x });
            m.iter()
                .map(|&x| numpy::interp2(x, (lo, hi), (a * base, b * base)))
                .collect()
        }
        Map::Sqrt | Map::Log2 => {
            let f: Vec<f64> = m
                .iter()
                .map(|&x| if map == Map::Sqrt { x.sqrt() } else { x.log2() })
                .collect();
            let total = numpy::sum(&f);
            f.iter().map(|v| v / total * n as f64 * base).collect()
        }
        Map::Step => {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&i, &j| m[i].total_cmp(&m[j]));
            let mut out = vec![0.0; n];
            for (rank, &l) in order.iter().enumerate() {
                out[l] = base * (a + (b - a) * rank as f64 / n as f64);
            }
            out
        }
    }
}

/// The schedule over the result's Linear/Conv2d weights (batch norm is added by the caller).
pub(super) fn allocate(
    result: &AnalysisResult,
    o: &ScheduleOptions,
    metric: Metric,
) -> Result<Allocation> {
    let mut excluded = Vec::new();
    let mut rows: Vec<&LayerResult> = Vec::new();
    for r in &result.layers {
        if is_layer_weight(&r.name, &r.shape) {
            rows.push(r);
        } else {
            excluded.push(Excluded {
                name: r.name.clone(),
                reason: "not a Linear/Conv2d weight".into(),
            });
        }
    }
    let mut exclude = |r: &LayerResult, why: String| {
        excluded.push(Excluded {
            name: r.name.clone(),
            reason: why,
        })
    };
    if !rows.is_empty() {
        exclude(
            rows.remove(0),
            "first layer: their remove_first_layer".into(),
        );
    }
    if let Some(r) = rows.pop() {
        exclude(r, "last layer: their remove_last_layer".into());
    }
    rows.retain(|r| {
        let keep = r.num_evals >= o.min_evals;
        if !keep {
            exclude(
                r,
                format!(
                    "{} eigenvalues < {}: their eigs_thresh",
                    r.num_evals, o.min_evals
                ),
            );
        }
        keep
    });
    if rows.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no layer of {} is left after dropping the first and last layer and those with \
             fewer than {} eigenvalues",
            result.source, o.min_evals
        )));
    }
    let values = metric_values(&rows, metric, "the schedule")?;
    let out = layer_values(&values, o.base, o.ratios, o.map);
    let layers = rows
        .iter()
        .zip(values.iter().zip(&out))
        .map(|(r, (&alpha, &value))| AllocatedLayer {
            name: r.name.clone(),
            module: module_of(&r.name).to_string(),
            alpha,
            value,
            params: numel(&r.shape),
            score: None,
            block: None,
            inherits: None,
        })
        .collect();
    let mut warnings = Vec::new();
    for (r, v) in rows.iter().zip(&values).filter(|(_, v)| !v.is_finite()) {
        warnings.push(format!(
            "{}: {} = {v} (a tail of equal eigenvalues); mapped as their code maps it",
            r.name,
            metric.as_str()
        ));
    }
    Ok(Allocation {
        method: String::new(),
        settings: serde_json::Value::Null,
        layers,
        excluded,
        mean_sparsity: None,
        warnings,
    })
}
