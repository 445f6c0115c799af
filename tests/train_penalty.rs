//! The penalty path of the trainer against the CPU reference penalties of
//! `htdiag::regularize`: the spectrum refresh (eigendecomposition, g from
//! `Regularizer::spectral_coefficients`) plus the backend's assembly must give the gradient of
//! `Regularizer::value_and_grad`. Also shared by the GPU test (tests/gpu_train.rs).

mod penalty_common;

use htdiag::train::{CpuBackend, Optimizer};

#[test]
fn cpu_penalty_gradients_match_reference() {
    for reg in penalty_common::regularizers() {
        penalty_common::check(&reg, &mut |model, data| {
            Box::new(
                CpuBackend::new(model, data, None, Optimizer::Sgd { momentum: 0.0 }, 64).unwrap(),
            )
        });
    }
}
