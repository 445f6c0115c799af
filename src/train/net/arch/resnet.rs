//! torchvision's ResNet (`torchvision.models.resnet`): stem `conv1, bn1, relu` (+ `maxpool`
//! 3/2/1 for the ImageNet stem), stages `layer1..layerL` of BasicBlocks (`conv1` 3x3 stride
//! s, `bn1`, ReLU, `conv2` 3x3, `bn2`) or Bottlenecks (`conv1` 1x1, `bn1`, ReLU, `conv2` 3x3
//! stride s with groups, `bn2`, ReLU, `conv3` 1x1, `bn3`), each with an optional
//! `downsample.0` (1x1 conv, stride s) + `downsample.1` (BN) branch, summed and ReLU'd;
//! adaptive average pool to 1x1, flatten, `fc`. The first block of stage 1 has stride 1, of
//! the later stages 2.
//!
//! From a checkpoint: `conv1`'s kernel picks the stem (7x7 stride 2 + max-pool: ImageNet;
//! 3x3 stride 1, no max-pool: CIFAR), `layer1.0.conv3` picks Bottleneck, the stage and block
//! counts come from the names, every width (and a bottleneck's groups) from the shapes.

use super::super::builder::{Builder, ConvSpec};
use super::super::ir::Op;
use crate::error::{Error, Result};

/// A ResNet to build fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResNetSpec {
    /// Bottleneck blocks (expansion 4) instead of BasicBlocks.
    pub bottleneck: bool,
    /// Blocks per stage.
    pub blocks: Vec<usize>,
    /// Planes of the first stage (torchvision: 64), doubled per stage.
    pub width: usize,
    /// CIFAR stem (3x3 stride 1, no max-pool) instead of ImageNet's.
    pub cifar: bool,
}

impl ResNetSpec {
    /// torchvision's depth names (10 = [1,1,1,1] BasicBlocks).
    pub fn depth(depth: usize) -> Option<ResNetSpec> {
        let (bottleneck, blocks) = match depth {
            10 => (false, vec![1, 1, 1, 1]),
            18 => (false, vec![2, 2, 2, 2]),
            34 => (false, vec![3, 4, 6, 3]),
            50 => (true, vec![3, 4, 6, 3]),
            101 => (true, vec![3, 4, 23, 3]),
            152 => (true, vec![3, 8, 36, 3]),
            _ => return None,
        };
        Some(ResNetSpec {
            bottleneck,
            blocks,
            width: 64,
            cifar: false,
        })
    }
}

/// Adds a ResNet (fresh: `spec`, `classes` outputs) and returns the logits' value id.
pub fn build(b: &mut Builder<'_>, spec: Option<&ResNetSpec>, classes: usize) -> Result<usize> {
    let in_c = b.shape(0)[0];
    let spec = match (b.checkpoint(), spec) {
        (Some(t), _) => {
            let k = t
                .need("conv1.weight", "resnet")?
                .get(2)
                .copied()
                .unwrap_or(0);
            let cifar =
                match k {
                    3 => true,
                    7 => false,
                    _ => {
                        return Err(t.error("conv1.weight", format!(
                        "kernel {k}: neither the ImageNet stem (7x7) nor the CIFAR stem (3x3)"
                    )));
                    }
                };
            let mut blocks = Vec::new();
            while t.has(&format!("layer{}.0.conv1.weight", blocks.len() + 1)) {
                let l = blocks.len() + 1;
                blocks.push(
                    (0..)
                        .take_while(|i| t.has(&format!("layer{l}.{i}.conv1.weight")))
                        .count(),
                );
            }
            if blocks.is_empty() {
                return Err(Error::Format {
                    path: t.path.clone(),
                    reason: "missing tensor 'layer1.0.conv1.weight' (architecture resnet)".into(),
                });
            }
            ResNetSpec {
                bottleneck: t.has("layer1.0.conv3.weight"),
                blocks,
                width: 0,
                cifar,
            }
        }
        (None, Some(s)) => s.clone(),
        (None, None) => {
            return Err(Error::InvalidArgument(
                "a fresh ResNet needs a depth".into(),
            ));
        }
    };
    let stem_k = if spec.cifar { 3 } else { 7 };
    let c1 = b.out_of("conv1.weight", spec.width)?;
    let conv = |out_c, k, stride, groups, bias| ConvSpec {
        out_c,
        k,
        stride,
        pad: (k - 1) / 2,
        groups,
        bias,
    };
    let mut x = b.conv(
        0,
        "conv1",
        conv(
            c1,
            stem_k,
            if spec.cifar { 1 } else { 2 },
            1,
            b.has("conv1.bias", false),
        ),
    )?;
    x = b.bn(x, "bn1")?;
    x = b.op(Op::Relu, x, None)?;
    if !spec.cifar {
        x = b.op(
            Op::MaxPool2d {
                k: [3, 3],
                stride: [2, 2],
                padding: [1, 1],
            },
            x,
            None,
        )?;
    }
    let _ = in_c;
    let expansion = if spec.bottleneck { 4 } else { 1 };
    for (l, &n) in spec.blocks.iter().enumerate() {
        let planes = spec.width << l;
        for blk in 0..n {
            let p = format!("layer{}.{blk}", l + 1);
            let s = if blk == 0 && l > 0 { 2 } else { 1 };
            let inp = b.shape(x)[0];
            let mut y;
            if spec.bottleneck {
                let w1 = b.out_of(&format!("{p}.conv1.weight"), planes)?;
                y = b.conv(x, &format!("{p}.conv1"), conv(w1, 1, 1, 1, false))?;
                y = b.bn(y, &format!("{p}.bn1"))?;
                y = b.op(Op::Relu, y, None)?;
                let ws = b.weight_shape(&format!("{p}.conv2.weight"), &[planes, planes, 3, 3])?;
                let groups = if ws.len() == 4 && ws[1] > 0 && w1 % ws[1] == 0 {
                    w1 / ws[1]
                } else {
                    1
                };
                y = b.conv(y, &format!("{p}.conv2"), conv(ws[0], 3, s, groups, false))?;
                y = b.bn(y, &format!("{p}.bn2"))?;
                y = b.op(Op::Relu, y, None)?;
                let w3 = b.out_of(&format!("{p}.conv3.weight"), planes * expansion)?;
                y = b.conv(y, &format!("{p}.conv3"), conv(w3, 1, 1, 1, false))?;
                y = b.bn(y, &format!("{p}.bn3"))?;
            } else {
                let w1 = b.out_of(&format!("{p}.conv1.weight"), planes)?;
                y = b.conv(x, &format!("{p}.conv1"), conv(w1, 3, s, 1, false))?;
                y = b.bn(y, &format!("{p}.bn1"))?;
                y = b.op(Op::Relu, y, None)?;
                let w2 = b.out_of(&format!("{p}.conv2.weight"), planes)?;
                y = b.conv(y, &format!("{p}.conv2"), conv(w2, 3, 1, 1, false))?;
                y = b.bn(y, &format!("{p}.bn2"))?;
            }
            let out = b.shape(y)[0];
            let fresh_ds = s != 1 || inp != out;
            let identity = if b.has(&format!("{p}.downsample.0.weight"), fresh_ds) {
                let d = b.conv(x, &format!("{p}.downsample.0"), conv(out, 1, s, 1, false))?;
                b.bn(d, &format!("{p}.downsample.1"))?
            } else {
                x
            };
            y = b.op(Op::Add, y, Some(identity))?;
            x = b.op(Op::Relu, y, None)?;
        }
    }
    x = b.op(Op::AdaptiveAvgPool2d { out: [1, 1] }, x, None)?;
    x = b.op(Op::Flatten, x, None)?;
    let out = b.out_of("fc.weight", classes)?;
    b.linear(x, "fc", out, b.has("fc.bias", true))
}
