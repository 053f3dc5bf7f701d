//! Developer tasks, run as `cargo xtask <task>`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "sitepack developer tasks")]
struct Xtask {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Rewrite schema/*.schema.json from the Rust types (or, with --check, fail when they differ).
    Schema {
        /// Compare only; exit 1 when a committed schema is out of date.
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    match run(&Xtask::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(xtask: &Xtask) -> Result<ExitCode> {
    match xtask.task {
        Task::Schema { check } => schema(check),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn schema(check: bool) -> Result<ExitCode> {
    let root = project_root();
    let schemas = [
        (
            "schema/manifest.schema.json",
            sitepack_format::generated_manifest_schema(),
        ),
        (
            "schema/site.schema.json",
            sitepack_format::generated_site_schema(),
        ),
    ];
    let mut stale = false;
    for (relative, value) in schemas {
        let path = root.join(relative);
        let text = serde_json::to_string_pretty(&value)? + "\n";
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == text {
            println!("{relative}: up to date");
        } else if check {
            println!("{relative}: out of date; run `cargo xtask schema`");
            stale = true;
        } else {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            println!("{relative}: written");
        }
    }
    Ok(if stale {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
