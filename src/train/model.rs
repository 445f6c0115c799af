//! Models the trainer understands, read from and written to safetensors.
//!
//! The first (and for now only) family is the multilayer perceptron: a stack of Linear layers
//! (`y = x W^T + b`, PyTorch's layout: `W` is `out x in`, row-major) with a ReLU after every
//! layer but the last, trained with softmax cross-entropy. A model is a list of [`Layer`]s so
//! that more layer kinds can be added as new variants; every backend matches on the kind and
//! rejects kinds it does not implement.

use std::collections::HashMap;
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use safetensors::tensor::{Dtype, TensorView};

use crate::checkpoint::dtype::FloatDtype;
use crate::error::{Error, Result};

/// One fully connected layer: `y = x W^T + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// Tensor name of the weight in the checkpoint (kept on save).
    pub weight_name: String,
    /// Tensor name of the bias, if the layer has one.
    pub bias_name: Option<String>,
    /// Output features (rows of `W`).
    pub out_dim: usize,
    /// Input features (columns of `W`).
    pub in_dim: usize,
    /// `out_dim x in_dim`, row-major.
    pub weight: Vec<f32>,
    /// `out_dim` entries; zeros (and never trained) when the layer has no bias.
    pub bias: Vec<f32>,
}

/// A layer of a model. New kinds (convolutions, ...) become new variants.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// Fully connected layer followed by ReLU (except the last layer of the model).
    Linear(Linear),
}

impl Layer {
    /// The layer as a Linear layer (every layer, for now).
    pub fn as_linear(&self) -> &Linear {
        match self {
            Layer::Linear(l) => l,
        }
    }

    /// Mutable access to the Linear layer.
    pub fn as_linear_mut(&mut self) -> &mut Linear {
        match self {
            Layer::Linear(l) => l,
        }
    }
}

/// A multilayer perceptron: Linear layers with ReLU in between, logits out.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// Layers, input first.
    pub layers: Vec<Layer>,
}

impl Mlp {
    /// Parses an architecture string such as `784-300-100-10` (input, hidden..., classes).
    pub fn parse_arch(arch: &str) -> Result<Vec<usize>> {
        let dims: Vec<usize> = arch
            .split(['-', ','])
            .map(|s| s.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                Error::InvalidArgument(format!(
                    "architecture '{arch}': expected sizes joined by '-', e.g. 784-300-100-10"
                ))
            })?;
        if dims.len() < 2 || dims.contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "architecture '{arch}': need at least an input and an output size, all positive"
            )));
        }
        Ok(dims)
    }

    /// A fresh MLP with PyTorch's default Linear initialisation: weights and biases uniform in
    /// `[-1/sqrt(in), 1/sqrt(in)]` (kaiming_uniform with a = sqrt(5)). Tensors are named
    /// `fc1.weight`, `fc1.bias`, `fc2.weight`, ... Deterministic in `seed`.
    pub fn init(dims: &[usize], seed: u64) -> Result<Mlp> {
        if dims.len() < 2 || dims.contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "architecture {dims:?}: need at least two positive sizes"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(i, d)| {
                let (in_dim, out_dim) = (d[0], d[1]);
                let bound = 1.0 / (in_dim as f32).sqrt();
                let mut draw = |n: usize| -> Vec<f32> {
                    (0..n)
                        .map(|_| (2.0 * unit_f32(&mut rng) - 1.0) * bound)
                        .collect()
                };
                let weight = draw(out_dim * in_dim);
                let bias = draw(out_dim);
                Layer::Linear(Linear {
                    weight_name: format!("fc{}.weight", i + 1),
                    bias_name: Some(format!("fc{}.bias", i + 1)),
                    out_dim,
                    in_dim,
                    weight,
                    bias,
                })
            })
            .collect();
        Ok(Mlp { layers })
    }

    /// Sizes `[input, hidden..., output]`.
    pub fn dims(&self) -> Vec<usize> {
        let mut d = vec![self.layers[0].as_linear().in_dim];
        d.extend(self.layers.iter().map(|l| l.as_linear().out_dim));
        d
    }

    /// Input features.
    pub fn input_dim(&self) -> usize {
        self.layers[0].as_linear().in_dim
    }

    /// Number of classes (outputs of the last layer).
    pub fn classes(&self) -> usize {
        self.layers[self.layers.len() - 1].as_linear().out_dim
    }

    /// Architecture as `784-300-100-10`.
    pub fn arch_string(&self) -> String {
        self.dims()
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Reads an MLP from a safetensors file. The file must hold only Linear weights (rank 2,
    /// `*.weight`) and optional biases (rank 1, same prefix, `*.bias`), whose shapes chain when
    /// the layers are taken in natural name order (`fc2` before `fc10`); anything else is
    /// rejected with an error naming the offending tensor. Weights of any float dtype are
    /// widened or narrowed to f32.
    pub fn load(path: &Path) -> Result<Mlp> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut tensors: HashMap<String, (Vec<usize>, Vec<f32>)> = HashMap::new();
        for (name, view) in st.iter() {
            let terr = |reason: String| Error::Tensor {
                path: path.to_path_buf(),
                tensor: name.to_string(),
                reason,
            };
            let dt =
                FloatDtype::from_safetensors(&format!("{:?}", view.dtype())).ok_or_else(|| {
                    terr(format!(
                        "dtype {:?} is not a float type: not an MLP checkpoint",
                        view.dtype()
                    ))
                })?;
            let n: usize = view.shape().iter().product();
            let data = view.data();
            if data.len() != n * dt.size() {
                return Err(terr("data length does not match shape".into()));
            }
            let vals: Vec<f32> = (0..n).map(|i| dt.read(data, i) as f32).collect();
            tensors.insert(name.to_string(), (view.shape().to_vec(), vals));
        }
        Self::from_tensors(path, tensors)
    }

    fn from_tensors(path: &Path, mut t: HashMap<String, (Vec<usize>, Vec<f32>)>) -> Result<Mlp> {
        let not_mlp = |tensor: &str, reason: String| Error::Tensor {
            path: path.to_path_buf(),
            tensor: tensor.to_string(),
            reason: format!("{reason}: not a multilayer perceptron (Linear + ReLU) checkpoint"),
        };
        let mut prefixes: Vec<String> = Vec::new();
        for (name, (shape, _)) in &t {
            if let Some(p) = name.strip_suffix(".weight") {
                if shape.len() != 2 {
                    return Err(not_mlp(
                        name,
                        format!("weight of rank {} (shape {shape:?})", shape.len()),
                    ));
                }
                prefixes.push(p.to_string());
            } else if let Some(p) = name.strip_suffix(".bias") {
                if shape.len() != 1 {
                    return Err(not_mlp(name, format!("bias of shape {shape:?}")));
                }
                if !t.contains_key(&format!("{p}.weight")) {
                    return Err(not_mlp(name, "bias without a matching weight".into()));
                }
            } else {
                return Err(not_mlp(
                    name,
                    format!("tensor of shape {shape:?} is neither a '.weight' nor a '.bias'"),
                ));
            }
        }
        if prefixes.is_empty() {
            return Err(Error::Format {
                path: path.to_path_buf(),
                reason: "no '.weight' tensor: not a multilayer perceptron checkpoint".into(),
            });
        }
        prefixes.sort_by(|a, b| crate::util::natural_cmp(a, b));
        let mut layers = Vec::with_capacity(prefixes.len());
        for p in &prefixes {
            let wname = format!("{p}.weight");
            let bname = format!("{p}.bias");
            let (wshape, weight) = t.remove(&wname).expect("collected above");
            let (out_dim, in_dim) = (wshape[0], wshape[1]);
            let (bias_name, bias) = match t.remove(&bname) {
                Some((bshape, b)) => {
                    if bshape[0] != out_dim {
                        return Err(not_mlp(
                            &bname,
                            format!(
                                "bias of length {} for a weight of shape {wshape:?}",
                                bshape[0]
                            ),
                        ));
                    }
                    (Some(bname), b)
                }
                None => (None, vec![0.0; out_dim]),
            };
            if let Some(Layer::Linear(prev)) = layers.last()
                && prev.out_dim != in_dim
            {
                return Err(not_mlp(
                    &wname,
                    format!(
                        "shape {wshape:?} does not follow '{}' of shape [{}, {}] \
                         (layers taken in natural name order)",
                        prev.weight_name, prev.out_dim, prev.in_dim
                    ),
                ));
            }
            layers.push(Layer::Linear(Linear {
                weight_name: wname,
                bias_name,
                out_dim,
                in_dim,
                weight,
                bias,
            }));
        }
        Ok(Mlp { layers })
    }

    /// Writes the model as F32 safetensors with the tensor names it was read with,
    /// atomically (temporary file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut views: Vec<(String, TensorView<'_>)> = Vec::new();
        let bad = |e: safetensors::SafeTensorError| Error::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        for layer in &self.layers {
            let l = layer.as_linear();
            views.push((
                l.weight_name.clone(),
                TensorView::new(
                    Dtype::F32,
                    vec![l.out_dim, l.in_dim],
                    bytemuck::cast_slice(&l.weight),
                )
                .map_err(bad)?,
            ));
            if let Some(b) = &l.bias_name {
                views.push((
                    b.clone(),
                    TensorView::new(Dtype::F32, vec![l.out_dim], bytemuck::cast_slice(&l.bias))
                        .map_err(bad)?,
                ));
            }
        }
        let meta = HashMap::from([
            ("format".to_string(), "pt".to_string()),
            ("htdiag_arch".to_string(), self.arch_string()),
        ]);
        let bytes = safetensors::serialize(views, Some(meta)).map_err(bad)?;
        crate::util::atomic_write(path, &bytes)
    }
}

/// Uniform f32 in [0, 1) from the top 24 bits of one draw (stable across rand versions).
pub(crate) fn unit_f32(rng: &mut ChaCha8Rng) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_taken_in_natural_name_order() {
        // fc1 (4 x 3) -> fc2 (5 x 4) -> fc10 (2 x 5) chain only in natural order (string
        // order would put fc10 second).
        let t: HashMap<String, (Vec<usize>, Vec<f32>)> =
            [("fc10", 2, 5), ("fc2", 5, 4), ("fc1", 4, 3)]
                .into_iter()
                .map(|(p, o, i)| (format!("{p}.weight"), (vec![o, i], vec![0.0; o * i])))
                .collect();
        let m = Mlp::from_tensors(Path::new("t.safetensors"), t).unwrap();
        assert_eq!(m.dims(), vec![3, 4, 5, 2]);
        let names: Vec<&str> = m
            .layers
            .iter()
            .map(|l| l.as_linear().weight_name.as_str())
            .collect();
        assert_eq!(names, ["fc1.weight", "fc2.weight", "fc10.weight"]);
    }

    #[test]
    fn init_bounds_and_roundtrip() {
        let m = Mlp::init(&[20, 7, 3], 5).unwrap();
        assert_eq!(m.dims(), vec![20, 7, 3]);
        let b = 1.0 / 20f32.sqrt();
        let l0 = m.layers[0].as_linear();
        assert!(l0.weight.iter().all(|w| w.abs() <= b));
        // Uniform on [-b, b]: variance b^2/3.
        let var: f32 = l0.weight.iter().map(|w| w * w).sum::<f32>() / l0.weight.len() as f32;
        assert!((var - b * b / 3.0).abs() < 0.3 * b * b / 3.0, "{var}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        m.save(&p).unwrap();
        assert_eq!(Mlp::load(&p).unwrap(), m);
        assert_ne!(Mlp::init(&[20, 7, 3], 6).unwrap(), m);
    }

    #[test]
    fn rejects_non_mlp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("conv.safetensors");
        let data = vec![0f32; 2 * 3 * 3 * 3];
        let v = TensorView::new(Dtype::F32, vec![2, 3, 3, 3], bytemuck::cast_slice(&data)).unwrap();
        std::fs::write(
            &p,
            safetensors::serialize([("conv.weight", v)], None).unwrap(),
        )
        .unwrap();
        let e = Mlp::load(&p).unwrap_err().to_string();
        assert!(e.contains("conv.weight") && e.contains("rank 4"), "{e}");
        // Shapes that do not chain.
        let a = vec![0f32; 4 * 3];
        let b = vec![0f32; 2 * 5];
        let p2 = dir.path().join("chain.safetensors");
        let va = TensorView::new(Dtype::F32, vec![4, 3], bytemuck::cast_slice(&a)).unwrap();
        let vb = TensorView::new(Dtype::F32, vec![2, 5], bytemuck::cast_slice(&b)).unwrap();
        std::fs::write(
            &p2,
            safetensors::serialize([("l1.weight", va), ("l2.weight", vb)], None).unwrap(),
        )
        .unwrap();
        let e = Mlp::load(&p2).unwrap_err().to_string();
        assert!(
            e.contains("l2.weight") && e.contains("does not follow"),
            "{e}"
        );
    }
}
