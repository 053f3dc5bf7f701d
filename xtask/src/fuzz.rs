//! `cargo xtask fuzz`: generate a seed corpus, then run a cargo-fuzz target for a while.
//!
//! The targets live in `fuzz/` (a cargo-fuzz project outside the workspace, see
//! `fuzz/README.md`). They run without a sanitizer (`--sanitizer none`), which is what lets
//! cargo-fuzz build them with the stable toolchain: the code under test has no `unsafe`,
//! so `AddressSanitizer` would find nothing that a panic does not already show.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use sitepack_format::zip_records;

/// The archive time of every generated seed, so that the corpus is the same on every run.
const TIMESTAMP: &str = "2026-01-01T00:00:00Z";
/// The site the seed archives are made from.
const SEED_SITE: &str = "fixtures/sites/demo";

/// A fuzz target of `fuzz/fuzz_targets/`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Target {
    /// Any bytes through `Archive::open`, `validate` and, when valid, `extract_to`.
    Reader,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Self::Reader => "reader",
        }
    }
}

/// What `cargo xtask fuzz` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub seconds: u64,
    pub target: Target,
    /// Passed on to libFuzzer after `-max_total_time`.
    pub libfuzzer_args: Vec<OsString>,
}

pub(crate) fn run(settings: &Settings) -> Result<ExitCode> {
    if !cargo_fuzz_installed() {
        eprintln!(
            "error: cargo-fuzz is not installed. Install it with `cargo install cargo-fuzz --locked` and run again."
        );
        return Ok(ExitCode::from(2));
    }
    let root = crate::project_root();
    let fuzz = root.join("fuzz");
    let name = settings.target.name();
    let corpus = fuzz.join("corpus").join(name);
    match settings.target {
        Target::Reader => write_reader_seeds(&root, &corpus)?,
    }
    let artifacts = fuzz.join("artifacts").join(name);
    let before = list_files(&artifacts)?;

    eprintln!("fuzzing `{name}` for {} s…", settings.seconds);
    let status = Command::new(cargo())
        .args(["fuzz", "run", name, "--sanitizer", "none", "--"])
        .arg(format!("-max_total_time={}", settings.seconds))
        .args(&settings.libfuzzer_args)
        .current_dir(&root)
        .status()
        .context("running cargo fuzz")?;

    let found: Vec<PathBuf> = list_files(&artifacts)?
        .into_iter()
        .filter(|path| !before.contains(path))
        .collect();
    if status.success() && found.is_empty() {
        eprintln!(
            "no crash in {} s; corpus: {} inputs in {}",
            settings.seconds,
            list_files(&corpus)?.len(),
            corpus.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for path in &found {
        eprintln!(
            "failing input: {} (reproduce: cargo fuzz run {name} --sanitizer none {})",
            path.display(),
            path.display()
        );
    }
    if found.is_empty() {
        bail!("cargo fuzz failed ({status}) without saving an input");
    }
    Ok(ExitCode::FAILURE)
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn cargo_fuzz_installed() -> bool {
    Command::new(cargo())
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Small, valid archives of the demo site, each exercising a different part of the format
/// (deflated JSON Lines, stored media, a user scope, redactions), plus an empty ZIP.
/// Rewritten on every run: the same bytes each time.
fn write_reader_seeds(root: &Path, corpus: &Path) -> Result<()> {
    fs::create_dir_all(corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let seeds: [(&str, &[&str]); 4] = [
        ("demo-no-files.zip", &["--no-files"]),
        ("demo-user-ada.zip", &["--scope", "user:u-ada"]),
        ("demo-module-notes.zip", &["--scope", "module:notes"]),
        (
            "demo-tab-integrations.zip",
            &["--scope", "tab:integrations"],
        ),
    ];
    eprintln!(
        "writing the seed corpus to {} (sitepack create, debug build)…",
        corpus.display()
    );
    for (file, options) in seeds {
        let status = Command::new(cargo())
            .args(["run", "-q", "-p", "sitepack-cli", "--", "create", SEED_SITE])
            .arg("-o")
            .arg(corpus.join(file))
            .args(options)
            .args(["--timestamp", TIMESTAMP, "--force", "--no-progress"])
            .current_dir(root)
            .stdout(Stdio::null())
            .status()
            .context("running sitepack create")?;
        if !status.success() {
            bail!("sitepack create {SEED_SITE} {} failed", options.join(" "));
        }
    }
    // End of central directory with no entries: the smallest archive a reader must parse.
    let mut empty = zip_records::END_OF_CENTRAL_DIRECTORY.to_vec();
    empty.resize(zip_records::END_OF_CENTRAL_DIRECTORY_LEN, 0);
    fs::write(corpus.join("empty.zip"), empty)?;
    Ok(())
}

/// The files directly in `dir`, sorted; none when it does not exist.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}
