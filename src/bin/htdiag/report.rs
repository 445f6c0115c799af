//! `htdiag report result.json -o report.html [--png-dir DIR]`: redraws the HTML report and/or
//! the PNG plots from a saved result, without the checkpoint.

use std::path::PathBuf;

use anyhow::Context;
use htdiag::report::order::sort_rows;

use crate::analyze::OrderArg;
use crate::output::{self, Written};

/// Examples of `htdiag report`, shown after its `--help`.
const EXAMPLES: &str = "Examples:
  htdiag report result.json -o report.html
  htdiag report result.json --png-dir plots/
  htdiag report result.json -o report.html --order file    (checkpoint order)";

/// Redraw the report of a saved analysis (the JSON written by `htdiag analyze --json`).
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Result JSON written by `htdiag analyze`.
    pub result: PathBuf,
    /// Write the self-contained HTML report here (`-`: standard output).
    #[arg(short = 'o', long = "output", value_name = "HTML")]
    pub output: Option<PathBuf>,
    /// Write every plot as a PNG file into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub png_dir: Option<PathBuf>,
    /// Row order: natural (`layers.2` before `layers.10`), file (layer_id) or name.
    #[arg(long, value_enum, default_value_t = OrderArg::Natural)]
    pub order: OrderArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.output.is_none() && args.png_dir.is_none() {
        return Err(crate::exit::Usage(
            "nothing to write: give -o REPORT.html and/or --png-dir DIR".into(),
        )
        .into());
    }
    output::check(
        &[("--output", args.output.as_deref())],
        &[("--png-dir", args.png_dir.as_deref())],
    )?;
    let mut result = htdiag::report::load::read_result(&args.result)?;
    sort_rows(&mut result, args.order.into());
    let mut written = Written::default();
    if let Some(path) = &args.output {
        let page = htdiag::report::html::render_html(&result);
        output::emit(path, page.as_bytes())
            .with_context(|| format!("writing the report {}", path.display()))?;
        written.file(path);
    }
    if let Some(dir) = &args.png_dir {
        let files = htdiag::report::png::write_pngs(&result, dir)
            .with_context(|| format!("writing PNGs into {}", dir.display()))?;
        written.add(format!("{} PNG files into {}", files.len(), dir.display()));
    }
    written.announce(false);
    Ok(())
}
