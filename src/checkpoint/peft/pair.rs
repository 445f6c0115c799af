//! Pairs the A and B factors of every adapted module and checks that they fit together and
//! with the config.

use super::names::{Factor, Part, base_key, parse};
use super::{BadModule, LoraConfig, LoraKind, LoraModule};
use crate::checkpoint::{Checkpoint, TensorInfo};
use std::collections::BTreeSet;

/// The outcome of [`pair`].
pub(super) struct Paired {
    pub modules: Vec<LoraModule>,
    pub bad: Vec<BadModule>,
    pub is_lora: Vec<bool>,
}

/// The tensors of one module (and adapter name), as found.
#[derive(Default)]
struct Group {
    module: String,
    adapter: Option<String>,
    a: Option<usize>,
    b: Option<usize>,
    embedding: bool,
    magnitude: bool,
    first: usize,
}

/// Groups the checkpoint's LoRA tensors by module and validates each group.
pub(super) fn pair(ckpt: &Checkpoint, config: &LoraConfig) -> Paired {
    let tensors = ckpt.tensors();
    let mut groups: Vec<Group> = Vec::new();
    let mut is_lora = vec![false; tensors.len()];
    for (i, t) in tensors.iter().enumerate() {
        let Some(part) = parse(&t.name) else {
            continue;
        };
        is_lora[i] = true;
        let (module, adapter) = match &part {
            Part::Factor {
                module, adapter, ..
            } => (module.clone(), adapter.clone()),
            Part::Magnitude { module } => (module.clone(), None),
        };
        let at = match groups.iter().position(|g| {
            g.module == module && (g.adapter == adapter || matches!(part, Part::Magnitude { .. }))
        }) {
            Some(k) => k,
            None => {
                groups.push(Group {
                    module,
                    adapter,
                    first: i,
                    ..Group::default()
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[at];
        match part {
            Part::Factor {
                factor, embedding, ..
            } => {
                g.embedding |= embedding;
                let slot = match factor {
                    Factor::A => &mut g.a,
                    Factor::B => &mut g.b,
                };
                if slot.is_none() {
                    *slot = Some(i);
                }
            }
            Part::Magnitude { .. } => g.magnitude = true,
        }
    }
    let adapters: BTreeSet<&Option<String>> = groups.iter().map(|g| &g.adapter).collect();
    let several = adapters.len() > 1;
    let mut out = Paired {
        modules: Vec::new(),
        bad: Vec::new(),
        is_lora,
    };
    for g in &groups {
        let key = base_key(&g.module).to_string();
        let name = match (&g.adapter, several) {
            (Some(a), true) => format!("{key} [{a}]"),
            _ => key.clone(),
        };
        match check(ckpt, config, g, &key, &name) {
            Ok(m) => out.modules.push(m),
            Err(reason) => {
                let t = &tensors[g.first];
                out.bad.push(BadModule {
                    layer_id: g.a.unwrap_or(g.first),
                    name,
                    dtype: t.dtype.clone(),
                    shape: t.shape.clone(),
                    reason: format!("{}: {reason}", t.path.display()),
                });
            }
        }
    }
    out.modules.sort_by_key(|m| m.a);
    out.bad.sort_by_key(|b| b.layer_id);
    out
}

/// The module of group `g`, or why it cannot be analysed.
fn check(
    ckpt: &Checkpoint,
    config: &LoraConfig,
    g: &Group,
    key: &str,
    name: &str,
) -> Result<LoraModule, String> {
    let tensors = ckpt.tensors();
    let q = |i: usize| format!("'{}'", tensors[i].name);
    if g.magnitude || config.use_dora {
        return Err(format!(
            "DoRA module (lora_magnitude_vector / use_dora): its update rescales W0 + s B A \
             column by column and is not the low-rank s B A analysed here ({})",
            g.a.or(g.b).map_or(g.module.clone(), q)
        ));
    }
    let (a, b) = match (g.a, g.b) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => return Err(format!("tensor {} has no matching lora_B", q(a))),
        (None, Some(b)) => return Err(format!("tensor {} has no matching lora_A", q(b))),
        (None, None) => return Err("no factors".into()),
    };
    let (ta, tb): (&TensorInfo, &TensorInfo) = (&tensors[a], &tensors[b]);
    for t in [ta, tb] {
        if t.float_dtype.is_none() {
            return Err(format!(
                "tensor '{}' has dtype {}, not a float",
                t.name, t.dtype
            ));
        }
        if t.shape.contains(&0) {
            return Err(format!(
                "tensor '{}' is empty (shape {:?})",
                t.name, t.shape
            ));
        }
    }
    let mismatch = || {
        format!(
            "shapes do not chain: {} is {:?} and {} is {:?} (B must be [out, r], A [r, in])",
            q(b),
            tb.shape,
            q(a),
            ta.shape
        )
    };
    let (kind, r, out, inp) = match (ta.shape.as_slice(), tb.shape.as_slice()) {
        (&[ra, inp], &[out, rb]) => {
            if ra != rb {
                return Err(mismatch());
            }
            let kind = if g.embedding {
                LoraKind::Embedding
            } else {
                LoraKind::Linear
            };
            (kind, ra, out, inp)
        }
        (&[ra, inp, kh, kw], &[out, rb, 1, 1]) if !g.embedding => {
            if ra != rb {
                return Err(mismatch());
            }
            (LoraKind::Conv2d { kh, kw }, ra, out, inp)
        }
        (&[_, _, _, _], &[_, _, kh, kw]) => {
            return Err(format!(
                "conv LoRA whose B {} has a {kh}x{kw} kernel (PEFT's is 1x1)",
                q(b)
            ));
        }
        (sa, sb) if sa.len() == sb.len() && sa.len() != 2 => {
            return Err(format!(
                "rank-{} factors ({} is {:?}): only Linear, Embedding and Conv2d LoRA are \
                 supported",
                sa.len(),
                q(a),
                sa
            ));
        }
        _ => return Err(mismatch()),
    };
    let scale = config.module_scale(key);
    if scale.rank != r {
        return Err(format!(
            "{} has rank {r} but {} gives r = {} for module '{key}' (r or rank_pattern)",
            q(a),
            config.path.display(),
            scale.rank
        ));
    }
    Ok(LoraModule {
        name: name.to_string(),
        module: key.to_string(),
        kind,
        a,
        b,
        out,
        inp,
        scale,
    })
}
