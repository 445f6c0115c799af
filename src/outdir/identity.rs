//! Identity of a checkpoint as an output folder's manifest records it: file names, sizes and
//! fingerprints, enough to notice another checkpoint (or a re-exported one, or another
//! fine-tune with the same layout) without reading all tensor data.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, Layout};
use crate::error::{Error, Result};

/// One checkpoint file as the manifest records it.
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
    /// FNV-1a 64 of the tensor table (every tensor's name, dtype, shape, file and byte
    /// range): the same files read another way (another dict key of a PyTorch checkpoint,
    /// say an EMA copy of the same layout) give other tensors, and so another identity.
    #[serde(default)]
    pub table_fnv64: String,
}

impl CheckpointId {
    /// Reads the identity of an open checkpoint (headers and data samples only).
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
            table_fnv64: format!("{:016x}", table_fnv64(ckpt)),
        })
    }

    /// The first difference from `now`, in words (for "cannot resume" messages).
    pub fn describe_diff(&self, now: &CheckpointId) -> String {
        let (a, b) = (self, now);
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
        if a.table_fnv64 != b.table_fnv64 {
            return "the same files, but other tensors read from them (another dict key of a \
                    PyTorch checkpoint?)"
                .into();
        }
        "index presence differs".into()
    }
}

/// FNV-1a 64 of the tensor table, one line per tensor (`name dtype shape file start end`).
fn table_fnv64(ckpt: &Checkpoint) -> u64 {
    let text: String = ckpt
        .tensors()
        .iter()
        .map(|t| {
            format!(
                "{} {} {:?} {} {} {}\n",
                t.name, t.dtype, t.shape, t.shard, t.byte_range.start, t.byte_range.end
            )
        })
        .collect();
    fnv64(text.as_bytes())
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
