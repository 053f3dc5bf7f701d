//! The PostgreSQL server of the database tests (`SITEPACK_TEST_POSTGRES_URL`), and a
//! database of one test on it.

use std::sync::atomic::{AtomicUsize, Ordering};

const START_HINT: &str = "start PostgreSQL with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (or set SITEPACK_TEST_POSTGRES_URL)";

pub fn admin_url() -> String {
    std::env::var("SITEPACK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn admin_client() -> postgres::Client {
    postgres::Client::connect(&admin_url(), postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {}: {e}; {START_HINT}",
            admin_url()
        )
    })
}

/// A PostgreSQL database of one test, dropped when the test ends, passed or failed.
pub struct PgDb {
    pub name: String,
}

impl PgDb {
    /// A new database named `{prefix}_{pid}_{n}`.
    pub fn new(prefix: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        admin_client()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Self { name }
    }

    /// The URL of this database: the admin URL with its database replaced.
    pub fn url(&self) -> String {
        url_with_database(&admin_url(), &self.name)
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).unwrap()
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&admin_url(), postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `url` (`postgres://…/DB`) naming `database` instead.
pub fn url_with_database(url: &str, database: &str) -> String {
    let (server, _) = url.rsplit_once('/').unwrap();
    format!("{server}/{database}")
}
