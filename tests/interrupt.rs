//! SIGINT and SIGTERM: the temporaries being written beside the output are removed, the
//! command says "interrupted" and exits 130, and an interrupted `create` is recorded as a
//! failed event. SIGKILL: `create`'s output is never half-written.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Run, TestSite, create, listing, run, sitepack};

/// Waits until a name starting with `prefix` appears in `dir`.
fn wait_for_temporary(dir: &Path, prefix: &str, child: &mut Child) {
    let start = Instant::now();
    while !listing(dir).iter().any(|name| name.starts_with(prefix)) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "sitepack ended before its temporary appeared"
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no {prefix}… in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn an_interrupted_create_removes_its_partial_file_says_so_exits_130_and_is_recorded() {
    let site = TestSite::demo();
    let out = site.out_dir();
    for signal_name in ["INT", "TERM"] {
        let archive = out.join(format!("shop-{signal_name}.zip"));
        let mut child = sitepack()
            .args([
                "create".as_ref(),
                site.root().as_os_str(),
                "-o".as_ref(),
                archive.as_os_str(),
            ])
            .env("SITEPACK_FAILPOINT", "create-partial:pause")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_temporary(&out, ".sitepack-", &mut child);
        signal(&child, signal_name);
        let ended = Run::from_output(child.wait_with_output().unwrap());
        assert_eq!(ended.code, 130, "SIG{signal_name}: {}", ended.stderr);
        assert!(ended.stderr.contains("interrupted"), "{}", ended.stderr);
        assert!(
            !listing(&out).iter().any(|n| n.starts_with(".sitepack-")),
            "SIG{signal_name}: left {:?}",
            listing(&out)
        );
        assert!(!archive.exists());
        let audit = run(["audit".as_ref(), site.root().as_os_str(), "--json".as_ref()])
            .expect(0)
            .json();
        let last: &Value = audit["events"].as_array().unwrap().last().unwrap();
        assert_eq!(last["type"], "create", "{last}");
        assert_eq!(last["outcome"], "failed", "{last}");
        assert!(
            last["details"]["error"]
                .as_str()
                .unwrap()
                .contains("interrupted"),
            "{last}"
        );
    }
}

#[test]
fn an_interrupted_extract_removes_its_staging_directory() {
    let site = TestSite::demo();
    let out = site.out_dir();
    let archive = out.join("shop.zip");
    create(&site.root(), &archive, &[]);
    let dir = out.join("unpacked");
    let mut child = sitepack()
        .args([
            "extract".as_ref(),
            archive.as_os_str(),
            "-o".as_ref(),
            dir.as_os_str(),
        ])
        .env("SITEPACK_FAILPOINT", "extract-staged:pause")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_temporary(&out, ".sitepack-extract-", &mut child);
    signal(&child, "INT");
    let ended = Run::from_output(child.wait_with_output().unwrap());
    assert_eq!(ended.code, 130, "{}", ended.stderr);
    assert!(ended.stderr.contains("interrupted"), "{}", ended.stderr);
    assert_eq!(listing(&out), ["shop.zip"]);
}

/// A site whose archive takes a while to write: 96 MiB that does not compress.
fn slow_site() -> TestSite {
    let site = TestSite::new("slow");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..96 {
        let bytes: Vec<u8> = (0..(1 << 20) / 8)
            .flat_map(|_| {
                // xorshift64: incompressible and cheap.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()
            })
            .collect();
        site.write(&format!("files/blob-{i:02}.bin"), bytes);
    }
    site
}

/// `kill -9` while `create` writes (its partial file has data): `OUT` is as it was —
/// absent, or the previous archive byte for byte — and only the
/// `.sitepack-….zip.partial` file is left beside it (docs/COMMANDS.md: delete it); the
/// next `create` does not trip over it.
#[test]
fn a_killed_create_never_leaves_its_output_half_written() {
    let site = slow_site();
    let out = site.out_dir();
    let archive = out.join("slow.zip");
    let partials = || -> Vec<String> {
        listing(&out)
            .into_iter()
            .filter(|n| n.starts_with(".sitepack-") && n.ends_with(".zip.partial"))
            .collect()
    };
    for previous in [None, Some(b"the previous complete archive".to_vec())] {
        for partial in partials() {
            std::fs::remove_file(out.join(partial)).unwrap();
        }
        if let Some(bytes) = &previous {
            std::fs::write(&archive, bytes).unwrap();
        }
        let mut child = sitepack()
            .args([
                "create".as_ref(),
                site.root().as_os_str(),
                "-o".as_ref(),
                archive.as_os_str(),
                "--force".as_ref(),
                "--threads".as_ref(),
                "1".as_ref(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        loop {
            let written = partials()
                .first()
                .and_then(|name| std::fs::metadata(out.join(name)).ok())
                .is_some_and(|m| m.len() > 0);
            if written {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "create ended before it was caught writing"
            );
            assert!(start.elapsed() < Duration::from_secs(60), "nothing written");
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        match &previous {
            None => assert!(!archive.exists(), "a half-written {}", archive.display()),
            Some(bytes) => assert_eq!(&std::fs::read(&archive).unwrap(), bytes),
        }
        let left = partials();
        assert_eq!(left.len(), 1, "{:?}", listing(&out));
        let mut expected = left.clone();
        if previous.is_some() {
            expected.push("slow.zip".to_owned());
        }
        expected.sort();
        assert_eq!(listing(&out), expected, "nothing else is left beside OUT");
    }
    // The next create writes the archive; the killed run's partial file stays for the
    // user to delete, as docs/COMMANDS.md says.
    create(&site.root(), &archive, &["--force"]);
    run(["validate".as_ref(), archive.as_os_str()]).expect(0);
    assert_eq!(partials().len(), 1);
}
