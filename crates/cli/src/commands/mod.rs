//! One module per subcommand.

pub(crate) mod audit;
pub(crate) mod create;
pub(crate) mod extract;
pub(crate) mod init;
pub(crate) mod preview;
pub(crate) mod restore_plan;
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
