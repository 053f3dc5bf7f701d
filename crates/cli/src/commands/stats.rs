//! `sitepack stats SITE [--json]`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use sitepack_writer::{Site, site_stats};

use crate::Outcome;

/// Count a live site per area.
#[derive(Debug, clap::Args)]
pub(crate) struct StatsArgs {
    /// The site directory.
    site: PathBuf,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: &StatsArgs) -> Result<Outcome> {
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
    let identity = site.config().identity();
    writeln!(
        out,
        "site      {} ({}, {})",
        identity.id, identity.name, identity.url
    )?;
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
