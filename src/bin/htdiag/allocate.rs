//! `htdiag allocate RESULT.json|CHECKPOINT --method ...`: per-layer sparsity (AlphaPruning),
//! learning rates (TempBalance) or weight decay (AlphaDecay) from one analysis.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::ValueEnum;
use htdiag::allocate::{
    Allocation, Map, Mapping, Method, Metric, PruningOptions, ScheduleOptions, allocate,
    default_block_regex, output,
};
use htdiag::analyze::{AnalyzeOptions, Rules, analyze};
use htdiag::checkpoint::Checkpoint;
use htdiag::fit::FitMethod;
use htdiag::result::AnalysisResult;

use crate::progress::Progress;
use crate::rules_args::PrecisionArg;

/// Turn per-layer spectra into per-layer decisions, as the original code computes them:
/// AlphaPruning's layer-wise sparsities (Lu et al., NeurIPS 2024), TempBalance's layer-wise
/// learning rates (Zhou et al., NeurIPS 2023), AlphaDecay's layer-wise weight decay.
///
/// INPUT is a saved result (htdiag analyze --json) or a checkpoint, which is then analysed
/// with the method's layer rules (--rules alphapruning or tempbalance of `htdiag analyze`).
///
/// Examples:
///   htdiag allocate llama/ --method alphapruning --sparsity 0.7 --epsilon 0.3 --json s.json
///   htdiag allocate resnet.safetensors --method tempbalance --lr 0.1 --csv lr.csv
///   htdiag allocate result.json --method alphadecay --wd 5e-4 --ratios 0.666,3
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// A result JSON of `htdiag analyze`, or a checkpoint file or folder.
    pub input: PathBuf,
    /// What to allocate.
    #[arg(long, value_enum)]
    pub method: MethodArg,
    /// The per-layer metric: alpha_peak (AlphaPruning's default), alpha_mid (TempBalance's
    /// and AlphaDecay's default), alpha, alpha_weighted, log_alpha_norm, log_norm,
    /// log_spectral_norm, spectral_norm, stable_rank, entropy, mp_softrank, rand_distance.
    #[arg(long, value_name = "NAME")]
    pub metric: Option<String>,

    /// AlphaPruning: target parameter-weighted mean sparsity.
    #[arg(long, value_name = "S", help_heading = "AlphaPruning")]
    pub sparsity: Option<f64>,
    /// AlphaPruning: ratios spread over [1 - eps, 1 + eps] before scaling.
    #[arg(
        long,
        default_value_t = 0.3,
        value_name = "EPS",
        help_heading = "AlphaPruning"
    )]
    pub epsilon: f64,
    /// AlphaPruning: block (each layer takes its block's mean metric; their default) or layer.
    #[arg(long, value_enum, default_value_t = MappingArg::Block, help_heading = "AlphaPruning")]
    pub mapping: MappingArg,
    /// AlphaPruning: cap sparsities at 1 (their code does not).
    #[arg(long, help_heading = "AlphaPruning")]
    pub clip: bool,
    /// AlphaPruning: regex whose first capture group names a layer's block.
    #[arg(long, value_name = "REGEX", help_heading = "AlphaPruning")]
    pub block_regex: Option<String>,

    /// TempBalance: the global learning rate.
    #[arg(long, value_name = "LR", help_heading = "TempBalance / AlphaDecay")]
    pub lr: Option<f64>,
    /// AlphaDecay: the global weight decay.
    #[arg(long, value_name = "WD", help_heading = "TempBalance / AlphaDecay")]
    pub wd: Option<f64>,
    /// Min and max ratio of the global value (TempBalance 0.5,1.5; AlphaDecay 0.666,3).
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 2,
        value_name = "MIN,MAX",
        help_heading = "TempBalance / AlphaDecay"
    )]
    pub ratios: Option<Vec<f64>>,
    /// How metrics become values (their assign_func).
    #[arg(long, value_enum, default_value_t = MapArg::Linear, help_heading = "TempBalance / AlphaDecay")]
    pub map: MapArg,
    /// Layers with fewer eigenvalues are left alone (their eigs_thresh).
    #[arg(
        long,
        default_value_t = 50,
        value_name = "K",
        help_heading = "TempBalance / AlphaDecay"
    )]
    pub min_evals: usize,

    /// Arithmetic of the estimator when INPUT is a checkpoint (default f32, as their code).
    #[arg(long, value_enum, help_heading = "Analysis of a checkpoint")]
    pub precision: Option<PrecisionArg>,
    /// Also save the analysis of a checkpoint as a result JSON.
    #[arg(long, value_name = "FILE", help_heading = "Analysis of a checkpoint")]
    pub result: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(
        long,
        short = 'j',
        default_value_t = 0,
        value_name = "N",
        help_heading = "Analysis of a checkpoint"
    )]
    pub threads: usize,

    /// Write the allocation as JSON ({"method", "settings", "layers": [...]}).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub json: Option<PathBuf>,
    /// Write one CSV line per layer.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub csv: Option<PathBuf>,
    /// Write the HTML report of the analysis with an allocation section.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub report: Option<PathBuf>,
    /// Do not print the table.
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,
}

/// `--method`.
#[derive(Clone, Copy, ValueEnum)]
pub enum MethodArg {
    Alphapruning,
    Tempbalance,
    Alphadecay,
}

/// `--mapping`.
#[derive(Clone, Copy, ValueEnum)]
pub enum MappingArg {
    Block,
    Layer,
}

/// `--map`.
#[derive(Clone, Copy, ValueEnum)]
pub enum MapArg {
    Linear,
    Sqrt,
    Log2,
    Step,
}

impl Args {
    /// The library method these arguments stand for.
    fn method(&self) -> anyhow::Result<Method> {
        let ratios = |default: (f64, f64)| match self.ratios.as_deref() {
            None => Ok(default),
            Some(&[a, b]) if a <= b => Ok((a, b)),
            Some(_) => bail!("--ratios MIN,MAX needs MIN <= MAX"),
        };
        let map = match self.map {
            MapArg::Linear => Map::Linear,
            MapArg::Sqrt => Map::Sqrt,
            MapArg::Log2 => Map::Log2,
            MapArg::Step => Map::Step,
        };
        Ok(match self.method {
            MethodArg::Alphapruning => {
                let Some(sparsity) = self.sparsity else {
                    bail!("--method alphapruning needs --sparsity S (e.g. 0.7)");
                };
                let block_regex = match &self.block_regex {
                    Some(r) => {
                        regex::Regex::new(r).with_context(|| format!("--block-regex {r:?}"))?
                    }
                    None => default_block_regex(),
                };
                Method::AlphaPruning(PruningOptions {
                    sparsity,
                    epsilon: self.epsilon,
                    mapping: match self.mapping {
                        MappingArg::Block => Mapping::Block,
                        MappingArg::Layer => Mapping::Layer,
                    },
                    clip: self.clip,
                    block_regex,
                })
            }
            MethodArg::Tempbalance => Method::TempBalance(ScheduleOptions {
                base: self
                    .lr
                    .context("--method tempbalance needs --lr LR (e.g. 0.1)")?,
                ratios: ratios((0.5, 1.5))?,
                map,
                min_evals: self.min_evals,
            }),
            MethodArg::Alphadecay => Method::AlphaDecay(ScheduleOptions {
                base: self
                    .wd
                    .context("--method alphadecay needs --wd WD (e.g. 5e-4)")?,
                ratios: ratios((0.666, 3.0))?,
                map,
                min_evals: self.min_evals,
            }),
        })
    }

    fn metric(&self) -> anyhow::Result<Metric> {
        let default = match self.method {
            MethodArg::Alphapruning => "alpha_peak",
            _ => "alpha_mid",
        };
        let name = self.metric.as_deref().unwrap_or(default);
        name.parse().with_context(|| "--metric".to_string())
    }
}

/// Whether INPUT is a saved result rather than a checkpoint.
fn is_result(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The `htdiag analyze` flag whose analysis `allocate` needs and `result` lacks: the library
/// names what is missing (a fit, a layer rule set, one row per layer, MP or randomized
/// columns); the command line names the flag.
fn analyze_flag(result: &AnalysisResult, method: &Method, metric: Metric) -> Option<String> {
    if metric.check(result).is_err() {
        let want = metric.fit_method()?;
        return Some(format!("--fit {}", format!("{want:?}").to_lowercase()));
    }
    if result.layers.iter().any(|l| l.slice_id.is_some()) {
        return Some("one row per layer (without --per-slice)".into());
    }
    if !method.unanalysed(result).is_empty() {
        return Some(format!("--rules {}", method.rules()));
    }
    let lacks = |f: fn(&htdiag::result::LayerResult) -> bool| result.layers.iter().any(f);
    match metric {
        Metric::MpSoftrank if lacks(|l| l.mp.is_none()) => Some("--mp-fit".into()),
        Metric::RandDistance if lacks(|l| l.randomized.is_none()) => Some("--randomize".into()),
        _ => None,
    }
}

/// Analyses a checkpoint with the method's rules and the fit the metric needs.
fn analyse(args: &Args, metric: Metric) -> anyhow::Result<AnalysisResult> {
    let mut opts = AnalyzeOptions {
        threads: args.threads,
        mp_fit: metric == Metric::MpSoftrank,
        randomize: (metric == Metric::RandDistance).then_some(0),
        ..AnalyzeOptions::default()
    };
    match args.method {
        MethodArg::Alphapruning => Rules::AlphaPruning.apply(&mut opts),
        _ => Rules::TempBalance.apply(&mut opts),
    }
    opts.fit.method = match metric {
        Metric::AlphaPeak => FitMethod::Peak,
        Metric::AlphaMid => FitMethod::Median,
        Metric::Alpha | Metric::AlphaWeighted | Metric::LogAlphaNorm => FitMethod::Clauset,
        _ => opts.fit.method,
    };
    crate::rules_args::apply(&mut opts, None, true, args.precision)?;
    let ckpt = Checkpoint::open(&args.input)?;
    let progress = Progress::new(args.quiet);
    let result = analyze(&ckpt, &opts, &progress, None)?;
    progress.finish();
    Ok(result)
}

fn write_outputs(a: &Allocation, result: &AnalysisResult, args: &Args) -> anyhow::Result<()> {
    if let Some(p) = &args.json {
        htdiag::util::atomic_write(p, output::to_json(a)?.as_bytes())?;
    }
    if let Some(p) = &args.csv {
        htdiag::util::atomic_write(p, output::to_csv(a).as_bytes())?;
    }
    if let Some(p) = &args.result {
        let text = htdiag::report::json::to_json(result)?;
        htdiag::util::atomic_write(p, text.as_bytes())?;
    }
    if let Some(p) = &args.report {
        htdiag::report::allocation::write_html(result, a, p)
            .with_context(|| format!("writing the report {}", p.display()))?;
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let method = args.method()?;
    let metric = args.metric()?;
    let result = if is_result(&args.input) {
        if args.precision.is_some() || args.result.is_some() {
            bail!("--precision and --result apply when INPUT is a checkpoint, not a result JSON");
        }
        htdiag::report::load::read_result(&args.input)?
    } else {
        analyse(&args, metric)?
    };
    let a = allocate(&result, &method, metric).map_err(|e| {
        let e = anyhow::Error::from(e).context(format!(
            "allocating {} from {}",
            method.as_str(),
            args.input.display()
        ));
        match analyze_flag(&result, &method, metric) {
            Some(flag) => crate::exit::hint(e, format!("analyse with {flag}")),
            None => e,
        }
    })?;
    write_outputs(&a, &result, &args)?;
    if !args.quiet {
        print!("{}", output::render_table(&a));
    } else {
        for w in &a.warnings {
            eprintln!("htdiag: warning: {w}");
        }
    }
    Ok(())
}
