//! Measuring one command: wall time, CPU time (user + system) and peak resident memory.
//!
//! The workspace forbids `unsafe`, so there is no `wait4`: instead the measured command is
//! started by a fresh `xtask measure-child` process, whose only child it is, and that
//! process reads `getrusage(RUSAGE_CHILDREN)` once the command has been waited for. The
//! figures are then exactly the command's (with any children it waited for), never those
//! of `cargo` or of earlier runs.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::time::TimeValLike;

/// What one run of a command cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub wall: Duration,
    /// User + system CPU time.
    pub cpu: Duration,
    /// Peak resident set size, in bytes.
    pub max_rss: u64,
}

/// Runs `program args…` in `cwd` through `xtask measure-child` and returns its cost.
/// Fails, with the command's error output, when the command fails.
pub(crate) fn measure(program: &Path, args: &[OsString], cwd: &Path) -> Result<Sample> {
    let xtask = std::env::current_exe().context("finding the xtask executable")?;
    let output = Command::new(xtask)
        .arg("measure-child")
        .arg("--")
        .arg(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .context("starting xtask measure-child")?;
    let report = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<u64> = report
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("unexpected measure-child output {report:?}"))?;
    let [wall_ns, cpu_us, max_rss_kib, code] = fields[..] else {
        bail!(
            "unexpected measure-child output {report:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    if code != 0 || !output.status.success() {
        bail!(
            "`{} {}` failed (exit {code}) in {}:\n{}",
            program.display(),
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            cwd.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(Sample {
        wall: Duration::from_nanos(wall_ns),
        cpu: Duration::from_micros(cpu_us),
        max_rss: max_rss_kib * 1024,
    })
}

/// `xtask measure-child -- PROGRAM ARGS…`: runs the command (standard output discarded,
/// errors passed through) and prints `wall_ns cpu_us max_rss_kib exit_code`.
pub(crate) fn measure_child(command: &[OsString]) -> Result<ExitCode> {
    let Some((program, args)) = command.split_first() else {
        bail!("measure-child needs a command after --");
    };
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("starting {}", program.to_string_lossy()))?;
    let wall = start.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let micros = |t: nix::sys::time::TimeVal| u64::try_from(t.num_microseconds()).unwrap_or(0);
    let cpu = micros(usage.user_time()) + micros(usage.system_time());
    // Linux reports ru_maxrss in KiB.
    let max_rss = u64::try_from(usage.max_rss()).unwrap_or(0);
    // A command killed by a signal has no exit code: report it as 255.
    let code = status
        .code()
        .map_or(255, |c| u64::try_from(c).unwrap_or(255));
    println!("{} {cpu} {max_rss} {code}", wall.as_nanos());
    Ok(ExitCode::SUCCESS)
}
