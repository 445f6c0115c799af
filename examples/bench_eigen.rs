//! Times the routes to the eigenvalues of `W^T W` (no vectors) on Gaussian f32 matrices, and
//! measures their accuracy against the f64 SVD. This is the benchmark behind the default
//! eigensolver and `Lapack::two_stage_from` (README, "Performance").
//!
//! ```text
//! cargo run --release --example bench_eigen [--features faer] -- [--large] [--reps N] [--threads T] [--max-order K]
//! ```
//! - `--large` adds 11008 x 4096 (LLaMA-7B MLP shape; minutes with the SVD).
//! - `--reps N`: best of N timed runs per route (default 3); the machine is shared, so the
//!   minimum is the least disturbed run. Besides wall time it reports the calling thread's CPU
//!   time, which leaves out time spent waiting for a core (meaningful with `--threads 1`).
//! - `--threads T`: OpenBLAS threads (default 1, as inside the analyze workers).
//! - `--max-order K`: skip shapes whose smaller side exceeds K.
//! - `--shapes NxM,NxM,...`: time these shapes instead of the default list.
//! - `--no-svd`: skip the SVD (then the f64 `syevd` result is the accuracy reference).
//!
//! Routes: LAPACK blocked `dsyrk` + `dsyevd`, `dsyrk` + `dsyevd_2stage` (both through
//! `htdiag::spectrum::Lapack`, which reads the f32 weights and widens them block by block),
//! `dgesdd` with `jobz = 'N'` on an f64 copy, the f32 Gram route (`ssyrk` + `ssyevd`, or
//! `ssyevd_2stage` from order 2048 up) and, with `--features faer`, faer's pure-Rust Gram +
//! self-adjoint eigensolver. Accuracy: relative error of the largest eigenvalue and the worst
//! relative error over the smallest 10% of eigenvalues, against the f64 SVD's `sigma^2`.

use std::time::Instant;

use htdiag::checkpoint::dtype::FloatDtype;
use htdiag::matrices::MatrixRef;
use htdiag::spectrum::{Eigensolver, Lapack, openblas};

/// Standard normal f32 values (xorshift64* + Box-Muller; deterministic, no dependencies).
fn gaussian(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let (u, v) = (next(), next());
        let r = (-2.0 * u.ln()).sqrt();
        let t = std::f64::consts::TAU * v;
        out.push((r * t.cos()) as f32);
        if out.len() < n {
            out.push((r * t.sin()) as f32);
        }
    }
    out
}

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU seconds used by the calling thread (Linux `CLOCK_THREAD_CPUTIME_ID`). With
/// single-threaded BLAS every route runs on this thread, so this is the route's cost with the
/// time it spent waiting for a core (other jobs on the shared machine) left out.
fn thread_cpu() -> f64 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec (two 64-bit fields on x86_64/aarch64 Linux)
    // into the pointer; clock id 3 is CLOCK_THREAD_CPUTIME_ID.
    unsafe { clock_gettime(3, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Best wall time and best thread CPU time of `reps` runs, and the last result.
fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> ((f64, f64), T) {
    let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
    let mut out = None;
    for _ in 0..reps.max(1) {
        let (t, c) = (Instant::now(), thread_cpu());
        let r = f();
        cpu = cpu.min(thread_cpu() - c);
        wall = wall.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    ((wall, cpu), out.expect("at least one run"))
}

/// Squared singular values of the row-major `rows x cols` matrix `w`, ascending (`dgesdd`,
/// `jobz = 'N'`, on an f64 copy: LAPACK overwrites its input).
fn svd_eigenvalues(w: &[f32], rows: usize, cols: usize) -> Vec<f64> {
    // Row-major rows x cols is column-major cols x rows: same singular values.
    let mut a: Vec<f64> = w.iter().map(|&x| x as f64).collect();
    let (m, n) = (cols as i32, rows as i32);
    let k = rows.min(cols);
    let mut s = vec![0.0; k];
    let mut work = [0.0f64];
    let mut iwork = vec![0i32; 8 * k];
    let mut info = 0;
    let (mut u, mut vt) = ([0.0f64; 1], [0.0f64; 1]);
    unsafe {
        lapack::dgesdd(
            b'N', m, n, &mut a, m, &mut s, &mut u, 1, &mut vt, 1, &mut work, -1, &mut iwork,
            &mut info,
        );
    }
    assert_eq!(info, 0, "dgesdd workspace query");
    let mut work = vec![0.0; work[0] as usize];
    let lwork = work.len() as i32;
    unsafe {
        lapack::dgesdd(
            b'N', m, n, &mut a, m, &mut s, &mut u, 1, &mut vt, 1, &mut work, lwork, &mut iwork,
            &mut info,
        );
    }
    assert_eq!(info, 0, "dgesdd");
    let mut ev: Vec<f64> = s.iter().map(|x| x * x).collect();
    ev.sort_by(f64::total_cmp);
    ev
}

/// The f32 Gram route: `ssyrk` straight on the f32 weights, then `ssyevd` (two-stage from
/// `two_stage_from` up). Eigenvalues ascending, widened to f64.
fn f32_gram_eigenvalues(w: &[f32], rows: usize, cols: usize, two_stage_from: usize) -> Vec<f64> {
    // Row-major rows x cols = column-major A (cols x rows, lda = cols).
    let k = rows.min(cols);
    let mut g = vec![0.0f32; k * k];
    let (trans, kk) = if cols <= rows {
        (b'N', rows) // G = A A^T (cols x cols)
    } else {
        (b'T', cols) // G = A^T A (rows x rows)
    };
    unsafe {
        blas::ssyrk(
            b'U',
            trans,
            k as i32,
            kk as i32,
            1.0,
            w,
            cols as i32,
            0.0,
            &mut g,
            k as i32,
        );
    }
    let n = k as i32;
    let mut ev = vec![0.0f32; k];
    let (mut work, mut iwork, mut info) = ([0.0f32], [0i32], 0);
    let two = two_stage_from > 0 && k >= two_stage_from;
    let call = |g: &mut [f32],
                ev: &mut [f32],
                work: &mut [f32],
                lw: i32,
                iwork: &mut [i32],
                liw: i32,
                info: &mut i32| unsafe {
        if two {
            lapack::ssyevd_2stage(b'N', b'U', n, g, n, ev, work, lw, iwork, liw, info);
        } else {
            lapack::ssyevd(b'N', b'U', n, g, n, ev, work, lw, iwork, liw, info);
        }
    };
    call(&mut g, &mut ev, &mut work, -1, &mut iwork, -1, &mut info);
    assert_eq!(info, 0, "ssyevd workspace query");
    let mut wk = vec![0.0f32; work[0] as usize];
    let mut iwk = vec![0i32; iwork[0].max(1) as usize];
    let (lw, liw) = (wk.len() as i32, iwk.len() as i32);
    call(&mut g, &mut ev, &mut wk, lw, &mut iwk, liw, &mut info);
    assert_eq!(info, 0, "ssyevd");
    ev.iter().map(|&x| (x as f64).max(0.0)).collect()
}

/// (relative error of the largest eigenvalue, worst relative error over the smallest 10%).
fn accuracy(got: &[f64], reference: &[f64]) -> (f64, f64) {
    let n = reference.len();
    let top = (got[n - 1] - reference[n - 1]).abs() / reference[n - 1];
    let low = (0..(n / 10).max(1))
        .map(|i| (got[i] - reference[i]).abs() / reference[i].max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max);
    (top, low)
}

struct Opts {
    large: bool,
    reps: usize,
    threads: usize,
    max_order: usize,
    svd: bool,
    shapes: Option<Vec<(usize, usize)>>,
}

fn num(it: &mut impl Iterator<Item = String>, name: &str) -> usize {
    it.next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} needs a number"))
}

fn parse() -> Opts {
    let mut o = Opts {
        large: false,
        reps: 3,
        threads: 1,
        max_order: usize::MAX,
        svd: true,
        shapes: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--large" => o.large = true,
            "--no-svd" => o.svd = false,
            "--shapes" => {
                let list = it.next().expect("--shapes needs NxM,NxM,...");
                let parse_one = |t: &str| -> Option<(usize, usize)> {
                    let (n, m) = t.split_once('x')?;
                    Some((n.trim().parse().ok()?, m.trim().parse().ok()?))
                };
                o.shapes = Some(
                    list.split(',')
                        .map(|t| parse_one(t).unwrap_or_else(|| panic!("bad shape {t}")))
                        .collect(),
                );
            }
            "--reps" => o.reps = num(&mut it, "--reps"),
            "--threads" => o.threads = num(&mut it, "--threads"),
            "--max-order" => o.max_order = num(&mut it, "--max-order"),
            other => panic!("unknown argument {other} (see the doc comment of bench_eigen.rs)"),
        }
    }
    o
}

fn main() {
    let o = parse();
    openblas::set_num_threads(o.threads);
    println!(
        "OpenBLAS kernel {}, {} thread(s); best of {} run(s); OPENBLAS_CORETYPE={}",
        openblas::core_name(),
        openblas::num_threads(),
        o.reps,
        std::env::var("OPENBLAS_CORETYPE").unwrap_or_else(|_| "(unset)".into())
    );
    let mut shapes = o
        .shapes
        .clone()
        .unwrap_or_else(|| vec![(768, 768), (3072, 768), (2048, 2048), (4096, 4096)]);
    if o.large {
        shapes.push((11008, 4096));
    }
    println!(
        "{:>12} {:<28} {:>9} {:>9} {:>10} {:>11}",
        "W (N x M)", "route", "wall s", "cpu s", "err(max)", "err(low10%)"
    );
    for (rows, cols) in shapes {
        if rows.min(cols) > o.max_order {
            continue;
        }
        let w = gaussian(rows * cols, (rows * 31 + cols) as u64);
        let bytes: &[u8] = bytemuck::cast_slice(&w);
        let m = MatrixRef::dense(bytes, FloatDtype::F32, rows, cols);
        let shape = format!("{rows}x{cols}");

        let mut rows_out: Vec<(String, (f64, f64), Vec<f64>)> = Vec::new();
        let (t, ev) = best_of(o.reps, || {
            Lapack { two_stage_from: 0 }
                .eigenvalues(&m)
                .expect("dsyevd")
        });
        rows_out.push(("f64 syrk + syevd".into(), t, ev));
        let (t, ev) = best_of(o.reps, || {
            Lapack { two_stage_from: 1 }
                .eigenvalues(&m)
                .expect("dsyevd_2stage")
        });
        rows_out.push(("f64 syrk + syevd_2stage".into(), t, ev));
        let (t, ev) = best_of(o.reps, || f32_gram_eigenvalues(&w, rows, cols, 0));
        rows_out.push(("f32 ssyrk + ssyevd".into(), t, ev));
        let (t, ev) = best_of(o.reps, || f32_gram_eigenvalues(&w, rows, cols, 1));
        rows_out.push(("f32 ssyrk + ssyevd_2stage".into(), t, ev));
        #[cfg(feature = "faer")]
        {
            let (t, ev) = best_of(o.reps, || {
                htdiag::spectrum::Faer.eigenvalues(&m).expect("faer evd")
            });
            rows_out.push(("faer Gram + evd (pure Rust)".into(), t, ev));
        }
        let reference = if o.svd {
            let (t, ev) = best_of(o.reps.min(2), || svd_eigenvalues(&w, rows, cols));
            rows_out.push(("f64 dgesdd (SVD)".into(), t, ev.clone()));
            ev
        } else {
            rows_out[0].2.clone()
        };
        for (name, (wall, cpu), ev) in &rows_out {
            let (top, low) = accuracy(ev, &reference);
            println!("{shape:>12} {name:<28} {wall:>9.3} {cpu:>9.3} {top:>10.1e} {low:>11.1e}");
        }
    }
}
