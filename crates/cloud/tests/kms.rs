//! The embedded cloud's KMS driven by the AWS SDK for Rust over HTTP (and a few raw signed
//! requests for the wire shape).
//!
//! Each test starts its own cloud on a fresh data directory, in a runtime of its own, as
//! `tests/sdk.rs` does. Expectations are AWS's behaviour.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyState, Tag};
use porteiro_cloud::{Cloud, CloudConfig};
use serde_json::{Value, json};

mod common;
use common::*;

impl Server {
    /// A KMS client that signs at the cloud's clock (after `Cloud::advance_clock`).
    fn kms_at_cloud_time(&self, c: &Creds) -> aws_sdk_kms::Client {
        let offset = u64::try_from(self.cloud.now() - now()).unwrap_or(0);
        let at = std::time::SystemTime::now() + std::time::Duration::from_secs(offset);
        let conf = self
            .kms(c)
            .config()
            .to_builder()
            .time_source(aws_smithy_async::time::StaticTimeSource::new(at))
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }
}

fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn user_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{name}")
}

fn account_root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// Creates a key (root of account 123456789012) and returns its ARN.
async fn create_key(kms: &aws_sdk_kms::Client, policy_doc: Option<String>) -> String {
    let mut req = kms.create_key().description("test key");
    if let Some(p) = policy_doc {
        req = req.policy(p);
    }
    let out = ok(req.send().await);
    out.key_metadata()
        .expect("metadata")
        .arn()
        .expect("arn")
        .to_string()
}

// ---------------------------------------------------------------------------------------
// Keys and aliases
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn create_describe_list_alias_disable_schedule_deletion() {
    let s = Server::start();
    let kms = s.root_kms();
    let created = ok(kms
        .create_key()
        .description("demo")
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("sec")
                .build()
                .expect("tag"),
        )
        .send()
        .await);
    let meta = created.key_metadata().expect("metadata");
    let id = meta.key_id().to_string();
    let arn = meta.arn().expect("arn").to_string();
    assert_eq!(arn, format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}"));
    assert_eq!(meta.aws_account_id(), Some(ACCOUNT));
    assert_eq!(meta.description(), Some("demo"));
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert!(meta.enabled());
    assert_eq!(meta.key_spec().map(|s| s.as_str()), Some("SYMMETRIC_DEFAULT"));
    assert_eq!(meta.key_usage().map(|s| s.as_str()), Some("ENCRYPT_DECRYPT"));
    assert!(meta.creation_date().is_some());

    // AWS's default key policy.
    let pol = ok(kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await);
    let doc: Value = serde_json::from_str(pol.policy().expect("policy")).expect("json");
    assert_eq!(doc["Statement"][0]["Sid"], "Enable IAM User Permissions");
    assert_eq!(doc["Statement"][0]["Principal"]["AWS"], account_root(ACCOUNT));
    assert_eq!(doc["Statement"][0]["Action"], "kms:*");
    let names = ok(kms.list_key_policies().key_id(&id).send().await);
    assert_eq!(names.policy_names(), ["default"]);

    // Aliases.
    ok(kms
        .create_alias()
        .alias_name("alias/demo")
        .target_key_id(&id)
        .send()
        .await);
    let dup = kms
        .create_alias()
        .alias_name("alias/demo")
        .target_key_id(&id)
        .send()
        .await;
    fail_with(dup, "AlreadyExistsException");
    let bad = kms
        .create_alias()
        .alias_name("demo")
        .target_key_id(&id)
        .send()
        .await;
    assert!(fail_with(bad, "ValidationException").contains("alias/"));
    let reserved = kms
        .create_alias()
        .alias_name("alias/aws/x")
        .target_key_id(&id)
        .send()
        .await;
    fail_with(reserved, "AccessDeniedException");
    for name in [
        id.clone(),
        arn.clone(),
        "alias/demo".to_string(),
        format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/demo"),
    ] {
        let d = ok(kms.describe_key().key_id(&name).send().await);
        assert_eq!(d.key_metadata().map(|m| m.key_id()), Some(id.as_str()), "{name}");
    }
    let aliases = ok(kms.list_aliases().send().await);
    let a = &aliases.aliases()[0];
    assert_eq!(a.alias_name(), Some("alias/demo"));
    assert_eq!(a.target_key_id(), Some(id.as_str()));
    assert_eq!(
        a.alias_arn(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/demo").as_str())
    );
    let second = create_key(&kms, None).await;
    ok(kms
        .update_alias()
        .alias_name("alias/demo")
        .target_key_id(&second)
        .send()
        .await);
    let d = ok(kms.describe_key().key_id("alias/demo").send().await);
    assert_eq!(d.key_metadata().and_then(|m| m.arn()), Some(second.as_str()));
    ok(kms.delete_alias().alias_name("alias/demo").send().await);
    fail_with(
        kms.describe_key().key_id("alias/demo").send().await,
        "NotFoundException",
    );
    fail_with(
        kms.delete_alias().alias_name("alias/demo").send().await,
        "NotFoundException",
    );

    // ListKeys, with pagination.
    let keys = ok(kms.list_keys().send().await);
    assert_eq!(keys.keys().len(), 2);
    assert!(!keys.truncated());
    let page1 = ok(kms.list_keys().limit(1).send().await);
    assert!(page1.truncated());
    let page2 = ok(kms
        .list_keys()
        .limit(1)
        .marker(page1.next_marker().expect("marker"))
        .send()
        .await);
    assert!(!page2.truncated());
    assert_ne!(page1.keys()[0].key_id(), page2.keys()[0].key_id());
    // Keys are regional.
    let west = s.kms_in(&Creds::root(), "eu-west-1");
    assert!(ok(west.list_keys().send().await).keys().is_empty());
    fail_with(west.describe_key().key_id(&id).send().await, "NotFoundException");

    // Tags.
    let tags = ok(kms.list_resource_tags().key_id(&id).send().await);
    assert_eq!(tags.tags()[0].tag_key(), "team");
    ok(kms
        .tag_resource()
        .key_id(&id)
        .tags(
            Tag::builder()
                .tag_key("env")
                .tag_value("dev")
                .build()
                .expect("tag"),
        )
        .send()
        .await);
    ok(kms.untag_resource().key_id(&id).tag_keys("team").send().await);
    let tags = ok(kms.list_resource_tags().key_id(&id).send().await);
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].tag_key(), "env");

    // Disable, enable.
    ok(kms.disable_key().key_id(&id).send().await);
    let d = ok(kms.describe_key().key_id(&id).send().await);
    assert_eq!(
        d.key_metadata().and_then(|m| m.key_state()),
        Some(&KeyState::Disabled)
    );
    let msg = fail_with(
        kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await,
        "DisabledException",
    );
    assert_eq!(msg, format!("{arn} is disabled."));
    ok(kms.enable_key().key_id(&id).send().await);

    // Schedule deletion: 7 to 30 days; pending keys are unusable; cancel leaves it disabled.
    fail_with(
        kms.schedule_key_deletion()
            .key_id(&id)
            .pending_window_in_days(31)
            .send()
            .await,
        "ValidationException",
    );
    let sched = ok(kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await);
    assert_eq!(sched.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(sched.pending_window_in_days(), Some(7));
    assert_eq!(sched.key_id(), Some(arn.as_str()));
    let d = ok(kms.describe_key().key_id(&id).send().await);
    assert!(d.key_metadata().and_then(|m| m.deletion_date()).is_some());
    fail_with(
        kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await,
        "KMSInvalidStateException",
    );
    ok(kms.cancel_key_deletion().key_id(&id).send().await);
    let d = ok(kms.describe_key().key_id(&id).send().await);
    assert_eq!(
        d.key_metadata().and_then(|m| m.key_state()),
        Some(&KeyState::Disabled)
    );
    fail_with(
        kms.cancel_key_deletion().key_id(&id).send().await,
        "KMSInvalidStateException",
    );

    // After the window (the cloud's clock), the key is gone.
    ok(kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await);
    s.cloud.advance_clock(6 * 86_400);
    let later = s.kms_at_cloud_time(&Creds::root());
    ok(later.describe_key().key_id(&id).send().await);
    s.cloud.advance_clock(86_400 + 1);
    let later = s.kms_at_cloud_time(&Creds::root());
    fail_with(later.describe_key().key_id(&id).send().await, "NotFoundException");
    // A fresh client: the SDK corrects its clock by the server's Date header (wall time).
    let later = s.kms_at_cloud_time(&Creds::root());
    assert_eq!(ok(later.list_keys().send().await).keys().len(), 1);
}

// ---------------------------------------------------------------------------------------
// Cryptography
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn encrypt_decrypt_roundtrip_with_context() {
    let s = Server::start();
    let kms = s.root_kms();
    let arn = create_key(&kms, None).await;
    let other = create_key(&kms, None).await;
    ok(kms
        .create_alias()
        .alias_name("alias/app")
        .target_key_id(&arn)
        .send()
        .await);
    let enc = ok(kms
        .encrypt()
        .key_id("alias/app")
        .plaintext(Blob::new("hello world"))
        .encryption_context("purpose", "test")
        .encryption_context("tenant", "t1")
        .send()
        .await);
    assert_eq!(enc.key_id(), Some(arn.as_str()));
    assert_eq!(
        enc.encryption_algorithm().map(|a| a.as_str()),
        Some("SYMMETRIC_DEFAULT")
    );
    let blob = enc.ciphertext_blob().expect("blob").clone();
    assert!(!blob.as_ref().windows(11).any(|w| w == b"hello world"));

    // Decrypt without KeyId: the blob names its key. Context order does not matter.
    let dec = ok(kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("tenant", "t1")
        .encryption_context("purpose", "test")
        .send()
        .await);
    assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(&b"hello world"[..]));
    assert_eq!(dec.key_id(), Some(arn.as_str()));
    // With the right KeyId (by alias) too.
    ok(kms
        .decrypt()
        .key_id("alias/app")
        .ciphertext_blob(blob.clone())
        .encryption_context("tenant", "t1")
        .encryption_context("purpose", "test")
        .send()
        .await);

    // Wrong, partial or missing context: InvalidCiphertextException.
    for ctx in [
        vec![("purpose", "test"), ("tenant", "t2")],
        vec![("purpose", "test")],
        vec![],
    ] {
        let mut req = kms.decrypt().ciphertext_blob(blob.clone());
        for (k, v) in ctx {
            req = req.encryption_context(k, v);
        }
        fail_with(req.send().await, "InvalidCiphertextException");
    }
    // The wrong KeyId: IncorrectKeyException.
    fail_with(
        kms.decrypt()
            .key_id(&other)
            .ciphertext_blob(blob.clone())
            .encryption_context("tenant", "t1")
            .encryption_context("purpose", "test")
            .send()
            .await,
        "IncorrectKeyException",
    );
    // An altered blob.
    let mut bytes = blob.clone().into_inner();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fail_with(
        kms.decrypt().ciphertext_blob(Blob::new(bytes)).send().await,
        "InvalidCiphertextException",
    );
    fail_with(
        kms.decrypt()
            .ciphertext_blob(Blob::new("not a kms blob at all, no"))
            .send()
            .await,
        "InvalidCiphertextException",
    );

    // Data keys.
    let dk = ok(kms
        .generate_data_key()
        .key_id(&arn)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("aws:s3:arn", "arn:aws:s3:::bkt/obj")
        .send()
        .await);
    let plain = dk.plaintext().expect("plaintext").as_ref().to_vec();
    assert_eq!(plain.len(), 32);
    let back = ok(kms
        .decrypt()
        .ciphertext_blob(dk.ciphertext_blob().expect("blob").clone())
        .encryption_context("aws:s3:arn", "arn:aws:s3:::bkt/obj")
        .send()
        .await);
    assert_eq!(back.plaintext().map(|p| p.as_ref().to_vec()), Some(plain));
    let dk128 = ok(kms
        .generate_data_key()
        .key_id(&arn)
        .key_spec(DataKeySpec::Aes128)
        .send()
        .await);
    assert_eq!(dk128.plaintext().map(|p| p.as_ref().len()), Some(16));
    let n = ok(kms
        .generate_data_key()
        .key_id(&arn)
        .number_of_bytes(100)
        .send()
        .await);
    assert_eq!(n.plaintext().map(|p| p.as_ref().len()), Some(100));
    let wp = ok(kms
        .generate_data_key_without_plaintext()
        .key_id(&arn)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await);
    assert!(wp.ciphertext_blob().is_some());
    let back = ok(kms
        .decrypt()
        .ciphertext_blob(wp.ciphertext_blob().expect("blob").clone())
        .send()
        .await);
    assert_eq!(back.plaintext().map(|p| p.as_ref().len()), Some(32));

    // ReEncrypt to another key and context.
    let re = ok(kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_encryption_context("purpose", "test")
        .source_encryption_context("tenant", "t1")
        .destination_key_id(&other)
        .destination_encryption_context("v", "2")
        .send()
        .await);
    assert_eq!(re.source_key_id(), Some(arn.as_str()));
    assert_eq!(re.key_id(), Some(other.as_str()));
    let dec = ok(kms
        .decrypt()
        .ciphertext_blob(re.ciphertext_blob().expect("blob").clone())
        .encryption_context("v", "2")
        .send()
        .await);
    assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(&b"hello world"[..]));

    // GenerateRandom.
    let r = ok(kms.generate_random().number_of_bytes(24).send().await);
    assert_eq!(r.plaintext().map(|p| p.as_ref().len()), Some(24));
    fail_with(
        kms.generate_random().number_of_bytes(2000).send().await,
        "ValidationException",
    );
}

#[tokio::test]
async fn keys_survive_a_restart_with_material_encrypted_at_rest() {
    let dir = TempDir::new("restart");
    let blob;
    let arn;
    {
        let s = Server::start_in(dir.path());
        let kms = s.root_kms();
        arn = create_key(&kms, None).await;
        let enc = ok(kms
            .encrypt()
            .key_id(&arn)
            .plaintext(Blob::new("persist me"))
            .send()
            .await);
        blob = enc.ciphertext_blob().expect("blob").clone();
    }
    // The database holds no plaintext key material: the master key file is what decrypts it.
    let master = std::fs::read_to_string(dir.path().join("kms-master-key")).expect("master key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("kms-master-key"))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let db = std::fs::read(dir.path().join("cloud.sqlite3")).expect("database");
    assert!(
        !db.windows(master.trim().len())
            .any(|w| w == master.trim().as_bytes())
    );
    let s = Server::start_in(dir.path());
    let kms = s.root_kms();
    let dec = ok(kms.decrypt().ciphertext_blob(blob.clone()).send().await);
    assert_eq!(dec.plaintext().map(|p| p.as_ref()), Some(&b"persist me"[..]));
    assert_eq!(dec.key_id(), Some(arn.as_str()));
    drop(s);
    // Without the master key the material cannot be used: the cloud refuses to start with a
    // bad one rather than answering garbage.
    std::fs::write(dir.path().join("kms-master-key"), "not a key").expect("write");
    let config = CloudConfig {
        data_dir: dir.path().to_path_buf(),
        account_id: None,
        root_credentials: None,
    };
    let err = Cloud::open(&config).expect_err("a bad master key is refused");
    assert!(err.to_string().contains("kms-master-key"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn iam_user_allowed_by_iam_but_key_policy_without_account_root_is_denied() {
    let s = Server::start();
    let iam = s.iam(&Creds::root());
    let allow_all_kms = policy(json!([{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]));
    let alice = user_with_key(&iam, "alice", Some(&allow_all_kms)).await;
    let bob = user_with_key(&iam, "bob", None).await;
    let kms = s.root_kms();
    // Default key policy: the account root → IAM policies count.
    let open = create_key(&kms, None).await;
    let a = s.kms(&alice);
    let enc = ok(a.encrypt().key_id(&open).plaintext(Blob::new("x")).send().await);
    ok(a.decrypt()
        .ciphertext_blob(enc.ciphertext_blob().expect("blob").clone())
        .send()
        .await);
    // Bob has no IAM policy: denied, in AWS's words.
    let msg = fail_with(
        s.kms(&bob)
            .encrypt()
            .key_id(&open)
            .plaintext(Blob::new("x"))
            .send()
            .await,
        "AccessDeniedException",
    );
    assert_eq!(
        msg,
        format!(
            "User: {} is not authorized to perform: kms:Encrypt on resource: {open} because no identity-based policy allows the kms:Encrypt action",
            user_arn(ACCOUNT, "bob")
        )
    );

    // A key policy that names only bob (not the account): alice's IAM policy does not count.
    let closed = create_key(
        &kms,
        Some(policy(json!([
            {"Sid": "root-admin", "Effect": "Allow", "Principal": {"AWS": account_root(ACCOUNT)},
             "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"], "Resource": "*"},
            {"Sid": "bob", "Effect": "Allow", "Principal": {"AWS": user_arn(ACCOUNT, "bob")},
             "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}
        ]))),
    )
    .await;
    let msg = fail_with(
        a.encrypt().key_id(&closed).plaintext(Blob::new("x")).send().await,
        "AccessDeniedException",
    );
    assert_eq!(
        msg,
        format!(
            "User: {} is not authorized to perform: kms:Encrypt on resource: {closed} because no resource-based policy allows the kms:Encrypt action",
            user_arn(ACCOUNT, "alice")
        )
    );
    // Bob, named by the key policy, needs no IAM policy.
    let enc = ok(s
        .kms(&bob)
        .encrypt()
        .key_id(&closed)
        .plaintext(Blob::new("y"))
        .send()
        .await);
    fail_with(
        a.decrypt()
            .ciphertext_blob(enc.ciphertext_blob().expect("blob").clone())
            .send()
            .await,
        "AccessDeniedException",
    );
    // Root itself is not exempt: the key policy grants root only the admin actions.
    fail_with(
        kms.encrypt()
            .key_id(&closed)
            .plaintext(Blob::new("x"))
            .send()
            .await,
        "AccessDeniedException",
    );

    // Conditions on the encryption context.
    let ctx_key = create_key(
        &kms,
        Some(policy(json!([
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": account_root(ACCOUNT)},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
             "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "t1"}}}
        ]))),
    )
    .await;
    ok(a.encrypt()
        .key_id(&ctx_key)
        .plaintext(Blob::new("x"))
        .encryption_context("tenant", "t1")
        .send()
        .await);
    let msg = fail_with(
        a.encrypt()
            .key_id(&ctx_key)
            .plaintext(Blob::new("x"))
            .encryption_context("tenant", "t2")
            .send()
            .await,
        "AccessDeniedException",
    );
    assert!(
        msg.ends_with("with an explicit deny in a resource-based policy"),
        "{msg}"
    );
}

#[tokio::test]
async fn cross_account_use_by_key_arn() {
    let s = Server::start();
    s.create_other_account();
    let other_iam = s.iam(&Creds::other_root());
    let use_keys = policy(
        json!([{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], "Resource": "*"}]),
    );
    let carol = user_with_key(&other_iam, "carol", Some(&use_keys)).await;
    let dave = user_with_key(&other_iam, "dave", None).await;
    let kms = s.root_kms();
    let shared = create_key(
        &kms,
        Some(policy(json!([
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": account_root(ACCOUNT)},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "other-account", "Effect": "Allow", "Principal": {"AWS": account_root(OTHER_ACCOUNT)},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:CallerAccount": OTHER_ACCOUNT}}}
        ]))),
    )
    .await;
    ok(kms
        .create_alias()
        .alias_name("alias/shared")
        .target_key_id(&shared)
        .send()
        .await);
    let private = create_key(&kms, None).await;

    // The key policy allows the other account and carol's IAM policy allows: allowed, by
    // key ARN and by alias ARN.
    let c = s.kms(&carol);
    let enc = ok(c.encrypt().key_id(&shared).plaintext(Blob::new("x")).send().await);
    ok(c.decrypt()
        .ciphertext_blob(enc.ciphertext_blob().expect("blob").clone())
        .send()
        .await);
    let alias_arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/shared");
    let d = ok(c.describe_key().key_id(&alias_arn).send().await);
    assert_eq!(d.key_metadata().and_then(|m| m.arn()), Some(shared.as_str()));
    ok(c.generate_data_key()
        .key_id(&shared)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await);
    // By bare key id the key is looked up in the caller's own account.
    let id = shared.rsplit('/').next().expect("id");
    fail_with(c.describe_key().key_id(id).send().await, "NotFoundException");
    // Management across accounts is not possible.
    fail_with(c.disable_key().key_id(&shared).send().await, "NotFoundException");

    // Dave: the key policy allows his account, but his IAM policies do not allow.
    let msg = fail_with(
        s.kms(&dave)
            .encrypt()
            .key_id(&shared)
            .plaintext(Blob::new("x"))
            .send()
            .await,
        "AccessDeniedException",
    );
    assert!(
        msg.contains("because no identity-based policy allows the kms:Encrypt action"),
        "{msg}"
    );
    // A key whose policy does not name the other account: denied even to carol.
    let msg = fail_with(
        c.encrypt()
            .key_id(&private)
            .plaintext(Blob::new("x"))
            .send()
            .await,
        "AccessDeniedException",
    );
    assert!(
        msg.contains("because no resource-based policy allows the kms:Encrypt action"),
        "{msg}"
    );
    // And a blob of that key cannot be decrypted by carol either.
    let enc = ok(kms
        .encrypt()
        .key_id(&private)
        .plaintext(Blob::new("x"))
        .send()
        .await);
    fail_with(
        c.decrypt()
            .ciphertext_blob(enc.ciphertext_blob().expect("blob").clone())
            .send()
            .await,
        "AccessDeniedException",
    );
}

#[tokio::test]
async fn key_policy_get_put_validation_and_lockout() {
    let s = Server::start();
    let iam = s.iam(&Creds::root());
    let admin_doc = policy(json!([{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]));
    let admin = user_with_key(&iam, "admin", Some(&admin_doc)).await;
    let a = s.kms(&admin);
    let arn = create_key(&a, None).await;
    fail_with(
        a.put_key_policy().key_id(&arn).policy("{not json").send().await,
        "MalformedPolicyDocumentException",
    );
    fail_with(
        a.put_key_policy()
            .key_id(&arn)
            .policy(policy(
                json!([{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]),
            ))
            .send()
            .await,
        "MalformedPolicyDocumentException",
    );
    user_with_key(&iam, "someone-else", None).await;
    let lockout = policy(json!([
        {"Effect": "Allow", "Principal": {"AWS": user_arn(ACCOUNT, "someone-else")}, "Action": "kms:*", "Resource": "*"}
    ]));
    // Principals must exist.
    let msg = fail_with(
        a.put_key_policy()
            .key_id(&arn)
            .policy(policy(json!([
                {"Effect": "Allow", "Principal": {"AWS": user_arn(ACCOUNT, "nobody")}, "Action": "kms:*", "Resource": "*"}
            ])))
            .send()
            .await,
        "MalformedPolicyDocumentException",
    );
    assert!(
        msg.starts_with("Policy contains a statement with one or more invalid principals."),
        "{msg}"
    );
    let msg = fail_with(
        a.put_key_policy().key_id(&arn).policy(&lockout).send().await,
        "MalformedPolicyDocumentException",
    );
    assert!(
        msg.starts_with("The new key policy will not allow you to update the key policy in the future."),
        "{msg}"
    );
    fail_with(
        a.create_key().policy(&lockout).send().await,
        "MalformedPolicyDocumentException",
    );
    // A policy naming the admin directly is accepted and read back as written.
    let named = policy(json!([
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": user_arn(ACCOUNT, "admin")}, "Action": "kms:*", "Resource": "*"}
    ]));
    ok(a.put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(&named)
        .send()
        .await);
    let got = ok(a.get_key_policy().key_id(&arn).send().await);
    assert_eq!(got.policy(), Some(named.as_str()));
    // Root is no longer in the policy: root is denied.
    fail_with(
        s.root_kms().get_key_policy().key_id(&arn).send().await,
        "AccessDeniedException",
    );
    // With the bypass flag the lockout check is skipped.
    ok(a.put_key_policy()
        .key_id(&arn)
        .policy(&lockout)
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await);
    fail_with(
        a.describe_key().key_id(&arn).send().await,
        "AccessDeniedException",
    );
}

// ---------------------------------------------------------------------------------------
// Wire shape
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn errors_are_json_1_1_with_request_id() {
    let s = Server::start();
    let kms = s.root_kms();
    let err = kms
        .describe_key()
        .key_id("alias/nope")
        .send()
        .await
        .expect_err("no such alias");
    let raw = err.raw_response().expect("a raw response");
    assert_eq!(raw.status().as_u16(), 400);
    assert_eq!(
        raw.headers().get("content-type"),
        Some("application/x-amz-json-1.1")
    );
    assert!(
        raw.headers()
            .get("x-amzn-requestid")
            .is_some_and(|v| v.len() == 36)
    );
    let body: Value = serde_json::from_slice(raw.body().bytes().expect("body")).expect("json body");
    assert_eq!(body["__type"], "NotFoundException");
    assert_eq!(
        body["message"],
        format!("Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/nope is not found.")
    );

    // Authentication errors are JSON too, with the JSON services' names.
    let stranger = s.kms(&Creds::new("AKIANOTAREALKEY12345", ROOT_SK, None));
    fail_with(stranger.list_keys().send().await, "UnrecognizedClientException");
    let bad_secret = s.kms(&Creds::new(ROOT_AK, "wrong-secret-wrong-secret", None));
    fail_with(bad_secret.list_keys().send().await, "InvalidSignatureException");
    // An operation Porteiro does not implement is named as such.
    fail_with(
        kms.sign()
            .key_id("x")
            .message(Blob::new("m"))
            .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::RsassaPssSha256)
            .send()
            .await,
        "UnsupportedOperationException",
    );
}

#[tokio::test]
async fn role_session_allowed_by_a_key_policy_naming_the_role() {
    let s = Server::start();
    let iam = s.iam(&Creds::root());
    let bob = user_with_key(&iam, "bob", None).await;
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/encryptor");
    ok(iam
        .create_role()
        .role_name("encryptor")
        .assume_role_policy_document(policy(json!([
            {"Effect": "Allow", "Principal": {"AWS": user_arn(ACCOUNT, "bob")}, "Action": "sts:AssumeRole"}
        ])))
        .send()
        .await);
    let kms = s.root_kms();
    let arn = create_key(
        &kms,
        Some(policy(json!([
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": account_root(ACCOUNT)},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "role", "Effect": "Allow", "Principal": {"AWS": role_arn},
             "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}}
        ]))),
    )
    .await;
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(&s.url)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                &bob.ak, &bob.sk, None, None, "t",
            ))
            .http_client(s.http.clone())
            .build(),
    );
    let out = ok(sts
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("s1")
        .send()
        .await);
    let c = out.credentials().expect("credentials");
    let session = Creds::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let k = s.kms(&session);
    // The role has no IAM policy; the key policy names the role and grants its sessions.
    let enc = ok(k
        .encrypt()
        .key_id(&arn)
        .plaintext(Blob::new("x"))
        .encryption_context("app", "billing")
        .send()
        .await);
    ok(k.decrypt()
        .ciphertext_blob(enc.ciphertext_blob().expect("blob").clone())
        .encryption_context("app", "billing")
        .send()
        .await);
    let msg = fail_with(
        k.encrypt()
            .key_id(&arn)
            .plaintext(Blob::new("x"))
            .encryption_context("app", "other")
            .send()
            .await,
        "AccessDeniedException",
    );
    assert!(
        msg.starts_with(&format!(
            "User: arn:aws:sts::{ACCOUNT}:assumed-role/encryptor/s1 is not authorized to perform: kms:Encrypt"
        )),
        "{msg}"
    );
}

#[tokio::test]
async fn requests_through_a_vpc_endpoint_carry_its_keys() {
    let s = Server::start();
    // A second listener of the same cloud, standing for a VPC endpoint.
    let endpoint = porteiro_cloud::VpcEndpoint::new("vpce-0a1b2c3d", "vpc-11112222").expect("ids");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let vpce_url = format!("http://{}", listener.local_addr().expect("addr"));
    let serving = s.cloud.clone();
    s.rt.as_ref().expect("runtime").spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let _ = serving.serve_vpc_endpoint(listener, endpoint).await;
    });
    let kms = s.root_kms();
    let arn = create_key(
        &kms,
        Some(policy(json!([
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": account_root(ACCOUNT)},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "only-through-the-endpoint", "Effect": "Deny", "Principal": "*",
             "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
             "Condition": {"StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-0a1b2c3d"},
                           "Null": {"aws:SourceVpce": "true"}}}
        ]))),
    )
    .await;
    let through =
        aws_sdk_kms::Client::from_conf(s.root_kms().config().to_builder().endpoint_url(&vpce_url).build());
    let enc = ok(through
        .encrypt()
        .key_id(&arn)
        .plaintext(Blob::new("x"))
        .send()
        .await);
    ok(through
        .decrypt()
        .ciphertext_blob(enc.ciphertext_blob().expect("blob").clone())
        .send()
        .await);
    let msg = fail_with(
        kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await,
        "AccessDeniedException",
    );
    assert!(
        msg.ends_with("with an explicit deny in a resource-based policy"),
        "{msg}"
    );
}
