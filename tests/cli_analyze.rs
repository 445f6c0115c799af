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
