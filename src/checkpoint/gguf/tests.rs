//! The GGUF header parser on files built here byte by byte.

use super::*;

fn s(out: &mut Vec<u8>, text: &str) {
    out.extend((text.len() as u64).to_le_bytes());
    out.extend(text.as_bytes());
}

/// GGUF v`version` with `general.alignment` = 64, a string array, and two tensors: `w` F32
/// with ne = [4, 2] and `q` Q8_0 with ne = [32, 1].
fn file(version: u32) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(version.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    b.extend(3u64.to_le_bytes());
    s(&mut b, "general.alignment");
    b.extend(4u32.to_le_bytes());
    b.extend(64u32.to_le_bytes());
    s(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "llama");
    s(&mut b, "tokenizer.tokens");
    b.extend(9u32.to_le_bytes());
    b.extend(8u32.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    s(&mut b, "a");
    s(&mut b, "bc");
    for (name, ne, ty, off) in [("w", [4u64, 2], 0u32, 0u64), ("q", [32, 1], 8, 64)] {
        s(&mut b, name);
        b.extend(2u32.to_le_bytes());
        for d in ne {
            b.extend(d.to_le_bytes());
        }
        b.extend(ty.to_le_bytes());
        b.extend(off.to_le_bytes());
    }
    b.resize(b.len().next_multiple_of(64), 0);
    for i in 0..8 {
        b.extend((i as f32).to_le_bytes());
    }
    b.resize(b.len().next_multiple_of(64), 0);
    b.extend(half::f16::from_f32(0.5).to_le_bytes());
    b.extend((0..32).map(|i| i as u8));
    b
}

#[test]
fn header_shapes_and_ranges() {
    let b = file(3);
    let (t, info) = parse(&b).unwrap();
    assert_eq!(
        (info.version, info.architecture.as_deref()),
        (3, Some("llama"))
    );
    assert_eq!(t[0].name, "w");
    assert_eq!(t[0].shape, [2, 4], "ne reversed");
    assert_eq!(t[0].float_dtype, Some(FloatDtype::F32));
    let w: Vec<f32> = b[t[0].range.clone()]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(w, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    assert_eq!(t[0].range.start % 64, 0);
    assert_eq!((t[1].dtype.as_str(), t[1].range.len()), ("Q8_0", 34));
    assert_eq!(t[1].access, Access::Dequantize(GgmlType(8)));
    assert!(parse(&file(2)).is_ok());
}

#[test]
fn lies_are_errors() {
    let good = file(3);
    let with = |at: usize, v: &[u8]| {
        let mut b = good.clone();
        b[at..at + v.len()].copy_from_slice(v);
        parse(&b).unwrap_err()
    };
    assert!(with(0, b"GGML").contains("magic"));
    assert!(with(4, &1u32.to_le_bytes()).contains("version 1"));
    assert!(with(4, &3u32.to_be_bytes()).contains("big-endian"));
    assert!(with(8, &u64::MAX.to_le_bytes()).contains("more than"));
    assert!(with(16, &(1u64 << 40).to_le_bytes()).contains("more than"));
    // The alignment value (after the 8-byte length, 17-byte key and 4-byte type).
    assert!(with(24 + 8 + 17 + 4, &48u32.to_le_bytes()).contains("power of two"));
    for cut in [3, 10, 30, 100, good.len() - 1] {
        assert!(parse(&good[..cut]).is_err(), "truncated at {cut}");
    }
}
