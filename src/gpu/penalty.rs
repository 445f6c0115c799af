//! The spectral penalty's gradient on the device (REGULARIZATION.md; the slice view is
//! `regularize::MatrixView::ConvSlices`). At a refresh the host sends eigenvectors V and
//! weights g; the device forms M = V diag(g) V^T once (penalty_scale.wgsl, then matmul.wgsl),
//! and every step adds `c W M` (Gram matrix W^T W, "Right") or `c M W` ("Left") to the weight
//! gradient with the CURRENT weights. Two cheaper routes: a held spectrum
//! (`PenaltySpectrum::hold`) forms that product once, with the weights the next step starts
//! from, and adds it at every step until the next one; an `M` that is a multiple of the
//! identity plus rank one (spectral norm, Frechet, stable rank, weight decay) is applied in
//! rank one, as the CPU backend does. A convolution weight is penalised either as one matrix
//! `out x (in kh kw)` (its memory as stored, [`MatrixPenalty`]) or slice by slice,
//! `W[:, :, i, j]` (out x in), gathered, multiplied in one batched product and scattered back
//! ([`SlicesPenalty`], conv_slices.wgsl).

use super::dispatch::{Dispatch, Mm, Recorder};
use super::graph::storage;
use super::kernels::Kernel;
use crate::error::{Error, Result};
use crate::train::backend::{GramSide, PenaltySpectrum, SlicePenalty};
use crate::train::spectral::split_shared;

/// Side and order of the Gram matrix of an `out x inp` matrix: the smaller side (the rule of
/// [`crate::train::spectral`]).
pub fn gram_side(out: usize, inp: usize) -> (GramSide, usize) {
    if out < inp {
        (GramSide::Left, out)
    } else {
        (GramSide::Right, inp)
    }
}

/// Buffers and dispatches of `count` penalised `out x inp` matrices that share one shape.
struct Assembly {
    side: GramSide,
    n: usize,
    count: usize,
    v: wgpu::Buffer,
    g: wgpu::Buffer,
    /// Forms M from V and g (run at a refresh).
    form: [Dispatch; 2],
}

impl Assembly {
    fn new(rec: &Recorder, out: usize, inp: usize, count: usize) -> (Assembly, wgpu::Buffer) {
        let dev = &rec.ctx.device;
        let (side, n) = gram_side(out, inp);
        let nn = n * n;
        let v = storage(dev, "pen_v", nn * count);
        let g = storage(dev, "pen_g", n * count);
        let vg = storage(dev, "pen_vg", nn * count);
        let m = storage(dev, "pen_m", nn * count);
        let (nu, cu) = (n as u32, count as u32);
        let form = [
            rec.elems(
                Kernel::PenaltyScale,
                &[&v, &g, &vg],
                move |_| nn * count,
                move |_| vec![nu, cu, 0, 0],
            ),
            rec.matmul(&vg, &v, &m, move |_| Mm {
                strides: [nu * nu; 3],
                count: cu,
                ..Mm::single(nu, nu, nu, 2, 0.0)
            }),
        ];
        (
            Assembly {
                side,
                n,
                count,
                v,
                g,
                form,
            },
            m,
        )
    }

    /// Uploads V and g (scaled by each matrix's coefficient) and forms M on the device.
    fn upload(
        &self,
        rec: &Recorder,
        spectra: &[Option<&PenaltySpectrum>],
        what: &str,
    ) -> Result<()> {
        let (n, nn) = (self.n, self.n * self.n);
        let mut v = vec![0.0f32; nn * self.count];
        let mut g = vec![0.0f32; n * self.count];
        for (s, ps) in spectra.iter().enumerate() {
            let Some(ps) = ps else { continue };
            if ps.n != n || ps.side != self.side || ps.vectors.len() != nn || ps.g.len() != n {
                return Err(Error::InvalidArgument(format!(
                    "{what}: penalty spectrum of order {} ({:?}, {} vectors, {} weights), \
                     expected order {n} ({:?})",
                    ps.n,
                    ps.side,
                    ps.vectors.len(),
                    ps.g.len(),
                    self.side
                )));
            }
            v[s * nn..(s + 1) * nn].copy_from_slice(&ps.vectors);
            for (d, &gi) in g[s * n..(s + 1) * n].iter_mut().zip(&ps.g) {
                *d = gi * ps.coef;
            }
        }
        let q = &rec.ctx.queue;
        q.write_buffer(&self.v, 0, bytemuck::cast_slice(&v));
        q.write_buffer(&self.g, 0, bytemuck::cast_slice(&g));
        for d in &self.form {
            d.write(rec.ctx, 0);
        }
        super::dispatch::run(rec.ctx, rec.pipes, &[&self.form[..]], 0)
    }
}

/// Penalty on a weight seen as one `out x inp` matrix (Linear, or a flattened convolution).
pub struct MatrixPenalty {
    asm: Assembly,
    /// `grad += W M` or `M W` with the current weights (disabled until a spectrum is set).
    pub step: Dispatch,
    /// With [`PenaltySpectrum::hold`]: `P = W M` (or `M W`) formed once when the spectrum is
    /// set, from the weights the next step starts with, ...
    form_held: Dispatch,
    /// ... and `grad += P` at every step until the next spectrum (elementwise.wgsl mode 3).
    add_held: Dispatch,
    /// `M = c I + a v v^T` (spectral norm, Frechet, stable rank, weight decay) in rank one,
    /// as the CPU backend does: `t = v^T W` (or `W v`), `grad += u t` (or `t u^T`) with
    /// `u = coef a v`, `grad += coef c W` (elementwise.wgsl mode 6): `3 out inp`
    /// multiply-adds instead of `n out inp`.
    low: [Dispatch; 3],
    /// `v`, `u` and the scale `coef c` of the rank-one route.
    low_bufs: [wgpu::Buffer; 3],
}

impl MatrixPenalty {
    /// Buffers and dispatches for weight `w` with gradient `gw`.
    pub fn new(
        rec: &Recorder,
        w: &wgpu::Buffer,
        gw: &wgpu::Buffer,
        out: usize,
        inp: usize,
    ) -> MatrixPenalty {
        let (asm, m) = Assembly::new(rec, out, inp, 1);
        let (o, i) = (out as u32, inp as u32);
        let product = |into: &wgpu::Buffer, beta: f32| match asm.side {
            GramSide::Right => rec.matmul(w, &m, into, move |_| Mm::single(o, i, i, 0, beta)),
            GramSide::Left => rec.matmul(&m, w, into, move |_| Mm::single(o, i, o, 0, beta)),
        };
        let dev = &rec.ctx.device;
        let held = storage(dev, "pen_held", out * inp);
        let step = product(gw, 1.0);
        let form_held = product(&held, 0.0);
        let total = out * inp;
        let add = |a: &wgpu::Buffer, b: &wgpu::Buffer, mode: u32| {
            rec.elems(
                Kernel::Elementwise,
                &[a, b, gw],
                move |_| total,
                move |_| vec![total as u32, mode, 1, 0, 0, 0, 0, 0],
            )
        };
        let add_held = add(&held, &held, 3);
        let n = asm.n;
        let low_bufs = [
            storage(dev, "pen_v", n),
            storage(dev, "pen_u", n),
            storage(dev, "pen_scale", 1),
        ];
        let [v, u, scale] = &low_bufs;
        // t: 1 x inp (left side) or out x 1 (right side).
        let t = storage(
            dev,
            "pen_t",
            if asm.side == GramSide::Left { inp } else { out },
        );
        let low = match asm.side {
            GramSide::Left => [
                rec.matmul(v, w, &t, move |_| Mm::single(1, i, o, 0, 0.0)),
                rec.matmul(u, &t, gw, move |_| Mm::single(o, i, 1, 0, 1.0)),
                add(w, scale, 6),
            ],
            GramSide::Right => [
                rec.matmul(w, v, &t, move |_| Mm::single(o, 1, i, 0, 0.0)),
                rec.matmul(&t, u, gw, move |_| Mm::single(o, i, 1, 0, 1.0)),
                add(w, scale, 6),
            ],
        };
        let mut p = MatrixPenalty {
            asm,
            step,
            form_held,
            add_held,
            low,
            low_bufs,
        };
        for d in p.steps_mut() {
            d.enabled = false;
        }
        p
    }

    fn steps_mut(&mut self) -> impl Iterator<Item = &mut Dispatch> {
        [&mut self.step, &mut self.add_held]
            .into_iter()
            .chain(self.low.iter_mut())
    }

    /// Sets (or clears) the spectrum: a held one forms its product here; one whose `M` is a
    /// multiple of the identity plus rank one takes the rank-one route.
    pub fn set(&mut self, rec: &Recorder, ps: Option<&PenaltySpectrum>, what: &str) -> Result<()> {
        for d in self.steps_mut() {
            d.enabled = false;
        }
        let Some(ps) = ps else { return Ok(()) };
        let (c, active) = split_shared(ps);
        if !ps.hold
            && active.len() <= 1
            && ps.side == self.asm.side
            && ps.n == self.asm.n
            && ps.vectors.len() == ps.n * ps.n
        {
            let n = ps.n;
            let (a, col) = active.first().copied().unwrap_or((0.0, 0));
            let v: Vec<f32> = (0..n).map(|r| ps.vectors[r * n + col]).collect();
            let u: Vec<f32> = v.iter().map(|x| x * a * ps.coef).collect();
            let q = &rec.ctx.queue;
            q.write_buffer(&self.low_bufs[0], 0, bytemuck::cast_slice(&v));
            q.write_buffer(&self.low_bufs[1], 0, bytemuck::cast_slice(&u));
            q.write_buffer(&self.low_bufs[2], 0, bytemuck::bytes_of(&(c * ps.coef)));
            for d in &mut self.low {
                d.write(rec.ctx, 0);
                d.enabled = true;
            }
            return Ok(());
        }
        self.asm.upload(rec, &[Some(ps)], what)?;
        if ps.hold {
            self.form_held.write(rec.ctx, 0);
            self.add_held.write(rec.ctx, 0);
            super::dispatch::run(
                rec.ctx,
                rec.pipes,
                &[std::slice::from_ref(&self.form_held)],
                0,
            )?;
            self.add_held.enabled = true;
        } else {
            self.step.write(rec.ctx, 0);
            self.step.enabled = true;
        }
        Ok(())
    }

    /// The dispatches a training step runs (those of the route in force are enabled).
    pub fn steps(&self) -> impl Iterator<Item = &Dispatch> {
        [&self.step, &self.add_held]
            .into_iter()
            .chain(self.low.iter())
    }
}

/// Penalty on the `kh * kw` slices `W[:, :, i, j]` of a convolution weight `[out, inp, kh, kw]`.
pub struct SlicesPenalty {
    asm: Assembly,
    kw: usize,
    /// Gather, batched product, scatter-add (disabled until spectra are set).
    pub step: [Dispatch; 3],
}

impl SlicesPenalty {
    /// Buffers and dispatches for weight `w` (gradient `gw`) of shape `[out, inp, kh, kw]`.
    pub fn new(
        rec: &Recorder,
        w: &wgpu::Buffer,
        gw: &wgpu::Buffer,
        shape: [usize; 4],
    ) -> SlicesPenalty {
        let [out, inp, kh, kw] = shape;
        let kk = kh * kw;
        let (asm, m) = Assembly::new(rec, out, inp, kk);
        let dev = &rec.ctx.device;
        let sliced = storage(dev, "pen_slices", out * inp * kk);
        let prod = storage(dev, "pen_prod", out * inp * kk);
        let (o, i, k, n) = (out as u32, inp as u32, kk as u32, asm.n as u32);
        let total = out * inp * kk;
        let words = move |mode: u32| vec![o, i, k, mode, 1.0f32.to_bits(), 0, 0, 0];
        let product = match asm.side {
            GramSide::Right => rec.matmul(&sliced, &m, &prod, move |_| Mm {
                strides: [o * i, n * n, o * i],
                count: k,
                ..Mm::single(o, i, i, 0, 0.0)
            }),
            GramSide::Left => rec.matmul(&m, &sliced, &prod, move |_| Mm {
                strides: [n * n, o * i, o * i],
                count: k,
                ..Mm::single(o, i, o, 0, 0.0)
            }),
        };
        let mut step = [
            rec.elems(
                Kernel::ConvSlices,
                &[w, &sliced],
                move |_| total,
                move |_| words(0),
            ),
            product,
            rec.elems(
                Kernel::ConvSlices,
                &[&prod, gw],
                move |_| total,
                move |_| words(1),
            ),
        ];
        for d in &mut step {
            d.enabled = false;
        }
        SlicesPenalty { asm, kw, step }
    }

    /// Sets the listed slices' spectra (the others get none); an empty list clears.
    pub fn set(&mut self, rec: &Recorder, slices: &[SlicePenalty], what: &str) -> Result<()> {
        let mut spectra: Vec<Option<&PenaltySpectrum>> = vec![None; self.asm.count];
        for s in slices {
            let (i, j) = s.slice;
            let at = i * self.kw + j;
            if j >= self.kw || at >= self.asm.count {
                return Err(Error::InvalidArgument(format!(
                    "{what}: slice ({i}, {j}) outside the {}x{} kernel",
                    self.asm.count / self.kw,
                    self.kw
                )));
            }
            spectra[at] = Some(&s.spectrum);
        }
        if !slices.is_empty() {
            self.asm.upload(rec, &spectra, what)?;
            for d in &self.step {
                d.write(rec.ctx, 0);
            }
        }
        for d in &mut self.step {
            d.enabled = !slices.is_empty();
        }
        Ok(())
    }
}
