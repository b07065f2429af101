//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey (with and without
//! plaintext) and GenerateRandom.

use std::collections::BTreeMap;

use porteiro_iam::Value;
use serde_json::json;

use super::crypto::{self, KeyCipher, Secret};
use super::{Body, Kctx, b64, check_usable, context_keys, kms_error};
use crate::authz::Ask;
use crate::model::KmsKey;
use crate::protocol::ApiError;

/// Largest plaintext `Encrypt` takes (bytes).
pub const MAX_PLAINTEXT: usize = 4096;
/// Largest ciphertext blob `Decrypt` takes (bytes).
pub const MAX_CIPHERTEXT: usize = 6144;
/// Largest data key or random string (bytes).
pub const MAX_DATA_KEY: i64 = 1024;

const ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];

/// Checks `EncryptionAlgorithm` (only `SYMMETRIC_DEFAULT` fits a symmetric key).
fn check_algorithm(body: &Body, name: &str) -> Result<(), ApiError> {
    match body.str(name)? {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(a) if ALGORITHMS.contains(&a) => Err(kms_error(
            "InvalidKeyUsageException",
            format!("{a} is not a supported encryption algorithm for a symmetric key: use SYMMETRIC_DEFAULT"),
        )),
        Some(a) => Err(kms_error(
            "ValidationException",
            format!(
                "1 validation error detected: Value '{a}' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                ALGORITHMS.join(", ")
            ),
        )),
    }
}

fn dry_run(body: &Body) -> Result<(), ApiError> {
    if body.bool("DryRun")? == Some(true) {
        return Err(kms_error(
            "DryRunOperationException",
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

/// The key's material, unwrapped from the master key.
fn cipher(k: &Kctx<'_>, key: &KmsKey) -> Result<KeyCipher, ApiError> {
    k.cloud
        .kms_master
        .unwrap_material(&key.id, &key.material.0)
        .map_err(|e| ApiError::internal(format!("KMS key {}: {e}", key.arn())))
}

fn crypto_keys(context: &BTreeMap<String, String>) -> Vec<(String, Value)> {
    let mut extra = context_keys(context);
    extra.push(("kms:EncryptionAlgorithm".into(), Value::from("SYMMETRIC_DEFAULT")));
    extra
}

fn encrypt_with(
    k: &Kctx<'_>,
    key: &KmsKey,
    plaintext: &[u8],
    context: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ApiError> {
    cipher(k, key)?
        .encrypt(&key.id, plaintext, context)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `Encrypt`.
pub fn encrypt(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let key_id = body.required("KeyId")?;
    let plaintext = Secret::new(
        body.blob("Plaintext", 1, MAX_PLAINTEXT)?
            .ok_or_else(|| missing("Plaintext"))?,
    );
    let context = body.context("EncryptionContext")?;
    check_algorithm(body, "EncryptionAlgorithm")?;
    let found = k.find_key(key_id, true)?;
    k.authorize_key(
        "kms:Encrypt",
        &found.key,
        found.alias.as_deref(),
        crypto_keys(&context),
    )?;
    dry_run(body)?;
    check_usable(&found.key)?;
    let blob = encrypt_with(k, &found.key, plaintext.expose(), &context)?;
    Ok(json!({
        "CiphertextBlob": b64(&blob),
        "KeyId": found.key.arn(),
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }))
}

fn missing(name: &str) -> ApiError {
    kms_error(
        "ValidationException",
        format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            super::lower_first(name)
        ),
    )
}

fn invalid_ciphertext() -> ApiError {
    kms_error(
        "InvalidCiphertextException",
        "The ciphertext could not be decrypted: it was not produced by this cloud's KMS, it was altered, or the encryption context differs from the one it was encrypted with.",
    )
}

/// Decrypts a blob for the caller: finds the key it names, checks `key_id` when given,
/// authorizes `action` (`kms:Decrypt` or `kms:ReEncryptFrom`), checks the key state.
pub fn decrypt_blob_as(
    k: &Kctx<'_>,
    action: &str,
    blob: &[u8],
    context: &BTreeMap<String, String>,
    key_id: Option<&str>,
    dry: Option<&Body>,
) -> Result<(Secret, KmsKey), ApiError> {
    let parsed = crypto::parse_blob(blob).map_err(|_| invalid_ciphertext())?;
    let key = k
        .live_key(parsed.key_id)
        .filter(|key| key.region == k.region())
        .cloned()
        .ok_or_else(|| {
            kms_error(
                "AccessDeniedException",
                "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
            )
        })?;
    let mut alias = None;
    if let Some(id) = key_id {
        let found = k.find_key(id, true)?;
        if found.key.id != key.id {
            return Err(kms_error(
                "IncorrectKeyException",
                format!(
                    "The key ID in the request does not identify a CMK that can perform this operation: the ciphertext was encrypted under {}, not {}",
                    key.arn(),
                    found.key.arn()
                ),
            ));
        }
        alias = found.alias;
    }
    k.authorize_key(action, &key, alias.as_deref(), crypto_keys(context))?;
    if let Some(body) = dry {
        dry_run(body)?;
    }
    check_usable(&key)?;
    let plaintext = cipher(k, &key)?
        .decrypt(&parsed, context)
        .map_err(|_| invalid_ciphertext())?;
    Ok((plaintext, key))
}

/// Decrypt for the in-process API.
pub fn decrypt_blob(
    k: &Kctx<'_>,
    blob: &[u8],
    context: &BTreeMap<String, String>,
    key_id: Option<&str>,
) -> Result<(Secret, KmsKey), ApiError> {
    decrypt_blob_as(k, "kms:Decrypt", blob, context, key_id, None)
}

/// `Decrypt` (`KeyId` optional: the blob names its key).
pub fn decrypt(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let blob = body
        .blob("CiphertextBlob", 1, MAX_CIPHERTEXT)?
        .ok_or_else(|| missing("CiphertextBlob"))?;
    let context = body.context("EncryptionContext")?;
    check_algorithm(body, "EncryptionAlgorithm")?;
    let key_id = body.str("KeyId")?;
    let (plaintext, key) = decrypt_blob_as(k, "kms:Decrypt", &blob, &context, key_id, Some(body))?;
    Ok(json!({
        "Plaintext": b64(plaintext.expose()),
        "KeyId": key.arn(),
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }))
}

/// `ReEncrypt` (`kms:ReEncryptFrom` on the source key, `kms:ReEncryptTo` on the destination).
pub fn re_encrypt(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let blob = body
        .blob("CiphertextBlob", 1, MAX_CIPHERTEXT)?
        .ok_or_else(|| missing("CiphertextBlob"))?;
    let source_context = body.context("SourceEncryptionContext")?;
    let dest_context = body.context("DestinationEncryptionContext")?;
    let dest_id = body.required("DestinationKeyId")?;
    check_algorithm(body, "SourceEncryptionAlgorithm")?;
    check_algorithm(body, "DestinationEncryptionAlgorithm")?;
    let (plaintext, source) = decrypt_blob_as(
        k,
        "kms:ReEncryptFrom",
        &blob,
        &source_context,
        body.str("SourceKeyId")?,
        None,
    )?;
    let dest = k.find_key(dest_id, true)?;
    k.authorize_key(
        "kms:ReEncryptTo",
        &dest.key,
        dest.alias.as_deref(),
        crypto_keys(&dest_context),
    )?;
    dry_run(body)?;
    check_usable(&dest.key)?;
    let out = encrypt_with(k, &dest.key, plaintext.expose(), &dest_context)?;
    Ok(json!({
        "CiphertextBlob": b64(&out),
        "SourceKeyId": source.arn(),
        "KeyId": dest.key.arn(),
        "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }))
}

/// Generates a data key: (plaintext when asked, ciphertext blob, key).
pub fn generate(
    k: &Kctx<'_>,
    body: &Body,
    with_plaintext: bool,
) -> Result<(Option<Secret>, Vec<u8>, KmsKey), ApiError> {
    let key_id = body.required("KeyId")?;
    let spec = body.str("KeySpec")?;
    let number = body.int_range("NumberOfBytes", 1, MAX_DATA_KEY)?;
    let len = match (spec, number) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(kms_error(
                "ValidationException",
                "Please specify either number of bytes or key spec.",
            ));
        }
        (Some("AES_256"), None) => 32,
        (Some("AES_128"), None) => 16,
        (Some(s), None) => {
            return Err(kms_error(
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{s}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
                ),
            ));
        }
        (None, Some(n)) => usize::try_from(n).unwrap_or(32),
    };
    let context = body.context("EncryptionContext")?;
    if body.0.contains_key("Recipient") {
        return Err(kms_error(
            "UnsupportedOperationException",
            "Porteiro's embedded KMS does not support Recipient (Nitro Enclaves attestation)",
        ));
    }
    let found = k.find_key(key_id, true)?;
    let action = if with_plaintext {
        "kms:GenerateDataKey"
    } else {
        "kms:GenerateDataKeyWithoutPlaintext"
    };
    let mut extra = crypto_keys(&context);
    if let Some(s) = spec {
        extra.push(("kms:DataKeySpec".into(), Value::from(s)));
    }
    k.authorize_key(action, &found.key, found.alias.as_deref(), extra)?;
    dry_run(body)?;
    check_usable(&found.key)?;
    let data_key = crypto::random(len).map_err(|e| ApiError::internal(e.to_string()))?;
    let blob = encrypt_with(k, &found.key, data_key.expose(), &context)?;
    Ok((with_plaintext.then_some(data_key), blob, found.key))
}

/// `GenerateDataKey` / `GenerateDataKeyWithoutPlaintext`.
pub fn generate_data_key(
    k: &Kctx<'_>,
    body: &Body,
    with_plaintext: bool,
) -> Result<serde_json::Value, ApiError> {
    let (plaintext, blob, key) = generate(k, body, with_plaintext)?;
    let mut doc = json!({ "CiphertextBlob": b64(&blob), "KeyId": key.arn() });
    if let Some(p) = plaintext {
        doc["Plaintext"] = json!(b64(p.expose()));
    }
    Ok(doc)
}

/// `GenerateRandom`.
pub fn generate_random(k: &Kctx<'_>, body: &Body) -> Result<serde_json::Value, ApiError> {
    let n = body
        .int_range("NumberOfBytes", 1, MAX_DATA_KEY)?
        .ok_or_else(|| missing("NumberOfBytes"))?;
    if body.str("CustomKeyStoreId")?.is_some() {
        return Err(kms_error(
            "UnsupportedOperationException",
            "Porteiro's embedded KMS has no custom key stores",
        ));
    }
    k.authorize_plain(Ask::new("kms:GenerateRandom", "*"))?;
    let bytes =
        crypto::random(usize::try_from(n).unwrap_or(32)).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json!({ "Plaintext": b64(bytes.expose()) }))
}
