//! Managed policies and their versions; the user policy operations; and the inline and
//! attached policy operations shared by users, groups and roles.
//!
//! Customer managed policies live in the caller's account; AWS managed policies live in the
//! account `aws` (`arn:aws:iam::aws:policy/NAME`): any account may attach them, none may change
//! or delete them. A policy of another customer account is neither visible nor attachable.

use std::collections::BTreeMap;

use porteiro_iam::PolicyKind;

use super::{
    Ctx, check_name, check_policy_document, merge_tags, paginate, untag, url_encode, write_tags,
    write_truncation,
};
use crate::authz::Ask;
use crate::model::{ManagedPolicy, PolicyVersion, Tag};
use crate::protocol::ApiError;
use crate::state::{State, Tx, name_key};
use crate::time::iso8601;

/// The account that holds AWS managed policies.
const AWS_ACCOUNT: &str = "aws";
/// Versions a managed policy may have.
const MAX_VERSIONS: usize = 5;
/// Managed policies attached to one user, group or role.
const MAX_ATTACHED: usize = 10;
/// Characters (not counting whitespace) of a managed policy document.
const MANAGED_POLICY_MAX: usize = 6144;

/// Runs the operation if it belongs to this module.
pub(super) fn handle(ctx: &Ctx<'_>, action: &str) -> Option<Result<String, ApiError>> {
    Some(match action {
        "CreatePolicy" => create_policy(ctx),
        "GetPolicy" => get_policy(ctx),
        "ListPolicies" => list_policies(ctx),
        "DeletePolicy" => delete_policy(ctx),
        "TagPolicy" => tag_policy(ctx),
        "UntagPolicy" => untag_policy(ctx),
        "ListPolicyTags" => list_policy_tags(ctx),
        "CreatePolicyVersion" => create_policy_version(ctx),
        "GetPolicyVersion" => get_policy_version(ctx),
        "ListPolicyVersions" => list_policy_versions(ctx),
        "DeletePolicyVersion" => delete_policy_version(ctx),
        "SetDefaultPolicyVersion" => set_default_policy_version(ctx),
        "ListEntitiesForPolicy" => list_entities_for_policy(ctx),
        "AttachUserPolicy" => attach(ctx, Holder::User),
        "DetachUserPolicy" => detach(ctx, Holder::User),
        "ListAttachedUserPolicies" => list_attached(ctx, Holder::User),
        "PutUserPolicy" => put_inline(ctx, Holder::User),
        "GetUserPolicy" => get_inline(ctx, Holder::User),
        "ListUserPolicies" => list_inline(ctx, Holder::User),
        "DeleteUserPolicy" => delete_inline(ctx, Holder::User),
        _ => return None,
    })
}

// ---- policy ARNs ----

/// Checks the shape of a managed policy ARN (`arn:aws:iam::ACCOUNT|aws:policy/PATH/NAME`).
pub(super) fn check_policy_arn(arn: &str) -> Result<(), ApiError> {
    let invalid = || ApiError::invalid_input(format!("ARN {arn} is not valid."));
    if !(20..=2048).contains(&arn.len()) {
        return Err(invalid());
    }
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
    let (account, resource) = rest.split_once(':').ok_or_else(invalid)?;
    let account_ok =
        account == AWS_ACCOUNT || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
    let path_and_name = resource.strip_prefix("policy/").ok_or_else(invalid)?;
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    if !account_ok || name.is_empty() {
        return Err(invalid());
    }
    Ok(())
}

/// A managed policy the caller's account can see and attach: its own, or an AWS managed one.
pub(super) fn attachable<'a>(state: &'a State, account: &str, arn: &str) -> Option<&'a ManagedPolicy> {
    super::find_policy(state, arn).filter(|p| p.account == account || p.account == AWS_ACCOUNT)
}

fn not_attachable(arn: &str) -> ApiError {
    ApiError::no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
}

fn policy_not_found(arn: &str) -> ApiError {
    ApiError::no_such_entity(format!("Policy {arn} was not found."))
}

fn version_not_found(arn: &str, version: &str) -> ApiError {
    ApiError::no_such_entity(format!(
        "Policy {arn} version {version} does not exist or is not attachable."
    ))
}

/// AWS managed policies belong to AWS: no account may change them.
fn aws_managed_denied(ctx: &Ctx<'_>, action: &str, arn: &str) -> ApiError {
    ApiError::new(
        403,
        "AccessDenied",
        format!(
            "User: {} is not authorized to perform: {action} on resource: {arn} because AWS managed policies cannot be changed",
            ctx.caller.arn
        ),
    )
}

/// Checks a managed policy path (`/` or `/a/b/`, letters, digits and `.,+@=_-`).
fn check_policy_path(path: &str, param: &str) -> Result<(), ApiError> {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c))
    };
    let segments_ok = path == "/"
        || path
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix('/'))
            .is_some_and(|inner| inner.split('/').all(segment_ok));
    if !segments_ok || path.len() > 512 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{path}' at '{param}' failed to satisfy constraint: Member must satisfy regular expression pattern: ((/[A-Za-z0-9\\.,\\+@=_-]+)*)/"
        )));
    }
    Ok(())
}

/// Checks a `PathPrefix` of a list operation (`/` then printable ASCII).
pub(super) fn check_path_prefix(prefix: &str) -> Result<(), ApiError> {
    let ok = prefix.starts_with('/')
        && prefix.len() <= 512
        && prefix.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c));
    if !ok {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{prefix}' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*"
        )));
    }
    Ok(())
}

/// Checks a policy version id (`v1`, `v2`, ...).
fn check_version_id(version: &str) -> Result<(), ApiError> {
    let ok = version.strip_prefix('v').is_some_and(|rest| {
        let (number, suffix) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        !number.is_empty()
            && !number.starts_with('0')
            && number.bytes().all(|b| b.is_ascii_digit())
            && suffix.is_none_or(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    });
    if !ok {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{version}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?"
        )));
    }
    Ok(())
}

/// Adds `aws:ResourceTag/K` and `iam:ResourceTag/K` of the resource's tags.
pub(super) fn add_resource_tags(ask: &mut Ask<'_>, tags: &[Tag]) {
    for t in tags {
        ask.extra
            .push((format!("aws:ResourceTag/{}", t.key), t.value.as_str().into()));
        ask.extra
            .push((format!("iam:ResourceTag/{}", t.key), t.value.as_str().into()));
    }
}

/// How many users, groups and roles of `account` attach the policy, and how many users and
/// roles use it as their permissions boundary.
fn usage(state: &State, account: &str, arn: &str) -> (usize, usize) {
    let attached = |list: &[String]| list.iter().any(|a| a == arn);
    let users = state.users.values().filter(|u| u.account == account);
    let roles = state.roles.values().filter(|r| r.account == account);
    let groups = state.groups.values().filter(|g| g.account == account);
    let attachments = users.clone().filter(|u| attached(&u.attached)).count()
        + groups.filter(|g| attached(&g.attached)).count()
        + roles.clone().filter(|r| attached(&r.attached)).count();
    let boundaries = users.filter(|u| u.boundary.as_deref() == Some(arn)).count()
        + roles.filter(|r| r.boundary.as_deref() == Some(arn)).count();
    (attachments, boundaries)
}

/// The fields of a `Policy` element. `full` adds `Description` and `Tags` (as `GetPolicy`
/// and `CreatePolicy` answer; `ListPolicies` leaves them out).
fn write_policy(x: &mut crate::xml::Xml, state: &State, account: &str, p: &ManagedPolicy, full: bool) {
    let arn = p.arn();
    let (attachments, boundaries) = usage(state, account, &arn);
    x.elem("PolicyName", &p.name)
        .elem("PolicyId", &p.id)
        .elem("Arn", &arn)
        .elem("Path", &p.path)
        .elem("DefaultVersionId", &p.default_version)
        .elem("AttachmentCount", &attachments.to_string())
        .elem("PermissionsBoundaryUsageCount", &boundaries.to_string())
        .elem("IsAttachable", "true");
    if full {
        x.opt("Description", p.description.as_deref());
    }
    x.elem("CreateDate", &iso8601(p.created))
        .elem("UpdateDate", &iso8601(p.updated));
    if full {
        write_tags(x, &p.tags);
    }
}

/// The fields of a `PolicyVersion` element.
fn write_version(x: &mut crate::xml::Xml, p: &ManagedPolicy, v: &PolicyVersion, with_document: bool) {
    if with_document {
        x.elem("Document", &url_encode(&v.document));
    }
    x.elem("VersionId", &v.id)
        .elem(
            "IsDefaultVersion",
            if v.id == p.default_version {
                "true"
            } else {
                "false"
            },
        )
        .elem("CreateDate", &iso8601(v.created));
}

/// `PolicyArn`, checked.
fn policy_arn_param<'a>(ctx: &'a Ctx<'_>) -> Result<&'a str, ApiError> {
    let arn = ctx.params.required("PolicyArn")?;
    check_policy_arn(arn)?;
    Ok(arn)
}

/// The policy for a read, or `NoSuchEntity`.
fn lookup<'a>(ctx: &'a Ctx<'_>, arn: &str) -> Result<&'a ManagedPolicy, ApiError> {
    attachable(&ctx.state, ctx.account(), arn).ok_or_else(|| policy_not_found(arn))
}

/// The policy for a change: it must exist and belong to the caller's account.
fn for_change(tx: &Tx<'_>, ctx: &Ctx<'_>, action: &str, arn: &str) -> Result<ManagedPolicy, ApiError> {
    let p = attachable(tx.state, ctx.account(), arn).ok_or_else(|| policy_not_found(arn))?;
    if p.account == AWS_ACCOUNT {
        return Err(aws_managed_denied(ctx, action, arn));
    }
    Ok(p.clone())
}

// ---- managed policies ----

fn check_description(description: Option<&str>) -> Result<(), ApiError> {
    if let Some(d) = description
        && d.chars().count() > 1000
    {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000",
        ));
    }
    Ok(())
}

fn create_policy(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("PolicyName")?;
    check_name(name, "PolicyName", 128)?;
    let path = ctx.params.get("Path").unwrap_or("/");
    check_policy_path(path, "path")?;
    let doc = ctx.params.required("PolicyDocument")?;
    let description = ctx.params.get("Description");
    check_description(description)?;
    let tags = ctx.params.tags()?;
    check_policy_document(doc, PolicyKind::Identity, MANAGED_POLICY_MAX)?;
    let arn = format!("arn:aws:iam::{}:policy{path}{name}", ctx.account());
    ctx.authorize(&Ask::new("iam:CreatePolicy", arn).with_request_tags(&tags))?;
    let policy = ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        if let Some(existing) = tx.state.policies.get(&key) {
            return Err(ApiError::already_exists(format!(
                "A policy called {} already exists. Duplicate names are not allowed.",
                existing.name
            )));
        }
        let policy = ManagedPolicy {
            account: ctx.account().to_string(),
            name: name.to_string(),
            path: path.to_string(),
            id: crate::ids::aws_id("ANPA"),
            created: ctx.info.now,
            updated: ctx.info.now,
            description: description.map(str::to_string),
            default_version: "v1".into(),
            versions: vec![PolicyVersion {
                id: "v1".into(),
                document: doc.to_string(),
                created: ctx.info.now,
            }],
            next_version: 2,
            tags: tags.clone(),
        };
        tx.put(policy.clone());
        Ok(policy)
    })?;
    Ok(ctx.respond("CreatePolicy", |x| {
        x.open("Policy");
        write_policy(x, &ctx.state, ctx.account(), &policy, true);
        x.close("Policy");
    }))
}

fn get_policy(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    ctx.authorize(&policy_ask(ctx, "iam:GetPolicy", arn))?;
    let p = lookup(ctx, arn)?;
    Ok(ctx.respond("GetPolicy", |x| {
        x.open("Policy");
        write_policy(x, &ctx.state, ctx.account(), p, true);
        x.close("Policy");
    }))
}

/// An ask on a managed policy, with its tags as resource tags.
fn policy_ask<'a>(ctx: &Ctx<'_>, action: &'a str, arn: &str) -> Ask<'a> {
    let mut ask = Ask::new(action, arn);
    if let Some(p) = attachable(&ctx.state, ctx.account(), arn) {
        add_resource_tags(&mut ask, &p.tags);
    }
    ask
}

/// `PolicyUsageFilter`: which uses count (`None`: both).
fn usage_filter(ctx: &Ctx<'_>) -> Result<Option<bool>, ApiError> {
    match ctx.params.get("PolicyUsageFilter") {
        None => Ok(None),
        Some("PermissionsPolicy") => Ok(Some(false)),
        Some("PermissionsBoundary") => Ok(Some(true)),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'policyUsageFilter' failed to satisfy constraint: Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]"
        ))),
    }
}

fn list_policies(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let scope = ctx.params.get("Scope").unwrap_or("All");
    if !["All", "AWS", "Local"].contains(&scope) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
        )));
    }
    let only_attached = ctx.params.bool("OnlyAttached")?.unwrap_or(false);
    let prefix = ctx.params.get("PathPrefix").unwrap_or("/");
    check_policy_path(prefix, "pathPrefix")?;
    let filter = usage_filter(ctx)?;
    ctx.authorize(&Ask::new("iam:ListPolicies", "*"))?;
    let acct = ctx.account();
    let mut policies: Vec<&ManagedPolicy> = ctx
        .state
        .policies
        .values()
        .filter(|p| match scope {
            "AWS" => p.account == AWS_ACCOUNT,
            "Local" => p.account == acct,
            _ => p.account == acct || p.account == AWS_ACCOUNT,
        })
        .filter(|p| p.path.starts_with(prefix))
        .filter(|p| {
            if !only_attached {
                return true;
            }
            let (attachments, boundaries) = usage(&ctx.state, acct, &p.arn());
            match filter {
                Some(false) => attachments > 0,
                Some(true) => boundaries > 0,
                None => attachments + boundaries > 0,
            }
        })
        .collect();
    policies.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.account.cmp(&b.account))
    });
    let (page, next) = paginate(ctx.params, policies)?;
    Ok(ctx.respond("ListPolicies", |x| {
        x.open("Policies");
        for p in &page {
            x.open("member");
            write_policy(x, &ctx.state, acct, p, false);
            x.close("member");
        }
        x.close("Policies");
        write_truncation(x, next.as_deref());
    }))
}

fn delete_policy(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    ctx.authorize(&policy_ask(ctx, "iam:DeletePolicy", arn))?;
    ctx.mutate(|tx| {
        let p = for_change(tx, ctx, "iam:DeletePolicy", arn)?;
        let arn = p.arn();
        let s = &tx.state;
        let attached = s.users.values().any(|u| u.attached.contains(&arn) || u.boundary.as_deref() == Some(&arn))
            || s.groups.values().any(|g| g.attached.contains(&arn))
            || s.roles.values().any(|r| r.attached.contains(&arn) || r.boundary.as_deref() == Some(&arn));
        if attached {
            return Err(ApiError::delete_conflict("Cannot delete a policy attached to entities."));
        }
        if p.versions.len() > 1 {
            return Err(ApiError::delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        tx.delete::<ManagedPolicy>(&name_key(&p.account, &p.name));
        Ok(())
    })?;
    Ok(ctx.respond_empty("DeletePolicy"))
}

fn tag_policy(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    let tags = ctx.params.tags()?;
    ctx.authorize(&policy_ask(ctx, "iam:TagPolicy", arn).with_request_tags(&tags))?;
    ctx.mutate(|tx| {
        let mut p = for_change(tx, ctx, "iam:TagPolicy", arn)?;
        merge_tags(&mut p.tags, tags)?;
        tx.put(p);
        Ok(())
    })?;
    Ok(ctx.respond_empty("TagPolicy"))
}

fn untag_policy(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    let keys = ctx.params.list("TagKeys");
    let mut ask = policy_ask(ctx, "iam:UntagPolicy", arn);
    ask.extra.push(("aws:TagKeys".into(), keys.clone().into()));
    ctx.authorize(&ask)?;
    ctx.mutate(|tx| {
        let mut p = for_change(tx, ctx, "iam:UntagPolicy", arn)?;
        untag(&mut p.tags, &keys);
        tx.put(p);
        Ok(())
    })?;
    Ok(ctx.respond_empty("UntagPolicy"))
}

fn list_policy_tags(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    ctx.authorize(&policy_ask(ctx, "iam:ListPolicyTags", arn))?;
    let p = lookup(ctx, arn)?;
    write_tag_page(ctx, "ListPolicyTags", p.tags.clone())
}

/// A paginated `Tags` list answer (`List*Tags`).
pub(super) fn write_tag_page(ctx: &Ctx<'_>, op: &str, tags: Vec<Tag>) -> Result<String, ApiError> {
    let (page, next) = paginate(ctx.params, tags)?;
    Ok(ctx.respond(op, |x| {
        x.open("Tags");
        for t in &page {
            x.open("member")
                .elem("Key", &t.key)
                .elem("Value", &t.value)
                .close("member");
        }
        x.close("Tags");
        write_truncation(x, next.as_deref());
    }))
}

// ---- versions ----

fn create_policy_version(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    let doc = ctx.params.required("PolicyDocument")?;
    let set_default = ctx.params.bool("SetAsDefault")?.unwrap_or(false);
    check_policy_document(doc, PolicyKind::Identity, MANAGED_POLICY_MAX)?;
    ctx.authorize(&policy_ask(ctx, "iam:CreatePolicyVersion", arn))?;
    let (policy, version) = ctx.mutate(|tx| {
        let mut p = for_change(tx, ctx, "iam:CreatePolicyVersion", arn)?;
        if p.versions.len() >= MAX_VERSIONS {
            return Err(ApiError::limit_exceeded(
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
            ));
        }
        let version = PolicyVersion {
            id: format!("v{}", p.next_version),
            document: doc.to_string(),
            created: ctx.info.now,
        };
        p.next_version += 1;
        p.versions.push(version.clone());
        p.updated = ctx.info.now;
        if set_default {
            p.default_version = version.id.clone();
        }
        tx.put(p.clone());
        Ok((p, version))
    })?;
    Ok(ctx.respond("CreatePolicyVersion", |x| {
        x.open("PolicyVersion");
        write_version(x, &policy, &version, false);
        x.close("PolicyVersion");
    }))
}

fn get_policy_version(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    let version = ctx.params.required("VersionId")?;
    check_version_id(version)?;
    ctx.authorize(&policy_ask(ctx, "iam:GetPolicyVersion", arn))?;
    let p = lookup(ctx, arn)?;
    let v = p
        .versions
        .iter()
        .find(|v| v.id == version)
        .ok_or_else(|| version_not_found(arn, version))?;
    Ok(ctx.respond("GetPolicyVersion", |x| {
        x.open("PolicyVersion");
        write_version(x, p, v, true);
        x.close("PolicyVersion");
    }))
}

fn list_policy_versions(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    ctx.authorize(&policy_ask(ctx, "iam:ListPolicyVersions", arn))?;
    let p = lookup(ctx, arn)?;
    // Newest first, as IAM lists them.
    let versions: Vec<&PolicyVersion> = p.versions.iter().rev().collect();
    let (page, next) = paginate(ctx.params, versions)?;
    Ok(ctx.respond("ListPolicyVersions", |x| {
        x.open("Versions");
        for v in &page {
            x.open("member");
            write_version(x, p, v, false);
            x.close("member");
        }
        x.close("Versions");
        write_truncation(x, next.as_deref());
    }))
}

fn delete_policy_version(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    let version = ctx.params.required("VersionId")?;
    check_version_id(version)?;
    ctx.authorize(&policy_ask(ctx, "iam:DeletePolicyVersion", arn))?;
    ctx.mutate(|tx| {
        let mut p = for_change(tx, ctx, "iam:DeletePolicyVersion", arn)?;
        if !p.versions.iter().any(|v| v.id == version) {
            return Err(version_not_found(arn, version));
        }
        if p.default_version == version {
            return Err(ApiError::delete_conflict(
                "Cannot delete the default version of a policy.",
            ));
        }
        p.versions.retain(|v| v.id != version);
        tx.put(p);
        Ok(())
    })?;
    Ok(ctx.respond_empty("DeletePolicyVersion"))
}

fn set_default_policy_version(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    let version = ctx.params.required("VersionId")?;
    check_version_id(version)?;
    ctx.authorize(&policy_ask(ctx, "iam:SetDefaultPolicyVersion", arn))?;
    ctx.mutate(|tx| {
        let mut p = for_change(tx, ctx, "iam:SetDefaultPolicyVersion", arn)?;
        if !p.versions.iter().any(|v| v.id == version) {
            return Err(version_not_found(arn, version));
        }
        p.default_version = version.to_string();
        tx.put(p);
        Ok(())
    })?;
    Ok(ctx.respond_empty("SetDefaultPolicyVersion"))
}

fn list_entities_for_policy(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let arn = policy_arn_param(ctx)?;
    let entity_filter = ctx.params.get("EntityFilter");
    if let Some(f) = entity_filter
        && !["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"].contains(&f)
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{f}' at 'entityFilter' failed to satisfy constraint: Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]"
        )));
    }
    let prefix = ctx.params.get("PathPrefix").unwrap_or("/");
    check_path_prefix(prefix)?;
    let filter = usage_filter(ctx)?;
    ctx.authorize(&policy_ask(ctx, "iam:ListEntitiesForPolicy", arn))?;
    let p = lookup(ctx, arn)?;
    let arn = p.arn();
    let acct = ctx.account();
    let wanted = |kind: &str| entity_filter.is_none_or(|f| f == kind);
    let uses = |attached: &[String], boundary: Option<&str>| {
        let as_policy = attached.contains(&arn);
        let as_boundary = boundary == Some(arn.as_str());
        match filter {
            Some(false) => as_policy,
            Some(true) => as_boundary,
            None => as_policy || as_boundary,
        }
    };
    // (kind, name, id) in one sequence so that pagination spans the three lists.
    let mut entities: Vec<(Holder, &str, &str)> = Vec::new();
    if wanted("Group") {
        entities.extend(
            ctx.state
                .groups
                .values()
                .filter(|g| g.account == acct && g.path.starts_with(prefix) && uses(&g.attached, None))
                .map(|g| (Holder::Group, g.name.as_str(), g.id.as_str())),
        );
    }
    if wanted("User") {
        entities.extend(
            ctx.state
                .users
                .values()
                .filter(|u| {
                    u.account == acct
                        && u.path.starts_with(prefix)
                        && uses(&u.attached, u.boundary.as_deref())
                })
                .map(|u| (Holder::User, u.name.as_str(), u.id.as_str())),
        );
    }
    if wanted("Role") {
        entities.extend(
            ctx.state
                .roles
                .values()
                .filter(|r| {
                    r.account == acct
                        && r.path.starts_with(prefix)
                        && uses(&r.attached, r.boundary.as_deref())
                })
                .map(|r| (Holder::Role, r.name.as_str(), r.id.as_str())),
        );
    }
    let (page, next) = paginate(ctx.params, entities)?;
    Ok(ctx.respond("ListEntitiesForPolicy", |x| {
        for (holder, list) in [
            (Holder::Group, "PolicyGroups"),
            (Holder::User, "PolicyUsers"),
            (Holder::Role, "PolicyRoles"),
        ] {
            x.open(list);
            for (_, name, id) in page.iter().filter(|(h, _, _)| *h == holder) {
                let t = holder.title();
                x.open("member")
                    .elem(&format!("{t}Name"), name)
                    .elem(&format!("{t}Id"), id)
                    .close("member");
            }
            x.close(list);
        }
        write_truncation(x, next.as_deref());
    }))
}

// ---- policies of users, groups and roles ----

/// What holds inline and attached policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    User,
    Group,
    Role,
}

/// A holder's policies, as read for a check.
#[derive(Debug, Clone)]
pub(super) struct HolderView {
    pub arn: String,
    pub name: String,
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
    pub boundary: Option<String>,
    pub tags: Vec<Tag>,
}

impl Holder {
    fn noun(self) -> &'static str {
        match self {
            Holder::User => "user",
            Holder::Group => "group",
            Holder::Role => "role",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Holder::User => "User",
            Holder::Group => "Group",
            Holder::Role => "Role",
        }
    }

    fn name_param(self) -> &'static str {
        match self {
            Holder::User => "UserName",
            Holder::Group => "GroupName",
            Holder::Role => "RoleName",
        }
    }

    /// The longest name the operations accept (inline user policy operations take any
    /// existing user name, up to 128 characters).
    fn name_max(self, inline: bool) -> usize {
        match self {
            Holder::User if inline => 128,
            Holder::User | Holder::Role => 64,
            Holder::Group => 128,
        }
    }

    /// The quota on the inline policies of one holder (characters, not counting whitespace).
    fn inline_limit(self) -> usize {
        match self {
            Holder::User => 2048,
            Holder::Group => 5120,
            Holder::Role => 10240,
        }
    }

    fn no_such(self, name: &str) -> ApiError {
        ApiError::no_such_entity(format!("The {} with name {name} cannot be found.", self.noun()))
    }

    /// The holder's policies, if it exists.
    pub(super) fn view(self, state: &State, account: &str, name: &str) -> Option<HolderView> {
        let key = name_key(account, name);
        match self {
            Holder::User => state.users.get(&key).map(|u| HolderView {
                arn: u.arn(),
                name: u.name.clone(),
                inline: u.inline.clone(),
                attached: u.attached.clone(),
                boundary: u.boundary.clone(),
                tags: u.tags.clone(),
            }),
            Holder::Group => state.groups.get(&key).map(|g| HolderView {
                arn: g.arn(),
                name: g.name.clone(),
                inline: g.inline.clone(),
                attached: g.attached.clone(),
                boundary: None,
                tags: Vec::new(),
            }),
            Holder::Role => state.roles.get(&key).map(|r| HolderView {
                arn: r.arn(),
                name: r.name.clone(),
                inline: r.inline.clone(),
                attached: r.attached.clone(),
                boundary: r.boundary.clone(),
                tags: r.tags.clone(),
            }),
        }
    }

    /// The ARN to authorize against: the holder's, or (when it does not exist) the ARN it
    /// would have with the path `/`.
    pub(super) fn resource_arn(self, state: &State, account: &str, name: &str) -> String {
        self.view(state, account, name).map_or_else(
            || format!("arn:aws:iam::{account}:{}/{name}", self.noun()),
            |v| v.arn,
        )
    }

    /// Changes the holder's policies in a transaction.
    fn modify(
        self,
        tx: &mut Tx<'_>,
        account: &str,
        name: &str,
        f: impl FnOnce(&mut Vec<String>, &mut BTreeMap<String, String>) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let key = name_key(account, name);
        match self {
            Holder::User => {
                let mut u = tx
                    .state
                    .users
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| self.no_such(name))?;
                f(&mut u.attached, &mut u.inline)?;
                tx.put(u);
            }
            Holder::Group => {
                let mut g = tx
                    .state
                    .groups
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| self.no_such(name))?;
                f(&mut g.attached, &mut g.inline)?;
                tx.put(g);
            }
            Holder::Role => {
                let mut r = tx
                    .state
                    .roles
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| self.no_such(name))?;
                f(&mut r.attached, &mut r.inline)?;
                tx.put(r);
            }
        }
        Ok(())
    }
}

/// The holder named by the request (checked), and the ask on it: its ARN, its tags as
/// resource tags, and its permissions boundary as `iam:PermissionsBoundary` when `boundary_key`.
fn holder_ask<'a>(
    ctx: &'a Ctx<'_>,
    holder: Holder,
    action: &'a str,
    inline: bool,
    boundary_key: bool,
) -> Result<(&'a str, Ask<'a>), ApiError> {
    let name = ctx.params.required(holder.name_param())?;
    check_name(name, holder.name_param(), holder.name_max(inline))?;
    let view = holder.view(&ctx.state, ctx.account(), name);
    let mut ask = Ask::new(action, holder.resource_arn(&ctx.state, ctx.account(), name));
    if let Some(v) = &view {
        add_resource_tags(&mut ask, &v.tags);
        if boundary_key && let Some(b) = &v.boundary {
            ask.extra
                .push(("iam:PermissionsBoundary".into(), b.as_str().into()));
        }
    }
    Ok((name, ask))
}

/// `Attach{User,Group,Role}Policy`.
pub(super) fn attach(ctx: &Ctx<'_>, holder: Holder) -> Result<String, ApiError> {
    let op = format!("Attach{}Policy", holder.title());
    let action = format!("iam:{op}");
    let (name, mut ask) = holder_ask(ctx, holder, &action, false, true)?;
    let arn = policy_arn_param(ctx)?;
    ask.extra.push(("iam:PolicyARN".into(), arn.into()));
    ctx.authorize(&ask)?;
    ctx.mutate(|tx| {
        if holder.view(tx.state, ctx.account(), name).is_none() {
            return Err(holder.no_such(name));
        }
        let policy_arn = attachable(tx.state, ctx.account(), arn)
            .map(ManagedPolicy::arn)
            .ok_or_else(|| not_attachable(arn))?;
        holder.modify(tx, ctx.account(), name, |attached, _| {
            if attached.contains(&policy_arn) {
                return Ok(());
            }
            if attached.len() >= MAX_ATTACHED {
                return Err(ApiError::limit_exceeded(format!(
                    "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED}",
                    holder.title()
                )));
            }
            attached.push(policy_arn);
            Ok(())
        })
    })?;
    Ok(ctx.respond_empty(&op))
}

/// `Detach{User,Group,Role}Policy`.
pub(super) fn detach(ctx: &Ctx<'_>, holder: Holder) -> Result<String, ApiError> {
    let op = format!("Detach{}Policy", holder.title());
    let action = format!("iam:{op}");
    let (name, mut ask) = holder_ask(ctx, holder, &action, false, true)?;
    let arn = policy_arn_param(ctx)?;
    ask.extra.push(("iam:PolicyARN".into(), arn.into()));
    ctx.authorize(&ask)?;
    ctx.mutate(|tx| {
        holder.modify(tx, ctx.account(), name, |attached, _| {
            let before = attached.len();
            attached.retain(|a| a != arn);
            if attached.len() == before {
                return Err(policy_not_found(arn));
            }
            Ok(())
        })
    })?;
    Ok(ctx.respond_empty(&op))
}

/// `ListAttached{User,Group,Role}Policies`.
pub(super) fn list_attached(ctx: &Ctx<'_>, holder: Holder) -> Result<String, ApiError> {
    let op = format!("ListAttached{}Policies", holder.title());
    let action = format!("iam:{op}");
    let (name, ask) = holder_ask(ctx, holder, &action, false, false)?;
    let prefix = ctx.params.get("PathPrefix").unwrap_or("/");
    check_policy_path(prefix, "pathPrefix")?;
    ctx.authorize(&ask)?;
    let view = holder
        .view(&ctx.state, ctx.account(), name)
        .ok_or_else(|| holder.no_such(name))?;
    let policies: Vec<(String, String)> = view
        .attached
        .iter()
        .filter_map(|arn| match super::find_policy(&ctx.state, arn) {
            Some(p) => p.path.starts_with(prefix).then(|| (p.name.clone(), arn.clone())),
            None => Some((
                arn.rsplit('/').next().unwrap_or_default().to_string(),
                arn.clone(),
            )),
        })
        .collect();
    let (page, next) = paginate(ctx.params, policies)?;
    Ok(ctx.respond(&op, |x| {
        x.open("AttachedPolicies");
        for (policy_name, arn) in &page {
            x.open("member")
                .elem("PolicyName", policy_name)
                .elem("PolicyArn", arn)
                .close("member");
        }
        x.close("AttachedPolicies");
        write_truncation(x, next.as_deref());
    }))
}

fn inline_not_found(holder: Holder, policy: &str) -> ApiError {
    ApiError::no_such_entity(format!(
        "The {} policy with name {policy} cannot be found.",
        holder.noun()
    ))
}

fn significant_chars(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// The stored name of an inline policy (names are case-insensitive).
fn inline_key(inline: &BTreeMap<String, String>, policy: &str) -> Option<String> {
    inline.keys().find(|k| k.eq_ignore_ascii_case(policy)).cloned()
}

/// `Put{User,Group,Role}Policy`.
pub(super) fn put_inline(ctx: &Ctx<'_>, holder: Holder) -> Result<String, ApiError> {
    let op = format!("Put{}Policy", holder.title());
    let action = format!("iam:{op}");
    let (name, ask) = holder_ask(ctx, holder, &action, true, true)?;
    let policy = ctx.params.required("PolicyName")?;
    check_name(policy, "PolicyName", 128)?;
    let doc = ctx.params.required("PolicyDocument")?;
    let limit = holder.inline_limit();
    check_policy_document(doc, PolicyKind::Identity, limit)?;
    ctx.authorize(&ask)?;
    ctx.mutate(|tx| {
        holder.modify(tx, ctx.account(), name, |_, inline| {
            if let Some(existing) = inline_key(inline, policy) {
                inline.remove(&existing);
            }
            let total: usize =
                inline.values().map(|d| significant_chars(d)).sum::<usize>() + significant_chars(doc);
            if total > limit {
                return Err(ApiError::limit_exceeded(format!(
                    "Maximum policy size of {limit} bytes exceeded for {} {name}",
                    holder.noun()
                )));
            }
            inline.insert(policy.to_string(), doc.to_string());
            Ok(())
        })
    })?;
    Ok(ctx.respond_empty(&op))
}

/// `Get{User,Group,Role}Policy`.
pub(super) fn get_inline(ctx: &Ctx<'_>, holder: Holder) -> Result<String, ApiError> {
    let op = format!("Get{}Policy", holder.title());
    let action = format!("iam:{op}");
    let (name, ask) = holder_ask(ctx, holder, &action, true, false)?;
    let policy = ctx.params.required("PolicyName")?;
    check_name(policy, "PolicyName", 128)?;
    ctx.authorize(&ask)?;
    let view = holder
        .view(&ctx.state, ctx.account(), name)
        .ok_or_else(|| holder.no_such(name))?;
    let key = inline_key(&view.inline, policy).ok_or_else(|| inline_not_found(holder, policy))?;
    let doc = view.inline.get(&key).cloned().unwrap_or_default();
    Ok(ctx.respond(&op, |x| {
        x.elem(holder.name_param(), &view.name)
            .elem("PolicyName", &key)
            .elem("PolicyDocument", &url_encode(&doc));
    }))
}

/// `List{User,Group,Role}Policies`.
pub(super) fn list_inline(ctx: &Ctx<'_>, holder: Holder) -> Result<String, ApiError> {
    let op = format!("List{}Policies", holder.title());
    let action = format!("iam:{op}");
    let (name, ask) = holder_ask(ctx, holder, &action, true, false)?;
    ctx.authorize(&ask)?;
    let view = holder
        .view(&ctx.state, ctx.account(), name)
        .ok_or_else(|| holder.no_such(name))?;
    let names: Vec<String> = view.inline.keys().cloned().collect();
    let (page, next) = paginate(ctx.params, names)?;
    Ok(ctx.respond(&op, |x| {
        x.open("PolicyNames");
        for n in &page {
            x.elem("member", n);
        }
        x.close("PolicyNames");
        write_truncation(x, next.as_deref());
    }))
}

/// `Delete{User,Group,Role}Policy`.
pub(super) fn delete_inline(ctx: &Ctx<'_>, holder: Holder) -> Result<String, ApiError> {
    let op = format!("Delete{}Policy", holder.title());
    let action = format!("iam:{op}");
    let (name, ask) = holder_ask(ctx, holder, &action, true, true)?;
    let policy = ctx.params.required("PolicyName")?;
    check_name(policy, "PolicyName", 128)?;
    ctx.authorize(&ask)?;
    ctx.mutate(|tx| {
        holder.modify(tx, ctx.account(), name, |_, inline| {
            let key = inline_key(inline, policy).ok_or_else(|| inline_not_found(holder, policy))?;
            inline.remove(&key);
            Ok(())
        })
    })?;
    Ok(ctx.respond_empty(&op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns() {
        assert!(check_policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess").is_ok());
        assert!(check_policy_arn("arn:aws:iam::123456789012:policy/team/p1").is_ok());
        assert!(check_policy_arn("arn:aws:iam::123456789012:policy/").is_err());
        assert!(check_policy_arn("arn:aws:iam::12345:policy/p1234567").is_err());
        assert!(check_policy_arn("arn:aws:iam::123456789012:role/p1").is_err());
        let e = check_policy_arn("ReadOnlyAccess-with-no-arn").err();
        assert_eq!(e.map(|e| e.code), Some("InvalidInput".to_string()));
    }

    #[test]
    fn policy_paths_and_versions() {
        assert!(check_policy_path("/", "path").is_ok());
        assert!(check_policy_path("/a/b-c/", "path").is_ok());
        assert!(check_policy_path("/a", "path").is_err());
        assert!(check_policy_path("//", "path").is_err());
        assert!(check_policy_path("/a b/", "path").is_err());
        assert!(check_version_id("v1").is_ok());
        assert!(check_version_id("v12").is_ok());
        assert!(check_version_id("v0").is_err());
        assert!(check_version_id("1").is_err());
        assert!(check_version_id("v").is_err());
        assert!(check_path_prefix("/eng").is_ok());
        assert!(check_path_prefix("eng/").is_err());
    }

    #[test]
    fn inline_names_are_case_insensitive() {
        let mut m = BTreeMap::new();
        m.insert("ReadS3".to_string(), "{}".to_string());
        assert_eq!(inline_key(&m, "reads3").as_deref(), Some("ReadS3"));
        assert_eq!(inline_key(&m, "other"), None);
        assert_eq!(significant_chars(" { \n\"a\" : 1 }\n"), 7);
    }
}
