//! Checkpoints: safetensors, PyTorch `torch.save` files (zip and legacy formats) and GGUF, as
//! one file, a folder with a shard index (`model.safetensors.index.json`,
//! `pytorch_model.bin.index.json`), or a folder of checkpoint files; memory-mapped, one tensor
//! read at a time. Tensors already in memory (a Python `state_dict`) make a checkpoint too:
//! [`Checkpoint::from_memory`].
//!
//! [`Checkpoint::open`] maps every file and validates every header up front (a bad byte range
//! is an error naming the file and tensor, never a panic later), but reads no tensor data:
//! pages are faulted in only when a tensor's bytes are used, and [`Checkpoint::release`] drops
//! them again, so resident memory stays at about one layer however large the checkpoint is.
//! PyTorch pickles are evaluated by a restricted unpickler that runs nothing (`pickle`), and
//! their tensors are read from the map in place; non-contiguous views are gathered and
//! quantized GGUF tensors dequantized one tensor at a time ([`Checkpoint::tensor_bytes`]).
//!
//! # Tensor order (it defines `layer_id`)
//! - One safetensors file: the order of the tensors' data offsets, i.e. the order of the bytes
//!   in the file. One PyTorch file: the order of its state dict. One GGUF file: the order of
//!   its tensor infos.
//! - A shard index: the order in which its `weight_map` lists the tensors in the JSON text.
//!   Hugging Face tools write the index with `sort_keys=True`, so for those files this is
//!   plain string order (`layers.10` before `layers.2`). Tensors present in a shard but missing
//!   from the index follow, shard by shard, in file order.
//! - A folder without index: its `*.safetensors` files (else its PyTorch files, else its
//!   `*.gguf` files) sorted by name, each in file order.

mod access;
pub mod dtype;
mod formats;
mod gguf;
mod header;
pub mod inspect;
mod memory;
pub mod mixed;
mod ordered;
pub mod peft;
mod pickle;
mod torch;
mod zip;

use crate::error::{Error, Result};
use access::Access;
use dtype::FloatDtype;
use formats::{TORCH_EXTENSIONS, open_file};
use header::ShardFile;
use memmap2::UncheckedAdvice;
use memory::Storage;
pub use memory::{MemoryTensor, TensorData};
use ordered::OrderedMap;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// File name of a sharded checkpoint's index, as Hugging Face writes it.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// File name of a sharded PyTorch checkpoint's index, as Hugging Face writes it.
pub const TORCH_INDEX_FILE: &str = "pytorch_model.bin.index.json";

/// How to open a checkpoint.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// In a nested PyTorch checkpoint, the `/`-separated dict keys leading to the tensors
    /// (`state_dict`, `model/ema`); `None` chooses automatically.
    pub key: Option<String>,
}

/// One tensor of a checkpoint, as its header declares it (validated).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Name as in the checkpoint (`encoder.layer.0.attention.self.query.weight`).
    pub name: String,
    /// Storage dtype name as written in the header (`F32`, `I64`, `Q4_K`, or an unknown name).
    pub dtype: String,
    /// The dtype of the bytes [`Checkpoint::tensor_bytes`] returns when htdiag can read them as
    /// floats (`F32` for a dequantized GGUF tensor); `None` for everything else.
    pub float_dtype: Option<FloatDtype>,
    /// Shape as stored (row-major).
    pub shape: Vec<usize>,
    /// Index of the file holding it (see [`Checkpoint::files`]).
    pub shard: usize,
    /// Byte range in that file (absolute, header included) holding every element: for a
    /// PyTorch view, from its first to its last element; for GGUF, the quantized blocks.
    pub byte_range: Range<usize>,
    /// Path of that file.
    pub path: PathBuf,
}

impl TensorInfo {
    /// Number of elements (the product of the shape; 1 for a scalar).
    pub fn num_elements(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }
}

/// How the checkpoint is laid out on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// A single checkpoint file.
    SingleFile,
    /// Shards listed by the index file at this path.
    Index(PathBuf),
    /// A folder of checkpoint files without index.
    Folder,
    /// Tensors in memory ([`Checkpoint::from_memory`]).
    Memory,
}

/// An open, validated, memory-mapped checkpoint.
pub struct Checkpoint {
    source: PathBuf,
    layout: Layout,
    files: Vec<(PathBuf, Storage)>,
    tensors: Vec<TensorInfo>,
    /// How each tensor's bytes are made, parallel to `tensors`.
    access: Vec<Access>,
    notes: Vec<String>,
    dict_key: Option<String>,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("source", &self.source)
            .field("layout", &self.layout)
            .field("files", &self.files.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl Checkpoint {
    /// Opens a checkpoint with default options (see [`Checkpoint::open_with`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &OpenOptions::default())
    }

    /// Opens a checkpoint: a safetensors, PyTorch (`.bin`, `.pt`, `.pth`, `.ckpt`) or GGUF
    /// file, a shard index (`*.index.json`), or a folder holding an index or checkpoint files.
    ///
    /// Every header is parsed and checked (byte ranges inside the file, sizes matching shape x
    /// dtype, safetensors ranges not overlapping). Tensors of unknown dtype are listed with
    /// their dtype name (the planner skips them); they are not an error.
    pub fn open_with(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Self> {
        let path = path.as_ref();
        let key = opts.key.as_deref();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            if let Some(index) = find_index(path)? {
                return open_index(path, &index, key);
            }
            return open_folder(path, key);
        }
        let is_index = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".index.json"));
        if is_index {
            return open_index(path, path, key);
        }
        let shard = open_file(path, key)?;
        Ok(Self::assemble(path, Layout::SingleFile, vec![shard], None))
    }

    /// Builds the tensor list from opened files, in index order when one is given.
    fn assemble(
        source: &Path,
        layout: Layout,
        shards: Vec<ShardFile>,
        order: Option<Vec<(usize, usize)>>,
    ) -> Self {
        let order = order.unwrap_or_else(|| {
            shards
                .iter()
                .enumerate()
                .flat_map(|(s, f)| (0..f.tensors.len()).map(move |t| (s, t)))
                .collect()
        });
        let (tensors, access): (Vec<TensorInfo>, Vec<Access>) = order
            .into_iter()
            .map(|(s, t)| {
                let raw = &shards[s].tensors[t];
                let info = TensorInfo {
                    name: raw.name.clone(),
                    float_dtype: raw.float_dtype,
                    dtype: raw.dtype.clone(),
                    shape: raw.shape.clone(),
                    shard: s,
                    byte_range: raw.range.clone(),
                    path: shards[s].path.clone(),
                };
                (info, raw.access.clone())
            })
            .unzip();
        let mut notes: Vec<String> = Vec::new();
        for f in &shards {
            for n in &f.notes {
                if !notes.contains(n) {
                    notes.push(n.clone());
                }
            }
        }
        let dict_key = shards.iter().find_map(|f| f.dict_key.clone());
        Checkpoint {
            source: source.to_path_buf(),
            layout,
            files: shards
                .into_iter()
                .map(|f| (f.path, Storage::Mapped(f.mmap)))
                .collect(),
            tensors,
            access,
            notes,
            dict_key,
        }
    }

    /// The path given to [`Checkpoint::open`].
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// How the checkpoint is laid out.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Paths of the files, indexed by [`TensorInfo::shard`] (in memory: one entry per tensor,
    /// each the source name).
    pub fn files(&self) -> impl ExactSizeIterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }

    /// All tensors in checkpoint order (module docs); a tensor's index here is its `layer_id`.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// What a user should know about how the tensors were read: the key of a nested PyTorch
    /// checkpoint that was used, GGUF dequantization. Empty for plain safetensors.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The key path of the nested PyTorch dict the tensors were read from (`state_dict`,
    /// `model/ema`); `None` for a top-level dict and for the other formats.
    pub fn dict_key(&self) -> Option<&str> {
        self.dict_key.as_deref()
    }

    /// Position of the tensor called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.tensors.iter().position(|t| t.name == name)
    }

    /// The row-major little-endian bytes of tensor `idx`: exactly `prod(shape) * size` bytes
    /// of [`TensorInfo::float_dtype`] for float tensors (validated at open). Borrowed from the
    /// map when the file stores them so (and always from the caller's buffer for a checkpoint
    /// made by [`Checkpoint::from_memory`]); a non-contiguous PyTorch view or big-endian file is
    /// gathered, and a quantized GGUF tensor dequantized, into a buffer of this one tensor.
    pub fn tensor_bytes(&self, idx: usize) -> Result<Cow<'_, [u8]>> {
        let t = self.tensor(idx)?;
        let data = self.files[t.shard].1.bytes();
        let err = |reason: String| Error::Tensor {
            path: t.path.clone(),
            tensor: t.name.clone(),
            reason,
        };
        let raw = data.get(t.byte_range.clone()).ok_or_else(|| {
            err(format!(
                "byte range {:?} outside the mapped file",
                t.byte_range
            ))
        })?;
        access::materialize(&self.access[idx], raw, &t.shape).map_err(err)
    }

    /// Drops the resident pages of tensor `idx` of a file (`madvise(MADV_DONTNEED)`; nothing
    /// for a tensor in memory, which belongs to its owner), so streaming a
    /// checkpoint larger than memory keeps resident memory at about one tensor. Best effort:
    /// the kernel may keep the file in its page cache, which is reclaimable and not ours.
    /// Pages shared with the neighbouring tensors are dropped too and simply read again if
    /// needed. Slices obtained earlier stay valid (see the safety note in the code).
    pub fn release(&self, idx: usize) {
        let Some(t) = self.tensors.get(idx) else {
            return;
        };
        if t.byte_range.is_empty() {
            return;
        }
        let Some(map) = self.files[t.shard].1.mapped() else {
            return; // memory belongs to its owner
        };
        // SAFETY: memmap2's `Mmap::map` creates a read-only MAP_SHARED mapping of the file.
        // For such a mapping MADV_DONTNEED only unmaps the pages; the next access faults them
        // back in from the file with identical contents (Linux madvise(2): "repopulating the
        // memory contents from the up-to-date contents of the underlying mapped file"). We
        // never write through the map, so outstanding `&[u8]` borrows observe no change. The
        // range lies inside the map (validated at open).
        let _ = unsafe {
            map.unchecked_advise_range(
                UncheckedAdvice::DontNeed,
                t.byte_range.start,
                t.byte_range.len(),
            )
        };
    }

    fn tensor(&self, idx: usize) -> Result<&TensorInfo> {
        self.tensors.get(idx).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{}: tensor index {idx} out of range ({} tensors)",
                self.source.display(),
                self.tensors.len()
            ))
        })
    }
}

/// `model.safetensors.index.json` in `dir`, else the only `*.safetensors.index.json` there,
/// else `pytorch_model.bin.index.json`, else the only other `*.index.json` (safetensors are
/// preferred when a folder holds both, as Hugging Face repositories often do).
fn find_index(dir: &Path) -> Result<Option<PathBuf>> {
    let preferred = dir.join(INDEX_FILE);
    if preferred.is_file() {
        return Ok(Some(preferred));
    }
    let all = list_dir(dir)?;
    let named = |suffix: &str| -> Vec<PathBuf> {
        all.iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(suffix))
            })
            .cloned()
            .collect()
    };
    let mut found = named(".safetensors.index.json");
    if found.is_empty() {
        let torch = dir.join(TORCH_INDEX_FILE);
        if torch.is_file() {
            return Ok(Some(torch));
        }
        found = named(".index.json");
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(Error::Format {
            path: dir.to_path_buf(),
            reason: format!(
                "several shard indexes ({}); pass the one to use",
                found
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Regular files of `dir`, sorted by file name.
fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let p = entry.path();
        if p.is_file() {
            files.push(p);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// A folder of `*.safetensors` files (else PyTorch files, else `*.gguf`), sorted by name.
fn open_folder(dir: &Path, key: Option<&str>) -> Result<Checkpoint> {
    let files = list_dir(dir)?;
    let with_ext = |exts: &[&str]| -> Vec<PathBuf> {
        files
            .iter()
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| exts.contains(&e))
            })
            .cloned()
            .collect()
    };
    let paths = [&["safetensors"][..], TORCH_EXTENSIONS, &["gguf"]]
        .into_iter()
        .map(with_ext)
        .find(|p| !p.is_empty())
        .ok_or_else(|| Error::Format {
            path: dir.to_path_buf(),
            reason: format!(
                "folder holds neither {INDEX_FILE} nor any .safetensors, PyTorch (.{}) or \
                 .gguf file",
                TORCH_EXTENSIONS.join(", .")
            ),
        })?;
    let shards = paths
        .iter()
        .map(|p| open_file(p, key))
        .collect::<Result<Vec<_>>>()?;
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (s, f) in shards.iter().enumerate() {
        for t in &f.tensors {
            if let Some(&first) = owner.get(t.name.as_str()) {
                return Err(Error::Tensor {
                    path: f.path.clone(),
                    tensor: t.name.clone(),
                    reason: format!("also present in {}", shards[first].path.display()),
                });
            }
            owner.insert(&t.name, s);
        }
    }
    Ok(Checkpoint::assemble(dir, Layout::Folder, shards, None))
}

/// The part of an index file htdiag reads (its `metadata` is ignored).
#[derive(serde::Deserialize)]
struct IndexFile {
    weight_map: OrderedMap<String>,
}

/// A shard index: tensors in `weight_map` order, shard files relative to the index.
fn open_index(source: &Path, index: &Path, key: Option<&str>) -> Result<Checkpoint> {
    let fmt_err = |reason: String| Error::Format {
        path: index.to_path_buf(),
        reason,
    };
    let text = std::fs::read(index).map_err(|e| Error::io(index, e))?;
    let parsed: IndexFile = serde_json::from_slice(&text)
        .map_err(|e| fmt_err(format!("not a valid shard index: {e}")))?;
    let map = parsed.weight_map.0;
    if map.is_empty() {
        return Err(fmt_err("the weight_map is empty".into()));
    }
    let dir = index.parent().unwrap_or(Path::new("."));

    // Shards in order of first mention.
    let mut shard_of_name: HashMap<&str, usize> = HashMap::new();
    let mut shards: Vec<ShardFile> = Vec::new();
    for (tensor, file) in &map {
        if shard_of_name.contains_key(file.as_str()) {
            continue;
        }
        let p = dir.join(file);
        if !p.exists() {
            return Err(fmt_err(format!(
                "shard '{file}' (holding tensor '{tensor}') is missing: {} does not exist",
                p.display()
            )));
        }
        shard_of_name.insert(file, shards.len());
        shards.push(open_file(&p, key)?);
    }

    let lookup: Vec<HashMap<&str, usize>> = shards
        .iter()
        .map(|f| {
            f.tensors
                .iter()
                .enumerate()
                .map(|(i, t)| (t.name.as_str(), i))
                .collect()
        })
        .collect();
    let mut listed = vec![Vec::<bool>::new(); shards.len()];
    for (l, f) in listed.iter_mut().zip(&shards) {
        l.resize(f.tensors.len(), false);
    }
    let mut order = Vec::with_capacity(map.len());
    for (tensor, file) in &map {
        let s = shard_of_name[file.as_str()];
        let Some(&t) = lookup[s].get(tensor.as_str()) else {
            return Err(fmt_err(format!(
                "tensor '{tensor}' is mapped to shard '{file}', which does not hold it"
            )));
        };
        if listed[s][t] {
            return Err(fmt_err(format!(
                "tensor '{tensor}' is listed twice in the weight_map"
            )));
        }
        listed[s][t] = true;
        order.push((s, t));
    }
    // Tensors a shard holds but the index forgot: after the indexed ones, in file order
    // (a stale copy of a tensor the index places in another shard is ignored).
    let indexed: HashMap<&str, ()> = map.iter().map(|(t, _)| (t.as_str(), ())).collect();
    for (s, l) in listed.iter().enumerate() {
        for (t, _) in l.iter().enumerate().filter(|(_, x)| !**x) {
            if !indexed.contains_key(shards[s].tensors[t].name.as_str()) {
                order.push((s, t));
            }
        }
    }
    Ok(Checkpoint::assemble(
        source,
        Layout::Index(index.to_path_buf()),
        shards,
        Some(order),
    ))
}
