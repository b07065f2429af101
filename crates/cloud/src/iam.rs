//! IAM over the Query protocol (2010-05-08).
//!
//! <https://docs.aws.amazon.com/IAM/latest/APIReference/API_Operations.html>
//!
//! Every operation: validate parameters as AWS does, authorize the caller for the IAM action
//! on the resource ARN, apply the change atomically, answer in AWS's XML shape.

use std::sync::Arc;

use porteiro_iam::{Policy, PolicyKind};

use crate::Cloud;
use crate::authz::{self, Ask, Caller, RequestInfo};
use crate::model::{ManagedPolicy, PolicyVersion, Tag, User};
use crate::protocol::{ApiError, Params, Service, query_empty_response, query_response};
use crate::state::{State, name_key};
use crate::xml::Xml;

mod access_keys;
mod groups;
mod login_profiles;
mod policies;
mod roles;
mod users;

pub(crate) use login_profiles::{check_password, hash_password, verify_password};

/// Everything an operation needs.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The cloud.
    pub cloud: &'a Cloud,
    /// The state when the request arrived.
    pub state: Arc<State>,
    /// The authenticated caller.
    pub caller: &'a Caller,
    /// The request parameters.
    pub params: &'a Params,
    /// Network and time facts.
    pub info: &'a RequestInfo,
    /// The request id.
    pub request_id: &'a str,
}

impl Ctx<'_> {
    /// The caller's account (IAM operations act on it).
    pub fn account(&self) -> &str {
        &self.caller.account
    }

    /// Authorizes the caller for `ask`.
    pub fn authorize(&self, ask: &Ask<'_>) -> Result<(), ApiError> {
        authz::authorize(&self.cloud.authz, &self.state, self.caller, ask, self.info)
    }

    /// A success response with a result element.
    pub fn respond(&self, op: &str, result: impl FnOnce(&mut Xml)) -> String {
        query_response(Service::Iam, op, self.request_id, result)
    }

    /// A success response without a result element.
    pub fn respond_empty(&self, op: &str) -> String {
        query_empty_response(Service::Iam, op, self.request_id)
    }

    /// Applies a change to the cloud's state.
    pub fn mutate<R>(
        &self,
        f: impl FnOnce(&mut crate::state::Tx<'_>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        self.cloud.shared.mutate(f)
    }
}

/// Runs an IAM operation. `Ok` is the response body.
pub fn handle(ctx: &Ctx<'_>, action: &str) -> Result<String, ApiError> {
    refuse_restricted_sessions(ctx, action)?;
    match action {
        "CreateUser" => users::create_user(ctx),
        "GetUser" => users::get_user(ctx),
        "ListUsers" => users::list_users(ctx),
        "UpdateUser" => users::update_user(ctx),
        "DeleteUser" => users::delete_user(ctx),
        "TagUser" => users::tag_user(ctx),
        "UntagUser" => users::untag_user(ctx),
        "ListUserTags" => users::list_user_tags(ctx),
        "PutUserPermissionsBoundary" => users::put_user_permissions_boundary(ctx),
        "DeleteUserPermissionsBoundary" => users::delete_user_permissions_boundary(ctx),
        "GetAccountSummary" => users::get_account_summary(ctx),
        other => groups::handle(ctx, other)
            .or_else(|| roles::handle(ctx, other))
            .or_else(|| policies::handle(ctx, other))
            .or_else(|| access_keys::handle(ctx, other))
            .or_else(|| login_profiles::handle(ctx, other))
            .unwrap_or_else(|| {
                Err(ApiError::new(
                    400,
                    "InvalidAction",
                    format!("The action {other} is not valid for this web service (IAM) in Porteiro's embedded cloud."),
                ))
            }),
    }
}

/// Temporary credentials AWS does not let call IAM: GetFederationToken credentials ("You
/// cannot call any IAM operations using the AWS CLI or the AWS API") and GetSessionToken
/// credentials without MFA ("You cannot call any IAM API operations unless MFA authentication
/// information is included in the request").
fn refuse_restricted_sessions(ctx: &Ctx<'_>, action: &str) -> Result<(), ApiError> {
    let crate::authz::CallerKind::Session(s) = &ctx.caller.kind else {
        return Ok(());
    };
    let why = match &s.kind {
        crate::model::SessionKind::Federated { .. } => {
            "credentials from GetFederationToken cannot call IAM: use the IAM user's own access key"
        }
        crate::model::SessionKind::SessionToken { .. } if !s.mfa => {
            "credentials from GetSessionToken without MFA cannot call IAM: call GetSessionToken with SerialNumber and TokenCode, or use the long-term access key"
        }
        _ => return Ok(()),
    };
    Err(ApiError::new(
        403,
        "AccessDenied",
        format!(
            "User: {} is not authorized to perform: iam:{action}: {why}",
            ctx.caller.arn
        ),
    ))
}

// ---- validation ----

/// Checks an IAM name (`[\w+=,.@-]+`, 1..=max characters).
pub fn check_name(value: &str, param: &str, max: usize) -> Result<(), ApiError> {
    let ok_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if value.is_empty() || value.chars().count() > max || !ok_chars {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must have length between 1 and {max} and match the pattern [\\w+=,.@-]+",
            lower_first(param)
        )));
    }
    Ok(())
}

/// Checks an IAM path (`/` or `/a/b/`, at most 512 characters).
pub fn check_path(path: &str) -> Result<(), ApiError> {
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && path.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c))
        && !path.contains("//");
    if !ok {
        return Err(ApiError::validation(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters: `{path}`"
        )));
    }
    Ok(())
}

/// Validates and compiles a policy document; AWS's error for a bad one.
pub fn check_policy_document(doc: &str, kind: PolicyKind, max_chars: usize) -> Result<Policy, ApiError> {
    let significant = doc.chars().filter(|c| !c.is_whitespace()).count();
    if significant > max_chars {
        return Err(ApiError::limit_exceeded(format!(
            "Cannot exceed quota for PolicySize: {max_chars} (the document has {significant} characters, not counting whitespace)"
        )));
    }
    Policy::parse(doc, kind).map_err(|e| ApiError::malformed_policy(e.to_string()))
}

/// Percent-encodes a document as IAM returns policy documents (RFC 3986).
pub fn url_encode(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len() * 2);
    for b in doc.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Applies `TagKeys.member.N` removal.
pub fn untag(tags: &mut Vec<Tag>, keys: &[&str]) {
    tags.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
}

/// Merges new tags into existing ones (same key: replaced), checking the 50-tag limit.
pub fn merge_tags(tags: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), ApiError> {
    for t in new {
        tags.retain(|x| !x.key.eq_ignore_ascii_case(&t.key));
        tags.push(t);
    }
    if tags.len() > 50 {
        return Err(ApiError::limit_exceeded(
            "Cannot exceed quota for TagsPerResource: 50",
        ));
    }
    Ok(())
}

// ---- XML shapes ----

/// `<Tags><member><Key/><Value/></member>…</Tags>` (omitted when empty).
pub fn write_tags(x: &mut Xml, tags: &[Tag]) {
    if tags.is_empty() {
        return;
    }
    x.open("Tags");
    for t in tags {
        x.open("member")
            .elem("Key", &t.key)
            .elem("Value", &t.value)
            .close("member");
    }
    x.close("Tags");
}

/// `<PermissionsBoundary>` of a user or role.
pub fn write_boundary(x: &mut Xml, boundary: Option<&str>) {
    if let Some(arn) = boundary {
        x.open("PermissionsBoundary")
            .elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .elem("PermissionsBoundaryArn", arn)
            .close("PermissionsBoundary");
    }
}

/// The fields of a `User` element.
pub fn write_user(x: &mut Xml, u: &User, with_tags: bool) {
    x.elem("Path", &u.path)
        .elem("UserName", &u.name)
        .elem("UserId", &u.id)
        .elem("Arn", &u.arn())
        .elem("CreateDate", &crate::time::iso8601(u.created));
    write_boundary(x, u.boundary.as_deref());
    if with_tags {
        write_tags(x, &u.tags);
    }
}

/// `Marker`/`MaxItems` pagination over a sorted list: (page, next marker).
pub fn paginate<T: Clone>(params: &Params, items: Vec<T>) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = params.int("MaxItems")?.unwrap_or(100);
    if !(1..=1000).contains(&max) {
        return Err(ApiError::validation("MaxItems must be between 1 and 1000"));
    }
    let start = match params.get("Marker") {
        Some(m) => m
            .strip_prefix("ptr-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::invalid_input(format!(
                    "invalid Marker `{m}`: pass the Marker of the previous page"
                ))
            })?,
        None => 0,
    };
    let max = usize::try_from(max).unwrap_or(100);
    let page: Vec<T> = items.iter().skip(start).take(max).cloned().collect();
    let next = (start + page.len() < items.len()).then(|| format!("ptr-{}", start + page.len()));
    Ok((page, next))
}

/// `<IsTruncated>` and `<Marker>` after a list.
pub fn write_truncation(x: &mut Xml, next: Option<&str>) {
    x.elem("IsTruncated", if next.is_some() { "true" } else { "false" });
    x.opt("Marker", next);
}

// ---- managed policies shared with authz ----

/// Finds a managed policy by ARN (customer managed or AWS managed).
pub fn find_policy<'a>(state: &'a State, arn: &str) -> Option<&'a ManagedPolicy> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, rest) = rest.split_once(':')?;
    let path_and_name = rest.strip_prefix("policy")?;
    let name = path_and_name.rsplit('/').next()?;
    state
        .policies
        .get(&name_key(account, name))
        .filter(|p| p.arn() == arn)
}

/// AWS managed policies the cloud provides (account `aws`).
const AWS_MANAGED: [(&str, &str, &str); 6] = [
    (
        "AdministratorAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","iam:Generate*","sts:GetCallerIdentity","s3:Get*","s3:List*","kms:Describe*","kms:Get*","kms:List*"],"Resource":"*"}]}"#,
    ),
    (
        "PowerUserAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions","account:GetAccountInformation"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3FullAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        "/",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    ),
];

/// Creates the AWS managed policies on first start.
pub fn seed_aws_managed_policies(cloud: &Cloud) -> Result<(), ApiError> {
    let snap = cloud.shared.snapshot();
    if AWS_MANAGED
        .iter()
        .all(|(name, _, _)| snap.policies.contains_key(&name_key("aws", name)))
    {
        return Ok(());
    }
    cloud.shared.mutate(|tx| {
        for (name, path, doc) in AWS_MANAGED {
            if tx.state.policies.contains_key(&name_key("aws", name)) {
                continue;
            }
            tx.put(ManagedPolicy {
                account: "aws".into(),
                name: name.into(),
                path: path.into(),
                id: crate::ids::aws_id("ANPA"),
                created: 1_423_000_000,
                updated: 1_423_000_000,
                description: None,
                default_version: "v1".into(),
                versions: vec![PolicyVersion {
                    id: "v1".into(),
                    document: doc.into(),
                    created: 1_423_000_000,
                }],
                next_version: 2,
                tags: Vec::new(),
            });
        }
        Ok(())
    })
}
