//! A GGUF file written by llama.cpp's `gguf` Python package (F32, F16, BF16, Q8_0, Q4_0,
//! Q4_1, Q5_0, Q5_1, Q2_K ... Q6_K, and an IQ4_NL tensor htdiag skips) against the same weights
//! dequantized by that package's numpy code and written as safetensors: every dequantized
//! value bit-identical, and the analyses byte-identical in CSV. Fixtures: tests/data/formats,
//! written by scripts/make_format_fixtures.py.

use htdiag::analyze::{AnalyzeOptions, Silent, analyze};
use htdiag::checkpoint::Checkpoint;
use htdiag::checkpoint::inspect::inspect;
use htdiag::plan::{PlanOptions, plan};
use htdiag::report::csv::to_csv;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/formats")
        .join(name)
}

#[test]
fn dequantized_values_equal_llama_cpp_reference() {
    let g = Checkpoint::open(data("model.gguf")).unwrap();
    let r = Checkpoint::open(data("gguf_reference.safetensors")).unwrap();
    assert_eq!(g.tensors().len(), r.tensors().len() + 1);
    for (i, rt) in r.tensors().iter().enumerate() {
        let gt = &g.tensors()[i];
        assert_eq!((&gt.name, &gt.shape), (&rt.name, &rt.shape));
        assert_eq!(gt.float_dtype, rt.float_dtype, "{}", gt.name);
        let (a, b) = (g.tensor_bytes(i).unwrap(), r.tensor_bytes(i).unwrap());
        assert!(a == b, "{}: dequantized values differ", gt.name);
    }
    let q = g.find("blk.0.q4_k.weight").unwrap();
    assert_eq!(g.tensors()[q].dtype, "Q4_K");
    assert_eq!(
        g.tensors()[q].shape,
        [12, 512],
        "ggml ne [512, 12] reversed"
    );
}

#[test]
fn analysis_matches_and_unknown_types_are_skipped_by_name() {
    let g = Checkpoint::open(data("model.gguf")).unwrap();
    let r = Checkpoint::open(data("gguf_reference.safetensors")).unwrap();
    let opts = AnalyzeOptions::default();
    let ga = analyze(&g, &opts, &Silent, None).unwrap();
    let ra = analyze(&r, &opts, &Silent, None).unwrap();
    let skipped_iq: Vec<_> = ga
        .skipped
        .iter()
        .filter(|s| s.name.contains("iq4_nl"))
        .collect();
    assert_eq!(skipped_iq.len(), 1);
    assert_eq!(skipped_iq[0].reason, "dtype IQ4_NL is not a float");
    let gcsv: String = to_csv(&ga)
        .lines()
        .filter(|l| !l.contains("iq4_nl"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(gcsv, to_csv(&ra));
    assert_eq!(ra.layers.len(), 13);
    let note = g.notes().join("\n");
    for t in ["Q2_K", "Q6_K", "Q8_0", "dequantized weights", "llama"] {
        assert!(note.contains(t), "note lacks {t}: {note}");
    }
}

#[test]
fn inspect_shows_ggml_types_and_quantized_sizes() {
    let g = Checkpoint::open(data("model.gguf")).unwrap();
    let rows = inspect(&g);
    let q = rows.iter().find(|r| r.name == "blk.0.q6_k.weight").unwrap();
    assert_eq!(q.dtype, "Q6_K");
    assert_eq!(q.bytes, 12 * 2 * 210, "two 256-blocks per 512-row");
    let iq = rows
        .iter()
        .find(|r| r.name == "blk.0.iq4_nl.weight")
        .unwrap();
    assert_eq!((iq.dtype.as_str(), iq.parameters), ("IQ4_NL", 16 * 64));
    let p = plan(g.tensors(), &PlanOptions::default());
    assert!(p.layers.iter().any(|l| l.name == "blk.0.q2_k.weight"));
}
