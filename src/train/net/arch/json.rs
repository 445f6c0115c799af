//! A small JSON architecture file for sequential networks the named families do not cover:
//! `{"input": [c, h, w] (optional), "layers": [{"type": "conv2d", "name": "conv1", "out": 6,
//! "kernel": 5, "padding": 2}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
//! {"type": "flatten"}, {"type": "linear", "name": "fc", "out": 10}, ...]}`.
//!
//! Layer types: `conv2d` (`name`, `out`, `kernel`, `stride` 1, `padding` 0, `groups` 1,
//! `bias`), `batchnorm2d` (`name`), `relu`, `maxpool2d` / `avgpool2d` (`kernel`, `stride` =
//! kernel, `padding` 0), `adaptive_avgpool2d` (`out`: [h, w]), `flatten`, `linear` (`name`,
//! `out`, `bias`), `dropout` (`p`). With a checkpoint, `out` and `bias` default to the stored
//! tensors; fresh builds need every `out` but the last Linear's (the number of classes).

use std::path::Path;

use super::super::builder::{Builder, ConvSpec};
use super::super::ir::Op;
use crate::error::{Error, Result};

fn one() -> usize {
    1
}

/// One layer of the file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    /// Conv2d.
    Conv2d {
        /// Tensor prefix.
        name: String,
        /// Output channels.
        out: Option<usize>,
        /// Square kernel.
        kernel: usize,
        /// Stride.
        #[serde(default = "one")]
        stride: usize,
        /// Zero padding.
        #[serde(default)]
        padding: usize,
        /// Groups.
        #[serde(default = "one")]
        groups: usize,
        /// With bias.
        bias: Option<bool>,
    },
    /// BatchNorm2d.
    Batchnorm2d {
        /// Tensor prefix.
        name: String,
    },
    /// ReLU.
    Relu,
    /// MaxPool2d.
    Maxpool2d {
        /// Window.
        kernel: usize,
        /// Stride (default: the window).
        stride: Option<usize>,
        /// Padding.
        #[serde(default)]
        padding: usize,
    },
    /// AvgPool2d.
    Avgpool2d {
        /// Window.
        kernel: usize,
        /// Stride (default: the window).
        stride: Option<usize>,
        /// Padding.
        #[serde(default)]
        padding: usize,
    },
    /// AdaptiveAvgPool2d.
    AdaptiveAvgpool2d {
        /// Output size.
        out: [usize; 2],
    },
    /// flatten(1).
    Flatten,
    /// Linear.
    Linear {
        /// Tensor prefix.
        name: String,
        /// Output features.
        out: Option<usize>,
        /// With bias.
        bias: Option<bool>,
    },
    /// Dropout.
    Dropout {
        /// Drop probability.
        p: f32,
    },
}

/// The file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchFile {
    /// Input shape, if fixed by the file.
    pub input: Option<[usize; 3]>,
    /// Layers in order.
    pub layers: Vec<LayerSpec>,
}

impl ArchFile {
    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<ArchFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Serde {
            path: path.to_path_buf(),
            reason: format!("architecture file: {e}"),
        })
    }

    /// Adds the layers (fresh: the last Linear without `out` gets `classes`).
    pub fn build(&self, b: &mut Builder<'_>, classes: usize) -> Result<usize> {
        let mut x = 0;
        let need = |out: Option<usize>, name: &str, b: &Builder<'_>, last: bool| -> Result<usize> {
            match out {
                Some(o) => Ok(o),
                None if b.checkpoint().is_some() => b.out_of(&format!("{name}.weight"), 0),
                None if last => Ok(classes),
                None => Err(Error::InvalidArgument(format!(
                    "layer '{name}' needs \"out\" to be built fresh"
                ))),
            }
        };
        let n = self.layers.len();
        for (i, l) in self.layers.iter().enumerate() {
            x = match l {
                LayerSpec::Conv2d {
                    name,
                    out,
                    kernel,
                    stride,
                    padding,
                    groups,
                    bias,
                } => {
                    let out_c = need(*out, name, b, false)?;
                    let bias = bias.unwrap_or_else(|| b.has(&format!("{name}.bias"), true));
                    b.conv(
                        x,
                        name,
                        ConvSpec {
                            out_c,
                            k: *kernel,
                            stride: *stride,
                            pad: *padding,
                            groups: *groups,
                            bias,
                        },
                    )?
                }
                LayerSpec::Batchnorm2d { name } => b.bn(x, name)?,
                LayerSpec::Relu => b.op(Op::Relu, x, None)?,
                LayerSpec::Maxpool2d {
                    kernel,
                    stride,
                    padding,
                } => {
                    let s = stride.unwrap_or(*kernel);
                    b.op(
                        Op::MaxPool2d {
                            k: [*kernel; 2],
                            stride: [s; 2],
                            padding: [*padding; 2],
                        },
                        x,
                        None,
                    )?
                }
                LayerSpec::Avgpool2d {
                    kernel,
                    stride,
                    padding,
                } => {
                    let s = stride.unwrap_or(*kernel);
                    b.op(
                        Op::AvgPool2d {
                            k: [*kernel; 2],
                            stride: [s; 2],
                            padding: [*padding; 2],
                        },
                        x,
                        None,
                    )?
                }
                LayerSpec::AdaptiveAvgpool2d { out } => {
                    b.op(Op::AdaptiveAvgPool2d { out: *out }, x, None)?
                }
                LayerSpec::Flatten => b.op(Op::Flatten, x, None)?,
                LayerSpec::Linear { name, out, bias } => {
                    let last = self.layers[i + 1..]
                        .iter()
                        .all(|l| !matches!(l, LayerSpec::Linear { .. } | LayerSpec::Conv2d { .. }));
                    let out_f = need(*out, name, b, last)?;
                    let bias = bias.unwrap_or_else(|| b.has(&format!("{name}.bias"), true));
                    b.linear(x, name, out_f, bias)?
                }
                LayerSpec::Dropout { p } => {
                    if !(0.0..1.0).contains(p) {
                        return Err(Error::InvalidArgument(format!(
                            "dropout p = {p} outside [0, 1)"
                        )));
                    }
                    b.op(Op::Dropout { p: *p }, x, None)?
                }
            };
        }
        let _ = n;
        Ok(x)
    }

    /// Input channels of the first convolution, from the file or the checkpoint.
    pub fn first_conv(&self) -> Option<&str> {
        self.layers.iter().find_map(|l| match l {
            LayerSpec::Conv2d { name, .. } => Some(name.as_str()),
            _ => None,
        })
    }
}
