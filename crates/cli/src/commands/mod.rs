//! One module per subcommand.

pub(crate) mod audit;
pub(crate) mod create;
pub(crate) mod extract;
pub(crate) mod init;
pub(crate) mod preview;
pub(crate) mod restore;
pub(crate) mod restore_plan;
pub(crate) mod review;
pub(crate) mod stats;
pub(crate) mod validate;

use std::io::{self, Write};

/// Prints one JSON document on standard output.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
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

/// An error and its causes on one line (`a: b: c`).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Says on standard error what the recovery of an interrupted restore did.
pub(crate) fn report_recovery(recovered: Option<&sitepack_restore::Recovered>) -> io::Result<()> {
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
) -> anyhow::Result<Option<sitepack_restore::PendingRestore>> {
    let status = sitepack_restore::site_status(site)?;
    report_recovery(status.recovered.as_ref())?;
    Ok(status.pending)
}

/// A refusal is an answer: printed, exit 1. Any other error propagates (exit 2).
pub(crate) fn refusal(
    command: &str,
    error: sitepack_restore::RestoreError,
) -> anyhow::Result<crate::Outcome> {
    match error {
        sitepack_restore::RestoreError::Refused { reason } => {
            eprintln!(
                "error: {command} refused; nothing was changed: {}",
                error_chain(&reason)
            );
            Ok(crate::Outcome::Refused)
        }
        error => Err(error.into()),
    }
}
