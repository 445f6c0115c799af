//! `htdiag compare A B`: matches the rows of two saved analyses by tensor name, prints metric
//! pairs and deltas (B - A), and writes them as JSON/CSV and as an HTML page.

use std::path::PathBuf;

use anyhow::Context;
use htdiag::compare::{compare, to_csv, to_json, to_text};
use htdiag::util::atomic_write;

/// Compare two analyses layer by layer (result JSON files of `htdiag analyze --json`).
#[derive(clap::Args)]
pub struct Args {
    /// Result JSON of model A (the reference).
    pub a: PathBuf,
    /// Result JSON of model B (deltas are B - A).
    pub b: PathBuf,
    /// Write the comparison as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write the per-layer table as CSV here.
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// Write the HTML compare page here.
    #[arg(long, value_name = "HTML")]
    pub report: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let a = htdiag::report::load::read_result(&args.a)?;
    let b = htdiag::report::load::read_result(&args.b)?;
    let c = compare(&a, &b);
    print!("{}", to_text(&c));
    if let Some(p) = &args.json {
        atomic_write(p, to_json(&c).as_bytes()).context("writing the comparison JSON")?;
    }
    if let Some(p) = &args.csv {
        atomic_write(p, to_csv(&c).as_bytes()).context("writing the comparison CSV")?;
    }
    if let Some(p) = &args.report {
        htdiag::report::compare_html::write_compare_html(&a, &b, &c, p)
            .context("writing the compare page")?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}
