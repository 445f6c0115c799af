//! LeNet-5 as in the conformance fixtures (`make_cnn_fixtures.py`): `conv1` (5x5), ReLU,
//! max-pool 2; `conv2` (5x5, no padding), ReLU, max-pool 2; flatten; `fc1`, ReLU, `fc2`, ReLU,
//! `fc3`. Widths come from the checkpoint's shapes; `conv1`'s padding is whichever of
//! `(k - 1) / 2` and 0 makes the flattened size equal `fc1`'s input (28x28 inputs: 2, the
//! classic 32x32: 0). Fresh: 6 and 16 channels, 120 and 84 features.

use super::super::builder::{Builder, ConvSpec};
use super::super::ir::{Op, window_out};
use crate::error::Result;

/// Adds LeNet-5 for `classes` outputs (fresh builds) and returns the logits' value id.
pub fn build(b: &mut Builder<'_>, classes: usize) -> Result<usize> {
    let [_, h, w] = b.shape(0);
    let w1 = b.weight_shape("conv1.weight", &[6, b.shape(0)[0], 5, 5])?;
    let w2 = b.weight_shape("conv2.weight", &[16, w1[0], 5, 5])?;
    let (k1, k2) = (*w1.get(2).unwrap_or(&5), *w2.get(2).unwrap_or(&5));
    // Spatial size after conv(pad) + pool, conv + pool.
    let flat = |pad: usize| -> Option<usize> {
        let side = |n: usize| {
            let a = window_out(n, k1, 1, pad)?;
            let a = window_out(a, 2, 2, 0)?;
            let a = window_out(a, k2, 1, 0)?;
            window_out(a, 2, 2, 0)
        };
        Some(w2[0] * side(h)? * side(w)?)
    };
    let fresh_pad = if h >= 32 { 0 } else { (k1 - 1) / 2 };
    let pad = match b.checkpoint() {
        None => fresh_pad,
        Some(_) => {
            let want = b
                .weight_shape("fc1.weight", &[0, 0])?
                .get(1)
                .copied()
                .unwrap_or(0);
            [(k1 - 1) / 2, 0]
                .into_iter()
                .find(|&p| flat(p) == Some(want))
                .unwrap_or((k1 - 1) / 2)
        }
    };
    let pool = Op::MaxPool2d {
        k: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
    };
    let spec = |out_c, k, pad| ConvSpec {
        out_c,
        k,
        stride: 1,
        pad,
        groups: 1,
        bias: true,
    };
    let mut x = b.conv(0, "conv1", spec(w1[0], k1, pad))?;
    x = b.op(Op::Relu, x, None)?;
    x = b.op(pool.clone(), x, None)?;
    x = b.conv(x, "conv2", spec(w2[0], k2, 0))?;
    x = b.op(Op::Relu, x, None)?;
    x = b.op(pool, x, None)?;
    x = b.op(Op::Flatten, x, None)?;
    for (name, fresh) in [("fc1", 120), ("fc2", 84)] {
        let out = b.out_of(&format!("{name}.weight"), fresh)?;
        x = b.linear(x, name, out, b.has(&format!("{name}.bias"), true))?;
        x = b.op(Op::Relu, x, None)?;
    }
    let out = b.out_of("fc3.weight", classes)?;
    b.linear(x, "fc3", out, b.has("fc3.bias", true))
}
