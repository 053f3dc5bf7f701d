//! The report of a validation: `schema/report.schema.json`.

use schemars::JsonSchema;
use serde::Serialize;
pub use sitepack_format::Limits;
use sitepack_format::Sha256;

use crate::finding::{Code, Finding, Findings};

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
    /// SHA-256 of the whole archive file (for a metadata-only check, the digest recorded
    /// outside the archive, e.g. a store's sidecar; not recomputed).
    pub digest: Sha256,
    /// Whether every entry's data was read and checked; `false` for a metadata-only
    /// check (`validate --no-data`), which reads the end records, the central directory,
    /// `manifest.json`, `checksums.sha256` and `site/site.json` only.
    pub data_checked: bool,
    /// The findings, at most 1,000 (see `summary.truncated`).
    pub findings: Vec<Finding>,
    /// Counts.
    pub summary: Summary,
}

/// `schema/report.schema.json`, as committed.
pub const REPORT_SCHEMA: &str = include_str!("../schema/report.schema.json");

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

/// A report of `findings`.
pub(crate) fn report(
    archive: &str,
    digest: Sha256,
    findings: Findings,
    entries: u64,
    bytes: u64,
) -> Report {
    let truncated = findings.errors + findings.warnings > findings.kept.len() as u64;
    Report {
        valid: findings.errors == 0,
        archive: archive.to_owned(),
        digest,
        data_checked: true,
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
