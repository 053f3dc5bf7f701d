//! The site the server serves: a site directory or a database site, and where its saved
//! backups go.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sitepack_db::{DatabaseSite, SitePath};
use sitepack_format::SiteIdentity;
use sitepack_site::access;
use sitepack_site::{BackupSource, SiteState};
use sitepack_store::{BackupStore, S3Settings, TargetSpec};
use sitepack_writer::Site;

use crate::error::{ApiError, ServeError};

/// The served site.
pub struct ServedSite {
    path: PathBuf,
    kind: SitePath,
    target: Option<String>,
    endpoint: Option<String>,
    /// Held while the site's state is opened for a read: opening takes the site lock
    /// alone for a moment when a restore is pending (to recover an interrupted one
    /// first), so the server's concurrent reads take turns instead of refusing each other.
    opening: Mutex<()>,
    /// The last stats and when they were counted: a page (or many) asking again and
    /// again gets them without a new scan of the site each time.
    counted: Mutex<Option<(Instant, serde_json::Value)>>,
}

/// How long counted stats are answered again (changes by this server are seen at once:
/// they forget the stats; other processes' within this time).
const STATS_MAX_AGE: Duration = Duration::from_secs(2);

impl ServedSite {
    /// A regular file is a database site's descriptor, anything else a site directory
    /// (which must hold `site.json`).
    pub fn open(
        path: &Path,
        target: Option<String>,
        endpoint: Option<String>,
    ) -> Result<Self, ServeError> {
        let kind = SitePath::parse(path)
            .map_err(|e| ServeError::Site(sitepack_format::error_chain(&e)))?;
        match &kind {
            SitePath::Database(site) => site
                .create_state_dir()
                .map_err(|e| ServeError::Site(sitepack_format::error_chain(&e)))?,
            SitePath::Directory(root) => {
                Site::open(root).map_err(|e| {
                    ServeError::Site(format!(
                        "{}: not a site directory or a database site's descriptor ({})",
                        path.display(),
                        sitepack_format::error_chain(&e)
                    ))
                })?;
            }
        }
        if let Some(target) = &target {
            target.parse::<TargetSpec>().map_err(|e| {
                ServeError::Site(format!("--to: {}", sitepack_format::error_chain(&e)))
            })?;
        }
        // What a killed run left (this server's, or a command's) is finished now, as the
        // next command would; a site busy with another command is left to it.
        let _ = match &kind {
            SitePath::Directory(_) => SiteState::open(path, access::Read)
                .map(|_| ())
                .map_err(|_| ()),
            SitePath::Database(site) => sitepack_db::request::restore_status(site.descriptor())
                .map(|_| ())
                .map_err(|_| ()),
        };
        Ok(Self {
            path: path.to_path_buf(),
            kind,
            target,
            endpoint,
            opening: Mutex::new(()),
            counted: Mutex::new(None),
        })
    }

    /// Refuses every request while the site is gone (its directory or descriptor
    /// removed or moved while the server runs): no answer may describe, or restore into,
    /// a site that is not there.
    pub(crate) fn check_present(&self) -> Result<(), ApiError> {
        let present = match &self.kind {
            SitePath::Directory(_) => self.path.join("site.json").is_file(),
            SitePath::Database(_) => self.path.is_file(),
        };
        if present {
            return Ok(());
        }
        Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "site_missing",
            format!(
                "the site {} is not there any more (moved or removed while the server runs); put it back or serve it where it is now",
                self.path.display()
            ),
        ))
    }

    /// The site directory or descriptor, as given.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database site, when it is one.
    pub(crate) fn database(&self) -> Option<&DatabaseSite> {
        self.kind.database()
    }

    /// The directory whose `.sitepack/` holds the site's state.
    pub(crate) fn state_root(&self) -> &Path {
        self.kind.state_root()
    }

    /// The site's identity, as its archives carry it.
    pub(crate) fn identity(&self) -> Result<SiteIdentity, ApiError> {
        Ok(match &self.kind {
            SitePath::Directory(_) => Site::open(&self.path)
                .map_err(|e| ApiError::internal(&e))?
                .config()
                .identity(),
            SitePath::Database(site) => site.descriptor().site.clone(),
        })
    }

    /// Opens the site for a backup, once an interrupted restore is recovered.
    pub(crate) fn open_for_backup(&self) -> Result<Box<dyn BackupSource>, ApiError> {
        {
            let _turn = self.opening.lock().unwrap_or_else(PoisonError::into_inner);
            SiteState::open(self.state_root(), access::Backup)?;
        }
        Ok(self.open_source()?)
    }

    /// A directory site's state (the restore pending review), once an interrupted
    /// restore is recovered.
    pub(crate) fn read_state(&self) -> Result<SiteState, sitepack_site::SiteError> {
        let _turn = self.opening.lock().unwrap_or_else(PoisonError::into_inner);
        SiteState::open(&self.path, access::Read)
    }

    /// The site as a backup source (for `auto run`, which recovers and locks itself).
    pub(crate) fn open_source(&self) -> Result<Box<dyn BackupSource>, sitepack_site::SiteError> {
        self.kind.open_source()
    }

    /// `GET /api/backup/stats`, counted at most once every [`STATS_MAX_AGE`]: requests
    /// arriving while the site is counted wait for that count (one scan, not one each).
    pub(crate) fn stats(&self) -> Result<serde_json::Value, ApiError> {
        let mut counted = self.counted.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, stats)) = counted.as_ref()
            && at.elapsed() < STATS_MAX_AGE
        {
            return Ok(stats.clone());
        }
        let stats = self.count()?;
        *counted = Some((Instant::now(), stats.clone()));
        Ok(stats)
    }

    /// Forgets the counted stats: the site is about to change.
    pub(crate) fn forget_stats(&self) {
        *self.counted.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// What `sitepack stats --json` prints, plus the total and the size.
    fn count(&self) -> Result<serde_json::Value, ApiError> {
        match &self.kind {
            SitePath::Directory(_) => {
                self.read_state()?;
                let site = Site::open(&self.path).map_err(|e| ApiError::internal(&e))?;
                let stats =
                    sitepack_writer::site_stats(&site).map_err(|e| ApiError::internal(&e))?;
                Ok(serde_json::json!({
                    "kind": "directory",
                    "site": site.config().identity(),
                    "total": stats.total_files,
                    "size_bytes": stats.total_bytes,
                    "stats": stats,
                }))
            }
            SitePath::Database(site) => {
                let stats = site.stats()?;
                let mut report = stats.report(site.descriptor());
                report["kind"] = "database".into();
                Ok(report)
            }
        }
    }

    /// Where saved backups are: `--to`, else the `[auto] target` of `config.toml`.
    pub(crate) fn store(&self) -> Result<(Box<dyn BackupStore>, String), ApiError> {
        let settings = S3Settings {
            endpoint: self.endpoint.clone(),
        };
        let (spec, s3) = match &self.target {
            Some(target) => (target.parse::<TargetSpec>()?, settings),
            None => match sitepack_store::read_config(self.state_root()) {
                Ok(config) => (config.auto.target, config.auto.s3),
                Err(sitepack_store::StoreError::NoConfig { .. }) => {
                    return Err(ApiError::new(
                        axum::http::StatusCode::CONFLICT,
                        "no_target",
                        "no backup target: start the server with --to TARGET, or set the automatic backups' target",
                    ));
                }
                Err(e) => return Err(e.into()),
            },
        };
        let described = sitepack_format::mask_url_user_info(&spec.to_string());
        let store = sitepack_store::open_store(&spec, &s3)?;
        Ok((store, described))
    }

    /// The target as given to `--to`, if any.
    pub(crate) fn fixed_target(&self) -> Option<&str> {
        self.target.as_deref()
    }
}
