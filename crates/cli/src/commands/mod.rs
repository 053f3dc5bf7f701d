//! One module per subcommand.

pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod create;
pub(crate) mod crypt_args;
pub(crate) mod db_restore;
pub(crate) mod extract;
pub(crate) mod init;
pub(crate) mod preview;
pub(crate) mod restore;
pub(crate) mod restore_plan;
pub(crate) mod review;
pub(crate) mod serve;
pub(crate) mod stats;
pub(crate) mod stored;
pub(crate) mod validate;

use std::io::{self, Write};

/// Prints one JSON document on standard output. (Serialized first, so that a closed
/// pipe is an I/O error like any other print's, not a serializer's.)
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    let mut stdout = io::stdout().lock();
    stdout.write_all(&text)?;
    stdout.flush()?;
    Ok(())
}

/// A module's collections, one indented line each (`stats` and `preview` print them alike).
pub(crate) fn print_collections<'a>(
    out: &mut dyn Write,
    collections: impl IntoIterator<Item = (&'a str, u64)>,
) -> io::Result<()> {
    for (name, records) in collections {
        writeln!(out, "    {name:<12} {records} records")?;
    }
    Ok(())
}

/// Says on standard error what the recovery of an interrupted restore did.
pub(crate) fn report_recovery(recovered: Option<&sitepack_site::Recovered>) -> io::Result<()> {
    if let Some(recovered) = recovered {
        writeln!(io::stderr().lock(), "recovered: {}", recovered.describe())?;
    }
    Ok(())
}

/// What every command that reads a site does first: finish the recovery of an
/// interrupted restore (and say so). A site being restored right now is refused.
/// Returns the restore pending review, if any.
pub(crate) fn recover_first(
    site: &std::path::Path,
) -> anyhow::Result<Option<sitepack_site::PendingRestore>> {
    // Said as the restore crate says its own errors, as it always was.
    let opened = sitepack_site::SiteState::open(site, sitepack_site::access::Read)
        .map_err(sitepack_restore::RestoreError::from)?;
    report_recovery(opened.recovered.as_ref())?;
    Ok(opened.pending)
}

/// [`recover_first`] for `create` (and says so): a site that a restore, revert or
/// recovery is changing right now is left to the backup's lock, which refuses it.
pub(crate) fn recover_first_for_backup(site: &std::path::Path) -> anyhow::Result<()> {
    // Said as the restore crate says its own errors, as it always was.
    let opened = sitepack_site::SiteState::open(site, sitepack_site::access::Backup)
        .map_err(sitepack_restore::RestoreError::from)?;
    report_recovery(opened.recovered.as_ref())?;
    Ok(())
}

/// A refusal is an answer: said (by `main`), exit 1. Any other error propagates (exit 2).
pub(crate) fn refusal(
    command: &str,
    error: impl Into<sitepack_restore::RestoreError>,
) -> anyhow::Result<crate::Outcome> {
    match error.into() {
        sitepack_restore::RestoreError::Refused { reason } => Ok(crate::Outcome::Refused(format!(
            "{command} refused; nothing was changed: {}",
            sitepack_format::error_chain(&reason)
        ))),
        error => Err(error.into()),
    }
}

/// Secrets to enter in a site, one line each, at their path in the site (not in the
/// archive) and JSON pointer, with the record id for a collection.
pub(crate) fn print_secrets_to_enter(
    out: &mut dyn Write,
    secrets: &[sitepack_format::Redaction],
) -> io::Result<()> {
    for secret in secrets {
        let path = secret
            .path
            .strip_prefix(sitepack_format::PAYLOAD_DIR)
            .unwrap_or_else(|| secret.path.clone());
        match &secret.record {
            Some(record) => writeln!(out, "  {path} record {record} {}", secret.pointer)?,
            None => writeln!(out, "  {path} {}", secret.pointer)?,
        }
    }
    Ok(())
}
