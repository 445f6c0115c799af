//! The CPU backend's penalty terms: the per-step product `coef W M` of every penalised dense
//! weight ([`Assembly`]) and of every convolution slice, added to the weights' gradients.
//!
//! A full-rank product (weighted alpha and the power-law prior act on half the spectrum:
//! `n out inp` multiply-adds per step, about as much as the plain step's forward and backward
//! together for a 300 x 784 layer) depends only on the weights at the start of the step, which
//! the forward and backward passes read but do not change. [`CpuPenalties::begin`] therefore
//! copies those weights, [`CpuPenalties::products`] forms the products on a second thread
//! while the training thread runs the forward and backward passes, and
//! [`CpuPenalties::finish`] adds them: the same gradient `2 W_t V diag(g) V^T` with the current
//! `W_t` (issue 12), on an otherwise idle core instead of after the backward pass. Low-rank and
//! held products, and convolution slices, are cheap and stay on the training thread.

use super::backend::{GramSide, PenaltySpectrum};
use super::cpu::gemm;
use super::cpu_ops::optim::ParamState;
use super::net::WeightView;
use super::spectral::Assembly;
use crate::error::{Error, Result};

/// A slice's penalty matrix assembled at a refresh: `M = V diag(g) V^T` with its spectrum.
type Assembled = (PenaltySpectrum, Vec<f32>);

/// Every penalised weight's penalty state (see the module doc).
#[derive(Debug, Default)]
pub struct CpuPenalties {
    /// Parameter index and matrix view of every penalised weight.
    penalised: Vec<(usize, WeightView)>,
    dense: Vec<Option<Assembly>>,
    slices: Vec<Vec<((usize, usize), Assembled)>>,
    scratch: Vec<f32>,
    /// Per penalised weight whose product runs beside the passes: a copy of the weights at
    /// the start of the step and the product formed from it.
    offloaded: Vec<Option<(Vec<f32>, Vec<f32>)>>,
    /// Whether a second core exists to form products on.
    parallel: bool,
}

/// Rows of a weight's matrix view (output features or channels).
pub fn view_rows(view: WeightView) -> usize {
    match view {
        WeightView::Dense { out, .. }
        | WeightView::ConvSlices { out, .. }
        | WeightView::ConvFlatten { out, .. } => out,
    }
}

impl CpuPenalties {
    /// No penalty set yet on any of `penalised`.
    pub fn new(penalised: Vec<(usize, WeightView)>) -> CpuPenalties {
        let n = penalised.len();
        CpuPenalties {
            penalised,
            dense: vec![None; n],
            slices: vec![Vec::new(); n],
            offloaded: vec![None; n],
            scratch: Vec::new(),
            parallel: std::thread::available_parallelism().is_ok_and(|c| c.get() > 1),
        }
    }

    /// Parameter index and view of penalised weight `weight`.
    pub fn penalised(&self, weight: usize) -> Result<(usize, WeightView)> {
        self.penalised.get(weight).copied().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "no penalised weight {weight} (the network has {})",
                self.penalised.len()
            ))
        })
    }

    /// Sets (or clears) the dense penalty of penalised weight `weight`.
    pub fn set_dense(&mut self, weight: usize, assembly: Option<Assembly>) {
        self.offloaded[weight] = match &assembly {
            Some(a) if self.parallel && a.is_full_rank() && !a.is_held() => {
                Some(self.offloaded[weight].take().unwrap_or_default())
            }
            _ => None,
        };
        self.dense[weight] = assembly;
    }

    /// Sets the slice penalties of convolution weight `weight` (`M` assembled here).
    pub fn set_slices(&mut self, weight: usize, slices: Vec<((usize, usize), PenaltySpectrum)>) {
        self.slices[weight] = slices
            .into_iter()
            .map(|(ij, ps)| {
                let m = assemble_m(&ps, &mut self.scratch);
                (ij, (ps, m))
            })
            .collect();
    }

    /// Copies the weights whose product runs beside the passes; `true` when there is one
    /// (then call [`CpuPenalties::products`] on another thread before
    /// [`CpuPenalties::finish`]).
    pub fn begin(&mut self, params: &[ParamState]) -> bool {
        let mut any = false;
        for (k, slot) in self.offloaded.iter_mut().enumerate() {
            if let Some((w, _)) = slot {
                w.clear();
                w.extend_from_slice(&params[self.penalised[k].0].w);
                any = true;
            }
        }
        any
    }

    /// Forms the products of the weights copied by [`CpuPenalties::begin`].
    pub fn products(&mut self) -> Result<()> {
        for (k, slot) in self.offloaded.iter_mut().enumerate() {
            let (Some((w, p)), Some(a)) = (slot, &mut self.dense[k]) else {
                continue;
            };
            let rows = view_rows(self.penalised[k].1);
            p.clear();
            p.resize(w.len(), 0.0);
            a.add_gradient(w, rows, w.len() / rows, p)?;
        }
        Ok(())
    }

    /// Adds every penalty's gradient to its weight's gradient: the products formed by
    /// [`CpuPenalties::products`] (when `offloaded`) and the others, computed here.
    pub fn finish(&mut self, params: &mut [ParamState], offloaded: bool) -> Result<()> {
        for (k, &(p, view)) in self.penalised.iter().enumerate() {
            let ps = &mut params[p];
            match (&self.offloaded[k], &mut self.dense[k]) {
                (Some((_, prod)), Some(_)) if offloaded => {
                    if prod.len() != ps.grad.len() {
                        return Err(Error::InvalidArgument(format!(
                            "penalty product of {} values for a gradient of {}",
                            prod.len(),
                            ps.grad.len()
                        )));
                    }
                    ps.grad.iter_mut().zip(prod).for_each(|(g, x)| *g += x);
                }
                (_, Some(a)) => {
                    let rows = view_rows(view);
                    a.add_gradient(&ps.w, rows, ps.w.len() / rows, &mut ps.grad)?;
                }
                (_, None) => {}
            }
            if let WeightView::ConvSlices { out, inp, kh, kw } = view {
                for (ij, (sp, m)) in &self.slices[k] {
                    let shape = [out, inp, kh, kw];
                    add_slice_penalty(&ps.w, &mut ps.grad, shape, *ij, sp, m, &mut self.scratch);
                }
            }
        }
        Ok(())
    }
}

/// `dW[:, :, i, j] += c W_ij M` (right side, `M` is `in x in`) or `c M W_ij` (left, `out x
/// out`) for the slice `W_ij = W[:, :, i, j]` of a `[out, in, kh, kw]` weight.
pub fn add_slice_penalty(
    w: &[f32],
    grad: &mut [f32],
    shape: [usize; 4],
    (i, j): (usize, usize),
    sp: &PenaltySpectrum,
    m: &[f32],
    scratch: &mut Vec<f32>,
) {
    let [out, inp, kh, kw] = shape;
    let at = |o: usize, c: usize| ((o * inp + c) * kh + i) * kw + j;
    scratch.clear();
    scratch.resize(2 * out * inp, 0.0);
    let (wij, g) = scratch.split_at_mut(out * inp);
    for o in 0..out {
        for c in 0..inp {
            wij[o * inp + c] = w[at(o, c)];
        }
    }
    match sp.side {
        GramSide::Right => gemm(false, false, out, inp, inp, sp.coef, wij, m, 0.0, g),
        GramSide::Left => gemm(false, false, out, inp, out, sp.coef, m, wij, 0.0, g),
    }
    for o in 0..out {
        for c in 0..inp {
            grad[at(o, c)] += g[o * inp + c];
        }
    }
}

/// `M = V diag(g) V^T` in f32, the same two products as the GPU path (`gpu/penalty_scale.wgsl`
/// then `gpu/matmul.wgsl`): first the columns of `V` are scaled by `g`, then one `gemm` with
/// `V^T`.
pub fn assemble_m(ps: &PenaltySpectrum, scratch: &mut Vec<f32>) -> Vec<f32> {
    let n = ps.n;
    scratch.clear();
    scratch.extend(ps.vectors.iter().enumerate().map(|(i, &v)| v * ps.g[i % n]));
    let mut m = vec![0.0f32; n * n];
    gemm(false, true, n, n, n, 1.0, scratch, &ps.vectors, 0.0, &mut m);
    m
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::cpu_ops::testing::rand_vec;

    /// The slice penalty adds `c W_ij M` (right) / `c M W_ij` (left) to exactly the entries of
    /// slice `(i, j)`, computed here in f64 from the definition.
    #[test]
    fn slice_penalty_touches_only_its_slice() {
        let (out, inp, kh, kw) = (3, 4, 2, 3);
        let w = rand_vec(out * inp * kh * kw, 1);
        for (side, n) in [(GramSide::Right, inp), (GramSide::Left, out)] {
            let m = rand_vec(n * n, 2);
            let sp = PenaltySpectrum {
                side,
                n,
                vectors: vec![0.0; n * n],
                g: vec![0.0; n],
                coef: 2.0,
                hold: false,
            };
            let mut grad = vec![0.5f32; w.len()];
            let mut scratch = Vec::new();
            add_slice_penalty(
                &w,
                &mut grad,
                [out, inp, kh, kw],
                (1, 2),
                &sp,
                &m,
                &mut scratch,
            );
            let at = |o: usize, c: usize, i: usize, j: usize| ((o * inp + c) * kh + i) * kw + j;
            for o in 0..out {
                for c in 0..inp {
                    for i in 0..kh {
                        for j in 0..kw {
                            let want = if (i, j) == (1, 2) {
                                let s: f64 = match side {
                                    GramSide::Right => (0..inp)
                                        .map(|k| w[at(o, k, 1, 2)] as f64 * m[k * inp + c] as f64)
                                        .sum(),
                                    GramSide::Left => (0..out)
                                        .map(|k| m[o * out + k] as f64 * w[at(k, c, 1, 2)] as f64)
                                        .sum(),
                                };
                                0.5 + 2.0 * s
                            } else {
                                0.5
                            };
                            assert!((grad[at(o, c, i, j)] as f64 - want).abs() < 1e-5);
                        }
                    }
                }
            }
        }
    }

    /// The product formed beside the passes (on a copy of the weights, by another thread)
    /// gives the gradient the training thread forms itself, which is the f64 reference
    /// `2 W V diag(g) V^T`; both sides, with a gradient already holding values.
    #[test]
    fn offloaded_product_equals_the_inline_one() {
        use crate::regularize::assemble_gradient;
        use crate::train::spectral::{decompose_f32, penalty_spectrum, widen};
        for (out, inp) in [(9usize, 14usize), (14, 9)] {
            let w = rand_vec(out * inp, 3);
            let dec = decompose_f32(&w, out, inp).unwrap();
            // Coefficients on the top half only, as weighted alpha's: the full-rank route.
            let g: Vec<f64> = (0..dec.n)
                .map(|i| {
                    if i >= dec.n / 2 {
                        0.1 + 0.05 * i as f64
                    } else {
                        0.0
                    }
                })
                .collect();
            let ps = penalty_spectrum(&dec, &g, 2.0);
            let view = WeightView::Dense { out, inp };
            let reference = assemble_gradient(&widen(&w).unwrap(), out, inp, &dec, &g).unwrap();
            let mut grads = Vec::new();
            for parallel in [false, true] {
                let mut pen = CpuPenalties::new(vec![(0, view)]);
                pen.parallel = parallel;
                pen.set_dense(0, Some(Assembly::new(&ps).unwrap()));
                let mut params = vec![ParamState::new(w.clone(), true)];
                params[0].grad = vec![0.25; w.len()];
                let offload = pen.begin(&params);
                assert_eq!(offload, parallel);
                if offload {
                    std::thread::scope(|s| s.spawn(|| pen.products()).join().unwrap()).unwrap();
                }
                pen.finish(&mut params, offload).unwrap();
                for (a, b) in params[0].grad.iter().zip(&reference) {
                    assert!(
                        (*a as f64 - 0.25 - b).abs() < 1e-5,
                        "{out}x{inp}: {a} vs {b}"
                    );
                }
                grads.push(params[0].grad.clone());
            }
            assert!(reference.iter().any(|x| x.abs() > 1e-3));
            let max = grads[0].iter().zip(&grads[1]).map(|(a, b)| (a - b).abs());
            assert!(max.fold(0.0f32, f32::max) < 1e-6);
        }
    }
}
