//! The question the engine answers: who (principal), does what (action), to what (resource),
//! in which circumstances (the request context).
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>

use std::collections::HashMap;

use crate::pattern::Resolver;

/// A request context value: one string, or a set of strings (a multivalued key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A single-valued key. Booleans and numbers are given in their string form.
    Single(String),
    /// A multivalued key such as `aws:TagKeys` or `aws:CalledVia`.
    Multi(Vec<String>),
}

impl Value {
    /// The values as a list (one element for a single value).
    pub fn as_list(&self) -> Vec<&str> {
        match self {
            Value::Single(s) => vec![s.as_str()],
            Value::Multi(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Single(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Single(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Single(b.to_string())
    }
}

impl From<Vec<&str>> for Value {
    fn from(v: Vec<&str>) -> Value {
        Value::Multi(v.into_iter().map(str::to_string).collect())
    }
}

/// Request context keys. Key names are case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    keys: HashMap<String, (String, Value)>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets a key (replacing any value under the same name in any case).
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        self.keys
            .insert(key.to_lowercase(), (key.to_string(), value.into()));
    }

    /// Sets a key unless it is already present.
    pub fn insert_default(&mut self, key: &str, value: impl Into<Value>) {
        let lower = key.to_lowercase();
        self.keys
            .entry(lower)
            .or_insert_with(|| (key.to_string(), value.into()));
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        self.keys.remove(&key.to_lowercase());
    }

    /// Looks a key up by name (any case).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.keys.get(key) {
            Some((_, v)) => Some(v),
            None if key.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.keys.get(&key.to_lowercase()).map(|(_, v)| v)
            }
            None => None,
        }
    }

    /// Looks a key up by its lower-case name (the engine's hot path).
    pub(crate) fn get_lower(&self, key: &str) -> Option<&Value> {
        self.keys.get(key).map(|(_, v)| v)
    }

    /// The keys with their names as given, sorted by lower-case name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        let mut items: Vec<_> = self.keys.iter().collect();
        items.sort_by(|a, b| a.0.cmp(b.0));
        items.into_iter().map(|(_, (name, v))| (name.as_str(), v))
    }
}

impl Resolver for Context {
    fn single(&self, key: &str) -> Option<&str> {
        match self.get_lower(key) {
            Some(Value::Single(s)) => Some(s.as_str()),
            _ => None,
        }
    }
}

/// What kind of caller a principal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An IAM user: `arn:aws:iam::ACCOUNT:user/PATH/NAME`.
    User,
    /// An IAM role named directly: `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    Role,
    /// A role session: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumedRole,
    /// A federated user session: `arn:aws:sts::ACCOUNT:federated-user/NAME`.
    FederatedUser,
    /// The account root user: `arn:aws:iam::ACCOUNT:root`.
    Root,
    /// An AWS service principal such as `athena.amazonaws.com`.
    Service,
    /// A web-identity or SAML provider (the `Federated` principal of a trust policy).
    Federated,
    /// An unauthenticated caller.
    Anonymous,
}

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub(crate) arn: String,
    pub(crate) kind: PrincipalKind,
    pub(crate) partition: String,
    pub(crate) account: Option<String>,
    /// For sessions, the role's ARN (without path unless given through `aws:PrincipalArn`).
    pub(crate) role_arn: Option<String>,
    /// For IAM users, the user name.
    pub(crate) user_name: Option<String>,
}

/// A principal string that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a principal: use an IAM user, role, assumed-role or federated-user ARN, an account root ARN, a service principal such as `athena.amazonaws.com`, or `anonymous`"
)]
pub struct PrincipalError(pub String);

const WEB_IDENTITY_PROVIDERS: [&str; 4] = [
    "cognito-identity.amazonaws.com",
    "accounts.google.com",
    "graph.facebook.com",
    "www.amazon.com",
];

impl Principal {
    /// Parses a principal from its ARN, service name or `anonymous`.
    pub fn parse(s: &str) -> Result<Principal, PrincipalError> {
        let err = || PrincipalError(s.to_string());
        let simple = |kind| Principal {
            arn: s.to_string(),
            kind,
            partition: "aws".to_string(),
            account: None,
            role_arn: None,
            user_name: None,
        };
        if s == "anonymous" || s == "*" {
            return Ok(simple(PrincipalKind::Anonymous));
        }
        if WEB_IDENTITY_PROVIDERS.contains(&s) {
            return Ok(simple(PrincipalKind::Federated));
        }
        if !s.starts_with("arn:") {
            if s.ends_with(".amazonaws.com") || s.ends_with(".amazonaws.com.cn") {
                return Ok(simple(PrincipalKind::Service));
            }
            return Err(err());
        }
        let parts = crate::pattern::split_arn(s).ok_or_else(err)?;
        let [_, partition, service, _, account, resource] = parts;
        if partition.is_empty() || account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let mut p = Principal {
            arn: s.to_string(),
            kind: PrincipalKind::User,
            partition: partition.to_string(),
            account: Some(account.to_string()),
            role_arn: None,
            user_name: None,
        };
        match service {
            "iam" if resource == "root" => p.kind = PrincipalKind::Root,
            "iam" if resource.starts_with("user/") => {
                let name = resource.rsplit('/').next().unwrap_or_default();
                if name.is_empty() {
                    return Err(err());
                }
                p.kind = PrincipalKind::User;
                p.user_name = Some(name.to_string());
            }
            "iam" if resource.starts_with("role/") => {
                if resource.len() <= 5 {
                    return Err(err());
                }
                p.kind = PrincipalKind::Role;
                p.role_arn = Some(s.to_string());
            }
            "iam" if resource.starts_with("saml-provider/") || resource.starts_with("oidc-provider/") => {
                p.kind = PrincipalKind::Federated;
            }
            "sts" if resource.starts_with("assumed-role/") => {
                let mut it = resource.splitn(3, '/');
                let (_, role, session) = (it.next(), it.next(), it.next());
                match (role, session) {
                    (Some(role), Some(session)) if !role.is_empty() && !session.is_empty() => {
                        p.kind = PrincipalKind::AssumedRole;
                        p.role_arn = Some(format!("arn:{partition}:iam::{account}:role/{role}"));
                    }
                    _ => return Err(err()),
                }
            }
            "sts" if resource.starts_with("federated-user/") && resource.len() > 15 => {
                p.kind = PrincipalKind::FederatedUser;
            }
            _ => return Err(err()),
        }
        Ok(p)
    }

    /// The principal as given.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// What kind of caller this is.
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// The principal's account, when it has one.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// True for IAM identities (users, roles and their sessions, federated users, root), to which
    /// identity policies and SCPs apply.
    pub fn is_iam_identity(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::User
                | PrincipalKind::Role
                | PrincipalKind::AssumedRole
                | PrincipalKind::FederatedUser
                | PrincipalKind::Root
        )
    }

    /// The value of `aws:PrincipalType`.
    pub fn principal_type(&self) -> Option<&'static str> {
        match self.kind {
            PrincipalKind::User => Some("User"),
            PrincipalKind::Role | PrincipalKind::AssumedRole => Some("AssumedRole"),
            PrincipalKind::FederatedUser => Some("FederatedUser"),
            PrincipalKind::Root => Some("Account"),
            PrincipalKind::Anonymous => Some("Anonymous"),
            PrincipalKind::Service | PrincipalKind::Federated => None,
        }
    }

    /// The value of `aws:PrincipalArn`.
    fn principal_arn(&self) -> Option<String> {
        match self.kind {
            PrincipalKind::AssumedRole | PrincipalKind::Role => self.role_arn.clone(),
            PrincipalKind::User | PrincipalKind::FederatedUser | PrincipalKind::Root => {
                Some(self.arn.clone())
            }
            _ => None,
        }
    }
}

/// An authorization request: principal, action, resource and context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub(crate) principal: Principal,
    pub(crate) action: String,
    pub(crate) action_lower: String,
    pub(crate) resource: String,
    pub(crate) resource_account: Option<String>,
    pub(crate) context: Context,
}

impl Request {
    /// Builds a request. The context gets the keys AWS derives from the principal
    /// (`aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username`,
    /// `aws:ViaAWSService` = false) unless it sets them itself.
    pub fn new(
        principal: Principal,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
        mut context: Context,
    ) -> Request {
        let mut principal = principal;
        if let Some(arn) = principal.principal_arn() {
            context.insert_default("aws:PrincipalArn", arn);
        }
        // A role with a path is named by `aws:PrincipalArn` (session ARNs carry no path).
        if matches!(principal.kind, PrincipalKind::AssumedRole)
            && let Some(Value::Single(given)) = context.get_lower("aws:principalarn")
            && given.contains(":role/")
        {
            principal.role_arn = Some(given.clone());
        }
        if let Some(account) = &principal.account {
            context.insert_default("aws:PrincipalAccount", account.as_str());
        }
        if let Some(t) = principal.principal_type() {
            context.insert_default("aws:PrincipalType", t);
        }
        if let Some(name) = &principal.user_name {
            context.insert_default("aws:username", name.as_str());
        }
        if principal.kind == PrincipalKind::Service {
            context.insert_default("aws:PrincipalServiceName", principal.arn.as_str());
            context.insert_default("aws:PrincipalIsAWSService", "true");
        }
        context.insert_default("aws:ViaAWSService", "false");
        let resource_account = resource_account.map(str::to_string).or_else(|| {
            crate::pattern::split_arn(resource)
                .map(|p| p[4])
                .filter(|a| !a.is_empty())
                .map(str::to_string)
        });
        Request {
            principal,
            action_lower: action.to_lowercase(),
            action: action.to_string(),
            resource: resource.to_string(),
            resource_account,
            context,
        }
    }

    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The action as given.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource as given.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The account that owns the resource (given, or read from the ARN).
    pub fn resource_account(&self) -> Option<&str> {
        self.resource_account.as_deref()
    }

    /// The request context, with derived keys.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The request of a forward access session: the same principal, made by `called_via`
    /// (the via services of this hop and every hop before it, in order) to `action` on
    /// `resource`. The context loses the VPC keys, keeps `aws:SourceIp` and the session
    /// attributes, gets `aws:CalledVia*` and `aws:ViaAWSService` = true, then `extra`.
    ///
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_forward_access_sessions.html>
    pub fn forward(
        &self,
        called_via: &[String],
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
        extra: &Context,
        options: &crate::Options,
    ) -> Request {
        let mut context = self.context.clone();
        for key in ["aws:SourceVpc", "aws:SourceVpce", "aws:VpcSourceIp"] {
            context.remove(key);
        }
        if !options.fas_keeps_source_ip {
            context.remove("aws:SourceIp");
        }
        context.insert("aws:CalledVia", Value::Multi(called_via.to_vec()));
        if let (Some(first), Some(last)) = (called_via.first(), called_via.last()) {
            context.insert("aws:CalledViaFirst", first.as_str());
            context.insert("aws:CalledViaLast", last.as_str());
        }
        context.insert("aws:ViaAWSService", "true");
        for (k, v) in extra.iter() {
            context.insert(k, v.clone());
        }
        let resource_account = resource_account.map(str::to_string).or_else(|| {
            crate::pattern::split_arn(resource)
                .map(|p| p[4])
                .filter(|a| !a.is_empty())
                .map(str::to_string)
        });
        Request {
            principal: self.principal.clone(),
            action_lower: action.to_lowercase(),
            action: action.to_string(),
            resource: resource.to_string(),
            resource_account,
            context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_principals() {
        let p = Principal::parse("arn:aws:sts::111122223333:assumed-role/data-reader/alice").unwrap();
        assert_eq!(p.kind, PrincipalKind::AssumedRole);
        assert_eq!(
            p.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/data-reader")
        );
        let u = Principal::parse("arn:aws:iam::111122223333:user/eng/bob").unwrap();
        assert_eq!(u.user_name.as_deref(), Some("bob"));
        assert_eq!(
            Principal::parse("athena.amazonaws.com").unwrap().kind,
            PrincipalKind::Service
        );
        assert!(Principal::parse("arn:aws:iam::12:user/x").is_err());
        assert!(Principal::parse("bob").is_err());
    }

    #[test]
    fn derives_keys() {
        let p = Principal::parse("arn:aws:sts::111122223333:assumed-role/r/s").unwrap();
        let r = Request::new(p, "s3:GetObject", "arn:aws:s3:::b/k", None, Context::new());
        assert_eq!(
            r.context.get("aws:principalarn"),
            Some(&Value::Single("arn:aws:iam::111122223333:role/r".into()))
        );
        assert_eq!(
            r.context.get("AWS:PrincipalType"),
            Some(&Value::Single("AssumedRole".into()))
        );
        assert_eq!(r.resource_account, None);
    }

    #[test]
    fn forward_drops_vpc_keys() {
        let p = Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap();
        let mut ctx = Context::new();
        ctx.insert("aws:SourceVpc", "vpc-1");
        ctx.insert("aws:SourceIp", "203.0.113.1");
        let r = Request::new(p, "s3:GetObject", "arn:aws:s3:::b/k", Some("111122223333"), ctx);
        let hop = r.forward(
            &["s3.amazonaws.com".to_string()],
            "kms:Decrypt",
            "arn:aws:kms:us-east-1:111122223333:key/k",
            None,
            &Context::new(),
            &crate::Options::default(),
        );
        assert!(hop.context.get("aws:SourceVpc").is_none());
        assert!(hop.context.get("aws:SourceIp").is_some());
        assert_eq!(
            hop.context.get("aws:ViaAWSService"),
            Some(&Value::Single("true".into()))
        );
        assert_eq!(hop.resource_account.as_deref(), Some("111122223333"));
    }
}
