//! Reading a saved result (`htdiag analyze --json`) back, for `htdiag report` and
//! `htdiag compare`: plots are redrawn from the JSON without touching the checkpoint.

use std::path::Path;

use crate::error::{Error, Result};
use crate::result::{AnalysisResult, RESULT_FORMAT_VERSION};

/// Reads and checks a result JSON file (layout version [`RESULT_FORMAT_VERSION`]).
pub fn read_result(path: &Path) -> Result<AnalysisResult> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let r: AnalysisResult = serde_json::from_slice(&bytes).map_err(|e| Error::Serde {
        path: path.to_path_buf(),
        reason: format!("not an htdiag result: {e}"),
    })?;
    if r.format_version != RESULT_FORMAT_VERSION {
        return Err(Error::Serde {
            path: path.to_path_buf(),
            reason: format!(
                "result format version {} (this htdiag reads version {RESULT_FORMAT_VERSION})",
                r.format_version
            ),
        });
    }
    Ok(r)
}
