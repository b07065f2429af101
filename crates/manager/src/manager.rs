//! The access manager's service: every use case of the seed, over the store, vault and cloud
//! ports. Each change checks the actor's permission, validates its input, is written in one
//! transaction together with its audit events, and calls the cloud before (never halfway
//! through) a write. Work that talks to the cloud after the answer (provisioning, removal,
//! expiry, revocation) runs as durable [`Job`]s with retry and history.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine;
use porteiro_iam::{Authorizer, Context, Layers, Policy, PolicyKind, Principal, Request};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::clock::Clock;
use crate::connector::{AssumeRoleInput, CloudCallError, CloudConnector, Target};
use crate::model::*;
use crate::rules::{self, Invalid, JitAsk, Message, StartFacts, Unmet};
use crate::store::{AuditFilter, Batch, Store, StoreError, StoreExt};
use crate::vault::{Secret, Vault, VaultError, random_bytes};

mod console_access;
mod runtime_state;
pub use console_access::{ConsoleSignIn, ConsoleSignInMethod};

/// How long an API token lives.
pub const TOKEN_SECONDS: i64 = 12 * 3600;
/// How long a running job stays claimed by the Porteiro running it (it is due again after
/// that only if that Porteiro died mid-job).
const JOB_LEASE_SECONDS: i64 = 300;

/// How long after a session's credentials expire its revocation policy is kept (clock skew).
pub const REVOCATION_MARGIN_SECONDS: i64 = 300;
/// Attempts before a job fails.
pub const JOB_MAX_ATTEMPTS: u32 = 8;
/// The tag that marks a cloud IAM user as managed by Porteiro.
pub const MANAGED_TAG: &str = "porteiro:managed";

/// A use case failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input (names the field).
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// An id that does not exist.
    #[error("{kind} {id} does not exist")]
    NotFound {
        /// Kind.
        kind: &'static str,
        /// Id.
        id: String,
    },
    /// A conflicting state (a duplicate name, a user in use).
    #[error("{0}")]
    Conflict(Message),
    /// The actor lacks a permission.
    #[error("{0}")]
    Forbidden(Message),
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Session-start requirements that are not met.
    #[error("the session cannot start: {}", .0.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("; "))]
    Requirements(Vec<Unmet>),
    /// The role's trust policy refuses the user (pre-flight by the engine).
    #[error("{0}")]
    TrustPolicy(Message),
    /// The cloud refused or failed.
    #[error("{0}")]
    Cloud(#[from] CloudCallError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// A result of a use case.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who asks, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Platform user id (`system` for the scheduler).
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Administrator.
    pub admin: bool,
    /// Client address.
    pub source: Option<String>,
}

impl Actor {
    /// The scheduler and bootstrap.
    pub fn system() -> Actor {
        Actor {
            user_id: "system".into(),
            username: "system".into(),
            admin: true,
            source: None,
        }
    }
}

/// A new id: a prefix and 16 hex digits.
pub fn new_id(prefix: &str) -> Result<String> {
    let b = random_bytes::<8>()?;
    Ok(format!(
        "{prefix}-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ))
}

/// A strong random password that meets AWS's password policies (upper, lower, digit, symbol).
pub fn strong_password() -> Result<Secret> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#%^*-_=+";
    let bytes = random_bytes::<28>()?;
    let body: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    Ok(Secret::new(format!("{body}Aa9!")))
}

fn hash_password(password: &str) -> Result<String> {
    let salt = random_bytes::<16>()?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Vault(VaultError::Random(format!("hashing a password failed: {e}"))))
}

/// An Argon2id hash of a random password, verified against when a username is unknown.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let p = strong_password()
            .map(|p| p.expose().to_string())
            .unwrap_or_default();
        hash_password(&p).unwrap_or_default()
    })
}

fn verify_password(hash: &str, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

fn token_hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn not_found(kind: &'static str, id: &str) -> Error {
    Error::NotFound {
        kind,
        id: id.to_string(),
    }
}

// ---- inputs ----

/// A new platform user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Full name.
    pub name: String,
    /// Username.
    pub username: String,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Password (12+ characters).
    pub password: String,
    /// Administrator.
    #[serde(default)]
    pub admin: bool,
}

/// Changes to a platform user (absent = unchanged; `email: null` removes it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Full name.
    pub name: Option<String>,
    /// E-mail (`Some(None)` removes it).
    #[serde(default, with = "double_option")]
    pub email: Option<Option<String>>,
    /// Password.
    pub password: Option<String>,
    /// Administrator (admins only).
    pub admin: Option<bool>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// A platform user as shown (no hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Username.
    pub username: String,
    /// E-mail.
    pub email: Option<String>,
    /// Administrator.
    pub admin: bool,
    /// Permissions from access groups.
    pub permissions: Vec<Permission>,
    /// Created.
    pub created: i64,
}

/// An access group to create or replace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Members (user ids or usernames).
    #[serde(default)]
    pub members: Vec<String>,
    /// Permissions.
    #[serde(default)]
    pub permissions: Vec<Permission>,
}

/// A cloud account to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// Name.
    pub name: String,
    /// Endpoint URL (absent or empty = real AWS).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Region.
    #[serde(default = "default_region")]
    pub region: String,
    /// Management access key id.
    pub access_key_id: String,
    /// Management secret access key.
    pub secret_access_key: Secret,
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

fn default_region() -> String {
    "us-east-1".into()
}

/// A cloud IAM user to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCloudUser {
    /// The account id.
    pub account_id: String,
    /// The platform user (id or username).
    pub owner: String,
    /// The IAM user name (default: the owner's username).
    #[serde(default)]
    pub name: Option<String>,
    /// Managed policy ARNs (at most 10).
    #[serde(default)]
    pub policies: Vec<String>,
    /// TTL in seconds (300–86400).
    #[serde(default)]
    pub ttl: Option<i64>,
}

/// A credential to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    /// The cloud IAM user.
    pub cloud_user_id: String,
    /// TTL in seconds (300–86400).
    #[serde(default)]
    pub ttl: Option<i64>,
}

/// A credential as shown.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CredentialView {
    /// Id.
    pub id: String,
    /// The cloud IAM user.
    pub cloud_user_id: String,
    /// Access key id.
    pub access_key_id: String,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// Created.
    pub created: i64,
}

impl From<&Credential> for CredentialView {
    fn from(c: &Credential) -> CredentialView {
        CredentialView {
            id: c.id.clone(),
            cloud_user_id: c.cloud_user_id.clone(),
            access_key_id: c.access_key_id.clone(),
            expires_at: c.expires_at,
            created: c.created,
        }
    }
}

/// A credential just created: the secret is shown this once.
#[derive(Debug, Clone)]
pub struct CreatedCredential {
    /// The credential.
    pub credential: CredentialView,
    /// The secret access key.
    pub secret_access_key: Secret,
}

/// JIT settings as edited (Cloud IAM ➔ Settings ➔ JIT Access).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JitInput {
    /// Active.
    pub active: bool,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// JIT Enabled.
    pub jit_enabled: bool,
    /// Maximum session Duration (seconds).
    pub duration: i64,
    /// Roles (names or ARNs).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A session start request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartSession {
    /// Console or JIT.
    pub kind: SessionKind,
    /// The cloud IAM user.
    pub cloud_user_id: String,
    /// The role (JIT).
    #[serde(default)]
    pub role: Option<String>,
    /// The duration (default: the JIT settings' Duration, or 3600 for console).
    #[serde(default)]
    pub duration: Option<i64>,
}

/// A session as shown (no secrets).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SessionView {
    /// Id (the SourceIdentity).
    pub id: String,
    /// Kind.
    pub kind: SessionKind,
    /// Platform user id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Cloud user.
    pub cloud_user_id: String,
    /// Account.
    pub account_id: String,
    /// Role ARN.
    pub role_arn: Option<String>,
    /// Duration.
    pub duration: i64,
    /// Started.
    pub started: i64,
    /// Expires.
    pub expires_at: i64,
    /// Status.
    pub status: SessionStatus,
    /// Ended.
    pub ended_at: Option<i64>,
    /// Dropped by.
    pub ended_by: Option<String>,
    /// Access key id of the JIT credentials.
    pub access_key_id: Option<String>,
    /// Access key id of the session's gateway credentials (JIT).
    pub gateway_access_key_id: Option<String>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> SessionView {
        SessionView {
            id: s.id.clone(),
            kind: s.kind,
            user_id: s.user_id.clone(),
            username: s.username.clone(),
            cloud_user_id: s.cloud_user_id.clone(),
            account_id: s.account_id.clone(),
            role_arn: s.role_arn.clone(),
            duration: s.duration,
            started: s.started,
            expires_at: s.expires_at,
            status: s.status,
            ended_at: s.ended_at,
            ended_by: s.ended_by.clone(),
            access_key_id: s.credentials.as_ref().map(|c| c.access_key_id.clone()),
            gateway_access_key_id: s.gateway.as_ref().map(|g| g.access_key_id.clone()),
        }
    }
}

/// Temporary credentials given once at a JIT start.
#[derive(Debug, Clone)]
pub struct SessionSecrets {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// Session token.
    pub session_token: Secret,
    /// Expiration.
    pub expiration: i64,
}

/// A session just started.
#[derive(Debug, Clone)]
pub struct Started {
    /// The session.
    pub session: SessionView,
    /// The JIT credentials (JIT only).
    pub credentials: Option<SessionSecrets>,
    /// The gateway credentials (JIT only).
    pub gateway: Option<crate::gateway::GatewaySecrets>,
}

/// A cloud account as shown (no secret).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccountView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Provider.
    pub provider: String,
    /// Endpoint.
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Management key id.
    pub access_key_id: String,
    /// AWS account id.
    pub aws_account_id: Option<String>,
    /// Status.
    pub status: AccountStatus,
    /// Why unreachable.
    pub status_message: Option<String>,
}

impl From<&CloudAccount> for AccountView {
    fn from(a: &CloudAccount) -> AccountView {
        AccountView {
            id: a.id.clone(),
            name: a.name.clone(),
            provider: a.provider.clone(),
            endpoint: a.endpoint.clone(),
            region: a.region.clone(),
            access_key_id: a.access_key_id.clone(),
            aws_account_id: a.aws_account_id.clone(),
            status: a.status,
            status_message: a.status_message.clone(),
        }
    }
}

/// A cloud IAM user as shown (no password).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CloudUserView {
    /// Id.
    pub id: String,
    /// Account.
    pub account_id: String,
    /// Owner.
    pub owner: Option<String>,
    /// IAM name.
    pub name: String,
    /// ARN.
    pub arn: Option<String>,
    /// Origin.
    pub origin: Origin,
    /// Status.
    pub status: CloudUserStatus,
    /// Policies.
    pub policies: Vec<String>,
    /// TTL.
    pub ttl: Option<i64>,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// Created.
    pub created: i64,
}

impl From<&CloudUser> for CloudUserView {
    fn from(u: &CloudUser) -> CloudUserView {
        CloudUserView {
            id: u.id.clone(),
            account_id: u.account_id.clone(),
            owner: u.owner.clone(),
            name: u.name.clone(),
            arn: u.arn.clone(),
            origin: u.origin,
            status: u.status,
            policies: u.policies.clone(),
            ttl: u.ttl,
            expires_at: u.expires_at,
            last_error: u.last_error.clone(),
            created: u.created,
        }
    }
}

// ---- the service ----

/// The access manager.
pub struct Manager {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) vault: Vault,
    cloud: Arc<dyn CloudConnector>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) write: tokio::sync::Mutex<()>,
    running: Mutex<HashSet<String>>,
    /// Told when sessions start and end (the recorder, the gateways).
    pub(crate) observers: std::sync::RwLock<Vec<Arc<dyn crate::gateway::SessionObserver>>>,
    /// The API gateway's endpoint, once one serves (see [`Manager::set_gateway_endpoint`]).
    pub(crate) gateway_endpoint: std::sync::RwLock<Option<String>>,
}

/// A write section: releases the store's lock, then this process's.
struct WriteGuard<'a> {
    store: &'a dyn Store,
    _local: tokio::sync::MutexGuard<'a, ()>,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.store.unlock_writes() {
            eprintln!("porteiro: cannot release the store's write lock: {e}");
        }
    }
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager over its ports.
    pub fn new(
        store: Arc<dyn Store>,
        vault: Vault,
        cloud: Arc<dyn CloudConnector>,
        clock: Arc<dyn Clock>,
    ) -> Manager {
        Manager {
            store,
            vault,
            cloud,
            clock,
            write: tokio::sync::Mutex::new(()),
            running: Mutex::new(HashSet::new()),
            observers: std::sync::RwLock::new(Vec::new()),
            gateway_endpoint: std::sync::RwLock::new(None),
        }
    }

    /// Enters a write section: this process's lock, then the store's (shared by every
    /// Porteiro over the same database), both held until the guard drops.
    async fn write_lock(&self) -> Result<WriteGuard<'_>> {
        let local = self.write.lock().await;
        let mut wait = std::time::Duration::from_millis(2);
        while !self.store.try_lock_writes()? {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_millis(50));
        }
        Ok(WriteGuard {
            store: &*self.store,
            _local: local,
        })
    }

    /// Now, by the manager's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    fn event(
        &self,
        actor: &Actor,
        action: &str,
        entity: &str,
        id: &str,
        old: Option<serde_json::Value>,
        new: Option<serde_json::Value>,
    ) -> AuditEvent {
        AuditEvent {
            seq: 0,
            at: self.now(),
            actor: actor.username.clone(),
            source: actor.source.clone(),
            action: action.to_string(),
            entity: entity.to_string(),
            entity_id: id.to_string(),
            old,
            new,
        }
    }

    /// The permissions the user's access groups grant.
    pub fn permissions_of(&self, user_id: &str) -> Result<BTreeSet<Permission>> {
        let groups: Vec<AccessGroup> = self.store.list()?;
        Ok(groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == user_id))
            .flat_map(|g| g.permissions.iter().copied())
            .collect())
    }

    fn require(&self, actor: &Actor, permission: Permission) -> Result<()> {
        if actor.admin || self.permissions_of(&actor.user_id)?.contains(&permission) {
            return Ok(());
        }
        Err(Error::Forbidden(Message::new(
            "needs_permission",
            vec![actor.username.clone(), permission.as_str().to_string()],
            format!(
                "{} may not do this: it needs an administrator, or an access group with the permission \"{}\"",
                actor.username,
                permission.label()
            ),
        )))
    }

    /// `kind` names what only administrators may do (`admin_only_…`); `what` words it.
    fn require_admin(&self, actor: &Actor, kind: &'static str, what: &str) -> Result<()> {
        if actor.admin {
            Ok(())
        } else {
            Err(Error::Forbidden(Message::new(
                kind,
                Vec::new(),
                format!("only administrators may {what}: ask one"),
            )))
        }
    }

    fn commit(&self, batch: &Batch) -> Result<()> {
        Ok(self.store.commit(batch)?)
    }

    fn get<T: Entity>(&self, kind: &'static str, id: &str) -> Result<T> {
        self.store.get::<T>(id)?.ok_or_else(|| not_found(kind, id))
    }

    // ---- platform users and login ----

    fn user_view(&self, u: &PlatformUser) -> Result<UserView> {
        Ok(UserView {
            id: u.id.clone(),
            name: u.name.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            admin: u.admin,
            permissions: self.permissions_of(&u.id)?.into_iter().collect(),
            created: u.created,
        })
    }

    /// Creates the first administrator when there is no user yet. Returns whether it did.
    pub async fn bootstrap_admin(&self, username: &str, password: &Secret) -> Result<bool> {
        let _w = self.write_lock().await?;
        if !self.store.list::<PlatformUser>()?.is_empty() {
            return Ok(false);
        }
        rules::check_username(username)?;
        rules::check_password(password.expose())?;
        let now = self.now();
        let user = PlatformUser {
            id: new_id("u")?,
            name: "Administrator".into(),
            username: username.into(),
            email: None,
            password_hash: hash_password(password.expose())?,
            admin: true,
            created: now,
            updated: now,
        };
        let mut b = Batch::new();
        b.put(&user)?;
        b.audit(self.event(
            &Actor::system(),
            "user.create",
            "user",
            &user.id,
            None,
            audit_value(&user),
        ));
        self.commit(&b)?;
        Ok(true)
    }

    /// Logs in: an API token (shown once; only its hash is stored).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        source: Option<String>,
    ) -> Result<(Secret, UserView)> {
        let users: Vec<PlatformUser> = self.store.list()?;
        let user = users.iter().find(|u| u.username == username);
        // An unknown username costs the same Argon2id verification as a wrong password.
        let ok = match user {
            Some(u) => verify_password(&u.password_hash, password),
            None => {
                let _ = verify_password(dummy_hash(), password);
                false
            }
        };
        let Some(user) = user.filter(|_| ok) else {
            let mut b = Batch::new();
            let who = Actor {
                user_id: String::new(),
                username: username.chars().take(64).collect(),
                admin: false,
                source,
            };
            b.audit(self.event(&who, "user.login_failed", "user", &who.username, None, None));
            self.commit(&b)?;
            return Err(Error::Unauthenticated("wrong username or password".into()));
        };
        let raw = random_bytes::<32>()?;
        let token = format!(
            "pt_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        let now = self.now();
        let t = ApiToken {
            id: token_hash(&token),
            user_id: user.id.clone(),
            created: now,
            expires_at: now + TOKEN_SECONDS,
        };
        let actor = Actor {
            user_id: user.id.clone(),
            username: user.username.clone(),
            admin: user.admin,
            source,
        };
        let mut b = Batch::new();
        b.put(&t)?;
        b.audit(self.event(&actor, "user.login", "user", &user.id, None, None));
        self.commit(&b)?;
        Ok((Secret::new(token), self.user_view(user)?))
    }

    /// The actor behind an API token.
    pub fn authenticate(&self, token: &str, source: Option<String>) -> Result<Actor> {
        let bad = || Error::Unauthenticated("the API token is unknown or expired: log in again".into());
        let t: ApiToken = self.store.get(&token_hash(token))?.ok_or_else(bad)?;
        if t.expires_at <= self.now() {
            return Err(bad());
        }
        let u: PlatformUser = self.store.get(&t.user_id)?.ok_or_else(bad)?;
        Ok(Actor {
            user_id: u.id,
            username: u.username,
            admin: u.admin,
            source,
        })
    }

    /// Ends a token.
    pub async fn logout(&self, token: &str) -> Result<()> {
        let mut b = Batch::new();
        b.delete::<ApiToken>(&token_hash(token));
        self.commit(&b)
    }

    fn find_user(&self, id_or_username: &str) -> Result<PlatformUser> {
        if let Some(u) = self.store.get::<PlatformUser>(id_or_username)? {
            return Ok(u);
        }
        self.store
            .list::<PlatformUser>()?
            .into_iter()
            .find(|u| u.username == id_or_username)
            .ok_or_else(|| not_found("user", id_or_username))
    }

    /// Creates a platform user (administrators).
    pub async fn create_user(&self, actor: &Actor, input: NewUser) -> Result<UserView> {
        self.require_admin(actor, "admin_only_create_users", "create platform users")?;
        rules::check_text("name", &input.name, 128)?;
        if input.name.trim().is_empty() {
            return Err(Invalid::keyed(
                "name",
                "person_name_empty",
                Vec::new(),
                "is empty: give the person's name",
            )
            .into());
        }
        rules::check_username(&input.username)?;
        if let Some(e) = &input.email {
            rules::check_email(e)?;
        }
        rules::check_password(&input.password)?;
        let _w = self.write_lock().await?;
        if self
            .store
            .list::<PlatformUser>()?
            .iter()
            .any(|u| u.username == input.username)
        {
            return Err(Error::Conflict(Message::new(
                "username_taken",
                vec![input.username.clone()],
                format!("username {} is taken: choose another", input.username),
            )));
        }
        let now = self.now();
        let user = PlatformUser {
            id: new_id("u")?,
            name: input.name,
            username: input.username,
            email: input.email,
            password_hash: hash_password(&input.password)?,
            admin: input.admin,
            created: now,
            updated: now,
        };
        let mut b = Batch::new();
        b.put(&user)?;
        b.audit(self.event(actor, "user.create", "user", &user.id, None, audit_value(&user)));
        self.commit(&b)?;
        self.user_view(&user)
    }

    /// Changes a platform user (administrators; users may change their own name, e-mail and
    /// password).
    pub async fn update_user(&self, actor: &Actor, id: &str, patch: UserPatch) -> Result<UserView> {
        let _w = self.write_lock().await?;
        let old = self.find_user(id)?;
        if !actor.admin && (actor.user_id != old.id || patch.admin.is_some()) {
            return Err(Error::Forbidden(Message::new(
                "admin_only_change_users",
                Vec::new(),
                "only administrators may change other users or the administrator flag",
            )));
        }
        let mut user = old.clone();
        if let Some(n) = patch.name {
            rules::check_text("name", &n, 128)?;
            user.name = n;
        }
        if let Some(e) = patch.email {
            if let Some(e) = &e {
                rules::check_email(e)?;
            }
            user.email = e;
        }
        if let Some(p) = patch.password {
            rules::check_password(&p)?;
            user.password_hash = hash_password(&p)?;
        }
        if let Some(a) = patch.admin {
            if !a && old.id == actor.user_id {
                return Err(Invalid::keyed(
                    "admin",
                    "admin_self",
                    Vec::new(),
                    "you cannot remove your own administrator flag",
                )
                .into());
            }
            user.admin = a;
        }
        user.updated = self.now();
        let mut b = Batch::new();
        b.put(&user)?;
        if user.password_hash != old.password_hash {
            // A new password ends every API token of the old one.
            for t in self.store.list::<ApiToken>()? {
                if t.user_id == user.id {
                    b.delete::<ApiToken>(&t.id);
                }
            }
        }
        b.audit(self.event(
            actor,
            "user.update",
            "user",
            &user.id,
            audit_value(&old),
            audit_value(&user),
        ));
        self.commit(&b)?;
        self.user_view(&user)
    }

    /// Deletes a platform user (administrators): removed from its groups, its tokens ended.
    pub async fn delete_user(&self, actor: &Actor, id: &str) -> Result<()> {
        self.require_admin(actor, "admin_only_delete_users", "delete platform users")?;
        let _w = self.write_lock().await?;
        let user = self.find_user(id)?;
        if user.id == actor.user_id {
            return Err(Error::Conflict(Message::new(
                "delete_self",
                Vec::new(),
                "you cannot delete yourself: ask another administrator",
            )));
        }
        let owned: Vec<CloudUser> = self.store.list()?;
        if let Some(c) = owned.iter().find(|c| {
            c.owner.as_deref() == Some(&user.id)
                && !matches!(
                    c.status,
                    CloudUserStatus::Unprovisioned | CloudUserStatus::Imported
                )
        }) {
            return Err(Error::Conflict(Message::new(
                "user_owns_cloud_user",
                vec![user.username.clone(), c.name.clone(), c.id.clone()],
                format!(
                    "user {} owns cloud IAM user {} ({}): delete it first",
                    user.username, c.name, c.id
                ),
            )));
        }
        let mut b = Batch::new();
        for mut g in self.store.list::<AccessGroup>()? {
            if g.members.contains(&user.id) {
                let old = g.clone();
                g.members.retain(|m| *m != user.id);
                b.put(&g)?;
                b.audit(self.event(
                    actor,
                    "group.update",
                    "group",
                    &g.id,
                    audit_value(&old),
                    audit_value(&g),
                ));
            }
        }
        for t in self.store.list::<ApiToken>()? {
            if t.user_id == user.id {
                b.delete::<ApiToken>(&t.id);
            }
        }
        b.delete::<PlatformUser>(&user.id);
        b.audit(self.event(actor, "user.delete", "user", &user.id, audit_value(&user), None));
        self.commit(&b)
    }

    /// Platform users (administrators see all; others themselves).
    pub fn list_users(&self, actor: &Actor) -> Result<Vec<UserView>> {
        self.store
            .list::<PlatformUser>()?
            .iter()
            .filter(|u| actor.admin || u.id == actor.user_id)
            .map(|u| self.user_view(u))
            .collect()
    }

    /// One platform user (administrators, or oneself).
    pub fn get_user(&self, actor: &Actor, id: &str) -> Result<UserView> {
        let u = self.find_user(id)?;
        if !actor.admin && u.id != actor.user_id {
            return Err(Error::Forbidden(Message::new(
                "admin_only_see_users",
                Vec::new(),
                "only administrators may see other users",
            )));
        }
        self.user_view(&u)
    }

    // ---- access groups ----

    fn check_group(&self, input: &GroupInput) -> Result<Vec<String>> {
        rules::check_text("name", &input.name, 128)?;
        if input.name.trim().is_empty() {
            return Err(
                Invalid::keyed("name", "group_name_empty", Vec::new(), "is empty: name the group").into(),
            );
        }
        rules::check_text("description", &input.description, 1000)?;
        let mut members = Vec::new();
        for m in &input.members {
            let u = self.find_user(m).map_err(|_| {
                Invalid::keyed(
                    "members",
                    "member_missing",
                    vec![m.clone()],
                    format!("user {m} does not exist"),
                )
            })?;
            if !members.contains(&u.id) {
                members.push(u.id);
            }
        }
        Ok(members)
    }

    /// Creates an access group (administrators).
    pub async fn create_group(&self, actor: &Actor, input: GroupInput) -> Result<AccessGroup> {
        self.require_admin(actor, "admin_only_groups", "manage access groups")?;
        let _w = self.write_lock().await?;
        let members = self.check_group(&input)?;
        if self
            .store
            .list::<AccessGroup>()?
            .iter()
            .any(|g| g.name == input.name)
        {
            return Err(Error::Conflict(Message::new(
                "group_exists",
                vec![input.name.clone()],
                format!("access group {} exists: choose another name", input.name),
            )));
        }
        let now = self.now();
        let mut permissions = input.permissions.clone();
        permissions.sort();
        permissions.dedup();
        let g = AccessGroup {
            id: new_id("g")?,
            name: input.name,
            description: input.description,
            members,
            permissions,
            created: now,
            updated: now,
        };
        let mut b = Batch::new();
        b.put(&g)?;
        b.audit(self.event(actor, "group.create", "group", &g.id, None, audit_value(&g)));
        self.commit(&b)?;
        Ok(g)
    }

    /// Replaces an access group (administrators).
    pub async fn update_group(&self, actor: &Actor, id: &str, input: GroupInput) -> Result<AccessGroup> {
        self.require_admin(actor, "admin_only_groups", "manage access groups")?;
        let _w = self.write_lock().await?;
        let old: AccessGroup = self.get("group", id)?;
        let members = self.check_group(&input)?;
        if self
            .store
            .list::<AccessGroup>()?
            .iter()
            .any(|g| g.name == input.name && g.id != id)
        {
            return Err(Error::Conflict(Message::new(
                "group_exists",
                vec![input.name.clone()],
                format!("access group {} exists: choose another name", input.name),
            )));
        }
        let mut permissions = input.permissions.clone();
        permissions.sort();
        permissions.dedup();
        let g = AccessGroup {
            name: input.name,
            description: input.description,
            members,
            permissions,
            updated: self.now(),
            ..old.clone()
        };
        let mut b = Batch::new();
        b.put(&g)?;
        b.audit(self.event(
            actor,
            "group.update",
            "group",
            &g.id,
            audit_value(&old),
            audit_value(&g),
        ));
        self.commit(&b)?;
        Ok(g)
    }

    /// Deletes an access group (administrators).
    pub async fn delete_group(&self, actor: &Actor, id: &str) -> Result<()> {
        self.require_admin(actor, "admin_only_groups", "manage access groups")?;
        let _w = self.write_lock().await?;
        let old: AccessGroup = self.get("group", id)?;
        let mut b = Batch::new();
        b.delete::<AccessGroup>(id);
        b.audit(self.event(actor, "group.delete", "group", id, audit_value(&old), None));
        self.commit(&b)
    }

    /// Access groups.
    pub fn list_groups(&self, _actor: &Actor) -> Result<Vec<AccessGroup>> {
        Ok(self.store.list()?)
    }

    // ---- cloud accounts ----

    fn target(&self, a: &CloudAccount) -> Result<Target> {
        Ok(Target {
            endpoint: a.endpoint.clone(),
            region: a.region.clone(),
            access_key_id: a.access_key_id.clone(),
            secret: self.vault.open(&a.secret)?,
            session_token: None,
        })
    }

    /// Creates a cloud account and checks it with GetCallerIdentity (status Connectable or
    /// Unreachable with the reason).
    pub async fn create_account(&self, actor: &Actor, input: NewAccount) -> Result<AccountView> {
        self.require(actor, Permission::CreateEditAccounts)?;
        rules::check_text("name", &input.name, 128)?;
        if input.name.trim().is_empty() {
            return Err(Invalid::keyed(
                "name",
                "account_name_empty",
                Vec::new(),
                "is empty: name the account",
            )
            .into());
        }
        let endpoint = input.endpoint.filter(|e| !e.trim().is_empty());
        if let Some(e) = &endpoint
            && (!(e.starts_with("http://") || e.starts_with("https://")) || e.len() > 512 || e.contains(' '))
        {
            return Err(Invalid::keyed(
                "endpoint",
                "endpoint_not_url",
                vec![e.clone()],
                format!("`{e}` is not an http:// or https:// URL (leave it empty for AWS itself)"),
            )
            .into());
        }
        if !(1..=32).contains(&input.region.len())
            || !input
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Invalid::keyed(
                "region",
                "region_invalid",
                vec![input.region.clone()],
                format!("`{}` is not a region such as us-east-1", input.region),
            )
            .into());
        }
        if !(16..=128).contains(&input.access_key_id.len())
            || !input.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Invalid::keyed(
                "access_key_id",
                "access_key_id_invalid",
                Vec::new(),
                "use the 16 to 128 letters and digits of an access key id",
            )
            .into());
        }
        if !(1..=256).contains(&input.secret_access_key.expose().len()) {
            return Err(Invalid::keyed(
                "secret_access_key",
                "secret_invalid",
                Vec::new(),
                "is empty or longer than 256 characters",
            )
            .into());
        }
        let now = self.now();
        let mut account = CloudAccount {
            id: new_id("a")?,
            name: input.name,
            provider: "aws".into(),
            endpoint,
            region: input.region,
            access_key_id: input.access_key_id,
            secret: self.vault.seal(input.secret_access_key.expose())?,
            aws_account_id: None,
            caller_arn: None,
            status: AccountStatus::Unreachable,
            status_message: None,
            created: now,
            updated: now,
        };
        self.check_account(&mut account).await?;
        let _w = self.write_lock().await?;
        if self
            .store
            .list::<CloudAccount>()?
            .iter()
            .any(|a| a.name == account.name)
        {
            return Err(Error::Conflict(Message::new(
                "account_exists",
                vec![account.name.clone()],
                format!("account {} exists: choose another name", account.name),
            )));
        }
        let mut b = Batch::new();
        b.put(&account)?;
        b.audit(self.event(
            actor,
            "account.create",
            "account",
            &account.id,
            None,
            audit_value(&account),
        ));
        self.commit(&b)?;
        Ok(AccountView::from(&account))
    }

    async fn check_account(&self, account: &mut CloudAccount) -> Result<()> {
        let target = self.target(account)?;
        match self.cloud.caller_identity(&target).await {
            Ok(id) => {
                account.aws_account_id = Some(id.account);
                account.caller_arn = Some(id.arn);
                account.status = AccountStatus::Connectable;
                account.status_message = None;
            }
            Err(e) => {
                account.status = AccountStatus::Unreachable;
                account.status_message = Some(e.to_string());
            }
        }
        Ok(())
    }

    /// Checks an account again (GetCallerIdentity) and records its status.
    pub async fn recheck_account(&self, actor: &Actor, id: &str) -> Result<AccountView> {
        self.require(actor, Permission::CreateEditAccounts)?;
        let old: CloudAccount = self.get("account", id)?;
        let mut a = old.clone();
        self.check_account(&mut a).await?;
        a.updated = self.now();
        let _w = self.write_lock().await?;
        let mut b = Batch::new();
        b.put(&a)?;
        b.audit(self.event(
            actor,
            "account.check",
            "account",
            id,
            audit_value(&old),
            audit_value(&a),
        ));
        self.commit(&b)?;
        Ok(AccountView::from(&a))
    }

    /// Deletes an account that has no cloud IAM users left in it.
    pub async fn delete_account(&self, actor: &Actor, id: &str) -> Result<()> {
        self.require(actor, Permission::DeleteAccounts)?;
        let _w = self.write_lock().await?;
        let old: CloudAccount = self.get("account", id)?;
        let users: Vec<CloudUser> = self.store.list()?;
        if let Some(u) = users.iter().find(|u| {
            u.account_id == id
                && !matches!(
                    u.status,
                    CloudUserStatus::Unprovisioned | CloudUserStatus::Imported
                )
        }) {
            return Err(Error::Conflict(Message::new(
                "account_has_users",
                vec![old.name.clone(), u.name.clone(), u.id.clone()],
                format!(
                    "account {} still has cloud IAM user {} ({}): delete its users first",
                    old.name, u.name, u.id
                ),
            )));
        }
        let mut b = Batch::new();
        b.delete::<CloudAccount>(id);
        b.delete::<JitSettings>(id);
        for u in users.iter().filter(|u| u.account_id == id) {
            b.delete::<CloudUser>(&u.id);
        }
        b.audit(self.event(actor, "account.delete", "account", id, audit_value(&old), None));
        self.commit(&b)
    }

    /// Accounts.
    pub fn list_accounts(&self, _actor: &Actor) -> Result<Vec<AccountView>> {
        Ok(self
            .store
            .list::<CloudAccount>()?
            .iter()
            .map(AccountView::from)
            .collect())
    }

    /// One account.
    pub fn get_account(&self, _actor: &Actor, id: &str) -> Result<AccountView> {
        Ok(AccountView::from(&self.get::<CloudAccount>("account", id)?))
    }

    // ---- cloud IAM users ----

    /// Creates a cloud IAM user through Porteiro: recorded Pending, then provisioned by a
    /// durable job (run at once; retried by the scheduler when it fails).
    pub async fn create_cloud_user(&self, actor: &Actor, input: NewCloudUser) -> Result<CloudUserView> {
        self.require(actor, Permission::CreateEditUsers)?;
        let account: CloudAccount = self.store.get(&input.account_id)?.ok_or_else(|| {
            Invalid::keyed(
                "account_id",
                "account_missing",
                vec![input.account_id.clone()],
                format!("account {} does not exist", input.account_id),
            )
        })?;
        let owner = self.find_user(&input.owner).map_err(|_| {
            Invalid::keyed(
                "owner",
                "owner_missing",
                vec![input.owner.clone()],
                format!("platform user {} does not exist", input.owner),
            )
        })?;
        let name = input.name.clone().unwrap_or_else(|| owner.username.clone());
        rules::check_iam_name("name", &name)?;
        rules::check_policies(&input.policies)?;
        if let Some(ttl) = input.ttl {
            rules::check_ttl("ttl", ttl)?;
        }
        match self.cloud.get_user(&self.target(&account)?, &name).await {
            Ok(_) => {
                return Err(Error::Conflict(Message::new(
                    "iam_user_exists",
                    vec![name.to_string(), account.name.clone()],
                    format!(
                        "an IAM user named {name} already exists in account {}: import it (it then cannot start sessions), or choose another name",
                        account.name
                    ),
                )));
            }
            Err(e) if e.is_not_found() => {}
            // Unreachable now: record the user anyway; its job retries.
            Err(_) => {}
        }
        let job_id;
        let id;
        {
            let _w = self.write_lock().await?;
            let users: Vec<CloudUser> = self.store.list()?;
            if users.iter().any(|u| {
                u.account_id == account.id && u.name == name && u.status != CloudUserStatus::Unprovisioned
            }) {
                return Err(Error::Conflict(Message::new(
                    "cloud_user_exists",
                    vec![account.name.clone(), name.to_string()],
                    format!(
                        "account {} already has a cloud IAM user named {name}: choose another name",
                        account.name
                    ),
                )));
            }
            let now = self.now();
            let user = CloudUser {
                id: new_id("cu")?,
                account_id: account.id.clone(),
                owner: Some(owner.id.clone()),
                name,
                arn: None,
                origin: Origin::Created,
                status: CloudUserStatus::Pending,
                policies: input.policies,
                ttl: input.ttl,
                expires_at: input.ttl.map(|t| now + t),
                password: Some(self.vault.seal(strong_password()?.expose())?),
                last_error: None,
                created: now,
                updated: now,
            };
            let job = self.new_job(
                JobKind::ProvisionUser {
                    cloud_user_id: user.id.clone(),
                },
                now,
            )?;
            let mut b = Batch::new();
            b.put(&user)?.put(&job)?;
            b.audit(self.event(
                actor,
                "cloud_user.create",
                "cloud_user",
                &user.id,
                None,
                audit_value(&user),
            ));
            self.commit(&b)?;
            job_id = job.id;
            id = user.id;
        }
        self.run_job_by_id(&job_id).await?;
        Ok(CloudUserView::from(&self.get::<CloudUser>("cloud_user", &id)?))
    }

    /// Imports the account's IAM users that Porteiro does not know (status Imported).
    pub async fn import_cloud_users(&self, actor: &Actor, account_id: &str) -> Result<Vec<CloudUserView>> {
        self.require(actor, Permission::CreateEditUsers)?;
        let account: CloudAccount = self.get("account", account_id)?;
        let listed = self.cloud.list_users(&self.target(&account)?).await?;
        let _w = self.write_lock().await?;
        let known: Vec<CloudUser> = self.store.list()?;
        let now = self.now();
        let mut b = Batch::new();
        let mut out = Vec::new();
        for u in listed {
            if known.iter().any(|k| {
                k.account_id == account.id && k.name == u.name && k.status != CloudUserStatus::Unprovisioned
            }) {
                continue;
            }
            let c = CloudUser {
                id: new_id("cu")?,
                account_id: account.id.clone(),
                owner: None,
                name: u.name,
                arn: Some(u.arn),
                origin: Origin::Imported,
                status: CloudUserStatus::Imported,
                policies: vec![],
                ttl: None,
                expires_at: None,
                password: None,
                last_error: None,
                created: now,
                updated: now,
            };
            b.put(&c)?;
            b.audit(self.event(
                actor,
                "cloud_user.import",
                "cloud_user",
                &c.id,
                None,
                audit_value(&c),
            ));
            out.push(CloudUserView::from(&c));
        }
        self.commit(&b)?;
        Ok(out)
    }

    /// Deletes a cloud IAM user: one created through Porteiro is removed from the cloud by a
    /// job (AWS's order); an imported one is only forgotten.
    pub async fn delete_cloud_user(&self, actor: &Actor, id: &str) -> Result<CloudUserView> {
        self.require(actor, Permission::DeleteUsers)?;
        let job_id = {
            let _w = self.write_lock().await?;
            let old: CloudUser = self.get("cloud_user", id)?;
            let mut b = Batch::new();
            if old.origin == Origin::Imported {
                b.delete::<CloudUser>(id);
                b.audit(self.event(
                    actor,
                    "cloud_user.forget",
                    "cloud_user",
                    id,
                    audit_value(&old),
                    None,
                ));
                self.commit(&b)?;
                return Ok(CloudUserView::from(&old));
            }
            if old.status == CloudUserStatus::Unprovisioned {
                return Ok(CloudUserView::from(&old));
            }
            let mut u = old.clone();
            u.status = CloudUserStatus::Unprovisioning;
            u.updated = self.now();
            let job = self.new_job(
                JobKind::RemoveUser {
                    cloud_user_id: id.into(),
                },
                self.now(),
            )?;
            b.put(&u)?.put(&job)?;
            b.audit(self.event(
                actor,
                "cloud_user.delete",
                "cloud_user",
                id,
                audit_value(&old),
                audit_value(&u),
            ));
            self.commit(&b)?;
            job.id
        };
        self.run_job_by_id(&job_id).await?;
        Ok(CloudUserView::from(&self.get::<CloudUser>("cloud_user", id)?))
    }

    /// Cloud IAM users.
    /// Administrators and managers of users or credentials see every cloud IAM user; others
    /// their own.
    pub fn list_cloud_users(&self, actor: &Actor) -> Result<Vec<CloudUserView>> {
        let all = self.sees_all(
            actor,
            &[
                Permission::CreateEditUsers,
                Permission::DeleteUsers,
                Permission::CreateCredentials,
                Permission::DeleteCredentials,
            ],
        )?;
        Ok(self
            .store
            .list::<CloudUser>()?
            .iter()
            .filter(|u| all || u.owner.as_deref() == Some(actor.user_id.as_str()))
            .map(CloudUserView::from)
            .collect())
    }

    fn sees_all(&self, actor: &Actor, any_of: &[Permission]) -> Result<bool> {
        if actor.admin {
            return Ok(true);
        }
        let perms = self.permissions_of(&actor.user_id)?;
        Ok(any_of.iter().any(|p| perms.contains(p)))
    }

    /// One cloud IAM user.
    /// One cloud IAM user (the same visibility as the list).
    pub fn get_cloud_user(&self, actor: &Actor, id: &str) -> Result<CloudUserView> {
        let u: CloudUser = self.get("cloud_user", id)?;
        let all = self.sees_all(
            actor,
            &[
                Permission::CreateEditUsers,
                Permission::DeleteUsers,
                Permission::CreateCredentials,
                Permission::DeleteCredentials,
            ],
        )?;
        if !all && u.owner.as_deref() != Some(actor.user_id.as_str()) {
            return Err(not_found("cloud_user", id));
        }
        Ok(CloudUserView::from(&u))
    }

    // ---- credentials ----

    /// Creates an access key for a cloud IAM user created through Porteiro. The secret is
    /// vaulted and returned this once.
    pub async fn create_credential(&self, actor: &Actor, input: NewCredential) -> Result<CreatedCredential> {
        self.require(actor, Permission::CreateCredentials)?;
        if let Some(ttl) = input.ttl {
            rules::check_ttl("ttl", ttl)?;
        }
        let user: CloudUser = self.store.get(&input.cloud_user_id)?.ok_or_else(|| {
            Invalid::keyed(
                "cloud_user_id",
                "cloud_user_missing",
                vec![input.cloud_user_id.clone()],
                format!("cloud IAM user {} does not exist", input.cloud_user_id),
            )
        })?;
        if user.origin == Origin::Imported {
            return Err(Invalid::keyed(
                "cloud_user_id",
                "cloud_user_imported",
                vec![user.name.clone()],
                format!("cloud IAM user {} was imported: credentials are created only for users created through Porteiro", user.name),
            )
            .into());
        }
        if user.status != CloudUserStatus::Provisioned {
            return Err(Invalid::keyed(
                "cloud_user_id",
                "cloud_user_not_provisioned",
                vec![user.name.clone(), format!("{:?}", user.status)],
                format!(
                    "cloud IAM user {} is {:?}: wait until it is Provisioned",
                    user.name, user.status
                ),
            )
            .into());
        }
        let account: CloudAccount = self.get("account", &user.account_id)?;
        let key = self
            .cloud
            .create_access_key(&self.target(&account)?, &user.name)
            .await?;
        let now = self.now();
        let cred = Credential {
            id: new_id("cr")?,
            cloud_user_id: user.id.clone(),
            access_key_id: key.access_key_id.clone(),
            secret: self.vault.seal(key.secret.expose())?,
            ttl: input.ttl,
            expires_at: input.ttl.map(|t| now + t),
            created: now,
        };
        let _w = self.write_lock().await?;
        let mut b = Batch::new();
        b.put(&cred)?;
        if let Some(at) = cred.expires_at {
            b.put(&self.new_job(
                JobKind::ExpireCredential {
                    credential_id: cred.id.clone(),
                },
                at,
            )?)?;
        }
        b.audit(self.event(
            actor,
            "credential.create",
            "credential",
            &cred.id,
            None,
            audit_value(&cred),
        ));
        self.commit(&b)?;
        Ok(CreatedCredential {
            credential: CredentialView::from(&cred),
            secret_access_key: key.secret,
        })
    }

    /// Deletes a credential (DeleteAccessKey, then the record).
    pub async fn delete_credential(&self, actor: &Actor, id: &str) -> Result<()> {
        self.require(actor, Permission::DeleteCredentials)?;
        self.remove_credential(actor, id).await
    }

    async fn remove_credential(&self, actor: &Actor, id: &str) -> Result<()> {
        let cred: Credential = self.get("credential", id)?;
        if let Some(user) = self.store.get::<CloudUser>(&cred.cloud_user_id)?
            && let Some(account) = self.store.get::<CloudAccount>(&user.account_id)?
        {
            match self
                .cloud
                .delete_access_key(&self.target(&account)?, &user.name, &cred.access_key_id)
                .await
            {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let _w = self.write_lock().await?;
        let mut b = Batch::new();
        b.delete::<Credential>(id);
        b.audit(self.event(
            actor,
            "credential.delete",
            "credential",
            id,
            audit_value(&cred),
            None,
        ));
        self.commit(&b)
    }

    /// Credentials (no secrets).
    /// Administrators and holders of the credential permissions see every credential; others
    /// those of their own cloud IAM users.
    pub fn list_credentials(&self, actor: &Actor) -> Result<Vec<CredentialView>> {
        let all = self.sees_all(
            actor,
            &[Permission::CreateCredentials, Permission::DeleteCredentials],
        )?;
        let own: Vec<String> = if all {
            vec![]
        } else {
            self.store
                .list::<CloudUser>()?
                .into_iter()
                .filter(|u| u.owner.as_deref() == Some(actor.user_id.as_str()))
                .map(|u| u.id)
                .collect()
        };
        Ok(self
            .store
            .list::<Credential>()?
            .iter()
            .filter(|c| all || own.contains(&c.cloud_user_id))
            .map(CredentialView::from)
            .collect())
    }

    // ---- JIT settings ----

    async fn synced_roles(&self, account: &CloudAccount) -> Result<Vec<RoleInfo>> {
        let roles = self.cloud.list_roles(&self.target(account)?).await?;
        Ok(roles
            .into_iter()
            .map(|r| RoleInfo {
                name: r.name,
                arn: r.arn,
                max_session_duration: r.max_session_duration,
                trust_policy: r.trust_policy,
            })
            .collect())
    }

    /// Saves an account's JIT settings: syncs its roles (ListRoles) and checks the Duration
    /// against 900, 43200 and each chosen role's MaxSessionDuration.
    pub async fn put_jit_settings(
        &self,
        actor: &Actor,
        account_id: &str,
        input: JitInput,
    ) -> Result<JitSettings> {
        self.require(actor, Permission::CreateEditAccounts)?;
        let account: CloudAccount = self.get("account", account_id)?;
        rules::check_text("description", &input.description, 1000)?;
        if input.roles.len() > 100 {
            return Err(Invalid::keyed("roles", "roles_too_many", Vec::new(), "more than 100 roles").into());
        }
        let synced = self.synced_roles(&account).await?;
        rules::check_jit_settings(input.duration, &input.roles, &synced)?;
        let _w = self.write_lock().await?;
        let old: Option<JitSettings> = self.store.get(account_id)?;
        let now = self.now();
        let s = JitSettings {
            id: account_id.to_string(),
            active: input.active,
            description: input.description,
            jit_enabled: input.jit_enabled,
            duration: input.duration,
            roles: input
                .roles
                .iter()
                .map(|r| rules::role_name(r).to_string())
                .collect(),
            synced_roles: synced,
            synced_at: now,
            updated: now,
        };
        let mut b = Batch::new();
        b.put(&s)?;
        b.audit(self.event(
            actor,
            if old.is_some() {
                "jit_settings.update"
            } else {
                "jit_settings.create"
            },
            "jit_settings",
            account_id,
            old.as_ref().and_then(audit_value),
            audit_value(&s),
        ));
        self.commit(&b)?;
        Ok(s)
    }

    /// An account's JIT settings.
    pub fn get_jit_settings(&self, _actor: &Actor, account_id: &str) -> Result<JitSettings> {
        self.get("jit_settings", account_id)
    }

    /// Every account's JIT settings.
    pub fn list_jit_settings(&self, _actor: &Actor) -> Result<Vec<JitSettings>> {
        Ok(self.store.list()?)
    }

    /// The account's roles, fresh from ListRoles.
    pub async fn list_roles(&self, actor: &Actor, account_id: &str) -> Result<Vec<RoleInfo>> {
        self.require(actor, Permission::CreateEditAccounts)?;
        let account: CloudAccount = self.get("account", account_id)?;
        self.synced_roles(&account).await
    }

    // ---- sessions ----

    fn gather(
        &self,
        actor: &Actor,
        cloud_user_id: &str,
    ) -> Result<(PlatformUser, CloudUser, CloudAccount, BTreeSet<Permission>, bool)> {
        let cu: CloudUser = self.store.get(cloud_user_id)?.ok_or_else(|| {
            Invalid::keyed(
                "cloud_user_id",
                "cloud_user_missing",
                vec![cloud_user_id.to_string()],
                format!("cloud IAM user {cloud_user_id} does not exist"),
            )
        })?;
        if cu.owner.as_deref() != Some(actor.user_id.as_str()) {
            return Err(Error::Forbidden(Message::new(
                "not_own_cloud_user",
                vec![cu.name.clone(), actor.username.clone()],
                format!(
                    "cloud IAM user {} does not belong to {}: sessions start only as one's own cloud IAM users",
                    cu.name, actor.username
                ),
            )));
        }
        let user: PlatformUser = self.get("user", &actor.user_id)?;
        let account: CloudAccount = self.get("account", &cu.account_id)?;
        let perms = self.permissions_of(&user.id)?;
        let has_credential = self
            .store
            .list::<Credential>()?
            .iter()
            .any(|c| c.cloud_user_id == cu.id);
        Ok((user, cu, account, perms, has_credential))
    }

    /// Starts a console or JIT session with every requirement of the seed checked.
    pub async fn start_session(&self, actor: &Actor, input: StartSession) -> Result<Started> {
        match input.kind {
            SessionKind::Console => {
                self.start_console(actor, &input.cloud_user_id, input.duration)
                    .await
            }
            SessionKind::Jit => {
                self.start_jit(actor, &input.cloud_user_id, input.role.as_deref(), input.duration)
                    .await
            }
        }
    }

    /// Starts a cloud console session (e-mail, created not imported, *start sessions*).
    pub async fn start_console(
        &self,
        actor: &Actor,
        cloud_user_id: &str,
        duration: Option<i64>,
    ) -> Result<Started> {
        let (user, cu, account, perms, has_credential) = self.gather(actor, cloud_user_id)?;
        let facts = StartFacts {
            username: &user.username,
            email: user.email.as_deref(),
            permissions: &perms,
            cloud_user: &cu.name,
            origin: cu.origin,
            status: cu.status,
            has_credential,
            account: &account.name,
        };
        rules::check_console_start(&facts).map_err(Error::Requirements)?;
        let duration = duration.unwrap_or(3600);
        if !(rules::MIN_SESSION_SECONDS..=rules::MAX_SESSION_SECONDS).contains(&duration) {
            return Err(Invalid::keyed(
                "duration",
                "duration_out_of_range",
                vec![
                    duration.to_string(),
                    rules::MIN_SESSION_SECONDS.to_string(),
                    rules::MAX_SESSION_SECONDS.to_string(),
                ],
                format!(
                    "{duration} seconds is outside {}..={} seconds",
                    rules::MIN_SESSION_SECONDS,
                    rules::MAX_SESSION_SECONDS
                ),
            )
            .into());
        }
        let now = self.now();
        let s = Session {
            id: new_id("ps")?,
            kind: SessionKind::Console,
            user_id: user.id.clone(),
            username: user.username.clone(),
            cloud_user_id: cu.id.clone(),
            account_id: account.id.clone(),
            role_arn: None,
            duration,
            started: now,
            expires_at: now + duration,
            status: SessionStatus::Active,
            ended_at: None,
            ended_by: None,
            credentials: None,
            revocation_policy: None,
            revocation_removed: false,
            password_rotated: false,
            gateway: None,
        };
        let job = self.new_job(
            JobKind::EndSession {
                session_id: s.id.clone(),
            },
            s.expires_at,
        )?;
        let _w = self.write_lock().await?;
        let mut b = Batch::new();
        b.put(&s)?.put(&job)?;
        b.audit(self.event(actor, "session.start", "session", &s.id, None, audit_value(&s)));
        self.commit(&b)?;
        drop(_w);
        self.notify_started(&s, actor);
        Ok(Started {
            session: SessionView::from(&s),
            credentials: None,
            gateway: None,
        })
    }

    /// Starts a JIT session: the seed's requirements, then the engine's pre-flight of the
    /// role's trust policy, then AssumeRole with the cloud user's own key (RoleSessionName =
    /// username, SourceIdentity = session id, DurationSeconds = duration).
    pub async fn start_jit(
        &self,
        actor: &Actor,
        cloud_user_id: &str,
        role: Option<&str>,
        duration: Option<i64>,
    ) -> Result<Started> {
        let (user, cu, account, perms, has_credential) = self.gather(actor, cloud_user_id)?;
        let settings: Option<JitSettings> = self.store.get(&account.id)?;
        let facts = StartFacts {
            username: &user.username,
            email: user.email.as_deref(),
            permissions: &perms,
            cloud_user: &cu.name,
            origin: cu.origin,
            status: cu.status,
            has_credential,
            account: &account.name,
        };
        let plan = rules::check_jit_start(
            &facts,
            &JitAsk {
                settings: settings.as_ref(),
                role,
                duration,
            },
        )
        .map_err(Error::Requirements)?;
        // The role as it is now (trust policy and MaxSessionDuration may have changed).
        let mgmt = self.target(&account)?;
        let fresh = self.cloud.get_role(&mgmt, &plan.role.name).await.map_err(|e| {
            if e.is_not_found() {
                Error::Requirements(vec![Unmet::RoleNotAllowed {
                    role: plan.role.name.clone(),
                    account: account.name.clone(),
                    allowed:
                        "roles that exist: this one was deleted in AWS; save the JIT settings again to sync"
                            .into(),
                }])
            } else {
                Error::Cloud(e)
            }
        })?;
        if plan.duration > fresh.max_session_duration {
            return Err(Error::Requirements(vec![Unmet::DurationTooLong {
                asked: plan.duration,
                max: fresh.max_session_duration,
                why: format!("the MaxSessionDuration of role {}", fresh.name),
            }]));
        }
        let user_arn = cu.arn.clone().ok_or_else(|| {
            Error::Conflict(Message::new(
                "cloud_user_no_arn",
                vec![cu.name.clone()],
                format!(
                    "cloud IAM user {} has no ARN yet: wait for its provisioning",
                    cu.name
                ),
            ))
        })?;
        let session_id = new_id("ps")?;
        preflight_trust(
            &fresh.name,
            &fresh.arn,
            &fresh.trust_policy,
            &user_arn,
            &user.username,
            &session_id,
        )?;
        let creds: Vec<Credential> = self.store.list()?;
        let Some(key) = creds
            .iter()
            .filter(|c| c.cloud_user_id == cu.id)
            .max_by_key(|c| c.created)
        else {
            return Err(Error::Requirements(vec![Unmet::NoCredential {
                name: cu.name.clone(),
            }]));
        };
        let as_user = Target {
            endpoint: account.endpoint.clone(),
            region: account.region.clone(),
            access_key_id: key.access_key_id.clone(),
            secret: self.vault.open(&key.secret)?,
            session_token: None,
        };
        let mut gateway = crate::gateway::new_gateway_secrets()?;
        let assumed = self
            .cloud
            .assume_role(
                &as_user,
                &AssumeRoleInput {
                    role_arn: fresh.arn.clone(),
                    session_name: user.username.clone(),
                    source_identity: session_id.clone(),
                    duration: plan.duration,
                },
            )
            .await?;
        let now = self.now();
        let s = Session {
            id: session_id,
            kind: SessionKind::Jit,
            user_id: user.id.clone(),
            username: user.username.clone(),
            cloud_user_id: cu.id.clone(),
            account_id: account.id.clone(),
            role_arn: Some(fresh.arn.clone()),
            duration: plan.duration,
            started: now,
            expires_at: now + plan.duration,
            status: SessionStatus::Active,
            ended_at: None,
            ended_by: None,
            credentials: Some(SessionCredentials {
                access_key_id: assumed.access_key_id.clone(),
                secret: self.vault.seal(assumed.secret.expose())?,
                token: self.vault.seal(assumed.token.expose())?,
                expiration: assumed.expiration,
            }),
            revocation_policy: None,
            revocation_removed: false,
            password_rotated: false,
            gateway: Some(GatewayKey {
                access_key_id: gateway.access_key_id.clone(),
                secret: self.vault.seal(gateway.secret_access_key.expose())?,
            }),
        };
        let job = self.new_job(
            JobKind::EndSession {
                session_id: s.id.clone(),
            },
            s.expires_at,
        )?;
        let _w = self.write_lock().await?;
        let mut b = Batch::new();
        b.put(&s)?.put(&job)?.put(&GatewayKeyIndex {
            id: gateway.access_key_id.clone(),
            session_id: s.id.clone(),
        })?;
        b.audit(self.event(actor, "session.start", "session", &s.id, None, audit_value(&s)));
        self.commit(&b)?;
        drop(_w);
        self.notify_started(&s, actor);
        gateway.expiration = s.expires_at;
        gateway.endpoint = self.gateway_endpoint();
        gateway.region = account.region.clone();
        Ok(Started {
            session: SessionView::from(&s),
            gateway: Some(gateway),
            credentials: Some(SessionSecrets {
                access_key_id: assumed.access_key_id,
                secret_access_key: assumed.secret,
                session_token: assumed.token,
                expiration: assumed.expiration,
            }),
        })
    }

    /// Drops an active session (administrators, or *drop sessions*): it ends now and its
    /// credentials are revoked in the cloud.
    pub async fn drop_session(&self, actor: &Actor, id: &str) -> Result<SessionView> {
        self.require(actor, Permission::DropSessions)?;
        let job_id = {
            let _w = self.write_lock().await?;
            let old: Session = self.get("session", id)?;
            if old.status != SessionStatus::Active {
                return Err(Error::Conflict(Message::new(
                    "session_already_ended",
                    vec![id.to_string(), format!("{:?}", old.status)],
                    format!("session {id} already ended ({:?})", old.status),
                )));
            }
            let mut s = old.clone();
            s.status = SessionStatus::Dropped;
            s.ended_at = Some(self.now());
            s.ended_by = Some(actor.username.clone());
            let job = self.new_job(
                JobKind::EndSession {
                    session_id: id.into(),
                },
                self.now(),
            )?;
            let mut b = Batch::new();
            b.put(&s)?.put(&job)?;
            b.audit(self.event(
                actor,
                "session.dropped",
                "session",
                id,
                audit_value(&old),
                audit_value(&s),
            ));
            self.commit(&b)?;
            self.notify_ended(&s, &format!("dropped by {}", actor.username));
            job.id
        };
        self.run_job_by_id(&job_id).await?;
        Ok(SessionView::from(&self.get::<Session>("session", id)?))
    }

    /// Sessions: administrators and holders of *drop sessions* see all; others their own.
    pub fn list_sessions(&self, actor: &Actor) -> Result<Vec<SessionView>> {
        let all = actor.admin
            || self
                .permissions_of(&actor.user_id)?
                .contains(&Permission::DropSessions);
        let mut out: Vec<SessionView> = self
            .store
            .list::<Session>()?
            .iter()
            .filter(|s| all || s.user_id == actor.user_id)
            .map(SessionView::from)
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.started));
        Ok(out)
    }

    /// One session (the same visibility as the list).
    pub fn get_session(&self, actor: &Actor, id: &str) -> Result<SessionView> {
        let s: Session = self.get("session", id)?;
        let all = actor.admin
            || self
                .permissions_of(&actor.user_id)?
                .contains(&Permission::DropSessions);
        if !all && s.user_id != actor.user_id {
            return Err(not_found("session", id));
        }
        Ok(SessionView::from(&s))
    }

    // ---- audit ----

    /// The audit trail (administrators).
    pub fn audit(&self, actor: &Actor, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        self.require_admin(actor, "admin_only_audit", "read the audit trail")?;
        Ok(self.store.audit(filter)?)
    }

    // ---- jobs and the scheduler ----

    fn new_job(&self, kind: JobKind, due: i64) -> Result<Job> {
        Ok(Job {
            id: new_id("j")?,
            kind,
            state: JobState::Pending,
            due_at: due,
            attempts: 0,
            max_attempts: JOB_MAX_ATTEMPTS,
            history: vec![],
            created: self.now(),
        })
    }

    /// Jobs (administrators).
    pub fn list_jobs(&self, actor: &Actor) -> Result<Vec<Job>> {
        self.require_admin(actor, "admin_only_jobs", "list jobs")?;
        let mut jobs: Vec<Job> = self.store.list()?;
        jobs.sort_by_key(|j| std::cmp::Reverse(j.created));
        Ok(jobs)
    }

    /// The provisioning and removal jobs of one cloud IAM user, newest first (the same
    /// visibility as the user).
    pub fn cloud_user_jobs(&self, actor: &Actor, id: &str) -> Result<Vec<Job>> {
        self.get_cloud_user(actor, id)?;
        let mut jobs: Vec<Job> = self
            .store
            .list::<Job>()?
            .into_iter()
            .filter(|j| match &j.kind {
                JobKind::ProvisionUser { cloud_user_id } | JobKind::RemoveUser { cloud_user_id } => {
                    cloud_user_id == id
                }
                _ => false,
            })
            .collect();
        jobs.sort_by_key(|j| std::cmp::Reverse(j.created));
        Ok(jobs)
    }

    /// Runs every job due now. Returns how many ran.
    pub async fn run_due_jobs(&self) -> Result<usize> {
        let due: Vec<Job> = self.store.due(self.now())?;
        let mut n = 0;
        for j in due {
            if self.run_job_by_id(&j.id).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Runs the scheduler until the task is dropped: due jobs every 250 ms, so a session
    /// ends within a second of its expiry; jobs are in the store, so they survive restarts.
    /// It also purges expired runtime state (web sign-ins, console gateway state) every minute.
    pub async fn run_scheduler(self: Arc<Self>) {
        let mut purged = 0;
        loop {
            if let Err(e) = self.run_due_jobs().await {
                eprintln!("porteiro: scheduler: {e}");
            }
            let now = self.now();
            if now - purged >= runtime_state::PURGE_SECONDS {
                purged = now;
                if let Err(e) = self.purge_state() {
                    eprintln!("porteiro: scheduler: purging expired runtime state: {e}");
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// Runs one pending job once (if no one else is running it). Returns whether it ran.
    async fn run_job_by_id(&self, id: &str) -> Result<bool> {
        {
            let mut running = self
                .running
                .lock()
                .map_err(|_| StoreError::Db("job lock poisoned".into()))?;
            if !running.insert(id.to_string()) {
                return Ok(false);
            }
        }
        let result = self.run_job_inner(id).await;
        if let Ok(mut running) = self.running.lock() {
            running.remove(id);
        }
        result
    }

    async fn run_job_inner(&self, id: &str) -> Result<bool> {
        // Claim the job: another Porteiro over the same database may find it due too. The
        // claim moves its due time a lease ahead, so it runs again only if this one dies.
        let (job, due_at) = {
            let _w = self.write_lock().await?;
            let Some(mut job) = self.store.get::<Job>(id)? else {
                return Ok(false);
            };
            if job.state != JobState::Pending || job.due_at > self.now() {
                return Ok(false);
            }
            let due_at = job.due_at;
            job.due_at = self.now() + JOB_LEASE_SECONDS;
            let mut b = Batch::new();
            b.put(&job)?;
            self.commit(&b)?;
            (job, due_at)
        };
        let outcome = self.perform(&job.kind).await;
        let _w = self.write_lock().await?;
        let mut job: Job = self.get("job", id)?;
        let now = self.now();
        job.attempts += 1;
        let mut b = Batch::new();
        match &outcome {
            Ok(()) => {
                job.due_at = due_at;
                job.state = JobState::Done;
                job.history.push(JobAttempt {
                    at: now,
                    outcome: "ok".into(),
                });
            }
            Err(e) => {
                job.history.push(JobAttempt {
                    at: now,
                    outcome: e.to_string(),
                });
                if job.attempts >= job.max_attempts {
                    job.state = JobState::Failed;
                } else {
                    job.due_at = now + (5i64 << job.attempts.min(6)).min(300);
                }
                if let JobKind::ProvisionUser { cloud_user_id } | JobKind::RemoveUser { cloud_user_id } =
                    &job.kind
                    && let Some(mut u) = self.store.get::<CloudUser>(cloud_user_id)?
                {
                    u.last_error = Some(e.to_string());
                    b.put(&u)?;
                }
            }
        }
        b.put(&job)?;
        self.commit(&b)?;
        Ok(true)
    }

    async fn perform(&self, kind: &JobKind) -> Result<()> {
        match kind {
            JobKind::ProvisionUser { cloud_user_id } => self.provision(cloud_user_id).await,
            JobKind::RemoveUser { cloud_user_id } => self.unprovision(cloud_user_id).await,
            JobKind::ExpireCredential { credential_id } => {
                if self.store.get::<Credential>(credential_id)?.is_none() {
                    return Ok(());
                }
                self.remove_credential(&Actor::system(), credential_id).await
            }
            JobKind::EndSession { session_id } => self.end_session(session_id).await,
            JobKind::RemoveRevocation { session_id } => self.remove_revocation(session_id).await,
        }
    }

    async fn save_cloud_user(&self, action: &str, old: &CloudUser, new: &CloudUser) -> Result<()> {
        let _w = self.write_lock().await?;
        let mut b = Batch::new();
        b.put(new)?;
        b.audit(self.event(
            &Actor::system(),
            action,
            "cloud_user",
            &new.id,
            audit_value(old),
            audit_value(new),
        ));
        self.commit(&b)
    }

    async fn provision(&self, id: &str) -> Result<()> {
        let old: CloudUser = self.get("cloud_user", id)?;
        if !matches!(
            old.status,
            CloudUserStatus::Pending | CloudUserStatus::Provisioning
        ) {
            return Ok(());
        }
        let mut u = old.clone();
        u.status = CloudUserStatus::Provisioning;
        u.updated = self.now();
        self.save_cloud_user("cloud_user.provisioning", &old, &u).await?;
        let account: CloudAccount = self.get("account", &u.account_id)?;
        let t = self.target(&account)?;
        let owner_name = match &u.owner {
            Some(o) => self
                .store
                .get::<PlatformUser>(o)?
                .map(|p| p.username)
                .unwrap_or_default(),
            None => String::new(),
        };
        let tags = vec![
            (MANAGED_TAG.to_string(), "true".to_string()),
            ("porteiro:cloud-user-id".to_string(), u.id.clone()),
            ("porteiro:owner".to_string(), owner_name),
        ];
        let created = match self.cloud.create_user(&t, &u.name, &tags).await {
            Ok(c) => c,
            // A retry after a partial attempt: the user is there already, tagged with this
            // record's id (a user someone else made is never adopted).
            Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => {
                let existing = self.cloud.get_user(&t, &u.name).await?;
                let ours = existing
                    .tags
                    .iter()
                    .any(|(k, v)| k == "porteiro:cloud-user-id" && *v == u.id);
                if !ours {
                    return Err(Error::Conflict(Message::new(
                        "iam_user_exists_not_ours",
                        vec![u.name.clone(), account.name.clone()],
                        format!(
                            "an IAM user named {} already exists in account {} and Porteiro did not create it: import it, or create the user with another name",
                            u.name, account.name
                        ),
                    )));
                }
                existing
            }
            Err(e) => return Err(e.into()),
        };
        let password = match &u.password {
            Some(p) => self.vault.open(p)?,
            None => strong_password()?,
        };
        match self.cloud.create_login_profile(&t, &u.name, &password).await {
            Ok(()) => {}
            Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => {
                self.cloud.update_login_profile(&t, &u.name, &password).await?
            }
            Err(e) => return Err(e.into()),
        }
        for arn in &u.policies {
            self.cloud.attach_user_policy(&t, &u.name, arn).await?;
        }
        let before = u.clone();
        u.arn = Some(created.arn);
        u.status = CloudUserStatus::Provisioned;
        u.last_error = None;
        u.updated = self.now();
        let _w = self.write_lock().await?;
        let mut b = Batch::new();
        b.put(&u)?;
        if let Some(at) = u.expires_at {
            b.put(&self.new_job(
                JobKind::RemoveUser {
                    cloud_user_id: u.id.clone(),
                },
                at,
            )?)?;
        }
        b.audit(self.event(
            &Actor::system(),
            "cloud_user.provisioned",
            "cloud_user",
            &u.id,
            audit_value(&before),
            audit_value(&u),
        ));
        self.commit(&b)
    }

    /// Removes a user from the cloud in AWS's required order: login profile, access keys,
    /// attached managed policies, inline policies, group memberships, then DeleteUser.
    async fn unprovision(&self, id: &str) -> Result<()> {
        let old: CloudUser = self.get("cloud_user", id)?;
        if matches!(
            old.status,
            CloudUserStatus::Unprovisioned | CloudUserStatus::Imported
        ) {
            return Ok(());
        }
        let mut u = old.clone();
        if u.status != CloudUserStatus::Unprovisioning {
            u.status = CloudUserStatus::Unprovisioning;
            u.updated = self.now();
            self.save_cloud_user("cloud_user.unprovisioning", &old, &u)
                .await?;
        }
        let account: CloudAccount = self.get("account", &u.account_id)?;
        let t = self.target(&account)?;
        let gone = |r: Result<(), CloudCallError>| match r {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        };
        gone(self.cloud.delete_login_profile(&t, &u.name).await)?;
        let keys = match self.cloud.list_access_keys(&t, &u.name).await {
            Err(e) if e.is_not_found() => vec![],
            r => r?,
        };
        for k in keys {
            gone(self.cloud.delete_access_key(&t, &u.name, &k).await)?;
        }
        let attached = match self.cloud.list_attached_user_policies(&t, &u.name).await {
            Err(e) if e.is_not_found() => vec![],
            r => r?,
        };
        for arn in attached {
            gone(self.cloud.detach_user_policy(&t, &u.name, &arn).await)?;
        }
        let inline = match self.cloud.list_user_policies(&t, &u.name).await {
            Err(e) if e.is_not_found() => vec![],
            r => r?,
        };
        for name in inline {
            gone(self.cloud.delete_user_policy(&t, &u.name, &name).await)?;
        }
        let groups = match self.cloud.list_groups_for_user(&t, &u.name).await {
            Err(e) if e.is_not_found() => vec![],
            r => r?,
        };
        for g in groups {
            gone(self.cloud.remove_user_from_group(&t, &u.name, &g).await)?;
        }
        gone(self.cloud.delete_user(&t, &u.name).await)?;
        let before = u.clone();
        u.status = CloudUserStatus::Unprovisioned;
        u.password = None;
        u.last_error = None;
        u.updated = self.now();
        let _w = self.write_lock().await?;
        let mut b = Batch::new();
        b.put(&u)?;
        let mut dropped = Vec::new();
        // Deleting an IAM user does not end its role sessions: drop and revoke them.
        for old in self.store.list::<Session>()? {
            if old.cloud_user_id == u.id && old.status == SessionStatus::Active {
                let mut s = old.clone();
                s.status = SessionStatus::Dropped;
                s.ended_at = Some(self.now());
                s.ended_by = Some(Actor::system().username);
                b.put(&s)?;
                b.put(&self.new_job(
                    JobKind::EndSession {
                        session_id: s.id.clone(),
                    },
                    self.now(),
                )?)?;
                b.audit(self.event(
                    &Actor::system(),
                    "session.dropped",
                    "session",
                    &s.id,
                    audit_value(&old),
                    audit_value(&s),
                ));
                dropped.push(s);
            }
        }
        for c in self.store.list::<Credential>()? {
            if c.cloud_user_id == u.id {
                b.delete::<Credential>(&c.id);
                b.audit(self.event(
                    &Actor::system(),
                    "credential.delete",
                    "credential",
                    &c.id,
                    audit_value(&c),
                    None,
                ));
            }
        }
        b.audit(self.event(
            &Actor::system(),
            "cloud_user.unprovisioned",
            "cloud_user",
            &u.id,
            audit_value(&before),
            audit_value(&u),
        ));
        self.commit(&b)?;
        for s in &dropped {
            self.notify_ended(s, "dropped: its cloud IAM user was removed");
        }
        Ok(())
    }

    /// Ends a session: at expiry it becomes Expired; then (JIT) the role gets a deny for its
    /// SourceIdentity, or (console) the IAM user's password is rotated.
    async fn end_session(&self, id: &str) -> Result<()> {
        let Some(old) = self.store.get::<Session>(id)? else {
            return Ok(());
        };
        let now = self.now();
        let mut s = old.clone();
        if s.status == SessionStatus::Active {
            if now < s.expires_at {
                return Ok(());
            }
            s.status = SessionStatus::Expired;
            s.ended_at = Some(now);
            let _w = self.write_lock().await?;
            let mut b = Batch::new();
            b.put(&s)?;
            b.audit(self.event(
                &Actor::system(),
                "session.expired",
                "session",
                id,
                audit_value(&old),
                audit_value(&s),
            ));
            self.commit(&b)?;
            self.notify_ended(&s, "expired");
        }
        let account: CloudAccount = self.get("account", &s.account_id)?;
        let t = self.target(&account)?;
        match s.kind {
            SessionKind::Jit => {
                let (Some(role_arn), Some(creds)) = (&s.role_arn, &s.credentials) else {
                    return Ok(());
                };
                if s.revocation_policy.is_some() || creds.expiration + REVOCATION_MARGIN_SECONDS < now {
                    return Ok(());
                }
                let role = rules::role_name(role_arn);
                let name = format!("porteiro-revoke-{}", s.id);
                self.cloud
                    .put_role_policy(&t, role, &name, &revocation_policy(&s.id))
                    .await?;
                let before = s.clone();
                s.revocation_policy = Some(name);
                let job = self.new_job(
                    JobKind::RemoveRevocation {
                        session_id: s.id.clone(),
                    },
                    creds.expiration + REVOCATION_MARGIN_SECONDS,
                )?;
                let _w = self.write_lock().await?;
                let mut b = Batch::new();
                b.put(&s)?.put(&job)?;
                b.audit(self.event(
                    &Actor::system(),
                    "session.revoked",
                    "session",
                    id,
                    audit_value(&before),
                    audit_value(&s),
                ));
                self.commit(&b)
            }
            SessionKind::Console => {
                if s.password_rotated {
                    return Ok(());
                }
                let old_user: CloudUser = self.get("cloud_user", &s.cloud_user_id)?;
                if old_user.status != CloudUserStatus::Provisioned {
                    return Ok(());
                }
                let password = strong_password()?;
                self.cloud
                    .update_login_profile(&t, &old_user.name, &password)
                    .await?;
                let mut u = old_user.clone();
                u.password = Some(self.vault.seal(password.expose())?);
                u.updated = now;
                let before = s.clone();
                s.password_rotated = true;
                let _w = self.write_lock().await?;
                let mut b = Batch::new();
                b.put(&u)?.put(&s)?;
                b.audit(self.event(
                    &Actor::system(),
                    "cloud_user.password_rotated",
                    "cloud_user",
                    &u.id,
                    None,
                    None,
                ));
                b.audit(self.event(
                    &Actor::system(),
                    "session.closed",
                    "session",
                    id,
                    audit_value(&before),
                    audit_value(&s),
                ));
                self.commit(&b)
            }
        }
    }

    async fn remove_revocation(&self, id: &str) -> Result<()> {
        let Some(old) = self.store.get::<Session>(id)? else {
            return Ok(());
        };
        let (Some(role_arn), Some(name)) = (&old.role_arn, &old.revocation_policy) else {
            return Ok(());
        };
        if old.revocation_removed {
            return Ok(());
        }
        let account: CloudAccount = self.get("account", &old.account_id)?;
        match self
            .cloud
            .delete_role_policy(&self.target(&account)?, rules::role_name(role_arn), name)
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        let mut s = old.clone();
        s.revocation_removed = true;
        let _w = self.write_lock().await?;
        let mut b = Batch::new();
        b.put(&s)?;
        b.audit(self.event(
            &Actor::system(),
            "session.revocation_removed",
            "session",
            id,
            audit_value(&old),
            audit_value(&s),
        ));
        self.commit(&b)
    }
}

/// The role inline policy that revokes one session: deny everything to credentials whose
/// SourceIdentity is the session id (AWS's "revoke older sessions" pattern, scoped).
pub fn revocation_policy(session_id: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PorteiroRevokeSession",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceIdentity": session_id}}
        }]
    })
    .to_string()
}

/// The engine's pre-flight of a role's trust policy for a JIT start: the user's ARN must be
/// allowed `sts:AssumeRole` and (Porteiro sets the session id as SourceIdentity)
/// `sts:SetSourceIdentity`.
pub fn preflight_trust(
    role_name: &str,
    role_arn: &str,
    trust_policy: &str,
    user_arn: &str,
    username: &str,
    session_id: &str,
) -> Result<()> {
    let fix = |action: &str, why: String| {
        Error::TrustPolicy(Message::new(
            "trust_refuses",
            vec![
                role_name.to_string(),
                user_arn.to_string(),
                action.to_string(),
                why.clone(),
            ],
            format!(
                "the trust policy of {role_name} does not allow {user_arn}: add a statement with Effect Allow, Action {action}, Principal {user_arn} ({why})"
            ),
        ))
    };
    let policy = Policy::parse(trust_policy, PolicyKind::Trust)
        .map_err(|e| fix("sts:AssumeRole", format!("the trust policy does not parse: {e}")))?;
    let principal = Principal::parse(user_arn)
        .map_err(|e| fix("sts:AssumeRole", format!("the user ARN is not a principal: {e}")))?;
    let account = role_arn.split(':').nth(4).filter(|a| !a.is_empty());
    for action in ["sts:AssumeRole", "sts:SetSourceIdentity"] {
        let mut ctx = Context::new();
        ctx.insert("sts:RoleSessionName", username);
        ctx.insert("sts:SourceIdentity", session_id);
        let req = Request::new(principal.clone(), action, role_arn, account, ctx);
        let layers = Layers {
            resource: Some(&policy),
            ..Layers::default()
        };
        let explanation = Authorizer::new().explain(&req, &layers);
        if !explanation.evaluation.decision.is_allowed() {
            let why = if action == "sts:SetSourceIdentity" {
                "Porteiro sets the session id as the SourceIdentity so that it can revoke this session alone: add sts:SetSourceIdentity to the statement's Action".to_string()
            } else {
                explanation.summary()
            };
            let shown = if action == "sts:AssumeRole" {
                "sts:AssumeRole".to_string()
            } else {
                "[sts:AssumeRole, sts:SetSourceIdentity]".to_string()
            };
            return Err(fix(&shown, why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/Admin";
    const USER: &str = "arn:aws:iam::123456789012:user/ana";

    fn trust(actions: &str, principal: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":{actions}}}]}}"#
        )
    }

    #[test]
    fn preflight_accepts_a_trust_policy_naming_the_user() {
        let doc = trust(r#"["sts:AssumeRole","sts:SetSourceIdentity"]"#, USER);
        preflight_trust("Admin", ROLE, &doc, USER, "ana", "ps-1").expect("allowed");
    }

    #[test]
    fn preflight_refuses_with_the_fix() {
        let doc = trust(
            r#"["sts:AssumeRole","sts:SetSourceIdentity"]"#,
            "arn:aws:iam::123456789012:user/bob",
        );
        let e = preflight_trust("Admin", ROLE, &doc, USER, "ana", "ps-1").expect_err("refused");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "the trust policy of Admin does not allow {USER}: add a statement with Effect Allow, Action sts:AssumeRole, Principal {USER}"
            )),
            "{msg}"
        );
        let doc = trust(r#""sts:AssumeRole""#, USER);
        let e = preflight_trust("Admin", ROLE, &doc, USER, "ana", "ps-1").expect_err("no source identity");
        assert!(e.to_string().contains("sts:SetSourceIdentity"), "{e}");
    }

    #[test]
    fn the_revocation_policy_is_scoped_to_the_session() {
        let doc = revocation_policy("ps-abc");
        let p = Policy::parse(&doc, PolicyKind::Identity).expect("valid policy");
        let _ = p;
        assert!(doc.contains(r#""aws:SourceIdentity":"ps-abc""#));
    }

    #[test]
    fn generated_passwords_are_strong() {
        let p = strong_password().expect("password");
        let s = p.expose();
        assert_eq!(s.len(), 32);
        assert!(s.chars().any(|c| c.is_ascii_uppercase()));
        assert!(s.chars().any(|c| c.is_ascii_lowercase()));
        assert!(s.chars().any(|c| c.is_ascii_digit()));
        assert!(s.chars().any(|c| !c.is_ascii_alphanumeric()));
        assert_ne!(strong_password().expect("p").expose(), s);
    }
}
