//! The data flags shared by `train` and `regularize` (flattened into their arguments): which
//! files, how to read them, the train/test split, normalisation and augmentation.

use std::path::PathBuf;

use anyhow::Context;
use htdiag::train::Dataset;
use htdiag::train::data::{Augment, LoadOptions, Normalization, Part};

/// Data options.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Training data: a .safetensors file with `x` (samples first: n x features, n x h x w,
    /// or n x c x h x w, see --layout; U8 pixels are divided by 255) and `y` (labels); an
    /// MNIST IDX image file (labels via --labels); or a CIFAR-10 / CIFAR-100 binary folder
    /// (cifar-10-batches-bin/, cifar-100-binary/), whose test batch is the test set.
    #[arg(long)]
    pub data: PathBuf,
    /// IDX labels file (default: the images file's name with images-idx3 -> labels-idx1).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Separate test data (same formats); otherwise a CIFAR folder's test batch, or
    /// --test-fraction of --data held out.
    #[arg(long)]
    pub test_data: Option<PathBuf>,
    /// IDX labels of --test-data.
    #[arg(long)]
    pub test_labels: Option<PathBuf>,
    /// Fraction of --data held out for testing when there is no test set.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed of a random train/test split; without it the last rows are the test set.
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Use only the first N samples of --data (before the split).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Axis order of a rank-4 safetensors `x`: nchw (PyTorch) or nhwc (channels last).
    #[arg(long, default_value = "nchw", value_parser = ["nchw", "nhwc"])]
    pub layout: String,
    /// CIFAR-100 labels: fine (100 classes) or coarse (20 superclasses).
    #[arg(long, default_value = "fine", value_parser = ["fine", "coarse"])]
    pub cifar_labels: String,
    /// Normalise every input per channel, x = (x - mean) / std: cifar10, imagenet, MEAN,STD
    /// (all channels), or M1,M2,M3/S1,S2,S3 (per channel). Applied to train and test data.
    #[arg(long, value_name = "STATS")]
    pub normalize: Option<String>,
    /// Training augmentation, e.g. crop:4,flip (random crop after padding 4, random
    /// horizontal flip), drawn from (--seed, epoch, sample index) only. Image data only.
    #[arg(long, value_name = "LIST")]
    pub augment: Option<String>,
}

impl DataArgs {
    fn options(&self, labels: Option<&PathBuf>) -> anyhow::Result<LoadOptions> {
        Ok(LoadOptions {
            labels: labels.cloned(),
            layout: self.layout.parse()?,
            cifar_labels: self.cifar_labels.parse()?,
        })
    }

    /// (train, test) data sets, normalised, the training set with its augmentation.
    pub fn load(&self) -> anyhow::Result<(Dataset, Dataset)> {
        let opts = self.options(self.labels.as_ref())?;
        let mut all = Dataset::load_with(&self.data, &opts, Part::Train)?;
        if let Some(n) = self.limit {
            all = all.head(n);
        }
        let (mut train, mut test) = match &self.test_data {
            Some(t) => {
                let topts = self.options(self.test_labels.as_ref())?;
                (all, Dataset::load_with(t, &topts, Part::Test)?)
            }
            None if Dataset::has_test_part(&self.data) => {
                (all, Dataset::load_with(&self.data, &opts, Part::Test)?)
            }
            None => all.split(self.test_fraction, self.split_seed)?,
        };
        if let Some(s) = &self.normalize {
            let n = Normalization::parse(s).context("--normalize")?;
            train.normalize(&n).context("--normalize (training data)")?;
            test.normalize(&n).context("--normalize (test data)")?;
        }
        if let Some(s) = &self.augment {
            let a = Augment::parse(s).context("--augment")?;
            if train.shape.is_none() {
                anyhow::bail!(
                    "--augment needs image data (samples with a shape, e.g. n x c x h x w); \
                     {} holds flat features",
                    self.data.display()
                );
            }
            train.augment = Some(a);
        }
        Ok((train, test))
    }
}
