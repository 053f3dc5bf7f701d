//! The data pass: every entry read once, on all cores, through the one verifying read
//! path — sizes, ratio, CRC-32, SHA-256, JSON content, secrets, credential shapes
//! (docs/FORMAT.md §13.4, §13.7–13.9).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use sitepack_format::database::{DB_DIR, DatabaseSchema, Table};
use sitepack_format::{
    ArchivePath, Area, ContentKind, Entry, Manifest, PAYLOAD_DIR, Progress, Scope, SecretPolicy,
    SiteConfig, classify,
};

use crate::Limits;
use crate::container::Record;
use crate::content::{ContentCheck, ContentRules, ShapeScanner};
use crate::database::TableOutcome;
use crate::entry_stream::{Computed, EntryStream, drain};
use crate::finding::{Code, Findings};
use crate::manifest;
use crate::source::ReadAt;

/// One entry for the data pass.
pub(crate) struct Job<'a> {
    index: usize,
    record: &'a Record,
    /// Its manifest entry, when listed.
    entry: Option<&'a Entry>,
    scan_shapes: bool,
}

/// What every job of one validation shares. Each job's own rules (its path, area and
/// content kind) are worked out by the worker that reads it, so that nothing per entry
/// is held for the whole pass beyond the job itself.
pub(crate) struct JobContext<'a> {
    manifest: Option<&'a Manifest>,
    /// The schema of a database archive whose tables are checked.
    database: Option<&'a DatabaseSchema>,
    policy: SecretPolicy,
    owner_field: String,
    /// Per record: its index in the manifest's entries, when listed.
    entries: Vec<Option<usize>>,
}

impl<'a> JobContext<'a> {
    pub(crate) fn new(
        records: &[Record],
        manifest: Option<&'a Manifest>,
        site: Option<&SiteConfig>,
        database: Option<&'a DatabaseSchema>,
        whole_rows: bool,
    ) -> Self {
        let listed = manifest.map(manifest::listed).unwrap_or_default();
        let entries = records
            .iter()
            .map(|r| r.name().and_then(|n| listed.get(n).copied()))
            .collect();
        Self {
            manifest,
            database,
            // A local snapshot's rows are whole (`Archive::open_local_snapshot`).
            policy: if whole_rows {
                SecretPolicy::keeping_rows_whole()
            } else {
                site.and_then(|s| SecretPolicy::new(s.secrets.as_ref()).ok())
                    .unwrap_or_default()
            },
            owner_field: site
                .map_or(
                    sitepack_format::DEFAULT_OWNER_FIELD,
                    SiteConfig::owner_field,
                )
                .to_owned(),
            entries,
        }
    }

    /// The job for one readable record.
    pub(crate) fn job<'r>(&self, index: usize, record: &'r Record, other_version: bool) -> Job<'r>
    where
        'a: 'r,
    {
        let entry = self
            .manifest
            .zip(self.entries[index])
            .map(|(m, i)| &m.entries[i]);
        Job {
            index,
            record,
            entry,
            scan_shapes: !other_version && place(record).is_some(),
        }
    }

    /// How to check a listed payload entry's JSON content, if it has any.
    fn rules<'r>(
        &'r self,
        record: &'r Record,
        place: &'r (ArchivePath, Area),
    ) -> Option<ContentRules<'r>> {
        let manifest = self.manifest?;
        let (path, area) = place;
        let kind = ContentKind::of(path, area);
        kind.is_json().then(|| ContentRules {
            name: record.display(),
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
            table: self.table(path),
            redacted_columns: manifest
                .redactions
                .iter()
                .filter(|r| r.path.strip_prefix(PAYLOAD_DIR).as_ref() == Some(path))
                .filter_map(|r| r.pointer.strip_prefix('/'))
                .filter(|column| !column.contains('/') && !column.contains('~'))
                .collect(),
        })
    }

    /// The table whose rows `path` (site-relative) holds, in a database archive.
    fn table(&self, path: &ArchivePath) -> Option<(&'a DatabaseSchema, &'a Table)> {
        let schema = self.database?;
        let name = path
            .as_str()
            .strip_prefix(DB_DIR)?
            .strip_prefix('/')?
            .strip_suffix(".jsonl")?;
        let table = schema.tables.iter().find(|t| t.name == name)?;
        Some((schema, table))
    }
}

/// A record's site-relative path and area, when its name is a payload path.
fn place(record: &Record) -> Option<(ArchivePath, Area)> {
    let path: ArchivePath = record.name()?.parse().ok()?;
    let site_path = path.strip_prefix(PAYLOAD_DIR)?;
    let area = classify(&site_path)?;
    Some((site_path, area))
}

/// Flags an entry whose declared sizes already exceed the ratio limit; it is not read.
pub(crate) fn ratio_declared(record: &Record, limits: &Limits, findings: &mut Findings) -> bool {
    let exceeded = limits.ratio_exceeded(record.uncompressed, record.compressed);
    if exceeded {
        ratio_finding(record, record.uncompressed, limits, findings);
    }
    exceeded
}

fn ratio_finding(record: &Record, size: u64, limits: &Limits, findings: &mut Findings) {
    findings.entry(
        Code::RatioExceeded,
        record.display(),
        format!(
            "{} compressed bytes expand to more than {size} (over {}:1): a decompression bomb; raise --max-ratio only if you trust this archive",
            record.compressed, limits.max_ratio
        ),
    );
}

/// What the data pass found.
pub(crate) struct Passed {
    /// Each record's findings, by record index.
    pub per_entry: Vec<Option<Findings>>,
    /// The bytes read.
    pub bytes: u64,
    /// The rows and keys of each table of a database archive that was read.
    pub tables: Vec<TableOutcome>,
}

/// What one worker of the data pass found.
#[derive(Default)]
struct Worked {
    /// The findings of each entry it read, by record index.
    found: Vec<(usize, Findings)>,
    bytes: u64,
    tables: Vec<TableOutcome>,
}

/// Reads every job's entry once, on all cores.
pub(crate) fn data_pass(
    file: &dyn ReadAt,
    context: &JobContext<'_>,
    mut jobs: Vec<Job<'_>>,
    limits: &Limits,
    progress: &dyn Progress,
) -> io::Result<Passed> {
    progress.begin(
        jobs.len() as u64,
        jobs.iter().map(|j| j.record.uncompressed).sum(),
    );
    let slots = jobs.iter().map(|j| j.index).max().map_or(0, |m| m + 1);
    // Largest first, so that no core is left with one big entry at the end.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.record.compressed));
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let worker = || -> io::Result<Worked> {
        let mut buffer = vec![0u8; 256 * 1024];
        let mut worked = Worked::default();
        while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
            let (findings, size, table) = check_entry(file, context, job, limits, &mut buffer)?;
            worked.bytes += size;
            progress.advance(size);
            worked.found.push((job.index, findings));
            worked.tables.extend(table);
        }
        Ok(worked)
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
    let mut passed = Passed {
        per_entry: (0..slots).map(|_| None).collect(),
        bytes: 0,
        tables: Vec::new(),
    };
    for result in results {
        let part = result?;
        passed.bytes += part.bytes;
        passed.tables.extend(part.tables);
        for (index, findings) in part.found {
            passed.per_entry[index] = Some(findings);
        }
    }
    Ok(passed)
}

/// Reads one entry: sizes, CRC-32, SHA-256, ratio, content and credential shapes; a
/// table's rows and keys.
fn check_entry(
    file: &dyn ReadAt,
    shared: &JobContext<'_>,
    job: &Job<'_>,
    limits: &Limits,
    buffer: &mut [u8],
) -> io::Result<(Findings, u64, Option<TableOutcome>)> {
    let record = job.record;
    let name = record.display();
    let mut findings = Findings::default();
    let mut stream = EntryStream::new(file, record)?;
    let site_place = place(record);
    let mut content = site_place
        .as_ref()
        .filter(|_| job.entry.is_some())
        .and_then(|place| shared.rules(record, place))
        .map(ContentCheck::new);
    let mut shapes = site_place
        .as_ref()
        .filter(|_| job.scan_shapes)
        .map(|(path, _)| ShapeScanner::new(&shared.policy, path));
    let ratio_cap = record
        .compressed
        .saturating_mul(limits.max_ratio)
        .max(sitepack_format::RATIO_FLOOR);
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
            return Ok((findings, computed.size, None));
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    if bomb {
        ratio_finding(record, computed.size, limits, &mut findings);
        return Ok((findings, computed.size, None));
    }
    // Parsed JSON reports its credential shapes by pointer; the byte scan covers the rest.
    let shapes_by_pointer = content.as_ref().is_some_and(ContentCheck::parsed_all);
    let table = judge(job, &computed, content, &mut findings);
    if let Some(shapes) = shapes.filter(|_| !shapes_by_pointer) {
        shapes.report(name, &mut findings);
    }
    Ok((findings, computed.size, table))
}

/// The verdict on an entry read to its end: size, CRC-32, SHA-256, content. Gives a
/// table's rows and keys when its data is whole.
fn judge(
    job: &Job<'_>,
    computed: &Computed,
    content: Option<ContentCheck<'_>>,
    findings: &mut Findings,
) -> Option<TableOutcome> {
    let record = job.record;
    let name = record.display();
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
        return None;
    }
    if computed.crc != record.crc {
        findings.entry(
            Code::CrcMismatch,
            name,
            "the data does not match its CRC-32: the archive is damaged; copy it again from its source",
        );
    }
    if let Some(expected) = job.entry.map(|e| &e.sha256)
        && &computed.sha256 != expected
    {
        findings.entry(
            Code::DigestMismatch,
            name,
            "the data does not match the SHA-256 the manifest lists: the entry was altered after the archive was made; do not trust it",
        );
    }
    let content = content?;
    {
        let (content_findings, records, table) = content.finish();
        findings.extend(content_findings);
        if let (Some(counted), Some(stated)) = (records, job.entry.and_then(|e| e.records))
            && counted != stated
        {
            findings.entry(
                Code::RecordCountMismatch,
                name,
                format!("the collection holds {counted} records but the manifest says {stated}"),
            );
        }
        table
    }
}
