//! Users, their tags and permissions boundaries, and the account summary.

use super::{
    Ctx, check_name, check_path, merge_tags, paginate, untag, write_tags, write_truncation, write_user,
};
use crate::authz::Ask;
use crate::model::User;
use crate::protocol::ApiError;
use crate::state::name_key;

fn no_such_user(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The user with name {name} cannot be found."))
}

/// The user named `name` in the caller's account, or `NoSuchEntity`.
pub(crate) fn find<'a>(ctx: &'a Ctx<'_>, name: &str) -> Result<&'a User, ApiError> {
    ctx.state
        .users
        .get(&name_key(ctx.account(), name))
        .ok_or_else(|| no_such_user(name))
}

/// The user a call is about: `UserName`, or the caller itself when it is an IAM user.
fn target_name(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    match ctx.params.get("UserName") {
        Some(n) => {
            check_name(n, "UserName", 64)?;
            Ok(n.to_string())
        }
        None => ctx.caller.user_name().map(str::to_string).ok_or_else(|| {
            ApiError::validation("Must specify userName when calling with non-User credentials")
        }),
    }
}

fn user_arn(ctx: &Ctx<'_>, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{}:user{path}{name}", ctx.account())
}

pub(super) fn create_user(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 64)?;
    let path = ctx.params.get("Path").unwrap_or("/");
    check_path(path)?;
    let tags = ctx.params.tags()?;
    let boundary = ctx.params.get("PermissionsBoundary").map(str::to_string);
    let mut ask = Ask::new("iam:CreateUser", user_arn(ctx, path, name)).with_request_tags(&tags);
    if let Some(b) = &boundary {
        ask.extra
            .push(("iam:PermissionsBoundary".into(), b.as_str().into()));
    }
    ctx.authorize(&ask)?;
    let user = ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        if let Some(existing) = tx.state.users.get(&key) {
            return Err(ApiError::already_exists(format!(
                "User with name {} already exists.",
                existing.name
            )));
        }
        if let Some(b) = &boundary
            && super::find_policy(tx.state, b).is_none()
        {
            return Err(ApiError::no_such_entity(format!(
                "Policy {b} does not exist or is not attachable."
            )));
        }
        let user = User {
            account: ctx.account().to_string(),
            name: name.to_string(),
            path: path.to_string(),
            id: crate::ids::aws_id("AIDA"),
            created: ctx.info.now,
            tags: tags.clone(),
            inline: Default::default(),
            attached: Vec::new(),
            boundary: boundary.clone(),
        };
        tx.put(user.clone());
        Ok(user)
    })?;
    Ok(ctx.respond("CreateUser", |x| {
        x.open("User");
        write_user(x, &user, true);
        x.close("User");
    }))
}

pub(super) fn get_user(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = target_name(ctx)?;
    let ask = match ctx.state.users.get(&name_key(ctx.account(), &name)) {
        Some(user) => user_ask("iam:GetUser", user),
        None => Ask::new("iam:GetUser", user_arn(ctx, "/", &name)),
    };
    ctx.authorize(&ask)?;
    let user = find(ctx, &name)?;
    Ok(ctx.respond("GetUser", |x| {
        x.open("User");
        write_user(x, user, true);
        x.close("User");
    }))
}

pub(super) fn list_users(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let prefix = ctx.params.get("PathPrefix").unwrap_or("/");
    // AWS authorizes ListUsers on the path prefix: `arn:aws:iam::ACCOUNT:user{PathPrefix}`.
    ctx.authorize(&Ask::new(
        "iam:ListUsers",
        format!("arn:aws:iam::{}:user{prefix}", ctx.account()),
    ))?;
    let users: Vec<&User> = ctx
        .state
        .users
        .values()
        .filter(|u| u.account == ctx.account() && u.path.starts_with(prefix))
        .collect();
    let (page, next) = paginate(ctx.params, users)?;
    Ok(ctx.respond("ListUsers", |x| {
        x.open("Users");
        for u in &page {
            x.open("member");
            write_user(x, u, false);
            x.close("member");
        }
        x.close("Users");
        write_truncation(x, next.as_deref());
    }))
}

pub(super) fn update_user(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 64)?;
    let new_name = ctx.params.get("NewUserName");
    if let Some(n) = new_name {
        check_name(n, "NewUserName", 64)?;
    }
    let new_path = ctx.params.get("NewPath");
    if let Some(p) = new_path {
        check_path(p)?;
    }
    let user = find(ctx, name)?;
    ctx.authorize(&user_ask("iam:UpdateUser", user))?;
    ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        let mut user = tx
            .state
            .users
            .get(&key)
            .cloned()
            .ok_or_else(|| no_such_user(name))?;
        if let Some(n) = new_name {
            let new_key = name_key(ctx.account(), n);
            if new_key != key && tx.state.users.contains_key(&new_key) {
                return Err(ApiError::already_exists(format!(
                    "User with name {n} already exists."
                )));
            }
            // Keys, login profile and group memberships follow the user.
            let keys: Vec<_> = tx
                .state
                .keys
                .values()
                .filter(|k| {
                    k.account == user.account && k.owner == crate::model::KeyOwner::User(user.name.clone())
                })
                .cloned()
                .collect();
            for mut k in keys {
                k.owner = crate::model::KeyOwner::User(n.to_string());
                tx.put(k);
            }
            if let Some(mut lp) = tx.delete::<crate::model::LoginProfile>(&key) {
                lp.user = n.to_string();
                tx.put(lp);
            }
            let groups: Vec<_> = tx
                .state
                .groups
                .values()
                .filter(|g| g.account == user.account)
                .cloned()
                .collect();
            for mut g in groups {
                if let Some(m) = g.members.iter_mut().find(|m| m.eq_ignore_ascii_case(&user.name)) {
                    *m = n.to_string();
                    tx.put(g);
                }
            }
            tx.delete::<User>(&key);
            user.name = n.to_string();
        }
        if let Some(p) = new_path {
            user.path = p.to_string();
        }
        tx.put(user);
        Ok(())
    })?;
    Ok(ctx.respond_empty("UpdateUser"))
}

pub(super) fn delete_user(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 64)?;
    let user = find(ctx, name)?;
    ctx.authorize(&user_ask("iam:DeleteUser", user))?;
    ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        let user = tx
            .state
            .users
            .get(&key)
            .cloned()
            .ok_or_else(|| no_such_user(name))?;
        let conflict = |what: &str| {
            Err(ApiError::delete_conflict(format!(
                "Cannot delete entity, must {what} first. (user {})",
                user.name
            )))
        };
        let owner = crate::model::KeyOwner::User(user.name.clone());
        if tx
            .state
            .keys
            .values()
            .any(|k| k.account == user.account && k.owner == owner)
        {
            return conflict("delete access keys");
        }
        if tx.state.login_profiles.contains_key(&key) {
            return conflict("delete login profile");
        }
        if !user.inline.is_empty() {
            return conflict("delete policies");
        }
        if !user.attached.is_empty() {
            return conflict("detach all policies");
        }
        if tx.state.groups.values().any(|g| {
            g.account == user.account && g.members.iter().any(|m| m.eq_ignore_ascii_case(&user.name))
        }) {
            return conflict("remove user from all groups");
        }
        tx.delete::<User>(&key);
        Ok(())
    })?;
    Ok(ctx.respond_empty("DeleteUser"))
}

pub(super) fn tag_user(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 64)?;
    let tags = ctx.params.tags()?;
    let user = find(ctx, name)?;
    ctx.authorize(&user_ask("iam:TagUser", user).with_request_tags(&tags))?;
    ctx.mutate(|tx| {
        let mut user = tx
            .state
            .users
            .get(&name_key(ctx.account(), name))
            .cloned()
            .ok_or_else(|| no_such_user(name))?;
        merge_tags(&mut user.tags, tags)?;
        tx.put(user);
        Ok(())
    })?;
    Ok(ctx.respond_empty("TagUser"))
}

pub(super) fn untag_user(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 64)?;
    let keys = ctx.params.list("TagKeys");
    let user = find(ctx, name)?;
    let mut ask = user_ask("iam:UntagUser", user);
    ask.extra.push((
        "aws:TagKeys".into(),
        porteiro_iam::Value::Multi(keys.iter().map(|k| k.to_string()).collect()),
    ));
    ctx.authorize(&ask)?;
    ctx.mutate(|tx| {
        let mut user = tx
            .state
            .users
            .get(&name_key(ctx.account(), name))
            .cloned()
            .ok_or_else(|| no_such_user(name))?;
        untag(&mut user.tags, &keys);
        tx.put(user);
        Ok(())
    })?;
    Ok(ctx.respond_empty("UntagUser"))
}

pub(super) fn list_user_tags(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 64)?;
    let user = find(ctx, name)?;
    ctx.authorize(&user_ask("iam:ListUserTags", user))?;
    Ok(ctx.respond("ListUserTags", |x| {
        if user.tags.is_empty() {
            x.open("Tags").close("Tags");
        } else {
            write_tags(x, &user.tags);
        }
        x.elem("IsTruncated", "false");
    }))
}

pub(super) fn put_user_permissions_boundary(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 64)?;
    let boundary = ctx.params.required("PermissionsBoundary")?.to_string();
    let user = find(ctx, name)?;
    let mut ask = user_ask("iam:PutUserPermissionsBoundary", user);
    ask.extra
        .push(("iam:PermissionsBoundary".into(), boundary.as_str().into()));
    ctx.authorize(&ask)?;
    ctx.mutate(|tx| {
        if super::find_policy(tx.state, &boundary).is_none() {
            return Err(ApiError::no_such_entity(format!(
                "Policy {boundary} does not exist or is not attachable."
            )));
        }
        let mut user = tx
            .state
            .users
            .get(&name_key(ctx.account(), name))
            .cloned()
            .ok_or_else(|| no_such_user(name))?;
        user.boundary = Some(boundary.clone());
        tx.put(user);
        Ok(())
    })?;
    Ok(ctx.respond_empty("PutUserPermissionsBoundary"))
}

pub(super) fn delete_user_permissions_boundary(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 64)?;
    let user = find(ctx, name)?;
    ctx.authorize(&user_ask("iam:DeleteUserPermissionsBoundary", user))?;
    ctx.mutate(|tx| {
        let mut user = tx
            .state
            .users
            .get(&name_key(ctx.account(), name))
            .cloned()
            .ok_or_else(|| no_such_user(name))?;
        user.boundary = None;
        tx.put(user);
        Ok(())
    })?;
    Ok(ctx.respond_empty("DeleteUserPermissionsBoundary"))
}

pub(super) fn get_account_summary(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    ctx.authorize(&Ask::new("iam:GetAccountSummary", "*"))?;
    let acct = ctx.account();
    let s = &ctx.state;
    let users = s.users.values().filter(|u| u.account == acct).count();
    let groups = s.groups.values().filter(|g| g.account == acct).count();
    let roles = s.roles.values().filter(|r| r.account == acct).count();
    let policies = s.policies.values().filter(|p| p.account == acct).count();
    let versions: usize = s
        .policies
        .values()
        .filter(|p| p.account == acct)
        .map(|p| p.versions.len())
        .sum();
    let root_keys = s
        .keys
        .values()
        .filter(|k| k.account == acct && k.owner == crate::model::KeyOwner::Root)
        .count();
    let entries: [(&str, usize); 19] = [
        ("Users", users),
        ("UsersQuota", 5000),
        ("Groups", groups),
        ("GroupsQuota", 300),
        ("Roles", roles),
        ("RolesQuota", 1000),
        ("Policies", policies),
        ("PoliciesQuota", 1500),
        ("PolicyVersionsInUse", versions),
        ("PolicyVersionsInUseQuota", 10000),
        ("AttachedPoliciesPerUserQuota", 10),
        ("AttachedPoliciesPerGroupQuota", 10),
        ("AttachedPoliciesPerRoleQuota", 10),
        ("GroupsPerUserQuota", 10),
        ("AccessKeysPerUserQuota", 2),
        ("AccountAccessKeysPresent", usize::from(root_keys > 0)),
        ("AccountMFAEnabled", 0),
        ("MFADevices", 0),
        ("ServerCertificates", 0),
    ];
    Ok(ctx.respond("GetAccountSummary", |x| {
        x.open("SummaryMap");
        for (k, v) in entries {
            x.open("entry")
                .elem("key", k)
                .elem("value", &v.to_string())
                .close("entry");
        }
        x.close("SummaryMap");
    }))
}

/// An action on an existing user, with the user's tags as `aws:ResourceTag/*` and
/// `iam:ResourceTag/*`.
fn user_ask<'a>(action: &'a str, user: &User) -> Ask<'a> {
    let mut ask = Ask::new(action, user.arn());
    super::policies::add_resource_tags(&mut ask, &user.tags);
    ask
}
