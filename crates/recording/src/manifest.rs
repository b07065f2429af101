//! The signed manifest that closes a recording, and the ed25519 keys.
//!
//! The signature covers `porteiro-recording-manifest/1\n` followed by the manifest's JSON
//! without its `signature` field, fields in the order of [`Manifest`] (as `serde_json` writes
//! them: compact, no spaces). The public key is written beside the manifest
//! (`public-key.hex`) and inside it (`publicKey`), so a recording verifies offline; a verifier
//! that knows the vault's public key can also require it (see [`crate::verify`]).

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::FORMAT;
use crate::chain::{hex, unhex};
use crate::error::RecordingError;

/// The prefix of the signed message.
const SIGNED_PREFIX: &[u8] = b"porteiro-recording-manifest/1\n";

/// How the recording was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The session ended normally and its writer closed the recording.
    Completed,
    /// The writer never closed it (a crash); recovery closed it over the events that verify.
    Interrupted,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Completed => "completed",
            Status::Interrupted => "interrupted",
        })
    }
}

/// A recording's manifest, as stored in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The session id.
    pub session_id: String,
    /// The first event's time (ms since the Unix epoch); 0 when there is no event.
    pub started_at: u64,
    /// The last event's time (ms since the Unix epoch); 0 when there is no event.
    pub ended_at: u64,
    /// How many events the recording holds.
    pub event_count: u64,
    /// The hash of the last event's line (the genesis hash when there is no event).
    pub chain_head: String,
    /// Completed or interrupted.
    pub status: Status,
    /// The ed25519 public key (hex) whose private half signed this manifest.
    pub public_key: String,
    /// The ed25519 signature (hex) over [`Manifest::signed_bytes`].
    pub signature: String,
}

/// The signed fields, in order (the manifest without its signature).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    format: &'a str,
    session_id: &'a str,
    started_at: u64,
    ended_at: u64,
    event_count: u64,
    chain_head: &'a str,
    status: Status,
    public_key: &'a str,
}

/// The manifest's fields before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    /// The session id.
    pub session_id: String,
    /// The first event's time.
    pub started_at: u64,
    /// The last event's time.
    pub ended_at: u64,
    /// Number of events.
    pub event_count: u64,
    /// Hash of the last line.
    pub chain_head: String,
    /// How it was closed.
    pub status: Status,
}

impl Manifest {
    /// Signs the fields with `key`.
    pub fn sign(fields: Unsigned, key: &RecordingKey) -> Result<Manifest, RecordingError> {
        let mut manifest = Manifest {
            format: FORMAT.to_owned(),
            session_id: fields.session_id,
            started_at: fields.started_at,
            ended_at: fields.ended_at,
            event_count: fields.event_count,
            chain_head: fields.chain_head,
            status: fields.status,
            public_key: key.public_key().to_hex(),
            signature: String::new(),
        };
        let signature = key.0.sign(&manifest.signed_bytes()?);
        manifest.signature = hex(&signature.to_bytes());
        Ok(manifest)
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, RecordingError> {
        let mut out = SIGNED_PREFIX.to_vec();
        serde_json::to_writer(
            &mut out,
            &Body {
                format: &self.format,
                session_id: &self.session_id,
                started_at: self.started_at,
                ended_at: self.ended_at,
                event_count: self.event_count,
                chain_head: &self.chain_head,
                status: self.status,
                public_key: &self.public_key,
            },
        )?;
        Ok(out)
    }

    /// Checks the signature against the manifest's own public key. Returns that key.
    pub fn check_signature(&self) -> Result<PublicKey, String> {
        let key =
            PublicKey::from_hex(&self.public_key).map_err(|e| format!("its publicKey is not usable: {e}"))?;
        let signature =
            unhex::<64>(&self.signature).ok_or_else(|| "its signature is not 64 bytes of hex".to_owned())?;
        let signature = Signature::from_bytes(&signature);
        let message = self
            .signed_bytes()
            .map_err(|e| format!("cannot encode it: {e}"))?;
        key.0
            .verify_strict(&message, &signature)
            .map_err(|_| "the signature does not match its contents".to_owned())?;
        Ok(key)
    }

    /// The manifest as stored (pretty JSON plus newline).
    pub fn to_json(&self) -> Result<Vec<u8>, RecordingError> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }

    /// Parses a stored manifest.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The ed25519 signing key of recordings. The caller owns it (the access manager keeps it in
/// its vault); it is never printed (its `Debug` shows only the public key).
pub struct RecordingKey(SigningKey);

impl RecordingKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<RecordingKey, RecordingError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| RecordingError::Random(e.to_string()))?;
        let key = RecordingKey(SigningKey::from_bytes(&secret));
        secret.fill(0);
        Ok(key)
    }

    /// The key from its 32 secret bytes (as kept in the vault).
    pub fn from_bytes(secret: &[u8; 32]) -> RecordingKey {
        RecordingKey(SigningKey::from_bytes(secret))
    }

    /// The 32 secret bytes, to store in the vault.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

impl fmt::Debug for RecordingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingKey")
            .field("public_key", &self.public_key().to_hex())
            .finish_non_exhaustive()
    }
}

/// An ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses 64 hex digits (surrounding whitespace allowed, as in `public-key.hex`).
    pub fn from_hex(s: &str) -> Result<PublicKey, RecordingError> {
        let bytes = unhex::<32>(s)
            .ok_or_else(|| RecordingError::Key("a public key is 64 hex digits (32 bytes)".to_owned()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| RecordingError::Key("not a valid ed25519 public key".to_owned()))
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex(self.0.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsigned() -> Unsigned {
        Unsigned {
            session_id: "s1".into(),
            started_at: 1,
            ended_at: 2,
            event_count: 3,
            chain_head: "ab".repeat(32),
            status: Status::Completed,
        }
    }

    #[test]
    fn a_signed_manifest_verifies_and_round_trips() {
        let key = RecordingKey::generate().expect("random");
        let manifest = Manifest::sign(unsigned(), &key).expect("signs");
        assert_eq!(manifest.check_signature(), Ok(key.public_key()));
        let back = Manifest::from_json(&manifest.to_json().expect("json")).expect("parses");
        assert_eq!(back, manifest);
        assert_eq!(
            RecordingKey::from_bytes(&key.to_bytes()).public_key(),
            key.public_key()
        );
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let key = RecordingKey::generate().expect("random");
        let manifest = Manifest::sign(unsigned(), &key).expect("signs");
        let mut m = manifest.clone();
        m.event_count += 1;
        assert!(m.check_signature().is_err());
        let mut m = manifest.clone();
        m.status = Status::Interrupted;
        assert!(m.check_signature().is_err());
        let other = RecordingKey::generate().expect("random");
        let mut m = manifest;
        m.public_key = other.public_key().to_hex();
        assert!(m.check_signature().is_err());
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let key = RecordingKey::from_bytes(&[7u8; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex(&[7u8; 32])));
        assert!(shown.contains(&key.public_key().to_hex()));
    }
}
