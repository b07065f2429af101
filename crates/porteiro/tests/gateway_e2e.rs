//! End to end: JIT sessions through the API gateway of the real `porteiro serve` binary, with
//! the AWS SDK for Rust and the unmodified `aws` CLI (v1; skipped when absent unless
//! `PORTEIRO_E2E_REQUIRE_TOOLS=1`), the recording verified and replayed afterwards, and the
//! session cut at its drop and at its expiry (`ExpiredToken` within a second).

mod gateway;

use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use gateway::*;
use serde_json::{Value, json};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether the `aws` CLI runs here; with `PORTEIRO_E2E_REQUIRE_TOOLS=1` its absence fails.
fn aws_cli() -> bool {
    let found = std::process::Command::new("aws")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("PORTEIRO_E2E_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "the aws CLI is required (PORTEIRO_E2E_REQUIRE_TOOLS=1): pip install awscli"
        );
        eprintln!("skipping the aws CLI part: `aws` is not installed (pip install awscli)");
    }
    found
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One HTTP/1.1 request (`Connection: close`); the status and the body (content-length framed).
fn raw_http(
    host: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, raw[split + 4..].to_vec())
}

/// A PUT whose body is aws-chunked with chunk signatures, signed with the gateway credentials.
fn chunked_put(host: &str, jit: &Jit, path: &str, payload: &[u8], tamper: bool) -> (u16, Vec<u8>) {
    let len = payload.len().to_string();
    let base = [
        ("host", host),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", len.as_str()),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
    ];
    let req = porteiro_sigv4::Request::new("PUT", path, "", &base);
    let creds = porteiro_sigv4::Credentials::new(&jit.access_key_id, &jit.secret, None);
    let signed = porteiro_sigv4::sign(
        &req,
        &porteiro_sigv4::SigningParams::new(creds, "us-east-1", "s3", unix_now()),
    )
    .expect("signs");
    let mut body = porteiro_sigv4::encode_aws_chunked(payload, 8192, Some(&mut signed.chunk_signer()), &[]);
    if tamper {
        body[10_000] ^= 0x55;
    }
    let mut headers: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| *k != "x-amz-content-sha256")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    headers.extend(
        signed
            .headers()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    raw_http(host, "PUT", path, &headers, &body)
}

#[test]
fn a_jit_session_through_the_gateway_is_recorded_and_cut_at_its_drop() {
    let p = Porteiro::start("gateway-e2e");
    let s = p.setup(&["Admin"]);
    let jit = p.start_jit(&s, "Admin", 900);
    assert!(jit.access_key_id.starts_with("PGWA"), "{}", jit.access_key_id);
    assert_eq!(jit.endpoint, p.gateway);

    // The CLI: log in as Ana, then `session env` and `session credential-process`.
    let url = format!("http://{}", p.api);
    let o = p.cli(
        &["login", "--url", &url, "--username", "ana"],
        &format!("{ANA_PASSWORD}\n"),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = p.cli(&["session", "env", &jit.id], "", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let env = stdout(&o);
    assert!(
        env.contains(&format!("export AWS_ACCESS_KEY_ID={}\n", jit.access_key_id)),
        "{env}"
    );
    assert!(
        env.contains(&format!("export AWS_ENDPOINT_URL={}\n", p.gateway)),
        "{env}"
    );
    assert!(env.contains("export AWS_REGION=us-east-1\n"), "{env}");
    assert!(env.contains("unset AWS_SESSION_TOKEN"), "{env}");
    let o = p.cli(&["session", "credential-process", &jit.id], "", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cp: Value = serde_json::from_slice(&o.stdout).expect("credential_process JSON");
    assert_eq!(cp["Version"], 1);
    assert_eq!(cp["AccessKeyId"], jit.access_key_id.as_str());
    assert_eq!(cp["SecretAccessKey"], jit.secret.as_str());
    assert!(
        cp["Expiration"].as_str().is_some_and(|e| e.ends_with('Z')),
        "{cp}"
    );
    // Only the session's owner may fetch its gateway credentials.
    let (status, _) = p.call(
        "GET",
        &format!("/sessions/{}/gateway-credentials", jit.id),
        Some(&s.admin),
        None,
    );
    assert_eq!(status, 404);

    let rt = runtime();
    let mut calls = 0;
    rt.block_on(async {
        // The AWS SDK for Rust: the session is the role's, named after Ana.
        let me = sts(&jit.endpoint, &jit.access_key_id, &jit.secret)
            .get_caller_identity()
            .send()
            .await
            .expect("GetCallerIdentity through the gateway");
        assert_eq!(me.arn(), Some("arn:aws:sts::123456789012:assumed-role/Admin/ana"));
        let roles = p
            .iam(&jit.endpoint, &jit.access_key_id, &jit.secret, None)
            .list_roles()
            .send()
            .await
            .expect("ListRoles through the gateway");
        assert!(roles.roles().iter().any(|r| r.role_name() == "Admin"));
        let s3c = s3(&jit.endpoint, &jit.access_key_id, &jit.secret);
        s3c.create_bucket()
            .bucket("gw-bucket")
            .send()
            .await
            .expect("CreateBucket");
        let body = "hello through the gateway ".repeat(2000);
        s3c.put_object()
            .bucket("gw-bucket")
            .key("dir/sdk.txt")
            .body(body.clone().into_bytes().into())
            .send()
            .await
            .expect("PutObject (aws-chunked with a trailer checksum)");
        let got = s3c
            .get_object()
            .bucket("gw-bucket")
            .key("dir/sdk.txt")
            .send()
            .await
            .expect("GetObject");
        let bytes = got.body.collect().await.expect("body").into_bytes();
        assert_eq!(bytes.as_ref(), body.as_bytes());
        let missing = s3c
            .get_object()
            .bucket("gw-bucket")
            .key("missing")
            .send()
            .await
            .expect_err("no such key");
        assert_eq!(missing.code(), Some("NoSuchKey"));
        calls += 6;

        // A body with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) is verified chunk by
        // chunk and forwarded; a flipped byte is refused. A presigned URL works too.
        let payload = b"signed chunks through the gateway ".repeat(1000);
        let host = jit.endpoint.trim_start_matches("http://").to_string();
        let (status, body) = chunked_put(&host, &jit, "/gw-bucket/chunked.bin", &payload, false);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let (status, body) = chunked_put(&host, &jit, "/gw-bucket/tampered.bin", &payload, true);
        assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("<Code>SignatureDoesNotMatch</Code>"));
        let headers = [("host", host.as_str())];
        let req = porteiro_sigv4::Request::new("GET", "/gw-bucket/chunked.bin", "", &headers);
        let creds = porteiro_sigv4::Credentials::new(&jit.access_key_id, &jit.secret, None);
        let url = porteiro_sigv4::presign(
            &req,
            &porteiro_sigv4::SigningParams::new(creds, "us-east-1", "s3", unix_now()),
            300,
        )
        .expect("presigns");
        let (status, body) = raw_http(
            &host,
            "GET",
            &format!("/gw-bucket/chunked.bin?{}", url.query),
            &[],
            b"",
        );
        assert_eq!(status, 200);
        assert_eq!(
            body, payload,
            "the presigned GET returns what the signed chunks carried"
        );
        calls += 3;

        // A wrong secret is refused by the gateway (and recorded); an unknown key too.
        let err = p
            .iam(
                &jit.endpoint,
                &jit.access_key_id,
                "wrong-secret-wrong-secret-wrong-secret-00",
                None,
            )
            .list_roles()
            .send()
            .await
            .expect_err("bad signature");
        assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
        calls += 1;
        let err = sts(&jit.endpoint, "PGWAUNKNOWNUNKNOWN22", &jit.secret)
            .get_caller_identity()
            .send()
            .await
            .expect_err("unknown key");
        assert_eq!(err.code(), Some("InvalidClientTokenId"));
    });

    // The unmodified aws CLI (v1) through `porteiro session exec`.
    if aws_cli() {
        let file = p.dir.join("cli-upload.txt");
        std::fs::write(&file, "uploaded by the aws CLI\n".repeat(100)).expect("file");
        let exec = |args: &[&str]| {
            let mut all = vec!["session", "exec", jit.id.as_str(), "--", "aws"];
            all.extend_from_slice(args);
            p.cli(&all, "", &[])
        };
        let o = exec(&["sts", "get-caller-identity", "--output", "json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let me: Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(me["Arn"], "arn:aws:sts::123456789012:assumed-role/Admin/ana");
        let o = exec(&["iam", "list-roles", "--output", "json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("\"RoleName\": \"Admin\""));
        let target = "s3://gw-bucket/cli/upload.txt";
        let o = exec(&["s3", "cp", file.to_str().expect("utf-8"), target]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = exec(&["s3", "cp", target, "-"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "uploaded by the aws CLI\n".repeat(100));
        // get-caller-identity, list-roles, PutObject, and HeadObject + GetObject for the copy.
        calls += 5;
    }

    // The admin drops the session: the very next call answers ExpiredToken.
    let dropped = p.ok(
        "POST",
        &format!("/sessions/{}/drop", jit.id),
        &s.admin,
        Value::Null,
    );
    assert_eq!(dropped["status"], "dropped");
    let at = Instant::now();
    rt.block_on(async {
        let err = sts(&jit.endpoint, &jit.access_key_id, &jit.secret)
            .get_caller_identity()
            .send()
            .await
            .expect_err("cut");
        assert_eq!(err.code(), Some("ExpiredToken"));
        let err = s3(&jit.endpoint, &jit.access_key_id, &jit.secret)
            .list_buckets()
            .send()
            .await
            .expect_err("cut");
        assert_eq!(err.code(), Some("ExpiredToken"));
    });
    assert!(at.elapsed() < Duration::from_secs(1), "cut within a second");
    if aws_cli() {
        let o = p.cli(
            &[
                "session",
                "exec",
                &jit.id,
                "--",
                "aws",
                "sts",
                "get-caller-identity",
            ],
            "",
            &[],
        );
        assert!(!o.status.success());
        assert!(stderr(&o).contains("has ended"), "{}", stderr(&o));
    }

    // The recording: every call, closed with a signed manifest, verifies and replays.
    let dir = p.recordings();
    wait_closed(&dir, &jit.id);
    let evs = events(&dir, &jit.id);
    assert_eq!(
        evs.first().map(|e| e["kind"].clone()),
        Some(json!("sessionStart"))
    );
    assert_eq!(evs.last().map(|e| e["kind"].clone()), Some(json!("sessionEnd")));
    assert_eq!(
        evs.last().map(|e| e["reason"].clone()),
        Some(json!("dropped by admin"))
    );
    let api_calls: Vec<&Value> = evs.iter().filter(|e| e["kind"] == "apiCall").collect();
    let actions: Vec<&str> = api_calls.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(api_calls.len(), calls, "{actions:?}");
    let find = |action: &str| {
        api_calls
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {api_calls:#?}"))
    };
    let put = find("PutObject");
    assert_eq!(put["service"], "s3");
    assert_eq!(put["resource"], "arn:aws:s3:::gw-bucket/dir/sdk.txt");
    assert_eq!(put["status"], 200);
    assert!(put["requestBytes"].as_u64().is_some_and(|n| n >= 50_000), "{put}");
    assert!(put["requestId"].is_string(), "{put}");
    let get = find("GetObject");
    assert!(
        get["responseBytes"].as_u64().is_some_and(|n| n >= 50_000),
        "{get}"
    );
    assert!(
        api_calls
            .iter()
            .any(|e| e["errorCode"] == "NoSuchKey" && e["status"] == 404)
    );
    assert!(
        api_calls
            .iter()
            .any(|e| e["errorCode"] == "SignatureDoesNotMatch" && e["action"] == "ListRoles")
    );
    assert_eq!(find("GetCallerIdentity")["service"], "sts");
    assert!(
        !std::fs::read_to_string(dir.join(&jit.id).join("events.jsonl"))
            .expect("log")
            .contains(&jit.secret)
    );

    let o = p.cli(&["recordings", "verify", &jit.id], "", &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = p.cli(&["recordings", "play", &jit.id, "--speed", "0"], "", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let play = stdout(&o);
    for action in [
        "GetCallerIdentity",
        "ListRoles",
        "PutObject",
        "GetObject",
        "SignatureDoesNotMatch",
    ] {
        assert!(play.contains(action), "{action} not in:\n{play}");
    }
}

#[test]
fn the_gateway_cuts_a_session_at_its_expiry_within_a_second() {
    let p = Porteiro::start("gateway-expiry");
    let s = p.setup(&["Admin"]);
    let jit = p.start_jit(&s, "Admin", 900);
    let rt = runtime();
    rt.block_on(async {
        s3(&jit.endpoint, &jit.access_key_id, &jit.secret)
            .list_buckets()
            .send()
            .await
            .expect("works before the expiry");
    });
    // 890 s later it still works; at 900 s it is cut.
    p.set_clock_offset(890);
    rt.block_on(async {
        p.iam(&jit.endpoint, &jit.access_key_id, &jit.secret, None)
            .list_roles()
            .send()
            .await
            .expect("works until the expiry");
    });
    let applied = p.set_clock_offset(900);
    rt.block_on(async {
        let err = p
            .iam(&jit.endpoint, &jit.access_key_id, &jit.secret, None)
            .list_roles()
            .send()
            .await
            .expect_err("expired");
        assert_eq!(err.code(), Some("ExpiredToken"));
    });
    assert!(applied.elapsed() < Duration::from_secs(1), "cut within a second");
    // The scheduler ends the session; its recording closes with reason `expired`.
    let dir = p.recordings();
    wait_closed(&dir, &jit.id);
    let evs = events(&dir, &jit.id);
    assert_eq!(evs.last().map(|e| e["reason"].clone()), Some(json!("expired")));
    assert_eq!(evs.iter().filter(|e| e["kind"] == "apiCall").count(), 2);
    let o = p.cli(&["recordings", "verify", &jit.id], "", &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}
