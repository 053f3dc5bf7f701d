//! Content (§13.8).

use serde_json::json;
use sitepack_reader::Code;
use sitepack_test_support::zipcraft::Payload;

use super::{Case, README, each, listed, manifest_entry, refused, with_manifest};

#[test]
fn entries_outside_the_declared_scope_are_refused() {
    let tab = Payload::new()
        .with("settings/general.json", "{\"title\": \"t\"}\n")
        .scope("tab:general");
    let user = Payload::new()
        .with("users/u-1.json", "{\"id\": \"u-1\"}\n")
        .scope("user:u-1");
    let case = |name: &str, payload: Payload, path: &str| {
        Case::new(name, payload.zip().to_bytes(), Code::OutOfScope).at(path)
    };
    each(
        vec![
            case(
                "tab archive with a user card",
                tab.clone().with("users/u-1.json", "{\"id\": \"u-1\"}\n"),
                "site/users/u-1.json",
            ),
            case(
                "tab archive with another tab",
                tab.clone().with("settings/billing.json", "{}\n"),
                "site/settings/billing.json",
            ),
            case(
                "tab archive with a file",
                tab.with("files/readme.txt", "x\n"),
                "site/files/readme.txt",
            ),
            case(
                "module archive with a tab",
                Payload::new()
                    .with("modules/crm/notes.json", "{}\n")
                    .with("settings/general.json", "{}\n")
                    .scope("module:crm"),
                "site/settings/general.json",
            ),
            case(
                "user archive with another user's card",
                user.clone().with("users/u-2.json", "{\"id\": \"u-2\"}\n"),
                "site/users/u-2.json",
            ),
            case(
                "user archive with another user's files",
                user.clone().with("files/users/u-2/cv.pdf", "%PDF\n"),
                "site/files/users/u-2/cv.pdf",
            ),
            case(
                "user archive with another user's record",
                user.with(
                    "modules/crm/contacts.jsonl",
                    "{\"id\":\"c-1\",\"user_id\":\"u-1\"}\n{\"id\":\"c-2\",\"user_id\":\"u-2\"}\n",
                ),
                "site/modules/crm/contacts.jsonl",
            ),
            case(
                "data-only archive with a file",
                Payload::baseline().data_only(),
                README,
            ),
            case(
                "sitepack's own state",
                Payload::baseline().with(".sitepack/audit.jsonl", "{}\n"),
                "site/.sitepack/audit.jsonl",
            ),
        ],
        refused,
    );
}

#[test]
fn record_count_mismatches_are_refused() {
    let contacts = "site/modules/crm/contacts.jsonl";
    let tab = "site/settings/general.json";
    let records = |path: &'static str, records: Option<i64>| {
        with_manifest(move |m| {
            let entry = manifest_entry(m, path).as_object_mut().unwrap();
            match records {
                Some(n) => entry.insert("records".to_owned(), json!(n)),
                None => entry.remove("records"),
            };
        })
    };
    each(
        vec![
            Case::new(
                "one record too many",
                records(contacts, Some(3)),
                Code::RecordCountMismatch,
            )
            .at(contacts),
            Case::new(
                "one record too few",
                records(contacts, Some(1)),
                Code::RecordCountMismatch,
            )
            .at(contacts),
            Case::new(
                "records absent",
                records(contacts, None),
                Code::RecordCountMismatch,
            )
            .at(contacts),
            Case::new(
                "records on a tab",
                records(tab, Some(1)),
                Code::RecordCountMismatch,
            )
            .at(tab),
        ],
        refused,
    );
}

#[test]
fn bad_content_is_refused() {
    let case = |name: &str, relative: &str, data: &str, code: Code| {
        Case::new(name, listed(relative, data), code).at(&format!("site/{relative}"))
    };
    let contacts = "modules/crm/contacts.jsonl";
    each(
        vec![
            case(
                "tab not JSON",
                "settings/general.json",
                "{\"title\": ",
                Code::InvalidJson,
            ),
            case(
                "tab an array",
                "settings/general.json",
                "[1, 2]\n",
                Code::InvalidJson,
            ),
            case(
                "two documents",
                "modules/crm/pipeline.json",
                "{}\n{}\n",
                Code::InvalidJson,
            ),
            case(
                "other JSON not JSON",
                "themes/app.json",
                "nope\n",
                Code::InvalidJson,
            ),
            case("record an array", contacts, "[1]\n", Code::InvalidJsonl),
            case(
                "record without id",
                contacts,
                "{\"name\": \"x\"}\n",
                Code::InvalidJsonl,
            ),
            case(
                "record id a fraction",
                contacts,
                "{\"id\": 1.5}\n",
                Code::InvalidJsonl,
            ),
            case(
                "record id too large",
                contacts,
                "{\"id\": 9223372036854775808}\n",
                Code::InvalidJsonl,
            ),
            // Regression: the second of two equal keys hid the first one's secret.
            case(
                "duplicate key in a tab",
                "settings/general.json",
                "{\"mail\": {\"pass\": \"Kz-dup-77\", \"pass\": null}}\n",
                Code::InvalidJson,
            )
            .saying("/mail/pass"),
            case(
                "duplicate key in a record",
                contacts,
                "{\"id\": \"c-1\"}\n{\"id\": \"c-2\", \"id\": \"c-3\"}\n",
                Code::InvalidJsonl,
            )
            .saying("line 2 column 18: duplicate key /id"),
            case(
                "duplicate key in other JSON Lines",
                "themes/log.jsonl",
                "{\"x\": [{\"auth\": 1, \"auth\": 2}]}\n",
                Code::InvalidJson,
            )
            .saying("/x/0/auth"),
            case(
                "duplicate key in site.json",
                "site.json",
                r#"{"id": "hostile", "name": "Test site hostile", "url": "https://hostile.example", "url": "https://hostile.example"}"#,
                Code::InvalidJson,
            )
            .saying("/url"),
            case(
                "duplicate record id",
                contacts,
                "{\"id\": \"c-1\"}\n{\"id\": \"c-1\"}\n",
                Code::DuplicateRecordId,
            ),
            case(
                "user card of another id",
                "users/u-1.json",
                "{\"id\": \"u-2\"}\n",
                Code::UserIdMismatch,
            ),
            case(
                "site.json of another site",
                "site.json",
                r#"{"id": "other", "name": "Test site hostile", "url": "https://hostile.example"}"#,
                Code::SiteMismatch,
            ),
            Case::new(
                "area of the readme says tab",
                with_manifest(|m| manifest_entry(m, README)["area"] = json!("tab")),
                Code::AreaMismatch,
            )
            .at(README),
        ],
        refused,
    );
}
