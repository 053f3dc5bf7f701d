//! S3-compatible object storage as a storage target, through the `object_store` crate.
//! Every call runs to completion on a small Tokio runtime owned by the store, so the rest
//! of sitepack stays synchronous.

use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig};

use sitepack_format::Timestamp;

use crate::target::{ListedObject, Listing, check_key, usable_key};
use crate::{BackupStore, S3Settings, StoreError, failpoint};

/// Parts of a multipart upload (S3 needs at least 5 MiB for all but the last).
const PART_SIZE: usize = 8 * 1024 * 1024;

/// A bucket (and a prefix in it) of an S3-compatible server.
#[derive(Debug)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    bucket: String,
    prefix: String,
    fetched: AtomicU64,
}

impl S3Store {
    /// Connects (lazily: nothing is sent until the first call) to `bucket`, with the
    /// standard AWS environment variables and `settings`.
    pub fn new(bucket: &str, prefix: &str, settings: &S3Settings) -> Result<Self, StoreError> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let endpoint = settings
            .endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        // `AWS_REGION` is the standard name; object_store reads `AWS_DEFAULT_REGION`.
        if std::env::var_os("AWS_DEFAULT_REGION").is_none()
            && let Ok(region) = std::env::var("AWS_REGION")
        {
            builder = builder.with_region(region);
        }
        // A wrong address or a server that is down fails within seconds, not minutes.
        let retry = RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(15),
            ..RetryConfig::default()
        };
        let store = builder
            .with_retry(retry)
            .build()
            .map_err(|cause| StoreError::Object {
                action: "connect to",
                name: format!("s3://{bucket}"),
                cause,
            })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::io("start the network runtime for", bucket, e))?;
        Ok(Self {
            store: Arc::new(store),
            runtime,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            fetched: AtomicU64::new(0),
        })
    }

    fn object(&self, key: &str) -> Result<ObjectPath, StoreError> {
        check_key(key)?;
        let full = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjectPath::parse(&full).map_err(|_| StoreError::BadName {
            name: key.to_owned(),
        })
    }

    fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.describe())
    }

    fn error(&self, action: &'static str, key: &str, source: object_store::Error) -> StoreError {
        match source {
            object_store::Error::NotFound { .. } => StoreError::NotFound {
                name: key.to_owned(),
                target: self.describe(),
            },
            object_store::Error::AlreadyExists { .. } => StoreError::Exists {
                name: key.to_owned(),
                target: self.describe(),
            },
            cause => StoreError::Object {
                action,
                name: self.url(key),
                cause,
            },
        }
    }

    /// A single PUT that only creates: `If-None-Match: *`, which S3 (and s3s) refuse
    /// with 412 when the key exists, so of two writers exactly one wins.
    fn put_new(
        &self,
        key: &str,
        path: &ObjectPath,
        data: Vec<u8>,
    ) -> Result<Option<String>, StoreError> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        self.runtime
            .block_on(self.store.put_opts(path, PutPayload::from(data), options))
            .map(|put| put.e_tag)
            .map_err(|e| self.error("upload", key, e))
    }

    /// A server whose `If-None-Match` is not atomic (s3s-fs checks, then writes) may let
    /// two writers both succeed: the object under `key` must still be the one this
    /// writer stored (its `ETag`), or this writer lost and says so.
    fn still_ours(
        &self,
        key: &str,
        path: &ObjectPath,
        e_tag: Option<String>,
    ) -> Result<(), StoreError> {
        let Some(e_tag) = e_tag else {
            return Ok(());
        };
        let stored = self
            .runtime
            .block_on(self.store.head(path))
            .map_err(|e| self.error("look up", key, e))?;
        if stored.e_tag.is_some_and(|stored| stored != e_tag) {
            return Err(StoreError::Exists {
                name: key.to_owned(),
                target: self.describe(),
            });
        }
        Ok(())
    }

    /// Uploads `source` in parts; a failure aborts the upload on the server, so no part
    /// is left behind and no object appears. (The caller has claimed the key.)
    fn put_multipart(
        &self,
        key: &str,
        path: &ObjectPath,
        source: &Path,
    ) -> Result<Option<String>, StoreError> {
        let mut input = File::open(source).map_err(|e| StoreError::io("open", source, e))?;
        self.runtime.block_on(async {
            let mut upload = self
                .store
                .put_multipart(path)
                .await
                .map_err(|e| self.error("start uploading", key, e))?;
            let sent: Result<Option<String>, StoreError> = async {
                let mut part = 0;
                loop {
                    let mut buffer = vec![0; PART_SIZE];
                    let n = read_full(&mut input, &mut buffer)
                        .map_err(|e| StoreError::io("read", source, e))?;
                    if n == 0 {
                        break;
                    }
                    buffer.truncate(n);
                    part += 1;
                    failpoint::fail_step("upload", part)
                        .map_err(|e| StoreError::io("upload", source, e))?;
                    upload
                        .put_part(PutPayload::from(buffer))
                        .await
                        .map_err(|e| self.error("upload", key, e))?;
                }
                upload
                    .complete()
                    .await
                    .map(|put| put.e_tag)
                    .map_err(|e| self.error("finish uploading", key, e))
            }
            .await;
            if sent.is_err() {
                // Best effort: the error that stopped the upload is the one to report.
                let _ = upload.abort().await;
            }
            sent
        })
    }
}

impl BackupStore for S3Store {
    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    fn put_file(&self, key: &str, source: &Path) -> Result<(), StoreError> {
        let path = self.object(key)?;
        let size = std::fs::metadata(source)
            .map_err(|e| StoreError::io("open", source, e))?
            .len();
        if size > PART_SIZE as u64 {
            // object_store cannot complete a multipart upload only-if-absent: the
            // caller checked the name is free, and the ETag check below catches a
            // writer that got there meanwhile.
            let e_tag = self.put_multipart(key, &path, source)?;
            return self.still_ours(key, &path, e_tag);
        }
        let data = std::fs::read(source).map_err(|e| StoreError::io("read", source, e))?;
        failpoint::fail_step("upload", 1).map_err(|e| StoreError::io("upload", source, e))?;
        let e_tag = self.put_new(key, &path, data)?;
        self.still_ours(key, &path, e_tag)
    }

    fn put_bytes(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        let path = self.object(key)?;
        let e_tag = self.put_new(key, &path, data.to_vec())?;
        self.still_ours(key, &path, e_tag)
    }

    fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.object(key)?;
        let bytes = self
            .runtime
            .block_on(async { self.store.get(&path).await?.bytes().await })
            .map_err(|e| self.error("download", key, e))?;
        Ok(bytes.to_vec())
    }

    fn get_to_file(&self, key: &str, out: &mut File) -> Result<u64, StoreError> {
        let path = self.object(key)?;
        self.runtime.block_on(async {
            let mut stream = self
                .store
                .get(&path)
                .await
                .map_err(|e| self.error("download", key, e))?
                .into_stream();
            let mut copied = 0;
            while let Some(chunk) = stream
                .try_next()
                .await
                .map_err(|e| self.error("download", key, e))?
            {
                out.write_all(&chunk)
                    .map_err(|e| StoreError::io("write the download of", key, e))?;
                copied += chunk.len() as u64;
                self.fetched
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            Ok(copied)
        })
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let path = self.object(key)?;
        let bytes = self
            .runtime
            .block_on(self.store.get_range(&path, range))
            .map_err(|e| self.error("download", key, e))?;
        self.fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes.to_vec())
    }

    fn size(&self, key: &str) -> Result<u64, StoreError> {
        let path = self.object(key)?;
        self.runtime
            .block_on(self.store.head(&path))
            .map(|meta| meta.size)
            .map_err(|e| self.error("look up", key, e))
    }

    fn list(&self, prefix: &str) -> Result<Listing, StoreError> {
        let full = match (self.prefix.is_empty(), prefix.trim_end_matches('/')) {
            (true, "") => None,
            (true, p) => Some(ObjectPath::from(p)),
            (false, "") => Some(ObjectPath::from(self.prefix.as_str())),
            (false, p) => Some(ObjectPath::from(format!("{}/{p}", self.prefix))),
        };
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(full.as_ref()).try_collect())
            .map_err(|e| self.error("list", prefix, e))?;
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut listing = Listing::default();
        for meta in metas {
            let Some(key) = meta.location.as_ref().strip_prefix(&strip) else {
                continue;
            };
            if !usable_key(key) {
                listing.skipped.push(format!("{key:?}"));
                continue;
            }
            listing.objects.push(ListedObject {
                key: key.to_owned(),
                size: meta.size,
                modified: Timestamp::from_unix_seconds(meta.last_modified.timestamp()).ok(),
            });
        }
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listing)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.object(key)?;
        match self.runtime.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", key, e)),
        }
    }

    fn bytes_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }
}

fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
