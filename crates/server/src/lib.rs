//! `sitepack serve`: the Backup API over HTTP and the admin Backup page.
//!
//! Every request is a thin layer over the libraries: the lock, the recovery of an
//! interrupted restore, the pending review and the audit log all come from the site,
//! restore, store and db crates, exactly as the command line gets them.
//!
//! - [`ServeOptions`] and [`serve`]: where to listen (loopback unless TLS or an explicit
//!   plain-HTTP opt-in), the admin credentials, the upload limit, the backup target.
//! - [`auth`]: `Authorization: Bearer` with the static admin token or an HS256 JWT whose
//!   role is admin; 401 or 403 otherwise.
//! - [`api`]: the routes (documented as `OpenAPI` 3.1 at `/api/openapi.json`).
//! - the page: `assets/` embedded in the binary, served at `/`.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod auth;
mod error;
mod progress;
mod site;
mod uploads;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use error::ServeError;
pub use site::ServedSite;

/// How to serve a site.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The site directory or database site descriptor.
    pub site: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The backup target for saved backups (else the `[auto] target` of the site's
    /// `config.toml`).
    pub target: Option<String>,
    /// The S3 endpoint for an `s3://` target.
    pub endpoint: Option<String>,
    /// Who may call the API.
    pub auth: auth::Credentials,
    /// The largest archive `POST /api/backup/import` accepts, in bytes.
    pub max_upload_bytes: u64,
    /// TLS: the certificate chain and private key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Plain HTTP on an address other than loopback, asked for explicitly.
    pub insecure_http: bool,
}

/// Serves until the process is stopped (the command's SIGINT and SIGTERM handling
/// removes the work directory; a restore stopped midway is finished by the next command
/// on the site, as after any kill). `ready` is called with the bound address once the
/// server accepts connections (port 0 picks a free one).
pub fn serve(options: ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    if !options.listen.ip().is_loopback() && options.tls.is_none() && !options.insecure_http {
        return Err(ServeError::Usage(format!(
            "{}: listening beyond this machine needs TLS (--tls-cert and --tls-key), or \
             --insecure-http to serve the admin token in clear text on purpose",
            options.listen
        )));
    }
    // Said before the site is touched (AppState::new refuses it too).
    if options.auth.is_empty() {
        return Err(ServeError::Usage(api::NO_CREDENTIAL.to_owned()));
    }
    let site = ServedSite::open(
        &options.site,
        options.target.clone(),
        options.endpoint.clone(),
    )?;
    let state = Arc::new(api::AppState::new(
        site,
        options.auth.clone(),
        options.max_upload_bytes,
    )?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::Io {
            action: "start the server's runtime".to_owned(),
            source: e,
        })?;
    runtime.block_on(run(options, state, ready))
}

async fn run(
    options: ServeOptions,
    state: Arc<api::AppState>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    // The certificate is read first: a server that says it is serving, serves.
    let tls = match &options.tls {
        Some((cert, key)) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| ServeError::Io {
                    action: format!(
                        "read the TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    ),
                    source: e,
                })?,
        ),
        None => None,
    };
    let listen = |e| ServeError::Io {
        action: format!("listen on {}", options.listen),
        source: e,
    };
    let listener = std::net::TcpListener::bind(options.listen).map_err(listen)?;
    listener.set_nonblocking(true).map_err(listen)?;
    let address = listener.local_addr().map_err(listen)?;
    let service = api::router(state, tls.is_some()).into_make_service();
    let mut server = axum_server::from_tcp(listener);
    // A client that never finishes its request headers is dropped (bodies have their
    // own idle timeout, in the upload).
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    ready(address);
    let outcome = match tls {
        Some(config) => {
            server
                .acceptor(axum_server::tls_rustls::RustlsAcceptor::new(config))
                .serve(service)
                .await
        }
        None => server.serve(service).await,
    };
    outcome.map_err(|e| ServeError::Io {
        action: format!("serve on {address}"),
        source: e,
    })
}

/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
