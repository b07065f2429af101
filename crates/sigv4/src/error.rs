//! Errors, and their rendering as each AWS protocol family's error code, HTTP status and
//! message.

use std::fmt;

use crate::checksum::ChecksumAlgorithm;
use crate::time::{format_amz_date, format_iso8601};
use crate::{AuthKind, MAX_SKEW_SECONDS};

/// Why a SigV4 (or SigV2) request failed authentication.
///
/// The variants are fine-grained so that a server can answer in each protocol's own terms:
/// see [`SigError::to_aws`]. No variant ever carries a secret key or a derived signing key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    /// Neither an `Authorization` header nor presigned query parameters (an anonymous request).
    #[error("the request carries no authentication")]
    MissingAuthentication,
    /// Both an `Authorization` header and presigned query parameters were sent.
    #[error("only one authentication mechanism is allowed")]
    MultipleAuthMechanisms,
    /// An algorithm other than `AWS4-HMAC-SHA256` (SigV4a, SigV2 header auth, ...).
    #[error("unsupported authorization algorithm {algorithm:?}")]
    UnsupportedAlgorithm {
        /// Header or presigned query authentication.
        kind: AuthKind,
        /// The algorithm as sent (truncated to 64 characters).
        algorithm: String,
    },
    /// The `Authorization` header or the presigned query parameters cannot be parsed.
    #[error("malformed {kind} authentication: {reason}")]
    Malformed {
        /// Header or presigned query authentication.
        kind: AuthKind,
        /// What is wrong.
        reason: Malformed,
    },
    /// The access key id is not known. The verifier never produces this: the caller looks
    /// the key up and returns it.
    #[error("unknown access key id {access_key_id}")]
    UnknownAccessKey {
        /// The access key id the request named.
        access_key_id: String,
    },
    /// The session token does not belong to the access key or is unknown (caller-produced).
    #[error("the security token included in the request is invalid")]
    InvalidSessionToken,
    /// The session token has expired (caller-produced).
    #[error("the security token included in the request is expired")]
    ExpiredSessionToken,
    /// The signature does not match. Carries the server's canonical request and string to
    /// sign (S3 returns both to the client for debugging); never the secret.
    #[error("the request signature does not match")]
    SignatureDoesNotMatch {
        /// The canonical request the server computed (empty for SigV2).
        canonical_request: String,
        /// The string to sign the server computed.
        string_to_sign: String,
    },
    /// Header authentication with a timestamp more than 15 minutes away from the server time.
    #[error("request time {} is more than 15 minutes from server time {}", format_amz_date(*request_time), format_amz_date(*server_time))]
    RequestTimeTooSkewed {
        /// The request timestamp (Unix seconds).
        request_time: i64,
        /// The server time (Unix seconds).
        server_time: i64,
    },
    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires` (SigV4) or `Expires` (SigV2).
    #[error("presigned request expired at {}", format_amz_date(*expires_at))]
    PresignedExpired {
        /// When the URL stopped being valid (Unix seconds).
        expires_at: i64,
        /// `X-Amz-Expires` (SigV4 only).
        expires_in: Option<u64>,
        /// The server time (Unix seconds).
        server_time: i64,
    },
    /// A presigned URL dated more than 15 minutes in the future.
    #[error("presigned request dated {} is not valid yet", format_amz_date(*request_time))]
    PresignedNotYetValid {
        /// `X-Amz-Date` (Unix seconds).
        request_time: i64,
        /// The server time (Unix seconds).
        server_time: i64,
    },
    /// `x-amz-*` headers present in a header-authenticated request but not signed.
    #[error("headers present in the request are not signed: {headers}")]
    UnsignedHeaders {
        /// The unsigned header names, lower case, separated by `,`.
        headers: String,
    },
    /// The credential scope date differs from the date of `X-Amz-Date`.
    #[error("credential scope date {scope_date} does not match request date {request_date}")]
    ScopeDateMismatch {
        /// Header or presigned query authentication.
        kind: AuthKind,
        /// `YYYYMMDD` from the credential scope.
        scope_date: String,
        /// The request timestamp as sent (`X-Amz-Date` or `Date`).
        request_date: String,
    },
    /// S3 header authentication without `x-amz-content-sha256`.
    #[error("missing x-amz-content-sha256")]
    MissingContentSha256,
    /// `x-amz-content-sha256` is neither a SHA-256 hex digest nor a known keyword.
    #[error("invalid x-amz-content-sha256 {value:?}")]
    InvalidContentSha256 {
        /// The value as sent (truncated to 100 characters).
        value: String,
    },
    /// The body's SHA-256 differs from `x-amz-content-sha256`.
    #[error("the body does not match x-amz-content-sha256")]
    ContentSha256Mismatch {
        /// The header value.
        declared: String,
        /// The hex SHA-256 of the body.
        computed: String,
    },
    /// The request has no body hash source: no `x-amz-content-sha256` and the caller passed
    /// [`Body::Deferred`](crate::Body::Deferred).
    #[error("the body is needed to verify this request")]
    BodyRequired,
    /// [`Verified::decode_aws_chunked`](crate::Verified::decode_aws_chunked) on a request
    /// whose `x-amz-content-sha256` is not a `STREAMING-*` value.
    #[error("the request payload is not aws-chunked")]
    NotChunked,
    /// The aws-chunked framing is broken.
    #[error("malformed aws-chunked body: {reason}")]
    MalformedChunkedBody {
        /// What is wrong.
        reason: &'static str,
    },
    /// A chunk signature (the final 0-byte chunk included) does not match.
    #[error("chunk {index} signature does not match")]
    ChunkSignatureDoesNotMatch {
        /// 0-based index of the chunk.
        index: usize,
        /// The server's string to sign for that chunk.
        string_to_sign: String,
    },
    /// The trailer signature (`x-amz-trailer-signature`) is missing or does not match.
    #[error("trailer signature does not match")]
    TrailerSignatureDoesNotMatch {
        /// The server's string to sign for the trailer.
        string_to_sign: String,
    },
    /// A streaming upload without `x-amz-decoded-content-length`.
    #[error("missing x-amz-decoded-content-length")]
    MissingDecodedContentLength,
    /// The decoded payload length differs from `x-amz-decoded-content-length`.
    #[error("decoded length {actual} differs from x-amz-decoded-content-length {declared}")]
    DecodedLengthMismatch {
        /// The header value.
        declared: u64,
        /// Bytes actually decoded.
        actual: u64,
    },
    /// A trailer named in `x-amz-trailer` was not sent.
    #[error("trailer {name} declared in x-amz-trailer was not sent")]
    MissingTrailer {
        /// The trailer name.
        name: String,
    },
    /// A checksum value that is not the base64 of a digest of the right length.
    #[error("invalid {algorithm} checksum value")]
    InvalidChecksum {
        /// The algorithm.
        algorithm: ChecksumAlgorithm,
    },
    /// The payload does not match its `x-amz-checksum-*` header or trailer (S3 `BadDigest`).
    #[error("{algorithm} checksum mismatch: declared {declared}, computed {computed}")]
    ChecksumMismatch {
        /// The algorithm.
        algorithm: ChecksumAlgorithm,
        /// The value the client sent.
        declared: String,
        /// The value computed over the payload.
        computed: String,
    },
    /// A request to sign lacks something signing needs (a `Host` header, the body).
    #[error("cannot sign: {reason}")]
    CannotSign {
        /// What is missing.
        reason: &'static str,
    },
}

/// What is wrong with a malformed `Authorization` header or presigned query.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// A required component or query parameter is absent (`Credential`, `X-Amz-Expires`, ...).
    MissingComponent(&'static str),
    /// The header does not have the `ALGORITHM Key=Value, ...` shape.
    Garbled,
    /// The credential is not `AKID/YYYYMMDD/REGION/SERVICE/aws4_request`.
    Credential(String),
    /// The credential's last element is not `aws4_request`.
    Terminator(String),
    /// `SignedHeaders` is empty.
    SignedHeaders,
    /// `host` is not among the signed headers.
    HostNotSigned,
    /// No `X-Amz-Date` (or `Date`) header.
    MissingDate,
    /// The timestamp cannot be parsed.
    Date(String),
    /// `X-Amz-Expires` is not an integer.
    Expires(String),
    /// `X-Amz-Expires` is zero or negative.
    ExpiresNotPositive,
    /// `X-Amz-Expires` is above 604800 (7 days).
    ExpiresTooLarge(u64),
}

fn clip(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl Malformed {
    pub(crate) fn credential(s: &str) -> Self {
        Self::Credential(clip(s, 200).to_owned())
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingComponent(c) => write!(f, "missing {c}"),
            Self::Garbled => f.write_str(
                "not of the form 'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...'",
            ),
            Self::Credential(c) => write!(
                f,
                "credential {c:?} is not AKID/YYYYMMDD/REGION/SERVICE/aws4_request"
            ),
            Self::Terminator(t) => write!(f, "credential terminator {t:?} is not aws4_request"),
            Self::SignedHeaders => f.write_str("empty SignedHeaders"),
            Self::HostNotSigned => f.write_str("host is not a signed header"),
            Self::MissingDate => f.write_str("no X-Amz-Date or Date"),
            Self::Date(d) => write!(f, "unparseable date {d:?}"),
            Self::Expires(e) => write!(f, "X-Amz-Expires {e:?} is not a number"),
            Self::ExpiresNotPositive => f.write_str("X-Amz-Expires must be positive"),
            Self::ExpiresTooLarge(e) => write!(f, "X-Amz-Expires {e} exceeds 604800"),
        }
    }
}

/// The protocol family whose error vocabulary a response must use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// AWS Query (IAM, STS): `<ErrorResponse><Error><Code>…`.
    Query,
    /// AWS JSON 1.0/1.1 (KMS): `{"__type": …, "message": …}`.
    Json,
    /// S3 REST-XML: `<Error><Code>…`.
    S3,
}

impl Protocol {
    /// The protocol of a SigV4 signing name: `s3` → S3, `kms` → JSON, everything else (`iam`,
    /// `sts`) → Query.
    pub fn for_service(service: &str) -> Self {
        match service {
            "s3" => Self::S3,
            "kms" => Self::Json,
            _ => Self::Query,
        }
    }
}

/// An error as a given protocol renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The error code (`SignatureDoesNotMatch`, `InvalidSignatureException`, ...).
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// AWS's message text.
    pub message: String,
    /// Extra elements S3 puts in its `<Error>` body (`RequestTime`, `StringToSign`, ...), in
    /// order; empty for the other protocols.
    pub details: Vec<(&'static str, String)>,
}

const QUERY_SIG_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const S3_SIG_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
const EXPIRED_TOKEN: &str = "The security token included in the request is expired";

fn skew_message(request_time: i64, server_time: i64) -> String {
    let skew = MAX_SKEW_SECONDS;
    if request_time < server_time {
        format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            format_amz_date(request_time),
            format_amz_date(server_time - skew),
            format_amz_date(server_time)
        )
    } else {
        format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            format_amz_date(request_time),
            format_amz_date(server_time + skew),
            format_amz_date(server_time)
        )
    }
}

/// Message for malformed SigV4 auth in the Query/JSON vocabulary (`IncompleteSignature`).
fn incomplete_message(kind: AuthKind, reason: &Malformed) -> String {
    let header = kind == AuthKind::Header;
    match reason {
        Malformed::MissingComponent(c) if header => format!("Authorization header requires '{c}' parameter."),
        Malformed::MissingComponent(c) => {
            format!("AWS query-string parameters must include '{c}'. Re-examine the query-string parameters.")
        }
        Malformed::Garbled => "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.".to_owned(),
        Malformed::Credential(c) => format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{c}'"
        ),
        Malformed::Terminator(t) => {
            format!("Credential should be scoped with a valid terminator: 'aws4_request', not '{t}'.")
        }
        Malformed::SignedHeaders => "Authorization header requires 'SignedHeaders' parameter.".to_owned(),
        Malformed::HostNotSigned => "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        Malformed::MissingDate => {
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".to_owned()
        }
        Malformed::Date(d) => format!("Invalid date '{d}': X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'."),
        Malformed::Expires(_) | Malformed::ExpiresNotPositive => {
            "X-Amz-Expires must be a positive integer.".to_owned()
        }
        Malformed::ExpiresTooLarge(_) => "X-Amz-Expires must be less than a week (in seconds) that is 604800".to_owned(),
    }
}

/// Message for malformed SigV4 auth in S3's vocabulary.
fn s3_malformed(kind: AuthKind, reason: &Malformed) -> (&'static str, u16, String) {
    const CRED: &str =
        "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
    if kind == AuthKind::Header {
        let msg = match reason {
            Malformed::MissingDate => {
                return ("AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header".to_owned());
            }
            Malformed::Date(_) => {
                return ("AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header".to_owned());
            }
            Malformed::MissingComponent(_) | Malformed::Garbled | Malformed::SignedHeaders => {
                "the authorization header requires three components: Credential, SignedHeaders, and Signature.".to_owned()
            }
            Malformed::Credential(_) => CRED.to_owned(),
            Malformed::Terminator(t) => format!("incorrect terminal \"{t}\". This endpoint uses \"aws4_request\"."),
            Malformed::HostNotSigned => "the host header must be signed.".to_owned(),
            Malformed::Expires(_) | Malformed::ExpiresNotPositive | Malformed::ExpiresTooLarge(_) => {
                reason.to_string()
            }
        };
        return (
            "AuthorizationHeaderMalformed",
            400,
            format!("The authorization header is malformed; {msg}"),
        );
    }
    let msg = match reason {
        Malformed::MissingComponent(_) | Malformed::Garbled => "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.".to_owned(),
        Malformed::Credential(_) => format!("Error parsing the X-Amz-Credential parameter; {CRED}"),
        Malformed::Terminator(t) => format!(
            "Error parsing the X-Amz-Credential parameter; incorrect terminal \"{t}\". This endpoint uses \"aws4_request\"."
        ),
        Malformed::SignedHeaders | Malformed::HostNotSigned => {
            "X-Amz-SignedHeaders must contain the host header.".to_owned()
        }
        Malformed::MissingDate | Malformed::Date(_) => {
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"".to_owned()
        }
        Malformed::Expires(_) => "X-Amz-Expires should be a number".to_owned(),
        Malformed::ExpiresNotPositive => "X-Amz-Expires must be non-negative".to_owned(),
        Malformed::ExpiresTooLarge(_) => "X-Amz-Expires must be less than a week (in seconds) that is 604800".to_owned(),
    };
    ("AuthorizationQueryParametersError", 400, msg)
}

impl SigError {
    /// Renders this error as `protocol` does: code, HTTP status, message and (S3) the extra
    /// XML elements. Codes: Query — `SignatureDoesNotMatch`, `IncompleteSignature`,
    /// `InvalidClientTokenId`, `MissingAuthenticationToken`, `ExpiredToken`,
    /// `RequestExpired`; JSON — `InvalidSignatureException`, `IncompleteSignatureException`,
    /// `UnrecognizedClientException`, `MissingAuthenticationTokenException`,
    /// `ExpiredTokenException`; S3 — `SignatureDoesNotMatch`, `AuthorizationHeaderMalformed`,
    /// `AuthorizationQueryParametersError`, `InvalidAccessKeyId`, `RequestTimeTooSkewed`,
    /// `AccessDenied`, `BadDigest`, `XAmzContentSHA256Mismatch`, `IncompleteBody`,
    /// `InvalidRequest`, `InvalidArgument`, `InvalidToken`, `ExpiredToken`.
    pub fn to_aws(&self, protocol: Protocol) -> AwsError {
        use Protocol::{Json, Query, S3};
        let e = |code: &'static str, status: u16, message: String| AwsError {
            code,
            status,
            message,
            details: Vec::new(),
        };
        match (self, protocol) {
            (Self::MissingAuthentication, Query) => {
                e("MissingAuthenticationToken", 403, "Request is missing Authentication Token".to_owned())
            }
            (Self::MissingAuthentication, Json) => {
                e("MissingAuthenticationTokenException", 403, "Missing Authentication Token".to_owned())
            }
            (Self::MissingAuthentication, S3) => e("AccessDenied", 403, "Access Denied".to_owned()),

            (Self::MultipleAuthMechanisms, S3) => e(
                "InvalidArgument",
                400,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".to_owned(),
            ),
            (Self::MultipleAuthMechanisms, Query) => e(
                "IncompleteSignature",
                400,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified".to_owned(),
            ),
            (Self::MultipleAuthMechanisms, Json) => e(
                "IncompleteSignatureException",
                400,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified".to_owned(),
            ),

            (Self::UnsupportedAlgorithm { algorithm, .. }, Query) => {
                e("IncompleteSignature", 400, format!("Unsupported AWS 'algorithm': '{algorithm}'."))
            }
            (Self::UnsupportedAlgorithm { algorithm, .. }, Json) => {
                e("IncompleteSignatureException", 400, format!("Unsupported AWS 'algorithm': '{algorithm}'."))
            }
            (Self::UnsupportedAlgorithm { kind: AuthKind::Header, .. }, S3) => {
                e("InvalidArgument", 400, "Unsupported Authorization Type".to_owned())
            }
            (Self::UnsupportedAlgorithm { kind: AuthKind::Presigned, .. }, S3) => e(
                "AuthorizationQueryParametersError",
                400,
                "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"".to_owned(),
            ),

            (Self::Malformed { kind, reason }, Query) => e("IncompleteSignature", 400, incomplete_message(*kind, reason)),
            (Self::Malformed { kind, reason }, Json) => {
                e("IncompleteSignatureException", 400, incomplete_message(*kind, reason))
            }
            (Self::Malformed { kind, reason }, S3) => {
                let (code, status, message) = s3_malformed(*kind, reason);
                e(code, status, message)
            }

            (Self::UnknownAccessKey { .. }, Query) => e("InvalidClientTokenId", 403, INVALID_TOKEN.to_owned()),
            (Self::UnknownAccessKey { .. }, Json) => e("UnrecognizedClientException", 400, INVALID_TOKEN.to_owned()),
            (Self::UnknownAccessKey { access_key_id }, S3) => AwsError {
                code: "InvalidAccessKeyId",
                status: 403,
                message: "The AWS Access Key Id you provided does not exist in our records.".to_owned(),
                details: vec![("AWSAccessKeyId", access_key_id.clone())],
            },

            (Self::InvalidSessionToken, Query) => e("InvalidClientTokenId", 403, INVALID_TOKEN.to_owned()),
            (Self::InvalidSessionToken, Json) => e("UnrecognizedClientException", 400, INVALID_TOKEN.to_owned()),
            (Self::InvalidSessionToken, S3) => {
                e("InvalidToken", 400, "The provided token is malformed or otherwise invalid.".to_owned())
            }
            (Self::ExpiredSessionToken, Query) => e("ExpiredToken", 403, EXPIRED_TOKEN.to_owned()),
            (Self::ExpiredSessionToken, Json) => e("ExpiredTokenException", 400, EXPIRED_TOKEN.to_owned()),
            (Self::ExpiredSessionToken, S3) => e("ExpiredToken", 400, "The provided token has expired.".to_owned()),

            (Self::SignatureDoesNotMatch { .. }, Query) => e("SignatureDoesNotMatch", 403, QUERY_SIG_MISMATCH.to_owned()),
            (Self::SignatureDoesNotMatch { .. }, Json) => {
                e("InvalidSignatureException", 400, QUERY_SIG_MISMATCH.to_owned())
            }
            (Self::SignatureDoesNotMatch { canonical_request, string_to_sign }, S3) => {
                let mut details = vec![("StringToSign", string_to_sign.clone())];
                if !canonical_request.is_empty() {
                    details.push(("CanonicalRequest", canonical_request.clone()));
                }
                AwsError { code: "SignatureDoesNotMatch", status: 403, message: S3_SIG_MISMATCH.to_owned(), details }
            }

            (Self::RequestTimeTooSkewed { request_time, server_time }, Query) => {
                e("SignatureDoesNotMatch", 403, skew_message(*request_time, *server_time))
            }
            (Self::RequestTimeTooSkewed { request_time, server_time }, Json) => {
                e("InvalidSignatureException", 400, skew_message(*request_time, *server_time))
            }
            (Self::RequestTimeTooSkewed { request_time, server_time }, S3) => AwsError {
                code: "RequestTimeTooSkewed",
                status: 403,
                message: "The difference between the request time and the current time is too large.".to_owned(),
                details: vec![
                    ("RequestTime", format_amz_date(*request_time)),
                    ("ServerTime", format_iso8601(*server_time)),
                    ("MaxAllowedSkewMilliseconds", (MAX_SKEW_SECONDS * 1000).to_string()),
                ],
            },

            (Self::PresignedExpired { .. }, Query) => e("RequestExpired", 400, "Request has expired.".to_owned()),
            (Self::PresignedExpired { .. }, Json) => {
                e("InvalidSignatureException", 400, "Signature expired: request has expired.".to_owned())
            }
            (Self::PresignedExpired { expires_at, expires_in, server_time }, S3) => {
                let mut details = Vec::with_capacity(3);
                if let Some(x) = expires_in {
                    details.push(("X-Amz-Expires", x.to_string()));
                }
                details.push(("Expires", format_iso8601(*expires_at)));
                details.push(("ServerTime", format_iso8601(*server_time)));
                AwsError { code: "AccessDenied", status: 403, message: "Request has expired".to_owned(), details }
            }
            (Self::PresignedNotYetValid { .. }, Query) => {
                e("RequestExpired", 400, "Request is not valid yet.".to_owned())
            }
            (Self::PresignedNotYetValid { request_time, server_time }, Json) => {
                e("InvalidSignatureException", 400, skew_message(*request_time, *server_time))
            }
            (Self::PresignedNotYetValid { request_time, server_time }, S3) => AwsError {
                code: "AccessDenied",
                status: 403,
                message: "Request is not valid yet".to_owned(),
                details: vec![
                    ("RequestTime", format_amz_date(*request_time)),
                    ("ServerTime", format_iso8601(*server_time)),
                ],
            },

            (Self::UnsignedHeaders { headers }, Query) => e(
                "SignatureDoesNotMatch",
                403,
                format!("There were headers present in the request which were not signed: {headers}"),
            ),
            (Self::UnsignedHeaders { headers }, Json) => e(
                "InvalidSignatureException",
                400,
                format!("There were headers present in the request which were not signed: {headers}"),
            ),
            (Self::UnsignedHeaders { headers }, S3) => AwsError {
                code: "AccessDenied",
                status: 403,
                message: "There were headers present in the request which were not signed".to_owned(),
                details: vec![("HeadersNotSigned", headers.clone())],
            },

            (Self::ScopeDateMismatch { scope_date, request_date, .. }, Query | Json) => {
                let date8 = request_date.get(..8).unwrap_or(request_date);
                let message = format!(
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{date8}', from '{request_date}'."
                );
                if protocol == Query {
                    e("SignatureDoesNotMatch", 403, message)
                } else {
                    e("InvalidSignatureException", 400, message)
                }
            }
            (Self::ScopeDateMismatch { kind: AuthKind::Header, .. }, S3) => e(
                "AuthorizationHeaderMalformed",
                400,
                "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date."
                    .to_owned(),
            ),
            (Self::ScopeDateMismatch { kind: AuthKind::Presigned, scope_date, request_date }, S3) => e(
                "AuthorizationQueryParametersError",
                400,
                format!(
                    "Invalid credential date \"{scope_date}\". This date is not the same as X-Amz-Date: \"{}\".",
                    request_date.get(..8).unwrap_or(request_date)
                ),
            ),

            (Self::MissingContentSha256, S3) => e(
                "InvalidRequest",
                400,
                "Missing required header for this request: x-amz-content-sha256".to_owned(),
            ),
            (Self::InvalidContentSha256 { .. }, S3) => e(
                "InvalidArgument",
                400,
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.".to_owned(),
            ),
            (Self::ContentSha256Mismatch { declared, computed }, S3) => AwsError {
                code: "XAmzContentSHA256Mismatch",
                status: 400,
                message: "The provided 'x-amz-content-sha256' header does not match what was computed.".to_owned(),
                details: vec![
                    ("ClientComputedContentSHA256", declared.clone()),
                    ("S3ComputedContentSHA256", computed.clone()),
                ],
            },
            (Self::MissingContentSha256 | Self::InvalidContentSha256 { .. } | Self::ContentSha256Mismatch { .. }, Query) => {
                e("SignatureDoesNotMatch", 403, QUERY_SIG_MISMATCH.to_owned())
            }
            (Self::MissingContentSha256 | Self::InvalidContentSha256 { .. } | Self::ContentSha256Mismatch { .. }, Json) => {
                e("InvalidSignatureException", 400, QUERY_SIG_MISMATCH.to_owned())
            }

            (Self::BodyRequired | Self::CannotSign { .. }, Query) => {
                e("InternalFailure", 500, "The request processing has failed because of an unknown error, exception or failure.".to_owned())
            }
            (Self::BodyRequired | Self::CannotSign { .. }, Json) => {
                e("InternalFailure", 500, "The request processing has failed because of an unknown error, exception or failure.".to_owned())
            }
            (Self::BodyRequired | Self::CannotSign { .. }, S3) => {
                e("InternalError", 500, "We encountered an internal error. Please try again.".to_owned())
            }

            (Self::ChunkSignatureDoesNotMatch { string_to_sign, .. } | Self::TrailerSignatureDoesNotMatch { string_to_sign }, S3) => {
                AwsError {
                    code: "SignatureDoesNotMatch",
                    status: 403,
                    message: S3_SIG_MISMATCH.to_owned(),
                    details: vec![("StringToSign", string_to_sign.clone())],
                }
            }
            (Self::ChunkSignatureDoesNotMatch { .. } | Self::TrailerSignatureDoesNotMatch { .. }, Query) => {
                e("SignatureDoesNotMatch", 403, QUERY_SIG_MISMATCH.to_owned())
            }
            (Self::ChunkSignatureDoesNotMatch { .. } | Self::TrailerSignatureDoesNotMatch { .. }, Json) => {
                e("InvalidSignatureException", 400, QUERY_SIG_MISMATCH.to_owned())
            }

            (Self::ChecksumMismatch { algorithm, .. }, S3) => e(
                "BadDigest",
                400,
                format!("The {algorithm} you specified did not match the calculated checksum."),
            ),
            (Self::InvalidChecksum { algorithm }, S3) => e(
                "InvalidRequest",
                400,
                format!("Value for {} header is invalid.", algorithm.header_name()),
            ),
            (Self::DecodedLengthMismatch { .. }, S3) => e(
                "IncompleteBody",
                400,
                "The request body terminated unexpectedly".to_owned(),
            ),
            (Self::MissingDecodedContentLength, S3) => e(
                "MissingContentLength",
                411,
                "You must provide the Content-Length HTTP header.".to_owned(),
            ),
            (Self::MissingTrailer { name }, S3) => e(
                "InvalidRequest",
                400,
                format!("The trailer {name} declared in x-amz-trailer was not sent."),
            ),
            (Self::NotChunked | Self::MalformedChunkedBody { .. }, S3) => e(
                "InvalidRequest",
                400,
                "The request body is not a valid aws-chunked encoding.".to_owned(),
            ),
            (
                Self::ChecksumMismatch { .. }
                | Self::InvalidChecksum { .. }
                | Self::DecodedLengthMismatch { .. }
                | Self::MissingDecodedContentLength
                | Self::MissingTrailer { .. }
                | Self::NotChunked
                | Self::MalformedChunkedBody { .. },
                Query,
            ) => e("InvalidRequest", 400, self.to_string()),
            (
                Self::ChecksumMismatch { .. }
                | Self::InvalidChecksum { .. }
                | Self::DecodedLengthMismatch { .. }
                | Self::MissingDecodedContentLength
                | Self::MissingTrailer { .. }
                | Self::NotChunked
                | Self::MalformedChunkedBody { .. },
                Json,
            ) => e("ValidationException", 400, self.to_string()),
        }
    }
}

impl fmt::Display for AuthKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthKind::Header => "header",
            AuthKind::Presigned => "presigned",
        })
    }
}
