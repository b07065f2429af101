//! End to end: the real `porteiro cloud serve` driven by the unmodified `aws` CLI and boto3.
//!
//! Needs `aws` (awscli) and `python3` with boto3 on PATH. Without them the tests print a
//! notice and pass, unless `PORTEIRO_E2E_REQUIRE_TOOLS=1`, when they fail. Every child
//! process is killed when its guard drops, on every path (panics included).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{ACCOUNT, CloudServer as Server, ROOT_AK, ROOT_SK, TempDir};

const OTHER_ACCOUNT: &str = "210987654321";
const OTHER_AK: &str = "AKIAI44QH8DHBEXAMPLE";
const OTHER_SK: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// Whether `aws` and boto3 can run; fails the test instead when they are required.
fn tools_available() -> bool {
    let runs = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let aws = runs("aws", &["--version"]);
    let boto3 = runs("python3", &["-c", "import boto3"]);
    if aws && boto3 {
        return true;
    }
    let missing = match (aws, boto3) {
        (false, false) => "the `aws` CLI and boto3 are",
        (false, true) => "the `aws` CLI is",
        _ => "boto3 (python3 -c \"import boto3\") is",
    };
    let required = std::env::var("PORTEIRO_E2E_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{missing} not available but PORTEIRO_E2E_REQUIRE_TOOLS=1: install them with `pip install awscli boto3`"
    );
    eprintln!(
        "NOTICE: skipping the embedded cloud end-to-end test: {missing} not available (`pip install awscli boto3`)"
    );
    false
}

/// Credentials for the CLI.
#[derive(Debug, Clone)]
struct Creds {
    ak: String,
    sk: String,
    token: Option<String>,
}

impl Creds {
    fn new(ak: &str, sk: &str) -> Creds {
        Creds {
            ak: ak.to_string(),
            sk: sk.to_string(),
            token: None,
        }
    }

    fn root() -> Creds {
        Creds::new(ROOT_AK, ROOT_SK)
    }

    fn other_root() -> Creds {
        Creds::new(OTHER_AK, OTHER_SK)
    }

    /// From the `Credentials` of an STS response, or the `AccessKey` of CreateAccessKey.
    fn from_json(v: &Value) -> Creds {
        let s = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("no {k} in {v}"))
                .to_string()
        };
        Creds {
            ak: s("AccessKeyId"),
            sk: s("SecretAccessKey"),
            token: v["SessionToken"].as_str().map(str::to_string),
        }
    }
}

/// The environment every client runs with: only the given credentials, never the user's
/// configuration or profile.
fn client_env(cmd: &mut Command, c: &Creds, scratch: &Path) {
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_IAM",
        "AWS_ENDPOINT_URL_STS",
        "AWS_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CA_BUNDLE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", &c.ak)
        .env("AWS_SECRET_ACCESS_KEY", &c.sk)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", scratch.join("no-such-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-such-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_RETRY_MODE", "standard")
        .env("AWS_PAGER", "");
    if let Some(t) = &c.token {
        cmd.env("AWS_SESSION_TOKEN", t);
    }
}

/// One `aws` CLI invocation.
struct Cli<'a> {
    endpoint: String,
    scratch: &'a Path,
}

impl Cli<'_> {
    fn run(&self, c: &Creds, args: &[&str]) -> Output {
        let mut cmd = Command::new("aws");
        cmd.args(["--endpoint-url", &self.endpoint, "--output", "json"])
            .args(args);
        client_env(&mut cmd, c, self.scratch);
        cmd.stdin(Stdio::null()).output().expect("run aws")
    }

    /// Runs a command expected to succeed; its JSON output (`null` when it prints nothing).
    #[track_caller]
    fn ok(&self, c: &Creds, args: &[&str]) -> Value {
        let out = self.run(c, args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`aws {}` failed: {}{}",
            args.join(" "),
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("`aws {}` printed no JSON ({e}): {stdout}", args.join(" ")))
        }
    }

    /// Runs a command expected to fail with `code`; returns the message after the code.
    #[track_caller]
    fn fails(&self, c: &Creds, args: &[&str], code: &str) -> String {
        let out = self.run(c, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "`aws {}` succeeded; {code} was expected",
            args.join(" ")
        );
        let marker = format!("An error occurred ({code}) when calling the ");
        assert!(
            stderr.contains(&marker),
            "`aws {}`: expected {code}, got: {stderr}",
            args.join(" ")
        );
        let (_, message) = stderr
            .split_once(&marker)
            // "…the CreateUser operation: MESSAGE", or "…operation (reached max retries: 0): MESSAGE"
            .and_then(|(_, rest)| rest.split_once(" operation"))
            .and_then(|(_, rest)| rest.split_once("): ").or_else(|| rest.split_once(": ")))
            .unwrap_or_else(|| panic!("`aws {}`: no error message in: {stderr:?}", args.join(" ")));
        message.trim().to_string()
    }
}

fn policy(statements: Value) -> String {
    let statements = if statements.is_array() {
        statements
    } else {
        json!([statements])
    };
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn allow(actions: &[&str], resource: &str) -> String {
    policy(json!({"Effect": "Allow", "Action": actions, "Resource": resource}))
}

fn trust(principal: &str) -> String {
    policy(json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}))
}

fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// Creates a user with an inline policy and an access key, with the CLI.
fn cli_user(cli: &Cli<'_>, name: &str, inline: Option<&str>) -> Creds {
    cli.ok(&Creds::root(), &["iam", "create-user", "--user-name", name]);
    if let Some(doc) = inline {
        cli.ok(
            &Creds::root(),
            &[
                "iam",
                "put-user-policy",
                "--user-name",
                name,
                "--policy-name",
                "p",
                "--policy-document",
                doc,
            ],
        );
    }
    let key = cli.ok(&Creds::root(), &["iam", "create-access-key", "--user-name", name]);
    Creds::from_json(&key["AccessKey"])
}

/// `porteiro cloud account create` for the second account, while the server runs, then
/// waits until the server has picked it up.
fn create_other_account(cli: &Cli<'_>, data_dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_porteiro"))
        .args(["cloud", "account", "create", "--data-dir"])
        .arg(data_dir)
        .args([
            "--account-id",
            OTHER_ACCOUNT,
            "--root-access-key-id",
            OTHER_AK,
            "--root-secret-access-key",
            OTHER_SK,
        ])
        .env_remove("PORTEIRO_CLOUD_DATA_DIR")
        .env_remove("PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID")
        .env_remove("PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run `porteiro cloud account create`");
    assert!(
        out.status.success(),
        "`porteiro cloud account create` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("created account {OTHER_ACCOUNT}")));
    // "A running cloud picks it up within a second."
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = cli.run(&Creds::other_root(), &["sts", "get-caller-identity"]);
        if out.status.success() {
            let me: Value = serde_json::from_slice(&out.stdout).expect("json");
            assert_eq!(me["Account"], OTHER_ACCOUNT);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the running server did not pick up the new account: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A data directory, a running server on it and a CLI pointed at it.
struct World {
    dir: TempDir,
    server: Server,
}

impl World {
    fn start(tag: &str) -> World {
        let dir = TempDir::new(tag);
        let server = Server::start(&dir.path().join("data"));
        World { dir, server }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn cli(&self) -> Cli<'_> {
        Cli {
            endpoint: self.server.endpoint(),
            scratch: self.dir.path(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// aws CLI
// ---------------------------------------------------------------------------------------

#[test]
fn aws_cli_users_policies_keys_and_denials() {
    if !tools_available() {
        return;
    }
    let w = World::start("cli-users");
    let cli = w.cli();
    let root = Creds::root();

    let me = cli.ok(&root, &["sts", "get-caller-identity"]);
    assert_eq!(me["Account"], ACCOUNT);
    assert_eq!(me["Arn"], format!("arn:aws:iam::{ACCOUNT}:root"));

    let created = cli.ok(
        &root,
        &[
            "iam",
            "create-user",
            "--user-name",
            "bob",
            "--tags",
            "Key=team,Value=blue",
        ],
    );
    assert_eq!(created["User"]["Arn"], user_arn("bob"));
    cli.fails(
        &root,
        &["iam", "create-user", "--user-name", "bob"],
        "EntityAlreadyExists",
    );

    let pol = cli.ok(
        &root,
        &[
            "iam",
            "create-policy",
            "--policy-name",
            "lister",
            "--policy-document",
            &allow(&["iam:ListUsers"], "*"),
        ],
    );
    let pol_arn = pol["Policy"]["Arn"].as_str().expect("policy arn").to_string();
    assert_eq!(pol_arn, format!("arn:aws:iam::{ACCOUNT}:policy/lister"));
    cli.ok(
        &root,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "bob",
            "--policy-arn",
            &pol_arn,
        ],
    );
    let key = cli.ok(&root, &["iam", "create-access-key", "--user-name", "bob"]);
    let bob = Creds::from_json(&key["AccessKey"]);
    assert!(bob.ak.starts_with("AKIA"), "{}", bob.ak);

    let me = cli.ok(&bob, &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], user_arn("bob"));
    let users = cli.ok(&bob, &["iam", "list-users"]);
    assert!(
        users["Users"]
            .as_array()
            .expect("users")
            .iter()
            .any(|u| u["UserName"] == "bob"),
        "{users}"
    );
    let msg = cli.fails(
        &bob,
        &["iam", "create-user", "--user-name", "carol"],
        "AccessDenied",
    );
    assert_eq!(
        msg,
        format!(
            "User: {} is not authorized to perform: iam:CreateUser on resource: {} because no identity-based policy allows the iam:CreateUser action",
            user_arn("bob"),
            user_arn("carol")
        )
    );

    // An explicit deny.
    let deny = policy(json!({"Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"}));
    cli.ok(
        &root,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "bob",
            "--policy-name",
            "no-list",
            "--policy-document",
            &deny,
        ],
    );
    let msg = cli.fails(&bob, &["iam", "list-users"], "AccessDenied");
    assert!(
        msg.ends_with("with an explicit deny in an identity-based policy"),
        "{msg}"
    );

    // Errors the CLI shows as AWS's.
    let msg = cli.fails(
        &root,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "bob",
            "--policy-name",
            "bad",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allw","Action":"*","Resource":"*"}]}"#,
        ],
        "MalformedPolicyDocument",
    );
    assert!(msg.contains("$.Statement[0].Effect"), "{msg}");
    cli.fails(
        &root,
        &["iam", "create-user", "--user-name", "bad name!"],
        "ValidationError",
    );
    cli.fails(
        &root,
        &["iam", "get-user", "--user-name", "nobody"],
        "NoSuchEntity",
    );

    // Wrong secret and unknown key.
    let wrong = Creds::new(ROOT_AK, "this-is-not-the-secret-key-0000000000000");
    cli.fails(&wrong, &["sts", "get-caller-identity"], "SignatureDoesNotMatch");
    let unknown = Creds::new("AKIAUNKNOWNKEY000000", ROOT_SK);
    cli.fails(&unknown, &["iam", "list-users"], "InvalidClientTokenId");

    // Deactivated and deleted keys.
    cli.ok(
        &root,
        &[
            "iam",
            "update-access-key",
            "--user-name",
            "bob",
            "--access-key-id",
            &bob.ak,
            "--status",
            "Inactive",
        ],
    );
    cli.fails(&bob, &["sts", "get-caller-identity"], "InvalidClientTokenId");
    cli.ok(
        &root,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "bob",
            "--access-key-id",
            &bob.ak,
        ],
    );
    cli.fails(&bob, &["sts", "get-caller-identity"], "InvalidClientTokenId");
}

#[test]
fn aws_cli_assume_role_same_account() {
    if !tools_available() {
        return;
    }
    let w = World::start("cli-assume");
    let cli = w.cli();
    let root = Creds::root();
    let bob = cli_user(&cli, "bob", None);

    // Trusted: the trust policy names bob.
    cli.ok(
        &root,
        &[
            "iam",
            "create-role",
            "--role-name",
            "reader",
            "--assume-role-policy-document",
            &trust(&user_arn("bob")),
        ],
    );
    cli.ok(
        &root,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "reader",
            "--policy-name",
            "p",
            "--policy-document",
            &allow(&["iam:ListRoles"], "*"),
        ],
    );
    let out = cli.ok(
        &bob,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn("reader"),
            "--role-session-name",
            "cli-session",
        ],
    );
    let session_arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/reader/cli-session");
    assert_eq!(out["AssumedRoleUser"]["Arn"], session_arn);
    let session = Creds::from_json(&out["Credentials"]);
    assert!(session.ak.starts_with("ASIA"), "{}", session.ak);
    let me = cli.ok(&session, &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], session_arn);
    assert_eq!(me["Account"], ACCOUNT);
    cli.ok(&session, &["iam", "list-roles"]);
    let msg = cli.fails(&session, &["iam", "list-users"], "AccessDenied");
    assert!(
        msg.starts_with(&format!(
            "User: {session_arn} is not authorized to perform: iam:ListUsers"
        )),
        "{msg}"
    );

    // Not trusted (the trust policy names another user).
    cli.ok(&root, &["iam", "create-user", "--user-name", "alice"]);
    cli.ok(
        &root,
        &[
            "iam",
            "create-role",
            "--role-name",
            "closed",
            "--assume-role-policy-document",
            &trust(&user_arn("alice")),
        ],
    );
    let msg = cli.fails(
        &bob,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn("closed"),
            "--role-session-name",
            "cli-session",
        ],
        "AccessDenied",
    );
    assert_eq!(
        msg,
        format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            user_arn("bob"),
            role_arn("closed")
        )
    );

    // ExternalId required.
    let with_external_id = policy(json!({
        "Effect": "Allow",
        "Principal": {"AWS": user_arn("bob")},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "cli-ext-42"}}
    }));
    cli.ok(
        &root,
        &[
            "iam",
            "create-role",
            "--role-name",
            "vendor",
            "--assume-role-policy-document",
            &with_external_id,
        ],
    );
    let vendor = role_arn("vendor");
    let base = [
        "sts",
        "assume-role",
        "--role-arn",
        vendor.as_str(),
        "--role-session-name",
        "cli-session",
    ];
    cli.fails(&bob, &base, "AccessDenied");
    cli.fails(
        &bob,
        &[&base[..], &["--external-id", "wrong-id"]].concat(),
        "AccessDenied",
    );
    let out = cli.ok(&bob, &[&base[..], &["--external-id", "cli-ext-42"]].concat());
    let vendor_session = Creds::from_json(&out["Credentials"]);
    let me = cli.ok(&vendor_session, &["sts", "get-caller-identity"]);
    assert_eq!(
        me["Arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/vendor/cli-session")
    );

    // Duration limits.
    cli.fails(
        &bob,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn("reader"),
            "--role-session-name",
            "cli-session",
            "--duration-seconds",
            "7200",
        ],
        "ValidationError",
    );
}

#[test]
fn aws_cli_assume_role_cross_account() {
    if !tools_available() {
        return;
    }
    let w = World::start("cli-cross");
    let cli = w.cli();
    create_other_account(&cli, &w.data_dir());
    let other_root = Creds::other_root();
    let cross = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/cross");
    cli.ok(
        &other_root,
        &[
            "iam",
            "create-role",
            "--role-name",
            "cross",
            "--assume-role-policy-document",
            &trust(&format!("arn:aws:iam::{ACCOUNT}:root")),
        ],
    );
    let only_alice = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/only-alice");
    cli.ok(&Creds::root(), &["iam", "create-user", "--user-name", "alice"]);
    cli.ok(
        &other_root,
        &[
            "iam",
            "create-role",
            "--role-name",
            "only-alice",
            "--assume-role-policy-document",
            &trust(&user_arn("alice")),
        ],
    );

    // Trusted account, but bob's own policies do not allow sts:AssumeRole.
    let bob = cli_user(&cli, "bob", None);
    let msg = cli.fails(
        &bob,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &cross,
            "--role-session-name",
            "xs",
        ],
        "AccessDenied",
    );
    assert!(
        msg.starts_with(&format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {cross}",
            user_arn("bob")
        )),
        "{msg}"
    );
    // With an identity policy: allowed.
    let carol = cli_user(&cli, "carol", Some(&allow(&["sts:AssumeRole"], "*")));
    let out = cli.ok(
        &carol,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &cross,
            "--role-session-name",
            "xs",
        ],
    );
    assert_eq!(
        out["AssumedRoleUser"]["Arn"],
        format!("arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/cross/xs")
    );
    // The trust policy names someone else.
    cli.fails(
        &carol,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &only_alice,
            "--role-session-name",
            "xs",
        ],
        "AccessDenied",
    );
}

#[test]
fn aws_cli_cross_account_session_identity() {
    if !tools_available() {
        return;
    }
    let w = World::start("cli-cross-id");
    let cli = w.cli();
    create_other_account(&cli, &w.data_dir());
    let other_root = Creds::other_root();
    let cross = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/cross");
    cli.ok(
        &other_root,
        &[
            "iam",
            "create-role",
            "--role-name",
            "cross",
            "--assume-role-policy-document",
            &trust(&format!("arn:aws:iam::{ACCOUNT}:root")),
        ],
    );
    cli.ok(
        &other_root,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "cross",
            "--policy-name",
            "p",
            "--policy-document",
            &allow(&["iam:ListRoles"], "*"),
        ],
    );
    let carol = cli_user(&cli, "carol", Some(&allow(&["sts:AssumeRole"], "*")));
    let out = cli.ok(
        &carol,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &cross,
            "--role-session-name",
            "xs",
        ],
    );
    let session = Creds::from_json(&out["Credentials"]);
    let me = cli.ok(&session, &["sts", "get-caller-identity"]);
    assert_eq!(me["Account"], OTHER_ACCOUNT);
    assert_eq!(
        me["Arn"],
        format!("arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/cross/xs")
    );
    let roles = cli.ok(&session, &["iam", "list-roles"]);
    let names: Vec<&str> = roles["Roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r["RoleName"].as_str())
        .collect();
    assert_eq!(names, ["cross"]);
}

#[test]
fn aws_cli_restart_keeps_everything() {
    if !tools_available() {
        return;
    }
    let mut w = World::start("cli-restart");
    let root = Creds::root();
    let (bob, session) = {
        let cli = w.cli();
        let bob = cli_user(&cli, "bob", Some(&allow(&["iam:ListUsers"], "*")));
        cli.ok(
            &root,
            &[
                "iam",
                "create-role",
                "--role-name",
                "r1",
                "--assume-role-policy-document",
                &trust(&user_arn("bob")),
            ],
        );
        let out = cli.ok(
            &bob,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                &role_arn("r1"),
                "--role-session-name",
                "before",
            ],
        );
        (bob, Creds::from_json(&out["Credentials"]))
    };
    // Kill the process and start it again on the same data directory.
    w.server.child.stop();
    w.server = Server::start(&w.data_dir());
    let cli = w.cli();
    let me = cli.ok(&bob, &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], user_arn("bob"));
    cli.ok(&bob, &["iam", "list-users"]);
    cli.fails(&bob, &["iam", "create-user", "--user-name", "x"], "AccessDenied");
    let me = cli.ok(&session, &["sts", "get-caller-identity"]);
    assert_eq!(
        me["Arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/r1/before")
    );
    let role = cli.ok(&root, &["iam", "get-role", "--role-name", "r1"]);
    assert_eq!(role["Role"]["Arn"], role_arn("r1"));
    // The first start's log says what it created; the second start created nothing.
    assert!(
        !w.server.log_text().contains("created account"),
        "{}",
        w.server.log_text()
    );
}

// ---------------------------------------------------------------------------------------
// boto3
// ---------------------------------------------------------------------------------------

fn boto3(phase: &str, endpoint: &str, state: &Path, scratch: &Path) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/boto3_flow.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(phase).arg(endpoint).arg(state);
    client_env(&mut cmd, &Creds::root(), scratch);
    cmd.env("ROOT_ACCESS_KEY_ID", ROOT_AK)
        .env("ROOT_SECRET_ACCESS_KEY", ROOT_SK)
        .env("ACCOUNT_ID", ACCOUNT)
        .env("OTHER_ROOT_ACCESS_KEY_ID", OTHER_AK)
        .env("OTHER_ROOT_SECRET_ACCESS_KEY", OTHER_SK)
        .env("OTHER_ACCOUNT_ID", OTHER_ACCOUNT)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run python3")
}

#[track_caller]
fn assert_boto3_ok(phase: &str, out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("boto3 flow: ok"),
        "boto3 {phase} failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn boto3_users_roles_cross_account_and_restart() {
    if !tools_available() {
        return;
    }
    let mut w = World::start("boto3");
    create_other_account(&w.cli(), &w.data_dir());
    let state = w.dir.path().join("boto3-state.json");
    let out = boto3("setup", &w.server.endpoint(), &state, w.dir.path());
    assert_boto3_ok("setup", &out);

    w.server.child.stop();
    w.server = Server::start(&w.data_dir());
    let out = boto3("verify", &w.server.endpoint(), &state, w.dir.path());
    assert_boto3_ok("verify", &out);
}
