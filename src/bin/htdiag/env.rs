//! `htdiag env`: what this machine gives htdiag (BLAS kernel, threads), for bug reports and
//! for diagnosing slow runs.

/// Print the numerical environment htdiag runs in.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    let core = htdiag::spectrum::openblas::core_name();
    println!("htdiag {}", env!("CARGO_PKG_VERSION"));
    println!(
        "cpu threads available : {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("OpenBLAS kernel       : {core}");
    println!(
        "OpenBLAS threads      : {}",
        htdiag::spectrum::openblas::num_threads()
    );
    if let Ok(v) = std::env::var("OPENBLAS_CORETYPE") {
        println!("OPENBLAS_CORETYPE     : {v}");
    }
    if core.eq_ignore_ascii_case("prescott") {
        println!(
            "note: OpenBLAS fell back to its generic 'Prescott' kernels; on an AVX2/AVX-512 CPU, \
             setting OPENBLAS_CORETYPE=Haswell (or SkylakeX) before starting htdiag is 1.3-3x faster"
        );
    }
    Ok(())
}
