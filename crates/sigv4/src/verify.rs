//! SigV4 verification.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::auth::{Auth, AuthKind};
use crate::canonical::{CanonicalParts, canonical_request, string_to_sign};
use crate::encode::{ct_eq, decode_hex32, hex};
use crate::error::SigError;
use crate::sign::SigningKey;
use crate::{
    Body, MAX_SKEW_SECONDS, Request, STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER, UNSIGNED_PAYLOAD,
};

/// What the signed payload hash says about the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Payload {
    /// The SHA-256 of the body is signed (from `x-amz-content-sha256` or computed by the
    /// server for IAM/STS/KMS).
    Sha256([u8; 32]),
    /// `UNSIGNED-PAYLOAD` (also the implied value for S3 presigned URLs).
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked with chunk signatures.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: chunk signatures and a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, no signatures, trailer checksum.
    StreamingUnsignedTrailer,
}

impl Payload {
    /// Classifies an `x-amz-content-sha256` value.
    pub fn parse(value: &str) -> Result<Self, SigError> {
        Ok(match value {
            UNSIGNED_PAYLOAD => Self::Unsigned,
            STREAMING_PAYLOAD => Self::StreamingSigned,
            STREAMING_PAYLOAD_TRAILER => Self::StreamingSignedTrailer,
            STREAMING_UNSIGNED_PAYLOAD_TRAILER => Self::StreamingUnsignedTrailer,
            v => Self::Sha256(decode_hex32(v).ok_or_else(|| SigError::InvalidContentSha256 {
                value: v.chars().take(100).collect(),
            })?),
        })
    }

    /// Whether the body is aws-chunked (a `STREAMING-*` value).
    pub fn is_chunked(self) -> bool {
        matches!(
            self,
            Self::StreamingSigned | Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }
}

/// A successfully verified request: who signed it, for what scope, and what is needed to
/// check the body (aws-chunked signatures, the payload hash).
///
/// Holds the derived signing key (scoped to one day, region and service) for chunk
/// verification; its `Debug` output redacts it.
#[derive(Clone)]
pub struct Verified {
    pub(crate) kind: AuthKind,
    pub(crate) access_key_id: String,
    pub(crate) region: String,
    pub(crate) service: String,
    pub(crate) session_token: Option<String>,
    pub(crate) timestamp: i64,
    pub(crate) amz_date: String,
    pub(crate) scope: String,
    pub(crate) payload: Payload,
    pub(crate) signature: [u8; 32],
    pub(crate) key: SigningKey,
    pub(crate) decoded_content_length: Option<String>,
    pub(crate) trailer: Option<String>,
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("kind", &self.kind)
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("amz_date", &self.amz_date)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

impl Verified {
    /// Header or presigned.
    pub fn kind(&self) -> AuthKind {
        self.kind
    }

    /// The access key id that signed the request.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The credential scope region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The credential scope service (`iam`, `sts`, `s3`, `kms`, ...).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The session token the request carried (the caller checks it belongs to the key).
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// The request timestamp, Unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The request timestamp as signed (`20130524T000000Z`).
    pub fn amz_date(&self) -> &str {
        &self.amz_date
    }

    /// The credential scope, `YYYYMMDD/REGION/SERVICE/aws4_request`.
    pub fn credential_scope(&self) -> &str {
        &self.scope
    }

    /// What the signed payload hash says about the body.
    pub fn payload(&self) -> Payload {
        self.payload
    }

    /// The verified request signature (the seed of aws-chunked chunk signatures).
    pub fn signature(&self) -> [u8; 32] {
        self.signature
    }

    /// Checks `body` against the signed payload hash: `Ok` for [`Payload::Unsigned`] and
    /// the streaming kinds (use [`Verified::decode_aws_chunked`] for those), else the body's
    /// SHA-256 must be the signed one ([`SigError::ContentSha256Mismatch`]). [`crate::verify`]
    /// already did this when given [`Body::Bytes`].
    pub fn check_body(&self, body: &[u8]) -> Result<(), SigError> {
        match self.payload {
            Payload::Sha256(declared) => check_sha256(&declared, &Sha256::digest(body).into()),
            _ => Ok(()),
        }
    }
}

fn check_sha256(declared: &[u8; 32], computed: &[u8; 32]) -> Result<(), SigError> {
    if declared == computed {
        Ok(())
    } else {
        Err(SigError::ContentSha256Mismatch {
            declared: hex(declared),
            computed: hex(computed),
        })
    }
}

/// Verifies the SigV4 signature of `request`, whose authentication `auth` was parsed from it,
/// against `secret_key` (looked up by the caller from [`Auth::access_key_id`]), at server
/// time `now` (Unix seconds).
///
/// Checks, in order: the scope date equals the `X-Amz-Date` date; the time (header: within
/// ±15 minutes; presigned: not more than 15 minutes in the future and `now <= date +
/// X-Amz-Expires`); every `x-amz-*` header of a header-signed request is signed; the
/// payload hash source; the signature (constant-time). The canonical URI is the raw path for
/// `s3` and the normalized, once-more encoded path for every other service.
pub fn verify(
    request: &Request<'_>,
    auth: &Auth<'_>,
    secret_key: &str,
    now: i64,
) -> Result<Verified, SigError> {
    let key = SigningKey::derive(secret_key, auth.scope_date(), auth.region(), auth.service());
    verify_with_key(request, auth, &key, now)
}

/// [`verify`] with a signing key the caller derived (and may cache per key, day, region and
/// service) with [`SigningKey::derive`].
pub fn verify_with_key(
    request: &Request<'_>,
    auth: &Auth<'_>,
    key: &SigningKey,
    now: i64,
) -> Result<Verified, SigError> {
    let kind = auth.kind();
    let amz_date = auth.amz_date();
    if amz_date.get(..8) != Some(auth.scope_date()) {
        return Err(SigError::ScopeDateMismatch {
            kind,
            scope_date: auth.scope_date().to_owned(),
            request_date: amz_date.to_owned(),
        });
    }
    check_time(auth, now)?;
    if kind == AuthKind::Header {
        check_unsigned_amz_headers(request, auth)?;
    }

    let s3 = auth.service() == "s3";
    let content_sha256 = request.header("x-amz-content-sha256").map(str::trim);
    let signed_content_sha256 =
        content_sha256.filter(|_| kind == AuthKind::Header || auth.is_signed("x-amz-content-sha256"));
    let query_content_sha256 = match (kind, signed_content_sha256) {
        (AuthKind::Presigned, None) => request.query_param("X-Amz-Content-Sha256"),
        _ => None,
    };
    let computed_hash: String;
    let mut hashed_here = false;
    let payload_hash: &str = if let Some(v) = signed_content_sha256 {
        v
    } else if let Some(v) = query_content_sha256.as_deref() {
        v
    } else if s3 {
        if kind == AuthKind::Header {
            return Err(SigError::MissingContentSha256);
        }
        UNSIGNED_PAYLOAD
    } else {
        computed_hash = match request.body {
            Body::Bytes(b) => hex(&Sha256::digest(b)),
            Body::Sha256(h) => h.trim().to_ascii_lowercase(),
            Body::Deferred => return Err(SigError::BodyRequired),
        };
        hashed_here = true;
        &computed_hash
    };
    let payload = Payload::parse(payload_hash)?;
    if let (Payload::Sha256(declared), false) = (&payload, hashed_here) {
        match request.body {
            Body::Bytes(b) => check_sha256(declared, &Sha256::digest(b).into())?,
            Body::Sha256(h) => match decode_hex32(h) {
                Some(computed) => check_sha256(declared, &computed)?,
                None => {
                    return Err(SigError::InvalidContentSha256 {
                        value: h.chars().take(100).collect(),
                    });
                }
            },
            Body::Deferred => {}
        }
    }

    let canonical = canonical_request(&CanonicalParts {
        method: request.method,
        path: request.path,
        query: request.query,
        skip_signature: kind == AuthKind::Presigned,
        headers: request.headers,
        signed_headers: auth.signed_headers(),
        payload_hash,
        s3,
    });
    let sts = string_to_sign(amz_date, auth.credential_scope(), &canonical);
    let expected = key.sign(sts.as_bytes());
    let matches = decode_hex32(auth.signature()).is_some_and(|given| ct_eq(&given, &expected));
    if !matches {
        return Err(SigError::SignatureDoesNotMatch {
            canonical_request: canonical,
            string_to_sign: sts,
        });
    }

    Ok(Verified {
        kind,
        access_key_id: auth.access_key_id().to_owned(),
        region: auth.region().to_owned(),
        service: auth.service().to_owned(),
        session_token: auth.session_token().map(str::to_owned),
        timestamp: auth.timestamp(),
        amz_date: amz_date.to_owned(),
        scope: auth.credential_scope().to_owned(),
        payload,
        signature: expected,
        key: key.clone(),
        decoded_content_length: request
            .header("x-amz-decoded-content-length")
            .map(|v| v.trim().to_owned()),
        trailer: request.header("x-amz-trailer").map(|v| v.trim().to_owned()),
    })
}

fn check_time(auth: &Auth<'_>, now: i64) -> Result<(), SigError> {
    let t = auth.timestamp();
    match auth.expires() {
        None => {
            if (now - t).abs() > MAX_SKEW_SECONDS {
                return Err(SigError::RequestTimeTooSkewed {
                    request_time: t,
                    server_time: now,
                });
            }
        }
        Some(expires) => {
            if t - now > MAX_SKEW_SECONDS {
                return Err(SigError::PresignedNotYetValid {
                    request_time: t,
                    server_time: now,
                });
            }
            let expires_at = t.saturating_add_unsigned(expires);
            if now > expires_at {
                return Err(SigError::PresignedExpired {
                    expires_at,
                    expires_in: Some(expires),
                    server_time: now,
                });
            }
        }
    }
    Ok(())
}

fn check_unsigned_amz_headers(request: &Request<'_>, auth: &Auth<'_>) -> Result<(), SigError> {
    let mut unsigned = String::new();
    for (name, _) in request.headers {
        let is_amz = name.len() >= 6 && name.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-");
        if is_amz && !auth.is_signed(name) {
            let lower = name.to_ascii_lowercase();
            if !unsigned.split(',').any(|u| u == lower) {
                if !unsigned.is_empty() {
                    unsigned.push(',');
                }
                unsigned.push_str(&lower);
            }
        }
    }
    if unsigned.is_empty() {
        Ok(())
    } else {
        Err(SigError::UnsignedHeaders { headers: unsigned })
    }
}
