//! ggml tensor types: block sizes of all of them, and dequantization to f32 of those htdiag
//! reads (F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).
//!
//! The block layouts are ggml's (`ggml/src/ggml-common.h`: `block_q4_0` ... `block_q6_K`) and
//! the formulas its reference `dequantize_row_*` functions (`ggml/src/ggml-quants.c`), written
//! here from the format description. Every product is evaluated in f32 in the same order as
//! the reference, so the results are bit-identical to it.

use half::f16;

/// A ggml tensor type (`enum ggml_type`, `ggml/include/ggml.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgmlType(pub u32);

/// (name, id, elements per block, bytes per block) of every type ggml defines.
const TYPES: &[(&str, u32, usize, usize)] = &[
    ("F32", 0, 1, 4),
    ("F16", 1, 1, 2),
    ("Q4_0", 2, 32, 18),
    ("Q4_1", 3, 32, 20),
    ("Q5_0", 6, 32, 22),
    ("Q5_1", 7, 32, 24),
    ("Q8_0", 8, 32, 34),
    ("Q8_1", 9, 32, 36),
    ("Q2_K", 10, 256, 84),
    ("Q3_K", 11, 256, 110),
    ("Q4_K", 12, 256, 144),
    ("Q5_K", 13, 256, 176),
    ("Q6_K", 14, 256, 210),
    ("Q8_K", 15, 256, 292),
    ("IQ2_XXS", 16, 256, 66),
    ("IQ2_XS", 17, 256, 74),
    ("IQ3_XXS", 18, 256, 98),
    ("IQ1_S", 19, 256, 50),
    ("IQ4_NL", 20, 32, 18),
    ("IQ3_S", 21, 256, 110),
    ("IQ2_S", 22, 256, 82),
    ("IQ4_XS", 23, 256, 136),
    ("I8", 24, 1, 1),
    ("I16", 25, 1, 2),
    ("I32", 26, 1, 4),
    ("I64", 27, 1, 8),
    ("F64", 28, 1, 8),
    ("IQ1_M", 29, 256, 56),
    ("BF16", 30, 1, 2),
    ("TQ1_0", 34, 256, 54),
    ("TQ2_0", 35, 256, 66),
    ("MXFP4", 39, 32, 17),
];

impl GgmlType {
    fn entry(self) -> Option<&'static (&'static str, u32, usize, usize)> {
        TYPES.iter().find(|t| t.1 == self.0)
    }

    /// The type's name (`Q4_K`), or `type 99` for an id ggml does not define.
    pub fn name(self) -> String {
        self.entry()
            .map(|t| t.0.to_string())
            .unwrap_or_else(|| format!("type {}", self.0))
    }

    /// (elements, bytes) of one block; `None` for unknown ids.
    pub fn block(self) -> Option<(usize, usize)> {
        self.entry().map(|t| (t.2, t.3))
    }

    /// Whether htdiag turns this type into floats (directly or by dequantizing).
    pub fn is_readable(self) -> bool {
        matches!(self.0, 0..=3 | 6..=8 | 10..=14 | 28 | 30)
    }

    /// Whether the stored values are the weights themselves (no dequantization needed).
    pub fn is_plain_float(self) -> bool {
        matches!(self.0, 0 | 1 | 28 | 30)
    }

    /// Whether the type is one of the block-quantized types htdiag dequantizes.
    pub fn is_dequantized(self) -> bool {
        self.is_readable() && !self.is_plain_float()
    }

    /// Dequantizes `numel` elements of a quantized type from `raw` (exactly
    /// `numel / block * bytes` bytes). Plain float types are read directly, not here.
    pub fn dequantize(self, raw: &[u8], numel: usize) -> Result<Vec<f32>, String> {
        let mut out = vec![0f32; numel];
        self.dequantize_into(raw, &mut out)?;
        Ok(out)
    }

    /// [`GgmlType::dequantize`] into `out` (its length is the element count), so a caller can
    /// dequantize straight into the buffer it hands on.
    pub fn dequantize_into(self, raw: &[u8], out: &mut [f32]) -> Result<(), String> {
        let numel = out.len();
        let (qk, size) = self.block().ok_or_else(|| self.name())?;
        if !numel.is_multiple_of(qk) || raw.len() != numel / qk * size {
            return Err(format!(
                "{} elements of {} need {} bytes in whole blocks of {qk}, found {}",
                numel,
                self.name(),
                numel.div_ceil(qk) * size,
                raw.len()
            ));
        }
        let block_fn: fn(&[u8], &mut [f32]) = match self.0 {
            2 => q4_0,
            3 => q4_1,
            6 => q5_0,
            7 => q5_1,
            8 => q8_0,
            10 => q2_k,
            11 => q3_k,
            12 => q4_k,
            13 => q5_k,
            14 => q6_k,
            _ => return Err(format!("{} is not dequantized by htdiag", self.name())),
        };
        for (b, y) in raw.chunks_exact(size).zip(out.chunks_exact_mut(qk)) {
            block_fn(b, y);
        }
        Ok(())
    }
}

fn h(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// `block_q4_0 { half d; u8 qs[16]; }`: y[j] = (lo(qs[j]) - 8) d, y[j+16] = (hi(qs[j]) - 8) d.
fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = h(b, 0);
    for j in 0..16 {
        let q = b[2 + j];
        y[j] = ((q & 0xF) as i32 - 8) as f32 * d;
        y[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
    }
}

/// `block_q4_1 { half d, m; u8 qs[16]; }`: y = q d + m.
fn q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (h(b, 0), h(b, 2));
    for j in 0..16 {
        let q = b[4 + j];
        y[j] = (q & 0xF) as f32 * d + m;
        y[j + 16] = (q >> 4) as f32 * d + m;
    }
}

/// The 5th bits of a Q5 block: element j uses bit j of `qh`, element j + 16 bit j + 16.
fn q5_quants(qh: u32, qs: &[u8], j: usize) -> (u8, u8) {
    let h0 = (((qh >> j) << 4) & 0x10) as u8;
    let h1 = ((qh >> (j + 12)) & 0x10) as u8;
    ((qs[j] & 0xF) | h0, (qs[j] >> 4) | h1)
}

/// `block_q5_0 { half d; u8 qh[4]; u8 qs[16]; }`: y = (q - 16) d.
fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = h(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for j in 0..16 {
        let (x0, x1) = q5_quants(qh, &b[6..22], j);
        y[j] = (x0 as i32 - 16) as f32 * d;
        y[j + 16] = (x1 as i32 - 16) as f32 * d;
    }
}

/// `block_q5_1 { half d, m; u8 qh[4]; u8 qs[16]; }`: y = q d + m.
fn q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (h(b, 0), h(b, 2));
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for j in 0..16 {
        let (x0, x1) = q5_quants(qh, &b[8..24], j);
        y[j] = x0 as f32 * d + m;
        y[j + 16] = x1 as f32 * d + m;
    }
}

/// `block_q8_0 { half d; i8 qs[32]; }`: y = q d.
fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = h(b, 0);
    for (y, &q) in y[..32].iter_mut().zip(&b[2..34]) {
        *y = (q as i8) as f32 * d;
    }
}

/// `block_q2_K { u8 scales[16]; u8 qs[64]; half d, dmin; }`: 16 groups of 16, each with a
/// 4-bit scale and 4-bit min; y = d sc q - dmin m with 2-bit q.
fn q2_k(b: &[u8], y: &mut [f32]) {
    let (scales, qs) = (&b[0..16], &b[16..80]);
    let (d, dmin) = (h(b, 80), h(b, 82));
    let mut is = 0;
    let mut out = 0;
    for n in 0..2 {
        let q = &qs[32 * n..32 * n + 32];
        for shift in [0, 2, 4, 6] {
            for half in 0..2 {
                let sc = scales[is];
                is += 1;
                let dl = d * (sc & 0xF) as f32;
                let ml = dmin * (sc >> 4) as f32;
                for l in 0..16 {
                    y[out] = dl * ((q[l + 16 * half] >> shift) & 3) as f32 - ml;
                    out += 1;
                }
            }
        }
    }
}

/// `block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d; }`: 16 groups of 16 with a
/// 6-bit signed scale; 3-bit q = low 2 bits from `qs`, minus 4 when the `hmask` bit is clear.
fn q3_k(b: &[u8], y: &mut [f32]) {
    let (hm, qs, sc) = (&b[0..32], &b[32..96], &b[96..108]);
    let d = h(b, 108);
    // Scale s: low 4 bits from byte s (s < 8, low nibble) or s - 8 (high nibble); high 2 bits
    // from byte 8 + s % 4 at bit 2 (s / 4).
    let scale = |s: usize| -> i32 {
        let lo = if s < 8 { sc[s] & 0xF } else { sc[s - 8] >> 4 };
        let hi = (sc[8 + s % 4] >> (2 * (s / 4))) & 3;
        (lo | (hi << 4)) as i32 - 32
    };
    let mut is = 0;
    let mut m = 1u8;
    let mut out = 0;
    for n in 0..2 {
        let q = &qs[32 * n..32 * n + 32];
        for shift in [0, 2, 4, 6] {
            for half in 0..2 {
                let dl = d * scale(is) as f32;
                is += 1;
                for l in 0..16 {
                    let k = l + 16 * half;
                    let low = ((q[k] >> shift) & 3) as i32;
                    let sub = if hm[k] & m != 0 { 0 } else { 4 };
                    y[out] = dl * (low - sub) as f32;
                    out += 1;
                }
            }
            m <<= 1;
        }
    }
}

/// The 6-bit scale and min of sub-block `j` in the 12 packed bytes of Q4_K / Q5_K
/// (`get_scale_min_k4`).
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// `block_q4_K { half d, dmin; u8 scales[12]; u8 qs[128]; }`: 8 sub-blocks of 32;
/// y = d sc q - dmin m with 4-bit q (low nibbles for the first 32 of each 64, then high).
fn q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (h(b, 0), h(b, 2));
    let (sc, qs) = (&b[4..16], &b[16..144]);
    for (j, chunk) in y.chunks_exact_mut(64).enumerate() {
        let q = &qs[32 * j..32 * j + 32];
        let (s1, m1) = scale_min_k4(2 * j, sc);
        let (s2, m2) = scale_min_k4(2 * j + 1, sc);
        let (d1, m1) = (d * s1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * s2 as f32, dmin * m2 as f32);
        for l in 0..32 {
            chunk[l] = d1 * (q[l] & 0xF) as f32 - m1;
            chunk[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

/// `block_q5_K { half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; }`: as Q4_K with a
/// fifth bit from `qh` (bit 2j for the low nibbles of chunk j, bit 2j + 1 for the high).
fn q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (h(b, 0), h(b, 2));
    let (sc, qh, qs) = (&b[4..16], &b[16..48], &b[48..176]);
    for (j, chunk) in y.chunks_exact_mut(64).enumerate() {
        let ql = &qs[32 * j..32 * j + 32];
        let (u1, u2) = (1u8 << (2 * j), 2u8 << (2 * j));
        let (s1, m1) = scale_min_k4(2 * j, sc);
        let (s2, m2) = scale_min_k4(2 * j + 1, sc);
        let (d1, m1) = (d * s1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * s2 as f32, dmin * m2 as f32);
        for l in 0..32 {
            let hi1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let hi2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            chunk[l] = d1 * ((ql[l] & 0xF) + hi1) as f32 - m1;
            chunk[l + 32] = d2 * ((ql[l] >> 4) + hi2) as f32 - m2;
        }
    }
}

/// `block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; half d; }`: 16 groups of 16 with a
/// signed 8-bit scale; 6-bit q = 4 bits of `ql` and 2 of `qh`, minus 32.
fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = h(b, 208);
    for (n, chunk) in y.chunks_exact_mut(128).enumerate() {
        let ql = &b[64 * n..64 * n + 64];
        let qh = &b[128 + 32 * n..128 + 32 * n + 32];
        let sc = &b[192 + 8 * n..192 + 8 * n + 8];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            let s = |k: usize| d * (sc[is + k] as i8) as f32;
            chunk[l] = s(0) * q1 as f32;
            chunk[l + 32] = s(2) * q2 as f32;
            chunk[l + 64] = s(4) * q3 as f32;
            chunk[l + 96] = s(6) * q4 as f32;
        }
    }
}

#[cfg(test)]
#[path = "quant_tests.rs"]
mod tests;
