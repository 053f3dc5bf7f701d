//! `cargo xtask bench`: `sitepack create` against `zip -r`, then `sitepack validate`
//! against `unzip -t`, on the standard bench site.
//!
//! Builds the release `sitepack`, generates (or reuses) the bench site, warms the page
//! cache, then runs each create tool `--runs` times, interleaved round by round so that a
//! machine getting slower or faster during the bench affects every tool alike. The
//! archives of the last round are then tested the same way: `sitepack validate` and
//! `unzip -t -q` on sitepack's archive, and `unzip -t -q` on zip's. Prints a markdown
//! report (machine, site, tables, PASS/FAIL against the targets) on standard output and
//! keeps a copy in the work directory.

pub(crate) mod database;
mod measure;
pub(crate) mod serve_load;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub(crate) use measure::measure_child;
use measure::{Sample, measure};

use crate::gen_site::{self, Spec};

/// The standard bench site's seed.
const SEED: u64 = 1;
/// The archive time given to `sitepack create`, so every run writes the same bytes.
const TIMESTAMP: &str = "2026-01-01T00:00:00Z";
/// Targets (see docs/PERFORMANCE.md).
const MIN_SPEEDUP: f64 = 3.0;
const MAX_SIZE_RATIO: f64 = 1.02;
const MAX_RSS_MB: f64 = 200.0;
/// `unzip -t -q` wall time ÷ `sitepack validate` wall time, on the same archive.
const MIN_VALIDATE_SPEEDUP: f64 = 2.0;
/// Above this share of the machine's CPU used by other processes, wall times are suspect.
const BUSY_SHARE: f64 = 0.05;
/// The archives written by `sitepack create` and by `zip -r -q` (in the outputs
/// directory); the validate tools test the last ones written.
const SITEPACK_ARCHIVE: &str = "sitepack.zip";
const ZIP_ARCHIVE: &str = "zip-6.zip";
/// `sitepack.zip` encrypted by `age -r` (when Debian's `age` is installed), and the key.
const ENCRYPTED_ARCHIVE: &str = "sitepack.zip.age";
const AGE_KEY: &str = "bench-key.txt";
/// The names of the encrypted validate and of the decryption pass alone.
const ENCRYPTED_VALIDATE: &str = "sitepack validate --identity (age)";
const AGE_DECRYPT: &str = "age -d > /dev/null";

/// What `cargo xtask bench` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub runs: usize,
    pub scale: u64,
    pub work: PathBuf,
    pub keep_site: bool,
}

/// One command under test.
struct Tool {
    name: &'static str,
    program: PathBuf,
    args: Vec<OsString>,
    cwd: PathBuf,
    /// The archive the command writes (create) or reads (validate).
    archive: PathBuf,
}

/// A tool's measurements.
struct Outcome {
    name: &'static str,
    samples: Vec<Sample>,
    archive_size: u64,
}

impl Outcome {
    fn median_wall(&self) -> f64 {
        median(self.samples.iter().map(|s| s.wall))
    }

    fn median_cpu(&self) -> f64 {
        median(self.samples.iter().map(|s| s.cpu))
    }

    fn peak_rss_mb(&self) -> f64 {
        megabytes(self.samples.iter().map(|s| s.max_rss).max().unwrap_or(0))
    }

    fn archive_mb(&self) -> f64 {
        megabytes(self.archive_size)
    }
}

/// One group of tools timed against each other: the first is sitepack, the second the
/// baseline of the targets.
struct Timed {
    outcomes: Vec<Outcome>,
    contention: Option<Contention>,
}

pub(crate) fn run(settings: &Settings) -> Result<ExitCode> {
    let Some(zip_version) = info_zip_version("zip", zip_banner)? else {
        return Ok(missing("zip", "this benchmark"));
    };
    let Some(unzip_version) = info_zip_version("unzip", unzip_banner)? else {
        return Ok(missing("unzip", "the validate benchmark"));
    };
    fs::create_dir_all(&settings.work)
        .with_context(|| format!("creating {}", settings.work.display()))?;
    let work = settings.work.canonicalize()?;
    let sitepack = build_sitepack()?;
    let spec = Spec::standard(SEED, settings.scale);
    let site = cached_site(&work, &spec, settings.scale)?;
    remove_state(&site)?;
    let (files, bytes) = warm_page_cache(&site)?;
    let outputs = work.join("out");
    fs::create_dir_all(&outputs)?;
    let load_before = load_average();

    let create = time_rounds(
        &create_tools(&sitepack, &site, &outputs),
        settings.runs,
        |tool| prepare(tool, &site),
    )?;
    let encrypted = encrypt_for_validate(&outputs)?;
    let validate = time_rounds(
        &validate_tools(&sitepack, &outputs, encrypted),
        settings.runs,
        |_| Ok(()),
    )?;

    let context = ReportContext {
        machine: machine_description(),
        load_before,
        date: crate::gen_site::rfc3339_now(),
        revision: git_revision(),
        zip_version,
        unzip_version,
        site: &site,
        files,
        bytes,
        spec,
        scale: settings.scale,
        runs: settings.runs,
    };
    let (report, all_pass) = render_report(&context, &create, &validate);
    print!("{report}");
    let saved = work.join(format!("report-scale-{}.md", settings.scale));
    fs::write(&saved, &report).with_context(|| format!("writing {}", saved.display()))?;
    eprintln!("report saved to {}", saved.display());

    fs::remove_dir_all(&outputs).with_context(|| format!("removing {}", outputs.display()))?;
    if settings.keep_site {
        eprintln!("bench site kept in {} (reused next time)", site.display());
    } else {
        remove_site(&work, &spec, settings.scale)?;
    }
    Ok(if all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Exit status 2, after saying how to install the missing baseline `program`.
fn missing(program: &str, baseline_of: &str) -> ExitCode {
    eprintln!(
        "error: `{program}` is not installed; it is the baseline of {baseline_of}. Install it (Debian/Ubuntu: `apt-get install {program}`) and run again."
    );
    ExitCode::from(2)
}

/// Runs every tool `runs` times, interleaved round by round, calling `before_each` before
/// each run; then reads the size of each tool's archive.
fn time_rounds(
    tools: &[Tool],
    runs: usize,
    mut before_each: impl FnMut(&Tool) -> Result<()>,
) -> Result<Timed> {
    let width = tools.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut samples: Vec<Vec<Sample>> = tools.iter().map(|_| Vec::new()).collect();
    let busy_before = machine_busy_seconds();
    let timed = Instant::now();
    for round in 1..=runs {
        for (tool, samples) in tools.iter().zip(&mut samples) {
            before_each(tool)?;
            let sample = measure(&tool.program, &tool.args, &tool.cwd)?;
            eprintln!(
                "run {round}/{runs}: {:<width$} {:>7.2} s wall {:>7.2} s CPU {:>7.1} MB peak RSS",
                tool.name,
                sample.wall.as_secs_f64(),
                sample.cpu.as_secs_f64(),
                megabytes(sample.max_rss)
            );
            samples.push(sample);
        }
    }
    let contention = Contention::measure(busy_before, timed.elapsed(), &samples);
    let outcomes = tools
        .iter()
        .zip(samples)
        .map(|(tool, samples)| {
            let archive_size = fs::metadata(&tool.archive)
                .with_context(|| format!("reading {}", tool.archive.display()))?
                .len();
            Ok(Outcome {
                name: tool.name,
                samples,
                archive_size,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Timed {
        outcomes,
        contention,
    })
}

fn os_args(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

fn create_tools(sitepack: &Path, site: &Path, outputs: &Path) -> Vec<Tool> {
    let sitepack_out = outputs.join(SITEPACK_ARCHIVE);
    let mut sitepack_args = os_args(&["create"]);
    sitepack_args.push(site.into());
    sitepack_args.push("-o".into());
    sitepack_args.push(sitepack_out.clone().into());
    sitepack_args.extend(os_args(&[
        "--timestamp",
        TIMESTAMP,
        "--force",
        "--no-progress",
    ]));
    let zip = |name: &'static str, flags: &[&str], file: &str| {
        let archive = outputs.join(file);
        let mut args = os_args(flags);
        args.push(archive.clone().into());
        args.push(".".into());
        Tool {
            name,
            program: PathBuf::from("zip"),
            args,
            cwd: site.to_path_buf(),
            archive,
        }
    };
    vec![
        Tool {
            name: "sitepack create",
            program: sitepack.to_path_buf(),
            args: sitepack_args,
            cwd: outputs.to_path_buf(),
            archive: sitepack_out,
        },
        zip("zip -r -q", &["-r", "-q"], ZIP_ARCHIVE),
        zip("zip -r -q -1", &["-r", "-q", "-1"], "zip-1.zip"),
    ]
}

/// Encrypts the last `sitepack.zip` with `age -r` to a new key, for the encrypted validate
/// (docs/PERFORMANCE.md: it costs at most the plaintext validate plus one decryption
/// pass). `false` (said on standard error) when Debian's `age` is not installed.
fn encrypt_for_validate(outputs: &Path) -> Result<bool> {
    let key = outputs.join(AGE_KEY);
    let _ = fs::remove_file(&key);
    let _ = fs::remove_file(outputs.join(ENCRYPTED_ARCHIVE));
    let generated = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .status();
    if !generated.is_ok_and(|s| s.success()) {
        eprintln!(
            "note: `age-keygen` is not installed (apt-get install age): the encrypted validate is not measured"
        );
        return Ok(false);
    }
    let public = std::process::Command::new("age-keygen")
        .arg("-y")
        .arg(&key)
        .output()
        .context("run age-keygen -y")?;
    let public = String::from_utf8(public.stdout)?.trim().to_owned();
    let encrypted = std::process::Command::new("age")
        .args(["-r", &public, "-o"])
        .arg(outputs.join(ENCRYPTED_ARCHIVE))
        .arg(outputs.join(SITEPACK_ARCHIVE))
        .status()
        .context("run age -r")?;
    if !encrypted.success() {
        bail!("age -r {public} could not encrypt {SITEPACK_ARCHIVE}");
    }
    Ok(true)
}

/// `sitepack validate` and `unzip -t -q` on sitepack's archive, `unzip -t -q` on zip's;
/// with `encrypted`, then `sitepack validate --identity` of the same archive encrypted and
/// `age -d` of it alone (one decryption pass).
fn validate_tools(sitepack: &Path, outputs: &Path, encrypted: bool) -> Vec<Tool> {
    let test = |name: &'static str, program: &Path, flags: &[&str], file: &str| {
        let archive = outputs.join(file);
        let mut args = os_args(flags);
        args.push(archive.clone().into());
        Tool {
            name,
            program: program.to_path_buf(),
            args,
            cwd: outputs.to_path_buf(),
            archive,
        }
    };
    let unzip = Path::new("unzip");
    let mut tools = vec![
        test(
            "sitepack validate",
            sitepack,
            &["validate"],
            SITEPACK_ARCHIVE,
        ),
        test(
            "unzip -t -q sitepack.zip",
            unzip,
            &["-t", "-q"],
            SITEPACK_ARCHIVE,
        ),
        test("unzip -t -q zip-6.zip", unzip, &["-t", "-q"], ZIP_ARCHIVE),
    ];
    if encrypted {
        let key = outputs.join(AGE_KEY);
        let key = key.to_str().unwrap_or(AGE_KEY);
        tools.push(test(
            ENCRYPTED_VALIDATE,
            sitepack,
            &["validate", "--identity", key],
            ENCRYPTED_ARCHIVE,
        ));
        tools.push(test(
            AGE_DECRYPT,
            Path::new("age"),
            &["-d", "-i", key, "-o", "/dev/null"],
            ENCRYPTED_ARCHIVE,
        ));
    }
    tools
}

/// Before each run: no archive from an earlier run (`zip` would update it rather than
/// write a new one) and no `.sitepack/` state (the audit log that `sitepack create`
/// appends to), so every run of every tool reads the same site.
fn prepare(tool: &Tool, site: &Path) -> Result<()> {
    match fs::remove_file(&tool.archive) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing {}", tool.archive.display()));
        }
        _ => {}
    }
    remove_state(site)
}

fn remove_state(site: &Path) -> Result<()> {
    let state = site.join(".sitepack");
    if state.exists() {
        fs::remove_dir_all(&state).with_context(|| format!("removing {}", state.display()))?;
    }
    Ok(())
}

/// `Some(version)` when `program -v` can be run (`banner` picks the version out of one of
/// its lines), `None` when it is not installed.
fn info_zip_version(program: &str, banner: fn(&str) -> Option<&str>) -> Result<Option<String>> {
    match Command::new(program)
        .arg("-v")
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout);
            let version = text
                .lines()
                .find_map(banner)
                .map_or_else(|| format!("{program} (version unknown)"), str::to_owned);
            Ok(Some(version))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("running `{program} -v`")),
    }
}

/// `This is Zip 3.0 (July 5th 2008), by Info-ZIP.` → `Zip 3.0`.
fn zip_banner(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("This is ")?;
    rest.starts_with("Zip ")
        .then(|| rest.split(" (").next().unwrap_or(rest))
}

/// `UnZip 6.00 of 20 April 2009, by Debian. …` → `UnZip 6.00`.
fn unzip_banner(line: &str) -> Option<&str> {
    line.starts_with("UnZip ")
        .then(|| line.split(" of ").next().unwrap_or(line))
}

/// `cargo build --release -p sitepack-cli`; returns the path of the `sitepack` binary.
fn build_sitepack() -> Result<PathBuf> {
    eprintln!("building sitepack (release)…");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "sitepack-cli",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(crate::project_root())
        .stdout(Stdio::piped())
        .spawn()
        .context("running cargo build")?;
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let message: serde_json::Value = serde_json::from_str(&line?).unwrap_or_default();
            if message["reason"] == "compiler-artifact"
                && message["target"]["name"] == "sitepack"
                && let Some(path) = message["executable"].as_str()
            {
                executable = Some(PathBuf::from(path));
            }
        }
    }
    if !child.wait()?.success() {
        bail!("cargo build --release -p sitepack-cli failed");
    }
    executable.context("cargo build did not report the sitepack executable")
}

fn site_paths(work: &Path, spec: &Spec, scale: u64) -> (PathBuf, PathBuf) {
    let name = format!("site-{scale}-{}", spec.seed);
    (work.join(&name), work.join(format!("{name}.done")))
}

/// The bench site, generated once: reused while its completion marker (written only
/// after generation finished) names the same generator version and parameters.
fn cached_site(work: &Path, spec: &Spec, scale: u64) -> Result<PathBuf> {
    let (site, marker) = site_paths(work, spec, scale);
    let wanted = spec.describe();
    if site.is_dir() && fs::read_to_string(&marker).is_ok_and(|m| m.trim() == wanted) {
        eprintln!("reusing bench site {} ({wanted})", site.display());
        return Ok(site);
    }
    remove_site(work, spec, scale)?;
    let partial = site.with_extension("partial");
    if partial.exists() {
        fs::remove_dir_all(&partial)?;
    }
    eprintln!("generating bench site {} ({wanted})…", site.display());
    let start = Instant::now();
    let totals = gen_site::generate(&partial, spec)?;
    fs::rename(&partial, &site)?;
    fs::write(&marker, format!("{wanted}\n"))?;
    eprintln!(
        "generated {} files, {:.1} MB in {:.1} s",
        totals.files,
        megabytes(totals.bytes),
        start.elapsed().as_secs_f64()
    );
    Ok(site)
}

fn remove_site(work: &Path, spec: &Spec, scale: u64) -> Result<()> {
    let (site, marker) = site_paths(work, spec, scale);
    if marker.exists() {
        fs::remove_file(&marker)?;
    }
    if site.exists() {
        fs::remove_dir_all(&site).with_context(|| format!("removing {}", site.display()))?;
    }
    Ok(())
}

/// Reads every file once, so that every tool (the first run included) finds the site in
/// the page cache; returns the number of files and bytes.
fn warm_page_cache(site: &Path) -> Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    let mut buffer = vec![0u8; 1 << 20];
    let mut pending = vec![site.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let mut file = fs::File::open(entry.path())?;
                loop {
                    let n = file.read(&mut buffer)?;
                    if n == 0 {
                        break;
                    }
                    bytes += n as u64;
                }
                files += 1;
            }
        }
    }
    Ok((files, bytes))
}

struct ReportContext<'a> {
    machine: String,
    /// Other work on the machine skews wall times: reported with the results.
    load_before: String,
    date: String,
    revision: String,
    zip_version: String,
    unzip_version: String,
    site: &'a Path,
    files: u64,
    bytes: u64,
    spec: Spec,
    scale: u64,
    runs: usize,
}

/// The last column of a results table.
#[derive(Clone, Copy)]
enum LastColumn {
    /// How sitepack's archive compares with each tool's (create).
    SizeRatio,
    /// Megabytes of archive tested per second of wall time (validate).
    Throughput,
}

/// A target and whether it is met.
type Check = (bool, String);

/// The markdown report and whether every target is met.
fn render_report(context: &ReportContext<'_>, create: &Timed, validate: &Timed) -> (String, bool) {
    let mut out = String::new();
    push_context(&mut out, context, create.contention.as_ref());
    let Some(sitepack) = create.outcomes.first() else {
        return (out, false);
    };
    push_results(&mut out, &create.outcomes, sitepack, LastColumn::SizeRatio);
    let baseline = create.outcomes.get(1).unwrap_or(sitepack);
    let create_pass = push_checks(
        &mut out,
        create.contention.as_ref(),
        "`sitepack` uses every core and `zip` one, so the wall-time ratio understates sitepack's speed. Re-run on an idle machine before judging the speed target.",
        &create_checks(sitepack, baseline),
    );
    let validate_pass = push_validate_section(&mut out, context, validate);
    let _ = writeln!(out, "\n(site: `{}`)", context.site.display());
    (out, create_pass && validate_pass)
}

fn push_context(out: &mut String, context: &ReportContext<'_>, contention: Option<&Contention>) {
    let _ = writeln!(
        out,
        "## sitepack create vs zip — scale {}, {}\n",
        context.scale, context.date
    );
    let _ = writeln!(out, "- machine: {}", context.machine);
    let _ = writeln!(
        out,
        "- load average (1, 5, 15 min) before / after: {} / {}",
        context.load_before,
        load_average()
    );
    push_contention(out, contention, "the timed runs");
    let _ = writeln!(
        out,
        "- site: {} files, {:.1} MB (`{}`)",
        context.files,
        megabytes(context.bytes),
        context.spec.describe()
    );
    let _ = writeln!(
        out,
        "- sitepack {} (release), {}; {} runs of each tool, interleaved, page cache warm\n",
        context.revision, context.zip_version, context.runs
    );
}

fn push_contention(out: &mut String, contention: Option<&Contention>, during: &str) {
    if let Some(contention) = contention {
        let _ = writeln!(
            out,
            "- other processes used {:.1} CPU s during {during}: {:.0}% of the machine",
            contention.other_cpu_seconds,
            contention.share * 100.0
        );
    }
}

/// The `sitepack validate` vs `unzip -t` part of the report; returns whether its target
/// is met.
fn push_validate_section(out: &mut String, context: &ReportContext<'_>, validate: &Timed) -> bool {
    let _ = writeln!(out, "\n### sitepack validate vs unzip -t\n");
    let _ = writeln!(
        out,
        "- archives: `{SITEPACK_ARCHIVE}` written by the last `sitepack create` run, `{ZIP_ARCHIVE}` by the last `zip -r -q` run"
    );
    push_contention(out, validate.contention.as_ref(), "these runs");
    let _ = writeln!(
        out,
        "- sitepack {} (release), {}; {} runs of each tool, interleaved, page cache warm\n",
        context.revision, context.unzip_version, context.runs
    );
    let Some(sitepack) = validate.outcomes.first() else {
        return false;
    };
    push_results(out, &validate.outcomes, sitepack, LastColumn::Throughput);
    if let Some(line) = encryption_line(&validate.outcomes) {
        let _ = writeln!(out, "\n{line}");
    }
    let baseline = validate.outcomes.get(1).unwrap_or(sitepack);
    push_checks(
        out,
        validate.contention.as_ref(),
        "wall times are suspect. Re-run on an idle machine before judging the validate speed target.",
        &validate_checks(sitepack, baseline),
    )
}

/// The encrypted validate against its bound (docs/PERFORMANCE.md): the plaintext validate
/// plus one decryption pass (`age -d` alone), with 5% for noise. Informational: it does
/// not change the exit status.
fn encryption_line(outcomes: &[Outcome]) -> Option<String> {
    let find = |name: &str| outcomes.iter().find(|o| o.name == name);
    let plain = find("sitepack validate")?.median_wall();
    let encrypted = find(ENCRYPTED_VALIDATE)?.median_wall();
    let decrypt = find(AGE_DECRYPT)?.median_wall();
    if plain <= 0.0 {
        return None;
    }
    let bound = plain + decrypt;
    Some(format!(
        "- encrypted validate: `{ENCRYPTED_VALIDATE}` {encrypted:.2} s = {:.2}× the plaintext validate ({plain:.2} s); bound: the plaintext validate + one decryption pass (`{AGE_DECRYPT}` {decrypt:.2} s) = {bound:.2} s ({:.2}×): {}",
        encrypted / plain,
        bound / plain,
        if encrypted <= bound * 1.05 {
            "met"
        } else {
            "missed"
        }
    ))
}

fn push_results(out: &mut String, outcomes: &[Outcome], sitepack: &Outcome, last: LastColumn) {
    let header = [
        "tool",
        "median wall s",
        "median CPU s",
        "peak RSS MB",
        "archive MB",
        "wall ÷ sitepack wall",
        match last {
            LastColumn::SizeRatio => "sitepack size ÷ size",
            LastColumn::Throughput => "archive MB/s",
        },
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    for outcome in outcomes {
        rows.push(vec![
            format!("`{}`", outcome.name),
            format!("{:.2}", outcome.median_wall()),
            format!("{:.2}", outcome.median_cpu()),
            format!("{:.1}", outcome.peak_rss_mb()),
            format!("{:.1}", outcome.archive_mb()),
            format!("{:.2}", outcome.median_wall() / sitepack.median_wall()),
            match last {
                LastColumn::SizeRatio => {
                    format!("{:.3}", ratio(sitepack.archive_size, outcome.archive_size))
                }
                LastColumn::Throughput => {
                    format!("{:.0}", outcome.archive_mb() / outcome.median_wall())
                }
            },
        ]);
    }
    push_table(out, &rows);
    let _ = writeln!(out);
    for outcome in outcomes {
        let walls: Vec<String> = outcome
            .samples
            .iter()
            .map(|s| format!("{:.2}", s.wall.as_secs_f64()))
            .collect();
        let _ = writeln!(
            out,
            "- `{}` wall times (s): {}; CPU ÷ sitepack CPU: {:.2}",
            outcome.name,
            walls.join(", "),
            outcome.median_cpu() / sitepack.median_cpu()
        );
    }
    let _ = writeln!(out);
}

fn create_checks(sitepack: &Outcome, baseline: &Outcome) -> [Check; 3] {
    let speedup = baseline.median_wall() / sitepack.median_wall();
    let size_ratio = ratio(sitepack.archive_size, baseline.archive_size);
    let rss = sitepack.peak_rss_mb();
    [
        (
            speedup >= MIN_SPEEDUP,
            format!(
                "speed: `zip -r -q` takes {speedup:.2}× sitepack's wall time (target ≥ {MIN_SPEEDUP:.0}×)"
            ),
        ),
        (
            size_ratio <= MAX_SIZE_RATIO,
            format!(
                "size: sitepack's archive is {size_ratio:.3}× `zip -r -q`'s (target ≤ {MAX_SIZE_RATIO:.2}×)"
            ),
        ),
        (
            rss < MAX_RSS_MB,
            format!("memory: sitepack's peak RSS is {rss:.1} MB (target < {MAX_RSS_MB:.0} MB)"),
        ),
    ]
}

fn validate_checks(sitepack: &Outcome, baseline: &Outcome) -> [Check; 1] {
    let speedup = baseline.median_wall() / sitepack.median_wall();
    [(
        speedup >= MIN_VALIDATE_SPEEDUP,
        format!(
            "validate speed: `unzip -t -q` takes {speedup:.2}× `sitepack validate`'s wall time on the same archive (target ≥ {MIN_VALIDATE_SPEEDUP:.0}×)"
        ),
    )]
}

/// A warning when other processes were busy (`busy_note` says what that skews), then the
/// PASS/FAIL lines; returns whether all pass.
fn push_checks(
    out: &mut String,
    contention: Option<&Contention>,
    busy_note: &str,
    checks: &[Check],
) -> bool {
    if let Some(contention) = contention.filter(|c| c.share > BUSY_SHARE) {
        let _ = writeln!(
            out,
            "> The machine was busy ({:.0}% of its CPU went to other processes): {busy_note}\n",
            contention.share * 100.0
        );
    }
    let _ = writeln!(out, "```");
    for (pass, text) in checks {
        let _ = writeln!(out, "{} {text}", if *pass { "PASS" } else { "FAIL" });
    }
    let _ = writeln!(out, "```");
    checks.iter().all(|(pass, _)| *pass)
}

/// A markdown table with padded columns, readable in a terminal as well.
fn push_table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for (index, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &width))| {
                if c == 0 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if index == 0 {
            let rule: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(c, &w)| {
                    if c == 0 {
                        "-".repeat(w)
                    } else {
                        format!("{}:", "-".repeat(w.saturating_sub(1)))
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", rule.join(" | "));
        }
    }
}

/// `N cores (nproc), CPU model, Linux kernel, memory`.
fn machine_description() -> String {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let sha_ni = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .is_some_and(|l| l.split_whitespace().any(|f| f == "sha_ni"));
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(String::new, |kib| {
            format!(", {:.1} GiB RAM", gibibytes(kib * 1024))
        });
    format!(
        "{cores} cores (nproc), {model}{}, {}, Linux {kernel}{memory}",
        if sha_ni { " with SHA-NI" } else { "" },
        std::env::consts::ARCH
    )
}

/// CPU time that other processes took from the machine while the tools ran.
struct Contention {
    other_cpu_seconds: f64,
    /// `other_cpu_seconds` as a share of all cores over the timed period.
    share: f64,
}

impl Contention {
    fn measure(
        busy_before: Option<f64>,
        elapsed: Duration,
        samples: &[Vec<Sample>],
    ) -> Option<Self> {
        let busy = machine_busy_seconds()? - busy_before?;
        let ours: f64 = samples.iter().flatten().map(|s| s.cpu.as_secs_f64()).sum();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let capacity = elapsed.as_secs_f64() * f64::from(u32::try_from(cores).unwrap_or(1));
        let other = (busy - ours).max(0.0);
        Some(Self {
            other_cpu_seconds: other,
            share: if capacity > 0.0 {
                other / capacity
            } else {
                0.0
            },
        })
    }
}

/// CPU seconds the whole machine has spent busy since boot (all cores, from `/proc/stat`,
/// whose unit is the kernel's fixed `USER_HZ` of 100 per second).
fn machine_busy_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|&(i, _)| i != 3 && i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(ticks_to_seconds(busy))
}

#[expect(clippy::cast_precision_loss, reason = "tick counts far below 2^53")]
fn ticks_to_seconds(ticks: u64) -> f64 {
    ticks as f64 / 100.0
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// The commit being measured, marked when the work tree has changes.
fn git_revision() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(crate::project_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "(no git revision)".to_owned();
    };
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    format!(
        "at {commit}{}",
        if dirty { " with local changes" } else { "" }
    )
}

fn median(values: impl Iterator<Item = Duration>) -> f64 {
    let mut values: Vec<f64> = values.map(|d| d.as_secs_f64()).collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => f64::midpoint(values[n / 2 - 1], values[n / 2]),
    }
}

#[expect(clippy::cast_precision_loss, reason = "byte counts far below 2^53")]
fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

#[expect(clippy::cast_precision_loss, reason = "byte counts far below 2^53")]
fn gibibytes(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 30)
}

#[expect(clippy::cast_precision_loss, reason = "byte counts far below 2^53")]
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        let secs = |v: &[u64]| {
            v.iter()
                .map(|&s| Duration::from_secs(s))
                .collect::<Vec<_>>()
        };
        assert!((median(secs(&[5, 1, 3]).into_iter()) - 3.0).abs() < 1e-9);
        assert!((median(secs(&[4, 1, 3, 2]).into_iter()) - 2.5).abs() < 1e-9);
        assert!(median(std::iter::empty()).abs() < 1e-9);
    }

    #[test]
    fn info_zip_banners() {
        type Banner = fn(&str) -> Option<&str>;
        let cases: [(Banner, &str, Option<&str>); 5] = [
            (
                zip_banner,
                "This is Zip 3.0 (July 5th 2008), by Info-ZIP.",
                Some("Zip 3.0"),
            ),
            (zip_banner, "Currently maintained by E. Gordon.", None),
            (zip_banner, "This is UnZip", None),
            (
                unzip_banner,
                "UnZip 6.00 of 20 April 2009, by Debian. Original by Info-ZIP.",
                Some("UnZip 6.00"),
            ),
            (unzip_banner, "Latest sources and executables are at", None),
        ];
        for (banner, line, expected) in cases {
            assert_eq!(banner(line), expected, "{line}");
        }
    }

    #[test]
    fn validate_target_is_unzip_time_over_sitepack_time() {
        let outcome = |name, wall| Outcome {
            name,
            samples: vec![Sample {
                wall: Duration::from_millis(wall),
                cpu: Duration::from_millis(wall),
                max_rss: 0,
            }],
            archive_size: 1,
        };
        let sitepack = outcome("sitepack validate", 1000);
        let [(pass, text)] = validate_checks(&sitepack, &outcome("unzip", 2500));
        assert!(pass, "{text}");
        assert!(text.contains("2.50×"), "{text}");
        let [(pass, _)] = validate_checks(&sitepack, &outcome("unzip", 1900));
        assert!(!pass);
    }

    #[test]
    fn the_encrypted_validate_is_held_to_the_plaintext_validate_plus_one_decryption() {
        let outcome = |name, wall| Outcome {
            name,
            samples: vec![Sample {
                wall: Duration::from_millis(wall),
                cpu: Duration::from_millis(wall),
                max_rss: 0,
            }],
            archive_size: 1,
        };
        let line = |encrypted| {
            encryption_line(&[
                outcome("sitepack validate", 1000),
                outcome("unzip -t -q sitepack.zip", 2000),
                outcome(ENCRYPTED_VALIDATE, encrypted),
                outcome(AGE_DECRYPT, 300),
            ])
            .unwrap()
        };
        let met = line(1250);
        assert!(
            met.contains("1.25×") && met.contains("1.30×") && met.ends_with("met"),
            "{met}"
        );
        assert!(line(1500).ends_with("missed"));
        // Without age installed there is no encrypted run, and no line.
        assert!(encryption_line(&[outcome("sitepack validate", 1000)]).is_none());
    }

    #[test]
    fn tables_are_aligned_markdown() {
        let rows = vec![
            vec!["tool".to_owned(), "s".to_owned()],
            vec!["`zip`".to_owned(), "10.25".to_owned()],
        ];
        let mut out = String::new();
        push_table(&mut out, &rows);
        assert_eq!(
            out,
            "| tool  |     s |\n| ----- | ----: |\n| `zip` | 10.25 |\n"
        );
    }
}
