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

/// `sitepack ARGS…` through `command` (a plain one, or the S3 server's).
#[track_caller]
fn run_with<S: AsRef<OsStr>>(mut command: std::process::Command, args: &[S]) -> Run {
    Run::from_command(command.args(args))
}

/// A stored encrypted backup: its sidecar names the method, the recipients and the
/// archive inside; `list` shows it encrypted; `validate`, `preview` and `restore` read it
/// with `--identity` (and refuse without); the stored digest is the ciphertext's.
fn stored_encrypted_backup_round_trips(
    command: &dyn Fn() -> std::process::Command,
    target: &str,
    site: &TestSite,
    key: &Key,
) {
    let stored = run_with(
        command(),
        &[
            "create",
            path(&site.root()),
            "--to",
            target,
            "--encrypt-to",
            &key.public,
            "--json",
        ],
    )
    .expect(0)
    .json();
    let backup = &stored["backup"];
    let name = backup["name"].as_str().unwrap().to_owned();
    assert!(name.ends_with(".zip.age"), "{name}");
    assert_eq!(backup["encryption"]["method"], "age");
    assert_eq!(backup["encryption"]["recipients"][0], key.public.as_str());
    let archive_digest = backup["encryption"]["archive_sha256"].clone();
    assert_ne!(backup["sha256"], archive_digest);

    let listed = run_with(command(), &["list", target, "--json"])
        .expect(0)
        .json();
    assert_eq!(listed["backups"][0]["name"], name.as_str());
    assert_eq!(listed["backups"][0]["encryption"]["method"], "age");
    let human = run_with(command(), &["list", target]).expect(0).stdout;
    let header = human.lines().next().unwrap();
    let row = human.lines().nth(1).unwrap();
    let column = header.find("ENCRYPTED").unwrap();
    assert_eq!(&row[column..column + 3], "age", "{human}");

    let url = format!("{target}/{name}");
    let run = run_private_with(command(), &["validate", &url, "--json"], key).expect(2);
    assert!(run.stderr.contains("give --identity"), "{}", run.stderr);
    for no_data in [false, true] {
        let mut args = vec!["validate", &url, "--identity", path(&key.file), "--json"];
        if no_data {
            args.push("--no-data");
        }
        let report = run_private_with(command(), &args, key).expect(0).json();
        assert_eq!(report["valid"], true);
        assert_eq!(report["digest"], archive_digest, "no_data {no_data}");
    }
    let preview = run_private_with(
        command(),
        &["preview", &url, "--identity", path(&key.file), "--json"],
        key,
    )
    .expect(0)
    .json();
    assert_eq!(preview["manifest"]["site"]["id"], "acme-shop");
    let restored = site.out_dir().join(format!("restored-{}", target.len()));
    run_private_with(
        command(),
        &[
            "restore",
            &url,
            path(&restored),
            "--yes",
            "--identity",
            path(&key.file),
        ],
        key,
    )
    .expect(0);
    assert_eq!(
        site_files(&restored)["users/u-ada.json"],
        site_files(&site.root())["users/u-ada.json"]
    );
}

/// [`run_private`] through `command`.
#[track_caller]
fn run_private_with(mut command: std::process::Command, args: &[&str], key: &Key) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let run = Run::from_command(command.env("TMPDIR", tmp.path()).args(args));
    assert_eq!(listing(tmp.path()), Vec::<String>::new(), "{}", run.stderr);
    assert!(!run.stdout.contains(&key.secret) && !run.stderr.contains(&key.secret));
    run
}

#[test]
fn an_encrypted_backup_stored_in_a_directory_round_trips_and_a_changed_one_is_refused() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let target = out.join("target");
    let target_text = target.display().to_string();
    stored_encrypted_backup_round_trips(&sitepack, &target_text, &site, &key);

    // One byte of the stored ciphertext changed: the sidecar's digest refuses it before
    // it is decrypted (exit 1), by its path in the target and by URL.
    let stored = listing(&target.join("acme-shop"));
    let name = stored.iter().find(|n| n.ends_with(".zip.age")).unwrap();
    let object = target.join("acme-shop").join(name);
    let mut bytes = std::fs::read(&object).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&object, bytes).unwrap();
    for archive in [
        object.display().to_string(),
        format!("file://{}", object.display()),
    ] {
        let run =
            run_private(&["validate", &archive, "--identity", path(&key.file)], &key).expect(1);
        assert!(run.stderr.contains("nothing was checked"), "{}", run.stderr);
    }
}

#[test]
fn restore_refuses_a_stored_backup_whose_sidecar_records_another_archive_inside() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let target = out.join("target");
    let plain = out.join("plain.zip");
    sitepack()
        .args(["create", path(&site.root()), "-o", path(&plain)])
        .output()
        .unwrap();
    sitepack()
        .args([
            "create",
            path(&site.root()),
            "--to",
            path(&target),
            "--encrypt-to",
            &key.public,
        ])
        .output()
        .unwrap();
    let name = listing(&target.join("acme-shop"))
        .into_iter()
        .find(|n| n.ends_with(".zip.age"))
        .unwrap();
    let object = target.join("acme-shop").join(&name);
    let sidecar = target.join("acme-shop").join(format!("{name}.json"));
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
    let ciphertext = std::fs::read(&object).unwrap();
    let url = format!("{}/acme-shop/{name}", target.display());
    let restore = |into: &str| {
        let restored = out.join(into);
        let run = run_private(
            &[
                "restore",
                &url,
                path(&restored),
                "--yes",
                "--identity",
                path(&key.file),
            ],
            &key,
        );
        (run, restored)
    };
    // 1. The sidecar records another archive inside the (intact) ciphertext.
    let mut changed = original.clone();
    changed["encryption"]["archive_sha256"] = "0".repeat(64).into();
    std::fs::write(&sidecar, serde_json::to_vec(&changed).unwrap()).unwrap();
    let (run, restored) = restore("restored-1");
    let stderr = run.expect(1).stderr;
    assert!(!restored.exists(), "{stderr}");
    // 2. A plain archive put in place of the encrypted one, its digest and size written
    //    into the sidecar, which still says what was encrypted.
    let plain_bytes = std::fs::read(&plain).unwrap();
    std::fs::write(&object, &plain_bytes).unwrap();
    let mut swapped = original.clone();
    swapped["sha256"] = sitepack_format::Sha256::of(&plain_bytes).to_string().into();
    swapped["size"] = plain_bytes.len().into();
    std::fs::write(&sidecar, serde_json::to_vec(&swapped).unwrap()).unwrap();
    let (run, restored) = restore("restored-2");
    let stderr = run.expect(1).stderr;
    assert!(!restored.exists(), "{stderr}");
    // The backup as stored restores.
    std::fs::write(&object, &ciphertext).unwrap();
    std::fs::write(&sidecar, serde_json::to_vec(&original).unwrap()).unwrap();
    restore("restored-3").0.expect(0);
}

#[test]
fn an_encrypted_backup_stored_in_s3_round_trips() {
    let server = crate::util::s3::S3Server::start();
    let site = TestSite::demo();
    let key = keygen(&site.out_dir(), "key.txt");
    let target = format!("s3://{}/enc", crate::util::s3::BUCKET);
    stored_encrypted_backup_round_trips(&|| server.sitepack(), &target, &site, &key);
}

#[test]
fn auto_run_encrypts_to_the_recipients_of_config_toml() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let target = out.join("auto-target");
    site.write(
        ".sitepack/config.toml",
        format!(
            "[auto]\ntarget = '{}'\nencrypt_to = ['{}']\n",
            target.display(),
            key.public
        ),
    );
    let run = run_private(&["auto", "run", path(&site.root()), "--json"], &key).expect(0);
    let name = run.json()["stored"]["name"].as_str().unwrap().to_owned();
    assert!(name.ends_with(".zip.age"), "{name}");
    let object = target.join(&name);
    assert!(
        std::fs::read(&object)
            .unwrap()
            .starts_with(b"age-encryption.org/v1\n")
    );
    let decrypted = out.join("decrypted.zip");
    run_tool(
        "age",
        &[
            "-d",
            "-i",
            path(&key.file),
            "-o",
            path(&decrypted),
            path(&object),
        ],
        &out,
    )
    .expect(0);
    run_private(&["validate", path(&decrypted)], &key).expect(0);

    // A recipient that is no public key names the config file.
    site.write(
        ".sitepack/config.toml",
        format!(
            "[auto]\ntarget = '{}'\nencrypt_to = ['{}']\n",
            target.display(),
            key.secret
        ),
    );
    let run = run_private(&["auto", "run", path(&site.root())], &key).expect(2);
    assert!(
        run.stderr.contains("config.toml") && run.stderr.contains("encrypt_to"),
        "{}",
        run.stderr
    );
    // An empty list never falls back to plain backups.
    site.write(
        ".sitepack/config.toml",
        format!("[auto]\ntarget = '{}'\nencrypt_to = []\n", target.display()),
    );
    let run = run_private(&["auto", "run", path(&site.root())], &key).expect(2);
    assert!(
        run.stderr.contains("encrypt_to") && run.stderr.contains("no recipient"),
        "{}",
        run.stderr
    );
}

/// `age -d` or `age -p` on a terminal (script(1)), typing `input`.
fn age_on_terminal(args: &str, input: &str, dir: &Path) {
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &format!("age {args}"), "/dev/null"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from bsdutils is needed by this test");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    let ended = Run::from_output(child.wait_with_output().unwrap());
    assert_eq!(ended.code, 0, "age {args}: {}", ended.stdout);
}

#[test]
fn a_passphrase_encrypts_and_decrypts_and_interoperates_with_age_p() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let passphrase = out.join("passphrase.txt");
    std::fs::write(&passphrase, "correct horse battery staple\n").unwrap();
    let wrong = out.join("wrong.txt");
    std::fs::write(&wrong, "Tr0ub4dor&3\n").unwrap();
    let plain = out.join("plain.zip");
    create(&site.root(), &plain, &[]);
    let encrypted = out.join("demo.zip.age");
    let summary = create(
        &site.root(),
        &encrypted,
        &["--passphrase-file", path(&passphrase), "--json"],
    )
    .json();
    assert_eq!(summary["encrypted"]["recipients"][0], "passphrase (scrypt)");
    let ciphertext = std::fs::read(&encrypted).unwrap();
    assert!(!ciphertext.windows(13).any(|w| w == b"correct horse"));
    assert!(
        ciphertext.windows(6).any(|w| w == b"scrypt"),
        "age's scrypt stanza"
    );

    let run = run_private(
        &[
            "validate",
            path(&encrypted),
            "--passphrase-file",
            path(&wrong),
        ],
        &key,
    )
    .expect(2);
    assert!(run.stderr.contains("does not decrypt it"), "{}", run.stderr);
    assert!(!run.stderr.contains("Tr0ub4dor"), "{}", run.stderr);
    let run = run_private(&["validate", path(&encrypted)], &key).expect(2);
    assert!(
        run.stderr.contains("give --passphrase-file"),
        "{}",
        run.stderr
    );
    run_private(
        &[
            "validate",
            path(&encrypted),
            "--passphrase-file",
            path(&passphrase),
        ],
        &key,
    )
    .expect(0);

    // Debian's age, on a terminal: `age -d` gives the plain archive; `age -p` writes one
    // sitepack reads with the same passphrase.
    age_on_terminal(
        "-d -o by-age.zip demo.zip.age",
        "correct horse battery staple\n",
        &out,
    );
    assert!(std::fs::read(out.join("by-age.zip")).unwrap() == std::fs::read(&plain).unwrap());
    age_on_terminal(
        "-p -o by-age-p.zip.age plain.zip",
        "correct horse battery staple\ncorrect horse battery staple\n",
        &out,
    );
    let tmp = tempfile::tempdir().unwrap();
    Run::from_command(
        sitepack()
            .env("TMPDIR", tmp.path())
            .env("SITEPACK_PASSPHRASE_FILE", &passphrase)
            .args(["validate", path(&out.join("by-age-p.zip.age"))]),
    )
    .expect(0);
}

#[test]
fn an_encrypted_archive_streams_to_standard_output() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let key = keygen(&out, "key.txt");
    let plain = out.join("plain.zip");
    create(&site.root(), &plain, &[]);
    let run = crate::util::try_create(
        &site.root(),
        "-",
        &["--timestamp", TIMESTAMP, "--encrypt-to", &key.public],
    )
    .expect(0);
    assert!(run.stdout_bytes.starts_with(b"age-encryption.org/v1\n"));
    assert!(
        run.stderr.contains("encrypted with age to 1 recipient(s)"),
        "{}",
        run.stderr
    );
    let streamed = out.join("streamed.zip.age");
    std::fs::write(&streamed, &run.stdout_bytes).unwrap();
    let decrypted = out.join("decrypted.zip");
    run_tool(
        "age",
        &[
            "-d",
            "-i",
            path(&key.file),
            "-o",
            path(&decrypted),
            path(&streamed),
        ],
        &out,
    )
    .expect(0);
    assert!(std::fs::read(&decrypted).unwrap() == std::fs::read(&plain).unwrap());
}
