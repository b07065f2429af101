//! In-process tests of KMS operations and of the forward-access-session API.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Value as Json, json};

use super::*;
use crate::authz::VpcEndpoint;
use crate::model::{AccessKey, KeyOwner, User};
use crate::{CloudConfig, RootCredentials};

const ACCOUNT: &str = "123456789012";
const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";

struct Env {
    cloud: Cloud,
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn env() -> Env {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("porteiro-kms-unit-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (cloud, _) = Cloud::open(&CloudConfig {
        data_dir: dir.clone(),
        account_id: Some(ACCOUNT.into()),
        root_credentials: Some(RootCredentials {
            access_key_id: ROOT_AK.into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        }),
    })
    .unwrap();
    Env { cloud, dir }
}

impl Env {
    fn caller(&self, ak: &str) -> Caller {
        let state = self.cloud.shared.snapshot();
        authz::resolve(&state, ak, None, self.cloud.now()).unwrap().0
    }

    fn root(&self) -> Caller {
        self.caller(ROOT_AK)
    }

    /// An IAM user with an access key and optional inline policy.
    fn user(&self, name: &str, policy: Option<Json>) -> Caller {
        let ak = format!("AKIA{:0>16}", name.to_uppercase());
        let now = self.cloud.now();
        self.cloud
            .shared
            .mutate(|tx| {
                let mut inline = BTreeMap::new();
                if let Some(p) = &policy {
                    inline.insert("p".to_string(), p.to_string());
                }
                tx.put(User {
                    account: ACCOUNT.into(),
                    name: name.into(),
                    path: "/".into(),
                    id: format!("AIDA{name}"),
                    created: now,
                    tags: Vec::new(),
                    inline,
                    attached: Vec::new(),
                    boundary: None,
                });
                tx.put(AccessKey {
                    account: ACCOUNT.into(),
                    owner: KeyOwner::User(name.into()),
                    id: ak.clone(),
                    secret: "secretsecretsecret".into(),
                    active: true,
                    created: now,
                });
                Ok::<_, ApiError>(())
            })
            .unwrap();
        self.caller(&ak)
    }

    fn info(&self) -> RequestInfo {
        RequestInfo::direct(
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)),
            "us-east-1",
            self.cloud.now(),
        )
    }

    fn call(&self, caller: &Caller, info: &RequestInfo, op: &str, body: Json) -> Result<Json, ApiError> {
        purge_expired(&self.cloud, info.now)?;
        let k = Kctx {
            cloud: &self.cloud,
            state: self.cloud.shared.snapshot(),
            caller,
            info,
        };
        dispatch(&k, op, &Body::from_value(body)).map_err(to_kms)
    }

    fn root_call(&self, op: &str, body: Json) -> Result<Json, ApiError> {
        self.call(&self.root(), &self.info(), op, body)
    }

    /// A key created by root with `policy` (lockout check bypassed).
    fn key(&self, policy: Option<Json>) -> String {
        let mut body = json!({"Description": "t"});
        if let Some(p) = policy {
            body["Policy"] = json!(p.to_string());
            body["BypassPolicyLockoutSafetyCheck"] = json!(true);
        }
        let r = self.root_call("CreateKey", body).unwrap();
        r["KeyMetadata"]["Arn"].as_str().unwrap().to_string()
    }

    fn state(&self) -> Arc<State> {
        self.cloud.shared.snapshot()
    }
}

fn s3_context() -> BTreeMap<String, String> {
    BTreeMap::from([("aws:s3:arn".to_string(), "arn:aws:s3:::bkt/obj".to_string())])
}

fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

fn root_admin() -> Json {
    json!({"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
           "Action": ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy"], "Resource": "*"})
}

#[test]
fn master_key_file_and_material_at_rest() {
    let e = env();
    let arn = e.key(None);
    let id = arn.rsplit('/').next().unwrap();
    let key = e.state().kms_keys.get(id).cloned().unwrap();
    // The stored row holds wrapped material only, and Debug prints none of it.
    assert!(!format!("{key:?}").contains(&key.material.0));
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(e.dir.join(crypto::MASTER_KEY_FILE))
            .unwrap()
            .permissions()
            .mode()
    };
    assert_eq!(mode & 0o777, 0o600);
    // The material decrypts under the master key, bound to the key id.
    assert!(e.cloud.kms_master.unwrap_material(id, &key.material.0).is_ok());
    assert!(
        e.cloud
            .kms_master
            .unwrap_material("other", &key.material.0)
            .is_err()
    );
}

#[test]
fn forwarded_call_allowed_by_called_via_direct_denied() {
    let e = env();
    let alice = e.user("alice", None);
    let arn = e.key(Some(json!({"Version": "2012-10-17", "Statement": [
        root_admin(),
        {"Sid": "via-s3", "Effect": "Allow", "Principal": {"AWS": user_arn("alice")},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"], "Resource": "*",
         "Condition": {"ForAnyValue:StringEquals": {"aws:CalledVia": "s3.amazonaws.com"}}}
    ]})));
    let direct = e.info();
    let fwd = direct.forwarded_by("s3.amazonaws.com");
    let state = e.state();
    let dk = generate_data_key_for(&e.cloud, &state, &alice, &fwd, Some(&arn), &s3_context()).unwrap();
    assert_eq!(dk.plaintext.expose().len(), 32);
    assert_eq!(dk.key_arn, arn);
    let back = decrypt_for(&e.cloud, &state, &alice, &fwd, &dk.ciphertext_blob, &s3_context()).unwrap();
    assert_eq!(back.plaintext.expose(), dk.plaintext.expose());
    // The same caller directly: denied, with AWS's KMS wording.
    let err = decrypt_for(
        &e.cloud,
        &state,
        &alice,
        &direct,
        &dk.ciphertext_blob,
        &s3_context(),
    )
    .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    assert_eq!(
        err.message,
        format!(
            "User: {} is not authorized to perform: kms:Decrypt on resource: {arn} because no resource-based policy allows the kms:Decrypt action",
            user_arn("alice")
        )
    );
    let err = e
        .call(
            &alice,
            &direct,
            "Encrypt",
            json!({"KeyId": arn, "Plaintext": b64(b"x")}),
        )
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    // Wrong context through the service: the ciphertext does not authenticate.
    let mut other = s3_context();
    other.insert("aws:s3:arn".into(), "arn:aws:s3:::bkt/other".into());
    let err = decrypt_for(&e.cloud, &state, &alice, &fwd, &dk.ciphertext_blob, &other).unwrap_err();
    assert_eq!(err.code, "InvalidCiphertextException");
}

#[test]
fn deny_via_aws_service_denies_forwarded_only() {
    let e = env();
    let root = e.root();
    let mut policy: Json = serde_json::from_str(&policy::default_key_policy(ACCOUNT)).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "no-services", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
        "Condition": {"Bool": {"aws:ViaAWSService": "true"}}
    }));
    let arn = e.key(Some(policy));
    let direct = e.info();
    let fwd = direct.forwarded_by("s3.amazonaws.com");
    let err =
        generate_data_key_for(&e.cloud, &e.state(), &root, &fwd, Some(&arn), &s3_context()).unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    assert!(
        err.message
            .contains("with an explicit deny in a resource-based policy"),
        "{}",
        err.message
    );
    assert!(generate_data_key_for(&e.cloud, &e.state(), &root, &direct, Some(&arn), &s3_context()).is_ok());
}

#[test]
fn vpc_keys_absent_on_the_hop_called_via_present() {
    let e = env();
    let alice = e.user("alice", None);
    let arn = e.key(Some(json!({"Version": "2012-10-17", "Statement": [
        root_admin(),
        // Allowed only when no VPC key is present and the call came through S3.
        {"Effect": "Allow", "Principal": {"AWS": user_arn("alice")},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
         "Condition": {"Null": {"aws:SourceVpc": "true", "aws:SourceVpce": "true", "aws:VpcSourceIp": "true"},
                       "ForAnyValue:StringEquals": {"aws:CalledVia": "s3.amazonaws.com"},
                       "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com",
                                        "kms:CallerAccount": ACCOUNT,
                                        "aws:CalledViaFirst": "s3.amazonaws.com"},
                       "StringLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::bkt/*"}}},
        // The VPC request itself would be denied here: this deny never fires on the hop.
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-111"}}}
    ]})));
    let mut through_vpc = e.info();
    through_vpc.vpc = Some(VpcEndpoint {
        endpoint_id: "vpce-222".into(),
        vpc_id: "vpc-111".into(),
    });
    let fwd = through_vpc.forwarded_by("s3.amazonaws.com");
    let dk = generate_data_key_for(&e.cloud, &e.state(), &alice, &fwd, Some(&arn), &s3_context()).unwrap();
    assert!(
        decrypt_for(
            &e.cloud,
            &e.state(),
            &alice,
            &fwd,
            &dk.ciphertext_blob,
            &s3_context()
        )
        .is_ok()
    );
    // The direct call through the VPC carries the VPC keys: denied explicitly.
    let err = decrypt_for(
        &e.cloud,
        &e.state(),
        &alice,
        &through_vpc,
        &dk.ciphertext_blob,
        &s3_context(),
    )
    .unwrap_err();
    assert!(err.message.contains("explicit deny"), "{}", err.message);
    // Another object's context does not match the policy's StringLike.
    let other = BTreeMap::from([("aws:s3:arn".to_string(), "arn:aws:s3:::other/obj".to_string())]);
    let err = generate_data_key_for(&e.cloud, &e.state(), &alice, &fwd, Some(&arn), &other).unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
}

#[test]
fn caller_without_kms_decrypt_is_denied_on_the_hop() {
    let e = env();
    let bob = e.user(
        "bob",
        Some(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": "*"}]})),
    );
    let arn = e.key(None);
    let fwd = e.info().forwarded_by("s3.amazonaws.com");
    let dk = generate_data_key_for(&e.cloud, &e.state(), &bob, &fwd, Some(&arn), &s3_context()).unwrap();
    let err = decrypt_for(
        &e.cloud,
        &e.state(),
        &bob,
        &fwd,
        &dk.ciphertext_blob,
        &s3_context(),
    )
    .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    assert!(
        err.message
            .contains("because no identity-based policy allows the kms:Decrypt action"),
        "{}",
        err.message
    );
}

#[test]
fn aws_managed_key_is_created_and_usable_only_through_the_service() {
    let e = env();
    let alice = e.user("alice", None);
    let fwd = e.info().forwarded_by("s3.amazonaws.com");
    let dk = generate_data_key_for(&e.cloud, &e.state(), &alice, &fwd, None, &s3_context()).unwrap();
    let again = generate_data_key_for(&e.cloud, &e.state(), &alice, &fwd, None, &s3_context()).unwrap();
    assert_eq!(dk.key_arn, again.key_arn, "one aws/s3 key per account and region");
    assert!(
        decrypt_for(
            &e.cloud,
            &e.state(),
            &alice,
            &fwd,
            &dk.ciphertext_blob,
            &s3_context()
        )
        .is_ok()
    );
    let d = e
        .root_call("DescribeKey", json!({"KeyId": "alias/aws/s3"}))
        .unwrap();
    assert_eq!(d["KeyMetadata"]["KeyManager"], "AWS");
    assert_eq!(d["KeyMetadata"]["Arn"], dk.key_arn.as_str());
    // Directly, even root cannot use it nor change its policy.
    let err = e
        .root_call(
            "Encrypt",
            json!({"KeyId": "alias/aws/s3", "Plaintext": b64(b"x")}),
        )
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    let err = e
        .root_call("DisableKey", json!({"KeyId": dk.key_arn}))
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    let err = e
        .root_call("DeleteAlias", json!({"AliasName": "alias/aws/s3"}))
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
}

#[test]
fn lifecycle_and_states() {
    let e = env();
    let arn = e.key(None);
    let enc = e
        .root_call("Encrypt", json!({"KeyId": arn, "Plaintext": b64(b"hi")}))
        .unwrap();
    let blob = enc["CiphertextBlob"].clone();
    e.root_call("DisableKey", json!({"KeyId": arn})).unwrap();
    let err = e
        .root_call("Decrypt", json!({"CiphertextBlob": blob}))
        .unwrap_err();
    assert_eq!(err.code, "DisabledException");
    e.root_call("EnableKey", json!({"KeyId": arn})).unwrap();
    let err = e
        .root_call(
            "ScheduleKeyDeletion",
            json!({"KeyId": arn, "PendingWindowInDays": 6}),
        )
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    let s = e
        .root_call(
            "ScheduleKeyDeletion",
            json!({"KeyId": arn, "PendingWindowInDays": 7}),
        )
        .unwrap();
    assert_eq!(s["KeyState"], "PendingDeletion");
    let err = e
        .root_call("Decrypt", json!({"CiphertextBlob": blob}))
        .unwrap_err();
    assert_eq!(err.code, "KMSInvalidStateException");
    let err = e.root_call("EnableKey", json!({"KeyId": arn})).unwrap_err();
    assert_eq!(err.code, "KMSInvalidStateException");
    e.root_call("CancelKeyDeletion", json!({"KeyId": arn})).unwrap();
    let d = e.root_call("DescribeKey", json!({"KeyId": arn})).unwrap();
    assert_eq!(d["KeyMetadata"]["KeyState"], "Disabled");
    e.root_call(
        "ScheduleKeyDeletion",
        json!({"KeyId": arn, "PendingWindowInDays": 7}),
    )
    .unwrap();
    e.root_call("CreateAlias", json!({"AliasName": "alias/x", "TargetKeyId": arn}))
        .unwrap_err();
    // Past the window, the key and its aliases are gone.
    e.cloud.advance_clock(7 * 86_400 + 1);
    let err = e.root_call("DescribeKey", json!({"KeyId": arn})).unwrap_err();
    assert_eq!(err.code, "NotFoundException");
    let err = e
        .root_call("Decrypt", json!({"CiphertextBlob": blob}))
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    assert!(e.state().kms_keys.is_empty());
}

#[test]
fn lockout_safety_check() {
    let e = env();
    let alice = e.user(
        "alice",
        Some(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})),
    );
    e.user("bob", None);
    let only_bob = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn("bob")}, "Action": "kms:*", "Resource": "*"}]});
    // A principal that does not exist is refused, as AWS does.
    let ghost = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [user_arn("alice"), user_arn("ghost")]}, "Action": "kms:*", "Resource": "*"}]});
    let err = e
        .call(
            &alice,
            &e.info(),
            "CreateKey",
            json!({"Policy": ghost.to_string()}),
        )
        .unwrap_err();
    assert_eq!(err.code, "MalformedPolicyDocumentException");
    assert!(err.message.contains("invalid principals"), "{}", err.message);
    let err = e
        .call(
            &alice,
            &e.info(),
            "CreateKey",
            json!({"Policy": only_bob.to_string()}),
        )
        .unwrap_err();
    assert_eq!(err.code, "MalformedPolicyDocumentException");
    assert!(err.message.starts_with(policy::LOCKOUT_MESSAGE));
    // The default policy lets alice (IAM allows) manage it; PutKeyPolicy checks too.
    let created = e.call(&alice, &e.info(), "CreateKey", json!({})).unwrap();
    let arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let err = e
        .call(
            &alice,
            &e.info(),
            "PutKeyPolicy",
            json!({"KeyId": arn, "Policy": only_bob.to_string()}),
        )
        .unwrap_err();
    assert_eq!(err.code, "MalformedPolicyDocumentException");
    e.call(
        &alice,
        &e.info(),
        "PutKeyPolicy",
        json!({"KeyId": arn, "Policy": only_bob.to_string(), "BypassPolicyLockoutSafetyCheck": true}),
    )
    .unwrap();
    // Now locked out: IAM policies no longer count.
    let err = e
        .call(&alice, &e.info(), "DescribeKey", json!({"KeyId": arn}))
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    let err = e
        .call(
            &alice,
            &e.info(),
            "PutKeyPolicy",
            json!({"KeyId": arn, "Policy": "{"}),
        )
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
}

#[test]
fn validation_errors() {
    let e = env();
    let arn = e.key(None);
    let err = e
        .root_call("CreateKey", json!({"KeySpec": "RSA_2048"}))
        .unwrap_err();
    assert_eq!(err.code, "UnsupportedOperationException");
    let err = e.root_call("CreateKey", json!({"KeySpec": "NOPE"})).unwrap_err();
    assert_eq!(err.code, "ValidationException");
    let err = e
        .root_call("CreateKey", json!({"Policy": "{\"Statement\": 3}"}))
        .unwrap_err();
    assert_eq!(err.code, "MalformedPolicyDocumentException");
    let err = e.root_call("GenerateDataKey", json!({"KeyId": arn})).unwrap_err();
    assert_eq!(err.message, "Please specify either number of bytes or key spec.");
    let ok = e
        .root_call("GenerateDataKey", json!({"KeyId": arn, "NumberOfBytes": 64}))
        .unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(ok["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        64
    );
    let err = e
        .root_call("Encrypt", json!({"KeyId": arn, "Plaintext": b64(&[0u8; 4097])}))
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    let err = e
        .root_call(
            "Decrypt",
            json!({"CiphertextBlob": b64(b"garbage-garbage-garbage-garbage")}),
        )
        .unwrap_err();
    assert_eq!(err.code, "InvalidCiphertextException");
    let err = e
        .root_call("CreateAlias", json!({"AliasName": "x", "TargetKeyId": arn}))
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    let err = e
        .root_call(
            "CreateAlias",
            json!({"AliasName": "alias/aws/mine", "TargetKeyId": arn}),
        )
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    let err = e
        .root_call("GetKeyPolicy", json!({"KeyId": arn, "PolicyName": "x"}))
        .unwrap_err();
    assert_eq!(err.code, "NotFoundException");
    let r = e
        .root_call("GenerateRandom", json!({"NumberOfBytes": 16}))
        .unwrap();
    assert!(r["Plaintext"].is_string());
    let err = e.root_call("Sign", json!({})).unwrap_err();
    assert_eq!(err.code, "UnsupportedOperationException");
}
