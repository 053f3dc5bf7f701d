//! `sitepack status SITE`, `sitepack keep SITE`, `sitepack revert SITE`: the restore
//! pending review, and its two ways out.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use sitepack_site::access::{Change, Read};
use sitepack_site::{
    LockedSite, Operation, PendingRestore, Recovered, Settled, SiteError, SiteState,
};

use crate::Outcome;

/// The site a review command works on.
#[derive(Debug, clap::Args)]
pub(crate) struct ReviewArgs {
    /// The site directory, or a database site's descriptor (a TOML file).
    site: PathBuf,
    /// Print one JSON document on standard output.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `revert SITE [--force]`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Paths the restore touched that changed since it (see `sitepack status`) would lose those edits: a terminal is asked first; without one, --force is needed."
)]
pub(crate) struct RevertArgs {
    #[command(flatten)]
    pub(crate) review: ReviewArgs,
    /// Revert even when paths the restore touched changed since (those edits are lost).
    #[arg(long)]
    force: bool,
}

/// `status --json`.
#[derive(Debug, Serialize)]
struct StatusOutput<'a> {
    site: &'a PathBuf,
    recovered: Option<&'a Recovered>,
    pending: Option<&'a PendingRestore>,
}

/// `keep --json` and `revert --json`.
#[derive(Debug, Serialize)]
struct SettledOutput<'a> {
    site: &'a PathBuf,
    recovered: Option<&'a Recovered>,
    #[serde(flatten)]
    settled: &'a Settled,
}

/// The database site SITE names, if it names one (a descriptor).
fn database(site: &std::path::Path) -> Result<Option<Box<sitepack_db::DatabaseSite>>> {
    Ok(match crate::site_arg::SiteArg::parse(site)? {
        crate::site_arg::SiteArg::Database(site) => Some(site),
        crate::site_arg::SiteArg::Directory(_) => None,
    })
}

/// `status`: finishes an interrupted restore's recovery, then shows the pending restore.
pub(crate) fn status(args: &ReviewArgs) -> Result<Outcome> {
    if let Some(site) = database(&args.site)? {
        return super::db_restore::status(&args.site, &site, args.json);
    }
    let status = match SiteState::open(&args.site, Read) {
        Ok(status) => status,
        Err(e) => return super::refusal("status", e),
    };
    if args.json {
        return super::print_json(&StatusOutput {
            site: &args.site,
            recovered: status.recovered.as_ref(),
            pending: status.pending.as_ref(),
        })
        .map(|()| Outcome::Success);
    }
    super::report_recovery(status.recovered.as_ref())?;
    let mut out = crate::human_output();
    match &status.pending {
        None => writeln!(out, "{}: no restore pending review", args.site.display())?,
        Some(pending) => {
            writeln!(
                out,
                "{}: restore {} is pending review",
                args.site.display(),
                pending.id
            )?;
            print_restore(&mut out, pending)?;
            print_edits(&mut out, pending)?;
            writeln!(
                out,
                "accept it with `sitepack keep {site}`, or undo it with `sitepack revert {site}`",
                site = args.site.display()
            )?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// `keep`: accepts the pending restore and drops its snapshot.
pub(crate) fn keep(args: &ReviewArgs) -> Result<Outcome> {
    if let Some(site) = database(&args.site)? {
        return super::db_restore::keep(&args.site, &site, args.json);
    }
    settle(args, Operation::Keep, "kept", LockedSite::keep)
}

/// `revert`: puts everything the pending restore touched back as it was; edits made
/// since to those paths are named and need a "y" on a terminal, or --force.
pub(crate) fn revert(args: &RevertArgs) -> Result<Outcome> {
    if let Some(site) = database(&args.review.site)? {
        return super::db_restore::revert(&args.review.site, &site, args.review.json);
    }
    if args.force {
        return settle(
            &args.review,
            Operation::Revert,
            "reverted",
            LockedSite::revert_discarding_edits,
        );
    }
    if io::stdin().is_terminal() {
        let paths = match SiteState::open(&args.review.site, Read) {
            Ok(status) => status
                .pending
                .map(|p| p.changed_since_restore)
                .unwrap_or_default(),
            Err(e) => return super::refusal("revert", e),
        };
        if !paths.is_empty() {
            let mut err = io::stderr().lock();
            writeln!(
                err,
                "these paths changed since the restore; reverting throws the edits away:"
            )?;
            for path in &paths {
                writeln!(err, "  {path}")?;
            }
            write!(err, "revert anyway? [y/N] ")?;
            err.flush()?;
            let mut answer = String::new();
            io::stdin().lock().read_line(&mut answer)?;
            if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                return settle(
                    &args.review,
                    Operation::Revert,
                    "reverted",
                    LockedSite::revert_discarding_edits,
                );
            }
        }
    }
    settle(
        &args.review,
        Operation::Revert,
        "reverted",
        LockedSite::revert,
    )
}

/// The paths changed since the restore, which a revert would throw away.
fn print_edits(out: &mut dyn Write, pending: &PendingRestore) -> io::Result<()> {
    if pending.changed_since_restore.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "  changed since the restore ({}; `revert` would throw these edits away):",
        pending.changed_since_restore.len()
    )?;
    for path in &pending.changed_since_restore {
        writeln!(out, "    {path}")?;
    }
    Ok(())
}

fn settle(
    args: &ReviewArgs,
    operation: Operation,
    done: &str,
    action: fn(&LockedSite) -> Result<Settled, SiteError>,
) -> Result<Outcome> {
    // Every refusal is recorded in the audit log, then said (exit 1).
    let refused = |error: SiteError| {
        if let SiteError::Refused { reason } = &error
            && let Some(warning) = sitepack_site::record_refusal(&args.site, operation, reason)
        {
            eprintln!("warning: {warning}");
        }
        super::refusal(operation.as_str(), error)
    };
    let SiteState {
        recovered,
        held: site,
        ..
    } = match SiteState::open(&args.site, Change) {
        Ok(opened) => opened,
        Err(e) => return refused(e),
    };
    if !args.json {
        super::report_recovery(recovered.as_ref())?;
    }
    let settled = match action(&site) {
        Ok(settled) => settled,
        Err(e) => {
            drop(site);
            return refused(e);
        }
    };
    if args.json {
        super::print_json(&SettledOutput {
            site: &args.site,
            recovered: recovered.as_ref(),
            settled: &settled,
        })?;
    } else {
        let mut out = crate::human_output();
        writeln!(out, "{done} restore {}", settled.restore.id)?;
        print_restore(&mut out, &settled.restore)?;
        if done == "reverted" {
            writeln!(
                out,
                "  {} path(s) put back as they were before the restore",
                settled.paths_restored
            )?;
        }
        out.flush()?;
    }
    if let Some(warning) = &settled.audit_warning {
        eprintln!("warning: {warning}");
    }
    Ok(Outcome::Success)
}

fn print_restore(out: &mut dyn Write, pending: &PendingRestore) -> io::Result<()> {
    writeln!(out, "  started   {}", pending.started_at)?;
    writeln!(
        out,
        "  archive   {} ({})",
        pending.archive, pending.archive_sha256
    )?;
    writeln!(
        out,
        "  scope     {} ({} mode)",
        pending.scope,
        pending.mode.as_str()
    )?;
    writeln!(
        out,
        "  changes   {} added, {} replaced, {} deleted",
        pending.added, pending.replaced, pending.deleted
    )?;
    writeln!(out, "  snapshot  {}", pending.snapshot.display())
}
