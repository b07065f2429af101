//! The vault: secrets encrypted at rest with AES-256-GCM under a master key.
//!
//! The master key is 32 random bytes, base64 in a file: `master.key` in the data directory
//! (generated with mode 0600 on first start), a file named by `--master-key-file`, or the
//! `PORTEIRO_MASTER_KEY` environment variable. Each secret gets a fresh 96-bit nonce; a sealed
//! value is base64(nonce ‖ ciphertext ‖ tag). Plaintexts are held in [`Secret`], whose `Debug`
//! never shows them.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::model::Sealed;

/// A secret in clear, in memory only. `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value (for the one place that needs it: a call to the cloud, or a one-time answer).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A vault failure.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The key file could not be read or written.
    #[error("master key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The key is not 32 bytes of base64.
    #[error(
        "the master key from {from} is not 32 bytes in base64 (44 characters): generate one with `head -c 32 /dev/urandom | base64`"
    )]
    BadKey {
        /// Where it came from.
        from: String,
    },
    /// A sealed value does not open under this key.
    #[error("a sealed secret does not open with this master key (wrong key, or the data was altered)")]
    Open,
    /// The system random generator failed.
    #[error("the system random generator failed: {0}")]
    Random(String),
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `master.key` in the data directory, generated (0600) when absent.
    DataDir(PathBuf),
    /// A file that must exist.
    File(PathBuf),
    /// A base64 value (from the environment).
    Value(Secret),
}

/// Encrypts and decrypts secrets under the master key.
#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<key redacted>)")
    }
}

/// `n` random bytes from the system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| VaultError::Random(e.to_string()))?;
    Ok(b)
}

fn decode_key(text: &str, from: &str) -> Result<[u8; 32], VaultError> {
    let bytes = STANDARD.decode(text.trim()).map_err(|_| VaultError::BadKey {
        from: from.to_string(),
    })?;
    bytes.try_into().map_err(|_| VaultError::BadKey {
        from: from.to_string(),
    })
}

impl Vault {
    /// A vault over a raw key.
    pub fn from_key(key: &[u8; 32]) -> Vault {
        let cipher = Aes256Gcm::new(&(*key).into());
        Vault { cipher }
    }

    /// Opens the vault from its key source, generating `master.key` when needed.
    pub fn load(source: &KeySource) -> Result<Vault, VaultError> {
        match source {
            KeySource::Value(v) => Ok(Vault::from_key(&decode_key(v.expose(), "PORTEIRO_MASTER_KEY")?)),
            KeySource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| VaultError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                Ok(Vault::from_key(&decode_key(&text, &path.display().to_string())?))
            }
            KeySource::DataDir(dir) => {
                let path = dir.join("master.key");
                if path.exists() {
                    return Vault::load(&KeySource::File(path));
                }
                let key = random_bytes::<32>()?;
                write_private(&path, &format!("{}\n", STANDARD.encode(key))).map_err(|source| {
                    VaultError::Io {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                Ok(Vault::from_key(&key))
            }
        }
    }

    /// Encrypts a secret.
    pub fn seal(&self, plain: &str) -> Result<Sealed, VaultError> {
        let nonce_bytes = random_bytes::<12>()?;
        let nonce = Nonce::from(nonce_bytes);
        let ct = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| VaultError::Random("encryption failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ct);
        Ok(Sealed(STANDARD.encode(out)))
    }

    /// Decrypts a sealed secret.
    pub fn open(&self, sealed: &Sealed) -> Result<Secret, VaultError> {
        let raw = STANDARD.decode(&sealed.0).map_err(|_| VaultError::Open)?;
        if raw.len() < 12 + 16 {
            return Err(VaultError::Open);
        }
        let (n, ct) = raw.split_at(12);
        let nonce_bytes: [u8; 12] = n.try_into().map_err(|_| VaultError::Open)?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce_bytes), ct)
            .map_err(|_| VaultError::Open)?;
        String::from_utf8(plain).map(Secret).map_err(|_| VaultError::Open)
    }
}

/// Writes a file readable only by its owner, atomically (temp file, fsync, rename).
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_with_fresh_nonces() {
        let v = Vault::from_key(&[7u8; 32]);
        let a = v.seal("wJalrXUtnFEMI/K7MDENG").expect("seal");
        let b = v.seal("wJalrXUtnFEMI/K7MDENG").expect("seal");
        assert_ne!(a, b, "nonces differ");
        assert!(!a.0.contains("wJalr"));
        assert_eq!(v.open(&a).expect("open").expose(), "wJalrXUtnFEMI/K7MDENG");
        assert_eq!(format!("{:?}", v.open(&a).expect("open")), "Secret(<redacted>)");
    }

    #[test]
    fn a_wrong_key_or_altered_data_does_not_open() {
        let v = Vault::from_key(&[7u8; 32]);
        let other = Vault::from_key(&[8u8; 32]);
        let s = v.seal("x").expect("seal");
        assert!(matches!(other.open(&s), Err(VaultError::Open)));
        let mut raw = STANDARD.decode(&s.0).expect("b64");
        raw[14] ^= 1;
        assert!(matches!(
            v.open(&Sealed(STANDARD.encode(raw))),
            Err(VaultError::Open)
        ));
    }

    #[test]
    fn the_master_key_is_generated_0600_once() {
        let dir = std::env::temp_dir().join(format!("porteiro-vault-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let _ = std::fs::remove_file(dir.join("master.key"));
        let v1 = Vault::load(&KeySource::DataDir(dir.clone())).expect("generate");
        let s = v1.seal("secret").expect("seal");
        let v2 = Vault::load(&KeySource::DataDir(dir.clone())).expect("reload");
        assert_eq!(v2.open(&s).expect("open").expose(), "secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("master.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            Vault::load(&KeySource::Value(Secret::new("short"))),
            Err(VaultError::BadKey { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
