//! Porteiro's web UI: server-rendered pages over the access manager's use cases, laid out as
//! the seed describes (Cloud IAM ➔ Remote access ➔ Cloud console / JIT Access, Cloud IAM ➔
//! Settings ➔ JIT Access, PAM Core ➔ Access Control ➔ Remote Sessions, …), in English and
//! Portuguese (pt-BR).
//!
//! Every page acts through the same [`Manager`] use cases as the REST API, with the signed-in
//! person's [`Actor`], so the manager's checks decide and its errors are shown next to the
//! control the person used. The web keeps only its sign-in sessions: a random cookie value
//! whose SHA-256 maps to the manager's API token, a CSRF token, and the idle and absolute
//! deadlines — in memory, and in the manager's store with the secrets sealed, so that they
//! survive a restart (see `auth`).
//!
//! Modules: [`html`] (escaping, controls, security headers, CSS and JS), [`i18n`] (the message
//! catalogues and Accept-Language), [`form`] (urlencoded forms and cookies), `auth` (sign-in
//! sessions and CSRF), `pages` (the pages).

pub mod form;
pub mod html;
pub mod i18n;

mod auth;
mod pages;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use porteiro_manager::model::Permission;
use porteiro_manager::{Actor, Manager};

use crate::form::Form;
use crate::html::{Problems, esc};
use crate::i18n::Lang;

/// Largest form accepted.
pub const MAX_FORM: usize = 64 * 1024;

/// How the web UI behaves.
#[derive(Clone)]
pub struct WebConfig {
    /// A sign-in ends after this many seconds without a page view.
    pub idle_seconds: i64,
    /// A sign-in ends this many seconds after it began, whatever happens.
    pub absolute_seconds: i64,
    /// Mark cookies `Secure` always (Porteiro behind TLS). They are also marked `Secure` when
    /// a request arrives with `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// The session recordings' store (the recorder's), when any.
    pub recordings: Option<Arc<dyn porteiro_recording::RecordingStore>>,
    /// Mints a one-time console launch path for a person's own console session (the console
    /// gateway's), when a gateway serves consoles.
    pub console_launcher: Option<ConsoleLauncher>,
}

/// Given the signed-in person and a session id, a one-time path that opens the session's
/// console through Porteiro, or why not (in words for people).
pub type ConsoleLauncher =
    Arc<dyn Fn(&porteiro_manager::Actor, &str) -> Result<String, String> + Send + Sync>;

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("idle_seconds", &self.idle_seconds)
            .field("absolute_seconds", &self.absolute_seconds)
            .field("secure_cookies", &self.secure_cookies)
            .field("recordings", &self.recordings.is_some())
            .field("console_launcher", &self.console_launcher.is_some())
            .finish()
    }
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            idle_seconds: 30 * 60,
            absolute_seconds: porteiro_manager::manager::TOKEN_SECONDS,
            secure_cookies: false,
            recordings: None,
            console_launcher: None,
        }
    }
}

/// The web UI over one manager.
pub struct Web {
    manager: Arc<Manager>,
    config: WebConfig,
    sessions: Mutex<HashMap<String, auth::WebSession>>,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Whether a path belongs to the web UI (everything but the API and the gateway's sessions).
pub fn is_web_path(path: &str) -> bool {
    !(path == "/api/v1" || path.starts_with("/api/v1/") || path.starts_with("/sessions/"))
}

impl Web {
    /// The web UI over `manager`.
    pub fn new(manager: Arc<Manager>, config: WebConfig) -> Web {
        Web {
            manager,
            config,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the body (at most [`MAX_FORM`] bytes) and handles the request.
    pub async fn receive(&self, req: Request<Incoming>, remote: SocketAddr) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_FORM).collect().await {
            Ok(c) => c.to_bytes(),
            Err(_) => {
                return html::respond(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "text/plain; charset=utf-8",
                    format!("the form is larger than {MAX_FORM} bytes: send less"),
                );
            }
        };
        self.handle(Request::from_parts(parts, body), remote).await
    }

    /// Handles one request whose body has been read.
    pub async fn handle(&self, req: Request<Bytes>, remote: SocketAddr) -> Response<Full<Bytes>> {
        let lang = i18n::lang_of(req.headers());
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        if !is_web_path(&path) {
            // The session gateway's paths, when no gateway is mounted in front of the web.
            return html::respond(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                format!("{path} belongs to the session gateway, which is not serving it"),
            );
        }
        match (&method, path.as_str()) {
            (&Method::GET, "/static/web.css") => return asset("text/css; charset=utf-8", html::CSS),
            (&Method::GET, "/static/web.js") => return asset("text/javascript; charset=utf-8", html::JS),
            (&Method::GET, "/signin") => return auth::signin_page(self, &req, lang, &Problems::none(), ""),
            (&Method::POST, "/signin") => return auth::signin(self, &req, lang, remote).await,
            (&Method::GET, "/lang") => return i18n::switch(&req),
            (&Method::GET, "/favicon.ico") => {
                return html::respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "no icon");
            }
            _ => {}
        }
        if method != Method::GET && method != Method::POST {
            return html::respond(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "use GET or POST",
            );
        }
        let ctx = match auth::context(self, &req, lang, remote) {
            Ok(ctx) => ctx,
            Err(resp) => return resp,
        };
        let form = if method == Method::POST {
            let form = Form::parse(req.body());
            if let Err(resp) = auth::check_post(&ctx, &req, &form) {
                return resp;
            }
            form
        } else {
            Form::default()
        };
        if method == Method::POST && path == "/signout" {
            return auth::signout(&ctx).await;
        }
        pages::route(&ctx, &method, &path, &form).await
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = html::respond(StatusCode::OK, content_type, body);
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// One signed-in request: who, in which language, and the form token.
pub(crate) struct Ctx<'a> {
    pub web: &'a Web,
    pub m: &'a Manager,
    pub lang: Lang,
    pub actor: Actor,
    pub csrf: String,
    pub sid: String,
    pub path: String,
    pub query: Form,
    pub flash: Option<String>,
    pub perms: BTreeSet<Permission>,
}

impl Ctx<'_> {
    /// A message in the request's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// Whether to offer an action needing `p` (the manager decides when it is taken).
    pub fn can(&self, p: Permission) -> bool {
        self.actor.admin || self.perms.contains(&p)
    }

    /// Remembers a message for the next page.
    pub fn flash(&self, message: String) {
        self.web.set_flash(&self.sid, message);
    }

    /// The problems of `form` after `err`, in the request's language.
    pub fn problems(&self, form: &str, err: &porteiro_manager::Error) -> Problems {
        i18n::problems(self.lang, form, err)
    }

    /// A complete page.
    pub fn page(&self, title: &str, crumbs: &[&str], body: &str) -> Response<Full<Bytes>> {
        self.page_status(StatusCode::OK, title, crumbs, body)
    }

    /// A complete page with a status (422 when a form failed).
    pub fn page_status(
        &self,
        status: StatusCode,
        title: &str,
        crumbs: &[&str],
        body: &str,
    ) -> Response<Full<Bytes>> {
        let flash = self
            .flash
            .as_deref()
            .map(|f| format!(r#"<div class="notice" role="status">{}</div>"#, esc(f)))
            .unwrap_or_default();
        let html = pages::frame(self, title, crumbs, &format!("{flash}{body}"));
        html::respond(status, "text/html; charset=utf-8", html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_takes_every_path_but_the_api_and_the_gateway() {
        assert!(is_web_path("/"));
        assert!(is_web_path("/remote/jit"));
        assert!(is_web_path("/api"));
        assert!(is_web_path("/api/v10"));
        assert!(!is_web_path("/api/v1"));
        assert!(!is_web_path("/api/v1/users"));
        assert!(!is_web_path("/sessions/ps-1/"));
    }
}
