//! The vocabulary of sitepack archive format v1, shared by every other crate.
//!
//! - [`ArchivePath`]: a relative path that can never escape the directory it is joined onto.
//! - [`Sha256`] and [`Sha256Hasher`]: digests as the manifest writes them.
//! - [`SiteId`] and [`Name`]: identifiers of sites, tabs, modules and users.
//! - [`Manifest`]: the serde types of `manifest.json`, with [`Manifest::from_json`]
//!   applying the versioning rules, and [`validate_manifest`] checking a manifest against
//!   the embedded JSON Schema.
//! - [`SiteConfig`]: `site.json`, checked by [`validate_site_config`].
//! - [`Area`], [`classify`] and [`Scope`]: the site layout and which paths a scope selects.
//! - [`ContentKind`], [`check_document`] and [`JsonLinesCheck`]: the JSON content rules,
//!   whose breaches are [`ContentProblem`]s.
//! - [`SecretPolicy`]: which JSON values are secrets, and their redaction.
//! - [`find_credentials`] and [`CredentialScanner`]: well-known credential shapes in any bytes.
//! - [`Progress`]: how long work reports how far it got.
//! - [`zip_records`]: the ZIP record signatures, flag bits and methods.
//!
//! ```
//! use sitepack_format::{classify, Area, ArchivePath, Options, Scope, Selection};
//!
//! let path: ArchivePath = "modules/crm/contacts.jsonl".parse()?;
//! let area = classify(&path).expect("not sitepack's own state");
//! let scope: Scope = "user:u-7".parse()?;
//! assert_eq!(scope.selects(&area, Options { files: true }), Selection::OwnedRecords);
//! assert!(matches!(area, Area::Module { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod beneath;
mod content;
mod credentials;
pub mod database;
mod digest;
mod error;
pub mod failpoint;
pub mod interrupt;
mod layout;
mod limits;
mod manifest;
mod name;
mod path;
mod progress;
mod schema;
mod secrets;
mod site;
mod tree;
pub mod workdir;
pub mod zip_records;

pub use beneath::{Beneath, LinkRefused, NodeKind, NodeStat};
pub use content::{
    ContentKind, ContentProblem, JsonLinesCheck, check_document, check_json, is_blank_line,
    json_error_message, parse_document, parse_site_json, record_id,
};
pub use credentials::{
    CREDENTIAL_MASK, CredentialInStream, CredentialMatch, CredentialScanner,
    DOCUMENTED_EXAMPLE_CREDENTIALS, find_credentials, mask_credentials, mask_url_user_info,
};
pub use digest::{Sha256, Sha256Hasher};
pub use error::{FormatError, error_chain};
pub use layout::{
    Area, CHECKSUMS_NAME, INTERNAL_DIR, MANIFEST_NAME, METADATA_ENTRIES, ModuleItem, PAYLOAD_DIR,
    Selection, classify,
};
pub use limits::{Limits, RATIO_FLOOR};
pub use manifest::{
    AreaKind, Entry, FORMAT_NAME, FORMAT_VERSION, FormatVersion, Generator, Manifest, Options,
    ParsedManifest, Redaction, Scope, SiteIdentity, Stats, Timestamp,
};
pub use name::{NAME_PATTERN, Name, SiteId};
pub use path::{ArchivePath, MAX_COMPONENT_BYTES, MAX_PATH_BYTES, PathRejection};
pub use progress::{NoProgress, Progress};
pub use schema::{
    DATABASE_SCHEMA, MANIFEST_SCHEMA, SITE_SCHEMA, SchemaViolation, generated_database_schema,
    generated_manifest_schema, generated_schema, generated_site_schema, validate_database_schema,
    validate_manifest, validate_manifest_bytes, validate_site_config,
};
pub use secrets::{
    RecordRedaction, RecordRules, SecretPolicy, contains_url_with_password, escape_pointer_token,
};
pub use site::{AllowedCredential, DEFAULT_OWNER_FIELD, SiteConfig, SiteSecrets};
pub use tree::{TreeConflict, first_tree_conflict};
