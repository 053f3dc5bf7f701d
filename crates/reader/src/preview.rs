//! `preview`: what a person needs to know before restoring an archive.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use sitepack_format::database::{
    DatabaseSchema, EngineKind, SkipReason, TableRole, Tenant, TenantValue,
};
use sitepack_format::{
    Area, Generator, Manifest, ModuleItem, NoProgress, Options, PAYLOAD_DIR, Progress, Redaction,
    Scope, Sha256, SiteIdentity, Timestamp, classify,
};

use crate::validate::Catalog;
use crate::{Archive, Finding, Limits, ReaderError, Report};

/// An archive's identity, contents and verdict.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Preview {
    /// The archive as the caller named it.
    pub archive: String,
    /// SHA-256 of the whole archive file.
    pub digest: Sha256,
    /// The validation verdict.
    pub valid: bool,
    /// Whether every entry's data was checked (`false`: only the metadata was read, e.g.
    /// a stored backup previewed by byte ranges; `sitepack validate` checks the rest).
    pub data_checked: bool,
    /// The validation findings.
    pub findings: Vec<Finding>,
    /// What the manifest says, when it could be read.
    pub manifest: Option<ManifestPreview>,
    /// A database archive's tables (format 1.1), when its `site/db/schema.json` is valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabasePreview>,
}

/// What a database archive holds: `site/db/schema.json` summarized.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DatabasePreview {
    /// The engine the rows were read from.
    pub engine: EngineKind,
    /// Its version.
    pub engine_version: String,
    /// The tenant column and value.
    pub tenant: Tenant,
    /// The tables in the archive, parents first.
    pub tables: Vec<TablePreview>,
    /// The tables of the database that are not in the archive.
    pub skipped: Vec<SkippedPreview>,
}

/// One table of a database archive.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TablePreview {
    /// The table.
    pub name: String,
    /// Why its rows are the tenant's.
    pub role: TableRole,
    /// Its rows in the archive.
    pub rows: u64,
}

/// A table left out of a database archive.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SkippedPreview {
    /// The table.
    pub table: String,
    /// Why.
    pub reason: SkipReason,
    /// The reason, for people.
    pub explanation: String,
}

impl DatabasePreview {
    fn new(schema: &DatabaseSchema) -> Self {
        Self {
            engine: schema.engine,
            engine_version: schema.engine_version.clone(),
            tenant: schema.tenant.clone(),
            tables: schema
                .tables
                .iter()
                .map(|t| TablePreview {
                    name: t.name.clone(),
                    role: t.role,
                    rows: t.rows,
                })
                .collect(),
            skipped: schema
                .skipped
                .iter()
                .map(|s| SkippedPreview {
                    table: s.table.clone(),
                    reason: s.reason,
                    explanation: s.reason.explanation().to_owned(),
                })
                .collect(),
        }
    }

    /// The tenant as people read it: `tenant_id = 7`.
    #[must_use]
    pub fn tenant_text(&self) -> String {
        let value = match &self.tenant.value {
            TenantValue::Integer(n) => n.to_string(),
            TenantValue::Text(text) => format!("{text:?}"),
        };
        format!("{} = {value}", self.tenant.column)
    }
}

/// What the manifest says, summarized.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ManifestPreview {
    /// The source site.
    pub site: SiteIdentity,
    /// When the archive was made.
    pub created_at: Timestamp,
    /// Which program made it.
    pub generator: Generator,
    /// The label given when it was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Which part of the site it holds.
    pub scope: Scope,
    /// Whether files are included.
    pub options: Options,
    /// How much of each area it holds.
    pub counts: Counts,
    /// Secrets that were removed and must be re-entered after a restore.
    pub redactions: Vec<Redaction>,
}

/// Counts per area.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Counts {
    /// Payload entries.
    pub entries: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Settings tabs.
    pub tabs: u64,
    /// User cards.
    pub users: u64,
    /// Each module's collections, documents and files.
    pub modules: Vec<ModuleCounts>,
    /// Files (`files/**`, users' own files included).
    pub files: u64,
    /// Bytes of those files.
    pub file_bytes: u64,
    /// Entries in no other area.
    pub other: u64,
}

/// One module's contents.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ModuleCounts {
    /// The module.
    pub name: String,
    /// Its collections and their records.
    pub collections: Vec<CollectionCount>,
    /// Its JSON documents.
    pub documents: u64,
    /// Its other files.
    pub files: u64,
}

/// One collection.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CollectionCount {
    /// The collection (file stem).
    pub name: String,
    /// Its records.
    pub records: u64,
}

impl Archive {
    /// Validates the archive (default limits) and summarizes it.
    pub fn preview(&self) -> Result<Preview, ReaderError> {
        self.preview_with_progress(&NoProgress)
    }

    /// [`preview`](Self::preview), reporting each verified entry to `progress`.
    pub fn preview_with_progress(&self, progress: &dyn Progress) -> Result<Preview, ReaderError> {
        let (report, catalog) = self.check(&Limits::default(), progress)?;
        Ok(Preview::new(report, catalog.as_ref()))
    }
}

impl Preview {
    pub(crate) fn new(report: Report, catalog: Option<&Catalog>) -> Self {
        let manifest = catalog.and_then(|c| c.manifest.as_ref()).map(summarize);
        let database = catalog
            .and_then(|c| c.database.as_ref())
            .map(DatabasePreview::new);
        Self {
            archive: report.archive,
            digest: report.digest,
            valid: report.valid,
            data_checked: report.data_checked,
            findings: report.findings,
            manifest,
            database,
        }
    }
}

fn summarize(manifest: &Manifest) -> ManifestPreview {
    let mut counts = Counts::default();
    let mut modules: BTreeMap<String, ModuleCounts> = BTreeMap::new();
    for entry in &manifest.entries {
        counts.entries += 1;
        counts.bytes += entry.size;
        match entry
            .path
            .strip_prefix(PAYLOAD_DIR)
            .as_ref()
            .and_then(classify)
        {
            Some(Area::Tab(_)) => counts.tabs += 1,
            Some(Area::User(_)) => counts.users += 1,
            Some(Area::Files | Area::UserFiles(_)) => {
                counts.files += 1;
                counts.file_bytes += entry.size;
            }
            Some(Area::Module { module, item }) => {
                let counts = modules
                    .entry(module.to_string())
                    .or_insert_with(|| ModuleCounts {
                        name: module.to_string(),
                        ..ModuleCounts::default()
                    });
                match item {
                    ModuleItem::Collection => counts.collections.push(CollectionCount {
                        name: entry.path.file_name().trim_end_matches(".jsonl").to_owned(),
                        records: entry.records.unwrap_or(0),
                    }),
                    ModuleItem::Document => counts.documents += 1,
                    ModuleItem::File => counts.files += 1,
                }
            }
            Some(Area::Other) => counts.other += 1,
            Some(Area::Site) | None => {}
        }
    }
    counts.modules = modules.into_values().collect();
    ManifestPreview {
        site: manifest.site.clone(),
        created_at: manifest.created_at,
        generator: manifest.generator.clone(),
        label: manifest.label.clone(),
        scope: manifest.scope.clone(),
        options: manifest.options,
        counts,
        redactions: manifest.redactions.clone(),
    }
}
