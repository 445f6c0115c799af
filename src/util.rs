//! Small helpers shared by the modules that write files, and the natural (numeric-aware) name
//! order used wherever layer names are shown to people.

use crate::error::{Error, Result};
use std::cmp::Ordering as CmpOrdering;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Symbolic links followed before giving up (Linux's own limit is 40).
const MAX_LINKS: usize = 40;

/// The path a write to `path` lands on: symbolic links in the last component are followed
/// (dangling ones too: writing through a link creates its target), so an atomic write
/// replaces the link's target and keeps the link. Folders along the way need no resolving:
/// the rename goes through them like any other access.
pub fn resolve_target(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p).map_err(|e| Error::io(&p, e))?;
                p = if to.is_absolute() {
                    to
                } else {
                    parent_dir(&p).join(to)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::io(
        path,
        std::io::Error::other("too many levels of symbolic links"),
    ))
}

/// The folder holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// True when writes to `path` must go straight to it rather than through a temp file and a
/// rename: an existing non-regular file (character device, FIFO, socket) or anything under
/// `/dev` or `/proc` (`/dev/stdout` resolves to `/proc/self/fd/1`, which names whatever the
/// shell redirected standard output to; renaming over it would detach it from the stream).
fn write_directly(original: &Path, target: &Path) -> bool {
    let special = |p: &Path| p.starts_with("/dev") || p.starts_with("/proc");
    if special(original) || special(target) {
        return true;
    }
    std::fs::metadata(target).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Checks, before any work, that `path` can be written: symbolic links are followed, missing
/// parent folders are created, an existing folder is refused, and the folder is tested for
/// write permission by creating and removing a temp file (which is what [`atomic_write`]
/// will do). Devices, FIFOs and `/dev/...` paths are accepted as they are.
pub fn prepare_output(path: &Path) -> Result<()> {
    let target = resolve_target(path)?;
    if write_directly(path, &target) {
        return Ok(());
    }
    if target.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::other("is a folder, not a file"),
        ));
    }
    let dir = parent_dir(&target);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (tmp, file) = create_temp(&target)?;
    drop(file);
    std::fs::remove_file(&tmp).map_err(|e| Error::io(&tmp, e))
}

/// Writes `bytes` to `path` atomically: readers see the old file or the whole new one, never a
/// half-written file (a crash or Ctrl-C mid-write leaves at most a hidden temp file).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, |w| w.write_all(bytes))
}

/// Like [`atomic_write`], with the content produced by `write` into a buffered writer (e.g.
/// `serde_json::to_writer(w, &value).map_err(Into::into)`).
///
/// Symbolic links are followed ([`resolve_target`]): the content goes to a temp file in the
/// real target's folder (so the rename cannot cross file systems), is flushed and synced, then
/// renamed over the target, and the link stays a link. On any error the temp file is removed
/// and the target is left untouched. Non-regular targets (`/dev/stdout`, a FIFO, a terminal)
/// cannot be replaced by a rename: they are opened and written directly.
pub fn atomic_write_with<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let target = resolve_target(path)?;
    if write_directly(path, &target) {
        let outcome = (|| {
            let file = OpenOptions::new().append(true).open(path)?;
            let mut w = BufWriter::new(file);
            write(&mut w)?;
            w.flush()
        })();
        return outcome.map_err(|e| Error::io(path, e));
    }
    let (tmp, file) = create_temp(&target)?;
    let outcome = (|| {
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &target)
    })();
    outcome.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Creates a fresh `.<name>.tmp-<pid>-<n>` next to `path`.
fn create_temp(path: &Path) -> Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidArgument(format!("{}: not a file path", path.display())))?;
    let dir = parent_dir(path);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}-{n}", std::process::id()));
        let tmp = dir.join(tmp_name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
}

/// Compares two names in natural order: runs of ASCII digits compare as numbers, so
/// `layers.2` sorts before `layers.10` (plain string order puts `10` first, which is how
/// safetensors headers and Hugging Face shard indexes list tensors). Ties (`01` vs `1`) fall
/// back to plain string order, so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> CmpOrdering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    while let (Some(&c), Some(&d)) = (x.first(), y.first()) {
        if c.is_ascii_digit() && d.is_ascii_digit() {
            let (nx, rx) = split_digits(x);
            let (ny, ry) = split_digits(y);
            let (tx, ty) = (trim_zeros(nx), trim_zeros(ny));
            let ord = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
            if ord != CmpOrdering::Equal {
                return ord;
            }
            (x, y) = (rx, ry);
        } else {
            if c != d {
                return c.cmp(&d);
            }
            (x, y) = (&x[1..], &y[1..]);
        }
    }
    x.len().cmp(&y.len()).then_with(|| a.cmp(b))
}

/// A CSV field with RFC 4180 quoting, only when needed (commas, quotes, line breaks).
pub fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let k = s
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(k)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let k = s.iter().position(|&c| c != b'0').unwrap_or(s.len());
    &s[k..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write_with(&p, |w| w.write_all(b"two")).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let n = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(n, 1);
    }

    #[test]
    fn failed_write_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        atomic_write(&p, b"old").unwrap();
        let err = atomic_write_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("out.txt"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_folder_is_an_error_naming_the_path() {
        let err = atomic_write(Path::new("/nonexistent-dir-htdiag/x.json"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir-htdiag/x.json"));
    }
    #[test]
    fn natural_order_reads_numbers() {
        let mut v = vec![
            "layers.10.w",
            "layers.2.w",
            "layers.1.w",
            "blocks.0",
            "layers.02.w",
            "a",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "a",
                "blocks.0",
                "layers.1.w",
                "layers.02.w",
                "layers.2.w",
                "layers.10.w"
            ]
        );
        assert_eq!(natural_cmp("x9", "x10"), CmpOrdering::Less);
        assert_eq!(natural_cmp("x", "x"), CmpOrdering::Equal);
        assert_eq!(natural_cmp("x", "x0"), CmpOrdering::Less);
    }

    #[cfg(unix)]
    #[test]
    fn writes_through_symlinks_and_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.csv");
        let link = dir.path().join("link.csv");
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink("real.csv", &link).unwrap();
        atomic_write(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A dangling link creates its target.
        let dangling = dir.path().join("d.csv");
        std::os::unix::fs::symlink(dir.path().join("sub/t.csv"), &dangling).unwrap();
        prepare_output(&dangling).unwrap();
        atomic_write(&dangling, b"t").unwrap();
        assert_eq!(std::fs::read(dir.path().join("sub/t.csv")).unwrap(), b"t");
        assert!(
            std::fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn prepare_output_creates_folders_and_refuses_folders() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/r.json");
        prepare_output(&p).unwrap();
        assert!(dir.path().join("a/b").is_dir());
        assert_eq!(
            std::fs::read_dir(dir.path().join("a/b")).unwrap().count(),
            0
        );
        let err = prepare_output(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a folder"), "{err}");
    }
}
