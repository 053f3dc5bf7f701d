//! The `[auto]` settings as a program edits them (the admin page): read back as written,
//! and written into `config.toml` whole or not at all, after the same checks
//! [`read_config`](crate::read_config) makes. The rest of the file (`encrypt_to`, the
//! `[verify]` table) is kept as it is.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sitepack_format::INTERNAL_DIR;

use crate::auto::{CONFIG_NAME, Config, config_path, parse_config};
use crate::retention::RetentionPolicy;
use crate::{StoreError, TargetSpec};

/// The editable part of `[auto]`, with the keys and texts of `config.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoSettings {
    /// Whether `auto run --if-due` backs up when due.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Where backups go (an absolute directory, `file://…` or `s3://bucket/prefix`).
    pub target: String,
    /// The S3 endpoint, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `hourly`, `daily`, `weekly` or a cron expression (UTC).
    #[serde(default = "daily")]
    pub schedule: String,
    /// `HH:MM` UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The day of a weekly schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekday: Option<String>,
    /// As `--scope` takes it.
    #[serde(default = "full")]
    pub scope: String,
    /// Whether files go in.
    #[serde(default = "enabled")]
    pub files: bool,
    /// A label for every automatic backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Which backups to keep after each run.
    #[serde(default)]
    pub retention: RetentionPolicy,
}

fn enabled() -> bool {
    true
}

fn daily() -> String {
    "daily".to_owned()
}

fn full() -> String {
    "full".to_owned()
}

/// The `[auto]` settings of the site at `site_root` as written (`None` when it has no
/// `config.toml`); an invalid file is an error that names it.
pub fn read_auto_settings(site_root: &Path) -> Result<Option<AutoSettings>, StoreError> {
    let Some(text) = read_text(site_root)? else {
        return Ok(None);
    };
    // Checked as a whole first: an error names the file and the setting.
    parse_config(&text, config_path(site_root))?;
    let table: toml::Table = toml::from_str(&text).map_err(|source| StoreError::ConfigSyntax {
        path: config_path(site_root),
        source: Box::new(source),
    })?;
    let mut auto = table
        .get("auto")
        .cloned()
        .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
    if let Some(auto) = auto.as_table_mut() {
        auto.remove("encrypt_to");
    }
    let settings = auto
        .try_into::<AutoSettings>()
        .map_err(|source| StoreError::ConfigSyntax {
            path: config_path(site_root),
            source: Box::new(source),
        })?;
    Ok(Some(settings))
}

/// Writes `settings` as the `[auto]` table of the site's `config.toml` (made when it
/// does not exist), keeping `encrypt_to` and `[verify]`; checked as `auto run` will read
/// it — and a target that `auto run` would refuse (inside `own_dirs`, the site's own
/// directories; a file) or an endpoint with a password is refused now — then written
/// through a temporary file renamed into place (never through a link).
pub fn write_auto_settings(
    site_root: &Path,
    own_dirs: &[&Path],
    settings: &AutoSettings,
) -> Result<Config, StoreError> {
    let path = config_path(site_root);
    let refuse = |problem: String| StoreError::ConfigTarget {
        path: path.clone(),
        source: Box::new(StoreError::BadTarget {
            target: sitepack_format::mask_url_user_info(&settings.target),
            problem,
        }),
    };
    if let Some(endpoint) = &settings.endpoint
        && sitepack_format::mask_url_user_info(endpoint) != *endpoint
    {
        return Err(refuse(
            "the endpoint holds a user name or password: give the credentials in the AWS environment variables, never in the settings".to_owned(),
        ));
    }
    let mut table: toml::Table = match read_text(site_root)? {
        Some(text) => toml::from_str(&text).map_err(|source| StoreError::ConfigSyntax {
            path: path.clone(),
            source: Box::new(source),
        })?,
        None => toml::Table::new(),
    };
    let kept_recipients = table
        .get("auto")
        .and_then(|auto| auto.get("encrypt_to"))
        .cloned();
    let mut auto = toml::Table::try_from(settings).map_err(|e| StoreError::ConfigVerify {
        path: path.clone(),
        problem: e.to_string(),
    })?;
    if let Some(recipients) = kept_recipients {
        auto.insert("encrypt_to".to_owned(), recipients);
    }
    table.insert("auto".to_owned(), toml::Value::Table(auto));
    let text = toml::to_string(&table).map_err(|e| StoreError::ConfigVerify {
        path: path.clone(),
        problem: e.to_string(),
    })?;
    let config = parse_config(&text, path.clone())?;
    if let TargetSpec::Local(dir) = &config.auto.target
        && dir.exists()
        && !dir.is_dir()
    {
        return Err(refuse(format!(
            "{} is not a directory: backups are kept in a directory",
            dir.display()
        )));
    }
    for own in own_dirs {
        config
            .auto
            .target
            .check_outside_site(own)
            .map_err(|e| match e {
                StoreError::BadTarget { problem, .. } => refuse(problem),
                other => other,
            })?;
    }
    let internal = site_root.join(INTERNAL_DIR);
    std::fs::create_dir_all(&internal).map_err(|e| StoreError::io("create", &internal, e))?;
    let temporary = internal.join(format!(".{CONFIG_NAME}.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(StoreError::io("write", &path, e));
    }
    Ok(config)
}

/// The text of `config.toml`, never through a link; `None` when there is none.
pub(crate) fn read_text(site_root: &Path) -> Result<Option<String>, StoreError> {
    let text = sitepack_format::Beneath::open(site_root)
        .and_then(|site| site.open_file(&format!("{INTERNAL_DIR}/{CONFIG_NAME}")))
        .and_then(|mut file| {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text).map(|_| text)
        });
    match text {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("read", config_path(site_root), e)),
    }
}
