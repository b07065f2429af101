//! Load test of the API gateway: 50 concurrent JIT sessions of the real `porteiro serve`
//! making AWS SDK calls (STS, IAM, S3 put and get) through the gateway; then every session is
//! dropped, and every recording must verify and hold exactly the calls its session made.
//!
//! The CI run is short (5 s); `PORTEIRO_GATEWAY_LOAD_SECONDS=60` runs the issue's minute:
//!
//! ```text
//! PORTEIRO_GATEWAY_LOAD_SECONDS=60 cargo test -p porteiro --test gateway_load -- --nocapture
//! ```

mod gateway;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gateway::*;
use porteiro_recording::{LocalDir, SessionId, Verdict, verify_stored};
use serde_json::Value;

const SESSIONS: usize = 50;
const ROLES: [&str; 5] = ["Load0", "Load1", "Load2", "Load3", "Load4"];

fn no_retry_sts(endpoint: &str, ak: &str, sk: &str) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_sts::config::Credentials::new(ak, sk, None, None, "t"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

fn no_retry_iam(endpoint: &str, ak: &str, sk: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_iam::config::Credentials::new(ak, sk, None, None, "t"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

fn no_retry_s3(endpoint: &str, ak: &str, sk: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(ak, sk, None, None, "t"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[test]
fn fifty_concurrent_jit_sessions_lose_no_event_and_every_chain_verifies() {
    let seconds: u64 = std::env::var("PORTEIRO_GATEWAY_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let p = Porteiro::start("gateway-load");
    let s = p.setup(&ROLES);
    let sessions: Vec<Jit> = (0..SESSIONS)
        .map(|i| p.start_jit(&s, ROLES[i % ROLES.len()], 3600))
        .collect();
    let rt = runtime();
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let counts: Vec<u64> = rt.block_on(async {
        let mut tasks = Vec::new();
        for (i, jit) in sessions.iter().enumerate() {
            let (e, ak, sk) = (
                jit.endpoint.clone(),
                jit.access_key_id.clone(),
                jit.secret.clone(),
            );
            let errors = errors.clone();
            tasks.push(tokio::spawn(async move {
                let sts = no_retry_sts(&e, &ak, &sk);
                let iam = no_retry_iam(&e, &ak, &sk);
                let s3 = no_retry_s3(&e, &ak, &sk);
                let bucket = format!("load-{i}");
                let mut calls = 0u64;
                let fail = |r: bool| {
                    if !r {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                };
                fail(s3.create_bucket().bucket(&bucket).send().await.is_ok());
                calls += 1;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let key = format!("k{}", (n / 4) % 8);
                    match n % 4 {
                        0 => fail(sts.get_caller_identity().send().await.is_ok()),
                        1 => fail(
                            s3.put_object()
                                .bucket(&bucket)
                                .key(&key)
                                .body(format!("object {n} of session {i}").into_bytes().into())
                                .send()
                                .await
                                .is_ok(),
                        ),
                        2 => fail(s3.get_object().bucket(&bucket).key(&key).send().await.is_ok()),
                        _ => fail(iam.list_roles().max_items(5).send().await.is_ok()),
                    }
                    calls += 1;
                    n += 1;
                }
                calls
            }));
        }
        let mut counts = Vec::new();
        for t in tasks {
            counts.push(t.await.expect("task"));
        }
        counts
    });
    let elapsed = started.elapsed().as_secs_f64();
    let total: u64 = counts.iter().sum();
    eprintln!(
        "gateway load: {SESSIONS} sessions, {total} calls in {elapsed:.1} s ({:.0} calls/s), {} failed",
        total as f64 / elapsed,
        errors.load(Ordering::Relaxed)
    );
    assert_eq!(errors.load(Ordering::Relaxed), 0, "every call succeeds");

    // Drop every session; each recording closes, verifies, and holds every call.
    for jit in &sessions {
        let v = p.ok(
            "POST",
            &format!("/sessions/{}/drop", jit.id),
            &s.admin,
            Value::Null,
        );
        assert_eq!(v["status"], "dropped");
    }
    let dir = p.recordings();
    let store = LocalDir::new(&dir);
    for (jit, calls) in sessions.iter().zip(&counts) {
        wait_closed(&dir, &jit.id);
        let id = SessionId::new(&jit.id).expect("id");
        let report = verify_stored(&store, &id, None).expect("readable");
        assert!(
            matches!(report.verdict, Verdict::Verified { .. }),
            "{}: {report:?}",
            jit.id
        );
        let evs = events(&dir, &jit.id);
        let recorded = evs.iter().filter(|e| e["kind"] == "apiCall").count() as u64;
        assert_eq!(recorded, *calls, "session {}: no event lost", jit.id);
        assert_eq!(evs.len() as u64, calls + 2, "start, calls, end");
    }
}
