//! `/console/…`: the console's pages. Each page checks the session, then acts through
//! [`Api`] as the signed-in principal; an operation that fails shows the API's error code and
//! message, and the page answers with the operation's HTTP status.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Response, StatusCode};
use serde_json::json;

use super::api::{Api, S3Call, elements, text};
use super::html::{self, Frame, enc, esc};
use super::{Active, Auth, Req, SESSION_COOKIE, authenticate, csrf_refused, sessions, set_cookie};
use crate::protocol::{ApiError, percent_decode};

type Resp = Response<Full<Bytes>>;

pub(super) async fn handle(r: &Req<'_>, path: &str) -> Resp {
    match path {
        "/console/static/console.css" => return asset("text/css; charset=utf-8", html::CSS),
        "/console/static/console.js" => return asset("text/javascript; charset=utf-8", html::JS),
        _ => {}
    }
    let active = match authenticate(r) {
        Auth::Active(a) => a,
        Auth::None if r.method() == Method::GET => {
            return html::redirect(StatusCode::SEE_OTHER, "/signin");
        }
        Auth::None => {
            return html::html(
                StatusCode::UNAUTHORIZED,
                html::page(
                    "Not signed in",
                    None,
                    &format!(
                        "{}<p><a href=\"/signin\">Sign in</a></p>",
                        html::error_box("NotSignedIn", "You are not signed in to the console.")
                    ),
                ),
            );
        }
        Auth::Ended { why, issuer } => return ended(&why, issuer.as_deref()),
    };
    let rest = path.strip_prefix("/console").unwrap_or("");
    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(&s.replace('+', "%2B")))
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let post = r.method() == Method::POST;
    if post && !multipart_route(&segs) && !csrf_ok(r, &active, r.params.get("csrf")) {
        return csrf_refused();
    }
    let p = Page::new(r, &active);
    match (post, segs.as_slice()) {
        (false, []) => home(&p),
        (true, ["logout"]) => logout(r, &active),
        (false, ["iam", "users"]) => users(&p, None, StatusCode::OK),
        (true, ["iam", "users"]) => create_user(&p),
        (false, ["iam", "users", name]) => user(&p, name, None),
        (true, ["iam", "users", name, "delete"]) => delete_user(&p, name),
        (false, ["iam", "roles"]) => roles(&p),
        (false, ["iam", "roles", name]) => role(&p, name),
        (false, ["s3"]) => buckets(&p).await,
        (false, ["s3", bucket]) => objects(&p, bucket, None).await,
        (false, ["s3", bucket, "object"]) => download(&p, bucket).await,
        (true, ["s3", bucket, "upload"]) => upload(&p, bucket).await,
        (true, ["s3", bucket, "delete"]) => delete_object(&p, bucket).await,
        (false, ["kms"]) => keys(&p),
        (false, ["kms", id]) => key_page(&p, id),
        _ => p.render(
            StatusCode::NOT_FOUND,
            "Not found",
            &html::error_box("NotFound", "There is no such console page."),
        ),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Resp {
    let mut resp = html::respond(StatusCode::OK, content_type, body);
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

fn multipart_route(segs: &[&str]) -> bool {
    matches!(segs, ["s3", _, "upload"])
}

fn csrf_ok(r: &Req<'_>, active: &Active, sent: Option<&str>) -> bool {
    r.same_origin() && sent.is_some_and(|s| sessions::same(s.as_bytes(), active.csrf.as_bytes()))
}

fn clear_cookie(mut resp: Resp) -> Resp {
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", Some(0))) {
        resp.headers_mut().append(hyper::header::SET_COOKIE, v);
    }
    resp
}

/// The page of a session that has ended.
fn ended(why: &str, issuer: Option<&str>) -> Resp {
    let back = issuer
        .map(|i| format!("<p><a href=\"{}\">Return to your identity broker</a></p>", esc(i)))
        .unwrap_or_default();
    let body = format!(
        "{}{back}<p><a href=\"/signin\">Sign in again</a></p>",
        html::error_box("SessionEnded", why)
    );
    clear_cookie(html::html(
        StatusCode::UNAUTHORIZED,
        html::page("Your session has ended", None, &body),
    ))
}

fn logout(r: &Req<'_>, active: &Active) -> Resp {
    if let Err(e) = sessions::end_session(r.cloud, &active.session.cookie_hash) {
        return html::html(
            StatusCode::INTERNAL_SERVER_ERROR,
            html::page("Sign-out failed", None, &html::error_box(&e.code, &e.message)),
        );
    }
    clear_cookie(html::html(
        StatusCode::OK,
        html::page(
            "Signed out",
            None,
            &format!(
                "{}<p><a href=\"/signin\">Sign in again</a></p>",
                html::notice("You have signed out. Your console session has ended.")
            ),
        ),
    ))
}

/// A signed-in page being built.
struct Page<'a> {
    r: &'a Req<'a>,
    active: &'a Active,
    info: crate::authz::RequestInfo,
}

impl<'a> Page<'a> {
    fn new(r: &'a Req<'a>, active: &'a Active) -> Page<'a> {
        Page {
            r,
            active,
            info: r.info(),
        }
    }

    fn api(&self) -> Api<'_> {
        Api {
            cloud: self.r.cloud,
            caller: &self.active.caller,
            info: &self.info,
        }
    }

    fn csrf_field(&self) -> String {
        format!(
            r#"<input type="hidden" name="csrf" value="{}">"#,
            esc(&self.active.csrf)
        )
    }

    fn render(&self, status: StatusCode, title: &str, body: &str) -> Resp {
        let frame = Frame {
            arn: &self.active.caller.arn,
            csrf: &self.active.csrf,
            remaining: self.active.session.expires - self.r.now,
        };
        html::html(status, html::page(title, Some(&frame), body))
    }
}

fn status_of(e: &ApiError) -> StatusCode {
    StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST)
}

fn err(e: &ApiError) -> String {
    html::error_box(&e.code, &e.message)
}

// ---- home ----

fn home(p: &Page<'_>) -> Resp {
    let s = &p.active.session;
    let identity = p.api().sts("GetCallerIdentity", &[]);
    let (arn, account, user_id) = match &identity {
        Ok(xml) => (
            text(xml, "Arn").unwrap_or_default(),
            text(xml, "Account").unwrap_or_default(),
            text(xml, "UserId").unwrap_or_default(),
        ),
        Err(_) => (
            p.active.caller.arn.clone(),
            p.active.caller.account.clone(),
            p.active.caller.user_id.clone(),
        ),
    };
    let how = match &s.principal {
        super::ConsolePrincipal::User { .. } => "IAM user, signed in with a password",
        super::ConsolePrincipal::Credentials { .. } => {
            "temporary credentials, signed in through the federation endpoint"
        }
    };
    let body = format!(
        r#"<section aria-labelledby="whoami"><h2 id="whoami">Who am I</h2>
<dl>
<dt>Principal</dt><dd id="principal-arn">{arn}</dd>
<dt>Account</dt><dd id="account">{account}</dd>
<dt>User ID</dt><dd>{user_id}</dd>
<dt>Signed in as</dt><dd>{how}</dd>
<dt>Session started</dt><dd>{started}</dd>
<dt>Session ends</dt><dd id="session-ends">{ends} (in {left})</dd>
</dl></section>
<section aria-labelledby="services"><h2 id="services">Services</h2>
<ul><li><a href="/console/iam/users">IAM users</a></li><li><a href="/console/iam/roles">IAM roles</a></li><li><a href="/console/s3">S3 buckets</a></li><li><a href="/console/kms">KMS keys</a></li></ul></section>"#,
        arn = esc(&arn),
        account = esc(&account),
        user_id = esc(&user_id),
        how = esc(how),
        started = esc(&crate::time::iso8601(s.created)),
        ends = esc(&crate::time::iso8601(s.expires)),
        left = esc(&html::duration_text(s.expires - p.r.now)),
    );
    p.render(StatusCode::OK, "Console home", &body)
}

// ---- IAM users ----

fn users(p: &Page<'_>, problem: Option<&ApiError>, status: StatusCode) -> Resp {
    let mut body = String::new();
    if let Some(e) = problem {
        body.push_str(&err(e));
    }
    if let Some(d) = p.r.params.get("deleted") {
        body.push_str(&html::notice(&format!("User {d} was deleted.")));
    }
    let mut status = status;
    match p.api().iam("ListUsers", &[("MaxItems", "1000")]) {
        Ok(xml) => {
            body.push_str(
                "<table><caption>IAM users</caption><thead><tr><th scope=\"col\">User name</th><th scope=\"col\">Path</th><th scope=\"col\">ARN</th><th scope=\"col\">Created</th></tr></thead><tbody>",
            );
            for m in elements(&xml, "member") {
                let name = text(m, "UserName").unwrap_or_default();
                body.push_str(&format!(
                    "<tr><td><a href=\"/console/iam/users/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    enc(&name),
                    esc(&name),
                    esc(&text(m, "Path").unwrap_or_default()),
                    esc(&text(m, "Arn").unwrap_or_default()),
                    esc(&text(m, "CreateDate").unwrap_or_default()),
                ));
            }
            body.push_str("</tbody></table>");
        }
        Err(e) => {
            // The listing failing for the reason the action did is said once.
            if problem.is_none_or(|p| p.code != e.code) {
                body.push_str(&err(&e));
            }
            if status == StatusCode::OK {
                status = status_of(&e);
            }
        }
    }
    body.push_str(&format!(
        r#"<h2 id="create">Create user</h2>
<form class="card" method="post" action="/console/iam/users" aria-labelledby="create">
{csrf}
<label for="new-user-name">User name</label>
<input id="new-user-name" name="UserName" type="text" required maxlength="64">
<button type="submit">Create user</button>
</form>"#,
        csrf = p.csrf_field()
    ));
    p.render(status, "IAM users", &body)
}

fn create_user(p: &Page<'_>) -> Resp {
    let name = p.r.params.get("UserName").unwrap_or("").trim().to_string();
    match p.api().iam("CreateUser", &[("UserName", &name)]) {
        Ok(_) => html::redirect(
            StatusCode::SEE_OTHER,
            &format!("/console/iam/users/{}", enc(&name)),
        ),
        Err(e) => users(p, Some(&e), status_of(&e)),
    }
}

fn user(p: &Page<'_>, name: &str, problem: Option<&ApiError>) -> Resp {
    let api = p.api();
    let mut body = String::new();
    let mut status = problem.map_or(StatusCode::OK, status_of);
    if let Some(e) = problem {
        body.push_str(&err(e));
    }
    match api.iam("GetUser", &[("UserName", name)]) {
        Ok(xml) => body.push_str(&format!(
            "<dl><dt>User name</dt><dd>{}</dd><dt>ARN</dt><dd>{}</dd><dt>User ID</dt><dd>{}</dd><dt>Path</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd></dl>",
            esc(&text(&xml, "UserName").unwrap_or_default()),
            esc(&text(&xml, "Arn").unwrap_or_default()),
            esc(&text(&xml, "UserId").unwrap_or_default()),
            esc(&text(&xml, "Path").unwrap_or_default()),
            esc(&text(&xml, "CreateDate").unwrap_or_default()),
        )),
        Err(e) => {
            // The listing failing for the reason the action did is said once.
            if problem.is_none_or(|p| p.code != e.code) {
                body.push_str(&err(&e));
            }
            if status == StatusCode::OK {
                status = status_of(&e);
            }
        }
    }
    body.push_str(&section(
        "Attached policies",
        api.iam("ListAttachedUserPolicies", &[("UserName", name)]),
        |xml| {
            elements(xml, "member")
                .into_iter()
                .map(|m| text(m, "PolicyArn").unwrap_or_default())
                .collect()
        },
    ));
    body.push_str(&section(
        "Inline policies",
        api.iam("ListUserPolicies", &[("UserName", name)]),
        |xml| {
            elements(xml, "member")
                .into_iter()
                .map(super::api::unescape)
                .collect()
        },
    ));
    body.push_str(&section(
        "Groups",
        api.iam("ListGroupsForUser", &[("UserName", name)]),
        |xml| {
            elements(xml, "member")
                .into_iter()
                .map(|m| text(m, "GroupName").unwrap_or_default())
                .collect()
        },
    ));
    body.push_str(&format!(
        r#"<h2 id="delete">Delete user</h2>
<form method="post" action="/console/iam/users/{path}/delete" aria-labelledby="delete">
{csrf}
<button type="submit">Delete user {name}</button>
</form>
<p><a href="/console/iam/users">Back to users</a></p>"#,
        path = enc(name),
        csrf = p.csrf_field(),
        name = esc(name),
    ));
    p.render(status, &format!("IAM user {name}"), &body)
}

/// A titled list from an operation, or its error.
fn section(title: &str, result: Result<String, ApiError>, items: impl FnOnce(&str) -> Vec<String>) -> String {
    let mut out = format!("<h2>{}</h2>", esc(title));
    match result {
        Ok(xml) => {
            let items = items(&xml);
            if items.is_empty() {
                out.push_str("<p>None.</p>");
            } else {
                out.push_str("<ul>");
                for i in items {
                    out.push_str(&format!("<li>{}</li>", esc(&i)));
                }
                out.push_str("</ul>");
            }
        }
        Err(e) => out.push_str(&err(&e)),
    }
    out
}

fn delete_user(p: &Page<'_>, name: &str) -> Resp {
    match p.api().iam("DeleteUser", &[("UserName", name)]) {
        Ok(_) => html::redirect(
            StatusCode::SEE_OTHER,
            &format!("/console/iam/users?deleted={}", enc(name)),
        ),
        Err(e) => user(p, name, Some(&e)),
    }
}

// ---- IAM roles ----

fn roles(p: &Page<'_>) -> Resp {
    let mut body = String::new();
    let mut status = StatusCode::OK;
    match p.api().iam("ListRoles", &[("MaxItems", "1000")]) {
        Ok(xml) => {
            body.push_str(
                "<table><caption>IAM roles</caption><thead><tr><th scope=\"col\">Role name</th><th scope=\"col\">ARN</th><th scope=\"col\">Max session</th><th scope=\"col\">Created</th></tr></thead><tbody>",
            );
            for m in elements(&xml, "member") {
                let name = text(m, "RoleName").unwrap_or_default();
                body.push_str(&format!(
                    "<tr><td><a href=\"/console/iam/roles/{}\">{}</a></td><td>{}</td><td>{} s</td><td>{}</td></tr>",
                    enc(&name),
                    esc(&name),
                    esc(&text(m, "Arn").unwrap_or_default()),
                    esc(&text(m, "MaxSessionDuration").unwrap_or_default()),
                    esc(&text(m, "CreateDate").unwrap_or_default()),
                ));
            }
            body.push_str("</tbody></table>");
        }
        Err(e) => {
            body.push_str(&err(&e));
            status = status_of(&e);
        }
    }
    p.render(status, "IAM roles", &body)
}

fn pretty_policy(encoded: &str) -> String {
    let doc = percent_decode(encoded);
    serde_json::from_str::<serde_json::Value>(&doc)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(doc)
}

fn role(p: &Page<'_>, name: &str) -> Resp {
    let api = p.api();
    let mut body = String::new();
    let mut status = StatusCode::OK;
    match api.iam("GetRole", &[("RoleName", name)]) {
        Ok(xml) => body.push_str(&format!(
            "<dl><dt>Role name</dt><dd>{}</dd><dt>ARN</dt><dd>{}</dd><dt>Role ID</dt><dd>{}</dd><dt>Description</dt><dd>{}</dd><dt>Maximum session duration</dt><dd>{} s</dd><dt>Created</dt><dd>{}</dd></dl><h2>Trust policy</h2><pre>{}</pre>",
            esc(&text(&xml, "RoleName").unwrap_or_default()),
            esc(&text(&xml, "Arn").unwrap_or_default()),
            esc(&text(&xml, "RoleId").unwrap_or_default()),
            esc(&text(&xml, "Description").unwrap_or_default()),
            esc(&text(&xml, "MaxSessionDuration").unwrap_or_default()),
            esc(&text(&xml, "CreateDate").unwrap_or_default()),
            esc(&pretty_policy(&text(&xml, "AssumeRolePolicyDocument").unwrap_or_default())),
        )),
        Err(e) => {
            body.push_str(&err(&e));
            status = status_of(&e);
        }
    }
    body.push_str(&section(
        "Attached policies",
        api.iam("ListAttachedRolePolicies", &[("RoleName", name)]),
        |xml| {
            elements(xml, "member")
                .into_iter()
                .map(|m| text(m, "PolicyArn").unwrap_or_default())
                .collect()
        },
    ));
    body.push_str(&section(
        "Inline policies",
        api.iam("ListRolePolicies", &[("RoleName", name)]),
        |xml| {
            elements(xml, "member")
                .into_iter()
                .map(super::api::unescape)
                .collect()
        },
    ));
    body.push_str("<p><a href=\"/console/iam/roles\">Back to roles</a></p>");
    p.render(status, &format!("IAM role {name}"), &body)
}

// ---- S3 ----

async fn buckets(p: &Page<'_>) -> Resp {
    match p.api().s3(S3Call::ListBuckets).await {
        Ok(reply) => {
            let xml = String::from_utf8_lossy(&reply.body);
            let mut body = String::from(
                "<table><caption>Buckets</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Created</th></tr></thead><tbody>",
            );
            for b in elements(&xml, "Bucket") {
                let name = text(b, "Name").unwrap_or_default();
                body.push_str(&format!(
                    "<tr><td><a href=\"/console/s3/{}\">{}</a></td><td>{}</td></tr>",
                    enc(&name),
                    esc(&name),
                    esc(&text(b, "CreationDate").unwrap_or_default())
                ));
            }
            body.push_str("</tbody></table>");
            p.render(StatusCode::OK, "S3 buckets", &body)
        }
        Err(e) => p.render(status_of(&e), "S3 buckets", &err(&e)),
    }
}

async fn objects(p: &Page<'_>, bucket: &str, problem: Option<&ApiError>) -> Resp {
    let prefix = p.r.params.get("prefix").unwrap_or("").to_string();
    let mut body = problem.map(err).unwrap_or_default();
    let mut status = problem.map_or(StatusCode::OK, status_of);
    match p
        .api()
        .s3(S3Call::ListObjects {
            bucket: bucket.to_string(),
            prefix: prefix.clone(),
        })
        .await
    {
        Ok(reply) => {
            let xml = String::from_utf8_lossy(&reply.body);
            body.push_str(
                "<table><caption>Objects</caption><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Size</th><th scope=\"col\">Last modified</th><th scope=\"col\">Actions</th></tr></thead><tbody>",
            );
            for cp in elements(&xml, "CommonPrefixes") {
                let folder = text(cp, "Prefix").unwrap_or_default();
                body.push_str(&format!(
                    "<tr><td><a href=\"/console/s3/{}?prefix={}\">{}</a></td><td>folder</td><td></td><td></td></tr>",
                    enc(bucket),
                    enc(&folder),
                    esc(&folder)
                ));
            }
            for c in elements(&xml, "Contents") {
                let key = text(c, "Key").unwrap_or_default();
                body.push_str(&format!(
                    r#"<tr><td>{key_text}</td><td>{size}</td><td>{modified}</td><td><a href="/console/s3/{b}/object?key={k}">Download</a> <form class="inline" method="post" action="/console/s3/{b}/delete">{csrf}<input type="hidden" name="key" value="{key_text}"><button type="submit">Delete {key_text}</button></form></td></tr>"#,
                    key_text = esc(&key),
                    size = esc(&text(c, "Size").unwrap_or_default()),
                    modified = esc(&text(c, "LastModified").unwrap_or_default()),
                    b = enc(bucket),
                    k = enc(&key),
                    csrf = p.csrf_field(),
                ));
            }
            body.push_str("</tbody></table>");
        }
        Err(e) => {
            // The listing failing for the reason the action did is said once.
            if problem.is_none_or(|p| p.code != e.code) {
                body.push_str(&err(&e));
            }
            if status == StatusCode::OK {
                status = status_of(&e);
            }
        }
    }
    body.push_str(&format!(
        r#"<h2 id="upload">Upload</h2>
<form class="card" method="post" action="/console/s3/{b}/upload" enctype="multipart/form-data" aria-labelledby="upload">
{csrf}
<label for="upload-key">Key (empty: the file's name under the current prefix)</label>
<input id="upload-key" name="key" type="text" value="{prefix}">
<label for="upload-file">File</label>
<input id="upload-file" name="file" type="file" required>
<button type="submit">Upload</button>
</form>
<p><a href="/console/s3">Back to buckets</a></p>"#,
        b = enc(bucket),
        csrf = p.csrf_field(),
        prefix = esc(&prefix),
    ));
    p.render(status, &format!("S3 bucket {bucket}"), &body)
}

async fn download(p: &Page<'_>, bucket: &str) -> Resp {
    let key = p.r.params.get("key").unwrap_or("").to_string();
    match p
        .api()
        .s3(S3Call::GetObject {
            bucket: bucket.to_string(),
            key: key.clone(),
        })
        .await
    {
        Ok(reply) => {
            let mut resp = html::respond(StatusCode::OK, "application/octet-stream", reply.body);
            if let Ok(v) = HeaderValue::from_str(&reply.content_type) {
                resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
            }
            let file = key.rsplit('/').next().unwrap_or("download");
            let disposition = format!("attachment; filename*=UTF-8''{}", enc(file));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                resp.headers_mut().insert(hyper::header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Err(e) => objects(p, bucket, Some(&e)).await,
    }
}

async fn delete_object(p: &Page<'_>, bucket: &str) -> Resp {
    let key = p.r.params.get("key").unwrap_or("").to_string();
    match p
        .api()
        .s3(S3Call::DeleteObject {
            bucket: bucket.to_string(),
            key,
        })
        .await
    {
        Ok(_) => html::redirect(StatusCode::SEE_OTHER, &format!("/console/s3/{}", enc(bucket))),
        Err(e) => objects(p, bucket, Some(&e)).await,
    }
}

async fn upload(p: &Page<'_>, bucket: &str) -> Resp {
    let content_type =
        p.r.http
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
    let Some(parts) = multipart(content_type, p.r.http.body()) else {
        return p.render(
            StatusCode::BAD_REQUEST,
            "Upload",
            &html::error_box(
                "MalformedForm",
                "The upload must be a multipart/form-data form with a file.",
            ),
        );
    };
    let field = |name: &str| parts.iter().find(|x| x.name == name);
    let csrf = field("csrf").map(|x| String::from_utf8_lossy(&x.data).into_owned());
    if !csrf_ok(p.r, p.active, csrf.as_deref()) {
        return csrf_refused();
    }
    let Some(file) = field("file") else {
        return objects(p, bucket, Some(&ApiError::validation("choose a file to upload"))).await;
    };
    let typed = field("key")
        .map(|x| String::from_utf8_lossy(&x.data).trim().to_string())
        .unwrap_or_default();
    let filename = file.filename.clone().unwrap_or_default();
    let key = if typed.is_empty() || typed.ends_with('/') {
        format!("{typed}{filename}")
    } else {
        typed
    };
    match p
        .api()
        .s3(S3Call::PutObject {
            bucket: bucket.to_string(),
            key,
            content_type: file
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
            body: file.data.clone(),
        })
        .await
    {
        Ok(_) => html::redirect(StatusCode::SEE_OTHER, &format!("/console/s3/{}", enc(bucket))),
        Err(e) => objects(p, bucket, Some(&e)).await,
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone)]
pub(super) struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Parses a `multipart/form-data` body (RFC 7578).
pub(super) fn multipart(content_type: &str, body: &Bytes) -> Option<Vec<Part>> {
    if !content_type.starts_with("multipart/form-data") {
        return None;
    }
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()?
        .trim_matches('"');
    if boundary.is_empty() {
        return None;
    }
    let delim = format!("--{boundary}");
    let next_delim = format!("\r\n--{boundary}");
    let mut pos = find(body, delim.as_bytes(), 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(pos..pos + 2) != Some(b"\r\n") {
            return None;
        }
        let head_start = pos + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let head = std::str::from_utf8(body.get(head_start..head_end)?).ok()?;
        let data_start = head_end + 4;
        let data_end = find(body, next_delim.as_bytes(), data_start)?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: body.slice(data_start..data_end),
        };
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                for attr in v.split(';').map(str::trim) {
                    if let Some(n) = attr.strip_prefix("name=") {
                        part.name = n.trim_matches('"').to_string();
                    } else if let Some(f) = attr.strip_prefix("filename=") {
                        part.filename = Some(f.trim_matches('"').to_string());
                    }
                }
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(v.trim().to_string());
            }
        }
        parts.push(part);
        pos = data_end + next_delim.len();
    }
}

// ---- KMS ----

fn keys(p: &Page<'_>) -> Resp {
    match p.api().kms("ListKeys", json!({ "Limit": 1000 })) {
        Ok(v) => {
            let mut body = String::from(
                "<table><caption>KMS keys</caption><thead><tr><th scope=\"col\">Key ID</th><th scope=\"col\">ARN</th></tr></thead><tbody>",
            );
            for k in v.get("Keys").and_then(|k| k.as_array()).into_iter().flatten() {
                let id = k.get("KeyId").and_then(|x| x.as_str()).unwrap_or_default();
                let arn = k.get("KeyArn").and_then(|x| x.as_str()).unwrap_or_default();
                body.push_str(&format!(
                    "<tr><td><a href=\"/console/kms/{}\">{}</a></td><td>{}</td></tr>",
                    enc(id),
                    esc(id),
                    esc(arn)
                ));
            }
            body.push_str("</tbody></table>");
            p.render(StatusCode::OK, "KMS keys", &body)
        }
        Err(e) => p.render(status_of(&e), "KMS keys", &err(&e)),
    }
}

fn key_page(p: &Page<'_>, id: &str) -> Resp {
    match p.api().kms("DescribeKey", json!({ "KeyId": id })) {
        Ok(v) => {
            let meta = v.get("KeyMetadata").cloned().unwrap_or_default();
            let mut body = String::from("<dl>");
            for field in [
                "KeyId",
                "Arn",
                "Description",
                "KeyState",
                "Enabled",
                "KeyUsage",
                "KeySpec",
                "KeyManager",
                "CreationDate",
                "DeletionDate",
            ] {
                if let Some(value) = meta.get(field).filter(|x| !x.is_null()) {
                    let shown = value
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| value.to_string());
                    body.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(field), esc(&shown)));
                }
            }
            body.push_str("</dl><p><a href=\"/console/kms\">Back to keys</a></p>");
            p.render(StatusCode::OK, &format!("KMS key {id}"), &body)
        }
        Err(e) => p.render(status_of(&e), &format!("KMS key {id}"), &err(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multipart_forms() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XyZ--\r\n",
        );
        let parts = multipart("multipart/form-data; boundary=XyZ", &body).unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "csrf");
        assert_eq!(&parts[0].data[..], b"abc");
        assert_eq!(parts[1].filename.as_deref(), Some("a.txt"));
        assert_eq!(parts[1].content_type.as_deref(), Some("text/plain"));
        assert_eq!(&parts[1].data[..], b"line1\r\nline2");
        assert!(multipart("text/plain", &body).is_none());
        assert!(multipart("multipart/form-data; boundary=nope", &body).is_none());
    }
}
