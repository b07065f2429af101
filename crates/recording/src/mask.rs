//! Masking of passwords and secrets before anything is written.
//!
//! Rules (also in `docs/recordings.md`):
//! - form fields and query parameters whose name contains `password`, `passwd`, `secret`,
//!   `token`, `credential` or `signature` (any case): the value becomes [`MASK`];
//! - headers `Authorization`, `Proxy-Authorization`, `X-Amz-Security-Token`, `Cookie`,
//!   `Set-Cookie`: the value becomes [`MASK`];
//! - in free text (HTML, notes): AWS secret access keys (a run of exactly 40 base64 characters
//!   with upper- and lowercase letters and a digit or `+`), session tokens (a run of 100 or
//!   more base64 characters with upper- and lowercase letters and a digit, not a `data:` URI),
//!   and the value after `SecretAccessKey`, `secret_access_key`, `SessionToken`,
//!   `session_token` or a JSON `"password"` key.

use std::borrow::Cow;

/// What a masked value is replaced with.
pub const MASK: &str = "********";

const SECRET_NAME_PARTS: [&str; 6] = ["password", "passwd", "secret", "token", "credential", "signature"];

const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "x-amz-security-token",
    "cookie",
    "set-cookie",
];

/// Whether a form field or query parameter with this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| lower.contains(part))
}

/// Whether a header with this name holds a secret.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name.trim()))
}

/// Masks secret form fields in place (and secrets inside the other fields' values).
pub fn mask_form(fields: &mut [(String, String)]) {
    for (name, value) in fields.iter_mut() {
        if is_secret_name(name) {
            *value = MASK.to_owned();
        } else if let Cow::Owned(masked) = mask_text(value) {
            *value = masked;
        }
    }
}

/// Masks secret headers in place (and secrets inside the other headers' values).
pub fn mask_headers(headers: &mut [(String, String)]) {
    for (name, value) in headers.iter_mut() {
        if is_secret_header(name) {
            *value = MASK.to_owned();
        } else if let Cow::Owned(masked) = mask_text(value) {
            *value = masked;
        }
    }
}

/// Masks secret parameters of a query string (`a=1&X-Amz-Signature=...`), keeping its shape.
pub fn mask_query(query: &str) -> String {
    let masked: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if is_secret_name(&percent_decode(name)) && !value.is_empty() {
                Cow::Owned(format!("{name}={MASK}"))
            } else {
                mask_text(pair)
            }
        })
        .collect();
    masked.join("&")
}

/// Decodes `%XX` and `+` loosely (enough to read a parameter's name).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Keys after which the value is a secret (compared case-insensitively), and whether only a
/// JSON `key: value` counts.
const SECRET_KEYS: [(&str, bool); 5] = [
    ("secretaccesskey", false),
    ("secret_access_key", false),
    ("sessiontoken", false),
    ("session_token", false),
    ("\"password\"", true),
];

/// The value after a key that ends at `after_key`: separators (`"':=>`, blanks; a colon
/// required when `json_only`), then up to a quote, `<`, blank, `,`, `;`, `}` or `&`.
fn keyed_value(bytes: &[u8], after_key: usize, json_only: bool) -> Option<(usize, usize)> {
    let mut j = after_key;
    let mut saw_colon = false;
    while j < bytes.len()
        && j - after_key < 8
        && matches!(bytes[j], b'"' | b'\'' | b':' | b'=' | b'>' | b' ' | b'\t')
    {
        saw_colon |= bytes[j] == b':';
        j += 1;
    }
    if j == after_key || (json_only && !saw_colon) {
        return None;
    }
    let start = j;
    while j < bytes.len()
        && !matches!(
            bytes[j],
            b'"' | b'\'' | b'<' | b' ' | b'\t' | b'\r' | b'\n' | b',' | b';' | b'}' | b'&'
        )
    {
        j += 1;
    }
    (j > start).then_some((start, j))
}

/// Masks AWS secret keys, session tokens and keyed secrets in free text. Returns the text
/// unchanged (borrowed) when there is nothing to mask.
pub fn mask_text(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut ranges: Vec<(usize, usize)> = Vec::new();

    // Base64 runs that look like secret keys or session tokens.
    let mut i = 0;
    while i < bytes.len() {
        if !is_b64(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let (mut upper, mut lower, mut digit, mut plus) = (false, false, false, false);
        while i < bytes.len() && is_b64(bytes[i]) {
            let b = bytes[i];
            upper |= b.is_ascii_uppercase();
            lower |= b.is_ascii_lowercase();
            digit |= b.is_ascii_digit();
            plus |= b == b'+';
            i += 1;
        }
        let len = i - start;
        while i < bytes.len() && bytes[i] == b'=' && i - start - len < 2 {
            i += 1;
        }
        let mixed = upper && lower;
        let data_uri = bytes[..start].ends_with(b"base64,");
        if (len == 40 && mixed && (digit || plus)) || (len >= 100 && mixed && digit && !data_uri) {
            ranges.push((start, i));
        }
    }

    // Values after keys that name a secret: one pass, looking only where a key can start.
    for at in 0..bytes.len() {
        if !matches!(bytes[at], b's' | b'S' | b'"') {
            continue;
        }
        for (key, json_only) in SECRET_KEYS {
            let rest = &bytes[at..];
            if rest.len() >= key.len()
                && rest[..key.len()].eq_ignore_ascii_case(key.as_bytes())
                && let Some(range) = keyed_value(bytes, at + key.len(), json_only)
            {
                ranges.push(range);
            }
        }
    }

    if ranges.is_empty() {
        return Cow::Borrowed(text);
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in ranges {
        if end <= at {
            continue;
        }
        let start = start.max(at);
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn form_fields_named_like_secrets_are_masked() {
        let mut form = vec![
            ("username".to_owned(), "alice".to_owned()),
            ("password".to_owned(), "hunter2".to_owned()),
            ("newPassword".to_owned(), "x".to_owned()),
            ("client_secret".to_owned(), "s".to_owned()),
            ("csrf_token".to_owned(), "t".to_owned()),
            ("Credentials".to_owned(), "c".to_owned()),
            ("note".to_owned(), format!("my key is {SECRET}")),
        ];
        mask_form(&mut form);
        assert_eq!(form[0].1, "alice");
        for field in &form[1..6] {
            assert_eq!(field.1, MASK, "{}", field.0);
        }
        assert_eq!(form[6].1, format!("my key is {MASK}"));
    }

    #[test]
    fn secret_headers_are_masked() {
        let mut headers = vec![
            (
                "Authorization".to_owned(),
                "AWS4-HMAC-SHA256 Credential=AKIA...".to_owned(),
            ),
            ("x-amz-security-token".to_owned(), "FwoGZX".to_owned()),
            ("Cookie".to_owned(), "porteiro=abc".to_owned()),
            ("Content-Type".to_owned(), "text/html".to_owned()),
        ];
        mask_headers(&mut headers);
        assert_eq!(headers[0].1, MASK);
        assert_eq!(headers[1].1, MASK);
        assert_eq!(headers[2].1, MASK);
        assert_eq!(headers[3].1, "text/html");
    }

    #[test]
    fn query_parameters_named_like_secrets_are_masked() {
        assert_eq!(
            mask_query("Action=login&SigninToken=abc&Destination=%2Fconsole"),
            format!("Action=login&SigninToken={MASK}&Destination=%2Fconsole")
        );
        assert_eq!(
            mask_query("X-Amz-Credential=AKIA%2F2026&X-Amz-Signature=ff&x=1"),
            format!("X-Amz-Credential={MASK}&X-Amz-Signature={MASK}&x=1")
        );
        assert_eq!(mask_query("a=1&b"), "a=1&b");
    }

    #[test]
    fn secret_keys_and_session_tokens_in_bodies_are_masked() {
        let html = format!("<td>Secret</td><td><code>{SECRET}</code></td>");
        assert_eq!(
            mask_text(&html),
            format!("<td>Secret</td><td><code>{MASK}</code></td>")
        );

        let token = format!("FwoGZXIvYXdzEJr//////////wEaDM{}Zx9Q=", "a1B2c3D4".repeat(20));
        let xml = format!("<SessionToken>{token}</SessionToken>");
        assert_eq!(mask_text(&xml), format!("<SessionToken>{MASK}</SessionToken>"));

        let json = r#"{"SecretAccessKey": "short/secret", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE"}"#;
        assert_eq!(
            mask_text(json),
            format!(r#"{{"SecretAccessKey": "{MASK}", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE"}}"#)
        );
        let ini = "aws_secret_access_key = abc\naws_session_token=def\n";
        assert_eq!(
            mask_text(ini),
            format!("aws_secret_access_key = {MASK}\naws_session_token={MASK}\n")
        );
        let pw = r#"{"password": "hunter2", "user": "bob"}"#;
        assert_eq!(
            mask_text(pw),
            format!(r#"{{"password": "{MASK}", "user": "bob"}}"#)
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "<input type=\"password\" name=\"password\">",
            "commit 3f786850e387550fdab836ed7e6dc881de23001b",
            "/console/iam/users/alice/access-keys",
            "AKIAIOSFODNN7EXAMPLE",
            "<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\">",
        ] {
            assert!(matches!(mask_text(text), Cow::Borrowed(_)), "{text}");
        }
    }
}
