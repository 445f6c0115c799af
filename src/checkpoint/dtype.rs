//! Storage dtypes and their exact widening to f64.

use std::fmt;

/// Floating-point storage types htdiag reads. Anything else is skipped with its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FloatDtype {
    /// IEEE binary64.
    F64,
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16.
    BF16,
}

impl FloatDtype {
    /// Parses a safetensors dtype name; `None` for non-float types (I64, BOOL, F8_*, ...).
    pub fn from_safetensors(name: &str) -> Option<Self> {
        match name {
            "F64" => Some(FloatDtype::F64),
            "F32" => Some(FloatDtype::F32),
            "F16" => Some(FloatDtype::F16),
            "BF16" => Some(FloatDtype::BF16),
            _ => None,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            FloatDtype::F64 => 8,
            FloatDtype::F32 => 4,
            FloatDtype::F16 | FloatDtype::BF16 => 2,
        }
    }

    /// The safetensors name.
    pub fn as_str(self) -> &'static str {
        match self {
            FloatDtype::F64 => "F64",
            FloatDtype::F32 => "F32",
            FloatDtype::F16 => "F16",
            FloatDtype::BF16 => "BF16",
        }
    }

    /// Reads element `i` of little-endian storage `bytes`, widened exactly to f64.
    ///
    /// # Panics
    /// If `bytes` is shorter than `(i + 1) * self.size()`; callers validate lengths first.
    #[inline(always)]
    pub fn read(self, bytes: &[u8], i: usize) -> f64 {
        match self {
            FloatDtype::F64 => {
                f64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]))
            }
            FloatDtype::F32 => {
                f32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap_or([0; 4])) as f64
            }
            FloatDtype::F16 => half::f16::from_le_bytes([bytes[i * 2], bytes[i * 2 + 1]]).to_f64(),
            FloatDtype::BF16 => {
                half::bf16::from_le_bytes([bytes[i * 2], bytes[i * 2 + 1]]).to_f64()
            }
        }
    }
}

/// Bits per element of every dtype name the safetensors format defines (`None` for names it
/// does not know). Used to check that a header's byte ranges match its shapes, also for the
/// non-float tensors htdiag skips.
pub fn safetensors_bits(name: &str) -> Option<usize> {
    Some(match name {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "F8_E4M3FNUZ"
        | "F8_E5M2FNUZ" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        _ => return None,
    })
}

/// Bytes a tensor of `shape` needs at `bits` per element (rounded up to whole bytes), or
/// `None` when that overflows the address space.
pub fn storage_bytes(shape: &[usize], bits: usize) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|numel| numel.checked_mul(bits))
        .map(|b| b.div_ceil(8))
}

impl fmt::Display for FloatDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
