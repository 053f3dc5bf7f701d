//! `sitepack preview ARCHIVE`: what a person needs to know before restoring.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
use sitepack_reader::{DatabasePreview, ManifestPreview, Preview};
use sitepack_restore::RestoreMode;
use sitepack_store::{Location, preview_stored};

use super::restore_plan::{PlanArgs, Planned, plan_or_refusal, print_planned};
use crate::progress::Bar;
use crate::{GlobalArgs, Outcome};

/// Show an archive's site, scope, contents and secrets to re-enter, with the verdict.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "With --against SITE, also shows what restoring the archive into SITE would change, in merge and in replace mode (nothing is changed).\nExit status: 0 valid, 1 invalid (the preview is still shown when the manifest can be read) or a restore into SITE would be refused, 2 the file cannot be read."
)]
pub(crate) struct PreviewArgs {
    /// The archive file, or a stored backup (an s3://… or file://… URL, or a name with
    /// --from TARGET).
    archive: PathBuf,
    #[command(flatten)]
    source: super::stored::SourceArgs,
    #[command(flatten)]
    keys: super::crypt_args::IdentityArgs,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also plan a restore into this site (or empty directory), in both modes.
    #[arg(long, value_name = "SITE")]
    against: Option<PathBuf>,
    #[command(flatten)]
    plan: PlanArgs,
}

/// `preview --json --against SITE.toml`: the preview and both plans against the database.
#[derive(Debug, Serialize)]
struct DbPreviewOutput<'a> {
    #[serde(flatten)]
    preview: &'a Preview,
    #[serde(skip_serializing_if = "Option::is_none")]
    against: Option<&'a super::db_restore::DbAgainst>,
}

/// What `--against` adds: the plan of each mode.
#[derive(Debug, Serialize)]
struct Against {
    site: PathBuf,
    /// A restore pending review in SITE: a new restore is refused until it is kept or
    /// reverted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_restore: Option<String>,
    merge: Planned,
    replace: Planned,
}

/// `preview --json`: the preview, with the plans when `--against` is given.
#[derive(Debug, Serialize)]
struct PreviewOutput<'a> {
    #[serde(flatten)]
    preview: &'a Preview,
    #[serde(skip_serializing_if = "Option::is_none")]
    against: Option<Against>,
}

pub(crate) fn run(args: &PreviewArgs, global: &GlobalArgs) -> Result<Outcome> {
    let database = match &args.against {
        Some(site) => match crate::site_arg::SiteArg::parse(site)? {
            crate::site_arg::SiteArg::Database(db) => Some((site.clone(), db)),
            crate::site_arg::SiteArg::Directory(_) => None,
        },
        None => None,
    };
    if args.against.is_none() && args.plan.any_given() {
        anyhow::bail!(
            "--allow-other-site, --no-files, --as, --rewrite-url and --no-rewrite plan a restore: give --against SITE too"
        );
    }
    let location = super::stored::locate(&args.archive, &args.source)?;
    // An encrypted backup has no byte ranges to read: it is downloaded and decrypted.
    if let (Location::Stored(located), None) = (&location, &args.against)
        && located.backup.encryption.is_none()
    {
        // Only the metadata is needed: read by byte ranges, nothing else is fetched.
        let name = args.archive.display().to_string();
        let preview = match preview_stored(located.store.as_ref(), &located.backup, &name) {
            Err(mismatch) if mismatch.is_mismatch() => {
                return Ok(super::stored::refuse_stored(
                    &mismatch,
                    "nothing to preview",
                ));
            }
            preview => preview?,
        };
        super::stored::report_fetched(&location);
        return show(args, &preview, None);
    }
    let opened = match super::stored::open(&location, &args.keys, "nothing to preview")? {
        Ok(opened) => opened,
        Err(refused) => return Ok(refused),
    };
    if let Some(refused) = super::stored::refuse_mismatch(&opened, "nothing to preview") {
        return Ok(refused);
    }
    let archive = &opened.archive;
    let bar = Bar::new(!global.no_progress);
    let preview = archive.preview_with_progress(&bar);
    bar.finish();
    let preview = preview.with_context(|| format!("reading {}", args.archive.display()))?;
    super::stored::report_fetched(&location);
    if let Some((site_path, site)) = &database {
        let against = if preview.valid {
            let as_tenant = args
                .plan
                .as_id()
                .map(|id| sitepack_format::database::TenantValue::Text(id.to_owned()));
            Some(super::db_restore::DbAgainst::plan(
                site_path,
                site,
                archive,
                as_tenant.as_ref(),
            )?)
        } else {
            None
        };
        let refused = against
            .as_ref()
            .is_some_and(super::db_restore::DbAgainst::refused);
        if args.json {
            super::print_json(&DbPreviewOutput {
                preview: &preview,
                against: against.as_ref(),
            })?;
        } else {
            print_preview(&preview)?;
            if let Some(against) = &against {
                against.print()?;
            }
        }
        return Ok(if preview.valid && !refused {
            Outcome::Success
        } else {
            Outcome::Invalid
        });
    }
    let against = match &args.against {
        Some(site) if preview.valid => Some(Against {
            // A directory that does not exist yet is one a restore would make.
            pending_restore: if site.exists() {
                super::recover_first(site)?.map(|p| p.id)
            } else {
                None
            },
            site: site.clone(),
            merge: plan_or_refusal(site, archive, &args.plan.options(RestoreMode::Merge)?)?,
            replace: plan_or_refusal(site, archive, &args.plan.options(RestoreMode::Replace)?)?,
        }),
        _ => None,
    };
    show(args, &preview, against)
}

/// Prints the preview (and the plans); exit 1 when invalid or a restore would be refused.
fn show(args: &PreviewArgs, preview: &Preview, against: Option<Against>) -> Result<Outcome> {
    let refused = against
        .as_ref()
        .is_some_and(|a| a.pending_restore.is_some() || matches!(a.merge, Planned::Refused(_)));
    if args.json {
        super::print_json(&PreviewOutput { preview, against })?;
    } else {
        print_preview(preview)?;
        if let Some(against) = &against {
            print_against(against)?;
        }
    }
    Ok(if preview.valid && !refused {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}

fn print_against(against: &Against) -> Result<()> {
    let mut out = crate::human_output();
    let new_dir = if against.site.exists() {
        ""
    } else {
        ", a new directory the restore would make"
    };
    writeln!(
        out,
        "\nrestoring into {}{new_dir} (nothing has been changed):",
        against.site.display()
    )?;
    if let Some(id) = &against.pending_restore {
        writeln!(
            out,
            "restore {id} is pending review there: a new restore is refused until `sitepack keep` or `sitepack revert`"
        )?;
    }
    writeln!(out, "merge (the default):")?;
    print_planned(&mut out, &against.merge)?;
    writeln!(out, "replace:")?;
    print_planned(&mut out, &against.replace)?;
    out.flush()?;
    Ok(())
}

fn print_preview(preview: &Preview) -> Result<()> {
    let mut out = crate::human_output();
    writeln!(out, "archive   {}", preview.archive)?;
    writeln!(out, "sha256    {}", preview.digest)?;
    if let Some(manifest) = &preview.manifest {
        print_manifest(&mut out, manifest)?;
    } else {
        writeln!(out, "manifest  unreadable")?;
    }
    if let Some(database) = &preview.database {
        print_database(&mut out, database)?;
    }
    let errors = preview
        .findings
        .iter()
        .filter(|f| f.severity == sitepack_reader::Severity::Error)
        .count();
    if preview.valid && !preview.data_checked {
        writeln!(
            out,
            "\nverdict   metadata VALID ({} warning(s)); entry data not read: `sitepack validate` checks it",
            preview.findings.len()
        )?;
    } else if preview.valid {
        writeln!(
            out,
            "\nverdict   VALID ({} warning(s))",
            preview.findings.len()
        )?;
    } else {
        writeln!(
            out,
            "\nverdict   INVALID ({errors} error(s)): do not restore it"
        )?;
    }
    super::validate::print_findings(&mut out, &preview.findings)?;
    out.flush()?;
    Ok(())
}

fn print_manifest(out: &mut dyn Write, manifest: &ManifestPreview) -> io::Result<()> {
    let site = &manifest.site;
    writeln!(out, "site      {} ({}, {})", site.id, site.name, site.url)?;
    writeln!(out, "created   {}", manifest.created_at)?;
    writeln!(
        out,
        "generator {} {}",
        manifest.generator.name, manifest.generator.version
    )?;
    if let Some(label) = &manifest.label {
        writeln!(out, "label     {label}")?;
    }
    let files = if manifest.options.files {
        "with files"
    } else {
        "data only"
    };
    writeln!(out, "scope     {} ({files})", manifest.scope)?;
    let counts = &manifest.counts;
    writeln!(
        out,
        "entries   {} ZIP entries: {} site files ({} bytes), {} and {}",
        counts.entries + sitepack_format::METADATA_ENTRIES as u64,
        counts.entries,
        counts.bytes,
        sitepack_format::MANIFEST_NAME,
        sitepack_format::CHECKSUMS_NAME
    )?;
    writeln!(out, "tabs      {}", counts.tabs)?;
    writeln!(out, "users     {}", counts.users)?;
    writeln!(out, "modules   {}", counts.modules.len())?;
    for module in &counts.modules {
        let records: u64 = module.collections.iter().map(|c| c.records).sum();
        writeln!(
            out,
            "  {:<14} {} collections, {records} records, {} documents, {} files",
            module.name,
            module.collections.len(),
            module.documents,
            module.files
        )?;
        super::print_collections(
            out,
            module
                .collections
                .iter()
                .map(|c| (c.name.as_str(), c.records)),
        )?;
    }
    writeln!(
        out,
        "files     {} ({} bytes)",
        counts.files, counts.file_bytes
    )?;
    writeln!(out, "other     {}", counts.other)?;
    if manifest.redactions.is_empty() {
        writeln!(out, "secrets   none removed")?;
    } else {
        writeln!(
            out,
            "secrets   {} removed; re-enter them after restoring:",
            manifest.redactions.len()
        )?;
        for redaction in &manifest.redactions {
            match &redaction.record {
                Some(record) => writeln!(
                    out,
                    "  {} record {record} {}",
                    redaction.path, redaction.pointer
                )?,
                None => writeln!(out, "  {} {}", redaction.path, redaction.pointer)?,
            }
        }
    }
    Ok(())
}

/// A database archive's tables (format 1.1): each with its role and rows, and the tables
/// left out with why.
fn print_database(out: &mut dyn Write, database: &DatabasePreview) -> io::Result<()> {
    writeln!(
        out,
        "database  {} {}, tenant {}",
        database.engine,
        database.engine_version,
        database.tenant_text()
    )?;
    let width = database
        .tables
        .iter()
        .map(|t| t.name.chars().count())
        .chain(database.skipped.iter().map(|s| s.table.chars().count()))
        .max()
        .unwrap_or(0);
    writeln!(out, "tables    {}", database.tables.len())?;
    for table in &database.tables {
        writeln!(
            out,
            "  {:<width$}  {:<9}  {} rows",
            table.name,
            table.role.to_string(),
            table.rows
        )?;
    }
    writeln!(out, "skipped   {}", database.skipped.len())?;
    for skipped in &database.skipped {
        writeln!(out, "  {:<width$}  {}", skipped.table, skipped.explanation)?;
    }
    Ok(())
}
