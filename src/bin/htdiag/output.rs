//! Output files of the commands: every path checked before the work starts (an analysis of a
//! large model can take hours; a typo in `--json nodir/r.json` must not cost them), `-`
//! meaning standard output, and one line on stderr saying what was written.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

/// True for the path `-` (standard output).
pub fn is_stdout(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// Checks the file outputs `(flag, path)` and folder outputs before any work: at most one may
/// be `-`; missing parent folders are created; folders that cannot be written are refused
/// with the flag named.
pub fn check(
    files: &[(&str, Option<&Path>)],
    dirs: &[(&str, Option<&Path>)],
) -> anyhow::Result<()> {
    let dashes: Vec<&str> = files
        .iter()
        .filter(|(_, p)| p.is_some_and(is_stdout))
        .map(|(f, _)| *f)
        .collect();
    if dashes.len() > 1 {
        bail!(crate::exit::Usage(format!(
            "{} all write to standard output (-): give files to all but one",
            dashes.join(" and ")
        )));
    }
    for (flag, p) in files {
        if let Some(p) = p.filter(|p| !is_stdout(p)) {
            htdiag::util::prepare_output(p)
                .with_context(|| format!("{flag} {}: cannot write there", p.display()))?;
        }
    }
    for (flag, d) in dirs.iter().filter_map(|(f, d)| d.map(|d| (f, d))) {
        if d.exists() && !d.is_dir() {
            bail!("{flag} {}: exists and is not a folder", d.display());
        }
        // A probe file inside tests the permission (and creates the folder).
        htdiag::util::prepare_output(&d.join(".htdiag-probe"))
            .with_context(|| format!("{flag} {}: cannot write there", d.display()))?;
    }
    Ok(())
}

/// Checks a folder that a command fills with several files (`regularize --out-dir`) before
/// any work: an existing one must be an empty, writable folder, unless `force` (then files of
/// the same names are replaced and other files stay), so that one run's files never mix
/// silently with another's. A missing one is not created here (a run stopped before its
/// results leaves nothing behind): its nearest existing ancestor must be a writable folder.
pub fn fresh_dir(flag: &str, dir: &Path, force: bool) -> anyhow::Result<()> {
    if dir.exists() {
        check(&[], &[(flag, Some(dir))])?;
        if !force && !htdiag::outdir::is_empty_or_missing(dir)? {
            bail!(
                "{flag} {}: the folder is not empty; choose a new or empty folder, or pass \
                 --force to write into it (files of the same names are replaced)",
                dir.display()
            );
        }
        return Ok(());
    }
    let base = dir
        .ancestors()
        .skip(1)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists())
        .unwrap_or(Path::new("."));
    if !base.is_dir() {
        bail!(
            "{flag} {}: {} is not a folder",
            dir.display(),
            base.display()
        );
    }
    htdiag::util::prepare_output(&base.join(".htdiag-probe"))
        .with_context(|| format!("{flag} {}: cannot write there", dir.display()))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically, or to standard output for `-` (a closed pipe, as in
/// `| head`, is not an error).
pub fn emit(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if is_stdout(path) {
        let mut out = std::io::stdout().lock();
        return match out.write_all(bytes).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("writing to standard output"),
        };
    }
    htdiag::util::atomic_write(path, bytes)?;
    Ok(())
}

/// Prints a command's text on standard output, or on stderr when one of `outputs` is `-`
/// (standard output then carries that file).
pub fn show(text: &str, outputs: &[Option<&Path>]) {
    if outputs.iter().any(|p| p.is_some_and(is_stdout)) {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

/// The files a command wrote, announced once at the end (`wrote r.json, r.csv`).
#[derive(Default)]
pub struct Written(Vec<String>);

impl Written {
    /// Records one output (`-` is not announced: its content is on standard output).
    pub fn add(&mut self, what: impl Into<String>) {
        self.0.push(what.into());
    }

    /// Records a file unless it is `-`.
    pub fn file(&mut self, p: &Path) {
        if !is_stdout(p) {
            self.add(p.display().to_string());
        }
    }

    /// Prints `htdiag: wrote ...` on stderr, unless nothing was written or `quiet`.
    pub fn announce(&self, quiet: bool) {
        if !self.0.is_empty() && !quiet {
            eprintln!("htdiag: wrote {}", self.0.join(", "));
        }
    }
}
