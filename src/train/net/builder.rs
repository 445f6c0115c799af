//! Building a [`Net`] layer by layer under PyTorch tensor names, either taking every tensor
//! from a checkpoint (checking its shape; a missing or mis-shaped tensor is refused by name,
//! and [`Builder::finish`] refuses tensors no layer used) or initialising fresh tensors as
//! PyTorch does by default: Conv2d and Linear weights `kaiming_uniform_(a = sqrt(5))`, i.e.
//! uniform in `±1/sqrt(fan_in)`, biases uniform in `±1/sqrt(fan_in)`; BatchNorm2d weight 1,
//! bias 0, running mean 0, running variance 1, `num_batches_tracked` 0.

use std::collections::BTreeSet;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use super::io::Tensors;
use super::ir::{Buffer, BufferData, Net, Node, Op, Param, window_out};
use crate::error::{Error, Result};
use crate::train::model::unit_f32;

/// Where the tensors come from.
#[allow(clippy::large_enum_variant)] // one per build, never stored in bulk
enum Source<'a> {
    Checkpoint {
        t: &'a Tensors,
        used: BTreeSet<String>,
    },
    Fresh(ChaCha8Rng),
}

/// Accumulates nodes, parameters and buffers; value ids as in [`Net`].
pub struct Builder<'a> {
    src: Source<'a>,
    arch: String,
    net: Net,
    shapes: Vec<[usize; 3]>,
}

/// Hyper-parameters of a convolution as the builder takes them.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    /// Output channels.
    pub out_c: usize,
    /// Kernel (square).
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding.
    pub pad: usize,
    /// Groups.
    pub groups: usize,
    /// With a bias.
    pub bias: bool,
}

impl<'a> Builder<'a> {
    /// A builder reading checkpoint `t` for architecture `arch` on inputs of shape `input`.
    pub fn from_checkpoint(t: &'a Tensors, arch: &str, input: [usize; 3]) -> Builder<'a> {
        Self::new(
            Source::Checkpoint {
                t,
                used: BTreeSet::new(),
            },
            arch,
            input,
        )
    }

    /// A builder initialising fresh tensors, deterministic in `seed`.
    pub fn fresh(seed: u64, arch: &str, input: [usize; 3]) -> Builder<'a> {
        Self::new(Source::Fresh(ChaCha8Rng::seed_from_u64(seed)), arch, input)
    }

    fn new(src: Source<'a>, arch: &str, input: [usize; 3]) -> Builder<'a> {
        Builder {
            src,
            arch: arch.to_string(),
            net: Net {
                input,
                nodes: Vec::new(),
                params: Vec::new(),
                buffers: Vec::new(),
            },
            shapes: vec![input],
        }
    }

    /// Shape of value `v`.
    pub fn shape(&self, v: usize) -> [usize; 3] {
        self.shapes[v]
    }

    /// The checkpoint, if building from one.
    pub fn checkpoint(&self) -> Option<&'a Tensors> {
        match &self.src {
            Source::Checkpoint { t, .. } => Some(t),
            Source::Fresh(_) => None,
        }
    }

    fn err(&self, reason: String) -> Error {
        match &self.src {
            Source::Checkpoint { t, .. } => Error::Format {
                path: t.path.clone(),
                reason,
            },
            Source::Fresh(_) => Error::InvalidArgument(reason),
        }
    }

    /// Takes (or initialises with `init`) parameter `name` of shape `shape`.
    fn param(&mut self, name: &str, shape: &[usize], init: Init) -> Result<usize> {
        let data = match &mut self.src {
            Source::Checkpoint { t, used } => {
                let tensor = t.map.get(name).ok_or_else(|| Error::Format {
                    path: t.path.clone(),
                    reason: format!(
                        "missing tensor '{name}' of shape {shape:?} (architecture {})",
                        self.arch
                    ),
                })?;
                let BufferData::F32(d) = &tensor.data else {
                    return Err(t.error(name, "integer tensor where a float parameter is expected"));
                };
                if tensor.shape != shape {
                    return Err(t.error(
                        name,
                        format!(
                            "shape {:?}, architecture {} expects {shape:?}",
                            tensor.shape, self.arch
                        ),
                    ));
                }
                used.insert(name.to_string());
                d.clone()
            }
            Source::Fresh(rng) => {
                let n: usize = shape.iter().product();
                match init {
                    Init::Uniform(bound) => (0..n)
                        .map(|_| (2.0 * unit_f32(rng) - 1.0) * bound)
                        .collect(),
                    Init::Const(c) => vec![c; n],
                }
            }
        };
        self.net.params.push(Param {
            name: name.to_string(),
            shape: shape.to_vec(),
            data,
        });
        Ok(self.net.params.len() - 1)
    }

    /// Takes (or initialises) buffer `name`.
    fn buffer(
        &mut self,
        name: &str,
        shape: &[usize],
        fresh: BufferData,
        required: bool,
    ) -> Result<Option<usize>> {
        let data = match &mut self.src {
            Source::Checkpoint { t, used } => match t.map.get(name) {
                None if !required => return Ok(None),
                None => {
                    return Err(Error::Format {
                        path: t.path.clone(),
                        reason: format!(
                            "missing tensor '{name}' of shape {shape:?} (architecture {})",
                            self.arch
                        ),
                    });
                }
                Some(tensor) => {
                    let ok_kind =
                        std::mem::discriminant(&tensor.data) == std::mem::discriminant(&fresh);
                    if tensor.shape != shape || !ok_kind {
                        return Err(t.error(
                            name,
                            format!(
                                "shape {:?}, architecture {} expects {shape:?}",
                                tensor.shape, self.arch
                            ),
                        ));
                    }
                    used.insert(name.to_string());
                    tensor.data.clone()
                }
            },
            Source::Fresh(_) => fresh,
        };
        self.net.buffers.push(Buffer {
            name: name.to_string(),
            shape: shape.to_vec(),
            data,
        });
        Ok(Some(self.net.buffers.len() - 1))
    }

    /// Whether the checkpoint has tensor `name` (fresh builds: `fresh_default`).
    pub fn has(&self, name: &str, fresh_default: bool) -> bool {
        match &self.src {
            Source::Checkpoint { t, .. } => t.has(name),
            Source::Fresh(_) => fresh_default,
        }
    }

    /// Output channels (rows) of weight `name`: from the checkpoint, or `fresh` for fresh
    /// builds.
    pub fn out_of(&self, name: &str, fresh: usize) -> Result<usize> {
        Ok(self.weight_shape(name, &[fresh])?[0])
    }

    /// Shape of weight `name` in the checkpoint (missing: an error naming it), or `fresh`.
    pub fn weight_shape(&self, name: &str, fresh: &[usize]) -> Result<Vec<usize>> {
        match &self.src {
            Source::Checkpoint { t, .. } => Ok(t.need(name, &self.arch)?.to_vec()),
            Source::Fresh(_) => Ok(fresh.to_vec()),
        }
    }

    fn push(&mut self, op: Op, inputs: Vec<usize>, out: [usize; 3]) -> usize {
        self.net.nodes.push(Node { op, inputs });
        self.shapes.push(out);
        self.shapes.len() - 1
    }

    /// `prefix.weight` (and `prefix.bias`) of a Conv2d applied to value `x`.
    pub fn conv(&mut self, x: usize, prefix: &str, s: ConvSpec) -> Result<usize> {
        let [c, h, w] = self.shapes[x];
        if s.groups == 0 || c % s.groups != 0 || !s.out_c.is_multiple_of(s.groups) {
            return Err(self.err(format!(
                "'{prefix}': {} groups for {c} -> {} channels",
                s.groups, s.out_c
            )));
        }
        let (oh, ow) = match (
            window_out(h, s.k, s.stride, s.pad),
            window_out(w, s.k, s.stride, s.pad),
        ) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                return Err(self.err(format!(
                    "'{prefix}': kernel {} does not fit its {h}x{w} input (input shape {:?})",
                    s.k, self.net.input
                )));
            }
        };
        let fan_in = c / s.groups * s.k * s.k;
        let bound = 1.0 / (fan_in as f32).sqrt();
        let weight = self.param(
            &format!("{prefix}.weight"),
            &[s.out_c, c / s.groups, s.k, s.k],
            Init::Uniform(bound),
        )?;
        let bias = if s.bias {
            Some(self.param(&format!("{prefix}.bias"), &[s.out_c], Init::Uniform(bound))?)
        } else {
            None
        };
        let op = Op::Conv2d {
            weight,
            bias,
            in_c: c,
            out_c: s.out_c,
            kh: s.k,
            kw: s.k,
            stride: [s.stride; 2],
            padding: [s.pad; 2],
            groups: s.groups,
        };
        Ok(self.push(op, vec![x], [s.out_c, oh, ow]))
    }

    /// BatchNorm2d `prefix.{weight,bias,running_mean,running_var,num_batches_tracked}`.
    pub fn bn(&mut self, x: usize, prefix: &str) -> Result<usize> {
        let c = self.shapes[x][0];
        let weight = self.param(&format!("{prefix}.weight"), &[c], Init::Const(1.0))?;
        let bias = self.param(&format!("{prefix}.bias"), &[c], Init::Const(0.0))?;
        let rm = self.buffer(
            &format!("{prefix}.running_mean"),
            &[c],
            BufferData::F32(vec![0.0; c]),
            true,
        )?;
        let rv = self.buffer(
            &format!("{prefix}.running_var"),
            &[c],
            BufferData::F32(vec![1.0; c]),
            true,
        )?;
        let nbt = self.buffer(
            &format!("{prefix}.num_batches_tracked"),
            &[],
            BufferData::I64(vec![0]),
            false,
        )?;
        let op = Op::BatchNorm2d {
            weight,
            bias,
            running_mean: rm.expect("required"),
            running_var: rv.expect("required"),
            num_batches_tracked: nbt,
            eps: 1e-5,
            momentum: 0.1,
        };
        let s = self.shapes[x];
        Ok(self.push(op, vec![x], s))
    }

    /// Linear `prefix.weight` `[out_f, in_f]` (and `prefix.bias`) on a flat value.
    pub fn linear(&mut self, x: usize, prefix: &str, out_f: usize, bias: bool) -> Result<usize> {
        let s = self.shapes[x];
        if s[1] != 1 || s[2] != 1 {
            return Err(self.err(format!("'{prefix}': Linear on a value of shape {s:?}")));
        }
        let in_f = s[0];
        let bound = 1.0 / (in_f as f32).sqrt();
        let weight = self.param(
            &format!("{prefix}.weight"),
            &[out_f, in_f],
            Init::Uniform(bound),
        )?;
        let bias = if bias {
            Some(self.param(&format!("{prefix}.bias"), &[out_f], Init::Uniform(bound))?)
        } else {
            None
        };
        Ok(self.push(
            Op::Linear {
                weight,
                bias,
                in_f,
                out_f,
            },
            vec![x],
            [out_f, 1, 1],
        ))
    }

    /// A parameter-free op on value `x` (and `y` for [`Op::Add`]).
    pub fn op(&mut self, op: Op, x: usize, y: Option<usize>) -> Result<usize> {
        let s = self.shapes[x];
        let out = match &op {
            Op::Relu | Op::Dropout { .. } => s,
            Op::Flatten => [s[0] * s[1] * s[2], 1, 1],
            Op::MaxPool2d { k, stride, padding } | Op::AvgPool2d { k, stride, padding } => {
                match (
                    window_out(s[1], k[0], stride[0], padding[0]),
                    window_out(s[2], k[1], stride[1], padding[1]),
                ) {
                    (Some(h), Some(w)) if padding[0] * 2 <= k[0] && padding[1] * 2 <= k[1] => {
                        [s[0], h, w]
                    }
                    _ => {
                        return Err(
                            self.err(format!("pooling {k:?} does not fit a value of shape {s:?}"))
                        );
                    }
                }
            }
            Op::AdaptiveAvgPool2d { out } => [s[0], out[0], out[1]],
            Op::Add => {
                let t = self.shapes[y.unwrap_or(x)];
                if t != s {
                    return Err(self.err(format!("adding values of shapes {s:?} and {t:?}")));
                }
                s
            }
            other => return Err(self.err(format!("{} is not parameter-free", other.kind()))),
        };
        let inputs = match y {
            Some(y) if matches!(op, Op::Add) => vec![x, y],
            _ => vec![x],
        };
        Ok(self.push(op, inputs, out))
    }

    /// The network; refuses checkpoint tensors no layer used (naming the first).
    pub fn finish(self) -> Result<Net> {
        if let Source::Checkpoint { t, used } = &self.src
            && let Some(extra) = t.map.keys().find(|k| !used.contains(*k))
        {
            return Err(t.error(
                extra,
                format!("not used by architecture {} (extra tensor)", self.arch),
            ));
        }
        self.net.shapes()?;
        Ok(self.net)
    }
}

/// Fresh initialisation of a parameter.
#[derive(Debug, Clone, Copy)]
enum Init {
    Uniform(f32),
    Const(f32),
}
