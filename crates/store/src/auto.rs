//! Backups of a site into a target: `create --to` (manual) and `auto run` (automatic:
//! create → store → verify the stored digest → prune → audit), with the automatic
//! settings in `SITE/.sitepack/config.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sitepack_format::workdir::WorkDir;
use sitepack_format::{INTERNAL_DIR, Options, Progress, Scope, Timestamp, error_chain};
use sitepack_site::{
    AUTO_LOCK_NAME, ArchiveOutput, AutoDetails, BackupLock, BackupSource, CreateDetails, Details,
    LockKind, Outcome, Recovered, SiteError, SiteLock, SiteState, access, record_audit_event,
};
use sitepack_site::{AuditFilter, Operation as AuditOperation, read_audit_log};
use sitepack_writer::{CreateOptions, Overwrite};

use crate::prune::{GroupBy, OrphanDecision, OrphanGrace, PruneDecision, prune};
use crate::retention::RetentionPolicy;
use crate::schedule::Schedule;
use sitepack_crypt::{EncryptingWriter, Identities, Recipients};

use crate::check::{
    CheckOptions, CheckReport, ReadData, check_target, failure_message, record_check,
};

use crate::backups::{ENCRYPTION_METHOD, Encryption};
use crate::{
    BackupKind, NewBackup, S3Settings, StoreError, StoredBackup, TargetSpec, list_backups,
    open_store, store_backup,
};

/// The automatic-backup settings file, inside `.sitepack/`.
pub const CONFIG_NAME: &str = "config.toml";

/// `SITE/.sitepack/config.toml`, read and checked once by [`read_config`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Automatic backups (the `[auto]` table).
    pub auto: AutoConfig,
    /// Scheduled verification of the site's stored backups (the `[verify]` table).
    pub verify: Option<VerifyConfig>,
}

/// The `[verify]` table: `auto run` checks the site's backups in the target when this
/// schedule says a check is due (`--if-due`; every run without it).
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// `schedule`, `time`, `weekday` as in `[auto]` (default `weekly`).
    pub schedule: Schedule,
    /// `subset`: what each run reads fully.
    pub subset: VerifySubset,
    /// `identity_file`: the age identity files encrypted backups are read with.
    pub identities: Identities,
}

/// What each scheduled verification reads fully (`[verify] subset`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VerifySubset {
    /// `none` (the default): metadata only.
    Metadata,
    /// `all`: every backup.
    All,
    /// `N/M` (any N): one group of M per run, the next group each run (after group M,
    /// group 1), so that M runs read every backup once.
    Rotating {
        /// How many groups.
        m: u64,
    },
    /// `P%`: a random share each run (seeded by the run's time, recorded).
    Percent(f64),
}

/// The `[auto]` table, as settings: every value parsed and checked.
#[derive(Debug, Clone)]
pub struct AutoConfig {
    /// `enabled` (default `true`): whether `auto run --if-due` backs up when due.
    pub enabled: bool,
    /// Where backups go: `target`, a directory (absolute), `file://…` or
    /// `s3://bucket/prefix`.
    pub target: TargetSpec,
    /// How to reach S3-compatible storage: `endpoint` (else `AWS_ENDPOINT_URL`, else AWS).
    pub s3: S3Settings,
    /// `scope`, written as `--scope` takes it: `full` (default), `tab:NAME`,
    /// `module:NAME` or `user:ID`.
    pub scope: Scope,
    /// `files`: whether files go in (default `true`).
    pub files: bool,
    /// `label`: a label for every automatic backup.
    pub label: Option<String>,
    /// When a backup is due: `schedule` (`hourly`, `daily` (default), `weekly`, or a
    /// 5-field cron expression; UTC), with `time` and `weekday`.
    pub schedule: Schedule,
    /// `[auto.retention]`: which backups to keep after each run (default: all).
    pub retention: RetentionPolicy,
    /// `encrypt_to`: the age recipients (public keys) every automatic backup is
    /// encrypted to; none (the default) stores plain archives.
    pub encrypt_to: Option<Recipients>,
}

/// `config.toml` as written: the text of each setting, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    auto: AutoTable,
    #[serde(default)]
    verify: Option<VerifyTable>,
}

/// The `[verify]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyTable {
    #[serde(default = "weekly")]
    schedule: String,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    weekday: Option<String>,
    #[serde(default)]
    subset: Option<String>,
    #[serde(default)]
    identity_file: Vec<PathBuf>,
}

fn weekly() -> String {
    "weekly".to_owned()
}

fn verify_config(table: VerifyTable, path: &Path) -> Result<VerifyConfig, StoreError> {
    let schedule = Schedule::from_config(
        &table.schedule,
        table.time.as_deref(),
        table.weekday.as_deref(),
    )
    .map_err(|source| StoreError::ConfigSchedule {
        path: path.to_path_buf(),
        source,
    })?;
    let subset = match table.subset.as_deref().map(str::trim) {
        None | Some("none") => VerifySubset::Metadata,
        Some("all") => VerifySubset::All,
        Some(text) => match ReadData::subset(text, 0) {
            Ok(ReadData::Group { m, .. }) => VerifySubset::Rotating { m },
            Ok(ReadData::Percent { percent, .. }) => VerifySubset::Percent(percent),
            Ok(_) | Err(_) => {
                return Err(StoreError::ConfigVerify {
                    path: path.to_path_buf(),
                    problem: format!(
                        "subset {text:?}: write none, all, N/M (one group of M per run, rotating) or P%"
                    ),
                });
            }
        },
    };
    Ok(VerifyConfig {
        schedule,
        subset,
        identities: Identities::new(table.identity_file),
    })
}

/// The `[auto]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoTable {
    /// `false`: `auto run --if-due` never finds a backup due (a run without `--if-due`
    /// still backs up).
    #[serde(default = "yes")]
    enabled: bool,
    target: String,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default = "full_scope", with = "scope_as_text")]
    scope: Scope,
    #[serde(default = "yes")]
    files: bool,
    #[serde(default)]
    label: Option<String>,
    #[serde(default = "daily")]
    schedule: String,
    /// `HH:MM` UTC for `daily` and `weekly` (the minute for `hourly`); default `00:00`.
    #[serde(default)]
    time: Option<String>,
    /// The day of a `weekly` schedule (default `sun`).
    #[serde(default)]
    weekday: Option<String>,
    #[serde(default)]
    retention: RetentionPolicy,
    /// Absent: plain backups. Present, even empty: encrypted ones (an empty list is an
    /// error, not a quiet fall back to plaintext).
    #[serde(default)]
    encrypt_to: Option<Vec<String>>,
}

fn full_scope() -> Scope {
    Scope::Full
}

/// A scope in `config.toml` is the text `--scope` takes (`full`, `module:notes`), not the
/// manifest's tagged object.
mod scope_as_text {
    use serde::{Deserialize, Deserializer, de::Error};
    use sitepack_format::Scope;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Scope, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|e: sitepack_format::FormatError| {
            D::Error::custom(format!(
                "scope {text:?}: {e} (write it as --scope takes it: full, tab:NAME, module:NAME or user:ID)"
            ))
        })
    }
}

fn yes() -> bool {
    true
}

fn daily() -> String {
    "daily".to_owned()
}

/// The target of the config. A relative directory is refused: it would depend on the
/// directory `auto run` happens to run in (under cron, the home directory).
fn config_target(text: &str) -> Result<TargetSpec, StoreError> {
    let target: TargetSpec = text.parse()?;
    if let TargetSpec::Local(path) = &target
        && path.is_relative()
    {
        return Err(StoreError::BadTarget {
            target: text.to_owned(),
            problem: "a relative directory would depend on where `auto run` runs (under cron, the home directory); write an absolute path or a file:// URL".to_owned(),
        });
    }
    Ok(target)
}

/// Where the config of `site_root` lives.
#[must_use]
pub fn config_path(site_root: &Path) -> PathBuf {
    site_root.join(INTERNAL_DIR).join(CONFIG_NAME)
}

/// Reads `SITE/.sitepack/config.toml` and checks every setting: each error names the file
/// and keeps its cause (TOML's, with its line and column; the schedule's; the target's).
pub fn read_config(site_root: &Path) -> Result<Config, StoreError> {
    let path = config_path(site_root);
    let text = crate::auto_settings::read_text(site_root)?
        .ok_or_else(|| StoreError::NoConfig { path: path.clone() })?;
    parse_config(&text, path)
}

/// Checks the text of a `config.toml` (said to be at `path` in errors) as [`read_config`]
/// does.
pub fn parse_config(text: &str, path: PathBuf) -> Result<Config, StoreError> {
    let file: ConfigFile = toml::from_str(text).map_err(|source| StoreError::ConfigSyntax {
        path: path.clone(),
        source: Box::new(source),
    })?;
    let verify = file
        .verify
        .map(|table| verify_config(table, &path))
        .transpose()?;
    let auto = file.auto;
    let schedule = Schedule::from_config(
        &auto.schedule,
        auto.time.as_deref(),
        auto.weekday.as_deref(),
    )
    .map_err(|source| StoreError::ConfigSchedule {
        path: path.clone(),
        source,
    })?;
    let encrypt_to = match &auto.encrypt_to {
        None => None,
        Some(recipients) => Some(Recipients::parse(recipients, &[]).map_err(|source| {
            StoreError::ConfigEncryption {
                path: path.clone(),
                source,
            }
        })?),
    };
    let target = config_target(&auto.target).map_err(|source| StoreError::ConfigTarget {
        path,
        source: Box::new(source),
    })?;
    Ok(Config {
        auto: AutoConfig {
            enabled: auto.enabled,
            target,
            s3: S3Settings {
                endpoint: auto.endpoint,
            },
            scope: auto.scope,
            files: auto.files,
            label: auto.label,
            schedule,
            retention: auto.retention,
            encrypt_to,
        },
        verify,
    })
}

/// A site backup to store: the archive options and the target.
pub struct BackupRequest<'a> {
    /// The site (a directory or a database site).
    pub site: &'a dyn BackupSource,
    /// What to archive (its `created_at` names the backup).
    pub options: CreateOptions,
    /// Manual or automatic.
    pub kind: BackupKind,
    /// Read every stored byte back and check its digest before the sidecar is written.
    pub verify_digest: bool,
    /// Encrypt the archive to these recipients before it is stored.
    pub encrypt_to: Option<Recipients>,
}

/// Writes the archive into a private temporary directory, checks it, encrypts it when
/// asked (the ciphertext beside it), then stores it with its sidecar. Nothing is listed
/// unless every step succeeded. The temporary directories
/// killed runs left behind are removed first (never one whose run is still going).
pub fn backup_site(
    request: &BackupRequest<'_>,
    store: &dyn crate::BackupStore,
    progress: &dyn Progress,
) -> Result<StoredBackup, StoreError> {
    // Locked while it lives; also removes what killed runs left there.
    let temp = std::env::temp_dir();
    let work = WorkDir::new(&temp, "sitepack-backup-")
        .map_err(|e| StoreError::io("create a private temporary directory in", &temp, e))?;
    let _interruptible = sitepack_format::interrupt::temporary(work.path());
    let archive = work.path().join("backup.zip");
    let options = &request.options;
    let output = ArchiveOutput::File {
        path: &archive,
        overwrite: Overwrite::Refuse,
    };
    let summary = BackupLock::take(request.site.state_root())
        .and_then(|_lock| request.site.write_archive(options, output, progress))
        .map_err(|source| StoreError::Create { source })?;
    check_before_storing(&archive)?;
    let mut backup = NewBackup {
        site: request.site.identity(),
        created_at: options.created_at,
        scope: options.scope.clone(),
        files: options.options.files,
        kind: request.kind,
        label: options.label.clone(),
        size: summary.archive_size,
        sha256: summary.archive_sha256,
        encryption: None,
    };
    let Some(recipients) = &request.encrypt_to else {
        return store_backup(store, &archive, &backup, request.verify_digest);
    };
    let encrypted = work.path().join("backup.zip.age");
    let written = encrypt_file(&archive, &encrypted, recipients)?;
    backup.encryption = Some(Encryption {
        method: ENCRYPTION_METHOD.to_owned(),
        recipients: recipients.to_strings(),
        archive_size: summary.archive_size,
        archive_sha256: summary.archive_sha256,
    });
    backup.size = written.size;
    backup.sha256 = written.sha256;
    store_backup(store, &encrypted, &backup, request.verify_digest)
}

/// Encrypts the archive `plain` into `encrypted` (created new, 0600).
fn encrypt_file(
    plain: &Path,
    encrypted: &Path,
    recipients: &Recipients,
) -> Result<sitepack_crypt::Written, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut input = std::fs::File::open(plain).map_err(|e| StoreError::io("read", plain, e))?;
    let output = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(encrypted)
        .map_err(|e| StoreError::io("create", encrypted, e))?;
    let fail = |e| StoreError::io("encrypt into", encrypted, e);
    let mut writer =
        EncryptingWriter::new(std::io::BufWriter::new(output), recipients).map_err(fail)?;
    std::io::copy(&mut input, &mut writer).map_err(fail)?;
    let (out, written) = writer.finish().map_err(fail)?;
    out.into_inner()
        .map_err(|e| fail(e.into_error()))?
        .sync_all()
        .map_err(fail)?;
    Ok(written)
}

/// A backup is called good only once it validates as `restore` will validate it (every
/// check, default limits): an archive sitepack itself would refuse is never stored.
fn check_before_storing(archive: &Path) -> Result<(), StoreError> {
    let read_back = |source| StoreError::ReadBack { source };
    let report = sitepack_reader::Archive::open(archive)
        .map_err(read_back)?
        .validate(&sitepack_format::Limits::default())
        .map_err(read_back)?;
    if report.is_valid() {
        return Ok(());
    }
    let first = report
        .findings
        .iter()
        .find(|f| f.severity == sitepack_reader::Severity::Error)
        .map_or_else(String::new, |f| {
            format!(
                "{} {}: {}",
                f.code,
                f.path.as_deref().unwrap_or("-"),
                f.message
            )
        });
    Err(StoreError::InvalidBackup {
        errors: report.summary.errors,
        first,
    })
}

/// Records a manual backup into `target` (`create --to`) as a `create` event, with where
/// it went, or why it failed (nothing is listed then). A warning when the audit log
/// cannot be written.
#[must_use]
pub fn record_stored_backup(
    site_root: &Path,
    target: &str,
    options: &CreateOptions,
    result: Result<&StoredBackup, &StoreError>,
) -> Option<String> {
    let mut details = CreateDetails {
        scope: Some(options.scope.to_string()),
        options: Some(options.options),
        label: options.label.clone(),
        to: Some(target.to_owned()),
        ..CreateDetails::default()
    };
    let outcome = match result {
        Ok(stored) => {
            details.name = Some(stored.name.clone());
            details.archive_sha256 = Some(stored.sha256);
            details.archive_size = Some(stored.size);
            Outcome::Ok
        }
        Err(error) => {
            details.error = Some(error_chain(error));
            Outcome::Failed
        }
    };
    record_audit_event(site_root, outcome, Details::Create(details))
}

/// What `auto run` did.
#[derive(Debug, Clone, Serialize)]
pub struct AutoReport {
    /// `false` when `--if-due` found nothing due (then nothing else happened).
    pub ran: bool,
    /// The schedule.
    pub schedule: String,
    /// The newest automatic backup of the site in the target, made at or before now.
    pub last_success: Option<Timestamp>,
    /// The next scheduled time after now.
    pub next_due: Option<Timestamp>,
    /// The last success is older than two periods (missed runs).
    pub overdue: bool,
    /// The newest automatic backup in the target that is dated after now: the clock was
    /// (or is) wrong. It is left out when deciding what is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_in_future: Option<Timestamp>,
    /// The backup made.
    pub stored: Option<StoredBackup>,
    /// What retention decided, per backup of the site in the target.
    pub retention: Vec<PruneDecision>,
    /// The site's orphans (half backups) retention found; those older than the default
    /// grace period (24h) were removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphans: Vec<OrphanDecision>,
    /// What retention's listing skipped (odd names in the target), each named with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why retention failed after the backup was stored and verified (the backup still
    /// counts: the run is recorded as a success, with this error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_error: Option<String>,
    /// Set when the audit log could not be written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_warning: Option<String>,
    /// What was recovered before the run (an interrupted restore or revert), said on
    /// standard error rather than in the report.
    #[serde(skip)]
    pub recovered: Option<Recovered>,
    /// Set when the failure command, run for a retention that failed, did not succeed.
    #[serde(skip)]
    pub failure_command_warning: Option<String>,
    /// The scheduled verification (`[verify]`), when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<CheckReport>,
}

/// The site an automatic run backs up.
pub struct AutoSite<'a> {
    /// The directory whose `.sitepack/` holds the site's state and `config.toml` (the
    /// site directory, or a database site's state directory).
    pub state_root: &'a Path,
    /// Opens the site, once the run holds its lock: a site that cannot be opened is a
    /// failed run, recorded like any other.
    pub open: &'a dyn Fn() -> Result<Box<dyn BackupSource + 'a>, SiteError>,
    /// Whether it is a site before it is opened (a directory with `site.json`, a read
    /// descriptor). One that is not is opened first, so that nothing is written into a
    /// directory that is no site: no lock, no audit log.
    pub known: bool,
}

/// How to run [`auto_run`].
#[derive(Debug, Clone, Copy)]
pub struct AutoRunOptions<'a> {
    /// The time of the run.
    pub now: Timestamp,
    /// Back up only when the schedule says a backup is due (`--if-due`).
    pub if_due: bool,
    /// A shell command run on every failure (`--on-failure`), with `SITEPACK_ERROR`,
    /// `SITEPACK_SITE` and `SITEPACK_TARGET` in its environment.
    pub on_failure: Option<&'a str>,
}

/// Why an automatic run failed, with what happened on the way (all said by the caller
/// before the error).
#[derive(Debug, Clone)]
pub struct AutoFailure {
    /// The error, with its causes.
    pub error: String,
    /// What was recovered before the run failed.
    pub recovered: Option<Recovered>,
    /// Warnings: the audit log could not be written, the failure command did not succeed.
    pub warnings: Vec<String>,
}

/// `sitepack auto run SITE [--if-due]` at `options.now`: finishes the recovery of an
/// interrupted restore first (a site being changed right now fails the run), then, with
/// `if_due`, backs up only when the schedule says a backup is due since the newest
/// automatic backup of the site that the target holds (its listing is what exists,
/// whatever the audit log could record): create → store → verify the stored digest →
/// prune → audit. Every failure, before or during the run, is recorded as a failed `auto`
/// event and runs `options.on_failure`, and so does a retention that failed after the
/// backup was stored.
pub fn auto_run(
    site: &AutoSite<'_>,
    options: &AutoRunOptions<'_>,
    progress: &dyn Progress,
) -> Result<AutoReport, AutoFailure> {
    let site_root = site.state_root;
    let mut warnings = Vec::new();
    let recovered = match SiteState::open(site_root, access::Read) {
        Ok(opened) => opened.recovered,
        Err(error) => {
            // Not "the restore was refused": this is no restore. Say why, plainly.
            let error: &dyn std::error::Error = match &error {
                SiteError::Refused { reason } => reason,
                error => error,
            };
            warnings.extend(audit_auto_failure(site_root, error));
            return Err(failed(
                site_root,
                options,
                error_chain(error),
                None,
                warnings,
            ));
        }
    };
    match run_auto_backup(site, options.now, options.if_due, progress) {
        Ok(mut report) => {
            report.recovered = recovered;
            if let (Some(error), Some(command)) = (&report.retention_error, options.on_failure) {
                report.failure_command_warning =
                    run_failure_command(command, site_root, &format!("retention failed: {error}"));
            }
            match run_verify(site, options) {
                Ok((verified, audit_warning)) => {
                    report.verify = verified;
                    report.warnings.extend(audit_warning);
                }
                Err(error) => {
                    return Err(failed(
                        site_root,
                        options,
                        format!("verification failed: {}", error_chain(&error)),
                        report.recovered,
                        warnings,
                    ));
                }
            }
            if let (Some(verify), Some(command)) = (&report.verify, options.on_failure)
                && !verify.sound
                && let Some(warning) =
                    run_failure_command(command, site_root, &failure_message(verify))
            {
                report.warnings.push(warning);
            }
            Ok(report)
        }
        Err(error) => Err(failed(
            site_root,
            options,
            error_chain(&error),
            recovered,
            warnings,
        )),
    }
}

/// The scheduled verification of `[verify]`, when the config has one and (with
/// `--if-due`) its schedule says one is due since the last one the audit log records: the
/// site's backups in the target checked, reading fully the next group of a rotating
/// `N/M` (after the last run's group), and recorded as a `check` event. Returns the
/// report (none when nothing was due) and a warning when the audit log cannot be written.
fn run_verify(
    site: &AutoSite<'_>,
    options: &AutoRunOptions<'_>,
) -> Result<(Option<CheckReport>, Option<String>), StoreError> {
    let config = read_config(site.state_root)?;
    let Some(verify) = config.verify else {
        return Ok((None, None));
    };
    let filter = AuditFilter {
        operation: Some(AuditOperation::Check),
        limit: None,
    };
    let log = read_audit_log(site.state_root, &filter)
        .map_err(|e| StoreError::io("read the audit log of", site.state_root, e))?;
    let last = log
        .events
        .iter()
        .rev()
        .find_map(|event| match &event.details {
            Details::Check(d) if d.scheduled == Some(true) => {
                Some((d.checked_at.unwrap_or(event.time), d.subset.clone()))
            }
            _ => None,
        });
    if options.if_due
        && !verify
            .schedule
            .is_due(last.as_ref().map(|(time, _)| *time), options.now)
    {
        return Ok((None, None));
    }
    let read_data = match verify.subset {
        VerifySubset::Metadata => ReadData::None,
        VerifySubset::All => ReadData::All,
        VerifySubset::Rotating { m } => {
            let previous = last.and_then(|(_, subset)| subset).and_then(|subset| {
                match ReadData::subset(&subset, 0) {
                    Ok(ReadData::Group { n, m: of }) if of == m => Some(n),
                    _ => None,
                }
            });
            ReadData::Group {
                n: previous.map_or(1, |n| n % m + 1),
                m,
            }
        }
        VerifySubset::Percent(percent) => ReadData::Percent {
            percent,
            seed: options.now.unix_seconds().unsigned_abs(),
        },
    };
    let source = (site.open)().map_err(|source| StoreError::Create { source })?;
    let store = open_store(&config.auto.target, &config.auto.s3)?;
    let check_options = CheckOptions {
        site: Some(source.identity().id),
        read_data,
        identities: verify.identities,
        limits: sitepack_format::Limits::default(),
        orphan_grace: OrphanGrace::default(),
        now: options.now,
    };
    let result = check_target(store.as_ref(), &check_options);
    let warning = record_check(
        site.state_root,
        &config.auto.target.to_string(),
        &check_options,
        true,
        result.as_ref(),
    );
    result.map(|report| (Some(report), warning))
}

/// A failed run: the failure command runs, and its own failure is one more warning.
fn failed(
    site_root: &Path,
    options: &AutoRunOptions<'_>,
    error: String,
    recovered: Option<Recovered>,
    mut warnings: Vec<String>,
) -> AutoFailure {
    if let Some(command) = options.on_failure {
        warnings.extend(run_failure_command(command, site_root, &error));
    }
    AutoFailure {
        error,
        recovered,
        warnings,
    }
}

/// The run of [`auto_run`] after the recovery. Every failure is recorded as a failed
/// `auto` event.
fn run_auto_backup(
    site: &AutoSite<'_>,
    now: Timestamp,
    if_due: bool,
    progress: &dyn Progress,
) -> Result<AutoReport, StoreError> {
    let site_root = site.state_root;
    if !site.known {
        (site.open)().map_err(|source| StoreError::Create { source })?;
    }
    // One automatic run at a time. (The backup itself takes the site lock shared, like
    // every `create`.)
    let _auto_lock = match lock_auto_run(site_root) {
        Ok(lock) => lock,
        Err(error) => {
            let _ = audit_auto_failure(site_root, &error);
            return Err(error);
        }
    };
    let state = match read_state(site, now) {
        Ok(state) => state,
        Err(error) => {
            // A cron job whose config broke, or whose target cannot be listed, must
            // leave a trace.
            let _ = audit_auto_failure(site_root, &error);
            return Err(error);
        }
    };
    let AutoState {
        config,
        store,
        source,
        last_success,
        backup_in_future,
    } = state;
    let mut report = AutoReport {
        ran: false,
        schedule: config.schedule.to_string(),
        last_success,
        next_due: config.schedule.next_after(now),
        // Runs were missed only if there was a run to miss after.
        overdue: last_success.is_some() && config.schedule.overdue(last_success, now),
        backup_in_future,
        stored: None,
        retention: Vec::new(),
        orphans: Vec::new(),
        warnings: Vec::new(),
        retention_error: None,
        audit_warning: None,
        recovered: None,
        failure_command_warning: None,
        verify: None,
    };
    if if_due && !config.enabled {
        report.schedule = format!("{}, disabled in {CONFIG_NAME}", report.schedule);
        report.next_due = None;
        return Ok(report);
    }
    if if_due && !config.schedule.is_due(last_success, now) {
        return Ok(report);
    }
    report.ran = true;
    let mut details = AutoDetails {
        target: Some(config.target.to_string()),
        scope: Some(config.scope.to_string()),
        schedule: Some(report.schedule.clone()),
        overdue: Some(report.overdue),
        backup_in_future,
        ..AutoDetails::default()
    };
    let result = run_once(
        source.as_ref(),
        &config,
        store.as_ref(),
        now,
        progress,
        &mut report,
    );
    let outcome = match &result {
        Ok(()) => {
            if let Some(stored) = &report.stored {
                details.name = Some(stored.name.clone());
                details.archive_sha256 = Some(stored.sha256);
                details.archive_size = Some(stored.size);
                details.created_at = Some(stored.created_at);
            }
            details.pruned = Some(
                report
                    .retention
                    .iter()
                    .filter(|d| !d.keep)
                    .map(|d| d.backup.name.clone())
                    .collect(),
            );
            let orphans_removed: Vec<String> = report
                .orphans
                .iter()
                .filter(|d| d.remove)
                .map(|d| d.orphan.key.clone())
                .collect();
            details.orphans_removed = (!orphans_removed.is_empty()).then_some(orphans_removed);
            details.retention_error.clone_from(&report.retention_error);
            Outcome::Ok
        }
        Err(error) => {
            details.error = Some(error_chain(error));
            Outcome::Failed
        }
    };
    report.audit_warning = record_audit_event(site_root, outcome, Details::Auto(details));
    result.map(|()| report)
}

fn run_once(
    site: &dyn BackupSource,
    config: &AutoConfig,
    store: &dyn crate::BackupStore,
    now: Timestamp,
    progress: &dyn Progress,
    report: &mut AutoReport,
) -> Result<(), StoreError> {
    let mut options = CreateOptions::new(config.scope.clone());
    options.options = Options {
        files: config.files,
    };
    options.label.clone_from(&config.label);
    options.created_at = now;
    let request = BackupRequest {
        site,
        options,
        kind: BackupKind::Auto,
        verify_digest: true,
        encrypt_to: config.encrypt_to.clone(),
    };
    report.stored = Some(backup_site(&request, store, progress)?);
    // The backup is stored and verified: whatever retention does, the run succeeded,
    // or every `--if-due` check would make another backup into a target that is
    // already not being pruned.
    if !config.retention.is_empty() {
        match prune(
            store,
            &site.identity().id,
            &config.retention,
            GroupBy::default(),
            OrphanGrace::default(),
            false,
            now,
        ) {
            Ok(pruned) => {
                report.retention = pruned.decisions;
                report.orphans = pruned.orphans;
                report.warnings = pruned.problems.iter().map(|p| error_chain(p)).collect();
            }
            Err(error) => report.retention_error = Some(error_chain(&error)),
        }
    }
    Ok(())
}

/// `.sitepack/auto.lock`, held exclusively for the whole run.
fn lock_auto_run(site_root: &Path) -> Result<SiteLock, StoreError> {
    let internal = sitepack_format::Beneath::open(site_root)
        .and_then(|root| root.create_dirs(INTERNAL_DIR))
        .map_err(|e| StoreError::io("open the site directory", site_root, e))?;
    SiteLock::try_lock(&internal, AUTO_LOCK_NAME, LockKind::Exclusive)
        .map_err(|e| StoreError::io("lock", internal.display_path(AUTO_LOCK_NAME), e))?
        .ok_or_else(|| StoreError::AutoRunning {
            site: site_root.to_path_buf(),
        })
}

/// Records an automatic run that failed before it could start (the site being restored
/// right now, say) as a failed `auto` event, with what the config says. A warning when
/// the audit log cannot be written (or there is no site to hold one).
#[must_use]
fn audit_auto_failure(site_root: &Path, error: &dyn std::error::Error) -> Option<String> {
    let details = AutoDetails {
        error: Some(error_chain(error)),
        ..known_details(site_root)
    };
    record_audit_event(site_root, Outcome::Failed, Details::Auto(details))
}

/// The details of a run that failed before it started: what the config says, when it
/// can be read.
fn known_details(site_root: &Path) -> AutoDetails {
    read_config(site_root).map_or_else(
        |_| AutoDetails::default(),
        |config| AutoDetails {
            schedule: Some(config.auto.schedule.to_string()),
            scope: Some(config.auto.scope.to_string()),
            target: Some(config.auto.target.to_string()),
            ..AutoDetails::default()
        },
    )
}

/// Runs `auto run --on-failure`'s `command` with `sh -c`, with `SITEPACK_ERROR` (`error`),
/// `SITEPACK_SITE` and `SITEPACK_TARGET` (the config's target, when it can be read) in its
/// environment. A warning when it cannot be run or does not succeed: its own failure
/// is reported, never hidden.
fn run_failure_command(command: &str, site_root: &Path, error: &str) -> Option<String> {
    let target = read_config(site_root)
        .map(|config| config.auto.target.to_string())
        .unwrap_or_default();
    crate::hook::run_failure_hook(
        command,
        error,
        &[
            ("SITEPACK_SITE", site_root.as_os_str()),
            ("SITEPACK_TARGET", std::ffi::OsStr::new(&target)),
        ],
    )
}

/// What an automatic run starts from.
struct AutoState<'a> {
    config: AutoConfig,
    store: Box<dyn crate::BackupStore>,
    source: Box<dyn BackupSource + 'a>,
    /// The newest automatic backup of the site in the target, at or before now.
    last_success: Option<Timestamp>,
    /// The newest one dated after now (a clock that was, or is, wrong).
    backup_in_future: Option<Timestamp>,
}

/// The config, the site, the target, and the automatic backups the target
/// holds: the ground truth of what exists (an audit log that could not be written, or
/// whose last line was cut short, cannot make a backup due twice).
fn read_state<'a>(site: &AutoSite<'a>, now: Timestamp) -> Result<AutoState<'a>, StoreError> {
    let config = read_config(site.state_root)?.auto;
    let source = (site.open)().map_err(|source| StoreError::Create { source })?;
    for dir in source.own_dirs() {
        config.target.check_outside_site(dir)?;
    }
    let store = open_store(&config.target, &config.s3)?;
    // A sidecar that cannot be read is `list`'s to report; it is no backup to count on.
    let listing = list_backups(store.as_ref(), Some(&source.identity().id))?;
    let auto_times = listing
        .backups
        .iter()
        .filter(|b| b.kind == BackupKind::Auto)
        .map(|b| b.created_at);
    let (past, future): (Vec<Timestamp>, Vec<Timestamp>) = auto_times.partition(|t| *t <= now);
    Ok(AutoState {
        config,
        store,
        source,
        last_success: past.into_iter().max(),
        backup_in_future: future.into_iter().max(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `config.toml` example of docs/COMMANDS.md, as written there.
    fn readme_config_example() -> String {
        let readme = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/COMMANDS.md"
        ))
        .unwrap();
        let section = &readme[readme.find("SITE/.sitepack/config.toml`:").unwrap()..];
        let block = &section[section.find("```toml\n").unwrap() + "```toml\n".len()..];
        let block = &block[..block.find("```").unwrap()];
        // The block is indented as part of a list item.
        block
            .lines()
            .map(|line| line.strip_prefix("  ").unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn site_with_config(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(INTERNAL_DIR)).unwrap();
        std::fs::write(config_path(dir.path()), text).unwrap();
        dir
    }

    #[test]
    fn the_readme_config_example_is_read_as_written() {
        let example = readme_config_example();
        assert!(example.contains("scope = \"full\""), "{example}");
        let site = site_with_config(&example);
        let config = read_config(site.path()).unwrap_or_else(|e| panic!("{e}\n{example}"));
        assert_eq!(config.auto.scope, Scope::Full);
        assert_eq!(
            config.auto.target,
            TargetSpec::S3 {
                bucket: "backups".into(),
                prefix: "shop".into()
            }
        );
        assert_eq!(config.auto.schedule.to_string(), "daily at 02:30 UTC");
        assert_eq!(config.auto.retention.keep_daily, Some(7));
    }

    #[test]
    fn a_config_scope_takes_the_same_text_as_the_scope_option() {
        for scope in ["full", "tab:general", "module:notes", "user:u-ada"] {
            let site = site_with_config(&format!(
                "[auto]\ntarget = \"/backups\"\nscope = \"{scope}\"\n"
            ));
            let config = read_config(site.path()).unwrap_or_else(|e| panic!("{scope}: {e}"));
            assert_eq!(config.auto.scope, scope.parse::<Scope>().unwrap());
            assert_eq!(config.auto.scope.to_string(), scope);
        }
        let site = site_with_config("[auto]\ntarget = \"/backups\"\nscope = \"everything\"\n");
        let error = error_chain(&read_config(site.path()).unwrap_err());
        assert!(
            error.contains("everything") && error.contains("module:NAME"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_config_is_named_with_its_cause_kept() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_config(dir.path()).unwrap_err();
        assert!(
            matches!(&error, StoreError::NoConfig { path } if *path == config_path(dir.path())),
            "{error}"
        );
        assert!(error.to_string().contains("[auto] table"), "{error}");

        // TOML's error, with where it is.
        let text = "[auto]\ntarget = \"/backups\"\nkeep_forever = 3\n";
        let site = site_with_config(text);
        let error = read_config(site.path()).unwrap_err();
        let StoreError::ConfigSyntax { path, source } = &error else {
            panic!("{error}");
        };
        assert_eq!(*path, config_path(site.path()));
        assert_eq!(source.span().map(|at| &text[at]), Some("keep_forever"));
        let chain = error_chain(&error);
        assert!(
            chain.starts_with(&format!("{}: TOML parse error at line 3", path.display()))
                && chain.contains("keep_forever"),
            "{chain}"
        );

        // The schedule's own error.
        let site = site_with_config("[auto]\ntarget = \"/backups\"\nschedule = \"fortnightly\"\n");
        let error = read_config(site.path()).unwrap_err();
        assert!(
            matches!(
                &error,
                StoreError::ConfigSchedule {
                    source: crate::schedule::ScheduleError::UnknownSchedule { schedule },
                    ..
                } if schedule == "fortnightly"
            ),
            "{error}"
        );
        assert!(
            error_chain(&error).contains(": unknown schedule \"fortnightly\""),
            "{error}"
        );

        // The target's: a relative directory depends on where cron runs.
        let site = site_with_config("[auto]\ntarget = \"backups\"\n");
        let error = read_config(site.path()).unwrap_err();
        let StoreError::ConfigTarget { source, .. } = &error else {
            panic!("{error}");
        };
        assert!(
            matches!(source.as_ref(), StoreError::BadTarget { target, .. } if target == "backups"),
            "{source}"
        );
        assert!(
            error_chain(&error).contains("relative directory"),
            "{error}"
        );
    }

    #[test]
    fn an_archive_that_does_not_validate_is_never_stored() {
        let dir = tempfile::tempdir().unwrap();
        // A plain ZIP (no manifest): what no sitepack reader accepts.
        let path = dir.path().join("plain.zip");
        let mut zip = sitepack_writer::VerbatimZip::new(
            std::fs::File::create(&path).unwrap(),
            &path,
            sitepack_format::Timestamp::now(),
            6,
            dir.path(),
        );
        zip.add_bytes("site/site.json", b"{}".to_vec()).unwrap();
        zip.finish().unwrap();
        let error = check_before_storing(&path).unwrap_err();
        assert!(
            matches!(&error, StoreError::InvalidBackup { errors, first } if *errors > 0 && first.contains("MANIFEST_MISSING")),
            "{error}"
        );
        let error = check_before_storing(&dir.path().join("missing.zip")).unwrap_err();
        assert!(matches!(error, StoreError::ReadBack { .. }), "{error}");
    }
}
