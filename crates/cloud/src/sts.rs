//! STS over the Query protocol (2011-06-15).
//!
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_Operations.html>

use porteiro_iam::{PolicyKind, Value};

use crate::authz::{Ask, CallerKind};
use crate::iam::Ctx;
use crate::model::{KeyOwner, Session, SessionKind, Tag};
use crate::protocol::{ApiError, Service, query_response};
use crate::state::name_key;
use crate::xml::Xml;

/// Runs an STS operation.
pub fn handle(ctx: &Ctx<'_>, action: &str) -> Result<String, ApiError> {
    match action {
        "GetCallerIdentity" => get_caller_identity(ctx),
        "AssumeRole" => assume_role(ctx),
        "GetSessionToken" => get_session_token(ctx),
        "GetFederationToken" => get_federation_token(ctx),
        other => Err(ApiError::new(
            400,
            "InvalidAction",
            format!(
                "The action {other} is not valid for this web service (STS) in Porteiro's embedded cloud."
            ),
        )),
    }
}

fn respond(ctx: &Ctx<'_>, op: &str, f: impl FnOnce(&mut Xml)) -> String {
    query_response(Service::Sts, op, ctx.request_id, f)
}

fn get_caller_identity(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    // No permission is needed, and an explicit deny cannot stop it.
    let c = ctx.caller;
    Ok(respond(ctx, "GetCallerIdentity", |x| {
        x.elem("UserId", &c.user_id)
            .elem("Account", &c.account)
            .elem("Arn", &c.arn);
    }))
}

fn check_pattern(value: &str, param: &str, min: usize, max: usize, extra: &str) -> Result<(), ApiError> {
    let n = value.chars().count();
    let chars_ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) || extra.contains(c));
    if n < min || n > max || !chars_ok {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{param}' failed to satisfy constraint: Member must have length between {min} and {max} and satisfy regular expression pattern: [\\w+=,.@-{extra}]*"
        )));
    }
    Ok(())
}

/// Validates a session policy (`Policy`) and managed session policies (`PolicyArns`).
fn session_policies(ctx: &Ctx<'_>) -> Result<(Option<String>, Vec<String>), ApiError> {
    let policy = match ctx.params.get("Policy") {
        Some(doc) => {
            if doc.chars().filter(|c| !c.is_whitespace()).count() > 2048 {
                return Err(ApiError::new(
                    400,
                    "PackedPolicyTooLarge",
                    "Packed size of the session policy exceeds 2048 characters: shorten the policy",
                ));
            }
            porteiro_iam::Policy::parse(doc, PolicyKind::Session)
                .map_err(|e| ApiError::malformed_policy(e.to_string()))?;
            Some(doc.to_string())
        }
        None => None,
    };
    let mut arns = Vec::new();
    for fields in ctx.params.structs("PolicyArns") {
        let arn = fields
            .iter()
            .find(|(k, _)| *k == "arn")
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| ApiError::validation("each PolicyArns entry needs an arn"))?;
        if crate::iam::find_policy(&ctx.state, &arn).is_none() {
            return Err(ApiError::invalid_input(format!(
                "Policy {arn} does not exist or is not attachable: create it first or fix the ARN"
            )));
        }
        arns.push(arn);
    }
    if arns.len() > 10 {
        return Err(ApiError::limit_exceeded(
            "at most 10 managed session policies (PolicyArns) are allowed",
        ));
    }
    Ok((policy, arns))
}

fn write_credentials(x: &mut Xml, s: &Session) {
    x.open("Credentials")
        .elem("AccessKeyId", &s.access_key_id)
        .elem("SecretAccessKey", &s.secret)
        .elem("SessionToken", &s.token)
        .elem("Expiration", &crate::time::iso8601(s.expires))
        .close("Credentials");
}

fn packed_size(s: &Session) -> Option<String> {
    let size = s.policy.as_ref().map_or(0, |p| p.len()) + s.policy_arns.len() * 64 + s.tags.len() * 32;
    (size > 0).then(|| (size * 100 / 2048).clamp(1, 100).to_string())
}

/// A new session in `account` (the role's account for AssumeRole, the caller's otherwise).
fn new_session(ctx: &Ctx<'_>, account: &str, kind: SessionKind, duration: i64) -> Session {
    Session {
        account: account.to_string(),
        access_key_id: crate::ids::aws_id("ASIA"),
        secret: crate::ids::secret_key(),
        token: crate::ids::session_token(),
        kind,
        issued: ctx.info.now,
        expires: ctx.info.now + duration,
        source_identity: None,
        policy: None,
        policy_arns: Vec::new(),
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        mfa: false,
    }
}

fn store(ctx: &Ctx<'_>, session: &Session) -> Result<(), ApiError> {
    ctx.mutate(|tx| {
        // Sessions that ended more than a day ago are of no further use.
        let stale: Vec<String> = tx
            .state
            .sessions
            .values()
            .filter(|s| s.expires + 86_400 < ctx.info.now)
            .map(|s| s.access_key_id.clone())
            .take(100)
            .collect();
        for key in stale {
            tx.delete::<Session>(&key);
        }
        tx.put(session.clone());
        Ok(())
    })
}

fn assume_role(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let p = ctx.params;
    let role_arn = p.required("RoleArn")?;
    if ctx.caller.arn.ends_with(":root") {
        return Err(ApiError::new(
            403,
            "AccessDenied",
            "Roles may not be assumed by root accounts.",
        ));
    }
    let session_name = p.required("RoleSessionName")?;
    check_pattern(session_name, "roleSessionName", 2, 64, "")?;
    if role_arn.len() < 20 || !role_arn.starts_with("arn:") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{role_arn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
        )));
    }
    let external_id = p.get("ExternalId");
    if let Some(e) = external_id {
        check_pattern(e, "externalId", 2, 1224, ":/")?;
    }
    let source_identity = p.get("SourceIdentity");
    if let Some(s) = source_identity {
        check_pattern(s, "sourceIdentity", 2, 64, "")?;
        if s.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::validation("SourceIdentity must not start with `aws:`"));
        }
    }
    let tags = p.tags()?;
    let transitive: Vec<String> = p
        .list("TransitiveTagKeys")
        .into_iter()
        .map(str::to_string)
        .collect();
    for k in &transitive {
        if !tags.iter().any(|t| t.key.eq_ignore_ascii_case(k)) {
            return Err(ApiError::invalid_input(format!(
                "The transitive tag key {k} is not among the session tags: add a tag with that key"
            )));
        }
    }
    let (policy, policy_arns) = session_policies(ctx)?;

    // The caller's own session attributes that carry over in role chaining.
    let (chained, inherited_tags, inherited_transitive, inherited_source) = match &ctx.caller.kind {
        CallerKind::Session(s) => {
            let transitive_tags: Vec<Tag> = s
                .tags
                .iter()
                .filter(|t| {
                    s.transitive_tag_keys
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(&t.key))
                })
                .cloned()
                .collect();
            (
                matches!(s.kind, SessionKind::AssumedRole { .. }),
                transitive_tags,
                s.transitive_tag_keys.clone(),
                s.source_identity.clone(),
            )
        }
        _ => (false, Vec::new(), Vec::new(), None),
    };
    if let (Some(old), Some(new)) = (&inherited_source, source_identity)
        && old != new
    {
        return Err(ApiError::validation(format!(
            "SourceIdentity cannot be changed in role chaining: the session already has `{old}`"
        )));
    }
    for t in &tags {
        if inherited_tags.iter().any(|i| i.key.eq_ignore_ascii_case(&t.key)) {
            return Err(ApiError::invalid_input(format!(
                "Tag key {} is already a transitive tag of the calling session and cannot be overridden",
                t.key
            )));
        }
    }

    // The role (a missing role is an AccessDenied, as in AWS).
    let role = ctx
        .state
        .roles
        .values()
        .find(|r| {
            r.arn() == role_arn
                || (r.account == role_arn_account(role_arn)
                    && role_arn_name(role_arn) == Some(r.name.as_str()))
        })
        .cloned();
    let mut ask = Ask::new("sts:AssumeRole", role_arn);
    ask = ask.with_resource_policy(role.as_ref().map(|r| r.trust_policy.as_str()), PolicyKind::Trust);
    ask.extra
        .push(("sts:RoleSessionName".into(), session_name.into()));
    if let Some(e) = external_id {
        ask.extra.push(("sts:ExternalId".into(), e.into()));
    }
    if let Some(s) = source_identity.or(inherited_source.as_deref()) {
        ask.extra.push(("sts:SourceIdentity".into(), s.into()));
    }
    let ask = ask.with_request_tags(&tags);
    let mut ask = ask;
    if !transitive.is_empty() {
        ask.extra
            .push(("sts:TransitiveTagKeys".into(), Value::Multi(transitive.clone())));
    }
    let denied = || {
        ApiError::new(
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                ctx.caller.arn
            ),
        )
    };
    let Some(role) = role.as_ref() else {
        return Err(denied());
    };
    ctx.authorize(&ask)?;
    if !tags.is_empty() {
        let mut tag_ask = ask.clone();
        tag_ask.action = "sts:TagSession";
        ctx.authorize(&tag_ask).map_err(|_| {
            ApiError::new(
                403,
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:TagSession on resource: {role_arn}",
                    ctx.caller.arn
                ),
            )
        })?;
    }
    if source_identity.is_some() {
        let mut si_ask = ask.clone();
        si_ask.action = "sts:SetSourceIdentity";
        ctx.authorize(&si_ask).map_err(|_| {
            ApiError::new(
                403,
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:SetSourceIdentity on resource: {role_arn}",
                    ctx.caller.arn
                ),
            )
        })?;
    }

    let duration = p.int("DurationSeconds")?.unwrap_or(3600);
    let max = if chained { 3600 } else { role.max_session_duration };
    if duration < 900 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        )));
    }
    if duration > max {
        return Err(ApiError::validation(if chained {
            format!(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining (asked {duration})."
            )
        } else {
            format!(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({} seconds; asked {duration}).",
                role.max_session_duration
            )
        }));
    }

    let mut session = new_session(
        ctx,
        &role.account,
        SessionKind::AssumedRole {
            role_arn: role.arn(),
            role_id: role.id.clone(),
            role_name: role.name.clone(),
            session_name: session_name.to_string(),
            chained,
        },
        duration,
    );
    session.source_identity = source_identity.map(str::to_string).or(inherited_source);
    session.policy = policy;
    session.policy_arns = policy_arns;
    session.tags = inherited_tags;
    session.tags.extend(tags);
    session.transitive_tag_keys = inherited_transitive;
    session.transitive_tag_keys.extend(transitive);
    store(ctx, &session)?;
    let arn = format!(
        "arn:aws:sts::{}:assumed-role/{}/{}",
        role.account, role.name, session_name
    );
    let packed = packed_size(&session);
    Ok(respond(ctx, "AssumeRole", |x| {
        write_credentials(x, &session);
        x.open("AssumedRoleUser")
            .elem("AssumedRoleId", &format!("{}:{session_name}", role.id))
            .elem("Arn", &arn)
            .close("AssumedRoleUser");
        x.opt("PackedPolicySize", packed.as_deref());
        x.opt("SourceIdentity", session.source_identity.as_deref());
    }))
}

fn role_arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

fn role_arn_name(arn: &str) -> Option<&str> {
    arn.split(':').nth(5)?.strip_prefix("role/")?.rsplit('/').next()
}

/// The long-term identity behind the caller, for operations that refuse session credentials.
fn long_term_owner(ctx: &Ctx<'_>, op: &str) -> Result<KeyOwner, ApiError> {
    match &ctx.caller.kind {
        CallerKind::Root => Ok(KeyOwner::Root),
        CallerKind::User { name } => Ok(KeyOwner::User(name.clone())),
        CallerKind::Session(_) => Err(ApiError::new(
            403,
            "AccessDenied",
            format!(
                "Cannot call {op} with session credentials: call it with an IAM user's or the root user's access key"
            ),
        )),
    }
}

fn duration(ctx: &Ctx<'_>, owner: &KeyOwner) -> Result<i64, ApiError> {
    let d = ctx.params.int("DurationSeconds")?.unwrap_or(43_200);
    if !(900..=129_600).contains(&d) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 129600"
        )));
    }
    // "Sessions for AWS account owners are restricted to a maximum of 3,600 seconds (one
    // hour). If the duration is longer than one hour, the session for AWS account owners
    // defaults to one hour."
    Ok(if *owner == KeyOwner::Root { d.min(3600) } else { d })
}

fn get_session_token(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    // No permission is needed: it authenticates the caller.
    let owner = long_term_owner(ctx, "GetSessionToken")?;
    let d = duration(ctx, &owner)?;
    let session = new_session(ctx, ctx.account(), SessionKind::SessionToken { owner }, d);
    store(ctx, &session)?;
    Ok(respond(ctx, "GetSessionToken", |x| {
        write_credentials(x, &session)
    }))
}

fn get_federation_token(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let name = ctx.params.required("Name")?;
    check_pattern(name, "name", 2, 32, "")?;
    let owner = long_term_owner(ctx, "GetFederationToken")?;
    let d = duration(ctx, &owner)?;
    let (policy, policy_arns) = session_policies(ctx)?;
    let tags = ctx.params.tags()?;
    let arn = format!("arn:aws:sts::{}:federated-user/{name}", ctx.account());
    ctx.authorize(&Ask::new("sts:GetFederationToken", arn.clone()).with_request_tags(&tags))?;
    let user = match &owner {
        KeyOwner::User(u) => u.clone(),
        KeyOwner::Root => "root".to_string(),
    };
    if let KeyOwner::User(u) = &owner
        && !ctx.state.users.contains_key(&name_key(ctx.account(), u))
    {
        return Err(ApiError::no_such_entity(format!(
            "The user with name {u} cannot be found."
        )));
    }
    let mut session = new_session(
        ctx,
        ctx.account(),
        SessionKind::Federated {
            name: name.to_string(),
            user,
        },
        d,
    );
    session.policy = policy;
    session.policy_arns = policy_arns;
    session.tags = tags;
    store(ctx, &session)?;
    let packed = packed_size(&session);
    Ok(respond(ctx, "GetFederationToken", |x| {
        write_credentials(x, &session);
        x.open("FederatedUser")
            .elem("FederatedUserId", &format!("{}:{name}", ctx.account()))
            .elem("Arn", &arn)
            .close("FederatedUser");
        x.opt("PackedPolicySize", packed.as_deref());
    }))
}
