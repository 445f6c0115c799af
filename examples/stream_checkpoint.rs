//! Resident memory while streaming a checkpoint tensor by tensor, with and without
//! `Checkpoint::release` (madvise DONTNEED) after each tensor.
//!
//! ```text
//! cargo run --release --example stream_checkpoint -- [PATH | --generate MIB]
//! ```
//! Without a path it writes a synthetic checkpoint of MIB mebibytes (default 1024) of f32
//! 4096 x 1024 tensors to a temp folder. Linux only (reads /proc/self/status).

use htdiag::checkpoint::Checkpoint;
use std::path::PathBuf;
use std::time::Instant;

/// RssFile (file-backed resident memory) of this process, in MiB.
fn rss_file_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("RssFile:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Reads every page of every tensor; returns (peak RssFile MiB, seconds, checksum).
fn stream(ckpt: &Checkpoint, release: bool) -> (f64, f64, u64) {
    let t0 = Instant::now();
    let mut peak: f64 = 0.0;
    let mut sum = 0u64;
    for i in 0..ckpt.tensors().len() {
        let bytes = ckpt.tensor_bytes(i).expect("validated at open");
        sum = bytes
            .iter()
            .step_by(512)
            .fold(sum, |s, &b| s.wrapping_add(b as u64));
        peak = peak.max(rss_file_mib());
        if release {
            ckpt.release(i);
        }
    }
    (peak, t0.elapsed().as_secs_f64(), sum)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _keep; // temp folder lives until the end
    let path: PathBuf = match args.first().map(String::as_str) {
        Some("--generate") | None => {
            let mib: usize = args.get(1).map_or(Ok(1024), |s| s.parse())?;
            let dir = tempfile::tempdir()?;
            let p = dir.path().join("synthetic.safetensors");
            let per = 4096 * 1024 * 4; // bytes per tensor: 16 MiB
            let n = (mib << 20).div_ceil(per);
            let data: Vec<u8> = (0..per).map(|i| (i % 251) as u8).collect();
            let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = (0..n)
                .map(|k| {
                    let v = safetensors::tensor::TensorView::new(
                        safetensors::Dtype::F32,
                        vec![4096, 1024],
                        &data,
                    )?;
                    Ok((format!("layer.{k:04}.weight"), v))
                })
                .collect::<Result<_, safetensors::SafeTensorError>>()?;
            safetensors::serialize_to_file(views, None, &p)?;
            eprintln!("wrote {n} tensors, {} MiB, to {}", n * 16, p.display());
            _keep = Some(dir);
            p
        }
        Some(p) => {
            _keep = None;
            PathBuf::from(p)
        }
    };
    let ckpt = Checkpoint::open(&path)?;
    let total: usize = ckpt.tensors().iter().map(|t| t.byte_range.len()).sum();
    println!(
        "{}: {} tensors, {:.0} MiB of tensor data",
        path.display(),
        ckpt.tensors().len(),
        total as f64 / 1048576.0
    );
    for release in [true, false] {
        let (peak, secs, sum) = stream(&ckpt, release);
        println!(
            "release = {release:5}: peak RssFile {peak:8.1} MiB, {secs:6.2} s (checksum {sum})"
        );
        // Start the next pass from a clean slate.
        for i in 0..ckpt.tensors().len() {
            ckpt.release(i);
        }
    }
    Ok(())
}
