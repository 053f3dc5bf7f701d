//! A ZIP writer for hostile archives, written byte by byte from PKWARE APPNOTE 6.3.x.
//!
//! No ZIP library would write most of what this can: every field of every structure can
//! be set on its own, so that each reader check of docs/FORMAT.md §13 is exercised alone.
//!
//! - [`Entry`]: one member — name bytes, data, method, flags, attributes, extra fields,
//!   overrides of the local and central header fields, ZIP64, a data descriptor, and where
//!   its records go ([`Placement`]).
//! - [`Zip`]: the archive — entries plus comment, prepended, interleaved and trailing bytes,
//!   end-of-central-directory overrides and an optional ZIP64 end record.
//! - [`Payload`]: the sitepack part — `manifest.json` and `checksums.sha256` exactly as
//!   FORMAT.md §9–§10 derive them from a list of site files — so that a hostile archive is
//!   valid but for the one attack a test adds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;

use serde_json::{Value, json};
use sitepack_format::{ArchivePath, Area, ModuleItem, Sha256, classify};

/// Local file header signature (APPNOTE 4.3.7).
pub const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;
/// Central directory file header signature (4.3.12).
const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
/// End of central directory signature (4.3.16).
pub const EOCD_SIGNATURE: u32 = 0x0605_4b50;
/// ZIP64 end of central directory record signature (4.3.14).
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
/// ZIP64 end of central directory locator signature (4.3.15).
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
/// Data descriptor signature (4.3.9.3).
const DATA_DESCRIPTOR_SIGNATURE: u32 = 0x0807_4b50;

/// Compression method 0.
pub const STORED: u16 = 0;
/// Compression method 8.
pub const DEFLATED: u16 = 8;

/// General-purpose bit 0: traditional PKWARE encryption.
pub const FLAG_ENCRYPTED: u16 = 1;
/// General-purpose bit 3: CRC and sizes follow the data in a data descriptor.
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
/// General-purpose bit 6: strong encryption.
pub const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
/// General-purpose bit 11: the name is UTF-8.
pub const FLAG_UTF8: u16 = 1 << 11;
/// General-purpose bit 13: local header values masked (central directory encryption).
pub const FLAG_MASKED_HEADER: u16 = 1 << 13;

/// "Version made by" host byte of MS-DOS (FAT) attributes.
pub const HOST_DOS: u16 = 0;
/// "Version made by" host byte of Unix attributes.
pub const HOST_UNIX: u16 = 3;
/// The APPNOTE version sitepack's writer claims in the lower byte.
const SPEC_VERSION: u16 = 63;
/// "Version needed to extract": 2.0 (deflate), 4.5 (ZIP64).
const NEEDED: u16 = 20;
const NEEDED_ZIP64: u16 = 45;

/// MS-DOS time and date of `2026-11-22T08:30:00Z` (FORMAT.md §3.1).
const DOS_TIME: u16 = 0x43C0;
const DOS_DATE: u16 = 0x5D76;

/// Extra field header ids.
const ZIP64_EXTRA: u16 = 0x0001;
const UNICODE_PATH_EXTRA: u16 = 0x7075;

/// The marker a 32-bit (or 16-bit) field holds when its ZIP64 value is in an extra field.
const ZIP64_MARKER: u32 = u32::MAX;

/// Header fields that may say something other than what the entry's data implies.
/// `None` writes the true value.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pub name: Option<Vec<u8>>,
    pub method: Option<u16>,
    pub flags: Option<u16>,
    pub crc: Option<u32>,
    pub compressed_size: Option<u64>,
    pub uncompressed_size: Option<u64>,
}

/// Where an entry's records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A local record, and a central record pointing at it: an ordinary entry.
    Listed,
    /// A local record that no central record lists (a hidden local header).
    LocalOnly,
    /// Only a central record, pointing into another entry's local record.
    CentralAt(Anchor),
}

/// A position in another entry's local record, by that entry's index in [`Zip::entries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Its local header.
    LocalHeaderOf(usize),
    /// The first byte of its data.
    DataOf(usize),
}

/// Whether a data descriptor follows the data (general-purpose bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Descriptor {
    /// No descriptor: CRC and sizes are in the local header.
    Absent,
    /// A descriptor starting with its optional signature `PK\x07\x08`.
    Signed,
    /// A descriptor without the signature.
    Unsigned,
}

/// One ZIP member, with every field under the test's control.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name bytes of both headers (unless overridden in [`Entry::local`] or
    /// [`Entry::central`]).
    pub name: Vec<u8>,
    /// The uncompressed bytes; the CRC-32 and sizes are computed from them.
    pub data: Vec<u8>,
    /// The method of both headers; [`DEFLATED`] compresses `data`, any other method
    /// stores it as it is.
    pub method: u16,
    /// Bytes stored instead of the compressed `data` (a corrupt stream, say).
    pub raw: Option<Vec<u8>>,
    /// General-purpose flags of both headers. [`Entry::file`] sets bit 11 for a non-ASCII
    /// name; bit 3 is added when there is a data descriptor.
    pub flags: u16,
    pub version_made_by: u16,
    pub external_attributes: u32,
    pub local_extra: Vec<u8>,
    pub central_extra: Vec<u8>,
    /// Overrides of the local header. With a data descriptor the local header holds zero
    /// CRC and sizes, and these overrides apply to the descriptor instead.
    pub local: Fields,
    /// Overrides of the central record.
    pub central: Fields,
    /// The signature of the local header.
    pub local_signature: u32,
    /// Sizes (and the central offset) in ZIP64 extra fields, even though they fit.
    pub zip64: bool,
    pub descriptor: Descriptor,
    pub placement: Placement,
}

impl Entry {
    /// A stored regular file (Unix mode 0644), as sitepack's writer describes one.
    pub fn file(name: impl Into<Vec<u8>>, data: impl Into<Vec<u8>>) -> Self {
        let name = name.into();
        let flags = if name.is_ascii() { 0 } else { FLAG_UTF8 };
        Self {
            name,
            data: data.into(),
            method: STORED,
            raw: None,
            flags,
            version_made_by: HOST_UNIX << 8 | SPEC_VERSION,
            external_attributes: 0o100_644 << 16,
            local_extra: Vec::new(),
            central_extra: Vec::new(),
            local: Fields::default(),
            central: Fields::default(),
            local_signature: LOCAL_HEADER_SIGNATURE,
            zip64: false,
            descriptor: Descriptor::Absent,
            placement: Placement::Listed,
        }
    }

    /// A directory entry (the name should end in `/`) with Unix mode 0755 and the DOS
    /// directory attribute, as Info-ZIP writes one.
    pub fn directory(name: impl Into<Vec<u8>>) -> Self {
        Self {
            external_attributes: 0o040_755 << 16 | 0x10,
            ..Self::file(name, Vec::new())
        }
    }

    /// The same entry, compressed with deflate.
    #[must_use]
    pub fn deflated(self) -> Self {
        Self {
            method: DEFLATED,
            ..self
        }
    }

    /// The same entry with a Unix mode (file type and permission bits).
    #[must_use]
    pub fn unix_mode(self, mode: u32) -> Self {
        Self {
            version_made_by: HOST_UNIX << 8 | SPEC_VERSION,
            external_attributes: mode << 16,
            ..self
        }
    }

    /// The same entry made on MS-DOS, with these DOS attributes.
    #[must_use]
    pub fn dos_attributes(self, attributes: u32) -> Self {
        Self {
            version_made_by: HOST_DOS << 8 | NEEDED,
            external_attributes: attributes,
            ..self
        }
    }

    /// The CRC-32 of the data.
    pub fn crc(&self) -> u32 {
        crc32fast::hash(&self.data)
    }

    /// The bytes written after the local header: `raw`, or the data compressed by
    /// `method`.
    pub fn stored_bytes(&self) -> Vec<u8> {
        match (&self.raw, self.method) {
            (Some(raw), _) => raw.clone(),
            (None, DEFLATED) => deflate(&self.data),
            (None, _) => self.data.clone(),
        }
    }

    /// The local record alone: header, name, extra field, data and data descriptor.
    pub fn local_record(&self) -> Vec<u8> {
        self.local_record_of(&self.stored_bytes())
    }

    /// The values a header holds, after `overrides`.
    fn header(&self, overrides: &Fields, stored_len: usize) -> Header {
        let descriptor_flag = if self.descriptor == Descriptor::Absent {
            0
        } else {
            FLAG_DATA_DESCRIPTOR
        };
        Header {
            name: overrides.name.clone().unwrap_or_else(|| self.name.clone()),
            method: overrides.method.unwrap_or(self.method),
            flags: overrides.flags.unwrap_or(self.flags | descriptor_flag),
            crc: overrides.crc.unwrap_or_else(|| self.crc()),
            compressed_size: overrides.compressed_size.unwrap_or(stored_len as u64),
            uncompressed_size: overrides
                .uncompressed_size
                .unwrap_or(self.data.len() as u64),
        }
    }

    fn local_record_of(&self, stored: &[u8]) -> Vec<u8> {
        let header = self.header(&self.local, stored.len());
        let in_header = if self.descriptor == Descriptor::Absent {
            (header.crc, header.compressed_size, header.uncompressed_size)
        } else {
            (0, 0, 0)
        };
        let mut extra = Vec::new();
        if self.zip64 {
            let mut values = Vec::new();
            put_u64(&mut values, in_header.2);
            put_u64(&mut values, in_header.1);
            extra = extra_field(ZIP64_EXTRA, &values);
        }
        extra.extend_from_slice(&self.local_extra);

        let mut out = Vec::new();
        put_u32(&mut out, self.local_signature);
        put_u16(&mut out, if self.zip64 { NEEDED_ZIP64 } else { NEEDED });
        put_u16(&mut out, header.flags);
        put_u16(&mut out, header.method);
        put_u16(&mut out, DOS_TIME);
        put_u16(&mut out, DOS_DATE);
        put_u32(&mut out, in_header.0);
        put_size(&mut out, in_header.1, self.zip64);
        put_size(&mut out, in_header.2, self.zip64);
        put_u16(&mut out, len16(&header.name));
        put_u16(&mut out, len16(&extra));
        out.extend_from_slice(&header.name);
        out.extend_from_slice(&extra);
        out.extend_from_slice(stored);
        if self.descriptor != Descriptor::Absent {
            if self.descriptor == Descriptor::Signed {
                put_u32(&mut out, DATA_DESCRIPTOR_SIGNATURE);
            }
            put_u32(&mut out, header.crc);
            if self.zip64 {
                put_u64(&mut out, header.compressed_size);
                put_u64(&mut out, header.uncompressed_size);
            } else {
                put_u32(&mut out, fit32(header.compressed_size));
                put_u32(&mut out, fit32(header.uncompressed_size));
            }
        }
        out
    }

    /// The length of the local header with its name and extra field (where data starts).
    fn local_header_len(&self) -> usize {
        let name = self.local.name.as_ref().unwrap_or(&self.name);
        let zip64 = if self.zip64 { 4 + 16 } else { 0 };
        30 + name.len() + zip64 + self.local_extra.len()
    }

    fn central_record(&self, stored_len: usize, offset: u64) -> Vec<u8> {
        let header = self.header(&self.central, stored_len);
        let mut extra = Vec::new();
        if self.zip64 {
            let mut values = Vec::new();
            put_u64(&mut values, header.uncompressed_size);
            put_u64(&mut values, header.compressed_size);
            put_u64(&mut values, offset);
            extra = extra_field(ZIP64_EXTRA, &values);
        }
        extra.extend_from_slice(&self.central_extra);

        let mut out = Vec::new();
        put_u32(&mut out, CENTRAL_HEADER_SIGNATURE);
        put_u16(&mut out, self.version_made_by);
        put_u16(&mut out, if self.zip64 { NEEDED_ZIP64 } else { NEEDED });
        put_u16(&mut out, header.flags);
        put_u16(&mut out, header.method);
        put_u16(&mut out, DOS_TIME);
        put_u16(&mut out, DOS_DATE);
        put_u32(&mut out, header.crc);
        put_size(&mut out, header.compressed_size, self.zip64);
        put_size(&mut out, header.uncompressed_size, self.zip64);
        put_u16(&mut out, len16(&header.name));
        put_u16(&mut out, len16(&extra));
        put_u16(&mut out, 0); // entry comment length
        put_u16(&mut out, 0); // disk number start
        put_u16(&mut out, 0); // internal attributes
        put_u32(&mut out, self.external_attributes);
        put_size(&mut out, offset, self.zip64);
        out.extend_from_slice(&header.name);
        out.extend_from_slice(&extra);
        out
    }
}

/// The values of one header, overrides applied.
struct Header {
    name: Vec<u8>,
    method: u16,
    flags: u16,
    crc: u32,
    compressed_size: u64,
    uncompressed_size: u64,
}

/// What the offsets in the central directory and the EOCD count from, when bytes are
/// prepended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Offsets {
    /// From the first local header, as if the bytes were prepended after the archive was
    /// written (`cat stub archive.zip`).
    #[default]
    FromArchive,
    /// From the start of the file, as a self-extractor's archive is adjusted (`zip -A`).
    FromFile,
}

/// End-of-central-directory fields that may say something other than the truth.
#[derive(Debug, Clone, Copy, Default)]
pub struct Eocd {
    pub disk: Option<u16>,
    pub central_directory_disk: Option<u16>,
    pub entries_on_disk: Option<u16>,
    pub entries_total: Option<u16>,
    pub central_directory_size: Option<u32>,
    pub central_directory_offset: Option<u32>,
}

/// A whole archive.
#[derive(Debug, Clone, Default)]
pub struct Zip {
    /// Local records in this order, then central records in this order.
    pub entries: Vec<Entry>,
    /// Bytes before the first local record.
    pub prepended: Vec<u8>,
    pub offsets: Offsets,
    /// `(i, bytes)`: bytes written just before the local record of entry `i` (or before
    /// the central directory when `i` is the number of entries).
    pub between: Vec<(usize, Vec<u8>)>,
    /// The archive comment.
    pub comment: Vec<u8>,
    /// Bytes after the EOCD record and its comment.
    pub trailing: Vec<u8>,
    pub eocd: Eocd,
    /// Write a ZIP64 end record and locator, the EOCD holding only markers.
    pub zip64_end: bool,
}

impl Zip {
    pub fn new(entries: Vec<Entry>) -> Self {
        Self {
            entries,
            ..Self::default()
        }
    }

    /// The position of the entry named `name` (panics when there is none).
    pub fn index(&self, name: &str) -> usize {
        self.entries
            .iter()
            .position(|e| e.name == name.as_bytes())
            .unwrap_or_else(|| panic!("no entry named {name:?}"))
    }

    pub fn entry_mut(&mut self, name: &str) -> &mut Entry {
        let index = self.index(name);
        &mut self.entries[index]
    }

    pub fn remove(&mut self, name: &str) -> Entry {
        let index = self.index(name);
        self.entries.remove(index)
    }

    /// The archive's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.prepended.clone();
        let base = match self.offsets {
            Offsets::FromArchive => self.prepended.len() as u64,
            Offsets::FromFile => 0,
        };
        let position = |out: &Vec<u8>| out.len() as u64 - base;
        let write_between = |out: &mut Vec<u8>, index: usize| {
            for (_, bytes) in self.between.iter().filter(|(i, _)| *i == index) {
                out.extend_from_slice(bytes);
            }
        };

        let stored: Vec<Vec<u8>> = self.entries.iter().map(Entry::stored_bytes).collect();
        let mut local_offsets = vec![None; self.entries.len()];
        for (index, entry) in self.entries.iter().enumerate() {
            write_between(&mut out, index);
            if matches!(entry.placement, Placement::Listed | Placement::LocalOnly) {
                local_offsets[index] = Some(position(&out));
                out.extend_from_slice(&entry.local_record_of(&stored[index]));
            }
        }
        write_between(&mut out, self.entries.len());

        let anchor = |anchor: Anchor| match anchor {
            Anchor::LocalHeaderOf(i) => local_offsets[i].expect("anchor has a local record"),
            Anchor::DataOf(i) => {
                local_offsets[i].expect("anchor has a local record")
                    + self.entries[i].local_header_len() as u64
            }
        };
        let central_start = position(&out);
        let mut count: u64 = 0;
        for (index, entry) in self.entries.iter().enumerate() {
            let offset = match entry.placement {
                Placement::Listed => local_offsets[index].expect("written above"),
                Placement::LocalOnly => continue,
                Placement::CentralAt(at) => anchor(at),
            };
            out.extend_from_slice(&entry.central_record(stored[index].len(), offset));
            count += 1;
        }
        let central_size = position(&out) - central_start;

        let eocd = &self.eocd;
        let (count16, size32, offset32) = if self.zip64_end {
            let zip64_end_offset = position(&out);
            put_u32(&mut out, ZIP64_EOCD_SIGNATURE);
            put_u64(&mut out, 44); // size of the rest of this record
            put_u16(&mut out, HOST_UNIX << 8 | SPEC_VERSION);
            put_u16(&mut out, NEEDED_ZIP64);
            put_u32(&mut out, 0); // this disk
            put_u32(&mut out, 0); // disk with the central directory
            put_u64(&mut out, count);
            put_u64(&mut out, count);
            put_u64(&mut out, central_size);
            put_u64(&mut out, central_start);
            put_u32(&mut out, ZIP64_LOCATOR_SIGNATURE);
            put_u32(&mut out, 0); // disk with the ZIP64 end record
            put_u64(&mut out, zip64_end_offset);
            put_u32(&mut out, 1); // total number of disks
            (u16::MAX, ZIP64_MARKER, ZIP64_MARKER)
        } else {
            (
                u16::try_from(count).expect("use zip64_end for 65,535 entries or more"),
                fit32(central_size),
                fit32(central_start),
            )
        };
        put_u32(&mut out, EOCD_SIGNATURE);
        put_u16(&mut out, eocd.disk.unwrap_or(0));
        put_u16(&mut out, eocd.central_directory_disk.unwrap_or(0));
        put_u16(&mut out, eocd.entries_on_disk.unwrap_or(count16));
        put_u16(&mut out, eocd.entries_total.unwrap_or(count16));
        put_u32(&mut out, eocd.central_directory_size.unwrap_or(size32));
        put_u32(&mut out, eocd.central_directory_offset.unwrap_or(offset32));
        put_u16(&mut out, len16(&self.comment));
        out.extend_from_slice(&self.comment);
        out.extend_from_slice(&self.trailing);
        out
    }
}

/// An extra field: header id, data size, data (APPNOTE 4.5.1).
pub fn extra_field(id: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_u16(&mut out, id);
    put_u16(&mut out, len16(data));
    out.extend_from_slice(data);
    out
}

/// An Info-ZIP Unicode Path extra field (`0x7075`, APPNOTE 4.6.9): version 1, the CRC-32
/// of the header's name field, then the UTF-8 name.
pub fn unicode_path_extra(header_name: &[u8], unicode_name: &str) -> Vec<u8> {
    let mut data = vec![1];
    put_u32(&mut data, crc32fast::hash(header_name));
    data.extend_from_slice(unicode_name.as_bytes());
    extra_field(UNICODE_PATH_EXTRA, &data)
}

/// Raw deflate (RFC 1951) at the best compression.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("write to memory");
    encoder.finish().expect("write to memory")
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// A 32-bit size or offset field: the value, or the ZIP64 marker.
fn put_size(out: &mut Vec<u8>, value: u64, zip64: bool) {
    put_u32(out, if zip64 { ZIP64_MARKER } else { fit32(value) });
}

fn fit32(value: u64) -> u32 {
    u32::try_from(value).expect("a value over 4 GiB needs zip64")
}

fn len16(bytes: &[u8]) -> u16 {
    u16::try_from(bytes.len()).expect("a name, extra field or comment under 64 KiB")
}

/// `site.json` of every crafted archive: the bytes `TestSite::new("hostile")` writes.
pub const SITE_JSON: &str =
    r#"{"id": "hostile", "name": "Test site hostile", "url": "https://hostile.example"}"#;

/// The site files of [`Payload::baseline`]: one of each area, nothing to redact.
const BASELINE: &[(&str, &str)] = &[
    ("files/readme.txt", "Nothing to see here.\n"),
    (
        "modules/crm/contacts.jsonl",
        "{\"id\":\"c-1\",\"user_id\":\"u-1\",\"name\":\"Trailhead\"}\n\
         {\"id\":\"c-2\",\"user_id\":\"u-2\",\"name\":\"Summit\"}\n",
    ),
    (
        "modules/crm/pipeline.json",
        "{\"stages\": [\"lead\", \"won\"]}\n",
    ),
    (
        "settings/general.json",
        "{\"title\": \"Hostile\", \"currency\": \"EUR\"}\n",
    ),
    ("users/u-1.json", "{\"id\": \"u-1\", \"name\": \"Ada\"}\n"),
];

/// The sitepack part of an archive: site files, and the manifest and checksums that a
/// correct writer derives from them (FORMAT.md §2, §9, §10).
///
/// Paths are site-relative and may be anything (a hostile name too): the manifest lists
/// `site/<path>` with its true size, digest and area, and where the path is not an
/// `ArchivePath` the area is the one its first component suggests (`files` or `other`).
#[derive(Debug, Clone)]
pub struct Payload {
    files: BTreeMap<String, Vec<u8>>,
    scope: Value,
    files_option: bool,
    label: Option<String>,
}

impl Default for Payload {
    fn default() -> Self {
        Self::new()
    }
}

impl Payload {
    /// A full archive holding only `site.json`.
    pub fn new() -> Self {
        Self {
            files: BTreeMap::from([("site.json".to_owned(), SITE_JSON.as_bytes().to_vec())]),
            scope: json!({"kind": "full"}),
            files_option: true,
            label: None,
        }
    }

    /// A full archive of a small site: `site.json`, a tab, a user card, a module with a
    /// collection and a document, and a file.
    pub fn baseline() -> Self {
        BASELINE.iter().fold(Self::new(), |payload, (path, data)| {
            payload.with(path, *data)
        })
    }

    /// The site files, by site-relative path.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    /// With the site file `path` (replacing one of that path).
    #[must_use]
    pub fn with(mut self, path: &str, data: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.to_owned(), data.into());
        self
    }

    /// With a scope written as on the command line: `full`, `tab:NAME`, `module:NAME`,
    /// `user:ID`.
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = match scope.split_once(':') {
            None => json!({"kind": scope}),
            Some((kind, name)) => json!({"kind": kind, "name": name}),
        };
        self
    }

    /// A data-only archive: `options.files` is `false`.
    #[must_use]
    pub fn data_only(mut self) -> Self {
        self.files_option = false;
        self
    }

    #[must_use]
    pub fn label(mut self, label: &str) -> Self {
        self.label = Some(label.to_owned());
        self
    }

    /// `manifest.json` as a JSON value, keys in the order of FORMAT.md §10.
    pub fn manifest(&self) -> Value {
        let mut stats = Counts::default();
        let entries: Vec<Value> = self
            .files
            .iter()
            .map(|(path, data)| {
                let (area, records) = stats.count(path, data);
                let mut entry = json!({
                    "path": format!("site/{path}"),
                    "size": data.len(),
                    "sha256": Sha256::of(data).to_string(),
                    "area": area,
                });
                if let Some(records) = records {
                    entry["records"] = json!(records);
                }
                entry
            })
            .collect();
        let mut manifest = json!({
            "format": "sitepack",
            "format_version": "1.0",
            "created_at": crate::TIMESTAMP,
            "generator": {"name": "sitepack", "version": env!("CARGO_PKG_VERSION")},
        });
        if let Some(label) = &self.label {
            manifest["label"] = json!(label);
        }
        let rest = json!({
            "site": {
                "id": "hostile",
                "name": "Test site hostile",
                "url": "https://hostile.example",
            },
            "scope": self.scope,
            "options": {"files": self.files_option},
            "entries": entries,
            "redactions": [],
            "stats": stats.to_json(),
        });
        let object = manifest.as_object_mut().expect("an object");
        for (key, value) in rest.as_object().expect("an object") {
            object.insert(key.clone(), value.clone());
        }
        manifest
    }

    /// `checksums.sha256`: `<sha256>  site/<path>\n` per file, in manifest order.
    pub fn checksums(&self) -> Vec<u8> {
        let mut text = String::new();
        for (path, data) in &self.files {
            writeln!(text, "{}  site/{path}", Sha256::of(data)).expect("write to a String");
        }
        text.into_bytes()
    }

    /// The archive: the site files deflated in byte order of their paths, then
    /// `checksums.sha256`, then `manifest.json`.
    pub fn zip(&self) -> Zip {
        self.zip_with(&self.manifest())
    }

    /// The archive, with another manifest.
    pub fn zip_with(&self, manifest: &Value) -> Zip {
        self.zip_with_metadata(self.checksums(), manifest_bytes(manifest))
    }

    /// The archive, with these bytes as `checksums.sha256` and `manifest.json`.
    pub fn zip_with_metadata(&self, checksums: Vec<u8>, manifest: Vec<u8>) -> Zip {
        let mut entries: Vec<Entry> = self
            .files
            .iter()
            .map(|(path, data)| Entry::file(format!("site/{path}"), data.clone()).deflated())
            .collect();
        entries.push(Entry::file("checksums.sha256", checksums).deflated());
        entries.push(Entry::file("manifest.json", manifest).deflated());
        Zip::new(entries)
    }
}

/// A manifest's bytes as writers emit them: pretty-printed, final newline.
pub fn manifest_bytes(manifest: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(manifest).expect("serializable");
    bytes.push(b'\n');
    bytes
}

/// The `stats` of a manifest, counted while its entries are listed.
#[derive(Default)]
struct Counts {
    entries: u64,
    bytes: u64,
    tabs: u64,
    users: u64,
    modules: BTreeSet<String>,
    collections: u64,
    records: u64,
    documents: u64,
    module_files: u64,
    files: u64,
    other: u64,
}

impl Counts {
    /// Counts one site file; returns its manifest `area` and, for a collection, its
    /// `records`.
    fn count(&mut self, path: &str, data: &[u8]) -> (Value, Option<u64>) {
        self.entries += 1;
        self.bytes += data.len() as u64;
        let area = path.parse::<ArchivePath>().ok().and_then(|p| classify(&p));
        let Some(area) = area else {
            // Not an ArchivePath (a hostile name), or under `.sitepack/`.
            let kind = if path.starts_with("files/") {
                self.files += 1;
                "files"
            } else {
                self.other += 1;
                "other"
            };
            return (json!(kind), None);
        };
        let mut records = None;
        match &area {
            Area::Site => {}
            Area::Tab(_) => self.tabs += 1,
            Area::User(_) => self.users += 1,
            Area::Module { module, item } => {
                self.modules.insert(module.to_string());
                match item {
                    ModuleItem::Collection => {
                        let count = record_count(data);
                        self.collections += 1;
                        self.records += count;
                        records = Some(count);
                    }
                    ModuleItem::Document => self.documents += 1,
                    ModuleItem::File => self.module_files += 1,
                }
            }
            Area::Files | Area::UserFiles(_) => self.files += 1,
            Area::Other => self.other += 1,
        }
        (
            serde_json::to_value(area.kind()).expect("serializable"),
            records,
        )
    }

    fn to_json(&self) -> Value {
        json!({
            "entries": self.entries,
            "bytes": self.bytes,
            "tabs": self.tabs,
            "users": self.users,
            "modules": self.modules.len(),
            "collections": self.collections,
            "records": self.records,
            "documents": self.documents,
            "module_files": self.module_files,
            "files": self.files,
            "other": self.other,
            "redactions": 0,
        })
    }
}

/// The records of a collection: its non-blank lines (FORMAT.md §8).
fn record_count(data: &[u8]) -> u64 {
    data.split(|&b| b == b'\n')
        .filter(|line| !line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')))
        .count() as u64
}
