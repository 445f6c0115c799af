//! What a training backend (CPU reference, wgpu) must do. The trainer loop
//! ([`super::trainer`]) owns the schedule (epochs, batches, penalty refreshes); a backend owns
//! the model's parameters and optimizer state, and computes one step.
//!
//! A backend runs a [`Net`] (an [`Mlp`] is the Linear/ReLU special case, see
//! [`Net::from_mlp`]). Penalties and weight read-backs address the *penalised weights*:
//! index `w` is the `w`-th entry of [`Net::penalised_weights`] (Linear and Conv2d weights in node
//! order; for an MLP, `w` is the layer index).
//!
//! For an MLP both backends compute the same f32 step, in the same order:
//! 1. forward: `a[l+1] = relu(a[l] W_l^T + b_l)` (no ReLU on the last layer);
//! 2. loss: mean softmax cross-entropy over the batch, `dz = (softmax - onehot) / B`;
//! 3. backward: `dW_l = dz_l^T a_l`, `db_l = sum_rows dz_l`, `dz_{l-1} = (dz_l W_l) * [a_l > 0]`;
//! 4. penalty (when set for a layer): `dW += c * W V diag(g) V^T` (or `c * U diag(g) U^T W`
//!    when the Gram matrix of the smaller side is `W W^T`), see [`PenaltySpectrum`];
//! 5. optimizer: coupled weight decay `g += wd * w` on every parameter, then SGD with momentum
//!    (PyTorch's form: `v = m v + g; w -= lr v`) or Adam (Kingma & Ba 2015, with bias correction).

use super::data::Dataset;
use super::model::Mlp;
use super::net::Net;
use crate::error::{Error, Result};

/// Optimizer and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Optimizer {
    /// Stochastic gradient descent with (PyTorch-style) momentum.
    Sgd {
        /// Momentum coefficient (0 = plain SGD).
        momentum: f32,
    },
    /// Adam.
    Adam {
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Denominator guard.
        eps: f32,
    },
}

/// Per-step optimizer inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepParams {
    /// Learning rate of this step.
    pub lr: f32,
    /// Coupled L2 weight decay (added to the gradient).
    pub weight_decay: f32,
    /// 1-based optimizer step count (Adam's bias correction, dropout masks).
    pub t: u64,
    /// 0-based epoch: training-set augmentation is a function of (seed, epoch, sample).
    pub epoch: usize,
}

/// Which Gram matrix the penalty's eigenvectors diagonalise (the one enum of
/// [`crate::regularize::spectral`]).
pub use crate::regularize::spectral::GramSide;

/// The spectral part of a layer's penalty gradient, computed on the CPU at a refresh step and
/// assembled against the current weights by the backend at every step until the next refresh.
#[derive(Debug, Clone, PartialEq)]
pub struct PenaltySpectrum {
    /// Side of the Gram matrix.
    pub side: GramSide,
    /// Order of the Gram matrix (min(out, in)).
    pub n: usize,
    /// `n x n` eigenvectors, row-major: column `i` belongs to `g[i]`.
    pub vectors: Vec<f32>,
    /// `g_i = dR/d lambda_i`.
    pub g: Vec<f32>,
    /// Coefficient `c` of the assembly (the trainer passes 2: `g` already carries `mu_e`).
    pub coef: f32,
    /// The backend may form `c W M` once, with the weights of the first step after the
    /// hand-over, and add that same matrix at every step until the next hand-over (the
    /// product then lags like `V` and `g`; the CPU path does this to save `n * out * in`
    /// multiply-adds per step). `false`: with the current `W` at every step.
    pub hold: bool,
}

/// Which registered data set to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training set.
    Train,
    /// The held-out set.
    Test,
}

/// Loss and accuracy over a data set.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Eval {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
}

/// The penalty of one convolution slice `W[:, :, i, j]` (the WeightWatcher conv view,
/// `regularize::MatrixView::ConvSlices`): its spectrum, assembled against the current slice every step.
#[derive(Debug, Clone, PartialEq)]
pub struct SlicePenalty {
    /// Kernel position `(i, j)` of the slice (an `out x in` matrix).
    pub slice: (usize, usize),
    /// Its spectrum (order `min(out, in)`).
    pub spectrum: PenaltySpectrum,
}

/// A training backend.
pub trait Backend {
    /// Human-readable name (device and driver).
    fn name(&self) -> String;
    /// One step on the training samples `batch`; its mean loss and number of correct
    /// predictions are recorded in slot `slot` of the epoch statistics.
    fn train_step(&mut self, batch: &[u32], slot: usize, p: &StepParams) -> Result<()>;
    /// Per-step (mean loss, correct count) of slots `0..steps`, then clears them.
    fn take_step_stats(&mut self, steps: usize) -> Result<Vec<(f32, u32)>>;
    /// Loss and accuracy of the current model on a registered data set (eval mode: batch norm
    /// uses its running statistics, dropout is the identity).
    fn evaluate(&mut self, split: Split) -> Result<Eval>;
    /// Sets (or with `None` clears) the penalty of penalised weight `weight` seen as one matrix:
    /// a Linear weight, or a convolution weight as `out x (in kh kw)` (its memory as stored).
    fn set_penalty(&mut self, weight: usize, spectrum: Option<&PenaltySpectrum>) -> Result<()>;
    /// Sets (or with an empty list clears) the penalty of convolution weight `weight` in the
    /// slice view: `dW[:, :, i, j] += c W_ij V diag(g) V^T` (or the left form) for each listed
    /// slice. This is the interface point for issue 12's conv penalties; backends that do not
    /// run convolutions refuse it.
    fn set_slice_penalties(&mut self, weight: usize, slices: &[SlicePenalty]) -> Result<()> {
        if slices.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidArgument(format!(
            "backend '{}' has no convolution slice penalties (weight {weight})",
            self.name()
        )))
    }
    /// Reads the current parameters and buffers back into `net` (same names and shapes).
    fn read_net(&mut self, net: &mut Net) -> Result<()>;
    /// Reads the current parameters back into an MLP `model` (through [`Backend::read_net`]).
    fn read_model(&mut self, model: &mut Mlp) -> Result<()> {
        let mut net = Net::from_mlp(model);
        self.read_net(&mut net)?;
        *model = net.to_mlp()?;
        Ok(())
    }
    /// Reads back only penalised weight `weight` (for spectrum refreshes), PyTorch layout.
    fn read_weight(&mut self, weight: usize) -> Result<Vec<f32>>;
    /// Eval-mode logits of the first `n` samples of a data set, `n x classes` row-major.
    fn logits(&mut self, split: Split, n: usize) -> Result<Vec<f32>> {
        let _ = (split, n);
        Err(Error::InvalidArgument(format!(
            "backend '{}' does not return logits",
            self.name()
        )))
    }
}

/// Checks that a model and data sets fit together.
pub fn check_fit(model: &Mlp, train: &Dataset, test: Option<&Dataset>) -> Result<()> {
    check_fit_dims(model.input_dim(), model.classes(), train, test)
}

/// Checks that data sets of `input_len` features per sample and labels below `classes` fit a
/// network.
pub fn check_fit_dims(
    input_len: usize,
    classes: usize,
    train: &Dataset,
    test: Option<&Dataset>,
) -> Result<()> {
    for (what, d) in std::iter::once(("training", train)).chain(test.map(|t| ("test", t))) {
        if d.dim != input_len {
            return Err(Error::InvalidArgument(format!(
                "{what} data has {} features per sample, the model expects {input_len}",
                d.dim,
            )));
        }
        if d.num_classes() > classes {
            return Err(Error::InvalidArgument(format!(
                "{what} data has label {} but the model has {classes} outputs",
                d.num_classes() - 1,
            )));
        }
    }
    Ok(())
}
