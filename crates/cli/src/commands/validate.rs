//! `sitepack validate ARCHIVE`: every check, every finding, an honest exit code.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use sitepack_format::Sha256;
use sitepack_reader::{Finding, Limits, Report};
use sitepack_store::{Location, validate_stored_metadata};

use crate::progress::Bar;
use crate::{GlobalArgs, Outcome};

/// Check an archive: container, names, limits, manifest, digests, content, secrets.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 valid (warnings allowed unless --strict), 1 invalid, 2 the file cannot be read or a usage error.\nThe checks and finding codes are listed in docs/FORMAT.md §13."
)]
pub(crate) struct ValidateArgs {
    /// The archive file, or a stored backup (an s3://… or file://… URL, or a name with
    /// --from TARGET).
    archive: PathBuf,
    #[command(flatten)]
    source: super::stored::SourceArgs,
    #[command(flatten)]
    keys: super::crypt_args::IdentityArgs,
    /// Print one JSON report (schema/report.schema.json) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Treat warnings as errors.
    #[arg(long)]
    strict: bool,
    /// Check only what needs no entry data: the end records, the central directory, the
    /// manifest, checksums.sha256 and site.json. A stored backup is then read by byte
    /// ranges (only those parts are fetched), unless it is encrypted.
    #[arg(long)]
    no_data: bool,
    /// The archive's SHA-256 as recorded outside it (a store's index, a CI variable).
    #[arg(long, value_name = "HEX")]
    expect_sha256: Option<Sha256>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// The limits of docs/FORMAT.md §13.4, as `validate`, `extract` and `restore` take them.
#[derive(Debug, clap::Args)]
#[expect(
    clippy::struct_field_names,
    reason = "the fields are the flags, --max-entries, --max-bytes, --max-ratio"
)]
pub(crate) struct LimitArgs {
    /// Most entries an archive may have.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_entries)]
    max_entries: u64,
    /// Most decompressed bytes in total.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_bytes)]
    max_bytes: u64,
    /// Largest decompressed:compressed ratio of an entry over 1 MiB.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_ratio)]
    max_ratio: u64,
}

impl LimitArgs {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_entries: self.max_entries,
            max_bytes: self.max_bytes,
            max_ratio: self.max_ratio,
        }
    }
}

pub(crate) fn run(args: &ValidateArgs, global: &GlobalArgs) -> Result<Outcome> {
    let checked = check(args, global).with_context(|| {
        format!(
            "validating {}",
            sitepack_format::mask_url_user_info(&args.archive.display().to_string())
        )
    })?;
    let mut report = match checked {
        Ok(report) => report,
        Err(refused) => return Ok(refused),
    };
    if let Some(expected) = &args.expect_sha256 {
        report = report.expect_digest(expected);
    }
    if args.strict {
        report = report.strict();
    }
    if args.json {
        super::print_json(&report)?;
    } else {
        print_report(&report)?;
    }
    Ok(if report.valid {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}

/// The report: of a local file, or of a stored backup (by byte ranges with `--no-data`,
/// else downloaded and checked against its sidecar's digest). A stored backup whose size is
/// not its sidecar's, found before anything is read by ranges, is refused instead (exit 1).
fn check(args: &ValidateArgs, global: &GlobalArgs) -> Result<Result<Report, Outcome>> {
    let name = args.archive.display().to_string();
    let location = super::stored::locate(&args.archive, &args.source)?;
    // An encrypted backup has no byte ranges to read: it is downloaded and decrypted.
    if let (Location::Stored(located), true) = (&location, args.no_data)
        && located.backup.encryption.is_none()
    {
        let report = match validate_stored_metadata(
            located.store.as_ref(),
            &located.backup,
            &name,
            &args.limits.limits(),
        ) {
            Err(mismatch) if mismatch.is_mismatch() => {
                return Ok(Err(super::stored::refuse_stored(
                    &mismatch,
                    "nothing was checked",
                )));
            }
            report => report?,
        };
        super::stored::report_fetched(&location);
        return Ok(Ok(report));
    }
    let opened = match super::stored::open(&location, &args.keys, "nothing was checked")? {
        Ok(opened) => opened,
        Err(refused) => return Ok(Err(refused)),
    };
    let mut report = if args.no_data {
        opened.archive.validate_metadata(&args.limits.limits())?
    } else {
        let bar = Bar::new(!global.no_progress);
        let report = opened
            .archive
            .validate_with_progress(&args.limits.limits(), &bar);
        bar.finish();
        report?
    };
    if let Location::Stored(located) = &location {
        // The sidecar's digest is the trusted one; the report names the backup, not the
        // temporary download. A mismatch is a finding (exit 1), like --expect-sha256's.
        if let Some(mismatch) = &opened.digest_mismatch {
            eprintln!("error: {}", sitepack_format::error_chain(mismatch));
        }
        report = report.expect_digest(&located.backup.archive_sha256());
        super::stored::report_fetched(&location);
    }
    Ok(Ok(report))
}

fn print_report(report: &Report) -> Result<()> {
    let mut out = crate::human_output();
    let verdict = if report.valid { "VALID" } else { "INVALID" };
    let depth = if report.data_checked {
        "bytes verified"
    } else {
        "bytes declared; metadata only, entry data not read"
    };
    writeln!(
        out,
        "{}: {verdict} ({} ZIP entries, {} {depth}; {} error(s), {} warning(s))",
        report.archive,
        report.summary.entries,
        report.summary.bytes,
        report.summary.errors,
        report.summary.warnings
    )?;
    writeln!(out, "sha256 {}", report.digest)?;
    print_findings(&mut out, &report.findings)?;
    if report.summary.truncated {
        writeln!(
            out,
            "\n(only the first {} findings are shown)",
            report.findings.len()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Findings grouped by entry, whole-archive findings first.
pub(crate) fn print_findings(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    let mut by_entry: BTreeMap<Option<&str>, Vec<&Finding>> = BTreeMap::new();
    for finding in findings {
        by_entry
            .entry(finding.path.as_deref())
            .or_default()
            .push(finding);
    }
    for (path, findings) in by_entry {
        writeln!(out, "\n{}", path.unwrap_or("(archive)"))?;
        for finding in findings {
            let severity = match finding.severity {
                sitepack_reader::Severity::Error => "error",
                sitepack_reader::Severity::Warning => "warning",
            };
            writeln!(out, "  {severity:<7} {}: {}", finding.code, finding.message)?;
        }
    }
    Ok(())
}
