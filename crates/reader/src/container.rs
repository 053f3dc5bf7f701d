//! The ZIP container, read from its raw bytes: end of central directory, ZIP64 records,
//! central directory, local headers and how the records tile the file
//! (docs/FORMAT.md §13.1–13.2). No ZIP library is trusted with any of it.

use std::io;

use sitepack_format::zip_records::{
    CENTRAL_HEADER, CENTRAL_HEADER_LEN, DATA_DESCRIPTOR, END_OF_CENTRAL_DIRECTORY,
    END_OF_CENTRAL_DIRECTORY_LEN, FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED, FLAG_MASKED_HEADER,
    FLAG_STRONG_ENCRYPTION, LOCAL_HEADER, LOCAL_HEADER_LEN, MAX_COMMENT_LEN, METHOD_AES,
    METHOD_DEFLATED, METHOD_STORED, UNICODE_PATH_EXTRA_FIELD, ZIP64_END_OF_CENTRAL_DIRECTORY,
    ZIP64_END_OF_CENTRAL_DIRECTORY_LEN, ZIP64_EXTRA_FIELD, ZIP64_LOCATOR, ZIP64_LOCATOR_LEN,
    ZIP64_MARKER_16, ZIP64_MARKER_32,
};

use crate::finding::{Code, Findings};
use crate::source::ReadAt;

/// One central-directory record, with what its local header told us.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The name as text when it is UTF-8; otherwise its bytes, escaped, for messages.
    text: String,
    /// The raw name, kept only when it is not UTF-8 (otherwise it is `text`).
    non_utf8: Option<Vec<u8>>,
    pub made_by: u16,
    pub flags: u16,
    pub method: u16,
    pub crc: u32,
    pub compressed: u64,
    pub uncompressed: u64,
    pub external_attributes: u32,
    /// Where the local header starts (after the prepended-data shift).
    pub local_offset: u64,
    /// Where the entry's data starts, once the local header checked out.
    pub data_start: Option<u64>,
}

impl Record {
    /// The name exactly as stored.
    pub fn name_bytes(&self) -> &[u8] {
        self.non_utf8.as_deref().unwrap_or(self.text.as_bytes())
    }

    /// The name, when it is UTF-8.
    pub fn name(&self) -> Option<&str> {
        self.non_utf8.is_none().then_some(self.text.as_str())
    }

    /// The name for messages (escaped when it is not UTF-8).
    pub fn display(&self) -> &str {
        &self.text
    }

    pub fn is_directory(&self) -> bool {
        self.name_bytes().last() == Some(&b'/')
    }

    pub fn is_encrypted(&self) -> bool {
        self.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADER) != 0
            || self.method == METHOD_AES
    }

    /// Whether its data can be read: a supported method and a sound local header.
    pub fn readable(&self) -> bool {
        !self.is_encrypted()
            && matches!(self.method, METHOD_STORED | METHOD_DEFLATED)
            && self.data_start.is_some()
    }
}

/// The parsed container: every central record, in central-directory order.
#[derive(Debug, Default)]
pub(crate) struct Container {
    pub records: Vec<Record>,
}

/// Where the end-of-central-directory record is and what it says.
struct Eocd {
    position: u64,
    disk: u32,
    cd_disk: u32,
    entries_on_disk: u64,
    entries: u64,
    cd_size: u64,
    cd_offset: u64,
    /// Where the central directory ends: the ZIP64 end record, or the EOCD.
    cd_end: u64,
}

/// Reads the container, adding container and consistency findings. `None` when the
/// central directory cannot be located or parsed (only container findings then).
pub(crate) fn read(
    file: &dyn ReadAt,
    len: u64,
    max_entries: u64,
    findings: &mut Findings,
) -> io::Result<Option<Container>> {
    read_some(file, len, max_entries, None, findings)
}

/// [`read`], checking the local headers of only the entries named in `only` (and not the
/// tiling of the whole file), when given: the metadata-only check reads nothing else.
pub(crate) fn read_some(
    file: &dyn ReadAt,
    len: u64,
    max_entries: u64,
    only: Option<&[&str]>,
    findings: &mut Findings,
) -> io::Result<Option<Container>> {
    let Some(eocd) = locate_eocd(file, len, findings)? else {
        return Ok(None);
    };
    if eocd.entries > max_entries {
        findings.archive(
            Code::TooManyEntries,
            format!(
                "the archive declares {} entries, more than the limit of {max_entries}; raise --max-entries if you trust it",
                eocd.entries
            ),
        );
        return Ok(None);
    }
    if eocd.disk != 0 || eocd.cd_disk != 0 || eocd.entries_on_disk != eocd.entries {
        findings.archive(
            Code::MultiDisk,
            "the archive is split over several disks (a spanned ZIP); join the parts into one file",
        );
    }
    let Some(cd_start) = eocd.cd_end.checked_sub(eocd.cd_size) else {
        findings.archive(
            Code::BadCentralDirectory,
            "the central directory size is larger than the file: the file is truncated or damaged",
        );
        return Ok(None);
    };
    let shift = match cd_start.cmp(&eocd.cd_offset) {
        std::cmp::Ordering::Less => {
            findings.archive(
                Code::BadCentralDirectory,
                "the central directory starts before the offset it declares: the file is truncated or damaged",
            );
            return Ok(None);
        }
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => {
            findings.archive(
                Code::PrependedData,
                format!(
                    "{} bytes come before the archive (a concatenated or self-extracting file); a sitepack archive must start with its first entry",
                    cd_start - eocd.cd_offset
                ),
            );
            cd_start - eocd.cd_offset
        }
    };
    let mut cd = vec![0; usize::try_from(eocd.cd_size).map_err(io::Error::other)?];
    file.read_exact_at(&mut cd, cd_start)?;
    let Some(mut records) = parse_central(&cd, eocd.entries, shift, findings) else {
        return Ok(None);
    };
    for record in &mut records {
        let wanted = only.is_none_or(|names| record.name().is_some_and(|n| names.contains(&n)));
        if wanted {
            check_local_header(file, len, cd_start, record, findings)?;
        }
    }
    if only.is_none() {
        check_tiling(file, &records, shift, cd_start, findings)?;
    }
    Ok(Some(Container { records }))
}

fn locate_eocd(file: &dyn ReadAt, len: u64, findings: &mut Findings) -> io::Result<Option<Eocd>> {
    let not_a_zip = |findings: &mut Findings| {
        findings.archive(
            Code::NotAZip,
            "no end-of-central-directory record: this is not a ZIP archive, or it is truncated; copy it again from its source",
        );
    };
    if len < END_OF_CENTRAL_DIRECTORY_LEN as u64 {
        not_a_zip(findings);
        return Ok(None);
    }
    let tail_len = len.min((END_OF_CENTRAL_DIRECTORY_LEN + MAX_COMMENT_LEN) as u64);
    let tail_start = len - tail_len;
    let mut tail = vec![0; usize::try_from(tail_len).map_err(io::Error::other)?];
    file.read_exact_at(&mut tail, tail_start)?;
    let candidates: Vec<usize> = (0..=tail.len() - END_OF_CENTRAL_DIRECTORY_LEN)
        .filter(|&at| &tail[at..at + 4] == END_OF_CENTRAL_DIRECTORY)
        .collect();
    let comment_len = |at: usize| usize::from(u16::from_le_bytes([tail[at + 20], tail[at + 21]]));
    let exact: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&at| at + END_OF_CENTRAL_DIRECTORY_LEN + comment_len(at) == tail.len())
        .collect();
    let position = match (exact.as_slice(), candidates.last()) {
        (_, None) => {
            not_a_zip(findings);
            return Ok(None);
        }
        ([only], _) => {
            let comment = &tail[*only + END_OF_CENTRAL_DIRECTORY_LEN..];
            if comment.windows(4).any(|w| w == END_OF_CENTRAL_DIRECTORY) {
                findings.archive(
                    Code::MultipleEocd,
                    "the archive comment contains an end-of-central-directory signature, so ZIP tools may disagree about the contents; do not trust this file",
                );
            }
            *only
        }
        ([], Some(&last)) => {
            findings.archive(
                Code::TrailingData,
                "bytes follow the end of the archive (appended data or a damaged copy); do not trust this file",
            );
            last
        }
        (several, _) => {
            findings.archive(
                Code::MultipleEocd,
                format!(
                    "{} end-of-central-directory records fit the end of the file, so ZIP tools may disagree about the contents; do not trust this file",
                    several.len()
                ),
            );
            several[several.len() - 1]
        }
    };
    let r = &tail[position..];
    let u16_at = |o: usize| u16::from_le_bytes([r[o], r[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
    if comment_len(position) > 0 {
        findings.archive(
            Code::ArchiveComment,
            "the archive has a comment; sitepack archives carry none, so it was added by another tool",
        );
    }
    let eocd_position = tail_start + position as u64;
    let mut eocd = Eocd {
        position: eocd_position,
        disk: u32::from(u16_at(4)),
        cd_disk: u32::from(u16_at(6)),
        entries_on_disk: u64::from(u16_at(8)),
        entries: u64::from(u16_at(10)),
        cd_size: u64::from(u32_at(12)),
        cd_offset: u64::from(u32_at(16)),
        cd_end: eocd_position,
    };
    if !read_zip64_end(file, &mut eocd, findings)? {
        return Ok(None);
    }
    Ok(Some(eocd))
}

/// Applies the ZIP64 end record when a locator precedes the EOCD. `false` when they
/// are inconsistent (reported).
fn read_zip64_end(file: &dyn ReadAt, eocd: &mut Eocd, findings: &mut Findings) -> io::Result<bool> {
    let Some(locator_at) = eocd.position.checked_sub(ZIP64_LOCATOR_LEN as u64) else {
        return Ok(true);
    };
    let mut locator = [0u8; ZIP64_LOCATOR_LEN];
    file.read_exact_at(&mut locator, locator_at)?;
    if &locator[..4] != ZIP64_LOCATOR {
        return Ok(true);
    }
    let record_at = u64::from_le_bytes(le8(&locator[8..16]));
    let total_disks = u32::from_le_bytes(le4(&locator[16..20]));
    if total_disks != 1 || u32::from_le_bytes(le4(&locator[4..8])) != 0 {
        findings.archive(
            Code::MultiDisk,
            "the ZIP64 locator describes a spanned archive; join the parts into one file",
        );
    }
    let bad = |findings: &mut Findings| {
        findings.archive(
            Code::BadCentralDirectory,
            "the ZIP64 end-of-central-directory locator does not point to a ZIP64 end record just before it: the file is damaged or was tampered with",
        );
        Ok(false)
    };
    let mut record = [0u8; ZIP64_END_OF_CENTRAL_DIRECTORY_LEN];
    if record_at
        .checked_add(ZIP64_END_OF_CENTRAL_DIRECTORY_LEN as u64)
        .is_none_or(|end| end > locator_at)
    {
        return bad(findings);
    }
    file.read_exact_at(&mut record, record_at)?;
    let record_size = u64::from_le_bytes(le8(&record[4..12]));
    if &record[..4] != ZIP64_END_OF_CENTRAL_DIRECTORY
        || record_at.checked_add(12 + record_size) != Some(locator_at)
    {
        return bad(findings);
    }
    eocd.disk = u32::from_le_bytes(le4(&record[16..20]));
    eocd.cd_disk = u32::from_le_bytes(le4(&record[20..24]));
    eocd.entries_on_disk = u64::from_le_bytes(le8(&record[24..32]));
    eocd.entries = u64::from_le_bytes(le8(&record[32..40]));
    eocd.cd_size = u64::from_le_bytes(le8(&record[40..48]));
    eocd.cd_offset = u64::from_le_bytes(le8(&record[48..56]));
    eocd.cd_end = record_at;
    Ok(true)
}

fn le4(bytes: &[u8]) -> [u8; 4] {
    let mut out = [0; 4];
    out.copy_from_slice(&bytes[..4]);
    out
}

fn le8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

/// A little-endian cursor over a byte slice that reports running off its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(le4(b)))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(le8(b)))
    }
}

/// The extra fields of a header as `(id, data)`; `None` when they do not parse.
fn extra_fields(extra: &[u8]) -> Option<Vec<(u16, &[u8])>> {
    let mut cursor = Cursor {
        bytes: extra,
        at: 0,
    };
    let mut fields = Vec::new();
    while cursor.at < extra.len() {
        let id = cursor.u16()?;
        let len = cursor.u16()?;
        fields.push((id, cursor.take(usize::from(len))?));
    }
    Some(fields)
}

/// Sizes and offset after applying a ZIP64 extended-information field: each value
/// that is `0xFFFFFFFF` in the header is taken from the field, in APPNOTE order.
struct Zip64Values {
    uncompressed: u64,
    compressed: u64,
    offset: u64,
    disk: u32,
}

fn apply_zip64(values: &mut Zip64Values, data: &[u8]) -> Option<()> {
    let mut cursor = Cursor { bytes: data, at: 0 };
    if values.uncompressed == u64::from(ZIP64_MARKER_32) {
        values.uncompressed = cursor.u64()?;
    }
    if values.compressed == u64::from(ZIP64_MARKER_32) {
        values.compressed = cursor.u64()?;
    }
    if values.offset == u64::from(ZIP64_MARKER_32) {
        values.offset = cursor.u64()?;
    }
    if values.disk == u32::from(ZIP64_MARKER_16) {
        values.disk = cursor.u32()?;
    }
    Some(())
}

/// Whether an Info-ZIP Unicode Path field names something other than `name`.
fn unicode_path_differs(fields: &[(u16, &[u8])], name: &[u8]) -> bool {
    fields
        .iter()
        .filter(|(id, _)| *id == UNICODE_PATH_EXTRA_FIELD)
        .any(|(_, data)| data.get(5..) != Some(name))
}

/// An entry name for messages: the text when it is UTF-8, otherwise escaped bytes.
pub(crate) fn display_name(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.escape_ascii().to_string(),
    }
}

fn parse_central(
    cd: &[u8],
    declared: u64,
    shift: u64,
    findings: &mut Findings,
) -> Option<Vec<Record>> {
    let mut cursor = Cursor { bytes: cd, at: 0 };
    let mut records = Vec::new();
    let bad = |findings: &mut Findings, what: String| {
        findings.archive(
            Code::BadCentralDirectory,
            format!(
                "the central directory is damaged: {what}; copy the archive again from its source"
            ),
        );
        None
    };
    while cursor.at < cd.len() {
        let at = cursor.at;
        let Some(record) = parse_record(&mut cursor, shift, findings) else {
            return bad(
                findings,
                format!("record {} at byte {at} does not parse", records.len() + 1),
            );
        };
        records.push(record);
    }
    if records.len() as u64 != declared {
        return bad(
            findings,
            format!(
                "it holds {} records but the end record says {declared}",
                records.len()
            ),
        );
    }
    Some(records)
}

fn parse_record(cursor: &mut Cursor<'_>, shift: u64, findings: &mut Findings) -> Option<Record> {
    if cursor.take(4)? != CENTRAL_HEADER || cursor.bytes.len() - cursor.at < CENTRAL_HEADER_LEN - 4
    {
        return None;
    }
    let made_by = cursor.u16()?;
    let _needed = cursor.u16()?;
    let flags = cursor.u16()?;
    let method = cursor.u16()?;
    let _time_date = cursor.u32()?;
    let crc = cursor.u32()?;
    let compressed = cursor.u32()?;
    let uncompressed = cursor.u32()?;
    let name_len = cursor.u16()?;
    let extra_len = cursor.u16()?;
    let comment_len = cursor.u16()?;
    let disk = cursor.u16()?;
    let _internal = cursor.u16()?;
    let external_attributes = cursor.u32()?;
    let offset = cursor.u32()?;
    let name_bytes = cursor.take(usize::from(name_len))?.to_vec();
    let extra = cursor.take(usize::from(extra_len))?;
    cursor.take(usize::from(comment_len))?;
    let fields = extra_fields(extra)?;
    let mut values = Zip64Values {
        uncompressed: u64::from(uncompressed),
        compressed: u64::from(compressed),
        offset: u64::from(offset),
        disk: u32::from(disk),
    };
    if let Some((_, data)) = fields.iter().find(|(id, _)| *id == ZIP64_EXTRA_FIELD) {
        apply_zip64(&mut values, data)?;
    }
    let (text, non_utf8) = match String::from_utf8(name_bytes) {
        Ok(text) => (text, None),
        Err(e) => (display_name(e.as_bytes()), Some(e.into_bytes())),
    };
    let name_bytes = non_utf8.as_deref().unwrap_or(text.as_bytes());
    if values.disk != 0 {
        findings.entry(
            Code::MultiDisk,
            &text,
            "the entry starts on another disk of a spanned archive; join the parts into one file",
        );
    }
    if unicode_path_differs(&fields, name_bytes) {
        findings.entry(
            Code::UnicodePathMismatch,
            &text,
            "the central record's Unicode Path field names a different file than the entry name, so ZIP tools would disagree about where it goes; do not trust this archive",
        );
    }
    Some(Record {
        text,
        non_utf8,
        made_by,
        flags,
        method,
        crc,
        compressed: values.compressed,
        uncompressed: values.uncompressed,
        external_attributes,
        local_offset: values.offset.checked_add(shift)?,
        data_start: None,
    })
}

/// A local header, parsed.
struct LocalHeader {
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    zip64: bool,
    name: Vec<u8>,
    /// A Unicode Path field that names something other than the local name.
    unicode_path_differs: bool,
    data_start: u64,
}

/// Reads the local header at `offset`; `Ok(Err(why))` when there is none to read.
fn read_local_header(
    file: &dyn ReadAt,
    offset: u64,
    cd_start: u64,
) -> io::Result<Result<LocalHeader, &'static str>> {
    if offset
        .checked_add(LOCAL_HEADER_LEN as u64)
        .is_none_or(|end| end > cd_start)
    {
        return Ok(Err("its local header offset points outside the entry area"));
    }
    let mut fixed = [0u8; LOCAL_HEADER_LEN];
    file.read_exact_at(&mut fixed, offset)?;
    let u16_at = |o: usize| u16::from_le_bytes([fixed[o], fixed[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(le4(&fixed[o..]));
    if &fixed[..4] != LOCAL_HEADER {
        return Ok(Err(
            "no local header where the central directory says the entry starts",
        ));
    }
    let (name_len, extra_len) = (usize::from(u16_at(26)), usize::from(u16_at(28)));
    let data_start = offset + (LOCAL_HEADER_LEN + name_len + extra_len) as u64;
    if data_start > cd_start {
        return Ok(Err("its local header runs into the central directory"));
    }
    let mut variable = vec![0u8; name_len + extra_len];
    file.read_exact_at(&mut variable, offset + LOCAL_HEADER_LEN as u64)?;
    let (name, extra) = variable.split_at(name_len);
    let Some(fields) = extra_fields(extra) else {
        return Ok(Err("its local extra field does not parse"));
    };
    let mut values = Zip64Values {
        uncompressed: u64::from(u32_at(22)),
        compressed: u64::from(u32_at(18)),
        offset: 0,
        disk: 0,
    };
    let zip64 = fields.iter().find(|(id, _)| *id == ZIP64_EXTRA_FIELD);
    if let Some((_, data)) = zip64
        && apply_zip64(&mut values, data).is_none()
    {
        return Ok(Err("its local ZIP64 field is too short"));
    }
    Ok(Ok(LocalHeader {
        flags: u16_at(6),
        method: u16_at(8),
        crc: u32_at(14),
        compressed: values.compressed,
        uncompressed: values.uncompressed,
        zip64: zip64.is_some(),
        unicode_path_differs: unicode_path_differs(&fields, name),
        name: name.to_vec(),
        data_start,
    }))
}

fn check_local_header(
    file: &dyn ReadAt,
    len: u64,
    cd_start: u64,
    record: &mut Record,
    findings: &mut Findings,
) -> io::Result<()> {
    let name = record.display().to_owned();
    let mismatch = |findings: &mut Findings, what: &str| {
        findings.entry(
            Code::LocalHeaderMismatch,
            &name,
            format!(
                "{what}, so ZIP tools would disagree about this entry; do not trust this archive"
            ),
        );
    };
    let local = match read_local_header(file, record.local_offset, cd_start)? {
        Ok(local) => local,
        Err(why) => {
            mismatch(findings, why);
            return Ok(());
        }
    };
    if local.unicode_path_differs {
        findings.entry(
            Code::UnicodePathMismatch,
            &name,
            "the local header's Unicode Path field names a different file than the entry name; do not trust this archive",
        );
    }
    let LocalHeader {
        flags,
        method,
        data_start,
        name: local_name,
        ..
    } = &local;
    let (flags, method, data_start) = (*flags, *method, *data_start);
    let local_name = local_name.as_slice();
    let mut problems = Vec::new();
    if local_name != record.name_bytes() {
        problems.push(format!("the name (`{}`)", display_name(local_name)));
    }
    if method != record.method {
        problems.push(format!("the method ({method} vs {})", record.method));
    }
    if flags != record.flags {
        problems.push(format!("the flags ({flags:#06x} vs {:#06x})", record.flags));
    }
    let data_end = data_start.checked_add(record.compressed);
    let Some(data_end) = data_end.filter(|&end| end <= cd_start && end <= len) else {
        findings.entry(
            Code::OverlappingEntries,
            &name,
            "the entry's data runs into the central directory or past the end of the file; do not trust this archive",
        );
        return Ok(());
    };
    let observed = if flags & FLAG_DATA_DESCRIPTOR == 0 {
        Some((local.crc, local.compressed, local.uncompressed, 0))
    } else {
        let descriptor = read_descriptor(file, data_end, cd_start, local.zip64)?;
        if descriptor.is_none() {
            problems.push("the data descriptor (missing or unreadable)".to_owned());
        }
        descriptor
    };
    if let Some((crc, compressed, uncompressed, _)) = observed {
        if crc != record.crc {
            problems.push(format!("the CRC-32 ({crc:08x} vs {:08x})", record.crc));
        }
        if compressed != record.compressed || uncompressed != record.uncompressed {
            problems.push(format!(
                "the sizes ({compressed}/{uncompressed} vs {}/{})",
                record.compressed, record.uncompressed
            ));
        }
    }
    if problems.is_empty() {
        record.data_start = Some(data_start);
    } else {
        mismatch(
            findings,
            &format!(
                "its local header disagrees with the central directory in {}",
                problems.join(", ")
            ),
        );
    }
    Ok(())
}

/// A data descriptor after `data_end`: `(crc, compressed, uncompressed, length)`.
/// The signature is optional; sizes are 8 bytes when the entry uses ZIP64.
fn read_descriptor(
    file: &dyn ReadAt,
    data_end: u64,
    cd_start: u64,
    zip64: bool,
) -> io::Result<Option<(u32, u64, u64, u64)>> {
    let available = cd_start - data_end;
    let mut bytes = vec![0u8; usize::try_from(available.min(24)).map_err(io::Error::other)?];
    file.read_exact_at(&mut bytes, data_end)?;
    let signed = bytes.starts_with(DATA_DESCRIPTOR);
    let mut cursor = Cursor {
        bytes: &bytes,
        at: if signed { 4 } else { 0 },
    };
    let parsed = (|| {
        let crc = cursor.u32()?;
        let (compressed, uncompressed) = if zip64 {
            (cursor.u64()?, cursor.u64()?)
        } else {
            (u64::from(cursor.u32()?), u64::from(cursor.u32()?))
        };
        Some((crc, compressed, uncompressed, cursor.at as u64))
    })();
    Ok(parsed)
}

/// The descriptor length of a record whose local header checked out (0 without bit 3).
fn descriptor_len(file: &dyn ReadAt, record: &Record, cd_start: u64) -> io::Result<u64> {
    let Some(start) = record.data_start else {
        return Ok(0);
    };
    if record.flags & FLAG_DATA_DESCRIPTOR == 0 {
        return Ok(0);
    }
    let marker = u64::from(ZIP64_MARKER_32);
    let zip64 = record.compressed >= marker || record.uncompressed >= marker;
    let data_end = start + record.compressed;
    let first = read_descriptor(file, data_end, cd_start, zip64)?;
    // A 32-bit descriptor that does not match may be a ZIP64 one (or the reverse).
    let fits = |d: &(u32, u64, u64, u64)| {
        d.0 == record.crc && d.1 == record.compressed && d.2 == record.uncompressed
    };
    match first {
        Some(d) if fits(&d) => Ok(d.3),
        _ => Ok(read_descriptor(file, data_end, cd_start, !zip64)?
            .filter(fits)
            .map_or(0, |d| d.3)),
    }
}

/// Checks that the local records tile the bytes before the central directory exactly:
/// no overlap, nothing hidden between them, nothing before the first.
fn check_tiling(
    file: &dyn ReadAt,
    records: &[Record],
    shift: u64,
    cd_start: u64,
    findings: &mut Findings,
) -> io::Result<()> {
    let mut spans = Vec::with_capacity(records.len());
    // Gaps are only meaningful when every record's extent is known; a record whose
    // local header did not check out still occupies at least its fixed header.
    let mut complete = true;
    for record in records {
        let end = if let Some(start) = record.data_start {
            start + record.compressed + descriptor_len(file, record, cd_start)?
        } else {
            complete = false;
            record.local_offset.saturating_add(LOCAL_HEADER_LEN as u64)
        };
        spans.push((record.local_offset, end, record.display()));
    }
    spans.sort_unstable();
    let mut covered_to = 0;
    let mut previous: Option<&str> = None;
    for &(start, end, name) in &spans {
        if let Some(other) = previous.filter(|_| start < covered_to) {
            findings.entry(
                Code::OverlappingEntries,
                name,
                format!("its bytes overlap those of `{other}` (a zip bomb or a parser attack); do not trust this archive"),
            );
        } else if start > covered_to && complete {
            if previous.is_none() && shift == 0 {
                findings.archive(
                    Code::PrependedData,
                    format!("{start} bytes come before the first entry (a self-extracting or altered file); a sitepack archive must start with its first entry"),
                );
            }
            report_gap(file, covered_to, start, findings)?;
        }
        if end > covered_to {
            covered_to = end;
            previous = Some(name);
        }
    }
    if complete && covered_to < cd_start {
        report_gap(file, covered_to, cd_start, findings)?;
    }
    Ok(())
}

/// Reports bytes no record accounts for. Before the first entry (prepended data,
/// already reported) only a hidden local header is worth a second finding.
fn report_gap(file: &dyn ReadAt, start: u64, end: u64, findings: &mut Findings) -> io::Result<()> {
    let mut head = vec![0u8; usize::try_from((end - start).min(4)).map_err(io::Error::other)?];
    file.read_exact_at(&mut head, start)?;
    let what = if head == LOCAL_HEADER {
        "a local header that the central directory does not list"
    } else if start == 0 {
        return Ok(());
    } else {
        "data that no entry accounts for"
    };
    findings.archive(
        Code::HiddenLocalHeader,
        format!(
            "bytes {start}..{end} hold {what}; other ZIP tools may see different contents, so do not trust this archive"
        ),
    );
    Ok(())
}
