//! The HTTP face of the cloud: one listener for every service, dispatched on the SigV4
//! credential scope (then `X-Amz-Target`, then the form's `Action`/`Version`), as moto and
//! LocalStack do. Errors are rendered in the protocol of the service called, authentication
//! errors included.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use porteiro_sigv4::Protocol;

use crate::Cloud;
use crate::authz::{self, RequestInfo, VpcEndpoint};
use crate::iam::{self, Ctx};
use crate::protocol::{ApiError, Params, Service};

/// A response body: a complete buffer, or an S3 object streamed from disk.
pub type ResponseBody = BoxBody<Bytes, std::io::Error>;

/// Largest request body accepted by the Query services.
pub const MAX_QUERY_BODY: usize = 1024 * 1024;

/// Accepts connections until the listener fails. Requests that arrive on a listener that
/// stands for a VPC endpoint (`vpc`) carry that endpoint's keys instead of `aws:SourceIp`.
pub async fn serve(
    cloud: Cloud,
    listener: tokio::net::TcpListener,
    vpc: Option<VpcEndpoint>,
) -> std::io::Result<()> {
    // Pick up changes other processes make to the database (`porteiro cloud account create`).
    let watcher = cloud.clone();
    let watching = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            tick.tick().await;
            let _ = watcher.shared.reload_if_changed();
        }
    });
    let _stop_watching = AbortOnDrop(watching);
    let vpc = vpc.map(std::sync::Arc::new);
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) if is_transient(&e) => continue,
            Err(e) => return Err(e),
        };
        let _ = stream.set_nodelay(true);
        let cloud = cloud.clone();
        let vpc = vpc.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let cloud = cloud.clone();
                let vpc = vpc.clone();
                async move { Ok::<_, Infallible>(receive(&cloud, req, remote, vpc.as_deref()).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, service)
                .await;
        });
    }
}

/// Aborts a background task when the server future is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::Interrupted
    )
}

/// A complete response as a [`ResponseBody`].
pub fn boxed(resp: Response<Full<Bytes>>) -> Response<ResponseBody> {
    resp.map(|b| b.map_err(|never| match never {}).boxed())
}

async fn receive(
    cloud: &Cloud,
    req: Request<Incoming>,
    remote: SocketAddr,
    vpc: Option<&VpcEndpoint>,
) -> Response<ResponseBody> {
    // S3 bodies (objects of up to 5 GiB) are streamed to disk, never collected in memory.
    if crate::s3::claims(&req) {
        return crate::s3::serve(cloud, req, remote, vpc).await;
    }
    boxed(receive_collected(cloud, req, remote, vpc).await)
}

async fn receive_collected(
    cloud: &Cloud,
    req: Request<Incoming>,
    remote: SocketAddr,
    vpc: Option<&VpcEndpoint>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_QUERY_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let e = ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("the request body is larger than {MAX_QUERY_BODY} bytes"),
            );
            return query_error(Service::Iam, &e, &crate::ids::request_id());
        }
    };
    handle(cloud, Request::from_parts(parts, body), remote, vpc).await
}

/// Which service, by credential scope, target header or form parameters.
fn detect_service(req: &Request<Bytes>, params: &Params) -> Option<&'static str> {
    let scope_service = |credential: &str| -> Option<&'static str> {
        match credential.split('/').nth(3)? {
            "iam" => Some("iam"),
            "sts" => Some("sts"),
            "s3" => Some("s3"),
            "kms" => Some("kms"),
            _ => None,
        }
    };
    if let Some(auth) = req.headers().get("authorization").and_then(|v| v.to_str().ok())
        && let Some(cred) = auth.split("Credential=").nth(1)
    {
        return scope_service(cred.split([',', ' ']).next().unwrap_or_default());
    }
    if let Some(cred) = params.get("X-Amz-Credential") {
        return scope_service(cred);
    }
    if let Some(target) = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok())
        && target.starts_with("TrentService.")
    {
        return Some("kms");
    }
    match params.get("Version") {
        Some("2010-05-08") => Some("iam"),
        Some("2011-06-15") => Some("sts"),
        _ if params.get("Action").is_some() => Some("iam"),
        _ => None,
    }
}

/// Handles one request whose body has been read.
pub async fn handle(
    cloud: &Cloud,
    req: Request<Bytes>,
    remote: SocketAddr,
    vpc: Option<&VpcEndpoint>,
) -> Response<Full<Bytes>> {
    // The console, its sign-in pages and the federation endpoint are routed by path.
    if let Some(resp) = crate::console::handle(cloud, &req, remote, vpc) {
        return resp;
    }
    let request_id = crate::ids::request_id();
    let now = cloud.now();
    let query = req.uri().query().unwrap_or("").to_string();
    let is_form = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body_text = if is_form {
        std::str::from_utf8(req.body()).unwrap_or("")
    } else {
        ""
    };
    let params = Params::parse(&query, body_text);
    let service = match detect_service(&req, &params) {
        Some("iam") => Service::Iam,
        Some("sts") => Service::Sts,
        Some("kms") => return crate::kms::serve(cloud, &req, remote, vpc, now, &request_id),
        Some(other) => {
            return not_implemented(other, &request_id);
        }
        None => {
            let e = ApiError::new(
                400,
                "InvalidAction",
                "Porteiro's embedded cloud could not tell which service this request is for: sign it with SigV4 (the credential scope names the service) or send Action and Version",
            );
            return query_error(Service::Iam, &e, &request_id);
        }
    };
    match run(cloud, &req, &params, service, remote, vpc, now, &request_id) {
        Ok(body) => xml_response(StatusCode::OK, body, &request_id),
        Err(e) => query_error(service, &e, &request_id),
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    cloud: &Cloud,
    req: &Request<Bytes>,
    params: &Params,
    service: Service,
    remote: SocketAddr,
    vpc: Option<&VpcEndpoint>,
    now: i64,
    request_id: &str,
) -> Result<String, ApiError> {
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let sreq =
        porteiro_sigv4::Request::new(req.method().as_str(), path, query, &headers).with_body(req.body());
    let sig_err = |e: porteiro_sigv4::SigError| {
        let aws = e.to_aws(Protocol::Query);
        ApiError::new(aws.status, aws.code, aws.message)
    };
    let auth = porteiro_sigv4::parse(&sreq).map_err(sig_err)?;
    let state = cloud.shared.snapshot();
    let (caller, secret) = authz::resolve(&state, auth.access_key_id(), auth.session_token(), now)?;
    porteiro_sigv4::verify(&sreq, &auth, &secret, now).map_err(sig_err)?;
    let action = params.required("Action")?;
    let mut info = RequestInfo::direct(remote.ip(), auth.region(), now);
    info.vpc = vpc.cloned();
    let ctx = Ctx {
        cloud,
        state: state.clone(),
        caller: &caller,
        params,
        info: &info,
        request_id,
    };
    match service {
        Service::Iam => iam::handle(&ctx, action),
        Service::Sts => crate::sts::handle(&ctx, action),
    }
}

fn xml_response(status: StatusCode, body: String, request_id: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(HeaderName::from_static("x-amzn-requestid"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&crate::time::http_date(crate::time::now())) {
        h.insert(hyper::header::DATE, v);
    }
    resp
}

fn query_error(service: Service, e: &ApiError, request_id: &str) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    xml_response(status, e.to_query_xml(service, request_id), request_id)
}

fn not_implemented(service: &str, request_id: &str) -> Response<Full<Bytes>> {
    let message = format!("Porteiro's embedded cloud does not serve {service} yet");
    let (body, content_type) = if service == "kms" {
        (
            serde_json::json!({"__type": "NotImplementedException", "message": message}).to_string(),
            "application/x-amz-json-1.1",
        )
    } else {
        let mut x = crate::xml::Xml::new();
        x.open("Error")
            .elem("Code", "NotImplemented")
            .elem("Message", &message)
            .elem("RequestId", request_id)
            .close("Error");
        (x.finish(), "application/xml")
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::NOT_IMPLEMENTED;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    resp
}
