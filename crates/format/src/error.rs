//! The format crate's one error type.

use crate::path::PathRejection;
use crate::schema::SchemaViolation;

/// Everything that can be wrong with a name, digest, manifest or site description.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A string that is not a safe [`ArchivePath`](crate::ArchivePath).
    #[error("`{path}` is not an allowed path: {reason}; rename it")]
    InvalidPath {
        /// The rejected text (escaped for printing).
        path: String,
        /// Which rule it breaks.
        reason: PathRejection,
    },
    /// A site id, tab, module or user name outside `[a-z0-9][a-z0-9._-]{0,62}`.
    #[error(
        "`{name}` is not a valid {what}: use 1–63 lowercase letters, digits, `.`, `_` or `-`, starting with a letter or digit"
    )]
    InvalidName {
        /// Which kind of identifier.
        what: &'static str,
        /// The rejected text (escaped for printing).
        name: String,
    },
    /// Not 64 lowercase hexadecimal digits.
    #[error("`{digest}` is not a SHA-256 digest (64 lowercase hexadecimal digits)")]
    InvalidDigest {
        /// The rejected text (escaped for printing).
        digest: String,
    },
    /// Not an RFC 3339 timestamp in UTC.
    #[error("`{value}` is not an RFC 3339 UTC timestamp such as 2026-11-22T08:30:00Z")]
    InvalidTimestamp {
        /// The rejected text.
        value: String,
    },
    /// Not `full`, `tab:NAME`, `module:NAME`, `user:ID` or `table:NAME`.
    #[error("`{scope}` is not a scope: use full, tab:NAME, module:NAME, user:ID or table:NAME")]
    InvalidScope {
        /// The rejected text.
        scope: String,
    },
    /// Not `MAJOR.MINOR`.
    #[error("`{version}` is not a format version of the form MAJOR.MINOR such as 1.0")]
    InvalidFormatVersion {
        /// The rejected text.
        version: String,
    },
    /// `manifest.json` is not JSON, or not the shape of a v1 manifest.
    #[error("manifest.json is not a valid sitepack manifest")]
    ManifestJson {
        /// What serde found.
        #[source]
        source: serde_json::Error,
    },
    /// `manifest.json` is JSON but breaks the type rules of the manifest.
    #[error("manifest.json at {pointer}: {message}")]
    ManifestType {
        /// RFC 6901 pointer to the offending value.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The `format` field is not `sitepack`.
    #[error("manifest.json says format `{found}`: this is not a sitepack archive")]
    NotSitepack {
        /// The value found.
        found: String,
    },
    /// A major version this sitepack does not read.
    #[error(
        "this archive was made by a {relation} sitepack (format {found}); this sitepack reads format {supported}.x: use a sitepack release that reads format {found}"
    )]
    UnsupportedVersion {
        /// `newer` or `older`.
        relation: &'static str,
        /// The version found in the archive.
        found: String,
        /// The major version this build reads.
        supported: u32,
    },
    /// A document does not match its JSON Schema.
    #[error("{document} does not match {schema}: {}", summarize(.violations))]
    SchemaViolations {
        /// Which document (e.g. `site.json`).
        document: String,
        /// Which schema file.
        schema: &'static str,
        /// Every violation found.
        violations: Vec<SchemaViolation>,
    },
    /// Text that is not one JSON value.
    #[error("line {line} column {column}: invalid JSON ({message})")]
    JsonSyntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected (never the text itself).
        message: String,
    },
    /// An object with the same key twice.
    #[error(
        "line {line} column {column}: duplicate key {pointer}; a key may appear only once in an object"
    )]
    DuplicateKey {
        /// RFC 6901 pointer of the repeated key.
        pointer: String,
        /// 1-based line of its second occurrence.
        line: usize,
        /// 1-based column just after it.
        column: usize,
    },
    /// An entry of `secrets.pointers` in `site.json` that is not `PATH#/json/pointer`.
    #[error(
        "secret pointer `{pointer}` in site.json is not of the form `settings/x.json#/json/pointer`: {reason}"
    )]
    InvalidSecretPointer {
        /// The rejected text.
        pointer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `secrets.allow` value that would allow more than itself (printed by its
    /// position only: it may be a credential).
    #[error("site.json secrets.allow item {index} (counting from 0): {reason}")]
    InvalidAllowedValue {
        /// Its index in `secrets.allow`.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn summarize(violations: &[SchemaViolation]) -> String {
    let shown: Vec<String> = violations.iter().take(5).map(ToString::to_string).collect();
    let more = violations.len().saturating_sub(shown.len());
    if more == 0 {
        shown.join("; ")
    } else {
        format!("{} (and {more} more)", shown.join("; "))
    }
}

/// An error and its causes on one line (`a: b: c`), as messages and audit events
/// record errors.
#[must_use]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
