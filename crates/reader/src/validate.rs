//! `validate`: every check of docs/FORMAT.md §13, in one run over an open archive file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};

use schemars::JsonSchema;
use serde::Serialize;
use sitepack_format::{
    ArchivePath, Area, CHECKSUMS_NAME, ContentKind, MANIFEST_NAME, Manifest, PAYLOAD_DIR, Progress,
    Scope, SecretPolicy, Selection, Sha256, Sha256Hasher, SiteConfig, classify,
    validate_site_config,
};

use crate::container::{self, Container, Record};
use crate::content::{ContentCheck, ContentRules, ShapeScanner, credential_shapes};
use crate::entry_stream::{Computed, EntryStream, drain};
use crate::finding::{Code, Finding, Findings};
use crate::manifest::{self, MAX_MANIFEST_BYTES, ManifestOutcome};
use crate::names;

/// How much an archive may hold before it is refused unread (docs/FORMAT.md §13.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most central-directory records.
    pub max_entries: u64,
    /// Most decompressed bytes in total.
    pub max_bytes: u64,
    /// Largest decompressed/compressed ratio of an entry over 1 MiB.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 1_000_000,
            max_bytes: 64 << 30,
            max_ratio: 1000,
        }
    }
}

/// Entries smaller than this are never ratio bombs, however well they compress.
const RATIO_FLOOR: u64 = 1 << 20;

/// The verdict on one archive: `schema/report.schema.json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(
    title = "sitepack validation report",
    description = "What `sitepack validate --json` prints (docs/FORMAT.md §13)"
)]
pub struct Report {
    /// No error finding (and, when strict, no warning).
    pub valid: bool,
    /// The archive as the caller named it.
    pub archive: String,
    /// SHA-256 of the whole archive file.
    pub digest: Sha256,
    /// The findings, at most 1,000 (see `summary.truncated`).
    pub findings: Vec<Finding>,
    /// Counts.
    pub summary: Summary,
}

/// `schema/report.schema.json`, as committed.
pub const REPORT_SCHEMA: &str = include_str!("../../../schema/report.schema.json");

/// The report schema as the Rust types describe it (what `cargo xtask schema` writes).
#[must_use]
pub fn generated_report_schema() -> serde_json::Value {
    sitepack_format::generated_schema::<Report>("https://sitepack.dev/schema/v1/report.schema.json")
}

/// Counts of a report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Summary {
    /// Central-directory records.
    pub entries: u64,
    /// Decompressed bytes read and verified.
    pub bytes: u64,
    /// Error findings (all of them, including those not kept).
    pub errors: u64,
    /// Warning findings (all of them).
    pub warnings: u64,
    /// Whether findings beyond the first 1,000 were left out.
    pub truncated: bool,
}

impl Report {
    /// Whether the archive is valid.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// Counts warnings as errors for the verdict (`--strict`).
    #[must_use]
    pub fn strict(mut self) -> Self {
        self.valid = self.valid && self.summary.warnings == 0;
        self
    }

    /// Compares the archive's digest with one kept outside it (`--expect-sha256`).
    #[must_use]
    pub fn expect_digest(self, expected: &Sha256) -> Self {
        if &self.digest == expected {
            return self;
        }
        let mut findings = Findings::default();
        findings.archive(
            Code::ArchiveDigestMismatch,
            format!(
                "the archive's SHA-256 is {}, not the expected {expected}: this is not the archive you meant, or it changed since its digest was recorded",
                self.digest
            ),
        );
        self.with(findings)
    }

    fn with(mut self, more: Findings) -> Self {
        let mut findings = Findings {
            kept: std::mem::take(&mut self.findings),
            errors: self.summary.errors,
            warnings: self.summary.warnings,
        };
        findings.extend(more);
        self.valid = self.valid && findings.errors == self.summary.errors;
        self.summary.errors = findings.errors;
        self.summary.warnings = findings.warnings;
        self.summary.truncated = findings.errors + findings.warnings > findings.kept.len() as u64;
        self.findings = findings.kept;
        self
    }
}

/// What validation learned that reading and extraction reuse.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub records: Vec<Record>,
    pub manifest: Option<Manifest>,
}

/// One entry for the data pass.
struct Job<'a> {
    index: usize,
    record: &'a Record,
    expected_sha256: Option<Sha256>,
    scan_shapes: bool,
    content: Option<ContentRules<'a>>,
    expected_records: Option<u64>,
}

/// What every job of one validation shares: the secret policy and each record's place.
struct JobContext {
    policy: SecretPolicy,
    owner_field: String,
    /// Per record: its site-relative path and area, when its name is a payload path.
    places: Vec<Option<(ArchivePath, Area)>>,
    /// Per record: its index in the manifest's entries, when listed.
    entries: Vec<Option<usize>>,
}

impl JobContext {
    fn new(records: &[Record], manifest: Option<&Manifest>, site: Option<&SiteConfig>) -> Self {
        let listed = manifest.map(manifest::listed).unwrap_or_default();
        let entries = records
            .iter()
            .map(|r| r.name.as_deref().and_then(|n| listed.get(n).copied()))
            .collect();
        let places = records
            .iter()
            .map(|r| {
                let path: ArchivePath = r.name.as_deref()?.parse().ok()?;
                let site_path = path.strip_prefix(PAYLOAD_DIR)?;
                let area = classify(&site_path)?;
                Some((site_path, area))
            })
            .collect();
        Self {
            policy: site
                .and_then(|s| SecretPolicy::new(s.secrets.as_ref()).ok())
                .unwrap_or_default(),
            owner_field: site
                .map_or(
                    sitepack_format::DEFAULT_OWNER_FIELD,
                    SiteConfig::owner_field,
                )
                .to_owned(),
            places,
            entries,
        }
    }

    /// The job for one readable record: what to compare it with and how to check it.
    fn job<'a>(
        &'a self,
        index: usize,
        record: &'a Record,
        manifest: Option<&'a Manifest>,
        other_version: bool,
    ) -> Job<'a> {
        let entry = manifest
            .zip(self.entries[index])
            .map(|(m, i)| &m.entries[i]);
        let place = self.places[index].as_ref();
        let content = match (entry, manifest, place) {
            (Some(_), Some(manifest), Some((path, area))) => {
                let kind = ContentKind::of(path, area);
                kind.is_json().then(|| ContentRules {
                    name: record.display.as_str(),
                    path,
                    area,
                    kind,
                    selection: manifest.scope.selects(area, manifest.options),
                    policy: &self.policy,
                    owner_field: &self.owner_field,
                    user: match &manifest.scope {
                        Scope::User(user) => Some(user.as_str()),
                        _ => None,
                    },
                })
            }
            _ => None,
        };
        Job {
            index,
            record,
            expected_sha256: entry.map(|e| e.sha256),
            scan_shapes: place.is_some() && !other_version,
            content,
            expected_records: entry.and_then(|e| e.records),
        }
    }
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
        Ok((report(archive, digest, findings, entries, bytes), catalog))
    })
}

/// What the checks found, before the digest is known.
struct Checked {
    findings: Findings,
    entries: u64,
    bytes: u64,
    catalog: Option<Catalog>,
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
        .map(|r| (r.name_bytes.as_slice(), r))
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
        jobs.push(context.job(index, record, manifest.as_ref(), other_version));
    }
    let (per_entry, bytes) = data_pass(file, jobs, limits, progress)?;
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
        catalog: Some(Catalog { records, manifest }),
    })
}

fn report(archive: &str, digest: Sha256, findings: Findings, entries: u64, bytes: u64) -> Report {
    let truncated = findings.errors + findings.warnings > findings.kept.len() as u64;
    Report {
        valid: findings.errors == 0,
        archive: archive.to_owned(),
        digest,
        summary: Summary {
            entries,
            bytes,
            errors: findings.errors,
            warnings: findings.warnings,
            truncated,
        },
        findings: findings.kept,
    }
}

/// Flags an entry whose declared sizes already exceed the ratio limit; it is not read.
fn ratio_declared(record: &Record, limits: &Limits, findings: &mut Findings) -> bool {
    let exceeded = record.uncompressed > RATIO_FLOOR
        && record.uncompressed > record.compressed.saturating_mul(limits.max_ratio);
    if exceeded {
        ratio_finding(record, record.uncompressed, limits, findings);
    }
    exceeded
}

fn ratio_finding(record: &Record, size: u64, limits: &Limits, findings: &mut Findings) {
    findings.entry(
        Code::RatioExceeded,
        &record.display,
        format!(
            "{} compressed bytes expand to more than {size} (over {}:1): a decompression bomb; raise --max-ratio only if you trust this archive",
            record.compressed, limits.max_ratio
        ),
    );
}

/// Reads the whole of a small entry (at most `max` bytes; `None` past that).
fn read_small(file: &File, record: &Record, max: u64) -> io::Result<Option<Vec<u8>>> {
    let mut stream = EntryStream::new(file, record)?;
    let mut bytes = Vec::new();
    match (&mut stream).take(max + 1).read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(e)
            if e.kind() == io::ErrorKind::InvalidData
                || e.kind() == io::ErrorKind::UnexpectedEof =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

fn read_manifest(
    file: &File,
    record: Option<&Record>,
    findings: &mut Findings,
) -> io::Result<ManifestOutcome> {
    let Some(record) = record else {
        findings.archive(
            Code::ManifestMissing,
            "there is no manifest.json: this is not a sitepack archive, or it is damaged",
        );
        return Ok(ManifestOutcome::Invalid);
    };
    if !record.readable() {
        return Ok(ManifestOutcome::Invalid);
    }
    let too_large = |findings: &mut Findings| {
        findings.entry(
            Code::ManifestTooLarge,
            MANIFEST_NAME,
            "manifest.json is larger than 64 MiB; sitepack does not read it",
        );
        Ok(ManifestOutcome::Invalid)
    };
    if record.uncompressed > MAX_MANIFEST_BYTES {
        return too_large(findings);
    }
    match read_small(file, record, MAX_MANIFEST_BYTES)? {
        Some(bytes) => Ok(manifest::check(&bytes, findings)),
        // Corrupt data is reported by the data pass.
        None if record.uncompressed == MAX_MANIFEST_BYTES => too_large(findings),
        None => Ok(ManifestOutcome::Invalid),
    }
}

/// Completeness, checksums, site identity and scope: the manifest against the entries.
/// Returns the archive's `site.json` when it is valid.
fn check_against_manifest(
    file: &File,
    manifest: &Manifest,
    records: &[Record],
    files: &HashMap<&[u8], &Record>,
    findings: &mut Findings,
) -> io::Result<Option<SiteConfig>> {
    manifest::check_listing(manifest, findings);
    let listed = manifest::listed(manifest);
    for record in records {
        let name = record.name.as_deref();
        let accepted = if record.is_directory() {
            name.is_some_and(|n| n == "site/" || n.starts_with("site/"))
        } else {
            name.is_some_and(|n| {
                n == MANIFEST_NAME || n == CHECKSUMS_NAME || listed.contains_key(n)
            })
        };
        if !accepted {
            findings.entry(
                Code::UnlistedEntry,
                &record.display,
                "the manifest does not list this entry, so nothing vouches for it; do not trust this archive",
            );
        }
    }
    for entry in &manifest.entries {
        match files.get(entry.path.as_str().as_bytes()) {
            None => findings.entry(
                Code::MissingEntry,
                entry.path.as_str(),
                "the manifest lists this entry but the archive does not hold it: the archive is incomplete",
            ),
            Some(record) if record.uncompressed != entry.size => findings.entry(
                Code::SizeMismatch,
                entry.path.as_str(),
                format!(
                    "the manifest says {} bytes but the archive declares {}",
                    entry.size, record.uncompressed
                ),
            ),
            Some(_) => {}
        }
        check_entry_place(manifest, entry, findings);
    }
    check_checksums(
        file,
        manifest,
        files.get(CHECKSUMS_NAME.as_bytes()).copied(),
        findings,
    )?;
    manifest::check_stats(manifest, findings);
    if let Some(label) = &manifest.label {
        for shape in credential_shapes(label.as_bytes()) {
            findings.entry(
                Code::CredentialShape,
                MANIFEST_NAME,
                format!("the label contains something shaped like {shape}; if it is a real credential, rotate it"),
            );
        }
    }
    check_site(file, manifest, files, findings)
}

fn check_entry_place(manifest: &Manifest, entry: &sitepack_format::Entry, findings: &mut Findings) {
    let name = entry.path.as_str();
    let Some(area) = entry
        .path
        .strip_prefix(PAYLOAD_DIR)
        .as_ref()
        .and_then(classify)
    else {
        findings.entry(
            Code::OutOfScope,
            name,
            "sitepack's own state (site/.sitepack/) is never archived; do not restore this archive",
        );
        return;
    };
    if area.kind() != entry.area {
        findings.entry(
            Code::AreaMismatch,
            name,
            format!(
                "the manifest says area {:?} but the path is in area {:?}",
                entry.area,
                area.kind()
            ),
        );
    }
    if manifest.scope.selects(&area, manifest.options) == Selection::Excluded {
        findings.entry(
            Code::OutOfScope,
            name,
            format!(
                "the archive's scope is {} (files: {}), which does not include this entry; restoring it would change more than the scope says",
                manifest.scope, manifest.options.files
            ),
        );
    }
    let collection = matches!(
        area,
        sitepack_format::Area::Module {
            item: sitepack_format::ModuleItem::Collection,
            ..
        }
    );
    if collection != entry.records.is_some() {
        let what = if collection {
            "a collection must state its number of records"
        } else {
            "only collections state a number of records"
        };
        findings.entry(
            Code::RecordCountMismatch,
            name,
            format!("{what} in the manifest"),
        );
    }
}

fn check_checksums(
    file: &File,
    manifest: &Manifest,
    record: Option<&Record>,
    findings: &mut Findings,
) -> io::Result<()> {
    let Some(record) = record else {
        findings.archive(
            Code::ChecksumsMissing,
            "there is no checksums.sha256: the archive is incomplete or was not made by sitepack",
        );
        return Ok(());
    };
    if !record.readable() {
        return Ok(());
    }
    let expected = manifest::checksums_text(manifest);
    if read_small(file, record, expected.len() as u64)?.as_deref() != Some(expected.as_slice()) {
        findings.entry(
            Code::ChecksumsMismatch,
            CHECKSUMS_NAME,
            "checksums.sha256 does not match the manifest's entries, so `sha256sum -c` would check something else; the archive was altered",
        );
    }
    Ok(())
}

fn check_site(
    file: &File,
    manifest: &Manifest,
    files: &HashMap<&[u8], &Record>,
    findings: &mut Findings,
) -> io::Result<Option<SiteConfig>> {
    let name = "site/site.json";
    let mismatch = |findings: &mut Findings, what: String| {
        findings.entry(
            Code::SiteMismatch,
            name,
            format!("{what}; the archive does not describe one site consistently"),
        );
    };
    let listed = manifest.entries.iter().any(|e| e.path.as_str() == name);
    let Some(record) = files.get(name.as_bytes()).filter(|_| listed) else {
        mismatch(findings, "site/site.json is not in the archive".to_owned());
        return Ok(None);
    };
    if !record.readable() {
        return Ok(None);
    }
    let Some(bytes) = read_small(file, record, MAX_MANIFEST_BYTES)? else {
        return Ok(None);
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        // Reported as INVALID_JSON by the content checks.
        return Ok(None);
    };
    match validate_site_config(&value) {
        Ok(site) => {
            if site.identity() != manifest.site {
                mismatch(
                    findings,
                    format!(
                        "site.json says site `{}` ({}, {}) but the manifest says `{}` ({}, {})",
                        site.id,
                        site.name,
                        site.url,
                        manifest.site.id,
                        manifest.site.name,
                        manifest.site.url
                    ),
                );
            }
            Ok(Some(site))
        }
        Err(e) => {
            mismatch(findings, format!("site.json is not valid: {e}"));
            Ok(None)
        }
    }
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

/// Reads every job's entry once, on all cores. Returns each record's findings (by
/// record index) and the bytes read.
fn data_pass(
    file: &File,
    mut jobs: Vec<Job<'_>>,
    limits: &Limits,
    progress: &dyn Progress,
) -> io::Result<(Vec<Option<Findings>>, u64)> {
    progress.begin(
        jobs.len() as u64,
        jobs.iter().map(|j| j.record.uncompressed).sum(),
    );
    let slots = jobs.iter().map(|j| j.index).max().map_or(0, |m| m + 1);
    // Largest first, so that no core is left with one big entry at the end.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.record.compressed));
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let worker = || -> io::Result<(Vec<(usize, Findings)>, u64)> {
        let mut buffer = vec![0u8; 256 * 1024];
        let mut found = Vec::new();
        let mut bytes = 0u64;
        while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
            let (findings, size) = check_entry(file, job, limits, &mut buffer)?;
            bytes += size;
            progress.advance(size);
            found.push((job.index, findings));
        }
        Ok((found, bytes))
    };
    let results: Vec<io::Result<_>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a verification thread panicked")))
            })
            .collect()
    });
    let mut per_entry: Vec<Option<Findings>> = (0..slots).map(|_| None).collect();
    let mut total = 0;
    for result in results {
        let (found, bytes) = result?;
        total += bytes;
        for (index, findings) in found {
            per_entry[index] = Some(findings);
        }
    }
    Ok((per_entry, total))
}

/// Reads one entry: sizes, CRC-32, SHA-256, ratio, content and credential shapes.
fn check_entry(
    file: &File,
    job: &Job<'_>,
    limits: &Limits,
    buffer: &mut [u8],
) -> io::Result<(Findings, u64)> {
    let record = job.record;
    let name = record.display.as_str();
    let mut findings = Findings::default();
    let mut stream = EntryStream::new(file, record)?;
    let mut content = job
        .content
        .as_ref()
        .map(|rules| ContentCheck::new(rules.clone()));
    let mut shapes = job.scan_shapes.then(ShapeScanner::default);
    let ratio_cap = record
        .compressed
        .saturating_mul(limits.max_ratio)
        .max(RATIO_FLOOR);
    let mut bomb = false;
    let mut produced = 0u64;
    let read = drain(&mut stream, buffer, |chunk| {
        produced += chunk.len() as u64;
        if produced > ratio_cap {
            bomb = true;
            return false;
        }
        if let Some(content) = content.as_mut() {
            content.feed(chunk);
        }
        if let Some(shapes) = shapes.as_mut() {
            shapes.feed(chunk);
        }
        true
    });
    let computed = stream.finish();
    match read {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
            ) =>
        {
            findings.entry(
                Code::CorruptData,
                name,
                format!("the entry's data is damaged: {e}; copy the archive again from its source"),
            );
            return Ok((findings, computed.size));
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    if bomb {
        ratio_finding(record, computed.size, limits, &mut findings);
        return Ok((findings, computed.size));
    }
    judge(job, &computed, content, &mut findings);
    if let Some(shapes) = shapes {
        shapes.report(name, &mut findings);
    }
    Ok((findings, computed.size))
}

/// The verdict on an entry read to its end: size, CRC-32, SHA-256, content.
fn judge(
    job: &Job<'_>,
    computed: &Computed,
    content: Option<ContentCheck<'_>>,
    findings: &mut Findings,
) {
    let record = job.record;
    let name = record.display.as_str();
    if computed.size != record.uncompressed {
        let how = if computed.size > record.uncompressed {
            "more"
        } else {
            "fewer"
        };
        findings.entry(
            Code::SizeMismatch,
            name,
            format!(
                "the entry decompresses to {how} bytes than the {} its header declares; the archive is damaged or was altered",
                record.uncompressed
            ),
        );
        return;
    }
    if computed.crc != record.crc {
        findings.entry(
            Code::CrcMismatch,
            name,
            "the data does not match its CRC-32: the archive is damaged; copy it again from its source",
        );
    }
    if let Some(expected) = &job.expected_sha256
        && &computed.sha256 != expected
    {
        findings.entry(
            Code::DigestMismatch,
            name,
            "the data does not match the SHA-256 the manifest lists: the entry was altered after the archive was made; do not trust it",
        );
    }
    if let Some(content) = content {
        let (content_findings, records) = content.finish();
        findings.extend(content_findings);
        if let (Some(counted), Some(stated)) = (records, job.expected_records)
            && counted != stated
        {
            findings.entry(
                Code::RecordCountMismatch,
                name,
                format!("the collection holds {counted} records but the manifest says {stated}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails, the report types changed: run `cargo xtask schema` and review the diff.
    #[test]
    fn committed_report_schema_matches_the_types() {
        let generated = serde_json::to_string_pretty(&generated_report_schema()).unwrap() + "\n";
        assert_eq!(REPORT_SCHEMA, generated, "run `cargo xtask schema`");
    }
}
