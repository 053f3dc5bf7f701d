//! JSON documents and JSON Lines collections: checked, filtered and redacted before
//! they are hashed.

use std::io::{BufRead, Write};
use std::path::Path;

use serde_json::Value;
use sitepack_format::{
    ArchivePath, Area, ContentKind, ContentProblem, CredentialMatch, JsonLinesCheck, SecretPolicy,
    check_document, parse_document, record_id,
};

use crate::WriterError;

/// Which records of a collection to keep.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RecordFilter<'a> {
    All,
    /// Only records whose `field` is the string `user`.
    OwnedBy {
        field: &'a str,
        user: &'a str,
    },
}

/// A secret value removed from an entry.
#[derive(Debug, Clone)]
pub(crate) struct Removed {
    pub pointer: String,
    /// The record id, for collections.
    pub record: Option<Value>,
    /// The string leaves of the removed value, to keep them out of the label.
    pub values: Vec<String>,
}

/// An entry's bytes after checking, filtering and redaction.
#[derive(Debug)]
pub(crate) struct Processed {
    pub data: Vec<u8>,
    pub records: Option<u64>,
    pub removed: Vec<Removed>,
}

/// Parses a JSON document (duplicate keys refused), reporting errors with the file's
/// line and column (never its content).
pub(crate) fn parse_json(native: &Path, bytes: &[u8]) -> Result<Value, WriterError> {
    parse_document(bytes).map_err(|problem| invalid(native, problem))
}

fn invalid(native: &Path, problem: ContentProblem) -> WriterError {
    WriterError::InvalidContent {
        path: native.to_path_buf(),
        problem,
    }
}

/// Checks and redacts one JSON document.
pub(crate) fn process_document(
    native: &Path,
    path: &ArchivePath,
    area: &Area,
    bytes: Vec<u8>,
    policy: &SecretPolicy,
) -> Result<Processed, WriterError> {
    let mut value = parse_json(native, &bytes)?;
    check_document(area, &value).map_err(|problem| invalid(native, problem))?;
    let pointers = policy.redact(path, &mut value);
    refuse_credentials(native, path, &value, None, policy)?;
    refuse_credentials_in_pointers(native, path, &pointers, None, policy)?;
    if pointers.is_empty() {
        return Ok(Processed {
            data: bytes,
            records: None,
            removed: Vec::new(),
        });
    }
    let original = parse_json(native, &bytes)?;
    let removed = pointers
        .into_iter()
        .map(|pointer| Removed {
            values: string_leaves(original.pointer(&pointer)),
            pointer,
            record: None,
        })
        .collect();
    let mut data = serde_json::to_vec_pretty(&value).map_err(|e| json_write_error(native, &e))?;
    data.push(b'\n');
    Ok(Processed {
        data,
        records: None,
        removed,
    })
}

/// Checks, filters and redacts a JSON Lines file, line by line.
pub(crate) fn process_lines(
    native: &Path,
    path: &ArchivePath,
    kind: ContentKind,
    bytes: Vec<u8>,
    policy: &SecretPolicy,
    filter: RecordFilter<'_>,
    count_records: bool,
) -> Result<Processed, WriterError> {
    let mut out = Vec::new();
    let lines = process_lines_into(
        native,
        path,
        kind,
        &bytes[..],
        &mut out,
        policy,
        filter,
        count_records,
    )?;
    Ok(Processed {
        data: if lines.changed { out } else { bytes },
        records: lines.records,
        removed: lines.removed,
    })
}

/// What [`process_lines_into`] found.
#[derive(Debug)]
pub(crate) struct Lines {
    /// Records kept, when the entry counts them.
    pub records: Option<u64>,
    pub removed: Vec<Removed>,
    /// A record was filtered out or rewritten: the entry is what was written, not the
    /// source file.
    pub changed: bool,
    /// The source holds blank lines or lacks a final `\n`: what was written (blank
    /// lines dropped, every record ending in `\n`) differs from it even when unchanged.
    pub reshaped: bool,
}

/// Checks, filters and redacts JSON Lines read from `input` line by line, writing every
/// kept record (blank lines dropped, each followed by `\n`) to `out`: a collection of any
/// size goes through in constant memory. A caller that finds nothing `changed` keeps the
/// source bytes instead (they differ from `out` only when `reshaped`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn process_lines_into(
    native: &Path,
    path: &ArchivePath,
    kind: ContentKind,
    mut input: impl BufRead,
    out: &mut dyn Write,
    policy: &SecretPolicy,
    filter: RecordFilter<'_>,
    count_records: bool,
) -> Result<Lines, WriterError> {
    let with_ids = kind == ContentKind::Collection;
    let mut check = JsonLinesCheck::new();
    let mut changed = matches!(filter, RecordFilter::OwnedBy { .. });
    let mut reshaped = false;
    let mut records = 0u64;
    let mut removed = Vec::new();
    let mut line = Vec::new();
    let write_error = |e: std::io::Error| WriterError::io("write a temporary file for", native, e);
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| WriterError::io("read", native, e))?;
        if read == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else {
            reshaped = true;
        }
        let Some(mut value) = check.parse(&line).map_err(|p| invalid(native, p))? else {
            reshaped = true;
            continue;
        };
        let line_number = check.line_number();
        let id = if with_ids {
            Some(check.check_record(&value).map_err(|p| invalid(native, p))?)
        } else {
            None
        };
        if let RecordFilter::OwnedBy { field, user } = filter
            && value.get(field).and_then(Value::as_str) != Some(user)
        {
            continue;
        }
        records += 1;
        let pointers = policy.redact(path, &mut value);
        let kept_identity = [
            (with_ids, "id", record_id(&value).is_some()),
            match filter {
                RecordFilter::OwnedBy { field, .. } => (true, field, value.get(field).is_some()),
                RecordFilter::All => (false, "", true),
            },
        ];
        refuse_credentials(native, path, &value, Some(line_number), policy)?;
        refuse_credentials_in_pointers(native, path, &pointers, Some(line_number), policy)?;
        if let Some((_, key, _)) = kept_identity
            .iter()
            .find(|(applies, _, kept)| *applies && !kept)
        {
            return Err(WriterError::PolicyRemovesIdentity {
                path: native.to_path_buf(),
                line: line_number,
                key: (*key).to_owned(),
            });
        }
        if pointers.is_empty() {
            out.write_all(&line).map_err(write_error)?;
        } else {
            changed = true;
            let original = parse_json(native, &line)?;
            removed.extend(pointers.into_iter().map(|pointer| Removed {
                values: string_leaves(original.pointer(&pointer)),
                pointer,
                record: id.clone(),
            }));
            serde_json::to_writer(&mut *out, &value).map_err(|e| json_write_error(native, &e))?;
        }
        out.write_all(b"\n").map_err(write_error)?;
    }
    Ok(Lines {
        // Collections count records (FORMAT.md §8), and so do a database archive's
        // tables; other JSON Lines carry none.
        records: (kind.has_records() || count_records).then_some(records),
        removed,
        changed,
        reshaped,
    })
}

/// Refuses a JSON value (a document, or the record on `line`) that still holds a secret
/// credential shape after redaction.
fn refuse_credentials(
    native: &Path,
    path: &ArchivePath,
    value: &Value,
    line: Option<usize>,
    policy: &SecretPolicy,
) -> Result<(), WriterError> {
    let found = policy.credentials_in_value(path, value);
    match found.into_iter().find(|(_, m)| m.secret) {
        Some((pointer, m)) => Err(WriterError::CredentialShape {
            path: native.to_path_buf(),
            place: match line {
                Some(line) => format!(":{line}#{pointer}"),
                None => format!("#{pointer}"),
            },
            shape: m.shape,
        }),
        None => Ok(()),
    }
}

/// Refuses redaction pointers (which the manifest lists) that hold a secret credential
/// shape: a removed member's name can be one (`{"sk_live_…_token": "…"}`).
fn refuse_credentials_in_pointers(
    native: &Path,
    path: &ArchivePath,
    pointers: &[String],
    line: Option<usize>,
    policy: &SecretPolicy,
) -> Result<(), WriterError> {
    for pointer in pointers {
        if let Some(m) = policy
            .credentials_in(path, pointer.as_bytes())
            .into_iter()
            .find(|m| m.secret)
        {
            return Err(WriterError::CredentialShape {
                path: native.to_path_buf(),
                place: match line {
                    Some(line) => format!(":{line}#{pointer}"),
                    None => format!("#{pointer}"),
                },
                shape: m.shape,
            });
        }
    }
    Ok(())
}

/// Refuses the first secret credential shape in `found` (from bytes), naming its line.
pub(crate) fn refuse_credentials_in_bytes(
    native: &Path,
    found: impl IntoIterator<Item = (usize, CredentialMatch)>,
) -> Result<(), WriterError> {
    match found.into_iter().find(|(_, m)| m.secret) {
        Some((line, m)) => Err(WriterError::CredentialShape {
            path: native.to_path_buf(),
            place: format!(":{line}"),
            shape: m.shape,
        }),
        None => Ok(()),
    }
}

pub(crate) fn string_leaves(value: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = value.into_iter().collect();
    while let Some(value) = stack.pop() {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            Value::Bool(_) | Value::Null => {}
        }
    }
    out
}

fn json_write_error(native: &Path, error: &serde_json::Error) -> WriterError {
    WriterError::io(
        "serialize",
        native,
        std::io::Error::other(error.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SecretPolicy {
        SecretPolicy::default()
    }

    fn lines(input: &str, filter: RecordFilter<'_>) -> Result<Processed, WriterError> {
        process_lines(
            Path::new("site/modules/m/c.jsonl"),
            &"modules/m/c.jsonl".parse().unwrap(),
            ContentKind::Collection,
            input.as_bytes().to_vec(),
            &policy(),
            filter,
            false,
        )
    }

    #[test]
    fn unchanged_collections_keep_their_bytes() {
        let input = "{\"id\":\"a\",\"user_id\":\"u1\"}\r\n\n{\"id\": 2}\n";
        let out = lines(input, RecordFilter::All).unwrap();
        assert_eq!(out.data, input.as_bytes());
        assert_eq!(out.records, Some(2));
    }

    #[test]
    fn owner_filter_keeps_only_owned_records() {
        let input = "{\"id\":\"a\",\"user_id\":\"u1\"}\n{\"id\":\"b\",\"user_id\":\"u2\"}\n{\"id\":\"c\"}\n{\"id\":\"d\",\"user_id\":\"u1\",\"token\":\"t-123456\"}\n";
        let out = lines(
            input,
            RecordFilter::OwnedBy {
                field: "user_id",
                user: "u1",
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out.data).unwrap(),
            "{\"id\":\"a\",\"user_id\":\"u1\"}\n{\"id\":\"d\",\"user_id\":\"u1\"}\n"
        );
        assert_eq!(out.records, Some(2));
        assert_eq!(out.removed.len(), 1);
        assert_eq!(out.removed[0].pointer, "/token");
        assert_eq!(out.removed[0].record, Some(Value::from("d")));
        assert_eq!(out.removed[0].values, ["t-123456"]);
    }

    /// The content problem `err` reports for the collection.
    fn problem(err: &WriterError) -> &ContentProblem {
        match err {
            WriterError::InvalidContent { problem, .. } => problem,
            other => panic!("not a content problem: {other}"),
        }
    }

    #[test]
    fn collection_errors_name_the_line() {
        let err = lines("{\"id\":1}\n{\"id\":2}\n{\"id\":1}\n", RecordFilter::All).unwrap_err();
        assert!(
            matches!(
                problem(&err),
                ContentProblem::DuplicateRecordId {
                    line: 3,
                    first_line: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("site/modules/m/c.jsonl:3: duplicate record id 1 (first on line 1)"),
            "{err}"
        );
        let err = lines("{\"id\":1}\n{\"name\":\"x\"}\n", RecordFilter::All).unwrap_err();
        assert_eq!(
            problem(&err),
            &ContentProblem::MissingRecordId { line: 2 },
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("site/modules/m/c.jsonl:2: record has no \"id\""),
            "{err}"
        );
        let err = lines("{\"id\":1}\n\n{\"id\":2,}\n", RecordFilter::All).unwrap_err();
        assert!(
            matches!(
                problem(&err),
                ContentProblem::InvalidJson {
                    line: 3,
                    column: 9,
                    ..
                }
            ),
            "{err}"
        );
        for bad_id in [
            "{\"id\":null}",
            "{\"id\":1.5}",
            "{\"id\":\"\"}",
            "{\"id\":[1]}",
        ] {
            let err = lines(bad_id, RecordFilter::All).unwrap_err();
            assert_eq!(
                problem(&err),
                &ContentProblem::MissingRecordId { line: 1 },
                "{bad_id}: {err}"
            );
        }
        let err = lines("[1]", RecordFilter::All).unwrap_err();
        assert_eq!(
            problem(&err),
            &ContentProblem::RecordNotAnObject { line: 1 },
            "{err}"
        );
    }

    /// Regression: `serde_json` kept the last of two equal keys, so the first one's secret
    /// travelled unseen.
    #[test]
    fn duplicate_keys_are_refused_in_documents_collections_and_json_lines() {
        let doc: ArchivePath = "settings/mail.json".parse().unwrap();
        let area = sitepack_format::classify(&doc).unwrap();
        let err = process_document(
            Path::new("site/settings/mail.json"),
            &doc,
            &area,
            b"{\"relay\": {\"pwd\": \"Xq-42-leak\",\n \"pwd\": null}}".to_vec(),
            &policy(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(problem(&err), ContentProblem::DuplicateKey { pointer, line: 2, .. } if pointer == "/relay/pwd"),
            "{text}"
        );
        assert!(text.starts_with("site/settings/mail.json:2:"), "{text}");
        assert!(!text.contains("Xq-42-leak"), "{text}");
        for kind in [ContentKind::Collection, ContentKind::JsonLines] {
            let err = process_lines(
                Path::new("c.jsonl"),
                &"modules/m/c.jsonl".parse().unwrap(),
                kind,
                b"{\"id\": 1}\n\n{\"id\": 2, \"n\": [{\"t\": 1, \"t\": 2}]}\n".to_vec(),
                &policy(),
                RecordFilter::All,
                false,
            )
            .unwrap_err();
            assert!(
                matches!(problem(&err), ContentProblem::DuplicateKey { pointer, line: 3, .. } if pointer == "/n/0/t"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_policy_may_not_remove_a_records_identity() {
        let additions = sitepack_format::SiteSecrets {
            keys: vec!["user_id".into()],
            allow: vec![],
            pointers: vec!["modules/m/c.jsonl#/id".into()],
        };
        let policy = SecretPolicy::new(Some(&additions)).unwrap();
        let run = |filter| {
            process_lines(
                Path::new("c.jsonl"),
                &"modules/m/c.jsonl".parse().unwrap(),
                ContentKind::Collection,
                b"{\"id\": 1, \"user_id\": \"u1\"}\n".to_vec(),
                &policy,
                filter,
                false,
            )
        };
        let err = run(RecordFilter::All).unwrap_err();
        assert!(
            matches!(&err, WriterError::PolicyRemovesIdentity { key, line: 1, .. } if key == "id"),
            "{err}"
        );
    }

    /// Regression: re-serializing a redacted document rewrote numbers (`1.10` → `1.1`,
    /// big integers rounded), losing data that had nothing to do with the secret.
    #[test]
    fn redaction_keeps_numbers_exactly() {
        let path: ArchivePath = "settings/billing.json".parse().unwrap();
        let area = sitepack_format::classify(&path).unwrap();
        let input = br#"{"price": 1.10, "big": 123456789012345678901234567890, "exp": 1e2, "neg": -0, "api_key": "k-1234"}"#;
        let out = process_document(
            Path::new("billing.json"),
            &path,
            &area,
            input.to_vec(),
            &policy(),
        )
        .unwrap();
        let text = String::from_utf8(out.data).unwrap();
        // Numbers keep their exact digits; only an exponent gains its sign (`1e+2`).
        for kept in ["1.10", "123456789012345678901234567890", "1e+2", "-0"] {
            assert!(text.contains(kept), "{kept} changed: {text}");
        }
        assert!(!text.contains("k-1234"));
        let line = b"{\"id\": 1, \"amount\": 10.50, \"token\": \"t-99999\"}\n".to_vec();
        let out = process_lines(
            Path::new("c.jsonl"),
            &"modules/m/c.jsonl".parse().unwrap(),
            ContentKind::Collection,
            line,
            &policy(),
            RecordFilter::All,
            false,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out.data).unwrap(),
            "{\"id\":1,\"amount\":10.50}\n"
        );
    }

    #[test]
    fn documents_are_checked_and_redacted() {
        let path: ArchivePath = "users/u-1.json".parse().unwrap();
        let area = sitepack_format::classify(&path).unwrap();
        let native = Path::new("site/users/u-1.json");
        let ok =
            br#"{"id": "u-1", "password_hash": "$argon2id$h", "api_token": "tok-999"}"#.to_vec();
        let out = process_document(native, &path, &area, ok, &policy()).unwrap();
        assert_eq!(
            String::from_utf8(out.data).unwrap(),
            "{\n  \"id\": \"u-1\",\n  \"password_hash\": \"$argon2id$h\"\n}\n"
        );
        assert_eq!(out.removed[0].values, ["tok-999"]);
        let wrong_id = br#"{"id": "u-2"}"#.to_vec();
        let err = process_document(native, &path, &area, wrong_id, &policy()).unwrap_err();
        assert!(
            err.to_string().contains("must equal its file name"),
            "{err}"
        );
        let err = process_document(
            native,
            &path,
            &area,
            b"{\n  \"id\": \"u-1\"\n  \"x\": 1}".to_vec(),
            &policy(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "site/users/u-1.json:3:3: invalid JSON (expected `,` or `}`); fix or remove the file"
        );
    }
}
