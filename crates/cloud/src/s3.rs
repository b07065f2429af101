//! S3 over REST-XML: buckets, objects, multipart uploads, presigned URLs.
//!
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/Welcome.html>
//!
//! A request is claimed for S3 by its credential scope (`…/s3/aws4_request`), a SigV2
//! presigned query (`AWSAccessKeyId`/`Signature`/`Expires`) or, lacking any signature and any
//! Query-protocol `Action`, by default (as moto and LocalStack do) — except the console's paths
//! (`/federation`, `/signin…`, `/console…`), which stay the console's. Buckets are addressed
//! path-style (`/bucket/key`) or virtual-hosted (`bucket.localhost[:port]`,
//! `bucket.s3.localhost`). The body is never collected whole: object data and parts stream to
//! a temp file while MD5, the signed SHA-256 or aws-chunked chunk signatures and the
//! flexible checksum are computed (see [`body`]); small XML bodies are read to memory (at
//! most [`MAX_XML_BODY`]). Every operation is authorized by the IAM engine with the
//! bucket policy as the resource policy and the bucket owner as the resource account.

pub mod body;
mod buckets;
mod multipart;
mod objects;
pub mod store;
mod xml_in;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use porteiro_iam::{PolicyKind, Value};
use porteiro_sigv4::checksum::ChecksumAlgorithm;
use porteiro_sigv4::{AuthKind, ChunkSigner, Payload, Protocol, Scheme, SigError, SigningKey, Verified};

use crate::Cloud;
use crate::authz::{self, Ask, Caller, RequestInfo, VpcEndpoint};
use crate::model::Bucket;
use crate::protocol::ApiError;
use crate::server::ResponseBody;
use crate::state::State;
use crate::xml::Xml;

/// The S3 XML namespace.
pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
/// Largest object (PutObject) or part (UploadPart) accepted: 5 GiB, as AWS.
pub const MAX_OBJECT: u64 = 5 * 1024 * 1024 * 1024;
/// Largest XML request body (CompleteMultipartUpload of 10 000 parts fits).
pub const MAX_XML_BODY: u64 = 10 * 1024 * 1024;

/// An S3 error: `<Error><Code/><Message/>…<RequestId/></Error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// HTTP status.
    pub status: u16,
    /// S3 error code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Extra elements (`BucketName`, `Key`, `StringToSign`, ...).
    pub details: Vec<(String, String)>,
}

impl S3Error {
    /// An error.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> S3Error {
        S3Error {
            status,
            code: code.to_string(),
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Adds an element to the error document.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> S3Error {
        self.details.push((name.to_string(), value.into()));
        self
    }

    /// 404 NoSuchBucket.
    pub fn no_such_bucket(bucket: &str) -> S3Error {
        S3Error::new(404, "NoSuchBucket", "The specified bucket does not exist").with("BucketName", bucket)
    }

    /// 404 NoSuchKey.
    pub fn no_such_key(key: &str) -> S3Error {
        S3Error::new(404, "NoSuchKey", "The specified key does not exist.").with("Key", key)
    }

    /// 404 NoSuchUpload.
    pub fn no_such_upload(id: &str) -> S3Error {
        S3Error::new(
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .with("UploadId", id)
    }

    /// 400 MalformedXML.
    pub fn malformed_xml(why: &str) -> S3Error {
        S3Error::new(
            400,
            "MalformedXML",
            format!(
                "The XML you provided was not well-formed or did not validate against our published schema: {why}"
            ),
        )
    }

    /// 400 InvalidArgument.
    pub fn invalid_argument(message: impl Into<String>) -> S3Error {
        S3Error::new(400, "InvalidArgument", message)
    }

    /// 500 InternalError for a local I/O failure (the cause is in the message, which names
    /// no secret).
    pub fn io(e: std::io::Error) -> S3Error {
        S3Error::new(
            500,
            "InternalError",
            format!("the cloud could not read or write object data: {e}"),
        )
    }

    fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut x = Xml::new();
        x.open("Error")
            .elem("Code", &self.code)
            .elem("Message", &self.message);
        for (k, v) in &self.details {
            x.elem(k, v);
        }
        x.elem("Resource", resource)
            .elem("RequestId", request_id)
            .elem("HostId", request_id)
            .close("Error");
        x.finish()
    }
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for S3Error {}

impl From<SigError> for S3Error {
    fn from(e: SigError) -> S3Error {
        let aws = e.to_aws(Protocol::S3);
        S3Error {
            status: aws.status,
            code: aws.code.to_string(),
            message: aws.message,
            details: aws.details.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }
}

impl From<ApiError> for S3Error {
    fn from(e: ApiError) -> S3Error {
        match e.code.as_str() {
            // `authz::resolve` speaks the Query vocabulary; S3 names these differently.
            "InvalidClientTokenId" => S3Error::new(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            ),
            "ExpiredToken" => S3Error::new(400, "ExpiredToken", "The provided token has expired."),
            "ServiceFailure" => S3Error::new(500, "InternalError", e.message),
            _ => S3Error::new(e.status, &e.code, e.message),
        }
    }
}

impl From<crate::store::StoreError> for S3Error {
    fn from(e: crate::store::StoreError) -> S3Error {
        S3Error::new(
            500,
            "InternalError",
            format!("the cloud could not read or save object metadata: {e}"),
        )
    }
}

/// Whether `req` is an S3 request (see the module documentation).
pub fn claims<B>(req: &Request<B>) -> bool {
    let headers = req.headers();
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(auth) = header("authorization") {
        if auth.trim_start().starts_with("AWS ") {
            return true;
        }
        return auth
            .split("Credential=")
            .nth(1)
            .and_then(|c| c.split([',', ' ']).next())
            .and_then(|c| c.split('/').nth(3))
            == Some("s3");
    }
    let query = req.uri().query().unwrap_or("");
    let mut v2 = false;
    for (k, v) in query.split('&').map(|p| p.split_once('=').unwrap_or((p, ""))) {
        match k {
            "X-Amz-Credential" => {
                return crate::protocol::percent_decode(v).split('/').nth(3) == Some("s3");
            }
            "AWSAccessKeyId" => v2 = true,
            "Action" => return false,
            _ => {}
        }
    }
    if v2 {
        return true;
    }
    if header("x-amz-target").is_some() {
        return false;
    }
    // Unsigned requests to the console's paths are the console's (see `console::handle`).
    let path = req.uri().path();
    let console = ["/federation", "/signin", "/console"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')));
    if console {
        return false;
    }
    let form = header("content-type").is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    !(form && req.method() == Method::POST)
}

/// Which bucket and key a request names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The bucket, if any.
    pub bucket: Option<String>,
    /// The object key, if any (never empty).
    pub key: Option<String>,
    /// The bucket came from the `Host` header (virtual-hosted style).
    pub virtual_host: bool,
}

/// Decodes `%XX` in a URL path (`+` stays `+`).
fn path_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bucket of a virtual-hosted-style `Host` (`bucket.localhost:4566`, `bucket.s3.localhost`).
pub fn host_bucket(host: &str) -> Option<String> {
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.to_ascii_lowercase();
    let rest = host.strip_suffix(".localhost")?;
    let bucket = rest.strip_suffix(".s3").unwrap_or(rest);
    (!bucket.is_empty() && bucket != "s3").then(|| bucket.to_string())
}

/// The bucket and key of a request.
pub fn target(host: Option<&str>, raw_path: &str) -> Target {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    if let Some(bucket) = host.and_then(host_bucket) {
        return Target {
            bucket: Some(bucket),
            key: (!path.is_empty()).then(|| path_decode(path)),
            virtual_host: true,
        };
    }
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    Target {
        bucket: (!bucket.is_empty()).then(|| path_decode(bucket)),
        key: (!key.is_empty()).then(|| path_decode(key)),
        virtual_host: false,
    }
}

/// How the request was authenticated.
#[derive(Debug)]
enum Auth {
    /// SigV4 (header or presigned), with what reading the body needs.
    V4 { verified: Box<Verified>, secret: String },
    /// SigV2 presigned URL.
    V2,
    /// No signature.
    Anonymous,
}

/// Everything an operation needs.
pub(crate) struct Ctx<'a> {
    cloud: &'a Cloud,
    state: Arc<State>,
    caller: Option<Caller>,
    info: RequestInfo,
    method: Method,
    headers: HeaderMap,
    query: Vec<(String, String)>,
    target: Target,
    auth: Auth,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("method", &self.method)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    fn bucket_name(&self) -> &str {
        self.target.bucket.as_deref().unwrap_or("")
    }

    fn key(&self) -> &str {
        self.target.key.as_deref().unwrap_or("")
    }

    /// The bucket named by the request, or NoSuchBucket.
    fn bucket(&self) -> Result<&Bucket, S3Error> {
        let name = self.bucket_name();
        self.state
            .buckets
            .get(name)
            .ok_or_else(|| S3Error::no_such_bucket(name))
    }

    fn caller(&self) -> Result<&Caller, S3Error> {
        self.caller
            .as_ref()
            .ok_or_else(|| S3Error::new(403, "AccessDenied", "Access Denied"))
    }

    /// Authorizes `action` on `resource` (in `bucket`, whose policy is the resource policy).
    fn authorize(
        &self,
        action: &str,
        resource: String,
        bucket: Option<&Bucket>,
        extra: Vec<(String, Value)>,
    ) -> Result<(), S3Error> {
        let caller = self.caller()?;
        let mut ask = Ask::new(action, resource);
        ask = match bucket {
            Some(b) => ask
                .with_resource_policy(b.policy.as_deref(), PolicyKind::Resource)
                .in_account(b.account.clone()),
            None => ask.in_account(caller.account.clone()),
        };
        for (k, v) in extra {
            ask = ask.with_key(k, v);
        }
        authz::authorize(&self.cloud.authz, &self.state, caller, &ask, &self.info).map_err(S3Error::from)
    }

    /// How the body is encoded, from the verified signature.
    fn body_mode(&self) -> Result<body::Mode, S3Error> {
        let Auth::V4 { verified, secret } = &self.auth else {
            return Ok(body::Mode::Plain { sha256: None });
        };
        let (signed, trailer_allowed) = match verified.payload() {
            Payload::Sha256(h) => return Ok(body::Mode::Plain { sha256: Some(h) }),
            Payload::Unsigned => return Ok(body::Mode::Plain { sha256: None }),
            Payload::StreamingSigned => (true, false),
            Payload::StreamingSignedTrailer => (true, true),
            Payload::StreamingUnsignedTrailer => (false, true),
        };
        let decoded_length = self
            .header("x-amz-decoded-content-length")
            .ok_or(SigError::MissingDecodedContentLength)?
            .parse::<u64>()
            .map_err(|_| S3Error::invalid_argument("x-amz-decoded-content-length must be a number"))?;
        let signer = signed.then(|| {
            let scope = verified.credential_scope();
            let date = scope.split('/').next().unwrap_or("");
            let key = SigningKey::derive(secret, date, verified.region(), verified.service());
            ChunkSigner::new(key, verified.amz_date(), scope, verified.signature())
        });
        let announced = self
            .header("x-amz-trailer")
            .map(|t| {
                t.split(',')
                    .map(|n| n.trim().to_ascii_lowercase())
                    .filter(|n| !n.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(body::Mode::Chunked {
            signer,
            trailer_allowed,
            decoded_length,
            announced,
        })
    }

    /// The flexible checksum the request carries or announces.
    fn checksum_algorithm(&self) -> Option<ChecksumAlgorithm> {
        if let Some(t) = self.header("x-amz-trailer")
            && let Some(a) = t
                .split(',')
                .find_map(|n| ChecksumAlgorithm::from_header_name(n.trim()))
        {
            return Some(a);
        }
        for (name, _) in &self.headers {
            if let Some(a) = ChecksumAlgorithm::from_header_name(name.as_str()) {
                return Some(a);
            }
        }
        None
    }

    /// Reads a small body to memory and checks it (signature, Content-MD5, checksums).
    async fn read_small<B>(&self, body: B) -> Result<Vec<u8>, S3Error>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let mut sink = body::Sink::Memory(Vec::new());
        let received = body::receive(
            body,
            self.body_mode()?,
            self.checksum_algorithm(),
            MAX_XML_BODY,
            &mut sink,
        )
        .await?;
        self.check_integrity(&received)?;
        match sink {
            body::Sink::Memory(v) => Ok(v),
            body::Sink::File(_) => Ok(Vec::new()),
        }
    }

    /// Checks Content-MD5 and `x-amz-checksum-*` (header or trailer) against what was
    /// received. Returns the checksum to store (header name, value).
    fn check_integrity(&self, received: &body::Received) -> Result<Option<(String, String)>, S3Error> {
        if let Some(md5) = self.header("content-md5") {
            let computed = porteiro_sigv4::base64(&received.md5);
            if md5.len() != 24 {
                return Err(S3Error::new(
                    400,
                    "InvalidDigest",
                    "The Content-MD5 you specified was invalid.",
                ));
            }
            if md5 != computed {
                return Err(S3Error::new(
                    400,
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                )
                .with("ExpectedDigest", md5)
                .with("CalculatedDigest", computed));
            }
        }
        let Some((algorithm, computed)) = &received.checksum else {
            return Ok(None);
        };
        let name = algorithm.header_name();
        let declared = received
            .trailers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .or_else(|| self.header(name));
        match declared {
            Some(d) => {
                let d = d.trim();
                if d != computed {
                    if d.len() != computed.len() {
                        return Err(SigError::InvalidChecksum {
                            algorithm: *algorithm,
                        }
                        .into());
                    }
                    return Err(SigError::ChecksumMismatch {
                        algorithm: *algorithm,
                        declared: d.to_string(),
                        computed: computed.clone(),
                    }
                    .into());
                }
                Ok(Some((name.to_string(), computed.clone())))
            }
            None => Ok(None),
        }
    }
}

/// Serves one S3 request.
pub async fn serve<B>(
    cloud: &Cloud,
    req: Request<B>,
    remote: SocketAddr,
    vpc: Option<&VpcEndpoint>,
) -> Response<ResponseBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: std::fmt::Display,
{
    let request_id = crate::ids::request_id();
    let head = req.method() == Method::HEAD;
    let resource = req.uri().path().to_string();
    let mut resp = match run(cloud, req, remote, vpc).await {
        Ok(resp) => resp,
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            if head {
                // HEAD errors carry no body.
                empty(status)
            } else {
                xml(status, e.to_xml(&resource, &request_id))
            }
        }
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(HeaderName::from_static("x-amz-request-id"), v.clone());
        h.insert(HeaderName::from_static("x-amz-id-2"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&crate::time::http_date(crate::time::now())) {
        h.insert(hyper::header::DATE, v);
    }
    h.insert(hyper::header::SERVER, HeaderValue::from_static("Porteiro"));
    resp
}

async fn run<B>(
    cloud: &Cloud,
    req: Request<B>,
    remote: SocketAddr,
    vpc: Option<&VpcEndpoint>,
) -> Result<Response<ResponseBody>, S3Error>
where
    B: hyper::body::Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: std::fmt::Display,
{
    let now = cloud.now();
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let host = parts
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let target = target(host.as_deref(), &raw_path);
    let header_pairs: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
        .collect();
    let header_refs: Vec<(&str, &str)> = header_pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sreq = porteiro_sigv4::Request::new(parts.method.as_str(), &raw_path, &raw_query, &header_refs);
    let state = cloud.shared.snapshot();

    let (caller, auth, region) = match porteiro_sigv4::scheme(&sreq) {
        Scheme::V4Header | Scheme::V4Presigned => {
            let parsed = porteiro_sigv4::parse(&sreq)?;
            let (caller, secret) =
                authz::resolve(&state, parsed.access_key_id(), parsed.session_token(), now)?;
            let verified = porteiro_sigv4::verify(&sreq, &parsed, &secret, now)?;
            let region = verified.region().to_string();
            if verified.kind() == AuthKind::Presigned && verified.payload().is_chunked() {
                return Err(S3Error::invalid_argument(
                    "a presigned URL cannot carry an aws-chunked body",
                ));
            }
            (
                Some(caller),
                Auth::V4 {
                    verified: Box::new(verified),
                    secret,
                },
                region,
            )
        }
        Scheme::V2Presigned => {
            let parsed = porteiro_sigv4::v2::parse(&sreq)?;
            let (caller, secret) =
                authz::resolve(&state, parsed.access_key_id(), parsed.session_token(), now)?;
            let bucket_in_host = target.virtual_host.then(|| target.bucket.clone()).flatten();
            porteiro_sigv4::v2::verify(&sreq, &parsed, &secret, now, bucket_in_host.as_deref())?;
            (Some(caller), Auth::V2, "us-east-1".to_string())
        }
        Scheme::V2Header => {
            return Err(S3Error::invalid_argument(
                "Porteiro's embedded cloud accepts SigV2 only in presigned URLs: sign requests with SigV4 (AWS4-HMAC-SHA256)",
            ));
        }
        Scheme::Anonymous => (None, Auth::Anonymous, "us-east-1".to_string()),
    };
    let query = crate::protocol::form_decode(&raw_query);
    let mut info = RequestInfo::direct(remote.ip(), region, now);
    info.vpc = vpc.cloned();
    let ctx = Ctx {
        cloud,
        state,
        caller,
        info,
        method: parts.method,
        headers: parts.headers,
        query,
        target,
        auth,
    };
    dispatch(&ctx, body).await
}

async fn dispatch<B>(ctx: &Ctx<'_>, body: B) -> Result<Response<ResponseBody>, S3Error>
where
    B: hyper::body::Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: std::fmt::Display,
{
    let m = &ctx.method;
    let has = |n: &str| ctx.has(n);
    if ctx.target.bucket.is_none() {
        return match *m {
            Method::GET => buckets::list_buckets(ctx),
            _ => Err(S3Error::new(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )),
        };
    }
    if ctx.target.key.is_none() {
        return match *m {
            Method::PUT if has("policy") => buckets::put_policy(ctx, &ctx.read_small(body).await?),
            Method::PUT if has("encryption") => buckets::put_encryption(ctx, &ctx.read_small(body).await?),
            Method::PUT if has("tagging") => buckets::put_tagging(ctx, &ctx.read_small(body).await?),
            Method::PUT if ctx.query.iter().all(|(k, _)| k == "x-id") => {
                buckets::create_bucket(ctx, &ctx.read_small(body).await?)
            }
            Method::GET if has("location") => buckets::get_location(ctx),
            Method::GET if has("policy") => buckets::get_policy(ctx),
            Method::GET if has("encryption") => buckets::get_encryption(ctx),
            Method::GET if has("tagging") => buckets::get_tagging(ctx),
            Method::GET if has("versioning") => buckets::get_versioning(ctx),
            Method::GET if has("uploads") => multipart::list_uploads(ctx),
            Method::GET if ctx.param("list-type") == Some("2") => objects::list_v2(ctx),
            Method::GET if ctx.query.iter().all(|(k, _)| is_list_param(k)) => objects::list_v1(ctx),
            Method::HEAD => buckets::head_bucket(ctx),
            Method::DELETE if has("policy") => buckets::delete_policy(ctx),
            Method::DELETE if has("encryption") => buckets::delete_encryption(ctx),
            Method::DELETE if has("tagging") => buckets::delete_tagging(ctx),
            Method::DELETE if ctx.query.iter().all(|(k, _)| k == "x-id") => buckets::delete_bucket(ctx),
            Method::POST if has("delete") => objects::delete_objects(ctx, &ctx.read_small(body).await?),
            _ => Err(not_implemented(ctx)),
        };
    }
    match *m {
        Method::PUT if has("uploadId") && has("partNumber") => multipart::upload_part(ctx, body).await,
        Method::PUT if has("tagging") => objects::put_tagging(ctx, &ctx.read_small(body).await?),
        Method::PUT if ctx.header("x-amz-copy-source").is_some() => {
            ctx.read_small(body).await?;
            objects::copy_object(ctx).await
        }
        Method::PUT => objects::put_object(ctx, body).await,
        Method::GET if has("uploadId") => multipart::list_parts(ctx),
        Method::GET if has("tagging") => objects::get_tagging(ctx),
        Method::GET | Method::HEAD => objects::get_object(ctx).await,
        Method::DELETE if has("uploadId") => multipart::abort(ctx),
        Method::DELETE if has("tagging") => objects::delete_tagging(ctx),
        Method::DELETE => objects::delete_object(ctx),
        Method::POST if has("uploads") => multipart::create(ctx),
        Method::POST if has("uploadId") => multipart::complete(ctx, &ctx.read_small(body).await?).await,
        _ => Err(not_implemented(ctx)),
    }
}

fn is_list_param(k: &str) -> bool {
    matches!(
        k,
        "prefix" | "delimiter" | "marker" | "max-keys" | "encoding-type" | "x-id" | "list-type"
    )
}

fn not_implemented(ctx: &Ctx<'_>) -> S3Error {
    let sub: Vec<&str> = ctx.query.iter().map(|(k, _)| k.as_str()).collect();
    S3Error::new(
        501,
        "NotImplemented",
        format!(
            "Porteiro's embedded S3 does not implement {} with {}",
            ctx.method,
            if sub.is_empty() {
                "no sub-resource".to_string()
            } else {
                format!("`{}`", sub.join("&"))
            }
        ),
    )
}

/// A response with an XML body.
pub(crate) fn xml(status: StatusCode, body: String) -> Response<ResponseBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// A response without a body.
pub(crate) fn empty(status: StatusCode) -> Response<ResponseBody> {
    let mut resp = Response::new(Full::new(Bytes::new()).map_err(|never| match never {}).boxed());
    *resp.status_mut() = status;
    resp
}

/// Sets a header when the value is valid.
pub(crate) fn set_header(resp: &mut Response<ResponseBody>, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        resp.headers_mut().insert(n, v);
    }
}

/// Starts a document with the S3 namespace on its root.
pub(crate) fn doc(root: &str) -> Xml {
    let mut x = Xml::new();
    x.open_ns(root, NS);
    x
}

/// Keys in listings: as stored, or URL-encoded with `encoding-type=url`.
pub(crate) fn enc(url: bool, s: &str) -> String {
    if url {
        porteiro_sigv4::uri_encode(s).replace("%2F", "/")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_path_and_virtual_host() {
        let t = target(Some("127.0.0.1:4566"), "/bkt/dir/a%20b%2Bc.txt");
        assert_eq!(t.bucket.as_deref(), Some("bkt"));
        assert_eq!(t.key.as_deref(), Some("dir/a b+c.txt"));
        let t = target(Some("rustbucket.localhost:4566"), "/k+1");
        assert_eq!(
            (t.bucket.as_deref(), t.key.as_deref(), t.virtual_host),
            (Some("rustbucket"), Some("k+1"), true)
        );
        let t = target(Some("b1.s3.localhost"), "/");
        assert_eq!((t.bucket.as_deref(), t.key), (Some("b1"), None));
        assert_eq!(target(Some("localhost:1"), "/").bucket, None);
        assert_eq!(target(Some("s3.localhost"), "/x/").bucket.as_deref(), Some("x"));
    }

    #[test]
    fn claims_s3_requests_only() {
        let req = |uri: &str, headers: &[(&str, &str)]| {
            let mut b = Request::builder().method("POST").uri(uri);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b.body(()).unwrap()
        };
        assert!(claims(&req(
            "/b/k",
            &[(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"
            )]
        )));
        assert!(!claims(&req(
            "/",
            &[(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x"
            )]
        )));
        assert!(claims(&req("/b/k?AWSAccessKeyId=AK&Signature=x&Expires=1", &[])));
        assert!(claims(&req(
            "/b/k?X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
            &[]
        )));
        assert!(!claims(&req(
            "/",
            &[("content-type", "application/x-www-form-urlencoded")]
        )));
        assert!(!claims(&req("/?Action=ListUsers", &[])));
        assert!(!claims(&req("/", &[("x-amz-target", "TrentService.ListKeys")])));
        assert!(!claims(&req("/console/s3", &[])));
        assert!(!claims(&req("/federation?Action=getSigninToken", &[])));
        assert!(claims(&req("/consoles/k", &[])));
    }
}
