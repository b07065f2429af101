//! End to end: the real `porteiro serve` binary on free ports, driven through its REST API
//! (a plain HTTP/1.1 client), with the AWS SDK for Rust checking the cloud side.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_iam::error::ProvideErrorMetadata;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";
const ROOT_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const ADMIN_PASSWORD: &str = "admin-password-1";

/// A running `porteiro serve`, killed (and its data directory removed unless `keep`) on drop.
struct Porteiro {
    child: Child,
    api: String,
    cloud: String,
    gateway: String,
    dir: PathBuf,
    keep: bool,
}

impl Drop for Porteiro {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Porteiro {
    fn start() -> Porteiro {
        Porteiro::start_with(&[])
    }

    /// Starts `porteiro serve` with extra arguments (`--database`, `--tls-cert`, …).
    fn start_with(extra: &[&str]) -> Porteiro {
        let dir = std::env::temp_dir().join(format!(
            "porteiro-serve-e2e-{}-{}",
            std::process::id(),
            free_port()
        ));
        let (api_port, cloud_port, gateway_port) = (free_port(), free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_porteiro"))
            .args(["serve", "--data-dir"])
            .arg(&dir)
            .args(["--listen", &format!("127.0.0.1:{api_port}")])
            .args(["--cloud-listen", &format!("127.0.0.1:{cloud_port}")])
            .args(extra)
            .args(["--gateway-listen", &format!("127.0.0.1:{gateway_port}")])
            .env("PORTEIRO_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("PORTEIRO_DATABASE_URL")
            .env("PORTEIRO_CLOUD_ACCOUNT_ID", ACCOUNT)
            .env("PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID", ROOT_AK)
            .env("PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY", ROOT_SK)
            .env_remove("PORTEIRO_MASTER_KEY")
            .env_remove("PORTEIRO_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("porteiro serve starts");
        let p = Porteiro {
            child,
            api: format!("127.0.0.1:{api_port}"),
            cloud: format!("http://127.0.0.1:{cloud_port}"),
            gateway: format!("http://127.0.0.1:{gateway_port}"),
            dir,
            keep: false,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&p.api).is_err() {
            assert!(
                Instant::now() < deadline,
                "porteiro serve did not listen on {}",
                p.api
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    /// One request; returns the status and the JSON body.
    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
        let mut s = TcpStream::connect(&self.api).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let body = body.unwrap_or("");
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "{method} /api/v1{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.api,
            body.len()
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read");
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text.split_once("\r\n\r\n").expect("http response");
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status");
        let value = serde_json::from_str(rest).unwrap_or(Value::Null);
        (status, value)
    }

    fn ok(&self, method: &str, path: &str, token: &str, body: Value) -> Value {
        let b = body.to_string();
        let (status, v) = self.call(method, path, Some(token), (!body.is_null()).then_some(b.as_str()));
        assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
        v
    }

    fn login(&self, username: &str, password: &str) -> String {
        let (status, v) = self.call(
            "POST",
            "/login",
            None,
            Some(&json!({"username": username, "password": password}).to_string()),
        );
        assert_eq!(status, 200, "{v}");
        v["token"].as_str().expect("token").to_string()
    }

    fn iam(&self, ak: &str, sk: &str, token: Option<&str>) -> aws_sdk_iam::Client {
        self.iam_at(&self.cloud, ak, sk, token)
    }

    fn iam_at(&self, endpoint: &str, ak: &str, sk: &str, token: Option<&str>) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                ak,
                sk,
                token.map(str::to_string),
                None,
                "t",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    fn sts(&self, ak: &str, sk: &str, token: Option<&str>) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(&self.gateway)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                ak,
                sk,
                token.map(str::to_string),
                None,
                "t",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }
}

#[test]
fn porteiro_serve_runs_the_access_manager_end_to_end() {
    let p = Porteiro::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // The OpenAPI document needs no token; everything else does.
    let (status, doc) = p.call("GET", "/openapi.json", None, None);
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let (status, v) = p.call("GET", "/accounts", None, None);
    assert_eq!(status, 401, "{v}");
    let (status, _) = p.call(
        "POST",
        "/login",
        None,
        Some(r#"{"username":"admin","password":"wrong-password"}"#),
    );
    assert_eq!(status, 401);

    let admin = p.login("admin", ADMIN_PASSWORD);
    // The embedded cloud is the first account, checked with GetCallerIdentity.
    let accounts = p.ok("GET", "/accounts", &admin, Value::Null);
    assert_eq!(accounts.as_array().map(Vec::len), Some(1), "{accounts}");
    assert_eq!(accounts[0]["status"], "connectable");
    assert_eq!(accounts[0]["aws_account_id"], ACCOUNT);
    let account = accounts[0]["id"].as_str().expect("id").to_string();

    // Ana: a platform user with an e-mail, in a group that may start JIT sessions.
    let ana = p.ok(
        "POST",
        "/users",
        &admin,
        json!({"name": "Ana", "username": "ana", "email": "ana@example.com", "password": "ana-password-1"}),
    );
    p.ok(
        "POST",
        "/groups",
        &admin,
        json!({"name": "engineers", "members": ["ana"], "permissions": ["start_sessions", "start_jit_sessions"]}),
    );
    let cu = p.ok(
        "POST",
        "/cloud-users",
        &admin,
        json!({"account_id": account, "owner": ana["id"]}),
    );
    assert_eq!(cu["status"], "Provisioned", "{cu}");
    let user_arn = cu["arn"].as_str().expect("arn").to_string();
    let cred = p.ok("POST", "/credentials", &admin, json!({"cloud_user_id": cu["id"]}));
    assert!(cred["secret_access_key"].as_str().is_some_and(|s| s.len() >= 16));
    let listed = p.ok("GET", "/credentials", &admin, Value::Null);
    assert!(
        !listed
            .to_string()
            .contains(cred["secret_access_key"].as_str().expect("secret")),
        "shown once only"
    );

    // The role Ana may impersonate, made in the embedded cloud with the root key.
    let root = p.iam(ROOT_AK, ROOT_SK, None);
    rt.block_on(async {
        root.create_role()
            .role_name("Admin")
            .assume_role_policy_document(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}}]}}"#
            ))
            .send()
            .await
            .expect("role");
        root.put_role_policy()
            .role_name("Admin")
            .policy_name("read")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:List*","Resource":"*"}]}"#)
            .send()
            .await
            .expect("role policy");
    });
    // JIT settings: a Duration above the role's MaxSessionDuration is refused, naming the field.
    let (status, v) = p.call(
        "PUT",
        &format!("/jit/{account}"),
        Some(&admin),
        Some(&json!({"active": true, "jit_enabled": true, "duration": 7200, "roles": ["Admin"]}).to_string()),
    );
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["field"], "duration");
    p.ok(
        "PUT",
        &format!("/jit/{account}"),
        &admin,
        json!({"active": true, "description": "embedded", "jit_enabled": true, "duration": 3600, "roles": ["Admin"]}),
    );

    // Ana starts a JIT session; its credentials are the role's, named after her.
    let ana_token = p.login("ana", "ana-password-1");
    let started = p.ok(
        "POST",
        "/sessions",
        &ana_token,
        json!({"kind": "jit", "cloud_user_id": cu["id"], "role": "Admin", "duration": 900}),
    );
    // With the API gateway serving, the STS credentials stay server-side: Ana gets gateway
    // credentials, and the gateway re-signs her calls with the session's STS credentials.
    assert!(started["credentials"].is_null(), "{started}");
    let c = &started["gateway"];
    assert_eq!(c["endpoint"], p.gateway.as_str());
    let (ak, sk) = (
        c["access_key_id"].as_str().expect("ak"),
        c["secret_access_key"].as_str().expect("sk"),
    );
    let session_id = started["session"]["id"].as_str().expect("session id").to_string();
    rt.block_on(async {
        let me = p
            .sts(ak, sk, None)
            .get_caller_identity()
            .send()
            .await
            .expect("caller identity");
        assert_eq!(me.arn(), Some("arn:aws:sts::123456789012:assumed-role/Admin/ana"));
        p.iam_at(&p.gateway, ak, sk, None)
            .list_roles()
            .send()
            .await
            .expect("the session works");
    });
    assert_eq!(
        p.ok("GET", "/sessions", &ana_token, Value::Null)
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Bruno has no e-mail and no group: every missing requirement is named.
    let bruno = p.ok(
        "POST",
        "/users",
        &admin,
        json!({"name": "Bruno", "username": "bruno", "password": "bruno-password-1"}),
    );
    let bcu = p.ok(
        "POST",
        "/cloud-users",
        &admin,
        json!({"account_id": account, "owner": bruno["id"]}),
    );
    let bruno_token = p.login("bruno", "bruno-password-1");
    let (status, v) = p.call(
        "POST",
        "/sessions",
        Some(&bruno_token),
        Some(&json!({"kind": "jit", "cloud_user_id": bcu["id"], "role": "Admin"}).to_string()),
    );
    assert_eq!(status, 422, "{v}");
    let reqs: Vec<String> = v["error"]["requirements"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert!(reqs[0].contains("e-mail"), "{reqs:?}");
    assert!(reqs.iter().any(|r| r.contains("no credential")), "{reqs:?}");
    assert!(
        reqs.iter().any(|r| r.contains("Users can start JIT sessions")),
        "{reqs:?}"
    );
    // Users see only their own sessions; non-admins cannot administer.
    assert_eq!(
        p.ok("GET", "/sessions", &bruno_token, Value::Null)
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let (status, _) = p.call(
        "GET",
        &format!("/sessions/{session_id}"),
        Some(&bruno_token),
        None,
    );
    assert_eq!(status, 404);
    let (status, v) = p.call(
        "POST",
        &format!("/sessions/{session_id}/drop"),
        Some(&bruno_token),
        None,
    );
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Users can drop sessions"),
        "{v}"
    );

    // The admin drops Ana's session: the gateway refuses it at once (the cloud-side
    // revocation is checked in crates/manager/tests/domain.rs).
    let dropped = p.ok(
        "POST",
        &format!("/sessions/{session_id}/drop"),
        &admin,
        Value::Null,
    );
    assert_eq!(dropped["status"], "dropped");
    rt.block_on(async {
        let err = p
            .iam_at(&p.gateway, ak, sk, None)
            .list_roles()
            .send()
            .await
            .expect_err("revoked");
        assert_eq!(err.code(), Some("ExpiredToken"));
    });

    // Bad input: a clear 4xx naming the field, and nothing changed.
    let before = p.ok("GET", "/cloud-users", &admin, Value::Null);
    for (body, field) in [
        (json!({"account_id": account, "owner": "ana", "ttl": 10}), "ttl"),
        (json!({"account_id": account, "owner": "nobody"}), "owner"),
        (json!({"account_id": "a-missing", "owner": "ana"}), "account_id"),
        (
            json!({"account_id": account, "owner": "ana", "name": "x".repeat(65)}),
            "name",
        ),
        (
            json!({"account_id": account, "owner": "ana", "ttl": "soon"}),
            "body",
        ),
        (
            json!({"account_id": account, "owner": "ana", "colour": "red"}),
            "colour",
        ),
        (json!({"owner": "ana"}), "account_id"),
    ] {
        let (status, v) = p.call("POST", "/cloud-users", Some(&admin), Some(&body.to_string()));
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    let (status, _) = p.call("POST", "/cloud-users", Some(&admin), Some(&"x".repeat(100_000)));
    assert_eq!(status, 413);
    let (status, _) = p.call("DELETE", "/cloud-users/cu-missing", Some(&admin), None);
    assert_eq!(status, 404);
    assert_eq!(p.ok("GET", "/cloud-users", &admin, Value::Null), before);
    let (status, _) = p.call(
        "POST",
        "/users",
        Some(&ana_token),
        Some(r#"{"name":"E","username":"eve","password":"eve-password-1"}"#),
    );
    assert_eq!(status, 403);

    // The audit trail: who did what, from where.
    let events = p.ok(
        "GET",
        &format!("/audit?entity_id={session_id}"),
        &admin,
        Value::Null,
    );
    let actions: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"session.start") && actions.contains(&"session.dropped"),
        "{actions:?}"
    );
    assert!(events.to_string().contains("127.0.0.1"));
    assert!(!events.to_string().contains(sk), "no secret in the audit trail");

    // The CLI over the same API: login (password on stdin) into a profile, then commands.
    let config = p.dir.join("profiles.json");
    let cli = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_porteiro"))
            .args(args)
            .env("PORTEIRO_CONFIG", &config)
            .env_remove("PORTEIRO_PASSWORD")
            .env_remove("PORTEIRO_PROFILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("porteiro");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("output")
    };
    let url = format!("http://{}", p.api);
    let out = cli(&["login", "--url", &url, "--username", "ana"], "ana-password-1\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["sessions", "list", "--json"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed[0]["id"], session_id.as_str());
    assert_eq!(listed[0]["status"], "dropped");
    let out = cli(
        &[
            "sessions",
            "start",
            "--cloud-user",
            bcu["id"].as_str().expect("id"),
            "--role",
            "Admin",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not belong to ana"), "{err}");
    let out = cli(
        &["users", "create", "--name", "Eve", "--username", "eve"],
        "eve-password-1\n",
    );
    assert_eq!(out.status.code(), Some(1), "ana is no administrator");
    assert!(String::from_utf8_lossy(&out.stderr).contains("only administrators"));
}

/// Starts `porteiro serve` on `dir` and the given ports without an admin password in the
/// environment; returns it and its stdout lines up to the API line.
fn start_printing(dir: &std::path::Path, api_port: u16, cloud_port: u16) -> (Porteiro, Vec<String>) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_porteiro"))
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{api_port}")])
        .args(["--cloud-listen", &format!("127.0.0.1:{cloud_port}")])
        .args(["--gateway-listen", "127.0.0.1:0"])
        .env_remove("PORTEIRO_ADMIN_PASSWORD")
        .env_remove("PORTEIRO_MASTER_KEY")
        .env_remove("PORTEIRO_DATA_DIR")
        .env_remove("PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID")
        .env_remove("PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("porteiro serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let p = Porteiro {
        child,
        api: format!("127.0.0.1:{api_port}"),
        cloud: format!("http://127.0.0.1:{cloud_port}"),
        gateway: String::new(),
        dir: dir.to_path_buf(),
        keep: true,
    };
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let done = line.contains("access manager API on");
        lines.push(line);
        if done {
            break;
        }
    }
    (p, lines)
}

#[test]
fn porteiro_serve_prints_the_admin_password_once_and_keeps_its_state_across_restarts() {
    let dir = std::env::temp_dir().join(format!(
        "porteiro-serve-restart-{}-{}",
        std::process::id(),
        free_port()
    ));
    let (api_port, cloud_port) = (free_port(), free_port());
    let (p, lines) = start_printing(&dir, api_port, cloud_port);
    let text = lines.join("\n");
    let password = text
        .split("with password ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("no password printed: {text}"))
        .to_string();
    assert!(
        text.contains("registered the embedded cloud as account embedded"),
        "{text}"
    );
    let admin = p.login("admin", &password);
    let accounts = p.ok("GET", "/accounts", &admin, Value::Null);
    let account = accounts[0]["id"].as_str().expect("id").to_string();
    p.ok(
        "POST",
        "/users",
        &admin,
        json!({"name": "Ana", "username": "ana", "email": "a@example.com", "password": "ana-password-1"}),
    );
    drop(p);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("master.key"))
            .expect("master key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(&dir).expect("data dir").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    let (p, lines) = start_printing(&dir, api_port, cloud_port);
    let text = lines.join("\n");
    assert!(!text.contains("created administrator"), "{text}");
    assert!(!text.contains("registered"), "{text}");
    let admin = p.login("admin", &password);
    assert_eq!(
        p.ok("GET", "/accounts", &admin, Value::Null)
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // The vaulted management key still opens: a cloud user is created after the restart.
    let cu = p.ok(
        "POST",
        "/cloud-users",
        &admin,
        json!({"account_id": account, "owner": "ana"}),
    );
    assert_eq!(cu["status"], "Provisioned", "{cu}");
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

#[path = "../../manager/tests/pg/mod.rs"]
mod pg;

/// Runs the CLI with a profile file; `stdin` is written to it.
fn cli(config: &std::path::Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_porteiro"))
        .args(args)
        .env("PORTEIRO_CONFIG", config)
        .env_remove("PORTEIRO_PASSWORD")
        .env_remove("PORTEIRO_PROFILE")
        .env_remove("PORTEIRO_CA_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("porteiro");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("output")
}

fn json_out(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn porteiro_serve_over_postgresql_runs_the_domain_flow_and_pages_its_lists() {
    let Some(pg) = pg::PgCluster::start() else { return };
    let url = pg.database("serve");
    let p = Porteiro::start_with(&["--database", &url]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let admin = p.login("admin", ADMIN_PASSWORD);
    let accounts = p.ok("GET", "/accounts", &admin, Value::Null);
    assert_eq!(accounts[0]["status"], "connectable", "{accounts}");
    let account = accounts[0]["id"].as_str().expect("id").to_string();

    // The domain flow: a user, her cloud IAM user and credential, a role, JIT settings, a JIT
    // session whose credentials work.
    let ana = p.ok(
        "POST",
        "/users",
        &admin,
        json!({"name": "Ana", "username": "ana", "email": "ana@example.com", "password": "ana-password-1"}),
    );
    p.ok(
        "POST",
        "/groups",
        &admin,
        json!({"name": "engineers", "members": ["ana"], "permissions": ["start_jit_sessions"]}),
    );
    let cu = p.ok(
        "POST",
        "/cloud-users",
        &admin,
        json!({"account_id": account, "owner": ana["id"]}),
    );
    assert_eq!(cu["status"], "Provisioned", "{cu}");
    let user_arn = cu["arn"].as_str().expect("arn").to_string();
    p.ok("POST", "/credentials", &admin, json!({"cloud_user_id": cu["id"]}));
    rt.block_on(async {
        p.iam(ROOT_AK, ROOT_SK, None)
            .create_role()
            .role_name("Admin")
            .assume_role_policy_document(format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}}]}}"#
            ))
            .send()
            .await
            .expect("role");
    });
    p.ok(
        "PUT",
        &format!("/jit/{account}"),
        &admin,
        json!({"active": true, "jit_enabled": true, "duration": 3600, "roles": ["Admin"]}),
    );
    let ana_token = p.login("ana", "ana-password-1");
    let started = p.ok(
        "POST",
        "/sessions",
        &ana_token,
        json!({"kind": "jit", "cloud_user_id": cu["id"], "role": "Admin", "duration": 900}),
    );
    // The session's calls go through the API gateway with its gateway credentials.
    let c = &started["gateway"];
    rt.block_on(async {
        let me = p
            .sts(
                c["access_key_id"].as_str().expect("ak"),
                c["secret_access_key"].as_str().expect("sk"),
                None,
            )
            .get_caller_identity()
            .send()
            .await
            .expect("caller identity");
        assert_eq!(me.arn(), Some("arn:aws:sts::123456789012:assumed-role/Admin/ana"));
    });
    // The state is in PostgreSQL, not in a SQLite file.
    assert_eq!(
        pg.psql("serve", "SELECT count(*) FROM documents WHERE kind = 'session'"),
        "1"
    );
    assert!(!p.dir.join("manager.sqlite3").exists());

    // Pages: the CLI asks for one page, or follows the cursors to the end.
    for name in ["bruno", "carla", "davi"] {
        p.ok(
            "POST",
            "/users",
            &admin,
            json!({"name": name, "username": name, "password": format!("{name}-password-1")}),
        );
    }
    let config = p.dir.join("profiles.json");
    let out = cli(
        &config,
        &[
            "login",
            "--url",
            &format!("http://{}", p.api),
            "--username",
            "admin",
        ],
        &format!("{ADMIN_PASSWORD}\n"),
        &[],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = json_out(&cli(
        &config,
        &["users", "list", "--limit", "2", "--json"],
        "",
        &[],
    ));
    assert_eq!(page.as_array().map(Vec::len), Some(2), "{page}");
    let all = json_out(&cli(
        &config,
        &["users", "list", "--all", "--limit", "2", "--json"],
        "",
        &[],
    ));
    let ids: Vec<&str> = all
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 5, "admin, ana, bruno, carla, davi: {all}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "by id, each once: {ids:?}");
    assert_eq!(page[0]["id"], ids[0]);
    let events = p.ok("GET", "/audit", &admin, Value::Null);
    let paged = json_out(&cli(
        &config,
        &["audit", "--all", "--limit", "3", "--json"],
        "",
        &[],
    ));
    assert_eq!(paged, events, "the audit trail page by page is the whole trail");
    // Bad paging input is a 400 naming the parameter.
    let (status, v) = p.call("GET", "/users?next=bm90LWEtY3Vyc29y", Some(&admin), None);
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["field"], "next");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cursor")),
        "{v}"
    );
    let (status, v) = p.call("GET", "/jobs?limit=1001", Some(&admin), None);
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["field"], "limit");
}

#[test]
fn porteiro_serve_speaks_tls_with_the_given_certificate() {
    let dir = std::env::temp_dir().join(format!("porteiro-tls-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).expect("cert");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());

    // Bad files: a clear error, and no server.
    let serve_fails = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_porteiro"))
            .args(["serve", "--data-dir"])
            .arg(dir.join("bad"))
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .args(args)
            .env_remove("PORTEIRO_DATABASE_URL")
            .env_remove("PORTEIRO_MASTER_KEY")
            .output()
            .expect("porteiro serve");
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let missing = dir.join("missing.pem").display().to_string();
    let err = serve_fails(&["--tls-cert", &missing, "--tls-key", &key_s]);
    assert!(
        err.contains("cannot use the TLS certificate") && err.contains(&missing),
        "{err}"
    );
    let err = serve_fails(&["--tls-cert", &key_s, "--tls-key", &key_s]);
    assert!(err.contains("no PEM certificate"), "{err}");
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("cert");
    let other_key = dir.join("other-key.pem");
    std::fs::write(&other_key, other.signing_key.serialize_pem()).expect("write key");
    let err = serve_fails(&[
        "--tls-cert",
        &cert_s,
        "--tls-key",
        &other_key.display().to_string(),
    ]);
    assert!(err.contains("not usable together"), "{err}");

    let p = Porteiro::start_with(&["--tls-cert", &cert_s, "--tls-key", &key_s]);
    let url = format!("https://{}", p.api);
    let config = dir.join("profiles.json");
    // The system's roots do not know a self-signed certificate: the error says what to do.
    let out = cli(
        &config,
        &["login", "--url", &url, "--username", "admin"],
        &format!("{ADMIN_PASSWORD}\n"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS with") && err.contains("--ca-file"), "{err}");
    // --ca-file trusts it; the profile keeps it for later commands.
    let out = cli(
        &config,
        &[
            "login",
            "--url",
            &url,
            "--username",
            "admin",
            "--ca-file",
            &cert_s,
        ],
        &format!("{ADMIN_PASSWORD}\n"),
        &[],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let users = json_out(&cli(&config, &["users", "list", "--json"], "", &[]));
    assert_eq!(users[0]["username"], "admin", "{users}");
    // PORTEIRO_CA_FILE does the same.
    let out = cli(
        &config,
        &["login", "--profile", "env", "--url", &url, "--username", "admin"],
        &format!("{ADMIN_PASSWORD}\n"),
        &[("PORTEIRO_CA_FILE", &cert_s)],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let accounts = json_out(&cli(
        &config,
        &["accounts", "list", "--profile", "env", "--json"],
        "",
        &[],
    ));
    assert_eq!(accounts[0]["name"], "embedded", "{accounts}");
    // Plain HTTP to the TLS listener gets no API answer.
    let mut plain = TcpStream::connect(&p.api).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    plain
        .write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(!raw.starts_with(b"HTTP/1.1 200"), "plain HTTP answered");
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}
