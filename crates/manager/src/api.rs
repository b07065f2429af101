//! The REST API under `/api/v1` (hyper 1, JSON): the adapter at the edge over [`Manager`].
//!
//! Every endpoint but `POST /api/v1/login` and `GET /api/v1/openapi.json` needs
//! `Authorization: Bearer TOKEN`; the manager authorizes each use case (administrators, or a
//! permission granted by an access group). Errors are JSON,
//! `{"error": {"code", "message", "field"?, "requirements"?}}`, with a 4xx status for anything
//! the caller can fix (the message names the field or the requirement and how to fix it).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::manager::*;
use crate::store::AuditFilter;
use crate::{Actor, Error, Manager};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Accepts connections until the listener fails.
pub async fn serve(manager: Arc<Manager>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        let _ = stream.set_nodelay(true);
        let manager = manager.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let manager = manager.clone();
                async move { Ok::<_, Infallible>(receive(&manager, req, remote).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, service)
                .await;
        });
    }
}

async fn receive(manager: &Manager, req: Request<Incoming>, remote: SocketAddr) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &format!("the request body is larger than {MAX_BODY} bytes"),
                None,
            );
        }
    };
    handle(manager, Request::from_parts(parts, body), remote).await
}

/// An API failure: status, code, message, and maybe the field or the requirements.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }
    fn bad(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message: format!("{field}: {message}"),
            extra: Some(json!({"field": field})),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let message = e.to_string();
        match e {
            Error::Invalid(i) => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "invalid",
                message,
                extra: Some(json!({"field": i.field})),
            },
            Error::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            Error::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            Error::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            Error::Unauthenticated(_) => ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message),
            Error::Requirements(unmet) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "requirements_not_met",
                message,
                extra: Some(json!({"requirements": unmet.iter().map(|u| u.to_string()).collect::<Vec<_>>()})),
            },
            Error::TrustPolicy(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "trust_policy", message),
            Error::Cloud(c) => {
                let status = match c.code.as_deref() {
                    Some("LimitExceeded") | Some("EntityAlreadyExists") | Some("DeleteConflict") => {
                        StatusCode::CONFLICT
                    }
                    _ => StatusCode::BAD_GATEWAY,
                };
                ApiError::new(status, "cloud", message)
            }
            Error::Store(_) | Error::Vault(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}

fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    extra: Option<Value>,
) -> Response<Full<Bytes>> {
    let mut err = json!({"code": code, "message": message});
    if let (Some(Value::Object(extra)), Value::Object(map)) = (extra, &mut err) {
        map.extend(extra);
    }
    json_response(status, &json!({ "error": err }))
}

fn json_response(status: StatusCode, v: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}

type Reply = Result<(StatusCode, Value), ApiError>;

fn ok(v: impl serde::Serialize) -> Reply {
    Ok((StatusCode::OK, serde_json::to_value(v).unwrap_or(Value::Null)))
}

fn created(v: impl serde::Serialize) -> Reply {
    Ok((
        StatusCode::CREATED,
        serde_json::to_value(v).unwrap_or(Value::Null),
    ))
}

/// Parses a JSON body into `T`, naming the offending field on failure.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad("body", "is empty: send a JSON object"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let msg = e.to_string();
        let field = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.contains("field"))
            .unwrap_or("body")
            .to_string();
        ApiError::bad(&field, msg)
    })
}

/// Handles one request (also used by in-process tests).
pub async fn handle(manager: &Manager, req: Request<Bytes>, remote: SocketAddr) -> Response<Full<Bytes>> {
    match route(manager, &req, remote).await {
        Ok((status, v)) => json_response(status, &v),
        Err(e) => error_response(e.status, e.code, &e.message, e.extra),
    }
}

fn bearer(req: &Request<Bytes>) -> Option<&str> {
    req.headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

fn query(req: &Request<Bytes>, key: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| crate::connector::percent_decode(&v.replace('+', " ")))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

async fn route(m: &Manager, req: &Request<Bytes>, remote: SocketAddr) -> Reply {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let Some(rest) = path.strip_prefix("/api/v1") else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such path {path}: the API is under /api/v1 (see /api/v1/openapi.json)"),
        ));
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method().clone();
    let source = Some(remote.ip().to_string());
    let b = req.body();
    // Unauthenticated endpoints.
    match (&method, segs.as_slice()) {
        (&Method::GET, ["openapi.json"]) => return ok(openapi()),
        (&Method::POST, ["login"]) => {
            let l: Login = body(b)?;
            let (token, user) = m.login(&l.username, &l.password, source).await?;
            return ok(json!({"token": token.expose(), "user": user}));
        }
        _ => {}
    }
    let token = bearer(req).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "no API token: send `Authorization: Bearer TOKEN` (POST /api/v1/login gives one)",
        )
    })?;
    let actor: Actor = m.authenticate(token, source)?;
    let a = &actor;
    match (&method, segs.as_slice()) {
        (&Method::POST, ["logout"]) => {
            m.logout(token).await?;
            ok(json!({}))
        }
        (&Method::GET, ["me"]) => ok(m.get_user(a, &a.user_id)?),

        (&Method::GET, ["users"]) => ok(m.list_users(a)?),
        (&Method::POST, ["users"]) => created(m.create_user(a, body(b)?).await?),
        (&Method::GET, ["users", id]) => ok(m.get_user(a, id)?),
        (&Method::PATCH, ["users", id]) => ok(m.update_user(a, id, body(b)?).await?),
        (&Method::DELETE, ["users", id]) => {
            m.delete_user(a, id).await?;
            ok(json!({}))
        }

        (&Method::GET, ["groups"]) => ok(m.list_groups(a)?),
        (&Method::POST, ["groups"]) => created(m.create_group(a, body(b)?).await?),
        (&Method::PUT, ["groups", id]) => ok(m.update_group(a, id, body(b)?).await?),
        (&Method::DELETE, ["groups", id]) => {
            m.delete_group(a, id).await?;
            ok(json!({}))
        }

        (&Method::GET, ["accounts"]) => ok(m.list_accounts(a)?),
        (&Method::POST, ["accounts"]) => created(m.create_account(a, body(b)?).await?),
        (&Method::GET, ["accounts", id]) => ok(m.get_account(a, id)?),
        (&Method::DELETE, ["accounts", id]) => {
            m.delete_account(a, id).await?;
            ok(json!({}))
        }
        (&Method::POST, ["accounts", id, "check"]) => ok(m.recheck_account(a, id).await?),
        (&Method::GET, ["accounts", id, "roles"]) => ok(m.list_roles(a, id).await?),
        (&Method::POST, ["accounts", id, "import"]) => ok(m.import_cloud_users(a, id).await?),

        (&Method::GET, ["cloud-users"]) => ok(m.list_cloud_users(a)?),
        (&Method::POST, ["cloud-users"]) => created(m.create_cloud_user(a, body(b)?).await?),
        (&Method::GET, ["cloud-users", id]) => ok(m.get_cloud_user(a, id)?),
        (&Method::GET, ["cloud-users", id, "jobs"]) => ok(m.cloud_user_jobs(a, id)?),
        (&Method::DELETE, ["cloud-users", id]) => ok(m.delete_cloud_user(a, id).await?),

        (&Method::GET, ["credentials"]) => ok(m.list_credentials(a)?),
        (&Method::POST, ["credentials"]) => {
            let c = m.create_credential(a, body(b)?).await?;
            created(json!({"credential": c.credential, "secret_access_key": c.secret_access_key.expose()}))
        }
        (&Method::DELETE, ["credentials", id]) => {
            m.delete_credential(a, id).await?;
            ok(json!({}))
        }

        (&Method::GET, ["jit"]) => ok(m.list_jit_settings(a)?),
        (&Method::GET, ["jit", account]) => ok(m.get_jit_settings(a, account)?),
        (&Method::PUT, ["jit", account]) => ok(m.put_jit_settings(a, account, body(b)?).await?),

        (&Method::GET, ["sessions"]) => ok(m.list_sessions(a)?),
        (&Method::POST, ["sessions"]) => {
            let s = m.start_session(a, body(b)?).await?;
            let gateway = s.gateway.map(|g| {
                json!({
                    "access_key_id": g.access_key_id,
                    "secret_access_key": g.secret_access_key.expose(),
                    "endpoint": g.endpoint,
                    "region": g.region,
                    "expiration": g.expiration,
                })
            });
            // With a gateway serving, the STS credentials stay server-side.
            let direct = m.gateway_endpoint().is_none();
            let credentials = s.credentials.filter(|_| direct).map(|c| {
                json!({
                    "access_key_id": c.access_key_id,
                    "secret_access_key": c.secret_access_key.expose(),
                    "session_token": c.session_token.expose(),
                    "expiration": c.expiration,
                })
            });
            created(json!({"session": s.session, "credentials": credentials, "gateway": gateway}))
        }
        (&Method::GET, ["sessions", id]) => ok(m.get_session(a, id)?),
        (&Method::GET, ["sessions", id, "gateway-credentials"]) => {
            let g = m.gateway_credentials(a, id)?;
            ok(json!({
                "access_key_id": g.access_key_id,
                "secret_access_key": g.secret_access_key.expose(),
                "endpoint": g.endpoint,
                    "region": g.region,
                "expiration": g.expiration,
            }))
        }
        (&Method::POST, ["sessions", id, "drop"]) => ok(m.drop_session(a, id).await?),

        (&Method::GET, ["audit"]) => {
            let since = match query(req, "since") {
                Some(s) => Some(
                    s.parse::<i64>()
                        .map_err(|_| ApiError::bad("since", "use epoch seconds"))?,
                ),
                None => None,
            };
            let limit = match query(req, "limit") {
                Some(s) => s
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| ApiError::bad("limit", "use 1 to 1000"))?,
                None => 0,
            };
            let filter = AuditFilter {
                entity: query(req, "entity"),
                entity_id: query(req, "entity_id"),
                actor: query(req, "actor"),
                action_prefix: query(req, "action"),
                since,
                limit,
            };
            ok(m.audit(a, &filter)?)
        }
        (&Method::GET, ["jobs"]) => ok(m.list_jobs(a)?),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no endpoint {method} /api/v1{rest}: see /api/v1/openapi.json"),
        )),
    }
}

/// The OpenAPI 3 document of the API.
pub fn openapi() -> Value {
    // (method, path, summary, who, request schema, success status)
    type Op = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        u16,
    );
    const OPS: &[Op] = &[
        (
            "post",
            "/login",
            "Log in: an API token",
            "anyone",
            Some("Login"),
            200,
        ),
        ("post", "/logout", "End the token", "any user", None, 200),
        ("get", "/me", "The caller", "any user", None, 200),
        (
            "get",
            "/users",
            "Platform users (others see themselves)",
            "admins",
            None,
            200,
        ),
        (
            "post",
            "/users",
            "Create a platform user",
            "admins",
            Some("NewUser"),
            201,
        ),
        (
            "get",
            "/users/{id}",
            "One platform user",
            "admins, or oneself",
            None,
            200,
        ),
        (
            "patch",
            "/users/{id}",
            "Change a platform user",
            "admins, or oneself (not admin)",
            Some("UserPatch"),
            200,
        ),
        (
            "delete",
            "/users/{id}",
            "Delete a platform user",
            "admins",
            None,
            200,
        ),
        ("get", "/groups", "Access groups", "any user", None, 200),
        (
            "post",
            "/groups",
            "Create an access group",
            "admins",
            Some("GroupInput"),
            201,
        ),
        (
            "put",
            "/groups/{id}",
            "Replace an access group",
            "admins",
            Some("GroupInput"),
            200,
        ),
        (
            "delete",
            "/groups/{id}",
            "Delete an access group",
            "admins",
            None,
            200,
        ),
        ("get", "/accounts", "Cloud accounts", "any user", None, 200),
        (
            "post",
            "/accounts",
            "Add a cloud account (checked with GetCallerIdentity)",
            "create_edit_accounts",
            Some("NewAccount"),
            201,
        ),
        ("get", "/accounts/{id}", "One account", "any user", None, 200),
        (
            "delete",
            "/accounts/{id}",
            "Delete an account without users",
            "delete_accounts",
            None,
            200,
        ),
        (
            "post",
            "/accounts/{id}/check",
            "Check the account again",
            "create_edit_accounts",
            None,
            200,
        ),
        (
            "get",
            "/accounts/{id}/roles",
            "The account's roles (ListRoles)",
            "create_edit_accounts",
            None,
            200,
        ),
        (
            "post",
            "/accounts/{id}/import",
            "Import the account's IAM users",
            "create_edit_users",
            None,
            200,
        ),
        ("get", "/cloud-users", "Cloud IAM users", "any user", None, 200),
        (
            "post",
            "/cloud-users",
            "Create a cloud IAM user (provisioned by a job)",
            "create_edit_users",
            Some("NewCloudUser"),
            201,
        ),
        (
            "get",
            "/cloud-users/{id}",
            "One cloud IAM user",
            "any user",
            None,
            200,
        ),
        (
            "get",
            "/cloud-users/{id}/jobs",
            "Its provisioning and removal jobs with their history",
            "who sees the user",
            None,
            200,
        ),
        (
            "delete",
            "/cloud-users/{id}",
            "Remove a cloud IAM user from the cloud (imported: forget it)",
            "delete_users",
            None,
            200,
        ),
        (
            "get",
            "/credentials",
            "Credentials (no secrets)",
            "any user",
            None,
            200,
        ),
        (
            "post",
            "/credentials",
            "Create an access key; the secret is shown once",
            "create_credentials",
            Some("NewCredential"),
            201,
        ),
        (
            "delete",
            "/credentials/{id}",
            "Delete an access key",
            "delete_credentials",
            None,
            200,
        ),
        (
            "get",
            "/jit",
            "JIT settings of every account",
            "any user",
            None,
            200,
        ),
        (
            "get",
            "/jit/{id}",
            "An account's JIT settings",
            "any user",
            None,
            200,
        ),
        (
            "put",
            "/jit/{id}",
            "Save an account's JIT settings",
            "create_edit_accounts",
            Some("JitInput"),
            200,
        ),
        (
            "get",
            "/sessions",
            "Sessions (users see their own)",
            "any user",
            None,
            200,
        ),
        (
            "post",
            "/sessions",
            "Start a console or JIT session",
            "start_sessions / start_jit_sessions",
            Some("StartSession"),
            201,
        ),
        (
            "get",
            "/sessions/{id}",
            "One session",
            "its user, admins, drop_sessions",
            None,
            200,
        ),
        (
            "post",
            "/sessions/{id}/launch",
            "A one-time URL (60 s) that opens the session's console through Porteiro (served by the console gateway)",
            "the session's owner",
            None,
            201,
        ),
        (
            "post",
            "/sessions/{id}/drop",
            "Drop a session; its credentials are revoked",
            "drop_sessions",
            None,
            200,
        ),
        (
            "get",
            "/sessions/{id}/gateway-credentials",
            "The API gateway credentials of one's own active JIT session",
            "the session's owner",
            None,
            200,
        ),
        (
            "get",
            "/audit",
            "The audit trail (entity, entity_id, actor, action, since, limit)",
            "admins",
            None,
            200,
        ),
        (
            "get",
            "/jobs",
            "Durable jobs and their history",
            "admins",
            None,
            200,
        ),
    ];
    let mut paths = serde_json::Map::new();
    for (method, path, summary, who, schema, status) in OPS {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        let mut op = json!({
            "summary": summary,
            "description": format!("Allowed: {who}."),
            "responses": {
                status.to_string(): {"description": "Success", "content": {"application/json": {}}},
                "4XX": {"description": "A clear error naming the field or requirement", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if path.contains("{id}") {
            op["parameters"] =
                json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
        }
        if let Some(s) = schema {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{s}")}}}});
        }
        if *path == "/login" {
            op["security"] = json!([]);
        }
        entry[*method] = op;
    }
    let s = |props: Value, required: &[&str]| json!({"type": "object", "additionalProperties": false, "properties": props, "required": required});
    let perms: Vec<&str> = crate::model::Permission::ALL.iter().map(|p| p.as_str()).collect();
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Porteiro access manager", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Platform users, access groups, cloud accounts, cloud IAM users, credentials, JIT settings and sessions."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"},
                    "requirements": {"type": "array", "items": {"type": "string"}}}}}},
                "Login": s(json!({"username": {"type": "string"}, "password": {"type": "string"}}), &["username", "password"]),
                "NewUser": s(json!({"name": {"type": "string", "maxLength": 128}, "username": {"type": "string", "pattern": "^[A-Za-z0-9+=,.@_-]{2,64}$"},
                    "email": {"type": "string", "nullable": true}, "password": {"type": "string", "minLength": 12, "maxLength": 256}, "admin": {"type": "boolean"}}),
                    &["name", "username", "password"]),
                "UserPatch": s(json!({"name": {"type": "string"}, "email": {"type": "string", "nullable": true}, "password": {"type": "string"}, "admin": {"type": "boolean"}}), &[]),
                "GroupInput": s(json!({"name": {"type": "string"}, "description": {"type": "string"}, "members": {"type": "array", "items": {"type": "string"}},
                    "permissions": {"type": "array", "items": {"type": "string", "enum": perms}}}), &["name"]),
                "NewAccount": s(json!({"name": {"type": "string"}, "endpoint": {"type": "string", "nullable": true, "description": "empty = AWS"},
                    "region": {"type": "string", "default": "us-east-1"}, "access_key_id": {"type": "string"}, "secret_access_key": {"type": "string"}}),
                    &["name", "access_key_id", "secret_access_key"]),
                "NewCloudUser": s(json!({"account_id": {"type": "string"}, "owner": {"type": "string"}, "name": {"type": "string"},
                    "policies": {"type": "array", "maxItems": 10, "items": {"type": "string"}}, "ttl": {"type": "integer", "minimum": 300, "maximum": 86400}}),
                    &["account_id", "owner"]),
                "NewCredential": s(json!({"cloud_user_id": {"type": "string"}, "ttl": {"type": "integer", "minimum": 300, "maximum": 86400}}), &["cloud_user_id"]),
                "JitInput": s(json!({"active": {"type": "boolean"}, "description": {"type": "string"}, "jit_enabled": {"type": "boolean"},
                    "duration": {"type": "integer", "minimum": 900, "maximum": 43200}, "roles": {"type": "array", "items": {"type": "string"}}}),
                    &["active", "jit_enabled", "duration"]),
                "StartSession": s(json!({"kind": {"type": "string", "enum": ["console", "jit"]}, "cloud_user_id": {"type": "string"},
                    "role": {"type": "string"}, "duration": {"type": "integer", "minimum": 900}}), &["kind", "cloud_user_id"]),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_every_endpoint() {
        let doc = openapi();
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(doc["paths"]["/sessions"]["post"]["requestBody"].is_object());
        assert!(doc["paths"]["/sessions/{id}/drop"]["post"].is_object());
        assert!(doc["paths"]["/sessions/{id}/launch"]["post"].is_object());
        assert_eq!(doc["paths"].as_object().map(|p| p.len()), Some(26));
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = body::<NewUser>(&Bytes::from_static(br#"{"name": "A"}"#)).expect_err("missing");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.extra, Some(json!({"field": "username"})));
        let e = body::<NewUser>(&Bytes::from_static(
            br#"{"name": 1, "username": "a", "password": "p"}"#,
        ))
        .expect_err("type");
        assert!(e.message.contains("invalid type"), "{}", e.message);
        let e = body::<NewUser>(&Bytes::from_static(
            br#"{"name": "A", "username": "ab", "password": "p", "colour": 1}"#,
        ))
        .expect_err("unknown");
        assert_eq!(e.extra, Some(json!({"field": "colour"})));
    }
}
