//! `cargo xtask bench --serve`: a load check of `sitepack serve` (not a timed test).
//!
//! On the standard bench site: `sitepack create` alone (`--runs` times), then the same
//! archive exported through `GET /api/backup/export` (downloaded by curl) alone, then again while
//! `--clients` clients ask `GET /api/backup/stats` every 100 ms. Reports the latency
//! percentiles of the stats requests (alone and during the export) and the export's wall
//! time against `create`'s; the target: the export under load within 10% of `create`.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::gen_site::Spec;

/// The export under load may take at most this much longer than `create` alone.
const MAX_EXPORT_RATIO: f64 = 1.10;
const TOKEN: &str = "bench-admin-token-0123456789";
/// How long each stats client waits between its requests.
const STATS_INTERVAL: Duration = Duration::from_millis(100);

/// What `cargo xtask bench --serve` was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Runs, scale, work directory, whether to keep the site: as for `bench`.
    pub bench: super::Settings,
    /// How many clients ask for the stats during the export.
    pub clients: usize,
}

/// The server, stopped when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(sitepack: &Path, site: &Path, work: &Path) -> Result<Served> {
    let token = work.join("admin.token");
    fs::write(&token, format!("{TOKEN}\n"))?;
    let mut child = Command::new(sitepack)
        .args([
            "serve".as_ref(),
            site.as_os_str(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
        ])
        .arg("--token-file")
        .arg(&token)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting sitepack serve")?;
    let mut first = String::new();
    let mut stderr = BufReader::new(child.stderr.take().context("no stderr")?);
    stderr.read_line(&mut first)?;
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .with_context(|| format!("sitepack serve did not start: {first}"))?
        .trim_end_matches('/')
        .to_owned();
    Ok(Served { child, base })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(true)
        .build()
        .into()
}

/// `GET path`, its body read to the end; the time it took.
fn get(agent: &ureq::Agent, url: &str) -> Result<Duration> {
    let start = Instant::now();
    let mut response = agent
        .get(url)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .call()
        .with_context(|| format!("GET {url}"))?;
    std::io::copy(&mut response.body_mut().as_reader(), &mut std::io::sink())?;
    Ok(start.elapsed())
}

/// Downloads `url` with curl (an optimized client, as a browser is: this task's own
/// client is built without optimizations), the archive thrown away; the time it took.
fn download(url: &str) -> Result<Duration> {
    let start = Instant::now();
    let status = Command::new("curl")
        .args(["-sSf", "-o", "/dev/null", "-H"])
        .arg(format!("Authorization: Bearer {TOKEN}"))
        .arg(url)
        .status()
        .context("running curl (Debian: apt-get install curl)")?;
    if !status.success() {
        bail!("curl {url} failed");
    }
    Ok(start.elapsed())
}

/// The stats latencies of `clients` clients asking until `stop` is set.
fn stats_while(
    base: &str,
    clients: usize,
    stop: &AtomicBool,
    during: impl FnOnce() -> Result<Duration>,
) -> Result<(Duration, Vec<Duration>)> {
    std::thread::scope(|scope| {
        let askers: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| -> Result<Vec<Duration>> {
                    let agent = agent();
                    let url = format!("{base}/api/backup/stats");
                    let mut latencies = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        latencies.push(get(&agent, &url)?);
                        // A page polling, not a loop on the same two cores as the server.
                        std::thread::sleep(STATS_INTERVAL);
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let timed = during();
        stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for asker in askers {
            latencies.extend(
                asker
                    .join()
                    .map_err(|_| anyhow::anyhow!("a client panicked"))??,
            );
        }
        Ok((timed?, latencies))
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short list"
    )]
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn latency_row(name: &str, latencies: &mut [Duration]) -> String {
    latencies.sort_unstable();
    format!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
        latencies.len(),
        percentile(latencies, 0.5),
        percentile(latencies, 0.9),
        percentile(latencies, 0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    )
}

pub(crate) fn run(settings: &Settings) -> Result<ExitCode> {
    let clients = settings.clients;
    let settings = &settings.bench;
    fs::create_dir_all(&settings.work)
        .with_context(|| format!("creating {}", settings.work.display()))?;
    let work = settings.work.canonicalize()?;
    let sitepack = super::build_sitepack()?;
    let spec = Spec::standard(super::SEED, settings.scale);
    let site = super::cached_site(&work, &spec, settings.scale)?;
    super::remove_state(&site)?;
    let (files, bytes) = super::warm_page_cache(&site)?;
    let archive = work.join("create.zip");

    let mut create = Vec::new();
    for _ in 0..settings.runs {
        let start = Instant::now();
        let status = Command::new(&sitepack)
            .args([
                "create".as_ref(),
                site.as_os_str(),
                "-o".as_ref(),
                archive.as_os_str(),
            ])
            .args(["--force", "--no-progress", "--timestamp", super::TIMESTAMP])
            .stdout(Stdio::null())
            .status()?;
        create.push(start.elapsed());
        if !status.success() {
            bail!("sitepack create failed");
        }
    }
    let served = serve(&sitepack, &site, &work)?;
    let export_url = format!("{}/api/backup/export", served.base);
    let stats_url = format!("{}/api/backup/stats", served.base);
    let client = agent();
    let mut alone = Vec::new();
    let mut stats_alone = Vec::new();
    for _ in 0..settings.runs {
        alone.push(download(&export_url)?);
        for _ in 0..20 {
            stats_alone.push(get(&client, &stats_url)?);
        }
    }
    let mut loaded = Vec::new();
    let mut stats_loaded = Vec::new();
    for _ in 0..settings.runs {
        let stop = AtomicBool::new(false);
        let (took, latencies) =
            stats_while(&served.base, clients, &stop, || download(&export_url))?;
        loaded.push(took);
        stats_loaded.extend(latencies);
    }
    drop(served);

    let (report, pass) = render(
        settings,
        clients,
        (files, bytes),
        Measured {
            create,
            alone,
            loaded,
            stats_alone,
            stats_loaded,
        },
    )?;
    print!("{report}");
    let saved = work.join(format!("report-serve-scale-{}.md", settings.scale));
    fs::write(&saved, &report).with_context(|| format!("writing {}", saved.display()))?;
    eprintln!("report saved to {}", saved.display());
    let _ = fs::remove_file(&archive);
    super::remove_state(&site)?;
    if !settings.keep_site {
        super::remove_site(&work, &spec, settings.scale)?;
    }
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What the load check measured.
struct Measured {
    create: Vec<Duration>,
    alone: Vec<Duration>,
    loaded: Vec<Duration>,
    stats_alone: Vec<Duration>,
    stats_loaded: Vec<Duration>,
}

/// The markdown report, and whether the target is met.
fn render(
    settings: &super::Settings,
    clients: usize,
    (files, bytes): (u64, u64),
    mut measured: Measured,
) -> Result<(String, bool)> {
    let create_s = super::median(measured.create.iter().copied());
    let alone_s = super::median(measured.alone.iter().copied());
    let loaded_s = super::median(measured.loaded.iter().copied());
    let ratio = loaded_s / create_s;
    let pass = ratio <= MAX_EXPORT_RATIO;
    let mut report = String::new();
    writeln!(
        report,
        "### sitepack serve under load — scale {}, {}, {}\n",
        settings.scale,
        crate::gen_site::rfc3339_now(),
        super::git_revision()
    )?;
    writeln!(
        report,
        "{}; the bench site: {files} files, {:.1} MB; {} runs; {clients} stats clients, each asking again {} ms after its answer.\n",
        super::machine_description(),
        super::megabytes(bytes),
        settings.runs,
        STATS_INTERVAL.as_millis()
    )?;
    writeln!(report, "| what | median wall s | ÷ `sitepack create` |")?;
    writeln!(report, "|---|---:|---:|")?;
    writeln!(report, "| `sitepack create` | {create_s:.2} | 1.00 |")?;
    writeln!(
        report,
        "| `GET /api/backup/export`, alone | {alone_s:.2} | {:.2} |",
        alone_s / create_s
    )?;
    writeln!(
        report,
        "| `GET /api/backup/export`, {clients} clients asking for stats meanwhile | {loaded_s:.2} | {ratio:.2} |\n"
    )?;
    writeln!(
        report,
        "| `GET /api/backup/stats` | requests | p50 ms | p90 ms | p99 ms | max ms |"
    )?;
    writeln!(report, "|---|---:|---:|---:|---:|---:|")?;
    writeln!(
        report,
        "{}",
        latency_row("alone, one client", &mut measured.stats_alone)
    )?;
    writeln!(
        report,
        "{}\n",
        latency_row(
            &format!("{clients} clients, during the export"),
            &mut measured.stats_loaded
        )
    )?;
    writeln!(
        report,
        "```\n{} export under load: {ratio:.2}× `sitepack create`'s wall time (target ≤ {MAX_EXPORT_RATIO:.2}×)\n```",
        if pass { "PASS" } else { "FAIL" }
    )?;
    Ok((report, pass))
}
