//! `sitepack completions SHELL`: the shell's completion script, generated from the clap
//! definition so that it always knows every command and option.

use std::io::{self, Write};

use clap_complete::Shell;

use crate::Outcome;

/// Arguments of `sitepack completions`.
#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the script (generated in memory first: a closed pipe is then an I/O error like
/// any other print's, not a panic in the generator).
pub(crate) fn run(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut crate::command(), "sitepack", &mut script);
    let mut stdout = io::stdout().lock();
    stdout.write_all(&script)?;
    stdout.flush()?;
    Ok(Outcome::Success)
}
