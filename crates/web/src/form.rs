//! `application/x-www-form-urlencoded` forms and query strings, and cookies.

use hyper::HeaderMap;

/// The fields of a form or query string, in order (a name may repeat: checkboxes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses `a=1&b=x+y&c=%C3%A7`. Malformed escapes are kept as written.
    pub fn parse(bytes: &[u8]) -> Form {
        let text = String::from_utf8_lossy(bytes);
        Form(
            text.split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    /// The query string of a URI.
    pub fn query(uri: &hyper::Uri) -> Form {
        Form::parse(uri.query().unwrap_or("").as_bytes())
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// The raw first value of `name` (passwords: not trimmed).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    /// Whether a yes/no field says yes.
    pub fn yes(&self, name: &str) -> bool {
        matches!(self.get(name), "yes" | "on" | "true")
    }
}

/// Percent-decodes a form value (`+` is a space). Invalid UTF-8 becomes U+FFFD.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_repeat() {
        let f = Form::parse(b"a=1&roles=Admin&roles=Read+Only&c=%C3%A7%2&d&roles=");
        assert_eq!(f.get("a"), "1");
        assert_eq!(f.all("roles"), vec!["Admin", "Read Only"]);
        assert_eq!(f.get("c"), "ç%2");
        assert_eq!(f.get("d"), "");
        assert_eq!(f.get("missing"), "");
        assert_eq!(decode("%zz%41"), "%zzA");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            hyper::header::COOKIE,
            hyper::header::HeaderValue::from_static("a=1; porteiro_session=xyz; b=2"),
        );
        assert_eq!(cookie(&h, "porteiro_session"), Some("xyz"));
        assert_eq!(cookie(&h, "session"), None);
    }
}
