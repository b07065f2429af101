//! The access manager's use cases against the real embedded cloud on 127.0.0.1, through the
//! AWS SDK connector: every seed rule, sessions that work and stop working, TTL removal.

mod common;

use common::*;
use porteiro_manager::Error;
use porteiro_manager::manager::*;
use porteiro_manager::model::*;
use porteiro_manager::rules::Unmet;
use porteiro_manager::store::AuditFilter;

use aws_sdk_iam::error::ProvideErrorMetadata;

const ALL: [Permission; 10] = Permission::ALL;

async fn cloud_user(w: &World, account: &str, owner: &str, ttl: Option<i64>) -> CloudUserView {
    w.manager
        .create_cloud_user(
            &w.admin,
            NewCloudUser {
                account_id: account.into(),
                owner: owner.into(),
                name: None,
                policies: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                ttl,
            },
        )
        .await
        .expect("cloud user")
}

async fn credential(w: &World, cu: &str) -> CreatedCredential {
    w.manager
        .create_credential(
            &w.admin,
            NewCredential {
                cloud_user_id: cu.into(),
                ttl: None,
            },
        )
        .await
        .expect("credential")
}

async fn jit(w: &World, account: &str, duration: i64, roles: &[&str]) -> JitSettings {
    w.manager
        .put_jit_settings(
            &w.admin,
            account,
            JitInput {
                active: true,
                description: "embedded".into(),
                jit_enabled: true,
                duration,
                roles: roles.iter().map(|r| r.to_string()).collect(),
            },
        )
        .await
        .expect("jit settings")
}

/// A ready world: account, ana (e-mail, every permission), her cloud user with a credential,
/// role Admin trusting her, JIT settings allowing Admin for `duration`.
async fn ready(duration: i64) -> (World, String, Actor, CloudUserView) {
    let w = World::new().await;
    let account = w.account().await;
    let ana = w.person("ana", Some("ana@example.com"), &ALL).await;
    let cu = cloud_user(&w, &account, "ana", None).await;
    credential(&w, &cu.id).await;
    w.role("Admin", cu.arn.as_deref().expect("arn"), 3600).await;
    jit(&w, &account, duration, &["Admin"]).await;
    (w, account, ana, cu)
}

fn requirements(e: Error) -> Vec<Unmet> {
    match e {
        Error::Requirements(u) => u,
        other => panic!("expected unmet requirements, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_checked_with_get_caller_identity() {
    let w = World::new().await;
    let id = w.account().await;
    let a = w.manager.get_account(&w.admin, &id).expect("account");
    assert_eq!(a.status, AccountStatus::Connectable);
    assert_eq!(a.aws_account_id.as_deref(), Some(ACCOUNT));
    let bad = w
        .manager
        .create_account(
            &w.admin,
            NewAccount {
                name: "wrong key".into(),
                endpoint: Some(w.server.url.clone()),
                region: "us-east-1".into(),
                access_key_id: ROOT_AK.into(),
                secret_access_key: porteiro_manager::vault::Secret::new("not-the-secret-key-at-all"),
            },
        )
        .await
        .expect("saved with its status");
    assert_eq!(bad.status, AccountStatus::Unreachable);
    assert!(
        bad.status_message
            .unwrap_or_default()
            .contains("SignatureDoesNotMatch")
    );
    // The audit trail has the creation, without the secret.
    let events = w
        .manager
        .audit(
            &w.admin,
            &AuditFilter {
                entity: Some("account".into()),
                ..AuditFilter::default()
            },
        )
        .expect("audit");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].new.as_ref().expect("new")["secret"], "<sealed>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_users_are_created_in_the_cloud_with_a_login_profile_and_credentials_work() {
    let w = World::new().await;
    let account = w.account().await;
    w.person("ana", Some("ana@example.com"), &ALL).await;
    let cu = cloud_user(&w, &account, "ana", None).await;
    assert_eq!(cu.status, CloudUserStatus::Provisioned, "{cu:?}");
    assert_eq!(cu.origin, Origin::Created);
    assert_eq!(cu.arn.as_deref(), Some("arn:aws:iam::123456789012:user/ana"));
    let iam = w.server.iam();
    let got = iam
        .get_user()
        .user_name("ana")
        .send()
        .await
        .expect("user exists in the cloud");
    let tags = got.user().expect("user").tags();
    assert!(
        tags.iter()
            .any(|t| t.key() == "porteiro:managed" && t.value() == "true"),
        "{tags:?}"
    );
    iam.get_login_profile()
        .user_name("ana")
        .send()
        .await
        .expect("login profile exists");
    let attached = iam
        .list_attached_user_policies()
        .user_name("ana")
        .send()
        .await
        .expect("attached");
    assert_eq!(attached.attached_policies().len(), 1);
    // A credential: the secret is shown once and works.
    let created = credential(&w, &cu.id).await;
    let sts = w.server.sts_as(
        &created.credential.access_key_id,
        created.secret_access_key.expose(),
        None,
    );
    let me = sts.get_caller_identity().send().await.expect("the new key works");
    assert_eq!(me.arn(), Some("arn:aws:iam::123456789012:user/ana"));
    // Bad input changes nothing.
    let e = w
        .manager
        .create_cloud_user(
            &w.admin,
            NewCloudUser {
                account_id: account.clone(),
                owner: "ana".into(),
                name: Some("other".into()),
                policies: vec![],
                ttl: Some(10),
            },
        )
        .await
        .expect_err("ttl too short");
    assert!(matches!(&e, Error::Invalid(i) if i.field == "ttl"), "{e:?}");
    assert_eq!(w.manager.list_cloud_users(&w.admin).expect("list").len(), 1);
    // Deleting the credential deletes the key in the cloud.
    w.manager
        .delete_credential(&w.admin, &created.credential.id)
        .await
        .expect("delete");
    let keys = iam
        .list_access_keys()
        .user_name("ana")
        .send()
        .await
        .expect("keys");
    assert!(keys.access_key_metadata().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jit_session_works_and_is_refused_right_after_a_drop() {
    let (w, _account, ana, cu) = ready(3600).await;
    let started = w
        .manager
        .start_jit(&ana, &cu.id, Some("Admin"), Some(900))
        .await
        .expect("the session starts");
    let c = started.credentials.expect("credentials");
    assert_eq!(started.session.duration, 900);
    let sts = w.server.sts_as(
        &c.access_key_id,
        c.secret_access_key.expose(),
        Some(c.session_token.expose()),
    );
    let me = sts.get_caller_identity().send().await.expect("caller identity");
    assert_eq!(me.arn(), Some("arn:aws:sts::123456789012:assumed-role/Admin/ana"));
    let iam = w.server.iam_as(
        &c.access_key_id,
        c.secret_access_key.expose(),
        Some(c.session_token.expose()),
    );
    iam.list_roles()
        .send()
        .await
        .expect("the role's permissions apply");
    // Drop: the role gets a deny scoped to this session's SourceIdentity.
    let dropped = w
        .manager
        .drop_session(&w.admin, &started.session.id)
        .await
        .expect("drop");
    assert_eq!(dropped.status, SessionStatus::Dropped);
    let err = iam.list_roles().send().await.expect_err("refused after the drop");
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    assert!(
        err.message().unwrap_or_default().contains("explicit deny"),
        "{err:?}"
    );
    // Another session of the same role is not affected.
    let again = w
        .manager
        .start_jit(&ana, &cu.id, Some("Admin"), None)
        .await
        .expect("new session");
    let c2 = again.credentials.expect("credentials");
    let iam2 = w.server.iam_as(
        &c2.access_key_id,
        c2.secret_access_key.expose(),
        Some(c2.session_token.expose()),
    );
    iam2.list_roles().send().await.expect("a new session works");
    // After the dropped session's credentials expired, the revocation policy goes away.
    let name = format!("porteiro-revoke-{}", started.session.id);
    w.server
        .iam()
        .get_role_policy()
        .role_name("Admin")
        .policy_name(&name)
        .send()
        .await
        .expect("revocation in place");
    w.advance(900 + 301);
    w.manager.run_due_jobs().await.expect("jobs");
    let gone = w
        .server
        .iam()
        .get_role_policy()
        .role_name("Admin")
        .policy_name(&name)
        .send()
        .await;
    assert_eq!(gone.expect_err("removed").code(), Some("NoSuchEntity"));
    // The audit trail has the session's events.
    let events = w
        .manager
        .audit(
            &w.admin,
            &AuditFilter {
                entity_id: Some(started.session.id.clone()),
                ..AuditFilter::default()
            },
        )
        .expect("audit");
    let actions: Vec<&str> = events.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "session.start",
            "session.dropped",
            "session.revoked",
            "session.revocation_removed"
        ]
    );
    assert_eq!(events.last().expect("first").actor, "ana");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jit_session_ends_at_its_expiry_and_its_credentials_are_refused() {
    let (w, _account, ana, cu) = ready(900).await;
    let started = w
        .manager
        .start_jit(&ana, &cu.id, Some("Admin"), None)
        .await
        .expect("start");
    assert_eq!(started.session.duration, 900);
    let c = started.credentials.expect("credentials");
    let iam = w.server.iam_as(
        &c.access_key_id,
        c.secret_access_key.expose(),
        Some(c.session_token.expose()),
    );
    iam.list_roles().send().await.expect("works");
    assert_eq!(
        w.manager.run_due_jobs().await.expect("jobs"),
        0,
        "nothing due yet"
    );
    w.advance(901);
    assert!(w.manager.run_due_jobs().await.expect("jobs") >= 1);
    let s = w.manager.get_session(&ana, &started.session.id).expect("session");
    assert_eq!(s.status, SessionStatus::Expired);
    let err = iam.list_roles().send().await.expect_err("refused after expiry");
    assert_eq!(err.code(), Some("ExpiredToken"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_missing_requirement_is_refused_with_its_own_error() {
    let (w, account, ana, cu) = ready(3600).await;
    // No e-mail.
    let bob = w.person("bob", None, &ALL).await;
    let bob_cu = cloud_user(&w, &account, "bob", None).await;
    credential(&w, &bob_cu.id).await;
    let e = requirements(
        w.manager
            .start_jit(&bob, &bob_cu.id, Some("Admin"), None)
            .await
            .expect_err("no e-mail"),
    );
    assert!(matches!(e.as_slice(), [Unmet::NoEmail { .. }]), "{e:?}");
    let e = requirements(
        w.manager
            .start_console(&bob, &bob_cu.id, None)
            .await
            .expect_err("no e-mail"),
    );
    assert!(matches!(e.as_slice(), [Unmet::NoEmail { .. }]), "{e:?}");
    // No credential.
    let carla = w.person("carla", Some("carla@example.com"), &ALL).await;
    let carla_cu = cloud_user(&w, &account, "carla", None).await;
    let e = requirements(
        w.manager
            .start_jit(&carla, &carla_cu.id, Some("Admin"), None)
            .await
            .expect_err("no key"),
    );
    assert!(matches!(e.as_slice(), [Unmet::NoCredential { .. }]), "{e:?}");
    // No permission (a group without start JIT sessions).
    let dan = w
        .person("dan", Some("dan@example.com"), &[Permission::StartSessions])
        .await;
    let dan_cu = cloud_user(&w, &account, "dan", None).await;
    credential(&w, &dan_cu.id).await;
    let e = requirements(
        w.manager
            .start_jit(&dan, &dan_cu.id, Some("Admin"), None)
            .await
            .expect_err("no perm"),
    );
    assert!(matches!(
        e.as_slice(),
        [Unmet::MissingPermission {
            permission: Permission::StartJitSessions,
            ..
        }]
    ));
    w.manager
        .start_console(&dan, &dan_cu.id, None)
        .await
        .expect("console is allowed for dan");
    // Role not allowed, duration out of bounds.
    let e = requirements(
        w.manager
            .start_jit(&ana, &cu.id, Some("Other"), None)
            .await
            .expect_err("role"),
    );
    assert!(matches!(e.as_slice(), [Unmet::RoleNotAllowed { .. }]), "{e:?}");
    let e = requirements(
        w.manager
            .start_jit(&ana, &cu.id, Some("Admin"), Some(600))
            .await
            .expect_err("short"),
    );
    assert!(
        matches!(e.as_slice(), [Unmet::DurationTooShort { asked: 600 }]),
        "{e:?}"
    );
    let e = requirements(
        w.manager
            .start_jit(&ana, &cu.id, Some("Admin"), Some(7200))
            .await
            .expect_err("long"),
    );
    assert!(matches!(e.as_slice(), [Unmet::DurationTooLong { .. }]), "{e:?}");
    // JIT not enabled, then not active.
    for (active, enabled) in [(true, false), (false, true)] {
        w.manager
            .put_jit_settings(
                &w.admin,
                &account,
                JitInput {
                    active,
                    description: String::new(),
                    jit_enabled: enabled,
                    duration: 3600,
                    roles: vec!["Admin".into()],
                },
            )
            .await
            .expect("settings");
        let e = requirements(
            w.manager
                .start_jit(&ana, &cu.id, Some("Admin"), None)
                .await
                .expect_err("off"),
        );
        assert!(
            matches!(
                e.as_slice(),
                [Unmet::JitDisabled { .. }] | [Unmet::JitInactive { .. }]
            ),
            "{e:?}"
        );
    }
    jit(&w, &account, 3600, &["Admin"]).await;
    // The trust policy does not name carla: the engine's pre-flight says how to fix it.
    credential(&w, &carla_cu.id).await;
    let e = w
        .manager
        .start_jit(&carla, &carla_cu.id, Some("Admin"), None)
        .await
        .expect_err("trust");
    let msg = e.to_string();
    assert!(matches!(e, Error::TrustPolicy(_)));
    assert!(
        msg.starts_with(
            "the trust policy of Admin does not allow arn:aws:iam::123456789012:user/carla: add a statement with Effect Allow, Action sts:AssumeRole, Principal arn:aws:iam::123456789012:user/carla"
        ),
        "{msg}"
    );
    // Someone else's cloud user.
    let e = w
        .manager
        .start_jit(&carla, &cu.id, Some("Admin"), None)
        .await
        .expect_err("not hers");
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    // No session was recorded by any refusal.
    let sessions = w.manager.list_sessions(&w.admin).expect("sessions");
    assert_eq!(sessions.len(), 1, "only dan's console session: {sessions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_users_cannot_start_sessions() {
    let (w, account, ana, _cu) = ready(3600).await;
    w.server
        .iam()
        .create_user()
        .user_name("legacy")
        .send()
        .await
        .expect("legacy user");
    let imported = w
        .manager
        .import_cloud_users(&w.admin, &account)
        .await
        .expect("import");
    assert_eq!(imported.len(), 1, "only the unknown user: {imported:?}");
    assert_eq!(imported[0].name, "legacy");
    assert_eq!(imported[0].status, CloudUserStatus::Imported);
    // Imported users cannot get credentials through Porteiro, nor start sessions (even when
    // given to someone).
    let e = w
        .manager
        .create_credential(
            &w.admin,
            NewCredential {
                cloud_user_id: imported[0].id.clone(),
                ttl: None,
            },
        )
        .await
        .expect_err("imported");
    assert!(matches!(e, Error::Invalid(_)));
    let facts_err = porteiro_manager::rules::check_jit_start(
        &porteiro_manager::rules::StartFacts {
            username: "ana",
            email: Some("ana@example.com"),
            permissions: &ALL.into_iter().collect(),
            cloud_user: "legacy",
            origin: Origin::Imported,
            status: CloudUserStatus::Imported,
            has_credential: true,
            account: "embedded",
        },
        &porteiro_manager::rules::JitAsk {
            settings: Some(&w.manager.get_jit_settings(&w.admin, &account).expect("settings")),
            role: Some("Admin"),
            duration: None,
        },
    )
    .expect_err("imported");
    assert!(matches!(facts_err.as_slice(), [Unmet::Imported { .. }]));
    let e = w
        .manager
        .start_jit(&ana, &imported[0].id, Some("Admin"), None)
        .await
        .expect_err("not hers either");
    assert!(matches!(e, Error::Forbidden(_)));
    // Forgetting an imported user leaves it in the cloud.
    w.manager
        .delete_cloud_user(&w.admin, &imported[0].id)
        .await
        .expect("forget");
    w.server
        .iam()
        .get_user()
        .user_name("legacy")
        .send()
        .await
        .expect("still in the cloud");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_users_are_removed_from_the_cloud_in_aws_order() {
    let w = World::new().await;
    let account = w.account().await;
    w.person("ana", Some("ana@example.com"), &ALL).await;
    let cu = cloud_user(&w, &account, "ana", Some(300)).await;
    credential(&w, &cu.id).await;
    // Things AWS requires to be removed before DeleteUser: an inline policy and a group.
    let iam = w.server.iam();
    iam.put_user_policy()
        .user_name("ana")
        .policy_name("extra")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("inline");
    iam.create_group().group_name("devs").send().await.expect("group");
    iam.add_user_to_group()
        .group_name("devs")
        .user_name("ana")
        .send()
        .await
        .expect("member");
    w.advance(280);
    w.manager.run_due_jobs().await.expect("jobs");
    iam.get_user()
        .user_name("ana")
        .send()
        .await
        .expect("still there before its TTL");
    w.advance(30);
    w.manager.run_due_jobs().await.expect("jobs");
    let err = iam.get_user().user_name("ana").send().await.expect_err("removed");
    assert_eq!(err.code(), Some("NoSuchEntity"));
    let u = w.manager.get_cloud_user(&w.admin, &cu.id).expect("record");
    assert_eq!(u.status, CloudUserStatus::Unprovisioned);
    assert!(w.manager.list_credentials(&w.admin).expect("creds").is_empty());
    let jobs = w.manager.list_jobs(&w.admin).expect("jobs");
    assert!(jobs.iter().all(|j| j.state == JobState::Done), "{jobs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sessions_rotate_the_password_when_they_end() {
    let (w, _account, ana, cu) = ready(3600).await;
    let s = w
        .manager
        .start_console(&ana, &cu.id, Some(900))
        .await
        .expect("console");
    assert!(s.credentials.is_none());
    w.advance(901);
    w.manager.run_due_jobs().await.expect("jobs");
    let s = w.manager.get_session(&ana, &s.session.id).expect("session");
    assert_eq!(s.status, SessionStatus::Expired);
    let events = w
        .manager
        .audit(
            &w.admin,
            &AuditFilter {
                action_prefix: Some("cloud_user.password_rotated".into()),
                ..AuditFilter::default()
            },
        )
        .expect("audit");
    assert_eq!(events.len(), 1);
    // Users see only their own sessions.
    let eve = w
        .person("eve", Some("eve@example.com"), &[Permission::StartSessions])
        .await;
    assert!(w.manager.list_sessions(&eve).expect("list").is_empty());
    assert_eq!(w.manager.list_sessions(&ana).expect("list").len(), 1);
    assert!(w.manager.get_session(&eve, &s.id).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jit_settings_are_checked_against_the_accounts_roles() {
    let w = World::new().await;
    let account = w.account().await;
    w.role("Short", "arn:aws:iam::123456789012:root", 3600).await;
    let put = |duration: i64, roles: Vec<String>| {
        let w = &w;
        let account = account.clone();
        async move {
            w.manager
                .put_jit_settings(
                    &w.admin,
                    &account,
                    JitInput {
                        active: true,
                        description: "d".into(),
                        jit_enabled: true,
                        duration,
                        roles,
                    },
                )
                .await
        }
    };
    let e = put(899, vec![]).await.expect_err("short");
    assert!(matches!(&e, Error::Invalid(i) if i.field == "duration"), "{e:?}");
    let e = put(7200, vec!["Short".into()])
        .await
        .expect_err("above MaxSessionDuration");
    assert!(e.to_string().contains("MaxSessionDuration of 3600"), "{e}");
    let e = put(900, vec!["Ghost".into()]).await.expect_err("unknown role");
    assert!(matches!(&e, Error::Invalid(i) if i.field == "roles"), "{e:?}");
    assert!(
        w.manager.list_jit_settings(&w.admin).expect("list").is_empty(),
        "nothing saved"
    );
    let s = put(3600, vec!["arn:aws:iam::123456789012:role/Short".into()])
        .await
        .expect("saved");
    assert_eq!(s.roles, ["Short"]);
    let r = s.synced_roles.iter().find(|r| r.name == "Short").expect("synced");
    assert_eq!(r.max_session_duration, 3600);
    assert!(r.trust_policy.contains("sts:AssumeRole"), "{}", r.trust_policy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_come_from_access_groups() {
    let w = World::new().await;
    let account = w.account().await;
    let viewer = w
        .person("viewer", Some("v@example.com"), &[Permission::StartSessions])
        .await;
    let e = w
        .manager
        .create_cloud_user(
            &viewer,
            NewCloudUser {
                account_id: account.clone(),
                owner: "viewer".into(),
                name: None,
                policies: vec![],
                ttl: None,
            },
        )
        .await
        .expect_err("no permission");
    assert!(e.to_string().contains("Users can create and edit users"), "{e}");
    let maker = w
        .person("maker", Some("m@example.com"), &[Permission::CreateEditUsers])
        .await;
    w.manager
        .create_cloud_user(
            &maker,
            NewCloudUser {
                account_id: account.clone(),
                owner: "viewer".into(),
                name: None,
                policies: vec![],
                ttl: None,
            },
        )
        .await
        .expect("allowed by the group");
    let e = w
        .manager
        .create_group(
            &maker,
            GroupInput {
                name: "x".into(),
                description: String::new(),
                members: vec![],
                permissions: vec![],
            },
        )
        .await;
    assert!(matches!(e, Err(Error::Forbidden(_))));
    // Visibility: people see their own cloud IAM users; user managers see all.
    let other = w.person("other", Some("o@example.com"), &[]).await;
    assert_eq!(w.manager.list_cloud_users(&viewer).expect("own").len(), 1);
    assert_eq!(w.manager.list_cloud_users(&maker).expect("all").len(), 1);
    assert!(w.manager.list_cloud_users(&other).expect("none").is_empty());
    let id = w.manager.list_cloud_users(&viewer).expect("own")[0].id.clone();
    assert!(matches!(
        w.manager.get_cloud_user(&other, &id),
        Err(Error::NotFound { .. })
    ));
    assert!(w.manager.list_credentials(&other).expect("none").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_survive_a_restart() {
    let (w, _account, ana, cu) = ready(900).await;
    let started = w
        .manager
        .start_jit(&ana, &cu.id, Some("Admin"), None)
        .await
        .expect("start");
    // A second manager over the same database (a restart) ends the session.
    let store =
        porteiro_manager::store::SqliteStore::open(&w.dir.path().join("manager.sqlite3")).expect("store");
    let again = porteiro_manager::Manager::new(
        std::sync::Arc::new(store),
        porteiro_manager::vault::Vault::from_key(&[9u8; 32]),
        std::sync::Arc::new(porteiro_manager::connector::AwsConnector::with_clock(
            w.clock.clone(),
        )),
        w.clock.clone(),
    );
    w.advance(901);
    assert!(again.run_due_jobs().await.expect("jobs") >= 1);
    assert_eq!(
        again.get_session(&ana, &started.session.id).expect("s").status,
        SessionStatus::Expired
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_cloud_user_drops_and_revokes_its_sessions() {
    let (w, _account, ana, cu) = ready(3600).await;
    let started = w
        .manager
        .start_jit(&ana, &cu.id, Some("Admin"), None)
        .await
        .expect("start");
    let c = started.credentials.expect("credentials");
    let iam = w.server.iam_as(
        &c.access_key_id,
        c.secret_access_key.expose(),
        Some(c.session_token.expose()),
    );
    iam.list_roles().send().await.expect("works");
    let removed = w
        .manager
        .delete_cloud_user(&w.admin, &cu.id)
        .await
        .expect("delete");
    assert_eq!(removed.status, CloudUserStatus::Unprovisioned);
    w.manager.run_due_jobs().await.expect("jobs");
    let s = w.manager.get_session(&ana, &started.session.id).expect("session");
    assert_eq!(s.status, SessionStatus::Dropped);
    assert_eq!(s.ended_by.as_deref(), Some("system"));
    let err = iam.list_roles().send().await.expect_err("revoked with the user");
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_ends_sessions_within_a_second_of_their_expiry() {
    let (w, _account, ana, cu) = ready(900).await;
    let scheduler = tokio::spawn(w.manager.clone().run_scheduler());
    let started = w
        .manager
        .start_jit(&ana, &cu.id, Some("Admin"), None)
        .await
        .expect("start");
    w.advance(900);
    let t0 = std::time::Instant::now();
    loop {
        let s = w.manager.get_session(&ana, &started.session.id).expect("session");
        if s.status == SessionStatus::Expired {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(2),
            "not ended within a second: {s:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        t0.elapsed() <= std::time::Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    scheduler.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_and_tokens() {
    let w = World::new().await;
    let e = w
        .manager
        .login("admin", "wrong-password", Some("10.0.0.9".into()))
        .await
        .expect_err("wrong");
    assert!(matches!(e, Error::Unauthenticated(_)));
    let events = w
        .manager
        .audit(
            &w.admin,
            &AuditFilter {
                action_prefix: Some("user.login_failed".into()),
                ..AuditFilter::default()
            },
        )
        .expect("audit");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].source.as_deref(), Some("10.0.0.9"));
    let (token, _) = w
        .manager
        .login("admin", "admin-password-1", None)
        .await
        .expect("login");
    w.manager.authenticate(token.expose(), None).expect("valid");
    w.clock.advance(TOKEN_SECONDS + 1);
    assert!(w.manager.authenticate(token.expose(), None).is_err(), "expired");
    let (token, _) = w
        .manager
        .login("admin", "admin-password-1", None)
        .await
        .expect("login");
    w.manager.logout(token.expose()).await.expect("logout");
    assert!(
        w.manager.authenticate(token.expose(), None).is_err(),
        "logged out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_is_a_durable_job_with_retry_and_history() {
    let w = World::new().await;
    let account = w.account().await;
    w.person("ana", Some("ana@example.com"), &ALL).await;
    // A name that exists in the cloud already: refused before anything is recorded.
    w.server
        .iam()
        .create_user()
        .user_name("taken")
        .send()
        .await
        .expect("user");
    let e = w
        .manager
        .create_cloud_user(
            &w.admin,
            NewCloudUser {
                account_id: account.clone(),
                owner: "ana".into(),
                name: Some("taken".into()),
                policies: vec![],
                ttl: None,
            },
        )
        .await
        .expect_err("exists");
    assert!(
        matches!(&e, Error::Conflict(m) if m.text.contains("import it")),
        "{e:?}"
    );
    assert!(w.manager.list_cloud_users(&w.admin).expect("list").is_empty());
    // A policy that does not exist yet: the first attempt fails and is kept in the history.
    let missing = "arn:aws:iam::123456789012:policy/Later";
    let cu = w
        .manager
        .create_cloud_user(
            &w.admin,
            NewCloudUser {
                account_id: account.clone(),
                owner: "ana".into(),
                name: None,
                policies: vec![missing.into()],
                ttl: None,
            },
        )
        .await
        .expect("recorded");
    assert_eq!(cu.status, CloudUserStatus::Provisioning);
    assert!(
        cu.last_error
            .as_deref()
            .unwrap_or("")
            .contains("AttachUserPolicy"),
        "{cu:?}"
    );
    let jobs = w.manager.list_jobs(&w.admin).expect("jobs");
    assert_eq!(jobs[0].state, JobState::Pending);
    assert_eq!(jobs[0].history.len(), 1);
    // Fixed in the cloud; the retry (after its backoff) finishes the job on the same user.
    w.server
        .iam()
        .create_policy()
        .policy_name("Later")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#)
        .send()
        .await
        .expect("policy");
    w.manager.run_due_jobs().await.expect("jobs");
    assert_eq!(
        w.manager.get_cloud_user(&w.admin, &cu.id).expect("cu").status,
        CloudUserStatus::Provisioning,
        "not before the backoff"
    );
    w.advance(11);
    w.manager.run_due_jobs().await.expect("jobs");
    let cu = w.manager.get_cloud_user(&w.admin, &cu.id).expect("cu");
    assert_eq!(cu.status, CloudUserStatus::Provisioned, "{cu:?}");
    assert_eq!(cu.last_error, None);
    let jobs = w.manager.list_jobs(&w.admin).expect("jobs");
    assert_eq!(jobs[0].state, JobState::Done);
    assert_eq!(
        jobs[0]
            .history
            .iter()
            .map(|h| h.outcome == "ok")
            .collect::<Vec<_>>(),
        [false, true]
    );
    let visible = w
        .manager
        .cloud_user_jobs(&w.admin, &cu.id)
        .expect("jobs of the user");
    assert_eq!(visible.len(), 1);
    assert!(
        visible[0].history[0].outcome.contains("AttachUserPolicy"),
        "{visible:?}"
    );
    let attached = w
        .server
        .iam()
        .list_attached_user_policies()
        .user_name("ana")
        .send()
        .await
        .expect("attached");
    assert_eq!(attached.attached_policies().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_with_a_ttl_are_deleted_from_the_cloud() {
    let w = World::new().await;
    let account = w.account().await;
    w.person("ana", Some("ana@example.com"), &ALL).await;
    let cu = cloud_user(&w, &account, "ana", None).await;
    let created = w
        .manager
        .create_credential(
            &w.admin,
            NewCredential {
                cloud_user_id: cu.id.clone(),
                ttl: Some(300),
            },
        )
        .await
        .expect("credential");
    let expires = created.credential.expires_at.expect("expiry");
    assert!(expires >= w.manager.now() + 290);
    let iam = w.server.iam();
    let keys = iam
        .list_access_keys()
        .user_name("ana")
        .send()
        .await
        .expect("keys");
    assert_eq!(keys.access_key_metadata().len(), 1);
    w.advance(301);
    w.manager.run_due_jobs().await.expect("jobs");
    let keys = iam
        .list_access_keys()
        .user_name("ana")
        .send()
        .await
        .expect("keys");
    assert!(keys.access_key_metadata().is_empty(), "deleted at its TTL");
    assert!(w.manager.list_credentials(&w.admin).expect("list").is_empty());
    let events = w
        .manager
        .audit(
            &w.admin,
            &AuditFilter {
                entity: Some("credential".into()),
                ..AuditFilter::default()
            },
        )
        .expect("audit");
    assert_eq!(events[0].action, "credential.delete");
    assert_eq!(events[0].actor, "system");
}
