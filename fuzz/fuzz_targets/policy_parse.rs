//! Feeds arbitrary text to the policy parser (as every kind of policy) and to the scenario
//! parser. Nothing may panic. When a policy compiles, a few fixed requests are authorized
//! against it, and the fast path must agree with the explaining path.

#![no_main]

use libfuzzer_sys::fuzz_target;
use porteiro_iam::scenario::{self, Line};
use porteiro_iam::{Authorizer, Context, Layers, Policy, PolicyKind, Principal, Request, Value};

const KINDS: [PolicyKind; 7] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
    PolicyKind::PermissionsBoundary,
    PolicyKind::Session,
    PolicyKind::Scp,
    PolicyKind::Rcp,
];

/// (principal, action, resource, resource account)
const REQUESTS: [(&str, &str, &str, Option<&str>); 5] = [
    (
        "arn:aws:iam::111122223333:user/alice",
        "s3:GetObject",
        "arn:aws:s3:::bucket/alice/key",
        Some("111122223333"),
    ),
    (
        "arn:aws:sts::111122223333:assumed-role/deploy/session",
        "sts:AssumeRole",
        "arn:aws:iam::111122223333:role/deploy",
        None,
    ),
    (
        "arn:aws:iam::444455556666:user/bob",
        "kms:Decrypt",
        "arn:aws:kms:us-east-1:111122223333:key/k1",
        None,
    ),
    (
        "lambda.amazonaws.com",
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:111122223333:queue",
        None,
    ),
    (
        "anonymous",
        "s3:GetObject",
        "arn:aws:s3:::public/index.html",
        Some("111122223333"),
    ),
];

fn requests() -> Vec<Request> {
    REQUESTS
        .iter()
        .filter_map(|(principal, action, resource, account)| {
            let principal = Principal::parse(principal).ok()?;
            let mut ctx = Context::new();
            ctx.insert("aws:SourceIp", "203.0.113.7");
            ctx.insert("aws:CurrentTime", "2026-05-01T12:00:00Z");
            ctx.insert("aws:EpochTime", "1777636800");
            ctx.insert("aws:SecureTransport", true);
            ctx.insert("aws:MultiFactorAuthAge", "300");
            ctx.insert("aws:PrincipalTag/team", "red");
            ctx.insert("aws:SourceArn", "arn:aws:s3:::bucket");
            ctx.insert("aws:TagKeys", Value::from(vec!["team", "env"]));
            ctx.insert("s3:prefix", "alice/");
            Some(Request::new(principal, action, resource, *account, ctx))
        })
        .collect()
}

fn check(policy: &Policy, requests: &[Request], authorizer: &Authorizer) {
    let _ = (policy.len(), policy.version(), policy.id(), policy.kind());
    for i in 0..policy.len() {
        let _ = policy.sid(i);
    }
    for w in policy.warnings() {
        let _ = w.to_string();
    }
    let single = [policy.clone()];
    let levels = vec![vec![policy.clone()]];
    let layers = match policy.kind() {
        PolicyKind::Identity => Layers {
            identity: &single,
            ..Layers::default()
        },
        PolicyKind::Resource | PolicyKind::Trust => Layers {
            resource: Some(policy),
            ..Layers::default()
        },
        PolicyKind::PermissionsBoundary => Layers {
            permissions_boundary: Some(policy),
            ..Layers::default()
        },
        PolicyKind::Session => Layers {
            session: Some(policy),
            ..Layers::default()
        },
        PolicyKind::Scp => Layers {
            scp: Some(&levels),
            ..Layers::default()
        },
        PolicyKind::Rcp => Layers {
            rcp: Some(&levels),
            ..Layers::default()
        },
    };
    for r in requests {
        let fast = authorizer.evaluate(r, &layers);
        let explained = authorizer.explain(r, &layers);
        assert_eq!(fast.decision, authorizer.authorize(r, &layers));
        assert_eq!(
            fast, explained.evaluation,
            "fast and explaining paths differ for {r:?}"
        );
        let _ = explained.to_string();
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let authorizer = Authorizer::new();
    let requests = requests();

    let _ = PolicyKind::guess(&text);
    for kind in KINDS {
        match Policy::parse(&text, kind) {
            Ok(policy) => check(&policy, &requests, &authorizer),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    match scenario::parse_file(&text, authorizer.options()) {
        Ok(scenarios) => {
            for s in &scenarios {
                let _ = s.warnings();
                let outcome = s.run(&authorizer);
                assert_eq!(s.decide(&authorizer), outcome.decision(), "scenario `{}`", s.name);
                let _ = Line(&outcome).to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
