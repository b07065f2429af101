//! The console gateway with real parts on 127.0.0.1: the embedded cloud serving its console,
//! the access manager over SQLite with the AWS SDK connector and a clock the test moves, the
//! recorder, and the console gateway on its own listener (`console::serve`, the same dispatch
//! `porteiro serve` uses). A Cloud console session is opened through a launch URL, used, and
//! cut at its expiry: the next page is "You have been disconnected", the cloud console session
//! is signed out, and the recording verifies.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use porteiro_cloud::{Cloud, CloudConfig, RootCredentials};
use porteiro_gateway::console::{self, ConsoleGateway};
use porteiro_gateway::recorder::{Recorder, system_millis};
use porteiro_manager::Manager;
use porteiro_manager::clock::OffsetClock;
use porteiro_manager::connector::AwsConnector;
use porteiro_manager::manager::{GroupInput, NewAccount, NewCloudUser, NewUser, StartSession};
use porteiro_manager::model::{Permission, SessionKind};
use porteiro_manager::store::SqliteStore;
use porteiro_manager::vault::{KeySource, Secret, Vault};
use porteiro_recording::{LocalDir, SessionId, Verdict, verify_stored};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCOUNT: &str = "123456789012";

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

async fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    Answer {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    }
}

fn cloud_console_sessions(dir: &std::path::Path) -> i64 {
    let db =
        rusqlite::Connection::open(dir.join("cloud").join("cloud.sqlite3")).expect("the cloud's database");
    db.query_row(
        "SELECT count(*) FROM entities WHERE kind = 'console_session'",
        [],
        |r| r.get(0),
    )
    .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_session_is_proxied_and_cut_at_its_expiry() {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "porteiro-gw-console-{}-{}",
        std::process::id(),
        system_millis()
    )));
    std::fs::create_dir_all(&dir.0).expect("temp dir");

    // The embedded cloud.
    let (cloud, _) = Cloud::open(&CloudConfig {
        data_dir: dir.0.join("cloud"),
        account_id: Some(ACCOUNT.into()),
        root_credentials: Some(RootCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        }),
    })
    .expect("the cloud opens");
    let cloud_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let cloud_url = format!("http://{}", cloud_listener.local_addr().expect("addr"));
    tokio::spawn(cloud.clone().serve(cloud_listener));

    // The manager, its clock moved together with the cloud's.
    let clock = Arc::new(OffsetClock::new());
    let vault = Vault::load(&KeySource::Value(Secret::new(
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )))
    .expect("vault");
    let manager = Arc::new(Manager::new(
        Arc::new(SqliteStore::open(&dir.0.join("manager.sqlite3")).expect("store")),
        vault,
        Arc::new(AwsConnector::with_clock(clock.clone())),
        clock.clone(),
    ));
    manager
        .bootstrap_admin("admin", &Secret::new("admin-password-1"))
        .await
        .expect("admin");
    let (token, _) = manager
        .login("admin", "admin-password-1", None)
        .await
        .expect("login");
    let admin = manager.authenticate(token.expose(), None).expect("admin actor");
    let account = manager
        .create_account(
            &admin,
            NewAccount {
                name: "embedded".into(),
                endpoint: Some(cloud_url.clone()),
                region: "us-east-1".into(),
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            },
        )
        .await
        .expect("account");
    let ana = manager
        .create_user(
            &admin,
            NewUser {
                name: "Ana".into(),
                username: "ana".into(),
                email: Some("ana@example.com".into()),
                password: "ana-password-1".into(),
                admin: false,
            },
        )
        .await
        .expect("ana");
    manager
        .create_group(
            &admin,
            GroupInput {
                name: "console".into(),
                description: String::new(),
                members: vec!["ana".into()],
                permissions: vec![Permission::StartSessions],
            },
        )
        .await
        .expect("group");
    let cu = manager
        .create_cloud_user(
            &admin,
            NewCloudUser {
                account_id: account.id.clone(),
                owner: ana.id.clone(),
                name: None,
                policies: vec![],
                ttl: None,
            },
        )
        .await
        .expect("cloud user");

    // The recorder and the console gateway, observing the manager (the gateway first).
    let key = manager.recording_key().await.expect("recording key");
    let (recorder, _) =
        Recorder::local(dir.0.join("recordings"), &key, Arc::new(system_millis)).expect("recorder");
    let gateway = ConsoleGateway::new(manager.clone(), recorder.clone());
    manager.add_observer(gateway.clone());
    manager.add_observer(Arc::new(recorder.clone()));
    tokio::spawn(gateway.clone().watch());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(console::serve(manager.clone(), gateway.clone(), listener));

    // Ana's Cloud console session, opened through a launch URL.
    let (ana_token, _) = manager.login("ana", "ana-password-1", None).await.expect("login");
    let ana_actor = manager.authenticate(ana_token.expose(), None).expect("ana actor");
    let started = manager
        .start_session(
            &ana_actor,
            StartSession {
                kind: SessionKind::Console,
                cloud_user_id: cu.id.clone(),
                role: None,
                duration: Some(900),
            },
        )
        .await
        .expect("console session");
    let id = started.session.id.clone();
    let bearer = format!("Bearer {}", ana_token.expose());
    let launch = http(
        &addr,
        "POST",
        &format!("/api/v1/sessions/{id}/launch"),
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(launch.status, 201, "{}", launch.body);
    let v: serde_json::Value = serde_json::from_str(&launch.body).expect("json");
    let path = v["path"].as_str().expect("path");
    let opened = http(&addr, "GET", path, &[]).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let cookie = opened
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("the session cookie")
        .to_string();
    assert!(gateway.is_open(&id));
    let home = http(
        &addr,
        "GET",
        &format!("/sessions/{id}/console/"),
        &[("Cookie", &cookie)],
    )
    .await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body
            .contains(&format!("arn:aws:iam::{ACCOUNT}:user/{}", cu.name)),
        "{}",
        home.body
    );
    assert_eq!(cloud_console_sessions(&dir.0), 1);

    // A second gateway over the same store (a restarted Porteiro, or another instance): the
    // same cookie keeps using the console, without a new launch or a new sign-in to the cloud.
    let second = ConsoleGateway::new(manager.clone(), recorder.clone());
    assert!(second.is_open(&id), "the kept console is loaded at start-up");
    let listener2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr2 = listener2.local_addr().expect("addr").to_string();
    tokio::spawn(console::serve(manager.clone(), second.clone(), listener2));
    let again = http(
        &addr2,
        "GET",
        &format!("/sessions/{id}/console/"),
        &[("Cookie", &cookie)],
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(
        again
            .body
            .contains(&format!("arn:aws:iam::{ACCOUNT}:user/{}", cu.name)),
        "{}",
        again.body
    );
    assert_eq!(cloud_console_sessions(&dir.0), 1, "no new sign-in to the cloud");
    let stranger = http(&addr2, "GET", &format!("/sessions/{id}/console/"), &[]).await;
    assert_eq!(stranger.status, 401, "{}", stranger.body);
    // The launch URL, used once on the first gateway, does not work on the second.
    let reused = http(&addr2, "GET", path, &[]).await;
    assert_eq!(reused.status, 403, "{}", reused.body);

    // The session's time is up: both clocks move past its expiry.
    clock.advance(901);
    cloud.advance_clock(901);
    let moved = Instant::now();
    let cut = http(
        &addr,
        "GET",
        &format!("/sessions/{id}/console/"),
        &[("Cookie", &cookie)],
    )
    .await;
    assert_eq!(cut.status, 410, "{}", cut.body);
    assert!(cut.body.contains("You have been disconnected"), "{}", cut.body);
    assert!(
        cut.body.contains("expired") && cut.body.contains(&id),
        "{}",
        cut.body
    );
    assert!(
        cut.headers.contains("Max-Age=0"),
        "the cookie is cleared: {}",
        cut.headers
    );
    // The cloud console session (a 12-hour password session) is signed out within a second.
    while cloud_console_sessions(&dir.0) != 0 {
        assert!(
            moved.elapsed() < Duration::from_secs(1),
            "the cloud console was not signed out"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!gateway.is_open(&id));

    // The manager's end (the scheduler's job) closes the recording, which verifies.
    manager.run_due_jobs().await.expect("jobs");
    recorder.flush().await.expect("flush");
    let store = LocalDir::new(dir.0.join("recordings"));
    let report = verify_stored(
        &store,
        &SessionId::new(&id).expect("id"),
        Some(recorder.public_key()),
    )
    .expect("verify");
    assert!(matches!(report.verdict, Verdict::Verified { .. }), "{report:?}");
    let events =
        std::fs::read_to_string(dir.0.join("recordings").join(&id).join("events.jsonl")).expect("events");
    for expected in [
        "\"kind\":\"sessionStart\"",
        "with the vaulted password",
        "\"kind\":\"consoleExchange\",\"method\":\"GET\",\"path\":\"/console/\"",
        "signed the cloud console session out",
        "\"kind\":\"sessionEnd\",\"reason\":\"expired\"",
    ] {
        assert!(events.contains(expected), "{expected} in {events}");
    }
}
