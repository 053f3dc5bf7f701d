//! The kill -9 matrix: "a kill at any moment is undone by the next command", for every
//! restore mode (merge, replace) × archive scope (full, `tab:NAME`, `module:NAME`,
//! `user:ID`), a user restored `--as` a new id, and a restore from another site
//! (`--allow-other-site`) with its URLs rewritten — and for `keep`, `revert` and the
//! recovery itself. (`restore_crash.rs` has the detailed tests of one replace restore of
//! the demo site; this file runs the same promise over every combination.)
//!
//! Each scenario restores an archive of *Harbor Books*, a site made here (settings with a
//! secret, users, two modules with owned records — owner field `owner` — documents and
//! byte files, uploads, user uploads, "other" files), into a copy edited so that the
//! scope differs in every way a restore can change a site: replaced files (some 0600 or
//! 0755, which a replaced file keeps), deleted files (0755 and 0600 ones, whose
//! directories — 0700 and 0750 — the delete empties and a revert must bring back with
//! their modes), added files into directories that must be created, and records edited,
//! added and removed.
//!
//! For each scenario, with `n` the number of changes the dry run lists:
//!
//! - the restore is killed (a real SIGKILL, `SITEPACK_FAILPOINT`) at `stage:i`,
//!   `snapshot`, `journal` and `apply:i`; `status` must then report the recovery and the
//!   whole tree (every file's bytes and mode, every directory and its mode; `.sitepack/`
//!   aside) must be the tree before the restore, with no restore work or snapshot left;
//! - killed at `pending` (complete), it stays pending, the tree is the tree after an
//!   uninterrupted restore, and `revert` gives back the tree before;
//! - `revert` is killed at `revert:i`; `status` finishes it: the tree before;
//! - the recovery is killed at `recover:i` (of a restore killed at `apply:n`, and of a
//!   revert killed halfway), each recovery run getting one step further than the last;
//!   the next `status` finishes it: the tree before;
//! - `keep` has no kill points of its own, so it is killed from outside (SIGKILL at
//!   0/8, 1/8, … 8/8 of the time a whole `keep` took, landing before, during or after its
//!   commit — where exactly is up to the scheduler, so the checks hold for all three), and
//!   the state a kill after its commit leaves (the journal gone, the work directory and
//!   snapshot still there) is also made directly; either way the next commands end with
//!   the tree after the restore, nothing pending and nothing left over.
//!
//! `i` runs over every step `1..=n` when `n <= ALL_STEPS_UP_TO`, else over the first
//! three, the middle and the last three steps (no scenario here is that large: every
//! step of every scenario is killed).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use serde_json::{Value, json};

use crate::util::{Node, TestSite, create, listing, run, sitepack, tree};

type Tree = BTreeMap<String, Node>;

/// Every step is killed up to this many changes; larger plans are sampled.
const ALL_STEPS_UP_TO: usize = 32;

/// The target site of every scenario.
const SITE_ID: &str = "harbor-books";
const SITE_URL: &str = "https://harbor.example";
/// The other site of the cross-site scenarios.
const OTHER_ID: &str = "old-harbor";
const OTHER_URL: &str = "https://old-harbor.example";

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap();
    bytes.push(b'\n');
    bytes
}

/// Harbor Books as archived, at `id` and `url`: every area, URLs in JSON and text files.
fn harbor_site(id: &str, url: &str) -> TestSite {
    let site = TestSite::bare();
    let host = url.trim_start_matches("https://");
    site.write(
        "site.json",
        pretty(&json!({"id": id, "name": format!("Harbor Books ({id})"), "url": url, "owner_field": "owner"})),
    );
    site.write(
        "settings/general.json",
        pretty(&json!({
            "title": "Harbor Books",
            "home": format!("{url}/home"),
            "smtp": {"host": "mail.example", "password": format!("pw-of-{id}")},
        })),
    );
    site.write(
        "settings/shipping.json",
        pretty(&json!({"zones": ["eu", "uk"], "free_over": 50})),
    );
    site.write(
        "users/u-mia.json",
        pretty(
            &json!({"id": "u-mia", "display_name": "Mia", "password_hash": "$argon2id$v=19$mia"}),
        ),
    );
    site.write(
        "users/u-leo.json",
        pretty(&json!({"id": "u-leo", "display_name": "Leo"})),
    );
    site.write(
        "modules/catalog/books.jsonl",
        format!(
            concat!(
                r#"{{"id":"b-1","owner":"u-mia","title":"Tides","link":"{url}/books/b-1"}}"#,
                "\n",
                r#"{{"id":"b-2","owner":"u-leo","title":"Knots"}}"#,
                "\n",
                r#"{{"id":"b-3","title":"Charts","cover":"//{host}/covers/b-3.png"}}"#,
                "\n",
                r#"{{"id":4,"owner":"u-mia","title":"An integer id"}}"#,
                "\n",
            ),
            url = url,
            host = host
        ),
    );
    site.write(
        "modules/catalog/reviews.jsonl",
        concat!(
            r#"{"id":"r-1","owner":"u-leo","book":"b-1","stars":5}"#,
            "\n",
            r#"{"id":"r-2","owner":"u-mia","book":"b-2","stars":3}"#,
            "\n",
        ),
    );
    site.write(
        "modules/catalog/config.json",
        pretty(&json!({"page_size": 20, "base": format!("{url}/catalog")})),
    );
    site.write(
        "modules/catalog/templates/card.html",
        format!(r#"<a href="{url}/books">Books</a><img src="//{host}/logo.png">"#),
    );
    site.write(
        "modules/catalog/assets/cover.bin",
        (0..=255u8).cycle().take(3000).collect::<Vec<u8>>(),
    );
    site.write(
        "modules/blog/posts.jsonl",
        format!(
            "{}\n{}\n",
            json!({"id": "p-1", "owner": "u-mia", "title": "Hello", "body": format!("See {url}/blog")}),
            json!({"id": "p-2", "owner": "u-leo", "title": "Hi"}),
        ),
    );
    site.write(
        "modules/blog/layout.css",
        format!("body {{ background: url({url}/bg.png); }}\n"),
    );
    site.write("files/media/banner.png", b"\x89PNG banner bytes\x00\x01");
    site.write("files/media/products/p1.png", b"\x89PNG p1\x00");
    site.write("files/docs/guide.txt", "How to find a book.\n");
    site.write("files/empty.dat", "");
    site.write("files/users/u-mia/avatar.png", b"\x89PNG mia\x00");
    site.write("files/users/u-mia/notes/2026/plan.txt", "Read more.\n");
    site.write("files/users/u-leo/avatar.png", b"\x89PNG leo\x00");
    site.write("themes/default/style.css", "h1 { color: navy; }\n");
    site.write("robots.txt", "User-agent: *\n");
    site
}

/// The edits that make the target differ from the archive in every scope (see the
/// module documentation), on Harbor Books as [`harbor_site`] makes it.
fn edit_everywhere(site: &TestSite) {
    let root = site.root();
    let edit = |path: &str, from: &str, to: &str| {
        let text = std::fs::read_to_string(root.join(path)).unwrap();
        assert!(text.contains(from), "{path} has no {from:?}");
        site.write(path, text.replacen(from, to, 1));
    };
    // tab:general, full: replaced, and 0600 (a replaced file keeps its mode).
    edit(
        "settings/general.json",
        "\"Harbor Books\"",
        "\"Harbor Books (edited)\"",
    );
    set_mode(&root.join("settings/general.json"), 0o600);
    // full: a tab and a user only the site has (deleted by replace).
    site.write("settings/legacy.json", "{\"old\": true}\n");
    site.write("users/u-zed.json", "{\"id\": \"u-zed\"}\n");
    // user:u-mia, full: the card replaced (0600).
    edit("users/u-mia.json", "\"Mia\"", "\"Mia (edited)\"");
    set_mode(&root.join("users/u-mia.json"), 0o600);
    // Records: one of u-mia's edited, records only the site has (u-mia's, u-leo's, and
    // one of u-new, whom the `--as u-new` restores bring in), one of u-mia's removed.
    edit(
        "modules/catalog/books.jsonl",
        "\"Tides\"",
        "\"Tides (edited)\"",
    );
    let mut books = std::fs::read_to_string(root.join("modules/catalog/books.jsonl")).unwrap();
    books.push_str(concat!(
        r#"{"id":"b-9","owner":"u-mia","title":"Only here"}"#,
        "\n",
        r#"{"id":"b-10","owner":"u-leo","title":"Only here too"}"#,
        "\n",
        r#"{"id":"b-11","owner":"u-new","title":"A stray record"}"#,
        "\n",
    ));
    site.write("modules/catalog/books.jsonl", books);
    edit(
        "modules/catalog/reviews.jsonl",
        "{\"id\":\"r-2\",\"owner\":\"u-mia\",\"book\":\"b-2\",\"stars\":3}\n",
        "",
    );
    let posts = std::fs::read_to_string(root.join("modules/blog/posts.jsonl")).unwrap();
    site.write(
        "modules/blog/posts.jsonl",
        posts
            .lines()
            .skip(1)
            .flat_map(|l| [l, "\n"])
            .collect::<String>(),
    );
    // module:catalog, full: a document replaced (0600), a byte file replaced (0755), a
    // directory of templates gone (added back), scratch files only the site has (0755,
    // in a 0750 directory the delete empties).
    edit("modules/catalog/config.json", "20", "50");
    set_mode(&root.join("modules/catalog/config.json"), 0o600);
    site.write("modules/catalog/assets/cover.bin", b"\x00\x01 a new cover");
    set_mode(&root.join("modules/catalog/assets/cover.bin"), 0o755);
    std::fs::remove_dir_all(root.join("modules/catalog/templates")).unwrap();
    site.write("modules/catalog/scratch/tmp/a.txt", "scratch\n");
    set_mode(&root.join("modules/catalog/scratch/tmp/a.txt"), 0o755);
    set_mode(&root.join("modules/catalog/scratch"), 0o750);
    // full: uploads gone (two nested directories to make), one edited, an executable
    // only the site has in two directories the delete empties.
    std::fs::remove_dir_all(root.join("files/media")).unwrap();
    edit("files/docs/guide.txt", "find", "borrow");
    site.write("files/tmp/cache/run.sh", "#!/bin/sh\necho cached\n");
    set_mode(&root.join("files/tmp/cache/run.sh"), 0o755);
    // user:u-mia, full: the user's notes gone (three directories to make), a draft
    // (0600) and a deep file (in 0700 directories) only the site has.
    std::fs::remove_dir_all(root.join("files/users/u-mia/notes")).unwrap();
    site.write("files/users/u-mia/draft.txt", "draft\n");
    set_mode(&root.join("files/users/u-mia/draft.txt"), 0o600);
    site.write("files/users/u-mia/old/deep/x.bin", b"\x00\x00\x07");
    set_mode(&root.join("files/users/u-mia/old/deep"), 0o700);
    set_mode(&root.join("files/users/u-mia/old"), 0o700);
    // full ("other"): edited, and a file only the site has.
    edit("themes/default/style.css", "navy", "teal");
    site.write("extra-other.txt", "only here\n");
    // Untouched by every restore: an empty 0700 directory.
    std::fs::create_dir_all(root.join("files/inbox")).unwrap();
    set_mode(&root.join("files/inbox"), 0o700);
}

/// [`edit_everywhere`], then u-mia's account is gone (card, uploads and records): the
/// `--as u-new` restores bring it back under a new id. (A record of u-mia left in the
/// target would be refused: the archive has it for u-new.)
fn remove_u_mia(site: &TestSite) {
    edit_everywhere(site);
    let root = site.root();
    std::fs::remove_file(root.join("users/u-mia.json")).unwrap();
    std::fs::remove_dir_all(root.join("files/users/u-mia")).unwrap();
    for collection in [
        "modules/catalog/books.jsonl",
        "modules/catalog/reviews.jsonl",
        "modules/blog/posts.jsonl",
    ] {
        let text = std::fs::read_to_string(root.join(collection)).unwrap();
        let others: String = text
            .lines()
            .filter(|l| !l.contains(r#""owner":"u-mia""#))
            .flat_map(|l| [l, "\n"])
            .collect();
        site.write(collection, others);
    }
}

/// [`edit_everywhere`], then a file stands where the archive has a directory
/// (`files/media`, which `files/media/banner.png` and `files/media/products/p1.png`
/// need).
fn file_for_a_directory(site: &TestSite) {
    edit_everywhere(site);
    site.write("files/media", "a file where a directory was\n");
}

/// [`edit_everywhere`], then a directory stands where the archive has a file
/// (`files/docs/guide.txt/`).
fn directory_for_a_file(site: &TestSite) {
    edit_everywhere(site);
    std::fs::remove_file(site.root().join("files/docs/guide.txt")).unwrap();
    site.write(
        "files/docs/guide.txt/inner.txt",
        "a directory where a file was\n",
    );
}

/// A site without any settings: a tab restore must make `settings/`.
fn remove_settings(site: &TestSite) {
    std::fs::remove_dir_all(site.root().join("settings")).unwrap();
}

/// One combination of the matrix.
struct Case {
    /// The test's name.
    name: &'static str,
    /// The archive's scope.
    scope: &'static str,
    mode: &'static str,
    /// Further restore options.
    options: &'static [&'static str],
    /// The archive is of the other site (`old-harbor`, at another URL).
    other_site: bool,
    /// How the target differs from what was archived.
    edit: fn(&TestSite),
    /// Actions the dry run must list.
    actions: &'static [&'static str],
}

/// A case's archive (and the site it was made of), and a way to make fresh targets.
struct Scenario {
    label: String,
    case: Case,
    _source: TestSite,
    archive: PathBuf,
}

impl Scenario {
    fn new(case: Case) -> Self {
        let (id, url) = if case.other_site {
            (OTHER_ID, OTHER_URL)
        } else {
            (SITE_ID, SITE_URL)
        };
        let source = harbor_site(id, url);
        let archive = source.out_dir().join("archive.zip");
        create(&source.root(), &archive, &["--scope", case.scope]);
        let label = format!(
            "{}: {} {} {}",
            case.name,
            case.scope,
            case.mode,
            case.options.join(" ")
        );
        Self {
            label: label.trim_end().to_owned(),
            case,
            _source: source,
            archive,
        }
    }

    /// A new copy of the target, edited.
    fn target(&self) -> TestSite {
        let site = harbor_site(SITE_ID, SITE_URL);
        (self.case.edit)(&site);
        site
    }

    /// `restore ARCHIVE SITE --yes --mode MODE OPTIONS…`.
    fn restore_args(&self, root: &Path) -> Vec<OsString> {
        let mut all: Vec<OsString> = vec![
            "restore".into(),
            self.archive.clone().into(),
            root.into(),
            "--yes".into(),
            "--mode".into(),
            self.case.mode.into(),
        ];
        all.extend(self.case.options.iter().map(OsString::from));
        all
    }

    /// The dry run's number of changes, checking that it lists the case's actions.
    fn change_count(&self, root: &Path) -> usize {
        let mut args = self.restore_args(root);
        args.extend(["--dry-run".into(), "--json".into()]);
        let output = run(&args).expect(0).json();
        let changes = output["plan"]["changes"].as_array().unwrap();
        let actions: Vec<&str> = changes
            .iter()
            .map(|c| c["action"].as_str().unwrap())
            .collect();
        for action in self.case.actions {
            assert!(
                actions.contains(action),
                "{}: the scenario has no {action}: {actions:?}",
                self.label
            );
        }
        if self.case.mode == "merge" {
            assert!(
                !actions.contains(&"delete"),
                "{}: merge deletes",
                self.label
            );
        }
        if self.case.other_site {
            let rewrites = output["plan"]["url_rewrites"]["total"].as_u64().unwrap();
            assert!(rewrites > 0, "{}: no URL is rewritten", self.label);
        }
        changes.len()
    }
}

/// `COMMAND SITE EXTRA…`.
fn args(command: &[&str], site: &Path) -> Vec<OsString> {
    let mut all: Vec<OsString> = vec![command[0].into(), site.into()];
    all.extend(command[1..].iter().map(OsString::from));
    all
}

/// Runs `sitepack ARGS…` with `SITEPACK_FAILPOINT=point`, which must kill it (SIGKILL).
#[track_caller]
fn kill_at(label: &str, point: &str, args: &[OsString]) {
    let status = sitepack()
        .args(args)
        .env("SITEPACK_FAILPOINT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run sitepack");
    assert_eq!(
        status.signal(),
        Some(9),
        "{label}: sitepack {args:?} was not killed at {point}: {status}"
    );
}

/// What differs between two trees, path by path (at most 12), for a failure message.
fn tree_diff(actual: &Tree, expected: &Tree) -> Vec<String> {
    let describe = |node: Option<&Node>| match node {
        None => "absent".to_owned(),
        Some(Node::Dir { mode }) => format!("directory {mode:o}"),
        Some(Node::File { mode, bytes }) => format!(
            "file {mode:o}, {} bytes {:?}",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(48)])
        ),
    };
    let mut paths: Vec<&String> = actual.keys().chain(expected.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| actual.get(*p) != expected.get(*p))
        .take(12)
        .map(|p| {
            format!(
                "{p}: is {}, expected {}",
                describe(actual.get(p)),
                describe(expected.get(p))
            )
        })
        .collect()
}

/// The site's tree is `expected` (bytes and modes of everything but `.sitepack/`).
#[track_caller]
fn assert_tree(root: &Path, expected: &Tree, what: &str) {
    let differences = tree_diff(&tree(root), expected);
    assert!(
        differences.is_empty(),
        "{what}: the tree differs:\n  {}",
        differences.join("\n  ")
    );
}

/// The tree is `expected`, and no restore work or snapshot is left.
#[track_caller]
fn assert_settled(root: &Path, expected: &Tree, what: &str) {
    assert_tree(root, expected, what);
    for dir in ["restore", "snapshots"] {
        assert_eq!(
            listing(&root.join(".sitepack").join(dir)),
            Vec::<String>::new(),
            "{what}: .sitepack/{dir} was left"
        );
    }
}

/// `status SITE --json`.
fn status(root: &Path) -> Value {
    run(args(&["status", "--json"], root)).expect(0).json()
}

/// `status` after a kill: it recovered from `interrupted` (putting back
/// `paths_restored` paths, when given), nothing is pending, the site is `before`.
#[track_caller]
fn assert_recovered(
    root: &Path,
    before: &Tree,
    what: &str,
    interrupted: &str,
    paths_restored: Option<usize>,
) {
    let status = status(root);
    let recovered = &status["recovered"];
    assert_eq!(recovered["interrupted"], interrupted, "{what}: {status}");
    if let Some(paths) = paths_restored {
        assert_eq!(recovered["paths_restored"], paths, "{what}: {status}");
    }
    assert!(status["pending"].is_null(), "{what}: {status}");
    assert_settled(root, before, what);
    // Recovered once: the next command finds nothing to do.
    let again = self::status(root);
    assert!(again["recovered"].is_null(), "{what}: {again}");
}

/// The steps `1..=n` to kill at (all of them, or a sample of a large plan).
fn steps(n: usize) -> Vec<usize> {
    if n <= ALL_STEPS_UP_TO {
        return (1..=n).collect();
    }
    let mut sample = vec![1, 2, 3, n / 2, n - 2, n - 1, n];
    sample.dedup();
    sample
}

/// Runs the whole kill matrix of one case (module documentation).
fn kill_everywhere(case: Case) {
    let started = Instant::now();
    let scenario = Scenario::new(case);
    let label = scenario.label.clone();
    let site = scenario.target();
    let root = site.root();
    let before = tree(&root);
    let n = scenario.change_count(&root);
    let restore = scenario.restore_args(&root);

    // An uninterrupted restore: the tree after; its revert gives back the tree before.
    let done = run(&restore);
    if done.code != 0 {
        // A failed restore is undone at once: the site must be as it was.
        assert_settled(
            &root,
            &before,
            &format!("{label}: after the failed restore"),
        );
    }
    let _ = done.expect(0);
    let after = tree(&root);
    assert!(after != before, "{label}: the restore changed nothing");
    run(args(&["revert"], &root)).expect(0);
    assert_settled(&root, &before, &format!("{label}: revert"));

    // The restore, killed before it changes anything, and at each change.
    let mut points: Vec<(String, &str, Option<usize>)> = steps(n)
        .into_iter()
        .map(|i| (format!("stage:{i}"), "restore_before_changes", Some(0)))
        .collect();
    points.push(("snapshot".into(), "restore_before_changes", Some(0)));
    points.push(("journal".into(), "restore", Some(0)));
    points.extend(
        steps(n)
            .into_iter()
            .map(|i| (format!("apply:{i}"), "restore", Some(i))),
    );
    for (point, interrupted, paths) in &points {
        let what = format!("{label}: restore killed at {point}");
        kill_at(&what, point, &restore);
        if point.starts_with("apply") {
            assert!(tree(&root) != before, "{what}: the site is unchanged");
        } else {
            assert_tree(&root, &before, &format!("{what}, before recovery"));
        }
        assert_recovered(&root, &before, &what, interrupted, *paths);
    }

    // Killed once complete: pending, the tree after; revert gives back the tree before.
    let what = format!("{label}: restore killed at pending");
    kill_at(&what, "pending", &restore);
    let pending = status(&root);
    assert!(pending["recovered"].is_null(), "{what}: {pending}");
    assert!(pending["pending"].is_object(), "{what}: {pending}");
    assert_tree(&root, &after, &what);
    run(args(&["revert"], &root)).expect(0);
    assert_settled(&root, &before, &format!("{what}, then revert"));

    // Revert, killed at each path.
    for i in steps(n) {
        let what = format!("{label}: revert killed at revert:{i}");
        run(&restore).expect(0);
        kill_at(&what, &format!("revert:{i}"), &args(&["revert"], &root));
        assert_recovered(&root, &before, &what, "revert", Some(n - i));
    }

    // The recovery of a restore killed at its last change, then of a revert killed
    // halfway, each killed at every step, one step further each time.
    let what = format!("{label}: restore killed at apply:{n}");
    kill_at(&what, &format!("apply:{n}"), &restore);
    for i in steps(n) {
        let what = format!("{what}, recovery killed at recover:{i}");
        kill_at(&what, &format!("recover:{i}"), &args(&["status"], &root));
    }
    assert_recovered(&root, &before, &what, "restore", Some(0));
    let half = n.div_ceil(2);
    let what = format!("{label}: revert killed at revert:{half}");
    run(&restore).expect(0);
    kill_at(&what, &format!("revert:{half}"), &args(&["revert"], &root));
    for i in steps(n) {
        let what = format!("{what}, recovery killed at recover:{i}");
        kill_at(&what, &format!("recover:{i}"), &args(&["status"], &root));
    }
    assert_recovered(&root, &before, &what, "revert", Some(0));

    // Keep, after a commit cut short (the journal removed, the rest left): the next
    // command removes the rest and the restore stays kept.
    let what = format!("{label}: keep cut off after its commit");
    run(&restore).expect(0);
    std::fs::remove_file(root.join(".sitepack/restore/journal.json")).unwrap();
    let recovered = status(&root);
    assert!(recovered["pending"].is_null(), "{what}: {recovered}");
    assert!(recovered["recovered"].is_object(), "{what}: {recovered}");
    assert_settled(&root, &after, &what);
    drop(site);

    // Keep, killed from outside at fractions of the time a whole keep takes (measured
    // here on a fresh copy), each on a fresh copy.
    let timed = scenario.target();
    run(scenario.restore_args(&timed.root())).expect(0);
    let start = Instant::now();
    run(args(&["keep"], &timed.root())).expect(0);
    let whole = start.elapsed();
    assert_settled(&timed.root(), &after, &format!("{label}: keep"));
    let mut outcomes = Vec::new();
    for eighths in 0..=8 {
        let delay = whole * eighths / 8;
        let what = format!("{label}: keep killed {delay:?} after it started");
        let site = scenario.target();
        let root = site.root();
        run(scenario.restore_args(&root)).expect(0);
        let mut keep = sitepack()
            .args(args(&["keep"], &root))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = keep.kill();
        let exit = keep.wait().unwrap();
        let journal = root.join(".sitepack/restore/journal.json").exists();
        let leftovers = root.join(".sitepack/restore").exists()
            || !listing(&root.join(".sitepack/snapshots")).is_empty();
        outcomes.push(match (exit.signal(), journal, leftovers) {
            (None, ..) => "finished",
            (Some(_), true, _) => "killed before its commit",
            (Some(_), false, true) => "killed after its commit",
            (Some(_), false, false) => "killed once done",
        });
        assert_tree(&root, &after, &what);
        if status(&root)["pending"].is_object() {
            run(args(&["keep"], &root)).expect(0);
        }
        assert!(status(&root)["pending"].is_null(), "{what}");
        assert_settled(&root, &after, &what);
    }
    eprintln!(
        "{label}: {n} changes; keep ({whole:?}): {outcomes:?}; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

const REPLACE_ACTIONS: &[&str] = &["add", "replace", "delete"];
const MERGE_ACTIONS: &[&str] = &["add", "replace"];

#[test]
fn full_merge() {
    kill_everywhere(Case {
        name: "full_merge",
        scope: "full",
        mode: "merge",
        options: &[],
        other_site: false,
        edit: edit_everywhere,
        actions: MERGE_ACTIONS,
    });
}

#[test]
fn full_replace() {
    kill_everywhere(Case {
        name: "full_replace",
        scope: "full",
        mode: "replace",
        options: &[],
        other_site: false,
        edit: edit_everywhere,
        actions: REPLACE_ACTIONS,
    });
}

#[test]
fn tab_merge() {
    kill_everywhere(Case {
        name: "tab_merge",
        scope: "tab:general",
        mode: "merge",
        options: &[],
        other_site: false,
        edit: edit_everywhere,
        actions: &["replace"],
    });
}

#[test]
fn tab_replace() {
    kill_everywhere(Case {
        name: "tab_replace",
        scope: "tab:general",
        mode: "replace",
        options: &[],
        other_site: false,
        edit: edit_everywhere,
        actions: &["replace"],
    });
}

#[test]
fn tab_merge_into_a_site_without_settings() {
    kill_everywhere(Case {
        name: "tab_merge_into_a_site_without_settings",
        scope: "tab:general",
        mode: "merge",
        options: &[],
        other_site: false,
        edit: remove_settings,
        actions: &["add"],
    });
}

#[test]
fn tab_replace_into_a_site_without_settings() {
    kill_everywhere(Case {
        name: "tab_replace_into_a_site_without_settings",
        scope: "tab:general",
        mode: "replace",
        options: &[],
        other_site: false,
        edit: remove_settings,
        actions: &["add"],
    });
}

#[test]
fn module_merge() {
    kill_everywhere(Case {
        name: "module_merge",
        scope: "module:catalog",
        mode: "merge",
        options: &[],
        other_site: false,
        edit: edit_everywhere,
        actions: MERGE_ACTIONS,
    });
}

#[test]
fn module_replace() {
    kill_everywhere(Case {
        name: "module_replace",
        scope: "module:catalog",
        mode: "replace",
        options: &[],
        other_site: false,
        edit: edit_everywhere,
        actions: REPLACE_ACTIONS,
    });
}

#[test]
fn user_merge() {
    kill_everywhere(Case {
        name: "user_merge",
        scope: "user:u-mia",
        mode: "merge",
        options: &[],
        other_site: false,
        edit: edit_everywhere,
        actions: MERGE_ACTIONS,
    });
}

#[test]
fn user_replace() {
    kill_everywhere(Case {
        name: "user_replace",
        scope: "user:u-mia",
        mode: "replace",
        options: &[],
        other_site: false,
        edit: edit_everywhere,
        actions: REPLACE_ACTIONS,
    });
}

#[test]
fn user_as_a_new_user_merge() {
    kill_everywhere(Case {
        name: "user_as_a_new_user_merge",
        scope: "user:u-mia",
        mode: "merge",
        options: &["--as", "u-new"],
        other_site: false,
        edit: remove_u_mia,
        actions: MERGE_ACTIONS,
    });
}

#[test]
fn user_as_a_new_user_replace() {
    kill_everywhere(Case {
        name: "user_as_a_new_user_replace",
        scope: "user:u-mia",
        mode: "replace",
        options: &["--as", "u-new"],
        other_site: false,
        edit: remove_u_mia,
        actions: MERGE_ACTIONS,
    });
}

#[test]
fn other_site_merge_with_its_url_rewritten() {
    kill_everywhere(Case {
        name: "other_site_merge_with_its_url_rewritten",
        scope: "full",
        mode: "merge",
        options: &["--allow-other-site"],
        other_site: true,
        edit: edit_everywhere,
        actions: MERGE_ACTIONS,
    });
}

#[test]
fn other_site_replace_with_rewrite_rules() {
    kill_everywhere(Case {
        name: "other_site_replace_with_rewrite_rules",
        scope: "full",
        mode: "replace",
        options: &[
            "--allow-other-site",
            "--rewrite-url",
            "https://old-harbor.example=https://harbor.example",
        ],
        other_site: true,
        edit: edit_everywhere,
        actions: REPLACE_ACTIONS,
    });
}

// A replace restore deletes what stands in the way of the archive's paths ("deletes
// first, so that a file that gives way to a directory of the same name (or the reverse)
// is out of the way", apply.rs).

#[test]
fn full_replace_where_a_file_stands_for_a_directory() {
    kill_everywhere(Case {
        name: "full_replace_where_a_file_stands_for_a_directory",
        scope: "full",
        mode: "replace",
        options: &[],
        other_site: false,
        edit: file_for_a_directory,
        actions: REPLACE_ACTIONS,
    });
}

#[test]
fn full_replace_where_a_directory_stands_for_a_file() {
    kill_everywhere(Case {
        name: "full_replace_where_a_directory_stands_for_a_file",
        scope: "full",
        mode: "replace",
        options: &[],
        other_site: false,
        edit: directory_for_a_file,
        actions: REPLACE_ACTIONS,
    });
}
