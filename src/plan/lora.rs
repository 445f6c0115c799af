//! Rows of a LoRA adapter: one per adapted module (its update `dW = s B A`), the adapter's
//! other tensors (`modules_to_save` copies, biases) planned like any checkpoint's, and, with a
//! base checkpoint, one row per base weight that an update changes (the merged `W0 + dW`).
//!
//! An update row has `min(r, out, in)` eigenvalues (per kernel slice for conv LoRA). The size
//! limits `max_evals` and `max_n` do not apply (the factors are small and the dense product is
//! never formed); with fewer than `min_evals` eigenvalues the row is still analysed, only the
//! power-law fit is left out.

use super::{Plan, PlanOptions, PlannedLayer, conv_eval_scale, plan};
use crate::checkpoint::Checkpoint;
use crate::checkpoint::dtype::FloatDtype;
use crate::checkpoint::peft::{Adapter, LoraKind, LoraModule};
use crate::result::SkippedTensor;
use std::collections::HashMap;

/// One update row.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLora {
    /// The module (its A factor's position is the row's `layer_id`).
    pub module: LoraModule,
    /// Dtype of A and of B.
    pub dtypes: (FloatDtype, FloatDtype),
    /// Shape of `dW` as the base model stores the weight (`[out, in]`, `[in, out]` with
    /// `fan_in_fan_out`, `[num_embeddings, embedding_dim]`, `[out, in, kh, kw]`).
    pub shape: Vec<usize>,
    /// Larger side of one matrix of `dW`.
    pub n: usize,
    /// Smaller side.
    pub m: usize,
    /// Kernel slices pooled in this row (kh*kw for pooled conv LoRA, else 1).
    pub rf: usize,
    /// Kernel position for per-slice rows.
    pub slice_id: Option<usize>,
    /// Eigenvalue factor (conv scaling, as [`PlannedLayer::eval_scale`]).
    pub eval_scale: f64,
    /// Whether the row has at least `min_evals` eigenvalues (the power-law fit is done).
    pub fit: bool,
}

impl PlannedLora {
    /// `layer_id` of the row.
    pub fn layer_id(&self) -> usize {
        self.module.a
    }

    /// Eigenvalues per matrix: the rank bound `min(r, out, in)`.
    pub fn evals_per_matrix(&self) -> usize {
        self.module
            .scale
            .rank
            .min(self.module.out)
            .min(self.module.inp)
    }

    /// Number of eigenvalues of the row.
    pub fn num_evals(&self) -> usize {
        self.evals_per_matrix() * if self.slice_id.is_some() { 1 } else { self.rf }
    }

    /// The kernel slices `(i, j)` of A this row uses (one `(0, 0)` for dense modules).
    pub fn slices(&self) -> Vec<(usize, usize)> {
        match (self.module.kind, self.slice_id) {
            (LoraKind::Conv2d { kw, .. }, Some(s)) => vec![(s / kw, s % kw)],
            (LoraKind::Conv2d { kh, kw }, None) => (0..kh * kw).map(|s| (s / kw, s % kw)).collect(),
            _ => vec![(0, 0)],
        }
    }
}

/// The rows of an adapter.
#[derive(Debug, Clone, Default)]
pub struct AdapterPlan {
    /// Update rows, in `layer_id` order.
    pub lora: Vec<PlannedLora>,
    /// The adapter's other tensors, planned as any checkpoint's, with the bad modules among
    /// the skipped.
    pub plain: Plan,
}

/// Whether the base stores the module's weight transposed relative to `B A`.
pub fn transposed(module: &LoraModule, fan_in_fan_out: bool) -> bool {
    match module.kind {
        LoraKind::Embedding => true,
        LoraKind::Linear => fan_in_fan_out,
        LoraKind::Conv2d { .. } => false,
    }
}

/// Shape of the module's weight (and update) as the base stores it.
pub fn weight_shape(module: &LoraModule, fan_in_fan_out: bool) -> Vec<usize> {
    let (o, i) = (module.out, module.inp);
    match module.kind {
        LoraKind::Conv2d { kh, kw } => vec![o, i, kh, kw],
        _ if transposed(module, fan_in_fan_out) => vec![i, o],
        _ => vec![o, i],
    }
}

/// Plans every row of `adapter`.
pub fn plan_adapter(adapter: &Adapter, opts: &PlanOptions) -> AdapterPlan {
    let tensors = adapter.checkpoint.tensors();
    let mut out = AdapterPlan::default();
    let mut all = plan(tensors, opts);
    all.layers.retain(|p| !adapter.is_lora[p.layer_id]);
    all.skipped.retain(|s| !adapter.is_lora[s.layer_id]);
    out.plain = all;
    for b in &adapter.bad {
        out.plain.skipped.push(SkippedTensor {
            layer_id: b.layer_id,
            name: b.name.clone(),
            dtype: b.dtype.clone(),
            shape: b.shape.clone(),
            reason: b.reason.clone(),
        });
    }
    for m in &adapter.modules {
        let skip = |reason: String| SkippedTensor {
            layer_id: m.a,
            name: m.name.clone(),
            dtype: tensors[m.a].dtype.clone(),
            shape: tensors[m.a].shape.clone(),
            reason,
        };
        if let Some(re) = &opts.layers
            && !re.is_match(&m.name)
        {
            out.plain.skipped.push(skip(format!(
                "name does not match the layers filter /{re}/"
            )));
            continue;
        }
        if let Some(re) = &opts.exclude
            && re.is_match(&m.name)
        {
            out.plain
                .skipped
                .push(skip(format!("name matches the exclude filter /{re}/")));
            continue;
        }
        let (Some(da), Some(db)) = (tensors[m.a].float_dtype, tensors[m.b].float_dtype) else {
            continue; // pairing refused non-float factors already
        };
        let (kh, kw) = match m.kind {
            LoraKind::Conv2d { kh, kw } => (kh, kw),
            _ => (1, 1),
        };
        let conv = matches!(m.kind, LoraKind::Conv2d { .. });
        let per_slice = conv && opts.per_slice;
        let row = |slice_id| {
            let mut p = PlannedLora {
                module: m.clone(),
                dtypes: (da, db),
                shape: weight_shape(m, adapter.config.fan_in_fan_out),
                n: m.out.max(m.inp),
                m: m.out.min(m.inp),
                rf: if per_slice { 1 } else { kh * kw },
                slice_id,
                eval_scale: if conv {
                    conv_eval_scale(kh, kw, per_slice, opts.conv_scaling)
                } else {
                    1.0
                },
                fit: false,
            };
            p.fit = p.num_evals() >= opts.min_evals;
            p
        };
        if per_slice {
            out.lora.extend((0..kh * kw).map(|s| row(Some(s))));
        } else {
            out.lora.push(row(None));
        }
    }
    out.plain.skipped.sort_by_key(|s| s.layer_id);
    out
}

/// A base row whose weight an update changes.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedRow {
    /// The base tensor's row, planned as any (its `layer_id` is the base's).
    pub planned: PlannedLayer,
    /// The module whose update is added.
    pub module: LoraModule,
    /// Whether the update is added transposed (`(s B A)^T`: embeddings, `fan_in_fan_out`).
    pub transposed: bool,
}

/// The base rows to analyse with and without their updates.
#[derive(Debug, Clone, Default)]
pub struct MergedPlan {
    /// Rows, in the base's `layer_id` order.
    pub rows: Vec<MergedRow>,
    /// Modules without a usable base weight, and base weights the size limits skip. A module
    /// with no base tensor at all is numbered after the base's tensors.
    pub skipped: Vec<SkippedTensor>,
}

/// Maps the adapter's modules to the base checkpoint's weights (`<module>.weight`, else the
/// one base tensor ending in `.<module>.weight`, else the one whose name ends
/// `<module>.weight`'s) and plans those weights as any checkpoint's.
pub fn plan_merged(adapter: &Adapter, base: &Checkpoint, opts: &PlanOptions) -> MergedPlan {
    let tensors = base.tensors();
    let mut out = MergedPlan::default();
    let mut target: HashMap<usize, (LoraModule, bool)> = HashMap::new();
    let fan = adapter.config.fan_in_fan_out;
    for (k, m) in adapter.modules.iter().enumerate() {
        let want = format!("{}.weight", m.module);
        let suffix = format!(".{want}");
        let found = base.find(&want).or_else(|| {
            let c: Vec<usize> = (0..tensors.len())
                .filter(|&i| {
                    let n = &tensors[i].name;
                    n.ends_with(&suffix) || want.ends_with(&format!(".{n}"))
                })
                .collect();
            (c.len() == 1).then(|| c[0])
        });
        let shape = weight_shape(m, fan);
        let Some(id) = found else {
            out.skipped.push(SkippedTensor {
                layer_id: tensors.len() + k,
                name: want.clone(),
                dtype: String::new(),
                shape,
                reason: format!(
                    "the base {} has no tensor '{want}' for the adapter's module '{}'",
                    base.source().display(),
                    m.module
                ),
            });
            continue;
        };
        if tensors[id].shape != shape {
            out.skipped.push(SkippedTensor {
                layer_id: id,
                name: tensors[id].name.clone(),
                dtype: tensors[id].dtype.clone(),
                shape: tensors[id].shape.clone(),
                reason: format!(
                    "base weight shape {:?} differs from the update's {shape:?} (module '{}'{})",
                    tensors[id].shape,
                    m.module,
                    if fan { ", fan_in_fan_out" } else { "" }
                ),
            });
            continue;
        }
        target.insert(id, (m.clone(), transposed(m, fan)));
    }
    let planned = plan(tensors, opts);
    for p in planned.layers {
        if let Some((m, t)) = target.get(&p.layer_id) {
            out.rows.push(MergedRow {
                planned: p,
                module: m.clone(),
                transposed: *t,
            });
        }
    }
    out.skipped.extend(
        planned
            .skipped
            .into_iter()
            .filter(|s| target.contains_key(&s.layer_id)),
    );
    out.skipped.sort_by_key(|s| s.layer_id);
    out
}
