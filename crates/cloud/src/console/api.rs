//! The console's dispatcher: every console page acts through the same operation functions the
//! API calls (`iam::handle`, `sts::handle`, `kms::dispatch`, `s3::call_as`), with the same
//! [`Ctx`]/[`Caller`] the API path builds, so the engine authorizes every action of the
//! signed-in principal and a denial carries the API's exact message.
//!
//! Responses are read back from the operations' wire format (Query XML for IAM and STS, JSON
//! for KMS), so a page shows what the API answered and nothing more.

use crate::Cloud;
use crate::authz::{Caller, RequestInfo};
use crate::iam::{self, Ctx};
use crate::protocol::{ApiError, Params};

/// The signed-in principal making API requests.
#[derive(Debug)]
pub struct Api<'a> {
    /// The cloud.
    pub cloud: &'a Cloud,
    /// The caller, built as the API path builds it.
    pub caller: &'a Caller,
    /// Network and time facts of the console request.
    pub info: &'a RequestInfo,
}

/// An S3 operation a console page asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Call {
    /// `ListBuckets`.
    ListBuckets,
    /// `ListObjectsV2` with a prefix and `/` as delimiter.
    ListObjects {
        /// Bucket.
        bucket: String,
        /// Prefix (folder).
        prefix: String,
    },
    /// `PutObject`.
    PutObject {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Content type sent by the browser.
        content_type: String,
        /// The object data.
        body: bytes::Bytes,
    },
    /// `GetObject`.
    GetObject {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// `DeleteObject`.
    DeleteObject {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
}

/// What S3 answered: the status, the content type and the body (XML for listings, the object
/// for `GetObject`).
#[derive(Debug, Clone)]
pub struct S3Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body.
    pub body: bytes::Bytes,
}

/// `application/x-www-form-urlencoded` text of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", iam::url_encode(k), iam::url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Api<'_> {
    fn query(
        &self,
        version: &str,
        action: &str,
        pairs: &[(&str, &str)],
        run: impl FnOnce(&Ctx<'_>, &str) -> Result<String, ApiError>,
    ) -> Result<String, ApiError> {
        let mut all = vec![("Action", action), ("Version", version)];
        all.extend_from_slice(pairs);
        let params = Params::parse("", &form(&all));
        let request_id = crate::ids::request_id();
        let ctx = Ctx {
            cloud: self.cloud,
            state: self.cloud.shared.snapshot(),
            caller: self.caller,
            params: &params,
            info: self.info,
            request_id: &request_id,
        };
        run(&ctx, action)
    }

    /// An IAM operation (`ListUsers`, ...) with its parameters: the Query XML response.
    pub fn iam(&self, action: &str, pairs: &[(&str, &str)]) -> Result<String, ApiError> {
        self.query("2010-05-08", action, pairs, iam::handle)
    }

    /// An STS operation: the Query XML response.
    pub fn sts(&self, action: &str, pairs: &[(&str, &str)]) -> Result<String, ApiError> {
        self.query("2011-06-15", action, pairs, crate::sts::handle)
    }

    /// A KMS operation (`ListKeys`, `DescribeKey`) with its JSON request: the JSON response,
    /// through `kms::dispatch`, the function the KMS endpoint calls (errors with KMS's names).
    pub fn kms(&self, op: &str, request: serde_json::Value) -> Result<serde_json::Value, ApiError> {
        crate::kms::purge_expired(self.cloud, self.info.now)?;
        let k = crate::kms::Kctx {
            cloud: self.cloud,
            state: self.cloud.shared.snapshot(),
            caller: self.caller,
            info: self.info,
        };
        crate::kms::dispatch(&k, op, &crate::kms::Body::from_value(request)).map_err(crate::kms::to_kms)
    }

    /// An S3 operation, run by `s3::call_as` as this caller (the same dispatch and
    /// authorization as a signed request, SSE-KMS included).
    pub async fn s3(&self, call: S3Call) -> Result<S3Reply, ApiError> {
        let mut content_type = None;
        let (method, path, query, body) = match call {
            S3Call::ListBuckets => (
                hyper::Method::GET,
                "/".to_string(),
                String::new(),
                bytes::Bytes::new(),
            ),
            S3Call::ListObjects { bucket, prefix } => (
                hyper::Method::GET,
                format!("/{}", path_enc(&bucket)),
                form(&[("list-type", "2"), ("prefix", &prefix), ("delimiter", "/")]),
                bytes::Bytes::new(),
            ),
            S3Call::PutObject {
                bucket,
                key,
                content_type: ct,
                body,
            } => {
                content_type = Some(ct);
                (
                    hyper::Method::PUT,
                    object_path(&bucket, &key)?,
                    String::new(),
                    body,
                )
            }
            S3Call::GetObject { bucket, key } => (
                hyper::Method::GET,
                object_path(&bucket, &key)?,
                String::new(),
                bytes::Bytes::new(),
            ),
            S3Call::DeleteObject { bucket, key } => (
                hyper::Method::DELETE,
                object_path(&bucket, &key)?,
                String::new(),
                bytes::Bytes::new(),
            ),
        };
        let uri = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(&uri)
            .header(hyper::header::CONTENT_LENGTH, body.len());
        if let Some(ct) = content_type.filter(|ct| hyper::header::HeaderValue::from_str(ct).is_ok()) {
            req = req.header(hyper::header::CONTENT_TYPE, ct);
        }
        let req = req
            .body(body)
            .map_err(|e| ApiError::validation(format!("the request cannot be built: {e}")))?;
        let (status, content_type, body) =
            crate::s3::call_as(self.cloud, self.caller, self.info, req).await?;
        Ok(S3Reply {
            status,
            content_type,
            body,
        })
    }
}

/// `/bucket/key` with each part percent-encoded (the key's `/` kept).
fn object_path(bucket: &str, key: &str) -> Result<String, ApiError> {
    if key.is_empty() {
        return Err(ApiError::validation(
            "an object key is needed: type one, or choose a file",
        ));
    }
    Ok(format!("/{}/{}", path_enc(bucket), path_enc(key)))
}

/// Percent-encodes everything but unreserved characters and `/`.
fn path_enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- reading Query XML responses ----

/// The inner text of every `<tag>…</tag>` (not nested in itself), in order.
pub fn elements<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

/// The unescaped text of the first `<tag>` in `xml`.
pub fn text(xml: &str, tag: &str) -> Option<String> {
    elements(xml, tag).first().map(|t| unescape(t))
}

/// Undoes the XML writer's escaping.
pub fn unescape(t: &str) -> String {
    t.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#xD;", "\r")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_xml() {
        let xml = "<R><Users><member><UserName>a&amp;b</UserName></member><member><UserName>c</UserName></member></Users><IsTruncated>false</IsTruncated></R>";
        let users = elements(xml, "member");
        assert_eq!(users.len(), 2);
        assert_eq!(text(users[0], "UserName").as_deref(), Some("a&b"));
        assert_eq!(text(xml, "IsTruncated").as_deref(), Some("false"));
        assert_eq!(text(xml, "Nope"), None);
        assert_eq!(unescape("&amp;lt;"), "&lt;");
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(form(&[("UserName", "a b&c")]), "UserName=a%20b%26c");
    }
}
