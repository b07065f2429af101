//! KMS cryptography: the cloud's master key, key material at rest, and the ciphertext blob.
//!
//! Every KMS key has 256 bits of material from the OS generator. The material is stored
//! encrypted (AES-256-GCM) under the cloud's master key, which lives in a 0600 file in the
//! data directory and nowhere else. Data is encrypted with AES-256-GCM under the key's
//! material; the blob names its key so `Decrypt` needs no `KeyId`, and the encryption
//! context is bound as authenticated data.
//!
//! Ciphertext blob, version 1 (all integers big-endian):
//!
//! ```text
//! offset  size  field
//! 0       4     magic "PKMS"
//! 4       1     version = 1
//! 5       1     n = length of the key id (1..=64)
//! 6       n     key id (ASCII, the UUID of the KMS key)
//! 6+n     12    AES-GCM nonce (random)
//! 18+n    m     ciphertext (m = plaintext length)
//! 18+n+m  16    AES-GCM tag
//! ```
//!
//! Authenticated data: `"PKMS" ‖ 1 ‖ n ‖ key id ‖ canonical(encryption context)`, where the
//! canonical context is the pairs sorted by key (byte order), each written as
//! `u32 len(key) ‖ key ‖ u32 len(value) ‖ value`. So the header cannot be altered and a
//! different context (one pair more, less or changed) fails authentication.

use std::collections::BTreeMap;
use std::path::Path;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine as _;

/// The blob's magic bytes.
pub const MAGIC: &[u8; 4] = b"PKMS";
/// The blob format version written.
pub const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes of key material (AES-256).
pub const MATERIAL_LEN: usize = 32;
/// The master key file in the data directory.
pub const MASTER_KEY_FILE: &str = "kms-master-key";

/// The material of a KMS key or a data key: cleared from memory when dropped, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps bytes.
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Takes the bytes out (the caller becomes responsible for them).
    pub fn into_vec(mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: overwrite before the allocation is freed.
        for b in self.0.iter_mut() {
            // `black_box` keeps the compiler from eliding the writes.
            *b = std::hint::black_box(0);
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// Random bytes from the OS generator.
pub fn random(n: usize) -> Result<Secret, CryptoError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(Secret(buf))
}

/// A cryptographic failure.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The OS random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
    /// Authentication failed: wrong key, wrong context, or altered data.
    #[error("the data could not be authenticated")]
    Unauthentic,
    /// The blob is not one this cloud writes.
    #[error("the ciphertext is not a Porteiro KMS ciphertext blob: {0}")]
    Malformed(&'static str),
    /// Stored key material is unusable.
    #[error("stored key material is corrupt: {0}")]
    Corrupt(&'static str),
}

/// The cloud's KMS master key (encrypts key material at rest).
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Loading or creating the master key failed.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The file could not be read or written.
    #[error("cannot use the KMS master key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file exists but does not hold a key.
    #[error(
        "the KMS master key file {path} is not valid (expected the base64 of 32 bytes); restore it from a backup: without it the cloud's KMS keys cannot be used"
    )]
    Invalid {
        /// The file.
        path: String,
    },
    /// No randomness.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl MasterKey {
    /// Loads the master key from `dir/kms-master-key`, generating it (0600) on first start.
    pub fn load_or_create(dir: &Path) -> Result<MasterKey, MasterKeyError> {
        let path = dir.join(MASTER_KEY_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|_| MasterKeyError::Invalid { path: shown.clone() })?;
                let bytes = Secret(bytes);
                MasterKey::from_bytes(bytes.expose()).ok_or(MasterKeyError::Invalid { path: shown })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = random(MATERIAL_LEN)?;
                let text = Secret(
                    base64::engine::general_purpose::STANDARD
                        .encode(bytes.expose())
                        .into_bytes(),
                );
                let text = String::from_utf8_lossy(text.expose()).into_owned();
                crate::write_private(&path, &format!("{text}\n")).map_err(|source| MasterKeyError::Io {
                    path: shown.clone(),
                    source,
                })?;
                MasterKey::from_bytes(bytes.expose()).ok_or(MasterKeyError::Invalid { path: shown })
            }
            Err(source) => Err(MasterKeyError::Io { path: shown, source }),
        }
    }

    /// A master key from 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<MasterKey> {
        if bytes.len() != MATERIAL_LEN {
            return None;
        }
        Aes256Gcm::new_from_slice(bytes)
            .ok()
            .map(|cipher| MasterKey { cipher })
    }

    fn aad(key_id: &str) -> Vec<u8> {
        let mut aad = b"porteiro-kms-material-v1:".to_vec();
        aad.extend_from_slice(key_id.as_bytes());
        aad
    }

    /// Encrypts the material of key `key_id` for storage: base64(nonce ‖ ciphertext ‖ tag),
    /// bound to the key id.
    pub fn wrap(&self, key_id: &str, material: &Secret) -> Result<String, CryptoError> {
        let nonce = random(NONCE_LEN)?;
        let nonce_arr =
            aes_gcm::Nonce::try_from(nonce.expose()).map_err(|_| CryptoError::Malformed("nonce"))?;
        let aad = MasterKey::aad(key_id);
        let ct = self
            .cipher
            .encrypt(
                &nonce_arr,
                Payload {
                    msg: material.expose(),
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Unauthentic)?;
        let mut out = nonce.expose().to_vec();
        out.extend_from_slice(&ct);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// Decrypts stored material of key `key_id`.
    pub fn unwrap_material(&self, key_id: &str, wrapped: &str) -> Result<KeyCipher, CryptoError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(wrapped)
            .map_err(|_| CryptoError::Corrupt("not base64"))?;
        if raw.len() != NONCE_LEN + MATERIAL_LEN + TAG_LEN {
            return Err(CryptoError::Corrupt("wrong length"));
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = aes_gcm::Nonce::try_from(nonce).map_err(|_| CryptoError::Corrupt("nonce"))?;
        let aad = MasterKey::aad(key_id);
        let material = Secret(
            self.cipher
                .decrypt(&nonce, Payload { msg: ct, aad: &aad })
                .map_err(|_| CryptoError::Corrupt("it does not decrypt under this cloud's master key"))?,
        );
        KeyCipher::new(material.expose()).ok_or(CryptoError::Corrupt("wrong length"))
    }
}

/// A KMS key's material, ready to encrypt and decrypt.
pub struct KeyCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCipher(<redacted>)")
    }
}

impl KeyCipher {
    /// A cipher from 32 bytes of material.
    pub fn new(material: &[u8]) -> Option<KeyCipher> {
        if material.len() != MATERIAL_LEN {
            return None;
        }
        Aes256Gcm::new_from_slice(material)
            .ok()
            .map(|cipher| KeyCipher { cipher })
    }

    /// Encrypts `plaintext` for key `key_id` with the encryption context: the blob.
    pub fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<Vec<u8>, CryptoError> {
        let header = header(key_id)?;
        let nonce = random(NONCE_LEN)?;
        let nonce_arr =
            aes_gcm::Nonce::try_from(nonce.expose()).map_err(|_| CryptoError::Malformed("nonce"))?;
        let aad = aad(&header, context);
        let ct = self
            .cipher
            .encrypt(
                &nonce_arr,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Unauthentic)?;
        let mut out = header;
        out.extend_from_slice(nonce.expose());
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts a blob already parsed by [`parse_blob`].
    pub fn decrypt(
        &self,
        blob: &Blob<'_>,
        context: &BTreeMap<String, String>,
    ) -> Result<Secret, CryptoError> {
        let nonce = aes_gcm::Nonce::try_from(blob.nonce).map_err(|_| CryptoError::Malformed("nonce"))?;
        let aad = aad(blob.header, context);
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: blob.ciphertext,
                    aad: &aad,
                },
            )
            .map(Secret)
            .map_err(|_| CryptoError::Unauthentic)
    }
}

fn header(key_id: &str) -> Result<Vec<u8>, CryptoError> {
    let n = u8::try_from(key_id.len())
        .ok()
        .filter(|n| (1..=64).contains(n))
        .ok_or(CryptoError::Malformed("key id length"))?;
    let mut h = Vec::with_capacity(6 + key_id.len());
    h.extend_from_slice(MAGIC);
    h.push(VERSION);
    h.push(n);
    h.extend_from_slice(key_id.as_bytes());
    Ok(h)
}

fn aad(header: &[u8], context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = header.to_vec();
    out.extend_from_slice(&canonical_context(context));
    out
}

/// The canonical form of an encryption context (sorted by key, length-prefixed pairs).
pub fn canonical_context(context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    // A BTreeMap<String, _> iterates in byte order of the keys.
    for (k, v) in context {
        for part in [k, v] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

/// A parsed ciphertext blob (borrowing the bytes).
#[derive(Debug, Clone, Copy)]
pub struct Blob<'a> {
    /// The key id the blob names.
    pub key_id: &'a str,
    header: &'a [u8],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

/// Parses a blob's framing (not its authenticity: that is [`KeyCipher::decrypt`]).
pub fn parse_blob(bytes: &[u8]) -> Result<Blob<'_>, CryptoError> {
    if bytes.len() < 6 || &bytes[..4] != MAGIC {
        return Err(CryptoError::Malformed(
            "it does not start with the format's magic bytes",
        ));
    }
    if bytes[4] != VERSION {
        return Err(CryptoError::Malformed("unknown format version"));
    }
    let n = usize::from(bytes[5]);
    let header_len = 6 + n;
    if n == 0 || bytes.len() < header_len + NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Malformed("it is too short"));
    }
    let key_id = std::str::from_utf8(&bytes[6..header_len]).map_err(|_| CryptoError::Malformed("key id"))?;
    Ok(Blob {
        key_id,
        header: &bytes[..header_len],
        nonce: &bytes[header_len..header_len + NONCE_LEN],
        ciphertext: &bytes[header_len + NONCE_LEN..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn roundtrip_and_context_binding() {
        let k = KeyCipher::new(random(32).unwrap().expose()).unwrap();
        let c = ctx(&[("b", "2"), ("a", "1")]);
        let blob = k.encrypt("key-1", b"hello", &c).unwrap();
        let parsed = parse_blob(&blob).unwrap();
        assert_eq!(parsed.key_id, "key-1");
        assert_eq!(k.decrypt(&parsed, &c).unwrap().expose(), b"hello");
        // Context: order does not matter, content does.
        assert!(k.decrypt(&parsed, &ctx(&[("a", "1"), ("b", "2")])).is_ok());
        assert!(k.decrypt(&parsed, &ctx(&[("a", "1")])).is_err());
        assert!(k.decrypt(&parsed, &ctx(&[("a", "1"), ("b", "3")])).is_err());
        assert!(k.decrypt(&parsed, &BTreeMap::new()).is_err());
        // Pairs cannot be re-split: {"ab": ""} differs from {"a": "b"}.
        assert_ne!(
            canonical_context(&ctx(&[("ab", "")])),
            canonical_context(&ctx(&[("a", "b")]))
        );
        // Altering the header or the body fails.
        let mut altered = blob.clone();
        altered[7] ^= 1;
        let p = parse_blob(&altered).unwrap();
        assert!(k.decrypt(&p, &c).is_err());
        let mut altered = blob.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(k.decrypt(&parse_blob(&altered).unwrap(), &c).is_err());
        // Another key fails.
        let other = KeyCipher::new(random(32).unwrap().expose()).unwrap();
        assert!(other.decrypt(&parsed, &c).is_err());
    }

    #[test]
    fn malformed_blobs() {
        assert!(parse_blob(b"").is_err());
        assert!(parse_blob(b"XXXX\x01\x01a").is_err());
        assert!(parse_blob(b"PKMS\x02\x01a0123456789012345678901234567").is_err());
        assert!(parse_blob(b"PKMS\x01\x05abc").is_err());
    }

    #[test]
    fn master_key_wraps_material_bound_to_key_id() {
        let dir = std::env::temp_dir().join(format!("porteiro-kms-master-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join(MASTER_KEY_FILE));
        let m = MasterKey::load_or_create(&dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let material = random(32).unwrap();
        let wrapped = m.wrap("k1", &material).unwrap();
        assert!(!wrapped.contains(&base64::engine::general_purpose::STANDARD.encode(material.expose())));
        // Loading again reads the same key.
        let again = MasterKey::load_or_create(&dir).unwrap();
        let cipher = again.unwrap_material("k1", &wrapped).unwrap();
        let blob = cipher.encrypt("k1", b"x", &BTreeMap::new()).unwrap();
        let direct = KeyCipher::new(material.expose()).unwrap();
        assert_eq!(
            direct
                .decrypt(&parse_blob(&blob).unwrap(), &BTreeMap::new())
                .unwrap()
                .expose(),
            b"x"
        );
        // Bound to the key id.
        assert!(again.unwrap_material("k2", &wrapped).is_err());
        std::fs::write(dir.join(MASTER_KEY_FILE), "bad").unwrap();
        assert!(matches!(
            MasterKey::load_or_create(&dir),
            Err(MasterKeyError::Invalid { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
