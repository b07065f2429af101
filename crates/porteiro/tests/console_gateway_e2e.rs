//! End to end: console sessions through Porteiro's console gateway, with the real
//! `porteiro serve` binary on free ports. A Cloud console session and a JIT console session
//! are opened through one-time launch URLs; pages of the embedded cloud's console are fetched
//! and a form is posted through `/sessions/ID/…`; nothing the browser receives holds a cloud
//! password, secret key, session token, sign-in token or cloud cookie; another user cannot
//! use the session; a drop disconnects within a second and signs the cloud console out; the
//! recordings verify and replay with `porteiro recordings`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::Answer;

const ACCOUNT: &str = "123456789012";
const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";
const ROOT_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const ADMIN_PASSWORD: &str = "admin-password-1";

struct Porteiro {
    child: Child,
    api: String,
    cloud: String,
    dir: PathBuf,
}

impl Drop for Porteiro {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
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

    /// `porteiro serve` with more arguments (`--test-clock-offset-file FILE`).
    fn start_with(extra: &[&std::ffi::OsStr]) -> Porteiro {
        let dir = std::env::temp_dir().join(format!(
            "porteiro-console-gw-e2e-{}-{}",
            std::process::id(),
            free_port()
        ));
        let (api_port, cloud_port) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_porteiro"))
            .args(["serve", "--data-dir"])
            .arg(&dir)
            .args(["--listen", &format!("127.0.0.1:{api_port}")])
            .args(["--cloud-listen", &format!("127.0.0.1:{cloud_port}")])
            .args(["--gateway-listen", &format!("127.0.0.1:{}", free_port())])
            .args(extra)
            .env("PORTEIRO_ADMIN_PASSWORD", ADMIN_PASSWORD)
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
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
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

    /// One HTTP/1.1 request to Porteiro's listener.
    fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        common::http(&self.api, method, path, headers, body)
    }

    fn api(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = auth.as_deref() {
            headers.push(("Authorization", a));
        }
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.http(method, &format!("/api/v1{path}"), &headers, &body)
    }

    fn ok(&self, method: &str, path: &str, token: &str, body: Value) -> Value {
        let a = self.api(method, path, Some(token), body);
        assert!(
            (200..300).contains(&a.status),
            "{method} {path}: {} {}",
            a.status,
            a.body
        );
        a.json()
    }

    fn login(&self, username: &str, password: &str) -> String {
        let a = self.api(
            "POST",
            "/login",
            None,
            json!({"username": username, "password": password}),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["token"].as_str().expect("token").to_string()
    }

    /// An IAM call to the embedded cloud with its root key (the AWS SDK for Rust): what the
    /// test prepares in the cloud, and what it checks there.
    fn cloud_iam(&self, params: &[(&str, &str)]) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(&self.cloud)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                ROOT_AK, ROOT_SK, None, None, "t",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        let iam = aws_sdk_iam::Client::from_conf(conf);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        rt.block_on(async {
            match get("Action").as_str() {
                "CreateRole" => {
                    iam.create_role()
                        .role_name(get("RoleName"))
                        .assume_role_policy_document(get("AssumeRolePolicyDocument"))
                        .send()
                        .await
                        .expect("CreateRole");
                    String::new()
                }
                "PutRolePolicy" => {
                    iam.put_role_policy()
                        .role_name(get("RoleName"))
                        .policy_name(get("PolicyName"))
                        .policy_document(get("PolicyDocument"))
                        .send()
                        .await
                        .expect("PutRolePolicy");
                    String::new()
                }
                "PutUserPolicy" => {
                    iam.put_user_policy()
                        .user_name(get("UserName"))
                        .policy_name(get("PolicyName"))
                        .policy_document(get("PolicyDocument"))
                        .send()
                        .await
                        .expect("PutUserPolicy");
                    String::new()
                }
                "CreateLoginProfile" => {
                    iam.create_user().user_name(get("UserName")).send().await.expect("CreateUser");
                    iam.create_login_profile()
                        .user_name(get("UserName"))
                        .password(get("Password"))
                        .send()
                        .await
                        .expect("CreateLoginProfile");
                    iam.put_user_policy()
                        .user_name(get("UserName"))
                        .policy_name("read")
                        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:List*","iam:Get*"],"Resource":"*"}]}"#)
                        .send()
                        .await
                        .expect("PutUserPolicy");
                    String::new()
                }
                "GetUser" => match iam.get_user().user_name(get("UserName")).send().await {
                    Ok(u) => u.user().map(|u| u.arn().to_string()).unwrap_or_default(),
                    Err(_) => String::new(),
                },
                other => panic!("no such action in this test: {other}"),
            }
        })
    }

    /// The embedded cloud's console sessions, counted in its database.
    fn cloud_console_sessions(&self) -> i64 {
        let db = rusqlite::Connection::open(self.dir.join("cloud").join("cloud.sqlite3"))
            .expect("the cloud's database");
        db.query_row(
            "SELECT count(*) FROM entities WHERE kind = 'console_session'",
            [],
            |r| r.get(0),
        )
        .expect("count")
    }

    fn recordings(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_porteiro"))
            .arg("recordings")
            .args(args)
            .arg("--data-dir")
            .arg(&self.dir)
            .output()
            .expect("porteiro recordings runs");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

/// A browser: Porteiro's cookies for one session, and everything it ever received.
struct Browser<'a> {
    p: &'a Porteiro,
    cookie: Option<String>,
    seen: String,
}

impl<'a> Browser<'a> {
    fn new(p: &'a Porteiro) -> Browser<'a> {
        Browser {
            p,
            cookie: None,
            seen: String::new(),
        }
    }

    fn request(&mut self, method: &str, path: &str, form: Option<&str>) -> Answer {
        let cookie = self.cookie.clone().map(|c| format!("porteiro_session={c}"));
        let origin = format!("http://{}", self.p.api);
        let mut headers: Vec<(&str, &str)> = vec![("Accept", "text/html"), ("User-Agent", "porteiro-e2e")];
        if let Some(c) = cookie.as_deref() {
            headers.push(("Cookie", c));
        }
        if form.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
            headers.push(("Origin", &origin));
        }
        let a = self.p.http(method, path, &headers, form.unwrap_or(""));
        self.seen.push_str(&a.everything());
        self.seen.push('\n');
        for (k, v) in &a.headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let (name, rest) = v.split_once('=').expect("a cookie");
                assert_eq!(
                    name, "porteiro_session",
                    "only Porteiro's cookie reaches the browser: {v}"
                );
                let value = rest.split(';').next().unwrap_or("");
                self.cookie = (!value.is_empty()).then(|| value.to_string());
            }
        }
        a
    }

    fn get(&mut self, path: &str) -> Answer {
        self.request("GET", path, None)
    }
}

/// The `csrf` hidden field of the first form posting to `action`.
fn csrf_of(page: &str, action: &str) -> String {
    let at = page
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("a form to {action} in {page}"));
    let rest = &page[at..];
    let v = rest.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    rest[v..v + rest[v..].find('"').expect("end")].to_string()
}

fn launch(p: &Porteiro, token: &str, session: &str) -> String {
    let a = p.api(
        "POST",
        &format!("/sessions/{session}/launch"),
        Some(token),
        Value::Null,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let v = a.json();
    let path = v["path"].as_str().expect("launch path").to_string();
    assert!(
        path.starts_with(&format!("/sessions/{session}/launch?token=")),
        "{path}"
    );
    path
}

/// What every test starts from: `porteiro serve`, an administrator, Ana (a cloud IAM user with
/// a password, an access key, IAM read and CreateUser; a role `Reader` she may assume, in the
/// JIT settings) and Bruno, both allowed to start sessions.
struct World {
    p: Porteiro,
    admin: String,
    ana_token: String,
    bruno_token: String,
    cu: Value,
    cu_name: String,
    user_arn: String,
}

fn world() -> World {
    world_with(Porteiro::start())
}

fn world_with(p: Porteiro) -> World {
    let admin = p.login("admin", ADMIN_PASSWORD);
    let account = p.ok("GET", "/accounts", &admin, Value::Null)[0]["id"]
        .as_str()
        .expect("account")
        .to_string();
    let ana = p.ok(
        "POST",
        "/users",
        &admin,
        json!({"name": "Ana", "username": "ana", "email": "ana@example.com", "password": "ana-password-1"}),
    );
    p.ok(
        "POST",
        "/users",
        &admin,
        json!({"name": "Bruno", "username": "bruno", "email": "bruno@example.com", "password": "bruno-password-1"}),
    );
    p.ok(
        "POST",
        "/groups",
        &admin,
        json!({"name": "engineers", "members": ["ana", "bruno"], "permissions": ["start_sessions", "start_jit_sessions"]}),
    );
    let mut cu = p.ok(
        "POST",
        "/cloud-users",
        &admin,
        json!({"account_id": account, "owner": ana["id"]}),
    );
    // Provisioning runs as a job: at once, or by the scheduler when it got there first.
    let deadline = Instant::now() + Duration::from_secs(30);
    while cu["status"] != "Provisioned" {
        assert!(Instant::now() < deadline, "not provisioned: {cu}");
        std::thread::sleep(Duration::from_millis(100));
        cu = p.ok(
            "GET",
            &format!("/cloud-users/{}", cu["id"].as_str().expect("id")),
            &admin,
            Value::Null,
        );
    }
    let cu_name = cu["name"].as_str().expect("name").to_string();
    let user_arn = cu["arn"].as_str().expect("arn").to_string();
    p.ok("POST", "/credentials", &admin, json!({"cloud_user_id": cu["id"]}));
    // Ana's IAM user may read IAM and create users (the console's form).
    p.cloud_iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", &cu_name),
        ("PolicyName", "console"),
        (
            "PolicyDocument",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:List*","iam:Get*","iam:CreateUser"],"Resource":"*"}]}"#,
        ),
    ]);
    p.cloud_iam(&[
        ("Action", "CreateRole"),
        ("RoleName", "Reader"),
        (
            "AssumeRolePolicyDocument",
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}}]}}"#
            ),
        ),
    ]);
    p.cloud_iam(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "Reader"),
        ("PolicyName", "read"),
        (
            "PolicyDocument",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:List*","iam:Get*"],"Resource":"*"}]}"#,
        ),
    ]);
    p.ok(
        "PUT",
        &format!("/jit/{account}"),
        &admin,
        json!({"active": true, "jit_enabled": true, "duration": 3600, "roles": ["Reader"]}),
    );
    let ana_token = p.login("ana", "ana-password-1");
    let bruno_token = p.login("bruno", "bruno-password-1");
    World {
        p,
        admin,
        ana_token,
        bruno_token,
        cu,
        cu_name,
        user_arn,
    }
}

#[test]
fn console_sessions_go_through_porteiro_recorded_and_cut() {
    let World {
        p,
        admin,
        ana_token,
        bruno_token,
        cu,
        cu_name,
        user_arn,
    } = world();

    // ---- A Cloud console session ----
    let console = p.ok(
        "POST",
        "/sessions",
        &ana_token,
        json!({"kind": "console", "cloud_user_id": cu["id"], "duration": 900}),
    );
    let s1 = console["session"]["id"].as_str().expect("id").to_string();
    // Only the owner gets a launch URL.
    let a = p.api(
        "POST",
        &format!("/sessions/{s1}/launch"),
        Some(&bruno_token),
        Value::Null,
    );
    assert_eq!(a.status, 403, "{}", a.body);
    let a = p.api("POST", &format!("/sessions/{s1}/launch"), None, Value::Null);
    assert_eq!(a.status, 401, "{}", a.body);

    let mut browser = Browser::new(&p);
    // No cookie: nothing.
    let a = browser.get(&format!("/sessions/{s1}/console/"));
    assert_eq!(a.status, 401, "{}", a.body);
    let url = launch(&p, &ana_token, &s1);
    let a = browser.get(&url);
    assert_eq!(a.status, 200, "{}", a.body);
    let set = a.header("set-cookie").expect("the session cookie");
    for attr in [
        &format!("Path=/sessions/{s1}") as &str,
        "HttpOnly",
        "SameSite=Strict",
    ] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(
        a.body.contains(&format!("url=/sessions/{s1}/console/")),
        "{}",
        a.body
    );
    // The launch URL works once.
    let mut other = Browser::new(&p);
    assert_eq!(other.get(&url).status, 403);

    let started = Instant::now();
    let home = browser.get(&format!("/sessions/{s1}/console/"));
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body.contains(&user_arn),
        "signed in as the cloud IAM user: {}",
        home.body
    );
    assert!(
        !home.body.contains("href=\"/console/"),
        "every link stays under /sessions/: {}",
        home.body
    );
    assert!(
        home.body
            .contains(&format!("href=\"/sessions/{s1}/console/iam/users\""))
    );
    let users = browser.get(&format!("/sessions/{s1}/console/iam/users"));
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains(&cu_name), "{}", users.body);
    let css = browser.get(&format!("/sessions/{s1}/console/static/console.css"));
    assert_eq!(css.status, 200);
    // A form post: create a user through the console.
    let csrf = csrf_of(&users.body, &format!("/sessions/{s1}/console/iam/users"));
    let created = browser.request(
        "POST",
        &format!("/sessions/{s1}/console/iam/users"),
        Some(&format!("csrf={csrf}&UserName=made-in-console")),
    );
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(
        created.header("location"),
        Some(format!("/sessions/{s1}/console/iam/users/made-in-console").as_str())
    );
    assert!(
        p.cloud_iam(&[("Action", "GetUser"), ("UserName", "made-in-console")])
            .ends_with("user/made-in-console")
    );
    let page = browser.get(&format!("/sessions/{s1}/console/iam/users/made-in-console"));
    assert_eq!(page.status, 200, "{}", page.body);
    // A form from another site is refused.
    let a = p.http(
        "POST",
        &format!("/sessions/{s1}/console/iam/users"),
        &[
            (
                "Cookie",
                &format!("porteiro_session={}", browser.cookie.clone().unwrap_or_default()),
            ),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "http://evil.example"),
        ],
        "UserName=evil",
    );
    assert_eq!(a.status, 403, "{}", a.body);
    // Only console pages are reachable.
    assert_eq!(
        browser
            .get(&format!("/sessions/{s1}/federation?Action=login"))
            .status,
        404
    );
    eprintln!("console pages through the gateway: {:?}", started.elapsed());

    // ---- A JIT console session ----
    let jit = p.ok(
        "POST",
        "/sessions",
        &ana_token,
        json!({"kind": "jit", "cloud_user_id": cu["id"], "role": "Reader", "duration": 900}),
    );
    let s2 = jit["session"]["id"].as_str().expect("id").to_string();
    // The secrets the person holds for this session (the gateway's; the STS ones when no
    // gateway serves): none of them may show up in the console either.
    let secrets: Vec<String> = [
        ("credentials", "secret_access_key"),
        ("credentials", "session_token"),
        ("gateway", "secret_access_key"),
    ]
    .iter()
    .filter_map(|(o, k)| jit[o][k].as_str().map(str::to_string))
    .collect();
    assert!(!secrets.is_empty(), "{jit}");
    let mut jb = Browser::new(&p);
    let url = launch(&p, &ana_token, &s2);
    assert_eq!(jb.get(&url).status, 200);
    let home = jb.get(&format!("/sessions/{s2}/console/"));
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("assumed-role/Reader/ana"), "{}", home.body);
    let roles = jb.get(&format!("/sessions/{s2}/console/iam/roles/Reader"));
    assert_eq!(roles.status, 200, "{}", roles.body);
    // The JIT session's cookie does not open the console session, nor the other way round.
    let a = p.http(
        "GET",
        &format!("/sessions/{s1}/console/"),
        &[(
            "Cookie",
            &format!("porteiro_session={}", jb.cookie.clone().unwrap_or_default()),
        )],
        "",
    );
    assert_eq!(a.status, 401, "{}", a.body);
    // Bruno cannot use Ana's session URL, even with a cookie of his own session name.
    let a = p.http(
        "GET",
        &format!("/sessions/{s2}/console/"),
        &[(
            "Cookie",
            "porteiro_session=0000000000000000000000000000000000000000000000000000000000000000",
        )],
        "",
    );
    assert_eq!(a.status, 401);

    // Nothing secret ever reached a browser.
    let everything = format!("{}\n{}", browser.seen, jb.seen);
    for s in &secrets {
        assert!(
            !everything.contains(s.as_str()),
            "a JIT secret reached the browser"
        );
    }
    for forbidden in [
        "porteiro_console",
        "porteiro_signin",
        "SigninToken",
        "name=\"password\"",
        "sessionKey",
        "sessionToken",
    ] {
        assert!(!everything.contains(forbidden), "{forbidden} reached the browser");
    }

    // ---- Drop: disconnected within a second, the cloud console signed out ----
    assert_eq!(
        p.cloud_console_sessions(),
        2,
        "one cloud console session per Porteiro session"
    );
    p.ok("POST", &format!("/sessions/{s1}/drop"), &admin, Value::Null);
    let dropped_at = Instant::now();
    let a = browser.get(&format!("/sessions/{s1}/console/iam/users"));
    assert!(dropped_at.elapsed() < Duration::from_secs(1));
    assert_eq!(a.status, 410, "{}", a.body);
    assert!(a.body.contains("You have been disconnected"), "{}", a.body);
    assert!(
        a.body.contains(&s1) && a.body.contains("dropped by admin"),
        "{}",
        a.body
    );
    assert!(a.body.contains(" UTC"), "{}", a.body);
    let deadline = Instant::now() + Duration::from_secs(1);
    while p.cloud_console_sessions() != 1 {
        assert!(
            Instant::now() < deadline,
            "the cloud console session of {s1} was not signed out within a second"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    p.ok("POST", &format!("/sessions/{s2}/drop"), &admin, Value::Null);
    let a = jb.get(&format!("/sessions/{s2}/console/"));
    assert_eq!(a.status, 410, "{}", a.body);
    let deadline = Instant::now() + Duration::from_secs(1);
    while p.cloud_console_sessions() != 0 {
        assert!(
            Instant::now() < deadline,
            "the cloud console session of {s2} was not signed out within a second"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // ---- The recordings verify and replay ----
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, out) = p.recordings(&["verify", &s1]);
        if code == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the recording of {s1} did not close: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The web replay's frames: the console pages in order, as the browser saw them.
    let (code, frames) = p.recordings(&["play", &s1, "--frames"]);
    assert_eq!(code, 0, "{frames}");
    assert!(frames.contains("IAM users"), "{frames}");
    assert!(frames.contains("made-in-console"), "{frames}");
    let (code, out) = p.recordings(&["play", &s1, "--speed", "0"]);
    assert_eq!(code, 0, "{out}");
    for expected in [
        "/console/iam/users",
        "POST",
        "made-in-console",
        "signed the cloud console session out",
    ] {
        assert!(out.contains(expected), "{expected} in {out}");
    }
    let events = std::fs::read_to_string(p.dir.join("recordings").join(&s1).join("events.jsonl"))
        .expect("the event log");
    assert!(
        events.contains(r#""kind":"consoleExchange","method":"POST","path":"/console/iam/users""#),
        "{events}"
    );
    assert!(
        events.contains(r#"["csrf","********"],["UserName","made-in-console"]"#),
        "{events}"
    );
    assert!(
        events.contains("<caption>IAM users</caption>"),
        "the HTML seen is recorded"
    );
    assert!(
        events.contains(&format!("href=\\\"/sessions/{s1}/console/iam/users")),
        "as the browser saw it"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.recordings(&["verify", &s2]).0 != 0 {
        assert!(Instant::now() < deadline, "the recording of {s2} did not close");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, out) = p.recordings(&["play", &s2, "--speed", "0"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("/console/iam/roles/Reader"), "{out}");
    assert!(out.contains("federation endpoint"), "{out}");
    for s in &secrets {
        assert!(!out.contains(s.as_str()), "a JIT secret in the recording");
    }
}

fn browser_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Whether node (20+), Chromium and playwright-core are there; without them the browser test
/// prints a notice and passes, unless `PORTEIRO_E2E_REQUIRE_TOOLS=1`.
fn browser_tools() -> bool {
    let node = Command::new("node")
        .arg("--version")
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
        })
        .is_some_and(|m| m >= 20);
    let mut missing = Vec::new();
    if !node {
        missing.push("node 20 or later".to_string());
    }
    if !chromium().is_file() {
        missing.push(format!("Chromium at {} (or set CHROMIUM)", chromium().display()));
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
    let required = std::env::var("PORTEIRO_E2E_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "missing {} but PORTEIRO_E2E_REQUIRE_TOOLS=1",
        missing.join(", ")
    );
    eprintln!(
        "NOTICE: skipping the console gateway browser test: missing {}",
        missing.join(", ")
    );
    false
}

#[test]
fn console_session_in_headless_chromium() {
    if !browser_tools() {
        return;
    }
    let w = world();
    let started = w.p.ok(
        "POST",
        "/sessions",
        &w.ana_token,
        json!({"kind": "console", "cloud_user_id": w.cu["id"], "duration": 900}),
    );
    let session = started["session"]["id"].as_str().expect("id").to_string();
    let launch_path = launch(&w.p, &w.ana_token, &session);
    let out = Command::new("node")
        .args(["--test", "--test-reporter=spec", "gateway.test.js"])
        .current_dir(browser_dir())
        .env("GW_API", format!("http://{}", w.p.api))
        .env("GW_SESSION", &session)
        .env("GW_LAUNCH_URL", format!("http://{}{launch_path}", w.p.api))
        .env("GW_ADMIN_TOKEN", &w.admin)
        .env("GW_USER_ARN", &w.user_arn)
        .env("GW_NEW_USER", "made-in-chromium")
        .env("CHROMIUM", chromium())
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser test failed:\n{text}");
    assert!(
        w.p.cloud_iam(&[("Action", "GetUser"), ("UserName", "made-in-chromium")])
            .ends_with("user/made-in-chromium"),
        "the form created the user in the cloud"
    );
    let _ = (&w.bruno_token, &w.cu_name);
}

#[test]
fn console_sessions_are_cut_at_expiry() {
    let clock = std::env::temp_dir().join(format!(
        "porteiro-console-gw-clock-{}-{}",
        std::process::id(),
        free_port()
    ));
    let w = world_with(Porteiro::start_with(&[
        std::ffi::OsStr::new("--test-clock-offset-file"),
        clock.as_os_str(),
    ]));
    let p = &w.p;
    let mut open = Vec::new();
    for kind in ["console", "jit"] {
        let started = p.ok(
            "POST",
            "/sessions",
            &w.ana_token,
            json!({"kind": kind, "cloud_user_id": w.cu["id"], "role": (kind == "jit").then_some("Reader"), "duration": 900}),
        );
        let id = started["session"]["id"].as_str().expect("id").to_string();
        let mut b = Browser::new(p);
        let url = launch(p, &w.ana_token, &id);
        assert_eq!(b.get(&url).status, 200);
        assert_eq!(b.get(&format!("/sessions/{id}/console/")).status, 200);
        open.push((id, b));
    }
    assert_eq!(p.cloud_console_sessions(), 2);
    // Fifteen minutes later (both clocks moved): cut, and the cloud consoles signed out.
    std::fs::write(&clock, "901\n").expect("clock file");
    let mut applied = clock.clone().into_os_string();
    applied.push(".applied");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&applied)
        .map(|t| t.trim() != "901")
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "the server did not move its clocks");
        std::thread::sleep(Duration::from_millis(20));
    }
    let moved = Instant::now();
    for (id, b) in &mut open {
        let a = b.get(&format!("/sessions/{id}/console/iam/users"));
        assert_eq!(a.status, 410, "{}", a.body);
        assert!(
            a.body.contains("You have been disconnected") && a.body.contains("expired"),
            "{}",
            a.body
        );
    }
    while p.cloud_console_sessions() != 0 {
        assert!(
            moved.elapsed() < Duration::from_secs(1),
            "the cloud consoles were not signed out within a second of the expiry"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(&clock);
    let _ = std::fs::remove_file(&applied);
    let _ = (&w.admin, &w.bruno_token, &w.cu_name, &w.user_arn);
}

/// One HTTP/1.1 GET to `addr` with a cookie header; the status.
fn timed_get(addr: &str, path: &str, cookie: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let status = String::from_utf8_lossy(&raw[..raw.len().min(12)])
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn summary(mut d: Vec<Duration>) -> String {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    format!(
        "median {:.2} ms, p99 {:.2} ms, {:.0} pages/s",
        ms(d[d.len() / 2]),
        ms(d[d.len() * 99 / 100]),
        d.len() as f64 / d.iter().map(|x| x.as_secs_f64()).sum::<f64>()
    )
}

/// The console gateway's cost per page: the IAM users page fetched 300 times one after the
/// other through `/sessions/ID/` (sign-in, proxy, rewriting, recording) and directly from the
/// embedded cloud with a console cookie of its own. Run with `--ignored --nocapture`.
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn console_gateway_overhead() {
    let w = world();
    let p = &w.p;
    let started = p.ok(
        "POST",
        "/sessions",
        &w.ana_token,
        json!({"kind": "console", "cloud_user_id": w.cu["id"], "duration": 3600}),
    );
    let id = started["session"]["id"].as_str().expect("id").to_string();
    let mut b = Browser::new(p);
    let url = launch(p, &w.ana_token, &id);
    assert_eq!(b.get(&url).status, 200);
    let gw_cookie = format!("porteiro_session={}", b.cookie.clone().unwrap_or_default());
    // A direct console session on the cloud, for the comparison.
    p.cloud_iam(&[
        ("Action", "CreateLoginProfile"),
        ("UserName", "direct"),
        ("Password", "Direct-password-1"),
    ]);
    let cloud_addr = p.cloud.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&cloud_addr).expect("connect");
    s.write_all(
        format!("GET /signin HTTP/1.1\r\nHost: {cloud_addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let signin_cookie = raw
        .split("\r\n")
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("sign-in cookie")
        .to_string();
    let csrf = csrf_of(&raw, "/signin");
    let body = format!("csrf={csrf}&account={ACCOUNT}&username=direct&password=Direct-password-1");
    let mut s = TcpStream::connect(&cloud_addr).expect("connect");
    s.write_all(
        format!(
            "POST /signin HTTP/1.1\r\nHost: {cloud_addr}\r\nConnection: close\r\nCookie: {signin_cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let console_cookie = raw
        .split("\r\n")
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .find(|c| c.starts_with("porteiro_console="))
        .and_then(|c| c.split(';').next())
        .expect("console cookie")
        .to_string();
    let n = 300;
    let mut direct = Vec::new();
    let mut through = Vec::new();
    for _ in 0..n {
        let (status, d) = timed_get(&cloud_addr, "/console/iam/users", &console_cookie);
        assert_eq!(status, 200);
        direct.push(d);
        let (status, d) = timed_get(&p.api, &format!("/sessions/{id}/console/iam/users"), &gw_cookie);
        assert_eq!(status, 200);
        through.push(d);
    }
    eprintln!("IAM users page, {n} sequential GETs, new connection each:");
    eprintln!("  direct to the embedded cloud:   {}", summary(direct));
    eprintln!("  through the console gateway:    {}", summary(through));
}

/// The cookies a response sets, as `name=value` pairs (cleared ones left out).
fn set_cookies(a: &Answer) -> Vec<(String, String)> {
    a.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| {
            let (name, rest) = v.split_once('=')?;
            let value = rest.split(';').next().unwrap_or("");
            (!value.is_empty()).then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}

#[test]
fn the_web_ui_opens_a_console_session_through_the_gateway() {
    let w = world();
    let p = &w.p;
    let origin = format!("http://{}", p.api);
    let session = p.ok(
        "POST",
        "/sessions",
        &w.ana_token,
        json!({"kind": "console", "cloud_user_id": w.cu["id"], "duration": 900}),
    );
    let id = session["session"]["id"].as_str().expect("id").to_string();

    // Ana signs in to the web UI.
    let page = p.http("GET", "/signin", &[("Accept", "text/html")], "");
    assert_eq!(page.status, 200, "{}", page.body);
    let signin_cookie = set_cookies(&page)
        .into_iter()
        .find(|(n, _)| n == "porteiro_signin")
        .expect("the sign-in cookie")
        .1;
    let csrf = csrf_of(&page.body, "/signin?next=%2F");
    let cookie = format!("porteiro_signin={signin_cookie}");
    let form = format!("csrf={csrf}&username=ana&password=ana-password-1");
    let signed = p.http(
        "POST",
        "/signin?next=%2F",
        &[
            ("Cookie", &cookie),
            ("Origin", &origin),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &form,
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    let web_cookie = set_cookies(&signed)
        .into_iter()
        .find(|(n, _)| n == "porteiro_session")
        .expect("the web session cookie")
        .1;
    let web = format!("porteiro_session={web_cookie}");

    // Her session's page offers the console as a form (a POST with the page's CSRF token).
    let page = p.http("GET", &format!("/my/sessions/{id}"), &[("Cookie", &web)], "");
    assert_eq!(page.status, 200, "{}", page.body);
    let action = format!("/my/sessions/{id}/open");
    let csrf = csrf_of(&page.body, &action);
    let form_headers = [
        ("Cookie", web.as_str()),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    // Without the token nothing is launched.
    let refused = p.http("POST", &action, &form_headers, "csrf=wrong");
    assert_eq!(refused.status, 403, "{}", refused.body);
    let opened = p.http("POST", &action, &form_headers, &format!("csrf={csrf}"));
    assert_eq!(opened.status, 303, "{}", opened.body);
    let launch = opened.header("location").expect("a launch URL").to_string();
    assert!(
        launch.starts_with(&format!("/sessions/{id}/launch?token=")),
        "{launch}"
    );

    // The launch sets the console's cookie; the console opens through Porteiro.
    let a = p.http("GET", &launch, &[("Cookie", &web)], "");
    assert_eq!(a.status, 200, "{}", a.body);
    let console_cookie = set_cookies(&a)
        .into_iter()
        .find(|(n, _)| n == "porteiro_session")
        .expect("the console cookie")
        .1;
    let both = format!("porteiro_session={console_cookie}; porteiro_session={web_cookie}");
    let users = p.http(
        "GET",
        &format!("/sessions/{id}/console/iam/users"),
        &[("Cookie", &both)],
        "",
    );
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains(&w.cu_name), "{}", users.body);
    // The launch was single-use.
    assert_eq!(p.http("GET", &launch, &[], "").status, 403);

    // Once the session is dropped, the web UI launches nothing and says why.
    p.ok("POST", &format!("/sessions/{id}/drop"), &w.admin, Value::Null);
    let again = p.http("POST", &action, &form_headers, &format!("csrf={csrf}"));
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("has ended"), "{}", again.body);
}
