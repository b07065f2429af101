//! Replay: a text rendering for the command line, and the data of a web replay.
//!
//! Pure: events come from any reader; timing is relative to the first event.

use std::io::BufRead;

use serde::Serialize;

use crate::chain::decode;
use crate::event::{Event, EventKind};

/// How much of a page's visible text a text replay shows.
const SUMMARY_CHARS: usize = 160;

/// Reads the events of a log, stopping at the first line that is not a whole event (replay
/// shows what can be read; `verify` says whether it can be trusted).
pub fn read_events<R: BufRead>(mut reader: R) -> std::io::Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 || !line.ends_with(b"\n") {
            break;
        }
        match decode(&line) {
            Ok(event) => events.push(event),
            Err(_) => break,
        }
    }
    Ok(events)
}

/// `+MM:SS.mmm` (or `+H:MM:SS.mmm`) of an offset in milliseconds.
pub fn format_offset(ms: u64) -> String {
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    if h > 0 {
        format!("+{h}:{m:02}:{s:02}.{milli:03}")
    } else {
        format!("+{m:02}:{s:02}.{milli:03}")
    }
}

/// One line (or a few) of a text replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Milliseconds since the first event.
    pub offset_ms: u64,
    /// The event's seq.
    pub seq: u64,
    /// What to print.
    pub text: String,
}

/// The text replay of a session's events, in order.
pub fn text_replay(events: &[Event]) -> Vec<Step> {
    let t0 = events.first().map_or(0, |e| e.time);
    events
        .iter()
        .map(|e| Step {
            offset_ms: e.time.saturating_sub(t0),
            seq: e.seq,
            text: describe(e),
        })
        .collect()
}

fn describe(event: &Event) -> String {
    match &event.kind {
        EventKind::SessionStart(s) => {
            let mut text = format!(
                "session start: {} session of {} on account {}",
                s.session_kind, s.user, s.account
            );
            if let Some(p) = &s.principal {
                text.push_str(&format!(" as {p}"));
            }
            if let Some(ip) = &s.origin_ip {
                text.push_str(&format!(" from {ip}"));
            }
            text
        }
        EventKind::SessionEnd(end) => format!("session end: {}", end.reason),
        EventKind::ConsoleExchange(x) => {
            let mut text = format!("{} {}", x.method, x.path);
            if let Some(q) = &x.query {
                text.push('?');
                text.push_str(q);
            }
            text.push_str(&format!(" -> {} ({} ms)", x.status, x.duration_ms));
            if let Some(form) = &x.form {
                let fields: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
                text.push_str(&format!("\n    form: {}", fields.join(", ")));
            }
            if let Some(html) = &x.html {
                let page = summarize_html(&html.text);
                if let Some(title) = page.title {
                    text.push_str(&format!("\n    page: {title}"));
                }
                if !page.text.is_empty() {
                    text.push_str(&format!("\n    text: {}", page.text));
                }
                if html.truncated {
                    text.push_str(&format!(
                        "\n    (page truncated: {} bytes recorded of {})",
                        html.text.len(),
                        html.original_bytes
                    ));
                }
            }
            text
        }
        EventKind::ApiCall(c) => {
            let mut text = format!("api {}:{}", c.service, c.action);
            if let Some(r) = &c.resource {
                text.push_str(&format!(" on {r}"));
            }
            text.push_str(&format!(" -> {}", c.status));
            if let Some(code) = &c.error_code {
                text.push_str(&format!(" {code}"));
            }
            text.push_str(&format!(
                " ({} ms, {} B sent, {} B received",
                c.duration_ms, c.request_bytes, c.response_bytes
            ));
            if let Some(id) = &c.request_id {
                text.push_str(&format!(", request id {id}"));
            }
            text.push(')');
            text
        }
        EventKind::Note(n) => format!("note: {}", n.text),
    }
}

/// A page's title and the start of its visible text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSummary {
    /// The `<title>`, if any.
    pub title: Option<String>,
    /// The visible text (no tags, scripts or styles; whitespace collapsed), cut to 160
    /// characters.
    pub text: String,
}

/// Summarizes HTML for a text replay.
pub fn summarize_html(html: &str) -> PageSummary {
    let mut title = None;
    let mut text = String::new();
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    let mut in_title = false;
    let mut title_text = String::new();
    while i < html.len() {
        if html.as_bytes()[i] == b'<' {
            let Some(end) = lower[i..].find('>') else {
                break;
            };
            let tag = &lower[i + 1..i + end];
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            i += end + 1;
            match (tag.starts_with('/'), name.as_str()) {
                (false, "script" | "style") => {
                    let close = format!("</{name}");
                    match lower[i..].find(&close) {
                        Some(at) => i += at,
                        None => break,
                    }
                }
                (false, "title") => in_title = true,
                (true, "title") => {
                    in_title = false;
                    let t = collapse(&decode_entities(&title_text));
                    if !t.is_empty() && title.is_none() {
                        title = Some(t);
                    }
                }
                _ => text.push(' '),
            }
            continue;
        }
        let next = lower[i..].find('<').map_or(html.len(), |at| i + at);
        let chunk = &html[i..next];
        if in_title {
            title_text.push_str(chunk);
        } else {
            text.push_str(chunk);
        }
        i = next;
    }
    let mut text = collapse(&decode_entities(&text));
    if text.chars().count() > SUMMARY_CHARS {
        text = text.chars().take(SUMMARY_CHARS).collect::<String>() + "…";
    }
    PageSummary { title, text }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// One page of a web replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    /// Milliseconds since the first event.
    pub offset_ms: u64,
    /// The event's seq.
    pub seq: u64,
    /// The request's method.
    pub method: String,
    /// The request's path (and masked query).
    pub url: String,
    /// Response status.
    pub status: u16,
    /// The form posted with the request, if any (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<Vec<(String, String)>>,
    /// The page's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The HTML the person saw (masked, bounded).
    pub html: String,
}

/// The data of a web replay: the console pages in order, with their timing. API calls and
/// other events are left to the text replay.
pub fn web_replay(events: &[Event]) -> Vec<Frame> {
    let t0 = events.first().map_or(0, |e| e.time);
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ConsoleExchange(x) => x.html.as_ref().map(|html| Frame {
                offset_ms: e.time.saturating_sub(t0),
                seq: e.seq,
                method: x.method.clone(),
                url: match &x.query {
                    Some(q) => format!("{}?{q}", x.path),
                    None => x.path.clone(),
                },
                status: x.status,
                form: x.form.clone(),
                title: summarize_html(&html.text).title,
                html: html.text.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_summarized_as_title_and_visible_text() {
        let page = summarize_html(
            "<html><head><title>S3 &amp; buckets</title><style>p{color:red}</style>\
             <script>var x = '<b>';</script></head><body><h1>Buckets</h1><p>reports\n  logs</p></body></html>",
        );
        assert_eq!(page.title.as_deref(), Some("S3 & buckets"));
        assert_eq!(page.text, "Buckets reports logs");
    }

    #[test]
    fn offsets_are_formatted() {
        assert_eq!(format_offset(0), "+00:00.000");
        assert_eq!(format_offset(61_005), "+01:01.005");
        assert_eq!(format_offset(3_723_004), "+1:02:03.004");
    }
}
