//! The cloud port, [`CloudConnector`], and its adapter over the AWS SDK for Rust.
//!
//! The same code serves real AWS (no endpoint: the SDK's endpoint resolution and TLS with
//! rustls + ring and the system's roots) and any AWS-compatible endpoint such as Porteiro's
//! embedded cloud (`http://…` or `https://…` endpoint URL). Calls are made with the static
//! credentials of a [`Target`]; retries are the SDK's standard ones.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_smithy_http_client::tls;

use crate::clock::{Clock, SystemClock};
use crate::vault::Secret;

/// Where and as whom to call.
#[derive(Debug, Clone)]
pub struct Target {
    /// Endpoint URL; `None` = real AWS.
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret: Secret,
    /// Session token (temporary credentials).
    pub session_token: Option<Secret>,
}

/// A cloud call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct CloudCallError {
    /// The operation, such as `iam:CreateUser`.
    pub operation: &'static str,
    /// The service's error code, such as `NoSuchEntity`.
    pub code: Option<String>,
    /// The message.
    pub message: String,
}

impl CloudCallError {
    /// Whether the error says the entity does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref() == Some("NoSuchEntity")
    }
}

/// A result of a cloud call.
pub type CloudResult<T> = Result<T, CloudCallError>;
/// A boxed future of a cloud call.
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = CloudResult<T>> + Send + 'a>>;

/// Who a key is (GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The account id.
    pub account: String,
    /// The principal ARN.
    pub arn: String,
}

/// An IAM user as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Tags (GetUser only; ListUsers does not return them).
    pub tags: Vec<(String, String)>,
}

/// An IAM role as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamRole {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// MaxSessionDuration (seconds).
    pub max_session_duration: i64,
    /// The trust policy (decoded JSON).
    pub trust_policy: String,
}

/// A new access key.
#[derive(Debug, Clone)]
pub struct NewAccessKey {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret: Secret,
}

/// Temporary credentials from AssumeRole.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    /// Access key id.
    pub access_key_id: String,
    /// Secret.
    pub secret: Secret,
    /// Session token.
    pub token: Secret,
    /// Expiration (epoch seconds).
    pub expiration: i64,
    /// The assumed-role ARN.
    pub arn: String,
}

/// What AssumeRole is asked.
#[derive(Debug, Clone)]
pub struct AssumeRoleInput {
    /// Role ARN.
    pub role_arn: String,
    /// RoleSessionName.
    pub session_name: String,
    /// SourceIdentity.
    pub source_identity: String,
    /// DurationSeconds.
    pub duration: i64,
}

/// The IAM and STS calls Porteiro makes.
pub trait CloudConnector: Send + Sync {
    /// sts:GetCallerIdentity.
    fn caller_identity<'a>(&'a self, t: &'a Target) -> Fut<'a, CallerIdentity>;
    /// iam:CreateUser with tags.
    fn create_user<'a>(
        &'a self,
        t: &'a Target,
        name: &'a str,
        tags: &'a [(String, String)],
    ) -> Fut<'a, IamUser>;
    /// iam:GetUser.
    fn get_user<'a>(&'a self, t: &'a Target, name: &'a str) -> Fut<'a, IamUser>;
    /// iam:CreateLoginProfile (no reset required).
    fn create_login_profile<'a>(&'a self, t: &'a Target, user: &'a str, password: &'a Secret) -> Fut<'a, ()>;
    /// iam:UpdateLoginProfile.
    fn update_login_profile<'a>(&'a self, t: &'a Target, user: &'a str, password: &'a Secret) -> Fut<'a, ()>;
    /// iam:DeleteLoginProfile.
    fn delete_login_profile<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, ()>;
    /// iam:AttachUserPolicy.
    fn attach_user_policy<'a>(&'a self, t: &'a Target, user: &'a str, arn: &'a str) -> Fut<'a, ()>;
    /// iam:ListAttachedUserPolicies (ARNs).
    fn list_attached_user_policies<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, Vec<String>>;
    /// iam:DetachUserPolicy.
    fn detach_user_policy<'a>(&'a self, t: &'a Target, user: &'a str, arn: &'a str) -> Fut<'a, ()>;
    /// iam:ListUserPolicies (names).
    fn list_user_policies<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, Vec<String>>;
    /// iam:DeleteUserPolicy.
    fn delete_user_policy<'a>(&'a self, t: &'a Target, user: &'a str, name: &'a str) -> Fut<'a, ()>;
    /// iam:ListGroupsForUser (names).
    fn list_groups_for_user<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, Vec<String>>;
    /// iam:RemoveUserFromGroup.
    fn remove_user_from_group<'a>(&'a self, t: &'a Target, user: &'a str, group: &'a str) -> Fut<'a, ()>;
    /// iam:DeleteUser.
    fn delete_user<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, ()>;
    /// iam:ListUsers (all pages).
    fn list_users<'a>(&'a self, t: &'a Target) -> Fut<'a, Vec<IamUser>>;
    /// iam:CreateAccessKey.
    fn create_access_key<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, NewAccessKey>;
    /// iam:ListAccessKeys (ids).
    fn list_access_keys<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, Vec<String>>;
    /// iam:DeleteAccessKey.
    fn delete_access_key<'a>(&'a self, t: &'a Target, user: &'a str, key_id: &'a str) -> Fut<'a, ()>;
    /// iam:ListRoles (all pages).
    fn list_roles<'a>(&'a self, t: &'a Target) -> Fut<'a, Vec<IamRole>>;
    /// iam:GetRole.
    fn get_role<'a>(&'a self, t: &'a Target, name: &'a str) -> Fut<'a, IamRole>;
    /// iam:PutRolePolicy.
    fn put_role_policy<'a>(
        &'a self,
        t: &'a Target,
        role: &'a str,
        name: &'a str,
        doc: &'a str,
    ) -> Fut<'a, ()>;
    /// iam:DeleteRolePolicy.
    fn delete_role_policy<'a>(&'a self, t: &'a Target, role: &'a str, name: &'a str) -> Fut<'a, ()>;
    /// sts:AssumeRole.
    fn assume_role<'a>(&'a self, t: &'a Target, input: &'a AssumeRoleInput) -> Fut<'a, AssumedRole>;
}

/// The AWS SDK for Rust adapter.
#[derive(Debug, Clone)]
pub struct AwsConnector {
    http: aws_sdk_iam::config::SharedHttpClient,
    time: ClockTime,
}

impl Default for AwsConnector {
    fn default() -> Self {
        AwsConnector::new()
    }
}

/// The manager's clock as the SDK's time source (requests are signed at the manager's time).
#[derive(Debug, Clone)]
struct ClockTime(Arc<dyn Clock>);

impl aws_smithy_async::time::TimeSource for ClockTime {
    fn now(&self) -> std::time::SystemTime {
        let subsec = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(self.0.now().max(0) as u64)
            + std::time::Duration::from_nanos(u64::from(subsec))
    }
}

fn err<E>(operation: &'static str, e: E) -> CloudCallError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    CloudCallError {
        operation,
        code: e.code().map(str::to_string),
        message: e
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| DisplayErrorContext(&e).to_string()),
    }
}

/// The next `Marker` of a paginated IAM listing, if there is one.
fn next_marker(truncated: bool, marker: Option<&str>) -> Option<String> {
    marker.filter(|_| truncated).map(str::to_string)
}

/// Calls `page` with each `Marker` until the listing ends and returns every item.
///
/// A service that hands back the marker it was just given would make the listing endless: that
/// is an error instead.
async fn all_pages<T, F, P>(operation: &'static str, mut page: F) -> CloudResult<Vec<T>>
where
    F: FnMut(Option<String>) -> P,
    P: Future<Output = CloudResult<(Vec<T>, Option<String>)>>,
{
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let (items, next) = page(marker.clone()).await?;
        out.extend(items);
        match next {
            None => return Ok(out),
            Some(m) if marker.as_deref() == Some(m.as_str()) => {
                return Err(CloudCallError {
                    operation,
                    code: None,
                    message: format!(
                        "the service answered with the marker it was given ({m}); the listing would never end"
                    ),
                });
            }
            Some(m) => marker = Some(m),
        }
    }
}

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded).
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn role_of(r: &aws_sdk_iam::types::Role) -> IamRole {
    IamRole {
        name: r.role_name().to_string(),
        arn: r.arn().to_string(),
        max_session_duration: r.max_session_duration().map(i64::from).unwrap_or(3600),
        trust_policy: percent_decode(r.assume_role_policy_document().unwrap_or("")),
    }
}

impl AwsConnector {
    /// A connector with one shared HTTP client (HTTP and HTTPS; rustls with ring) that signs
    /// requests at the system's time.
    pub fn new() -> AwsConnector {
        AwsConnector::with_clock(Arc::new(SystemClock))
    }

    /// A connector that signs requests at `clock`'s time (the manager's clock).
    pub fn with_clock(clock: Arc<dyn Clock>) -> AwsConnector {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .build_https();
        AwsConnector {
            http,
            time: ClockTime(clock),
        }
    }

    fn credentials(t: &Target) -> aws_sdk_iam::config::Credentials {
        aws_sdk_iam::config::Credentials::new(
            &t.access_key_id,
            t.secret.expose(),
            t.session_token.as_ref().map(|s| s.expose().to_string()),
            None,
            "porteiro",
        )
    }

    fn iam(&self, t: &Target) -> aws_sdk_iam::Client {
        let mut b = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new(t.region.clone()))
            .credentials_provider(AwsConnector::credentials(t))
            .http_client(self.http.clone())
            .time_source(self.time.clone());
        if let Some(url) = &t.endpoint {
            b = b.endpoint_url(url);
        }
        aws_sdk_iam::Client::from_conf(b.build())
    }

    fn sts(&self, t: &Target) -> aws_sdk_sts::Client {
        let mut b = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(t.region.clone()))
            .credentials_provider(AwsConnector::credentials(t))
            .http_client(self.http.clone())
            .time_source(self.time.clone());
        if let Some(url) = &t.endpoint {
            b = b.endpoint_url(url);
        }
        aws_sdk_sts::Client::from_conf(b.build())
    }
}

impl CloudConnector for AwsConnector {
    fn caller_identity<'a>(&'a self, t: &'a Target) -> Fut<'a, CallerIdentity> {
        Box::pin(async move {
            let out = self
                .sts(t)
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| err("sts:GetCallerIdentity", e))?;
            Ok(CallerIdentity {
                account: out.account().unwrap_or_default().to_string(),
                arn: out.arn().unwrap_or_default().to_string(),
            })
        })
    }

    fn create_user<'a>(
        &'a self,
        t: &'a Target,
        name: &'a str,
        tags: &'a [(String, String)],
    ) -> Fut<'a, IamUser> {
        Box::pin(async move {
            let mut req = self.iam(t).create_user().user_name(name);
            for (k, v) in tags {
                let tag = aws_sdk_iam::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| CloudCallError {
                        operation: "iam:CreateUser",
                        code: None,
                        message: e.to_string(),
                    })?;
                req = req.tags(tag);
            }
            let out = req.send().await.map_err(|e| err("iam:CreateUser", e))?;
            let u = out.user();
            Ok(IamUser {
                name: u
                    .map(|u| u.user_name().to_string())
                    .unwrap_or_else(|| name.to_string()),
                arn: u.map(|u| u.arn().to_string()).unwrap_or_default(),
                tags: vec![],
            })
        })
    }

    fn get_user<'a>(&'a self, t: &'a Target, name: &'a str) -> Fut<'a, IamUser> {
        Box::pin(async move {
            let out = self
                .iam(t)
                .get_user()
                .user_name(name)
                .send()
                .await
                .map_err(|e| err("iam:GetUser", e))?;
            let u = out.user();
            Ok(IamUser {
                name: u
                    .map(|u| u.user_name().to_string())
                    .unwrap_or_else(|| name.to_string()),
                arn: u.map(|u| u.arn().to_string()).unwrap_or_default(),
                tags: u
                    .map(|u| {
                        u.tags()
                            .iter()
                            .map(|t| (t.key().to_string(), t.value().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
    }

    fn create_login_profile<'a>(&'a self, t: &'a Target, user: &'a str, password: &'a Secret) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .create_login_profile()
                .user_name(user)
                .password(password.expose())
                .password_reset_required(false)
                .send()
                .await
                .map_err(|e| err("iam:CreateLoginProfile", e))?;
            Ok(())
        })
    }

    fn update_login_profile<'a>(&'a self, t: &'a Target, user: &'a str, password: &'a Secret) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .update_login_profile()
                .user_name(user)
                .password(password.expose())
                .password_reset_required(false)
                .send()
                .await
                .map_err(|e| err("iam:UpdateLoginProfile", e))?;
            Ok(())
        })
    }

    fn delete_login_profile<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .delete_login_profile()
                .user_name(user)
                .send()
                .await
                .map_err(|e| err("iam:DeleteLoginProfile", e))?;
            Ok(())
        })
    }

    fn attach_user_policy<'a>(&'a self, t: &'a Target, user: &'a str, arn: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .attach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| err("iam:AttachUserPolicy", e))?;
            Ok(())
        })
    }

    fn list_attached_user_policies<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(all_pages(
            "iam:ListAttachedUserPolicies",
            move |marker| async move {
                let page = self
                    .iam(t)
                    .list_attached_user_policies()
                    .user_name(user)
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|e| err("iam:ListAttachedUserPolicies", e))?;
                Ok((
                    page.attached_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn().map(str::to_string))
                        .collect(),
                    next_marker(page.is_truncated(), page.marker()),
                ))
            },
        ))
    }

    fn detach_user_policy<'a>(&'a self, t: &'a Target, user: &'a str, arn: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .detach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| err("iam:DetachUserPolicy", e))?;
            Ok(())
        })
    }

    fn list_user_policies<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(all_pages("iam:ListUserPolicies", move |marker| async move {
            let page = self
                .iam(t)
                .list_user_policies()
                .user_name(user)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| err("iam:ListUserPolicies", e))?;
            Ok((
                page.policy_names().to_vec(),
                next_marker(page.is_truncated(), page.marker()),
            ))
        }))
    }

    fn delete_user_policy<'a>(&'a self, t: &'a Target, user: &'a str, name: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .delete_user_policy()
                .user_name(user)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| err("iam:DeleteUserPolicy", e))?;
            Ok(())
        })
    }

    fn list_groups_for_user<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(all_pages("iam:ListGroupsForUser", move |marker| async move {
            let page = self
                .iam(t)
                .list_groups_for_user()
                .user_name(user)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| err("iam:ListGroupsForUser", e))?;
            Ok((
                page.groups().iter().map(|g| g.group_name().to_string()).collect(),
                next_marker(page.is_truncated(), page.marker()),
            ))
        }))
    }

    fn remove_user_from_group<'a>(&'a self, t: &'a Target, user: &'a str, group: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .remove_user_from_group()
                .user_name(user)
                .group_name(group)
                .send()
                .await
                .map_err(|e| err("iam:RemoveUserFromGroup", e))?;
            Ok(())
        })
    }

    fn delete_user<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .delete_user()
                .user_name(user)
                .send()
                .await
                .map_err(|e| err("iam:DeleteUser", e))?;
            Ok(())
        })
    }

    fn list_users<'a>(&'a self, t: &'a Target) -> Fut<'a, Vec<IamUser>> {
        Box::pin(all_pages("iam:ListUsers", move |marker| async move {
            let page = self
                .iam(t)
                .list_users()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| err("iam:ListUsers", e))?;
            Ok((
                page.users()
                    .iter()
                    .map(|u| IamUser {
                        name: u.user_name().to_string(),
                        arn: u.arn().to_string(),
                        tags: vec![],
                    })
                    .collect(),
                next_marker(page.is_truncated(), page.marker()),
            ))
        }))
    }

    fn create_access_key<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, NewAccessKey> {
        Box::pin(async move {
            let out = self
                .iam(t)
                .create_access_key()
                .user_name(user)
                .send()
                .await
                .map_err(|e| err("iam:CreateAccessKey", e))?;
            let k = out.access_key().ok_or_else(|| CloudCallError {
                operation: "iam:CreateAccessKey",
                code: None,
                message: "the answer has no AccessKey".into(),
            })?;
            Ok(NewAccessKey {
                access_key_id: k.access_key_id().to_string(),
                secret: Secret::new(k.secret_access_key()),
            })
        })
    }

    fn list_access_keys<'a>(&'a self, t: &'a Target, user: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(all_pages("iam:ListAccessKeys", move |marker| async move {
            let page = self
                .iam(t)
                .list_access_keys()
                .user_name(user)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| err("iam:ListAccessKeys", e))?;
            Ok((
                page.access_key_metadata()
                    .iter()
                    .filter_map(|k| k.access_key_id().map(str::to_string))
                    .collect(),
                next_marker(page.is_truncated(), page.marker()),
            ))
        }))
    }

    fn delete_access_key<'a>(&'a self, t: &'a Target, user: &'a str, key_id: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .delete_access_key()
                .user_name(user)
                .access_key_id(key_id)
                .send()
                .await
                .map_err(|e| err("iam:DeleteAccessKey", e))?;
            Ok(())
        })
    }

    fn list_roles<'a>(&'a self, t: &'a Target) -> Fut<'a, Vec<IamRole>> {
        Box::pin(all_pages("iam:ListRoles", move |marker| async move {
            let page = self
                .iam(t)
                .list_roles()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| err("iam:ListRoles", e))?;
            Ok((
                page.roles().iter().map(role_of).collect(),
                next_marker(page.is_truncated(), page.marker()),
            ))
        }))
    }

    fn get_role<'a>(&'a self, t: &'a Target, name: &'a str) -> Fut<'a, IamRole> {
        Box::pin(async move {
            let out = self
                .iam(t)
                .get_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| err("iam:GetRole", e))?;
            out.role().map(role_of).ok_or_else(|| CloudCallError {
                operation: "iam:GetRole",
                code: None,
                message: "the answer has no Role".into(),
            })
        })
    }

    fn put_role_policy<'a>(
        &'a self,
        t: &'a Target,
        role: &'a str,
        name: &'a str,
        doc: &'a str,
    ) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .put_role_policy()
                .role_name(role)
                .policy_name(name)
                .policy_document(doc)
                .send()
                .await
                .map_err(|e| err("iam:PutRolePolicy", e))?;
            Ok(())
        })
    }

    fn delete_role_policy<'a>(&'a self, t: &'a Target, role: &'a str, name: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            self.iam(t)
                .delete_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| err("iam:DeleteRolePolicy", e))?;
            Ok(())
        })
    }

    fn assume_role<'a>(&'a self, t: &'a Target, input: &'a AssumeRoleInput) -> Fut<'a, AssumedRole> {
        Box::pin(async move {
            let duration = i32::try_from(input.duration).map_err(|_| CloudCallError {
                operation: "sts:AssumeRole",
                code: None,
                message: format!("duration {} is out of range", input.duration),
            })?;
            let out = self
                .sts(t)
                .assume_role()
                .role_arn(&input.role_arn)
                .role_session_name(&input.session_name)
                .source_identity(&input.source_identity)
                .duration_seconds(duration)
                .send()
                .await
                .map_err(|e| err("sts:AssumeRole", e))?;
            let c = out.credentials().ok_or_else(|| CloudCallError {
                operation: "sts:AssumeRole",
                code: None,
                message: "the answer has no Credentials".into(),
            })?;
            Ok(AssumedRole {
                access_key_id: c.access_key_id().to_string(),
                secret: Secret::new(c.secret_access_key()),
                token: Secret::new(c.session_token()),
                expiration: c.expiration().secs(),
                arn: out
                    .assumed_role_user()
                    .map(|u| u.arn().to_string())
                    .unwrap_or_default(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(f)
    }

    #[test]
    fn listings_follow_markers_to_the_last_page() {
        let pages = [
            (vec![1, 2], Some("a".to_string())),
            (vec![3], Some("b".to_string())),
            (vec![4], None),
        ];
        let mut asked = Vec::new();
        let got = run(all_pages("iam:ListUsers", |marker| {
            let i = asked.len();
            asked.push(marker);
            let page = pages[i].clone();
            async move { Ok(page) }
        }))
        .expect("three pages");
        assert_eq!(got, vec![1, 2, 3, 4]);
        assert_eq!(asked, vec![None, Some("a".into()), Some("b".into())]);
        assert_eq!(next_marker(false, Some("x")), None);
        assert_eq!(next_marker(true, Some("x")), Some("x".into()));
        assert_eq!(next_marker(true, None), None);
    }

    #[test]
    fn a_marker_handed_back_unchanged_ends_the_listing_with_an_error() {
        let e = run(all_pages::<u8, _, _>("iam:ListRoles", |_| async {
            Ok((vec![1], Some("same".to_string())))
        }))
        .expect_err("an endless listing");
        assert_eq!(e.operation, "iam:ListRoles");
        assert!(e.message.contains("never end"), "{e}");
    }

    #[test]
    fn a_failing_page_fails_the_listing() {
        let e = run(all_pages::<u8, _, _>("iam:ListUsers", |_| async {
            Err(CloudCallError {
                operation: "iam:ListUsers",
                code: Some("AccessDenied".into()),
                message: "no".into(),
            })
        }))
        .expect_err("denied");
        assert_eq!(e.code.as_deref(), Some("AccessDenied"));
    }

    #[test]
    fn policy_documents_are_percent_decoded() {
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("{\"a\":1}"), "{\"a\":1}");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn errors_name_operation_and_code() {
        let e = CloudCallError {
            operation: "iam:GetUser",
            code: Some("NoSuchEntity".into()),
            message: "The user with name x cannot be found.".into(),
        };
        assert_eq!(
            e.to_string(),
            "iam:GetUser failed (NoSuchEntity): The user with name x cannot be found."
        );
        assert!(e.is_not_found());
    }
}
