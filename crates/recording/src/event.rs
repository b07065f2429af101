//! The event schema: what one line of a recording holds.
//!
//! Every event is written as one JSON object on one line: `seq`, `time`, `prev`, `kind` and the
//! kind's fields. Before an event is written, [`EventKind::sanitize`] masks secrets (see
//! [`crate::mask`]) and bounds the HTML it holds.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::RecordingError;
use crate::mask;

/// The most HTML kept per console event: 2 MiB. Longer pages are cut and marked truncated.
pub const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;

/// A validated session id, used as the recording's name (and directory name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// Checks that `id` can name a recording: 1 to 128 ASCII letters, digits, `-`, `_` or `.`,
    /// not starting with `.`.
    pub fn new(id: &str) -> Result<Self, RecordingError> {
        let why = if id.is_empty() {
            Some("it is empty")
        } else if id.len() > 128 {
            Some("it is longer than 128 characters")
        } else if id.starts_with('.') {
            Some("it starts with '.'")
        } else if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            Some("it holds a character other than a letter, digit, '-', '_' or '.'")
        } else {
            None
        };
        match why {
            Some(why) => Err(RecordingError::InvalidSessionId {
                id: id.to_owned(),
                why,
            }),
            None => Ok(SessionId(id.to_owned())),
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One event as written on its line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log, from 0, without gaps.
    pub seq: u64,
    /// When it happened, in milliseconds since the Unix epoch (given by the caller).
    pub time: u64,
    /// SHA-256 (lowercase hex) of the previous line; for the first event, of the session id
    /// (see [`crate::chain::genesis`]).
    pub prev: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What an event records; written as `"kind": "<name>"` beside the variant's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum EventKind {
    /// The session started (always the first event).
    SessionStart(SessionStart),
    /// The session ended (the last event of a completed recording).
    SessionEnd(SessionEnd),
    /// One HTTP exchange of a console session.
    ConsoleExchange(ConsoleExchange),
    /// One AWS API call made through the gateway.
    ApiCall(ApiCall),
    /// A free-text note (an admin's remark, a gateway notice).
    Note(Note),
}

impl EventKind {
    /// The kind's name as written in the `kind` field.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SessionStart(_) => "sessionStart",
            EventKind::SessionEnd(_) => "sessionEnd",
            EventKind::ConsoleExchange(_) => "consoleExchange",
            EventKind::ApiCall(_) => "apiCall",
            EventKind::Note(_) => "note",
        }
    }

    /// Masks secrets and bounds the HTML. The writer calls this on every event before it is
    /// written, so nothing unmasked reaches storage.
    pub fn sanitize(&mut self) {
        match self {
            EventKind::SessionStart(start) => {
                if let Some(d) = start.description.as_mut() {
                    mask_in_place(d);
                }
            }
            EventKind::SessionEnd(end) => mask_in_place(&mut end.reason),
            EventKind::ConsoleExchange(x) => {
                mask::mask_headers(&mut x.request_headers);
                mask::mask_headers(&mut x.response_headers);
                if let Some(q) = x.query.as_mut() {
                    *q = mask::mask_query(q);
                }
                mask_in_place(&mut x.path);
                if let Some(form) = x.form.as_mut() {
                    mask::mask_form(form);
                }
                if let Some(html) = x.html.as_mut() {
                    html.sanitize();
                }
            }
            EventKind::ApiCall(call) => {
                if let Some(r) = call.resource.as_mut() {
                    mask_in_place(r);
                }
            }
            EventKind::Note(note) => mask_in_place(&mut note.text),
        }
    }
}

fn mask_in_place(s: &mut String) {
    if let std::borrow::Cow::Owned(masked) = mask::mask_text(s) {
        *s = masked;
    }
}

/// The session's start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStart {
    /// `console` or `jit` (or another kind the gateway adds).
    pub session_kind: String,
    /// The platform user who opened the session.
    pub user: String,
    /// The cloud account (id or name).
    pub account: String,
    /// The cloud principal used (IAM user or role ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The person's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_ip: Option<String>,
    /// Free text (the reason given, an approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The session's end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnd {
    /// Why it ended: `logout`, `expired`, `dropped by admin@example.com`, ...
    pub reason: String,
}

/// One HTTP exchange between the person's browser and the console, through the gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleExchange {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Query string without `?` (secret parameters masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Response status.
    pub status: u16,
    /// Time from request to response, in milliseconds.
    pub duration_ms: u64,
    /// The request headers kept (a subset chosen by the gateway; secrets masked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_headers: Vec<(String, String)>,
    /// The response headers kept (secrets masked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers: Vec<(String, String)>,
    /// A form post's fields, in order (secret fields masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<Vec<(String, String)>>,
    /// The HTML the person saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Html>,
}

/// An HTML page as recorded: bounded to [`MAX_HTML_BYTES`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Html {
    /// The page (possibly cut at [`MAX_HTML_BYTES`], at a character boundary).
    pub text: String,
    /// Whether the page was cut.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The page's length in bytes before it was cut.
    pub original_bytes: u64,
}

impl Html {
    /// Wraps a page; [`EventKind::sanitize`] masks and bounds it before it is written.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        Html {
            original_bytes: text.len() as u64,
            text,
            truncated: false,
        }
    }

    /// Masks secrets, then cuts the page to [`MAX_HTML_BYTES`].
    fn sanitize(&mut self) {
        // Bound the work first (with a margin so that a secret straddling the cut is still
        // recognised), mask, then cut to the limit.
        if self.text.len() > MAX_HTML_BYTES + 4096 {
            cut_at_char_boundary(&mut self.text, MAX_HTML_BYTES + 4096);
            self.truncated = true;
        }
        mask_in_place(&mut self.text);
        if self.text.len() > MAX_HTML_BYTES {
            cut_at_char_boundary(&mut self.text, MAX_HTML_BYTES);
            self.truncated = true;
        }
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn cut_at_char_boundary(s: &mut String, max: usize) {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

/// One AWS API call made with a session's credentials through the gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiCall {
    /// Service (`s3`, `iam`, `sts`, ...).
    pub service: String,
    /// Action (`ListBuckets`, `GetObject`, ...).
    pub action: String,
    /// The resource acted on, when known (an ARN, a bucket/key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Response status.
    pub status: u16,
    /// The AWS error code, when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Time from request to response, in milliseconds.
    pub duration_ms: u64,
    /// The cloud's request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Request body size in bytes.
    pub request_bytes: u64,
    /// Response body size in bytes.
    pub response_bytes: u64,
}

/// A free-text note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    /// The text (secrets masked).
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_checked() {
        assert!(SessionId::new("s-2026_11.23").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(129)] {
            assert!(SessionId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn html_is_bounded_with_a_marker() {
        let mut kind = EventKind::ConsoleExchange(ConsoleExchange {
            html: Some(Html::new("é".repeat(MAX_HTML_BYTES))),
            ..ConsoleExchange::default()
        });
        kind.sanitize();
        let EventKind::ConsoleExchange(x) = kind else {
            panic!("kind changed")
        };
        let html = x.html.expect("html kept");
        assert!(html.truncated);
        assert!(html.text.len() <= MAX_HTML_BYTES);
        assert_eq!(html.original_bytes, 2 * MAX_HTML_BYTES as u64);
    }

    #[test]
    fn events_round_trip_as_flat_json() {
        let event = Event {
            seq: 3,
            time: 1_700_000_000_123,
            prev: "ab".into(),
            kind: EventKind::ApiCall(ApiCall {
                service: "s3".into(),
                action: "ListBuckets".into(),
                status: 200,
                ..ApiCall::default()
            }),
        };
        let json = serde_json::to_string(&event).expect("encodes");
        assert!(json.starts_with(r#"{"seq":3,"time":1700000000123,"prev":"ab","kind":"apiCall","#));
        let back: Event = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back, event);
    }
}
