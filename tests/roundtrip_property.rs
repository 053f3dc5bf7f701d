//! Every archive `create` writes validates and restores with default options: random
//! valid sites → `sitepack create` → `sitepack validate` (exit 0) → `sitepack restore
//! ARCHIVE EMPTY_DIR --yes` → the restored site holds exactly the same files, byte for
//! byte.
//!
//! The sites are valid (docs/FORMAT.md §4–§8): `site.json` with a random id, name and
//! URL; settings tabs; user cards whose `id` is their file stem; modules with collections
//! (unique string and integer ids, some records owned by the site's users, blank lines,
//! with and without a final newline), documents and byte files (nested too); uploads
//! under `files/**` and `files/users/<id>/**` with random names (ASCII, spaces,
//! parentheses, accented letters, CJK; never two paths equal after case folding, never a
//! file where another needs a directory); contents empty, random bytes, repetitive, more
//! than 1 MiB of zeros, pretty or compact JSON; `.json` and `.jsonl` files with arbitrary
//! (even non-JSON) content under `files/`; JSON Lines outside module collections. Keys of
//! generated JSON are `field_N`, never secret-looking (the secret policy would remove
//! those, legitimately).
//!
//! What is compared: the set of files (site-relative paths, `.sitepack/` aside) and each
//! file's bytes. Not compared: modes (the format normalizes them; a restore writes new
//! files 0644) and directories (the format has no directory entries: empty directories
//! are never generated).
//!
//! Cases: 16 by default, a few seconds each at most (a site has at most a few dozen
//! small files, and sometimes one of a little over 1 MiB). For a longer run:
//! `PROPTEST_CASES=1000 cargo test -p sitepack-cli --test e2e -- roundtrip_property`;
//! `PROPTEST_RNG_SEED=N` repeats a run, `PROPTEST_MAX_SHRINK_ITERS` bounds shrinking
//! (default here 256). Failures are not persisted to a file: proptest prints the minimal
//! failing site.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value};

use crate::util::{TestSite, run, site_files};

/// The generators of content the format allows; each can be turned off to look at the
/// others alone.
struct Kinds {
    /// JSON Lines that are not module collections (`data/x.jsonl`, `files/…/x.jsonl`,
    /// `modules/M/sub/x.jsonl`).
    jsonl_outside_collections: bool,
    /// A file of more than 1 MiB of zeros.
    big_repetitive: bool,
    /// `.json` and `.jsonl` files under `files/` with arbitrary bytes (uploads are bytes).
    non_json_uploads: bool,
}

const KINDS: Kinds = Kinds {
    jsonl_outside_collections: true,
    big_repetitive: true,
    non_json_uploads: true,
};

/// A site: `site.json`'s id, and every file (site-relative path → bytes).
#[derive(Clone)]
struct SiteSpec {
    id: String,
    files: BTreeMap<String, Vec<u8>>,
}

/// One line per file: its path, size and (the start of) its content, so that a minimal
/// failing site reads at a glance.
impl std::fmt::Debug for SiteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "site {} ({} files):", self.id, self.files.len())?;
        for (path, bytes) in &self.files {
            let shown = &bytes[..bytes.len().min(80)];
            let more = if bytes.len() > shown.len() { "…" } else { "" };
            match std::str::from_utf8(shown) {
                Ok(text) => writeln!(f, "  {path} ({} bytes): {text:?}{more}", bytes.len())?,
                Err(_) => writeln!(f, "  {path} ({} bytes): {shown:?}{more}", bytes.len())?,
            }
        }
        Ok(())
    }
}

/// A valid name (FORMAT.md §5) that is not a Windows device name, without `.`.
fn name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_-]{0,7}".prop_filter("reserved", |n| !reserved(n))
}

/// Is `component` a reserved name (FORMAT.md §4, rule 12)?
fn reserved(component: &str) -> bool {
    let stem = component.split('.').next().unwrap().trim_end_matches(' ');
    let upper = stem.to_uppercase();
    if ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"].contains(&upper.as_str()) {
        return true;
    }
    let mut chars = upper.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    let rest: Vec<char> = chars.collect();
    (prefix == "COM" || prefix == "LPT")
        && rest.len() == 1
        && (rest[0].is_ascii_digit() || "¹²³".contains(rest[0]))
}

/// One component of an upload's path: letters whose case folding is their lowercase, so
/// that `to_lowercase` is the collision key; never ending in `.` or a space.
fn component() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_äéøÅÉ李雷(-][a-zA-Z0-9 _()äéøÅÉ李雷.-]{0,10}[a-zA-Z0-9_)äÅ李-]"
        .prop_filter("a valid component", |c| {
            !reserved(c) && c != "." && c != ".." && c.len() <= 255
        })
}

/// A file name: a component and an extension.
fn file_name(extensions: &'static [&'static str]) -> impl Strategy<Value = String> {
    (component(), prop::sample::select(extensions)).prop_map(|(stem, ext)| format!("{stem}{ext}"))
}

/// Up to two directories, `/`-terminated (or nothing).
fn dirs() -> impl Strategy<Value = String> {
    prop::collection::vec(component(), 0..=2).prop_map(|dirs| {
        dirs.iter()
            .flat_map(|d| [d.as_str(), "/"])
            .collect::<String>()
    })
}

/// Bytes: empty, random, repetitive, or (when on) more than 1 MiB of zeros.
fn bytes() -> BoxedStrategy<Vec<u8>> {
    let small = prop_oneof![
        2 => Just(Vec::new()),
        5 => prop::collection::vec(any::<u8>(), 0..2048),
        2 => (prop::collection::vec(any::<u8>(), 1..6), 1..20_000usize)
            .prop_map(|(unit, times)| unit.repeat(times)),
    ];
    if KINDS.big_repetitive {
        prop_oneof![
            12 => small,
            1 => (1_048_577..1_300_000usize).prop_map(|size| vec![0u8; size]),
        ]
        .boxed()
    } else {
        small.boxed()
    }
}

/// A JSON value with `field_N` keys.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            object(inner),
        ]
    })
}

/// A JSON object with `field_N` keys and values from `values`.
fn object(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(0..1000u32, values, 0..5).prop_map(|fields| {
        Value::Object(
            fields
                .into_iter()
                .map(|(n, v)| (format!("field_{n}"), v))
                .collect::<Map<String, Value>>(),
        )
    })
}

/// A JSON document, compact or pretty.
fn document(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<u8>> {
    (value, any::<bool>()).prop_map(|(value, pretty)| {
        if pretty {
            serde_json::to_vec_pretty(&value).unwrap()
        } else {
            serde_json::to_vec(&value).unwrap()
        }
    })
}

/// JSON Lines: one value per line, some blank lines, with or without a final newline.
fn lines(records: &[Value], blank_after: &[usize], final_newline: bool) -> Vec<u8> {
    let mut out = String::new();
    for (index, record) in records.iter().enumerate() {
        out.push_str(&serde_json::to_string(record).unwrap());
        out.push('\n');
        if blank_after.contains(&index) {
            out.push_str(" \t\n");
        }
    }
    if !final_newline && out.ends_with('\n') {
        out.pop();
    }
    out.into_bytes()
}

/// A collection: unique ids (strings and integers), records owned by one of `users` or
/// by nobody.
fn collection(users: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let record = (
        object(json_value()),
        any::<bool>(),
        any::<prop::sample::Index>(),
        any::<bool>(),
    );
    (
        prop::collection::vec(record, 0..6),
        prop::collection::vec(0..6usize, 0..2),
        any::<bool>(),
    )
        .prop_map(move |(records, blank_after, final_newline)| {
            let records: Vec<Value> = records
                .into_iter()
                .enumerate()
                .map(|(i, (mut record, integer_id, owner, owned))| {
                    let id = if integer_id {
                        Value::from(i64::try_from(i).unwrap() * 7 - 3)
                    } else {
                        Value::from(format!("r-{i}"))
                    };
                    record["id"] = id;
                    if owned && !users.is_empty() {
                        record["user_id"] = owner.get(&users).clone().into();
                    }
                    record
                })
                .collect();
            lines(&records, &blank_after, final_newline)
        })
}

/// JSON Lines that are not a collection: any JSON values, no id rules.
fn json_lines() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(json_value(), 0..5),
        prop::collection::vec(0..5usize, 0..2),
        any::<bool>(),
    )
        .prop_map(|(values, blank_after, final_newline)| {
            lines(&values, &blank_after, final_newline)
        })
}

/// A module: collections, documents, byte files (some nested), and (when on) JSON Lines
/// below it that are not collections.
fn module(users: Vec<String>) -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let collections = prop::collection::vec((name(), collection(users)), 0..3);
    let documents = prop::collection::vec((name(), document(object(json_value()))), 0..3);
    let byte_files = prop::collection::vec(
        (
            dirs(),
            file_name(&[".bin", ".txt", ".html", ".png", ""]),
            bytes(),
        ),
        0..3,
    );
    let nested_lines = if KINDS.jsonl_outside_collections {
        prop::collection::vec((component(), name(), json_lines()), 0..2).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (collections, documents, byte_files, nested_lines).prop_map(
        |(collections, documents, byte_files, nested_lines)| {
            let mut files = Vec::new();
            files.extend(
                collections
                    .into_iter()
                    .map(|(n, c)| (format!("{n}.jsonl"), c)),
            );
            files.extend(documents.into_iter().map(|(n, d)| (format!("{n}.json"), d)));
            files.extend(
                byte_files
                    .into_iter()
                    .map(|(d, n, b)| (format!("{d}{n}"), b)),
            );
            files.extend(
                nested_lines
                    .into_iter()
                    .map(|(d, n, l)| (format!("{d}/{n}.jsonl"), l)),
            );
            files
        },
    )
}

/// Uploads under `prefix` (`files/` or `files/users/ID/`): bytes, valid JSON, and (when
/// on) `.json`/`.jsonl` with arbitrary bytes and JSON Lines.
fn uploads(prefix: String) -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let mut kinds = vec![
        (
            dirs(),
            file_name(&[".bin", ".txt", ".jpg", ".PDF", ".tar.gz", ""]),
            bytes(),
        )
            .boxed(),
        (dirs(), file_name(&[".json"]), document(json_value())).boxed(),
    ];
    if KINDS.non_json_uploads {
        kinds.push((dirs(), file_name(&[".json", ".jsonl"]), bytes()).boxed());
    }
    if KINDS.jsonl_outside_collections {
        kinds.push((dirs(), file_name(&[".jsonl"]), json_lines()).boxed());
    }
    prop::collection::vec(prop::strategy::Union::new(kinds), 0..6).prop_map(move |files| {
        files
            .into_iter()
            .map(|(d, n, b)| (format!("{prefix}{d}{n}"), b))
            .collect()
    })
}

/// A whole site.
fn site() -> impl Strategy<Value = SiteSpec> {
    let identity = (name(), "[A-Za-z0-9 äé]{1,16}");
    let users = prop::collection::btree_set(name().prop_map(|n| format!("u-{n}")), 0..3);
    (identity, users).prop_flat_map(|((id, site_name), users)| {
        let users: Vec<String> = users.into_iter().collect();
        let tabs = prop::collection::vec((name(), document(object(json_value()))), 0..3);
        let cards = users
            .iter()
            .map(|u| {
                let u = u.clone();
                document(object(json_value()).prop_map(move |mut card| {
                    card["id"] = u.clone().into();
                    card
                }))
            })
            .collect::<Vec<_>>();
        let modules = prop::collection::vec((name(), module(users.clone())), 0..3);
        let user_uploads = users
            .iter()
            .map(|u| uploads(format!("files/users/{u}/")))
            .collect::<Vec<_>>();
        let other = prop::collection::vec(
            prop_oneof![
                (dirs(), file_name(&[".css", ".txt", ""]), bytes()),
                (dirs(), file_name(&[".json"]), document(json_value())),
            ],
            0..3,
        );
        let other_lines = if KINDS.jsonl_outside_collections {
            prop::collection::vec((name(), json_lines()), 0..2).boxed()
        } else {
            Just(Vec::new()).boxed()
        };
        (
            Just((id, site_name, users)),
            tabs,
            cards,
            modules,
            uploads("files/".to_owned()),
            user_uploads,
            (other, other_lines),
        )
            .prop_map(
                |(
                    (id, site_name, users),
                    tabs,
                    cards,
                    modules,
                    files,
                    user_files,
                    (other, other_lines),
                )| {
                    let mut all: Vec<(String, Vec<u8>)> = Vec::new();
                    let site_json = serde_json::json!({
                        "id": id,
                        "name": site_name,
                        "url": format!("https://{id}.example"),
                    });
                    all.push((
                        "site.json".into(),
                        serde_json::to_vec_pretty(&site_json).unwrap(),
                    ));
                    all.extend(
                        tabs.into_iter()
                            .map(|(n, d)| (format!("settings/{n}.json"), d)),
                    );
                    all.extend(
                        users
                            .iter()
                            .zip(cards)
                            .map(|(u, c)| (format!("users/{u}.json"), c)),
                    );
                    for (m, items) in modules {
                        all.extend(
                            items
                                .into_iter()
                                .map(|(p, b)| (format!("modules/{m}/{p}"), b)),
                        );
                    }
                    all.extend(files);
                    all.extend(user_files.into_iter().flatten());
                    // "Other": anywhere but the areas above ( `other/` keeps it so).
                    all.extend(
                        other
                            .into_iter()
                            .map(|(d, n, b)| (format!("other/{d}{n}"), b)),
                    );
                    all.extend(
                        other_lines
                            .into_iter()
                            .map(|(n, l)| (format!("data/{n}.jsonl"), l)),
                    );
                    SiteSpec {
                        id,
                        files: without_collisions(all),
                    }
                },
            )
    })
}

/// The files in order, leaving out any whose path collides with an earlier one
/// (FORMAT.md §4: the same collision key, or a file where another needs a directory).
/// The generated names fold to their lowercase, which is then the collision key.
fn without_collisions(files: Vec<(String, Vec<u8>)>) -> BTreeMap<String, Vec<u8>> {
    let mut keys: Vec<String> = Vec::new();
    let mut kept = BTreeMap::new();
    for (path, bytes) in files {
        let key = path.to_lowercase();
        let collides = keys.iter().any(|other| {
            *other == key
                || other.starts_with(&format!("{key}/"))
                || key.starts_with(&format!("{other}/"))
        });
        if !collides {
            keys.push(key);
            kept.insert(path, bytes);
        }
    }
    kept
}

/// `create` → `validate` → `restore` into an empty directory → the same files.
fn round_trip(spec: &SiteSpec) -> Result<(), TestCaseError> {
    let site = TestSite::bare();
    let root = site.root();
    for (path, bytes) in &spec.files {
        site.write(path, bytes);
    }
    let archive = site.out_dir().join("site.zip");
    let created = run([
        "create".as_ref(),
        root.as_os_str(),
        "-o".as_ref(),
        archive.as_os_str(),
    ]);
    prop_assert_eq!(created.code, 0, "create: {}", created.stderr);
    let validated = run(["validate".as_ref(), archive.as_os_str(), "--json".as_ref()]);
    prop_assert_eq!(
        validated.code,
        0,
        "validate: {}{}",
        findings(&validated.stdout),
        validated.stderr
    );
    let target = site.out_dir().join("restored");
    let restored = run([
        "restore".as_ref(),
        archive.as_os_str(),
        target.as_os_str(),
        "--yes".as_ref(),
    ]);
    prop_assert_eq!(restored.code, 0, "restore: {}", restored.stderr);
    let expected = site_files(&root);
    let actual = site_files(&target);
    let differing: Vec<&String> = expected
        .keys()
        .chain(actual.keys())
        .filter(|p| expected.get(*p) != actual.get(*p))
        .take(10)
        .collect();
    prop_assert!(
        differing.is_empty(),
        "site {}: the restored files differ at {:?}",
        spec.id,
        differing
    );
    Ok(())
}

/// The findings of a `validate --json` report, one line each (for a failure message).
fn findings(report: &str) -> String {
    let Ok(report) = serde_json::from_str::<Value>(report) else {
        return report.to_owned();
    };
    let mut out = String::new();
    for finding in report["findings"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{} {} {}: {}",
            finding["severity"].as_str().unwrap_or("?"),
            finding["code"].as_str().unwrap_or("?"),
            finding["entry"].as_str().unwrap_or(""),
            finding["message"].as_str().unwrap_or("")
        );
    }
    out
}

/// The run's configuration: `PROPTEST_*` variables, else 16 cases and 256 shrink steps,
/// nothing persisted.
fn config() -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 16;
    }
    if std::env::var_os("PROPTEST_MAX_SHRINK_ITERS").is_none() {
        config.max_shrink_iters = 256;
    }
    config.failure_persistence = None;
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_archive_create_writes_validates_and_restores_into_an_empty_directory(spec in site()) {
        round_trip(&spec)?;
    }
}

#[test]
fn the_generated_names_are_valid() {
    for bad in ["con", "NUL.txt", "com1", "lpt¹.x", "aux .txt"] {
        assert!(reserved(bad), "{bad}");
    }
    for good in ["com10", "console", "lpt", "auxiliary"] {
        assert!(!reserved(good), "{good}");
    }
}
