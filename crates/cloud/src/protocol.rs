//! AWS's Query protocol (IAM 2010-05-08, STS 2011-06-15): parameters in, XML out, and errors
//! in the exact shape the SDKs parse.
//!
//! <https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html>

use crate::xml::Xml;

/// Which AWS service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// IAM (Query, 2010-05-08).
    Iam,
    /// STS (Query, 2011-06-15).
    Sts,
}

impl Service {
    /// The XML namespace of its responses.
    pub fn namespace(self) -> &'static str {
        match self {
            Service::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            Service::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
        }
    }

    /// The IAM action prefix (`iam`, `sts`).
    pub fn prefix(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }
}

/// An error answered to the client, in the protocol of the service called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// AWS error code (`NoSuchEntity`, `AccessDenied`, ...).
    pub code: String,
    /// The message for people.
    pub message: String,
    /// `Sender` (the client's fault) or `Receiver`.
    pub sender: bool,
}

impl ApiError {
    /// A client error.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            sender: true,
        }
    }

    /// 400 `ValidationError`.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "ValidationError", message)
    }

    /// 400 `InvalidInput` (IAM).
    pub fn invalid_input(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidInput", message)
    }

    /// 404 `NoSuchEntity`.
    pub fn no_such_entity(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NoSuchEntity", message)
    }

    /// 409 `EntityAlreadyExists`.
    pub fn already_exists(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "EntityAlreadyExists", message)
    }

    /// 409 `DeleteConflict`.
    pub fn delete_conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "DeleteConflict", message)
    }

    /// 409 `LimitExceeded`.
    pub fn limit_exceeded(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "LimitExceeded", message)
    }

    /// 400 `MalformedPolicyDocument`.
    pub fn malformed_policy(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "MalformedPolicyDocument", message)
    }

    /// 500 `ServiceFailure` (a server-side fault; the details are logged, not returned).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 500,
            code: "ServiceFailure".to_string(),
            message: message.into(),
            sender: false,
        }
    }

    /// The Query-protocol error document.
    pub fn to_query_xml(&self, service: Service, request_id: &str) -> String {
        let mut x = Xml::new();
        x.open_ns("ErrorResponse", service.namespace())
            .open("Error")
            .elem("Type", if self.sender { "Sender" } else { "Receiver" })
            .elem("Code", &self.code)
            .elem("Message", &self.message)
            .close("Error")
            .elem("RequestId", request_id)
            .close("ErrorResponse");
        x.finish()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::internal(format!("the cloud could not save the change: {e}"))
    }
}

/// Decoded request parameters (form body and query string).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
pub fn form_decode(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+`; invalid escapes are kept as written.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Params {
    /// Parameters from a query string and a form body.
    pub fn parse(query: &str, body: &str) -> Params {
        let mut pairs = form_decode(query);
        pairs.extend(form_decode(body));
        Params { pairs }
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    /// An optional integer parameter.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::validation(format!("invalid value `{v}` for {name}: expected an integer"))
            }),
        }
    }

    /// An optional boolean parameter.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::validation(format!(
                "invalid value `{v}` for {name}: expected true or false"
            ))),
        }
    }

    /// A list parameter `Name.member.1`, `Name.member.2`, ... in order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{name}.member.");
        let mut items: Vec<(u32, &str)> = self
            .pairs
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(&prefix)
                    .and_then(|n| n.parse::<u32>().ok())
                    .map(|n| (n, v.as_str()))
            })
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// A list of structures `Name.member.N.Field`: one map per N, in order.
    pub fn structs(&self, name: &str) -> Vec<Vec<(&str, &str)>> {
        let prefix = format!("{name}.member.");
        let mut by_index: std::collections::BTreeMap<u32, Vec<(&str, &str)>> = Default::default();
        for (k, v) in &self.pairs {
            if let Some(rest) = k.strip_prefix(&prefix)
                && let Some((n, field)) = rest.split_once('.')
                && let Ok(n) = n.parse::<u32>()
            {
                by_index.entry(n).or_default().push((field, v.as_str()));
            }
        }
        by_index.into_values().collect()
    }

    /// Tags given as `Tags.member.N.Key` / `.Value`.
    pub fn tags(&self) -> Result<Vec<crate::model::Tag>, ApiError> {
        let mut out = Vec::new();
        for fields in self.structs("Tags") {
            let get = |f: &str| fields.iter().find(|(k, _)| *k == f).map(|(_, v)| v.to_string());
            let key = get("Key").ok_or_else(|| ApiError::validation("a tag has no Key"))?;
            if key.is_empty() || key.chars().count() > 128 {
                return Err(ApiError::validation(format!(
                    "tag key `{key}` must be 1 to 128 characters"
                )));
            }
            let value = get("Value").unwrap_or_default();
            if value.chars().count() > 256 {
                return Err(ApiError::validation(format!(
                    "the value of tag `{key}` is longer than 256 characters"
                )));
            }
            if out
                .iter()
                .any(|t: &crate::model::Tag| t.key.eq_ignore_ascii_case(&key))
            {
                return Err(ApiError::invalid_input(format!("duplicate tag key `{key}`")));
            }
            out.push(crate::model::Tag { key, value });
        }
        if out.len() > 50 {
            return Err(ApiError::limit_exceeded("at most 50 tags are allowed"));
        }
        Ok(out)
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Writes a successful Query response: `<OpResponse><OpResult>…</OpResult><ResponseMetadata>…`.
pub fn query_response(service: Service, op: &str, request_id: &str, result: impl FnOnce(&mut Xml)) -> String {
    let mut x = Xml::new();
    let response = format!("{op}Response");
    let result_tag = format!("{op}Result");
    x.open_ns(&response, service.namespace());
    x.open(&result_tag);
    result(&mut x);
    x.close(&result_tag);
    x.open("ResponseMetadata")
        .elem("RequestId", request_id)
        .close("ResponseMetadata");
    x.close(&response);
    x.finish()
}

/// Writes a Query response without a result element (operations that return nothing).
pub fn query_empty_response(service: Service, op: &str, request_id: &str) -> String {
    let mut x = Xml::new();
    let response = format!("{op}Response");
    x.open_ns(&response, service.namespace());
    x.open("ResponseMetadata")
        .elem("RequestId", request_id)
        .close("ResponseMetadata");
    x.close(&response);
    x.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_query_params() {
        let p = Params::parse(
            "",
            "Action=CreateUser&Version=2010-05-08&Path=%2Feng%2F&UserName=alice&Tags.member.1.Key=team&Tags.member.1.Value=x+y&Tags.member.2.Key=b&Tags.member.2.Value=",
        );
        assert_eq!(p.get("Path"), Some("/eng/"));
        let tags = p.tags().unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].value, "x y");
        let l = Params::parse(
            "",
            "PolicyArns.member.2.arn=b&PolicyArns.member.1.arn=a&X.member.1=p",
        );
        assert_eq!(l.structs("PolicyArns")[0], vec![("arn", "a")]);
        assert_eq!(l.list("X"), vec!["p"]);
    }

    #[test]
    fn error_shape() {
        let e = ApiError::no_such_entity("The user with name nobody cannot be found.");
        let xml = e.to_query_xml(Service::Iam, "req-1");
        assert!(xml.contains("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>"));
        assert!(xml.contains("<RequestId>req-1</RequestId></ErrorResponse>"));
    }
}
