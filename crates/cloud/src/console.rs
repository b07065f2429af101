//! The embedded cloud's web console, its IAM-user sign-in page and the console federation
//! endpoint, served on the cloud's listener by path:
//!
//! - `/federation`: AWS's custom identity broker endpoint. `Action=getSigninToken` exchanges
//!   temporary credentials for a sign-in token; `Action=login` exchanges the token for a
//!   console session cookie and redirects to `Destination`
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html>).
//! - `/signin`: account, user name and password of an IAM user with a login profile; a profile
//!   that requires a reset asks for a new password first.
//! - `/console/…`: server-rendered pages (who am I, IAM users and roles, S3, KMS). Every page
//!   acts through [`api::Api`], as the signed-in principal, through the operations the API runs.
//!
//! SECURITY: the session cookie is random (256 bits), `HttpOnly`, `SameSite=Lax`, and stored
//! only as its SHA-256; every form carries a CSRF token derived from the session cookie
//! (sign-in forms: from a pre-session cookie), and a request whose `Origin` is another site is
//! refused. Sessions end at their expiry (checked on every request) and on sign-out.
//! Passwords, secret keys, session tokens, cookies and sign-in tokens are never logged or
//! rendered.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};

use crate::Cloud;
use crate::authz::{self, Caller, CallerKind, RequestInfo, VpcEndpoint};
use crate::protocol::Params;
use crate::state::{State, name_key};

pub mod api;
mod federation;
pub mod html;
mod pages;
pub mod sessions;
mod signin;

pub use sessions::{ConsolePrincipal, ConsoleSession, SigninPurpose, SigninToken};

/// The console session cookie.
pub const SESSION_COOKIE: &str = "porteiro_console";
/// The pre-session cookie that binds the sign-in forms' CSRF tokens.
pub const SIGNIN_COOKIE: &str = "porteiro_signin";

/// One console request. (No `Debug`: its parameters may hold a password.)
pub(crate) struct Req<'a> {
    pub cloud: &'a Cloud,
    pub http: &'a Request<Bytes>,
    pub remote: SocketAddr,
    pub vpc: Option<&'a VpcEndpoint>,
    pub now: i64,
    /// Query string and (for form posts) body parameters.
    pub params: Params,
}

impl Req<'_> {
    /// The request's method.
    pub fn method(&self) -> &Method {
        self.http.method()
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.http
            .headers()
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    /// The `Host` header (the console's own origin authority).
    pub fn host(&self) -> Option<&str> {
        self.http
            .headers()
            .get(hyper::header::HOST)
            .and_then(|v| v.to_str().ok())
    }

    /// The facts of an API request made from this console request.
    pub fn info(&self) -> RequestInfo {
        let mut info = RequestInfo::direct(self.remote.ip(), "us-east-1", self.now);
        info.vpc = self.vpc.cloned();
        info
    }

    /// Whether a state-changing request comes from this site: when the browser sends an
    /// `Origin`, its authority must be our `Host`.
    pub fn same_origin(&self) -> bool {
        let Some(origin) = self
            .http
            .headers()
            .get(hyper::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        else {
            return true;
        };
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        self.host().is_some_and(|h| h.eq_ignore_ascii_case(authority))
    }
}

/// The CSRF token bound to a cookie value (the session's, or the sign-in cookie's).
pub fn csrf_for(cookie: &str) -> String {
    sessions::digest(&format!("porteiro-console-csrf\n{cookie}"))
}

/// `Set-Cookie` value for a cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> String {
    let age = max_age
        .map(|a| format!("; Max-Age={}", a.max(0)))
        .unwrap_or_default();
    format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/{age}")
}

/// Serves the request when its path belongs to the console, its sign-in pages or the
/// federation endpoint; `None` otherwise (the API handles it).
pub async fn handle(
    cloud: &Cloud,
    req: &Request<Bytes>,
    remote: SocketAddr,
    vpc: Option<&VpcEndpoint>,
) -> Option<Response<Full<Bytes>>> {
    let path = req.uri().path().to_string();
    let ours = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if !(ours("/federation") || ours("/signin") || ours("/console")) {
        return None;
    }
    let is_form = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        std::str::from_utf8(req.body()).unwrap_or("")
    } else {
        ""
    };
    let r = Req {
        cloud,
        http: req,
        remote,
        vpc,
        now: cloud.now(),
        params: Params::parse(req.uri().query().unwrap_or(""), body),
    };
    let resp = if ours("/federation") {
        federation::handle(&r)
    } else if ours("/signin") {
        signin::handle(&r, &path)
    } else {
        pages::handle(&r, &path).await
    };
    Some(html::secure(resp))
}

/// The signed-in session of a request.
#[derive(Debug)]
pub(crate) struct Active {
    /// The stored session.
    pub session: ConsoleSession,
    /// The caller the session acts as.
    pub caller: Caller,
    /// The CSRF token of this session's forms.
    pub csrf: String,
}

/// Whether and how a request is signed in.
#[derive(Debug)]
pub(crate) enum Auth {
    /// No session cookie, or an unknown one.
    None,
    /// The session has ended (its time is up, or its principal is gone).
    Ended {
        /// Why, for the person.
        why: String,
        /// The broker to return to (federation logins).
        issuer: Option<String>,
    },
    /// Signed in.
    Active(Box<Active>),
}

/// The caller a console session acts as, built as the API path builds it.
pub(crate) fn caller_of(state: &State, session: &ConsoleSession, now: i64) -> Result<Caller, String> {
    match &session.principal {
        ConsolePrincipal::User { name } => {
            let user = state
                .users
                .get(&name_key(&session.account, name))
                .ok_or_else(|| format!("the IAM user {name} no longer exists"))?;
            Ok(Caller {
                account: session.account.clone(),
                arn: user.arn(),
                user_id: user.id.clone(),
                // Not an access key: the policy cache's key for this user's console sessions.
                access_key_id: format!("console:{}", name_key(&session.account, &user.name)),
                kind: CallerKind::User {
                    name: user.name.clone(),
                },
            })
        }
        ConsolePrincipal::Credentials { access_key_id } => {
            let creds = state
                .sessions
                .get(access_key_id)
                .ok_or_else(|| "the temporary credentials of this session no longer exist".to_string())?;
            // The console session may outlive the credentials (`SessionDuration`), as in AWS:
            // the credentials are resolved as of a time they were valid.
            let at = now.min(creds.expires - 1);
            authz::resolve(state, access_key_id, Some(&creds.token), at)
                .map(|(caller, _secret)| caller)
                .map_err(|e| {
                    format!(
                        "the temporary credentials of this session are not valid: {}",
                        e.message
                    )
                })
        }
    }
}

/// Finds the request's console session; an ended one is deleted.
pub(crate) fn authenticate(r: &Req<'_>) -> Auth {
    let Some(cookie) = r.cookie(SESSION_COOKIE) else {
        return Auth::None;
    };
    let hash = sessions::digest(&cookie);
    let state = r.cloud.shared.snapshot();
    let Some(session) = state.console_sessions.get(&hash).cloned() else {
        return Auth::None;
    };
    if session.expires <= r.now {
        let _ = sessions::end_session(r.cloud, &hash);
        return Auth::Ended {
            why: "Your session has expired.".into(),
            issuer: session.issuer,
        };
    }
    match caller_of(&state, &session, r.now) {
        Ok(caller) => Auth::Active(Box::new(Active {
            session,
            caller,
            csrf: csrf_for(&cookie),
        })),
        Err(why) => {
            let _ = sessions::end_session(r.cloud, &hash);
            Auth::Ended {
                why: format!("Your session has ended: {why}."),
                issuer: session.issuer,
            }
        }
    }
}

/// A page that says a form was refused for its CSRF token or origin.
pub(crate) fn csrf_refused() -> Response<Full<Bytes>> {
    html::html(
        StatusCode::FORBIDDEN,
        html::page(
            "Request refused",
            None,
            &html::error_box(
                "InvalidCsrfToken",
                "The form's security token is missing or does not belong to your session, or the form was sent from another site: reload the page and send the form again.",
            ),
        ),
    )
}
