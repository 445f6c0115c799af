//! Weight decay (L2), the conventional baseline: `R_wd = ||W||_F^2 = sum_i lambda_i`,
//! `dR/dW = 2 W` (spectrally `g_i = 1`). (The familiar `(mu/2) ||W||^2` convention is
//! `mu_here = mu_there / 2`.)
//!
//! What it does to the spectrum: one descent step multiplies `W` by `1 - 2 eta mu`, so all
//! singular values shrink by the same factor: the norms fall, while scale-free shape metrics
//! (`alpha_hat`, stable rank) do not move.

/// Value and spectral coefficients of `R_wd`.
pub fn coefficients(evals: &[f64]) -> (f64, Vec<f64>) {
    (evals.iter().sum(), vec![1.0; evals.len()])
}

/// Value and gradient in closed form.
pub fn value_and_grad(w: &[f64]) -> (f64, Vec<f64>) {
    (
        w.iter().map(|x| x * x).sum(),
        w.iter().map(|x| 2.0 * x).collect(),
    )
}
