//! `sitepack serve SITE`: the Backup API and the admin Backup page over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use sitepack_server::auth::Credentials;
use sitepack_server::{ServeOptions, serve};

use crate::Outcome;

/// Serve the Backup API and the admin Backup page for one site.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every /api/ call needs `Authorization: Bearer <token>`: the admin token (--token-file, or SITEPACK_ADMIN_TOKEN), or an HS256 JWT signed with the secret of --jwt-secret-file whose `role` is \"admin\" (or whose `roles` contain it) and whose `exp` has not passed. Missing or invalid: 401; not an admin: 403.
The page is at / (it asks for the token and keeps it for the tab only); the API is described at /api/openapi.json.
Listening beyond loopback needs --tls-cert and --tls-key, or --insecure-http.
SIGINT or SIGTERM stops it at once, as any command (exit 130): its work directory is removed, and a restore it was running is finished or undone by the next command on SITE, as after any kill.")]
pub(crate) struct ServeArgs {
    /// The site directory, or a database site's descriptor (a TOML file).
    site: PathBuf,
    /// The address and port to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    listen: SocketAddr,
    /// Where saved backups are kept (a directory, file://… or s3://bucket/prefix);
    /// default: the automatic backups' target in SITE/.sitepack/config.toml.
    #[arg(long, value_name = "TARGET")]
    to: Option<String>,
    /// The S3 endpoint (e.g. http://127.0.0.1:9000); default AWS_ENDPOINT_URL, else AWS.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// A file holding the admin token (its first line); or set SITEPACK_ADMIN_TOKEN.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// A file holding the HS256 secret that admin JWTs are signed with.
    #[arg(long, value_name = "FILE")]
    jwt_secret_file: Option<PathBuf>,
    /// The largest archive an upload may be, in bytes.
    #[arg(long, value_name = "N", default_value_t = 1 << 30)]
    max_upload_bytes: u64,
    /// The TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address beyond loopback (the token travels in clear text).
    #[arg(long)]
    insecure_http: bool,
}

/// `127.0.0.1:8080`, `[::1]:8080` or `localhost:8080` (the first address the name has).
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    text.to_socket_addrs()
        .map_err(|e| format!("{text}: not an address and port to listen on ({e})"))?
        .next()
        .ok_or_else(|| format!("{text}: the name has no address"))
}

/// The first line of a secret file, which must not be empty.
fn read_secret(path: &PathBuf, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the {what}", path.display()))?;
    let secret = text.lines().next().unwrap_or_default().trim().to_owned();
    if secret.len() < 16 {
        bail!(
            "{}: the {what} must be at least 16 characters on its first line",
            path.display()
        );
    }
    Ok(secret)
}

pub(crate) fn run(args: &ServeArgs) -> Result<Outcome> {
    let token = match (&args.token_file, std::env::var("SITEPACK_ADMIN_TOKEN")) {
        (Some(file), _) => Some(read_secret(file, "admin token")?),
        (None, Ok(token)) if token.trim().len() >= 16 => Some(token.trim().to_owned()),
        (None, Ok(_)) => bail!("SITEPACK_ADMIN_TOKEN must be at least 16 characters"),
        (None, Err(_)) => None,
    };
    let jwt_secret = args
        .jwt_secret_file
        .as_ref()
        .map(|file| read_secret(file, "JWT secret").map(String::into_bytes))
        .transpose()?;
    let options = ServeOptions {
        site: args.site.clone(),
        listen: args.listen,
        target: args.to.clone(),
        endpoint: args.endpoint.clone(),
        auth: Credentials { token, jwt_secret },
        max_upload_bytes: args.max_upload_bytes,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        insecure_http: args.insecure_http,
    };
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    serve(options, |address| {
        // The first line of standard error, for scripts that chose port 0.
        eprintln!("serving {} on {scheme}://{address}/", args.site.display());
    })?;
    Ok(Outcome::Success)
}
