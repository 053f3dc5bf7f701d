//! `sitepack create SITE -o OUT [--scope S] [--no-files] [--label TEXT] [--json] …`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sitepack_format::{Options, Scope, Timestamp};
use sitepack_site::{ArchiveOutput, SiteError, create_backup};
use sitepack_writer::{CreateOptions, Overwrite, Summary, WriterError};

use crate::progress::Bar;
use crate::site_arg::SiteArg;
use crate::{GlobalArgs, Outcome};

/// Write one archive of a site, or of one tab, module or user.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Reproducible: the same site, options and --timestamp (or SOURCE_DATE_EPOCH) give a byte-identical archive."
)]
pub(crate) struct CreateArgs {
    /// The site directory, or a database site's descriptor (a TOML file).
    pub(crate) site: PathBuf,
    /// Where to write the archive (`-` for standard output).
    #[arg(
        short,
        long,
        value_name = "OUT.zip",
        required_unless_present = "to",
        conflicts_with = "to"
    )]
    output: Option<PathBuf>,
    /// Store a manual backup in a target instead: a directory, file://… or
    /// s3://bucket/prefix (credentials from the AWS environment variables).
    #[arg(long, value_name = "TARGET")]
    pub(crate) to: Option<String>,
    /// The S3 endpoint (e.g. http://127.0.0.1:9000); default AWS_ENDPOINT_URL, else AWS.
    #[arg(long, value_name = "URL", requires = "to")]
    pub(crate) endpoint: Option<String>,
    /// What to archive: full, tab:NAME, module:NAME or user:ID; of a database site:
    /// full, table:NAME or user:ID.
    #[arg(long, default_value = "full", value_parser = parse_scope)]
    scope: Scope,
    /// Leave out files/** and non-JSON module files (a data-only archive).
    #[arg(long)]
    no_files: bool,
    /// A label stored in the manifest.
    #[arg(long, value_name = "TEXT")]
    label: Option<String>,
    /// The archive's time (RFC 3339, UTC, e.g. 2026-11-22T08:30:00Z); default: `SOURCE_DATE_EPOCH`, else now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_timestamp)]
    timestamp: Option<Timestamp>,
    /// Deflate level: 0 stores everything, 9 compresses most.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    level: u32,
    /// Worker threads (default: the number of cores); a PostgreSQL site reads up to this
    /// many tables at once, each on its own connection in the backup's snapshot.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: Option<u32>,
    /// Replace OUT if it exists.
    #[arg(long)]
    force: bool,
    /// Print one JSON document (the summary) on standard output.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) encrypt: super::crypt_args::EncryptArgs,
}

impl CreateArgs {
    /// Whether standard output is for the JSON summary: not when `-o -` writes the
    /// archive there (the two never mix, not even for an error document).
    pub(crate) fn json_on_stdout(&self) -> bool {
        self.json && self.output.as_ref().is_none_or(|o| o.as_os_str() != "-")
    }
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    text.parse()
        .map_err(|e: sitepack_format::FormatError| e.to_string())
}

fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    text.parse()
        .map_err(|e: sitepack_format::FormatError| e.to_string())
}

/// The archive options the arguments ask for.
pub(crate) fn create_options(args: &CreateArgs) -> Result<CreateOptions> {
    let mut options = CreateOptions::new(args.scope.clone());
    options.options = Options {
        files: !args.no_files,
    };
    options.label.clone_from(&args.label);
    options.created_at = created_at(args)?;
    options.level = args.level;
    if let Some(threads) = args.threads {
        options.threads = threads as usize;
    }
    Ok(options)
}

fn created_at(args: &CreateArgs) -> Result<Timestamp> {
    if let Some(timestamp) = args.timestamp {
        return Ok(timestamp);
    }
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) if !text.is_empty() => {
            let seconds: i64 = text.trim().parse().with_context(|| {
                format!("SOURCE_DATE_EPOCH={text:?} is not a number of seconds since 1970")
            })?;
            Ok(Timestamp::from_unix_seconds(seconds)?)
        }
        _ => Ok(Timestamp::now()),
    }
}

pub(crate) fn run(args: &CreateArgs, global: &GlobalArgs) -> Result<Outcome> {
    let Some(output) = &args.output else {
        return super::stored::create_to(args, global);
    };
    let to_stdout = output.as_os_str() == "-";
    if to_stdout && args.json {
        bail!(
            "--json prints on standard output, which -o - uses for the archive: use one or the other"
        );
    }
    let recipients = args.encrypt.recipients()?;
    let named_age = output
        .to_string_lossy()
        .ends_with(sitepack_crypt::AGE_SUFFIX);
    match (&recipients, named_age) {
        (Some(_), false) if !to_stdout => bail!(
            "{}: an encrypted archive is named OUT.zip.age (age's convention, so that nobody takes it for a ZIP)",
            output.display()
        ),
        (None, true) => bail!(
            "{}: a .age output is encrypted: give --encrypt-to age1…, --recipients-file FILE or --passphrase-file FILE",
            output.display()
        ),
        _ => {}
    }
    let site = crate::site_arg::open_for_backup(&SiteArg::parse(&args.site)?)?;
    let options = create_options(args)?;
    let bar = Bar::new(!global.no_progress);
    if let Some(recipients) = &recipients {
        let written = write_encrypted(site.as_ref(), &options, args, output, recipients, &bar);
        bar.finish();
        let (backup, written) = written?;
        let encrypted = Encrypted {
            recipients: recipients.to_strings(),
            written,
        };
        return report(args, output, &backup, Some(&encrypted));
    }
    let result = if to_stdout {
        let mut stdout = io::stdout().lock();
        let output = ArchiveOutput::Stream {
            out: &mut stdout,
            name: Path::new("<standard output>"),
        };
        create_backup(site.as_ref(), &options, output, &bar)
    } else {
        let overwrite = if args.force {
            Overwrite::Replace
        } else {
            Overwrite::Refuse
        };
        let output = ArchiveOutput::File {
            path: output,
            overwrite,
        };
        create_backup(site.as_ref(), &options, output, &bar)
    };
    bar.finish();
    let backup = match result {
        // A reader that goes away mid-archive is not the harmless broken pipe of
        // printed output: the archive it got is incomplete, so say so and fail.
        Err(SiteError::Writer(WriterError::Io { source, .. }))
            if to_stdout && source.kind() == io::ErrorKind::BrokenPipe =>
        {
            bail!("<standard output>: cannot write: it was closed before the archive was complete")
        }
        other => other?,
    };
    report(args, output, &backup, None)
}

/// Says what was written: the JSON summary, or the human one (on standard error when
/// the archive went to standard output).
fn report(
    args: &CreateArgs,
    output: &Path,
    backup: &sitepack_site::Backup,
    encrypted: Option<&Encrypted>,
) -> Result<Outcome> {
    let to_stdout = output.as_os_str() == "-";
    if let Some(warning) = &backup.audit_warning {
        eprintln!("warning: {warning}");
    }
    let summary = &backup.summary;
    if args.json {
        super::print_json(&json_summary(output, summary, encrypted))?;
    } else if to_stdout {
        print_human(&mut io::stderr().lock(), output, summary, encrypted)?;
    } else {
        print_human(&mut crate::human_output(), output, summary, encrypted)?;
    }
    Ok(Outcome::Success)
}

/// What encryption wrote: to whom, and the ciphertext's size and digest.
struct Encrypted {
    recipients: Vec<String>,
    written: sitepack_crypt::Written,
}

/// Writes the archive through age encryption to `output` (a file beside it renamed into
/// place, or standard output): no plaintext byte is written anywhere.
fn write_encrypted(
    site: &dyn sitepack_site::BackupSource,
    options: &CreateOptions,
    args: &CreateArgs,
    output: &Path,
    recipients: &sitepack_crypt::Recipients,
    bar: &Bar,
) -> Result<(sitepack_site::Backup, sitepack_crypt::Written)> {
    if output.as_os_str() == "-" {
        let stdout = io::stdout().lock();
        let mut out = sitepack_crypt::EncryptingWriter::new(stdout, recipients)?;
        let stream = ArchiveOutput::Stream {
            out: &mut out,
            name: Path::new("<standard output>"),
        };
        let backup = create_backup(site, options, stream, bar)?;
        let (_, written) = out.finish()?;
        return Ok((backup, written));
    }
    let existing = if args.force {
        sitepack_crypt::Existing::Replace
    } else {
        sitepack_crypt::Existing::Refuse
    };
    let mut file =
        sitepack_crypt::EncryptedFile::create(output, recipients, existing, &site.own_dirs())?;
    let stream = ArchiveOutput::Stream {
        out: &mut file,
        name: output,
    };
    let backup = create_backup(site, options, stream, bar)?;
    let written = file.finish()?;
    Ok((backup, written))
}

fn json_summary(
    output: &Path,
    summary: &Summary,
    encrypted: Option<&Encrypted>,
) -> serde_json::Value {
    let manifest = &summary.manifest;
    serde_json::json!({
        "output": output.display().to_string(),
        "archive_size": summary.archive_size,
        "archive_sha256": summary.archive_sha256,
        // The manifest's entries (site files); `zip_entries` is what `validate` counts.
        "entries": manifest.entries.len(),
        "zip_entries": manifest.entries.len() + sitepack_format::METADATA_ENTRIES,
        "created_at": manifest.created_at,
        "site": manifest.site,
        "scope": manifest.scope,
        "options": manifest.options,
        "label": manifest.label,
        "stats": manifest.stats,
        "redactions": manifest.redactions.len(),
        "encrypted": encrypted.map(|e| serde_json::json!({
            "recipients": e.recipients,
            "size": e.written.size,
            "sha256": e.written.sha256,
        })),
    })
}

fn print_human(
    out: &mut dyn Write,
    output: &Path,
    summary: &Summary,
    encrypted: Option<&Encrypted>,
) -> Result<()> {
    let manifest = &summary.manifest;
    let stats = &manifest.stats;
    writeln!(
        out,
        "wrote {} ({} bytes, {} ZIP entries: {} site files, {} and {}; scope {})",
        output.display(),
        summary.archive_size,
        manifest.entries.len() + sitepack_format::METADATA_ENTRIES,
        manifest.entries.len(),
        sitepack_format::MANIFEST_NAME,
        sitepack_format::CHECKSUMS_NAME,
        manifest.scope
    )?;
    let tables: Vec<u64> = manifest
        .entries
        .iter()
        .filter(|e| e.path.as_str().starts_with("site/db/"))
        .filter_map(|e| e.records)
        .collect();
    if manifest.format_version == sitepack_format::database::DATABASE_FORMAT_VERSION {
        writeln!(
            out,
            "  {} tables ({} rows), {} files",
            tables.len(),
            tables.iter().sum::<u64>(),
            stats.files
        )?;
    } else {
        writeln!(
            out,
            "  {} tabs, {} users, {} modules ({} collections, {} records), {} files, {} other",
            stats.tabs,
            stats.users,
            stats.modules,
            stats.collections,
            stats.records,
            stats.files,
            stats.other
        )?;
    }
    if stats.redactions > 0 {
        writeln!(
            out,
            "  {} secret values removed (listed in the manifest's redactions)",
            stats.redactions
        )?;
    }
    if let Some(encrypted) = encrypted {
        writeln!(
            out,
            "encrypted with age to {} recipient(s): {} bytes, sha256 {}",
            encrypted.recipients.len(),
            encrypted.written.size,
            encrypted.written.sha256
        )?;
        writeln!(
            out,
            "sha256 {}  (of the archive inside, as validate --identity reports it)",
            summary.archive_sha256
        )?;
    } else {
        writeln!(
            out,
            "sha256 {}  (keep this digest outside the archive to check it later)",
            summary.archive_sha256
        )?;
    }
    Ok(())
}
