//! The long operations running now (a backup, a restore, an automatic run), with how far
//! each has got: `GET /api/progress` lists them, so the page shows a real progress bar
//! while its request is running.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use sitepack_writer::Progress;

/// The operations running now.
#[derive(Default)]
pub(crate) struct Activities {
    next_id: AtomicU64,
    running: Mutex<Vec<Arc<Activity>>>,
}

/// One running operation, advanced by the library it calls (through [`Progress`]).
pub(crate) struct Activity {
    id: u64,
    operation: &'static str,
    entries_total: AtomicU64,
    entries_done: AtomicU64,
    bytes_total: AtomicU64,
    bytes_done: AtomicU64,
    /// How many passes have begun (validate, then write, …).
    passes: AtomicU64,
}

/// What `GET /api/progress` says of one operation.
#[derive(Serialize)]
pub(crate) struct ActivityReport {
    id: u64,
    operation: &'static str,
    pass: u64,
    entries_done: u64,
    entries_total: u64,
    bytes_done: u64,
    bytes_total: u64,
    /// Of the current pass, by bytes (by entries when it has no bytes).
    percent: f64,
}

/// Removes its activity from the running list when the operation ends, however it ends.
pub(crate) struct Running {
    activities: Arc<Activities>,
    pub(crate) activity: Arc<Activity>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.activities
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|a| a.id != self.activity.id);
    }
}

impl Activities {
    pub(crate) fn start(self: &Arc<Self>, operation: &'static str) -> Running {
        let activity = Arc::new(Activity {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            operation,
            entries_total: AtomicU64::new(0),
            entries_done: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
            passes: AtomicU64::new(0),
        });
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&activity));
        Running {
            activities: Arc::clone(self),
            activity,
        }
    }

    pub(crate) fn reports(&self) -> Vec<ActivityReport> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|a| a.report())
            .collect()
    }
}

impl Activity {
    fn report(&self) -> ActivityReport {
        let entries_done = self.entries_done.load(Ordering::Relaxed);
        let entries_total = self.entries_total.load(Ordering::Relaxed);
        let bytes_done = self.bytes_done.load(Ordering::Relaxed);
        let bytes_total = self.bytes_total.load(Ordering::Relaxed);
        let (done, total) = if bytes_total > 0 {
            (bytes_done, bytes_total)
        } else {
            (entries_done, entries_total)
        };
        #[expect(clippy::cast_precision_loss, reason = "a percentage")]
        let percent = if total == 0 {
            0.0
        } else {
            (done.min(total) as f64 * 100.0 / total as f64 * 10.0).round() / 10.0
        };
        ActivityReport {
            id: self.id,
            operation: self.operation,
            pass: self.passes.load(Ordering::Relaxed),
            entries_done,
            entries_total,
            bytes_done,
            bytes_total,
            percent,
        }
    }
}

impl Progress for Activity {
    fn begin(&self, entries: u64, bytes: u64) {
        self.passes.fetch_add(1, Ordering::Relaxed);
        self.entries_total.store(entries, Ordering::Relaxed);
        self.entries_done.store(0, Ordering::Relaxed);
        self.bytes_total.store(bytes, Ordering::Relaxed);
        self.bytes_done.store(0, Ordering::Relaxed);
    }

    fn advance(&self, bytes: u64) {
        self.entries_done.fetch_add(1, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }
}
