//! torchvision's VGG layout: `features` is a Sequential of, per configuration entry, either a
//! `MaxPool2d(2, 2)` (one index) or `Conv2d(k, padding (k-1)/2)` [+ `BatchNorm2d`] + `ReLU`
//! (two or three indices); then torchvision's `AdaptiveAvgPool2d((7, 7))` or nothing;
//! `flatten`; `classifier` = Linear layers with `ReLU` (one index) or `ReLU, Dropout(0.5)`
//! (two indices) between them.
//!
//! From a checkpoint: convolution positions and widths come from the `features.N.weight`
//! tensors, batch norm from `features.{N+1}.running_mean`, the max-pools between convolutions
//! from the index gaps, and the pools after the last convolution from `classifier`'s first
//! input size: the number of 2x2 pools `p` with `C h w = in_features`; if none fits and
//! `in_features = 49 C`, torchvision's 7x7 adaptive pool after one final max-pool.

use super::super::builder::{Builder, ConvSpec};
use super::super::ir::{Op, window_out};
use crate::error::{Error, Result};

/// One configuration entry: a convolution's output channels, or a max-pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// `Conv2d(.., out, 3)` (from a checkpoint: the stored kernel).
    Conv(usize),
    /// `MaxPool2d(2, 2)`.
    Pool,
}

/// A VGG to build fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VggSpec {
    /// Feature configuration.
    pub cfg: Vec<Item>,
    /// Batch norm after each convolution.
    pub bn: bool,
    /// torchvision's 7x7 adaptive average pool before the classifier.
    pub avgpool7: bool,
    /// Hidden Linear widths of the classifier (torchvision: 4096, 4096, with dropout).
    pub hidden: Vec<usize>,
    /// Dropout between classifier layers (torchvision's).
    pub dropout: bool,
}

/// Parses `16,M,32,M,64,64,M` (optionally `/128,64` hidden classifier widths).
pub fn parse_cfg(s: &str) -> Result<(Vec<Item>, Vec<usize>)> {
    let bad = || {
        Error::InvalidArgument(format!(
            "VGG configuration '{s}': expected e.g. 16,M,32,M,64,64,M[/128]"
        ))
    };
    let (feat, hidden) = s.split_once('/').unwrap_or((s, ""));
    let cfg = feat
        .split(',')
        .map(|t| match t.trim() {
            "M" | "m" => Ok(Item::Pool),
            n => n
                .parse::<usize>()
                .ok()
                .filter(|&v| v > 0)
                .map(Item::Conv)
                .ok_or_else(bad),
        })
        .collect::<Result<Vec<_>>>()?;
    let hidden = if hidden.is_empty() {
        Vec::new()
    } else {
        hidden
            .split(',')
            .map(|t| {
                t.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&v| v > 0)
                    .ok_or_else(bad)
            })
            .collect::<Result<Vec<_>>>()?
    };
    if !cfg.contains(&Item::Conv(0)) && cfg.iter().all(|i| *i == Item::Pool) {
        return Err(bad());
    }
    Ok((cfg, hidden))
}

/// torchvision's configurations A, B, D, E (VGG-11, 13, 16, 19).
pub fn torchvision_cfg(depth: usize) -> Option<Vec<Item>> {
    let s = match depth {
        11 => "64,M,128,M,256,256,M,512,512,M,512,512,M",
        13 => "64,64,M,128,128,M,256,256,M,512,512,M,512,512,M",
        16 => "64,64,M,128,128,M,256,256,256,M,512,512,512,M,512,512,512,M",
        19 => "64,64,M,128,128,M,256,256,256,256,M,512,512,512,512,M,512,512,512,512,M",
        _ => return None,
    };
    parse_cfg(s).ok().map(|(c, _)| c)
}

/// Infers the feature configuration (and batch norm) of a checkpoint's `features`, the
/// pools after the last convolution left out.
fn infer_features(b: &Builder<'_>) -> Result<(Vec<Item>, bool, usize)> {
    let t = b.checkpoint().expect("checkpoint builds only");
    let mut convs: Vec<(usize, usize)> = t
        .map
        .iter()
        .filter_map(|(name, tensor)| {
            let i = name
                .strip_prefix("features.")?
                .strip_suffix(".weight")?
                .parse()
                .ok()?;
            (tensor.shape.len() == 4).then_some((i, tensor.shape[0]))
        })
        .collect();
    convs.sort();
    let Some(&(first, _)) = convs.first() else {
        return Err(Error::Format {
            path: t.path.clone(),
            reason: "missing tensor 'features.0.weight': no convolution under 'features.' (architecture vgg)".into(),
        });
    };
    let bn = t.has(&format!("features.{}.running_mean", first + 1));
    let span = if bn { 3 } else { 2 };
    let (mut cfg, mut next) = (Vec::new(), 0);
    for &(i, out) in &convs {
        if i < next {
            return Err(t.error(
                &format!("features.{i}.weight"),
                format!("convolution at index {i} overlaps the previous block (batch norm: {bn})"),
            ));
        }
        cfg.extend(std::iter::repeat_n(Item::Pool, i - next));
        cfg.push(Item::Conv(out));
        next = i + span;
    }
    Ok((cfg, bn, next))
}

/// Adds a VGG (fresh: `spec`, `classes` outputs) and returns the logits' value id.
pub fn build(b: &mut Builder<'_>, spec: Option<&VggSpec>, classes: usize) -> Result<usize> {
    let (mut cfg, bn, end, avgpool7, linears) = match (b.checkpoint(), spec) {
        (Some(t), given) => {
            let (mut cfg, bn, end) = infer_features(b)?;
            if let Some(g) = given {
                // A configuration given with a checkpoint: its convolutions must be the stored
                // ones; its pools decide the positions.
                let convs = |c: &[Item]| c.iter().filter(|i| matches!(i, Item::Conv(_))).count();
                if convs(&g.cfg) != convs(&cfg) {
                    return Err(Error::Format {
                        path: t.path.clone(),
                        reason: format!(
                            "VGG configuration has {} convolutions, the checkpoint {}",
                            convs(&g.cfg),
                            convs(&cfg)
                        ),
                    });
                }
                cfg = g.cfg.clone();
            }
            let mut lin: Vec<usize> = t
                .map
                .keys()
                .filter_map(|n| {
                    n.strip_prefix("classifier.")?
                        .strip_suffix(".weight")?
                        .parse()
                        .ok()
                })
                .collect();
            lin.sort();
            if lin.is_empty() {
                return Err(Error::Format {
                    path: t.path.clone(),
                    reason: "missing tensor 'classifier.0.weight' (architecture vgg)".into(),
                });
            }
            // Tail pools from the classifier's input size.
            let in_f = t
                .need(&format!("classifier.{}.weight", lin[0]), "vgg")?
                .get(1)
                .copied()
                .unwrap_or(0);
            let (mut avg7, tail) = (false, if given.is_some() { Some(0) } else { None });
            let tail = match tail {
                Some(t0) => t0,
                None => {
                    let mut shape = b.shape(0);
                    for item in &cfg {
                        shape = step(shape, *item);
                    }
                    let mut p = 0;
                    let found = loop {
                        if shape[0] * shape[1] * shape[2] == in_f {
                            break Some(p);
                        }
                        if shape[1] < 2 || shape[2] < 2 {
                            break None;
                        }
                        shape = step(shape, Item::Pool);
                        p += 1;
                    };
                    match found {
                        Some(p) => p,
                        None if in_f == 49 * last_width(&cfg) => {
                            avg7 = true;
                            1
                        }
                        None => {
                            return Err(t.error(
                                &format!("classifier.{}.weight", lin[0]),
                                format!("{in_f} input features match no number of 2x2 max-pools after the last convolution nor a 7x7 average pool (input {:?})", b.shape(0)),
                            ));
                        }
                    }
                }
            };
            cfg.extend(std::iter::repeat_n(Item::Pool, tail));
            (cfg, bn, end, avg7, Linears::Checkpoint(lin))
        }
        (None, Some(s)) => (
            s.cfg.clone(),
            s.bn,
            0,
            s.avgpool7,
            Linears::Fresh(s.hidden.clone(), s.dropout),
        ),
        (None, None) => {
            return Err(Error::InvalidArgument(
                "a fresh VGG needs a configuration".into(),
            ));
        }
    };
    let _ = end;
    let mut x = 0;
    let mut idx = 0;
    for item in cfg.drain(..) {
        match item {
            Item::Pool => {
                x = b.op(
                    Op::MaxPool2d {
                        k: [2, 2],
                        stride: [2, 2],
                        padding: [0, 0],
                    },
                    x,
                    None,
                )?;
                idx += 1;
            }
            Item::Conv(out) => {
                let name = format!("features.{idx}");
                let ws = b.weight_shape(&format!("{name}.weight"), &[out, 0, 3, 3])?;
                let k = ws.get(2).copied().unwrap_or(3);
                let bias = b.has(&format!("{name}.bias"), true);
                x = b.conv(
                    x,
                    &name,
                    ConvSpec {
                        out_c: ws[0],
                        k,
                        stride: 1,
                        pad: (k - 1) / 2,
                        groups: 1,
                        bias,
                    },
                )?;
                if bn {
                    x = b.bn(x, &format!("features.{}", idx + 1))?;
                }
                x = b.op(Op::Relu, x, None)?;
                idx += if bn { 3 } else { 2 };
            }
        }
    }
    if avgpool7 {
        x = b.op(Op::AdaptiveAvgPool2d { out: [7, 7] }, x, None)?;
    }
    x = b.op(Op::Flatten, x, None)?;
    match linears {
        Linears::Checkpoint(lin) => {
            for (j, &i) in lin.iter().enumerate() {
                let name = format!("classifier.{i}");
                let out = b.out_of(&format!("{name}.weight"), 0)?;
                x = b.linear(x, &name, out, b.has(&format!("{name}.bias"), true))?;
                if let Some(&next) = lin.get(j + 1) {
                    match next - i - 1 {
                        0 => {}
                        1 => x = b.op(Op::Relu, x, None)?,
                        2 => {
                            x = b.op(Op::Relu, x, None)?;
                            x = b.op(Op::Dropout { p: 0.5 }, x, None)?;
                        }
                        gap => {
                            let t = b.checkpoint().expect("checkpoint");
                            return Err(t.error(&format!("classifier.{next}.weight"), format!("{gap} modules after classifier.{i}: expected ReLU or ReLU + Dropout")));
                        }
                    }
                }
            }
            Ok(x)
        }
        Linears::Fresh(hidden, dropout) => {
            let mut idx = 0;
            for h in hidden {
                x = b.linear(x, &format!("classifier.{idx}"), h, true)?;
                x = b.op(Op::Relu, x, None)?;
                idx += 2;
                if dropout {
                    x = b.op(Op::Dropout { p: 0.5 }, x, None)?;
                    idx += 1;
                }
            }
            b.linear(x, &format!("classifier.{idx}"), classes, true)
        }
    }
}

enum Linears {
    Checkpoint(Vec<usize>),
    Fresh(Vec<usize>, bool),
}

fn last_width(cfg: &[Item]) -> usize {
    cfg.iter()
        .rev()
        .find_map(|i| match i {
            Item::Conv(c) => Some(*c),
            Item::Pool => None,
        })
        .unwrap_or(0)
}

/// Shape after one configuration entry (3x3-style same convolutions keep the size).
fn step(s: [usize; 3], item: Item) -> [usize; 3] {
    match item {
        Item::Conv(c) => [c, s[1], s[2]],
        Item::Pool => [
            s[0],
            window_out(s[1], 2, 2, 0).unwrap_or(0),
            window_out(s[2], 2, 2, 0).unwrap_or(0),
        ],
    }
}
