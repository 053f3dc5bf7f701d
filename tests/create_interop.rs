//! Archives are plain ZIP files: Info-ZIP `unzip`, Python's `zipfile` and 7-Zip open and
//! verify them, and after `unzip`, `sha256sum -c checksums.sha256` passes.

use std::path::Path;

use crate::create_reproducible::varied_site;
use crate::util::{TestSite, create, run_tool};

fn check_with_every_tool(archive: &Path, work: &Path) {
    let dir = archive.parent().unwrap();
    let name = archive.file_name().unwrap().to_str().unwrap();
    let unzip = run_tool("unzip", &["-t", name], dir).expect(0);
    assert!(
        unzip.stdout.contains("No errors detected"),
        "{}",
        unzip.stdout
    );

    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nbad = z.testzip()\nassert bad is None, bad\nprint(len(z.infolist()))".to_string();
    let python = run_tool("python3", &["-c", &script, name], dir).expect(0);
    assert!(python.stdout.trim().parse::<usize>().unwrap() >= 3);

    let seven = run_tool("7z", &["t", name], dir).expect(0);
    assert!(
        seven.stdout.contains("Everything is Ok"),
        "{}",
        seven.stdout
    );

    std::fs::create_dir_all(work).unwrap();
    run_tool(
        "unzip",
        &[
            "-q",
            archive.to_str().unwrap(),
            "-d",
            work.to_str().unwrap(),
        ],
        dir,
    )
    .expect(0);
    let sums = run_tool("sha256sum", &["-c", "--strict", "checksums.sha256"], work).expect(0);
    assert!(!sums.stdout.contains("FAILED"), "{}", sums.stdout);
}

#[test]
fn full_archives_open_in_unzip_python_and_7zip() {
    let site = varied_site();
    let out = site.out_dir();
    create(&site.root(), &out.join("full.zip"), &[]);
    check_with_every_tool(&out.join("full.zip"), &out.join("unpacked-full"));
    // Non-ASCII names come out as the same UTF-8 names.
    assert!(
        out.join("unpacked-full/site/files/media/Überweisung – März.pdf")
            .is_file()
    );
}

#[test]
fn scoped_and_data_only_archives_open_everywhere() {
    let site = varied_site();
    let out = site.out_dir();
    for (name, args) in [
        ("user.zip", vec!["--scope", "user:u-1"]),
        ("module.zip", vec!["--scope", "module:crm", "--no-files"]),
        ("stored.zip", vec!["--level", "0"]),
        ("best.zip", vec!["--level", "9"]),
    ] {
        create(&site.root(), &out.join(name), &args);
        check_with_every_tool(&out.join(name), &out.join(format!("unpacked-{name}")));
    }
}

#[test]
fn demo_site_archive_opens_everywhere() {
    let site = TestSite::demo();
    let out = site.out_dir();
    create(&site.root(), &out.join("demo.zip"), &[]);
    check_with_every_tool(&out.join("demo.zip"), &out.join("unpacked"));
}

#[test]
fn files_over_4_gib_use_zip64() {
    // A sparse file of zeros: cheap to create and to deflate, but its size needs ZIP64.
    let site = TestSite::new("huge");
    std::fs::create_dir_all(site.root().join("files")).unwrap();
    let huge_size = (4u64 << 30) + 12_345;
    std::fs::File::create(site.root().join("files/huge.bin"))
        .unwrap()
        .set_len(huge_size)
        .unwrap();
    let out = site.out_dir();
    create(&site.root(), &out.join("huge.zip"), &["--level", "1"]);
    let archive = out.join("huge.zip");

    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\ni = z.getinfo('site/files/huge.bin')\nprint(i.file_size)\nassert z.testzip() is None";
    let python = run_tool("python3", &["-c", script, "huge.zip"], &out).expect(0);
    assert_eq!(python.stdout.trim(), huge_size.to_string());
    let unzip = run_tool("unzip", &["-t", "huge.zip"], &out).expect(0);
    assert!(
        unzip.stdout.contains("No errors detected"),
        "{}",
        unzip.stdout
    );
    let seven = run_tool("7z", &["t", "huge.zip"], &out).expect(0);
    assert!(
        seven.stdout.contains("Everything is Ok"),
        "{}",
        seven.stdout
    );
    let manifest = crate::util::manifest(&archive);
    let entry = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "site/files/huge.bin")
        .unwrap();
    assert_eq!(entry["size"], huge_size);
}
