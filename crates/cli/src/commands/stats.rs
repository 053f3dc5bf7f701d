//! `sitepack stats SITE [--json]`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use sitepack_db::DatabaseSite;
use sitepack_writer::{Site, site_stats};

use crate::Outcome;
use crate::site_arg::SiteArg;

/// Count a live site per area, or a database site's rows per table.
#[derive(Debug, clap::Args)]
pub(crate) struct StatsArgs {
    /// The site directory, or a database site's descriptor (a TOML file).
    site: PathBuf,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: &StatsArgs) -> Result<Outcome> {
    if let SiteArg::Database(site) = SiteArg::parse(&args.site)? {
        return database_stats(&site, args.json);
    }
    super::recover_first(&args.site)?;
    let site = Site::open(&args.site)?;
    let stats = site_stats(&site)?;
    if args.json {
        super::print_json(&serde_json::json!({
            "site": site.config().identity(),
            "stats": stats,
        }))?;
        return Ok(Outcome::Success);
    }
    let mut out = crate::human_output();
    print_identity(&mut out, &site.config().identity())?;
    writeln!(
        out,
        "tabs      {} ({})",
        stats.tabs.len(),
        stats.tabs.join(", ")
    )?;
    writeln!(out, "users     {}", stats.users)?;
    writeln!(out, "modules   {}", stats.modules.len())?;
    for module in &stats.modules {
        let records: u64 = module.collections.iter().map(|c| c.records).sum();
        writeln!(
            out,
            "  {:<14} {} collections, {} records, {} documents, {} files, {} bytes",
            module.name,
            module.collections.len(),
            records,
            module.documents,
            module.files,
            module.bytes
        )?;
        super::print_collections(
            &mut out,
            module
                .collections
                .iter()
                .map(|c| (c.name.as_str(), c.records)),
        )?;
    }
    writeln!(
        out,
        "files     {} ({} bytes; {} in users' folders)",
        stats.files, stats.file_bytes, stats.user_files
    )?;
    writeln!(
        out,
        "other     {} ({} bytes)",
        stats.other, stats.other_bytes
    )?;
    writeln!(
        out,
        "total     {} files, {} bytes",
        stats.total_files, stats.total_bytes
    )?;
    out.flush()?;
    Ok(Outcome::Success)
}

/// A database site's tables (in one snapshot): the tenant's rows per table, their total,
/// and the tables that stay behind with the reason.
fn database_stats(site: &DatabaseSite, json: bool) -> Result<Outcome> {
    let stats = site.stats()?;
    let descriptor = site.descriptor();
    if json {
        super::print_json(&stats.report(descriptor))?;
        return Ok(Outcome::Success);
    }
    let mut out = crate::human_output();
    print_identity(&mut out, &descriptor.site)?;
    writeln!(
        out,
        "database  {}, tenant {} = {}",
        descriptor.display_url(),
        descriptor.tenant_column,
        descriptor.tenant
    )?;
    writeln!(
        out,
        "tables    {} ({} rows in a backup, reference rows included)",
        stats.tables.len(),
        stats.total
    )?;
    let width = stats
        .tables
        .iter()
        .map(|(name, _, _)| name.len())
        .chain(stats.skipped.iter().map(|s| s.table.len()))
        .max()
        .unwrap_or(0);
    for (name, role, rows) in &stats.tables {
        writeln!(
            out,
            "  {name:<width$}  {:<9}  {rows:>10} rows",
            role.to_string()
        )?;
    }
    if !stats.skipped.is_empty() {
        writeln!(out, "not exported {}", stats.skipped.len())?;
        for skipped in &stats.skipped {
            writeln!(
                out,
                "  {:<width$}  {}",
                skipped.table,
                skipped.reason.explanation()
            )?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

fn print_identity(out: &mut dyn Write, identity: &sitepack_format::SiteIdentity) -> Result<()> {
    writeln!(
        out,
        "site      {} ({}, {})",
        identity.id, identity.name, identity.url
    )?;
    Ok(())
}
