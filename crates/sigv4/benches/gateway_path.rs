//! The SigV4 work of the API gateway per request (criterion): parse and verify the client's
//! signature (gateway credentials), then re-sign the request with the session's STS
//! credentials, with the signing keys derived per request or taken from a [`KeyCache`].
//! The request is the one the load generator (`crates/loadgen/benches/load.rs`) sends:
//! `sts:GetCallerIdentity`, form body, header-signed.
//!
//! ```text
//! cargo bench -p porteiro-sigv4 --bench gateway_path     # measure
//! cargo test -p porteiro-sigv4 --benches                 # run each benchmark once
//! ```
//!
//! Numbers are in `docs/benchmarks.md`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use porteiro_sigv4::{
    Credentials, KeyCache, Request, SigningKey, SigningParams, parse, sign, sign_with_key, verify,
    verify_with_key,
};

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const GW_KEY: &str = "PGWAEXAMPLEGATEWAYKEY";
const GW_SECRET: &str = "gatewaysecretgatewaysecretgatewaysecret0";
const STS_KEY: &str = "ASIAEXAMPLESTSKEY0001";
const STS_SECRET: &str = "stssecretstssecretstssecretstssecret0000";

/// The client's request as the gateway receives it: (name, value) pairs.
fn client_headers() -> Vec<(String, String)> {
    let headers = [("host", "127.0.0.1:4567"), ("content-type", FORM)];
    let request = Request::new("POST", "/", "", &headers).with_body(BODY);
    let params = SigningParams::new(Credentials::new(GW_KEY, GW_SECRET, None), "us-east-1", "sts", NOW);
    let Ok(signed) = sign(&request, &params) else {
        panic!("cannot sign the client's request");
    };
    vec![
        ("host".into(), "127.0.0.1:4567".into()),
        ("content-type".into(), FORM.into()),
        ("x-amz-date".into(), signed.x_amz_date.clone()),
        ("authorization".into(), signed.authorization.clone()),
        ("content-length".into(), BODY.len().to_string()),
    ]
}

/// The token an STS session carries (about as long as a real one).
fn session_token() -> String {
    "FwoGZXIvYXdzE".repeat(30)
}

fn bench(c: &mut Criterion) {
    let owned = client_headers();
    let headers: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let out_headers = [
        ("content-type", FORM),
        ("content-length", "43"),
        ("host", "127.0.0.1:4566"),
    ];
    let token = session_token();
    let verify_keys = KeyCache::new(GW_SECRET);
    let sign_keys = KeyCache::new(STS_SECRET);

    let mut g = c.benchmark_group("gateway_sigv4");
    g.bench_function("key derivation (4 HMACs)", |b| {
        b.iter(|| SigningKey::derive(black_box(GW_SECRET), "20260101", "us-east-1", "sts"))
    });
    g.bench_function("verify, key derived", |b| {
        b.iter(|| {
            let req = Request::new("POST", "/", "", &headers).with_body(black_box(BODY));
            let Ok(auth) = parse(&req) else {
                panic!("cannot parse")
            };
            verify(&req, &auth, GW_SECRET, NOW).is_ok()
        })
    });
    g.bench_function("verify, key cached", |b| {
        b.iter(|| {
            let req = Request::new("POST", "/", "", &headers).with_body(black_box(BODY));
            let Ok(auth) = parse(&req) else {
                panic!("cannot parse")
            };
            let key = verify_keys.key(auth.scope_date(), auth.region(), auth.service());
            verify_with_key(&req, &auth, &key, NOW).is_ok()
        })
    });
    let creds = Credentials::new(STS_KEY, STS_SECRET, Some(&token));
    let params = SigningParams::new(creds, "us-east-1", "sts", NOW);
    g.bench_function("re-sign, key derived, body hashed", |b| {
        b.iter(|| {
            let req = Request::new("POST", "/", "", &out_headers).with_body(black_box(BODY));
            sign(&req, &params).is_ok()
        })
    });
    let body_hash = porteiro_sigv4::sha256_hex(BODY);
    g.bench_function("re-sign, key cached, hash given", |b| {
        b.iter(|| {
            let req = Request::new("POST", "/", "", &out_headers).with_body_sha256(black_box(&body_hash));
            let key = sign_keys.key("20260101", "us-east-1", "sts");
            sign_with_key(&req, &params, &key).is_ok()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
