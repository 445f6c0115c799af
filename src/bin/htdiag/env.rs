//! `htdiag env`: what this machine gives htdiag (BLAS kernel and threads, GPU adapters), for
//! bug reports and for diagnosing slow runs.

/// Examples of `htdiag env`, shown after its `--help`.
const EXAMPLES: &str = "Examples:
  htdiag env
  OPENBLAS_CORETYPE=Haswell htdiag env    (check a forced BLAS kernel)";

/// Print the numerical environment htdiag runs in.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
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
        "OpenBLAS threads      : {} (analyze runs one BLAS thread inside each of its \
         --threads workers)",
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
    let adapters = htdiag::gpu::context::list_adapters();
    if adapters.is_empty() {
        println!("GPU adapters (wgpu)   : none (train/regularize use the CPU)");
    }
    for (i, a) in adapters.iter().enumerate() {
        let kind = if htdiag::gpu::context::is_software(a) {
            "software: used only with --device software-gpu"
        } else {
            "hardware: used by --device auto/gpu"
        };
        println!(
            "{:<22}: {} ({:?}, {:?}; {kind})",
            if i == 0 { "GPU adapters (wgpu)" } else { "" },
            a.name,
            a.backend,
            a.device_type
        );
    }
    Ok(())
}

/// Keeps the Vulkan loader's window-system probe quiet: Mesa's drivers try a Wayland
/// connection while wgpu enumerates adapters, and libwayland prints "XDG_RUNTIME_DIR is
/// invalid or not set" (twice) when that variable is missing, on runs that succeed. htdiag
/// never opens a window, so pointing an unset or invalid variable at the temp folder (where
/// no compositor socket exists) only silences the probe.
pub fn quiet_window_system_probe() {
    let valid =
        std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir());
    if !valid {
        // SAFETY: called first thing in `main`, before any thread exists, so no other thread
        // can read the environment concurrently (std::env::set_var's requirement).
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}
