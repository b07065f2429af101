//! The canonical request and the string to sign, exactly as AWS builds them; HMAC helpers.

use std::borrow::Cow;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::encode::{canonical_query_component, form_decode_str, hex_into, percent_encode_into};
use crate::{ALGORITHM, raw_query_pairs};

/// HMAC-SHA256 over the concatenation of `parts`.
///
/// The key is brought to the block size here (hashed when longer, zero-padded), exactly as
/// RFC 2104 does, so that the fixed-size constructor applies and nothing can fail.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA1 (SigV2), same key handling.
pub(crate) fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha1> as KeyInit>::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Writes the canonical URI. S3 signs the path as received (only an empty path becomes
/// `/`); every other service signs the normalized path URI-encoded once more, as aws-sigv4
/// does (`%` becomes `%25`).
pub(crate) fn write_canonical_uri(out: &mut String, path: &str, s3: bool) {
    if path.is_empty() {
        out.push('/');
    } else if s3 {
        out.push_str(path);
    } else {
        let normalized = normalize_path(path);
        percent_encode_into(out, normalized.as_bytes(), true);
    }
}

/// aws-sigv4's `normalize_uri_path`: leading `/`, then (only if the path has `.` or `//`)
/// drop empty and `.` segments, resolve `..`, keep a trailing `/`.
fn normalize_path(path: &str) -> Cow<'_, str> {
    let with_slash = if path.starts_with('/') {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/{path}"))
    };
    if !(with_slash.contains('.') || with_slash.contains("//")) {
        return with_slash;
    }
    let mut segments: Vec<&str> = Vec::with_capacity(with_slash.matches('/').count() + 1);
    for segment in with_slash.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut result = String::with_capacity(with_slash.len());
    for s in &segments {
        result.push('/');
        result.push_str(s);
    }
    let ends_with_slash = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|s| with_slash.ends_with(s));
    if result.is_empty() || (ends_with_slash && !result.ends_with('/')) {
        result.push('/');
    }
    Cow::Owned(result)
}

/// Writes the canonical query string: each key and value decoded then re-encoded with the
/// unreserved set, pairs sorted by key then value, `X-Amz-Signature` left out for presigned.
pub(crate) fn write_canonical_query(out: &mut String, query: &str, skip_signature: bool) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(query.matches('&').count() + 1);
    for (k, v) in raw_query_pairs(query) {
        if skip_signature && form_decode_str(k) == "X-Amz-Signature" {
            continue;
        }
        pairs.push((canonical_query_component(k), canonical_query_component(v)));
    }
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// Appends a header value trimmed, with inner whitespace runs collapsed to one space.
fn push_trimmed(out: &mut String, value: &str) {
    for (i, word) in value.split_ascii_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Writes `name:value\n` for each signed header (in the order of `signed_headers`), the values
/// of repeated headers joined by `,`. A signed header absent from the request gets an empty
/// value (and so a signature mismatch).
pub(crate) fn write_canonical_headers(out: &mut String, headers: &[(&str, &str)], signed_headers: &str) {
    for name in signed_headers.split(';').filter(|n| !n.is_empty()) {
        for b in name.bytes() {
            out.push(char::from(b.to_ascii_lowercase()));
        }
        out.push(':');
        let mut first = true;
        for (_, v) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(',');
            }
            first = false;
            push_trimmed(out, v);
        }
        out.push('\n');
    }
}

/// The inputs of a canonical request.
pub(crate) struct CanonicalParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub skip_signature: bool,
    pub headers: &'a [(&'a str, &'a str)],
    pub signed_headers: &'a str,
    pub payload_hash: &'a str,
    pub s3: bool,
}

/// Builds the canonical request:
/// `METHOD\nURI\nQUERY\nHEADERS\n\nSIGNED_HEADERS\nPAYLOAD_HASH`.
pub(crate) fn canonical_request(p: &CanonicalParts<'_>) -> String {
    let mut out = String::with_capacity(
        p.method.len() + p.path.len() * 3 / 2 + p.query.len() * 3 / 2 + p.headers.len() * 48 + 160,
    );
    out.push_str(p.method);
    out.push('\n');
    write_canonical_uri(&mut out, p.path, p.s3);
    out.push('\n');
    write_canonical_query(&mut out, p.query, p.skip_signature);
    out.push('\n');
    write_canonical_headers(&mut out, p.headers, p.signed_headers);
    out.push('\n');
    out.push_str(p.signed_headers);
    out.push('\n');
    out.push_str(p.payload_hash);
    out
}

/// `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical_request)>`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut out = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 68);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(amz_date);
    out.push('\n');
    out.push_str(scope);
    out.push('\n');
    hex_into(&mut out, &Sha256::digest(canonical_request.as_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str, s3: bool) -> String {
        let mut s = String::new();
        write_canonical_uri(&mut s, path, s3);
        s
    }

    #[test]
    fn canonical_uri() {
        let odd = "/bkt1/dir/a%20b%2Bc%3D%C3%BC.txt";
        assert_eq!(uri(odd, true), odd);
        assert_eq!(uri(odd, false), "/bkt1/dir/a%2520b%252Bc%253D%25C3%25BC.txt");
        assert_eq!(uri("", true), "/");
        assert_eq!(uri("", false), "/");
        assert_eq!(uri("/", false), "/");
        assert_eq!(uri("/a//b/./c/../d", false), "/a/b/d");
        assert_eq!(uri("/a//b/./c/../d", true), "/a//b/./c/../d");
        assert_eq!(uri("/foo/bar/.", false), "/foo/bar/");
        assert_eq!(uri("/../foo", false), "/foo");
        assert_eq!(uri("/..", false), "/");
        assert_eq!(uri("a b", false), "/a%20b");
        assert_eq!(uri("/~user/x y", false), "/~user/x%20y");
    }

    fn query(q: &str, skip: bool) -> String {
        let mut s = String::new();
        write_canonical_query(&mut s, q, skip);
        s
    }

    #[test]
    fn canonical_query() {
        assert_eq!(query("", false), "");
        assert_eq!(
            query("Version=2010-05-08&Action=ListUsers", false),
            "Action=ListUsers&Version=2010-05-08"
        );
        assert_eq!(query("uploads", false), "uploads=");
        assert_eq!(
            query("list-type=2&prefix=&delimiter=%2F&encoding-type=url", false),
            "delimiter=%2F&encoding-type=url&list-type=2&prefix="
        );
        assert_eq!(query("b=2&a=z&a=y&a+b=c%20d", false), "a=y&a=z&a%20b=c%20d&b=2");
        assert_eq!(query("x=%7e%2f&&y=a/b", false), "x=~%2F&y=a%2Fb");
        assert_eq!(query("X-Amz-Signature=abc&X-Amz-Date=1", true), "X-Amz-Date=1");
        assert_eq!(
            query("X-Amz-Signature=abc&X-Amz-Date=1", false),
            "X-Amz-Date=1&X-Amz-Signature=abc"
        );
    }

    #[test]
    fn canonical_headers() {
        let h = [
            ("Host", "example.com"),
            ("X-Amz-Meta-A", "  one   two\tthree  "),
            ("x-amz-meta-a", "four"),
            ("My-Header", ""),
        ];
        let mut s = String::new();
        write_canonical_headers(&mut s, &h, "host;my-header;missing;x-amz-meta-a");
        assert_eq!(
            s,
            "host:example.com\nmy-header:\nmissing:\nx-amz-meta-a:one two three,four\n"
        );
    }

    #[test]
    fn hmac_vectors() {
        // RFC 4231 test case 2 and 6 (key longer than the block).
        assert_eq!(
            crate::hex(&hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            crate::hex(&hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // RFC 2202 test case 2 and 6.
        assert_eq!(
            crate::hex(&hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            crate::hex(&hmac_sha1(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }
}
