//! PyTorch checkpoints written by `torch.save` (torch/serialization.py), read in place.
//!
//! - Zip format (torch >= 1.6): an archive of `<folder>/data.pkl` (the pickled object, whose
//!   storages are persistent ids `('storage', torch.FloatStorage, key, location, numel)`),
//!   `<folder>/data/<key>` (each storage's raw bytes, stored uncompressed), and
//!   `<folder>/byteorder` (`little` or `big`; absent means little).
//! - Legacy format: five pickles in a row (magic number, protocol version 1001, system info,
//!   the object, the sorted list of storage keys), then for each key in that order an int64
//!   element count and the storage's bytes, little-endian.
//!
//! Tensors are `_rebuild_tensor_v2(storage, offset, size, stride)`: a view of a storage, so
//! several tensors may share one storage and a view may be non-contiguous; each becomes a
//! [`RawTensor`] whose byte range covers exactly the elements it reads.

use super::access::Access;
use super::dtype::FloatDtype;
use super::header::RawTensor;
use super::pickle::state_dict::{Selected, select};
use super::pickle::value::{Obj, StorageRef, TensorRef, Value};
use super::pickle::{self, Pickle};
use super::zip;
use std::collections::HashMap;
use std::ops::Range;

/// `torch.serialization.MAGIC_NUMBER`.
const MAGIC_NUMBER: i128 = 0x1950a86a20f9469cfc6c;
/// `torch.serialization.PROTOCOL_VERSION`.
const PROTOCOL_VERSION: i128 = 1001;

/// The tensors of a `torch.save` file and what to tell the user about them.
pub(crate) struct TorchFile {
    pub tensors: Vec<RawTensor>,
    pub notes: Vec<String>,
    /// The key path of the nested dict the tensors were read from (`None`: the top level).
    pub dict_key: Option<String>,
}

/// Whether `bytes` starts like a legacy `torch.save` file (a protocol 2+ pickle).
pub(crate) fn looks_like_legacy(bytes: &[u8]) -> bool {
    matches!(bytes, [0x80, 2..=5, ..])
}

/// Reads a zip-format checkpoint.
pub(crate) fn read_zip(bytes: &[u8], key: Option<&str>) -> Result<TorchFile, String> {
    let entries = zip::entries(bytes)?;
    let pkls: Vec<&zip::ZipEntry> = entries
        .iter()
        .filter(|e| e.name == "data.pkl" || e.name.ends_with("/data.pkl"))
        .filter(|e| e.name.matches('/').count() <= 1)
        .collect();
    let pkl = match pkls.as_slice() {
        [one] => *one,
        [] if entries.iter().any(|e| e.name.ends_with("constants.pkl")) => {
            return Err("a TorchScript archive (torch.jit.save), not a torch.save \
                        checkpoint; save its state_dict() with torch.save"
                .into());
        }
        [] => return Err("a zip archive without data.pkl: not a torch.save checkpoint".into()),
        _ => return Err("a zip archive with several data.pkl records".into()),
    };
    let prefix = &pkl.name[..pkl.name.len() - "data.pkl".len()];
    let record = |name: &str| entries.iter().find(|e| e.name == format!("{prefix}{name}"));
    let stored = |e: &zip::ZipEntry| -> Result<Range<usize>, String> {
        if e.method != 0 {
            return Err(format!(
                "record '{}' is compressed (method {}); torch.save stores records \
                 uncompressed, so this archive was re-packed: unzip and re-zip it with \
                 `zip -0`",
                e.name, e.method
            ));
        }
        Ok(e.data.clone())
    };
    let big_endian = match record("byteorder") {
        None => false,
        Some(e) => match &bytes[stored(e)?] {
            b"little" => false,
            b"big" => true,
            other => {
                return Err(format!(
                    "byteorder record says '{}'",
                    String::from_utf8_lossy(other)
                ));
            }
        },
    };
    let p = pickle::load(&bytes[stored(pkl)?]).map_err(|e| format!("{}: {e}", pkl.name))?;
    let sel = select(&p, key)?;
    let mut storages: HashMap<&str, Range<usize>> = HashMap::new();
    let mut tensors = Vec::with_capacity(sel.tensors.len());
    for (name, t) in &sel.tensors {
        let key = &*t.storage.key;
        let range = match storages.get(key) {
            Some(r) => r.clone(),
            None => {
                let e = record(&format!("data/{key}")).ok_or_else(|| {
                    format!("tensor '{name}': storage record data/{key} is missing")
                })?;
                let r = stored(e).map_err(|m| format!("tensor '{name}': {m}"))?;
                storages.insert(key, r.clone());
                r
            }
        };
        tensors
            .push(view(name, t, range, big_endian).map_err(|m| format!("tensor '{name}': {m}"))?);
    }
    Ok(TorchFile {
        notes: key_note(&sel).into_iter().collect(),
        dict_key: sel.key.clone(),
        tensors,
    })
}

/// Reads a legacy-format checkpoint.
pub(crate) fn read_legacy(bytes: &[u8], key: Option<&str>) -> Result<TorchFile, String> {
    let mut at = 0;
    let mut next = |what: &str| -> Result<Pickle, String> {
        let p =
            pickle::load(&bytes[at..]).map_err(|e| format!("{what} pickle at byte {at}: {e}"))?;
        at += p.end;
        Ok(p)
    };
    let magic = next("magic number")?;
    if !matches!(magic.value, Value::Int(MAGIC_NUMBER)) {
        return Err("a pickle, but not a torch.save file (no PyTorch magic number)".into());
    }
    let proto = next("protocol version")?;
    if !matches!(proto.value, Value::Int(PROTOCOL_VERSION)) {
        return Err("unknown legacy torch.save protocol version".into());
    }
    let sys = next("system info")?;
    let big_endian = sys_flag(&sys, "little_endian") == Some(false);
    let main = next("checkpoint")?;
    let keys = next("storage key list")?;
    let key_list: Vec<String> = keys
        .items(&keys.value)
        .ok_or("storage key list is not a list")?
        .iter()
        .map(|v| match v {
            Value::Str(s) => Ok(s.to_string()),
            Value::Int(i) => Ok(i.to_string()),
            _ => Err("storage key list holds a non-string".to_string()),
        })
        .collect::<Result<_, _>>()?;
    let dtypes = all_storages(&main);
    // Storages follow one another: int64 element count, then the elements.
    let mut ranges: HashMap<&str, Range<usize>> = HashMap::new();
    for k in &key_list {
        let s = dtypes
            .get(k.as_str())
            .ok_or_else(|| format!("storage '{k}' is listed but no tensor uses it"))?;
        let n = bytes
            .get(at..at + 8)
            .ok_or_else(|| format!("storage '{k}': file ends at its size field (truncated?)"))?;
        let numel = u64::from_le_bytes(n.try_into().unwrap_or([0; 8]));
        let len = numel
            .checked_mul(s.dtype.size as u64)
            .filter(|&l| l <= (bytes.len() - at - 8) as u64)
            .ok_or_else(|| {
                format!(
                    "storage '{k}' claims {numel} elements, more than the {} bytes left \
                     (truncated?)",
                    bytes.len() - at - 8
                )
            })?;
        ranges.insert(k, at + 8..at + 8 + len as usize);
        at += 8 + len as usize;
    }
    let sel = select(&main, key)?;
    let tensors = sel
        .tensors
        .iter()
        .map(|(name, t)| {
            let r = ranges.get(&*t.storage.key).ok_or_else(|| {
                format!(
                    "tensor '{name}': storage '{}' is not in the file",
                    t.storage.key
                )
            })?;
            view(name, t, r.clone(), big_endian).map_err(|m| format!("tensor '{name}': {m}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(TorchFile {
        notes: key_note(&sel).into_iter().collect(),
        dict_key: sel.key.clone(),
        tensors,
    })
}

fn key_note(sel: &Selected) -> Option<String> {
    let k = sel.key.as_ref()?;
    Some(format!(
        "tensors read from key '{k}' of the checkpoint (top-level keys: {}); another key \
         can be chosen",
        sel.top_keys.join(", ")
    ))
}

/// A bool entry of the legacy format's system-info dict.
fn sys_flag(p: &Pickle, name: &str) -> Option<bool> {
    let Value::Obj(id) = p.value else { return None };
    let Obj::Dict(d) = p.obj(id) else { return None };
    d.iter().find_map(|(k, v)| match (k, v) {
        (Value::Str(k), Value::Bool(b)) if &**k == name => Some(*b),
        _ => None,
    })
}

/// Every storage the pickle mentions, by key (the legacy format needs each one's element
/// size to step over it, also for tensors outside the chosen dict).
fn all_storages(p: &Pickle) -> HashMap<&str, &StorageRef> {
    fn storage_of(v: &Value) -> Option<&StorageRef> {
        match v {
            Value::Tensor(t) => Some(&*t.storage),
            Value::Storage(s) => Some(&**s),
            _ => None,
        }
    }
    let mut found: Vec<&StorageRef> = storage_of(&p.value).into_iter().collect();
    for o in &p.objs {
        match o {
            Obj::List(x) | Obj::Tuple(x) | Obj::Set(x) => {
                found.extend(x.iter().filter_map(storage_of))
            }
            Obj::Dict(d) => found.extend(d.iter().filter_map(|(_, v)| storage_of(v))),
        }
    }
    found.into_iter().map(|s| (&*s.key, s)).collect()
}

/// A tensor view of a storage occupying `storage` (absolute file bytes), checked to lie inside.
fn view(name: &str, t: &TensorRef, storage: Range<usize>, swap: bool) -> Result<RawTensor, String> {
    let es = t.storage.dtype.size;
    let avail = (storage.len() / es) as u64;
    let shape: Vec<usize> = t
        .shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d} overflows")))
        .collect::<Result<_, _>>()?;
    let numel = t
        .shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} overflows"))?;
    let dtype = t.storage.dtype.name;
    let make = |range: Range<usize>, access: Access| RawTensor {
        name: name.to_string(),
        dtype: dtype.to_string(),
        float_dtype: FloatDtype::from_safetensors(dtype),
        shape: shape.clone(),
        range,
        access,
    };
    if numel == 0 {
        return Ok(make(storage.start..storage.start, Access::Direct));
    }
    // Largest element index the view reads.
    let last = t
        .shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |a, (&d, &s)| {
            (d - 1).checked_mul(s).and_then(|x| a.checked_add(x))
        })
        .ok_or("strides overflow")?;
    if last >= avail {
        return Err(format!(
            "view (offset {}, shape {shape:?}, stride {:?}) reads element {last} of a storage \
             holding {avail} {dtype} elements",
            t.offset, t.stride
        ));
    }
    if numel > avail {
        return Err(format!(
            "view of {numel} elements repeats elements of its {avail}-element storage (a \
             stride-0 broadcast); save it with .contiguous()"
        ));
    }
    let start = storage.start + t.offset as usize * es;
    let end = storage.start + (last as usize + 1) * es;
    let mut expect = 1u64;
    let mut contiguous = true;
    for (&d, &s) in t.shape.iter().zip(&t.stride).rev() {
        if d != 1 && s != expect {
            contiguous = false;
        }
        expect *= d;
    }
    if contiguous && !swap {
        return Ok(make(start..end, Access::Direct));
    }
    let strides = t.stride.iter().map(|&s| s as usize).collect();
    Ok(make(
        start..end,
        Access::Strided {
            elem: es,
            strides,
            swap,
        },
    ))
}

#[cfg(test)]
#[path = "torch_tests.rs"]
mod tests;
