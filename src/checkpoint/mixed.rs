//! Whether a folder of checkpoint files without an index holds one model or several.
//!
//! Shards of one model split its layers between files, so their tensor names share patterns
//! (`model.layers.#.mlp.up_proj.weight` in every shard, `#` standing for a layer number).
//! Files of unrelated models (a ResNet next to a BERT) share no pattern, and merging them would
//! give one result with meaningless shared means. Files named like Hugging Face shards
//! (`*-00001-of-00003.*`) are taken as one model whatever their names hold: a last shard may
//! hold only the `lm_head`.

use super::{Checkpoint, Layout};
use std::collections::HashSet;
use std::path::Path;

/// A tensor name with every run of digits replaced by `#`.
fn pattern(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_digits = false;
    for c in name.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// True for `name-00001-of-00003.ext` (Hugging Face's shard names).
fn shard_named(path: &Path) -> bool {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let parts: Vec<&str> = stem.rsplitn(3, '-').collect();
    matches!(parts.as_slice(), [total, "of", rest]
        if total.chars().all(|c| c.is_ascii_digit())
            && rest.rsplit('-').next().is_some_and(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_digit())))
}

/// For a checkpoint opened from a folder without index: the files that look like separate
/// models (their tensor names share no pattern with any other file's), in words; `None` when
/// the folder looks like one model, or the checkpoint is not such a folder.
pub fn separate_models(ckpt: &Checkpoint) -> Option<String> {
    if *ckpt.layout() != Layout::Folder {
        return None;
    }
    let files: Vec<&Path> = ckpt.files().collect();
    if files.len() < 2 || files.iter().all(|f| shard_named(f)) {
        return None;
    }
    let mut patterns: Vec<HashSet<String>> = vec![HashSet::new(); files.len()];
    for t in ckpt.tensors() {
        patterns[t.shard].insert(pattern(&t.name));
    }
    let alone: Vec<String> = (0..files.len())
        .filter(|&i| {
            !patterns[i].is_empty()
                && (0..files.len())
                    .filter(|&j| j != i)
                    .all(|j| patterns[i].is_disjoint(&patterns[j]))
        })
        .map(|i| {
            files[i]
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        })
        .collect();
    (!alone.is_empty()).then(|| {
        format!(
            "the folder's {} files look like separate checkpoints ({} share no tensor names \
             with the others); analyse them one by one, or pass the shard index",
            files.len(),
            alone.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_shard_names() {
        assert_eq!(
            pattern("model.layers.12.mlp.weight"),
            "model.layers.#.mlp.weight"
        );
        assert_eq!(pattern("fc10"), "fc#");
        assert!(shard_named(Path::new("d/model-00001-of-00003.safetensors")));
        assert!(!shard_named(Path::new("d/resnet.safetensors")));
        assert!(!shard_named(Path::new("d/a-of-b.safetensors")));
    }
}
