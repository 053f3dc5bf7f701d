//! SIGINT and SIGTERM: the temporaries being written beside the output are removed, the
//! command says "interrupted" and exits 130, and an interrupted `create` is recorded as a
//! failed event.

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
