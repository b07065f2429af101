//! Long-term access keys of IAM users.
//!
//! The root user's keys are not IAM users' keys: no operation here lists, changes or deletes
//! them. The secret access key is answered once, by `CreateAccessKey`.

use super::policies::Holder;
use super::{Ctx, check_name, paginate, write_truncation};
use crate::authz::Ask;
use crate::model::{AccessKey, KeyOwner};
use crate::protocol::ApiError;
use crate::state::name_key;
use crate::time::iso8601;

/// Access keys one user may have.
const KEYS_PER_USER: usize = 2;

/// Runs the operation if it belongs to this module.
pub(super) fn handle(ctx: &Ctx<'_>, action: &str) -> Option<Result<String, ApiError>> {
    Some(match action {
        "CreateAccessKey" => create_access_key(ctx),
        "ListAccessKeys" => list_access_keys(ctx),
        "UpdateAccessKey" => update_access_key(ctx),
        "DeleteAccessKey" => delete_access_key(ctx),
        "GetAccessKeyLastUsed" => get_access_key_last_used(ctx),
        _ => return None,
    })
}

fn no_such_user(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The user with name {name} cannot be found."))
}

fn no_such_key(id: &str) -> ApiError {
    ApiError::no_such_entity(format!("The Access Key with id {id} cannot be found"))
}

/// The user a call is about: `UserName` (at most `max` characters), or the calling IAM user.
pub(super) fn target_user(ctx: &Ctx<'_>, max: usize) -> Result<String, ApiError> {
    match ctx.params.get("UserName") {
        Some(n) => {
            check_name(n, "UserName", max)?;
            Ok(n.to_string())
        }
        None => ctx.caller.user_name().map(str::to_string).ok_or_else(|| {
            ApiError::validation("Must specify userName when calling with non-User credentials")
        }),
    }
}

/// An ask on the user (its ARN, or the ARN it would have when it does not exist).
pub(super) fn user_ask<'a>(ctx: &Ctx<'_>, action: &'a str, name: &str) -> Ask<'a> {
    let mut ask = Ask::new(action, Holder::User.resource_arn(&ctx.state, ctx.account(), name));
    if let Some(user) = ctx.state.users.get(&crate::state::name_key(ctx.account(), name)) {
        super::policies::add_resource_tags(&mut ask, &user.tags);
    }
    ask
}

/// Checks an access key id (16 to 128 word characters).
fn check_key_id(id: &str) -> Result<(), ApiError> {
    let ok = (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{id}' at 'accessKeyId' failed to satisfy constraint: Member must have length between 16 and 128 and match the pattern [\\w]+"
        )));
    }
    Ok(())
}

/// `AccessKeyId`, checked.
fn key_id<'a>(ctx: &'a Ctx<'_>) -> Result<&'a str, ApiError> {
    let id = ctx.params.required("AccessKeyId")?;
    check_key_id(id)?;
    Ok(id)
}

fn status(key: &AccessKey) -> &'static str {
    if key.active { "Active" } else { "Inactive" }
}

fn create_access_key(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = target_user(ctx, 128)?;
    ctx.authorize(&user_ask(ctx, "iam:CreateAccessKey", &name))?;
    let (key, user_name) = ctx.mutate(|tx| {
        let user = tx
            .state
            .users
            .get(&name_key(ctx.account(), &name))
            .ok_or_else(|| no_such_user(&name))?;
        let owner = KeyOwner::User(user.name.clone());
        let user_name = user.name.clone();
        let count = tx
            .state
            .keys
            .values()
            .filter(|k| k.account == ctx.account() && k.owner == owner)
            .count();
        if count >= KEYS_PER_USER {
            return Err(ApiError::limit_exceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {KEYS_PER_USER}"
            )));
        }
        let mut id = crate::ids::aws_id("AKIA");
        while tx.state.keys.contains_key(&id) || tx.state.sessions.contains_key(&id) {
            id = crate::ids::aws_id("AKIA");
        }
        let key = AccessKey {
            account: ctx.account().to_string(),
            owner,
            id,
            secret: crate::ids::secret_key(),
            active: true,
            created: ctx.info.now,
        };
        tx.put(key.clone());
        Ok((key, user_name))
    })?;
    Ok(ctx.respond("CreateAccessKey", |x| {
        x.open("AccessKey")
            .elem("UserName", &user_name)
            .elem("AccessKeyId", &key.id)
            .elem("Status", status(&key))
            .elem("SecretAccessKey", &key.secret)
            .elem("CreateDate", &iso8601(key.created))
            .close("AccessKey");
    }))
}

fn list_access_keys(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = target_user(ctx, 128)?;
    ctx.authorize(&user_ask(ctx, "iam:ListAccessKeys", &name))?;
    let user = super::users::find(ctx, &name)?;
    let owner = KeyOwner::User(user.name.clone());
    let mut keys: Vec<&AccessKey> = ctx
        .state
        .keys
        .values()
        .filter(|k| k.account == ctx.account() && k.owner == owner)
        .collect();
    keys.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    let (page, next) = paginate(ctx.params, keys)?;
    Ok(ctx.respond("ListAccessKeys", |x| {
        x.open("AccessKeyMetadata");
        for k in &page {
            x.open("member")
                .elem("UserName", &user.name)
                .elem("AccessKeyId", &k.id)
                .elem("Status", status(k))
                .elem("CreateDate", &iso8601(k.created))
                .close("member");
        }
        x.close("AccessKeyMetadata");
        write_truncation(x, next.as_deref());
    }))
}

/// Re-reads the user's key `id` in a transaction and applies `f` (which stores or deletes it).
fn change_key(
    ctx: &Ctx<'_>,
    name: &str,
    id: &str,
    f: impl FnOnce(&mut crate::state::Tx<'_>, AccessKey),
) -> Result<(), ApiError> {
    ctx.mutate(|tx| {
        let user = tx
            .state
            .users
            .get(&name_key(ctx.account(), name))
            .ok_or_else(|| no_such_user(name))?;
        let owner = KeyOwner::User(user.name.clone());
        let key = tx
            .state
            .keys
            .get(id)
            .filter(|k| k.account == ctx.account() && k.owner == owner)
            .cloned()
            .ok_or_else(|| no_such_key(id))?;
        f(tx, key);
        Ok(())
    })
}

fn update_access_key(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = target_user(ctx, 128)?;
    let id = key_id(ctx)?;
    let active = match ctx.params.required("Status")? {
        "Active" => true,
        "Inactive" => false,
        "Expired" => {
            return Err(ApiError::invalid_input(
                "An access key can be set to Active or Inactive only.",
            ));
        }
        other => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"
            )));
        }
    };
    ctx.authorize(&user_ask(ctx, "iam:UpdateAccessKey", &name))?;
    change_key(ctx, &name, id, |tx, mut key| {
        key.active = active;
        tx.put(key);
    })?;
    Ok(ctx.respond_empty("UpdateAccessKey"))
}

fn delete_access_key(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = target_user(ctx, 128)?;
    let id = key_id(ctx)?;
    ctx.authorize(&user_ask(ctx, "iam:DeleteAccessKey", &name))?;
    change_key(ctx, &name, id, |tx, key| {
        tx.delete::<AccessKey>(&key.id);
    })?;
    Ok(ctx.respond_empty("DeleteAccessKey"))
}

fn get_access_key_last_used(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let id = key_id(ctx)?;
    let user = match ctx.state.keys.get(id) {
        Some(AccessKey {
            account,
            owner: KeyOwner::User(user),
            ..
        }) if account == ctx.account() => user.clone(),
        _ => return Err(no_such_key(id)),
    };
    ctx.authorize(&user_ask(ctx, "iam:GetAccessKeyLastUsed", &user))?;
    Ok(ctx.respond("GetAccessKeyLastUsed", |x| {
        x.elem("UserName", &user)
            .open("AccessKeyLastUsed")
            .elem("ServiceName", "N/A")
            .elem("Region", "N/A")
            .close("AccessKeyLastUsed");
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids() {
        assert!(check_key_id("AKIAIOSFODNN7EXAMPLE").is_ok());
        assert!(check_key_id("AKIA").is_err());
        assert!(check_key_id("AKIAIOSFODNN7EXAMPLE-").is_err());
    }
}
