//! The JSON content rules of docs/FORMAT.md §8, shared by the writer (which refuses a
//! site that breaks them), the reader (which reports an archive that does) and restore
//! (which merges into a target's collections): [`ContentProblem`] says which rule is
//! broken, [`check_document`] and [`JsonLinesCheck`] apply them.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::secrets::push_escaped_token;
use crate::{ArchivePath, Area, FormatError, ModuleItem, Name};

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

/// How a JSON entry breaks the content rules (docs/FORMAT.md §8). The message names the
/// rule and never quotes the content; [`line`](Self::line) and [`column`](Self::column)
/// say where, for the caller to print beside its own name of the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentProblem {
    /// Not one JSON value (RFC 8259).
    #[error("invalid JSON ({message})")]
    InvalidJson {
        /// 1-based line of the entry.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected (never the text itself).
        message: String,
    },
    /// An object with the same key twice.
    #[error(
        "duplicate key {pointer} (JSON pointer); a key may appear only once in an object (a parser keeps one of them, so the other escapes every check): remove one of them"
    )]
    DuplicateKey {
        /// RFC 6901 pointer of the repeated key (a key name, never a value).
        pointer: String,
        /// 1-based line of the entry where it repeats.
        line: usize,
        /// 1-based column just after it.
        column: usize,
    },
    /// `site.json`, a tab or a user card that is not a JSON object.
    #[error("must hold a JSON object")]
    NotAnObject,
    /// A user card whose `id` is not its file stem.
    #[error(
        "a user card's \"id\" must equal its file name: set \"id\": \"{expected}\" or rename the file"
    )]
    CardIdMismatch {
        /// The file stem, which the `id` must be.
        expected: Name,
    },
    /// A non-blank collection line that is not a JSON object.
    #[error(
        "record is not a JSON object; every non-blank line of a collection holds one record, an object with a unique \"id\""
    )]
    RecordNotAnObject {
        /// 1-based line.
        line: usize,
    },
    /// A record without an `id` that is a non-empty string or an integer in the `i64`
    /// range.
    #[error(
        "record has no \"id\" (a non-empty string or an integer); every record of a collection needs a unique id"
    )]
    MissingRecordId {
        /// 1-based line.
        line: usize,
    },
    /// A second record with an id already seen.
    #[error(
        "duplicate record id {id} (first on line {first_line}); ids must be unique within a collection"
    )]
    DuplicateRecordId {
        /// The id.
        id: Value,
        /// 1-based line of the second record.
        line: usize,
        /// 1-based line of the first.
        first_line: usize,
    },
}

impl ContentProblem {
    /// The 1-based line of the entry the problem is on; `None` for a whole document.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::InvalidJson { line, .. }
            | Self::DuplicateKey { line, .. }
            | Self::RecordNotAnObject { line }
            | Self::MissingRecordId { line }
            | Self::DuplicateRecordId { line, .. } => Some(*line),
            Self::NotAnObject | Self::CardIdMismatch { .. } => None,
        }
    }

    /// The 1-based column, for JSON that does not parse.
    #[must_use]
    pub fn column(&self) -> Option<usize> {
        match self {
            Self::InvalidJson { column, .. } | Self::DuplicateKey { column, .. } => Some(*column),
            _ => None,
        }
    }

    /// The problem of JSON that [`parse_site_json`] refused, on line `line` of the entry
    /// when it is one line of JSON Lines.
    fn of_json(error: FormatError, line: Option<usize>) -> Self {
        match error {
            FormatError::DuplicateKey {
                pointer,
                line: in_value,
                column,
            } => Self::DuplicateKey {
                pointer,
                line: line.unwrap_or(in_value),
                column,
            },
            FormatError::JsonSyntax {
                line: in_value,
                column,
                message,
            } => Self::InvalidJson {
                line: line.unwrap_or(in_value),
                column,
                message,
            },
            // `parse_site_json` fails with one of the two above; anything else is still
            // JSON it did not accept.
            other => Self::InvalidJson {
                line: line.unwrap_or(1),
                column: 1,
                message: other.to_string(),
            },
        }
    }
}

/// Parses a JSON document (one value, no duplicate keys), before [`check_document`].
pub fn parse_document(bytes: &[u8]) -> Result<Value, ContentProblem> {
    parse_site_json(bytes).map_err(|e| ContentProblem::of_json(e, None))
}

/// Checks a parsed document against the rules of its `area`: `site.json`, tabs and user
/// cards are objects, and a user card's `id` is its file stem.
pub fn check_document(area: &Area, value: &Value) -> Result<(), ContentProblem> {
    match area {
        Area::Site | Area::Tab(_) | Area::User(_) if !value.is_object() => {
            Err(ContentProblem::NotAnObject)
        }
        Area::User(id) if value.get("id").and_then(Value::as_str) != Some(id.as_str()) => {
            Err(ContentProblem::CardIdMismatch {
                expected: id.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// Checks a JSON Lines entry one line at a time, as its bytes arrive: each line through
/// [`parse`](Self::parse), and each value of a collection through
/// [`check_record`](Self::check_record).
#[derive(Debug, Default)]
pub struct JsonLinesCheck {
    /// The number of the line last parsed.
    line: usize,
    /// Each record id seen (as JSON text) and the line it was first on.
    first_lines: HashMap<String, usize>,
}

impl JsonLinesCheck {
    /// A check at the start of an entry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The next line's value (its bytes without the `\n`); `None` for a blank line,
    /// which is no record.
    pub fn parse(&mut self, line: &[u8]) -> Result<Option<Value>, ContentProblem> {
        self.line += 1;
        if is_blank_line(line) {
            return Ok(None);
        }
        parse_site_json(line)
            .map(Some)
            .map_err(|e| ContentProblem::of_json(e, Some(self.line)))
    }

    /// The 1-based number of the line last given to [`parse`](Self::parse).
    #[must_use]
    pub fn line_number(&self) -> usize {
        self.line
    }

    /// Checks the value of the line just parsed as a collection record: an object with
    /// a valid `id` that no earlier record has. Gives the id; a repeated id is an error
    /// that carries it (the record is otherwise whole).
    pub fn check_record(&mut self, record: &Value) -> Result<Value, ContentProblem> {
        let line = self.line;
        if !record.is_object() {
            return Err(ContentProblem::RecordNotAnObject { line });
        }
        let id = record_id(record)
            .cloned()
            .ok_or(ContentProblem::MissingRecordId { line })?;
        match self.first_lines.entry(id.to_string()) {
            Entry::Occupied(first) => Err(ContentProblem::DuplicateRecordId {
                id,
                line,
                first_line: *first.get(),
            }),
            Entry::Vacant(slot) => {
                slot.insert(line);
                Ok(id)
            }
        }
    }
}

/// Parses one JSON value of a site (a document, or one line of a JSON Lines entry):
/// RFC 8259, and no object with the same key twice. `serde_json` would keep one of two
/// equal keys silently, so a secret under the other would escape the policy.
pub fn parse_site_json(bytes: &[u8]) -> Result<Value, FormatError> {
    // One parse in the common case: a value holding as many object members as its text
    // has no repeated key (a repeated key replaces the first, leaving fewer). Otherwise,
    // or when the text is not JSON, the walk finds the first problem and says where.
    if let Ok(value) = serde_json::from_slice::<Value>(bytes)
        && members(&value) == members_in_text(bytes)
    {
        return Ok(value);
    }
    check_json(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| syntax_error(&e))
}

/// The object members of a value, at every depth.
fn members(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.len() + map.values().map(members).sum::<usize>(),
        Value::Array(items) => items.iter().map(members).sum(),
        _ => 0,
    }
}

/// The name separators (`:` outside strings) of JSON text: one per object member.
fn members_in_text(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if byte == b'"' {
            in_string = true;
        } else if byte == b':' {
            count += 1;
        }
    }
    count
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
            (r#"{"a:\"":"b:","a:\"":1}"#, "/a:\"", 1, 19),
            (
                r#"{"$serde_json::private::Number":"1","x":[{"x":0,"x":0}]}"#,
                "/x/0/x",
                1,
                51,
            ),
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
            r#"{"a:\"":"b:\\","c\\":{"d":":"}}"#,
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
    fn documents_of_the_site_tabs_and_users_are_objects_and_a_cards_id_is_its_name() {
        let u1: Name = "u-1".parse().unwrap();
        let mismatch = Err(ContentProblem::CardIdMismatch {
            expected: u1.clone(),
        });
        let table = [
            ("site.json", "{}", Ok(())),
            ("site.json", "[]", Err(ContentProblem::NotAnObject)),
            ("settings/shop.json", r#"{"a": 1}"#, Ok(())),
            ("settings/shop.json", "1", Err(ContentProblem::NotAnObject)),
            ("users/u-1.json", r#"{"id": "u-1"}"#, Ok(())),
            (
                "users/u-1.json",
                r#"["u-1"]"#,
                Err(ContentProblem::NotAnObject),
            ),
            ("users/u-1.json", r#"{"id": "u-2"}"#, mismatch.clone()),
            ("users/u-1.json", r#"{"name": "u-1"}"#, mismatch.clone()),
            ("users/u-1.json", r#"{"id": ["u-1"]}"#, mismatch),
            // Other documents may hold any value.
            ("modules/crm/setup.json", "[1]", Ok(())),
            ("themes/app.json", "null", Ok(())),
        ];
        for (path, text, want) in table {
            let path: ArchivePath = path.parse().unwrap();
            let area = classify(&path).unwrap();
            let value = parse_document(text.as_bytes()).unwrap();
            assert_eq!(check_document(&area, &value), want, "{path}: {text}");
        }
        let card = check_document(&Area::User(u1), &serde_json::json!({"id": "u-9"}));
        let message = card.unwrap_err().to_string();
        assert!(message.contains(r#"set "id": "u-1""#), "{message}");
    }

    #[test]
    fn documents_that_do_not_parse_say_where() {
        assert_eq!(
            parse_document(b"{\n  \"a\": 1\n  \"b\": 2}"),
            Err(ContentProblem::InvalidJson {
                line: 3,
                column: 3,
                message: "expected `,` or `}`".to_owned(),
            })
        );
        let duplicate = parse_document(b"{\"k\": \"Secret-1\",\n \"k\": null}").unwrap_err();
        assert_eq!(
            duplicate,
            ContentProblem::DuplicateKey {
                pointer: "/k".to_owned(),
                line: 2,
                column: 4,
            }
        );
        assert_eq!((duplicate.line(), duplicate.column()), (Some(2), Some(4)));
        assert!(!duplicate.to_string().contains("Secret-1"), "{duplicate}");
        assert_eq!(
            (
                ContentProblem::NotAnObject.line(),
                ContentProblem::NotAnObject.column()
            ),
            (None, None)
        );
    }

    /// Feeds `text` line by line; each line's id (collections) or value, or its problem.
    fn check_lines(text: &str, collection: bool) -> Vec<Result<Option<Value>, ContentProblem>> {
        let mut check = JsonLinesCheck::new();
        text.split('\n')
            .map(|line| {
                let value = check.parse(line.as_bytes())?;
                match value {
                    Some(value) if collection => check.check_record(&value).map(Some),
                    other => Ok(other),
                }
            })
            .collect()
    }

    #[test]
    fn collection_lines_are_records_with_unique_ids_numbered_by_file_line() {
        let lines = check_lines(
            "{\"id\": \"a\"}\r\n\n{\"id\": 1}\n{\"id\": \"1\"}\n{\"id\": 1, \"x\": 2}\n \t\n{\"id\": \"a\"}",
            true,
        );
        assert_eq!(
            lines,
            [
                Ok(Some(Value::from("a"))),
                Ok(None),
                Ok(Some(Value::from(1))),
                // A string and an integer are never the same id.
                Ok(Some(Value::from("1"))),
                Err(ContentProblem::DuplicateRecordId {
                    id: Value::from(1),
                    line: 5,
                    first_line: 3,
                }),
                Ok(None),
                Err(ContentProblem::DuplicateRecordId {
                    id: Value::from("a"),
                    line: 7,
                    first_line: 1,
                }),
            ]
        );
        let lines = check_lines(
            "[1]\n\"x\"\n{\"x\": 1}\n{\"id\": \"\"}\n{\"id\": 1.5}\n{\"id\": 2,}",
            true,
        );
        assert_eq!(
            lines,
            [
                Err(ContentProblem::RecordNotAnObject { line: 1 }),
                Err(ContentProblem::RecordNotAnObject { line: 2 }),
                Err(ContentProblem::MissingRecordId { line: 3 }),
                Err(ContentProblem::MissingRecordId { line: 4 }),
                Err(ContentProblem::MissingRecordId { line: 5 }),
                Err(ContentProblem::InvalidJson {
                    line: 6,
                    column: 10,
                    message: "trailing comma".to_owned(),
                }),
            ]
        );
        let line = lines[0].as_ref().unwrap_err().line();
        assert_eq!(line, Some(1));
    }

    #[test]
    fn json_lines_values_have_no_id_rules_but_no_duplicate_keys() {
        let lines = check_lines("[1]\n\n\"x\"\n{\"t\": 1, \"t\": 2}", false);
        assert_eq!(
            lines,
            [
                Ok(Some(serde_json::json!([1]))),
                Ok(None),
                Ok(Some(Value::from("x"))),
                Err(ContentProblem::DuplicateKey {
                    pointer: "/t".to_owned(),
                    line: 4,
                    column: 12,
                }),
            ]
        );
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
