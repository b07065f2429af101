//! `porteiro policy simulate|explain|check`.
//!
//! Exit codes (the scenario format's contract): 0 when every stated expectation was met (or
//! every checked policy is valid), 1 when one was not (or a policy is invalid), 2 when a file
//! cannot be read or is not a valid scenario file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use porteiro_iam::scenario::{self, Line, Outcome, Scenario};
use porteiro_iam::{Authorizer, Explanation, Policy, PolicyKind, StatementResult};
use serde_json::{Value as Json, json};

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Evaluate scenario files (shared/spec/policy-scenario.md) and compare with their `expect`.
    Simulate(SimulateArgs),
    /// Print, for people, why each scenario of a file gets its decision.
    Explain(ExplainArgs),
    /// Validate policy documents (or scenario files) and warn about likely mistakes.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Scenario files, or directories searched recursively for `*.json`.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object per scenario instead of one line.
    #[arg(long)]
    json: bool,
    /// Evaluate each scenario N times after compiling once and report decisions per second.
    #[arg(long, value_name = "N")]
    repeat: Option<u64>,
    /// Print only the scenarios whose expectation was not met (and the totals).
    #[arg(long)]
    failures_only: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A scenario file.
    file: PathBuf,
    /// Structured output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Policy documents (JSON) or scenario files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where the policies are attached: identity, resource, trust, boundary, session, scp, rcp.
    /// Default: resource when a statement names a principal, identity otherwise.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<PolicyKind>,
    /// Exit 1 on warnings too.
    #[arg(long)]
    strict: bool,
}

fn parse_kind(s: &str) -> Result<PolicyKind, String> {
    PolicyKind::from_name(s).ok_or_else(|| {
        format!("unknown policy kind `{s}`: use identity, resource, trust, boundary, session, scp or rcp")
    })
}

pub(crate) fn run(cmd: PolicyCommand) -> ExitCode {
    match cmd {
        PolicyCommand::Simulate(args) => simulate(&args),
        PolicyCommand::Explain(args) => explain(&args),
        PolicyCommand::Check(args) => check(&args),
    }
}

/// Expands directories into the `*.json` files under them, sorted.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|e| format!("{}: cannot read directory: {e}", p.display()))?;
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn load(path: &Path, authorizer: &Authorizer) -> Result<Vec<Scenario>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    scenario::parse_file(&text, authorizer.options()).map_err(|e| format!("{}: {e}", path.display()))
}

fn simulate(args: &SimulateArgs) -> ExitCode {
    let authorizer = Authorizer::new();
    let files = match expand(&args.files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut loaded = Vec::new();
    for f in &files {
        match load(f, &authorizer) {
            Ok(s) => loaded.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut ok, mut bad) = (0usize, 0usize);
    let (mut total_decisions, mut total_secs) = (0u128, 0f64);
    for scenarios in &loaded {
        for s in scenarios {
            let outcome = s.run(&authorizer);
            let rate = args.repeat.map(|n| {
                let n = n.max(1);
                let start = Instant::now();
                for _ in 0..n {
                    std::hint::black_box(s.decide(std::hint::black_box(&authorizer)));
                }
                let secs = start.elapsed().as_secs_f64().max(1e-9);
                let decisions = u128::from(n) * s.steps() as u128;
                total_decisions += decisions;
                total_secs += secs;
                decisions as f64 / secs
            });
            if outcome.ok() {
                ok += 1;
            } else {
                bad += 1;
            }
            if args.failures_only && outcome.ok() {
                continue;
            }
            let written = if args.json {
                let mut v = outcome_json(&outcome);
                if let (Some(r), Json::Object(m)) = (rate, &mut v) {
                    m.insert("decisionsPerSecond".into(), json!(r.round()));
                }
                writeln!(out, "{v}")
            } else {
                match rate {
                    Some(r) => writeln!(out, "{}  [{:.0} decisions/s]", Line(&outcome), r),
                    None => writeln!(out, "{}", Line(&outcome)),
                }
            };
            if written.is_err() {
                return ExitCode::from(2);
            }
        }
    }
    if !args.json {
        let _ = writeln!(out, "{} scenarios: {ok} as expected, {bad} not", ok + bad);
        if args.repeat.is_some() && total_secs > 0.0 {
            let _ = writeln!(
                out,
                "throughput: {:.0} decisions/s on one core ({} decisions, {:.3} s)",
                total_decisions as f64 / total_secs,
                total_decisions,
                total_secs
            );
        }
    }
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn matched_json(e: &Explanation) -> Json {
    Json::Array(
        e.matched()
            .map(|s| {
                let mut m = json!({
                    "layer": s.layer.as_str(),
                    "policy": s.policy,
                    "statement": s.label(),
                    "effect": s.effect.as_str(),
                });
                if let (Some(level), Json::Object(map)) = (s.level, &mut m) {
                    map.insert("level".into(), json!(level));
                }
                m
            })
            .collect(),
    )
}

fn outcome_json(o: &Outcome) -> Json {
    let hops: Vec<Json> = o
        .hops
        .iter()
        .map(|h| {
            json!({
                "via": h.via,
                "action": h.explanation.action,
                "decision": h.decision().as_str(),
                "expected": h.expected.map(|d| d.as_str()),
                "ok": h.ok(),
                "deniedBy": h.explanation.evaluation.denied_by.map(|d| d.to_string()),
                "matched": matched_json(&h.explanation),
            })
        })
        .collect();
    json!({
        "name": o.name,
        "decision": o.decision().as_str(),
        "expected": o.expected.map(|d| d.as_str()),
        "ok": o.ok(),
        "deniedBy": o.denied_by().map(|d| d.to_string()),
        "reason": reason(o),
        "matched": matched_json(&o.request),
        "forward": hops,
    })
}

fn reason(o: &Outcome) -> String {
    if !o.request.evaluation.decision.is_allowed() {
        return o.request.summary();
    }
    match o.hops.iter().find(|h| !h.decision().is_allowed()) {
        Some(h) => format!("hop via {}: {}", h.via, h.explanation.summary()),
        None => o.request.summary(),
    }
}

fn explain(args: &ExplainArgs) -> ExitCode {
    let authorizer = Authorizer::new();
    let scenarios = match load(&args.file, &authorizer) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut all_ok = true;
    for s in &scenarios {
        let o = s.run(&authorizer);
        all_ok &= o.ok();
        if args.json {
            println!("{}", explanation_json(&o));
            continue;
        }
        println!("scenario: {}", o.name);
        if let Some(d) = &s.description {
            println!("source: {d}");
        }
        let r = &o.request;
        println!("request: {} {} {}", r.principal, r.action, r.resource);
        print_explanation(r, "  ");
        for h in &o.hops {
            println!(
                "  forward access session via {} → {} {}",
                h.via, h.explanation.action, h.explanation.resource
            );
            print_explanation(&h.explanation, "    ");
        }
        let verdict = match o.expected {
            Some(e) if o.ok() => format!("as expected ({e})"),
            Some(e) => format!("NOT as expected: expected {e}"),
            None => "no expectation stated".to_string(),
        };
        println!("result: {} — {verdict}\n", o.decision());
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_explanation(e: &Explanation, indent: &str) {
    println!("{indent}decision: {}", e.evaluation.decision);
    println!("{indent}because: {}", e.summary());
    if e.statements.is_empty() {
        println!("{indent}(no statement was evaluated)");
    }
    for s in &e.statements {
        let level = s.level.map(|l| format!(" level {l}")).unwrap_or_default();
        let place = format!(
            "{}{level} policy {} statement {}",
            s.layer.as_str(),
            s.policy,
            s.label()
        );
        let what = match &s.result {
            StatementResult::Matched(_) => format!("{} APPLIES", s.effect.as_str()),
            StatementResult::ActionNotMatched => format!(
                "{} does not apply: action {} is not covered",
                s.effect.as_str(),
                e.action
            ),
            StatementResult::ResourceNotMatched => {
                format!(
                    "{} does not apply: resource {} is not covered",
                    s.effect.as_str(),
                    e.resource
                )
            }
            StatementResult::PrincipalNotMatched => {
                format!(
                    "{} does not apply: principal {} is not named",
                    s.effect.as_str(),
                    e.principal
                )
            }
            StatementResult::ConditionFailed(c) => {
                let got = match &c.request_values {
                    Some(v) => format!("the request has {}", v.join(", ")),
                    None => "the key is missing from the request".to_string(),
                };
                format!(
                    "{} does not apply: condition {} on {} (policy: {}) is false; {got}",
                    s.effect.as_str(),
                    c.operator,
                    c.key,
                    c.policy_values.join(", ")
                )
            }
        };
        println!("{indent}- {place}: {what}");
    }
}

fn explanation_json(o: &Outcome) -> Json {
    let statements = |e: &Explanation| -> Json {
        Json::Array(
            e.statements
                .iter()
                .map(|s| {
                    let (result, detail) = match &s.result {
                        StatementResult::Matched(g) => ("matched", json!(g.map(|g| format!("{g:?}")))),
                        StatementResult::ActionNotMatched => ("actionNotMatched", Json::Null),
                        StatementResult::ResourceNotMatched => ("resourceNotMatched", Json::Null),
                        StatementResult::PrincipalNotMatched => ("principalNotMatched", Json::Null),
                        StatementResult::ConditionFailed(c) => (
                            "conditionFailed",
                            json!({"operator": c.operator, "key": c.key, "requestValues": c.request_values, "policyValues": c.policy_values}),
                        ),
                    };
                    json!({"layer": s.layer.as_str(), "level": s.level, "policy": s.policy, "statement": s.label(),
                           "effect": s.effect.as_str(), "result": result, "detail": detail})
                })
                .collect(),
        )
    };
    let mut v = outcome_json(o);
    if let Json::Object(m) = &mut v {
        m.insert("statements".into(), statements(&o.request));
        m.insert(
            "forwardStatements".into(),
            Json::Array(o.hops.iter().map(|h| statements(&h.explanation)).collect()),
        );
    }
    v
}

fn check(args: &CheckArgs) -> ExitCode {
    let authorizer = Authorizer::new();
    let files = match expand(&args.files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut errors, mut warnings) = (0usize, 0usize);
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {}: cannot read: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        let looks_like_scenario = text.contains("\"request\"") && text.contains("\"name\"");
        let result: Result<Vec<porteiro_iam::PolicyWarning>, String> = if looks_like_scenario {
            scenario::parse_file(&text, authorizer.options())
                .map(|all| all.iter().flat_map(Scenario::warnings).collect())
                .map_err(|e| e.to_string())
        } else {
            let kind = args.kind.unwrap_or_else(|| PolicyKind::guess(&text));
            Policy::parse(&text, kind)
                .map(|p| p.warnings().to_vec())
                .map_err(|e| e.to_string())
        };
        match result {
            Ok(ws) => {
                for w in &ws {
                    println!("{}: warning: {w}", path.display());
                }
                warnings += ws.len();
                if ws.is_empty() {
                    println!("{}: ok", path.display());
                }
            }
            Err(e) => {
                println!("{}: error: {e}", path.display());
                errors += 1;
            }
        }
    }
    println!("{} files: {errors} with errors, {warnings} warnings", files.len());
    if errors > 0 || (args.strict && warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
