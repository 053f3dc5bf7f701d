//! `cargo xtask bench`: `sitepack create` against `zip -r` on the standard bench site.
//!
//! Builds the release `sitepack`, generates (or reuses) the bench site, warms the page
//! cache, then runs each tool `--runs` times, interleaved round by round so that a
//! machine getting slower or faster during the bench affects every tool alike. Prints a
//! markdown report (machine, site, table, PASS/FAIL against the targets) on standard
//! output and keeps a copy in the work directory.

mod measure;

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
/// Above this share of the machine's CPU used by other processes, wall times are suspect.
const BUSY_SHARE: f64 = 0.05;

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
    output: PathBuf,
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

pub(crate) fn run(settings: &Settings) -> Result<ExitCode> {
    let Some(zip_version) = zip_version()? else {
        eprintln!(
            "error: `zip` is not installed; it is the baseline of this benchmark. Install it (Debian/Ubuntu: `apt-get install zip`) and run again."
        );
        return Ok(ExitCode::from(2));
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

    let tools = tools(&sitepack, &site, &outputs);
    let mut samples: Vec<Vec<Sample>> = tools.iter().map(|_| Vec::new()).collect();
    let busy_before = machine_busy_seconds();
    let timed = Instant::now();
    for round in 1..=settings.runs {
        for (tool, samples) in tools.iter().zip(&mut samples) {
            prepare(tool, &site)?;
            let sample = measure(&tool.program, &tool.args, &tool.cwd)?;
            eprintln!(
                "run {round}/{}: {:<14} {:>7.2} s wall {:>7.2} s CPU {:>7.1} MB peak RSS",
                settings.runs,
                tool.name,
                sample.wall.as_secs_f64(),
                sample.cpu.as_secs_f64(),
                megabytes(sample.max_rss)
            );
            samples.push(sample);
        }
    }
    let contention = Contention::measure(busy_before, timed.elapsed(), &samples);
    let mut outcomes = Vec::new();
    for (tool, samples) in tools.iter().zip(samples) {
        let archive_size = fs::metadata(&tool.output)
            .with_context(|| format!("reading {}", tool.output.display()))?
            .len();
        outcomes.push(Outcome {
            name: tool.name,
            samples,
            archive_size,
        });
    }

    let context = ReportContext {
        machine: machine_description(),
        load_before,
        contention,
        date: crate::gen_site::rfc3339_now(),
        revision: git_revision(),
        zip_version,
        site: &site,
        files,
        bytes,
        spec,
        scale: settings.scale,
        runs: settings.runs,
    };
    let (report, all_pass) = render_report(&context, &outcomes);
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

fn tools(sitepack: &Path, site: &Path, outputs: &Path) -> Vec<Tool> {
    let os = |items: &[&str]| items.iter().map(OsString::from).collect::<Vec<_>>();
    let sitepack_out = outputs.join("sitepack.zip");
    let mut sitepack_args = os(&["create"]);
    sitepack_args.push(site.into());
    sitepack_args.push("-o".into());
    sitepack_args.push(sitepack_out.clone().into());
    sitepack_args.extend(os(&["--timestamp", TIMESTAMP, "--force", "--no-progress"]));
    let zip = |name: &'static str, flags: &[&str], file: &str| {
        let output = outputs.join(file);
        let mut args = os(flags);
        args.push(output.clone().into());
        args.push(".".into());
        Tool {
            name,
            program: PathBuf::from("zip"),
            args,
            cwd: site.to_path_buf(),
            output,
        }
    };
    vec![
        Tool {
            name: "sitepack create",
            program: sitepack.to_path_buf(),
            args: sitepack_args,
            cwd: outputs.to_path_buf(),
            output: sitepack_out,
        },
        zip("zip -r -q", &["-r", "-q"], "zip-6.zip"),
        zip("zip -r -q -1", &["-r", "-q", "-1"], "zip-1.zip"),
    ]
}

/// Before each run: no archive from an earlier run (`zip` would update it rather than
/// write a new one) and no `.sitepack/` state (the audit log that `sitepack create`
/// appends to), so every run of every tool reads the same site.
fn prepare(tool: &Tool, site: &Path) -> Result<()> {
    match fs::remove_file(&tool.output) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing {}", tool.output.display()));
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

/// `Some("Zip 3.0 …")` when `zip` can be run, `None` when it is not installed.
fn zip_version() -> Result<Option<String>> {
    match Command::new("zip").arg("-v").stdin(Stdio::null()).output() {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout);
            let line = text.lines().find(|l| l.starts_with("This is Zip")).map_or(
                "zip (version unknown)",
                |l| {
                    l.trim_start_matches("This is ")
                        .split(" (")
                        .next()
                        .unwrap_or(l)
                },
            );
            Ok(Some(line.to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).context("running `zip -v`"),
    }
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
    contention: Option<Contention>,
    date: String,
    revision: String,
    zip_version: String,
    site: &'a Path,
    files: u64,
    bytes: u64,
    spec: Spec,
    scale: u64,
    runs: usize,
}

/// The markdown report and whether every target is met.
fn render_report(context: &ReportContext<'_>, outcomes: &[Outcome]) -> (String, bool) {
    let mut out = String::new();
    push_context(&mut out, context);
    let Some(sitepack) = outcomes.first() else {
        return (out, false);
    };
    push_results(&mut out, outcomes, sitepack);
    let baseline = outcomes.get(1).unwrap_or(sitepack);
    let all_pass = push_checks(&mut out, context, sitepack, baseline);
    let _ = writeln!(out, "\n(site: `{}`)", context.site.display());
    (out, all_pass)
}

fn push_context(out: &mut String, context: &ReportContext<'_>) {
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
    if let Some(contention) = &context.contention {
        let _ = writeln!(
            out,
            "- other processes used {:.1} CPU s during the timed runs: {:.0}% of the machine",
            contention.other_cpu_seconds,
            contention.share * 100.0
        );
    }
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

fn push_results(out: &mut String, outcomes: &[Outcome], sitepack: &Outcome) {
    let header = [
        "tool",
        "median wall s",
        "median CPU s",
        "peak RSS MB",
        "archive MB",
        "wall ÷ sitepack wall",
        "sitepack size ÷ size",
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
            format!("{:.3}", ratio(sitepack.archive_size, outcome.archive_size)),
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

/// PASS/FAIL lines for the targets; returns whether all pass.
fn push_checks(
    out: &mut String,
    context: &ReportContext<'_>,
    sitepack: &Outcome,
    baseline: &Outcome,
) -> bool {
    let speedup = baseline.median_wall() / sitepack.median_wall();
    let size_ratio = ratio(sitepack.archive_size, baseline.archive_size);
    let rss = sitepack.peak_rss_mb();
    let checks = [
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
    ];
    if let Some(contention) = context.contention.as_ref().filter(|c| c.share > BUSY_SHARE) {
        let _ = writeln!(
            out,
            "> The machine was busy ({:.0}% of its CPU went to other processes): `sitepack` uses every core and `zip` one, so the wall-time ratio understates sitepack's speed. Re-run on an idle machine before judging the speed target.\n",
            contention.share * 100.0
        );
    }
    let _ = writeln!(out, "```");
    for (pass, text) in &checks {
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
