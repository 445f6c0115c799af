//! How a tensor's row-major little-endian bytes are obtained from the mapped file.
//!
//! Safetensors tensors and contiguous PyTorch tensors are used in place ([`Access::Direct`]).
//! A non-contiguous PyTorch view (a transposed weight, a slice of a shared storage) or a
//! big-endian file is gathered into a fresh buffer, and a quantized GGUF tensor is
//! dequantized into one: in both cases one tensor at a time, so memory stays at one layer.

use super::gguf::quant::GgmlType;
use std::borrow::Cow;

/// The recipe for one tensor's bytes (its file byte range is kept beside it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Access {
    /// The range holds exactly the tensor, row-major, little-endian.
    Direct,
    /// Element `idx` (a row-major multi-index over the shape) is at element
    /// `sum(idx[k] * strides[k])` counted from the start of the range; `elem` bytes each,
    /// byte-swapped when `swap` (a big-endian file).
    Strided {
        elem: usize,
        strides: Vec<usize>,
        swap: bool,
    },
    /// ggml blocks of this type, dequantized to little-endian f32.
    Dequantize(GgmlType),
}

/// The tensor's bytes from its file range `raw` (already checked to cover every element).
pub(crate) fn materialize<'a>(
    access: &Access,
    raw: &'a [u8],
    shape: &[usize],
) -> Result<Cow<'a, [u8]>, String> {
    match access {
        Access::Direct => Ok(Cow::Borrowed(raw)),
        Access::Strided {
            elem,
            strides,
            swap,
        } => Ok(Cow::Owned(gather(raw, shape, strides, *elem, *swap))),
        Access::Dequantize(t) => {
            let numel: usize = shape.iter().product();
            let mut bytes = vec![0u8; numel * 4];
            // Straight into the byte buffer when the allocator aligned it for f32 (and the
            // machine is little-endian): no second copy of a dequantized layer.
            if cfg!(target_endian = "little")
                && let Ok(out) = bytemuck::try_cast_slice_mut::<u8, f32>(&mut bytes)
            {
                t.dequantize_into(raw, out)?;
                return Ok(Cow::Owned(bytes));
            }
            let vals = t.dequantize(raw, numel)?;
            for (b, v) in bytes.chunks_exact_mut(4).zip(&vals) {
                b.copy_from_slice(&v.to_le_bytes());
            }
            Ok(Cow::Owned(bytes))
        }
    }
}

/// Copies a strided view into row-major order (the caller checked every index is in `raw`).
fn gather(raw: &[u8], shape: &[usize], strides: &[usize], elem: usize, swap: bool) -> Vec<u8> {
    let numel: usize = shape.iter().product();
    let mut out = Vec::with_capacity(numel * elem);
    if numel == 0 {
        return out;
    }
    let rank = shape.len();
    let (inner, inner_stride) = match rank {
        0 => (1, 0),
        _ => (shape[rank - 1], strides[rank - 1]),
    };
    let outer = rank.saturating_sub(1);
    let mut idx = vec![0usize; outer];
    loop {
        let base: usize = idx.iter().zip(strides).map(|(i, s)| i * s).sum();
        for j in 0..inner {
            let at = (base + j * inner_stride) * elem;
            let e = &raw[at..at + elem];
            if swap {
                out.extend(e.iter().rev());
            } else {
                out.extend_from_slice(e);
            }
        }
        // Next outer multi-index, last dimension fastest.
        let mut k = outer;
        loop {
            if k == 0 {
                return out;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_a_transpose_and_swaps_bytes() {
        // Storage 0..6 as u16; the view is the transpose of a 2x3 matrix: shape [3, 2],
        // strides [1, 3].
        let raw: Vec<u8> = (0u16..6).flat_map(|v| v.to_le_bytes()).collect();
        let acc = Access::Strided {
            elem: 2,
            strides: vec![1, 3],
            swap: false,
        };
        let got = materialize(&acc, &raw, &[3, 2]).unwrap();
        let vals: Vec<u16> = got
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(vals, [0, 3, 1, 4, 2, 5]);
        let be: Vec<u8> = (0u16..6).flat_map(|v| v.to_be_bytes()).collect();
        let acc = Access::Strided {
            elem: 2,
            strides: vec![3, 1],
            swap: true,
        };
        assert_eq!(&*materialize(&acc, &be, &[2, 3]).unwrap(), &raw[..]);
    }

    #[test]
    fn scalar_and_empty_views() {
        let acc = Access::Strided {
            elem: 1,
            strides: vec![],
            swap: false,
        };
        assert_eq!(&*materialize(&acc, &[7], &[]).unwrap(), &[7]);
        let acc = Access::Strided {
            elem: 1,
            strides: vec![1, 1],
            swap: false,
        };
        assert!(materialize(&acc, &[], &[0, 5]).unwrap().is_empty());
    }
}
