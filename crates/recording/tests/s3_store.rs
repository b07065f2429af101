//! The S3 store against the real embedded cloud's S3 (`porteiro_cloud::Cloud` served on
//! 127.0.0.1:0 in this process), through the AWS SDK for Rust.
//!
//! Run: `cargo test -p porteiro-recording --features s3 --test s3_store`.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;
use porteiro_cloud::{Cloud, CloudConfig, RootCredentials};
use porteiro_recording::archive::Contents;
use porteiro_recording::recover::recover_all;
use porteiro_recording::s3::{S3Credentials, S3Options, S3Store};
use porteiro_recording::{
    ApiCall, Durability, EventKind, LocalDir, Note, Reason, RecordingError, RecordingKey, RecordingStore,
    SessionEnd, SessionId, SessionStart, SessionWriter, Status, Verdict, open_store, verify_stored,
};

const ACCOUNT: &str = "123456789012";
const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";
const ROOT_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const BUCKET: &str = "recordings";
const T0: u64 = 1_795_000_000_000;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("porteiro-rec-s3-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The embedded cloud, serving on a free port, with the bucket `recordings` created.
struct Server {
    url: String,
    rt: tokio::runtime::Runtime,
    _data: TempDir,
}

impl Server {
    fn start() -> Server {
        let data = TempDir::new("cloud");
        let config = CloudConfig {
            data_dir: data.path().to_path_buf(),
            account_id: Some(ACCOUNT.to_string()),
            root_credentials: Some(RootCredentials {
                access_key_id: ROOT_AK.to_string(),
                secret_access_key: ROOT_SK.to_string(),
            }),
        };
        let (cloud, _) = Cloud::open(&config).expect("the cloud opens");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let _ = cloud.serve(listener).await;
        });
        let server = Server {
            url: format!("http://{addr}"),
            rt,
            _data: data,
        };
        let s3 = server.client();
        server
            .rt
            .block_on(s3.create_bucket().bucket(BUCKET).send())
            .expect("the bucket is created");
        server
    }

    /// A plain SDK client, to look at and tamper with the stored objects.
    fn client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ROOT_AK, ROOT_SK, None, None, "test",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let s3 = self.client();
        self.rt.block_on(async move {
            let out = s3.get_object().bucket(BUCKET).key(key).send().await.ok()?;
            Some(out.body.collect().await.ok()?.into_bytes().to_vec())
        })
    }

    fn put(&self, key: &str, bytes: Vec<u8>) {
        let s3 = self.client();
        self.rt
            .block_on(
                s3.put_object()
                    .bucket(BUCKET)
                    .key(key)
                    .body(ByteStream::from(bytes))
                    .send(),
            )
            .expect("put");
    }

    fn options(&self, prefix: &str, spool: &Path) -> S3Options {
        let mut o = S3Options::new(BUCKET, prefix, spool);
        o.endpoint = Some(self.url.clone());
        o.credentials = Some(S3Credentials {
            access_key_id: ROOT_AK.into(),
            secret_access_key: ROOT_SK.into(),
            session_token: None,
        });
        o
    }

    fn store(&self, prefix: &str, spool: &Path) -> Arc<S3Store> {
        Arc::new(S3Store::open(self.options(prefix, spool)).expect("the S3 store opens"))
    }
}

fn id(s: &str) -> SessionId {
    SessionId::new(s).expect("id")
}

fn start() -> SessionStart {
    SessionStart {
        session_kind: "jit".into(),
        user: "alice@example.com".into(),
        account: ACCOUNT.into(),
        ..SessionStart::default()
    }
}

fn call(i: u64) -> EventKind {
    EventKind::ApiCall(ApiCall {
        service: "s3".into(),
        action: "ListBuckets".into(),
        resource: None,
        status: 200,
        error_code: None,
        duration_ms: 3 + i,
        request_id: Some(format!("req-{i}")),
        request_bytes: 0,
        response_bytes: 100 + i,
    })
}

/// Records a session of `n` events after the start, and closes it.
fn record(store: Arc<dyn RecordingStore>, name: &str, n: u64, key: &RecordingKey) {
    let mut w = SessionWriter::start(store, id(name), T0, start(), Durability::EachEvent).expect("starts");
    for i in 1..=n {
        w.append(T0 + i * 10, call(i)).expect("appends");
    }
    w.end(
        T0 + (n + 1) * 10,
        SessionEnd {
            reason: "logout".into(),
        },
        key,
    )
    .expect("ends");
}

fn problem(store: &dyn RecordingStore, name: &str) -> porteiro_recording::Problem {
    match verify_stored(store, &id(name), None).expect("verifies").verdict {
        Verdict::Broken { problem } => problem,
        v => panic!("{name}: expected a break, got {v:?}"),
    }
}

#[test]
fn a_session_is_recorded_uploaded_listed_verified_exported_and_imported() {
    let server = Server::start();
    let spool = TempDir::new("spool");
    let store = server.store("prod/recordings", spool.path());
    let key = RecordingKey::generate().expect("key");

    // While it runs, the log is spooled locally and readable through the store.
    let dynstore: Arc<dyn RecordingStore> = store.clone();
    let mut w = SessionWriter::start(dynstore.clone(), id("jit-1"), T0, start(), Durability::EachEvent)
        .expect("starts");
    for i in 1..=5 {
        w.append(T0 + i * 10, call(i)).expect("appends");
    }
    assert_eq!(store.list().expect("lists"), vec![id("jit-1")]);
    let live = verify_stored(&*store, &id("jit-1"), None).expect("verifies");
    assert_eq!(live.verdict, Verdict::Open);
    assert_eq!(live.verified_events, 6);
    assert!(
        server.get("prod/recordings/jit-1/events.jsonl").is_none(),
        "not uploaded before close"
    );
    assert!(matches!(
        SessionWriter::start(dynstore.clone(), id("jit-1"), T0, start(), Durability::EachEvent),
        Err(RecordingError::AlreadyExists(_))
    ));

    let manifest = w
        .end(
            T0 + 100,
            SessionEnd {
                reason: "logout".into(),
            },
            &key,
        )
        .expect("ends");
    assert_eq!(manifest.event_count, 7);

    // Closed: the three objects are in the bucket, the spool is gone.
    let events = server
        .get("prod/recordings/jit-1/events.jsonl")
        .expect("events uploaded");
    assert_eq!(events.iter().filter(|&&b| b == b'\n').count(), 7);
    assert!(server.get("prod/recordings/jit-1/public-key.hex").is_some());
    let uploaded_manifest = server
        .get("prod/recordings/jit-1/manifest.json")
        .expect("manifest uploaded");
    assert_eq!(uploaded_manifest, manifest.to_json().expect("json"));
    assert!(
        !spool.path().join("jit-1").exists(),
        "the spool is removed once uploaded"
    );

    // Another process (a fresh store, an empty spool) sees and verifies it.
    let other_spool = TempDir::new("spool2");
    let reader = server.store("prod/recordings", other_spool.path());
    assert_eq!(reader.list().expect("lists"), vec![id("jit-1")]);
    let report = verify_stored(&*reader, &id("jit-1"), Some(&key.public_key())).expect("verifies");
    assert_eq!(
        report.verdict,
        Verdict::Verified {
            status: Status::Completed
        }
    );
    assert_eq!(report.verified_events, 7);
    let wrong = RecordingKey::generate().expect("key").public_key();
    assert!(
        !verify_stored(&*reader, &id("jit-1"), Some(&wrong))
            .expect("verifies")
            .is_verified()
    );
    // Another prefix of the same bucket is another store.
    assert!(
        server
            .store("other", spool.path())
            .list()
            .expect("lists")
            .is_empty()
    );

    // Export: a self-contained archive that verifies offline.
    let contents = Contents::from_store(&*reader, &id("jit-1")).expect("reads");
    assert_eq!(contents.events, events);
    let archive = contents.write_archive(Vec::new()).expect("archive");
    let read = Contents::read_archive(Cursor::new(&archive)).expect("reads the archive");
    assert!(
        read.verify(Some(&key.public_key()))
            .expect("verifies")
            .is_verified()
    );

    // Import into another prefix, then into a local directory; twice is refused.
    let imported = server.store("imported", spool.path());
    read.import_into(&*imported).expect("imports");
    assert!(matches!(
        read.import_into(&*imported),
        Err(RecordingError::AlreadyExists(_))
    ));
    assert_eq!(
        server.get("imported/jit-1/events.jsonl").as_deref(),
        Some(events.as_slice())
    );
    assert!(
        verify_stored(&*imported, &id("jit-1"), None)
            .expect("verifies")
            .is_verified()
    );
    let local = TempDir::new("local");
    read.import_into(&LocalDir::new(local.path()))
        .expect("imports locally");
    let mut bytes = Vec::new();
    LocalDir::new(local.path())
        .events(&id("jit-1"))
        .expect("reads")
        .read_to_end(&mut bytes)
        .expect("reads");
    assert_eq!(bytes, events);
}

#[test]
fn one_byte_changed_in_the_uploaded_events_object_fails_verify_at_that_event() {
    let server = Server::start();
    let spool = TempDir::new("spool");
    let store = server.store("rec", spool.path());
    let key = RecordingKey::generate().expect("key");
    record(store.clone(), "tampered", 6, &key);
    assert!(
        verify_stored(&*store, &id("tampered"), None)
            .expect("verifies")
            .is_verified()
    );

    let object = "rec/tampered/events.jsonl";
    let original = server.get(object).expect("events");
    let starts: Vec<usize> = std::iter::once(0)
        .chain(
            original
                .iter()
                .enumerate()
                .filter(|(i, b)| **b == b'\n' && i + 1 < original.len())
                .map(|(i, _)| i + 1),
        )
        .collect();
    for target in [0usize, 3, 7] {
        // A byte in the middle of the line: a digit of a number or a letter of a string.
        let line_end = starts.get(target + 1).copied().unwrap_or(original.len());
        let pos = (starts[target] + line_end) / 2;
        let mut bytes = original.clone();
        bytes[pos] = if bytes[pos] == b'1' { b'2' } else { b'1' };
        server.put(object, bytes);
        let p = problem(&*store, "tampered");
        assert_eq!(p.seq, Some(target as u64), "byte {pos} of line {target}: {p}");
    }
    server.put(object, original);
    assert!(
        verify_stored(&*store, &id("tampered"), None)
            .expect("verifies")
            .is_verified()
    );
}

#[test]
fn an_interrupted_recording_is_recovered_and_uploaded() {
    let server = Server::start();
    let spool = TempDir::new("spool");
    let key = RecordingKey::generate().expect("key");
    {
        let store: Arc<dyn RecordingStore> = server.store("rec", spool.path());
        let mut w = SessionWriter::start(store.clone(), id("crashed"), T0, start(), Durability::EachEvent)
            .expect("starts");
        for i in 1..=4 {
            w.append(T0 + i, call(i)).expect("appends");
        }
        // The process dies: no end, no manifest, and a line cut in the middle of its write.
        drop(w);
        let path = spool.path().join("crashed/events.jsonl");
        let mut log = std::fs::read(&path).expect("spooled");
        log.extend_from_slice(br#"{"seq":5,"time":1795000000005,"prev":"ab"#);
        std::fs::write(&path, log).expect("torn tail");
        record(store, "fine", 2, &key);
    }
    // Restart: a new store on the same spool; recovery closes and uploads the crashed one.
    let store = server.store("rec", spool.path());
    assert_eq!(store.list().expect("lists"), vec![id("crashed"), id("fine")]);
    assert!(matches!(problem(&*store, "crashed").reason, Reason::TornLine));
    let recovered = recover_all(&*store, &key).expect("recovers");
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    let r = recovered[0].as_ref().expect("recovered");
    assert_eq!((r.session_id.as_str(), r.events), ("crashed", 5));
    assert!(r.cut_bytes > 0);
    assert!(
        !spool.path().join("crashed").exists(),
        "uploaded, then removed from the spool"
    );
    let events = server.get("rec/crashed/events.jsonl").expect("events uploaded");
    assert_eq!(events.iter().filter(|&&b| b == b'\n').count(), 5);
    assert!(events.ends_with(b"\n"), "the torn tail was cut before upload");
    let report = verify_stored(&*store, &id("crashed"), Some(&key.public_key())).expect("verifies");
    assert_eq!(
        report.verdict,
        Verdict::Verified {
            status: Status::Interrupted
        }
    );
    assert_eq!(report.verified_events, 5);
    assert!(
        recover_all(&*store, &key).expect("recovers").is_empty(),
        "nothing left to do"
    );
}

#[test]
fn a_recording_only_in_the_bucket_without_manifest_is_recovered_there() {
    let server = Server::start();
    let spool = TempDir::new("spool");
    let key = RecordingKey::generate().expect("key");
    // Written through a local spool elsewhere, then only its log was uploaded.
    let local = TempDir::new("elsewhere");
    let local_store: Arc<dyn RecordingStore> = Arc::new(LocalDir::new(local.path()));
    let mut w =
        SessionWriter::start(local_store, id("half"), T0, start(), Durability::EachEvent).expect("starts");
    w.append(T0 + 1, EventKind::Note(Note { text: "hello".into() }))
        .expect("appends");
    drop(w);
    let mut log = std::fs::read(local.path().join("half/events.jsonl")).expect("log");
    log.extend_from_slice(b"{\"seq\":2");
    server.put("rec/half/events.jsonl", log);
    let store = server.store("rec", spool.path());
    let recovered = recover_all(&*store, &key).expect("recovers");
    let r = recovered[0].as_ref().expect("recovered");
    assert_eq!((r.events, r.cut_bytes), (2, 8));
    let report = verify_stored(&*store, &id("half"), None).expect("verifies");
    assert_eq!(
        report.verdict,
        Verdict::Verified {
            status: Status::Interrupted
        }
    );
}

#[test]
fn a_bad_bucket_or_bad_credentials_say_what_to_fix() {
    let server = Server::start();
    let spool = TempDir::new("spool");

    let mut o = server.options("rec", spool.path());
    o.bucket = "no-such-bucket".into();
    let err = S3Store::open(o).expect_err("no bucket").to_string();
    assert!(
        err.contains("NoSuchBucket") && err.contains("aws s3 mb s3://no-such-bucket"),
        "{err}"
    );

    let mut o = server.options("rec", spool.path());
    o.credentials = Some(S3Credentials {
        access_key_id: "AKIAUNKNOWNKEY000000".into(),
        secret_access_key: ROOT_SK.into(),
        session_token: None,
    });
    let err = S3Store::open(o).expect_err("unknown key").to_string();
    assert!(
        err.contains("InvalidAccessKeyId") && err.contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );

    let mut o = server.options("rec", spool.path());
    o.credentials = Some(S3Credentials {
        access_key_id: ROOT_AK.into(),
        secret_access_key: "not-the-secret-at-all".into(),
        session_token: None,
    });
    let err = S3Store::open(o).expect_err("wrong secret").to_string();
    assert!(
        err.contains("SignatureDoesNotMatch") && err.contains("AWS_SECRET_ACCESS_KEY"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-secret-at-all"),
        "the secret is never shown: {err}"
    );

    // Nobody listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let mut o = server.options("rec", spool.path());
    o.endpoint = Some(url.clone());
    let err = S3Store::open(o).expect_err("unreachable").to_string();
    assert!(err.contains(&url) && err.contains("reachable"), "{err}");

    // A specification with an endpoint works through open_store too (credentials from the
    // environment are not set here, so it names them).
    let spec = format!("s3://{BUCKET}/rec?endpoint={}", server.url);
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let Err(err) = open_store(&spec, spool.path()) else {
            panic!("opened without credentials")
        };
        let err = err.to_string();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    }
}

#[test]
fn the_store_works_and_drops_inside_another_tokio_runtime() {
    let server = Server::start();
    let spool = TempDir::new("spool");
    let key = RecordingKey::generate().expect("key");
    let options = server.options("rec", spool.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = Arc::new(S3Store::open(options.clone()).expect("opens inside a runtime"));
        record(store.clone(), "in-runtime", 3, &key);
        assert!(
            verify_stored(&*store, &id("in-runtime"), None)
                .expect("verifies")
                .is_verified()
        );
        drop(store);
    });
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = multi.spawn(async move {
        let store = Arc::new(S3Store::open(options).expect("opens in a task"));
        record(store.clone(), "in-task", 2, &key);
        store.list().expect("lists")
    });
    let ids = multi.block_on(handle).expect("the task did not panic");
    assert_eq!(ids, vec![id("in-runtime"), id("in-task")]);
}

/// A quick measurement, not a pass/fail test: `cargo test -p porteiro-recording --features s3
/// --test s3_store -- --ignored --nocapture quick_benchmark`.
#[test]
#[ignore = "a measurement; run on demand"]
fn quick_benchmark_of_append_and_close() {
    let server = Server::start();
    let spool = TempDir::new("bench");
    let store = server.store("bench", spool.path());
    let key = RecordingKey::generate().expect("key");
    let (sessions, events) = (20u64, 200u64);
    let (mut append, mut close) = (Duration::ZERO, Duration::ZERO);
    for s in 0..sessions {
        let t = Instant::now();
        let mut w = SessionWriter::start(
            store.clone(),
            id(&format!("b-{s}")),
            T0,
            start(),
            Durability::EachEvent,
        )
        .expect("starts");
        for i in 1..=events {
            w.append(T0 + i, call(i)).expect("appends");
        }
        append += t.elapsed();
        let t = Instant::now();
        w.end(
            T0 + events + 1,
            SessionEnd {
                reason: "logout".into(),
            },
            &key,
        )
        .expect("ends");
        close += t.elapsed();
    }
    let t = Instant::now();
    for s in 0..sessions {
        assert!(
            verify_stored(&*store, &id(&format!("b-{s}")), None)
                .expect("verifies")
                .is_verified()
        );
    }
    let verify = t.elapsed();
    // The same appends to a local directory, for reference (the spool's cost is the same).
    let local_dir = TempDir::new("bench-local");
    let local: Arc<dyn RecordingStore> = Arc::new(LocalDir::new(local_dir.path()));
    let t = Instant::now();
    for s in 0..sessions {
        let mut w = SessionWriter::start(
            local.clone(),
            id(&format!("b-{s}")),
            T0,
            start(),
            Durability::EachEvent,
        )
        .expect("starts");
        for i in 1..=events {
            w.append(T0 + i, call(i)).expect("appends");
        }
        w.end(
            T0 + events + 1,
            SessionEnd {
                reason: "logout".into(),
            },
            &key,
        )
        .expect("ends");
    }
    let local_total = t.elapsed();
    println!(
        "{sessions} sessions x {events} events (fsync each): append {:.1} µs/event, close+upload {:.1} ms/session, verify from the bucket {:.1} ms/session",
        append.as_secs_f64() * 1e6 / (sessions * events) as f64,
        close.as_secs_f64() * 1e3 / sessions as f64,
        verify.as_secs_f64() * 1e3 / sessions as f64,
    );
    println!(
        "local directory, same sessions: {:.1} µs/event including close",
        local_total.as_secs_f64() * 1e6 / (sessions * events) as f64,
    );
}
