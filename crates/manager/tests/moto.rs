//! The cloud connector (and the use cases over it) against moto's server, a peer AWS
//! emulator no one here wrote, for the IAM and STS calls Porteiro makes.
//!
//! Needs `moto_server` on PATH (`pip install 'moto[server]'`). Without it the test prints a
//! notice and passes, unless `PORTEIRO_E2E_REQUIRE_TOOLS=1`, when it fails.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use porteiro_manager::clock::SystemClock;
use porteiro_manager::connector::{AssumeRoleInput, AwsConnector, CloudConnector, Target};
use porteiro_manager::manager::*;
use porteiro_manager::model::*;
use porteiro_manager::store::SqliteStore;
use porteiro_manager::vault::{Secret, Vault};
use porteiro_manager::{Actor, Manager};

/// moto's server, killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Option<Moto> {
    let available = Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        let required = std::env::var("PORTEIRO_E2E_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "moto_server is not available but PORTEIRO_E2E_REQUIRE_TOOLS=1: pip install 'moto[server]'"
        );
        eprintln!(
            "NOTICE: skipping the moto test: moto_server is not available (pip install 'moto[server]')"
        );
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

fn target(url: &str) -> Target {
    Target {
        endpoint: Some(url.to_string()),
        region: "us-east-1".into(),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        session_token: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_and_the_use_cases_work_against_moto() {
    let Some(moto) = start_moto() else { return };
    let c = AwsConnector::new();
    let t = target(&moto.url);

    // The raw calls, in the order Porteiro makes them.
    let me = c.caller_identity(&t).await.expect("GetCallerIdentity");
    assert_eq!(me.account.len(), 12);
    let tags = vec![("porteiro:managed".to_string(), "true".to_string())];
    let u = c.create_user(&t, "probe", &tags).await.expect("CreateUser");
    assert!(u.arn.ends_with(":user/probe"), "{u:?}");
    assert_eq!(c.get_user(&t, "probe").await.expect("GetUser").arn, u.arn);
    c.create_login_profile(&t, "probe", &Secret::new("Str0ng!Passw0rd-xyz"))
        .await
        .expect("CreateLoginProfile");
    c.update_login_profile(&t, "probe", &Secret::new("Str0ng!Passw0rd-abc"))
        .await
        .expect("UpdateLoginProfile");
    c.attach_user_policy(&t, "probe", "arn:aws:iam::aws:policy/ReadOnlyAccess")
        .await
        .expect("AttachUserPolicy");
    assert_eq!(
        c.list_attached_user_policies(&t, "probe")
            .await
            .expect("list attached")
            .len(),
        1
    );
    let key = c.create_access_key(&t, "probe").await.expect("CreateAccessKey");
    assert_eq!(
        c.list_access_keys(&t, "probe").await.expect("ListAccessKeys"),
        vec![key.access_key_id.clone()]
    );
    assert!(
        c.list_users(&t)
            .await
            .expect("ListUsers")
            .iter()
            .any(|x| x.name == "probe")
    );
    // Removal in AWS's order.
    c.delete_login_profile(&t, "probe")
        .await
        .expect("DeleteLoginProfile");
    c.delete_access_key(&t, "probe", &key.access_key_id)
        .await
        .expect("DeleteAccessKey");
    c.detach_user_policy(&t, "probe", "arn:aws:iam::aws:policy/ReadOnlyAccess")
        .await
        .expect("DetachUserPolicy");
    assert!(
        c.list_user_policies(&t, "probe")
            .await
            .expect("ListUserPolicies")
            .is_empty()
    );
    assert!(
        c.list_groups_for_user(&t, "probe")
            .await
            .expect("ListGroupsForUser")
            .is_empty()
    );
    c.delete_user(&t, "probe").await.expect("DeleteUser");
    let gone = c.get_user(&t, "probe").await.expect_err("deleted");
    assert!(gone.is_not_found(), "{gone:?}");

    // The use cases over moto: a JIT session end to end.
    let dir = std::env::temp_dir().join(format!("porteiro-moto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let m = Manager::new(
        Arc::new(SqliteStore::open(&dir.join("m.sqlite3")).expect("store")),
        Vault::from_key(&[3u8; 32]),
        Arc::new(AwsConnector::new()),
        Arc::new(SystemClock),
    );
    m.bootstrap_admin("admin", &Secret::new("admin-password-1"))
        .await
        .expect("admin");
    let admin_token = m.login("admin", "admin-password-1", None).await.expect("login").0;
    let admin: Actor = m.authenticate(admin_token.expose(), None).expect("auth");
    let account = m
        .create_account(
            &admin,
            NewAccount {
                name: "moto".into(),
                endpoint: Some(moto.url.clone()),
                region: "us-east-1".into(),
                access_key_id: t.access_key_id.clone(),
                secret_access_key: Secret::new(t.secret.expose()),
            },
        )
        .await
        .expect("account");
    assert_eq!(account.status, AccountStatus::Connectable, "{account:?}");
    m.create_user(
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
    m.create_group(
        &admin,
        GroupInput {
            name: "eng".into(),
            description: String::new(),
            members: vec!["ana".into()],
            permissions: vec![Permission::StartJitSessions],
        },
    )
    .await
    .expect("group");
    let cu = m
        .create_cloud_user(
            &admin,
            NewCloudUser {
                account_id: account.id.clone(),
                owner: "ana".into(),
                name: None,
                policies: vec![],
                ttl: None,
            },
        )
        .await
        .expect("cloud user");
    assert_eq!(cu.status, CloudUserStatus::Provisioned, "{cu:?}");
    m.create_credential(
        &admin,
        NewCredential {
            cloud_user_id: cu.id.clone(),
            ttl: None,
        },
    )
    .await
    .expect("credential");
    let arn = cu.arn.clone().expect("arn");
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "x",
            None,
            None,
            "t",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
        .create_role()
        .role_name("Admin")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{arn}"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}}]}}"#
        ))
        .send()
        .await
        .expect("role");
    let jit = m
        .put_jit_settings(
            &admin,
            &account.id,
            JitInput {
                active: true,
                description: "moto".into(),
                jit_enabled: true,
                duration: 3600,
                roles: vec!["Admin".into()],
            },
        )
        .await
        .expect("jit settings (ListRoles)");
    assert!(
        jit.synced_roles
            .iter()
            .any(|r| r.name == "Admin" && r.trust_policy.contains(&arn)),
        "{jit:?}"
    );
    let ana_token = m.login("ana", "ana-password-1", None).await.expect("login").0;
    let ana = m.authenticate(ana_token.expose(), None).expect("auth");
    let started = m
        .start_jit(&ana, &cu.id, Some("Admin"), Some(900))
        .await
        .expect("JIT session (AssumeRole)");
    let creds = started.credentials.expect("credentials");
    let as_session = Target {
        access_key_id: creds.access_key_id.clone(),
        secret: creds.secret_access_key.clone(),
        session_token: Some(creds.session_token.clone()),
        ..target(&moto.url)
    };
    let who = c.caller_identity(&as_session).await.expect("caller identity");
    assert!(who.arn.ends_with(":assumed-role/Admin/ana"), "{who:?}");
    // Dropping puts the revocation policy on the role (PutRolePolicy).
    m.drop_session(&admin, &started.session.id).await.expect("drop");
    let jobs = m.list_jobs(&admin).expect("jobs");
    assert!(jobs.iter().all(|j| j.state != JobState::Failed), "{jobs:?}");
    let name = format!("porteiro-revoke-{}", started.session.id);
    c.delete_role_policy(&t, "Admin", &name)
        .await
        .expect("the revocation policy was there");
    // The direct AssumeRole call with the same inputs works too.
    let again = c
        .assume_role(
            &t,
            &AssumeRoleInput {
                role_arn: "arn:aws:iam::123456789012:role/Admin".into(),
                session_name: "ana".into(),
                source_identity: "ps-0".into(),
                duration: 900,
            },
        )
        .await
        .expect("AssumeRole");
    assert!(again.expiration > 0);
    let _ = std::fs::remove_dir_all(&dir);
}
