//! `sitepack preview ARCHIVE`: what a person needs to know before restoring.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use sitepack_reader::{Archive, ManifestPreview, Preview};

use crate::progress::Bar;
use crate::{GlobalArgs, Outcome};

/// Show an archive's site, scope, contents and secrets to re-enter, with the verdict.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 valid, 1 invalid (the preview is still shown when the manifest can be read), 2 the file cannot be read."
)]
pub(crate) struct PreviewArgs {
    /// The archive file.
    archive: PathBuf,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &PreviewArgs, global: &GlobalArgs) -> Result<Outcome> {
    let archive = Archive::open(&args.archive)?;
    let bar = Bar::new(!global.no_progress);
    let preview = archive.preview_with_progress(&bar);
    bar.finish();
    let preview = preview.with_context(|| format!("reading {}", args.archive.display()))?;
    if args.json {
        super::print_json(&preview)?;
    } else {
        print_preview(&preview)?;
    }
    Ok(if preview.valid {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}

fn print_preview(preview: &Preview) -> Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "archive   {}", preview.archive)?;
    writeln!(out, "sha256    {}", preview.digest)?;
    if let Some(manifest) = &preview.manifest {
        print_manifest(&mut out, manifest)?;
    } else {
        writeln!(out, "manifest  unreadable")?;
    }
    let errors = preview
        .findings
        .iter()
        .filter(|f| f.severity == sitepack_reader::Severity::Error)
        .count();
    if preview.valid {
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
    writeln!(out, "entries   {} ({} bytes)", counts.entries, counts.bytes)?;
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
        for collection in &module.collections {
            writeln!(
                out,
                "    {:<12} {} records",
                collection.name, collection.records
            )?;
        }
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
