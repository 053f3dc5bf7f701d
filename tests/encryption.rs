//! Encryption at rest with age (X25519): `create -o OUT.zip.age --encrypt-to` and
//! `--recipients-file`; every reading command with `--identity` (or
//! `SITEPACK_IDENTITY_FILE`), decrypting into a private temporary file that is gone
//! afterwards; interoperation with Debian's `age` and `age-keygen` both ways; a missing
//! or wrong identity (exit 2) and a modified ciphertext (exit 1, nothing written) told
//! apart; no key material in any output.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::util::{Run, TIMESTAMP, TestSite, create, listing, run_tool, site_files, sitepack};

/// An age key pair made by `age-keygen`: the identity file and its public key.
struct Key {
    file: PathBuf,
    public: String,
    secret: String,
}

fn keygen(dir: &Path, name: &str) -> Key {
    let file = dir.join(name);
    run_tool("age-keygen", &["-o", file.to_str().unwrap()], dir).expect(0);
    let public = run_tool("age-keygen", &["-y", file.to_str().unwrap()], dir)
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let text = std::fs::read_to_string(&file).unwrap();
    let secret = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned();
    Key {
        file,
        public,
        secret,
    }
}

/// `sitepack ARGS…` with its own temporary directory (`TMPDIR`), which must be empty
/// afterwards: no decrypted copy is left, whatever the outcome. No output mentions the
/// secret key.
#[track_caller]
fn run_private<S: AsRef<OsStr>>(args: &[S], key: &Key) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let run = Run::from_command(sitepack().env("TMPDIR", tmp.path()).args(args));
    assert_eq!(listing(tmp.path()), Vec::<String>::new(), "{}", run.stderr);
    for output in [&run.stdout, &run.stderr] {
        assert!(!output.contains(&key.secret), "key material in the output");
        assert!(
            !output.contains("AGE-SECRET-KEY-1"),
            "key material in the output"
        );
    }
    run
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn an_encrypted_archive_round_trips_through_every_reading_command() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let other = keygen(&out, "other.txt");
    let encrypted = out.join("demo.zip.age");
    let run = create(
        &site.root(),
        &encrypted,
        &["--encrypt-to", &key.public, "--json"],
    );
    let summary = run.json();
    let ciphertext = std::fs::read(&encrypted).unwrap();
    assert!(ciphertext.starts_with(b"age-encryption.org/v1\n"));
    assert_eq!(summary["encrypted"]["recipients"][0], key.public.as_str());
    assert_eq!(summary["encrypted"]["size"], ciphertext.len() as u64);
    let plain_digest = summary["archive_sha256"].as_str().unwrap().to_owned();
    assert_ne!(summary["encrypted"]["sha256"], plain_digest.as_str());
    // The ciphertext is as private as the archive inside it.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&encrypted).unwrap().permissions(),
    );
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    assert_eq!(listing(&out), ["demo.zip.age", "key.txt", "other.txt"]);

    // No identity, the wrong one: exit 2, saying what to give.
    let run = run_private(&["validate", path(&encrypted)], &key).expect(2);
    assert!(
        run.stderr
            .contains("is encrypted (age): give --identity FILE"),
        "{}",
        run.stderr
    );
    let run = run_private(
        &[
            "validate",
            path(&encrypted),
            "--identity",
            path(&other.file),
        ],
        &key,
    )
    .expect(2);
    assert!(
        run.stderr.contains("encrypted to other recipients") && run.stderr.contains("other.txt"),
        "{}",
        run.stderr
    );

    // The right one among others, as a flag and from the environment.
    let run = run_private(
        &[
            "validate",
            path(&encrypted),
            "--identity",
            path(&other.file),
            "--identity",
            path(&key.file),
            "--json",
        ],
        &key,
    )
    .expect(0);
    assert_eq!(run.json()["valid"], true);
    assert_eq!(run.json()["digest"], plain_digest.as_str());
    let tmp = tempfile::tempdir().unwrap();
    let run = Run::from_command(
        sitepack()
            .env("TMPDIR", tmp.path())
            .env("SITEPACK_IDENTITY_FILE", &key.file)
            .args(["preview", path(&encrypted), "--json"]),
    )
    .expect(0);
    assert_eq!(run.json()["manifest"]["site"]["id"], "acme-shop");
    assert!(listing(tmp.path()).is_empty());

    // extract, restore into a new directory, init from it as a template.
    let extracted = out.join("extracted");
    run_private(
        &[
            "extract",
            path(&encrypted),
            "-o",
            path(&extracted),
            "--identity",
            path(&key.file),
        ],
        &key,
    )
    .expect(0);
    assert_eq!(
        site_files(&extracted.join("site"))["site.json"],
        std::fs::read(site.root().join("site.json")).unwrap()
    );
    let restored = out.join("restored");
    run_private(
        &[
            "restore",
            path(&encrypted),
            path(&restored),
            "--yes",
            "--identity",
            path(&key.file),
        ],
        &key,
    )
    .expect(0);
    assert!(restored.join("users").is_dir());
    let new_site = out.join("new-site");
    run_private(
        &[
            "init",
            path(&new_site),
            "--from-template",
            path(&encrypted),
            "--identity",
            path(&key.file),
            "--id",
            "new-shop",
            "--name",
            "New shop",
            "--url",
            "https://new.example",
        ],
        &key,
    )
    .expect(0);
    assert!(new_site.join("site.json").is_file());
}

#[test]
fn debian_age_reads_what_sitepack_encrypts_and_the_other_way_round() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let second = keygen(&out, "second.txt");
    let recipients = out.join("recipients.txt");
    std::fs::write(
        &recipients,
        format!("# the operators\n{}\n\n{}\n", key.public, second.public),
    )
    .unwrap();
    let plain = out.join("plain.zip");
    create(&site.root(), &plain, &[]);
    let encrypted = out.join("demo.zip.age");
    create(
        &site.root(),
        &encrypted,
        &["--recipients-file", path(&recipients)],
    );

    // `age -d` with either recipient's key gives the very archive a plain create writes.
    for (n, key_file) in [&key.file, &second.file].into_iter().enumerate() {
        let decrypted = out.join(format!("decrypted-{n}.zip"));
        run_tool(
            "age",
            &[
                "-d",
                "-i",
                path(key_file),
                "-o",
                path(&decrypted),
                path(&encrypted),
            ],
            &out,
        )
        .expect(0);
        assert!(
            std::fs::read(&decrypted).unwrap() == std::fs::read(&plain).unwrap(),
            "age -d gives the plain archive"
        );
    }

    // An archive encrypted by `age -r` (binary) and `age -a -r` (armored) reads with
    // --identity, whatever its name.
    for (name, armor) in [("by-age.zip.age", false), ("by-age-armored.zip", true)] {
        let by_age = out.join(name);
        let mut args = vec!["-r", &key.public, "-o", path(&by_age)];
        if armor {
            args.insert(0, "-a");
        }
        args.push(path(&plain));
        run_tool("age", &args, &out).expect(0);
        let run = run_private(
            &[
                "validate",
                path(&by_age),
                "--identity",
                path(&key.file),
                "--json",
            ],
            &key,
        )
        .expect(0);
        assert_eq!(run.json()["valid"], true, "{name}");
    }
}

#[test]
fn a_modified_ciphertext_is_refused_and_nothing_is_written() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let encrypted = out.join("demo.zip.age");
    create(&site.root(), &encrypted, &["--encrypt-to", &key.public]);
    let mut bytes = std::fs::read(&encrypted).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let modified = out.join("modified.zip.age");
    std::fs::write(&modified, &bytes).unwrap();

    let run = run_private(
        &[
            "validate",
            path(&modified),
            "--identity",
            path(&key.file),
            "--json",
        ],
        &key,
    )
    .expect(1);
    assert_eq!(run.json()["error"]["kind"], "refused");
    assert!(
        run.stderr.contains("damaged or was modified"),
        "{}",
        run.stderr
    );
    let extracted = out.join("extracted");
    run_private(
        &[
            "extract",
            path(&modified),
            "-o",
            path(&extracted),
            "--identity",
            path(&key.file),
        ],
        &key,
    )
    .expect(1);
    assert!(!extracted.exists(), "never a partial extract");
    let before = site_files(&site.root());
    let target = TestSite::demo();
    let target_before = site_files(&target.root());
    run_private(
        &[
            "restore",
            path(&modified),
            path(&target.root()),
            "--yes",
            "--identity",
            path(&key.file),
        ],
        &key,
    )
    .expect(1);
    assert_eq!(site_files(&target.root()), target_before);
    assert_eq!(site_files(&site.root()), before);
}

#[test]
fn encryption_is_asked_for_consistently_and_written_outside_the_site() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let root = site.root();
    let create_with = |output: &Path, args: &[&str]| {
        let mut all = vec![
            "create",
            path(&root),
            "-o",
            path(output),
            "--timestamp",
            TIMESTAMP,
        ];
        all.extend_from_slice(args);
        run_private(&all, &key)
    };
    let run = create_with(&out.join("demo.zip"), &["--encrypt-to", &key.public]).expect(2);
    assert!(run.stderr.contains("OUT.zip.age"), "{}", run.stderr);
    let run = create_with(&out.join("demo.zip.age"), &[]).expect(2);
    assert!(run.stderr.contains("give --encrypt-to"), "{}", run.stderr);
    // A secret key given where a public one goes is refused without being repeated.
    let run = create_with(&out.join("demo.zip.age"), &["--encrypt-to", &key.secret]).expect(2);
    assert!(
        run.stderr.contains("not an age recipient"),
        "{}",
        run.stderr
    );
    let run = create_with(
        &root.join("files/demo.zip.age"),
        &["--encrypt-to", &key.public],
    )
    .expect(2);
    assert!(
        run.stderr.contains("inside the site being backed up"),
        "{}",
        run.stderr
    );
    assert_eq!(listing(&out), ["key.txt"]);
    // An existing output is kept unless --force.
    create_with(&out.join("demo.zip.age"), &["--encrypt-to", &key.public]).expect(0);
    let first = std::fs::read(out.join("demo.zip.age")).unwrap();
    create_with(&out.join("demo.zip.age"), &["--encrypt-to", &key.public]).expect(2);
    assert_eq!(std::fs::read(out.join("demo.zip.age")).unwrap(), first);
    create_with(
        &out.join("demo.zip.age"),
        &["--encrypt-to", &key.public, "--force"],
    )
    .expect(0);
    assert_ne!(std::fs::read(out.join("demo.zip.age")).unwrap(), first);
    assert_eq!(listing(&out), ["demo.zip.age", "key.txt"]);
}

#[test]
fn an_interrupt_while_decrypting_removes_the_decrypted_copy() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let encrypted = out.join("demo.zip.age");
    create(&site.root(), &encrypted, &["--encrypt-to", &key.public]);
    for signal in ["INT", "TERM"] {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = sitepack()
            .env("TMPDIR", tmp.path())
            .env("SITEPACK_FAILPOINT", "decrypt-partial:pause")
            .args(["validate", path(&encrypted), "--identity", path(&key.file)])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while listing(tmp.path()).is_empty() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "ended before decrypting"
            );
            assert!(start.elapsed().as_secs() < 30, "no decrypted copy appeared");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let ended = Run::from_output(child.wait_with_output().unwrap());
        assert_eq!(ended.code, 130, "SIG{signal}: {}", ended.stderr);
        assert_eq!(listing(tmp.path()), Vec::<String>::new(), "SIG{signal}");
    }
}
