//! Tensor names of a PEFT LoRA adapter file.
//!
//! PEFT's `get_peft_model_state_dict` saves, for an adapted module `<module>` of the base
//! model, `base_model.model.<module>.lora_A.weight` (`[r, in]`, or `[r, in, kh, kw]` for a
//! conv layer) and `...lora_B.weight` (`[out, r]`, or `[out, r, 1, 1]`); an embedding gets
//! `...lora_embedding_A` (`[r, num_embeddings]`) and `...lora_embedding_B`
//! (`[embedding_dim, r]`); DoRA adds `...lora_magnitude_vector`. The adapter's name
//! (`default`) is removed on saving, but files written from a raw `state_dict()` or by older
//! tools keep it: `lora_A.default.weight`, `lora_embedding_A.default`.

/// Which factor a tensor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// `lora_A` / `lora_embedding_A`.
    A,
    /// `lora_B` / `lora_embedding_B`.
    B,
}

/// A tensor name read as part of a LoRA adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// One factor of a module's update.
    Factor {
        /// The module's name as saved (`base_model.model.model.layers.0.self_attn.q_proj`).
        module: String,
        /// Adapter name kept in the tensor name, if any.
        adapter: Option<String>,
        /// A or B.
        factor: Factor,
        /// `lora_embedding_*` (the update is `(B A)^T`).
        embedding: bool,
    },
    /// DoRA's magnitude vector of this module.
    Magnitude { module: String },
}

/// Prefix PEFT puts before the base model's own module names.
pub const PREFIX: &str = "base_model.model.";

/// The module name relative to the base model (`PREFIX` removed).
pub fn base_key(module: &str) -> &str {
    module.strip_prefix(PREFIX).unwrap_or(module)
}

/// What `name` is in a LoRA adapter; `None` for any other tensor (a `modules_to_save` copy,
/// a bias, ...).
pub fn parse(name: &str) -> Option<Part> {
    let segs: Vec<&str> = name.split('.').collect();
    let (pos, seg) = segs.iter().enumerate().rev().find(|(_, s)| {
        matches!(
            **s,
            "lora_A" | "lora_B" | "lora_embedding_A" | "lora_embedding_B" | "lora_magnitude_vector"
        )
    })?;
    if pos == 0 {
        return None;
    }
    let module = segs[..pos].join(".");
    let rest = &segs[pos + 1..];
    if *seg == "lora_magnitude_vector" {
        return Some(Part::Magnitude { module });
    }
    let embedding = seg.starts_with("lora_embedding");
    let factor = if seg.ends_with('A') {
        Factor::A
    } else {
        Factor::B
    };
    let adapter = match (embedding, rest) {
        (false, ["weight"]) | (true, []) => None,
        (false, [a, "weight"]) | (true, [a]) if !a.is_empty() => Some(a.to_string()),
        _ => return None,
    };
    Some(Part::Factor {
        module,
        adapter,
        factor,
        embedding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_peft_names() {
        let p = parse("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").unwrap();
        assert_eq!(
            p,
            Part::Factor {
                module: "base_model.model.model.layers.0.self_attn.q_proj".into(),
                adapter: None,
                factor: Factor::A,
                embedding: false
            }
        );
        let Some(Part::Factor {
            adapter, factor, ..
        }) = parse("base_model.model.h.0.attn.c_attn.lora_B.default.weight")
        else {
            panic!()
        };
        assert_eq!((adapter.as_deref(), factor), (Some("default"), Factor::B));
        let Some(Part::Factor {
            embedding, module, ..
        }) = parse("base_model.model.model.embed_tokens.lora_embedding_A")
        else {
            panic!()
        };
        assert!(embedding && base_key(&module) == "model.embed_tokens");
        assert!(matches!(
            parse("base_model.model.q.lora_magnitude_vector"),
            Some(Part::Magnitude { .. })
        ));
        for other in [
            "base_model.model.score.weight",
            "base_model.model.q.lora_B.bias",
            "lora_A.weight",
            "base_model.model.q.lora_A",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
