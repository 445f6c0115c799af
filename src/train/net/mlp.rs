//! The multilayer perceptron as a [`Net`]: `Linear, Relu, Linear, Relu, ..., Linear` on a flat
//! input. Conversions both ways keep tensor names, so the MLP path runs through the same
//! backends with the same numbers.

use super::ir::{Net, Node, Op, Param};
use crate::error::{Error, Result};
use crate::train::model::{Layer, Linear, Mlp};

impl Net {
    /// The network computing `model` (ReLU after every layer but the last).
    pub fn from_mlp(model: &Mlp) -> Net {
        let mut params = Vec::new();
        let mut nodes = Vec::new();
        let nl = model.layers.len();
        for (l, layer) in model.layers.iter().enumerate() {
            let lin = layer.as_linear();
            let weight = params.len();
            params.push(Param {
                name: lin.weight_name.clone(),
                shape: vec![lin.out_dim, lin.in_dim],
                data: lin.weight.clone(),
            });
            let bias = lin.bias_name.as_ref().map(|b| {
                params.push(Param {
                    name: b.clone(),
                    shape: vec![lin.out_dim],
                    data: lin.bias.clone(),
                });
                params.len() - 1
            });
            let op = Op::Linear {
                weight,
                bias,
                in_f: lin.in_dim,
                out_f: lin.out_dim,
            };
            nodes.push(Node {
                op,
                inputs: vec![nodes.len()],
            });
            if l + 1 < nl {
                nodes.push(Node {
                    op: Op::Relu,
                    inputs: vec![nodes.len()],
                });
            }
        }
        Net {
            input: [model.input_dim(), 1, 1],
            nodes,
            params,
            buffers: Vec::new(),
        }
    }

    /// The MLP this network is, if it is a chain `Linear (Relu Linear)*` on a flat input.
    pub fn to_mlp(&self) -> Result<Mlp> {
        let not_mlp = |why: String| {
            Error::InvalidArgument(format!("the network is not a Linear/ReLU chain: {why}"))
        };
        let mut layers = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if node.inputs != [i] {
                return Err(not_mlp(format!(
                    "node {i} does not read node {}",
                    i as i64 - 1
                )));
            }
            let want_linear = i % 2 == 0;
            match (&node.op, want_linear) {
                (
                    Op::Linear {
                        weight,
                        bias,
                        in_f,
                        out_f,
                    },
                    true,
                ) => {
                    let w = &self.params[*weight];
                    let b = bias.map(|b| &self.params[b]);
                    layers.push(Layer::Linear(Linear {
                        weight_name: w.name.clone(),
                        bias_name: b.map(|b| b.name.clone()),
                        out_dim: *out_f,
                        in_dim: *in_f,
                        weight: w.data.clone(),
                        bias: b.map_or_else(|| vec![0.0; *out_f], |b| b.data.clone()),
                    }));
                }
                (Op::Relu, false) => {}
                (op, _) => return Err(not_mlp(format!("node {i} is a {}", op.kind()))),
            }
        }
        if layers.is_empty() || self.nodes.len().is_multiple_of(2) {
            return Err(not_mlp("it must start and end with a Linear layer".into()));
        }
        Ok(Mlp { layers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_roundtrip() {
        let mut m = Mlp::init(&[12, 5, 3], 1).unwrap();
        m.layers[1].as_linear_mut().bias_name = None;
        m.layers[1].as_linear_mut().bias = vec![0.0; 3];
        let net = Net::from_mlp(&m);
        assert_eq!(net.nodes.len(), 3);
        assert_eq!(net.params.len(), 3);
        assert_eq!(net.shapes().unwrap().last(), Some(&[3, 1, 1]));
        assert_eq!(net.to_mlp().unwrap(), m);
        assert_eq!(net.penalised_weights(false).len(), 2);
    }
}
