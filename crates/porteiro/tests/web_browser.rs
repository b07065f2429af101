//! The web UI in a real browser: the real `porteiro serve` (the embedded cloud registered as
//! the first account) and `tests/browser/web.test.js` driving it in headless Chromium
//! (playwright-core), in two phases:
//!
//! 1. `setup`: an administrator signs in with the keyboard and creates, through the pages, a
//!    platform user (a bad password shown next to its field first), an account (checked), a
//!    cloud IAM user for that person, and an access group with the session permissions.
//! 2. Between the phases this test creates the role `Admin` in the embedded cloud, trusting the
//!    cloud IAM user's ARN (AWS refuses a trust policy naming a user that does not exist yet).
//! 3. `use`: JIT settings through ⁝ Actions ➔ New with the Information and AWS tabs (a Duration
//!    below 900 shown under Duration), an unmet requirement (no credential) at the JIT form, a
//!    credential whose secret is shown once, a JIT session with its countdown and times in the
//!    browser's time zone (São Paulo), whose gateway credentials ana uses with the `aws` CLI
//!    (`sts get-caller-identity`, `iam list-roles` through the API gateway), a Cloud console
//!    session opened and used through the console gateway (IAM roles, S3), Remote Sessions
//!    filtered and the JIT session dropped (the person's page turns into "You have been
//!    disconnected"; the CLI gets `ExpiredToken`), the audit trail, then the server's clock
//!    moved (the hidden `--test-clock-offset-file`) to seconds before the console session's end:
//!    the countdowns reach the end, the session's page and the console through Porteiro say
//!    "You have been disconnected"; the same in Portuguese with a field error next to Função
//!    and its own expiry, CSRF refusals and sign-out.
//! 4. `audit`: an auditor replays and verifies the recorder's own recordings of what ana did
//!    (the CLI's calls; the console pages), and exports one, from PAM Core ➔ Access Control ➔
//!    Remote Sessions.
//! 5. `tamper`: this test changes one byte of the stored console recording; the auditor's Verify
//!    then says Broken at that event's line.
//! 6. `pt`: the same story in Portuguese for bia: the administrator creates her platform user (a
//!    field error and a conflict in Portuguese), her cloud IAM user and adds her to the access
//!    group; she opens a Cloud console session through Porteiro; the administrator drops it and
//!    the console says "Você foi desconectado"; the auditor replays and verifies the recording.
//!
//! Needs `node` (20 or later), Chromium (`/usr/bin/chromium`, or `CHROMIUM`),
//! `tests/browser/node_modules` (`npm ci` there) and the `aws` CLI (`AWS_CLI`, else on the
//! PATH). Without them the test prints a notice and passes, unless `PORTEIRO_E2E_REQUIRE_TOOLS=1`, when it fails.
//! `PORTEIRO_BROWSER_SCREENSHOTS=docs/screenshots cargo test -p porteiro --test web_browser`
//! also refreshes the screenshots `docs/screenshots/web-*.png`.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::{ACCOUNT, ChildGuard, ROOT_AK, ROOT_SK, TempDir, free_port};

const ADMIN_PASSWORD: &str = "Admin-Password-2026";
/// How long one phase of the browser tests may take.
const NODE_TIMEOUT: Duration = Duration::from_secs(300);

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

/// The `aws` CLI the person runs with the JIT session's gateway credentials (`AWS_CLI`, else
/// `aws` on the PATH), when it runs.
fn aws_cli() -> Option<PathBuf> {
    let aws = std::env::var_os("AWS_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("aws"));
    Command::new(&aws)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .filter(|s| s.success())
        .map(|_| aws)
}

/// Whether node, Chromium, the aws CLI and the npm packages are there; fails the test instead when they
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
    if aws_cli().is_none() {
        missing.push("the aws CLI (`pip install awscli`, or set AWS_CLI)".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    let required = std::env::var("PORTEIRO_E2E_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(!required, "missing {missing} but PORTEIRO_E2E_REQUIRE_TOOLS=1");
    eprintln!("NOTICE: skipping the web browser test: missing {missing}");
    false
}

/// `porteiro serve` on 127.0.0.1, ready once it says where the web UI is.
struct Server {
    child: ChildGuard,
    port: u16,
    cloud_port: u16,
    log: PathBuf,
    /// Its data directory (recordings under `recordings/`).
    data: PathBuf,
    /// The server's test-only clock offset (seconds), which the browser tests move.
    clock_file: PathBuf,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut last_log = String::new();
        for attempt in 0..5 {
            let (port, cloud_port) = (free_port(), free_port());
            let data = dir.join(format!("data-{attempt}"));
            let log = dir.join(format!("serve-{attempt}.log"));
            let clock_file = dir.join(format!("clock-offset-{attempt}"));
            let log_file = std::fs::File::create(&log).expect("server log file");
            let child = Command::new(env!("CARGO_BIN_EXE_porteiro"))
                .args(["serve", "--data-dir"])
                .arg(&data)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--cloud-listen", &format!("127.0.0.1:{cloud_port}")])
                .args(["--gateway-listen", &format!("127.0.0.1:{}", free_port())])
                .arg("--test-clock-offset-file")
                .arg(&clock_file)
                .env("PORTEIRO_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("PORTEIRO_CLOUD_ACCOUNT_ID", ACCOUNT)
                .env("PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID", ROOT_AK)
                .env("PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY", ROOT_SK)
                .env_remove("PORTEIRO_MASTER_KEY")
                .env_remove("PORTEIRO_MASTER_KEY_FILE")
                .env_remove("PORTEIRO_DATA_DIR")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("log file"))
                .stderr(log_file)
                .spawn()
                .expect("start `porteiro serve`");
            let mut server = Server {
                child: ChildGuard(child),
                port,
                cloud_port,
                log,
                data,
                clock_file,
            };
            if server.wait_ready() {
                return server;
            }
            last_log = server.log_text();
            server.child.stop();
        }
        panic!("`porteiro serve` did not start; its last output:\n{last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.0.try_wait() {
                return false;
            }
            if self.log_text().contains("web UI on")
                && self.log_text().contains("clocks follow the offset")
                && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The role `Admin` in the embedded cloud, trusting `user` (created through the UI) for
/// sts:AssumeRole and sts:SetSourceIdentity.
async fn create_role(cloud: &str, user: &str) {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .endpoint_url(cloud)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            ROOT_AK,
            ROOT_SK,
            None,
            None,
            "web-browser",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let iam = aws_sdk_iam::Client::from_conf(conf);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/{user}")},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]});
    iam.create_role()
        .role_name("Admin")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("CreateRole Admin (the cloud IAM user must exist: phase `setup` creates it)");
    let reads = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}]});
    iam.put_role_policy()
        .role_name("Admin")
        .policy_name("reads")
        .policy_document(reads.to_string())
        .send()
        .await
        .expect("PutRolePolicy");
}

/// What `node --test` printed, and the TAP report's counts.
struct NodeRun {
    ok: bool,
    output: String,
    tap: String,
}

impl NodeRun {
    fn count(&self, what: &str) -> Option<u32> {
        self.tap
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {what} ")))
            .and_then(|n| n.trim().parse().ok())
    }
}

fn run_node(phase: &str, envs: &[(&str, String)], scratch: &Path) -> NodeRun {
    let out_path = scratch.join(format!("node-{phase}.txt"));
    let tap_path = scratch.join(format!("node-{phase}.tap"));
    let out = std::fs::File::create(&out_path).expect("node output file");
    let mut cmd = Command::new("node");
    cmd.args([
        "--test",
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
    ])
    .arg("--test-reporter=tap")
    .arg(format!("--test-reporter-destination={}", tap_path.display()))
    .arg("web.test.js")
    .current_dir(browser_dir())
    .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    .env("CHROMIUM", chromium())
    .env("WEB_PHASE", phase)
    .env_remove("WEB_SCREENSHOTS")
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
                    "the browser tests ({phase}) did not finish in {} s:\n{output}",
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

fn check(run: &NodeRun, phase: &str, at_least: u32, server: &Server) {
    assert!(
        run.ok,
        "the browser tests ({phase}) failed:\n{}\n--- server log ---\n{}",
        run.output,
        server.log_text()
    );
    eprintln!("{}", run.output);
    let (pass, fail) = (run.count("pass"), run.count("fail"));
    assert!(
        pass.is_some_and(|n| n >= at_least) && fail == Some(0) && run.count("cancelled") == Some(0),
        "the browser tests ({phase}) did not all run and pass (pass {pass:?}, fail {fail:?}):\n{}\n{}",
        run.output,
        run.tap
    );
}

#[test]
fn the_web_ui_set_up_and_used_in_headless_chromium_in_english_and_portuguese() {
    if !tools_available() {
        return;
    }
    let dir = TempDir::new("web");
    let server = Server::start(dir.path());
    let cloud = format!("http://127.0.0.1:{}", server.cloud_port);
    let mut envs = vec![
        ("WEB_URL", format!("http://127.0.0.1:{}", server.port)),
        ("WEB_CLOUD_URL", cloud.clone()),
        ("WEB_ROOT_AK", ROOT_AK.to_string()),
        ("WEB_ROOT_SK", ROOT_SK.to_string()),
        ("WEB_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        ("WEB_CLOCK_OFFSET_FILE", server.clock_file.display().to_string()),
        (
            "WEB_AWS",
            aws_cli().map(|p| p.display().to_string()).unwrap_or_default(),
        ),
    ];
    if let Some(shots) = std::env::var_os("PORTEIRO_BROWSER_SCREENSHOTS") {
        let shots = PathBuf::from(shots);
        let shots = if shots.is_absolute() {
            shots
        } else {
            repo_root().join(shots)
        };
        envs.push(("WEB_SCREENSHOTS", shots.display().to_string()));
    }
    let setup = run_node("setup", &envs, dir.path());
    check(&setup, "setup", 5, &server);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(create_role(&cloud, "ana"));

    let used = run_node("use", &envs, dir.path());
    check(&used, "use", 10, &server);

    // The audit phase replays and verifies the recorder's own recordings of what ana did.
    let audited = run_node("audit", &envs, dir.path());
    check(&audited, "audit", 1, &server);

    // One byte changed in the stored console recording: the auditor's Verify names that event.
    let line = tamper_with_console_recording(&server.data.join("recordings"));
    envs.push(("WEB_TAMPERED_LINE", line.to_string()));
    let tampered = run_node("tamper", &envs, dir.path());
    check(&tampered, "tamper", 1, &server);

    // The same story in Portuguese, for another person.
    let portuguese = run_node("pt", &envs, dir.path());
    check(&portuguese, "pt", 1, &server);
}

/// Changes one byte of the page ana saw at /console/iam/roles in her console session's stored
/// recording ("IAM roles" becomes "IAM rolez"); returns the line of `events.jsonl` changed.
fn tamper_with_console_recording(recordings: &Path) -> usize {
    let entries = std::fs::read_dir(recordings).expect("the recordings directory");
    for entry in entries {
        let events = entry.expect("a recording").path().join("events.jsonl");
        let Ok(text) = std::fs::read_to_string(&events) else {
            continue;
        };
        if !(text.contains(r#""sessionKind":"console""#) && text.contains(r#""user":"ana""#)) {
            continue;
        }
        let Some((n, line)) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("/console/iam/roles") && l.contains("IAM roles"))
        else {
            continue;
        };
        let changed = line.replacen("IAM roles", "IAM rolez", 1);
        let mut out: Vec<&str> = text.lines().collect();
        out[n] = &changed;
        let mut tampered = out.join("\n");
        tampered.push('\n');
        assert_eq!(tampered.len(), text.len(), "one byte changed, not the length");
        std::fs::write(&events, tampered).expect("rewrite events.jsonl");
        return n + 1;
    }
    panic!(
        "no console recording of ana with the IAM roles page under {}",
        recordings.display()
    );
}
