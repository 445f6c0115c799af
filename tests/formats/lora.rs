//! PEFT LoRA adapters: adapters written here in PEFT's layout (tensor names, shapes and
//! `adapter_config.json` as PEFT saves them), whose update spectra are known in closed form
//! (B with orthogonal columns and A with orthogonal rows: singular values `s |b_k| |a_k|`)
//! and checked against the dense `s B A` through the ordinary eigensolver; rsLoRA and the
//! rank/alpha patterns; the adapter file given directly; `.bin` adapters; `--base` with a
//! known count of new directions; and the bad-input catalogue.

use htdiag::analyze::{AnalyzeOptions, Silent, analyze_adapter, analyze_merged};
use htdiag::checkpoint::peft::{Adapter, find};
use htdiag::checkpoint::{Checkpoint, OpenOptions};
use htdiag::compare::compare;
use htdiag::matrices::MatrixRef;
use htdiag::result::{AnalysisResult, LayerResult, LayerStatus, LayerType};
use htdiag::spectrum::{Eigensolver, Lapack};
use std::path::{Path, PathBuf};

/// A row-major f32 matrix.
struct Mat {
    rows: usize,
    cols: usize,
    v: Vec<f32>,
}

impl Mat {
    fn zeros(rows: usize, cols: usize) -> Self {
        Mat {
            rows,
            cols,
            v: vec![0.0; rows * cols],
        }
    }
    fn set(&mut self, r: usize, c: usize, x: f64) {
        self.v[r * self.cols + c] = x as f32;
    }
    fn get(&self, r: usize, c: usize) -> f64 {
        self.v[r * self.cols + c] as f64
    }
}

/// Entry `i` of the `k`-th orthonormal DCT-II basis vector of length `n`.
fn dct(n: usize, k: usize, i: usize) -> f64 {
    let c = if k == 0 {
        (1.0 / n as f64).sqrt()
    } else {
        (2.0 / n as f64).sqrt()
    };
    c * (std::f64::consts::PI * (i as f64 + 0.5) * k as f64 / n as f64).cos()
}

/// `B` (out x r) with orthogonal columns of lengths `b`, `A` (r x in) with orthogonal rows
/// of lengths `a`.
fn factors(out: usize, inp: usize, b: &[f64], a: &[f64]) -> (Mat, Mat) {
    let r = b.len();
    let (mut bm, mut am) = (Mat::zeros(out, r), Mat::zeros(r, inp));
    for k in 0..r {
        for i in 0..out {
            bm.set(i, k, b[k] * dct(out, k + 1, i));
        }
        for j in 0..inp {
            am.set(k, j, a[k] * dct(inp, k + 2, j));
        }
    }
    (bm, am)
}

/// A safetensors file of F32 tensors, in the given order.
fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, &[f32])]) {
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    for (name, shape, v) in tensors {
        let start = data.len();
        data.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let h = serde_json::to_string(&header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h.as_bytes());
    out.extend(data);
    std::fs::write(path, out).unwrap();
}

/// `adapter_config.json` as PEFT writes it (keys sorted, every field present).
fn config(r: usize, alpha: f64, rslora: bool, rank: &str, alpha_pat: &str) -> String {
    format!(
        r#"{{
  "alpha_pattern": {alpha_pat},
  "auto_mapping": null,
  "base_model_name_or_path": "tiny-test-model",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layers_pattern": null,
  "layers_to_transform": null,
  "lora_alpha": {alpha},
  "lora_dropout": 0.05,
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": {r},
  "rank_pattern": {rank},
  "revision": null,
  "target_modules": ["q_proj", "v_proj"],
  "task_type": "CAUSAL_LM",
  "use_dora": false,
  "use_rslora": {rslora}
}}"#
    )
}

/// PEFT's saved name of a factor of `module`.
fn name(module: &str, factor: &str) -> String {
    format!("base_model.model.{module}.{factor}.weight")
}

/// Writes an adapter folder: config text and `(module, B, A)` modules.
fn write_adapter(dir: &Path, cfg: &str, modules: &[(&str, &Mat, &Mat)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("adapter_config.json"), cfg).unwrap();
    let mut t = Vec::new();
    for (m, b, a) in modules {
        t.push((name(m, "lora_A"), vec![a.rows, a.cols], &a.v[..]));
        t.push((name(m, "lora_B"), vec![b.rows, b.cols], &b.v[..]));
    }
    let p = dir.join("adapter_model.safetensors");
    write_safetensors(&p, &t);
    p
}

fn open(path: &Path) -> Adapter {
    let (cfg, weights) = find(path).unwrap().expect("an adapter");
    Adapter::open(&cfg, &weights, &OpenOptions::default()).unwrap()
}

fn analyse(path: &Path) -> AnalysisResult {
    analyze_adapter(&open(path), &AnalyzeOptions::default(), &Silent, None).unwrap()
}

fn row<'a>(r: &'a AnalysisResult, module: &str) -> &'a LayerResult {
    r.layers
        .iter()
        .find(|l| l.name == module)
        .unwrap_or_else(|| panic!("no row {module}: {:?}", r.layers))
}

/// The dense `s B A`'s eigenvalues of `W^T W` through the Gram eigensolver, descending, the
/// top `k`.
fn dense_top(b: &Mat, a: &Mat, s: f64, k: usize) -> Vec<f64> {
    let mut d = vec![0.0; b.rows * a.cols];
    for i in 0..b.rows {
        for j in 0..a.cols {
            d[i * a.cols + j] = s * (0..b.cols).map(|q| b.get(i, q) * a.get(q, j)).sum::<f64>();
        }
    }
    let mut ev = Lapack::default()
        .eigenvalues(&MatrixRef::from_f64(&d, b.rows, a.cols))
        .unwrap();
    ev.reverse();
    ev.truncate(k);
    ev
}

fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1e-12),
            "{got:?} vs {want:?}"
        );
    }
}

#[test]
fn update_spectrum_is_the_closed_form_and_the_dense_one() {
    let dir = tempfile::tempdir().unwrap();
    let b: Vec<f64> = (0..12).map(|k| 1.0 + 0.25 * k as f64).collect();
    let a: Vec<f64> = (0..12).map(|k| 2.0 - 0.1 * k as f64).collect();
    let (bm, am) = factors(40, 30, &b, &a);
    let (b4, a4) = factors(24, 16, &b[..4], &a[..4]);
    let cfg = config(12, 24.0, false, r#"{"small": 4}"#, "{}");
    let p = dir.path().join("ad");
    write_adapter(
        &p,
        &cfg,
        &[("model.big", &bm, &am), ("model.small", &b4, &a4)],
    );
    let r = analyse(&p);
    assert_eq!(r.layers.len(), 2);

    let big = row(&r, "model.big");
    assert_eq!(big.layer_type, LayerType::Lora);
    let info = big.adapter.as_ref().unwrap();
    assert_eq!((info.rank, info.scale, info.merged), (12, 2.0, false));
    // Closed form: singular values s |b_k| |a_k|, eigenvalues their squares.
    let mut want: Vec<f64> = b
        .iter()
        .zip(&a)
        .map(|(x, y)| (2.0 * x * y).powi(2))
        .collect();
    want.sort_by(f64::total_cmp);
    close(&big.eigenvalues, &want, 1e-5); // f32 factors
    // The dense product through the Gram eigensolver: the same r values.
    let mut dense = dense_top(&bm, &am, 2.0, 12);
    dense.reverse();
    close(&big.eigenvalues, &dense, 1e-9);
    let m = big.metrics.as_ref().unwrap();
    let total: f64 = want.iter().sum();
    assert!((m.norm - total).abs() < 1e-5 * total); // squared Frobenius norm
    assert!((m.spectral_norm - want[11]).abs() < 1e-5 * want[11]);
    assert!((m.stable_rank - total / want[11]).abs() < 1e-5);
    assert_eq!((big.num_evals, big.n, big.m), (12, 40, 30));
    assert!(big.fit.is_some(), "12 eigenvalues >= min_evals 8: fitted");

    // Rank 4 (rank_pattern) < min_evals: analysed, no fit, not a failure.
    let small = row(&r, "model.small");
    assert_eq!(small.adapter.as_ref().unwrap().rank, 4);
    assert_eq!(
        (small.status, small.fit, small.num_evals),
        (LayerStatus::Success, None, 4)
    );
    assert!(small.message.as_deref().unwrap().contains("min_evals 8"));
    let mut want4: Vec<f64> = b[..4]
        .iter()
        .zip(&a[..4])
        .map(|(x, y)| (24.0 / 4.0 * x * y).powi(2))
        .collect();
    want4.sort_by(f64::total_cmp);
    close(&small.eigenvalues, &want4, 1e-5);
    assert_eq!(
        r.summary.failed_fits,
        usize::from(big.status == LayerStatus::Failed)
    );
    // The CSV marks both rows.
    let csv = htdiag::report::csv::to_csv(&r);
    assert_eq!(csv.lines().filter(|l| l.contains(",lora,")).count(), 2);
    assert!(csv.lines().next().unwrap().contains("lora_rank"));
}

#[test]
fn rslora_and_patterns_set_each_scale() {
    let dir = tempfile::tempdir().unwrap();
    let (b, a) = ([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 0.5, 0.5]);
    let (bm, am) = factors(20, 18, &b, &a);
    let (b2, a2) = factors(20, 18, &b[..2], &a[..2]);
    // r = 4, alpha 8, rsLoRA: s = 8 / 2 = 4; layers.1.q_proj has alpha 32 (s = 16); v_proj has
    // rank 2 (s = 8 / sqrt 2).
    let cfg = config(
        4,
        8.0,
        true,
        r#"{"v_proj": 2}"#,
        r#"{"layers.1.self_attn.q_proj": 32}"#,
    );
    let p = dir.path().join("ad");
    write_adapter(
        &p,
        &cfg,
        &[
            ("model.layers.0.self_attn.q_proj", &bm, &am),
            ("model.layers.1.self_attn.q_proj", &bm, &am),
            ("model.layers.0.self_attn.v_proj", &b2, &a2),
        ],
    );
    let r = analyse(&p);
    for (module, bs, as_, s) in [
        ("model.layers.0.self_attn.q_proj", &b[..], &a[..], 4.0),
        ("model.layers.1.self_attn.q_proj", &b[..], &a[..], 16.0),
        (
            "model.layers.0.self_attn.v_proj",
            &b[..2],
            &a[..2],
            8.0 / 2f64.sqrt(),
        ),
    ] {
        let l = row(&r, module);
        assert!(
            (l.adapter.as_ref().unwrap().scale - s).abs() < 1e-12,
            "{module}"
        );
        let mut want: Vec<f64> = bs
            .iter()
            .zip(as_)
            .map(|(x, y)| (s * x * y).powi(2))
            .collect();
        want.sort_by(f64::total_cmp);
        close(&l.eigenvalues, &want, 1e-5);
    }
    assert_eq!(r.options["adapter"]["use_rslora"], true);
}

#[test]
fn the_adapter_file_finds_its_config_and_the_cli_marks_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (bm, am) = factors(16, 12, &[1.0, 2.0], &[3.0, 1.0]);
    let file = write_adapter(
        &dir.path().join("ad"),
        &config(2, 4.0, false, "{}", "{}"),
        &[("model.q", &bm, &am)],
    );
    let (cfg, weights) = find(&file).unwrap().unwrap();
    assert_eq!(cfg, dir.path().join("ad/adapter_config.json"));
    assert_eq!(weights, file);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args(["analyze", file.to_str().unwrap(), "--csv", "-", "-q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let line = csv.lines().find(|l| l.contains("model.q")).unwrap();
    assert!(
        line.contains(",lora,") && line.contains(",success,"),
        "{csv}"
    );
    // Singular values 2 * (1*3, 2*1) = (6, 4): lambda_max 36, norm 52.
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let cells: Vec<&str> = line.split(',').collect();
    let value = |col: &str| -> f64 {
        let i = header.iter().position(|h| *h == col).unwrap();
        cells[i].parse().unwrap()
    };
    assert!((value("lambda_max") - 36.0).abs() < 1e-4, "{line}");
    assert!((value("norm") - 52.0).abs() < 1e-4, "{line}");
    assert_eq!(value("lora_rank"), 2.0);
    let table = std::process::Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args(["analyze", dir.path().join("ad").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("lora") && text.contains("no fit"), "{text}");
}

#[test]
fn a_bin_adapter_reads_like_its_safetensors_twin() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/formats");
    let bin = analyse(&data.join("lora_bin"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        data.join("lora_bin/adapter_config.json"),
        dir.path().join("adapter_config.json"),
    )
    .unwrap();
    std::fs::copy(
        data.join("lora_reference.safetensors"),
        dir.path().join("adapter_model.safetensors"),
    )
    .unwrap();
    let st = analyse(dir.path());
    assert_eq!(bin.layers.len(), 4);
    let csv = htdiag::report::csv::to_csv;
    assert_eq!(csv(&bin), csv(&st));
    // v_proj has rank 4 from rank_pattern, q_proj the config's 8.
    assert_eq!(row(&bin, "model.layers.1.self_attn.v_proj").num_evals, 4);
    assert_eq!(row(&bin, "model.layers.1.self_attn.q_proj").num_evals, 8);
}

/// `W0 = sum_j sigma_j e_j f_j^T` (`sigma_j = j + 1`, 16 x 12): its left singular vectors
/// are e_0..e_11.
fn base_weight() -> Mat {
    let mut w = Mat::zeros(16, 12);
    for j in 0..12 {
        w.set(j, j, (j + 1) as f64);
    }
    w
}

#[test]
fn merged_with_base_counts_new_directions() {
    let dir = tempfile::tempdir().unwrap();
    // "new": s B A = 30 e_13 f_0^T + 25 e_14 f_1^T (s = 1). The merged weight's top two left
    // vectors are (e_0 + 30 e_13)/sqrt(901) and (2 e_1 + 25 e_14)/sqrt(629): largest cosines
    // with W0's 1/sqrt(901) and 2/sqrt(629), both new.
    let (mut bn, mut an) = (Mat::zeros(16, 2), Mat::zeros(2, 12));
    bn.set(13, 0, 30.0);
    bn.set(14, 1, 25.0);
    an.set(0, 0, 1.0);
    an.set(1, 1, 1.0);
    // "old": s B A = 5 e_11 f_11^T + 0.5 e_10 f_10^T: the top two stay e_11 and e_10.
    let (mut bo, mut ao) = (Mat::zeros(16, 2), Mat::zeros(2, 12));
    bo.set(11, 0, 5.0);
    bo.set(10, 1, 0.5);
    ao.set(0, 11, 1.0);
    ao.set(1, 10, 1.0);
    let p = dir.path().join("ad");
    write_adapter(
        &p,
        &config(2, 2.0, false, "{}", "{}"),
        &[("model.new", &bn, &an), ("model.old", &bo, &ao)],
    );
    let w0 = base_weight();
    let base = dir.path().join("base.safetensors");
    let bias = [0.5f32; 16];
    write_safetensors(
        &base,
        &[
            ("model.new.weight".into(), vec![16, 12], &w0.v[..]),
            ("model.new.bias".into(), vec![16], &bias[..]),
            ("model.old.weight".into(), vec![16, 12], &w0.v[..]),
        ],
    );
    let adapter = open(&p);
    let opts = AnalyzeOptions::default();
    let ma = analyze_merged(
        &adapter,
        &Checkpoint::open(&base).unwrap(),
        &opts,
        &Silent,
        None,
    )
    .unwrap();
    assert_eq!(ma.merged.layers.len(), 2);
    let new = row(&ma.merged, "model.new.weight");
    let nd = new
        .adapter
        .as_ref()
        .unwrap()
        .new_directions
        .as_ref()
        .unwrap();
    assert_eq!((nd.k, nd.count, nd.threshold), (2, 2, 0.5));
    close(
        &nd.max_cosines,
        &[1.0 / 901f64.sqrt(), 2.0 / 629f64.sqrt()],
        1e-6,
    );
    let old = row(&ma.merged, "model.old.weight");
    let od = old
        .adapter
        .as_ref()
        .unwrap()
        .new_directions
        .as_ref()
        .unwrap();
    assert_eq!(od.count, 0);
    close(&od.max_cosines, &[1.0, 1.0], 1e-9);
    // Merged spectra: W0's with sigma_0, sigma_1 replaced (new) / sigma_11 raised (old).
    assert!((new.metrics.as_ref().unwrap().lambda_max - 901.0).abs() < 1e-6);
    assert!((old.metrics.as_ref().unwrap().lambda_max - 289.0).abs() < 1e-6);
    // W0 against W0 + dW, through compare: both rows paired, deltas from the closed form.
    let c = compare(&ma.base, &ma.merged);
    assert_eq!(c.matched.len(), 2);
    assert!(c.only_in_a.is_empty() && c.only_in_b.is_empty());
    let m = c
        .matched
        .iter()
        .find(|m| m.name == "model.new.weight")
        .unwrap();
    let lsn = m.metric("log_spectral_norm").unwrap();
    assert!((lsn.delta.unwrap() - (901f64.log10() - 144f64.log10())).abs() < 1e-9);
    // The CLI prints the comparison and the count, and writes both results.
    let (bj, mj) = (dir.path().join("w0.json"), dir.path().join("merged.json"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args([
            "analyze",
            p.to_str().unwrap(),
            "--base",
            base.to_str().unwrap(),
        ])
        .args([
            "--base-json",
            bj.to_str().unwrap(),
            "--merged-json",
            mj.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 matched rows") && text.contains("model.new.weight: 2 of 2"),
        "{text}"
    );
    let back = htdiag::report::load::read_result(&mj).unwrap();
    assert_eq!(back.layers.len(), 2);
    assert!(bj.is_file());
}

/// Runs `htdiag analyze` and returns (success, stderr).
fn cli(path: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args(["analyze", path.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_adapters_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (bm, am) = factors(16, 12, &[1.0, 2.0], &[1.0, 1.0]);
    let good = config(2, 4.0, false, "{}", "{}");

    // The weights without their config: an error naming both files.
    let p = write_adapter(&dir.path().join("noconf"), &good, &[("model.q", &bm, &am)]);
    std::fs::remove_file(dir.path().join("noconf/adapter_config.json")).unwrap();
    for path in [p.clone(), dir.path().join("noconf")] {
        let e = find(&path).unwrap_err().to_string();
        assert!(
            e.contains("adapter_model.safetensors") && e.contains("adapter_config.json"),
            "{e}"
        );
    }
    let (ok, err) = cli(&p);
    assert!(!ok && err.contains("adapter_config.json"), "{err}");

    // A config without r, not JSON, of another PEFT type.
    for (text, needle) in [
        (good.replace("\"r\": 2,", ""), "\"r\" is missing"),
        ("{not json".to_string(), "not a valid adapter_config.json"),
        (good.replace("\"LORA\"", "\"IA3\""), "only LoRA"),
    ] {
        let d = dir.path().join(format!("cfg{}", text.len()));
        write_adapter(&d, &text, &[("model.q", &bm, &am)]);
        let (c, w) = find(&d).unwrap().unwrap();
        let e = Adapter::open(&c, &w, &OpenOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("adapter_config.json") && e.contains(needle),
            "{e}"
        );
    }

    // A folder with the config but no weights.
    let d = dir.path().join("noweights");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("adapter_config.json"), &good).unwrap();
    assert!(
        find(&d)
            .unwrap_err()
            .to_string()
            .contains("neither adapter_model.safetensors")
    );

    // Module-level trouble: a skipped row each, naming the file and tensor; the good module
    // is still analysed.
    let (b3, a3) = factors(16, 12, &[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0]);
    let d = dir.path().join("modules");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("adapter_config.json"), &good).unwrap();
    let wrong_b = Mat::zeros(16, 3);
    write_safetensors(
        &d.join("adapter_model.safetensors"),
        &[
            (name("model.ok", "lora_A"), vec![2, 12], &am.v[..]),
            (name("model.ok", "lora_B"), vec![16, 2], &bm.v[..]),
            (name("model.chain", "lora_A"), vec![2, 12], &am.v[..]),
            (name("model.chain", "lora_B"), vec![16, 3], &wrong_b.v[..]),
            (name("model.lonely", "lora_A"), vec![2, 12], &am.v[..]),
            (name("model.rank", "lora_A"), vec![3, 12], &a3.v[..]),
            (name("model.rank", "lora_B"), vec![16, 3], &b3.v[..]),
        ],
    );
    let r = analyse(&d);
    assert_eq!(r.layers.len(), 1);
    assert_eq!(r.layers[0].name, "model.ok");
    let reason = |m: &str| {
        r.skipped
            .iter()
            .find(|s| s.name == m)
            .unwrap_or_else(|| panic!("{m} not skipped: {:?}", r.skipped))
            .reason
            .clone()
    };
    for (m, needles) in [
        (
            "model.chain",
            &["shapes do not chain", "model.chain.lora_B.weight"][..],
        ),
        (
            "model.lonely",
            &["no matching lora_B", "model.lonely.lora_A.weight"][..],
        ),
        (
            "model.rank",
            &["rank 3", "r = 2", "adapter_config.json"][..],
        ),
    ] {
        let why = reason(m);
        assert!(why.contains("adapter_model.safetensors"), "{why}");
        for n in needles {
            assert!(why.contains(n), "{m}: {why}");
        }
    }

    // A scale so large that the singular values overflow: an error row, not a panic.
    let d = dir.path().join("overflow");
    write_adapter(
        &d,
        &good.replace("\"lora_alpha\": 4,", "\"lora_alpha\": 1e308,"),
        &[("model.q", &bm, &am)],
    );
    let r = analyse(&d);
    assert_eq!(r.layers[0].status, LayerStatus::Error);
    assert!(r.layers[0].message.as_deref().unwrap().contains("overflow"));

    // --base with something that is not an adapter: a usage error.
    let plain = dir.path().join("plain.safetensors");
    write_safetensors(&plain, &[("w".into(), vec![2, 12], &am.v[..])]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args([
            "analyze",
            plain.to_str().unwrap(),
            "--base",
            plain.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--base is for LoRA adapters"));
}
