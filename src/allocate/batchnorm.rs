//! Batch norm follows its convolution (TempBalance and AlphaDecay, `batchnorm_type='name'`):
//! a BatchNorm2d module named `B` takes the value of the layer named `B.replace('bn',
//! 'conv')` (every occurrence, as Python's `str.replace`) when that layer is allocated.
//!
//! A checkpoint has no module types: a batch-norm module is a prefix with a `running_mean`
//! and a `running_var` tensor (they are listed among the result's skipped tensors, being
//! rank 1). Its parameters are its `weight` and `bias`.

use std::collections::BTreeMap;

use super::{AllocatedLayer, module_of, numel};
use crate::result::AnalysisResult;

/// `layers` with an entry for every batch-norm module after the layer it inherits from.
pub(super) fn with_batchnorm(
    result: &AnalysisResult,
    layers: Vec<AllocatedLayer>,
) -> Vec<AllocatedLayer> {
    // Every tensor of the checkpoint: (layer_id, name, shape).
    let mut tensors: Vec<(usize, &str, &[usize])> = result
        .layers
        .iter()
        .map(|l| (l.layer_id, l.name.as_str(), l.shape.as_slice()))
        .chain(
            result
                .skipped
                .iter()
                .map(|s| (s.layer_id, s.name.as_str(), s.shape.as_slice())),
        )
        .collect();
    tensors.sort_by_key(|t| t.0);
    tensors.dedup_by_key(|t| t.0);
    let has = |n: &str| tensors.iter().any(|t| t.1 == n);
    let mut bn: BTreeMap<usize, &str> = BTreeMap::new();
    for (id, name, _) in &tensors {
        if let Some(m) = name.strip_suffix(".running_mean")
            && has(&format!("{m}.running_var"))
        {
            bn.insert(*id, m);
        }
    }
    let mut out = Vec::with_capacity(layers.len() + bn.len());
    for l in layers {
        let conv = l.module.clone();
        out.push(l);
        let from = out.len() - 1;
        for m in bn.values().filter(|m| m.replace("bn", "conv") == conv) {
            let params: u64 = tensors
                .iter()
                .filter(|t| {
                    module_of(t.1) == *m && (t.1.ends_with(".weight") || t.1.ends_with(".bias"))
                })
                .map(|t| numel(t.2))
                .sum();
            let weight = format!("{m}.weight");
            let src = &out[from];
            let entry = AllocatedLayer {
                name: if has(&weight) { weight } else { m.to_string() },
                module: m.to_string(),
                alpha: src.alpha,
                value: src.value,
                params,
                score: None,
                block: None,
                inherits: Some(src.name.clone()),
            };
            out.push(entry);
        }
    }
    out
}
