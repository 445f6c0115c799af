//! The worker thread of the spectrum refresh ([`super::refresh`]): receives weight snapshots,
//! returns each layer's f32 `(V, g)` and weighted penalty value.
//!
//! The thread is scoped ([`with_worker`]): it cannot outlive the training run. When the run
//! ends, for whatever reason (done, error, panic), the job channel closes, the worker finishes
//! the refresh it may be computing and returns, and it is joined before [`with_worker`]
//! returns.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::Instant;

use super::backend::{PenaltySpectrum, SlicePenalty};
use super::penalty::SpectralPenalty;
use super::spectral::{penalty_spectrum, top_pair_spectrum, widen};
use crate::error::{Error, Result};
use crate::regularize::lanczos::top_pair_lanczos;
use crate::regularize::spectral::GramSide;
use crate::regularize::{MatrixView, PowerOptions};

/// Name of the worker thread (visible in `/proc/<pid>/task/*/comm`, debuggers and panics).
pub const WORKER_NAME: &str = "htdiag-refresh";

/// A snapshot to refresh from.
#[derive(Debug)]
pub struct Job {
    /// Steps done when the snapshot was taken.
    pub step: u64,
    /// 0-based epoch (for the penalty's decay schedule).
    pub epoch: usize,
    /// The epoch's penalty weight (0: clear the penalties).
    pub mu: f64,
    /// Each penalised layer's weight tensor.
    pub weights: Vec<Vec<f32>>,
}

/// One layer's refreshed penalty.
#[derive(Debug, Clone)]
pub struct LayerRefresh {
    /// What the backend assembles for a one-matrix view (`None`: no penalty on this layer
    /// now, or a sliced convolution whose penalty is in `slices`).
    pub spectrum: Option<PenaltySpectrum>,
    /// A sliced convolution's per-slice spectra (empty for one-matrix views).
    pub slices: Vec<SlicePenalty>,
    /// The weighted penalty value `mu_e * max(0, R - t)` at the snapshot.
    pub value: f64,
    /// Worker seconds spent on the layer.
    pub seconds: f64,
}

/// A finished refresh.
#[derive(Debug)]
pub struct Done {
    /// The snapshot's step.
    pub step: u64,
    /// Per layer, or the error that stopped the refresh.
    pub outcome: Result<Vec<LayerRefresh>>,
}

/// The training thread's end of the channels to the worker.
pub struct WorkerLink {
    jobs: Sender<Job>,
    done: Receiver<Done>,
    layers: usize,
}

fn worker_gone() -> Error {
    Error::Numerical("the spectrum refresh thread stopped unexpectedly".into())
}

impl WorkerLink {
    /// Number of penalised layers.
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// Queues a snapshot.
    pub fn send(&self, job: Job) -> Result<()> {
        self.jobs.send(job).map_err(|_| worker_gone())
    }

    /// Blocks until the refresh in flight is done.
    pub fn wait(&self) -> Result<Done> {
        self.done.recv().map_err(|_| worker_gone())
    }

    /// The finished refresh, if there is one, without blocking.
    pub fn poll(&self) -> Result<Option<Done>> {
        match self.done.try_recv() {
            Ok(d) => Ok(Some(d)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(worker_gone()),
        }
    }
}

/// One layer's `(V, g)` and value from its weights `w` seen through `view`, in f64, handed
/// out in f32 (the backend's assembly coefficient is 2: `g` carries `mu_e`). A dense layer
/// whose penalty needs only `lambda_max` and `||W||_F^2` gets the top singular pair by
/// Lanczos, warm-started from `warm` (the previous refresh's vector, updated here); every
/// other layer the eigen-decomposition.
pub fn refresh_layer(
    penalty: &dyn SpectralPenalty,
    layer: usize,
    view: &MatrixView,
    w: &[f32],
    epoch: usize,
    warm: &mut Option<Vec<f64>>,
) -> Result<(LayerRefresh, f64)> {
    let w = widen(w)?;
    if let (MatrixView::Dense { out, inp }, true) = (*view, penalty.top_only(layer)) {
        let top = top_pair_lanczos(&w, out, inp, warm.as_deref(), &PowerOptions::default())?;
        let frob2 = w.iter().map(|x| x * x).sum();
        let (value, g_top, g_rest) = penalty.top_coefficients(layer, top.lambda, frob2, epoch)?;
        let ps = top_pair_spectrum(&top.vector, GramSide::of(out, inp), g_top, g_rest, 2.0)?;
        *warm = Some(top.vector);
        return Ok((one_matrix(ps), value));
    }
    let vp = view.penalty(&w, |pooled| penalty.spectral(layer, pooled, epoch))?;
    let refresh = match vp.matrices.as_slice() {
        [m] if m.matrix.slice.is_none() => one_matrix(penalty_spectrum(&m.dec, &m.g, 2.0)),
        ms => LayerRefresh {
            spectrum: None,
            slices: ms
                .iter()
                .map(|m| {
                    let slice = m.matrix.slice.ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "layer {layer}: the view {view:?} mixes whole and sliced matrices"
                        ))
                    })?;
                    Ok(SlicePenalty {
                        slice,
                        spectrum: penalty_spectrum(&m.dec, &m.g, 2.0),
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            value: 0.0,
            seconds: 0.0,
        },
    };
    Ok((refresh, vp.value))
}

/// The refresh of a one-matrix view (a Linear weight, a flattened convolution).
fn one_matrix(ps: PenaltySpectrum) -> LayerRefresh {
    LayerRefresh {
        spectrum: Some(ps),
        slices: Vec::new(),
        value: 0.0,
        seconds: 0.0,
    }
}

/// Every layer of a snapshot; `warm` holds each layer's Lanczos warm start.
pub fn refresh_all(
    penalty: &dyn SpectralPenalty,
    views: &[MatrixView],
    job: &Job,
    warm: &mut [Option<Vec<f64>>],
) -> Result<Vec<LayerRefresh>> {
    if job.weights.len() != views.len() {
        return Err(Error::InvalidArgument(format!(
            "spectrum refresh: {} weight tensors for {} penalised layers",
            job.weights.len(),
            views.len()
        )));
    }
    views
        .iter()
        .zip(&job.weights)
        .zip(warm.iter_mut())
        .enumerate()
        .map(|(l, ((view, w), warm))| {
            let t = Instant::now();
            if job.mu == 0.0 {
                return Ok(LayerRefresh {
                    spectrum: None,
                    slices: Vec::new(),
                    value: 0.0,
                    seconds: 0.0,
                });
            }
            let (refresh, value) = refresh_layer(penalty, l, view, w, job.epoch, warm)?;
            Ok(LayerRefresh {
                value,
                seconds: t.elapsed().as_secs_f64(),
                ..refresh
            })
        })
        .collect()
}

/// Runs `body` with a refresh worker for `penalty` on the layers `views`. The worker is
/// joined before this returns, also when `body` fails or panics.
pub fn with_worker<R>(
    penalty: &dyn SpectralPenalty,
    views: &[MatrixView],
    body: impl FnOnce(WorkerLink) -> Result<R>,
) -> Result<R> {
    std::thread::scope(|s| {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel::<Done>();
        let handle = std::thread::Builder::new()
            .name(WORKER_NAME.into())
            .spawn_scoped(s, move || {
                let mut warm = vec![None; views.len()];
                while let Ok(job) = job_rx.recv() {
                    let outcome = refresh_all(penalty, views, &job, &mut warm);
                    if done_tx
                        .send(Done {
                            step: job.step,
                            outcome,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            })
            .map_err(|e| Error::Numerical(format!("cannot start the refresh thread: {e}")))?;
        // `body` owns the link; when it returns, the job channel closes and the worker's
        // loop ends.
        let out = body(WorkerLink {
            jobs,
            done,
            layers: views.len(),
        });
        let joined = handle.join();
        match (out, joined) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(_)) => Err(Error::Numerical(
                "the spectrum refresh thread panicked".into(),
            )),
            (Ok(r), Ok(())) => Ok(r),
        }
    })
}
