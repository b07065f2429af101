//! The pages: the frame with the seed's menu, the router, and the home page. The pages
//! themselves are in `pages/remote.rs` (Remote access, My sessions), `pages/admin.rs` (JIT
//! settings, cloud IAM users, credentials, accounts, platform users, access groups, audit) and
//! `pages/pam.rs` (PAM Core ➔ Access Control ➔ Remote Sessions, recordings).

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Response, StatusCode};
use porteiro_manager::model::Permission;

use crate::Ctx;
use crate::form::Form;
use crate::html::{enc, esc};
use crate::i18n::Lang;

mod admin;
mod pam;
mod remote;

/// The response type of every page.
pub(crate) type Page = Response<Full<Bytes>>;

/// A menu entry: key, href, and whether only some people see it.
struct Item {
    key: &'static str,
    href: &'static str,
}

fn link(c: &Ctx<'_>, item: &Item) -> String {
    let current = c.path == item.href || (item.href != "/" && c.path.starts_with(&format!("{}/", item.href)));
    format!(
        r#"<li><a href="{}"{}>{}</a></li>"#,
        item.href,
        if current { r#" aria-current="page""# } else { "" },
        esc(c.t(item.key))
    )
}

fn links(c: &Ctx<'_>, items: &[Item]) -> String {
    items.iter().map(|i| link(c, i)).collect()
}

/// The whole page around `body`: the top bar (who, language, sign out), the menu as the seed
/// lays it out, the breadcrumbs and the title.
pub(crate) fn frame(c: &Ctx<'_>, title: &str, crumbs: &[&str], body: &str) -> String {
    let remote = links(
        c,
        &[
            Item {
                key: "cloud_console",
                href: "/remote/console",
            },
            Item {
                key: "jit_access",
                href: "/remote/jit",
            },
        ],
    );
    let iam = links(
        c,
        &[
            Item {
                key: "cloud_users",
                href: "/users",
            },
            Item {
                key: "credentials",
                href: "/credentials",
            },
            Item {
                key: "accounts",
                href: "/accounts",
            },
            Item {
                key: "access_groups",
                href: "/groups",
            },
            Item {
                key: "platform_users",
                href: "/platform-users",
            },
        ],
    );
    let settings = links(
        c,
        &[Item {
            key: "jit_access",
            href: "/settings/jit",
        }],
    );
    let pam = links(
        c,
        &[Item {
            key: "remote_sessions",
            href: "/pam/sessions",
        }],
    );
    let audit = if c.actor.admin {
        links(
            c,
            &[Item {
                key: "audit_trail",
                href: "/audit",
            }],
        )
    } else {
        String::new()
    };
    let mine = links(
        c,
        &[Item {
            key: "my_sessions",
            href: "/my/sessions",
        }],
    );
    let nav = format!(
        r#"<nav class="side" aria-label="{menu}"><ul>
<li><span class="group">Cloud IAM</span><ul>
<li><span class="group">{remote_access}</span><ul>{remote}</ul></li>
{iam}
<li><span class="group">{settings_label}</span><ul>{settings}</ul></li>
</ul></li>
<li><span class="group">PAM Core</span><ul>
<li><span class="group">{access_control}</span><ul>{pam}</ul></li>
{audit}
</ul></li>
{mine}
</ul></nav>"#,
        menu = esc(c.t("menu")),
        remote_access = esc(c.t("remote_access")),
        settings_label = esc(c.t("settings")),
        access_control = esc(c.t("access_control")),
    );
    let crumbs = if crumbs.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = crumbs.iter().map(|s| esc(s)).collect();
        format!(
            r#"<p class="crumbs" aria-label="{}">{} ➔ {}</p>"#,
            esc(c.t("you_are_here")),
            parts.join(" ➔ "),
            esc(title)
        )
    };
    let other = c.lang.other();
    let top = format!(
        r#"<a class="lang" href="/lang?to={tag}&amp;back={back}" lang="{tag}" hreflang="{tag}">{name}</a>
<span class="user">{signed_in_as} <strong>{user}</strong></span>
<form method="post" action="/signout" class="inline"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="link">{sign_out}</button></form>"#,
        tag = other.tag(),
        back = esc(&enc(&c.path)),
        name = esc(other.t("language_name")),
        signed_in_as = esc(c.t("signed_in_as")),
        user = esc(&c.actor.username),
        csrf = esc(&c.csrf),
        sign_out = esc(c.t("sign_out")),
    );
    document(
        c.lang,
        title,
        &top,
        &format!(
            r#"<div class="layout">{nav}<main id="main">{crumbs}<h1>{}</h1>{body}</main></div>"#,
            esc(title)
        ),
    )
}

/// A page without the menu (sign-in).
pub(crate) fn bare(lang: Lang, title: &str, body: &str, here: &str) -> String {
    let other = lang.other();
    let top = format!(
        r#"<a class="lang" href="/lang?to={tag}&amp;back={back}" lang="{tag}" hreflang="{tag}">{name}</a>"#,
        tag = other.tag(),
        back = esc(&enc(here)),
        name = esc(other.t("language_name")),
    );
    document(
        lang,
        title,
        &top,
        &format!(r#"<main id="main"><h1>{}</h1>{body}</main>"#, esc(title)),
    )
}

fn document(lang: Lang, title: &str, top: &str, content: &str) -> String {
    format!(
        r##"<!DOCTYPE html>
<html lang="{tag}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Porteiro</title>
<link rel="stylesheet" href="/static/web.css">
<script src="/static/web.js" defer></script>
</head>
<body>
<a class="skip" href="#main">{skip}</a>
<header class="top"><a class="brand" href="/">Porteiro</a><div class="who">{top}</div></header>
{content}
</body>
</html>
"##,
        tag = lang.tag(),
        title = esc(title),
        skip = esc(lang.t("skip")),
    )
}

/// Routes a signed-in request.
pub(crate) async fn route(c: &Ctx<'_>, method: &Method, path: &str, f: &Form) -> Page {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = method == Method::GET;
    match (get, segs.as_slice()) {
        (true, []) => home(c),
        (true, ["remote", "console"]) => remote::console(c, &Default::default()),
        (false, ["remote", "console", "start"]) => remote::console_start(c, f).await,
        (true, ["remote", "jit"]) => remote::jit(c),
        (true, ["remote", "jit", cu]) => remote::jit_form(c, cu, &Default::default(), None),
        (false, ["remote", "jit", cu]) => remote::jit_start(c, cu, f).await,
        (true, ["my", "sessions"]) => remote::my_sessions(c),
        (true, ["my", "sessions", id]) => remote::my_session(c, id),
        (true, ["my", "sessions", id, "status"]) => remote::status(c, id),
        (false, ["my", "sessions", id, "open"]) => remote::open_console(c, id),

        (true, ["settings", "jit"]) => admin::jit_list(c),
        (true, ["settings", "jit", "new"]) => {
            let account = c.query.get("account").to_string();
            admin::jit_form(
                c,
                (!account.is_empty()).then_some(account.as_str()),
                true,
                &Default::default(),
                None,
            )
            .await
        }
        (true, ["settings", "jit", account]) => {
            admin::jit_form(c, Some(account), false, &Default::default(), None).await
        }
        (false, ["settings", "jit", "save"]) => admin::jit_save(c, f).await,

        (true, ["users"]) => admin::users(c, &Default::default(), None),
        (false, ["users", "new"]) => admin::user_create(c, f).await,
        (false, ["users", "import"]) => admin::user_import(c, f).await,
        (true, ["users", id]) => admin::user_detail(c, id),
        (false, ["users", id, "delete"]) => admin::user_delete(c, id).await,

        (true, ["credentials"]) => admin::credentials(c, &Default::default(), None),
        (false, ["credentials", "new"]) => admin::credential_create(c, f).await,
        (false, ["credentials", id, "delete"]) => admin::credential_delete(c, id).await,

        (true, ["accounts"]) => admin::accounts(c, &Default::default(), None),
        (false, ["accounts", "new"]) => admin::account_create(c, f).await,
        (false, ["accounts", id, "check"]) => admin::account_check(c, id).await,
        (false, ["accounts", id, "delete"]) => admin::account_delete(c, id).await,

        (true, ["platform-users"]) => admin::platform_users(c, &Default::default(), None),
        (false, ["platform-users", "new"]) => admin::platform_user_create(c, f).await,
        (true, ["platform-users", id]) => admin::platform_user_form(c, id, &Default::default(), None),
        (false, ["platform-users", id]) => admin::platform_user_update(c, id, f).await,
        (false, ["platform-users", id, "delete"]) => admin::platform_user_delete(c, id).await,

        (true, ["groups"]) => admin::groups(c, &Default::default()),
        (true, ["groups", "new"]) => admin::group_form(c, None, &Default::default(), None),
        (true, ["groups", id]) => admin::group_form(c, Some(id), &Default::default(), None),
        (false, ["groups", "new"]) => admin::group_save(c, None, f).await,
        (false, ["groups", id]) => admin::group_save(c, Some(id), f).await,
        (false, ["groups", id, "delete"]) => admin::group_delete(c, id).await,

        (true, ["audit"]) => admin::audit(c),

        (true, ["pam", "sessions"]) => pam::sessions(c, &Default::default()),
        (false, ["pam", "sessions", id, "drop"]) => pam::drop(c, id).await,
        (true, ["pam", "sessions", id, "replay"]) => pam::replay(c, id),
        (true, ["pam", "sessions", id, "verify"]) => pam::verify(c, id),
        (true, ["pam", "sessions", id, "export"]) => pam::export(c, id),
        _ => not_found(c),
    }
}

fn not_found(c: &Ctx<'_>) -> Page {
    c.page_status(
        StatusCode::NOT_FOUND,
        c.t("not_found"),
        &[],
        &format!(
            r#"<p>{}</p><p><a href="/">{}</a></p>"#,
            esc(c.t("not_found_text")),
            esc(c.t("home"))
        ),
    )
}

fn home(c: &Ctx<'_>) -> Page {
    let mut cards = vec![
        (c.t("cloud_console"), "/remote/console", c.t("home_console")),
        (c.t("jit_access"), "/remote/jit", c.t("home_jit")),
        (c.t("my_sessions"), "/my/sessions", c.t("home_my_sessions")),
    ];
    if c.can(Permission::CreateEditAccounts) {
        cards.push((c.t("settings_jit"), "/settings/jit", c.t("home_settings")));
    }
    if c.can(Permission::ViewRecordings) || c.can(Permission::DropSessions) {
        cards.push((c.t("remote_sessions"), "/pam/sessions", c.t("home_pam")));
    }
    let items: String = cards
        .iter()
        .map(|(t, h, d)| format!(r#"<li><a href="{h}">{}</a> — {}</li>"#, esc(t), esc(d)))
        .collect();
    let body = format!(
        r#"<p>{}</p><p class="warn">{}</p><ul>{items}</ul>"#,
        esc(c.t("home_intro")),
        esc(c.t("info_recorded"))
    );
    c.page(c.t("home"), &[], &body)
}

/// Platform user id → username (the people the actor may see).
pub(crate) fn usernames(c: &Ctx<'_>) -> HashMap<String, String> {
    let mut out: HashMap<String, String> =
        c.m.list_users(&c.actor)
            .unwrap_or_default()
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
    out.insert(c.actor.user_id.clone(), c.actor.username.clone());
    out
}

/// Account id → name.
pub(crate) fn account_names(c: &Ctx<'_>) -> HashMap<String, String> {
    c.m.list_accounts(&c.actor)
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect()
}

/// An error box for a failure that belongs to no form (loading a page).
pub(crate) fn load_error(c: &Ctx<'_>, e: &porteiro_manager::Error) -> String {
    c.problems("load", e).alert("load")
}

/// The status of a failed form.
pub(crate) const FAILED: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
