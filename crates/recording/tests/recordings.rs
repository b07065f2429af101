//! Integration tests: writing, verifying, tampering, crash recovery, export, concurrency.

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use porteiro_recording::archive::Contents;
use porteiro_recording::mask::MASK;
use porteiro_recording::play::{read_events, text_replay, web_replay};
use porteiro_recording::recover::{recover, recover_all};
use porteiro_recording::store::EVENTS_FILE;
use porteiro_recording::{
    ApiCall, ConsoleExchange, Durability, EventKind, Html, LocalDir, Manifest, Note, Reason, RecordingKey,
    RecordingStore, SessionEnd, SessionId, SessionStart, SessionWriter, Status, Verdict, verify_stored,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const T0: u64 = 1_795_000_000_000;

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "porteiro-rec-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn id(s: &str) -> SessionId {
    SessionId::new(s).expect("valid id")
}

fn start() -> SessionStart {
    SessionStart {
        session_kind: "console".into(),
        user: "alice@example.com".into(),
        account: "123456789012".into(),
        principal: Some("arn:aws:iam::123456789012:user/alice".into()),
        origin_ip: Some("192.0.2.10".into()),
        description: None,
    }
}

/// The events of a mixed session (after the start).
fn mixed_events() -> Vec<EventKind> {
    vec![
        EventKind::ConsoleExchange(ConsoleExchange {
            method: "GET".into(),
            path: "/console/s3".into(),
            query: Some("region=us-east-1&X-Amz-Security-Token=FQoGZXIvYXdzEJr".into()),
            status: 200,
            duration_ms: 12,
            request_headers: vec![
                ("Cookie".into(), "console-session=abcdef".into()),
                ("Accept".into(), "text/html".into()),
            ],
            response_headers: vec![("Content-Type".into(), "text/html".into())],
            form: None,
            html: Some(Html::new(
                "<html><head><title>S3 buckets</title></head><body><h1>Buckets</h1>\
                 <ul><li>reports</li><li>logs</li></ul></body></html>",
            )),
        }),
        EventKind::ConsoleExchange(ConsoleExchange {
            method: "POST".into(),
            path: "/console/iam/users/bob/login-profile".into(),
            query: None,
            status: 303,
            duration_ms: 30,
            request_headers: vec![(
                "Authorization".into(),
                "AWS4-HMAC-SHA256 Credential=AKIA/2026".into(),
            )],
            response_headers: vec![],
            form: Some(vec![
                ("user".into(), "bob".into()),
                ("password".into(), "hunter2-Secret!".into()),
            ]),
            html: None,
        }),
        EventKind::ConsoleExchange(ConsoleExchange {
            method: "GET".into(),
            path: "/console/iam/users/bob/access-keys".into(),
            query: None,
            status: 200,
            duration_ms: 8,
            request_headers: vec![],
            response_headers: vec![],
            form: None,
            html: Some(Html::new(format!(
                "<html><head><title>Access key created</title></head><body>\
                 <p>Access key AKIAIOSFODNN7EXAMPLE</p><p>Secret <code>{SECRET}</code></p></body></html>"
            ))),
        }),
        EventKind::ApiCall(ApiCall {
            service: "s3".into(),
            action: "ListBuckets".into(),
            resource: None,
            status: 200,
            error_code: None,
            duration_ms: 4,
            request_id: Some("REQ1".into()),
            request_bytes: 0,
            response_bytes: 512,
        }),
        EventKind::ApiCall(ApiCall {
            service: "iam".into(),
            action: "DeleteRole".into(),
            resource: Some("arn:aws:iam::123456789012:role/admin".into()),
            status: 403,
            error_code: Some("AccessDenied".into()),
            duration_ms: 3,
            request_id: Some("REQ2".into()),
            request_bytes: 80,
            response_bytes: 300,
        }),
        EventKind::Note(Note {
            text: "admin looked in".into(),
        }),
    ]
}

/// Writes a whole session: start, the mixed events (one second apart), end. Returns the
/// manifest.
fn write_session(store: &Arc<LocalDir>, name: &str, key: &RecordingKey) -> Manifest {
    let store: Arc<dyn RecordingStore> = store.clone();
    let mut w = SessionWriter::start(store, id(name), T0, start(), Durability::EachEvent).expect("starts");
    let mut t = T0;
    for kind in mixed_events() {
        t += 1000;
        w.append(t, kind).expect("appends");
    }
    w.end(
        t + 1000,
        SessionEnd {
            reason: "logout".into(),
        },
        key,
    )
    .expect("ends")
}

fn events_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name).join(EVENTS_FILE)
}

/// Byte offsets of the start of each line.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' && i + 1 < bytes.len() {
            starts.push(i + 1);
        }
    }
    starts
}

fn problem_of(store: &LocalDir, name: &str) -> porteiro_recording::Problem {
    let report = verify_stored(store, &id(name), None).expect("reads");
    match report.verdict {
        Verdict::Broken { problem } => problem,
        other => panic!("expected a broken recording, got {other:?}"),
    }
}

#[test]
fn a_mixed_session_verifies_and_secrets_never_reach_the_disk() {
    let dir = TempDir::new("mixed");
    let store = Arc::new(LocalDir::new(&dir.0));
    let key = RecordingKey::generate().expect("key");
    let manifest = write_session(&store, "s1", &key);
    assert_eq!(manifest.event_count, 8);
    assert_eq!(manifest.status, Status::Completed);
    assert_eq!(manifest.started_at, T0);
    assert_eq!(manifest.ended_at, T0 + 7000);

    let report = verify_stored(store.as_ref(), &id("s1"), Some(&key.public_key())).expect("reads");
    assert_eq!(
        report.verdict,
        Verdict::Verified {
            status: Status::Completed
        }
    );
    assert_eq!(report.verified_events, 8);

    let text = fs::read_to_string(events_path(&dir.0, "s1")).expect("events");
    for secret in [
        SECRET,
        "hunter2",
        "console-session=abcdef",
        "FQoGZXIvYXdzEJr",
        "Credential=AKIA",
    ] {
        assert!(!text.contains(secret), "{secret} reached the disk");
    }
    assert!(text.contains(MASK));
    assert!(
        text.contains("AKIAIOSFODNN7EXAMPLE"),
        "access key ids are not secrets"
    );
    assert_eq!(store.list().expect("lists"), vec![id("s1")]);

    // One writer per session: the id cannot be recorded twice.
    let again = SessionWriter::start(store, id("s1"), T0, start(), Durability::EachEvent);
    assert!(matches!(
        again,
        Err(porteiro_recording::RecordingError::AlreadyExists(_))
    ));
}

#[test]
fn one_changed_byte_anywhere_fails_at_exactly_that_event() {
    let dir = TempDir::new("byte");
    let store = Arc::new(LocalDir::new(&dir.0));
    let key = RecordingKey::generate().expect("key");
    write_session(&store, "s1", &key);
    let path = events_path(&dir.0, "s1");
    let original = fs::read(&path).expect("events");
    let starts = line_starts(&original);
    let mut checked = 0;
    for (line, &start) in starts.iter().enumerate() {
        let end = starts.get(line + 1).map_or(original.len(), |&s| s) - 1; // before '\n'
        // Every byte of short lines; a spread of positions in long ones.
        let step = ((end - start) / 97).max(1);
        for pos in (start..end).step_by(step) {
            let mut bytes = original.clone();
            let b = bytes[pos];
            bytes[pos] = match b {
                b'x' => b'y',
                b'9' => b'0',
                b'0'..=b'8' => b + 1,
                _ => b'x',
            };
            fs::write(&path, &bytes).expect("write");
            let problem = problem_of(&store, "s1");
            assert_eq!(
                problem.seq,
                Some(line as u64),
                "byte {pos} ({:?}) of line {}: {problem}",
                b as char,
                line + 1
            );
            assert_eq!(problem.line, Some(line as u64 + 1));
            checked += 1;
        }
    }
    assert!(checked > 300, "checked {checked} positions");
    fs::write(&path, &original).expect("restore");
    assert!(
        verify_stored(store.as_ref(), &id("s1"), None)
            .expect("reads")
            .is_verified()
    );
}

#[test]
fn removed_and_reordered_events_are_named() {
    let dir = TempDir::new("remove");
    let store = Arc::new(LocalDir::new(&dir.0));
    let key = RecordingKey::generate().expect("key");
    write_session(&store, "s1", &key);
    let path = events_path(&dir.0, "s1");
    let original = fs::read_to_string(&path).expect("events");
    let lines: Vec<&str> = original.lines().collect();
    let join = |lines: &[&str]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();

    // Remove event 3.
    let mut removed = lines.clone();
    removed.remove(3);
    fs::write(&path, join(&removed)).expect("write");
    let p = problem_of(&store, "s1");
    assert_eq!((p.seq, p.line), (Some(3), Some(4)));
    assert_eq!(
        p.reason,
        Reason::SeqGap {
            expected: 3,
            found: 4
        }
    );

    // Remove the last event.
    fs::write(&path, join(&lines[..lines.len() - 1])).expect("write");
    let p = problem_of(&store, "s1");
    assert_eq!(p.seq, Some(7));
    assert_eq!(
        p.reason,
        Reason::CountMismatch {
            manifest: 8,
            found: 7
        }
    );

    // Swap events 2 and 3.
    let mut swapped = lines.clone();
    swapped.swap(2, 3);
    fs::write(&path, join(&swapped)).expect("write");
    let p = problem_of(&store, "s1");
    assert_eq!(p.seq, Some(2));
    assert_eq!(
        p.reason,
        Reason::SeqGap {
            expected: 2,
            found: 3
        }
    );

    // An event added at the end.
    let mut added = lines.clone();
    let extra = lines[6].to_owned();
    added.push(&extra);
    fs::write(&path, join(&added)).expect("write");
    let p = problem_of(&store, "s1");
    assert_eq!(p.seq, Some(8));
}

#[test]
fn a_tampered_manifest_fails_its_signature() {
    let dir = TempDir::new("manifest");
    let store = Arc::new(LocalDir::new(&dir.0));
    let key = RecordingKey::generate().expect("key");
    write_session(&store, "s1", &key);
    let mpath = dir.0.join("s1/manifest.json");
    let original = fs::read_to_string(&mpath).expect("manifest");

    fs::write(&mpath, original.replace("\"eventCount\": 8", "\"eventCount\": 7")).expect("write");
    assert!(matches!(
        problem_of(&store, "s1").reason,
        Reason::SignatureInvalid { .. }
    ));
    fs::write(&mpath, original.replace("completed", "interrupted")).expect("write");
    assert!(matches!(
        problem_of(&store, "s1").reason,
        Reason::SignatureInvalid { .. }
    ));
    fs::write(&mpath, original.replace("\"format\"", "\"extra\": 1, \"format\"")).expect("write");
    assert!(matches!(
        problem_of(&store, "s1").reason,
        Reason::ManifestInvalid { .. }
    ));

    // Re-signed by another key: the public key beside it no longer matches...
    let forger = RecordingKey::generate().expect("key");
    let mut forged = Manifest::from_json(original.as_bytes()).expect("parses");
    forged = Manifest::sign(
        porteiro_recording::manifest::Unsigned {
            session_id: forged.session_id,
            started_at: forged.started_at,
            ended_at: forged.ended_at,
            event_count: forged.event_count,
            chain_head: forged.chain_head,
            status: forged.status,
        },
        &forger,
    )
    .expect("signs");
    fs::write(&mpath, forged.to_json().expect("json")).expect("write");
    assert!(matches!(
        problem_of(&store, "s1").reason,
        Reason::KeyMismatch { .. }
    ));
    // ...and when the key file is replaced too, the vault's trusted key still catches it.
    fs::write(dir.0.join("s1/public-key.hex"), forger.public_key().to_hex()).expect("write");
    assert!(
        verify_stored(store.as_ref(), &id("s1"), None)
            .expect("reads")
            .is_verified()
    );
    let report = verify_stored(store.as_ref(), &id("s1"), Some(&key.public_key())).expect("reads");
    assert!(matches!(
        report.verdict,
        Verdict::Broken { problem } if matches!(problem.reason, Reason::KeyMismatch { .. })
    ));

    // No manifest at all: open.
    fs::remove_file(&mpath).expect("remove");
    let report = verify_stored(store.as_ref(), &id("s1"), None).expect("reads");
    assert_eq!(report.verdict, Verdict::Open);
}

/// Writes a session's start and `n` events, then drops the writer without `end` (a crash).
fn crashed_session(store: &Arc<LocalDir>, name: &str, n: usize) {
    let store: Arc<dyn RecordingStore> = store.clone();
    let mut w = SessionWriter::start(store, id(name), T0, start(), Durability::EachEvent).expect("starts");
    for (i, kind) in mixed_events().into_iter().cycle().take(n).enumerate() {
        w.append(T0 + i as u64 * 10, kind).expect("appends");
    }
    drop(w);
}

#[test]
fn a_crash_leaves_a_torn_line_that_recovery_cuts_and_the_recording_verifies_interrupted() {
    let dir = TempDir::new("crash");
    let store = Arc::new(LocalDir::new(&dir.0));
    let key = RecordingKey::generate().expect("key");
    crashed_session(&store, "torn", 5);
    let path = events_path(&dir.0, "torn");
    let good_len = fs::metadata(&path).expect("meta").len();
    let mut f = fs::OpenOptions::new().append(true).open(&path).expect("open");
    f.write_all(br#"{"seq":6,"time":1795000000060,"prev":"ab"#)
        .expect("torn");
    drop(f);
    assert!(matches!(problem_of(&store, "torn").reason, Reason::TornLine));

    // A crash that left zero-filled blocks instead.
    crashed_session(&store, "zeros", 3);
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(events_path(&dir.0, "zeros"))
        .expect("open");
    f.write_all(&[0u8; 4096]).expect("zeros");
    drop(f);

    // A clean crash (no torn line) and a completed session, which recovery leaves alone.
    crashed_session(&store, "clean", 2);
    write_session(&store, "done", &key);
    let done_manifest = fs::read(dir.0.join("done/manifest.json")).expect("manifest");

    let mut recovered: Vec<_> = recover_all(store.as_ref(), &key)
        .expect("lists")
        .into_iter()
        .map(|r| r.expect("recovers"))
        .collect();
    recovered.sort_by(|a, b| a.session_id.cmp(&b.session_id));
    let summary: Vec<(&str, u64, bool)> = recovered
        .iter()
        .map(|r| (r.session_id.as_str(), r.events, r.cut_bytes > 0))
        .collect();
    assert_eq!(
        summary,
        vec![("clean", 3, false), ("torn", 6, true), ("zeros", 4, true)]
    );
    assert!(recovered.iter().all(|r| r.unresolved.is_none()));
    assert_eq!(fs::metadata(&path).expect("meta").len(), good_len);
    assert_eq!(
        fs::read(dir.0.join("done/manifest.json")).expect("manifest"),
        done_manifest
    );

    for name in ["torn", "zeros", "clean"] {
        let report = verify_stored(store.as_ref(), &id(name), Some(&key.public_key())).expect("reads");
        assert_eq!(
            report.verdict,
            Verdict::Verified {
                status: Status::Interrupted
            },
            "{name}"
        );
    }
    // Running recovery again does nothing.
    assert!(recover_all(store.as_ref(), &key).expect("lists").is_empty());
}

#[test]
fn recovery_leaves_a_live_session_alone_and_does_not_cut_tampering() {
    let dir = TempDir::new("live");
    let store = Arc::new(LocalDir::new(&dir.0));
    let key = RecordingKey::generate().expect("key");
    let dyn_store: Arc<dyn RecordingStore> = store.clone();
    let mut live =
        SessionWriter::start(dyn_store, id("live"), T0, start(), Durability::EachEvent).expect("starts");
    assert_eq!(recover(store.as_ref(), &id("live"), &key).expect("runs"), None);
    live.append(
        T0 + 1,
        EventKind::Note(Note {
            text: "still here".into(),
        }),
    )
    .expect("appends");
    let manifest = live
        .end(
            T0 + 2,
            SessionEnd {
                reason: "logout".into(),
            },
            &key,
        )
        .expect("ends");
    assert_eq!(manifest.event_count, 3);

    // A live recording whose last line is being written reads as open, not broken.
    let dyn_store: Arc<dyn RecordingStore> = store.clone();
    let live =
        SessionWriter::start(dyn_store, id("writing"), T0, start(), Durability::EachEvent).expect("starts");
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(events_path(&dir.0, "writing"))
        .expect("open");
    f.write_all(br#"{"seq":1,"ti"#).expect("half a line");
    let report = verify_stored(store.as_ref(), &id("writing"), None).expect("reads");
    assert_eq!(report.verdict, Verdict::Open);
    drop(live);
    assert!(matches!(problem_of(&store, "writing").reason, Reason::TornLine));

    // A crashed recording whose middle was changed: not a crash's doing, nothing is cut.
    crashed_session(&store, "tampered", 4);
    let path = events_path(&dir.0, "tampered");
    let text = fs::read_to_string(&path).expect("events");
    let changed = text.replacen("\"status\":200", "\"status\":201", 1);
    assert_ne!(changed, text);
    fs::write(&path, &changed).expect("write");
    let r = recover(store.as_ref(), &id("tampered"), &key)
        .expect("runs")
        .expect("recovered");
    assert_eq!(r.cut_bytes, 0);
    let unresolved = r.unresolved.expect("a break");
    assert_eq!(unresolved.seq, Some(1));
    assert_eq!(fs::read_to_string(&path).expect("events"), changed);
    assert_eq!(problem_of(&store, "tampered").seq, Some(1));
}

#[test]
fn an_export_verifies_offline_and_imports() {
    let dir = TempDir::new("export");
    let store = Arc::new(LocalDir::new(dir.0.join("a")));
    let key = RecordingKey::generate().expect("key");
    write_session(&store, "s1", &key);
    let contents = Contents::from_store(store.as_ref(), &id("s1")).expect("reads");
    let archive = contents.write_archive(Vec::new()).expect("writes");
    // Deterministic.
    assert_eq!(
        Contents::from_store(store.as_ref(), &id("s1"))
            .expect("reads")
            .write_archive(Vec::new())
            .expect("writes"),
        archive
    );
    drop(store);

    let back = Contents::read_archive(Cursor::new(&archive)).expect("reads");
    assert_eq!(back, contents);
    assert!(back.verify(None).expect("verifies").is_verified());
    assert!(
        back.verify(Some(&key.public_key()))
            .expect("verifies")
            .is_verified()
    );

    // Tampered inside the archive: the same byte-level check applies.
    let mut events = back.clone();
    let pos = events.events.iter().position(|&b| b == b'G').expect("a G");
    events.events[pos] = b'P';
    let report = events.verify(None).expect("verifies");
    assert!(matches!(report.verdict, Verdict::Broken { problem } if problem.seq == Some(1)));

    let other = LocalDir::new(dir.0.join("b"));
    back.import_into(&other).expect("imports");
    assert!(
        verify_stored(&other, &id("s1"), None)
            .expect("reads")
            .is_verified()
    );
    assert!(back.import_into(&other).is_err(), "imports once");

    // Not a recording archive.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(2);
    builder
        .append_data(&mut header, "s1/extra.txt", &b"x\n"[..])
        .expect("appends");
    let bad = builder.into_inner().expect("finishes");
    assert!(Contents::read_archive(Cursor::new(bad)).is_err());
}

#[test]
fn fifty_sessions_in_parallel_lose_no_event_and_all_verify() {
    let dir = TempDir::new("parallel");
    let store = Arc::new(LocalDir::new(&dir.0));
    let key = Arc::new(RecordingKey::generate().expect("key"));
    const EVENTS: u64 = 200;
    let handles: Vec<_> = (0..50)
        .map(|n| {
            let store: Arc<dyn RecordingStore> = store.clone();
            let key = key.clone();
            std::thread::spawn(move || {
                let durability = if n % 2 == 0 {
                    Durability::EachEvent
                } else {
                    Durability::Batch(16)
                };
                let mut w = SessionWriter::start(store, id(&format!("jit-{n:02}")), T0, start(), durability)
                    .expect("starts");
                for i in 0..EVENTS {
                    w.append(
                        T0 + i,
                        EventKind::ApiCall(ApiCall {
                            service: "s3".into(),
                            action: "GetObject".into(),
                            resource: Some(format!("arn:aws:s3:::bucket/{n}/{i}")),
                            status: 200,
                            request_id: Some(format!("{n}-{i}")),
                            ..ApiCall::default()
                        }),
                    )
                    .expect("appends");
                }
                w.end(
                    T0 + EVENTS,
                    SessionEnd {
                        reason: "expired".into(),
                    },
                    &key,
                )
                .expect("ends")
            })
        })
        .collect();
    for h in handles {
        let manifest = h.join().expect("thread");
        assert_eq!(manifest.event_count, EVENTS + 2);
    }
    let ids = store.list().expect("lists");
    assert_eq!(ids.len(), 50);
    for sid in ids {
        let report = verify_stored(store.as_ref(), &sid, Some(&key.public_key())).expect("reads");
        assert!(report.is_verified(), "{sid}: {:?}", report.verdict);
        assert_eq!(report.verified_events, EVENTS + 2);
        let events = read_events(store.events(&sid).expect("events")).expect("reads");
        let ids: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::ApiCall(c) => c.request_id.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(ids.len() as u64, EVENTS);
    }
}

#[test]
fn replay_shows_pages_forms_and_calls_in_order() {
    let dir = TempDir::new("play");
    let store = Arc::new(LocalDir::new(&dir.0));
    let key = RecordingKey::generate().expect("key");
    write_session(&store, "s1", &key);
    let events = read_events(store.events(&id("s1")).expect("events")).expect("reads");
    let steps = text_replay(&events);
    assert_eq!(steps.len(), 8);
    assert_eq!(steps[0].offset_ms, 0);
    assert_eq!(steps[7].offset_ms, 7000);
    assert!(
        steps[0]
            .text
            .starts_with("session start: console session of alice@example.com")
    );
    assert!(steps[1].text.contains("page: S3 buckets"), "{}", steps[1].text);
    assert!(steps[1].text.contains("text: Buckets reports logs"));
    assert!(
        steps[2]
            .text
            .contains(&format!("form: user=bob, password={MASK}"))
    );
    assert!(
        steps[5]
            .text
            .contains("api iam:DeleteRole on arn:aws:iam::123456789012:role/admin -> 403 AccessDenied")
    );
    assert_eq!(steps[7].text, "session end: logout");

    let frames = web_replay(&events);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].offset_ms, 1000);
    assert_eq!(frames[0].title.as_deref(), Some("S3 buckets"));
    assert!(frames[0].url.starts_with("/console/s3?region=us-east-1"));
    assert!(!frames[1].html.contains(SECRET));
}

const CHILD_ENV: &str = "PORTEIRO_REC_TEST_CHILD_DIR";

/// The child of the SIGKILL test: writes a session until it is killed (bounded, in case it is
/// not).
fn child_writer(root: &str) {
    let store: Arc<dyn RecordingStore> = Arc::new(LocalDir::new(root));
    let mut w =
        SessionWriter::start(store, id("killed"), T0, start(), Durability::EachEvent).expect("starts");
    let page = format!("<html><body>{}</body></html>", "<p>row</p>".repeat(20_000));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut i = 0u64;
    while std::time::Instant::now() < deadline {
        i += 1;
        let kind = if i.is_multiple_of(2) {
            EventKind::ConsoleExchange(ConsoleExchange {
                method: "GET".into(),
                path: format!("/console/page/{i}"),
                status: 200,
                html: Some(Html::new(page.clone())),
                ..ConsoleExchange::default()
            })
        } else {
            EventKind::Note(Note {
                text: format!("event {i}"),
            })
        };
        w.append(T0 + i, kind).expect("appends");
    }
}

#[test]
fn a_writer_process_killed_with_sigkill_is_recovered_as_interrupted() {
    if let Ok(root) = std::env::var(CHILD_ENV) {
        child_writer(&root);
        return;
    }
    let dir = TempDir::new("sigkill");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "a_writer_process_killed_with_sigkill_is_recovered_as_interrupted",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir.0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawns the writer");
    let path = events_path(&dir.0, "killed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let lines = fs::read(&path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
        if lines >= 40 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the writer did not write 40 events in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL"); // SIGKILL on Unix
    let _ = child.wait();

    let store = LocalDir::new(&dir.0);
    let key = RecordingKey::generate().expect("key");
    let before = verify_stored(&store, &id("killed"), None).expect("reads");
    assert!(!before.is_verified());
    let recovered = recover(&store, &id("killed"), &key)
        .expect("recovers")
        .expect("was open");
    assert!(recovered.events >= 40, "{recovered:?}");
    assert!(recovered.unresolved.is_none(), "{recovered:?}");
    let report = verify_stored(&store, &id("killed"), Some(&key.public_key())).expect("reads");
    assert_eq!(
        report.verdict,
        Verdict::Verified {
            status: Status::Interrupted
        }
    );
    assert_eq!(report.verified_events, recovered.events);
}
