//! Policy scenario files (format 1): one authorization question, or a chain of them (a
//! request and the forward access sessions it causes), with the expected answer.
//!
//! The format is a public contract, specified in `shared/spec/policy-scenario.md` and
//! `docs/policy-scenarios.md`. Unknown fields are errors.

use std::fmt;

use crate::authorize::{Authorizer, Decision, DeniedBy, Explanation, Layers};
use crate::json::{self, Json, Member, Node};
use crate::policy::{Policy, PolicyKind};
use crate::request::{Context, Principal, Request, Value};

/// A file that is not a valid scenario file: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} (line {line}, column {column}): {message}")]
pub struct ScenarioError {
    /// JSON path of the offending element.
    pub path: String,
    /// 1-based line in the file.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A forward access session hop, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Hop {
    /// The service principal making the request.
    pub via: String,
    request: Request,
    resource: Option<Policy>,
    rcp: Option<Vec<Vec<Policy>>>,
    /// The hop's expected decision.
    pub expect: Option<Decision>,
}

impl Hop {
    /// The hop's request (context already built as for a forward access session).
    pub fn request(&self) -> &Request {
        &self.request
    }
}

/// A compiled scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Unique name within its file.
    pub name: String,
    /// Free text, usually the source.
    pub description: Option<String>,
    request: Request,
    identity: Vec<Policy>,
    resource: Option<Policy>,
    permissions_boundary: Option<Policy>,
    session: Option<Policy>,
    scp: Option<Vec<Vec<Policy>>>,
    rcp: Option<Vec<Vec<Policy>>>,
    /// Forward access sessions, in order.
    pub hops: Vec<Hop>,
    /// The expected decision.
    pub expect: Option<Decision>,
}

/// The outcome of one hop.
#[derive(Debug, Clone)]
pub struct HopOutcome {
    /// The via service.
    pub via: String,
    /// The hop's explanation.
    pub explanation: Explanation,
    /// The expected decision.
    pub expected: Option<Decision>,
}

impl HopOutcome {
    /// The hop's decision.
    pub fn decision(&self) -> Decision {
        self.explanation.evaluation.decision
    }

    /// True unless an expectation was stated and not met.
    pub fn ok(&self) -> bool {
        self.expected.is_none_or(|e| e == self.decision())
    }
}

/// The outcome of a scenario.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// The request's explanation.
    pub request: Explanation,
    /// Each hop's outcome.
    pub hops: Vec<HopOutcome>,
    /// The expected decision.
    pub expected: Option<Decision>,
}

impl Outcome {
    /// `allowed` when the request and every hop are; otherwise the first that is not.
    pub fn decision(&self) -> Decision {
        std::iter::once(self.request.evaluation.decision)
            .chain(self.hops.iter().map(HopOutcome::decision))
            .find(|d| !d.is_allowed())
            .unwrap_or(Decision::Allowed)
    }

    /// The layer that denied (of the first denied step).
    pub fn denied_by(&self) -> Option<DeniedBy> {
        if !self.request.evaluation.decision.is_allowed() {
            return self.request.evaluation.denied_by;
        }
        self.hops
            .iter()
            .find(|h| !h.decision().is_allowed())
            .and_then(|h| h.explanation.evaluation.denied_by)
    }

    /// True when every stated expectation (the scenario's and each hop's) was met.
    pub fn ok(&self) -> bool {
        self.expected.is_none_or(|e| e == self.decision()) && self.hops.iter().all(HopOutcome::ok)
    }
}

impl Scenario {
    fn layers(&self) -> Layers<'_> {
        Layers {
            identity: &self.identity,
            resource: self.resource.as_ref(),
            permissions_boundary: self.permissions_boundary.as_ref(),
            session: self.session.as_ref(),
            scp: self.scp.as_deref(),
            rcp: self.rcp.as_deref(),
        }
    }

    fn hop_layers<'a>(&'a self, hop: &'a Hop) -> Layers<'a> {
        Layers {
            resource: hop.resource.as_ref(),
            // The hop's own RCPs when given, else the same RCPs as the request.
            rcp: hop.rcp.as_deref().or(self.rcp.as_deref()),
            ..self.layers()
        }
    }

    /// The request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The warnings of every policy in the scenario, hops included.
    pub fn warnings(&self) -> Vec<crate::PolicyWarning> {
        let levels = |l: &Option<Vec<Vec<Policy>>>| l.iter().flatten().flatten().cloned().collect::<Vec<_>>();
        let mut all: Vec<Policy> = self.identity.clone();
        all.extend(self.resource.iter().cloned());
        all.extend(self.permissions_boundary.iter().cloned());
        all.extend(self.session.iter().cloned());
        all.extend(levels(&self.scp));
        all.extend(levels(&self.rcp));
        for hop in &self.hops {
            all.extend(hop.resource.iter().cloned());
            all.extend(levels(&hop.rcp));
        }
        all.iter().flat_map(|p| p.warnings().iter().cloned()).collect()
    }

    /// The scenario's decision on the fast path (no explanation).
    pub fn decide(&self, authorizer: &Authorizer) -> Decision {
        let first = authorizer.authorize(&self.request, &self.layers());
        if !first.is_allowed() {
            return first;
        }
        for hop in &self.hops {
            let d = authorizer.authorize(&hop.request, &self.hop_layers(hop));
            if !d.is_allowed() {
                return d;
            }
        }
        Decision::Allowed
    }

    /// Number of decisions one run makes (the request and each hop).
    pub fn steps(&self) -> usize {
        1 + self.hops.len()
    }

    /// Evaluates the scenario with explanations.
    pub fn run(&self, authorizer: &Authorizer) -> Outcome {
        let request = authorizer.explain(&self.request, &self.layers());
        let hops = self
            .hops
            .iter()
            .map(|hop| HopOutcome {
                via: hop.via.clone(),
                explanation: authorizer.explain(&hop.request, &self.hop_layers(hop)),
                expected: hop.expect,
            })
            .collect();
        Outcome {
            name: self.name.clone(),
            request,
            hops,
            expected: self.expect,
        }
    }
}

/// Parses a scenario file: one scenario object or an array of them.
pub fn parse_file(text: &str, options: &crate::Options) -> Result<Vec<Scenario>, ScenarioError> {
    json::with_arena(|arena| parse_file_in(text, options, arena))
}

fn parse_file_in(
    text: &str,
    options: &crate::Options,
    arena: &bumpalo::Bump,
) -> Result<Vec<Scenario>, ScenarioError> {
    let root = json::parse(text, arena).map_err(|e| {
        let (line, column) = json::line_col(text, e.offset);
        ScenarioError {
            path: "$".to_string(),
            line,
            column,
            message: e.message,
        }
    })?;
    let p = Parser { text, options };
    let mut out = Vec::new();
    match &root.value {
        Json::Object(_) => out.push(p.scenario(&root, "$")?),
        Json::Array(items) => {
            if items.is_empty() {
                return Err(p.err(
                    &root,
                    "$",
                    "the file holds an empty array: add at least one scenario",
                ));
            }
            for (i, item) in items.iter().enumerate() {
                out.push(p.scenario(item, &format!("$[{i}]"))?);
            }
        }
        other => {
            return Err(p.err(
                &root,
                "$",
                format!(
                    "a scenario file holds an object or an array of objects, found {}",
                    other.type_name()
                ),
            ));
        }
    }
    for (i, s) in out.iter().enumerate() {
        if out.iter().take(i).any(|o| o.name == s.name) {
            return Err(p.err(
                &root,
                &format!("$[{i}].name"),
                format!(
                    "duplicate scenario name `{}`: names must be unique in a file",
                    s.name
                ),
            ));
        }
    }
    Ok(out)
}

struct Parser<'t> {
    text: &'t str,
    options: &'t crate::Options,
}

impl Parser<'_> {
    fn err_at(&self, offset: usize, path: &str, message: impl Into<String>) -> ScenarioError {
        let (line, column) = json::line_col(self.text, offset);
        ScenarioError {
            path: path.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    fn err(&self, node: &Node<'_>, path: &str, message: impl Into<String>) -> ScenarioError {
        self.err_at(node.start, path, message)
    }

    fn object<'n, 'a>(
        &self,
        node: &'n Node<'a>,
        path: &str,
        allowed: &[&str],
    ) -> Result<&'n [Member<'a>], ScenarioError> {
        let Json::Object(members) = &node.value else {
            return Err(self.err(
                node,
                path,
                format!("expected an object, found {}", node.value.type_name()),
            ));
        };
        for m in members.iter() {
            if !allowed.contains(&m.key) {
                let hint = match crate::suggest::closest(m.key, allowed.iter().copied()) {
                    Some(s) => format!(": did you mean `{s}`?"),
                    None => format!(": expected one of {}", allowed.join(", ")),
                };
                return Err(self.err_at(
                    m.key_start,
                    &format!("{path}.{}", m.key),
                    format!("unknown field `{}`{hint}", m.key),
                ));
            }
        }
        Ok(members)
    }

    fn string(&self, node: &Node<'_>, path: &str) -> Result<String, ScenarioError> {
        node.as_str().map(str::to_string).ok_or_else(|| {
            self.err(
                node,
                path,
                format!("expected a string, found {}", node.value.type_name()),
            )
        })
    }

    fn expect(&self, node: &Node<'_>, path: &str) -> Result<Decision, ScenarioError> {
        let s = self.string(node, path)?;
        Decision::parse(&s).ok_or_else(|| {
            self.err(
                node,
                path,
                format!("`{s}` is not a decision: use \"allowed\", \"explicitDeny\" or \"implicitDeny\""),
            )
        })
    }

    fn policy(&self, node: &Node<'_>, path: &str, kind: PolicyKind) -> Result<Policy, ScenarioError> {
        Policy::from_node(node, self.text, path, kind).map_err(|e| ScenarioError {
            path: e.path,
            line: e.line,
            column: e.column,
            message: e.message,
        })
    }

    fn levels(
        &self,
        node: &Node<'_>,
        path: &str,
        kind: PolicyKind,
    ) -> Result<Vec<Vec<Policy>>, ScenarioError> {
        let Json::Array(levels) = &node.value else {
            return Err(self.err(
                node,
                path,
                "expected an array with one array of policies per organisation level, root first",
            ));
        };
        if levels.is_empty() {
            return Err(self.err(
                node,
                path,
                "an empty list of levels is not allowed: leave the field out for no AWS Organizations, or give [[]] for a level that allows nothing",
            ));
        }
        levels
            .iter()
            .enumerate()
            .map(|(l, level)| {
                let lpath = format!("{path}[{l}]");
                let Json::Array(policies) = &level.value else {
                    return Err(self.err(level, &lpath, "each level must be an array of policies"));
                };
                policies
                    .iter()
                    .enumerate()
                    .map(|(i, p)| self.policy(p, &format!("{lpath}[{i}]"), kind))
                    .collect()
            })
            .collect()
    }

    fn context(&self, node: &Node<'_>, path: &str) -> Result<Context, ScenarioError> {
        let Json::Object(members) = &node.value else {
            return Err(self.err(
                node,
                path,
                format!(
                    "`context` must be an object of keys, found {}",
                    node.value.type_name()
                ),
            ));
        };
        let mut ctx = Context::new();
        for m in members.iter() {
            let kpath = format!("{path}[\"{}\"]", m.key);
            let scalar = |n: &Node<'_>| -> Result<String, ScenarioError> {
                match &n.value {
                    Json::String(s) => Ok(s.to_string()),
                    Json::Number(s) => Ok((*s).to_string()),
                    Json::Bool(b) => Ok(b.to_string()),
                    other => Err(self.err(
                        n,
                        &kpath,
                        format!(
                            "context values are strings, numbers, booleans or arrays of them, found {}",
                            other.type_name()
                        ),
                    )),
                }
            };
            let value = match &m.value.value {
                Json::Array(items) => Value::Multi(items.iter().map(scalar).collect::<Result<_, _>>()?),
                _ => Value::Single(scalar(&m.value)?),
            };
            ctx.insert(m.key, value);
        }
        Ok(ctx)
    }

    fn resource_account(
        &self,
        resource: &str,
        given: Option<String>,
        node: &Node<'_>,
        path: &str,
    ) -> Result<Option<String>, ScenarioError> {
        if given.is_some() {
            return Ok(given);
        }
        let from_arn = crate::pattern::split_arn(resource)
            .map(|p| p[4])
            .filter(|a| !a.is_empty());
        match from_arn {
            Some(_) => Ok(None),
            None => Err(self.err(
                node,
                path,
                format!("`resourceAccount` is required: the resource `{resource}` names no account (S3 buckets and objects, or \"*\")"),
            )),
        }
    }

    fn scenario(&self, node: &Node<'_>, path: &str) -> Result<Scenario, ScenarioError> {
        let members = self.object(
            node,
            path,
            &["name", "description", "request", "policies", "forward", "expect"],
        )?;
        let field = |k: &str| members.iter().find(|m| m.key == k).map(|m| &m.value);
        let name = match field("name") {
            Some(n) => self.string(n, &format!("{path}.name"))?,
            None => return Err(self.err(node, path, "the scenario has no `name`")),
        };
        if name.is_empty() {
            return Err(self.err(node, &format!("{path}.name"), "`name` must not be empty"));
        }
        let description = field("description")
            .map(|d| self.string(d, &format!("{path}.description")))
            .transpose()?;
        let expect = field("expect")
            .map(|e| self.expect(e, &format!("{path}.expect")))
            .transpose()?;

        // Request.
        let rpath = format!("{path}.request");
        let rnode = field("request").ok_or_else(|| self.err(node, path, "the scenario has no `request`"))?;
        let rmembers = self.object(
            rnode,
            &rpath,
            &["principal", "action", "resource", "resourceAccount", "context"],
        )?;
        let rfield = |k: &str| rmembers.iter().find(|m| m.key == k).map(|m| &m.value);
        let need =
            |k: &str| rfield(k).ok_or_else(|| self.err(rnode, &rpath, format!("the request has no `{k}`")));
        let pnode = need("principal")?;
        let principal_text = self.string(pnode, &format!("{rpath}.principal"))?;
        let principal = Principal::parse(&principal_text)
            .map_err(|e| self.err(pnode, &format!("{rpath}.principal"), e.to_string()))?;
        let action = self.string(need("action")?, &format!("{rpath}.action"))?;
        if action != "*" && !action.contains(':') {
            return Err(self.err(
                need("action")?,
                &format!("{rpath}.action"),
                format!("`{action}` is not an action: write `service:Action`"),
            ));
        }
        let resource_node = need("resource")?;
        let resource = self.string(resource_node, &format!("{rpath}.resource"))?;
        let given_account = rfield("resourceAccount")
            .map(|n| self.string(n, &format!("{rpath}.resourceAccount")))
            .transpose()?;
        let resource_account = self.resource_account(
            &resource,
            given_account,
            resource_node,
            &format!("{rpath}.resource"),
        )?;
        let context = match rfield("context") {
            Some(c) => self.context(c, &format!("{rpath}.context"))?,
            None => Context::new(),
        };
        let request = Request::new(
            principal,
            &action,
            &resource,
            resource_account.as_deref(),
            context,
        );

        // Policies.
        let ppath = format!("{path}.policies");
        let mut identity = Vec::new();
        let mut resource_policy = None;
        let mut permissions_boundary = None;
        let mut session = None;
        let mut scp = None;
        let mut rcp = None;
        if let Some(pnode) = field("policies") {
            for m in self.object(
                pnode,
                &ppath,
                &[
                    "identity",
                    "resource",
                    "permissionsBoundary",
                    "session",
                    "scp",
                    "rcp",
                ],
            )? {
                let mpath = format!("{ppath}.{}", m.key);
                match m.key {
                    "identity" => {
                        let Json::Array(items) = &m.value.value else {
                            return Err(self.err(
                                &m.value,
                                &mpath,
                                "`identity` must be an array of policies",
                            ));
                        };
                        for (i, item) in items.iter().enumerate() {
                            identity.push(self.policy(
                                item,
                                &format!("{mpath}[{i}]"),
                                PolicyKind::Identity,
                            )?);
                        }
                    }
                    "resource" => {
                        resource_policy =
                            Some(self.policy(&m.value, &mpath, resource_kind(&action, &resource))?)
                    }
                    "permissionsBoundary" => {
                        permissions_boundary =
                            Some(self.policy(&m.value, &mpath, PolicyKind::PermissionsBoundary)?)
                    }
                    "session" => session = Some(self.policy(&m.value, &mpath, PolicyKind::Session)?),
                    "scp" => scp = Some(self.levels(&m.value, &mpath, PolicyKind::Scp)?),
                    _ => rcp = Some(self.levels(&m.value, &mpath, PolicyKind::Rcp)?),
                }
            }
        }

        // Forward access sessions.
        let mut hops = Vec::new();
        if let Some(fnode) = field("forward") {
            let Json::Array(items) = &fnode.value else {
                return Err(self.err(
                    fnode,
                    &format!("{path}.forward"),
                    "`forward` must be an array of hops",
                ));
            };
            let mut called_via: Vec<String> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let hpath = format!("{path}.forward[{i}]");
                let hm = self.object(
                    item,
                    &hpath,
                    &[
                        "via",
                        "action",
                        "resource",
                        "resourceAccount",
                        "context",
                        "policies",
                        "expect",
                    ],
                )?;
                let hfield = |k: &str| hm.iter().find(|m| m.key == k).map(|m| &m.value);
                let hneed = |k: &str| {
                    hfield(k).ok_or_else(|| self.err(item, &hpath, format!("the hop has no `{k}`")))
                };
                let via = self.string(hneed("via")?, &format!("{hpath}.via"))?;
                let haction = self.string(hneed("action")?, &format!("{hpath}.action"))?;
                let hres_node = hneed("resource")?;
                let hresource = self.string(hres_node, &format!("{hpath}.resource"))?;
                let hgiven = hfield("resourceAccount")
                    .map(|n| self.string(n, &format!("{hpath}.resourceAccount")))
                    .transpose()?;
                let haccount =
                    self.resource_account(&hresource, hgiven, hres_node, &format!("{hpath}.resource"))?;
                let hcontext = match hfield("context") {
                    Some(c) => self.context(c, &format!("{hpath}.context"))?,
                    None => Context::new(),
                };
                let mut hresource_policy = None;
                let mut hrcp = None;
                if let Some(hp) = hfield("policies") {
                    for m in self.object(hp, &format!("{hpath}.policies"), &["resource", "rcp"])? {
                        let mpath = format!("{hpath}.policies.{}", m.key);
                        if m.key == "resource" {
                            hresource_policy =
                                Some(self.policy(&m.value, &mpath, resource_kind(&haction, &hresource))?);
                        } else {
                            hrcp = Some(self.levels(&m.value, &mpath, PolicyKind::Rcp)?);
                        }
                    }
                }
                let hexpect = hfield("expect")
                    .map(|e| self.expect(e, &format!("{hpath}.expect")))
                    .transpose()?;
                called_via.push(via.clone());
                let hrequest = request.forward(
                    &called_via,
                    &haction,
                    &hresource,
                    haccount.as_deref(),
                    &hcontext,
                    self.options,
                );
                hops.push(Hop {
                    via,
                    request: hrequest,
                    resource: hresource_policy,
                    rcp: hrcp,
                    expect: hexpect,
                });
            }
        }

        Ok(Scenario {
            name,
            description,
            request,
            identity,
            resource: resource_policy,
            permissions_boundary,
            session,
            scp,
            rcp,
            hops,
            expect,
        })
    }
}

/// Role trust policies are the resource policy of the `sts:` actions on a role.
fn resource_kind(action: &str, resource: &str) -> PolicyKind {
    if action.to_ascii_lowercase().starts_with("sts:") && resource.contains(":role/") {
        PolicyKind::Trust
    } else {
        PolicyKind::Resource
    }
}

/// Formats an outcome as the one-line human form of `porteiro policy simulate`.
pub struct Line<'a>(pub &'a Outcome);

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        let decision = o.decision();
        write!(f, "{}: {}", o.name, decision)?;
        if let Some(by) = o.denied_by() {
            write!(f, " (by {by})")?;
        }
        match o.expected {
            Some(e) if e != decision => write!(f, " MISMATCH: expected {e}")?,
            Some(_) => write!(f, " ok")?,
            None => write!(f, " (no expectation)")?,
        }
        for h in &o.hops {
            if !h.ok() {
                write!(
                    f,
                    "; hop via {} MISMATCH: {} expected {}",
                    h.via,
                    h.decision(),
                    h.expected.map(Decision::as_str).unwrap_or("-")
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_POLICY: &str = r#"{ "Version": "2012-10-17", "Statement": [ { "Sid": "OnlyAllowMyIPs", "Effect": "Allow", "Action": [ "s3:GetObject*", "athena:StartQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup", "athena:StopQueryExecution", "athena:GetQueryExecution" ], "Resource": "*", "Condition": { "StringEquals": { "aws:SourceVPC": [ "example_vpc" ] } } }, { "Sid": "OnlyAllowFAS", "Effect": "Allow", "Action": [ "s3:GetObject*" ], "Resource": "*", "Condition": { "ForAnyValue:StringEquals": { "aws:CalledVia": "athena.amazonaws.com" } } } ] }"#;

    fn run(text: &str) -> Vec<Outcome> {
        let a = Authorizer::new();
        parse_file(text, a.options())
            .unwrap()
            .iter()
            .map(|s| s.run(&a))
            .collect()
    }

    #[test]
    fn seed_example_direct_vpc_and_fas() {
        let file = format!(
            r#"[
            {{"name":"direct","request":{{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","resourceAccount":"111122223333","context":{{"aws:SourceIp":"203.0.113.1"}}}},"policies":{{"identity":[{SEED_POLICY}]}},"expect":"implicitDeny"}},
            {{"name":"vpc","request":{{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","resourceAccount":"111122223333","context":{{"aws:SourceVpc":"example_vpc"}}}},"policies":{{"identity":[{SEED_POLICY}]}},"expect":"allowed"}},
            {{"name":"athena fas","request":{{"principal":"arn:aws:iam::111122223333:user/a","action":"athena:StartQueryExecution","resource":"arn:aws:athena:us-east-1:111122223333:workgroup/primary","context":{{"aws:SourceVpc":"example_vpc"}}}},"policies":{{"identity":[{SEED_POLICY}]}},
              "forward":[{{"via":"athena.amazonaws.com","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","resourceAccount":"111122223333","expect":"allowed"}}],"expect":"allowed"}}
            ]"#
        );
        for o in run(&file) {
            assert!(o.ok(), "{}", Line(&o));
        }
    }

    #[test]
    fn errors_name_path_and_position() {
        let a = Authorizer::new();
        let e = parse_file(r#"{"name":"x","request":{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"*"},"expect":"allowed"}"#, a.options()).unwrap_err();
        assert!(e.message.contains("resourceAccount"), "{e}");
        let e = parse_file(r#"{"name":"x","requets":{}}"#, a.options()).unwrap_err();
        assert!(e.message.contains("did you mean `request`"), "{e}");
        let e = parse_file(
            "{\"name\":\"x\",\"request\":{\"principal\":\"arn:aws:iam::111122223333:user/a\",\"action\":\"s3:GetObject\",\"resource\":\"arn:aws:s3:::b\",\"resourceAccount\":\"111122223333\"},\n\"policies\":{\"identity\":[{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:*\"}}]}}",
            a.options(),
        )
        .unwrap_err();
        assert_eq!(e.path, "$.policies.identity[0].Statement");
        assert_eq!(e.line, 2);
        let e = parse_file(r#"{"name":"x","request":{"principal":"a","action":"s3:GetObject","resource":"*","resourceAccount":"1"},"policies":{"scp":[]}}"#, a.options()).unwrap_err();
        assert!(e.message.contains("principal"), "{e}");
    }
}
