//! Next steps for common mistakes: a checkpoint htdiag could not open is looked at once more
//! (its first bytes) so the message says what the file is and what to do, instead of only
//! "header length 85966670672 bytes exceeds ...". Used only after the readers failed, so a
//! build that learns a format never shows its hint for a file it reads.

use std::io::Read;
use std::path::Path;

/// Bytes read from the start of the file to recognise it.
const SNIFF: usize = 4096;

/// What a file's first bytes say it is, in words with the next step, for formats htdiag does
/// not read (or failed to read): PyTorch zip and legacy pickles, GGUF, HDF5 (Keras), NumPy.
pub fn known_format(path: &Path) -> Option<&'static str> {
    let mut head = Vec::with_capacity(SNIFF);
    std::fs::File::open(path)
        .ok()?
        .take(SNIFF as u64)
        .read_to_end(&mut head)
        .ok()?;
    sniff(&head)
}

/// [`known_format`] on the first bytes of a file.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let contains = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if head.starts_with(b"PK\x03\x04") {
        return Some(if contains(b"data.pkl") {
            PYTORCH_ZIP
        } else {
            "this is a zip archive, not a safetensors checkpoint"
        });
    }
    if head.starts_with(&[0x80]) && head.len() > 1 && (2..=5).contains(&head[1]) {
        return Some(PYTORCH_PICKLE);
    }
    if head.starts_with(b"GGUF") {
        return Some(
            "this is a GGUF file (llama.cpp) that this build of htdiag could not read; \
             analyse the original Hugging Face checkpoint (model*.safetensors) instead",
        );
    }
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Some(
            "this is an HDF5 file (Keras .h5?), which htdiag does not read; export the \
             weights with the safetensors package and analyse that file",
        );
    }
    if head.starts_with(b"\x93NUMPY") {
        return Some("this is a NumPy .npy array, not a checkpoint");
    }
    None
}

/// The next step for a PyTorch zip checkpoint.
const PYTORCH_ZIP: &str = "this is a PyTorch checkpoint (zip pickle, torch.save) \
    that this build of htdiag could not read; convert it to safetensors (in Python: `from \
    safetensors.torch import save_file; save_file(torch.load(PATH, map_location='cpu'), \
    'model.safetensors')` for a state dict) and analyse the new file";
/// The next step for a legacy PyTorch pickle.
const PYTORCH_PICKLE: &str = "this is a PyTorch checkpoint in the legacy pickle \
        format (torch.save before 1.6) that this build of htdiag could not read; convert it \
        to safetensors (in Python: \
        `from safetensors.torch import save_file; save_file(torch.load(PATH, \
        map_location='cpu'), 'model.safetensors')` for a state dict) and analyse the new file";

/// Opens a checkpoint; on failure, adds what the file is when its first bytes say so. A
/// folder whose files look like separate models is refused (see
/// `htdiag::checkpoint::mixed`), and so is one whose files repeat tensor names.
/// `key` picks the tensor dict of a nested PyTorch checkpoint; the library's notes (which key
/// was used, GGUF dequantization) go to stderr unless `quiet`.
pub fn open_checkpoint(
    path: &Path,
    key: Option<&str>,
    quiet: bool,
) -> anyhow::Result<htdiag::checkpoint::Checkpoint> {
    let opts = htdiag::checkpoint::OpenOptions {
        key: key.map(str::to_string),
    };
    let ckpt = htdiag::checkpoint::Checkpoint::open_with(path, &opts).map_err(|e| {
        let duplicate = path.is_dir() && e.to_string().contains("also present in");
        let err = anyhow::Error::from(e);
        if duplicate {
            return err.context(format!(
                "{}: these look like separate checkpoints (two files hold the same tensor); \
                 analyse them one by one, or pass the shard index",
                path.display()
            ));
        }
        match path.is_file().then(|| known_format(path)).flatten() {
            Some(what) => anyhow::anyhow!("{}: {what}\n  (reader said: {err})", path.display()),
            None => err,
        }
    })?;
    if let Some(why) = htdiag::checkpoint::mixed::separate_models(&ckpt) {
        anyhow::bail!("{}: {why}", path.display());
    }
    if !quiet {
        for n in ckpt.notes() {
            eprintln!("htdiag: note: {n}");
        }
        // The library says another dict can be chosen; the command line chooses with --key.
        if key.is_none() && ckpt.dict_key().is_some() {
            eprintln!("htdiag: note: choose another dict with --key KEY");
        }
    }
    Ok(ckpt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_formats_by_their_first_bytes() {
        let zip = b"PK\x03\x04\x00\x00\x08\x00archive/data.pklPK";
        assert!(
            sniff(zip)
                .unwrap()
                .contains("PyTorch checkpoint (zip pickle")
        );
        assert!(
            sniff(b"\x80\x02\x8a\x0alz")
                .unwrap()
                .contains("legacy pickle")
        );
        assert!(sniff(b"GGUF\x03\x00\x00\x00").unwrap().contains("GGUF"));
        assert!(sniff(b"\x89HDF\r\n\x1a\n").unwrap().contains("HDF5"));
        assert_eq!(sniff(b"\x08\x00\x00\x00\x00\x00\x00\x00{}"), None);
        assert_eq!(sniff(b""), None);
    }
}
