//! A database table's rows as one JSON Lines entry, encoded while they stream in: each
//! row redacted by the site's secret policy, checked for credential shapes and written
//! as one compact JSON object, while another thread hashes and compresses what is
//! written. No row is held after it is written, and no JSON is parsed again.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sitepack_format::{ArchivePath, RecordRules, SecretPolicy};

use crate::WriterError;
use crate::compress::{self, Encoded};
use crate::content::{Removed, string_leaves};
use crate::create::Prepared;

/// A table's entry, encoded and waiting to be appended to its site's archive
/// ([`Site::with_tables`](crate::Site::with_tables)).
#[derive(Debug)]
pub struct TableEntry {
    pub(crate) path: ArchivePath,
    pub(crate) prepared: Prepared,
}

impl TableEntry {
    /// The entry's site-relative path (`db/<table>.jsonl`).
    #[must_use]
    pub fn path(&self) -> &ArchivePath {
        &self.path
    }

    /// How many rows it holds.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.prepared.records.unwrap_or(0)
    }

    /// Its size before compression.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.prepared.encoded.size
    }
}

/// Writes the rows of one table as they come: see [`encode_table`].
pub struct RowWriter<'a> {
    rules: RecordRules<'a>,
    /// `{"name":` for the first member, `,"name":` for the others.
    prefixes: Vec<Vec<u8>>,
    out: &'a mut dyn Write,
    /// Rows not yet handed to `out`.
    buffer: Vec<u8>,
    /// Where errors say the row is: the entry's path.
    place: PathBuf,
    rows: u64,
    removed: Vec<Removed>,
}

impl RowWriter<'_> {
    /// Redacts and writes one row (one value per column, in the columns' order); gives
    /// the columns whose values were left out as secrets, by index.
    pub fn write_row(&mut self, values: &mut [Value]) -> Result<Vec<usize>, WriterError> {
        self.write_row_with(values, &[])
    }

    /// As [`RowWriter::write_row`], with some values already in their compact JSON form
    /// (column index, text), as [`RecordRules::verbatim_json`] gives them: they are
    /// written as they are, and their places in `values` hold `true`, which the rules
    /// leave alone.
    pub fn write_row_with(
        &mut self,
        values: &mut [Value],
        verbatim: &[(usize, String)],
    ) -> Result<Vec<usize>, WriterError> {
        let line = self.rows + 1;
        let redaction = self.rules.redact(values);
        if let Some((pointer, found)) = self.rules.secret_credential(values, &redaction) {
            return Err(WriterError::CredentialShape {
                path: self.place.clone(),
                place: format!(":{line}#{pointer}"),
                shape: found.shape,
            });
        }
        let mut first = true;
        for (index, value) in values.iter().enumerate() {
            if redaction.omitted.contains(&index) {
                continue;
            }
            // The first member written opens the object, whichever column it is.
            let prefix = &self.prefixes[index];
            if first {
                self.buffer.push(b'{');
                self.buffer.extend_from_slice(&prefix[1..]);
            } else {
                self.buffer.extend_from_slice(prefix);
            }
            first = false;
            if let Some((_, text)) = verbatim.iter().find(|(at, _)| *at == index) {
                self.buffer.extend_from_slice(text.as_bytes());
                continue;
            }
            serde_json::to_writer(&mut self.buffer, value).map_err(|e| {
                WriterError::io("encode", &self.place, io::Error::other(e.to_string()))
            })?;
        }
        self.buffer
            .extend_from_slice(if first { b"{}\n" } else { b"}\n" });
        if self.buffer.len() >= WRITE_SIZE {
            self.flush()?;
        }
        let omitted = redaction.omitted;
        self.removed.extend(
            redaction
                .removed
                .into_iter()
                .map(|(pointer, value)| Removed {
                    values: string_leaves(Some(&value)),
                    pointer,
                    record: None,
                }),
        );
        self.rows = line;
        Ok(omitted)
    }

    /// Hands the rows written so far to the compressing thread.
    fn flush(&mut self) -> Result<(), WriterError> {
        self.out
            .write_all(&self.buffer)
            .map_err(|e| WriterError::io("write a temporary file for", &self.place, e))?;
        self.buffer.clear();
        Ok(())
    }
}

/// Rows are handed on in writes of about this many bytes: the compressor's cost per
/// write stays small, and how the stream is cut depends on the rows alone.
const WRITE_SIZE: usize = 64 * 1024;

/// Encodes the table entry at `path` (`db/<table>.jsonl`, site-relative) whose rows
/// have the members `columns`: `rows` is given a [`RowWriter`] and writes every row
/// into it, in order, on the calling thread, while another thread hashes and deflates
/// (at `level`) into an anonymous temporary file in `spill_dir`. Each row is one JSON
/// object per line, members in column order, secret values removed as the site's
/// `policy` says; a row still holding a secret credential shape stops the table with an
/// error naming its line and member.
pub fn encode_table<E: From<WriterError>>(
    path: &ArchivePath,
    columns: &[String],
    policy: &SecretPolicy,
    level: u32,
    spill_dir: &Path,
    rows: impl FnOnce(&mut RowWriter<'_>) -> Result<(), E>,
) -> Result<TableEntry, E> {
    let place = PathBuf::from(path.as_str());
    let prefixes = columns
        .iter()
        .map(|name| format!(",{}:", Value::String(name.clone())).into_bytes())
        .collect();
    let (encoded, (count, removed)) = compress::encode_stream(
        level,
        spill_dir,
        |out| {
            let mut writer = RowWriter {
                rules: policy.record_rules(path, columns),
                prefixes,
                out,
                buffer: Vec::with_capacity(WRITE_SIZE * 2),
                place: place.clone(),
                rows: 0,
                removed: Vec::new(),
            };
            rows(&mut writer)?;
            writer.flush()?;
            Ok::<_, E>((writer.rows, writer.removed))
        },
        |e| WriterError::io("write a temporary file in", spill_dir, e).into(),
    )?;
    let encoded = store_unless_worth_deflating(encoded, spill_dir)
        .map_err(|e| WriterError::io("write a temporary file in", spill_dir, e))?;
    Ok(TableEntry {
        path: path.clone(),
        prepared: Prepared {
            encoded,
            records: Some(count),
            removed,
        },
    })
}

/// A deflated entry that saves too little, or that a reader would take for a
/// decompression bomb, is stored instead: its rows cannot be read again, so the
/// compressed copy is inflated into a new temporary file.
fn store_unless_worth_deflating(encoded: Encoded, spill_dir: &Path) -> io::Result<Encoded> {
    if compress::worth_deflating(encoded.size, encoded.compressed_size)
        || encoded.method == crate::zip_out::Method::Stored
    {
        return Ok(encoded);
    }
    compress::inflate_to_stored(encoded, spill_dir)
}
