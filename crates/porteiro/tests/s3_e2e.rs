//! End to end: S3 of the real `porteiro cloud serve` driven by the unmodified `aws` CLI
//! (`s3 mb/cp/ls/presign/rm/rb`, a multipart upload over 8 MiB, `s3api`) and boto3
//! (`tests/e2e/boto3_s3.py`).
//!
//! Needs `aws` (awscli) and `python3` with boto3 on PATH. Without them the tests print a
//! notice and pass, unless `PORTEIRO_E2E_REQUIRE_TOOLS=1`, when they fail. The harness is
//! the one of `cloud_e2e.rs`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{ACCOUNT, CloudServer as Server, ROOT_AK, ROOT_SK, TempDir};

const OTHER_ACCOUNT: &str = "210987654321";
const OTHER_AK: &str = "AKIAI44QH8DHBEXAMPLE";
const OTHER_SK: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// Whether `aws` and boto3 can run; fails the test instead when they are required.
fn tools_available() -> bool {
    let runs = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let aws = runs("aws", &["--version"]);
    let boto3 = runs("python3", &["-c", "import boto3"]);
    if aws && boto3 {
        return true;
    }
    let missing = match (aws, boto3) {
        (false, false) => "the `aws` CLI and boto3 are",
        (false, true) => "the `aws` CLI is",
        _ => "boto3 (python3 -c \"import boto3\") is",
    };
    let required = std::env::var("PORTEIRO_E2E_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{missing} not available but PORTEIRO_E2E_REQUIRE_TOOLS=1: install them with `pip install awscli boto3`"
    );
    eprintln!(
        "NOTICE: skipping the embedded cloud end-to-end test: {missing} not available (`pip install awscli boto3`)"
    );
    false
}

/// Credentials for the CLI.
#[derive(Debug, Clone)]
struct Creds {
    ak: String,
    sk: String,
    token: Option<String>,
}

impl Creds {
    fn new(ak: &str, sk: &str) -> Creds {
        Creds {
            ak: ak.to_string(),
            sk: sk.to_string(),
            token: None,
        }
    }

    fn root() -> Creds {
        Creds::new(ROOT_AK, ROOT_SK)
    }

    fn other_root() -> Creds {
        Creds::new(OTHER_AK, OTHER_SK)
    }
}

/// The environment every client runs with: only the given credentials, never the user's
/// configuration or profile.
fn client_env(cmd: &mut Command, c: &Creds, scratch: &Path) {
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_IAM",
        "AWS_ENDPOINT_URL_STS",
        "AWS_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CA_BUNDLE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", &c.ak)
        .env("AWS_SECRET_ACCESS_KEY", &c.sk)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", scratch.join("no-such-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-such-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_RETRY_MODE", "standard")
        .env("AWS_PAGER", "");
    if let Some(t) = &c.token {
        cmd.env("AWS_SESSION_TOKEN", t);
    }
}

/// One `aws` CLI invocation.
struct Cli<'a> {
    endpoint: String,
    scratch: &'a Path,
}

impl Cli<'_> {
    fn run(&self, c: &Creds, args: &[&str]) -> Output {
        let mut cmd = Command::new("aws");
        cmd.args(["--endpoint-url", &self.endpoint, "--output", "json"])
            .args(args);
        client_env(&mut cmd, c, self.scratch);
        cmd.stdin(Stdio::null()).output().expect("run aws")
    }

    /// Runs a command expected to succeed; its JSON output (`null` when it prints nothing).
    #[track_caller]
    fn ok(&self, c: &Creds, args: &[&str]) -> Value {
        let out = self.run(c, args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`aws {}` failed: {}{}",
            args.join(" "),
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("`aws {}` printed no JSON ({e}): {stdout}", args.join(" ")))
        }
    }

    /// Runs a command expected to fail with `code`; returns the message after the code.
    #[track_caller]
    fn fails(&self, c: &Creds, args: &[&str], code: &str) -> String {
        let out = self.run(c, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "`aws {}` succeeded; {code} was expected",
            args.join(" ")
        );
        let marker = format!("An error occurred ({code}) when calling the ");
        assert!(
            stderr.contains(&marker),
            "`aws {}`: expected {code}, got: {stderr}",
            args.join(" ")
        );
        let (_, message) = stderr
            .split_once(&marker)
            // "…the CreateUser operation: MESSAGE", or "…operation (reached max retries: 0): MESSAGE"
            .and_then(|(_, rest)| rest.split_once(" operation"))
            .and_then(|(_, rest)| rest.split_once("): ").or_else(|| rest.split_once(": ")))
            .unwrap_or_else(|| panic!("`aws {}`: no error message in: {stderr:?}", args.join(" ")));
        message.trim().to_string()
    }
}

/// `porteiro cloud account create` for the second account, while the server runs, then
/// waits until the server has picked it up.
fn create_other_account(cli: &Cli<'_>, data_dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_porteiro"))
        .args(["cloud", "account", "create", "--data-dir"])
        .arg(data_dir)
        .args([
            "--account-id",
            OTHER_ACCOUNT,
            "--root-access-key-id",
            OTHER_AK,
            "--root-secret-access-key",
            OTHER_SK,
        ])
        .env_remove("PORTEIRO_CLOUD_DATA_DIR")
        .env_remove("PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID")
        .env_remove("PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run `porteiro cloud account create`");
    assert!(
        out.status.success(),
        "`porteiro cloud account create` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("created account {OTHER_ACCOUNT}")));
    // "A running cloud picks it up within a second."
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = cli.run(&Creds::other_root(), &["sts", "get-caller-identity"]);
        if out.status.success() {
            let me: Value = serde_json::from_slice(&out.stdout).expect("json");
            assert_eq!(me["Account"], OTHER_ACCOUNT);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the running server did not pick up the new account: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A data directory, a running server on it and a CLI pointed at it.
struct World {
    dir: TempDir,
    server: Server,
}

impl World {
    fn start(tag: &str) -> World {
        let dir = TempDir::new(tag);
        let server = Server::start(&dir.path().join("data"));
        World { dir, server }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn cli(&self) -> Cli<'_> {
        Cli {
            endpoint: self.server.endpoint(),
            scratch: self.dir.path(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// S3
// ---------------------------------------------------------------------------------------

impl Cli<'_> {
    /// Runs a command expected to succeed; its standard output as text.
    #[track_caller]
    fn text(&self, c: &Creds, args: &[&str]) -> String {
        let out = self.run(c, args);
        assert!(
            out.status.success(),
            "`aws {}` failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// GET of a URL on 127.0.0.1 (what a browser or curl does with a presigned URL).
fn http_get(url: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, target) = rest.split_at(rest.find('/').expect("a path"));
    let mut s = TcpStream::connect(authority).expect("connect");
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("headers");
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, out[split + 4..].to_vec())
}

fn pseudo_random(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xff) as u8
        })
        .collect()
}

#[test]
fn aws_cli_s3_mb_cp_ls_presign_multipart_rm() {
    if !tools_available() {
        return;
    }
    let mut w = World::start("cli");
    let root = Creds::root();
    let scratch = w.dir.path().to_path_buf();
    let cli = w.cli();
    create_other_account(&cli, &w.data_dir());

    let out = cli.text(&root, &["s3", "mb", "s3://e2e-bucket"]);
    assert!(out.contains("make_bucket: e2e-bucket"), "{out}");
    cli.fails(
        &root,
        &["s3api", "create-bucket", "--bucket", "e2e-bucket"],
        "BucketAlreadyOwnedByYou",
    );
    cli.fails(
        &Creds::other_root(),
        &["s3api", "create-bucket", "--bucket", "e2e-bucket"],
        "BucketAlreadyExists",
    );

    let small = scratch.join("small.txt");
    std::fs::write(&small, b"hello from the aws cli\n").expect("write");
    let big = scratch.join("big.bin");
    let payload = pseudo_random(9 * 1024 * 1024 + 123);
    std::fs::write(&big, &payload).expect("write");

    cli.text(
        &root,
        &[
            "s3",
            "cp",
            small.to_str().expect("path"),
            "s3://e2e-bucket/dir/small file.txt",
        ],
    );
    cli.text(
        &root,
        &["s3", "cp", big.to_str().expect("path"), "s3://e2e-bucket/big.bin"],
    );
    let head = cli.ok(
        &root,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "e2e-bucket",
            "--key",
            "big.bin",
        ],
    );
    assert_eq!(head["ContentLength"], json!(payload.len()));
    let etag = head["ETag"].as_str().expect("etag");
    assert!(
        etag.ends_with("-2\""),
        "a 9 MiB upload goes multipart in 8 MiB parts: {etag}"
    );

    let ls = cli.text(&root, &["s3", "ls", "s3://e2e-bucket/"]);
    assert!(ls.contains("PRE dir/") && ls.contains("big.bin"), "{ls}");
    let ls = cli.text(&root, &["s3", "ls", "--recursive", "s3://e2e-bucket"]);
    assert!(
        ls.contains("dir/small file.txt") && ls.contains(&payload.len().to_string()),
        "{ls}"
    );
    let buckets = cli.text(&root, &["s3", "ls"]);
    assert!(buckets.contains("e2e-bucket"), "{buckets}");

    // Download (ranged, parallel GETs for the big one) and compare.
    let down = scratch.join("down.bin");
    cli.text(
        &root,
        &[
            "s3",
            "cp",
            "s3://e2e-bucket/big.bin",
            down.to_str().expect("path"),
        ],
    );
    assert!(
        std::fs::read(&down).expect("read") == payload,
        "the downloaded object differs"
    );
    let down_small = scratch.join("down.txt");
    cli.text(
        &root,
        &[
            "s3",
            "cp",
            "s3://e2e-bucket/dir/small file.txt",
            down_small.to_str().expect("path"),
        ],
    );
    assert_eq!(
        std::fs::read(&down_small).expect("read"),
        b"hello from the aws cli\n"
    );

    // Presign (SigV2, as awscli v1 does by default), fetched as a browser would.
    let url = cli.text(
        &root,
        &[
            "s3",
            "presign",
            "s3://e2e-bucket/dir/small file.txt",
            "--expires-in",
            "300",
        ],
    );
    let url = url.trim();
    assert!(url.contains("AWSAccessKeyId="), "{url}");
    let (status, body) = http_get(url);
    assert_eq!(
        (status, body.as_slice()),
        (200, b"hello from the aws cli\n".as_slice()),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // s3api put-object with metadata, get-object.
    cli.ok(
        &root,
        &[
            "s3api",
            "put-object",
            "--bucket",
            "e2e-bucket",
            "--key",
            "api.txt",
            "--body",
            small.to_str().expect("path"),
            "--metadata",
            "team=platform",
            "--content-type",
            "text/plain",
        ],
    );
    let got = scratch.join("api.out");
    let meta = cli.ok(
        &root,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "e2e-bucket",
            "--key",
            "api.txt",
            got.to_str().expect("path"),
        ],
    );
    assert_eq!(meta["Metadata"]["team"], "platform");
    assert_eq!(meta["ContentType"], "text/plain");
    cli.fails(
        &root,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "e2e-bucket",
            "--key",
            "nope",
            got.to_str().expect("path"),
        ],
        "NoSuchKey",
    );
    cli.fails(
        &root,
        &["s3api", "get-bucket-location", "--bucket", "no-such-bucket"],
        "NoSuchBucket",
    );

    // Another account is denied, with the engine's message.
    let msg = cli.fails(
        &Creds::other_root(),
        &["s3api", "list-objects-v2", "--bucket", "e2e-bucket"],
        "AccessDenied",
    );
    assert!(
        msg.contains(&format!(
            "User: arn:aws:iam::{OTHER_ACCOUNT}:root is not authorized to perform: s3:ListBucket"
        )),
        "{msg}"
    );

    // Objects survive a restart.
    w.server.child.stop();
    w.server = Server::start(&w.data_dir());
    let cli = w.cli();
    let head = cli.ok(
        &root,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "e2e-bucket",
            "--key",
            "big.bin",
        ],
    );
    assert_eq!(head["ETag"].as_str(), Some(etag));

    // SSE-KMS with a customer managed key: the 9 MiB upload goes multipart, S3 asks KMS for
    // the data key on the caller's behalf, and the download decrypts it.
    let key = cli.ok(&root, &["kms", "create-key", "--description", "e2e sse-kms"]);
    let key_arn = key["KeyMetadata"]["Arn"].as_str().expect("key arn").to_string();
    cli.text(
        &root,
        &[
            "s3",
            "cp",
            big.to_str().expect("path"),
            "s3://e2e-bucket/sealed.bin",
            "--sse",
            "aws:kms",
            "--sse-kms-key-id",
            &key_arn,
        ],
    );
    let head = cli.ok(
        &root,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "e2e-bucket",
            "--key",
            "sealed.bin",
        ],
    );
    assert_eq!(head["ServerSideEncryption"], json!("aws:kms"));
    assert_eq!(head["SSEKMSKeyId"], json!(key_arn));
    let back = scratch.join("sealed-back.bin");
    cli.text(
        &root,
        &[
            "s3",
            "cp",
            "s3://e2e-bucket/sealed.bin",
            back.to_str().expect("path"),
        ],
    );
    assert!(
        std::fs::read(&back).expect("read back") == payload,
        "SSE-KMS round trip"
    );

    cli.fails(
        &root,
        &["s3api", "delete-bucket", "--bucket", "e2e-bucket"],
        "BucketNotEmpty",
    );
    cli.text(&root, &["s3", "rm", "s3://e2e-bucket/big.bin"]);
    let out = cli.text(&root, &["s3", "rm", "--recursive", "s3://e2e-bucket"]);
    assert!(out.contains("delete: s3://e2e-bucket/api.txt"), "{out}");
    cli.text(&root, &["s3", "rb", "s3://e2e-bucket"]);
    assert!(!cli.text(&root, &["s3", "ls"]).contains("e2e-bucket"));
}

#[test]
fn boto3_s3_put_get_multipart_presign_policy() {
    if !tools_available() {
        return;
    }
    let w = World::start("boto3");
    create_other_account(&w.cli(), &w.data_dir());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/boto3_s3.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(w.server.endpoint()).arg(w.dir.path());
    client_env(&mut cmd, &Creds::root(), w.dir.path());
    let out = cmd
        .env("ROOT_ACCESS_KEY_ID", ROOT_AK)
        .env("ROOT_SECRET_ACCESS_KEY", ROOT_SK)
        .env("ACCOUNT_ID", ACCOUNT)
        .env("OTHER_ROOT_ACCESS_KEY_ID", OTHER_AK)
        .env("OTHER_ROOT_SECRET_ACCESS_KEY", OTHER_SK)
        .env("OTHER_ACCOUNT_ID", OTHER_ACCOUNT)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("boto3 s3: ok"),
        "boto3 S3 flow failed:\n{stdout}{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        w.server.log_text()
    );
}

#[test]
fn killed_mid_upload_leaves_no_half_object() {
    if !tools_available() {
        return;
    }
    use std::io::Write;
    let mut w = World::start("crash");
    let root = Creds::root();
    w.cli().text(&root, &["s3", "mb", "s3://crash-bucket"]);
    // A presigned PUT (SigV4, UNSIGNED-PAYLOAD), made by boto3.
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import sys, boto3; from botocore.config import Config; \
         c = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', config=Config(signature_version='s3v4')); \
         print(c.generate_presigned_url('put_object', Params={'Bucket': 'crash-bucket', 'Key': 'half'}, ExpiresIn=600))",
        &w.server.endpoint(),
    ]);
    client_env(&mut cmd, &root, w.dir.path());
    let out = cmd.stdin(Stdio::null()).output().expect("python3");
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        url.contains("X-Amz-Signature="),
        "{url}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rest = url.strip_prefix("http://").expect("http");
    let (authority, target) = rest.split_at(rest.find('/').expect("path"));

    // Send 1 MiB of a declared 10 MiB body, then kill the server.
    let mut s = TcpStream::connect(authority).expect("connect");
    write!(
        s,
        "PUT {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024
    )
    .expect("head");
    s.write_all(&vec![7u8; 1024 * 1024]).expect("body");
    s.flush().expect("flush");
    let tmp = w.data_dir().join("s3/tmp");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0) > 0,
        "the body was being written to s3/tmp"
    );
    w.server.child.stop();
    drop(s);

    w.server = Server::start(&w.data_dir());
    let cli = w.cli();
    let out = cli.run(
        &root,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "crash-bucket",
            "--key",
            "half",
        ],
    );
    assert!(!out.status.success(), "no object after the crash");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(99),
        0,
        "the restart removed the partial body"
    );
    let listed = cli.ok(&root, &["s3api", "list-objects-v2", "--bucket", "crash-bucket"]);
    assert!(listed.get("Contents").is_none(), "{listed}");
}
