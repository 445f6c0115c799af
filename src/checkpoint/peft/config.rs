//! `adapter_config.json` of a PEFT LoRA adapter: the rank, the scale and their per-module
//! overrides.
//!
//! PEFT (<https://github.com/huggingface/peft>, `LoraConfig`) scales the update of a module
//! by `lora_alpha / r`, or by `lora_alpha / sqrt(r)` with `use_rslora` (Kalajdzievski,
//! "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA", 2023). `rank_pattern` and
//! `alpha_pattern` override `r` and `lora_alpha` for the modules whose name matches a key:
//! the keys are tried in the order the file lists them and the first key `k` for which the
//! regular expression `(.*\.)?(k)$` matches the whole module name (relative to the base
//! model, e.g. `model.layers.0.self_attn.q_proj`) wins (PEFT's `get_pattern_key`).

use super::super::ordered::OrderedMap;
use crate::error::{Error, Result};
use regex::Regex;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// PEFT's default `lora_alpha` (its `LoraConfig` dataclass), used when the file omits it.
pub const DEFAULT_LORA_ALPHA: f64 = 8.0;

/// The parts of a LoRA `adapter_config.json` that change the update's spectrum.
#[derive(Debug, Clone)]
pub struct LoraConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// Default rank.
    pub r: usize,
    /// Default alpha.
    pub lora_alpha: f64,
    /// Scale `alpha / sqrt(r)` instead of `alpha / r`.
    pub use_rslora: bool,
    /// Rank overrides, in file order.
    pub rank_pattern: Vec<(String, usize)>,
    /// Alpha overrides, in file order.
    pub alpha_pattern: Vec<(String, f64)>,
    /// `target_modules` as written (a list joined by `, `, or the regex string).
    pub target_modules: Option<String>,
    /// The base layer stores its weight as `[in, out]` (GPT-2's `Conv1D`).
    pub fan_in_fan_out: bool,
    /// Weight-decomposed LoRA (DoRA): the update is not `s B A` alone.
    pub use_dora: bool,
    /// `base_model_name_or_path`, when given.
    pub base_model: Option<String>,
    rank_re: Vec<Regex>,
    alpha_re: Vec<Regex>,
}

/// The two pattern maps, keys in file order.
#[derive(serde::Deserialize)]
struct Patterns {
    #[serde(default)]
    rank_pattern: Option<OrderedMap<Value>>,
    #[serde(default)]
    alpha_pattern: Option<OrderedMap<Value>>,
}

/// Rank, alpha and scale of one module.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModuleScale {
    /// Rank from the config (`r` or its `rank_pattern` override).
    pub rank: usize,
    /// Alpha (`lora_alpha` or its `alpha_pattern` override).
    pub alpha: f64,
    /// `alpha / r`, or `alpha / sqrt(r)` with `use_rslora`.
    pub scale: f64,
}

impl LoraConfig {
    /// Reads and checks `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Parses the text of an `adapter_config.json` (`path` names it in errors).
    pub fn parse(path: &Path, text: &[u8]) -> Result<Self> {
        let err = |reason: String| Error::Format {
            path: path.to_path_buf(),
            reason,
        };
        let v: Value = serde_json::from_slice(text)
            .map_err(|e| err(format!("not a valid adapter_config.json: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| err("adapter_config.json is not a JSON object".into()))?;
        if let Some(t) = obj.get("peft_type").filter(|t| !t.is_null()) {
            let t = t.as_str().unwrap_or_default();
            if !t.eq_ignore_ascii_case("lora") {
                return Err(err(format!(
                    "peft_type {t:?}: only LoRA adapters (peft_type \"LORA\") are supported"
                )));
            }
        }
        let r = match obj.get("r") {
            None | Some(Value::Null) => {
                return Err(err("no rank: the key \"r\" is missing".into()));
            }
            Some(x) => positive_int(x)
                .ok_or_else(|| err(format!("\"r\" must be a positive integer, found {x}")))?,
        };
        let lora_alpha = match obj.get("lora_alpha") {
            None | Some(Value::Null) => DEFAULT_LORA_ALPHA,
            Some(x) => x
                .as_f64()
                .filter(|a| a.is_finite())
                .ok_or_else(|| err(format!("\"lora_alpha\" must be a number, found {x}")))?,
        };
        let flag = |key: &str| -> Result<bool> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(x) => Err(err(format!("\"{key}\" must be true or false, found {x}"))),
            }
        };
        for key in ["rank_pattern", "alpha_pattern"] {
            if let Some(x) = obj.get(key).filter(|x| !x.is_null() && !x.is_object()) {
                return Err(err(format!("\"{key}\" must be an object, found {x}")));
            }
        }
        // The patterns again from the text: `Value`'s objects forget the file's key order,
        // which decides which key wins.
        let ordered: Patterns = serde_json::from_slice(text)
            .map_err(|e| err(format!("rank_pattern / alpha_pattern: {e}")))?;
        let pattern = |m: Option<OrderedMap<Value>>| m.map(|m| m.0).unwrap_or_default();
        let rank_pattern = pattern(ordered.rank_pattern)
            .into_iter()
            .map(|(k, x)| match positive_int(&x) {
                Some(r) => Ok((k, r)),
                None => Err(err(format!(
                    "rank_pattern[{k:?}] must be a positive integer, found {x}"
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        let alpha_pattern = pattern(ordered.alpha_pattern)
            .into_iter()
            .map(|(k, x)| match x.as_f64().filter(|a| a.is_finite()) {
                Some(a) => Ok((k, a)),
                None => Err(err(format!(
                    "alpha_pattern[{k:?}] must be a number, found {x}"
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        let compile = |what: &str, key: &str| {
            Regex::new(&format!(r"^(?:.*\.)?(?:{key})$")).map_err(|e| {
                err(format!(
                    "{what} key {key:?} is not a regular expression: {e}"
                ))
            })
        };
        let rank_re = rank_pattern
            .iter()
            .map(|(k, _)| compile("rank_pattern", k))
            .collect::<Result<Vec<_>>>()?;
        let alpha_re = alpha_pattern
            .iter()
            .map(|(k, _)| compile("alpha_pattern", k))
            .collect::<Result<Vec<_>>>()?;
        let target_modules = match obj.get("target_modules") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            _ => None,
        };
        Ok(LoraConfig {
            path: path.to_path_buf(),
            r,
            lora_alpha,
            use_rslora: flag("use_rslora")?,
            rank_pattern,
            alpha_pattern,
            target_modules,
            fan_in_fan_out: flag("fan_in_fan_out")?,
            use_dora: flag("use_dora")?,
            base_model: obj
                .get("base_model_name_or_path")
                .and_then(Value::as_str)
                .map(str::to_string),
            rank_re,
            alpha_re,
        })
    }

    /// Rank, alpha and scale of the module called `module` (relative to the base model).
    pub fn module_scale(&self, module: &str) -> ModuleScale {
        let rank = first_match(&self.rank_re, module).map_or(self.r, |i| self.rank_pattern[i].1);
        let alpha = first_match(&self.alpha_re, module)
            .map_or(self.lora_alpha, |i| self.alpha_pattern[i].1);
        let scale = if self.use_rslora {
            alpha / (rank as f64).sqrt()
        } else {
            alpha / rank as f64
        };
        ModuleScale { rank, alpha, scale }
    }
}

fn first_match(res: &[Regex], module: &str) -> Option<usize> {
    res.iter().position(|re| re.is_match(module))
}

/// A JSON number that is a positive integer (`8` or `8.0`).
fn positive_int(v: &Value) -> Option<usize> {
    if let Some(u) = v.as_u64() {
        return usize::try_from(u).ok().filter(|&u| u > 0);
    }
    let f = v.as_f64()?;
    (f >= 1.0 && f.fract() == 0.0 && f < 1e15).then_some(f as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoraConfig> {
        LoraConfig::parse(Path::new("adapter_config.json"), text.as_bytes())
    }

    #[test]
    fn scales_and_patterns() {
        let c = parse(
            r#"{"peft_type": "LORA", "r": 8, "lora_alpha": 16, "use_rslora": false,
                "rank_pattern": {"layers.0.self_attn.q_proj": 4, "q_proj": 2},
                "alpha_pattern": {"v_proj": 64}, "target_modules": ["q_proj", "v_proj"]}"#,
        )
        .unwrap();
        // First matching key in file order wins; the match is anchored at a dot or the start.
        let q0 = c.module_scale("model.layers.0.self_attn.q_proj");
        assert_eq!((q0.rank, q0.alpha, q0.scale), (4, 16.0, 4.0));
        let q1 = c.module_scale("model.layers.1.self_attn.q_proj");
        assert_eq!((q1.rank, q1.scale), (2, 8.0));
        let v = c.module_scale("v_proj");
        assert_eq!((v.rank, v.alpha, v.scale), (8, 64.0, 8.0));
        // "q_proj" must match a whole name segment: "xq_proj" is not "q_proj".
        assert_eq!(c.module_scale("model.xq_proj").rank, 8);
        assert_eq!(c.target_modules.as_deref(), Some("q_proj, v_proj"));
        // File order, not sorted order: here the general key comes first and wins.
        let c = parse(r#"{"r": 8, "rank_pattern": {"q_proj": 2, "layers.0.self_attn.q_proj": 4}}"#)
            .unwrap();
        assert_eq!(c.module_scale("model.layers.0.self_attn.q_proj").rank, 2);
        let rs = parse(r#"{"r": 16, "lora_alpha": 8, "use_rslora": true}"#).unwrap();
        assert_eq!(rs.module_scale("a").scale, 2.0);
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for (text, needle) in [
            (r#"{"lora_alpha": 16}"#, "\"r\" is missing"),
            (r#"{"r": 0}"#, "positive integer"),
            (r#"{"r": "8"}"#, "positive integer"),
            (r#"{"r": 8, "peft_type": "IA3"}"#, "only LoRA"),
            (
                r#"{"r": 8, "rank_pattern": {"(": 2}}"#,
                "not a regular expression",
            ),
            (r#"{"r": 8, "alpha_pattern": []}"#, "must be an object"),
            (r#"{"r": 8, "use_rslora": 1}"#, "true or false"),
            ("[1]", "not a JSON object"),
            ("{", "not a valid"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.contains(needle) && e.contains("adapter_config.json"),
                "{text}: {e}"
            );
        }
    }
}
