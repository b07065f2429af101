//! The REST API in process (`api::handle`) over a manager on the real embedded cloud: bad
//! input on every endpoint gives a clear 4xx naming the field, and changes nothing.

mod common;

use bytes::Bytes;
use common::*;
use porteiro_manager::api;
use porteiro_manager::manager::*;
use porteiro_manager::model::Permission;
use porteiro_manager::store::AuditFilter;
use serde_json::{Value, json};

async fn call(w: &World, token: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::from(body.to_string()))
        .expect("request");
    let resp = api::handle(&w.manager, req, "127.0.0.1:50000".parse().expect("addr")).await;
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Everything the API can list, to show that nothing changed.
async fn snapshot(w: &World, token: &str) -> Value {
    let mut out = serde_json::Map::new();
    for path in [
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/accounts",
        "/api/v1/cloud-users",
        "/api/v1/credentials",
        "/api/v1/jit",
        "/api/v1/sessions",
        "/api/v1/jobs",
    ] {
        out.insert(path.into(), call(w, token, "GET", path, "").await.1);
    }
    let audit = w.manager.audit(&w.admin, &AuditFilter::default()).expect("audit");
    out.insert("audit".into(), json!(audit.len()));
    Value::Object(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_endpoint_is_a_clear_4xx_and_changes_nothing() {
    let w = World::new().await;
    let account = w.account().await;
    let ana = w.person("ana", Some("ana@example.com"), &Permission::ALL).await;
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
    w.role("Admin", cu.arn.as_deref().expect("arn"), 3600).await;
    let (token, _) = w
        .manager
        .login("admin", "admin-password-1", None)
        .await
        .expect("login");
    let token = token.expose().to_string();
    let (ana_token, _) = w
        .manager
        .login("ana", "ana-password-1", None)
        .await
        .expect("login");
    let ana_token = ana_token.expose().to_string();
    let _ = ana;
    let before = snapshot(&w, &token).await;

    let long = "x".repeat(2000);
    let eleven: Vec<String> = (0..11).map(|i| format!("arn:aws:iam::aws:policy/P{i}")).collect();
    let a = account.as_str();
    let cases: Vec<(&str, String, String, u16, Option<&str>)> = vec![
        ("POST", "/api/v1/users".into(), "{}".into(), 400, Some("name")),
        ("POST", "/api/v1/users".into(), "not json".into(), 400, Some("body")),
        ("POST", "/api/v1/users".into(), "".into(), 400, Some("body")),
        ("POST", "/api/v1/users".into(), json!({"name": "B", "username": "bob", "password": "short"}).to_string(), 400, Some("password")),
        ("POST", "/api/v1/users".into(), json!({"name": "B", "username": "bob", "password": "long-enough-1", "email": "bob"}).to_string(), 400, Some("email")),
        ("POST", "/api/v1/users".into(), json!({"name": long, "username": "bob", "password": "long-enough-1"}).to_string(), 400, Some("name")),
        ("POST", "/api/v1/users".into(), json!({"name": "B", "username": "b".repeat(65), "password": "long-enough-1"}).to_string(), 400, Some("username")),
        ("POST", "/api/v1/users".into(), json!({"name": "B", "username": "bob", "password": "long-enough-1", "role": "x"}).to_string(), 400, Some("role")),
        ("POST", "/api/v1/users".into(), json!({"name": "B", "username": "ana", "password": "long-enough-1"}).to_string(), 409, None),
        ("PATCH", "/api/v1/users/ana".into(), json!({"email": 5}).to_string(), 400, Some("body")),
        ("PATCH", "/api/v1/users/u-missing".into(), "{}".into(), 404, None),
        ("DELETE", "/api/v1/users/u-missing".into(), "".into(), 404, None),
        ("POST", "/api/v1/groups".into(), json!({"name": "g", "permissions": ["bogus"]}).to_string(), 400, Some("body")),
        ("POST", "/api/v1/groups".into(), json!({"name": "g", "members": ["nobody"]}).to_string(), 400, Some("members")),
        ("POST", "/api/v1/groups".into(), json!({"name": ""}).to_string(), 400, Some("name")),
        ("PUT", "/api/v1/groups/g-missing".into(), json!({"name": "g"}).to_string(), 404, None),
        ("POST", "/api/v1/accounts".into(), json!({"name": "x", "endpoint": "ftp://x", "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "s"}).to_string(), 400, Some("endpoint")),
        ("POST", "/api/v1/accounts".into(), json!({"name": "x", "region": "US EAST", "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "s"}).to_string(), 400, Some("region")),
        ("POST", "/api/v1/accounts".into(), json!({"name": "x", "access_key_id": "short", "secret_access_key": "s"}).to_string(), 400, Some("access_key_id")),
        ("POST", "/api/v1/accounts".into(), json!({"name": "x", "access_key_id": "AKIAIOSFODNN7EXAMPLE"}).to_string(), 400, Some("secret_access_key")),
        ("DELETE", "/api/v1/accounts/a-missing".into(), "".into(), 404, None),
        ("DELETE", format!("/api/v1/accounts/{a}"), "".into(), 409, None),
        ("POST", "/api/v1/accounts/a-missing/check".into(), "".into(), 404, None),
        ("POST", "/api/v1/cloud-users".into(), json!({"account_id": a, "owner": "ana", "name": "n2", "policies": eleven}).to_string(), 400, Some("policies")),
        ("POST", "/api/v1/cloud-users".into(), json!({"account_id": a, "owner": "ana", "name": "n2", "ttl": 100000}).to_string(), 400, Some("ttl")),
        ("POST", "/api/v1/cloud-users".into(), json!({"account_id": a, "owner": "ana"}).to_string(), 409, None),
        ("POST", "/api/v1/credentials".into(), json!({}).to_string(), 400, Some("cloud_user_id")),
        ("POST", "/api/v1/credentials".into(), json!({"cloud_user_id": cu.id, "ttl": 5}).to_string(), 400, Some("ttl")),
        ("POST", "/api/v1/credentials".into(), json!({"cloud_user_id": "cu-missing"}).to_string(), 400, Some("cloud_user_id")),
        ("DELETE", "/api/v1/credentials/cr-missing".into(), "".into(), 404, None),
        ("PUT", format!("/api/v1/jit/{a}"), json!({"active": true, "jit_enabled": true, "duration": "long"}).to_string(), 400, Some("body")),
        ("PUT", format!("/api/v1/jit/{a}"), json!({"active": true, "jit_enabled": true, "duration": 100}).to_string(), 400, Some("duration")),
        ("PUT", format!("/api/v1/jit/{a}"), json!({"active": true, "jit_enabled": true, "duration": 900, "roles": ["Ghost"]}).to_string(), 400, Some("roles")),
        ("PUT", format!("/api/v1/jit/{a}"), json!({"active": true, "jit_enabled": true, "duration": 900, "description": long}).to_string(), 400, Some("description")),
        ("PUT", "/api/v1/jit/a-missing".into(), json!({"active": true, "jit_enabled": true, "duration": 900}).to_string(), 404, None),
        ("GET", "/api/v1/jit/a-missing".into(), "".into(), 404, None),
        ("POST", "/api/v1/sessions".into(), json!({"kind": "ssh", "cloud_user_id": cu.id}).to_string(), 400, Some("body")),
        ("POST", "/api/v1/sessions".into(), json!({"kind": "jit"}).to_string(), 400, Some("cloud_user_id")),
        ("POST", "/api/v1/sessions/ps-missing/drop".into(), "".into(), 404, None),
        ("GET", "/api/v1/sessions/ps-missing".into(), "".into(), 404, None),
        ("GET", "/api/v1/audit?limit=0".into(), "".into(), 400, Some("limit")),
        ("GET", "/api/v1/audit?since=yesterday".into(), "".into(), 400, Some("since")),
        ("GET", "/api/v1/nothing".into(), "".into(), 404, None),
        ("DELETE", "/api/v1/users".into(), "".into(), 404, None),
    ];
    for (method, path, body, status, field) in &cases {
        let (got, v) = call(&w, &token, method, path, body).await;
        assert_eq!(got, *status, "{method} {path} {body}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or("");
        assert!(!message.is_empty(), "{method} {path}: no message: {v}");
        if let Some(f) = field {
            assert_eq!(v["error"]["field"], *f, "{method} {path} {body}: {v}");
        }
    }
    // A session start that misses requirements: 422 listing them; also changes nothing.
    let (got, v) = call(
        &w,
        &ana_token,
        "POST",
        "/api/v1/sessions",
        &json!({"kind": "jit", "cloud_user_id": cu.id, "role": "Admin", "duration": 100}).to_string(),
    )
    .await;
    assert_eq!(got, 422, "{v}");
    let reqs = v["error"]["requirements"].as_array().expect("requirements");
    assert!(reqs.len() >= 2, "no credential, no JIT settings: {v}");
    // No token, a bad token.
    let req = hyper::Request::builder()
        .uri("/api/v1/users")
        .body(Bytes::new())
        .expect("request");
    let resp = api::handle(&w.manager, req, "127.0.0.1:1".parse().expect("addr")).await;
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(call(&w, "pt_forged", "GET", "/api/v1/users", "").await.0, 401);
    // Not allowed: 403 naming what is missing.
    let (got, v) = call(&w, &ana_token, "GET", "/api/v1/audit", "").await;
    assert_eq!(got, 403, "{v}");

    assert_eq!(snapshot(&w, &token).await, before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_change_their_own_e_mail_and_only_admins_change_the_admin_flag() {
    let w = World::new().await;
    w.person("ana", None, &[]).await;
    let (ana_token, _) = w
        .manager
        .login("ana", "ana-password-1", None)
        .await
        .expect("login");
    let t = ana_token.expose().to_string();
    let (got, v) = call(
        &w,
        &t,
        "PATCH",
        "/api/v1/users/ana",
        &json!({"email": "ana@example.com"}).to_string(),
    )
    .await;
    assert_eq!(got, 200, "{v}");
    assert_eq!(v["email"], "ana@example.com");
    let (got, _) = call(
        &w,
        &t,
        "PATCH",
        "/api/v1/users/ana",
        &json!({"admin": true}).to_string(),
    )
    .await;
    assert_eq!(got, 403);
    let (got, v) = call(
        &w,
        &t,
        "PATCH",
        "/api/v1/users/ana",
        &json!({"email": null}).to_string(),
    )
    .await;
    assert_eq!(got, 200, "{v}");
    assert_eq!(v["email"], Value::Null);
    let (got, v) = call(&w, &t, "GET", "/api/v1/me", "").await;
    assert_eq!(got, 200);
    assert_eq!(v["username"], "ana");
    assert_eq!(
        call(&w, &t, "GET", "/api/v1/users", "")
            .await
            .1
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // A new password ends the old tokens.
    let (got, _) = call(
        &w,
        &t,
        "PATCH",
        "/api/v1/users/ana",
        &json!({"password": "ana-password-2"}).to_string(),
    )
    .await;
    assert_eq!(got, 200);
    assert_eq!(call(&w, &t, "GET", "/api/v1/me", "").await.0, 401);
    w.manager
        .login("ana", "ana-password-2", None)
        .await
        .expect("the new password works");
}

/// One GET with its `X-Next-Cursor` header.
async fn get_page(w: &World, token: &str, path: &str) -> (u16, Value, Option<String>) {
    let req = hyper::Request::builder()
        .method("GET")
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::new())
        .expect("request");
    let resp = api::handle(&w.manager, req, "127.0.0.1:50000".parse().expect("addr")).await;
    let status = resp.status().as_u16();
    let next = resp
        .headers()
        .get("x-next-cursor")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(n) = &next {
        let link = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            link.contains(&format!("next={n}")) && link.ends_with("rel=\"next\""),
            "{link}"
        );
    }
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        next,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_pages_with_a_cursor_in_a_stable_order() {
    let w = World::new().await;
    let account = w.account().await;
    for name in ["ana", "bia", "caio"] {
        w.person(
            name,
            Some(&format!("{name}@example.com")),
            &[Permission::StartJitSessions],
        )
        .await;
    }
    for owner in ["ana", "bia"] {
        let cu = w
            .manager
            .create_cloud_user(
                &w.admin,
                NewCloudUser {
                    account_id: account.clone(),
                    owner: owner.into(),
                    name: None,
                    policies: vec![],
                    ttl: None,
                },
            )
            .await
            .expect("cloud user");
        for _ in 0..2 {
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
        }
    }
    let (token, _) = w
        .manager
        .login("admin", "admin-password-1", None)
        .await
        .expect("login");
    let token = token.expose().to_string();
    for list in [
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/cloud-users",
        "/api/v1/credentials",
        "/api/v1/jobs",
        "/api/v1/audit?action=user.",
        "/api/v1/audit",
    ] {
        let (status, whole, next) = get_page(&w, &token, list).await;
        assert_eq!(status, 200, "{list}: {whole}");
        assert!(next.is_none(), "{list}: one page of up to 1000");
        let whole = whole.as_array().cloned().expect("array");
        assert!(whole.len() >= 2, "{list}: {}", whole.len());
        // Pages of 1, then of 2: the same items, in the same order, each once.
        for size in [1, 2] {
            let sep = if list.contains('?') { '&' } else { '?' };
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("{list}{sep}limit={size}&next={c}"),
                    None => format!("{list}{sep}limit={size}"),
                };
                let (status, page, next) = get_page(&w, &token, &path).await;
                assert_eq!(status, 200, "{path}: {page}");
                let page = page.as_array().cloned().expect("array");
                assert!(page.len() <= size);
                seen.extend(page);
                match next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
            assert_eq!(seen, whole, "{list} in pages of {size}");
        }
    }
    // A cursor belongs to its list; garbage and bad limits are 400s naming the parameter.
    let (_, _, jobs_cursor) = get_page(&w, &token, "/api/v1/jobs?limit=1").await;
    let jobs_cursor = jobs_cursor.expect("more jobs than one");
    for (path, field) in [
        (format!("/api/v1/users?next={jobs_cursor}"), "next"),
        ("/api/v1/sessions?next=%%%".to_string(), "next"),
        ("/api/v1/audit?next=AAAA".to_string(), "next"),
        ("/api/v1/users?limit=0".to_string(), "limit"),
        ("/api/v1/credentials?limit=1001".to_string(), "limit"),
        ("/api/v1/jit?limit=ten".to_string(), "limit"),
    ] {
        let (status, v, _) = get_page(&w, &token, &path).await;
        assert_eq!(status, 400, "{path}: {v}");
        assert_eq!(v["error"]["field"], field, "{path}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(field)),
            "{v}"
        );
    }
}
