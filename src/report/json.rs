//! The JSON view: the canonical result itself, losslessly (eigenvalues included), so reports
//! can be drawn and runs merged later without touching the checkpoint. Read it back with
//! [`crate::report::load::read_result`].

use crate::error::{Error, Result};
use crate::result::AnalysisResult;

/// Serialises a result as pretty-printed JSON.
pub fn to_json(result: &AnalysisResult) -> Result<String> {
    serde_json::to_string_pretty(result).map_err(|e| Error::Serde {
        path: "<result>".into(),
        reason: e.to_string(),
    })
}
