//! One checkpoint file of any supported format, recognised by its first bytes (not its name):
//! GGUF (`GGUF`), a PyTorch zip archive (`PK\x03\x04`), a legacy PyTorch pickle (`\x80\x02`),
//! else safetensors (whose header-length prefix has no magic).

use super::gguf;
use super::header::{ShardFile, map_file, safetensors_shard};
use super::torch;
use super::zip::looks_like_zip;
use crate::error::{Error, Result};
use std::path::Path;

/// Extensions of PyTorch checkpoints (used to find shards in a folder).
pub(crate) const TORCH_EXTENSIONS: &[&str] = &["bin", "pt", "pth", "ckpt"];

/// Opens, maps and validates one checkpoint file. `key` chooses the tensor dict inside a
/// PyTorch checkpoint (see `pickle::state_dict`); it is ignored by the other formats.
pub(crate) fn open_file(path: &Path, key: Option<&str>) -> Result<ShardFile> {
    let mmap = map_file(path)?;
    let fmt_err = |reason: String| Error::Format {
        path: path.to_path_buf(),
        reason,
    };
    let (tensors, notes, dict_key) = if mmap.starts_with(gguf::MAGIC) {
        let (tensors, info) = gguf::parse(&mmap).map_err(|e| fmt_err(format!("GGUF: {e}")))?;
        let mut notes = Vec::new();
        let mut quantized: Vec<String> = tensors
            .iter()
            .filter(|t| matches!(t.access, super::access::Access::Dequantize(_)))
            .map(|t| t.dtype.clone())
            .collect();
        quantized.sort();
        quantized.dedup();
        if !quantized.is_empty() {
            notes.push(format!(
                "GGUF v{}{}: tensors of quantized types ({}) are dequantized to f32 with \
                 ggml's formulas; their spectra are those of the dequantized weights",
                info.version,
                info.architecture
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default(),
                quantized.join(", ")
            ));
        }
        (tensors, notes, None)
    } else if looks_like_zip(&mmap) {
        let f = torch::read_zip(&mmap, key)
            .map_err(|e| fmt_err(format!("PyTorch zip checkpoint: {e}")))?;
        (f.tensors, f.notes, f.dict_key)
    } else if torch::looks_like_legacy(&mmap) {
        let f = torch::read_legacy(&mmap, key)
            .map_err(|e| fmt_err(format!("PyTorch legacy checkpoint: {e}")))?;
        (f.tensors, f.notes, f.dict_key)
    } else if mmap.get(257..262) == Some(&b"ustar"[..]) {
        return Err(fmt_err(
            "a tar archive: PyTorch's pre-1.0 tar format is not supported; re-save it with a \
             current torch.save"
                .into(),
        ));
    } else if is_torch_name(path) {
        return Err(fmt_err(
            "neither a torch.save zip archive nor a pickle (the first bytes match no \
             PyTorch format)"
                .into(),
        ));
    } else if path.extension().is_some_and(|e| e == "gguf") {
        return Err(fmt_err("does not start with the GGUF magic".into()));
    } else {
        return safetensors_shard(path, mmap);
    };
    Ok(ShardFile {
        path: path.to_path_buf(),
        mmap,
        tensors,
        notes,
        dict_key,
    })
}

/// Whether `path` names a PyTorch checkpoint by its extension.
pub(crate) fn is_torch_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| TORCH_EXTENSIONS.contains(&e))
}
