//! Key management: create, describe, list, enable, disable, schedule and cancel deletion, key
//! policies, tags, and AWS managed keys.

use porteiro_iam::Value;
use serde_json::json;

use super::{Body, Kctx, crypto, kms_error, policy};
use crate::authz::{Ask, Caller, RequestInfo};
use crate::model::{KmsAlias, KmsKey, KmsKeyState, Tag, WrappedMaterial};
use crate::protocol::ApiError;
use crate::state::alias_key;

/// The longest key description.
pub const MAX_DESCRIPTION: usize = 8192;

/// AWS's `KeyMetadata` of a key.
pub fn metadata(key: &KmsKey) -> serde_json::Value {
    let mut m = json!({
        "AWSAccountId": key.account,
        "KeyId": key.id,
        "Arn": key.arn(),
        "CreationDate": key.created as f64,
        "Enabled": key.state == KmsKeyState::Enabled,
        "Description": key.description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": key.state.as_str(),
        "Origin": "AWS_KMS",
        "KeyManager": key.manager,
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    });
    if let Some(d) = key.deletion_date {
        m["DeletionDate"] = json!(d as f64);
    }
    m
}

fn unsupported(what: &str) -> ApiError {
    kms_error(
        "UnsupportedOperationException",
        format!(
            "Porteiro's embedded KMS supports only symmetric encryption keys (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT, Origin AWS_KMS, single-Region): {what} is not supported"
        ),
    )
}

fn enum_value(body: &Body, name: &str, known: &[&str]) -> Result<Option<String>, ApiError> {
    match body.str(name)? {
        None => Ok(None),
        Some(v) if known.contains(&v) => Ok(Some(v.to_string())),
        Some(v) => Err(kms_error(
            "ValidationException",
            format!(
                "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                super::lower_first(name),
                known.join(", ")
            ),
        )),
    }
}

/// New key material, wrapped under the master key.
fn new_material(k: &Kctx<'_>, id: &str) -> Result<WrappedMaterial, ApiError> {
    let material = crypto::random(crypto::MATERIAL_LEN).map_err(|e| ApiError::internal(e.to_string()))?;
    k.cloud
        .kms_master
        .wrap(id, &material)
        .map(WrappedMaterial)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The lockout safety check: the new policy must let the caller put a key policy again.
fn check_lockout(k: &Kctx<'_>, key: &KmsKey, new_policy: &str) -> Result<(), ApiError> {
    match k.authorize_key_with_policy("kms:PutKeyPolicy", key, new_policy, None, Vec::new()) {
        Ok(()) => Ok(()),
        Err(e) if e.code == "AccessDeniedException" => Err(kms_error(
            "MalformedPolicyDocumentException",
            format!(
                "{} (The policy does not allow {} to call kms:PutKeyPolicy on this key. Add a statement that allows it, or set BypassPolicyLockoutSafetyCheck to true if you mean to.)",
                policy::LOCKOUT_MESSAGE,
                k.caller.arn
            ),
        )),
        Err(e) => Err(e),
    }
}

/// `CreateKey`.
pub fn create_key(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let description = body.str_len("Description", 0, MAX_DESCRIPTION)?.unwrap_or("");
    let usage = enum_value(
        body,
        "KeyUsage",
        &[
            "SIGN_VERIFY",
            "ENCRYPT_DECRYPT",
            "GENERATE_VERIFY_MAC",
            "KEY_AGREEMENT",
        ],
    )?;
    const SPECS: &[&str] = &[
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "SYMMETRIC_DEFAULT",
        "HMAC_224",
        "HMAC_256",
        "HMAC_384",
        "HMAC_512",
        "SM2",
        "ML_DSA_44",
        "ML_DSA_65",
        "ML_DSA_87",
    ];
    let spec = enum_value(body, "KeySpec", SPECS)?;
    let cmk_spec = enum_value(body, "CustomerMasterKeySpec", SPECS)?;
    let origin = enum_value(
        body,
        "Origin",
        &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"],
    )?;
    if spec.is_some() && cmk_spec.is_some() {
        return Err(kms_error(
            "ValidationException",
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
        ));
    }
    if let Some(s) = spec.or(cmk_spec).filter(|s| s != "SYMMETRIC_DEFAULT") {
        return Err(unsupported(&format!("KeySpec {s}")));
    }
    if let Some(u) = usage.filter(|u| u != "ENCRYPT_DECRYPT") {
        return Err(unsupported(&format!("KeyUsage {u}")));
    }
    if let Some(o) = origin.filter(|o| o != "AWS_KMS") {
        return Err(unsupported(&format!("Origin {o}")));
    }
    if body.bool("MultiRegion")? == Some(true) {
        return Err(unsupported("a multi-Region key"));
    }
    if body.str("CustomKeyStoreId")?.is_some() || body.str("XksKeyId")?.is_some() {
        return Err(unsupported("a custom key store"));
    }
    let tags = body.tags()?;
    let bypass = body.bool("BypassPolicyLockoutSafetyCheck")?;
    let policy_doc = match body.str("Policy")? {
        Some(doc) => {
            policy::validate(doc)?;
            policy::check_principals(doc, &k.state)?;
            doc.to_string()
        }
        None => policy::default_key_policy(&k.caller.account),
    };
    let mut ask = Ask::new("kms:CreateKey", "*")
        .with_key("kms:KeySpec", "SYMMETRIC_DEFAULT")
        .with_key("kms:KeyUsage", "ENCRYPT_DECRYPT")
        .with_key("kms:KeyOrigin", "AWS_KMS")
        .with_key("kms:MultiRegion", "false")
        .with_request_tags(&tags);
    if let Some(b) = bypass {
        ask = ask.with_key("kms:BypassPolicyLockoutSafetyCheck", b);
    }
    k.authorize_plain(ask)?;
    if !tags.is_empty() {
        k.authorize_plain(Ask::new("kms:TagResource", "*").with_request_tags(&tags))?;
    }
    let id = crate::ids::request_id();
    let key = KmsKey {
        account: k.caller.account.clone(),
        region: k.region().to_string(),
        id: id.clone(),
        description: description.to_string(),
        state: KmsKeyState::Enabled,
        manager: "CUSTOMER".into(),
        created: k.info.now,
        deletion_date: None,
        pending_window_days: None,
        policy: policy_doc,
        tags,
        material: new_material(k, &id)?,
    };
    if bypass != Some(true) {
        check_lockout(k, &key, &key.policy)?;
    }
    let meta = metadata(&key);
    k.cloud.shared.mutate(|tx| {
        tx.put(key);
        Ok::<_, ApiError>(())
    })?;
    Ok(json!({ "KeyMetadata": meta }))
}

/// `DescribeKey` (by key id, key ARN, alias name or alias ARN; other accounts by ARN).
pub fn describe_key(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let found = k.find_key(body.required("KeyId")?, true)?;
    k.authorize_key("kms:DescribeKey", &found.key, found.alias.as_deref(), Vec::new())?;
    Ok(json!({ "KeyMetadata": metadata(&found.key) }))
}

/// Items after `marker` (by their sort key), at most `limit`, and the next marker.
pub fn page<T>(items: Vec<(String, T)>, marker: Option<&str>, limit: usize) -> (Vec<T>, Option<String>) {
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(key, _)| marker.is_none_or(|m| key.as_str() > m))
        .collect();
    let truncated = rest.len() > limit;
    rest.truncate(limit);
    let next = if truncated {
        rest.last().map(|(key, _)| key.clone())
    } else {
        None
    };
    (rest.into_iter().map(|(_, v)| v).collect(), next)
}

/// Adds `Truncated` and `NextMarker` to a list response.
pub fn paged(mut doc: serde_json::Value, next: Option<String>) -> serde_json::Value {
    doc["Truncated"] = json!(next.is_some());
    if let Some(m) = next {
        doc["NextMarker"] = json!(m);
    }
    doc
}

/// `ListKeys` (the caller's account, the request's region).
pub fn list_keys(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let limit = body.int_range("Limit", 1, 1000)?.unwrap_or(100);
    let marker = body.str("Marker")?;
    k.authorize_plain(Ask::new("kms:ListKeys", "*"))?;
    let items: Vec<(String, serde_json::Value)> = k
        .state
        .kms_keys
        .values()
        .filter(|key| key.account == k.caller.account && key.region == k.region())
        .filter(|key| !super::is_expired(key, k.info.now))
        .map(|key| (key.id.clone(), json!({"KeyId": key.id, "KeyArn": key.arn()})))
        .collect();
    let (keys, next) = page(items, marker, usize::try_from(limit).unwrap_or(100));
    Ok(paged(json!({ "Keys": keys }), next))
}

/// Finds, authorizes and changes a key of the caller's account.
fn change_key(
    k: &Kctx<'_>,
    body: &Body,
    action: &str,
    extra: Vec<(String, Value)>,
    change: impl FnOnce(&mut KmsKey) -> Result<(), ApiError>,
) -> Result<KmsKey, ApiError> {
    let found = k.find_key(body.required("KeyId")?, false)?;
    k.authorize_key(action, &found.key, found.alias.as_deref(), extra)?;
    let id = found.key.id.clone();
    k.cloud.shared.mutate(|tx| {
        let mut key = tx.state.kms_keys.get(&id).cloned().ok_or_else(|| {
            kms_error(
                "NotFoundException",
                format!("Key '{}' does not exist", found.key.arn()),
            )
        })?;
        change(&mut key)?;
        tx.put(key.clone());
        Ok(key)
    })
}

fn pending(key: &KmsKey) -> ApiError {
    kms_error(
        "KMSInvalidStateException",
        format!("{} is pending deletion.", key.arn()),
    )
}

/// `EnableKey`.
pub fn enable_key(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    change_key(k, body, "kms:EnableKey", Vec::new(), |key| {
        if key.state == KmsKeyState::PendingDeletion {
            return Err(pending(key));
        }
        key.state = KmsKeyState::Enabled;
        Ok(())
    })?;
    Ok(json!({}))
}

/// `DisableKey`.
pub fn disable_key(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    change_key(k, body, "kms:DisableKey", Vec::new(), |key| {
        if key.state == KmsKeyState::PendingDeletion {
            return Err(pending(key));
        }
        key.state = KmsKeyState::Disabled;
        Ok(())
    })?;
    Ok(json!({}))
}

/// `ScheduleKeyDeletion` (7 to 30 days, 30 by default).
pub fn schedule_key_deletion(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let days = body.int_range("PendingWindowInDays", 7, 30)?.unwrap_or(30);
    let now = k.info.now;
    let key = change_key(k, body, "kms:ScheduleKeyDeletion", Vec::new(), |key| {
        if key.state == KmsKeyState::PendingDeletion {
            return Err(pending(key));
        }
        key.state = KmsKeyState::PendingDeletion;
        key.deletion_date = Some(now + days * 86_400);
        key.pending_window_days = Some(days);
        Ok(())
    })?;
    Ok(json!({
        "KeyId": key.arn(),
        "DeletionDate": key.deletion_date.unwrap_or_default() as f64,
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days,
    }))
}

/// `CancelKeyDeletion` (the key is left disabled, as AWS does).
pub fn cancel_key_deletion(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let key = change_key(k, body, "kms:CancelKeyDeletion", Vec::new(), |key| {
        if key.state != KmsKeyState::PendingDeletion {
            return Err(kms_error(
                "KMSInvalidStateException",
                format!("{} is not pending deletion.", key.arn()),
            ));
        }
        key.state = KmsKeyState::Disabled;
        key.deletion_date = None;
        key.pending_window_days = None;
        Ok(())
    })?;
    Ok(json!({ "KeyId": key.arn() }))
}

fn check_policy_name(body: &Body) -> Result<(), ApiError> {
    match body.str("PolicyName")? {
        None | Some("default") => Ok(()),
        Some(other) => Err(kms_error(
            "NotFoundException",
            format!("No such policy exists: `{other}` (a KMS key has one key policy, named `default`)"),
        )),
    }
}

/// `GetKeyPolicy`.
pub fn get_key_policy(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    check_policy_name(body)?;
    let found = k.find_key(body.required("KeyId")?, false)?;
    k.authorize_key("kms:GetKeyPolicy", &found.key, found.alias.as_deref(), Vec::new())?;
    Ok(json!({ "Policy": found.key.policy, "PolicyName": "default" }))
}

/// `PutKeyPolicy` (validated; the lockout safety check unless bypassed).
pub fn put_key_policy(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    check_policy_name(body)?;
    let doc = body.required("Policy")?;
    let bypass = body.bool("BypassPolicyLockoutSafetyCheck")?;
    let found = k.find_key(body.required("KeyId")?, false)?;
    let mut extra = Vec::new();
    if let Some(b) = bypass {
        extra.push(("kms:BypassPolicyLockoutSafetyCheck".to_string(), Value::from(b)));
    }
    k.authorize_key("kms:PutKeyPolicy", &found.key, found.alias.as_deref(), extra)?;
    policy::validate(doc)?;
    policy::check_principals(doc, &k.state)?;
    if bypass != Some(true) {
        check_lockout(k, &found.key, doc)?;
    }
    let id = found.key.id.clone();
    k.cloud.shared.mutate(|tx| {
        let mut key = tx.state.kms_keys.get(&id).cloned().ok_or_else(|| {
            kms_error(
                "NotFoundException",
                format!("Key '{}' does not exist", found.key.arn()),
            )
        })?;
        key.policy = doc.to_string();
        tx.put(key);
        Ok::<_, ApiError>(())
    })?;
    Ok(json!({}))
}

/// `ListKeyPolicies` (always `default`).
pub fn list_key_policies(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let found = k.find_key(body.required("KeyId")?, false)?;
    k.authorize_key(
        "kms:ListKeyPolicies",
        &found.key,
        found.alias.as_deref(),
        Vec::new(),
    )?;
    Ok(json!({ "PolicyNames": ["default"], "Truncated": false }))
}

fn tags_json(tags: &[Tag]) -> serde_json::Value {
    json!(
        tags.iter()
            .map(|t| json!({"TagKey": t.key, "TagValue": t.value}))
            .collect::<Vec<_>>()
    )
}

/// `TagResource`.
pub fn tag_resource(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let tags = body.tags()?;
    if tags.is_empty() {
        return Err(kms_error(
            "ValidationException",
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
        ));
    }
    let mut extra: Vec<(String, Value)> = tags
        .iter()
        .map(|t| {
            (
                format!("aws:RequestTag/{}", t.key),
                Value::Single(t.value.clone()),
            )
        })
        .collect();
    extra.push((
        "aws:TagKeys".into(),
        Value::Multi(tags.iter().map(|t| t.key.clone()).collect()),
    ));
    change_key(k, body, "kms:TagResource", extra, |key| {
        if key.state == KmsKeyState::PendingDeletion {
            return Err(pending(key));
        }
        for t in tags {
            key.tags.retain(|x| x.key != t.key);
            key.tags.push(t);
        }
        if key.tags.len() > 50 {
            return Err(kms_error("TagException", "a KMS key can have at most 50 tags"));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// `UntagResource`.
pub fn untag_resource(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let keys = body.strings("TagKeys")?;
    let extra = vec![("aws:TagKeys".to_string(), Value::Multi(keys.clone()))];
    change_key(k, body, "kms:UntagResource", extra, |key| {
        if key.state == KmsKeyState::PendingDeletion {
            return Err(pending(key));
        }
        key.tags.retain(|t| !keys.contains(&t.key));
        Ok(())
    })?;
    Ok(json!({}))
}

/// `ListResourceTags`.
pub fn list_resource_tags(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let found = k.find_key(body.required("KeyId")?, false)?;
    k.authorize_key(
        "kms:ListResourceTags",
        &found.key,
        found.alias.as_deref(),
        Vec::new(),
    )?;
    Ok(json!({ "Tags": tags_json(&found.key.tags), "Truncated": false }))
}

/// The id of the AWS managed key of the service that forwarded `info` (`alias/aws/s3`),
/// created with AWS's managed-key policy on first use.
pub fn aws_managed_key(
    cloud: &crate::Cloud,
    state: &crate::state::State,
    caller: &Caller,
    info: &RequestInfo,
) -> Result<String, ApiError> {
    let Some(service) = info
        .called_via
        .last()
        .map(|s| s.strip_suffix(".amazonaws.com").unwrap_or(s).to_string())
    else {
        return Err(kms_error(
            "ValidationException",
            "a KeyId is needed: only a service acting for a caller can use its AWS managed key",
        ));
    };
    let account = caller.account.clone();
    let region = info.region.clone();
    let name = format!("alias/aws/{service}");
    let akey = alias_key(&account, &region, &name);
    let live = |s: &crate::state::State| {
        s.kms_aliases
            .get(&akey)
            .and_then(|a| s.kms_keys.get(&a.target))
            .filter(|key| !super::is_expired(key, info.now))
            .map(|key| key.id.clone())
    };
    if let Some(id) = live(state) {
        return Ok(id);
    }
    let id = crate::ids::request_id();
    let material = crypto::random(crypto::MATERIAL_LEN).map_err(|e| ApiError::internal(e.to_string()))?;
    let wrapped = cloud
        .kms_master
        .wrap(&id, &material)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    cloud.shared.mutate(|tx| {
        // Another request may have created it meanwhile.
        if let Some(existing) = live(tx.state) {
            return Ok(existing);
        }
        tx.put(KmsKey {
            account: account.clone(),
            region: region.clone(),
            id: id.clone(),
            description: format!(
                "Default key that protects my {} data when no other key is defined",
                service.to_uppercase()
            ),
            state: KmsKeyState::Enabled,
            manager: "AWS".into(),
            created: info.now,
            deletion_date: None,
            pending_window_days: None,
            policy: policy::aws_managed_key_policy(&account, &region, &service),
            tags: Vec::new(),
            material: WrappedMaterial(wrapped),
        });
        tx.put(KmsAlias {
            account: account.clone(),
            region: region.clone(),
            name: name.clone(),
            target: id.clone(),
            created: info.now,
            updated: info.now,
        });
        Ok::<_, ApiError>(id.clone())
    })
}
