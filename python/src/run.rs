//! Runs library work off the GIL, while the calling thread keeps serving Python: it forwards
//! progress to a Python callback and watches for Ctrl-C.
//!
//! The work runs on a scoped thread (which never touches Python). The calling thread waits
//! for its events with the GIL released, so other Python threads run meanwhile; every 50 ms,
//! and after each event, it briefly re-attaches to deliver progress and to run
//! `PyErr_CheckSignals` (signal handlers only run on the main thread, so the workers could not
//! notice Ctrl-C themselves). A raised exception (KeyboardInterrupt, or one from the callback)
//! sets the cancel flag the library polls between layers, and is re-raised once the work has
//! stopped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use htdiag::analyze::Observer;
use htdiag::result::LayerResult;
use pyo3::prelude::*;

use crate::errors::to_py;

/// How often the waiting thread checks for Ctrl-C.
const POLL: Duration = Duration::from_millis(50);

/// What the workers report.
enum Event {
    Started(usize),
    RowDone(String),
}

/// Forwards the library's progress to the waiting thread.
struct Forward(Mutex<Sender<Event>>);

impl Observer for Forward {
    fn started(&self, rows: usize, _cost: f64) {
        let _ = self.send(Event::Started(rows));
    }
    fn row_done(&self, row: &LayerResult, _cost: f64) {
        let name = match row.slice_id {
            Some(s) => format!("{} [slice {s}]", row.name),
            None => row.name.clone(),
        };
        let _ = self.send(Event::RowDone(name));
    }
}

impl Forward {
    fn send(&self, e: Event) -> Result<(), ()> {
        self.0.lock().map_err(|_| ())?.send(e).map_err(|_| ())
    }
}

/// Runs `work` without the GIL. `progress`, when given, is called with the GIL as
/// `progress("start", rows)` and then `progress("row", name)` after each finished row.
pub fn detached<T: Send>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(&dyn Observer, &AtomicBool) -> htdiag::Result<T> + Send,
) -> PyResult<T> {
    let (tx, rx) = channel::<Event>();
    let rx: Mutex<Receiver<Event>> = Mutex::new(rx);
    let cancel = AtomicBool::new(false);
    let mut raised: Option<PyErr> = None;
    let out = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let observer = Forward(Mutex::new(tx));
            work(&observer, &cancel)
            // `observer` (the only sender) drops here: the loop below sees the end.
        });
        loop {
            let next = py.detach(|| match rx.lock() {
                Ok(r) => r.recv_timeout(POLL),
                Err(_) => Err(RecvTimeoutError::Disconnected),
            });
            let step = match next {
                Ok(event) => deliver(progress, event).and_then(|_| py.check_signals()),
                Err(RecvTimeoutError::Timeout) => py.check_signals(),
                Err(RecvTimeoutError::Disconnected) => break,
            };
            if let Err(e) = step
                && raised.is_none()
            {
                cancel.store(true, Ordering::Relaxed);
                raised = Some(e);
            }
        }
        py.detach(|| worker.join())
    });
    if let Some(e) = raised {
        return Err(e);
    }
    match out {
        Ok(r) => r.map_err(|e| to_py(py, e)),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn deliver(progress: Option<&Bound<'_, PyAny>>, event: Event) -> PyResult<()> {
    let Some(cb) = progress else {
        return Ok(());
    };
    match event {
        Event::Started(rows) => cb.call1(("start", rows))?,
        Event::RowDone(name) => cb.call1(("row", name))?,
    };
    Ok(())
}
