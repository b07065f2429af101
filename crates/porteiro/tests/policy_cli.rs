//! End-to-end tests of `porteiro policy`: the real binary, its output and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn porteiro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_porteiro"))
        .args(args)
        .output()
        .expect("the porteiro binary runs")
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("porteiro-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp file");
    path
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const SCENARIOS: &str = r#"[
 {"name": "reader allowed", "description": "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html",
  "request": {"principal": "arn:aws:iam::111122223333:user/alice", "action": "s3:GetObject",
              "resource": "arn:aws:s3:::reports/q3.csv", "resourceAccount": "111122223333"},
  "policies": {"identity": [{"Version": "2012-10-17", "Statement": [{"Sid": "AllowRead", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}]}]},
  "expect": "allowed"},
 {"name": "kms hop denied", "request": {"principal": "arn:aws:iam::111122223333:user/alice", "action": "s3:GetObject",
              "resource": "arn:aws:s3:::reports/q3.csv", "resourceAccount": "111122223333"},
  "policies": {"identity": [{"Version": "2012-10-17", "Statement": [{"Sid": "AllowRead", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}]},
  "forward": [{"via": "s3.amazonaws.com", "action": "kms:Decrypt", "resource": "arn:aws:kms:us-east-1:111122223333:key/k1",
               "policies": {"resource": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]}},
               "expect": "implicitDeny"}],
  "expect": "implicitDeny"}
]"#;

#[test]
fn simulate_prints_one_line_per_scenario_and_exits_0() {
    let f = temp_file("ok.json", SCENARIOS);
    let o = porteiro(&["policy", "simulate", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("reader allowed: allowed ok"), "{out}");
    assert!(
        out.contains("kms hop denied: implicitDeny (by identity) ok"),
        "{out}"
    );
    assert!(out.contains("2 scenarios: 2 as expected, 0 not"), "{out}");
}

#[test]
fn simulate_json_follows_the_contract() {
    let f = temp_file("json.json", SCENARIOS);
    let o = porteiro(&["policy", "simulate", "--json", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["name"], "reader allowed");
    assert_eq!(first["decision"], "allowed");
    assert_eq!(first["expected"], "allowed");
    assert_eq!(first["ok"], true);
    assert_eq!(first["deniedBy"], serde_json::Value::Null);
    assert_eq!(first["matched"][0]["layer"], "identity");
    assert_eq!(first["matched"][0]["policy"], 0);
    assert_eq!(first["matched"][0]["statement"], "AllowRead");
    assert_eq!(first["matched"][0]["effect"], "Allow");
    let hop = &lines[1]["forward"][0];
    assert_eq!(hop["via"], "s3.amazonaws.com");
    assert_eq!(hop["action"], "kms:Decrypt");
    assert_eq!(hop["decision"], "implicitDeny");
    assert_eq!(hop["ok"], true);
}

#[test]
fn simulate_exits_1_on_a_mismatch() {
    let f = temp_file(
        "bad.json",
        &SCENARIOS.replace("\"expect\": \"allowed\"}", "\"expect\": \"explicitDeny\"}"),
    );
    let o = porteiro(&["policy", "simulate", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("MISMATCH: expected explicitDeny"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn simulate_exits_2_on_an_invalid_file_naming_path_and_position() {
    let f = temp_file(
        "invalid.json",
        "{\"name\": \"x\",\n \"request\": {\"principal\": \"arn:aws:iam::111122223333:user/a\", \"action\": \"s3:GetObject\", \"resource\": \"arn:aws:s3:::b\", \"resourceAccount\": \"111122223333\"},\n \"policies\": {\"identity\": [{\"Statement\": {\"Effect\": \"Alow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}]}}",
    );
    let o = porteiro(&["policy", "simulate", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("invalid.json"), "{err}");
    assert!(
        err.contains("$.policies.identity[0].Statement.Effect (line 3"),
        "{err}"
    );
    let missing = porteiro(&["policy", "simulate", "/nonexistent/file.json"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn simulate_repeat_reports_decisions_per_second() {
    let f = temp_file("repeat.json", SCENARIOS);
    let o = porteiro(&["policy", "simulate", "--repeat", "100", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("decisions/s]"), "{out}");
    assert!(
        out.contains("throughput:") && out.contains("decisions/s on one core"),
        "{out}"
    );
}

#[test]
fn explain_says_why_for_each_statement() {
    let f = temp_file("explain.json", SCENARIOS);
    let o = porteiro(&["policy", "explain", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.contains("identity policy 0 statement AllowRead: Allow APPLIES"),
        "{out}"
    );
    assert!(
        out.contains("forward access session via s3.amazonaws.com"),
        "{out}"
    );
    assert!(
        out.contains("which needs an identity-based policy that allows kms:Decrypt"),
        "{out}"
    );
    assert!(out.contains("action kms:Decrypt is not covered"), "{out}");
}

#[test]
fn check_reports_errors_and_warnings() {
    let good = temp_file(
        "good.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let o = porteiro(&["policy", "check", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("good.json: ok"));

    let warn = temp_file(
        "warn.json",
        r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s*:::b/${aws:username}","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]},"Bool":{"aws:SecureTransprot":"true"}}}}"#,
    );
    let o = porteiro(&["policy", "check", warn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("wildcard in its service part"), "{out}");
    assert!(out.contains("\"Version\": \"2012-10-17\""), "{out}");
    assert!(out.contains("ForAllValues:StringEquals"), "{out}");
    assert!(out.contains("did you mean `aws:SecureTransport`"), "{out}");
    let strict = porteiro(&["policy", "check", "--strict", warn.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));

    let bad = temp_file(
        "bad-policy.json",
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\", \"Condition\": {\"StringEqual\": {\"aws:SourceVpc\": \"v\"}}}]\n}",
    );
    let o = porteiro(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("$.Statement[0].Condition.StringEqual (line 3"),
        "{out}"
    );
    assert!(out.contains("did you mean `StringEquals`"), "{out}");

    let trust = temp_file(
        "trust.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/a"},"Action":"sts:AssumeRole"}}"#,
    );
    let o = porteiro(&["policy", "check", "--kind", "trust", trust.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("not allowed in a role trust policy"),
        "{}",
        stdout(&o)
    );
}
