//! `htdiag regularize`: fine-tunes a checkpoint twice (baseline and heavy-tailed penalty) with
//! identical seed, data order and hyper-parameters, and compares accuracy and spectra.

use std::path::PathBuf;

use anyhow::Context;
use htdiag::regularize::{
    DecayKind, DecaySchedule, FrechetParams, Penalty, PowerLawParams, PriorExponent, Regularizer,
    SpectralNormParams, StableRankParams, WeightedAlphaParams,
};
use htdiag::train::Dataset;
use htdiag::train::experiment::{
    self, Baseline, CompareReport, LayerChange, analyze_file, baseline_setup, layer_numbers,
};

use crate::train::{CommonArgs, load_net, progress_bar, save_net};

/// Arguments of `htdiag regularize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The checkpoint to fine-tune (safetensors, PyTorch tensor names).
    pub checkpoint: PathBuf,
    /// How to read it: mlp (Linear/ReLU chain), lenet5, vgg, resnet (torchvision layouts,
    /// shapes from the checkpoint), vgg-bn:16,M,32,M,64,64,M, or a JSON architecture file.
    #[arg(long, default_value = "mlp")]
    pub arch: String,
    /// How the penalty sees convolution weights: slices (WeightWatcher's kh*kw slices, as
    /// `analyze` reports them: eigenvalues pooled, the gradient reaching every slice) or
    /// flatten (one out x in*kh*kw matrix). Depthwise convolutions are skipped.
    #[arg(long, default_value = "slices", value_parser = ["slices", "flatten"])]
    pub conv_matrix: String,
    /// Heavy-tailed penalty: weighted-alpha, stable-rank, power-law-prior, frechet-prior
    /// (also spectral-norm, weight-decay through the spectral path).
    #[arg(long)]
    pub penalty: String,
    /// Penalty weight mu (the total is mu * sum over layers).
    #[arg(long)]
    pub mu: f64,
    /// What the penalty is compared with.
    #[arg(long, default_value = "none", value_parser = ["none", "weight-decay", "spectral-norm"])]
    pub baseline: String,
    /// Strength of the baseline regularizer (weight decay coefficient or spectral-norm mu).
    #[arg(long, default_value_t = 5e-4)]
    pub baseline_mu: f64,
    /// Power-law prior exponent: a number, or "alpha" for the layer's current alpha_hat.
    #[arg(long, default_value = "2")]
    pub prior_exponent: String,
    /// Frechet shape (default: the layer's alpha_hat - 1).
    #[arg(long)]
    pub frechet_shape: Option<f64>,
    /// Frechet scale (default: the layer's lambda_max at the start).
    #[arg(long)]
    pub frechet_scale: Option<f64>,
    /// Decay of mu over epochs: power or exp (see --decay-every, --decay-rate, --decay-cutoff).
    #[arg(long, value_parser = ["power", "exp"])]
    pub decay: Option<String>,
    /// m: mu changes every m epochs.
    #[arg(long, default_value_t = 1)]
    pub decay_every: usize,
    /// k: the decay rate.
    #[arg(long, default_value_t = 1.0)]
    pub decay_rate: f64,
    /// t: mu is 0 once the decay factor is below t.
    #[arg(long, default_value_t = 0.0)]
    pub decay_cutoff: f64,
    /// Lower threshold t: a layer's penalty is max(0, R - t).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Steps between spectrum refreshes: "auto" (chosen online so that refreshes cost under
    /// 20% of the step time; they run on a worker thread), or a number (1: exact penalty
    /// gradient at every step).
    #[arg(long, default_value = "auto")]
    pub spectrum_every: htdiag::train::SpectrumEvery,
    /// Most steps a spectrum may lag behind the weights it is applied to (default: 0 with a
    /// numeric --spectrum-every, the interval with auto).
    #[arg(long)]
    pub max_lag: Option<usize>,
    /// Form the penalty product 2 W V diag(g) V^T once per spectrum refresh (with the weights
    /// of the step that first uses it) instead of with the current weights at every step: the
    /// product then lags like the spectrum. Default: held for weighted-alpha and
    /// power-law-prior (whose product is full-rank and would cost about a plain step) under
    /// --spectrum-every auto, current weights otherwise; =false keeps the current weights.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub hold_penalty_gradient: Option<bool>,
    /// Output folder (checkpoints, JSON, report pages); must be new or empty unless --force.
    #[arg(long, short, default_value = "regularize-out")]
    pub out_dir: PathBuf,
    /// Write into a non-empty --out-dir (files of the same names are replaced).
    #[arg(long)]
    pub force: bool,
    /// Also write the compare page (compare.html) and the training page (training.html).
    #[arg(long)]
    pub report: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Parses a penalty name into a regularizer.
fn penalty(a: &Args) -> anyhow::Result<Regularizer> {
    let p = match a.penalty.as_str() {
        "weighted-alpha" => Penalty::WeightedAlpha(WeightedAlphaParams::default()),
        "stable-rank" => Penalty::StableRank(StableRankParams::default()),
        "power-law-prior" => Penalty::PowerLawPrior(PowerLawParams {
            exponent: match a.prior_exponent.as_str() {
                "alpha" => PriorExponent::CurrentAlpha,
                x => PriorExponent::Fixed(
                    x.parse()
                        .with_context(|| format!("--prior-exponent '{x}'"))?,
                ),
            },
        }),
        "frechet-prior" => Penalty::FrechetPrior(FrechetParams {
            shape: a.frechet_shape,
            scale: a.frechet_scale,
        }),
        "spectral-norm" => Penalty::SpectralNorm(SpectralNormParams::default()),
        "weight-decay" => Penalty::WeightDecay,
        other => anyhow::bail!(
            "unknown penalty '{other}': expected weighted-alpha, stable-rank, power-law-prior, \
             frechet-prior, spectral-norm or weight-decay"
        ),
    };
    let mut r = Regularizer::new(p, a.mu);
    r.threshold = a.threshold;
    r.decay = a.decay.as_deref().map(|k| DecaySchedule {
        kind: if k == "exp" {
            DecayKind::Exp
        } else {
            DecayKind::Power
        },
        every: a.decay_every,
        rate: a.decay_rate,
        cutoff: a.decay_cutoff,
    });
    r.validate()?;
    Ok(r)
}

/// Exits with [`crate::analyze_out::INTERRUPTED`] when a run was stopped by Ctrl-C (its
/// refresh thread already joined, nothing written yet); passes other errors on.
fn stopped(e: htdiag::Error) -> htdiag::Error {
    if let htdiag::Error::Interrupted = e {
        eprintln!("htdiag: stopped; nothing was written");
        std::process::exit(crate::analyze_out::INTERRUPTED as i32);
    }
    e
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let c = &args.common;
    let reg = penalty(&args)?;
    crate::output::fresh_dir("--out-dir", &args.out_dir, args.force)?;
    let baseline = match args.baseline.as_str() {
        "weight-decay" => Baseline::WeightDecay {
            wd: args.baseline_mu as f32,
        },
        "spectral-norm" => Baseline::SpectralNorm {
            mu: args.baseline_mu,
        },
        _ => Baseline::None,
    };
    let (tr, te): (Dataset, Dataset) = c.load_data()?;
    let (model, label) = load_net(&args.arch, &args.checkpoint, tr.dim, c.input_shape)?;
    let flatten = args.conv_matrix == "flatten";
    let targets = experiment::penalty_targets(&model, flatten);
    let all = model.penalised_weights(flatten);
    if !c.quiet && targets.len() < all.len() {
        let left: Vec<&str> = all
            .iter()
            .enumerate()
            .filter(|(w, _)| !targets.iter().any(|t| t.weight == *w))
            .map(|(_, p)| model.params[p.param].name.as_str())
            .collect();
        eprintln!(
            "penalty skips {} depthwise convolution weight(s) (one input channel per group: \
             one eigenvalue per slice, skipped as `analyze` skips them): {}",
            left.len(),
            left.join(", ")
        );
    }
    let mut cfg = c.config(htdiag::train::RefreshPolicy {
        every: args.spectrum_every,
        max_lag: args.max_lag,
        hold: args.hold_penalty_gradient,
    });
    cfg.cancel = htdiag::train::CancelToken(Some(crate::analyze_out::install_ctrlc(
        "stopping after this step; nothing is written",
    )?));
    let device = c.device()?;
    if !c.quiet {
        eprintln!(
            "fine-tuning {} ({}) on {} samples, {} test; baseline: {baseline}; penalty: {} \
             (mu = {})",
            args.checkpoint.display(),
            label,
            tr.len(),
            te.len(),
            args.penalty,
            args.mu
        );
    }
    let (bcfg, bpen) = baseline_setup(baseline, &cfg);
    let (bmodel, brun) = experiment::run_one(
        "baseline",
        device,
        &model,
        &tr,
        &te,
        &bcfg,
        bpen,
        flatten,
        &mut progress_bar("baseline", c.quiet),
    )
    .map_err(stopped)?;
    let (rmodel, rrun) = experiment::run_one(
        "regularized",
        device,
        &model,
        &tr,
        &te,
        &cfg,
        Some(reg),
        flatten,
        &mut progress_bar(&args.penalty, c.quiet),
    )
    .map_err(stopped)?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    let bpath = args.out_dir.join("baseline.safetensors");
    let rpath = args.out_dir.join("regularized.safetensors");
    save_net(&bmodel, &label, &bpath)?;
    save_net(&rmodel, &label, &rpath)?;
    let before = analyze_file(&args.checkpoint)?;
    let after_b = analyze_file(&bpath)?;
    let after_r = analyze_file(&rpath)?;
    let layers = all
        .iter()
        .map(|p| {
            let name = &model.params[p.param].name;
            LayerChange {
                name: name.clone(),
                before: layer_numbers(&before, name),
                baseline: layer_numbers(&after_b, name),
                regularized: layer_numbers(&after_r, name),
            }
        })
        .collect();
    let overhead = if brun.history.seconds_per_step > 0.0 {
        rrun.history.seconds_per_step / brun.history.seconds_per_step - 1.0
    } else {
        0.0
    };
    let report = CompareReport {
        htdiag_version: env!("CARGO_PKG_VERSION").into(),
        source: args.checkpoint.display().to_string(),
        arch: label.clone(),
        config: cfg,
        samples: (tr.len(), te.len()),
        regularizer: reg,
        baseline,
        runs: vec![brun, rrun],
        penalty_overhead: overhead,
        layers,
        analyses: vec![before, after_b, after_r],
    };
    let json = args.out_dir.join("regularize.json");
    htdiag::util::atomic_write(&json, serde_json::to_string_pretty(&report)?.as_bytes())?;
    if args.report {
        let cmp = htdiag::compare::compare(&report.analyses[1], &report.analyses[2]);
        htdiag::report::compare_html::write_compare_html(
            &report.analyses[1],
            &report.analyses[2],
            &cmp,
            &args.out_dir.join("compare.html"),
        )?;
        htdiag::util::atomic_write(
            &args.out_dir.join("training.html"),
            htdiag::report::training_html::render_training_html(&report).as_bytes(),
        )?;
    }
    print!("{}", htdiag::report::training_text::summary_text(&report));
    println!("wrote {}", args.out_dir.display());
    Ok(())
}
