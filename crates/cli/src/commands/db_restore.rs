//! `restore`, `status`, `keep`, `revert` and `preview --against` for a database site
//! (SITE is a descriptor): the plan and the review come from `sitepack_db`
//! (`restore`, `review`); this module parses, confirms and prints.

use std::io::{self, BufRead, Write};
use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use sitepack_db::request::{self, Preparation, Prepared};
use sitepack_db::restore::KeyChange;
use sitepack_db::review::{self, PendingDbRestore, ReviewedRestore};
use sitepack_db::{DatabaseSite, DbError, Descriptor, Mode, RestoreOptions, RestorePlan};
use sitepack_format::database::TenantValue;
use sitepack_reader::Archive;

use crate::Outcome;

fn refused(command: &str, error: DbError) -> Result<Outcome> {
    match request::refusal_message(command, &error) {
        Some(message) => Ok(Outcome::Refused(message)),
        None => Err(error.into()),
    }
}

/// Says the warnings a library step gave (the audit log could not be written).
fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// Refuses the options of a directory restore that a database site does not take (yet),
/// and `--as` or `--allow-other-site` alone (writing another tenant's rows is asked for
/// with both).
pub(crate) fn refuse_directory_options(
    plan: &super::restore_plan::PlanArgs,
    archive: &Archive,
    site: &DatabaseSite,
) -> Option<Outcome> {
    if plan.rewrite_given() {
        return Some(Outcome::Refused(
            "restore refused; nothing was changed: --rewrite-url and --no-rewrite are not \
             supported for a database site (its rows are restored as they are)"
                .to_owned(),
        ));
    }
    match (plan.as_id(), plan.allow_other_site()) {
        (Some(id), false) => {
            return Some(Outcome::Refused(format!(
                "restore refused; nothing was changed: --as {id} writes the archive's rows \
                 as tenant {id} with fresh keys: give --allow-other-site too"
            )));
        }
        (None, true) => {
            return Some(Outcome::Refused(
                "restore refused; nothing was changed: --allow-other-site writes another \
                 tenant's archive as this site's tenant with fresh keys: give --as ID too (ID: \
                 the descriptor's tenant)"
                    .to_owned(),
            ));
        }
        _ => {}
    }
    if !plan.no_files()
        && let Err(error) = sitepack_db::files::restored_area(site.descriptor(), archive)
    {
        return Some(Outcome::Refused(format!(
            "restore refused; nothing was changed: {error}"
        )));
    }
    None
}

/// `restore --json` for a database site.
#[derive(Debug, Serialize)]
struct RestoreOutput<'a> {
    site: &'a Path,
    dry_run: bool,
    plan: &'a RestorePlan,
    /// Stale snapshots removed first (a restore that never committed).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    removed_snapshots: &'a [String],
    #[serde(skip_serializing_if = "<[review::FinishedFiles]>::is_empty")]
    files_finished: &'a [review::FinishedFiles],
    restore: Option<&'a ReviewedRestore>,
}

/// What `restore` asks of a database site.
// Each bool is a switch of the command line.
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct RestoreRequest<'a> {
    pub(crate) site_path: &'a Path,
    pub(crate) archive_name: &'a str,
    /// `restore`, or `init` (a new tenant from a template), for messages.
    pub(crate) command: &'static str,
    /// The mode, `--as` (`as_tenant`), and `init`'s `new_tenant`.
    pub(crate) options: RestoreOptions,
    pub(crate) dry_run: bool,
    pub(crate) yes: bool,
    pub(crate) json: bool,
    /// Whether the archive's uploaded files are restored too (not `--no-files`).
    pub(crate) files: bool,
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Replace => "replace",
        Mode::Merge => "merge",
    }
}

/// Plans, shows, confirms and restores `archive` (already validated) into the site.
pub(crate) fn restore(
    request: &RestoreRequest<'_>,
    site: &DatabaseSite,
    archive: &Archive,
) -> Result<Outcome> {
    let descriptor = site.descriptor();
    let asked = request::RestoreRequest {
        archive_name: request.archive_name,
        options: request.options.clone(),
        files: request.files,
        dry_run: request.dry_run,
    };
    let mut warnings = Vec::new();
    let preparation =
        request::prepare_restore(descriptor, archive, &asked, request.command, &mut warnings);
    print_warnings(&warnings);
    let mut prepared = match preparation? {
        Preparation::Planned(prepared) => prepared,
        Preparation::Refused { error, settled } => {
            if let Some(settled) = &settled {
                print_settled(settled);
            }
            return refused(request.command, error);
        }
    };
    print_settled(&prepared.settled);
    let plan = &prepared.plan;
    if !request.json {
        show_plan(
            request,
            descriptor,
            archive,
            plan,
            prepared.refusal.is_some(),
        )?;
    }
    let mut warnings = Vec::new();
    if let Some(error) = prepared.refusal.take() {
        let error = prepared.refuse(descriptor, archive, request.command, error, &mut warnings);
        print_warnings(&warnings);
        return refused(request.command, error);
    }
    let output = |prepared: &Prepared, restore: Option<&ReviewedRestore>| {
        super::print_json(&RestoreOutput {
            site: request.site_path,
            dry_run: request.dry_run,
            plan: &prepared.plan,
            removed_snapshots: &prepared.settled.removed,
            files_finished: &prepared.settled.files_finished,
            restore,
        })
    };
    if request.dry_run {
        if request.json {
            output(&prepared, None)?;
        }
        return Ok(Outcome::Success);
    }
    if !request.yes && !confirmed(plan)? {
        let error = DbError::Review {
            problem: "not confirmed".to_owned(),
        };
        let error = prepared.refuse(descriptor, archive, request.command, error, &mut warnings);
        print_warnings(&warnings);
        return refused(request.command, error);
    }
    let result = prepared.restore(descriptor, archive, &asked, &mut warnings);
    print_warnings(&warnings);
    let done = match result {
        Some(Ok(done)) => done,
        Some(Err(e)) => return refused(request.command, e),
        None => return Ok(Outcome::Success),
    };
    if request.json {
        output(&prepared, Some(&done))?;
    } else {
        print_restored(request.site_path, &done)?;
    }
    Ok(match &done.files_unfinished {
        Some(problem) => Outcome::FailedAfterReport(problem.clone()),
        None => Outcome::Success,
    })
}

fn print_restored(site: &Path, done: &ReviewedRestore) -> Result<()> {
    let mut out = crate::human_output();
    writeln!(
        out,
        "restored: {} row(s) written, {} deleted, {} already as in the archive",
        done.summary.written, done.summary.deleted, done.summary.unchanged
    )?;
    if let Some(files) = &done.files {
        writeln!(out, "uploaded files: {}", files_line(files))?;
    }
    if done.files_unfinished.is_some() {
        writeln!(out, "uploaded files: not all written (see the error below)")?;
    }
    writeln!(out, "snapshot: {}", done.snapshot_path.display())?;
    writeln!(
        out,
        "pending review: check the site, then `sitepack keep {site}` to accept or `sitepack revert {site}` to undo",
        site = site.display()
    )?;
    out.flush()?;
    Ok(())
}

/// The plan, and the uploaded files it changes, in words.
fn show_plan(
    request: &RestoreRequest<'_>,
    descriptor: &Descriptor,
    archive: &Archive,
    plan: &RestorePlan,
    refused: bool,
) -> Result<()> {
    let note = match (refused, request.dry_run) {
        (true, _) => " (refused: nothing is changed)",
        (false, true) => " (dry run: nothing is changed)",
        (false, false) => "",
    };
    print_plan(&mut crate::human_output(), request.site_path, plan, note)?;
    if request.files {
        print_files_plan(descriptor, archive, plan.mode)?;
    }
    Ok(())
}

/// Which uploaded files the restore changes, in words.
fn print_files_plan(descriptor: &Descriptor, archive: &Archive, mode: Mode) -> Result<()> {
    let (Ok(Some(area)), Some(uploads)) = (
        sitepack_db::files::restored_area(descriptor, archive),
        &descriptor.files_dir,
    ) else {
        return Ok(());
    };
    let count = archive
        .entries()?
        .iter()
        .filter(|e| e.path.as_str().starts_with(&format!("site/files/{area}")))
        .count();
    let place = uploads.join(&area);
    let what = match mode {
        Mode::Replace => "replace what",
        Mode::Merge => "are written over what",
    };
    writeln!(
        crate::human_output(),
        "  uploaded files: the archive's {count} file(s) {what} {} holds (after the rows commit; kept in the snapshot for a revert)",
        place.display()
    )?;
    Ok(())
}

/// What [`review::settle`] repaired, on standard error.
fn print_settled(settled: &review::Settled) {
    for name in &settled.removed {
        eprintln!("removed the snapshot of a restore that never committed: {name}");
    }
    for finished in &settled.files_finished {
        let step = match finished.step {
            sitepack_db::files::FilesStep::Restore => "restore",
            sitepack_db::files::FilesStep::Revert => "revert",
        };
        eprintln!(
            "finished the {step} of {} (stopped after its database commit): uploaded files {}",
            finished.snapshot,
            files_line(&finished.applied)
        );
    }
    if let Some(problem) = &settled.files_unfinished {
        eprintln!("warning: {problem}");
    }
}

fn files_line(files: &sitepack_db::files::FilesApplied) -> String {
    format!(
        "{} written, {} removed, {} already as they should be",
        files.written, files.removed, files.unchanged
    )
}

/// The plan, its header followed by `note` (what happens to the site: a dry run, a
/// refusal).
fn print_plan(out: &mut dyn Write, site: &Path, plan: &RestorePlan, note: &str) -> Result<()> {
    let as_tenant = plan
        .as_tenant
        .as_ref()
        .map(|t| format!(", as tenant {t} with fresh keys,"))
        .unwrap_or_default();
    writeln!(
        out,
        "restore of tenant {} ({}){as_tenant} into {} ({} database), {} mode{}:",
        plan.tenant,
        plan.scope,
        site.display(),
        plan.engine,
        mode_name(plan.mode),
        note
    )?;
    for table in &plan.tables {
        let now = table
            .target_rows
            .map_or_else(|| "-".to_owned(), |n| n.to_string());
        writeln!(
            out,
            "  {:<24} {:<9} {:>8} row(s) in the archive, {:>8} of the tenant's now",
            table.name,
            table.role.to_string(),
            table.archive_rows,
            now
        )?;
        for note in &table.columns {
            let change = match &note.change {
                sitepack_db::restore::ColumnChange::Defaulted => {
                    "not in the archive: gets its default".to_owned()
                }
                sitepack_db::restore::ColumnChange::Discarded => {
                    "not in the database: its values are left out".to_owned()
                }
                sitepack_db::restore::ColumnChange::Widened { from, to } => {
                    format!("widened from {from} to {to}")
                }
                sitepack_db::restore::ColumnChange::Redacted => {
                    "redacted as a secret in the archive".to_owned()
                }
                sitepack_db::restore::ColumnChange::Generated => {
                    "generated by the database".to_owned()
                }
            };
            writeln!(out, "    column {}: {change}", note.column)?;
        }
        for rekeyed in plan.rekeyed.iter().filter(|c| c.table == table.name) {
            let change = match rekeyed.change {
                KeyChange::Tenant => "the new tenant",
                KeyChange::Offset => "fresh integer keys, above the database's largest",
                KeyChange::Uuid => "fresh UUIDs",
            };
            match &rekeyed.follows {
                Some(key) => writeln!(
                    out,
                    "    column {}: {change}, following {key}",
                    rekeyed.column
                )?,
                None => writeln!(out, "    column {}: {change}", rekeyed.column)?,
            }
        }
    }
    for refusal in &plan.refusals {
        writeln!(out, "  refused: {}", refusal.message)?;
    }
    for reason in &plan.revert_refused {
        writeln!(
            out,
            "  warning: `sitepack revert` could not undo this merge (only `keep` would end its review): {}",
            reason.message
        )?;
    }
    out.flush()?;
    Ok(())
}

fn confirmed(plan: &RestorePlan) -> io::Result<bool> {
    let mut err = io::stderr().lock();
    write!(
        err,
        "restore these {} table(s) ({} mode)? A snapshot of the rows is taken first; `sitepack revert` undoes it. [y/N] ",
        plan.tables.len(),
        mode_name(plan.mode)
    )?;
    err.flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// `status --json` for a database site.
#[derive(Debug, Serialize)]
struct StatusOutput<'a> {
    site: &'a Path,
    pending: Option<&'a PendingDbRestore>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    removed_snapshots: &'a [String],
    /// Uploaded files of a restore or revert stopped after its commit, applied now.
    #[serde(skip_serializing_if = "<[review::FinishedFiles]>::is_empty")]
    files_finished: &'a [review::FinishedFiles],
    /// Uploaded files that could not all be written (why, and what to do).
    #[serde(skip_serializing_if = "Option::is_none")]
    files_unfinished: Option<&'a str>,
}

/// `status SITE.toml`: the pending restore, as the database says (stale snapshots are
/// removed when no other command holds the site).
pub(crate) fn status(site_path: &Path, site: &DatabaseSite, json: bool) -> Result<Outcome> {
    // Another tenant's state directory is refused (exit 1); what the repair meets is an
    // error (exit 2): status cannot say what is pending.
    if let Err(e) = review::check_state_dir_owner(site.descriptor()) {
        return refused("status", e);
    }
    let settled = request::restore_status(site.descriptor())?;
    if json {
        super::print_json(&StatusOutput {
            site: site_path,
            pending: settled.pending.as_ref(),
            removed_snapshots: &settled.removed,
            files_finished: &settled.files_finished,
            files_unfinished: settled.files_unfinished.as_deref(),
        })?;
        return Ok(Outcome::Success);
    }
    print_settled(&settled);
    let mut out = crate::human_output();
    match &settled.pending {
        None => writeln!(out, "{}: no restore pending review", site_path.display())?,
        Some(pending) => {
            writeln!(
                out,
                "{}: a restore is pending review ({} mode, of {}, started {})",
                site_path.display(),
                pending.mode,
                pending.archive,
                pending.started_at
            )?;
            if pending.marker_lost {
                writeln!(
                    out,
                    "its record in the database ({}) had been deleted or dropped: written back from the copy beside its snapshot",
                    sitepack_db::review::STATE_TABLE
                )?;
            }
            if pending.snapshot_present {
                writeln!(out, "snapshot: {}", pending.snapshot)?;
            } else {
                writeln!(
                    out,
                    "snapshot: {} is not in this state directory (restored from another machine?): revert it there, or keep it",
                    pending.snapshot
                )?;
            }
            if settled.files_unfinished.is_some() {
                writeln!(
                    out,
                    "its uploaded files are not all in place (see the warning): fix that and run `sitepack status {site}` again, or undo it with `sitepack revert {site}`",
                    site = site_path.display()
                )?;
            } else {
                writeln!(
                    out,
                    "accept it with `sitepack keep {site}`, or undo it with `sitepack revert {site}`",
                    site = site_path.display()
                )?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// `keep --json` / `revert --json` for a database site.
#[derive(Debug, Serialize)]
struct SettledOutput<'a> {
    site: &'a Path,
    settled: &'a str,
    restore: &'a PendingDbRestore,
    #[serde(skip_serializing_if = "Option::is_none")]
    reverted: Option<&'a sitepack_db::RestoreSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<&'a sitepack_db::files::FilesApplied>,
}

/// `keep SITE.toml`.
pub(crate) fn keep(site_path: &Path, site: &DatabaseSite, json: bool) -> Result<Outcome> {
    let mut warnings = Vec::new();
    let result = request::keep_restore(site.descriptor(), &mut warnings);
    print_warnings(&warnings);
    let pending = match result {
        Ok(pending) => pending,
        Err(e) => return refused("keep", e),
    };
    if json {
        super::print_json(&SettledOutput {
            site: site_path,
            settled: "kept",
            restore: &pending,
            reverted: None,
            files: None,
        })?;
    } else {
        writeln!(
            crate::human_output(),
            "kept: the restore of {} stays; its snapshot was removed",
            pending.archive
        )?;
    }
    Ok(Outcome::Success)
}

/// `revert SITE.toml`.
pub(crate) fn revert(site_path: &Path, site: &DatabaseSite, json: bool) -> Result<Outcome> {
    let mut warnings = Vec::new();
    let result = request::revert_restore(site.descriptor(), &mut warnings);
    print_warnings(&warnings);
    let reverted = match result {
        Ok(reverted) => reverted,
        Err(e) => return refused("revert", e),
    };
    if json {
        super::print_json(&SettledOutput {
            site: site_path,
            settled: "reverted",
            restore: &reverted.pending,
            reverted: Some(&reverted.summary),
            files: reverted.files.as_ref(),
        })?;
    } else {
        writeln!(
            crate::human_output(),
            "reverted: the tenant's rows are back as before the restore of {} ({} row(s) written, {} deleted, {} already so); its snapshot was removed",
            reverted.pending.archive,
            reverted.summary.written,
            reverted.summary.deleted,
            reverted.summary.unchanged
        )?;
        if let Some(files) = &reverted.files {
            writeln!(
                crate::human_output(),
                "uploaded files put back: {}",
                files_line(files)
            )?;
        }
    }
    Ok(Outcome::Success)
}

/// `preview --against SITE.toml`: both modes planned against the database.
#[derive(Debug, Serialize)]
pub(crate) struct DbAgainst {
    site: std::path::PathBuf,
    #[serde(flatten)]
    plans: request::BothPlans,
}

impl DbAgainst {
    /// Plans both modes (nothing is changed), `--as` `as_tenant` when given.
    pub(crate) fn plan(
        site_path: &Path,
        site: &DatabaseSite,
        archive: &Archive,
        as_tenant: Option<&TenantValue>,
    ) -> Result<Self> {
        Ok(Self {
            site: site_path.to_path_buf(),
            plans: request::BothPlans::plan(site.descriptor(), archive, as_tenant)?,
        })
    }

    /// Whether a restore would be refused now.
    pub(crate) fn refused(&self) -> bool {
        self.plans.refused()
    }

    /// Prints both plans.
    pub(crate) fn print(&self) -> Result<()> {
        let mut out = crate::human_output();
        writeln!(
            out,
            "\nrestoring into {} (nothing has been changed):",
            self.site.display()
        )?;
        if let Some(pending) = &self.plans.pending_restore {
            writeln!(
                out,
                "  a restore (of {}) is pending review: keep or revert it first",
                pending.archive
            )?;
        }
        print_plan(&mut out, &self.site, &self.plans.merge, "")?;
        print_plan(&mut out, &self.site, &self.plans.replace, "")?;
        Ok(())
    }
}
