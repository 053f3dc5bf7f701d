//! `validate`: every check of docs/FORMAT.md §13, in one run over an open archive file.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use sitepack_format::{MANIFEST_NAME, Manifest, Progress, Sha256, Sha256Hasher};

use crate::container::{self, Container, Record};
use crate::data_pass::{JobContext, data_pass, ratio_declared};
use crate::finding::{Code, Findings};
use crate::listing::{check_against_manifest, read_manifest};
use crate::manifest::ManifestOutcome;
use crate::names;
use crate::report::report;
use crate::{Limits, Report};

/// What validation learned that reading and extraction reuse.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub records: Vec<Record>,
    pub manifest: Option<Manifest>,
    /// The SHA-256 of the whole file.
    pub digest: Sha256,
}

/// Validates the archive in `file`; `Err` only for I/O errors reading it.
pub(crate) fn validate(
    file: &File,
    len: u64,
    archive: &str,
    limits: &Limits,
    progress: &dyn Progress,
) -> io::Result<(Report, Option<Catalog>)> {
    // The whole-file digest runs alongside everything else.
    std::thread::scope(|scope| {
        let digest = scope.spawn(|| file_digest(file, len));
        let checked = check_archive(file, len, limits, progress);
        let digest = digest
            .join()
            .map_err(|_| io::Error::other("the digest thread panicked"))??;
        let Checked {
            findings,
            entries,
            bytes,
            catalog,
        } = checked?;
        let catalog = catalog.map(|(records, manifest)| Catalog {
            records,
            manifest,
            digest,
        });
        Ok((report(archive, digest, findings, entries, bytes), catalog))
    })
}

/// What the checks found, before the digest is known.
struct Checked {
    findings: Findings,
    entries: u64,
    bytes: u64,
    /// The records and manifest of the catalog.
    catalog: Option<(Vec<Record>, Option<Manifest>)>,
}

fn check_archive(
    file: &File,
    len: u64,
    limits: &Limits,
    progress: &dyn Progress,
) -> io::Result<Checked> {
    let mut findings = Findings::default();
    let Some(Container { records }) =
        container::read(file, len, limits.max_entries, &mut findings)?
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
    let context = JobContext::new(&records, manifest.as_ref(), site.as_ref());
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
    let (per_entry, bytes) = data_pass(file, &context, jobs, limits, progress)?;
    for entry_findings in per_entry.into_iter().flatten() {
        findings.extend(entry_findings);
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
        catalog: Some((records, manifest)),
    })
}

/// The whole-file digest, read sequentially.
fn file_digest(file: &File, len: u64) -> io::Result<Sha256> {
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
