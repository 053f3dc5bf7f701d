//! Findings: what `validate` reports, each with a stable code (docs/FORMAT.md §13).

use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;
use sitepack_format::mask_credentials;

/// How bad a finding is: an error makes the archive invalid; a warning does not
/// (unless the caller is strict).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The archive is not valid.
    Error,
    /// Worth a look; the archive is still valid.
    Warning,
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $code:ident = $severity:ident,)*) => {
        /// The stable code of a finding, one per check of docs/FORMAT.md §13. Serialized
        /// in upper snake case (`UNSAFE_PATH`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        #[non_exhaustive]
        pub enum Code {
            $($(#[doc = $doc])* $code,)*
        }

        impl Code {
            /// Every code, in the order of the specification.
            pub const ALL: &[Code] = &[$(Code::$code,)*];

            /// The severity this check always has.
            #[must_use]
            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$code => Severity::$severity,)*
                }
            }
        }
    };
}

codes! {
    /// Not a ZIP file, or truncated: no end-of-central-directory record.
    NotAZip = Error,
    /// More than one end-of-central-directory record, or one inside the comment.
    MultipleEocd = Error,
    /// Bytes after the end-of-central-directory record and its comment.
    TrailingData = Error,
    /// The archive comment is not empty.
    ArchiveComment = Warning,
    /// The central directory or its ZIP64 records do not parse or disagree.
    BadCentralDirectory = Error,
    /// Bytes before the first local header.
    PrependedData = Error,
    /// A multi-disk (spanned) archive.
    MultiDisk = Error,
    /// An encrypted entry.
    EncryptedEntry = Error,
    /// A compression method other than stored or deflate.
    UnsupportedMethod = Error,
    /// A local header that disagrees with its central-directory record.
    LocalHeaderMismatch = Error,
    /// Data the central directory does not account for.
    HiddenLocalHeader = Error,
    /// Two entries share bytes, or an entry runs into the central directory.
    OverlappingEntries = Error,
    /// Two entries with the same name.
    DuplicateName = Error,
    /// An Info-ZIP Unicode Path field that names another file.
    UnicodePathMismatch = Error,
    /// A name that is not UTF-8.
    NameNotUtf8 = Error,
    /// A non-ASCII name without the UTF-8 flag.
    Utf8FlagMissing = Warning,
    /// A name that is not a safe archive path.
    UnsafePath = Error,
    /// Two names that collide on a case-insensitive or normalizing file system.
    NameCollision = Error,
    /// A name that is both a file and a directory.
    FileDirConflict = Error,
    /// A symbolic link or reparse point.
    LinkEntry = Error,
    /// A device, FIFO, socket, setuid/setgid or mismatched file type.
    SpecialMode = Error,
    /// A directory entry that carries data.
    DirectoryWithData = Error,
    /// More entries than the limit.
    TooManyEntries = Error,
    /// More decompressed bytes than the limit.
    TooLarge = Error,
    /// An entry that decompresses far more than its compressed size.
    RatioExceeded = Error,
    /// Decompressed size differs from the declared or listed size.
    SizeMismatch = Error,
    /// A broken deflate stream.
    CorruptData = Error,
    /// No `manifest.json`.
    ManifestMissing = Error,
    /// `manifest.json` over 64 MiB.
    ManifestTooLarge = Error,
    /// `manifest.json` is not one JSON value, or repeats a key.
    ManifestInvalidJson = Error,
    /// A format major version this reader does not read.
    UnsupportedVersion = Error,
    /// A violation of the manifest schema or its type rules.
    ManifestSchema = Error,
    /// A manifest member this reader does not know.
    UnknownField = Warning,
    /// A path listed twice in the manifest.
    ListedTwice = Error,
    /// An entry the manifest does not list.
    UnlistedEntry = Error,
    /// A listed entry that is not in the archive.
    MissingEntry = Error,
    /// No `checksums.sha256`.
    ChecksumsMissing = Error,
    /// CRC-32 differs from the central directory.
    CrcMismatch = Error,
    /// SHA-256 differs from the manifest.
    DigestMismatch = Error,
    /// `checksums.sha256` differs from the manifest.
    ChecksumsMismatch = Error,
    /// A document that is not valid JSON of the right shape.
    InvalidJson = Error,
    /// A collection line that is not a record with an id.
    InvalidJsonl = Error,
    /// Two records of one collection with the same id.
    DuplicateRecordId = Error,
    /// A collection's record count differs from the manifest.
    RecordCountMismatch = Error,
    /// A user card whose id is not its file name.
    UserIdMismatch = Error,
    /// An entry or record outside the declared scope.
    OutOfScope = Error,
    /// `site/site.json` missing, invalid, or not the manifest's site.
    SiteMismatch = Error,
    /// An entry's `area` differs from its path's area.
    AreaMismatch = Error,
    /// A `stats` counter differs from the recomputed count.
    StatsMismatch = Warning,
    /// A secret value that should have been removed.
    SecretPresent = Error,
    /// Something shaped like a well-known credential.
    CredentialShape = Warning,
    /// The archive's SHA-256 differs from the expected digest.
    ArchiveDigestMismatch = Error,
    /// A database archive's `site/db/schema.json` breaks its schema or contradicts itself.
    DbSchema = Error,
    /// A table of `schema.json` without its `site/db/<table>.jsonl` entry.
    DbTableMissing = Error,
    /// An entry under `site/db/` that is no table of `schema.json`.
    DbTableUnknown = Error,
    /// A row that is not an object of exactly its table's columns with valid values.
    DbRow = Error,
    /// Two rows of a table with the same primary key.
    DbKeyDuplicate = Error,
    /// A row whose foreign key names no row of its parent table in the archive.
    DbForeignKey = Error,
    /// A tenant table's row with another tenant's value.
    DbTenant = Error,
    /// A table's rows differ from its `records` or its `rows` in `schema.json`.
    DbCount = Error,
}

impl Code {
    /// The code as written in reports (`UNSAFE_PATH`).
    #[must_use]
    pub fn as_str(self) -> String {
        let mut out = String::new();
        for (i, ch) in format!("{self:?}").chars().enumerate() {
            if ch.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_uppercase());
        }
        out
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

/// One thing wrong (or worth a look) in an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Finding {
    /// Which check.
    pub code: Code,
    /// Error or warning (fixed per code).
    pub severity: Severity,
    /// The entry name, when the finding is about one entry (invalid UTF-8 escaped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is wrong and what to do. Never repeats a secret value.
    pub message: String,
}

/// The findings of one validation: every finding is counted, the first
/// [`MAX_FINDINGS`] are kept.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub kept: Vec<Finding>,
    pub errors: u64,
    pub warnings: u64,
}

/// Findings kept in a report; the rest are only counted.
pub const MAX_FINDINGS: usize = 1000;

impl Findings {
    /// The entry name and the message are kept with every secret credential shape in
    /// them masked (an entry or member name can hold one): a finding never repeats one.
    pub fn add(&mut self, code: Code, path: Option<&str>, message: impl Into<String>) {
        let severity = code.severity();
        match severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        if self.kept.len() < MAX_FINDINGS {
            self.kept.push(Finding {
                code,
                severity,
                path: path.map(mask_credentials),
                message: mask_credentials(&message.into()),
            });
        }
    }

    /// Adds to an entry.
    pub fn entry(&mut self, code: Code, path: &str, message: impl Into<String>) {
        self.add(code, Some(path), message);
    }

    /// Adds about the whole archive.
    pub fn archive(&mut self, code: Code, message: impl Into<String>) {
        self.add(code, None, message);
    }

    pub fn extend(&mut self, other: Findings) {
        self.errors += other.errors;
        self.warnings += other.warnings;
        let room = MAX_FINDINGS.saturating_sub(self.kept.len());
        self.kept.extend(other.kept.into_iter().take(room));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_in_upper_snake_case() {
        for code in Code::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::from(code.as_str()));
        }
        assert_eq!(Code::NotAZip.as_str(), "NOT_A_ZIP");
        assert_eq!(Code::MultipleEocd.as_str(), "MULTIPLE_EOCD");
        assert_eq!(Code::InvalidJsonl.as_str(), "INVALID_JSONL");
    }

    /// Every code is a row of a table of docs/FORMAT.md §13, numbered in the order of
    /// `Code::ALL`.
    #[test]
    fn every_code_is_specified_in_format_md_in_order() {
        let spec = include_str!("../../../docs/FORMAT.md");
        for (index, code) in Code::ALL.iter().enumerate() {
            let row = format!(
                "| {} | `{code}` | {} |",
                index + 1,
                match code.severity() {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                }
            );
            assert!(spec.contains(&row), "docs/FORMAT.md §13 has no row `{row}`");
        }
    }

    #[test]
    fn every_finding_is_counted_and_the_first_thousand_kept() {
        let mut findings = Findings::default();
        for i in 0..1500 {
            findings.entry(Code::UnsafePath, &format!("x{i}"), "m");
        }
        findings.archive(Code::ArchiveComment, "c");
        assert_eq!(findings.kept.len(), MAX_FINDINGS);
        assert_eq!((findings.errors, findings.warnings), (1500, 1));
    }
}
