//! The hash chain: line encoding and hashing.
//!
//! A line is the event's JSON (as [`serde_json`] writes it: one line, no raw newline) followed
//! by `\n`. Its hash is the SHA-256 of the JSON bytes without the newline, in lowercase hex. The
//! first event's `prev` is [`genesis`] of the session id.

use sha2::{Digest, Sha256};

use crate::error::RecordingError;
use crate::event::{Event, EventKind};

/// The domain-separation prefix of the genesis hash.
const GENESIS_PREFIX: &[u8] = b"porteiro-recording/1 session ";

/// The `prev` of a session's first event: SHA-256 of `porteiro-recording/1 session <id>`.
pub fn genesis(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(GENESIS_PREFIX);
    h.update(session_id.as_bytes());
    hex(&h.finalize())
}

/// The hash of one line (its bytes without the trailing newline).
pub fn line_hash(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    hex(&Sha256::digest(line))
}

/// Encodes an event as its line (JSON plus `\n`), appending to `out`.
pub fn encode_into(
    out: &mut Vec<u8>,
    seq: u64,
    time: u64,
    prev: &str,
    kind: &EventKind,
) -> Result<(), RecordingError> {
    // Borrowing mirror of `Event`, so that encoding does not clone the kind.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        seq: u64,
        time: u64,
        prev: &'a str,
        #[serde(flatten)]
        kind: &'a EventKind,
    }
    serde_json::to_writer(
        &mut *out,
        &Line {
            seq,
            time,
            prev,
            kind,
        },
    )?;
    out.push(b'\n');
    Ok(())
}

/// Decodes one line into an event.
pub fn decode(line: &[u8]) -> Result<Event, serde_json::Error> {
    serde_json::from_slice(line.strip_suffix(b"\n").unwrap_or(line))
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Parses lowercase or uppercase hex into exactly `N` bytes.
pub fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.trim();
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Note;

    #[test]
    fn genesis_depends_on_the_session_id() {
        assert_eq!(genesis("a").len(), 64);
        assert_ne!(genesis("a"), genesis("b"));
        assert_eq!(genesis("a"), genesis("a"));
    }

    #[test]
    fn lines_encode_decode_and_hash_without_the_newline() {
        let mut line = Vec::new();
        let kind = EventKind::Note(Note {
            text: "two\nlines".into(),
        });
        encode_into(&mut line, 0, 5, &genesis("s"), &kind).expect("encodes");
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(line_hash(&line), line_hash(&line[..line.len() - 1]));
        let event = decode(&line).expect("decodes");
        assert_eq!(event.kind, kind);
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(unhex::<4>("0001ABff"), Some(bytes));
        assert_eq!(unhex::<4>("0001ab"), None);
        assert_eq!(unhex::<2>("zz00"), None);
    }
}
