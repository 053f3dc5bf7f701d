//! `sitepack check TARGET`: are the stored backups still what their sidecars say?

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use sitepack_format::{SiteId, failpoint};
use sitepack_store::{
    CheckOptions, CheckReport, OrphanGrace, ReadData, S3Settings, Verdict, check_target,
    failure_message, open_existing_store, record_check, run_check_failure_command,
};

use crate::Outcome;

/// Check the backups stored in a target: metadata by default, or their data.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without --read-data: every backup has its sidecar and its object the recorded size; its end records, central directory, manifest and checksums are read by byte ranges (never whole downloads) and agree with the sidecar (an encrypted backup: its size and age header).
--read-data: every backup downloaded, checked against its sidecar's digest, decrypted when encrypted (--identity), and validated fully.
--read-data-subset N/M: only the backups of group N of M (a stable hash of the name), so that 1/M … M/M read every backup once; P%: a random P% (--seed, reported).
Exit status: 0 everything checked is sound, 1 a backup is damaged or a piece is missing (each named), 2 an error (the target cannot be read, a backup cannot be checked).")]
pub(crate) struct CheckArgs {
    /// The target: a directory, file://… or s3://bucket/prefix.
    target: String,
    /// Only this site's backups.
    #[arg(long, value_name = "ID")]
    site: Option<SiteId>,
    /// Read every backup fully.
    #[arg(long, conflicts_with = "read_data_subset")]
    read_data: bool,
    /// Read some backups fully: N/M (group N of M) or P% (a random share).
    #[arg(long, value_name = "N/M|P%")]
    read_data_subset: Option<String>,
    /// The seed of a P% subset (default: from the clock; reported either way).
    #[arg(long, value_name = "N", requires = "read_data_subset")]
    seed: Option<u64>,
    /// A half backup (archive without sidecar, or the other way round) younger than
    /// this may be an upload still running: reported, not counted as damage.
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    orphan_grace: OrphanGrace,
    #[command(flatten)]
    keys: super::crypt_args::IdentityArgs,
    #[command(flatten)]
    limits: super::validate::LimitArgs,
    /// Run this shell command (sh -c) when a backup is damaged or the check fails, with
    /// SITEPACK_ERROR and SITEPACK_TARGET in its environment.
    #[arg(long, value_name = "CMD")]
    on_failure: Option<String>,
    /// Also record the check in this site directory's audit log.
    #[arg(long, value_name = "SITE")]
    site_dir: Option<PathBuf>,
    /// Print one JSON document on standard output.
    #[arg(long)]
    pub(crate) json: bool,
    /// The S3 endpoint; default AWS_ENDPOINT_URL, else AWS.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
}

fn read_data(args: &CheckArgs) -> Result<ReadData> {
    if args.read_data {
        return Ok(ReadData::All);
    }
    let Some(subset) = &args.read_data_subset else {
        return Ok(ReadData::None);
    };
    if args.seed.is_some() && !subset.trim_end().ends_with('%') {
        anyhow::bail!(
            "--seed chooses the backups of a P% subset; the group {subset} is fixed by the \
             backups' names and takes no seed: drop --seed, or give a percentage"
        );
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() ^ u64::from(d.subsec_nanos()))
    });
    Ok(ReadData::subset(subset, seed)?)
}

pub(crate) fn run(args: &CheckArgs) -> Result<Outcome> {
    let options = CheckOptions {
        site: args.site.clone(),
        read_data: read_data(args)?,
        identities: args.keys.identities(),
        limits: args.limits.limits(),
        orphan_grace: args.orphan_grace,
        now: failpoint::now(),
    };
    let target = sitepack_format::mask_url_user_info(&args.target);
    let result = args
        .target
        .parse()
        .and_then(|spec| {
            open_existing_store(
                &spec,
                &S3Settings {
                    endpoint: args.endpoint.clone(),
                },
            )
        })
        .and_then(|store| check_target(store.as_ref(), &options));
    if let Some(site_dir) = &args.site_dir
        && let Some(warning) = record_check(site_dir, &target, &options, false, result.as_ref())
    {
        eprintln!("warning: {warning}");
    }
    let failure = match &result {
        Ok(report) if report.sound => None,
        Ok(report) => Some(failure_message(report)),
        Err(error) => Some(sitepack_format::error_chain(error)),
    };
    if let (Some(failure), Some(command)) = (&failure, &args.on_failure)
        && let Some(warning) = run_check_failure_command(command, &target, failure)
    {
        eprintln!("warning: {warning}");
    }
    let report = result?;
    // Nothing to check is sound, but a monitor of a mistyped target or site would stay
    // green forever: say it.
    if report.summary.backups == 0 && report.missing.is_empty() {
        eprintln!(
            "warning: no backups found in {target}{}: nothing was checked; check the target \
             (and --site)",
            args.site
                .as_ref()
                .map_or_else(String::new, |site| format!(" for site {site}"))
        );
    }
    if args.json {
        super::print_json(&report)?;
    } else {
        print_report(&mut crate::human_output(), &report)?;
    }
    Ok(match report.exit_code() {
        0 => Outcome::Success,
        1 => Outcome::Invalid,
        _ => Outcome::FailedAfterReport(failure_message(&report)),
    })
}

fn print_report(out: &mut dyn Write, report: &CheckReport) -> std::io::Result<()> {
    let summary = &report.summary;
    writeln!(
        out,
        "check of {}: {}; {} backup(s), {} read fully",
        report.target, report.read_data, summary.backups, summary.data_read
    )?;
    for backup in &report.backups {
        let verdict = match backup.verdict {
            Verdict::Sound => "ok",
            Verdict::Damaged => "DAMAGED",
            Verdict::Error => "ERROR",
        };
        let depth = if backup.data_read { "data" } else { "metadata" };
        writeln!(out, "  {verdict:<8} {depth:<8} {}", backup.name)?;
        for problem in &backup.problems {
            writeln!(out, "      {problem}")?;
        }
    }
    for piece in &report.missing {
        let verdict = if piece.damage { "MISSING" } else { "note" };
        writeln!(
            out,
            "  {verdict:<8} {:<8} {}: {}",
            "-", piece.key, piece.problem
        )?;
    }
    let verdict = match report.exit_code() {
        0 => "SOUND".to_owned(),
        1 => format!(
            "DAMAGED ({} backup(s) damaged, {} missing piece(s))",
            summary.damaged, summary.missing
        ),
        _ => format!(
            "NOT CHECKED ({} backup(s) could not be checked)",
            summary.errors
        ),
    };
    writeln!(out, "{verdict}")
}
