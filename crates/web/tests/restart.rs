//! Web sign-ins survive a restart: a new `Web` over the same store (what a restarted Porteiro,
//! or a second one over the same database, is) keeps the browser signed in, with the same CSRF
//! token and the same deadlines; a sign-out on one ends it on the other; the store holds no
//! secret in clear and the cookie only as its SHA-256.

use std::path::PathBuf;
use std::sync::Arc;

use hyper::StatusCode;
use porteiro_manager::Manager;
use porteiro_manager::clock::OffsetClock;
use porteiro_manager::connector::AwsConnector;
use porteiro_manager::store::{SqliteStore, Store};
use porteiro_manager::vault::{Secret, Vault};
use porteiro_web::{Web, WebConfig};

mod support;
use support::{Jar, csrf, send};

const PASSWORD: &str = "Admin-Password-2026";

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn a_sign_in_survives_a_restart_with_its_deadlines() {
    let dir = Dir(std::env::temp_dir().join(format!("porteiro-web-restart-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let store = Arc::new(SqliteStore::open(&dir.0.join("manager.sqlite3")).expect("store"));
    let clock = Arc::new(OffsetClock::new());
    let manager = Arc::new(Manager::new(
        store.clone(),
        Vault::from_key(&[7u8; 32]),
        Arc::new(AwsConnector::with_clock(clock.clone())),
        clock.clone(),
    ));
    manager
        .bootstrap_admin("admin", &Secret::new(PASSWORD))
        .await
        .expect("admin");
    let first = Web::new(manager.clone(), WebConfig::default());
    let mut jar = Jar::default();
    let (_, _, page, _) = send(&first, &mut jar, "GET", "/signin", "", &[]).await;
    let token = csrf(&page);
    let (status, _, _, _) = send(
        &first,
        &mut jar,
        "POST",
        "/signin",
        &format!("csrf={token}&username=admin&password={PASSWORD}"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page, _) = send(&first, &mut jar, "GET", "/", "", &[]).await;
    let csrf_before = csrf(&page);
    let cookie = jar
        .0
        .iter()
        .find(|(k, _)| k == "porteiro_session")
        .map(|(_, v)| v.clone())
        .expect("the sign-in cookie");

    // The store has the sign-in, under the cookie's hash, with its secrets sealed.
    let rows = store.list_state("web.session", 0).expect("rows");
    assert_eq!(rows.len(), 1);
    let (key, body) = &rows[0];
    assert_ne!(key, &cookie);
    assert_eq!(key.len(), 64, "a SHA-256 in hex: {key}");
    assert!(!body.contains(&csrf_before), "the CSRF token is sealed: {body}");
    assert!(!body.contains(&cookie), "{body}");

    // "Restart": a new Web over the same store. The same cookie and CSRF token work.
    drop(first);
    let second = Web::new(manager.clone(), WebConfig::default());
    clock.advance(10 * 60);
    let (status, _, page, _) = send(&second, &mut jar, "GET", "/accounts", "", &[]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(csrf(&page), csrf_before, "the same CSRF token");
    assert_eq!(second.signed_in(), 1);

    // The idle deadline counts from the last activity the store saw: 31 minutes idle ends it,
    // on a third instance too.
    let third = Web::new(manager.clone(), WebConfig::default());
    clock.advance(31 * 60);
    let (status, location, _, _) = send(&third, &mut jar, "GET", "/", "", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.as_deref().is_some_and(|l| l.starts_with("/signin")),
        "{location:?}"
    );
    assert!(
        store
            .list_state("web.session", manager.now())
            .expect("rows")
            .is_empty()
    );
    assert_eq!(
        manager.purge_state().expect("purge"),
        1,
        "the expired row is purged"
    );

    // A sign-out on one instance ends the sign-in on another (its cache notwithstanding).
    let mut jar = Jar::default();
    let a = Web::new(manager.clone(), WebConfig::default());
    let b = Web::new(manager.clone(), WebConfig::default());
    let (_, _, page, _) = send(&a, &mut jar, "GET", "/signin", "", &[]).await;
    let token = csrf(&page);
    send(
        &a,
        &mut jar,
        "POST",
        "/signin",
        &format!("csrf={token}&username=admin&password={PASSWORD}"),
        &[],
    )
    .await;
    let (status, _, page, _) = send(&b, &mut jar, "GET", "/", "", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let token = csrf(&page);
    let signed_in = jar.0.clone();
    let (status, location, _, _) =
        send(&a, &mut jar, "POST", "/signout", &format!("csrf={token}"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/signin?why=out"));
    let mut old = Jar(signed_in);
    let (status, _, _, _) = send(&b, &mut old, "GET", "/", "", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "signed out everywhere");
}
