//! The JSON content rules of docs/FORMAT.md §8, shared by the writer (which refuses a
//! site that breaks them) and the reader (which reports an archive that does).

use serde_json::Value;

use crate::{ArchivePath, Area, ModuleItem};

/// How an entry's bytes are read (docs/FORMAT.md §6.1): the one rule the writer, the
/// reader and restore all apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// A `.json` file outside `files/`: one JSON value.
    Document,
    /// A module collection: JSON Lines objects with unique ids.
    Collection,
    /// Any other `.jsonl` file outside `files/`: one JSON value per non-blank line, no
    /// id rules, no `records`.
    JsonLines,
    /// Everything else: bytes.
    Bytes,
}

impl ContentKind {
    /// The kind of the site-relative `path` in `area`. Uploads (`files/**`) are bytes
    /// whatever their name: they are what a user uploaded, not the site's JSON.
    #[must_use]
    #[expect(
        clippy::case_sensitive_file_extension_comparisons,
        reason = "the layout's `.json`/`.jsonl` are lowercase by definition"
    )]
    pub fn of(path: &ArchivePath, area: &Area) -> Self {
        let name = path.file_name();
        if matches!(area, Area::Files | Area::UserFiles(_)) {
            Self::Bytes
        } else if matches!(
            area,
            Area::Module {
                item: ModuleItem::Collection,
                ..
            }
        ) {
            Self::Collection
        } else if name.ends_with(".json") {
            Self::Document
        } else if name.ends_with(".jsonl") {
            Self::JsonLines
        } else {
            Self::Bytes
        }
    }

    /// Whether the secret policy applies to the entry (documents and JSON Lines).
    #[must_use]
    pub fn is_json(self) -> bool {
        self != Self::Bytes
    }

    /// Whether the manifest states the entry's number of records (collections only).
    #[must_use]
    pub fn has_records(self) -> bool {
        self == Self::Collection
    }
}

/// A blank JSON Lines line: empty or only JSON whitespace (space, tab, `\r`; the `\n`
/// is the separator). Blank lines are not records.
#[must_use]
pub fn is_blank_line(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// A collection record's `id`: a non-empty string, or an integer in the `i64` range.
/// `None` when the record has no valid id.
#[must_use]
pub fn record_id(record: &Value) -> Option<&Value> {
    match record.get("id")? {
        id @ Value::String(s) if !s.is_empty() => Some(id),
        id @ Value::Number(n) if n.is_i64() => Some(id),
        _ => None,
    }
}

/// A JSON parser error's message without its " at line L column C" tail, for messages
/// that give the position their own way (a file's line, a record's line number).
#[must_use]
pub fn json_error_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify;

    #[test]
    fn content_kind_follows_the_area_then_the_name() {
        let table = [
            ("site.json", ContentKind::Document),
            ("settings/shop.json", ContentKind::Document),
            ("settings/notes.txt", ContentKind::Bytes),
            ("users/u-9.json", ContentKind::Document),
            ("modules/crm/leads.jsonl", ContentKind::Collection),
            ("modules/crm/setup.json", ContentKind::Document),
            ("modules/crm/Big.jsonl", ContentKind::JsonLines),
            ("modules/crm/sub/extra.json", ContentKind::Document),
            ("modules/crm/logo.svg", ContentKind::Bytes),
            ("themes/app.jsonl", ContentKind::JsonLines),
            ("themes/app.json", ContentKind::Document),
            ("themes/app.JSON", ContentKind::Bytes),
            // Uploads are bytes, whatever their name.
            ("files/exports/dump.json", ContentKind::Bytes),
            ("files/exports/log.jsonl", ContentKind::Bytes),
            ("files/users/u-9/history.jsonl", ContentKind::Bytes),
            ("files/users/u-9/prefs.json", ContentKind::Bytes),
            ("files/users/Bad Name/x.json", ContentKind::Bytes),
        ];
        for (path, want) in table {
            let path: ArchivePath = path.parse().unwrap();
            let area = classify(&path).unwrap();
            let kind = ContentKind::of(&path, &area);
            assert_eq!(kind, want, "{path}");
            assert_eq!(kind.is_json(), want != ContentKind::Bytes, "{path}");
            assert_eq!(
                kind.has_records(),
                want == ContentKind::Collection,
                "{path}"
            );
        }
    }

    #[test]
    fn blank_lines_are_json_whitespace_only() {
        for blank in ["", " ", "\t\r", "  \r"] {
            assert!(is_blank_line(blank.as_bytes()), "{blank:?}");
        }
        for not_blank in ["\x0c", "x", " {}", "\u{a0}"] {
            assert!(!is_blank_line(not_blank.as_bytes()), "{not_blank:?}");
        }
    }

    #[test]
    fn record_ids_are_non_empty_strings_or_i64_integers() {
        let id = |text: &str| record_id(&serde_json::from_str(text).unwrap()).cloned();
        assert_eq!(id(r#"{"id":"a"}"#), Some(Value::from("a")));
        assert_eq!(id(r#"{"id":-7}"#), Some(Value::from(-7)));
        assert!(id(r#"{"id":9223372036854775807}"#).is_some());
        for bad in [
            r#"{"id":9223372036854775808}"#,
            r#"{"id":""}"#,
            r#"{"id":1.5}"#,
            r#"{"id":1e2}"#,
            r#"{"id":null}"#,
            r#"{"id":[1]}"#,
            r#"{"x":1}"#,
            "[1]",
        ] {
            assert_eq!(id(bad), None, "{bad}");
        }
    }
}
