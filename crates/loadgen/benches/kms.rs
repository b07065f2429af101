//! KMS throughput of the embedded cloud: Encrypt, Decrypt and GenerateDataKey requests per
//! second over HTTP (keep-alive connections, each request freshly SigV4-signed), beside
//! `sts:GetCallerIdentity` as the baseline of the request path, and the raw AES-256-GCM blob
//! operations without HTTP.
//!
//! Self-contained: it opens a cloud in a temporary directory and serves it on 127.0.0.1:0 in
//! this process (its own 2-thread runtime, as `porteiro cloud serve` has).
//!
//! ```text
//! cargo bench -p porteiro-loadgen --bench kms -- [--concurrency 16] [--duration 3]
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use porteiro_cloud::kms::crypto::{KeyCipher, parse_blob, random};
use porteiro_cloud::{Cloud, CloudConfig, RootCredentials};
use porteiro_sigv4::{Credentials, SigningParams};

const ROOT_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const ROOT_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// One kind of request.
#[derive(Debug, Clone)]
struct Op {
    name: String,
    service: &'static str,
    content_type: &'static str,
    target: Option<&'static str>,
    body: Bytes,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn signed(addr: SocketAddr, op: &Op) -> Result<hyper::Request<Full<Bytes>>, String> {
    let host = addr.to_string();
    let mut headers = vec![("host", host.as_str()), ("content-type", op.content_type)];
    if let Some(t) = op.target {
        headers.push(("x-amz-target", t));
    }
    let request = porteiro_sigv4::Request::new("POST", "/", "", &headers).with_body(&op.body);
    let params = SigningParams::new(
        Credentials::new(ROOT_KEY, ROOT_SECRET, None),
        "us-east-1",
        op.service,
        unix_now(),
    );
    let s = porteiro_sigv4::sign(&request, &params).map_err(|e| format!("cannot sign: {e}"))?;
    let mut b = hyper::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", host.as_str())
        .header("content-type", op.content_type)
        .header("x-amz-date", s.x_amz_date.as_str())
        .header("authorization", s.authorization.as_str());
    if let Some(t) = op.target {
        b = b.header("x-amz-target", t);
    }
    b.body(Full::new(op.body.clone())).map_err(|e| e.to_string())
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<(u16, Bytes), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}

fn kms_op(name: &str, target: &'static str, body: serde_json::Value) -> Op {
    Op {
        name: name.to_string(),
        service: "kms",
        content_type: "application/x-amz-json-1.1",
        target: Some(target),
        body: Bytes::from(body.to_string()),
    }
}

/// Runs `op` on `concurrency` connections for `duration`: (requests/s, p50 µs, p99 µs, errors).
async fn load(addr: SocketAddr, op: Arc<Op>, concurrency: usize, duration: Duration) -> (f64, u64, u64, u64) {
    let end = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let Ok(mut sender) = connect(addr).await else {
                return (lat, 1);
            };
            while Instant::now() < end {
                let Ok(req) = signed(addr, &op) else {
                    errors += 1;
                    continue;
                };
                let t = Instant::now();
                match send(&mut sender, req).await {
                    Ok((200, _)) => lat.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)),
                    Ok(_) | Err(_) => {
                        errors += 1;
                        match connect(addr).await {
                            Ok(s) => sender = s,
                            Err(_) => break,
                        }
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    (
        all.len() as f64 / duration.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        errors,
    )
}

fn raw_crypto(size: usize, duration: Duration) -> Result<(f64, f64), String> {
    let material = random(32).map_err(|e| e.to_string())?;
    let cipher = KeyCipher::new(material.expose()).ok_or("bad material")?;
    let context = BTreeMap::from([("aws:s3:arn".to_string(), "arn:aws:s3:::bkt/obj".to_string())]);
    let plaintext = vec![7u8; size];
    let key_id = "0f6c3a52-6b4e-4d7e-a1d2-3c4b5a697887";
    let blob = cipher
        .encrypt(key_id, &plaintext, &context)
        .map_err(|e| e.to_string())?;
    let measure = |f: &mut dyn FnMut() -> bool| {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < duration {
            for _ in 0..64 {
                if !f() {
                    return 0.0;
                }
                n += 1;
            }
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    let enc = measure(&mut || cipher.encrypt(key_id, &plaintext, &context).is_ok());
    let dec = measure(&mut || {
        parse_blob(&blob)
            .ok()
            .and_then(|b| cipher.decrypt(&b, &context).ok())
            .is_some()
    });
    Ok((enc, dec))
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kms bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut concurrency = 16usize;
    let mut duration = 3.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--concurrency" => {
                concurrency = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--concurrency needs a number")?;
            }
            "--duration" => {
                duration = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--duration needs seconds")?;
            }
            _ => {}
        }
    }
    let duration = Duration::from_secs_f64(duration);

    for size in [32usize, 4096] {
        let (enc, dec) = raw_crypto(size, Duration::from_millis(500))?;
        println!(
            "raw AES-256-GCM blob, {size:>4} B: encrypt {enc:>10.0} ops/s ({:>7.1} MB/s), decrypt {dec:>10.0} ops/s ({:>7.1} MB/s)",
            enc * size as f64 / 1e6,
            dec * size as f64 / 1e6
        );
    }

    let dir = std::env::temp_dir().join(format!("porteiro-kms-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (cloud, _) = Cloud::open(&CloudConfig {
        data_dir: dir.clone(),
        account_id: Some("123456789012".into()),
        root_credentials: Some(RootCredentials {
            access_key_id: ROOT_KEY.into(),
            secret_access_key: ROOT_SECRET.into(),
        }),
    })
    .map_err(|e| e.to_string())?;
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    server_rt.spawn(async move {
        if let Ok(l) = tokio::net::TcpListener::from_std(listener) {
            let _ = cloud.serve(l).await;
        }
    });
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = client_rt.block_on(async move {
        let mut c = connect(addr).await?;
        let create = kms_op("create-key", "TrentService.CreateKey", serde_json::json!({}));
        let (status, body) = send(&mut c, signed(addr, &create)?).await?;
        let created: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let key_id = created["KeyMetadata"]["KeyId"]
            .as_str()
            .ok_or_else(|| format!("CreateKey failed: HTTP {status}: {created}"))?
            .to_string();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let ctx = serde_json::json!({"aws:s3:arn": "arn:aws:s3:::bkt/obj"});
        let enc4k = kms_op(
            "Encrypt 4 KiB",
            "TrentService.Encrypt",
            serde_json::json!({"KeyId": key_id, "Plaintext": b64(&[7u8; 4096]), "EncryptionContext": ctx}),
        );
        let (_, body) = send(&mut c, signed(addr, &enc4k)?).await?;
        let enc: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let blob = enc["CiphertextBlob"]
            .as_str()
            .ok_or("Encrypt failed")?
            .to_string();
        let ops = vec![
            Op {
                name: "sts GetCallerIdentity (baseline)".into(),
                service: "sts",
                content_type: "application/x-www-form-urlencoded; charset=utf-8",
                target: None,
                body: Bytes::from_static(b"Action=GetCallerIdentity&Version=2011-06-15"),
            },
            kms_op(
                "Encrypt 32 B",
                "TrentService.Encrypt",
                serde_json::json!({"KeyId": key_id, "Plaintext": b64(&[7u8; 32]), "EncryptionContext": ctx}),
            ),
            enc4k,
            kms_op(
                "Decrypt 4 KiB",
                "TrentService.Decrypt",
                serde_json::json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
            ),
            kms_op(
                "GenerateDataKey AES_256",
                "TrentService.GenerateDataKey",
                serde_json::json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": ctx}),
            ),
        ];
        println!(
            "HTTP, {concurrency} keep-alive connections, {:.0} s each:",
            duration.as_secs_f64()
        );
        for op in ops {
            let name = op.name.clone();
            let (rps, p50, p99, errors) = load(addr, Arc::new(op), concurrency, duration).await;
            println!("  {name:<34} {rps:>9.0} req/s   p50 {p50:>6} µs   p99 {p99:>6} µs   errors {errors}");
        }
        Ok::<_, String>(())
    });
    server_rt.shutdown_background();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
