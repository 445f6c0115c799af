//! The bridge between the trainer and the CPU reference penalties of [`crate::regularize`]:
//! at every spectrum refresh the trainer hands each layer's eigenvalues to
//! [`crate::regularize::Regularizer::spectral_coefficients`], which returns the weighted value
//! `mu_e * max(0, R - t)` and `g = mu_e [R > t] dR/dlambda`; the backend then assembles
//! `2 W V diag(g) V^T` on its device. No penalty math lives here.

use super::trainer::SpectralPenalty;
use crate::error::{Error, Result};
use crate::regularize::{LayerState, Regularizer};

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
}

impl SpectralPenalty for LayerPenalties {
    fn describe(&self) -> String {
        format!(
            "{} (mu = {})",
            self.regularizer.penalty.name(),
            self.regularizer.mu
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
        let state = self.states.get(layer).ok_or_else(|| {
            Error::InvalidArgument(format!("penalty: layer {layer} was not started"))
        })?;
        let t = self
            .regularizer
            .spectral_coefficients(eigenvalues, state, epoch)?;
        Ok((t.value, t.g))
    }

    fn weight(&self, epoch: usize) -> f64 {
        self.regularizer.weight(epoch)
    }
}
