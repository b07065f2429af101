//! Byte-level encodings: lower-case hex, RFC 3986 percent-encoding, standard base64, and a
//! constant-time comparison. Hand-written because each is a few lines and the crate keeps
//! its dependency list to the hash functions.

use std::borrow::Cow;

const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends the lower-case hex form of `bytes` to `out`.
pub(crate) fn hex_into(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

/// The lower-case hex form of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    hex_into(&mut out, bytes);
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly 64 hex digits (either case) into 32 bytes.
pub(crate) fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some(out)
}

/// RFC 3986 unreserved characters: `A-Z a-z 0-9 - _ . ~`.
#[inline]
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Appends `bytes` percent-encoded (upper-case hex) to `out`, leaving unreserved characters
/// and, when `keep_slash`, `/` as they are.
pub(crate) fn percent_encode_into(out: &mut String, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
    }
}

/// Percent-encodes every byte of `s` except the RFC 3986 unreserved set (so `/` becomes
/// `%2F`): the encoding of query-string keys and values in a canonical request.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    percent_encode_into(&mut out, s.as_bytes(), false);
    out
}

/// Decodes `application/x-www-form-urlencoded` style: `%XX` escapes and `+` as space.
/// Invalid escapes are kept literally (as `form_urlencoded` does).
pub(crate) fn form_decode(s: &str) -> Cow<'_, [u8]> {
    decode(s, true)
}

fn decode(s: &str, plus_as_space: bool) -> Cow<'_, [u8]> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || (plus_as_space && c == b'+')) {
        return Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                match (
                    b.get(i + 1).copied().and_then(hex_val),
                    b.get(i + 2).copied().and_then(hex_val),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h << 4) | l);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Decodes a form-encoded string into text (lossy for invalid UTF-8, which no AWS
/// parameter contains).
pub(crate) fn form_decode_str(s: &str) -> Cow<'_, str> {
    bytes_to_str(s, form_decode(s))
}

/// Decodes `%XX` escapes only (`+` stays `+`), like Python's `unquote`.
pub(crate) fn percent_decode_str(s: &str) -> Cow<'_, str> {
    bytes_to_str(s, decode(s, false))
}

fn bytes_to_str<'a>(s: &'a str, decoded: Cow<'a, [u8]>) -> Cow<'a, str> {
    match decoded {
        Cow::Borrowed(_) => Cow::Borrowed(s),
        Cow::Owned(v) => match String::from_utf8(v) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
    }
}

/// The canonical form of one query-string key or value: decoded, then re-encoded with the
/// unreserved set. Borrows when the input is already canonical.
pub(crate) fn canonical_query_component(raw: &str) -> Cow<'_, str> {
    if raw.bytes().all(is_unreserved) {
        return Cow::Borrowed(raw);
    }
    let decoded = form_decode(raw);
    let mut out = String::with_capacity(decoded.len() + 8);
    percent_encode_into(&mut out, &decoded, false);
    Cow::Owned(out)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        out.push(char::from(B64[(n >> 18) as usize & 63]));
        out.push(char::from(B64[(n >> 12) as usize & 63]));
        out.push(if chunk.len() > 1 {
            char::from(B64[(n >> 6) as usize & 63])
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            char::from(B64[n as usize & 63])
        } else {
            '='
        });
    }
    out
}

/// Compares two byte strings in time independent of where they differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let h = hex(&bytes);
        assert_eq!(&h[..6], "000102");
        assert_eq!(decode_hex32(&h).map(|a| a.to_vec()), Some(bytes));
        assert_eq!(decode_hex32(&h.to_uppercase()).map(|a| a[31]), Some(31));
        assert_eq!(decode_hex32("zz"), None);
        assert_eq!(decode_hex32(&"g".repeat(64)), None);
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(uri_encode("a b/c~d_e.f-g+h=é"), "a%20b%2Fc~d_e.f-g%2Bh%3D%C3%A9");
        let mut s = String::new();
        percent_encode_into(&mut s, b"/a%20b/", true);
        assert_eq!(s, "/a%2520b/");
    }

    #[test]
    fn form_decoding() {
        assert_eq!(&*form_decode("a+b%2Fc%zz%4"), b"a b/c%zz%4");
        assert_eq!(&*form_decode("%41"), b"A");
        assert_eq!(&*form_decode("%"), b"%");
        assert_eq!(canonical_query_component("a+b%2fc"), "a%20b%2Fc");
        assert!(matches!(canonical_query_component("abc-~"), Cow::Borrowed(_)));
        assert_eq!(form_decode_str("x%2Fy"), "x/y");
        assert_eq!(percent_decode_str("a+b%2B"), "a+b+");
        assert_eq!(form_decode_str("%FF"), "\u{fffd}");
    }

    #[test]
    fn base64_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
