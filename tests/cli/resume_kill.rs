//! Interrupting `htdiag analyze --out DIR` (SIGKILL, and Ctrl-C = SIGINT) midway and finishing
//! it with `--resume`: nothing already saved is recomputed, and the result equals an
//! uninterrupted run's (same numbers apart from timings, same CSV text).

use crate::common;
use crate::gen_llm;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::htdiag;
use gen_llm::LlamaConfig;
use htdiag::analyze::{AnalyzeOptions, Silent, analyze};
use htdiag::checkpoint::Checkpoint;
use htdiag::outdir::same_results;
use htdiag::report::load::read_result;

/// Wide enough that one row takes tens of milliseconds, so a run lasts seconds on one thread.
fn config() -> LlamaConfig {
    LlamaConfig {
        hidden: 640,
        intermediate: 1720,
        layers: 3,
        vocab: 1200,
        kv_dim: 640,
    }
}

fn start(ckpt: &Path, out: &Path) -> Child {
    htdiag()
        .args(["analyze", ckpt.to_str().unwrap(), "-q", "-j", "1", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Inode of every finished row file (an atomic rewrite would change it).
fn rows(out: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(out.join("layers"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().unwrap().ino(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until at least `n` rows are saved (or the run ends).
fn wait_rows(child: &mut Child, out: &Path, n: usize) {
    let t = Instant::now();
    while rows(out).len() < n && t.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn setup() -> (tempfile::TempDir, PathBuf, htdiag::result::AnalysisResult) {
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = tmp.path().join("ckpt");
    gen_llm::generate(&config(), 2, 3, &ckpt).unwrap();
    let reference = analyze(
        &Checkpoint::open(&ckpt).unwrap(),
        &AnalyzeOptions::default(),
        &Silent,
        None,
    )
    .unwrap();
    (tmp, ckpt, reference)
}

/// Resumes, checks nothing saved was recomputed and the result equals `reference`.
fn resume_and_check(ckpt: &Path, out: &Path, reference: &htdiag::result::AnalysisResult) {
    let before = rows(out);
    let total = reference.layers.len();
    assert!(
        !before.is_empty() && before.len() < total,
        "interrupted at {} of {total}",
        before.len()
    );
    let csv = out.with_extension("csv");
    let res = htdiag()
        .args(["analyze", ckpt.to_str().unwrap(), "-q", "--resume", "--out"])
        .arg(out)
        .arg("--csv")
        .arg(&csv)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    let reused = format!("{} from earlier sessions", before.len());
    assert!(stderr.contains(&reused), "{stderr}");
    let after = rows(out);
    assert_eq!(after.len(), total);
    for (name, ino) in &before {
        assert_eq!(after[name], *ino, "{name} was rewritten");
    }
    let resumed = read_result(&out.join("result.json")).unwrap();
    assert!(same_results(&resumed, reference));
    let mut want = reference.clone();
    want.source = resumed.source.clone();
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        htdiag::report::csv::to_csv(&want)
    );
    // No temp files left behind.
    assert!(
        std::fs::read_dir(out.join("layers"))
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with('.'))
    );
}

#[test]
fn killed_run_resumes_without_recomputing() {
    let (tmp, ckpt, reference) = setup();
    let out = tmp.path().join("out");
    let mut child = start(&ckpt, &out);
    wait_rows(&mut child, &out, 1);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    resume_and_check(&ckpt, &out, &reference);
    // A different checkpoint is refused.
    let other = tmp.path().join("other");
    gen_llm::generate(&config(), 2, 4, &other).unwrap();
    let res = htdiag()
        .args([
            "analyze",
            other.to_str().unwrap(),
            "-q",
            "--resume",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        !res.status.success() && stderr.contains("a different checkpoint"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_resumes() {
    let (tmp, ckpt, reference) = setup();
    let out = tmp.path().join("out");
    let mut child = start(&ckpt, &out);
    wait_rows(&mut child, &out, 1);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let res = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("--resume") && stderr.contains("layers saved"),
        "{stderr}"
    );
    resume_and_check(&ckpt, &out, &reference);
}
