//! The network IR shared by the CPU and GPU backends: an SSA graph
//! of PyTorch layers evaluated in order, NCHW f32, the batch dimension implicit.
//!
//! Value 0 is the input; node `i`'s output is value `i + 1`. Parameters and buffers carry the
//! tensor names of the checkpoint they came from (PyTorch / torchvision `state_dict` names), so
//! a trained network is written back under the same names.

use crate::error::{Error, Result};

/// A trainable tensor (PyTorch layout, row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Tensor name in the checkpoint, e.g. `features.0.weight`.
    pub name: String,
    /// Shape, e.g. `[out, in/groups, kh, kw]` for a convolution weight.
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

/// Values of a non-trainable buffer, in the dtype PyTorch keeps them in.
#[derive(Debug, Clone, PartialEq)]
pub enum BufferData {
    /// `running_mean`, `running_var`.
    F32(Vec<f32>),
    /// `num_batches_tracked` (a 0-dimensional I64 tensor in PyTorch).
    I64(Vec<i64>),
}

/// A non-trainable tensor: batch-norm running statistics and step counter.
#[derive(Debug, Clone, PartialEq)]
pub struct Buffer {
    /// Tensor name in the checkpoint, e.g. `bn1.running_var`.
    pub name: String,
    /// Shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// Values.
    pub data: BufferData,
}

/// A layer kind with its hyper-parameters; `usize` fields named after tensors index
/// [`Net::params`] (weights, biases) or [`Net::buffers`] (running statistics).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `torch.nn.Conv2d` (cross-correlation, zero padding, dilation 1); weight
    /// `[out_c, in_c / groups, kh, kw]`.
    Conv2d {
        /// Weight parameter.
        weight: usize,
        /// Bias parameter (`out_c`), if any.
        bias: Option<usize>,
        /// Input channels.
        in_c: usize,
        /// Output channels.
        out_c: usize,
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
        /// Stride (h, w).
        stride: [usize; 2],
        /// Zero padding (h, w).
        padding: [usize; 2],
        /// Channel groups (`in_c` for depthwise).
        groups: usize,
    },
    /// `torch.nn.BatchNorm2d` (affine, tracking running statistics).
    BatchNorm2d {
        /// Scale `gamma` (`c`).
        weight: usize,
        /// Shift `beta` (`c`).
        bias: usize,
        /// Buffer `running_mean`.
        running_mean: usize,
        /// Buffer `running_var`.
        running_var: usize,
        /// Buffer `num_batches_tracked`, if the checkpoint has it.
        num_batches_tracked: Option<usize>,
        /// Denominator guard (PyTorch: 1e-5).
        eps: f32,
        /// Running-statistics momentum (PyTorch: 0.1).
        momentum: f32,
    },
    /// `max(x, 0)`.
    Relu,
    /// `torch.nn.MaxPool2d` (padding with -inf, floor mode, dilation 1).
    MaxPool2d {
        /// Window (h, w).
        k: [usize; 2],
        /// Stride (h, w).
        stride: [usize; 2],
        /// Padding (h, w).
        padding: [usize; 2],
    },
    /// `torch.nn.AvgPool2d` (floor mode, `count_include_pad=True`).
    AvgPool2d {
        /// Window (h, w).
        k: [usize; 2],
        /// Stride (h, w).
        stride: [usize; 2],
        /// Padding (h, w).
        padding: [usize; 2],
    },
    /// `torch.nn.AdaptiveAvgPool2d`: output cell `i` averages input rows
    /// `floor(i H / out) .. ceil((i + 1) H / out)` (and likewise columns).
    AdaptiveAvgPool2d {
        /// Output size (h, w).
        out: [usize; 2],
    },
    /// `flatten(1)`: `[c, h, w]` in C order to `[c * h * w, 1, 1]`.
    Flatten,
    /// `torch.nn.Linear`, `y = x W^T + b`; weight `[out_f, in_f]`. Its input must be flat.
    Linear {
        /// Weight parameter.
        weight: usize,
        /// Bias parameter (`out_f`), if any.
        bias: Option<usize>,
        /// Input features.
        in_f: usize,
        /// Output features.
        out_f: usize,
    },
    /// Element-wise sum of two values of equal shape (residual connection).
    Add,
    /// `torch.nn.Dropout`: identity in eval mode; in train mode zeroes each element with
    /// probability `p` (seeded mask) and scales the others by `1 / (1 - p)`.
    Dropout {
        /// Drop probability.
        p: f32,
    },
}

impl Op {
    /// Number of inputs the op takes.
    pub fn arity(&self) -> usize {
        if matches!(self, Op::Add) { 2 } else { 1 }
    }

    /// Short lower-case name for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv2d { .. } => "conv2d",
            Op::BatchNorm2d { .. } => "batchnorm2d",
            Op::Relu => "relu",
            Op::MaxPool2d { .. } => "maxpool2d",
            Op::AvgPool2d { .. } => "avgpool2d",
            Op::AdaptiveAvgPool2d { .. } => "adaptive_avgpool2d",
            Op::Flatten => "flatten",
            Op::Linear { .. } => "linear",
            Op::Add => "add",
            Op::Dropout { .. } => "dropout",
        }
    }
}

/// One step of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// Value ids it reads (0 = the network input, `i + 1` = node `i`'s output).
    pub inputs: Vec<usize>,
}

/// A network: input shape, nodes in topological order, parameters and buffers. The last
/// node's output (flat, `[classes, 1, 1]`) is the logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    /// `[c, h, w]` of one sample (`[features, 1, 1]` for flat inputs).
    pub input: [usize; 3],
    /// Nodes in evaluation order.
    pub nodes: Vec<Node>,
    /// Trainable tensors.
    pub params: Vec<Param>,
    /// Batch-norm running statistics.
    pub buffers: Vec<Buffer>,
}

/// How the penalty sees a weight tensor as matrices: the penalty's own
/// [`crate::regularize::MatrixView`] (one definition for the trainer and the penalty).
pub use crate::regularize::MatrixView as WeightView;

/// A weight tensor the spectral penalty may act on.
#[derive(Debug, Clone, PartialEq)]
pub struct PenalisedWeight {
    /// Index into [`Net::params`].
    pub param: usize,
    /// Its matrix view.
    pub view: WeightView,
    /// Depthwise convolution (one input channel per group): skipped by the penalty, as
    /// `analyze` skips it.
    pub depthwise: bool,
}

impl Net {
    /// Shapes `[c, h, w]` of every value (index 0 = input), checking every node's inputs and
    /// parameter shapes on the way. Errors name the node and the tensor.
    pub fn shapes(&self) -> Result<Vec<[usize; 3]>> {
        let mut s = vec![self.input];
        for (i, node) in self.nodes.iter().enumerate() {
            let bad = |reason: String| {
                Error::InvalidArgument(format!("node {i} ({}): {reason}", node.op.kind()))
            };
            if node.inputs.len() != node.op.arity() || node.inputs.iter().any(|&v| v > i) {
                return Err(bad(format!(
                    "inputs {:?} are not earlier values",
                    node.inputs
                )));
            }
            let x = s[node.inputs[0]];
            let out = match &node.op {
                Op::Conv2d {
                    weight,
                    bias,
                    in_c,
                    out_c,
                    kh,
                    kw,
                    stride,
                    padding,
                    groups,
                } => {
                    if *groups == 0 || in_c % groups != 0 || out_c % groups != 0 {
                        return Err(bad(format!(
                            "{groups} groups for {in_c} -> {out_c} channels"
                        )));
                    }
                    self.expect_param(*weight, &[*out_c, in_c / groups, *kh, *kw], &bad)?;
                    if let Some(b) = bias {
                        self.expect_param(*b, &[*out_c], &bad)?;
                    }
                    if x[0] != *in_c {
                        return Err(bad(format!("input has {} channels, expected {in_c}", x[0])));
                    }
                    let oh = window_out(x[1], *kh, stride[0], padding[0]).ok_or_else(|| {
                        bad(format!("kernel {kh} does not fit input height {}", x[1]))
                    })?;
                    let ow = window_out(x[2], *kw, stride[1], padding[1]).ok_or_else(|| {
                        bad(format!("kernel {kw} does not fit input width {}", x[2]))
                    })?;
                    [*out_c, oh, ow]
                }
                Op::BatchNorm2d {
                    weight,
                    bias,
                    running_mean,
                    running_var,
                    ..
                } => {
                    let c = x[0];
                    self.expect_param(*weight, &[c], &bad)?;
                    self.expect_param(*bias, &[c], &bad)?;
                    for &b in [running_mean, running_var] {
                        match self.buffers.get(b) {
                            Some(buf) if buf.shape == [c] => {}
                            _ => return Err(bad(format!("buffer {b} is not a [{c}] tensor"))),
                        }
                    }
                    x
                }
                Op::Relu | Op::Dropout { .. } => x,
                Op::MaxPool2d { k, stride, padding } | Op::AvgPool2d { k, stride, padding } => {
                    if padding[0] * 2 > k[0] || padding[1] * 2 > k[1] {
                        return Err(bad("padding exceeds half the window".into()));
                    }
                    match (
                        window_out(x[1], k[0], stride[0], padding[0]),
                        window_out(x[2], k[1], stride[1], padding[1]),
                    ) {
                        (Some(h), Some(w)) => [x[0], h, w],
                        _ => return Err(bad(format!("window {k:?} larger than input {x:?}"))),
                    }
                }
                Op::AdaptiveAvgPool2d { out } => {
                    if out[0] == 0 || out[1] == 0 || x[1] == 0 || x[2] == 0 {
                        return Err(bad(format!("output {out:?} from input {x:?}")));
                    }
                    [x[0], out[0], out[1]]
                }
                Op::Flatten => [x[0] * x[1] * x[2], 1, 1],
                Op::Linear {
                    weight,
                    bias,
                    in_f,
                    out_f,
                } => {
                    self.expect_param(*weight, &[*out_f, *in_f], &bad)?;
                    if let Some(b) = bias {
                        self.expect_param(*b, &[*out_f], &bad)?;
                    }
                    if x != [*in_f, 1, 1] {
                        return Err(bad(format!(
                            "input of shape {x:?}, expected {in_f} features"
                        )));
                    }
                    [*out_f, 1, 1]
                }
                Op::Add => {
                    let y = s[node.inputs[1]];
                    if x != y {
                        return Err(bad(format!("adding shapes {x:?} and {y:?}")));
                    }
                    x
                }
            };
            s.push(out);
        }
        Ok(s)
    }

    fn expect_param(&self, p: usize, shape: &[usize], bad: &dyn Fn(String) -> Error) -> Result<()> {
        match self.params.get(p) {
            Some(t) if t.shape == shape && t.data.len() == shape.iter().product::<usize>() => {
                Ok(())
            }
            Some(t) => Err(bad(format!(
                "'{}' has shape {:?}, expected {shape:?}",
                t.name, t.shape
            ))),
            None => Err(bad(format!("parameter {p} does not exist"))),
        }
    }

    /// Flat size of one sample's input.
    pub fn input_len(&self) -> usize {
        self.input.iter().product()
    }

    /// Number of outputs (classes) of the last node.
    pub fn classes(&self) -> Result<usize> {
        let s = self.shapes()?;
        let last = s[s.len() - 1];
        if last[1] != 1 || last[2] != 1 {
            return Err(Error::InvalidArgument(format!(
                "the network's output has shape {last:?}, not a vector of logits"
            )));
        }
        Ok(last[0])
    }

    /// Weight tensors of Linear and Conv2d nodes, in node order, with their matrix view
    /// (`flatten`: conv weights as one `out x (in kh kw)` matrix instead of slices).
    pub fn penalised_weights(&self, flatten: bool) -> Vec<PenalisedWeight> {
        self.nodes
            .iter()
            .filter_map(|n| match n.op {
                Op::Linear {
                    weight,
                    in_f,
                    out_f,
                    ..
                } => Some(PenalisedWeight {
                    param: weight,
                    view: WeightView::Dense {
                        out: out_f,
                        inp: in_f,
                    },
                    depthwise: false,
                }),
                Op::Conv2d {
                    weight,
                    in_c,
                    out_c,
                    kh,
                    kw,
                    groups,
                    ..
                } => {
                    let inp = in_c / groups;
                    Some(PenalisedWeight {
                        param: weight,
                        view: if flatten {
                            WeightView::ConvFlatten {
                                out: out_c,
                                inp_khkw: inp * kh * kw,
                            }
                        } else {
                            WeightView::ConvSlices {
                                out: out_c,
                                inp,
                                kh,
                                kw,
                            }
                        },
                        depthwise: inp == 1 && groups > 1,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Total number of trainable scalars.
    pub fn num_params(&self) -> usize {
        self.params.iter().map(|p| p.data.len()).sum()
    }
}

/// Output length of a sliding window (PyTorch's floor formula), `None` if it does not fit.
pub fn window_out(n: usize, k: usize, stride: usize, pad: usize) -> Option<usize> {
    if stride == 0 || k == 0 || n + 2 * pad < k {
        return None;
    }
    Some((n + 2 * pad - k) / stride + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, shape: &[usize]) -> Param {
        Param {
            name: name.into(),
            shape: shape.to_vec(),
            data: vec![0.0; shape.iter().product()],
        }
    }

    #[test]
    fn lenet_shapes_and_mismatch() {
        let conv = |w, b, i, o, pad| Op::Conv2d {
            weight: w,
            bias: Some(b),
            in_c: i,
            out_c: o,
            kh: 5,
            kw: 5,
            stride: [1, 1],
            padding: [pad, pad],
            groups: 1,
        };
        let pool = Op::MaxPool2d {
            k: [2, 2],
            stride: [2, 2],
            padding: [0, 0],
        };
        let ops = vec![
            conv(0, 1, 1, 6, 2),
            Op::Relu,
            pool.clone(),
            conv(2, 3, 6, 16, 0),
            Op::Relu,
            pool,
            Op::Flatten,
            Op::Linear {
                weight: 4,
                bias: None,
                in_f: 400,
                out_f: 10,
            },
        ];
        let mut net = Net {
            input: [1, 28, 28],
            nodes: ops
                .into_iter()
                .enumerate()
                .map(|(i, op)| Node {
                    op,
                    inputs: vec![i],
                })
                .collect(),
            params: vec![
                param("c1.w", &[6, 1, 5, 5]),
                param("c1.b", &[6]),
                param("c2.w", &[16, 6, 5, 5]),
                param("c2.b", &[16]),
                param("fc.w", &[10, 400]),
            ],
            buffers: vec![],
        };
        let s = net.shapes().unwrap();
        assert_eq!(s[1], [6, 28, 28]);
        assert_eq!(s[3], [6, 14, 14]);
        assert_eq!(s[4], [16, 10, 10]);
        assert_eq!(s[6], [16, 5, 5]);
        assert_eq!(s[7], [400, 1, 1]);
        assert_eq!(net.classes().unwrap(), 10);
        assert_eq!(net.penalised_weights(false).len(), 3);
        net.params[4] = param("fc.w", &[10, 399]);
        let e = net.shapes().unwrap_err().to_string();
        assert!(e.contains("fc.w") && e.contains("399"), "{e}");
    }

    #[test]
    fn window_formula() {
        assert_eq!(window_out(28, 5, 1, 2), Some(28));
        assert_eq!(window_out(7, 2, 2, 0), Some(3));
        assert_eq!(window_out(28, 7, 2, 3), Some(14));
        assert_eq!(window_out(2, 5, 1, 0), None);
    }
}
