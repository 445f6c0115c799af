//! Broken checkpoints give a clear error naming the file (and the tensor where one is at
//! fault), never a panic. The files are made here, byte by byte, so each lie is deliberate.

use htdiag::Error;
use htdiag::checkpoint::Checkpoint;
use htdiag::checkpoint::dtype::FloatDtype;
use htdiag::matrices::MatrixRef;
use htdiag::plan::{PlanOptions, plan};
use std::path::{Path, PathBuf};

/// A safetensors file from a header text and a data section of `data_len` bytes.
fn raw_file(header: &str, data_len: usize) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.resize(v.len() + data_len, 0);
    v
}

fn put(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Opens `path`, expects an error, and checks its message names the file and `needles`.
fn open_err(path: &Path, needles: &[&str]) -> Error {
    let err = Checkpoint::open(path).expect_err("broken input must not open");
    let msg = err.to_string();
    let file = path.file_name().unwrap().to_str().unwrap();
    assert!(msg.contains(file), "message does not name {file}: {msg}");
    for n in needles {
        assert!(msg.contains(n), "message lacks '{n}': {msg}");
    }
    err
}

const GOOD: &str = r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#;

#[test]
fn nonexistent_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = open_err(&dir.path().join("nope.safetensors"), &[]);
    assert!(matches!(err, Error::Io { .. }));
}

#[test]
fn empty_and_tiny_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = open_err(&put(dir.path(), "empty.safetensors", b""), &["empty"]);
    assert!(matches!(err, Error::Format { .. }));
    open_err(&put(dir.path(), "tiny.safetensors", b"abc"), &["3 bytes"]);
}

#[test]
fn header_length_bigger_than_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = raw_file(GOOD, 24);
    bytes[..8].copy_from_slice(&1_000_000u64.to_le_bytes());
    open_err(
        &put(dir.path(), "long.safetensors", &bytes),
        &["header length 1000000"],
    );
    // A file that is not safetensors at all (text) reads as an absurd header length too.
    open_err(
        &put(dir.path(), "text.safetensors", b"hello world, not tensors"),
        &["header length"],
    );
}

#[test]
fn truncated_data_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#;
    let mut bytes = raw_file(h, 24);
    bytes.truncate(bytes.len() - 5);
    let err = open_err(
        &put(dir.path(), "cut.safetensors", &bytes),
        &["'b'", "truncated"],
    );
    assert!(matches!(err, Error::Tensor { .. }));
    // Cut inside the header: the length no longer fits.
    let bytes = raw_file(h, 24);
    open_err(
        &put(dir.path(), "cut2.safetensors", &bytes[..20]),
        &["header length"],
    );
}

#[test]
fn non_json_and_wrong_json_headers() {
    let dir = tempfile::tempdir().unwrap();
    open_err(
        &put(dir.path(), "nj.safetensors", &raw_file("{not json", 0)),
        &["not a valid JSON object"],
    );
    open_err(
        &put(dir.path(), "arr.safetensors", &raw_file("[1, 2, 3]", 0)),
        &["not a valid JSON object"],
    );
    let mut bad_utf8 = raw_file("{\"a\":1}", 0);
    bad_utf8[10] = 0xff;
    open_err(&put(dir.path(), "utf.safetensors", &bad_utf8), &["JSON"]);
    open_err(
        &put(dir.path(), "entry.safetensors", &raw_file(r#"{"w": 3}"#, 0)),
        &["'w'", "not an object"],
    );
    open_err(
        &put(
            dir.path(),
            "shape.safetensors",
            &raw_file(
                r#"{"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,24]}}"#,
                24,
            ),
        ),
        &["'w'", "shape"],
    );
    open_err(
        &put(
            dir.path(),
            "nodtype.safetensors",
            &raw_file(r#"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, 8),
        ),
        &["'w'", "dtype"],
    );
    open_err(
        &put(
            dir.path(),
            "offs.safetensors",
            &raw_file(r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, 8),
        ),
        &["'w'", "data_offsets"],
    );
    open_err(
        &put(
            dir.path(),
            "dup.safetensors",
            &raw_file(
                r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                8,
            ),
        ),
        &["'w'", "twice"],
    );
}

#[test]
fn headers_lying_about_offsets_or_shapes() {
    let dir = tempfile::tempdir().unwrap();
    // Shape says 6 floats (24 bytes), offsets hold 20.
    open_err(
        &put(
            dir.path(),
            "shape_lie.safetensors",
            &raw_file(
                r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#,
                24,
            ),
        ),
        &["'w'", "needs 24 bytes", "hold 20"],
    );
    // Offsets beyond the data section.
    open_err(
        &put(
            dir.path(),
            "range.safetensors",
            &raw_file(
                r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[100,124]}}"#,
                24,
            ),
        ),
        &["'w'", "past the end"],
    );
    // End before begin.
    open_err(
        &put(
            dir.path(),
            "rev.safetensors",
            &raw_file(
                r#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#,
                24,
            ),
        ),
        &["'w'", "end before"],
    );
    // Two tensors sharing bytes.
    open_err(
        &put(
            dir.path(),
            "overlap.safetensors",
            &raw_file(
                r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#,
                24,
            ),
        ),
        &["'b'", "overlap", "'a'"],
    );
    // A shape whose size overflows.
    open_err(
        &put(
            dir.path(),
            "huge.safetensors",
            &raw_file(
                r#"{"w":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#,
                8,
            ),
        ),
        &["'w'", "overflows"],
    );
}

#[test]
fn unknown_dtype_is_listed_and_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let h = r#"{"q":{"dtype":"Q4_K","shape":[16,16],"data_offsets":[0,144]},"i":{"dtype":"I32","shape":[16,16],"data_offsets":[144,1168]}}"#;
    let p = put(dir.path(), "q.safetensors", &raw_file(h, 1168));
    let ckpt = Checkpoint::open(&p).unwrap();
    assert_eq!(ckpt.tensors()[0].dtype, "Q4_K");
    assert_eq!(ckpt.tensors()[0].float_dtype, None);
    let p = plan(ckpt.tensors(), &PlanOptions::default());
    assert!(p.layers.is_empty());
    assert_eq!(p.skipped[0].reason, "dtype Q4_K is not a float");
    assert_eq!(p.skipped[1].reason, "dtype I32 is not a float");
}

#[test]
fn shard_index_problems_name_index_and_shard() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "s1.safetensors", &raw_file(GOOD, 24));
    let index = r#"{"weight_map": {"w": "s1.safetensors", "v": "s2.safetensors"}}"#;
    let idx = put(dir.path(), "model.safetensors.index.json", index.as_bytes());
    open_err(&idx, &["s2.safetensors", "'v'", "missing"]);
    // The folder form gives the same error.
    let err = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("model.safetensors.index.json") && err.contains("s2.safetensors"));

    let index = r#"{"weight_map": {"w": "s1.safetensors", "ghost": "s1.safetensors"}}"#;
    std::fs::write(&idx, index).unwrap();
    open_err(&idx, &["'ghost'", "s1.safetensors", "does not hold it"]);

    std::fs::write(&idx, "{\"weight_map\": [1, 2]}").unwrap();
    open_err(&idx, &["not a valid shard index"]);
    std::fs::write(&idx, "{\"weight_map\": {}}").unwrap();
    open_err(&idx, &["empty"]);
    std::fs::write(&idx, "{\"metadata\": {}}").unwrap();
    open_err(&idx, &["weight_map"]);

    // A broken shard behind a good index names the shard.
    std::fs::write(&idx, r#"{"weight_map": {"w": "s1.safetensors"}}"#).unwrap();
    put(dir.path(), "s1.safetensors", b"");
    open_err(&dir.path().join("s1.safetensors"), &["empty"]);
    let err = Checkpoint::open(&idx).unwrap_err().to_string();
    assert!(
        err.contains("s1.safetensors") && err.contains("empty"),
        "{err}"
    );
}

#[test]
fn folders_without_checkpoints_or_with_clashing_names() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "notes.txt", b"nothing here");
    let err = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains(dir.path().to_str().unwrap()) && err.contains(".safetensors"));

    put(dir.path(), "a.safetensors", &raw_file(GOOD, 24));
    put(dir.path(), "b.safetensors", &raw_file(GOOD, 24));
    let err = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("b.safetensors") && err.contains("'w'") && err.contains("a.safetensors"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = put(dir.path(), "locked.safetensors", &raw_file(GOOD, 24));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&p).is_ok() {
        // Running as root: permissions are not enforced; nothing to test.
        return;
    }
    let err = open_err(&p, &["ermission"]);
    assert!(matches!(err, Error::Io { .. }));
}

#[test]
fn find_non_finite_reports_the_first_bad_element() {
    // Dense f32 4 x 5 with a NaN at (2, 3) and an Inf at (3, 0).
    let mut w = vec![0.5f32; 20];
    w[2 * 5 + 3] = f32::NAN;
    w[3 * 5] = f32::INFINITY;
    let m = MatrixRef::dense(bytemuck::cast_slice(&w), FloatDtype::F32, 4, 5);
    assert_eq!(m.find_non_finite(), Some((2, 3)));
    let clean = vec![1.0f32; 20];
    let m = MatrixRef::dense(bytemuck::cast_slice(&clean), FloatDtype::F32, 4, 5);
    assert_eq!(m.find_non_finite(), None);

    // bf16 and f16 storage (strided path): -Inf at (1, 2).
    let mut b = [half::bf16::from_f32(0.25); 6];
    b[5] = half::bf16::NEG_INFINITY;
    let bytes: Vec<u8> = b.iter().flat_map(|x| x.to_le_bytes()).collect();
    let m = MatrixRef::dense(&bytes, FloatDtype::BF16, 2, 3);
    assert_eq!(m.find_non_finite(), Some((1, 2)));
    let mut h = [half::f16::from_f32(0.25); 6];
    h[1] = half::f16::NAN;
    let bytes: Vec<u8> = h.iter().flat_map(|x| x.to_le_bytes()).collect();
    let m = MatrixRef::dense(&bytes, FloatDtype::F16, 2, 3);
    assert_eq!(m.find_non_finite(), Some((0, 1)));

    // A conv slice sees only its own kernel position: NaN at W[1, 0, 0, 1] (slice 1).
    let shape = [2usize, 2, 2, 2];
    let mut k = vec![0.0f64; 16];
    k[9] = f64::NAN; // ((1*2 + 0)*2 + 0)*2 + 1
    let bytes: &[u8] = bytemuck::cast_slice(&k);
    let slices: Vec<_> = (0..4)
        .map(|s| MatrixRef::conv_slice(bytes, FloatDtype::F64, shape, s / 2, s % 2))
        .map(|m| m.find_non_finite())
        .collect();
    assert_eq!(slices, [None, Some((1, 0)), None, None]);
}
