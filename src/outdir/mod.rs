//! The output folder of a streaming, resumable, shardable analysis (`htdiag analyze --out
//! DIR [--resume] [--shard K/N]`) and the combination of a sharded run's folders (`htdiag
//! merge`). Which rows a part owns is planned by [`crate::shard`]; this module only reads
//! and writes folders.
//!
//! ```text
//! DIR/manifest.json          what this run computes: checkpoint identity, options, shard,
//!                            the rows it owns and the tensors the plan skips
//! DIR/layers/L000012.json    one LayerResult per finished row (L000012-s4.json for slice 4),
//!                            written atomically the moment the row is done
//! DIR/result.json            the assembled AnalysisResult, once every row is done
//!                            (unsharded runs; shards are combined by `htdiag merge`)
//! DIR/timings.json           wall time of the sessions so far (RunTimings; read by merge)
//! ```
//!
//! Every file is written with [`atomic_write`](crate::util::atomic_write), so a run killed at
//! any instant leaves only complete files (and perhaps a hidden temp file, removed on
//! resume). Resuming reads the finished rows and computes only the others; it refuses a
//! folder whose manifest names a different checkpoint (file names, sizes, header hashes and a
//! hash of sampled data bytes), different options, another shard or another htdiag version,
//! since the rows would not belong to one result.
//!
//! Only the tensors being worked on are resident: rows are computed by
//! [`run_rows`](crate::analyze::run_rows), which maps one tensor per worker and releases its
//! pages afterwards, and finished rows go to disk (they are kept in memory too, but a row is
//! only its eigenvalues and metrics: 32 KB for a 4096-wide layer).

mod folder;
mod identity;
mod manifest;
mod merge;
mod run;

pub use folder::{OutDir, is_empty_or_missing, row_file_name};
pub use identity::{CheckpointId, FileId, fnv64};
pub use manifest::Manifest;
pub use merge::{merge, same_results, without_timings};
pub use run::{DirRun, analyze_to_dir};

/// Layout version of the output folder.
pub const OUT_FORMAT_VERSION: u32 = 1;
/// Name of the manifest in the output folder.
pub const MANIFEST: &str = "manifest.json";
/// Sub-folder of the per-row results.
pub const LAYERS_DIR: &str = "layers";
/// The assembled result of a complete unsharded run.
pub const RESULT: &str = "result.json";
/// Wall-clock seconds spent on this folder by the sessions that ended (finished or
/// interrupted; a killed session's time is not counted), and the worker threads.
pub const PART_TIMINGS: &str = "timings.json";

/// Identity of a row: `(layer_id, slice_id)`.
pub type RowKey = (usize, Option<usize>);
