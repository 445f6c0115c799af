//! The torch readers on the committed fixtures (tests/data/formats, written by
//! scripts/make_format_fixtures.py in torch.save's layout) and on views that lie.

use super::*;
use crate::checkpoint::pickle::value::StorageDtype;
use std::rc::Rc;

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/formats")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn zip_and_legacy_list_the_same_views() {
    let z = fixture("torch_zip.pt");
    let l = fixture("torch_legacy.bin");
    assert!(zip::looks_like_zip(&z) && looks_like_legacy(&l));
    let zt = read_zip(&z, None).unwrap().tensors;
    let lt = read_legacy(&l, None).unwrap().tensors;
    let names: Vec<&str> = zt.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names[..3],
        ["features.0.weight", "features.0.bias", "fc1.weight"]
    );
    assert_eq!(zt.len(), lt.len());
    for (a, b) in zt.iter().zip(&lt) {
        assert_eq!(
            (&a.name, &a.dtype, &a.shape, &a.access),
            (&b.name, &b.dtype, &b.shape, &b.access)
        );
        assert_eq!(z[a.range.clone()], l[b.range.clone()], "{}", a.name);
    }
    let by = |n: &str| zt.iter().find(|t| t.name == n).unwrap();
    // The transpose reads the same bytes as fc1.weight, through strides.
    assert_eq!(by("fc1_t.weight").range, by("fc1.weight").range);
    assert!(
        matches!(&by("fc1_t.weight").access, Access::Strided { strides, .. } if strides == &[1, 24])
    );
    // a and b share one storage: adjacent ranges in the same record.
    assert_eq!(by("a.weight").range.end, by("b.weight").range.start);
    assert_eq!(by("fc3.weight").float_dtype, Some(FloatDtype::BF16));
    assert_eq!(by("ints.weight").float_dtype, None);
    assert!(by("bn.num_batches_tracked").shape.is_empty());
}

fn tref(numel: u64, offset: u64, shape: &[u64], stride: &[u64]) -> TensorRef {
    TensorRef {
        storage: Rc::new(StorageRef {
            dtype: StorageDtype {
                name: "F32",
                size: 4,
            },
            key: "0".into(),
            numel,
            view_offset: 0,
        }),
        offset,
        shape: shape.to_vec(),
        stride: stride.to_vec(),
    }
}

#[test]
fn views_outside_their_storage_are_refused() {
    let ok = view("w", &tref(6, 0, &[2, 3], &[3, 1]), 100..124, false).unwrap();
    assert_eq!((ok.range, ok.access), (100..124, Access::Direct));
    let e = view("w", &tref(6, 1, &[2, 3], &[3, 1]), 100..124, false).unwrap_err();
    assert!(e.contains("reads element 6"), "{e}");
    let e = view("w", &tref(6, 0, &[4, 3], &[0, 1]), 100..124, false).unwrap_err();
    assert!(e.contains("stride-0"), "{e}");
    let e = view(
        "w",
        &tref(6, 0, &[1 << 40, 1 << 40], &[1 << 40, 1]),
        100..124,
        false,
    );
    assert!(e.is_err());
    let empty = view("w", &tref(6, 9, &[0, 3], &[3, 1]), 100..124, false).unwrap();
    assert!(empty.range.is_empty());
}
