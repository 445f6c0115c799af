//! AlphaPruning's layer-wise sparsity (`ww_sparsity` in `lib/prune.py`; ALLOCATION.md
//! section 4):
//!
//! ```text
//! m_l = metric of layer l (block_wise: the mean over its block, numpy's np.mean)
//! r_l = ((m_l - min m) / (max m - min m)) * (s2 - s1) + s1,   s1 = 1 - eps, s2 = 1 + eps
//! sparsity_l = r_l * scaler,  scaler = float32(sum n_l * S) / sum_l n_l r_l
//! ```
//!
//! Higher alpha, more pruning. The total `sum n_l * S` is float32 in their code (an int64
//! tensor times a Python float), so the parameter-weighted mean is that float32 value over
//! `sum n_l`, not S exactly; [`Allocation::mean_sparsity`] reports it. Values above 1 are
//! kept (and warned about) unless `clip` is set.

use super::{
    AllocatedLayer, Allocation, Excluded, Mapping, Metric, PruningOptions, is_conv,
    is_layer_weight, metric_values, module_of, numel, numpy,
};
use crate::error::{Error, Result};
use crate::result::{AnalysisResult, LayerResult};

/// The float32 total `float32(sum n) * float32(S)` of their `torch.sum(prunables) *
/// sparsity_ratio`, widened.
pub fn float32_total(params: u64, sparsity: f64) -> f64 {
    ((params as f32) * (sparsity as f32)) as f64
}

/// The ratios `r_l` before scaling, from the scores `m_l`.
pub fn unscaled_ratios(scores: &[f64], epsilon: f64) -> Result<Vec<f64>> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    if max - min == 0.0 || !(max - min).is_finite() {
        return Err(Error::InvalidArgument(format!(
            "AlphaPruning maps scores by (m - min) / (max - min), with min = {min} and max = \
             {max} here: every sparsity would be NaN in their code (use the layer mapping, \
             another metric, or more layers)"
        )));
    }
    let (s1, s2) = (1.0 - epsilon, 1.0 + epsilon);
    Ok(scores
        .iter()
        .map(|&m| ((m - min) / (max - min)) * (s2 - s1) + s1)
        .collect())
}

/// Sparsities `r_l * total / sum(n_l r_l)`.
pub fn scale(ratios: &[f64], params: &[u64], sparsity: f64) -> Vec<f64> {
    let total = float32_total(params.iter().sum(), sparsity);
    let weighted: Vec<f64> = ratios
        .iter()
        .zip(params)
        .map(|(r, &n)| n as f64 * r)
        .collect();
    let scaler = total / numpy::sum(&weighted);
    ratios.iter().map(|r| r * scaler).collect()
}

/// Block means: every layer's score is the numpy mean of its block's metrics.
pub fn block_means(values: &[f64], blocks: &[String]) -> Vec<f64> {
    let mut order: Vec<&String> = Vec::new();
    for b in blocks {
        if !order.contains(&b) {
            order.push(b);
        }
    }
    let means: Vec<f64> = order
        .iter()
        .map(|b| {
            let v: Vec<f64> = values
                .iter()
                .zip(blocks)
                .filter(|(_, x)| x == b)
                .map(|(v, _)| *v)
                .collect();
            numpy::mean(&v)
        })
        .collect();
    blocks
        .iter()
        .map(|b| means[order.iter().position(|o| *o == b).unwrap_or(0)])
        .collect()
}

/// The block of a tensor name: the block pattern's first group (or whole match).
fn block_of(o: &PruningOptions, name: &str) -> Option<String> {
    o.block_regex
        .captures(name)
        .and_then(|c| c.get(1).or_else(|| c.get(0)))
        .map(|m| m.as_str().to_string())
}

/// Whether AlphaPruning counts a tensor: a Linear weight inside a block.
pub(super) fn counts(o: &PruningOptions, name: &str, shape: &[usize]) -> bool {
    shape.len() == 2 && is_layer_weight(name, shape) && block_of(o, name).is_some()
}

/// The allocation over the Linear weights inside the blocks, in result order.
pub(super) fn allocate(
    result: &AnalysisResult,
    o: &PruningOptions,
    metric: Metric,
) -> Result<Allocation> {
    if !(0.0..=1.0).contains(&o.sparsity) || o.epsilon.is_nan() || o.epsilon < 0.0 {
        return Err(Error::InvalidArgument(format!(
            "sparsity must lie in [0, 1] and epsilon be >= 0 (got {} and {})",
            o.sparsity, o.epsilon
        )));
    }
    let block_of = |name: &str| block_of(o, name);
    let mut excluded = Vec::new();
    let mut rows: Vec<&LayerResult> = Vec::new();
    for r in &result.layers {
        let reason = if block_of(&r.name).is_none() {
            Some("outside every block (AlphaPruning prunes the transformer blocks only)")
        } else if is_conv(r) || !is_layer_weight(&r.name, &r.shape) {
            Some("not a Linear weight (AlphaPruning prunes nn.Linear only)")
        } else {
            None
        };
        match reason {
            Some(why) => excluded.push(Excluded {
                name: r.name.clone(),
                reason: why.into(),
            }),
            None => rows.push(r),
        }
    }
    if rows.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "AlphaPruning needs at least 2 Linear layers inside blocks matching /{}/; {} has {}",
            o.block_regex,
            result.source,
            rows.len()
        )));
    }
    let values = metric_values(&rows, metric, "AlphaPruning")?;
    if let Some((r, v)) = rows.iter().zip(&values).find(|(_, v)| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "{}: {} = {v}; AlphaPruning's min-max map would make every sparsity NaN",
            r.name,
            metric.as_str()
        )));
    }
    let blocks: Vec<String> = rows
        .iter()
        .map(|r| block_of(&r.name).unwrap_or_default())
        .collect();
    let scores = match o.mapping {
        Mapping::Block => block_means(&values, &blocks),
        Mapping::Layer => values.clone(),
    };
    let params: Vec<u64> = rows.iter().map(|r| numel(&r.shape)).collect();
    let mut sparsity = scale(&unscaled_ratios(&scores, o.epsilon)?, &params, o.sparsity);

    let mut warnings = Vec::new();
    let over: Vec<String> = rows
        .iter()
        .zip(&sparsity)
        .filter(|(_, s)| **s > 1.0)
        .map(|(r, s)| format!("{} ({s:.4})", r.name))
        .collect();
    if !over.is_empty() {
        warnings.push(format!(
            "{} layer(s) get a sparsity above 1{}: {}",
            over.len(),
            if o.clip {
                " before clipping to 1"
            } else {
                " (their code keeps it; clipping caps it at 1)"
            },
            over.join(", ")
        ));
    }
    if o.clip {
        sparsity.iter_mut().for_each(|s| *s = s.clamp(0.0, 1.0));
    }
    let total: u64 = params.iter().sum();
    let kept: f64 = numpy::sum(
        &sparsity
            .iter()
            .zip(&params)
            .map(|(s, &n)| s * n as f64)
            .collect::<Vec<_>>(),
    );
    let layers = rows
        .iter()
        .enumerate()
        .map(|(k, r)| AllocatedLayer {
            name: r.name.clone(),
            module: module_of(&r.name).to_string(),
            alpha: values[k],
            value: sparsity[k],
            params: params[k],
            score: (o.mapping == Mapping::Block).then_some(scores[k]),
            block: Some(blocks[k].clone()),
            inherits: None,
        })
        .collect();
    Ok(Allocation {
        method: String::new(),
        settings: serde_json::Value::Null,
        layers,
        excluded,
        mean_sparsity: Some(kept / total as f64),
        warnings,
    })
}
