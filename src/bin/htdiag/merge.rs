//! `htdiag merge DIR...`: combine the `--out` folders of a sharded analysis into one result,
//! identical to a single-machine run apart from timings (see `htdiag::outdir`).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

/// Combine the output folders of `htdiag analyze --shard K/N --out DIR` (all N parts, each
/// finished) into one result: the same JSON (apart from timings) and the same CSV as a
/// single-machine run.
///
/// Example:
///   htdiag merge parts/0 parts/1 parts/2 --json result.json --csv result.csv
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The parts' output folders (any order).
    #[arg(required = true, value_name = "DIR")]
    pub parts: Vec<PathBuf>,
    /// Write the merged result as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the merged result as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the HTML report of the merged result.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Do not print the table.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dirs: Vec<&std::path::Path> = args.parts.iter().map(|p| p.as_path()).collect();
    let result = htdiag::outdir::merge(&dirs).map_err(|e| {
        let unfinished = |d: &&std::path::Path| {
            htdiag::outdir::OutDir::open(d)
                .and_then(|o| o.done_of_planned())
                .is_ok_and(|(done, planned)| done < planned)
        };
        match dirs.iter().copied().find(unfinished) {
            Some(d) => crate::exit::hint(
                e,
                format!(
                    "finish {} by running its `htdiag analyze ... --out` command again with \
                     --resume",
                    d.display()
                ),
            ),
            None => e.into(),
        }
    })?;
    if let Some(p) = &args.json {
        let text = htdiag::report::json::to_json(&result)?;
        htdiag::util::atomic_write(p, text.as_bytes())?;
    }
    if let Some(p) = &args.csv {
        htdiag::util::atomic_write(p, htdiag::report::csv::to_csv(&result).as_bytes())?;
    }
    if let Some(p) = &args.report {
        htdiag::report::html::write_html(&result, p)
            .with_context(|| format!("writing the report {}", p.display()))?;
    }
    if !args.quiet {
        let color = std::io::stdout().is_terminal();
        print!("{}", htdiag::report::table::render(&result, color));
    }
    Ok(())
}
