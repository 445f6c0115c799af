//! `htdiag train`: trains a network from scratch (an MLP from its sizes, or a named CNN such as
//! `lenet5`, `vgg11-bn`, `resnet18`) or continues a checkpoint, on the CPU or a GPU.

use std::path::PathBuf;

use anyhow::Context;
use htdiag::train::net::{Arch, infer_input};
use htdiag::train::{
    self, Dataset, DeviceChoice, EpochRecord, History, Mlp, Net, Optimizer, Progress, TrainConfig,
};

use crate::data_args::DataArgs;

/// The library's defaults: the flags' defaults are taken from them.
fn defaults() -> TrainConfig {
    TrainConfig::default()
}

/// SGD momentum of the library's default optimizer.
fn default_momentum() -> f32 {
    match defaults().optimizer {
        Optimizer::Sgd { momentum } => momentum,
        Optimizer::Adam { .. } => 0.0,
    }
}

/// Data and hyper-parameter options shared by `train` and `regularize`.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Passes over the training set.
    #[arg(long, default_value_t = defaults().epochs)]
    pub epochs: usize,
    /// Samples per step.
    #[arg(long, default_value_t = defaults().batch_size)]
    pub batch_size: usize,
    /// Learning rate.
    #[arg(long, default_value_t = defaults().lr)]
    pub lr: f32,
    /// Optimizer: sgd (with --momentum) or adam.
    #[arg(long, default_value = "sgd", value_parser = ["sgd", "adam"])]
    pub optimizer: String,
    /// SGD momentum.
    #[arg(long, default_value_t = default_momentum())]
    pub momentum: f32,
    /// Coupled L2 weight decay (added to the gradient), for every run.
    #[arg(long, default_value_t = defaults().weight_decay)]
    pub weight_decay: f32,
    /// Seed of the data order (and of the initialisation with --arch).
    #[arg(long, default_value_t = defaults().seed)]
    pub seed: u64,
    /// Where to compute: auto (hardware GPU if any, else CPU), gpu, software-gpu
    /// (e.g. Mesa lavapipe; slower than cpu), cpu.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Shape C,H,W of one sample for convolutional networks (default: inferred, e.g. 784
    /// features and a 1-channel first convolution: 1,28,28).
    #[arg(long, value_parser = parse_shape)]
    pub input_shape: Option<[usize; 3]>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Parses `C,H,W`.
pub fn parse_shape(s: &str) -> Result<[usize; 3], String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|t| t.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{s}': expected C,H,W, e.g. 1,28,28"))?;
    match v[..] {
        [c, h, w] if c * h * w > 0 => Ok([c, h, w]),
        _ => Err(format!("'{s}': expected three positive sizes C,H,W")),
    }
}

/// The flag that gives the image shape of flat samples the library cannot infer.
const INPUT_SHAPE_HINT: &str = "--input-shape C,H,W";

/// Reads checkpoint `path` as architecture `arch` (see [`Arch`]) for samples of `dim`
/// features; returns the network and a label for messages and metadata.
pub fn load_net(
    arch: &str,
    path: &std::path::Path,
    dim: usize,
    input: Option<[usize; 3]>,
) -> anyhow::Result<(Net, String)> {
    let a: Arch = arch.parse()?;
    let net = a.load(path, dim, input).map_err(|e| {
        let e = anyhow::Error::from(e).context(format!(
            "reading {} as architecture '{arch}'",
            path.display()
        ));
        // The samples are no square image of 1 or 3 channels: the library asks for their
        // shape, which --input-shape gives.
        let unknown_shape =
            input.is_none() && a != Arch::Mlp && infer_input(dim, None, None).is_err();
        if unknown_shape {
            crate::exit::hint(e, INPUT_SHAPE_HINT)
        } else {
            e
        }
    })?;
    Ok((net.clone(), arch_label(&net, arch)))
}

/// `784-300-100-10` for an MLP, the architecture name otherwise.
pub fn arch_label(net: &Net, arch: &str) -> String {
    match net.to_mlp() {
        Ok(m) => m.arch_string(),
        Err(_) => arch.to_string(),
    }
}

/// Writes a network under its tensor names (an MLP exactly as `Mlp::save` writes it).
pub fn save_net(net: &Net, label: &str, path: &std::path::Path) -> anyhow::Result<()> {
    match net.to_mlp() {
        Ok(m) => m.save(path),
        Err(_) => net.save(path, label),
    }
    .with_context(|| format!("writing {}", path.display()))
}

impl CommonArgs {
    /// (train, test) data sets.
    pub fn load_data(&self) -> anyhow::Result<(Dataset, Dataset)> {
        self.data.load()
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
    /// Architecture: an MLP's sizes input-hidden...-classes (e.g. 784-300-100-10), or lenet5,
    /// vgg11-bn (vgg13/16/19, -bn optional), vgg-bn:16,M,32,M,64,64,M[/128], resnet18
    /// (10/34/50/101/152, suffixes -cifar and -wN), a JSON architecture file. With --init:
    /// how to read the checkpoint (mlp, lenet5, vgg, resnet, file; default mlp).
    #[arg(long)]
    pub arch: Option<String>,
    /// Start from this checkpoint instead of a fresh network.
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
        Progress::Epoch(_) | Progress::Start(_) if quiet => {}
        Progress::Epoch(r) => print_line(&bar, format!("{label} {}", epoch_line(r))),
        Progress::Start(e) => print_line(
            &bar,
            format!(
                "{label} epoch   0: start | test loss {:.4} acc {:.2}%",
                e.loss,
                100.0 * e.accuracy
            ),
        ),
    }
}

fn print_line(bar: &indicatif::ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
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

pub fn run(args: Args) -> anyhow::Result<()> {
    let c = &args.common;
    crate::output::check(
        &[("--out", Some(&args.out)), ("--json", args.json.as_deref())],
        &[],
    )?;
    let (tr, te) = c.load_data()?;
    let (net, label) = match (&args.arch, &args.init) {
        (a, Some(p)) => load_net(a.as_deref().unwrap_or("mlp"), p, tr.dim, c.input_shape)?,
        (Some(a), None) if a.starts_with(|ch: char| ch.is_ascii_digit()) => {
            let m = Mlp::init(&Mlp::parse_arch(a)?, c.seed)?;
            (Net::from_mlp(&m), m.arch_string())
        }
        (Some(a), None) => {
            let arch: Arch = a.parse()?;
            let classes = tr.num_classes().max(te.num_classes());
            let input =
                infer_input(tr.dim, None, c.input_shape).map_err(|e| match c.input_shape {
                    None => crate::exit::hint(e, INPUT_SHAPE_HINT),
                    Some(_) => e.into(),
                })?;
            (arch.fresh(input, classes, c.seed)?, a.clone())
        }
        (None, None) => anyhow::bail!("give --arch (fresh model) or --init CHECKPOINT"),
    };
    let cfg = c.config(1.into());
    let n = tr.len();
    let has_test = !te.is_empty();
    let mut backend = train::open_net_backend(
        c.device()?,
        &net,
        tr,
        has_test.then_some(te),
        cfg.optimizer,
        cfg.batch_size,
        c.seed,
    )?;
    if !c.quiet {
        eprintln!(
            "training {label} ({} parameters) on {n} samples with {}",
            net.num_params(),
            backend.name()
        );
    }
    let hist: History = train::train(
        backend.as_mut(),
        &[],
        n,
        has_test,
        &cfg,
        None,
        &mut progress_bar("train", c.quiet),
    )?;
    let mut out = net.clone();
    backend.read_net(&mut out)?;
    save_net(&out, &label, &args.out)?;
    if let Some(j) = &args.json {
        let doc = serde_json::json!({ "config": cfg, "arch": label, "history": hist });
        htdiag::util::atomic_write(j, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    if let Some(last) = hist.epochs.last() {
        println!("{}", epoch_line(last));
    }
    println!("wrote {}", args.out.display());
    Ok(())
}
