//! Named architectures (`--arch`): `mlp`, `lenet5`, `vgg` (torchvision layout; `vgg11`..
//! `vgg19` with `-bn`, or a configuration `vgg[-bn]:16,M,32,M,64,64,M[/128]`), `resnet`
//! (torchvision; `resnet10/18/34/50/101/152` with `-cifar` for the 3x3 stem and `-wN` for a
//! first-stage width N) and a JSON file ([`json`]). A checkpoint is read with the family's
//! rules (widths, positions and stems from its tensor shapes, see each module) and refused
//! naming the first missing, extra or mis-shaped tensor; a fresh network gets PyTorch's default
//! initialisation ([`super::builder`]).

pub mod json;
pub mod lenet;
pub mod resnet;
pub mod vgg;

use std::path::{Path, PathBuf};

use super::builder::Builder;
use super::io::Tensors;
use super::ir::Net;
use crate::error::{Error, Result};
use crate::train::model::Mlp;
use resnet::ResNetSpec;
use vgg::VggSpec;

/// An `--arch` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arch {
    /// Linear/ReLU chain ([`Mlp`]).
    Mlp,
    /// LeNet-5.
    LeNet5,
    /// VGG; `None`: everything from the checkpoint.
    Vgg(Option<VggSpec>),
    /// ResNet; `None`: everything from the checkpoint.
    ResNet(Option<ResNetSpec>),
    /// A JSON architecture file.
    Json(PathBuf),
}

impl std::str::FromStr for Arch {
    type Err = Error;
    fn from_str(s: &str) -> Result<Arch> {
        let bad = || {
            Error::InvalidArgument(format!(
                "architecture '{s}': expected mlp, lenet5, vgg, vgg11[-bn] (13, 16, 19), \
                 vgg[-bn]:16,M,32,M[/128], resnet, resnet18[-cifar][-wN] (10, 34, 50, 101, 152) \
                 or a .json file"
            ))
        };
        if s.ends_with(".json") {
            return Ok(Arch::Json(PathBuf::from(s)));
        }
        if let Some((head, cfg)) = s.split_once(':') {
            let bn = match head {
                "vgg" => false,
                "vgg-bn" | "vgg_bn" => true,
                _ => return Err(bad()),
            };
            let (cfg, hidden) = vgg::parse_cfg(cfg)?;
            return Ok(Arch::Vgg(Some(VggSpec {
                cfg,
                bn,
                avgpool7: false,
                hidden,
                dropout: false,
            })));
        }
        Ok(match s {
            "mlp" => Arch::Mlp,
            "lenet5" | "lenet" => Arch::LeNet5,
            "vgg" => Arch::Vgg(None),
            "resnet" => Arch::ResNet(None),
            _ if s.starts_with("vgg") => {
                let (depth, bn) = match s[3..].split_once(['-', '_']) {
                    Some((d, "bn")) => (d, true),
                    None => (&s[3..], false),
                    _ => return Err(bad()),
                };
                let cfg = depth
                    .parse()
                    .ok()
                    .and_then(vgg::torchvision_cfg)
                    .ok_or_else(bad)?;
                Arch::Vgg(Some(VggSpec {
                    cfg,
                    bn,
                    avgpool7: true,
                    hidden: vec![4096, 4096],
                    dropout: true,
                }))
            }
            _ if s.starts_with("resnet") => {
                let mut parts = s[6..].split('-');
                let depth = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
                let mut spec = ResNetSpec::depth(depth).ok_or_else(bad)?;
                for p in parts {
                    match p {
                        "cifar" => spec.cifar = true,
                        _ => {
                            spec.width = p
                                .strip_prefix('w')
                                .and_then(|w| w.parse().ok())
                                .filter(|&w| w > 0)
                                .ok_or_else(bad)?
                        }
                    }
                }
                Arch::ResNet(Some(spec))
            }
            _ => return Err(bad()),
        })
    }
}

/// `[c, h, w]` for flat samples of `dim` features: `given`, or square images of `channels`
/// channels (`dim = c s^2`), or (without a known channel count) 1 or 3 channels, whichever
/// makes a square.
pub fn infer_input(
    dim: usize,
    channels: Option<usize>,
    given: Option<[usize; 3]>,
) -> Result<[usize; 3]> {
    if let Some(g) = given {
        if g.iter().product::<usize>() != dim {
            return Err(Error::InvalidArgument(format!(
                "input shape {g:?} has {} values, the data {dim} per sample",
                g.iter().product::<usize>()
            )));
        }
        return Ok(g);
    }
    let square = |c: usize| -> Option<[usize; 3]> {
        if c == 0 || !dim.is_multiple_of(c) {
            return None;
        }
        let s = ((dim / c) as f64).sqrt().round() as usize;
        (s * s * c == dim).then_some([c, s, s])
    };
    match channels {
        Some(c) => square(c),
        None => square(1).or_else(|| square(3)),
    }
    .ok_or_else(|| {
        Error::InvalidArgument(format!(
            "cannot infer the image shape of {dim}-feature samples{}: give the input shape C,H,W",
            channels.map_or(String::new(), |c| format!(" with {c} channels"))
        ))
    })
}

impl Arch {
    /// Input channels the checkpoint's first convolution expects (None: no convolution).
    fn input_channels(&self, t: &Tensors) -> Option<usize> {
        let first = match self {
            Arch::Mlp => return None,
            Arch::LeNet5 | Arch::ResNet(_) => "conv1.weight".to_string(),
            Arch::Vgg(_) => t
                .map
                .iter()
                .filter_map(|(n, v)| {
                    let i: usize = n
                        .strip_prefix("features.")?
                        .strip_suffix(".weight")?
                        .parse()
                        .ok()?;
                    (v.shape.len() == 4).then_some(i)
                })
                .min()
                .map(|i| format!("features.{i}.weight"))?,
            Arch::Json(p) => format!("{}.weight", json::ArchFile::read(p).ok()?.first_conv()?),
        };
        t.shape(&first).and_then(|s| s.get(1).copied())
    }

    /// Reads checkpoint `path` as this architecture for samples of `dim` features (`input`:
    /// their `[c, h, w]` if known).
    pub fn load(&self, path: &Path, dim: usize, input: Option<[usize; 3]>) -> Result<Net> {
        if *self == Arch::Mlp {
            return Ok(Net::from_mlp(&Mlp::load(path)?));
        }
        let t = Tensors::read(path)?;
        let file = match self {
            Arch::Json(p) => Some(json::ArchFile::read(p)?),
            _ => None,
        };
        let input = input.or(file.as_ref().and_then(|f| f.input));
        let input = infer_input(dim, self.input_channels(&t), input)?;
        let name = self.name();
        let mut b = Builder::from_checkpoint(&t, &name, input);
        match self {
            Arch::Mlp => unreachable!("handled above"),
            Arch::LeNet5 => lenet::build(&mut b, 0)?,
            Arch::Vgg(spec) => vgg::build(&mut b, spec.as_ref().filter(|s| !s.avgpool7), 0)?,
            Arch::ResNet(spec) => {
                let x = resnet::build(&mut b, None, 0)?;
                if let Some(s) = spec {
                    check_resnet(&t, s)?;
                }
                x
            }
            Arch::Json(_) => file.as_ref().expect("read above").build(&mut b, 0)?,
        };
        b.finish()
    }

    /// A fresh network for `input`-shaped samples and `classes` classes (PyTorch's default
    /// initialisation, deterministic in `seed`). MLPs are made with [`Mlp::init`] instead.
    pub fn fresh(&self, input: [usize; 3], classes: usize, seed: u64) -> Result<Net> {
        let name = self.name();
        let mut b = Builder::fresh(seed, &name, input);
        match self {
            Arch::Mlp => {
                return Err(Error::InvalidArgument(
                    "an MLP is made from its layer sizes (e.g. 784-300-100-10)".into(),
                ));
            }
            Arch::LeNet5 => lenet::build(&mut b, classes)?,
            Arch::Vgg(Some(s)) => vgg::build(&mut b, Some(s), classes)?,
            Arch::ResNet(Some(s)) => resnet::build(&mut b, Some(s), classes)?,
            Arch::Vgg(None) | Arch::ResNet(None) => {
                return Err(Error::InvalidArgument(format!(
                    "'{name}' needs a depth or configuration to be built fresh (e.g. vgg11-bn, vgg-bn:16,M,32,M/128, resnet18)"
                )));
            }
            Arch::Json(p) => {
                let f = json::ArchFile::read(p)?;
                f.build(&mut b, classes)?
            }
        };
        b.finish()
    }

    /// Short name for messages and checkpoint metadata.
    pub fn name(&self) -> String {
        match self {
            Arch::Mlp => "mlp".into(),
            Arch::LeNet5 => "lenet5".into(),
            Arch::Vgg(_) => "vgg".into(),
            Arch::ResNet(_) => "resnet".into(),
            Arch::Json(p) => p.display().to_string(),
        }
    }
}

/// Refuses a checkpoint whose ResNet does not have the named depth's blocks.
fn check_resnet(t: &Tensors, s: &ResNetSpec) -> Result<()> {
    for (l, &n) in s.blocks.iter().enumerate() {
        let name = format!("layer{}.{}.conv1.weight", l + 1, n - 1);
        if !t.has(&name) {
            return Err(Error::Format {
                path: t.path.clone(),
                reason: format!("missing tensor '{name}' (blocks {:?})", s.blocks),
            });
        }
        let extra = format!("layer{}.{n}.conv1.weight", l + 1);
        if t.has(&extra) {
            return Err(t.error(&extra, format!("extra block for blocks {:?}", s.blocks)));
        }
    }
    let third = t.has("layer1.0.conv3.weight");
    if third != s.bottleneck {
        return Err(t.error(
            "layer1.0.conv3.weight",
            if third {
                "Bottleneck block where BasicBlocks are named"
            } else {
                "missing: BasicBlocks where Bottlenecks are named"
            },
        ));
    }
    Ok(())
}
