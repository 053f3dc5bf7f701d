//! How each path's new content is computed from the archive and the target: documents,
//! module collections and their records, secrets put back, `--as` renames and the URL
//! rewrite. [`crate::plan()`] and [`crate::Plan::new_content`] both use [`Transform`],
//! so a plan and the restore that carries it out cannot disagree.
//!
//! What a restore writes, per kind of path (docs/COMMANDS.md, `restore`):
//! - **Documents** (`*.json`): the archive's value, with the target's secrets put back at
//!   the redacted pointers and URLs rewritten in string values; written pretty (two-space,
//!   final newline) when anything differs from the archive's bytes, else those bytes.
//! - **Collections** (module `*.jsonl`): records are matched by `id`. Merge upserts (target
//!   order kept, new records appended in archive order); replace of a whole collection
//!   makes it exactly the archive's records; in a user scope only that user's records are
//!   upserted (merge) or replaced (replace), other owners' records stay where they are.
//!   A record the restore does not change keeps its exact line bytes; a record that was
//!   modified here (secret put back, URL rewritten, owner renamed) is written compactly.
//! - **Everything else**: the archive's bytes; module text files get the URL rewrite.
//! - A document or record whose JSON equals the target's (same members in the same order)
//!   keeps the target's bytes, and a path whose new bytes equal the target's is no change.
//! - `site.json`: the target keeps its own; an empty target directory (a sandbox) takes
//!   the archive's.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use serde_json::Value;
use sitepack_format::{
    ArchivePath, Area, ContentKind, ContentProblem, JsonLinesCheck, ModuleItem, Name, Options,
    PAYLOAD_DIR, Redaction, Scope, Selection, Sha256, classify,
};
use sitepack_reader::Archive;

use crate::target::{SITE_JSON, Target, TargetPath};
use crate::{Mode, RecordChanges, Refusal, RestoreError, RewriteCounts, UrlRewrite, is_text_file};

/// `--as`: the archive's user and the id it is restored under.
#[derive(Debug, Clone)]
pub(crate) struct Rename {
    pub(crate) from: Name,
    pub(crate) to: Name,
}

/// How one path's new content is computed: everything [`plan`](crate::plan()) decided
/// that the content depends on. [`Plan::new_content`](crate::Plan::new_content) uses the
/// same value.
#[derive(Debug, Clone)]
pub(crate) struct Transform {
    pub(crate) mode: Mode,
    /// The scope as restored (`--as`: the new user).
    pub(crate) scope: Scope,
    pub(crate) files: bool,
    pub(crate) rename: Option<Rename>,
    pub(crate) owner_field: String,
    pub(crate) rewrite: Option<UrlRewrite>,
    pub(crate) sandbox: bool,
    /// The archive's entries, site-relative, with size and digest.
    pub(crate) entries: HashMap<ArchivePath, (u64, Sha256)>,
    /// The manifest's redactions by site-relative archive path, in manifest order.
    pub(crate) redactions: HashMap<ArchivePath, Vec<Redaction>>,
}

/// One path's new content.
pub(crate) enum Content {
    /// As the target has it (or absent, if it has none).
    Keep,
    /// Deleted.
    Delete,
    /// The archive entry of this name, byte for byte.
    Entry(String),
    /// These bytes.
    Bytes(Vec<u8>),
}

pub(crate) struct Computed {
    pub(crate) content: Content,
    pub(crate) target_exists: bool,
    pub(crate) records: Option<RecordChanges>,
    pub(crate) rewrites: RewriteCounts,
    pub(crate) kept: Vec<Redaction>,
    pub(crate) reenter: Vec<Redaction>,
}

impl Computed {
    fn new(content: Content, target_exists: bool) -> Self {
        Self {
            content,
            target_exists,
            records: None,
            rewrites: RewriteCounts::default(),
            kept: Vec::new(),
            reenter: Vec::new(),
        }
    }
}

impl Transform {
    /// Where the archive's `source` goes in the target (`--as` moves the user's card and
    /// files).
    fn target_of(&self, source: &ArchivePath) -> Result<ArchivePath, RestoreError> {
        self.moved(source, |rename| (&rename.from, &rename.to))
    }

    /// The archive path whose content `path` of the target gets.
    fn source_of(&self, path: &ArchivePath) -> Result<ArchivePath, RestoreError> {
        self.moved(path, |rename| (&rename.to, &rename.from))
    }

    /// `path` with the `--as` rename applied in the direction `ends` picks.
    fn moved(
        &self,
        path: &ArchivePath,
        ends: impl Fn(&Rename) -> (&Name, &Name),
    ) -> Result<ArchivePath, RestoreError> {
        let Some(rename) = &self.rename else {
            return Ok(path.clone());
        };
        let (from, to) = ends(rename);
        rename_user(path, from, to).map_err(|e| {
            RestoreError::refused(Refusal::AsPathInvalid {
                id: rename.to.clone(),
                path: path.clone(),
                source: e,
            })
        })
    }

    /// Every path the restore may touch, sorted: the archive's entries (as restored)
    /// and, in replace mode, the target's files of the scope; `site.json` only for a
    /// sandbox.
    pub(crate) fn candidates(
        &self,
        target: &Target,
    ) -> Result<BTreeSet<ArchivePath>, RestoreError> {
        let mut candidates = BTreeSet::new();
        for source in self.entries.keys() {
            if source.as_str() != SITE_JSON {
                candidates.insert(self.target_of(source)?);
            } else if self.sandbox {
                candidates.insert(source.clone());
            }
        }
        if self.mode == Mode::Replace {
            for file in target.files() {
                if file.path.as_str() != SITE_JSON {
                    candidates.insert(file.path.clone());
                }
            }
        }
        candidates.retain(|path| self.selection(path) != Selection::Excluded);
        Ok(candidates)
    }

    fn selection(&self, path: &ArchivePath) -> Selection {
        classify(path).map_or(Selection::Excluded, |area| {
            self.scope.selects(&area, Options { files: self.files })
        })
    }

    fn redactions_of(&self, source: &ArchivePath) -> &[Redaction] {
        self.redactions.get(source).map_or(&[], Vec::as_slice)
    }

    /// The new content of `path` (site-relative, in the target): the one function that
    /// both planning and applying use.
    pub(crate) fn compute(
        &self,
        root: &Path,
        archive: &Archive,
        path: &ArchivePath,
    ) -> Result<Computed, RestoreError> {
        let at = TargetPath { root, path };
        let Some(area) = classify(path) else {
            return Ok(Computed::new(Content::Keep, false));
        };
        if area == Area::Site {
            // The target keeps its own site.json; a sandbox takes the archive's.
            if !self.sandbox {
                return Ok(Computed::new(Content::Keep, true));
            }
            let mut computed = Computed::new(
                Content::Entry(format!("{PAYLOAD_DIR}/{SITE_JSON}")),
                at.exists()?,
            );
            computed.reenter = self
                .redactions_of(path)
                .iter()
                .map(|r| reported(r, path))
                .collect();
            return Ok(computed);
        }
        let selection = self.scope.selects(&area, Options { files: self.files });
        if selection == Selection::Excluded {
            return Ok(Computed::new(Content::Keep, at.exists()?));
        }
        let source = self.source_of(path)?;
        let has_entry = self.entries.contains_key(&source);
        let kind = ContentKind::of(path, &area);
        if kind == ContentKind::Collection
            && (has_entry || (selection == Selection::OwnedRecords && self.mode == Mode::Replace))
        {
            return self.collection(&at, path, &source, selection, archive);
        }
        if !has_entry {
            let content = if self.mode == Mode::Replace && selection == Selection::Whole {
                Content::Delete
            } else {
                Content::Keep
            };
            return Ok(Computed::new(content, at.exists()?));
        }
        if kind == ContentKind::Document {
            return self.document(&at, path, &source, &area, archive);
        }
        self.bytes(&at, path, &source, &area, archive)
    }

    fn document(
        &self,
        at: &TargetPath<'_>,
        path: &ArchivePath,
        source: &ArchivePath,
        area: &Area,
        archive: &Archive,
    ) -> Result<Computed, RestoreError> {
        let name = entry_name(source);
        let bytes = archive
            .read_entry(&name)
            .map_err(RestoreError::from_reader)?;
        let mut value: Value =
            serde_json::from_slice(&bytes).map_err(|source| RestoreError::ArchiveJson {
                entry: name.clone(),
                source,
            })?;
        let target_bytes = at.read()?;
        let target_value = target_bytes
            .as_deref()
            .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok());
        let mut computed = Computed::new(Content::Keep, target_bytes.is_some());
        let mut modified = false;
        if let (Area::User(_), Some(rename), Some(card)) =
            (area, &self.rename, value.as_object_mut())
        {
            card.insert("id".to_owned(), Value::String(rename.to.to_string()));
            modified = true;
        }
        if let Some(rewrite) = &self.rewrite {
            computed.rewrites = rewrite.rewrite_json(&mut value);
            modified |= computed.rewrites.total() > 0;
        }
        for redaction in self.redactions_of(source) {
            let reported = reported(redaction, path);
            if redaction.record.is_none()
                && put_back(&mut value, target_value.as_ref(), &redaction.pointer)
            {
                modified = true;
                computed.kept.push(reported);
            } else {
                computed.reenter.push(reported);
            }
        }
        let new_bytes = if modified {
            let mut pretty =
                serde_json::to_vec_pretty(&value).map_err(|source| RestoreError::ArchiveJson {
                    entry: name,
                    source,
                })?;
            pretty.push(b'\n');
            pretty
        } else {
            bytes
        };
        let same = target_bytes.as_deref() == Some(new_bytes.as_slice())
            || target_value.is_some_and(|target| same_json(&target, &value));
        if !same {
            computed.content = Content::Bytes(new_bytes);
        }
        Ok(computed)
    }

    /// Any other entry: the archive's bytes, URL-rewritten in module text files.
    fn bytes(
        &self,
        at: &TargetPath<'_>,
        path: &ArchivePath,
        source: &ArchivePath,
        area: &Area,
        archive: &Archive,
    ) -> Result<Computed, RestoreError> {
        let name = entry_name(source);
        let reenter = self
            .redactions_of(source)
            .iter()
            .map(|r| reported(r, path))
            .collect();
        let text_file = matches!(
            area,
            Area::Module {
                item: ModuleItem::File,
                ..
            }
        ) && is_text_file(path.as_str());
        if let (Some(rewrite), true) = (&self.rewrite, text_file) {
            let bytes = archive
                .read_entry(&name)
                .map_err(RestoreError::from_reader)?;
            let (rewritten, counts) = rewrite.rewrite_bytes(&bytes);
            if counts.total() > 0 {
                let rewritten = rewritten.into_owned();
                let target = at.read()?;
                let content = if target.as_deref() == Some(rewritten.as_slice()) {
                    Content::Keep
                } else {
                    Content::Bytes(rewritten)
                };
                let mut computed = Computed::new(content, target.is_some());
                computed.rewrites = counts;
                computed.reenter = reenter;
                return Ok(computed);
            }
        }
        // Byte for byte: compared by size and digest, without reading the entry.
        let expected = self.entries.get(source).copied();
        let target = at.digest()?;
        let content = if target.is_some() && target == expected {
            Content::Keep
        } else {
            Content::Entry(name)
        };
        let mut computed = Computed::new(content, target.is_some());
        computed.reenter = reenter;
        Ok(computed)
    }

    /// A module collection: the archive's records merged into (or replacing) the target's.
    fn collection(
        &self,
        at: &TargetPath<'_>,
        path: &ArchivePath,
        source: &ArchivePath,
        selection: Selection,
        archive: &Archive,
    ) -> Result<Computed, RestoreError> {
        let name = entry_name(source);
        let archive_bytes = if self.entries.contains_key(source) {
            archive
                .read_entry(&name)
                .map_err(RestoreError::from_reader)?
        } else {
            Vec::new()
        };
        let archive_lines =
            parse_lines(&archive_bytes).map_err(|problem| RestoreError::ArchiveJson {
                entry: name.clone(),
                source: serde::de::Error::custom(match problem.line() {
                    Some(line) => format!("line {line}: {problem}"),
                    None => problem.to_string(),
                }),
            })?;
        let target_bytes = at.read()?;
        let replace_whole = self.mode == Mode::Replace && selection == Selection::Whole;
        let target_lines = match target_bytes.as_deref().map(parse_lines) {
            Some(Ok(lines)) => lines,
            // Replaced whole, the target's records are only compared with: a collection
            // that does not parse can be restored over (it has no secrets to keep).
            Some(Err(_)) if replace_whole => Vec::new(),
            Some(Err(problem)) => {
                return Err(RestoreError::refused(Refusal::BadTargetRecord {
                    path: at.native(),
                    problem,
                }));
            }
            None => Vec::new(),
        };
        let target_index: HashMap<&str, usize> = target_lines
            .iter()
            .enumerate()
            .filter_map(|(i, line)| Some((line.record.as_ref()?.0.as_str(), i)))
            .collect();
        let sides = Sides {
            archive: &archive_lines,
            target: &target_lines,
            target_index: &target_index,
        };

        let mut computed = Computed::new(Content::Keep, target_bytes.is_some());
        let redactions = self.redactions_of(source);
        let mut kept = vec![false; redactions.len()];
        let incoming = self.incoming(&name, &sides, redactions, &mut kept)?;
        for (redaction, kept) in redactions.iter().zip(kept) {
            let reported = reported(redaction, path);
            if kept {
                computed.kept.push(reported);
            } else {
                computed.reenter.push(reported);
            }
        }

        let mut tally = Tally::default();
        let pieces = if target_bytes.is_none() || replace_whole {
            archive_layout(&sides, incoming, &mut tally)
        } else {
            self.target_layout(at, selection, &sides, incoming, &mut tally)?
        };
        let new_bytes = pieces.join(&b'\n');
        computed.records = Some(tally.records);
        if target_bytes.as_deref() == Some(new_bytes.as_slice()) {
            return Ok(computed);
        }
        computed.content = Content::Bytes(new_bytes);
        computed.rewrites = tally.rewrites;
        Ok(computed)
    }

    /// Each archive record as restored (`None` for blank lines): owner renamed, URLs
    /// rewritten, the target's secrets put back (marked in `kept`), and whether it adds,
    /// changes or equals the target's record of the same id.
    fn incoming<'a>(
        &self,
        name: &str,
        sides: &Sides<'a>,
        redactions: &[Redaction],
        kept: &mut [bool],
    ) -> Result<Vec<Option<Incoming<'a>>>, RestoreError> {
        let mut incoming = Vec::with_capacity(sides.archive.len());
        for line in sides.archive {
            let Some((key, value)) = &line.record else {
                incoming.push(None);
                continue;
            };
            let mut value = value.clone();
            let mut modified = false;
            if let (Some(rename), Some(record)) = (&self.rename, value.as_object_mut())
                && record.contains_key(&self.owner_field)
            {
                record.insert(
                    self.owner_field.clone(),
                    Value::String(rename.to.to_string()),
                );
                modified = true;
            }
            let mut counts = RewriteCounts::default();
            if let Some(rewrite) = &self.rewrite {
                counts = rewrite.rewrite_json(&mut value);
                modified |= counts.total() > 0;
            }
            let target = sides
                .target_index
                .get(key.as_str())
                .map(|&i| &sides.target[i]);
            let target_value = target.and_then(|t| t.record.as_ref()).map(|(_, v)| v);
            for (index, redaction) in redactions.iter().enumerate() {
                if redaction.record.as_ref().map(Value::to_string).as_ref() == Some(key)
                    && put_back(&mut value, target_value, &redaction.pointer)
                {
                    kept[index] = true;
                    modified = true;
                }
            }
            let record = match target {
                Some(target) if target_value.is_some_and(|t| same_json(t, &value)) => Incoming {
                    key,
                    bytes: Cow::Borrowed(target.bytes),
                    status: Status::Unchanged,
                    counts: RewriteCounts::default(),
                },
                _ => Incoming {
                    key,
                    bytes: if modified {
                        Cow::Owned(serde_json::to_vec(&value).map_err(|source| {
                            RestoreError::ArchiveJson {
                                entry: name.to_owned(),
                                source,
                            }
                        })?)
                    } else {
                        Cow::Borrowed(line.bytes)
                    },
                    status: if target.is_some() {
                        Status::Changed
                    } else {
                        Status::Added
                    },
                    counts,
                },
            };
            incoming.push(Some(record));
        }
        Ok(incoming)
    }

    /// The target's lines in their order, the archive's records in place of those with
    /// the same id, then the archive's new records. In a user scope, other owners'
    /// records stay as they are; in replace mode, the scope's records the archive lacks
    /// are deleted.
    fn target_layout<'a>(
        &self,
        at: &TargetPath<'_>,
        selection: Selection,
        sides: &Sides<'a>,
        mut incoming: Vec<Option<Incoming<'a>>>,
        tally: &mut Tally,
    ) -> Result<Vec<Cow<'a, [u8]>>, RestoreError> {
        let owner = match (selection, &self.scope) {
            (Selection::OwnedRecords, Scope::User(user)) => Some(user),
            _ => None,
        };
        let archive_index: HashMap<&str, usize> = incoming
            .iter()
            .enumerate()
            .filter_map(|(i, record)| Some((record.as_ref()?.key.as_str(), i)))
            .collect();
        let mut pieces = Vec::with_capacity(sides.target.len() + incoming.len());
        for (number, line) in (1..).zip(sides.target) {
            let Some((key, value)) = &line.record else {
                pieces.push(Cow::Borrowed(line.bytes));
                continue;
            };
            let archived = archive_index.get(key.as_str()).copied();
            if let Some(user) = owner
                && value.get(&self.owner_field).and_then(Value::as_str) != Some(user.as_str())
            {
                if archived.is_some() {
                    return Err(RestoreError::refused(Refusal::RecordOwnedByOther {
                        path: at.native(),
                        line: number,
                        id: key.clone(),
                        owner: value
                            .get(&self.owner_field)
                            .map_or_else(|| "no owner".to_owned(), Value::to_string),
                        user: user.clone(),
                    }));
                }
                pieces.push(Cow::Borrowed(line.bytes));
                continue;
            }
            match archived.and_then(|i| incoming[i].take()) {
                Some(record) => pieces.push(tally.take(record)),
                None if self.mode == Mode::Replace => tally.records.deleted += 1,
                None => pieces.push(Cow::Borrowed(line.bytes)),
            }
        }
        let mut appended = incoming.into_iter().flatten().peekable();
        if appended.peek().is_some() {
            // The file ends with a line break after the appended records.
            if pieces.last().is_some_and(|last| last.is_empty()) {
                pieces.pop();
            }
            for record in appended {
                pieces.push(tally.take(record));
            }
            pieces.push(Cow::Borrowed(&[]));
        }
        Ok(pieces)
    }
}

/// Exactly the archive's lines, each record as decided by [`Transform::incoming`]; the
/// target's records the archive lacks are counted as deleted.
fn archive_layout<'a>(
    sides: &Sides<'a>,
    incoming: Vec<Option<Incoming<'a>>>,
    tally: &mut Tally,
) -> Vec<Cow<'a, [u8]>> {
    let archive_keys: HashSet<&str> = incoming
        .iter()
        .flatten()
        .map(|record| record.key.as_str())
        .collect();
    tally.records.deleted = sides
        .target_index
        .keys()
        .filter(|key| !archive_keys.contains(*key))
        .count() as u64;
    sides
        .archive
        .iter()
        .zip(incoming)
        .map(|(line, record)| match record {
            Some(record) => tally.take(record),
            None => Cow::Borrowed(line.bytes),
        })
        .collect()
}

/// Both sides of a collection.
struct Sides<'a> {
    archive: &'a [Line<'a>],
    target: &'a [Line<'a>],
    /// Target record id → index in `target`.
    target_index: &'a HashMap<&'a str, usize>,
}

/// What the records written into a collection add up to.
#[derive(Default)]
struct Tally {
    records: RecordChanges,
    rewrites: RewriteCounts,
}

impl Tally {
    /// Counts a record that is written, and gives its bytes.
    fn take<'a>(&mut self, record: Incoming<'a>) -> Cow<'a, [u8]> {
        match record.status {
            Status::Added => self.records.added += 1,
            Status::Changed => self.records.changed += 1,
            Status::Unchanged => self.records.unchanged += 1,
        }
        self.rewrites += &record.counts;
        record.bytes
    }
}

/// One archive record as restored.
struct Incoming<'a> {
    key: &'a String,
    bytes: Cow<'a, [u8]>,
    status: Status,
    counts: RewriteCounts,
}

#[derive(Clone, Copy)]
enum Status {
    Added,
    Changed,
    Unchanged,
}

/// One line of a collection: its bytes (without the `\n`) and, unless blank, its
/// record's id (as JSON text) and value.
struct Line<'a> {
    bytes: &'a [u8],
    record: Option<(String, Value)>,
}

/// Splits a collection into lines; the first line that breaks the content rules (not a
/// record with a unique id) is an error.
fn parse_lines(bytes: &[u8]) -> Result<Vec<Line<'_>>, ContentProblem> {
    let mut check = JsonLinesCheck::new();
    let mut lines = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let record = match check.parse(line)? {
            Some(value) => Some((check.check_record(&value)?.to_string(), value)),
            None => None,
        };
        lines.push(Line {
            bytes: line,
            record,
        });
    }
    Ok(lines)
}

/// Puts the target's value at `pointer` back into `value`, where the archive's redaction
/// removed it: a removed object member is re-inserted (where the target has it), an array
/// element nulled by the redaction gets its value back. `false` when the target has no
/// value there that holds a secret, or the archive's place for it is gone.
fn put_back(value: &mut Value, target: Option<&Value>, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let Some(secret) = target.and_then(|t| t.pointer(pointer)) else {
        return false;
    };
    if secret.is_null() || secret.as_str() == Some("") {
        return false;
    }
    let token = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(members)) if !members.contains_key(&token) => {
            let at = target
                .and_then(|t| t.pointer(parent))
                .and_then(Value::as_object)
                .and_then(|object| object.keys().position(|key| *key == token))
                .unwrap_or(members.len())
                .min(members.len());
            members.shift_insert(at, token, secret.clone());
            true
        }
        Some(Value::Array(items)) => {
            match token.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(slot) if slot.is_null() => {
                    *slot = secret.clone();
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// A redaction as the restored path reports it (`--as` moves the user's card).
fn reported(redaction: &Redaction, path: &ArchivePath) -> Redaction {
    Redaction {
        path: path
            .with_prefix(PAYLOAD_DIR)
            .unwrap_or_else(|_| redaction.path.clone()),
        pointer: redaction.pointer.clone(),
        record: redaction.record.clone(),
    }
}

/// Equal values with their members in the same order.
fn same_json(a: &Value, b: &Value) -> bool {
    matches!((serde_json::to_vec(a), serde_json::to_vec(b)), (Ok(a), Ok(b)) if a == b)
}

/// `path` with the user `from`'s card and files moved to user `to`.
fn rename_user(
    path: &ArchivePath,
    from: &Name,
    to: &Name,
) -> Result<ArchivePath, sitepack_format::FormatError> {
    let text = path.as_str();
    if text == format!("users/{from}.json") {
        return format!("users/{to}.json").parse();
    }
    match text.strip_prefix(&format!("files/users/{from}/")) {
        Some(rest) => format!("files/users/{to}/{rest}").parse(),
        None => Ok(path.clone()),
    }
}

fn entry_name(source: &ArchivePath) -> String {
    format!("{PAYLOAD_DIR}/{source}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_back_restores_members_and_nulled_array_elements() {
        let target =
            serde_json::json!({"a": {"x": 1, "k": "s", "y": 2}, "list": ["p", "q"], "e": ""});
        let mut value = serde_json::json!({"a": {"x": 1, "y": 2}, "list": ["p", null], "e": ""});
        assert!(put_back(&mut value, Some(&target), "/a/k"));
        assert!(put_back(&mut value, Some(&target), "/list/1"));
        assert!(!put_back(&mut value, Some(&target), "/e"));
        assert!(!put_back(&mut value, Some(&target), "/missing"));
        assert!(!put_back(&mut value, None, "/a/k"));
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            serde_json::to_string(&target).unwrap()
        );
    }
}
