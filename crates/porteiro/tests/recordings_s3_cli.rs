//! End to end: `porteiro recordings --store s3://...` (the real binary) over recordings in the
//! S3 of the real `porteiro cloud serve`: list, verify, export, import, a tampered object, and
//! bad credentials.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;
use porteiro_recording::s3::{S3Credentials, S3Options, S3Store};
use porteiro_recording::{
    ApiCall, Durability, EventKind, RecordingKey, RecordingStore, SessionEnd, SessionId, SessionStart,
    SessionWriter, default_spool_of,
};
use serde_json::Value;

const ACCOUNT: &str = "123456789012";
const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";
const ROOT_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const BUCKET: &str = "recordings";
const T0: u64 = 1_795_000_000_000;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("porteiro-rec-s3-cli-{tag}-{}", std::process::id()));
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

/// `porteiro cloud serve`, killed and reaped when dropped.
struct Cloud {
    child: Child,
    port: u16,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Cloud {
    fn start(data_dir: &Path) -> Cloud {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let child = Command::new(env!("CARGO_BIN_EXE_porteiro"))
                .args([
                    "cloud",
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--data-dir",
                ])
                .arg(data_dir)
                .args([
                    "--account-id",
                    ACCOUNT,
                    "--root-access-key-id",
                    ROOT_AK,
                    "--root-secret-access-key",
                    ROOT_SK,
                ])
                .env_remove("PORTEIRO_CLOUD_DATA_DIR")
                .env_remove("PORTEIRO_CLOUD_ACCOUNT_ID")
                .env_remove("PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID")
                .env_remove("PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start `porteiro cloud serve`");
            let mut cloud = Cloud { child, port };
            let deadline = Instant::now() + Duration::from_secs(30);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            while Instant::now() < deadline {
                if let Ok(Some(_)) = cloud.child.try_wait() {
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return cloud;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = cloud.child.kill();
        }
        panic!("`porteiro cloud serve` did not start");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.url())
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ROOT_AK, ROOT_SK, None, None, "test",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}

fn porteiro(data_dir: &Path, spec: &str, secret: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_porteiro"))
        .arg("recordings")
        .args(["--store", spec, "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env_remove("PORTEIRO_RECORDINGS_DIR")
        .env_remove("PORTEIRO_RECORDINGS_STORE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env("AWS_ACCESS_KEY_ID", ROOT_AK)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("the porteiro binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn start(kind: &str) -> SessionStart {
    SessionStart {
        session_kind: kind.into(),
        user: "alice@example.com".into(),
        account: ACCOUNT.into(),
        ..SessionStart::default()
    }
}

fn call(i: u64) -> EventKind {
    EventKind::ApiCall(ApiCall {
        service: "sts".into(),
        action: "GetCallerIdentity".into(),
        resource: None,
        status: 200,
        error_code: None,
        duration_ms: i,
        request_id: None,
        request_bytes: 10,
        response_bytes: 300,
    })
}

#[test]
fn recordings_in_the_embedded_clouds_s3_are_listed_verified_exported_and_imported() {
    let work = TempDir::new("work");
    let cloud = Cloud::start(&work.path().join("cloud"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let s3 = cloud.s3();
    rt.block_on(s3.create_bucket().bucket(BUCKET).send())
        .expect("bucket");

    // The recorder's side: one completed session and one still open, spooled where the
    // CLI's --data-dir puts the spool.
    let data_dir = work.path().join("data");
    let spool = default_spool_of(&data_dir.join("recordings-spool"), BUCKET, "rec");
    let mut options = S3Options::new(BUCKET, "rec", spool);
    options.endpoint = Some(cloud.url());
    options.credentials = Some(S3Credentials {
        access_key_id: ROOT_AK.into(),
        secret_access_key: ROOT_SK.into(),
        session_token: None,
    });
    let store: Arc<dyn RecordingStore> = Arc::new(S3Store::open(options).expect("opens"));
    let key = RecordingKey::generate().expect("key");
    let mut w = SessionWriter::start(
        store.clone(),
        SessionId::new("jit-1").expect("id"),
        T0,
        start("jit"),
        Durability::EachEvent,
    )
    .expect("starts");
    for i in 1..=4 {
        w.append(T0 + i * 100, call(i)).expect("appends");
    }
    w.end(
        T0 + 1000,
        SessionEnd {
            reason: "expired".into(),
        },
        &key,
    )
    .expect("ends");
    let mut open = SessionWriter::start(
        store.clone(),
        SessionId::new("live-1").expect("id"),
        T0,
        start("console"),
        Durability::EachEvent,
    )
    .expect("starts");
    open.append(T0 + 5, call(9)).expect("appends");

    let spec = format!("s3://{BUCKET}/rec?endpoint={}", cloud.url());
    let o = porteiro(&data_dir, &spec, ROOT_SK, &["list", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rows: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(rows[0]["sessionId"], "jit-1");
    assert_eq!(rows[0]["status"], "completed");
    assert_eq!(rows[0]["events"], 6);
    assert_eq!(rows[1]["sessionId"], "live-1");
    assert_eq!(rows[1]["status"], "open");

    let pk = key.public_key().to_hex();
    let o = porteiro(
        &data_dir,
        &spec,
        ROOT_SK,
        &["verify", "jit-1", "--public-key", &pk],
    );
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).contains("jit-1: verified (completed, 6 events"),
        "{}",
        text(&o.stdout)
    );
    let o = porteiro(&data_dir, &spec, ROOT_SK, &["verify", "--all"]);
    assert_eq!(o.status.code(), Some(1), "the live recording is not verified yet");
    assert!(text(&o.stdout).contains("live-1: open"), "{}", text(&o.stdout));

    // Export, then import into another prefix, where it verifies.
    let archive = work.path().join("jit-1.tar");
    let archive_arg = archive.to_string_lossy().into_owned();
    let o = porteiro(
        &data_dir,
        &spec,
        ROOT_SK,
        &["export", "jit-1", "--out", &archive_arg],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let copy = format!("s3://{BUCKET}/copy?endpoint={}", cloud.url());
    let o = porteiro(&data_dir, &copy, ROOT_SK, &["import", &archive_arg]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = porteiro(&data_dir, &copy, ROOT_SK, &["verify", "--all"]);
    assert!(o.status.success(), "{}", text(&o.stdout));

    // One byte changed in the uploaded events object: verify names the event.
    let mut events = rt
        .block_on(async {
            let out = s3
                .get_object()
                .bucket(BUCKET)
                .key("rec/jit-1/events.jsonl")
                .send()
                .await?;
            Ok::<_, Box<dyn std::error::Error>>(out.body.collect().await?.into_bytes().to_vec())
        })
        .expect("events object");
    let third = events
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .map(|(i, _)| i + 1)
        .expect("a third line");
    let pos = third
        + events[third..]
            .windows(6)
            .position(|w| w == b"\"sts\",")
            .expect("service")
        + 1;
    events[pos] = b'S';
    rt.block_on(
        s3.put_object()
            .bucket(BUCKET)
            .key("rec/jit-1/events.jsonl")
            .body(ByteStream::from(events))
            .send(),
    )
    .expect("tampered");
    let o = porteiro(&data_dir, &spec, ROOT_SK, &["verify", "jit-1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("BROKEN: event seq 2 (line 3): the event was changed"),
        "{}",
        text(&o.stdout)
    );

    // Bad credentials and a missing bucket: exit 2, a message that says what to fix, no secret.
    let o = porteiro(&data_dir, &spec, "wrong-secret-value", &["list"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("AWS_SECRET_ACCESS_KEY") && !err.contains("wrong-secret-value"),
        "{err}"
    );
    // Verifying an archive is offline: the store is not opened.
    let o = porteiro(
        &data_dir,
        &spec,
        "wrong-secret-value",
        &["verify", "--archive", &archive_arg],
    );
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let missing = format!("s3://nope/rec?endpoint={}", cloud.url());
    let o = porteiro(&data_dir, &missing, ROOT_SK, &["list"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("aws s3 mb s3://nope"),
        "{}",
        text(&o.stderr)
    );
    drop(open);
}
