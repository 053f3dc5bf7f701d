//! Progress of long work (writing, verifying, extracting): the libraries report, the
//! command draws.

/// Receives progress while entries are processed (the libraries never print).
pub trait Progress: Sync {
    /// Called before the first entry, with how many entries and bytes will be processed.
    fn begin(&self, entries: u64, bytes: u64);
    /// Called after each entry, with its size.
    fn advance(&self, bytes: u64);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: u64, _: u64) {}
    fn advance(&self, _: u64) {}
}
