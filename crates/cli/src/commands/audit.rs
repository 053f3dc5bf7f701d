//! `sitepack audit SITE [--type OP] [--limit N] [--json]`.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use sitepack_site::{AuditEvent, AuditFilter, AuditLog, Operation, audit_log_path, read_audit_log};

use crate::Outcome;
use crate::printable::printable;
use crate::site_arg::SiteArg;

/// List the site's audit log: every create, restore, keep, revert, init, recovery,
/// automatic backup and prune, oldest first.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Reads SITE/.sitepack/audit.jsonl. Lines that are not events (a line cut short by a crash, a hand edit) are named on standard error and skipped; the others are still listed."
)]
pub(crate) struct AuditArgs {
    /// The site directory.
    site: PathBuf,
    /// Only events of this type.
    #[arg(
        long = "type",
        value_name = "OP",
        value_parser = PossibleValuesParser::new(Operation::ALL.map(Operation::as_str))
            .try_map(|text| text.parse::<Operation>())
    )]
    kind: Option<Operation>,
    /// Only the newest N events (after --type), still printed oldest first.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Print one JSON document: the site, the events, how many matched, the bad lines.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: &AuditArgs) -> Result<Outcome> {
    let site = SiteArg::parse(&args.site)?;
    let root = site.state_root();
    match &site {
        SiteArg::Directory(_) => check_site_dir(root)?,
        SiteArg::Database(_) if !root.exists() => bail!(
            "{}: nothing has been recorded for this database site yet (its state directory {} \
             is made by its first backup)",
            args.site.display(),
            root.display()
        ),
        SiteArg::Database(_) => {}
    }
    super::recover_first(root)?;
    let filter = AuditFilter {
        operation: args.kind,
        limit: args.limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let log_path = audit_log_path(root);
    let log = read_audit_log(root, &filter)
        .with_context(|| format!("{}: cannot read the audit log", log_path.display()))?;
    warn_bad_lines(&log_path, &log)?;
    if args.json {
        super::print_json(&serde_json::json!({
            "site": args.site.display().to_string(),
            "events": log.events,
            "matched": log.matched,
            "bad_lines": log.bad_lines,
            "bad_line_count": log.bad_line_count,
        }))?;
        return Ok(Outcome::Success);
    }
    let mut out = crate::human_output();
    if log.events.is_empty() {
        match &args.kind {
            Some(kind) => writeln!(out, "no {kind} events")?,
            None => writeln!(out, "no events")?,
        }
    }
    for event in &log.events {
        writeln!(out, "{}", event_line(event))?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

fn check_site_dir(site: &Path) -> Result<()> {
    match site.metadata() {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => bail!(
            "{}: not a directory; give the site directory (the one that holds site.json)",
            site.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => bail!(
            "{}: no such directory; give the site directory (the one that holds site.json)",
            site.display()
        ),
        Err(e) => Err(e).with_context(|| format!("{}: cannot open the site", site.display())),
    }
}

fn warn_bad_lines(log_path: &Path, log: &AuditLog) -> Result<()> {
    let mut err = io::stderr().lock();
    for bad in &log.bad_lines {
        writeln!(
            err,
            "warning: {} line {}: {}; skipped",
            log_path.display(),
            bad.line,
            bad.problem
        )?;
    }
    let unnamed = log.bad_line_count - log.bad_lines.len() as u64;
    if unnamed > 0 {
        writeln!(
            err,
            "warning: {}: {unnamed} more lines are not events; skipped",
            log_path.display()
        )?;
    }
    Ok(())
}

/// `TIME  TYPE  OUTCOME  ACTOR  summary`, the summary made of the detail keys that are
/// present, whatever the event type.
fn event_line(event: &AuditEvent) -> String {
    // Columns as wide as the widest type (`restore`, `recover`) and outcome (`refused`).
    let mut line = format!(
        "{}  {:<7}  {:<7}  {}",
        event.time,
        event.operation().as_str(),
        event.outcome.as_str(),
        printable(&event.actor)
    );
    // The summary reads the details as written, whichever operation they belong to.
    let details = serde_json::to_value(event)
        .map(|mut line| line["details"].take())
        .unwrap_or_default();
    let summary = summary(&details);
    if !summary.is_empty() {
        let _ = write!(line, "  {}", summary.join(", "));
    }
    line
}

fn summary(details: &serde_json::Value) -> Vec<String> {
    let text = |pointer: &str| -> Option<String> {
        match details.pointer(pointer)? {
            serde_json::Value::String(s) => Some(printable(s)),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let mut parts = Vec::new();
    if let Some(scope) = text("/scope") {
        parts.push(format!("scope {scope}"));
    }
    if let Some(mode) = text("/mode") {
        parts.push(format!("mode {mode}"));
    }
    if let Some(archive) = text("/archive").or_else(|| text("/output")) {
        parts.push(archive);
    }
    if let Some(sha) = text("/archive_sha256") {
        let short: String = sha.chars().take(12).collect();
        parts.push(format!("sha256 {short}…"));
    }
    if let Some(entries) = text("/stats/entries").or_else(|| text("/entries")) {
        parts.push(format!("{entries} entries"));
    }
    if let Some(read_data) = text("/read_data") {
        parts.push(read_data);
    }
    if let Some(backups) = text("/backups") {
        parts.push(format!("{backups} backups checked"));
    }
    if let Some(error) = text("/error") {
        parts.push(format!("error: {error}"));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(details: &serde_json::Value) -> AuditEvent {
        serde_json::from_value(serde_json::json!({
            "time": "2026-11-22T08:30:00Z",
            "type": "create",
            "actor": "ada",
            "outcome": "ok",
            "details": details,
        }))
        .unwrap()
    }

    #[test]
    fn lines_show_the_known_details() {
        let cases = [
            (
                serde_json::json!({
                    "scope": "full",
                    "output": "/b/site.zip",
                    "archive_sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                    "stats": {"entries": 12, "bytes": 99, "tabs": 1, "users": 2, "modules": 1, "collections": 1, "records": 3, "documents": 0, "module_files": 0, "files": 4, "other": 3, "redactions": 0},
                    "label": "weekly"
                }),
                "2026-11-22T08:30:00Z  create   ok       ada  scope full, /b/site.zip, sha256 0123456789ab…, 12 entries",
            ),
            (
                serde_json::json!({"scope": "tab:x", "error": "disk full\u{1b}[31m"}),
                "2026-11-22T08:30:00Z  create   ok       ada  scope tab:x, error: disk full\\u{1b}[31m",
            ),
            (
                serde_json::json!({}),
                "2026-11-22T08:30:00Z  create   ok       ada",
            ),
        ];
        for (details, expected) in cases {
            assert_eq!(event_line(&event(&details)), expected);
        }
    }
}
