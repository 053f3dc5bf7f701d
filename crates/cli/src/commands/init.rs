//! `sitepack init NEW_SITE --from-template ARCHIVE --id ID --name NAME --url URL [--json]`.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use sitepack_format::{SiteId, SiteIdentity};
use sitepack_restore::{InitSummary, Refusal, RestoreError, init_from_template};

use crate::Outcome;

/// Create a new site from a full-scope template archive, under a new identity.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The template's URL is rewritten to --url; its secrets are not in the archive and are listed to enter before going live.\nThe site is written into a temporary directory next to NEW_SITE and renamed into place; on any failure nothing is left.\nExit status: 0 created, 1 refused (nothing written), 2 an error."
)]
pub(crate) struct InitArgs {
    /// The new site's directory (it must not exist, or be empty).
    new_site: PathBuf,
    /// The template: a full-scope archive.
    #[arg(long, value_name = "ARCHIVE")]
    from_template: PathBuf,
    #[command(flatten)]
    keys: super::crypt_args::IdentityArgs,
    /// The new site's id (`[a-z0-9][a-z0-9._-]{0,62}`).
    #[arg(long, value_parser = parse_site_id)]
    id: SiteId,
    /// The new site's name.
    #[arg(long)]
    name: String,
    /// The new site's base URL (http or https).
    #[arg(long)]
    url: String,
    /// Print one JSON document (the summary) on standard output.
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_site_id(text: &str) -> Result<SiteId, String> {
    text.parse()
        .map_err(|e: sitepack_format::FormatError| e.to_string())
}

pub(crate) fn run(args: &InitArgs) -> Result<Outcome> {
    let opened = super::stored::open_file(&args.from_template, &args.keys)?;
    let archive = &opened.archive;
    let identity = SiteIdentity {
        id: args.id.clone(),
        name: args.name.clone(),
        url: args.url.clone(),
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
