//! `/signin`: IAM users sign in with account, user name and password (their login profile).
//!
//! A wrong account, user, password, or a user without a login profile all get the same answer,
//! after the same (Argon2id) work. A login profile with `PasswordResetRequired` leads to a
//! second form that asks for a new password (the account's password policy applies, and it
//! must differ from the old one), carried by a single-use reset token valid 15 minutes.

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Response, StatusCode};

use super::html::{self, esc};
use super::sessions::{self, ConsolePrincipal, PASSWORD_SESSION_LIFETIME, SigninPurpose};
use super::{Auth, Req, SESSION_COOKIE, SIGNIN_COOKIE, authenticate, csrf_for, csrf_refused, set_cookie};
use crate::model::LoginProfile;
use crate::protocol::ApiError;
use crate::state::name_key;

/// AWS's answer to wrong credentials.
const WRONG: &str = "Your authentication information is incorrect. Please try again.";

pub(super) fn handle(r: &Req<'_>, path: &str) -> Response<Full<Bytes>> {
    match (r.method(), path) {
        (&Method::GET, "/signin") => form_page(r),
        (&Method::POST, "/signin") => sign_in(r),
        (&Method::POST, "/signin/reset") => reset(r),
        (&Method::GET, "/signin/reset") => html::redirect(StatusCode::SEE_OTHER, "/signin"),
        _ => html::html(
            StatusCode::NOT_FOUND,
            html::page(
                "Not found",
                None,
                &html::error_box("NotFound", "There is no such sign-in page: go to /signin."),
            ),
        ),
    }
}

/// The pre-session cookie (existing or new) and whether it must be set.
fn signin_cookie(r: &Req<'_>) -> Result<(String, bool), ApiError> {
    match r.cookie(SIGNIN_COOKIE).filter(|c| c.len() == 64) {
        Some(c) => Ok((c, false)),
        None => Ok((sessions::random_secret()?, true)),
    }
}

fn with_cookie(
    mut resp: Response<Full<Bytes>>,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> Response<Full<Bytes>> {
    if let Ok(v) = HeaderValue::from_str(&set_cookie(name, value, max_age)) {
        resp.headers_mut().append(hyper::header::SET_COOKIE, v);
    }
    resp
}

fn internal(e: &ApiError) -> Response<Full<Bytes>> {
    html::html(
        StatusCode::INTERNAL_SERVER_ERROR,
        html::page("Sign-in failed", None, &html::error_box(&e.code, &e.message)),
    )
}

fn signin_form(csrf: &str, account: &str, user: &str, message: Option<&str>) -> String {
    let alert = message
        .map(|m| html::error_box("SigninFailed", m))
        .unwrap_or_default();
    format!(
        r#"{alert}<form class="card" method="post" action="/signin">
<input type="hidden" name="csrf" value="{csrf}">
<label for="account">Account ID (12 digits)</label>
<input id="account" name="account" type="text" inputmode="numeric" autocomplete="organization" required value="{account}">
<label for="username">IAM user name</label>
<input id="username" name="username" type="text" autocomplete="username" required value="{user}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>"#,
        csrf = esc(csrf),
        account = esc(account),
        user = esc(user),
    )
}

fn form_page(r: &Req<'_>) -> Response<Full<Bytes>> {
    if matches!(authenticate(r), Auth::Active(_)) {
        return html::redirect(StatusCode::SEE_OTHER, "/console/");
    }
    let (cookie, new) = match signin_cookie(r) {
        Ok(c) => c,
        Err(e) => return internal(&e),
    };
    let account = r.params.get("account").unwrap_or("");
    let body = signin_form(&csrf_for(&cookie), account, "", None);
    let resp = html::html(StatusCode::OK, html::page("Sign in as IAM user", None, &body));
    if new {
        with_cookie(resp, SIGNIN_COOKIE, &cookie, None)
    } else {
        resp
    }
}

/// The sign-in cookie when the form's CSRF token belongs to it and the origin is ours.
fn checked_form(r: &Req<'_>) -> Option<String> {
    let cookie = r.cookie(SIGNIN_COOKIE)?;
    let sent = r.params.get("csrf")?;
    (r.same_origin() && sessions::same(sent.as_bytes(), csrf_for(&cookie).as_bytes())).then_some(cookie)
}

/// A hash of a password nobody has, to spend the same time when the user does not exist.
fn dummy_profile() -> LoginProfile {
    static HASH: OnceLock<String> = OnceLock::new();
    let hash = HASH.get_or_init(|| {
        let mut seed = [0u8; 16];
        let _ = getrandom::fill(&mut seed);
        crate::iam::hash_password(&sessions::hex(&seed)).unwrap_or_default()
    });
    LoginProfile {
        account: String::new(),
        user: String::new(),
        password_hash: hash.clone(),
        reset_required: false,
        created: 0,
    }
}

/// Starts a password console session and goes to the console.
fn signed_in(r: &Req<'_>, account: &str, user: &str) -> Response<Full<Bytes>> {
    let expires = r.now + PASSWORD_SESSION_LIFETIME;
    let principal = ConsolePrincipal::User {
        name: user.to_string(),
    };
    match sessions::start_session(r.cloud, account, principal, None, r.now, expires) {
        Ok(cookie) => with_cookie(
            html::redirect(StatusCode::SEE_OTHER, "/console/"),
            SESSION_COOKIE,
            &cookie,
            Some(PASSWORD_SESSION_LIFETIME),
        ),
        Err(e) => internal(&e),
    }
}

fn sign_in(r: &Req<'_>) -> Response<Full<Bytes>> {
    let Some(cookie) = checked_form(r) else {
        return csrf_refused();
    };
    let csrf = csrf_for(&cookie);
    let account = r.params.get("account").unwrap_or("").trim();
    let user = r.params.get("username").unwrap_or("").trim();
    let password = r.params.get("password").unwrap_or("");
    let wrong = || {
        html::html(
            StatusCode::UNAUTHORIZED,
            html::page(
                "Sign in as IAM user",
                None,
                &signin_form(&csrf, account, user, Some(WRONG)),
            ),
        )
    };
    let state = r.cloud.shared.snapshot();
    let profile = state
        .accounts
        .contains_key(account)
        .then(|| state.login_profiles.get(&name_key(account, user)))
        .flatten()
        .filter(|_| state.users.contains_key(&name_key(account, user)));
    let verified = match profile {
        Some(p) => crate::iam::verify_password(p, password),
        None => {
            let _ = crate::iam::verify_password(&dummy_profile(), password);
            false
        }
    };
    let Some(profile) = profile.filter(|_| verified) else {
        return wrong();
    };
    if !profile.reset_required {
        return signed_in(r, account, &profile.user);
    }
    let purpose = SigninPurpose::PasswordReset {
        account: account.to_string(),
        user: profile.user.clone(),
    };
    match sessions::issue_token(r.cloud, purpose, r.now) {
        Ok(token) => reset_page(StatusCode::OK, &csrf, &token, &profile.user, None),
        Err(e) => internal(&e),
    }
}

fn reset_page(
    status: StatusCode,
    csrf: &str,
    token: &str,
    user: &str,
    message: Option<&str>,
) -> Response<Full<Bytes>> {
    let alert = message
        .map(|m| html::error_box("PasswordPolicyViolation", m))
        .unwrap_or_else(|| {
            html::notice("Your password must be changed before you sign in: choose a new password.")
        });
    let body = format!(
        r#"{alert}<p>IAM user <strong>{user}</strong></p>
<form class="card" method="post" action="/signin/reset">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="token" value="{token}">
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required>
<label for="confirm_password">Confirm new password</label>
<input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required>
<button type="submit">Change password and sign in</button>
</form>"#,
        user = esc(user),
        csrf = esc(csrf),
        token = esc(token),
    );
    html::html(status, html::page("Change your password", None, &body))
}

fn reset(r: &Req<'_>) -> Response<Full<Bytes>> {
    let Some(cookie) = checked_form(r) else {
        return csrf_refused();
    };
    let csrf = csrf_for(&cookie);
    let token = r.params.get("token").unwrap_or("");
    let expired = || {
        html::html(
            StatusCode::FORBIDDEN,
            html::page(
                "Sign in as IAM user",
                None,
                &signin_form(
                    &csrf,
                    "",
                    "",
                    Some("The password change took too long or was already done: sign in again."),
                ),
            ),
        )
    };
    let Some(record) = sessions::peek_token(r.cloud, token, r.now) else {
        return expired();
    };
    let SigninPurpose::PasswordReset { account, user } = record.purpose else {
        return expired();
    };
    let new = r.params.get("new_password").unwrap_or("");
    let confirm = r.params.get("confirm_password").unwrap_or("");
    let again = |message: &str| reset_page(StatusCode::BAD_REQUEST, &csrf, token, &user, Some(message));
    if new != confirm {
        return again("The new password and its confirmation do not match.");
    }
    if let Err(e) = crate::iam::check_password(new) {
        return again(&e.message);
    }
    let state = r.cloud.shared.snapshot();
    let Some(profile) = state.login_profiles.get(&name_key(&account, &user)) else {
        return expired();
    };
    if crate::iam::verify_password(profile, new) {
        return again("The new password must be different from the current password.");
    }
    let hash = match crate::iam::hash_password(new) {
        Ok(h) => h,
        Err(e) => return internal(&e),
    };
    match sessions::consume_token(r.cloud, token, r.now) {
        Ok(Some(_)) => {}
        Ok(None) => return expired(),
        Err(e) => return internal(&e),
    }
    let key = name_key(&account, &user);
    let changed = r.cloud.shared.mutate(|tx| {
        let Some(mut profile) = tx.state.login_profiles.get(&key).cloned() else {
            return Ok(false);
        };
        profile.password_hash = hash;
        profile.reset_required = false;
        tx.put(profile);
        Ok::<_, ApiError>(true)
    });
    match changed {
        Ok(true) => signed_in(r, &account, &user),
        Ok(false) => expired(),
        Err(e) => internal(&e),
    }
}
