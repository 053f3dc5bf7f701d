//! A real S3-compatible server on loopback for the storage tests: `s3s-fs` (installed by
//! `.ci/run`: `cargo install s3s-fs@0.14.1 --features binary --locked`), which checks
//! request signatures. Each test gets its own server, data directory and bucket.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "sitepack-test-key";
pub const SECRET_KEY: &str = "sitepack-test-secret-0123456789";
pub const BUCKET: &str = "backups";

pub struct S3Server {
    child: Child,
    dir: tempfile::TempDir,
    pub endpoint: String,
}

impl S3Server {
    /// Starts a server with one empty bucket, `backups`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
        let port = free_port();
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "s3s-fs is needed by the S3 tests (cargo install s3s-fs@0.14.1 --features binary --locked; .ci/run installs it): {e}"
                )
            });
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "s3s-fs did not start listening on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            dir,
            endpoint: format!("http://127.0.0.1:{port}"),
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `s3s-fs` on the PATH, else in cargo's bin directory.
fn binary() -> PathBuf {
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin/s3s-fs"));
    match in_cargo_home {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("s3s-fs"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
