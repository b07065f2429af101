//! Roles: trust policies, descriptions, session durations, tags, permissions boundaries, and
//! (through `policies`) their inline and attached policies.

use porteiro_iam::PolicyKind;

use super::policies::{self, Holder, add_resource_tags, check_path_prefix, check_policy_arn};
use super::{
    Ctx, check_name, check_path, check_policy_document, merge_tags, paginate, untag, url_encode,
    write_boundary, write_tags, write_truncation,
};
use crate::authz::Ask;
use crate::model::Role;
use crate::protocol::ApiError;
use crate::state::name_key;

/// Characters (not counting whitespace) of a trust policy.
const TRUST_POLICY_MAX: usize = 2048;
/// `MaxSessionDuration` when none is given.
const DEFAULT_MAX_SESSION: i64 = 3600;

/// Runs the operation if it belongs to this module.
pub(super) fn handle(ctx: &Ctx<'_>, action: &str) -> Option<Result<String, ApiError>> {
    Some(match action {
        "CreateRole" => create_role(ctx),
        "GetRole" => get_role(ctx),
        "ListRoles" => list_roles(ctx),
        "UpdateRole" => update_role(ctx),
        "UpdateRoleDescription" => update_role_description(ctx),
        "UpdateAssumeRolePolicy" => update_assume_role_policy(ctx),
        "DeleteRole" => delete_role(ctx),
        "TagRole" => tag_role(ctx),
        "UntagRole" => untag_role(ctx),
        "ListRoleTags" => list_role_tags(ctx),
        "PutRolePermissionsBoundary" => put_role_permissions_boundary(ctx),
        "DeleteRolePermissionsBoundary" => delete_role_permissions_boundary(ctx),
        "PutRolePolicy" => policies::put_inline(ctx, Holder::Role),
        "GetRolePolicy" => policies::get_inline(ctx, Holder::Role),
        "ListRolePolicies" => policies::list_inline(ctx, Holder::Role),
        "DeleteRolePolicy" => policies::delete_inline(ctx, Holder::Role),
        "AttachRolePolicy" => policies::attach(ctx, Holder::Role),
        "DetachRolePolicy" => policies::detach(ctx, Holder::Role),
        "ListAttachedRolePolicies" => policies::list_attached(ctx, Holder::Role),
        _ => return None,
    })
}

fn no_such_role(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The role with name {name} cannot be found."))
}

/// `RoleName`, checked.
fn role_name<'a>(ctx: &'a Ctx<'_>) -> Result<&'a str, ApiError> {
    let name = ctx.params.required("RoleName")?;
    check_name(name, "RoleName", 64)?;
    Ok(name)
}

/// The role named `name` in the caller's account, or `NoSuchEntity`.
fn find<'a>(ctx: &'a Ctx<'_>, name: &str) -> Result<&'a Role, ApiError> {
    ctx.state
        .roles
        .get(&name_key(ctx.account(), name))
        .ok_or_else(|| no_such_role(name))
}

/// An ask on the role (its ARN and tags), or on the ARN it would have when it does not exist.
fn role_ask<'a>(ctx: &Ctx<'_>, action: &'a str, name: &str) -> Ask<'a> {
    match ctx.state.roles.get(&name_key(ctx.account(), name)) {
        Some(r) => {
            let mut ask = Ask::new(action, r.arn());
            add_resource_tags(&mut ask, &r.tags);
            ask
        }
        None => Ask::new(action, format!("arn:aws:iam::{}:role/{name}", ctx.account())),
    }
}

/// Re-reads the role in a transaction, changes it, and stores it.
fn change(
    ctx: &Ctx<'_>,
    name: &str,
    f: impl FnOnce(&mut Role) -> Result<(), ApiError>,
) -> Result<Role, ApiError> {
    ctx.mutate(|tx| {
        let mut role = tx
            .state
            .roles
            .get(&name_key(ctx.account(), name))
            .cloned()
            .ok_or_else(|| no_such_role(name))?;
        f(&mut role)?;
        tx.put(role.clone());
        Ok(role)
    })
}

/// Checks a role description (at most 1000 characters of tab, newline, carriage return,
/// printable ASCII and Latin-1).
fn check_description(description: &str) -> Result<(), ApiError> {
    if description.chars().count() > 1000 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000",
        ));
    }
    let ok = description
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'));
    if !ok {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{description}' at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*"
        )));
    }
    Ok(())
}

/// `MaxSessionDuration` (seconds, 3600 to 43200), when given.
fn max_session_duration(ctx: &Ctx<'_>) -> Result<Option<i64>, ApiError> {
    let value = ctx.params.int("MaxSessionDuration")?;
    if let Some(v) = value {
        let bound = if v < 3600 {
            Some("greater than or equal to 3600")
        } else if v > 43200 {
            Some("less than or equal to 43200")
        } else {
            None
        };
        if let Some(bound) = bound {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value {bound}"
            )));
        }
    }
    Ok(value)
}

/// The fields of a `Role` element. `detail` adds the permissions boundary, tags and
/// `RoleLastUsed` (as `GetRole` answers; `ListRoles` leaves them out).
fn write_role(x: &mut crate::xml::Xml, r: &Role, detail: bool) {
    x.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.id)
        .elem("Arn", &r.arn())
        .elem("CreateDate", &crate::time::iso8601(r.created))
        .elem("AssumeRolePolicyDocument", &url_encode(&r.trust_policy));
    x.opt("Description", r.description.as_deref());
    x.elem("MaxSessionDuration", &r.max_session_duration.to_string());
    if detail {
        write_boundary(x, r.boundary.as_deref());
        write_tags(x, &r.tags);
        x.open("RoleLastUsed").close("RoleLastUsed");
    }
}

fn create_role(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    let path = ctx.params.get("Path").unwrap_or("/");
    check_path(path)?;
    let doc = ctx.params.required("AssumeRolePolicyDocument")?;
    let description = ctx.params.get("Description");
    if let Some(d) = description {
        check_description(d)?;
    }
    let max_session = max_session_duration(ctx)?.unwrap_or(DEFAULT_MAX_SESSION);
    let tags = ctx.params.tags()?;
    let boundary = ctx.params.get("PermissionsBoundary");
    if let Some(b) = boundary {
        check_policy_arn(b)?;
    }
    check_policy_document(doc, PolicyKind::Trust, TRUST_POLICY_MAX)?;
    check_trust_principals(&ctx.state, doc)?;
    let arn = format!("arn:aws:iam::{}:role{path}{name}", ctx.account());
    let mut ask = Ask::new("iam:CreateRole", arn).with_request_tags(&tags);
    if let Some(b) = boundary {
        ask.extra.push(("iam:PermissionsBoundary".into(), b.into()));
    }
    ctx.authorize(&ask)?;
    let role = ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        if let Some(existing) = tx.state.roles.get(&key) {
            return Err(ApiError::already_exists(format!(
                "Role with name {} already exists.",
                existing.name
            )));
        }
        if let Some(b) = boundary
            && policies::attachable(tx.state, ctx.account(), b).is_none()
        {
            return Err(ApiError::no_such_entity(format!(
                "Policy {b} does not exist or is not attachable."
            )));
        }
        let role = Role {
            account: ctx.account().to_string(),
            name: name.to_string(),
            path: path.to_string(),
            id: crate::ids::aws_id("AROA"),
            created: ctx.info.now,
            trust_policy: doc.to_string(),
            description: description.filter(|d| !d.is_empty()).map(str::to_string),
            max_session_duration: max_session,
            tags: tags.clone(),
            inline: Default::default(),
            attached: Vec::new(),
            boundary: boundary.map(str::to_string),
        };
        tx.put(role.clone());
        Ok(role)
    })?;
    Ok(ctx.respond("CreateRole", |x| {
        x.open("Role");
        write_role(x, &role, true);
        x.close("Role");
    }))
}

fn get_role(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    ctx.authorize(&role_ask(ctx, "iam:GetRole", name))?;
    let role = find(ctx, name)?;
    Ok(ctx.respond("GetRole", |x| {
        x.open("Role");
        write_role(x, role, true);
        x.close("Role");
    }))
}

fn list_roles(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let prefix = ctx.params.get("PathPrefix").unwrap_or("/");
    check_path_prefix(prefix)?;
    ctx.authorize(&Ask::new(
        "iam:ListRoles",
        format!("arn:aws:iam::{}:role{prefix}", ctx.account()),
    ))?;
    let roles: Vec<&Role> = ctx
        .state
        .roles
        .values()
        .filter(|r| r.account == ctx.account() && r.path.starts_with(prefix))
        .collect();
    let (page, next) = paginate(ctx.params, roles)?;
    Ok(ctx.respond("ListRoles", |x| {
        x.open("Roles");
        for r in &page {
            x.open("member");
            write_role(x, r, false);
            x.close("member");
        }
        x.close("Roles");
        write_truncation(x, next.as_deref());
    }))
}

fn update_role(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    let description = ctx.params.get("Description");
    if let Some(d) = description {
        check_description(d)?;
    }
    let max_session = max_session_duration(ctx)?;
    ctx.authorize(&role_ask(ctx, "iam:UpdateRole", name))?;
    change(ctx, name, |role| {
        if let Some(d) = description {
            role.description = (!d.is_empty()).then(|| d.to_string());
        }
        if let Some(m) = max_session {
            role.max_session_duration = m;
        }
        Ok(())
    })?;
    Ok(ctx.respond("UpdateRole", |_| {}))
}

fn update_role_description(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    let description = ctx.params.required("Description")?;
    check_description(description)?;
    ctx.authorize(&role_ask(ctx, "iam:UpdateRoleDescription", name))?;
    let role = change(ctx, name, |role| {
        role.description = (!description.is_empty()).then(|| description.to_string());
        Ok(())
    })?;
    Ok(ctx.respond("UpdateRoleDescription", |x| {
        x.open("Role");
        write_role(x, &role, true);
        x.close("Role");
    }))
}

fn update_assume_role_policy(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    let doc = ctx.params.required("PolicyDocument")?;
    check_policy_document(doc, PolicyKind::Trust, TRUST_POLICY_MAX)?;
    check_trust_principals(&ctx.state, doc)?;
    ctx.authorize(&role_ask(ctx, "iam:UpdateAssumeRolePolicy", name))?;
    change(ctx, name, |role| {
        role.trust_policy = doc.to_string();
        Ok(())
    })?;
    Ok(ctx.respond_empty("UpdateAssumeRolePolicy"))
}

fn delete_role(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    ctx.authorize(&role_ask(ctx, "iam:DeleteRole", name))?;
    ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        let role = tx.state.roles.get(&key).ok_or_else(|| no_such_role(name))?;
        if !role.inline.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !role.attached.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        tx.delete::<Role>(&key);
        Ok(())
    })?;
    Ok(ctx.respond_empty("DeleteRole"))
}

fn tag_role(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    let tags = ctx.params.tags()?;
    ctx.authorize(&role_ask(ctx, "iam:TagRole", name).with_request_tags(&tags))?;
    change(ctx, name, |role| merge_tags(&mut role.tags, tags))?;
    Ok(ctx.respond_empty("TagRole"))
}

fn untag_role(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    let keys = ctx.params.list("TagKeys");
    let mut ask = role_ask(ctx, "iam:UntagRole", name);
    ask.extra.push(("aws:TagKeys".into(), keys.clone().into()));
    ctx.authorize(&ask)?;
    change(ctx, name, |role| {
        untag(&mut role.tags, &keys);
        Ok(())
    })?;
    Ok(ctx.respond_empty("UntagRole"))
}

fn list_role_tags(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    ctx.authorize(&role_ask(ctx, "iam:ListRoleTags", name))?;
    let role = find(ctx, name)?;
    policies::write_tag_page(ctx, "ListRoleTags", role.tags.clone())
}

fn put_role_permissions_boundary(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    let boundary = ctx.params.required("PermissionsBoundary")?;
    check_policy_arn(boundary)?;
    let mut ask = role_ask(ctx, "iam:PutRolePermissionsBoundary", name);
    ask.extra
        .push(("iam:PermissionsBoundary".into(), boundary.into()));
    ctx.authorize(&ask)?;
    ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        let mut role = tx
            .state
            .roles
            .get(&key)
            .cloned()
            .ok_or_else(|| no_such_role(name))?;
        let policy = policies::attachable(tx.state, ctx.account(), boundary).ok_or_else(|| {
            ApiError::no_such_entity(format!("Policy {boundary} does not exist or is not attachable."))
        })?;
        role.boundary = Some(policy.arn());
        tx.put(role);
        Ok(())
    })?;
    Ok(ctx.respond_empty("PutRolePermissionsBoundary"))
}

fn delete_role_permissions_boundary(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = role_name(ctx)?;
    let mut ask = role_ask(ctx, "iam:DeleteRolePermissionsBoundary", name);
    if let Some(b) = ctx
        .state
        .roles
        .get(&name_key(ctx.account(), name))
        .and_then(|r| r.boundary.as_deref())
    {
        ask.extra.push(("iam:PermissionsBoundary".into(), b.into()));
    }
    ctx.authorize(&ask)?;
    change(ctx, name, |role| {
        role.boundary = None;
        Ok(())
    })?;
    Ok(ctx.respond_empty("DeleteRolePermissionsBoundary"))
}

/// AWS refuses a trust policy that names an IAM user or role that does not exist
/// (MalformedPolicyDocument "Invalid principal in policy"); it resolves the ARN to the
/// principal's unique id when the policy is saved. Only accounts of this cloud can be checked.
fn check_trust_principals(state: &crate::state::State, doc: &str) -> Result<(), ApiError> {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(doc) else {
        return Ok(());
    };
    if let serde_json::Value::String(inner) = &v {
        v = serde_json::from_str(inner).unwrap_or(serde_json::Value::Null);
    }
    let statements = match v.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let mut principals = Vec::new();
    for st in statements {
        for element in ["Principal", "NotPrincipal"] {
            match st.get(element).and_then(|p| p.get("AWS")) {
                Some(serde_json::Value::String(s)) => principals.push(s.as_str()),
                Some(serde_json::Value::Array(items)) => {
                    principals.extend(items.iter().filter_map(|i| i.as_str()));
                }
                _ => {}
            }
        }
    }
    for arn in principals {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, "iam", "", account, resource] = parts.as_slice() else {
            continue;
        };
        if !state.accounts.contains_key(*account) || resource.contains('*') {
            continue;
        }
        let exists = if let Some(rest) = resource.strip_prefix("user/") {
            let name = rest.rsplit('/').next().unwrap_or(rest);
            state
                .users
                .get(&name_key(account, name))
                .is_some_and(|u| u.arn() == arn)
        } else if let Some(rest) = resource.strip_prefix("role/") {
            let name = rest.rsplit('/').next().unwrap_or(rest);
            state
                .roles
                .get(&name_key(account, name))
                .is_some_and(|r| r.arn() == arn)
        } else {
            true
        };
        if !exists {
            return Err(ApiError::malformed_policy(format!(
                "Invalid principal in policy: \"AWS\":\"{arn}\" (no such user or role: create it first, or name the account root)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        assert!(check_description("test role\twith tabs and é").is_ok());
        assert!(check_description(&"x".repeat(1000)).is_ok());
        assert!(check_description(&"x".repeat(1001)).is_err());
        assert!(check_description("emoji 🙂").is_err());
    }
}
