//! One safetensors file: memory-mapped, its header parsed and checked by us.
//!
//! Format (<https://github.com/huggingface/safetensors>): 8 bytes little-endian `n`, then `n`
//! bytes of JSON `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {..}}`,
//! then the data section; offsets are relative to its start. Everything the header claims is
//! checked against the file before any tensor byte is handed out, so later code can index the
//! returned slices without bounds surprises.

use super::access::Access;
use super::dtype::{FloatDtype, safetensors_bits, storage_bytes};
use super::ordered::OrderedMap;
use crate::error::{Error, Result};
use memmap2::Mmap;
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Key of the free-form string metadata in a header; not a tensor.
const METADATA_KEY: &str = "__metadata__";

/// A tensor as one file declares it (already validated), in any of the formats.
#[derive(Debug, Clone)]
pub(crate) struct RawTensor {
    pub name: String,
    /// Storage dtype name (`F32`, `I64`, `Q4_K`, ...).
    pub dtype: String,
    /// The float type of the bytes [`Access`] produces; `None` when htdiag cannot read it.
    pub float_dtype: Option<FloatDtype>,
    pub shape: Vec<usize>,
    /// Absolute byte range in the file holding every element of the tensor.
    pub range: Range<usize>,
    /// How the tensor's row-major bytes are made from that range.
    pub access: Access,
}

/// A mapped checkpoint file and its tensors in checkpoint order.
pub(crate) struct ShardFile {
    pub path: PathBuf,
    pub mmap: Mmap,
    pub tensors: Vec<RawTensor>,
    /// What a user should know about how the tensors were found (nested key, dequantization).
    pub notes: Vec<String>,
    /// The key path of the nested PyTorch dict the tensors were read from.
    pub dict_key: Option<String>,
}

fn format_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn tensor_err(path: &Path, tensor: &str, reason: impl Into<String>) -> Error {
    Error::Tensor {
        path: path.to_path_buf(),
        tensor: tensor.to_string(),
        reason: reason.into(),
    }
}

/// Maps a file read-only (after checking it is a regular file).
pub(crate) fn map_file(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(format_err(path, "not a regular file"));
    }
    // SAFETY: the map is read-only. If another process truncates or rewrites the file while
    // we hold it, reads may see the new bytes or fault; that is the usual contract of
    // memory-mapped checkpoints (safetensors and PyTorch do the same).
    unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))
}

/// Validates one mapped safetensors file.
pub(crate) fn safetensors_shard(path: &Path, mmap: Mmap) -> Result<ShardFile> {
    let len = mmap.len();
    if len < 8 {
        let what = if len == 0 {
            "the file is empty".to_string()
        } else {
            format!("the file is {len} bytes long")
        };
        return Err(format_err(
            path,
            format!("{what}; a safetensors file starts with an 8-byte header length"),
        ));
    }
    let tensors = parse_header(path, &mmap)?;
    Ok(ShardFile {
        path: path.to_path_buf(),
        mmap,
        tensors,
        notes: Vec::new(),
        dict_key: None,
    })
}

/// Parses and validates the header of `bytes` (a whole safetensors file).
pub(crate) fn parse_header(path: &Path, bytes: &[u8]) -> Result<Vec<RawTensor>> {
    let len = bytes.len();
    let Some(n8) = bytes.first_chunk::<8>() else {
        return Err(format_err(
            path,
            format!("the file is {len} bytes long, shorter than the 8-byte header length"),
        ));
    };
    let n = u64::from_le_bytes(*n8);
    let avail = (len - 8) as u64;
    if n > avail {
        return Err(format_err(
            path,
            format!(
                "header length {n} bytes exceeds the {avail} bytes after it in a {len}-byte \
                 file (truncated file, or not a safetensors file)"
            ),
        ));
    }
    let data_start = 8 + n as usize;
    let data_len = len - data_start;
    let header = &bytes[8..data_start];
    let entries: OrderedMap<Value> = serde_json::from_slice(header)
        .map_err(|e| format_err(path, format!("header is not a valid JSON object: {e}")))?;

    let mut seen: HashMap<&str, ()> = HashMap::with_capacity(entries.0.len());
    let mut tensors = Vec::with_capacity(entries.0.len());
    for (name, value) in &entries.0 {
        if name == METADATA_KEY {
            continue;
        }
        if seen.insert(name.as_str(), ()).is_some() {
            return Err(tensor_err(path, name, "listed twice in the header"));
        }
        let (dtype, shape, begin, end) =
            parse_entry(value).map_err(|reason| tensor_err(path, name, reason))?;
        if begin > end {
            return Err(tensor_err(
                path,
                name,
                format!("data_offsets [{begin}, {end}] end before they begin"),
            ));
        }
        if end > data_len {
            return Err(tensor_err(
                path,
                name,
                format!(
                    "data_offsets [{begin}, {end}] run past the end of the data section \
                     ({data_len} bytes; truncated file?)"
                ),
            ));
        }
        if let Some(bits) = safetensors_bits(&dtype) {
            match storage_bytes(&shape, bits) {
                None => {
                    return Err(tensor_err(
                        path,
                        name,
                        format!("shape {shape:?} overflows the address space"),
                    ));
                }
                Some(bytes) if bytes != end - begin => {
                    return Err(tensor_err(
                        path,
                        name,
                        format!(
                            "shape {shape:?} of dtype {dtype} needs {bytes} bytes, but \
                             data_offsets [{begin}, {end}] hold {}",
                            end - begin
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        tensors.push(RawTensor {
            name: name.clone(),
            float_dtype: FloatDtype::from_safetensors(&dtype),
            dtype,
            shape,
            range: data_start + begin..data_start + end,
            access: Access::Direct,
        });
    }

    // File order = data offset order (stable, so empty tensors keep their header order).
    tensors.sort_by_key(|t| (t.range.start, t.range.end));
    let mut prev: Option<&RawTensor> = None;
    for t in &tensors {
        if t.range.is_empty() {
            continue;
        }
        if let Some(p) = prev
            && t.range.start < p.range.end
        {
            return Err(tensor_err(
                path,
                &t.name,
                format!(
                    "data_offsets [{}, {}] overlap those of tensor '{}' [{}, {}]",
                    t.range.start - data_start,
                    t.range.end - data_start,
                    p.name,
                    p.range.start - data_start,
                    p.range.end - data_start
                ),
            ));
        }
        if prev.is_none_or(|p| t.range.end > p.range.end) {
            prev = Some(t);
        }
    }
    Ok(tensors)
}

/// Reads `{"dtype": str, "shape": [uint], "data_offsets": [uint, uint]}`.
fn parse_entry(value: &Value) -> std::result::Result<(String, Vec<usize>, usize, usize), String> {
    let obj = value
        .as_object()
        .ok_or_else(|| format!("header entry is {value}, not an object"))?;
    let dtype = obj
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or("header entry has no string \"dtype\"")?
        .to_string();
    let shape = obj
        .get("shape")
        .and_then(Value::as_array)
        .ok_or("header entry has no \"shape\" array")?
        .iter()
        .map(as_usize)
        .collect::<Option<Vec<_>>>()
        .ok_or("\"shape\" holds something other than non-negative integers")?;
    let offsets = obj
        .get("data_offsets")
        .and_then(Value::as_array)
        .ok_or("header entry has no \"data_offsets\" array")?;
    let (begin, end) = match offsets.as_slice() {
        [b, e] => (as_usize(b), as_usize(e)),
        _ => (None, None),
    };
    match (begin, end) {
        (Some(b), Some(e)) => Ok((dtype, shape, b, e)),
        _ => Err(format!(
            "\"data_offsets\" must be two non-negative integers, found {}",
            Value::Array(offsets.clone())
        )),
    }
}

fn as_usize(v: &Value) -> Option<usize> {
    v.as_u64().and_then(|u| usize::try_from(u).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data_len: usize) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.resize(v.len() + data_len, 0);
        v
    }

    #[test]
    fn order_is_data_offset_order_and_metadata_is_not_a_tensor() {
        let h = r#"{"__metadata__":{"a":"b"},
            "z":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},
            "a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#;
        let t = parse_header(Path::new("x"), &file(h, 16)).unwrap();
        let names: Vec<_> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "z"]);
        let start = 8 + h.len();
        assert_eq!(t[1].range, start + 8..start + 16);
    }

    #[test]
    fn unknown_dtype_is_kept_without_size_check() {
        let h = r#"{"q":{"dtype":"Q4_K","shape":[7],"data_offsets":[0,5]}}"#;
        let t = parse_header(Path::new("x"), &file(h, 5)).unwrap();
        assert_eq!(t[0].dtype, "Q4_K");
    }

    #[test]
    fn zero_size_tensors_never_overlap() {
        let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
            "e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}"#;
        assert!(parse_header(Path::new("x"), &file(h, 8)).is_ok());
    }
}
