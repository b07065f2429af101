//! AWS Signature Version 4 for a server: verify what unmodified AWS clients (awscli,
//! boto3, the AWS SDK for Rust) send to IAM, STS, KMS and S3, and sign requests the same
//! way (for a re-signing gateway and for tests).
//!
//! Pure: no I/O, no clock (callers pass `now` as Unix seconds), no async, no HTTP framework
//! types. A request is a [`Request`]: method, raw path, raw query, header pairs and a body
//! hash source.
//!
//! ```
//! use porteiro_sigv4::{parse, sign, verify, Body, Credentials, Request, SigningParams};
//!
//! let body = b"Action=ListUsers&Version=2010-05-08";
//! let mut headers = vec![
//!     ("Host", "127.0.0.1:5056"),
//!     ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
//! ];
//! let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
//! let params = SigningParams::new(creds, "eu-west-1", "iam", 1_795_000_000);
//! let signed = sign(&Request::new("POST", "/", "", &headers).with_body(body), &params)?;
//! headers.extend(signed.headers());
//!
//! // Server side.
//! let request = Request::new("POST", "/", "", &headers).with_body(body);
//! let auth = parse(&request)?;
//! assert_eq!((auth.access_key_id(), auth.region(), auth.service()), ("AKIDEXAMPLE", "eu-west-1", "iam"));
//! let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"; // looked up by access key id
//! let verified = verify(&request, &auth, secret, 1_795_000_060)?;
//! assert_eq!(verified.access_key_id(), "AKIDEXAMPLE");
//! # Ok::<(), porteiro_sigv4::SigError>(())
//! ```
//!
//! Also here: aws-chunked payload decoding with chunk and trailer signature verification
//! ([`Verified::decode_aws_chunked`]), S3 flexible checksums ([`checksum`]), S3 SigV2
//! presigned URLs ([`v2`]), and the mapping of every failure to each protocol's error code
//! ([`SigError::to_aws`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod canonical;
pub mod checksum;
mod chunked;
mod encode;
mod error;
mod sign;
pub mod time;
pub mod v2;
mod verify;

pub use auth::{Auth, AuthKind, Scheme, parse, scheme};
pub use chunked::{ChunkSigner, Decoded, encode_aws_chunked, verify_checksum, verify_checksum_headers};
pub use encode::{base64, hex, uri_encode};
pub use error::{AwsError, Malformed, Protocol, SigError};
pub use sign::{
    Credentials, KeyCache, PresignedUrl, SignedRequest, SigningKey, SigningParams, presign, sign,
    sign_with_key,
};
pub use verify::{Payload, Verified, verify, verify_with_key};

/// The SigV4 algorithm name.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Largest accepted difference between a header-signed request's time and the server time.
pub const MAX_SKEW_SECONDS: i64 = 900;
/// Largest accepted `X-Amz-Expires` (7 days).
pub const MAX_PRESIGN_EXPIRES: u64 = 604_800;
/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// `x-amz-content-sha256` for an unsigned payload.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `x-amz-content-sha256` for aws-chunked with chunk signatures.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// `x-amz-content-sha256` for aws-chunked with chunk signatures and a signed trailer.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `x-amz-content-sha256` for aws-chunked without signatures, with a trailer.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// Where the payload hash of the canonical request comes from when the request has no
/// `x-amz-content-sha256` header (IAM, STS and KMS clients never send one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// The complete body. Also used to check a hex `x-amz-content-sha256` against the body.
    Bytes(&'a [u8]),
    /// The hex SHA-256 of the body, computed by the caller.
    Sha256(&'a str),
    /// The body is not available (not read yet). Enough for S3 header auth, which always
    /// carries `x-amz-content-sha256`, and S3 presigned URLs; check the body later with
    /// [`Verified::check_body`].
    Deferred,
}

/// A request as received, in plain strings: what the verifier and the signer look at.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method (`GET`, `PUT`, ...).
    pub method: &'a str,
    /// The path exactly as received, still percent-encoded, without the query
    /// (`/bkt1/dir/a%20b%2Bc%3D%C3%BC.txt`).
    pub path: &'a str,
    /// The raw query string without `?` (`list-type=2&prefix=&delimiter=%2F`), or `""`.
    pub query: &'a str,
    /// The headers as name/value pairs; names in any case, repeated names allowed. Behind an
    /// HTTP/2 front end, pass `:authority` as `host`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The payload hash source.
    pub body: Body<'a>,
}

impl<'a> Request<'a> {
    /// A request whose body is [`Body::Deferred`].
    pub fn new(method: &'a str, path: &'a str, query: &'a str, headers: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            method,
            path,
            query,
            headers,
            body: Body::Deferred,
        }
    }

    /// A request from a request target (`/path?query`), split at the first `?`.
    pub fn from_target(method: &'a str, target: &'a str, headers: &'a [(&'a str, &'a str)]) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self::new(method, path, query, headers)
    }

    /// Sets the body to the complete body bytes.
    pub fn with_body(mut self, body: &'a [u8]) -> Self {
        self.body = Body::Bytes(body);
        self
    }

    /// Sets the body to a caller-computed hex SHA-256.
    pub fn with_body_sha256(mut self, sha256_hex: &'a str) -> Self {
        self.body = Body::Sha256(sha256_hex);
        self
    }

    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    /// The first value of query parameter `name` (exact match on the decoded name), decoded.
    pub fn query_param(&self, name: &str) -> Option<std::borrow::Cow<'a, str>> {
        raw_query_pairs(self.query)
            .find(|(k, _)| encode::form_decode_str(k) == name)
            .map(|(_, v)| encode::form_decode_str(v))
    }
}

/// The raw `key=value` pairs of a query string (a missing `=` gives an empty value).
pub(crate) fn raw_query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|seg| seg.split_once('=').unwrap_or((seg, "")))
}

/// Hex SHA-256 of `data`: the payload hash of a body.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}
