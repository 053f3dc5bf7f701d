//! `create`: one site (or one scope of it) into one archive.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sitepack_format::database::{DATABASE_FORMAT_VERSION, DB_DIR};
use sitepack_format::{
    Area, CHECKSUMS_NAME, ContentKind, CredentialScanner, Entry, FORMAT_NAME, FORMAT_VERSION,
    Generator, Limits, MANIFEST_NAME, Manifest, ModuleItem, Name, Options, PAYLOAD_DIR, Progress,
    Redaction, Scope, SecretPolicy, Selection, Sha256, Sha256Hasher, Stats, Timestamp,
    contains_url_with_password, find_credentials,
};

use crate::compress::{self, Encoded, Payload};
use crate::content::{self, Processed, RecordFilter, Removed};
use crate::site::{Site, SiteFile, names_in};
use crate::zip_out::ZipOut;
use crate::{WriterError, pipeline};

/// Files larger than this are streamed instead of read whole.
const STREAM_THRESHOLD: u64 = 8 * 1024 * 1024;
/// Bytes that prepared entries may hold in memory at once (waiting to be appended in
/// order); a few entries per worker are enough to keep every core busy.
const IN_FLIGHT_BUDGET: u64 = 32 * 1024 * 1024;
/// Secret values shorter than this are too common to search a label for.
const MIN_SECRET_LEN_IN_LABEL: usize = 4;

/// What to put in an archive and how.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Which part of the site.
    pub scope: Scope,
    /// `files: false` makes a data-only archive.
    pub options: Options,
    /// Free text stored in the manifest.
    pub label: Option<String>,
    /// The archive's time: `created_at` and every ZIP entry time.
    pub created_at: Timestamp,
    /// Deflate level, 0 (store everything) to 9.
    pub level: u32,
    /// Worker threads.
    pub threads: usize,
    /// Where large deflated entries wait until they are written (default: the system
    /// temporary directory; [`create_archive_file`] uses the output's directory).
    pub spill_dir: Option<PathBuf>,
    /// The readers' limits the archive must fit (default: theirs by default), so that it
    /// validates and restores without raising a limit; a site that does not fit is
    /// refused (entries, decompressed bytes). Entries are never deflated past the
    /// default ratio limit.
    pub limits: Limits,
}

impl CreateOptions {
    /// A full archive with files, level 6, on all cores, made now.
    #[must_use]
    pub fn new(scope: Scope) -> Self {
        Self {
            scope,
            options: Options { files: true },
            label: None,
            created_at: Timestamp::now(),
            level: 6,
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            spill_dir: None,
            limits: Limits::default(),
        }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The manifest stored in the archive.
    pub manifest: Manifest,
    /// Size of the archive file in bytes.
    pub archive_size: u64,
    /// SHA-256 of the whole archive: the trusted digest to keep outside it.
    pub archive_sha256: Sha256,
}

/// Whether [`create_archive_file`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse when the output exists.
    Refuse,
    /// Replace it (atomically, once the new archive is complete).
    Replace,
}

/// Writes the archive to `output` through a temporary file in the same directory,
/// renamed into place only when complete and synced; on any error nothing is left.
pub fn create_archive_file(
    site: &Site,
    options: &CreateOptions,
    output: &Path,
    overwrite: Overwrite,
    progress: &dyn Progress,
) -> Result<Summary, WriterError> {
    write_file(site, options, output, overwrite, progress)
}

/// Writes the archive to any writer (e.g. standard output). The bytes are the same as
/// [`create_archive_file`] writes for the same site and options.
pub fn write_archive(
    site: &Site,
    options: &CreateOptions,
    out: &mut dyn Write,
    output_name: &Path,
    progress: &dyn Progress,
) -> Result<Summary, WriterError> {
    write_to(site, options, out, output_name, progress)
}

fn write_file(
    site: &Site,
    options: &CreateOptions,
    output: &Path,
    overwrite: Overwrite,
    progress: &dyn Progress,
) -> Result<Summary, WriterError> {
    let dir = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir_real = dir
        .canonicalize()
        .map_err(|e| WriterError::io("open the output directory", &dir, e))?;
    let site_real = site
        .root()
        .canonicalize()
        .map_err(|e| WriterError::io("open", site.root(), e))?;
    if dir_real.starts_with(&site_real) {
        return Err(WriterError::OutputInsideSite {
            path: output.to_path_buf(),
            site: site.root().to_path_buf(),
        });
    }
    if overwrite == Overwrite::Refuse && output.symlink_metadata().is_ok() {
        return Err(WriterError::OutputExists {
            path: output.to_path_buf(),
        });
    }
    let temp = tempfile::Builder::new()
        .prefix(".sitepack-")
        .suffix(".zip.partial")
        .tempfile_in(&dir)
        .map_err(|e| WriterError::io("create a temporary file in", &dir, e))?;
    // An interrupt removes it (the command's signal handler calls `interrupt::clean_up`).
    let _temporary = sitepack_format::interrupt::temporary(temp.path());
    sitepack_format::failpoint::pause("create-partial");
    let mut options = options.clone();
    options.spill_dir.get_or_insert(dir.clone());
    let mut out = BufWriter::with_capacity(256 * 1024, temp.as_file());
    let summary = write_to(site, &options, &mut out, output, progress)?;
    out.flush()
        .map_err(|e| WriterError::io("write", output, e))?;
    drop(out);
    temp.as_file()
        .sync_all()
        .map_err(|e| WriterError::io("write", output, e))?;
    let persisted = match overwrite {
        Overwrite::Refuse => temp.persist_noclobber(output),
        Overwrite::Replace => temp.persist(output),
    };
    persisted.map_err(|e| {
        if e.error.kind() == io::ErrorKind::AlreadyExists {
            WriterError::OutputExists {
                path: output.to_path_buf(),
            }
        } else {
            WriterError::io("rename the finished archive to", output, e.error)
        }
    })?;
    // Make the rename itself durable; failure here does not undo a complete archive.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(summary)
}

/// One selected site file and how much of it goes in.
struct Job {
    file: SiteFile,
    selection: Selection,
    kind: ContentKind,
}

/// A job's result: the entry, encoded, with what was learned reading it.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub encoded: Encoded,
    pub records: Option<u64>,
    pub removed: Vec<Removed>,
}

fn write_to(
    site: &Site,
    options: &CreateOptions,
    out: &mut dyn Write,
    output_name: &Path,
    progress: &dyn Progress,
) -> Result<Summary, WriterError> {
    // A writer never writes what a reader with default limits refuses.
    let limits = options.limits;
    // A site's problems are all collected (names, kinds, credentials in names, then
    // content), so that one run names them all; no archive is finished when there are any.
    let (files, mut problems) = site.scan_all()?;
    let jobs = if site.is_database() {
        select_database(files, options)
    } else {
        select(files, options)?
    };
    problems.extend(credentials_in_names(site, &jobs));
    // The payload, the manifest and checksums.sha256.
    check_limit(site, "entries", jobs.len() as u64 + 2, limits.max_entries)?;
    progress.begin(jobs.len() as u64, jobs.iter().map(|j| j.file.size).sum());

    let spill_dir = options.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
    let owner_field = site.config().owner_field();
    let user = if let Scope::User(id) = &options.scope {
        Some(id.as_str())
    } else {
        None
    };
    let mut hashing = HashingWriter {
        inner: out,
        hasher: Sha256Hasher::new(),
    };
    let mut archive = Appender {
        zip: ZipOut::new(&mut hashing, options.created_at),
        output_name,
        entries: Vec::with_capacity(jobs.len()),
        redactions: Vec::new(),
        stats: Stats::default(),
        total_bytes: 0,
        modules: BTreeSet::new(),
        secret_values: BTreeSet::new(),
    };
    pipeline::run(
        &jobs,
        options.threads,
        IN_FLIGHT_BUDGET,
        |job| job.file.size.min(STREAM_THRESHOLD),
        |job| {
            let filter = record_filter(job, user, owner_field);
            match prepare(site, job, options.level, &spill_dir, filter) {
                Err(problem) if problem.is_site_problem() => Ok(Err(problem)),
                other => other.map(Ok),
            }
        },
        |index, prepared| {
            let job = &jobs[index];
            let Some(prepared) = keep_or_collect(prepared, &mut problems) else {
                progress.advance(job.file.size);
                return Ok(());
            };
            // A user archive leaves out collections in which the user owns nothing.
            let owns_nothing =
                job.selection == Selection::OwnedRecords && prepared.records == Some(0);
            if !owns_nothing {
                archive.append_payload_entry(site, job, prepared)?;
            }
            progress.advance(job.file.size);
            Ok(())
        },
    )?;
    problems.sort_by_key(ToString::to_string);
    if let Some(error) = WriterError::from_problems(problems) {
        return Err(error);
    }
    archive.check_label(options.label.as_deref(), site.policy())?;

    let manifest = archive.manifest(site, options);
    // Both grow with the number of entries: streamed to a temporary file, never
    // held whole in memory.
    archive.append_metadata(CHECKSUMS_NAME, options, &spill_dir, &|out| {
        for entry in &manifest.entries {
            writeln!(out, "{}  {}", entry.sha256, entry.path)?;
        }
        Ok(())
    })?;
    archive.append_metadata(MANIFEST_NAME, options, &spill_dir, &|out| {
        manifest.write_json(out)
    })?;
    check_limit(
        site,
        "decompressed bytes",
        archive.total_bytes,
        limits.max_bytes,
    )?;
    archive
        .zip
        .finish()
        .map_err(|e| WriterError::io("write", output_name, e))?;
    Ok(Summary {
        manifest,
        archive_size: hashing.hasher.len(),
        archive_sha256: hashing.hasher.finish(),
    })
}

fn check_limit(
    site: &Site,
    what: &'static str,
    actual: u64,
    limit: u64,
) -> Result<(), WriterError> {
    if actual > limit {
        return Err(WriterError::OverLimit {
            site: site.root().to_path_buf(),
            what,
            limit,
            actual,
        });
    }
    Ok(())
}

/// Which records of `job` go in: those `user` owns in a filtered collection, else all.
fn record_filter<'a>(job: &Job, user: Option<&'a str>, owner_field: &'a str) -> RecordFilter<'a> {
    match (job.selection, user) {
        (Selection::OwnedRecords, Some(user)) => RecordFilter::OwnedBy {
            field: owner_field,
            user,
        },
        _ => RecordFilter::All,
    }
}

/// A prepared entry to append, or `None` when it is a site problem (collected) or there
/// are problems already (the archive will not be finished: not worth writing).
fn keep_or_collect(
    prepared: Result<Prepared, WriterError>,
    problems: &mut Vec<WriterError>,
) -> Option<Prepared> {
    match prepared {
        Ok(prepared) if problems.is_empty() => Some(prepared),
        Ok(_) => None,
        Err(problem) => {
            problems.push(problem);
            None
        }
    }
}

/// The archive being written, with what the manifest will list.
struct Appender<'a, 'w> {
    zip: ZipOut<&'a mut HashingWriter<'w>>,
    output_name: &'a Path,
    entries: Vec<Entry>,
    redactions: Vec<Redaction>,
    /// Counted as entries are appended.
    stats: Stats,
    /// Decompressed bytes of every entry appended (the reader's `TOO_LARGE` measure).
    total_bytes: u64,
    modules: BTreeSet<Name>,
    /// Removed secret values and where they were, to keep them out of the label.
    secret_values: BTreeSet<(String, String)>,
}

impl Appender<'_, '_> {
    fn append_payload_entry(
        &mut self,
        site: &Site,
        job: &Job,
        prepared: Prepared,
    ) -> Result<(), WriterError> {
        let native = site.native_path(&job.file.path);
        let name =
            job.file
                .path
                .with_prefix(PAYLOAD_DIR)
                .map_err(|source| WriterError::UnsafeName {
                    path: native.clone(),
                    source,
                })?;
        let (digest, entry_size) = (prepared.encoded.sha256, prepared.encoded.size);
        self.append(name.as_str(), prepared.encoded, &native)?;
        for removed in prepared.removed {
            let place = format!("{}#{}", job.file.path, removed.pointer);
            self.secret_values
                .extend(removed.values.into_iter().map(|v| (v, place.clone())));
            self.redactions.push(Redaction {
                path: name.clone(),
                pointer: removed.pointer,
                record: removed.record,
            });
        }
        self.count(&job.file.area, entry_size, prepared.records);
        self.entries.push(Entry {
            path: name,
            size: entry_size,
            sha256: digest,
            area: job.file.area.kind(),
            records: prepared.records,
        });
        Ok(())
    }

    /// `checksums.sha256` and `manifest.json`, after the payload.
    fn append_metadata(
        &mut self,
        name: &str,
        options: &CreateOptions,
        spill_dir: &Path,
        write: &dyn Fn(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), WriterError> {
        let (encoded, ()) = compress::encode_stream(
            options.level,
            spill_dir,
            |out| write(out).map_err(|e| WriterError::io("write", Path::new(name), e)),
            |e| WriterError::io("write a temporary file in", spill_dir, e),
        )?;
        self.append(name, encoded, Path::new(name))
    }

    /// Appends one entry: its local header, then its data from wherever it waits.
    fn append(&mut self, name: &str, encoded: Encoded, source: &Path) -> Result<(), WriterError> {
        self.total_bytes += encoded.size;
        append_entry(&mut self.zip, name, encoded, source, self.output_name)
    }

    fn count(&mut self, area: &Area, size: u64, records: Option<u64>) {
        let stats = &mut self.stats;
        stats.entries += 1;
        stats.bytes += size;
        match area {
            Area::Site => {}
            Area::Tab(_) => stats.tabs += 1,
            Area::User(_) => stats.users += 1,
            Area::Module { module, item } => {
                if !self.modules.contains(module) {
                    self.modules.insert(module.clone());
                }
                match item {
                    ModuleItem::Collection => {
                        stats.collections += 1;
                        stats.records += records.unwrap_or(0);
                    }
                    ModuleItem::Document => stats.documents += 1,
                    ModuleItem::File => stats.module_files += 1,
                }
            }
            Area::Files | Area::UserFiles(_) => stats.files += 1,
            Area::Other => stats.other += 1,
        }
    }

    /// The manifest of what was appended. A database site's archive is format 1.1 (its
    /// tables, their row counts).
    fn manifest(&mut self, site: &Site, options: &CreateOptions) -> Manifest {
        Manifest {
            format: FORMAT_NAME.to_owned(),
            format_version: if site.is_database() {
                DATABASE_FORMAT_VERSION
            } else {
                FORMAT_VERSION
            },
            created_at: options.created_at,
            generator: Generator {
                name: "sitepack".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            label: options.label.clone(),
            site: site.config().identity(),
            scope: options.scope.clone(),
            options: options.options,
            stats: self.stats(),
            entries: std::mem::take(&mut self.entries),
            redactions: std::mem::take(&mut self.redactions),
        }
    }

    fn stats(&self) -> Stats {
        Stats {
            modules: self.modules.len() as u64,
            redactions: self.redactions.len() as u64,
            ..self.stats.clone()
        }
    }

    /// Refuses a label that contains a secret value removed from the site (named by where
    /// it came from), then one that holds a credential or a URL with a password.
    fn check_label(&self, label: Option<&str>, policy: &SecretPolicy) -> Result<(), WriterError> {
        let Some(label) = label else { return Ok(()) };
        match self.secret_values.iter().find(|(value, _)| {
            value.len() >= MIN_SECRET_LEN_IN_LABEL && label.contains(value.as_str())
        }) {
            Some((_, place)) => Err(WriterError::SecretInLabel {
                path: place.clone(),
            }),
            None => check_label_shapes(policy, Some(label)),
        }
    }
}

/// Refuses a file whose site-relative path (its name, or a directory's on the way)
/// holds a secret credential shape the site does not allow (docs/FORMAT.md §11.4).
fn credentials_in_names(site: &Site, jobs: &[Job]) -> Vec<WriterError> {
    let policy = site.policy();
    jobs.iter()
        .filter_map(|job| {
            let path = &job.file.path;
            let found = policy
                .credentials_in(path, path.as_str().as_bytes())
                .into_iter()
                .find(|f| f.secret)?;
            let native = site.native_path(path);
            Some(WriterError::CredentialInName {
                dir: native.parent().unwrap_or(&native).to_path_buf(),
                path: path.as_str().to_owned(),
                shape: found.shape,
            })
        })
        .collect()
}

/// Refuses a label that holds a secret credential shape the site does not allow, or a
/// URL with a password (docs/FORMAT.md §11.3).
fn check_label_shapes(policy: &SecretPolicy, label: Option<&str>) -> Result<(), WriterError> {
    let Some(label) = label else { return Ok(()) };
    if let Some(found) = find_credentials(label.as_bytes())
        .into_iter()
        .find(|f| f.secret && !policy.allows_credential_value(&f.value))
    {
        return Err(WriterError::CredentialInLabel { what: found.shape });
    }
    if contains_url_with_password(label) {
        return Err(WriterError::CredentialInLabel {
            what: "a URL with a password",
        });
    }
    Ok(())
}

/// The jobs of a scope, in path order; refuses a scope that names nothing in the site.
fn select(files: Vec<SiteFile>, options: &CreateOptions) -> Result<Vec<Job>, WriterError> {
    let target = match &options.scope {
        Scope::Full => None,
        Scope::Tab(name) => Some(("tab", name)),
        Scope::Module(name) => Some(("module", name)),
        Scope::User(name) => Some(("user", name)),
        Scope::Table(name) => Some(("table", name)),
    };
    if let Some((kind, name)) = target {
        let available = names_in(&files, kind);
        if !available.iter().any(|n| n == name.as_str()) {
            return Err(WriterError::UnknownScopeTarget {
                kind,
                name: name.to_string(),
                available,
            });
        }
    }
    Ok(files
        .into_iter()
        .filter_map(|file| {
            let selection = options.scope.selects(&file.area, options.options);
            (selection != Selection::Excluded).then(|| Job {
                kind: ContentKind::of(&file.path, &file.area),
                file,
                selection,
            })
        })
        .collect())
}

/// The jobs of a database site's staged export, in path order: its selection is made
/// already (the staged tables are the scope's), except for the uploads, of which a user
/// archive takes the user's own files and a table archive none.
fn select_database(files: Vec<SiteFile>, options: &CreateOptions) -> Vec<Job> {
    files
        .into_iter()
        .filter_map(|file| {
            let uploaded = matches!(file.area, Area::Files | Area::UserFiles(_));
            let taken = !uploaded
                || options.options.files
                    && match (&options.scope, &file.area) {
                        (Scope::Full, _) => true,
                        (Scope::User(user), Area::UserFiles(id)) => user == id,
                        _ => false,
                    };
            taken.then(|| Job {
                kind: ContentKind::of(&file.path, &file.area),
                file,
                selection: Selection::Whole,
            })
        })
        .collect()
}

fn prepare(
    site: &Site,
    job: &Job,
    level: u32,
    spill_dir: &Path,
    filter: RecordFilter<'_>,
) -> Result<Prepared, WriterError> {
    if let Some(table) = site.take_table(&job.file.path) {
        return Ok(table);
    }
    let native = site.native_path(&job.file.path);
    let precompressed = compress::is_precompressed(job.file.path.file_name());
    if job.kind == ContentKind::Bytes && job.file.size > STREAM_THRESHOLD {
        let mut scanner = CredentialScanner::default();
        let encoded = compress::encode_file(
            site.open_file(&job.file.path)?,
            level,
            precompressed,
            spill_dir,
            &mut |chunk| scanner.feed(chunk),
        )
        .map_err(|e| WriterError::io("read", &native, e))?;
        refuse_credentials(site, job, &native, scanner)?;
        return Ok(Prepared {
            encoded,
            records: None,
            removed: Vec::new(),
        });
    }
    // A database archive's tables carry their row counts (format 1.1).
    let count_records = site.is_database()
        && job.kind == ContentKind::JsonLines
        && job
            .file
            .path
            .as_str()
            .strip_prefix(DB_DIR)
            .is_some_and(|rest| rest.starts_with('/'));
    let lines = matches!(job.kind, ContentKind::Collection | ContentKind::JsonLines);
    if lines && job.file.size > STREAM_THRESHOLD {
        return prepare_large_lines(site, job, level, spill_dir, filter, count_records);
    }
    let bytes = read_file(site, &job.file.path)?;
    let processed = match job.kind {
        ContentKind::Document => content::process_document(
            &native,
            &job.file.path,
            &job.file.area,
            bytes,
            site.policy(),
        )?,
        ContentKind::Collection | ContentKind::JsonLines => content::process_lines(
            &native,
            &job.file.path,
            job.kind,
            bytes,
            site.policy(),
            filter,
            count_records,
        )?,
        ContentKind::Bytes => {
            let mut scanner = CredentialScanner::default();
            scanner.feed(&bytes);
            refuse_credentials(site, job, &native, scanner)?;
            Processed {
                data: bytes,
                records: None,
                removed: Vec::new(),
            }
        }
    };
    let encoded = compress::encode_bytes(processed.data, level, precompressed)
        .map_err(|e| WriterError::io("compress", &native, e))?;
    Ok(Prepared {
        encoded,
        records: processed.records,
        removed: processed.removed,
    })
}

/// A large JSON Lines file, checked, filtered and redacted line by line on its way to the
/// compressor: memory stays flat however many records it holds. When nothing was
/// filtered or rewritten, the entry is the file's own bytes, as for a small one.
fn prepare_large_lines(
    site: &Site,
    job: &Job,
    level: u32,
    spill_dir: &Path,
    filter: RecordFilter<'_>,
    count_records: bool,
) -> Result<Prepared, WriterError> {
    let native = site.native_path(&job.file.path);
    let encode = |level: u32| {
        let input = io::BufReader::with_capacity(256 * 1024, site.open_file(&job.file.path)?);
        compress::encode_stream(
            level,
            spill_dir,
            |out| {
                content::process_lines_into(
                    &native,
                    &job.file.path,
                    job.kind,
                    input,
                    out,
                    site.policy(),
                    filter,
                    count_records,
                )
            },
            |e| WriterError::io("write a temporary file in", spill_dir, e),
        )
    };
    let (mut encoded, lines) = encode(level)?;
    let deflated_well =
        level == 0 || compress::worth_deflating(encoded.size, encoded.compressed_size);
    if !lines.changed && (lines.reshaped || !deflated_well) {
        // Checked already: the file's own bytes go in, stored or deflated as any file.
        encoded = compress::encode_file(
            site.open_file(&job.file.path)?,
            level,
            false,
            spill_dir,
            &mut |_| {},
        )
        .map_err(|e| WriterError::io("read", &native, e))?;
    } else if !deflated_well {
        encoded = encode(0)?.0;
    }
    Ok(Prepared {
        encoded,
        records: lines.records,
        removed: lines.removed,
    })
}

/// Refuses a bytes file in which `scanner` found a secret credential shape the site
/// does not allow.
fn refuse_credentials(
    site: &Site,
    job: &Job,
    native: &Path,
    scanner: CredentialScanner,
) -> Result<(), WriterError> {
    let policy = site.policy();
    content::refuse_credentials_in_bytes(
        native,
        scanner
            .finish()
            .into_iter()
            .filter(|f| !policy.allows_credential(&job.file.path, &f.found.value))
            .map(|f| (f.line, f.found)),
    )
}

fn read_file(site: &Site, path: &sitepack_format::ArchivePath) -> Result<Vec<u8>, WriterError> {
    let mut file = site.open_file(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| WriterError::io("read", site.native_path(path), e))?;
    Ok(bytes)
}

/// Appends one entry to `zip` (written to `output_name`): its local header, then its data
/// from wherever it waits (`source` names where it came from).
pub(crate) fn append_entry<W: Write>(
    zip: &mut ZipOut<W>,
    name: &str,
    encoded: Encoded,
    source: &Path,
    output_name: &Path,
) -> Result<(), WriterError> {
    zip.start_entry(
        name,
        encoded.method,
        encoded.crc,
        encoded.compressed_size,
        encoded.size,
    )
    .map_err(|e| WriterError::io("write", output_name, e))?;
    append_payload(
        zip,
        encoded.payload,
        encoded.crc,
        encoded.size,
        source,
        output_name,
    )
}

fn append_payload<W: Write>(
    zip: &mut ZipOut<W>,
    payload: Payload,
    crc: u32,
    size: u64,
    native: &Path,
    output_name: &Path,
) -> Result<(), WriterError> {
    let write_error = |e: io::Error| WriterError::io("write", output_name, e);
    match payload {
        Payload::Memory(data) => zip.write_data(&data).map_err(write_error),
        Payload::Spilled(mut file) => {
            let mut buffer = vec![0u8; 1024 * 1024];
            loop {
                let n = compress::read_full(&mut file, &mut buffer)
                    .map_err(|e| WriterError::io("read back the temporary copy of", native, e))?;
                if n == 0 {
                    return Ok(());
                }
                zip.write_data(&buffer[..n]).map_err(write_error)?;
            }
        }
        Payload::Reread(mut file) => {
            let path = native.to_path_buf();
            let mut buffer = vec![0u8; 1024 * 1024];
            let mut check = crc32fast::Hasher::new();
            let mut copied = 0u64;
            loop {
                let n = compress::read_full(&mut file, &mut buffer)
                    .map_err(|e| WriterError::io("read", &path, e))?;
                if n == 0 {
                    break;
                }
                copied += n as u64;
                if copied > size {
                    return Err(WriterError::FileChanged { path });
                }
                check.update(&buffer[..n]);
                zip.write_data(&buffer[..n]).map_err(write_error)?;
            }
            if copied != size || check.finalize() != crc {
                return Err(WriterError::FileChanged { path });
            }
            Ok(())
        }
    }
}

/// Passes bytes through while hashing them: the archive's own digest, in the same pass.
struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    hasher: Sha256Hasher,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
