//! Seconds per training epoch of convolutional networks on the CPU backend (f32, im2col +
//! OpenBLAS sgemm), the protocol of the PyTorch fixtures (tests/data/cnn): MNIST rows
//! 0-7999, batch 64, SGD momentum 0.9, lr 0.05, from PyTorch-default initialisation.
//!
//! Usage: `cargo run --release --example bench_cnn -- [DATA] [EPOCHS] [ARCHS] [DEVICE]`
//! (DEVICE: cpu (default), gpu, software-gpu for the wgpu backend on lavapipe, auto)
//! (defaults: /work/shared/data/mnist10k.safetensors, 2 epochs, `lenet5,vgg-bn:16,M,32,M,64,64,M/128,resnet10-cifar-w16`;
//! ARCHS separated by `;`). Prints one line per architecture: the
//! mean of the epochs after the first (the first includes warm-up), and the test accuracy.

use htdiag::train::net::{Arch, infer_input};
use htdiag::train::{Dataset, DeviceChoice, TrainConfig, open_net_backend, train};

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
        "| architecture | parameters | s/epoch ({device:?}) | test accuracy after {epochs} epochs |"
    );
    println!("|---|---|---|---|");
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
        let h = train(
            b.as_mut(),
            &[],
            tr.len(),
            !te.is_empty(),
            &cfg,
            None,
            &mut |_| {},
        )?;
        let secs: Vec<f64> = h.epochs.iter().map(|e| e.seconds).collect();
        let steady = if secs.len() > 1 {
            &secs[1..]
        } else {
            &secs[..]
        };
        let mean = steady.iter().sum::<f64>() / steady.len() as f64;
        let acc = h
            .epochs
            .last()
            .and_then(|e| e.test)
            .map_or(f64::NAN, |t| t.accuracy);
        println!(
            "| {a} | {} | {mean:.2} | {:.2}% |",
            net.num_params(),
            100.0 * acc
        );
    }
    Ok(())
}
