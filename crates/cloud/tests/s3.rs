//! S3 in the embedded cloud, driven by the AWS SDK for Rust (and raw HTTP for presigned
//! URLs and virtual-hosted addressing).
//!
//! Each test starts its own cloud on a fresh data directory in a runtime of its own.
//! Expectations are AWS's behaviour.

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration, Delete,
    ObjectIdentifier, ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::*;

/// A raw HTTP/1.1 exchange: (status, headers, body).
async fn raw(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write body");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut body = out[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap_or("0").trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn body_of(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    ok(out.body.collect().await).into_bytes().to_vec()
}

#[tokio::test]
async fn buckets_create_list_head_location_delete() {
    let dir = TempDir::new("buckets");
    let srv = Server::start_in(&dir.0);
    srv.create_other_account();
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("alpha").send().await);
    fail_with(
        s3.create_bucket().bucket("alpha").send().await,
        "BucketAlreadyOwnedByYou",
    );
    fail_with(
        srv.s3(&Creds::other_root())
            .create_bucket()
            .bucket("alpha")
            .send()
            .await,
        "BucketAlreadyExists",
    );
    fail_with(
        s3.create_bucket().bucket("Bad_Name").send().await,
        "InvalidBucketName",
    );
    ok(s3
        .create_bucket()
        .bucket("beta.eu")
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await);
    let loc = ok(s3.get_bucket_location().bucket("beta.eu").send().await);
    assert_eq!(
        loc.location_constraint(),
        Some(&BucketLocationConstraint::EuWest1)
    );
    let loc = ok(s3.get_bucket_location().bucket("alpha").send().await);
    assert!(loc.location_constraint().is_none_or(|l| l.as_str().is_empty()));
    let names: Vec<String> = ok(s3.list_buckets().send().await)
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["alpha", "beta.eu"]);
    // The other account sees none of them.
    assert!(
        ok(srv.s3(&Creds::other_root()).list_buckets().send().await)
            .buckets()
            .is_empty()
    );
    ok(s3.head_bucket().bucket("alpha").send().await);
    ok(s3
        .put_object()
        .bucket("alpha")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await);
    fail_with(s3.delete_bucket().bucket("alpha").send().await, "BucketNotEmpty");
    ok(s3.delete_object().bucket("alpha").key("k").send().await);
    ok(s3.delete_bucket().bucket("alpha").send().await);
    let err = s3.head_bucket().bucket("alpha").send().await.expect_err("gone");
    assert!(err.into_service_error().is_not_found());
    fail_with(
        s3.get_bucket_location().bucket("alpha").send().await,
        "NoSuchBucket",
    );
}

#[tokio::test]
async fn objects_in_memory_and_from_path_with_metadata_and_ranges() {
    let dir = TempDir::new("objects");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("objs").send().await);

    // In-memory body: signed payload hash plus a CRC32 header.
    let put = ok(s3
        .put_object()
        .bucket("objs")
        .key("dir/a b+c=ü.txt")
        .content_type("text/plain")
        .metadata("colour", "blue")
        .body(ByteStream::from_static(b"hello world"))
        .send()
        .await);
    assert_eq!(put.e_tag(), Some("\"5eb63bbbe01eeed093cb22bb8f5acdc3\""));
    let got = ok(s3.get_object().bucket("objs").key("dir/a b+c=ü.txt").send().await);
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        got.metadata().and_then(|m| m.get("colour")).map(String::as_str),
        Some("blue")
    );
    assert_eq!(body_of(got).await, b"hello world");

    // ByteStream::from_path: aws-chunked with chunk signatures and a signed CRC32 trailer.
    let payload = data(300_000, 7);
    let file = dir.0.join("upload.bin");
    std::fs::write(&file, &payload).expect("write");
    ok(s3
        .put_object()
        .bucket("objs")
        .key("big.bin")
        .body(ok(ByteStream::from_path(&file).await))
        .send()
        .await);
    let head = ok(s3.head_object().bucket("objs").key("big.bin").send().await);
    assert_eq!(head.content_length(), Some(300_000));
    assert_eq!(head.content_type(), Some("application/octet-stream"));
    let got = ok(s3.get_object().bucket("objs").key("big.bin").send().await);
    assert_eq!(body_of(got).await, payload);

    // Ranges.
    let part = ok(s3
        .get_object()
        .bucket("objs")
        .key("big.bin")
        .range("bytes=10-19")
        .send()
        .await);
    assert_eq!(part.content_range(), Some("bytes 10-19/300000"));
    assert_eq!(body_of(part).await, &payload[10..20]);
    let tail = ok(s3
        .get_object()
        .bucket("objs")
        .key("big.bin")
        .range("bytes=-5")
        .send()
        .await);
    assert_eq!(body_of(tail).await, &payload[300_000 - 5..]);
    fail_with(
        s3.get_object()
            .bucket("objs")
            .key("big.bin")
            .range("bytes=300000-")
            .send()
            .await,
        "InvalidRange",
    );

    // Conditions.
    let etag = head.e_tag().expect("etag").to_string();
    ok(s3
        .get_object()
        .bucket("objs")
        .key("big.bin")
        .if_match(&etag)
        .send()
        .await);
    fail_with(
        s3.get_object()
            .bucket("objs")
            .key("big.bin")
            .if_match("\"nope\"")
            .send()
            .await,
        "PreconditionFailed",
    );
    let not_modified = s3
        .get_object()
        .bucket("objs")
        .key("big.bin")
        .if_none_match(&etag)
        .send()
        .await;
    assert!(
        not_modified.is_err(),
        "If-None-Match with the current ETag answers 304"
    );

    fail_with(
        s3.get_object().bucket("objs").key("missing").send().await,
        "NoSuchKey",
    );
    fail_with(
        s3.get_object().bucket("nobucket").key("k").send().await,
        "NoSuchBucket",
    );
    let err = s3
        .head_object()
        .bucket("objs")
        .key("missing")
        .send()
        .await
        .expect_err("404");
    assert!(err.into_service_error().is_not_found());

    // Copy (metadata kept), delete, multi-delete.
    ok(s3
        .copy_object()
        .bucket("objs")
        .key("copy.txt")
        .copy_source("objs/dir/a%20b%2Bc%3D%C3%BC.txt")
        .send()
        .await);
    let copied = ok(s3.get_object().bucket("objs").key("copy.txt").send().await);
    assert_eq!(
        copied
            .metadata()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("blue")
    );
    assert_eq!(body_of(copied).await, b"hello world");
    fail_with(
        s3.copy_object()
            .bucket("objs")
            .key("copy.txt")
            .copy_source("objs/copy.txt")
            .send()
            .await,
        "InvalidRequest",
    );
    ok(s3.delete_object().bucket("objs").key("copy.txt").send().await);
    ok(s3.delete_object().bucket("objs").key("copy.txt").send().await);
    let del = ok(s3
        .delete_objects()
        .bucket("objs")
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("big.bin").build().expect("id"))
                .objects(
                    ObjectIdentifier::builder()
                        .key("dir/a b+c=ü.txt")
                        .build()
                        .expect("id"),
                )
                .build()
                .expect("delete"),
        )
        .send()
        .await);
    assert_eq!(del.deleted().len(), 2);
    assert_eq!(
        ok(s3.list_objects_v2().bucket("objs").send().await).key_count(),
        Some(0)
    );
}

#[tokio::test]
async fn list_objects_prefix_delimiter_and_pagination() {
    let dir = TempDir::new("list");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("lst").send().await);
    for k in ["a/1", "a/2", "b/1", "b/x/2", "c", "d", "e f"] {
        ok(s3
            .put_object()
            .bucket("lst")
            .key(k)
            .body(ByteStream::from_static(b"1"))
            .send()
            .await);
    }
    let out = ok(s3.list_objects_v2().bucket("lst").delimiter("/").send().await);
    let prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(prefixes, vec!["a/", "b/"]);
    assert_eq!(keys, vec!["c", "d", "e f"]);
    let out = ok(s3
        .list_objects_v2()
        .bucket("lst")
        .prefix("b/")
        .delimiter("/")
        .send()
        .await);
    assert_eq!(
        out.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(),
        vec!["b/1"]
    );
    assert_eq!(out.common_prefixes()[0].prefix(), Some("b/x/"));

    // Pages of 2 with continuation tokens, delimiter included.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ok(s3
            .list_objects_v2()
            .bucket("lst")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await);
        seen.extend(
            out.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        seen.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        if out.is_truncated() != Some(true) {
            break;
        }
        token = out.next_continuation_token().map(str::to_string);
    }
    seen.sort();
    assert_eq!(seen, vec!["a/", "b/", "c", "d", "e f"]);

    // The paginator of the SDK, start-after, fetch-owner, v1 with marker.
    let pages = s3
        .list_objects_v2()
        .bucket("lst")
        .max_keys(3)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("pages");
    assert_eq!(pages.len(), 3);
    let all: Vec<String> = pages
        .iter()
        .flat_map(|p| p.contents())
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(all, vec!["a/1", "a/2", "b/1", "b/x/2", "c", "d", "e f"]);
    let out = ok(s3
        .list_objects_v2()
        .bucket("lst")
        .start_after("b/x/2")
        .fetch_owner(true)
        .send()
        .await);
    assert_eq!(
        out.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(),
        vec!["c", "d", "e f"]
    );
    assert_eq!(out.contents()[0].owner().and_then(|o| o.id()), Some(ACCOUNT));
    let v1 = ok(s3.list_objects().bucket("lst").marker("c").send().await);
    assert_eq!(
        v1.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(),
        vec!["d", "e f"]
    );
    let v1 = ok(s3
        .list_objects()
        .bucket("lst")
        .max_keys(1)
        .delimiter("/")
        .send()
        .await);
    assert_eq!(v1.is_truncated(), Some(true));
    assert_eq!(v1.next_marker(), Some("a/"));
    let url = ok(s3
        .list_objects_v2()
        .bucket("lst")
        .prefix("e")
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .send()
        .await);
    // The SDK does not decode: the key is as S3 encodes it.
    assert_eq!(url.contents()[0].key(), Some("e%20f"));
}

#[tokio::test]
async fn multipart_upload_complete_abort_and_errors() {
    let dir = TempDir::new("mpu");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("mpu").send().await);
    let first = data(5 * 1024 * 1024, 1);
    let second = data(1000, 2);

    let up = ok(s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("big")
        .content_type("application/x-test")
        .send()
        .await);
    let id = up.upload_id().expect("upload id").to_string();
    let p1 = ok(s3
        .upload_part()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(first.clone()))
        .send()
        .await);
    let p2 = ok(s3
        .upload_part()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from(second.clone()))
        .send()
        .await);
    let parts = ok(s3
        .list_parts()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .send()
        .await);
    assert_eq!(parts.parts().len(), 2);
    let uploads = ok(s3.list_multipart_uploads().bucket("mpu").send().await);
    assert_eq!(uploads.uploads().len(), 1);

    // Out of order, and a wrong ETag.
    let part = |n: i32, etag: &str| CompletedPart::builder().part_number(n).e_tag(etag).build();
    fail_with(
        s3.complete_multipart_upload()
            .bucket("mpu")
            .key("big")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(part(2, p2.e_tag().unwrap_or("")))
                    .parts(part(1, p1.e_tag().unwrap_or("")))
                    .build(),
            )
            .send()
            .await,
        "InvalidPartOrder",
    );
    fail_with(
        s3.complete_multipart_upload()
            .bucket("mpu")
            .key("big")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(part(1, "\"00\""))
                    .build(),
            )
            .send()
            .await,
        "InvalidPart",
    );
    let done = ok(s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(part(1, p1.e_tag().unwrap_or("")))
                .parts(part(2, p2.e_tag().unwrap_or("")))
                .build(),
        )
        .send()
        .await);
    assert!(
        done.e_tag().is_some_and(|e| e.ends_with("-2\"")),
        "{:?}",
        done.e_tag()
    );
    let got = ok(s3.get_object().bucket("mpu").key("big").send().await);
    assert_eq!(got.content_type(), Some("application/x-test"));
    let mut expected = first.clone();
    expected.extend_from_slice(&second);
    assert_eq!(body_of(got).await, expected);
    fail_with(
        s3.list_parts()
            .bucket("mpu")
            .key("big")
            .upload_id(&id)
            .send()
            .await,
        "NoSuchUpload",
    );

    // Parts under 5 MiB except the last: EntityTooSmall. Then abort.
    let up = ok(s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("small")
        .send()
        .await);
    let id = up.upload_id().expect("id").to_string();
    let mut done_parts = Vec::new();
    for n in 1..=2 {
        let p = ok(s3
            .upload_part()
            .bucket("mpu")
            .key("small")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from_static(b"tiny"))
            .send()
            .await);
        done_parts.push(part(n, p.e_tag().unwrap_or("")));
    }
    fail_with(
        s3.complete_multipart_upload()
            .bucket("mpu")
            .key("small")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done_parts))
                    .build(),
            )
            .send()
            .await,
        "EntityTooSmall",
    );
    ok(s3
        .abort_multipart_upload()
        .bucket("mpu")
        .key("small")
        .upload_id(&id)
        .send()
        .await);
    fail_with(
        s3.abort_multipart_upload()
            .bucket("mpu")
            .key("small")
            .upload_id(&id)
            .send()
            .await,
        "NoSuchUpload",
    );
    assert!(
        ok(s3.list_multipart_uploads().bucket("mpu").send().await)
            .uploads()
            .is_empty()
    );
}

#[tokio::test]
async fn presigned_urls_sigv4_and_sigv2() {
    let dir = TempDir::new("presign");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("pre").send().await);
    ok(s3
        .put_object()
        .bucket("pre")
        .key("a b.txt")
        .body(ByteStream::from_static(b"presigned!"))
        .send()
        .await);

    let req = ok(s3
        .get_object()
        .bucket("pre")
        .key("a b.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("config"))
        .await);
    let uri: hyper::Uri = req.uri().parse().expect("uri");
    let target = uri.path_and_query().expect("target").as_str().to_string();
    let (status, _, body) = raw(srv.addr, "GET", &target, &[], b"").await;
    assert_eq!((status, body.as_slice()), (200, b"presigned!".as_slice()));

    // A presigned PUT.
    let put = ok(s3
        .put_object()
        .bucket("pre")
        .key("up.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("config"))
        .await);
    let uri: hyper::Uri = put.uri().parse().expect("uri");
    let (status, _, _) = raw(
        srv.addr,
        "PUT",
        uri.path_and_query().expect("pq").as_str(),
        &[],
        b"via url",
    )
    .await;
    assert_eq!(status, 200);
    let got = ok(s3.get_object().bucket("pre").key("up.txt").send().await);
    assert_eq!(body_of(got).await, b"via url");

    // SigV2, as awscli and boto3 presign by default.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let headers: Vec<(&str, &str)> = Vec::new();
    let v2req = porteiro_sigv4::Request::new("GET", "/pre/a%20b.txt", "", &headers);
    let q = porteiro_sigv4::v2::presign(
        &v2req,
        &porteiro_sigv4::Credentials::new(ROOT_AK, ROOT_SK, None),
        now + 60,
        None,
    );
    let (status, _, body) = raw(srv.addr, "GET", &format!("/pre/a%20b.txt?{q}"), &[], b"").await;
    assert_eq!((status, body.as_slice()), (200, b"presigned!".as_slice()));
    let tampered = q.replace("Expires=", "Expires=1");
    let (status, _, body) = raw(srv.addr, "GET", &format!("/pre/a%20b.txt?{tampered}"), &[], b"").await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));

    // Expired: both forms answer AccessDenied "Request has expired".
    srv.cloud.advance_clock(400);
    let (status, _, body) = raw(srv.addr, "GET", &target, &[], b"").await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("<Code>AccessDenied</Code>") && text.contains("Request has expired"),
        "{text}"
    );
    srv.cloud.advance_clock(-400 + 120);
    let (status, _, body) = raw(srv.addr, "GET", &format!("/pre/a%20b.txt?{q}"), &[], b"").await;
    assert!(status == 403 && String::from_utf8_lossy(&body).contains("Request has expired"));
}

#[tokio::test]
async fn virtual_hosted_addressing() {
    let dir = TempDir::new("vhost");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("vhost1").send().await);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    for host in [
        format!("vhost1.localhost:{}", srv.addr.port()),
        "vhost1.s3.localhost".to_string(),
    ] {
        let body = b"virtual";
        let sha = porteiro_sigv4::sha256_hex(body);
        let mut headers = vec![("host", host.as_str()), ("x-amz-content-sha256", sha.as_str())];
        let base = headers.clone();
        let creds = porteiro_sigv4::Credentials::new(ROOT_AK, ROOT_SK, None);
        let params = porteiro_sigv4::SigningParams::new(creds, "us-east-1", "s3", now);
        let signed = porteiro_sigv4::sign(
            &porteiro_sigv4::Request::new("PUT", "/dir/k", "", &headers).with_body(body),
            &params,
        )
        .expect("sign");
        headers = base;
        headers.retain(|(k, _)| *k != "x-amz-content-sha256");
        let extra: Vec<(String, String)> = signed
            .headers()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        headers.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let (status, _, resp) = raw(srv.addr, "PUT", "/dir/k", &headers, body).await;
        assert_eq!(status, 200, "{host}: {}", String::from_utf8_lossy(&resp));
        let got = ok(s3.get_object().bucket("vhost1").key("dir/k").send().await);
        assert_eq!(body_of(got).await, body);
        ok(s3.delete_object().bucket("vhost1").key("dir/k").send().await);
    }
}

#[tokio::test]
async fn bucket_policy_cross_account_and_denied_user() {
    let dir = TempDir::new("policy");
    let srv = Server::start_in(&dir.0);
    srv.create_other_account();
    let s3 = srv.s3(&Creds::root());
    let other = srv.s3(&Creds::other_root());
    ok(s3.create_bucket().bucket("shared").send().await);
    ok(s3
        .put_object()
        .bucket("shared")
        .key("doc.txt")
        .body(ByteStream::from_static(b"shared data"))
        .send()
        .await);

    // Cross-account: denied until the bucket policy allows.
    let msg = fail_with(
        other.get_object().bucket("shared").key("doc.txt").send().await,
        "AccessDenied",
    );
    assert!(
        msg.contains("is not authorized to perform: s3:GetObject"),
        "{msg}"
    );
    fail_with(
        s3.get_bucket_policy().bucket("shared").send().await,
        "NoSuchBucketPolicy",
    );
    fail_with(
        s3.put_bucket_policy()
            .bucket("shared")
            .policy("{\"Version\": \"2012-10-17\"")
            .send()
            .await,
        "MalformedPolicy",
    );
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OTHER_ACCOUNT}:root")},
         "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::shared/*"},
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OTHER_ACCOUNT}:root")},
         "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::shared",
         "Condition": {"StringLike": {"s3:prefix": "doc*"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::shared/keep/*"}
    ]})
    .to_string();
    ok(s3
        .put_bucket_policy()
        .bucket("shared")
        .policy(&policy)
        .send()
        .await);
    let got = ok(s3.get_bucket_policy().bucket("shared").send().await);
    assert_eq!(got.policy(), Some(policy.as_str()));
    let got = ok(other.get_object().bucket("shared").key("doc.txt").send().await);
    assert_eq!(body_of(got).await, b"shared data");
    // s3:prefix condition on ListBucket.
    ok(other
        .list_objects_v2()
        .bucket("shared")
        .prefix("doc")
        .send()
        .await);
    fail_with(
        other.list_objects_v2().bucket("shared").send().await,
        "AccessDenied",
    );
    // Writing was not granted.
    fail_with(
        other
            .put_object()
            .bucket("shared")
            .key("x")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        "AccessDenied",
    );
    // An explicit deny in the bucket policy binds even the owner's root.
    ok(s3
        .put_object()
        .bucket("shared")
        .key("keep/1")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await);
    let msg = fail_with(
        s3.delete_object().bucket("shared").key("keep/1").send().await,
        "AccessDenied",
    );
    assert!(msg.contains("explicit deny in a resource-based policy"), "{msg}");

    // A user of the owning account without any policy.
    let bob = srv.user("bob", None).await;
    let msg = fail_with(
        srv.s3(&bob)
            .get_object()
            .bucket("shared")
            .key("doc.txt")
            .send()
            .await,
        "AccessDenied",
    );
    assert_eq!(
        msg,
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::shared/doc.txt because no identity-based policy allows the s3:GetObject action"
        )
    );
    // A user allowed by an identity policy, limited to a prefix.
    let carol_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::shared/carol/*"}
    ]})
    .to_string();
    let carol = srv.s3(&srv.user("carol", Some(&carol_policy)).await);
    ok(carol
        .put_object()
        .bucket("shared")
        .key("carol/a")
        .body(ByteStream::from_static(b"c"))
        .send()
        .await);
    fail_with(
        carol
            .put_object()
            .bucket("shared")
            .key("other/a")
            .body(ByteStream::from_static(b"c"))
            .send()
            .await,
        "AccessDenied",
    );
    // Without s3:ListBucket a missing key is AccessDenied, not NoSuchKey.
    fail_with(
        carol
            .get_object()
            .bucket("shared")
            .key("carol/missing")
            .send()
            .await,
        "AccessDenied",
    );
    ok(s3.delete_bucket_policy().bucket("shared").send().await);
    fail_with(
        other.get_object().bucket("shared").key("doc.txt").send().await,
        "AccessDenied",
    );
}

#[tokio::test]
async fn bucket_encryption_is_stored_and_applied_to_new_objects() {
    let dir = TempDir::new("enc");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("enc").send().await);
    fail_with(
        s3.get_bucket_encryption().bucket("enc").send().await,
        "ServerSideEncryptionConfigurationNotFoundError",
    );
    // A real key: objects put under the default are sealed with its data keys.
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .endpoint_url(&srv.url)
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                ROOT_AK, ROOT_SK, None, None, "test",
            ))
            .http_client(srv.http.clone())
            .build(),
    );
    let created = ok(kms.create_key().send().await);
    let key_arn = created
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("key arn")
        .to_string();
    ok(s3
        .put_bucket_encryption()
        .bucket("enc")
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::AwsKms)
                                .kms_master_key_id(&key_arn)
                                .build()
                                .expect("default"),
                        )
                        .build(),
                )
                .build()
                .expect("config"),
        )
        .send()
        .await);
    let got = ok(s3.get_bucket_encryption().bucket("enc").send().await);
    let rule = &got
        .server_side_encryption_configuration()
        .expect("config")
        .rules()[0];
    let default = rule.apply_server_side_encryption_by_default().expect("default");
    assert_eq!(default.sse_algorithm(), &ServerSideEncryption::AwsKms);
    assert_eq!(default.kms_master_key_id(), Some(key_arn.as_str()));
    let put = ok(s3
        .put_object()
        .bucket("enc")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await);
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(put.ssekms_key_id(), Some(key_arn.as_str()));
    ok(s3.delete_bucket_encryption().bucket("enc").send().await);
    fail_with(
        s3.get_bucket_encryption().bucket("enc").send().await,
        "ServerSideEncryptionConfigurationNotFoundError",
    );
}

#[test]
fn objects_survive_a_restart() {
    let dir = TempDir::new("restart");
    let payload = data(2 * 1024 * 1024 + 3, 9);
    {
        let srv = Server::start_in(&dir.0);
        let s3 = srv.s3(&Creds::root());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async {
            ok(s3.create_bucket().bucket("durable").send().await);
            ok(s3
                .put_object()
                .bucket("durable")
                .key("k")
                .body(ByteStream::from(payload.clone()))
                .send()
                .await);
        });
    }
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let got = ok(s3.get_object().bucket("durable").key("k").send().await);
        assert_eq!(body_of(got).await, payload);
    });
}

#[tokio::test]
async fn signature_errors_read_as_s3s() {
    let dir = TempDir::new("sig");
    let srv = Server::start_in(&dir.0);
    let bad = srv.s3(&Creds::new(ROOT_AK, "wrong-secret-wrong-secret", None));
    fail_with(bad.list_buckets().send().await, "SignatureDoesNotMatch");
    let unknown = srv.s3(&Creds::new(
        "AKIAUNKNOWNUNKNOWN00",
        "whatever-whatever-whatever",
        None,
    ));
    fail_with(unknown.list_buckets().send().await, "InvalidAccessKeyId");
    // Anonymous requests are denied.
    let (status, _, body) = raw(srv.addr, "GET", "/", &[], b"").await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("<Code>AccessDenied</Code>"));
}

/// A PUT signed with SigV4 as a client would send it: `content_sha256` is the
/// `x-amz-content-sha256` mode (`None`: the body's hash); `body` gets the chunk signer.
async fn signed_put(
    srv: &Server,
    path: &str,
    extra: &[(&str, &str)],
    content_sha256: Option<&str>,
    body: impl FnOnce(porteiro_sigv4::ChunkSigner) -> Vec<u8>,
    plain: &[u8],
) -> (u16, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let host = srv.addr.to_string();
    let mut headers: Vec<(&str, &str)> = vec![("host", host.as_str())];
    headers.extend_from_slice(extra);
    if let Some(mode) = content_sha256 {
        headers.push(("x-amz-content-sha256", mode));
    }
    let creds = porteiro_sigv4::Credentials::new(ROOT_AK, ROOT_SK, None);
    let params = porteiro_sigv4::SigningParams::new(creds, "us-east-1", "s3", now);
    let signed = porteiro_sigv4::sign(
        &porteiro_sigv4::Request::new("PUT", path, "", &headers).with_body(plain),
        &params,
    )
    .expect("sign");
    let bytes = body(signed.chunk_signer());
    headers.retain(|(k, _)| *k != "x-amz-content-sha256");
    let added: Vec<(String, String)> = signed
        .headers()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    headers.extend(added.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (status, _, resp) = raw(srv.addr, "PUT", path, &headers, &bytes).await;
    (status, String::from_utf8_lossy(&resp).into_owned())
}

#[tokio::test]
async fn every_payload_mode_and_integrity_check() {
    use porteiro_sigv4::checksum::ChecksumAlgorithm;
    use porteiro_sigv4::encode_aws_chunked;
    let dir = TempDir::new("modes");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("modes").send().await);
    let payload = data(150_000, 3);
    let len = payload.len().to_string();
    let md5 = {
        use md5::{Digest, Md5};
        porteiro_sigv4::base64(&Md5::digest(&payload))
    };
    let get = |key: &'static str| {
        let s3 = s3.clone();
        async move { body_of(ok(s3.get_object().bucket("modes").key(key).send().await)).await }
    };

    // UNSIGNED-PAYLOAD with Content-MD5; a wrong MD5 is BadDigest.
    let (status, body) = signed_put(
        &srv,
        "/modes/unsigned",
        &[("content-md5", &md5)],
        Some("UNSIGNED-PAYLOAD"),
        |_| payload.clone(),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get("unsigned").await, payload);
    let (status, body) = signed_put(
        &srv,
        "/modes/unsigned2",
        &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
        Some("UNSIGNED-PAYLOAD"),
        |_| payload.clone(),
        &[],
    )
    .await;
    assert!(status == 400 && body.contains("<Code>BadDigest</Code>"), "{body}");

    // Signed payload hash with a wrong x-amz-checksum-sha256 header: BadDigest.
    let wrong = ChecksumAlgorithm::Sha256.compute(b"other");
    let (status, body) = signed_put(
        &srv,
        "/modes/signed",
        &[("x-amz-checksum-sha256", &wrong)],
        None,
        |_| payload.clone(),
        &payload,
    )
    .await;
    assert!(status == 400 && body.contains("<Code>BadDigest</Code>"), "{body}");
    // A body that is not the signed one: XAmzContentSHA256Mismatch.
    let (status, body) = signed_put(
        &srv,
        "/modes/signed",
        &[],
        None,
        |_| b"tampered".to_vec(),
        &payload,
    )
    .await;
    assert!(
        status == 400 && body.contains("XAmzContentSHA256Mismatch"),
        "{body}"
    );

    // STREAMING-UNSIGNED-PAYLOAD-TRAILER (awscli and boto3 over https) with a CRC32C trailer.
    let crc32c = ChecksumAlgorithm::Crc32c.compute(&payload);
    let chunked = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", len.as_str()),
        ("x-amz-trailer", "x-amz-checksum-crc32c"),
    ];
    let (status, body) = signed_put(
        &srv,
        "/modes/unsigned-trailer",
        &chunked,
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        |_| encode_aws_chunked(&payload, 65536, None, &[("x-amz-checksum-crc32c", &crc32c)]),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get("unsigned-trailer").await, payload);
    let bad = ChecksumAlgorithm::Crc32c.compute(b"x");
    let (status, body) = signed_put(
        &srv,
        "/modes/unsigned-trailer2",
        &chunked,
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        |_| encode_aws_chunked(&payload, 65536, None, &[("x-amz-checksum-crc32c", &bad)]),
        &[],
    )
    .await;
    assert!(status == 400 && body.contains("<Code>BadDigest</Code>"), "{body}");

    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD (signed chunks, no trailer); a flipped byte breaks
    // its chunk signature.
    let signed_chunks = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", len.as_str()),
    ];
    let (status, body) = signed_put(
        &srv,
        "/modes/signed-chunks",
        &signed_chunks,
        Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        |mut signer| encode_aws_chunked(&payload, 8192, Some(&mut signer), &[]),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get("signed-chunks").await, payload);
    let (status, body) = signed_put(
        &srv,
        "/modes/signed-chunks2",
        &signed_chunks,
        Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        |mut signer| {
            let mut b = encode_aws_chunked(&payload, 8192, Some(&mut signer), &[]);
            b[20_000] ^= 0x55;
            b
        },
        &[],
    )
    .await;
    assert!(
        status == 403 && body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );

    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with a signed SHA-256 trailer.
    let sha = ChecksumAlgorithm::Sha256.compute(&payload);
    let trailer = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", len.as_str()),
        ("x-amz-trailer", "x-amz-checksum-sha256"),
    ];
    let (status, body) = signed_put(
        &srv,
        "/modes/signed-trailer",
        &trailer,
        Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
        |mut signer| {
            encode_aws_chunked(
                &payload,
                65536,
                Some(&mut signer),
                &[("x-amz-checksum-sha256", &sha)],
            )
        },
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get("signed-trailer").await, payload);
    // The stored checksum comes back with x-amz-checksum-mode: ENABLED.
    let out = ok(s3
        .get_object()
        .bucket("modes")
        .key("signed-trailer")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await);
    assert_eq!(out.checksum_sha256(), Some(sha.as_str()));
    // Nothing half-written is left behind.
    let keys: Vec<String> = ok(s3.list_objects_v2().bucket("modes").send().await)
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(
        keys,
        vec!["signed-chunks", "signed-trailer", "unsigned", "unsigned-trailer"]
    );
    let tmp = std::fs::read_dir(dir.0.join("s3/tmp")).expect("tmp dir").count();
    assert_eq!(tmp, 0, "temp files of failed uploads are removed");
}

#[tokio::test]
async fn sse_condition_keys_in_policies() {
    let dir = TempDir::new("ssecond");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("ssecond").send().await);
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::ssecond/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]})
    .to_string();
    ok(s3
        .put_bucket_policy()
        .bucket("ssecond")
        .policy(policy)
        .send()
        .await);
    let msg = fail_with(
        s3.put_object()
            .bucket("ssecond")
            .key("plain")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        "AccessDenied",
    );
    assert!(msg.contains("explicit deny"), "{msg}");
    // Without the key, nothing is written; with it (by alias), S3 names the key's ARN.
    fail_with(
        s3.put_object()
            .bucket("ssecond")
            .key("kms")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("alias/app")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        "KMS.NotFoundException",
    );
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .endpoint_url(&srv.url)
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                ROOT_AK, ROOT_SK, None, None, "test",
            ))
            .http_client(srv.http.clone())
            .build(),
    );
    let created = ok(kms.create_key().send().await);
    let key_arn = created
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("key arn")
        .to_string();
    ok(kms
        .create_alias()
        .alias_name("alias/app")
        .target_key_id(&key_arn)
        .send()
        .await);
    let put = ok(s3
        .put_object()
        .bucket("ssecond")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/app")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await);
    assert_eq!(put.ssekms_key_id(), Some(key_arn.as_str()));
    let head = ok(s3.head_object().bucket("ssecond").key("kms").send().await);
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
}

#[tokio::test]
async fn existing_object_tag_condition() {
    let dir = TempDir::new("tags");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("tagged").send().await);
    ok(s3
        .put_object()
        .bucket("tagged")
        .key("public")
        .tagging("class=public")
        .body(ByteStream::from_static(b"p"))
        .send()
        .await);
    ok(s3
        .put_object()
        .bucket("tagged")
        .key("secret")
        .tagging("class=secret")
        .body(ByteStream::from_static(b"s"))
        .send()
        .await);
    let tags = ok(s3
        .get_object_tagging()
        .bucket("tagged")
        .key("public")
        .send()
        .await);
    assert_eq!(tags.tag_set()[0].value(), "public");
    let reader = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tagged/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "public"}}}]})
    .to_string();
    let reader = srv.s3(&srv.user("reader", Some(&reader)).await);
    ok(reader.get_object().bucket("tagged").key("public").send().await);
    fail_with(
        reader.get_object().bucket("tagged").key("secret").send().await,
        "AccessDenied",
    );
}

#[tokio::test]
async fn upload_part_copy_with_ranges() {
    let dir = TempDir::new("partcopy");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("pcopy").send().await);
    let source = data(6 * 1024 * 1024 + 5, 4);
    ok(s3
        .put_object()
        .bucket("pcopy")
        .key("src")
        .body(ByteStream::from(source.clone()))
        .send()
        .await);
    let up = ok(s3
        .create_multipart_upload()
        .bucket("pcopy")
        .key("dst")
        .send()
        .await);
    let id = up.upload_id().expect("id").to_string();
    let split = 5 * 1024 * 1024;
    let mut parts = Vec::new();
    for (n, range) in [
        (1, format!("bytes=0-{}", split - 1)),
        (2, format!("bytes={split}-{}", source.len() - 1)),
    ] {
        let out = ok(s3
            .upload_part_copy()
            .bucket("pcopy")
            .key("dst")
            .upload_id(&id)
            .part_number(n)
            .copy_source("pcopy/src")
            .copy_source_range(range)
            .send()
            .await);
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .expect("etag")
            .to_string();
        parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    ok(s3
        .complete_multipart_upload()
        .bucket("pcopy")
        .key("dst")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await);
    let got = ok(s3.get_object().bucket("pcopy").key("dst").send().await);
    assert_eq!(got.content_length(), Some(source.len() as i64));
    assert!(body_of(got).await == source);
}

#[tokio::test]
async fn bucket_policy_on_source_vpce_through_an_endpoint_listener() {
    let dir = TempDir::new("vpce");
    let srv = Server::start_in(&dir.0);
    // A second listener standing for vpce-1a2b3c4d in vpc-111bbb22.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let vpce_addr = listener.local_addr().expect("addr");
    let serving = srv.cloud.clone();
    let endpoint = porteiro_cloud::VpcEndpoint::new("vpce-1a2b3c4d", "vpc-111bbb22").expect("ids");
    srv.rt.as_ref().expect("rt").spawn(async move {
        let l = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let _ = serving.serve_vpc_endpoint(l, endpoint).await;
    });
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("vpc-only").send().await);
    ok(s3
        .put_object()
        .bucket("vpc-only")
        .key("k")
        .body(ByteStream::from_static(b"inside"))
        .send()
        .await);
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vpc-only/*",
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}]})
    .to_string();
    ok(s3
        .put_bucket_policy()
        .bucket("vpc-only")
        .policy(policy)
        .send()
        .await);
    let msg = fail_with(
        s3.get_object().bucket("vpc-only").key("k").send().await,
        "AccessDenied",
    );
    assert!(msg.contains("explicit deny in a resource-based policy"), "{msg}");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{vpce_addr}"))
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ROOT_AK, ROOT_SK, None, None, "test",
        ))
        .http_client(srv.http.clone())
        .build();
    let through = aws_sdk_s3::Client::from_conf(conf);
    let got = ok(through.get_object().bucket("vpc-only").key("k").send().await);
    assert_eq!(body_of(got).await, b"inside");
}

#[tokio::test]
async fn cross_account_user_needs_bucket_policy_and_identity_policy() {
    let dir = TempDir::new("xuser");
    let srv = Server::start_in(&dir.0);
    srv.create_other_account();
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("xacct").send().await);
    ok(s3
        .put_object()
        .bucket("xacct")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await);
    // dave, in the other account, is allowed by his own identity policy only.
    let iam = srv.iam(&Creds::other_root());
    ok(iam.create_user().user_name("dave").send().await);
    let identity = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::xacct/*"}]})
    .to_string();
    ok(iam
        .put_user_policy()
        .user_name("dave")
        .policy_name("read")
        .policy_document(&identity)
        .send()
        .await);
    let key = ok(iam.create_access_key().user_name("dave").send().await);
    let key = key.access_key().expect("key");
    let dave = srv.s3(&Creds::new(key.access_key_id(), key.secret_access_key(), None));
    fail_with(
        dave.get_object().bucket("xacct").key("k").send().await,
        "AccessDenied",
    );
    // The bucket policy trusts the other account: now both sides allow.
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": OTHER_ACCOUNT}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::xacct/*"}]})
    .to_string();
    ok(s3.put_bucket_policy().bucket("xacct").policy(policy).send().await);
    ok(dave.get_object().bucket("xacct").key("k").send().await);
    // Without his identity policy the bucket policy alone is not enough across accounts.
    ok(iam
        .delete_user_policy()
        .user_name("dave")
        .policy_name("read")
        .send()
        .await);
    fail_with(
        dave.get_object().bucket("xacct").key("k").send().await,
        "AccessDenied",
    );
}

#[tokio::test]
async fn assumed_role_session_credentials() {
    let dir = TempDir::new("role");
    let srv = Server::start_in(&dir.0);
    let s3 = srv.s3(&Creds::root());
    ok(s3.create_bucket().bucket("roles").send().await);
    let iam = srv.root_iam();
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]})
    .to_string();
    ok(iam
        .create_role()
        .role_name("writer")
        .assume_role_policy_document(trust)
        .send()
        .await);
    let perms = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::roles/*"}]})
    .to_string();
    ok(iam
        .put_role_policy()
        .role_name("writer")
        .policy_name("p")
        .policy_document(perms)
        .send()
        .await);
    // Root users cannot assume roles: an IAM user allowed to does.
    let assume = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
    .to_string();
    let assumer = srv.user("assumer", Some(&assume)).await;
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(&srv.url)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                &assumer.ak,
                &assumer.sk,
                None,
                None,
                "test",
            ))
            .http_client(srv.http.clone())
            .build(),
    );
    let out = ok(sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/writer"))
        .role_session_name("job-1")
        .send()
        .await);
    let c = out.credentials().expect("credentials");
    let session = srv.s3(&Creds {
        ak: c.access_key_id().to_string(),
        sk: c.secret_access_key().to_string(),
        token: Some(c.session_token().to_string()),
    });
    ok(session
        .put_object()
        .bucket("roles")
        .key("out")
        .body(ByteStream::from_static(b"r"))
        .send()
        .await);
    let msg = fail_with(
        session.delete_object().bucket("roles").key("out").send().await,
        "AccessDenied",
    );
    assert!(
        msg.starts_with(&format!("User: arn:aws:sts::{ACCOUNT}:assumed-role/writer/job-1 is not authorized to perform: s3:DeleteObject")),
        "{msg}"
    );
}
