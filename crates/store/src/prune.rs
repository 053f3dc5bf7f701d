//! `prune`: a retention policy applied to the backups of one site in a target.

use serde::Serialize;

use crate::retention::{Candidate, KeepReason, RetentionPolicy, decide};
use crate::{BackupKind, BackupStore, StoreError, StoredBackup, delete_backup, list_backups};

/// What retention decided for one backup.
#[derive(Debug, Clone, Serialize)]
pub struct PruneDecision {
    /// The backup.
    pub backup: StoredBackup,
    /// Kept (or, in a dry run, would be kept).
    pub keep: bool,
    /// The rules that keep it (empty when it goes).
    pub reasons: Vec<KeepReason>,
}

/// Applies `policy` to the backups of site `site_id` in `store`, oldest first; removes
/// what it does not keep unless `dry_run`. A backup whose removal fails stops the prune
/// with that error (those removed before it stay removed; the rest are untouched).
pub fn prune(
    store: &dyn BackupStore,
    site_id: &str,
    policy: &RetentionPolicy,
    dry_run: bool,
) -> Result<Vec<PruneDecision>, StoreError> {
    let (backups, _unreadable) = list_backups(store, Some(site_id))?;
    let candidates: Vec<Candidate> = backups
        .iter()
        .map(|b| Candidate {
            created_at: b.created_at,
            manual: b.kind == BackupKind::Manual,
        })
        .collect();
    let decisions: Vec<PruneDecision> = decide(&candidates, policy)
        .into_iter()
        .zip(backups)
        .map(|(decision, backup)| PruneDecision {
            backup,
            keep: decision.keep,
            reasons: decision.reasons,
        })
        .collect();
    if !dry_run {
        for decision in decisions.iter().filter(|d| !d.keep) {
            delete_backup(store, &decision.backup)?;
        }
    }
    Ok(decisions)
}
