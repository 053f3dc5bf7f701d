//! `prune`: a retention policy applied to the backups of one site in a target, group by
//! group (the site and the scope, by default), as restic applies it per host and paths.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sitepack_format::{SiteId, Timestamp};

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

/// Applies `policy` at time `now` to each group of the backups of site `site` in `store`; removes
/// what it does not keep unless `dry_run`. Decisions come group by group, oldest first
/// within a group. A backup whose removal fails stops the prune with that error (those
/// removed before it stay removed; the rest are untouched).
pub fn prune(
    store: &dyn BackupStore,
    site: &SiteId,
    policy: &RetentionPolicy,
    group_by: GroupBy,
    dry_run: bool,
    now: Timestamp,
) -> Result<Vec<PruneDecision>, StoreError> {
    let (backups, _unreadable) = list_backups(store, Some(site))?;
    let mut groups: BTreeMap<String, Vec<StoredBackup>> = BTreeMap::new();
    for backup in backups {
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
    if !dry_run {
        for (step, decision) in decisions.iter().filter(|d| !d.keep).enumerate() {
            crate::failpoint::fail_step("delete", step + 1)
                .map_err(|e| StoreError::io("remove", &decision.backup.name, e))?;
            delete_backup(store, &decision.backup)?;
        }
    }
    Ok(decisions)
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
            let decisions = prune(&store, &acme, &policy, group_by, false, now).unwrap();
            assert!(decisions.iter().all(|d| d.backup.site.id == acme));
            let (after, _) = list_backups(&store, Some(&acme)).unwrap();
            let after: Vec<String> = after.iter().map(|b| b.created_at.to_string()).collect();
            assert_eq!(after, left, "--group-by {group_by}");
            // The other site is untouched.
            assert_eq!(list_backups(&store, Some(&other)).unwrap().0.len(), 2);
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
