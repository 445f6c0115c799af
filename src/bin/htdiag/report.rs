//! `htdiag report result.json -o report.html [--png-dir DIR]`: redraws the HTML report and/or
//! the PNG plots from a saved result, without the checkpoint.

use std::path::PathBuf;

use anyhow::{Context, bail};

/// Redraw the report of a saved analysis (the JSON written by `htdiag analyze --json`).
#[derive(clap::Args)]
pub struct Args {
    /// Result JSON written by `htdiag analyze`.
    pub result: PathBuf,
    /// Write the self-contained HTML report here.
    #[arg(short = 'o', long = "output", value_name = "HTML")]
    pub output: Option<PathBuf>,
    /// Write every plot as a PNG file into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub png_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.output.is_none() && args.png_dir.is_none() {
        bail!("nothing to write: give -o REPORT.html and/or --png-dir DIR");
    }
    let result = htdiag::report::load::read_result(&args.result)?;
    if let Some(path) = &args.output {
        htdiag::report::html::write_html(&result, path)
            .with_context(|| format!("writing the report {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(dir) = &args.png_dir {
        let files = htdiag::report::png::write_pngs(&result, dir)
            .with_context(|| format!("writing PNGs into {}", dir.display()))?;
        eprintln!("wrote {} PNG files into {}", files.len(), dir.display());
    }
    Ok(())
}
