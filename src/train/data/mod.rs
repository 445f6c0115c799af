//! Training data held in memory as f32 rows: a safetensors file with `x` and `y`
//! ([`tensor_file`]), a pair of MNIST IDX files ([`idx`]), or CIFAR-10 /
//! CIFAR-100 binary batches ([`cifar`]); then per-channel normalisation and seeded training
//! augmentation ([`transform`]).
//!
//! Input scaling: integer pixels (U8 in safetensors, unsigned-byte IDX, CIFAR bytes) are
//! divided by 255 so they lie in [0, 1], as torchvision's `ToTensor` does; float inputs are
//! used as stored. Image samples keep their shape `[c, h, w]` (rows are stored in that NCHW
//! order, whatever the file's layout) so a convolutional network can check it against its
//! input; a flat `n x features` tensor has no shape. No mean/std normalisation is applied
//! unless asked for (the PyTorch reference protocol in REGULARIZATION.md uses plain [0, 1]
//! pixels).

pub mod cifar;
mod decode;
pub mod idx;
pub mod tensor_file;
pub mod transform;

use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

pub use cifar::CifarLabels;
pub use tensor_file::Layout;
pub use transform::{Augment, Normalization};

use crate::error::{Error, Result};

/// A labelled data set held in memory as f32 features.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `len x dim` features, row-major (images in `[c, h, w]` order).
    pub x: Vec<f32>,
    /// `len` class labels.
    pub y: Vec<u32>,
    /// Features per sample.
    pub dim: usize,
    /// Shape `[c, h, w]` of one sample (`c * h * w == dim`); `None` for flat features.
    pub shape: Option<[usize; 3]>,
    /// The normalisation applied to `x`, if any (see [`Dataset::normalize`]).
    pub normalization: Option<Normalization>,
    /// Training-time augmentation applied by [`Dataset::sample_into`]; `x` itself is never
    /// augmented.
    pub augment: Option<Augment>,
}

/// Which part of a data source that holds both (a CIFAR folder) to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Part {
    /// The training batches.
    #[default]
    Train,
    /// The test batch.
    Test,
}

/// How to read a data source (all fields have a default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// The IDX labels file (default: the images file's MNIST sibling name).
    pub labels: Option<PathBuf>,
    /// Axis order of a rank-4 safetensors `x`.
    pub layout: Layout,
    /// CIFAR-100: fine (100 classes) or coarse (20 superclasses) labels.
    pub cifar_labels: CifarLabels,
}

impl Dataset {
    /// A data set of flat features (`x.len() == y.len() * dim`).
    pub fn new(x: Vec<f32>, y: Vec<u32>, dim: usize) -> Result<Dataset> {
        if x.len() != y.len() * dim {
            return Err(Error::InvalidArgument(format!(
                "{} features for {} samples of {dim}",
                x.len(),
                y.len()
            )));
        }
        Ok(Dataset {
            x,
            y,
            dim,
            shape: None,
            normalization: None,
            augment: None,
        })
    }

    /// The same data with per-sample shape `shape` (`c * h * w` must equal `dim`).
    pub fn with_shape(mut self, shape: [usize; 3]) -> Result<Dataset> {
        if shape.iter().product::<usize>() != self.dim {
            return Err(Error::InvalidArgument(format!(
                "sample shape {shape:?} holds {} values, the samples have {}",
                shape.iter().product::<usize>(),
                self.dim
            )));
        }
        self.shape = Some(shape);
        Ok(self)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether the set holds no sample.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Largest label + 1.
    pub fn num_classes(&self) -> usize {
        self.y.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// Features of sample `i` (never augmented).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// Writes sample `i` as training sees it in epoch `epoch` of a run seeded with `seed`:
    /// the row itself, or with [`Dataset::augment`] set its augmented copy, a function of
    /// `(seed, epoch, i)` only (see [`Augment::apply`]). `out` holds `dim` values.
    pub fn sample_into(&self, i: usize, seed: u64, epoch: usize, out: &mut [f32]) {
        match (&self.augment, self.shape) {
            (Some(a), Some(shape)) => {
                let fill = self.normalization.as_ref().map(|n| n.zero());
                a.apply(shape, fill.as_deref(), seed, epoch, i, self.row(i), out);
            }
            _ => out.copy_from_slice(self.row(i)),
        }
    }

    /// Writes the training batch `rows` (as [`Dataset::sample_into`] sees each) into `out`,
    /// `rows.len() x dim` row-major: what a backend uploads or copies for one step.
    pub fn gather_into(&self, rows: &[u32], seed: u64, epoch: usize, out: &mut [f32]) {
        for (r, &i) in rows.iter().enumerate() {
            let dst = &mut out[r * self.dim..(r + 1) * self.dim];
            self.sample_into(i as usize, seed, epoch, dst);
        }
    }

    /// The samples at `idx`, in that order (shape, normalisation and augmentation kept).
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let mut x = Vec::with_capacity(idx.len() * self.dim);
        for &i in idx {
            x.extend_from_slice(self.row(i));
        }
        Dataset {
            x,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            ..self.with_no_samples()
        }
    }

    fn with_no_samples(&self) -> Dataset {
        Dataset {
            x: Vec::new(),
            y: Vec::new(),
            dim: self.dim,
            shape: self.shape,
            normalization: self.normalization.clone(),
            augment: self.augment.clone(),
        }
    }

    /// The first `n` samples (all if fewer).
    pub fn head(&self, n: usize) -> Dataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx)
    }

    /// Splits off a test set of `round(len * fraction)` samples. Without `seed` the test set
    /// is the last rows (files such as mnist10k are pre-shuffled, and this reproduces the
    /// "rows 0-7999 train / 8000-9999 test" protocol); with a seed, a seeded random split.
    pub fn split(&self, fraction: f64, seed: Option<u64>) -> Result<(Dataset, Dataset)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::InvalidArgument(format!(
                "test fraction {fraction} must be in [0, 1)"
            )));
        }
        let n_test = (self.len() as f64 * fraction).round() as usize;
        let mut idx: Vec<usize> = (0..self.len()).collect();
        if let Some(s) = seed {
            shuffle(&mut idx, &mut ChaCha8Rng::seed_from_u64(s));
        }
        let cut = self.len() - n_test;
        let (mut tr, mut te) = (idx[..cut].to_vec(), idx[cut..].to_vec());
        tr.sort_unstable();
        te.sort_unstable();
        Ok((self.subset(&tr), self.subset(&te)))
    }

    /// Normalises every sample per channel, `x = (x - mean_c) / std_c` (torchvision's
    /// `Normalize`), and records it. Statistics of one channel apply to every feature of flat
    /// or one-channel data; otherwise their channel count must match the sample shape.
    pub fn normalize(&mut self, n: &Normalization) -> Result<()> {
        if self.normalization.is_some() {
            return Err(Error::InvalidArgument(
                "the data is already normalised".into(),
            ));
        }
        n.apply(self.shape, &mut self.x)?;
        self.normalization = Some(n.clone());
        Ok(())
    }

    /// Loads a data set: `*.safetensors` (tensors `x` and `y`), or an IDX image file whose
    /// labels are in `labels` (default: the MNIST sibling name, `images-idx3` ->
    /// `labels-idx1`), or CIFAR binary batches (a folder or one `.bin` file; the training
    /// part of a folder). [`Dataset::load_with`] takes the other options.
    pub fn load(path: &Path, labels: Option<&Path>) -> Result<Dataset> {
        let opts = LoadOptions {
            labels: labels.map(Path::to_path_buf),
            ..LoadOptions::default()
        };
        Dataset::load_with(path, &opts, Part::Train)
    }

    /// Loads part `part` of a data source (`part` matters only for a source that holds both,
    /// see [`Dataset::has_test_part`]).
    pub fn load_with(path: &Path, opts: &LoadOptions, part: Part) -> Result<Dataset> {
        if path.is_dir() || cifar::is_cifar_file(path) {
            return cifar::load(path, part, opts.cifar_labels);
        }
        let is_st = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
        if is_st {
            tensor_file::load(path, opts.layout)
        } else {
            let lab = match &opts.labels {
                Some(l) => l.clone(),
                None => idx::label_sibling(path)?,
            };
            idx::load_pair(path, &lab)
        }
    }

    /// Whether `path` holds its own test part (a CIFAR folder).
    pub fn has_test_part(path: &Path) -> bool {
        path.is_dir()
    }
}

/// Fisher-Yates shuffle with a ChaCha stream (`next_u64 % (i + 1)`; the modulo bias is below
/// 1e-14 for any data-set size), stable across rand versions.
pub fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// The sample order of epoch `epoch` for a run seeded with `seed`: a permutation of
/// `0..n` that depends only on (seed, epoch), so two runs with the same seed see the same
/// batches whatever else differs.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_da7a_0000_0000 ^ (epoch as u64));
    shuffle(&mut idx, &mut rng);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        let d = Dataset::new((0..20).map(|i| i as f32).collect(), (0..10).collect(), 2).unwrap();
        let (tr, te) = d.split(0.2, None).unwrap();
        assert_eq!(te.y, vec![8, 9]);
        assert_eq!(tr.len(), 8);
        let (tr, te) = d.split(0.3, Some(1)).unwrap();
        assert_eq!(te.len(), 3);
        let mut all: Vec<u32> = tr.y.iter().chain(&te.y).copied().collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(d.split(0.3, Some(1)).unwrap().1, te);
        assert_eq!(te.row(0)[0], te.y[0] as f32 * 2.0);
        let a = epoch_order(10, 3, 0);
        assert_eq!(a, epoch_order(10, 3, 0));
        assert_ne!(a, epoch_order(10, 3, 1));
    }

    /// Augmented samples of normalised data pad with what a black pixel became, the row
    /// itself is untouched, and without augmentation a sample is its row.
    #[test]
    fn augmented_samples_pad_with_normalised_black() {
        let x: Vec<f32> = (0..16).map(|v| v as f32 / 16.0).collect();
        let mut d = Dataset::new(x, vec![0, 1], 8)
            .unwrap()
            .with_shape([2, 2, 2])
            .unwrap();
        let mut out = vec![0.0; 8];
        d.sample_into(1, 5, 0, &mut out);
        assert_eq!(out, d.row(1));
        d.normalize(&Normalization::parse("0.5,0.25/0.5,0.125").unwrap())
            .unwrap();
        assert!(d.normalize(&Normalization::cifar10()).is_err());
        d.augment = Some(Augment::parse("crop:1").unwrap());
        let a = d.augment.clone().unwrap();
        // An epoch in which sample 1's crop starts in the padding row (dy = 0).
        let e = (0..100).find(|&e| a.draw(5, e, 1).0 == 0).unwrap();
        let row = d.row(1).to_vec();
        let mut out = vec![0.0; 8];
        d.sample_into(1, 5, e, &mut out);
        // Channel 0 pads with (0 - 0.5) / 0.5, channel 1 with (0 - 0.25) / 0.125.
        assert_eq!(&out[0..2], &[-1.0, -1.0]);
        assert_eq!(&out[4..6], &[-2.0, -2.0]);
        assert_eq!(d.row(1), row.as_slice());
        let mut batch = vec![0.0; 16];
        d.gather_into(&[1, 0], 5, 2, &mut batch);
        let mut one = vec![0.0; 8];
        d.sample_into(0, 5, 2, &mut one);
        assert_eq!(&batch[8..], one.as_slice());
    }

    #[test]
    fn shape_must_match_the_rows() {
        let d = Dataset::new(vec![0.0; 12], vec![0, 1], 6).unwrap();
        assert!(Dataset::new(vec![0.0; 11], vec![0, 1], 6).is_err());
        let e = d.clone().with_shape([2, 2, 2]).unwrap_err().to_string();
        assert!(e.contains("[2, 2, 2]") && e.contains("6"), "{e}");
        let s = d.with_shape([3, 1, 2]).unwrap();
        assert_eq!(s.head(1).shape, Some([3, 1, 2]));
    }
}
