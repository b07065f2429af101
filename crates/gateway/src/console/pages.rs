//! Porteiro's own pages on the console path: the launch page, "You have been disconnected",
//! the hand-over to AWS's console, and errors. Plain HTML, no script, a strict
//! Content-Security-Policy.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

/// The Content-Security-Policy of Porteiro's pages (one inline style element, nothing else).
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:46rem;color:#16191f;padding:0 1rem}\
.box{border:1px solid #d5dbdb;padding:1rem 1.5rem;background:#fff}\
.cut{border-color:#d13212;background:#fde8e5}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:bold}";

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page. `head` is extra markup for `<head>` (a refresh).
pub fn page(title: &str, head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title} · Porteiro</title>\n{head}<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        title = esc(title),
    )
}

/// An HTML response with Porteiro's security headers.
pub fn respond(status: StatusCode, html: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(html)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(h);
    resp
}

/// The security headers of every response on the console path.
pub fn secure(h: &mut hyper::HeaderMap) {
    h.insert(hyper::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key("content-security-policy") {
        h.insert("content-security-policy", HeaderValue::from_static(CSP));
    }
}

/// A redirect to a path of Porteiro.
pub fn redirect(status: StatusCode, location: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(hyper::header::LOCATION, v);
    }
    secure(resp.headers_mut());
    resp
}

/// "You have been disconnected": the session, why, and when.
pub fn disconnected(session_id: &str, reason: &str, at_seconds: i64) -> Response<Full<Bytes>> {
    let body = format!(
        r#"<div class="box cut" role="alert"><p><strong>You have been disconnected.</strong> This console session has ended and Porteiro no longer forwards it; the cloud console session was signed out.</p>
<dl><dt>Session</dt><dd><code>{id}</code></dd><dt>Reason</dt><dd>{reason}</dd><dt>Time</dt><dd>{time}</dd></dl></div>
<p>Start a new session from Porteiro to continue.</p>"#,
        id = esc(session_id),
        reason = esc(reason),
        time = esc(&utc(at_seconds)),
    );
    respond(StatusCode::GONE, page("You have been disconnected", "", &body))
}

/// The page a launch URL answers: it sets the session cookie and goes on to the console (a
/// refresh, not a redirect, so that the `SameSite=Strict` cookie is sent with the next
/// request even when the launch link was opened from another site).
pub fn launching(next: &str) -> Response<Full<Bytes>> {
    let head = format!("<meta http-equiv=\"refresh\" content=\"0;url={}\">\n", esc(next));
    let body = format!(
        r#"<p>Opening the console… <a href="{}">Continue</a></p>"#,
        esc(next)
    );
    respond(StatusCode::OK, page("Opening the console", &head, &body))
}

/// The hand-over page for a console on real AWS: what Porteiro records and what it cannot.
pub fn aws_handover(session_id: &str, next: &str, expires_at: i64) -> Response<Full<Bytes>> {
    let head = format!("<meta http-equiv=\"refresh\" content=\"5;url={}\">\n", esc(next));
    let body = format!(
        r#"<div class="box" role="status"><p>This account is on AWS: its console opens on AWS's own site, signed in with this session's temporary credentials through AWS's federation endpoint.</p>
<p><strong>What is recorded:</strong> the session's start and end, and every API call made through Porteiro's API gateway.</p>
<p><strong>What is not captured:</strong> the pages you see and the actions you take in AWS's console — they do not pass through Porteiro (AWS CloudTrail logs the API calls the console makes). At the session's end (<span>{end}</span>) or a drop, Porteiro revokes the session's credentials in AWS, which stops the console's requests.</p>
<dl><dt>Session</dt><dd><code>{id}</code></dd></dl></div>
<p><a href="{next}">Continue to the AWS console</a> (in 5 seconds).</p>"#,
        id = esc(session_id),
        end = esc(&utc(expires_at)),
        next = esc(next),
    );
    respond(StatusCode::OK, page("Opening the AWS console", &head, &body))
}

/// The page after the person signs out of the cloud console.
pub fn signed_out(session_id: &str, again: &str, expires_at: i64) -> String {
    let body = format!(
        r#"<div class="box" role="status"><p>You signed out of the cloud console. The Porteiro session <code>{id}</code> stays active until {end}.</p></div>
<p><a href="{again}">Open the console again</a></p>"#,
        id = esc(session_id),
        end = esc(&utc(expires_at)),
        again = esc(again),
    );
    page("Signed out", "", &body)
}

/// An error page: what is wrong and what to do.
pub fn error(status: StatusCode, title: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        r#"<div class="box cut" role="alert"><p>{}</p></div>"#,
        esc(message)
    );
    respond(status, page(title, "", &body))
}

/// `2026-11-23 14:05:09 UTC` for epoch seconds.
pub fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06:40 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
    }

    #[tokio::test]
    async fn the_disconnected_page_says_session_reason_and_time() {
        let resp = disconnected("ps-1", "dropped by <admin>", 1_795_000_000);
        assert_eq!(resp.status(), StatusCode::GONE);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("You have been disconnected"));
        assert!(text.contains("ps-1"));
        assert!(text.contains("dropped by &lt;admin&gt;"));
        assert!(text.contains("2026-11-18 11:06:40 UTC"));
    }
}
