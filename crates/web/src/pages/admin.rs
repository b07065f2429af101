//! Cloud IAM ➔ Settings ➔ JIT Access; cloud IAM users (and their jobs), credentials,
//! accounts, platform users, access groups; the audit trail.

use hyper::StatusCode;
use porteiro_manager::manager::{
    GroupInput, JitInput, NewAccount, NewCloudUser, NewCredential, NewUser, UserPatch,
};
use porteiro_manager::model::{JobState, Permission};
use porteiro_manager::store::AuditFilter;
use porteiro_manager::vault::Secret;

use super::remote::{origin_text, status_text};
use super::{FAILED, Page, account_names, load_error, usernames};
use crate::Ctx;
use crate::form::Form;
use crate::html::{
    Problems, TZ_FIELD, button_form, checkboxes, csrf_field, enc, esc, input, input_hint,
    parse_local_datetime, redirect, select, table, textarea, time, yes_no,
};

fn status_of(p: &Problems) -> StatusCode {
    if p.form.is_empty() { StatusCode::OK } else { FAILED }
}

/// A field error of our own (a number that is not one).
fn field_problem(form: &str, field: &str, message: &str) -> Problems {
    let mut p = Problems {
        form: form.into(),
        ..Problems::default()
    };
    p.fields.insert(field.into(), vec![message.into()]);
    p
}

fn optional_number(c: &Ctx<'_>, f: &Form, form: &str, field: &str) -> Result<Option<i64>, Problems> {
    match f.get(field) {
        "" => Ok(None),
        v => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| field_problem(form, field, c.t("err_number"))),
    }
}

fn yes_no_text(c: &Ctx<'_>, v: bool) -> &'static str {
    if v { c.t("yes") } else { c.t("no") }
}

// ---- Cloud IAM ➔ Settings ➔ JIT Access ----

/// The JIT settings list, with the ⁝ Actions menu (New).
pub(crate) fn jit_list(c: &Ctx<'_>) -> Page {
    let crumbs = ["Cloud IAM", c.t("settings")];
    let settings = match c.m.list_jit_settings(&c.actor) {
        Ok(s) => s,
        Err(e) => return c.page(c.t("jit_access"), &crumbs, &load_error(c, &e)),
    };
    let accounts = account_names(c);
    let rows: Vec<Vec<String>> = settings
        .iter()
        .map(|s| {
            vec![
                esc(accounts.get(&s.id).map(String::as_str).unwrap_or(&s.id)),
                esc(yes_no_text(c, s.active)),
                esc(&s.description),
                esc(yes_no_text(c, s.jit_enabled)),
                esc(&s.duration.to_string()),
                esc(&s.roles.join(", ")),
                format!(
                    r#"<a href="/settings/jit/{}">{}</a>"#,
                    enc(&s.id),
                    esc(c.t("edit"))
                ),
            ]
        })
        .collect();
    let menu = format!(
        r#"<div class="toolbar"><p>{intro}</p><details class="menu"><summary aria-label="{actions}" title="{actions}">⁝</summary><ul role="menu"><li role="none"><a role="menuitem" href="/settings/jit/new">{new}</a></li></ul></details></div>"#,
        intro = esc(c.t("jit_settings_intro")),
        actions = esc(c.t("actions")),
        new = esc(c.t("new")),
    );
    let body = format!(
        "{menu}{}",
        table(
            c.t("jit_access"),
            &[
                c.t("account"),
                c.t("active"),
                c.t("description"),
                c.t("jit_enabled"),
                c.t("duration_seconds"),
                c.t("roles"),
                c.t("action"),
            ],
            &rows,
            c.t("no_jit_settings"),
        )
    );
    c.page(c.t("jit_access"), &crumbs, &body)
}

/// The JIT settings form: Account, Active, then the Information (Description) and AWS (JIT
/// Enabled, Duration, Roles) tabs, and Save. Without an account yet, the first step chooses one.
pub(crate) async fn jit_form(
    c: &Ctx<'_>,
    account: Option<&str>,
    new: bool,
    p: &Problems,
    values: Option<&Form>,
) -> Page {
    let title = if new {
        c.t("jit_new_title")
    } else {
        c.t("jit_edit_title")
    };
    let crumbs = ["Cloud IAM", c.t("settings"), c.t("jit_access")];
    let form = "jit";
    let accounts = c.m.list_accounts(&c.actor).unwrap_or_default();
    let Some(account) = account else {
        let mut options = vec![(String::new(), c.t("choose_account").to_string())];
        options.extend(accounts.iter().map(|a| (a.id.clone(), a.name.clone())));
        let body = format!(
            r#"<form method="get" action="/settings/jit/new" class="card" id="jit-account">{}<button type="submit">{}</button></form>"#,
            select(
                "jit-account",
                "account",
                c.t("account"),
                &options,
                "",
                &Problems::none(),
                "data-autosubmit required"
            ),
            esc(c.t("continue")),
        );
        return c.page(title, &crumbs, &body);
    };
    let Some(acc) = accounts.iter().find(|a| a.id == account) else {
        let e = porteiro_manager::Error::NotFound {
            kind: "account",
            id: account.to_string(),
        };
        return c.page_status(StatusCode::NOT_FOUND, title, &crumbs, &load_error(c, &e));
    };
    let existing = c.m.get_jit_settings(&c.actor, account).ok();
    let active = values
        .map(|v| v.yes("active"))
        .or(existing.as_ref().map(|s| s.active))
        .unwrap_or(true);
    let description = values
        .map(|v| v.get("description").to_string())
        .or(existing.as_ref().map(|s| s.description.clone()))
        .unwrap_or_default();
    let enabled = values
        .map(|v| v.yes("jit_enabled"))
        .or(existing.as_ref().map(|s| s.jit_enabled))
        .unwrap_or(true);
    let duration = values
        .map(|v| v.get("duration").to_string())
        .or(existing.as_ref().map(|s| s.duration.to_string()))
        .unwrap_or_else(|| "3600".into());
    let chosen: Vec<String> = values
        .map(|v| v.all("roles"))
        .or(existing.as_ref().map(|s| s.roles.clone()))
        .unwrap_or_default();
    // The account's roles, fresh from the cloud (the manager checks the permission).
    let (role_options, roles_error) = match c.m.list_roles(&c.actor, account).await {
        Ok(roles) => (
            roles
                .iter()
                .map(|r| {
                    (
                        r.name.clone(),
                        format!("{} (max {} s)", r.name, r.max_session_duration),
                    )
                })
                .collect::<Vec<_>>(),
            String::new(),
        ),
        Err(e) => (vec![], c.problems("roles-load", &e).alert("roles-load")),
    };
    let roles_html = if role_options.is_empty() && roles_error.is_empty() {
        let mut shown = p.clone();
        shown.fields.entry("roles".into()).or_default();
        format!(
            r#"<fieldset class="field" id="jit-roles"><legend>{}</legend><p class="empty">{}</p>{}</fieldset>"#,
            esc(c.t("roles")),
            esc(c.t("no_roles")),
            p.fields
                .get("roles")
                .filter(|_| p.about(form))
                .map(|m| format!(
                    r#"<span class="field-error" role="alert">{}</span>"#,
                    esc(&m.join(" "))
                ))
                .unwrap_or_default()
        )
    } else {
        format!(
            "{roles_error}{}",
            checkboxes(form, "roles", c.t("roles"), &role_options, &chosen, p)
        )
    };
    // The tab holding a field error opens first.
    let aws_first = p.about(form)
        && ["jit_enabled", "duration", "roles"]
            .iter()
            .any(|f| p.fields.contains_key(*f));
    let (info_sel, aws_sel) = if aws_first {
        ("false", "true")
    } else {
        ("true", "false")
    };
    let body = format!(
        r#"<form method="post" action="/settings/jit/save" class="card" id="{form}">{alert}{csrf}
<input type="hidden" name="account" value="{acc_id}">
<dl><dt>{acc_l}</dt><dd>{acc_name} <small>({aws_id})</small></dd></dl>
{active}
<div role="tablist" aria-label="{tabs_l}">
<button type="button" role="tab" id="tab-info" aria-controls="panel-info" aria-selected="{info_sel}">{info_l}</button>
<button type="button" role="tab" id="tab-aws" aria-controls="panel-aws" aria-selected="{aws_sel}">AWS</button>
</div>
<div role="tabpanel" id="panel-info" aria-labelledby="tab-info">{description}</div>
<div role="tabpanel" id="panel-aws" aria-labelledby="tab-aws">{enabled}{duration}{roles}</div>
<button type="submit" class="primary">{save}</button></form>"#,
        alert = p.alert(form),
        csrf = csrf_field(&c.csrf),
        acc_id = esc(&acc.id),
        acc_l = esc(c.t("account")),
        acc_name = esc(&acc.name),
        aws_id = esc(acc.aws_account_id.as_deref().unwrap_or("?")),
        active = yes_no(form, "active", c.t("active"), active, c.lang, p),
        tabs_l = esc(c.t("jit_access")),
        info_l = esc(c.t("tab_information")),
        description = textarea(form, "description", c.t("description"), &description, p),
        enabled = yes_no(form, "jit_enabled", c.t("jit_enabled"), enabled, c.lang, p),
        duration = input_hint(
            form,
            "duration",
            c.t("duration_seconds"),
            "number",
            &duration,
            p,
            r#"step="1" inputmode="numeric" required"#,
            c.t("duration_min_hint"),
        ),
        roles = roles_html,
        save = esc(c.t("save")),
    );
    c.page_status(status_of(p), title, &crumbs, &body)
}

/// `POST /settings/jit/save`.
pub(crate) async fn jit_save(c: &Ctx<'_>, f: &Form) -> Page {
    let form = "jit";
    let account = f.get("account");
    let new = c.m.get_jit_settings(&c.actor, account).is_err();
    let duration = match f.get("duration").parse::<i64>() {
        Ok(d) => d,
        Err(_) => {
            let p = field_problem(form, "duration", c.t("err_number"));
            return jit_form(c, Some(account), new, &p, Some(f)).await;
        }
    };
    let input = JitInput {
        active: f.yes("active"),
        description: f.get("description").to_string(),
        jit_enabled: f.yes("jit_enabled"),
        duration,
        roles: f.all("roles"),
    };
    match c.m.put_jit_settings(&c.actor, account, input).await {
        Ok(_) => {
            c.flash(c.t("saved").to_string());
            redirect("/settings/jit")
        }
        Err(e) => jit_form(c, Some(account), new, &c.problems(form, &e), Some(f)).await,
    }
}

// ---- Cloud IAM users ----

fn account_options(c: &Ctx<'_>) -> Vec<(String, String)> {
    let mut o = vec![(String::new(), c.t("choose_account").to_string())];
    o.extend(
        c.m.list_accounts(&c.actor)
            .unwrap_or_default()
            .into_iter()
            .map(|a| (a.id, a.name)),
    );
    o
}

/// Cloud IAM users: list (status, origin, owner), New, Import, Delete.
pub(crate) fn users(c: &Ctx<'_>, p: &Problems, values: Option<&Form>) -> Page {
    let crumbs = ["Cloud IAM"];
    let list = match c.m.list_cloud_users(&c.actor) {
        Ok(l) => l,
        Err(e) => return c.page(c.t("cloud_users"), &crumbs, &load_error(c, &e)),
    };
    let names = usernames(c);
    let accounts = account_names(c);
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|u| {
            let delete = if c.can(Permission::DeleteUsers)
                && u.status != porteiro_manager::model::CloudUserStatus::Unprovisioned
            {
                button_form(
                    &format!("/users/{}/delete", enc(&u.id)),
                    &c.csrf,
                    c.t("delete"),
                    "danger",
                    &[],
                )
            } else {
                String::new()
            };
            vec![
                format!(r#"<a href="/users/{}">{}</a>"#, enc(&u.id), esc(&u.name)),
                esc(accounts
                    .get(&u.account_id)
                    .map(String::as_str)
                    .unwrap_or(&u.account_id)),
                esc(u
                    .owner
                    .as_ref()
                    .and_then(|o| names.get(o))
                    .map(String::as_str)
                    .unwrap_or("—")),
                esc(origin_text(c, u.origin)),
                esc(status_text(c, u.status)),
                u.expires_at.map(time).unwrap_or_else(|| "—".into()),
                esc(u.last_error.as_deref().unwrap_or("")),
                format!(
                    r#"<a href="/users/{}">{}</a> {delete}"#,
                    enc(&u.id),
                    esc(c.t("jobs"))
                ),
            ]
        })
        .collect();
    let mut body = format!(
        "{}{}",
        p.alert("users-row"),
        table(
            c.t("cloud_users"),
            &[
                c.t("name"),
                c.t("account"),
                c.t("owner"),
                c.t("origin"),
                c.t("status"),
                c.t("expires"),
                c.t("last_error"),
                c.t("action"),
            ],
            &rows,
            c.t("no_cloud_users"),
        )
    );
    if c.can(Permission::CreateEditUsers) {
        let v = |k: &str| values.map(|f| f.get(k).to_string()).unwrap_or_default();
        let mut owners = vec![(String::new(), c.t("choose_owner").to_string())];
        let mut people: Vec<(String, String)> = names.iter().map(|(id, n)| (id.clone(), n.clone())).collect();
        people.sort_by(|a, b| a.1.cmp(&b.1));
        owners.extend(people);
        let form = "new-cloud-user";
        body.push_str(&format!(
            r#"<form method="post" action="/users/new" class="card" id="{form}"><h2>{title}</h2>{alert}{csrf}{account}{owner}{name}{policies}{ttl}<button type="submit" class="primary">{create}</button></form>"#,
            title = esc(c.t("new_cloud_user")),
            alert = p.alert(form),
            csrf = csrf_field(&c.csrf),
            account = select(form, "account_id", c.t("account"), &account_options(c), &v("account_id"), p, "required"),
            owner = select(form, "owner", c.t("owner"), &owners, &v("owner"), p, "required"),
            name = input_hint(form, "name", c.t("iam_name"), "text", &v("name"), p, "", c.t("iam_name_hint")),
            policies = textarea(form, "policies", c.t("policies"), &v("policies"), p),
            ttl = input_hint(form, "ttl", c.t("ttl"), "number", &v("ttl"), p, r#"step="1" inputmode="numeric""#, c.t("ttl_hint")),
            create = esc(c.t("create")),
        ));
        let form = "import";
        body.push_str(&format!(
            r#"<form method="post" action="/users/import" class="card" id="{form}"><h2>{title}</h2><p>{warn}</p>{alert}{csrf}{account}<button type="submit">{import}</button></form>"#,
            title = esc(c.t("import_users")),
            warn = esc(c.t("import_warning")),
            alert = p.alert(form),
            csrf = csrf_field(&c.csrf),
            account = select(form, "account_id", c.t("account"), &account_options(c), &v("account_id"), p, "required"),
            import = esc(c.t("import")),
        ));
    }
    c.page_status(status_of(p), c.t("cloud_users"), &crumbs, &body)
}

/// `POST /users/new`.
pub(crate) async fn user_create(c: &Ctx<'_>, f: &Form) -> Page {
    let form = "new-cloud-user";
    let ttl = match optional_number(c, f, form, "ttl") {
        Ok(t) => t,
        Err(p) => return users(c, &p, Some(f)),
    };
    let policies: Vec<String> = f
        .get("policies")
        .split(['\n', ',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let input = NewCloudUser {
        account_id: f.get("account_id").to_string(),
        owner: f.get("owner").to_string(),
        name: Some(f.get("name").to_string()).filter(|n| !n.is_empty()),
        policies,
        ttl,
    };
    match c.m.create_cloud_user(&c.actor, input).await {
        Ok(u) => {
            c.flash(format!(
                "{} {} ({})",
                c.t("cloud_user_created"),
                u.name,
                status_text(c, u.status)
            ));
            redirect("/users")
        }
        Err(e) => users(c, &c.problems(form, &e), Some(f)),
    }
}

/// `POST /users/import`.
pub(crate) async fn user_import(c: &Ctx<'_>, f: &Form) -> Page {
    match c.m.import_cloud_users(&c.actor, f.get("account_id")).await {
        Ok(list) => {
            c.flash(format!("{} {}", c.t("imported_n"), list.len()));
            redirect("/users")
        }
        Err(e) => users(c, &c.problems("import", &e), Some(f)),
    }
}

/// `POST /users/{id}/delete`.
pub(crate) async fn user_delete(c: &Ctx<'_>, id: &str) -> Page {
    match c.m.delete_cloud_user(&c.actor, id).await {
        Ok(u) => {
            c.flash(format!(
                "{} {} ({})",
                c.t("cloud_user_deleted"),
                u.name,
                status_text(c, u.status)
            ));
            redirect("/users")
        }
        Err(e) => users(c, &c.problems("users-row", &e), None),
    }
}

/// One cloud IAM user and its job history.
pub(crate) fn user_detail(c: &Ctx<'_>, id: &str) -> Page {
    let crumbs = ["Cloud IAM", c.t("cloud_users")];
    let u = match c.m.get_cloud_user(&c.actor, id) {
        Ok(u) => u,
        Err(e) => {
            return c.page_status(
                StatusCode::NOT_FOUND,
                c.t("cloud_users"),
                &crumbs,
                &load_error(c, &e),
            );
        }
    };
    let jobs = c.m.cloud_user_jobs(&c.actor, id).unwrap_or_default();
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let kind = serde_json::to_value(&j.kind)
                .ok()
                .and_then(|v| v["type"].as_str().map(String::from))
                .unwrap_or_default();
            let history: String = j
                .history
                .iter()
                .map(|h| format!("<li>{} — {}</li>", time(h.at), esc(&h.outcome)))
                .collect();
            vec![
                esc(&kind),
                esc(match j.state {
                    JobState::Pending => c.t("job_pending"),
                    JobState::Done => c.t("job_done"),
                    JobState::Failed => c.t("job_failed"),
                }),
                esc(&format!("{}/{}", j.attempts, j.max_attempts)),
                time(j.due_at),
                format!("<ul>{history}</ul>"),
            ]
        })
        .collect();
    let body = format!(
        r#"<dl><dt>{name_l}</dt><dd>{name}</dd><dt>ARN</dt><dd><code>{arn}</code></dd><dt>{origin_l}</dt><dd>{origin}</dd><dt>{status_l}</dt><dd>{status}</dd><dt>{pol_l}</dt><dd>{pol}</dd><dt>{err_l}</dt><dd>{err}</dd></dl>{jobs}"#,
        name_l = esc(c.t("name")),
        name = esc(&u.name),
        arn = esc(u.arn.as_deref().unwrap_or("—")),
        origin_l = esc(c.t("origin")),
        origin = esc(origin_text(c, u.origin)),
        status_l = esc(c.t("status")),
        status = esc(status_text(c, u.status)),
        pol_l = esc(c.t("policies")),
        pol = esc(&u.policies.join(", ")),
        err_l = esc(c.t("last_error")),
        err = esc(u.last_error.as_deref().unwrap_or("—")),
        jobs = table(
            c.t("job_history"),
            &[
                c.t("job"),
                c.t("status"),
                c.t("attempts"),
                c.t("due"),
                c.t("history")
            ],
            &rows,
            c.t("no_jobs"),
        ),
    );
    c.page(&u.name, &crumbs, &body)
}

// ---- credentials ----

/// Credentials: list, New (the secret shown once), Delete.
pub(crate) fn credentials(c: &Ctx<'_>, p: &Problems, values: Option<&Form>) -> Page {
    let crumbs = ["Cloud IAM"];
    let list = match c.m.list_credentials(&c.actor) {
        Ok(l) => l,
        Err(e) => return c.page(c.t("credentials"), &crumbs, &load_error(c, &e)),
    };
    let cloud_users = c.m.list_cloud_users(&c.actor).unwrap_or_default();
    let name_of = |id: &str| {
        cloud_users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|k| {
            let delete = if c.can(Permission::DeleteCredentials) {
                button_form(
                    &format!("/credentials/{}/delete", enc(&k.id)),
                    &c.csrf,
                    c.t("delete"),
                    "danger",
                    &[],
                )
            } else {
                String::new()
            };
            vec![
                format!("<code>{}</code>", esc(&k.access_key_id)),
                esc(&name_of(&k.cloud_user_id)),
                time(k.created),
                k.expires_at.map(time).unwrap_or_else(|| "—".into()),
                delete,
            ]
        })
        .collect();
    let mut body = format!(
        "{}{}",
        p.alert("credentials-row"),
        table(
            c.t("credentials"),
            &[
                c.t("access_key_id"),
                c.t("user"),
                c.t("created"),
                c.t("expires"),
                c.t("action")
            ],
            &rows,
            c.t("no_credentials"),
        )
    );
    if c.can(Permission::CreateCredentials) {
        let v = |k: &str| values.map(|f| f.get(k).to_string()).unwrap_or_default();
        let mut options = vec![(String::new(), c.t("choose_cloud_user").to_string())];
        options.extend(
            cloud_users
                .iter()
                .filter(|u| u.origin == porteiro_manager::model::Origin::Created)
                .map(|u| (u.id.clone(), u.name.clone())),
        );
        let form = "new-credential";
        body.push_str(&format!(
            r#"<form method="post" action="/credentials/new" class="card" id="{form}"><h2>{title}</h2>{alert}{csrf}{user}{ttl}<button type="submit" class="primary">{create}</button></form>"#,
            title = esc(c.t("new_credential")),
            alert = p.alert(form),
            csrf = csrf_field(&c.csrf),
            user = select(form, "cloud_user_id", c.t("user"), &options, &v("cloud_user_id"), p, "required"),
            ttl = input_hint(form, "ttl", c.t("ttl"), "number", &v("ttl"), p, r#"step="1" inputmode="numeric""#, c.t("ttl_hint")),
            create = esc(c.t("create")),
        ));
    }
    c.page_status(status_of(p), c.t("credentials"), &crumbs, &body)
}

/// `POST /credentials/new`: the secret access key is shown on this response only.
pub(crate) async fn credential_create(c: &Ctx<'_>, f: &Form) -> Page {
    let form = "new-credential";
    let ttl = match optional_number(c, f, form, "ttl") {
        Ok(t) => t,
        Err(p) => return credentials(c, &p, Some(f)),
    };
    let input = NewCredential {
        cloud_user_id: f.get("cloud_user_id").to_string(),
        ttl,
    };
    match c.m.create_credential(&c.actor, input).await {
        Ok(k) => {
            let body = format!(
                r#"<div class="notice" role="status">{created}</div><p class="warn">{once}</p><dl><dt>{ak_l}</dt><dd><code id="access-key-id">{ak}</code></dd><dt>{sk_l}</dt><dd><code id="secret-access-key">{sk}</code></dd></dl><p><a href="/credentials">{back}</a></p>"#,
                created = esc(c.t("credential_created")),
                once = esc(c.t("shown_once")),
                ak_l = esc(c.t("access_key_id")),
                ak = esc(&k.credential.access_key_id),
                sk_l = esc(c.t("secret_access_key")),
                sk = esc(k.secret_access_key.expose()),
                back = esc(c.t("back_to_credentials")),
            );
            c.page(
                c.t("credential_created"),
                &["Cloud IAM", c.t("credentials")],
                &body,
            )
        }
        Err(e) => credentials(c, &c.problems(form, &e), Some(f)),
    }
}

/// `POST /credentials/{id}/delete`.
pub(crate) async fn credential_delete(c: &Ctx<'_>, id: &str) -> Page {
    match c.m.delete_credential(&c.actor, id).await {
        Ok(()) => {
            c.flash(c.t("credential_deleted").to_string());
            redirect("/credentials")
        }
        Err(e) => credentials(c, &c.problems("credentials-row", &e), None),
    }
}

// ---- accounts ----

/// Accounts: list (status), New (with its connectivity check), Check, Delete.
pub(crate) fn accounts(c: &Ctx<'_>, p: &Problems, values: Option<&Form>) -> Page {
    let crumbs = ["Cloud IAM"];
    let list = match c.m.list_accounts(&c.actor) {
        Ok(l) => l,
        Err(e) => return c.page(c.t("accounts"), &crumbs, &load_error(c, &e)),
    };
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            let mut actions = String::new();
            if c.can(Permission::CreateEditAccounts) {
                actions.push_str(&button_form(
                    &format!("/accounts/{}/check", enc(&a.id)),
                    &c.csrf,
                    c.t("check"),
                    "",
                    &[],
                ));
            }
            if c.can(Permission::DeleteAccounts) {
                actions.push(' ');
                actions.push_str(&button_form(
                    &format!("/accounts/{}/delete", enc(&a.id)),
                    &c.csrf,
                    c.t("delete"),
                    "danger",
                    &[],
                ));
            }
            let status = match a.status {
                porteiro_manager::model::AccountStatus::Connectable => c.t("connectable").to_string(),
                porteiro_manager::model::AccountStatus::Unreachable => {
                    format!(
                        "{}: {}",
                        c.t("unreachable"),
                        a.status_message.as_deref().unwrap_or("")
                    )
                }
            };
            vec![
                esc(&a.name),
                esc(a.aws_account_id.as_deref().unwrap_or("—")),
                esc(a.endpoint.as_deref().unwrap_or("AWS")),
                esc(&a.region),
                esc(&status),
                actions,
            ]
        })
        .collect();
    let mut body = format!(
        "{}{}",
        p.alert("accounts-row"),
        table(
            c.t("accounts"),
            &[
                c.t("name"),
                c.t("aws_account"),
                c.t("endpoint"),
                c.t("region"),
                c.t("status"),
                c.t("action")
            ],
            &rows,
            c.t("no_accounts"),
        )
    );
    if c.can(Permission::CreateEditAccounts) {
        let v = |k: &str| values.map(|f| f.get(k).to_string()).unwrap_or_default();
        let region = values
            .map(|f| f.get("region").to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let form = "new-account";
        body.push_str(&format!(
            r#"<form method="post" action="/accounts/new" class="card" id="{form}"><h2>{title}</h2>{alert}{csrf}{name}{endpoint}{region}{ak}{sk}<button type="submit" class="primary">{create}</button></form>"#,
            title = esc(c.t("new_account")),
            alert = p.alert(form),
            csrf = csrf_field(&c.csrf),
            name = input(form, "name", c.t("name"), "text", &v("name"), p, "required"),
            endpoint = input_hint(form, "endpoint", c.t("endpoint"), "text", &v("endpoint"), p, "", c.t("endpoint_hint")),
            region = input(form, "region", c.t("region"), "text", &region, p, ""),
            ak = input(form, "access_key_id", c.t("access_key_id"), "text", &v("access_key_id"), p, r#"autocomplete="off" required"#),
            sk = input(form, "secret_access_key", c.t("secret_access_key"), "password", "", p, r#"autocomplete="new-password" required"#),
            create = esc(c.t("create")),
        ));
    }
    c.page_status(status_of(p), c.t("accounts"), &crumbs, &body)
}

/// `POST /accounts/new`.
pub(crate) async fn account_create(c: &Ctx<'_>, f: &Form) -> Page {
    let input = NewAccount {
        name: f.get("name").to_string(),
        endpoint: Some(f.get("endpoint").to_string()).filter(|e| !e.is_empty()),
        region: Some(f.get("region").to_string())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us-east-1".into()),
        access_key_id: f.get("access_key_id").to_string(),
        secret_access_key: Secret::new(f.raw("secret_access_key").unwrap_or("").trim()),
    };
    match c.m.create_account(&c.actor, input).await {
        Ok(a) => {
            c.flash(format!("{} {} ({:?})", c.t("account_created"), a.name, a.status));
            redirect("/accounts")
        }
        Err(e) => accounts(c, &c.problems("new-account", &e), Some(f)),
    }
}

/// `POST /accounts/{id}/check`.
pub(crate) async fn account_check(c: &Ctx<'_>, id: &str) -> Page {
    match c.m.recheck_account(&c.actor, id).await {
        Ok(a) => {
            c.flash(format!("{} {}: {:?}", c.t("account_checked"), a.name, a.status));
            redirect("/accounts")
        }
        Err(e) => accounts(c, &c.problems("accounts-row", &e), None),
    }
}

/// `POST /accounts/{id}/delete`.
pub(crate) async fn account_delete(c: &Ctx<'_>, id: &str) -> Page {
    match c.m.delete_account(&c.actor, id).await {
        Ok(()) => {
            c.flash(c.t("account_deleted").to_string());
            redirect("/accounts")
        }
        Err(e) => accounts(c, &c.problems("accounts-row", &e), None),
    }
}

// ---- platform users ----

/// Platform users: list, New, Edit, Delete.
pub(crate) fn platform_users(c: &Ctx<'_>, p: &Problems, values: Option<&Form>) -> Page {
    let list = match c.m.list_users(&c.actor) {
        Ok(l) => l,
        Err(e) => return c.page(c.t("platform_users"), &[], &load_error(c, &e)),
    };
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|u| {
            let perms: Vec<&str> = u.permissions.iter().map(|p| c.lang.permission(*p)).collect();
            let mut actions = format!(
                r#"<a href="/platform-users/{}">{}</a>"#,
                enc(&u.id),
                esc(c.t("edit"))
            );
            if c.actor.admin && u.id != c.actor.user_id {
                actions.push(' ');
                actions.push_str(&button_form(
                    &format!("/platform-users/{}/delete", enc(&u.id)),
                    &c.csrf,
                    c.t("delete"),
                    "danger",
                    &[],
                ));
            }
            vec![
                esc(&u.name),
                esc(&u.username),
                esc(u.email.as_deref().unwrap_or("—")),
                esc(yes_no_text(c, u.admin)),
                esc(&perms.join("; ")),
                actions,
            ]
        })
        .collect();
    let mut body = format!(
        "{}{}",
        p.alert("platform-users-row"),
        table(
            c.t("platform_users"),
            &[
                c.t("name"),
                c.t("username"),
                c.t("email"),
                c.t("administrator"),
                c.t("permissions"),
                c.t("action")
            ],
            &rows,
            c.t("no_users"),
        )
    );
    if c.actor.admin {
        let v = |k: &str| values.map(|f| f.get(k).to_string()).unwrap_or_default();
        let form = "new-user";
        body.push_str(&format!(
            r#"<form method="post" action="/platform-users/new" class="card" id="{form}"><h2>{title}</h2>{alert}{csrf}{name}{username}{email}{password}{admin}<button type="submit" class="primary">{create}</button></form>"#,
            title = esc(c.t("new_platform_user")),
            alert = p.alert(form),
            csrf = csrf_field(&c.csrf),
            name = input(form, "name", c.t("name"), "text", &v("name"), p, "required"),
            username = input(form, "username", c.t("username"), "text", &v("username"), p, r#"autocomplete="off" required"#),
            email = input_hint(form, "email", c.t("email"), "email", &v("email"), p, "", c.t("email_hint")),
            password = input(form, "password", c.t("password"), "password", "", p, r#"autocomplete="new-password""#),
            admin = yes_no(form, "admin", c.t("administrator"), values.is_some_and(|f| f.yes("admin")), c.lang, p),
            create = esc(c.t("create")),
        ));
    }
    c.page_status(status_of(p), c.t("platform_users"), &[], &body)
}

/// `POST /platform-users/new`.
pub(crate) async fn platform_user_create(c: &Ctx<'_>, f: &Form) -> Page {
    let input = NewUser {
        name: f.get("name").to_string(),
        username: f.get("username").to_string(),
        email: Some(f.get("email").to_string()).filter(|e| !e.is_empty()),
        password: f.raw("password").unwrap_or("").to_string(),
        admin: f.yes("admin"),
    };
    match c.m.create_user(&c.actor, input).await {
        Ok(u) => {
            c.flash(format!("{} {}", c.t("user_created"), u.username));
            redirect("/platform-users")
        }
        Err(e) => platform_users(c, &c.problems("new-user", &e), Some(f)),
    }
}

/// The edit form of a platform user (name, e-mail, password, administrator).
pub(crate) fn platform_user_form(c: &Ctx<'_>, id: &str, p: &Problems, values: Option<&Form>) -> Page {
    let crumbs = [c.t("platform_users")];
    let u = match c.m.get_user(&c.actor, id) {
        Ok(u) => u,
        Err(e) => {
            return c.page_status(
                StatusCode::NOT_FOUND,
                c.t("platform_users"),
                &crumbs,
                &load_error(c, &e),
            );
        }
    };
    let v = |k: &str, d: &str| {
        values
            .map(|f| f.get(k).to_string())
            .unwrap_or_else(|| d.to_string())
    };
    let form = "edit-user";
    let admin = if c.actor.admin {
        yes_no(
            form,
            "admin",
            c.t("administrator"),
            values.map(|f| f.yes("admin")).unwrap_or(u.admin),
            c.lang,
            p,
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<form method="post" action="/platform-users/{id}" class="card" id="{form}">{alert}{csrf}<dl><dt>{username_l}</dt><dd>{username}</dd></dl>{name}{email}{password}{admin}<button type="submit" class="primary">{save}</button></form>"#,
        id = enc(&u.id),
        alert = p.alert(form),
        csrf = csrf_field(&c.csrf),
        username_l = esc(c.t("username")),
        username = esc(&u.username),
        name = input(
            form,
            "name",
            c.t("name"),
            "text",
            &v("name", &u.name),
            p,
            "required"
        ),
        email = input_hint(
            form,
            "email",
            c.t("email"),
            "email",
            &v("email", u.email.as_deref().unwrap_or("")),
            p,
            "",
            c.t("email_hint")
        ),
        password = input(
            form,
            "password",
            c.t("new_password_optional"),
            "password",
            "",
            p,
            r#"autocomplete="new-password""#
        ),
        save = esc(c.t("save")),
    );
    c.page_status(status_of(p), &u.username, &crumbs, &body)
}

/// `POST /platform-users/{id}`.
pub(crate) async fn platform_user_update(c: &Ctx<'_>, id: &str, f: &Form) -> Page {
    let password = f.raw("password").unwrap_or("");
    let patch = UserPatch {
        name: Some(f.get("name").to_string()),
        email: Some(Some(f.get("email").to_string()).filter(|e| !e.is_empty())),
        password: (!password.is_empty()).then(|| password.to_string()),
        admin: if c.actor.admin { Some(f.yes("admin")) } else { None },
    };
    match c.m.update_user(&c.actor, id, patch).await {
        Ok(u) => {
            c.flash(format!("{} {}", c.t("saved"), u.username));
            redirect(if c.actor.admin { "/platform-users" } else { "/" })
        }
        Err(e) => platform_user_form(c, id, &c.problems("edit-user", &e), Some(f)),
    }
}

/// `POST /platform-users/{id}/delete`.
pub(crate) async fn platform_user_delete(c: &Ctx<'_>, id: &str) -> Page {
    match c.m.delete_user(&c.actor, id).await {
        Ok(()) => {
            c.flash(c.t("user_deleted").to_string());
            redirect("/platform-users")
        }
        Err(e) => platform_users(c, &c.problems("platform-users-row", &e), None),
    }
}

// ---- access groups ----

/// Access groups: members and permissions.
pub(crate) fn groups(c: &Ctx<'_>, p: &Problems) -> Page {
    let crumbs = ["Cloud IAM"];
    let list = match c.m.list_groups(&c.actor) {
        Ok(l) => l,
        Err(e) => return c.page(c.t("access_groups"), &crumbs, &load_error(c, &e)),
    };
    let names = usernames(c);
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|g| {
            let members: Vec<&str> = g
                .members
                .iter()
                .map(|m| names.get(m).map(String::as_str).unwrap_or(m))
                .collect();
            let perms: Vec<&str> = g.permissions.iter().map(|p| c.lang.permission(*p)).collect();
            let mut actions = String::new();
            if c.actor.admin {
                actions = format!(
                    r#"<a href="/groups/{}">{}</a> {}"#,
                    enc(&g.id),
                    esc(c.t("edit")),
                    button_form(
                        &format!("/groups/{}/delete", enc(&g.id)),
                        &c.csrf,
                        c.t("delete"),
                        "danger",
                        &[]
                    )
                );
            }
            vec![
                esc(&g.name),
                esc(&g.description),
                esc(&members.join(", ")),
                esc(&perms.join("; ")),
                actions,
            ]
        })
        .collect();
    let new = if c.actor.admin {
        format!(
            r#"<p><a class="button" href="/groups/new">{}</a></p>"#,
            esc(c.t("new_group"))
        )
    } else {
        String::new()
    };
    let body = format!(
        "{}{new}{}",
        p.alert("groups-row"),
        table(
            c.t("access_groups"),
            &[
                c.t("name"),
                c.t("description"),
                c.t("members"),
                c.t("permissions"),
                c.t("action")
            ],
            &rows,
            c.t("no_groups"),
        )
    );
    c.page_status(status_of(p), c.t("access_groups"), &crumbs, &body)
}

/// The form of a new or existing access group.
pub(crate) fn group_form(c: &Ctx<'_>, id: Option<&str>, p: &Problems, values: Option<&Form>) -> Page {
    let crumbs = ["Cloud IAM", c.t("access_groups")];
    let existing = match id {
        Some(id) => match c
            .m
            .list_groups(&c.actor)
            .map(|l| l.into_iter().find(|g| g.id == id))
        {
            Ok(Some(g)) => Some(g),
            Ok(None) => {
                let e = porteiro_manager::Error::NotFound {
                    kind: "group",
                    id: id.to_string(),
                };
                return c.page_status(
                    StatusCode::NOT_FOUND,
                    c.t("access_group"),
                    &crumbs,
                    &load_error(c, &e),
                );
            }
            Err(e) => return c.page(c.t("access_group"), &crumbs, &load_error(c, &e)),
        },
        None => None,
    };
    let name = values
        .map(|f| f.get("name").to_string())
        .or(existing.as_ref().map(|g| g.name.clone()))
        .unwrap_or_default();
    let description = values
        .map(|f| f.get("description").to_string())
        .or(existing.as_ref().map(|g| g.description.clone()))
        .unwrap_or_default();
    let members: Vec<String> = values
        .map(|f| f.all("members"))
        .or(existing.as_ref().map(|g| g.members.clone()))
        .unwrap_or_default();
    let perms: Vec<String> = values
        .map(|f| f.all("permissions"))
        .or(existing
            .as_ref()
            .map(|g| g.permissions.iter().map(|p| p.as_str().to_string()).collect()))
        .unwrap_or_default();
    let mut people: Vec<(String, String)> =
        c.m.list_users(&c.actor)
            .unwrap_or_default()
            .into_iter()
            .map(|u| (u.id, format!("{} ({})", u.username, u.name)))
            .collect();
    people.sort_by(|a, b| a.1.cmp(&b.1));
    let perm_options: Vec<(String, String)> = Permission::ALL
        .iter()
        .map(|p| (p.as_str().to_string(), c.lang.permission(*p).to_string()))
        .collect();
    let form = "group";
    let action = match &existing {
        Some(g) => format!("/groups/{}", enc(&g.id)),
        None => "/groups/new".to_string(),
    };
    let body = format!(
        r#"<form method="post" action="{action}" class="card" id="{form}">{alert}{csrf}{name}{description}{members}{perms}<button type="submit" class="primary">{save}</button></form>"#,
        alert = p.alert(form),
        csrf = csrf_field(&c.csrf),
        name = input(form, "name", c.t("name"), "text", &name, p, "required"),
        description = textarea(form, "description", c.t("description"), &description, p),
        members = checkboxes(form, "members", c.t("members"), &people, &members, p),
        perms = checkboxes(form, "permissions", c.t("permissions"), &perm_options, &perms, p),
        save = esc(c.t("save")),
    );
    let title = if existing.is_some() {
        c.t("edit_group")
    } else {
        c.t("new_group")
    };
    c.page_status(status_of(p), title, &crumbs, &body)
}

/// `POST /groups/new`, `POST /groups/{id}`.
pub(crate) async fn group_save(c: &Ctx<'_>, id: Option<&str>, f: &Form) -> Page {
    let form = "group";
    let mut permissions = Vec::new();
    for p in f.all("permissions") {
        match Permission::parse(&p) {
            Some(p) => permissions.push(p),
            None => {
                let p = field_problem(
                    form,
                    "permissions",
                    &format!("{} {p}", c.t("err_unknown_permission")),
                );
                return group_form(c, id, &p, Some(f));
            }
        }
    }
    let input = GroupInput {
        name: f.get("name").to_string(),
        description: f.get("description").to_string(),
        members: f.all("members"),
        permissions,
    };
    let result = match id {
        Some(id) => c.m.update_group(&c.actor, id, input).await,
        None => c.m.create_group(&c.actor, input).await,
    };
    match result {
        Ok(g) => {
            c.flash(format!("{} {}", c.t("saved"), g.name));
            redirect("/groups")
        }
        Err(e) => group_form(c, id, &c.problems(form, &e), Some(f)),
    }
}

/// `POST /groups/{id}/delete`.
pub(crate) async fn group_delete(c: &Ctx<'_>, id: &str) -> Page {
    match c.m.delete_group(&c.actor, id).await {
        Ok(()) => {
            c.flash(c.t("group_deleted").to_string());
            redirect("/groups")
        }
        Err(e) => groups(c, &c.problems("groups-row", &e)),
    }
}

// ---- audit trail ----

/// The audit trail with filters (entity, id, actor, action, since, limit).
pub(crate) fn audit(c: &Ctx<'_>) -> Page {
    let q = &c.query;
    let form = "audit";
    let mut p = Problems::none();
    let since = match q.get("since") {
        "" => None,
        s => match parse_local_datetime(s, q.get("tz")) {
            Some(t) => Some(t),
            None => {
                p = field_problem(form, "since", c.t("err_datetime"));
                None
            }
        },
    };
    let limit = match q.get("limit") {
        "" => 200,
        l => match l.parse::<usize>().ok().filter(|n| (1..=1000).contains(n)) {
            Some(n) => n,
            None => {
                p = field_problem(form, "limit", c.t("err_limit"));
                200
            }
        },
    };
    let opt = |k: &str| Some(q.get(k).to_string()).filter(|v| !v.is_empty());
    let filter = AuditFilter {
        entity: opt("entity"),
        entity_id: opt("entity_id"),
        actor: opt("actor"),
        action_prefix: opt("action"),
        since,
        limit,
        before: None,
    };
    let filters = format!(
        r#"<form method="get" action="/audit" class="card filters" id="{form}" role="search">{entity}{id}{actor}{action}{since}{limit}{TZ_FIELD}<button type="submit">{apply}</button></form>"#,
        entity = input(
            form,
            "entity",
            c.t("entity"),
            "text",
            q.get("entity"),
            &p,
            r#"list="entities""#
        ),
        id = input(
            form,
            "entity_id",
            c.t("entity_id"),
            "text",
            q.get("entity_id"),
            &p,
            ""
        ),
        actor = input(form, "actor", c.t("actor"), "text", q.get("actor"), &p, ""),
        action = input(
            form,
            "action",
            c.t("audit_action"),
            "text",
            q.get("action"),
            &p,
            ""
        ),
        since = input(
            form,
            "since",
            c.t("since"),
            "datetime-local",
            q.get("since"),
            &p,
            ""
        ),
        limit = input(
            form,
            "limit",
            c.t("limit"),
            "number",
            q.get("limit"),
            &p,
            r#"min="1" max="1000""#
        ),
        apply = esc(c.t("apply_filters")),
    );
    let events = match c.m.audit(&c.actor, &filter) {
        Ok(e) => e,
        Err(e) => {
            return c.page(
                c.t("audit_trail"),
                &["PAM Core"],
                &format!("{filters}{}", load_error(c, &e)),
            );
        }
    };
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let change =
                |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
            let details = if e.old.is_some() || e.new.is_some() {
                format!(
                    r#"<details><summary>{}</summary><pre>{}</pre><pre>{}</pre></details>"#,
                    esc(c.t("old_new")),
                    esc(&change(&e.old)),
                    esc(&change(&e.new))
                )
            } else {
                String::new()
            };
            vec![
                time(e.at),
                esc(&e.actor),
                esc(e.source.as_deref().unwrap_or("")),
                esc(&e.action),
                esc(&e.entity),
                format!("<code>{}</code>", esc(&e.entity_id)),
                details,
            ]
        })
        .collect();
    let body = format!(
        r#"{filters}<datalist id="entities"><option value="user"><option value="group"><option value="account"><option value="cloud_user"><option value="credential"><option value="jit_settings"><option value="session"></datalist>{}"#,
        table(
            c.t("audit_trail"),
            &[
                c.t("when"),
                c.t("actor"),
                c.t("origin_ip"),
                c.t("audit_action"),
                c.t("entity"),
                c.t("entity_id"),
                c.t("change")
            ],
            &rows,
            c.t("no_events"),
        )
    );
    c.page_status(status_of(&p), c.t("audit_trail"), &["PAM Core"], &body)
}
