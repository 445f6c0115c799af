//! The property the fuzz target checks, shared with the regression test
//! (`tests/numerics/fuzz_corpus.rs` runs every corpus file and past crash through it).
//!
//! Input: the first byte picks a mode, the rest is the payload.
//! - mode 0: the payload is one `.safetensors` file.
//! - mode 1: the payload is a shard index (`model.safetensors.index.json`) next to a fixed,
//!   valid shard `a.safetensors` holding tensors `w` and `v`.
//! - mode 2: the payload, cut at its first `0xFF` byte, is an index and a shard `a.safetensors`.
//!
//! Property: opening never panics; when it succeeds, every tensor's bytes are available and
//! exactly `shape x dtype size` long for float dtypes, and every planned row cuts its
//! matrices from those bytes without error (and reads its corner elements).
//!
//! The PyTorch and GGUF targets ([`check_file`]) write the whole input as one file named
//! `model.pt` / `model.gguf` (the format is recognised by its first bytes) and check the same
//! property.

#![allow(dead_code)]

use htdiag::checkpoint::Checkpoint;
use htdiag::plan::{PlanOptions, plan};
use std::path::{Path, PathBuf};

/// A fresh scratch folder for this process.
pub fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("htdiag-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

/// A valid shard: `w` F32 [2, 3] and `v` BF16 [4].
pub fn fixed_shard() -> Vec<u8> {
    let header = br#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"v":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}}"#;
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend((0..32u8).map(|i| i.wrapping_mul(37)));
    out
}

fn write(p: &Path, bytes: &[u8]) {
    std::fs::write(p, bytes).expect("scratch write");
}

/// Runs one input (see the module docs); panics only if htdiag breaks the property.
pub fn check(scratch: &Path, data: &[u8]) {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let target: PathBuf = match mode % 3 {
        0 => {
            let p = scratch.join("single.safetensors");
            write(&p, payload);
            p
        }
        1 => {
            let d = scratch.join("index");
            std::fs::create_dir_all(&d).expect("scratch folder");
            write(&d.join("a.safetensors"), &fixed_shard());
            write(&d.join("model.safetensors.index.json"), payload);
            d
        }
        _ => {
            let d = scratch.join("both");
            std::fs::create_dir_all(&d).expect("scratch folder");
            let cut = payload
                .iter()
                .position(|&b| b == 0xFF)
                .unwrap_or(payload.len());
            write(&d.join("model.safetensors.index.json"), &payload[..cut]);
            write(
                &d.join("a.safetensors"),
                payload.get(cut + 1..).unwrap_or_default(),
            );
            d
        }
    };
    verify(&target);
}

/// Writes `data` as `scratch/name` and checks the property on it.
pub fn check_file(scratch: &Path, name: &str, data: &[u8]) {
    let p = scratch.join(name);
    write(&p, data);
    verify(&p);
}

/// The property on whatever `target` is.
fn verify(target: &Path) {
    let Ok(ckpt) = Checkpoint::open(target) else {
        return;
    };
    for (i, t) in ckpt.tensors().iter().enumerate() {
        let bytes = ckpt
            .tensor_bytes(i)
            .unwrap_or_else(|e| panic!("validated tensor {} unreadable: {e}", t.name));
        if let Some(dt) = t.float_dtype {
            assert_eq!(
                bytes.len() as u64,
                t.num_elements() * dt.size() as u64,
                "tensor {} byte length",
                t.name
            );
        }
    }
    let opts = PlanOptions {
        min_evals: 1,
        ..PlanOptions::default()
    };
    let planned = plan(ckpt.tensors(), &opts);
    assert_eq!(
        planned
            .layers
            .iter()
            .map(|p| p.layer_id)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            + planned.skipped.len(),
        ckpt.tensors().len(),
        "every tensor is planned or skipped"
    );
    for p in &planned.layers {
        let bytes = ckpt.tensor_bytes(p.layer_id).expect("checked above");
        let mats = p
            .matrices(&bytes)
            .unwrap_or_else(|e| panic!("planned row {} has no matrices: {e}", p.name));
        for m in &mats {
            let _ = m.get(0, 0);
            let _ = m.get(m.rows - 1, m.cols - 1);
        }
        ckpt.release(p.layer_id);
    }
}

/// A fixed PEFT adapter's weights: a Linear module (A [2, 6], B [5, 2]), a conv module
/// (A [2, 3, 3, 3], B [4, 2, 1, 1]), an embedding (lora_embedding_A [2, 10], _B [4, 2]),
/// and a module of rank 3 (A [3, 6], B [5, 3]), all F32.
pub fn fixed_adapter() -> Vec<u8> {
    let specs: [(&str, &[usize]); 8] = [
        ("base_model.model.q.lora_A.weight", &[2, 6]),
        ("base_model.model.q.lora_B.weight", &[5, 2]),
        ("base_model.model.conv.lora_A.weight", &[2, 3, 3, 3]),
        ("base_model.model.conv.lora_B.weight", &[4, 2, 1, 1]),
        ("base_model.model.emb.lora_embedding_A", &[2, 10]),
        ("base_model.model.emb.lora_embedding_B", &[4, 2]),
        ("base_model.model.v.lora_A.weight", &[3, 6]),
        ("base_model.model.v.lora_B.weight", &[5, 3]),
    ];
    let mut header = String::from("{");
    let mut data: Vec<u8> = Vec::new();
    for (i, (name, shape)) in specs.iter().enumerate() {
        let n: usize = shape.iter().product();
        let start = data.len();
        for k in 0..n {
            data.extend((((k * 7 + i * 3) % 11) as f32 / 5.0 - 1.0).to_le_bytes());
        }
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        if i > 0 {
            header.push(',');
        }
        header += &format!(
            r#""{name}":{{"dtype":"F32","shape":[{}],"data_offsets":[{start},{}]}}"#,
            dims.join(","),
            data.len()
        );
    }
    header.push('}');
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// The LoRA config target: `data` is `adapter_config.json` beside [`fixed_adapter`].
/// Property: opening never panics; when it succeeds every module is analysed or skipped, and
/// every analysed update row holds `num_evals` finite, non-negative eigenvalues.
pub fn check_adapter_config(scratch: &Path, data: &[u8]) {
    use htdiag::analyze::{AnalyzeOptions, Silent, analyze_adapter};
    use htdiag::checkpoint::peft::{Adapter, find};
    use htdiag::result::{LayerStatus, LayerType};
    let d = scratch.join("adapter");
    std::fs::create_dir_all(&d).expect("scratch folder");
    write(&d.join("adapter_model.safetensors"), &fixed_adapter());
    write(&d.join("adapter_config.json"), data);
    let (cfg, weights) = find(&d)
        .expect("a folder with both files is an adapter")
        .expect("found");
    let Ok(adapter) = Adapter::open(&cfg, &weights, &Default::default()) else {
        return;
    };
    assert_eq!(
        adapter.modules.len() + adapter.bad.len(),
        4,
        "every module accounted for"
    );
    let opts = AnalyzeOptions {
        threads: 1,
        ..AnalyzeOptions::default()
    };
    let r = analyze_adapter(&adapter, &opts, &Silent, None).expect("analysis of a valid adapter");
    for l in r.layers.iter().filter(|l| l.layer_type == LayerType::Lora) {
        if l.status == LayerStatus::Error {
            continue;
        }
        assert_eq!(l.eigenvalues.len(), l.num_evals, "row {}", l.name);
        assert!(
            l.eigenvalues.iter().all(|v| v.is_finite() && *v >= 0.0),
            "row {}: {:?}",
            l.name,
            l.eigenvalues
        );
    }
}
