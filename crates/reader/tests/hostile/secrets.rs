//! Secrets (§13.9).

use sitepack_reader::Code;
use sitepack_test_support::zipcraft::Payload;

use super::{Case, Opt, Sandbox, accepted, each, listed, refused, validate, warned};

const SECRET: &str = "hunter2-do-not-print";

#[test]
fn secrets_present_are_refused_without_repeating_them() {
    let case = |name: &str, payload: Payload, path: &str| {
        Case::new(name, payload.zip().to_bytes(), Code::SecretPresent).at(path)
    };
    let site_keys = r#"{"id": "hostile", "name": "Test site hostile", "url": "https://hostile.example", "secrets": {"keys": ["pin"]}}"#;
    each(
        vec![
            case(
                "password in a tab",
                Payload::baseline().with(
                    "settings/general.json",
                    format!("{{\"title\": \"t\", \"password\": \"{SECRET}\"}}\n"),
                ),
                "site/settings/general.json",
            ),
            case(
                "nested apiKey in a user card",
                Payload::baseline().with(
                    "users/u-1.json",
                    format!("{{\"id\": \"u-1\", \"crm\": {{\"apiKey\": \"{SECRET}\"}}}}\n"),
                ),
                "site/users/u-1.json",
            ),
            case(
                "token in a record",
                Payload::baseline().with(
                    "modules/crm/contacts.jsonl",
                    format!("{{\"id\":\"c-1\",\"portal\":{{\"token\":\"{SECRET}\"}}}}\n"),
                ),
                "site/modules/crm/contacts.jsonl",
            ),
            case(
                "client_secret in another JSON file",
                Payload::baseline().with(
                    "themes/config.json",
                    format!("{{\"client_secret\": \"{SECRET}\"}}\n"),
                ),
                "site/themes/config.json",
            ),
            // Regression: names and places the policy once let through (D9).
            case(
                "full-width password in a tab",
                Payload::baseline().with(
                    "settings/general.json",
                    format!("{{\"ｐａｓｓｗｏｒｄ\": \"{SECRET}\"}}\n"),
                ),
                "site/settings/general.json",
            ),
            case(
                "plural apiKeys in a record",
                Payload::baseline().with(
                    "modules/crm/contacts.jsonl",
                    format!("{{\"id\":\"c-1\",\"apiKeys\":[\"{SECRET}\"]}}\n"),
                ),
                "site/modules/crm/contacts.jsonl",
            ),
            case(
                "a header given as name and value",
                Payload::baseline().with(
                    "themes/hooks.json",
                    format!("{{\"headers\": [{{\"name\": \"Proxy-Authorization\", \"value\": \"{SECRET}\"}}]}}\n"),
                ),
                "site/themes/hooks.json",
            ),
            case(
                "a URL with a password",
                Payload::baseline().with(
                    "settings/general.json",
                    format!("{{\"cache\": \"redis://cache:{SECRET}@10.0.0.7:6379/0\"}}\n"),
                ),
                "site/settings/general.json",
            ),
            case(
                "a key the site declares secret",
                Payload::baseline().with("site.json", site_keys).with(
                    "settings/general.json",
                    format!("{{\"pin\": \"{SECRET}\"}}\n"),
                ),
                "site/settings/general.json",
            ),
        ],
        |case| {
            refused(case);
            let sandbox = Sandbox::holding(&case.bytes);
            let report = validate(&sandbox.archive(), &[]);
            assert!(
                !report.json.contains(SECRET),
                "{}: the report repeats the secret",
                case.name
            );
        },
    );
}

#[test]
fn credential_shapes_are_warnings_without_repeating_them() {
    const SHAPES: &[&str] = &[
        "AKIAZ7Q2W4E6R8T0Y3U5",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "xoxb-1234567890-abcdefghij",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----",
    ];
    let mut cases: Vec<Case> = SHAPES
        .iter()
        .map(|shape| {
            let bytes = listed("files/notes.txt", format!("deploy with {shape} today\n"));
            Case::new(*shape, bytes, Code::CredentialShape).at("site/files/notes.txt")
        })
        .collect();
    cases.push(Case::new(
        format!("label with {}", SHAPES[0]),
        Payload::baseline()
            .label(&format!("before rotating {}", SHAPES[0]))
            .zip()
            .to_bytes(),
        Code::CredentialShape,
    ));
    each(cases, |case| {
        warned(case);
        let sandbox = Sandbox::holding(&case.bytes);
        let report = validate(&sandbox.archive(), &[]);
        for shape in SHAPES {
            assert!(
                !report.json.contains(shape),
                "{}: the report repeats it",
                case.name
            );
        }
        // A warning does not stop extraction.
        let out = sandbox.out();
        sandbox.extract().unwrap();
        assert!(out.join("manifest.json").is_file());
    });
}

/// Regression: a credential in an entry's name (or in a JSON member's name) was not
/// reported, and any finding about the entry printed the name with the credential. Now
/// the name is a `CREDENTIAL_SHAPE` warning and every finding masks the credential (`…`).
#[test]
fn credentials_in_entry_and_member_names_are_reported_masked() {
    const SECRETS: &[&str] = &["ABCDEFGHIJ0123456789", "KEYNAMESECRET99"];
    let payload = Payload::baseline().with("settings/x.json", "{}\n");
    let mut manifest = payload.manifest();
    manifest["redactions"] = serde_json::json!([
        {"path": "site/settings/x.json", "pointer": "/sk_live_KEYNAMESECRET99_token"}
    ]);
    manifest["stats"]["redactions"] = 1.into();
    let cases = vec![
        Case::new(
            "redaction pointer",
            payload.zip_with(&manifest).to_bytes(),
            Code::CredentialShape,
        )
        .at("manifest.json")
        .saying("/…_token"),
        Case::new(
            "file name",
            listed("files/sk_live_ABCDEFGHIJ0123456789.txt", "hello\n"),
            Code::CredentialShape,
        )
        .at("site/files/….txt")
        .saying("name"),
        Case::new(
            "member name",
            listed("settings/x.json", r#"{"sk_live_KEYNAMESECRET99": 1}"#),
            Code::CredentialShape,
        )
        .at("site/settings/x.json"),
    ];
    each(cases, |case| {
        warned(case);
        let sandbox = Sandbox::holding(&case.bytes);
        for args in [&[][..], &[Opt::Strict][..]] {
            let report = validate(&sandbox.archive(), args);
            for secret in SECRETS {
                assert!(
                    !report.json.contains(secret),
                    "{}: the report repeats it: {}",
                    case.name,
                    report.json
                );
            }
        }
    });
}

/// Regression (D9): a credential shape in JSON was reported without its place, and AWS's
/// documented example key id made `validate --strict` fail with no way to accept it.
#[test]
fn credential_shapes_in_json_name_their_pointer_and_allowed_ones_are_quiet() {
    let contacts = "modules/crm/contacts.jsonl";
    let warn = |name: &str, path: &str, data: &str, saying: &'static str| {
        Case::new(name, listed(path, data), Code::CredentialShape)
            .at(&format!("site/{path}"))
            .saying(saying)
    };
    each(
        vec![
            warn(
                "in a tab",
                "settings/general.json",
                "{\"ops\": {\"deploy\": \"ghp_Zz09Yy98Xx87Ww76Vv65Uu54Tt43Ss32Rr21\"}}\n",
                "at /ops/deploy contains something shaped like a GitHub token",
            ),
            warn(
                "in a record",
                contacts,
                "{\"id\": \"c-1\", \"memo\": [\"xoxb-9876543210-zyxwvutsrq\"]}\n",
                "record \"c-1\" at /memo/0",
            ),
            warn(
                "in other JSON Lines",
                "themes/log.jsonl",
                "{}\n{\"k\": \"-----BEGIN DSA PRIVATE KEY-----\"}\n",
                "line 2 at /k",
            ),
            warn(
                "on a line of a module file",
                "modules/crm/app.env",
                "A=1\nB=sk_live_Mm12Nn34Bb56Vv78\n",
                "line 2 contains",
            ),
        ],
        warned,
    );
    let site_allowing = r#"{"id": "hostile", "name": "Test site hostile", "url": "https://hostile.example", "secrets": {"allow": [{"value": "sk_live_Mm12Nn34Bb56Vv78"}, {"path": "files/keys/*.pem"}]}}"#;
    each(
        vec![
            Case::clean(
                "AWS's documented example key id",
                listed("files/notes.txt", "id AKIAIOSFODNN7EXAMPLE\n"),
            ),
            Case::clean(
                "a value the site allows",
                Payload::baseline()
                    .with("site.json", site_allowing)
                    .with("modules/crm/app.env", "B=sk_live_Mm12Nn34Bb56Vv78\n")
                    .zip()
                    .to_bytes(),
            ),
            Case::clean(
                "a file the site allows",
                Payload::baseline()
                    .with("site.json", site_allowing)
                    .with("files/keys/test.pem", "-----BEGIN PRIVATE KEY-----\n")
                    .zip()
                    .to_bytes(),
            ),
        ],
        accepted,
    );
}
