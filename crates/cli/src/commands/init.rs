//! `sitepack init NEW_SITE --from-template ARCHIVE --id ID --name NAME --url URL [--json]`,
//! or `sitepack init NEW.toml --from-template ARCHIVE`: a new tenant of a database site.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use sitepack_db::{DatabaseSite, Mode, RestoreOptions};
use sitepack_format::{SiteId, SiteIdentity};
use sitepack_restore::{InitSummary, Refusal, RestoreError, init_from_template};

use crate::Outcome;
use crate::site_arg::SiteArg;

/// Create a new site (or a database site's new tenant) from a full-scope template archive.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The template's URL is rewritten to --url; its secrets are not in the archive and are listed to enter before going live.\nThe site is written into a temporary directory next to NEW_SITE and renamed into place; on any failure nothing is left.\nNEW_SITE may be a database site's descriptor (NEW.toml, which must exist): it names the database and the new tenant, and is the site's identity (--id, --name and --url are refused). The template's rows are written as that tenant with fresh keys (as `restore --allow-other-site --as`), in one transaction, refused while the tenant holds any row of the template's tables (or its tenant table row). Like a restore, it stays pending review: `sitepack keep NEW.toml` accepts it, `sitepack revert NEW.toml` removes the rows again.\nExit status: 0 created, 1 refused (nothing written), 2 an error."
)]
pub(crate) struct InitArgs {
    /// The new site's directory (it must not exist, or be empty), or a database site's
    /// descriptor (a TOML file) naming the new tenant.
    new_site: PathBuf,
    /// The template: a full-scope archive.
    #[arg(long, value_name = "ARCHIVE")]
    from_template: PathBuf,
    #[command(flatten)]
    keys: super::crypt_args::IdentityArgs,
    /// The new site's id (`[a-z0-9][a-z0-9._-]{0,62}`); a site directory only.
    #[arg(long, value_parser = parse_site_id)]
    id: Option<SiteId>,
    /// The new site's name; a site directory only.
    #[arg(long)]
    name: Option<String>,
    /// The new site's base URL (http or https); a site directory only.
    #[arg(long)]
    url: Option<String>,
    /// Print one JSON document (the summary) on standard output.
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_site_id(text: &str) -> Result<SiteId, String> {
    text.parse()
        .map_err(|e: sitepack_format::FormatError| e.to_string())
}

pub(crate) fn run(args: &InitArgs) -> Result<Outcome> {
    if let SiteArg::Database(site) = SiteArg::parse(&args.new_site)? {
        return init_tenant(args, &site);
    }
    let (Some(id), Some(name), Some(url)) = (&args.id, &args.name, &args.url) else {
        anyhow::bail!(
            "--id, --name and --url are required to make a new site directory ({})",
            args.new_site.display()
        );
    };
    let opened = super::stored::open_file(&args.from_template, &args.keys)?;
    let archive = &opened.archive;
    let identity = SiteIdentity {
        id: id.clone(),
        name: name.clone(),
        url: url.clone(),
    };
    match init_from_template(&args.new_site, archive, &identity) {
        Ok(summary) => {
            if args.json {
                super::print_json(&summary)?;
            } else {
                print_summary(&mut crate::human_output(), &summary)?;
            }
            if let Some(warning) = &summary.audit_warning {
                writeln!(io::stderr().lock(), "warning: {warning}")?;
            }
            Ok(Outcome::Success)
        }
        Err(RestoreError::Refused { reason }) => {
            let mut err = io::stderr().lock();
            let findings = match &reason {
                Refusal::InvalidArchive { report } => report.findings.clone(),
                _ => Vec::new(),
            };
            // With its causes (what is wrong with a URL, which schema rule failed).
            let reason = anyhow::Error::new(reason);
            super::validate::print_findings(&mut err, &findings)?;
            Ok(Outcome::Refused(format!(
                "init refused; nothing was written: {reason:#}"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// A new tenant of a database site: the template's rows written as the descriptor's
/// tenant with fresh keys, by the restore's own path (under review).
fn init_tenant(args: &InitArgs, site: &DatabaseSite) -> Result<Outcome> {
    if args.id.is_some() || args.name.is_some() || args.url.is_some() {
        anyhow::bail!(
            "--id, --name and --url make a new site directory; a database site's identity is its descriptor's ([site] in {}): leave them out",
            args.new_site.display()
        );
    }
    let opened = super::stored::open_file(&args.from_template, &args.keys)?;
    let archive = &opened.archive;
    let report = archive
        .validate(&sitepack_reader::Limits::default())
        .with_context(|| format!("reading {}", args.from_template.display()))?;
    if !report.is_valid() {
        super::validate::print_findings(&mut io::stderr().lock(), &report.findings)?;
        return Ok(Outcome::Refused(format!(
            "init refused; nothing was changed: {} is not a valid sitepack archive ({} error(s))",
            args.from_template.display(),
            report.summary.errors
        )));
    }
    let request = super::db_restore::RestoreRequest {
        command: "init",
        site_path: &args.new_site,
        archive_name: &args.from_template.display().to_string(),
        options: RestoreOptions {
            mode: Mode::Replace,
            as_tenant: Some(site.descriptor().tenant.clone()),
            new_tenant: true,
        },
        dry_run: false,
        yes: true,
        json: args.json,
        // A template's uploads come with it when the new site has a place for them.
        files: site.descriptor().files_dir.is_some()
            && sitepack_db::files::carries_files(archive).unwrap_or(false),
    };
    super::db_restore::restore(&request, site, archive)
}

fn print_summary(out: &mut dyn Write, summary: &InitSummary) -> io::Result<()> {
    writeln!(
        out,
        "created site {} ({}, {}) in {} from template {}",
        summary.site.id,
        summary.site.name,
        summary.site.url,
        summary.dir.display(),
        summary.template.id
    )?;
    writeln!(
        out,
        "  {} files ({} bytes), {} URL rewrites",
        summary.files, summary.bytes, summary.url_rewrites.total
    )?;
    if summary.secrets_to_enter.is_empty() {
        return writeln!(out, "  no secrets to enter");
    }
    writeln!(out, "enter these before going live:")?;
    super::print_secrets_to_enter(out, &summary.secrets_to_enter)
}
