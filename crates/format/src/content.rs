//! The JSON content rules of docs/FORMAT.md §8, shared by the writer (which refuses a
//! site that breaks them) and the reader (which reports an archive that does).

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::secrets::push_escaped_token;
use crate::{ArchivePath, Area, FormatError, ModuleItem};

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

/// Parses one JSON value of a site (a document, or one line of a JSON Lines entry):
/// RFC 8259, and no object with the same key twice. `serde_json` would keep one of two
/// equal keys silently, so a secret under the other would escape the policy.
pub fn parse_site_json(bytes: &[u8]) -> Result<Value, FormatError> {
    check_json(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| syntax_error(&e))
}

/// Checks that `bytes` hold one JSON value without duplicate keys, without building it
/// (for the manifest, whose tree grows with the site).
pub fn check_json(bytes: &[u8]) -> Result<(), FormatError> {
    let mut state = WalkState::default();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let walked = Walk { state: &mut state }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match (walked, state.duplicate) {
        (Ok(()), _) => Ok(()),
        (Err(e), Some(pointer)) => Err(FormatError::DuplicateKey {
            pointer,
            line: e.line(),
            column: e.column(),
        }),
        (Err(e), None) => Err(syntax_error(&e)),
    }
}

fn syntax_error(error: &serde_json::Error) -> FormatError {
    FormatError::JsonSyntax {
        line: error.line(),
        column: error.column(),
        message: json_error_message(error),
    }
}

/// Where the walk is, and the first duplicated key's pointer.
#[derive(Default)]
struct WalkState {
    pointer: String,
    duplicate: Option<String>,
}

/// Visits a JSON value, tracking the RFC 6901 pointer of where it is.
struct Walk<'s> {
    state: &'s mut WalkState,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.state;
        let mut index = 0usize;
        loop {
            let len = state.pointer.len();
            state.pointer.push('/');
            state.pointer.push_str(&index.to_string());
            let more = seq.next_element_seed(Walk { state: &mut *state })?;
            state.pointer.truncate(len);
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    // With `arbitrary_precision`, numbers arrive as a one-member map too; one key
    // cannot repeat, so they need no special case.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.state;
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let len = state.pointer.len();
            state.pointer.push('/');
            push_escaped_token(&mut state.pointer, &key);
            if !keys.insert(key) {
                state.duplicate = Some(state.pointer.clone());
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(Walk { state: &mut *state })?;
            state.pointer.truncate(len);
        }
        Ok(())
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
    fn duplicate_keys_are_refused_with_their_pointer_and_position() {
        let table: &[(&str, &str, usize, usize)] = &[
            (r#"{"a":1,"a":2}"#, "/a", 1, 10),
            (r#"{"mail":{"pw":"x","pw":null}}"#, "/mail/pw", 1, 22),
            ("[{}, {\"k\": 1,\n \"k\": 1}]", "/1/k", 2, 4),
            (r#"{"a/b~":{"x":[{"y":0,"y":0}]}}"#, "/a~1b~0/x/0/y", 1, 24),
            (r#"{"é":1,"\u00e9":2}"#, "/é", 1, 16),
        ];
        for &(text, pointer, line, column) in table {
            match parse_site_json(text.as_bytes()) {
                Err(FormatError::DuplicateKey {
                    pointer: found,
                    line: l,
                    column: c,
                }) => assert_eq!((found.as_str(), l, c), (pointer, line, column), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn site_json_parses_what_serde_json_parses_and_reports_syntax_errors() {
        for ok in [
            r#"{"a":{"b":1},"c":{"b":1}}"#,
            "[1, 1.10, -0, 1e2, 123456789012345678901234567890]",
            r#"{"n":1.5,"m":2}"#,
            r#""text""#,
            "null",
            " true ",
            r#"[{"a":1},{"a":1}]"#,
        ] {
            let parsed = parse_site_json(ok.as_bytes()).unwrap();
            assert_eq!(parsed, serde_json::from_str::<Value>(ok).unwrap(), "{ok}");
        }
        for (bad, line, column) in [("{\"a\":}", 1, 6), ("[1,\n2,]", 2, 3), ("{} x", 1, 4)] {
            match parse_site_json(bad.as_bytes()) {
                Err(FormatError::JsonSyntax {
                    line: l, column: c, ..
                }) => assert_eq!((l, c), (line, column), "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
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
