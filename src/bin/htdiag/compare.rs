//! `htdiag compare A B`: matches the rows of two saved analyses by tensor name, prints metric
//! pairs and deltas (B - A), and writes them as JSON/CSV and as an HTML page.

use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use htdiag::compare::{CompareOrder, compare, sort_matched, to_csv, to_json, to_text_top};

use crate::output::{self, Written};

/// Examples of `htdiag compare`, shown after its `--help`.
const EXAMPLES: &str = "Examples:
  htdiag compare base.json tuned.json                      (largest alpha changes first)
  htdiag compare base.json tuned.json --top 20 --sort delta
  htdiag compare a.json b.json --csv d.csv --json d.json --report compare.html";

/// Compare two analyses layer by layer (result JSON files of `htdiag analyze --json`).
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Result JSON of model A (the reference).
    pub a: PathBuf,
    /// Result JSON of model B (deltas are B - A).
    pub b: PathBuf,
    /// Write the comparison as JSON here (`-`: standard output).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write the per-layer table as CSV here (`-`: standard output).
    #[arg(long, value_name = "PATH")]
    pub csv: Option<PathBuf>,
    /// Write the HTML compare page here.
    #[arg(long, value_name = "HTML")]
    pub report: Option<PathBuf>,
    /// Row order: delta (largest absolute alpha change first), name (natural order) or
    /// order (A's row order).
    #[arg(long, value_enum, default_value_t = SortArg::Delta)]
    pub sort: SortArg,
    /// Show only the first N matched rows in the terminal (files keep every row).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
}

/// `--sort`.
#[derive(Clone, Copy, ValueEnum)]
pub enum SortArg {
    Delta,
    Name,
    Order,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    output::check(
        &[
            ("--json", args.json.as_deref()),
            ("--csv", args.csv.as_deref()),
            ("--report", args.report.as_deref()),
        ],
        &[],
    )?;
    let a = htdiag::report::load::read_result(&args.a)?;
    let b = htdiag::report::load::read_result(&args.b)?;
    let mut c = compare(&a, &b);
    sort_matched(
        &mut c,
        match args.sort {
            SortArg::Delta => CompareOrder::Delta,
            SortArg::Name => CompareOrder::Name,
            SortArg::Order => CompareOrder::Order,
        },
    );
    let text = to_text_top(&c, args.top);
    output::show(
        &text,
        &[
            args.json.as_deref(),
            args.csv.as_deref(),
            args.report.as_deref(),
        ],
    );
    let mut written = Written::default();
    if let Some(p) = &args.json {
        output::emit(p, to_json(&c).as_bytes()).context("writing the comparison JSON")?;
        written.file(p);
    }
    if let Some(p) = &args.csv {
        output::emit(p, to_csv(&c).as_bytes()).context("writing the comparison CSV")?;
        written.file(p);
    }
    if let Some(p) = &args.report {
        let page = htdiag::report::compare_html::render_compare_html(&a, &b, &c);
        output::emit(p, page.as_bytes()).context("writing the compare page")?;
        written.file(p);
    }
    written.announce(false);
    Ok(())
}
