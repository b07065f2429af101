//! The seed's rules as pure functions: session-start requirements, JIT settings, and input
//! validation. No I/O, no clock: everything they need comes in as arguments.

use std::collections::BTreeSet;

use crate::model::{CloudUserStatus, JitSettings, Origin, Permission, RoleInfo};

/// The shortest JIT session (the seed: "A duração mínima de uma sessão JIT é de 900 segundos").
pub const MIN_SESSION_SECONDS: i64 = 900;
/// The longest role session AWS allows (a role's MaxSessionDuration is at most 12 hours).
pub const MAX_SESSION_SECONDS: i64 = 43_200;
/// The shortest cloud IAM user or credential TTL.
pub const MIN_TTL_SECONDS: i64 = 300;
/// The longest cloud IAM user or credential TTL.
pub const MAX_TTL_SECONDS: i64 = 86_400;
/// At most this many managed policies per cloud IAM user (AWS's default quota).
pub const MAX_MANAGED_POLICIES: usize = 10;

/// A requirement of the seed that a session start does not meet. Each names the requirement
/// and how to meet it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unmet {
    /// The platform user has no e-mail.
    #[error(
        "platform user {username} has no e-mail: the seed requires an e-mail to start remote sessions; add one to the user (Users ➔ Edit ➔ E-mail)"
    )]
    NoEmail {
        /// The username.
        username: String,
    },
    /// The cloud user was imported.
    #[error(
        "cloud IAM user {name} was imported from AWS, and imported users cannot start remote sessions: create a user through Porteiro (Cloud IAM ➔ Users ➔ New) and use it"
    )]
    Imported {
        /// The IAM user name.
        name: String,
    },
    /// The cloud user is not (yet, or any longer) in the cloud.
    #[error(
        "cloud IAM user {name} is {status:?}, not Provisioned: wait for its provisioning job to finish (Cloud IAM ➔ Users ➔ {name} ➔ Jobs) or fix the error it shows"
    )]
    NotProvisioned {
        /// The IAM user name.
        name: String,
        /// Its status.
        status: CloudUserStatus,
    },
    /// The cloud user has no access key.
    #[error(
        "cloud IAM user {name} has no credential: JIT sessions assume the role with the user's own access key; create one (Cloud IAM ➔ Credentials ➔ New)"
    )]
    NoCredential {
        /// The IAM user name.
        name: String,
    },
    /// No access group grants the permission.
    #[error(
        "platform user {username} is in no access group with the permission \"{}\": add the user to such a group (Cloud IAM ➔ Access groups)", permission.label()
    )]
    MissingPermission {
        /// The username.
        username: String,
        /// The permission.
        permission: Permission,
    },
    /// The account has no JIT settings.
    #[error(
        "account {account} has no JIT settings: configure them (Cloud IAM ➔ Settings ➔ JIT Access ➔ New) with Active and JIT Enabled set to yes"
    )]
    NoJitSettings {
        /// The account name.
        account: String,
    },
    /// The account's JIT settings are not active.
    #[error(
        "the JIT settings of account {account} are not Active: set Active to yes (Cloud IAM ➔ Settings ➔ JIT Access)"
    )]
    JitInactive {
        /// The account name.
        account: String,
    },
    /// JIT is not enabled.
    #[error(
        "JIT is not enabled for account {account}: set JIT Enabled to yes in the AWS tab of its JIT settings"
    )]
    JitDisabled {
        /// The account name.
        account: String,
    },
    /// No role was chosen.
    #[error("no role was chosen: choose one of the roles allowed for account {account}: {allowed}")]
    NoRole {
        /// The account name.
        account: String,
        /// The allowed roles.
        allowed: String,
    },
    /// The role is not among the allowed ones.
    #[error(
        "role {role} is not allowed for JIT sessions in account {account}: choose one of {allowed}, or add it to the Roles of the account's JIT settings"
    )]
    RoleNotAllowed {
        /// The role asked for.
        role: String,
        /// The account name.
        account: String,
        /// The allowed roles.
        allowed: String,
    },
    /// Duration below 900 s.
    #[error("a session of {asked} seconds is too short: the minimum is {MIN_SESSION_SECONDS} seconds")]
    DurationTooShort {
        /// The requested duration.
        asked: i64,
    },
    /// Duration above the maximum.
    #[error(
        "a session of {asked} seconds is longer than the maximum of {max} seconds ({why}): ask for at most {max}"
    )]
    DurationTooLong {
        /// The requested duration.
        asked: i64,
        /// The maximum.
        max: i64,
        /// Where the maximum comes from.
        why: String,
    },
}

/// The facts a session start is judged on (gathered by the manager; judged here).
#[derive(Debug, Clone)]
pub struct StartFacts<'a> {
    /// The platform user's username.
    pub username: &'a str,
    /// The platform user's e-mail.
    pub email: Option<&'a str>,
    /// Permissions granted to the platform user by its access groups (every one for admins
    /// is *not* assumed: sessions need a group, as the seed says).
    pub permissions: &'a BTreeSet<Permission>,
    /// The cloud IAM user's name.
    pub cloud_user: &'a str,
    /// Created or imported.
    pub origin: Origin,
    /// Its status.
    pub status: CloudUserStatus,
    /// Whether it has an access key in Porteiro.
    pub has_credential: bool,
    /// The account's name.
    pub account: &'a str,
}

/// What a JIT start asks for.
#[derive(Debug, Clone)]
pub struct JitAsk<'a> {
    /// The account's JIT settings.
    pub settings: Option<&'a JitSettings>,
    /// The role name asked for.
    pub role: Option<&'a str>,
    /// The duration asked for (`None` = the configured Duration).
    pub duration: Option<i64>,
}

/// A JIT start that meets every requirement: the role and the duration to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitPlan {
    /// The role.
    pub role: RoleInfo,
    /// The duration (seconds).
    pub duration: i64,
}

fn common(f: &StartFacts<'_>, permission: Permission, out: &mut Vec<Unmet>) {
    if f.email.is_none_or(|e| e.trim().is_empty()) {
        out.push(Unmet::NoEmail {
            username: f.username.to_string(),
        });
    }
    if f.origin == Origin::Imported {
        out.push(Unmet::Imported {
            name: f.cloud_user.to_string(),
        });
    } else if f.status != CloudUserStatus::Provisioned {
        out.push(Unmet::NotProvisioned {
            name: f.cloud_user.to_string(),
            status: f.status,
        });
    }
    if !f.permissions.contains(&permission) {
        out.push(Unmet::MissingPermission {
            username: f.username.to_string(),
            permission,
        });
    }
}

/// Checks a cloud console start: e-mail, created (not imported) and provisioned, and the
/// *Users can start sessions* permission. Returns every unmet requirement.
pub fn check_console_start(f: &StartFacts<'_>) -> Result<(), Vec<Unmet>> {
    let mut out = Vec::new();
    common(f, Permission::StartSessions, &mut out);
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Checks a JIT start: e-mail, created (not imported) and provisioned, a credential, the
/// *Users can start JIT sessions* permission, the account's JIT settings active and enabled,
/// the role allowed, and 900 ≤ duration ≤ the configured Duration and the role's
/// MaxSessionDuration. Returns every unmet requirement, or the plan.
pub fn check_jit_start(f: &StartFacts<'_>, ask: &JitAsk<'_>) -> Result<JitPlan, Vec<Unmet>> {
    let mut out = Vec::new();
    common(f, Permission::StartJitSessions, &mut out);
    if !f.has_credential && f.origin == Origin::Created {
        out.push(Unmet::NoCredential {
            name: f.cloud_user.to_string(),
        });
    }
    let account = f.account.to_string();
    let mut plan = None;
    match ask.settings {
        None => out.push(Unmet::NoJitSettings { account }),
        Some(s) => {
            if !s.active {
                out.push(Unmet::JitInactive {
                    account: account.clone(),
                });
            }
            if !s.jit_enabled {
                out.push(Unmet::JitDisabled {
                    account: account.clone(),
                });
            }
            let allowed = if s.roles.is_empty() {
                "(none yet: add roles to the JIT settings)".to_string()
            } else {
                s.roles.join(", ")
            };
            let role = match ask.role {
                None => {
                    out.push(Unmet::NoRole {
                        account: account.clone(),
                        allowed,
                    });
                    None
                }
                Some(r) => {
                    let name = role_name(r);
                    let info = s.synced_roles.iter().find(|i| i.name == name);
                    match info {
                        Some(info) if s.roles.iter().any(|x| x == name) => Some(info.clone()),
                        _ => {
                            out.push(Unmet::RoleNotAllowed {
                                role: r.to_string(),
                                account: account.clone(),
                                allowed,
                            });
                            None
                        }
                    }
                }
            };
            let asked = ask.duration.unwrap_or(s.duration);
            if asked < MIN_SESSION_SECONDS {
                out.push(Unmet::DurationTooShort { asked });
            } else if asked > s.duration {
                out.push(Unmet::DurationTooLong {
                    asked,
                    max: s.duration,
                    why: format!("the Duration of account {account}'s JIT settings"),
                });
            } else if let Some(r) = &role
                && asked > r.max_session_duration
            {
                out.push(Unmet::DurationTooLong {
                    asked,
                    max: r.max_session_duration,
                    why: format!("the MaxSessionDuration of role {}", r.name),
                });
            }
            if let Some(role) = role {
                plan = Some(JitPlan {
                    role,
                    duration: asked,
                });
            }
        }
    }
    match plan {
        Some(plan) if out.is_empty() => Ok(plan),
        _ => Err(out),
    }
}

/// The role name of a role name or ARN (`arn:aws:iam::1:role/path/name` → `name`).
pub fn role_name(role: &str) -> &str {
    if role.starts_with("arn:") {
        role.rsplit('/').next().unwrap_or(role)
    } else {
        role
    }
}

/// A value that fails validation: the field and what is wrong (and how to fix it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The field, such as `duration`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// What is wrong as a stable key (`duration_below_min`…), for interfaces that word the
    /// message in other languages; empty when the message has no key.
    pub kind: &'static str,
    /// The values the message names, in order (`{0}`, `{1}`… in a translation of `kind`).
    pub args: Vec<String>,
}

impl Invalid {
    /// A new validation error without a key.
    pub fn new(field: &str, message: impl Into<String>) -> Invalid {
        Invalid::keyed(field, "", Vec::new(), message)
    }

    /// A new validation error with its key and the values its message names.
    pub fn keyed(field: &str, kind: &'static str, args: Vec<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.to_string(),
            message: message.into(),
            kind,
            args,
        }
    }
}

/// A message for people with a stable key and the values it names, so that an interface can
/// word it in another language (`Error::Conflict`, `Error::Forbidden`, `Error::TrustPolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What happened as a stable key (`username_taken`…).
    pub kind: &'static str,
    /// The values the message names, in order (`{0}`, `{1}`… in a translation of `kind`).
    pub args: Vec<String>,
    /// The message in English: what is wrong and how to fix it.
    pub text: String,
}

impl Message {
    /// A message with its key and the values it names.
    pub fn new(kind: &'static str, args: Vec<String>, text: impl Into<String>) -> Message {
        Message {
            kind,
            args,
            text: text.into(),
        }
    }
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Checks JIT settings against the account's synced roles: 900 ≤ Duration ≤ 43200, every
/// chosen role exists, and Duration ≤ each chosen role's MaxSessionDuration.
pub fn check_jit_settings(duration: i64, roles: &[String], synced: &[RoleInfo]) -> Result<(), Invalid> {
    if duration < MIN_SESSION_SECONDS {
        return Err(Invalid::keyed(
            "duration",
            "duration_below_min",
            vec![duration.to_string(), MIN_SESSION_SECONDS.to_string()],
            format!(
                "{duration} seconds is below the minimum JIT session duration of {MIN_SESSION_SECONDS} seconds"
            ),
        ));
    }
    if duration > MAX_SESSION_SECONDS {
        return Err(Invalid::keyed(
            "duration",
            "duration_above_max",
            vec![duration.to_string(), MAX_SESSION_SECONDS.to_string()],
            format!(
                "{duration} seconds is above AWS's maximum role session duration of {MAX_SESSION_SECONDS} seconds (12 hours)"
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for r in roles {
        let name = role_name(r);
        if !seen.insert(name) {
            return Err(Invalid::keyed(
                "roles",
                "role_twice",
                vec![name.to_string()],
                format!("role {name} is listed twice"),
            ));
        }
        let Some(info) = synced.iter().find(|i| i.name == name) else {
            let known: Vec<&str> = synced.iter().map(|i| i.name.as_str()).collect();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            return Err(Invalid::keyed(
                "roles",
                "role_missing",
                vec![name.to_string(), known.clone()],
                format!(
                    "role {name} does not exist in the account (its roles: {known}); create it in AWS, then save again to sync"
                ),
            ));
        };
        if duration > info.max_session_duration {
            return Err(Invalid::keyed(
                "duration",
                "duration_above_role_max",
                vec![
                    duration.to_string(),
                    name.to_string(),
                    info.max_session_duration.to_string(),
                ],
                format!(
                    "{duration} seconds is above role {name}'s MaxSessionDuration of {} seconds: lower the Duration or raise the role's MaxSessionDuration in AWS",
                    info.max_session_duration
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a username: 2 to 64 of `A-Z a-z 0-9 + = , . @ _ -` (it becomes a RoleSessionName).
pub fn check_username(v: &str) -> Result<(), Invalid> {
    let ok = (2..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Invalid::keyed(
            "username",
            "username_invalid",
            vec![v.to_string()],
            format!(
                "`{v}` is not a valid username: use 2 to 64 letters, digits and + = , . @ _ - (it becomes the AWS RoleSessionName)"
            ),
        ))
    }
}

/// Checks an IAM user name: 1 to 64 of `A-Z a-z 0-9 + = , . @ _ -`.
pub fn check_iam_name(field: &str, v: &str) -> Result<(), Invalid> {
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Invalid::keyed(
            field,
            "iam_name_invalid",
            vec![v.to_string()],
            format!("`{v}` is not a valid IAM name: use 1 to 64 letters, digits and + = , . @ _ -"),
        ))
    }
}

/// Checks an e-mail address (one `@`, a dot in the domain, no spaces, at most 254 characters).
pub fn check_email(v: &str) -> Result<(), Invalid> {
    let ok = v.len() <= 254
        && !v.contains(char::is_whitespace)
        && v.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(Invalid::keyed(
            "email",
            "email_invalid",
            vec![v.to_string()],
            format!("`{v}` is not an e-mail address such as ana@example.com"),
        ))
    }
}

/// Checks free text: at most `max` characters, no control characters.
pub fn check_text(field: &str, v: &str, max: usize) -> Result<(), Invalid> {
    if v.chars().count() > max {
        return Err(Invalid::keyed(
            field,
            "text_too_long",
            vec![max.to_string()],
            format!("is longer than {max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(Invalid::keyed(
            field,
            "text_control",
            Vec::new(),
            "contains control characters",
        ));
    }
    Ok(())
}

/// Checks a TTL: 300 ≤ ttl ≤ 86400 seconds.
pub fn check_ttl(field: &str, ttl: i64) -> Result<(), Invalid> {
    if (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&ttl) {
        Ok(())
    } else {
        Err(Invalid::keyed(
            field,
            "ttl_out_of_range",
            vec![
                ttl.to_string(),
                MIN_TTL_SECONDS.to_string(),
                MAX_TTL_SECONDS.to_string(),
            ],
            format!("{ttl} seconds is outside {MIN_TTL_SECONDS}..={MAX_TTL_SECONDS} (5 minutes to 24 hours)"),
        ))
    }
}

/// Checks a platform password: 12 to 256 characters.
pub fn check_password(v: &str) -> Result<(), Invalid> {
    if (12..=256).contains(&v.chars().count()) {
        Ok(())
    } else {
        Err(Invalid::keyed(
            "password",
            "password_length",
            Vec::new(),
            "use 12 to 256 characters",
        ))
    }
}

/// Checks managed policy ARNs: at most 10, each an IAM policy ARN, no duplicates.
pub fn check_policies(arns: &[String]) -> Result<(), Invalid> {
    if arns.len() > MAX_MANAGED_POLICIES {
        return Err(Invalid::keyed(
            "policies",
            "policies_too_many",
            vec![arns.len().to_string(), MAX_MANAGED_POLICIES.to_string()],
            format!(
                "{} managed policies given: at most {MAX_MANAGED_POLICIES} per user",
                arns.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for a in arns {
        if !(a.starts_with("arn:aws:iam::") && a.contains(":policy/")) || a.len() > 2048 {
            return Err(Invalid::keyed(
                "policies",
                "policy_arn_invalid",
                vec![a.to_string()],
                format!("`{a}` is not a managed policy ARN such as arn:aws:iam::aws:policy/ReadOnlyAccess"),
            ));
        }
        if !seen.insert(a) {
            return Err(Invalid::keyed(
                "policies",
                "policy_twice",
                vec![a.to_string()],
                format!("`{a}` is listed twice"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, max: i64) -> RoleInfo {
        RoleInfo {
            name: name.into(),
            arn: format!("arn:aws:iam::123456789012:role/{name}"),
            max_session_duration: max,
            trust_policy: "{}".into(),
        }
    }

    fn settings() -> JitSettings {
        JitSettings {
            id: "a-1".into(),
            active: true,
            description: "prod".into(),
            jit_enabled: true,
            duration: 3600,
            roles: vec!["Admin".into()],
            synced_roles: vec![role("Admin", 3600), role("Other", 3600)],
            synced_at: 0,
            updated: 0,
        }
    }

    fn all_perms() -> BTreeSet<Permission> {
        Permission::ALL.into_iter().collect()
    }

    fn facts(perms: &BTreeSet<Permission>) -> StartFacts<'_> {
        StartFacts {
            username: "ana",
            email: Some("ana@example.com"),
            permissions: perms,
            cloud_user: "ana",
            origin: Origin::Created,
            status: CloudUserStatus::Provisioned,
            has_credential: true,
            account: "prod",
        }
    }

    fn jit_err(f: &StartFacts<'_>, ask: &JitAsk<'_>) -> Vec<Unmet> {
        check_jit_start(f, ask).expect_err("refused")
    }

    #[test]
    fn a_complete_jit_start_gets_its_plan() {
        let perms = all_perms();
        let s = settings();
        let plan = check_jit_start(
            &facts(&perms),
            &JitAsk {
                settings: Some(&s),
                role: Some("Admin"),
                duration: None,
            },
        )
        .expect("allowed");
        assert_eq!(plan.duration, 3600);
        assert_eq!(plan.role.name, "Admin");
        // Less than configured is allowed; by ARN too.
        let plan = check_jit_start(
            &facts(&perms),
            &JitAsk {
                settings: Some(&s),
                role: Some("arn:aws:iam::123456789012:role/Admin"),
                duration: Some(900),
            },
        )
        .expect("allowed");
        assert_eq!(plan.duration, 900);
    }

    #[test]
    fn each_missing_jit_requirement_gives_its_own_error() {
        let perms = all_perms();
        let s = settings();
        let ok_ask = JitAsk {
            settings: Some(&s),
            role: Some("Admin"),
            duration: None,
        };
        let mut f = facts(&perms);
        f.email = None;
        let e = jit_err(&f, &ok_ask);
        assert_eq!(
            e,
            vec![Unmet::NoEmail {
                username: "ana".into()
            }]
        );
        assert!(e[0].to_string().contains("e-mail"), "{}", e[0]);

        let mut f = facts(&perms);
        f.origin = Origin::Imported;
        f.status = CloudUserStatus::Imported;
        let e = jit_err(&f, &ok_ask);
        assert!(matches!(e.as_slice(), [Unmet::Imported { .. }]), "{e:?}");
        assert!(e[0].to_string().contains("imported"));

        let mut f = facts(&perms);
        f.has_credential = false;
        let e = jit_err(&f, &ok_ask);
        assert!(matches!(e.as_slice(), [Unmet::NoCredential { .. }]), "{e:?}");
        assert!(e[0].to_string().contains("create one"));

        let mut perms2 = all_perms();
        perms2.remove(&Permission::StartJitSessions);
        let e = jit_err(&facts(&perms2), &ok_ask);
        assert!(matches!(
            e.as_slice(),
            [Unmet::MissingPermission {
                permission: Permission::StartJitSessions,
                ..
            }]
        ));
        assert!(
            e[0].to_string().contains("Users can start JIT sessions"),
            "{}",
            e[0]
        );

        let e = jit_err(
            &facts(&perms),
            &JitAsk {
                settings: None,
                ..ok_ask.clone()
            },
        );
        assert!(matches!(e.as_slice(), [Unmet::NoJitSettings { .. }]));

        let mut inactive = settings();
        inactive.active = false;
        let e = jit_err(
            &facts(&perms),
            &JitAsk {
                settings: Some(&inactive),
                ..ok_ask.clone()
            },
        );
        assert!(matches!(e.as_slice(), [Unmet::JitInactive { .. }]), "{e:?}");

        let mut disabled = settings();
        disabled.jit_enabled = false;
        let e = jit_err(
            &facts(&perms),
            &JitAsk {
                settings: Some(&disabled),
                ..ok_ask.clone()
            },
        );
        assert!(matches!(e.as_slice(), [Unmet::JitDisabled { .. }]), "{e:?}");

        let e = jit_err(
            &facts(&perms),
            &JitAsk {
                role: Some("Other"),
                ..ok_ask.clone()
            },
        );
        assert!(matches!(e.as_slice(), [Unmet::RoleNotAllowed { .. }]), "{e:?}");
        assert!(e[0].to_string().contains("choose one of Admin"), "{}", e[0]);

        let e = jit_err(
            &facts(&perms),
            &JitAsk {
                role: None,
                ..ok_ask.clone()
            },
        );
        assert!(matches!(e.as_slice(), [Unmet::NoRole { .. }]), "{e:?}");

        let e = jit_err(
            &facts(&perms),
            &JitAsk {
                duration: Some(899),
                ..ok_ask.clone()
            },
        );
        assert_eq!(e, vec![Unmet::DurationTooShort { asked: 899 }]);

        let e = jit_err(
            &facts(&perms),
            &JitAsk {
                duration: Some(3601),
                ..ok_ask.clone()
            },
        );
        assert!(
            matches!(e.as_slice(), [Unmet::DurationTooLong { max: 3600, .. }]),
            "{e:?}"
        );

        // A role whose MaxSessionDuration shrank after the settings were saved.
        let mut shrunk = settings();
        shrunk.synced_roles[0].max_session_duration = 1800;
        let e = jit_err(
            &facts(&perms),
            &JitAsk {
                settings: Some(&shrunk),
                ..ok_ask.clone()
            },
        );
        assert!(
            matches!(e.as_slice(), [Unmet::DurationTooLong { max: 1800, .. }]),
            "{e:?}"
        );
        assert!(e[0].to_string().contains("MaxSessionDuration of role Admin"));
    }

    #[test]
    fn every_unmet_requirement_is_reported_at_once() {
        let none = BTreeSet::new();
        let mut f = facts(&none);
        f.email = None;
        f.has_credential = false;
        let e = jit_err(
            &f,
            &JitAsk {
                settings: None,
                role: None,
                duration: None,
            },
        );
        assert_eq!(e.len(), 4, "{e:?}");
    }

    #[test]
    fn each_missing_console_requirement_gives_its_own_error() {
        let perms = all_perms();
        assert_eq!(check_console_start(&facts(&perms)), Ok(()));
        let mut f = facts(&perms);
        f.email = Some("  ");
        assert!(matches!(
            check_console_start(&f).expect_err("no mail").as_slice(),
            [Unmet::NoEmail { .. }]
        ));
        let mut f = facts(&perms);
        f.origin = Origin::Imported;
        assert!(matches!(
            check_console_start(&f).expect_err("imported").as_slice(),
            [Unmet::Imported { .. }]
        ));
        let mut p = all_perms();
        p.remove(&Permission::StartSessions);
        let e = check_console_start(&facts(&p)).expect_err("no permission");
        assert!(e[0].to_string().contains("Users can start sessions"));
        // A console session needs no credential.
        let mut f = facts(&perms);
        f.has_credential = false;
        assert_eq!(check_console_start(&f), Ok(()));
        let mut f = facts(&perms);
        f.status = CloudUserStatus::Provisioning;
        assert!(matches!(
            check_console_start(&f).expect_err("pending").as_slice(),
            [Unmet::NotProvisioned { .. }]
        ));
    }

    #[test]
    fn jit_settings_durations_are_bounded() {
        let synced = vec![role("Admin", 3600), role("Long", 43_200)];
        assert!(check_jit_settings(900, &["Admin".into()], &synced).is_ok());
        assert_eq!(
            check_jit_settings(899, &[], &synced).expect_err("short").field,
            "duration"
        );
        assert_eq!(
            check_jit_settings(43_201, &[], &synced).expect_err("long").field,
            "duration"
        );
        let e = check_jit_settings(7200, &["Admin".into()], &synced).expect_err("above role max");
        assert!(e.message.contains("MaxSessionDuration of 3600"), "{e}");
        assert!(check_jit_settings(43_200, &["Long".into()], &synced).is_ok());
        let e = check_jit_settings(900, &["Nope".into()], &synced).expect_err("unknown role");
        assert_eq!(e.field, "roles");
        assert!(check_jit_settings(900, &["Admin".into(), "Admin".into()], &synced).is_err());
    }

    #[test]
    fn input_checks() {
        assert!(check_username("ana.silva@corp").is_ok());
        assert!(check_username("a").is_err());
        assert!(check_username("ana silva").is_err());
        assert!(check_email("ana@example.com").is_ok());
        assert!(check_email("ana").is_err());
        assert!(check_ttl("ttl", 300).is_ok());
        assert!(check_ttl("ttl", 299).is_err());
        assert!(check_ttl("ttl", 86_401).is_err());
        assert!(check_policies(&["arn:aws:iam::aws:policy/ReadOnlyAccess".into()]).is_ok());
        let eleven: Vec<String> = (0..11).map(|i| format!("arn:aws:iam::aws:policy/P{i}")).collect();
        assert!(check_policies(&eleven).is_err());
        assert!(check_policies(&["ReadOnly".into()]).is_err());
        assert!(check_text("description", &"x".repeat(1001), 1000).is_err());
        assert_eq!(role_name("arn:aws:iam::1:role/a/b/Admin"), "Admin");
    }
}
