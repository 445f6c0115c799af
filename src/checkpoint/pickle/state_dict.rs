//! Finding the tensors in an unpickled checkpoint.
//!
//! `torch.save(model.state_dict())` pickles a dict of tensors; training scripts nest it
//! (`{"state_dict": ..., "optimizer": ...}`, `{"model": ...}`, Lightning's `.ckpt` with
//! `state_dict`, `optimizer_states`, `callbacks`, ...). Without a key the tensor dict is: the
//! top level when it holds tensors itself, else the first of [`PREFERRED`] that holds tensors,
//! else the top-level entry holding the most. Nested dicts inside the chosen one are
//! flattened with `.` (`{"encoder": {"w": t}}` -> `encoder.w`), as `state_dict()` names them.

use super::Pickle;
use super::value::{Obj, TensorRef, Value};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Keys tried, in order, when the top level holds no tensors itself.
const PREFERRED: &[&str] = &[
    "state_dict",
    "model_state_dict",
    "model",
    "module",
    "net",
    "network",
    "params",
    "weights",
];
/// Nesting depth flattened below the chosen dict.
const MAX_DEPTH: usize = 16;

/// `(name, tensor)` pairs in dict order.
type Named = Vec<(String, Rc<TensorRef>)>;

/// The tensors found and where.
#[derive(Debug)]
pub(crate) struct Selected {
    /// `(name, tensor)` in dict order.
    pub tensors: Vec<(String, Rc<TensorRef>)>,
    /// The key path used (`None`: the top level), `/`-separated.
    pub key: Option<String>,
    /// The top-level keys, to tell the user what else there was.
    pub top_keys: Vec<String>,
}

/// The entries of a dict, repeated keys resolved as Python does (first position, last value).
fn dict_entries(p: &Pickle, v: &Value) -> Option<Vec<(String, Value)>> {
    let Value::Obj(id) = v else { return None };
    let Obj::Dict(d) = p.obj(*id) else {
        return None;
    };
    let mut out: Vec<(String, Value)> = Vec::with_capacity(d.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for (k, val) in d {
        let key = match k {
            Value::Str(s) => s.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            _ => continue,
        };
        match at.get(&key) {
            Some(&i) => out[i].1 = val.clone(),
            None => {
                at.insert(key.clone(), out.len());
                out.push((key, val.clone()));
            }
        }
    }
    Some(out)
}

/// All tensors under `v`, names prefixed by `prefix`.
fn flatten(
    p: &Pickle,
    v: &Value,
    prefix: &str,
    depth: usize,
    seen: &mut HashSet<usize>,
    out: &mut Vec<(String, Rc<TensorRef>)>,
) {
    match v {
        Value::Tensor(t) => out.push((prefix.to_string(), t.clone())),
        Value::Obj(id) if depth < MAX_DEPTH && seen.insert(*id) => {
            if let Some(entries) = dict_entries(p, v) {
                for (k, val) in &entries {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(p, val, &name, depth + 1, seen, out);
                }
            }
        }
        _ => {}
    }
}

fn tensors_under(p: &Pickle, v: &Value) -> Vec<(String, Rc<TensorRef>)> {
    let mut out = Vec::new();
    flatten(p, v, "", 0, &mut HashSet::new(), &mut out);
    out
}

/// Chooses the tensor dict of an unpickled checkpoint (module docs); `key` is a
/// `/`-separated path of dict keys that overrides the choice.
pub(crate) fn select(p: &Pickle, key: Option<&str>) -> Result<Selected, String> {
    let root = &p.value;
    if let Value::Tensor(t) = root {
        return Ok(Selected {
            tensors: vec![("tensor".into(), t.clone())],
            key: None,
            top_keys: Vec::new(),
        });
    }
    let top = dict_entries(p, root).ok_or_else(|| {
        format!(
            "the pickle holds {}, not a dict of tensors",
            super::kind(root)
        )
    })?;
    let top_keys: Vec<String> = top.iter().map(|(k, _)| k.clone()).collect();
    let list = || top_keys.join(", ");
    if let Some(path) = key {
        let mut v = root.clone();
        for part in path.split('/') {
            let entries = dict_entries(p, &v)
                .ok_or_else(|| format!("key '{path}': '{part}' is looked up in a non-dict"))?;
            v = entries
                .into_iter()
                .find(|(k, _)| k == part)
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    format!("key '{path}': no key '{part}' (top-level keys: {})", list())
                })?;
        }
        let tensors = tensors_under(p, &v);
        if tensors.is_empty() {
            return Err(format!("key '{path}' holds no tensors"));
        }
        return Ok(Selected {
            tensors,
            key: Some(path.to_string()),
            top_keys,
        });
    }
    if top.iter().any(|(_, v)| matches!(v, Value::Tensor(_))) {
        return Ok(Selected {
            tensors: tensors_under(p, root),
            key: None,
            top_keys,
        });
    }
    let mut best: Option<(usize, &str, Named)> = None;
    for (k, v) in &top {
        let t = tensors_under(p, v);
        if t.is_empty() {
            continue;
        }
        if let Some(rank) = PREFERRED.iter().position(|x| *x == k.as_str()) {
            if best.as_ref().is_none_or(|b| b.0 > rank) {
                best = Some((rank, k.as_str(), t));
            }
        } else if best
            .as_ref()
            .is_none_or(|b| b.0 == usize::MAX && b.2.len() < t.len())
        {
            best = Some((usize::MAX, k.as_str(), t));
        }
    }
    let (_, k, tensors) =
        best.ok_or_else(|| format!("no tensors found (top-level keys: {})", list()))?;
    Ok(Selected {
        tensors,
        key: Some(k.to_string()),
        top_keys,
    })
}
