//! A real S3-compatible server on loopback for the storage tests, run inside the test
//! process: `s3s-fs`'s file-system backend behind `s3s`'s service, which checks request
//! signatures, served by hyper on a tokio runtime in a background thread. Each test gets
//! its own server, port, data directory and bucket; dropping the server stops it.

use std::path::Path;
use std::process::Command;
use std::thread::JoinHandle;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::sync::oneshot;

pub const ACCESS_KEY: &str = "sitepack-test-key";
pub const SECRET_KEY: &str = "sitepack-test-secret-0123456789";
pub const BUCKET: &str = "backups";

pub struct S3Server {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    dir: tempfile::TempDir,
    pub endpoint: String,
}

impl S3Server {
    /// Starts a server with one empty bucket, `backups`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
        let service = {
            let mut builder = S3ServiceBuilder::new(s3s_fs::FileSystem::new(dir.path()).unwrap());
            builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            builder.build()
        };
        // Bound before the thread starts: the server accepts as soon as this returns.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::spawn(move || serve(listener, service, stopped));
        Self {
            stop: Some(stop),
            thread: Some(thread),
            dir,
            endpoint,
        }
    }

    /// The server's data directory (the bucket is a directory in it).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `sitepack` command with this server's credentials and endpoint in its
    /// environment.
    pub fn sitepack(&self) -> Command {
        let mut command = super::sitepack();
        command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT");
        command
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until `stopped` fires; the runtime's end then drops every open
/// connection.
fn serve(listener: std::net::TcpListener, service: S3Service, mut stopped: oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(_) => continue,
                },
                _ = &mut stopped => break,
            };
            let connection = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    });
}
