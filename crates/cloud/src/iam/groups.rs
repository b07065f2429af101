//! Groups: membership, and (through `policies`) their inline and attached policies.

use super::policies::{self, Holder, check_path_prefix};
use super::{Ctx, check_name, check_path, paginate, write_truncation, write_user};
use crate::authz::Ask;
use crate::model::{Group, User};
use crate::protocol::ApiError;
use crate::state::name_key;

/// Groups one user may belong to.
const GROUPS_PER_USER: usize = 10;

/// Runs the operation if it belongs to this module.
pub(super) fn handle(ctx: &Ctx<'_>, action: &str) -> Option<Result<String, ApiError>> {
    Some(match action {
        "CreateGroup" => create_group(ctx),
        "GetGroup" => get_group(ctx),
        "ListGroups" => list_groups(ctx),
        "UpdateGroup" => update_group(ctx),
        "DeleteGroup" => delete_group(ctx),
        "AddUserToGroup" => add_user_to_group(ctx),
        "RemoveUserFromGroup" => remove_user_from_group(ctx),
        "ListGroupsForUser" => list_groups_for_user(ctx),
        "PutGroupPolicy" => policies::put_inline(ctx, Holder::Group),
        "GetGroupPolicy" => policies::get_inline(ctx, Holder::Group),
        "ListGroupPolicies" => policies::list_inline(ctx, Holder::Group),
        "DeleteGroupPolicy" => policies::delete_inline(ctx, Holder::Group),
        "AttachGroupPolicy" => policies::attach(ctx, Holder::Group),
        "DetachGroupPolicy" => policies::detach(ctx, Holder::Group),
        "ListAttachedGroupPolicies" => policies::list_attached(ctx, Holder::Group),
        _ => return None,
    })
}

fn no_such_group(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The group with name {name} cannot be found."))
}

fn no_such_user(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The user with name {name} cannot be found."))
}

/// `GroupName`, checked.
fn group_name<'a>(ctx: &'a Ctx<'_>) -> Result<&'a str, ApiError> {
    let name = ctx.params.required("GroupName")?;
    check_name(name, "GroupName", 128)?;
    Ok(name)
}

/// `UserName` of a membership operation (any existing user name), checked.
fn member_name<'a>(ctx: &'a Ctx<'_>) -> Result<&'a str, ApiError> {
    let name = ctx.params.required("UserName")?;
    check_name(name, "UserName", 128)?;
    Ok(name)
}

fn group_arn(ctx: &Ctx<'_>, name: &str) -> String {
    Holder::Group.resource_arn(&ctx.state, ctx.account(), name)
}

fn is_member(g: &Group, user: &str) -> bool {
    g.members.iter().any(|m| m.eq_ignore_ascii_case(user))
}

/// The fields of a `Group` element.
fn write_group(x: &mut crate::xml::Xml, g: &Group) {
    x.elem("Path", &g.path)
        .elem("GroupName", &g.name)
        .elem("GroupId", &g.id)
        .elem("Arn", &g.arn())
        .elem("CreateDate", &crate::time::iso8601(g.created));
}

/// A `Groups` list answer.
fn respond_groups(ctx: &Ctx<'_>, op: &str, groups: Vec<&Group>) -> Result<String, ApiError> {
    let (page, next) = paginate(ctx.params, groups)?;
    Ok(ctx.respond(op, |x| {
        x.open("Groups");
        for g in &page {
            x.open("member");
            write_group(x, g);
            x.close("member");
        }
        x.close("Groups");
        write_truncation(x, next.as_deref());
    }))
}

fn create_group(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = group_name(ctx)?;
    let path = ctx.params.get("Path").unwrap_or("/");
    check_path(path)?;
    ctx.authorize(&Ask::new(
        "iam:CreateGroup",
        format!("arn:aws:iam::{}:group{path}{name}", ctx.account()),
    ))?;
    let group = ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        if let Some(existing) = tx.state.groups.get(&key) {
            return Err(ApiError::already_exists(format!(
                "Group with name {} already exists.",
                existing.name
            )));
        }
        let group = Group {
            account: ctx.account().to_string(),
            name: name.to_string(),
            path: path.to_string(),
            id: crate::ids::aws_id("AGPA"),
            created: ctx.info.now,
            inline: Default::default(),
            attached: Vec::new(),
            members: Vec::new(),
        };
        tx.put(group.clone());
        Ok(group)
    })?;
    Ok(ctx.respond("CreateGroup", |x| {
        x.open("Group");
        write_group(x, &group);
        x.close("Group");
    }))
}

fn get_group(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = group_name(ctx)?;
    ctx.authorize(&Ask::new("iam:GetGroup", group_arn(ctx, name)))?;
    let group = ctx
        .state
        .groups
        .get(&name_key(ctx.account(), name))
        .ok_or_else(|| no_such_group(name))?;
    let users: Vec<&User> = group
        .members
        .iter()
        .filter_map(|m| ctx.state.users.get(&name_key(ctx.account(), m)))
        .collect();
    let (page, next) = paginate(ctx.params, users)?;
    Ok(ctx.respond("GetGroup", |x| {
        x.open("Group");
        write_group(x, group);
        x.close("Group");
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

fn list_groups(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let prefix = ctx.params.get("PathPrefix").unwrap_or("/");
    check_path_prefix(prefix)?;
    ctx.authorize(&Ask::new(
        "iam:ListGroups",
        format!("arn:aws:iam::{}:group{prefix}", ctx.account()),
    ))?;
    let groups: Vec<&Group> = ctx
        .state
        .groups
        .values()
        .filter(|g| g.account == ctx.account() && g.path.starts_with(prefix))
        .collect();
    respond_groups(ctx, "ListGroups", groups)
}

fn update_group(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = group_name(ctx)?;
    let new_name = ctx.params.get("NewGroupName");
    if let Some(n) = new_name {
        check_name(n, "NewGroupName", 128)?;
    }
    let new_path = ctx.params.get("NewPath");
    if let Some(p) = new_path {
        check_path(p)?;
    }
    // Renaming or moving needs the permission on both the group and what it becomes.
    let arn = group_arn(ctx, name);
    ctx.authorize(&Ask::new("iam:UpdateGroup", arn.as_str()))?;
    if let Some(g) = ctx.state.groups.get(&name_key(ctx.account(), name)) {
        let target = format!(
            "arn:aws:iam::{}:group{}{}",
            ctx.account(),
            new_path.unwrap_or(&g.path),
            new_name.unwrap_or(&g.name)
        );
        if target != arn {
            ctx.authorize(&Ask::new("iam:UpdateGroup", target))?;
        }
    }
    ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        let mut group = tx
            .state
            .groups
            .get(&key)
            .cloned()
            .ok_or_else(|| no_such_group(name))?;
        if let Some(n) = new_name {
            let new_key = name_key(ctx.account(), n);
            if new_key != key && tx.state.groups.contains_key(&new_key) {
                return Err(ApiError::already_exists(format!(
                    "Group with name {n} already exists."
                )));
            }
            tx.delete::<Group>(&key);
            group.name = n.to_string();
        }
        if let Some(p) = new_path {
            group.path = p.to_string();
        }
        tx.put(group);
        Ok(())
    })?;
    Ok(ctx.respond_empty("UpdateGroup"))
}

fn delete_group(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = group_name(ctx)?;
    ctx.authorize(&Ask::new("iam:DeleteGroup", group_arn(ctx, name)))?;
    ctx.mutate(|tx| {
        let key = name_key(ctx.account(), name);
        let group = tx.state.groups.get(&key).ok_or_else(|| no_such_group(name))?;
        if !group.members.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        if !group.inline.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !group.attached.is_empty() {
            return Err(ApiError::delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        tx.delete::<Group>(&key);
        Ok(())
    })?;
    Ok(ctx.respond_empty("DeleteGroup"))
}

fn add_user_to_group(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = group_name(ctx)?;
    let user_name = member_name(ctx)?;
    ctx.authorize(&Ask::new("iam:AddUserToGroup", group_arn(ctx, name)))?;
    ctx.mutate(|tx| {
        let mut group = tx
            .state
            .groups
            .get(&name_key(ctx.account(), name))
            .cloned()
            .ok_or_else(|| no_such_group(name))?;
        let user = tx
            .state
            .users
            .get(&name_key(ctx.account(), user_name))
            .ok_or_else(|| no_such_user(user_name))?;
        if is_member(&group, &user.name) {
            return Ok(());
        }
        let memberships = tx
            .state
            .groups
            .values()
            .filter(|g| g.account == ctx.account() && is_member(g, &user.name))
            .count();
        if memberships >= GROUPS_PER_USER {
            return Err(ApiError::limit_exceeded(format!(
                "Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}"
            )));
        }
        group.members.push(user.name.clone());
        tx.put(group);
        Ok(())
    })?;
    Ok(ctx.respond_empty("AddUserToGroup"))
}

fn remove_user_from_group(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = group_name(ctx)?;
    let user_name = member_name(ctx)?;
    ctx.authorize(&Ask::new("iam:RemoveUserFromGroup", group_arn(ctx, name)))?;
    ctx.mutate(|tx| {
        let mut group = tx
            .state
            .groups
            .get(&name_key(ctx.account(), name))
            .cloned()
            .ok_or_else(|| no_such_group(name))?;
        if !is_member(&group, user_name) {
            return Err(no_such_user(user_name));
        }
        group.members.retain(|m| !m.eq_ignore_ascii_case(user_name));
        tx.put(group);
        Ok(())
    })?;
    Ok(ctx.respond_empty("RemoveUserFromGroup"))
}

fn list_groups_for_user(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let user_name = member_name(ctx)?;
    ctx.authorize(&Ask::new(
        "iam:ListGroupsForUser",
        Holder::User.resource_arn(&ctx.state, ctx.account(), user_name),
    ))?;
    let user = super::users::find(ctx, user_name)?;
    let groups: Vec<&Group> = ctx
        .state
        .groups
        .values()
        .filter(|g| g.account == ctx.account() && is_member(g, &user.name))
        .collect();
    respond_groups(ctx, "ListGroupsForUser", groups)
}
