//! What the session gateways (`porteiro-gateway`) need from the access manager: session
//! start and end notifications ([`SessionObserver`]), the gateway credentials of JIT sessions
//! (generated here, sealed in the store, valid only while the session is active), and the
//! ed25519 recording key, generated once and kept sealed in the vault.

use std::sync::Arc;

use base64::Engine;

use crate::manager::{Manager, Result, SessionSecrets, SessionView};
use crate::model::{CloudAccount, GatewayKeyIndex, RecordingKeyDoc, Session, SessionKind, SessionStatus};
use crate::rules::Message;
use crate::store::{Batch, StoreExt};
use crate::vault::{Secret, random_bytes};
use crate::{Actor, Error};

/// The prefix of gateway access key ids (AWS's are `AKIA`/`ASIA`; these can never collide).
pub const GATEWAY_KEY_PREFIX: &str = "PGWA";

/// Told when sessions start and end. Called after the change is committed, outside the
/// manager's write lock; implementations must not block (send to a task or thread).
pub trait SessionObserver: Send + Sync {
    /// A session started. `origin` is the starting client's address.
    fn started(&self, session: &SessionView, origin: Option<&str>);
    /// A session ended: `reason` is `expired`, `dropped by USER`, ...
    fn ended(&self, session: &SessionView, reason: &str);
}

/// A JIT session's gateway credentials, in clear (given to the session's owner only).
#[derive(Debug, Clone)]
pub struct GatewaySecrets {
    /// Access key id (`PGWA…`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// When they stop working (the session's expiry, epoch seconds).
    pub expiration: i64,
    /// The gateway's endpoint URL, when a gateway serves.
    pub endpoint: Option<String>,
    /// The account's region (what clients should sign for).
    pub region: String,
}

/// New random gateway credentials: `PGWA` + 16 base32 characters, and a 40-character secret.
pub fn new_gateway_secrets() -> Result<GatewaySecrets> {
    const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let id: String = random_bytes::<16>()?
        .iter()
        .map(|b| BASE32[(*b & 31) as usize] as char)
        .collect();
    let secret = base64::engine::general_purpose::STANDARD.encode(random_bytes::<30>()?);
    Ok(GatewaySecrets {
        access_key_id: format!("{GATEWAY_KEY_PREFIX}{id}"),
        secret_access_key: Secret::new(secret),
        expiration: 0,
        endpoint: None,
        region: String::new(),
    })
}

/// Everything the API gateway needs to check and forward one JIT session's requests.
#[derive(Debug, Clone)]
pub struct GatewaySession {
    /// The session.
    pub session: SessionView,
    /// The gateway secret the person's client signs with.
    pub gateway_secret: Secret,
    /// The session's STS credentials (they stay server-side).
    pub sts: SessionSecrets,
    /// The account's endpoint (`None`: real AWS).
    pub endpoint: Option<String>,
    /// The account's region.
    pub region: String,
    /// The account's name.
    pub account_name: String,
    /// The AWS account id.
    pub aws_account_id: Option<String>,
}

impl Manager {
    /// Registers an observer of session starts and ends.
    pub fn add_observer(&self, observer: Arc<dyn SessionObserver>) {
        if let Ok(mut o) = self.observers.write() {
            o.push(observer);
        }
    }

    /// Sets the API gateway's endpoint URL given out with gateway credentials.
    pub fn set_gateway_endpoint(&self, url: impl Into<String>) {
        if let Ok(mut g) = self.gateway_endpoint.write() {
            *g = Some(url.into());
        }
    }

    /// The API gateway's endpoint URL, if one serves.
    pub fn gateway_endpoint(&self) -> Option<String> {
        self.gateway_endpoint.read().ok().and_then(|g| g.clone())
    }

    fn observers(&self) -> Vec<Arc<dyn SessionObserver>> {
        self.observers.read().map(|o| o.clone()).unwrap_or_default()
    }

    pub(crate) fn notify_started(&self, s: &Session, actor: &Actor) {
        let view = SessionView::from(s);
        for o in self.observers() {
            o.started(&view, actor.source.as_deref());
        }
    }

    pub(crate) fn notify_ended(&self, s: &Session, reason: &str) {
        let view = SessionView::from(s);
        for o in self.observers() {
            o.ended(&view, reason);
        }
    }

    /// The ed25519 private key (32 bytes) that signs recording manifests: generated from the
    /// operating system's random source on first use and kept sealed by the vault in the
    /// store (`recording_key`).
    pub async fn recording_key(&self) -> Result<[u8; 32]> {
        let _w = self.write.lock().await;
        if let Some(doc) = self.store.get::<RecordingKeyDoc>("recording")? {
            let hex = self.vault.open(&doc.secret)?;
            return decode_key(hex.expose()).ok_or_else(|| {
                Error::Conflict(Message::new(
                    "recording_key_altered",
                    Vec::new(),
                    "the stored recording key is not 32 bytes of hex: the store was altered",
                ))
            });
        }
        let key = random_bytes::<32>()?;
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let doc = RecordingKeyDoc {
            id: "recording".into(),
            secret: self.vault.seal(&hex)?,
            created: self.now(),
        };
        let mut b = Batch::new();
        b.put(&doc)?;
        self.store.commit(&b)?;
        Ok(key)
    }

    /// The JIT session whose gateway access key id is `access_key_id`, with the secrets the
    /// gateway needs; `None` for an unknown key. Ended sessions are returned too (the
    /// gateway answers them with `ExpiredToken`).
    pub fn gateway_session(&self, access_key_id: &str) -> Result<Option<GatewaySession>> {
        let Some(index) = self.store.get::<GatewayKeyIndex>(access_key_id)? else {
            return Ok(None);
        };
        let Some(s) = self.store.get::<Session>(&index.session_id)? else {
            return Ok(None);
        };
        let (Some(gw), Some(creds)) = (&s.gateway, &s.credentials) else {
            return Ok(None);
        };
        if gw.access_key_id != access_key_id {
            return Ok(None);
        }
        let account: Option<CloudAccount> = self.store.get(&s.account_id)?;
        let account = account.ok_or_else(|| Error::NotFound {
            kind: "account",
            id: s.account_id.clone(),
        })?;
        Ok(Some(GatewaySession {
            session: SessionView::from(&s),
            gateway_secret: self.vault.open(&gw.secret)?,
            sts: SessionSecrets {
                access_key_id: creds.access_key_id.clone(),
                secret_access_key: self.vault.open(&creds.secret)?,
                session_token: self.vault.open(&creds.token)?,
                expiration: creds.expiration,
            },
            endpoint: account.endpoint.clone(),
            region: account.region.clone(),
            account_name: account.name.clone(),
            aws_account_id: account.aws_account_id.clone(),
        }))
    }

    /// The gateway credentials of one's own active JIT session (only its owner may fetch
    /// them, and only while it is active).
    pub fn gateway_credentials(&self, actor: &Actor, session_id: &str) -> Result<GatewaySecrets> {
        let s: Option<Session> = self.store.get(session_id)?;
        let s = s
            .filter(|s| s.user_id == actor.user_id)
            .ok_or_else(|| Error::NotFound {
                kind: "session",
                id: format!("{session_id} (among your own sessions)"),
            })?;
        if s.kind != SessionKind::Jit {
            return Err(Error::Conflict(Message::new(
                "console_session_no_gateway",
                vec![session_id.to_string()],
                format!(
                    "session {session_id} is a console session: only JIT sessions have gateway credentials"
                ),
            )));
        }
        if s.status != SessionStatus::Active || self.now() >= s.expires_at {
            return Err(Error::Conflict(Message::new(
                "jit_session_ended",
                vec![session_id.to_string()],
                format!(
                    "session {session_id} has ended: start a new one with `porteiro sessions start --kind jit`"
                ),
            )));
        }
        let gw = s.gateway.as_ref().ok_or_else(|| {
            Error::Conflict(Message::new(
                "session_before_gateway",
                vec![session_id.to_string()],
                format!("session {session_id} was started before the gateway existed: start a new one"),
            ))
        })?;
        Ok(GatewaySecrets {
            access_key_id: gw.access_key_id.clone(),
            secret_access_key: self.vault.open(&gw.secret)?,
            expiration: s.expires_at,
            endpoint: self.gateway_endpoint(),
            region: self
                .store
                .get::<CloudAccount>(&s.account_id)?
                .map(|a| a.region)
                .unwrap_or_else(|| "us-east-1".into()),
        })
    }
}

fn decode_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_secrets_look_like_aws_keys_and_differ() {
        let a = new_gateway_secrets().expect("random");
        let b = new_gateway_secrets().expect("random");
        assert_eq!(a.access_key_id.len(), 20);
        assert!(a.access_key_id.starts_with(GATEWAY_KEY_PREFIX));
        assert_eq!(a.secret_access_key.expose().len(), 40);
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_ne!(a.secret_access_key, b.secret_access_key);
        assert!(!format!("{a:?}").contains(a.secret_access_key.expose()));
    }

    #[test]
    fn recording_keys_decode_only_from_64_hex_digits() {
        assert_eq!(decode_key(&"0f".repeat(32)), Some([15u8; 32]));
        assert_eq!(decode_key("0f"), None);
        assert_eq!(decode_key(&"zz".repeat(32)), None);
    }
}
