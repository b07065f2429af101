//! Policy evaluation logic: all layers, same- and cross-account rules, explanations.
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html>

use std::fmt;

use crate::condition::MultiValuedPlain;
use crate::policy::{ActionRule, Effect, Policy, PrincipalEntry, PrincipalRule, ResourceRule, Statement};
use crate::request::{Principal, PrincipalKind, Request, Value};

/// Choices on points AWS leaves open. The defaults are the documented project decisions
/// (see `docs/iam-engine.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How a plain operator treats a multivalued request value.
    pub multivalued_plain: MultiValuedPlain,
    /// Whether a forward access session keeps `aws:SourceIp` of the original request.
    pub fas_keeps_source_ip: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            multivalued_plain: MultiValuedPlain::NoMatch,
            fas_keeps_source_ip: true,
        }
    }
}

/// The policies that apply to a request, by layer. Every layer is optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layers<'a> {
    /// The principal's identity-based policies.
    pub identity: &'a [Policy],
    /// The resource's policy (bucket policy, key policy, role trust policy).
    pub resource: Option<&'a Policy>,
    /// The principal's permissions boundary.
    pub permissions_boundary: Option<&'a Policy>,
    /// The session policy of a session principal.
    pub session: Option<&'a Policy>,
    /// SCPs of the principal's account, one list per organisation level (root first);
    /// `None` = no AWS Organizations.
    pub scp: Option<&'a [Vec<Policy>]>,
    /// RCPs of the resource's account, one list per level; `None` = none.
    pub rcp: Option<&'a [Vec<Policy>]>,
}

/// The result of an authorization, as AWS's policy simulator names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Some policy allows and nothing denies.
    Allowed,
    /// A Deny statement applies.
    ExplicitDeny,
    /// Nothing allows (or a required layer does not allow).
    ImplicitDeny,
}

impl Decision {
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }

    /// Parses the scenario spelling.
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "allowed" => Some(Decision::Allowed),
            "explicitDeny" => Some(Decision::ExplicitDeny),
            "implicitDeny" => Some(Decision::ImplicitDeny),
            _ => None,
        }
    }

    /// True for `Allowed`.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Identity-based policies.
    Identity,
    /// The resource-based policy.
    Resource,
    /// The permissions boundary.
    PermissionsBoundary,
    /// The session policy.
    Session,
    /// Service control policies.
    Scp,
    /// Resource control policies.
    Rcp,
}

impl Layer {
    /// The scenario-format name of the layer.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Identity => "identity",
            Layer::Resource => "resource",
            Layer::PermissionsBoundary => "permissionsBoundary",
            Layer::Session => "session",
            Layer::Scp => "scp",
            Layer::Rcp => "rcp",
        }
    }

    fn people_name(self) -> &'static str {
        match self {
            Layer::Identity => "identity-based policy",
            Layer::Resource => "resource-based policy",
            Layer::PermissionsBoundary => "permissions boundary",
            Layer::Session => "session policy",
            Layer::Scp => "service control policy",
            Layer::Rcp => "resource control policy",
        }
    }
}

/// How a resource-policy Allow reaches the principal (strongest last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grant {
    /// The statement names the principal's account: identity policies must also allow.
    Account,
    /// The statement names the session's role: the boundary and session policy must allow.
    Role,
    /// The statement names the principal itself (or everyone): enough on its own.
    Direct,
}

/// The layer (and organisation level) that decided a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeniedBy {
    /// The layer.
    pub layer: Layer,
    /// For SCPs and RCPs: the organisation level, 0 = root.
    pub level: Option<usize>,
}

impl fmt::Display for DeniedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            Some(level) => write!(f, "{}[{level}]", self.layer.as_str()),
            None => f.write_str(self.layer.as_str()),
        }
    }
}

/// Why the engine decided as it did (a summary; the statements say more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `sts:GetCallerIdentity` needs no permission and cannot be denied.
    GetCallerIdentity,
    /// A Deny statement applies.
    ExplicitDeny,
    /// An SCP or RCP level has no applicable Allow.
    OrganizationsNoAllow,
    /// An identity policy allows (and boundary/session policy, when present).
    IdentityAllows,
    /// The resource policy names the principal.
    ResourceAllows(Grant),
    /// Neither an identity policy nor the resource policy allows.
    NothingAllows,
    /// The resource policy names only the account, and no identity policy allows.
    AccountGrantNeedsIdentity,
    /// The permissions boundary does not allow the action.
    BoundaryDoesNotAllow,
    /// The session policy does not allow the action.
    SessionDoesNotAllow,
    /// A federated-user session without a session policy has no permissions.
    FederatedUserNeedsSessionPolicy,
    /// The KMS key policy does not allow the account, so IAM policies do not count.
    KeyPolicyDoesNotAllowAccount,
    /// The role's trust policy does not name the caller (or its account): identity policies alone
    /// cannot allow assuming a role.
    TrustPolicyDoesNotAllow,
    /// Cross-account: the resource policy does not allow the principal.
    CrossAccountNoResourceAllow,
    /// Cross-account: no identity policy in the caller's account allows.
    CrossAccountNoIdentityAllow,
    /// Anonymous and service principals can only be allowed by a resource policy.
    OnlyResourcePolicyCanAllow,
}

/// The outcome of one authorization, without details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    /// The decision.
    pub decision: Decision,
    /// For a denial, the layer that decided it.
    pub denied_by: Option<DeniedBy>,
    /// The summary reason.
    pub why: Why,
}

/// Why a statement did or did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementResult {
    /// The statement applies (with how it reached the principal, for resource policies).
    Matched(Option<Grant>),
    /// The request action is not in `Action` (or is in `NotAction`).
    ActionNotMatched,
    /// The request resource is not in `Resource` (or is in `NotResource`).
    ResourceNotMatched,
    /// The principal is not named by `Principal` (or is excluded by `NotPrincipal`).
    PrincipalNotMatched,
    /// A condition is false.
    ConditionFailed(ConditionTrace),
}

/// A failed condition: operator, key, the request's values and the policy's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionTrace {
    /// The operator as written.
    pub operator: String,
    /// The key as written.
    pub key: String,
    /// The request's values, `None` when the key is missing.
    pub request_values: Option<Vec<String>>,
    /// The policy's values as written.
    pub policy_values: Vec<String>,
}

/// One statement's part in a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementTrace {
    /// The layer of its policy.
    pub layer: Layer,
    /// For SCPs/RCPs, the organisation level.
    pub level: Option<usize>,
    /// Index of the policy within its layer (and level).
    pub policy: usize,
    /// Index of the statement in its policy.
    pub statement: usize,
    /// The statement's Sid.
    pub sid: Option<String>,
    /// Its effect.
    pub effect: Effect,
    /// Whether and why it applied.
    pub result: StatementResult,
}

impl StatementTrace {
    /// The Sid, or `#N` for a statement without one.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) => sid.clone(),
            None => format!("#{}", self.statement),
        }
    }
}

/// A decision with every statement's part in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The decision and its summary.
    pub evaluation: Evaluation,
    /// The principal, action and resource, for the summary.
    pub principal: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// Every statement that was considered, in layer order.
    pub statements: Vec<StatementTrace>,
}

impl Explanation {
    /// The statements that applied.
    pub fn matched(&self) -> impl Iterator<Item = &StatementTrace> {
        self.statements
            .iter()
            .filter(|s| matches!(s.result, StatementResult::Matched(_)))
    }

    /// One sentence saying why.
    pub fn summary(&self) -> String {
        let e = &self.evaluation;
        let who = &self.principal;
        let what = format!("{} on {}", self.action, self.resource);
        let layer = e
            .denied_by
            .map(|d| match d.level {
                Some(level) => format!("{} (level {level})", d.layer.people_name()),
                None => d.layer.people_name().to_string(),
            })
            .unwrap_or_default();
        match e.why {
            Why::GetCallerIdentity => {
                "sts:GetCallerIdentity needs no permission and is always allowed".to_string()
            }
            Why::ExplicitDeny => format!("{who} is denied {what} by an explicit deny in a {layer}"),
            Why::OrganizationsNoAllow => format!("no {layer} allows {what}, so it is denied for {who}"),
            Why::IdentityAllows => format!("an identity-based policy allows {who} to perform {what}"),
            Why::ResourceAllows(grant) => format!(
                "the resource-based policy allows {what} to {who} ({})",
                match grant {
                    Grant::Direct => "named directly",
                    Grant::Role => "through its role; the boundary and session policy allow it too",
                    Grant::Account => "through its account",
                }
            ),
            Why::NothingAllows => {
                format!("no identity-based or resource-based policy allows {who} to perform {what}")
            }
            Why::AccountGrantNeedsIdentity => format!(
                "the resource-based policy allows only {who}'s account, which needs an identity-based policy that allows {what} too"
            ),
            Why::BoundaryDoesNotAllow => format!("the permissions boundary of {who} does not allow {what}"),
            Why::SessionDoesNotAllow => format!("the session policy of {who} does not allow {what}"),
            Why::FederatedUserNeedsSessionPolicy => {
                format!(
                    "{who} is a federated user session without a session policy, so it has no permissions"
                )
            }
            Why::KeyPolicyDoesNotAllowAccount => format!(
                "the key policy does not allow {what} to the account of {who}, so identity-based policies do not count"
            ),
            Why::TrustPolicyDoesNotAllow => format!(
                "the trust policy of the role does not allow {who} to perform {}: add a statement with Effect Allow, Action {}, Principal {who}",
                self.action, self.action
            ),
            Why::CrossAccountNoResourceAllow => {
                format!("cross-account: the resource-based policy does not allow {who} to perform {what}")
            }
            Why::CrossAccountNoIdentityAllow => format!(
                "cross-account: no identity-based policy in the caller's account allows {who} to perform {what}"
            ),
            Why::OnlyResourcePolicyCanAllow => {
                format!("{who} can only be allowed by a resource-based policy, and none allows {what}")
            }
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "decision: {}", self.evaluation.decision)?;
        if let Some(d) = self.evaluation.denied_by {
            writeln!(f, "denied by: {d}")?;
        }
        writeln!(f, "why: {}", self.summary())?;
        for s in &self.statements {
            let level = s.level.map(|l| format!(" level {l}")).unwrap_or_default();
            write!(
                f,
                "  {}{} policy {} statement {} ({}): ",
                s.layer.as_str(),
                level,
                s.policy,
                s.label(),
                s.effect.as_str()
            )?;
            match &s.result {
                StatementResult::Matched(Some(g)) if s.layer == Layer::Resource => {
                    writeln!(f, "applies (principal named: {g:?})")?
                }
                StatementResult::Matched(_) => writeln!(f, "applies")?,
                StatementResult::ActionNotMatched => writeln!(f, "action {} not matched", self.action)?,
                StatementResult::ResourceNotMatched => writeln!(f, "resource {} not matched", self.resource)?,
                StatementResult::PrincipalNotMatched => {
                    writeln!(f, "principal {} not matched", self.principal)?
                }
                StatementResult::ConditionFailed(c) => {
                    let req = match &c.request_values {
                        Some(v) => format!("{v:?}"),
                        None => "missing".to_string(),
                    };
                    writeln!(
                        f,
                        "condition {} {} failed: request value {}, policy values {:?}",
                        c.operator, c.key, req, c.policy_values
                    )?
                }
            }
        }
        Ok(())
    }
}

// ---- evaluation core ----

/// Records statement results only when explaining (compiled away otherwise).
trait Tracer {
    const ON: bool;
    fn record(&mut self, trace: StatementTrace);
}

struct Off;

impl Tracer for Off {
    const ON: bool = false;
    fn record(&mut self, _trace: StatementTrace) {}
}

struct On(Vec<StatementTrace>);

impl Tracer for On {
    const ON: bool = true;
    fn record(&mut self, trace: StatementTrace) {
        self.0.push(trace);
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct LayerEval {
    allow: bool,
    deny: bool,
    grant: Option<Grant>,
}

impl LayerEval {
    fn add(&mut self, other: LayerEval) {
        self.allow |= other.allow;
        self.deny |= other.deny;
        self.grant = self.grant.max(other.grant);
    }
}

#[derive(Clone, Copy)]
struct Site {
    layer: Layer,
    level: Option<usize>,
    policy: usize,
    /// Whether the principal has a permissions boundary (a `Deny` with `NotPrincipal` then
    /// always applies).
    boundary: bool,
}

fn eval_policy<T: Tracer>(
    policy: &Policy,
    site: Site,
    req: &Request,
    opts: &Options,
    t: &mut T,
) -> LayerEval {
    let mut out = LayerEval::default();
    if T::ON {
        for (i, stmt) in policy.statements.iter().enumerate() {
            let result = statement_result(stmt, req, opts, site.boundary);
            apply(&mut out, stmt, &result);
            t.record(StatementTrace {
                layer: site.layer,
                level: site.level,
                policy: site.policy,
                statement: i,
                sid: policy.sid(i).map(str::to_owned),
                effect: stmt.effect,
                result,
            });
        }
    } else {
        for group in policy.index.candidates(&req.action_lower) {
            for &i in group {
                let Some(stmt) = policy.statements.get(i as usize) else {
                    continue;
                };
                if out.deny {
                    return out;
                }
                if stmt.effect == Effect::Allow && out.allow && out.grant == Some(Grant::Direct) {
                    continue;
                }
                if let Some(grant) = statement_applies(stmt, req, opts, site.boundary) {
                    apply_grant(&mut out, stmt.effect, grant);
                }
            }
        }
    }
    out
}

fn apply(out: &mut LayerEval, stmt: &Statement, result: &StatementResult) {
    if let StatementResult::Matched(grant) = result {
        apply_grant(out, stmt.effect, grant.unwrap_or(Grant::Direct));
    }
}

fn apply_grant(out: &mut LayerEval, effect: Effect, grant: Grant) {
    match effect {
        Effect::Deny => out.deny = true,
        Effect::Allow => {
            out.allow = true;
            out.grant = out.grant.max(Some(grant));
        }
    }
}

/// Fast path: `Some(grant)` when the statement applies.
fn statement_applies(stmt: &Statement, req: &Request, opts: &Options, boundary: bool) -> Option<Grant> {
    if !action_matches(&stmt.action, req) || !resource_matches(&stmt.resource, req) {
        return None;
    }
    let grant = principal_grant(stmt, &req.principal, boundary)?;
    stmt.conditions
        .iter()
        .all(|c| c.eval(&req.context, opts.multivalued_plain))
        .then_some(grant)
}

/// Explaining path: the same checks, keeping the reason.
fn statement_result(stmt: &Statement, req: &Request, opts: &Options, boundary: bool) -> StatementResult {
    if !action_matches(&stmt.action, req) {
        return StatementResult::ActionNotMatched;
    }
    if !resource_matches(&stmt.resource, req) {
        return StatementResult::ResourceNotMatched;
    }
    let Some(grant) = principal_grant(stmt, &req.principal, boundary) else {
        return StatementResult::PrincipalNotMatched;
    };
    for c in &stmt.conditions {
        if !c.eval(&req.context, opts.multivalued_plain) {
            let request_values = req.context.get_lower(&c.key).map(|v| match v {
                Value::Single(s) => vec![s.clone()],
                Value::Multi(m) => m.clone(),
            });
            return StatementResult::ConditionFailed(ConditionTrace {
                operator: c.op.text.to_string(),
                key: c.key_text.to_string(),
                request_values,
                policy_values: c.raw.to_vec(),
            });
        }
    }
    let grant = match stmt.principal {
        PrincipalRule::None => None,
        _ => Some(grant),
    };
    StatementResult::Matched(grant)
}

fn action_matches(rule: &ActionRule, req: &Request) -> bool {
    let ctx = &req.context;
    match rule {
        ActionRule::Action(a) => a.matches(&req.action_lower, ctx),
        ActionRule::NotAction(a) => !a.matches(&req.action_lower, ctx),
    }
}

fn resource_matches(rule: &ResourceRule, req: &Request) -> bool {
    let ctx = &req.context;
    match rule {
        ResourceRule::Any => true,
        ResourceRule::Resource(p) => p.matches(&req.resource, ctx),
        ResourceRule::NotResource(p) => !p.matches(&req.resource, ctx),
    }
}

/// How a Principal element reaches the caller, if it does. Statements without a Principal
/// (identity-based policies and SCPs) always reach it.
///
/// A `Deny` with `NotPrincipal` always applies to a principal that has a permissions boundary
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html>).
fn principal_grant(stmt: &Statement, principal: &Principal, boundary: bool) -> Option<Grant> {
    match &stmt.principal {
        PrincipalRule::NotPrincipal(_) if boundary && stmt.effect == Effect::Deny => Some(Grant::Direct),
        PrincipalRule::None => Some(Grant::Direct),
        PrincipalRule::Principal(entries) => entries.iter().filter_map(|e| entry_grant(e, principal)).max(),
        PrincipalRule::NotPrincipal(entries) => {
            let listed = |id: Identity<'_>| entries.iter().any(|e| entry_lists(e, id));
            let excluded = identities(principal).iter().flatten().all(|id| listed(*id));
            (!excluded).then_some(Grant::Direct)
        }
    }
}

fn entry_grant(entry: &PrincipalEntry, p: &Principal) -> Option<Grant> {
    match entry {
        PrincipalEntry::Everyone => Some(Grant::Direct),
        PrincipalEntry::Account(a) => {
            (p.is_iam_identity() && p.account.as_deref() == Some(a.as_str())).then_some(Grant::Account)
        }
        PrincipalEntry::Arn(arn) => {
            if p.is_iam_identity() && p.arn == *arn {
                if p.kind == PrincipalKind::Role {
                    Some(Grant::Role)
                } else {
                    Some(Grant::Direct)
                }
            } else if p.kind == PrincipalKind::AssumedRole && p.role_arn.as_deref() == Some(arn.as_str()) {
                Some(Grant::Role)
            } else {
                None
            }
        }
        PrincipalEntry::Service(s) => {
            (p.kind == PrincipalKind::Service && p.arn.eq_ignore_ascii_case(s)).then_some(Grant::Direct)
        }
        PrincipalEntry::Federated(f) => {
            (p.kind == PrincipalKind::Federated && p.arn == *f).then_some(Grant::Direct)
        }
        PrincipalEntry::CanonicalUser(_) => None,
    }
}

#[derive(Clone, Copy)]
enum Identity<'a> {
    Account(&'a str),
    Arn(&'a str),
    Service(&'a str),
    Federated(&'a str),
    Anonymous,
}

/// The identities a NotPrincipal must list to exclude the caller.
fn identities(p: &Principal) -> [Option<Identity<'_>>; 3] {
    let account = p.account.as_deref().map(Identity::Account);
    match p.kind {
        PrincipalKind::User | PrincipalKind::FederatedUser | PrincipalKind::Role => {
            [account, Some(Identity::Arn(&p.arn)), None]
        }
        PrincipalKind::AssumedRole => [
            account,
            p.role_arn.as_deref().map(Identity::Arn),
            Some(Identity::Arn(&p.arn)),
        ],
        PrincipalKind::Root => [account, None, None],
        PrincipalKind::Service => [Some(Identity::Service(&p.arn)), None, None],
        PrincipalKind::Federated => [Some(Identity::Federated(&p.arn)), None, None],
        PrincipalKind::Anonymous => [Some(Identity::Anonymous), None, None],
    }
}

fn entry_lists(entry: &PrincipalEntry, id: Identity<'_>) -> bool {
    match (entry, id) {
        (PrincipalEntry::Everyone, _) => true,
        (PrincipalEntry::Account(a), Identity::Account(b)) => a == b,
        (PrincipalEntry::Arn(a), Identity::Arn(b)) => a == b,
        (PrincipalEntry::Service(a), Identity::Service(b)) => a.eq_ignore_ascii_case(b),
        (PrincipalEntry::Federated(a), Identity::Federated(b)) => a == b,
        _ => false,
    }
}

fn eval_layer<T: Tracer>(
    policies: &[Policy],
    site: Site,
    req: &Request,
    opts: &Options,
    t: &mut T,
) -> LayerEval {
    let mut out = LayerEval::default();
    for (i, p) in policies.iter().enumerate() {
        out.add(eval_policy(p, Site { policy: i, ..site }, req, opts, t));
        if out.deny && !T::ON {
            break;
        }
    }
    out
}

fn is_kms_key(resource: &str) -> bool {
    arn_service_is(resource, "kms")
        && crate::pattern::split_arn(resource).is_some_and(|p| p[2] == "kms" && p[5].starts_with("key/"))
}

/// Whether `resource` looks like `arn:PARTITION:SERVICE:...`: a cheap test that spares most
/// requests a full ARN split.
fn arn_service_is(resource: &str, service: &str) -> bool {
    let Some(rest) = resource.strip_prefix("arn:") else {
        return false;
    };
    let Some(colon) = rest.bytes().position(|b| b == b':') else {
        return false;
    };
    rest.get(colon + 1..)
        .and_then(|r| r.strip_prefix(service))
        .is_some_and(|r| r.starts_with(':'))
}

/// `sts:` actions on a role are authorized by its trust policy, which must name the caller.
fn is_role_trust(req: &Request) -> bool {
    req.action_lower.starts_with("sts:")
        && arn_service_is(&req.resource, "iam")
        && crate::pattern::split_arn(&req.resource)
            .is_some_and(|p| p[2] == "iam" && p[5].starts_with("role/"))
}

fn decide<T: Tracer>(req: &Request, layers: &Layers<'_>, opts: &Options, t: &mut T) -> Evaluation {
    let done = |decision, denied_by, why| Evaluation {
        decision,
        denied_by,
        why,
    };
    if req.action_lower == "sts:getcalleridentity" {
        return done(Decision::Allowed, None, Why::GetCallerIdentity);
    }
    let p = &req.principal;
    let iam = p.is_iam_identity();
    let has_boundary = iam && layers.permissions_boundary.is_some();
    let site = |layer, level| Site {
        layer,
        level,
        policy: 0,
        boundary: has_boundary,
    };

    let identity = if iam {
        eval_layer(layers.identity, site(Layer::Identity, None), req, opts, t)
    } else {
        LayerEval::default()
    };
    let resource = layers
        .resource
        .map(|r| eval_policy(r, site(Layer::Resource, None), req, opts, t));
    let boundary = layers
        .permissions_boundary
        .filter(|_| iam)
        .map(|b| eval_policy(b, site(Layer::PermissionsBoundary, None), req, opts, t));
    let session = layers
        .session
        .filter(|_| iam)
        .map(|s| eval_policy(s, site(Layer::Session, None), req, opts, t));

    // Organizations layers: every level needs an applicable Allow.
    let mut org_deny: Option<DeniedBy> = None;
    let mut org_missing: Option<DeniedBy> = None;
    let mut org = |levels: Option<&[Vec<Policy>]>, layer: Layer, applies: bool, t: &mut T| {
        let Some(levels) = levels.filter(|_| applies) else {
            return;
        };
        for (level, policies) in levels.iter().enumerate() {
            let e = eval_layer(policies, site(layer, Some(level)), req, opts, t);
            let at = DeniedBy {
                layer,
                level: Some(level),
            };
            if e.deny && org_deny.is_none() {
                org_deny = Some(at);
            }
            if !e.allow && org_missing.is_none() {
                org_missing = Some(at);
            }
        }
    };
    org(layers.scp, Layer::Scp, iam, t);
    org(layers.rcp, Layer::Rcp, true, t);

    // An explicit deny anywhere wins.
    let explicit = [
        (identity.deny, Layer::Identity),
        (resource.is_some_and(|r| r.deny), Layer::Resource),
        (boundary.is_some_and(|b| b.deny), Layer::PermissionsBoundary),
        (session.is_some_and(|s| s.deny), Layer::Session),
    ]
    .into_iter()
    .find(|(deny, _)| *deny)
    .map(|(_, layer)| DeniedBy { layer, level: None })
    .or(org_deny);
    if let Some(by) = explicit {
        return done(Decision::ExplicitDeny, Some(by), Why::ExplicitDeny);
    }
    if let Some(by) = org_missing {
        return done(Decision::ImplicitDeny, Some(by), Why::OrganizationsNoAllow);
    }

    let grant = resource.and_then(|r| r.grant);
    let deny = |layer, why| done(Decision::ImplicitDeny, Some(DeniedBy { layer, level: None }), why);
    if !iam {
        return match grant {
            Some(g) => done(Decision::Allowed, None, Why::ResourceAllows(g)),
            None => deny(Layer::Resource, Why::OnlyResourcePolicyCanAllow),
        };
    }

    let same_account = match (&p.account, &req.resource_account) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    let identity_allows = identity.allow || p.kind == PrincipalKind::Root;
    let boundary_ok = boundary.is_none_or(|b| b.allow);
    let session_ok = match session {
        Some(s) => s.allow,
        None => p.kind != PrincipalKind::FederatedUser,
    };
    let session_why = if session.is_none() {
        Why::FederatedUserNeedsSessionPolicy
    } else {
        Why::SessionDoesNotAllow
    };
    // KMS key policies and role trust policies must allow explicitly: identity policies count
    // only when they name the principal or its account.
    let kms = is_kms_key(&req.resource);
    let trust = is_role_trust(req);
    let must_name = kms || trust;
    let must_name_why = if kms {
        Why::KeyPolicyDoesNotAllowAccount
    } else {
        Why::TrustPolicyDoesNotAllow
    };

    if same_account {
        // A trust policy that names the user directly is still limited by the user's permissions
        // boundary (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html).
        if grant == Some(Grant::Direct) && (!trust || (boundary_ok && session_ok)) {
            return done(Decision::Allowed, None, Why::ResourceAllows(Grant::Direct));
        }
        if grant == Some(Grant::Role) && boundary_ok && session_ok {
            return done(Decision::Allowed, None, Why::ResourceAllows(Grant::Role));
        }
        let kms_ok = !must_name || grant.is_some();
        if identity_allows && boundary_ok && session_ok && kms_ok {
            return done(Decision::Allowed, None, Why::IdentityAllows);
        }
        if !kms_ok {
            return deny(Layer::Resource, must_name_why);
        }
        if !identity_allows {
            return if grant == Some(Grant::Account) {
                deny(Layer::Identity, Why::AccountGrantNeedsIdentity)
            } else {
                deny(Layer::Identity, Why::NothingAllows)
            };
        }
        if !kms_ok {
            return deny(Layer::Resource, must_name_why);
        }
        if !boundary_ok {
            return deny(Layer::PermissionsBoundary, Why::BoundaryDoesNotAllow);
        }
        return deny(Layer::Session, session_why);
    }

    // Cross account: the caller's account and the resource's account must both allow.
    if !identity_allows {
        return deny(Layer::Identity, Why::CrossAccountNoIdentityAllow);
    }
    if !boundary_ok {
        return deny(Layer::PermissionsBoundary, Why::BoundaryDoesNotAllow);
    }
    if !session_ok {
        return deny(Layer::Session, session_why);
    }
    match grant {
        Some(g) => done(Decision::Allowed, None, Why::ResourceAllows(g)),
        None if must_name => deny(Layer::Resource, must_name_why),
        None => deny(Layer::Resource, Why::CrossAccountNoResourceAllow),
    }
}

/// Authorizes requests against compiled policies. Cheap to copy; holds only options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Authorizer {
    options: Options,
}

impl Authorizer {
    /// An authorizer with the default options.
    pub fn new() -> Authorizer {
        Authorizer::default()
    }

    /// An authorizer with explicit options.
    pub fn with_options(options: Options) -> Authorizer {
        Authorizer { options }
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The decision for `req` (the fast path: no allocation, statements whose actions cannot
    /// match are never looked at).
    pub fn authorize(&self, req: &Request, layers: &Layers<'_>) -> Decision {
        self.evaluate(req, layers).decision
    }

    /// The decision with the deciding layer and a summary reason.
    pub fn evaluate(&self, req: &Request, layers: &Layers<'_>) -> Evaluation {
        decide(req, layers, &self.options, &mut Off)
    }

    /// The decision with every statement's part in it.
    pub fn explain(&self, req: &Request, layers: &Layers<'_>) -> Explanation {
        let mut tracer = On(Vec::new());
        let evaluation = decide(req, layers, &self.options, &mut tracer);
        Explanation {
            evaluation,
            principal: req.principal.arn.clone(),
            action: req.action.clone(),
            resource: req.resource.clone(),
            statements: tracer.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyKind;
    use crate::request::Context;

    fn pol(text: &str, kind: PolicyKind) -> Policy {
        Policy::parse(text, kind).unwrap()
    }

    fn req(principal: &str, action: &str, resource: &str, account: Option<&str>) -> Request {
        Request::new(
            crate::Principal::parse(principal).unwrap(),
            action,
            resource,
            account,
            Context::new(),
        )
    }

    const ALLOW_GET: &str =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;

    #[test]
    fn identity_allow_and_explicit_deny() {
        let a = Authorizer::new();
        let id = [pol(ALLOW_GET, PolicyKind::Identity)];
        let r = req(
            "arn:aws:iam::111122223333:user/alice",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Some("111122223333"),
        );
        let layers = Layers {
            identity: &id,
            ..Layers::default()
        };
        assert_eq!(a.authorize(&r, &layers), Decision::Allowed);
        let deny = [
            pol(ALLOW_GET, PolicyKind::Identity),
            pol(
                r#"{"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"}}"#,
                PolicyKind::Identity,
            ),
        ];
        let layers = Layers {
            identity: &deny,
            ..Layers::default()
        };
        assert_eq!(a.authorize(&r, &layers), Decision::ExplicitDeny);
        assert_eq!(a.explain(&r, &layers).evaluation.decision, Decision::ExplicitDeny);
    }

    #[test]
    fn same_account_role_grant_limited_by_boundary() {
        let a = Authorizer::new();
        let bucket = pol(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/r"},"Action":"s3:GetObject","Resource":"*"}}"#,
            PolicyKind::Resource,
        );
        let boundary = pol(
            r#"{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#,
            PolicyKind::PermissionsBoundary,
        );
        let r = req(
            "arn:aws:sts::111122223333:assumed-role/r/s",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            Some("111122223333"),
        );
        let layers = Layers {
            resource: Some(&bucket),
            ..Layers::default()
        };
        assert_eq!(a.authorize(&r, &layers), Decision::Allowed);
        let layers = Layers {
            resource: Some(&bucket),
            permissions_boundary: Some(&boundary),
            ..Layers::default()
        };
        assert_eq!(a.authorize(&r, &layers), Decision::ImplicitDeny);
    }

    #[test]
    fn kms_needs_key_policy_for_account() {
        let a = Authorizer::new();
        let id = [pol(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
            PolicyKind::Identity,
        )];
        let key_policy_roles_only = pol(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/admin"},"Action":"kms:*","Resource":"*"}}"#,
            PolicyKind::Resource,
        );
        let r = req(
            "arn:aws:iam::111122223333:user/alice",
            "kms:Decrypt",
            "arn:aws:kms:us-east-1:111122223333:key/k1",
            None,
        );
        let layers = Layers {
            identity: &id,
            resource: Some(&key_policy_roles_only),
            ..Layers::default()
        };
        let e = a.evaluate(&r, &layers);
        assert_eq!(e.decision, Decision::ImplicitDeny);
        assert_eq!(e.why, Why::KeyPolicyDoesNotAllowAccount);
    }

    #[test]
    fn get_caller_identity_always_allowed() {
        let a = Authorizer::new();
        let deny = [pol(
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
            PolicyKind::Identity,
        )];
        let r = req(
            "arn:aws:iam::111122223333:user/alice",
            "sts:GetCallerIdentity",
            "*",
            Some("111122223333"),
        );
        assert_eq!(
            a.authorize(
                &r,
                &Layers {
                    identity: &deny,
                    ..Layers::default()
                }
            ),
            Decision::Allowed
        );
    }
}
