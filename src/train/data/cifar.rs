//! CIFAR-10 and CIFAR-100 in their binary distributions (Krizhevsky 2009,
//! <https://www.cs.toronto.edu/~kriz/cifar.html>): fixed-size records of label byte(s)
//! followed by a 32x32 colour image as 1024 red, 1024 green, 1024 blue bytes, each plane
//! row-major. That is already the NCHW order of one sample, so a record's pixels are the
//! sample's features (divided by 255), shape `[3, 32, 32]`.
//!
//! - CIFAR-10 (`cifar-10-batches-bin/`): `data_batch_1.bin` .. `data_batch_5.bin` (training,
//!   10,000 records each) and `test_batch.bin`; records of 1 label byte (0-9) + 3072 bytes.
//! - CIFAR-100 (`cifar-100-binary/`): `train.bin` (50,000) and `test.bin` (10,000); records
//!   of a coarse label byte (0-19), a fine label byte (0-99), then 3072 bytes.

use std::path::{Path, PathBuf};

use super::{Dataset, Part};
use crate::error::{Error, Result};

/// Pixels of one image.
const PIXELS: usize = 3 * 32 * 32;
/// CIFAR-10 training batch files.
const TRAIN10: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
const TEST10: &str = "test_batch.bin";
const TRAIN100: &str = "train.bin";
const TEST100: &str = "test.bin";

/// Which CIFAR-100 label to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CifarLabels {
    /// The 100 classes.
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

impl std::str::FromStr for CifarLabels {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fine" => Ok(CifarLabels::Fine),
            "coarse" => Ok(CifarLabels::Coarse),
            _ => Err(Error::InvalidArgument(format!(
                "CIFAR-100 labels '{s}': expected fine or coarse"
            ))),
        }
    }
}

/// The two record formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Cifar10,
    Cifar100,
}

impl Variant {
    /// Label bytes before the pixels.
    fn label_bytes(self) -> usize {
        match self {
            Variant::Cifar10 => 1,
            Variant::Cifar100 => 2,
        }
    }

    fn of_file(name: &str) -> Option<Variant> {
        if TRAIN10.contains(&name) || name == TEST10 {
            Some(Variant::Cifar10)
        } else if name == TRAIN100 || name == TEST100 {
            Some(Variant::Cifar100)
        } else {
            None
        }
    }
}

/// Whether `path` is a file named as a CIFAR binary batch.
pub fn is_cifar_file(path: &Path) -> bool {
    path.is_file()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(Variant::of_file)
            .is_some()
}

/// The files of part `part` of the CIFAR folder `dir`, and their variant.
fn folder_files(dir: &Path, part: Part) -> Result<(Variant, Vec<PathBuf>)> {
    let has = |n: &str| dir.join(n).is_file();
    let (variant, names): (Variant, Vec<&str>) = if has(TRAIN10[0]) || has(TEST10) {
        let names = match part {
            Part::Train => TRAIN10.to_vec(),
            Part::Test => vec![TEST10],
        };
        (Variant::Cifar10, names)
    } else if has(TRAIN100) || has(TEST100) {
        let name = match part {
            Part::Train => TRAIN100,
            Part::Test => TEST100,
        };
        (Variant::Cifar100, vec![name])
    } else {
        return Err(Error::InvalidArgument(format!(
            "{}: a data folder must hold CIFAR-10 (data_batch_1.bin .. data_batch_5.bin, \
             test_batch.bin) or CIFAR-100 (train.bin, test.bin) binary batches",
            dir.display()
        )));
    };
    let files: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        return Err(Error::io(
            missing,
            std::io::Error::new(std::io::ErrorKind::NotFound, "CIFAR batch file missing"),
        ));
    }
    Ok((variant, files))
}

/// Loads part `part` of a CIFAR folder, or one CIFAR batch file (`part` then ignored).
pub fn load(path: &Path, part: Part, labels: CifarLabels) -> Result<Dataset> {
    let (variant, files) = if path.is_dir() {
        folder_files(path, part)?
    } else {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let v = Variant::of_file(name).ok_or_else(|| {
            Error::InvalidArgument(format!("{}: not a CIFAR batch file name", path.display()))
        })?;
        (v, vec![path.to_path_buf()])
    };
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for f in &files {
        read_batch(f, variant, labels, &mut x, &mut y)?;
    }
    Dataset::new(x, y, PIXELS)?.with_shape([3, 32, 32])
}

/// Appends the records of one batch file to `x` and `y`.
fn read_batch(
    path: &Path,
    variant: Variant,
    labels: CifarLabels,
    x: &mut Vec<f32>,
    y: &mut Vec<u32>,
) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let lb = variant.label_bytes();
    let record = lb + PIXELS;
    let bad = |reason: String| Error::Data {
        path: path.to_path_buf(),
        reason: format!("CIFAR: {reason}"),
    };
    if bytes.is_empty() || bytes.len() % record != 0 {
        return Err(bad(format!(
            "{} bytes is not a whole number of {record}-byte records",
            bytes.len()
        )));
    }
    let (which, classes) = match (variant, labels) {
        (Variant::Cifar10, _) => (0, 10),
        (Variant::Cifar100, CifarLabels::Coarse) => (0, 20),
        (Variant::Cifar100, CifarLabels::Fine) => (1, 100),
    };
    x.reserve(bytes.len() / record * PIXELS);
    for (k, r) in bytes.chunks_exact(record).enumerate() {
        let label = r[which];
        if label as usize >= classes {
            return Err(bad(format!(
                "record {k} has label {label}, expected 0..{}",
                classes - 1
            )));
        }
        y.push(label as u32);
        x.extend(r[lb..].iter().map(|&b| b as f32 / 255.0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record whose pixel (c, i, j) is `(label + 3c + 5i + 7j) mod 256`.
    fn record(labels: &[u8]) -> Vec<u8> {
        let mut r = labels.to_vec();
        let l = *labels.last().unwrap() as usize;
        for c in 0..3 {
            for i in 0..32 {
                for j in 0..32 {
                    r.push(((l + 3 * c + 5 * i + 7 * j) % 256) as u8);
                }
            }
        }
        r
    }

    #[test]
    fn cifar10_folder_train_and_test() {
        let dir = tempfile::tempdir().unwrap();
        for (b, name) in TRAIN10.iter().enumerate() {
            let recs: Vec<u8> = [record(&[b as u8]), record(&[9])].concat();
            std::fs::write(dir.path().join(name), recs).unwrap();
        }
        std::fs::write(dir.path().join(TEST10), record(&[4])).unwrap();
        let tr = Dataset::load(dir.path(), None).unwrap();
        assert_eq!(tr.len(), 10);
        assert_eq!(tr.y, vec![0, 9, 1, 9, 2, 9, 3, 9, 4, 9]);
        assert_eq!(tr.shape, Some([3, 32, 32]));
        // Pixel (c=2, i=1, j=3) of sample 2 (label 1): (1 + 6 + 5 + 21) / 255.
        assert_eq!(tr.row(2)[2 * 1024 + 32 + 3], 33.0 / 255.0);
        let te = load(dir.path(), Part::Test, CifarLabels::Fine).unwrap();
        assert_eq!(te.y, vec![4]);
        // One batch file alone.
        let one = Dataset::load(&dir.path().join(TRAIN10[3]), None).unwrap();
        assert_eq!(one.y, vec![3, 9]);
        // A missing training batch is named.
        std::fs::remove_file(dir.path().join(TRAIN10[4])).unwrap();
        let e = Dataset::load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("data_batch_5.bin"), "{e}");
    }

    #[test]
    fn cifar100_fine_and_coarse_labels() {
        let dir = tempfile::tempdir().unwrap();
        let recs: Vec<u8> = [record(&[3, 77]), record(&[19, 99])].concat();
        std::fs::write(dir.path().join(TRAIN100), &recs).unwrap();
        std::fs::write(dir.path().join(TEST100), record(&[0, 5])).unwrap();
        let fine = load(dir.path(), Part::Train, CifarLabels::Fine).unwrap();
        assert_eq!(fine.y, vec![77, 99]);
        // The pixels follow the two label bytes: pixel 0 of record 0 is (77 + 0) / 255.
        assert_eq!(fine.row(0)[0], 77.0 / 255.0);
        let coarse = load(dir.path(), Part::Train, "coarse".parse().unwrap()).unwrap();
        assert_eq!(coarse.y, vec![3, 19]);
        assert_eq!(coarse.x, fine.x);
        assert_eq!(
            load(dir.path(), Part::Test, CifarLabels::Fine).unwrap().y,
            vec![5]
        );
    }

    #[test]
    fn malformed_batches_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(TEST10);
        std::fs::write(&p, &record(&[1])[..3000]).unwrap();
        let e = Dataset::load(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("3073-byte records"),
            "{e}"
        );
        std::fs::write(&p, record(&[10])).unwrap();
        let e = Dataset::load(&p, None).unwrap_err().to_string();
        assert!(e.contains("record 0 has label 10"), "{e}");
        let e = Dataset::load(&dir.path().join("nothing"), None);
        assert!(e.is_err());
        std::fs::remove_file(&p).unwrap();
        let e = Dataset::load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("CIFAR-10"), "{e}");
    }
}
