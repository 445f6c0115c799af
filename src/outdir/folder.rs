//! Reading and writing one output folder: the manifest, the finished rows and the part's
//! session timings (layout in the [module docs](super)).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{LAYERS_DIR, MANIFEST, Manifest, PART_TIMINGS, RowKey};
use crate::error::{Error, Result};
use crate::result::{LayerResult, RunTimings};
use crate::util::atomic_write;

/// File name of a row's result.
pub fn row_file_name(key: RowKey) -> String {
    match key.1 {
        Some(s) => format!("L{:06}-s{s}.json", key.0),
        None => format!("L{:06}.json", key.0),
    }
}

/// An output folder: its manifest and the rows finished so far.
#[derive(Debug)]
pub struct OutDir {
    root: PathBuf,
    manifest: Manifest,
}

impl OutDir {
    /// Opens an existing output folder read-only (for `merge`).
    pub fn open(root: &Path) -> Result<Self> {
        let mpath = root.join(MANIFEST);
        let text = std::fs::read(&mpath).map_err(|e| Error::io(&mpath, e))?;
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| Error::Serde {
            path: mpath.clone(),
            reason: format!("not an htdiag output manifest: {e}"),
        })?;
        Ok(OutDir {
            root: root.to_path_buf(),
            manifest,
        })
    }

    /// Prepares `root` for the run described by `want`: a fresh folder gets the manifest; a
    /// folder with a manifest is continued only with `resume` and only if it matches.
    pub fn prepare(root: &Path, want: Manifest, resume: bool) -> Result<Self> {
        let mpath = root.join(MANIFEST);
        if mpath.exists() {
            if !resume {
                return Err(Error::InvalidArgument(format!(
                    "{} already holds an analysis; resume it, or choose an empty folder",
                    root.display()
                )));
            }
            let found = OutDir::open(root)?;
            if let Some(why) = found.manifest.mismatch(&want) {
                return Err(Error::InvalidArgument(format!(
                    "cannot resume in {}: it holds {why}",
                    root.display()
                )));
            }
            found.clean_temp_files()?;
            return Ok(found);
        }
        if !is_empty_or_missing(root)? {
            return Err(Error::InvalidArgument(format!(
                "{} is not empty and holds no {MANIFEST}; choose an empty or new folder",
                root.display()
            )));
        }
        let layers = root.join(LAYERS_DIR);
        std::fs::create_dir_all(&layers).map_err(|e| Error::io(&layers, e))?;
        write_json(&mpath, &want)?;
        Ok(OutDir {
            root: root.to_path_buf(),
            manifest: want,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes temp files left by a killed run (`.<name>.tmp-<pid>-<n>`).
    fn clean_temp_files(&self) -> Result<()> {
        for dir in [self.root.clone(), self.root.join(LAYERS_DIR)] {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.contains(".tmp-") {
                    let p = e.path();
                    std::fs::remove_file(&p).map_err(|err| Error::io(&p, err))?;
                }
            }
        }
        Ok(())
    }

    /// Writes one finished row (atomically).
    pub fn write_row(&self, row: &LayerResult) -> Result<()> {
        let p = self
            .root
            .join(LAYERS_DIR)
            .join(row_file_name((row.layer_id, row.slice_id)));
        let text = serde_json::to_vec(row).map_err(|e| Error::Serde {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        atomic_write(&p, &text)
    }

    /// The finished rows of this part, in `(layer_id, slice_id)` order. A row file that does
    /// not hold the row its name says is an error (the folder was tampered with).
    pub fn finished(&self) -> Result<Vec<LayerResult>> {
        let owned: BTreeSet<RowKey> = self.manifest.rows.iter().copied().collect();
        let mut rows = Vec::new();
        for key in &owned {
            let p = self.root.join(LAYERS_DIR).join(row_file_name(*key));
            let bytes = match std::fs::read(&p) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&p, e)),
            };
            let row: LayerResult = serde_json::from_slice(&bytes).map_err(|e| Error::Serde {
                path: p.clone(),
                reason: format!("not a layer result: {e}"),
            })?;
            if (row.layer_id, row.slice_id) != *key {
                return Err(Error::Serde {
                    path: p,
                    reason: format!(
                        "holds row ({}, {:?}), not the one its name says",
                        row.layer_id, row.slice_id
                    ),
                });
            }
            rows.push(row);
        }
        Ok(rows)
    }

    /// `(finished, planned)` row counts of this part: it is complete when they are equal.
    pub fn done_of_planned(&self) -> Result<(usize, usize)> {
        Ok((self.finished()?.len(), self.manifest.rows.len()))
    }

    /// Wall time and threads of the sessions that ended so far (`DIR/timings.json`).
    pub fn part_timings(&self) -> Result<RunTimings> {
        let p = self.root.join(PART_TIMINGS);
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Serde {
            path: p,
            reason: e.to_string(),
        })
    }

    /// Adds one session's wall seconds (and its threads) to `DIR/timings.json`; returns the
    /// totals. A missing or unreadable file counts as no earlier session.
    pub fn add_session(&self, wall: f64, threads: usize) -> Result<RunTimings> {
        let before = self.part_timings().unwrap_or_default();
        let total = RunTimings {
            wall: before.wall + wall,
            threads: before.threads.max(threads),
            ..RunTimings::default()
        };
        write_json(&self.root.join(PART_TIMINGS), &total)?;
        Ok(total)
    }
}

/// Writes `value` as pretty JSON, atomically.
fn write_json<T: serde::Serialize>(p: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| Error::Serde {
        path: p.to_path_buf(),
        reason: e.to_string(),
    })?;
    atomic_write(p, &text)
}

/// True when the folder `p` does not exist yet or holds nothing: the only folders a run may
/// fill without mixing its files with others (`analyze --out`; `regularize --out-dir` unless
/// told to write over them). A path that exists but is not a folder is an error.
pub fn is_empty_or_missing(p: &Path) -> Result<bool> {
    match std::fs::read_dir(p) {
        Ok(mut rd) => Ok(rd.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(Error::io(p, e)),
    }
}
