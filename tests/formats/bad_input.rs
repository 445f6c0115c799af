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

// ---------------------------------------------------------------- PyTorch and GGUF files

/// A stored (uncompressed) zip archive, as torch.save writes one; `method` 8 marks every
/// entry deflated (its bytes are left as they are: the reader must refuse before inflating).
fn zip_archive(files: &[(&str, &[u8])], method: u16) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in files {
        let off = out.len() as u32;
        let sizes = [
            (data.len() as u32).to_le_bytes(),
            (data.len() as u32).to_le_bytes(),
        ]
        .concat();
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend([20, 0, 0, 0]);
        out.extend(method.to_le_bytes());
        out.extend([0u8; 8]);
        out.extend(&sizes);
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
        out.extend(*data);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend([20, 0, 20, 0, 0, 0]);
        central.extend(method.to_le_bytes());
        central.extend([0u8; 8]);
        central.extend(&sizes);
        central.extend((name.len() as u16).to_le_bytes());
        central.extend([0u8; 12]);
        central.extend(off.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let cd = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((files.len() as u16).to_le_bytes());
    out.extend((files.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd.to_le_bytes());
    out.extend([0u8; 2]);
    out
}

/// `data.pkl` of `{'w': _rebuild_tensor_v2(<storage '0' of `numel` `class`>, offset,
/// (r, c), (s0, s1), False, OrderedDict())}` in pickle protocol 2, as torch.save writes it.
fn state_dict_pkl(class: &str, numel: u8, offset: u8, shape: [u8; 2], stride: [u8; 2]) -> Vec<u8> {
    let mut b = b"\x80\x02ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\n".to_vec();
    b.extend(class.as_bytes());
    b.extend(b"\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK");
    b.extend([
        numel, b't', b'Q', b'K', offset, b'K', shape[0], b'K', shape[1], 0x86,
    ]);
    b.extend([b'K', stride[0], b'K', stride[1], 0x86]);
    b.extend(b"\x89ccollections\nOrderedDict\n)RtRu.");
    b
}

fn torch_zip(pkl: &[u8], storage: &[u8]) -> Vec<u8> {
    zip_archive(
        &[
            ("m/data.pkl", pkl),
            ("m/byteorder", &b"little"[..]),
            ("m/data/0", storage),
        ],
        0,
    )
}

#[test]
fn torch_zip_good_then_each_lie() {
    let dir = tempfile::tempdir().unwrap();
    let good = state_dict_pkl("FloatStorage", 6, 0, [2, 3], [3, 1]);
    let p = put(dir.path(), "good.pt", &torch_zip(&good, &[0u8; 24]));
    assert_eq!(Checkpoint::open(&p).unwrap().tensors()[0].shape, [2, 3]);
    // Storage offset pushing the view past its storage.
    let pkl = state_dict_pkl("FloatStorage", 6, 1, [2, 3], [3, 1]);
    open_err(
        &put(dir.path(), "off.pt", &torch_zip(&pkl, &[0u8; 24])),
        &["'w'", "reads element 6"],
    );
    // The storage record shorter than the view (lying numel / truncated record).
    open_err(
        &put(dir.path(), "short.pt", &torch_zip(&good, &[0u8; 20])),
        &["'w'", "holding 5"],
    );
    // Strides lying outside the storage.
    let pkl = state_dict_pkl("FloatStorage", 6, 0, [2, 3], [200, 1]);
    open_err(
        &put(dir.path(), "stride.pt", &torch_zip(&pkl, &[0u8; 24])),
        &["'w'", "reads element"],
    );
    // A 65025-element broadcast (stride 0) of a 6-element storage.
    let pkl = state_dict_pkl("FloatStorage", 6, 0, [255, 255], [0, 0]);
    open_err(
        &put(dir.path(), "bcast.pt", &torch_zip(&pkl, &[0u8; 24])),
        &["'w'", "stride-0"],
    );
    // Unknown storage type: refused by name.
    let pkl = state_dict_pkl("EvilStorage", 6, 0, [2, 3], [3, 1]);
    open_err(
        &put(dir.path(), "evil.pt", &torch_zip(&pkl, &[0u8; 24])),
        &["torch.EvilStorage"],
    );
    // Missing storage record, missing data.pkl, compressed records.
    let z = zip_archive(&[("m/data.pkl", good.as_slice())], 0);
    open_err(&put(dir.path(), "nodata.pt", &z), &["data/0 is missing"]);
    let z = zip_archive(&[("m/other.pkl", good.as_slice())], 0);
    open_err(&put(dir.path(), "nopkl.pt", &z), &["without data.pkl"]);
    let z = zip_archive(
        &[
            ("m/data.pkl", good.as_slice()),
            ("m/data/0", &[0u8; 24][..]),
        ],
        8,
    );
    open_err(&put(dir.path(), "deflated.pt", &z), &["compressed"]);
    // Truncated anywhere: a clear error, never a panic.
    let bytes = torch_zip(&good, &[0u8; 24]);
    for cut in [0, 3, 30, bytes.len() / 2, bytes.len() - 1] {
        let p = put(dir.path(), &format!("cut{cut}.pt"), &bytes[..cut]);
        assert!(Checkpoint::open(&p).is_err(), "cut at {cut}");
    }
    // A wrong byteorder record.
    let z = zip_archive(
        &[
            ("m/data.pkl", good.as_slice()),
            ("m/byteorder", &b"middle"[..]),
            ("m/data/0", &[0u8; 24][..]),
        ],
        0,
    );
    open_err(&put(dir.path(), "bo.pt", &z), &["byteorder", "middle"]);
}

#[test]
fn pickle_that_would_run_code_is_refused_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    // {'w': os.system('touch <marker>')} inside an otherwise valid torch zip.
    let cmd = format!("touch {}", marker.display());
    let mut pkl =
        b"\x80\x02ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00wcposix\nsystem\nX".to_vec();
    pkl.extend((cmd.len() as u32).to_le_bytes());
    pkl.extend(cmd.as_bytes());
    pkl.extend(b"\x85Ru.");
    let p = put(dir.path(), "evil.bin", &torch_zip(&pkl, &[0u8; 24]));
    open_err(
        &p,
        &[
            "refused global 'posix.system'",
            "nothing in the file is run",
        ],
    );
    // The same as a legacy file: magic, protocol, sys info, then builtins.eval.
    let mut legacy =
        b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.\x80\x02}."
            .to_vec();
    legacy.extend(b"\x80\x02c__builtin__\neval\nX");
    let code = format!("__import__('os').system('{cmd}')");
    legacy.extend((code.len() as u32).to_le_bytes());
    legacy.extend(code.as_bytes());
    legacy.extend(b"\x85R.");
    open_err(
        &put(dir.path(), "evil_legacy.pth", &legacy),
        &["'__builtin__.eval'"],
    );
    assert!(!marker.exists(), "a refused pickle ran a command");
}

#[test]
fn torch_legacy_truncated_and_lying_storages() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/formats/torch_legacy.bin"),
    )
    .unwrap();
    open_err(
        &put(dir.path(), "cut.bin", &good[..good.len() - 3]),
        &["truncated"],
    );
    open_err(
        &put(dir.path(), "cut2.bin", &good[..200]),
        &["truncated pickle"],
    );
    let mut wrong = good.clone();
    wrong[5] ^= 0xFF;
    open_err(&put(dir.path(), "magic.bin", &wrong), &["magic number"]);
    // A .bin that is neither a zip nor a pickle.
    open_err(
        &put(dir.path(), "text.bin", b"just some text, not a checkpoint"),
        &["neither"],
    );
}

/// GGUF v3: `n_kv` entries claimed (one real: general.alignment = 32), then one tensor `w`
/// (`ne`, `ty`, `offset`), then 64 bytes of data.
fn gguf(n_tensors: u64, n_kv: u64, ne: &[u64], ty: u32, offset: u64) -> Vec<u8> {
    let s = |b: &mut Vec<u8>, t: &str| {
        b.extend((t.len() as u64).to_le_bytes());
        b.extend(t.as_bytes());
    };
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(n_tensors.to_le_bytes());
    b.extend(n_kv.to_le_bytes());
    s(&mut b, "general.alignment");
    b.extend(4u32.to_le_bytes());
    b.extend(32u32.to_le_bytes());
    s(&mut b, "w");
    b.extend((ne.len() as u32).to_le_bytes());
    for d in ne {
        b.extend(d.to_le_bytes());
    }
    b.extend(ty.to_le_bytes());
    b.extend(offset.to_le_bytes());
    b.resize(b.len().next_multiple_of(32) + 64, 0);
    b
}

#[test]
fn gguf_good_then_each_lie() {
    let dir = tempfile::tempdir().unwrap();
    let p = put(dir.path(), "good.gguf", &gguf(1, 1, &[4, 4], 0, 0));
    let ck = Checkpoint::open(&p).unwrap();
    assert_eq!(
        (
            ck.tensors()[0].shape.as_slice(),
            ck.tensors()[0].dtype.as_str()
        ),
        (&[4, 4][..], "F32")
    );
    open_err(
        &put(dir.path(), "past.gguf", &gguf(1, 1, &[4, 8], 0, 0)),
        &["'w'", "past the end"],
    );
    open_err(
        &put(dir.path(), "off.gguf", &gguf(1, 1, &[4, 4], 0, 1 << 40)),
        &["'w'", "past the end"],
    );
    open_err(
        &put(dir.path(), "align.gguf", &gguf(1, 1, &[4, 4], 0, 4)),
        &["'w'", "alignment"],
    );
    open_err(
        &put(dir.path(), "count.gguf", &gguf(1 << 60, 1, &[4, 4], 0, 0)),
        &["claims"],
    );
    open_err(
        &put(dir.path(), "kv.gguf", &gguf(1, 1 << 40, &[4, 4], 0, 0)),
        &["claims"],
    );
    open_err(
        &put(dir.path(), "dims.gguf", &gguf(1, 1, &[1; 5], 0, 0)),
        &["'w'", "5 dimensions"],
    );
    open_err(
        &put(
            dir.path(),
            "huge.gguf",
            &gguf(1, 1, &[1 << 40, 1 << 40], 0, 0),
        ),
        &["'w'", "overflows"],
    );
    // Q8_0 rows must be whole 32-element blocks.
    open_err(
        &put(dir.path(), "rows.gguf", &gguf(1, 1, &[20, 1], 8, 0)),
        &["'w'", "whole Q8_0 blocks"],
    );
    let mut magic = gguf(1, 1, &[4, 4], 0, 0);
    magic[..4].copy_from_slice(b"GGML");
    open_err(&put(dir.path(), "magic.gguf", &magic), &["GGUF magic"]);
    let bytes = gguf(1, 1, &[4, 4], 0, 0);
    for cut in [4, 10, 30, 60, 90] {
        open_err(
            &put(dir.path(), &format!("cut{cut}.gguf"), &bytes[..cut]),
            &["truncated"],
        );
    }
    // An unknown type is listed by its number and skipped, not an error.
    let ck = Checkpoint::open(put(dir.path(), "unk.gguf", &gguf(1, 1, &[4, 4], 99, 0))).unwrap();
    let p = plan(ck.tensors(), &PlanOptions::default());
    assert_eq!(p.skipped[0].reason, "dtype type 99 is not a float");
}
