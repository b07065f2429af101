//! SigV4 signing: the `Authorization` header and presigned URLs.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};

use crate::canonical::{CanonicalParts, canonical_request, hmac_sha256, string_to_sign};
use crate::chunked::ChunkSigner;
use crate::encode::{hex, percent_encode_into};
use crate::error::SigError;
use crate::time::format_amz_date;
use crate::{ALGORITHM, Body, Request, UNSIGNED_PAYLOAD};

/// The SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`. Valid for one day, region and service; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives the key for `date` (`YYYYMMDD`), `region` and `service`.
    pub fn derive(secret_key: &str, date: &str, region: &str, service: &str) -> Self {
        let k_date = hmac_sha256(format!("AWS4{secret_key}").as_bytes(), &[date.as_bytes()]);
        let k_region = hmac_sha256(&k_date, &[region.as_bytes()]);
        let k_service = hmac_sha256(&k_region, &[service.as_bytes()]);
        Self(hmac_sha256(&k_service, &[b"aws4_request"]))
    }

    /// `HMAC-SHA256(key, data)`: the signature of a string to sign.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.0, &[data])
    }

    /// The raw key bytes (e.g. to compare with another implementation's key).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// How many (day, region, service) keys a [`KeyCache`] keeps.
const KEY_CACHE_SLOTS: usize = 8;

/// The signing keys of one secret, derived once per (day, region, service) and reused: a
/// verifier or signer that handles many requests of the same credentials saves the four
/// HMACs of [`SigningKey::derive`] per request. Keeps the [`KEY_CACHE_SLOTS`] (8) most
/// recently derived scopes; thread-safe (one short lock per lookup). `Debug` redacts the
/// secret and the keys.
pub struct KeyCache {
    secret: String,
    slots: Mutex<Vec<CachedKey>>,
}

struct CachedKey {
    date: String,
    region: String,
    service: String,
    key: SigningKey,
}

impl KeyCache {
    /// An empty cache for `secret_key`.
    pub fn new(secret_key: &str) -> Self {
        Self {
            secret: secret_key.to_owned(),
            slots: Mutex::new(Vec::with_capacity(2)),
        }
    }

    /// The key for `date` (`YYYYMMDD`), `region` and `service`: cached, or derived and kept.
    pub fn key(&self, date: &str, region: &str, service: &str) -> SigningKey {
        let hit = |c: &CachedKey| c.date == date && c.region == region && c.service == service;
        // A poisoned lock only means another thread panicked while holding it: the slots
        // are always whole (each is pushed complete), so they stay usable.
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = slots.iter().find(|c| hit(c)) {
            return c.key.clone();
        }
        let key = SigningKey::derive(&self.secret, date, region, service);
        if slots.len() >= KEY_CACHE_SLOTS {
            slots.remove(0);
        }
        slots.push(CachedKey {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            key: key.clone(),
        });
        key
    }
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyCache(<redacted>)")
    }
}

/// AWS credentials.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials.
    pub session_token: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    /// Credentials from their parts.
    pub fn new(access_key_id: &'a str, secret_access_key: &'a str, session_token: Option<&'a str>) -> Self {
        Self {
            access_key_id,
            secret_access_key,
            session_token,
        }
    }
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .finish()
    }
}

/// What to sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningParams<'a> {
    /// The credentials.
    pub credentials: Credentials<'a>,
    /// The region of the credential scope.
    pub region: &'a str,
    /// The service (signing name) of the credential scope: `s3` signs the raw path and adds
    /// `x-amz-content-sha256`.
    pub service: &'a str,
    /// The signing time, Unix seconds.
    pub time: i64,
}

impl<'a> SigningParams<'a> {
    /// Parameters from their parts.
    pub fn new(credentials: Credentials<'a>, region: &'a str, service: &'a str, time: i64) -> Self {
        Self {
            credentials,
            region,
            service,
            time,
        }
    }
}

/// The result of [`sign`]: the headers to set on the request (replacing any of the same
/// name), plus the intermediate strings for debugging.
#[derive(Clone)]
pub struct SignedRequest {
    /// The `Authorization` header value.
    pub authorization: String,
    /// The `X-Amz-Date` header value.
    pub x_amz_date: String,
    /// The `X-Amz-Content-SHA256` header value (S3 only).
    pub x_amz_content_sha256: Option<String>,
    /// The `X-Amz-Security-Token` header value (temporary credentials only).
    pub x_amz_security_token: Option<String>,
    /// The signed header names, `;`-separated.
    pub signed_headers: String,
    /// The signature, 64 hex digits.
    pub signature: String,
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    seed: [u8; 32],
    key: SigningKey,
    scope: String,
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("authorization", &self.authorization)
            .field("x_amz_date", &self.x_amz_date)
            .field("x_amz_content_sha256", &self.x_amz_content_sha256)
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

impl SignedRequest {
    /// The headers to set, as (name, value) pairs: `authorization`, `x-amz-date`, and when
    /// present `x-amz-content-sha256` and `x-amz-security-token`.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut h = vec![
            ("authorization", self.authorization.as_str()),
            ("x-amz-date", self.x_amz_date.as_str()),
        ];
        if let Some(v) = &self.x_amz_content_sha256 {
            h.push(("x-amz-content-sha256", v));
        }
        if let Some(v) = &self.x_amz_security_token {
            h.push(("x-amz-security-token", v));
        }
        h
    }

    /// A signer for the aws-chunked body of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`
    /// request, seeded with this request's signature.
    pub fn chunk_signer(&self) -> ChunkSigner {
        ChunkSigner::new(self.key.clone(), &self.x_amz_date, &self.scope, self.seed)
    }
}

/// Headers never signed: hop-by-hop headers a proxy may change, and those clients leave out.
const NOT_SIGNED: [&str; 11] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "expect",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "upgrade",
];

fn lower(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

fn body_hash(body: Body<'_>) -> Option<String> {
    match body {
        Body::Bytes(b) => Some(hex(&Sha256::digest(b))),
        Body::Sha256(h) => Some(h.trim().to_ascii_lowercase()),
        Body::Deferred => None,
    }
}

/// The request headers to sign, lower-cased and sorted by name (stable, so repeated headers
/// keep their order), without `skip` names.
fn headers_to_sign<'a>(
    request: &Request<'a>,
    skip: &[&str],
) -> Result<Vec<(Cow<'a, str>, &'a str)>, SigError> {
    let mut out: Vec<(Cow<'a, str>, &'a str)> = request
        .headers
        .iter()
        .map(|&(n, v)| (lower(n), v))
        .filter(|(n, _)| !NOT_SIGNED.contains(&n.as_ref()) && !skip.contains(&n.as_ref()))
        .collect();
    if !out.iter().any(|(n, _)| n == "host") {
        return Err(SigError::CannotSign {
            reason: "the request has no Host header",
        });
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn signed_header_list(headers: &[(&str, &str)]) -> String {
    let mut list = String::new();
    let mut last = None;
    for &(n, _) in headers {
        if last != Some(n) {
            if !list.is_empty() {
                list.push(';');
            }
            list.push_str(n);
            last = Some(n);
        }
    }
    list
}

/// Signs `request` with an `Authorization` header, as botocore and aws-sigv4 do.
///
/// Signs every header of the request except hop-by-hop and client-omitted ones
/// (`authorization`, `user-agent`, `x-amzn-trace-id`, `expect`, `transfer-encoding`,
/// `connection`, `keep-alive`, `proxy-authorization`, `proxy-connection`, `te`, `upgrade`)
/// and any old `x-amz-date`, `x-amz-security-token` (and, for S3, `x-amz-content-sha256`),
/// which the returned values replace. The request must have
/// a `Host` header. Payload hash: an `x-amz-content-sha256` header already on the request
/// (e.g. `UNSIGNED-PAYLOAD` or a `STREAMING-*` value) is kept; otherwise the body's hash; for
/// S3 with [`Body::Deferred`], `UNSIGNED-PAYLOAD`.
pub fn sign(request: &Request<'_>, params: &SigningParams<'_>) -> Result<SignedRequest, SigError> {
    let amz_date = format_amz_date(params.time);
    let key = SigningKey::derive(
        params.credentials.secret_access_key,
        &amz_date[..8],
        params.region,
        params.service,
    );
    sign_at(request, params, amz_date, key)
}

/// [`sign`] with a signing key the caller derived for `params` (its secret, the date of
/// `params.time`, its region and service), e.g. from a [`KeyCache`]: a proxy that re-signs
/// every request saves the four HMACs of the derivation. A key for another secret, day,
/// region or service gives a signature the receiver refuses.
pub fn sign_with_key(
    request: &Request<'_>,
    params: &SigningParams<'_>,
    key: &SigningKey,
) -> Result<SignedRequest, SigError> {
    sign_at(request, params, format_amz_date(params.time), key.clone())
}

fn sign_at(
    request: &Request<'_>,
    params: &SigningParams<'_>,
    amz_date: String,
    key: SigningKey,
) -> Result<SignedRequest, SigError> {
    let s3 = params.service == "s3";
    let existing = request.header("x-amz-content-sha256").map(str::trim);
    let payload_hash = match (existing, body_hash(request.body)) {
        (Some(v), _) => v.to_owned(),
        (None, Some(h)) => h,
        (None, None) if s3 => UNSIGNED_PAYLOAD.to_owned(),
        (None, None) => {
            return Err(SigError::CannotSign {
                reason: "the body (or its hash) is needed",
            });
        }
    };
    let skip: &[&str] = if s3 {
        &["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]
    } else {
        &["x-amz-date", "x-amz-security-token"]
    };
    let base = headers_to_sign(request, skip)?;
    let mut headers: Vec<(&str, &str)> = base.iter().map(|(n, v)| (n.as_ref(), *v)).collect();
    headers.push(("x-amz-date", &amz_date));
    if let Some(token) = params.credentials.session_token {
        headers.push(("x-amz-security-token", token));
    }
    if s3 {
        headers.push(("x-amz-content-sha256", &payload_hash));
    }
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let signed_headers = signed_header_list(&headers);

    let scope = format!(
        "{}/{}/{}/aws4_request",
        &amz_date[..8],
        params.region,
        params.service
    );
    let canonical = canonical_request(&CanonicalParts {
        method: request.method,
        path: request.path,
        query: request.query,
        skip_signature: false,
        headers: &headers,
        signed_headers: &signed_headers,
        payload_hash: &payload_hash,
        s3,
    });
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    let seed = key.sign(sts.as_bytes());
    let signature = hex(&seed);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        params.credentials.access_key_id
    );
    Ok(SignedRequest {
        authorization,
        x_amz_date: amz_date,
        x_amz_content_sha256: s3.then_some(payload_hash),
        x_amz_security_token: params.credentials.session_token.map(str::to_owned),
        signed_headers,
        signature,
        canonical_request: canonical,
        string_to_sign: sts,
        seed,
        key,
        scope,
    })
}

/// The result of [`presign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    /// The complete query string (without `?`): the request's own parameters, then
    /// `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
    /// `X-Amz-SignedHeaders`, `X-Amz-Security-Token` (if any), `X-Amz-Signature`.
    pub query: String,
    /// The signature, 64 hex digits.
    pub signature: String,
    /// The canonical request.
    pub canonical_request: String,
}

fn push_param(q: &mut String, name: &str, value: &str) {
    if !q.is_empty() {
        q.push('&');
    }
    q.push_str(name);
    q.push('=');
    percent_encode_into(q, value.as_bytes(), false);
}

/// Presigns `request` for `expires_in` seconds (1..=604800, not checked here), as botocore's
/// `SigV4QueryAuth`/`S3SigV4QueryAuth` do: signs the request's headers (pass just `Host` for
/// a URL anyone can use) and, for S3, `UNSIGNED-PAYLOAD`; other services sign the body hash.
pub fn presign(
    request: &Request<'_>,
    params: &SigningParams<'_>,
    expires_in: u64,
) -> Result<PresignedUrl, SigError> {
    let s3 = params.service == "s3";
    let amz_date = format_amz_date(params.time);
    let payload_hash = if s3 {
        UNSIGNED_PAYLOAD.to_owned()
    } else {
        body_hash(request.body).ok_or(SigError::CannotSign {
            reason: "the body (or its hash) is needed",
        })?
    };
    let base = headers_to_sign(request, &[])?;
    let headers: Vec<(&str, &str)> = base.iter().map(|(n, v)| (n.as_ref(), *v)).collect();
    let signed_headers = signed_header_list(&headers);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        &amz_date[..8],
        params.region,
        params.service
    );

    let mut query = request.query.to_owned();
    push_param(&mut query, "X-Amz-Algorithm", ALGORITHM);
    push_param(
        &mut query,
        "X-Amz-Credential",
        &format!("{}/{scope}", params.credentials.access_key_id),
    );
    push_param(&mut query, "X-Amz-Date", &amz_date);
    push_param(&mut query, "X-Amz-Expires", &expires_in.to_string());
    push_param(&mut query, "X-Amz-SignedHeaders", &signed_headers);
    if let Some(token) = params.credentials.session_token {
        push_param(&mut query, "X-Amz-Security-Token", token);
    }
    let canonical = canonical_request(&CanonicalParts {
        method: request.method,
        path: request.path,
        query: &query,
        skip_signature: true,
        headers: &headers,
        signed_headers: &signed_headers,
        payload_hash: &payload_hash,
        s3,
    });
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    let key = SigningKey::derive(
        params.credentials.secret_access_key,
        &amz_date[..8],
        params.region,
        params.service,
    );
    let signature = hex(&key.sign(sts.as_bytes()));
    push_param(&mut query, "X-Amz-Signature", &signature);
    Ok(PresignedUrl {
        query,
        signature,
        canonical_request: canonical,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_matches_aws_example() {
        // AWS SigV4 documentation example signing key.
        let key = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(key.as_bytes()),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn key_cache_gives_the_derived_key_and_signs_like_sign() {
        let cache = KeyCache::new("secret");
        for (d, r, s) in [
            ("20260101", "us-east-1", "sts"),
            ("20260101", "us-east-1", "s3"),
            ("20260102", "us-east-1", "sts"),
            ("20260101", "eu-west-1", "sts"),
        ] {
            assert_eq!(cache.key(d, r, s), SigningKey::derive("secret", d, r, s));
            assert_eq!(cache.key(d, r, s), SigningKey::derive("secret", d, r, s));
        }
        for i in 0..(KEY_CACHE_SLOTS as u32 + 3) {
            let d = format!("202601{:02}", i + 1);
            assert_eq!(
                cache.key(&d, "r", "s"),
                SigningKey::derive("secret", &d, "r", "s")
            );
        }
        assert!(cache.slots.lock().is_ok_and(|s| s.len() == KEY_CACHE_SLOTS));
        assert_eq!(format!("{cache:?}"), "KeyCache(<redacted>)");

        let h = [("host", "sts.amazonaws.com"), ("content-type", "text/plain")];
        let r = Request::new("POST", "/", "", &h).with_body(b"Action=GetCallerIdentity");
        let creds = Credentials::new("AKID", "secret", Some("token"));
        let p = SigningParams::new(creds, "us-east-1", "sts", 1_767_225_600);
        let key = cache.key("20260101", "us-east-1", "sts");
        let (Ok(a), Ok(b)) = (sign(&r, &p), sign_with_key(&r, &p, &key)) else {
            panic!("signing failed");
        };
        assert_eq!(a.authorization, b.authorization);
        let wrong = cache.key("20260102", "us-east-1", "sts");
        assert!(sign_with_key(&r, &p, &wrong).is_ok_and(|w| w.authorization != a.authorization));
    }

    #[test]
    fn header_list_dedups() {
        let h = [("a", "1"), ("a", "2"), ("b", "3"), ("host", "x")];
        assert_eq!(signed_header_list(&h), "a;b;host");
        assert_eq!(signed_header_list(&[]), "");
    }

    #[test]
    fn sign_requires_host() {
        let h = [("x-amz-meta-a", "1")];
        let creds = Credentials::new("AKID", "secret", None);
        let p = SigningParams::new(creds, "us-east-1", "iam", 0);
        let r = Request::new("GET", "/", "", &h).with_body(b"");
        assert!(matches!(sign(&r, &p), Err(SigError::CannotSign { .. })));
        let h = [("host", "x")];
        let r = Request::new("GET", "/", "", &h);
        assert!(matches!(sign(&r, &p), Err(SigError::CannotSign { .. })));
        assert!(format!("{creds:?}").contains("<redacted>"));
        assert!(!format!("{creds:?}").contains("secret\""));
    }
}
