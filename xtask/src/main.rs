//! Developer tasks, run as `cargo xtask <task>`.

mod bench;
mod demo_db;
mod fuzz;
mod gen_site;
mod rng;
mod test;

use std::ffi::OsString;
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
    /// Rewrite the JSON Schemas (crates/*/schema/, linked from schema/) from the Rust types
    /// (or, with --check, fail when they differ).
    Schema {
        /// Compare only; exit 1 when a committed schema is out of date.
        #[arg(long)]
        check: bool,
    },
    /// Generate a deterministic, realistic site (same seed ⇒ byte-identical tree).
    GenSite(GenSiteArgs),
    /// Build the demo database site's SQLite file, fixtures/db-demo/fleet.db, from
    /// fixtures/db-demo/fleet.sql (replacing it).
    DemoDb,
    /// Time `sitepack create` against `zip -r` and `sitepack validate` against `unzip -t`; print a report.
    ///
    /// Needs Info-ZIP's `zip` and `unzip` (Debian/Ubuntu: `apt-get install zip unzip`).
    /// Builds the release `sitepack`, generates (or reuses) the bench site (`gen-site`, seed 1,
    /// `--scale K`) in WORK, then times each tool `--runs` times, round by round:
    ///
    /// 1. create: `sitepack create`, `zip -r -q` and `zip -r -q -1` on the site;
    ///
    /// 2. validate, on the archives of the last create round: `sitepack validate` and
    ///    `unzip -t -q` on sitepack's archive, `unzip -t -q` on `zip -r -q`'s (a second
    ///    reference).
    ///
    /// Reports median wall and CPU time, peak RSS and archive size of each tool, and checks
    /// the targets of docs/PERFORMANCE.md: create ≥ 3× faster than `zip -r -q`, archive
    /// ≤ 1.02× zip's, peak RSS < 200 MB; validate ≥ 2× faster than `unzip -t -q` on the same
    /// archive. The markdown report goes to standard output and WORK/report-scale-K.md; exit
    /// status 0 when every target passes, 1 otherwise, 2 when a tool is missing.
    ///
    /// With --database: `sitepack create` of one tenant of a generated multi-tenant
    /// PostgreSQL database instead (needs the server of the tests, `SITEPACK_TEST_POSTGRES_URL`,
    /// default `postgres://postgres@127.0.0.1:5432/postgres`, and `psql` and `pg_dump`,
    /// Debian/Ubuntu: `apt-get install postgresql-client`). Creates two databases of its own,
    /// dropped at the end: one with two tenants of `--rows N` rows each in organizations,
    /// categories (reference), events (tenant) and `event_notes` (linked), and one holding only
    /// the tenant's rows. Times `sitepack create` of the tenant against `pg_dump -Fc` of the
    /// tenant-only database and `psql \copy` of the tenant's queries to CSV; checks
    /// sitepack's wall time ≤ `pg_dump`'s and its peak RSS < 200 MB. Report:
    /// WORK/report-rows-N.md (default WORK: target/bench-db).
    Bench(BenchArgs),
    /// Fuzz the archive reader for a while (needs cargo-fuzz; works on stable Rust).
    ///
    /// Writes a seed corpus (small archives of the demo site) to fuzz/corpus/TARGET, then
    /// runs `cargo fuzz run TARGET --sanitizer none -- -max_total_time=SECONDS [ARGS…]`.
    /// Inputs that crash are saved in fuzz/artifacts/TARGET/ and listed; the exit status is
    /// 0 when none was found, 1 when one was, 2 when cargo-fuzz is missing
    /// (`cargo install cargo-fuzz --locked`). See fuzz/README.md.
    Fuzz(FuzzArgs),
    /// Run the create → validate → restore round-trip property test (`tests/roundtrip_property.rs`)
    /// on many more random sites than the test suite does (release build).
    ///
    /// Every archive `create` writes must validate and restore into an empty directory as
    /// the same tree. Exit status 0 when every case held, 1 when one failed (the minimal
    /// failing site is printed).
    Roundtrip {
        /// Random sites to try.
        #[arg(long, value_name = "N", default_value_t = 500)]
        cases: u64,
        /// Seed of the random sites (default: a new one each run, printed on failure).
        #[arg(long, value_name = "N")]
        seed: Option<String>,
    },
    /// Write the man pages of `sitepack` from its clap definition: sitepack.1 and one
    /// page per subcommand (sitepack-create.1, sitepack-auto-run.1, …).
    Man {
        /// Where the pages go (default: target/man).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Install the Debian packages the tests use, then run `cargo test --workspace [ARGS…]`.
    ///
    /// The tests run `unzip`, `zip`, 7-Zip (`p7zip-full`) and `python3` as independent ZIP
    /// readers and writers, and `setpriv`, `flock` (util-linux) and `script` (bsdutils).
    /// Missing packages are installed with `apt-get` (root only; otherwise the error says
    /// what to install, exit 2). Exit status 0 when the tests pass, 1 when one fails.
    Test {
        /// More arguments for `cargo test`, e.g. `-- hostile` or `-- --nocapture`.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        cargo_test_args: Vec<OsString>,
    },
    /// (internal) Run a command and print its wall time, CPU time and peak memory.
    #[command(hide = true)]
    MeasureChild {
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
    },
}

#[derive(clap::Args)]
struct GenSiteArgs {
    /// Directory to create (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Seed of every random choice.
    #[arg(long, value_name = "S")]
    seed: u64,
    /// Small JSON documents (module documents and reports under files/data/).
    #[arg(long, value_name = "N", default_value_t = gen_site::Spec::DEFAULT_DOCS)]
    docs: u64,
    /// JSON Lines records, across all module collections.
    #[arg(long, value_name = "N", default_value_t = gen_site::Spec::DEFAULT_RECORDS)]
    records: u64,
    /// Media under files/, in MiB: half incompressible, a quarter text, a quarter images.
    #[arg(long, value_name = "N", default_value_t = gen_site::Spec::DEFAULT_MEDIA_MIB)]
    media_mb: u64,
    /// Multiplies --docs, --records and --media-mb.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    scale: u64,
}

#[derive(clap::Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each is a switch of the command line"
)]
struct BenchArgs {
    /// Timed runs of each tool (the median is reported).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    runs: u64,
    /// Size of the bench site: K times the standard site.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    scale: u64,
    /// Where the site (or the descriptor), the archives and the report go (default:
    /// target/bench; with --database, target/bench-db).
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// Keep the generated site (and reuse it next time) instead of removing it at the end.
    #[arg(long, conflicts_with = "database")]
    keep_site: bool,
    /// Bench a PostgreSQL tenant against `pg_dump -Fc` and `psql \copy` instead of a site
    /// directory against zip.
    #[arg(long, conflicts_with = "scale")]
    database: bool,
    /// With --database: the tenant's rows across its tables (the other tenant has as many).
    #[arg(long, value_name = "N", default_value_t = 1_000_000, requires = "database", value_parser = clap::value_parser!(u64).range(10..=100_000_000))]
    rows: u64,
    /// With --database: keep the two databases (named at the end) instead of dropping them.
    #[arg(long, requires = "database")]
    keep_databases: bool,
    /// A load check of `sitepack serve` instead: the export through the API while
    /// `--clients` clients ask for the stats, against `sitepack create` (report:
    /// WORK/report-serve-scale-K.md).
    #[arg(long, conflicts_with = "database")]
    serve: bool,
    /// With --serve: how many clients ask for the stats (each every 100 ms) during the export.
    #[arg(long, value_name = "N", default_value_t = 4, requires = "serve", value_parser = clap::value_parser!(u64).range(1..=256))]
    clients: u64,
}

#[derive(clap::Args)]
struct FuzzArgs {
    /// How long to fuzz.
    #[arg(long, value_name = "N", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Which fuzz target to run.
    #[arg(long, value_enum, default_value = "reader")]
    target: fuzz::Target,
    /// More libFuzzer options, e.g. `-- -jobs=2` or `-- -max_len=65536`.
    #[arg(last = true, value_name = "LIBFUZZER_ARGS")]
    libfuzzer_args: Vec<OsString>,
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
    match &xtask.task {
        Task::Schema { check } => schema(*check),
        Task::GenSite(args) => gen_site(args),
        Task::DemoDb => demo_db::build(&project_root().join(demo_db::DEMO_DIR)).map(|path| {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }),
        Task::Bench(args) if args.database => bench::database::run(&bench::database::Settings {
            runs: usize::try_from(args.runs)?,
            rows: args.rows,
            work: args
                .work
                .clone()
                .unwrap_or_else(|| project_root().join("target/bench-db")),
            keep_databases: args.keep_databases,
        }),
        Task::Bench(args) => {
            let settings = bench::Settings {
                runs: usize::try_from(args.runs)?,
                scale: args.scale,
                work: args
                    .work
                    .clone()
                    .unwrap_or_else(|| project_root().join("target/bench")),
                keep_site: args.keep_site,
            };
            if args.serve {
                bench::serve_load::run(&bench::serve_load::Settings {
                    bench: settings,
                    clients: usize::try_from(args.clients)?,
                })
            } else {
                bench::run(&settings)
            }
        }
        Task::Fuzz(args) => fuzz::run(&fuzz::Settings {
            seconds: args.seconds,
            target: args.target,
            libfuzzer_args: args.libfuzzer_args.clone(),
        }),
        Task::Roundtrip { cases, seed } => roundtrip(*cases, seed.as_deref()),
        Task::Man { out } => {
            let out = out
                .clone()
                .unwrap_or_else(|| project_root().join("target/man"));
            man(&out)?;
            println!("{}: man pages written", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Task::Test { cargo_test_args } => test::run(cargo_test_args),
        Task::MeasureChild { command } => bench::measure_child(command),
    }
}

fn roundtrip(cases: u64, seed: Option<&str>) -> Result<ExitCode> {
    let mut command =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
    command
        .current_dir(project_root())
        .args([
            "test",
            "--release",
            "-p",
            "sitepack-cli",
            "--test",
            "e2e",
            "--",
        ])
        .args(["roundtrip_property", "--nocapture"])
        .env("PROPTEST_CASES", cases.to_string());
    if let Some(seed) = seed {
        command.env("PROPTEST_RNG_SEED", seed);
    }
    let status = command.status().context("run cargo test")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes `sitepack.1` and a page per subcommand into `out` (created if missing).
fn man(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    clap_mangen::generate_to(sitepack_cli::command(), out)
        .with_context(|| format!("writing the man pages to {}", out.display()))
}

fn gen_site(args: &GenSiteArgs) -> Result<ExitCode> {
    let spec = gen_site::Spec {
        seed: args.seed,
        docs: args.docs.saturating_mul(args.scale),
        records: args.records.saturating_mul(args.scale),
        media_mib: args.media_mb.saturating_mul(args.scale),
    };
    let start = std::time::Instant::now();
    let totals = gen_site::generate(&args.out, &spec)?;
    println!(
        "{}: {} files, {} bytes in {:.1} s ({})",
        args.out.display(),
        totals.files,
        totals.bytes,
        start.elapsed().as_secs_f64(),
        spec.describe()
    );
    Ok(ExitCode::SUCCESS)
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
            "crates/format/schema/manifest.schema.json",
            sitepack_format::generated_manifest_schema(),
        ),
        (
            "crates/format/schema/site.schema.json",
            sitepack_format::generated_site_schema(),
        ),
        (
            "crates/format/schema/database.schema.json",
            sitepack_format::generated_database_schema(),
        ),
        (
            "crates/reader/schema/report.schema.json",
            sitepack_reader::generated_report_schema(),
        ),
        (
            "crates/site/schema/audit-event.schema.json",
            sitepack_site::generated_audit_event_schema(),
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_man_page_names_every_subcommand_and_each_has_its_own() {
        let out = tempfile::tempdir().unwrap();
        super::man(out.path()).unwrap();
        let page = std::fs::read_to_string(out.path().join("sitepack.1")).unwrap();
        assert!(page.contains(".TH sitepack 1"), "{page}");
        let command = sitepack_cli::command();
        let names: Vec<&str> = command
            .get_subcommands()
            .map(clap::Command::get_name)
            .collect();
        assert!(names.contains(&"create") && names.contains(&"completions"));
        for name in names {
            assert!(page.contains(name), "sitepack.1 does not name `{name}`");
            assert!(
                out.path().join(format!("sitepack-{name}.1")).is_file(),
                "no page for `{name}`"
            );
        }
        // Nested subcommands get theirs too.
        assert!(out.path().join("sitepack-auto-run.1").is_file());
    }
}
