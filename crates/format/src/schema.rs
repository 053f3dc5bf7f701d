//! The JSON Schemas of `manifest.json`, `site.json` and a database archive's
//! `site/db/schema.json`: generated from the Rust types,
//! committed inside the crate (`crates/format/schema/`, linked from the top-level `schema/`
//! directory), and embedded here for validation.

use std::fmt;
use std::sync::LazyLock;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::database::DatabaseSchema;
use crate::{FormatError, Manifest, SiteConfig};

/// `schema/manifest.schema.json`, as committed.
pub const MANIFEST_SCHEMA: &str = include_str!("../schema/manifest.schema.json");
/// `schema/site.schema.json`, as committed.
pub const SITE_SCHEMA: &str = include_str!("../schema/site.schema.json");
/// `schema/database.schema.json` (of `site/db/schema.json`), as committed.
pub const DATABASE_SCHEMA: &str = include_str!("../schema/database.schema.json");

const MANIFEST_SCHEMA_ID: &str = "https://sitepack.dev/schema/v1/manifest.schema.json";
const SITE_SCHEMA_ID: &str = "https://sitepack.dev/schema/v1/site.schema.json";
const DATABASE_SCHEMA_ID: &str = "https://sitepack.dev/schema/v1/database.schema.json";

/// One place where a document breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaViolation {
    /// JSON pointer to the offending value (empty for the whole document).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "at {at}: {}", self.message)
    }
}

/// The manifest schema as the Rust types describe it (what `cargo xtask schema` writes).
#[must_use]
pub fn generated_manifest_schema() -> Value {
    generated_schema::<Manifest>(MANIFEST_SCHEMA_ID)
}

/// The `site.json` schema as the Rust types describe it.
#[must_use]
pub fn generated_site_schema() -> Value {
    generated_schema::<SiteConfig>(SITE_SCHEMA_ID)
}

/// The schema of a database archive's `site/db/schema.json` as the Rust types describe it.
#[must_use]
pub fn generated_database_schema() -> Value {
    generated_schema::<DatabaseSchema>(DATABASE_SCHEMA_ID)
}

/// The JSON Schema (2020-12) of `T` with `$schema` and `$id` first: how every
/// committed `schema/*.schema.json` is generated.
#[must_use]
pub fn generated_schema<T: schemars::JsonSchema>(id: &str) -> Value {
    let mut schema = schemars::schema_for!(T).to_value();
    if let Value::Object(map) = &mut schema {
        // `$schema` first, then `$id`, then the rest, as a reader expects to meet them.
        let rest = std::mem::take(map);
        map.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        map.insert("$id".into(), id.into());
        map.extend(rest.into_iter().filter(|(k, _)| k != "$schema"));
    }
    schema
}

type Validator = Result<jsonschema::Validator, String>;

fn compile(text: &str) -> Validator {
    let schema: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| e.to_string())
}

static MANIFEST_VALIDATOR: LazyLock<Validator> = LazyLock::new(|| compile(MANIFEST_SCHEMA));
/// The items of the manifest's long arrays, validated one at a time.
static ENTRY_VALIDATOR: LazyLock<Validator> =
    LazyLock::new(|| compile_definition(MANIFEST_SCHEMA, "Entry"));
static REDACTION_VALIDATOR: LazyLock<Validator> =
    LazyLock::new(|| compile_definition(MANIFEST_SCHEMA, "Redaction"));

/// A schema for one of `text`'s `$defs`: the same definitions, referenced from the root.
fn compile_definition(text: &str, name: &str) -> Validator {
    let schema: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let definition = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": schema.get("$defs").cloned().unwrap_or_default(),
        "$ref": format!("#/$defs/{name}"),
    });
    compile(&definition.to_string())
}
static SITE_VALIDATOR: LazyLock<Validator> = LazyLock::new(|| compile(SITE_SCHEMA));
static DATABASE_VALIDATOR: LazyLock<Validator> = LazyLock::new(|| compile(DATABASE_SCHEMA));

fn violations(validator: &Validator, document: &Value) -> Vec<SchemaViolation> {
    violations_at(validator, document, "")
}

/// Violations of `document`, which sits at `prefix` (a JSON pointer) in its file.
fn violations_at(validator: &Validator, document: &Value, prefix: &str) -> Vec<SchemaViolation> {
    match validator {
        Ok(validator) => validator
            .iter_errors(document)
            .map(|error| SchemaViolation {
                pointer: format!("{prefix}{}", error.instance_path()),
                message: error.to_string(),
            })
            .collect(),
        // The embedded schema is checked by this crate's tests; if it were ever broken,
        // nothing could be called valid.
        Err(message) => vec![SchemaViolation {
            pointer: String::new(),
            message: format!("the embedded schema does not compile: {message}"),
        }],
    }
}

/// Checks a manifest against `schema/manifest.schema.json` with `format` assertions on,
/// returning every violation (none: valid).
#[must_use]
pub fn validate_manifest(manifest: &Value) -> Vec<SchemaViolation> {
    violations(&MANIFEST_VALIDATOR, manifest)
}

/// Checks `manifest.json` bytes against `schema/manifest.schema.json`, like
/// [`validate_manifest`], without holding the whole document as a JSON tree: the items of
/// `entries` and `redactions` are parsed and checked one at a time. Fails only when the
/// bytes are not JSON.
pub fn validate_manifest_bytes(bytes: &[u8]) -> Result<Vec<SchemaViolation>, serde_json::Error> {
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        // Not an object: small, and wrong whatever it is.
        return Ok(validate_manifest(&serde_json::from_slice(bytes)?));
    }
    let mut found = Vec::new();
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let top = TopLevel { found: &mut found }.deserialize(&mut json)?;
    json.end()?;
    // The long arrays were checked item by item and stand here as `[]`.
    let mut whole = violations(&MANIFEST_VALIDATOR, &top);
    whole.append(&mut found);
    Ok(whole)
}

/// The scalar visits of a visitor that builds a [`Value`]: each scalar as itself.
macro_rules! scalars_as_values {
    () => {
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
    };
}

/// The manifest's top level as a JSON value, with `entries` and `redactions` checked
/// while they stream past (their violations go to `found`) and kept as `[]`.
struct TopLevel<'a> {
    found: &'a mut Vec<SchemaViolation>,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut top = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let validator = match key.as_str() {
                "entries" => Some(&ENTRY_VALIDATOR),
                "redactions" => Some(&REDACTION_VALIDATOR),
                _ => None,
            };
            let value = match validator {
                Some(validator) => map.next_value_seed(Items {
                    validator,
                    prefix: format!("/{key}"),
                    found: self.found,
                })?,
                None => map.next_value::<Value>()?,
            };
            top.insert(key, value);
        }
        Ok(Value::Object(top))
    }

    // Anything but an object is kept whole; the schema reports it.
    scalars_as_values!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
}

/// An array whose items are checked one by one; anything else is kept whole.
struct Items<'a> {
    validator: &'static LazyLock<Validator>,
    prefix: String,
    found: &'a mut Vec<SchemaViolation>,
}

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut index = 0usize;
        while let Some(item) = seq.next_element::<Value>()? {
            let at = format!("{}/{index}", self.prefix);
            self.found.extend(violations_at(self.validator, &item, &at));
            index += 1;
        }
        Ok(Value::Array(Vec::new()))
    }

    // Not an array: something of the same type stands in, so that the top-level check
    // reports the wrong type.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Object(serde_json::Map::new()))
    }
    scalars_as_values!();
}

/// Checks a database archive's `site/db/schema.json` against
/// `schema/database.schema.json` with `format` assertions on, returning every violation
/// (none: valid). [`DatabaseSchema::problems`] checks what a JSON Schema cannot.
#[must_use]
pub fn validate_database_schema(document: &Value) -> Vec<SchemaViolation> {
    violations(&DATABASE_VALIDATOR, document)
}

/// Checks `site.json` against `schema/site.schema.json` and reads it.
pub fn validate_site_config(document: &Value) -> Result<SiteConfig, FormatError> {
    let found = violations(&SITE_VALIDATOR, document);
    if !found.is_empty() {
        return Err(FormatError::SchemaViolations {
            document: "site.json".into(),
            schema: "schema/site.schema.json",
            violations: found,
        });
    }
    serde_json::from_value(document.clone()).map_err(|source| FormatError::ManifestJson { source })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifest::tests::sample;

    fn pretty(value: &Value) -> String {
        serde_json::to_string_pretty(value).unwrap() + "\n"
    }

    /// If this fails, the Rust types changed: run `cargo xtask schema` and review the diff.
    #[test]
    fn committed_schemas_match_the_types() {
        assert_eq!(
            MANIFEST_SCHEMA,
            pretty(&generated_manifest_schema()),
            "run `cargo xtask schema`"
        );
        assert_eq!(
            SITE_SCHEMA,
            pretty(&generated_site_schema()),
            "run `cargo xtask schema`"
        );
        assert_eq!(
            DATABASE_SCHEMA,
            pretty(&generated_database_schema()),
            "run `cargo xtask schema`"
        );
    }

    #[test]
    fn streamed_validation_finds_what_whole_validation_finds() {
        let good = crate::manifest::tests::sample();
        let mut cases = vec![serde_json::to_value(&good).unwrap()];
        for (pointer, bad) in [
            ("/entries/0/sha256", json!("ABC")),
            ("/entries/0/area", json!("nowhere")),
            ("/entries", json!({"not": "an array"})),
            ("/redactions", json!(7)),
            ("/created_at", json!("yesterday")),
            ("/site/url", json!("not a uri")),
        ] {
            let mut value = serde_json::to_value(&good).unwrap();
            *value.pointer_mut(pointer).unwrap() = bad;
            cases.push(value);
        }
        cases.push(json!([1, 2]));
        for (index, case) in cases.into_iter().enumerate() {
            let mut whole = validate_manifest(&case);
            assert_eq!(whole.is_empty(), index == 0, "{case}");
            let mut streamed = validate_manifest_bytes(case.to_string().as_bytes()).unwrap();
            let key = |v: &SchemaViolation| (v.pointer.clone(), v.message.clone());
            whole.sort_by_key(key);
            streamed.sort_by_key(key);
            assert_eq!(
                whole.iter().map(|v| &v.pointer).collect::<Vec<_>>(),
                streamed.iter().map(|v| &v.pointer).collect::<Vec<_>>(),
                "{case}"
            );
        }
        assert!(validate_manifest_bytes(b"{\"a\": ").is_err());
    }

    #[test]
    fn schemas_compile() {
        assert!(
            MANIFEST_VALIDATOR.is_ok(),
            "{:?}",
            MANIFEST_VALIDATOR.as_ref().err()
        );
        assert!(
            SITE_VALIDATOR.is_ok(),
            "{:?}",
            SITE_VALIDATOR.as_ref().err()
        );
        assert!(
            DATABASE_VALIDATOR.is_ok(),
            "{:?}",
            DATABASE_VALIDATOR.as_ref().err()
        );
    }

    #[test]
    fn database_schemas_are_checked_with_pointers() {
        let good = serde_json::to_value(crate::database::tests_schema()).unwrap();
        assert_eq!(validate_database_schema(&good), []);
        let cases: Vec<Breakage> = vec![
            (
                "unknown engine",
                |s| s["engine"] = "mysql".into(),
                "/engine",
            ),
            (
                "unknown column type",
                |s| s["tables"][0]["columns"][0]["type"] = "money".into(),
                "/tables/0/columns/0/type",
            ),
            (
                "unknown role",
                |s| s["tables"][1]["role"] = "owner".into(),
                "/tables/1/role",
            ),
            (
                "negative rows",
                |s| s["tables"][1]["rows"] = (-1).into(),
                "/tables/1/rows",
            ),
            (
                "unknown skip reason",
                |s| s["skipped"][0]["reason"] = "forgotten".into(),
                "/skipped/0/reason",
            ),
            (
                "tenant value of another type",
                |s| s["tenant"]["value"] = true.into(),
                "/tenant/value",
            ),
            (
                "missing columns",
                |s| {
                    s["tables"][0].as_object_mut().unwrap().remove("columns");
                },
                "/tables/0",
            ),
        ];
        for (what, mutate, pointer) in cases {
            let mut schema = good.clone();
            mutate(&mut schema);
            let found = validate_database_schema(&schema);
            assert!(
                found.iter().any(|v| v.pointer == pointer),
                "{what}: {found:?}"
            );
        }
    }

    #[test]
    fn accepts_a_generated_manifest() {
        let value = serde_json::to_value(sample()).unwrap();
        assert_eq!(validate_manifest(&value), []);
        let mut full = value.clone();
        full["scope"] = json!({"kind": "full"});
        full["label"] = Value::Null;
        full.as_object_mut().unwrap().remove("label");
        assert_eq!(validate_manifest(&full), []);
    }

    /// A way to break a manifest: what it breaks, how, and the pointer it is reported at.
    type Breakage = (&'static str, fn(&mut Value), &'static str);

    #[test]
    fn rejects_broken_manifests() {
        let good = serde_json::to_value(sample()).unwrap();
        let cases: Vec<Breakage> = vec![
            (
                "missing field",
                |m| {
                    m.as_object_mut().unwrap().remove("site");
                },
                "",
            ),
            (
                "missing entry field",
                |m| {
                    m["entries"][0].as_object_mut().unwrap().remove("sha256");
                },
                "/entries/0",
            ),
            (
                "bad digest",
                |m| m["entries"][0]["sha256"] = "ABC".into(),
                "/entries/0/sha256",
            ),
            (
                "uppercase digest",
                |m| m["entries"][0]["sha256"] = "A".repeat(64).into(),
                "/entries/0/sha256",
            ),
            (
                "bad created_at",
                |m| m["created_at"] = "2026-02-30T00:00:00Z".into(),
                "/created_at",
            ),
            (
                "created_at not a date",
                |m| m["created_at"] = "last tuesday".into(),
                "/created_at",
            ),
            (
                "created_at with offset",
                |m| m["created_at"] = "2026-11-22T08:30:00+02:00".into(),
                "/created_at",
            ),
            (
                "unknown scope kind",
                |m| m["scope"] = json!({"kind": "group", "name": "x"}),
                "/scope",
            ),
            (
                "scope without name",
                |m| m["scope"] = json!({"kind": "tab"}),
                "/scope",
            ),
            ("wrong format", |m| m["format"] = "zip".into(), "/format"),
            (
                "bad version",
                |m| m["format_version"] = "one".into(),
                "/format_version",
            ),
            (
                "bad site id",
                |m| m["site"]["id"] = "Acme Shop".into(),
                "/site/id",
            ),
            (
                "bad url",
                |m| m["site"]["url"] = "not a url".into(),
                "/site/url",
            ),
            (
                "negative size",
                |m| m["entries"][0]["size"] = (-1).into(),
                "/entries/0/size",
            ),
            (
                "traversal path",
                |m| m["entries"][0]["path"] = "site/../x".into(),
                "",
            ),
            (
                "entry outside site/",
                |m| m["entries"][0]["path"] = "manifest.json".into(),
                "/entries/0/path",
            ),
            (
                "unknown area",
                |m| m["entries"][0]["area"] = "secrets".into(),
                "/entries/0/area",
            ),
        ];
        for (what, mutate, pointer) in cases {
            let mut manifest = good.clone();
            mutate(&mut manifest);
            let found = validate_manifest(&manifest);
            assert!(!found.is_empty(), "{what}: accepted");
            assert!(
                found.iter().any(|v| v.pointer.starts_with(pointer)),
                "{what}: {found:?}"
            );
        }
    }

    #[test]
    fn reports_every_violation() {
        let mut manifest = serde_json::to_value(sample()).unwrap();
        manifest["created_at"] = "soon".into();
        manifest["entries"][0]["sha256"] = "x".into();
        manifest.as_object_mut().unwrap().remove("stats");
        assert!(validate_manifest(&manifest).len() >= 3);
    }

    #[test]
    fn site_config_is_checked() {
        let ok = json!({"id": "acme", "name": "Acme", "url": "https://acme.example", "theme": "dark",
                        "secrets": {"keys": ["license_key"], "pointers": ["settings/general.json#/smtp/relay"]}});
        let config = validate_site_config(&ok).unwrap();
        assert_eq!(config.owner_field(), "user_id");
        for bad in [
            json!({"name": "Acme", "url": "https://acme.example"}),
            json!({"id": "Acme!", "name": "Acme", "url": "https://acme.example"}),
            json!({"id": "acme", "name": "Acme", "url": "ftp://acme.example"}),
            json!({"id": "acme", "name": "Acme", "url": "https://acme.example", "secrets": {"pointers": ["nohash"]}}),
            json!({"id": "acme", "name": "Acme", "url": "https://acme.example", "secrets": {"kees": []}}),
            json!(["not", "an", "object"]),
        ] {
            let err = validate_site_config(&bad).unwrap_err();
            assert!(
                matches!(err, FormatError::SchemaViolations { .. }),
                "{bad}: {err}"
            );
        }
    }
}
