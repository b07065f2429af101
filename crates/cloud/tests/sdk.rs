//! The embedded cloud driven by the AWS SDK for Rust (and raw SigV4 requests) over HTTP.
//!
//! Each test starts its own cloud on a fresh data directory, in a runtime of its own (so a
//! test can stop it and start it again on the same directory), and talks to it with SDK
//! clients configured with `endpoint_url` and static credentials. Expectations are AWS's
//! behaviour; a test that shows the cloud departing from it is `#[ignore = "BUG: …"]`.

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::*;

fn policy(statements: Value) -> String {
    let statements = if statements.is_array() {
        statements
    } else {
        json!([statements])
    };
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn allow(actions: &[&str], resource: &str) -> String {
    policy(json!({"Effect": "Allow", "Action": actions, "Resource": resource}))
}

fn trust(principal: Value) -> String {
    policy(json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}))
}

fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn account_root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// Creates a role with a trust policy and an optional inline policy `p`; returns its ARN.
async fn role(iam: &aws_sdk_iam::Client, name: &str, trust_policy: &str, inline: Option<&str>) -> String {
    let out = ok(iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy)
        .send()
        .await);
    if let Some(doc) = inline {
        ok(iam
            .put_role_policy()
            .role_name(name)
            .policy_name("p")
            .policy_document(doc)
            .send()
            .await);
    }
    out.role().expect("a role").arn().to_string()
}

/// `PackedPolicySize` (AWS still sends it; the SDK deprecated its accessor).
#[allow(deprecated)]
fn packed_policy_size(out: &aws_sdk_sts::operation::assume_role::AssumeRoleOutput) -> Option<i32> {
    out.packed_policy_size()
}

fn sts_tag(key: &str, value: &str) -> aws_sdk_sts::types::Tag {
    aws_sdk_sts::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .expect("tag")
}

fn iam_tag(key: &str, value: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .expect("tag")
}

/// Decodes the RFC 3986 percent-encoding IAM applies to policy documents in responses.
fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8 document")
}

fn same_json(a: &str, b: &str) -> bool {
    let a: Value = serde_json::from_str(a).expect("json");
    let b: Value = serde_json::from_str(b).expect("json");
    a == b
}

// ---- raw HTTP ----

/// One HTTP/1.1 POST of a form body; (status, body).
async fn raw_post(addr: SocketAddr, headers: &[(String, String)], body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = String::from("POST / HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .expect("an HTTP status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Headers of a SigV4-signed form POST to `/` signed at `time`.
fn signed_headers(
    addr: SocketAddr,
    body: &str,
    c: &Creds,
    service: &str,
    time: i64,
) -> Vec<(String, String)> {
    let host = addr.to_string();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let base = [("host", host.as_str()), ("content-type", content_type)];
    let req = porteiro_sigv4::Request::new("POST", "/", "", &base).with_body(body.as_bytes());
    let creds = porteiro_sigv4::Credentials::new(&c.ak, &c.sk, c.token.as_deref());
    let params = porteiro_sigv4::SigningParams::new(creds, "us-east-1", service, time);
    let signed = porteiro_sigv4::sign(&req, &params).expect("sign");
    let mut headers: Vec<(String, String)> =
        base.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    headers.extend(
        signed
            .headers()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    headers
}

const GET_CALLER_IDENTITY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// The text of the first `<tag>` element.
fn xml_elem<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(&xml[start..end])
}

/// Asserts the Query protocol's error shape and returns (code, message).
#[track_caller]
fn query_error(body: &str, namespace: &str) -> (String, String) {
    assert!(
        body.contains(&format!("<ErrorResponse xmlns=\"{namespace}\"><Error>")),
        "not an <ErrorResponse><Error> document: {body}"
    );
    assert!(body.contains("<Type>Sender</Type>"), "{body}");
    assert!(body.contains("<RequestId>"), "{body}");
    (
        xml_elem(body, "Code").expect("Code").to_string(),
        xml_elem(body, "Message").expect("Message").to_string(),
    )
}

const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

// ---------------------------------------------------------------------------------------
// GetCallerIdentity
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn get_caller_identity_of_root() {
    let s = Server::start();
    let me = ok(s.root_sts().get_caller_identity().send().await);
    assert_eq!(me.account(), Some(ACCOUNT));
    assert_eq!(me.arn(), Some(account_root(ACCOUNT).as_str()));
    assert_eq!(me.user_id(), Some(ACCOUNT));
}

#[tokio::test]
async fn get_caller_identity_of_user_and_role_session() {
    let s = Server::start();
    let iam = s.root_iam();
    let created = ok(iam.create_user().user_name("alice").send().await);
    let alice_id = created.user().expect("user").user_id().to_string();
    assert!(alice_id.starts_with("AIDA"), "{alice_id}");
    let key = ok(iam.create_access_key().user_name("alice").send().await);
    let key = key.access_key().expect("key");
    let alice = Creds::new(key.access_key_id(), key.secret_access_key(), None);

    let me = ok(s.sts(&alice).get_caller_identity().send().await);
    assert_eq!(me.account(), Some(ACCOUNT));
    assert_eq!(me.arn(), Some(user_arn("alice").as_str()));
    assert_eq!(me.user_id(), Some(alice_id.as_str()));

    let r = ok(iam
        .create_role()
        .role_name("reader")
        .assume_role_policy_document(trust(json!({"AWS": user_arn("alice")})))
        .send()
        .await);
    let role_id = r.role().expect("role").role_id().to_string();
    assert!(role_id.starts_with("AROA"), "{role_id}");
    let out = ok(s
        .sts(&alice)
        .assume_role()
        .role_arn(role_arn("reader"))
        .role_session_name("s1")
        .send()
        .await);
    let assumed = out.assumed_role_user().expect("assumed role user");
    assert_eq!(
        assumed.arn(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/reader/s1")
    );
    assert_eq!(assumed.assumed_role_id(), format!("{role_id}:s1"));
    let session = Creds::of(out.credentials());
    assert!(session.ak.starts_with("ASIA"), "{}", session.ak);

    let me = ok(s.sts(&session).get_caller_identity().send().await);
    assert_eq!(me.account(), Some(ACCOUNT));
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/reader/s1").as_str())
    );
    assert_eq!(me.user_id(), Some(format!("{role_id}:s1").as_str()));
}

#[tokio::test]
async fn get_caller_identity_cannot_be_denied() {
    // "No permissions are required to perform this operation. If an administrator attaches a
    // policy to your identity that explicitly denies access to the sts:GetCallerIdentity
    // action, you can still perform this operation."
    let s = Server::start();
    let deny_all = policy(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}));
    let bob = user_with_key(&s.root_iam(), "bob", Some(&deny_all)).await;
    let me = ok(s.sts(&bob).get_caller_identity().send().await);
    assert_eq!(me.arn(), Some(user_arn("bob").as_str()));
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn users_create_get_list_update_tag_delete() {
    let s = Server::start();
    let iam = s.root_iam();
    let out = ok(iam
        .create_user()
        .user_name("alice")
        .path("/eng/")
        .tags(iam_tag("team", "blue"))
        .send()
        .await);
    let u = out.user().expect("user");
    assert_eq!(u.user_name(), "alice");
    assert_eq!(u.path(), "/eng/");
    assert_eq!(u.arn(), format!("arn:aws:iam::{ACCOUNT}:user/eng/alice"));
    assert_eq!(u.tags().len(), 1);

    // IAM names are unique case-insensitively.
    let msg = fail_with(
        iam.create_user().user_name("Alice").send().await,
        "EntityAlreadyExists",
    );
    assert!(msg.contains("already exists"), "{msg}");

    let got = ok(iam.get_user().user_name("alice").send().await);
    assert_eq!(got.user().expect("user").arn(), u.arn());
    assert_eq!(got.user().expect("user").user_id(), u.user_id());

    ok(iam.create_user().user_name("bob").send().await);
    let listed = ok(iam.list_users().send().await);
    let mut names: Vec<&str> = listed.users().iter().map(|u| u.user_name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["alice", "bob"]);
    let eng = ok(iam.list_users().path_prefix("/eng/").send().await);
    assert_eq!(eng.users().len(), 1);

    ok(iam
        .tag_user()
        .user_name("alice")
        .tags(iam_tag("env", "dev"))
        .send()
        .await);
    let tags = ok(iam.list_user_tags().user_name("alice").send().await);
    let mut keys: Vec<&str> = tags.tags().iter().map(|t| t.key()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["env", "team"]);
    ok(iam.untag_user().user_name("alice").tag_keys("team").send().await);
    let tags = ok(iam.list_user_tags().user_name("alice").send().await);
    assert_eq!(tags.tags().len(), 1);

    ok(iam
        .update_user()
        .user_name("bob")
        .new_user_name("robert")
        .send()
        .await);
    let msg = fail_with(iam.get_user().user_name("bob").send().await, "NoSuchEntity");
    assert_eq!(msg, "The user with name bob cannot be found.");
    ok(iam.get_user().user_name("robert").send().await);

    ok(iam.delete_user().user_name("robert").send().await);
    fail_with(iam.delete_user().user_name("robert").send().await, "NoSuchEntity");
}

// ---------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn groups_members_and_group_policies_grant_permissions() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    let bob_iam = s.iam(&bob);
    fail_with(bob_iam.list_users().send().await, "AccessDenied");

    let g = ok(iam.create_group().group_name("readers").send().await);
    assert_eq!(
        g.group().expect("group").arn(),
        format!("arn:aws:iam::{ACCOUNT}:group/readers")
    );
    fail_with(
        iam.create_group().group_name("Readers").send().await,
        "EntityAlreadyExists",
    );
    ok(iam
        .add_user_to_group()
        .group_name("readers")
        .user_name("bob")
        .send()
        .await);
    ok(iam
        .put_group_policy()
        .group_name("readers")
        .policy_name("list")
        .policy_document(allow(&["iam:ListUsers", "iam:ListGroups"], "*"))
        .send()
        .await);

    let got = ok(iam.get_group().group_name("readers").send().await);
    let members: Vec<&str> = got.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(members, ["bob"]);
    let groups = ok(iam.list_groups_for_user().user_name("bob").send().await);
    assert_eq!(groups.groups().len(), 1);
    let inline = ok(iam.list_group_policies().group_name("readers").send().await);
    assert_eq!(inline.policy_names(), ["list"]);
    let doc = ok(iam
        .get_group_policy()
        .group_name("readers")
        .policy_name("list")
        .send()
        .await);
    assert!(same_json(
        &url_decode(doc.policy_document()),
        &allow(&["iam:ListUsers", "iam:ListGroups"], "*")
    ));

    // The member now has the group's permissions.
    ok(bob_iam.list_users().send().await);
    ok(bob_iam.list_groups().send().await);
    fail_with(bob_iam.create_user().user_name("x").send().await, "AccessDenied");

    // A managed policy attached to the group.
    ok(iam
        .attach_group_policy()
        .group_name("readers")
        .policy_arn("arn:aws:iam::aws:policy/IAMFullAccess")
        .send()
        .await);
    ok(bob_iam.create_user().user_name("x").send().await);
    ok(iam
        .detach_group_policy()
        .group_name("readers")
        .policy_arn("arn:aws:iam::aws:policy/IAMFullAccess")
        .send()
        .await);

    // A group with members cannot be deleted.
    fail_with(
        iam.delete_group().group_name("readers").send().await,
        "DeleteConflict",
    );
    ok(iam
        .remove_user_from_group()
        .group_name("readers")
        .user_name("bob")
        .send()
        .await);
    fail_with(bob_iam.list_users().send().await, "AccessDenied");
    fail_with(
        iam.delete_group().group_name("readers").send().await,
        "DeleteConflict",
    );
    ok(iam
        .delete_group_policy()
        .group_name("readers")
        .policy_name("list")
        .send()
        .await);
    ok(iam.delete_group().group_name("readers").send().await);
    fail_with(iam.get_group().group_name("readers").send().await, "NoSuchEntity");
}

// ---------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn roles_trust_policy_max_session_duration_and_inline_policies() {
    let s = Server::start();
    let iam = s.root_iam();
    let trust_doc = trust(json!({"AWS": account_root(ACCOUNT)}));
    let out = ok(iam
        .create_role()
        .role_name("deployer")
        .path("/ci/")
        .description("deploys things")
        .assume_role_policy_document(&trust_doc)
        .tags(iam_tag("team", "blue"))
        .send()
        .await);
    let r = out.role().expect("role");
    assert_eq!(r.arn(), format!("arn:aws:iam::{ACCOUNT}:role/ci/deployer"));
    assert!(r.role_id().starts_with("AROA"), "{}", r.role_id());
    fail_with(
        iam.create_role()
            .role_name("DEPLOYER")
            .assume_role_policy_document(&trust_doc)
            .send()
            .await,
        "EntityAlreadyExists",
    );

    let got = ok(iam.get_role().role_name("deployer").send().await);
    let r = got.role().expect("role");
    assert_eq!(r.max_session_duration(), Some(3600));
    assert_eq!(r.description(), Some("deploys things"));
    // IAM returns policy documents URL-encoded (RFC 3986).
    let doc = r.assume_role_policy_document().expect("trust policy");
    assert!(doc.starts_with("%7B"), "{doc}");
    assert!(same_json(&url_decode(doc), &trust_doc));

    ok(iam
        .update_role()
        .role_name("deployer")
        .max_session_duration(7200)
        .send()
        .await);
    let got = ok(iam.get_role().role_name("deployer").send().await);
    assert_eq!(got.role().expect("role").max_session_duration(), Some(7200));

    // (A trust policy may name only principals that exist.)
    ok(iam.create_user().user_name("alice").send().await);
    let new_trust = trust(json!({"AWS": user_arn("alice")}));
    ok(iam
        .update_assume_role_policy()
        .role_name("deployer")
        .policy_document(&new_trust)
        .send()
        .await);
    let got = ok(iam.get_role().role_name("deployer").send().await);
    let doc = got
        .role()
        .expect("role")
        .assume_role_policy_document()
        .expect("trust");
    assert!(same_json(&url_decode(doc), &new_trust));

    ok(iam
        .put_role_policy()
        .role_name("deployer")
        .policy_name("p")
        .policy_document(allow(&["iam:ListUsers"], "*"))
        .send()
        .await);
    let names = ok(iam.list_role_policies().role_name("deployer").send().await);
    assert_eq!(names.policy_names(), ["p"]);
    let doc = ok(iam
        .get_role_policy()
        .role_name("deployer")
        .policy_name("p")
        .send()
        .await);
    assert!(same_json(
        &url_decode(doc.policy_document()),
        &allow(&["iam:ListUsers"], "*")
    ));
    ok(iam
        .attach_role_policy()
        .role_name("deployer")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await);
    let attached = ok(iam
        .list_attached_role_policies()
        .role_name("deployer")
        .send()
        .await);
    assert_eq!(attached.attached_policies().len(), 1);

    let listed = ok(iam.list_roles().send().await);
    assert!(listed.roles().iter().any(|r| r.role_name() == "deployer"));

    // A role with policies cannot be deleted.
    fail_with(
        iam.delete_role().role_name("deployer").send().await,
        "DeleteConflict",
    );
    ok(iam
        .delete_role_policy()
        .role_name("deployer")
        .policy_name("p")
        .send()
        .await);
    ok(iam
        .detach_role_policy()
        .role_name("deployer")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await);
    ok(iam.delete_role().role_name("deployer").send().await);
    fail_with(iam.get_role().role_name("deployer").send().await, "NoSuchEntity");
}

// ---------------------------------------------------------------------------------------
// Managed and inline policies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn managed_policy_versions_and_attachments_drive_permissions() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    let bob_iam = s.iam(&bob);

    let v1 = allow(&["iam:ListUsers"], "*");
    let created = ok(iam
        .create_policy()
        .policy_name("lister")
        .policy_document(&v1)
        .send()
        .await);
    let p = created.policy().expect("policy");
    let arn = p.arn().expect("arn").to_string();
    assert_eq!(arn, format!("arn:aws:iam::{ACCOUNT}:policy/lister"));
    assert_eq!(p.default_version_id(), Some("v1"));
    assert_eq!(p.attachment_count(), Some(0));
    fail_with(
        iam.create_policy()
            .policy_name("lister")
            .policy_document(&v1)
            .send()
            .await,
        "EntityAlreadyExists",
    );

    ok(iam
        .attach_user_policy()
        .user_name("bob")
        .policy_arn(&arn)
        .send()
        .await);
    let got = ok(iam.get_policy().policy_arn(&arn).send().await);
    assert_eq!(got.policy().expect("policy").attachment_count(), Some(1));
    let attached = ok(iam.list_attached_user_policies().user_name("bob").send().await);
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|a| a.policy_arn())
        .collect();
    assert_eq!(arns, [arn.as_str()]);
    ok(bob_iam.list_users().send().await);
    fail_with(bob_iam.list_roles().send().await, "AccessDenied");

    // A new default version replaces the permissions.
    let v2 = allow(&["iam:ListRoles"], "*");
    let out = ok(iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(&v2)
        .set_as_default(true)
        .send()
        .await);
    let pv = out.policy_version().expect("version");
    assert_eq!(pv.version_id(), Some("v2"));
    assert!(pv.is_default_version());
    ok(bob_iam.list_roles().send().await);
    fail_with(bob_iam.list_users().send().await, "AccessDenied");

    let versions = ok(iam.list_policy_versions().policy_arn(&arn).send().await);
    let mut ids: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["v1", "v2"]);
    let old = ok(iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id("v1")
        .send()
        .await);
    let old = old.policy_version().expect("version");
    assert!(!old.is_default_version());
    assert!(same_json(&url_decode(old.document().expect("document")), &v1));

    // Back to v1.
    ok(iam
        .set_default_policy_version()
        .policy_arn(&arn)
        .version_id("v1")
        .send()
        .await);
    ok(bob_iam.list_users().send().await);
    fail_with(bob_iam.list_roles().send().await, "AccessDenied");

    // The default version cannot be deleted; at most 5 versions.
    fail_with(
        iam.delete_policy_version()
            .policy_arn(&arn)
            .version_id("v1")
            .send()
            .await,
        "DeleteConflict",
    );
    for _ in 0..3 {
        ok(iam
            .create_policy_version()
            .policy_arn(&arn)
            .policy_document(&v2)
            .send()
            .await);
    }
    fail_with(
        iam.create_policy_version()
            .policy_arn(&arn)
            .policy_document(&v2)
            .send()
            .await,
        "LimitExceeded",
    );

    // An attached policy cannot be deleted.
    fail_with(
        iam.delete_policy().policy_arn(&arn).send().await,
        "DeleteConflict",
    );
    ok(iam
        .detach_user_policy()
        .user_name("bob")
        .policy_arn(&arn)
        .send()
        .await);
    fail_with(bob_iam.list_users().send().await, "AccessDenied");
    for v in ["v2", "v3", "v4", "v5"] {
        ok(iam
            .delete_policy_version()
            .policy_arn(&arn)
            .version_id(v)
            .send()
            .await);
    }
    ok(iam.delete_policy().policy_arn(&arn).send().await);
    fail_with(iam.get_policy().policy_arn(&arn).send().await, "NoSuchEntity");
}

#[tokio::test]

async fn aws_managed_policies_are_readable() {
    // Every account can read the AWS managed policies (GetPolicy, GetPolicyVersion,
    // ListPolicies with Scope=AWS); the root user has every permission in its account.
    let s = Server::start();
    let iam = s.root_iam();
    let read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let got = ok(iam.get_policy().policy_arn(read_only).send().await);
    let p = got.policy().expect("policy");
    assert_eq!(p.policy_name(), Some("ReadOnlyAccess"));
    assert_eq!(p.default_version_id(), Some("v1"));
    let v = ok(iam
        .get_policy_version()
        .policy_arn(read_only)
        .version_id("v1")
        .send()
        .await);
    assert!(v.policy_version().expect("version").document().is_some());
    let listed = ok(iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Aws)
        .send()
        .await);
    assert!(listed.policies().iter().any(|p| p.arn() == Some(read_only)));
    // So can an IAM user with iam:GetPolicy.
    let bob = user_with_key(&iam, "bob", Some(&allow(&["iam:GetPolicy"], "*"))).await;
    ok(s.iam(&bob).get_policy().policy_arn(read_only).send().await);
}

#[tokio::test]
async fn aws_managed_policy_attached_to_a_user() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    let read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    ok(iam
        .attach_user_policy()
        .user_name("bob")
        .policy_arn(read_only)
        .send()
        .await);
    let bob_iam = s.iam(&bob);
    ok(bob_iam.list_users().send().await);
    ok(bob_iam.get_user().user_name("bob").send().await);
    let msg = fail_with(
        bob_iam.create_user().user_name("carol").send().await,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        format!(
            "User: {} is not authorized to perform: iam:CreateUser on resource: {} because no identity-based policy allows the iam:CreateUser action",
            user_arn("bob"),
            user_arn("carol")
        )
    );
    fail_with(
        iam.attach_user_policy()
            .user_name("bob")
            .policy_arn("arn:aws:iam::aws:policy/NoSuchPolicy")
            .send()
            .await,
        "NoSuchEntity",
    );
}

#[tokio::test]
async fn inline_user_policies_put_get_list_delete() {
    let s = Server::start();
    let iam = s.root_iam();
    ok(iam.create_user().user_name("bob").send().await);
    let doc = allow(&["iam:GetUser"], &user_arn("bob"));
    ok(iam
        .put_user_policy()
        .user_name("bob")
        .policy_name("self")
        .policy_document(&doc)
        .send()
        .await);
    let names = ok(iam.list_user_policies().user_name("bob").send().await);
    assert_eq!(names.policy_names(), ["self"]);
    let got = ok(iam
        .get_user_policy()
        .user_name("bob")
        .policy_name("self")
        .send()
        .await);
    assert_eq!(got.user_name(), "bob");
    assert_eq!(got.policy_name(), "self");
    assert!(same_json(&url_decode(got.policy_document()), &doc));
    fail_with(
        iam.get_user_policy()
            .user_name("bob")
            .policy_name("other")
            .send()
            .await,
        "NoSuchEntity",
    );
    // A user with policies cannot be deleted.
    fail_with(iam.delete_user().user_name("bob").send().await, "DeleteConflict");
    ok(iam
        .delete_user_policy()
        .user_name("bob")
        .policy_name("self")
        .send()
        .await);
    ok(iam.delete_user().user_name("bob").send().await);
}

// ---------------------------------------------------------------------------------------
// Access keys and login profiles
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn access_keys_create_list_deactivate_delete() {
    let s = Server::start();
    let iam = s.root_iam();
    ok(iam.create_user().user_name("bob").send().await);
    let out = ok(iam.create_access_key().user_name("bob").send().await);
    let k = out.access_key().expect("key");
    assert_eq!(k.user_name(), "bob");
    assert!(k.access_key_id().starts_with("AKIA"), "{}", k.access_key_id());
    assert_eq!(k.access_key_id().len(), 20);
    assert_eq!(k.secret_access_key().len(), 40);
    assert_eq!(k.status().as_str(), "Active");
    let bob = Creds::new(k.access_key_id(), k.secret_access_key(), None);
    ok(s.sts(&bob).get_caller_identity().send().await);

    let listed = ok(iam.list_access_keys().user_name("bob").send().await);
    let ids: Vec<&str> = listed
        .access_key_metadata()
        .iter()
        .filter_map(|m| m.access_key_id())
        .collect();
    assert_eq!(ids, [bob.ak.as_str()]);

    // Inactive keys do not authenticate.
    ok(iam
        .update_access_key()
        .user_name("bob")
        .access_key_id(&bob.ak)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await);
    let msg = fail_with(
        s.sts(&bob).get_caller_identity().send().await,
        "InvalidClientTokenId",
    );
    assert_eq!(msg, "The security token included in the request is invalid.");
    ok(iam
        .update_access_key()
        .user_name("bob")
        .access_key_id(&bob.ak)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await);
    ok(s.sts(&bob).get_caller_identity().send().await);

    // Two keys per user at most.
    ok(iam.create_access_key().user_name("bob").send().await);
    fail_with(
        iam.create_access_key().user_name("bob").send().await,
        "LimitExceeded",
    );

    // A user with keys cannot be deleted; a deleted key no longer authenticates.
    fail_with(iam.delete_user().user_name("bob").send().await, "DeleteConflict");
    ok(iam
        .delete_access_key()
        .user_name("bob")
        .access_key_id(&bob.ak)
        .send()
        .await);
    fail_with(
        s.sts(&bob).get_caller_identity().send().await,
        "InvalidClientTokenId",
    );
    fail_with(
        iam.delete_access_key()
            .user_name("bob")
            .access_key_id(&bob.ak)
            .send()
            .await,
        "NoSuchEntity",
    );
}

#[tokio::test]
async fn access_keys_of_the_caller_itself() {
    // Without UserName, the key operations act on the calling IAM user.
    let s = Server::start();
    let iam = s.root_iam();
    let own = policy(json!({
        "Effect": "Allow",
        "Action": ["iam:CreateAccessKey", "iam:ListAccessKeys"],
        "Resource": "arn:aws:iam::*:user/${aws:username}"
    }));
    let bob = user_with_key(&iam, "bob", Some(&own)).await;
    let bob_iam = s.iam(&bob);
    let out = ok(bob_iam.create_access_key().send().await);
    assert_eq!(out.access_key().expect("key").user_name(), "bob");
    let listed = ok(bob_iam.list_access_keys().send().await);
    assert_eq!(listed.access_key_metadata().len(), 2);
    fail_with(
        bob_iam.create_access_key().user_name("alice").send().await,
        "AccessDenied",
    );
}

#[tokio::test]
async fn login_profiles_create_get_update_delete() {
    let s = Server::start();
    let iam = s.root_iam();
    ok(iam.create_user().user_name("alice").send().await);
    let out = ok(iam
        .create_login_profile()
        .user_name("alice")
        .password("S3cret!Passw0rd")
        .password_reset_required(true)
        .send()
        .await);
    let lp = out.login_profile().expect("login profile");
    assert_eq!(lp.user_name(), "alice");
    assert!(lp.password_reset_required());
    fail_with(
        iam.create_login_profile()
            .user_name("alice")
            .password("An0ther!Passw0rd")
            .send()
            .await,
        "EntityAlreadyExists",
    );
    let got = ok(iam.get_login_profile().user_name("alice").send().await);
    assert!(
        got.login_profile()
            .expect("login profile")
            .password_reset_required()
    );

    ok(iam
        .update_login_profile()
        .user_name("alice")
        .password("N3w!Passw0rd-x")
        .password_reset_required(false)
        .send()
        .await);
    let got = ok(iam.get_login_profile().user_name("alice").send().await);
    assert!(
        !got.login_profile()
            .expect("login profile")
            .password_reset_required()
    );

    // A user with a login profile cannot be deleted.
    fail_with(
        iam.delete_user().user_name("alice").send().await,
        "DeleteConflict",
    );
    ok(iam.delete_login_profile().user_name("alice").send().await);
    fail_with(
        iam.get_login_profile().user_name("alice").send().await,
        "NoSuchEntity",
    );
    fail_with(
        iam.create_login_profile()
            .user_name("nobody")
            .password("S3cret!Passw0rd")
            .send()
            .await,
        "NoSuchEntity",
    );
    ok(iam.delete_user().user_name("alice").send().await);
}

#[tokio::test]
async fn login_profile_password_must_meet_the_default_policy() {
    // Without an account password policy, AWS's default applies (at least 8 characters, and
    // three of: upper case, lower case, digits, symbols).
    let s = Server::start();
    let iam = s.root_iam();
    ok(iam.create_user().user_name("alice").send().await);
    fail_with(
        iam.create_login_profile()
            .user_name("alice")
            .password("abc")
            .send()
            .await,
        "PasswordPolicyViolation",
    );
}

// ---------------------------------------------------------------------------------------
// Authorization of IAM users
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn user_calls_allowed_and_denied_with_aws_messages() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", Some(&allow(&["iam:ListUsers", "iam:GetUser"], "*"))).await;
    let bob_iam = s.iam(&bob);
    ok(bob_iam.list_users().send().await);
    let me = ok(bob_iam.get_user().send().await);
    assert_eq!(me.user().expect("user").user_name(), "bob");

    let msg = fail_with(
        bob_iam.create_user().user_name("carol").send().await,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/carol because no identity-based policy allows the iam:CreateUser action"
        )
    );
    // Denied calls change nothing.
    fail_with(iam.get_user().user_name("carol").send().await, "NoSuchEntity");

    let msg = fail_with(
        bob_iam
            .put_user_policy()
            .user_name("bob")
            .policy_name("escalate")
            .policy_document(allow(&["*"], "*"))
            .send()
            .await,
        "AccessDenied",
    );
    assert!(msg.contains("iam:PutUserPolicy"), "{msg}");

    // Resource-scoped permissions.
    ok(iam
        .put_user_policy()
        .user_name("bob")
        .policy_name("create-in-team")
        .policy_document(allow(
            &["iam:CreateUser"],
            &format!("arn:aws:iam::{ACCOUNT}:user/team/*"),
        ))
        .send()
        .await);
    ok(bob_iam
        .create_user()
        .user_name("dave")
        .path("/team/")
        .send()
        .await);
    fail_with(
        bob_iam.create_user().user_name("erin").send().await,
        "AccessDenied",
    );
}

#[tokio::test]
async fn explicit_deny_wins_with_aws_message() {
    let s = Server::start();
    let iam = s.root_iam();
    let doc = policy(json!([
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"}
    ]));
    let bob = user_with_key(&iam, "bob", Some(&doc)).await;
    ok(iam.create_user().user_name("carol").send().await);
    let bob_iam = s.iam(&bob);
    let msg = fail_with(
        bob_iam.delete_user().user_name("carol").send().await,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: iam:DeleteUser on resource: arn:aws:iam::{ACCOUNT}:user/carol with an explicit deny in an identity-based policy"
        )
    );
    ok(bob_iam.create_user().user_name("dave").send().await);
}

#[tokio::test]
async fn condition_keys_of_the_request_context() {
    let s = Server::start();
    let iam = s.root_iam();
    let doc = policy(json!([
        {"Effect": "Allow", "Action": ["iam:CreateUser", "iam:TagUser"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "${aws:PrincipalTag/team}"}}},
        {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}},
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}
    ]));
    let bob = user_with_key(&iam, "bob", Some(&doc)).await;
    ok(iam
        .tag_user()
        .user_name("bob")
        .tags(iam_tag("team", "blue"))
        .send()
        .await);
    let bob_iam = s.iam(&bob);
    ok(bob_iam
        .create_user()
        .user_name("b1")
        .tags(iam_tag("team", "blue"))
        .send()
        .await);
    fail_with(
        bob_iam
            .create_user()
            .user_name("r1")
            .tags(iam_tag("team", "red"))
            .send()
            .await,
        "AccessDenied",
    );
    fail_with(bob_iam.create_user().user_name("n1").send().await, "AccessDenied");
    ok(bob_iam.list_users().send().await);
    fail_with(bob_iam.list_roles().send().await, "AccessDenied");
}

#[tokio::test]

async fn resource_tags_of_users_and_roles_reach_conditions() {
    // "To control access to IAM users and roles based on their tags, use aws:ResourceTag/key-name
    // (or iam:ResourceTag/key-name) in the Condition element."
    let s = Server::start();
    let iam = s.root_iam();
    let doc = policy(json!([
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
        {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:ResourceTag/team": "blue"}}}
    ]));
    let bob = user_with_key(&iam, "bob", Some(&doc)).await;
    ok(iam
        .tag_user()
        .user_name("bob")
        .tags(iam_tag("team", "blue"))
        .send()
        .await);
    ok(iam
        .create_user()
        .user_name("b1")
        .tags(iam_tag("team", "blue"))
        .send()
        .await);
    ok(iam
        .create_user()
        .user_name("r1")
        .tags(iam_tag("team", "red"))
        .send()
        .await);
    let t = trust(json!({"AWS": account_root(ACCOUNT)}));
    ok(iam
        .create_role()
        .role_name("blue-role")
        .assume_role_policy_document(&t)
        .tags(iam_tag("team", "blue"))
        .send()
        .await);
    ok(iam
        .create_role()
        .role_name("red-role")
        .assume_role_policy_document(&t)
        .tags(iam_tag("team", "red"))
        .send()
        .await);
    let bob_iam = s.iam(&bob);
    ok(bob_iam.get_user().user_name("b1").send().await);
    fail_with(bob_iam.get_user().user_name("r1").send().await, "AccessDenied");
    ok(bob_iam.get_role().role_name("blue-role").send().await);
    fail_with(
        bob_iam.get_role().role_name("red-role").send().await,
        "AccessDenied",
    );
}

#[tokio::test]
async fn role_permissions_boundary_and_policy_changes_apply_to_live_sessions() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    role(&iam, "admin", &trust(json!({"AWS": user_arn("bob")})), None).await;
    let out = ok(s
        .sts(&bob)
        .assume_role()
        .role_arn(role_arn("admin"))
        .role_session_name("live")
        .send()
        .await);
    let sess = s.iam(&Creds::of(out.credentials()));
    fail_with(sess.list_users().send().await, "AccessDenied");
    // Permissions are evaluated at each request: a policy added later applies at once.
    ok(iam
        .attach_role_policy()
        .role_name("admin")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await);
    ok(sess.list_users().send().await);
    ok(sess.create_user().user_name("made-by-role").send().await);
    // A permissions boundary on the role limits its sessions.
    let boundary = ok(iam
        .create_policy()
        .policy_name("list-only")
        .policy_document(allow(&["iam:List*"], "*"))
        .send()
        .await);
    let boundary_arn = boundary.policy().expect("policy").arn().expect("arn").to_string();
    ok(iam
        .put_role_permissions_boundary()
        .role_name("admin")
        .permissions_boundary(&boundary_arn)
        .send()
        .await);
    ok(sess.list_users().send().await);
    let msg = fail_with(
        sess.create_user().user_name("another").send().await,
        "AccessDenied",
    );
    assert!(
        msg.ends_with("because no permissions boundary allows the iam:CreateUser action"),
        "{msg}"
    );
    ok(iam
        .delete_role_permissions_boundary()
        .role_name("admin")
        .send()
        .await);
    ok(sess.create_user().user_name("another").send().await);
}

#[tokio::test]
async fn identity_deny_of_assume_role_wins_over_a_trusting_role() {
    let s = Server::start();
    let iam = s.root_iam();
    let no_roles = policy(json!({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}));
    let bob = user_with_key(&iam, "bob", Some(&no_roles)).await;
    role(&iam, "r1", &trust(json!({"AWS": user_arn("bob")})), None).await;
    let msg = fail_with(
        s.sts(&bob)
            .assume_role()
            .role_arn(role_arn("r1"))
            .role_session_name("sess")
            .send()
            .await,
        "AccessDenied",
    );
    assert!(
        msg.ends_with("with an explicit deny in an identity-based policy"),
        "{msg}"
    );
}

#[tokio::test]
async fn permissions_boundary_limits_a_user() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    ok(iam
        .attach_user_policy()
        .user_name("bob")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await);
    let boundary = ok(iam
        .create_policy()
        .policy_name("read-only-boundary")
        .policy_document(allow(&["iam:Get*", "iam:List*"], "*"))
        .send()
        .await);
    let boundary_arn = boundary.policy().expect("policy").arn().expect("arn").to_string();
    ok(iam
        .put_user_permissions_boundary()
        .user_name("bob")
        .permissions_boundary(&boundary_arn)
        .send()
        .await);
    let got = ok(iam.get_user().user_name("bob").send().await);
    let pb = got
        .user()
        .expect("user")
        .permissions_boundary()
        .expect("boundary");
    assert_eq!(pb.permissions_boundary_arn(), Some(boundary_arn.as_str()));

    let bob_iam = s.iam(&bob);
    ok(bob_iam.list_users().send().await);
    let msg = fail_with(
        bob_iam.create_user().user_name("carol").send().await,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        format!(
            "User: {} is not authorized to perform: iam:CreateUser on resource: {} because no permissions boundary allows the iam:CreateUser action",
            user_arn("bob"),
            user_arn("carol")
        )
    );
    // The boundary grants nothing by itself.
    let carol = user_with_key(&iam, "carol", None).await;
    ok(iam
        .put_user_permissions_boundary()
        .user_name("carol")
        .permissions_boundary(&boundary_arn)
        .send()
        .await);
    fail_with(s.iam(&carol).list_users().send().await, "AccessDenied");

    ok(iam
        .delete_user_permissions_boundary()
        .user_name("bob")
        .send()
        .await);
    ok(bob_iam.create_user().user_name("dave").send().await);
    // A boundary given at creation.
    ok(iam
        .create_user()
        .user_name("erin")
        .permissions_boundary(&boundary_arn)
        .send()
        .await);
    let got = ok(iam.get_user().user_name("erin").send().await);
    assert!(got.user().expect("user").permissions_boundary().is_some());
}

// ---------------------------------------------------------------------------------------
// AssumeRole
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn assume_role_trust_naming_the_user_needs_no_identity_policy() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    role(
        &iam,
        "lister",
        &trust(json!({"AWS": user_arn("bob")})),
        Some(&allow(&["iam:ListUsers"], "*")),
    )
    .await;
    let out = ok(s
        .sts(&bob)
        .assume_role()
        .role_arn(role_arn("lister"))
        .role_session_name("bob-session")
        .send()
        .await);
    assert!(packed_policy_size(&out).is_none());
    let c = out.credentials().expect("credentials");
    let lifetime = c.expiration().secs() - now();
    assert!(
        (3590..=3610).contains(&lifetime),
        "default duration is one hour, got {lifetime}"
    );
    let session = Creds::of(Some(c));

    let sess_iam = s.iam(&session);
    ok(sess_iam.list_users().send().await);
    let msg = fail_with(
        sess_iam.create_user().user_name("carol").send().await,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        format!(
            "User: arn:aws:sts::{ACCOUNT}:assumed-role/lister/bob-session is not authorized to perform: iam:CreateUser on resource: {} because no identity-based policy allows the iam:CreateUser action",
            user_arn("carol")
        )
    );
}

#[tokio::test]
async fn assume_role_trust_naming_the_account_needs_an_identity_policy() {
    let s = Server::start();
    let iam = s.root_iam();
    role(&iam, "r1", &trust(json!({"AWS": account_root(ACCOUNT)})), None).await;
    let bob = user_with_key(&iam, "bob", None).await;
    let msg = fail_with(
        s.sts(&bob)
            .assume_role()
            .role_arn(role_arn("r1"))
            .role_session_name("sess")
            .send()
            .await,
        "AccessDenied",
    );
    assert!(
        msg.starts_with(&format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            user_arn("bob"),
            role_arn("r1")
        )),
        "{msg}"
    );
    let alice = user_with_key(&iam, "alice", Some(&allow(&["sts:AssumeRole"], &role_arn("r1")))).await;
    ok(s.sts(&alice)
        .assume_role()
        .role_arn(role_arn("r1"))
        .role_session_name("sess")
        .send()
        .await);
}

#[tokio::test]
async fn assume_role_refused_when_the_trust_policy_does_not_allow() {
    let s = Server::start();
    let iam = s.root_iam();
    ok(iam.create_user().user_name("alice").send().await);
    role(&iam, "alices", &trust(json!({"AWS": user_arn("alice")})), None).await;
    // Even an administrator needs the trust policy.
    let bob = user_with_key(&iam, "bob", Some(&allow(&["*"], "*"))).await;
    let msg = fail_with(
        s.sts(&bob)
            .assume_role()
            .role_arn(role_arn("alices"))
            .role_session_name("sess")
            .send()
            .await,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            user_arn("bob"),
            role_arn("alices")
        )
    );
    // A trust policy that denies outright.
    let deny_bob = policy(json!([
        {"Effect": "Allow", "Principal": {"AWS": account_root(ACCOUNT)}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": user_arn("bob")}, "Action": "sts:AssumeRole"}
    ]));
    role(&iam, "not-bob", &deny_bob, None).await;
    fail_with(
        s.sts(&bob)
            .assume_role()
            .role_arn(role_arn("not-bob"))
            .role_session_name("sess")
            .send()
            .await,
        "AccessDenied",
    );
    // A role that does not exist is also AccessDenied.
    let msg = fail_with(
        s.sts(&bob)
            .assume_role()
            .role_arn(role_arn("no-such-role"))
            .role_session_name("sess")
            .send()
            .await,
        "AccessDenied",
    );
    assert!(msg.contains(&role_arn("no-such-role")), "{msg}");
}

#[tokio::test]

async fn assume_role_by_the_root_user_is_refused() {
    // AWS: "Roles may not be assumed by root accounts." (AccessDenied)
    let s = Server::start();
    let iam = s.root_iam();
    role(&iam, "r1", &trust(json!({"AWS": account_root(ACCOUNT)})), None).await;
    let msg = fail_with(
        s.root_sts()
            .assume_role()
            .role_arn(role_arn("r1"))
            .role_session_name("sess")
            .send()
            .await,
        "AccessDenied",
    );
    assert!(msg.contains("Roles may not be assumed by root accounts"), "{msg}");
}

#[tokio::test]
async fn assume_role_with_an_external_id_condition() {
    let s = Server::start();
    let iam = s.root_iam();
    let trust_doc = policy(json!({
        "Effect": "Allow",
        "Principal": {"AWS": user_arn("bob")},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "ext-12345"}}
    }));
    let bob = user_with_key(&iam, "bob", None).await;
    role(&iam, "vendor", &trust_doc, None).await;
    let sts = s.sts(&bob);
    fail_with(
        sts.assume_role()
            .role_arn(role_arn("vendor"))
            .role_session_name("sess")
            .send()
            .await,
        "AccessDenied",
    );
    fail_with(
        sts.assume_role()
            .role_arn(role_arn("vendor"))
            .role_session_name("sess")
            .external_id("wrong-id")
            .send()
            .await,
        "AccessDenied",
    );
    ok(sts
        .assume_role()
        .role_arn(role_arn("vendor"))
        .role_session_name("sess")
        .external_id("ext-12345")
        .send()
        .await);
    // ExternalId is 2..=1224 characters of [\w+=,.@:/-].
    fail_with(
        sts.assume_role()
            .role_arn(role_arn("vendor"))
            .role_session_name("sess")
            .external_id("x")
            .send()
            .await,
        "ValidationError",
    );
}

#[tokio::test]
async fn assume_role_duration_limits() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    role(&iam, "short", &trust(json!({"AWS": user_arn("bob")})), None).await;
    ok(iam
        .create_role()
        .role_name("long")
        .assume_role_policy_document(trust(json!({"AWS": user_arn("bob")})))
        .max_session_duration(43200)
        .send()
        .await);
    let sts = s.sts(&bob);
    let assume = |name: &str, d: i32| {
        sts.assume_role()
            .role_arn(role_arn(name))
            .role_session_name("sess")
            .duration_seconds(d)
    };

    fail_with(assume("short", 899).send().await, "ValidationError");
    let out = ok(assume("short", 900).send().await);
    let lifetime = out.credentials().expect("credentials").expiration().secs() - now();
    assert!((890..=910).contains(&lifetime), "{lifetime}");
    ok(assume("short", 3600).send().await);
    let msg = fail_with(assume("short", 3601).send().await, "ValidationError");
    assert!(msg.contains("MaxSessionDuration"), "{msg}");

    let out = ok(assume("long", 43200).send().await);
    let lifetime = out.credentials().expect("credentials").expiration().secs() - now();
    assert!((43190..=43210).contains(&lifetime), "{lifetime}");
    fail_with(assume("long", 43201).send().await, "ValidationError");
}

#[tokio::test]
async fn role_chaining_is_capped_at_one_hour() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    for (name, trusted) in [("first", user_arn("bob")), ("second", role_arn("first"))] {
        ok(iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust(json!({"AWS": trusted})))
            .max_session_duration(43200)
            .send()
            .await);
    }
    ok(iam
        .put_role_policy()
        .role_name("first")
        .policy_name("p")
        .policy_document(allow(&["sts:AssumeRole"], &role_arn("second")))
        .send()
        .await);
    let first = ok(s
        .sts(&bob)
        .assume_role()
        .role_arn(role_arn("first"))
        .role_session_name("one")
        .duration_seconds(7200)
        .send()
        .await);
    let first = Creds::of(first.credentials());
    let sts = s.sts(&first);
    let msg = fail_with(
        sts.assume_role()
            .role_arn(role_arn("second"))
            .role_session_name("two")
            .duration_seconds(7200)
            .send()
            .await,
        "ValidationError",
    );
    assert!(msg.contains("1 hour"), "{msg}");
    let out = ok(sts
        .assume_role()
        .role_arn(role_arn("second"))
        .role_session_name("two")
        .send()
        .await);
    let lifetime = out.credentials().expect("credentials").expiration().secs() - now();
    assert!(lifetime <= 3610, "{lifetime}");
    ok(sts
        .assume_role()
        .role_arn(role_arn("second"))
        .role_session_name("two")
        .duration_seconds(3600)
        .send()
        .await);
    let second = Creds::of(out.credentials());
    let me = ok(s.sts(&second).get_caller_identity().send().await);
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/second/two").as_str())
    );
}

#[tokio::test]
async fn session_policy_intersects_the_role_permissions() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    role(
        &iam,
        "r1",
        &trust(json!({"AWS": user_arn("bob")})),
        Some(&allow(&["iam:ListUsers", "iam:ListRoles"], "*")),
    )
    .await;
    let out = ok(s
        .sts(&bob)
        .assume_role()
        .role_arn(role_arn("r1"))
        .role_session_name("scoped")
        .policy(allow(&["iam:ListUsers", "iam:CreateUser"], "*"))
        .send()
        .await);
    assert!(packed_policy_size(&out).is_some_and(|n| (1..=100).contains(&n)));
    let sess = s.iam(&Creds::of(out.credentials()));
    // In both: allowed.
    ok(sess.list_users().send().await);
    // Only in the role's policy: the session policy does not allow it.
    let msg = fail_with(sess.list_roles().send().await, "AccessDenied");
    assert!(
        msg.ends_with("because no session policy allows the iam:ListRoles action"),
        "{msg}"
    );
    // Only in the session policy: a session policy cannot grant.
    let msg = fail_with(sess.create_user().user_name("carol").send().await, "AccessDenied");
    assert!(
        msg.ends_with("because no identity-based policy allows the iam:CreateUser action"),
        "{msg}"
    );

    // Managed session policies (PolicyArns) limit the same way.
    let out = ok(s
        .sts(&bob)
        .assume_role()
        .role_arn(role_arn("r1"))
        .role_session_name("managed")
        .policy_arns(
            aws_sdk_sts::types::PolicyDescriptorType::builder()
                .arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
                .build(),
        )
        .send()
        .await);
    let sess = s.iam(&Creds::of(out.credentials()));
    ok(sess.list_users().send().await);
    ok(sess.list_roles().send().await);
}

#[tokio::test]
async fn source_identity_needs_set_source_identity_and_reaches_conditions() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    let by_source = policy(json!({
        "Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}}
    }));
    role(
        &iam,
        "plain",
        &trust(json!({"AWS": user_arn("bob")})),
        Some(&by_source),
    )
    .await;
    let with_si = policy(json!({
        "Effect": "Allow", "Principal": {"AWS": user_arn("bob")},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]
    }));
    role(&iam, "audited", &with_si, Some(&by_source)).await;
    let sts = s.sts(&bob);

    let msg = fail_with(
        sts.assume_role()
            .role_arn(role_arn("plain"))
            .role_session_name("sess")
            .source_identity("alice")
            .send()
            .await,
        "AccessDenied",
    );
    assert!(msg.contains("sts:SetSourceIdentity"), "{msg}");

    let out = ok(sts
        .assume_role()
        .role_arn(role_arn("audited"))
        .role_session_name("sess")
        .source_identity("alice")
        .send()
        .await);
    assert_eq!(out.source_identity(), Some("alice"));
    ok(s.iam(&Creds::of(out.credentials())).list_users().send().await);

    let out = ok(sts
        .assume_role()
        .role_arn(role_arn("audited"))
        .role_session_name("sess")
        .source_identity("mallory")
        .send()
        .await);
    fail_with(
        s.iam(&Creds::of(out.credentials())).list_users().send().await,
        "AccessDenied",
    );

    let out = ok(sts
        .assume_role()
        .role_arn(role_arn("audited"))
        .role_session_name("sess")
        .send()
        .await);
    assert_eq!(out.source_identity(), None);
    fail_with(
        s.iam(&Creds::of(out.credentials())).list_users().send().await,
        "AccessDenied",
    );
}

#[tokio::test]
async fn source_identity_is_kept_through_role_chaining() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    let with_si = |who: String| {
        policy(json!({
            "Effect": "Allow", "Principal": {"AWS": who},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]
        }))
    };
    role(
        &iam,
        "first",
        &with_si(user_arn("bob")),
        Some(&allow(&["sts:AssumeRole"], "*")),
    )
    .await;
    let by_source = policy(json!({
        "Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}}
    }));
    role(&iam, "second", &with_si(role_arn("first")), Some(&by_source)).await;
    let first = ok(s
        .sts(&bob)
        .assume_role()
        .role_arn(role_arn("first"))
        .role_session_name("sess-a")
        .source_identity("alice")
        .send()
        .await);
    let sts = s.sts(&Creds::of(first.credentials()));
    fail_with(
        sts.assume_role()
            .role_arn(role_arn("second"))
            .role_session_name("sess-b")
            .source_identity("mallory")
            .send()
            .await,
        "ValidationError",
    );
    let second = ok(sts
        .assume_role()
        .role_arn(role_arn("second"))
        .role_session_name("sess-b")
        .send()
        .await);
    assert_eq!(second.source_identity(), Some("alice"));
    ok(s.iam(&Creds::of(second.credentials())).list_users().send().await);
}

#[tokio::test]
async fn session_tags_need_tag_session_and_become_principal_tags() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    let by_team = policy(json!({
        "Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}
    }));
    role(
        &iam,
        "untaggable",
        &trust(json!({"AWS": user_arn("bob")})),
        Some(&by_team),
    )
    .await;
    let taggable = policy(json!({
        "Effect": "Allow", "Principal": {"AWS": user_arn("bob")},
        "Action": ["sts:AssumeRole", "sts:TagSession"]
    }));
    role(&iam, "team", &taggable, Some(&by_team)).await;
    // The role's own tag is a principal tag, which a session tag overrides.
    ok(iam
        .tag_role()
        .role_name("team")
        .tags(iam_tag("team", "red"))
        .send()
        .await);
    let sts = s.sts(&bob);

    let msg = fail_with(
        sts.assume_role()
            .role_arn(role_arn("untaggable"))
            .role_session_name("sess")
            .tags(sts_tag("team", "blue"))
            .send()
            .await,
        "AccessDenied",
    );
    assert!(msg.contains("sts:TagSession"), "{msg}");

    let out = ok(sts
        .assume_role()
        .role_arn(role_arn("team"))
        .role_session_name("sess")
        .send()
        .await);
    fail_with(
        s.iam(&Creds::of(out.credentials())).list_users().send().await,
        "AccessDenied",
    );

    let out = ok(sts
        .assume_role()
        .role_arn(role_arn("team"))
        .role_session_name("sess")
        .tags(sts_tag("team", "blue"))
        .send()
        .await);
    assert!(packed_policy_size(&out).is_some());
    ok(s.iam(&Creds::of(out.credentials())).list_users().send().await);

    let out = ok(sts
        .assume_role()
        .role_arn(role_arn("team"))
        .role_session_name("sess")
        .tags(sts_tag("team", "green"))
        .send()
        .await);
    fail_with(
        s.iam(&Creds::of(out.credentials())).list_users().send().await,
        "AccessDenied",
    );
}

#[tokio::test]
async fn transitive_session_tags_follow_role_chaining() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    let taggable = |who: String| {
        policy(json!({
            "Effect": "Allow", "Principal": {"AWS": who},
            "Action": ["sts:AssumeRole", "sts:TagSession"]
        }))
    };
    role(
        &iam,
        "first",
        &taggable(user_arn("bob")),
        Some(&allow(&["sts:AssumeRole"], "*")),
    )
    .await;
    let by_team = policy(json!({
        "Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}
    }));
    role(&iam, "second", &taggable(role_arn("first")), Some(&by_team)).await;
    let first = ok(s
        .sts(&bob)
        .assume_role()
        .role_arn(role_arn("first"))
        .role_session_name("sess-a")
        .tags(sts_tag("team", "blue"))
        .transitive_tag_keys("team")
        .send()
        .await);
    let sts = s.sts(&Creds::of(first.credentials()));
    let second = ok(sts
        .assume_role()
        .role_arn(role_arn("second"))
        .role_session_name("sess-b")
        .send()
        .await);
    ok(s.iam(&Creds::of(second.credentials())).list_users().send().await);
    // A transitive tag cannot be overridden in the chain.
    fail(
        sts.assume_role()
            .role_arn(role_arn("second"))
            .role_session_name("sess-b")
            .tags(sts_tag("team", "red"))
            .send()
            .await,
    );
}

// ---------------------------------------------------------------------------------------
// Cross-account
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn cross_account_assume_role_needs_identity_policy_and_trust() {
    let s = Server::start();
    s.create_other_account();
    let other_iam = s.iam(&Creds::other_root());
    let other_role = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/xacct");
    ok(other_iam
        .create_role()
        .role_name("xacct")
        .assume_role_policy_document(trust(json!({"AWS": account_root(ACCOUNT)})))
        .send()
        .await);
    let iam = s.root_iam();
    let picky = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/only-carol");
    // (A trust policy may name only principals that exist.)
    let carol = user_with_key(&iam, "carol", Some(&allow(&["sts:AssumeRole"], &picky))).await;
    ok(other_iam
        .create_role()
        .role_name("only-carol")
        .assume_role_policy_document(trust(json!({"AWS": user_arn("carol")})))
        .send()
        .await);

    // Trusted account, but no identity policy: denied.
    let bob = user_with_key(&iam, "bob", None).await;
    let msg = fail_with(
        s.sts(&bob)
            .assume_role()
            .role_arn(&other_role)
            .role_session_name("xsess")
            .send()
            .await,
        "AccessDenied",
    );
    assert!(
        msg.starts_with(&format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {other_role}",
            user_arn("bob")
        )),
        "{msg}"
    );
    // Identity policy and trust: allowed.
    let alice = user_with_key(&iam, "alice", Some(&allow(&["sts:AssumeRole"], "*"))).await;
    let out = ok(s
        .sts(&alice)
        .assume_role()
        .role_arn(&other_role)
        .role_session_name("xsess")
        .send()
        .await);
    assert_eq!(
        out.assumed_role_user().expect("assumed role user").arn(),
        format!("arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/xacct/xsess")
    );
    // Identity policy, but the trust policy names someone else: denied.
    fail_with(
        s.sts(&alice)
            .assume_role()
            .role_arn(&picky)
            .role_session_name("xsess")
            .send()
            .await,
        "AccessDenied",
    );
    // The trust policy naming the user, with an identity policy: allowed.
    ok(s.sts(&carol)
        .assume_role()
        .role_arn(&picky)
        .role_session_name("xsess")
        .send()
        .await);
    // The trust policy naming the user is not enough without an identity policy.
    ok(iam
        .delete_user_policy()
        .user_name("carol")
        .policy_name("p")
        .send()
        .await);
    fail_with(
        s.sts(&carol)
            .assume_role()
            .role_arn(&picky)
            .role_session_name("xsess")
            .send()
            .await,
        "AccessDenied",
    );
}

#[tokio::test]

async fn cross_account_session_acts_in_the_role_account() {
    let s = Server::start();
    s.create_other_account();
    let other_iam = s.iam(&Creds::other_root());
    let other_role = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/xacct");
    let out = ok(other_iam
        .create_role()
        .role_name("xacct")
        .assume_role_policy_document(trust(json!({"AWS": account_root(ACCOUNT)})))
        .send()
        .await);
    let role_id = out.role().expect("role").role_id().to_string();
    ok(other_iam
        .put_role_policy()
        .role_name("xacct")
        .policy_name("p")
        .policy_document(allow(&["iam:ListUsers"], "*"))
        .send()
        .await);
    ok(other_iam.create_user().user_name("only-in-other").send().await);

    let alice = user_with_key(&s.root_iam(), "alice", Some(&allow(&["sts:AssumeRole"], "*"))).await;
    let out = ok(s
        .sts(&alice)
        .assume_role()
        .role_arn(&other_role)
        .role_session_name("xsess")
        .send()
        .await);
    let session = Creds::of(out.credentials());
    let me = ok(s.sts(&session).get_caller_identity().send().await);
    assert_eq!(me.account(), Some(OTHER_ACCOUNT));
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/xacct/xsess").as_str())
    );
    assert_eq!(me.user_id(), Some(format!("{role_id}:xsess").as_str()));
    // The role's permissions, on the role's account.
    let users = ok(s.iam(&session).list_users().send().await);
    let names: Vec<&str> = users.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["only-in-other"]);
}

// ---------------------------------------------------------------------------------------
// GetSessionToken and GetFederationToken
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn get_session_token_as_a_user() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    ok(iam
        .create_role()
        .role_name("r1")
        .assume_role_policy_document(trust(json!({"AWS": user_arn("bob")})))
        .max_session_duration(7200)
        .send()
        .await);
    let out = ok(s.sts(&bob).get_session_token().send().await);
    let c = out.credentials().expect("credentials");
    let lifetime = c.expiration().secs() - now();
    assert!(
        (43190..=43210).contains(&lifetime),
        "default is 12 hours, got {lifetime}"
    );
    let session = Creds::of(Some(c));
    let me = ok(s.sts(&session).get_caller_identity().send().await);
    assert_eq!(me.arn(), Some(user_arn("bob").as_str()));
    // Session-token credentials may call AssumeRole (as the user), which is not role
    // chaining: the role session may last longer than an hour.
    let out = ok(s
        .sts(&session)
        .assume_role()
        .role_arn(role_arn("r1"))
        .role_session_name("sess")
        .duration_seconds(7200)
        .send()
        .await);
    let me = ok(s
        .sts(&Creds::of(out.credentials()))
        .get_caller_identity()
        .send()
        .await);
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/r1/sess").as_str())
    );
    // ... but not GetSessionToken again.
    fail_with(s.sts(&session).get_session_token().send().await, "AccessDenied");
    // Durations: 900 ..= 129600 for IAM users.
    fail_with(
        s.sts(&bob).get_session_token().duration_seconds(899).send().await,
        "ValidationError",
    );
    ok(s.sts(&bob)
        .get_session_token()
        .duration_seconds(129_600)
        .send()
        .await);
    fail_with(
        s.sts(&bob)
            .get_session_token()
            .duration_seconds(129_601)
            .send()
            .await,
        "ValidationError",
    );
}

#[tokio::test]

async fn get_session_token_as_root_is_capped_at_one_hour() {
    // AWS: "Sessions for AWS account owners are restricted to a maximum of 3,600 seconds (one
    // hour). If the duration is longer than one hour, the session for AWS account owners
    // defaults to one hour."
    let s = Server::start();
    let out = ok(s.root_sts().get_session_token().send().await);
    let lifetime = out.credentials().expect("credentials").expiration().secs() - now();
    assert!((3590..=3610).contains(&lifetime), "{lifetime}");
    let out = ok(s
        .root_sts()
        .get_session_token()
        .duration_seconds(7200)
        .send()
        .await);
    let lifetime = out.credentials().expect("credentials").expiration().secs() - now();
    assert!((3590..=3610).contains(&lifetime), "{lifetime}");
    let me = ok(s
        .sts(&Creds::of(out.credentials()))
        .get_caller_identity()
        .send()
        .await);
    assert_eq!(me.arn(), Some(account_root(ACCOUNT).as_str()));
}

#[tokio::test]

async fn session_token_credentials_cannot_call_iam_without_mfa() {
    // AWS: with GetSessionToken credentials "You cannot call any IAM API operations unless MFA
    // authentication information is included in the request."
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", Some(&allow(&["iam:ListUsers"], "*"))).await;
    let out = ok(s.sts(&bob).get_session_token().send().await);
    fail_with(
        s.iam(&Creds::of(out.credentials())).list_users().send().await,
        "AccessDenied",
    );
}

#[tokio::test]
async fn get_federation_token_identity_and_session_policy_limit() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(
        &iam,
        "bob",
        Some(&allow(
            &["sts:GetFederationToken", "iam:ListUsers", "iam:ListRoles"],
            "*",
        )),
    )
    .await;
    let out = ok(s
        .sts(&bob)
        .get_federation_token()
        .name("fed-bob")
        .policy(allow(&["iam:ListRoles"], "*"))
        .duration_seconds(900)
        .send()
        .await);
    let fu = out.federated_user().expect("federated user");
    assert_eq!(fu.arn(), format!("arn:aws:sts::{ACCOUNT}:federated-user/fed-bob"));
    assert_eq!(fu.federated_user_id(), format!("{ACCOUNT}:fed-bob"));
    let session = Creds::of(out.credentials());
    let me = ok(s.sts(&session).get_caller_identity().send().await);
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:federated-user/fed-bob").as_str())
    );
    assert_eq!(me.user_id(), Some(format!("{ACCOUNT}:fed-bob").as_str()));
    // Allowed to bob, but not by the session policy.
    fail_with(s.iam(&session).list_users().send().await, "AccessDenied");
    // Federated users cannot get more tokens.
    fail_with(
        s.sts(&session).get_federation_token().name("again").send().await,
        "AccessDenied",
    );
    // The caller needs sts:GetFederationToken.
    let carol = user_with_key(&iam, "carol", None).await;
    fail_with(
        s.sts(&carol)
            .get_federation_token()
            .name("fed-carol")
            .send()
            .await,
        "AccessDenied",
    );
    // Name is 2..=32 characters of [\w+=,.@-].
    fail_with(
        s.sts(&bob).get_federation_token().name("x").send().await,
        "ValidationError",
    );
}

#[tokio::test]
async fn federation_token_without_a_policy_has_no_permissions() {
    // AWS: "If you do not pass a policy to this operation, the resulting federated user session
    // has no permissions."
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(
        &iam,
        "bob",
        Some(&allow(&["sts:GetFederationToken", "iam:ListUsers"], "*")),
    )
    .await;
    let out = ok(s.sts(&bob).get_federation_token().name("fed-bob").send().await);
    fail_with(
        s.iam(&Creds::of(out.credentials())).list_users().send().await,
        "AccessDenied",
    );
}

#[tokio::test]

async fn federation_token_credentials_cannot_call_iam() {
    // AWS: with GetFederationToken credentials "You cannot call any IAM operations using the
    // AWS CLI or the AWS API."
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(
        &iam,
        "bob",
        Some(&allow(&["sts:GetFederationToken", "iam:ListUsers"], "*")),
    )
    .await;
    let out = ok(s
        .sts(&bob)
        .get_federation_token()
        .name("fed-bob")
        .policy(allow(&["iam:ListUsers"], "*"))
        .send()
        .await);
    fail_with(
        s.iam(&Creds::of(out.credentials())).list_users().send().await,
        "AccessDenied",
    );
}

// ---------------------------------------------------------------------------------------
// Expiry and restart
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn expired_session_credentials_are_refused() {
    let s = Server::start();
    let iam = s.root_iam();
    let bob = user_with_key(&iam, "bob", None).await;
    role(&iam, "r1", &trust(json!({"AWS": user_arn("bob")})), None).await;
    let out = ok(s
        .sts(&bob)
        .assume_role()
        .role_arn(role_arn("r1"))
        .role_session_name("sess")
        .duration_seconds(900)
        .send()
        .await);
    let session = Creds::of(out.credentials());
    ok(s.sts(&session).get_caller_identity().send().await);

    // Move the cloud's clock past the expiry and sign with the cloud's time.
    s.cloud.advance_clock(901);
    let t = s.cloud.now();
    let headers = signed_headers(s.addr, GET_CALLER_IDENTITY, &session, "sts", t);
    let (status, body) = raw_post(s.addr, &headers, GET_CALLER_IDENTITY).await;
    assert_eq!(status, 403, "{body}");
    let (code, message) = query_error(&body, STS_NS);
    assert_eq!(code, "ExpiredToken");
    assert_eq!(message, "The security token included in the request is expired");
    // Long-term credentials still work at that time.
    let headers = signed_headers(s.addr, GET_CALLER_IDENTITY, &bob, "sts", t);
    let (status, body) = raw_post(s.addr, &headers, GET_CALLER_IDENTITY).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn restart_keeps_users_keys_policies_and_sessions() {
    let dir = TempDir::new("restart");
    let (bob, session, role_session) = {
        let s = Server::start_in(dir.path());
        let iam = s.root_iam();
        let bob = user_with_key(&iam, "bob", Some(&allow(&["iam:ListUsers"], "*"))).await;
        role(
            &iam,
            "r1",
            &trust(json!({"AWS": user_arn("bob")})),
            Some(&allow(&["iam:GetUser"], "*")),
        )
        .await;
        let st = ok(s.sts(&bob).get_session_token().send().await);
        let ar = ok(s
            .sts(&bob)
            .assume_role()
            .role_arn(role_arn("r1"))
            .role_session_name("sess")
            .send()
            .await);
        (bob, Creds::of(st.credentials()), Creds::of(ar.credentials()))
    };
    // The first server is stopped; a new one opens the same directory.
    let s = Server::start_in(dir.path());
    ok(s.iam(&bob).list_users().send().await);
    fail_with(
        s.iam(&bob).create_user().user_name("x").send().await,
        "AccessDenied",
    );
    let me = ok(s.sts(&session).get_caller_identity().send().await);
    assert_eq!(me.arn(), Some(user_arn("bob").as_str()));
    let me = ok(s.sts(&role_session).get_caller_identity().send().await);
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/r1/sess").as_str())
    );
    ok(s.iam(&role_session).get_user().user_name("bob").send().await);
    fail_with(s.iam(&role_session).list_users().send().await, "AccessDenied");
    // The root key given on first start still works; the account was not re-created.
    ok(s.root_iam().get_user().user_name("bob").send().await);
    assert_eq!(s.cloud.accounts(), [ACCOUNT]);
}

// ---------------------------------------------------------------------------------------
// SigV4 over raw HTTP
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn raw_signed_request_succeeds_in_aws_shape() {
    let s = Server::start();
    let headers = signed_headers(s.addr, GET_CALLER_IDENTITY, &Creds::root(), "sts", now());
    let (status, body) = raw_post(s.addr, &headers, GET_CALLER_IDENTITY).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!(
            "<GetCallerIdentityResponse xmlns=\"{STS_NS}\"><GetCallerIdentityResult>"
        )),
        "{body}"
    );
    assert_eq!(xml_elem(&body, "Account"), Some(ACCOUNT));
    assert!(body.contains("<ResponseMetadata><RequestId>"), "{body}");
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match() {
    let s = Server::start();
    let wrong = Creds::new(ROOT_AK, "not-the-secret-key-at-all-000000000000000", None);
    for (service, ns, body) in [
        ("sts", STS_NS, GET_CALLER_IDENTITY),
        ("iam", IAM_NS, "Action=ListUsers&Version=2010-05-08"),
    ] {
        let headers = signed_headers(s.addr, body, &wrong, service, now());
        let (status, text) = raw_post(s.addr, &headers, body).await;
        assert_eq!(status, 403, "{text}");
        let (code, message) = query_error(&text, ns);
        assert_eq!(code, "SignatureDoesNotMatch");
        assert!(
            message.starts_with(
                "The request signature we calculated does not match the signature you provided."
            ),
            "{message}"
        );
    }
    // The SDK sees the same code.
    let sdk = s.sts(&wrong);
    fail_with(sdk.get_caller_identity().send().await, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn unknown_key_is_invalid_client_token_id() {
    let s = Server::start();
    let unknown = Creds::new("AKIAUNKNOWNKEY000000", ROOT_SK, None);
    let headers = signed_headers(s.addr, GET_CALLER_IDENTITY, &unknown, "sts", now());
    let (status, body) = raw_post(s.addr, &headers, GET_CALLER_IDENTITY).await;
    assert_eq!(status, 403, "{body}");
    let (code, message) = query_error(&body, STS_NS);
    assert_eq!(code, "InvalidClientTokenId");
    assert_eq!(message, "The security token included in the request is invalid.");
    let msg = fail_with(s.iam(&unknown).list_users().send().await, "InvalidClientTokenId");
    assert_eq!(msg, "The security token included in the request is invalid.");
}

#[tokio::test]
async fn wrong_session_token_is_invalid_client_token_id() {
    let s = Server::start();
    let out = ok(s
        .sts(&user_with_key(&s.root_iam(), "bob", None).await)
        .get_session_token()
        .send()
        .await);
    let mut session = Creds::of(out.credentials());
    session.token = Some("bm90LXRoZS10b2tlbg==".to_string());
    fail_with(
        s.sts(&session).get_caller_identity().send().await,
        "InvalidClientTokenId",
    );
    session.token = None;
    fail_with(
        s.sts(&session).get_caller_identity().send().await,
        "InvalidClientTokenId",
    );
}

#[tokio::test]
async fn missing_authentication_is_refused() {
    let s = Server::start();
    let headers = vec![
        ("host".to_string(), s.addr.to_string()),
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
    ];
    let (status, body) = raw_post(s.addr, &headers, GET_CALLER_IDENTITY).await;
    assert_eq!(status, 403, "{body}");
    let (code, message) = query_error(&body, STS_NS);
    assert_eq!(code, "MissingAuthenticationToken");
    assert_eq!(message, "Request is missing Authentication Token");
}

#[tokio::test]
async fn request_signed_20_minutes_ago_has_an_expired_signature() {
    let s = Server::start();
    let headers = signed_headers(
        s.addr,
        GET_CALLER_IDENTITY,
        &Creds::root(),
        "sts",
        now() - 20 * 60,
    );
    let (status, body) = raw_post(s.addr, &headers, GET_CALLER_IDENTITY).await;
    assert_eq!(status, 403, "{body}");
    let (code, message) = query_error(&body, STS_NS);
    assert_eq!(code, "SignatureDoesNotMatch");
    assert!(message.starts_with("Signature expired: "), "{message}");
    assert!(message.contains("is now earlier than"), "{message}");
    assert!(message.ends_with(" - 15 min.)"), "{message}");
    // Within the 15 minutes of allowed skew: accepted.
    let headers = signed_headers(
        s.addr,
        GET_CALLER_IDENTITY,
        &Creds::root(),
        "sts",
        now() - 10 * 60,
    );
    let (status, body) = raw_post(s.addr, &headers, GET_CALLER_IDENTITY).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn tampered_body_is_signature_does_not_match() {
    let s = Server::start();
    let headers = signed_headers(
        s.addr,
        "Action=ListUsers&Version=2010-05-08",
        &Creds::root(),
        "iam",
        now(),
    );
    let (status, body) = raw_post(
        s.addr,
        &headers,
        "Action=CreateUser&Version=2010-05-08&UserName=x",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(query_error(&body, IAM_NS).0, "SignatureDoesNotMatch");
    fail_with(
        s.root_iam().get_user().user_name("x").send().await,
        "NoSuchEntity",
    );
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_policy_documents_name_the_json_path() {
    let s = Server::start();
    let iam = s.root_iam();
    ok(iam.create_user().user_name("bob").send().await);
    let bad_effect =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allw","Action":"*","Resource":"*"}]}"#;
    let msg = fail_with(
        iam.put_user_policy()
            .user_name("bob")
            .policy_name("p")
            .policy_document(bad_effect)
            .send()
            .await,
        "MalformedPolicyDocument",
    );
    assert!(msg.contains("$.Statement[0].Effect"), "{msg}");
    let msg = fail_with(
        iam.create_policy()
            .policy_name("p")
            .policy_document("{not json")
            .send()
            .await,
        "MalformedPolicyDocument",
    );
    assert!(msg.contains("line 1"), "{msg}");
    // An identity policy may not have a Principal; a trust policy must.
    let with_principal = policy(json!({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}));
    fail_with(
        iam.create_policy()
            .policy_name("p")
            .policy_document(&with_principal)
            .send()
            .await,
        "MalformedPolicyDocument",
    );
    let no_principal = policy(json!({"Effect": "Allow", "Action": "sts:AssumeRole"}));
    fail_with(
        iam.create_role()
            .role_name("r")
            .assume_role_policy_document(&no_principal)
            .send()
            .await,
        "MalformedPolicyDocument",
    );
    // Nothing was created.
    let listed = ok(iam.list_roles().send().await);
    assert!(listed.roles().is_empty());
    // A malformed session policy, answered by STS.
    role(&iam, "r1", &trust(json!({"AWS": user_arn("bob")})), None).await;
    let key = ok(iam.create_access_key().user_name("bob").send().await);
    let key = key.access_key().expect("key");
    let bob = Creds::new(key.access_key_id(), key.secret_access_key(), None);
    let msg = fail_with(
        s.sts(&bob)
            .assume_role()
            .role_arn(role_arn("r1"))
            .role_session_name("sess")
            .policy(bad_effect)
            .send()
            .await,
        "MalformedPolicyDocument",
    );
    assert!(msg.contains("$.Statement[0].Effect"), "{msg}");
}

#[tokio::test]

async fn trust_policy_naming_a_missing_principal_is_malformed() {
    // AWS checks the principals of a trust policy when it is written: "Invalid principal in
    // policy" (MalformedPolicyDocument) for an IAM user or role that does not exist.
    let s = Server::start();
    let iam = s.root_iam();
    let msg = fail_with(
        iam.create_role()
            .role_name("r")
            .assume_role_policy_document(trust(json!({"AWS": user_arn("ghost")})))
            .send()
            .await,
        "MalformedPolicyDocument",
    );
    assert!(msg.contains("Invalid principal in policy"), "{msg}");
    role(&iam, "r", &trust(json!({"AWS": account_root(ACCOUNT)})), None).await;
    fail_with(
        iam.update_assume_role_policy()
            .role_name("r")
            .policy_document(trust(json!({"AWS": role_arn("ghost-role")})))
            .send()
            .await,
        "MalformedPolicyDocument",
    );
}

#[tokio::test]
async fn bad_parameters_are_validation_errors() {
    let s = Server::start();
    let iam = s.root_iam();
    let msg = fail_with(
        iam.create_user().user_name("bad name!").send().await,
        "ValidationError",
    );
    assert!(msg.contains("userName"), "{msg}");
    fail_with(
        iam.create_user().user_name("x".repeat(65)).send().await,
        "ValidationError",
    );
    fail_with(
        iam.create_user().user_name("ok").path("no-slashes").send().await,
        "ValidationError",
    );
    let t = trust(json!({"AWS": account_root(ACCOUNT)}));
    let msg = fail_with(
        iam.create_role()
            .role_name("r")
            .assume_role_policy_document(&t)
            .max_session_duration(100)
            .send()
            .await,
        "ValidationError",
    );
    assert!(
        msg.contains("maxSessionDuration") || msg.contains("MaxSessionDuration"),
        "{msg}"
    );
    fail_with(
        iam.create_role()
            .role_name("r")
            .assume_role_policy_document(&t)
            .max_session_duration(43201)
            .send()
            .await,
        "ValidationError",
    );
    fail_with(
        iam.create_role()
            .role_name("bad/role")
            .assume_role_policy_document(&t)
            .send()
            .await,
        "ValidationError",
    );
    role(&iam, "r", &t, None).await;
    fail_with(
        iam.update_role()
            .role_name("r")
            .max_session_duration(3599)
            .send()
            .await,
        "ValidationError",
    );
    let bob = user_with_key(&iam, "bob", Some(&allow(&["sts:AssumeRole"], "*"))).await;
    let msg = fail_with(
        s.sts(&bob)
            .assume_role()
            .role_arn(role_arn("r"))
            .role_session_name("has space")
            .send()
            .await,
        "ValidationError",
    );
    assert!(msg.contains("roleSessionName"), "{msg}");
    fail_with(
        s.sts(&bob)
            .assume_role()
            .role_arn(role_arn("r"))
            .role_session_name("sess")
            .source_identity("aws:me")
            .send()
            .await,
        "ValidationError",
    );
    fail_with(iam.get_user().user_name("nobody").send().await, "NoSuchEntity");
}
