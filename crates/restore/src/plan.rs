//! The restore plan: exactly what restoring an archive into a site would change.
//!
//! [`plan`] compares the archive with the target site and lists every path that the
//! restore adds, replaces or deletes ([`Change`]), with record counts for collections,
//! URL rewrites and the secrets it keeps or leaves to re-enter. It holds no new content:
//! [`Plan::new_content`] computes the new bytes of one path, and it is the same function
//! the plan used to decide whether that path changes, so a plan and the restore that
//! carries it out cannot disagree.
//!
//! Content rules (DESIGN.md §6, the restore issue):
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
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sitepack_format::{
    ArchivePath, Area, AreaKind, ContentKind, INTERNAL_DIR, ModuleItem, Name, Options, PAYLOAD_DIR,
    Redaction, Scope, Selection, Sha256, SiteConfig, SiteIdentity, classify, is_blank_line,
    record_id, validate_site_config,
};
use sitepack_reader::Archive;
use sitepack_writer::{Site, SiteFile, WriterError};

use crate::{Refusal, RestoreError, RewriteCounts, RewriteRule, UrlRewrite, is_text_file};

const SITE_JSON: &str = "site.json";

/// How the archive's content meets the target's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Archive documents and records replace their counterparts, new ones are added,
    /// nothing else changes.
    #[default]
    Merge,
    /// The restored scope becomes exactly the archive's content.
    Replace,
}

/// Which URLs to rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RewriteChoice {
    /// The source site's URL (`manifest.site.url`) becomes the target's, when they differ.
    #[default]
    Auto,
    /// Exactly these rules.
    Rules(Vec<RewriteRule>),
    /// No rewrite.
    Off,
}

/// What the restore is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// Merge (default) or replace.
    pub mode: Mode,
    /// Restore an archive of another site (`--allow-other-site`).
    pub allow_other_site: bool,
    /// Restore `files/**` and module files (`false`: `--no-files`, they are neither
    /// written nor deleted).
    pub files: bool,
    /// Restore the archive's user as this new user (`--as`, user scope only).
    pub as_user: Option<Name>,
    /// URL rewrite.
    pub rewrite: RewriteChoice,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Merge,
            allow_other_site: false,
            files: true,
            as_user: None,
            rewrite: RewriteChoice::Auto,
        }
    }
}

/// What happens to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The path does not exist in the target and is written.
    Add,
    /// The path exists in the target and gets new content.
    Replace,
    /// The path exists in the target and is deleted.
    Delete,
}

/// Record counts of one collection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordChanges {
    /// Archive records whose id the target does not have.
    pub added: u64,
    /// Archive records that replace a different target record of the same id.
    pub changed: u64,
    /// Target records removed (replace mode).
    pub deleted: u64,
    /// Archive records equal to the target record of the same id.
    pub unchanged: u64,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Site-relative path in the target.
    pub path: ArchivePath,
    /// What happens to it.
    pub action: Action,
    /// Its area in the layout.
    pub area: AreaKind,
    /// For a collection: what happens to its records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordChanges>,
    /// URL rewrites in the new content.
    pub url_rewrites: u64,
}

/// What happens to the target's `site.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteJson {
    /// The target keeps its own.
    Kept,
    /// The target had none (a sandbox) and takes the archive's.
    TakenFromArchive,
}

/// The URL rewrites of a restore.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UrlRewrites {
    /// Each rule applied, with how many replacements it makes.
    pub rules: Vec<RuleRewrites>,
    /// All replacements.
    pub total: u64,
}

/// One rewrite rule and its replacements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRewrites {
    /// The URL replaced (normalized).
    pub from: String,
    /// The URL that replaces it (normalized).
    pub to: String,
    /// Replacements in the changed paths.
    pub count: u64,
}

/// Everything a restore would change; see the [module documentation](self).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The archive's source site.
    pub archive_site: SiteIdentity,
    /// The target site; `None` for an empty target directory (a sandbox).
    pub target_site: Option<SiteIdentity>,
    /// The archive's scope.
    pub scope: Scope,
    /// The mode.
    pub mode: Mode,
    /// Whether files (`files/**`, module files) take part.
    pub files: bool,
    /// The new id of the restored user (`--as`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_user: Option<Name>,
    /// What happens to `site.json`.
    pub site_json: SiteJson,
    /// Every changed path, sorted by path (byte order).
    pub changes: Vec<Change>,
    /// Paths of the restored scope whose content stays as it is.
    pub unchanged: u64,
    /// URL rewrites in the changed paths.
    pub url_rewrites: UrlRewrites,
    /// Redacted values that the target's own values replace (paths as restored).
    pub secrets_kept: Vec<Redaction>,
    /// Redacted values that the target has no value for: re-enter after the restore.
    pub secrets_to_reenter: Vec<Redaction>,
    #[serde(skip)]
    transform: Transform,
}

impl Plan {
    /// Whether the restore changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The bytes `change.path` holds after the restore, `None` when it does not exist
    /// afterwards. Computed from the archive and the target's current content by the same
    /// function [`plan`] used, one path at a time.
    pub fn new_content(
        &self,
        site_root: &Path,
        archive: &Archive,
        change: &Change,
    ) -> Result<Option<Vec<u8>>, RestoreError> {
        let computed = self.transform.compute(site_root, archive, &change.path)?;
        match computed.content {
            Content::Delete => Ok(None),
            Content::Keep => read_target(&site_root.join(change.path.to_native())),
            Content::Entry(name) => archive
                .read_entry(&name)
                .map(Some)
                .map_err(RestoreError::from_reader),
            Content::Bytes(bytes) => Ok(Some(bytes)),
        }
    }
}

/// Plans restoring `archive` into the site at `site_root`. Reads, never writes.
pub fn plan(
    site_root: &Path,
    archive: &Archive,
    options: &PlanOptions,
) -> Result<Plan, RestoreError> {
    let manifest = archive.manifest().map_err(RestoreError::from_reader)?;
    let target = Target::open(site_root)?;
    let config = match &target {
        Target::Site { config, .. } => config.clone(),
        Target::Sandbox => archive_site_config(archive)?,
    };
    if let Target::Site { config, .. } = &target
        && config.id != manifest.site.id
        && !options.allow_other_site
    {
        return Err(RestoreError::refused(Refusal::OtherSite {
            archive: manifest.site.id.clone(),
            target: config.id.clone(),
        }));
    }
    let rename = as_user(options, manifest, &target)?;
    let files = options.files && manifest.options.files;
    let rewrite = url_rewrite(&options.rewrite, manifest, &target)?;
    let scope = match (&manifest.scope, &rename) {
        (Scope::User(_), Some(rename)) => Scope::User(rename.to.clone()),
        (scope, _) => scope.clone(),
    };
    let mut redactions: HashMap<ArchivePath, Vec<Redaction>> = HashMap::new();
    for redaction in &manifest.redactions {
        if let Some(path) = redaction.path.strip_prefix(PAYLOAD_DIR) {
            redactions.entry(path).or_default().push(redaction.clone());
        }
    }
    let transform = Transform {
        mode: options.mode,
        scope,
        files,
        rename,
        owner_field: config.owner_field().to_owned(),
        rewrite,
        sandbox: matches!(target, Target::Sandbox),
        entries: manifest
            .entries
            .iter()
            .filter_map(|e| Some((e.path.strip_prefix(PAYLOAD_DIR)?, (e.size, e.sha256))))
            .collect(),
        redactions,
    };

    let candidates = transform.candidates(&target)?;
    let mut plan = Plan {
        archive_site: manifest.site.clone(),
        target_site: match &target {
            Target::Site { config, .. } => Some(config.identity()),
            Target::Sandbox => None,
        },
        scope: manifest.scope.clone(),
        mode: options.mode,
        files,
        as_user: options.as_user.clone(),
        site_json: SiteJson::Kept,
        changes: Vec::new(),
        unchanged: 0,
        url_rewrites: UrlRewrites::default(),
        secrets_kept: Vec::new(),
        secrets_to_reenter: Vec::new(),
        transform: transform.clone(),
    };
    if transform.sandbox {
        plan.site_json = SiteJson::TakenFromArchive;
    }
    let mut rewrites = RewriteCounts::default();
    for path in candidates {
        let computed = transform.compute(site_root, archive, &path)?;
        plan.secrets_kept.extend(computed.kept);
        plan.secrets_to_reenter.extend(computed.reenter);
        let action = match computed.content {
            Content::Keep => {
                plan.unchanged += 1;
                continue;
            }
            Content::Delete => Action::Delete,
            Content::Entry(_) | Content::Bytes(_) if computed.target_exists => Action::Replace,
            Content::Entry(_) | Content::Bytes(_) => Action::Add,
        };
        rewrites += &computed.rewrites;
        plan.changes.push(Change {
            area: classify(&path).map_or(AreaKind::Other, |area| area.kind()),
            path,
            action,
            records: computed.records,
            url_rewrites: computed.rewrites.total(),
        });
    }
    if let Some(rewrite) = &transform.rewrite {
        plan.url_rewrites = UrlRewrites::new(rewrite, &rewrites);
    }
    Ok(plan)
}

/// `--as`: refused outside a user scope and for an id the target uses.
fn as_user(
    options: &PlanOptions,
    manifest: &sitepack_format::Manifest,
    target: &Target,
) -> Result<Option<Rename>, RestoreError> {
    let rename = match (&options.as_user, &manifest.scope) {
        (None, _) => return Ok(None),
        (Some(to), Scope::User(from)) => Rename {
            from: from.clone(),
            to: to.clone(),
        },
        (Some(_), scope) => {
            return Err(RestoreError::refused(Refusal::AsNeedsUserScope {
                scope: scope.clone(),
            }));
        }
    };
    let taken = target
        .files()
        .iter()
        .find(|f| matches!(&f.area, Area::User(id) | Area::UserFiles(id) if *id == rename.to));
    match taken {
        Some(taken) => Err(RestoreError::refused(Refusal::UserExists {
            id: rename.to,
            path: taken.path.clone(),
        })),
        None => Ok(Some(rename)),
    }
}

impl UrlRewrites {
    fn new(rewrite: &UrlRewrite, counts: &RewriteCounts) -> Self {
        Self {
            rules: rewrite
                .rules()
                .iter()
                .enumerate()
                .map(|(index, rule)| RuleRewrites {
                    from: rule.from().to_owned(),
                    to: rule.to().to_owned(),
                    count: counts.rule_total(index),
                })
                .collect(),
            total: counts.total(),
        }
    }
}

/// The target directory as found.
enum Target {
    /// A site: its `site.json` and files.
    Site {
        config: SiteConfig,
        files: Vec<SiteFile>,
    },
    /// No `site.json` and nothing else (or no directory yet).
    Sandbox,
}

impl Target {
    fn open(root: &Path) -> Result<Self, RestoreError> {
        match fs::metadata(root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::Sandbox),
            Err(e) => return Err(RestoreError::io("read", root, e)),
            Ok(meta) if !meta.is_dir() => {
                return Err(RestoreError::refused(Refusal::NotADirectory {
                    path: root.to_path_buf(),
                }));
            }
            Ok(_) => {}
        }
        let site_json = root.join(SITE_JSON);
        match fs::symlink_metadata(&site_json) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut entries = fs::read_dir(root)
                    .map_err(|e| RestoreError::io("read the directory", root, e))?;
                let occupied = entries
                    .any(|entry| entry.map_or(true, |entry| entry.file_name() != INTERNAL_DIR));
                return if occupied {
                    Err(RestoreError::refused(Refusal::NotASite {
                        path: root.to_path_buf(),
                    }))
                } else {
                    Ok(Self::Sandbox)
                };
            }
            Err(e) => return Err(RestoreError::io("read", site_json, e)),
            Ok(_) => {}
        }
        let site = Site::open(root).map_err(unusable_target)?;
        let files = site.scan().map_err(unusable_target)?;
        Ok(Self::Site {
            config: site.config().clone(),
            files,
        })
    }

    fn files(&self) -> &[SiteFile] {
        match self {
            Self::Site { files, .. } => files,
            Self::Sandbox => &[],
        }
    }
}

fn unusable_target(error: WriterError) -> RestoreError {
    match error {
        WriterError::Io {
            action,
            path,
            source,
        } => RestoreError::Io {
            action,
            path,
            source,
        },
        source => RestoreError::refused(Refusal::UnusableTarget { source }),
    }
}

/// The archive's `site.json`, for a sandbox (whose owner field it will use).
fn archive_site_config(archive: &Archive) -> Result<SiteConfig, RestoreError> {
    let name = format!("{PAYLOAD_DIR}/{SITE_JSON}");
    let bytes = archive
        .read_entry(&name)
        .map_err(RestoreError::from_reader)?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|source| RestoreError::ArchiveJson {
            entry: name.clone(),
            source,
        })?;
    validate_site_config(&value).map_err(|e| RestoreError::ArchiveJson {
        entry: name,
        source: serde::de::Error::custom(e),
    })
}

fn url_rewrite(
    choice: &RewriteChoice,
    manifest: &sitepack_format::Manifest,
    target: &Target,
) -> Result<Option<UrlRewrite>, RestoreError> {
    let rules = match (choice, target) {
        (RewriteChoice::Off, _) | (RewriteChoice::Auto, Target::Sandbox) => Vec::new(),
        (RewriteChoice::Rules(rules), _) => rules.clone(),
        (RewriteChoice::Auto, Target::Site { config, .. }) => {
            let rule = RewriteRule::new(&manifest.site.url, &config.url)
                .map_err(|source| RestoreError::Rewrite { source })?;
            if rule.from() == rule.to() {
                Vec::new()
            } else {
                vec![rule]
            }
        }
    };
    if rules.is_empty() {
        return Ok(None);
    }
    UrlRewrite::new(&rules)
        .map(Some)
        .map_err(|source| RestoreError::Rewrite { source })
}

/// `--as`: the archive's user and the id it is restored under.
#[derive(Debug, Clone)]
struct Rename {
    from: Name,
    to: Name,
}

/// How one path's new content is computed: everything [`plan`] decided that the content
/// depends on. [`Plan::new_content`] uses the same value.
#[derive(Debug, Clone)]
struct Transform {
    mode: Mode,
    /// The scope as restored (`--as`: the new user).
    scope: Scope,
    files: bool,
    rename: Option<Rename>,
    owner_field: String,
    rewrite: Option<UrlRewrite>,
    sandbox: bool,
    /// The archive's entries, site-relative, with size and digest.
    entries: HashMap<ArchivePath, (u64, Sha256)>,
    /// The manifest's redactions by site-relative archive path, in manifest order.
    redactions: HashMap<ArchivePath, Vec<Redaction>>,
}

/// One path's new content.
enum Content {
    /// As the target has it (or absent, if it has none).
    Keep,
    /// Deleted.
    Delete,
    /// The archive entry of this name, byte for byte.
    Entry(String),
    /// These bytes.
    Bytes(Vec<u8>),
}

struct Computed {
    content: Content,
    target_exists: bool,
    records: Option<RecordChanges>,
    rewrites: RewriteCounts,
    kept: Vec<Redaction>,
    reenter: Vec<Redaction>,
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
        match &self.rename {
            Some(rename) => rename_user(source, &rename.from, &rename.to).map_err(|e| {
                RestoreError::refused(Refusal::AsPathInvalid {
                    id: rename.to.clone(),
                    path: source.clone(),
                    source: e,
                })
            }),
            None => Ok(source.clone()),
        }
    }

    /// The archive path whose content `path` of the target gets.
    fn source_of(&self, path: &ArchivePath) -> Result<ArchivePath, RestoreError> {
        match &self.rename {
            Some(rename) => rename_user(path, &rename.to, &rename.from).map_err(|e| {
                RestoreError::refused(Refusal::AsPathInvalid {
                    id: rename.to.clone(),
                    path: path.clone(),
                    source: e,
                })
            }),
            None => Ok(path.clone()),
        }
    }

    /// Every path the restore may touch, sorted: the archive's entries (as restored)
    /// and, in replace mode, the target's files of the scope; `site.json` only for a
    /// sandbox.
    fn candidates(&self, target: &Target) -> Result<BTreeSet<ArchivePath>, RestoreError> {
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
    fn compute(
        &self,
        root: &Path,
        archive: &Archive,
        path: &ArchivePath,
    ) -> Result<Computed, RestoreError> {
        let native = root.join(path.to_native());
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
                exists(&native)?,
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
            return Ok(Computed::new(Content::Keep, exists(&native)?));
        }
        let source = self.source_of(path)?;
        let has_entry = self.entries.contains_key(&source);
        let kind = ContentKind::of(path, &area);
        if kind == ContentKind::Collection
            && (has_entry || (selection == Selection::OwnedRecords && self.mode == Mode::Replace))
        {
            return self.collection(&native, path, &source, selection, archive);
        }
        if !has_entry {
            let content = if self.mode == Mode::Replace && selection == Selection::Whole {
                Content::Delete
            } else {
                Content::Keep
            };
            return Ok(Computed::new(content, exists(&native)?));
        }
        if kind == ContentKind::Document {
            return self.document(&native, path, &source, &area, archive);
        }
        self.bytes(&native, path, &source, &area, archive)
    }

    fn document(
        &self,
        native: &Path,
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
        let target_bytes = read_target(native)?;
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
        native: &Path,
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
                let target = read_target(native)?;
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
        let target = target_digest(native)?;
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
        native: &Path,
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
            parse_lines(&archive_bytes).map_err(|(line, problem)| RestoreError::ArchiveJson {
                entry: name.clone(),
                source: serde::de::Error::custom(format!("line {line}: {problem}")),
            })?;
        let target_bytes = read_target(native)?;
        let replace_whole = self.mode == Mode::Replace && selection == Selection::Whole;
        let target_lines = match target_bytes.as_deref().map(parse_lines) {
            Some(Ok(lines)) => lines,
            // Replaced whole, the target's records are only compared with: a collection
            // that does not parse can be restored over (it has no secrets to keep).
            Some(Err(_)) if replace_whole => Vec::new(),
            Some(Err((line, problem))) => {
                return Err(RestoreError::refused(Refusal::BadTargetRecord {
                    path: native.to_path_buf(),
                    line,
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
            self.target_layout(native, selection, &sides, incoming, &mut tally)?
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
        native: &Path,
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
                        path: native.to_path_buf(),
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

/// Splits a collection into lines; `(line number, problem)` for a line that is not a
/// record with a unique id.
fn parse_lines(bytes: &[u8]) -> Result<Vec<Line<'_>>, (usize, String)> {
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for (number, line) in (1..).zip(bytes.split(|&b| b == b'\n')) {
        if is_blank_line(line) {
            lines.push(Line {
                bytes: line,
                record: None,
            });
            continue;
        }
        let value: Value = serde_json::from_slice(line)
            .map_err(|e| (number, format!("not a JSON value ({e})")))?;
        if !value.is_object() {
            return Err((number, "not a JSON object".to_owned()));
        }
        let key = record_id(&value)
            .ok_or_else(|| {
                (
                    number,
                    "the record has no \"id\" (a non-empty string or an integer)".to_owned(),
                )
            })?
            .to_string();
        if !seen.insert(key.clone()) {
            return Err((number, format!("the id {key} appears more than once")));
        }
        lines.push(Line {
            bytes: line,
            record: Some((key, value)),
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

/// Opens a target file without following a symbolic link.
fn open_target(native: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(native)
}

fn is_absent(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn exists(native: &Path) -> Result<bool, RestoreError> {
    match fs::symlink_metadata(native) {
        Ok(_) => Ok(true),
        Err(e) if is_absent(&e) => Ok(false),
        Err(e) => Err(RestoreError::io("read the metadata of", native, e)),
    }
}

/// The target file's bytes; `None` when it does not exist.
fn read_target(native: &Path) -> Result<Option<Vec<u8>>, RestoreError> {
    let mut file = match open_target(native) {
        Ok(file) => file,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(RestoreError::io("read", native, e)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| RestoreError::io("read", native, e))?;
    Ok(Some(bytes))
}

/// The target file's size and digest, streamed; `None` when it does not exist.
fn target_digest(native: &Path) -> Result<Option<(u64, Sha256)>, RestoreError> {
    let file = match open_target(native) {
        Ok(file) => file,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(RestoreError::io("read", native, e)),
    };
    let mut counted = CountingReader {
        inner: file,
        count: 0,
    };
    let sha256 =
        Sha256::of_reader(&mut counted).map_err(|e| RestoreError::io("read", native, e))?;
    Ok(Some((counted.count, sha256)))
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use sitepack_writer::{CreateOptions, NoProgress, Overwrite, create_archive_file};

    use super::*;

    type Files = BTreeMap<&'static str, Vec<u8>>;

    /// The source site: two users, a module with owned records, module files, files.
    fn source() -> Files {
        let files: [(&str, &[u8]); 12] = [
            (
                "site.json",
                br#"{"id": "shop", "name": "Shop", "url": "https://old.example"}"#,
            ),
            (
                "settings/general.json",
                br#"{"title": "Shop", "home": "https://old.example/home"}"#,
            ),
            (
                "settings/integrations.json",
                br#"{"stripe": {"api_key": "sk_live_1", "mode": "live"}}"#,
            ),
            ("users/u-7.json", br#"{"id": "u-7", "name": "Ann"}"#),
            ("users/u-8.json", br#"{"id": "u-8", "name": "Bob"}"#),
            (
                "modules/notes/notes.jsonl",
                concat!(
                    r#"{"id":"n1","user_id":"u-7","text":"a"}"#,
                    "\n",
                    r#"{"id":"n2","user_id":"u-8","text":"b"}"#,
                    "\n",
                    r#"{"id":"n3","user_id":"u-7","text":"c","token":"t-3"}"#,
                    "\n"
                )
                .as_bytes(),
            ),
            (
                "modules/notes/page.html",
                br#"<a href="https://old.example/x">x</a>"#,
            ),
            (
                "modules/notes/logo.png",
                b"\x89PNG https://old.example \x00",
            ),
            (
                "modules/crm/contacts.jsonl",
                b"{\"id\":1,\"user_id\":\"u-8\",\"name\":\"C\"}\n",
            ),
            ("files/logo.png", b"\x89PNG logo"),
            ("files/users/u-7/avatar.png", b"\x89PNG ann"),
            ("files/users/u-8/avatar.png", b"\x89PNG bob"),
        ];
        files.iter().map(|(p, b)| (*p, b.to_vec())).collect()
    }

    fn write_site(root: &Path, files: &Files) {
        for (path, bytes) in files {
            let native = root.join(path);
            fs::create_dir_all(native.parent().unwrap()).unwrap();
            fs::write(native, bytes).unwrap();
        }
    }

    struct Fixture {
        dir: tempfile::TempDir,
        archive: Archive,
    }

    impl Fixture {
        /// An archive of `source()` (as changed by `edit`) in `scope`.
        fn new(scope: &str, edit: impl FnOnce(&mut Files)) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let mut files = source();
            edit(&mut files);
            let root = dir.path().join("source");
            write_site(&root, &files);
            let out = dir.path().join("backup.zip");
            let mut options = CreateOptions::new(scope.parse().unwrap());
            options.created_at = sitepack_format::Timestamp::from_unix_seconds(0).unwrap();
            create_archive_file(
                &Site::open(&root).unwrap(),
                &options,
                &out,
                Overwrite::Refuse,
                &NoProgress,
            )
            .unwrap();
            let archive = Archive::open(&out).unwrap();
            Self { dir, archive }
        }

        /// A target site made of `source()` as changed by `edit`.
        fn target(&self, edit: impl FnOnce(&mut Files)) -> PathBuf {
            let mut files = source();
            edit(&mut files);
            let root = self.dir.path().join("target");
            if root.exists() {
                fs::remove_dir_all(&root).unwrap();
            }
            write_site(&root, &files);
            root
        }

        fn plan(&self, root: &Path, options: &PlanOptions) -> Result<Plan, RestoreError> {
            plan(root, &self.archive, options)
        }

        /// The plan's changes as `(path, action)`.
        fn changes(&self, root: &Path, options: &PlanOptions) -> Vec<(String, Action)> {
            summary(&self.plan(root, options).unwrap())
        }

        fn content(&self, plan: &Plan, root: &Path, path: &str) -> Option<Vec<u8>> {
            let change = plan
                .changes
                .iter()
                .find(|c| c.path.as_str() == path)
                .unwrap_or_else(|| panic!("{path} is not a change"));
            plan.new_content(root, &self.archive, change).unwrap()
        }
    }

    fn summary(plan: &Plan) -> Vec<(String, Action)> {
        plan.changes
            .iter()
            .map(|c| (c.path.to_string(), c.action))
            .collect()
    }

    fn replace() -> PlanOptions {
        PlanOptions {
            mode: Mode::Replace,
            ..PlanOptions::default()
        }
    }

    fn refusal(result: Result<Plan, RestoreError>) -> Refusal {
        match result {
            Err(RestoreError::Refused { reason }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn lines(text: &[&str]) -> Vec<u8> {
        text.iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    }

    #[test]
    fn an_identical_target_plans_nothing() {
        for scope in ["full", "module:notes", "user:u-7", "tab:general"] {
            let fixture = Fixture::new(scope, |_| {});
            let root = fixture.target(|_| {});
            for options in [PlanOptions::default(), replace()] {
                let plan = fixture.plan(&root, &options).unwrap();
                assert_eq!(summary(&plan), [], "{scope} {:?}", options.mode);
                assert!(plan.unchanged > 0, "{scope}");
                assert_eq!(plan.site_json, SiteJson::Kept);
                assert_eq!(plan.url_rewrites.total, 0);
            }
        }
    }

    #[test]
    fn merge_upserts_records_and_keeps_the_others_byte_for_byte() {
        let fixture = Fixture::new("full", |_| {});
        let root = fixture.target(|files| {
            // n1 edited, n2 the same record written differently, n3 missing, n4 only here.
            files.insert(
                "modules/notes/notes.jsonl",
                lines(&[
                    r#"{"id":"n4","user_id":"u-8","text":"local"}"#,
                    r#"{"id":"n1","user_id":"u-7","text":"edited"}"#,
                    "",
                    r#"{ "id": "n2", "user_id": "u-8", "text": "b" }"#,
                ]),
            );
        });
        let plan = fixture.plan(&root, &PlanOptions::default()).unwrap();
        assert_eq!(
            summary(&plan),
            [("modules/notes/notes.jsonl".to_owned(), Action::Replace)]
        );
        assert_eq!(
            plan.changes[0].records,
            Some(RecordChanges {
                added: 1,
                changed: 1,
                deleted: 0,
                unchanged: 1
            })
        );
        // Target order, n2's own bytes, n4 kept, n3 appended (its token is not in the
        // target: to re-enter).
        let content = fixture.content(&plan, &root, "modules/notes/notes.jsonl");
        let expected = lines(&[
            r#"{"id":"n4","user_id":"u-8","text":"local"}"#,
            r#"{"id":"n1","user_id":"u-7","text":"a"}"#,
            "",
            r#"{ "id": "n2", "user_id": "u-8", "text": "b" }"#,
            r#"{"id":"n3","user_id":"u-7","text":"c"}"#,
        ]);
        assert_eq!(content.unwrap(), expected);
        let reenter: Vec<_> = plan
            .secrets_to_reenter
            .iter()
            .map(|r| (r.path.as_str(), r.pointer.as_str(), r.record.clone()))
            .collect();
        assert_eq!(
            reenter,
            [(
                "site/modules/notes/notes.jsonl",
                "/token",
                Some(Value::from("n3"))
            )]
        );
        // settings/integrations.json: the target's api_key is put back, so no change.
        assert_eq!(plan.secrets_kept.len(), 1);
        assert_eq!(plan.secrets_kept[0].pointer, "/stripe/api_key");
    }

    #[test]
    fn merge_keeps_a_file_without_a_final_line_break_intact() {
        let fixture = Fixture::new("module:notes", |_| {});
        let root = fixture.target(|files| {
            files.insert(
                "modules/notes/notes.jsonl",
                br#"{"id":"n2","user_id":"u-8","text":"b"}"#.to_vec(),
            );
        });
        let plan = fixture.plan(&root, &PlanOptions::default()).unwrap();
        let content = fixture.content(&plan, &root, "modules/notes/notes.jsonl");
        let expected = lines(&[
            r#"{"id":"n2","user_id":"u-8","text":"b"}"#,
            r#"{"id":"n1","user_id":"u-7","text":"a"}"#,
            r#"{"id":"n3","user_id":"u-7","text":"c"}"#,
        ]);
        assert_eq!(content.unwrap(), expected);
    }

    #[test]
    fn replace_of_a_module_deletes_what_the_archive_lacks_and_nothing_outside() {
        let fixture = Fixture::new("module:notes", |_| {});
        let root = fixture.target(|files| {
            files.insert("modules/notes/old.txt", b"gone".to_vec());
            files.insert(
                "modules/notes/notes.jsonl",
                lines(&[r#"{"id":"n9","user_id":"u-8","text":"z"}"#]),
            );
            files.insert("modules/crm/extra.txt", b"stays".to_vec());
            files.insert("settings/general.json", br#"{"title": "Local"}"#.to_vec());
            files.insert("README.txt", b"other area".to_vec());
        });
        let plan = fixture.plan(&root, &replace()).unwrap();
        assert_eq!(
            summary(&plan),
            [
                ("modules/notes/notes.jsonl".to_owned(), Action::Replace),
                ("modules/notes/old.txt".to_owned(), Action::Delete),
            ]
        );
        assert_eq!(
            plan.changes[0].records,
            Some(RecordChanges {
                added: 3,
                changed: 0,
                deleted: 1,
                unchanged: 0
            })
        );
        let old = &plan.changes[1];
        assert_eq!(old.area, AreaKind::Module);
        assert_eq!(fixture.content(&plan, &root, old.path.as_str()), None);
        // Exactly the archive's records.
        let notes = fixture.content(&plan, &root, "modules/notes/notes.jsonl");
        let expected = lines(&[
            r#"{"id":"n1","user_id":"u-7","text":"a"}"#,
            r#"{"id":"n2","user_id":"u-8","text":"b"}"#,
            r#"{"id":"n3","user_id":"u-7","text":"c"}"#,
        ]);
        assert_eq!(notes.unwrap(), expected);
        // Merge deletes nothing.
        let merge = fixture.changes(&root, &PlanOptions::default());
        assert_eq!(
            merge,
            [("modules/notes/notes.jsonl".to_owned(), Action::Replace)]
        );
    }

    #[test]
    fn replace_of_a_user_touches_only_that_users_card_records_and_files() {
        let fixture = Fixture::new("user:u-7", |_| {});
        let root = fixture.target(|files| {
            files.insert(
                "users/u-7.json",
                br#"{"id": "u-7", "name": "Changed"}"#.to_vec(),
            );
            files.insert(
                "users/u-8.json",
                br#"{"id": "u-8", "name": "Bob 2"}"#.to_vec(),
            );
            files.insert(
                "modules/notes/notes.jsonl",
                lines(&[
                    r#"{"id":"n5","user_id":"u-7","text":"new here"}"#,
                    r#"{"id":"n2","user_id":"u-8","text":"local b"}"#,
                    r#"{"id":"n1","user_id":"u-7","text":"edited"}"#,
                    r#"{"id":"n3","user_id":"u-7","text":"c","token":"t-target"}"#,
                    r#"{"id":"n6","user_id":"u-8","text":"b6"}"#,
                ]),
            );
            files.insert(
                "modules/crm/contacts.jsonl",
                lines(&[
                    r#"{"id":1,"user_id":"u-8","name":"C"}"#,
                    r#"{"id":2,"user_id":"u-7","name":"mine"}"#,
                ]),
            );
            files.insert("files/users/u-7/old.png", b"old".to_vec());
            files.insert("files/users/u-8/new.png", b"bob's".to_vec());
            files.insert("files/extra.png", b"site".to_vec());
        });
        let plan = fixture.plan(&root, &replace()).unwrap();
        assert_eq!(
            summary(&plan),
            [
                ("files/users/u-7/old.png".to_owned(), Action::Delete),
                ("modules/crm/contacts.jsonl".to_owned(), Action::Replace),
                ("modules/notes/notes.jsonl".to_owned(), Action::Replace),
                ("users/u-7.json".to_owned(), Action::Replace),
            ]
        );
        let notes = fixture.content(&plan, &root, "modules/notes/notes.jsonl");
        // u-8's records stay in place, byte for byte; n5 goes; n1 is restored; n3 keeps
        // the target's token and so stays as it is.
        let expected = lines(&[
            r#"{"id":"n2","user_id":"u-8","text":"local b"}"#,
            r#"{"id":"n1","user_id":"u-7","text":"a"}"#,
            r#"{"id":"n3","user_id":"u-7","text":"c","token":"t-target"}"#,
            r#"{"id":"n6","user_id":"u-8","text":"b6"}"#,
        ]);
        assert_eq!(notes.unwrap(), expected);
        assert_eq!(
            plan.changes[2].records,
            Some(RecordChanges {
                added: 0,
                changed: 1,
                deleted: 1,
                unchanged: 1
            })
        );
        // The crm collection is not in the archive: only u-7's record goes.
        let crm = fixture.content(&plan, &root, "modules/crm/contacts.jsonl");
        assert_eq!(
            crm.unwrap(),
            lines(&[r#"{"id":1,"user_id":"u-8","name":"C"}"#])
        );
        assert_eq!(plan.secrets_kept.len(), 1);
        assert!(plan.secrets_to_reenter.is_empty());

        // Merge: u-7's records upserted, nothing deleted.
        let merge = fixture.changes(&root, &PlanOptions::default());
        assert_eq!(
            merge,
            [
                ("modules/notes/notes.jsonl".to_owned(), Action::Replace),
                ("users/u-7.json".to_owned(), Action::Replace),
            ]
        );
    }

    #[test]
    fn a_record_of_another_owner_with_the_users_id_is_refused() {
        let fixture = Fixture::new("user:u-7", |_| {});
        let root = fixture.target(|files| {
            files.insert(
                "modules/notes/notes.jsonl",
                lines(&[r#"{"id":"n1","user_id":"u-8","text":"taken"}"#]),
            );
        });
        let reason = refusal(fixture.plan(&root, &PlanOptions::default()));
        assert!(
            matches!(&reason, Refusal::RecordOwnedByOther { line: 1, id, .. } if id == "\"n1\""),
            "{reason}"
        );
    }

    #[test]
    fn as_user_renames_the_card_records_and_files() {
        let fixture = Fixture::new("user:u-7", |_| {});
        let root = fixture.target(|files| {
            files.retain(|path, _| !path.contains("u-7"));
            files.insert(
                "modules/notes/notes.jsonl",
                lines(&[r#"{"id":"n2","user_id":"u-8","text":"b"}"#]),
            );
        });
        let options = PlanOptions {
            as_user: Some("u-9".parse().unwrap()),
            ..replace()
        };
        let plan = fixture.plan(&root, &options).unwrap();
        assert_eq!(
            summary(&plan),
            [
                ("files/users/u-9/avatar.png".to_owned(), Action::Add),
                ("modules/notes/notes.jsonl".to_owned(), Action::Replace),
                ("users/u-9.json".to_owned(), Action::Add),
            ]
        );
        let card: Value =
            serde_json::from_slice(&fixture.content(&plan, &root, "users/u-9.json").unwrap())
                .unwrap();
        assert_eq!(card, serde_json::json!({"id": "u-9", "name": "Ann"}));
        let notes = fixture.content(&plan, &root, "modules/notes/notes.jsonl");
        let expected = lines(&[
            r#"{"id":"n2","user_id":"u-8","text":"b"}"#,
            r#"{"id":"n1","user_id":"u-9","text":"a"}"#,
            r#"{"id":"n3","user_id":"u-9","text":"c"}"#,
        ]);
        assert_eq!(notes.unwrap(), expected);
        assert_eq!(
            fixture.content(&plan, &root, "files/users/u-9/avatar.png"),
            Some(b"\x89PNG ann".to_vec())
        );
        assert_eq!(plan.secrets_to_reenter.len(), 1);
        assert_eq!(
            plan.secrets_to_reenter[0].path.as_str(),
            "site/modules/notes/notes.jsonl"
        );
    }

    #[test]
    fn as_user_is_refused_for_a_taken_id_and_outside_a_user_scope() {
        let fixture = Fixture::new("user:u-7", |_| {});
        let root = fixture.target(|_| {});
        let taken = PlanOptions {
            as_user: Some("u-8".parse().unwrap()),
            ..PlanOptions::default()
        };
        let reason = refusal(fixture.plan(&root, &taken));
        assert!(
            matches!(&reason, Refusal::UserExists { path, .. } if path.as_str() == "files/users/u-8/avatar.png"),
            "{reason}"
        );
        // Restoring u-7 as u-9 beside u-7 would give u-9 u-7's record ids.
        let beside = PlanOptions {
            as_user: Some("u-9".parse().unwrap()),
            ..PlanOptions::default()
        };
        let reason = refusal(fixture.plan(&root, &beside));
        assert!(
            matches!(reason, Refusal::RecordOwnedByOther { .. }),
            "{reason}"
        );

        let module = Fixture::new("module:notes", |_| {});
        let reason = refusal(module.plan(&root, &beside));
        assert!(
            matches!(reason, Refusal::AsNeedsUserScope { .. }),
            "{reason}"
        );
    }

    #[test]
    fn an_archive_of_another_site_needs_the_flag() {
        let fixture = Fixture::new("full", |_| {});
        let root = fixture.target(|files| {
            files.insert(
                "site.json",
                br#"{"id": "staging", "name": "Staging", "url": "https://old.example"}"#.to_vec(),
            );
        });
        let reason = refusal(fixture.plan(&root, &PlanOptions::default()));
        assert!(
            matches!(&reason, Refusal::OtherSite { archive, target }
                if archive.as_str() == "shop" && target.as_str() == "staging"),
            "{reason}"
        );
        let allowed = PlanOptions {
            allow_other_site: true,
            ..PlanOptions::default()
        };
        let plan = fixture.plan(&root, &allowed).unwrap();
        // The target keeps its own site.json.
        assert_eq!(summary(&plan), []);
        assert_eq!(plan.site_json, SiteJson::Kept);
        assert_eq!(plan.target_site.unwrap().id.as_str(), "staging");
    }

    #[test]
    fn an_empty_directory_is_a_sandbox_that_takes_the_archives_site_json() {
        let fixture = Fixture::new("full", |_| {});
        let root = fixture.dir.path().join("sandbox");
        fs::create_dir_all(root.join(INTERNAL_DIR)).unwrap();
        let plan = fixture.plan(&root, &PlanOptions::default()).unwrap();
        assert_eq!(plan.site_json, SiteJson::TakenFromArchive);
        assert!(plan.target_site.is_none());
        assert_eq!(plan.changes.len(), source().len());
        assert!(plan.changes.iter().all(|c| c.action == Action::Add));
        assert_eq!(plan.url_rewrites.total, 0);
        assert_eq!(
            fixture.content(&plan, &root, "site.json"),
            Some(source()["site.json"].clone())
        );
        // No target value for any secret.
        assert!(plan.secrets_kept.is_empty());
        assert_eq!(plan.secrets_to_reenter.len(), 2);

        // A directory with content but no site.json is not a sandbox.
        fs::write(root.join("notes.txt"), "x").unwrap();
        let reason = refusal(fixture.plan(&root, &PlanOptions::default()));
        assert!(matches!(reason, Refusal::NotASite { .. }), "{reason}");
    }

    #[test]
    fn a_target_the_writer_refuses_is_refused() {
        let fixture = Fixture::new("full", |_| {});
        let root = fixture.target(|_| {});
        std::os::unix::fs::symlink("/etc/passwd", root.join("files/link")).unwrap();
        let reason = refusal(fixture.plan(&root, &PlanOptions::default()));
        assert!(matches!(reason, Refusal::UnusableTarget { .. }), "{reason}");
    }

    #[test]
    fn secrets_are_kept_from_the_target_or_listed_to_reenter() {
        let fixture = Fixture::new("full", |_| {});
        let root = fixture.target(|files| {
            files.insert(
                "settings/integrations.json",
                br#"{"stripe": {"mode": "test", "api_key": "sk_target"}}"#.to_vec(),
            );
        });
        let plan = fixture.plan(&root, &PlanOptions::default()).unwrap();
        assert_eq!(
            summary(&plan),
            [("settings/integrations.json".to_owned(), Action::Replace)]
        );
        let content = fixture.content(&plan, &root, "settings/integrations.json");
        // The member goes back where the target has it; pretty, with a final newline.
        assert_eq!(
            String::from_utf8(content.unwrap()).unwrap(),
            "{\n  \"stripe\": {\n    \"mode\": \"live\",\n    \"api_key\": \"sk_target\"\n  }\n}\n"
        );
        let kept: Vec<_> = plan
            .secrets_kept
            .iter()
            .map(|r| (r.path.as_str(), r.pointer.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                ("site/modules/notes/notes.jsonl", "/token"),
                ("site/settings/integrations.json", "/stripe/api_key"),
            ]
        );
        assert!(plan.secrets_to_reenter.is_empty());

        // Without a value in the target, the secret is to re-enter.
        let root = fixture.target(|files| {
            files.insert(
                "settings/integrations.json",
                br#"{"stripe": {"mode": "live", "api_key": ""}}"#.to_vec(),
            );
        });
        let plan = fixture.plan(&root, &PlanOptions::default()).unwrap();
        let reenter: Vec<_> = plan
            .secrets_to_reenter
            .iter()
            .map(|r| r.pointer.as_str())
            .collect();
        assert_eq!(reenter, ["/stripe/api_key"]);
        let content = fixture.content(&plan, &root, "settings/integrations.json");
        let value: Value = serde_json::from_slice(&content.unwrap()).unwrap();
        assert_eq!(value, serde_json::json!({"stripe": {"mode": "live"}}));
    }

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

    #[test]
    fn urls_are_rewritten_in_documents_and_text_module_files_only() {
        let fixture = Fixture::new("full", |_| {});
        let root = fixture.target(|files| {
            files.insert(
                "site.json",
                br#"{"id": "shop", "name": "Shop", "url": "https://new.example"}"#.to_vec(),
            );
        });
        let plan = fixture.plan(&root, &PlanOptions::default()).unwrap();
        // The PNG holds the old URL too, but it is not text: it stays as it is.
        assert_eq!(
            summary(&plan),
            [
                ("modules/notes/page.html".to_owned(), Action::Replace),
                ("settings/general.json".to_owned(), Action::Replace),
            ]
        );
        assert!(plan.changes.iter().all(|c| c.url_rewrites == 1));
        assert_eq!(
            plan.url_rewrites,
            UrlRewrites {
                rules: vec![RuleRewrites {
                    from: "https://old.example".to_owned(),
                    to: "https://new.example".to_owned(),
                    count: 2
                }],
                total: 2
            }
        );
        assert_eq!(
            fixture
                .content(&plan, &root, "modules/notes/page.html")
                .unwrap(),
            br#"<a href="https://new.example/x">x</a>"#
        );
        let general: Value = serde_json::from_slice(
            &fixture
                .content(&plan, &root, "settings/general.json")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(general["home"], "https://new.example/home");

        let off = PlanOptions {
            rewrite: RewriteChoice::Off,
            ..PlanOptions::default()
        };
        assert_eq!(fixture.changes(&root, &off), []);
        let explicit = PlanOptions {
            rewrite: RewriteChoice::Rules(vec![
                RewriteRule::new("https://old.example/home", "https://new.example/start").unwrap(),
            ]),
            ..PlanOptions::default()
        };
        assert_eq!(
            fixture.changes(&root, &explicit),
            [("settings/general.json".to_owned(), Action::Replace)]
        );
    }

    #[test]
    fn no_files_leaves_files_alone() {
        let fixture = Fixture::new("full", |_| {});
        let root = fixture.target(|files| {
            files.insert("files/logo.png", b"changed".to_vec());
            files.insert("files/extra.png", b"extra".to_vec());
            files.insert("modules/notes/page.html", b"changed".to_vec());
            files.insert("settings/general.json", br#"{"title": "x"}"#.to_vec());
        });
        let options = PlanOptions {
            files: false,
            ..replace()
        };
        assert_eq!(
            fixture.changes(&root, &options),
            [("settings/general.json".to_owned(), Action::Replace)]
        );
        assert_eq!(
            fixture.changes(&root, &replace()),
            [
                ("files/extra.png".to_owned(), Action::Delete),
                ("files/logo.png".to_owned(), Action::Replace),
                ("modules/notes/page.html".to_owned(), Action::Replace),
                ("settings/general.json".to_owned(), Action::Replace),
            ]
        );
    }

    #[test]
    fn an_invalid_archive_is_refused_with_its_report() {
        let fixture = Fixture::new("full", |_| {});
        let root = fixture.target(|_| {});
        let path = fixture.dir.path().join("broken.zip");
        let mut bytes = fs::read(fixture.archive.path()).unwrap();
        let at = bytes.windows(4).position(|w| w == b"site").unwrap();
        bytes[at] = b'S';
        fs::write(&path, bytes).unwrap();
        let broken = Archive::open(&path).unwrap();
        let reason = refusal(plan(&root, &broken, &PlanOptions::default()));
        assert!(matches!(reason, Refusal::InvalidArchive { .. }), "{reason}");
    }

    #[test]
    fn plans_are_deterministic() {
        let fixture = Fixture::new("full", |_| {});
        let root = fixture.target(|files| {
            files.insert(
                "site.json",
                br#"{"id": "shop", "name": "Shop", "url": "https://new.example"}"#.to_vec(),
            );
            files.insert("README.txt", b"x".to_vec());
            files.insert(
                "modules/notes/notes.jsonl",
                lines(&[r#"{"id":"n8","user_id":"u-7"}"#]),
            );
        });
        let json = || serde_json::to_string(&fixture.plan(&root, &replace()).unwrap()).unwrap();
        let first = json();
        assert_eq!(first, json());
        assert!(first.contains(r#""action":"delete""#), "{first}");
    }

    #[test]
    fn a_broken_target_collection_is_refused_for_a_merge_but_replaced_whole() {
        let fixture = Fixture::new("module:notes", |_| {});
        let root = fixture.target(|files| {
            files.insert(
                "modules/notes/notes.jsonl",
                b"{\"id\":\"n1\"}\nnot json\n".to_vec(),
            );
        });
        let reason = refusal(fixture.plan(&root, &PlanOptions::default()));
        assert!(
            matches!(&reason, Refusal::BadTargetRecord { line: 2, .. }),
            "{reason}"
        );
        let plan = fixture.plan(&root, &replace()).unwrap();
        assert_eq!(
            summary(&plan),
            [("modules/notes/notes.jsonl".to_owned(), Action::Replace)]
        );
    }
}
