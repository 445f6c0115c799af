//! Times the spectrum of one LoRA update `dW = s B A` two ways: from the factors (thin QR of
//! B and A^T, SVD of the r x r core: `htdiag::spectrum::low_rank_singular_values`, what
//! `htdiag analyze ADAPTER` does) and densely (form the `out x in` product, then the Gram +
//! `dsyevd` route every other layer takes), and checks that both give the same r largest
//! eigenvalues (README, "LoRA adapters").
//!
//! ```text
//! cargo run --release --example bench_lora -- [--reps N] [--shapes OUTxINxR,...]
//! ```

use std::time::Instant;

use htdiag::matrices::MatrixRef;
use htdiag::spectrum::{Eigensolver, Lapack, low_rank_singular_values, openblas};

/// Deterministic values in [-1, 1) (xorshift64*).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = None;
    let mut t = f64::INFINITY;
    for _ in 0..reps {
        let s = Instant::now();
        let v = f();
        t = t.min(s.elapsed().as_secs_f64());
        out = Some(v);
    }
    (t, out.expect("reps >= 1"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let reps: usize = arg("--reps").map_or(3, |s| s.parse().expect("--reps N"));
    let shapes: Vec<(usize, usize, usize)> = arg("--shapes")
        .unwrap_or_else(|| "1024x1024x16,2048x2048x16,2048x2048x64,2048x5504x64".into())
        .split(',')
        .map(|s| {
            let v: Vec<usize> = s.split('x').map(|x| x.parse().expect("OUTxINxR")).collect();
            (v[0], v[1], v[2])
        })
        .collect();
    openblas::set_num_threads(1);
    println!(
        "| out x in, r | factors (QR + r x r SVD) s | dense (B A, Gram + dsyevd) s | speed-up | max rel. diff of the top r |"
    );
    println!("|---|---|---|---|---|");
    for (out, inp, r) in shapes {
        let (b, a) = (values(out * r, 1), values(r * inp, 2));
        let s = 2.0;
        let (bm, am) = (
            MatrixRef::from_f64(&b, out, r),
            MatrixRef::from_f64(&a, r, inp),
        );
        let (t_low, sv) = best(reps, || {
            low_rank_singular_values(&bm, &am, s).expect("QR/SVD")
        });
        let (t_dense, ev) = best(reps.min(2), || {
            let mut d = vec![0.0; out * inp];
            unsafe {
                blas::dgemm(
                    b'N', b'N', inp as i32, out as i32, r as i32, s, &a, inp as i32, &b, r as i32,
                    0.0, &mut d, inp as i32,
                );
            }
            Lapack::default()
                .eigenvalues(&MatrixRef::from_f64(&d, out, inp))
                .expect("dsyevd")
        });
        let top: Vec<f64> = ev.iter().rev().take(sv.len()).copied().collect();
        let diff = sv
            .iter()
            .zip(&top)
            .map(|(x, y)| ((x * x - y) / y).abs())
            .fold(0.0, f64::max);
        println!(
            "| {out} x {inp}, {r} | {t_low:.4} | {t_dense:.2} | {:.0}x | {diff:.1e} |",
            t_dense / t_low
        );
    }
}
