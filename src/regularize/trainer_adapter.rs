//! The bridge to the trainer: [`LayerPenalties`] implements
//! [`crate::train::SpectralPenalty`] for any [`Regularizer`], keeping one [`LayerState`] per
//! layer (the initial `lambda_max` for the Frechet scale).
//!
//! The trainer asks for the spectral part only (`R` and `g = dR/dlambda` of an ascending
//! spectrum, hinge threshold included) and multiplies by [`SpectralPenalty::mu`] itself, which
//! carries the decay schedule; it assembles `2 mu W V diag(g) V^T` on its backend.

use super::{LayerState, Regularizer};
use crate::error::{Error, Result};
use crate::train::SpectralPenalty;

/// A [`Regularizer`] applied to every regularized layer of a model.
#[derive(Debug, Clone)]
pub struct LayerPenalties {
    reg: Regularizer,
    states: Vec<LayerState>,
}

impl LayerPenalties {
    /// Checks the hyper-parameters; layer states are filled by [`SpectralPenalty::start`].
    pub fn new(reg: Regularizer) -> Result<Self> {
        reg.validate()?;
        Ok(LayerPenalties {
            reg,
            states: Vec::new(),
        })
    }

    /// The wrapped regularizer.
    pub fn regularizer(&self) -> &Regularizer {
        &self.reg
    }

    /// The state of `layer` (default before [`SpectralPenalty::start`]).
    pub fn state(&self, layer: usize) -> LayerState {
        self.states.get(layer).cloned().unwrap_or_default()
    }
}

impl SpectralPenalty for LayerPenalties {
    fn describe(&self) -> String {
        let mut s = format!("{} (mu = {}", self.reg.penalty.name(), self.reg.mu);
        if let Some(d) = &self.reg.decay {
            s += &format!(
                ", decay {:?} every {} epochs, rate {}, cutoff {}",
                d.kind, d.every, d.rate, d.cutoff
            );
        }
        if let Some(t) = self.reg.threshold {
            s += &format!(", threshold {t}");
        }
        s + ")"
    }

    fn start(&mut self, layer: usize, eigenvalues: &[f64]) -> Result<()> {
        if eigenvalues.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "penalty: layer {layer} has an empty spectrum"
            )));
        }
        if self.states.len() <= layer {
            self.states.resize(layer + 1, LayerState::default());
        }
        self.states[layer].initial_lambda_max = eigenvalues.last().copied();
        Ok(())
    }

    fn value_and_grad(&self, layer: usize, eigenvalues: &[f64]) -> Result<(f64, Vec<f64>)> {
        let state = self.state(layer);
        let term = self
            .reg
            .penalty
            .spectral_coefficients(eigenvalues, &state)
            .map_err(|e| Error::InvalidArgument(format!("layer {layer}: {e}")))?;
        Ok(match self.reg.threshold {
            Some(t) if term.value <= t => (0.0, vec![0.0; term.g.len()]),
            Some(t) => (term.value - t, term.g),
            None => (term.value, term.g),
        })
    }

    fn mu(&self, epoch: usize) -> f64 {
        self.reg.weight(epoch)
    }
}
