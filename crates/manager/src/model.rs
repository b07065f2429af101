//! The access manager's entities, as they are stored (JSON documents, one per entity).
//!
//! Secrets are never held in clear here: they are [`Sealed`] by the [`crate::vault::Vault`],
//! and no `Debug` output shows a sealed value or a password hash.

use serde::{Deserialize, Serialize};

/// A secret encrypted by the vault (base64 of nonce ‖ ciphertext). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(pub String);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(<redacted>)")
    }
}

/// A stored entity: its kind (the store's table key) and id.
pub trait Entity: Serialize + serde::de::DeserializeOwned {
    /// The kind, such as `user`.
    const KIND: &'static str;
    /// The id, unique within the kind.
    fn id(&self) -> &str;
    /// When the entity is due for the scheduler (jobs only).
    fn due(&self) -> Option<i64> {
        None
    }
}

macro_rules! entity {
    ($t:ty, $kind:literal) => {
        impl Entity for $t {
            const KIND: &'static str = $kind;
            fn id(&self) -> &str {
                &self.id
            }
        }
    };
}

/// A person who uses Porteiro.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformUser {
    /// Id (`u-…`).
    pub id: String,
    /// Full name.
    pub name: String,
    /// Login name; also the `RoleSessionName` of the user's JIT sessions.
    pub username: String,
    /// E-mail; required to start sessions.
    pub email: Option<String>,
    /// Argon2id PHC string of the password.
    pub password_hash: String,
    /// Administrators may do everything.
    pub admin: bool,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// Last change (epoch seconds).
    pub updated: i64,
}
entity!(PlatformUser, "user");

impl std::fmt::Debug for PlatformUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

/// What an access group lets its members do (the ten permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Users can create and edit (cloud IAM) users.
    CreateEditUsers,
    /// Users can delete (cloud IAM) users.
    DeleteUsers,
    /// Users can create and edit accounts (and their JIT settings).
    CreateEditAccounts,
    /// Users can delete accounts.
    DeleteAccounts,
    /// Users can create credentials.
    CreateCredentials,
    /// Users can delete credentials.
    DeleteCredentials,
    /// Users can start (cloud console) sessions.
    StartSessions,
    /// Users can start JIT sessions.
    StartJitSessions,
    /// Users can view recordings.
    ViewRecordings,
    /// Users can drop sessions.
    DropSessions,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 10] = [
        Permission::CreateEditUsers,
        Permission::DeleteUsers,
        Permission::CreateEditAccounts,
        Permission::DeleteAccounts,
        Permission::CreateCredentials,
        Permission::DeleteCredentials,
        Permission::StartSessions,
        Permission::StartJitSessions,
        Permission::ViewRecordings,
        Permission::DropSessions,
    ];

    /// The wire name, such as `start_jit_sessions`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CreateEditUsers => "create_edit_users",
            Permission::DeleteUsers => "delete_users",
            Permission::CreateEditAccounts => "create_edit_accounts",
            Permission::DeleteAccounts => "delete_accounts",
            Permission::CreateCredentials => "create_credentials",
            Permission::DeleteCredentials => "delete_credentials",
            Permission::StartSessions => "start_sessions",
            Permission::StartJitSessions => "start_jit_sessions",
            Permission::ViewRecordings => "view_recordings",
            Permission::DropSessions => "drop_sessions",
        }
    }

    /// The label the seed gives it, such as "Users can start JIT sessions".
    pub fn label(self) -> &'static str {
        match self {
            Permission::CreateEditUsers => "Users can create and edit users",
            Permission::DeleteUsers => "Users can delete users",
            Permission::CreateEditAccounts => "Users can create and edit accounts",
            Permission::DeleteAccounts => "Users can delete accounts",
            Permission::CreateCredentials => "Users can create credentials",
            Permission::DeleteCredentials => "Users can delete credentials",
            Permission::StartSessions => "Users can start sessions",
            Permission::StartJitSessions => "Users can start JIT sessions",
            Permission::ViewRecordings => "Users can view recordings",
            Permission::DropSessions => "Users can drop sessions",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A group of platform users and the permissions it grants them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessGroup {
    /// Id (`g-…`).
    pub id: String,
    /// Name (unique).
    pub name: String,
    /// Description.
    pub description: String,
    /// Member platform user ids.
    pub members: Vec<String>,
    /// Granted permissions.
    pub permissions: Vec<Permission>,
    /// Creation time.
    pub created: i64,
    /// Last change.
    pub updated: i64,
}
entity!(AccessGroup, "group");

/// Whether Porteiro could reach an account with its management key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// GetCallerIdentity succeeded.
    Connectable,
    /// GetCallerIdentity failed (see `status_message`).
    Unreachable,
}

/// An AWS account Porteiro manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudAccount {
    /// Id (`a-…`).
    pub id: String,
    /// Name (unique).
    pub name: String,
    /// Always `aws`.
    pub provider: String,
    /// Endpoint URL; `None` = real AWS.
    pub endpoint: Option<String>,
    /// Region, such as `us-east-1`.
    pub region: String,
    /// Management access key id.
    pub access_key_id: String,
    /// Management secret access key (vaulted).
    pub secret: Sealed,
    /// The AWS account id GetCallerIdentity answered.
    pub aws_account_id: Option<String>,
    /// The management key's ARN.
    pub caller_arn: Option<String>,
    /// Connectivity status.
    pub status: AccountStatus,
    /// Why it is unreachable.
    pub status_message: Option<String>,
    /// Creation time.
    pub created: i64,
    /// Last change.
    pub updated: i64,
}
entity!(CloudAccount, "account");

/// How a cloud IAM user came to Porteiro.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Created through Porteiro (may start remote sessions).
    Created,
    /// Imported from the account (never starts remote sessions).
    Imported,
}

/// A cloud IAM user's life-cycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CloudUserStatus {
    /// Recorded; provisioning not started.
    Pending,
    /// Provisioning (a job is creating it in the cloud).
    Provisioning,
    /// Exists in the cloud as Porteiro made it.
    Provisioned,
    /// Being removed from the cloud.
    Unprovisioning,
    /// Removed from the cloud.
    Unprovisioned,
    /// Imported from the account.
    Imported,
}

/// An IAM user in a cloud account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudUser {
    /// Id (`cu-…`).
    pub id: String,
    /// The account.
    pub account_id: String,
    /// The platform user it belongs to.
    pub owner: Option<String>,
    /// The IAM user name.
    pub name: String,
    /// Its ARN, once known.
    pub arn: Option<String>,
    /// Created or imported.
    pub origin: Origin,
    /// Status.
    pub status: CloudUserStatus,
    /// Managed policy ARNs to attach (at most 10).
    pub policies: Vec<String>,
    /// Time to live in seconds, when it has one.
    pub ttl: Option<i64>,
    /// When it is removed (created + ttl).
    pub expires_at: Option<i64>,
    /// Its console password (vaulted; never shown).
    pub password: Option<Sealed>,
    /// The last provisioning error.
    pub last_error: Option<String>,
    /// Creation time.
    pub created: i64,
    /// Last change.
    pub updated: i64,
}
entity!(CloudUser, "cloud_user");

/// An access key of a cloud IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Id (`cr-…`).
    pub id: String,
    /// The cloud IAM user.
    pub cloud_user_id: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key (vaulted; shown once at creation).
    pub secret: Sealed,
    /// Time to live in seconds.
    pub ttl: Option<i64>,
    /// When it is deleted.
    pub expires_at: Option<i64>,
    /// Creation time.
    pub created: i64,
}
entity!(Credential, "credential");

/// A role of an account, as synced from ListRoles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleInfo {
    /// Role name.
    pub name: String,
    /// Role ARN.
    pub arn: String,
    /// MaxSessionDuration (seconds).
    pub max_session_duration: i64,
    /// The trust policy document (decoded JSON).
    pub trust_policy: String,
}

/// The JIT settings of one account (Cloud IAM ➔ Settings ➔ JIT Access).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JitSettings {
    /// Id: the account id.
    pub id: String,
    /// Active.
    pub active: bool,
    /// Information tab: Description.
    pub description: String,
    /// AWS tab: JIT Enabled.
    pub jit_enabled: bool,
    /// AWS tab: maximum session Duration in seconds (900 ≤ d ≤ 43200 and ≤ each role's max).
    pub duration: i64,
    /// AWS tab: the Roles (names) the account's users may impersonate.
    pub roles: Vec<String>,
    /// The account's roles at the last sync.
    pub synced_roles: Vec<RoleInfo>,
    /// Last sync time.
    pub synced_at: i64,
    /// Last change.
    pub updated: i64,
}
entity!(JitSettings, "jit_settings");

/// Console or JIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// Cloud console as the IAM user.
    Console,
    /// A role session (just in time).
    Jit,
}

/// A session's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Running.
    Active,
    /// Ended at its expiry.
    Expired,
    /// Ended by an administrator.
    Dropped,
}

/// Temporary credentials of a JIT session (vaulted parts sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCredentials {
    /// Access key id (`ASIA…`).
    pub access_key_id: String,
    /// Secret access key (vaulted).
    pub secret: Sealed,
    /// Session token (vaulted).
    pub token: Sealed,
    /// Expiration (epoch seconds).
    pub expiration: i64,
}

/// A console or JIT session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Id (`ps-…`); also the JIT session's SourceIdentity.
    pub id: String,
    /// Console or JIT.
    pub kind: SessionKind,
    /// The platform user.
    pub user_id: String,
    /// The platform user's username (RoleSessionName).
    pub username: String,
    /// The cloud IAM user.
    pub cloud_user_id: String,
    /// The account.
    pub account_id: String,
    /// The role (JIT).
    pub role_arn: Option<String>,
    /// Requested duration (seconds).
    pub duration: i64,
    /// Start time.
    pub started: i64,
    /// Expiry time.
    pub expires_at: i64,
    /// Status.
    pub status: SessionStatus,
    /// When it ended.
    pub ended_at: Option<i64>,
    /// Who dropped it.
    pub ended_by: Option<String>,
    /// The JIT credentials.
    pub credentials: Option<SessionCredentials>,
    /// The name of the revocation policy put on the role (JIT), once put.
    pub revocation_policy: Option<String>,
    /// Whether the revocation policy was removed (the credentials can no longer be valid).
    pub revocation_removed: bool,
    /// Whether the console user's password was rotated after the session (console).
    pub password_rotated: bool,
    /// The session's gateway credentials (JIT): what the person's CLI or SDK signs with.
    #[serde(default)]
    pub gateway: Option<GatewayKey>,
}
entity!(Session, "session");

/// Gateway credentials of a JIT session: an access key id and a secret generated by Porteiro
/// (sealed; the gateway needs it in clear to check SigV4 signatures). Valid only while the
/// session is active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayKey {
    /// Access key id (`PGWA…`, 20 characters).
    pub access_key_id: String,
    /// Secret access key (vaulted).
    pub secret: Sealed,
}

/// Index from a gateway access key id to its session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayKeyIndex {
    /// The gateway access key id.
    pub id: String,
    /// The session.
    pub session_id: String,
}
entity!(GatewayKeyIndex, "gateway_key");

/// The ed25519 key that signs recording manifests, sealed in the vault (one, id `recording`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingKeyDoc {
    /// Always `recording`.
    pub id: String,
    /// The 32-byte private key, hex (vaulted).
    pub secret: Sealed,
    /// When it was generated.
    pub created: i64,
}
entity!(RecordingKeyDoc, "recording_key");

/// What a durable job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    /// Create a cloud IAM user in its account.
    ProvisionUser {
        /// The cloud user.
        cloud_user_id: String,
    },
    /// Remove a cloud IAM user from its account (AWS's order).
    RemoveUser {
        /// The cloud user.
        cloud_user_id: String,
    },
    /// Delete a credential whose TTL ended.
    ExpireCredential {
        /// The credential.
        credential_id: String,
    },
    /// End a session (at its expiry, or after a drop): revoke its credentials in the cloud
    /// (JIT) or rotate the console user's password (console).
    EndSession {
        /// The session.
        session_id: String,
    },
    /// Remove a session's revocation policy once its credentials can no longer be valid.
    RemoveRevocation {
        /// The session.
        session_id: String,
    },
}

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for `due`.
    Pending,
    /// Finished.
    Done,
    /// Gave up after `max_attempts`.
    Failed,
}

/// One attempt of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAttempt {
    /// When.
    pub at: i64,
    /// `ok` or the error.
    pub outcome: String,
}

/// A durable job, run by the scheduler with retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Id (`j-…`).
    pub id: String,
    /// What it does.
    pub kind: JobKind,
    /// State.
    pub state: JobState,
    /// When it runs next.
    pub due_at: i64,
    /// Attempts so far.
    pub attempts: u32,
    /// Attempts before it fails.
    pub max_attempts: u32,
    /// Every attempt.
    pub history: Vec<JobAttempt>,
    /// Creation time.
    pub created: i64,
}

impl Entity for Job {
    const KIND: &'static str = "job";
    fn id(&self) -> &str {
        &self.id
    }
    fn due(&self) -> Option<i64> {
        (self.state == JobState::Pending).then_some(self.due_at)
    }
}

/// An API token (only its SHA-256 is stored; the id is that hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Hex SHA-256 of the token.
    pub id: String,
    /// The platform user.
    pub user_id: String,
    /// Creation time.
    pub created: i64,
    /// Expiry.
    pub expires_at: i64,
}
entity!(ApiToken, "token");

/// One audit event: a change or a session event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Sequence number (assigned by the store).
    pub seq: i64,
    /// When.
    pub at: i64,
    /// Who (username; `system` for the scheduler).
    pub actor: String,
    /// From where (client address).
    pub source: Option<String>,
    /// What, such as `cloud_user.create` or `session.dropped`.
    pub action: String,
    /// The entity kind.
    pub entity: String,
    /// The entity id.
    pub entity_id: String,
    /// The old value (secrets removed).
    pub old: Option<serde_json::Value>,
    /// The new value (secrets removed).
    pub new: Option<serde_json::Value>,
}

/// Fields never copied into the audit trail.
const SECRET_FIELDS: [&str; 4] = ["secret", "password", "password_hash", "token"];

/// An entity as the audit trail shows it: its JSON without secrets.
pub fn audit_value<T: Serialize>(value: &T) -> Option<serde_json::Value> {
    let mut v = serde_json::to_value(value).ok()?;
    strip_secrets(&mut v);
    Some(v)
}

fn strip_secrets(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SECRET_FIELDS.contains(&k.as_str()) && !val.is_null() {
                    *val = serde_json::Value::String("<sealed>".into());
                } else {
                    strip_secrets(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_and_users_never_show_secrets_in_debug() {
        let s = Sealed("c2VjcmV0".into());
        assert_eq!(format!("{s:?}"), "Sealed(<redacted>)");
        let u = PlatformUser {
            id: "u-1".into(),
            name: "A".into(),
            username: "a".into(),
            email: None,
            password_hash: "$argon2id$secret".into(),
            admin: false,
            created: 0,
            updated: 0,
        };
        assert!(!format!("{u:?}").contains("argon2id"));
    }

    #[test]
    fn audit_values_drop_secrets() {
        let v = audit_value(&serde_json::json!({"name": "x", "secret": "abc", "inner": {"password": "p"}}))
            .expect("value");
        assert_eq!(v["secret"], "<sealed>");
        assert_eq!(v["inner"]["password"], "<sealed>");
        assert_eq!(v["name"], "x");
    }

    #[test]
    fn permissions_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_value(p).expect("json"),
                serde_json::json!(p.as_str())
            );
        }
    }
}
