//! Append and verify throughput of recordings (criterion).
//!
//! ```text
//! cargo bench -p porteiro-recording --bench append     # measure
//! cargo test -p porteiro-recording --benches           # run each benchmark once
//! ```
//!
//! The recordings go to a directory under the system's temporary directory (removed at the
//! end); fsync cost depends on that file system. Numbers are in `docs/benchmarks.md`.

use std::hint::black_box;
use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use porteiro_recording::verify::{Expect, verify};
use porteiro_recording::{
    ApiCall, ConsoleExchange, Durability, EventKind, Html, LocalDir, RecordingKey, RecordingStore,
    SessionEnd, SessionId, SessionStart, SessionWriter,
};

fn api_call(i: u64) -> EventKind {
    EventKind::ApiCall(ApiCall {
        service: "s3".into(),
        action: "GetObject".into(),
        resource: Some(format!("arn:aws:s3:::reports/2026/{i}.csv")),
        status: 200,
        error_code: None,
        duration_ms: 3,
        request_id: Some(format!("REQ{i:012}")),
        request_bytes: 0,
        response_bytes: 4096,
    })
}

fn console_page() -> EventKind {
    let rows: String = (0..200)
        .map(|i| format!("<tr><td>object-{i}.csv</td><td>4 KiB</td></tr>"))
        .collect();
    EventKind::ConsoleExchange(ConsoleExchange {
        method: "GET".into(),
        path: "/console/s3/buckets/reports".into(),
        status: 200,
        duration_ms: 9,
        html: Some(Html::new(format!(
            "<html><head><title>reports</title></head><body><table>{rows}</table></body></html>"
        ))),
        ..ConsoleExchange::default()
    })
}

fn session_id() -> SessionId {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    SessionId::new(&format!("bench-{}-{n}", std::process::id())).unwrap_or_else(|e| panic!("{e}"))
}

/// A benchmark's name, durability and event maker.
type Case = (&'static str, Durability, fn(u64) -> EventKind);

fn append(c: &mut Criterion) {
    let root = std::env::temp_dir().join(format!("porteiro-rec-bench-{}", std::process::id()));
    let store: Arc<dyn RecordingStore> = Arc::new(LocalDir::new(&root));
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    let cases: [Case; 4] = [
        ("api_call/fsync_each", Durability::EachEvent, api_call),
        ("api_call/batch_64", Durability::Batch(64), api_call),
        ("console_20kb/fsync_each", Durability::EachEvent, |_| {
            console_page()
        }),
        ("console_20kb/batch_64", Durability::Batch(64), |_| console_page()),
    ];
    for (name, durability, make) in cases {
        let mut writer = SessionWriter::start(
            store.clone(),
            session_id(),
            0,
            SessionStart::default(),
            durability,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut i = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                writer
                    .append(i, black_box(make(i)))
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        });
        drop(writer);
    }
    group.finish();

    // The CPU part alone: mask, encode and hash one event (no I/O).
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    let prev = porteiro_recording::chain::genesis("bench");
    let mut line = Vec::with_capacity(64 * 1024);
    for (name, kind) in [("api_call", api_call(7)), ("console_20kb", console_page())] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut k = black_box(&kind).clone();
                k.sanitize();
                line.clear();
                porteiro_recording::chain::encode_into(&mut line, 7, 7, &prev, &k)
                    .unwrap_or_else(|e| panic!("{e}"));
                porteiro_recording::chain::line_hash(&line)
            })
        });
    }
    group.finish();

    // 50 sessions appending in parallel threads, fsync per event: the aggregate rate.
    let mut group = c.benchmark_group("parallel");
    const SESSIONS: u64 = 50;
    const PER_SESSION: u64 = 20;
    group.throughput(Throughput::Elements(SESSIONS * PER_SESSION));
    group.sample_size(10);
    group.bench_function("50_sessions/fsync_each", |b| {
        b.iter(|| {
            let threads: Vec<_> = (0..SESSIONS)
                .map(|_| {
                    let store = store.clone();
                    std::thread::spawn(move || {
                        let mut w = SessionWriter::start(
                            store,
                            session_id(),
                            0,
                            SessionStart::default(),
                            Durability::EachEvent,
                        )
                        .unwrap_or_else(|e| panic!("{e}"));
                        for i in 1..PER_SESSION {
                            w.append(i, api_call(i)).unwrap_or_else(|e| panic!("{e}"));
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap_or_else(|_| panic!("a writer thread panicked"));
            }
        })
    });
    group.finish();

    // Verification of a 10,000-event recording.
    let key = RecordingKey::from_bytes(&[7; 32]);
    let id = session_id();
    let mut writer = SessionWriter::start(
        store.clone(),
        id.clone(),
        0,
        SessionStart::default(),
        Durability::Batch(1000),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for i in 0..10_000 {
        writer.append(i, api_call(i)).unwrap_or_else(|e| panic!("{e}"));
    }
    writer
        .end(10_000, SessionEnd::default(), &key)
        .unwrap_or_else(|e| panic!("{e}"));
    let events = std::fs::read(root.join(id.as_str()).join("events.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    let manifest = store.manifest(&id).ok().flatten().unwrap_or_default();
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(10_002));
    group.bench_function("10k_api_calls", |b| {
        b.iter(|| {
            verify(
                id.as_str(),
                Cursor::new(black_box(&events)),
                Some(&manifest),
                Expect::default(),
            )
            .map(|r| r.is_verified())
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, append);
criterion_main!(benches);
