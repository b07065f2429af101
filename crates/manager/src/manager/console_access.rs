//! What the console gateway needs from the manager: a session as it is now (for the cut at
//! expiry or drop), and how to sign in to the cloud console on the person's behalf — the
//! vaulted password of the session's cloud IAM user (Cloud console sessions) or the session's
//! STS credentials (JIT sessions, for the federation endpoint). These never leave the server:
//! the gateway uses them to sign in and keeps the cloud's cookie to itself.

use super::*;

/// How the gateway signs in to the cloud console for a session.
pub enum ConsoleSignInMethod {
    /// Cloud console session: the IAM user's sign-in form.
    Password {
        /// The IAM user's name.
        user_name: String,
        /// Its current password (vaulted; rotated when the session ends).
        password: Secret,
    },
    /// JIT session: the federation endpoint, with the session's temporary credentials.
    Federation {
        /// Access key id (`ASIA…`).
        access_key_id: String,
        /// Secret access key.
        secret_access_key: Secret,
        /// Session token.
        session_token: Secret,
        /// When the credentials expire (epoch seconds).
        expiration: i64,
    },
}

impl std::fmt::Debug for ConsoleSignInMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsoleSignInMethod::Password { user_name, .. } => f
                .debug_struct("Password")
                .field("user_name", user_name)
                .finish_non_exhaustive(),
            ConsoleSignInMethod::Federation { access_key_id, .. } => f
                .debug_struct("Federation")
                .field("access_key_id", access_key_id)
                .finish_non_exhaustive(),
        }
    }
}

/// Everything needed to open the cloud console for one active session.
#[derive(Debug)]
pub struct ConsoleSignIn {
    /// The session.
    pub session: SessionView,
    /// The account's endpoint (none: real AWS).
    pub endpoint: Option<String>,
    /// The account's region.
    pub region: String,
    /// The AWS account id (12 digits).
    pub aws_account_id: String,
    /// The principal the console acts as (IAM user ARN, or role ARN).
    pub principal: Option<String>,
    /// How to sign in.
    pub method: ConsoleSignInMethod,
}

impl Manager {
    /// A session as it is now, for the gateways (no actor: the gateway checks the owner itself).
    pub fn session_for_gateway(&self, id: &str) -> Result<SessionView> {
        Ok(SessionView::from(&self.get::<Session>("session", id)?))
    }

    /// How to sign in to the cloud console for an active session: the vaulted password of its
    /// cloud IAM user (console), or its temporary credentials (JIT). Refused for a session
    /// that has ended.
    pub fn console_sign_in(&self, id: &str) -> Result<ConsoleSignIn> {
        let s: Session = self.get("session", id)?;
        if s.status != SessionStatus::Active || self.now() >= s.expires_at {
            return Err(Error::Conflict(Message::new(
                "session_ended",
                vec![id.to_string(), format!("{:?}", s.status)],
                format!("session {id} has ended ({:?}): start a new session", s.status),
            )));
        }
        let account: CloudAccount = self.get("account", &s.account_id)?;
        let aws_account_id = account.aws_account_id.clone().ok_or_else(|| {
            Error::Conflict(Message::new(
                "account_no_aws_id",
                vec![account.name.clone(), account.id.clone()],
                format!(
                    "account {} has no AWS account id yet: check it (POST /api/v1/accounts/{}/check)",
                    account.name, account.id
                ),
            ))
        })?;
        let (method, principal) = match s.kind {
            SessionKind::Console => {
                let cu: CloudUser = self.get("cloud_user", &s.cloud_user_id)?;
                let sealed = cu.password.as_ref().ok_or_else(|| {
                    Error::Conflict(Message::new(
                        "no_console_password",
                        vec![cu.name.clone()],
                        format!(
                            "cloud IAM user {} has no console password in the vault (imported users cannot sign in through Porteiro)",
                            cu.name
                        ),
                    ))
                })?;
                (
                    ConsoleSignInMethod::Password {
                        user_name: cu.name.clone(),
                        password: self.vault.open(sealed)?,
                    },
                    cu.arn.clone(),
                )
            }
            SessionKind::Jit => {
                let c = s.credentials.as_ref().ok_or_else(|| {
                    Error::Conflict(Message::new(
                        "jit_no_credentials",
                        vec![id.to_string()],
                        format!("JIT session {id} has no credentials in the vault"),
                    ))
                })?;
                (
                    ConsoleSignInMethod::Federation {
                        access_key_id: c.access_key_id.clone(),
                        secret_access_key: self.vault.open(&c.secret)?,
                        session_token: self.vault.open(&c.token)?,
                        expiration: c.expiration,
                    },
                    s.role_arn.clone(),
                )
            }
        };
        Ok(ConsoleSignIn {
            session: SessionView::from(&s),
            endpoint: account.endpoint.clone(),
            region: account.region.clone(),
            aws_account_id,
            principal,
            method,
        })
    }
}
