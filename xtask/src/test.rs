//! `cargo xtask test`: install the Debian packages whose programs the tests run as
//! independent peers (other ZIP readers and writers, util-linux tools), then run
//! `cargo test --workspace`.

use std::ffi::OsString;
use std::process::{Command, ExitCode};

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
];

pub(crate) fn run(cargo_test_args: &[OsString]) -> Result<ExitCode> {
    let missing = missing_packages();
    if !missing.is_empty() {
        install(&missing)?;
    }
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
