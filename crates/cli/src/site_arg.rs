//! The SITE argument: a site directory, or a database site's descriptor (a TOML file),
//! read as the db crate's [`SitePath`].

use anyhow::Result;
pub(crate) use sitepack_db::SitePath as SiteArg;
use sitepack_site::BackupSource;

/// Opens the site for a backup, once the recovery of an interrupted restore is finished
/// (a database site's state directory is made when it does not exist yet).
pub(crate) fn open_for_backup(site: &SiteArg) -> Result<Box<dyn BackupSource>> {
    if let SiteArg::Database(site) = site {
        site.create_state_dir()?;
    }
    crate::commands::recover_first_for_backup(site.state_root())?;
    Ok(site.open_source()?)
}
