//! `htdiag analyze [PATH]`: per-layer spectral diagnostics of a checkpoint.

mod adapter;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use clap::ValueEnum;
use htdiag::analyze::{AnalyzeOptions, analyze};
use htdiag::checkpoint::Checkpoint;
use htdiag::fit::{FitMethod, FitOptions, FixFingers, SmallN};
use htdiag::plan::PlanOptions;
use htdiag::report::order::{RowOrder, sort_rows};
use htdiag::report::table::TableOptions;
use htdiag::result::AnalysisResult;

use crate::exit::Usage;
use crate::output::{self, Written};
use crate::progress::Progress;

/// `htdiag analyze --help`'s examples, then the exit statuses.
fn after_help() -> String {
    format!("{EXAMPLES}\n\n{}", crate::exit::EXIT_HELP)
}

/// Examples of `htdiag analyze`.
const EXAMPLES: &str = "Examples:
  htdiag analyze model.safetensors --json result.json --csv result.csv
  htdiag analyze model.safetensors --report report.html --png-dir plots/
  htdiag analyze model.safetensors --csv - -q | column -s, -t    (CSV on stdout)
  htdiag analyze llama/ --max-n 200000 --layers 'mlp|self_attn' --threads 8
  htdiag analyze resnet.safetensors --per-slice --mp-fit --randomize --seed 7
  htdiag analyze llama/ --out run/ --resume --json llama.json  (resumable)
  htdiag analyze lora-adapter/ --csv lora.csv               (PEFT LoRA: one row per module)
  htdiag analyze lora-adapter/ --base llama/ --base-json w0.json --merged-json merged.json";

/// The demo checkpoint shipped with htdiag (an MLP trained on MNIST; see assets/README.md).
const DEMO: &[u8] = include_bytes!("../../../assets/mnist-mlp.safetensors");

/// Analyse the weight matrices of a checkpoint: eigenvalues of W^T W per layer, power-law
/// fit (alpha), weighted alpha, norms, stable rank, ... with WeightWatcher 0.7.6's numbers.
///
/// PATH is a .safetensors file, a folder with model.safetensors.index.json (shards), or a
/// folder of .safetensors files. Without PATH, the demo checkpoint shipped with htdiag (an MLP
/// trained on MNIST) is analysed.
///
/// A PEFT LoRA adapter (a folder with adapter_config.json and adapter_model.safetensors or
/// .bin, or that file itself) gives one row per adapted module, type 'lora': the update
/// dW = s B A (s = lora_alpha/r, or /sqrt(r) with rsLoRA) from its r nonzero singular
/// values, without forming B A; the power-law fit only with at least --min-evals of them.
/// With --base, the merged W0 + dW is analysed and compared with W0.
#[derive(clap::Args)]
#[command(verbatim_doc_comment, after_help = after_help())]
pub struct Args {
    /// Checkpoint file or folder, or a PEFT LoRA adapter (a folder with adapter_config.json, or
    /// its adapter_model.safetensors/.bin; one row per adapted module) (default: the shipped
    /// demo checkpoint).
    pub path: Option<PathBuf>,
    /// With a LoRA adapter: the base checkpoint it was trained from. Every weight an update
    /// changes is analysed as W0 and as W0 + dW, compared (per-layer deltas), and the top-r
    /// left singular directions of W0 + dW that are new (|cosine| < 0.5 with all of W0's)
    /// are counted.
    #[arg(long, value_name = "CHECKPOINT", help_heading = "LoRA adapters")]
    pub base: Option<PathBuf>,
    /// With --base: write the analysis of the base weights W0 as JSON (for `htdiag compare`).
    #[arg(
        long,
        value_name = "FILE",
        requires = "base",
        help_heading = "LoRA adapters"
    )]
    pub base_json: Option<PathBuf>,
    /// With --base: write the analysis of the merged weights W0 + dW as JSON.
    #[arg(
        long,
        value_name = "FILE",
        requires = "base",
        help_heading = "LoRA adapters"
    )]
    pub merged_json: Option<PathBuf>,
    /// In a nested PyTorch checkpoint (Lightning .ckpt, {"model": ...}), the dict key holding
    /// the tensors ('/' separates nested keys); chosen automatically when omitted.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,

    /// Write the full result (metrics and every eigenvalue) as JSON (`-`: standard output).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub json: Option<PathBuf>,
    /// Write one CSV line per layer, WeightWatcher's column names (`-`: standard output).
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
    /// Row order of the table, JSON, CSV and report: natural (numeric-aware names,
    /// `layers.2` before `layers.10`), file (checkpoint order, = layer_id) or name (plain
    /// string order). layer_id stays the checkpoint position whatever the order.
    #[arg(long, value_enum, default_value_t = OrderArg::Natural, help_heading = "Output")]
    pub order: OrderArg,
    /// Show full tensor names in the table (long names are cut at the front otherwise).
    #[arg(long, help_heading = "Output")]
    pub wide: bool,
    /// List every skipped tensor in the table (otherwise counted per reason; the full list
    /// is always in the JSON, CSV and report).
    #[arg(long, help_heading = "Output")]
    pub show_skipped: bool,
    /// Exit with status 3 when some rows have status 'error' (NaN weights, ...); without it
    /// such rows are reported and the exit status is 0.
    #[arg(long, help_heading = "Output")]
    pub strict: bool,

    /// Skip rows with fewer eigenvalues than this (M*rf).
    #[arg(
        long,
        default_value_t = plan_defaults().min_evals,
        value_name = "K",
        help_heading = "Which layers"
    )]
    pub min_evals: usize,
    /// Skip rows with more eigenvalues than this (M*rf).
    #[arg(
        long,
        default_value_t = plan_defaults().max_evals,
        value_name = "K",
        help_heading = "Which layers"
    )]
    pub max_evals: usize,
    /// Skip matrices whose larger side exceeds this (embeddings, lm_heads).
    #[arg(
        long,
        default_value_t = plan_defaults().max_n,
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
    #[arg(long, value_enum, default_value_t = FitOptions::default().fix_fingers.into(), help_heading = "Fit")]
    pub fix_fingers: FingersArg,
    /// Small-spectrum rule (fewer than 20 eigenvalues): ww076 (default) or ww0755.
    #[arg(long, value_enum, default_value_t = FitOptions::default().small_n.into(), help_heading = "Fit")]
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

/// The library's planning defaults: the size flags take their defaults from them (one source
/// of truth; `--help` still shows the values).
fn plan_defaults() -> PlanOptions {
    PlanOptions::default()
}

/// `--order`.
#[derive(Clone, Copy, ValueEnum)]
pub enum OrderArg {
    Natural,
    File,
    Name,
}

impl From<OrderArg> for RowOrder {
    fn from(o: OrderArg) -> Self {
        match o {
            OrderArg::Natural => RowOrder::Natural,
            OrderArg::File => RowOrder::File,
            OrderArg::Name => RowOrder::Name,
        }
    }
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

impl From<FingersArg> for FixFingers {
    fn from(a: FingersArg) -> Self {
        match a {
            FingersArg::None => FixFingers::None,
            FingersArg::ClipXmax => FixFingers::ClipXmax,
        }
    }
}

impl From<FixFingers> for FingersArg {
    fn from(f: FixFingers) -> Self {
        match f {
            FixFingers::None => FingersArg::None,
            FixFingers::ClipXmax => FingersArg::ClipXmax,
        }
    }
}

impl From<SmallNArg> for SmallN {
    fn from(a: SmallNArg) -> Self {
        match a {
            SmallNArg::Ww076 => SmallN::Ww076,
            SmallNArg::Ww0755 => SmallN::Ww0755,
        }
    }
}

impl From<SmallN> for SmallNArg {
    fn from(s: SmallN) -> Self {
        match s {
            SmallN::Ww076 => SmallNArg::Ww076,
            SmallN::Ww0755 => SmallNArg::Ww0755,
        }
    }
}

impl Args {
    /// The library options these arguments stand for.
    pub fn options(&self) -> anyhow::Result<AnalyzeOptions> {
        let layers =
            match &self.layers {
                Some(r) => Some(regex::Regex::new(r).map_err(|e| {
                    Usage(format!("--layers {r:?} is not a regular expression: {e}"))
                })?),
                None => None,
            };
        let xmin_window = match self.xmin_window.as_deref() {
            Some(&[lo, hi]) if lo <= hi => Some((lo, hi)),
            Some(_) => return Err(Usage("--xmin-window LO HI needs LO <= HI".into()).into()),
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
                small_n: self.small_n.into(),
                fix_fingers: self.fix_fingers.into(),
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
    let opts = args.options()?;
    output::check(
        &[
            ("--json", args.json.as_deref()),
            ("--csv", args.csv.as_deref()),
            ("--report", args.report.as_deref()),
        ],
        &[("--png-dir", args.png_dir.as_deref())],
    )?;
    let (path, _demo_dir) = resolve(args.path.as_deref())?;
    if let Some((config, weights)) = htdiag::checkpoint::peft::find(&path)? {
        return adapter::run(&args, &opts, &config, &weights);
    }
    if args.base.is_some() {
        return Err(Usage(format!(
            "--base is for LoRA adapters, and {} is not one (no adapter_config.json)",
            path.display()
        ))
        .into());
    }
    let ckpt = crate::hints::open_checkpoint(&path, args.key.as_deref(), args.quiet)?;
    check_filter(&ckpt, &args)?;
    let progress = Progress::new(args.quiet);
    let result = match &args.out {
        Some(out) => {
            let dir = crate::analyze_out::DirRun {
                out,
                shard: args.shard.as_deref(),
                resume: args.resume,
            };
            let run = crate::analyze_out::run(&ckpt, &opts, &dir, &progress);
            progress.finish();
            match run? {
                Some(r) => r,
                None => {
                    if args.json.is_some() || args.csv.is_some() || args.report.is_some() {
                        eprintln!(
                            "htdiag: --json/--csv/--report are written by `htdiag merge` for a \
                             sharded run"
                        );
                    }
                    return Ok(());
                }
            }
        }
        None => {
            let cancel = AtomicBool::new(false);
            let r = analyze(&ckpt, &opts, &progress, Some(&cancel));
            progress.finish();
            r?
        }
    };
    finish(result, &args)
}

/// Refuses a `--layers` filter that matches no tensor at all (a typo would otherwise give an
/// empty result after reading the whole checkpoint's headers), naming a few tensors.
fn check_filter(ckpt: &Checkpoint, args: &Args) -> anyhow::Result<()> {
    let Some(r) = &args.layers else {
        return Ok(());
    };
    let re = regex::Regex::new(r)?;
    let names = ckpt.tensors();
    if names.iter().any(|t| re.is_match(&t.name)) {
        return Ok(());
    }
    let some: Vec<&str> = names.iter().take(4).map(|t| t.name.as_str()).collect();
    Err(Usage(format!(
        "--layers {r:?} matches none of the {} tensors of {} (they are named like {}{})",
        names.len(),
        ckpt.source().display(),
        some.join(", "),
        if names.len() > some.len() {
            ", ..."
        } else {
            ""
        }
    ))
    .into())
}

/// Orders the rows, writes the outputs, prints the table (on stderr when a result goes to
/// standard output) and says which files were written.
fn finish(mut result: AnalysisResult, args: &Args) -> anyhow::Result<()> {
    if args.path.is_none() {
        result.source = "assets/mnist-mlp.safetensors (built-in demo)".into();
    }
    sort_rows(&mut result, args.order.into());
    let written = write_outputs(&result, args)?;
    if !args.quiet {
        let to_stdout = [&args.json, &args.csv, &args.report]
            .iter()
            .any(|p| p.as_deref().is_some_and(output::is_stdout));
        let table = |color| {
            htdiag::report::table::render_with(
                &result,
                &TableOptions {
                    color,
                    wide: args.wide,
                    show_skipped: args.show_skipped,
                    skipped_hint: "; --show-skipped lists them",
                },
            )
        };
        if to_stdout {
            eprint!("{}", table(std::io::stderr().is_terminal()));
        } else {
            print!("{}", table(std::io::stdout().is_terminal()));
        }
    }
    written.announce(args.quiet);
    if args.strict && result.summary.errors > 0 {
        return Err(crate::exit::Strict(format!(
            "--strict: {} rows have status 'error' (see the table)",
            result.summary.errors
        ))
        .into());
    }
    Ok(())
}

/// Writes every requested output file (each atomically; `-` to standard output).
pub fn write_outputs(result: &AnalysisResult, args: &Args) -> anyhow::Result<Written> {
    let mut written = Written::default();
    if let Some(p) = &args.json {
        let text = htdiag::report::json::to_json(result)?;
        output::emit(p, text.as_bytes())?;
        written.file(p);
    }
    if let Some(p) = &args.csv {
        output::emit(p, htdiag::report::csv::to_csv(result).as_bytes())?;
        written.file(p);
    }
    if let Some(p) = &args.report {
        let page = htdiag::report::html::render_html(result);
        output::emit(p, page.as_bytes())
            .with_context(|| format!("writing the report {}", p.display()))?;
        written.file(p);
    }
    if let Some(dir) = &args.png_dir {
        let files = htdiag::report::png::write_pngs(result, dir)
            .with_context(|| format!("writing PNGs into {}", dir.display()))?;
        written.add(format!("{} PNG files into {}", files.len(), dir.display()));
    }
    Ok(written)
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
