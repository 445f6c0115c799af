//! Seconds per training epoch of convolutional networks on the CPU backend (f32, im2col +
//! OpenBLAS sgemm), the protocol of the PyTorch fixtures (tests/data/cnn): MNIST rows
//! 0-7999, batch 64, SGD momentum 0.9, lr 0.05, from PyTorch-default initialisation.
//!
//! Usage: `cargo run --release --example bench_cnn -- [DATA] [EPOCHS] [ARCHS] [DEVICE]`
//! (DEVICE: cpu (default), gpu, software-gpu for the wgpu backend on lavapipe, auto)
//! (defaults: /work/shared/data/mnist10k.safetensors, 2 epochs, `lenet5,vgg-bn:16,M,32,M,64,64,M/128,resnet10-cifar-w16`;
//! ARCHS separated by `;`). Prints one line per architecture: wall and process CPU seconds
//! (user + system from /proc/self/stat, so time spent waiting for a core on a shared machine
//! is left out) per epoch, the mean of the epochs after the first (the first includes
//! warm-up), and the test accuracy at the end. Run with `OPENBLAS_NUM_THREADS=1` to compare
//! with PyTorch on one thread.

use htdiag::train::net::{Arch, infer_input};
use htdiag::train::{Dataset, DeviceChoice, Progress, Split, TrainConfig, open_net_backend, train};

/// CPU seconds (user + system) of this process so far, from /proc/self/stat (clock ticks of
/// 1/100 s, Linux).
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let data = args
        .get(1)
        .map_or("/work/shared/data/mnist10k.safetensors", |s| s.as_str());
    let epochs: usize = args.get(2).map_or(Ok(2), |s| s.parse())?;
    let archs = args.get(3).map_or(
        "lenet5;vgg-bn:16,M,32,M,64,64,M/128;resnet10-cifar-w16",
        |s| s.as_str(),
    );
    let device: DeviceChoice = args.get(4).map_or(Ok(DeviceChoice::Cpu), |s| s.parse())?;
    let all = Dataset::load(std::path::Path::new(data), None)?;
    let n = all.len().min(10_000);
    let tr = all.subset(&(0..n.min(8000)).collect::<Vec<_>>());
    let te = all.subset(&(n.min(8000)..n).collect::<Vec<_>>());
    println!(
        "| architecture | parameters | wall s/epoch ({device:?}) | CPU s/epoch | test accuracy after {epochs} epochs |"
    );
    println!("|---|---|---|---|---|");
    for a in archs.split(';') {
        let arch: Arch = a.parse()?;
        let input = infer_input(tr.dim, None, None)?;
        let net = arch.fresh(input, 10, 0)?;
        let cfg = TrainConfig {
            epochs,
            ..TrainConfig::default()
        };
        let mut b = open_net_backend(
            device,
            &net,
            tr.clone(),
            Some(te.clone()),
            cfg.optimizer,
            cfg.batch_size,
            0,
        )?;
        let mut cpu = vec![process_cpu()];
        let h = train(b.as_mut(), &[], tr.len(), false, &cfg, None, &mut |p| {
            if let Progress::Epoch(_) = p {
                cpu.push(process_cpu());
            }
        })?;
        let acc = b.evaluate(Split::Test)?.accuracy;
        let steady = |v: &[f64]| -> f64 {
            let s = if v.len() > 1 { &v[1..] } else { v };
            s.iter().sum::<f64>() / s.len().max(1) as f64
        };
        let wall: Vec<f64> = h.epochs.iter().map(|e| e.seconds).collect();
        let cpus: Vec<f64> = cpu.windows(2).map(|w| w[1] - w[0]).collect();
        println!(
            "| {a} | {} | {:.2} | {:.2} | {:.2}% |",
            net.num_params(),
            steady(&wall),
            steady(&cpus),
            100.0 * acc
        );
    }
    Ok(())
}
