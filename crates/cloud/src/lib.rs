//! Porteiro's embedded AWS-compatible cloud.
//!
//! IAM (Query 2010-05-08), STS (Query 2011-06-15), S3 (REST-XML) and KMS (JSON 1.1) over AWS's wire protocols, SigV4
//! authentication, and every request authorized by the IAM engine with a request context
//! built as AWS builds it. Unmodified `aws` CLI, boto3 and the AWS SDK for Rust use it by
//! `--endpoint-url`. State lives in SQLite in a data directory and survives restarts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub mod authz;
pub mod console;
pub mod iam;
pub mod ids;
pub mod kms;
pub mod model;
pub mod protocol;
pub mod s3;
pub mod server;
pub mod state;
pub mod store;
pub mod sts;
pub mod time;
pub mod xml;

pub use authz::VpcEndpoint;

use model::{AccessKey, Account, KeyOwner};
use protocol::ApiError;
use state::Shared;
use store::{Store, StoreError};

/// Root credentials for an account.
#[derive(Clone, PartialEq, Eq)]
pub struct RootCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SECURITY: the secret is never printed by Debug.
        f.debug_struct("RootCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// How to start a cloud.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// Where the database (and generated credentials file) live.
    pub data_dir: PathBuf,
    /// The first account's id (generated when `None`), used only on first start.
    pub account_id: Option<String>,
    /// Root credentials of the first account (generated when `None`), used only on first start.
    pub root_credentials: Option<RootCredentials>,
}

/// Starting the cloud failed.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The data directory could not be created or written.
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A request to the cloud was refused.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A configured value is invalid.
    #[error("{0}")]
    Config(String),
    /// The KMS master key could not be loaded or created.
    #[error(transparent)]
    KmsMasterKey(#[from] kms::crypto::MasterKeyError),
}

/// What happened on first start (printed once by the CLI).
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// The account created.
    pub account_id: String,
    /// Its root credentials when they were generated (and written to `credentials_file`).
    pub generated: Option<RootCredentials>,
    /// The 0600 file the generated credentials were written to.
    pub credentials_file: PathBuf,
}

/// A running embedded cloud (cheap to clone).
#[derive(Debug, Clone)]
pub struct Cloud {
    pub(crate) shared: Arc<Shared>,
    pub(crate) authz: Arc<authz::PolicyCache>,
    pub(crate) s3: Arc<s3::store::ObjectStore>,
    /// Encrypts KMS key material at rest.
    pub(crate) kms_master: Arc<kms::crypto::MasterKey>,
    data_dir: PathBuf,
    clock_offset: Arc<std::sync::atomic::AtomicI64>,
}

/// Validates a 12-digit account id.
pub fn check_account_id(id: &str) -> Result<(), CloudError> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CloudError::Config(format!(
            "`{id}` is not an AWS account id: use 12 digits, such as 123456789012"
        )))
    }
}

fn check_root_credentials(c: &RootCredentials) -> Result<(), CloudError> {
    let id_ok = (16..=128).contains(&c.access_key_id.len())
        && c.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !id_ok {
        return Err(CloudError::Config(
            "the root access key id must be 16 to 128 letters and digits (such as AKIAIOSFODNN7EXAMPLE)"
                .into(),
        ));
    }
    if c.secret_access_key.len() < 16 {
        return Err(CloudError::Config(
            "the root secret access key must be at least 16 characters".into(),
        ));
    }
    Ok(())
}

impl Cloud {
    /// Opens the cloud in `config.data_dir`, creating the first account on first start.
    pub fn open(config: &CloudConfig) -> Result<(Cloud, Option<Bootstrap>), CloudError> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| CloudError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        if let Some(id) = &config.account_id {
            check_account_id(id)?;
        }
        if let Some(c) = &config.root_credentials {
            check_root_credentials(c)?;
        }
        let store = Store::open(&dir.join("cloud.sqlite3"))?;
        let shared = Arc::new(Shared::load(store)?);
        let kms_master = Arc::new(kms::crypto::MasterKey::load_or_create(dir)?);
        let cloud = Cloud {
            shared,
            authz: Arc::new(authz::PolicyCache::default()),
            s3: Arc::new(s3::store::ObjectStore::open(&dir.join("s3"))?),
            kms_master,
            data_dir: dir.clone(),
            clock_offset: Arc::new(std::sync::atomic::AtomicI64::new(0)),
        };
        iam::seed_aws_managed_policies(&cloud)?;
        let bootstrap = if cloud.shared.snapshot().accounts.is_empty() {
            let account_id = config.account_id.clone().unwrap_or_else(ids::account_id);
            Some(cloud.create_account(&account_id, config.root_credentials.clone())?)
        } else {
            None
        };
        Ok((cloud, bootstrap))
    }

    /// The cloud's current time (epoch seconds): the wall clock plus any offset set by
    /// [`Cloud::advance_clock`].
    pub fn now(&self) -> i64 {
        time::now() + self.clock_offset.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Moves the cloud's clock forward (for tests of expiry: sessions, presigned URLs,
    /// clock skew). Never used by `porteiro` itself.
    pub fn advance_clock(&self, seconds: i64) {
        self.clock_offset
            .fetch_add(seconds, std::sync::atomic::Ordering::Relaxed);
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The account ids, oldest first.
    pub fn accounts(&self) -> Vec<String> {
        let snap = self.shared.snapshot();
        let mut accounts: Vec<&Account> = snap.accounts.values().collect();
        accounts.sort_by_key(|a| (a.created, a.id.clone()));
        accounts.into_iter().map(|a| a.id.clone()).collect()
    }

    /// Creates an account with root credentials (given, or generated and written to a 0600
    /// file `root-credentials-ACCOUNT.txt` in the data directory).
    pub fn create_account(
        &self,
        account_id: &str,
        root: Option<RootCredentials>,
    ) -> Result<Bootstrap, CloudError> {
        check_account_id(account_id)?;
        if let Some(c) = &root {
            check_root_credentials(c)?;
        }
        let generated = root.is_none();
        let creds = root.unwrap_or_else(|| RootCredentials {
            access_key_id: ids::aws_id("AKIA"),
            secret_access_key: ids::secret_key(),
        });
        let now = self.now();
        self.shared.mutate(|tx| {
            if tx.state.accounts.contains_key(account_id) {
                return Err(CloudError::Config(format!("account {account_id} already exists")));
            }
            if tx.state.keys.contains_key(&creds.access_key_id)
                || tx.state.sessions.contains_key(&creds.access_key_id)
            {
                return Err(CloudError::Config(format!(
                    "access key id {} is already in use: choose another",
                    creds.access_key_id
                )));
            }
            tx.put(Account {
                id: account_id.to_string(),
                created: now,
            });
            tx.put(AccessKey {
                account: account_id.to_string(),
                owner: KeyOwner::Root,
                id: creds.access_key_id.clone(),
                secret: creds.secret_access_key.clone(),
                active: true,
                created: now,
            });
            Ok(())
        })?;
        let credentials_file = self.data_dir.join(format!("root-credentials-{account_id}.txt"));
        if generated {
            write_private(
                &credentials_file,
                &format!(
                    "# Root credentials of account {account_id} in the embedded cloud.\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                    creds.access_key_id, creds.secret_access_key
                ),
            )
            .map_err(|source| CloudError::DataDir {
                path: credentials_file.display().to_string(),
                source,
            })?;
        }
        Ok(Bootstrap {
            account_id: account_id.to_string(),
            generated: generated.then_some(creds),
            credentials_file,
        })
    }

    /// Serves the cloud on `listener` until the future is dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        server::serve(self, listener, None).await
    }

    /// Serves the cloud on `listener` as the VPC endpoint `endpoint`: its requests carry
    /// `aws:SourceVpc`, `aws:SourceVpce` and `aws:VpcSourceIp`, and no `aws:SourceIp`.
    pub async fn serve_vpc_endpoint(
        self,
        listener: tokio::net::TcpListener,
        endpoint: VpcEndpoint,
    ) -> std::io::Result<()> {
        server::serve(self, listener, Some(endpoint)).await
    }

    /// Handles one HTTP request (used by the server and by in-process tests).
    pub async fn handle(
        &self,
        req: hyper::Request<bytes::Bytes>,
        remote: SocketAddr,
    ) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
        server::handle(self, req, remote, None).await
    }
}

/// Writes a file readable only by its owner, atomically (temp file, fsync, rename).
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
