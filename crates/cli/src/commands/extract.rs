//! `sitepack extract ARCHIVE -o DIR`: validate fully, then write safely.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use sitepack_reader::ReaderError;

use crate::progress::Bar;
use crate::{GlobalArgs, Outcome};

/// Validate an archive, then unpack it into a new (or empty) directory.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Nothing is written unless the archive is valid; files are written into a temporary directory next to DIR and renamed into place.\nExit status: 0 extracted, 1 invalid archive (nothing written), 2 an error (DIR not empty, unreadable file)."
)]
pub(crate) struct ExtractArgs {
    /// The archive file (an encrypted one, `.zip.age`, with --identity).
    archive: PathBuf,
    /// The directory to create (it must not exist, or be empty).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Print one JSON summary instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    limits: super::validate::LimitArgs,
    #[command(flatten)]
    keys: super::crypt_args::IdentityArgs,
}

pub(crate) fn run(args: &ExtractArgs, global: &GlobalArgs) -> Result<Outcome> {
    let opened = super::stored::open_file(&args.archive, &args.keys)?;
    let archive = &opened.archive;
    let bar = Bar::new(!global.no_progress);
    // Validated with the limits given; extraction then uses that verdict.
    let extracted = match archive.validate_with_progress(&args.limits.limits(), &bar) {
        Ok(report) if !report.is_valid() => Err(ReaderError::Invalid {
            report: Box::new(report),
        }),
        Ok(_) => archive.extract_with_progress(&args.output, &bar),
        Err(e) => Err(e),
    };
    bar.finish();
    match extracted {
        Ok(summary) => {
            if args.json {
                super::print_json(&serde_json::json!({
                    "archive": args.archive,
                    "dir": summary.dir,
                    "files": summary.files,
                    "bytes": summary.bytes,
                }))?;
            } else {
                let mut out = crate::human_output();
                writeln!(
                    out,
                    "extracted {} files ({} bytes) to {}",
                    summary.files,
                    summary.bytes,
                    summary.dir.display()
                )?;
            }
            Ok(Outcome::Success)
        }
        Err(ReaderError::Invalid { report }) => {
            let mut err = io::stderr().lock();
            writeln!(
                err,
                "error: {} is not a valid archive ({} error(s)); nothing was written",
                report.archive, report.summary.errors
            )?;
            super::validate::print_findings(&mut err, &report.findings)?;
            Ok(Outcome::Invalid)
        }
        Err(e) => Err(e.into()),
    }
}
