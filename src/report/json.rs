//! The JSON view: the canonical result itself, losslessly (eigenvalues included), so reports
//! can be drawn and runs merged later without touching the checkpoint.

use std::path::Path;

use crate::error::{Error, Result};
use crate::result::AnalysisResult;

/// Serialises a result as pretty-printed JSON.
pub fn to_json(result: &AnalysisResult) -> Result<String> {
    serde_json::to_string_pretty(result).map_err(|e| Error::Serde {
        path: "<result>".into(),
        reason: e.to_string(),
    })
}

/// Reads a result written by [`to_json`] (e.g. for `htdiag report result.json`).
pub fn read_json(path: &Path) -> Result<AnalysisResult> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Serde {
        path: path.into(),
        reason: format!("not an htdiag result: {e}"),
    })
}
