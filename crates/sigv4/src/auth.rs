//! Parsing SigV4 authentication: the `Authorization` header and presigned query parameters.

use std::borrow::Cow;

use crate::encode::form_decode_str;
use crate::error::{Malformed, SigError};
use crate::time::{format_amz_date, parse_amz_date, parse_http_date};
use crate::{ALGORITHM, MAX_PRESIGN_EXPIRES, Request, raw_query_pairs};

/// How a SigV4 request carries its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// The `Authorization` header.
    Header,
    /// Presigned URL query parameters (`X-Amz-Algorithm`, `X-Amz-Signature`, ...).
    Presigned,
}

/// The authentication scheme a request uses, judged from its header and query names only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Authorization: AWS4-HMAC-SHA256 ...` (or another algorithm [`parse`] rejects).
    V4Header,
    /// `X-Amz-Algorithm` in the query.
    V4Presigned,
    /// `Authorization: AWS AKID:signature` — S3 SigV2 header auth (not verified by this crate).
    V2Header,
    /// `AWSAccessKeyId` and `Signature` in the query — S3 SigV2 presigned URL (see [`crate::v2`]).
    V2Presigned,
    /// No authentication at all.
    Anonymous,
}

/// Which scheme `request` uses. Presigned query parameters win over an `Authorization`
/// header here; [`parse`] and [`crate::v2::parse`] reject requests that carry both.
pub fn scheme(request: &Request<'_>) -> Scheme {
    let mut v2_key = false;
    let mut v2_sig = false;
    for (k, _) in raw_query_pairs(request.query) {
        match &*form_decode_str(k) {
            "X-Amz-Algorithm" => return Scheme::V4Presigned,
            "AWSAccessKeyId" => v2_key = true,
            "Signature" => v2_sig = true,
            _ => {}
        }
    }
    if v2_key && v2_sig {
        return Scheme::V2Presigned;
    }
    match request.header("authorization") {
        Some(a) if a.trim_start().starts_with("AWS ") => Scheme::V2Header,
        Some(_) => Scheme::V4Header,
        None => Scheme::Anonymous,
    }
}

/// Parsed SigV4 authentication (header or presigned), borrowing from the request where it can.
///
/// The credential is `AKID/YYYYMMDD/REGION/SERVICE/aws4_request`; any region and service are
/// accepted: the caller dispatches on [`Auth::service`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth<'a> {
    kind: AuthKind,
    credential: Cow<'a, str>,
    /// Byte offsets of the four `/` in `credential`.
    slashes: [usize; 4],
    signed_headers: Cow<'a, str>,
    signature: Cow<'a, str>,
    amz_date: Cow<'a, str>,
    timestamp: i64,
    session_token: Option<Cow<'a, str>>,
    expires: Option<u64>,
}

impl<'a> Auth<'a> {
    /// Header or presigned.
    pub fn kind(&self) -> AuthKind {
        self.kind
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.credential[..self.slashes[0]]
    }

    /// The credential scope date, `YYYYMMDD`.
    pub fn scope_date(&self) -> &str {
        &self.credential[self.slashes[0] + 1..self.slashes[1]]
    }

    /// The credential scope region (any value is accepted).
    pub fn region(&self) -> &str {
        &self.credential[self.slashes[1] + 1..self.slashes[2]]
    }

    /// The credential scope service (signing name): `iam`, `sts`, `s3`, `kms`, ...
    pub fn service(&self) -> &str {
        &self.credential[self.slashes[2] + 1..self.slashes[3]]
    }

    /// The credential scope, `YYYYMMDD/REGION/SERVICE/aws4_request`.
    pub fn credential_scope(&self) -> &str {
        &self.credential[self.slashes[0] + 1..]
    }

    /// The whole credential, `AKID/YYYYMMDD/REGION/SERVICE/aws4_request`.
    pub fn credential(&self) -> &str {
        &self.credential
    }

    /// The signed header list as sent, e.g. `host;x-amz-date`.
    pub fn signed_headers(&self) -> &str {
        &self.signed_headers
    }

    /// The signed header names.
    pub fn signed_header_names(&self) -> impl Iterator<Item = &str> {
        self.signed_headers.split(';').filter(|s| !s.is_empty())
    }

    /// Whether `name` (ASCII case-insensitive) is a signed header.
    pub fn is_signed(&self, name: &str) -> bool {
        self.signed_header_names().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The signature as sent (normally 64 lower-case hex digits).
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The request timestamp in SigV4 form (`20130524T000000Z`): `X-Amz-Date`, or the `Date`
    /// header converted.
    pub fn amz_date(&self) -> &str {
        &self.amz_date
    }

    /// The request timestamp, Unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// `X-Amz-Security-Token` (header or query), for temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// `X-Amz-Expires` for presigned requests.
    pub fn expires(&self) -> Option<u64> {
        self.expires
    }

    /// A copy that owns all its strings.
    pub fn into_owned(self) -> Auth<'static> {
        Auth {
            kind: self.kind,
            credential: Cow::Owned(self.credential.into_owned()),
            slashes: self.slashes,
            signed_headers: Cow::Owned(self.signed_headers.into_owned()),
            signature: Cow::Owned(self.signature.into_owned()),
            amz_date: Cow::Owned(self.amz_date.into_owned()),
            timestamp: self.timestamp,
            session_token: self.session_token.map(|t| Cow::Owned(t.into_owned())),
            expires: self.expires,
        }
    }
}

fn malformed(kind: AuthKind, reason: Malformed) -> SigError {
    SigError::Malformed { kind, reason }
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Validates `AKID/YYYYMMDD/REGION/SERVICE/aws4_request`, returning the slash offsets.
fn parse_credential(kind: AuthKind, c: &str) -> Result<[usize; 4], SigError> {
    let mut slashes = [0usize; 4];
    let mut n = 0;
    for (i, b) in c.bytes().enumerate() {
        if b == b'/' {
            if n == 4 {
                return Err(malformed(kind, Malformed::credential(c)));
            }
            slashes[n] = i;
            n += 1;
        }
    }
    if n != 4 {
        return Err(malformed(kind, Malformed::credential(c)));
    }
    let akid = &c[..slashes[0]];
    let date = &c[slashes[0] + 1..slashes[1]];
    let region = &c[slashes[1] + 1..slashes[2]];
    let service = &c[slashes[2] + 1..slashes[3]];
    let terminator = &c[slashes[3] + 1..];
    if akid.is_empty()
        || region.is_empty()
        || service.is_empty()
        || date.len() != 8
        || !date.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(malformed(kind, Malformed::credential(c)));
    }
    if terminator != "aws4_request" {
        return Err(malformed(kind, Malformed::Terminator(clip(terminator))));
    }
    Ok(slashes)
}

fn check_signed_headers(kind: AuthKind, signed: &str) -> Result<(), SigError> {
    if signed.split(';').all(str::is_empty) {
        return Err(malformed(kind, Malformed::SignedHeaders));
    }
    if !signed.split(';').any(|h| h.eq_ignore_ascii_case("host")) {
        return Err(malformed(kind, Malformed::HostNotSigned));
    }
    Ok(())
}

/// Parses the SigV4 authentication of `request`: the `Authorization` header, or the
/// presigned query parameters when the query has `X-Amz-Algorithm`.
///
/// Checks the shape only (algorithm, credential, signed headers include `host`, timestamp,
/// `X-Amz-Expires` in 1..=604800); [`crate::verify`] checks the signature and the time.
/// Errors: [`SigError::MissingAuthentication`] for an anonymous request (S3 may serve it),
/// [`SigError::MultipleAuthMechanisms`], [`SigError::UnsupportedAlgorithm`] (including SigV2
/// header auth and SigV4a), [`SigError::Malformed`].
pub fn parse<'a>(request: &Request<'a>) -> Result<Auth<'a>, SigError> {
    let authorization = request.header("authorization");
    match scheme(request) {
        Scheme::V4Presigned | Scheme::V2Presigned if authorization.is_some() => {
            Err(SigError::MultipleAuthMechanisms)
        }
        Scheme::V4Presigned => parse_presigned(request),
        Scheme::V2Presigned | Scheme::Anonymous => Err(SigError::MissingAuthentication),
        Scheme::V4Header | Scheme::V2Header => parse_header(request, authorization.unwrap_or_default()),
    }
}

fn parse_header<'a>(request: &Request<'a>, value: &'a str) -> Result<Auth<'a>, SigError> {
    let kind = AuthKind::Header;
    let value = value.trim();
    let (algorithm, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(SigError::UnsupportedAlgorithm {
            kind,
            algorithm: clip(algorithm),
        });
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').ok_or(malformed(kind, Malformed::Garbled))?;
        match k.trim_end() {
            "Credential" => credential = Some(v.trim_start()),
            "SignedHeaders" => signed_headers = Some(v.trim_start()),
            "Signature" => signature = Some(v.trim_start()),
            _ => {}
        }
    }
    let credential = credential.ok_or(malformed(kind, Malformed::MissingComponent("Credential")))?;
    let signed_headers =
        signed_headers.ok_or(malformed(kind, Malformed::MissingComponent("SignedHeaders")))?;
    let signature = signature.ok_or(malformed(kind, Malformed::MissingComponent("Signature")))?;
    let slashes = parse_credential(kind, credential)?;
    check_signed_headers(kind, signed_headers)?;

    let (amz_date, timestamp) = if let Some(d) = request.header("x-amz-date") {
        let d = d.trim();
        let t = parse_amz_date(d).ok_or_else(|| malformed(kind, Malformed::Date(clip(d))))?;
        (Cow::Borrowed(d), t)
    } else if let Some(d) = request.header("date") {
        let t = parse_http_date(d).ok_or_else(|| malformed(kind, Malformed::Date(clip(d))))?;
        (Cow::Owned(format_amz_date(t)), t)
    } else {
        return Err(malformed(kind, Malformed::MissingDate));
    };

    Ok(Auth {
        kind,
        credential: Cow::Borrowed(credential),
        slashes,
        signed_headers: Cow::Borrowed(signed_headers),
        signature: Cow::Borrowed(signature),
        amz_date,
        timestamp,
        session_token: request
            .header("x-amz-security-token")
            .map(|t| Cow::Borrowed(t.trim())),
        expires: None,
    })
}

fn parse_presigned<'a>(request: &Request<'a>) -> Result<Auth<'a>, SigError> {
    let kind = AuthKind::Presigned;
    let (mut algorithm, mut credential, mut date, mut expires, mut signed_headers, mut signature, mut token) =
        (None, None, None, None, None, None, None);
    for (k, v) in raw_query_pairs(request.query) {
        let slot = match &*form_decode_str(k) {
            "X-Amz-Algorithm" => &mut algorithm,
            "X-Amz-Credential" => &mut credential,
            "X-Amz-Date" => &mut date,
            "X-Amz-Expires" => &mut expires,
            "X-Amz-SignedHeaders" => &mut signed_headers,
            "X-Amz-Signature" => &mut signature,
            "X-Amz-Security-Token" => &mut token,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(form_decode_str(v));
        }
    }
    let missing = |name| malformed(kind, Malformed::MissingComponent(name));
    let algorithm = algorithm.ok_or(missing("X-Amz-Algorithm"))?;
    if algorithm != ALGORITHM {
        return Err(SigError::UnsupportedAlgorithm {
            kind,
            algorithm: clip(&algorithm),
        });
    }
    let credential = credential.ok_or(missing("X-Amz-Credential"))?;
    let signature = signature.ok_or(missing("X-Amz-Signature"))?;
    let amz_date = date.ok_or(missing("X-Amz-Date"))?;
    let signed_headers = signed_headers.ok_or(missing("X-Amz-SignedHeaders"))?;
    let expires = expires.ok_or(missing("X-Amz-Expires"))?;

    let slashes = parse_credential(kind, &credential)?;
    check_signed_headers(kind, &signed_headers)?;
    let timestamp =
        parse_amz_date(&amz_date).ok_or_else(|| malformed(kind, Malformed::Date(clip(&amz_date))))?;
    let expires: i64 = expires
        .trim()
        .parse()
        .map_err(|_| malformed(kind, Malformed::Expires(clip(&expires))))?;
    let expires = u64::try_from(expires)
        .ok()
        .filter(|&e| e > 0)
        .ok_or(malformed(kind, Malformed::ExpiresNotPositive))?;
    if expires > MAX_PRESIGN_EXPIRES {
        return Err(malformed(kind, Malformed::ExpiresTooLarge(expires)));
    }
    Ok(Auth {
        kind,
        credential,
        slashes,
        signed_headers,
        signature,
        amz_date,
        timestamp,
        session_token: token,
        expires: Some(expires),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRED: &str = "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request";

    fn header_request<'a>(headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
        Request::new("GET", "/", "", headers)
    }

    #[test]
    fn parses_header() {
        let authz = format!(
            "AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        let h = [
            ("Authorization", authz.as_str()),
            ("X-Amz-Date", "20150830T123600Z"),
            ("X-Amz-Security-Token", "tok"),
        ];
        let req = header_request(&h);
        assert_eq!(scheme(&req), Scheme::V4Header);
        let a = parse(&req).unwrap();
        assert_eq!(a.kind(), AuthKind::Header);
        assert_eq!(a.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(a.scope_date(), "20150830");
        assert_eq!(a.region(), "us-east-1");
        assert_eq!(a.service(), "iam");
        assert_eq!(a.credential_scope(), "20150830/us-east-1/iam/aws4_request");
        assert_eq!(
            a.signed_header_names().collect::<Vec<_>>(),
            ["content-type", "host", "x-amz-date"]
        );
        assert!(a.is_signed("Host"));
        assert_eq!(a.timestamp(), 1_440_938_160);
        assert_eq!(a.session_token(), Some("tok"));
        assert_eq!(a.expires(), None);
        assert_eq!(a.clone().into_owned(), a);
    }

    #[test]
    fn header_without_spaces_and_with_date_header() {
        let authz = format!("AWS4-HMAC-SHA256 Credential={CRED},SignedHeaders=date;host,Signature=00");
        let h = [
            ("authorization", authz.as_str()),
            ("date", "Sun, 30 Aug 2015 12:36:00 GMT"),
        ];
        let a = parse(&header_request(&h)).unwrap();
        assert_eq!(a.amz_date(), "20150830T123600Z");
        assert_eq!(a.signature(), "00");
    }

    fn header_error(authz: &str, date: Option<&str>) -> SigError {
        let mut h = vec![("Authorization", authz)];
        if let Some(d) = date {
            h.push(("x-amz-date", d));
        }
        parse(&header_request(&h)).unwrap_err()
    }

    fn malformed_reason(e: SigError) -> Malformed {
        match e {
            SigError::Malformed { reason, .. } => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn header_errors() {
        let d = Some("20150830T123600Z");
        assert!(matches!(
            header_error("AWS AKID:c2lnbmF0dXJl", d),
            SigError::UnsupportedAlgorithm {
                kind: AuthKind::Header,
                ..
            }
        ));
        assert!(matches!(
            header_error("AWS4-ECDSA-P256-SHA256 Credential=x", d),
            SigError::UnsupportedAlgorithm { .. }
        ));
        assert_eq!(
            malformed_reason(header_error(
                "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
                d
            )),
            Malformed::MissingComponent("Credential")
        );
        assert_eq!(
            malformed_reason(header_error(
                &format!("AWS4-HMAC-SHA256 Credential={CRED}, Signature=00"),
                d
            )),
            Malformed::MissingComponent("SignedHeaders")
        );
        assert_eq!(
            malformed_reason(header_error(
                &format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host"),
                d
            )),
            Malformed::MissingComponent("Signature")
        );
        assert_eq!(
            malformed_reason(header_error("AWS4-HMAC-SHA256", d)),
            Malformed::MissingComponent("Credential")
        );
        assert_eq!(
            malformed_reason(header_error("AWS4-HMAC-SHA256 garbage", d)),
            Malformed::Garbled
        );
        assert!(matches!(
            malformed_reason(header_error(
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam, SignedHeaders=host, Signature=00",
                d
            )),
            Malformed::Credential(_)
        ));
        assert!(matches!(
            malformed_reason(header_error(
                "AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00",
                d
            )),
            Malformed::Credential(_)
        ));
        assert!(matches!(
            malformed_reason(header_error(
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request/x, SignedHeaders=host, Signature=00",
                d
            )),
            Malformed::Credential(_)
        ));
        assert_eq!(
            malformed_reason(header_error(
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws5_request, SignedHeaders=host, Signature=00",
                d
            )),
            Malformed::Terminator("aws5_request".into())
        );
        assert_eq!(
            malformed_reason(header_error(
                &format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=x-amz-date, Signature=00"),
                d
            )),
            Malformed::HostNotSigned
        );
        assert_eq!(
            malformed_reason(header_error(
                &format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=, Signature=00"),
                d
            )),
            Malformed::SignedHeaders
        );
        assert_eq!(
            malformed_reason(header_error(
                &format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host, Signature=00"),
                None
            )),
            Malformed::MissingDate
        );
        assert_eq!(
            malformed_reason(header_error(
                &format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host, Signature=00"),
                Some("2015-08-30T12:36:00Z")
            )),
            Malformed::Date("2015-08-30T12:36:00Z".into())
        );
    }

    #[test]
    fn anonymous_and_conflicts() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(
            parse(&Request::new("GET", "/", "a=b", &none)),
            Err(SigError::MissingAuthentication)
        );
        let v2 = Request::new(
            "GET",
            "/b/k",
            "AWSAccessKeyId=AKID&Signature=x%3D&Expires=1",
            &none,
        );
        assert_eq!(scheme(&v2), Scheme::V2Presigned);
        assert_eq!(parse(&v2), Err(SigError::MissingAuthentication));
        let h = [("Authorization", "AWS4-HMAC-SHA256 Credential=x")];
        let both = Request::new("GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256", &h);
        assert_eq!(parse(&both), Err(SigError::MultipleAuthMechanisms));
        let v2h = [("Authorization", "AWS AKID:sig")];
        assert_eq!(scheme(&Request::new("GET", "/", "", &v2h)), Scheme::V2Header);
        assert_eq!(scheme(&Request::new("GET", "/", "", &none)), Scheme::Anonymous);
    }

    const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    #[test]
    fn parses_presigned() {
        let none: [(&str, &str); 0] = [];
        let q = format!("{PRESIGNED}&X-Amz-Security-Token=a%2Bb%2Fc%3D");
        let req = Request::new("GET", "/test.txt", &q, &none);
        assert_eq!(scheme(&req), Scheme::V4Presigned);
        let a = parse(&req).unwrap();
        assert_eq!(a.kind(), AuthKind::Presigned);
        assert_eq!(a.access_key_id(), "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(a.service(), "s3");
        assert_eq!(a.expires(), Some(86400));
        assert_eq!(a.session_token(), Some("a+b/c="));
        assert_eq!(a.timestamp(), 1_369_353_600);
    }

    fn presigned_error(replace: (&str, &str)) -> SigError {
        let none: [(&str, &str); 0] = [];
        let q = PRESIGNED.replace(replace.0, replace.1);
        parse(&Request::new("GET", "/test.txt", &q, &none)).unwrap_err()
    }

    #[test]
    fn presigned_errors() {
        assert_eq!(
            malformed_reason(presigned_error(("X-Amz-Expires=86400", "X-Amz-Expires=0"))),
            Malformed::ExpiresNotPositive
        );
        assert_eq!(
            malformed_reason(presigned_error(("X-Amz-Expires=86400", "X-Amz-Expires=-5"))),
            Malformed::ExpiresNotPositive
        );
        assert_eq!(
            malformed_reason(presigned_error(("X-Amz-Expires=86400", "X-Amz-Expires=604801"))),
            Malformed::ExpiresTooLarge(604_801)
        );
        assert_eq!(
            malformed_reason(presigned_error(("X-Amz-Expires=86400", "X-Amz-Expires=soon"))),
            Malformed::Expires("soon".into())
        );
        assert_eq!(
            malformed_reason(presigned_error(("&X-Amz-Expires=86400", ""))),
            Malformed::MissingComponent("X-Amz-Expires")
        );
        assert_eq!(
            malformed_reason(presigned_error(("&X-Amz-Signature=", "&X-Amz-Other="))),
            Malformed::MissingComponent("X-Amz-Signature")
        );
        assert_eq!(
            malformed_reason(presigned_error((
                "X-Amz-SignedHeaders=host",
                "X-Amz-SignedHeaders=range"
            ))),
            Malformed::HostNotSigned
        );
        assert!(matches!(
            presigned_error((
                "X-Amz-Algorithm=AWS4-HMAC-SHA256",
                "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256"
            )),
            SigError::UnsupportedAlgorithm {
                kind: AuthKind::Presigned,
                ..
            }
        ));
        assert!(matches!(
            malformed_reason(presigned_error((
                "X-Amz-Date=20130524T000000Z",
                "X-Amz-Date=yesterday"
            ))),
            Malformed::Date(_)
        ));
    }
}
