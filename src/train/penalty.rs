//! The bridge between the trainer and the CPU reference penalties of [`crate::regularize`]:
//! at every spectrum refresh the trainer hands each layer's eigenvalues to
//! [`crate::regularize::Regularizer::spectral_coefficients`], which returns the weighted value
//! `mu_e * max(0, R - t)` and `g = mu_e [R > t] dR/dlambda`; the backend then assembles
//! `2 W V diag(g) V^T` on its device. No penalty math lives here.

use crate::error::{Error, Result};
use crate::regularize::{LayerState, Regularizer};

/// A penalty on the eigenvalues of each regularized layer, as the trainer sees it.
/// `Send + Sync`: the refresh worker thread ([`super::refresh_worker`]) calls
/// [`SpectralPenalty::spectral`] while the training thread steps.
pub trait SpectralPenalty: Send + Sync {
    /// Short description for logs and the JSON.
    fn describe(&self) -> String;
    /// Called once before the first step with every layer's initial eigenvalues (ascending),
    /// for defaults fixed at the start of training (e.g. the Frechet scale).
    fn start(&mut self, layer: usize, eigenvalues: &[f64]) -> Result<()>;
    /// The weighted layer penalty `mu_e * max(0, R - t)` and its spectral coefficients
    /// `g = mu_e [R > t] dR/d lambda` at epoch `epoch` (0-based) for the eigenvalues
    /// `eigenvalues` (ascending); decay schedule and threshold included.
    fn spectral(&self, layer: usize, eigenvalues: &[f64], epoch: usize) -> Result<(f64, Vec<f64>)>;
    /// The weight `mu_e` at epoch `epoch` after any decay; 0 switches the penalty off.
    fn weight(&self, epoch: usize) -> f64;
    /// Whether the coefficients span half the spectrum (weighted alpha, the power-law prior),
    /// so that the per-step product `2 W V diag(g) V^T` is full-rank, not rank one plus a
    /// multiple of the identity ([`super::refresh::RefreshPolicy::holds`]).
    fn full_rank_product(&self) -> bool {
        false
    }
    /// Whether layer `layer`'s coefficients depend only on `lambda_max` and `||W||_F^2`
    /// (then a refresh needs the top singular pair, not the decomposition).
    fn top_only(&self, _layer: usize) -> bool {
        false
    }
    /// `(value, g_top, g_rest)`, weighted like [`SpectralPenalty::spectral`], from
    /// `lambda_max` and `||W||_F^2`, for a layer that is [`SpectralPenalty::top_only`].
    fn top_coefficients(
        &self,
        layer: usize,
        _lambda_max: f64,
        _frob2: f64,
        _epoch: usize,
    ) -> Result<(f64, f64, f64)> {
        Err(Error::InvalidArgument(format!(
            "penalty of layer {layer} needs the whole spectrum"
        )))
    }
}

/// A [`Regularizer`] applied to every layer of a model, with one [`LayerState`] per layer.
#[derive(Debug, Clone)]
pub struct LayerPenalties {
    /// The penalty, its weight and variations.
    pub regularizer: Regularizer,
    states: Vec<LayerState>,
}

impl LayerPenalties {
    /// Checks the regularizer's hyper-parameters.
    pub fn new(regularizer: Regularizer) -> Result<LayerPenalties> {
        regularizer.validate()?;
        Ok(LayerPenalties {
            regularizer,
            states: Vec::new(),
        })
    }

    fn state(&self, layer: usize) -> Result<&LayerState> {
        self.states.get(layer).ok_or_else(|| {
            Error::InvalidArgument(format!("penalty: layer {layer} was not started"))
        })
    }
}

impl SpectralPenalty for LayerPenalties {
    fn describe(&self) -> String {
        format!(
            "{} (mu = {})",
            self.regularizer.penalty.name(),
            self.regularizer.mu
        )
    }

    fn full_rank_product(&self) -> bool {
        use crate::regularize::Penalty;
        matches!(
            self.regularizer.penalty,
            Penalty::WeightedAlpha(_) | Penalty::PowerLawPrior(_)
        )
    }

    fn start(&mut self, layer: usize, eigenvalues: &[f64]) -> Result<()> {
        if self.states.len() <= layer {
            self.states.resize(layer + 1, LayerState::default());
        }
        self.states[layer] = LayerState {
            initial_lambda_max: eigenvalues.last().copied(),
            alpha_hat: None,
            warm_start: None,
        };
        Ok(())
    }

    fn spectral(&self, layer: usize, eigenvalues: &[f64], epoch: usize) -> Result<(f64, Vec<f64>)> {
        let state = self.state(layer)?;
        let t = self
            .regularizer
            .spectral_coefficients(eigenvalues, state, epoch)?;
        Ok((t.value, t.g))
    }

    fn weight(&self, epoch: usize) -> f64 {
        self.regularizer.weight(epoch)
    }

    fn top_only(&self, layer: usize) -> bool {
        self.states
            .get(layer)
            .is_some_and(|s| self.regularizer.penalty.top_only(s))
    }

    fn top_coefficients(
        &self,
        layer: usize,
        lambda_max: f64,
        frob2: f64,
        epoch: usize,
    ) -> Result<(f64, f64, f64)> {
        let state = self.state(layer)?;
        let t = self
            .regularizer
            .top_coefficients(lambda_max, frob2, state, epoch)?;
        Ok((t.value, t.g_top, t.g_rest))
    }
}
