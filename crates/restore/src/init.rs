//! `init`: a new site made from a full-scope template archive, under a new identity.
//!
//! The new site is the template's restore into an empty directory (a sandbox [`plan`]),
//! with the template's URL rewritten to the new one and `site.json` carrying the new id,
//! name and URL. It is written into a fresh temporary directory beside the new site with
//! create-new, no-follow opens, flushed, and renamed into place: on any failure nothing
//! is left and the new site's directory is untouched.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use sitepack_format::{
    ArchivePath, PAYLOAD_DIR, Redaction, Scope, Sha256, SiteIdentity, validate_site_config,
};
use sitepack_reader::{Archive, ReaderError, StagedDir};
use sitepack_site::{Details, InitDetails, Outcome, record_audit_event};

use crate::target::SITE_JSON;
use crate::url_rewrite::check_base_url;
use crate::{
    Plan, PlanOptions, Refusal, RestoreError, RewriteChoice, RewriteRule, UrlRewrites, plan,
};

/// What [`init_from_template`] created.
#[derive(Debug, Clone, Serialize)]
pub struct InitSummary {
    /// The new site's directory.
    pub dir: PathBuf,
    /// The new site's identity.
    pub site: SiteIdentity,
    /// The template's site (as its manifest names it).
    pub template: SiteIdentity,
    /// Files written, `site.json` included.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// URL rewrites (template URL → new URL) in the written files.
    pub url_rewrites: UrlRewrites,
    /// Secrets the template does not carry: enter them before the site goes live
    /// (archive paths, `site/…`, as in the manifest's redactions).
    pub secrets_to_enter: Vec<Redaction>,
    /// Set when the site was created but its audit log could not be appended to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_warning: Option<String>,
}

/// Creates the site `new_site` from the full-scope template `archive`, with `identity`'s
/// id, name and URL, and appends an `init` event to its audit log.
///
/// Refused ([`RestoreError::Refused`]) when the URL is not an absolute http(s) base URL,
/// when `new_site` exists and is not an empty directory, when the archive is not valid
/// or not of scope `full`. Nothing is left behind on any failure.
pub fn init_from_template(
    new_site: &Path,
    archive: &Archive,
    identity: &SiteIdentity,
) -> Result<InitSummary, RestoreError> {
    check_base_url(&identity.url).map_err(|problem| {
        RestoreError::refused(Refusal::InvalidSiteUrl {
            url: identity.url.clone(),
            problem,
        })
    })?;
    StagedDir::check_target(new_site).map_err(new_site_error)?;
    let manifest = archive.manifest().map_err(RestoreError::from_reader)?;
    crate::plan::refuse_database_archive(manifest)?;
    if manifest.scope != Scope::Full {
        return Err(RestoreError::refused(Refusal::TemplateNotFull {
            scope: manifest.scope.clone(),
        }));
    }
    let site_json = new_site_json(archive, identity)?;
    let archive_sha256 = File::open(archive.path())
        .and_then(Sha256::of_reader)
        .map_err(|e| RestoreError::io("read", archive.path(), e))?;

    let mut staged = StagedDir::new(new_site, ".sitepack-init-").map_err(new_site_error)?;
    let rule = RewriteRule::new(&manifest.site.url, &identity.url)
        .map_err(|source| RestoreError::Rewrite { source })?;
    let rewrite = if rule.from() == rule.to() {
        RewriteChoice::Off
    } else {
        RewriteChoice::Rules(vec![rule])
    };
    let options = PlanOptions {
        rewrite,
        allow_other_site: true,
        ..PlanOptions::default()
    };
    let plan = plan(staged.path(), archive, &options)?;
    let (files, bytes) = write_site(&mut staged, archive, &plan, &site_json)?;
    staged.finish().map_err(new_site_error)?;

    let details = InitDetails {
        archive: Some(archive.name().to_owned()),
        archive_sha256: Some(archive_sha256),
        template_site_id: Some(manifest.site.id.to_string()),
        site: Some(identity.clone()),
        files: Some(files),
        bytes: Some(bytes),
        url_rewrites: Some(plan.url_rewrites.total),
        secrets_to_enter: Some(plan.secrets_to_reenter.len() as u64),
        ..InitDetails::default()
    };
    let audit_warning = record_audit_event(new_site, Outcome::Ok, Details::Init(details));
    Ok(InitSummary {
        dir: new_site.to_path_buf(),
        site: identity.clone(),
        template: manifest.site.clone(),
        files,
        bytes,
        url_rewrites: plan.url_rewrites,
        secrets_to_enter: plan.secrets_to_reenter,
        audit_warning,
    })
}

/// Writes the plan's files (every change is an addition into the empty staged
/// directory) and the new `site.json`. Returns the files and bytes written.
fn write_site(
    staged: &mut StagedDir,
    archive: &Archive,
    plan: &Plan,
    site_json: &[u8],
) -> Result<(u64, u64), RestoreError> {
    let root = staged.path().to_path_buf();
    let (mut files, mut bytes) = (0, 0);
    for change in &plan.changes {
        if change.path.as_str() == SITE_JSON {
            continue;
        }
        let Some(content) = plan.new_content(&root, archive, change)? else {
            continue;
        };
        write_new_file(staged, &change.path, &content)?;
        files += 1;
        bytes += content.len() as u64;
    }
    let site_json_path: ArchivePath = SITE_JSON
        .parse()
        .map_err(|e| RestoreError::io("name", root.join(SITE_JSON), io::Error::other(e)))?;
    write_new_file(staged, &site_json_path, site_json)?;
    Ok((files + 1, bytes + site_json.len() as u64))
}

/// A staged-directory error of the new site: a target that is not empty is a refusal.
fn new_site_error(error: ReaderError) -> RestoreError {
    match error {
        ReaderError::TargetNotEmpty { path } => {
            RestoreError::refused(Refusal::NewSiteExists { path })
        }
        other => RestoreError::from_reader(other),
    }
}

/// The template's `site.json` with `identity`'s id, name and URL; every other member is
/// kept. Pretty-printed with a final line break.
fn new_site_json(archive: &Archive, identity: &SiteIdentity) -> Result<Vec<u8>, RestoreError> {
    let entry = format!("{PAYLOAD_DIR}/{SITE_JSON}");
    let bytes = archive
        .read_entry(&entry)
        .map_err(RestoreError::from_reader)?;
    let mut value: Value =
        serde_json::from_slice(&bytes).map_err(|source| RestoreError::ArchiveJson {
            entry: entry.clone(),
            source,
        })?;
    let Some(object) = value.as_object_mut() else {
        return Err(RestoreError::ArchiveJson {
            entry,
            source: serde::de::Error::custom("site.json is not a JSON object"),
        });
    };
    object.insert("id".into(), Value::String(identity.id.to_string()));
    object.insert("name".into(), Value::String(identity.name.clone()));
    object.insert("url".into(), Value::String(identity.url.clone()));
    validate_site_config(&value)
        .map_err(|source| RestoreError::refused(Refusal::InvalidNewSiteJson { source }))?;
    let mut out =
        serde_json::to_vec_pretty(&value).map_err(|source| RestoreError::ArchiveJson {
            entry: entry.clone(),
            source,
        })?;
    out.push(b'\n');
    Ok(out)
}

/// Writes `bytes` to the new file `path` of the staged site.
fn write_new_file(
    staged: &mut StagedDir,
    path: &ArchivePath,
    bytes: &[u8],
) -> Result<(), RestoreError> {
    let mut file = staged
        .create_file(path)
        .map_err(RestoreError::from_reader)?;
    file.write_all(bytes)
        .map_err(|e| RestoreError::io("write", staged.path().join(path.to_native()), e))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use sitepack_format::Timestamp;
    use sitepack_site::read_audit_log;
    use sitepack_writer::{CreateOptions, NoProgress, Overwrite, Site, create_archive_file};

    use super::*;

    const TEMPLATE: [(&str, &str); 4] = [
        (
            "site.json",
            r#"{"id": "tpl", "name": "Template", "url": "https://tpl.example", "owner_field": "owner", "app": {"theme": "dark"}}"#,
        ),
        (
            "settings/mail.json",
            r#"{"home": "https://tpl.example/home", "smtp": {"password": "change-me"}}"#,
        ),
        ("users/u-1.json", r#"{"id": "u-1", "name": "Ann"}"#),
        (
            "modules/pages/index.html",
            "<a href=\"https://tpl.example/x\">x</a>\n",
        ),
    ];

    /// A temporary directory holding an archive of `TEMPLATE` in `scope`.
    fn template(scope: &str) -> (tempfile::TempDir, Archive) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("template");
        for (path, text) in TEMPLATE {
            let native = root.join(path);
            fs::create_dir_all(native.parent().unwrap()).unwrap();
            fs::write(native, text).unwrap();
        }
        let out = dir.path().join("template.zip");
        let mut options = CreateOptions::new(scope.parse().unwrap());
        options.created_at = Timestamp::from_unix_seconds(0).unwrap();
        let site = Site::open(&root).unwrap();
        create_archive_file(&site, &options, &out, Overwrite::Refuse, &NoProgress).unwrap();
        fs::remove_dir_all(&root).unwrap();
        let archive = Archive::open(&out).unwrap();
        (dir, archive)
    }

    fn identity(url: &str) -> SiteIdentity {
        SiteIdentity {
            id: "new-shop".parse().unwrap(),
            name: "New Shop".into(),
            url: url.into(),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_site_takes_the_new_identity_and_keeps_the_rest() {
        let (dir, archive) = template("full");
        let new_site = dir.path().join("new");
        let summary =
            init_from_template(&new_site, &archive, &identity("https://new.example")).unwrap();
        let site_json = fs::read_to_string(new_site.join("site.json")).unwrap();
        assert!(site_json.ends_with("}\n"), "{site_json}");
        let value: Value = serde_json::from_str(&site_json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "id": "new-shop", "name": "New Shop", "url": "https://new.example",
                "owner_field": "owner", "app": {"theme": "dark"}
            })
        );
        assert_eq!(
            fs::read_to_string(new_site.join("modules/pages/index.html")).unwrap(),
            "<a href=\"https://new.example/x\">x</a>\n"
        );
        assert_eq!(summary.files, 4);
        assert_eq!(summary.url_rewrites.total, 2);
        assert_eq!(summary.template.id.as_str(), "tpl");
        let secrets: Vec<_> = summary
            .secrets_to_enter
            .iter()
            .map(|r| (r.path.as_str(), r.pointer.as_str()))
            .collect();
        assert_eq!(secrets, [("site/settings/mail.json", "/smtp/password")]);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&new_site), 0o755);
        assert_eq!(mode(&new_site.join("modules/pages")), 0o755);
        assert_eq!(mode(&new_site.join("users/u-1.json")), 0o644);

        let log = read_audit_log(&new_site, &sitepack_site::AuditFilter::default()).unwrap();
        assert_eq!(log.events.len(), 1);
        let sitepack_site::Details::Init(details) = &log.events[0].details else {
            panic!("{:?}", log.events[0]);
        };
        assert_eq!(details.template_site_id.as_deref(), Some("tpl"));
        assert_eq!(names(dir.path()), ["new", "template.zip"]);
    }

    #[test]
    fn the_same_url_is_not_rewritten_and_an_empty_directory_is_used() {
        let (dir, archive) = template("full");
        let new_site = dir.path().join("new");
        fs::create_dir(&new_site).unwrap();
        let summary =
            init_from_template(&new_site, &archive, &identity("https://TPL.example/")).unwrap();
        assert!(summary.url_rewrites.rules.is_empty());
        assert!(new_site.join("users/u-1.json").is_file());
    }

    #[test]
    fn a_database_archive_is_no_template() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.zip");
        fs::write(
            &path,
            sitepack_test_support::database::DatabaseFixture::new().to_bytes(),
        )
        .unwrap();
        let archive = Archive::open(&path).unwrap();
        let new_site = dir.path().join("new");
        let result = init_from_template(&new_site, &archive, &identity("https://n.example"));
        assert!(
            matches!(
                result,
                Err(RestoreError::Refused {
                    reason: Refusal::DatabaseArchive { .. }
                })
            ),
            "{result:?}"
        );
        assert_eq!(names(dir.path()), ["db.zip"]);
    }

    /// Name, new site, template, URL, the refusal expected.
    type Case<'a> = (
        &'a str,
        &'a Path,
        &'a Archive,
        &'a str,
        fn(&Refusal) -> bool,
    );

    #[test]
    fn refusals_leave_nothing_behind() {
        let (dir, full) = template("full");
        let (_tab_dir, tab) = template("tab:mail");
        let occupied = dir.path().join("occupied");
        fs::create_dir(&occupied).unwrap();
        fs::write(occupied.join("notes.txt"), "mine").unwrap();
        let file = dir.path().join("a-file");
        fs::write(&file, "x").unwrap();
        let broken_path = dir.path().join("broken.zip");
        let mut bytes = fs::read(full.path()).unwrap();
        let at = bytes.windows(4).position(|w| w == b"site").unwrap();
        bytes[at] = b'S';
        fs::write(&broken_path, bytes).unwrap();
        let broken = Archive::open(&broken_path).unwrap();
        let new = dir.path().join("new");
        let before = names(dir.path());

        let cases: [Case; 6] = [
            ("occupied", &occupied, &full, "https://n.example", |r| {
                matches!(r, Refusal::NewSiteExists { .. })
            }),
            ("a file", &file, &full, "https://n.example", |r| {
                matches!(r, Refusal::NewSiteExists { .. })
            }),
            ("not full", &new, &tab, "https://n.example", |r| {
                matches!(r, Refusal::TemplateNotFull { .. })
            }),
            ("invalid", &new, &broken, "https://n.example", |r| {
                matches!(r, Refusal::InvalidArchive { .. })
            }),
            ("ftp", &new, &full, "ftp://n.example", |r| {
                matches!(r, Refusal::InvalidSiteUrl { .. })
            }),
            ("query", &new, &full, "https://n.example/?a=1", |r| {
                matches!(r, Refusal::InvalidSiteUrl { .. })
            }),
        ];
        for (name, target, archive, url, expected) in cases {
            match init_from_template(target, archive, &identity(url)) {
                Err(RestoreError::Refused { reason }) => {
                    assert!(expected(&reason), "{name}: {reason}");
                }
                other => panic!("{name}: {other:?}"),
            }
            assert_eq!(names(dir.path()), before, "{name}");
        }
        assert_eq!(names(&occupied), ["notes.txt"]);

        let mut empty_name = identity("https://n.example");
        empty_name.name = String::new();
        let reason = match init_from_template(&new, &full, &empty_name) {
            Err(RestoreError::Refused { reason }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(
            matches!(reason, Refusal::InvalidNewSiteJson { .. }),
            "{reason}"
        );
        assert_eq!(names(dir.path()), before);
    }
}
