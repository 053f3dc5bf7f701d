//! Progress bars on standard error, only when it is a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sitepack_writer::Progress;

/// A byte-and-entry progress bar, or nothing when standard error is not a terminal.
pub(crate) struct Bar {
    shown: Option<ProgressBar>,
    entries_done: AtomicU64,
    entries_total: AtomicU64,
}

impl Bar {
    pub(crate) fn new(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Self {
            shown: bar,
            entries_done: AtomicU64::new(0),
            entries_total: AtomicU64::new(0),
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.shown {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn begin(&self, entries: u64, bytes: u64) {
        if let Some(bar) = &self.shown {
            // A command may run several passes (verify, then write): each starts afresh.
            self.entries_total.store(entries, Ordering::Relaxed);
            self.entries_done.store(0, Ordering::Relaxed);
            bar.set_position(0);
            bar.set_length(bytes);
            bar.set_message(format!("0/{entries} entries"));
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.shown {
            let done = self.entries_done.fetch_add(1, Ordering::Relaxed) + 1;
            let total = self.entries_total.load(Ordering::Relaxed);
            bar.inc(bytes);
            bar.set_message(format!("{done}/{total} entries"));
        }
    }
}
