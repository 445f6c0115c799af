//! Checkpoint loading (single file, shard index, folder), tensor order, byte access, page
//! release, and layer planning against WeightWatcher 0.7.7's view of the conformance model.

use htdiag::checkpoint::inspect::inspect;
use htdiag::checkpoint::{Checkpoint, Layout};
use htdiag::plan::{PlanOptions, plan};
use htdiag::result::LayerType;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `(name, shape, f32 values)` written with the safetensors crate.
fn write_f32(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, s, v)| {
            let bytes: &[u8] = bytemuck::cast_slice(v);
            (
                n.to_string(),
                TensorView::new(Dtype::F32, s.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

fn names(ckpt: &Checkpoint) -> Vec<&str> {
    ckpt.tensors().iter().map(|t| t.name.as_str()).collect()
}

/// The reference CSV's rows: name -> (M, N, rf, num_evals).
fn reference_rows() -> BTreeMap<String, (usize, usize, usize, usize)> {
    let text = std::fs::read_to_string(data("synthetic-model_ww-0.7.7_details.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (name, m, n, rf, ne) = (col("name"), col("M"), col("N"), col("rf"), col("num_evals"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let int = |i: usize| f[i].parse::<f64>().unwrap() as usize;
            (f[name].to_string(), (int(m), int(n), int(rf), int(ne)))
        })
        .collect()
}

#[test]
fn synthetic_model_plans_exactly_the_reference_rows() {
    let ckpt = Checkpoint::open(data("synthetic-model.safetensors")).unwrap();
    assert_eq!(ckpt.tensors().len(), 39);
    assert_eq!(ckpt.layout(), &Layout::SingleFile);
    let p = plan(ckpt.tensors(), &PlanOptions::default());
    let reference = reference_rows();
    assert_eq!(reference.len(), 20);

    let ours: BTreeMap<String, (usize, usize, usize, usize)> = p
        .layers
        .iter()
        .map(|l| {
            let short = l
                .name
                .strip_suffix(".weight")
                .unwrap_or(&l.name)
                .to_string();
            (short, (l.m, l.n, l.rf, l.num_evals()))
        })
        .collect();
    assert_eq!(p.layers.len(), 20, "one row per planned tensor");
    assert_eq!(ours, reference);

    // Every other tensor is skipped, with a reason, in layer_id order.
    assert_eq!(p.skipped.len(), 19);
    assert!(p.skipped.windows(2).all(|w| w[0].layer_id < w[1].layer_id));
    let reason = |name: &str| {
        p.skipped
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.reason.as_str())
            .unwrap()
    };
    assert_eq!(reason("bn.num_batches_tracked"), "dtype I64 is not a float");
    assert_eq!(
        reason("embeddings.position_ids"),
        "dtype I64 is not a float"
    );
    assert_eq!(reason("bn.running_mean"), "rank-1 tensor (bias/norm)");
    assert_eq!(
        reason("embeddings.token_type_embeddings.weight"),
        "M*rf = 2*1 = 2 < min_evals 8 (lower min_evals to analyse it)"
    );

    // layer_id = position in file order, counting every tensor.
    for l in &p.layers {
        assert_eq!(ckpt.tensors()[l.layer_id].name, l.name);
    }
    let conv = p.layers.iter().find(|l| l.name == "conv.0.weight").unwrap();
    assert_eq!(conv.layer_id, 3);
    assert_eq!(conv.layer_type, LayerType::Conv2d);
    assert_eq!(conv.eval_scale, 0.5);
    let dense = p.layers.iter().find(|l| l.name == "head.weight").unwrap();
    assert_eq!(
        (dense.layer_type, dense.eval_scale),
        (LayerType::Dense, 1.0)
    );
}

#[test]
fn tensor_bytes_match_the_safetensors_crate() {
    let path = data("synthetic-model.safetensors");
    let ckpt = Checkpoint::open(&path).unwrap();
    let file = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&file).unwrap();
    assert_eq!(st.len(), ckpt.tensors().len());
    for (i, t) in ckpt.tensors().iter().enumerate() {
        let theirs = st.tensor(&t.name).unwrap();
        assert_eq!(&*ckpt.tensor_bytes(i).unwrap(), theirs.data(), "{}", t.name);
        assert_eq!(t.shape, theirs.shape());
        assert_eq!(t.dtype, theirs.dtype().to_string());
    }
    assert!(ckpt.tensor_bytes(39).is_err());
}

#[test]
fn planned_matrices_read_the_stored_values() {
    let ckpt = Checkpoint::open(data("synthetic-model.safetensors")).unwrap();
    let p = plan(ckpt.tensors(), &PlanOptions::default());
    // bf16 widening: element (r, c) of extra.bf16.weight straight from its bytes.
    let l = p
        .layers
        .iter()
        .find(|l| l.name == "extra.bf16.weight")
        .unwrap();
    let bytes = ckpt.tensor_bytes(l.layer_id).unwrap();
    let m = &l.matrices(&bytes).unwrap()[0];
    let (r, c) = (5, 17);
    let k = 2 * (r * 96 + c);
    let expect = half::bf16::from_le_bytes([bytes[k], bytes[k + 1]]).to_f64();
    assert_eq!(m.get(r, c), expect);
    // Pooled conv: kh*kw slices, slice (i, j) element (a, b) = W[a, b, i, j].
    let l = p.layers.iter().find(|l| l.name == "conv.0.weight").unwrap();
    let bytes = ckpt.tensor_bytes(l.layer_id).unwrap();
    let mats = l.matrices(&bytes).unwrap();
    assert_eq!(mats.len(), 9);
    let w = |a: usize, b: usize, i: usize, j: usize| {
        let k = 4 * (((a * 16 + b) * 3 + i) * 3 + j);
        f32::from_le_bytes(bytes[k..k + 4].try_into().unwrap()) as f64
    };
    assert_eq!(mats[5].get(7, 11), w(7, 11, 1, 2));
    assert_eq!((mats[5].rows, mats[5].cols), (32, 16));
}

#[test]
fn file_order_is_data_offset_order() {
    // Header lists "a" first, but "z" comes first in the data section.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"z":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    for x in [1.0f32, 2.0, 3.0, 4.0] {
        f.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&p, f).unwrap();
    let ckpt = Checkpoint::open(&p).unwrap();
    assert_eq!(names(&ckpt), ["z", "a"]);
    let a = ckpt.tensor_bytes(1).unwrap();
    assert_eq!(&*a, [3.0f32.to_le_bytes(), 4.0f32.to_le_bytes()].concat());
}

#[test]
fn shard_index_order_is_the_weight_map_as_written() {
    let dir = tempfile::tempdir().unwrap();
    write_f32(
        &dir.path().join("model-00001-of-00002.safetensors"),
        &[
            ("b.weight", vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]),
            ("a.weight", vec![1, 2], vec![5.0, 6.0]),
        ],
    );
    write_f32(
        &dir.path().join("model-00002-of-00002.safetensors"),
        &[
            ("c.weight", vec![3], vec![7.0, 8.0, 9.0]),
            ("unindexed", vec![1], vec![10.0]),
        ],
    );
    // Not sorted, shards interleaved: the index's own order must win.
    let index = r#"{"metadata": {"total_size": 36}, "weight_map": {
        "c.weight": "model-00002-of-00002.safetensors",
        "b.weight": "model-00001-of-00002.safetensors",
        "a.weight": "model-00001-of-00002.safetensors"}}"#;
    std::fs::write(dir.path().join("model.safetensors.index.json"), index).unwrap();

    for source in [
        dir.path().to_path_buf(),
        dir.path().join("model.safetensors.index.json"),
    ] {
        let ckpt = Checkpoint::open(&source).unwrap();
        assert_eq!(
            names(&ckpt),
            ["c.weight", "b.weight", "a.weight", "unindexed"]
        );
        assert!(matches!(ckpt.layout(), Layout::Index(_)));
        let files: Vec<_> = ckpt
            .files()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "model-00002-of-00002.safetensors",
                "model-00001-of-00002.safetensors"
            ]
        );
        let b = ckpt.find("b.weight").unwrap();
        let vals: Vec<f32> = ckpt
            .tensor_bytes(b)
            .unwrap()
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(vals, [1.0, 2.0, 3.0, 4.0]);
        assert!(
            ckpt.tensors()[b]
                .path
                .ends_with("model-00001-of-00002.safetensors")
        );
    }
}

#[test]
fn folder_without_index_is_sorted_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    write_f32(
        &dir.path().join("b.safetensors"),
        &[("from_b", vec![1], vec![1.0])],
    );
    write_f32(
        &dir.path().join("a.safetensors"),
        &[("from_a", vec![1], vec![2.0])],
    );
    std::fs::write(dir.path().join("README.md"), "not a tensor file").unwrap();
    let ckpt = Checkpoint::open(dir.path()).unwrap();
    assert_eq!(ckpt.layout(), &Layout::Folder);
    assert_eq!(names(&ckpt), ["from_a", "from_b"]);
    assert_eq!(ckpt.tensors()[1].shard, 1);
}

#[test]
fn inspect_lists_every_tensor_from_headers() {
    let ckpt = Checkpoint::open(data("synthetic-model.safetensors")).unwrap();
    let rows = inspect(&ckpt);
    assert_eq!(rows.len(), 39);
    let total: u64 = rows.iter().map(|r| r.parameters).sum();
    let by_hand: u64 = ckpt
        .tensors()
        .iter()
        .map(|t| t.shape.iter().product::<usize>() as u64)
        .sum();
    assert_eq!(total, by_hand);
    let scalar = &rows[0];
    assert_eq!(
        (
            scalar.name.as_str(),
            scalar.dtype.as_str(),
            scalar.parameters
        ),
        ("bn.num_batches_tracked", "I64", 1)
    );
    let bf16 = rows.iter().find(|r| r.name == "extra.bf16.weight").unwrap();
    assert_eq!((bf16.parameters, bf16.bytes), (48 * 96, 48 * 96 * 2));
    assert_eq!(bf16.file, "synthetic-model.safetensors");
}

/// Resident size (kB) of this process's mappings of `path`, from /proc/self/smaps.
#[cfg(target_os = "linux")]
fn mapped_rss_kb(path: &Path) -> usize {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let target = path.to_str().unwrap();
    let mut inside = false;
    let mut total = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            inside = line.trim_end().ends_with(target);
        } else if inside && line.starts_with("Rss:") {
            total += line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<usize>()
                .unwrap();
        }
    }
    total
}

#[cfg(target_os = "linux")]
#[test]
fn release_drops_resident_pages_and_keeps_data_readable() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.safetensors");
    let n = 4 << 20; // 4 Mi f32 = 16 MiB
    let v: Vec<f32> = (0..n).map(|i| i as f32).collect();
    write_f32(&p, &[("w", vec![2048, n / 2048], v)]);
    let ckpt = Checkpoint::open(&p).unwrap();
    let canon = p.canonicalize().unwrap();

    let touch = |c: &Checkpoint| {
        let b = c.tensor_bytes(0).unwrap();
        b.iter().step_by(4096).map(|&x| x as u64).sum::<u64>()
    };
    let before = touch(&ckpt);
    let resident = mapped_rss_kb(&canon);
    assert!(
        resident >= 15 * 1024,
        "touched 16 MiB, resident {resident} kB"
    );
    ckpt.release(0);
    let after_release = mapped_rss_kb(&canon);
    assert!(
        after_release < 1024,
        "resident after release: {after_release} kB"
    );
    assert_eq!(touch(&ckpt), before, "data reads back identically");
    let last = ckpt.tensor_bytes(0).unwrap();
    let k = last.len() - 4;
    assert_eq!(
        f32::from_le_bytes(last[k..].try_into().unwrap()),
        (n - 1) as f32
    );
}

#[test]
fn checkpoint_can_be_shared_across_worker_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Checkpoint>();
    let ckpt = Checkpoint::open(data("synthetic-model.safetensors")).unwrap();
    let lens: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|k| {
                let c = &ckpt;
                s.spawn(move || c.tensor_bytes(36 + k).unwrap().len())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(lens, [10 * 64 * 4, 48 * 96 * 2]);
}
