//! `/federation`: AWS's console federation endpoint.
//!
//! - `Action=getSigninToken&Session=<URL-encoded {"sessionId","sessionKey","sessionToken"}>`
//!   `[&SessionDuration=900..43200]` → `{"SigninToken":"…"}`. Only temporary credentials of
//!   `AssumeRole` or `GetFederationToken` are accepted. `SessionDuration` is for role
//!   sessions only (AWS fails the call with GetFederationToken credentials), and role-chaining
//!   credentials limit the console session to one hour. Without it the console session lasts
//!   as long as the credentials (for role chaining, at most one hour).
//! - `Action=login&Issuer=…&Destination=…&SigninToken=…` → `302` to `Destination` (a console
//!   path of this origin; anything else goes to `/console/`) with the session cookie. A token
//!   is valid once, for 15 minutes.
//!
//! Parameters may come in the query string (AWS's documented GET) or a form body (POST).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Response, StatusCode};
use serde_json::json;

use super::html;
use super::sessions::{self, ConsolePrincipal, SigninPurpose};
use super::{Req, SESSION_COOKIE, set_cookie};
use crate::model::SessionKind;

/// Longest `SessionDuration` (12 hours).
pub const MAX_SESSION_DURATION: i64 = 43_200;
/// Shortest `SessionDuration` (15 minutes).
pub const MIN_SESSION_DURATION: i64 = 900;
/// The console session limit with role-chaining credentials (1 hour).
pub const CHAINED_LIMIT: i64 = 3600;

pub(super) fn handle(r: &Req<'_>) -> Response<Full<Bytes>> {
    if r.method() != Method::GET && r.method() != Method::POST {
        return json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the federation endpoint accepts GET (or a form POST)",
        );
    }
    match r.params.get("Action") {
        Some("getSigninToken") => get_signin_token(r),
        Some("login") => login(r),
        Some(other) => json_error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!(
                "`{other}` is not an action of the federation endpoint: use Action=getSigninToken or Action=login"
            ),
        ),
        None => json_error(
            StatusCode::BAD_REQUEST,
            "MissingAction",
            "the federation endpoint needs Action=getSigninToken or Action=login",
        ),
    }
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    html::respond(
        status,
        "application/json",
        json!({"Error": {"Code": code, "Message": message}}).to_string(),
    )
}

fn get_signin_token(r: &Req<'_>) -> Response<Full<Bytes>> {
    let bad = |code: &str, message: &str| json_error(StatusCode::BAD_REQUEST, code, message);
    let Some(session_json) = r.params.get("Session") else {
        return bad(
            "MissingSession",
            "getSigninToken needs Session: the URL-encoded JSON {\"sessionId\":ACCESS_KEY_ID,\"sessionKey\":SECRET_ACCESS_KEY,\"sessionToken\":SESSION_TOKEN} of temporary credentials",
        );
    };
    let parsed: Option<(String, String, String)> = serde_json::from_str::<serde_json::Value>(session_json)
        .ok()
        .and_then(|v| {
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            Some((field("sessionId")?, field("sessionKey")?, field("sessionToken")?))
        });
    let Some((access_key_id, secret, token)) = parsed else {
        return bad(
            "InvalidCredentialsParameter",
            "Invalid credentials parameter: Session must be the JSON {\"sessionId\":…,\"sessionKey\":…,\"sessionToken\":…} of temporary credentials, URL-encoded",
        );
    };
    let state = r.cloud.shared.snapshot();
    if state.keys.contains_key(&access_key_id) {
        return bad(
            "InvalidCredentialsParameter",
            "Invalid credentials parameter: these are long-term credentials (an access key of a user or the root user); the federation endpoint takes temporary credentials from sts:AssumeRole or sts:GetFederationToken",
        );
    }
    let invalid = || {
        json_error(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    };
    let Some(creds) = state.sessions.get(&access_key_id) else {
        return invalid();
    };
    // SECURITY: both the secret and the token must be those issued with the key.
    if !sessions::same(secret.as_bytes(), creds.secret.as_bytes())
        || !sessions::same(token.as_bytes(), creds.token.as_bytes())
    {
        return invalid();
    }
    if creds.expires <= r.now {
        return json_error(
            StatusCode::FORBIDDEN,
            "ExpiredToken",
            "The security token included in the request is expired",
        );
    }
    let chained = match &creds.kind {
        SessionKind::AssumedRole { chained, .. } => *chained,
        SessionKind::Federated { .. } => false,
        SessionKind::SessionToken { .. } => {
            return bad(
                "InvalidCredentialsParameter",
                "Invalid credentials parameter: credentials from sts:GetSessionToken cannot sign in to the console; use sts:AssumeRole or sts:GetFederationToken",
            );
        }
    };
    let session_duration = match r.params.get("SessionDuration") {
        None => None,
        Some(text) => {
            let Ok(d) = text.parse::<i64>() else {
                return bad(
                    "InvalidSessionDuration",
                    &format!(
                        "SessionDuration `{text}` is not a number of seconds: use {MIN_SESSION_DURATION} to {MAX_SESSION_DURATION}"
                    ),
                );
            };
            if matches!(creds.kind, SessionKind::Federated { .. }) {
                return bad(
                    "InvalidCredentialsParameter",
                    "Invalid credentials parameter: SessionDuration cannot be used with credentials from sts:GetFederationToken (the console session lasts as long as they do); omit it",
                );
            }
            if !(MIN_SESSION_DURATION..=MAX_SESSION_DURATION).contains(&d) {
                return bad(
                    "InvalidSessionDuration",
                    &format!(
                        "SessionDuration must be between {MIN_SESSION_DURATION} and {MAX_SESSION_DURATION} seconds (15 minutes to 12 hours); asked {d}"
                    ),
                );
            }
            if chained && d > CHAINED_LIMIT {
                return bad(
                    "InvalidCredentialsParameter",
                    &format!(
                        "Invalid credentials parameter: these credentials come from role chaining (a role session assumed another role), which limits the console session to {CHAINED_LIMIT} seconds (1 hour); asked {d}. Assume the role with an IAM user's long-term credentials for a longer session, or omit SessionDuration"
                    ),
                );
            }
            Some(d)
        }
    };
    let purpose = SigninPurpose::Federation {
        account: creds.account.clone(),
        access_key_id,
        session_duration,
    };
    match sessions::issue_token(r.cloud, purpose, r.now) {
        Ok(token) => html::respond(
            StatusCode::OK,
            "application/json",
            json!({ "SigninToken": token }).to_string(),
        ),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.code, &e.message),
    }
}

/// A sign-in error page.
fn login_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "{}<p><a href=\"/signin\">Sign in as an IAM user</a></p>",
        html::error_box("SigninFailed", message)
    );
    html::html(status, html::page("Sign-in failed", None, &body))
}

/// Where to go after login: `Destination` when it is a console path of this origin (relative,
/// or an absolute URL whose authority is our `Host`), `/console/` otherwise.
pub(super) fn safe_destination(destination: Option<&str>, host: Option<&str>) -> String {
    let fallback = "/console/".to_string();
    let Some(dest) = destination.filter(|d| !d.is_empty()) else {
        return fallback;
    };
    let path = if dest.starts_with('/') {
        dest
    } else if let Some(rest) = dest
        .strip_prefix("http://")
        .or_else(|| dest.strip_prefix("https://"))
    {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if !host.is_some_and(|h| h.eq_ignore_ascii_case(authority)) {
            return fallback;
        }
        if path.is_empty() { "/console/" } else { path }
    } else {
        return fallback;
    };
    let clean = !path.starts_with("//")
        && !path.contains('\\')
        && !path.contains("/../")
        && !path.ends_with("/..")
        && path.chars().all(|c| c.is_ascii_graphic());
    let console = path == "/console"
        || path.starts_with("/console/")
        || path.starts_with("/console?")
        || path.starts_with("/console#");
    if clean && console {
        path.to_string()
    } else {
        fallback
    }
}

/// The `Issuer` kept for the "session ended" page: only an http(s) URL.
fn issuer(r: &Req<'_>) -> Option<String> {
    r.params
        .get("Issuer")
        .filter(|i| {
            (i.starts_with("https://") || i.starts_with("http://"))
                && i.len() <= 2048
                && i.chars().all(|c| c.is_ascii_graphic())
        })
        .map(str::to_string)
}

fn login(r: &Req<'_>) -> Response<Full<Bytes>> {
    let Some(token) = r.params.get("SigninToken") else {
        return login_error(
            StatusCode::BAD_REQUEST,
            "The sign-in link has no SigninToken: get one from the federation endpoint with Action=getSigninToken.",
        );
    };
    let invalid = || {
        login_error(
            StatusCode::FORBIDDEN,
            "This sign-in link is not valid: its token is unknown, already used, or older than 15 minutes. Ask your identity broker for a new link.",
        )
    };
    let record = match sessions::consume_token(r.cloud, token, r.now) {
        Ok(Some(t)) => t,
        Ok(None) => return invalid(),
        Err(e) => return login_error(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
    };
    let SigninPurpose::Federation {
        account,
        access_key_id,
        session_duration,
    } = record.purpose
    else {
        return invalid();
    };
    let state = r.cloud.shared.snapshot();
    let Some(creds) = state.sessions.get(&access_key_id) else {
        return login_error(
            StatusCode::FORBIDDEN,
            "The temporary credentials of this sign-in link no longer exist: ask your identity broker for a new link.",
        );
    };
    let chained = matches!(creds.kind, SessionKind::AssumedRole { chained: true, .. });
    let expires = match session_duration {
        Some(d) => r.now + d,
        None if chained => creds.expires.min(r.now + CHAINED_LIMIT),
        None => creds.expires,
    };
    if expires <= r.now {
        return login_error(
            StatusCode::FORBIDDEN,
            "The temporary credentials of this sign-in link have expired: ask your identity broker for a new link.",
        );
    }
    let cookie = match sessions::start_session(
        r.cloud,
        &account,
        ConsolePrincipal::Credentials { access_key_id },
        issuer(r),
        r.now,
        expires,
    ) {
        Ok(c) => c,
        Err(e) => return login_error(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
    };
    let location = safe_destination(r.params.get("Destination"), r.host());
    let mut resp = html::redirect(StatusCode::FOUND, &location);
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, &cookie, Some(expires - r.now))) {
        resp.headers_mut().append(hyper::header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_stay_on_console_paths_of_this_origin() {
        let host = Some("127.0.0.1:4566");
        assert_eq!(safe_destination(None, host), "/console/");
        assert_eq!(
            safe_destination(Some("/console/iam/users"), host),
            "/console/iam/users"
        );
        assert_eq!(
            safe_destination(Some("http://127.0.0.1:4566/console/s3?x=1"), host),
            "/console/s3?x=1"
        );
        assert_eq!(safe_destination(Some("http://127.0.0.1:4566"), host), "/console/");
        assert_eq!(
            safe_destination(Some("https://console.aws.amazon.com/"), host),
            "/console/"
        );
        assert_eq!(
            safe_destination(Some("http://evil.example/console/"), host),
            "/console/"
        );
        assert_eq!(
            safe_destination(Some("//evil.example/console/"), host),
            "/console/"
        );
        assert_eq!(safe_destination(Some("/signin"), host), "/console/");
        assert_eq!(
            safe_destination(Some("/console/../federation"), host),
            "/console/"
        );
        assert_eq!(safe_destination(Some("/console/\\evil"), host), "/console/");
        assert_eq!(safe_destination(Some("javascript:alert(1)"), host), "/console/");
        assert_eq!(safe_destination(Some("/consoleevil"), host), "/console/");
    }
}
