//! `check TARGET`: are the stored backups still what their sidecars say? Metadata only by
//! default (every backup has its sidecar, its object is as long as recorded, its end
//! records, central directory, manifest and checksums read by byte ranges and agree with
//! the sidecar), or reading data: every backup, or a stable group of them (`N/M`, by a
//! hash of the name, so that groups 1..M cover every backup once), or a seeded random
//! share (`P%`), each downloaded, checked against its sidecar's digest, decrypted when
//! encrypted and validated fully.

use std::fmt;

use serde::Serialize;
use sitepack_crypt::Identities;
use sitepack_format::{Limits, Sha256, SiteId, Timestamp, error_chain};
use sitepack_reader::Severity;

use crate::prune::OrphanGrace;
use crate::{BackupStore, OrphanKind, StoreError, StoredBackup, list_backups, preview_stored};

/// Which backups `check` reads fully.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReadData {
    /// None: metadata only.
    None,
    /// Every backup (`--read-data`).
    All,
    /// Group `n` of `m` (1-based; `--read-data-subset N/M`): a backup is in group
    /// `1 + (first 8 bytes of SHA-256(name) as a big-endian number) mod m`.
    Group {
        /// The group read.
        n: u64,
        /// How many groups.
        m: u64,
    },
    /// A random share (`--read-data-subset P%`): the `ceil(P% × count)` backups whose
    /// SHA-256(seed as 8 little-endian bytes, then the name) is smallest.
    Percent {
        /// The share, in percent (0 < P ≤ 100).
        percent: f64,
        /// The seed (reported, so that a run can be repeated).
        seed: u64,
    },
}

/// A `--read-data-subset` that is neither `N/M` nor `P%`.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{text:?} is no subset: write N/M (group N of M, 1 ≤ N ≤ M, e.g. 1/7) or P% (a random share, 0 < P ≤ 100, e.g. 10%)"
)]
pub struct ParseSubsetError {
    text: String,
}

impl ReadData {
    /// Parses `--read-data-subset`'s `N/M` or `P%`; a `P%` takes `seed`.
    pub fn subset(text: &str, seed: u64) -> Result<Self, ParseSubsetError> {
        let bad = || ParseSubsetError {
            text: text.to_owned(),
        };
        if let Some(percent) = text.strip_suffix('%') {
            let percent: f64 = percent.trim().parse().map_err(|_| bad())?;
            if !(percent > 0.0 && percent <= 100.0) {
                return Err(bad());
            }
            return Ok(Self::Percent { percent, seed });
        }
        let (n, m) = text.split_once('/').ok_or_else(bad)?;
        let (n, m): (u64, u64) = (
            n.trim().parse().map_err(|_| bad())?,
            m.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || m == 0 || n > m {
            return Err(bad());
        }
        Ok(Self::Group { n, m })
    }

    /// Which of `names` are read fully, in their order.
    fn selects(self, names: &[&str]) -> Vec<bool> {
        match self {
            Self::None => vec![false; names.len()],
            Self::All => vec![true; names.len()],
            Self::Group { n, m } => names.iter().map(|name| group_of(name, m) == n).collect(),
            Self::Percent { percent, seed } => {
                let mut ranked: Vec<(Sha256, usize)> = names
                    .iter()
                    .enumerate()
                    .map(|(index, name)| {
                        let mut keyed = seed.to_le_bytes().to_vec();
                        keyed.extend_from_slice(name.as_bytes());
                        (Sha256::of(&keyed), index)
                    })
                    .collect();
                ranked.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let count = ((names.len() as f64) * percent / 100.0).ceil() as usize;
                let mut chosen = vec![false; names.len()];
                for (_, index) in ranked.into_iter().take(count) {
                    chosen[index] = true;
                }
                chosen
            }
        }
    }
}

impl fmt::Display for ReadData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("metadata only"),
            Self::All => f.write_str("every backup read"),
            Self::Group { n, m } => write!(f, "group {n}/{m} read"),
            Self::Percent { percent, seed } => write!(f, "{percent}% read (seed {seed})"),
        }
    }
}

/// The group (1..=m) of a backup name: stable across runs, machines and versions.
#[must_use]
pub fn group_of(name: &str, m: u64) -> u64 {
    let digest = Sha256::of(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_be_bytes(first) % m + 1
}

/// How to run [`check_target`].
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Only this site's backups.
    pub site: Option<SiteId>,
    /// Which backups are read fully.
    pub read_data: ReadData,
    /// The identities an encrypted backup read fully is decrypted with.
    pub identities: Identities,
    /// The limits of a full validation.
    pub limits: Limits,
    /// A half backup younger than this may be an upload still running: reported, not
    /// counted as damage.
    pub orphan_grace: OrphanGrace,
    /// Now (the orphans' ages).
    pub now: Timestamp,
}

/// What `check` found, backup by backup.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The target, as it describes itself.
    pub target: String,
    /// What was read: `metadata only`, `every backup read`, `group N/M read`,
    /// `P% read (seed S)`.
    pub read_data: String,
    /// The seed of a `P%` subset.
    pub seed: Option<u64>,
    /// Every checked backup was sound and nothing is missing.
    pub sound: bool,
    /// Each backup.
    pub backups: Vec<BackupCheck>,
    /// Pieces without their other half (and sidecars that cannot be read).
    pub missing: Vec<MissingPiece>,
    /// Counts.
    pub summary: CheckSummary,
}

/// Counts of a [`CheckReport`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckSummary {
    /// Backups checked.
    pub backups: u64,
    /// Of them, read fully.
    pub data_read: u64,
    /// Backups damaged.
    pub damaged: u64,
    /// Backups that could not be checked (no identity for an encrypted one, I/O).
    pub errors: u64,
    /// Missing pieces counted as damage.
    pub missing: u64,
    /// Bytes of backups fetched from the target (byte ranges, downloads).
    pub bytes_fetched: u64,
}

/// The verdict on one backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It is what its sidecar says.
    Sound,
    /// It is not: see its problems.
    Damaged,
    /// It could not be checked (see its problems): not a verdict.
    Error,
}

/// One backup checked.
#[derive(Debug, Clone, Serialize)]
pub struct BackupCheck {
    /// Its name in the target.
    pub name: String,
    /// Whether it is encrypted.
    pub encrypted: bool,
    /// Whether it was read fully (else its metadata only).
    pub data_read: bool,
    /// The verdict.
    pub verdict: Verdict,
    /// What is wrong, each said in full.
    pub problems: Vec<String>,
}

/// A backup's piece without its other half, or a sidecar that cannot be read.
#[derive(Debug, Clone, Serialize)]
pub struct MissingPiece {
    /// The object's key.
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// Whether it counts as damage (an orphan younger than the grace may be an upload
    /// still running).
    pub damage: bool,
}

impl CheckReport {
    /// Exit status: 0 everything checked is sound, 1 damage or a missing piece, 2 a
    /// backup could not be checked (and nothing was damaged).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        if self.summary.damaged > 0 || self.summary.missing > 0 {
            1
        } else if self.summary.errors > 0 {
            2
        } else {
            0
        }
    }

    /// One line per damaged backup or missing piece: what `--on-failure` and the audit
    /// log are told.
    #[must_use]
    pub fn failures(&self) -> Vec<String> {
        let backups = self
            .backups
            .iter()
            .filter(|b| b.verdict != Verdict::Sound)
            .map(|b| format!("{}: {}", b.name, b.problems.join("; ")));
        let missing = self
            .missing
            .iter()
            .filter(|m| m.damage)
            .map(|m| format!("{}: {}", m.key, m.problem));
        backups.chain(missing).collect()
    }
}

/// Checks the backups of `store` as `options` say. Fails only when the target cannot be
/// listed; every backup's problem is in the report.
pub fn check_target(
    store: &dyn BackupStore,
    options: &CheckOptions,
) -> Result<CheckReport, StoreError> {
    let listing = list_backups(store, options.site.as_ref())?;
    let names: Vec<&str> = listing.backups.iter().map(|b| b.name.as_str()).collect();
    let read = options.read_data.selects(&names);
    let mut report = CheckReport {
        target: store.describe(),
        read_data: options.read_data.to_string(),
        seed: match options.read_data {
            ReadData::Percent { seed, .. } => Some(seed),
            _ => None,
        },
        sound: true,
        backups: Vec::new(),
        missing: Vec::new(),
        summary: CheckSummary::default(),
    };
    for (backup, read) in listing.backups.iter().zip(read) {
        let check = if read {
            check_data(store, backup, options)
        } else {
            check_metadata(store, backup)
        };
        report.summary.backups += 1;
        report.summary.data_read += u64::from(read);
        match check.verdict {
            Verdict::Sound => {}
            Verdict::Damaged => report.summary.damaged += 1,
            Verdict::Error => report.summary.errors += 1,
        }
        report.backups.push(check);
    }
    for orphan in &listing.orphans {
        let age = orphan.age_at(options.now);
        let damage = age.is_none_or(|age| age >= options.orphan_grace.seconds());
        let half = match orphan.kind {
            OrphanKind::ArchiveWithoutSidecar => "its sidecar",
            OrphanKind::SidecarWithoutArchive => "its archive",
        };
        let mut problem = format!("{half} {} is missing", orphan.other_half());
        if !damage {
            problem.push_str(" (younger than the orphan grace: perhaps an upload still running)");
        }
        report.summary.missing += u64::from(damage);
        report.missing.push(MissingPiece {
            key: orphan.key.clone(),
            problem,
            damage,
        });
    }
    for problem in &listing.problems {
        report.summary.missing += 1;
        report.missing.push(MissingPiece {
            key: problem_key(problem),
            problem: error_chain(problem),
            damage: true,
        });
    }
    report.summary.bytes_fetched = store.bytes_fetched();
    report.sound = report.exit_code() == 0;
    Ok(report)
}

fn problem_key(problem: &StoreError) -> String {
    match problem {
        StoreError::BadSidecar { name, .. } | StoreError::UnreadableSidecar { name, .. } => {
            name.clone()
        }
        StoreError::Skipped { key, .. } => key.clone(),
        _ => String::new(),
    }
}

fn verdict_of(problems: &[String], error: bool) -> Verdict {
    if error {
        Verdict::Error
    } else if problems.is_empty() {
        Verdict::Sound
    } else {
        Verdict::Damaged
    }
}

/// The backup's error findings, each with its code and entry.
fn error_findings(findings: &[sitepack_reader::Finding]) -> impl Iterator<Item = String> + '_ {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| {
            format!(
                "{} {}: {}",
                f.code,
                f.path.as_deref().unwrap_or("(archive)"),
                f.message
            )
        })
}

/// Whether the manifest says what the sidecar says (site, time, scope, files).
fn disagreements(
    backup: &StoredBackup,
    site: &SiteId,
    created_at: Timestamp,
    scope: &sitepack_format::Scope,
    files: bool,
) -> Vec<String> {
    let mut found = Vec::new();
    let mut differ = |what: &str, sidecar: String, manifest: String| {
        if sidecar != manifest {
            found.push(format!(
                "the sidecar says {what} {sidecar}, the manifest {manifest}"
            ));
        }
    };
    differ("site", backup.site.id.to_string(), site.to_string());
    differ(
        "created_at",
        backup.created_at.to_string(),
        created_at.to_string(),
    );
    differ("scope", backup.scope.to_string(), scope.to_string());
    differ("files", backup.files.to_string(), files.to_string());
    found
}

/// Metadata only: the object's size, then its end records, central directory, manifest
/// and checksums by byte ranges, agreeing with the sidecar (of an encrypted one, its age
/// header's first line).
fn check_metadata(store: &dyn BackupStore, backup: &StoredBackup) -> BackupCheck {
    let mut problems = Vec::new();
    let mut error = false;
    let encrypted = backup.encryption.is_some();
    match store.size(&backup.name) {
        Ok(size) if size != backup.size => problems.push(format!(
            "the object is {size} bytes, its sidecar says {}",
            backup.size
        )),
        Ok(_) if encrypted => match store.get_range(&backup.name, 0..64.min(backup.size)) {
            Ok(start) if sitepack_crypt::is_age(&start) => {}
            Ok(_) => problems.push("the object does not start as an age file does".to_owned()),
            Err(e) => {
                error = true;
                problems.push(error_chain(&e));
            }
        },
        Ok(_) => match preview_stored(store, backup, &backup.name) {
            Ok(preview) => {
                problems.extend(error_findings(&preview.findings));
                if let Some(manifest) = &preview.manifest {
                    problems.extend(disagreements(
                        backup,
                        &manifest.site.id,
                        manifest.created_at,
                        &manifest.scope,
                        manifest.options.files,
                    ));
                }
            }
            Err(e) if e.is_mismatch() => problems.push(error_chain(&e)),
            Err(e) => match e {
                StoreError::Io { .. } | StoreError::Archive(_) => problems.push(error_chain(&e)),
                e => {
                    error = true;
                    problems.push(error_chain(&e));
                }
            },
        },
        Err(StoreError::NotFound { .. }) => {
            problems.push("the archive is missing".to_owned());
        }
        Err(e) => {
            error = true;
            problems.push(error_chain(&e));
        }
    }
    BackupCheck {
        name: backup.name.clone(),
        encrypted,
        data_read: false,
        verdict: verdict_of(&problems, error),
        problems,
    }
}

/// Read fully: downloaded and checked against the sidecar's digest, decrypted when
/// encrypted, validated with every check, its digest and manifest agreeing with the
/// sidecar.
fn check_data(
    store: &dyn BackupStore,
    backup: &StoredBackup,
    options: &CheckOptions,
) -> BackupCheck {
    let mut problems = Vec::new();
    let mut error = false;
    let encrypted = backup.encryption.is_some();
    // Its size first: a truncated or swapped object is said as such, and not downloaded.
    match store.size(&backup.name) {
        Ok(size) if size != backup.size => {
            problems.push(format!(
                "the object is {size} bytes, its sidecar says {}",
                backup.size
            ));
            return BackupCheck {
                name: backup.name.clone(),
                encrypted,
                data_read: true,
                verdict: Verdict::Damaged,
                problems,
            };
        }
        _ => {}
    }
    match crate::open_stored(store, backup, &backup.name, &options.identities) {
        Ok(opened) => {
            if let Some(mismatch) = &opened.digest_mismatch {
                problems.push(error_chain(mismatch));
            }
            match opened.archive.validate(&options.limits) {
                Ok(report) => {
                    let report = report.expect_digest(&backup.archive_sha256());
                    problems.extend(error_findings(&report.findings));
                }
                Err(e) => problems.push(error_chain(&e)),
            }
            if let Ok(manifest) = opened.archive.manifest() {
                problems.extend(disagreements(
                    backup,
                    &manifest.site.id,
                    manifest.created_at,
                    &manifest.scope,
                    manifest.options.files,
                ));
            }
        }
        Err(e) if e.is_mismatch() => problems.push(error_chain(&e)),
        Err(StoreError::Crypt(e)) if e.is_damage() => problems.push(e.to_string()),
        Err(StoreError::NotFound { .. }) => problems.push("the archive is missing".to_owned()),
        Err(e @ StoreError::Archive(_)) => problems.push(error_chain(&e)),
        Err(e) => {
            error = true;
            problems.push(error_chain(&e));
        }
    }
    // A digest mismatch and the findings it causes say the same thing twice: keep both,
    // they name different evidence.
    BackupCheck {
        name: backup.name.clone(),
        encrypted,
        data_read: true,
        verdict: verdict_of(&problems, error),
        problems,
    }
}

/// Records a check into the audit log of the site at `site_root` (`check --site-dir`,
/// `auto run`'s verification) as a `check` event: ok when everything checked is sound,
/// failed with each damaged backup and missing piece, or with why the check failed. A
/// warning when the log cannot be written.
/// `scheduled` says it was `auto run`'s verification (whose rotation reads the last one).
#[must_use]
pub fn record_check(
    site_root: &std::path::Path,
    target: &str,
    options: &CheckOptions,
    scheduled: bool,
    result: Result<&CheckReport, &StoreError>,
) -> Option<String> {
    use sitepack_site::{CheckDetails, Details, Outcome, record_audit_event};
    let mut details = CheckDetails {
        target: Some(target.to_owned()),
        site: options.site.as_ref().map(ToString::to_string),
        read_data: Some(options.read_data.to_string()),
        subset: match options.read_data {
            ReadData::Group { n, m } => Some(format!("{n}/{m}")),
            _ => None,
        },
        scheduled: scheduled.then_some(true),
        checked_at: Some(options.now),
        ..CheckDetails::default()
    };
    let outcome = match result {
        Ok(report) => {
            details.backups = Some(report.summary.backups);
            details.data_read = Some(report.summary.data_read);
            let failures = report.failures();
            if report.sound {
                Outcome::Ok
            } else {
                details.error = Some(failure_message(report));
                details.damaged = Some(failures);
                Outcome::Failed
            }
        }
        Err(error) => {
            details.error = Some(error_chain(error));
            Outcome::Failed
        }
    };
    record_audit_event(site_root, outcome, Details::Check(details))
}

/// One line saying what is wrong with the target (for the audit log and `--on-failure`):
/// the damaged backups and missing pieces, and apart from them those that could not be
/// checked (no key, an unreadable object), each named.
#[must_use]
pub fn failure_message(report: &CheckReport) -> String {
    let summary = &report.summary;
    let damage = summary.damaged + summary.missing;
    let what = match (damage, summary.errors) {
        (0, errors) => format!(
            "{errors} backup(s) could not be checked in {}",
            report.target
        ),
        (damage, 0) => format!(
            "{damage} damaged backup(s) or missing piece(s) in {}",
            report.target
        ),
        (damage, errors) => format!(
            "{damage} damaged backup(s) or missing piece(s), and {errors} backup(s) that could \
             not be checked, in {}",
            report.target
        ),
    };
    let failures = report.failures();
    if failures.is_empty() {
        what
    } else {
        format!("{what}: {}", failures.join(" | "))
    }
}

/// Runs `check --on-failure`'s `command` with `sh -c`, with `SITEPACK_ERROR` (`error`,
/// credential shapes masked) and `SITEPACK_TARGET` in its environment. A warning when it
/// cannot be run or does not succeed.
#[must_use]
pub fn run_check_failure_command(command: &str, target: &str, error: &str) -> Option<String> {
    crate::hook::run_failure_hook(
        command,
        error,
        &[("SITEPACK_TARGET", std::ffi::OsStr::new(target))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_parse_and_bad_ones_are_refused() {
        assert_eq!(
            ReadData::subset("2/7", 0).unwrap(),
            ReadData::Group { n: 2, m: 7 }
        );
        assert_eq!(
            ReadData::subset("12.5%", 9).unwrap(),
            ReadData::Percent {
                percent: 12.5,
                seed: 9
            }
        );
        for bad in [
            "0/3", "4/3", "1/0", "x/3", "3", "0%", "101%", "-5%", "%", "1/3/4",
        ] {
            assert!(ReadData::subset(bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn groups_one_to_m_cover_every_name_exactly_once() {
        let names: Vec<String> = (0..200)
            .map(|i| format!("acme/2026112{i}T000000Z-full.zip"))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut times_read = vec![0; refs.len()];
        for n in 1..=4 {
            for (count, chosen) in times_read
                .iter_mut()
                .zip(ReadData::Group { n, m: 4 }.selects(&refs))
            {
                *count += u32::from(chosen);
            }
        }
        assert!(times_read.iter().all(|&c| c == 1));
        // Stable: the rule is a hash of the name, nothing else.
        assert_eq!(
            group_of("acme/20261120T000000Z-full.zip", 4),
            group_of("acme/20261120T000000Z-full.zip", 4)
        );
        assert!((1..=4).all(|n| (0..200).any(|i| group_of(&names[i], 4) == n)));
    }

    #[test]
    fn a_percent_reads_that_share_and_the_same_seed_the_same_backups() {
        let names: Vec<String> = (0..40).map(|i| format!("acme/{i}.zip")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let pick = |seed| {
            ReadData::Percent {
                percent: 10.0,
                seed,
            }
            .selects(&refs)
        };
        assert_eq!(pick(7).iter().filter(|c| **c).count(), 4);
        assert_eq!(pick(7), pick(7));
        assert_ne!(pick(7), pick(8));
        let one = ReadData::Percent {
            percent: 1.0,
            seed: 1,
        }
        .selects(&refs[..3]);
        assert_eq!(
            one.iter().filter(|c| **c).count(),
            1,
            "at least one, rounded up"
        );
    }
}
