//! Shared check: one SGD step (lr 1, momentum 0) with and without the penalty from identical
//! weights and batch; the difference of the resulting weights is the penalty gradient the
//! backend applied, compared with the f64 reference `Regularizer::value_and_grad`.

use htdiag::regularize::{
    FrechetParams, LayerState, Penalty, PowerLawParams, PriorExponent, Regularizer,
    SpectralNormParams, StableRankParams, WeightedAlphaParams,
};
use htdiag::train::penalty::LayerPenalties;
use htdiag::train::spectral::{decompose_f32, penalty_spectrum};
use htdiag::train::{Backend, Dataset, Mlp, SpectralPenalty, StepParams};

/// Every penalty the trainer offers, with weights that give gradients of a testable size.
pub fn regularizers() -> Vec<Regularizer> {
    vec![
        Regularizer::new(Penalty::WeightedAlpha(WeightedAlphaParams::default()), 0.05),
        Regularizer::new(Penalty::StableRank(StableRankParams::default()), 0.05),
        Regularizer::new(
            Penalty::PowerLawPrior(PowerLawParams {
                exponent: PriorExponent::Fixed(2.0),
            }),
            0.01,
        ),
        Regularizer::new(
            Penalty::FrechetPrior(FrechetParams {
                shape: Some(1.5),
                scale: Some(2.0),
            }),
            0.05,
        ),
        Regularizer::new(Penalty::SpectralNorm(SpectralNormParams::default()), 0.05),
    ]
}

fn data() -> Dataset {
    Dataset::load(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/mnist2k.safetensors"
        )),
        None,
    )
    .unwrap()
    .head(64)
}

/// Runs the check on backends made by `make`.
pub fn check(reg: &Regularizer, make: &mut dyn FnMut(&Mlp, Dataset) -> Box<dyn Backend>) {
    let model = Mlp::init(&[784, 40, 60, 10], 11).unwrap();
    let d = data();
    let p = StepParams {
        lr: 1.0,
        weight_decay: 0.0,
        t: 1,
        epoch: 0,
    };
    let batch: Vec<u32> = (0..64).collect();
    let mut plain = make(&model, d.clone());
    let mut pen = make(&model, d.clone());
    let mut lp = LayerPenalties::new(*reg).unwrap();
    let mut refs = Vec::new();
    for (l, layer) in model.layers.iter().enumerate() {
        let lin = layer.as_linear();
        let s = decompose_f32(&lin.weight, lin.out_dim, lin.in_dim).unwrap();
        lp.start(l, &s.evals).unwrap();
        let (_, g) = lp.spectral(l, &s.evals, 0).unwrap();
        pen.set_penalty(l, Some(&penalty_spectrum(&s, &g, 2.0)))
            .unwrap();
        let w: Vec<f64> = lin.weight.iter().map(|&v| v as f64).collect();
        let mut state = LayerState::new(&w, lin.out_dim, lin.in_dim).unwrap();
        let (_, grad) = reg
            .value_and_grad(&w, lin.out_dim, lin.in_dim, &mut state, 0)
            .unwrap();
        refs.push(grad);
    }
    plain.train_step(&batch, 0, &p).unwrap();
    pen.train_step(&batch, 0, &p).unwrap();
    for (l, want) in refs.iter().enumerate() {
        let a = plain.read_weight(l).unwrap();
        let b = pen.read_weight(l).unwrap();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            scale > 1e-5,
            "{}: layer {l}: gradient too small to test",
            reg.penalty.name()
        );
        let mut worst = 0.0f64;
        for (k, g) in want.iter().enumerate() {
            let got = (a[k] - b[k]) as f64;
            worst = worst.max((got - g).abs());
        }
        // f32 weights of ~0.1 leave ~1e-8 of cancellation noise in the difference.
        assert!(
            worst < 2e-3 * scale + 1e-6,
            "{} layer {l}: max deviation {worst:e} vs gradient scale {scale:e} ({})",
            reg.penalty.name(),
            plain.name()
        );
    }
}
