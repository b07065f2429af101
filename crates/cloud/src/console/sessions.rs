//! Console sessions and sign-in tokens: persisted entities of the cloud's state.
//!
//! SECURITY: neither the cookie of a console session nor a sign-in token is stored; both are
//! kept by the SHA-256 (hex) of their value, so a copy of the database cannot be used to sign
//! in. Temporary credentials are referred to by access key id only (their secret stays where
//! STS keeps it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Cloud;
use crate::protocol::ApiError;
use crate::state::{Entity, State, Tx};

/// How long a sign-in token is valid (AWS: 15 minutes).
pub const SIGNIN_TOKEN_LIFETIME: i64 = 900;
/// How long a console session of an IAM user signed in with a password lasts (AWS: 12 hours).
pub const PASSWORD_SESSION_LIFETIME: i64 = 43_200;

/// Who a console session acts as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsolePrincipal {
    /// An IAM user that signed in with its password: it acts with the user's policies.
    User {
        /// The user name.
        name: String,
    },
    /// A federation sign-in: it acts as these temporary credentials (AssumeRole or
    /// GetFederationToken), by access key id.
    Credentials {
        /// The temporary access key id.
        access_key_id: String,
    },
}

/// A web console session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSession {
    /// SHA-256 (hex) of the session cookie.
    pub cookie_hash: String,
    /// The account signed in to.
    pub account: String,
    /// Who the session acts as.
    pub principal: ConsolePrincipal,
    /// The identity broker's URL (`Issuer` of a federation login), offered when the session ends.
    pub issuer: Option<String>,
    /// When it started (epoch seconds).
    pub created: i64,
    /// When it ends (epoch seconds).
    pub expires: i64,
}

/// What a sign-in token is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigninPurpose {
    /// `Action=getSigninToken`: a console session for temporary credentials.
    Federation {
        /// The credentials' account.
        account: String,
        /// The temporary access key id.
        access_key_id: String,
        /// `SessionDuration` when it was given.
        session_duration: Option<i64>,
    },
    /// A password that must be changed before signing in (`PasswordResetRequired`).
    PasswordReset {
        /// The account.
        account: String,
        /// The user name.
        user: String,
    },
}

/// A short-lived, single-use sign-in token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigninToken {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// What it is for.
    pub purpose: SigninPurpose,
    /// When it was issued.
    pub created: i64,
    /// When it stops being accepted.
    pub expires: i64,
}

impl Entity for ConsoleSession {
    const KIND: &'static str = "console_session";
    fn key(&self) -> String {
        self.cookie_hash.clone()
    }
    fn map(state: &mut State) -> &mut BTreeMap<String, Self> {
        &mut state.console_sessions
    }
}

impl Entity for SigninToken {
    const KIND: &'static str = "signin_token";
    fn key(&self) -> String {
        self.token_hash.clone()
    }
    fn map(state: &mut State) -> &mut BTreeMap<String, Self> {
        &mut state.signin_tokens
    }
}

/// SHA-256 of a secret value, hex: the key it is stored under.
pub fn digest(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes from the OS generator, hex (a cookie or a token).
pub fn random_secret() -> Result<String, ApiError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| ApiError::internal(format!("the random generator failed: {e}")))?;
    Ok(hex(&buf))
}

/// Constant-time equality of two byte strings.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Drops tokens that have expired and sessions that ended a day ago (a bounded number per
/// change).
fn purge(tx: &mut Tx<'_>, now: i64) {
    let tokens: Vec<String> = tx
        .state
        .signin_tokens
        .values()
        .filter(|t| t.expires <= now)
        .map(|t| t.token_hash.clone())
        .take(100)
        .collect();
    for t in tokens {
        tx.delete::<SigninToken>(&t);
    }
    let sessions: Vec<String> = tx
        .state
        .console_sessions
        .values()
        // Kept a day after they end, so their owner sees "expired" rather than "not signed in".
        .filter(|s| s.expires + 86_400 <= now)
        .map(|s| s.cookie_hash.clone())
        .take(100)
        .collect();
    for s in sessions {
        tx.delete::<ConsoleSession>(&s);
    }
}

/// Issues a sign-in token; returns the token (shown once, stored only as its hash).
pub fn issue_token(cloud: &Cloud, purpose: SigninPurpose, now: i64) -> Result<String, ApiError> {
    let token = random_secret()?;
    let record = SigninToken {
        token_hash: digest(&token),
        purpose,
        created: now,
        expires: now + SIGNIN_TOKEN_LIFETIME,
    };
    cloud.shared.mutate(|tx| {
        purge(tx, now);
        tx.put(record);
        Ok::<_, ApiError>(())
    })?;
    Ok(token)
}

/// The token's record when it is valid (not consumed).
pub fn peek_token(cloud: &Cloud, token: &str, now: i64) -> Option<SigninToken> {
    cloud
        .shared
        .snapshot()
        .signin_tokens
        .get(&digest(token))
        .filter(|t| t.expires > now)
        .cloned()
}

/// Consumes a token: it is valid once. `None` when it is unknown, used or expired.
pub fn consume_token(cloud: &Cloud, token: &str, now: i64) -> Result<Option<SigninToken>, ApiError> {
    let key = digest(token);
    cloud.shared.mutate(|tx| {
        let found = tx.delete::<SigninToken>(&key);
        purge(tx, now);
        Ok(found.filter(|t| t.expires > now))
    })
}

/// Starts a console session; returns the cookie value.
pub fn start_session(
    cloud: &Cloud,
    account: &str,
    principal: ConsolePrincipal,
    issuer: Option<String>,
    now: i64,
    expires: i64,
) -> Result<String, ApiError> {
    let cookie = random_secret()?;
    let session = ConsoleSession {
        cookie_hash: digest(&cookie),
        account: account.to_string(),
        principal,
        issuer,
        created: now,
        expires,
    };
    cloud.shared.mutate(|tx| {
        purge(tx, now);
        tx.put(session);
        Ok::<_, ApiError>(())
    })?;
    Ok(cookie)
}

/// Ends a console session (sign-out, expiry).
pub fn end_session(cloud: &Cloud, cookie_hash: &str) -> Result<(), ApiError> {
    if !cloud.shared.snapshot().console_sessions.contains_key(cookie_hash) {
        return Ok(());
    }
    cloud.shared.mutate(|tx| {
        tx.delete::<ConsoleSession>(cookie_hash);
        Ok::<_, ApiError>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_secrets() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let a = random_secret().unwrap_or_default();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_secret().unwrap_or_default());
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
