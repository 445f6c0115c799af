//! GGUF files (versions 2 and 3), as specified in ggml's `docs/gguf.md`:
//!
//! ```text
//! "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//! kv_count x (string key, u32 type, value)          string = u64 length + UTF-8 bytes
//! tensor_count x (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
//! padding to general.alignment (default 32) | tensor data (offsets relative to here)
//! ```
//!
//! All little-endian. `ne[0]` is the fastest-moving dimension, so the PyTorch shape is `ne`
//! reversed: a `[out, in]` weight is stored with `ne = [in, out]`. Float types are read in
//! place; the block-quantized types of [`quant`] are dequantized to f32 one tensor at a time;
//! any other type is listed under its name (and skipped by the planner).

pub mod quant;

use super::access::Access;
use super::dtype::FloatDtype;
use super::header::RawTensor;
use quant::GgmlType;
use std::collections::HashSet;

/// The file's first four bytes.
pub(crate) const MAGIC: &[u8; 4] = b"GGUF";
/// `general.alignment` when the file does not set it.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml tensors have at most this many dimensions (`GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;
/// Nesting limit of array values (GGUF writers produce depth 1).
const MAX_ARRAY_DEPTH: usize = 4;

/// What the header says beyond the tensors.
#[derive(Debug, Clone, Default)]
pub(crate) struct GgufInfo {
    pub version: u32,
    /// `general.architecture`, if present.
    pub architecture: Option<String>,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64, what: &str) -> R<&'a [u8]> {
        let left = (self.b.len() - self.pos) as u64;
        if n > left {
            return Err(format!(
                "{what} at byte {} needs {n} bytes but the file has {left} left (truncated?)",
                self.pos
            ));
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    fn u32(&mut self, what: &str) -> R<u32> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().unwrap_or([0; 4]),
        ))
    }
    fn u64(&mut self, what: &str) -> R<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().unwrap_or([0; 8]),
        ))
    }
    fn string(&mut self, what: &str) -> R<String> {
        let n = self.u64(what)?;
        let s = self.take(n, what)?;
        String::from_utf8(s.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }
    fn left(&self) -> u64 {
        (self.b.len() - self.pos) as u64
    }

    /// Reads one metadata value of `ty`; returns it when it is a string or an unsigned int.
    fn value(&mut self, ty: u32, key: &str, depth: usize) -> R<Meta> {
        let fixed = |n: u64, r: &mut Self| r.take(n, key).map(|s| s.to_vec());
        Ok(match ty {
            0 | 1 | 7 => Meta::Uint(u64::from(fixed(1, self)?[0])),
            2 | 3 => Meta::Uint(u64::from(u16::from_le_bytes(
                fixed(2, self)?.try_into().unwrap_or([0; 2]),
            ))),
            4..=6 => Meta::Uint(u64::from(self.u32(key)?)),
            10..=12 => Meta::Uint(self.u64(key)?),
            8 => Meta::Str(self.string(key)?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(format!("metadata '{key}': arrays nested too deeply"));
                }
                let item = self.u32(key)?;
                let count = self.u64(key)?;
                // Every item takes at least one byte: a count beyond the file is a lie.
                if count > self.left() {
                    return Err(format!(
                        "metadata '{key}': array of {count} items in {} remaining bytes",
                        self.left()
                    ));
                }
                for _ in 0..count {
                    self.value(item, key, depth + 1)?;
                }
                Meta::Other
            }
            t => return Err(format!("metadata '{key}' has unknown value type {t}")),
        })
    }
}

enum Meta {
    Uint(u64),
    Str(String),
    Other,
}

/// Parses and validates a whole GGUF file; tensors in header order.
pub(crate) fn parse(bytes: &[u8]) -> R<(Vec<RawTensor>, GgufInfo)> {
    let mut r = Reader { b: bytes, pos: 0 };
    if r.take(4, "magic")? != MAGIC {
        return Err("does not start with the GGUF magic".into());
    }
    let version = r.u32("version")?;
    match version {
        2 | 3 => {}
        1 => {
            return Err(
                "GGUF version 1 is not supported (re-convert with a current llama.cpp)".into(),
            );
        }
        v if (2..=3).contains(&v.swap_bytes()) => {
            return Err("big-endian GGUF files are not supported".into());
        }
        v => return Err(format!("unknown GGUF version {v}")),
    }
    let n_tensors = r.u64("tensor count")?;
    let n_kv = r.u64("metadata count")?;
    // Each key/value takes at least 12 bytes, each tensor info at least 24.
    if n_kv > r.left() / 12 || n_tensors > r.left() / 24 {
        return Err(format!(
            "header claims {n_tensors} tensors and {n_kv} metadata entries, more than the \
             {}-byte file can hold (truncated, or a corrupt count)",
            bytes.len()
        ));
    }
    let mut info = GgufInfo {
        version,
        architecture: None,
    };
    let mut alignment = DEFAULT_ALIGNMENT;
    for _ in 0..n_kv {
        let key = r.string("metadata key")?;
        let ty = r.u32("metadata type")?;
        let v = r.value(ty, &key, 0)?;
        match (key.as_str(), v) {
            ("general.alignment", Meta::Uint(a)) => alignment = a,
            ("general.alignment", _) => return Err("general.alignment is not an integer".into()),
            ("general.architecture", Meta::Str(s)) => info.architecture = Some(s),
            _ => {}
        }
    }
    if alignment == 0 || !alignment.is_power_of_two() {
        return Err(format!(
            "general.alignment {alignment} is not a power of two"
        ));
    }
    let mut infos = Vec::with_capacity(n_tensors as usize);
    let mut names = HashSet::new();
    for _ in 0..n_tensors {
        let name = r.string("tensor name")?;
        let n_dims = r.u32("tensor dims")?;
        if n_dims > MAX_DIMS {
            return Err(format!(
                "tensor '{name}' has {n_dims} dimensions (ggml allows {MAX_DIMS})"
            ));
        }
        let ne = (0..n_dims)
            .map(|_| r.u64("tensor dims"))
            .collect::<R<Vec<u64>>>()?;
        let ty = GgmlType(r.u32("tensor type")?);
        let offset = r.u64("tensor offset")?;
        if !names.insert(name.clone()) {
            return Err(format!("tensor '{name}' is listed twice"));
        }
        infos.push((name, ne, ty, offset));
    }
    let data_start = (r.pos as u64).next_multiple_of(alignment);
    let tensors = infos
        .into_iter()
        .map(|(name, ne, ty, offset)| {
            tensor(bytes.len() as u64, data_start, alignment, &ne, ty, offset)
                .map(|(dtype, float_dtype, shape, range, access)| RawTensor {
                    name: name.clone(),
                    dtype,
                    float_dtype,
                    shape,
                    range,
                    access,
                })
                .map_err(|e| format!("tensor '{name}': {e}"))
        })
        .collect::<R<Vec<_>>>()?;
    Ok((tensors, info))
}

type Parsed = (
    String,
    Option<FloatDtype>,
    Vec<usize>,
    std::ops::Range<usize>,
    Access,
);

/// One tensor info, checked against the file.
fn tensor(
    file_len: u64,
    data_start: u64,
    alignment: u64,
    ne: &[u64],
    ty: GgmlType,
    offset: u64,
) -> R<Parsed> {
    let shape: Vec<usize> = ne
        .iter()
        .rev()
        .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d} overflows")))
        .collect::<R<_>>()?;
    let numel = ne
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} overflows"))?;
    let Some((qk, size)) = ty.block() else {
        // Unknown type: its size is unknown too; listed (and skipped) without data.
        let at = data_start.min(file_len) as usize;
        return Ok((ty.name(), None, shape, at..at, Access::Direct));
    };
    if !offset.is_multiple_of(alignment) {
        return Err(format!(
            "offset {offset} is not a multiple of the alignment {alignment}"
        ));
    }
    let row = ne.first().copied().unwrap_or(1);
    if !row.is_multiple_of(qk as u64) {
        return Err(format!(
            "rows of {row} elements are not whole {} blocks of {qk}",
            ty.name()
        ));
    }
    let nbytes = (numel / qk as u64)
        .checked_mul(size as u64)
        .ok_or("byte size overflows")?;
    let start = data_start.checked_add(offset).ok_or("offset overflows")?;
    let end = start.checked_add(nbytes).ok_or("offset overflows")?;
    if end > file_len {
        return Err(format!(
            "data [{start}, {end}) ({nbytes} bytes of {}) runs past the end of the \
             {file_len}-byte file (truncated?)",
            ty.name()
        ));
    }
    let range = start as usize..end as usize;
    let (dtype, float, access) = match ty.0 {
        0 => ("F32".into(), Some(FloatDtype::F32), Access::Direct),
        1 => ("F16".into(), Some(FloatDtype::F16), Access::Direct),
        30 => ("BF16".into(), Some(FloatDtype::BF16), Access::Direct),
        28 => ("F64".into(), Some(FloatDtype::F64), Access::Direct),
        _ if ty.is_dequantized() => (ty.name(), Some(FloatDtype::F32), Access::Dequantize(ty)),
        _ => (ty.name(), None, Access::Direct),
    };
    Ok((dtype, float, shape, range, access))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
