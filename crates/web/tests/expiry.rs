//! Against the real embedded cloud on 127.0.0.1 (the access manager's test world,
//! `crates/manager/tests/common`): a Cloud console start refused (the unmet requirement under its
//! row); a JIT session started through the pages, with its countdown; an administrator following
//! its recording live (Live view, an open recording); then, both clocks moved past the expiry and
//! the scheduler's due jobs run, "You have been disconnected" and the status the page polls.

use std::sync::Arc;

use hyper::StatusCode;
use porteiro_manager::manager::{NewCloudUser, NewCredential};
use porteiro_manager::model::Permission;
use porteiro_recording::{
    ApiCall, Durability, EventKind, LocalDir, RecordingStore, SessionId, SessionStart, SessionWriter,
};
use porteiro_web::{Web, WebConfig};

#[path = "../../manager/tests/common/mod.rs"]
mod common;
mod support;

use common::World;
use support::{Jar, csrf, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jit_session_started_in_the_ui_is_disconnected_at_its_expiry() {
    let w = World::new().await;
    let account = w.account().await;
    w.person("ana", Some("ana@example.com"), &[Permission::StartJitSessions])
        .await;
    let cu = w
        .manager
        .create_cloud_user(
            &w.admin,
            NewCloudUser {
                account_id: account.clone(),
                owner: "ana".into(),
                name: None,
                policies: vec![],
                ttl: None,
            },
        )
        .await
        .expect("cloud user");
    w.manager
        .create_credential(
            &w.admin,
            NewCredential {
                cloud_user_id: cu.id.clone(),
                ttl: None,
            },
        )
        .await
        .expect("credential");
    w.role("Admin", cu.arn.as_deref().expect("arn"), 3600).await;
    w.manager
        .put_jit_settings(
            &w.admin,
            &account,
            porteiro_manager::manager::JitInput {
                active: true,
                description: String::new(),
                jit_enabled: true,
                duration: 3600,
                roles: vec!["Admin".into()],
            },
        )
        .await
        .expect("jit settings");

    let recordings = w.dir.path().join("recordings");
    let web = Web::new(
        Arc::clone(&w.manager),
        WebConfig {
            recordings: Some(Arc::new(porteiro_recording::LocalDir::new(&recordings))),
            ..WebConfig::default()
        },
    );
    let mut jar = Jar::default();
    let (_, _, page, _) = send(&web, &mut jar, "GET", "/signin", "", &[]).await;
    let token = csrf(&page);
    let (status, _, _, _) = send(
        &web,
        &mut jar,
        "POST",
        "/signin",
        &format!("csrf={token}&username=ana&password=ana-password-1"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Remote access ➔ Cloud console: ana's group lacks "Users can start sessions"; the unmet
    // requirement is shown under the row whose Start session she pressed.
    let (_, _, page, _) = send(&web, &mut jar, "GET", "/remote/console", "", &[]).await;
    let token = csrf(&page);
    let (status, _, page, _) = send(
        &web,
        &mut jar,
        "POST",
        "/remote/console/start",
        &format!("csrf={token}&cloud_user_id={}", cu.id),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let row = page
        .find(&format!(r#"<tr id="row-{}">"#, cu.id))
        .expect("the row");
    let error = page.find(r#"<tr class="row-error">"#).expect("the error row");
    assert!(error > row, "the error follows its row");
    assert!(
        page[error..]
            .contains("is in no access group with the permission &quot;Users can start sessions&quot;"),
        "{page}"
    );

    // Remote access ➔ JIT Access: the user, Start session, the Role, 900 seconds.
    let (_, _, page, _) = send(&web, &mut jar, "GET", "/remote/jit", "", &[]).await;
    assert!(
        page.contains(&format!(r#"href="/remote/jit/{}""#, cu.id)),
        "{page}"
    );
    let (_, _, page, _) = send(&web, &mut jar, "GET", &format!("/remote/jit/{}", cu.id), "", &[]).await;
    let token = csrf(&page);
    let (status, _, page, _) = send(
        &web,
        &mut jar,
        "POST",
        &format!("/remote/jit/{}", cu.id),
        &format!("csrf={token}&role=Admin&duration=900"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("export AWS_ACCESS_KEY_ID=ASIA"), "{page}");
    let id = page
        .split("/my/sessions/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the session page link")
        .to_string();
    let (_, _, page, _) = send(&web, &mut jar, "GET", &format!("/my/sessions/{id}"), "", &[]).await;
    assert!(
        page.contains(r#"data-remaining="900""#) || page.contains(r#"data-remaining="899""#),
        "{page}"
    );
    assert!(
        page.contains("15 min 00 s") || page.contains("14 min 59 s"),
        "{page}"
    );
    assert!(!page.contains("AWS_SECRET_ACCESS_KEY"), "secrets only once");

    // While it runs, an administrator follows its recording (as the gateway writes it) live.
    let store: Arc<dyn RecordingStore> = Arc::new(LocalDir::new(&recordings));
    let mut writer = SessionWriter::start(
        store,
        SessionId::new(&id).expect("id"),
        1_000,
        SessionStart {
            session_kind: "jit".into(),
            user: "ana".into(),
            account: "embedded".into(),
            ..SessionStart::default()
        },
        Durability::EachEvent,
    )
    .expect("recording");
    writer
        .append(
            2_000,
            EventKind::ApiCall(ApiCall {
                service: "iam".into(),
                action: "ListRoles".into(),
                status: 200,
                ..ApiCall::default()
            }),
        )
        .expect("append");
    let mut admin = Jar::default();
    let (_, _, page, _) = send(&web, &mut admin, "GET", "/signin", "", &[]).await;
    let token = csrf(&page);
    send(
        &web,
        &mut admin,
        "POST",
        "/signin",
        &format!("csrf={token}&username=admin&password=admin-password-1"),
        &[],
    )
    .await;
    let (_, _, page, _) = send(&web, &mut admin, "GET", "/pam/sessions?status=active", "", &[]).await;
    assert!(
        page.contains(&format!(r#"<a href="/pam/sessions/{id}/replay">Live view</a>"#)),
        "{page}"
    );
    let (_, _, page, _) = send(
        &web,
        &mut admin,
        "GET",
        &format!("/pam/sessions/{id}/replay"),
        "",
        &[],
    )
    .await;
    assert!(page.contains(r#"data-refresh="3""#), "{page}");
    assert!(page.contains("ListRoles"), "{page}");
    let (_, _, page, _) = send(
        &web,
        &mut admin,
        "GET",
        &format!("/pam/sessions/{id}/verify"),
        "",
        &[],
    )
    .await;
    assert!(page.contains("Open: the chain verifies so far"), "{page}");
    // Ana may not see recordings.
    let (status, _, page, _) = send(
        &web,
        &mut jar,
        "GET",
        &format!("/pam/sessions/{id}/replay"),
        "",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("Users can view recordings"), "{page}");
    drop(writer);

    // The expiry: both clocks past it, the scheduler's due jobs run.
    w.advance(901);
    w.manager.run_due_jobs().await.expect("due jobs");
    let (_, _, status_json, _) = send(
        &web,
        &mut jar,
        "GET",
        &format!("/my/sessions/{id}/status"),
        "",
        &[],
    )
    .await;
    assert!(status_json.contains(r#""status":"expired""#), "{status_json}");
    let (status, _, page, _) = send(&web, &mut jar, "GET", &format!("/my/sessions/{id}"), "", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>You have been disconnected</h1>"), "{page}");
    assert!(page.contains("The session&#39;s duration ended"), "{page}");
    // In Portuguese too.
    let (_, _, page, _) = send(
        &web,
        &mut jar,
        "GET",
        &format!("/my/sessions/{id}"),
        "",
        &[("accept-language", "pt-BR")],
    )
    .await;
    assert!(page.contains("<h1>Você foi desconectado</h1>"), "{page}");
    assert!(page.contains("A duração da sessão expirou"), "{page}");
}
