//! KMS over AWS's JSON 1.1 protocol (`X-Amz-Target: TrentService.<Op>`), with real
//! cryptography and AWS's authorization rules, and a Rust API that other services of the
//! cloud (S3's SSE-KMS) call as forward access sessions.
//!
//! <https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html>
//!
//! - Keys are symmetric (`SYMMETRIC_DEFAULT`, `ENCRYPT_DECRYPT`), regional (a key lives in the
//!   account and region of the request that created it), and have one key policy, `default`.
//! - Every operation is authorized by the engine: `kms:<Op>` on the key ARN with the key
//!   policy as resource policy. The engine applies KMS's rule: IAM policies count only when
//!   the key policy allows the account (AWS's default key policy does, by its
//!   "Enable IAM User Permissions" statement). Cross-account use, by key or alias ARN, needs
//!   the key policy to allow the other account and that account's IAM policies to allow.
//! - Cryptography and the ciphertext format are in [`crypto`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use porteiro_iam::{PolicyKind, Value};
use porteiro_sigv4::Protocol;
use serde_json::{Map, json};

use crate::Cloud;
use crate::authz::{self, Ask, Caller, RequestInfo, VpcEndpoint};
use crate::model::{KmsKey, KmsKeyState};
use crate::protocol::ApiError;
use crate::state::State;

mod aliases;
pub mod crypto;
mod data;
mod keys;
pub mod policy;
#[cfg(test)]
mod tests;

pub use crypto::Secret;

/// The content type of KMS requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A KMS error: AWS's exception name and HTTP 400.
pub fn kms_error(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(400, code, message)
}

/// Maps the cloud's generic errors (authentication, authorization, storage) to KMS's names.
pub fn to_kms(e: ApiError) -> ApiError {
    let code = match e.code.as_str() {
        "AccessDenied" => "AccessDeniedException",
        "ValidationError" | "InvalidInput" => "ValidationException",
        "MalformedPolicyDocument" => "MalformedPolicyDocumentException",
        "InvalidClientTokenId" => "UnrecognizedClientException",
        "ExpiredToken" => "ExpiredTokenException",
        "LimitExceeded" => "LimitExceededException",
        "ServiceFailure" => {
            return ApiError {
                status: 500,
                code: "KMSInternalException".into(),
                ..e
            };
        }
        _ => return e,
    };
    ApiError {
        status: if e.status >= 500 { e.status } else { 400 },
        code: code.into(),
        ..e
    }
}

/// Everything a KMS operation needs.
#[derive(Debug)]
pub struct Kctx<'a> {
    /// The cloud.
    pub cloud: &'a Cloud,
    /// The state when the request arrived.
    pub state: Arc<State>,
    /// The authenticated caller.
    pub caller: &'a Caller,
    /// Network, time and forwarding facts.
    pub info: &'a RequestInfo,
}

/// A key found from a `KeyId` parameter, and the alias it was named by.
#[derive(Debug, Clone)]
pub struct Found {
    /// The key.
    pub key: KmsKey,
    /// The alias name (`alias/x`) when the key was named by alias name or alias ARN.
    pub alias: Option<String>,
}

impl Kctx<'_> {
    /// The request's region (keys are regional).
    pub fn region(&self) -> &str {
        &self.info.region
    }

    /// `kms:ViaService` for a forwarded request: `s3.amazonaws.com` → `s3.REGION.amazonaws.com`.
    pub fn via_service(&self) -> Option<String> {
        let last = self.info.called_via.last()?;
        let service = last.strip_suffix(".amazonaws.com").unwrap_or(last);
        Some(format!("{service}.{}.amazonaws.com", self.info.region))
    }

    /// Authorizes an action that has no key (`kms:CreateKey`, `kms:ListKeys`, an alias ARN).
    pub fn authorize_plain(&self, ask: Ask<'_>) -> Result<(), ApiError> {
        let mut ask = ask.with_key("kms:CallerAccount", self.caller.account.as_str());
        if let Some(via) = self.via_service() {
            ask = ask.with_key("kms:ViaService", via);
        }
        authz::authorize(&self.cloud.authz, &self.state, self.caller, &ask, self.info).map_err(to_kms)
    }

    /// Authorizes `action` on `key` with its key policy, the KMS condition keys and `extra`.
    pub fn authorize_key(
        &self,
        action: &str,
        key: &KmsKey,
        alias: Option<&str>,
        extra: Vec<(String, Value)>,
    ) -> Result<(), ApiError> {
        self.authorize_key_with_policy(action, key, &key.policy, alias, extra)
    }

    /// As [`Kctx::authorize_key`], with another key policy (the lockout safety check).
    pub fn authorize_key_with_policy(
        &self,
        action: &str,
        key: &KmsKey,
        key_policy: &str,
        alias: Option<&str>,
        extra: Vec<(String, Value)>,
    ) -> Result<(), ApiError> {
        let mut ask = Ask::new(action, key.arn())
            .with_resource_policy(Some(key_policy), PolicyKind::Resource)
            .with_key("kms:KeySpec", "SYMMETRIC_DEFAULT")
            .with_key("kms:KeyUsage", "ENCRYPT_DECRYPT")
            .with_key("kms:KeyOrigin", "AWS_KMS")
            .with_key("kms:MultiRegion", "false")
            .with_key("kms:GrantIsForAWSResource", "false");
        for t in &key.tags {
            ask = ask.with_key(format!("aws:ResourceTag/{}", t.key), t.value.as_str());
        }
        if let Some(alias) = alias {
            ask = ask.with_key("kms:RequestAlias", alias);
        }
        ask.extra.extend(extra);
        self.authorize_plain(ask)
    }

    /// Finds a key by key id, key ARN, alias name or alias ARN. Key and alias ARNs may name
    /// another account when `cross_account` (the cryptographic operations and
    /// `DescribeKey`); ids and alias names are in the caller's account.
    pub fn find_key(&self, key_id: &str, cross_account: bool) -> Result<Found, ApiError> {
        let region = self.region();
        let account = self.caller.account.as_str();
        let (acct, reg, rest) = match key_id.strip_prefix("arn:aws:kms:") {
            Some(arn) => {
                let mut parts = arn.splitn(3, ':');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(r), Some(a), Some(rest)) => (a, r, rest),
                    _ => return Err(invalid_arn(key_id)),
                }
            }
            None => (account, region, key_id),
        };
        if acct != account && !cross_account {
            return Err(kms_error(
                "NotFoundException",
                format!(
                    "Key '{key_id}' does not exist in account {account}: this operation cannot use a key of another account"
                ),
            ));
        }
        if reg != region {
            return Err(kms_error(
                "NotFoundException",
                format!(
                    "Key '{key_id}' is not in region {region}, the region of this request: KMS keys are regional; call with --region {reg}"
                ),
            ));
        }
        if rest.starts_with("alias/") {
            let name = rest;
            let alias = self
                .state
                .kms_aliases
                .get(&crate::state::alias_key(acct, reg, name))
                .ok_or_else(|| {
                    kms_error(
                        "NotFoundException",
                        format!("Alias arn:aws:kms:{reg}:{acct}:{name} is not found."),
                    )
                })?;
            let key = self.live_key(&alias.target).ok_or_else(|| {
                kms_error(
                    "NotFoundException",
                    format!("Alias arn:aws:kms:{reg}:{acct}:{name} is not found."),
                )
            })?;
            return Ok(Found {
                key: key.clone(),
                alias: Some(name.to_string()),
            });
        }
        let id = match rest.strip_prefix("key/") {
            Some(id) => id,
            None if key_id.starts_with("arn:") => return Err(invalid_arn(key_id)),
            None => rest,
        };
        match self.live_key(id) {
            Some(k) if k.account == acct && k.region == reg => Ok(Found {
                key: k.clone(),
                alias: None,
            }),
            _ => Err(kms_error(
                "NotFoundException",
                format!("Key 'arn:aws:kms:{reg}:{acct}:key/{id}' does not exist"),
            )),
        }
    }

    /// A key that exists (not past its deletion date).
    pub fn live_key(&self, id: &str) -> Option<&KmsKey> {
        self.state
            .kms_keys
            .get(id)
            .filter(|k| !is_expired(k, self.info.now))
    }
}

fn invalid_arn(key_id: &str) -> ApiError {
    kms_error(
        "NotFoundException",
        format!("Invalid arn {key_id}: use a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) or an alias ARN"),
    )
}

/// Whether a key pending deletion has passed its deletion date.
pub fn is_expired(key: &KmsKey, now: i64) -> bool {
    key.state == KmsKeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now)
}

/// Deletes the keys whose waiting period has ended, with their aliases.
pub fn purge_expired(cloud: &Cloud, now: i64) -> Result<(), ApiError> {
    let snap = cloud.shared.snapshot();
    if !snap.kms_keys.values().any(|k| is_expired(k, now)) {
        return Ok(());
    }
    cloud.shared.mutate(|tx| {
        let expired: Vec<String> = tx
            .state
            .kms_keys
            .values()
            .filter(|k| is_expired(k, now))
            .map(|k| k.id.clone())
            .collect();
        for id in &expired {
            tx.delete::<KmsKey>(id);
            let aliases: Vec<String> = tx
                .state
                .kms_aliases
                .iter()
                .filter(|(_, a)| a.target == *id)
                .map(|(k, _)| k.clone())
                .collect();
            for a in aliases {
                tx.delete::<crate::model::KmsAlias>(&a);
            }
        }
        Ok::<_, ApiError>(())
    })
}

/// Checks a key can be used in a cryptographic operation: AWS's errors for disabled keys
/// and keys pending deletion.
pub fn check_usable(key: &KmsKey) -> Result<(), ApiError> {
    match key.state {
        KmsKeyState::Enabled => Ok(()),
        KmsKeyState::Disabled => Err(kms_error(
            "DisabledException",
            format!("{} is disabled.", key.arn()),
        )),
        KmsKeyState::PendingDeletion => Err(kms_error(
            "KMSInvalidStateException",
            format!("{} is pending deletion.", key.arn()),
        )),
    }
}

// ---- JSON request bodies ----

/// A JSON request body with AWS's validation errors.
#[derive(Debug, Default)]
pub struct Body(Map<String, serde_json::Value>);

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn serialization(field: &str, expected: &str) -> ApiError {
    kms_error("SerializationException", format!("{field} must be {expected}"))
}

impl Body {
    /// Parses a request body (empty = `{}`).
    pub fn parse(bytes: &[u8]) -> Result<Body, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body::default());
        }
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(serde_json::Value::Object(m)) => Ok(Body(m)),
            _ => Err(kms_error(
                "SerializationException",
                "The request body is not a JSON object",
            )),
        }
    }

    /// A body from a JSON value (for in-process calls).
    pub fn from_value(v: serde_json::Value) -> Body {
        match v {
            serde_json::Value::Object(m) => Body(m),
            _ => Body::default(),
        }
    }

    /// An optional string member.
    pub fn str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(serialization(name, "a string")),
        }
    }

    /// A required string member.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.str(name)?.ok_or_else(|| {
            kms_error(
                "ValidationException",
                format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    lower_first(name)
                ),
            )
        })
    }

    /// A string member with a length constraint.
    pub fn str_len(&self, name: &str, min: usize, max: usize) -> Result<Option<&str>, ApiError> {
        let v = self.str(name)?;
        if let Some(s) = v {
            let n = s.chars().count();
            if n < min || n > max {
                return Err(kms_error(
                    "ValidationException",
                    format!(
                        "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to {min}",
                        lower_first(name)
                    ),
                ));
            }
        }
        Ok(v)
    }

    /// An optional integer member.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| serialization(name, "an integer")),
        }
    }

    /// An optional integer member in `min..=max`.
    pub fn int_range(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let v = self.int(name)?;
        if let Some(n) = v {
            if n < min {
                return Err(kms_error(
                    "ValidationException",
                    format!(
                        "1 validation error detected: Value '{n}' at '{}' failed to satisfy constraint: Member must have value greater than or equal to {min}",
                        lower_first(name)
                    ),
                ));
            }
            if n > max {
                return Err(kms_error(
                    "ValidationException",
                    format!(
                        "1 validation error detected: Value '{n}' at '{}' failed to satisfy constraint: Member must have value less than or equal to {max}",
                        lower_first(name)
                    ),
                ));
            }
        }
        Ok(v)
    }

    /// An optional boolean member.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(serialization(name, "a boolean")),
        }
    }

    /// A base64 blob member (`Plaintext`, `CiphertextBlob`) of `min..=max` bytes.
    pub fn blob(&self, name: &str, min: usize, max: usize) -> Result<Option<Vec<u8>>, ApiError> {
        let Some(text) = self.str(name)? else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| serialization(name, "base64-encoded binary data"))?;
        if bytes.len() < min || bytes.len() > max {
            return Err(kms_error(
                "ValidationException",
                format!(
                    "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to {min}",
                    lower_first(name)
                ),
            ));
        }
        Ok(Some(bytes))
    }

    /// An encryption context member (a map of strings).
    pub fn context(&self, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(BTreeMap::new()),
            Some(serde_json::Value::Object(m)) => {
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    let v = v
                        .as_str()
                        .ok_or_else(|| serialization(&format!("{name}.{k}"), "a string"))?;
                    out.insert(k.clone(), v.to_string());
                }
                Ok(out)
            }
            Some(_) => Err(serialization(name, "a map of strings")),
        }
    }

    /// A list of strings member.
    pub fn strings(&self, name: &str) -> Result<Vec<String>, ApiError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| serialization(name, "a list of strings"))
                })
                .collect(),
            Some(_) => Err(serialization(name, "a list of strings")),
        }
    }

    /// `Tags: [{TagKey, TagValue}]`, validated as KMS does (`TagException`).
    pub fn tags(&self) -> Result<Vec<crate::model::Tag>, ApiError> {
        let items = match self.0.get("Tags") {
            None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
            Some(serde_json::Value::Array(items)) => items,
            Some(_) => return Err(serialization("Tags", "a list of tags")),
        };
        let mut out: Vec<crate::model::Tag> = Vec::new();
        for item in items {
            let key = item.get("TagKey").and_then(|v| v.as_str());
            let value = item.get("TagValue").and_then(|v| v.as_str());
            let (Some(key), Some(value)) = (key, value) else {
                return Err(kms_error(
                    "ValidationException",
                    "every tag needs a TagKey and a TagValue",
                ));
            };
            check_tag(key, value)?;
            out.retain(|t| t.key != key);
            out.push(crate::model::Tag {
                key: key.to_string(),
                value: value.to_string(),
            });
        }
        if out.len() > 50 {
            return Err(kms_error("TagException", "a KMS key can have at most 50 tags"));
        }
        Ok(out)
    }
}

/// Checks a tag as KMS does.
pub fn check_tag(key: &str, value: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
        return Err(kms_error(
            "TagException",
            format!("tag `{key}`: keys are 1 to 128 characters and values at most 256"),
        ));
    }
    if key.starts_with("aws:") {
        return Err(kms_error(
            "TagException",
            format!("tag key `{key}`: the aws: prefix is reserved for AWS"),
        ));
    }
    Ok(())
}

/// The condition keys of an encryption context: `kms:EncryptionContext:K` and
/// `kms:EncryptionContextKeys`.
pub fn context_keys(context: &BTreeMap<String, String>) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = context
        .iter()
        .map(|(k, v)| (format!("kms:EncryptionContext:{k}"), Value::Single(v.clone())))
        .collect();
    if !context.is_empty() {
        out.push((
            "kms:EncryptionContextKeys".into(),
            Value::Multi(context.keys().cloned().collect()),
        ));
    }
    out
}

/// Base64 of bytes, as JSON blobs are written.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Runs a KMS operation. `Ok` is the response document.
pub fn dispatch(k: &Kctx<'_>, op: &str, body: &Body) -> Result<serde_json::Value, ApiError> {
    match op {
        "CreateKey" => keys::create_key(k, body),
        "DescribeKey" => keys::describe_key(k, body),
        "ListKeys" => keys::list_keys(k, body),
        "EnableKey" => keys::enable_key(k, body),
        "DisableKey" => keys::disable_key(k, body),
        "ScheduleKeyDeletion" => keys::schedule_key_deletion(k, body),
        "CancelKeyDeletion" => keys::cancel_key_deletion(k, body),
        "GetKeyPolicy" => keys::get_key_policy(k, body),
        "PutKeyPolicy" => keys::put_key_policy(k, body),
        "ListKeyPolicies" => keys::list_key_policies(k, body),
        "TagResource" => keys::tag_resource(k, body),
        "UntagResource" => keys::untag_resource(k, body),
        "ListResourceTags" => keys::list_resource_tags(k, body),
        "CreateAlias" => aliases::create_alias(k, body),
        "DeleteAlias" => aliases::delete_alias(k, body),
        "UpdateAlias" => aliases::update_alias(k, body),
        "ListAliases" => aliases::list_aliases(k, body),
        "Encrypt" => data::encrypt(k, body),
        "Decrypt" => data::decrypt(k, body),
        "ReEncrypt" => data::re_encrypt(k, body),
        "GenerateDataKey" => data::generate_data_key(k, body, true),
        "GenerateDataKeyWithoutPlaintext" => data::generate_data_key(k, body, false),
        "GenerateRandom" => data::generate_random(k, body),
        other => Err(kms_error(
            "UnsupportedOperationException",
            format!("Porteiro's embedded KMS does not implement {other}"),
        )),
    }
}

// ---- HTTP ----

/// Serves one KMS request (already identified as KMS by the server).
/// Requests through a VPC endpoint (`vpc`) carry its keys instead of `aws:SourceIp`.
pub fn serve(
    cloud: &Cloud,
    req: &Request<Bytes>,
    remote: SocketAddr,
    vpc: Option<&VpcEndpoint>,
    now: i64,
    request_id: &str,
) -> Response<Full<Bytes>> {
    match run(cloud, req, remote, vpc, now) {
        Ok(doc) => json_response(StatusCode::OK, doc.to_string(), request_id),
        Err(e) => error_response(&to_kms(e), request_id),
    }
}

fn run(
    cloud: &Cloud,
    req: &Request<Bytes>,
    remote: SocketAddr,
    vpc: Option<&VpcEndpoint>,
    now: i64,
) -> Result<serde_json::Value, ApiError> {
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let sreq =
        porteiro_sigv4::Request::new(req.method().as_str(), path, query, &headers).with_body(req.body());
    let sig_err = |e: porteiro_sigv4::SigError| {
        let aws = e.to_aws(Protocol::Json);
        ApiError::new(aws.status, aws.code, aws.message)
    };
    let auth = porteiro_sigv4::parse(&sreq).map_err(sig_err)?;
    let state = cloud.shared.snapshot();
    let (caller, secret) = authz::resolve(&state, auth.access_key_id(), auth.session_token(), now)?;
    porteiro_sigv4::verify(&sreq, &auth, &secret, now).map_err(sig_err)?;
    let op = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("TrentService."))
        .ok_or_else(|| {
            kms_error(
                "UnknownOperationException",
                "a KMS request needs the header X-Amz-Target: TrentService.<Operation>",
            )
        })?;
    let body = Body::parse(req.body())?;
    purge_expired(cloud, now)?;
    let mut info = RequestInfo::direct(remote.ip(), auth.region(), now);
    info.vpc = vpc.cloned();
    let k = Kctx {
        cloud,
        state: cloud.shared.snapshot(),
        caller: &caller,
        info: &info,
    };
    dispatch(&k, op, &body)
}

fn json_response(status: StatusCode, body: String, request_id: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(HeaderName::from_static("x-amzn-requestid"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&crate::time::http_date(crate::time::now())) {
        h.insert(hyper::header::DATE, v);
    }
    resp
}

/// The JSON 1.1 error response: `{"__type": "...", "message": "..."}`.
pub fn error_response(e: &ApiError, request_id: &str) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"__type": e.code, "message": e.message}).to_string();
    json_response(status, body, request_id)
}

// ---- Forward access sessions (in-process API for other services) ----

/// A data key generated for a service acting for a caller (SSE-KMS).
#[derive(Debug)]
pub struct DataKey {
    /// The plaintext data key (32 bytes); use it and drop it.
    pub plaintext: Secret,
    /// The data key encrypted under the KMS key: store it with the object.
    pub ciphertext_blob: Vec<u8>,
    /// The ARN of the KMS key.
    pub key_arn: String,
}

/// A data key decrypted for a service acting for a caller.
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Secret,
    /// The ARN of the KMS key that decrypted it.
    pub key_arn: String,
}

/// `GenerateDataKey` (AES_256) as a forward access session. `state` is the snapshot the
/// calling service authorized its own request with; `info` is the original
/// request's facts forwarded by the calling service (`info.forwarded_by("s3.amazonaws.com")`),
/// so the engine sees `aws:CalledVia`, `aws:ViaAWSService`, no VPC keys, and KMS adds
/// `kms:ViaService` (`s3.REGION.amazonaws.com`) and the `kms:EncryptionContext:*` keys of
/// `encryption_context` (S3 passes `{"aws:s3:arn": "arn:aws:s3:::bucket/key"}`).
///
/// `key_id` is a key id, key ARN, alias name or alias ARN; `None` uses the AWS managed key of
/// the calling service (`alias/aws/s3`), created on first use. Errors are KMS's
/// (`AccessDeniedException`, `NotFoundException`, `DisabledException`, ...): the caller maps
/// them to its own protocol.
pub fn generate_data_key_for(
    cloud: &Cloud,
    state: &Arc<State>,
    caller: &Caller,
    info: &RequestInfo,
    key_id: Option<&str>,
    encryption_context: &BTreeMap<String, String>,
) -> Result<DataKey, ApiError> {
    purge_expired(cloud, info.now)?;
    let (key_id, state) = match key_id {
        Some(id) => (id.to_string(), state.clone()),
        // The managed key may have just been created: read the newest state.
        None => (
            keys::aws_managed_key(cloud, state, caller, info)?,
            cloud.shared.snapshot(),
        ),
    };
    let mut body = json!({"KeyId": key_id, "KeySpec": "AES_256"});
    if !encryption_context.is_empty() {
        body["EncryptionContext"] = json!(encryption_context);
    }
    let k = Kctx {
        cloud,
        state: state.clone(),
        caller,
        info,
    };
    let (plaintext, ciphertext_blob, key) = data::generate(&k, &Body::from_value(body), true)?;
    Ok(DataKey {
        plaintext: plaintext.unwrap_or_else(|| Secret::new(Vec::new())),
        ciphertext_blob,
        key_arn: key.arn(),
    })
}

/// `Decrypt` as a forward access session (see [`generate_data_key_for`] for `info` and
/// `encryption_context`). The blob names its key; `kms:Decrypt` is authorized on it.
pub fn decrypt_for(
    cloud: &Cloud,
    state: &Arc<State>,
    caller: &Caller,
    info: &RequestInfo,
    ciphertext_blob: &[u8],
    encryption_context: &BTreeMap<String, String>,
) -> Result<Decrypted, ApiError> {
    purge_expired(cloud, info.now)?;
    let k = Kctx {
        cloud,
        state: state.clone(),
        caller,
        info,
    };
    let (plaintext, key) = data::decrypt_blob(&k, ciphertext_blob, encryption_context, None)?;
    Ok(Decrypted {
        plaintext,
        key_arn: key.arn(),
    })
}
