//! SSE-KMS in the embedded cloud: S3 asks KMS for data keys as a forward access session (FAS)
//! of the caller, so key policies and identity policies see `aws:CalledVia`,
//! `aws:ViaAWSService` and `kms:ViaService`, and the VPC keys of a request that came through a
//! VPC endpoint are not carried into the KMS hop.
//!
//! Driven by the AWS SDK for Rust against a cloud with a plain listener and a VPC endpoint
//! listener. <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_forward_access_sessions.html>

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use serde_json::json;

mod common;
use common::*;

impl Server {
    /// An IAM user with an access key and the inline policy `policy`.
    async fn user_with(&self, name: &str, policy: serde_json::Value) -> Creds {
        self.user(name, Some(&policy.to_string())).await
    }

    /// A customer managed key with `policy` (None: the default key policy).
    async fn key(&self, policy: Option<serde_json::Value>) -> String {
        let kms = self.root_kms();
        let mut req = kms.create_key();
        if let Some(p) = policy {
            req = req.policy(p.to_string());
        }
        let out = ok(req.send().await);
        out.key_metadata()
            .expect("metadata")
            .arn()
            .expect("arn")
            .to_string()
    }
}

async fn put_kms(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, kms_key: &str, body: Vec<u8>) {
    let out = ok(s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(kms_key)
        .body(ByteStream::from(body))
        .send()
        .await);
    assert_eq!(out.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(out.ssekms_key_id(), Some(kms_key));
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(ok(out.body.collect().await).into_bytes().to_vec()),
        Err(e) => Err(format!(
            "{}: {}",
            e.code().unwrap_or("?"),
            e.message().unwrap_or("")
        )),
    }
}

fn data(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

/// Every file under `dir`, read whole.
fn files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn objects_are_encrypted_at_rest_and_read_back_whole_ranged_copied_and_multipart() {
    let c = Server::with_vpc_endpoint();
    let s3 = c.s3(&Creds::root());
    let key = c.key(None).await;
    ok(s3.create_bucket().bucket("bkt").send().await);
    // Crosses several 64 KiB chunks and ends in a partial one.
    let body = data(300 * 1024 + 17);
    put_kms(&s3, "bkt", "obj", &key, body.clone()).await;
    assert_eq!(get(&s3, "bkt", "obj").await.expect("get"), body);

    // The data at rest is not the plaintext: no 4 KiB window of it appears in any stored file.
    let probe = &body[100_000..104_096];
    for f in files(&c.data_dir) {
        assert!(
            !f.windows(probe.len()).any(|w| w == probe),
            "plaintext found at rest"
        );
    }

    // Ranges inside one chunk, across chunk boundaries, and the tail.
    for (a, b) in [
        (0usize, 9usize),
        (65_530, 65_545),
        (131_000, 200_000),
        (body.len() - 5, body.len() - 1),
    ] {
        let out = ok(s3
            .get_object()
            .bucket("bkt")
            .key("obj")
            .range(format!("bytes={a}-{b}"))
            .send()
            .await);
        assert_eq!(out.content_length(), Some((b - a + 1) as i64));
        let got = ok(out.body.collect().await).into_bytes();
        assert_eq!(&got[..], &body[a..=b], "range {a}-{b}");
    }
    let head = ok(s3.head_object().bucket("bkt").key("obj").send().await);
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));

    // An empty object.
    put_kms(&s3, "bkt", "empty", &key, Vec::new()).await;
    assert_eq!(get(&s3, "bkt", "empty").await.expect("get"), Vec::<u8>::new());

    // CopyObject keeps SSE-KMS (with a data key of its own) and the bytes.
    let copied = ok(s3
        .copy_object()
        .bucket("bkt")
        .key("copy")
        .copy_source("bkt/obj")
        .send()
        .await);
    assert_eq!(
        copied.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert_eq!(get(&s3, "bkt", "copy").await.expect("get copy"), body);
    // A plain copy of an SSE-KMS object is decrypted into plaintext.
    ok(s3
        .copy_object()
        .bucket("bkt")
        .key("plain-copy")
        .copy_source("bkt/obj")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await);
    assert_eq!(get(&s3, "bkt", "plain-copy").await.expect("get"), body);

    // Multipart: parts are assembled, then sealed under a new data key; UploadPartCopy from an
    // SSE-KMS source reads its plaintext.
    let up = ok(s3
        .create_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key)
        .send()
        .await);
    let id = up.upload_id().expect("upload id");
    let part1 = data(5 * 1024 * 1024);
    let p1 = ok(s3
        .upload_part()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from(part1.clone()))
        .send()
        .await);
    let p2 = ok(s3
        .upload_part_copy()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .part_number(2)
        .copy_source("bkt/obj")
        .copy_source_range("bytes=1000-70999")
        .send()
        .await);
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    ok(s3
        .complete_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(p1.e_tag().expect("etag"))
                        .build(),
                )
                .parts(
                    CompletedPart::builder()
                        .part_number(2)
                        .e_tag(p2.copy_part_result().and_then(|r| r.e_tag()).expect("etag"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await);
    let mut want = part1;
    want.extend_from_slice(&body[1000..71_000]);
    assert_eq!(get(&s3, "bkt", "mp").await.expect("get mp"), want);

    // A key that does not exist: nothing is written.
    let missing = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    fail_with(
        s3.put_object()
            .bucket("bkt")
            .key("nokey")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&missing)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        "KMS.NotFoundException",
    );
    fail_with(
        s3.head_object().bucket("bkt").key("nokey").send().await,
        "NotFound",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_caller_needs_the_key_as_well_as_the_object() {
    let c = Server::with_vpc_endpoint();
    let key = c.key(None).await;
    let s3 = c.s3(&Creds::root());
    ok(s3.create_bucket().bucket("bkt").send().await);
    put_kms(&s3, "bkt", "secret", &key, b"classified".to_vec()).await;

    // S3 permission only: the object is readable, its key is not.
    let reader = c
        .user_with(
            "reader",
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}]}),
        )
        .await;
    let as_reader = c.s3(&reader);
    let err = get(&as_reader, "bkt", "secret")
        .await
        .expect_err("no kms:Decrypt");
    assert!(err.starts_with("AccessDenied"), "{err}");
    assert!(err.contains("kms:Decrypt"), "{err}");
    // And without kms:GenerateDataKey nothing is uploaded.
    fail_with(
        as_reader
            .put_object()
            .bucket("bkt")
            .key("new")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        "AccessDenied",
    );

    // With kms:Decrypt allowed only through S3 (kms:ViaService), the GET works and a direct
    // KMS call does not.
    let via = c
        .user_with(
            "via",
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key,
                 "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]}),
        )
        .await;
    assert_eq!(
        get(&c.s3(&via), "bkt", "secret").await.expect("via S3"),
        b"classified"
    );
    fail_with(
        c.kms(&via)
            .generate_data_key()
            .key_id(&key)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .send()
            .await,
        "AccessDeniedException",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn key_policies_decide_by_called_via() {
    let c = Server::with_vpc_endpoint();
    let s3 = c.s3(&Creds::root());
    ok(s3.create_bucket().bucket("bkt").send().await);
    let user = c
        .user_with(
            "ana",
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}]}),
        )
        .await;
    let ana = format!("arn:aws:iam::{ACCOUNT}:user/ana");
    let admin = json!({"Sid": "Admin", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"});

    // The key policy lets ana use the key only when S3 calls KMS for her.
    let only_s3 = c
        .key(Some(json!({"Version": "2012-10-17", "Statement": [admin.clone(),
            {"Effect": "Allow", "Principal": {"AWS": ana}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
             "Resource": "*",
             "Condition": {"ForAnyValue:StringEquals": {"aws:CalledVia": "s3.amazonaws.com"}}}]})))
        .await;
    let as_ana = c.s3(&user);
    put_kms(&as_ana, "bkt", "mine", &only_s3, b"hers".to_vec()).await;
    assert_eq!(get(&as_ana, "bkt", "mine").await.expect("through S3"), b"hers");
    fail_with(
        c.kms(&user)
            .generate_data_key()
            .key_id(&only_s3)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .send()
            .await,
        "AccessDeniedException",
    );

    // A key policy that denies use through S3 (and allows everything else).
    let no_s3 = c
        .key(Some(json!({"Version": "2012-10-17", "Statement": [admin,
            {"Effect": "Allow", "Principal": {"AWS": ana}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
             "Condition": {"Bool": {"aws:ViaAWSService": "true"}}}]})))
        .await;
    let direct = ok(c
        .kms(&user)
        .generate_data_key()
        .key_id(&no_s3)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .send()
        .await);
    assert!(direct.ciphertext_blob().is_some());
    let msg = fail_with(
        as_ana
            .put_object()
            .bucket("bkt")
            .key("denied")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&no_s3)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        "AccessDenied",
    );
    assert!(msg.contains("explicit deny"), "{msg}");
}

/// The seed's example (003): S3 reads allowed from the VPC, and KMS reached only through S3.
/// The KMS hop does not carry the VPC keys, so the KMS side must allow by `aws:ViaAWSService`
/// (or `aws:CalledVia`); a KMS statement on `aws:SourceVpc` never matches a FAS request.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn seed_example_vpc_reads_with_fas_to_kms() {
    let c = Server::with_vpc_endpoint();
    let s3 = c.s3(&Creds::root());
    let key = c.key(None).await;
    ok(s3.create_bucket().bucket("data").send().await);
    put_kms(&s3, "data", "report.csv", &key, b"a,b\n1,2\n".to_vec()).await;

    let seed_statements = json!([
        {"Sid": "OnlyAllowMyIPs", "Effect": "Allow",
         "Action": ["s3:GetObject*", "athena:StartQueryExecution", "athena:GetQueryResults",
                    "athena:GetWorkGroup", "athena:StopQueryExecution", "athena:GetQueryExecution"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVPC": [VPC]}}},
        {"Sid": "OnlyAllowFAS", "Effect": "Allow", "Action": ["s3:GetObject*"], "Resource": "*",
         "Condition": {"ForAnyValue:StringEquals": {"aws:CalledVia": "athena.amazonaws.com"}}}
    ]);
    let mut with_fas = seed_statements.as_array().cloned().expect("array");
    with_fas.push(
        json!({"Sid": "KmsThroughServices", "Effect": "Allow", "Action": "kms:Decrypt",
        "Resource": key, "Condition": {"Bool": {"aws:ViaAWSService": "true"}}}),
    );
    let fas_user = c
        .user_with("fas", json!({"Version": "2012-10-17", "Statement": with_fas}))
        .await;
    // Through the VPC endpoint: S3 allows by aws:SourceVpc, KMS by aws:ViaAWSService.
    assert_eq!(
        get(&c.s3_at(&c.endpoint_url(), &fas_user), "data", "report.csv")
            .await
            .expect("through the endpoint"),
        b"a,b\n1,2\n"
    );
    // From outside the VPC the S3 statement does not match.
    let err = get(&c.s3(&fas_user), "data", "report.csv")
        .await
        .expect_err("outside the VPC");
    assert!(err.starts_with("AccessDenied"), "{err}");
    assert!(err.contains("s3:GetObject"), "{err}");

    // The same S3 statements, but KMS allowed only from the VPC: the FAS hop drops the VPC
    // keys, so the read through the endpoint fails at KMS.
    let mut vpc_kms = seed_statements.as_array().cloned().expect("array");
    vpc_kms.push(
        json!({"Sid": "KmsFromVpc", "Effect": "Allow", "Action": "kms:Decrypt",
        "Resource": key, "Condition": {"StringEquals": {"aws:SourceVpc": VPC}}}),
    );
    let vpc_user = c
        .user_with("vpc", json!({"Version": "2012-10-17", "Statement": vpc_kms}))
        .await;
    let err = get(&c.s3_at(&c.endpoint_url(), &vpc_user), "data", "report.csv")
        .await
        .expect_err("the KMS hop has no aws:SourceVpc");
    assert!(err.starts_with("AccessDenied"), "{err}");
    assert!(err.contains("kms:Decrypt"), "{err}");
}
