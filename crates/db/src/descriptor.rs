//! The site descriptor: a TOML file saying which database, which tenant, and where the
//! site's files and state live.
//!
//! ```toml
//! [site]
//! id = "northwind"
//! name = "Northwind Haulage"
//! url = "https://northwind.example"
//! [database]
//! url = "sqlite:fleet.db"          # or sqlite:///abs/path, postgres://user@host:5432/db
//! tenant_column = "org_id"
//! tenant = "northwind"             # a string or an integer
//! tenant_table = "organizations"   # optional: the table whose primary key is the tenant
//! exclude = ["sessions"]           # optional
//! secret_tables = ["api_keys"]     # optional: rows never travel
//! owner_column = "owner_id"        # optional: for the user:ID scope
//! users_table = "users"            # optional (default users): the table of user:ID
//! schema = "public"                # optional, PostgreSQL only (default public)
//! password_file = "secrets/db.pw"  # optional, PostgreSQL only
//! [files]
//! dir = "uploads/northwind"        # optional: the tenant's uploaded files
//! [state]
//! dir = ".northwind.sitepack"      # optional (default .<file stem>.sitepack)
//! ```
//!
//! Relative paths (a SQLite file, `password_file`, `files.dir`, `state.dir`) are relative
//! to the descriptor's directory. A password is never repeated: not in an error, not in
//! `Debug`, not in [`Descriptor::display_url`].

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};
use sitepack_format::database::TenantValue;
use sitepack_format::{CREDENTIAL_MASK, SiteId, SiteIdentity, mask_url_user_info};

use crate::DbError;

/// The PostgreSQL schema read when the descriptor names none.
pub const DEFAULT_SCHEMA: &str = "public";
/// The table of the `user:ID` scope when the descriptor names none.
pub const DEFAULT_USERS_TABLE: &str = "users";
/// The PostgreSQL port when the URL names none.
pub const DEFAULT_POSTGRES_PORT: u16 = 5432;

/// A database site's descriptor, its paths resolved.
#[derive(Debug, Clone)]
pub struct Descriptor {
    /// The descriptor file (absolute).
    pub path: PathBuf,
    /// The site's identity (`site.json`).
    pub site: SiteIdentity,
    /// Where the database is.
    pub database: Database,
    /// The column that says which tenant a row belongs to.
    pub tenant_column: String,
    /// The tenant's value in that column.
    pub tenant: TenantValue,
    /// The table whose primary key is the tenant, if any.
    pub tenant_table: Option<String>,
    /// Tables that never travel.
    pub exclude: Vec<String>,
    /// Tables whose rows never travel because they hold secrets.
    pub secret_tables: Vec<String>,
    /// The column naming a row's owner, for the `user:ID` scope.
    pub owner_column: Option<String>,
    /// The table of the `user:ID` scope.
    pub users_table: String,
    /// The tenant's uploaded files (absolute), if any.
    pub files_dir: Option<PathBuf>,
    /// The site's state directory (absolute): locks, audit log.
    pub state_dir: PathBuf,
    /// The URL as written, for messages (password masked).
    display_url: String,
}

/// Where a database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (absolute path).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL database.
    Postgres(PostgresTarget),
}

/// A PostgreSQL database and how to log in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    /// The server's host name or address (or a Unix socket directory, starting with `/`).
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// The user to log in as.
    pub user: String,
    /// The database.
    pub dbname: String,
    /// The schema whose tables are read.
    pub schema: String,
    /// From the URL, else `PGPASSWORD`, else `password_file`.
    password: Option<Password>,
}

impl PostgresTarget {
    /// The password, if any (never print it).
    #[must_use]
    pub fn password(&self) -> Option<&str> {
        self.password.as_ref().map(|p| p.0.as_str())
    }

    /// The client's connection settings (its `Debug` hides the password too).
    #[must_use]
    pub fn config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("sitepack");
        if let Some(password) = self.password() {
            config.password(password);
        }
        config
    }
}

/// A password: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(CREDENTIAL_MASK)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DescriptorFile {
    site: SiteSection,
    database: DatabaseSection,
    #[serde(default)]
    files: Option<DirSection>,
    #[serde(default)]
    state: Option<DirSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteSection {
    id: SiteId,
    name: String,
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseSection {
    url: String,
    tenant_column: String,
    tenant: TenantSetting,
    tenant_table: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    secret_tables: Vec<String>,
    owner_column: Option<String>,
    users_table: Option<String>,
    schema: Option<String>,
    password_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "expected the tenant as a string or an integer")]
enum TenantSetting {
    Integer(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DirSection {
    dir: PathBuf,
}

impl Descriptor {
    /// Reads and checks the descriptor at `path`.
    pub fn load(path: &Path) -> Result<Self, DbError> {
        let text = std::fs::read_to_string(path).map_err(|e| DbError::io("read", path, e))?;
        Self::parse(path, &text)
    }

    /// Checks the descriptor text `text` of the file `path` (relative paths in it are
    /// resolved against its directory, made absolute). `PGPASSWORD` and `password_file`
    /// are read here when the URL holds no password.
    pub fn parse(path: &Path, text: &str) -> Result<Self, DbError> {
        let descriptor = Self::parse_in(path, text, &|name| std::env::var(name).ok())?;
        // `[site]` becomes the archive's `site.json`: held to its rules here, before the
        // database is read (a `url` that is no http(s) URL, an empty `name`).
        let refused = |problem: String| DbError::Descriptor {
            path: descriptor.path.clone(),
            problem,
        };
        sitepack_format::validate_site_config(&descriptor.site_json())
            .map_err(|e| refused(format!("[site]: {e}")))?;
        // The archive's identity would carry it (and redacting it would leave the
        // archive's `site.json` without its url).
        if sitepack_format::contains_url_with_password(&descriptor.site.url) {
            return Err(refused(
                "[site] url holds a password: give the site's public address".to_owned(),
            ));
        }
        Ok(descriptor)
    }

    /// [`Descriptor::parse`] with the environment variables `env` gives.
    fn parse_in(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, DbError> {
        let path = &std::path::absolute(path).map_err(|e| DbError::io("read", path, e))?;
        let problem = |problem: String| DbError::Descriptor {
            path: path.clone(),
            problem,
        };
        let file: DescriptorFile =
            toml::from_str(text).map_err(|e| problem(toml_problem(text, &e)))?;
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let site = file.site;
        let db = file.database;
        for (key, value) in [
            ("tenant_column", Some(&db.tenant_column)),
            ("tenant_table", db.tenant_table.as_ref()),
            ("owner_column", db.owner_column.as_ref()),
            ("users_table", db.users_table.as_ref()),
            ("schema", db.schema.as_ref()),
        ] {
            if value.is_some_and(String::is_empty) {
                return Err(problem(format!(
                    "[database] {key} is empty: name a table or column, or leave the key out"
                )));
            }
        }
        if !url::Url::parse(&site.url).is_ok_and(|u| u.has_host()) {
            return Err(problem(format!(
                "[site] url {:?} is not a URL such as https://example.com",
                mask_password(&site.url)
            )));
        }
        let display_url = mask_password(&db.url);
        let database = if let Some(rest) = db.url.strip_prefix("sqlite:") {
            for (key, set) in [
                ("schema", db.schema.is_some()),
                ("password_file", db.password_file.is_some()),
            ] {
                if set {
                    return Err(problem(format!(
                        "[database] {key} applies to PostgreSQL only, and the url is a SQLite file: remove {key}"
                    )));
                }
            }
            Database::Sqlite {
                path: sqlite_path(&dir, rest).map_err(problem)?,
            }
        } else if db.url.starts_with("postgres://") || db.url.starts_with("postgresql://") {
            let password_file = db.password_file.as_ref().map(|p| dir.join(p));
            Database::Postgres(
                postgres_target(
                    &db.url,
                    db.schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_owned()),
                    password_file.as_deref(),
                    env,
                )
                .map_err(problem)?,
            )
        } else {
            return Err(problem(format!(
                "[database] url {display_url} is neither sqlite:PATH nor postgres://USER@HOST:PORT/DATABASE"
            )));
        };
        let tenant = match db.tenant {
            TenantSetting::Integer(n) => TenantValue::Integer(n),
            TenantSetting::Text(s) if s.is_empty() => {
                return Err(problem(
                    "[database] tenant is empty: give the tenant's value in tenant_column".into(),
                ));
            }
            TenantSetting::Text(s) => TenantValue::Text(s),
        };
        let state_dir = if let Some(state) = file.state {
            dir.join(state.dir)
        } else {
            let stem = path
                .file_stem()
                .map_or_else(|| "site".to_owned(), |s| s.to_string_lossy().into_owned());
            dir.join(format!(".{stem}.sitepack"))
        };
        Ok(Self {
            path: path.clone(),
            site: SiteIdentity {
                id: site.id,
                name: site.name,
                url: site.url,
            },
            database,
            tenant_column: db.tenant_column,
            tenant,
            tenant_table: db.tenant_table,
            exclude: db.exclude,
            secret_tables: db.secret_tables,
            owner_column: db.owner_column,
            users_table: db
                .users_table
                .unwrap_or_else(|| DEFAULT_USERS_TABLE.to_owned()),
            files_dir: file.files.map(|files| dir.join(files.dir)),
            state_dir,
            display_url,
        })
    }

    /// The site's `site.json`: `{"id", "name", "url"}`.
    #[must_use]
    pub fn site_json(&self) -> Value {
        let mut site = Map::new();
        site.insert("id".into(), Value::String(self.site.id.to_string()));
        site.insert("name".into(), Value::String(self.site.name.clone()));
        site.insert("url".into(), Value::String(self.site.url.clone()));
        Value::Object(site)
    }

    /// The database URL as written, any password masked: for messages.
    #[must_use]
    pub fn display_url(&self) -> &str {
        &self.display_url
    }
}

/// The TOML parser's message with its line and column (1-based), without the source
/// line it would quote (it may hold a password); any URL user info in the message is
/// masked too.
fn toml_problem(text: &str, error: &toml::de::Error) -> String {
    let message = mask_url_user_info(error.message().trim_end());
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit_once('\n')
                .map_or(before, |(_, last)| last)
                .chars()
                .count()
                + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// `url` with the password of its user info (if any) masked; the user name stays.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The user info ends at the last `@` before any query: a password written with a
    // `/` in it (not percent-encoded) is masked whole too.
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:{CREDENTIAL_MASK}{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The SQLite file of `sqlite:REST`: `sqlite:relative/path`, `sqlite:/abs/path` or
/// `sqlite:///abs/path`.
fn sqlite_path(dir: &Path, rest: &str) -> Result<PathBuf, String> {
    let file = match rest.strip_prefix("//") {
        Some(abs) if abs.starts_with('/') => abs,
        Some(_) => {
            return Err(format!(
                "[database] url sqlite:{rest} names a host; write sqlite:relative/path or sqlite:///absolute/path"
            ));
        }
        None => rest,
    };
    if file.is_empty() {
        return Err(
            "[database] url sqlite: names no file; write sqlite:relative/path or sqlite:///absolute/path".into(),
        );
    }
    Ok(dir.join(file))
}

fn postgres_target(
    url: &str,
    schema: String,
    password_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PostgresTarget, String> {
    let shown = mask_password(url);
    let parsed = url::Url::parse(url).map_err(|e| format!("[database] url {shown}: {e}"))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("[database] url {shown} names no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let user = decode(parsed.username());
    if user.is_empty() {
        return Err(format!(
            "[database] url {shown} names no user: write postgres://USER@{host}/DATABASE"
        ));
    }
    let dbname = decode(parsed.path().trim_start_matches('/'));
    if dbname.is_empty() || dbname.contains('/') {
        return Err(format!(
            "[database] url {shown} names no database: write postgres://{user}@{host}/DATABASE"
        ));
    }
    if let Some((key, _)) = parsed.query_pairs().next() {
        return Err(format!(
            "[database] url {shown}: parameter {key} is not supported; remove the query part"
        ));
    }
    let password = match parsed.password() {
        Some(p) => Some(decode(p)),
        None => match env("PGPASSWORD") {
            Some(p) if !p.is_empty() => Some(p),
            _ => match password_file {
                Some(file) => Some(read_password_file(file)?),
                None => None,
            },
        },
    };
    Ok(PostgresTarget {
        host,
        port: parsed.port().unwrap_or(DEFAULT_POSTGRES_PORT),
        user,
        dbname,
        schema,
        password: password.map(Password),
    })
}

fn read_password_file(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        format!(
            "[database] password_file {}: cannot read it: {e}",
            file.display()
        )
    })?;
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(format!(
            "[database] password_file {} is empty: write the password in it",
            file.display()
        ));
    }
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
[site]
id = "acme"
name = "Acme"
url = "https://acme.example"
[database]
url = "postgres://app@localhost/acme"
tenant_column = "org_id"
tenant = 1
password_file = "db.pw"
"#;

    fn password(
        text: &str,
        dir: &Path,
        pgpassword: Option<&str>,
    ) -> Result<Option<String>, String> {
        let env = |name: &str| {
            (name == "PGPASSWORD")
                .then(|| pgpassword.map(str::to_owned))
                .flatten()
        };
        let d =
            Descriptor::parse_in(&dir.join("site.toml"), text, &env).map_err(|e| e.to_string())?;
        match d.database {
            Database::Postgres(target) => Ok(target.password().map(str::to_owned)),
            Database::Sqlite { .. } => Err("sqlite".into()),
        }
    }

    #[test]
    fn the_password_comes_from_the_url_then_pgpassword_then_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db.pw"), "from-file\r\n").unwrap();
        let with_url = TEXT.replace("app@", "app:from-url@");
        assert_eq!(
            password(&with_url, dir.path(), Some("from-env")),
            Ok(Some("from-url".into()))
        );
        assert_eq!(
            password(TEXT, dir.path(), Some("from-env")),
            Ok(Some("from-env".into()))
        );
        assert_eq!(
            password(TEXT, dir.path(), Some("")),
            Ok(Some("from-file".into()))
        );
        assert_eq!(
            password(TEXT, dir.path(), None),
            Ok(Some("from-file".into()))
        );
        let without_file = TEXT.replace("password_file = \"db.pw\"\n", "");
        assert_eq!(password(&without_file, dir.path(), None), Ok(None));
        // A missing or empty file is an error naming it.
        std::fs::write(dir.path().join("db.pw"), "\n").unwrap();
        let message = password(TEXT, dir.path(), None).unwrap_err();
        assert!(message.contains("db.pw is empty"), "{message}");
        std::fs::remove_file(dir.path().join("db.pw")).unwrap();
        let message = password(TEXT, dir.path(), None).unwrap_err();
        assert!(
            message.contains("password_file") && message.contains("cannot read it"),
            "{message}"
        );
    }

    #[test]
    fn display_urls_mask_the_password_only() {
        assert_eq!(
            mask_password("postgres://u:p@h:1/d"),
            "postgres://u:…@h:1/d"
        );
        assert_eq!(mask_password("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(
            mask_password("postgres://:p@h/d?x=a@b"),
            "postgres://:…@h/d?x=a@b"
        );
        assert_eq!(mask_password("sqlite:a:b@c"), "sqlite:a:b@c");
        assert_eq!(mask_password("postgres://u:a/b@h/d"), "postgres://u:…@h/d");
    }
}
