//! A small sharded Llama-shaped checkpoint (examples/gen_llm.rs, ~2 MB in 3 files) analysed
//! whole and in 3 shards: the merge equals the single-machine result (same numbers, same CSV
//! text, same JSON apart from timings), for 1 and several worker threads.

use crate::gen_llm;

use std::path::{Path, PathBuf};
use std::process::Command;

use gen_llm::LlamaConfig;
use htdiag::analyze::{AnalyzeOptions, Silent, analyze};
use htdiag::checkpoint::Checkpoint;
use htdiag::outdir::{analyze_to_dir, merge, same_results};
use htdiag::shard::{ShardSpec, split};
use htdiag::spectrum::Lapack;

/// Llama layout at a small size: 4 blocks, width 128, MLP 344, vocab 1000 (about 2 MB bf16).
fn small() -> LlamaConfig {
    LlamaConfig {
        hidden: 128,
        intermediate: 344,
        layers: 4,
        vocab: 1000,
        kv_dim: 128,
    }
}

fn checkpoint(dir: &Path) -> PathBuf {
    let p = dir.join("ckpt");
    let bytes = gen_llm::generate(&small(), 3, 7, &p).unwrap();
    assert!(bytes > 1_000_000, "{bytes} bytes");
    p
}

fn opts(threads: usize) -> AnalyzeOptions {
    AnalyzeOptions {
        threads,
        ..AnalyzeOptions::default()
    }
}

#[test]
fn three_shards_merge_to_the_single_run() {
    let tmp = tempfile::tempdir().unwrap();
    let path = checkpoint(tmp.path());
    let ckpt = Checkpoint::open(&path).unwrap();
    assert_eq!(ckpt.files().len(), 3);
    let whole = analyze(&ckpt, &opts(2), &Silent, None).unwrap();
    // 28 block matrices + embedding + lm_head, and 9 norm vectors skipped.
    assert_eq!(whole.layers.len(), 30);
    assert_eq!(whole.skipped.len(), 9);
    assert!(
        whole
            .layers
            .iter()
            .all(|l| l.fit.is_some_and(|f| f.alpha > 1.0))
    );

    let parts: Vec<PathBuf> = (0..3)
        .map(|k| tmp.path().join(format!("part{k}")))
        .collect();
    let mut counts = Vec::new();
    for (k, dir) in parts.iter().enumerate() {
        let shard = ShardSpec { index: k, count: 3 };
        let run = analyze_to_dir(
            &ckpt,
            &opts(1),
            &Lapack::default(),
            dir,
            shard,
            false,
            &Silent,
            None,
        )
        .unwrap();
        assert_eq!(run.computed, run.total);
        counts.push(run.total);
    }
    assert_eq!(counts.iter().sum::<usize>(), 30);
    assert!(
        counts.iter().all(|&c| c >= 5),
        "unbalanced parts {counts:?}"
    );
    // Any order of the parts.
    let dirs: Vec<&Path> = [2, 0, 1].iter().map(|&k| parts[k].as_path()).collect();
    let merged = merge(&dirs).unwrap();
    assert!(same_results(&merged, &whole));
    assert_eq!(
        htdiag::report::csv::to_csv(&merged),
        htdiag::report::csv::to_csv(&whole)
    );
    // ... and the timings are the only difference: the parts' wall times add up.
    assert!(merged.timings.wall > 0.0);

    // Thread count does not change results.
    let one = analyze(&ckpt, &opts(1), &Silent, None).unwrap();
    let three = analyze(&ckpt, &opts(3), &Silent, None).unwrap();
    assert!(same_results(&one, &three) && same_results(&one, &whole));
}

#[test]
fn merge_refuses_incomplete_or_mixed_parts() {
    let tmp = tempfile::tempdir().unwrap();
    let path = checkpoint(tmp.path());
    let ckpt = Checkpoint::open(&path).unwrap();
    let run = |dir: &Path, k: usize, o: &AnalyzeOptions| {
        analyze_to_dir(
            &ckpt,
            o,
            &Lapack::default(),
            dir,
            ShardSpec { index: k, count: 2 },
            false,
            &Silent,
            None,
        )
        .unwrap()
    };
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    run(&a, 0, &opts(1));
    let missing = merge(&[a.as_path()]).unwrap_err().to_string();
    assert!(missing.contains("part 1/2 is missing"), "{missing}");
    let twice = merge(&[a.as_path(), a.as_path()]).unwrap_err().to_string();
    assert!(twice.contains("given twice"), "{twice}");
    let other = AnalyzeOptions {
        mp_fit: true,
        ..opts(1)
    };
    run(&c, 1, &other);
    let mixed = merge(&[a.as_path(), c.as_path()]).unwrap_err().to_string();
    assert!(mixed.contains("options differs"), "{mixed}");
    run(&b, 1, &opts(1));
    // Remove one finished row: the part is unfinished.
    let layers = b.join("layers");
    let victim = std::fs::read_dir(&layers)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(victim).unwrap();
    let unfinished = merge(&[a.as_path(), b.as_path()]).unwrap_err().to_string();
    assert!(
        unfinished.contains("unfinished") && unfinished.contains("resume that part"),
        "{unfinished}"
    );
    // The command line adds the flag that finishes the part.
    let out = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .arg("merge")
        .args([&a, &b])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("resume that part")
            && err.contains(&format!("finish {}", b.display()))
            && err.contains("again with --resume"),
        "{err}"
    );
    // A folder that holds an analysis is continued only with --resume.
    let out = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .arg("analyze")
        .arg(&path)
        .args(["-q", "--out"])
        .arg(&a)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already holds an analysis; resume it")
            && err.contains("(pass --resume to continue it)"),
        "{err}"
    );
}

#[test]
fn split_is_deterministic_balanced_and_keeps_tensors_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = Checkpoint::open(checkpoint(tmp.path())).unwrap();
    let planned = htdiag::plan::plan(ckpt.tensors(), &Default::default());
    for n in 1..=5 {
        let parts = split(&planned.layers, n);
        assert_eq!(parts, split(&planned.layers, n));
        let mut load = vec![0.0; n];
        for (p, &k) in planned.layers.iter().zip(&parts) {
            load[k] += htdiag::analyze::row_cost(p);
        }
        let biggest = planned
            .layers
            .iter()
            .map(htdiag::analyze::row_cost)
            .fold(0.0, f64::max);
        let (lo, hi) = load
            .iter()
            .fold((f64::MAX, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
        // LPT: the spread between parts is at most one tensor's cost.
        assert!(hi - lo <= biggest + 1e-9, "n = {n}: loads {load:?}");
    }
}

#[test]
fn cli_shards_and_merge_give_the_same_csv_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let path = checkpoint(tmp.path());
    let exe = env!("CARGO_BIN_EXE_htdiag");
    let ok = |args: &[&str]| {
        let out = Command::new(exe).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let t = tmp.path();
    let p = path.to_str().unwrap();
    let (json, csv) = (t.join("whole.json"), t.join("whole.csv"));
    ok(&[
        "analyze",
        p,
        "-q",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    let mut dirs = Vec::new();
    for k in 0..3 {
        let d = t.join(format!("p{k}"));
        ok(&[
            "analyze",
            p,
            "-q",
            "-j",
            "1",
            "--shard",
            &format!("{k}/3"),
            "--out",
            d.to_str().unwrap(),
        ]);
        dirs.push(d.to_str().unwrap().to_string());
    }
    let (mjson, mcsv) = (t.join("merged.json"), t.join("merged.csv"));
    let mut args = vec![
        "merge",
        "-q",
        "--json",
        mjson.to_str().unwrap(),
        "--csv",
        mcsv.to_str().unwrap(),
    ];
    args.extend(dirs.iter().map(String::as_str));
    ok(&args);
    assert_eq!(std::fs::read(&csv).unwrap(), std::fs::read(&mcsv).unwrap());
    // JSON text equal once the timings objects are blanked.
    let strip = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap();
        let re = regex::Regex::new(r#""timings": \{[^}]*\}"#).unwrap();
        re.replace_all(&text, "\"timings\": {}").into_owned()
    };
    assert_eq!(strip(&json), strip(&mjson));
    assert!(strip(&json).len() < std::fs::read_to_string(&json).unwrap().len());
}
