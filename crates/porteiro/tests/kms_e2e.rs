//! End to end: KMS of the real `porteiro cloud serve`, driven by the unmodified `aws` CLI
//! (binary blobs through `fileb://` and `--output text | base64 -d`) and boto3.
//!
//! Needs `aws` (awscli), `python3` with boto3, `sh` and `base64` on PATH. Without them the
//! tests print a notice and pass, unless `PORTEIRO_E2E_REQUIRE_TOOLS=1`, when they fail.
//! Every child process is killed when its guard drops, on every path (panics included).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;
use common::{ACCOUNT, CloudServer as Server, ROOT_AK, ROOT_SK, TempDir};

/// Whether `aws`, boto3 and `base64` can run; fails the test instead when they are required.
fn tools_available() -> bool {
    let runs = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let missing: Vec<&str> = [
        (runs("aws", &["--version"]), "the `aws` CLI"),
        (runs("python3", &["-c", "import boto3"]), "boto3"),
        (runs("sh", &["-c", "echo | base64 -d"]), "`sh` with `base64`"),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, name)| name)
    .collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    let required = std::env::var("PORTEIRO_E2E_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "not available: {missing}, but PORTEIRO_E2E_REQUIRE_TOOLS=1: install them with `pip install awscli boto3` (base64 is in coreutils)"
    );
    eprintln!(
        "NOTICE: skipping the KMS end-to-end test: not available: {missing} (`pip install awscli boto3`)"
    );
    false
}

/// The environment every client runs with: the root credentials only, never the user's
/// configuration or profile.
fn client_env(cmd: &mut Command, scratch: &Path) {
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CA_BUNDLE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", ROOT_AK)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SK)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", scratch.join("no-such-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-such-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_RETRY_MODE", "standard")
        .env("AWS_PAGER", "")
        .env("PYTHONDONTWRITEBYTECODE", "1");
}

/// The `aws` CLI pointed at the server, run in a scratch directory.
struct Cli<'a> {
    endpoint: String,
    scratch: &'a Path,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("aws");
        cmd.args(["--endpoint-url", &self.endpoint, "--output", "json"])
            .args(args)
            .current_dir(self.scratch);
        client_env(&mut cmd, self.scratch);
        cmd.stdin(Stdio::null()).output().expect("run aws")
    }

    /// Runs a command expected to succeed; its JSON output.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
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

    /// Runs a command expected to fail with `code`; returns stderr.
    #[track_caller]
    fn fails(&self, args: &[&str], code: &str) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "`aws {}` succeeded; {code} was expected",
            args.join(" ")
        );
        assert!(
            stderr.contains(&format!("An error occurred ({code}) when calling the ")),
            "`aws {}`: expected {code}, got: {stderr}",
            args.join(" ")
        );
        stderr
    }

    /// Runs a shell pipeline (with `aws` pointed at the server as `$AWS`) in the scratch dir.
    #[track_caller]
    fn sh(&self, script: &str) -> Vec<u8> {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            &format!("set -e\nAWS=\"aws --endpoint-url {}\"\n{script}", self.endpoint),
        ])
        .current_dir(self.scratch);
        client_env(&mut cmd, self.scratch);
        let out = cmd.stdin(Stdio::null()).output().expect("run sh");
        assert!(
            out.status.success(),
            "the pipeline failed:\n{script}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

#[test]
fn aws_cli_kms_create_key_encrypt_decrypt() {
    if !tools_available() {
        return;
    }
    let dir = TempDir::new("cli");
    let data = dir.path().join("data");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let server = Server::start(&data);
    let cli = Cli {
        endpoint: server.endpoint(),
        scratch: &scratch,
    };

    let created = cli.ok(&["kms", "create-key", "--description", "e2e key"]);
    let meta = &created["KeyMetadata"];
    let key_id = meta["KeyId"].as_str().expect("KeyId").to_string();
    let arn = meta["Arn"].as_str().expect("Arn").to_string();
    assert_eq!(arn, format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}"));
    assert_eq!(meta["KeyState"], "Enabled");
    assert_eq!(meta["KeySpec"], "SYMMETRIC_DEFAULT");
    cli.ok(&[
        "kms",
        "create-alias",
        "--alias-name",
        "alias/e2e",
        "--target-key-id",
        &key_id,
    ]);
    let described = cli.ok(&["kms", "describe-key", "--key-id", "alias/e2e"]);
    assert_eq!(described["KeyMetadata"]["Arn"], arn.as_str());
    let keys = cli.ok(&["kms", "list-keys"]);
    assert_eq!(keys["Keys"][0]["KeyArn"], arn.as_str());
    let aliases = cli.ok(&["kms", "list-aliases"]);
    assert_eq!(aliases["Aliases"][0]["AliasName"], "alias/e2e");
    let policy = cli.ok(&[
        "kms",
        "get-key-policy",
        "--key-id",
        &key_id,
        "--policy-name",
        "default",
    ]);
    assert!(
        policy["Policy"]
            .as_str()
            .expect("Policy")
            .contains("Enable IAM User Permissions")
    );

    // Binary plaintext through fileb://, the blob back through --output text | base64 -d.
    let plaintext: Vec<u8> = (0u8..=255).chain(*b"porteiro").collect();
    std::fs::write(scratch.join("plain.bin"), &plaintext).expect("write plaintext");
    cli.sh(
        "$AWS kms encrypt --key-id alias/e2e --plaintext fileb://plain.bin \
         --encryption-context purpose=e2e,tenant=t1 \
         --query CiphertextBlob --output text | base64 -d > blob.bin",
    );
    let blob = std::fs::read(scratch.join("blob.bin")).expect("blob");
    assert!(blob.len() > plaintext.len(), "a blob of {} bytes", blob.len());
    let decrypted = cli.sh("$AWS kms decrypt --ciphertext-blob fileb://blob.bin \
         --encryption-context tenant=t1,purpose=e2e \
         --query Plaintext --output text | base64 -d");
    assert_eq!(decrypted, plaintext);
    let out = cli.ok(&[
        "kms",
        "decrypt",
        "--ciphertext-blob",
        "fileb://blob.bin",
        "--encryption-context",
        "purpose=e2e,tenant=t1",
    ]);
    assert_eq!(out["KeyId"], arn.as_str());
    assert_eq!(out["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    // A different encryption context does not decrypt.
    cli.fails(
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            "fileb://blob.bin",
            "--encryption-context",
            "purpose=e2e,tenant=t2",
        ],
        "InvalidCiphertextException",
    );
    // The wrong KeyId.
    let other = cli.ok(&["kms", "create-key"]);
    let other_id = other["KeyMetadata"]["KeyId"].as_str().expect("KeyId").to_string();
    cli.fails(
        &[
            "kms",
            "decrypt",
            "--key-id",
            &other_id,
            "--ciphertext-blob",
            "fileb://blob.bin",
            "--encryption-context",
            "purpose=e2e,tenant=t1",
        ],
        "IncorrectKeyException",
    );

    // Data keys: plaintext and ciphertext; the ciphertext decrypts to the plaintext.
    let dk = cli.ok(&[
        "kms",
        "generate-data-key",
        "--key-id",
        &arn,
        "--key-spec",
        "AES_256",
        "--encryption-context",
        "aws:s3:arn=arn:aws:s3:::bkt/obj",
    ]);
    let dk_plain = dk["Plaintext"].as_str().expect("Plaintext").to_string();
    std::fs::write(
        scratch.join("dk.b64"),
        dk["CiphertextBlob"].as_str().expect("blob"),
    )
    .expect("write");
    cli.sh("base64 -d < dk.b64 > dk.bin");
    let back = cli.ok(&[
        "kms",
        "decrypt",
        "--ciphertext-blob",
        "fileb://dk.bin",
        "--encryption-context",
        "aws:s3:arn=arn:aws:s3:::bkt/obj",
    ]);
    assert_eq!(back["Plaintext"].as_str(), Some(dk_plain.as_str()));
    let wp = cli.ok(&[
        "kms",
        "generate-data-key-without-plaintext",
        "--key-id",
        "alias/e2e",
        "--key-spec",
        "AES_128",
    ]);
    assert!(
        wp["Plaintext"].is_null() && wp["CiphertextBlob"].is_string(),
        "{wp}"
    );

    // Disable, schedule deletion, cancel.
    cli.ok(&["kms", "disable-key", "--key-id", &key_id]);
    cli.fails(
        &[
            "kms",
            "encrypt",
            "--key-id",
            &key_id,
            "--plaintext",
            "fileb://plain.bin",
        ],
        "DisabledException",
    );
    cli.ok(&["kms", "enable-key", "--key-id", &key_id]);
    let sched = cli.ok(&[
        "kms",
        "schedule-key-deletion",
        "--key-id",
        &key_id,
        "--pending-window-in-days",
        "7",
    ]);
    assert_eq!(sched["KeyState"], "PendingDeletion");
    cli.fails(
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            "fileb://dk.bin",
            "--encryption-context",
            "aws:s3:arn=arn:aws:s3:::bkt/obj",
        ],
        "KMSInvalidStateException",
    );
    cli.ok(&["kms", "cancel-key-deletion", "--key-id", &key_id]);
    cli.fails(
        &["kms", "describe-key", "--key-id", "alias/nope"],
        "NotFoundException",
    );
}

#[test]
fn boto3_kms_roundtrip() {
    if !tools_available() {
        return;
    }
    let dir = TempDir::new("boto3");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let server = Server::start(&dir.path().join("data"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/boto3_kms.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(server.endpoint());
    client_env(&mut cmd, &scratch);
    let out = cmd.stdin(Stdio::null()).output().expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("boto3 kms: ok"),
        "boto3 KMS flow failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
