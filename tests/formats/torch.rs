//! PyTorch checkpoints (zip and legacy `torch.save` formats, Lightning nesting, Hugging Face
//! shard indexes) against the same tensors written as safetensors: the same bytes per tensor
//! and byte-identical analysis CSVs. Fixtures: tests/data/formats, written by
//! scripts/make_format_fixtures.py in torch.save's layout.

use htdiag::analyze::{AnalyzeOptions, Silent, analyze};
use htdiag::checkpoint::{Checkpoint, OpenOptions};
use htdiag::report::csv::to_csv;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/formats")
        .join(name)
}

fn csv(ckpt: &Checkpoint) -> String {
    let r = analyze(ckpt, &AnalyzeOptions::default(), &Silent, None).unwrap();
    to_csv(&r)
}

/// Every tensor of `ckpt` has the name, shape, dtype and bytes of the reference's.
fn same_tensors(ckpt: &Checkpoint, reference: &Checkpoint) {
    let names = |c: &Checkpoint| {
        c.tensors()
            .iter()
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(ckpt), names(reference));
    for (i, (a, b)) in ckpt.tensors().iter().zip(reference.tensors()).enumerate() {
        assert_eq!(
            (&a.shape, &a.dtype, a.float_dtype),
            (&b.shape, &b.dtype, b.float_dtype)
        );
        assert_eq!(
            ckpt.tensor_bytes(i).unwrap(),
            reference.tensor_bytes(i).unwrap(),
            "{}",
            a.name
        );
    }
}

#[test]
fn every_torch_format_matches_safetensors_byte_for_byte() {
    let reference = Checkpoint::open(data("torch_reference.safetensors")).unwrap();
    let expect = csv(&reference);
    // The fixture analyses 9 weights (dense, conv, shared storages, strided views, f16/bf16/f64).
    assert_eq!(
        expect.lines().filter(|l| l.contains(",success,")).count(),
        9,
        "{expect}"
    );
    for file in [
        "torch_zip.pt",
        "torch_zip_p4.pth",
        "torch_zip_big_endian.pt",
        "torch_legacy.bin",
    ] {
        let ckpt = Checkpoint::open(data(file)).unwrap();
        same_tensors(&ckpt, &reference);
        assert!(ckpt.notes().is_empty(), "{file}: {:?}", ckpt.notes());
        assert_eq!(csv(&ckpt), expect, "{file}");
    }
}

#[test]
fn hf_shard_index_of_pickles() {
    let reference = Checkpoint::open(data("hf_sharded_reference.safetensors")).unwrap();
    for path in [
        data("hf_sharded"),
        data("hf_sharded/pytorch_model.bin.index.json"),
    ] {
        let ckpt = Checkpoint::open(&path).unwrap();
        assert_eq!(ckpt.files().len(), 2);
        same_tensors(&ckpt, &reference);
        assert_eq!(csv(&ckpt), csv(&reference));
    }
}

#[test]
fn lightning_checkpoint_uses_state_dict_and_says_so() {
    let reference = Checkpoint::open(data("torch_reference.safetensors")).unwrap();
    let ckpt = Checkpoint::open(data("lightning.ckpt")).unwrap();
    same_tensors(&ckpt, &reference);
    let note = ckpt.notes().join("\n");
    assert!(note.contains("key 'state_dict'"), "{note}");
    assert!(
        note.contains("optimizer_states") && note.contains("another key can be chosen"),
        "{note}"
    );
    // --key picks another dict; the value is the one written (0.5 everywhere).
    let ema = Checkpoint::open_with(
        data("lightning.ckpt"),
        &OpenOptions {
            key: Some("ema".into()),
        },
    )
    .unwrap();
    assert_eq!(ema.tensors().len(), 1);
    let b = ema.tensor_bytes(0).unwrap();
    assert!(b.chunks(4).all(|c| c == 0.5f32.to_le_bytes()));
    // Nested paths and unknown keys.
    let nested = Checkpoint::open_with(
        data("lightning.ckpt"),
        &OpenOptions {
            key: Some("optimizer_states".into()),
        },
    );
    assert!(nested.is_err(), "a list is not a dict of tensors");
    let err = Checkpoint::open_with(
        data("lightning.ckpt"),
        &OpenOptions {
            key: Some("nope".into()),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("no key 'nope'") && err.contains("state_dict"),
        "{err}"
    );
}

#[test]
fn inspect_lists_pickle_tensors() {
    let ckpt = Checkpoint::open(data("torch_zip.pt")).unwrap();
    let rows = htdiag::checkpoint::inspect::inspect(&ckpt);
    let t = rows.iter().find(|r| r.name == "fc1_t.weight").unwrap();
    assert_eq!(
        (t.dtype.as_str(), t.shape.as_slice()),
        ("F32", &[24, 16][..])
    );
    assert_eq!(t.bytes, 24 * 16 * 4);
    assert_eq!(t.file, "torch_zip.pt");
}

#[test]
fn deflated_archive_is_refused_clearly() {
    let e = Checkpoint::open(data("torch_zip_deflated.pt"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("torch_zip_deflated.pt") && e.contains("compressed"),
        "{e}"
    );
}

#[test]
fn cli_key_inspect_and_notes() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_htdiag"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ckpt = data("lightning.ckpt");
    let (table, notes) = run(&["analyze", ckpt.to_str().unwrap(), "--key", "ema"]);
    assert!(
        table.contains("fc1.weight") && !table.contains("fc2.weight"),
        "{table}"
    );
    assert!(notes.contains("key 'ema'"), "{notes}");
    assert!(!notes.contains("--key"), "{notes}");
    // Without --key the library picks `state_dict`; the command line says how to pick another.
    let (_, notes) = run(&["inspect", ckpt.to_str().unwrap()]);
    assert!(
        notes.contains("key 'state_dict'") && notes.contains("choose another dict with --key"),
        "{notes}"
    );
    let gguf = data("model.gguf");
    let (table, notes) = run(&["inspect", gguf.to_str().unwrap()]);
    assert!(
        table.contains("Q4_K") && table.contains("IQ4_NL"),
        "{table}"
    );
    assert!(notes.contains("dequantized"), "{notes}");
}

/// `--key` is part of a resumable run's identity: two dicts of the same layout in one file
/// ("model" and its "ema" copy) give the same files but other tensors, so a folder started
/// with one key is not continued with the other; the same key continues it.
#[test]
fn resume_with_another_key_is_refused() {
    let ckpt = data("two_dicts.pt");
    let open = |key: &str| {
        Checkpoint::open_with(
            &ckpt,
            &OpenOptions {
                key: Some(key.into()),
            },
        )
        .unwrap()
    };
    let (model, ema) = (open("model"), open("ema"));
    let names = |c: &Checkpoint| {
        c.tensors()
            .iter()
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&model), names(&ema), "same layout");
    let (a, b) = (
        htdiag::outdir::CheckpointId::of(&model).unwrap(),
        htdiag::outdir::CheckpointId::of(&ema).unwrap(),
    );
    assert_eq!((&a.files, a.tensors), (&b.files, b.tensors), "same files");
    assert_ne!(a, b, "other tensors: another identity");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = |key: &str, resume: bool| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_htdiag"));
        c.arg("analyze")
            .arg(&ckpt)
            .args(["--key", key, "-q", "--out"])
            .arg(&out);
        if resume {
            c.arg("--resume");
        }
        c.output().unwrap()
    };
    let o = run("model", false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run("ema", true);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "resumed with another key: {e}");
    assert!(
        e.contains("cannot resume") && e.contains("other tensors"),
        "{e}"
    );
    let o = run("model", true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
