//! `htdiag analyze [PATH]`: per-layer spectral diagnostics of a checkpoint.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use clap::ValueEnum;
use htdiag::analyze::{AnalyzeOptions, Observer, analyze};
use htdiag::fit::{FitMethod, FitOptions, FixFingers, SmallN};
use htdiag::plan::PlanOptions;
use htdiag::result::{AnalysisResult, LayerResult};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The demo checkpoint shipped with htdiag (an MLP trained on MNIST; see assets/README.md).
const DEMO: &[u8] = include_bytes!("../../../assets/mnist-mlp.safetensors");

/// Analyse the weight matrices of a checkpoint: eigenvalues of W^T W per layer, power-law
/// fit (alpha), weighted alpha, norms, stable rank, ... with WeightWatcher 0.7.6's numbers.
///
/// PATH is a .safetensors file, a folder with model.safetensors.index.json (shards), or a
/// folder of .safetensors files. Without PATH, the demo checkpoint shipped with htdiag (an MLP
/// trained on MNIST) is analysed.
///
/// Examples:
///   htdiag analyze model.safetensors --json result.json --csv result.csv
///   htdiag analyze llama/ --max-n 200000 --layers 'mlp|self_attn' --threads 8
///   htdiag analyze resnet.safetensors --per-slice --mp-fit --randomize --seed 7
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Checkpoint file or folder (default: the shipped demo checkpoint).
    pub path: Option<PathBuf>,
    /// In a nested PyTorch checkpoint (Lightning .ckpt, {"model": ...}), the dict key holding
    /// the tensors ('/' separates nested keys); chosen automatically when omitted.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,

    /// Write the full result (metrics and every eigenvalue) as JSON.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub json: Option<PathBuf>,
    /// Write one CSV line per layer (WeightWatcher's column names).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub csv: Option<PathBuf>,
    /// Write a self-contained HTML report (open it in any browser, offline).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub report: Option<PathBuf>,
    /// Write every plot as a PNG file into this folder.
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub png_dir: Option<PathBuf>,
    /// Do not print the table (outputs are still written).
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,

    /// Skip rows with fewer eigenvalues than this (M*rf).
    #[arg(
        long,
        default_value_t = 8,
        value_name = "K",
        help_heading = "Which layers"
    )]
    pub min_evals: usize,
    /// Skip rows with more eigenvalues than this (M*rf).
    #[arg(
        long,
        default_value_t = 15000,
        value_name = "K",
        help_heading = "Which layers"
    )]
    pub max_evals: usize,
    /// Skip matrices whose larger side exceeds this (embeddings, lm_heads).
    #[arg(
        long,
        default_value_t = 50000,
        value_name = "N",
        help_heading = "Which layers"
    )]
    pub max_n: usize,
    /// Analyse only tensors whose name matches this regular expression.
    #[arg(long, value_name = "REGEX", help_heading = "Which layers")]
    pub layers: Option<String>,
    /// One row per conv kernel position instead of one pooled row per conv layer.
    #[arg(long, help_heading = "Which layers")]
    pub per_slice: bool,
    /// Do not rescale conv eigenvalues by c/2 (WeightWatcher's convention; on by default).
    #[arg(long, help_heading = "Which layers")]
    pub no_conv_scaling: bool,

    /// Power-law estimator: clauset (KS-optimal xmin, WeightWatcher's; the default), median
    /// (xmin = median eigenvalue: TempBalance, AlphaPruning's alpha_mid) or peak
    /// (AlphaPruning's alpha_peak). --rules picks its own default.
    #[arg(long, value_enum, help_heading = "Fit")]
    pub fit: Option<FitArg>,
    /// Arithmetic of --fit median|peak: f64 (default) or f32 (AlphaPruning's float32 pipeline).
    #[arg(long, value_enum, help_heading = "Fit")]
    pub precision: Option<crate::rules_args::PrecisionArg>,
    /// Analyse exactly the layers AlphaPruning or TempBalance see (no size limits, no
    /// eigenvalue threshold, their estimator and float32).
    #[arg(long, value_enum, help_heading = "Which layers")]
    pub rules: Option<crate::rules_args::RulesArg>,
    /// Correct finite-size "fingers": clip_xmax drops up to 9 outlying top eigenvalues.
    #[arg(long, value_enum, default_value_t = FingersArg::None, help_heading = "Fit")]
    pub fix_fingers: FingersArg,
    /// Small-spectrum rule (fewer than 20 eigenvalues): ww076 (default) or ww0755.
    #[arg(long, value_enum, default_value_t = SmallNArg::Ww076, help_heading = "Fit")]
    pub small_n: SmallNArg,
    /// Only consider xmin candidates in [LO, HI].
    #[arg(long, value_names = ["LO", "HI"], num_args = 2, help_heading = "Fit")]
    pub xmin_window: Option<Vec<f64>>,
    /// Also fit a Marchenko-Pastur bulk (sigma_mp, num_spikes, mp_softrank, ...).
    #[arg(long, help_heading = "Fit")]
    pub mp_fit: bool,
    /// Also compare with the ESD of the entry-shuffled matrix ("correlation traps").
    #[arg(long, help_heading = "Fit")]
    pub randomize: bool,
    /// Seed of --randomize (results are reproducible).
    #[arg(long, default_value_t = 0, value_name = "N", help_heading = "Fit")]
    pub seed: u64,

    /// Worker threads (default: one per core). BLAS runs single-threaded inside each.
    #[arg(long, short = 'j', default_value_t = 0, value_name = "N")]
    pub threads: usize,

    /// Write each layer's result into DIR as soon as it is done (DIR/layers/*.json, then
    /// DIR/result.json); an interrupted run continues with --resume. Ctrl-C stops after the
    /// layers in flight, keeping everything finished.
    #[arg(long, value_name = "DIR", help_heading = "Large checkpoints")]
    pub out: Option<PathBuf>,
    /// Continue the run in --out DIR, computing only the layers not yet there (refused if the
    /// checkpoint or the options differ); starts afresh if DIR holds no run yet.
    #[arg(long, requires = "out", help_heading = "Large checkpoints")]
    pub resume: bool,
    /// Compute only part K of N (0-based) of the layers, balanced by estimated cost; needs
    /// --out. Combine the N folders with `htdiag merge`.
    #[arg(
        long,
        value_name = "K/N",
        requires = "out",
        help_heading = "Large checkpoints"
    )]
    pub shard: Option<String>,
}

/// `--fit`.
#[derive(Clone, Copy, ValueEnum)]
pub enum FitArg {
    Clauset,
    Median,
    Peak,
}

/// `--fix-fingers`.
#[derive(Clone, Copy, ValueEnum)]
pub enum FingersArg {
    None,
    #[value(name = "clip_xmax", alias = "clip-xmax")]
    ClipXmax,
}

/// `--small-n`.
#[derive(Clone, Copy, ValueEnum)]
pub enum SmallNArg {
    Ww076,
    Ww0755,
}

impl Args {
    /// The library options these arguments stand for.
    pub fn options(&self) -> anyhow::Result<AnalyzeOptions> {
        let layers = match &self.layers {
            Some(r) => Some(regex::Regex::new(r).with_context(|| format!("--layers {r:?}"))?),
            None => None,
        };
        let xmin_window = match self.xmin_window.as_deref() {
            Some(&[lo, hi]) if lo <= hi => Some((lo, hi)),
            Some(_) => bail!("--xmin-window LO HI needs LO <= HI"),
            None => None,
        };
        let mut opts = AnalyzeOptions {
            plan: PlanOptions {
                min_evals: self.min_evals,
                max_evals: self.max_evals,
                max_n: self.max_n,
                per_slice: self.per_slice,
                conv_scaling: !self.no_conv_scaling,
                layers,
                exclude: None,
            },
            fit: FitOptions {
                method: match self.fit.unwrap_or(FitArg::Clauset) {
                    FitArg::Clauset => FitMethod::Clauset,
                    FitArg::Median => FitMethod::Median,
                    FitArg::Peak => FitMethod::Peak,
                },
                small_n: match self.small_n {
                    SmallNArg::Ww076 => SmallN::Ww076,
                    SmallNArg::Ww0755 => SmallN::Ww0755,
                },
                fix_fingers: match self.fix_fingers {
                    FingersArg::None => FixFingers::None,
                    FingersArg::ClipXmax => FixFingers::ClipXmax,
                },
                xmin_window,
                ..FitOptions::default()
            },
            mp_fit: self.mp_fit,
            randomize: self.randomize.then_some(self.seed),
            threads: self.threads,
            rules: None,
        };
        crate::rules_args::apply(&mut opts, self.rules, self.fit.is_some(), self.precision)?;
        Ok(opts)
    }
}

/// A cost-weighted progress bar on stderr; invisible when stderr is not a terminal.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar that draws only on a terminal and not with `quiet`.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress { bar }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Progress units per estimated flop (the bar counts in integers).
const UNIT: f64 = 1e-6;

impl Observer for Progress {
    fn started(&self, _rows: usize, cost: f64) {
        self.bar.set_length((cost * UNIT).ceil() as u64 + 1);
    }
    fn row_done(&self, row: &LayerResult, cost: f64) {
        self.bar.inc((cost * UNIT).ceil() as u64);
        self.bar.set_message(row.name.clone());
    }
}

/// Resolves the checkpoint to analyse: the given path, or the demo written to a temp file.
pub fn resolve(path: Option<&Path>) -> anyhow::Result<(PathBuf, Option<tempfile_lite::TempDir>)> {
    match path {
        Some(p) => Ok((p.to_path_buf(), None)),
        None => {
            let dir = tempfile_lite::TempDir::new()?;
            let p = dir.path().join("mnist-mlp.safetensors");
            std::fs::write(&p, DEMO).with_context(|| format!("writing {}", p.display()))?;
            eprintln!(
                "htdiag: no checkpoint given; analysing the shipped demo (an MLP trained on MNIST)"
            );
            Ok((p, Some(dir)))
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.out.is_some() {
        return crate::analyze_out::run(args);
    }
    let opts = args.options()?;
    let (path, _demo_dir) = resolve(args.path.as_deref())?;
    let ckpt = crate::open::open_checkpoint(&path, args.key.as_deref(), args.quiet)?;
    let progress = Progress::new(args.quiet);
    let cancel = AtomicBool::new(false);
    let mut result = analyze(&ckpt, &opts, &progress, Some(&cancel))?;
    progress.finish();
    if args.path.is_none() {
        result.source = "assets/mnist-mlp.safetensors (built-in demo)".into();
    }
    write_outputs(&result, &args)?;
    if !args.quiet {
        let color = std::io::stdout().is_terminal();
        print!("{}", htdiag::report::table::render(&result, color));
    }
    Ok(())
}

/// Writes every requested output file (each atomically).
pub fn write_outputs(result: &AnalysisResult, args: &Args) -> anyhow::Result<()> {
    if let Some(p) = &args.json {
        let text = htdiag::report::json::to_json(result)?;
        htdiag::util::atomic_write(p, text.as_bytes())?;
    }
    if let Some(p) = &args.csv {
        htdiag::util::atomic_write(p, htdiag::report::csv::to_csv(result).as_bytes())?;
    }
    if let Some(p) = &args.report {
        htdiag::report::html::write_html(result, p)
            .with_context(|| format!("writing the report {}", p.display()))?;
    }
    if let Some(dir) = &args.png_dir {
        htdiag::report::png::write_pngs(result, dir)
            .with_context(|| format!("writing PNGs into {}", dir.display()))?;
    }
    Ok(())
}

/// A minimal self-deleting temporary folder (for the demo checkpoint).
mod tempfile_lite {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> anyhow::Result<Self> {
            let p = std::env::temp_dir().join(format!("htdiag-demo-{}", std::process::id()));
            std::fs::create_dir_all(&p)?;
            Ok(TempDir(p))
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
