//! Recordings in an S3-compatible bucket (feature `s3`), through the AWS SDK for Rust.
//!
//! ```text
//! s3://BUCKET/PREFIX/<session-id>/events.jsonl     uploaded when the recording closes
//! s3://BUCKET/PREFIX/<session-id>/public-key.hex   uploaded next
//! s3://BUCKET/PREFIX/<session-id>/manifest.json    uploaded last: a recording is complete once it has one
//! ```
//!
//! While a session runs, its event log is spooled in a local directory ([`LocalDir`]: append +
//! fsync, locked by its writer), so appends cost what they cost locally and a crash leaves the
//! log where recovery finds it. [`RecordingStore::close`] uploads the log, the public key, then
//! the manifest, and removes the spooled copy. Reads go to the bucket and fall back to the
//! spool for recordings not uploaded yet (live, or left by a crash). Recovery claims the spooled
//! log, cuts a torn tail, and uploads the recording as interrupted.
//!
//! The store's trait is synchronous; the store owns a one-thread tokio runtime and runs every
//! SDK call on it, waiting on a channel, so it can be called from any thread, including from
//! inside another tokio runtime (the call blocks that thread, like a local fsync would).

use std::fs;
use std::future::Future;
use std::io::{self, BufRead, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls;

use crate::error::RecordingError;
use crate::event::SessionId;
use crate::store::{Claim, EVENTS_FILE, EventSink, LocalDir, MANIFEST_FILE, PUBLIC_KEY_FILE, RecordingStore};

/// Static credentials for the bucket. `Debug` never shows the secret or the token.
#[derive(Clone)]
pub struct S3Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl S3Credentials {
    /// The standard environment variables `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_SESSION_TOKEN` (optional), if the first two are set.
    pub fn from_env() -> Option<S3Credentials> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(S3Credentials {
            access_key_id: var("AWS_ACCESS_KEY_ID")?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")?,
            session_token: var("AWS_SESSION_TOKEN"),
        })
    }
}

/// Where and how to reach the bucket.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// The bucket (it must exist).
    pub bucket: String,
    /// The key prefix, without leading or trailing `/` (empty: the bucket's root).
    pub prefix: String,
    /// The endpoint URL of an S3-compatible service (e.g. `http://127.0.0.1:4566` for the
    /// embedded cloud); `None` is AWS itself.
    pub endpoint: Option<String>,
    /// The region; `None` reads `AWS_REGION`, then `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// The credentials; `None` reads the standard environment variables.
    pub credentials: Option<S3Credentials>,
    /// Path-style addressing (`ENDPOINT/BUCKET/KEY`); `None`: on when an endpoint is given.
    pub path_style: Option<bool>,
    /// The local spool directory of live recordings.
    pub spool: PathBuf,
}

impl S3Options {
    /// Options for `s3://bucket/prefix` with everything else from the environment.
    pub fn new(bucket: impl Into<String>, prefix: &str, spool: impl Into<PathBuf>) -> S3Options {
        S3Options {
            bucket: bucket.into(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint: None,
            region: None,
            credentials: None,
            path_style: None,
            spool: spool.into(),
        }
    }
}

/// The client, the bucket and the runtime the SDK calls run on; shared with bucket claims.
struct Shared {
    rt: Option<tokio::runtime::Runtime>,
    client: aws_sdk_s3::Client,
    bucket: String,
    /// `""` or `"prefix/"`.
    prefix: String,
    /// For messages: the endpoint URL, or "AWS".
    endpoint: String,
}

impl Drop for Shared {
    /// Never blocks: dropping the store inside another runtime must not panic.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// How an S3 call failed.
struct Failure {
    code: Option<String>,
    status: Option<u16>,
    message: String,
}

impl Failure {
    fn of<E, R>(err: SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HasStatus,
    {
        let status = err.raw_response().map(HasStatus::status);
        let code = err.code().map(str::to_owned);
        let message = match (&code, err.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            _ => match status {
                Some(s) => format!("HTTP {s}: {}", DisplayErrorContext(&err)),
                None => DisplayErrorContext(&err).to_string(),
            },
        };
        Failure {
            code,
            status,
            message,
        }
    }

    fn not_found(&self) -> bool {
        matches!(self.code.as_deref(), Some("NoSuchKey" | "NotFound"))
            || (self.code.is_none() && self.status == Some(404))
    }
}

/// The status of a raw HTTP response.
trait HasStatus {
    fn status(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

impl Shared {
    fn key(&self, id: &SessionId, name: &str) -> String {
        format!("{}{}/{name}", self.prefix, id.as_str())
    }

    /// Runs an SDK call on the store's runtime and waits for it on this thread.
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, RecordingError> {
        let stopped = || RecordingError::S3 {
            action: "cannot reach",
            bucket: self.bucket.clone(),
            key: self.prefix.clone(),
            message: "the store's runtime has stopped".into(),
            hint: String::new(),
        };
        let rt = self.rt.as_ref().ok_or_else(stopped)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| stopped())
    }

    /// The error for a failed call on `key`, with advice.
    fn error(&self, action: &'static str, key: &str, f: Failure) -> RecordingError {
        let bucket = &self.bucket;
        let hint = match (f.code.as_deref(), f.status) {
            (Some("NoSuchBucket"), _) => format!(
                "; the bucket {bucket} does not exist at {}: create it (e.g. `aws s3 mb s3://{bucket}`) or name an existing bucket in the store (s3://BUCKET/PREFIX)",
                self.endpoint
            ),
            (Some("InvalidAccessKeyId"), _) => format!(
                "; {} does not know this access key id: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to a valid key of that endpoint",
                self.endpoint
            ),
            (Some("SignatureDoesNotMatch"), _) => {
                "; the secret access key does not match the access key id: fix AWS_SECRET_ACCESS_KEY".into()
            }
            (Some("ExpiredToken" | "InvalidToken" | "TokenRefreshRequired"), _) => {
                "; the temporary credentials expired or are invalid: renew them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)".into()
            }
            (Some("AccessDenied" | "AllAccessDisabled"), _) | (None, Some(403)) => format!(
                "; the credentials may not do this: allow s3:ListBucket, s3:GetObject and s3:PutObject on arn:aws:s3:::{bucket} and arn:aws:s3:::{bucket}/{}*",
                self.prefix
            ),
            (Some("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException"), _) => {
                format!("; the bucket {bucket} is in another region: set AWS_REGION (or region= in the store) to the bucket's region")
            }
            (None, None) => format!(
                "; check the endpoint ({}) is reachable and the store's endpoint= (or AWS_ENDPOINT_URL) is right",
                self.endpoint
            ),
            _ => String::new(),
        };
        RecordingError::S3 {
            action,
            bucket: bucket.clone(),
            key: key.to_owned(),
            message: f.message,
            hint,
        }
    }

    /// Reads an object; `None` when it does not exist.
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, RecordingError> {
        let req = self.client.get_object().bucket(&self.bucket).key(&key);
        let result = self.run(async move {
            match req.send().await {
                Ok(out) => match out.body.collect().await {
                    Ok(data) => Ok(Some(data.into_bytes().to_vec())),
                    Err(e) => Err(Failure {
                        code: None,
                        status: None,
                        message: format!("the object's body was cut: {e}"),
                    }),
                },
                Err(e) => {
                    let f = Failure::of(e);
                    if f.not_found() { Ok(None) } else { Err(f) }
                }
            }
        })?;
        result.map_err(|f| self.error("cannot read", &key, f))
    }

    /// Whether an object exists.
    fn exists(&self, key: String) -> Result<bool, RecordingError> {
        let req = self.client.head_object().bucket(&self.bucket).key(&key);
        let result = self.run(async move {
            match req.send().await {
                Ok(_) => Ok(true),
                Err(e) => {
                    let f = Failure::of(e);
                    if f.not_found() { Ok(false) } else { Err(f) }
                }
            }
        })?;
        result.map_err(|f| self.error("cannot look up", &key, f))
    }

    /// Writes an object from memory.
    fn put(&self, key: String, bytes: Vec<u8>) -> Result<(), RecordingError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(ByteStream::from(bytes));
        self.run(async move { req.send().await.map(|_| ()).map_err(Failure::of) })?
            .map_err(|f| self.error("cannot upload", &key, f))
    }

    /// Writes an object from a local file, streamed.
    fn put_file(&self, key: String, path: PathBuf) -> Result<(), RecordingError> {
        let req = self.client.put_object().bucket(&self.bucket).key(&key);
        let result = self.run(async move {
            let body = ByteStream::from_path(&path).await.map_err(|e| Failure {
                code: None,
                status: Some(0),
                message: format!("cannot read {}: {e}", path.display()),
            })?;
            req.body(body).send().await.map(|_| ()).map_err(Failure::of)
        })?;
        result.map_err(|f| self.error("cannot upload", &key, f))
    }

    /// The session ids with at least one object under the prefix.
    fn list(&self) -> Result<Vec<SessionId>, RecordingError> {
        let client = self.client.clone();
        let bucket = self.bucket.clone();
        let prefix = self.prefix.clone();
        let result = self.run(async move {
            let mut names = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let out = client
                    .list_objects_v2()
                    .bucket(&bucket)
                    .prefix(&prefix)
                    .delimiter("/")
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(Failure::of)?;
                for p in out.common_prefixes() {
                    if let Some(name) = p.prefix().and_then(|p| p.strip_prefix(prefix.as_str())) {
                        names.push(name.trim_end_matches('/').to_owned());
                    }
                }
                match out.next_continuation_token() {
                    Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                    _ => break,
                }
            }
            Ok(names)
        })?;
        let names = result.map_err(|f| self.error("cannot list", &self.prefix, f))?;
        Ok(names.iter().filter_map(|n| SessionId::new(n).ok()).collect())
    }

    /// Checks the bucket can be listed with these credentials.
    fn check(&self) -> Result<(), RecordingError> {
        let req = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .max_keys(1);
        self.run(async move { req.send().await.map(|_| ()).map_err(Failure::of) })?
            .map_err(|f| self.error("cannot open the recordings store", &self.prefix, f))
    }
}

/// Recordings in an S3-compatible bucket, spooled locally while they are written.
pub struct S3Store {
    shared: Arc<Shared>,
    spool: LocalDir,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.shared.bucket)
            .field("prefix", &self.shared.prefix)
            .field("endpoint", &self.shared.endpoint)
            .field("spool", &self.spool.root())
            .finish()
    }
}

impl S3Store {
    /// Connects to the bucket and checks that it can be listed (so a wrong bucket, endpoint or
    /// credentials fail here, with advice, rather than at a session's end).
    pub fn open(options: S3Options) -> Result<S3Store, RecordingError> {
        let spec = format!("s3://{}/{}", options.bucket, options.prefix);
        let bad = |why: String| RecordingError::Spec {
            spec: spec.clone(),
            why,
        };
        if options.bucket.is_empty() {
            return Err(bad("no bucket: use s3://BUCKET/PREFIX".into()));
        }
        let credentials = options.credentials.clone().or_else(S3Credentials::from_env).ok_or_else(|| {
            bad("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)".into())
        })?;
        let region = options
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok().filter(|r| !r.is_empty()))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("porteiro-recordings-s3")
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the S3 client's runtime: {e}")))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .build_https();
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(Credentials::new(
                credentials.access_key_id,
                credentials.secret_access_key,
                credentials.session_token,
                None,
                "porteiro-recordings",
            ))
            .http_client(http)
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(300))
                    .build(),
            )
            .force_path_style(options.path_style.unwrap_or(options.endpoint.is_some()));
        if let Some(url) = &options.endpoint {
            config = config.endpoint_url(url);
        }
        let prefix = options.prefix.trim_matches('/');
        let shared = Shared {
            rt: Some(rt),
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: options.bucket.clone(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            endpoint: options.endpoint.clone().unwrap_or_else(|| "AWS".to_owned()),
        };
        shared.check()?;
        Ok(S3Store {
            shared: Arc::new(shared),
            spool: LocalDir::new(options.spool),
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.shared.bucket
    }

    /// The spool directory of live recordings.
    pub fn spool(&self) -> &Path {
        self.spool.root()
    }

    /// `s3://bucket/prefix` (for messages).
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.shared.bucket, self.shared.prefix)
    }

    fn spooled(&self, id: &SessionId) -> PathBuf {
        self.spool.dir(id).join(EVENTS_FILE)
    }
}

impl RecordingStore for S3Store {
    fn list(&self) -> Result<Vec<SessionId>, RecordingError> {
        let mut ids = self.shared.list()?;
        ids.extend(self.spool.list()?);
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    fn create(&self, id: &SessionId) -> Result<Box<dyn EventSink>, RecordingError> {
        if self.shared.exists(self.shared.key(id, EVENTS_FILE))? {
            return Err(RecordingError::AlreadyExists(id.to_string()));
        }
        self.spool.create(id)
    }

    fn events(&self, id: &SessionId) -> Result<Box<dyn BufRead + Send>, RecordingError> {
        match self.shared.get(self.shared.key(id, EVENTS_FILE))? {
            Some(bytes) => Ok(Box::new(Cursor::new(bytes))),
            None => self.spool.events(id),
        }
    }

    fn manifest(&self, id: &SessionId) -> Result<Option<Vec<u8>>, RecordingError> {
        self.shared.get(self.shared.key(id, MANIFEST_FILE))
    }

    fn public_key(&self, id: &SessionId) -> Result<Option<Vec<u8>>, RecordingError> {
        self.shared.get(self.shared.key(id, PUBLIC_KEY_FILE))
    }

    /// Uploads the spooled log, the public key, then the manifest; then removes the spool.
    fn close(&self, id: &SessionId, manifest: &[u8], public_key: &[u8]) -> Result<(), RecordingError> {
        let spooled = self.spooled(id);
        if spooled.is_file() {
            self.shared.put_file(self.shared.key(id, EVENTS_FILE), spooled)?;
        } else if !self.shared.exists(self.shared.key(id, EVENTS_FILE))? {
            return Err(RecordingError::NotFound(id.to_string()));
        }
        self.shared
            .put(self.shared.key(id, PUBLIC_KEY_FILE), public_key.to_vec())?;
        self.shared
            .put(self.shared.key(id, MANIFEST_FILE), manifest.to_vec())?;
        // The recording is complete in the bucket; a spool left by a failure here is harmless
        // (reads prefer the bucket) and is removed by the next close or by hand.
        let dir = self.spool.dir(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(RecordingError::io("cannot remove the uploaded spool", dir, e)),
        }
    }

    fn claim(&self, id: &SessionId) -> Result<Option<Box<dyn Claim>>, RecordingError> {
        if self.spooled(id).is_file() {
            return self.spool.claim(id);
        }
        let key = self.shared.key(id, EVENTS_FILE);
        if self.shared.exists(key.clone())? {
            // Only in the bucket (its spool was elsewhere): recovery rewrites the object.
            return Ok(Some(Box::new(BucketClaim {
                shared: self.shared.clone(),
                key,
            })));
        }
        Err(RecordingError::NotFound(id.to_string()))
    }

    fn import(
        &self,
        id: &SessionId,
        events: &[u8],
        manifest: &[u8],
        public_key: &[u8],
    ) -> Result<(), RecordingError> {
        if self.spooled(id).is_file() || self.shared.exists(self.shared.key(id, EVENTS_FILE))? {
            return Err(RecordingError::AlreadyExists(id.to_string()));
        }
        self.shared
            .put(self.shared.key(id, EVENTS_FILE), events.to_vec())?;
        self.shared
            .put(self.shared.key(id, PUBLIC_KEY_FILE), public_key.to_vec())?;
        self.shared
            .put(self.shared.key(id, MANIFEST_FILE), manifest.to_vec())
    }
}

/// Recovery of a recording that is only in the bucket: truncation rewrites the object.
struct BucketClaim {
    shared: Arc<Shared>,
    key: String,
}

impl Claim for BucketClaim {
    fn truncate(&mut self, len: u64) -> Result<(), RecordingError> {
        let mut bytes = self
            .shared
            .get(self.key.clone())?
            .ok_or_else(|| RecordingError::NotFound(self.key.clone()))?;
        bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        self.shared.put(self.key.clone(), bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_secret_and_token() {
        let c = S3Credentials {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("token-secret".into()),
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("AKIAEXAMPLE"));
        assert!(!shown.contains("very-secret"));
        assert!(!shown.contains("token-secret"));
    }

    #[test]
    fn a_store_without_a_bucket_is_refused_before_any_request() {
        let err = S3Store::open(S3Options::new("", "p", "/nonexistent")).expect_err("no bucket");
        assert!(err.to_string().contains("no bucket"), "{err}");
    }
}
