//! Every archive `create` writes validates and restores with the default options: the
//! writer and the reader apply one set of limits. Regression tests for "a file of zeros
//! over 1 MiB made a backup that validate called a decompression bomb and restore
//! refused, with no way to raise the limit".

use crate::util::{TestSite, create, listing, run, site_files};

#[test]
fn highly_repetitive_files_over_one_mebibyte_validate_and_restore() {
    let site = TestSite::new("quarry-works");
    // Runs of one byte deflate past 1000:1; a repeated short pattern nearly as far.
    site.write("files/disks/blank.img", vec![0u8; 10 << 20]);
    site.write("exports/fill.bin", vec![0xabu8; (3 << 20) + 7]);
    site.write("modules/logs/idle.log", "idle\n".repeat(600_000));
    site.write("files/users/u-ria/pad.dat", vec![0xffu8; (1 << 20) + 1]);
    let archive = site.out_dir().join("quarry.zip");
    create(&site.root(), &archive, &[]);
    let report = run(["validate".as_ref(), archive.as_os_str(), "--json".as_ref()]).expect(0);
    assert_eq!(report.json()["valid"], true, "{}", report.stdout);
    let target = site.out_dir().join("restored");
    run([
        "restore".as_ref(),
        archive.as_os_str(),
        target.as_os_str(),
        "--yes".as_ref(),
    ])
    .expect(0);
    assert_eq!(site_files(&target), site_files(&site.root()));
}

#[test]
fn restore_and_extract_take_the_same_limits_as_validate() {
    let site = TestSite::new("quarry-works");
    // About 200:1 and eight entries in all.
    site.write("files/report.txt", "quarterly figures\n".repeat(120_000));
    for i in 0..3 {
        site.write(&format!("files/n{i}.txt"), format!("note {i}\n"));
    }
    let archive = site.out_dir().join("quarry.zip");
    create(&site.root(), &archive, &[]);
    let target = site.out_dir().join("target");
    let extracted = site.out_dir().join("extracted");
    for limit in [
        ["--max-ratio", "50"],
        ["--max-entries", "4"],
        ["--max-bytes", "4096"],
    ] {
        let validate = run([&["validate", archive.to_str().unwrap()][..], &limit[..]].concat());
        assert_eq!(validate.code, 1, "{limit:?}: {}", validate.stderr);
        let restore = run([
            &[
                "restore",
                archive.to_str().unwrap(),
                target.to_str().unwrap(),
                "--yes",
            ][..],
            &limit[..],
        ]
        .concat());
        assert_eq!(restore.code, 1, "{limit:?}: {}", restore.stderr);
        assert!(!target.exists(), "{limit:?}: restore wrote into the target");
        let extract = run([
            &[
                "extract",
                archive.to_str().unwrap(),
                "-o",
                extracted.to_str().unwrap(),
            ][..],
            &limit[..],
        ]
        .concat());
        assert_eq!(extract.code, 1, "{limit:?}: {}", extract.stderr);
        assert!(!extracted.exists(), "{limit:?}: extract wrote something");
        assert_eq!(listing(&site.out_dir()), ["quarry.zip"]);
    }
    // Raised limits let through what the defaults would refuse, and vice versa.
    for args in [
        &[][..],
        &["--max-ratio", "100000", "--max-entries", "100"][..],
    ] {
        let restore = run([
            &[
                "restore",
                archive.to_str().unwrap(),
                target.to_str().unwrap(),
                "--yes",
            ][..],
            args,
        ]
        .concat());
        assert_eq!(restore.code, 0, "{args:?}: {}", restore.stderr);
        std::fs::remove_dir_all(&target).unwrap();
        run([
            &[
                "extract",
                archive.to_str().unwrap(),
                "-o",
                extracted.to_str().unwrap(),
            ][..],
            args,
        ]
        .concat())
        .expect(0);
        std::fs::remove_dir_all(&extracted).unwrap();
    }
}
