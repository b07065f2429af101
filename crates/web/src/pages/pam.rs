//! PAM Core ➔ Access Control ➔ Remote Sessions: every session with filters, drop, and the
//! recordings (replay, verify, export) that the gateway wrote under the data directory.

use std::collections::HashMap;

use hyper::StatusCode;
use hyper::header::HeaderValue;
use porteiro_manager::model::{Permission, SessionKind, SessionStatus};
use porteiro_manager::store::AuditFilter;
use porteiro_recording::archive::Contents;
use porteiro_recording::play::{format_offset, read_events, text_replay};
use porteiro_recording::{RecordingStore, SessionId, Verdict, verify_stored};
use std::sync::Arc;

use super::remote::{kind_text, session_status_text};
use super::{Page, account_names, load_error};
use crate::Ctx;
use crate::html::{
    Problems, TZ_FIELD, button_form, enc, esc, input, parse_local_datetime, redirect, select, table, time,
};

fn store(c: &Ctx<'_>) -> Option<Arc<dyn RecordingStore>> {
    c.web.config.recordings.clone()
}

fn may_view_recordings(c: &Ctx<'_>) -> bool {
    c.can(Permission::ViewRecordings)
}

/// Session id → the address the session was started from (from the audit trail, which only
/// administrators read).
fn origins(c: &Ctx<'_>) -> HashMap<String, String> {
    let filter = AuditFilter {
        entity: Some("session".into()),
        action_prefix: Some("session.start".into()),
        limit: 1000,
        ..AuditFilter::default()
    };
    c.m.audit(&c.actor, &filter)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| e.source.map(|s| (e.entity_id, s)))
        .collect()
}

/// The Remote Sessions report.
pub(crate) fn sessions(c: &Ctx<'_>, p: &Problems) -> Page {
    let crumbs = ["PAM Core", c.t("access_control")];
    let q = &c.query;
    let form = "filters";
    let mut fp = Problems::none();
    let since = match q.get("since") {
        "" => None,
        s => {
            let t = parse_local_datetime(s, q.get("tz"));
            if t.is_none() {
                fp = Problems {
                    form: form.into(),
                    ..Problems::default()
                };
                fp.fields.insert("since".into(), vec![c.t("err_datetime").into()]);
            }
            t
        }
    };
    let list = match c.m.list_sessions(&c.actor) {
        Ok(l) => l,
        Err(e) => return c.page(c.t("remote_sessions"), &crumbs, &load_error(c, &e)),
    };
    let accounts = account_names(c);
    let origins = origins(c);
    let store = store(c);
    let recorded: Vec<String> = store
        .as_ref()
        .and_then(|s| s.list().ok())
        .unwrap_or_default()
        .into_iter()
        .map(|id| id.as_str().to_string())
        .collect();
    let like = |have: &str, want: &str| want.is_empty() || have.to_lowercase().contains(&want.to_lowercase());
    let now = c.m.now();
    let rows: Vec<Vec<String>> = list
        .iter()
        .filter(|s| like(&s.id, q.get("id")))
        .filter(|s| like(&s.username, q.get("user")))
        .filter(|s| {
            let name = accounts.get(&s.account_id).map(String::as_str).unwrap_or("");
            like(name, q.get("account")) || like(&s.account_id, q.get("account"))
        })
        .filter(|s| match q.get("kind") {
            "console" => s.kind == SessionKind::Console,
            "jit" => s.kind == SessionKind::Jit,
            _ => true,
        })
        .filter(|s| match q.get("status") {
            "active" => s.status == SessionStatus::Active,
            "expired" => s.status == SessionStatus::Expired,
            "dropped" => s.status == SessionStatus::Dropped,
            _ => true,
        })
        .filter(|s| like(origins.get(&s.id).map(String::as_str).unwrap_or(""), q.get("origin")))
        .filter(|s| since.is_none_or(|t| s.started >= t))
        .map(|s| {
            let mut recording = String::new();
            if recorded.contains(&s.id) && may_view_recordings(c) {
                recording = format!(
                    r#"<a href="/pam/sessions/{id}/replay">{replay}</a> · <a href="/pam/sessions/{id}/verify">{verify}</a> · <a href="/pam/sessions/{id}/export">{export}</a>"#,
                    id = enc(&s.id),
                    // A running session's recording grows: its replay is the live view.
                    replay = esc(if s.status == SessionStatus::Active {
                        c.t("live_view")
                    } else {
                        c.t("replay")
                    }),
                    verify = esc(c.t("verify")),
                    export = esc(c.t("export")),
                );
            } else if recorded.contains(&s.id) {
                recording = esc(c.t("recorded"));
            }
            let action = if s.status == SessionStatus::Active && c.can(Permission::DropSessions) {
                button_form(&format!("/pam/sessions/{}/drop", enc(&s.id)), &c.csrf, c.t("drop"), "danger", &[])
            } else {
                String::new()
            };
            let end = match s.ended_at {
                Some(t) => time(t),
                None => format!("{} ({})", time(s.expires_at), esc(&crate::html::duration_text(s.expires_at - now))),
            };
            vec![
                format!("<code>{}</code>", esc(&s.id)),
                esc(&s.username),
                esc(accounts.get(&s.account_id).map(String::as_str).unwrap_or(&s.account_id)),
                esc(kind_text(c, s.kind)),
                esc(s.role_arn.as_deref().unwrap_or("—")),
                esc(origins.get(&s.id).map(String::as_str).unwrap_or("—")),
                time(s.started),
                end,
                format!(
                    r#"<span class="{}">{}</span>{}"#,
                    if s.status == SessionStatus::Active { "status-active" } else { "status-ended" },
                    esc(session_status_text(c, s.status)),
                    s.ended_by
                        .as_ref()
                        .map(|b| format!(" ({} {})", esc(c.t("by")), esc(b)))
                        .unwrap_or_default()
                ),
                recording,
                action,
            ]
        })
        .collect();
    let kinds = [
        (String::new(), c.t("any").to_string()),
        ("console".to_string(), c.t("cloud_console").to_string()),
        ("jit".to_string(), c.t("jit_access").to_string()),
    ];
    let statuses = [
        (String::new(), c.t("any").to_string()),
        ("active".to_string(), c.t("ss_active").to_string()),
        ("expired".to_string(), c.t("ss_expired").to_string()),
        ("dropped".to_string(), c.t("ss_dropped").to_string()),
    ];
    let filters = format!(
        r#"<form method="get" action="/pam/sessions" class="card filters" id="{form}" role="search">{id}{user}{account}{kind}{origin}{since}{status}{TZ_FIELD}<button type="submit">{apply}</button></form>"#,
        id = input(form, "id", c.t("session_id"), "text", q.get("id"), &fp, ""),
        user = input(form, "user", c.t("user"), "text", q.get("user"), &fp, ""),
        account = input(form, "account", c.t("account"), "text", q.get("account"), &fp, ""),
        kind = select(form, "kind", c.t("kind"), &kinds, q.get("kind"), &fp, ""),
        origin = input(form, "origin", c.t("origin_ip"), "text", q.get("origin"), &fp, ""),
        since = input(
            form,
            "since",
            c.t("started_after"),
            "datetime-local",
            q.get("since"),
            &fp,
            ""
        ),
        status = select(form, "status", c.t("status"), &statuses, q.get("status"), &fp, ""),
        apply = esc(c.t("apply_filters")),
    );
    let body = format!(
        "<p>{}</p>{filters}{}{}",
        esc(c.t("pam_intro")),
        p.alert("sessions-row"),
        table(
            c.t("remote_sessions"),
            &[
                c.t("session_id"),
                c.t("user"),
                c.t("account"),
                c.t("kind"),
                c.t("role"),
                c.t("origin_ip"),
                c.t("started"),
                c.t("ends_or_ended"),
                c.t("status"),
                c.t("recording"),
                c.t("action"),
            ],
            &rows,
            c.t("no_sessions"),
        )
    );
    let status = if p.form.is_empty() && fp.form.is_empty() {
        StatusCode::OK
    } else {
        super::FAILED
    };
    c.page_status(status, c.t("remote_sessions"), &crumbs, &body)
}

/// `POST /pam/sessions/{id}/drop`.
pub(crate) async fn drop(c: &Ctx<'_>, id: &str) -> Page {
    match c.m.drop_session(&c.actor, id).await {
        Ok(s) => {
            c.flash(format!("{} {}", c.t("session_dropped"), s.id));
            redirect("/pam/sessions")
        }
        Err(e) => sessions(c, &c.problems("sessions-row", &e)),
    }
}

fn recording_id(c: &Ctx<'_>, id: &str) -> Result<(Arc<dyn RecordingStore>, SessionId), String> {
    if !may_view_recordings(c) {
        return Err(format!(
            "{} \"{}\"",
            c.t("err_view_recordings"),
            c.lang.permission(Permission::ViewRecordings)
        ));
    }
    // The session must be one the actor may see.
    c.m.get_session(&c.actor, id)
        .map_err(|e| crate::i18n::error_text(c.lang, &e))?;
    let store = store(c).ok_or_else(|| c.t("no_recording").to_string())?;
    let sid = SessionId::new(id).map_err(|e| e.to_string())?;
    if !store.list().map_err(|e| e.to_string())?.contains(&sid) {
        return Err(c.t("no_recording").to_string());
    }
    Ok((store, sid))
}

fn refused(c: &Ctx<'_>, title: &str, message: &str) -> Page {
    c.page_status(
        StatusCode::NOT_FOUND,
        title,
        &["PAM Core", c.t("access_control"), c.t("remote_sessions")],
        &format!(r#"<div class="error" role="alert">{}</div>"#, esc(message)),
    )
}

/// The text replay of a recording.
pub(crate) fn replay(c: &Ctx<'_>, id: &str) -> Page {
    let title = c.t("replay");
    let (store, sid) = match recording_id(c, id) {
        Ok(x) => x,
        Err(m) => return refused(c, title, &m),
    };
    let events = store
        .events(&sid)
        .map_err(|e| e.to_string())
        .and_then(|r| read_events(r).map_err(|e| e.to_string()));
    let events = match events {
        Ok(e) => e,
        Err(m) => return refused(c, title, &m),
    };
    let rows: Vec<Vec<String>> = text_replay(&events)
        .iter()
        .map(|s| {
            vec![
                esc(&format_offset(s.offset_ms)),
                esc(&s.seq.to_string()),
                format!("<pre>{}</pre>", esc(&s.text)),
            ]
        })
        .collect();
    // While the session runs, the page follows the recording (the script reloads it).
    let live =
        c.m.get_session(&c.actor, id)
            .is_ok_and(|s| s.status == SessionStatus::Active);
    let live_note = if live {
        format!(
            r#"<p class="notice" role="status" id="live" data-refresh="3">{}</p>"#,
            esc(c.t("live_note"))
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{live_note}<p><code>{}</code> · <a href="/pam/sessions/{}/verify">{}</a></p>{}"#,
        esc(id),
        enc(id),
        esc(c.t("verify")),
        table(
            title,
            &[c.t("offset"), "seq", c.t("event")],
            &rows,
            c.t("no_events")
        )
    );
    c.page(
        title,
        &["PAM Core", c.t("access_control"), c.t("remote_sessions")],
        &body,
    )
}

/// Verifies a recording (hash chain and signed manifest).
pub(crate) fn verify(c: &Ctx<'_>, id: &str) -> Page {
    let title = c.t("verify");
    let (store, sid) = match recording_id(c, id) {
        Ok(x) => x,
        Err(m) => return refused(c, title, &m),
    };
    let report = match verify_stored(store.as_ref(), &sid, None) {
        Ok(r) => r,
        Err(e) => return refused(c, title, &e.to_string()),
    };
    let (class, verdict) = match &report.verdict {
        Verdict::Verified { status } => ("notice", format!("{} ({status:?})", c.t("verified"))),
        Verdict::Open => ("warn", c.t("recording_open").to_string()),
        Verdict::Broken { problem } => ("error", format!("{} {problem}", c.t("broken"))),
    };
    let body = format!(
        r#"<div class="{class}" role="status" id="verdict">{verdict}</div><dl><dt>{sid_l}</dt><dd><code>{sid}</code></dd><dt>{n_l}</dt><dd>{n}</dd><dt>{head_l}</dt><dd><code>{head}</code></dd></dl><p><a href="/pam/sessions/{id}/replay">{replay}</a> · <a href="/pam/sessions/{id}/export">{export}</a></p>"#,
        verdict = esc(&verdict),
        sid_l = esc(c.t("session_id")),
        sid = esc(&report.session_id),
        n_l = esc(c.t("verified_events")),
        n = report.verified_events,
        head_l = esc(c.t("chain_head")),
        head = esc(&report.chain_head),
        id = enc(id),
        replay = esc(c.t("replay")),
        export = esc(c.t("export")),
    );
    c.page(
        title,
        &["PAM Core", c.t("access_control"), c.t("remote_sessions")],
        &body,
    )
}

/// The self-contained archive of a recording (verifies offline with `porteiro recordings`).
pub(crate) fn export(c: &Ctx<'_>, id: &str) -> Page {
    let title = c.t("export");
    let (store, sid) = match recording_id(c, id) {
        Ok(x) => x,
        Err(m) => return refused(c, title, &m),
    };
    let archive =
        Contents::from_store(store.as_ref(), &sid).and_then(|contents| contents.write_archive(Vec::new()));
    match archive {
        Ok(bytes) => {
            let mut r = crate::html::respond(StatusCode::OK, "application/x-tar", bytes);
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}.tar\"", sid.as_str())) {
                r.headers_mut().insert(hyper::header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(e) => refused(c, title, &e.to_string()),
    }
}
