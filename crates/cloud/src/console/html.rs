//! HTML for the console and its sign-in pages: escaping, the page frame, the static assets,
//! and responses with the console's security headers.
//!
//! Every value written into a page goes through [`esc`]. Pages load only `/console/static/…`
//! (no inline script or style), so the Content-Security-Policy can forbid everything else.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

/// The console's Content-Security-Policy: its own stylesheet and script, forms to itself.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters kept).
pub fn enc(text: &str) -> String {
    crate::iam::url_encode(text)
}

/// The top bar of a signed-in page.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// The principal ARN shown in the bar.
    pub arn: &'a str,
    /// The CSRF token for the sign-out form.
    pub csrf: &'a str,
    /// Seconds until the session ends.
    pub remaining: i64,
}

/// A complete page. `frame` is the signed-in bar (none on sign-in pages).
pub fn page(title: &str, frame: Option<&Frame<'_>>, body: &str) -> String {
    let bar = match frame {
        Some(f) => format!(
            r#"<nav aria-label="Services"><ul><li><a href="/console/">Home</a></li><li><a href="/console/iam/users">IAM users</a></li><li><a href="/console/iam/roles">IAM roles</a></li><li><a href="/console/s3">S3</a></li><li><a href="/console/kms">KMS</a></li></ul></nav>
<div class="who"><span class="arn">{arn}</span> <span class="ends">Session ends in <span id="countdown" data-remaining="{remaining}">{human}</span></span>
<form method="post" action="/console/logout" class="inline"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">Sign out</button></form></div>"#,
            arn = esc(f.arn),
            remaining = f.remaining.max(0),
            human = esc(&duration_text(f.remaining)),
            csrf = esc(f.csrf),
        ),
        None => String::new(),
    };
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Porteiro cloud console</title>
<link rel="stylesheet" href="/console/static/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><a class="brand" href="/console/">Porteiro cloud console</a>
{bar}
</header>
<main id="main">
<h1>{title}</h1>
{body}
</main>
<script src="/console/static/console.js"></script>
</body>
</html>
"##,
        title = esc(title),
    )
}

/// `1 h 02 min 03 s` for a number of seconds.
pub fn duration_text(seconds: i64) -> String {
    let s = seconds.max(0);
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h} h {m:02} min {sec:02} s")
    } else {
        format!("{m} min {sec:02} s")
    }
}

/// An alert box with an API error: its code and AWS's message.
pub fn error_box(code: &str, message: &str) -> String {
    format!(
        r#"<div class="error" role="alert"><strong>{}</strong>: <span class="message">{}</span></div>"#,
        esc(code),
        esc(message)
    )
}

/// A notice box.
pub fn notice(text: &str) -> String {
    format!(r#"<div class="notice" role="status">{}</div>"#, esc(text))
}

/// Adds the console's security headers to a response.
pub fn secure(mut resp: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // Sign-in tokens travel in URLs: never leak them to other sites. (Not `no-referrer`: with
    // it browsers send `Origin: null` on the console's own form posts, which the same-origin
    // check must refuse.)
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(hyper::header::CACHE_CONTROL) {
        h.insert(hyper::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// A response with a body and content type.
pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    resp
}

/// An HTML page response.
pub fn html(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    respond(status, "text/html; charset=utf-8", body)
}

/// A redirect (`302`/`303`) to a same-origin path.
pub fn redirect(status: StatusCode, location: &str) -> Response<Full<Bytes>> {
    let mut resp = respond(status, "text/plain; charset=utf-8", "");
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(hyper::header::LOCATION, v);
    }
    resp
}

/// The stylesheet.
pub const CSS: &str = r#"body{font-family:system-ui,sans-serif;margin:0;color:#16191f;background:#f8f8f8}
header{background:#232f3e;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header a{color:#fff}.brand{font-weight:bold;text-decoration:none}
nav ul{list-style:none;margin:0;padding:0;display:flex;gap:1rem}
.who{margin-left:auto;display:flex;gap:.75rem;align-items:center}.arn{font-family:monospace}
main{padding:1rem 2rem;max-width:72rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #d5dbdb;padding:.4rem;text-align:left}
.error{border:1px solid #d13212;background:#fde8e5;padding:.75rem;margin:1rem 0}
.notice{border:1px solid #1d8102;background:#e9f7e6;padding:.75rem;margin:1rem 0}
form.card{background:#fff;border:1px solid #d5dbdb;padding:1rem;max-width:28rem}
form.card label{display:block;margin-top:.75rem}form.card input{width:100%;box-sizing:border-box;padding:.3rem}
form.inline{display:inline}button{margin-top:.75rem;padding:.3rem .8rem}
a:focus,button:focus,input:focus{outline:3px solid #ff9900;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:bold}
pre{background:#fff;border:1px solid #d5dbdb;padding:.5rem;overflow:auto}
"#;

/// The script: the session countdown (reloads the page when the session ends, which then
/// shows the expiry page).
pub const JS: &str = r#""use strict";
(function () {
  var el = document.getElementById("countdown");
  if (!el) { return; }
  var left = parseInt(el.getAttribute("data-remaining"), 10);
  if (isNaN(left)) { return; }
  var end = Date.now() + left * 1000;
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var s = Math.max(0, Math.round((end - Date.now()) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    el.textContent = h > 0 ? h + " h " + pad(m) + " min " + pad(sec) + " s" : m + " min " + pad(sec) + " s";
    if (s === 0) { window.location.reload(); return; }
    window.setTimeout(tick, 1000);
  }
  tick();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        let p = page("<b>", None, "");
        assert!(p.contains("<title>&lt;b&gt; · Porteiro"));
        assert!(!p.contains("<b>"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration_text(3723), "1 h 02 min 03 s");
        assert_eq!(duration_text(59), "0 min 59 s");
        assert_eq!(duration_text(-5), "0 min 00 s");
    }
}
