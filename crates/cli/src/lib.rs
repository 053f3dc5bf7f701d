//! `sitepack`: back up, validate, preview and restore the data of one site as a single
//! manifest-based ZIP archive. This crate only parses arguments, asks for confirmation
//! and prints; the work is done by the library crates.
//!
//! The binary is [`run`]; [`command`] gives the clap definition to what documents it
//! (`cargo xtask man`, `sitepack completions`).

// The doc comments of commands and arguments are `--help` text, not Markdown.
#![allow(clippy::doc_markdown)]

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod commands;
mod completions;
mod printable;
mod progress;
mod site_arg;

/// Exit status: success.
const EXIT_OK: u8 = 0;
/// Exit status: a verdict (an invalid archive, a refusal).
const EXIT_INVALID: u8 = 1;
/// Exit status: an error (usage, a site that cannot be backed up, I/O).
const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "sitepack",
    version,
    about = "Back up, validate, preview and restore one site as a single manifest-based ZIP archive",
    long_about = None,
    after_help = "Exit status: 0 success, 1 a verdict (invalid archive, digest mismatch, a refusal), 2 an error, 130 interrupted (SIGINT/SIGTERM; temporaries removed).\nWith --json, a command that fails or is refused prints {\"error\": {\"kind\": \"error\"|\"refused\", \"message\": …, \"exit_code\": 2|1}} on standard output.\nA closed standard output (`sitepack stats --json | head -1`) ends the command quietly.\nSee docs/COMMANDS.md and docs/FORMAT.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: GlobalArgs,
}

/// Options every command takes.
#[derive(Debug, clap::Args)]
struct GlobalArgs {
    /// Never show progress bars (they only appear on a terminal anyway).
    #[arg(long, global = true)]
    no_progress: bool,
    /// Print nothing on success but what --json asks for (or the archive of `-o -`):
    /// errors and warnings still go to standard error; no progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,
}

/// `--quiet`: set once, before any command runs.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Where a command prints for people: standard output, or nothing with `--quiet`.
pub(crate) fn human_output() -> Box<dyn Write> {
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        Box::new(io::sink())
    } else {
        Box::new(io::stdout().lock())
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write one archive of a site (or of one tab, module or user).
    Create(commands::create::CreateArgs),
    /// Count a live site per area, before exporting.
    Stats(commands::stats::StatsArgs),
    /// Check an archive: every check, every finding (exit 1 when invalid).
    Validate(commands::validate::ValidateArgs),
    /// Show an archive's site, scope, contents and secrets to re-enter.
    Preview(commands::preview::PreviewArgs),
    /// Validate an archive, then unpack it safely into a new directory.
    Extract(commands::extract::ExtractArgs),
    /// List the site's audit log (create, restore, keep, revert, init, recover, auto, prune, check).
    Audit(commands::audit::AuditArgs),
    /// Create a new site from a full-scope template archive, under a new identity (or a database site's new tenant).
    Init(commands::init::InitArgs),
    /// Restore an archive into a site under a snapshot; it stays pending review.
    Restore(commands::restore::RestoreArgs),
    /// Show the restore pending review (and finish an interrupted one's recovery).
    Status(commands::review::ReviewArgs),
    /// Accept the pending restore and drop its snapshot.
    Keep(commands::review::ReviewArgs),
    /// Undo the pending restore: the touched paths go back byte for byte.
    Revert(commands::review::RevertArgs),
    /// List the backups stored in a target (a directory or s3://bucket/prefix).
    List(commands::stored::ListArgs),
    /// Check the backups stored in a target: their metadata, or (--read-data) their data.
    Check(commands::check::CheckArgs),
    /// Remove the stored backups of a site that a retention policy does not keep.
    Prune(commands::stored::PruneArgs),
    /// Automatic backups, as SITE/.sitepack/config.toml says.
    #[command(subcommand)]
    Auto(commands::stored::AutoCommand),
    /// Serve the Backup API and the admin Backup page for one site over HTTP.
    Serve(commands::serve::ServeArgs),
    /// Print the completion script of a shell (bash, zsh, fish, elvish, powershell).
    ///
    /// Written to standard output, e.g. `sitepack completions bash >
    /// ~/.local/share/bash-completion/completions/sitepack`, or for zsh into a file named
    /// `_sitepack` on `$fpath`.
    Completions(completions::CompletionsArgs),
}

/// How a command ended, when it did not fail.
pub(crate) enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the archive is not valid.
    Invalid,
    /// Exit 1: the operation was refused, for this reason (printed by `main`); nothing was
    /// changed.
    Refused(String),
    /// Exit 2: a step failed after the command printed its own report (which, with
    /// `--json`, is the one JSON document and says what failed); `main` prints the message
    /// on standard error only.
    FailedAfterReport(String),
}

impl Command {
    /// Whether the command was asked for one JSON document on standard output.
    fn json(&self) -> bool {
        match self {
            Self::Create(args) => args.json_on_stdout(),
            Self::Stats(args) => args.json,
            Self::Validate(args) => args.json,
            Self::Preview(args) => args.json,
            Self::Extract(args) => args.json,
            Self::Audit(args) => args.json,
            Self::Init(args) => args.json,
            Self::Restore(args) => args.json,
            Self::Status(args) | Self::Keep(args) => args.json,
            Self::Revert(args) => args.review.json,
            Self::List(args) => args.json,
            Self::Check(args) => args.json,
            Self::Prune(args) => args.json,
            Self::Auto(commands::stored::AutoCommand::Run(args)) => args.json,
            Self::Completions(_) | Self::Serve(_) => false,
        }
    }
}

/// The clap definition of `sitepack`: every command, argument and help text.
#[must_use]
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs `sitepack` with the process's arguments; the binary's `main`.
#[must_use]
pub fn run() -> ExitCode {
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    handle_interrupts();
    if cli.global.quiet {
        QUIET.store(true, std::sync::atomic::Ordering::Relaxed);
        cli.global.no_progress = true;
    }
    let result = match &cli.command {
        Command::Create(args) => commands::create::run(args, &cli.global),
        Command::Stats(args) => commands::stats::run(args),
        Command::Validate(args) => commands::validate::run(args, &cli.global),
        Command::Preview(args) => commands::preview::run(args, &cli.global),
        Command::Extract(args) => commands::extract::run(args, &cli.global),
        Command::Audit(args) => commands::audit::run(args),
        Command::Init(args) => commands::init::run(args),
        Command::Restore(args) => commands::restore::run(args, &cli.global),
        Command::Status(args) => commands::review::status(args),
        Command::Keep(args) => commands::review::keep(args),
        Command::Revert(args) => commands::review::revert(args),
        Command::List(args) => commands::stored::list(args),
        Command::Check(args) => commands::check::run(args),
        Command::Prune(args) => commands::stored::prune_command(args),
        Command::Auto(command) => commands::stored::auto(command, &cli.global),
        Command::Completions(args) => completions::run(args),
        Command::Serve(args) => commands::serve::run(args),
    };
    let json = cli.command.json();
    match result {
        Ok(Outcome::Success) => ExitCode::from(EXIT_OK),
        Ok(Outcome::Invalid) => ExitCode::from(EXIT_INVALID),
        Ok(Outcome::Refused(message)) => fail("refused", &message, EXIT_INVALID, json),
        Ok(Outcome::FailedAfterReport(message)) => fail("error", &message, EXIT_ERROR, false),
        Err(error) if is_broken_pipe(&error) => ExitCode::from(EXIT_OK),
        // A modified or damaged ciphertext is a verdict on the archive, like an invalid one.
        Err(error) if is_damaged_ciphertext(&error) => {
            fail("refused", &format!("{error:#}"), EXIT_INVALID, json)
        }
        Err(error) => fail("error", &format!("{error:#}"), EXIT_ERROR, json),
    }
}

/// Exit status of a command ended by SIGINT or SIGTERM (128 + 2, as shells report ^C).
const EXIT_INTERRUPTED: i32 = 130;

/// On SIGINT or SIGTERM: remove the temporaries being written, record the operation cut
/// short as failed, say "interrupted", exit 130. (A restore cut short is undone by the
/// next command on the site, as after a kill.)
fn handle_interrupts() {
    let installed = ctrlc::set_handler(|| {
        let done = sitepack_format::interrupt::clean_up("interrupted (SIGINT or SIGTERM)");
        let mut stderr = io::stderr().lock();
        let _ = writeln!(
            stderr,
            "interrupted; {} temporary file(s) removed",
            done.removed.len()
        );
        for warning in &done.audit_warnings {
            let _ = writeln!(stderr, "warning: {warning}");
        }
        std::process::exit(EXIT_INTERRUPTED);
    });
    if let Err(error) = installed {
        let _ = writeln!(
            io::stderr().lock(),
            "warning: cannot handle interrupts ({error}); one would leave temporaries behind"
        );
    }
}

/// Says why the command failed on standard error, and with `--json` also as one JSON
/// document on standard output: `{"error": {"kind", "message", "exit_code"}}`.
/// Every credential shape in the message is masked: a file or member name can hold one.
fn fail(kind: &str, message: &str, code: u8, json: bool) -> ExitCode {
    let message = &sitepack_format::mask_url_user_info(&sitepack_format::mask_credentials(message));
    let _ = writeln!(io::stderr().lock(), "error: {message}");
    if json {
        let document = serde_json::json!({
            "error": { "kind": kind, "message": message, "exit_code": code }
        });
        // A reader that went away needs no document.
        let _ = commands::print_json(&document);
    }
    ExitCode::from(code)
}

/// Arguments clap refuses: its message on standard error (help and version on standard
/// output, exit 0), and with `--json` among the arguments also the JSON error document,
/// so a script that asked for JSON always gets one document.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::from(EXIT_OK);
    }
    let _ = error.print();
    if std::env::args_os().any(|arg| arg == "--json") {
        let rendered = error.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first);
        let document = serde_json::json!({
            "error": { "kind": "usage", "message": message, "exit_code": EXIT_ERROR }
        });
        let _ = commands::print_json(&document);
    }
    ExitCode::from(EXIT_ERROR)
}

/// An encrypted archive whose authentication failed (age): never read, exit 1.
fn is_damaged_ciphertext(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let crypt = cause
            .downcast_ref::<sitepack_crypt::CryptError>()
            .or_else(
                || match cause.downcast_ref::<sitepack_store::StoreError>() {
                    Some(sitepack_store::StoreError::Crypt(crypt)) => Some(crypt),
                    _ => None,
                },
            );
        crypt.is_some_and(sitepack_crypt::CryptError::is_damage)
    })
}

/// Whoever reads our printed output went away (`sitepack stats | head`): not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        super::command().debug_assert();
    }
}
