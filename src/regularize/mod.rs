//! Heavy-tailed penalties with exact gradients: the CPU reference of REGULARIZATION.md.
//!
//! After Xiao, Li, Xie & Zhou, "Heavy-Tailed Regularization of Weight Matrices in Deep Neural
//! Networks" (ICANN 2023, arXiv:2304.02911). That paper's exact equations and coefficients
//! were not available, so every formula here is htdiag's own precise definition (see
//! `spec/REGULARIZATION.md` and each penalty's module).
//!
//! Every penalty `R` of one weight matrix `W` (`rows x cols`, row-major f64) is a function of
//! the eigenvalues `lambda_0 <= ... <= lambda_{n-1}` of the Gram matrix of its smaller side
//! (`n = min(rows, cols)`). The gradient is assembled in two parts, so that a GPU trainer can
//! reuse the spectral part and do the products itself:
//!
//! 1. [`Penalty::spectral_coefficients`]: eigenvalues in, value and `g_i = dR/dlambda_i` out;
//! 2. [`spectral::assemble_gradient`]: `dR/dW = 2 W V diag(g) V^T` (`W^T W` side) or
//!    `2 U diag(g) U^T W` (`W W^T` side).
//!
//! Stable rank and spectral norm need only the top singular pair: their default route is
//! Lanczos ([`lanczos::top_pair_lanczos`]; plain power iteration, [`spectral::top_pair`], on
//! request), warm-started from the previous step through [`LayerState`]. Weight decay is
//! closed form.
//!
//! A trainer keeps one [`LayerState`] per layer, made by [`LayerState::new`] on the initial
//! weights, and calls [`Penalty::value_and_grad`] (or, with the weight `mu`, the decay
//! schedule and the lower threshold, [`Regularizer::value_and_grad`]) once per layer per step.

pub mod frechet_prior;
pub mod lanczos;
pub mod power_law_prior;
pub mod spectral;
pub mod spectral_norm;
pub mod stable_rank;
pub mod variations;
pub mod view;
pub mod weight_decay;
pub mod weighted_alpha;

use serde::{Deserialize, Serialize};

pub use frechet_prior::FrechetParams;
pub use power_law_prior::{PowerLawParams, PriorExponent};
pub use spectral::{Decomposition, GramSide, PowerOptions, TopPair, assemble_gradient, decompose};
pub use spectral_norm::SpectralNormParams;
pub use stable_rank::{StableRankParams, TopRoute};
pub use variations::{DecayKind, DecaySchedule, Regularizer};
pub use view::{MatrixPenalty, MatrixView, ViewMatrix, ViewPenalty};
pub use weighted_alpha::{HillEstimate, WeightedAlphaParams, median_hill};

use crate::error::{Error, Result};

/// One penalty and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Penalty {
    /// `alpha_hat * log10(lambda_max)` ([`weighted_alpha`]).
    WeightedAlpha(WeightedAlphaParams),
    /// `||W||_F^2 / ||W||_2^2` ([`stable_rank`]).
    StableRank(StableRankParams),
    /// `a * sum_{i >= k} ln(lambda_i)` ([`power_law_prior`]).
    PowerLawPrior(PowerLawParams),
    /// `(1 + a) ln(lambda_max / s) + (lambda_max / s)^(-a)` ([`frechet_prior`]).
    FrechetPrior(FrechetParams),
    /// `||W||_F^2`, the L2 baseline ([`weight_decay`]).
    WeightDecay,
    /// `sigma_max^2`, the spectral-norm baseline ([`spectral_norm`]).
    SpectralNorm(SpectralNormParams),
}

/// Per-layer quantities that a step holds constant, plus the power-iteration warm start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerState {
    /// The layer's `lambda_max` at the start of training: the default Frechet scale.
    pub initial_lambda_max: Option<f64>,
    /// `alpha_hat` held constant within the step (the power-law prior's
    /// [`PriorExponent::CurrentAlpha`] and the default Frechet shape `alpha_hat - 1`).
    /// `None`: computed from the matrix being evaluated, without gradient, which is the same
    /// thing when the penalty is evaluated once per step.
    pub alpha_hat: Option<f64>,
    /// The top eigenvector of the smaller Gram matrix from the last Krylov solve;
    /// updated by [`Penalty::value_and_grad`].
    #[serde(skip)]
    pub warm_start: Option<Vec<f64>>,
}

impl LayerState {
    /// The state of a layer at the start of training: records its `lambda_max`.
    pub fn new(w: &[f64], rows: usize, cols: usize) -> Result<Self> {
        let evals = spectral::eigenvalues(w, rows, cols)?;
        Ok(LayerState {
            initial_lambda_max: evals.last().copied(),
            alpha_hat: None,
            warm_start: None,
        })
    }
}

/// A penalty's value and spectral coefficients when they depend only on `lambda_max` and
/// `sum lambda = ||W||_F^2`: `g_top` for `lambda_max`, `g_rest` for every other eigenvalue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopTerm {
    /// `R`.
    pub value: f64,
    /// `dR/dlambda_max`.
    pub g_top: f64,
    /// `dR/dlambda_i` for every other `i`.
    pub g_rest: f64,
}

/// A penalty's value and spectral coefficients for one spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralTerm {
    /// `R(lambda)`.
    pub value: f64,
    /// `g_i = dR/dlambda_i`, one per eigenvalue (ascending order, as given).
    pub g: Vec<f64>,
}

impl Penalty {
    /// Short stable name, spelled as the command line spells it (`weighted-alpha`), for
    /// messages and run descriptions. (The JSON tag of a [`Penalty`] is the snake_case form.)
    pub fn name(&self) -> &'static str {
        match self {
            Penalty::WeightedAlpha(_) => "weighted-alpha",
            Penalty::StableRank(_) => "stable-rank",
            Penalty::PowerLawPrior(_) => "power-law-prior",
            Penalty::FrechetPrior(_) => "frechet-prior",
            Penalty::WeightDecay => "weight-decay",
            Penalty::SpectralNorm(_) => "spectral-norm",
        }
    }

    /// The Krylov route (power iteration or Lanczos, with its options) when this penalty
    /// needs only the top singular pair and takes that route (stable rank, spectral norm);
    /// `None` when it needs the full spectrum (or, for weight decay, none at all).
    pub fn top_route(&self) -> Option<TopRoute> {
        match self {
            Penalty::StableRank(StableRankParams { route })
            | Penalty::SpectralNorm(SpectralNormParams { route })
                if *route != TopRoute::Eigen =>
            {
                Some(*route)
            }
            _ => None,
        }
    }

    /// Whether [`Penalty::top_coefficients`] applies: the penalty's coefficients depend only
    /// on `lambda_max` and `||W||_F^2` (spectral norm and stable rank unless their route is
    /// [`TopRoute::Eigen`], weight decay, the Frechet prior when its shape is given or held
    /// in `state`), so a refresh needs the top singular pair, not the decomposition.
    pub fn top_only(&self, state: &LayerState) -> bool {
        match self {
            Penalty::StableRank(_) | Penalty::SpectralNorm(_) => self.top_route().is_some(),
            Penalty::WeightDecay => true,
            Penalty::FrechetPrior(p) => p.shape.is_some() || state.alpha_hat.is_some(),
            _ => false,
        }
    }

    /// Value and coefficients from `lambda_max` and `frob2 = ||W||_F^2` alone, for a penalty
    /// that is [`Penalty::top_only`] (an error otherwise). The same numbers as
    /// [`Penalty::spectral_coefficients`] on the full spectrum.
    pub fn top_coefficients(
        &self,
        lambda_max: f64,
        frob2: f64,
        state: &LayerState,
    ) -> Result<TopTerm> {
        self.validate()?;
        if !self.top_only(state) {
            return Err(Error::InvalidArgument(format!(
                "{}: needs the whole spectrum, not only the top pair",
                self.name()
            )));
        }
        if !(lambda_max.is_finite() && lambda_max >= 0.0 && frob2.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "penalty: lambda_max {lambda_max} and ||W||_F^2 {frob2}"
            )));
        }
        let top = |(value, g): (f64, Vec<f64>)| TopTerm {
            value,
            g_top: g[0],
            g_rest: 0.0,
        };
        Ok(match self {
            Penalty::StableRank(_) => {
                let (value, g_top, g_rest) = stable_rank::from_sums(frob2, lambda_max);
                TopTerm {
                    value,
                    g_top,
                    g_rest,
                }
            }
            Penalty::WeightDecay => TopTerm {
                value: frob2,
                g_top: 1.0,
                g_rest: 1.0,
            },
            _ => top(self
                .spectral_coefficients(&[lambda_max], state)
                .map(|t| (t.value, t.g))?),
        })
    }

    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidArgument(what));
        match self {
            Penalty::WeightedAlpha(p) if !(p.alpha_max.is_finite() && p.alpha_max > 1.0) => {
                bad(format!(
                    "weighted alpha: alpha_max must exceed 1, got {}",
                    p.alpha_max
                ))
            }
            Penalty::PowerLawPrior(PowerLawParams {
                exponent: PriorExponent::Fixed(a),
            }) if !(a.is_finite() && *a > 0.0) => {
                bad(format!("power-law prior: exponent must be > 0, got {a}"))
            }
            Penalty::FrechetPrior(p)
                if p.shape.is_some_and(|a| !(a.is_finite() && a > 0.0))
                    || p.scale.is_some_and(|s| !(s.is_finite() && s > 0.0)) =>
            {
                bad(format!(
                    "Frechet prior: shape and scale must be > 0, got {:?} and {:?}",
                    p.shape, p.scale
                ))
            }
            Penalty::StableRank(StableRankParams {
                route: TopRoute::Power(o) | TopRoute::Lanczos(o),
            })
            | Penalty::SpectralNorm(SpectralNormParams {
                route: TopRoute::Power(o) | TopRoute::Lanczos(o),
            }) if !(o.tol.is_finite() && o.tol > 0.0) => bad(format!(
                "top singular pair: tolerance must be > 0, got {}",
                o.tol
            )),
            _ => Ok(()),
        }
    }

    /// The layer's `alpha_hat` for the priors: the state's held value, else the estimate of
    /// this spectrum.
    fn held_alpha(evals: &[f64], state: &LayerState) -> Result<f64> {
        match state.alpha_hat {
            Some(a) if a.is_finite() => Ok(a),
            Some(a) => Err(Error::InvalidArgument(format!(
                "LayerState::alpha_hat is {a}"
            ))),
            None => Ok(median_hill(evals, weighted_alpha::DEFAULT_ALPHA_MAX)?.alpha),
        }
    }

    /// Value and spectral coefficients `g_i = dR/dlambda_i` of an ascending spectrum (the
    /// eigenvalues of the smaller Gram matrix). This is the part a GPU trainer reuses: it
    /// then forms `2 W V diag(g) V^T` itself (or calls [`assemble_gradient`]).
    pub fn spectral_coefficients(&self, evals: &[f64], state: &LayerState) -> Result<SpectralTerm> {
        self.validate()?;
        if evals.is_empty() {
            return Err(Error::InvalidArgument(
                "penalty: empty spectrum".to_string(),
            ));
        }
        weighted_alpha::check_ascending(evals)?;
        let (value, g) = match self {
            Penalty::WeightedAlpha(p) => {
                let (v, g, _) = weighted_alpha::coefficients(evals, p)?;
                (v, g)
            }
            Penalty::StableRank(_) => stable_rank::coefficients(evals)?,
            Penalty::PowerLawPrior(p) => {
                let a = match p.exponent {
                    PriorExponent::Fixed(a) => a,
                    PriorExponent::CurrentAlpha => Self::held_alpha(evals, state)?,
                };
                power_law_prior::coefficients(evals, a)?
            }
            Penalty::FrechetPrior(p) => {
                let shape = match p.shape {
                    Some(a) => a,
                    None => Self::held_alpha(evals, state)? - 1.0,
                };
                let scale = match (p.scale, state.initial_lambda_max) {
                    (Some(s), _) => s,
                    (None, Some(s)) => s,
                    (None, None) => {
                        return Err(Error::InvalidArgument(
                            "Frechet prior: no scale given and the layer state has no initial \
                             lambda_max (make it with LayerState::new on the initial weights)"
                                .to_string(),
                        ));
                    }
                };
                frechet_prior::coefficients(evals, shape, scale)?
            }
            Penalty::WeightDecay => weight_decay::coefficients(evals),
            Penalty::SpectralNorm(_) => spectral_norm::coefficients(evals),
        };
        Ok(SpectralTerm { value, g })
    }

    /// The penalty's value only (eigenvalues without vectors; closed form for weight decay).
    pub fn value(&self, w: &[f64], rows: usize, cols: usize, state: &LayerState) -> Result<f64> {
        self.validate()?;
        if let Penalty::WeightDecay = self {
            spectral::check_matrix(w, rows, cols)?;
            return Ok(weight_decay::value_and_grad(w).0);
        }
        let evals = spectral::eigenvalues(w, rows, cols)?;
        Ok(self.spectral_coefficients(&evals, state)?.value)
    }

    /// Value and gradient `dR/dW` (row-major `rows x cols`) by the cheapest exact route:
    /// closed form for weight decay, the top singular pair for stable rank and spectral norm
    /// (unless their route is [`TopRoute::Eigen`]), the eigen-decomposition otherwise.
    /// Updates `state.warm_start` when a Krylov route ran.
    pub fn value_and_grad(
        &self,
        w: &[f64],
        rows: usize,
        cols: usize,
        state: &mut LayerState,
    ) -> Result<(f64, Vec<f64>)> {
        self.validate()?;
        spectral::check_matrix(w, rows, cols)?;
        if let Penalty::WeightDecay = self {
            return Ok(weight_decay::value_and_grad(w));
        }
        let warm = state.warm_start.as_deref();
        let top = match self.top_route() {
            Some(TopRoute::Power(o)) => spectral::top_pair(w, rows, cols, warm, &o)?,
            Some(TopRoute::Lanczos(o)) => lanczos::top_pair_lanczos(w, rows, cols, warm, &o)?,
            _ => return self.value_and_grad_eigen(w, rows, cols, state),
        };
        let out = if let Penalty::StableRank(_) = self {
            stable_rank::from_top_pair(w, &top)
        } else {
            let mut grad = vec![0.0; w.len()];
            top.add_gradient(1.0, &mut grad);
            (top.lambda, grad)
        };
        state.warm_start = Some(top.vector);
        Ok(out)
    }

    /// Value and gradient through the full eigen-decomposition, for any penalty:
    /// `dR/dW = 2 W V diag(g) V^T` (or `2 U diag(g) U^T W` for a wide matrix).
    pub fn value_and_grad_eigen(
        &self,
        w: &[f64],
        rows: usize,
        cols: usize,
        state: &LayerState,
    ) -> Result<(f64, Vec<f64>)> {
        self.validate()?;
        let dec = decompose(w, rows, cols)?;
        let term = self.spectral_coefficients(&dec.evals, state)?;
        let grad = assemble_gradient(w, rows, cols, &dec, &term.g)?;
        Ok((term.value, grad))
    }
}
