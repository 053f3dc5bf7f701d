//! The restore plan: exactly what restoring an archive into a site would change.
//!
//! [`plan`] compares the archive with the target site and lists every path that the
//! restore adds, replaces or deletes ([`Change`]), with record counts for collections,
//! URL rewrites and the secrets it keeps or leaves to re-enter. It holds no new content:
//! [`Plan::new_content`] computes the new bytes of one path, and it is the same function
//! the plan used to decide whether that path changes, so a plan and the restore that
//! carries it out cannot disagree.
//!
//! How each path's new content is computed (the content rules) is the `transform`
//! module's; reading the target site is the `target` module's.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sitepack_format::database::is_database_archive;
use sitepack_format::{
    ArchivePath, Area, AreaKind, Beneath, Manifest, Name, NodeKind, PAYLOAD_DIR, Redaction, Scope,
    SiteConfig, SiteIdentity, classify, first_tree_conflict, validate_site_config,
};
use sitepack_reader::Archive;
use sitepack_site::{Action, RecordChanges, RestoreMode, SiteJson};

use crate::target::{SITE_JSON, Target, TargetPath};
use crate::transform::{Content, Rename, Transform};
use crate::{Refusal, RestoreError, RewriteCounts, RewriteRule, UrlRewrite};

/// A database archive (format 1.1) holds a database's rows, which only a database
/// restore can write: into a site directory it is refused, before anything is read or
/// written.
pub(crate) fn refuse_database_archive(manifest: &Manifest) -> Result<(), RestoreError> {
    if is_database_archive(manifest) {
        return Err(RestoreError::refused(Refusal::DatabaseArchive {
            version: manifest.format_version,
        }));
    }
    Ok(())
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
    pub mode: RestoreMode,
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
            mode: RestoreMode::Merge,
            allow_other_site: false,
            files: true,
            as_user: None,
            rewrite: RewriteChoice::Auto,
        }
    }
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

/// Everything a restore would change, as [`plan()`] found it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The archive's source site.
    pub archive_site: SiteIdentity,
    /// The target site; `None` for an empty target directory (a sandbox).
    pub target_site: Option<SiteIdentity>,
    /// The archive's scope.
    pub scope: Scope,
    /// The mode.
    pub mode: RestoreMode,
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
        let mut bytes = Vec::new();
        let exists = self.write_new_content(site_root, archive, change, &mut bytes)?;
        Ok(exists.then_some(bytes))
    }

    /// Streams the bytes `change.path` holds after the restore into `out` (archive
    /// entries are copied, never held whole); `false` when it does not exist afterwards.
    /// The same computation as [`new_content`](Self::new_content).
    pub fn write_new_content(
        &self,
        site_root: &Path,
        archive: &Archive,
        change: &Change,
        out: &mut dyn Write,
    ) -> Result<bool, RestoreError> {
        let written = |result: std::io::Result<()>| {
            result.map(|()| true).map_err(|e| {
                RestoreError::io("write the new content of", change.path.to_native(), e)
            })
        };
        let computed = self.transform.compute(site_root, archive, &change.path)?;
        match computed.content {
            Content::Delete => Ok(false),
            Content::Keep => match (TargetPath {
                root: site_root,
                path: &change.path,
            })
            .read()?
            {
                Some(bytes) => written(out.write_all(&bytes)),
                None => Ok(false),
            },
            Content::Entry(name) => archive
                .copy_entry(&name, out)
                .map(|_| true)
                .map_err(RestoreError::from_reader),
            Content::Bytes(bytes) => written(out.write_all(&bytes)),
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
    refuse_database_archive(manifest)?;
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
    check_result_tree(&target, &plan.changes)?;
    check_no_directory_in_the_way(site_root, &plan.changes)?;
    Ok(plan)
}

/// Refuses a plan that adds a file where the site has a directory the plan does not
/// empty (one holding no file: the tree check sees only files): the directory would make
/// the move fail, and removing it is not the plan's to decide.
fn check_no_directory_in_the_way(site_root: &Path, changes: &[Change]) -> Result<(), RestoreError> {
    let root = match Beneath::open(site_root) {
        Ok(root) => root,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RestoreError::io("open", site_root, e)),
    };
    for change in changes.iter().filter(|c| c.action == Action::Add) {
        let stat = root.stat(change.path.as_str()).map_err(|e| {
            RestoreError::io(
                "read the metadata of",
                site_root.join(change.path.to_native()),
                e,
            )
        })?;
        // A directory whose files the plan deletes (replace mode) goes with them.
        let emptied = changes.iter().any(|c| {
            c.action == Action::Delete && c.path.strip_prefix(change.path.as_str()).is_some()
        });
        if !emptied && stat.is_some_and(|stat| stat.kind == NodeKind::Dir) {
            return Err(RestoreError::refused(Refusal::DirectoryInTheWay {
                path: change.path.clone(),
            }));
        }
    }
    Ok(())
}

/// Refuses a plan whose result could not be applied (a file where a directory must go,
/// or the reverse, that the plan does not delete) or could not be backed up afterwards
/// (two names that differ only by case or Unicode form).
fn check_result_tree(target: &Target, changes: &[Change]) -> Result<(), RestoreError> {
    let deleted: std::collections::HashSet<&ArchivePath> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| &c.path)
        .collect();
    let kept = target
        .files()
        .iter()
        .map(|f| &f.path)
        .filter(|path| !deleted.contains(path));
    let written = changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .map(|c| &c.path);
    match first_tree_conflict(kept.chain(written)) {
        Some(conflict) => Err(RestoreError::refused(Refusal::TreeConflict { conflict })),
        None => Ok(()),
    }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::PathBuf;

    use sitepack_format::{ContentProblem, INTERNAL_DIR};
    use sitepack_writer::{CreateOptions, NoProgress, Overwrite, Site, create_archive_file};

    use sitepack_test_support::database::DatabaseFixture;

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
            mode: RestoreMode::Replace,
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
        type Expected = fn(&ContentProblem) -> bool;
        let fixture = Fixture::new("module:notes", |_| {});
        // The target's collection follows the content rules the writer applies.
        let broken: [(&[u8], Expected); 4] = [
            (b"{\"id\":\"n1\"}\nnot json\n", |p| {
                matches!(p, ContentProblem::InvalidJson { line: 2, .. })
            }),
            (b"{\"id\":\"n1\"}\n{\"id\":\"n2\",\"id\":\"n3\"}\n", |p| {
                matches!(p, ContentProblem::DuplicateKey { line: 2, .. })
            }),
            (b"\n[1]\n", |p| {
                matches!(p, ContentProblem::RecordNotAnObject { line: 2 })
            }),
            (b"{\"id\":\"n1\"}\n{\"id\":\"n1\"}\n", |p| {
                matches!(
                    p,
                    ContentProblem::DuplicateRecordId {
                        line: 2,
                        first_line: 1,
                        ..
                    }
                )
            }),
        ];
        for (bytes, expected) in broken {
            let root = fixture.target(|files| {
                files.insert("modules/notes/notes.jsonl", bytes.to_vec());
            });
            let reason = refusal(fixture.plan(&root, &PlanOptions::default()));
            assert!(
                matches!(&reason, Refusal::BadTargetRecord { problem, .. } if expected(problem)),
                "{reason}"
            );
            let plan = fixture.plan(&root, &replace()).unwrap();
            assert_eq!(
                summary(&plan),
                [("modules/notes/notes.jsonl".to_owned(), Action::Replace)]
            );
        }
    }

    /// A database archive (format 1.1) in `dir`, as `fixture` builds it.
    fn database_archive(dir: &Path, fixture: &DatabaseFixture) -> Archive {
        let path = dir.join("db.zip");
        fs::write(&path, fixture.to_bytes()).unwrap();
        Archive::open(&path).unwrap()
    }

    #[test]
    fn a_database_archive_is_refused_before_anything_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let archive = database_archive(dir.path(), &DatabaseFixture::new());
        assert!(
            archive
                .validate(&sitepack_reader::Limits::default())
                .unwrap()
                .valid
        );
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        // A site of another id too: the database refusal comes first.
        let site = Fixture::new("full", |_| {});
        let other = site.target(|_| {});
        for target in [&empty, &other] {
            for options in [PlanOptions::default(), replace()] {
                let reason = refusal(plan(target, &archive, &options));
                assert!(
                    matches!(reason, Refusal::DatabaseArchive { version } if version.to_string() == "1.1"),
                    "{reason}"
                );
                let message = reason.to_string();
                assert!(
                    message.contains("database restore (the next release)")
                        && message.contains("validated, previewed and extracted"),
                    "{message}"
                );
            }
        }
        assert_eq!(fs::read_dir(&empty).unwrap().count(), 0);
    }

    /// Under format 1.0, `site/db/` is content of area `other`: restored as files.
    #[test]
    fn db_content_of_a_1_0_archive_is_restored_as_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut fixture = DatabaseFixture::new();
        fixture.format_version = "1.0".to_owned();
        fixture.records = false;
        let archive = database_archive(dir.path(), &fixture);
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let plan = plan(&empty, &archive, &PlanOptions::default()).unwrap();
        let paths: Vec<String> = plan.changes.iter().map(|c| c.path.to_string()).collect();
        assert!(paths.contains(&"db/schema.json".to_owned()), "{paths:?}");
        assert!(paths.contains(&"db/orders.jsonl".to_owned()), "{paths:?}");
    }
}
