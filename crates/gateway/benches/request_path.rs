//! What recording costs the API gateway's request path (criterion): handing a call's
//! `apiCall` event to the recorder (`Recorder::append`), while the recorder's thread encodes,
//! chains and group-commits them to a real recording in the system's temporary directory.
//! The SigV4 half of the request path (verify, re-sign) is `porteiro-sigv4`'s
//! `gateway_path` bench.
//!
//! ```text
//! cargo bench -p porteiro-gateway --bench request_path     # measure
//! cargo test -p porteiro-gateway --benches                 # run each benchmark once
//! ```
//!
//! Numbers are in `docs/benchmarks.md`.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use porteiro_gateway::recorder::{Recorder, SessionInfo, system_millis};
use porteiro_recording::{ApiCall, EventKind};

fn call(i: u64) -> EventKind {
    EventKind::ApiCall(ApiCall {
        service: "sts".into(),
        action: "GetCallerIdentity".into(),
        resource: None,
        status: 200,
        error_code: None,
        duration_ms: 1,
        request_id: Some(format!("pgw-{i:016x}")),
        request_bytes: 43,
        response_bytes: 412,
    })
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("porteiro-gateway-bench-{}", std::process::id()));
    let Ok((recorder, _)) = Recorder::local(&dir, &[7u8; 32], Arc::new(system_millis)) else {
        panic!("cannot start the recorder in {}", dir.display());
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        panic!("cannot start a runtime");
    };
    let session = "ps-bench-0001";
    let info = SessionInfo {
        session_id: session.into(),
        session_kind: "jit".into(),
        user: "ana".into(),
        account: "acct".into(),
        ..SessionInfo::default()
    };
    if let Err(e) = rt.block_on(recorder.open(info)) {
        panic!("cannot open the recording: {e}");
    }
    let mut g = c.benchmark_group("gateway_recording");
    let mut i = 0u64;
    g.bench_function("append an apiCall (request path)", |b| {
        b.iter(|| {
            i += 1;
            recorder.append(session, call(i));
        })
    });
    g.finish();
    if let Err(e) = rt.block_on(recorder.flush()) {
        panic!("cannot flush: {e}");
    }
    let failed = recorder.stats().failed.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(failed, 0, "the recorder failed to write events");
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
