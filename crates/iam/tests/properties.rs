//! Property tests of the evaluation logic: random policies in every layer, random requests
//! and contexts, and laws the decision must obey.
//!
//! - the fast path (`authorize`, `evaluate`) agrees with the explaining path (`explain`);
//! - statement order, policy order, organisation-level order and the order of values inside
//!   elements never change a decision;
//! - adding a Deny statement never turns a non-allow into an allow, nor an explicit deny
//!   into anything else;
//! - adding an Allow statement never turns an allow into a denial;
//! - a policy serialized to JSON text in another style (pretty, members reversed,
//!   singletons as scalars, `\u` escapes, wrapped in a JSON string) and parsed again gives
//!   the same decisions.
//!
//! Policies are generated as a small model, serialized to JSON text and compiled with
//! `Policy::parse`, so the parser is exercised too.

use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::Config;

use porteiro_iam::{Authorizer, Context, Decision, Layers, Policy, PolicyKind, Principal, Request, Value};

// ---- pools ----

const POLICY_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:Get*",
    "s3:*",
    "*",
    "s3:*Object",
    "s3:Get?bject",
    "S3:getobject",
    "ec2:RunInstances",
    "ec2:Describe*",
    "iam:PassRole",
    "kms:Decrypt",
    "kms:*",
    "dynamodb:GetItem",
    "*:GetObject",
];

const REQUEST_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "S3:GETOBJECT",
    "ec2:RunInstances",
    "ec2:DescribeInstances",
    "iam:PassRole",
    "kms:Decrypt",
    "dynamodb:GetItem",
    "sts:GetCallerIdentity",
];

const POLICY_RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:::bucket/private/*",
    "arn:aws:s3:::other/*",
    "arn:aws:s3:::bucket/${aws:username}/*",
    "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*",
    "arn:aws:s3:::bucket/${aws:missing, 'a.txt'}",
    "arn:aws:ec2:*:111122223333:instance/*",
    "arn:aws:ec2:us-east-1:*:instance/i-?",
    "arn:aws:*:*:111122223333:*",
    "arn:aws:kms:us-east-1:111122223333:key/*",
    "arn:aws:iam::111122223333:role/*",
];

const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:s3:::bucket/a.txt",
    "arn:aws:s3:::bucket/private/x",
    "arn:aws:s3:::bucket/alice/notes",
    "arn:aws:s3:::bucket/red/data",
    "arn:aws:s3:::other/k",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
    "arn:aws:ec2:eu-west-1:444455556666:instance/i-12",
    "arn:aws:kms:us-east-1:111122223333:key/k1",
    "arn:aws:iam::111122223333:role/deploy",
];

const PRINCIPALS: &[&str] = &[
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:user/bob",
    "arn:aws:sts::111122223333:assumed-role/deploy/session-1",
    "arn:aws:iam::111122223333:role/deploy",
    "arn:aws:iam::444455556666:user/bob",
    "arn:aws:iam::111122223333:root",
    "arn:aws:sts::111122223333:federated-user/carol",
    "lambda.amazonaws.com",
    "anonymous",
];

const STRING_OPS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "StringEqualsIgnoreCase",
    "StringEqualsIfExists",
    "StringNotEqualsIfExists",
    "ForAnyValue:StringEquals",
    "ForAllValues:StringEquals",
    "ForAnyValue:StringLike",
    "ForAllValues:StringNotEquals",
];
const STRING_KEYS: &[&str] = &[
    "aws:PrincipalTag/team",
    "aws:RequestTag/env",
    "aws:TagKeys",
    "aws:username",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
];
const STRING_VALUES: &[&str] = &[
    "red",
    "blue",
    "RED",
    "prod",
    "env",
    "team",
    "alice",
    "r*",
    "${aws:username}",
    "arn:aws:iam::111122223333:*",
    "111122223333",
];
const IP_OPS: &[&str] = &["IpAddress", "NotIpAddress", "IpAddressIfExists"];
const IP_VALUES: &[&str] = &["203.0.113.0/24", "10.0.0.0/8", "2001:db8::/32", "198.51.100.7"];
const BOOL_OPS: &[&str] = &["Bool", "BoolIfExists"];
const BOOL_KEYS: &[&str] = &[
    "aws:SecureTransport",
    "aws:MultiFactorAuthPresent",
    "aws:ViaAWSService",
];
const DATE_OPS: &[&str] = &[
    "DateLessThan",
    "DateGreaterThan",
    "DateEquals",
    "DateNotEquals",
    "DateLessThanEquals",
];
const DATE_VALUES: &[&str] = &["2025-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "1767225600"];
const NUM_OPS: &[&str] = &[
    "NumericLessThan",
    "NumericGreaterThanEquals",
    "NumericEquals",
    "NumericNotEquals",
];
const NUM_VALUES: &[&str] = &["3600", "60", "30.0"];
const ARN_OPS: &[&str] = &["ArnLike", "ArnEquals", "ArnNotLike", "ForAnyValue:ArnLike"];
const ARN_VALUES: &[&str] = &[
    "arn:aws:s3:::bucket*",
    "arn:aws:*:*:*:*",
    "arn:aws:sqs:us-east-1:111122223333:queue",
    "arn:aws:lambda:*:111122223333:function:*",
];
const ANY_KEYS: &[&str] = &[
    "aws:PrincipalTag/team",
    "aws:TagKeys",
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:SourceArn",
    "aws:username",
];

const PRINCIPAL_ENTRIES: &[(&str, &str)] = &[
    ("AWS", "*"),
    ("AWS", "111122223333"),
    ("AWS", "arn:aws:iam::111122223333:root"),
    ("AWS", "arn:aws:iam::111122223333:user/alice"),
    ("AWS", "arn:aws:iam::111122223333:role/deploy"),
    ("AWS", "arn:aws:sts::111122223333:assumed-role/deploy/session-1"),
    ("AWS", "444455556666"),
    ("AWS", "arn:aws:iam::444455556666:user/bob"),
    ("Service", "lambda.amazonaws.com"),
    ("Federated", "cognito-identity.amazonaws.com"),
];

// ---- the model ----

#[derive(Debug, Clone)]
struct Cond {
    op: &'static str,
    key: &'static str,
    values: Vec<&'static str>,
}

#[derive(Debug, Clone)]
enum PrincipalModel {
    /// `"Principal": "*"`.
    Star,
    /// `{"AWS": [...], "Service": [...], ...}`.
    Entries(Vec<(&'static str, &'static str)>),
}

#[derive(Debug, Clone)]
struct Stmt {
    sid: Option<String>,
    allow: bool,
    /// `(NotPrincipal?, principal)`.
    principal: Option<(bool, PrincipalModel)>,
    not_action: bool,
    actions: Vec<&'static str>,
    /// `(NotResource?, resources)`; `None` only in resource policies.
    resource: Option<(bool, Vec<&'static str>)>,
    conditions: Vec<Cond>,
}

#[derive(Debug, Clone)]
struct Doc {
    kind: PolicyKind,
    version: Option<&'static str>,
    statements: Vec<Stmt>,
}

#[derive(Debug, Clone)]
struct World {
    identity: Vec<Doc>,
    resource: Option<Doc>,
    boundary: Option<Doc>,
    session: Option<Doc>,
    scp: Option<Vec<Vec<Doc>>>,
    rcp: Option<Vec<Vec<Doc>>>,
}

#[derive(Debug, Clone)]
struct Ctx {
    team: Option<&'static str>,
    env: Option<&'static str>,
    tag_keys: Option<Vec<&'static str>>,
    source_ip: Option<&'static str>,
    secure: Option<&'static str>,
    mfa: Option<&'static str>,
    time: Option<&'static str>,
    mfa_age: Option<&'static str>,
    source_arn: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct Req {
    principal: &'static str,
    action: &'static str,
    resource: &'static str,
    account: Option<&'static str>,
    ctx: Ctx,
}

impl Req {
    fn build(&self) -> Request {
        let c = &self.ctx;
        let mut ctx = Context::new();
        let singles = [
            ("aws:PrincipalTag/team", c.team),
            ("aws:RequestTag/env", c.env),
            ("aws:SourceIp", c.source_ip),
            ("aws:SecureTransport", c.secure),
            ("aws:MultiFactorAuthPresent", c.mfa),
            ("aws:CurrentTime", c.time),
            ("aws:MultiFactorAuthAge", c.mfa_age),
            ("aws:SourceArn", c.source_arn),
        ];
        for (k, v) in singles {
            if let Some(v) = v {
                ctx.insert(k, v);
            }
        }
        if let Some(keys) = &c.tag_keys {
            ctx.insert("aws:TagKeys", Value::from(keys.clone()));
        }
        let principal = Principal::parse(self.principal).expect("pool principals parse");
        Request::new(principal, self.action, self.resource, self.account, ctx)
    }
}

// ---- strategies ----

fn cond() -> impl Strategy<Value = Cond> {
    let mk = |(op, key, values): (&'static str, &'static str, Vec<&'static str>)| Cond { op, key, values };
    prop_oneof![
        3 => (select(STRING_OPS), select(STRING_KEYS), subsequence(STRING_VALUES, 1..=2)).prop_map(mk),
        1 => (select(IP_OPS), Just("aws:SourceIp"), subsequence(IP_VALUES, 1..=2)).prop_map(mk),
        1 => (select(BOOL_OPS), select(BOOL_KEYS), select(&["true", "false"][..]).prop_map(|v| vec![v])).prop_map(mk),
        1 => (select(DATE_OPS), Just("aws:CurrentTime"), subsequence(DATE_VALUES, 1..=2)).prop_map(mk),
        1 => (select(NUM_OPS), Just("aws:MultiFactorAuthAge"), subsequence(NUM_VALUES, 1..=2)).prop_map(mk),
        1 => (Just("Null"), select(ANY_KEYS), select(&["true", "false"][..]).prop_map(|v| vec![v])).prop_map(mk),
        1 => (select(ARN_OPS), Just("aws:SourceArn"), subsequence(ARN_VALUES, 1..=2)).prop_map(mk),
    ]
}

/// Conditions with distinct (operator, key) pairs (a JSON object cannot repeat a key).
fn conditions() -> impl Strategy<Value = Vec<Cond>> {
    prop::collection::vec(cond(), 0..=2).prop_map(|mut v| {
        let mut seen = Vec::new();
        v.retain(|c| {
            let fresh = !seen.contains(&(c.op, c.key));
            seen.push((c.op, c.key));
            fresh
        });
        v
    })
}

fn principal_model() -> impl Strategy<Value = PrincipalModel> {
    prop_oneof![
        1 => Just(PrincipalModel::Star),
        4 => subsequence(PRINCIPAL_ENTRIES, 1..=3).prop_map(PrincipalModel::Entries),
    ]
}

fn stmt(kind: PolicyKind) -> impl Strategy<Value = Stmt> {
    let takes_principal = matches!(kind, PolicyKind::Resource | PolicyKind::Rcp);
    let principal = if takes_principal {
        (prop::bool::weighted(0.15), principal_model())
            .prop_map(Some)
            .boxed()
    } else {
        Just(None).boxed()
    };
    let resource_list = (prop::bool::weighted(0.2), subsequence(POLICY_RESOURCES, 1..=2));
    let resource = if kind == PolicyKind::Resource {
        option::weighted(0.85, resource_list).boxed()
    } else {
        resource_list.prop_map(Some).boxed()
    };
    (
        prop::bool::weighted(0.65),
        principal,
        prop::bool::weighted(0.15),
        subsequence(POLICY_ACTIONS, 1..=3),
        resource,
        conditions(),
    )
        .prop_map(
            |(allow, principal, not_action, actions, resource, conditions)| Stmt {
                sid: None,
                allow,
                principal,
                not_action,
                actions,
                resource,
                conditions,
            },
        )
}

/// A statement for a policy of `kind` with the given effect, named `sid`.
fn stmt_with(kind: PolicyKind, allow: bool, sid: &'static str) -> impl Strategy<Value = Stmt> {
    stmt(kind).prop_map(move |s| Stmt {
        allow,
        sid: Some(sid.to_string()),
        ..s
    })
}

fn doc(kind: PolicyKind, max_statements: usize) -> impl Strategy<Value = Doc> {
    let version = select(&[Some("2012-10-17"), Some("2012-10-17"), Some("2008-10-17"), None][..]);
    // SCPs usually keep FullAWSAccess next to their own statements.
    let full_access = if kind == PolicyKind::Scp {
        prop::bool::weighted(0.6).boxed()
    } else {
        Just(false).boxed()
    };
    (
        version,
        prop::collection::vec((stmt(kind), any::<bool>()), 0..=max_statements),
        full_access,
    )
        .prop_map(move |(version, statements, full_access)| {
            let mut statements: Vec<Stmt> = statements
                .into_iter()
                .enumerate()
                .map(|(i, (s, named))| Stmt {
                    sid: named.then(|| format!("S{i}")),
                    ..s
                })
                .collect();
            if full_access {
                statements.push(Stmt {
                    sid: Some("FullAWSAccess".to_string()),
                    allow: true,
                    principal: None,
                    not_action: false,
                    actions: vec!["*"],
                    resource: Some((false, vec!["*"])),
                    conditions: Vec::new(),
                });
            }
            Doc {
                kind,
                version,
                statements,
            }
        })
}

fn levels(kind: PolicyKind) -> impl Strategy<Value = Vec<Vec<Doc>>> {
    prop::collection::vec(prop::collection::vec(doc(kind, 2), 1..=2), 1..=2)
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(doc(PolicyKind::Identity, 4), 0..=3),
        option::weighted(0.5, doc(PolicyKind::Resource, 3)),
        option::weighted(0.3, doc(PolicyKind::PermissionsBoundary, 3)),
        option::weighted(0.2, doc(PolicyKind::Session, 2)),
        option::weighted(0.3, levels(PolicyKind::Scp)),
        option::weighted(0.2, levels(PolicyKind::Rcp)),
    )
        .prop_map(|(identity, resource, boundary, session, scp, rcp)| World {
            identity,
            resource,
            boundary,
            session,
            scp,
            rcp,
        })
}

fn ctx() -> impl Strategy<Value = Ctx> {
    (
        option::of(select(&["red", "blue", "Red", "green"][..])),
        option::of(select(&["prod", "dev"][..])),
        option::of(subsequence(&["env", "team", "owner"][..], 0..=3)),
        option::of(select(
            &[
                "203.0.113.5",
                "10.1.2.3",
                "2001:db8::1",
                "198.51.100.7",
                "not-an-ip",
            ][..],
        )),
        option::of(select(&["true", "false"][..])),
        option::of(select(&["true", "false", "TRUE"][..])),
        option::of(select(
            &[
                "2026-05-01T12:00:00Z",
                "2024-01-01T00:00:00Z",
                "2031-02-03",
                "yesterday",
            ][..],
        )),
        option::of(select(&["30", "7200", "3600", "abc"][..])),
        option::of(select(
            &[
                "arn:aws:s3:::bucket",
                "arn:aws:sqs:us-east-1:111122223333:queue",
                "not-an-arn",
            ][..],
        )),
    )
        .prop_map(
            |(team, env, tag_keys, source_ip, secure, mfa, time, mfa_age, source_arn)| Ctx {
                team,
                env,
                tag_keys,
                source_ip,
                secure,
                mfa,
                time,
                mfa_age,
                source_arn,
            },
        )
}

fn req() -> impl Strategy<Value = Req> {
    (
        select(PRINCIPALS),
        select(REQUEST_ACTIONS),
        select(REQUEST_RESOURCES),
        select(&[None, Some("111122223333"), Some("444455556666")][..]),
        ctx(),
    )
        .prop_map(|(principal, action, resource, account, ctx)| Req {
            principal,
            action,
            resource,
            account,
            ctx,
        })
}

fn requests() -> impl Strategy<Value = Vec<Req>> {
    prop::collection::vec(req(), 1..=4)
}

// ---- JSON text ----

/// How a document is written out. Every style must compile to the same policy.
#[derive(Debug, Clone, Copy, Default)]
struct Style {
    pretty: bool,
    /// Object members in reverse order.
    reverse: bool,
    /// One-element arrays (and a single statement) written as the element alone.
    scalars: bool,
    /// Letters and `/` written as `\u` escapes and `\/`.
    escapes: bool,
    /// The document given as a JSON string that contains it.
    wrapped: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(pretty, reverse, scalars, escapes, wrapped)| Style {
            pretty,
            reverse,
            scalars,
            escapes,
            wrapped,
        })
}

enum J {
    S(String),
    A(Vec<J>),
    O(Vec<(String, J)>),
}

fn s(v: &str) -> J {
    J::S(v.to_string())
}

fn strings(values: &[&str]) -> J {
    J::A(values.iter().map(|v| s(v)).collect())
}

fn quote(text: &str, escapes: bool, out: &mut String) {
    out.push('"');
    for (i, c) in text.chars().enumerate() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            '/' if escapes => out.push_str("\\/"),
            c if escapes && c.is_ascii_alphabetic() && i % 2 == 0 => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write(j: &J, st: Style, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if st.pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        }
    };
    match j {
        J::S(v) => quote(v, st.escapes, out),
        J::A(items) if st.scalars && items.len() == 1 => write(&items[0], st, depth, out),
        J::A(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write(item, st, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        J::O(members) => {
            out.push('{');
            let ordered: Vec<&(String, J)> = if st.reverse {
                members.iter().rev().collect()
            } else {
                members.iter().collect()
            };
            for (i, (k, v)) in ordered.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                quote(k, st.escapes, out);
                out.push_str(if st.pretty { ": " } else { ":" });
                write(v, st, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

fn stmt_json(st: &Stmt) -> J {
    let mut m = Vec::new();
    if let Some(sid) = &st.sid {
        m.push(("Sid".to_string(), s(sid)));
    }
    m.push(("Effect".to_string(), s(if st.allow { "Allow" } else { "Deny" })));
    if let Some((not, p)) = &st.principal {
        let value = match p {
            PrincipalModel::Star => s("*"),
            PrincipalModel::Entries(entries) => {
                let mut by_type: Vec<(String, J)> = Vec::new();
                for t in ["AWS", "Service", "Federated"] {
                    let values: Vec<&str> =
                        entries.iter().filter(|(k, _)| *k == t).map(|(_, v)| *v).collect();
                    if !values.is_empty() {
                        by_type.push((t.to_string(), strings(&values)));
                    }
                }
                J::O(by_type)
            }
        };
        m.push((if *not { "NotPrincipal" } else { "Principal" }.to_string(), value));
    }
    m.push((
        if st.not_action { "NotAction" } else { "Action" }.to_string(),
        strings(&st.actions),
    ));
    if let Some((not, resources)) = &st.resource {
        m.push((
            if *not { "NotResource" } else { "Resource" }.to_string(),
            strings(resources),
        ));
    }
    if !st.conditions.is_empty() {
        // Group by operator, keeping first-appearance order.
        let mut ops: Vec<(String, J)> = Vec::new();
        for c in &st.conditions {
            let entry = (c.key.to_string(), strings(&c.values));
            match ops.iter_mut().find(|(op, _)| op == c.op) {
                Some((_, J::O(keys))) => keys.push(entry),
                _ => ops.push((c.op.to_string(), J::O(vec![entry]))),
            }
        }
        m.push(("Condition".to_string(), J::O(ops)));
    }
    J::O(m)
}

fn doc_json(doc: &Doc, st: Style) -> String {
    let mut m = Vec::new();
    if let Some(v) = doc.version {
        m.push(("Version".to_string(), s(v)));
    }
    m.push((
        "Statement".to_string(),
        J::A(doc.statements.iter().map(stmt_json).collect()),
    ));
    let mut out = String::new();
    write(&J::O(m), st, 0, &mut out);
    if st.wrapped {
        let mut wrapped = String::new();
        quote(&out, false, &mut wrapped);
        wrapped
    } else {
        out
    }
}

// ---- compiling and deciding ----

struct Compiled {
    identity: Vec<Policy>,
    resource: Option<Policy>,
    boundary: Option<Policy>,
    session: Option<Policy>,
    scp: Option<Vec<Vec<Policy>>>,
    rcp: Option<Vec<Vec<Policy>>>,
}

impl Compiled {
    fn layers(&self) -> Layers<'_> {
        Layers {
            identity: &self.identity,
            resource: self.resource.as_ref(),
            permissions_boundary: self.boundary.as_ref(),
            session: self.session.as_ref(),
            scp: self.scp.as_deref(),
            rcp: self.rcp.as_deref(),
        }
    }
}

fn compile_doc(doc: &Doc, st: Style) -> Result<Policy, TestCaseError> {
    let text = doc_json(doc, st);
    let policy = Policy::parse(&text, doc.kind)
        .map_err(|e| TestCaseError::fail(format!("generated policy does not parse: {e}\n{text}")))?;
    prop_assert_eq!(policy.len(), doc.statements.len(), "{}", text);
    Ok(policy)
}

fn compile(world: &World, st: Style) -> Result<Compiled, TestCaseError> {
    let one = |d: &Option<Doc>| d.as_ref().map(|d| compile_doc(d, st)).transpose();
    let levels = |l: &Option<Vec<Vec<Doc>>>| {
        l.as_ref()
            .map(|levels| {
                levels
                    .iter()
                    .map(|level| {
                        level
                            .iter()
                            .map(|d| compile_doc(d, st))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
    };
    Ok(Compiled {
        identity: world
            .identity
            .iter()
            .map(|d| compile_doc(d, st))
            .collect::<Result<_, _>>()?,
        resource: one(&world.resource)?,
        boundary: one(&world.boundary)?,
        session: one(&world.session)?,
        scp: levels(&world.scp)?,
        rcp: levels(&world.rcp)?,
    })
}

fn decisions(world: &World, st: Style, requests: &[Request]) -> Result<Vec<Decision>, TestCaseError> {
    let compiled = compile(world, st)?;
    let authorizer = Authorizer::new();
    let layers = compiled.layers();
    Ok(requests
        .iter()
        .map(|r| authorizer.authorize(r, &layers))
        .collect())
}

fn build(requests: &[Req]) -> Vec<Request> {
    requests.iter().map(Req::build).collect()
}

/// Every document of the world, for edits.
fn docs_mut(world: &mut World) -> Vec<&mut Doc> {
    let mut out: Vec<&mut Doc> = world.identity.iter_mut().collect();
    out.extend(world.resource.iter_mut());
    out.extend(world.boundary.iter_mut());
    out.extend(world.session.iter_mut());
    for levels in [&mut world.scp, &mut world.rcp].into_iter().flatten() {
        out.extend(levels.iter_mut().flatten());
    }
    out
}

/// A deterministic shuffle (splitmix64 + Fisher-Yates), seeded by the test case.
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

fn shuffle_world(world: &mut World, seed: u64) {
    let mut sh = Shuffler(seed);
    sh.shuffle(&mut world.identity);
    for levels in [&mut world.scp, &mut world.rcp].into_iter().flatten() {
        sh.shuffle(levels);
        for level in levels.iter_mut() {
            sh.shuffle(level);
        }
    }
    for doc in docs_mut(world) {
        sh.shuffle(&mut doc.statements);
        for st in &mut doc.statements {
            sh.shuffle(&mut st.actions);
            sh.shuffle(&mut st.conditions);
            if let Some((_, resources)) = &mut st.resource {
                sh.shuffle(resources);
            }
            if let Some((_, PrincipalModel::Entries(entries))) = &mut st.principal {
                sh.shuffle(entries);
            }
            for c in &mut st.conditions {
                sh.shuffle(&mut c.values);
            }
        }
    }
}

/// Adds `stmt` (made for every kind; the one of the target's kind is used) to document
/// `target % n` at `position`. Returns false when the world has no document.
fn add_statement(world: &mut World, target: usize, position: usize, made: &[(PolicyKind, Stmt)]) -> bool {
    let mut docs = docs_mut(world);
    if docs.is_empty() {
        return false;
    }
    let n = docs.len();
    let doc = &mut docs[target % n];
    let Some((_, stmt)) = made.iter().find(|(k, _)| *k == doc.kind) else {
        return false;
    };
    let at = position % (doc.statements.len() + 1);
    doc.statements.insert(at, stmt.clone());
    true
}

const KINDS: [PolicyKind; 6] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::PermissionsBoundary,
    PolicyKind::Session,
    PolicyKind::Scp,
    PolicyKind::Rcp,
];

/// One added statement per policy kind, all with the same effect.
fn added(allow: bool) -> impl Strategy<Value = Vec<(PolicyKind, Stmt)>> {
    let sid = if allow { "AddedAllow" } else { "AddedDeny" };
    KINDS
        .iter()
        .map(|&k| stmt_with(k, allow, sid).prop_map(move |s| (k, s)))
        .collect::<Vec<_>>()
}

/// 256 cases per property (a few seconds in debug mode); `PROPTEST_CASES=N` for a longer run.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fast_path_agrees_with_explaining_path(world in world(), reqs in requests()) {
        let compiled = compile(&world, Style::default())?;
        let layers = compiled.layers();
        let authorizer = Authorizer::new();
        for r in build(&reqs) {
            let explanation = authorizer.explain(&r, &layers);
            prop_assert_eq!(authorizer.authorize(&r, &layers), explanation.evaluation.decision, "{:?}", r);
            prop_assert_eq!(authorizer.evaluate(&r, &layers), explanation.evaluation, "{:?}", r);
        }
    }

    #[test]
    fn order_never_changes_the_decision(world in world(), reqs in requests(), seed in any::<u64>()) {
        let requests = build(&reqs);
        let before = decisions(&world, Style::default(), &requests)?;
        let mut shuffled = world.clone();
        shuffle_world(&mut shuffled, seed);
        let after = decisions(&shuffled, Style::default(), &requests)?;
        prop_assert_eq!(before, after);
    }

    #[test]
    fn adding_a_deny_never_grants(
        world in world(),
        reqs in requests(),
        made in added(false),
        target in any::<usize>(),
        position in any::<usize>(),
    ) {
        let requests = build(&reqs);
        let before = decisions(&world, Style::default(), &requests)?;
        let mut more = world.clone();
        prop_assume!(add_statement(&mut more, target, position, &made));
        let after = decisions(&more, Style::default(), &requests)?;
        for ((b, a), r) in before.iter().zip(&after).zip(&reqs) {
            if !b.is_allowed() {
                prop_assert!(!a.is_allowed(), "a Deny turned {} into {}: {:?}", b, a, r);
            }
            if *b == Decision::ExplicitDeny {
                prop_assert_eq!(*a, Decision::ExplicitDeny, "{:?}", r);
            }
        }
    }

    #[test]
    fn adding_an_allow_never_denies(
        world in world(),
        reqs in requests(),
        made in added(true),
        target in any::<usize>(),
        position in any::<usize>(),
    ) {
        let requests = build(&reqs);
        let before = decisions(&world, Style::default(), &requests)?;
        let mut more = world.clone();
        prop_assume!(add_statement(&mut more, target, position, &made));
        let after = decisions(&more, Style::default(), &requests)?;
        for ((b, a), r) in before.iter().zip(&after).zip(&reqs) {
            if b.is_allowed() {
                prop_assert!(a.is_allowed(), "an Allow turned allowed into {}: {:?}", a, r);
            }
        }
    }

    #[test]
    fn serialized_policies_decide_the_same(world in world(), reqs in requests(), style in style()) {
        let requests = build(&reqs);
        let canonical = decisions(&world, Style::default(), &requests)?;
        let restyled = decisions(&world, style, &requests)?;
        prop_assert_eq!(canonical, restyled, "{:?}", style);
    }
}

/// The generators reach every decision (otherwise the properties above prove little).
#[test]
fn generators_reach_every_decision() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

    let mut runner = TestRunner::new_with_rng(config(), TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let (mut allowed, mut explicit, mut implicit) = (0usize, 0usize, 0usize);
    for _ in 0..200 {
        let world = world().new_tree(&mut runner).expect("world").current();
        let reqs = requests().new_tree(&mut runner).expect("requests").current();
        let requests = build(&reqs);
        for d in decisions(&world, Style::default(), &requests).expect("generated policies compile") {
            match d {
                Decision::Allowed => allowed += 1,
                Decision::ExplicitDeny => explicit += 1,
                Decision::ImplicitDeny => implicit += 1,
            }
        }
    }
    let total = allowed + explicit + implicit;
    assert!(
        allowed * 20 >= total && explicit * 20 >= total && implicit * 20 >= total,
        "allowed {allowed}, explicitDeny {explicit}, implicitDeny {implicit}"
    );
}
