//! S3 Signature Version 2 presigned URLs: `?AWSAccessKeyId=…&Expires=…&Signature=…`.
//!
//! awscli and boto3 still presign S3 URLs with SigV2 unless `signature_version = s3v4` is
//! configured. The signature is `base64(HMAC-SHA1(secret, StringToSign))` with
//!
//! ```text
//! StringToSign = METHOD \n Content-MD5 \n Content-Type \n Expires \n
//!                CanonicalizedAmzHeaders CanonicalizedResource
//! ```
//!
//! where `CanonicalizedAmzHeaders` is `name:value\n` per `x-amz-*` header (lower case,
//! sorted; botocore moves them, e.g. `x-amz-security-token`, into the query, where this
//! module also looks) and `CanonicalizedResource` is `/bucket/key` as sent plus the S3
//! sub-resources of the query (`?uploadId=…&partNumber=…`, `response-*` overrides, ...).
//! SigV2 *header* authentication (`Authorization: AWS AKID:sig`) is not supported.

use std::borrow::Cow;

use crate::canonical::hmac_sha1;
use crate::encode::{base64, ct_eq, form_decode_str, percent_decode_str, percent_encode_into};
use crate::error::{Malformed, SigError};
use crate::{AuthKind, Credentials, Request, raw_query_pairs};

/// The query parameters that are part of the canonicalized resource (botocore's list).
const SUB_RESOURCES: [&str; 35] = [
    "accelerate",
    "acl",
    "cors",
    "defaultObjectAcl",
    "location",
    "logging",
    "partNumber",
    "policy",
    "requestPayment",
    "torrent",
    "versioning",
    "versionId",
    "versions",
    "website",
    "uploads",
    "uploadId",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "delete",
    "lifecycle",
    "tagging",
    "restore",
    "storageClass",
    "notification",
    "replication",
    "analytics",
    "metrics",
    "inventory",
    "select",
    "select-type",
    "object-lock",
];

/// A parsed SigV2 presigned URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedV2<'a> {
    access_key_id: Cow<'a, str>,
    signature: Cow<'a, str>,
    expires: i64,
    expires_raw: Cow<'a, str>,
    session_token: Option<Cow<'a, str>>,
}

impl PresignedV2<'_> {
    /// `AWSAccessKeyId`.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// `Signature` (base64), decoded from the query.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// `Expires`, Unix seconds.
    pub fn expires(&self) -> i64 {
        self.expires
    }

    /// `x-amz-security-token` from the query, for temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

/// Parses the SigV2 presigned parameters of `request`.
/// [`SigError::MissingAuthentication`] if it has none.
pub fn parse<'a>(request: &Request<'a>) -> Result<PresignedV2<'a>, SigError> {
    let (mut key, mut signature, mut expires, mut token) = (None, None, None, None);
    for (k, v) in raw_query_pairs(request.query) {
        match &*form_decode_str(k) {
            "AWSAccessKeyId" if key.is_none() => key = Some(percent_decode_str(v)),
            "Signature" if signature.is_none() => signature = Some(percent_decode_str(v)),
            "Expires" if expires.is_none() => expires = Some(percent_decode_str(v)),
            "x-amz-security-token" | "X-Amz-Security-Token" if token.is_none() => {
                token = Some(form_decode_str(v))
            }
            _ => {}
        }
    }
    let (Some(access_key_id), Some(signature)) = (key, signature) else {
        return Err(SigError::MissingAuthentication);
    };
    if request.header("authorization").is_some() {
        return Err(SigError::MultipleAuthMechanisms);
    }
    let kind = AuthKind::Presigned;
    let expires_raw = expires.ok_or(SigError::Malformed {
        kind,
        reason: Malformed::MissingComponent("Expires"),
    })?;
    let expires = expires_raw
        .trim()
        .parse::<i64>()
        .map_err(|_| SigError::Malformed {
            kind,
            reason: Malformed::Expires(expires_raw.chars().take(64).collect()),
        })?;
    Ok(PresignedV2 {
        access_key_id,
        signature,
        expires,
        expires_raw,
        session_token: token,
    })
}

/// A verified SigV2 presigned request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedV2 {
    /// The access key id that signed the URL.
    pub access_key_id: String,
    /// The session token (the caller checks it belongs to the key).
    pub session_token: Option<String>,
    /// When the URL expires, Unix seconds.
    pub expires: i64,
}

/// The SigV2 string to sign of `request`. `bucket_in_host` is the bucket of a
/// virtual-hosted-style request (`bucket.s3.example`), which the resource then starts with.
pub fn string_to_sign(request: &Request<'_>, expires: &str, bucket_in_host: Option<&str>) -> String {
    let query_value = |name: &str| {
        raw_query_pairs(request.query)
            .find(|(k, _)| form_decode_str(k).eq_ignore_ascii_case(name))
            .map(|(_, v)| form_decode_str(v))
    };
    let standard = |name: &str| -> Cow<'_, str> {
        match request.header(name) {
            Some(v) => Cow::Borrowed(v.trim()),
            None => query_value(name).unwrap_or_default(),
        }
    };
    let mut out = String::with_capacity(128 + request.path.len());
    out.push_str(request.method);
    out.push('\n');
    out.push_str(&standard("content-md5"));
    out.push('\n');
    out.push_str(&standard("content-type"));
    out.push('\n');
    out.push_str(expires);
    out.push('\n');

    // x-amz-* from the query (botocore moves them there) take precedence over headers.
    let mut amz: Vec<(String, String)> = Vec::new();
    for (k, v) in raw_query_pairs(request.query) {
        let k = form_decode_str(k).to_ascii_lowercase();
        if k.starts_with("x-amz-") && !amz.iter().any(|(n, _)| *n == k) {
            amz.push((k, form_decode_str(v).trim().to_owned()));
        }
    }
    let from_query = amz.len();
    for (name, value) in request.headers {
        let name = name.to_ascii_lowercase();
        if !name.starts_with("x-amz-") || amz[..from_query].iter().any(|(n, _)| *n == name) {
            continue;
        }
        match amz.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(value.trim());
            }
            None => amz.push((name, value.trim().to_owned())),
        }
    }
    amz.sort();
    for (n, v) in &amz {
        out.push_str(n);
        out.push(':');
        out.push_str(v);
        out.push('\n');
    }

    if let Some(bucket) = bucket_in_host {
        out.push('/');
        out.push_str(bucket);
    }
    out.push_str(if request.path.is_empty() {
        "/"
    } else {
        request.path
    });
    let mut subs: Vec<(&str, Option<Cow<'_, str>>)> = request
        .query
        .split('&')
        .filter_map(|seg| {
            let (k, v) = match seg.split_once('=') {
                Some((k, v)) => (k, Some(percent_decode_str(v))),
                None => (seg, None),
            };
            SUB_RESOURCES.contains(&k).then_some((k, v))
        })
        .collect();
    subs.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (k, v)) in subs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        if let Some(v) = v {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

/// Verifies a SigV2 presigned request against `secret_key` at server time `now`.
/// Errors: [`SigError::PresignedExpired`] once `now > Expires`,
/// [`SigError::SignatureDoesNotMatch`] (with the string to sign and an empty canonical
/// request).
pub fn verify(
    request: &Request<'_>,
    auth: &PresignedV2<'_>,
    secret_key: &str,
    now: i64,
    bucket_in_host: Option<&str>,
) -> Result<VerifiedV2, SigError> {
    if now > auth.expires {
        return Err(SigError::PresignedExpired {
            expires_at: auth.expires,
            expires_in: None,
            server_time: now,
        });
    }
    let sts = string_to_sign(request, auth.expires_raw.trim(), bucket_in_host);
    let expected = base64(&hmac_sha1(secret_key.as_bytes(), sts.as_bytes()));
    if !ct_eq(expected.as_bytes(), auth.signature.trim().as_bytes()) {
        return Err(SigError::SignatureDoesNotMatch {
            canonical_request: String::new(),
            string_to_sign: sts,
        });
    }
    Ok(VerifiedV2 {
        access_key_id: auth.access_key_id.clone().into_owned(),
        session_token: auth.session_token.as_deref().map(str::to_owned),
        expires: auth.expires,
    })
}

fn push_param(q: &mut String, name: &str, value: &str) {
    if !q.is_empty() {
        q.push('&');
    }
    q.push_str(name);
    q.push('=');
    percent_encode_into(q, value.as_bytes(), false);
}

/// Presigns `request` with SigV2 until `expires_at` (Unix seconds), as botocore's
/// `HmacV1QueryAuth` does; returns the complete query string. A session token is signed as
/// `x-amz-security-token` and sent in the query.
pub fn presign(
    request: &Request<'_>,
    credentials: &Credentials<'_>,
    expires_at: i64,
    bucket_in_host: Option<&str>,
) -> String {
    let expires = expires_at.to_string();
    let mut query = request.query.to_owned();
    if let Some(token) = credentials.session_token {
        push_param(&mut query, "x-amz-security-token", token);
    }
    let signed = Request {
        query: &query,
        ..*request
    };
    let sts = string_to_sign(&signed, &expires, bucket_in_host);
    let signature = base64(&hmac_sha1(
        credentials.secret_access_key.as_bytes(),
        sts.as_bytes(),
    ));
    push_param(&mut query, "AWSAccessKeyId", credentials.access_key_id);
    push_param(&mut query, "Signature", &signature);
    push_param(&mut query, "Expires", &expires);
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_documentation_example() {
        // "Query string request authentication alternative" in the S3 SigV2 documentation
        // (its original `johnsmith` bucket: the signature was never recomputed for the renamed one).
        let h = [("Host", "johnsmith.s3.amazonaws.com")];
        let req = Request::new(
            "GET",
            "/photos/puppy.jpg",
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620",
            &h,
        );
        assert_eq!(crate::scheme(&req), crate::Scheme::V2Presigned);
        let auth = parse(&req).unwrap();
        assert_eq!(auth.access_key_id(), "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(auth.signature(), "NpgCjnDzrM+WFzoENXmpNDUsSn8=");
        assert_eq!(auth.expires(), 1_175_139_620);
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            string_to_sign(&req, "1175139620", Some("johnsmith")),
            "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"
        );
        let v = verify(&req, &auth, secret, 1_175_139_000, Some("johnsmith")).unwrap();
        assert_eq!(v.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert!(matches!(
            verify(&req, &auth, secret, 1_175_139_621, Some("johnsmith")),
            Err(SigError::PresignedExpired {
                expires_at: 1_175_139_620,
                ..
            })
        ));
        assert!(matches!(
            verify(&req, &auth, secret, 1_175_139_000, None),
            Err(SigError::SignatureDoesNotMatch { .. })
        ));
    }

    #[test]
    fn sub_resources_and_amz_headers() {
        let h = [
            ("Host", "h"),
            ("X-Amz-Meta-B", " 2 "),
            ("x-amz-meta-b", "3"),
            ("Content-Type", "text/plain"),
        ];
        let req = Request::new(
            "PUT",
            "/b/k",
            "partNumber=2&uploadId=a%2Bb&x-amz-meta-a=1&foo=bar&uploads&response-content-type=text%2Fplain",
            &h,
        );
        assert_eq!(
            string_to_sign(&req, "100", None),
            "PUT\n\ntext/plain\n100\nx-amz-meta-a:1\nx-amz-meta-b:2,3\n/b/k?partNumber=2&response-content-type=text/plain&uploadId=a+b&uploads"
        );
    }

    #[test]
    fn presign_round_trip_with_token() {
        let h = [("Host", "127.0.0.1:5056")];
        let creds = Credentials::new("ASIAEXAMPLE", "secret/key+x", Some("tok+en/=="));
        let base = Request::new("GET", "/bkt1/dir/a%20b%2Bc%3D%C3%BC.txt", "versionId=3", &h);
        let q = presign(&base, &creds, 2_000_000_000, None);
        let req = Request { query: &q, ..base };
        let auth = parse(&req).unwrap();
        assert_eq!(auth.session_token(), Some("tok+en/=="));
        let v = verify(&req, &auth, "secret/key+x", 1_999_999_999, None).unwrap();
        assert_eq!(v.session_token.as_deref(), Some("tok+en/=="));
        assert!(verify(&req, &auth, "other", 1_999_999_999, None).is_err());
        let tampered = q.replace("versionId=3", "versionId=4");
        let req2 = Request {
            query: &tampered,
            ..base
        };
        assert!(matches!(
            verify(&req2, &parse(&req2).unwrap(), "secret/key+x", 0, None),
            Err(SigError::SignatureDoesNotMatch { .. })
        ));
    }

    #[test]
    fn parse_errors() {
        let none: [(&str, &str); 0] = [];
        let r = Request::new("GET", "/", "AWSAccessKeyId=A&Signature=s", &none);
        assert!(matches!(
            parse(&r),
            Err(SigError::Malformed {
                reason: Malformed::MissingComponent("Expires"),
                ..
            })
        ));
        let r = Request::new("GET", "/", "AWSAccessKeyId=A&Signature=s&Expires=x", &none);
        assert!(matches!(
            parse(&r),
            Err(SigError::Malformed {
                reason: Malformed::Expires(_),
                ..
            })
        ));
        let r = Request::new("GET", "/", "a=b", &none);
        assert_eq!(parse(&r), Err(SigError::MissingAuthentication));
        let h = [("authorization", "AWS A:b")];
        let r = Request::new("GET", "/", "AWSAccessKeyId=A&Signature=s&Expires=1", &h);
        assert_eq!(parse(&r), Err(SigError::MultipleAuthMechanisms));
    }
}
