//! The progress bar of `analyze` (both code paths): cost-weighted, on stderr, invisible when
//! stderr is not a terminal or with `--quiet`.

use std::io::IsTerminal;

use htdiag::analyze::Observer;
use htdiag::result::LayerResult;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A cost-weighted progress bar on stderr; invisible when stderr is not a terminal.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar that draws only on a terminal and not with `quiet`.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress { bar }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Progress units per estimated flop (the bar counts in integers).
const UNIT: f64 = 1e-6;

impl Observer for Progress {
    fn started(&self, _rows: usize, cost: f64) {
        self.bar.set_length((cost * UNIT).ceil() as u64 + 1);
    }
    fn row_done(&self, row: &LayerResult, cost: f64) {
        self.bar.inc((cost * UNIT).ceil() as u64);
        self.bar.set_message(row.name.clone());
    }
}
