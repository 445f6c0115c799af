//! The manifest of an output folder: what the run in it computes, and whether a later run
//! may continue it.

use serde::{Deserialize, Serialize};

use super::RowKey;
use super::identity::CheckpointId;
use crate::result::SkippedTensor;
use crate::shard::ShardSpec;

/// What an output folder holds (see the [module docs](super)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`OUT_FORMAT_VERSION`](super::OUT_FORMAT_VERSION).
    pub format: u32,
    /// htdiag version that computed the rows.
    pub htdiag_version: String,
    /// The checkpoint path as given (the merged result's `source`).
    pub source: String,
    /// Identity of the checkpoint.
    pub checkpoint: CheckpointId,
    /// [`AnalyzeOptions::to_json`](crate::analyze::AnalyzeOptions::to_json) of the run
    /// (threads excluded: they do not change results).
    pub options: serde_json::Value,
    /// Which part of the plan this folder computes (`0/1` when unsharded).
    pub shard: ShardSpec,
    /// The rows this part computes, in `(layer_id, slice_id)` order.
    pub rows: Vec<RowKey>,
    /// Tensors the plan skips (the same in every part).
    pub skipped: Vec<SkippedTensor>,
}

impl Manifest {
    /// Why `self` (found in a folder) cannot be continued as `want`, if it cannot.
    pub fn mismatch(&self, want: &Manifest) -> Option<String> {
        if self.format != want.format {
            return Some(format!(
                "folder layout {} (this htdiag writes {})",
                self.format, want.format
            ));
        }
        if self.htdiag_version != want.htdiag_version {
            return Some(format!(
                "computed by htdiag {} (this is {})",
                self.htdiag_version, want.htdiag_version
            ));
        }
        if self.checkpoint != want.checkpoint {
            return Some(format!(
                "a different checkpoint (was {}: {})",
                self.source,
                self.checkpoint.describe_diff(&want.checkpoint)
            ));
        }
        if self.options != want.options {
            return Some(format!(
                "different options (was {}, now {})",
                self.options, want.options
            ));
        }
        if self.shard != want.shard {
            return Some(format!(
                "shard {} (now {})",
                self.shard.label(),
                want.shard.label()
            ));
        }
        if self.rows != want.rows || self.skipped != want.skipped {
            return Some("a different plan".into());
        }
        None
    }

    /// Why `self` and `other` cannot be parts of one sharded run, if they cannot (for merge).
    pub fn part_mismatch(&self, other: &Manifest) -> Option<&'static str> {
        if self.checkpoint != other.checkpoint {
            Some("checkpoint")
        } else if self.options != other.options {
            Some("options")
        } else if self.htdiag_version != other.htdiag_version {
            Some("htdiag version")
        } else if self.shard.count != other.shard.count {
            Some("number of parts")
        } else if self.skipped != other.skipped {
            Some("plan")
        } else {
            None
        }
    }
}
