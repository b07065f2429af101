//! Sign-in sessions of the web UI and CSRF protection.
//!
//! Signing in calls the manager's `login` (the same Argon2id check, audit and token as the
//! API). The browser gets only a random cookie value (`porteiro_session`: HttpOnly,
//! SameSite=Strict, Secure behind TLS); the web keeps, under the value's SHA-256, the
//! manager's token, a CSRF token, and the idle and absolute deadlines — in memory for speed,
//! and in the manager's store (`runtime_state`, kind `web.session`, the token and the CSRF
//! token sealed with the vault), so that a restarted Porteiro, or a second one over the same
//! PostgreSQL database, keeps every browser signed in. The store's copy of the last activity
//! is refreshed at most every [`SEEN_WRITE_SECONDS`] (a page view does not wait for a write
//! each time): after a restart the idle deadline may come that much earlier, never later.
//! Every POST must carry
//! the CSRF token (constant-time comparison) and, when the browser sends one, an `Origin` of
//! this host. The sign-in form itself is protected by a double-submit cookie.

// The "errors" here are the responses to send instead (a redirect to sign-in, a 403 page):
// one per request, never propagated further.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use porteiro_manager::model::Sealed;
use porteiro_manager::vault::{Secret, random_bytes};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::form::{Form, cookie};
use crate::html::{self, Problems, csrf_field, esc, input};
use crate::i18n::Lang;
use crate::{Ctx, Web};

/// The sign-in cookie.
pub const SESSION_COOKIE: &str = "porteiro_session";
/// The sign-in form's double-submit cookie.
pub const SIGNIN_COOKIE: &str = "porteiro_signin";

/// The kind of the store's rows of web sign-ins.
pub const STATE_KIND: &str = "web.session";
/// At most how often a browser's last activity is written to the store (seconds; a quarter
/// of the idle timeout when that is shorter).
pub const SEEN_WRITE_SECONDS: i64 = 15;

/// One signed-in browser.
#[derive(Clone)]
pub(crate) struct WebSession {
    token: Secret,
    pub csrf: String,
    created: i64,
    last_seen: i64,
    flash: Option<String>,
    /// The last activity as the store has it.
    kept_seen: i64,
}

/// A web sign-in as the store keeps it: secrets sealed.
#[derive(Serialize, Deserialize)]
struct KeptSession {
    token: Sealed,
    csrf: Sealed,
    created: i64,
    last_seen: i64,
    flash: Option<String>,
}

fn random_token() -> Option<String> {
    random_bytes::<32>()
        .ok()
        .map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

fn key_of(cookie_value: &str) -> String {
    sha2::Sha256::digest(cookie_value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two strings in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_secure(web: &Web, req: &Request<Bytes>) -> bool {
    web.config.secure_cookies
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure when asked.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn with_cookie(mut resp: Response<Full<Bytes>>, cookie: &str) -> Response<Full<Bytes>> {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(hyper::header::SET_COOKIE, v);
    }
    resp
}

fn next_of(query: &Form) -> String {
    let next = query.get("next");
    if html::is_local_path(next) && !next.starts_with("/signin") {
        next.to_string()
    } else {
        "/".to_string()
    }
}

/// The sign-in page (with a fresh double-submit token).
pub(crate) fn signin_page(
    web: &Web,
    req: &Request<Bytes>,
    lang: Lang,
    p: &Problems,
    username: &str,
) -> Response<Full<Bytes>> {
    // One token per browser while it signs in (several tabs, or a favicon request that went
    // through the sign-in redirect, must not invalidate the form on screen).
    let existing = cookie(req.headers(), SIGNIN_COOKIE)
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(String::from);
    let Some(token) = existing.or_else(random_token) else {
        return html::respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "no randomness available: try again",
        );
    };
    let query = Form::query(req.uri());
    let next = next_of(&query);
    let notice = match query.get("why") {
        "idle" => format!(
            r#"<div class="warn" role="status">{}</div>"#,
            esc(lang.t("signin_idle"))
        ),
        "expired" => format!(
            r#"<div class="warn" role="status">{}</div>"#,
            esc(lang.t("signin_expired"))
        ),
        "out" => format!(
            r#"<div class="notice" role="status">{}</div>"#,
            esc(lang.t("signed_out"))
        ),
        _ => String::new(),
    };
    let body = format!(
        r#"{notice}<form method="post" action="/signin?next={next}" class="card" id="signin">{alert}{csrf}{user}{pass}<button type="submit" class="primary">{submit}</button></form>"#,
        next = html::enc(&next),
        alert = p.alert("signin"),
        csrf = csrf_field(&token),
        user = input(
            "signin",
            "username",
            lang.t("username"),
            "text",
            username,
            p,
            r#"autocomplete="username" required autofocus"#
        ),
        pass = input(
            "signin",
            "password",
            lang.t("password"),
            "password",
            "",
            p,
            r#"autocomplete="current-password" required"#
        ),
        submit = esc(lang.t("sign_in")),
    );
    let status = if p.general.is_empty() && p.fields.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    let page = crate::pages::bare(
        lang,
        lang.t("sign_in"),
        &body,
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/signin"),
    );
    with_cookie(
        html::respond(status, "text/html; charset=utf-8", page),
        &set_cookie(SIGNIN_COOKIE, &token, is_secure(web, req), Some(3600)),
    )
}

/// `POST /signin`: the manager's login, then a new web session.
pub(crate) async fn signin(
    web: &Web,
    req: &Request<Bytes>,
    lang: Lang,
    remote: SocketAddr,
) -> Response<Full<Bytes>> {
    let form = Form::parse(req.body());
    let sent = form.get("csrf");
    let expected = cookie(req.headers(), SIGNIN_COOKIE).unwrap_or("");
    if sent.is_empty() || !same(sent, expected) {
        let p = Problems {
            form: "signin".into(),
            general: vec![lang.t("csrf_signin").into()],
            ..Problems::default()
        };
        return signin_page(web, req, lang, &p, form.get("username"));
    }
    let username = form.get("username");
    let password = form.raw("password").unwrap_or("");
    if username.is_empty() || password.is_empty() {
        let mut p = Problems {
            form: "signin".into(),
            ..Problems::default()
        };
        if username.is_empty() {
            p.fields
                .insert("username".into(), vec![lang.t("err_required").into()]);
        }
        if password.is_empty() {
            p.fields
                .insert("password".into(), vec![lang.t("err_required").into()]);
        }
        return signin_page(web, req, lang, &p, username);
    }
    let source = Some(remote.ip().to_string());
    let token = match web.manager.login(username, password, source).await {
        Ok((token, _user)) => token,
        Err(e) => {
            let p = match e {
                porteiro_manager::Error::Unauthenticated(_) => Problems {
                    form: "signin".into(),
                    general: vec![lang.t("err_signin").into()],
                    ..Problems::default()
                },
                other => crate::i18n::problems(lang, "signin", &other),
            };
            return signin_page(web, req, lang, &p, username);
        }
    };
    let (Some(value), Some(csrf)) = (random_token(), random_token()) else {
        return html::respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "no randomness available: try again",
        );
    };
    let now = web.manager.now();
    web.purge(now);
    let session = WebSession {
        token,
        csrf,
        created: now,
        last_seen: now,
        flash: None,
        kept_seen: now,
    };
    let sid = key_of(&value);
    if !web.keep(&sid, &session) {
        return html::respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "the sign-in could not be saved (the store failed): try again",
        );
    }
    if let Ok(mut sessions) = web.sessions.lock() {
        sessions.insert(sid, session);
    }
    let secure = is_secure(web, req);
    let resp = html::redirect(&next_of(&Form::query(req.uri())));
    let resp = with_cookie(resp, &set_cookie(SESSION_COOKIE, &value, secure, None));
    with_cookie(resp, &set_cookie(SIGNIN_COOKIE, "", secure, Some(0)))
}

impl Web {
    /// Drops the web sessions past their deadlines.
    fn purge(&self, now: i64) {
        let (idle, absolute) = (self.config.idle_seconds, self.config.absolute_seconds);
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.retain(|_, s| now - s.last_seen <= idle && now - s.created <= absolute);
        }
    }

    pub(crate) fn set_flash(&self, sid: &str, message: String) {
        let copy = self.sessions.lock().ok().and_then(|mut sessions| {
            let s = sessions.get_mut(sid)?;
            s.flash = Some(message);
            Some(s.clone())
        });
        if let Some(s) = copy {
            self.keep(sid, &s);
        }
    }

    /// Writes a sign-in to the store (token and CSRF token sealed), valid until its first
    /// deadline. `false` (and a line on stderr, no secret) when that failed.
    fn keep(&self, sid: &str, s: &WebSession) -> bool {
        let sealed = self
            .manager
            .seal_state(s.token.expose())
            .and_then(|token| Ok((token, self.manager.seal_state(&s.csrf)?)));
        let result = sealed.and_then(|(token, csrf)| {
            // Valid while now - last_seen <= idle and now - created <= absolute.
            let expires =
                (s.last_seen + self.config.idle_seconds).min(s.created + self.config.absolute_seconds) + 1;
            self.manager.keep_state(
                STATE_KIND,
                sid,
                expires,
                &KeptSession {
                    token,
                    csrf,
                    created: s.created,
                    last_seen: s.last_seen,
                    flash: s.flash.clone(),
                },
            )
        });
        if let Err(e) = &result {
            eprintln!("porteiro: web: cannot keep a sign-in in the store: {e}");
        }
        result.is_ok()
    }

    /// A sign-in another process (or this one before a restart) kept in the store.
    fn restore(&self, sid: &str) -> Option<WebSession> {
        let kept = match self.manager.kept_state::<KeptSession>(STATE_KIND, sid) {
            Ok(k) => k?,
            Err(e) => {
                eprintln!("porteiro: web: cannot read a sign-in from the store: {e}");
                return None;
            }
        };
        let (Ok(token), Ok(csrf)) = (
            self.manager.open_state(&kept.token),
            self.manager.open_state(&kept.csrf),
        ) else {
            eprintln!("porteiro: web: a kept sign-in does not open with this master key: it is dropped");
            let _ = self.manager.forget_state(STATE_KIND, sid);
            return None;
        };
        Some(WebSession {
            token,
            csrf: csrf.expose().to_string(),
            created: kept.created,
            last_seen: kept.last_seen,
            flash: kept.flash,
            kept_seen: kept.last_seen,
        })
    }

    /// Forgets a sign-in, here and in the store.
    fn forget(&self, sid: &str) -> Option<WebSession> {
        let removed = self.sessions.lock().ok().and_then(|mut s| s.remove(sid));
        if let Err(e) = self.manager.forget_state(STATE_KIND, sid) {
            eprintln!("porteiro: web: cannot remove a sign-in from the store: {e}");
        }
        removed
    }

    /// How many browsers are signed in.
    pub fn signed_in(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }
}

fn to_signin(req: &Request<Bytes>, why: &str) -> Response<Full<Bytes>> {
    let here = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let next = if req.method() == hyper::Method::GET {
        here
    } else {
        "/"
    };
    let mut loc = format!("/signin?next={}", html::enc(next));
    if !why.is_empty() {
        loc.push_str(&format!("&why={why}"));
    }
    html::redirect(&loc)
}

/// The signed-in context of a request, or the way to the sign-in page.
pub(crate) fn context<'a>(
    web: &'a Web,
    req: &Request<Bytes>,
    lang: Lang,
    remote: SocketAddr,
) -> Result<Ctx<'a>, Response<Full<Bytes>>> {
    let Some(value) = cookie(req.headers(), SESSION_COOKIE).filter(|v| !v.is_empty()) else {
        return Err(to_signin(req, ""));
    };
    let sid = key_of(value);
    let now = web.manager.now();
    // The status poll of a session page does not count as activity.
    let touch = !req.uri().path().ends_with("/status");
    let known = web.sessions.lock().map(|s| s.contains_key(&sid)).unwrap_or(false);
    if !known {
        // Signed in before a restart, or through another Porteiro over the same store.
        let Some(s) = web.restore(&sid) else {
            return Err(to_signin(req, "expired"));
        };
        if let Ok(mut sessions) = web.sessions.lock() {
            sessions.entry(sid.clone()).or_insert(s);
        }
    }
    let write_every = (web.config.idle_seconds / 4).clamp(1, SEEN_WRITE_SECONDS);
    let (token, csrf, flash, why, to_keep) = {
        let Ok(mut sessions) = web.sessions.lock() else {
            return Err(to_signin(req, ""));
        };
        let Some(s) = sessions.get_mut(&sid) else {
            return Err(to_signin(req, "expired"));
        };
        let why = if now - s.created > web.config.absolute_seconds {
            Some("expired")
        } else if now - s.last_seen > web.config.idle_seconds {
            Some("idle")
        } else {
            None
        };
        if touch && why.is_none() {
            s.last_seen = now;
        }
        let flash = if touch && why.is_none() {
            s.flash.take()
        } else {
            None
        };
        let to_keep =
            (why.is_none() && (flash.is_some() || s.last_seen - s.kept_seen >= write_every)).then(|| {
                s.kept_seen = s.last_seen;
                s.clone()
            });
        (s.token.clone(), s.csrf.clone(), flash, why, to_keep)
    };
    if let Some(why) = why {
        web.forget(&sid);
        return Err(to_signin(req, why));
    }
    if let Some(s) = to_keep {
        web.keep(&sid, &s);
    }
    let actor = match web
        .manager
        .authenticate(token.expose(), Some(remote.ip().to_string()))
    {
        Ok(a) => a,
        Err(_) => {
            web.forget(&sid);
            return Err(to_signin(req, "expired"));
        }
    };
    let perms = web.manager.permissions_of(&actor.user_id).unwrap_or_default();
    Ok(Ctx {
        web,
        m: &web.manager,
        lang,
        actor,
        csrf,
        sid,
        path: req.uri().path().to_string(),
        query: Form::query(req.uri()),
        flash,
        perms,
    })
}

/// Refuses a POST without the session's CSRF token or from another origin.
pub(crate) fn check_post(
    ctx: &Ctx<'_>,
    req: &Request<Bytes>,
    form: &Form,
) -> Result<(), Response<Full<Bytes>>> {
    let origin_ok = match req.headers().get(hyper::header::ORIGIN) {
        None => true,
        Some(o) => {
            let host = req
                .headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            o.to_str()
                .ok()
                .and_then(|o| o.split_once("://").map(|(_, h)| h))
                .is_some_and(|h| !host.is_empty() && h == host)
        }
    };
    if origin_ok && same(form.get("csrf"), &ctx.csrf) {
        return Ok(());
    }
    let body = format!(
        r#"<div class="error" role="alert">{}</div><p><a href="{}">{}</a></p>"#,
        esc(ctx.t("csrf_failed")),
        esc(&ctx.path),
        esc(ctx.t("reload"))
    );
    Err(ctx.page_status(StatusCode::FORBIDDEN, ctx.t("csrf_title"), &[], &body))
}

/// `POST /signout`: ends the manager's token and the web session.
pub(crate) async fn signout(ctx: &Ctx<'_>) -> Response<Full<Bytes>> {
    if let Some(s) = ctx.web.forget(&ctx.sid) {
        let _ = ctx.m.logout(s.token.expose()).await;
    }
    with_cookie(
        html::redirect("/signin?why=out"),
        &set_cookie(SESSION_COOKIE, "", ctx.web.config.secure_cookies, Some(0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set_cookie(SESSION_COOKIE, "v", false, None);
        assert_eq!(c, "porteiro_session=v; Path=/; HttpOnly; SameSite=Strict");
        let c = set_cookie(SESSION_COOKIE, "", true, Some(0));
        assert!(c.ends_with("; Max-Age=0; Secure"), "{c}");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
        let a = random_token().expect("random");
        let b = random_token().expect("random");
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_ne!(key_of(&a), a);
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(next_of(&Form::parse(b"next=%2Fremote%2Fjit")), "/remote/jit");
        assert_eq!(next_of(&Form::parse(b"next=%2F%2Fevil.example")), "/");
        assert_eq!(next_of(&Form::parse(b"next=https%3A%2F%2Fevil.example")), "/");
        assert_eq!(next_of(&Form::parse(b"next=%2Fsignin")), "/");
    }
}
