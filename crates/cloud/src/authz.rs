//! Who is calling (credentials → principal) and may they (the IAM engine, with a request
//! context built as AWS builds it).
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use porteiro_iam::{
    Authorizer, Context, Decision, Layer, Layers, Policy, PolicyKind, Principal, Request, Value,
};

use crate::model::{KeyOwner, Session, SessionKind, Tag};
use crate::protocol::ApiError;
use crate::state::{State, name_key};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's account.
    pub account: String,
    /// The principal ARN (`…:root`, `…:user/…`, `…:assumed-role/…/…`, `…:federated-user/…`).
    pub arn: String,
    /// `UserId` of `GetCallerIdentity`.
    pub user_id: String,
    /// The access key used.
    pub access_key_id: String,
    /// What kind of caller.
    pub kind: CallerKind,
}

/// What kind of caller.
#[derive(Debug, Clone)]
pub enum CallerKind {
    /// The account root user.
    Root,
    /// An IAM user with a long-term key.
    User {
        /// User name.
        name: String,
    },
    /// Temporary credentials.
    Session(Box<Session>),
}

impl Caller {
    /// The IAM user behind the caller, if any (long-term key, session token, federation token).
    pub fn user_name(&self) -> Option<&str> {
        match &self.kind {
            CallerKind::User { name } => Some(name),
            CallerKind::Session(s) => match &s.kind {
                SessionKind::Federated { user, .. } => Some(user),
                SessionKind::SessionToken {
                    owner: KeyOwner::User(u),
                } => Some(u),
                _ => None,
            },
            CallerKind::Root => None,
        }
    }

    /// True for temporary credentials.
    pub fn is_session(&self) -> bool {
        matches!(self.kind, CallerKind::Session(_))
    }
}

/// Resolves credentials to a caller. Errors are AWS's authentication errors.
pub fn resolve(
    state: &State,
    access_key_id: &str,
    token: Option<&str>,
    now: i64,
) -> Result<(Caller, String), ApiError> {
    let invalid = || {
        ApiError::new(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    };
    if let Some(key) = state.keys.get(access_key_id) {
        if !key.active {
            return Err(invalid());
        }
        let account = key.account.clone();
        let caller = match &key.owner {
            KeyOwner::Root => Caller {
                arn: format!("arn:aws:iam::{account}:root"),
                user_id: account.clone(),
                account,
                access_key_id: access_key_id.to_string(),
                kind: CallerKind::Root,
            },
            KeyOwner::User(name) => {
                let user = state.users.get(&name_key(&account, name)).ok_or_else(invalid)?;
                Caller {
                    arn: user.arn(),
                    user_id: user.id.clone(),
                    account,
                    access_key_id: access_key_id.to_string(),
                    kind: CallerKind::User {
                        name: user.name.clone(),
                    },
                }
            }
        };
        return Ok((caller, key.secret.clone()));
    }
    if let Some(session) = state.sessions.get(access_key_id) {
        // SECURITY: the token must match the one issued with this key.
        let token_ok = token.is_some_and(|t| constant_time_eq(t.as_bytes(), session.token.as_bytes()));
        if !token_ok {
            return Err(invalid());
        }
        if session.expires <= now {
            return Err(ApiError::new(
                403,
                "ExpiredToken",
                "The security token included in the request is expired",
            ));
        }
        let account = session.account.clone();
        let (arn, user_id) = match &session.kind {
            SessionKind::AssumedRole {
                role_name,
                session_name,
                role_id,
                ..
            } => (
                format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"),
                format!("{role_id}:{session_name}"),
            ),
            SessionKind::Federated { name, .. } => (
                format!("arn:aws:sts::{account}:federated-user/{name}"),
                format!("{account}:{name}"),
            ),
            SessionKind::SessionToken {
                owner: KeyOwner::Root,
            } => (format!("arn:aws:iam::{account}:root"), account.clone()),
            SessionKind::SessionToken {
                owner: KeyOwner::User(u),
            } => {
                let user = state.users.get(&name_key(&account, u)).ok_or_else(invalid)?;
                (user.arn(), user.id.clone())
            }
        };
        let caller = Caller {
            account,
            arn,
            user_id,
            access_key_id: access_key_id.to_string(),
            kind: CallerKind::Session(Box::new(session.clone())),
        };
        return Ok((caller, session.secret.clone()));
    }
    Err(invalid())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Network and time facts about a request.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The client address.
    pub source_ip: IpAddr,
    /// The region of the SigV4 scope.
    pub region: String,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// Seconds since the epoch.
    pub now: i64,
    /// The VPC endpoint the request arrived through, if any: the context then has
    /// `aws:SourceVpc`, `aws:SourceVpce` and `aws:VpcSourceIp` instead of `aws:SourceIp`.
    pub vpc: Option<VpcEndpoint>,
    /// The services that forwarded this request for the caller (a forward access session),
    /// first to last; empty for a direct call.
    pub called_via: Vec<String>,
}

/// A VPC endpoint a listener stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcEndpoint {
    /// `vpce-…`.
    pub endpoint_id: String,
    /// `vpc-…`.
    pub vpc_id: String,
}

impl VpcEndpoint {
    /// A VPC endpoint; ids as AWS writes them (`vpce-` and `vpc-` followed by 8 or 17
    /// lower-case hex digits).
    pub fn new(endpoint_id: &str, vpc_id: &str) -> Result<VpcEndpoint, String> {
        fn check(id: &str, prefix: &str, what: &str) -> Result<(), String> {
            let ok = id.strip_prefix(prefix).is_some_and(|hex| {
                (hex.len() == 8 || hex.len() == 17)
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "`{id}` is not a {what} id: write `{prefix}` followed by 8 or 17 lower-case hex digits, as `{prefix}0a1b2c3d`"
                ))
            }
        }
        check(endpoint_id, "vpce-", "VPC endpoint")?;
        check(vpc_id, "vpc-", "VPC")?;
        Ok(VpcEndpoint {
            endpoint_id: endpoint_id.to_string(),
            vpc_id: vpc_id.to_string(),
        })
    }
}

impl RequestInfo {
    /// Facts of a direct call from `source_ip`.
    pub fn direct(source_ip: IpAddr, region: impl Into<String>, now: i64) -> RequestInfo {
        RequestInfo {
            source_ip,
            region: region.into(),
            secure: false,
            now,
            vpc: None,
            called_via: Vec::new(),
        }
    }

    /// The facts of the forward access session `service` (`s3.amazonaws.com`) makes for this
    /// request: the same caller and network facts, one more service in `aws:CalledVia`.
    pub fn forwarded_by(&self, service: &str) -> RequestInfo {
        let mut info = self.clone();
        info.called_via.push(service.to_string());
        info
    }
}

/// What is being asked.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    /// `iam:CreateUser`.
    pub action: &'a str,
    /// The resource ARN, or `*`.
    pub resource: String,
    /// The resource's policy (a role's trust policy for `sts:AssumeRole`).
    pub resource_policy: Option<&'a str>,
    /// How the resource policy is read (`Trust` for a role's trust policy, `Resource` for a
    /// bucket or key policy).
    pub resource_policy_kind: PolicyKind,
    /// The account that owns the resource when its ARN does not say (S3 buckets); `None` =
    /// from the ARN, or the caller's account for `*` and AWS managed policies.
    pub resource_account: Option<String>,
    /// Keys the operation adds (`aws:RequestTag/...`, `sts:ExternalId`, ...).
    pub extra: Vec<(String, Value)>,
}

impl<'a> Ask<'a> {
    /// An action on a resource, without a resource policy or extra keys.
    pub fn new(action: &'a str, resource: impl Into<String>) -> Ask<'a> {
        Ask {
            action,
            resource: resource.into(),
            resource_policy: None,
            resource_policy_kind: PolicyKind::Resource,
            resource_account: None,
            extra: Vec::new(),
        }
    }

    /// The resource's policy, read as `kind`.
    pub fn with_resource_policy(mut self, doc: Option<&'a str>, kind: PolicyKind) -> Ask<'a> {
        self.resource_policy = doc;
        self.resource_policy_kind = kind;
        self
    }

    /// The account that owns the resource (for ARNs without one, as S3's).
    pub fn in_account(mut self, account: impl Into<String>) -> Ask<'a> {
        self.resource_account = Some(account.into());
        self
    }

    /// Adds a context key.
    pub fn with_key(mut self, key: impl Into<String>, value: impl Into<Value>) -> Ask<'a> {
        self.extra.push((key.into(), value.into()));
        self
    }

    /// Adds the `aws:RequestTag/K` and `aws:TagKeys` keys of tags in the request.
    pub fn with_request_tags(mut self, tags: &[Tag]) -> Ask<'a> {
        if !tags.is_empty() {
            for t in tags {
                self.extra.push((
                    format!("aws:RequestTag/{}", t.key),
                    Value::Single(t.value.clone()),
                ));
            }
            self.extra.push((
                "aws:TagKeys".into(),
                Value::Multi(tags.iter().map(|t| t.key.clone()).collect()),
            ));
        }
        self
    }
}

/// The compiled policies of one principal.
#[derive(Debug, Default)]
pub struct PrincipalPolicies {
    identity: Vec<Policy>,
    boundary: Option<Policy>,
    session: Option<Policy>,
    tags: Vec<Tag>,
    role_arn: Option<String>,
}

/// Compiled policies, cached by document and by principal.
#[derive(Debug, Default)]
pub struct PolicyCache {
    docs: Mutex<HashMap<(PolicyKind, String), Arc<Policy>>>,
    principals: Mutex<HashMap<String, (u64, Arc<PrincipalPolicies>)>>,
}

impl PolicyCache {
    /// Compiles a stored document (cached). Stored documents were validated when written.
    pub fn compile(&self, doc: &str, kind: PolicyKind) -> Result<Arc<Policy>, ApiError> {
        let mut docs = self
            .docs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = docs.get(&(kind, doc.to_string())) {
            return Ok(p.clone());
        }
        let policy = Arc::new(
            Policy::parse(doc, kind)
                .map_err(|e| ApiError::internal(format!("stored policy does not compile: {e}")))?,
        );
        if docs.len() > 10_000 {
            docs.clear();
        }
        docs.insert((kind, doc.to_string()), policy.clone());
        Ok(policy)
    }

    fn principal(&self, state: &State, caller: &Caller) -> Result<Arc<PrincipalPolicies>, ApiError> {
        let key = caller.access_key_id.clone();
        {
            let map = self
                .principals
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((generation, p)) = map.get(&key)
                && *generation == state.generation
            {
                return Ok(p.clone());
            }
        }
        let built = Arc::new(self.build(state, caller)?);
        let mut map = self
            .principals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(key, (state.generation, built.clone()));
        Ok(built)
    }

    fn managed(&self, state: &State, arn: &str, kind: PolicyKind) -> Result<Option<Policy>, ApiError> {
        match crate::iam::find_policy(state, arn).and_then(|p| p.default_document()) {
            Some(doc) => Ok(Some((*self.compile(doc, kind)?).clone())),
            None => Ok(None),
        }
    }

    fn attachments(
        &self,
        state: &State,
        inline: &std::collections::BTreeMap<String, String>,
        attached: &[String],
        out: &mut Vec<Policy>,
    ) -> Result<(), ApiError> {
        for doc in inline.values() {
            out.push((*self.compile(doc, PolicyKind::Identity)?).clone());
        }
        for arn in attached {
            if let Some(p) = self.managed(state, arn, PolicyKind::Identity)? {
                out.push(p);
            }
        }
        Ok(())
    }

    fn build(&self, state: &State, caller: &Caller) -> Result<PrincipalPolicies, ApiError> {
        let mut out = PrincipalPolicies::default();
        let account = &caller.account;
        let user_policies = |name: &str, out: &mut PrincipalPolicies| -> Result<(), ApiError> {
            let Some(user) = state.users.get(&name_key(account, name)) else {
                return Ok(());
            };
            self.attachments(state, &user.inline, &user.attached, &mut out.identity)?;
            for g in state.groups.values() {
                if g.account == *account && g.members.iter().any(|m| m.eq_ignore_ascii_case(&user.name)) {
                    self.attachments(state, &g.inline, &g.attached, &mut out.identity)?;
                }
            }
            if let Some(b) = &user.boundary {
                out.boundary = self.managed(state, b, PolicyKind::PermissionsBoundary)?;
            }
            out.tags = user.tags.clone();
            Ok(())
        };
        match &caller.kind {
            CallerKind::Root => {}
            CallerKind::User { name } => user_policies(name, &mut out)?,
            CallerKind::Session(session) => {
                match &session.kind {
                    SessionKind::AssumedRole { role_name, .. } => {
                        if let Some(role) = state.roles.get(&name_key(account, role_name)) {
                            self.attachments(state, &role.inline, &role.attached, &mut out.identity)?;
                            if let Some(b) = &role.boundary {
                                out.boundary = self.managed(state, b, PolicyKind::PermissionsBoundary)?;
                            }
                            out.tags = role.tags.clone();
                            out.role_arn = Some(role.arn());
                        }
                    }
                    SessionKind::Federated { user, .. } => user_policies(user, &mut out)?,
                    SessionKind::SessionToken {
                        owner: KeyOwner::User(u),
                    } => user_policies(u, &mut out)?,
                    SessionKind::SessionToken {
                        owner: KeyOwner::Root,
                    } => {}
                }
                // Session tags override principal tags with the same key.
                for t in &session.tags {
                    out.tags.retain(|x| !x.key.eq_ignore_ascii_case(&t.key));
                    out.tags.push(t.clone());
                }
                out.session = self.session_policy(state, session)?;
            }
        }
        Ok(out)
    }

    /// The session's inline and managed session policies, merged into one policy (their
    /// union is the session policy; the effective permissions are its intersection with the
    /// identity policies).
    fn session_policy(&self, state: &State, session: &Session) -> Result<Option<Policy>, ApiError> {
        let mut docs: Vec<String> = session.policy.iter().cloned().collect();
        for arn in &session.policy_arns {
            if let Some(doc) = crate::iam::find_policy(state, arn).and_then(|p| p.default_document()) {
                docs.push(doc.to_string());
            }
        }
        if docs.is_empty() {
            return Ok(None);
        }
        if let [only] = docs.as_slice() {
            return Ok(Some((*self.compile(only, PolicyKind::Session)?).clone()));
        }
        Ok(Some(
            (*self.compile(&merge_documents(&docs), PolicyKind::Session)?).clone(),
        ))
    }
}

/// Merges policy documents into one whose statements are all of theirs (Sids dropped, since
/// they only need to be unique within one document).
pub fn merge_documents(docs: &[String]) -> String {
    let mut statements = Vec::new();
    for doc in docs {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else {
            continue;
        };
        let v = match v {
            serde_json::Value::String(s) => serde_json::from_str(&s).unwrap_or(serde_json::Value::Null),
            other => other,
        };
        match v.get("Statement") {
            Some(serde_json::Value::Array(items)) => statements.extend(items.iter().cloned()),
            Some(one @ serde_json::Value::Object(_)) => statements.push(one.clone()),
            _ => {}
        }
    }
    for s in &mut statements {
        if let serde_json::Value::Object(m) = s {
            m.remove("Sid");
        }
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The request context AWS builds for a caller.
pub fn base_context(caller: &Caller, policies: &PrincipalPolicies, info: &RequestInfo) -> Context {
    let mut ctx = Context::new();
    match &info.vpc {
        // Through a VPC endpoint AWS sets the VPC keys and no `aws:SourceIp`; a forward access
        // session drops the VPC keys.
        Some(vpc) if info.called_via.is_empty() => {
            ctx.insert("aws:SourceVpc", vpc.vpc_id.as_str());
            ctx.insert("aws:SourceVpce", vpc.endpoint_id.as_str());
            ctx.insert("aws:VpcSourceIp", info.source_ip.to_string());
        }
        Some(_) => {}
        None => ctx.insert("aws:SourceIp", info.source_ip.to_string()),
    }
    if let (Some(first), Some(last)) = (info.called_via.first(), info.called_via.last()) {
        ctx.insert("aws:CalledVia", Value::Multi(info.called_via.clone()));
        ctx.insert("aws:CalledViaFirst", first.as_str());
        ctx.insert("aws:CalledViaLast", last.as_str());
        ctx.insert("aws:ViaAWSService", "true");
    }
    ctx.insert("aws:CurrentTime", crate::time::iso8601(info.now));
    ctx.insert("aws:EpochTime", info.now.to_string());
    ctx.insert("aws:SecureTransport", if info.secure { "true" } else { "false" });
    ctx.insert("aws:RequestedRegion", info.region.as_str());
    ctx.insert("aws:userid", caller.user_id.as_str());
    for t in &policies.tags {
        ctx.insert(&format!("aws:PrincipalTag/{}", t.key), t.value.as_str());
    }
    if let Some(role_arn) = &policies.role_arn {
        ctx.insert("aws:PrincipalArn", role_arn.as_str());
    }
    if let CallerKind::Session(s) = &caller.kind {
        ctx.insert("aws:TokenIssueTime", crate::time::iso8601(s.issued));
        ctx.insert("aws:MultiFactorAuthPresent", if s.mfa { "true" } else { "false" });
        if let Some(si) = &s.source_identity {
            ctx.insert("aws:SourceIdentity", si.as_str());
        }
    }
    ctx
}

/// Authorizes `ask` for `caller`; a denial reads as AWS's.
pub fn authorize(
    cache: &PolicyCache,
    state: &State,
    caller: &Caller,
    ask: &Ask<'_>,
    info: &RequestInfo,
) -> Result<(), ApiError> {
    let policies = cache.principal(state, caller)?;
    let mut ctx = base_context(caller, &policies, info);
    for (k, v) in &ask.extra {
        ctx.insert(k, v.clone());
    }
    let principal = Principal::parse(&caller.arn)
        .map_err(|e| ApiError::internal(format!("caller is not a principal: {e}")))?;
    // `*` and AWS managed policies (account `aws`) are in the caller's account.
    let resource_account = match &ask.resource_account {
        Some(a) => Some(a.as_str()),
        None if ask.resource == "*" || ask.resource.starts_with("arn:aws:iam::aws:") => {
            Some(caller.account.as_str())
        }
        None => None,
    };
    let request = Request::new(principal, ask.action, &ask.resource, resource_account, ctx);
    let resource_policy = match ask.resource_policy {
        Some(doc) => Some(cache.compile(doc, ask.resource_policy_kind)?),
        None => None,
    };
    let layers = Layers {
        identity: &policies.identity,
        resource: resource_policy.as_deref(),
        permissions_boundary: policies.boundary.as_ref(),
        session: policies.session.as_ref(),
        scp: None,
        rcp: None,
    };
    let evaluation = Authorizer::new().evaluate(&request, &layers);
    if evaluation.decision == Decision::Allowed {
        return Ok(());
    }
    Err(ApiError::new(
        403,
        "AccessDenied",
        denial_message(
            caller,
            ask,
            evaluation.decision,
            evaluation.denied_by.map(|d| d.layer),
        ),
    ))
}

/// AWS's wording of a denial.
pub fn denial_message(caller: &Caller, ask: &Ask<'_>, decision: Decision, layer: Option<Layer>) -> String {
    let head = format!(
        "User: {} is not authorized to perform: {} on resource: {}",
        caller.arn, ask.action, ask.resource
    );
    let layer_name = |l: Option<Layer>| match l {
        Some(Layer::Resource) => "a resource-based policy",
        Some(Layer::PermissionsBoundary) => "a permissions boundary",
        Some(Layer::Session) => "a session policy",
        Some(Layer::Scp) => "a service control policy",
        Some(Layer::Rcp) => "a resource control policy",
        _ => "an identity-based policy",
    };
    match (decision, layer) {
        (Decision::ExplicitDeny, l) => format!("{head} with an explicit deny in {}", layer_name(l)),
        // KMS names the key policy: "… because no resource-based policy allows the kms:… action".
        (_, Some(Layer::Resource)) if ask.action.starts_with("kms:") => format!(
            "{head} because no resource-based policy allows the {} action",
            ask.action
        ),
        (_, Some(Layer::Resource)) if ask.resource_policy.is_some() => head,
        (_, Some(Layer::PermissionsBoundary)) => {
            format!(
                "{head} because no permissions boundary allows the {} action",
                ask.action
            )
        }
        (_, Some(Layer::Session)) => format!(
            "{head} because no session policy allows the {} action",
            ask.action
        ),
        _ => format!(
            "{head} because no identity-based policy allows the {} action",
            ask.action
        ),
    }
}

#[cfg(test)]
mod vpc_tests {
    use super::*;

    #[test]
    fn vpc_endpoint_ids_are_checked() {
        assert!(VpcEndpoint::new("vpce-0a1b2c3d", "vpc-11112222").is_ok());
        assert!(VpcEndpoint::new("vpce-0123456789abcdef0", "vpc-0123456789abcdef0").is_ok());
        let e = VpcEndpoint::new("vpc-0a1b2c3d", "vpc-11112222").expect_err("wrong prefix");
        assert!(e.contains("VPC endpoint"), "{e}");
        assert!(VpcEndpoint::new("vpce-0A1B2C3D", "vpc-11112222").is_err());
        assert!(VpcEndpoint::new("vpce-0a1b2c3d", "vpc-1").is_err());
    }

    #[test]
    fn context_through_an_endpoint_and_forwarded() {
        let caller = Caller {
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/bob".into(),
            user_id: "AIDA".into(),
            access_key_id: "AKIA".into(),
            kind: CallerKind::User { name: "bob".into() },
        };
        let policies = PrincipalPolicies::default();
        let mut info = RequestInfo::direct("10.0.0.7".parse().expect("ip"), "us-east-1", 0);
        let direct = base_context(&caller, &policies, &info);
        assert!(direct.get("aws:SourceIp").is_some());
        assert!(direct.get("aws:SourceVpc").is_none());
        info.vpc = Some(VpcEndpoint::new("vpce-0a1b2c3d", "vpc-11112222").expect("ids"));
        let via_vpc = base_context(&caller, &policies, &info);
        assert!(via_vpc.get("aws:SourceIp").is_none());
        assert_eq!(
            via_vpc.get("aws:SourceVpce"),
            Some(&Value::Single("vpce-0a1b2c3d".into()))
        );
        assert_eq!(
            via_vpc.get("aws:VpcSourceIp"),
            Some(&Value::Single("10.0.0.7".into()))
        );
        let hop = base_context(&caller, &policies, &info.forwarded_by("s3.amazonaws.com"));
        assert!(hop.get("aws:SourceVpc").is_none());
        assert!(hop.get("aws:VpcSourceIp").is_none());
        assert_eq!(
            hop.get("aws:CalledVia"),
            Some(&Value::Multi(vec!["s3.amazonaws.com".into()]))
        );
        assert_eq!(hop.get("aws:ViaAWSService"), Some(&Value::Single("true".into())));
    }
}
