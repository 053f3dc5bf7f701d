//! `prune`: a retention policy applied to the backups of one site in a target, group by
//! group (the site and the scope, by default), as restic applies it per host and paths.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::Serialize;
use sitepack_format::{SiteId, Timestamp, error_chain};
use sitepack_site::{Details, Outcome, PruneDetails, record_audit_event};

use crate::backups::Orphan;
use crate::retention::{Candidate, KeepReason, RetentionPolicy, decide};
use crate::{BackupKind, BackupStore, StoreError, StoredBackup, delete_backup, list_backups};

/// What retention groups one site's backups by: each group keeps its own newest backup
/// and its own `keep_*` slots. The site is always part of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBy {
    /// The scope, and whether files are in the backup (a `--no-files` backup does not
    /// stand in for one with files).
    pub scope: bool,
    /// The label.
    pub label: bool,
}

impl Default for GroupBy {
    /// `site,scope`.
    fn default() -> Self {
        Self {
            scope: true,
            label: false,
        }
    }
}

/// `--group-by` is not a comma list of `site`, `scope` and `label`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid --group-by {text:?}: expected a comma list of `site`, `scope` and `label` \
     (the site is always part of the group), e.g. `site,scope` (the default) or `site`"
)]
pub struct ParseGroupByError {
    /// The text given.
    pub text: String,
}

impl FromStr for GroupBy {
    type Err = ParseGroupByError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut group_by = Self {
            scope: false,
            label: false,
        };
        for part in text.split(',') {
            match part.trim() {
                "site" => {}
                "scope" => group_by.scope = true,
                "label" => group_by.label = true,
                _ => {
                    return Err(ParseGroupByError {
                        text: text.to_owned(),
                    });
                }
            }
        }
        Ok(group_by)
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("site")?;
        if self.scope {
            f.write_str(",scope")?;
        }
        if self.label {
            f.write_str(",label")?;
        }
        Ok(())
    }
}

impl Serialize for GroupBy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl GroupBy {
    /// The group `backup` belongs to, as shown to the user: `acme full`,
    /// `acme user:u-7 (no files) label=nightly`.
    #[must_use]
    pub fn group_of(&self, backup: &StoredBackup) -> String {
        let mut group = backup.site.id.to_string();
        if self.scope {
            group.push(' ');
            group.push_str(&backup.scope.to_string());
            if !backup.files {
                group.push_str(" (no files)");
            }
        }
        if self.label {
            group.push_str(" label=");
            group.push_str(backup.label.as_deref().unwrap_or("-"));
        }
        group
    }
}

/// What retention decided for one backup.
#[derive(Debug, Clone, Serialize)]
pub struct PruneDecision {
    /// The group whose rules decided (see [`GroupBy::group_of`]).
    pub group: String,
    /// The backup.
    pub backup: StoredBackup,
    /// Kept (or, in a dry run, would be kept).
    pub keep: bool,
    /// The rules that keep it (empty when it goes).
    pub reasons: Vec<KeepReason>,
    /// Dated after the prune's clock (a wrong clock where it was made): such a backup
    /// counts as the newest of its group, but `keep_within` is measured from the newest
    /// backup that is not in the future.
    pub future_dated: bool,
}

/// How old an orphan (half a backup) must be before `prune` removes it: long enough
/// that no running upload is taken for one. Written `24h`, `90m`, `2d`, `1d12h`, `30s`
/// or `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrphanGrace {
    seconds: u64,
}

impl OrphanGrace {
    /// The grace period in seconds.
    #[must_use]
    pub fn seconds(&self) -> u64 {
        self.seconds
    }
}

impl Default for OrphanGrace {
    /// 24 hours.
    fn default() -> Self {
        Self { seconds: 24 * 3600 }
    }
}

/// `--orphan-grace` is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid --orphan-grace {text:?}: expected a duration such as 24h, 90m, 2d, 1d12h, 30s or 0"
)]
pub struct ParseOrphanGraceError {
    /// The text given.
    pub text: String,
}

impl FromStr for OrphanGrace {
    type Err = ParseOrphanGraceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ParseOrphanGraceError {
            text: text.to_owned(),
        };
        if text == "0" {
            return Ok(Self { seconds: 0 });
        }
        let mut seconds: u64 = 0;
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => return Err(bad()),
            };
            let n: u64 = number.parse().map_err(|_| bad())?;
            number.clear();
            seconds = n
                .checked_mul(unit)
                .and_then(|s| seconds.checked_add(s))
                .ok_or_else(bad)?;
        }
        if !number.is_empty() || text.is_empty() {
            return Err(bad());
        }
        Ok(Self { seconds })
    }
}

impl fmt::Display for OrphanGrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", format_age(self.seconds))
    }
}

impl Serialize for OrphanGrace {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A duration in seconds, as `1d2h3m4s` (largest units first, zero units left out;
/// `0s` for none).
#[must_use]
pub fn format_age(seconds: u64) -> String {
    let mut text = String::new();
    let mut left = seconds;
    for (unit, size) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if left >= size {
            let _ = write!(text, "{}{unit}", left / size);
            left %= size;
        }
    }
    if text.is_empty() {
        text.push_str("0s");
    }
    text
}

/// What `prune` decided for one orphan of the site.
#[derive(Debug, Clone, Serialize)]
pub struct OrphanDecision {
    /// The orphan.
    #[serde(flatten)]
    pub orphan: Orphan,
    /// Its age at the prune's clock, in seconds (`None`: the target gave no time, and it
    /// is kept).
    pub age_seconds: Option<u64>,
    /// Removed (or, in a dry run, would be removed): older than the grace period.
    pub remove: bool,
}

/// What `prune` did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct PruneReport {
    /// What retention decided, group by group, oldest first within a group.
    pub decisions: Vec<PruneDecision>,
    /// The site's orphans, and which were (or would be) removed.
    pub orphans: Vec<OrphanDecision>,
    /// What the listing skipped, each named with why.
    pub problems: Vec<StoreError>,
}

/// A prune as asked, for its audit event ([`record_prune`]).
#[derive(Debug, Clone, Copy)]
pub struct PruneRun<'a> {
    /// The target, described.
    pub target: &'a str,
    /// The site whose backups were pruned.
    pub site: &'a SiteId,
    /// The retention rules.
    pub policy: &'a RetentionPolicy,
    /// How backups were grouped.
    pub group_by: GroupBy,
    /// How old an orphan must be to be removed.
    pub grace: OrphanGrace,
    /// Whether nothing was removed on purpose.
    pub dry_run: bool,
}

/// Records `run` in the audit log of the site directory `site_root` (`prune
/// --site-dir`, a prune run where the site is) as a `prune` event, with what it removed
/// or why it failed. A warning when the log cannot be written.
#[must_use]
pub fn record_prune(
    site_root: &std::path::Path,
    run: &PruneRun<'_>,
    result: Result<&PruneReport, &StoreError>,
) -> Option<String> {
    let mut details = PruneDetails {
        target: Some(run.target.to_owned()),
        site: Some(run.site.to_string()),
        group_by: Some(run.group_by.to_string()),
        policy: serde_json::to_value(run.policy)
            .ok()
            .and_then(|policy| policy.as_object().cloned()),
        orphan_grace: Some(run.grace.to_string()),
        dry_run: Some(run.dry_run),
        ..PruneDetails::default()
    };
    let outcome = match result {
        Ok(report) => {
            let decisions = &report.decisions;
            details.removed = Some(
                decisions
                    .iter()
                    .filter(|d| !d.keep)
                    .map(|d| d.backup.name.clone())
                    .collect(),
            );
            details.kept = Some(decisions.iter().filter(|d| d.keep).count() as u64);
            details.orphans_removed = Some(
                report
                    .orphans
                    .iter()
                    .filter(|d| d.remove)
                    .map(|d| d.orphan.key.clone())
                    .collect(),
            );
            Outcome::Ok
        }
        Err(error) => {
            details.error = Some(error_chain(error));
            Outcome::Failed
        }
    };
    record_audit_event(site_root, outcome, Details::Prune(details))
}

/// Applies `policy` at time `now` to each group of the backups of site `site` in
/// `store`, and removes what it does not keep, and the site's orphans older than `grace`,
/// unless `dry_run`. Decisions come group by group, oldest first within a group. A
/// removal that fails stops the prune with that error (what was removed before it stays
/// removed; the rest is untouched).
pub fn prune(
    store: &dyn BackupStore,
    site: &SiteId,
    policy: &RetentionPolicy,
    group_by: GroupBy,
    grace: OrphanGrace,
    dry_run: bool,
    now: Timestamp,
) -> Result<PruneReport, StoreError> {
    let listing = list_backups(store, Some(site))?;
    let mut groups: BTreeMap<String, Vec<StoredBackup>> = BTreeMap::new();
    for backup in listing.backups {
        // Never another site's backup, whatever the listing returned.
        if backup.site.id == *site {
            groups
                .entry(group_by.group_of(&backup))
                .or_default()
                .push(backup);
        }
    }
    let mut decisions = Vec::new();
    for (group, backups) in groups {
        let candidates: Vec<Candidate> = backups
            .iter()
            .map(|b| Candidate {
                created_at: b.created_at,
                manual: b.kind == BackupKind::Manual,
            })
            .collect();
        decisions.extend(
            decide(&candidates, policy, now)
                .into_iter()
                .zip(backups)
                .map(|(decision, backup)| PruneDecision {
                    group: group.clone(),
                    future_dated: backup.created_at > now,
                    backup,
                    keep: decision.keep,
                    reasons: decision.reasons,
                }),
        );
    }
    let orphans: Vec<OrphanDecision> = listing
        .orphans
        .into_iter()
        .map(|orphan| {
            let age_seconds = orphan.age_at(now);
            OrphanDecision {
                remove: age_seconds.is_some_and(|age| age >= grace.seconds),
                age_seconds,
                orphan,
            }
        })
        .collect();
    if !dry_run {
        for (step, decision) in decisions.iter().filter(|d| !d.keep).enumerate() {
            crate::failpoint::fail_step("delete", step + 1)
                .map_err(|e| StoreError::io("remove", &decision.backup.name, e))?;
            delete_backup(store, &decision.backup)?;
        }
        for decision in orphans.iter().filter(|d| d.remove) {
            remove_orphan(store, &decision.orphan)?;
        }
    }
    Ok(PruneReport {
        decisions,
        orphans,
        problems: listing.problems,
    })
}

/// Removes an orphan, unless its other half has appeared since the listing (an upload
/// that finished after all: then it is a backup, and stays).
fn remove_orphan(store: &dyn BackupStore, orphan: &Orphan) -> Result<(), StoreError> {
    match store.size(&orphan.other_half()) {
        Ok(_) => return Ok(()),
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    store.delete(&orphan.key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LocalStore, NewBackup, store_backup};
    use sitepack_format::{Sha256, SiteIdentity};

    /// One stored backup of a case: site, time, scope, files, label.
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        bool,
        Option<&'static str>,
    );

    /// Stores each row (manual backups) in a fresh directory target.
    fn target_with(rows: &[Row]) -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(&dir.path().join("target"));
        for (index, &(site, time, scope, files, label)) in rows.iter().enumerate() {
            let bytes = format!("archive {index}").into_bytes();
            let archive = dir.path().join(format!("{index}.zip"));
            std::fs::write(&archive, &bytes).unwrap();
            let backup = NewBackup {
                site: SiteIdentity {
                    id: site.parse().unwrap(),
                    name: site.into(),
                    url: format!("https://{site}.example"),
                },
                created_at: time.parse().unwrap(),
                scope: scope.parse().unwrap(),
                files,
                kind: BackupKind::Manual,
                label: label.map(str::to_owned),
                size: bytes.len() as u64,
                sha256: Sha256::of(&bytes),
                encryption: None,
            };
            store_backup(&store, &archive, &backup, false).unwrap();
        }
        (dir, store)
    }

    #[test]
    fn retention_applies_to_each_group_of_one_site_only() {
        const ROWS: &[Row] = &[
            ("acme-shop", "2026-11-01T00:00:00Z", "full", true, None),
            ("acme-shop", "2026-11-02T00:00:00Z", "full", true, None),
            ("acme-shop", "2026-11-03T00:00:00Z", "full", true, None),
            (
                "acme-shop",
                "2026-11-04T00:00:00Z",
                "user:u-ada",
                true,
                None,
            ),
            ("acme-shop", "2026-11-05T00:00:00Z", "full", false, None),
            (
                "acme-shop",
                "2026-11-06T00:00:00Z",
                "module:notes",
                true,
                Some("a"),
            ),
            (
                "acme-shop",
                "2026-11-07T00:00:00Z",
                "module:notes",
                true,
                Some("b"),
            ),
            ("other", "2026-11-08T00:00:00Z", "full", true, None),
            ("other", "2026-11-09T00:00:00Z", "full", true, None),
        ];
        // (group by, the times of acme-shop's backups left after --keep-last 1)
        let table: [(&str, &[&str]); 3] = [
            (
                "site,scope",
                &[
                    "2026-11-03T00:00:00Z",
                    "2026-11-04T00:00:00Z",
                    "2026-11-05T00:00:00Z",
                    "2026-11-07T00:00:00Z",
                ],
            ),
            (
                "site,scope,label",
                &[
                    "2026-11-03T00:00:00Z",
                    "2026-11-04T00:00:00Z",
                    "2026-11-05T00:00:00Z",
                    "2026-11-06T00:00:00Z",
                    "2026-11-07T00:00:00Z",
                ],
            ),
            ("site", &["2026-11-07T00:00:00Z"]),
        ];
        let policy = RetentionPolicy {
            keep_last: Some(1),
            include_manual: true,
            ..RetentionPolicy::default()
        };
        let acme: SiteId = "acme-shop".parse().unwrap();
        let other: SiteId = "other".parse().unwrap();
        for (group_by, left) in table {
            let (_dir, store) = target_with(ROWS);
            let group_by: GroupBy = group_by.parse().unwrap();
            let now = "2026-12-01T00:00:00Z".parse().unwrap();
            let grace = OrphanGrace::default();
            let report = prune(&store, &acme, &policy, group_by, grace, false, now).unwrap();
            assert!(report.decisions.iter().all(|d| d.backup.site.id == acme));
            let after = list_backups(&store, Some(&acme)).unwrap().backups;
            let after: Vec<String> = after.iter().map(|b| b.created_at.to_string()).collect();
            assert_eq!(after, left, "--group-by {group_by}");
            // The other site is untouched.
            assert_eq!(list_backups(&store, Some(&other)).unwrap().backups.len(), 2);
        }
    }

    #[test]
    fn group_by_parses_and_prints_back() {
        let table = [
            ("site,scope", Some("site,scope")),
            ("scope", Some("site,scope")),
            ("site", Some("site")),
            ("site,scope,label", Some("site,scope,label")),
            ("label,site", Some("site,label")),
            ("", None),
            ("host,paths", None),
            ("site,", None),
        ];
        for (text, expected) in table {
            let parsed = text.parse::<GroupBy>().ok().map(|g| g.to_string());
            assert_eq!(parsed.as_deref(), expected, "{text:?}");
        }
        assert_eq!(GroupBy::default().to_string(), "site,scope");
    }
}
