//! `htdiag train`: trains an MLP from scratch (or continues a checkpoint) on the CPU or a GPU.

use std::path::PathBuf;

use anyhow::Context;
use htdiag::train::{
    self, Dataset, DeviceChoice, EpochRecord, History, Mlp, Optimizer, Progress, TrainConfig,
};

/// Data and hyper-parameter options shared by `train` and `regularize`.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// Training data: a .safetensors file with `x` (samples x features; U8 pixels are divided
    /// by 255) and `y` (labels), or an MNIST IDX image file (labels via --labels).
    #[arg(long)]
    pub data: PathBuf,
    /// IDX labels file (default: the images file's name with images-idx3 -> labels-idx1).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Separate test data (same formats); otherwise --test-fraction of --data is held out.
    #[arg(long)]
    pub test_data: Option<PathBuf>,
    /// IDX labels of --test-data.
    #[arg(long)]
    pub test_labels: Option<PathBuf>,
    /// Fraction of --data held out for testing when --test-data is not given.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed of a random train/test split; without it the last rows are the test set.
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Use only the first N samples of --data (before the split).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 15)]
    pub epochs: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f32,
    /// Optimizer: sgd (with --momentum) or adam.
    #[arg(long, default_value = "sgd", value_parser = ["sgd", "adam"])]
    pub optimizer: String,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f32,
    /// Coupled L2 weight decay (added to the gradient), for every run.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// Seed of the data order (and of the initialisation with --arch).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to compute: auto (hardware GPU if any, else CPU), gpu, software-gpu
    /// (e.g. Mesa lavapipe; slower than cpu), cpu.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

impl CommonArgs {
    /// (train, test) data sets.
    pub fn load_data(&self) -> anyhow::Result<(Dataset, Dataset)> {
        let mut all = Dataset::load(&self.data, self.labels.as_deref())?;
        if let Some(n) = self.limit {
            all = all.head(n);
        }
        Ok(match &self.test_data {
            Some(t) => (all, Dataset::load(t, self.test_labels.as_deref())?),
            None => all.split(self.test_fraction, self.split_seed)?,
        })
    }

    /// The optimizer.
    pub fn optimizer(&self) -> Optimizer {
        match self.optimizer.as_str() {
            "adam" => Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            _ => Optimizer::Sgd {
                momentum: self.momentum,
            },
        }
    }

    /// The run configuration (penalty refresh policy given separately).
    pub fn config(&self, refresh: htdiag::train::RefreshPolicy) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            weight_decay: self.weight_decay,
            optimizer: self.optimizer(),
            seed: self.seed,
            refresh,
            ..TrainConfig::default()
        }
    }

    /// The device choice.
    pub fn device(&self) -> anyhow::Result<DeviceChoice> {
        Ok(self.device.parse()?)
    }
}

/// Arguments of `htdiag train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Architecture of a fresh MLP: input-hidden...-classes, e.g. 784-300-100-10.
    #[arg(long, conflicts_with = "init")]
    pub arch: Option<String>,
    /// Start from this MLP checkpoint instead of a fresh one.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Output checkpoint (safetensors, F32, tensor names kept).
    #[arg(long, short, default_value = "model.safetensors")]
    pub out: PathBuf,
    /// Also write the training history (curves, timings) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// A progress bar that shows loss and accuracy after every epoch.
pub fn progress_bar(label: &str, quiet: bool) -> impl FnMut(Progress<'_>) {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    move |p| match p {
        Progress::Step { epoch, step, steps } => {
            if step == 1 {
                bar.set_length(steps as u64);
                bar.set_position(0);
                bar.set_prefix(format!("{label} epoch {epoch}"));
            }
            bar.set_position(step as u64);
        }
        Progress::Epoch(r) => {
            if quiet {
                return;
            }
            let line = format!("{label} {}", epoch_line(r));
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
    }
}

/// One line per epoch.
pub fn epoch_line(r: &EpochRecord) -> String {
    let mut s = format!(
        "epoch {:>3}: train loss {:.4} acc {:.2}%",
        r.epoch,
        r.train_loss,
        100.0 * r.train_accuracy
    );
    if let Some(t) = r.test {
        s += &format!(" | test loss {:.4} acc {:.2}%", t.loss, 100.0 * t.accuracy);
    }
    if let Some(p) = r.penalty_value {
        s += &format!(" | penalty {p:.4}");
    }
    s += &format!(" | {:.2}s", r.seconds);
    s
}

/// Layer shapes (out, in).
pub fn shapes(m: &Mlp) -> Vec<(usize, usize)> {
    m.layers
        .iter()
        .map(|l| (l.as_linear().out_dim, l.as_linear().in_dim))
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let c = &args.common;
    let (tr, te) = c.load_data()?;
    let mut model = match (&args.arch, &args.init) {
        (Some(a), None) => Mlp::init(&Mlp::parse_arch(a)?, c.seed)?,
        (None, Some(p)) => Mlp::load(p)?,
        _ => anyhow::bail!("give --arch (fresh model) or --init CHECKPOINT"),
    };
    let cfg = c.config(1.into());
    let n = tr.len();
    let has_test = !te.is_empty();
    let mut backend = train::open_backend(
        c.device()?,
        &model,
        tr,
        has_test.then_some(te),
        cfg.optimizer,
        cfg.batch_size,
    )?;
    if !c.quiet {
        eprintln!(
            "training {} on {n} samples with {}",
            model.arch_string(),
            backend.name()
        );
    }
    let hist: History = train::train(
        backend.as_mut(),
        &shapes(&model),
        n,
        has_test,
        &cfg,
        None,
        &mut progress_bar("train", c.quiet),
    )?;
    backend.read_model(&mut model)?;
    model
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(j) = &args.json {
        let doc =
            serde_json::json!({ "config": cfg, "arch": model.arch_string(), "history": hist });
        htdiag::util::atomic_write(j, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    if let Some(last) = hist.epochs.last() {
        println!("{}", epoch_line(last));
    }
    println!("wrote {}", args.out.display());
    Ok(())
}
