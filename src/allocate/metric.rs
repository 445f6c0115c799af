//! Which per-layer number drives an allocation (`--metric`): AlphaPruning's `alpha_peak`
//! (default) and `alpha_mid`, TempBalance's median alpha, or any metric column of the result
//! (AlphaPruning's `ww_metric` choices).

use std::str::FromStr;

use crate::error::{Error, Result};
use crate::fit::FitMethod;
use crate::result::{AnalysisResult, LayerResult, LayerStatus};

/// A per-layer metric of the canonical result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// alpha of whatever fit the analysis used.
    Alpha,
    /// alpha of the peak estimator (`--fit peak`).
    AlphaPeak,
    /// alpha of the median estimator (`--fit median`).
    AlphaMid,
    /// alpha * log10(lambda_max) (their `alphahat`).
    AlphaWeighted,
    /// log10(sum lambda^alpha).
    LogAlphaNorm,
    /// log10(sum lambda).
    LogNorm,
    /// log10(lambda_max).
    LogSpectralNorm,
    /// lambda_max.
    SpectralNorm,
    /// sum lambda / lambda_max.
    StableRank,
    /// Normalised spectral entropy.
    Entropy,
    /// bulk_max / lambda_max (needs `--mp-fit`).
    MpSoftrank,
    /// Distance to the randomized ESD (needs `--randomize`).
    RandDistance,
}

/// Every metric with its name, in the order of the help text.
pub const METRICS: [(Metric, &str); 12] = [
    (Metric::AlphaPeak, "alpha_peak"),
    (Metric::AlphaMid, "alpha_mid"),
    (Metric::Alpha, "alpha"),
    (Metric::AlphaWeighted, "alpha_weighted"),
    (Metric::LogAlphaNorm, "log_alpha_norm"),
    (Metric::LogNorm, "log_norm"),
    (Metric::LogSpectralNorm, "log_spectral_norm"),
    (Metric::SpectralNorm, "spectral_norm"),
    (Metric::StableRank, "stable_rank"),
    (Metric::Entropy, "entropy"),
    (Metric::MpSoftrank, "mp_softrank"),
    (Metric::RandDistance, "rand_distance"),
];

impl FromStr for Metric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Metric> {
        METRICS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                let names: Vec<&str> = METRICS.iter().map(|(_, n)| *n).collect();
                Error::InvalidArgument(format!(
                    "unknown metric {s:?} (one of {})",
                    names.join(", ")
                ))
            })
    }
}

impl Metric {
    /// The metric's name (`alpha_peak`, ...).
    pub fn as_str(self) -> &'static str {
        METRICS
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("alpha", |(_, n)| n)
    }

    /// The fit the analysis must use for this metric (None: any fit, or no alpha at all).
    pub fn fit_method(self) -> Option<FitMethod> {
        match self {
            Metric::AlphaPeak => Some(FitMethod::Peak),
            Metric::AlphaMid => Some(FitMethod::Median),
            _ => None,
        }
    }

    /// Checks that `result` was analysed with the fit this metric needs.
    pub fn check(self, result: &AnalysisResult) -> Result<()> {
        let Some(want) = self.fit_method() else {
            return Ok(());
        };
        let want = format!("{want:?}").to_lowercase();
        let used = result.options["fit"].as_str().unwrap_or("clauset");
        if used != want {
            return Err(Error::InvalidArgument(format!(
                "metric {} needs an analysis with the {want} fit, but {} was analysed with the \
                 {used} fit (pass the checkpoint instead, or analyse it again with the {want} fit)",
                self.as_str(),
                result.source
            )));
        }
        Ok(())
    }

    /// The metric's value on one row, or why it has none.
    pub fn value(self, row: &LayerResult) -> std::result::Result<f64, String> {
        if row.status == LayerStatus::Error {
            return Err(row.message.clone().unwrap_or_else(|| "error".into()));
        }
        let fit = row.fit.filter(|f| f.is_valid());
        let needs_fit = matches!(
            self,
            Metric::Alpha
                | Metric::AlphaPeak
                | Metric::AlphaMid
                | Metric::AlphaWeighted
                | Metric::LogAlphaNorm
        );
        if needs_fit && fit.is_none() {
            return Err(row
                .message
                .clone()
                .unwrap_or_else(|| "power-law fit failed".into()));
        }
        let m = row.metrics.as_ref().ok_or("no metrics")?;
        Ok(match self {
            Metric::Alpha | Metric::AlphaPeak | Metric::AlphaMid => {
                fit.map_or(f64::NAN, |f| f.alpha)
            }
            Metric::AlphaWeighted => m.alpha_weighted,
            Metric::LogAlphaNorm => m.log_alpha_norm,
            Metric::LogNorm => m.log_norm,
            Metric::LogSpectralNorm => m.log_spectral_norm,
            Metric::SpectralNorm => m.spectral_norm,
            Metric::StableRank => m.stable_rank,
            Metric::Entropy => m.entropy,
            Metric::MpSoftrank => {
                row.mp
                    .as_ref()
                    .ok_or("no Marchenko-Pastur fit (analyse with the MP fit)")?
                    .mp_softrank
            }
            Metric::RandDistance => {
                row.randomized
                    .as_ref()
                    .ok_or("no randomized ESD (analyse with randomization)")?
                    .rand_distance
            }
        })
    }
}
