//! SSE-KMS: envelope encryption of object data.
//!
//! On `PutObject` (and `CompleteMultipartUpload`, `CopyObject`) of an `aws:kms` object, S3 asks
//! KMS for a data key and on `GetObject` asks KMS to decrypt it, each **as a forward access
//! session of the caller**: the KMS request is the caller's, made by `s3.amazonaws.com`
//! (`aws:CalledVia` = [`s3.amazonaws.com`], `aws:ViaAWSService` = true, `kms:ViaService` =
//! `s3.REGION.amazonaws.com`, the VPC keys dropped, `aws:SourceIp` kept) with the encryption
//! context `aws:s3:arn` = the object's ARN. So the caller needs permission on both the object
//! and the key, and a key policy can allow or deny by `aws:CalledVia`.
//!
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html>
//!
//! The data file of an SSE-KMS object is the plaintext cut into 64 KiB chunks, each sealed with
//! AES-256-GCM under the object's data key; chunk `i`'s nonce is `i` (big-endian, 12 bytes),
//! which is safe because every object gets a fresh data key, and its associated data is the
//! chunk index and whether it is the last chunk (so chunks can be neither reordered nor cut off).
//! A range read decrypts only the chunks it touches. Only the KMS-wrapped data key is stored
//! with the object's metadata.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine as _;

use super::store::Sse;
use super::{Ctx, S3Error};
use crate::kms::Secret;
use crate::protocol::ApiError;

/// Plaintext bytes per sealed chunk.
pub(crate) const CHUNK: usize = 64 * 1024;
/// GCM tag bytes added to each chunk.
const TAG: usize = 16;
/// The service that makes the forward access session.
const S3_SERVICE: &str = "s3.amazonaws.com";

/// True when the object's data is encrypted with a KMS data key.
pub(crate) fn is_kms(sse: Option<&Sse>) -> bool {
    sse.is_some_and(|s| s.algorithm.starts_with("aws:kms"))
}

fn context(bucket: &str, key: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("aws:s3:arn".to_string(), format!("arn:aws:s3:::{bucket}/{key}"))])
}

/// A KMS refusal as S3 reports it: AccessDenied stays AccessDenied (with KMS's message), other
/// KMS errors are `KMS.<Code>`.
fn kms_error(e: ApiError) -> S3Error {
    let code = e.code.trim_end_matches("Exception");
    if e.status == 403 || code == "AccessDenied" {
        return S3Error::new(403, "AccessDenied", e.message);
    }
    match code {
        "NotFound" => S3Error::new(400, "KMS.NotFoundException", e.message),
        "Disabled" => S3Error::new(400, "KMS.DisabledException", e.message),
        "KMSInvalidState" => S3Error::new(400, "KMS.KMSInvalidStateException", e.message),
        _ => S3Error::new(400, &format!("KMS.{}", e.code), e.message),
    }
}

/// Asks KMS for a new data key for `bucket/key` as the caller (a forward access session); fills
/// in the key ARN and the wrapped key of `sse`.
pub(crate) fn new_data_key(ctx: &Ctx<'_>, sse: &mut Sse, bucket: &str, key: &str) -> Result<Secret, S3Error> {
    let caller = ctx.caller()?;
    let info = ctx.info.forwarded_by(S3_SERVICE);
    let dk = crate::kms::generate_data_key_for(
        ctx.cloud,
        &ctx.state,
        caller,
        &info,
        sse.kms_key_id.as_deref(),
        &context(bucket, key),
    )
    .map_err(kms_error)?;
    sse.kms_key_id = Some(dk.key_arn);
    sse.encrypted_data_key = Some(base64::engine::general_purpose::STANDARD.encode(&dk.ciphertext_blob));
    sse.context = None;
    Ok(dk.plaintext)
}

/// Asks KMS to decrypt the object's data key as the caller (a forward access session).
pub(crate) fn data_key(ctx: &Ctx<'_>, sse: &Sse, bucket: &str, key: &str) -> Result<Secret, S3Error> {
    let caller = ctx.caller()?;
    let blob = sse
        .encrypted_data_key
        .as_deref()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| {
            S3Error::new(
                500,
                "InternalError",
                "the object is marked SSE-KMS but has no wrapped data key",
            )
        })?;
    let info = ctx.info.forwarded_by(S3_SERVICE);
    let d = crate::kms::decrypt_for(ctx.cloud, &ctx.state, caller, &info, &blob, &context(bucket, key))
        .map_err(kms_error)?;
    Ok(d.plaintext)
}

fn cipher(key: &Secret) -> std::io::Result<Aes256Gcm> {
    Aes256Gcm::new_from_slice(key.expose()).map_err(|_| std::io::Error::other("the data key is not 256 bits"))
}

fn nonce(index: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&index.to_be_bytes());
    n
}

fn aad(index: u64, last: bool) -> [u8; 9] {
    let mut a = [0u8; 9];
    a[..8].copy_from_slice(&index.to_be_bytes());
    a[8] = u8::from(last);
    a
}

/// Encrypts the plaintext file `src` of `size` bytes into `dst` (fsynced).
pub(crate) fn encrypt_file(src: &Path, dst: &Path, size: u64, key: &Secret) -> std::io::Result<()> {
    let cipher = cipher(key)?;
    let mut input = std::io::BufReader::with_capacity(CHUNK, std::fs::File::open(src)?);
    let mut out = std::io::BufWriter::with_capacity(CHUNK + TAG, std::fs::File::create(dst)?);
    let chunks = size.div_ceil(CHUNK as u64).max(1);
    let mut buf = vec![0u8; CHUNK];
    for index in 0..chunks {
        let want = usize::try_from((size - index * CHUNK as u64).min(CHUNK as u64)).unwrap_or(CHUNK);
        input.read_exact(&mut buf[..want])?;
        let sealed = cipher
            .encrypt(
                (&nonce(index)).into(),
                Payload {
                    msg: &buf[..want],
                    aad: &aad(index, index + 1 == chunks),
                },
            )
            .map_err(|_| std::io::Error::other("sealing a chunk failed"))?;
        out.write_all(&sealed)?;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Decrypts plaintext bytes `start..start+len` of an object of `size` bytes from its data file,
/// handing them to `each` one chunk at a time (`each` returns false to stop early). Only the
/// chunks the range touches are read. A chunk that does not open (a changed byte, a swapped or
/// cut chunk) is an error.
pub(crate) fn decrypt_range_each(
    path: &Path,
    size: u64,
    key: &Secret,
    start: u64,
    len: u64,
    mut each: impl FnMut(&[u8]) -> std::io::Result<bool>,
) -> std::io::Result<()> {
    let cipher = cipher(key)?;
    let chunks = size.div_ceil(CHUNK as u64).max(1);
    if len == 0 {
        return Ok(());
    }
    let mut file = std::fs::File::open(path)?;
    let first = start / CHUNK as u64;
    let last = (start + len - 1) / CHUNK as u64;
    file.seek(SeekFrom::Start(first * (CHUNK + TAG) as u64))?;
    let mut buf = vec![0u8; CHUNK + TAG];
    for index in first..=last {
        let plain_len = usize::try_from((size - index * CHUNK as u64).min(CHUNK as u64)).unwrap_or(CHUNK);
        let sealed = &mut buf[..plain_len + TAG];
        file.read_exact(sealed)?;
        let plain = cipher
            .decrypt(
                (&nonce(index)).into(),
                Payload {
                    msg: sealed,
                    aad: &aad(index, index + 1 == chunks),
                },
            )
            .map_err(|_| {
                std::io::Error::other(format!("chunk {index} of the object's data does not open"))
            })?;
        let chunk_start = index * CHUNK as u64;
        let from = usize::try_from(start.saturating_sub(chunk_start)).unwrap_or(0);
        let to = usize::try_from((start + len - chunk_start).min(plain.len() as u64)).unwrap_or(plain.len());
        if !each(plain.get(from..to).unwrap_or_default())? {
            break;
        }
    }
    Ok(())
}

/// [`decrypt_range_each`] into one buffer (tests and small ranges).
#[cfg(test)]
pub(crate) fn decrypt_range(
    path: &Path,
    size: u64,
    key: &Secret,
    start: u64,
    len: u64,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    decrypt_range_each(path, size, key, start, len, |b| {
        out.extend_from_slice(b);
        Ok(true)
    })?;
    Ok(out)
}

/// Streams the decrypted range as a response body: a blocking task opens chunk after chunk and
/// hands them over a small channel, so an object is never held whole in memory.
pub(crate) fn stream_range(
    path: std::path::PathBuf,
    size: u64,
    key: Secret,
    start: u64,
    len: u64,
) -> super::body::FileBody {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let sent = decrypt_range_each(&path, size, &key, start, len, |plain| {
            Ok(tx.blocking_send(Ok(bytes::Bytes::copy_from_slice(plain))).is_ok())
        });
        if let Err(e) = sent {
            let _ = tx.blocking_send(Err(e));
        }
    });
    super::body::FileBody::from_channel(rx, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Secret {
        Secret::new(vec![7u8; 32])
    }

    #[test]
    fn roundtrip_ranges_and_tampering() {
        let dir = std::env::temp_dir().join(format!("porteiro-sse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for size in [0u64, 1, CHUNK as u64 - 1, CHUNK as u64, 3 * CHUNK as u64 + 17] {
            let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let (src, dst) = (dir.join("p"), dir.join("c"));
            std::fs::write(&src, &plain).unwrap();
            encrypt_file(&src, &dst, size, &key()).unwrap();
            let stored = std::fs::read(&dst).unwrap();
            assert_eq!(
                stored.len() as u64,
                size + TAG as u64 * size.div_ceil(CHUNK as u64).max(1)
            );
            assert_eq!(decrypt_range(&dst, size, &key(), 0, size).unwrap(), plain);
            if size > 10 {
                let (a, b) = (size / 3, size - 2);
                assert_eq!(
                    decrypt_range(&dst, size, &key(), a, b - a + 1).unwrap(),
                    plain[a as usize..=b as usize]
                );
                let mut bad = stored.clone();
                bad[5] ^= 1;
                std::fs::write(&dst, &bad).unwrap();
                assert!(decrypt_range(&dst, size, &key(), 0, size).is_err());
            }
            assert!(
                decrypt_range(&dst, size, &Secret::new(vec![8u8; 32]), 0, size.min(1)).is_err() || size == 0
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
