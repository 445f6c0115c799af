//! `htdiag analyze --out DIR [--resume] [--shard K/N]`: the streaming, resumable, shardable
//! code path of `analyze` (the library side is `htdiag::outdir`; `htdiag::shard` plans the
//! parts).
//! `analyze.rs` calls [`run`] and writes the outputs; nothing here depends on it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use htdiag::analyze::AnalyzeOptions;
use htdiag::checkpoint::Checkpoint;
use htdiag::outdir::analyze_to_dir;
use htdiag::result::AnalysisResult;
use htdiag::shard::ShardSpec;
use htdiag::spectrum::Lapack;

use crate::progress::Progress;

/// Where and how a run writes its folder (`--out`, `--shard`, `--resume`).
pub struct DirRun<'a> {
    /// The output folder.
    pub out: &'a Path,
    /// `--shard K/N`, unparsed.
    pub shard: Option<&'a str>,
    /// `--resume`.
    pub resume: bool,
}

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

/// Runs the analysis into `dir.out`; returns the whole result, or `None` for one part of a
/// sharded run (its result is made by `htdiag merge`).
pub fn run(
    ckpt: &Checkpoint,
    opts: &AnalyzeOptions,
    dir: &DirRun,
    progress: &Progress,
) -> anyhow::Result<Option<AnalysisResult>> {
    let out = dir.out;
    let shard = match dir.shard {
        Some(s) => ShardSpec::parse(s).map_err(|e| crate::exit::Usage(format!("--shard: {e}")))?,
        None => ShardSpec::WHOLE,
    };
    let cancel = install_ctrlc("finishing the layers in flight")?;
    let outcome = analyze_to_dir(
        ckpt,
        opts,
        &Lapack::default(),
        out,
        shard,
        dir.resume,
        progress,
        Some(&cancel),
    );
    progress.finish();
    let run = match outcome {
        Ok(r) => r,
        Err(htdiag::Error::Interrupted) => {
            let done = htdiag::outdir::OutDir::open(out)
                .and_then(|d| d.done_of_planned())
                .map(|(d, t)| format!("{d} of {t} layers"))
                .unwrap_or_else(|_| "the finished layers".into());
            eprintln!(
                "htdiag: stopped; {done} saved in {}; continue with the same command and --resume",
                out.display()
            );
            std::process::exit(INTERRUPTED as i32);
        }
        // The library says "resume it"; the command line resumes with --resume.
        Err(e) if !dir.resume && htdiag::outdir::OutDir::open(out).is_ok() => {
            return Err(crate::exit::hint(e, "pass --resume to continue it"));
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
    Ok((shard.count <= 1).then_some(run.result))
}
