//! A `sitepack serve` process for the API and browser tests: started on a free loopback
//! port, with its own admin token, JWT secret, backup target and temporary directory
//! (where its work directory is, to check that refused uploads leave nothing), stopped
//! with SIGTERM when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Stdio};

pub const TOKEN: &str = "test-admin-token-0123456789";
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef";

pub struct Server {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    agent: ureq::Agent,
}

/// An answer: status, headers we read, body.
pub struct Answer {
    pub status: u16,
    pub digest: Option<String>,
    pub content_type: Option<String>,
    pub www_authenticate: Option<String>,
    pub nosniff: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The error message of an error answer.
    #[track_caller]
    pub fn message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {}", String::from_utf8_lossy(&self.body)))
            .to_owned()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status,
            status,
            "expected {status}, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

impl Server {
    /// `sitepack serve SITE --to DIR/target` with the token and the JWT secret, and
    /// `extra` arguments.
    pub fn start(site: &Path, extra: &[&str]) -> Self {
        Self::spawn(site, extra, true)
    }

    /// Without `--to`: saved backups are the automatic backups' target.
    pub fn start_untargeted(site: &Path) -> Self {
        Self::spawn(site, &[], false)
    }

    fn spawn(site: &Path, extra: &[&str], with_target: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
        std::fs::write(dir.path().join("jwt"), JWT_SECRET).unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        let mut command = super::sitepack();
        command
            .args(["serve".as_ref(), site.as_os_str()])
            .args(["--listen", "127.0.0.1:0"])
            .arg("--token-file")
            .arg(dir.path().join("token"))
            .arg("--jwt-secret-file")
            .arg(dir.path().join("jwt"))
            .args(extra)
            .env("TMPDIR", dir.path().join("tmp"))
            .env_remove("SITEPACK_ADMIN_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if with_target {
            command.arg("--to").arg(dir.path().join("target"));
        }
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        let base = first
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| {
                let mut rest = String::new();
                let _ = stderr.read_to_string(&mut rest);
                panic!("the server did not start: {first}{rest}")
            })
            .trim_end_matches('/')
            .to_owned();
        // Keep reading its standard error so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        // A connection per request: a server may close one after refusing a request whose
        // body it did not read (HTTP allows it), and a pooled connection reused at that
        // moment fails on the client's side, not the server's.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(0)
            .build()
            .into();
        Self {
            child,
            base,
            dir,
            agent,
        }
    }

    /// The files in the server's temporary directory (its work directory's content).
    pub fn temporary_files(&self) -> Vec<String> {
        let tmp = self.dir.path().join("tmp");
        let work_dirs = super::listing(&tmp);
        assert!(
            work_dirs.iter().any(|d| d.starts_with("sitepack-serve-")),
            "no work directory in {}: {work_dirs:?}",
            tmp.display()
        );
        work_dirs
            .iter()
            .flat_map(|dir| {
                super::listing(&tmp.join(dir))
                    .into_iter()
                    // The work directory's own lock, held while the server runs.
                    .filter(|name| name != "lock")
                    .map(move |name| format!("{dir}/{name}"))
            })
            .collect()
    }

    /// `METHOD /api/PATH` with the admin token (or `auth`, a whole header value, or none).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = match body {
            // Streamed without a length: the server learns the size as it reads.
            Some(("application/zip+chunked", bytes)) => self.agent.run(
                request
                    .header("Content-Type", "application/zip")
                    .body(ureq::SendBody::from_owned_reader(std::io::Cursor::new(
                        bytes,
                    )))
                    .unwrap(),
            ),
            Some((content_type, bytes)) => self.agent.run(
                request
                    .header("Content-Type", content_type)
                    .body(bytes)
                    .unwrap(),
            ),
            None => self.agent.run(request.body(()).unwrap()),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let digest = header("x-sitepack-archive-sha256");
        let content_type = header("content-type");
        let www_authenticate = header("www-authenticate");
        let nosniff = header("x-content-type-options");
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap();
        Answer {
            status,
            digest,
            content_type,
            www_authenticate,
            nosniff,
            body,
        }
    }

    pub fn admin() -> String {
        format!("Bearer {TOKEN}")
    }

    pub fn get(&self, path: &str) -> Answer {
        self.call("GET", path, Some(&Self::admin()), None)
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Answer {
        self.call(
            "POST",
            path,
            Some(&Self::admin()),
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    pub fn upload(&self, bytes: Vec<u8>) -> Answer {
        self.call(
            "POST",
            "/api/backup/import",
            Some(&Self::admin()),
            Some(("application/zip", bytes)),
        )
    }
}

impl Server {
    /// Sends SIGTERM and waits for the server to stop.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// An HS256 JWT with these claims, signed with `secret`.
pub fn jwt(claims: &serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Seconds since 1970, now.
pub fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}
