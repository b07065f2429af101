//! Aliases: `alias/NAME` → key, per account and region. `alias/aws/` is reserved for AWS
//! managed keys. Changing an alias needs the action on the alias (IAM policies) and on each
//! key involved (key policies), as in AWS.

use serde_json::json;

use super::keys::{page, paged};
use super::{Body, Kctx, kms_error};
use crate::authz::Ask;
use crate::model::{KmsAlias, KmsKeyState};
use crate::protocol::ApiError;
use crate::state::alias_key;

/// Checks an alias name as KMS does.
pub fn check_alias_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.chars().count() > 256 {
        return Err(kms_error(
            "ValidationException",
            "1 validation error detected: Value at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256 and greater than or equal to 1",
        ));
    }
    if !name.starts_with("alias/") {
        return Err(kms_error(
            "ValidationException",
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ));
    }
    let ok = name.len() > "alias/".len()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c));
    if !ok {
        return Err(kms_error(
            "ValidationException",
            format!(
                "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$"
            ),
        ));
    }
    Ok(())
}

fn alias_arn(k: &Kctx<'_>, name: &str) -> String {
    format!("arn:aws:kms:{}:{}:{name}", k.region(), k.caller.account)
}

/// Refuses changes to `alias/aws/...` (AWS denies them whatever the policies say).
fn check_not_reserved(k: &Kctx<'_>, action: &str, name: &str) -> Result<(), ApiError> {
    if name.starts_with("alias/aws/") {
        return Err(kms_error(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: {action} on resource: {} because the alias/aws/ prefix is reserved for AWS managed keys",
                k.caller.arn,
                alias_arn(k, name)
            ),
        ));
    }
    Ok(())
}

/// The target of `CreateAlias`/`UpdateAlias`: a key id or key ARN (not an alias) in the
/// caller's account, not pending deletion.
fn target_key(k: &Kctx<'_>, target: &str) -> Result<crate::model::KmsKey, ApiError> {
    if target.starts_with("alias/") || target.contains(":alias/") {
        return Err(kms_error(
            "ValidationException",
            format!("TargetKeyId `{target}` is an alias: an alias must point to a key id or key ARN"),
        ));
    }
    let found = k.find_key(target, false)?;
    if found.key.state == KmsKeyState::PendingDeletion {
        return Err(kms_error(
            "KMSInvalidStateException",
            format!("{} is pending deletion.", found.key.arn()),
        ));
    }
    Ok(found.key)
}

/// `CreateAlias`.
pub fn create_alias(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let name = body.required("AliasName")?;
    check_alias_name(name)?;
    let target = body.required("TargetKeyId")?;
    check_not_reserved(k, "kms:CreateAlias", name)?;
    let key = target_key(k, target)?;
    k.authorize_plain(Ask::new("kms:CreateAlias", alias_arn(k, name)))?;
    k.authorize_key("kms:CreateAlias", &key, None, Vec::new())?;
    let account = k.caller.account.clone();
    let region = k.region().to_string();
    let now = k.info.now;
    let arn = alias_arn(k, name);
    k.cloud.shared.mutate(|tx| {
        if tx
            .state
            .kms_aliases
            .contains_key(&alias_key(&account, &region, name))
        {
            return Err(kms_error(
                "AlreadyExistsException",
                format!("An alias with the name {arn} already exists"),
            ));
        }
        tx.put(KmsAlias {
            account,
            region,
            name: name.to_string(),
            target: key.id.clone(),
            created: now,
            updated: now,
        });
        Ok(())
    })?;
    Ok(json!({}))
}

fn existing_alias(k: &Kctx<'_>, name: &str) -> Result<KmsAlias, ApiError> {
    k.state
        .kms_aliases
        .get(&alias_key(&k.caller.account, k.region(), name))
        .cloned()
        .ok_or_else(|| {
            kms_error(
                "NotFoundException",
                format!("Alias {} is not found.", alias_arn(k, name)),
            )
        })
}

/// `DeleteAlias`.
pub fn delete_alias(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let name = body.required("AliasName")?;
    check_alias_name(name)?;
    check_not_reserved(k, "kms:DeleteAlias", name)?;
    let alias = existing_alias(k, name)?;
    k.authorize_plain(Ask::new("kms:DeleteAlias", alias.arn()))?;
    if let Some(key) = k.live_key(&alias.target) {
        k.authorize_key("kms:DeleteAlias", key, None, Vec::new())?;
    }
    let akey = alias_key(&alias.account, &alias.region, &alias.name);
    k.cloud.shared.mutate(|tx| {
        tx.delete::<KmsAlias>(&akey);
        Ok::<_, ApiError>(())
    })?;
    Ok(json!({}))
}

/// `UpdateAlias` (point an alias at another key of the same account and region).
pub fn update_alias(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let name = body.required("AliasName")?;
    check_alias_name(name)?;
    let target = body.required("TargetKeyId")?;
    check_not_reserved(k, "kms:UpdateAlias", name)?;
    let alias = existing_alias(k, name)?;
    let new_key = target_key(k, target)?;
    k.authorize_plain(Ask::new("kms:UpdateAlias", alias.arn()))?;
    if let Some(old) = k.live_key(&alias.target) {
        k.authorize_key("kms:UpdateAlias", old, None, Vec::new())?;
    }
    k.authorize_key("kms:UpdateAlias", &new_key, None, Vec::new())?;
    let now = k.info.now;
    k.cloud.shared.mutate(|tx| {
        let mut a = alias.clone();
        a.target = new_key.id.clone();
        a.updated = now;
        tx.put(a);
        Ok::<_, ApiError>(())
    })?;
    Ok(json!({}))
}

/// `ListAliases` (all of the account's aliases in the region, or those of one key).
pub fn list_aliases(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let limit = body.int_range("Limit", 1, 100)?.unwrap_or(50);
    let marker = body.str("Marker")?;
    // kms:ListAliases is authorized by IAM policies only (resource `*`), with or without KeyId.
    k.authorize_plain(Ask::new("kms:ListAliases", "*"))?;
    let key_filter = match body.str("KeyId")? {
        Some(id) => Some(k.find_key(id, false)?.key.id),
        None => None,
    };
    let items: Vec<(String, serde_json::Value)> = k
        .state
        .kms_aliases
        .values()
        .filter(|a| a.account == k.caller.account && a.region == k.region())
        .filter(|a| key_filter.as_ref().is_none_or(|id| *id == a.target))
        .filter(|a| k.live_key(&a.target).is_some())
        .map(|a| {
            (
                a.name.clone(),
                json!({
                    "AliasName": a.name,
                    "AliasArn": a.arn(),
                    "TargetKeyId": a.target,
                    "CreationDate": a.created as f64,
                    "LastUpdatedDate": a.updated as f64,
                }),
            )
        })
        .collect();
    let (aliases, next) = page(items, marker, usize::try_from(limit).unwrap_or(50));
    Ok(paged(json!({ "Aliases": aliases }), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names() {
        assert!(check_alias_name("alias/my-key_1/x").is_ok());
        assert!(check_alias_name("my-key").is_err());
        assert!(check_alias_name("alias/").is_err());
        assert!(check_alias_name("alias/a b").is_err());
        assert!(check_alias_name(&format!("alias/{}", "a".repeat(260))).is_err());
    }
}
