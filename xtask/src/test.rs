//! `cargo xtask test`: install the Debian packages whose programs the tests run as
//! independent peers (other ZIP readers and writers, util-linux tools), make sure the
//! PostgreSQL server the database tests use is up (starting a stopped local cluster),
//! then run `cargo test --workspace`.

use std::ffi::OsString;
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Every program a test runs that Rust does not provide, with its Debian package.
const PEERS: &[(&str, &str)] = &[
    ("unzip", "unzip"),
    ("zip", "zip"),
    ("7z", "p7zip-full"),
    ("python3", "python3"),
    ("sha256sum", "coreutils"),
    ("setpriv", "util-linux"),
    ("flock", "util-linux"),
    ("script", "bsdutils"),
    ("age", "age"),
    ("age-keygen", "age"),
    // The admin page's browser test: Chromium headless, driven over WebDriver.
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    // The TLS test's self-signed certificate.
    ("openssl", "openssl"),
];

pub(crate) fn run(cargo_test_args: &[OsString]) -> Result<ExitCode> {
    let missing = missing_packages();
    if !missing.is_empty() {
        install(&missing)?;
    }
    ensure_postgres()?;
    let status = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .current_dir(super::project_root())
        .args(["test", "--workspace"])
        .args(cargo_test_args)
        .status()
        .context("run cargo test")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The packages of the peers not found on the `PATH`, each once.
fn missing_packages() -> Vec<&'static str> {
    let mut missing: Vec<&str> = PEERS
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// `apt-get update` once, then `apt-get install` of `packages`; as root only, else the
/// error says what to install.
fn install(packages: &[&str]) -> Result<()> {
    let list = packages.join(" ");
    if !nix::unistd::geteuid().is_root() || !on_path("apt-get") {
        bail!(
            "the tests need these Debian packages, which only root can install here: \
             apt-get install {list}"
        );
    }
    println!("installing: {list}");
    apt_get(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(packages);
    apt_get(&install)?;
    let still_missing = missing_packages();
    if !still_missing.is_empty() {
        bail!(
            "still missing after apt-get install: {}",
            still_missing.join(" ")
        );
    }
    Ok(())
}

fn apt_get(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("run apt-get")?;
    if !status.success() {
        bail!("apt-get {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Where the database tests find PostgreSQL (the same default as the tests).
pub(crate) const POSTGRES_URL_VARIABLE: &str = "SITEPACK_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Makes sure the PostgreSQL server of the database tests answers: a stopped local
/// cluster is started (`pg_ctlcluster`); a machine without one gets an error saying how
/// to get one. The tests never skip for want of it.
pub(crate) fn ensure_postgres() -> Result<()> {
    let url = std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let address = server_address(&url)?;
    if answers(&address) {
        return Ok(());
    }
    let clusters: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    for version in &clusters {
        println!("starting PostgreSQL {version} (cluster main)");
        let _ = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", version, "main", "start"])
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if answers(&address) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!(
        "the database tests need a PostgreSQL server at {address} ({POSTGRES_URL_VARIABLE}, \
         default {DEFAULT_POSTGRES_URL}) and none answers. Start the local one with \
         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, install \
         one (`apt-get install postgresql`, then allow trust authentication for the user \
         postgres on 127.0.0.1), or set {POSTGRES_URL_VARIABLE} to a server where the user may \
         create databases"
    )
}

/// `host:port` of a `postgres://` URL.
fn server_address(url: &str) -> Result<String> {
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .with_context(|| format!("{POSTGRES_URL_VARIABLE}: not a postgres:// URL"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Ok(if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    })
}

fn answers(address: &str) -> bool {
    address.to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
    })
}
