//! The cloud's entities, as stored (one JSON row each) and held in memory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// An AWS account of the embedded cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// 12-digit account id.
    pub id: String,
    /// When it was created (epoch seconds).
    pub created: i64,
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub account: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: i64,
    pub tags: Vec<Tag>,
    /// Inline policies by name (documents as given).
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
    /// Permissions boundary (managed policy ARN).
    pub boundary: Option<String>,
}

impl User {
    /// `arn:aws:iam::ACCOUNT:user/PATH/NAME`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:user{}{}", self.account, self.path, self.name)
    }
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub account: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: i64,
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
    /// Member user names.
    pub members: Vec<String>,
}

impl Group {
    /// `arn:aws:iam::ACCOUNT:group/PATH/NAME`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:group{}{}", self.account, self.path, self.name)
    }
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub account: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: i64,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: i64,
    pub tags: Vec<Tag>,
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
    pub boundary: Option<String>,
}

impl Role {
    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:role{}{}", self.account, self.path, self.name)
    }
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, ...
    pub id: String,
    pub document: String,
    pub created: i64,
}

/// A managed policy (customer managed, or AWS managed with account `aws`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub account: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: i64,
    pub updated: i64,
    pub description: Option<String>,
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    pub next_version: u32,
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    /// `arn:aws:iam::ACCOUNT:policy/PATH/NAME`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:policy{}{}", self.account, self.path, self.name)
    }

    /// The default version's document.
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }
}

/// Who an access key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyOwner {
    /// The account root user.
    Root,
    /// An IAM user (by name).
    User(String),
}

/// A long-term access key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    pub account: String,
    pub owner: KeyOwner,
    pub id: String,
    pub secret: String,
    pub active: bool,
    pub created: i64,
}

/// A console password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginProfile {
    pub account: String,
    pub user: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub reset_required: bool,
    pub created: i64,
}

/// What a temporary credential stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionKind {
    /// `sts:AssumeRole`.
    AssumedRole {
        role_arn: String,
        role_id: String,
        role_name: String,
        session_name: String,
        /// Assumed with temporary credentials (role chaining).
        chained: bool,
    },
    /// `sts:GetFederationToken` by an IAM user.
    Federated { name: String, user: String },
    /// `sts:GetSessionToken` by an IAM user or the root user.
    SessionToken { owner: KeyOwner },
}

/// Temporary credentials and the session they carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub account: String,
    pub access_key_id: String,
    pub secret: String,
    pub token: String,
    pub kind: SessionKind,
    pub issued: i64,
    pub expires: i64,
    pub source_identity: Option<String>,
    /// Inline session policy (`Policy`).
    pub policy: Option<String>,
    /// Managed session policies (`PolicyArns`).
    pub policy_arns: Vec<String>,
    /// Session tags (principal tags for the session).
    pub tags: Vec<Tag>,
    pub transitive_tag_keys: Vec<String>,
    /// MFA was used to obtain the session.
    pub mfa: bool,
}

/// An S3 bucket (its objects live in the S3 object store, not here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// The bucket name (global across accounts).
    pub name: String,
    /// The owning account.
    pub account: String,
    /// The region given as `LocationConstraint` (`us-east-1` when none).
    pub region: String,
    /// When it was created (epoch seconds).
    pub created: i64,
    /// The bucket policy (a resource policy), as given.
    pub policy: Option<String>,
    /// The default encryption configuration.
    pub encryption: Option<BucketEncryption>,
    /// Bucket tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Bucket {
    /// `arn:aws:s3:::NAME`.
    pub fn arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.name)
    }
}

/// A bucket's default server-side encryption rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    /// `KMSMasterKeyID` (key id, ARN or alias) for `aws:kms`.
    pub kms_key_id: Option<String>,
    /// `BucketKeyEnabled`.
    pub bucket_key_enabled: bool,
}

/// The state of a KMS key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KmsKeyState {
    /// Usable in cryptographic operations.
    Enabled,
    /// Not usable until enabled again.
    Disabled,
    /// Scheduled for deletion; gone at `KmsKey::deletion_date`.
    PendingDeletion,
}

impl KmsKeyState {
    /// AWS's name (`Enabled`, `Disabled`, `PendingDeletion`).
    pub fn as_str(self) -> &'static str {
        match self {
            KmsKeyState::Enabled => "Enabled",
            KmsKeyState::Disabled => "Disabled",
            KmsKeyState::PendingDeletion => "PendingDeletion",
        }
    }
}

/// Key material encrypted under the cloud's KMS master key (base64 of nonce ‖ ciphertext ‖
/// tag). Never the plaintext material; its `Debug` prints nothing of it either.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedMaterial(pub String);

impl std::fmt::Debug for WrappedMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WrappedMaterial(<redacted>)")
    }
}

/// A KMS key (symmetric, `SYMMETRIC_DEFAULT`, `ENCRYPT_DECRYPT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKey {
    pub account: String,
    pub region: String,
    /// The key id (a UUID).
    pub id: String,
    pub description: String,
    pub state: KmsKeyState,
    /// `CUSTOMER`, or `AWS` for AWS managed keys (`alias/aws/s3`).
    pub manager: String,
    pub created: i64,
    /// When a key pending deletion is deleted (epoch seconds).
    pub deletion_date: Option<i64>,
    /// The waiting period of a scheduled deletion, in days.
    pub pending_window_days: Option<i64>,
    /// The key policy (the only one, named `default`).
    pub policy: String,
    pub tags: Vec<Tag>,
    /// The 256-bit key material, encrypted at rest.
    pub material: WrappedMaterial,
}

impl KmsKey {
    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    pub fn arn(&self) -> String {
        format!("arn:aws:kms:{}:{}:key/{}", self.region, self.account, self.id)
    }
}

/// A KMS alias (`alias/NAME`) in an account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsAlias {
    pub account: String,
    pub region: String,
    /// `alias/NAME` (case-sensitive).
    pub name: String,
    /// The key id it points to.
    pub target: String,
    pub created: i64,
    pub updated: i64,
}

impl KmsAlias {
    /// `arn:aws:kms:REGION:ACCOUNT:alias/NAME`.
    pub fn arn(&self) -> String {
        format!("arn:aws:kms:{}:{}:{}", self.region, self.account, self.name)
    }
}
