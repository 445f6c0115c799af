//! `htdiag analyze` as a user runs it: the demo checkpoint, output files, and fatal errors
//! (non-zero exit, a message naming the file, no half-written outputs).

use std::process::Command;

fn htdiag() -> Command {
    Command::new(env!("CARGO_BIN_EXE_htdiag"))
}

#[test]
fn demo_checkpoint_with_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (json, csv) = (dir.path().join("r.json"), dir.path().join("r.csv"));
    let out = htdiag()
        .args(["analyze", "--json"])
        .arg(&json)
        .arg("--csv")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    for name in ["fc1.weight", "fc2.weight", "fc3.weight"] {
        assert!(table.contains(name), "{table}");
    }
    assert!(table.contains("3 tensors skipped"), "{table}");
    let result = htdiag::report::load::read_result(&json).unwrap();
    assert_eq!(result.layers.len(), 3);
    assert!(result.layers.iter().all(|l| l.fit.unwrap().is_valid()));
    // fc1 is 300 x 784: 300 eigenvalues, stored in the JSON for later reports.
    assert_eq!(result.layers[0].eigenvalues.len(), 300);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("layer_id,name,layer_type"));
    assert_eq!(lines.len(), 1 + 6, "3 analysed + 3 skipped rows");
}

#[test]
fn fatal_errors_exit_non_zero_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");

    let out = htdiag()
        .args(["analyze", "/no/such/model.safetensors", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/no/such/model.safetensors"), "{err}");
    assert!(!json.exists());

    // A truncated file: the header promises more data than there is.
    let bad = dir.path().join("bad.safetensors");
    let header = br#"{"w":{"dtype":"F32","shape":[64,64],"data_offsets":[0,16384]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0u8; 100]);
    std::fs::write(&bad, bytes).unwrap();
    let out = htdiag()
        .arg("analyze")
        .arg(&bad)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.safetensors") && err.contains("'w'"),
        "{err}"
    );
    assert!(!json.exists());
    // No temp file left behind either.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "only bad.safetensors");
}

/// Writes a safetensors file of F32 matrices `(name, rows, cols)`, in the order given, with
/// deterministic pseudo-random entries (`nan` fills one tensor with NaN).
fn write_st(path: &std::path::Path, tensors: &[(&str, usize, usize)], nan: Option<&str>) {
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for (name, r, c) in tensors {
        let start = data.len();
        for _ in 0..r * c {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
            // A heavy-ish tail: u / (|u| + 0.05)^0.5 spreads the singular values.
            let v = if nan == Some(*name) {
                f32::NAN
            } else {
                (u / (u.abs() + 0.05).sqrt()) as f32
            };
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": [r, c], "data_offsets": [start, data.len()]}),
        );
    }
    let text = serde_json::to_string(&header).unwrap();
    let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes.extend_from_slice(&data);
    std::fs::write(path, bytes).unwrap();
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    htdiag().args(args).output().unwrap()
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

#[test]
fn dash_writes_to_stdout_and_moves_the_table_to_stderr() {
    let out = run(&[os("analyze"), os("--csv"), os("-")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("layer_id,name,layer_type"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1 + 6);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fc1.weight") && stderr.contains("tensors skipped"),
        "{stderr}"
    );
    assert!(!std::path::Path::new("-").exists());
    // Two outputs on stdout would interleave: a usage error (status 2).
    let out = run(&[os("analyze"), os("--csv"), os("-"), os("--json"), os("-")]);
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn symlinks_stay_links_and_dev_stdout_is_written_directly() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.csv");
    let link = dir.path().join("link.csv");
    std::fs::write(&real, "old").unwrap();
    std::os::unix::fs::symlink("real.csv", &link).unwrap();
    let out = run(&[os("analyze"), os("-q"), os("--csv"), link.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.starts_with("layer_id,name"), "{text}");
    // /dev/stdout (a link to /proc/self/fd/1, here a pipe) is written, not replaced.
    let out = run(&[os("analyze"), os("-q"), os("--json"), os("/dev/stdout")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["layers"].as_array().unwrap().len(), 3);
}

#[test]
fn output_paths_are_checked_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    // Missing folders are created.
    let deep = dir.path().join("a/b/r.json");
    let out = run(&[os("analyze"), os("-q"), os("--json"), deep.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(deep.is_file());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("wrote"), "quiet: {stderr}");
    // A parent that is a file: refused up front, naming the flag; nothing analysed.
    let file = dir.path().join("plain.txt");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("r.csv");
    let ckpt = dir.path().join("m.safetensors");
    write_st(&ckpt, &[("w", 32, 24)], None);
    let out = run(&[
        os("analyze"),
        ckpt.as_os_str(),
        os("--csv"),
        bad.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--csv") && err.contains("plain.txt"), "{err}");
    assert!(out.stdout.is_empty(), "no table: the analysis never ran");
    // Without -q, the files written are announced.
    let r = dir.path().join("r.csv");
    let out = run(&[os("analyze"), ckpt.as_os_str(), os("--csv"), r.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrote") && err.contains("r.csv"), "{err}");
}

/// Row names of the table (second column), in printed order.
fn table_names(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
        .collect()
}

#[test]
fn rows_are_in_natural_order_unless_asked_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("m.safetensors");
    let names = ["layers.10.w", "layers.2.w", "layers.1.w"];
    write_st(
        &ckpt,
        &[(names[0], 24, 16), (names[1], 24, 16), (names[2], 24, 16)],
        None,
    );
    let json = dir.path().join("r.json");
    let out = run(&[
        os("analyze"),
        ckpt.as_os_str(),
        os("--json"),
        json.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        table_names(&out.stdout),
        ["layers.1.w", "layers.2.w", "layers.10.w"]
    );
    // layer_id stays the checkpoint position.
    let r = htdiag::report::load::read_result(&json).unwrap();
    let ids: Vec<usize> = r.layers.iter().map(|l| l.layer_id).collect();
    assert_eq!(ids, [2, 1, 0]);
    let out = run(&[os("analyze"), ckpt.as_os_str(), os("--order"), os("file")]);
    assert_eq!(table_names(&out.stdout), names);
    let out = run(&[os("analyze"), ckpt.as_os_str(), os("--order"), os("name")]);
    assert_eq!(
        table_names(&out.stdout),
        ["layers.1.w", "layers.10.w", "layers.2.w"]
    );
}

#[test]
fn a_filter_that_matches_nothing_is_a_usage_error() {
    let out = run(&[os("analyze"), os("--layers"), os("^attn")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"^attn\"") && err.contains("fc1.weight"),
        "{err}"
    );
}

#[test]
fn skipped_tensors_are_counted_unless_listed() {
    let out = run(&[os("analyze")]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("3 tensors skipped: 3 rank-1 (bias/norm); --show-skipped lists them"),
        "{table}"
    );
    assert!(!table.contains("fc1.bias"), "{table}");
    let out = run(&[os("analyze"), os("--show-skipped")]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("fc1.bias") && table.contains("rank-1"),
        "{table}"
    );
}

#[test]
fn a_folder_of_unrelated_models_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_st(
        &dir.path().join("resnet.safetensors"),
        &[("conv.w", 16, 16)],
        None,
    );
    write_st(
        &dir.path().join("bert.safetensors"),
        &[("encoder.q", 16, 16)],
        None,
    );
    let out = run(&[os("analyze"), dir.path().as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("separate checkpoints") && err.contains("one by one"),
        "{err}"
    );
    // Shards of one model (shared name patterns) are one checkpoint.
    let shards = tempfile::tempdir().unwrap();
    write_st(
        &shards.path().join("part-a.safetensors"),
        &[("layers.0.w", 16, 16)],
        None,
    );
    write_st(
        &shards.path().join("part-b.safetensors"),
        &[("layers.1.w", 16, 16)],
        None,
    );
    let out = run(&[os("analyze"), shards.path().as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mistakes_get_a_next_step() {
    let dir = tempfile::tempdir().unwrap();
    // A PyTorch zip checkpoint.
    let pt = dir.path().join("model.pt");
    std::fs::write(
        &pt,
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00archive/data.pklxxxxxxxxxxxxxxxx",
    )
    .unwrap();
    let out = run(&[os("analyze"), pt.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("this is a PyTorch checkpoint (zip pickle"),
        "{err}"
    );
    // A GGUF file.
    let gguf = dir.path().join("model.gguf");
    std::fs::write(
        &gguf,
        b"GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    )
    .unwrap();
    let err = String::from_utf8_lossy(&run(&[os("analyze"), gguf.as_os_str()]).stderr).into_owned();
    assert!(err.contains("GGUF"), "{err}");
    // A missing file: the OS error once.
    let out = run(&[os("analyze"), os("/no/such/model.safetensors")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    // --output is not a flag of analyze: point to --json/--csv, status 2.
    let out = run(&[os("analyze"), os("--output"), os("r.json")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--json") && err.contains("--csv"), "{err}");
    // The British spelling works.
    let out = run(&[os("analyse"), os("-q")]);
    assert!(out.status.success());
}

#[test]
fn error_rows_exit_zero_unless_strict() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("m.safetensors");
    write_st(
        &ckpt,
        &[("good.w", 24, 16), ("bad.w", 24, 16)],
        Some("bad.w"),
    );
    let out = run(&[os("analyze"), ckpt.as_os_str()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[os("analyze"), ckpt.as_os_str(), os("--strict")]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--strict") && err.contains("1 rows"), "{err}");
}

#[test]
fn every_subcommand_has_examples_in_its_help() {
    for sub in [
        "analyze",
        "inspect",
        "compare",
        "report",
        "merge",
        "env",
        "train",
        "regularize",
    ] {
        let out = run(&[os(sub), os("--help")]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example"),
            "{sub} --help has no examples:\n{help}"
        );
    }
    let help = String::from_utf8_lossy(&run(&[os("--help")]).stdout).into_owned();
    assert!(
        help.contains("Exit status") && help.contains("3 with --strict"),
        "{help}"
    );
}

#[test]
fn env_lists_gpu_adapters_without_driver_noise() {
    let out = htdiag()
        .arg("env")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("GPU adapters (wgpu)"), "{stdout}");
    assert!(stdout.contains("one BLAS thread inside each"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
}

/// A fit on fewer than 20 eigenvalues is shown as low-confidence in the terminal table (as in
/// the report), keeps WeightWatcher's warning in the JSON, and is left out of the over- and
/// under-trained counts of the summary, the terminal line and the report's cards.
#[test]
fn small_spectra_are_low_confidence_not_over_trained() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("m.safetensors");
    write_st(
        &ckpt,
        &[("big.weight", 200, 60), ("small.weight", 40, 12)],
        None,
    );
    let json = dir.path().join("r.json");
    let html = dir.path().join("r.html");
    let out = run(&[
        os("analyze"),
        ckpt.as_os_str(),
        os("--json"),
        json.as_os_str(),
        os("--report"),
        html.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    let small = table.lines().find(|l| l.contains("small.weight")).unwrap();
    assert!(small.contains("low confidence (12 eigenvalues)"), "{small}");
    let big = table.lines().find(|l| l.contains("big.weight")).unwrap();
    assert!(!big.contains("low confidence"), "{big}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = r["layers"].as_array().unwrap();
    let count = |confident: bool, w: &str| {
        rows.iter()
            .filter(|l| (l["num_evals"].as_u64().unwrap() >= 20) == confident)
            .filter(|l| l["metrics"]["warning"] == w)
            .count() as u64
    };
    let s = &r["summary"];
    assert_eq!(s["low_confidence"], 1);
    assert_eq!(
        s["over_trained"].as_u64().unwrap(),
        count(true, "over-trained")
    );
    assert_eq!(
        s["under_trained"].as_u64().unwrap(),
        count(true, "under-trained")
    );
    assert!(table.contains("1 low-confidence fits"), "{table}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("low-confidence fits (not counted above)"));
}

/// The size flags take their defaults from the library's `PlanOptions::default()` (one source
/// of truth) and `--help` shows them.
#[test]
fn help_shows_the_library_defaults() {
    let d = htdiag::plan::PlanOptions::default();
    let f = htdiag::fit::FitOptions::default();
    let help = String::from_utf8_lossy(&run(&[os("analyze"), os("--help")]).stdout).into_owned();
    let shown = |flag: &str| {
        let after = help
            .split(&format!("{flag} <"))
            .nth(1)
            .unwrap_or_else(|| panic!("{flag}"));
        let at = after.find("[default: ").unwrap() + "[default: ".len();
        after[at..].split(']').next().unwrap().to_string()
    };
    assert_eq!(shown("--min-evals"), d.min_evals.to_string());
    assert_eq!(shown("--max-evals"), d.max_evals.to_string());
    assert_eq!(shown("--max-n"), d.max_n.to_string());
    assert_eq!(f.small_n, htdiag::fit::SmallN::Ww076);
    assert_eq!(shown("--small-n"), "ww076");
    assert_eq!(f.fix_fingers, htdiag::fit::FixFingers::None);
    assert_eq!(shown("--fix-fingers"), "none");
}
