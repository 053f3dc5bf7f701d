//! Secrets never travel: every value the policy names is removed before hashing, listed
//! in `redactions`, and found nowhere in the archive; password hashes stay.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::util::{TestSite, create, read_archive};

/// Asserts that no `secret` occurs in any decompressed entry nor in the raw file.
fn assert_absent(archive: &Path, secrets: &[String]) {
    let raw = std::fs::read(archive).unwrap();
    let entries = read_archive(archive);
    for secret in secrets {
        assert!(
            secret.len() >= 6,
            "test secrets must be distinctive: {secret:?}"
        );
        let needle = secret.as_bytes();
        for (name, data) in &entries {
            assert!(
                !data.windows(needle.len()).any(|w| w == needle),
                "{secret:?} leaked into {name}"
            );
        }
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "{secret:?} in the raw archive"
        );
    }
}

/// (path, pointer, record id as JSON text).
fn redactions(archive: &Path) -> BTreeSet<(String, String, String)> {
    crate::util::manifest(archive)["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_owned(),
                r["pointer"].as_str().unwrap().to_owned(),
                r["record"].to_string(),
            )
        })
        .collect()
}

#[test]
fn every_kind_of_secret_is_removed_and_listed() {
    let site = TestSite::bare();
    site.write(
        "site.json",
        r#"{"id": "vault", "name": "Vault", "url": "https://vault.example",
            "secrets": {"keys": ["license_key"], "pointers": ["settings/general.json#/smtp/relay", "modules/crm/contacts.jsonl#/tax_id"]}}"#,
    );
    site.write(
        "settings/general.json",
        r#"{"smtp": {"host": "mail.vault.example", "relay": "relay-user:Rel4yPass!", "password": "Smtp-Pa55word"}, "license_key": "LIC-7Q2W-9E8R"}"#,
    );
    site.write(
        "settings/integrations.json",
        r#"{"stripe": {"api_key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "publishable_key": "pk_live_TYooMQauvdEDq54N", "webhookSecret": "whsec_MbG8Zk3d2"},
            "oauth": [{"client_id": "cid-123456", "clientSecret": "cs-Zx81bQ77", "grants": {"accessToken": "ya29.A0ARrdaM", "refresh_token": "1//0gRefreshTok"}}],
            "slack": {"X-Api-Key": "xapikey-998877"},
            "empty": {"token": "", "password": null}}"#,
    );
    site.write("users/u-1.json", r#"{"id": "u-1", "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "api_token": "utok-5566778899"}"#);
    site.write(
        "modules/crm/contacts.jsonl",
        "{\"id\": \"c-1\", \"user_id\": \"u-1\", \"tax_id\": \"TAX-111-222\"}\n{\"id\": \"c-2\", \"name\": \"no secrets here\"}\n{\"id\": 3, \"nested\": {\"private_key\": \"-----BEGIN PRIVATE KEY-----MIIEvQ\"}}\n",
    );
    site.write(
        "modules/crm/config.json",
        r#"{"sync": {"secret_salt": "salt-A1B2C3D4"}}"#,
    );
    site.write(
        "exports/settings-copy.json",
        r#"{"signing_key": "sign-K3y-0001"}"#,
    );
    site.write("themes/app.jsonl", "{\"bot_token\": \"xoxb-1234-5678\"}\n");

    let secrets: Vec<String> = [
        "relay-user:Rel4yPass!",
        "Smtp-Pa55word",
        "LIC-7Q2W-9E8R",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "whsec_MbG8Zk3d2",
        "cs-Zx81bQ77",
        "ya29.A0ARrdaM",
        "1//0gRefreshTok",
        "xapikey-998877",
        "utok-5566778899",
        "TAX-111-222",
        "-----BEGIN PRIVATE KEY-----MIIEvQ",
        "salt-A1B2C3D4",
        "sign-K3y-0001",
        "xoxb-1234-5678",
    ]
    .map(String::from)
    .to_vec();
    let out = site.out_dir();
    for (name, level) in [("deflated.zip", "6"), ("stored.zip", "0")] {
        let archive = out.join(name);
        create(&site.root(), &archive, &["--level", level]);
        assert_absent(&archive, &secrets);
        let entries = read_archive(&archive);
        let card = String::from_utf8(entries["site/users/u-1.json"].clone()).unwrap();
        assert!(
            card.contains("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"),
            "password hashes stay: {card}"
        );
        let integrations =
            String::from_utf8(entries["site/settings/integrations.json"].clone()).unwrap();
        for kept in [
            "pk_live_TYooMQauvdEDq54N",
            "cid-123456",
            "\"token\": \"\"",
            "\"password\": null",
        ] {
            assert!(
                integrations.contains(kept),
                "{kept} should stay: {integrations}"
            );
        }
        let s = |p: &str, q: &str, r: Value| (p.to_owned(), q.to_owned(), r.to_string());
        let want: BTreeSet<_> = [
            s("site/settings/general.json", "/smtp/relay", Value::Null),
            s("site/settings/general.json", "/smtp/password", Value::Null),
            s("site/settings/general.json", "/license_key", Value::Null),
            s(
                "site/settings/integrations.json",
                "/stripe/api_key",
                Value::Null,
            ),
            s(
                "site/settings/integrations.json",
                "/stripe/webhookSecret",
                Value::Null,
            ),
            s(
                "site/settings/integrations.json",
                "/oauth/0/clientSecret",
                Value::Null,
            ),
            s(
                "site/settings/integrations.json",
                "/oauth/0/grants/accessToken",
                Value::Null,
            ),
            s(
                "site/settings/integrations.json",
                "/oauth/0/grants/refresh_token",
                Value::Null,
            ),
            s(
                "site/settings/integrations.json",
                "/slack/X-Api-Key",
                Value::Null,
            ),
            s("site/users/u-1.json", "/api_token", Value::Null),
            s(
                "site/modules/crm/contacts.jsonl",
                "/tax_id",
                Value::from("c-1"),
            ),
            s(
                "site/modules/crm/contacts.jsonl",
                "/nested/private_key",
                Value::from(3),
            ),
            s(
                "site/modules/crm/config.json",
                "/sync/secret_salt",
                Value::Null,
            ),
            s(
                "site/exports/settings-copy.json",
                "/signing_key",
                Value::Null,
            ),
            s("site/themes/app.jsonl", "/bot_token", Value::Null),
        ]
        .into_iter()
        .collect();
        assert_eq!(redactions(&archive), want);
        let unchanged = &entries["site/modules/crm/contacts.jsonl"];
        assert!(
            String::from_utf8_lossy(unchanged)
                .contains("{\"id\": \"c-2\", \"name\": \"no secrets here\"}\n"),
            "unredacted lines keep their bytes"
        );
    }
}

/// The demo fixture's secrets (fixtures/README.md): file, record id for collections, and
/// JSON pointer. The values are read from the fixture itself.
const DEMO_SECRETS: &[(&str, &str, &str)] = &[
    ("settings/general.json", "", "/smtp/password"),
    ("settings/general.json", "", "/smtp/relay_credentials"),
    ("settings/integrations.json", "", "/stripe/api_key"),
    ("settings/integrations.json", "", "/stripe/webhook_secret"),
    ("settings/integrations.json", "", "/mailchimp/apiKey"),
    (
        "settings/integrations.json",
        "",
        "/google_oauth/client_secret",
    ),
    (
        "settings/integrations.json",
        "",
        "/google_oauth/access_token",
    ),
    (
        "settings/integrations.json",
        "",
        "/google_oauth/refresh_token",
    ),
    ("settings/integrations.json", "", "/slack/token"),
    ("settings/integrations.json", "", "/s3/secret_access_key"),
    (
        "settings/integrations.json",
        "",
        "/outbound_api/signing_key",
    ),
    (
        "settings/integrations.json",
        "",
        "/shipping_labels/private_key",
    ),
    (
        "settings/integrations.json",
        "",
        "/erp/endpoints/orders~1export/token",
    ),
    ("settings/integrations.json", "", "/license/license_key"),
    ("settings/notifications.json", "", "/webhook/secret"),
    (
        "settings/notifications.json",
        "",
        "/partner_webhooks/0/secret",
    ),
    ("settings/notifications.json", "", "/sms/auth_token"),
    ("users/u-bruno.json", "", "/api_token"),
    (
        "modules/orders/orders.jsonl",
        "o-1007",
        "/payment/card_token",
    ),
    (
        "modules/orders/orders.jsonl",
        "o-1019",
        "/payment/card_token",
    ),
    ("modules/orders/config.json", "", "/tax_service/api_key"),
];

/// Keys that look like secrets but are not, and must survive.
const DEMO_KEPT: &[(&str, &str)] = &[
    ("settings/integrations.json", "/stripe/publishable_key"),
    ("settings/integrations.json", "/google_oauth/client_id"),
    ("settings/integrations.json", "/s3/access_key_id"),
];

fn demo_value(root: &Path, file: &str, record: &str, pointer: &str) -> Value {
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    let found = if record.is_empty() {
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .pointer(pointer)
            .cloned()
    } else {
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|r| r["id"] == record)
            .and_then(|r| r.pointer(pointer).cloned())
    };
    found.unwrap_or_else(|| panic!("{file} {record} {pointer} is not in the demo site"))
}

#[test]
fn no_demo_secret_leaves_the_site() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let values: Vec<String> = DEMO_SECRETS
        .iter()
        .map(|(file, record, pointer)| {
            let value = demo_value(&site.root(), file, record, pointer);
            value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned)
        })
        .collect();
    for scope in [
        "full",
        "tab:integrations",
        "tab:general",
        "user:u-bruno",
        "module:orders",
        "user:u-farid",
    ] {
        let archive = out.join(format!("{}.zip", scope.replace(':', "_")));
        create(&site.root(), &archive, &["--scope", scope]);
        assert_absent(&archive, &values);
    }
    let full = out.join("full.zip");
    let listed: BTreeSet<(String, String, String)> = redactions(&full);
    for (file, record, pointer) in DEMO_SECRETS {
        let record = if record.is_empty() {
            Value::Null
        } else {
            Value::from(*record)
        };
        let want = (
            format!("site/{file}"),
            (*pointer).to_owned(),
            record.to_string(),
        );
        assert!(listed.contains(&want), "{want:?} not listed");
    }
    assert_eq!(
        listed.len(),
        DEMO_SECRETS.len(),
        "nothing else is redacted: {listed:?}"
    );
    let entries = read_archive(&full);
    for (file, pointer) in DEMO_KEPT {
        let archived: Value = serde_json::from_slice(&entries[&format!("site/{file}")]).unwrap();
        assert_eq!(
            archived.pointer(pointer),
            Some(&demo_value(&site.root(), file, "", pointer)),
            "{file}#{pointer}"
        );
    }
    let hashes = entries
        .iter()
        .filter(|(n, d)| {
            n.starts_with("site/users/")
                && String::from_utf8_lossy(d).contains("\"password_hash\": \"$argon2id$")
        })
        .count();
    assert!(
        hashes >= 10,
        "password hashes are kept in user cards ({hashes})"
    );
}

/// Regression (issue "Broken promises I", D9): key names the README promises to remove
/// but the policy let through, name/value header pairs, and passwords inside URLs.
#[test]
fn secret_names_in_any_spelling_pairs_and_url_passwords_are_removed() {
    let site = TestSite::demo();
    site.write(
        "settings/vault.json",
        r#"{
  "gpgPassphrase": "v-phrase-7731",
  "sftp": {"Pass": "v-pass-7732", "pwd": "v-pwd-7733", "hostKeyPem": "not a secret name"},
  "ssl": {"sslKey": "v-ssl-7734", "certificate": "kept-cert-7735"},
  "mail_api_keys": ["v-key-7736", "v-key-7737"],
  "session_tokens": {"a": "v-tok-7738"},
  "Ｓｅｃｒｅｔ＿Ｗｏｒｄ": "v-fw-7739",
  "Passphrase\t": "v-tab-7740",
  "outbound": [
    {"header": "x-auth-token", "value": "v-hdr-7741"},
    {"header": "Accept", "value": "kept-hdr-7742"}
  ],
  "warehouse_db": "mysql://wms:v-url-7743@db.internal:3306/wms",
  "docs_link": "https://docs.example/login?next=a:b@c"
}"#,
    );
    site.write(
        "modules/crm/contacts.jsonl",
        "{\"id\": \"c-77\", \"user_id\": \"u-ada\", \"portal\": {\"privKey\": \"v-rec-7744\", \"crmPasswords\": [\"v-rec-7745\"]}}\n",
    );
    let archive = site.out_dir().join("vault.zip");
    create(&site.root(), &archive, &[]);
    let gone: Vec<String> = [
        "v-phrase-7731",
        "v-pass-7732",
        "v-pwd-7733",
        "v-ssl-7734",
        "v-key-7736",
        "v-key-7737",
        "v-tok-7738",
        "v-fw-7739",
        "v-tab-7740",
        "v-hdr-7741",
        "v-url-7743",
        "v-rec-7744",
        "v-rec-7745",
    ]
    .map(String::from)
    .to_vec();
    assert_absent(&archive, &gone);
    let entries = read_archive(&archive);
    let vault = String::from_utf8(entries["site/settings/vault.json"].clone()).unwrap();
    for kept in [
        "kept-cert-7735",
        "kept-hdr-7742",
        "not a secret name",
        "next=a:b@c",
    ] {
        assert!(vault.contains(kept), "{kept} should stay: {vault}");
    }
    let listed = redactions(&archive);
    for pointer in [
        "/gpgPassphrase",
        "/sftp/Pass",
        "/sftp/pwd",
        "/ssl/sslKey",
        "/mail_api_keys",
        "/session_tokens",
        "/Ｓｅｃｒｅｔ＿Ｗｏｒｄ",
        "/Passphrase\t",
        "/outbound/0/value",
        "/warehouse_db",
    ] {
        let want = (
            "site/settings/vault.json".to_owned(),
            pointer.to_owned(),
            "null".to_owned(),
        );
        assert!(listed.contains(&want), "{pointer} not listed: {listed:?}");
    }
    for pointer in ["/portal/privKey", "/portal/crmPasswords"] {
        let want = (
            "site/modules/crm/contacts.jsonl".to_owned(),
            pointer.to_owned(),
            "\"c-77\"".to_owned(),
        );
        assert!(listed.contains(&want), "{pointer} not listed: {listed:?}");
    }
}

/// Regression (D9): credential shapes in files the policy cannot redact (`.env`, `.yaml`,
/// `.ini`, uploads) or left in JSON under harmless keys travelled with no word from
/// `create`. Now `create` refuses each, naming the file, the line or JSON pointer and
/// the shape, never the value.
#[test]
fn create_refuses_secret_credential_shapes_in_any_file_without_repeating_them() {
    let pem_body = "MIIEowIBAAKCAQEAw3pLhE9Zk";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "modules/notes/deploy.env",
            format!("HOST=shop\nTLS_PEM=\"-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\"\n"),
            "modules/notes/deploy.env:2",
            "a PEM private key",
        ),
        (
            "modules/orders/payments.yaml",
            "gateway:\n  mode: live\n  key: sk_live_Zq81mXk2Lp0Rt7Yw\n".to_owned(),
            "modules/orders/payments.yaml:3",
            "a Stripe live secret key",
        ),
        (
            "themes/default/boto.ini",
            "[default]\naws_secret_access_key = Tq7vX2mK9pL4wR8sZ1yB6nC3dF5gH0jQ2aE4uI7o\n"
                .to_owned(),
            "themes/default/boto.ini:2",
            "an AWS secret access key",
        ),
        (
            "files/users/u-zoe/chat-export.txt",
            "zoe: use ghp_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78 for CI\n".to_owned(),
            "files/users/u-zoe/chat-export.txt:1",
            "a GitHub token",
        ),
        (
            "settings/chatops.json",
            r#"{"bots": [{"label": "ci", "note": "xoxp-4242424242-abcdefghij"}]}"#.to_owned(),
            "settings/chatops.json#/bots/0/note",
            "a Slack token",
        ),
        (
            "modules/crm/contacts.jsonl",
            "{\"id\": \"c-k1\", \"user_id\": \"u-ada\", \"memo\": \"rk_live_Pp09Oo98Ii87Uu76\"}\n"
                .to_owned(),
            "modules/crm/contacts.jsonl:1#/memo",
            "a Stripe live secret key",
        ),
    ];
    for (path, text, place, shape) in cases {
        let site = TestSite::demo();
        site.write(path, &text);
        let out = site.out_dir().join("refused.zip");
        let refused = crate::util::try_create(&site.root(), &out, &[]);
        assert_eq!(refused.code, 2, "{path}: {}", refused.stderr);
        for needle in [place, shape, "secrets.allow"] {
            assert!(
                refused.stderr.contains(needle),
                "{path}: no {needle:?} in {}",
                refused.stderr
            );
        }
        for secret_part in [
            pem_body,
            "Zq81mXk2Lp0Rt7Yw",
            "Tq7vX2mK9pL4",
            "Ab12Cd34Ef56",
            "4242424242",
            "Pp09Oo98",
        ] {
            assert!(!refused.stderr.contains(secret_part), "{}", refused.stderr);
        }
        assert!(!out.exists(), "{path}");
    }
}

/// Regression: a credential in a file's name, in the label (as a shape or a URL with a
/// password) or in a JSON member's name travelled, or the refusal printed it. Now
/// `create` refuses each (exit 2) and masks the credential (`…`) wherever it names it.
#[test]
fn create_refuses_credentials_in_names_and_labels_without_printing_them() {
    let secrets = [
        "ABCDEFGHIJ0123456789",
        "LABELSECRET123",
        "LABELPW",
        "KEYNAMESECRET99",
    ];
    let check = |site: &TestSite, args: &[&str], needles: &[&str]| {
        let out = site.out_dir().join("refused.zip");
        let refused = crate::util::try_create(&site.root(), &out, args);
        assert_eq!(refused.code, 2, "{args:?}: {}", refused.stderr);
        for needle in needles {
            assert!(
                refused.stderr.contains(needle),
                "{args:?}: no {needle:?} in {}",
                refused.stderr
            );
        }
        for secret in secrets {
            assert!(!refused.stderr.contains(secret), "{}", refused.stderr);
            assert!(!refused.stdout.contains(secret), "{}", refused.stdout);
        }
        assert!(!out.exists());
    };

    let site = TestSite::demo();
    site.write("files/sk_live_ABCDEFGHIJ0123456789.txt", "hello\n");
    check(
        &site,
        &[],
        &[
            "files: the name of a file",
            "a Stripe live secret key",
            "files/….txt",
            "secrets.allow",
        ],
    );
    check(&site, &["--json"], &["a Stripe live secret key"]);

    let site = TestSite::demo();
    check(
        &site,
        &["--label", "x sk_live_LABELSECRET123"],
        &["the label holds a Stripe live secret key"],
    );
    check(
        &site,
        &["--label", "postgres://u:LABELPW@h"],
        &["the label holds a URL with a password"],
    );

    site.write("settings/x.json", r#"{"sk_live_KEYNAMESECRET99": 1}"#);
    check(
        &site,
        &[],
        &["settings/x.json#/…", "a Stripe live secret key"],
    );
    // A removed member's name travels in the manifest's redactions: refused too.
    site.write(
        "settings/x.json",
        r#"{"sk_live_KEYNAMESECRET99_token": "t"}"#,
    );
    check(
        &site,
        &[],
        &["settings/x.json#/…_token", "a Stripe live secret key"],
    );
    site.write("settings/x.json", "{}");
    site.write(
        "modules/crm/contacts.jsonl",
        "{\"id\": \"c-k9\", \"user_id\": \"u-ada\", \"sk_live_KEYNAMESECRET99_pwd\": \"p\"}\n",
    );
    check(&site, &[], &["modules/crm/contacts.jsonl:1#/…_pwd"]);
}

/// Regression: `"allow": [{"value": "-----BEGIN PRIVATE KEY-----"}]` allowed every PKCS#8
/// private key, since a PEM match was compared by its header line. Now a PEM key is
/// compared as its whole block, and an allowed value that is a header alone makes
/// site.json invalid.
#[test]
fn an_allowed_pem_key_is_that_whole_key_only() {
    let key_a =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    let key_b = key_a.replace("MIIEvQ", "MIIEvB");
    let allowing = |value: &str| {
        let site = TestSite::demo();
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(site.root().join("site.json")).unwrap()).unwrap();
        config["secrets"]["allow"] = serde_json::json!([{"value": value}]);
        site.write("site.json", serde_json::to_vec_pretty(&config).unwrap());
        site
    };

    let site = allowing("-----BEGIN PRIVATE KEY-----");
    site.write("themes/default/tls.key", format!("{key_b}\n"));
    let refused = crate::util::try_create(&site.root(), site.out_dir().join("x.zip"), &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("secrets.allow item 0"),
        "{}",
        refused.stderr
    );

    let site = allowing(key_a);
    site.write("themes/default/tls.key", format!("{key_a}\n"));
    create(&site.root(), &site.out_dir().join("allowed.zip"), &[]);
    site.write("themes/default/other.key", format!("{key_b}\n"));
    let refused = crate::util::try_create(&site.root(), site.out_dir().join("x.zip"), &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("themes/default/other.key:1")
            && refused.stderr.contains("a PEM private key"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("MIIEv"), "{}", refused.stderr);
}

/// Values and files a site lists in `secrets.allow` travel, and `validate --strict` then
/// passes on the archive, as it does on the demo's own backup (AWS's documented example
/// key id is built in).
#[test]
fn allowed_credentials_travel_and_validate_strictly() {
    let demo = TestSite::demo();
    let archive = demo.out_dir().join("demo.zip");
    create(&demo.root(), &archive, &[]);
    crate::util::run([
        "validate".as_ref(),
        archive.as_os_str(),
        "--strict".as_ref(),
    ])
    .expect(0);

    let site = TestSite::demo();
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(site.root().join("site.json")).unwrap()).unwrap();
    config["secrets"]["allow"] = serde_json::json!([
        {"value": "sk_live_TestFixture0042"},
        {"path": "modules/notes/fixtures/**"}
    ]);
    site.write("site.json", serde_json::to_vec_pretty(&config).unwrap());
    site.write(
        "themes/default/sample.env",
        "STRIPE=sk_live_TestFixture0042\n",
    );
    site.write(
        "modules/notes/fixtures/tls/test.key",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIFAKE\n-----END EC PRIVATE KEY-----\n",
    );
    site.write(
        "themes/default/boto.cfg",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    );
    let allowed = site.out_dir().join("allowed.zip");
    create(&site.root(), &allowed, &[]);
    let entries = read_archive(&allowed);
    assert!(entries.contains_key("site/modules/notes/fixtures/tls/test.key"));
    let report = crate::util::run([
        "validate".as_ref(),
        allowed.as_os_str(),
        "--strict".as_ref(),
        "--json".as_ref(),
    ])
    .expect(0)
    .json();
    assert_eq!(report["findings"], serde_json::json!([]), "{report}");

    // The same value elsewhere in another shape's place is still refused: an allowed
    // value is that value only.
    site.write(
        "themes/default/other.env",
        "STRIPE=sk_live_TestFixture0043\n",
    );
    let refused = crate::util::try_create(&site.root(), site.out_dir().join("x.zip"), &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("themes/default/other.env:1"),
        "{}",
        refused.stderr
    );
}
