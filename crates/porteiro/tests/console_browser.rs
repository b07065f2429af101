//! The embedded cloud's console in a real browser: the real `porteiro cloud serve`, prepared
//! through the API with the AWS SDK for Rust, and `tests/browser/console.test.js` driving its
//! console in headless Chromium (playwright-core): password sign-in with the keyboard, who am I
//! and the countdown, an allowed page and a denied action with the API's message, a password
//! that must be changed, sign-out, a federation login URL, and expiry (the server's hidden,
//! test-only `--test-clock-offset-file` moves the cloud's clock).
//!
//! Needs `node` (20 or later), Chromium (`/usr/bin/chromium`, or `CHROMIUM`) and
//! `tests/browser/node_modules` (`npm ci` there). Without them the test prints a notice and
//! passes, unless `PORTEIRO_E2E_REQUIRE_TOOLS=1`, when it fails.
//! `PORTEIRO_BROWSER_SCREENSHOTS=DIR` (relative to the repository) also writes screenshots of
//! the main pages there: `PORTEIRO_BROWSER_SCREENSHOTS=docs/screenshots cargo test -p porteiro
//! --test console_browser`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_iam::error::ProvideErrorMetadata;
use serde_json::{Value, json};

mod common;
use common::{ACCOUNT, ChildGuard, ROOT_AK, ROOT_SK, TempDir, free_port};

const PASSWORD: &str = "Correct-Horse-9";
const NEW_PASSWORD: &str = "Battery-Staple-42";
const ROLE: &str = "ConsoleReader";
/// How long the browser tests may take before they are stopped.
const NODE_TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn browser_dir() -> PathBuf {
    repo_root().join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Whether node, Chromium and the npm packages are there; fails the test instead when they
/// are required.
fn tools_available() -> bool {
    let node_major = Command::new("node")
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
        });
    let mut missing = Vec::new();
    if node_major.is_none_or(|m| m < 20) {
        missing.push("node 20 or later (`apt-get install nodejs`)".to_string());
    }
    if !chromium().is_file() {
        missing.push(format!(
            "Chromium at {} (`apt-get install chromium`, or set CHROMIUM)",
            chromium().display()
        ));
    }
    if !browser_dir()
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        missing.push("playwright-core (`npm ci` in tests/browser)".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    let required = std::env::var("PORTEIRO_E2E_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(!required, "missing {missing} but PORTEIRO_E2E_REQUIRE_TOOLS=1");
    eprintln!("NOTICE: skipping the console browser test: missing {missing}");
    false
}

/// `porteiro cloud serve` on 127.0.0.1 with a data directory and a test clock file.
struct Server {
    child: ChildGuard,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts the server on a free port (retrying when another process takes the port
    /// between choosing it and binding it) and waits until it accepts connections.
    fn start(data_dir: &Path, clock_file: &Path) -> Server {
        let mut last_log = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let log = data_dir.with_extension(format!("serve-{port}-{attempt}.log"));
            let log_file = std::fs::File::create(&log).expect("server log file");
            let child = Command::new(env!("CARGO_BIN_EXE_porteiro"))
                .args([
                    "cloud",
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--data-dir",
                ])
                .arg(data_dir)
                .args([
                    "--account-id",
                    ACCOUNT,
                    "--root-access-key-id",
                    ROOT_AK,
                    "--root-secret-access-key",
                    ROOT_SK,
                    "--test-clock-offset-file",
                ])
                .arg(clock_file)
                .env_remove("PORTEIRO_CLOUD_DATA_DIR")
                .env_remove("PORTEIRO_CLOUD_ACCOUNT_ID")
                .env_remove("PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID")
                .env_remove("PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY")
                .env_remove("PORTEIRO_CLOUD_TEST_CLOCK_OFFSET_FILE")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("log file"))
                .stderr(log_file)
                .spawn()
                .expect("start `porteiro cloud serve`");
            let mut server = Server {
                child: ChildGuard(child),
                port,
                log,
            };
            if server.wait_ready() {
                return server;
            }
            last_log = server.log_text();
            server.child.stop();
        }
        panic!("`porteiro cloud serve` did not start; its last output:\n{last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while Instant::now() < deadline {
            if let Ok(Some(_status)) = self.child.0.try_wait() {
                return false;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Credentials to call the cloud with.
#[derive(Debug, Clone)]
struct Creds {
    ak: String,
    sk: String,
    token: Option<String>,
}

impl Creds {
    fn root() -> Creds {
        Creds {
            ak: ROOT_AK.into(),
            sk: ROOT_SK.into(),
            token: None,
        }
    }
}

fn iam(endpoint: &str, c: &Creds) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            &c.ak,
            &c.sk,
            c.token.clone(),
            None,
            "console-browser",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

fn sts(endpoint: &str, c: &Creds) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            &c.ak,
            &c.sk,
            c.token.clone(),
            None,
            "console-browser",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

fn policy(actions: &[&str], resource: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})
        .to_string()
}

fn trust(principal_arn: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}]})
        .to_string()
}

/// RFC 3986 percent-encoding (unreserved characters kept).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain HTTP/1.1 GET to the server: (status, body).
fn http_get(port: u16, path_and_query: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the cloud");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    write!(
        stream,
        "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// What the browser tests get: users, role, the denied message and the federation URL.
struct Prepared {
    denied_message: String,
    role_session_arn: String,
    federation_url: String,
}

/// Through the API, as root: `reader` (password; iam:List*, iam:Get*; an access key to learn
/// the API's denial), `resetme` (password that must be changed), `broker` (may assume the
/// role), the role `ConsoleReader` trusted by `broker`, its temporary credentials, and a
/// federation login URL for them with a 15-minute console session.
async fn prepare(endpoint: &str, port: u16) -> Prepared {
    let root = iam(endpoint, &Creds::root());
    let reads = policy(&["iam:List*", "iam:Get*"], "*");
    for (name, doc, reset) in [
        ("reader", Some(reads.as_str()), false),
        ("resetme", None, true),
        ("broker", None, false),
    ] {
        root.create_user()
            .user_name(name)
            .send()
            .await
            .expect("CreateUser");
        if let Some(doc) = doc {
            root.put_user_policy()
                .user_name(name)
                .policy_name("console-reads")
                .policy_document(doc)
                .send()
                .await
                .expect("PutUserPolicy");
        }
        if name != "broker" {
            root.create_login_profile()
                .user_name(name)
                .password(PASSWORD)
                .password_reset_required(reset)
                .send()
                .await
                .expect("CreateLoginProfile");
        }
    }
    root.put_user_policy()
        .user_name("broker")
        .policy_name("broker")
        .policy_document(policy(&["sts:AssumeRole"], "*"))
        .send()
        .await
        .expect("PutUserPolicy broker");

    let key_of = |out: aws_sdk_iam::operation::create_access_key::CreateAccessKeyOutput| {
        let k = out.access_key().expect("AccessKey");
        Creds {
            ak: k.access_key_id().into(),
            sk: k.secret_access_key().into(),
            token: None,
        }
    };
    // The API's own answer to `reader` creating a user: the console must show it word for word.
    let reader = key_of(
        root.create_access_key()
            .user_name("reader")
            .send()
            .await
            .expect("CreateAccessKey reader"),
    );
    let denied = iam(endpoint, &reader)
        .create_user()
        .user_name("intruder")
        .send()
        .await
        .expect_err("reader may not create users");
    assert_eq!(denied.code(), Some("AccessDenied"), "{denied:?}");
    let denied_message = denied.message().expect("a message").to_string();
    assert!(denied_message.contains("iam:CreateUser"), "{denied_message}");

    let role = root
        .create_role()
        .role_name(ROLE)
        .assume_role_policy_document(trust(&format!("arn:aws:iam::{ACCOUNT}:user/broker")))
        .description("Read-only console access for the browser tests")
        .send()
        .await
        .expect("CreateRole");
    let role_arn = role.role().expect("Role").arn().to_string();
    root.put_role_policy()
        .role_name(ROLE)
        .policy_name("console-reads")
        .policy_document(&reads)
        .send()
        .await
        .expect("PutRolePolicy");

    let broker = key_of(
        root.create_access_key()
            .user_name("broker")
            .send()
            .await
            .expect("CreateAccessKey broker"),
    );
    let assumed = sts(endpoint, &broker)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("alice")
        .send()
        .await
        .expect("AssumeRole");
    let role_session_arn = assumed
        .assumed_role_user()
        .expect("AssumedRoleUser")
        .arn()
        .to_string();
    let c = assumed.credentials().expect("Credentials");
    let session = json!({
        "sessionId": c.access_key_id(),
        "sessionKey": c.secret_access_key(),
        "sessionToken": c.session_token(),
    })
    .to_string();

    let (status, body) = http_get(
        port,
        &format!(
            "/federation?Action=getSigninToken&SessionDuration=900&Session={}",
            enc(&session)
        ),
    );
    assert_eq!(status, 200, "getSigninToken: {body}");
    let token: Value = serde_json::from_str(&body).expect("getSigninToken JSON");
    let token = token["SigninToken"].as_str().expect("SigninToken");
    let federation_url = format!(
        "{endpoint}/federation?Action=login&Issuer={}&Destination={}&SigninToken={}",
        enc("https://broker.example/"),
        enc("/console/"),
        enc(token)
    );
    Prepared {
        denied_message,
        role_session_arn,
        federation_url,
    }
}

/// What `node --test` printed: the spec report for people and the TAP report's counts.
struct NodeRun {
    ok: bool,
    output: String,
    tap: String,
}

impl NodeRun {
    /// A count from the TAP report's summary (`# pass 9`).
    fn count(&self, what: &str) -> Option<u32> {
        self.tap
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {what} ")))
            .and_then(|n| n.trim().parse().ok())
    }
}

/// Runs `node --test` on the browser tests with a time limit.
fn run_node(envs: &[(&str, String)], scratch: &Path) -> NodeRun {
    let out_path = scratch.join("node-output.txt");
    let tap_path = scratch.join("node-tap.txt");
    let out = std::fs::File::create(&out_path).expect("node output file");
    let mut cmd = Command::new("node");
    cmd.args([
        "--test",
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
    ])
    .arg("--test-reporter=tap")
    .arg(format!("--test-reporter-destination={}", tap_path.display()))
    .arg("console.test.js")
    .current_dir(browser_dir())
    .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    .env("CHROMIUM", chromium())
    .env_remove("CONSOLE_SCREENSHOTS")
    .stdin(Stdio::null())
    .stdout(out.try_clone().expect("node output file"))
    .stderr(out);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = ChildGuard(cmd.spawn().expect("start node"));
    let deadline = Instant::now() + NODE_TIMEOUT;
    let ok = loop {
        match child.0.try_wait().expect("wait for node") {
            Some(status) => break status.success(),
            None if Instant::now() > deadline => {
                child.stop();
                let output = std::fs::read_to_string(&out_path).unwrap_or_default();
                panic!(
                    "the browser tests did not finish in {} s:\n{output}",
                    NODE_TIMEOUT.as_secs()
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    NodeRun {
        ok,
        output: std::fs::read_to_string(&out_path).unwrap_or_default(),
        tap: std::fs::read_to_string(&tap_path).unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------

#[test]
fn console_sign_in_use_and_expiry_in_headless_chromium() {
    if !tools_available() {
        return;
    }
    let dir = TempDir::new("console");
    let clock_file = dir.path().join("clock-offset");
    let server = Server::start(&dir.path().join("data"), &clock_file);
    let endpoint = server.endpoint();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let prepared = rt.block_on(prepare(&endpoint, server.port));

    let mut envs = vec![
        ("CONSOLE_URL", endpoint.clone()),
        ("CONSOLE_ACCOUNT", ACCOUNT.to_string()),
        ("CONSOLE_USER", "reader".to_string()),
        ("CONSOLE_PASSWORD", PASSWORD.to_string()),
        ("CONSOLE_DENIED_USER", "intruder".to_string()),
        ("CONSOLE_DENIED_MESSAGE", prepared.denied_message.clone()),
        ("CONSOLE_RESET_USER", "resetme".to_string()),
        ("CONSOLE_RESET_PASSWORD", PASSWORD.to_string()),
        ("CONSOLE_NEW_PASSWORD", NEW_PASSWORD.to_string()),
        ("CONSOLE_FEDERATION_URL", prepared.federation_url.clone()),
        ("CONSOLE_ROLE", ROLE.to_string()),
        ("CONSOLE_ROLE_SESSION_ARN", prepared.role_session_arn.clone()),
        ("CONSOLE_CLOCK_OFFSET_FILE", clock_file.display().to_string()),
    ];
    if let Some(shots) = std::env::var_os("PORTEIRO_BROWSER_SCREENSHOTS") {
        let shots = PathBuf::from(shots);
        let shots = if shots.is_absolute() {
            shots
        } else {
            repo_root().join(shots)
        };
        envs.push(("CONSOLE_SCREENSHOTS", shots.display().to_string()));
    }
    let run = run_node(&envs, dir.path());
    assert!(
        run.ok,
        "the browser tests failed:\n{}\n--- server log ---\n{}",
        run.output,
        server.log_text()
    );
    eprintln!("{}", run.output);
    let (pass, fail) = (run.count("pass"), run.count("fail"));
    assert!(
        pass.is_some_and(|n| n >= 9) && fail == Some(0) && run.count("cancelled") == Some(0),
        "the browser tests did not all run and pass (pass {pass:?}, fail {fail:?}):\n{}\n{}",
        run.output,
        run.tap
    );
}
