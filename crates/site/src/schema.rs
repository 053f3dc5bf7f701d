//! The JSON Schema of an audit log line: generated from [`AuditEvent`] by
//! `cargo xtask schema`, committed as `schema/audit-event.schema.json`.

use crate::AuditEvent;

/// `schema/audit-event.schema.json`, as committed.
pub const AUDIT_EVENT_SCHEMA: &str = include_str!("../schema/audit-event.schema.json");

const AUDIT_EVENT_SCHEMA_ID: &str = "https://sitepack.dev/schema/v1/audit-event.schema.json";

/// The audit event schema as the Rust types describe it (what `cargo xtask schema`
/// writes).
#[must_use]
pub fn generated_audit_event_schema() -> serde_json::Value {
    sitepack_format::generated_schema::<AuditEvent>(AUDIT_EVENT_SCHEMA_ID)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_audit_events;

    #[test]
    fn the_committed_schema_is_the_generated_one() {
        let committed: serde_json::Value = serde_json::from_str(AUDIT_EVENT_SCHEMA).unwrap();
        assert_eq!(
            committed,
            generated_audit_event_schema(),
            "schema/audit-event.schema.json is out of date: run `cargo xtask schema`"
        );
    }

    /// Lines as sitepack writes them, one for each operation, pass the schema; lines the
    /// reader refuses do not.
    #[test]
    fn the_schema_accepts_what_the_reader_accepts() {
        let schema: serde_json::Value = serde_json::from_str(AUDIT_EVENT_SCHEMA).unwrap();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let good = [
            r#"{"time":"2026-11-22T08:30:00Z","type":"create","actor":"ada","outcome":"ok","details":{"scope":"full","options":{"files":true},"output":"/b/s.zip","archive_sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","archive_size":12}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"restore","actor":"ada","outcome":"refused","details":{"archive":"a.zip","mode":"merge","error":"no"}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"keep","actor":"ada","outcome":"ok","details":{"restore_id":"x"}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"revert","actor":"ada","outcome":"failed","details":{"error":"disk"}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"init","actor":"ada","outcome":"ok","details":{"files":3}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"recover","actor":"ada","outcome":"ok","details":{"interrupted":"restore","paths_restored":2}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"auto","actor":"ada","outcome":"ok","details":{"created_at":"2026-11-22T08:30:00Z","pruned":[]}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"prune","actor":"ada","outcome":"ok","details":{"kept":2,"policy":{"keep_last":2}}}"#,
        ];
        for line in good {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{line}: {errors:?}");
            let log = read_audit_events(line.as_bytes(), &crate::AuditFilter::default()).unwrap();
            assert_eq!(log.events.len(), 1, "{line}: {:?}", log.bad_lines);
        }
        let bad = [
            r#"{"time":"2026-11-22T08:30:00Z","type":"delete","actor":"ada","outcome":"ok","details":{}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"create","actor":"ada","outcome":"maybe","details":{}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"create","actor":"ada","outcome":"ok","details":{"archive_size":"big"}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"auto","actor":"ada","outcome":"ok","details":{"created_at":"yesterday"}}"#,
            r#"{"time":"2026-11-22T08:30:00Z","type":"create","actor":"ada","outcome":"ok"}"#,
        ];
        for line in bad {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(!validator.is_valid(&value), "{line}");
            let log = read_audit_events(line.as_bytes(), &crate::AuditFilter::default()).unwrap();
            assert_eq!(log.bad_line_count, 1, "{line}");
        }
    }
}
