//! The PostgreSQL server the tests use (`SITEPACK_TEST_POSTGRES_URL`).

use postgres::{Client, NoTls};

const START_HINT: &str = "start PostgreSQL with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (or set SITEPACK_TEST_POSTGRES_URL)";

pub fn admin_url() -> String {
    std::env::var("SITEPACK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn admin_client() -> Client {
    Client::connect(&admin_url(), NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {}: {e}; {START_HINT}",
            admin_url()
        )
    })
}
