//! `htdiag inspect PATH`: the tensors of a checkpoint, from its headers alone.

use anyhow::Context;
use htdiag::checkpoint::inspect::{InspectRow, inspect};
use std::io::Write;
use std::path::PathBuf;

/// Examples of `htdiag inspect`, shown after its `--help`.
const EXAMPLES: &str = "Examples:
  htdiag inspect model.safetensors
  htdiag inspect llama-7b/                     (a sharded folder with its index)
  htdiag inspect model.safetensors --json | jq '.[] | select(.shape | length == 2) | .name'";

/// List a checkpoint's tensors from its headers alone (instant, whatever the size).
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// A .safetensors, PyTorch (.bin, .pt, .pth, .ckpt) or .gguf file, a shard index
    /// (*.index.json), or a folder of either.
    pub path: PathBuf,
    /// In a nested PyTorch checkpoint, the dict key holding the tensors ('/' for nesting).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Print JSON (an array with one object per tensor) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `htdiag inspect`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ckpt = crate::hints::open_checkpoint(&args.path, args.key.as_deref(), false)?;
    let rows = inspect(&ckpt);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_table(&mut out, &rows, ckpt.files().len())
    };
    match written {
        // `htdiag inspect m | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

/// An aligned table plus a total line.
fn write_table(out: &mut impl Write, rows: &[InspectRow], files: usize) -> std::io::Result<()> {
    let shapes: Vec<String> = rows.iter().map(|r| format!("{:?}", r.shape)).collect();
    let params: Vec<String> = rows.iter().map(|r| r.parameters.to_string()).collect();
    let width =
        |header: &str, cells: &mut dyn Iterator<Item = usize>| cells.fold(header.len(), usize::max);
    let wid = width("id", &mut rows.iter().map(|r| r.layer_id.to_string().len()));
    let wname = width("name", &mut rows.iter().map(|r| r.name.len()));
    let wdt = width("dtype", &mut rows.iter().map(|r| r.dtype.len()));
    let wsh = width("shape", &mut shapes.iter().map(String::len));
    let wpar = width("parameters", &mut params.iter().map(String::len));
    writeln!(
        out,
        "{:>wid$}  {:<wname$}  {:<wdt$}  {:<wsh$}  {:>wpar$}  file",
        "id", "name", "dtype", "shape", "parameters"
    )?;
    for ((r, shape), p) in rows.iter().zip(&shapes).zip(&params) {
        writeln!(
            out,
            "{:>wid$}  {:<wname$}  {:<wdt$}  {:<wsh$}  {:>wpar$}  {}",
            r.layer_id, r.name, r.dtype, shape, p, r.file
        )?;
    }
    let total: u64 = rows.iter().map(|r| r.parameters).sum();
    let bytes: u64 = rows.iter().map(|r| r.bytes).sum();
    writeln!(
        out,
        "{} tensors, {total} parameters, {bytes} bytes in {files} file{}",
        rows.len(),
        if files == 1 { "" } else { "s" }
    )
}
