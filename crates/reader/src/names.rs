//! Entry names and types (docs/FORMAT.md §13.1 methods and encryption, §13.3 names):
//! every name is read from the raw central-directory bytes.

use std::collections::{HashMap, HashSet};

use sitepack_format::zip_records::{FLAG_UTF8, HOST_UNIX, METHOD_DEFLATED, METHOD_STORED};
use sitepack_format::{ArchivePath, FormatError};

use crate::container::Record;
use crate::finding::{Code, Findings};

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const SETUID_SETGID: u32 = 0o6000;
const DOS_DIRECTORY: u32 = 0x10;
const DOS_REPARSE_POINT: u32 = 0x400;

/// Checks each record's method, encryption, name and type, and the names against
/// each other.
pub(crate) fn check(records: &[Record], findings: &mut Findings) {
    let mut names: HashSet<&[u8]> = HashSet::new();
    // Collision key → the file entry (or directory) that has it.
    let mut file_keys: HashMap<String, &str> = HashMap::new();
    let mut valid: Vec<(&Record, ArchivePath)> = Vec::new();
    for record in records {
        let name = record.display();
        if !names.insert(record.name_bytes()) {
            findings.entry(
                Code::DuplicateName,
                name,
                "two entries have this exact name, and ZIP tools differ in which one they use; do not trust this archive",
            );
            continue;
        }
        check_method(record, findings);
        check_type(record, findings);
        if let Some(path) = check_name(record, findings) {
            if !record.is_directory() {
                let key = path.collision_key();
                if let Some(other) = file_keys.get(&key) {
                    findings.entry(
                        Code::NameCollision,
                        name,
                        format!("it names the same file as `{other}` on case-insensitive or normalizing file systems (Windows, macOS); rename one of them"),
                    );
                    continue;
                }
                file_keys.insert(key, name);
            }
            valid.push((record, path));
        }
    }
    for (record, path) in &valid {
        let mut prefixes: Vec<ArchivePath> = path.prefixes().collect();
        if !record.is_directory() {
            prefixes.pop();
        }
        for prefix in prefixes {
            if let Some(file) = file_keys.get(&prefix.collision_key())
                && *file != record.display()
            {
                findings.entry(
                    Code::FileDirConflict,
                    record.display(),
                    format!("`{prefix}` would have to be both a file (`{file}`) and a directory; remove one of them"),
                );
                break;
            }
        }
    }
}

fn check_method(record: &Record, findings: &mut Findings) {
    let name = record.display();
    if record.is_encrypted() {
        findings.entry(
            Code::EncryptedEntry,
            name,
            "the entry is encrypted; sitepack archives are never encrypted, so this one was altered",
        );
    } else if !matches!(record.method, METHOD_STORED | METHOD_DEFLATED) {
        findings.entry(
            Code::UnsupportedMethod,
            name,
            format!(
                "compression method {} is not allowed (only stored and deflate); re-create the archive with sitepack or `zip`",
                record.method
            ),
        );
    }
}

fn check_name(record: &Record, findings: &mut Findings) -> Option<ArchivePath> {
    let Some(text) = record.name() else {
        findings.entry(
            Code::NameNotUtf8,
            record.display(),
            "the name is not valid UTF-8, so tools would decode it differently; do not trust this archive",
        );
        return None;
    };
    if !text.is_ascii() && record.flags & FLAG_UTF8 == 0 {
        findings.entry(
            Code::Utf8FlagMissing,
            text,
            "a non-ASCII name without the UTF-8 flag: some tools will decode it as CP437 and extract it under another name",
        );
    }
    let bare = if record.is_directory() {
        &text[..text.len() - 1]
    } else {
        text
    };
    match bare.parse::<ArchivePath>() {
        Ok(path) => Some(path),
        Err(FormatError::InvalidPath { reason, .. }) => {
            findings.entry(
                Code::UnsafePath,
                text,
                format!("unsafe entry name: {reason}; extracting it could write outside the target or collide, so do not trust this archive"),
            );
            None
        }
        Err(other) => {
            findings.entry(Code::UnsafePath, text, other.to_string());
            None
        }
    }
}

fn check_type(record: &Record, findings: &mut Findings) {
    let name = record.display();
    let host = record.made_by >> 8;
    let mode = record.external_attributes >> 16;
    let unix = (host == HOST_UNIX && mode != 0).then_some(mode);
    let dos = matches!(host, 0 | 10 | 14).then_some(record.external_attributes & 0xFF_FF);
    let kind = unix.map(|m| m & S_IFMT);
    let special = |findings: &mut Findings, what: &str| {
        findings.entry(
            Code::SpecialMode,
            name,
            format!(
                "{what}; sitepack archives hold only regular files, so do not trust this archive"
            ),
        );
    };
    if kind == Some(S_IFLNK) || dos.is_some_and(|a| a & DOS_REPARSE_POINT != 0) {
        findings.entry(
            Code::LinkEntry,
            name,
            "the entry is a symbolic link, which could point extraction outside its target; do not trust this archive",
        );
    } else if let Some(kind) = kind
        && !matches!(kind, 0 | S_IFREG | S_IFDIR)
    {
        special(
            findings,
            &format!("the entry is a device, FIFO or socket (mode {mode:o})"),
        );
    } else if unix.is_some_and(|m| m & SETUID_SETGID != 0) {
        special(
            findings,
            &format!("the entry has the setuid or setgid bit (mode {mode:o})"),
        );
    } else if !record.is_directory()
        && (kind == Some(S_IFDIR) || dos.is_some_and(|a| a & DOS_DIRECTORY != 0))
    {
        special(findings, "a file entry marked as a directory");
    } else if record.is_directory() && kind == Some(S_IFREG) {
        special(findings, "a directory entry marked as a regular file");
    }
    if record.is_directory() && (record.compressed != 0 || record.uncompressed != 0) {
        findings.entry(
            Code::DirectoryWithData,
            name,
            "a directory entry carries data, which extraction would drop or misplace; do not trust this archive",
        );
    }
}
