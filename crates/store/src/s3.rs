//! S3-compatible object storage as a storage target, through the `object_store` crate.
//! Every call runs to completion on a small Tokio runtime owned by the store, so the rest
//! of sitepack stays synchronous.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsAuthorizer, AwsCredentialProvider};
use object_store::client::{HttpConnector, HttpRequest, HttpRequestBody, ReqwestConnector};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};

use sitepack_format::Timestamp;

use crate::target::{ListedObject, Listing, check_key, usable_key};
use crate::{BackupStore, S3Settings, StoreError, failpoint};

/// Parts of a multipart upload (S3 needs at least 5 MiB for all but the last).
const PART_SIZE: usize = 8 * 1024 * 1024;

/// A bucket (and a prefix in it) of an S3-compatible server.
#[derive(Debug)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    /// For a listing `object_store` cannot parse (see [`RawLister`]).
    raw: RawLister,
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
        if let Some(endpoint) = settings.checked_endpoint()? {
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
        let (region, bucket_endpoint) = raw_endpoint(&builder, bucket);
        let store = builder
            .with_retry(retry)
            .build()
            .map_err(|cause| StoreError::Object {
                action: "connect to",
                name: format!("s3://{bucket}"),
                cause,
            })?;
        let raw = RawLister {
            credentials: Arc::clone(store.credentials()),
            allow_http: bucket_endpoint.starts_with("http://"),
            region,
            bucket_endpoint,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::io("start the network runtime for", bucket, e))?;
        Ok(Self {
            store: Arc::new(store),
            raw,
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
        let listed: Result<Vec<object_store::ObjectMeta>, _> = self
            .runtime
            .block_on(self.store.list(full.as_ref()).try_collect());
        let objects: Vec<RawObject> = match listed {
            Ok(metas) => metas
                .into_iter()
                .map(|meta| RawObject {
                    key: meta.location.to_string(),
                    size: meta.size,
                    modified: Timestamp::from_unix_seconds(meta.last_modified.timestamp()).ok(),
                })
                .collect(),
            // One key object_store cannot parse fails the whole page: list again with
            // plain requests, which name it instead.
            Err(object_store::Error::InvalidPath { .. }) => {
                let prefix = full.map(|p| format!("{p}/")).unwrap_or_default();
                self.runtime
                    .block_on(self.raw.list(&prefix))
                    .map_err(|cause| StoreError::Object {
                        action: "list",
                        name: self.url(&prefix),
                        cause,
                    })?
            }
            Err(e) => return Err(self.error("list", prefix, e)),
        };
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut listing = Listing::default();
        for object in objects {
            let Some(key) = object.key.strip_prefix(&strip) else {
                continue;
            };
            if !usable_key(key) {
                listing.skipped.push(format!("{key:?}"));
                continue;
            }
            listing.objects.push(ListedObject {
                key: key.to_owned(),
                size: object.size,
                modified: object.modified,
            });
        }
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        listing.skipped.sort();
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

/// An object as a listing gives it: its full key, size and `Last-Modified`.
struct RawObject {
    key: String,
    size: u64,
    modified: Option<Timestamp>,
}

/// Lists a bucket with plain `ListObjectsV2` requests, signed by `object_store`'s own
/// AWS signer: `object_store` 0.14 parses every key of a listing page as a path and fails
/// the whole page on one it refuses (a control character, an empty part), so one
/// foreign object would hide every backup. Used only after such a failure.
#[derive(Debug)]
struct RawLister {
    credentials: AwsCredentialProvider,
    region: String,
    /// `https://s3.REGION.amazonaws.com/BUCKET`, `http://127.0.0.1:9000/BUCKET`, …
    bucket_endpoint: String,
    allow_http: bool,
}

impl RawLister {
    /// Every object whose key starts with `prefix`, page by page.
    async fn list(&self, prefix: &str) -> object_store::Result<Vec<RawObject>> {
        let fail = |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
            store: "S3",
            source: e,
        };
        let client = ReqwestConnector::default()
            .connect(&ClientOptions::new().with_allow_http(self.allow_http))?;
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = format!("{}?list-type=2", self.bucket_endpoint);
            if !prefix.is_empty() {
                url.push_str("&prefix=");
                url.push_str(&query_encode(prefix));
            }
            if let Some(token) = &token {
                url.push_str("&continuation-token=");
                url.push_str(&query_encode(token));
            }
            let mut request = HttpRequest::new(HttpRequestBody::empty());
            *request.uri_mut() = url.parse().map_err(|e| fail(Box::new(e)))?;
            let credential = self.credentials.get_credential().await?;
            AwsAuthorizer::new(&credential, "s3", &self.region)
                .try_authorize(&mut request, None)?;
            let response = client
                .execute(request)
                .await
                .map_err(|e| fail(Box::new(e)))?;
            let status = response.status();
            let body = response
                .into_body()
                .bytes()
                .await
                .map_err(|e| fail(Box::new(e)))?;
            let text = String::from_utf8_lossy(&body);
            if !status.is_success() {
                return Err(fail(format!("{status}: {text}").into()));
            }
            let page: ListPage = quick_xml::de::from_str(&text).map_err(|e| fail(Box::new(e)))?;
            objects.extend(page.contents.into_iter().map(|c| {
                RawObject {
                    key: c.key,
                    size: c.size,
                    modified: c
                        .last_modified
                        .parse::<Timestamp>()
                        .ok()
                        .or_else(|| format!("{}Z", c.last_modified.get(..19)?).parse().ok()),
                }
            }));
            match page.next_continuation_token {
                Some(next) if page.is_truncated => token = Some(next),
                _ => return Ok(objects),
            }
        }
    }
}

/// The region and the bucket's URL, as `object_store` builds them from `builder`.
fn raw_endpoint(builder: &AmazonS3Builder, bucket: &str) -> (String, String) {
    let region = builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .unwrap_or_else(|| "us-east-1".to_owned());
    let virtual_hosted = builder
        .get_config_value(&AmazonS3ConfigKey::VirtualHostedStyleRequest)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let bucket_endpoint = match (
        builder.get_config_value(&AmazonS3ConfigKey::Endpoint),
        virtual_hosted,
    ) {
        (Some(endpoint), true) => endpoint,
        (Some(endpoint), false) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        (None, true) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        (None, false) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
    };
    (region, bucket_endpoint)
}

/// One page of a `ListObjectsV2` answer.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPage {
    #[serde(default)]
    contents: Vec<ListContents>,
    #[serde(default)]
    is_truncated: bool,
    #[serde(default)]
    next_continuation_token: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListContents {
    key: String,
    size: u64,
    last_modified: String,
}

/// `text` for a query string: every byte but the unreserved ones percent-encoded (as
/// AWS `SigV4` canonicalizes it).
fn query_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_value_keeps_only_unreserved_bytes() {
        assert_eq!(query_encode("acme-shop/a_b.c~"), "acme-shop%2Fa_b.c~");
        assert_eq!(query_encode("x y\n+=é"), "x%20y%0A%2B%3D%C3%A9");
    }
}
