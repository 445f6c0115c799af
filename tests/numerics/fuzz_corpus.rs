//! Replays the fuzz corpus of `fuzz/` (and every past crash under `fuzz/regressions/`)
//! through the fuzz target's property (`fuzz/check.rs`), so a fresh clone re-checks them with
//! plain `cargo test`, without nightly or libFuzzer.

#[path = "../../fuzz/check.rs"]
mod check;

use std::path::Path;

/// Runs every file of `dir` through `property`; returns how many there were.
fn replay_with(dir: &Path, property: &dyn Fn(&Path, &[u8])) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let scratch = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut files: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for p in files {
        let data = std::fs::read(&p).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            property(scratch.path(), &data)
        }));
        assert!(
            outcome.is_ok(),
            "fuzz input {} breaks the property",
            p.display()
        );
        n += 1;
    }
    n
}

fn replay(dir: &Path) -> usize {
    replay_with(dir, &|d, data| check::check(d, data))
}

#[test]
fn torch_and_gguf_corpora_hold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (target, file) in [("torch_open", "model.pt"), ("gguf_open", "model.gguf")] {
        let property = |d: &Path, data: &[u8]| check::check_file(d, file, data);
        let n = replay_with(&root.join("corpus").join(target), &property);
        assert!(
            n >= 2,
            "the committed {target} corpus is missing ({n} files)"
        );
        replay_with(&root.join("regressions").join(target), &property);
    }
}

#[test]
fn corpus_and_regressions_hold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = replay(&root.join("corpus/checkpoint_open"));
    assert!(
        corpus >= 6,
        "the committed corpus is missing ({corpus} files)"
    );
    replay(&root.join("regressions"));
}

#[test]
fn seeds_reach_the_interesting_paths() {
    // The hand-written seeds open successfully in each mode (so the fuzzer starts past parsing).
    let scratch = tempfile::tempdir().unwrap();
    let mut single = vec![0u8];
    single.extend(check::fixed_shard());
    check::check(scratch.path(), &single);
    let ck =
        htdiag::checkpoint::Checkpoint::open(scratch.path().join("single.safetensors")).unwrap();
    assert_eq!(ck.tensors().len(), 2);
    let mut idx = vec![1u8];
    idx.extend(br#"{"weight_map":{"w":"a.safetensors","v":"a.safetensors"}}"#);
    check::check(scratch.path(), &idx);
    let ck = htdiag::checkpoint::Checkpoint::open(scratch.path().join("index")).unwrap();
    assert_eq!(ck.tensors()[0].name, "w");
}

#[test]
fn lora_config_corpus_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let property = |d: &Path, data: &[u8]| check::check_adapter_config(d, data);
    let n = replay_with(&root.join("corpus/lora_config"), &property);
    assert!(
        n >= 6,
        "the committed lora_config corpus is missing ({n} files)"
    );
    replay_with(&root.join("regressions/lora_config"), &property);
    // This seed opens with every module usable (its rank_pattern gives v its rank 3).
    let scratch = tempfile::tempdir().unwrap();
    let seed = std::fs::read(root.join("corpus/lora_config/rslora_patterns.json")).unwrap();
    check::check_adapter_config(scratch.path(), &seed);
    let dir = scratch.path().join("adapter");
    let (c, w) = htdiag::checkpoint::peft::find(&dir).unwrap().unwrap();
    let a = htdiag::checkpoint::peft::Adapter::open(&c, &w, &Default::default()).unwrap();
    assert_eq!((a.modules.len(), a.bad.len()), (4, 0), "{:?}", a.bad);
}
