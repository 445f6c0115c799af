//! A parameter tensor with its gradient and optimizer state, and the optimizer update
//! (see [`crate::train::backend`] step 5): coupled weight decay, then SGD with PyTorch's
//! momentum form or Adam with bias correction.

use crate::train::backend::{Optimizer, StepParams};
use crate::train::cpu::adam_corrections;

/// Values, gradient and optimizer moments of one parameter tensor.
#[derive(Debug, Clone)]
pub struct ParamState {
    /// Current values.
    pub w: Vec<f32>,
    /// Gradient of the current step.
    pub grad: Vec<f32>,
    m1: Vec<f32>,
    m2: Vec<f32>,
    /// Whether the optimizer moves it (an MLP layer without bias keeps zeros).
    pub trainable: bool,
}

impl ParamState {
    /// Fresh state (zero moments) for values `w`.
    pub fn new(w: Vec<f32>, trainable: bool) -> ParamState {
        let n = w.len();
        ParamState {
            w,
            grad: vec![0.0; n],
            m1: vec![0.0; n],
            m2: vec![0.0; n],
            trainable,
        }
    }

    /// One optimizer step with the gradient in `grad`.
    pub fn update(&mut self, opt: Optimizer, p: &StepParams) {
        if !self.trainable {
            return;
        }
        match opt {
            Optimizer::Sgd { momentum } => {
                for i in 0..self.w.len() {
                    let g = self.grad[i] + p.weight_decay * self.w[i];
                    let v = momentum * self.m1[i] + g;
                    self.m1[i] = v;
                    self.w[i] -= p.lr * v;
                }
            }
            Optimizer::Adam { beta1, beta2, eps } => {
                let (bc1, bc2) = adam_corrections(beta1, beta2, p.t);
                for i in 0..self.w.len() {
                    let g = self.grad[i] + p.weight_decay * self.w[i];
                    let m = beta1 * self.m1[i] + (1.0 - beta1) * g;
                    let v = beta2 * self.m2[i] + (1.0 - beta2) * g * g;
                    self.m1[i] = m;
                    self.m2[i] = v;
                    self.w[i] -= p.lr * (m / bc1) / ((v / bc2).sqrt() + eps);
                }
            }
        }
    }
}
