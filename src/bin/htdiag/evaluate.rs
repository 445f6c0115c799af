//! `htdiag evaluate`: loss, accuracy and (optionally) logits of a checkpoint on a data set, in
//! eval mode (batch norm with its running statistics, dropout off).

use std::path::PathBuf;

use anyhow::Context;
use htdiag::train::{self, Dataset, Optimizer, Split};

use crate::train::{load_net, parse_shape};

/// Arguments of `htdiag evaluate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The checkpoint (safetensors, PyTorch tensor names).
    pub checkpoint: PathBuf,
    /// How to read it: mlp, lenet5, vgg, resnet, vgg-bn:16,M,32,M,64,64,M, or a JSON
    /// architecture file.
    #[arg(long, default_value = "mlp")]
    pub arch: String,
    /// Data: a .safetensors file with `x` and `y`, or an MNIST IDX image file.
    #[arg(long)]
    pub data: PathBuf,
    /// IDX labels file.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Evaluate only rows START..END of --data (e.g. 8000..10000).
    #[arg(long)]
    pub rows: Option<String>,
    /// Shape C,H,W of one sample (default: inferred, e.g. 784 -> 1,28,28).
    #[arg(long, value_parser = parse_shape)]
    pub input_shape: Option<[usize; 3]>,
    /// Also report the logits of the first N evaluated rows.
    #[arg(long, default_value_t = 0)]
    pub logits: usize,
    /// Write {"loss", "accuracy", "logits", ...} here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Samples per forward pass.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Where to compute: auto, gpu, software-gpu, cpu.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Parses `START..END`.
fn rows(s: &str, n: usize) -> anyhow::Result<std::ops::Range<usize>> {
    let (a, b) = s
        .split_once("..")
        .with_context(|| format!("--rows '{s}': expected START..END"))?;
    let a: usize = a.trim().parse().with_context(|| format!("--rows '{s}'"))?;
    let b: usize = if b.trim().is_empty() {
        n
    } else {
        b.trim().parse().with_context(|| format!("--rows '{s}'"))?
    };
    anyhow::ensure!(
        a < b && b <= n,
        "--rows {a}..{b} outside the data's {n} rows"
    );
    Ok(a..b)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut data = Dataset::load(&args.data, args.labels.as_deref())?;
    if let Some(r) = &args.rows {
        let r = rows(r, data.len())?;
        data = data.subset(&r.collect::<Vec<_>>());
    }
    anyhow::ensure!(!data.is_empty(), "{}: no samples", args.data.display());
    let (net, label) = load_net(&args.arch, &args.checkpoint, data.dim, args.input_shape)?;
    let n = data.len();
    let mut backend = train::open_net_backend(
        args.device.parse()?,
        &net,
        data.head(1),
        Some(data),
        Optimizer::Sgd { momentum: 0.0 },
        args.batch_size.max(1),
        0,
    )?;
    let e = backend.evaluate(Split::Test)?;
    let logits = if args.logits > 0 {
        let classes = net.classes()?;
        let flat = backend.logits(Split::Test, args.logits)?;
        flat.chunks(classes).map(|r| r.to_vec()).collect()
    } else {
        Vec::new()
    };
    println!(
        "{} ({label}): loss {:.6} accuracy {:.2}% on {n} samples ({})",
        args.checkpoint.display(),
        e.loss,
        100.0 * e.accuracy,
        backend.name()
    );
    for (i, row) in logits.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:.5}")).collect();
        println!("logits[{i}]: {}", cells.join(" "));
    }
    if let Some(j) = &args.json {
        let doc = serde_json::json!({
            "checkpoint": args.checkpoint.display().to_string(),
            "arch": label,
            "samples": n,
            "loss": e.loss,
            "accuracy": e.accuracy,
            "logits": logits,
            "input_shape": net.input,
            "parameters": net.num_params(),
            "backend": backend.name(),
        });
        htdiag::util::atomic_write(j, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    Ok(())
}
