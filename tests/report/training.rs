//! The training page of `htdiag regularize --report`, built from a report of three small MLPs
//! (analysed for real) and one-epoch histories: curves with one visible point per run,
//! accuracy in percent, labelled axes, and each layer's three ESDs with their fitted lines,
//! each equal to that model's own log-log ESD.

use htdiag::regularize::{Penalty, Regularizer, WeightedAlphaParams};
use htdiag::report::layer_data::loglog;
use htdiag::report::training_data::{MODEL_NAMES, training_plots};
use htdiag::report::training_html::render_training_html;
use htdiag::report::training_text::summary_text;
use htdiag::train::experiment::{
    Baseline, CompareReport, LayerChange, RunReport, analyze_file, layer_numbers,
};
use htdiag::train::{EpochRecord, Eval, History, Mlp, TrainConfig};

fn run(name: &str, acc: f64, loss: f64) -> RunReport {
    let rec = EpochRecord {
        epoch: 1,
        train_loss: loss + 0.1,
        train_accuracy: acc - 0.05,
        test: Some(Eval {
            loss,
            accuracy: acc,
        }),
        seconds: 0.5,
        penalty_refresh_seconds: 0.0,
        penalty_value: None,
        mu: None,
    };
    RunReport {
        name: name.into(),
        regularization: "none".into(),
        history: History {
            backend: "cpu (test)".into(),
            start: None,
            epochs: vec![rec],
            step_losses: vec![1.0],
            seconds_per_step: 0.01,
            median_step_seconds: 0.01,
            refresh: None,
        },
        final_test: Some(Eval {
            loss,
            accuracy: acc,
        }),
        seconds_per_epoch: 0.5,
        refresh_share: 0.0,
    }
}

fn report() -> CompareReport {
    let dir = tempfile::tempdir().unwrap();
    let analyses: Vec<_> = [1u64, 2, 3]
        .iter()
        .map(|&seed| {
            let p = dir.path().join(format!("m{seed}.safetensors"));
            Mlp::init(&[64, 48, 10], seed).unwrap().save(&p).unwrap();
            analyze_file(&p).unwrap()
        })
        .collect();
    let layers = analyses[0]
        .layers
        .iter()
        .map(|l| LayerChange {
            name: l.name.clone(),
            before: layer_numbers(&analyses[0], &l.name),
            baseline: layer_numbers(&analyses[1], &l.name),
            regularized: layer_numbers(&analyses[2], &l.name),
        })
        .collect();
    CompareReport {
        htdiag_version: "test".into(),
        source: "m<1>.safetensors".into(),
        arch: "64-48-10".into(),
        config: TrainConfig::default(),
        samples: (100, 20),
        regularizer: Regularizer::new(Penalty::WeightedAlpha(WeightedAlphaParams::default()), 0.01),
        baseline: Baseline::None,
        runs: vec![
            run("baseline", 0.8125, 0.61),
            run("regularized", 0.875, 0.52),
        ],
        penalty_overhead: 0.25,
        layers,
        analyses,
    }
}

#[test]
fn curves_show_one_point_per_run_after_one_epoch() {
    let r = report();
    let p = training_plots(&r);
    let acc = &p.curves[0];
    assert!(acc.ylabel.contains('%'), "{}", acc.ylabel);
    assert_eq!(acc.series.len(), 2);
    assert_eq!(acc.series[0], ("baseline".to_string(), vec![(1.0, 81.25)]));
    assert_eq!(acc.series[1].1, vec![(1.0, 87.5)]);
    assert_eq!(p.curves[2].series[1].1, vec![(1.0, 0.52 + 0.1)]);
    let html = render_training_html(&r);
    // One marker per run and curve (4 curves x 2 runs) at least, plus the legend markers.
    assert!(html.matches("<circle").count() >= 8, "markers missing");
    for label in [
        "test accuracy (%)",
        "test loss (cross-entropy)",
        "epoch",
        "density",
    ] {
        assert!(html.contains(label), "axis label {label} missing");
    }
    assert!(html.contains("87.50 %") && html.contains("81.25 %"));
    assert!(!html.contains("plot failed"));
    assert!(html.contains("<style>") && html.contains("compare.html"));
    assert!(html.contains("&lt;1&gt;"), "source not escaped");
    let text = summary_text(&r);
    assert!(
        text.contains("87.50%") && text.contains("fc1.weight"),
        "{text}"
    );
}

#[test]
fn each_layer_overlays_the_three_models_own_esds() {
    let r = report();
    let p = training_plots(&r);
    assert_eq!(p.layers.len(), r.analyses[0].layers.len());
    assert_eq!(p.layers.len(), 2);
    for o in &p.layers {
        assert_eq!(o.esds.len(), 3);
        for ((legend, esd), (a, name)) in o.esds.iter().zip(r.analyses.iter().zip(MODEL_NAMES)) {
            let row = a.layers.iter().find(|l| l.name == o.label).unwrap();
            assert_eq!(esd, &loglog(row, &o.label).unwrap());
            let f = row.fit.unwrap();
            assert!(
                legend.starts_with(name) && legend.contains("alpha"),
                "{legend}"
            );
            // The fitted line starts at the model's own xmin, and the density integrates to
            // 1 over the bins (each histogram normalised by its own eigenvalue count).
            assert!((esd.fit_line[0].0 - f.xmin).abs() <= 1e-12 * f.xmin);
            let mass: f64 = esd
                .hist
                .density
                .iter()
                .zip(esd.hist.edges.windows(2))
                .map(|(d, e)| d * (e[1] - e[0]))
                .sum();
            assert!((mass - 1.0).abs() < 1e-9, "{mass}");
        }
    }
    let html = render_training_html(&r);
    // 4 curves + one ESD plot per layer.
    assert_eq!(html.matches("<svg").count(), 4 + p.layers.len());
    assert!(html.contains("before: alpha"));
}

/// The value printed for `layer` in the summary block headed `head`, in column `col`
/// (0 before, 1 baseline, 2 regularized).
fn printed(text: &str, head: &str, layer: &str, col: usize) -> f64 {
    let block = text
        .split(head)
        .nth(1)
        .unwrap_or_else(|| panic!("{head}: {text}"));
    let row = block.lines().find(|l| l.starts_with(layer)).unwrap();
    row.split_whitespace()
        .nth(1 + col)
        .unwrap()
        .parse()
        .unwrap()
}

/// The summary prints the number the chosen penalty acts on, per layer and model, then alpha:
/// each checked against the analyses (the eigenvalue sum for weight decay's ||W||_F^2).
#[test]
fn summary_prints_the_penalty_metric_then_alpha() {
    let mut r = report();
    let row = |model: usize| {
        r.analyses[model]
            .layers
            .iter()
            .find(|l| l.name == "fc1.weight")
            .unwrap()
            .clone()
    };
    let (before, regularized) = (row(0), row(2));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-3 * b.abs().max(1.0);

    // weighted-alpha (the report's penalty): alpha_weighted, then alpha.
    let text = summary_text(&r);
    let aw = before.metrics.as_ref().unwrap().alpha_weighted;
    assert!(close(
        printed(&text, "alpha_weighted per layer", "fc1.weight", 0),
        aw
    ));
    let alpha = regularized.fit.unwrap().alpha;
    assert!(close(
        printed(&text, "alpha per layer", "fc1.weight", 2),
        alpha
    ));

    r.regularizer = Regularizer::new(Penalty::StableRank(Default::default()), 0.01);
    let text = summary_text(&r);
    let sum: f64 = before.eigenvalues.iter().sum();
    let max = before.eigenvalues.iter().cloned().fold(0.0, f64::max);
    assert!(close(
        printed(&text, "stable_rank per layer", "fc1.weight", 0),
        sum / max
    ));
    assert!(!text.contains("alpha_weighted per layer"));
    // The training page's layer table leads with the same metric, then alpha.
    let html = render_training_html(&r);
    let col = |h: &str| {
        html.find(&format!(">{h}</th>"))
            .unwrap_or_else(|| panic!("{h}"))
    };
    assert!(col("stable_rank before") < col("alpha before"));
    assert_eq!(html.matches(">stable_rank before</th>").count(), 1);

    r.regularizer = Regularizer::new(Penalty::WeightDecay, 0.01);
    let text = summary_text(&r);
    assert!(close(
        printed(&text, "||W||_F^2 per layer", "fc1.weight", 0),
        sum
    ));

    r.regularizer = Regularizer::new(Penalty::PowerLawPrior(Default::default()), 0.01);
    let text = summary_text(&r);
    assert!(close(
        printed(&text, "alpha per layer", "fc1.weight", 2),
        alpha
    ));
    assert_eq!(
        text.matches("alpha per layer").count(),
        1,
        "alpha once: {text}"
    );
}
