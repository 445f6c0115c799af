//! Each quant type on blocks built from chosen scales and quants: the expected value of every
//! element is computed per element from the format description (where element `e`'s bits
//! live), independently of the block loops of the implementation. The whole-file comparison
//! against llama.cpp's Python dequantizer is in `tests/formats/gguf.rs`.

use super::*;

/// Deterministic bytes (xorshift).
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

fn f16b(x: f32) -> [u8; 2] {
    f16::from_f32(x).to_le_bytes()
}

fn deq(t: u32, b: &[u8]) -> Vec<f32> {
    let ty = GgmlType(t);
    let (qk, size) = ty.block().unwrap();
    ty.dequantize(b, b.len() / size * qk).unwrap()
}

#[test]
fn q8_0_and_q4_0_and_q4_1() {
    let mut b = f16b(0.25).to_vec();
    b.extend((0..32).map(|j| (j as i8 - 16) as u8));
    let y = deq(8, &b);
    for (j, v) in y.iter().enumerate() {
        assert_eq!(*v, (j as f32 - 16.0) * 0.25);
    }
    // Nibble j low = j % 16 (element j), high = 15 - j % 16 (element j + 16).
    let qs: Vec<u8> = (0..16u8).map(|j| j | ((15 - j) << 4)).collect();
    let mut b = f16b(0.5).to_vec();
    b.extend(&qs);
    let y = deq(2, &b);
    for j in 0..16 {
        assert_eq!(y[j], (j as f32 - 8.0) * 0.5);
        assert_eq!(y[j + 16], (7.0 - j as f32) * 0.5);
    }
    let mut b = [f16b(0.5), f16b(-1.0)].concat();
    b.extend(&qs);
    let y = deq(3, &b);
    for j in 0..16 {
        assert_eq!(y[j], j as f32 * 0.5 - 1.0);
        assert_eq!(y[j + 16], (15 - j) as f32 * 0.5 - 1.0);
    }
}

#[test]
fn q5_0_and_q5_1_take_the_fifth_bit_from_qh() {
    let qh: u32 = 0xA5C3_0F96;
    let qs = bytes(16, 5);
    // Element e: low nibble of qs[e % 16] (e < 16) or high (e >= 16), fifth bit = bit e of qh.
    let q = |e: usize| {
        let nib = if e < 16 { qs[e] & 15 } else { qs[e - 16] >> 4 };
        (nib | ((((qh >> e) & 1) as u8) << 4)) as f32
    };
    let mut b = f16b(2.0).to_vec();
    b.extend(qh.to_le_bytes());
    b.extend(&qs);
    let y = deq(6, &b);
    for (e, v) in y.iter().enumerate() {
        assert_eq!(*v, (q(e) - 16.0) * 2.0, "q5_0 element {e}");
    }
    let mut b = [f16b(0.5), f16b(3.0)].concat();
    b.extend(qh.to_le_bytes());
    b.extend(&qs);
    let y = deq(7, &b);
    for (e, v) in y.iter().enumerate() {
        assert_eq!(*v, q(e) * 0.5 + 3.0, "q5_1 element {e}");
    }
}

#[test]
fn q2_k_groups_of_sixteen() {
    let (d, dmin) = (0.5f32, 0.25f32);
    let scales = bytes(16, 7);
    let qs = bytes(64, 8);
    let mut b = scales.clone();
    b.extend(&qs);
    b.extend(f16b(d));
    b.extend(f16b(dmin));
    let y = deq(10, &b);
    for (e, v) in y.iter().enumerate() {
        // 128-element halves use qs[32n..32n+32]; bits 2j..2j+2 for the j-th 32 of the half.
        let (n, j) = (e / 128, (e % 128) / 32);
        let q = (qs[32 * n + e % 32] >> (2 * j)) & 3;
        let sc = scales[e / 16];
        let expect = d * (sc & 15) as f32 * q as f32 - dmin * (sc >> 4) as f32;
        assert_eq!(*v, expect, "element {e}");
    }
}

/// Packs 16 six-bit Q3_K scales: low nibbles in bytes 0-7 (s < 8 low, s >= 8 high nibble of
/// byte s - 8), high two bits in bytes 8-11 (byte 8 + s % 4, bits 2 (s / 4)).
fn pack_q3_scales(s: &[u8; 16]) -> [u8; 12] {
    let mut out = [0u8; 12];
    for (i, &v) in s.iter().enumerate() {
        let (lo, hi) = (v & 15, v >> 4);
        if i < 8 {
            out[i] |= lo;
        } else {
            out[i - 8] |= lo << 4;
        }
        out[8 + i % 4] |= hi << (2 * (i / 4));
    }
    out
}

#[test]
fn q3_k_signed_scales_and_high_mask() {
    let scales: [u8; 16] = std::array::from_fn(|i| ((i * 23 + 5) % 64) as u8);
    let hm = bytes(32, 11);
    let qs = bytes(64, 12);
    let d = 0.125f32;
    let mut b = hm.clone();
    b.extend(&qs);
    b.extend(pack_q3_scales(&scales));
    b.extend(f16b(d));
    let y = deq(11, &b);
    for (e, v) in y.iter().enumerate() {
        let (n, j) = (e / 128, (e % 128) / 32);
        let low = ((qs[32 * n + e % 32] >> (2 * j)) & 3) as i32;
        let high_set = (hm[e % 32] >> (4 * n + j)) & 1 == 1;
        let q = low - if high_set { 0 } else { 4 };
        let sc = scales[e / 16] as i32 - 32;
        assert_eq!(*v, d * sc as f32 * q as f32, "element {e}");
    }
}

/// Packs 8 six-bit scales and mins of Q4_K / Q5_K into 12 bytes: sub-blocks 0-3 in the low
/// 6 bits of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 split into a low nibble in
/// bytes 8-11 (scale low, min high) and their top 2 bits in the top of bytes 0-7.
fn pack_k4(sc: &[u8; 8], m: &[u8; 8]) -> [u8; 12] {
    let mut out = [0u8; 12];
    for i in 0..4 {
        out[i] = sc[i] | ((sc[i + 4] >> 4) << 6);
        out[i + 4] = m[i] | ((m[i + 4] >> 4) << 6);
        out[i + 8] = (sc[i + 4] & 15) | ((m[i + 4] & 15) << 4);
    }
    out
}

#[test]
fn q4_k_and_q5_k_sub_blocks_of_32() {
    let sc: [u8; 8] = [1, 63, 17, 40, 5, 33, 62, 9];
    let m: [u8; 8] = [0, 12, 63, 7, 50, 21, 3, 44];
    let (d, dmin) = (0.0625f32, 0.5f32);
    let qs = bytes(128, 21);
    let qh = bytes(32, 22);
    let nib = |e: usize| {
        // Chunk c = e / 64 uses qs[32c..32c+32]: low nibbles first, then high nibbles.
        let (c, w) = (e / 64, e % 64);
        if w < 32 {
            qs[32 * c + w] & 15
        } else {
            qs[32 * c + w - 32] >> 4
        }
    };
    let mut b = [f16b(d), f16b(dmin)].concat();
    b.extend(pack_k4(&sc, &m));
    b.extend(&qs);
    let y = deq(12, &b);
    for (e, v) in y.iter().enumerate() {
        let s = e / 32;
        assert_eq!(
            *v,
            d * sc[s] as f32 * nib(e) as f32 - dmin * m[s] as f32,
            "q4_K {e}"
        );
    }
    let mut b = [f16b(d), f16b(dmin)].concat();
    b.extend(pack_k4(&sc, &m));
    b.extend(&qh);
    b.extend(&qs);
    let y = deq(13, &b);
    for (e, v) in y.iter().enumerate() {
        let s = e / 32;
        let q = nib(e) + 16 * ((qh[e % 32] >> s) & 1);
        assert_eq!(
            *v,
            d * sc[s] as f32 * q as f32 - dmin * m[s] as f32,
            "q5_K {e}"
        );
    }
}

#[test]
fn q6_k_six_bits_and_signed_scales() {
    let ql = bytes(128, 31);
    let qh = bytes(64, 32);
    let scales: Vec<u8> = (0..16i32).map(|i| ((i * 9 - 70) as i8) as u8).collect();
    let d = 0.25f32;
    let mut b = ql.clone();
    b.extend(&qh);
    b.extend(&scales);
    b.extend(f16b(d));
    let y = deq(14, &b);
    for (e, v) in y.iter().enumerate() {
        // Half n = e / 128; quarter k of it; l = position in the quarter.
        let (n, k, l) = (e / 128, (e % 128) / 32, e % 32);
        let byte = ql[64 * n + l + 32 * (k % 2)];
        let lo = if k < 2 { byte & 15 } else { byte >> 4 };
        let hi = (qh[32 * n + l] >> (2 * k)) & 3;
        let q = (lo | (hi << 4)) as i32 - 32;
        let sc = scales[e / 16] as i8;
        assert_eq!(*v, d * sc as f32 * q as f32, "element {e}");
    }
}

#[test]
fn sizes_names_and_refusals() {
    assert_eq!(GgmlType(12).name(), "Q4_K");
    assert_eq!(GgmlType(12).block(), Some((256, 144)));
    assert_eq!(GgmlType(99).name(), "type 99");
    assert!(!GgmlType(20).is_dequantized());
    assert!(GgmlType(20).dequantize(&[0; 18], 32).is_err());
    // A byte count that is not whole blocks.
    let e = GgmlType(8).dequantize(&[0; 33], 32).unwrap_err();
    assert!(e.contains("34 bytes"), "{e}");
}
