//! The two variations against over-regularization (REGULARIZATION.md, section 3; after Xiao
//! et al., ICANN 2023, arXiv:2304.02911, htdiag's own definitions), as a wrapper around any
//! [`Penalty`]:
//!
//! * decay: the weight at epoch `e` is `mu_e = mu * d(e)` with
//!   `d(e) = (1 + floor(e/m))^(-k)` ("power") or `exp(-k floor(e/m))` ("exp"), and
//!   `mu_e = 0` once `d(e) < t` (the penalty is switched off for good);
//! * lower threshold: a layer's penalty is the hinge `max(0, R - t)`: it stops acting once
//!   the layer's `R` (e.g. its weighted alpha) is at or below `t`, so regularization stops
//!   when the spectrum is heavy-tailed enough. Its gradient is `dR/dW` while `R > t`, else 0.
//!
//! The wrapped value is `mu_e * max(0, R - t)` (without threshold: `mu_e * R`).

use serde::{Deserialize, Serialize};

use super::{LayerState, Penalty, SpectralTerm, TopTerm};
use crate::error::{Error, Result};

/// Shape of the decay of the penalty weight over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecayKind {
    /// `d(e) = (1 + floor(e/m))^(-k)`.
    Power,
    /// `d(e) = exp(-k floor(e/m))`.
    Exp,
}

/// A decay schedule of the penalty weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecaySchedule {
    /// Power or exponential decay.
    pub kind: DecayKind,
    /// `m`: the weight changes every `m` epochs (>= 1).
    pub every: usize,
    /// `k`: decay rate (>= 0).
    pub rate: f64,
    /// `t`: the weight is 0 once `d(e) < t` (0 = never switched off).
    pub cutoff: f64,
}

impl DecaySchedule {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        if self.every == 0 {
            return Err(Error::InvalidArgument(
                "decay schedule: `every` must be at least 1 epoch".to_string(),
            ));
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "decay schedule: rate must be finite and >= 0, got {}",
                self.rate
            )));
        }
        if !(self.cutoff.is_finite() && self.cutoff >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "decay schedule: cutoff must be finite and >= 0, got {}",
                self.cutoff
            )));
        }
        Ok(())
    }

    /// `d(e)`, or 0 once it is below the cutoff.
    pub fn factor(&self, epoch: usize) -> f64 {
        let steps = (epoch / self.every.max(1)) as f64;
        let d = match self.kind {
            DecayKind::Power => (1.0 + steps).powf(-self.rate),
            DecayKind::Exp => (-self.rate * steps).exp(),
        };
        if d < self.cutoff { 0.0 } else { d }
    }
}

/// A penalty with its weight `mu` and the optional variations: what a trainer applies to
/// each regularized layer (the total is the sum over layers).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Regularizer {
    /// The penalty.
    pub penalty: Penalty,
    /// Its weight `mu` (>= 0).
    pub mu: f64,
    /// Optional decay of `mu` over epochs.
    pub decay: Option<DecaySchedule>,
    /// Optional lower threshold `t` of the hinge `max(0, R - t)`.
    pub threshold: Option<f64>,
}

impl Regularizer {
    /// A plain penalty with weight `mu`, no decay, no threshold.
    pub fn new(penalty: Penalty, mu: f64) -> Self {
        Regularizer {
            penalty,
            mu,
            decay: None,
            threshold: None,
        }
    }

    /// Checks every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        if !(self.mu.is_finite() && self.mu >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "penalty weight mu must be finite and >= 0, got {}",
                self.mu
            )));
        }
        if let Some(t) = self.threshold
            && !t.is_finite()
        {
            return Err(Error::InvalidArgument(format!(
                "lower threshold must be finite, got {t}"
            )));
        }
        if let Some(d) = &self.decay {
            d.validate()?;
        }
        self.penalty.validate()
    }

    /// The weight `mu_e` at `epoch`.
    pub fn weight(&self, epoch: usize) -> f64 {
        self.mu * self.decay.map_or(1.0, |d| d.factor(epoch))
    }

    /// `(mu_e * max(0, R - t), mu_e * [R > t])`: the wrapped value and the factor that
    /// multiplies `dR/dW`.
    pub fn wrap(&self, r: f64, epoch: usize) -> (f64, f64) {
        let mu = self.weight(epoch);
        match self.threshold {
            Some(t) if r <= t => (0.0, 0.0),
            Some(t) => (mu * (r - t), mu),
            None => (mu * r, mu),
        }
    }

    /// Value and gradient of the wrapped penalty. When `mu_e = 0` (decayed away) nothing is
    /// computed and the result is `(0, zeros)`.
    pub fn value_and_grad(
        &self,
        w: &[f64],
        rows: usize,
        cols: usize,
        state: &mut LayerState,
        epoch: usize,
    ) -> Result<(f64, Vec<f64>)> {
        self.validate()?;
        if self.weight(epoch) == 0.0 {
            super::spectral::check_matrix(w, rows, cols)?;
            return Ok((0.0, vec![0.0; w.len()]));
        }
        let (r, mut grad) = self.penalty.value_and_grad(w, rows, cols, state)?;
        let (value, scale) = self.wrap(r, epoch);
        for g in grad.iter_mut() {
            *g *= scale;
        }
        Ok((value, grad))
    }

    /// The wrapped value only.
    pub fn value(
        &self,
        w: &[f64],
        rows: usize,
        cols: usize,
        state: &LayerState,
        epoch: usize,
    ) -> Result<f64> {
        self.validate()?;
        let r = self.penalty.value(w, rows, cols, state)?;
        Ok(self.wrap(r, epoch).0)
    }

    /// The wrapped spectral coefficients (for a GPU trainer that assembles the gradient).
    pub fn spectral_coefficients(
        &self,
        evals: &[f64],
        state: &LayerState,
        epoch: usize,
    ) -> Result<SpectralTerm> {
        self.validate()?;
        let term = self.penalty.spectral_coefficients(evals, state)?;
        let (value, scale) = self.wrap(term.value, epoch);
        Ok(SpectralTerm {
            value,
            g: term.g.into_iter().map(|g| g * scale).collect(),
        })
    }

    /// The wrapped [`Penalty::top_coefficients`].
    pub fn top_coefficients(
        &self,
        lambda_max: f64,
        frob2: f64,
        state: &LayerState,
        epoch: usize,
    ) -> Result<TopTerm> {
        self.validate()?;
        let t = self.penalty.top_coefficients(lambda_max, frob2, state)?;
        let (value, scale) = self.wrap(t.value, epoch);
        Ok(TopTerm {
            value,
            g_top: t.g_top * scale,
            g_rest: t.g_rest * scale,
        })
    }
}
