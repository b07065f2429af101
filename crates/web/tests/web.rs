//! The web UI in process over a real `Manager` (SQLite in a temporary directory, the vault, the
//! AWS SDK connector, a clock the test moves): sign-in and its double-submit token, the session
//! cookie, CSRF and `Origin` refusals, idle and absolute timeouts, sign-out, languages, and a
//! manager error placed next to its field. (The browser test in `crates/porteiro/tests` drives the
//! whole UI in Chromium against the embedded cloud.)

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::StatusCode;
use porteiro_manager::Manager;
use porteiro_manager::clock::OffsetClock;
use porteiro_manager::connector::AwsConnector;
use porteiro_manager::store::SqliteStore;
use porteiro_manager::vault::{Secret, Vault};
use porteiro_web::{Web, WebConfig};

mod support;
use support::{Jar, csrf, send};

const PASSWORD: &str = "Admin-Password-2026";

struct Fixture {
    web: Web,
    manager: Arc<Manager>,
    clock: Arc<OffsetClock>,
    dir: PathBuf,
}

impl Fixture {
    fn web_manager(&self) -> Arc<Manager> {
        self.manager.clone()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture(tag: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("porteiro-web-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(&dir.join("manager.sqlite3")).expect("store");
    let clock = Arc::new(OffsetClock::new());
    let manager = Arc::new(Manager::new(
        Arc::new(store),
        Vault::from_key(&[7u8; 32]),
        Arc::new(AwsConnector::with_clock(clock.clone())),
        clock.clone(),
    ));
    manager
        .bootstrap_admin("admin", &Secret::new(PASSWORD))
        .await
        .expect("admin");
    Fixture {
        web: Web::new(manager.clone(), WebConfig::default()),
        manager,
        clock,
        dir,
    }
}

async fn sign_in(f: &Fixture, jar: &mut Jar) {
    let (_, _, page, _) = send(&f.web, jar, "GET", "/signin", "", &[]).await;
    let token = csrf(&page);
    let (status, location, _, _) = send(
        &f.web,
        jar,
        "POST",
        "/signin?next=%2Faccounts",
        &format!("csrf={token}&username=admin&password={PASSWORD}"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/accounts"));
}

#[tokio::test]
async fn sign_in_needs_the_form_token_and_the_password_and_sets_a_strict_http_only_cookie() {
    let f = fixture("signin").await;
    let mut jar = Jar::default();
    // Pages need a sign-in.
    let (status, location, _, _) = send(&f.web, &mut jar, "GET", "/users", "", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/signin?next=%2Fusers"));
    // No double-submit token: refused.
    let (status, _, page, _) = send(
        &f.web,
        &mut jar,
        "POST",
        "/signin",
        &format!("username=admin&password={PASSWORD}"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("The sign-in form expired"), "{page}");
    // A wrong password: the message, the username kept, the password not.
    let token = csrf(&page);
    let (status, _, page, _) = send(
        &f.web,
        &mut jar,
        "POST",
        "/signin",
        &format!("csrf={token}&username=admin&password=wrong-password-1"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Wrong username or password"), "{page}");
    assert!(page.contains(r#"value="admin""#), "{page}");
    assert!(!page.contains("wrong-password-1"), "{page}");
    // The right one.
    let (_, _, _, resp) = send(
        &f.web,
        &mut jar,
        "POST",
        "/signin",
        &format!("csrf={token}&username=admin&password={PASSWORD}"),
        &[],
    )
    .await;
    let cookie = resp
        .headers()
        .get_all(hyper::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .find(|c| c.starts_with("porteiro_session="))
        .expect("the session cookie");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert_eq!(f.web.signed_in(), 1);
    let (status, _, page, resp) = send(&f.web, &mut jar, "GET", "/accounts", "", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Signed in as <strong>admin</strong>"), "{page}");
    let csp = resp.headers()["content-security-policy"].to_str().expect("csp");
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(
        !page.contains("<script>") && !page.contains(" style="),
        "no inline code"
    );
    // Behind TLS the cookie is Secure.
    let mut tls = Jar::default();
    let (_, _, page, _) = send(&f.web, &mut tls, "GET", "/signin", "", &[]).await;
    let token = csrf(&page);
    let (_, _, _, resp) = send(
        &f.web,
        &mut tls,
        "POST",
        "/signin",
        &format!("csrf={token}&username=admin&password={PASSWORD}"),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    let cookies: Vec<String> = resp
        .headers()
        .get_all(hyper::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("porteiro_session=") && c.ends_with("; Secure")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn posts_without_the_token_or_from_another_origin_are_refused_and_change_nothing() {
    let f = fixture("csrf").await;
    let mut jar = Jar::default();
    sign_in(&f, &mut jar).await;
    let (_, _, page, _) = send(&f.web, &mut jar, "GET", "/platform-users", "", &[]).await;
    let token = csrf(&page);
    let form = "name=Eve&username=eve&password=Eve-Password-2026";
    let (status, _, page, _) = send(&f.web, &mut jar, "POST", "/platform-users/new", form, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("reload the page"), "{page}");
    let with_token = format!("{form}&csrf={token}");
    let (status, _, _, _) = send(
        &f.web,
        &mut jar,
        "POST",
        "/platform-users/new",
        &with_token,
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, page, _) = send(&f.web, &mut jar, "GET", "/platform-users", "", &[]).await;
    assert!(!page.contains("<td>eve</td>"), "nothing was created");
    // With the token and this origin it works.
    let (status, location, _, _) = send(
        &f.web,
        &mut jar,
        "POST",
        "/platform-users/new",
        &with_token,
        &[("origin", "http://127.0.0.1:8080")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "created");
    assert_eq!(location.as_deref(), Some("/platform-users"));
    let (_, _, page, _) = send(&f.web, &mut jar, "GET", "/platform-users", "", &[]).await;
    assert!(page.contains("Platform user created: eve"), "{page}");
    assert!(page.contains("<td>eve</td>"), "{page}");
}

#[tokio::test]
async fn a_sign_in_ends_after_idle_time_and_at_its_absolute_limit_and_at_sign_out() {
    let f = fixture("timeouts").await;
    // Idle: 29 minutes is fine, then 31 minutes without a page ends it.
    let mut jar = Jar::default();
    sign_in(&f, &mut jar).await;
    f.clock.advance(29 * 60);
    let (status, _, _, _) = send(&f.web, &mut jar, "GET", "/", "", &[]).await;
    assert_eq!(status, StatusCode::OK);
    f.clock.advance(31 * 60);
    let (status, location, _, _) = send(&f.web, &mut jar, "GET", "/accounts", "", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/signin?next=%2Faccounts&why=idle"));
    let (_, _, page, _) = send(&f.web, &mut jar, "GET", "/signin?why=idle", "", &[]).await;
    assert!(page.contains("after a period without activity"), "{page}");

    // Absolute: active every 20 minutes, still ended after 12 hours.
    let mut jar = Jar::default();
    sign_in(&f, &mut jar).await;
    for _ in 0..35 {
        f.clock.advance(20 * 60);
        let (status, _, _, _) = send(&f.web, &mut jar, "GET", "/", "", &[]).await;
        assert_eq!(status, StatusCode::OK);
    }
    f.clock.advance(20 * 60 + 1);
    let (status, location, _, _) = send(&f.web, &mut jar, "GET", "/", "", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.as_deref().is_some_and(|l| l.ends_with("why=expired")),
        "{location:?}"
    );

    // Sign-out.
    let mut jar = Jar::default();
    sign_in(&f, &mut jar).await;
    let (_, _, page, _) = send(&f.web, &mut jar, "GET", "/", "", &[]).await;
    let token = csrf(&page);
    let (status, location, _, _) = send(
        &f.web,
        &mut jar,
        "POST",
        "/signout",
        &format!("csrf={token}"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/signin?why=out"));
    let (status, _, _, _) = send(&f.web, &mut jar, "GET", "/", "", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn portuguese_from_accept_language_and_errors_next_to_their_field() {
    let f = fixture("lang").await;
    let mut jar = Jar::default();
    let pt = [("accept-language", "pt-BR,pt;q=0.9,en;q=0.5")];
    let (_, _, page, _) = send(&f.web, &mut jar, "GET", "/signin", "", &pt).await;
    assert!(page.contains(r#"<html lang="pt-BR">"#), "{page}");
    assert!(page.contains("<h1>Entrar</h1>"), "{page}");
    assert!(page.contains(">Senha</label>"), "{page}");
    sign_in(&f, &mut jar).await;
    let (_, _, page, _) = send(&f.web, &mut jar, "GET", "/settings/jit", "", &pt).await;
    assert!(page.contains("Configurações"), "{page}");
    assert!(page.contains("Acesso remoto"), "{page}");
    assert!(page.contains(r#"<summary aria-label="Ações""#), "{page}");
    // A platform user with a short password: the error under Senha, in the form.
    let (_, _, page, _) = send(&f.web, &mut jar, "GET", "/platform-users", "", &pt).await;
    let token = csrf(&page);
    let (status, _, page, _) = send(
        &f.web,
        &mut jar,
        "POST",
        "/platform-users/new",
        &format!("csrf={token}&name=Ana&username=ana&email=ana%40example.com&password=short"),
        &pt,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let field = page
        .find(r#"id="new-user-password""#)
        .expect("the password field");
    let error = page.find(r#"id="new-user-password-error""#).expect("its error");
    assert!(
        error > field && error - field < 400,
        "the error follows the field"
    );
    // Worded by the error's kind, not in the manager's English.
    assert!(page.contains("use de 12 a 256 caracteres"), "{page}");
    assert!(!page.contains("use 12 to 256 characters"), "{page}");
    assert!(
        page.contains(r#"value="ana@example.com""#),
        "the other values are kept"
    );
    // The cookie overrides Accept-Language.
    let (status, location, _, resp) = send(
        &f.web,
        &mut jar,
        "GET",
        "/lang?to=en&back=%2Fsettings%2Fjit",
        "",
        &pt,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/settings/jit"));
    assert!(
        resp.headers()[hyper::header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .starts_with("porteiro_lang=en;")
    );
    let (_, _, page, _) = send(&f.web, &mut jar, "GET", "/settings/jit", "", &pt).await;
    assert!(
        page.contains("<h1>JIT Access</h1>") && page.contains(">Settings<"),
        "{page}"
    );
    // A redirect elsewhere is refused.
    let (_, location, _, _) = send(
        &f.web,
        &mut jar,
        "GET",
        "/lang?to=pt-BR&back=%2F%2Fevil.example",
        "",
        &[],
    )
    .await;
    assert_eq!(location.as_deref(), Some("/"));
}

/// One raw HTTP/1.1 GET: (status line, body).
async fn raw_get(addr: SocketAddr, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

#[tokio::test]
async fn the_api_listener_hands_every_other_path_to_the_web() {
    let f = fixture("dispatch").await;
    let manager = f.web_manager();
    let web = Arc::new(Web::new(manager.clone(), WebConfig::default()));
    let fallback: porteiro_manager::api::Fallback = Arc::new(move |req, remote| {
        let web = web.clone();
        Box::pin(async move { web.receive(req, remote).await })
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(porteiro_manager::api::serve_with(
        manager,
        listener,
        None,
        Some(fallback),
        None,
    ));
    let (status, _) = raw_get(addr, "/").await;
    assert!(status.contains("303"), "{status}");
    let (status, body) = raw_get(addr, "/static/web.js").await;
    assert!(
        status.contains("200") && body.contains("data-remaining"),
        "{status}"
    );
    let (status, body) = raw_get(addr, "/api/v1/openapi.json").await;
    assert!(
        status.contains("200") && body.contains("\"openapi\""),
        "{status} {body}"
    );
    // The gateway's paths are not the web's (no gateway is mounted here).
    let (status, body) = raw_get(addr, "/sessions/ps-1/").await;
    assert!(
        status.contains("404") && body.contains("session gateway"),
        "{status} {body}"
    );
}
