//! Content checks (docs/FORMAT.md §13.8–13.9) on an entry's bytes as they stream past:
//! JSON shape, collection records and ids, scope of records, secrets, credential shapes.

use serde_json::Value;
use sitepack_format::database::{DatabaseSchema, RowProblem, Table, TableRowsCheck};
use sitepack_format::{
    ArchivePath, Area, ContentKind, ContentProblem, CredentialScanner, JsonLinesCheck,
    SecretPolicy, Selection, check_document, is_blank_line, parse_document,
};

use crate::database::{TableOutcome, row_advice, row_code};
use crate::finding::{Code, Findings};

/// Findings about one entry beyond this many are dropped (the first ones say enough).
const MAX_PER_ENTRY: usize = 20;

/// Streams an entry's bytes past the credential scan (docs/FORMAT.md §13.9).
pub(crate) struct ShapeScanner<'a> {
    scanner: CredentialScanner,
    policy: &'a SecretPolicy,
    path: &'a ArchivePath,
}

impl<'a> ShapeScanner<'a> {
    pub fn new(policy: &'a SecretPolicy, path: &'a ArchivePath) -> Self {
        Self {
            scanner: CredentialScanner::default(),
            policy,
            path,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        self.scanner.feed(chunk);
    }

    /// One warning per shape, at the first line it is on.
    pub fn report(self, name: &str, findings: &mut Findings) {
        let mut reported: Vec<&str> = Vec::new();
        for found in self.scanner.finish() {
            let shape = found.found.shape;
            if reported.contains(&shape)
                || self.policy.allows_credential(self.path, &found.found.value)
            {
                continue;
            }
            reported.push(shape);
            findings.entry(
                Code::CredentialShape,
                name,
                format!(
                    "line {} contains something shaped like {shape}; {SHAPE_ADVICE}",
                    found.line
                ),
            );
        }
    }
}

/// What to do about a credential shape.
pub(crate) const SHAPE_ADVICE: &str = "if it is a real credential, remove it from the site, rotate it, and make a new archive; if it is a published example or test value, list it in site.json secrets.allow";

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
    /// For a table of a database archive (`site/db/<table>.jsonl`): the schema and the
    /// table its rows are checked against.
    pub table: Option<(&'a DatabaseSchema, &'a Table)>,
    /// The table's columns the manifest lists as redacted (pointer `/column`): a row may
    /// lack them, as redaction removes a secret member (docs/FORMAT.md §11.2).
    pub redacted_columns: Vec<&'a str>,
}

/// Checks one JSON entry as its bytes arrive.
pub(crate) struct ContentCheck<'a> {
    rules: ContentRules<'a>,
    /// A document's bytes, or a JSON Lines entry's unfinished line.
    pending: Vec<u8>,
    /// Where a JSON Lines entry is, and its record ids.
    lines: JsonLinesCheck,
    records: u64,
    /// A table's row checks, and its rows (non-blank lines).
    rows: Option<(TableRowsCheck<'a>, u64)>,
    findings: Findings,
    reported: usize,
    /// Some JSON could not be parsed, so its credential shapes are left to the byte scan.
    unparsed: bool,
}

impl<'a> ContentCheck<'a> {
    pub fn new(rules: ContentRules<'a>) -> Self {
        let rows = rules.table.map(|(schema, table)| {
            let mut check = TableRowsCheck::new(schema, table);
            // As many as schema.json says the entry holds (the check is bounded).
            check.expect_rows(table.rows);
            (check, 0)
        });
        Self {
            rules,
            pending: Vec::new(),
            lines: JsonLinesCheck::new(),
            records: 0,
            rows,
            findings: Findings::default(),
            reported: 0,
            unparsed: false,
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

    /// Whether every value was parsed (and its credential shapes reported by pointer).
    pub fn parsed_all(&self) -> bool {
        !self.unparsed
    }

    /// The findings; for a collection, its number of records; for a table, its rows
    /// and keys.
    pub fn finish(mut self) -> (Findings, Option<u64>, Option<TableOutcome>) {
        let pending = std::mem::take(&mut self.pending);
        if self.rules.kind == ContentKind::Document {
            self.document(&pending);
        } else if !pending.is_empty() {
            self.line(&pending);
        }
        let records = (self.rules.kind == ContentKind::Collection).then_some(self.records);
        let table = self.rows.map(|(check, rows)| TableOutcome {
            rows,
            keys: check.finish(),
        });
        (self.findings, records, table)
    }

    fn add(&mut self, code: Code, message: String) {
        if self.reported < MAX_PER_ENTRY {
            self.reported += 1;
            self.findings.entry(code, self.rules.name, message);
        }
    }

    /// Reports a broken content rule, saying where it is (never the entry's text).
    fn problem(&mut self, code: Code, problem: &ContentProblem) {
        let message = match (problem.line(), problem.column()) {
            (Some(line), Some(column)) => format!("line {line} column {column}: {problem}"),
            (Some(line), None) => format!("line {line}: {problem}"),
            (None, _) => problem.to_string(),
        };
        self.add(code, message);
    }

    fn document(&mut self, bytes: &[u8]) {
        let mut value = match parse_document(bytes) {
            Ok(value) => value,
            Err(problem) => {
                self.unparsed = true;
                self.problem(Code::InvalidJson, &problem);
                return;
            }
        };
        if let Err(problem) = check_document(self.rules.area, &value) {
            let code = match problem {
                ContentProblem::CardIdMismatch { .. } => Code::UserIdMismatch,
                _ => Code::InvalidJson,
            };
            self.problem(code, &problem);
        }
        self.secrets(&mut value, None);
    }

    fn line(&mut self, line: &[u8]) {
        let collection = self.rules.kind == ContentKind::Collection;
        if let Some((_, rows)) = self.rows.as_mut()
            && !is_blank_line(line)
        {
            *rows += 1;
        }
        let mut value = match self.lines.parse(line) {
            Ok(Some(value)) => value,
            Ok(None) => return,
            Err(problem) => {
                self.unparsed = true;
                let code = if collection {
                    Code::InvalidJsonl
                } else {
                    Code::InvalidJson
                };
                self.problem(code, &problem);
                return;
            }
        };
        if !collection {
            self.table_row(&value);
            self.secrets(&mut value, None);
            return;
        }
        self.records += 1;
        let id = match self.lines.check_record(&value) {
            Ok(id) => id,
            Err(problem) => {
                let ContentProblem::DuplicateRecordId { id, .. } = &problem else {
                    self.problem(Code::InvalidJsonl, &problem);
                    return;
                };
                // The record is whole: its scope and secrets are still checked.
                let id = id.clone();
                self.problem(Code::DuplicateRecordId, &problem);
                id
            }
        };
        if self.rules.selection == Selection::OwnedRecords
            && let Some(user) = self.rules.user
            && value.get(self.rules.owner_field).and_then(Value::as_str) != Some(user)
        {
            self.add(
                Code::OutOfScope,
                format!(
                    "record {id} (line {}) does not belong to user `{user}` (field \"{}\"), but the archive's scope is that user",
                    self.lines.line_number(),
                    self.rules.owner_field
                ),
            );
        }
        self.secrets(&mut value, Some(&id));
    }

    /// A table's row: the row rules of docs/FORMAT.md §15.5.
    fn table_row(&mut self, value: &Value) {
        let line = self.lines.line_number() as u64;
        let Some((check, _)) = self.rows.as_mut() else {
            return;
        };
        for error in check.row(line, value) {
            if let RowProblem::MissingColumn { column } = &error.problem
                && self.rules.redacted_columns.contains(&column.as_str())
            {
                continue;
            }
            self.add(row_code(&error), format!("{error}; {}", row_advice(&error)));
        }
    }

    fn secrets(&mut self, value: &mut Value, record: Option<&Value>) {
        let pointers = self.rules.policy.redact(self.rules.path, value);
        let line = self.lines.line_number();
        let place = |pointer: &str| match (record, self.rules.kind) {
            (Some(id), _) => format!("record {id} at {pointer}"),
            (None, ContentKind::JsonLines) => format!("line {line} at {pointer}"),
            (None, _) => format!("at {pointer}"),
        };
        // What is left after redaction: the removed values are reported above.
        let shapes = self
            .rules
            .policy
            .credentials_in_value(self.rules.path, value);
        let shapes: Vec<String> = shapes
            .into_iter()
            .map(|(pointer, found)| {
                format!(
                    "{} contains something shaped like {}; {SHAPE_ADVICE}",
                    place(&pointer),
                    found.shape
                )
            })
            .collect();
        let pointers: Vec<String> = pointers.iter().map(|p| place(p)).collect();
        for at in pointers {
            self.add(
                Code::SecretPresent,
                format!("a secret value is present {at}; secrets must never travel in an archive: remove it from the site (or re-create the archive with sitepack, which removes it) and rotate it"),
            );
        }
        for message in shapes {
            self.add(Code::CredentialShape, message);
        }
    }
}
