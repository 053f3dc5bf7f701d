//! Saved backups: `create --to TARGET`, `list TARGET`, `prune TARGET`, `auto run SITE`,
//! and opening a stored backup for `validate`, `preview` and `restore`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use sitepack_format::{SiteId, Timestamp, error_chain, failpoint};

use sitepack_store::retention::{KeepWithin, RetentionPolicy};
use sitepack_store::{
    AutoRunOptions, AutoSite, BackupKind, BackupRequest, BackupStore, GroupBy, Location, Opened,
    Orphan, OrphanDecision, OrphanGrace, OrphanKind, PruneDecision, PruneRun, S3Settings,
    StoreError, TargetSpec, auto_run, backup_site, format_age, list_backups, open_existing_store,
    open_store, prune, record_prune, record_stored_backup,
};

use super::create::{CreateArgs, create_options};
use crate::printable::printable;
use crate::progress::Bar;
use crate::site_arg::SiteArg;
use crate::{GlobalArgs, Outcome};

/// Where a stored backup is read from (`validate`, `preview`, `restore`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SourceArgs {
    /// Read ARCHIVE as the name of a backup in this target (a directory, file://… or
    /// s3://bucket/prefix), e.g. `--from s3://backups acme-shop/20261122T083000Z-full.zip`.
    /// A full s3:// or file:// URL as ARCHIVE needs no --from.
    #[arg(long, value_name = "TARGET")]
    from: Option<String>,
    /// The S3 endpoint (e.g. http://127.0.0.1:9000); default AWS_ENDPOINT_URL, else AWS.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
}

impl SourceArgs {
    fn s3(&self) -> S3Settings {
        S3Settings {
            endpoint: self.endpoint.clone(),
        }
    }
}

/// What ARCHIVE names: a stored backup (with `--from`, as an `s3://` or `file://` URL, or
/// as a path inside a local target) or a file. A file beside it named like its sidecar
/// that does not describe it is said on stderr.
pub(crate) fn locate(archive: &Path, source: &SourceArgs) -> Result<Location> {
    let location = sitepack_store::locate(archive, source.from.as_deref(), &source.s3())?;
    if let Location::File {
        not_its_sidecar: Some(warning),
        ..
    } = &location
    {
        eprintln!("warning: {warning}");
    }
    Ok(location)
}

/// Opens what ARCHIVE names (decrypting an encrypted archive with `keys`). A stored
/// encrypted backup whose ciphertext is not the one its sidecar vouches for is never
/// decrypted: refused (exit 1), `nothing` saying what was not done.
pub(crate) fn open(
    location: &Location,
    keys: &super::crypt_args::IdentityArgs,
    nothing: &str,
) -> Result<Result<Opened, Outcome>> {
    match location.open(&keys.identities()) {
        Ok(opened) => Ok(Ok(opened)),
        Err(mismatch) if mismatch.is_mismatch() => Ok(Err(refuse_stored(&mismatch, nothing))),
        Err(error) => Err(error.into()),
    }
}

/// Opens an archive file (`extract`, `init`), decrypting it with `keys` when it is
/// encrypted.
pub(crate) fn open_file(path: &Path, keys: &super::crypt_args::IdentityArgs) -> Result<Opened> {
    let location = Location::File {
        path: path.to_path_buf(),
        not_its_sidecar: None,
    };
    Ok(location.open(&keys.identities())?)
}

/// Says why a downloaded backup cannot be used, when its digest does not match: the
/// outcome (exit 1) of a command that would have used it.
pub(crate) fn refuse_mismatch(opened: &Opened, nothing: &str) -> Option<Outcome> {
    Some(refuse_stored(opened.digest_mismatch.as_ref()?, nothing))
}

/// Why a stored backup is not the one its sidecar vouches for: a refusal (exit 1, and
/// with `--json` the error document).
pub(crate) fn refuse_stored(mismatch: &StoreError, nothing: &str) -> Outcome {
    Outcome::Refused(format!("{}; {nothing}", error_chain(mismatch)))
}

/// Says on standard error how much of a stored backup was read.
pub(crate) fn report_fetched(location: &Location) {
    if let Location::Stored(located) = location {
        eprintln!(
            "fetched {} of {} bytes of {} from {}",
            located.store.bytes_fetched(),
            located.backup.size,
            located.backup.name,
            located.store.describe()
        );
    }
}

/// A target to read backups from (`list`, `prune`): a local one must be an existing
/// directory.
fn open_existing_target(
    target: &str,
    endpoint: Option<&String>,
) -> Result<Box<dyn BackupStore>, StoreError> {
    open_existing_store(
        &target.parse()?,
        &S3Settings {
            endpoint: endpoint.cloned(),
        },
    )
}

/// `create SITE --to TARGET`: a manual backup in a target, recorded in the audit log
/// (with the error when it fails: nothing is listed then).
pub(crate) fn create_to(args: &CreateArgs, global: &GlobalArgs) -> Result<Outcome> {
    // The target as shown and recorded: a key written into it is never repeated.
    let target = &sitepack_format::mask_url_user_info(args.to.as_deref().unwrap_or_default());
    let parsed = args.to.as_deref().unwrap_or_default().parse::<TargetSpec>();
    let new_directory = matches!(&parsed, Ok(TargetSpec::Local(path)) if !path.exists());
    let recipients = args.encrypt.recipients()?;
    let site_arg = SiteArg::parse(&args.site)?;
    let site = crate::site_arg::open_for_backup(&site_arg)?;
    let state_root = site_arg.state_root();
    let options = create_options(args)?;
    let bar = Bar::new(!global.no_progress);
    // A target refused as written is a failed create like any other: recorded.
    let result = parsed
        .and_then(|spec| {
            site.own_dirs()
                .into_iter()
                .try_for_each(|dir| spec.check_outside_site(dir))
                .map(|()| spec)
        })
        .and_then(|spec| {
            open_store(
                &spec,
                &S3Settings {
                    endpoint: args.endpoint.clone(),
                },
            )
        })
        .and_then(|store| {
            let request = BackupRequest {
                site: site.as_ref(),
                options: options.clone(),
                kind: BackupKind::Manual,
                verify_digest: false,
                encrypt_to: recipients.clone(),
            };
            backup_site(&request, store.as_ref(), &bar)
        });
    bar.finish();
    if let Some(warning) = record_stored_backup(state_root, target, &options, result.as_ref()) {
        eprintln!("warning: {warning}");
    }
    let stored = result?;
    if new_directory {
        eprintln!("note: {target} did not exist: it was created as a new target directory");
    }
    if args.json {
        super::print_json(&serde_json::json!({ "target": target, "backup": stored }))?;
    } else {
        let mut out = crate::human_output();
        writeln!(
            out,
            "stored {} in {target} ({} bytes, scope {})",
            stored.name, stored.size, stored.scope
        )?;
        writeln!(
            out,
            "sha256 {}  (recorded beside it in {}.json)",
            stored.sha256, stored.name
        )?;
        if let Some(encryption) = &stored.encryption {
            writeln!(
                out,
                "encrypted with age to {} recipient(s); the archive inside: {} bytes, sha256 {}",
                encryption.recipients.len(),
                encryption.archive_size,
                encryption.archive_sha256
            )?;
        }
        out.flush()?;
    }
    Ok(Outcome::Success)
}

/// List the backups in a target.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// The target: a directory, file://… or s3://bucket/prefix.
    target: String,
    /// Only this site's backups.
    #[arg(long, value_name = "ID")]
    site: Option<SiteId>,
    /// Also show the orphans: archives without their sidecar and sidecars without their
    /// archive (left by interrupted runs), with their age.
    #[arg(long)]
    all: bool,
    /// Print one JSON document on standard output.
    #[arg(long)]
    pub(crate) json: bool,
    /// The S3 endpoint; default AWS_ENDPOINT_URL, else AWS.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
}

pub(crate) fn list(args: &ListArgs) -> Result<Outcome> {
    let store = open_existing_target(&args.target, args.endpoint.as_ref())?;
    let listing = list_backups(store.as_ref(), args.site.as_ref())?;
    let backups = &listing.backups;
    for problem in &listing.problems {
        eprintln!("warning: {}", error_chain(problem));
    }
    let now = failpoint::now();
    if !args.all && !listing.orphans.is_empty() {
        eprintln!(
            "note: {} has {} orphan(s), half backups left by interrupted runs (never listed; prune removes them once older than --orphan-grace, 24h by default): `sitepack list {} --all` shows them",
            store.describe(),
            listing.orphans.len(),
            args.target
        );
    }
    if args.json {
        let mut document = serde_json::json!({
            "target": store.describe(),
            "backups": backups,
            "unreadable": listing.problems.iter().map(|p| error_chain(p)).collect::<Vec<_>>(),
        });
        if args.all {
            document["orphans"] = listing
                .orphans
                .iter()
                .map(|o| {
                    let mut value = serde_json::to_value(o).unwrap_or_default();
                    value["age_seconds"] = o.age_at(now).into();
                    value
                })
                .collect::<Vec<_>>()
                .into();
        }
        super::print_json(&document)?;
        return Ok(Outcome::Success);
    }
    let mut out = crate::human_output();
    if backups.is_empty() {
        writeln!(out, "{}: no backups", store.describe())?;
    } else {
        let rows: Vec<[String; 8]> = backups
            .iter()
            .map(|b| {
                [
                    b.created_at.to_string(),
                    b.scope.to_string(),
                    kind_name(b.kind).to_owned(),
                    b.encryption
                        .as_ref()
                        .map_or("-", |e| e.method.as_str())
                        .to_owned(),
                    b.size.to_string(),
                    b.label.clone().unwrap_or_else(|| "-".to_owned()),
                    b.sha256.to_string()[..12].to_owned(),
                    b.name.clone(),
                ]
            })
            .collect();
        print_table(
            &mut out,
            [
                "CREATED",
                "SCOPE",
                "KIND",
                "ENCRYPTED",
                "SIZE",
                "LABEL",
                "SHA256",
                "NAME",
            ],
            &rows,
        )?;
    }
    if args.all {
        print_orphans(&mut out, &listing.orphans, now)?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// The orphans, under a header (`list --all`).
fn print_orphans(out: &mut dyn Write, orphans: &[Orphan], now: Timestamp) -> io::Result<()> {
    if orphans.is_empty() {
        return writeln!(out, "no orphans");
    }
    writeln!(
        out,
        "\norphans (half backups, never listed above; prune removes them once older than --orphan-grace):"
    )?;
    let rows: Vec<[String; 4]> = orphans
        .iter()
        .map(|o| {
            [
                o.age_at(now)
                    .map_or_else(|| "unknown".to_owned(), format_age),
                orphan_kind_name(o.kind).to_owned(),
                o.size.to_string(),
                o.key.clone(),
            ]
        })
        .collect();
    print_table(out, ["AGE", "ORPHAN", "SIZE", "NAME"], &rows)
}

fn orphan_kind_name(kind: OrphanKind) -> &'static str {
    match kind {
        OrphanKind::ArchiveWithoutSidecar => "archive without sidecar",
        OrphanKind::SidecarWithoutArchive => "sidecar without archive",
    }
}

/// A header and rows in columns as wide as their widest cell (SIZE right-aligned), so
/// long scopes and labels never shift the columns after them. Cells come from the store
/// (object names, labels): control characters are shown escaped.
fn print_table<const N: usize>(
    out: &mut dyn Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let rows: Vec<[String; N]> = rows
        .iter()
        .map(|row| row.each_ref().map(|cell| printable(cell)))
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; N]| -> io::Result<()> {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = " ".repeat(width - cell.chars().count());
            if index > 0 {
                text.push_str("  ");
            }
            if header[index] == "SIZE" {
                text.push_str(&pad);
                text.push_str(cell);
            } else {
                text.push_str(cell);
                if index + 1 < N {
                    text.push_str(&pad);
                }
            }
        }
        writeln!(out, "{text}")
    };
    line(out, header)?;
    for row in &rows {
        line(out, std::array::from_fn(|i| row[i].as_str()))?;
    }
    Ok(())
}

fn kind_name(kind: BackupKind) -> &'static str {
    match kind {
        BackupKind::Manual => "manual",
        BackupKind::Auto => "auto",
    }
}

/// Remove the backups of one site that a retention policy does not keep.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Rules are restic's, all in UTC, applied to each group (by default a site and scope) on its own: they are OR-ed; --keep-daily N keeps the newest backup of each of the last N days that have backups (weeks are ISO weeks); --keep-within is measured back from the newest backup. The newest backup of each group is never removed; manual backups are never removed unless --include-manual.")]
pub(crate) struct PruneArgs {
    /// The target: a directory, file://… or s3://bucket/prefix.
    target: String,
    /// The site whose backups to prune (a site id: never empty).
    #[arg(long, value_name = "ID")]
    site: SiteId,
    /// What each group of the site's backups is: rules apply to each group on its own
    /// (its newest backup, its keep slots). A comma list of site, scope, label.
    #[arg(long, value_name = "LIST", default_value = "site,scope")]
    group_by: GroupBy,
    /// Keep the N newest backups.
    #[arg(long, value_name = "N")]
    keep_last: Option<u32>,
    /// Keep the newest backup of each of the last N hours that have one.
    #[arg(long, value_name = "N")]
    keep_hourly: Option<u32>,
    /// Keep the newest backup of each of the last N days that have one.
    #[arg(long, value_name = "N")]
    keep_daily: Option<u32>,
    /// Keep the newest backup of each of the last N ISO weeks that have one.
    #[arg(long, value_name = "N")]
    keep_weekly: Option<u32>,
    /// Keep the newest backup of each of the last N months that have one.
    #[arg(long, value_name = "N")]
    keep_monthly: Option<u32>,
    /// Keep the newest backup of each of the last N years that have one.
    #[arg(long, value_name = "N")]
    keep_yearly: Option<u32>,
    /// Keep every backup within this long of the newest (e.g. 2y5m7d3h).
    #[arg(long, value_name = "DURATION")]
    keep_within: Option<KeepWithin>,
    /// Manual backups take part too (they are kept otherwise).
    #[arg(long)]
    include_manual: bool,
    /// Remove the site's orphans (an archive without its sidecar, a sidecar without its
    /// archive: left by interrupted runs) once they are older than this (e.g. 24h, 2d,
    /// 90m, 0); a younger one may be an upload still running.
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    orphan_grace: OrphanGrace,
    /// Show what would be kept and removed, and why; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON document on standard output.
    #[arg(long)]
    pub(crate) json: bool,
    /// The S3 endpoint; default AWS_ENDPOINT_URL, else AWS.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Also record the prune in this site directory's audit log (a prune run where the
    /// site is, e.g. by its own cron job).
    #[arg(long, value_name = "SITE")]
    site_dir: Option<PathBuf>,
}

pub(crate) fn prune_command(args: &PruneArgs) -> Result<Outcome> {
    let policy = RetentionPolicy {
        keep_last: args.keep_last,
        keep_hourly: args.keep_hourly,
        keep_daily: args.keep_daily,
        keep_weekly: args.keep_weekly,
        keep_monthly: args.keep_monthly,
        keep_yearly: args.keep_yearly,
        keep_within: args.keep_within,
        include_manual: args.include_manual,
    };
    if policy.is_empty() {
        anyhow::bail!(
            "give at least one --keep-* rule; prune never removes backups without a rule that says what to keep"
        );
    }
    let store = open_existing_target(&args.target, args.endpoint.as_ref())?;
    let result = prune(
        store.as_ref(),
        &args.site,
        &policy,
        args.group_by,
        args.orphan_grace,
        args.dry_run,
        failpoint::now(),
    );
    if let Some(site_dir) = &args.site_dir {
        let run = PruneRun {
            target: &store.describe(),
            site: &args.site,
            policy: &policy,
            group_by: args.group_by,
            grace: args.orphan_grace,
            dry_run: args.dry_run,
        };
        if let Some(warning) = record_prune(site_dir, &run, result.as_ref()) {
            eprintln!("warning: {warning}");
        }
    }
    let report = result?;
    for problem in &report.problems {
        eprintln!("warning: {}", error_chain(problem));
    }
    warn_future_dated(&report.decisions);
    if args.json {
        super::print_json(&PruneOutput {
            target: store.describe(),
            site: &args.site,
            group_by: args.group_by,
            orphan_grace: args.orphan_grace,
            dry_run: args.dry_run,
            decisions: &report.decisions,
            orphans: &report.orphans,
        })?;
    } else {
        let mut out = crate::human_output();
        print_decisions(&mut out, &report.decisions, args.dry_run)?;
        print_orphan_decisions(&mut out, &report.orphans, args.orphan_grace, args.dry_run)?;
    }
    Ok(Outcome::Success)
}

/// Names each backup dated after the clock: its machine's clock was wrong, and it
/// stays the newest of its group until the clock passes it.
fn warn_future_dated(decisions: &[PruneDecision]) {
    for d in decisions.iter().filter(|d| d.future_dated) {
        eprintln!(
            "warning: {} is dated {}, in the future (a wrong clock where it was made?); it counts as the newest of {}, and --keep-within is measured from the newest backup that is not in the future",
            d.backup.name, d.backup.created_at, d.group
        );
    }
}

#[derive(Serialize)]
struct PruneOutput<'a> {
    target: String,
    site: &'a SiteId,
    group_by: GroupBy,
    orphan_grace: OrphanGrace,
    dry_run: bool,
    decisions: &'a [PruneDecision],
    orphans: &'a [OrphanDecision],
}

/// The orphans a prune (or an automatic run's retention) found: removed, or kept until
/// they are older than the grace period.
fn print_orphan_decisions(
    out: &mut dyn Write,
    orphans: &[OrphanDecision],
    grace: OrphanGrace,
    dry_run: bool,
) -> io::Result<()> {
    if orphans.is_empty() {
        return Ok(());
    }
    writeln!(out, "orphans (half backups left by interrupted runs):")?;
    let remove = if dry_run { "would remove" } else { "removed" };
    for d in orphans {
        let age = d.age_seconds.map_or_else(
            || "unknown age".to_owned(),
            |a| format!("age {}", format_age(a)),
        );
        let kind = orphan_kind_name(d.orphan.kind);
        if d.remove {
            writeln!(out, "  {remove:<12} {}  ({kind}, {age})", d.orphan.key)?;
        } else {
            writeln!(
                out,
                "  {:<12} {}  ({kind}, {age}: within --orphan-grace {grace}, maybe an upload still running)",
                "keep", d.orphan.key
            )?;
        }
    }
    Ok(())
}

fn print_decisions(
    out: &mut dyn Write,
    decisions: &[PruneDecision],
    dry_run: bool,
) -> io::Result<()> {
    let (keep, remove) = if dry_run {
        ("keep", "would remove")
    } else {
        ("kept", "removed")
    };
    let mut group = None;
    for d in decisions {
        if group != Some(&d.group) {
            writeln!(out, "{}:", d.group)?;
            group = Some(&d.group);
        }
        let reasons: Vec<String> = d
            .reasons
            .iter()
            .map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect();
        if d.keep {
            writeln!(
                out,
                "  {keep:<12} {}  ({})",
                d.backup.name,
                reasons.join(", ")
            )?;
        } else {
            writeln!(out, "  {remove:<12} {}", d.backup.name)?;
        }
    }
    let removed = decisions.iter().filter(|d| !d.keep).count();
    writeln!(
        out,
        "{} kept, {removed} {remove}",
        decisions.len() - removed
    )
}

/// Automatic backups.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AutoCommand {
    /// Create → store → verify the stored digest → prune → audit, as
    /// SITE/.sitepack/config.toml says.
    Run(AutoRunArgs),
}

/// `auto run SITE`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Cron: */5 * * * * sitepack auto run /srv/site --if-due --on-failure 'mail -s \"backup failed\" ops@example.com'
With --if-due, a backup is made only when the schedule says one is due since the newest automatic backup of the site in the target (its listing, not the audit log, says what exists): one per period, and one catch-up run after downtime. A backup dated after the current time (a clock that was wrong) is named in a warning and left out.
Exit status: 0 done (or not due), 2 the backup failed (nothing is listed; the audit log says why), or it was stored and verified but retention failed (the run counts as a success; the audit event has retention_error). Every failure — a missing site, another auto run holding .sitepack/auto.lock, a restore holding .sitepack/lock, a bad config, an unreachable target, a failed retention — exits 2 and runs --on-failure; a failed run is recorded as a failed `auto` event (where the site exists).")]
pub(crate) struct AutoRunArgs {
    /// The site directory, or a database site's descriptor (a TOML file).
    site: PathBuf,
    /// Only when a backup is due.
    #[arg(long)]
    if_due: bool,
    /// Run this shell command when the backup fails, with SITEPACK_ERROR, SITEPACK_SITE
    /// and SITEPACK_TARGET in its environment.
    #[arg(long, value_name = "CMD")]
    on_failure: Option<String>,
    /// Print one JSON document on standard output.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn auto(command: &AutoCommand, global: &GlobalArgs) -> Result<Outcome> {
    let AutoCommand::Run(args) = command;
    let report_time = failpoint::now();
    let options = AutoRunOptions {
        now: report_time,
        if_due: args.if_due,
        on_failure: args.on_failure.as_deref(),
    };
    let bar = Bar::new(!global.no_progress);
    let site_arg = SiteArg::parse(&args.site)?;
    let open = || site_arg.open_source();
    let known = match &site_arg {
        SiteArg::Directory(root) => root.join("site.json").exists(),
        SiteArg::Database(site) => {
            site.create_state_dir()?;
            true
        }
    };
    let site = AutoSite {
        state_root: site_arg.state_root(),
        open: &open,
        known,
    };
    let report = auto_run(&site, &options, &bar);
    bar.finish();
    let report = match report {
        Ok(report) => report,
        Err(failure) => {
            let _ = super::report_recovery(failure.recovered.as_ref());
            for warning in &failure.warnings {
                eprintln!("warning: {warning}");
            }
            return Err(anyhow::anyhow!(
                "auto run of {} failed: {}",
                args.site.display(),
                failure.error
            ));
        }
    };
    super::report_recovery(report.recovered.as_ref())?;
    if let Some(warning) = &report.failure_command_warning {
        eprintln!("warning: {warning}");
    }
    if report.overdue {
        eprintln!(
            "warning: the last successful automatic backup ({}) is older than two periods of the schedule ({}): runs were missed",
            report
                .last_success
                .map_or_else(|| "never".to_owned(), |t| t.to_string()),
            report.schedule
        );
    }
    if let Some(future) = report.backup_in_future {
        eprintln!(
            "warning: the target holds an automatic backup dated {future}, after the current time {report_time}: the clock was (or is) wrong; what is due is decided by the current clock, without it",
        );
    }
    if let Some(warning) = &report.audit_warning {
        eprintln!("warning: {warning}");
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    warn_future_dated(&report.retention);
    if args.json {
        super::print_json(&report)?;
        return Ok(retention_outcome(&report));
    }
    let mut out = crate::human_output();
    match &report.stored {
        None => writeln!(
            out,
            "not due ({}); next at {}",
            report.schedule,
            report
                .next_due
                .map_or_else(|| "never".to_owned(), |t| t.to_string())
        )?,
        Some(stored) => {
            writeln!(
                out,
                "stored {} ({} bytes), digest verified",
                stored.name, stored.size
            )?;
            if !report.retention.is_empty() {
                print_decisions(&mut out, &report.retention, false)?;
            }
            print_orphan_decisions(&mut out, &report.orphans, OrphanGrace::default(), false)?;
        }
    }
    if let Some(verify) = &report.verify {
        print_verification(&mut out, verify)?;
    }
    out.flush()?;
    Ok(retention_outcome(&report))
}

/// What `auto run`'s scheduled verification found.
fn print_verification(out: &mut dyn Write, verify: &sitepack_store::CheckReport) -> io::Result<()> {
    writeln!(
        out,
        "verified the site's backups in {}: {}; {} backup(s), {} read fully: {}",
        verify.target,
        verify.read_data,
        verify.summary.backups,
        verify.summary.data_read,
        if verify.sound { "sound" } else { "DAMAGED" }
    )?;
    for failure in verify.failures() {
        writeln!(out, "  {failure}")?;
    }
    Ok(())
}

/// A run whose backup was stored but whose retention failed exits 2, naming both; a
/// scheduled verification that found damage exits 1 (a verdict), or 2 when a backup
/// could not be checked.
fn retention_outcome(report: &sitepack_store::AutoReport) -> Outcome {
    if let Some(verify) = report.verify.as_ref().filter(|v| !v.sound) {
        let message = sitepack_store::failure_message(verify);
        return if verify.exit_code() == 1 {
            eprintln!("error: verification found damage: {message}");
            Outcome::Invalid
        } else {
            Outcome::FailedAfterReport(format!("verification incomplete: {message}"))
        };
    }
    if let (Some(stored), Some(error)) = (&report.stored, &report.retention_error) {
        return Outcome::FailedAfterReport(format!(
            "{} was stored and verified (recorded as this run's success), but retention then failed: {error}",
            stored.name
        ));
    }
    Outcome::Success
}
