//! The console's dispatcher: every console page acts through the same operation functions the
//! API calls (`iam::handle`, `sts::handle`, and KMS and S3 as soon as they exist), with the same
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

    /// An S3 operation. Hook: when the S3 service is part of the cloud, this runs the S3
    /// operation for `call` as this caller (the same authorization as a signed request);
    /// until then it answers that S3 is not served.
    pub fn s3(&self, call: S3Call) -> Result<S3Reply, ApiError> {
        let op = match call {
            S3Call::ListBuckets => "ListBuckets",
            S3Call::ListObjects { .. } => "ListObjectsV2",
            S3Call::PutObject { .. } => "PutObject",
            S3Call::GetObject { .. } => "GetObject",
            S3Call::DeleteObject { .. } => "DeleteObject",
        };
        Err(not_served("S3", op))
    }
}

fn not_served(service: &str, op: &str) -> ApiError {
    ApiError::new(
        501,
        "NotImplemented",
        format!(
            "Porteiro's embedded cloud does not serve {service} yet, so the console cannot call {op}: this page works as soon as the {service} service is part of the cloud"
        ),
    )
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
