//! The embedded cloud's console, its sign-in page and the console federation endpoint, driven
//! over HTTP with a hyper client against a cloud started in-process; temporary credentials
//! come from the AWS SDK for Rust (`AssumeRole`, `GetFederationToken`), as a broker gets them.
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html>

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use serde_json::{Value, json};

mod common;
use common::*;

const PASSWORD: &str = "Correct-Horse-9";

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// The `Session` parameter of getSigninToken.
fn session_json(c: &Creds) -> String {
    json!({"sessionId": c.ak, "sessionKey": c.sk, "sessionToken": c.token.clone().unwrap_or_default()})
        .to_string()
}

/// An HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The value of cookie `name` set by this answer.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap_or("").to_string())
    }

    fn set_cookie_line(&self, name: &str) -> String {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .unwrap_or("")
            .to_string()
    }

    /// The value of the hidden input `name`.
    fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).expect("the hidden field") + marker.len();
        let rest = &self.body[start..];
        rest[..rest.find('"').expect("end of value")].to_string()
    }
}

/// Sends one HTTP/1.1 request.
async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = sender.send_request(req).await.expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// The seconds left in the session, from the countdown of a console page.
fn remaining(page: &Reply) -> i64 {
    let marker = "data-remaining=\"";
    let start = page.body.find(marker).expect("a countdown") + marker.len();
    let rest = &page.body[start..];
    rest[..rest.find('"').expect("end")].parse().expect("seconds")
}

/// `actual` is `expected`, give or take the seconds a slow test machine takes.
#[track_caller]
fn assert_near(actual: i64, expected: i64) {
    assert!(
        (expected - 10..=expected).contains(&actual),
        "{actual} seconds left, expected {expected}"
    );
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

async fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Reply {
    let c = cookie.map(|c| format!("porteiro_console={c}"));
    let headers: Vec<(&str, &str)> = c.iter().map(|c| ("cookie", c.as_str())).collect();
    send(addr, "GET", path, &headers, Vec::new()).await
}

async fn post(addr: SocketAddr, path: &str, cookie_header: &str, pairs: &[(&str, &str)]) -> Reply {
    send(
        addr,
        "POST",
        path,
        &[
            ("cookie", cookie_header),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        form(pairs),
    )
    .await
}

fn policy(actions: &[&str], resource: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})
        .to_string()
}

fn trust(principal_arn: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}]})
        .to_string()
}

/// A user with an access key and an inline policy.
async fn user_with_key(s: &Server, name: &str, doc: &str) -> Creds {
    let iam = s.root_iam();
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("create user");
    iam.put_user_policy()
        .user_name(name)
        .policy_name("p")
        .policy_document(doc)
        .send()
        .await
        .expect("user policy");
    let out = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("access key");
    let k = out.access_key().expect("key");
    Creds {
        ak: k.access_key_id().into(),
        sk: k.secret_access_key().into(),
        token: None,
    }
}

/// A role `name` trusted by `principal`, with an inline policy.
async fn role(s: &Server, name: &str, principal: &str, doc: &str) -> String {
    let iam = s.root_iam();
    let out = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust(principal))
        .max_session_duration(43_200)
        .send()
        .await
        .expect("create role");
    iam.put_role_policy()
        .role_name(name)
        .policy_name("p")
        .policy_document(doc)
        .send()
        .await
        .expect("role policy");
    out.role().expect("role").arn().to_string()
}

async fn assume(s: &Server, by: &Creds, role_arn: &str, session: &str) -> Creds {
    let out = s
        .sts(by)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .send()
        .await
        .expect("assume role");
    let c = out.credentials().expect("credentials");
    Creds {
        ak: c.access_key_id().into(),
        sk: c.secret_access_key().into(),
        token: Some(c.session_token().into()),
    }
}

/// The user `broker` (may assume `Console`), and credentials of the role session
/// `assumed-role/Console/alice`.
async fn role_session(s: &Server) -> Creds {
    let broker = user_with_key(
        s,
        "broker",
        &policy(&["sts:AssumeRole", "sts:GetFederationToken"], "*"),
    )
    .await;
    let arn = role(
        s,
        "Console",
        &format!("arn:aws:iam::{ACCOUNT}:user/broker"),
        &policy(&["iam:List*", "iam:Get*"], "*"),
    )
    .await;
    assume(s, &broker, &arn, "alice").await
}

async fn signin_token(s: &Server, creds: &Creds, duration: Option<&str>) -> Reply {
    let mut path = format!(
        "/federation?Action=getSigninToken&Session={}",
        enc(&session_json(creds))
    );
    if let Some(d) = duration {
        path.push_str(&format!("&SessionDuration={d}"));
    }
    get(s.addr, &path, None).await
}

fn token_of(r: &Reply) -> String {
    assert_eq!(r.status, 200, "getSigninToken failed: {}", r.body);
    let v: Value = serde_json::from_str(&r.body).expect("JSON");
    v["SigninToken"].as_str().expect("SigninToken").to_string()
}

async fn login(s: &Server, token: &str, destination: &str) -> Reply {
    let path = format!(
        "/federation?Action=login&Issuer={}&Destination={}&SigninToken={}",
        enc("https://broker.example/"),
        enc(destination),
        enc(token)
    );
    get(s.addr, &path, None).await
}

/// Federation sign-in of `creds`; the session cookie.
async fn federate(s: &Server, creds: &Creds, duration: Option<&str>) -> String {
    let token = token_of(&signin_token(s, creds, duration).await);
    let r = login(s, &token, "/console/").await;
    assert_eq!(r.status, 302, "{}", r.body);
    r.cookie("porteiro_console").expect("session cookie")
}

/// A user with a login profile and an inline policy (when given).
async fn user_with_password(s: &Server, name: &str, doc: Option<&str>, reset: bool) {
    let iam = s.root_iam();
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("create user");
    if let Some(doc) = doc {
        iam.put_user_policy()
            .user_name(name)
            .policy_name("p")
            .policy_document(doc)
            .send()
            .await
            .expect("user policy");
    }
    iam.create_login_profile()
        .user_name(name)
        .password(PASSWORD)
        .password_reset_required(reset)
        .send()
        .await
        .expect("login profile");
}

/// The sign-in page: (pre-session cookie header, CSRF token).
async fn signin_form(s: &Server) -> (String, String) {
    let page = get(s.addr, "/signin", None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<label for=\"password\">"), "{}", page.body);
    let cookie = page.cookie("porteiro_signin").expect("sign-in cookie");
    (format!("porteiro_signin={cookie}"), page.hidden("csrf"))
}

/// Password sign-in; the answer.
async fn password_signin(s: &Server, user: &str, password: &str) -> Reply {
    let (cookie, csrf) = signin_form(s).await;
    post(
        s.addr,
        "/signin",
        &cookie,
        &[
            ("csrf", &csrf),
            ("account", ACCOUNT),
            ("username", user),
            ("password", password),
        ],
    )
    .await
}

/// Password sign-in that must succeed; the session cookie.
async fn signed_in(s: &Server, user: &str) -> String {
    let r = password_signin(s, user, PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), "/console/");
    r.cookie("porteiro_console").expect("session cookie")
}

// ---------------------------------------------------------------------------------------
// Federation
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn federation_with_role_credentials_signs_in_as_the_assumed_role() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let creds = role_session(&s).await;
    let r = signin_token(&s, &creds, None).await;
    assert_eq!(r.header("content-type"), "application/json");
    let token = token_of(&r);
    assert!(!token.contains(&creds.sk) && !token.contains(creds.token.as_deref().unwrap_or("-")));
    let r = login(&s, &token, &format!("http://{}/console/iam/users", s.addr)).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), "/console/iam/users");
    let line = r.set_cookie_line("porteiro_console");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax") && line.contains("Path=/"),
        "{line}"
    );
    let cookie = r.cookie("porteiro_console").expect("cookie");
    assert_eq!(cookie.len(), 64);

    let home = get(s.addr, "/console/", Some(&cookie)).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body
            .contains(&format!("arn:aws:sts::{ACCOUNT}:assumed-role/Console/alice")),
        "{}",
        home.body
    );
    assert!(
        home.header("content-security-policy")
            .contains("default-src 'none'")
    );
    assert!(home.body.contains("id=\"countdown\""));
    assert!(!home.body.contains(&creds.sk));
    // The role may list users: the page works as the role session.
    let users = get(s.addr, "/console/iam/users", Some(&cookie)).await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains(">broker</a>"), "{}", users.body);
    // ...and may not create them: the API's denial, word for word.
    let csrf = users.hidden("csrf");
    let r = post(
        s.addr,
        "/console/iam/users",
        &format!("porteiro_console={cookie}"),
        &[("csrf", &csrf), ("UserName", "mallory")],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains(&format!(
        "User: arn:aws:sts::{ACCOUNT}:assumed-role/Console/alice is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/mallory because no identity-based policy allows the iam:CreateUser action"
    )), "{}", r.body);
}

#[tokio::test]
async fn federation_refuses_long_term_keys_and_bad_credentials() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let root = signin_token(&s, &Creds::root(), None).await;
    assert_eq!(root.status, 400, "{}", root.body);
    assert!(root.body.contains("long-term credentials"), "{}", root.body);
    let user = user_with_key(&s, "u", &policy(&["sts:*"], "*")).await;
    let r = signin_token(&s, &user, None).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Invalid credentials parameter"), "{}", r.body);

    let creds = role_session(&s).await;
    let wrong_secret = Creds {
        sk: "x".repeat(40),
        ..creds.clone()
    };
    assert_eq!(signin_token(&s, &wrong_secret, None).await.status, 403);
    // The parameters may come as a form POST (keeps the token out of URLs).
    let r = send(
        s.addr,
        "POST",
        "/federation",
        &[("content-type", "application/x-www-form-urlencoded")],
        form(&[
            ("Action", "getSigninToken"),
            ("SessionDuration", "3600"),
            ("Session", &session_json(&creds)),
        ]),
    )
    .await;
    token_of(&r);
    let r = get(s.addr, "/federation?Action=getSigninToken&Session=notjson", None).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        get(s.addr, "/federation?Action=getSigninToken", None)
            .await
            .status,
        400
    );
    assert_eq!(get(s.addr, "/federation?Action=nope", None).await.status, 400);

    // GetSessionToken credentials cannot sign in to the console.
    let out = s
        .sts(&user)
        .get_session_token()
        .send()
        .await
        .expect("session token");
    let c = out.credentials().expect("credentials");
    let st = Creds {
        ak: c.access_key_id().into(),
        sk: c.secret_access_key().into(),
        token: Some(c.session_token().into()),
    };
    let r = signin_token(&s, &st, None).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("GetSessionToken"), "{}", r.body);
}

#[tokio::test]
async fn federation_session_duration_rules() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let creds = role_session(&s).await;
    for bad in ["899", "43201", "abc"] {
        let r = signin_token(&s, &creds, Some(bad)).await;
        assert_eq!(r.status, 400, "SessionDuration={bad}: {}", r.body);
        assert!(r.body.contains("SessionDuration"), "{}", r.body);
    }
    token_of(&signin_token(&s, &creds, Some("43200")).await);

    // SessionDuration decides how long the console session lasts, not the credentials.
    let cookie = federate(&s, &creds, Some("7200")).await;
    let home = get(s.addr, "/console/", Some(&cookie)).await;
    assert_near(remaining(&home), 7200);

    // GetFederationToken credentials: no SessionDuration; the session follows the credentials.
    let broker = Creds {
        ..user_credentials(&s, "broker").await
    };
    let out = s
        .sts(&broker)
        .get_federation_token()
        .name("fed")
        .duration_seconds(1800)
        .policy(policy(&["sts:GetCallerIdentity"], "*"))
        .send()
        .await
        .expect("federation token");
    let c = out.credentials().expect("credentials");
    let fed = Creds {
        ak: c.access_key_id().into(),
        sk: c.secret_access_key().into(),
        token: Some(c.session_token().into()),
    };
    let r = signin_token(&s, &fed, Some("3600")).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("GetFederationToken"), "{}", r.body);
    let cookie = federate(&s, &fed, None).await;
    let home = get(s.addr, "/console/", Some(&cookie)).await;
    assert!(
        home.body
            .contains(&format!("arn:aws:sts::{ACCOUNT}:federated-user/fed")),
        "{}",
        home.body
    );
    assert_near(remaining(&home), 1800);

    // Role chaining: the console session is limited to one hour.
    let second = role(
        &s,
        "Second",
        &format!("arn:aws:iam::{ACCOUNT}:role/Console"),
        &policy(&["iam:ListRoles"], "*"),
    )
    .await;
    s.root_iam()
        .put_role_policy()
        .role_name("Console")
        .policy_name("chain")
        .policy_document(policy(&["sts:AssumeRole"], "*"))
        .send()
        .await
        .expect("chain policy");
    let chained = assume(&s, &creds, &second, "chained").await;
    let r = signin_token(&s, &chained, Some("7200")).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("role chaining"), "{}", r.body);
    token_of(&signin_token(&s, &chained, Some("3600")).await);
    let cookie = federate(&s, &chained, None).await;
    let home = get(s.addr, "/console/", Some(&cookie)).await;
    assert!(home.body.contains("assumed-role/Second/chained"), "{}", home.body);
}

/// The access key of user `name` (a new one).
async fn user_credentials(s: &Server, name: &str) -> Creds {
    let out = s
        .root_iam()
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("access key");
    let k = out.access_key().expect("key");
    Creds {
        ak: k.access_key_id().into(),
        sk: k.secret_access_key().into(),
        token: None,
    }
}

#[tokio::test]
async fn signin_tokens_are_single_use_and_short_lived() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let creds = role_session(&s).await;
    let token = token_of(&signin_token(&s, &creds, None).await);
    assert_eq!(login(&s, &token, "/console/").await.status, 302);
    let again = login(&s, &token, "/console/").await;
    assert_eq!(again.status, 403, "{}", again.body);
    assert!(again.body.contains("already used"), "{}", again.body);
    assert!(again.cookie("porteiro_console").is_none());

    let late = token_of(&signin_token(&s, &creds, Some("3600")).await);
    s.cloud.advance_clock(901);
    assert_eq!(login(&s, &late, "/console/").await.status, 403);
    assert_eq!(login(&s, "nonsense", "/console/").await.status, 403);
    assert_eq!(get(s.addr, "/federation?Action=login", None).await.status, 400);
}

#[tokio::test]
async fn login_destination_must_be_a_console_path_of_this_origin() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let creds = role_session(&s).await;
    for (dest, expected) in [
        ("https://evil.example/console/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/console/iam/roles", "/console/iam/roles"),
        ("/federation?Action=login", "/console/"),
    ] {
        let token = token_of(&signin_token(&s, &creds, None).await);
        let r = login(&s, &token, dest).await;
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), expected, "Destination {dest}");
    }
}

// ---------------------------------------------------------------------------------------
// Password sign-in
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn iam_user_signs_in_with_password_and_sees_its_identity() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    user_with_password(&s, "alice", None, false).await;
    let (cookie, csrf) = signin_form(&s).await;
    for (account, user, password) in [
        (ACCOUNT, "alice", "wrong-password"),
        (ACCOUNT, "nobody", PASSWORD),
        ("999999999999", "alice", PASSWORD),
    ] {
        let r = post(
            s.addr,
            "/signin",
            &cookie,
            &[
                ("csrf", &csrf),
                ("account", account),
                ("username", user),
                ("password", password),
            ],
        )
        .await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(
            r.body.contains("Your authentication information is incorrect."),
            "{}",
            r.body
        );
        assert!(r.cookie("porteiro_console").is_none());
        assert!(!r.body.contains(password));
    }
    let session = signed_in(&s, "alice").await;
    let home = get(s.addr, "/console/", Some(&session)).await;
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains(&format!("arn:aws:iam::{ACCOUNT}:user/alice")),
        "{}",
        home.body
    );
    assert_near(remaining(&home), 43_200);
    // Signed in already: the sign-in page goes to the console.
    let r = send(
        s.addr,
        "GET",
        "/signin",
        &[("cookie", &format!("porteiro_console={session}"))],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn signin_form_requires_its_csrf_token() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    user_with_password(&s, "alice", None, false).await;
    let (cookie, _csrf) = signin_form(&s).await;
    let fields = [
        ("account", ACCOUNT),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let r = post(s.addr, "/signin", &cookie, &fields).await;
    assert_eq!(r.status, 403);
    let r = post(s.addr, "/signin", "", &[("csrf", "x"), ("account", ACCOUNT)]).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn password_reset_required_asks_for_a_new_password() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    user_with_password(&s, "bob", None, true).await;
    let (cookie, csrf) = signin_form(&s).await;
    let r = post(
        s.addr,
        "/signin",
        &cookie,
        &[
            ("csrf", &csrf),
            ("account", ACCOUNT),
            ("username", "bob"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Change your password"), "{}", r.body);
    assert!(r.body.contains("<label for=\"new_password\">"));
    assert!(r.cookie("porteiro_console").is_none());
    let token = r.hidden("token");
    let reset = |new: &'static str, confirm: &'static str| {
        let (cookie, csrf, token) = (cookie.clone(), csrf.clone(), token.clone());
        let addr = s.addr;
        async move {
            post(
                addr,
                "/signin/reset",
                &cookie,
                &[
                    ("csrf", &csrf),
                    ("token", &token),
                    ("new_password", new),
                    ("confirm_password", confirm),
                ],
            )
            .await
        }
    };
    let r = reset("short", "short").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("Password should have a minimum length of 8"),
        "{}",
        r.body
    );
    let r = reset("Another-Pass-1", "Another-Pass-2").await;
    assert!(r.body.contains("do not match"), "{}", r.body);
    let r = reset(PASSWORD, PASSWORD).await;
    assert!(r.body.contains("must be different"), "{}", r.body);
    let r = reset("Another-Pass-1", "Another-Pass-1").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let session = r.cookie("porteiro_console").expect("session");
    let home = get(s.addr, "/console/", Some(&session)).await;
    assert!(home.body.contains(&format!("arn:aws:iam::{ACCOUNT}:user/bob")));
    // The token was used; the profile no longer requires a reset; the old password is gone.
    assert_eq!(reset("Third-Pass-3", "Third-Pass-3").await.status, 403);
    let profile = s
        .root_iam()
        .get_login_profile()
        .user_name("bob")
        .send()
        .await
        .expect("profile");
    assert_eq!(
        profile.login_profile().map(|p| p.password_reset_required()),
        Some(false)
    );
    assert_eq!(password_signin(&s, "bob", PASSWORD).await.status, 401);
    assert_eq!(password_signin(&s, "bob", "Another-Pass-1").await.status, 303);
}

// ---------------------------------------------------------------------------------------
// Console pages as the signed-in principal
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn users_page_is_denied_without_list_users_and_lists_with_it() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    user_with_password(&s, "carol", None, false).await;
    let session = signed_in(&s, "carol").await;
    let r = get(s.addr, "/console/iam/users", Some(&session)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains(&format!(
        "User: arn:aws:iam::{ACCOUNT}:user/carol is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::{ACCOUNT}:user/ because no identity-based policy allows the iam:ListUsers action"
    )), "{}", r.body);
    assert!(r.body.contains("AccessDenied"));

    s.root_iam()
        .put_user_policy()
        .user_name("carol")
        .policy_name("list")
        .policy_document(policy(&["iam:ListUsers", "iam:ListRoles", "iam:GetRole"], "*"))
        .send()
        .await
        .expect("policy");
    let r = get(s.addr, "/console/iam/users", Some(&session)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("<a href=\"/console/iam/users/carol\">carol</a>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<label for=\"new-user-name\">"));

    role(
        &s,
        "Reader",
        &format!("arn:aws:iam::{ACCOUNT}:root"),
        &policy(&["s3:Get*"], "*"),
    )
    .await;
    let r = get(s.addr, "/console/iam/roles", Some(&session)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(">Reader</a>"), "{}", r.body);
    let r = get(s.addr, "/console/iam/roles/Reader", Some(&session)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("sts:AssumeRole"), "{}", r.body);
}

#[tokio::test]
async fn create_user_in_the_console_is_authorized_and_csrf_checked() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    user_with_password(&s, "dave", Some(&policy(&["iam:ListUsers"], "*")), false).await;
    let session = signed_in(&s, "dave").await;
    let page = get(s.addr, "/console/iam/users", Some(&session)).await;
    let csrf = page.hidden("csrf");
    let cookie = format!("porteiro_console={session}");

    // No token, a wrong token, another site's form: refused before anything runs.
    let r = post(s.addr, "/console/iam/users", &cookie, &[("UserName", "erin")]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = post(
        s.addr,
        "/console/iam/users",
        &cookie,
        &[("csrf", "0".repeat(64).as_str()), ("UserName", "erin")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = send(
        s.addr,
        "POST",
        "/console/iam/users",
        &[
            ("cookie", &cookie),
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", "http://evil.example"),
        ],
        form(&[("csrf", &csrf), ("UserName", "erin")]),
    )
    .await;
    assert_eq!(r.status, 403);

    // Without iam:CreateUser: the API's denial.
    let r = post(
        s.addr,
        "/console/iam/users",
        &cookie,
        &[("csrf", &csrf), ("UserName", "erin")],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains(&format!(
        "User: arn:aws:iam::{ACCOUNT}:user/dave is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/erin because no identity-based policy allows the iam:CreateUser action"
    )), "{}", r.body);
    let listed = s.root_iam().list_users().send().await.expect("list");
    assert!(!listed.users().iter().any(|u| u.user_name() == "erin"));

    // With it: created, as dave.
    s.root_iam()
        .put_user_policy()
        .user_name("dave")
        .policy_name("p")
        .policy_document(policy(
            &["iam:ListUsers", "iam:CreateUser", "iam:GetUser", "iam:DeleteUser"],
            "*",
        ))
        .send()
        .await
        .expect("policy");
    let r = post(
        s.addr,
        "/console/iam/users",
        &cookie,
        &[("csrf", &csrf), ("UserName", "erin")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), "/console/iam/users/erin");
    let got = s
        .root_iam()
        .get_user()
        .user_name("erin")
        .send()
        .await
        .expect("erin exists");
    assert_eq!(
        got.user().map(|u| u.arn()),
        Some(format!("arn:aws:iam::{ACCOUNT}:user/erin").as_str())
    );
    let view = get(s.addr, "/console/iam/users/erin", Some(&session)).await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert!(view.body.contains(&format!("arn:aws:iam::{ACCOUNT}:user/erin")));
    // Sections dave may not read show the API's denial.
    assert!(
        view.body.contains("iam:ListAttachedUserPolicies"),
        "{}",
        view.body
    );

    let r = post(
        s.addr,
        "/console/iam/users/erin/delete",
        &cookie,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(s.root_iam().get_user().user_name("erin").send().await.is_err());
}

#[tokio::test]
async fn sessions_end_at_their_duration_and_on_sign_out() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let creds = role_session(&s).await;
    user_with_password(&s, "frank", None, false).await;
    let password_session = signed_in(&s, "frank").await;
    let short = federate(&s, &creds, Some("900")).await;
    assert_eq!(get(s.addr, "/console/", Some(&short)).await.status, 200);

    // Sign-out: POST with the session's CSRF token; the session is gone server-side.
    let page = get(s.addr, "/console/", Some(&password_session)).await;
    let csrf = page.hidden("csrf");
    let cookie = format!("porteiro_console={password_session}");
    assert_eq!(post(s.addr, "/console/logout", &cookie, &[]).await.status, 403);
    let r = post(s.addr, "/console/logout", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("You have signed out"));
    assert!(r.set_cookie_line("porteiro_console").contains("Max-Age=0"));
    let r = get(s.addr, "/console/", Some(&password_session)).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/signin");

    // Expiry, checked on every request. (Relative to the seconds left now: the sign-out above
    // takes wall-clock time, and a whole second may have passed.)
    let left = remaining(&get(s.addr, "/console/", Some(&short)).await);
    assert_near(left, 900);
    s.cloud.advance_clock(left - 3);
    assert_eq!(get(s.addr, "/console/", Some(&short)).await.status, 200);
    s.cloud.advance_clock(4);
    let r = get(s.addr, "/console/", Some(&short)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("Your session has expired"), "{}", r.body);
    assert!(r.body.contains("https://broker.example/"), "{}", r.body);
    assert!(r.body.contains("href=\"/signin\""));
    // Deleted once found expired.
    let r = get(s.addr, "/console/", Some(&short)).await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn console_sessions_survive_a_restart() {
    let dir = TempDir::new("console");
    let (cookie, token) = {
        let s = Server::start_in(&dir.0);
        let creds = role_session(&s).await;
        let cookie = federate(&s, &creds, None).await;
        let token = token_of(&signin_token(&s, &creds, None).await);
        (cookie, token)
    };
    let s = Server::start_in(&dir.0);
    let home = get(s.addr, "/console/", Some(&cookie)).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("assumed-role/Console/alice"));
    assert_eq!(login(&s, &token, "/console/").await.status, 302);
    // Only hashes are stored.
    let db = std::fs::read(dir.0.join("cloud.sqlite3")).unwrap_or_default();
    let wal = std::fs::read(dir.0.join("cloud.sqlite3-wal")).unwrap_or_default();
    for stored in [db, wal] {
        let text = String::from_utf8_lossy(&stored);
        assert!(!text.contains(&cookie));
        assert!(!text.contains(&token));
    }
}

#[tokio::test]
async fn pages_need_a_session_and_s3_kms_pages_say_what_is_missing_or_denied() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let r = get(s.addr, "/console/", None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/signin");
    assert_eq!(get(s.addr, "/console/", Some(&"a".repeat(64))).await.status, 303);
    let css = get(s.addr, "/console/static/console.css", None).await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    assert_eq!(get(s.addr, "/console/static/console.js", None).await.status, 200);

    user_with_password(&s, "gina", None, false).await;
    let session = signed_in(&s, "gina").await;
    // gina has no policies: the S3 and KMS pages show the API's denials.
    let r = get(s.addr, "/console/s3", Some(&session)).await;
    assert!(
        r.body
            .contains("is not authorized to perform: s3:ListAllMyBuckets"),
        "/console/s3: {}",
        r.body
    );
    let r = get(s.addr, "/console/kms", Some(&session)).await;
    assert!(
        r.body.contains("is not authorized to perform: kms:ListKeys"),
        "/console/kms: {}",
        r.body
    );
    assert_eq!(get(s.addr, "/console/nope", Some(&session)).await.status, 404);
    // The API still answers on the same listener.
    let who = s
        .sts(&Creds::root())
        .get_caller_identity()
        .send()
        .await
        .expect("sts");
    assert_eq!(who.account(), Some(ACCOUNT));
}

#[tokio::test]
async fn console_session_may_outlive_its_credentials_with_session_duration() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    role_session(&s).await;
    let broker = user_credentials(&s, "broker").await;
    let out = s
        .sts(&broker)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/Console"))
        .role_session_name("short")
        .duration_seconds(900)
        .send()
        .await
        .expect("assume role");
    let c = out.credentials().expect("credentials");
    let creds = Creds {
        ak: c.access_key_id().into(),
        sk: c.secret_access_key().into(),
        token: Some(c.session_token().into()),
    };
    let long = federate(&s, &creds, Some("3600")).await;
    let default = federate(&s, &creds, None).await;
    s.cloud.advance_clock(1200);
    // The credentials have expired; the console session of SessionDuration has not, and it
    // still acts as the role session.
    let r = get(s.addr, "/console/iam/users", Some(&long)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("assumed-role/Console/short"), "{}", r.body);
    // Without SessionDuration the console session ended with the credentials.
    let r = get(s.addr, "/console/", Some(&default)).await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Your session has expired"));
}

#[tokio::test]
async fn rendered_values_are_escaped_and_uploads_are_csrf_checked() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let (cookie, csrf) = signin_form(&s).await;
    let evil = "\"><script>alert(1)</script>";
    let r = post(
        s.addr,
        "/signin",
        &cookie,
        &[
            ("csrf", &csrf),
            ("account", evil),
            ("username", evil),
            ("password", "x"),
        ],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(!r.body.contains("<script>alert"), "{}", r.body);
    assert!(
        r.body.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        r.body
    );

    user_with_password(&s, "hana", None, false).await;
    let session = signed_in(&s, "hana").await;
    let page = get(s.addr, "/console/s3/photos", Some(&session)).await;
    assert!(
        page.body.contains("enctype=\"multipart/form-data\""),
        "{}",
        page.body
    );
    let csrf = page.hidden("csrf");
    let upload = |token: &str| {
        format!(
            "--B0und\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n--B0und\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n\r\n--B0und\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B0und--\r\n"
        )
        .into_bytes()
    };
    let cookie = format!("porteiro_console={session}");
    let headers = [
        ("cookie", cookie.as_str()),
        ("content-type", "multipart/form-data; boundary=B0und"),
    ];
    let r = send(
        s.addr,
        "POST",
        "/console/s3/photos/upload",
        &headers,
        upload("wrong"),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = send(
        s.addr,
        "POST",
        "/console/s3/photos/upload",
        &headers,
        upload(&csrf),
    )
    .await;
    // The bucket does not exist; S3 says so once.
    assert_eq!(
        r.body.matches("The specified bucket does not exist").count(),
        1,
        "{}",
        r.body
    );
}

/// A multipart/form-data upload form: (content type, body).
fn upload_form(csrf: &str, key: &str, filename: &str, data: &str) -> (String, Vec<u8>) {
    let body = format!(
        "--B0und\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--B0und\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n--B0und\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n{data}\r\n--B0und--\r\n"
    );
    ("multipart/form-data; boundary=B0und".into(), body.into_bytes())
}

#[tokio::test]
async fn s3_pages_browse_upload_download_and_delete_as_the_signed_in_user() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let s3 = s.s3(&Creds::root());
    s3.create_bucket().bucket("photos").send().await.expect("bucket");
    s3.create_bucket().bucket("private").send().await.expect("bucket");
    // ivo may use the photos bucket only.
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::photos"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": "arn:aws:s3:::photos/*"}]})
    .to_string();
    user_with_password(&s, "ivo", Some(&doc), false).await;
    let session = signed_in(&s, "ivo").await;

    let r = get(s.addr, "/console/s3", Some(&session)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("href=\"/console/s3/photos\""), "{}", r.body);
    assert!(r.body.contains("href=\"/console/s3/private\""), "{}", r.body);
    let r = get(s.addr, "/console/s3/private", Some(&session)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body
            .contains("is not authorized to perform: s3:ListBucket on resource: arn:aws:s3:::private"),
        "{}",
        r.body
    );

    // Upload into a folder, then see it as a folder and as an object under it.
    let page = get(s.addr, "/console/s3/photos", Some(&session)).await;
    let csrf = page.hidden("csrf");
    let cookie = format!("porteiro_console={session}");
    let (ct, body) = upload_form(&csrf, "trips/", "día 1.txt", "hello from the console");
    let r = send(
        s.addr,
        "POST",
        "/console/s3/photos/upload",
        &[("cookie", cookie.as_str()), ("content-type", ct.as_str())],
        body,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let stored = s3
        .get_object()
        .bucket("photos")
        .key("trips/día 1.txt")
        .send()
        .await
        .expect("the object is in S3");
    assert_eq!(stored.content_type(), Some("text/plain"));
    let r = get(s.addr, "/console/s3/photos", Some(&session)).await;
    assert!(r.body.contains("trips/"), "{}", r.body);
    let r = get(s.addr, "/console/s3/photos?prefix=trips%2F", Some(&session)).await;
    assert!(r.body.contains("trips/día 1.txt"), "{}", r.body);

    let r = get(
        s.addr,
        &format!("/console/s3/photos/object?key={}", enc("trips/día 1.txt")),
        Some(&session),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "hello from the console");
    assert!(
        r.header("content-disposition").starts_with("attachment;"),
        "{:?}",
        r.headers
    );

    let r = post(
        s.addr,
        "/console/s3/photos/delete",
        &cookie,
        &[("csrf", &csrf), ("key", "trips/día 1.txt")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        s3.head_object()
            .bucket("photos")
            .key("trips/día 1.txt")
            .send()
            .await
            .is_err(),
        "deleted"
    );
}

#[tokio::test]
async fn s3_console_reads_sse_kms_objects_only_with_the_key() {
    let dir = TempDir::new("console");
    let s = Server::start_in(&dir.0);
    let s3 = s.s3(&Creds::root());
    s3.create_bucket().bucket("sealed").send().await.expect("bucket");
    s3.put_object()
        .bucket("sealed")
        .key("note.txt")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"under aws/s3"))
        .send()
        .await
        .expect("SSE-KMS put");
    let reader = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}]})
    .to_string();
    // The AWS managed key aws/s3 lets every principal of the account use it through S3.
    user_with_password(&s, "joao", Some(&reader), false).await;
    let session = signed_in(&s, "joao").await;
    let r = get(s.addr, "/console/s3/sealed/object?key=note.txt", Some(&session)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "under aws/s3");

    // A customer managed key whose policy leaves it to IAM: without kms:Decrypt the download
    // shows KMS's denial on the object's page.
    let kms = s.kms(&Creds::root());
    let key = kms.create_key().send().await.expect("key");
    let key_arn = key.key_metadata().and_then(|m| m.arn()).expect("arn").to_string();
    s3.put_object()
        .bucket("sealed")
        .key("cmk.txt")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"customer key"))
        .send()
        .await
        .expect("SSE-KMS put");
    let r = get(s.addr, "/console/s3/sealed/object?key=cmk.txt", Some(&session)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains(&format!(
            "is not authorized to perform: kms:Decrypt on resource: {key_arn}"
        )),
        "{}",
        r.body
    );
}
