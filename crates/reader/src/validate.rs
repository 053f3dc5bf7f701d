//! `validate`: every check of docs/FORMAT.md §13, in one run over an open archive file.

use std::collections::HashMap;
use std::io;

use sitepack_format::database::DatabaseSchema;
use sitepack_format::{CHECKSUMS_NAME, MANIFEST_NAME, Manifest, Progress, Sha256, Sha256Hasher};

use crate::container::{self, Container, Record};
use crate::data_pass::{JobContext, data_pass, ratio_declared};
use crate::database;
use crate::finding::{Code, Findings};
use crate::listing::{check_against_manifest, read_manifest};
use crate::manifest::ManifestOutcome;
use crate::names;
use crate::preview::Preview;
use crate::report::report;
use crate::source::ReadAt;
use crate::{Limits, Report};

/// What validation learned that reading and extraction reuse.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub records: Vec<Record>,
    pub manifest: Option<Manifest>,
    /// A database archive's `site/db/schema.json`, when it is valid.
    pub database: Option<DatabaseSchema>,
    /// The SHA-256 of the whole file.
    pub digest: Sha256,
}

/// How much of an archive a validation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Everything (docs/FORMAT.md §13).
    Full,
    /// The end records, the central directory, and `manifest.json`, `checksums.sha256` and
    /// `site/site.json` with their local headers: no other entry's data, no whole-file
    /// digest (`digest` is the one recorded outside the archive).
    Metadata {
        /// The digest recorded outside the archive, reported as the archive's.
        digest: Sha256,
    },
}

/// The entries a metadata-only check reads (a database archive's schema too: it says what
/// the archive holds).
const METADATA_ENTRIES: [&str; 4] = [
    MANIFEST_NAME,
    CHECKSUMS_NAME,
    "site/site.json",
    "site/db/schema.json",
];

/// Validates the archive in `file`; `Err` only for I/O errors reading it.
pub(crate) fn validate(
    file: &dyn ReadAt,
    len: u64,
    archive: &str,
    limits: &Limits,
    progress: &dyn Progress,
    depth: Depth,
    whole_rows: bool,
) -> io::Result<(Report, Option<Catalog>)> {
    // The whole-file digest runs alongside everything else.
    std::thread::scope(|scope| {
        let digest = scope.spawn(|| match depth {
            Depth::Full => file_digest(file, len),
            Depth::Metadata { digest } => Ok(digest),
        });
        let checked = check_archive(file, len, limits, progress, depth, whole_rows);
        let digest = digest
            .join()
            .map_err(|_| io::Error::other("the digest thread panicked"))??;
        let Checked {
            findings,
            entries,
            bytes,
            catalog,
        } = checked?;
        let catalog = catalog.map(|(records, manifest, database)| Catalog {
            records,
            manifest,
            database,
            digest,
        });
        let mut report = report(archive, digest, findings, entries, bytes);
        report.data_checked = depth == Depth::Full;
        Ok((report, catalog))
    })
}

/// What the checks found, before the digest is known.
struct Checked {
    findings: Findings,
    entries: u64,
    bytes: u64,
    /// The records, manifest and database schema of the catalog.
    catalog: Option<(Vec<Record>, Option<Manifest>, Option<DatabaseSchema>)>,
}

fn check_archive(
    file: &dyn ReadAt,
    len: u64,
    limits: &Limits,
    progress: &dyn Progress,
    depth: Depth,
    whole_rows: bool,
) -> io::Result<Checked> {
    let mut findings = Findings::default();
    let only = match depth {
        Depth::Full => None,
        Depth::Metadata { .. } => Some(&METADATA_ENTRIES[..]),
    };
    let Some(Container { records }) =
        container::read_some(file, len, limits.max_entries, only, &mut findings)?
    else {
        return Ok(Checked {
            findings,
            entries: 0,
            bytes: 0,
            catalog: None,
        });
    };
    names::check(&records, &mut findings);
    let declared: u64 = records
        .iter()
        .map(|r| r.uncompressed)
        .fold(0, u64::saturating_add);
    let too_large = declared > limits.max_bytes;
    if too_large {
        findings.archive(
            Code::TooLarge,
            format!(
                "the entries declare {declared} bytes in total, more than the limit of {}; raise --max-bytes if you trust this archive",
                limits.max_bytes
            ),
        );
    }
    let files: HashMap<&[u8], &Record> = records
        .iter()
        .filter(|r| !r.is_directory())
        .map(|r| (r.name_bytes(), r))
        .collect();
    let outcome = read_manifest(
        file,
        files.get(MANIFEST_NAME.as_bytes()).copied(),
        &mut findings,
    )?;
    let other_version = matches!(outcome, ManifestOutcome::OtherVersion);
    let manifest = match outcome {
        ManifestOutcome::Read(manifest) => Some(*manifest),
        ManifestOutcome::OtherVersion | ManifestOutcome::Invalid => None,
    };
    let site = match &manifest {
        Some(manifest) => check_against_manifest(file, manifest, &records, &files, &mut findings)?,
        None => None,
    };
    let schema = match &manifest {
        Some(manifest) if database::is_database(manifest) => {
            let schema = database::read_schema(file, &files, &mut findings)?;
            if let Some(schema) = &schema {
                database::check_entries(manifest, schema, &mut findings);
            }
            schema
        }
        _ => None,
    };
    if only.is_some() {
        return Ok(Checked {
            findings,
            entries: records.len() as u64,
            bytes: declared,
            catalog: Some((records, manifest, schema)),
        });
    }
    let (m, d) = (manifest.as_ref(), schema.as_ref());
    let context = JobContext::new(&records, m, site.as_ref(), d, whole_rows);
    let mut jobs = Vec::new();
    for (index, record) in records.iter().enumerate() {
        if too_large
            || record.is_directory()
            || !record.readable()
            || ratio_declared(record, limits, &mut findings)
        {
            continue;
        }
        jobs.push(context.job(index, record, other_version));
    }
    let passed = data_pass(file, &context, jobs, limits, progress)?;
    let bytes = passed.bytes;
    for entry_findings in passed.per_entry.into_iter().flatten() {
        findings.extend(entry_findings);
    }
    if let (Some(manifest), Some(schema)) = (&manifest, &schema) {
        database::finish(manifest, schema, passed.tables, &mut findings);
    }
    if bytes > limits.max_bytes && !too_large {
        findings.archive(
            Code::TooLarge,
            format!("the entries decompress to more than the limit of {} bytes; raise --max-bytes if you trust this archive", limits.max_bytes),
        );
    }
    Ok(Checked {
        findings,
        entries: records.len() as u64,
        bytes,
        catalog: Some((records, manifest, schema)),
    })
}

/// A metadata-only validation of an archive read from `source`, whose digest `digest` was
/// recorded outside it: the end records, the central directory, `manifest.json`,
/// `checksums.sha256` and `site/site.json` (with their local headers) are read and
/// checked; no other entry's data and no whole-file digest. The report says
/// `data_checked: false`.
pub fn validate_metadata(
    source: &dyn ReadAt,
    len: u64,
    archive: &str,
    limits: &Limits,
    digest: Sha256,
) -> io::Result<Report> {
    validate(
        source,
        len,
        archive,
        limits,
        &sitepack_format::NoProgress,
        Depth::Metadata { digest },
        false,
    )
    .map(|(report, _)| report)
}

/// A metadata-only preview of an archive read from `source` (see [`validate_metadata`]).
pub fn preview_metadata(
    source: &dyn ReadAt,
    len: u64,
    archive: &str,
    digest: Sha256,
) -> io::Result<Preview> {
    let (report, catalog) = validate(
        source,
        len,
        archive,
        &Limits::default(),
        &sitepack_format::NoProgress,
        Depth::Metadata { digest },
        false,
    )?;
    Ok(Preview::new(report, catalog.as_ref()))
}

/// The whole-file digest, read sequentially.
pub(crate) fn file_digest(file: &dyn ReadAt, len: u64) -> io::Result<Sha256> {
    let mut hasher = Sha256Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let want = usize::try_from((len - at).min(buffer.len() as u64)).unwrap_or(buffer.len());
        file.read_exact_at(&mut buffer[..want], at)?;
        hasher.update(&buffer[..want]);
        at += want as u64;
    }
    Ok(hasher.finish())
}
