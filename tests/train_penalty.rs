//! The penalty path of the trainer against the CPU reference penalties of
//! `htdiag::regularize`: the spectrum refresh (eigendecomposition, g from
//! `Regularizer::spectral_coefficients`) plus the backend's assembly must give the gradient of
//! `Regularizer::value_and_grad` (shared with tests/gpu/train.rs); and the asynchronous refresh
//! of issue 12: lag 0 is the synchronous schedule bit for bit, a lagged spectrum is exactly
//! the recorded snapshot's, the worker thread never outlives a run, Ctrl-C writes nothing.

mod penalty_common;

use std::sync::Mutex;

use htdiag::regularize::{
    Penalty, Regularizer, StableRankParams, WeightedAlphaParams, assemble_gradient,
};
use htdiag::train::backend::{Eval, PenaltySpectrum};
use htdiag::train::data::epoch_order;
use htdiag::train::penalty::LayerPenalties;
use htdiag::train::refresh_worker::WORKER_NAME;
use htdiag::train::spectral::{decompose_f32, penalty_spectrum, widen};
use htdiag::train::{
    Backend, CpuBackend, Dataset, Mlp, Optimizer, RefreshPolicy, SpectralPenalty, SpectrumEvery,
    Split, StepParams, TrainConfig, train,
};

/// Tests that start refresh threads run one at a time, so that counting them is meaningful.
static THREADS: Mutex<()> = Mutex::new(());

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

fn data(n: usize) -> Dataset {
    Dataset::load(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/mnist2k.safetensors"
        )),
        None,
    )
    .unwrap()
    .head(n)
}

const DIMS: [usize; 4] = [784, 40, 30, 10];
const N: usize = 256;
const BATCH: usize = 32;

fn setup() -> (Mlp, Dataset, Vec<(usize, usize)>) {
    let model = Mlp::init(&DIMS, 5).unwrap();
    let shapes = DIMS.windows(2).map(|d| (d[1], d[0])).collect();
    (model, data(N), shapes)
}

fn cpu(model: &Mlp, d: &Dataset, momentum: f32) -> CpuBackend {
    CpuBackend::new(model, d.clone(), None, Optimizer::Sgd { momentum }, BATCH).unwrap()
}

fn reg() -> Regularizer {
    Regularizer::new(Penalty::WeightedAlpha(WeightedAlphaParams::default()), 0.05)
}

fn cfg(every: usize, max_lag: usize) -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch_size: BATCH,
        refresh: RefreshPolicy {
            every: SpectrumEvery::Steps(every),
            max_lag: Some(max_lag),
            hold: Some(false),
        },
        ..TrainConfig::default()
    }
}

/// Names of this process's threads that are refresh workers.
fn refresh_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
                .filter(|c| c.trim() == WORKER_NAME)
                .count()
        })
        .unwrap_or(0)
}

/// The synchronous schedule written out by hand: a refresh on the calling thread every
/// `every` steps, then the step.
fn synchronous(
    backend: &mut dyn Backend,
    shapes: &[(usize, usize)],
    every: usize,
    c: &TrainConfig,
) {
    let mut lp = LayerPenalties::new(reg()).unwrap();
    for (l, &(o, i)) in shapes.iter().enumerate() {
        let dec = decompose_f32(&backend.read_weight(l).unwrap(), o, i).unwrap();
        lp.start(l, &dec.evals).unwrap();
    }
    let steps = N.div_ceil(BATCH);
    let mut t = 0u64;
    for epoch in 0..c.epochs {
        let order = epoch_order(N, c.seed, epoch);
        for s in 0..steps {
            if (t as usize).is_multiple_of(every) {
                for (l, &(o, i)) in shapes.iter().enumerate() {
                    let dec = decompose_f32(&backend.read_weight(l).unwrap(), o, i).unwrap();
                    let (_, g) = lp.spectral(l, &dec.evals, epoch).unwrap();
                    backend
                        .set_penalty(l, Some(&penalty_spectrum(&dec, &g, 2.0)))
                        .unwrap();
                }
            }
            t += 1;
            let batch: Vec<u32> = order[s * BATCH..((s + 1) * BATCH).min(N)]
                .iter()
                .map(|&i| i as u32)
                .collect();
            let p = StepParams {
                lr: c.lr,
                weight_decay: c.weight_decay,
                t,
                epoch: 0,
            };
            backend.train_step(&batch, s, &p).unwrap();
        }
    }
}

#[test]
fn lag_zero_is_the_synchronous_path_bit_for_bit() {
    let _g = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let (model, d, shapes) = setup();
    // With a refresh at every step, a held product is the current one.
    for (every, hold) in [(1, false), (3, false), (1, true)] {
        let mut c = cfg(every, 0);
        c.refresh.hold = Some(hold);
        let mut a = cpu(&model, &d, 0.9);
        let mut lp = LayerPenalties::new(reg()).unwrap();
        let hist = train(&mut a, &shapes, N, false, &c, Some(&mut lp), &mut |_| {}).unwrap();
        let f = hist.refresh.unwrap();
        assert_eq!(f.max_lag, 0);
        assert_eq!(f.refreshes, (2 * N / BATCH).div_ceil(every));
        let mut b = cpu(&model, &d, 0.9);
        synchronous(&mut b, &shapes, every, &c);
        for l in 0..shapes.len() {
            let (wa, wb) = (a.read_weight(l).unwrap(), b.read_weight(l).unwrap());
            assert!(
                wa.iter().zip(&wb).all(|(x, y)| x.to_bits() == y.to_bits()),
                "every {every}: layer {l} differs"
            );
        }
    }
}

/// A backend that records what the trainer does to it.
struct Spy {
    inner: CpuBackend,
    steps: u64,
    /// Events so far (orders reads and hand-overs within one step).
    seq: usize,
    /// (event, steps done, layer, weights) of every read-back.
    reads: Vec<(usize, u64, usize, Vec<f32>)>,
    /// (event, steps done, layer, spectrum) of every hand-over.
    sets: Vec<(usize, u64, usize, PenaltySpectrum)>,
    /// The model before the first step that used a stale spectrum, and that step's batch.
    stale: Option<(Mlp, Vec<u32>, u64)>,
    model: Mlp,
    fail_at: Option<u64>,
}

impl Backend for Spy {
    fn name(&self) -> String {
        "spy".into()
    }
    fn train_step(&mut self, batch: &[u32], slot: usize, p: &StepParams) -> htdiag::Result<()> {
        if self.fail_at == Some(self.steps) {
            return Err(htdiag::Error::Numerical("injected failure".into()));
        }
        if self.stale.is_none()
            && self
                .sets
                .last()
                .is_some_and(|s| snapshot_of(&self.reads, s).1 < self.steps)
        {
            let mut m = self.model.clone();
            self.inner.read_model(&mut m)?;
            self.stale = Some((m, batch.to_vec(), self.steps));
        }
        self.steps += 1;
        self.inner.train_step(batch, slot, p)
    }
    fn take_step_stats(&mut self, steps: usize) -> htdiag::Result<Vec<(f32, u32)>> {
        self.inner.take_step_stats(steps)
    }
    fn evaluate(&mut self, split: Split) -> htdiag::Result<Eval> {
        self.inner.evaluate(split)
    }
    fn set_penalty(&mut self, layer: usize, s: Option<&PenaltySpectrum>) -> htdiag::Result<()> {
        if let Some(s) = s {
            self.seq += 1;
            self.sets.push((self.seq, self.steps, layer, s.clone()));
        }
        self.inner.set_penalty(layer, s)
    }
    fn read_net(&mut self, net: &mut htdiag::train::Net) -> htdiag::Result<()> {
        self.inner.read_net(net)
    }
    fn read_weight(&mut self, layer: usize) -> htdiag::Result<Vec<f32>> {
        let w = self.inner.read_weight(layer)?;
        self.seq += 1;
        self.reads.push((self.seq, self.steps, layer, w.clone()));
        Ok(w)
    }
}

fn spy(model: &Mlp, d: &Dataset, fail_at: Option<u64>) -> Spy {
    Spy {
        inner: cpu(model, d, 0.9),
        steps: 0,
        seq: 0,
        reads: Vec::new(),
        sets: Vec::new(),
        stale: None,
        model: model.clone(),
        fail_at,
    }
}

/// The read-back a hand-over was computed from: the latest of its layer before it.
fn snapshot_of<'a>(
    reads: &'a [(usize, u64, usize, Vec<f32>)],
    set: &(usize, u64, usize, PenaltySpectrum),
) -> &'a (usize, u64, usize, Vec<f32>) {
    reads
        .iter()
        .rev()
        .find(|r| r.2 == set.2 && r.0 < set.0)
        .expect("a hand-over without a snapshot")
}

/// `V diag(g) V^T` in f64 from an f32 spectrum.
fn m_of(s: &PenaltySpectrum) -> Vec<f64> {
    let n = s.n;
    let mut m = vec![0.0; n * n];
    for a in 0..n {
        for b in 0..n {
            m[a * n + b] = (0..n)
                .map(|k| s.vectors[a * n + k] as f64 * s.g[k] as f64 * s.vectors[b * n + k] as f64)
                .sum();
        }
    }
    m
}

#[test]
fn lagged_spectrum_is_the_recorded_snapshots() {
    let _g = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let (model, d, shapes) = setup();
    let max_lag = 2;
    let c = cfg(2, max_lag);
    let mut b = spy(&model, &d, None);
    let mut lp = LayerPenalties::new(reg()).unwrap();
    let hist = train(&mut b, &shapes, N, false, &c, Some(&mut lp), &mut |_| {}).unwrap();
    let f = hist.refresh.unwrap();
    assert!(f.max_lag >= 1 && f.max_lag <= max_lag as u64, "{f:?}");
    // Every hand-over is the refresh of the latest snapshot of its layer taken at or before
    // it (recomputed here from the recorded weights), at most `max_lag` steps old.
    let mut lagged = 0;
    for set in &b.sets {
        let (_, at, l, got) = set;
        let (_, snap, _, w) = snapshot_of(&b.reads, set);
        assert!(at - snap <= max_lag as u64);
        lagged += (at > snap) as usize;
        let (o, i) = shapes[*l];
        let dec = decompose_f32(w, o, i).unwrap();
        let epoch = (*snap as usize) / N.div_ceil(BATCH);
        let (_, g) = lp.spectral(*l, &dec.evals, epoch).unwrap();
        let want = m_of(&penalty_spectrum(&dec, &g, 2.0));
        let have = m_of(got);
        let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        for (x, y) in have.iter().zip(&want) {
            assert!(
                (x - y).abs() <= 1e-6 * scale,
                "layer {l} at {at}: {x} vs {y}"
            );
        }
    }
    assert!(lagged > 0, "no lagged hand-over to test");
    // At the first step that used a stale spectrum, the backend's penalty gradient is
    // 2 W V_old diag(g_old) V_old^T with the current W: one SGD step (lr 1, no momentum)
    // with and without that spectrum, from the weights of that step.
    let (m_t, batch, step) = b.stale.clone().unwrap();
    let p = StepParams {
        lr: 1.0,
        weight_decay: 0.0,
        t: 1,
        epoch: 0,
    };
    let mut plain = cpu(&m_t, &d, 0.0);
    let mut pen = cpu(&m_t, &d, 0.0);
    for (l, &(o, i)) in shapes.iter().enumerate() {
        let set = b
            .sets
            .iter()
            .rev()
            .find(|s| s.2 == l && s.1 <= step)
            .unwrap();
        let s = &set.3;
        let (_, snap, _, w_old) = snapshot_of(&b.reads, set);
        let w_now = m_t.layers[l].as_linear().weight.clone();
        assert!(
            snap < &step && w_old != &w_now,
            "layer {l}: the spectrum is not stale"
        );
        pen.set_penalty(l, Some(s)).unwrap();
        // f64 reference: the snapshot's decomposition, g recomputed, current W.
        let dec = decompose_f32(w_old, o, i).unwrap();
        let (_, g) = lp.spectral(l, &dec.evals, 0).unwrap();
        let want = assemble_gradient(&widen(&w_now).unwrap(), o, i, &dec, &g).unwrap();
        plain.train_step(&batch, 0, &p).unwrap();
        pen.train_step(&batch, 0, &p).unwrap();
        let (a, bb) = (plain.read_weight(l).unwrap(), pen.read_weight(l).unwrap());
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 1e-5);
        for (k, gw) in want.iter().enumerate() {
            let got = (a[k] - bb[k]) as f64;
            assert!(
                (got - gw).abs() < 2e-3 * scale + 1e-6,
                "layer {l}: {got} vs {gw}"
            );
        }
        // Fresh twins for the next layer (one step moved every layer).
        plain = cpu(&m_t, &d, 0.0);
        pen = cpu(&m_t, &d, 0.0);
    }
}

/// A penalty that panics after a number of refreshes.
struct Panicky {
    inner: LayerPenalties,
    calls: std::sync::atomic::AtomicUsize,
    after: usize,
}

impl SpectralPenalty for Panicky {
    fn describe(&self) -> String {
        "panicky".into()
    }
    fn start(&mut self, layer: usize, ev: &[f64]) -> htdiag::Result<()> {
        self.inner.start(layer, ev)
    }
    fn spectral(&self, layer: usize, ev: &[f64], e: usize) -> htdiag::Result<(f64, Vec<f64>)> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert!(n < self.after, "injected panic in the refresh thread");
        self.inner.spectral(layer, ev, e)
    }
    fn weight(&self, epoch: usize) -> f64 {
        self.inner.weight(epoch)
    }
}

#[test]
fn worker_never_outlives_the_run() {
    let _g = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let (model, d, shapes) = setup();
    let auto = TrainConfig {
        refresh: RefreshPolicy::default(),
        ..cfg(1, 0)
    };
    // A backend failure in the middle of a run, with a refresh possibly in flight.
    let mut b = spy(&model, &d, Some(5));
    let mut lp = LayerPenalties::new(reg()).unwrap();
    let e = train(&mut b, &shapes, N, false, &auto, Some(&mut lp), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("injected failure"), "{e}");
    assert_eq!(refresh_threads(), 0);
    // A panic inside the worker: an error, not a hang or a stray thread.
    let mut p = Panicky {
        inner: LayerPenalties::new(reg()).unwrap(),
        calls: Default::default(),
        after: 7,
    };
    let mut b = cpu(&model, &d, 0.9);
    let e = train(
        &mut b,
        &shapes,
        N,
        false,
        &cfg(1, 1),
        Some(&mut p),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("refresh thread"), "{e}");
    assert_eq!(refresh_threads(), 0);
    // A run that completes with the automatic policy.
    let mut b = cpu(&model, &d, 0.9);
    let mut lp = LayerPenalties::new(reg()).unwrap();
    let h = train(&mut b, &shapes, N, false, &auto, Some(&mut lp), &mut |_| {}).unwrap();
    let f = h.refresh.unwrap();
    assert!(f.refreshes >= 1 && !f.intervals.is_empty() && f.layer_seconds.len() == 3);
    assert!(h.median_step_seconds > 0.0 && h.seconds_per_step > 0.0);
    assert_eq!(refresh_threads(), 0);
}

/// Ctrl-C (SIGINT) during `htdiag regularize`: the process stops with status 130 within
/// seconds, and the output folder is not even created.
#[test]
fn ctrl_c_stops_cleanly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    Mlp::init(&[784, 200, 100, 10], 4)
        .unwrap()
        .save(&init)
        .unwrap();
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .arg("regularize")
        .arg(&init)
        .args([
            "--data",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/mnist2k.safetensors"
            ),
        ])
        .args(["--epochs", "500", "--device", "cpu"])
        .args([
            "--penalty",
            "weighted-alpha",
            "--mu",
            "0.01",
            "--spectrum-every",
            "1",
        ])
        .arg("--out-dir")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Collect stderr on a thread; "fine-tuning" is printed once the handler is installed.
    let err = std::sync::Arc::new(Mutex::new(String::new()));
    let sink = err.clone();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut pipe, &mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let start = std::time::Instant::now();
    while !err.lock().unwrap().contains("fine-tuning") {
        assert!(
            start.elapsed().as_secs() < 120,
            "htdiag regularize did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = std::time::Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            start.elapsed().as_secs() < 60,
            "htdiag regularize still running 60 s after Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    reader.join().unwrap();
    let err = err.lock().unwrap().clone();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!out.exists(), "output folder created");
}

#[test]
fn stable_rank_through_the_worker_matches_reference_once() {
    // The refresh of a different penalty through the same worker code, at lag 0: the value
    // recorded equals the f64 reference on the initial weights.
    let _g = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let (model, d, shapes) = setup();
    let r = Regularizer::new(Penalty::StableRank(StableRankParams::default()), 0.1);
    let c = TrainConfig {
        epochs: 1,
        ..cfg(1000, 0)
    };
    let mut b = cpu(&model, &d, 0.9);
    let mut lp = LayerPenalties::new(r).unwrap();
    let h = train(&mut b, &shapes, N, false, &c, Some(&mut lp), &mut |_| {}).unwrap();
    let want: f64 = model
        .layers
        .iter()
        .map(|l| {
            let l = l.as_linear();
            let w = widen(&l.weight).unwrap();
            let mut st = htdiag::regularize::LayerState::new(&w, l.out_dim, l.in_dim).unwrap();
            r.value_and_grad(&w, l.out_dim, l.in_dim, &mut st, 0)
                .unwrap()
                .0
        })
        .sum();
    let got = h.epochs[0].penalty_value.unwrap();
    assert!((got - want).abs() <= 1e-9 * want, "{got} vs {want}");
}

/// The conv-slice penalty end to end: LeNet-5 fine-tuned for one step (SGD without momentum)
/// through `run_one` — penalty targets, the refresher at lag 0, the backend's slice assembly —
/// moves every penalised tensor, convolutions included, by exactly `-lr` times the f64
/// reference gradient of `MatrixView::gradient` on the initial weights, relative to the same
/// step without the penalty. Two penalties: one on the whole spectrum (weighted alpha) and one
/// through the top-only refresh (stable rank).
#[test]
fn conv_slice_penalty_moves_every_slice_by_the_reference_gradient() {
    use htdiag::regularize::LayerState;
    use htdiag::train::DeviceChoice;
    use htdiag::train::experiment::{penalty_targets, run_one};
    use htdiag::train::net::Arch;

    let _g = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let model = Arch::LeNet5.fresh([1, 28, 28], 10, 11).unwrap();
    let mut d = data(16);
    d.shape = Some([1, 28, 28]);
    let lr = 0.1f32;
    let c = TrainConfig {
        epochs: 1,
        batch_size: 16,
        lr,
        optimizer: Optimizer::Sgd { momentum: 0.0 },
        ..cfg(1, 0)
    };
    let run = |reg: Option<Regularizer>| {
        run_one(
            "t",
            DeviceChoice::Cpu,
            &model,
            &d,
            &d.head(0),
            &c,
            reg,
            false,
            &mut |_| {},
        )
        .unwrap()
        .0
    };
    let plain = run(None);
    let targets = penalty_targets(&model, false);
    let params: Vec<usize> = model
        .penalised_weights(false)
        .iter()
        .map(|p| p.param)
        .collect();
    assert!(targets.len() == 5 && targets.iter().any(|t| t.view.len() > 1));
    for reg in [
        Regularizer::new(Penalty::WeightedAlpha(WeightedAlphaParams::default()), 0.05),
        Regularizer::new(Penalty::StableRank(StableRankParams::default()), 0.05),
    ] {
        let pen = run(Some(reg));
        for t in &targets {
            let p = params[t.weight];
            let w0 = widen(&model.params[p].data).unwrap();
            let vp = t
                .view
                .penalty(&w0, |pooled| {
                    let st = LayerState {
                        initial_lambda_max: pooled.last().copied(),
                        ..LayerState::default()
                    };
                    let term = reg.spectral_coefficients(pooled, &st, 0)?;
                    Ok((term.value, term.g))
                })
                .unwrap();
            let grad = t.view.gradient(&w0, &vp).unwrap();
            let scale = grad.iter().fold(0.0f64, |m, g| m.max(g.abs())) * lr as f64;
            assert!(
                scale > 0.0,
                "{}: zero reference gradient",
                model.params[p].name
            );
            let worst = pen.params[p]
                .data
                .iter()
                .zip(&plain.params[p].data)
                .zip(&grad)
                .map(|((&a, &b), &g)| ((a - b) as f64 + lr as f64 * g).abs())
                .fold(0.0f64, f64::max);
            assert!(
                worst <= 2e-3 * scale + 1e-7,
                "{} ({:?}): penalised - plain differs from -lr * reference by {worst} (scale {scale})",
                model.params[p].name,
                reg.penalty.name()
            );
        }
    }
}

/// The default policy holds the penalty product exactly where it is full-rank (weighted alpha,
/// the power-law prior) and the interval automatic; an explicit setting wins; the run records
/// what it did.
#[test]
fn default_policy_holds_only_full_rank_products_under_auto() {
    let _g = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let (model, d, shapes) = setup();
    let stable = Regularizer::new(Penalty::StableRank(StableRankParams::default()), 0.05);
    let policy = |every, hold| RefreshPolicy {
        every,
        max_lag: None,
        hold,
    };
    for (r, every, hold, want) in [
        (reg(), SpectrumEvery::Auto, None, true),
        (stable, SpectrumEvery::Auto, None, false),
        (reg(), SpectrumEvery::Steps(2), None, false),
        (reg(), SpectrumEvery::Auto, Some(false), false),
        (stable, SpectrumEvery::Steps(2), Some(true), true),
    ] {
        let c = TrainConfig {
            refresh: policy(every, hold),
            ..cfg(1, 0)
        };
        let mut lp = LayerPenalties::new(r).unwrap();
        assert_eq!(c.refresh.holds(lp.full_rank_product()), want);
        let mut b = cpu(&model, &d, 0.9);
        let h = train(&mut b, &shapes, N, false, &c, Some(&mut lp), &mut |_| {}).unwrap();
        let held = h.refresh.unwrap().held;
        assert_eq!(held, want, "{:?} {every:?} {hold:?}", r.penalty.name());
    }
}
