//! `sitepack serve`: the Backup API over real HTTP on loopback — authentication, every
//! endpoint, refusals that change nothing (400, 404, 409, 413, 422), downloads that
//! validate and match their announced digest.

use std::fmt::Write as _;
use std::io::{Read, Write as _};

use serde_json::json;
use sitepack_test_support::zipcraft::{Entry, Payload};

use crate::util::server::{JWT_SECRET, Server, jwt, now};
use crate::util::{LockHolder, TestSite, copy_tree, repo_root, run, site_files};

/// Every API route, as the server's router has it (checked against the `OpenAPI` document).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/backup/stats"),
    ("get", "/api/backup/export"),
    ("post", "/api/backup/import"),
    ("post", "/api/backup/import/{id}/apply"),
    ("get", "/api/restore"),
    ("post", "/api/restore/keep"),
    ("post", "/api/restore/revert"),
    ("get", "/api/backups"),
    ("post", "/api/backups"),
    ("get", "/api/backups/{name}"),
    ("delete", "/api/backups/{name}"),
    ("post", "/api/backups/{name}/restore"),
    ("get", "/api/auto"),
    ("put", "/api/auto"),
    ("post", "/api/auto/run"),
    ("get", "/api/audit"),
    ("get", "/api/progress"),
];

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// `sitepack validate` of downloaded bytes: exit 0.
#[track_caller]
fn assert_validates(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("download.zip");
    std::fs::write(&path, bytes).unwrap();
    run(["validate".as_ref(), path.as_os_str()]).expect(0);
}

#[test]
fn every_api_call_needs_an_admin_and_says_why_not() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let stats = "/api/backup/stats";
    let admin_jwt = jwt(&json!({"role": "admin", "exp": now() + 600}), JWT_SECRET);
    let roles_jwt = jwt(
        &json!({"roles": ["viewer", "admin"], "exp": now() + 600}),
        JWT_SECRET,
    );
    let viewer_jwt = jwt(&json!({"role": "viewer", "exp": now() + 600}), JWT_SECRET);
    let expired = jwt(&json!({"role": "admin", "exp": now() - 120}), JWT_SECRET);
    let no_exp = jwt(&json!({"role": "admin"}), JWT_SECRET);
    let other_secret = jwt(
        &json!({"role": "admin", "exp": now() + 600}),
        "another-secret-0123456789abcdef",
    );
    for (auth, status) in [
        (None, 401),
        (Some("Bearer wrong-token-0123456789".to_owned()), 401),
        (Some(format!("Basic {}", crate::util::server::TOKEN)), 401),
        (Some(format!("Bearer {}x", crate::util::server::TOKEN)), 401),
        (Some(format!("Bearer {expired}")), 401),
        (Some(format!("Bearer {no_exp}")), 401),
        (Some(format!("Bearer {other_secret}")), 401),
        (Some(format!("Bearer {viewer_jwt}")), 403),
        (Some(format!("Bearer {admin_jwt}")), 200),
        (Some(format!("Bearer {roles_jwt}")), 200),
        (Some(Server::admin()), 200),
    ] {
        let answer = server.call("GET", stats, auth.as_deref(), None);
        assert_eq!(
            answer.status,
            status,
            "{auth:?}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        if status != 200 {
            assert!(!answer.message().is_empty());
        }
    }
    // Every route refuses a call without the token, before doing anything.
    for (method, route) in ROUTES {
        let path = route.replace("{id}", "0123").replace("{name}", "x");
        let answer = server.call(&method.to_uppercase(), &path, None, None);
        assert_eq!(answer.status, 401, "{method} {path}");
        let answer = server.call(
            &method.to_uppercase(),
            &path,
            Some(&format!("Bearer {viewer_jwt}")),
            None,
        );
        assert_eq!(answer.status, 403, "{method} {path}");
    }
    assert!(
        site_files(&site.root())
            .keys()
            .all(|p| !p.starts_with(".sitepack/audit")),
        "nothing was recorded"
    );
}

#[test]
fn the_openapi_document_lists_every_route_and_the_page_is_served() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let doc = server
        .call("GET", "/api/openapi.json", None, None)
        .expect(200)
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, route) in ROUTES {
        assert!(
            doc["paths"][route][method].is_object(),
            "{method} {route} is not documented"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        ROUTES.len() + 1,
        "the document lists a route the server lacks"
    );
    let page = server.call("GET", "/", None, None).expect(200);
    assert!(page.content_type.unwrap().starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("Restore from file"));
    server.call("GET", "/assets/app.js", None, None).expect(200);
    server
        .call("GET", "/assets/../../etc/passwd", None, None)
        .expect(404);
    let unknown = server.get("/api/nothing-here").expect(404);
    assert!(unknown.message().contains("openapi.json"));
}

#[test]
fn stats_and_an_export_that_validates_and_matches_its_digest() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let stats = server.get("/api/backup/stats").expect(200).json();
    assert_eq!(stats["site"]["id"], "acme-shop");
    assert_eq!(stats["stats"]["users"], 12);
    assert!(stats["total"].as_u64().unwrap() > 0 && stats["size_bytes"].as_u64().unwrap() > 0);

    let export = server
        .get("/api/backup/export?scope=full&files=false&label=nightly")
        .expect(200);
    assert_eq!(export.content_type.as_deref(), Some("application/zip"));
    assert_eq!(
        export.digest.as_deref(),
        Some(sha256_hex(&export.body).as_str())
    );
    assert_validates(&export.body);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.zip"), &export.body).unwrap();
    let manifest = crate::util::manifest(&dir.path().join("a.zip"));
    assert_eq!(manifest["label"], "nightly");
    assert_eq!(manifest["options"]["files"], false);

    let bad = server
        .get("/api/backup/export?scope=galaxy:far")
        .expect(400);
    assert!(bad.message().contains("scope"), "{}", bad.message());
    server.get("/api/backup/export?colour=blue").expect(400);

    let audit = server.get("/api/audit?type=create").expect(200).json();
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(
        events[0]["details"]["archive_sha256"],
        export.digest.unwrap().as_str()
    );
    server.get("/api/audit?type=nonsense").expect(400);
    assert!(
        server.temporary_files().is_empty(),
        "{:?}",
        server.temporary_files()
    );
}

/// Applying the upload `imported` (its import's answer) while a restore is pending: 409,
/// naming the pending review.
#[track_caller]
fn assert_pending_refused(server: &Server, imported: &serde_json::Value, mode: &str) {
    let apply = format!(
        "/api/backup/import/{}/apply",
        imported["upload_id"].as_str().unwrap()
    );
    let conflict = server
        .post_json(&apply, &json!({"mode": mode, "confirm": true}))
        .expect(409);
    assert!(
        conflict.message().contains("pending review"),
        "{}",
        conflict.message()
    );
}

/// An archive of the demo site with one tab changed, for restores.
fn changed_archive() -> Vec<u8> {
    let source = TestSite::demo();
    source.write(
        "settings/general.json",
        "{\"shop_name\": \"Changed by the archive\"}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("changed.zip");
    crate::util::create(&source.root(), &out, &[]);
    std::fs::read(out).unwrap()
}

#[test]
fn import_plans_without_changing_then_apply_needs_confirm_and_revert_undoes_it() {
    let site = TestSite::demo();
    let before = site_files(&site.root());
    let server = Server::start(&site.root(), &[]);
    let imported = server.upload(changed_archive()).expect(200).json();
    let id = imported["upload_id"].as_str().unwrap().to_owned();
    assert_eq!(imported["validation"]["valid"], true);
    assert_eq!(imported["preview"]["manifest"]["site"]["id"], "acme-shop");
    for mode in ["merge", "replace"] {
        let changes = imported["plans"][mode]["plan"]["changes"]
            .as_array()
            .unwrap();
        assert!(
            changes.iter().any(|c| c["path"] == "settings/general.json"),
            "{mode}: {changes:?}"
        );
    }
    assert_eq!(
        site_files(&site.root()),
        before,
        "an import changes nothing"
    );

    let apply = format!("/api/backup/import/{id}/apply");
    let refused = server
        .post_json(&apply, &json!({"mode": "merge"}))
        .expect(400);
    assert!(refused.message().contains("confirm"));
    server
        .post_json(&apply, &json!({"mode": "sideways", "confirm": true}))
        .expect(400);
    server
        .post_json(
            &apply,
            &json!({"mode": "merge", "confirm": true, "colour": 1}),
        )
        .expect(400);
    let malformed = server.call(
        "POST",
        &apply,
        Some(&Server::admin()),
        Some(("application/json", b"{\"mode\": \"merge\", ".to_vec())),
    );
    assert_eq!(malformed.status, 400);
    server
        .post_json(
            "/api/backup/import/ffffffffffffffffffffffffffffffff/apply",
            &json!({"mode": "merge", "confirm": true}),
        )
        .expect(404);
    server
        .post_json(
            "/api/backup/import/..%2F..%2Fetc/apply",
            &json!({"mode": "merge", "confirm": true}),
        )
        .expect(404);
    assert_eq!(
        site_files(&site.root()),
        before,
        "refused applies change nothing"
    );

    let restored = server
        .post_json(&apply, &json!({"mode": "merge", "confirm": true}))
        .expect(200)
        .json();
    assert!(
        restored["restore"]["pending"]["id"].is_string(),
        "{restored}"
    );
    assert_eq!(
        std::fs::read_to_string(site.root().join("settings/general.json")).unwrap(),
        "{\"shop_name\": \"Changed by the archive\"}\n"
    );
    let pending = server.get("/api/restore").expect(200).json();
    assert!(pending["pending"]["id"].is_string());

    // A second restore while one is pending: 409, nothing changed.
    let during = site_files(&site.root());
    let second = server.upload(changed_archive()).expect(200).json();
    assert!(second["plans"]["pending_restore"].is_string());
    assert_pending_refused(&server, &second, "replace");
    assert_eq!(site_files(&site.root()), during);
    // The upload was applied once: it is gone.
    server
        .post_json(&apply, &json!({"mode": "merge", "confirm": true}))
        .expect(404);

    server
        .post_json("/api/restore/revert", &json!({"force": "yes"}))
        .expect(400);
    let reverted = server
        .post_json("/api/restore/revert", &json!({}))
        .expect(200)
        .json();
    assert_eq!(reverted["settled"], "revert");
    let mut after = site_files(&site.root());
    after.retain(|p, _| !p.starts_with(".sitepack/"));
    let mut expected = before.clone();
    expected.retain(|p, _| !p.starts_with(".sitepack/"));
    assert_eq!(after, expected, "revert puts the site back");
    assert!(server.get("/api/restore").expect(200).json()["pending"].is_null());
    let nothing = server
        .call("POST", "/api/restore/keep", Some(&Server::admin()), None)
        .expect(409);
    assert!(!nothing.message().is_empty());

    let types: Vec<String> = server.get("/api/audit").expect(200).json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    for wanted in ["restore:ok", "restore:refused", "revert:ok", "keep:refused"] {
        assert!(
            types.iter().any(|t| t == wanted),
            "{wanted} not in {types:?}"
        );
    }
}

#[test]
fn hostile_and_oversized_uploads_are_refused_and_leave_nothing() {
    let site = TestSite::demo();
    let before = site_files(&site.root());
    let server = Server::start(&site.root(), &["--max-upload-bytes", "20000"]);
    let mut traversal = Payload::baseline().zip();
    traversal
        .entries
        .push(Entry::file("../pwned", "x\n").deflated());
    for (what, bytes) in [
        ("traversal", traversal.to_bytes()),
        ("not a zip", b"just some text\n".to_vec()),
        ("empty", Vec::new()),
    ] {
        let answer = server.upload(bytes);
        assert!(
            matches!(answer.status, 400 | 422),
            "{what}: {}",
            answer.status
        );
        assert!(!answer.message().is_empty());
        if what == "traversal" {
            let findings = &answer.json()["error"]["details"]["validation"]["findings"];
            assert!(findings.to_string().contains("UNSAFE_PATH"), "{findings}");
        }
    }
    // Too large, announced by its length or found while streaming: 413.
    let big = server.upload(vec![b'x'; 30_000]).expect(413);
    assert!(big.message().contains("--max-upload-bytes"));
    let streamed = server
        .call(
            "POST",
            "/api/backup/import",
            Some(&Server::admin()),
            Some(("application/zip+chunked", vec![b'x'; 30_000])),
        )
        .expect(413);
    assert!(streamed.message().contains("--max-upload-bytes"));
    // A valid archive under the limit is taken in chunks as well.
    let archive = Payload::baseline().zip().to_bytes();
    assert!(archive.len() < 20_000, "{}", archive.len());
    let taken = server
        .call(
            "POST",
            "/api/backup/import",
            Some(&Server::admin()),
            Some(("application/zip+chunked", archive)),
        )
        .expect(200);
    assert!(taken.json()["upload_id"].is_string());
    assert_eq!(
        server.temporary_files().len(),
        1,
        "only the accepted upload is kept: {:?}",
        server.temporary_files()
    );
    assert_eq!(site_files(&site.root()), before);
    assert!(!site.root().join("../pwned").exists());
}

#[test]
fn saved_backups_are_created_listed_downloaded_restored_and_deleted() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let created = server
        .post_json(
            "/api/backups",
            &json!({"label": "before upgrade", "files": false}),
        )
        .expect(201)
        .json();
    let name = created["backup"]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("acme-shop/"));
    server
        .post_json("/api/backups", &json!({"scope": "nowhere"}))
        .expect(400);
    let listed = server.get("/api/backups").expect(200).json();
    let backups = listed["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0]["label"], "before upgrade");
    assert_eq!(backups[0]["kind"], "manual");

    let encoded = name.replace('/', "%2F");
    let download = server.get(&format!("/api/backups/{encoded}")).expect(200);
    assert_eq!(
        download.digest.as_deref(),
        created["backup"]["sha256"].as_str()
    );
    assert_eq!(
        sha256_hex(&download.body),
        created["backup"]["sha256"].as_str().unwrap()
    );
    assert_validates(&download.body);

    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "other-site%2Fx.zip",
        "acme-shop%2F..%2Fx.zip",
        "acme-shop%2Fnone.zip",
    ] {
        server.get(&format!("/api/backups/{bad}")).expect(404);
        server
            .call(
                "DELETE",
                &format!("/api/backups/{bad}"),
                Some(&Server::admin()),
                None,
            )
            .expect(404);
    }

    site.write(
        "settings/general.json",
        "{\"shop_name\": \"Edited after the backup\"}\n",
    );
    server
        .post_json(
            &format!("/api/backups/{encoded}/restore"),
            &json!({"mode": "merge"}),
        )
        .expect(400);
    let restored = server
        .post_json(
            &format!("/api/backups/{encoded}/restore"),
            &json!({"mode": "merge", "confirm": true}),
        )
        .expect(200)
        .json();
    assert!(
        restored["restore"]["pending"]["id"].is_string(),
        "{restored}"
    );
    assert_ne!(
        std::fs::read_to_string(site.root().join("settings/general.json")).unwrap(),
        "{\"shop_name\": \"Edited after the backup\"}\n"
    );
    server
        .call("POST", "/api/restore/keep", Some(&Server::admin()), None)
        .expect(200);
    assert!(server.get("/api/restore").expect(200).json()["pending"].is_null());

    server
        .call(
            "DELETE",
            &format!("/api/backups/{encoded}"),
            Some(&Server::admin()),
            None,
        )
        .expect(200);
    assert!(
        server.get("/api/backups").expect(200).json()["backups"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        server.temporary_files().is_empty(),
        "{:?}",
        server.temporary_files()
    );
}

#[test]
fn automatic_backup_settings_are_checked_saved_and_run_now() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let shown = server.get("/api/auto").expect(200).json();
    assert_eq!(shown["configured"], false);
    let kept = tempfile::tempdir().unwrap();
    let target = kept.path().join("auto-target");
    let config = site.root().join(".sitepack/config.toml");

    let invalid = server
        .call(
            "PUT",
            "/api/auto",
            Some(&Server::admin()),
            Some((
                "application/json",
                json!({"target": target, "schedule": "sometimes"})
                    .to_string()
                    .into_bytes(),
            )),
        )
        .expect(422);
    assert!(
        invalid.message().contains("sometimes"),
        "{}",
        invalid.message()
    );
    let relative = server
        .call(
            "PUT",
            "/api/auto",
            Some(&Server::admin()),
            Some((
                "application/json",
                json!({"target": "backups"}).to_string().into_bytes(),
            )),
        )
        .expect(422);
    assert!(
        relative.message().contains("relative"),
        "{}",
        relative.message()
    );
    assert!(!config.exists(), "a refused setting writes nothing");

    let settings = json!({
        "enabled": false, "target": target, "schedule": "daily", "time": "03:30",
        "retention": {"keep_last": 3},
    });
    server
        .call(
            "PUT",
            "/api/auto",
            Some(&Server::admin()),
            Some(("application/json", settings.to_string().into_bytes())),
        )
        .expect(200);
    let shown = server.get("/api/auto").expect(200).json();
    assert_eq!(shown["settings"]["time"], "03:30");
    assert_eq!(shown["settings"]["retention"]["keep_last"], 3);
    assert_eq!(shown["settings"]["enabled"], false);
    assert!(shown["next_due"].is_null(), "disabled: nothing is due");
    // Disabled: a cron run with --if-due stores nothing.
    let cron = run([
        "auto".as_ref(),
        "run".as_ref(),
        site.root().as_os_str(),
        "--if-due".as_ref(),
        "--json".as_ref(),
    ])
    .expect(0);
    assert_eq!(cron.json()["ran"], false);

    let report = server
        .call("POST", "/api/auto/run", Some(&Server::admin()), None)
        .expect(200)
        .json();
    assert_eq!(report["ran"], true);
    let stored = report["stored"]["name"].as_str().unwrap().to_owned();
    assert!(target.join(&stored).is_file());
    let audit = server
        .get("/api/audit?type=auto&limit=1")
        .expect(200)
        .json();
    assert_eq!(audit["events"][0]["outcome"], "ok");
    assert!(
        server.get("/api/progress").expect(200).json()["running"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Without --to, the saved backups are the automatic target's.
    drop(server);
    let server = Server::start_untargeted(&site.root());
    let listed = server.get("/api/backups").expect(200).json();
    assert_eq!(listed["backups"][0]["name"], stored, "{listed}");
    assert_eq!(listed["backups"][0]["kind"], "auto");
}

#[test]
fn listening_beyond_loopback_needs_tls_or_an_explicit_opt_in() {
    let site = TestSite::demo();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "a-token-of-enough-length\n").unwrap();
    let refused = run([
        "serve".as_ref(),
        site.root().as_os_str(),
        "--listen".as_ref(),
        "0.0.0.0:0".as_ref(),
        "--token-file".as_ref(),
        dir.path().join("token").as_os_str(),
    ])
    .expect(2);
    assert!(refused.stderr.contains("--tls-cert"), "{}", refused.stderr);
    let no_credential = run([
        "serve".as_ref(),
        site.root().as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
    ])
    .expect(2);
    assert!(
        no_credential.stderr.contains("--token-file"),
        "{}",
        no_credential.stderr
    );
    std::fs::write(dir.path().join("short"), "short\n").unwrap();
    let short = run([
        "serve".as_ref(),
        site.root().as_os_str(),
        "--token-file".as_ref(),
        dir.path().join("short").as_os_str(),
    ])
    .expect(2);
    assert!(short.stderr.contains("16 characters"), "{}", short.stderr);
}

#[test]
fn a_database_site_is_served_too() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo_root().join("fixtures/db-demo"), dir.path());
    let descriptor = dir.path().join("northwind.toml");
    let server = Server::start(&descriptor, &[]);
    let stats = server.get("/api/backup/stats").expect(200).json();
    assert_eq!(stats["kind"], "database");
    assert_eq!(
        stats["database_size_bytes"],
        std::fs::metadata(dir.path().join("fleet.db"))
            .unwrap()
            .len(),
        "the SQLite file's size"
    );
    assert!(stats["total"].as_u64().unwrap() > 0);
    let export = server.get("/api/backup/export").expect(200);
    assert_eq!(
        export.digest.as_deref(),
        Some(sha256_hex(&export.body).as_str())
    );
    assert_validates(&export.body);
    assert!(server.get("/api/restore").expect(200).json()["pending"].is_null());

    // A restore through the API: planned on upload, confirmed, pending review, reverted.
    let db = dir.path().join("fleet.db");
    let before = std::fs::read(&db).unwrap();
    let imported = server.upload(export.body.clone()).expect(200).json();
    for mode in ["merge", "replace"] {
        let tables = imported["plans"][mode]["plan"]["tables"]
            .as_array()
            .unwrap();
        assert!(!tables.is_empty(), "{mode}: {imported}");
    }
    let apply = format!(
        "/api/backup/import/{}/apply",
        imported["upload_id"].as_str().unwrap()
    );
    server
        .post_json(&apply, &json!({"mode": "replace"}))
        .expect(400);
    server
        .post_json(
            &apply,
            &json!({"mode": "replace", "confirm": true, "rewrite_url": ["a=b"]}),
        )
        .expect(400);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "refused: the database is as it was"
    );
    let restored = server
        .post_json(&apply, &json!({"mode": "replace", "confirm": true}))
        .expect(200)
        .json();
    assert!(
        restored["restore"]["pending"]["snapshot"].is_string(),
        "{restored}"
    );
    let pending = server.get("/api/restore").expect(200).json();
    assert!(pending["pending"]["archive"].is_string(), "{pending}");
    let second = server.upload(export.body.clone()).expect(200).json();
    assert!(second["plans"]["pending_restore"].is_string(), "{second}");
    assert_pending_refused(&server, &second, "merge");
    let reverted = server
        .post_json("/api/restore/revert", &json!({}))
        .expect(200)
        .json();
    assert_eq!(reverted["settled"], "revert");
    assert!(server.get("/api/restore").expect(200).json()["pending"].is_null());
    server
        .call("POST", "/api/restore/keep", Some(&Server::admin()), None)
        .expect(409);
    let events: Vec<String> = server.get("/api/audit").expect(200).json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    for wanted in ["restore:ok", "restore:refused", "revert:ok"] {
        assert!(
            events.iter().any(|t| t == wanted),
            "{wanted} not in {events:?}"
        );
    }

    server.post_json("/api/backups", &json!({})).expect(201);
    assert_eq!(
        server.get("/api/backups").expect(200).json()["backups"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_servers_own_reads_wait_for_a_restore_and_another_process_gets_409() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    // Another process (a `sitepack` command) changing the site: 409, nothing changed.
    let id = server.upload(changed_archive()).expect(200).json()["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let apply = format!("/api/backup/import/{id}/apply");
    let before = site_files(&site.root());
    {
        let _held = LockHolder::new(&site.root());
        let busy = server
            .post_json(&apply, &json!({"mode": "replace", "confirm": true}))
            .expect(409);
        assert!(
            busy.message().contains("another sitepack command"),
            "{}",
            busy.message()
        );
    }
    assert_eq!(site_files(&site.root()), before);
    // The page refreshing its stats meanwhile: the restore waits for those reads, and the
    // reads for it; none is refused.
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut answered = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        server.get("/api/backup/stats").expect(200);
                        server.get("/api/restore").expect(200);
                        answered += 1;
                    }
                    answered
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let restored = server.post_json(&apply, &json!({"mode": "replace", "confirm": true}));
        let reverted = server.post_json("/api/restore/revert", &json!({}));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
        restored.expect(200);
        reverted.expect(200);
    });
}

#[test]
fn tls_serves_https_and_a_stop_removes_the_work_directory() {
    let site = TestSite::demo();
    let keys = tempfile::tempdir().unwrap();
    let (cert, key) = (keys.path().join("cert.pem"), keys.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl makes the test certificate (Debian: apt-get install openssl)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let server = Server::start(
        &site.root(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    // A real TLS client that trusts only this certificate.
    let fetch = |auth: &str| {
        let output = std::process::Command::new("python3")
            .args([
                "-c",
                "import ssl, sys, urllib.request, urllib.error\n\
                 context = ssl.create_default_context(cafile=sys.argv[1])\n\
                 request = urllib.request.Request(sys.argv[2], headers={'Authorization': sys.argv[3]})\n\
                 try:\n    answer = urllib.request.urlopen(request, context=context)\n\
                 except urllib.error.HTTPError as error:\n    answer = error\n\
                 print(answer.status)\nprint(answer.headers.get('Strict-Transport-Security'))\nprint(answer.read().decode())",
            ])
            .arg(&cert)
            .arg(format!("{}/api/backup/stats", server.base))
            .arg(auth)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let answer = fetch(&Server::admin());
    // Over TLS, browsers are told to keep to HTTPS.
    assert!(answer.starts_with("200\nmax-age=31536000\n"), "{answer}");
    assert!(answer.contains("acme-shop"), "{answer}");
    assert!(fetch("Bearer nope-nope-nope-nope").starts_with("401\n"));
    // Plain HTTP on the TLS port gets no answer from the API.
    let plain = server.base.replacen("https://", "http://", 1);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    assert!(
        agent
            .get(format!("{plain}/api/backup/stats"))
            .call()
            .map_or(true, |r| r.status() != 200)
    );

    // SIGTERM: the server stops as any command does (130), its work directory (and the
    // uploads in it) removed.
    let mut plain_server = Server::start(&site.root(), &[]);
    plain_server.upload(changed_archive()).expect(200);
    assert_eq!(plain_server.temporary_files().len(), 1);
    assert_eq!(plain_server.stop().code(), Some(130));
    assert!(
        crate::util::listing(&plain_server.dir.path().join("tmp")).is_empty(),
        "the work directory stayed"
    );
}

#[test]
fn a_link_planted_in_the_target_is_never_served() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let created = server
        .post_json("/api/backups", &json!({}))
        .expect(201)
        .json();
    let name = created["backup"]["name"].as_str().unwrap();
    let target = server.dir.path().join("target");
    // A file outside the target, and a link to it dressed as a backup with a sidecar
    // that matches it.
    let secret = server.dir.path().join("secret.txt");
    std::fs::write(&secret, "not for download\n").unwrap();
    let planted = name.replace(".zip", "-planted.zip");
    std::os::unix::fs::symlink(&secret, target.join(&planted)).unwrap();
    let mut sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(target.join(format!("{name}.json"))).unwrap())
            .unwrap();
    sidecar["name"] = planted.clone().into();
    sidecar["size"] = 17.into();
    sidecar["sha256"] = sha256_hex(b"not for download\n").into();
    std::fs::write(target.join(format!("{planted}.json")), sidecar.to_string()).unwrap();
    let encoded = planted.replace('/', "%2F");
    let download = server.get(&format!("/api/backups/{encoded}"));
    assert_ne!(download.status, 200);
    assert!(!String::from_utf8_lossy(&download.body).contains("not for download"));
    let restore = server.post_json(
        &format!("/api/backups/{encoded}/restore"),
        &json!({"mode": "merge", "confirm": true}),
    );
    assert_ne!(restore.status, 200);
    assert!(server.get("/api/restore").expect(200).json()["pending"].is_null());
}

#[test]
fn a_site_moved_away_is_refused_everywhere_and_never_made_anew() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let id = server.upload(changed_archive()).expect(200).json()["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let moved = site.root().with_extension("moved");
    std::fs::rename(site.root(), &moved).unwrap();
    for path in [
        "/api/backup/stats",
        "/api/audit",
        "/api/auto",
        "/api/restore",
    ] {
        let answer = server.get(path).expect(503);
        assert!(answer.message().contains("not there any more"), "{path}");
    }
    server
        .post_json(
            &format!("/api/backup/import/{id}/apply"),
            &json!({"mode": "replace", "confirm": true}),
        )
        .expect(503);
    assert!(!site.root().exists(), "no new site was made where it was");
    std::fs::rename(&moved, site.root()).unwrap();
    server.get("/api/backup/stats").expect(200);
}

#[test]
fn requests_the_api_does_not_take_are_answered_in_json() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    // The scheme's name in any case; a 401 says how to authenticate.
    let lower = format!("bearer {}", crate::util::server::TOKEN);
    server
        .call("GET", "/api/backup/stats", Some(&lower), None)
        .expect(200);
    let refused = server
        .call("GET", "/api/backup/stats", None, None)
        .expect(401);
    assert_eq!(
        refused.www_authenticate.as_deref(),
        Some("Bearer realm=\"sitepack\"")
    );
    // A JWT not valid yet.
    let early = jwt(
        &json!({"role": "admin", "exp": now() + 7200, "nbf": now() + 3600}),
        JWT_SECRET,
    );
    server
        .call(
            "GET",
            "/api/backup/stats",
            Some(&format!("Bearer {early}")),
            None,
        )
        .expect(401);
    // Methods and paths that are not the API's, bodies that are not objects.
    server
        .call("PATCH", "/api/backup/stats", Some(&Server::admin()), None)
        .expect(405)
        .message();
    server.get("/nothing/here").expect(404).message();
    server
        .call(
            "POST",
            "/api/backups",
            Some(&Server::admin()),
            Some(("application/json", b"[\"full\"]".to_vec())),
        )
        .expect(400);
    // A HEAD of the export writes nothing.
    server
        .call("HEAD", "/api/backup/export", Some(&Server::admin()), None)
        .expect(405);
    assert!(
        server.get("/api/audit").expect(200).json()["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Every answer: not sniffed, not cached.
    let answer = server.get("/api/backup/stats");
    assert_eq!(answer.nosniff.as_deref(), Some("nosniff"));
    // An upload is called by its id, never by the server's temporary path.
    let imported = server.upload(changed_archive()).expect(200).json();
    let id = imported["upload_id"].as_str().unwrap();
    assert_eq!(imported["validation"]["archive"], format!("upload {id}"));
    assert!(
        !imported.to_string().contains("sitepack-serve-"),
        "{imported}"
    );
}

#[test]
fn an_upload_too_large_for_a_client_waiting_to_continue_is_refused_at_once() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &["--max-upload-bytes", "1000"]);
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /api/backup/import HTTP/1.1\r\nHost: {address}\r\nAuthorization: {}\r\nContent-Length: 999999999\r\nExpect: 100-continue\r\n\r\n",
        Server::admin()
    )
    .unwrap();
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).unwrap();
    let status = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
}

#[test]
fn automatic_settings_that_auto_run_would_refuse_are_refused_when_saved() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let file = server.dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let elsewhere = server.dir.path().join("backups");
    for (settings, says) in [
        (
            json!({"target": site.root().join("files/backups")}),
            "inside",
        ),
        (json!({"target": file}), "not a directory"),
        (
            json!({"target": "s3://bucket/prefix", "endpoint": "http://user:hunter2@127.0.0.1:9"}),
            "password",
        ),
    ] {
        let refused = server
            .call(
                "PUT",
                "/api/auto",
                Some(&Server::admin()),
                Some(("application/json", settings.to_string().into_bytes())),
            )
            .expect(422);
        assert!(refused.message().contains(says), "{}", refused.message());
        assert!(!refused.message().contains("hunter2"));
    }
    assert!(!site.root().join(".sitepack/config.toml").exists());
    // A config.toml that does not check (written by hand): 422 with why, not a failure.
    std::fs::create_dir_all(site.root().join(".sitepack")).unwrap();
    std::fs::write(
        site.root().join(".sitepack/config.toml"),
        "[auto]\ntarget = \"/tmp/x\"\nschedule = \"15 3 * * 1-5\"\ntime = \"02:30\"\n",
    )
    .unwrap();
    let broken = server.get("/api/auto").expect(422);
    assert!(broken.message().contains("time"), "{}", broken.message());
    std::fs::remove_file(site.root().join(".sitepack/config.toml")).unwrap();
    server
        .call(
            "PUT",
            "/api/auto",
            Some(&Server::admin()),
            Some((
                "application/json",
                json!({"target": elsewhere}).to_string().into_bytes(),
            )),
        )
        .expect(200);
}

#[test]
fn a_tls_key_that_cannot_be_read_is_said_before_serving() {
    let site = TestSite::demo();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "a-token-of-enough-length\n").unwrap();
    std::fs::write(dir.path().join("bad.pem"), "not a key\n").unwrap();
    let failed = run([
        "serve".as_ref(),
        site.root().as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--token-file".as_ref(),
        dir.path().join("token").as_os_str(),
        "--tls-cert".as_ref(),
        dir.path().join("bad.pem").as_os_str(),
        "--tls-key".as_ref(),
        dir.path().join("bad.pem").as_os_str(),
    ])
    .expect(2);
    assert!(!failed.stderr.contains("serving"), "{}", failed.stderr);
    assert!(failed.stderr.contains("bad.pem"), "{}", failed.stderr);
}

/// The audit events of `site` as `type:outcome`, oldest first.
fn audited(site: &TestSite) -> Vec<String> {
    let log =
        std::fs::read_to_string(site.root().join(".sitepack/audit.jsonl")).unwrap_or_default();
    log.lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            format!(
                "{}:{}",
                event["type"].as_str().unwrap(),
                event["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn every_refusal_and_removal_is_audited_once() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    // Another site's archive: refused once, recorded once.
    let other = TestSite::demo();
    other.write(
        "site.json",
        "{\"id\": \"other-shop\", \"name\": \"Other\", \"url\": \"https://other.example\"}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    crate::util::create(&other.root(), &dir.path().join("other.zip"), &[]);
    let id = server
        .upload(std::fs::read(dir.path().join("other.zip")).unwrap())
        .expect(200)
        .json()["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .post_json(
            &format!("/api/backup/import/{id}/apply"),
            &json!({"mode": "merge", "confirm": true}),
        )
        .expect(422);
    assert_eq!(audited(&site), ["restore:refused"]);

    // A saved backup tampered with: refused (422), recorded.
    let created = server
        .post_json("/api/backups", &json!({}))
        .expect(201)
        .json();
    let name = created["backup"]["name"].as_str().unwrap().to_owned();
    let stored = server.dir.path().join("target").join(&name);
    let mut bytes = std::fs::read(&stored).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&stored, bytes).unwrap();
    let encoded = name.replace('/', "%2F");
    server.get(&format!("/api/backups/{encoded}")).expect(422);
    server
        .post_json(
            &format!("/api/backups/{encoded}/restore"),
            &json!({"mode": "merge", "confirm": true}),
        )
        .expect(422);
    assert_eq!(
        audited(&site),
        ["restore:refused", "create:ok", "restore:refused"]
    );
    // Deleted: recorded as a prune without a policy, naming it.
    server
        .call(
            "DELETE",
            &format!("/api/backups/{encoded}"),
            Some(&Server::admin()),
            None,
        )
        .expect(200);
    let events = server.get("/api/audit?type=prune").expect(200).json();
    assert_eq!(
        events["events"][0]["details"]["removed"][0],
        name.as_str(),
        "{events}"
    );
}

#[test]
fn a_backup_while_another_command_changes_the_site_is_a_conflict() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let _held = LockHolder::new(&site.root());
    let busy = server.post_json("/api/backups", &json!({})).expect(409);
    assert!(busy.message().contains("lock"), "{}", busy.message());
    server.get("/api/backup/export").expect(409);
}

#[test]
fn a_revert_that_would_lose_edits_names_them_until_forced() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let id = server.upload(changed_archive()).expect(200).json()["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .post_json(
            &format!("/api/backup/import/{id}/apply"),
            &json!({"mode": "merge", "confirm": true}),
        )
        .expect(200);
    site.write(
        "settings/general.json",
        "{\"shop_name\": \"Edited after the restore\"}\n",
    );
    let refused = server
        .post_json("/api/restore/revert", &json!({}))
        .expect(409);
    assert_eq!(
        refused.json()["error"]["details"]["changed_since_restore"][0],
        "settings/general.json"
    );
    assert!(
        refused.message().contains("\"force\": true"),
        "{}",
        refused.message()
    );
    assert_eq!(
        std::fs::read_to_string(site.root().join("settings/general.json")).unwrap(),
        "{\"shop_name\": \"Edited after the restore\"}\n",
        "the edit stays"
    );
    server
        .post_json("/api/restore/revert", &json!({"force": true}))
        .expect(200);
    assert!(server.get("/api/restore").expect(200).json()["pending"].is_null());
}

#[test]
fn a_second_change_while_a_restore_runs_is_409_at_once() {
    // Enough files that the restore runs long enough to be seen running.
    let source = TestSite::demo();
    for n in 0..1500 {
        source.write(
            &format!("files/bulk/{n:04}.bin"),
            vec![u8::try_from(n % 251).unwrap(); 20_000],
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("bulk.zip");
    crate::util::create(&source.root(), &archive, &["--level", "0"]);
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let id = server
        .upload(std::fs::read(&archive).unwrap())
        .expect(200)
        .json()["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::scope(|scope| {
        let restore = scope.spawn(|| {
            server.post_json(
                &format!("/api/backup/import/{id}/apply"),
                &json!({"mode": "merge", "confirm": true}),
            )
        });
        // Once the progress shows the restore running, it holds the site.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let running = server.get("/api/progress").expect(200).json();
            if running["running"].to_string().contains("\"restore\"") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the restore was never seen running"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let second = server
            .call("POST", "/api/restore/keep", Some(&Server::admin()), None)
            .expect(409);
        assert!(
            second.message().contains("is running"),
            "{}",
            second.message()
        );
        restore.join().unwrap().expect(200);
    });
    assert!(site.root().join("files/bulk/1499.bin").is_file());
}

#[test]
fn the_audit_log_names_the_caller_of_each_api_action() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let alice = jwt(
        &json!({"sub": "alice", "role": "admin", "exp": now() + 600}),
        JWT_SECRET,
    );
    server
        .call(
            "GET",
            "/api/backup/export",
            Some(&format!("Bearer {alice}")),
            None,
        )
        .expect(200);
    server.get("/api/backup/export").expect(200);
    let events = server.get("/api/audit?type=create").expect(200).json();
    let actors: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors.len(), 2, "{events}");
    assert!(actors[0].ends_with(" for api:jwt:alice"), "{actors:?}");
    assert!(actors[1].ends_with(" for api:admin-token"), "{actors:?}");
    // A command's events name its user alone.
    run([
        "create".as_ref(),
        site.root().as_os_str(),
        "-o".as_ref(),
        site.root().with_extension("zip").as_os_str(),
    ])
    .expect(0);
    let last = server
        .get("/api/audit?type=create&limit=1")
        .expect(200)
        .json();
    assert!(
        !last["events"][0]["actor"]
            .as_str()
            .unwrap()
            .contains(" for "),
        "{last}"
    );
}

#[test]
fn uploads_waiting_for_their_apply_are_eight_at_most_the_oldest_going_first() {
    let site = TestSite::demo();
    let server = Server::start(&site.root(), &[]);
    let archive = changed_archive();
    let ids: Vec<String> = (0..9)
        .map(|_| {
            server.upload(archive.clone()).expect(200).json()["upload_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        server.temporary_files().len(),
        8,
        "{:?}",
        server.temporary_files()
    );
    let confirm = json!({"mode": "merge", "confirm": true});
    let evicted = server
        .post_json(&format!("/api/backup/import/{}/apply", ids[0]), &confirm)
        .expect(404);
    assert!(
        evicted.message().contains("upload the archive again"),
        "{}",
        evicted.message()
    );
    server
        .post_json(&format!("/api/backup/import/{}/apply", ids[1]), &confirm)
        .expect(200);
    assert_eq!(
        server.temporary_files().len(),
        7,
        "the applied upload is removed"
    );
}
