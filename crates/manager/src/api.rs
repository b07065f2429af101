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

/// A handler for the paths outside `/api/v1` on the API's listener (the web UI).
pub type Fallback = Arc<
    dyn Fn(
            Request<Incoming>,
            SocketAddr,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response<Full<Bytes>>> + Send>>
        + Send
        + Sync,
>;

/// Which requests under `/api/v1` a listener's [`Fallback`] takes too (the console gateway's
/// launch endpoint).
pub type Claims = fn(&Method, &str) -> bool;

/// Accepts connections (plain HTTP) until the listener fails.
pub async fn serve(manager: Arc<Manager>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    serve_with(manager, listener, None, None, None).await
}

/// Accepts HTTPS connections with `tls` (see [`tls_config`]) until the listener fails.
pub async fn serve_tls(
    manager: Arc<Manager>,
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    serve_with(manager, listener, Some(tls), None, None).await
}

/// Accepts connections, over TLS when `tls` is given (see [`tls_config`]), until the listener
/// fails; requests outside `/api/v1`, and those `claims` names, go to `fallback` when there is
/// one.
pub async fn serve_with(
    manager: Arc<Manager>,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    fallback: Option<Fallback>,
    claims: Option<Claims>,
) -> std::io::Result<()> {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, remote) = accept(&listener).await?;
        let manager = manager.clone();
        let tls = tls.clone();
        let fallback = fallback.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(manager, stream, remote, fallback, claims).await,
                Some(acceptor) => {
                    // A client that never finishes its handshake does not hold a task forever.
                    let handshake =
                        tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream));
                    if let Ok(Ok(stream)) = handshake.await {
                        connection(manager, stream, remote, fallback, claims).await;
                    }
                }
            }
        });
    }
}

/// The next connection of `listener` (with `TCP_NODELAY`); connections that fail while being
/// accepted are skipped, a failing listener is an error.
pub async fn accept(
    listener: &tokio::net::TcpListener,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, remote));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

async fn connection<IO>(
    manager: Arc<Manager>,
    io: IO,
    remote: SocketAddr,
    fallback: Option<Fallback>,
    claims: Option<Claims>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let manager = manager.clone();
        let fallback = fallback.clone();
        async move {
            let path = req.uri().path();
            let api = (path == "/api/v1" || path.starts_with("/api/v1/"))
                && !claims.is_some_and(|claims| claims(req.method(), path));
            Ok::<_, Infallible>(match fallback {
                Some(web) if !api => web(req, remote).await,
                _ => receive(&manager, req, remote).await,
            })
        }
    });
    let io = hyper_util::rt::TokioIo::new(io);
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .await;
}

/// A TLS configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file does not read or holds no PEM item of the kind needed.
    #[error("cannot use the TLS {what} {path}: {message}")]
    File {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The certificate and key do not make a TLS configuration.
    #[error(
        "the TLS certificate and key are not usable together: {0} (give the key that belongs to the certificate)"
    )]
    Config(String),
}

/// The API's TLS configuration (rustls with ring; TLS 1.2 and 1.3; HTTP/1.1) from PEM files:
/// the certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1).
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let file_err = |what: &'static str, path: &std::path::Path, e: rustls_pki_types::pem::Error| {
        let message = match e {
            rustls_pki_types::pem::Error::NoItemsFound => format!(
                "no PEM {what} in it (expected a -----BEGIN {}----- block)",
                if what == "certificate" {
                    "CERTIFICATE"
                } else {
                    "PRIVATE KEY"
                }
            ),
            rustls_pki_types::pem::Error::Io(io) => format!("{io}"),
            other => format!("not valid PEM: {other:?}"),
        };
        TlsError::File {
            what,
            path: path.display().to_string(),
            message,
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err("certificate", cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err("certificate", cert, e))?;
    if certs.is_empty() {
        return Err(file_err(
            "certificate",
            cert,
            rustls_pki_types::pem::Error::NoItemsFound,
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err("private key", key, e))?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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

/// A successful answer: status, JSON body, and for a list with more items the cursor of the
/// next page.
struct Answer {
    status: StatusCode,
    body: Value,
    next: Option<String>,
}

type Reply = Result<Answer, ApiError>;

fn ok(v: impl serde::Serialize) -> Reply {
    Ok(Answer {
        status: StatusCode::OK,
        body: serde_json::to_value(v).unwrap_or(Value::Null),
        next: None,
    })
}

fn created(v: impl serde::Serialize) -> Reply {
    Ok(Answer {
        status: StatusCode::CREATED,
        body: serde_json::to_value(v).unwrap_or(Value::Null),
        next: None,
    })
}

// ---- pagination ----

/// The most items one page holds (and the default page size).
pub const MAX_PAGE: usize = 1000;

/// Where a list's order puts an item: (number, text), ascending.
type SortKey = (i64, String);

/// A page request: `limit` (1–1000, default 1000) and `next`, the opaque cursor the previous
/// page's `X-Next-Cursor` header gave (it names that page's last item).
struct PageReq {
    list: &'static str,
    limit: usize,
    after: Option<SortKey>,
}

fn page_req(req: &Request<Bytes>, list: &'static str) -> Result<PageReq, ApiError> {
    let limit = match query(req, "limit") {
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::bad("limit", format!("use 1 to {MAX_PAGE}")))?,
        None => MAX_PAGE,
    };
    let after = match query(req, "next") {
        Some(c) => Some(decode_cursor(list, &c).ok_or_else(|| {
            ApiError::bad(
                "next",
                format!("is not a cursor of GET /api/v1/{list}: pass the X-Next-Cursor of that list's previous page, or leave `next` out to start at the beginning"),
            )
        })?),
        None => None,
    };
    Ok(PageReq { list, limit, after })
}

/// An opaque cursor: the list's name and the last item's sort key, base64url.
fn encode_cursor(list: &str, key: &SortKey) -> String {
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!("{list}\n{}\n{}", key.0, key.1),
    )
}

fn decode_cursor(list: &str, cursor: &str) -> Option<SortKey> {
    let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut parts = text.splitn(3, '\n');
    if parts.next()? != list {
        return None;
    }
    let n = parts.next()?.parse().ok()?;
    Some((n, parts.next()?.to_string()))
}

/// The key of an item listed by `field` (its id, or a role's name).
fn by(field: &'static str) -> impl Fn(&Value) -> SortKey {
    move |v| (0, v[field].as_str().unwrap_or_default().to_string())
}

/// Jobs: newest first, then by id.
fn newest_first(v: &Value) -> SortKey {
    (
        -v["created"].as_i64().unwrap_or_default(),
        v["id"].as_str().unwrap_or_default().to_string(),
    )
}

/// One page of a list, in the list's stable order, with the next page's cursor if more follow.
fn paged<T: serde::Serialize>(items: Vec<T>, key: impl Fn(&Value) -> SortKey, p: &PageReq) -> Reply {
    let mut keyed: Vec<(SortKey, Value)> = items
        .into_iter()
        .map(|i| serde_json::to_value(i).unwrap_or(Value::Null))
        .map(|v| (key(&v), v))
        .filter(|(k, _)| p.after.as_ref().is_none_or(|a| k > a))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let more = keyed.len() > p.limit;
    keyed.truncate(p.limit);
    let next = more
        .then(|| keyed.last().map(|(k, _)| encode_cursor(p.list, k)))
        .flatten();
    Ok(Answer {
        status: StatusCode::OK,
        body: Value::Array(keyed.into_iter().map(|(_, v)| v).collect()),
        next,
    })
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
        Ok(a) => {
            let mut r = json_response(a.status, &a.body);
            if let Some(next) = a.next {
                // The cursor is base64url: safe in a header and a query string as it is.
                let mut q: Vec<&str> = req
                    .uri()
                    .query()
                    .unwrap_or_default()
                    .split('&')
                    .filter(|kv| !kv.is_empty() && !kv.starts_with("next="))
                    .collect();
                let last = format!("next={next}");
                q.push(&last);
                let link = format!("<{}?{}>; rel=\"next\"", req.uri().path(), q.join("&"));
                for (name, value) in [("x-next-cursor", next), ("link", link)] {
                    if let Ok(v) = hyper::header::HeaderValue::from_str(&value) {
                        r.headers_mut().insert(name, v);
                    }
                }
            }
            r
        }
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

        (&Method::GET, ["users"]) => paged(m.list_users(a)?, by("id"), &page_req(req, "users")?),
        (&Method::POST, ["users"]) => created(m.create_user(a, body(b)?).await?),
        (&Method::GET, ["users", id]) => ok(m.get_user(a, id)?),
        (&Method::PATCH, ["users", id]) => ok(m.update_user(a, id, body(b)?).await?),
        (&Method::DELETE, ["users", id]) => {
            m.delete_user(a, id).await?;
            ok(json!({}))
        }

        (&Method::GET, ["groups"]) => paged(m.list_groups(a)?, by("id"), &page_req(req, "groups")?),
        (&Method::POST, ["groups"]) => created(m.create_group(a, body(b)?).await?),
        (&Method::PUT, ["groups", id]) => ok(m.update_group(a, id, body(b)?).await?),
        (&Method::DELETE, ["groups", id]) => {
            m.delete_group(a, id).await?;
            ok(json!({}))
        }

        (&Method::GET, ["accounts"]) => paged(m.list_accounts(a)?, by("id"), &page_req(req, "accounts")?),
        (&Method::POST, ["accounts"]) => created(m.create_account(a, body(b)?).await?),
        (&Method::GET, ["accounts", id]) => ok(m.get_account(a, id)?),
        (&Method::DELETE, ["accounts", id]) => {
            m.delete_account(a, id).await?;
            ok(json!({}))
        }
        (&Method::POST, ["accounts", id, "check"]) => ok(m.recheck_account(a, id).await?),
        (&Method::GET, ["accounts", id, "roles"]) => {
            let p = page_req(req, "accounts/{id}/roles")?;
            paged(m.list_roles(a, id).await?, by("name"), &p)
        }
        (&Method::POST, ["accounts", id, "import"]) => ok(m.import_cloud_users(a, id).await?),

        (&Method::GET, ["cloud-users"]) => {
            paged(m.list_cloud_users(a)?, by("id"), &page_req(req, "cloud-users")?)
        }
        (&Method::POST, ["cloud-users"]) => created(m.create_cloud_user(a, body(b)?).await?),
        (&Method::GET, ["cloud-users", id]) => ok(m.get_cloud_user(a, id)?),
        (&Method::GET, ["cloud-users", id, "jobs"]) => {
            let p = page_req(req, "cloud-users/{id}/jobs")?;
            paged(m.cloud_user_jobs(a, id)?, newest_first, &p)
        }
        (&Method::DELETE, ["cloud-users", id]) => ok(m.delete_cloud_user(a, id).await?),

        (&Method::GET, ["credentials"]) => {
            paged(m.list_credentials(a)?, by("id"), &page_req(req, "credentials")?)
        }
        (&Method::POST, ["credentials"]) => {
            let c = m.create_credential(a, body(b)?).await?;
            created(json!({"credential": c.credential, "secret_access_key": c.secret_access_key.expose()}))
        }
        (&Method::DELETE, ["credentials", id]) => {
            m.delete_credential(a, id).await?;
            ok(json!({}))
        }

        (&Method::GET, ["jit"]) => paged(m.list_jit_settings(a)?, by("id"), &page_req(req, "jit")?),
        (&Method::GET, ["jit", account]) => ok(m.get_jit_settings(a, account)?),
        (&Method::PUT, ["jit", account]) => ok(m.put_jit_settings(a, account, body(b)?).await?),

        (&Method::GET, ["sessions"]) => paged(m.list_sessions(a)?, by("id"), &page_req(req, "sessions")?),
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
            let p = page_req(req, "audit")?;
            // Newest first: the cursor is the last event's sequence number (negated in the key).
            let filter = AuditFilter {
                entity: query(req, "entity"),
                entity_id: query(req, "entity_id"),
                actor: query(req, "actor"),
                action_prefix: query(req, "action"),
                since,
                limit: p.limit + 1,
                before: p.after.as_ref().map(|(n, _)| -n),
            };
            let mut events = m.audit(a, &filter)?;
            let more = events.len() > p.limit;
            events.truncate(p.limit);
            let next = more
                .then(|| {
                    events
                        .last()
                        .map(|e| encode_cursor("audit", &(-e.seq, String::new())))
                })
                .flatten();
            let mut answer = ok(events)?;
            answer.next = next;
            Ok(answer)
        }
        (&Method::GET, ["jobs"]) => paged(m.list_jobs(a)?, newest_first, &page_req(req, "jobs")?),
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
    /// The paged lists.
    const LISTS: &[&str] = &[
        "/users",
        "/groups",
        "/accounts",
        "/accounts/{id}/roles",
        "/cloud-users",
        "/cloud-users/{id}/jobs",
        "/credentials",
        "/jit",
        "/sessions",
        "/audit",
        "/jobs",
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
        if *method == "get" && LISTS.contains(path) {
            let mut params = op["parameters"].as_array().cloned().unwrap_or_default();
            params.push(json!({"name": "limit", "in": "query", "required": false,
                "description": format!("At most this many items (1–{MAX_PAGE}, default {MAX_PAGE})."),
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}));
            params.push(json!({"name": "next", "in": "query", "required": false,
                "description": "The opaque cursor of the next page (the previous page's X-Next-Cursor); a bad one is a 400.",
                "schema": {"type": "string"}}));
            if *path == "/audit" {
                for (name, what) in [
                    ("entity", "entity kind"),
                    ("entity_id", "entity id"),
                    ("actor", "username"),
                    ("action", "action prefix"),
                    ("since", "epoch seconds, at or after"),
                ] {
                    params.push(
                        json!({"name": name, "in": "query", "required": false, "description": what,
                        "schema": {"type": if name == "since" { "integer" } else { "string" }}}),
                    );
                }
            }
            op["parameters"] = Value::Array(params);
            op["responses"][status.to_string()]["headers"] = json!({
                "X-Next-Cursor": {"description": "Present when more items follow: pass it as `next`.", "schema": {"type": "string"}},
                "Link": {"description": "The next page's URL, rel=\"next\" (when more items follow).", "schema": {"type": "string"}}
            });
            op["description"] = json!(format!(
                "Allowed: {who}. A stable order (by id; jobs newest first; audit events newest first; roles by name), paged."
            ));
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
    fn every_list_is_paged_in_the_openapi_document() {
        let doc = openapi();
        for path in ["/users", "/audit", "/jobs", "/cloud-users/{id}/jobs", "/jit"] {
            let params = doc["paths"][path]["get"]["parameters"].to_string();
            assert!(
                params.contains("\"limit\"") && params.contains("\"next\""),
                "{path}: {params}"
            );
        }
        assert!(doc["paths"]["/users"]["post"]["parameters"].is_null());
    }

    #[test]
    fn cursors_round_trip_and_belong_to_their_list() {
        let key = (-42, "j-1\nx".to_string());
        let c = encode_cursor("jobs", &key);
        assert_eq!(decode_cursor("jobs", &c), Some(key));
        assert_eq!(decode_cursor("users", &c), None, "another list's cursor");
        assert_eq!(decode_cursor("jobs", "not base64!"), None);
        assert_eq!(
            decode_cursor("jobs", &encode_cursor("jobs", &(1, String::new()))[1..]),
            None
        );
    }

    #[test]
    fn pages_follow_a_stable_order() {
        let items: Vec<Value> = ["c", "a", "e", "b", "d"]
            .iter()
            .map(|id| json!({"id": id}))
            .collect();
        let mut p = PageReq {
            list: "users",
            limit: 2,
            after: None,
        };
        let mut seen = Vec::new();
        loop {
            let a = paged(items.clone(), by("id"), &p).expect("page");
            seen.extend(
                a.body
                    .as_array()
                    .expect("array")
                    .iter()
                    .map(|v| v["id"].to_string()),
            );
            match a.next {
                Some(n) => p.after = decode_cursor("users", &n),
                None => break,
            }
        }
        assert_eq!(seen, ["\"a\"", "\"b\"", "\"c\"", "\"d\"", "\"e\""]);
    }

    #[test]
    fn tls_files_give_clear_errors() {
        let dir = std::env::temp_dir().join(format!("porteiro-api-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("cert");
        let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("cert");
        let (cert, key, other_key) = (dir.join("c.pem"), dir.join("k.pem"), dir.join("o.pem"));
        std::fs::write(&cert, ck.cert.pem()).expect("write");
        std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write");
        std::fs::write(&other_key, other.signing_key.serialize_pem()).expect("write");
        assert!(tls_config(&cert, &key).is_ok());
        let e = tls_config(&dir.join("none.pem"), &key).expect_err("missing");
        assert!(e.to_string().contains("none.pem"), "{e}");
        let e = tls_config(&key, &key).expect_err("a key is no certificate");
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let e = tls_config(&cert, &cert).expect_err("a certificate is no key");
        assert!(e.to_string().contains("no PEM private key"), "{e}");
        let e = tls_config(&cert, &other_key).expect_err("another key");
        assert!(e.to_string().contains("not usable together"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
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
