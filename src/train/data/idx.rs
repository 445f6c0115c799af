//! MNIST's IDX format (LeCun et al., <http://yann.lecun.com/exdb/mnist/>): a 4-byte magic
//! (`0 0 type rank`), `rank` big-endian u32 dimensions, then the values, big-endian.
//!
//! The header is untrusted: every size is computed with checked arithmetic, and the data
//! length must equal the product of the dimensions times the value size exactly, so a
//! crafted header (dimensions whose product overflows, a rank larger than the file) gives a
//! clear error before anything is allocated.

use std::path::{Path, PathBuf};

use safetensors::tensor::Dtype;

use super::Dataset;
use super::decode::{decode, labels_from};
use crate::error::{Error, Result};

/// Reads one IDX file: (shape, values as f32; unsigned bytes scaled by 1/255 with `scale_u8`).
pub fn read(path: &Path, scale_u8: bool) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::Data {
        path: path.to_path_buf(),
        reason: format!("IDX: {reason}"),
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("bad magic number (expected 0 0 TYPE RANK)".into()));
    }
    let (dt, size) = match bytes[2] {
        0x08 => (Dtype::U8, 1usize),
        0x09 => (Dtype::I8, 1),
        0x0B => (Dtype::I16, 2),
        0x0C => (Dtype::I32, 4),
        0x0D => (Dtype::F32, 4),
        0x0E => (Dtype::F64, 8),
        t => return Err(bad(format!("unknown type code {t:#x}"))),
    };
    let rank = bytes[3] as usize;
    if rank == 0 {
        return Err(bad("rank 0 (no dimensions)".into()));
    }
    // At most 4 + 4 * 255 bytes: cannot overflow.
    let head = 4 + 4 * rank;
    if bytes.len() < head {
        return Err(bad(format!(
            "header of rank {rank} needs {head} bytes, the file has {}",
            bytes.len()
        )));
    }
    let shape: Vec<usize> = bytes[4..head]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let data_len = shape
        .iter()
        .try_fold(size, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            bad(format!(
                "dimensions {shape:?} are too large (size overflows)"
            ))
        })?;
    let have = bytes.len() - head;
    if have != data_len {
        return Err(bad(format!(
            "{have} data bytes, but shape {shape:?} of {size}-byte values needs {data_len}"
        )));
    }
    let v = decode(dt, &bytes[head..], scale_u8, true).map_err(bad)?;
    Ok((shape, v))
}

/// The labels file MNIST names next to an images file (`images-idx3` -> `labels-idx1`).
pub fn label_sibling(images: &Path) -> Result<PathBuf> {
    let name = images
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.contains("images-idx3") {
        Ok(images.with_file_name(name.replace("images-idx3", "labels-idx1")))
    } else {
        Err(Error::InvalidArgument(format!(
            "{}: not a .safetensors file, a CIFAR folder or an MNIST images-idx3 file; for \
             other IDX images name the labels file too",
            images.display()
        )))
    }
}

/// An IDX images file (`n x ...`, rank >= 2) with its IDX labels (`n`). Images of rank 3
/// (`n x h x w`) keep the sample shape `[1, h, w]`; rank 4 is read as `n x c x h x w`.
pub fn load_pair(images: &Path, labels: &Path) -> Result<Dataset> {
    let (xs, x) = read(images, true)?;
    let (ys, yf) = read(labels, false)?;
    if xs.len() < 2 || ys.len() != 1 || ys[0] != xs[0] {
        return Err(Error::Data {
            path: labels.to_path_buf(),
            reason: format!("IDX labels of shape {ys:?} for images of shape {xs:?}"),
        });
    }
    let y = labels_from(&yf).map_err(|r| Error::Data {
        path: labels.to_path_buf(),
        reason: r,
    })?;
    let d = Dataset::new(x, y, xs[1..].iter().product())?;
    match xs[1..] {
        [h, w] => d.with_shape([1, h, w]),
        [c, h, w] => d.with_shape([c, h, w]),
        _ => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, b: &[u8]) {
        std::fs::write(p, b).unwrap();
    }

    #[test]
    fn roundtrip_scaling_and_shape() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("t10k-images-idx3-ubyte");
        let lab = dir.path().join("t10k-labels-idx1-ubyte");
        let mut b = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2];
        b.extend([0u8, 255, 51, 102, 1, 2, 3, 4]);
        write(&img, &b);
        write(&lab, &[0u8, 0, 8, 1, 0, 0, 0, 2, 7, 3]);
        let d = Dataset::load(&img, None).unwrap();
        assert_eq!(d.dim, 4);
        assert_eq!(d.shape, Some([1, 2, 2]));
        assert_eq!(d.y, vec![7, 3]);
        assert_eq!(&d.x[..4], &[0.0, 1.0, 0.2, 0.4]);
        // Truncated file: clear error naming it.
        write(&lab, &[0u8, 0, 8, 1, 0, 0, 0, 3, 7, 3]);
        let e = Dataset::load(&img, None).unwrap_err().to_string();
        assert!(e.contains("labels-idx1") && e.contains("needs 3"), "{e}");
    }

    /// Crafted headers: overflowing dimensions, a rank beyond the file, rank 0, big-endian
    /// values of a wider type. Each is a typed error naming the file, never a panic.
    #[test]
    fn crafted_headers_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("crafted-idx");
        let err = |b: &[u8]| {
            write(&p, b);
            let e = read(&p, true).unwrap_err();
            assert!(matches!(e, Error::Data { .. }), "{e:?}");
            // A data file, not a checkpoint: the message says which.
            let text = e.to_string();
            assert!(
                text.contains("invalid data file") && !text.contains("checkpoint"),
                "{text}"
            );
            text
        };
        // 0xFFFFFFFF^3 * 8 bytes overflows usize.
        let mut b = vec![0, 0, 0x0E, 3];
        b.extend([0xFF; 12]);
        let e = err(&b);
        assert!(e.contains("crafted-idx") && e.contains("overflows"), "{e}");
        // Two dimensions of 2^32 - 1 with 1-byte values do not overflow 64 bits but do not
        // match the (empty) data.
        let mut b = vec![0, 0, 8, 2];
        b.extend([0xFF; 8]);
        assert!(err(&b).contains("0 data bytes"));
        // Rank 255 with a 20-byte file.
        let mut b = vec![0, 0, 8, 255];
        b.extend([1u8; 16]);
        assert!(err(&b).contains("needs 1024 bytes"));
        assert!(err(&[0, 0, 8, 0]).contains("rank 0"));
        assert!(err(&[0, 0, 0x42, 1, 0, 0, 0, 1, 5]).contains("type code 0x42"));
        assert!(err(&[1, 2]).contains("magic"));
        // A valid big-endian i16 file decodes.
        write(&p, &[0, 0, 0x0B, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x01, 0x00]);
        assert_eq!(read(&p, true).unwrap(), (vec![2], vec![-2.0, 256.0]));
    }
}
