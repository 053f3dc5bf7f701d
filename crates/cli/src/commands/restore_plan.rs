//! The planning options a restore takes, and how a plan is printed: shared by
//! `preview --against` and `restore`.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;
use sitepack_format::Name;
use sitepack_reader::Archive;
use sitepack_restore::{
    Action, Plan, PlanOptions, RestoreError, RestoreMode, RewriteChoice, RewriteRule,
};

/// How the archive is to meet the site.
#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
    /// Plan for an archive of another site (its id differs from SITE's; a database site:
    /// of another tenant, with --as).
    #[arg(long)]
    allow_other_site: bool,
    /// Leave files out: `files/**` and module files are neither written nor deleted.
    #[arg(long)]
    no_files: bool,
    /// A site directory: restore the archive's user as this new user id (user scope
    /// only). A database site: write the archive's rows as this tenant, the descriptor's,
    /// with fresh keys (with --allow-other-site).
    #[arg(long = "as", value_name = "ID")]
    as_id: Option<String>,
    /// Rewrite URLs from FROM to TO (repeatable); by default the archive's site URL is
    /// rewritten to SITE's when they differ.
    #[arg(long = "rewrite-url", value_name = "FROM=TO")]
    rewrite_url: Vec<RewriteRule>,
    /// Rewrite no URL.
    #[arg(long, conflicts_with = "rewrite_url")]
    no_rewrite: bool,
}

impl PlanArgs {
    /// Whether any of these options was given.
    pub(crate) fn any_given(&self) -> bool {
        self.allow_other_site
            || self.no_files
            || self.as_id.is_some()
            || !self.rewrite_url.is_empty()
            || self.no_rewrite
    }

    /// Whether --rewrite-url or --no-rewrite is given (a database site takes neither).
    pub(crate) fn rewrite_given(&self) -> bool {
        !self.rewrite_url.is_empty() || self.no_rewrite
    }

    /// --allow-other-site.
    pub(crate) fn allow_other_site(&self) -> bool {
        self.allow_other_site
    }

    /// --as, as given.
    pub(crate) fn as_id(&self) -> Option<&str> {
        self.as_id.as_deref()
    }

    /// Whether --no-files is given.
    pub(crate) fn no_files(&self) -> bool {
        self.no_files
    }

    /// The options of a site directory's plan; an error when --as is not a user id.
    pub(crate) fn options(&self, mode: RestoreMode) -> anyhow::Result<PlanOptions> {
        let as_user: Option<Name> = match &self.as_id {
            Some(id) => Some(id.parse().map_err(|e: sitepack_format::FormatError| {
                anyhow::anyhow!("invalid value '{id}' for '--as <ID>': {e}")
            })?),
            None => None,
        };
        Ok(PlanOptions {
            mode,
            allow_other_site: self.allow_other_site,
            files: !self.no_files,
            as_user,
            rewrite: if self.no_rewrite {
                RewriteChoice::Off
            } else if self.rewrite_url.is_empty() {
                RewriteChoice::Auto
            } else {
                RewriteChoice::Rules(self.rewrite_url.clone())
            },
        })
    }
}

/// A plan, or why the restore would be refused.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Planned {
    /// What the restore would change.
    Plan(Box<Plan>),
    /// Why it would be refused (nothing would change).
    Refused(String),
}

/// Plans restoring `archive` into `site` in `mode`; a refusal is an answer, not an error.
pub(crate) fn plan_or_refusal(
    site: &Path,
    archive: &Archive,
    options: &PlanOptions,
) -> anyhow::Result<Planned> {
    match sitepack_restore::plan(site, archive, options) {
        Ok(plan) => Ok(Planned::Plan(Box::new(plan))),
        Err(RestoreError::Refused { reason }) => Ok(Planned::Refused(reason.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// Lines of changes shown per plan; `--json` has them all.
const SHOWN_CHANGES: usize = 40;

/// A plan or its refusal, for a person.
pub(crate) fn print_planned(out: &mut dyn Write, planned: &Planned) -> io::Result<()> {
    match planned {
        Planned::Refused(reason) => writeln!(out, "  refused: {reason}"),
        Planned::Plan(plan) => print_plan(out, plan),
    }
}

/// A plan for a person: the totals, then the changed paths.
pub(crate) fn print_plan(out: &mut dyn Write, plan: &Plan) -> io::Result<()> {
    let count = |action| plan.changes.iter().filter(|c| c.action == action).count();
    writeln!(
        out,
        "  {} to add, {} to replace, {} to delete, {} unchanged",
        count(Action::Add),
        count(Action::Replace),
        count(Action::Delete),
        plan.unchanged
    )?;
    if plan.url_rewrites.total > 0 {
        for rule in &plan.url_rewrites.rules {
            writeln!(
                out,
                "  URLs: {} -> {} ({} replacements)",
                rule.from, rule.to, rule.count
            )?;
        }
    }
    writeln!(
        out,
        "  secrets: {} kept from the site, {} to re-enter after restoring",
        plan.secrets_kept.len(),
        plan.secrets_to_reenter.len()
    )?;
    for change in plan.changes.iter().take(SHOWN_CHANGES) {
        let action = match change.action {
            Action::Add => "add",
            Action::Replace => "replace",
            Action::Delete => "delete",
        };
        match &change.records {
            Some(r) => writeln!(
                out,
                "    {action:<7} {} (records: +{} ~{} -{}, {} unchanged)",
                change.path, r.added, r.changed, r.deleted, r.unchanged
            )?,
            None => writeln!(out, "    {action:<7} {}", change.path)?,
        }
    }
    if plan.changes.len() > SHOWN_CHANGES {
        writeln!(
            out,
            "    … and {} more (--json lists them all)",
            plan.changes.len() - SHOWN_CHANGES
        )?;
    }
    Ok(())
}
