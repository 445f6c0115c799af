//! Element decoding shared by the data readers: stored numbers (any safetensors / IDX dtype,
//! either byte order) to f32, and f32 labels to class indices.

use safetensors::tensor::Dtype;

/// Converts little- or big-endian storage to f32; bytes are scaled by 1/255 when `scale_u8`.
pub(super) fn decode(
    dt: Dtype,
    data: &[u8],
    scale_u8: bool,
    big_endian: bool,
) -> std::result::Result<Vec<f32>, String> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            data.chunks_exact($n)
                .map(|c| {
                    let mut a = [0u8; $n];
                    a.copy_from_slice(c);
                    (if big_endian {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    }) as f32
                })
                .collect()
        };
    }
    Ok(match dt {
        Dtype::U8 => data
            .iter()
            .map(|&b| if scale_u8 { b as f32 / 255.0 } else { b as f32 })
            .collect(),
        Dtype::I8 => data.iter().map(|&b| b as i8 as f32).collect(),
        Dtype::I16 => conv!(i16, 2),
        Dtype::I32 => conv!(i32, 4),
        Dtype::U32 => conv!(u32, 4),
        Dtype::I64 => conv!(i64, 8),
        Dtype::U64 => conv!(u64, 8),
        Dtype::F32 => conv!(f32, 4),
        Dtype::F64 => conv!(f64, 8),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => return Err(format!("unsupported dtype {other:?}")),
    })
}

/// Class indices from label values, which must be non-negative integers below 10^6.
pub(super) fn labels_from(v: &[f32]) -> std::result::Result<Vec<u32>, String> {
    v.iter()
        .map(|&l| {
            if l >= 0.0 && l.fract() == 0.0 && l < 1e6 {
                Ok(l as u32)
            } else {
                Err(format!("label {l} is not a non-negative integer"))
            }
        })
        .collect()
}
