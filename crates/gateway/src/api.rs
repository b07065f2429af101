//! The API gateway for JIT sessions (see `docs/gateway.md`).
//!
//! Unmodified AWS clients sign their requests with a session's gateway credentials (from
//! `porteiro session env ID`) and send them here. For each request the gateway:
//!
//! 1. parses the SigV4 authentication (header or presigned URL) and looks up the session by
//!    the gateway access key id (unknown: `InvalidClientTokenId` / `InvalidAccessKeyId`);
//! 2. refuses a session that ended (expired, dropped) with AWS's `ExpiredToken`, in the
//!    service's protocol, from the moment it ends;
//! 3. verifies the signature against the gateway secret (`porteiro-sigv4`);
//! 4. re-signs the request with the session's STS credentials, which never leave the server,
//!    and forwards it to the account's endpoint (the embedded cloud, any AWS-compatible
//!    endpoint, or AWS's own endpoint for the service and region);
//! 5. streams the answer back and records the call as an `apiCall` event: service, action,
//!    resource, status, error code, duration, request id and sizes.
//!
//! Bodies: IAM, STS and KMS bodies are small and read whole (their signature covers the body
//! hash). S3 bodies stream through untouched when their payload hash is a SHA-256, `UNSIGNED-
//! PAYLOAD` or `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (the upstream checks them against the same
//! signed value). Bodies with chunk signatures (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`)
//! are signed with the client's key, so they are read (up to
//! [`ApiGatewayConfig::max_chunked_body`]), verified chunk by chunk, and forwarded decoded with
//! their SHA-256 as the payload hash and their trailer checksums as headers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use porteiro_manager::Manager;
use porteiro_manager::gateway::{GatewaySession, SessionObserver};
use porteiro_manager::manager::SessionView;
use porteiro_manager::model::SessionStatus;
use porteiro_recording::{ApiCall, EventKind};
use porteiro_sigv4::{self as sigv4, AwsError, Payload, Protocol, SigError};

use crate::recorder::{Recorder, SessionInfo};

/// A boxed error, as bodies carry them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body of the gateway's responses and forwarded requests.
pub type GwBody = BoxBody<Bytes, BoxError>;

/// Limits of the API gateway.
#[derive(Debug, Clone)]
pub struct ApiGatewayConfig {
    /// The largest IAM, STS or KMS request body read (default 16 MiB).
    pub max_collected_body: usize,
    /// The largest S3 body with chunk signatures read to verify and re-sign (default 256 MiB).
    pub max_chunked_body: usize,
    /// The largest error body read to find the AWS error code (default 64 KiB).
    pub max_error_body: usize,
}

impl Default for ApiGatewayConfig {
    fn default() -> Self {
        ApiGatewayConfig {
            max_collected_body: 16 << 20,
            max_chunked_body: 256 << 20,
            max_error_body: 64 << 10,
        }
    }
}

/// An upstream this process serves itself (the embedded cloud of `porteiro serve`). IAM, STS
/// and KMS requests for its base URL are handed to it in-process instead of over a loopback
/// connection: the same re-signed request (the cloud still verifies the session's SigV4 and
/// authorizes it), without a second HTTP/1.1 hop. S3 keeps the connection, whose bodies stream.
pub trait LocalUpstream: Send + Sync {
    /// The base URL accounts name it by (`http://127.0.0.1:PORT`, as [`upstream_base`] gives it).
    fn base(&self) -> &str;
    /// Handles one request.
    fn call(
        &self,
        req: Request<Bytes>,
    ) -> Pin<Box<dyn std::future::Future<Output = Response<Full<Bytes>>> + Send + '_>>;
}

/// A failure to set the gateway up.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The TLS client could not be built.
    #[error("cannot set up TLS for forwarding to AWS: {0}")]
    Tls(String),
}

/// One session as the gateway knows it.
struct Entry {
    gs: GatewaySession,
    ended: AtomicBool,
    /// Signing keys of the gateway secret (verifying), per day, region and service.
    verify_keys: sigv4::KeyCache,
    /// Signing keys of the session's STS secret (re-signing).
    sign_keys: sigv4::KeyCache,
}

type Upstream = Client<hyper_rustls::HttpsConnector<HttpConnector>, GwBody>;

/// The API gateway.
pub struct ApiGateway {
    manager: Arc<Manager>,
    recorder: Recorder,
    client: Upstream,
    config: ApiGatewayConfig,
    sessions: RwLock<HashMap<String, Arc<Entry>>>,
    /// Sessions the manager ended while this process runs.
    ended_ids: RwLock<std::collections::HashSet<String>>,
    request_ids: AtomicU64,
    /// The upstream this process serves itself, if any.
    local: std::sync::OnceLock<Arc<dyn LocalUpstream>>,
}

impl std::fmt::Debug for ApiGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiGateway")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ApiGateway {
    /// A gateway over the manager (sessions, credentials) and the recorder. Register it as
    /// an observer of the manager (`manager.add_observer(gateway.clone())`) so that drops cut
    /// sessions at once; [`ApiGateway::new`] does that.
    pub fn new(
        manager: Arc<Manager>,
        recorder: Recorder,
        config: ApiGatewayConfig,
    ) -> Result<Arc<ApiGateway>, GatewayError> {
        let https = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
            Ok(b) => b,
            Err(e) => {
                eprintln!(
                    "porteiro: gateway: no system root certificates ({e}): HTTPS endpoints will fail to verify"
                );
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                )
            }
        }
        .https_or_http()
        .enable_http1()
        .wrap_connector({
            // Requests go out as soon as they are written (no Nagle delay on small ones).
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            http
        });
        // Upstream connections are HTTP/1.1 keep-alive and pooled per endpoint: a request
        // reuses an idle connection (no new connection, no name resolution) when there is one.
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_max_idle_per_host(256);
        let client = builder.build(https);
        let gateway = Arc::new(ApiGateway {
            manager: manager.clone(),
            recorder,
            client,
            config,
            sessions: RwLock::new(HashMap::new()),
            ended_ids: RwLock::new(std::collections::HashSet::new()),
            request_ids: AtomicU64::new(1),
            local: std::sync::OnceLock::new(),
        });
        manager.add_observer(gateway.clone());
        Ok(gateway)
    }

    /// Hands IAM, STS and KMS requests for `upstream`'s base URL to it in-process (once; a
    /// second call is ignored).
    pub fn serve_locally(&self, upstream: Arc<dyn LocalUpstream>) {
        let _ = self.local.set(upstream);
    }

    /// Accepts connections until the listener fails.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, remote) = porteiro_manager::api::accept(&listener).await?;
            let gw = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let gw = gw.clone();
                    async move { Ok::<_, Infallible>(gw.handle(req, remote).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    fn request_id(&self) -> String {
        format!("pgw-{:016x}", self.request_ids.fetch_add(1, Ordering::Relaxed))
    }

    /// The session of a gateway access key id (cached; loaded from the manager once).
    async fn lookup(&self, access_key_id: &str) -> Result<Option<Arc<Entry>>, porteiro_manager::Error> {
        if let Some(e) = self
            .sessions
            .read()
            .ok()
            .and_then(|m| m.get(access_key_id).cloned())
        {
            return Ok(Some(e));
        }
        let Some(gs) = self.manager.gateway_session(access_key_id)? else {
            return Ok(None);
        };
        let active = gs.session.status == SessionStatus::Active;
        if active {
            // After a restart the session's recording continues under a new name.
            let info = SessionInfo::from_view(&gs.session, None);
            if let Err(e) = self.recorder.open(info).await {
                eprintln!("porteiro: gateway: {e}");
            }
        }
        let entry = Arc::new(Entry {
            verify_keys: sigv4::KeyCache::new(gs.gateway_secret.expose()),
            sign_keys: sigv4::KeyCache::new(gs.sts.secret_access_key.expose()),
            gs,
            ended: AtomicBool::new(!active),
        });
        // Only active sessions are kept (an ended one is looked up again, and refused). The
        // check and the insert hold the cache's lock, and `ended` marks before it sweeps the
        // cache, so a session read just before its drop was committed is never kept.
        if active && let Ok(mut m) = self.sessions.write() {
            let ended = self
                .ended_ids
                .read()
                .map_or(true, |ids| ids.contains(&entry.gs.session.id));
            if ended {
                entry.ended.store(true, Ordering::Release);
            } else {
                m.insert(access_key_id.to_owned(), entry.clone());
            }
        }
        Ok(Some(entry))
    }

    /// Handles one request.
    pub async fn handle(&self, req: Request<Incoming>, _remote: SocketAddr) -> Response<GwBody> {
        let started = Instant::now();
        let request_id = self.request_id();
        let (parts, body) = req.into_parts();
        let method = parts.method.as_str();
        let path = parts.uri.path();
        let query = parts.uri.query().unwrap_or("");
        // Headers whose values are not visible ASCII are neither verified nor forwarded.
        let header_refs: Vec<(&str, &str)> = parts
            .headers
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
            .collect();
        let sreq = sigv4::Request::new(method, path, query, &header_refs);
        let guess = guess_protocol(&sreq);
        let auth = match sigv4::parse(&sreq) {
            Ok(a) => a.into_owned(),
            Err(e) => return error_response(guess, &e.to_aws(guess), &request_id),
        };
        let service = auth.service().to_owned();
        let region = auth.region().to_owned();
        let protocol = Protocol::for_service(&service);
        let entry = match self.lookup(auth.access_key_id()).await {
            Ok(Some(e)) => e,
            Ok(None) => {
                let e = SigError::UnknownAccessKey {
                    access_key_id: auth.access_key_id().to_owned(),
                };
                return error_response(protocol, &e.to_aws(protocol), &request_id);
            }
            Err(e) => {
                eprintln!("porteiro: gateway: cannot look up a session: {e}");
                return error_response(protocol, &internal(&e.to_string()), &request_id);
            }
        };
        let now = self.manager.now();
        if entry.ended.load(Ordering::Acquire)
            || now >= entry.gs.session.expires_at
            || now >= entry.gs.sts.expiration
        {
            return error_response(
                protocol,
                &SigError::ExpiredSessionToken.to_aws(protocol),
                &request_id,
            );
        }
        let session_id = entry.gs.session.id.clone();
        let mut record = CallRecord {
            recorder: self.recorder.clone(),
            session_id,
            started,
            call: ApiCall {
                service: service.clone(),
                ..ApiCall::default()
            },
        };

        // The body: read whole for IAM/STS/KMS (the signature covers its hash).
        let s3 = service == "s3";
        let mut collected: Option<Bytes> = None;
        let mut incoming = Some(body);
        if !s3 {
            let Some(b) = incoming.take() else {
                return error_response(protocol, &internal("the body was already taken"), &request_id);
            };
            match Limited::new(b, self.config.max_collected_body).collect().await {
                Ok(c) => collected = Some(c.to_bytes()),
                Err(_) => {
                    let e = AwsError {
                        code: "RequestEntityTooLarge",
                        status: 413,
                        message: format!(
                            "the request body is larger than the gateway's limit of {} bytes",
                            self.config.max_collected_body
                        ),
                        details: Vec::new(),
                    };
                    return record.refuse(protocol, &e, &request_id);
                }
            }
        }
        let (action, resource) = describe(
            &service,
            &parts.method,
            path,
            query,
            &parts.headers,
            collected.as_deref(),
            entry.gs.aws_account_id.as_deref(),
        );
        record.call.action = action;
        record.call.resource = resource;
        record.call.request_bytes = collected.as_ref().map_or(0, |b| b.len() as u64);

        // Verify the client's signature against the gateway secret.
        let vreq = match &collected {
            Some(b) => sreq.with_body(b),
            None => sreq,
        };
        let key = entry
            .verify_keys
            .key(auth.scope_date(), auth.region(), auth.service());
        let verified = match sigv4::verify_with_key(&vreq, &auth, &key, now) {
            Ok(v) => v,
            Err(e) => return record.refuse(protocol, &e.to_aws(protocol), &request_id),
        };
        // The body's hash, which the verifier computed or checked (IAM, STS, KMS): the
        // re-signed request carries the same body, so it is not hashed again.
        let body_sha256 = match verified.payload() {
            Payload::Sha256(h) if !s3 => Some(sigv4::hex(&h)),
            _ => None,
        };

        // The forwarded headers: the client's (borrowed), less its authentication and
        // hop-by-hop ones, plus the gateway's own (`extra`).
        let mut out_headers: Vec<(&str, &str)> = header_refs
            .iter()
            .filter(|(n, _)| !DROPPED_HEADERS.contains(n))
            .copied()
            .collect();
        let mut extra: Vec<(String, String)> = Vec::new();

        // S3 bodies with chunk signatures: verify every chunk, forward decoded.
        if s3
            && matches!(
                verified.payload(),
                Payload::StreamingSigned | Payload::StreamingSignedTrailer
            )
        {
            let Some(b) = incoming.take() else {
                return error_response(protocol, &internal("the body was already taken"), &request_id);
            };
            let raw = match Limited::new(b, self.config.max_chunked_body).collect().await {
                Ok(c) => c.to_bytes(),
                Err(_) => {
                    let e = AwsError {
                        code: "EntityTooLarge",
                        status: 400,
                        message: format!(
                            "a body with chunk signatures is limited to {} bytes through the gateway: send it with UNSIGNED-PAYLOAD or a payload hash, or in parts",
                            self.config.max_chunked_body
                        ),
                        details: Vec::new(),
                    };
                    return record.refuse(protocol, &e, &request_id);
                }
            };
            record.call.request_bytes = raw.len() as u64;
            let decoded = match verified.decode_aws_chunked(&raw) {
                Ok(d) => d,
                Err(e) => return record.refuse(protocol, &e.to_aws(protocol), &request_id),
            };
            out_headers.retain(|(n, _)| {
                !matches!(
                    *n,
                    "content-length"
                        | "x-amz-decoded-content-length"
                        | "x-amz-trailer"
                        | "x-amz-content-sha256"
                )
            });
            let mut encodings: Vec<(String, String)> = out_headers
                .iter()
                .filter(|(n, _)| *n == "content-encoding")
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            out_headers.retain(|(n, _)| *n != "content-encoding");
            strip_aws_chunked(&mut encodings);
            extra.extend(encodings);
            let payload = Bytes::from(decoded.payload);
            extra.push(("x-amz-content-sha256".into(), sigv4::sha256_hex(&payload)));
            extra.push(("content-length".into(), payload.len().to_string()));
            extra.extend(decoded.trailers);
            collected = Some(payload);
        }

        // Re-sign with the session's STS credentials and forward.
        let base = upstream_base(entry.gs.endpoint.as_deref(), &service, &region);
        let authority = authority_of(&base);
        let query_out = strip_presign(query);
        let client_headers = out_headers.len();
        out_headers.push(("host", authority));
        out_headers.extend(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let mut oreq = sigv4::Request::new(method, path, &query_out, &out_headers);
        if let Some(h) = &body_sha256 {
            oreq = oreq.with_body_sha256(h);
        } else if let Some(b) = &collected
            && !s3
        {
            oreq = oreq.with_body(b);
        }
        let sts = &entry.gs.sts;
        let creds = sigv4::Credentials::new(
            &sts.access_key_id,
            sts.secret_access_key.expose(),
            Some(sts.session_token.expose()),
        );
        let params = sigv4::SigningParams::new(creds, &region, &service, now);
        let key = entry
            .sign_keys
            .key(&sigv4::time::format_amz_date(now)[..8], &region, &service);
        let signed = match sigv4::sign_with_key(&oreq, &params, &key) {
            Ok(s) => s,
            Err(e) => return record.refuse(protocol, &internal(&e.to_string()), &request_id),
        };
        let uri = if query_out.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{query_out}")
        };
        let mut builder = Request::builder().method(parts.method.clone()).uri(&uri);
        if let Some(h) = builder.headers_mut() {
            h.reserve(out_headers.len() + 4);
            // The client's headers are already parsed: copy them (values are shared, not
            // re-validated); only the gateway's own are parsed.
            for (n, v) in &parts.headers {
                // S3's payload hash comes with the signature's headers below; a body decoded
                // from aws-chunked drops its framing headers (not in `out_headers` any more).
                let own =
                    DROPPED_HEADERS.contains(&n.as_str()) || (s3 && n.as_str() == "x-amz-content-sha256");
                if !own
                    && v.to_str().is_ok()
                    && (extra.is_empty()
                        || out_headers[..client_headers]
                            .iter()
                            .any(|(o, _)| *o == n.as_str()))
                {
                    h.append(n.clone(), v.clone());
                }
            }
        }
        for (n, v) in &extra {
            if *n == "x-amz-content-sha256" && s3 && signed.x_amz_content_sha256.is_some() {
                continue;
            }
            builder = builder.header(n.as_str(), v.as_str());
        }
        builder = builder.header(hyper::header::HOST, authority);
        for (n, v) in signed.headers() {
            builder = builder.header(n, v);
        }
        let request_counter = Arc::new(AtomicU64::new(0));
        // The embedded cloud of this process: in-process, with the body already read.
        if let Some(local) = self.local.get().filter(|l| !s3 && l.base() == base)
            && let Some(body) = collected.clone()
        {
            let req = match builder.body(body) {
                Ok(r) => r,
                Err(e) => return record.refuse(protocol, &internal(&e.to_string()), &request_id),
            };
            let resp = local.call(req).await;
            return self
                .relay(resp, record, request_counter, protocol, &request_id)
                .await;
        }
        let out_body: GwBody = match (collected, incoming) {
            (Some(b), _) => Full::new(b).map_err(|e: Infallible| match e {}).boxed(),
            (None, Some(b)) => Counted {
                inner: b,
                count: request_counter.clone(),
            }
            .boxed(),
            (None, None) => Full::new(Bytes::new())
                .map_err(|e: Infallible| match e {})
                .boxed(),
        };
        let out = match builder.body(out_body) {
            Ok(r) => r,
            Err(e) => return record.refuse(protocol, &internal(&e.to_string()), &request_id),
        };
        let resp = match self.client.request(out).await {
            Ok(r) => r,
            Err(e) => {
                let err = AwsError {
                    code: "ServiceUnavailable",
                    status: 503,
                    message: format!("Porteiro's gateway could not reach {base}: {e}"),
                    details: Vec::new(),
                };
                return record.refuse(protocol, &err, &request_id);
            }
        };
        if record.call.request_bytes == 0 {
            record.call.request_bytes = request_counter.load(Ordering::Relaxed);
        }
        self.relay(resp, record, request_counter, protocol, &request_id)
            .await
    }

    /// Streams the upstream answer back; reads error bodies (small) to record their code.
    async fn relay<B>(
        &self,
        resp: Response<B>,
        mut record: CallRecord,
        sent: Arc<AtomicU64>,
        protocol: Protocol,
        request_id: &str,
    ) -> Response<GwBody>
    where
        B: Body<Data = Bytes> + Send + Sync + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = resp.into_parts();
        for h in HOP_BY_HOP {
            parts.headers.remove(h);
        }
        record.call.status = parts.status.as_u16();
        record.call.request_id = ["x-amz-request-id", "x-amzn-requestid", "x-amzn-request-id"]
            .iter()
            .find_map(|h| parts.headers.get(*h).and_then(|v| v.to_str().ok()))
            .map(str::to_owned);
        if parts.status.as_u16() >= 400 {
            let small = body
                .size_hint()
                .upper()
                .is_some_and(|n| n <= self.config.max_error_body as u64);
            if small {
                let bytes = match body.collect().await {
                    Ok(c) => c.to_bytes(),
                    Err(e) => {
                        let e: BoxError = e.into();
                        record.call.error_code = Some("IncompleteResponse".into());
                        record.finish(0, &sent);
                        let err = internal(&format!("the upstream answer broke off: {e}"));
                        return error_response(protocol, &err, request_id);
                    }
                };
                record.call.error_code = error_code(&bytes, &parts.headers, parts.status);
                if record.call.request_id.is_none() {
                    record.call.request_id = xml_element(&bytes, "RequestId").map(str::to_owned);
                }
                record.finish(bytes.len() as u64, &sent);
                return Response::from_parts(
                    parts,
                    Full::new(bytes).map_err(|e: Infallible| match e {}).boxed(),
                );
            }
            record.call.error_code = error_code(b"", &parts.headers, parts.status);
        }
        let relayed = Relay {
            inner: body,
            bytes: 0,
            record: Some((record, sent)),
        };
        Response::from_parts(parts, relayed.boxed())
    }
}

impl SessionObserver for ApiGateway {
    fn started(&self, _session: &SessionView, _origin: Option<&str>) {}

    /// Cuts the session at once: requests in flight see it ended, and its secrets leave the
    /// cache.
    fn ended(&self, session: &SessionView, _reason: &str) {
        if let Ok(mut ids) = self.ended_ids.write() {
            ids.insert(session.id.clone());
        }
        if let Ok(mut m) = self.sessions.write() {
            m.retain(|_, e| {
                if e.gs.session.id == session.id {
                    e.ended.store(true, Ordering::Release);
                    false
                } else {
                    true
                }
            });
        }
    }
}

/// Request headers never forwarded: the client's authentication (replaced), the host (the
/// upstream's), and hop-by-hop headers.
const DROPPED_HEADERS: [&str; 13] = [
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Response headers not relayed (hyper sets its own framing).
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Query parameters of a presigned URL, which the forwarded request replaces with headers.
const PRESIGN_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

fn strip_presign(query: &str) -> String {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| {
            let k = kv.split_once('=').map_or(*kv, |(k, _)| k);
            !PRESIGN_PARAMS.contains(&k)
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Removes `aws-chunked` from `content-encoding` (and the header when nothing is left).
fn strip_aws_chunked(headers: &mut Vec<(String, String)>) {
    for (n, v) in headers.iter_mut() {
        if n == "content-encoding" {
            *v = v
                .split(',')
                .map(str::trim)
                .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                .collect::<Vec<_>>()
                .join(",");
        }
    }
    headers.retain(|(n, v)| n != "content-encoding" || !v.is_empty());
}

/// The endpoint base URL (scheme and authority, no trailing `/`) for a service and region.
pub fn upstream_base(endpoint: Option<&str>, service: &str, region: &str) -> String {
    match endpoint {
        Some(e) => e.trim_end_matches('/').to_owned(),
        None => match service {
            "iam" => "https://iam.amazonaws.com".to_owned(),
            s => format!("https://{s}.{region}.amazonaws.com"),
        },
    }
}

fn authority_of(base: &str) -> &str {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// The protocol to answer in before the credential scope is known.
fn guess_protocol(req: &sigv4::Request<'_>) -> Protocol {
    if req.header("x-amz-target").is_some() {
        Protocol::Json
    } else if req.header("x-amz-content-sha256").is_some() || req.method != "POST" {
        Protocol::S3
    } else {
        Protocol::Query
    }
}

fn internal(message: &str) -> AwsError {
    AwsError {
        code: "InternalFailure",
        status: 500,
        message: format!("Porteiro's gateway failed: {message}"),
        details: Vec::new(),
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An error in the service's protocol.
pub fn error_response(protocol: Protocol, e: &AwsError, request_id: &str) -> Response<GwBody> {
    let (content_type, body) = match protocol {
        Protocol::Query => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                e.code,
                xml_escape(&e.message),
                xml_escape(request_id)
            ),
        ),
        Protocol::Json => (
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": e.code, "message": e.message}).to_string(),
        ),
        Protocol::S3 => {
            let details: String = e
                .details
                .iter()
                .map(|(k, v)| format!("<{k}>{}</{k}>", xml_escape(v)))
                .collect();
            (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>{details}<RequestId>{}</RequestId></Error>",
                    e.code,
                    xml_escape(&e.message),
                    xml_escape(request_id)
                ),
            )
        }
    };
    let mut r = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|e: Infallible| match e {})
            .boxed(),
    );
    *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(HeaderName::from_static("x-amzn-requestid"), v.clone());
        h.insert(HeaderName::from_static("x-amz-request-id"), v);
    }
    if protocol == Protocol::Json {
        h.insert(
            HeaderName::from_static("x-amzn-errortype"),
            HeaderValue::from_static(e.code),
        );
    }
    r
}

/// The text of the first `<name>…</name>` element.
fn xml_element<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find("</")? + start;
    Some(text[start..end].trim())
}

/// The AWS error code of an error answer: the XML `<Code>`, the JSON `__type` (after `#`),
/// the `x-amzn-ErrorType` header, or for bodiless answers (S3 HEAD) the status's name.
fn error_code(body: &[u8], headers: &hyper::HeaderMap, status: StatusCode) -> Option<String> {
    if let Some(code) = xml_element(body, "Code") {
        return Some(code.to_owned());
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(t) = v
            .get("__type")
            .or_else(|| v.get("code"))
            .or_else(|| v.get("Code"))
            .and_then(|t| t.as_str())
    {
        return Some(t.rsplit('#').next().unwrap_or(t).to_owned());
    }
    if let Some(t) = headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()) {
        return Some(t.split(':').next().unwrap_or(t).to_owned());
    }
    match status.as_u16() {
        301 => Some("PermanentRedirect".into()),
        400 => Some("BadRequest".into()),
        403 => Some("Forbidden".into()),
        404 => Some("NotFound".into()),
        412 => Some("PreconditionFailed".into()),
        _ => None,
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs.
fn form_pairs(s: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    match std::str::from_utf8(&bytes[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The action and resource of a request, for the recording.
fn describe(
    service: &str,
    method: &Method,
    path: &str,
    query: &str,
    headers: &hyper::HeaderMap,
    body: Option<&[u8]>,
    account: Option<&str>,
) -> (String, Option<String>) {
    if service == "s3" {
        return s3_describe(method, path, query, headers);
    }
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let action = target.rsplit('.').next().unwrap_or(target).to_owned();
        let resource = body
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| {
                ["KeyId", "SourceKeyId", "TargetKeyId", "AliasName"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_owned))
            });
        return (action, resource);
    }
    let mut params = form_pairs(query);
    if let Some(b) = body
        && let Ok(text) = std::str::from_utf8(b)
    {
        params.extend(form_pairs(text));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let action = get("Action").unwrap_or_else(|| "Unknown".into());
    let acct = account.unwrap_or("*");
    let resource = if let Some(arn) = get("RoleArn").or_else(|| get("PolicyArn")) {
        Some(arn)
    } else if let Some(r) = get("RoleName") {
        Some(format!("arn:aws:{service}::{acct}:role/{r}"))
    } else if let Some(u) = get("UserName") {
        Some(format!("arn:aws:{service}::{acct}:user/{u}"))
    } else if let Some(g) = get("GroupName") {
        Some(format!("arn:aws:{service}::{acct}:group/{g}"))
    } else {
        get("InstanceProfileName").map(|p| format!("arn:aws:{service}::{acct}:instance-profile/{p}"))
    };
    (action, resource)
}

/// S3's action from method, path (path-style `/bucket/key`) and sub-resources.
fn s3_describe(
    method: &Method,
    path: &str,
    query: &str,
    headers: &hyper::HeaderMap,
) -> (String, Option<String>) {
    let params = form_pairs(query);
    let has = |k: &str| params.iter().any(|(n, _)| n == k);
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let copy = headers.contains_key("x-amz-copy-source");
    let m = method.as_str();
    let action = if bucket.is_empty() {
        "ListBuckets"
    } else if key.is_empty() {
        const SUBS: [(&str, &str, &str, &str); 8] = [
            (
                "policy",
                "GetBucketPolicy",
                "PutBucketPolicy",
                "DeleteBucketPolicy",
            ),
            (
                "tagging",
                "GetBucketTagging",
                "PutBucketTagging",
                "DeleteBucketTagging",
            ),
            (
                "versioning",
                "GetBucketVersioning",
                "PutBucketVersioning",
                "PutBucketVersioning",
            ),
            ("acl", "GetBucketAcl", "PutBucketAcl", "PutBucketAcl"),
            ("cors", "GetBucketCors", "PutBucketCors", "DeleteBucketCors"),
            (
                "lifecycle",
                "GetBucketLifecycleConfiguration",
                "PutBucketLifecycleConfiguration",
                "DeleteBucketLifecycle",
            ),
            (
                "encryption",
                "GetBucketEncryption",
                "PutBucketEncryption",
                "DeleteBucketEncryption",
            ),
            (
                "location",
                "GetBucketLocation",
                "GetBucketLocation",
                "GetBucketLocation",
            ),
        ];
        match SUBS.iter().find(|s| has(s.0)) {
            Some((_, get, put, del)) => match m {
                "GET" => get,
                "PUT" => put,
                "DELETE" => del,
                _ => "Unknown",
            },
            None => match m {
                "GET" if has("uploads") => "ListMultipartUploads",
                "GET" if has("versions") => "ListObjectVersions",
                "GET" if params.iter().any(|(n, v)| n == "list-type" && v == "2") => "ListObjectsV2",
                "GET" => "ListObjects",
                "PUT" => "CreateBucket",
                "DELETE" => "DeleteBucket",
                "HEAD" => "HeadBucket",
                "POST" if has("delete") => "DeleteObjects",
                _ => "Unknown",
            },
        }
    } else {
        match m {
            "GET" if has("uploadId") => "ListParts",
            "GET" if has("tagging") => "GetObjectTagging",
            "GET" if has("acl") => "GetObjectAcl",
            "GET" if has("attributes") => "GetObjectAttributes",
            "GET" => "GetObject",
            "PUT" if has("partNumber") && copy => "UploadPartCopy",
            "PUT" if has("partNumber") => "UploadPart",
            "PUT" if has("tagging") => "PutObjectTagging",
            "PUT" if has("acl") => "PutObjectAcl",
            "PUT" if copy => "CopyObject",
            "PUT" => "PutObject",
            "HEAD" => "HeadObject",
            "DELETE" if has("uploadId") => "AbortMultipartUpload",
            "DELETE" if has("tagging") => "DeleteObjectTagging",
            "DELETE" => "DeleteObject",
            "POST" if has("uploads") => "CreateMultipartUpload",
            "POST" if has("uploadId") => "CompleteMultipartUpload",
            "POST" if has("restore") => "RestoreObject",
            _ => "Unknown",
        }
    };
    let resource = if bucket.is_empty() {
        None
    } else if key.is_empty() {
        Some(format!("arn:aws:s3:::{bucket}"))
    } else {
        let key = form_pairs(&format!("k={}", key.replace('+', "%2B")))
            .pop()
            .map_or_else(|| key.to_owned(), |(_, v)| v);
        Some(format!("arn:aws:s3:::{bucket}/{key}"))
    };
    (action.to_owned(), resource)
}

/// One call being recorded; appended once its answer is complete.
struct CallRecord {
    recorder: Recorder,
    session_id: String,
    started: Instant,
    call: ApiCall,
}

impl CallRecord {
    fn finish(mut self, response_bytes: u64, sent: &AtomicU64) {
        self.call.duration_ms = self.started.elapsed().as_millis() as u64;
        self.call.response_bytes = response_bytes;
        self.call.request_bytes = self.call.request_bytes.max(sent.load(Ordering::Relaxed));
        self.recorder
            .append(&self.session_id, EventKind::ApiCall(self.call));
    }

    /// Answers with the gateway's own error and records it.
    fn refuse(mut self, protocol: Protocol, e: &AwsError, request_id: &str) -> Response<GwBody> {
        let resp = error_response(protocol, e, request_id);
        self.call.status = e.status;
        self.call.error_code = Some(e.code.to_owned());
        self.call.request_id = Some(request_id.to_owned());
        let size = resp.body().size_hint().exact().unwrap_or(0);
        self.finish(size, &AtomicU64::new(0));
        resp
    }
}

/// A request body that counts the bytes it yields.
struct Counted<B> {
    inner: B,
    count: Arc<AtomicU64>,
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.count.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The upstream answer streamed back; records the call when it is done (or dropped).
struct Relay<B> {
    inner: B,
    bytes: u64,
    record: Option<(CallRecord, Arc<AtomicU64>)>,
}

impl<B> Body for Relay<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.bytes += d.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => {
                let bytes = self.bytes;
                if let Some((r, sent)) = self.record.take() {
                    r.finish(bytes, &sent);
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Relay<B> {
    fn drop(&mut self) {
        if let Some((r, sent)) = self.record.take() {
            r.finish(self.bytes, &sent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(method: Method, path: &str, query: &str) -> (String, Option<String>) {
        s3_describe(&method, path, query, &hyper::HeaderMap::new())
    }

    #[test]
    fn s3_actions_and_resources_follow_method_path_and_subresource() {
        assert_eq!(s3(Method::GET, "/", ""), ("ListBuckets".into(), None));
        assert_eq!(
            s3(Method::GET, "/b", "list-type=2&prefix="),
            ("ListObjectsV2".into(), Some("arn:aws:s3:::b".into()))
        );
        assert_eq!(s3(Method::PUT, "/b", "").0, "CreateBucket");
        assert_eq!(s3(Method::PUT, "/b", "policy").0, "PutBucketPolicy");
        assert_eq!(s3(Method::POST, "/b", "delete").0, "DeleteObjects");
        assert_eq!(
            s3(Method::PUT, "/b/dir/a%20b.txt", ""),
            ("PutObject".into(), Some("arn:aws:s3:::b/dir/a b.txt".into()))
        );
        assert_eq!(s3(Method::PUT, "/b/k", "partNumber=1&uploadId=u").0, "UploadPart");
        assert_eq!(s3(Method::POST, "/b/k", "uploads").0, "CreateMultipartUpload");
        assert_eq!(s3(Method::DELETE, "/b/k", "uploadId=u").0, "AbortMultipartUpload");
        assert_eq!(s3(Method::HEAD, "/b/k", "").0, "HeadObject");
    }

    #[test]
    fn query_and_json_actions_and_resources() {
        let h = hyper::HeaderMap::new();
        let (a, r) = describe(
            "iam",
            &Method::POST,
            "/",
            "",
            &h,
            Some(b"Action=DeleteRole&RoleName=admin&Version=2010-05-08"),
            Some("123456789012"),
        );
        assert_eq!(a, "DeleteRole");
        assert_eq!(r.as_deref(), Some("arn:aws:iam::123456789012:role/admin"));
        let mut h = hyper::HeaderMap::new();
        h.insert("x-amz-target", HeaderValue::from_static("TrentService.Encrypt"));
        let (a, r) = describe(
            "kms",
            &Method::POST,
            "/",
            "",
            &h,
            Some(br#"{"KeyId":"alias/x"}"#),
            None,
        );
        assert_eq!((a.as_str(), r.as_deref()), ("Encrypt", Some("alias/x")));
    }

    #[test]
    fn error_codes_come_from_xml_json_headers_or_status() {
        let h = hyper::HeaderMap::new();
        assert_eq!(
            error_code(
                b"<Error><Code>NoSuchKey</Code></Error>",
                &h,
                StatusCode::NOT_FOUND
            )
            .as_deref(),
            Some("NoSuchKey")
        );
        assert_eq!(
            error_code(
                br#"{"__type":"com.amazon#NotFoundException"}"#,
                &h,
                StatusCode::BAD_REQUEST
            )
            .as_deref(),
            Some("NotFoundException")
        );
        assert_eq!(
            error_code(b"", &h, StatusCode::NOT_FOUND).as_deref(),
            Some("NotFound")
        );
    }

    #[test]
    fn presign_parameters_are_stripped_and_others_kept() {
        assert_eq!(
            strip_presign("X-Amz-Algorithm=AWS4-HMAC-SHA256&versionId=3&X-Amz-Signature=ab"),
            "versionId=3"
        );
        let mut h = vec![("content-encoding".to_owned(), "aws-chunked,gzip".to_owned())];
        strip_aws_chunked(&mut h);
        assert_eq!(h, vec![("content-encoding".to_owned(), "gzip".to_owned())]);
        let mut h = vec![("content-encoding".to_owned(), "aws-chunked".to_owned())];
        strip_aws_chunked(&mut h);
        assert!(h.is_empty());
    }

    #[test]
    fn endpoints_for_real_aws_and_custom_ones() {
        assert_eq!(
            upstream_base(None, "iam", "eu-west-1"),
            "https://iam.amazonaws.com"
        );
        assert_eq!(
            upstream_base(None, "sts", "eu-west-1"),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            upstream_base(Some("http://127.0.0.1:9/"), "s3", "x"),
            "http://127.0.0.1:9"
        );
        assert_eq!(authority_of("http://127.0.0.1:9"), "127.0.0.1:9");
    }

    #[test]
    fn expired_token_is_rendered_in_each_protocol() {
        for (p, code) in [
            (Protocol::Query, "ExpiredToken"),
            (Protocol::S3, "ExpiredToken"),
            (Protocol::Json, "ExpiredTokenException"),
        ] {
            let e = SigError::ExpiredSessionToken.to_aws(p);
            assert_eq!(e.code, code);
            let r = error_response(p, &e, "rid");
            assert!(r.status().is_client_error());
        }
    }
}
