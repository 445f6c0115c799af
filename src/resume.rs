//! Streaming, resumable analysis into an output folder (`htdiag analyze --out DIR`).
//!
//! ```text
//! DIR/manifest.json          what this run computes: checkpoint identity, options, shard,
//!                            the rows it owns and the tensors the plan skips
//! DIR/layers/L000012.json    one LayerResult per finished row (L000012-s4.json for slice 4),
//!                            written atomically the moment the row is done
//! DIR/result.json            the assembled AnalysisResult, once every row is done
//!                            (unsharded runs; shards are combined by `htdiag merge`)
//! DIR/timings.json           wall time of the sessions so far (RunTimings; for merge)
//! ```
//!
//! Every file is written with [`atomic_write`], so a run killed at any instant leaves only
//! complete files (and perhaps a hidden temp file, removed on resume). Resuming reads the
//! finished rows and computes only the others; it refuses a folder whose manifest names a
//! different checkpoint (file names, sizes, header hashes and a hash of sampled data bytes),
//! different options, another
//! shard or another htdiag version, since the rows would not belong to one result.
//!
//! Only the tensors being worked on are resident: rows are computed by
//! [`run_rows`](crate::analyze::run_rows), which maps one tensor per worker and releases its
//! pages afterwards, and finished rows go to disk (they are kept in memory too, but a row is
//! only its eigenvalues and metrics: 32 KB for a 4096-wide layer).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::analyze::{AnalyzeOptions, Observer, assemble, effective_threads, run_rows};
use crate::checkpoint::{Checkpoint, Layout};
use crate::error::{Error, Result};
use crate::plan::plan;
use crate::result::{AnalysisResult, LayerResult, RunTimings, SkippedTensor};
use crate::shard::{ShardSpec, select};
use crate::spectrum::Eigensolver;
use crate::util::atomic_write;

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

/// One checkpoint file as the manifest records it: enough to notice another checkpoint
/// (or a re-exported one) without reading tensor data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// File name (not the path: the checkpoint may sit elsewhere on another machine).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// FNV-1a 64 of the header (the 8-byte length and the JSON), or of the whole index file.
    pub header_fnv64: String,
    /// FNV-1a 64 of 17 data samples (4 KiB at 16 evenly spaced offsets and at the end), so
    /// two checkpoints with the same layout but other weights (two fine-tunes) differ.
    #[serde(default)]
    pub data_fnv64: String,
}

/// Identity of a checkpoint: its index (if any) and every data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointId {
    /// The shard index file, when the checkpoint has one.
    pub index: Option<FileId>,
    /// The `.safetensors` files, in [`Checkpoint::files`] order.
    pub files: Vec<FileId>,
    /// Number of tensors.
    pub tensors: usize,
}

impl CheckpointId {
    /// Reads the identity of an open checkpoint (headers only).
    pub fn of(ckpt: &Checkpoint) -> Result<Self> {
        let index = match ckpt.layout() {
            Layout::Index(p) => {
                let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
                Some(FileId {
                    name: file_name(p),
                    size: bytes.len() as u64,
                    header_fnv64: format!("{:016x}", fnv64(&bytes)),
                    data_fnv64: String::new(),
                })
            }
            _ => None,
        };
        let files = ckpt.files().map(header_id).collect::<Result<Vec<_>>>()?;
        Ok(CheckpointId {
            index,
            files,
            tensors: ckpt.tensors().len(),
        })
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// FNV-1a, 64 bits: a fast fingerprint (not a defence against a deliberate collision).
pub fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Largest safetensors header taken as one (the format allows 100 MB).
const MAX_HEADER: u64 = 100 << 20;

/// Size, header hash and data-sample hash of one checkpoint file (validated at open, so the
/// length is sane). Reads about 70 KiB beyond the header however large the file.
fn header_id(p: &Path) -> Result<FileId> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    let size = f.metadata().map_err(|e| Error::io(p, e))?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|e| Error::io(p, e))?;
    // A safetensors header length; other formats (PyTorch, GGUF) have none, so their first
    // 64 KiB (magic, metadata, tensor table) stand in for it.
    let n = match u64::from_le_bytes(len) {
        n if n <= size.saturating_sub(8) && n <= MAX_HEADER => n,
        _ => (64 << 10).min(size.saturating_sub(8)),
    };
    let mut head = len.to_vec();
    (&mut f)
        .take(n)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(p, e))?;
    const SAMPLE: u64 = 4096;
    let start = 8 + n;
    let data = size - start;
    let mut samples = Vec::new();
    let offsets = (0..16u64)
        .map(|i| start + data * i / 16)
        .chain([size.saturating_sub(SAMPLE).max(start)]);
    for off in offsets {
        f.seek(SeekFrom::Start(off)).map_err(|e| Error::io(p, e))?;
        (&mut f)
            .take(SAMPLE)
            .read_to_end(&mut samples)
            .map_err(|e| Error::io(p, e))?;
    }
    Ok(FileId {
        name: file_name(p),
        size,
        header_fnv64: format!("{:016x}", fnv64(&head)),
        data_fnv64: format!("{:016x}", fnv64(&samples)),
    })
}

/// What an output folder holds (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`OUT_FORMAT_VERSION`].
    pub format: u32,
    /// htdiag version that computed the rows.
    pub htdiag_version: String,
    /// The checkpoint path as given (the merged result's `source`).
    pub source: String,
    /// Identity of the checkpoint.
    pub checkpoint: CheckpointId,
    /// [`AnalyzeOptions::to_json`] of the run (threads excluded: they do not change results).
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
    fn mismatch(&self, want: &Manifest) -> Option<String> {
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
                describe_diff(&self.checkpoint, &want.checkpoint)
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
}

/// The first difference between two checkpoint identities, in words.
fn describe_diff(a: &CheckpointId, b: &CheckpointId) -> String {
    if a.tensors != b.tensors {
        return format!("{} tensors, now {}", a.tensors, b.tensors);
    }
    if a.files.len() != b.files.len() {
        return format!("{} files, now {}", a.files.len(), b.files.len());
    }
    for (x, y) in a
        .index
        .iter()
        .chain(&a.files)
        .zip(b.index.iter().chain(&b.files))
    {
        if x != y {
            return format!(
                "{} ({} bytes, header {}, data {}) is now {} ({} bytes, header {}, data {})",
                x.name,
                x.size,
                x.header_fnv64,
                x.data_fnv64,
                y.name,
                y.size,
                y.header_fnv64,
                y.data_fnv64
            );
        }
    }
    "index presence differs".into()
}

/// File name of a row's result.
pub fn row_file_name(key: RowKey) -> String {
    match key.1 {
        Some(s) => format!("L{:06}-s{s}.json", key.0),
        None => format!("L{:06}.json", key.0),
    }
}

/// An output folder: its manifest and the rows finished so far.
#[derive(Debug)]
pub struct OutDir {
    root: PathBuf,
    manifest: Manifest,
}

impl OutDir {
    /// Opens an existing output folder read-only (for `merge`).
    pub fn open(root: &Path) -> Result<Self> {
        let mpath = root.join(MANIFEST);
        let text = std::fs::read(&mpath).map_err(|e| Error::io(&mpath, e))?;
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| Error::Serde {
            path: mpath.clone(),
            reason: format!("not an htdiag output manifest: {e}"),
        })?;
        Ok(OutDir {
            root: root.to_path_buf(),
            manifest,
        })
    }

    /// Prepares `root` for the run described by `want`: a fresh folder gets the manifest; a
    /// folder with a manifest is continued only with `resume` and only if it matches.
    pub fn prepare(root: &Path, want: Manifest, resume: bool) -> Result<Self> {
        let mpath = root.join(MANIFEST);
        if mpath.exists() {
            if !resume {
                return Err(Error::InvalidArgument(format!(
                    "{} already holds an analysis; pass --resume to continue it, or choose an \
                     empty folder",
                    root.display()
                )));
            }
            let found = OutDir::open(root)?;
            if let Some(why) = found.manifest.mismatch(&want) {
                return Err(Error::InvalidArgument(format!(
                    "cannot resume in {}: it holds {why}",
                    root.display()
                )));
            }
            found.clean_temp_files()?;
            return Ok(found);
        }
        if root.exists() && !is_empty_dir(root)? {
            return Err(Error::InvalidArgument(format!(
                "{} is not empty and holds no {MANIFEST}; choose an empty or new folder",
                root.display()
            )));
        }
        let layers = root.join(LAYERS_DIR);
        std::fs::create_dir_all(&layers).map_err(|e| Error::io(&layers, e))?;
        let text = serde_json::to_vec_pretty(&want).map_err(|e| Error::Serde {
            path: mpath.clone(),
            reason: e.to_string(),
        })?;
        atomic_write(&mpath, &text)?;
        Ok(OutDir {
            root: root.to_path_buf(),
            manifest: want,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes temp files left by a killed run (`.<name>.tmp-<pid>-<n>`).
    fn clean_temp_files(&self) -> Result<()> {
        for dir in [self.root.clone(), self.root.join(LAYERS_DIR)] {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.contains(".tmp-") {
                    let p = e.path();
                    std::fs::remove_file(&p).map_err(|err| Error::io(&p, err))?;
                }
            }
        }
        Ok(())
    }

    /// Writes one finished row (atomically).
    pub fn write_row(&self, row: &LayerResult) -> Result<()> {
        let p = self
            .root
            .join(LAYERS_DIR)
            .join(row_file_name((row.layer_id, row.slice_id)));
        let text = serde_json::to_vec(row).map_err(|e| Error::Serde {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        atomic_write(&p, &text)
    }

    /// The finished rows of this part, in `(layer_id, slice_id)` order. A row file that does
    /// not belong to the manifest's rows is an error (the folder was tampered with).
    pub fn finished(&self) -> Result<Vec<LayerResult>> {
        let owned: BTreeSet<RowKey> = self.manifest.rows.iter().copied().collect();
        let mut rows = Vec::new();
        for key in &owned {
            let p = self.root.join(LAYERS_DIR).join(row_file_name(*key));
            let bytes = match std::fs::read(&p) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&p, e)),
            };
            let row: LayerResult = serde_json::from_slice(&bytes).map_err(|e| Error::Serde {
                path: p.clone(),
                reason: format!("not a layer result: {e}"),
            })?;
            if (row.layer_id, row.slice_id) != *key {
                return Err(Error::Serde {
                    path: p,
                    reason: format!(
                        "holds row ({}, {:?}), not the one its name says",
                        row.layer_id, row.slice_id
                    ),
                });
            }
            rows.push(row);
        }
        Ok(rows)
    }
}

fn is_empty_dir(p: &Path) -> Result<bool> {
    let mut rd = std::fs::read_dir(p).map_err(|e| Error::io(p, e))?;
    Ok(rd.next().is_none())
}

/// How a run into a folder ended.
#[derive(Debug)]
pub struct DirRun {
    /// Rows found finished when the run started (not recomputed).
    pub reused: usize,
    /// Rows computed by this run.
    pub computed: usize,
    /// Rows this part owns.
    pub total: usize,
    /// The assembled result of this part: every owned row, and all skipped tensors. For an
    /// unsharded run it is the whole analysis (also written to `DIR/result.json`).
    pub result: AnalysisResult,
}

/// Writes each row as it finishes, then forwards to the caller's observer.
struct Writer<'a> {
    dir: &'a OutDir,
    inner: &'a dyn Observer,
    error: Mutex<Option<Error>>,
    stop: &'a AtomicBool,
}

impl Observer for Writer<'_> {
    fn started(&self, rows: usize, cost: f64) {
        self.inner.started(rows, cost);
    }
    fn row_done(&self, row: &LayerResult, cost: f64) {
        if let Err(e) = self.dir.write_row(row) {
            self.error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
            self.stop.store(true, Ordering::Relaxed);
        }
        self.inner.row_done(row, cost);
    }
}

/// Analyses (part of) a checkpoint into `out`, writing every row as it finishes; with
/// `resume`, rows already in `out` are read back instead of recomputed.
///
/// Cancellation (`cancel` set, e.g. by Ctrl-C) lets the rows in flight finish and be saved,
/// then returns [`Error::Interrupted`]; a later call with `resume` completes the run. A failed
/// row write stops the run too (and sets `cancel` if given) and is returned as the error.
#[allow(clippy::too_many_arguments)]
pub fn analyze_to_dir(
    ckpt: &Checkpoint,
    opts: &AnalyzeOptions,
    solver: &dyn Eigensolver,
    out: &Path,
    shard: ShardSpec,
    resume: bool,
    observer: &dyn Observer,
    cancel: Option<&AtomicBool>,
) -> Result<DirRun> {
    let wall = Instant::now();
    let planned = plan(ckpt.tensors(), &opts.plan);
    let mine = select(&planned.layers, shard)?;
    let want = Manifest {
        format: OUT_FORMAT_VERSION,
        htdiag_version: env!("CARGO_PKG_VERSION").to_string(),
        source: ckpt.source().display().to_string(),
        checkpoint: CheckpointId::of(ckpt)?,
        options: opts.to_json(),
        shard,
        rows: mine.iter().map(|p| (p.layer_id, p.slice_id)).collect(),
        skipped: planned.skipped.clone(),
    };
    let dir = OutDir::prepare(out, want, resume)?;
    let done = dir.finished()?;
    let done_keys: BTreeSet<RowKey> = done.iter().map(|r| (r.layer_id, r.slice_id)).collect();
    let todo: Vec<_> = mine
        .into_iter()
        .filter(|p| !done_keys.contains(&(p.layer_id, p.slice_id)))
        .collect();

    let local_stop = AtomicBool::new(false);
    let stop = cancel.unwrap_or(&local_stop);
    let writer = Writer {
        dir: &dir,
        inner: observer,
        error: Mutex::new(None),
        stop,
    };
    let outcome = run_rows(ckpt, &todo, opts, solver, &writer, Some(stop));
    let threads = effective_threads(opts.threads);
    let tpath = out.join(PART_TIMINGS);
    let before: RunTimings = std::fs::read(&tpath)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let session = RunTimings {
        wall: before.wall + wall.elapsed().as_secs_f64(),
        threads: before.threads.max(threads),
        ..RunTimings::default()
    };
    let text = serde_json::to_vec_pretty(&session).map_err(|e| Error::Serde {
        path: tpath.clone(),
        reason: e.to_string(),
    })?;
    atomic_write(&tpath, &text)?;
    if let Some(e) = writer.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let computed = outcome?;
    let (reused, n_new) = (done.len(), computed.len());
    let mut rows = done;
    rows.extend(computed);
    let result = assemble(
        dir.manifest.source.clone(),
        opts,
        rows,
        planned.skipped,
        session.wall,
        threads,
    );
    if shard.count == 1 {
        let p = out.join(RESULT);
        let text = crate::report::json::to_json(&result)?;
        atomic_write(&p, text.as_bytes())?;
    }
    Ok(DirRun {
        reused,
        computed: n_new,
        total: dir.manifest.rows.len(),
        result,
    })
}
