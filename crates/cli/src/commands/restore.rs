//! `sitepack restore ARCHIVE SITE`: validate, plan, confirm, then restore under a
//! snapshot; the restore stays pending review until `keep` or `revert`.

use std::fs;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use sitepack_reader::Archive;
use sitepack_restore::{Applied, Plan, Refusal, RestoreError, RestoreMode};
use sitepack_site::access::{Create, Read};
use sitepack_site::{Recovered, SiteError, SiteState};

use super::restore_plan::{PlanArgs, print_plan};
use crate::progress::Bar;
use crate::{GlobalArgs, Outcome};

/// Restore an archive into a site (or an empty directory), pending review.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The archive is validated first; nothing changes unless it is valid.
Without --yes, a terminal is asked to confirm after the plan is shown; without a terminal, --yes is required.
Before anything changes, every path the restore touches is copied into SITE/.sitepack/snapshots/. The restore then stays pending review: `sitepack keep SITE` accepts it, `sitepack revert SITE` puts the site back byte for byte. A kill at any point is undone by the next sitepack command on SITE.
SITE may be a database site's descriptor (SITE.toml): the tenant's rows are restored in one transaction. Inside it, before anything changes, a snapshot of the rows the restore replaces is written into the state directory's .sitepack/db-snapshots/, and a pending marker (a row of sitepack_restore_state) is committed with the rows: `sitepack keep SITE.toml` accepts, `sitepack revert SITE.toml` puts the rows back exactly. While one is pending, another restore is refused (from any machine using the database). The archive's uploaded files are restored into the descriptor's [files] dir under the same review (staged first, applied once the rows commit; a kill in between is finished by the next command); --no-files restores the rows alone. --rewrite-url and --no-rewrite are refused there. An archive of another tenant is refused unless --allow-other-site --as ID (ID: the descriptor's tenant): its rows are written as that tenant with fresh keys (integer and UUID keys renumbered, every reference to them followed; text keys and reference tables kept); a full archive only.
Database sites: merge inserts the archive's rows and UPDATES the rows with the same primary key to the archive's values (nothing is deleted); it is not an \"insert, skipping duplicates\". replace deletes the tenant's rows of the archive's scope first.
Exit status: 0 restored (or nothing to do, or --dry-run), 1 invalid archive or refused (nothing changed), 2 an error.")]
pub(crate) struct RestoreArgs {
    /// The archive file, or a stored backup (an s3://… or file://… URL, or a name with
    /// --from TARGET).
    archive: PathBuf,
    #[command(flatten)]
    source: super::stored::SourceArgs,
    #[command(flatten)]
    keys: super::crypt_args::IdentityArgs,
    /// The site directory (or an empty or new directory: a sandbox; a new one is made,
    /// and the plan says so), or a database site's descriptor (a TOML file).
    site: PathBuf,
    /// merge: archive documents and records (a database site: rows, by primary key)
    /// replace their counterparts, nothing else changes. replace: the archive's scope
    /// becomes exactly the archive's content.
    #[arg(long, value_enum, default_value_t = ModeArg::Merge)]
    mode: ModeArg,
    /// Show the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Print one JSON document on standard output.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    limits: super::validate::LimitArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Merge,
    Replace,
}

fn mode_of(mode: ModeArg) -> RestoreMode {
    match mode {
        ModeArg::Merge => RestoreMode::Merge,
        ModeArg::Replace => RestoreMode::Replace,
    }
}

/// `restore --json`.
#[derive(Debug, Serialize)]
struct RestoreOutput<'a> {
    site: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered: Option<&'a Recovered>,
    dry_run: bool,
    plan: &'a Plan,
    /// The restore carried out (`None` for a dry run or an empty plan).
    restore: Option<&'a Applied>,
}

pub(crate) fn run(args: &RestoreArgs, global: &GlobalArgs) -> Result<Outcome> {
    let database = match crate::site_arg::SiteArg::parse(&args.site)? {
        crate::site_arg::SiteArg::Database(site) => Some(site),
        crate::site_arg::SiteArg::Directory(_) => None,
    };
    let confirm_on_terminal = !args.yes && !args.dry_run;
    if confirm_on_terminal && !io::stdin().is_terminal() && database.is_some() {
        return Ok(Outcome::Refused(format!(
            "restore refused; nothing was changed: no terminal to confirm on: give --yes to \
             restore into {} without asking",
            args.site.display()
        )));
    }
    if confirm_on_terminal && !io::stdin().is_terminal() {
        let reason = Refusal::NotConfirmed {
            site: args.site.clone(),
        };
        let warning = sitepack_site::record_refused_restore(
            &args.site,
            &args.archive.display().to_string(),
            None,
            mode_of(args.mode),
            &reason,
        );
        if let Some(warning) = warning {
            eprintln!("warning: {warning}");
        }
        return super::refusal("restore", RestoreError::Refused { reason });
    }
    let location = super::stored::locate(&args.archive, &args.source)?;
    let opened = match super::stored::open(&location, &args.keys, "nothing was changed")? {
        Ok(opened) => opened,
        Err(refused) => return Ok(refused),
    };
    super::stored::report_fetched(&location);
    if let Some(refused) = super::stored::refuse_mismatch(&opened, "nothing was changed") {
        return Ok(refused);
    }
    let archive = &opened.archive;
    let bar = Bar::new(!global.no_progress);
    let report = archive.validate_with_progress(&args.limits.limits(), &bar);
    bar.finish();
    let report = report.with_context(|| format!("reading {}", args.archive.display()))?;
    if !report.is_valid() {
        let mut err = io::stderr().lock();
        writeln!(
            err,
            "error: {} is not a valid sitepack archive ({} error(s)); nothing was changed",
            args.archive.display(),
            report.summary.errors
        )?;
        super::validate::print_findings(&mut err, &report.findings)?;
        return Ok(Outcome::Invalid);
    }
    if let Some(site) = &database {
        if let Some(refused) =
            super::db_restore::refuse_directory_options(&args.plan, archive, site)
        {
            return Ok(refused);
        }
        let request = super::db_restore::RestoreRequest {
            command: "restore",
            options: sitepack_db::RestoreOptions {
                mode: match args.mode {
                    ModeArg::Merge => sitepack_db::Mode::Merge,
                    ModeArg::Replace => sitepack_db::Mode::Replace,
                },
                as_tenant: args
                    .plan
                    .as_id()
                    .map(|id| sitepack_format::database::TenantValue::Text(id.to_owned())),
                new_tenant: false,
            },
            site_path: &args.site,
            archive_name: &args.archive.display().to_string(),
            dry_run: args.dry_run,
            yes: args.yes,
            json: args.json,
            files: !args.plan.no_files(),
        };
        return super::db_restore::restore(&request, site, archive);
    }
    let options = args.plan.options(mode_of(args.mode))?;
    if args.dry_run {
        return dry_run(args, archive, &options);
    }

    let created = !args.site.exists();
    let outcome = restore(args, archive, &options, global, created);
    if created && !matches!(outcome, Ok(Outcome::Success)) {
        // Nothing was restored into the directory this command made: remove it again.
        remove_if_only_internal(&args.site);
    }
    outcome
}

fn restore(
    args: &RestoreArgs,
    archive: &Archive,
    options: &sitepack_restore::PlanOptions,
    global: &GlobalArgs,
    new_dir: bool,
) -> Result<Outcome> {
    let SiteState {
        recovered,
        held: site,
        ..
    } = match SiteState::open(&args.site, Create) {
        Ok(opened) => opened,
        Err(e) => {
            let e = RestoreError::from(e);
            // Refused by the lock (another command is changing the site): recorded too.
            if let RestoreError::Refused { reason } = &e
                && let Some(warning) = sitepack_site::record_refused_restore(
                    &args.site,
                    archive.name(),
                    archive.sha256().ok(),
                    options.mode,
                    reason,
                )
            {
                eprintln!("warning: {warning}");
            }
            return super::refusal("restore", e);
        }
    };
    super::report_recovery(recovered.as_ref())?;
    let plan = match sitepack_restore::plan_into(&site, archive, options) {
        Ok(plan) => plan,
        Err(e) => return super::refusal("restore", e),
    };
    if !args.json {
        print_heading(&args.site, &plan, false, new_dir)?;
    }
    if plan.is_empty() {
        if args.json {
            print_output(args, recovered.as_ref(), &plan, None)?;
        } else {
            writeln!(
                crate::human_output(),
                "nothing to restore: {} already matches the archive",
                args.site.display()
            )?;
        }
        return Ok(Outcome::Success);
    }
    if !args.yes && !confirmed(&plan)? {
        let reason = Refusal::Declined {
            site: args.site.clone(),
        };
        let warning = sitepack_site::record_refused_restore(
            &args.site,
            archive.name(),
            archive.sha256().ok(),
            plan.mode,
            &reason,
        );
        if let Some(warning) = warning {
            eprintln!("warning: {warning}");
        }
        return super::refusal("restore", RestoreError::Refused { reason });
    }
    let bar = Bar::new(!global.no_progress);
    let applied = sitepack_restore::apply(&site, archive, &plan, &bar);
    bar.finish();
    let applied = match applied {
        Ok(applied) => applied,
        Err(e) => return super::refusal("restore", e),
    };
    if args.json {
        print_output(args, recovered.as_ref(), &plan, Some(&applied))?;
    } else {
        print_applied(&args.site, &plan, &applied)?;
    }
    if let Some(warning) = &applied.audit_warning {
        eprintln!("warning: {warning}");
    }
    Ok(Outcome::Success)
}

/// `--dry-run`: the plan, as the restore would make it now, and nothing else.
fn dry_run(
    args: &RestoreArgs,
    archive: &Archive,
    options: &sitepack_restore::PlanOptions,
) -> Result<Outcome> {
    // A directory that does not exist yet is one the restore would make.
    let new_dir = !args.site.exists();
    let status = match SiteState::open(&args.site, Read) {
        Ok(status) => status,
        Err(SiteError::NoSuchSite { .. }) if new_dir => SiteState {
            recovered: None,
            pending: None,
            held: (),
        },
        Err(e) => return super::refusal("restore", e),
    };
    super::report_recovery(status.recovered.as_ref())?;
    if let Some(pending) = status.pending {
        return super::refusal(
            "restore",
            RestoreError::Refused {
                reason: Refusal::RestorePending {
                    id: pending.id,
                    site: args.site.clone(),
                },
            },
        );
    }
    let plan = match sitepack_restore::plan(&args.site, archive, options) {
        Ok(plan) => plan,
        Err(e) => return super::refusal("restore", e),
    };
    if args.json {
        print_output(args, status.recovered.as_ref(), &plan, None)?;
    } else {
        print_heading(&args.site, &plan, true, new_dir)?;
    }
    Ok(Outcome::Success)
}

fn print_output(
    args: &RestoreArgs,
    recovered: Option<&Recovered>,
    plan: &Plan,
    restore: Option<&Applied>,
) -> Result<()> {
    super::print_json(&RestoreOutput {
        site: &args.site,
        recovered,
        dry_run: args.dry_run,
        plan,
        restore,
    })
}

fn print_heading(site: &Path, plan: &Plan, dry_run: bool, new_dir: bool) -> io::Result<()> {
    let mut out = crate::human_output();
    let mode = plan.mode.as_str();
    let target = match &plan.target_site {
        Some(t) => format!("site {}", t.id),
        None if new_dir => "a new directory, made by this restore".to_owned(),
        None => "an empty directory".to_owned(),
    };
    writeln!(
        out,
        "restore of {} ({}) into {} ({target}), {mode} mode{}:",
        plan.archive_site.id,
        plan.scope,
        site.display(),
        if dry_run {
            " (dry run: nothing is changed)"
        } else {
            ""
        }
    )?;
    print_plan(&mut out, plan)?;
    out.flush()
}

/// Asks on the terminal; anything but y/yes declines.
fn confirmed(plan: &Plan) -> io::Result<bool> {
    let mut err = io::stderr().lock();
    write!(
        err,
        "restore these {} change(s)? A snapshot is taken first; `sitepack revert` undoes it. [y/N] ",
        plan.changes.len()
    )?;
    err.flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn print_applied(site: &Path, plan: &Plan, applied: &Applied) -> io::Result<()> {
    let mut out = crate::human_output();
    let pending = &applied.pending;
    writeln!(
        out,
        "restored: {} added, {} replaced, {} deleted (restore {})",
        pending.added, pending.replaced, pending.deleted, pending.id
    )?;
    writeln!(out, "snapshot: {}", pending.snapshot.display())?;
    if !plan.secrets_to_reenter.is_empty() {
        writeln!(
            out,
            "re-enter these secrets (the site had no value for them):"
        )?;
        super::print_secrets_to_enter(&mut out, &plan.secrets_to_reenter)?;
    }
    writeln!(
        out,
        "pending review: check the site, then `sitepack keep {site}` to accept or `sitepack revert {site}` to undo",
        site = site.display()
    )?;
    out.flush()
}

/// Removes `dir` when it holds nothing but sitepack's own `.sitepack/`.
fn remove_if_only_internal(dir: &Path) {
    let only_internal = fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .all(|e| e.file_name() == sitepack_format::INTERNAL_DIR)
    });
    if only_internal {
        let _ = fs::remove_dir_all(dir);
    }
}
