//! Archives uploaded for a restore (and exports on their way out): files in the
//! server's private work directory (0700, removed when the server stops or by the next
//! server after a kill), streamed to disk and never held in memory.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use axum::body::BodyDataStream;
use futures_util::StreamExt;
use sitepack_format::interrupt;
use sitepack_format::workdir::WorkDir;
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ServeError};

/// How many uploads are kept waiting for their apply: the oldest goes first.
const KEPT_UPLOADS: usize = 8;

/// The work directory and the uploads waiting in it.
pub(crate) struct Uploads {
    work: WorkDir,
    _interruptible: interrupt::Registered,
    /// Oldest first.
    waiting: Mutex<VecDeque<(String, PathBuf)>>,
}

impl Uploads {
    pub(crate) fn new() -> Result<Self, ServeError> {
        let temp = std::env::temp_dir();
        let work = WorkDir::new(&temp, "sitepack-serve-").map_err(|e| ServeError::Io {
            action: format!("create a private work directory in {}", temp.display()),
            source: e,
        })?;
        let interruptible = interrupt::temporary(work.path());
        Ok(Self {
            work,
            _interruptible: interruptible,
            waiting: Mutex::new(VecDeque::new()),
        })
    }

    /// A new file name in the work directory (random, never reused).
    pub(crate) fn new_path(&self, suffix: &str) -> Result<(String, PathBuf), ApiError> {
        let id = random_id()?;
        let path = self.work.path().join(format!("{id}{suffix}"));
        Ok((id, path))
    }

    /// A new file in the work directory, open for writing and reading back.
    pub(crate) fn create_file(&self, suffix: &str) -> Result<(std::fs::File, PathBuf), ApiError> {
        let (_, path) = self.new_path(suffix)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| ApiError::internal(&e))?;
        Ok((file, path))
    }

    /// Streams a request body into a new file; past `limit` bytes (announced by its
    /// length or found while reading) nothing is kept and the answer is 413 — at once to
    /// a client waiting for `100 Continue`, after reading what it sends otherwise.
    pub(crate) async fn receive(
        &self,
        body: axum::body::Body,
        announced: Option<u64>,
        expects_continue: bool,
        limit: u64,
    ) -> Result<(String, PathBuf), ApiError> {
        let mut stream = body.into_data_stream();
        if announced.is_some_and(|n| n > limit) {
            if !expects_continue {
                drain(&mut stream).await;
            }
            return Err(too_large(limit));
        }
        let (id, path) = self.new_path(".zip")?;
        let written = write_body(&path, &mut stream, limit).await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&path).await;
            drain(&mut stream).await;
        }
        written?;
        Ok((id, path))
    }

    /// Keeps an upload for its apply; the oldest beyond [`KEPT_UPLOADS`] is removed.
    pub(crate) fn keep(&self, id: &str, path: PathBuf) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.push_back((id.to_owned(), path));
        while waiting.len() > KEPT_UPLOADS {
            if let Some((_, oldest)) = waiting.pop_front() {
                let _ = std::fs::remove_file(oldest);
            }
        }
    }

    /// The upload `id`, if it is waiting.
    pub(crate) fn get(&self, id: &str) -> Option<PathBuf> {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(waiting, _)| waiting == id)
            .map(|(_, path)| path.clone())
    }

    /// Removes the upload `id` (it was restored).
    pub(crate) fn remove(&self, id: &str) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = waiting.iter().position(|(waiting, _)| waiting == id)
            && let Some((_, path)) = waiting.remove(at)
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// How much of a refused upload is still read (and thrown away) so that its client
/// gets to read the answer: a client that stops sending only when told is not cut off
/// mid-request. Past this, the connection is closed.
const DRAINED_BYTES: u64 = 64 << 20;

/// How long an upload may send nothing before it is given up (408, nothing kept).
const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The next chunk of the body; `Err` when the client sent nothing for [`IDLE_TIMEOUT`].
async fn next_chunk(
    stream: &mut BodyDataStream,
) -> Result<Option<Result<axum::body::Bytes, axum::Error>>, ApiError> {
    tokio::time::timeout(IDLE_TIMEOUT, stream.next())
        .await
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!(
                    "the upload sent nothing for {} seconds; nothing was kept",
                    IDLE_TIMEOUT.as_secs()
                ),
            )
        })
}

async fn drain(stream: &mut BodyDataStream) {
    let mut left = DRAINED_BYTES;
    while let Ok(Some(Ok(chunk))) = next_chunk(stream).await {
        let Some(rest) = left.checked_sub(chunk.len() as u64) else {
            return;
        };
        left = rest;
    }
}

async fn write_body(
    path: &PathBuf,
    stream: &mut BodyDataStream,
    limit: u64,
) -> Result<(), ApiError> {
    let fail = |e: std::io::Error| ApiError::internal(&e);
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(fail)?;
    let mut size: u64 = 0;
    while let Some(chunk) = next_chunk(stream).await? {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("the upload was cut short: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large(limit));
        }
        file.write_all(&chunk).await.map_err(fail)?;
    }
    if size == 0 {
        return Err(ApiError::bad_request(
            "the request has no body: send the archive (a ZIP file) as the request body",
        ));
    }
    file.sync_all().await.map_err(fail)?;
    Ok(())
}

pub(crate) fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the archive is larger than this server accepts ({limit} bytes, --max-upload-bytes); nothing was kept"
        ),
    )
}

/// 16 random bytes, as hex.
fn random_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::internal(&std::io::Error::other(format!("no random numbers: {e}")))
    })?;
    Ok(bytes.iter().fold(String::with_capacity(32), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    }))
}

/// Whether `id` is one of ours in form (32 lowercase hex digits): anything else is never
/// looked up.
pub(crate) fn is_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
