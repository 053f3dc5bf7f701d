//! The admin Backup page in a real browser: Debian's Chromium, headless, driven by
//! chromedriver over `WebDriver`. Sign in with the token, see the stats, create a backup
//! and see it listed, restore from a file through the preview and the confirmation, see
//! the review card, Revert, read the audit log, delete a backup after the confirmation.
//! Screenshots of the main states are saved under `target/tmp/serve-browser/`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::util::server::{Server, TOKEN};
use crate::util::{TestSite, site_files};

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run chromedriver ({e}): install Chromium and its driver \
                     (Debian: apt-get install chromium chromium-driver; `cargo xtask test` does)"
                )
            });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn connect(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,2400",
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver: {e}"))
}

/// Waits (up to 20 s) until `ready` holds; on a timeout the panic says what the page's
/// message said.
async fn wait_until<F, Fut>(client: &Client, what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, fantoccini::error::CmdError>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if ready().await.unwrap_or(false) {
            return;
        }
        if Instant::now() > deadline {
            save_screenshot(client, "timed-out").await;
            panic!(
                "timed out waiting for {what}; the page says: {:?}",
                text_of(client, "message").await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn by_id(client: &Client, id: &str) -> Element {
    client.find(Locator::Id(id)).await.unwrap()
}

async fn text_of(client: &Client, id: &str) -> String {
    by_id(client, id).await.text().await.unwrap_or_default()
}

async fn shown(client: &Client, id: &str) -> Result<bool, fantoccini::error::CmdError> {
    client.find(Locator::Id(id)).await?.is_displayed().await
}

async fn save_screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

async fn rows(client: &Client, table: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for row in client
        .find_all(Locator::Css(&format!("#{table} tbody tr")))
        .await
        .unwrap()
    {
        texts.push(row.text().await.unwrap_or_default());
    }
    texts
}

#[test]
fn the_backup_page_signs_in_backs_up_restores_reverts_and_shows_the_audit_log() {
    let site = TestSite::demo();
    let before = site_files(&site.root());
    let server = Server::start(&site.root(), &[]);
    // The archive to restore: the demo site with one tab changed.
    let source = TestSite::demo();
    source.write(
        "settings/general.json",
        "{\"shop_name\": \"From the uploaded file\"}\n",
    );
    let upload = server.dir.path().join("changed.zip");
    crate::util::create(&source.root(), &upload, &[]);
    let driver = Driver::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = connect(&driver).await;
        client.goto(&format!("{}/", server.base)).await.unwrap();

        // A wrong token is said in the page; the right one opens it.
        by_id(&client, "token")
            .await
            .send_keys("not-the-token-at-all")
            .await
            .unwrap();
        by_id(&client, "sign-in").await.click().await.unwrap();
        wait_until(&client, "the refusal", || async {
            Ok(text_of(&client, "message").await.contains("not accepted"))
        })
        .await;
        assert!(!shown(&client, "app").await.unwrap());
        by_id(&client, "token")
            .await
            .send_keys(TOKEN)
            .await
            .unwrap();
        by_id(&client, "sign-in").await.click().await.unwrap();
        wait_until(&client, "the stats", || async {
            Ok(rows(&client, "stats").await.len() > 3)
        })
        .await;
        let stats = rows(&client, "stats").await.join("\n");
        assert!(stats.contains("Users 12"), "{stats}");
        assert!(
            text_of(&client, "site-name")
                .await
                .contains("Acme Outdoor Supply")
        );
        save_screenshot(&client, "1-signed-in").await;

        // Create a backup: listed with its label.
        by_id(&client, "create-label")
            .await
            .send_keys("from the browser")
            .await
            .unwrap();
        by_id(&client, "create-backup").await.click().await.unwrap();
        wait_until(&client, "the new backup in the list", || async {
            Ok(rows(&client, "backups")
                .await
                .iter()
                .any(|r| r.contains("from the browser")))
        })
        .await;
        assert!(text_of(&client, "message").await.contains("Stored"));
        save_screenshot(&client, "2-backup-listed").await;

        // Restore from a file: verdict and plan, nothing changed before the confirmation.
        by_id(&client, "upload-file")
            .await
            .send_keys(upload.to_str().unwrap())
            .await
            .unwrap();
        by_id(&client, "upload").await.click().await.unwrap();
        wait_until(&client, "the verdict", || async {
            shown(&client, "upload-result").await
        })
        .await;
        assert!(text_of(&client, "verdict").await.contains("valid"));
        let plans = rows(&client, "plans").await.join("\n");
        assert!(
            plans.contains("merge") && plans.contains("replace"),
            "{plans}"
        );
        assert!(
            !by_id(&client, "apply").await.is_enabled().await.unwrap(),
            "Restore waits for the checkbox"
        );
        save_screenshot(&client, "3-preview").await;
        by_id(&client, "confirm").await.click().await.unwrap();
        client
            .find(Locator::Css("input[name=mode][value=replace]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        by_id(&client, "apply").await.click().await.unwrap();
        wait_until(&client, "the review card", || async {
            shown(&client, "review-card").await
        })
        .await;
        assert!(
            text_of(&client, "review-text")
                .await
                .contains("pending review")
        );
        assert_eq!(
            std::fs::read_to_string(site.root().join("settings/general.json")).unwrap(),
            "{\"shop_name\": \"From the uploaded file\"}\n"
        );
        save_screenshot(&client, "4-review-card").await;

        // Revert after an edit of a restored path: the page asks, then reverts anyway;
        // the site is as before, the card goes.
        site.write(
            "settings/general.json",
            "{\"shop_name\": \"Edited meanwhile\"}\n",
        );
        by_id(&client, "revert").await.click().await.unwrap();
        wait_until(&client, "the question about the edits", || async {
            Ok(client
                .get_alert_text()
                .await
                .is_ok_and(|text| text.contains("settings/general.json")))
        })
        .await;
        client.accept_alert().await.unwrap();
        wait_until(&client, "the revert", || async {
            Ok(text_of(&client, "message").await.contains("Reverted"))
        })
        .await;
        assert!(!shown(&client, "review-card").await.unwrap());
        let mut after = site_files(&site.root());
        after.retain(|p, _| !p.starts_with(".sitepack/"));
        let mut expected = before.clone();
        expected.retain(|p, _| !p.starts_with(".sitepack/"));
        assert_eq!(after, expected, "the revert put the site back");

        // The audit log, filtered by type.
        by_id(&client, "audit-type")
            .await
            .select_by_value("restore")
            .await
            .unwrap();
        wait_until(&client, "the restore events", || async {
            let rows = rows(&client, "audit").await;
            Ok(!rows.is_empty() && rows.iter().all(|r| r.contains("restore")))
        })
        .await;
        by_id(&client, "audit-type")
            .await
            .select_by_value("")
            .await
            .unwrap();
        wait_until(&client, "every event", || async {
            let rows = rows(&client, "audit").await.join("\n");
            Ok(rows.contains("revert") && rows.contains("create"))
        })
        .await;
        save_screenshot(&client, "5-audit-log").await;

        // Automatic settings written by hand (a cron schedule, rules the page does not
        // edit): shown, and kept whole by a save from the page.
        std::fs::write(
            site.root().join(".sitepack/config.toml"),
            format!(
                "[auto]\ntarget = \"{}\"\nschedule = \"15 3 * * 1-5\"\nfiles = false\n\n[auto.retention]\nkeep_last = 3\nkeep_daily = 7\n",
                server.dir.path().join("auto").display()
            ),
        )
        .unwrap();
        client.refresh().await.unwrap();
        wait_until(&client, "the settings", || async {
            Ok(text_of(&client, "auto-retention").await.contains("keep_daily = 7"))
        })
        .await;
        assert!(!by_id(&client, "auto-time").await.is_enabled().await.unwrap(), "a cron schedule has its own time");
        by_id(&client, "auto-enabled").await.click().await.unwrap();
        by_id(&client, "auto-save").await.click().await.unwrap();
        wait_until(&client, "the settings saved", || async {
            Ok(text_of(&client, "message").await.contains("settings saved"))
        })
        .await;
        let config = std::fs::read_to_string(site.root().join(".sitepack/config.toml")).unwrap();
        // Enabled was on (the default): the click turned it off, and nothing else changed.
        for kept in ["15 3 * * 1-5", "keep_daily = 7", "keep_last = 3", "files = false", "enabled = false"] {
            assert!(config.contains(kept), "{kept} lost: {config}");
        }
        save_screenshot(&client, "6-automatic-settings").await;

        // Delete, after the browser's confirmation.
        client
            .find(Locator::Css("#backups tbody button[aria-label^=Delete]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        client.accept_alert().await.unwrap();
        wait_until(&client, "the empty list", || async {
            Ok(rows(&client, "backups").await.is_empty())
        })
        .await;
        client.close().await.unwrap();
    });
    assert!(
        std::fs::read_dir(server.dir.path().join("target/acme-shop"))
            .unwrap()
            .next()
            .is_none(),
        "the backup was deleted from the target"
    );
}
