//! `manifest.json`, format v1.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{ArchivePath, FormatError, Name, Sha256, SiteId};

/// The value of `format`.
pub const FORMAT_NAME: &str = "sitepack";
/// The format version this build writes.
pub const FORMAT_VERSION: FormatVersion = FormatVersion { major: 1, minor: 0 };

/// The manifest of a sitepack archive (`manifest.json`).
///
/// Unknown fields are ignored when reading (they come from a newer minor version);
/// [`Manifest::from_json`] reports them as warnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "sitepack manifest",
    description = "manifest.json of a sitepack archive, format 1.x (docs/FORMAT.md)"
)]
pub struct Manifest {
    /// Always `sitepack`.
    #[schemars(extend("const" = "sitepack"))]
    pub format: String,
    /// `MAJOR.MINOR`; readers accept their own major version and refuse others.
    pub format_version: FormatVersion,
    /// When the archive was made (RFC 3339, UTC).
    pub created_at: Timestamp,
    /// The program that wrote the archive.
    pub generator: Generator,
    /// A free-text label given by the person who made the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The source site's identity.
    pub site: SiteIdentity,
    /// Which part of the site the archive holds.
    pub scope: Scope,
    /// Options that changed what was selected.
    pub options: Options,
    /// Every payload entry, in archive order.
    pub entries: Vec<Entry>,
    /// Every secret value removed at write time.
    pub redactions: Vec<Redaction>,
    /// Counts of what the archive holds.
    pub stats: Stats,
}

/// `format_version`: `MAJOR.MINOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FormatVersion {
    /// Incompatible changes bump this.
    pub major: u32,
    /// Compatible additions bump this.
    pub minor: u32,
}

impl fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for FormatVersion {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FormatError::InvalidFormatVersion {
            version: s.escape_debug().to_string(),
        };
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        let number = |part: &str| {
            let canonical = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            if canonical {
                part.parse::<u32>().ok()
            } else {
                None
            }
        };
        Ok(Self {
            major: number(major).ok_or_else(bad)?,
            minor: number(minor).ok_or_else(bad)?,
        })
    }
}

impl TryFrom<String> for FormatVersion {
    type Error = FormatError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<FormatVersion> for String {
    fn from(value: FormatVersion) -> Self {
        value.to_string()
    }
}

impl JsonSchema for FormatVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FormatVersion".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "MAJOR.MINOR without leading zeros; this specification is 1.0.",
            "type": "string",
            "pattern": "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$"
        })
    }
}

/// A point in time, in UTC, written as RFC 3339 with a `Z` suffix and whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time, truncated to whole seconds.
    #[must_use]
    pub fn now() -> Self {
        Self::from_unix_seconds(OffsetDateTime::now_utc().unix_timestamp())
            .unwrap_or(Self(OffsetDateTime::UNIX_EPOCH))
    }

    /// A time given in seconds since the Unix epoch (as `SOURCE_DATE_EPOCH` gives it).
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, FormatError> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .map(Self)
            .map_err(|_| FormatError::InvalidTimestamp {
                value: seconds.to_string(),
            })
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The time written compactly for names: `yyyymmddThhmmssZ`.
    #[must_use]
    pub fn compact(&self) -> String {
        let t = self.0;
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// The time as a `time` value, in UTC.
    #[must_use]
    pub fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl FromStr for Timestamp {
    type Err = FormatError;

    /// Accepts RFC 3339 with a `Z` suffix; fractional seconds are dropped.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FormatError::InvalidTimestamp {
            value: s.escape_debug().to_string(),
        };
        if !s.ends_with('Z') || s.as_bytes().get(10) != Some(&b'T') {
            return Err(bad());
        }
        let parsed = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?;
        if !(0..=9999).contains(&parsed.year()) {
            return Err(bad());
        }
        parsed.replace_nanosecond(0).map(Self).map_err(|_| bad())
    }
}

impl TryFrom<String> for Timestamp {
    type Error = FormatError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Timestamp> for String {
    fn from(value: Timestamp) -> Self {
        value.to_string()
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "RFC 3339 date-time in UTC, with the `Z` suffix.",
            "type": "string",
            "format": "date-time",
            "pattern": "Z$"
        })
    }
}

/// The program that wrote an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Generator {
    /// Program name, e.g. `sitepack`.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Program version, e.g. `0.1.0`.
    #[schemars(length(min = 1))]
    pub version: String,
}

/// The identity of the site an archive was made from (a copy of `site.json`'s fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SiteIdentity {
    /// The site id.
    pub id: SiteId,
    /// Human-readable name.
    pub name: String,
    /// The site's base URL.
    #[schemars(url)]
    pub url: String,
}

/// Which part of a site an archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Scope {
    /// Everything but `.sitepack/`.
    Full,
    /// One settings tab: `settings/NAME.json`.
    Tab(Name),
    /// One module: `modules/NAME/**`.
    Module(Name),
    /// One user: card, owned records, own files.
    User(Name),
    /// One table of a database site and the reference rows it needs (format 1.1).
    Table(Name),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("full"),
            Self::Tab(name) => write!(f, "tab:{name}"),
            Self::Module(name) => write!(f, "module:{name}"),
            Self::User(id) => write!(f, "user:{id}"),
            Self::Table(name) => write!(f, "table:{name}"),
        }
    }
}

impl FromStr for Scope {
    type Err = FormatError;

    /// `full`, `tab:NAME`, `module:NAME`, `user:ID` or `table:NAME`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || FormatError::InvalidScope {
            scope: s.escape_debug().to_string(),
        };
        if s == "full" {
            return Ok(Self::Full);
        }
        let (kind, name) = s.split_once(':').ok_or_else(bad)?;
        let name: Name = name.parse()?;
        match kind {
            "tab" => Ok(Self::Tab(name)),
            "module" => Ok(Self::Module(name)),
            "user" => Ok(Self::User(name)),
            "table" => Ok(Self::Table(name)),
            _ => Err(bad()),
        }
    }
}

/// Options that changed what an archive holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Options {
    /// `false` for a data-only archive: no `files/**`, no non-JSON module files.
    pub files: bool,
}

/// The area of the site layout an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AreaKind {
    /// `site.json`.
    Site,
    /// `settings/<tab>.json`.
    Tab,
    /// `users/<id>.json`.
    User,
    /// `modules/<module>/**`.
    Module,
    /// `files/**` except users' own files.
    Files,
    /// `files/users/<id>/**`.
    UserFiles,
    /// Anything else.
    Other,
}

/// One payload entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    /// Archive path, always below `site/`.
    #[schemars(extend("pattern" = "^site/"))]
    pub path: ArchivePath,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// SHA-256 of the uncompressed bytes.
    pub sha256: Sha256,
    /// Layout area of the site-relative path.
    pub area: AreaKind,
    /// For JSON Lines collections: the number of records (non-empty lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
}

/// A secret value removed at write time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Redaction {
    /// The archive path of the entry it was removed from.
    #[schemars(extend("pattern" = "^site/"))]
    pub path: ArchivePath,
    /// RFC 6901 JSON pointer to the removed value: within the document, or within the
    /// record for a JSON Lines collection.
    #[schemars(regex(pattern = r"^(/([^~]|~[01])*)*$"))]
    pub pointer: String,
    /// For a JSON Lines collection: the `id` of the record the value was removed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RecordIdSchema>")]
    pub record: Option<serde_json::Value>,
}

/// Record ids are strings or integers.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum RecordIdSchema {
    Text(String),
    Number(i64),
}

/// What an archive holds, counted per area.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    /// Payload entries.
    pub entries: u64,
    /// Payload bytes, uncompressed.
    pub bytes: u64,
    /// Settings tabs.
    pub tabs: u64,
    /// User cards.
    pub users: u64,
    /// Modules with at least one entry.
    pub modules: u64,
    /// JSON Lines collections.
    pub collections: u64,
    /// Records in all collections.
    pub records: u64,
    /// Module documents (`.json`).
    pub documents: u64,
    /// Other module files.
    pub module_files: u64,
    /// Entries in `files/**` (users' own files included).
    pub files: u64,
    /// Entries in the `other` area.
    pub other: u64,
    /// Redacted secret values.
    pub redactions: u64,
}

/// A manifest read by [`Manifest::from_json`], with what it did not understand.
#[derive(Debug, Clone)]
pub struct ParsedManifest {
    /// The manifest.
    pub manifest: Manifest,
    /// JSON paths of fields this version does not know (from a newer minor version),
    /// ignored.
    pub unknown_fields: Vec<String>,
}

impl Manifest {
    /// Reads `manifest.json`, applying the versioning rules: the same major version is
    /// read (unknown fields are ignored and listed), another major version is refused.
    pub fn from_json(bytes: &[u8]) -> Result<ParsedManifest, FormatError> {
        // Only the two fields that decide how to read the rest, first: a manifest with
        // many entries is then read once, straight into the types (no JSON tree).
        #[derive(Deserialize)]
        struct Header {
            format: Option<serde_json::Value>,
            format_version: Option<serde_json::Value>,
        }
        let header: Header =
            serde_json::from_slice(bytes).map_err(|source| FormatError::ManifestJson { source })?;
        if let Some(format) = header.format
            && format.as_str() != Some(FORMAT_NAME)
        {
            return Err(FormatError::NotSitepack {
                found: format.to_string(),
            });
        }
        if let Some(version) = header.format_version.as_ref().and_then(|v| v.as_str()) {
            let version: FormatVersion = version.parse()?;
            if version.major != FORMAT_VERSION.major {
                return Err(FormatError::UnsupportedVersion {
                    relation: if version.major > FORMAT_VERSION.major {
                        "newer"
                    } else {
                        "older"
                    },
                    found: version.to_string(),
                    supported: FORMAT_VERSION.major,
                });
            }
        }
        let mut unknown_fields = Vec::new();
        let mut json = serde_json::Deserializer::from_slice(bytes);
        let manifest: Manifest = serde_path_to_error::deserialize(
            serde_ignored::Deserializer::new(&mut json, &mut |path: serde_ignored::Path<'_>| {
                unknown_fields.push(path.to_string());
            }),
        )
        .map_err(|e| FormatError::ManifestType {
            pointer: json_pointer(e.path()),
            message: e.inner().to_string(),
        })?;
        json.end()
            .map_err(|source| FormatError::ManifestJson { source })?;
        if manifest.format != FORMAT_NAME {
            return Err(FormatError::NotSitepack {
                found: manifest.format,
            });
        }
        Ok(ParsedManifest {
            manifest,
            unknown_fields,
        })
    }

    /// The manifest as pretty-printed JSON with a final newline (the bytes a writer stores).
    pub fn to_json(&self) -> Result<Vec<u8>, FormatError> {
        let mut bytes = Vec::new();
        self.write_json(&mut bytes)
            .map_err(|e| FormatError::ManifestJson {
                source: serde_json::Error::io(e),
            })?;
        Ok(bytes)
    }

    /// Streams the bytes of [`Manifest::to_json`] into `out`, without building them in memory.
    pub fn write_json(&self, mut out: &mut dyn std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")
    }
}

/// A serde path (`entries[0].size`) as an RFC 6901 pointer (`/entries/0/size`).
fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", crate::escape_pointer_token(key))),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Manifest {
        Manifest {
            format: FORMAT_NAME.to_owned(),
            format_version: FORMAT_VERSION,
            created_at: "2026-11-22T08:30:00Z".parse().unwrap(),
            generator: Generator {
                name: "sitepack".into(),
                version: "0.1.0".into(),
            },
            label: Some("before the migration".into()),
            site: SiteIdentity {
                id: "acme-shop".parse().unwrap(),
                name: "Acme Outdoor Supply".into(),
                url: "https://shop.acme.example".into(),
            },
            scope: Scope::User("u-7".parse().unwrap()),
            options: Options { files: true },
            entries: vec![Entry {
                path: "site/modules/crm/contacts.jsonl".parse().unwrap(),
                size: 120,
                sha256: crate::Sha256::of(b"x"),
                area: AreaKind::Module,
                records: Some(2),
            }],
            redactions: vec![Redaction {
                path: "site/modules/crm/contacts.jsonl".parse().unwrap(),
                pointer: "/api_key".into(),
                record: Some(serde_json::json!("c-001")),
            }],
            stats: Stats {
                entries: 1,
                bytes: 120,
                collections: 1,
                records: 2,
                modules: 1,
                redactions: 1,
                ..Stats::default()
            },
        }
    }

    #[test]
    fn round_trips_through_json() {
        let manifest = sample();
        let bytes = manifest.to_json().unwrap();
        let parsed = Manifest::from_json(&bytes).unwrap();
        assert_eq!(parsed.manifest, manifest);
        assert!(parsed.unknown_fields.is_empty());
        assert_eq!(parsed.manifest.to_json().unwrap(), bytes);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(r#""scope": {"#) && text.contains(r#""kind": "user""#));
        assert!(text.contains(r#""area": "module""#));
    }

    #[test]
    fn newer_minor_is_read_and_unknown_fields_are_listed() {
        let mut value = serde_json::to_value(sample()).unwrap();
        value["format_version"] = "1.7".into();
        value["signature"] = "abc".into();
        value["entries"][0]["mode"] = 420.into();
        let parsed = Manifest::from_json(value.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.manifest.format_version.minor, 7);
        assert_eq!(parsed.unknown_fields, ["entries.0.mode", "signature"]);
    }

    #[test]
    fn other_majors_are_refused_with_direction() {
        for (version, relation) in [("2.0", "newer"), ("0.9", "older")] {
            let mut value = serde_json::to_value(sample()).unwrap();
            value["format_version"] = version.into();
            let err = Manifest::from_json(value.to_string().as_bytes()).unwrap_err();
            assert!(
                matches!(&err, FormatError::UnsupportedVersion { relation: r, .. } if *r == relation),
                "{err}"
            );
            assert!(
                err.to_string()
                    .contains(&format!("made by a {relation} sitepack"))
            );
        }
    }

    #[test]
    fn type_rule_violations_name_their_pointer() {
        let mut value = serde_json::to_value(sample()).unwrap();
        value["entries"][0]["size"] = serde_json::from_str("18446744073709551616").unwrap();
        let err = Manifest::from_json(value.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(&err, FormatError::ManifestType { pointer, .. } if pointer == "/entries/0/size"),
            "{err}"
        );
        let mut value = serde_json::to_value(sample()).unwrap();
        value["entries"][0]["path"] = "site/con.txt".into();
        let err = Manifest::from_json(value.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(&err, FormatError::ManifestType { pointer, .. } if pointer == "/entries/0/path"),
            "{err}"
        );
    }

    #[test]
    fn not_a_sitepack_manifest() {
        let mut value = serde_json::to_value(sample()).unwrap();
        value["format"] = "bagit".into();
        let err = Manifest::from_json(value.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, FormatError::NotSitepack { .. }));
        assert!(matches!(
            Manifest::from_json(b"{not json").unwrap_err(),
            FormatError::ManifestJson { .. }
        ));
    }

    #[test]
    fn scopes_parse_and_print() {
        for text in ["full", "tab:general", "module:crm", "user:u-7"] {
            assert_eq!(text.parse::<Scope>().unwrap().to_string(), text);
        }
        for bad in [
            "",
            "all",
            "tab",
            "tab:",
            "group:x",
            "user:U7",
            "module:../x",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&Scope::Full).unwrap(),
            r#"{"kind":"full"}"#
        );
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        let t: Timestamp = "2026-11-22T08:30:00.75Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-22T08:30:00Z");
        assert_eq!(
            Timestamp::from_unix_seconds(0).unwrap().to_string(),
            "1970-01-01T00:00:00Z"
        );
        for bad in [
            "2026-11-22T08:30:00+01:00",
            "2026-11-22 08:30:00Z",
            "2026-13-01T00:00:00Z",
            "yesterday",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn format_versions_are_canonical() {
        assert_eq!("1.0".parse::<FormatVersion>().unwrap(), FORMAT_VERSION);
        for bad in ["1", "1.", "01.0", "1.0.0", "v1.0", "1.-1", ""] {
            assert!(bad.parse::<FormatVersion>().is_err(), "{bad}");
        }
    }
}
