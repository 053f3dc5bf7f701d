//! Where the JSON content rules apply (docs/FORMAT.md §6.1, §8): uploads under `files/`
//! are bytes whatever their name; JSON Lines that are not collections carry no records;
//! duplicate keys are refused by `create` and reported by `validate`.

use std::path::Path;

use serde_json::Value;

use crate::util::{TestSite, create, manifest, read_archive, run, site_files, try_create};

fn validate(archive: &Path, args: &[&str]) -> crate::util::Run {
    let mut command = vec!["validate".as_ref(), archive.as_os_str(), "--json".as_ref()];
    command.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    run(command)
}

fn entry<'a>(manifest: &'a Value, path: &str) -> &'a Value {
    manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("{path} is not listed"))
}

/// Regression: a `.jsonl` upload got `records` from `create`, which `validate` then
/// called `RECORD_COUNT_MISMATCH` and `restore` refused; a `.json`/`.jsonl` upload that
/// is not JSON made `create` refuse the whole site.
#[test]
fn uploads_named_json_are_archived_as_bytes_validated_and_restored() {
    let site = TestSite::demo();
    let uploads = [
        (
            "files/users/u-lilei/activity.jsonl",
            "{\"kind\":\"checkout\"}\n{\"kind\":\"logout\"}\n",
        ),
        ("files/users/u-zoe/draft.json", "{ not json, half typed"),
        ("files/imports/partial.jsonl", "[1,2\n{\"a\":\n"),
        ("files/imports/twice.json", "{\"k\": 1, \"k\": 2}"),
    ];
    for (path, text) in uploads {
        site.write(path, text);
    }
    // A JSON Lines file outside modules/ and files/ is JSON, but not a collection.
    site.write("themes/default/events.jsonl", "{\"on\":\"load\"}\n\n[3]\n");
    let out = site.out_dir();
    let archive = out.join("uploads.zip");
    create(&site.root(), &archive, &[]);

    let entries = read_archive(&archive);
    let listed = manifest(&archive);
    for (path, text) in uploads {
        let name = format!("site/{path}");
        assert_eq!(entries[&name], text.as_bytes(), "{path} kept byte for byte");
        assert_eq!(entry(&listed, &name).get("records"), None, "{path}");
    }
    assert_eq!(
        entry(&listed, "site/themes/default/events.jsonl").get("records"),
        None,
        "only collections carry records"
    );

    let report = validate(&archive, &[]).expect(0).json();
    assert_eq!(report["valid"], true, "{report}");

    let target = TestSite::bare();
    run([
        "restore".as_ref(),
        archive.as_os_str(),
        target.root().as_os_str(),
        "--yes".as_ref(),
    ])
    .expect(0);
    let restored = site_files(&target.root());
    for (path, text) in uploads {
        assert_eq!(restored[path], text.as_bytes(), "{path} restored as it was");
    }
}

/// A user archive carries the user's uploads the same way.
#[test]
fn a_user_archive_keeps_the_users_json_named_uploads_as_bytes() {
    let site = TestSite::demo();
    site.write("files/users/u-ada/export.jsonl", "not json at all\n");
    let archive = site.out_dir().join("ada.zip");
    create(&site.root(), &archive, &["--scope", "user:u-ada"]);
    assert_eq!(
        read_archive(&archive)["site/files/users/u-ada/export.jsonl"],
        b"not json at all\n"
    );
    validate(&archive, &[]).expect(0);
    // Elsewhere, a broken `.json` is still refused.
    site.write("themes/default/theme.json", "{ broken");
    let refused = try_create(&site.root(), site.out_dir().join("x.zip"), &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("theme.json:1:3"),
        "{}",
        refused.stderr
    );
}

/// Regression: `{"k": "secret", "k": null}` kept only the last `k`, so the secret
/// travelled byte for byte past the policy and `validate` said valid.
#[test]
fn duplicate_keys_make_create_refuse_naming_file_line_and_pointer() {
    let value = "Vq-dup-secret-93";
    let cases = [
        (
            "settings/mailer.json",
            format!(
                "{{\n  \"relay\": {{\"user\": \"m\",\n    \"passphrase\": \"{value}\", \"passphrase\": null}}\n}}\n"
            ),
            "settings/mailer.json:3:",
            "/relay/passphrase",
        ),
        (
            "modules/crm/contacts.jsonl",
            format!(
                "{{\"id\": \"c-x1\"}}\n\n{{\"id\": \"c-x2\", \"api\": [{{\"secret\": \"{value}\", \"secret\": \"\"}}]}}\n"
            ),
            "modules/crm/contacts.jsonl:3:",
            "/api/0/secret",
        ),
        (
            "themes/default/audit.jsonl",
            format!("{{\"seq\": 1, \"seq\": 2, \"v\": \"{value}\"}}\n"),
            "themes/default/audit.jsonl:1:",
            "/seq",
        ),
    ];
    for (path, text, place, pointer) in cases {
        let site = TestSite::demo();
        site.write(path, &text);
        let out = site.out_dir().join("dup.zip");
        let refused = try_create(&site.root(), &out, &[]);
        assert_eq!(refused.code, 2, "{path}: {}", refused.stderr);
        for needle in [place, pointer, "duplicate key"] {
            assert!(
                refused.stderr.contains(needle),
                "{path}: no {needle:?} in {}",
                refused.stderr
            );
        }
        assert!(!refused.stderr.contains(value), "{}", refused.stderr);
        assert!(!out.exists());
    }
}
