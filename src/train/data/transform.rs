//! Per-channel normalisation (torchvision's `Normalize`) and training-time augmentation
//! (torchvision's `RandomCrop(size, padding)` then `RandomHorizontalFlip()`, the standard
//! CIFAR recipe of He et al. 2016, section 4.2).
//!
//! Augmentation is a pure function of `(seed, epoch, index)`: the random draws of sample
//! `index` in epoch `epoch` come from a ChaCha8 stream keyed by the three numbers, so a run
//! is reproducible whatever the batch size, the thread count or the backend, and two runs
//! with one seed see identical images.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::{Error, Result};

/// Per-channel mean and standard deviation: `x = (x - mean_c) / std_c`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Normalization {
    /// Mean of each channel (one value: every channel).
    pub mean: Vec<f32>,
    /// Standard deviation of each channel (same length as `mean`).
    pub std: Vec<f32>,
}

impl Normalization {
    /// CIFAR-10 training set statistics of the [0, 1] pixels, per channel (R, G, B).
    pub fn cifar10() -> Self {
        Normalization {
            mean: vec![0.4914, 0.4822, 0.4465],
            std: vec![0.2470, 0.2435, 0.2616],
        }
    }

    /// ImageNet statistics, as torchvision's pretrained models expect.
    pub fn imagenet() -> Self {
        Normalization {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// Parses `cifar10`, `imagenet`, `MEAN,STD` (one pair for every channel) or
    /// `M1,M2,M3/S1,S2,S3` (per channel).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: String| {
            Error::InvalidArgument(format!(
                "normalisation '{s}': {why} (expected cifar10, imagenet, MEAN,STD or \
                 M1,M2,M3/S1,S2,S3)"
            ))
        };
        match s.to_ascii_lowercase().as_str() {
            "cifar10" => return Ok(Self::cifar10()),
            "imagenet" => return Ok(Self::imagenet()),
            _ => {}
        }
        let nums = |t: &str| -> Result<Vec<f32>> {
            t.split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f32>()
                        .map_err(|_| bad(format!("'{}' is not a number", v.trim())))
                })
                .collect()
        };
        let (mean, std) = match s.split_once('/') {
            Some((m, d)) => (nums(m)?, nums(d)?),
            None => match nums(s)?.as_slice() {
                [m, d] => (vec![*m], vec![*d]),
                v => return Err(bad(format!("{} numbers without '/'", v.len()))),
            },
        };
        if mean.len() != std.len() {
            return Err(bad(format!(
                "{} means and {} standard deviations",
                mean.len(),
                std.len()
            )));
        }
        if let Some(d) = std.iter().find(|d| !(d.is_finite() && **d > 0.0)) {
            return Err(bad(format!("standard deviation {d} is not positive")));
        }
        if mean.iter().any(|m| !m.is_finite()) {
            return Err(bad("a mean is not finite".into()));
        }
        Ok(Normalization { mean, std })
    }

    /// What a zero input (a black pixel, or zero padding) becomes in each channel.
    pub fn zero(&self) -> Vec<f32> {
        self.mean
            .iter()
            .zip(&self.std)
            .map(|(m, d)| -m / d)
            .collect()
    }

    /// Normalises rows of samples of `shape` (`None`: flat) in place.
    pub fn apply(&self, shape: Option<[usize; 3]>, x: &mut [f32]) -> Result<()> {
        let channels = shape.map_or(1, |s| s[0]);
        let plane = shape.map_or(x.len().max(1), |s| s[1] * s[2]);
        if self.mean.len() != 1 && self.mean.len() != channels {
            return Err(Error::InvalidArgument(format!(
                "normalisation with {} channels for samples of {}",
                self.mean.len(),
                match shape {
                    Some(s) => format!("shape {s:?}"),
                    None => "flat features (give per-sample image shapes for per-channel \
                             statistics)"
                        .into(),
                }
            )));
        }
        for (k, chunk) in x.chunks_mut(plane.max(1)).enumerate() {
            let c = if self.mean.len() == 1 {
                0
            } else {
                k % channels
            };
            let (m, d) = (self.mean[c], self.std[c]);
            chunk.iter_mut().for_each(|v| *v = (*v - m) / d);
        }
        Ok(())
    }
}

/// Random crop with zero padding and random horizontal flip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Augment {
    /// Padding on each side before cropping back to the sample size (0: no crop).
    pub crop_padding: usize,
    /// Mirror left-right with probability 1/2.
    pub flip: bool,
}

impl Augment {
    /// Parses a comma list of `crop:P` and `flip`, e.g. `crop:4,flip`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut a = Augment {
            crop_padding: 0,
            flip: false,
        };
        for item in s.split(',').map(str::trim) {
            if item == "flip" {
                a.flip = true;
            } else if let Some(p) = item.strip_prefix("crop:") {
                a.crop_padding = p.parse().map_err(|_| {
                    Error::InvalidArgument(format!("augmentation '{item}': padding not a number"))
                })?;
            } else {
                return Err(Error::InvalidArgument(format!(
                    "augmentation '{item}': expected crop:PADDING or flip (e.g. crop:4,flip)"
                )));
            }
        }
        Ok(a)
    }

    /// The random choices for sample `index` in epoch `epoch`: crop offsets `(dy, dx)` in
    /// `0..=2 * padding` and the flip.
    pub fn draw(&self, seed: u64, epoch: usize, index: usize) -> (usize, usize, bool) {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&(epoch as u64).to_le_bytes());
        key[16..24].copy_from_slice(&(index as u64).to_le_bytes());
        key[24..].copy_from_slice(b"augment\0");
        let mut rng = ChaCha8Rng::from_seed(key);
        let span = 2 * self.crop_padding as u64 + 1;
        let dy = (rng.next_u64() % span) as usize;
        let dx = (rng.next_u64() % span) as usize;
        let flip = self.flip && rng.next_u64() >> 63 == 1;
        (dy, dx, flip)
    }

    /// Writes the augmented copy of `src` (one sample of `[c, h, w]`) into `dst`: the
    /// sample padded by `crop_padding` on each side with `fill[c]` (zeros, or what a zero
    /// pixel became under normalisation, so padding looks like torchvision's padding before
    /// `Normalize`), cropped back to `h x w` at the drawn offset, then mirrored if drawn.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &self,
        [c, h, w]: [usize; 3],
        fill: Option<&[f32]>,
        seed: u64,
        epoch: usize,
        index: usize,
        src: &[f32],
        dst: &mut [f32],
    ) {
        let (dy, dx, flip) = self.draw(seed, epoch, index);
        let p = self.crop_padding;
        for k in 0..c {
            let pad = fill.map_or(0.0, |f| f[k.min(f.len() - 1)]);
            for i in 0..h {
                for j in 0..w {
                    // Output column j shows cropped column (w - 1 - j) when flipped.
                    let cj = if flip { w - 1 - j } else { j };
                    // Position in the padded image, then in the source.
                    let (si, sj) = ((i + dy).wrapping_sub(p), (cj + dx).wrapping_sub(p));
                    dst[(k * h + i) * w + j] = if si < h && sj < w {
                        src[(k * h + si) * w + sj]
                    } else {
                        pad
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_normalisations() {
        assert_eq!(
            Normalization::parse("CIFAR10").unwrap(),
            Normalization::cifar10()
        );
        let n = Normalization::parse("0.1307,0.3081").unwrap();
        assert_eq!(
            (n.mean.as_slice(), n.std.as_slice()),
            (&[0.1307][..], &[0.3081][..])
        );
        let n = Normalization::parse("0.5, 0.4,0.3/0.2,0.25,0.5").unwrap();
        assert_eq!(n.std, vec![0.2, 0.25, 0.5]);
        for bad in ["1,2,3", "0.5/0", "0.5,0.5/1", "a,b", "0.5/-1"] {
            assert!(Normalization::parse(bad).is_err(), "{bad}");
        }
    }

    /// Channel k of a 3x1x2 sample normalised with its own mean and std, checked value by
    /// value; flat data takes one pair only.
    #[test]
    fn normalises_per_channel() {
        let n = Normalization::parse("0.1,0.2,0.3/0.5,0.25,2").unwrap();
        let mut x: Vec<f32> = (0..12).map(|v| v as f32 / 10.0).collect();
        let orig = x.clone();
        n.apply(Some([3, 1, 2]), &mut x).unwrap();
        for (i, (&v, &o)) in x.iter().zip(&orig).enumerate() {
            let c = (i % 6) / 2;
            let want = (o - [0.1, 0.2, 0.3][c]) / [0.5, 0.25, 2.0][c];
            assert!((v - want).abs() < 1e-6, "{i}: {v} vs {want}");
        }
        assert!(n.apply(None, &mut x).is_err());
        assert!(n.apply(Some([1, 2, 6]), &mut x).is_err());
        assert_eq!(n.zero(), vec![-0.2, -0.8, -0.15]);
        let one = Normalization::parse("1,2").unwrap();
        let mut f = vec![3.0f32, 5.0];
        one.apply(None, &mut f).unwrap();
        assert_eq!(f, vec![1.0, 2.0]);
    }

    /// The crop and flip against their definition: pad the image explicitly, take the
    /// window at the drawn offset, mirror it.
    #[test]
    fn crop_and_flip_match_the_definition() {
        let a = Augment::parse("crop:2,flip").unwrap();
        let (c, h, w) = (2, 3, 4);
        let src: Vec<f32> = (0..c * h * w).map(|v| v as f32 + 1.0).collect();
        let fill = [-1.0f32, -2.0];
        let mut flips = [0, 0];
        for index in 0..64 {
            let (dy, dx, flip) = a.draw(7, 3, index);
            flips[flip as usize] += 1;
            assert!(dy <= 4 && dx <= 4);
            let mut dst = vec![0.0; src.len()];
            a.apply([c, h, w], Some(&fill), 7, 3, index, &src, &mut dst);
            let (ph, pw) = (h + 4, w + 4);
            for k in 0..c {
                let mut padded = vec![fill[k]; ph * pw];
                for i in 0..h {
                    for j in 0..w {
                        padded[(i + 2) * pw + j + 2] = src[(k * h + i) * w + j];
                    }
                }
                for i in 0..h {
                    for j in 0..w {
                        let jj = if flip { w - 1 - j } else { j };
                        let want = padded[(i + dy) * pw + jj + dx];
                        assert_eq!(dst[(k * h + i) * w + j], want, "index {index}");
                    }
                }
            }
        }
        // Both flip outcomes occur, and the draws are a function of (seed, epoch, index).
        assert!(flips[0] > 10 && flips[1] > 10, "{flips:?}");
        assert_eq!(a.draw(7, 3, 5), a.draw(7, 3, 5));
        let others = (0..16)
            .filter(|&i| a.draw(7, 4, i) != a.draw(7, 3, i))
            .count();
        assert!(others > 8, "{others}");
        assert!(Augment::parse("crop:x").is_err() && Augment::parse("rotate").is_err());
    }
}
