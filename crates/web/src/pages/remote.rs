//! Cloud IAM ➔ Remote access ➔ Cloud console and ➔ JIT Access, and My sessions (the
//! countdown and the "You have been disconnected" page).

use hyper::StatusCode;
use porteiro_manager::manager::{CloudUserView, SessionView};
use porteiro_manager::model::{CloudUserStatus, Origin, SessionKind, SessionStatus};

use super::{FAILED, Page, account_names, load_error};
use crate::Ctx;
use crate::form::Form;
use crate::html::{
    Problems, button_form, csrf_field, duration_text, enc, esc, input_hint, select, table, time,
};

/// The actor's own cloud IAM users (sessions start only as one's own).
fn own_users(c: &Ctx<'_>) -> Result<Vec<CloudUserView>, porteiro_manager::Error> {
    Ok(c.m
        .list_cloud_users(&c.actor)?
        .into_iter()
        .filter(|u| u.owner.as_deref() == Some(c.actor.user_id.as_str()))
        .filter(|u| u.status != CloudUserStatus::Unprovisioned)
        .collect())
}

pub(crate) fn status_text(c: &Ctx<'_>, s: CloudUserStatus) -> &'static str {
    match s {
        CloudUserStatus::Pending => c.t("st_pending"),
        CloudUserStatus::Provisioning => c.t("st_provisioning"),
        CloudUserStatus::Provisioned => c.t("st_provisioned"),
        CloudUserStatus::Unprovisioning => c.t("st_unprovisioning"),
        CloudUserStatus::Unprovisioned => c.t("st_unprovisioned"),
        CloudUserStatus::Imported => c.t("st_imported"),
    }
}

pub(crate) fn origin_text(c: &Ctx<'_>, o: Origin) -> &'static str {
    match o {
        Origin::Created => c.t("origin_created"),
        Origin::Imported => c.t("origin_imported"),
    }
}

pub(crate) fn session_status_text(c: &Ctx<'_>, s: SessionStatus) -> &'static str {
    match s {
        SessionStatus::Active => c.t("ss_active"),
        SessionStatus::Expired => c.t("ss_expired"),
        SessionStatus::Dropped => c.t("ss_dropped"),
    }
}

pub(crate) fn kind_text(c: &Ctx<'_>, k: SessionKind) -> &'static str {
    match k {
        SessionKind::Console => c.t("cloud_console"),
        SessionKind::Jit => c.t("jit_access"),
    }
}

/// The rows of the remote-access tables, each with its Action cell and, under it, the
/// problems of a start that failed on that row.
fn user_rows(
    c: &Ctx<'_>,
    users: &[CloudUserView],
    p: &Problems,
    action: impl Fn(&CloudUserView) -> String,
) -> String {
    let accounts = account_names(c);
    let head = format!(
        r#"<thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead>"#,
        esc(c.t("user")),
        esc(c.t("account")),
        esc(c.t("origin")),
        esc(c.t("status")),
        esc(c.t("action")),
    );
    let mut body = String::new();
    for u in users {
        body.push_str(&format!(
            r#"<tr id="row-{id}"><td>{name}<br><small><code>{arn}</code></small></td><td>{acc}</td><td>{origin}</td><td>{status}</td><td>{action}</td></tr>"#,
            id = esc(&u.id),
            name = esc(&u.name),
            arn = esc(u.arn.as_deref().unwrap_or("")),
            acc = esc(accounts.get(&u.account_id).map(String::as_str).unwrap_or(&u.account_id)),
            origin = esc(origin_text(c, u.origin)),
            status = esc(status_text(c, u.status)),
            action = action(u),
        ));
        let form = format!("start-{}", u.id);
        if p.about(&form) {
            let mut all = p.general.clone();
            all.extend(p.fields.values().flatten().cloned());
            let shown = Problems {
                form: form.clone(),
                general: all,
                ..Problems::default()
            };
            body.push_str(&format!(
                r#"<tr class="row-error"><td colspan="5">{}</td></tr>"#,
                shown.alert(&form)
            ));
        }
    }
    format!(
        r#"<table><caption>{}</caption>{head}<tbody>{body}</tbody></table>"#,
        esc(c.t("your_cloud_users"))
    )
}

/// Cloud IAM ➔ Remote access ➔ Cloud console.
pub(crate) fn console(c: &Ctx<'_>, p: &Problems) -> Page {
    let users = match own_users(c) {
        Ok(u) => u,
        Err(e) => {
            return c.page(
                c.t("cloud_console"),
                &["Cloud IAM", c.t("remote_access")],
                &load_error(c, &e),
            );
        }
    };
    let table = if users.is_empty() {
        format!(r#"<p class="empty">{}</p>"#, esc(c.t("no_own_cloud_users")))
    } else {
        user_rows(c, &users, p, |u| {
            button_form(
                "/remote/console/start",
                &c.csrf,
                c.t("start_session"),
                "primary",
                &[("cloud_user_id", &u.id)],
            )
        })
    };
    let body = format!(
        r#"<p>{}</p><p class="warn">{}</p><h2>{}</h2><ul><li>{}</li><li>{}</li><li>{}</li></ul>{table}"#,
        esc(c.t("console_intro")),
        esc(c.t("info_recorded")),
        esc(c.t("requirements")),
        esc(c.t("req_email")),
        esc(c.t("req_created")),
        esc(c.t("req_console_perm")),
    );
    let status = if p.form.is_empty() { StatusCode::OK } else { FAILED };
    c.page_status(
        status,
        c.t("cloud_console"),
        &["Cloud IAM", c.t("remote_access")],
        &body,
    )
}

/// `POST /remote/console/start`: starts a console session as one's cloud IAM user.
pub(crate) async fn console_start(c: &Ctx<'_>, f: &Form) -> Page {
    let id = f.get("cloud_user_id");
    match c.m.start_console(&c.actor, id, None).await {
        Ok(s) => {
            c.flash(c.t("session_started").to_string());
            crate::html::redirect(&format!("/my/sessions/{}", enc(&s.session.id)))
        }
        Err(e) => console(c, &c.problems(&format!("start-{id}"), &e)),
    }
}

/// Cloud IAM ➔ Remote access ➔ JIT Access: the users, each with Start session.
pub(crate) fn jit(c: &Ctx<'_>) -> Page {
    let users = match own_users(c) {
        Ok(u) => u,
        Err(e) => {
            return c.page(
                c.t("jit_access"),
                &["Cloud IAM", c.t("remote_access")],
                &load_error(c, &e),
            );
        }
    };
    let table = if users.is_empty() {
        format!(r#"<p class="empty">{}</p>"#, esc(c.t("no_own_cloud_users")))
    } else {
        user_rows(c, &users, &Problems::none(), |u| {
            format!(
                r#"<a class="button" href="/remote/jit/{}">{}</a>"#,
                enc(&u.id),
                esc(c.t("start_session"))
            )
        })
    };
    let body = format!(
        r#"<p>{}</p><p class="warn">{}</p><h2>{}</h2><ul><li>{}</li><li>{}</li><li>{}</li><li>{}</li><li>{}</li></ul>{table}"#,
        esc(c.t("jit_intro")),
        esc(c.t("info_jit_expiry")),
        esc(c.t("requirements")),
        esc(c.t("req_email")),
        esc(c.t("req_created")),
        esc(c.t("req_credential")),
        esc(c.t("req_jit_perm")),
        esc(c.t("req_trust")),
    );
    c.page(c.t("jit_access"), &["Cloud IAM", c.t("remote_access")], &body)
}

/// The JIT start form of one user: choose the Role and the Duration.
pub(crate) fn jit_form(c: &Ctx<'_>, cu: &str, p: &Problems, values: Option<&Form>) -> Page {
    let crumbs = ["Cloud IAM", c.t("remote_access"), c.t("jit_access")];
    let user = match c.m.get_cloud_user(&c.actor, cu) {
        Ok(u) => u,
        Err(e) => {
            return c.page_status(
                StatusCode::NOT_FOUND,
                c.t("start_session"),
                &crumbs,
                &load_error(c, &e),
            );
        }
    };
    let settings = c.m.get_jit_settings(&c.actor, &user.account_id).ok();
    let mut roles: Vec<(String, String)> = vec![(String::new(), c.t("choose_role").to_string())];
    if let Some(s) = &settings {
        roles.extend(s.roles.iter().map(|r| (r.clone(), r.clone())));
    }
    let max = settings.as_ref().map(|s| s.duration).unwrap_or(3600);
    let role = values.map(|v| v.get("role")).unwrap_or("");
    let duration = values
        .map(|v| v.get("duration").to_string())
        .unwrap_or_else(|| max.to_string());
    let form = "jit-start";
    let body = format!(
        r#"<p>{intro}</p><dl><dt>{user_l}</dt><dd>{user}</dd><dt>{acc_l}</dt><dd>{acc}</dd></dl>
<form method="post" action="/remote/jit/{id}" class="card" id="{form}">{alert}{csrf}{role}{duration}<button type="submit" class="primary">{start}</button></form>"#,
        intro = esc(c.t("jit_choose_intro")),
        user_l = esc(c.t("user")),
        user = esc(&user.name),
        acc_l = esc(c.t("account")),
        acc = esc(account_names(c)
            .get(&user.account_id)
            .map(String::as_str)
            .unwrap_or(&user.account_id)),
        id = enc(&user.id),
        alert = p.alert(form),
        csrf = csrf_field(&c.csrf),
        role = select(form, "role", c.t("role"), &roles, role, p, ""),
        duration = input_hint(
            form,
            "duration",
            c.t("duration_seconds"),
            "number",
            &duration,
            p,
            r#"step="1" inputmode="numeric" required"#,
            &format!("{} {max}", c.t("duration_hint")),
        ),
        start = esc(c.t("start_session")),
    );
    let status = if p.form.is_empty() { StatusCode::OK } else { FAILED };
    c.page_status(status, c.t("start_session"), &crumbs, &body)
}

/// `POST /remote/jit/{cu}`: starts a JIT session; the temporary credentials are shown this once.
pub(crate) async fn jit_start(c: &Ctx<'_>, cu: &str, f: &Form) -> Page {
    let form = "jit-start";
    let role = f.get("role");
    let duration = match f.get("duration") {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let mut p = Problems {
                    form: form.into(),
                    ..Problems::default()
                };
                p.fields.insert("duration".into(), vec![c.t("err_number").into()]);
                return jit_form(c, cu, &p, Some(f));
            }
        },
    };
    let role = (!role.is_empty()).then_some(role);
    match c.m.start_jit(&c.actor, cu, role, duration).await {
        Ok(started) => {
            let s = &started.session;
            // With an API gateway serving, the person gets its credentials (every call is
            // recorded there); the role's STS credentials stay in Porteiro, as with the API.
            let creds = match (c.m.gateway_endpoint(), started.gateway.as_ref()) {
                (Some(endpoint), Some(g)) => format!(
                    r#"<section class="card"><h2>{title}</h2><p class="warn">{once}</p><p>{how}</p><pre id="credentials">export AWS_ACCESS_KEY_ID={ak}
export AWS_SECRET_ACCESS_KEY={sk}
export AWS_ENDPOINT_URL={endpoint}
export AWS_REGION={region}
export AWS_DEFAULT_REGION={region}
unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE</pre></section>"#,
                    title = esc(c.t("temporary_credentials")),
                    once = esc(c.t("shown_once")),
                    how = esc(c.t("gateway_credentials_how")),
                    ak = esc(&g.access_key_id),
                    sk = esc(g.secret_access_key.expose()),
                    endpoint = esc(&endpoint),
                    region = esc(&g.region),
                ),
                _ => started
                    .credentials
                    .as_ref()
                    .map(|k| {
                        format!(
                            r#"<section class="card"><h2>{title}</h2><p class="warn">{once}</p><pre id="credentials">export AWS_ACCESS_KEY_ID={ak}
export AWS_SECRET_ACCESS_KEY={sk}
export AWS_SESSION_TOKEN={tok}</pre></section>"#,
                            title = esc(c.t("temporary_credentials")),
                            once = esc(c.t("shown_once")),
                            ak = esc(&k.access_key_id),
                            sk = esc(k.secret_access_key.expose()),
                            tok = esc(k.session_token.expose()),
                        )
                    })
                    .unwrap_or_default(),
            };
            let body = format!(
                r#"<div class="notice" role="status">{started}</div>{summary}{creds}<p><a href="/my/sessions/{id}">{open}</a></p>"#,
                started = esc(c.t("session_started")),
                summary = session_summary(c, s),
                id = enc(&s.id),
                open = esc(c.t("open_session_page")),
            );
            c.page(
                c.t("session_started_title"),
                &["Cloud IAM", c.t("remote_access"), c.t("jit_access")],
                &body,
            )
        }
        Err(e) => jit_form(c, cu, &c.problems(form, &e), Some(f)),
    }
}

fn session_summary(c: &Ctx<'_>, s: &SessionView) -> String {
    let now = c.m.now();
    let remaining = (s.expires_at - now).max(0);
    let countdown = if s.status == SessionStatus::Active {
        format!(
            r#"<p class="countdown-line">{} <span class="countdown" id="countdown" data-remaining="{remaining}" data-reload-at-end role="timer" aria-live="off">{}</span></p>"#,
            esc(c.t("ends_in")),
            esc(&duration_text(remaining))
        )
    } else {
        String::new()
    };
    format!(
        r#"{countdown}<dl><dt>{id_l}</dt><dd><code>{id}</code></dd><dt>{kind_l}</dt><dd>{kind}</dd><dt>{role_l}</dt><dd>{role}</dd><dt>{dur_l}</dt><dd>{dur}</dd><dt>{start_l}</dt><dd>{start}</dd><dt>{exp_l}</dt><dd>{exp}</dd><dt>{st_l}</dt><dd>{st}</dd></dl>"#,
        id_l = esc(c.t("session_id")),
        id = esc(&s.id),
        kind_l = esc(c.t("kind")),
        kind = esc(kind_text(c, s.kind)),
        role_l = esc(c.t("role")),
        role = esc(s.role_arn.as_deref().unwrap_or("—")),
        dur_l = esc(c.t("duration")),
        dur = esc(&duration_text(s.duration)),
        start_l = esc(c.t("started")),
        start = time(s.started),
        exp_l = esc(c.t("expires")),
        exp = time(s.expires_at),
        st_l = esc(c.t("status")),
        st = esc(session_status_text(c, s.status)),
    )
}

/// My sessions: the actor's own sessions, with countdowns.
pub(crate) fn my_sessions(c: &Ctx<'_>) -> Page {
    let sessions = match c.m.list_sessions(&c.actor) {
        Ok(s) => s,
        Err(e) => return c.page(c.t("my_sessions"), &[], &load_error(c, &e)),
    };
    let now = c.m.now();
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .filter(|s| s.user_id == c.actor.user_id)
        .map(|s| {
            let left = if s.status == SessionStatus::Active {
                format!(
                    r#"<span class="countdown" data-remaining="{}">{}</span>"#,
                    (s.expires_at - now).max(0),
                    esc(&duration_text(s.expires_at - now))
                )
            } else {
                s.ended_at.map(time).unwrap_or_default()
            };
            vec![
                format!(r#"<a href="/my/sessions/{}">{}</a>"#, enc(&s.id), esc(&s.id)),
                esc(kind_text(c, s.kind)),
                esc(s.role_arn.as_deref().unwrap_or("—")),
                time(s.started),
                esc(session_status_text(c, s.status)),
                left,
            ]
        })
        .collect();
    let body = table(
        c.t("my_sessions"),
        &[
            c.t("session_id"),
            c.t("kind"),
            c.t("role"),
            c.t("started"),
            c.t("status"),
            c.t("ends_in_or_ended"),
        ],
        &rows,
        c.t("no_sessions"),
    );
    c.page(c.t("my_sessions"), &[], &body)
}

/// One session: the countdown while it is active; "You have been disconnected" once it ended.
pub(crate) fn my_session(c: &Ctx<'_>, id: &str) -> Page {
    let s = match c.m.get_session(&c.actor, id) {
        Ok(s) => s,
        Err(e) => return c.page_status(StatusCode::NOT_FOUND, c.t("my_sessions"), &[], &load_error(c, &e)),
    };
    if s.status != SessionStatus::Active {
        let why = match (s.status, &s.ended_by) {
            (SessionStatus::Dropped, Some(by)) => format!("{} {by}.", c.t("disconnected_dropped_by")),
            (SessionStatus::Dropped, None) => c.t("disconnected_dropped").to_string(),
            _ => c.t("disconnected_expired").to_string(),
        };
        let body = format!(
            r#"<div class="warn" role="alert" id="disconnected"><p>{why}</p><p>{when} {at}</p></div>{summary}<p><a href="/remote/jit">{again_jit}</a> · <a href="/remote/console">{again_console}</a></p>"#,
            why = esc(&why),
            when = esc(c.t("disconnected_at")),
            at = s.ended_at.map(time).unwrap_or_default(),
            summary = session_summary(c, &s),
            again_jit = esc(c.t("jit_access")),
            again_console = esc(c.t("cloud_console")),
        );
        return c.page(c.t("disconnected_title"), &[c.t("my_sessions")], &body);
    }
    let open = if s.kind == SessionKind::Console {
        format!(
            r#"<form method="post" action="/my/sessions/{}/open">{}<button type="submit" class="primary">{}</button></form>"#,
            enc(&s.id),
            csrf_field(&c.csrf),
            esc(c.t("open_console"))
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<div data-status-url="/my/sessions/{id}/status">{summary}{open}<p class="hint">{auto}</p></div>"#,
        id = enc(&s.id),
        summary = session_summary(c, &s),
        auto = esc(c.t("info_jit_expiry")),
    );
    c.page(c.t("session_title"), &[c.t("my_sessions")], &body)
}

/// `POST /my/sessions/{id}/open`: a one-time launch from the console gateway, then its page
/// (the gateway sets the browser's session cookie and opens the console through Porteiro).
pub(crate) fn open_console(c: &Ctx<'_>, id: &str) -> Page {
    let refused = |message: &str| {
        let body = format!(
            r#"<div class="error" role="alert"><p>{}</p></div><p><a href="/my/sessions/{}">{}</a></p>"#,
            esc(message),
            enc(id),
            esc(c.t("my_sessions"))
        );
        c.page_status(
            StatusCode::CONFLICT,
            c.t("open_console"),
            &[c.t("my_sessions")],
            &body,
        )
    };
    let Some(launch) = c.web.config.console_launcher.as_ref() else {
        return refused(
            "No console gateway serves on this Porteiro: consoles open through `porteiro serve`.",
        );
    };
    match launch(&c.actor, id) {
        Ok(path) => crate::html::redirect(&path),
        Err(message) => refused(&message),
    }
}

/// `GET /my/sessions/{id}/status`: `{"status": "active"}` (for the page's poll).
pub(crate) fn status(c: &Ctx<'_>, id: &str) -> Page {
    let (code, body) = match c.m.get_session(&c.actor, id) {
        Ok(s) => (
            StatusCode::OK,
            serde_json::json!({"status": s.status, "expires_at": s.expires_at, "now": c.m.now()}),
        ),
        Err(_) => (StatusCode::NOT_FOUND, serde_json::json!({"status": "unknown"})),
    };
    crate::html::respond(code, "application/json", body.to_string())
}
