//! The harness the embedded cloud's integration tests share: a cloud serving on 127.0.0.1 in a
//! runtime of its own (so a test can stop it and start it again on the same directory),
//! optionally with a VPC endpoint listener; AWS SDK for Rust clients for it; and assertions on
//! AWS's errors.
//!
//! Every test binary uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_iam::config::SharedHttpClient;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata};
use porteiro_cloud::{Cloud, CloudConfig, RootCredentials, VpcEndpoint};

/// The first account, created on a fresh data directory.
pub const ACCOUNT: &str = "123456789012";
/// Its root access key (AWS's documentation example).
pub const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";
/// Its root secret.
pub const ROOT_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// The second account ([`Server::create_other_account`]).
pub const OTHER_ACCOUNT: &str = "210987654321";
/// Its root access key.
pub const OTHER_AK: &str = "AKIAI44QH8DHBEXAMPLE";
/// Its root secret.
pub const OTHER_SK: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";
/// The VPC endpoint of [`Server::with_vpc_endpoint`].
pub const VPCE: &str = "vpce-0a1b2c3d";
/// Its VPC.
pub const VPC: &str = "vpc-11112222";
/// The region the clients sign for.
pub const REGION: &str = "us-east-1";

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory under the system's temporary directory; `tag` names it.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("porteiro-cloud-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Credentials to call the cloud with.
#[derive(Debug, Clone)]
pub struct Creds {
    /// Access key id.
    pub ak: String,
    /// Secret access key.
    pub sk: String,
    /// Session token (temporary credentials).
    pub token: Option<String>,
}

impl Creds {
    /// Credentials from their parts.
    pub fn new(ak: &str, sk: &str, token: Option<&str>) -> Creds {
        Creds {
            ak: ak.to_string(),
            sk: sk.to_string(),
            token: token.map(str::to_string),
        }
    }

    /// The first account's root key.
    pub fn root() -> Creds {
        Creds::new(ROOT_AK, ROOT_SK, None)
    }

    /// The second account's root key.
    pub fn other_root() -> Creds {
        Creds::new(OTHER_AK, OTHER_SK, None)
    }

    /// The temporary credentials of an STS answer.
    pub fn of(c: Option<&aws_sdk_sts::types::Credentials>) -> Creds {
        let c = c.expect("credentials in the response");
        Creds::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token()))
    }
}

/// Builds an SDK client of one service for `url`, signing as `creds`, without retries.
macro_rules! client {
    ($sdk:ident, $url:expr, $region:expr, $creds:expr, $http:expr $(, $extra:ident($arg:expr))*) => {{
        let c: &Creds = $creds;
        let conf = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new($region.to_string()))
            .endpoint_url($url)
            .credentials_provider($sdk::config::Credentials::new(
                &c.ak,
                &c.sk,
                c.token.clone(),
                None,
                "porteiro-test",
            ))
            .http_client($http)
            .retry_config($sdk::config::retry::RetryConfig::disabled())
            $(.$extra($arg))*
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

/// A cloud serving on 127.0.0.1 in its own runtime; stopped when dropped.
pub struct Server {
    /// The cloud (for what tests do behind the API: clocks, accounts).
    pub cloud: Cloud,
    /// Where it serves.
    pub addr: SocketAddr,
    /// `http://ADDR`.
    pub url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Where its VPC endpoint listener serves ([`Server::with_vpc_endpoint`]).
    pub endpoint: Option<SocketAddr>,
    /// The HTTP client the SDK clients share.
    pub http: SharedHttpClient,
    /// The runtime serving the cloud.
    pub rt: Option<tokio::runtime::Runtime>,
    _dir: Option<TempDir>,
}

impl Server {
    /// A cloud on a fresh data directory.
    pub fn start() -> Server {
        let dir = TempDir::new("srv");
        let mut s = Server::start_in(dir.path());
        s._dir = Some(dir);
        s
    }

    /// A cloud on `dir` (account 123456789012 with the example root key on first start).
    pub fn start_in(dir: &Path) -> Server {
        Server::launch(dir, None)
    }

    /// A cloud on a fresh data directory that also serves the VPC endpoint [`VPCE`] of
    /// [`VPC`] on a second listener.
    pub fn with_vpc_endpoint() -> Server {
        let dir = TempDir::new("vpce");
        let vpce = VpcEndpoint::new(VPCE, VPC).expect("valid endpoint and VPC ids");
        let mut s = Server::launch(dir.path(), Some(vpce));
        s._dir = Some(dir);
        s
    }

    fn launch(dir: &Path, vpce: Option<VpcEndpoint>) -> Server {
        let config = CloudConfig {
            data_dir: dir.to_path_buf(),
            account_id: Some(ACCOUNT.to_string()),
            root_credentials: Some(RootCredentials {
                access_key_id: ROOT_AK.to_string(),
                secret_access_key: ROOT_SK.to_string(),
            }),
        };
        let (cloud, _bootstrap) = Cloud::open(&config).expect("the cloud opens");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        let (listener, addr) = bind();
        let serving = cloud.clone();
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let _ = serving.serve(listener).await;
        });
        let endpoint = vpce.map(|vpce| {
            let (listener, addr) = bind();
            let serving = cloud.clone();
            rt.spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let _ = serving.serve_vpc_endpoint(listener, vpce).await;
            });
            addr
        });
        Server {
            cloud,
            addr,
            url: format!("http://{addr}"),
            endpoint,
            data_dir: dir.to_path_buf(),
            http: aws_smithy_http_client::Builder::new().build_http(),
            rt: Some(rt),
            _dir: None,
        }
    }

    /// `http://ADDR` of the VPC endpoint listener.
    pub fn endpoint_url(&self) -> String {
        let addr = self.endpoint.expect("a cloud started with_vpc_endpoint");
        format!("http://{addr}")
    }

    /// IAM at `url`.
    pub fn iam_at(&self, url: &str, c: &Creds) -> aws_sdk_iam::Client {
        client!(aws_sdk_iam, url, REGION, c, self.http.clone())
    }

    /// IAM.
    pub fn iam(&self, c: &Creds) -> aws_sdk_iam::Client {
        self.iam_at(&self.url, c)
    }

    /// IAM as the first account's root.
    pub fn root_iam(&self) -> aws_sdk_iam::Client {
        self.iam(&Creds::root())
    }

    /// STS at `url`.
    pub fn sts_at(&self, url: &str, c: &Creds) -> aws_sdk_sts::Client {
        client!(aws_sdk_sts, url, REGION, c, self.http.clone())
    }

    /// STS.
    pub fn sts(&self, c: &Creds) -> aws_sdk_sts::Client {
        self.sts_at(&self.url, c)
    }

    /// STS as the first account's root.
    pub fn root_sts(&self) -> aws_sdk_sts::Client {
        self.sts(&Creds::root())
    }

    /// S3 at `url`, path-style.
    pub fn s3_at(&self, url: &str, c: &Creds) -> aws_sdk_s3::Client {
        client!(
            aws_sdk_s3,
            url,
            REGION,
            c,
            self.http.clone(),
            force_path_style(true)
        )
    }

    /// S3, path-style.
    pub fn s3(&self, c: &Creds) -> aws_sdk_s3::Client {
        self.s3_at(&self.url, c)
    }

    /// KMS in `region`.
    pub fn kms_in(&self, c: &Creds, region: &str) -> aws_sdk_kms::Client {
        client!(aws_sdk_kms, &self.url, region, c, self.http.clone())
    }

    /// KMS.
    pub fn kms(&self, c: &Creds) -> aws_sdk_kms::Client {
        self.kms_in(c, REGION)
    }

    /// KMS as the first account's root.
    pub fn root_kms(&self) -> aws_sdk_kms::Client {
        self.kms(&Creds::root())
    }

    /// Creates the second account (210987654321) with its example root key.
    pub fn create_other_account(&self) {
        self.cloud
            .create_account(
                OTHER_ACCOUNT,
                Some(RootCredentials {
                    access_key_id: OTHER_AK.to_string(),
                    secret_access_key: OTHER_SK.to_string(),
                }),
            )
            .expect("second account");
    }

    /// An IAM user of the first account with an access key and an optional inline policy `p`.
    pub async fn user(&self, name: &str, inline: Option<&str>) -> Creds {
        user_with_key(&self.root_iam(), name, inline).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Possibly dropped inside a test's runtime: shut the server's down without blocking.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn bind() -> (std::net::TcpListener, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.set_nonblocking(true).expect("nonblocking listener");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// The value of a successful call, or a panic that shows AWS's error.
#[track_caller]
pub fn ok<T, E: std::error::Error>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("the call failed: {}", DisplayErrorContext(&e)),
    }
}

/// An error code and message.
#[derive(Debug)]
pub struct Failure {
    /// AWS's error code.
    pub code: String,
    /// Its message.
    pub message: String,
}

/// The error of a call expected to fail.
#[track_caller]
pub fn fail<T, E: ProvideErrorMetadata>(r: Result<T, E>) -> Failure {
    match r {
        Ok(_) => panic!("the call succeeded, but an error was expected"),
        Err(e) => Failure {
            code: e.code().unwrap_or("<no code>").to_string(),
            message: e.message().unwrap_or("<no message>").to_string(),
        },
    }
}

/// Asserts the error code of a call expected to fail; returns the message.
#[track_caller]
pub fn fail_with<T, E: ProvideErrorMetadata>(r: Result<T, E>, code: &str) -> String {
    let f = fail(r);
    assert_eq!(f.code, code, "unexpected error: {f:?}");
    f.message
}

/// The system's time in epoch seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Creates a user with `iam` with an access key (and an inline policy `p` when given).
pub async fn user_with_key(iam: &aws_sdk_iam::Client, name: &str, inline: Option<&str>) -> Creds {
    ok(iam.create_user().user_name(name).send().await);
    if let Some(doc) = inline {
        ok(iam
            .put_user_policy()
            .user_name(name)
            .policy_name("p")
            .policy_document(doc)
            .send()
            .await);
    }
    let out = ok(iam.create_access_key().user_name(name).send().await);
    let key = out.access_key().expect("an access key");
    Creds::new(key.access_key_id(), key.secret_access_key(), None)
}
