//! `htdiag analyze --out DIR [--resume] [--shard K/N]`: the streaming, resumable, shardable
//! code path of `analyze` (the library side is `htdiag::resume` and `htdiag::shard`).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use htdiag::checkpoint::Checkpoint;
use htdiag::resume::analyze_to_dir;
use htdiag::shard::ShardSpec;
use htdiag::spectrum::Lapack;

use crate::analyze::{Args, Progress, resolve, write_outputs};

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub(crate) const INTERRUPTED: u8 = 130;

/// Installs the Ctrl-C handler: the first Ctrl-C sets the returned flag, which asks the run
/// to stop (`what` tells the user how it stops); a second one exits at once (nothing finished
/// is lost either way: every file is written atomically).
pub(crate) fn install_ctrlc(what: &'static str) -> anyhow::Result<Arc<AtomicBool>> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("htdiag: interrupted again; exiting now");
            std::process::exit(INTERRUPTED as i32);
        }
        eprintln!("htdiag: interrupted; {what} (Ctrl-C again to exit at once)");
    })
    .context("installing the Ctrl-C handler")?;
    Ok(cancel)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Some(out) = args.out.clone() else {
        anyhow::bail!("--out DIR is required here");
    };
    let opts = args.options()?;
    let shard = match &args.shard {
        Some(s) => ShardSpec::parse(s)?,
        None => ShardSpec::WHOLE,
    };
    let (path, _demo_dir) = resolve(args.path.as_deref())?;
    let ckpt = Checkpoint::open(&path)?;
    let cancel = install_ctrlc("finishing the layers in flight")?;
    let progress = Progress::new(args.quiet);
    let outcome = analyze_to_dir(
        &ckpt,
        &opts,
        &Lapack::default(),
        &out,
        shard,
        args.resume,
        &progress,
        Some(&cancel),
    );
    progress.finish();
    let run = match outcome {
        Ok(r) => r,
        Err(htdiag::Error::Interrupted) => {
            let done = htdiag::resume::OutDir::open(&out)
                .and_then(|d| Ok((d.finished()?.len(), d.manifest().rows.len())))
                .map(|(d, t)| format!("{d} of {t} layers"))
                .unwrap_or_else(|_| "the finished layers".into());
            eprintln!(
                "htdiag: stopped; {done} saved in {}; continue with the same command and --resume",
                out.display()
            );
            std::process::exit(INTERRUPTED as i32);
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "htdiag: part {}: {} layers done ({} computed now, {} from earlier sessions) in {}",
        shard.label(),
        run.total,
        run.computed,
        run.reused,
        out.display()
    );
    if shard.count > 1 {
        if args.json.is_some() || args.csv.is_some() || args.report.is_some() {
            eprintln!(
                "htdiag: --json/--csv/--report are written by `htdiag merge` for a sharded run"
            );
        }
        return Ok(());
    }
    write_outputs(&run.result, &args)?;
    if !args.quiet {
        let color = std::io::stdout().is_terminal();
        print!("{}", htdiag::report::table::render(&run.result, color));
    }
    Ok(())
}
