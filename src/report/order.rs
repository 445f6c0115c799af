//! The order rows are shown in. Safetensors headers and Hugging Face shard indexes list
//! tensors in plain string order (`layers.1, layers.10, layers.11, layers.2`), so checkpoint
//! order reads badly; natural order compares digit runs as numbers. Sorting changes only the
//! order of `layers` and `skipped`: every row keeps its `layer_id` (the checkpoint position).

use crate::result::AnalysisResult;
use crate::util::natural_cmp;

/// How rows are ordered in the views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowOrder {
    /// Numeric-aware name order (`layers.2` before `layers.10`), then `layer_id`.
    #[default]
    Natural,
    /// Checkpoint order (`layer_id`), as the analysis produces it.
    File,
    /// Plain string order of the names, then `layer_id`.
    Name,
}

/// Sorts the rows (and skipped tensors) of `result` in `order`; conv slices of one tensor
/// stay together in slice order. Stable, so equal keys keep their current order.
pub fn sort_rows(result: &mut AnalysisResult, order: RowOrder) {
    let cmp = |a: (&str, usize), b: (&str, usize)| match order {
        RowOrder::File => a.1.cmp(&b.1),
        RowOrder::Natural => natural_cmp(a.0, b.0).then(a.1.cmp(&b.1)),
        RowOrder::Name => a.0.cmp(b.0).then(a.1.cmp(&b.1)),
    };
    result.layers.sort_by(|a, b| {
        cmp((&a.name, a.layer_id), (&b.name, b.layer_id)).then(a.slice_id.cmp(&b.slice_id))
    });
    result
        .skipped
        .sort_by(|a, b| cmp((&a.name, a.layer_id), (&b.name, b.layer_id)));
}
