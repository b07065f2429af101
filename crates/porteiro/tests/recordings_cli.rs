//! End to end: the real `porteiro recordings` binary over a prepared recordings directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use porteiro_recording::{
    ApiCall, ConsoleExchange, Durability, EventKind, Html, LocalDir, RecordingKey, RecordingStore,
    SessionEnd, SessionId, SessionStart, SessionWriter,
};
use serde_json::Value;

const T0: u64 = 1_795_000_000_000;

fn porteiro(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_porteiro"))
        .arg("recordings")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env_remove("PORTEIRO_RECORDINGS_DIR")
        .output()
        .expect("the porteiro binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Two completed sessions and one left open by a crash.
fn prepare(name: &str) -> (TempDir, RecordingKey) {
    let root = std::env::temp_dir().join(format!("porteiro-rec-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let dir = TempDir(root);
    let store: Arc<dyn RecordingStore> = Arc::new(LocalDir::new(&dir.0));
    let key = RecordingKey::generate().expect("key");
    for id in ["console-1", "jit-1", "crashed"] {
        let start = SessionStart {
            session_kind: if id.starts_with("jit") { "jit" } else { "console" }.into(),
            user: "alice@example.com".into(),
            account: "123456789012".into(),
            ..SessionStart::default()
        };
        let mut w = SessionWriter::start(
            store.clone(),
            SessionId::new(id).expect("id"),
            T0,
            start,
            Durability::EachEvent,
        )
        .expect("starts");
        w.append(
            T0 + 20,
            EventKind::ConsoleExchange(ConsoleExchange {
                method: "GET".into(),
                path: "/console/s3".into(),
                status: 200,
                html: Some(Html::new(
                    "<html><head><title>S3 buckets</title></head><body><h1>Buckets</h1></body></html>",
                )),
                ..ConsoleExchange::default()
            }),
        )
        .expect("appends");
        w.append(
            T0 + 40,
            EventKind::ConsoleExchange(ConsoleExchange {
                method: "POST".into(),
                path: "/console/s3/create-bucket".into(),
                status: 303,
                form: Some(vec![
                    ("name".into(), "reports".into()),
                    ("token".into(), "csrf-secret".into()),
                ]),
                ..ConsoleExchange::default()
            }),
        )
        .expect("appends");
        w.append(
            T0 + 60,
            EventKind::ApiCall(ApiCall {
                service: "s3".into(),
                action: "CreateBucket".into(),
                resource: Some("arn:aws:s3:::reports".into()),
                status: 200,
                ..ApiCall::default()
            }),
        )
        .expect("appends");
        if id == "crashed" {
            drop(w);
        } else {
            w.end(
                T0 + 80,
                SessionEnd {
                    reason: "logout".into(),
                },
                &key,
            )
            .expect("ends");
        }
    }
    (dir, key)
}

#[test]
fn verify_names_the_broken_event_and_exits_by_outcome() {
    let (dir, key) = prepare("verify");
    let root = &dir.0;

    let o = porteiro(root, &["verify", "console-1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("console-1: verified (completed, 5 events"));

    let pk = key.public_key().to_hex();
    let o = porteiro(root, &["verify", "jit-1", "--public-key", &pk, "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["verdict"], "verified");
    assert_eq!(v[0]["status"], "completed");

    // The open (crashed) one makes --all fail.
    let o = porteiro(root, &["verify", "--all"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("crashed: open"), "{}", stdout(&o));
    assert!(stdout(&o).contains("2 verified, 1 not"));

    // One byte changed in event 2 of console-1.
    let path = root.join("console-1/events.jsonl");
    let text = fs::read_to_string(&path).expect("events");
    fs::write(&path, text.replacen("create-bucket", "create-bucker", 1)).expect("write");
    let o = porteiro(root, &["verify", "console-1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("BROKEN: event seq 2 (line 3): the event was changed"),
        "{}",
        stdout(&o)
    );
    let o = porteiro(root, &["verify", "console-1", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0]["verdict"], "broken");
    assert_eq!(v[0]["problem"]["seq"], 2);
    assert_eq!(v[0]["problem"]["line"], 3);
    assert_eq!(v[0]["problem"]["reason"], "hashMismatch");

    // Usage errors: no id, an unknown recording, a bad key.
    assert_eq!(porteiro(root, &["verify"]).status.code(), Some(2));
    assert_eq!(porteiro(root, &["verify", "nope"]).status.code(), Some(2));
    assert_eq!(porteiro(root, &["verify", "../x"]).status.code(), Some(2));
    assert_eq!(
        porteiro(root, &["verify", "jit-1", "--public-key", "zz"])
            .status
            .code(),
        Some(2)
    );
    // Another trusted key: broken.
    let other = RecordingKey::generate().expect("key").public_key().to_hex();
    assert_eq!(
        porteiro(root, &["verify", "jit-1", "--public-key", &other])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn list_show_export_import_and_play() {
    let (dir, _key) = prepare("export");
    let root = &dir.0;

    let o = porteiro(root, &["list", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    let statuses: Vec<(&str, &str)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["sessionId"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("console-1", "completed"),
            ("crashed", "open"),
            ("jit-1", "completed")
        ]
    );
    assert_eq!(v[0]["startedAt"], "2026-11-18T11:06:40.000Z");
    let o = porteiro(root, &["list"]);
    assert!(stdout(&o).contains("console-1"));

    let o = porteiro(root, &["show", "jit-1"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("status:    completed"), "{out}");
    assert!(
        out.contains("apiCall 1, consoleExchange 2, sessionEnd 1, sessionStart 1"),
        "{out}"
    );

    // Export, then verify the archive offline, from another place.
    let archive = root.join("jit-1.tar");
    let o = porteiro(
        root,
        &["export", "jit-1", "--out", archive.to_str().expect("utf-8")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let elsewhere = root.join("elsewhere");
    let o = porteiro(
        &elsewhere,
        &["verify", "--archive", archive.to_str().expect("utf-8")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("jit-1: verified (completed, 5 events"));
    // Import it elsewhere, and verify it there.
    let o = porteiro(&elsewhere, &["import", archive.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(porteiro(&elsewhere, &["verify", "--all"]).status.code(), Some(0));
    // An open recording cannot be exported.
    let o = porteiro(
        root,
        &[
            "export",
            "crashed",
            "--out",
            root.join("c.tar").to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no manifest"));

    // A changed archive fails.
    let mut bytes = fs::read(&archive).expect("archive");
    let pos = bytes
        .windows(12)
        .position(|w| w == b"CreateBucket")
        .expect("an event in the archive");
    bytes[pos] = b'D';
    let tampered = root.join("tampered.tar");
    fs::write(&tampered, bytes).expect("write");
    let o = porteiro(root, &["verify", "--archive", tampered.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));

    // Play, without pauses and at 100x (the session lasts 80 ms).
    let o = porteiro(root, &["play", "console-1", "--speed", "0"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("+00:00.000 #0    session start: console session of alice@example.com"),
        "{out}"
    );
    assert!(out.contains("+00:00.020 #1    GET /console/s3 -> 200"), "{out}");
    assert!(out.contains("    page: S3 buckets"));
    assert!(out.contains("    form: name=reports, token=********"), "{out}");
    assert!(out.contains("api s3:CreateBucket on arn:aws:s3:::reports -> 200"));
    assert!(out.contains("+00:00.080 #4    session end: logout"));
    let o = porteiro(root, &["play", "console-1", "--speed", "100"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        porteiro(root, &["play", "console-1", "--speed", "-1"])
            .status
            .code(),
        Some(2)
    );
    let o = porteiro(root, &["play", "console-1", "--frames"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(v[0]["title"], "S3 buckets");
    assert_eq!(v[0]["offsetMs"], 20);
}
