//! HTML building blocks: escaping, form controls that carry their errors, tables, dates,
//! responses with the security headers, and the static stylesheet and script.
//!
//! Every value written into a page goes through [`esc`]. Pages load only `/static/…` (no
//! inline script or style), so the Content-Security-Policy can forbid everything else.

use std::collections::BTreeMap;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

use crate::i18n::Lang;

/// The Content-Security-Policy of every page: only this origin, no inline code, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

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
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `2026-11-23 13:35:07 UTC` for epoch seconds.
pub fn datetime(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// A time for people: `<time datetime="2026-11-23T13:35:07Z">2026-11-23 13:35:07 UTC</time>`.
/// The page's script rewrites the text in the browser's time zone and the page's language;
/// without the script the UTC text stays.
pub fn time(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        r#"<time datetime="{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z">{}</time>"#,
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60,
        esc(&datetime(epoch))
    )
}

/// Epoch seconds for `YYYY-MM-DDTHH:MM` (a `datetime-local` value, read as UTC) or
/// `YYYY-MM-DD`.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min) = (t.next()??, t.next().unwrap_or(Some(0))?);
    let s = t.next().unwrap_or(Some(0))?;
    if !(0..24).contains(&h) || !(0..60).contains(&min) || !(0..60).contains(&s) {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400 + h * 3600 + min * 60 + s)
}

/// Epoch seconds for a `datetime-local` value the browser's script qualified with `tz`: the
/// browser's `Date.getTimezoneOffset()` at that time (minutes; UTC minus local, so São Paulo is
/// `180`). Without `tz` (no script) the value is read as UTC.
pub fn parse_local_datetime(text: &str, tz: &str) -> Option<i64> {
    let offset = match tz.trim() {
        "" => 0,
        t => t.parse::<i64>().ok().filter(|m| (-840..=840).contains(m))?,
    };
    parse_datetime(text).map(|t| t + offset * 60)
}

/// The hidden field the script fills with the browser's time-zone offset for the form's
/// `datetime-local` inputs.
pub const TZ_FIELD: &str = r#"<input type="hidden" name="tz" value="">"#;

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `1 h 02 min 03 s` for a number of seconds (the countdown's format; the script keeps it).
pub fn duration_text(seconds: i64) -> String {
    let s = seconds.max(0);
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h} h {m:02} min {sec:02} s")
    } else {
        format!("{m} min {sec:02} s")
    }
}

/// What went wrong with one form: messages for the form as a whole and for its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    /// Which form (or table row) the person acted on.
    pub form: String,
    /// Messages about the form as a whole (requirements, permissions, the cloud).
    pub general: Vec<String>,
    /// Messages per field name.
    pub fields: BTreeMap<String, Vec<String>>,
}

impl Problems {
    /// No problem with `form`.
    pub fn none() -> Problems {
        Problems::default()
    }

    /// Whether these are about `form`.
    pub fn about(&self, form: &str) -> bool {
        self.form == form
    }

    /// The general messages as an alert, when these are about `form`.
    pub fn alert(&self, form: &str) -> String {
        if !self.about(form) || self.general.is_empty() {
            return String::new();
        }
        let items: String = self
            .general
            .iter()
            .map(|m| format!("<li>{}</li>", esc(m)))
            .collect();
        format!(
            r#"<div class="error" role="alert" id="err-{f}" tabindex="-1"><ul>{items}</ul></div>"#,
            f = esc(form)
        )
    }

    fn field(&self, form: &str, name: &str) -> &[String] {
        if !self.about(form) {
            return &[];
        }
        self.fields.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A labelled control with its error beside it: `control` is the input's HTML without the
/// `id`, `name` and `aria-*` attributes, which this adds (`{attrs}` marks where).
fn labelled(form: &str, name: &str, label: &str, control: &str, p: &Problems, hint: Option<&str>) -> String {
    let id = format!("{form}-{name}");
    let errors = p.field(form, name);
    let mut described = Vec::new();
    let mut after = String::new();
    if let Some(h) = hint {
        described.push(format!("{id}-hint"));
        after.push_str(&format!(
            r#"<small id="{}-hint" class="hint">{}</small>"#,
            esc(&id),
            esc(h)
        ));
    }
    if !errors.is_empty() {
        described.push(format!("{id}-error"));
        let msgs: Vec<String> = errors.iter().map(|m| esc(m)).collect();
        after.push_str(&format!(
            r#"<span id="{}-error" class="field-error" role="alert">{}</span>"#,
            esc(&id),
            msgs.join(" ")
        ));
    }
    let mut attrs = format!(r#"id="{}" name="{}""#, esc(&id), esc(name));
    if !described.is_empty() {
        attrs.push_str(&format!(r#" aria-describedby="{}""#, esc(&described.join(" "))));
    }
    if !errors.is_empty() {
        attrs.push_str(r#" aria-invalid="true""#);
    }
    format!(
        r#"<div class="field{cls}"><label for="{id}">{label}</label>{control}{after}</div>"#,
        cls = if errors.is_empty() { "" } else { " invalid" },
        id = esc(&id),
        label = esc(label),
        control = control.replace("{attrs}", &attrs),
    )
}

/// A text-like input (`kind`: text, email, password, number, datetime-local…).
pub fn input(
    form: &str,
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    p: &Problems,
    extra: &str,
) -> String {
    let value_attr = if kind == "password" {
        String::new()
    } else {
        format!(r#" value="{}""#, esc(value))
    };
    labelled(
        form,
        name,
        label,
        &format!(r#"<input type="{}" {{attrs}}{value_attr} {extra}>"#, esc(kind)),
        p,
        None,
    )
}

/// An input with a hint under it.
#[allow(clippy::too_many_arguments)]
pub fn input_hint(
    form: &str,
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    p: &Problems,
    extra: &str,
    hint: &str,
) -> String {
    labelled(
        form,
        name,
        label,
        &format!(
            r#"<input type="{}" {{attrs}} value="{}" {extra}>"#,
            esc(kind),
            esc(value)
        ),
        p,
        Some(hint),
    )
}

/// A multi-line text input.
pub fn textarea(form: &str, name: &str, label: &str, value: &str, p: &Problems) -> String {
    labelled(
        form,
        name,
        label,
        &format!(r#"<textarea {{attrs}} rows="3">{}</textarea>"#, esc(value)),
        p,
        None,
    )
}

/// A select: `options` are (value, text).
pub fn select(
    form: &str,
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
    p: &Problems,
    extra: &str,
) -> String {
    let opts: String = options
        .iter()
        .map(|(v, t)| {
            format!(
                r#"<option value="{}"{}>{}</option>"#,
                esc(v),
                if v == selected { " selected" } else { "" },
                esc(t)
            )
        })
        .collect();
    labelled(
        form,
        name,
        label,
        &format!(r#"<select {{attrs}} {extra}>{opts}</select>"#),
        p,
        None,
    )
}

/// A group of choices (radio buttons or checkboxes) in a fieldset with its legend and error.
#[allow(clippy::too_many_arguments)]
fn choices(
    form: &str,
    name: &str,
    legend: &str,
    kind: &str,
    options: &[(String, String)],
    checked: &[String],
    p: &Problems,
) -> String {
    let errors = p.field(form, name);
    let base = format!("{form}-{name}");
    let items: String = options
        .iter()
        .enumerate()
        .map(|(i, (v, t))| {
            format!(
                r#"<label class="choice" for="{id}"><input type="{kind}" id="{id}" name="{n}" value="{v}"{c}> {t}</label>"#,
                id = esc(&format!("{base}-{i}")),
                n = esc(name),
                v = esc(v),
                c = if checked.iter().any(|c| c == v) { " checked" } else { "" },
                t = esc(t),
            )
        })
        .collect();
    let error = if errors.is_empty() {
        String::new()
    } else {
        let msgs: Vec<String> = errors.iter().map(|m| esc(m)).collect();
        format!(
            r#"<span id="{}-error" class="field-error" role="alert">{}</span>"#,
            esc(&base),
            msgs.join(" ")
        )
    };
    format!(
        r#"<fieldset class="field{cls}" id="{id}"{desc}><legend>{legend}</legend>{items}{error}</fieldset>"#,
        cls = if errors.is_empty() { "" } else { " invalid" },
        id = esc(&base),
        desc = if errors.is_empty() {
            String::new()
        } else {
            format!(r#" aria-describedby="{}-error""#, esc(&base))
        },
        legend = esc(legend),
    )
}

/// Yes/No radio buttons (`yes`/`no` values).
pub fn yes_no(form: &str, name: &str, legend: &str, value: bool, lang: Lang, p: &Problems) -> String {
    choices(
        form,
        name,
        legend,
        "radio",
        &[
            ("yes".to_string(), lang.t("yes").to_string()),
            ("no".to_string(), lang.t("no").to_string()),
        ],
        &[if value { "yes" } else { "no" }.to_string()],
        p,
    )
}

/// Checkboxes: `options` are (value, text).
pub fn checkboxes(
    form: &str,
    name: &str,
    legend: &str,
    options: &[(String, String)],
    checked: &[String],
    p: &Problems,
) -> String {
    choices(form, name, legend, "checkbox", options, checked, p)
}

/// The hidden CSRF field of every form.
pub fn csrf_field(token: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(token))
}

/// A one-button form posting to `action` (a row action such as Start session or Delete).
pub fn button_form(action: &str, csrf: &str, label: &str, class: &str, hidden: &[(&str, &str)]) -> String {
    let fields: String = hidden
        .iter()
        .map(|(n, v)| format!(r#"<input type="hidden" name="{}" value="{}">"#, esc(n), esc(v)))
        .collect();
    format!(
        r#"<form method="post" action="{}" class="inline">{}{fields}<button type="submit" class="{}">{}</button></form>"#,
        esc(action),
        csrf_field(csrf),
        esc(class),
        esc(label)
    )
}

/// A table: `headers` are already-escaped-free texts, `rows` are cells of HTML.
pub fn table(caption: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    if rows.is_empty() {
        return format!(r#"<p class="empty">{}</p>"#, esc(empty));
    }
    let head: String = headers
        .iter()
        .map(|h| format!(r#"<th scope="col">{}</th>"#, esc(h)))
        .collect();
    let body: String = rows
        .iter()
        .map(|r| {
            let cells: String = r.iter().map(|c| format!("<td>{c}</td>")).collect();
            format!("<tr>{cells}</tr>")
        })
        .collect();
    format!(
        r#"<table><caption>{}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"#,
        esc(caption)
    )
}

/// Adds the security headers to a response.
pub fn secure(mut resp: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
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
    secure(resp)
}

/// A `303 See Other` to a same-origin path.
pub fn redirect(location: &str) -> Response<Full<Bytes>> {
    let mut resp = respond(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
    let location = if is_local_path(location) { location } else { "/" };
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(hyper::header::LOCATION, v);
    }
    resp
}

/// Whether `path` is a path on this site (not `//host`, not a scheme, no backslash).
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && !path.contains("://")
}

/// The stylesheet.
pub const CSS: &str = r#"*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f4f6f8;line-height:1.4}
header.top{background:#12263a;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header.top a,header.top button.link{color:#fff}
.brand{font-weight:bold;text-decoration:none;font-size:1.1rem}
.who{margin-left:auto;display:flex;gap:.75rem;align-items:center}
.layout{display:flex;min-height:calc(100vh - 3rem)}
nav.side{background:#fff;border-right:1px solid #d0d7de;padding:1rem;min-width:15rem}
nav.side ul{list-style:none;margin:0;padding-left:.75rem}nav.side>ul{padding-left:0}
nav.side li{margin:.2rem 0}nav.side .group{font-weight:bold;margin-top:.6rem;display:block}
nav.side a[aria-current=page]{font-weight:bold;text-decoration:underline}
main{padding:1rem 2rem;flex:1;max-width:80rem;min-width:0;overflow-x:auto}
.crumbs{color:#57606a;font-size:.9rem}
table{border-collapse:collapse;width:100%;background:#fff;margin:.5rem 0 1rem}
caption{text-align:left;font-weight:bold;padding:.3rem 0}
th,td{border:1px solid #d0d7de;padding:.4rem;text-align:left;vertical-align:top}
.error{border:1px solid #cf222e;background:#ffebe9;padding:.5rem .75rem;margin:.5rem 0}
.error ul{margin:0;padding-left:1.2rem}
.field-error{display:block;color:#a40e26;font-size:.9rem;margin-top:.2rem}
.notice{border:1px solid #1a7f37;background:#dafbe1;padding:.5rem .75rem;margin:.5rem 0}
.warn{border:1px solid #9a6700;background:#fff8c5;padding:.5rem .75rem;margin:.5rem 0}
form.card,section.card{background:#fff;border:1px solid #d0d7de;padding:1rem;margin:1rem 0;max-width:44rem}
.field{margin:.6rem 0;border:0;padding:0}.field label,.field legend{display:block;font-weight:600}
.field input[type=text],.field input[type=email],.field input[type=password],.field input[type=number],.field input[type=datetime-local],.field select,.field textarea{width:100%;padding:.35rem;border:1px solid #8c959f;border-radius:3px}
.field.invalid input,.field.invalid select{border-color:#cf222e}
label.choice{display:inline-block;font-weight:normal;margin-right:1rem}
.hint{display:block;color:#57606a}
form.inline{display:inline}button,a.button{padding:.35rem .9rem;cursor:pointer;display:inline-block}
a.button{border:1px solid #1f6feb;border-radius:3px;text-decoration:none;color:#1f6feb;background:#fff}
a.button.primary{background:#1f6feb;color:#fff}
button.primary{background:#1f6feb;color:#fff;border:1px solid #1f6feb;border-radius:3px}
button.danger{background:#fff;color:#cf222e;border:1px solid #cf222e;border-radius:3px}
button.link{background:none;border:0;text-decoration:underline;padding:0}
a:focus,button:focus,input:focus,select:focus,textarea:focus,summary:focus,[role=tab]:focus{outline:3px solid #f0883e;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem;z-index:2}
[role=tablist]{display:flex;gap:.25rem;border-bottom:1px solid #d0d7de;margin-top:1rem}
[role=tab]{border:1px solid #d0d7de;border-bottom:0;background:#eaeef2;padding:.35rem .9rem}
[role=tab][aria-selected=true]{background:#fff;font-weight:bold}
[role=tabpanel]{border:1px solid #d0d7de;border-top:0;padding:.5rem 1rem;background:#fff}
details.menu{display:inline-block;position:relative}
details.menu summary{list-style:none;cursor:pointer;border:1px solid #8c959f;border-radius:3px;padding:.1rem .6rem;font-size:1.2rem}
details.menu summary::-webkit-details-marker{display:none}
details.menu ul{position:absolute;right:0;background:#fff;border:1px solid #d0d7de;list-style:none;margin:.2rem 0;padding:.3rem;min-width:8rem;z-index:1}
.toolbar{display:flex;justify-content:space-between;align-items:center}
.countdown{font-variant-numeric:tabular-nums;font-weight:bold}
pre,code{font-family:ui-monospace,monospace}pre{background:#fff;border:1px solid #d0d7de;padding:.5rem;overflow:auto}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:bold}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}.filters .field{min-width:10rem}
.status-active{color:#1a7f37;font-weight:bold}.status-ended{color:#57606a}
"#;

/// The script: countdowns, the session status poll, keyboard tabs, and select elements that
/// submit their form.
pub const JS: &str = r#""use strict";
(function () {
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function fmt(s) {
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return h > 0 ? h + " h " + pad(m) + " min " + pad(sec) + " s" : m + " min " + pad(sec) + " s";
  }
  // Countdowns: <span data-remaining="SECONDS" data-reload-at-end>.
  Array.prototype.forEach.call(document.querySelectorAll("[data-remaining]"), function (el) {
    var left = parseInt(el.getAttribute("data-remaining"), 10);
    if (isNaN(left)) { return; }
    var end = Date.now() + left * 1000;
    var reload = el.hasAttribute("data-reload-at-end");
    function tick() {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      el.textContent = fmt(s);
      if (s === 0) { if (reload) { window.setTimeout(function () { window.location.reload(); }, 1500); } return; }
      window.setTimeout(tick, 1000);
    }
    tick();
  });
  // <time datetime="…Z">: the UTC text becomes the browser's local time, in the page's
  // language (with the time zone's name, so that nobody mistakes it for UTC).
  var lang = document.documentElement.getAttribute("lang") || "en";
  var local = null;
  try {
    local = new Intl.DateTimeFormat(lang, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short"
    });
  } catch (e) { local = null; }
  if (local) {
    Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      el.setAttribute("title", el.textContent);
      el.textContent = local.format(when);
    });
  }
  // Forms with datetime-local inputs: the browser's time-zone offset at the chosen time goes
  // with them (the hidden "tz" field), so the server reads the value as local time.
  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    var tz = form.querySelector("input[name=tz]");
    var when = form.querySelector("input[type=datetime-local]");
    if (!tz || !when) { return; }
    form.addEventListener("submit", function () {
      var at = when.value ? new Date(when.value) : new Date();
      tz.value = isNaN(at.getTime()) ? "" : String(at.getTimezoneOffset());
    });
  });
  // A session page polls its status and reloads when the session has ended (dropped).
  var poll = document.querySelector("[data-status-url]");
  if (poll) {
    var url = poll.getAttribute("data-status-url");
    var check = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          // Signed out meanwhile (idle time): the reload shows the sign-in page.
          if (r.redirected || !r.ok) { window.location.reload(); return null; }
          return r.json();
        })
        .then(function (j) {
          if (j === null) { return; }
          if (j && j.status && j.status !== "active") { window.location.reload(); return; }
          window.setTimeout(check, 2000);
        })
        .catch(function () { window.setTimeout(check, 5000); });
    };
    window.setTimeout(check, 2000);
  }
  // <p data-refresh="SECONDS">: a live view reloads itself.
  var refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    var every = parseInt(refresh.getAttribute("data-refresh"), 10);
    if (every > 0) { window.setTimeout(function () { window.location.reload(); }, every * 1000); }
  }
  // Tabs (WAI-ARIA): click, Left/Right/Home/End.
  Array.prototype.forEach.call(document.querySelectorAll("[role=tablist]"), function (list) {
    var tabs = Array.prototype.slice.call(list.querySelectorAll("[role=tab]"));
    function select(tab, focus) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.tabIndex = on ? 0 : -1;
        var panel = document.getElementById(t.getAttribute("aria-controls"));
        if (panel) { panel.hidden = !on; }
      });
      if (focus) { tab.focus(); }
    }
    tabs.forEach(function (t, i) {
      t.addEventListener("click", function (e) { e.preventDefault(); select(t, true); });
      t.addEventListener("keydown", function (e) {
        var n = null;
        if (e.key === "ArrowRight") { n = tabs[(i + 1) % tabs.length]; }
        else if (e.key === "ArrowLeft") { n = tabs[(i - 1 + tabs.length) % tabs.length]; }
        else if (e.key === "Home") { n = tabs[0]; }
        else if (e.key === "End") { n = tabs[tabs.length - 1]; }
        if (n) { e.preventDefault(); select(n, true); }
      });
    });
    var first = tabs.filter(function (t) { return t.getAttribute("aria-selected") === "true"; })[0] || tabs[0];
    if (first) { select(first, false); }
  });
  // <select data-autosubmit> submits its (GET) form when changed.
  Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), function (s) {
    s.addEventListener("change", function () { if (s.form) { s.form.submit(); } });
  });
  // After a failed form the focus goes to the first field in error (its message is beside it
  // and named by aria-describedby), else to the form's alert.
  var bad = document.querySelector("[aria-invalid=true], fieldset.invalid input");
  var err = document.querySelector(".error[tabindex]");
  if (bad) { bad.focus(); } else if (err) { err.focus(); }
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
        assert_eq!(enc("a b/ç"), "a%20b%2F%C3%A7");
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(datetime(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(datetime(1_795_441_207), "2026-11-23 13:40:07 UTC");
        assert_eq!(
            time(1_795_441_207),
            r#"<time datetime="2026-11-23T13:40:07Z">2026-11-23 13:40:07 UTC</time>"#
        );
        assert_eq!(parse_datetime("2026-11-23T13:40"), Some(1_795_441_200));
        assert_eq!(parse_datetime("2026-11-23"), Some(1_795_392_000));
        assert_eq!(parse_datetime("2026-13-01"), None);
        assert_eq!(parse_datetime("yesterday"), None);
        // 10:40 in São Paulo (UTC−3) is 13:40 UTC.
        assert_eq!(
            parse_local_datetime("2026-11-23T10:40", "180"),
            Some(1_795_441_200)
        );
        assert_eq!(parse_local_datetime("2026-11-23T13:40", ""), Some(1_795_441_200));
        assert_eq!(
            parse_local_datetime("2026-11-23T14:40", "-60"),
            Some(1_795_441_200)
        );
        assert_eq!(parse_local_datetime("2026-11-23T13:40", "9999"), None);
        assert_eq!(parse_local_datetime("2026-11-23T13:40", "east"), None);
        assert_eq!(duration_text(3723), "1 h 02 min 03 s");
        assert_eq!(duration_text(-1), "0 min 00 s");
    }

    #[test]
    fn controls_carry_their_errors_and_labels() {
        let mut p = Problems {
            form: "jit".into(),
            ..Problems::default()
        };
        p.fields
            .insert("duration".into(), vec!["899 is below the minimum <900>".into()]);
        let html = input("jit", "duration", "Duration", "number", "899", &p, "");
        assert!(
            html.contains(r#"<label for="jit-duration">Duration</label>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"aria-describedby="jit-duration-error""#),
            "{html}"
        );
        assert!(html.contains(r#"aria-invalid="true""#), "{html}");
        assert!(html.contains("below the minimum &lt;900&gt;"), "{html}");
        // The same problems say nothing on another form.
        let other = input("user", "duration", "Duration", "number", "1", &p, "");
        assert!(!other.contains("field-error"), "{other}");
        // Passwords are never written back into a page.
        let pw = input("jit", "password", "Password", "password", "hunter2", &p, "");
        assert!(!pw.contains("hunter2"), "{pw}");
    }

    #[test]
    fn redirects_stay_on_this_site() {
        assert!(is_local_path("/remote/jit"));
        assert!(!is_local_path("//evil.example/"));
        assert!(!is_local_path("https://evil.example/"));
        assert!(!is_local_path("/\\evil.example"));
        let r = redirect("//evil.example/");
        assert_eq!(r.headers()[hyper::header::LOCATION], "/");
        assert_eq!(r.headers()["content-security-policy"], CSP);
    }
}
