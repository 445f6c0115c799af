//! `--rules` and `--precision`, shared by `htdiag analyze` and `htdiag allocate`.

use anyhow::bail;
use clap::ValueEnum;
use htdiag::analyze::{AnalyzeOptions, Rules};
use htdiag::fit::{FitMethod, Precision};

/// `--rules`.
#[derive(Clone, Copy, ValueEnum)]
pub enum RulesArg {
    /// AlphaPruning: the Linear/Conv2d weights inside the transformer blocks, alpha_peak, f32.
    Alphapruning,
    /// TempBalance: every Linear/Conv2d weight (embeddings excepted), median fit, f32.
    Tempbalance,
}

impl From<RulesArg> for Rules {
    fn from(r: RulesArg) -> Rules {
        match r {
            RulesArg::Alphapruning => Rules::AlphaPruning,
            RulesArg::Tempbalance => Rules::TempBalance,
        }
    }
}

/// `--precision`.
#[derive(Clone, Copy, ValueEnum)]
pub enum PrecisionArg {
    F64,
    F32,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Precision {
        match p {
            PrecisionArg::F64 => Precision::F64,
            PrecisionArg::F32 => Precision::F32,
        }
    }
}

/// Applies `--rules` to options built from the other flags (an explicit `--fit` keeps its
/// method), then `--precision`, and refuses f32 with the Clauset fit (which runs in f64 only).
pub fn apply(
    opts: &mut AnalyzeOptions,
    rules: Option<RulesArg>,
    explicit_fit: bool,
    precision: Option<PrecisionArg>,
) -> anyhow::Result<()> {
    if let Some(r) = rules {
        let method = opts.fit.method;
        Rules::from(r).apply(opts);
        if explicit_fit {
            opts.fit.method = method;
        }
    }
    if let Some(p) = precision {
        opts.fit.precision = p.into();
    }
    if opts.fit.method == FitMethod::Clauset && opts.fit.precision == Precision::F32 {
        if precision.is_some() {
            bail!("--precision f32 applies to --fit median and --fit peak only");
        }
        opts.fit.precision = Precision::F64;
    }
    Ok(())
}
