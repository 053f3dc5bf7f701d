//! Content checks (docs/FORMAT.md §13.8–13.9) on an entry's bytes as they stream past:
//! JSON shape, collection records and ids, scope of records, secrets, credential shapes.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::bytes::Regex;
use serde_json::Value;
use sitepack_format::{
    ArchivePath, Area, ContentKind, FormatError, SecretPolicy, Selection, is_blank_line,
    parse_site_json, record_id,
};

use crate::finding::{Code, Findings};

/// Findings about one entry beyond this many are dropped (the first ones say enough).
const MAX_PER_ENTRY: usize = 20;

/// Well-known credential shapes (docs/FORMAT.md §13.9), ASCII-only so the scan stays a
/// fast DFA over arbitrary bytes.
const SHAPES: &[(&str, &str)] = &[
    ("a Stripe live secret key", r"sk_live_[0-9A-Za-z]{10,}"),
    ("an AWS access key id", r"(?-u:\b)AKIA[0-9A-Z]{16}(?-u:\b)"),
    (
        "a PEM private key",
        r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----",
    ),
    ("a Slack bot token", r"xoxb-[0-9A-Za-z-]{10,}"),
    ("a GitHub personal access token", r"ghp_[0-9A-Za-z]{36}"),
];

/// Bytes of one chunk kept in front of the next, so that a shape split across chunks is
/// still seen (longer than any shape's shortest match).
const SHAPE_OVERLAP: usize = 256;

static ANY_SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    let alternation: Vec<String> = SHAPES.iter().map(|(_, p)| format!("(?:{p})")).collect();
    #[expect(clippy::expect_used, reason = "constant patterns, covered by tests")]
    Regex::new(&alternation.join("|")).expect("credential patterns compile")
});

static EACH_SHAPE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    #[expect(clippy::expect_used, reason = "constant patterns, covered by tests")]
    SHAPES
        .iter()
        .map(|(_, p)| Regex::new(&format!("^(?:{p})")).expect("credential pattern compiles"))
        .collect()
});

/// The names of the credential shapes found in `bytes`.
pub(crate) fn credential_shapes(bytes: &[u8]) -> Vec<&'static str> {
    let mut found = Vec::new();
    for m in ANY_SHAPE.find_iter(bytes) {
        for ((name, _), each) in SHAPES.iter().zip(EACH_SHAPE.iter()) {
            if each.is_match(&bytes[m.start()..]) && !found.contains(name) {
                found.push(*name);
            }
        }
    }
    found
}

/// Streams an entry's bytes past the credential scan.
#[derive(Default)]
pub(crate) struct ShapeScanner {
    window: Vec<u8>,
    found: Vec<&'static str>,
}

impl ShapeScanner {
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.window.is_empty() {
            self.scan(chunk);
            let keep = chunk.len().min(SHAPE_OVERLAP);
            self.window.extend_from_slice(&chunk[chunk.len() - keep..]);
            return;
        }
        // Shapes that straddle the boundary, then the chunk itself (without copying it).
        let mut window = std::mem::take(&mut self.window);
        window.extend_from_slice(&chunk[..chunk.len().min(SHAPE_OVERLAP)]);
        self.scan(&window);
        self.scan(chunk);
        if chunk.len() >= SHAPE_OVERLAP {
            window.clear();
            window.extend_from_slice(&chunk[chunk.len() - SHAPE_OVERLAP..]);
        } else {
            let drop = window.len().saturating_sub(SHAPE_OVERLAP);
            window.drain(..drop);
        }
        self.window = window;
    }

    fn scan(&mut self, bytes: &[u8]) {
        for name in credential_shapes(bytes) {
            if !self.found.contains(&name) {
                self.found.push(name);
            }
        }
    }

    pub fn report(self, path: &str, findings: &mut Findings) {
        for name in self.found {
            findings.entry(
                Code::CredentialShape,
                path,
                format!("contains something shaped like {name}; if it is a real credential, remove it from the site, rotate it, and make a new archive"),
            );
        }
    }
}

/// How an entry's records are judged.
pub(crate) struct ContentRules<'a> {
    /// The archive name (`site/…`) for findings.
    pub name: &'a str,
    /// The site-relative path (what the secret policy's pointers name).
    pub path: &'a ArchivePath,
    pub area: &'a Area,
    pub kind: ContentKind,
    pub selection: Selection,
    pub policy: &'a SecretPolicy,
    pub owner_field: &'a str,
    /// The user of a user-scope archive.
    pub user: Option<&'a str>,
}

/// Checks one JSON entry as its bytes arrive.
pub(crate) struct ContentCheck<'a> {
    rules: ContentRules<'a>,
    /// A document's bytes, or a JSON Lines entry's unfinished line.
    pending: Vec<u8>,
    line_number: usize,
    records: u64,
    ids: HashSet<String>,
    findings: Findings,
    reported: usize,
}

impl<'a> ContentCheck<'a> {
    pub fn new(rules: ContentRules<'a>) -> Self {
        Self {
            rules,
            pending: Vec::new(),
            line_number: 0,
            records: 0,
            ids: HashSet::new(),
            findings: Findings::default(),
            reported: 0,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.rules.kind == ContentKind::Document {
            self.pending.extend_from_slice(chunk);
            return;
        }
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            if self.pending.is_empty() {
                self.line(&rest[..newline]);
            } else {
                self.pending.extend_from_slice(&rest[..newline]);
                let line = std::mem::take(&mut self.pending);
                self.line(&line);
            }
            rest = &rest[newline + 1..];
        }
        self.pending.extend_from_slice(rest);
    }

    /// The findings and, for a collection, its number of records.
    pub fn finish(mut self) -> (Findings, Option<u64>) {
        let pending = std::mem::take(&mut self.pending);
        if self.rules.kind == ContentKind::Document {
            self.document(&pending);
        } else if !pending.is_empty() {
            self.line(&pending);
        }
        let records = (self.rules.kind == ContentKind::Collection).then_some(self.records);
        (self.findings, records)
    }

    fn add(&mut self, code: Code, message: String) {
        if self.reported < MAX_PER_ENTRY {
            self.reported += 1;
            self.findings.entry(code, self.rules.name, message);
        }
    }

    fn document(&mut self, bytes: &[u8]) {
        let mut value = match parse_site_json(bytes) {
            Ok(value) => value,
            Err(e) => {
                self.add(Code::InvalidJson, not_json_message(&e, None));
                return;
            }
        };
        match self.rules.area {
            Area::Site | Area::Tab(_) if !value.is_object() => {
                self.add(Code::InvalidJson, "must hold a JSON object".to_owned());
            }
            Area::User(id) => {
                if value.is_object() {
                    if value.get("id").and_then(Value::as_str) != Some(id.as_str()) {
                        self.add(
                            Code::UserIdMismatch,
                            format!("a user card's \"id\" must equal its file name (`{id}`)"),
                        );
                    }
                } else {
                    self.add(
                        Code::InvalidJson,
                        "a user card must hold a JSON object".to_owned(),
                    );
                }
            }
            _ => {}
        }
        self.secrets(&mut value, None);
    }

    fn line(&mut self, line: &[u8]) {
        self.line_number += 1;
        if is_blank_line(line) {
            return;
        }
        let collection = self.rules.kind == ContentKind::Collection;
        let mut value = match parse_site_json(line) {
            Ok(value) => value,
            Err(e) => {
                let code = if collection {
                    Code::InvalidJsonl
                } else {
                    Code::InvalidJson
                };
                self.add(code, not_json_message(&e, Some(self.line_number)));
                return;
            }
        };
        if !collection {
            self.secrets(&mut value, None);
            return;
        }
        self.records += 1;
        let Some(id) = record_id(&value).cloned() else {
            self.add(
                Code::InvalidJsonl,
                format!(
                    "line {} is not a record: a collection line must be a JSON object with an \"id\" that is a non-empty string or an integer",
                    self.line_number
                ),
            );
            return;
        };
        if !self.ids.insert(id.to_string()) {
            self.add(
                Code::DuplicateRecordId,
                format!(
                    "line {}: record id {id} appears more than once",
                    self.line_number
                ),
            );
        }
        if self.rules.selection == Selection::OwnedRecords
            && let Some(user) = self.rules.user
            && value.get(self.rules.owner_field).and_then(Value::as_str) != Some(user)
        {
            self.add(
                Code::OutOfScope,
                format!(
                    "record {id} (line {}) does not belong to user `{user}` (field \"{}\"), but the archive's scope is that user",
                    self.line_number, self.rules.owner_field
                ),
            );
        }
        self.secrets(&mut value, Some(&id));
    }

    fn secrets(&mut self, value: &mut Value, record: Option<&Value>) {
        let pointers = self.rules.policy.redact(self.rules.path, value);
        for pointer in pointers {
            let at = match record {
                Some(id) => format!("record {id} at {pointer}"),
                None => format!("at {pointer}"),
            };
            self.add(
                Code::SecretPresent,
                format!("a secret value is present {at}; secrets must never travel in an archive: remove it from the site (or re-create the archive with sitepack, which removes it) and rotate it"),
            );
        }
    }
}

/// Why a document (or line `line` of JSON Lines) is not acceptable JSON; never its text.
fn not_json_message(error: &FormatError, line: Option<usize>) -> String {
    let at = |l: usize, column: usize| match line {
        Some(line) => format!("line {line} column {column}"),
        None => format!("line {l} column {column}"),
    };
    match error {
        FormatError::DuplicateKey {
            pointer,
            line: l,
            column,
        } => format!(
            "duplicate key {pointer} at {}: a key may appear only once in an object (a reader keeps one of them, so the other escapes every check); remove one of them",
            at(*l, *column)
        ),
        FormatError::JsonSyntax {
            line: l,
            column,
            message,
        } => format!("not valid JSON at {}: {message}", at(*l, *column)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_shapes_are_found_across_chunk_boundaries() {
        let key = b"xx AKIAABCDEFGHIJKLMNOP yy";
        assert_eq!(credential_shapes(key), vec!["an AWS access key id"]);
        assert!(credential_shapes(b"xAKIAABCDEFGHIJKLMNOP").is_empty());
        let pem = b"-----BEGIN OPENSSH PRIVATE KEY-----";
        assert_eq!(credential_shapes(pem), vec!["a PEM private key"]);
        let mut scanner = ShapeScanner::default();
        let text = b"token: sk_live_0123456789abcdef and ghp_0123456789abcdefghijklmnopqrstuvwxyz";
        for chunk in text.chunks(5) {
            scanner.feed(chunk);
        }
        assert_eq!(
            scanner.found,
            vec!["a Stripe live secret key", "a GitHub personal access token"]
        );
        assert!(credential_shapes(b"sk_test_0123456789abcdef xoxp-123").is_empty());
    }
}
