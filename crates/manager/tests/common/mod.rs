//! Shared harness: the embedded cloud on 127.0.0.1 in its own runtime, and a manager over a
//! fresh SQLite store with the AWS SDK connector and an offset clock.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use porteiro_cloud::{Cloud, CloudConfig, RootCredentials};
use porteiro_manager::clock::OffsetClock;
use porteiro_manager::connector::AwsConnector;
use porteiro_manager::manager::*;
use porteiro_manager::model::*;
use porteiro_manager::store::SqliteStore;
use porteiro_manager::vault::{Secret, Vault};
use porteiro_manager::{Actor, Manager};

pub const ACCOUNT: &str = "123456789012";
pub const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";
pub const ROOT_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("porteiro-mgr-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The embedded cloud serving on 127.0.0.1 in a runtime of its own.
pub struct CloudServer {
    pub cloud: Cloud,
    pub addr: SocketAddr,
    pub url: String,
    http: aws_sdk_iam::config::SharedHttpClient,
    rt: Option<tokio::runtime::Runtime>,
}

impl CloudServer {
    pub fn start(dir: &Path) -> CloudServer {
        let config = CloudConfig {
            data_dir: dir.to_path_buf(),
            account_id: Some(ACCOUNT.to_string()),
            root_credentials: Some(RootCredentials {
                access_key_id: ROOT_AK.to_string(),
                secret_access_key: ROOT_SK.to_string(),
            }),
        };
        let (cloud, _) = Cloud::open(&config).expect("the cloud opens");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let serving = cloud.clone();
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = serving.serve(listener).await;
        });
        CloudServer {
            cloud,
            addr,
            url: format!("http://{addr}"),
            http: aws_smithy_http_client::Builder::new().build_http(),
            rt: Some(rt),
        }
    }

    /// An IAM client as root.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        self.iam_as(ROOT_AK, ROOT_SK, None)
    }

    pub fn iam_as(&self, ak: &str, sk: &str, token: Option<&str>) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                ak,
                sk,
                token.map(str::to_string),
                None,
                "t",
            ))
            .http_client(self.http.clone())
            .time_source(CloudTime(self.cloud.clone()))
            .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    pub fn sts_as(&self, ak: &str, sk: &str, token: Option<&str>) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                ak,
                sk,
                token.map(str::to_string),
                None,
                "t",
            ))
            .http_client(self.http.clone())
            .time_source(CloudTime(self.cloud.clone()))
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }
}

impl Drop for CloudServer {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The cloud's clock (moved by `advance_clock`) as the SDK's time source, so test clients
/// sign at the cloud's time.
#[derive(Debug)]
pub struct CloudTime(pub Cloud);

impl aws_smithy_async::time::TimeSource for CloudTime {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.0.now() as u64)
    }
}

/// Everything a domain test needs.
pub struct World {
    pub server: CloudServer,
    pub manager: Arc<Manager>,
    pub clock: Arc<OffsetClock>,
    pub admin: Actor,
    pub dir: TempDir,
}

impl World {
    pub async fn new() -> World {
        let dir = TempDir::new("world");
        let server = CloudServer::start(&dir.path().join("cloud"));
        let store = SqliteStore::open(&dir.path().join("manager.sqlite3")).expect("store");
        let clock = Arc::new(OffsetClock::new());
        let manager = Arc::new(Manager::new(
            Arc::new(store),
            Vault::from_key(&[9u8; 32]),
            Arc::new(AwsConnector::with_clock(clock.clone())),
            clock.clone(),
        ));
        assert!(
            manager
                .bootstrap_admin("admin", &Secret::new("admin-password-1"))
                .await
                .expect("bootstrap")
        );
        let admin = manager
            .authenticate(
                manager
                    .login("admin", "admin-password-1", None)
                    .await
                    .expect("login")
                    .0
                    .expose(),
                Some("127.0.0.1".into()),
            )
            .expect("authenticate");
        World {
            server,
            manager,
            clock,
            admin,
            dir,
        }
    }

    /// Advances both clocks (the manager's and the cloud's).
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
        self.server.cloud.advance_clock(seconds);
    }

    pub async fn account(&self) -> String {
        self.manager
            .create_account(
                &self.admin,
                NewAccount {
                    name: "embedded".into(),
                    endpoint: Some(self.server.url.clone()),
                    region: "us-east-1".into(),
                    access_key_id: ROOT_AK.into(),
                    secret_access_key: Secret::new(ROOT_SK),
                },
            )
            .await
            .expect("account")
            .id
    }

    /// A platform user with an e-mail (or not) in a group with `perms`; returns its actor.
    pub async fn person(&self, username: &str, email: Option<&str>, perms: &[Permission]) -> Actor {
        let u = self
            .manager
            .create_user(
                &self.admin,
                NewUser {
                    name: username.to_uppercase(),
                    username: username.into(),
                    email: email.map(str::to_string),
                    password: format!("{username}-password-1"),
                    admin: false,
                },
            )
            .await
            .expect("user");
        if !perms.is_empty() {
            self.manager
                .create_group(
                    &self.admin,
                    GroupInput {
                        name: format!("{username}-group"),
                        description: String::new(),
                        members: vec![u.id.clone()],
                        permissions: perms.to_vec(),
                    },
                )
                .await
                .expect("group");
        }
        let token = self
            .manager
            .login(username, &format!("{username}-password-1"), None)
            .await
            .expect("login")
            .0;
        self.manager.authenticate(token.expose(), None).expect("auth")
    }

    /// A role in the cloud whose trust policy names `principal` (AssumeRole and
    /// SetSourceIdentity), with an inline policy allowing iam:List* and iam:Get*.
    pub async fn role(&self, name: &str, principal: &str, max: i32) {
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}}]}}"#
        );
        let iam = self.server.iam();
        iam.create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .max_session_duration(max)
            .send()
            .await
            .expect("create role");
        iam.put_role_policy()
            .role_name(name)
            .policy_name("read")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:List*","iam:Get*"],"Resource":"*"}]}"#)
            .send()
            .await
            .expect("role policy");
    }
}
