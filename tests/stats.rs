//! `sitepack stats`: live counts per area before exporting.

use crate::util::{TestSite, run};

#[test]
fn counts_every_area() {
    let site = TestSite::new("counted");
    site.write("settings/general.json", "{}");
    site.write("settings/roles.json", "{}");
    site.write("users/u-1.json", r#"{"id": "u-1"}"#);
    site.write(
        "modules/crm/contacts.jsonl",
        "{\"id\": 1}\n\n{\"id\": 2}\n{\"id\": 3}",
    );
    site.write("modules/crm/config.json", "{}");
    site.write("modules/crm/logo.svg", "<svg/>");
    site.write("modules/notes/notes.jsonl", "");
    site.write("files/a.txt", "12345");
    site.write("files/users/u-1/b.txt", "123");
    site.write("themes/x.css", "body{}");
    site.write(".sitepack/audit.jsonl", "{}\n");
    let stats = run(["stats".as_ref(), site.root().as_os_str(), "--json".as_ref()])
        .expect(0)
        .json();
    let s = &stats["stats"];
    assert_eq!(s["tabs"], serde_json::json!(["general", "roles"]));
    assert_eq!(s["users"], 1);
    assert_eq!(s["modules"][0]["name"], "crm");
    assert_eq!(
        s["modules"][0]["collections"][0],
        serde_json::json!({"name": "contacts", "records": 3})
    );
    assert_eq!(s["modules"][0]["documents"], 1);
    assert_eq!(s["modules"][0]["files"], 1);
    assert_eq!(s["modules"][1]["collections"][0]["records"], 0);
    assert_eq!(s["files"], 2);
    assert_eq!(s["file_bytes"], 8);
    assert_eq!(s["user_files"], 1);
    assert_eq!(s["other"], 1);
    assert_eq!(
        s["total_files"], 11,
        "site.json is counted, .sitepack/ is not"
    );
    assert_eq!(stats["site"]["id"], "counted");

    let human = run(["stats".as_ref(), site.root().as_os_str()]).expect(0);
    assert!(
        human.stdout.contains("contacts     3 records"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("tabs      2 (general, roles)"),
        "{}",
        human.stdout
    );
}

#[test]
fn stats_refuses_what_create_refuses() {
    let site = TestSite::new("linked");
    std::os::unix::fs::symlink("/etc", site.root().join("etc")).unwrap();
    let result = run(["stats".as_ref(), site.root().as_os_str()]).expect(2);
    assert!(
        result.stderr.contains("is a symbolic link"),
        "{}",
        result.stderr
    );
}
