//! The harness of the API gateway's end-to-end tests: the real `porteiro serve` binary on free
//! ports (API, embedded cloud, gateway), a test clock offset file, and the setup of a person
//! who may start JIT sessions of roles that may use IAM, STS and S3.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const ACCOUNT: &str = "123456789012";
pub const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";
pub const ROOT_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const ANA_PASSWORD: &str = "ana-password-1";

/// A running `porteiro serve`, killed and its data directory removed on drop.
pub struct Porteiro {
    child: Child,
    pub api: String,
    pub cloud: String,
    pub gateway: String,
    pub dir: PathBuf,
    pub offset_file: PathBuf,
}

/// Spawns `porteiro serve` on a data directory and ports, and waits until its API listens.
fn spawn(dir: &Path, offset_file: &Path, api: &str, cloud: &str, gateway: &str) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_porteiro"))
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", api])
        .args(["--cloud-listen", cloud.trim_start_matches("http://")])
        .args(["--gateway-listen", gateway.trim_start_matches("http://")])
        .arg("--test-clock-offset-file")
        .arg(offset_file)
        .env("PORTEIRO_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("PORTEIRO_CLOUD_ACCOUNT_ID", ACCOUNT)
        .env("PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID", ROOT_AK)
        .env("PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY", ROOT_SK)
        .env_remove("PORTEIRO_MASTER_KEY")
        .env_remove("PORTEIRO_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("porteiro serve starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(api).is_err() {
        assert!(
            Instant::now() < deadline,
            "porteiro serve did not listen on {api}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

impl Drop for Porteiro {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Everything set up for Ana: her API token, cloud IAM user and the account.
pub struct Setup {
    pub admin: String,
    pub ana: String,
    pub cloud_user: String,
    pub account: String,
}

/// A JIT session started through the API, with its gateway credentials.
pub struct Jit {
    pub id: String,
    pub access_key_id: String,
    pub secret: String,
    pub endpoint: String,
}

impl Porteiro {
    pub fn start(name: &str) -> Porteiro {
        let dir =
            std::env::temp_dir().join(format!("porteiro-{name}-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("dir");
        let offset_file = dir.join("clock-offset");
        let (api_port, cloud_port, gateway_port) = (free_port(), free_port(), free_port());
        let api = format!("127.0.0.1:{api_port}");
        let cloud = format!("http://127.0.0.1:{cloud_port}");
        let gateway = format!("http://127.0.0.1:{gateway_port}");
        let child = spawn(&dir, &offset_file, &api, &cloud, &gateway);
        Porteiro {
            child,
            api,
            cloud,
            gateway,
            dir,
            offset_file,
        }
    }

    /// Kills the process with SIGKILL (no shutdown of any kind: what a crash or a power cut
    /// leaves) and starts `porteiro serve` again on the same data directory and ports.
    pub fn kill_and_restart(&mut self) {
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
        self.child = spawn(
            &self.dir,
            &self.offset_file,
            &self.api,
            &self.cloud,
            &self.gateway,
        );
        // The listener accepts connections before start-up has finished (the recorder's
        // recovery of open recordings comes first): wait for a first answer.
        let (status, _) = self.call("GET", "/sessions", None, None);
        assert_eq!(status, 401, "the restarted server answers");
    }

    /// One API request; the status and the JSON body.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
        let mut s = TcpStream::connect(&self.api).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(120)))
            .expect("timeout");
        let body = body.unwrap_or("");
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "{method} /api/v1{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.api,
            body.len()
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read");
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text.split_once("\r\n\r\n").expect("http response");
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status");
        (status, serde_json::from_str(rest).unwrap_or(Value::Null))
    }

    pub fn ok(&self, method: &str, path: &str, token: &str, body: Value) -> Value {
        let b = body.to_string();
        let (status, v) = self.call(method, path, Some(token), (!body.is_null()).then_some(b.as_str()));
        assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
        v
    }

    pub fn login(&self, username: &str, password: &str) -> String {
        let (status, v) = self.call(
            "POST",
            "/login",
            None,
            Some(&json!({"username": username, "password": password}).to_string()),
        );
        assert_eq!(status, 200, "{v}");
        v["token"].as_str().expect("token").to_string()
    }

    /// Ana, her group, cloud IAM user and credential; `roles` roles she may assume (IAM list,
    /// STS, S3 and KMS allowed); JIT settings with those roles.
    pub fn setup(&self, roles: &[&str]) -> Setup {
        let admin = self.login("admin", ADMIN_PASSWORD);
        let accounts = self.ok("GET", "/accounts", &admin, Value::Null);
        let account = accounts[0]["id"].as_str().expect("account").to_string();
        let ana = self.ok(
            "POST",
            "/users",
            &admin,
            json!({"name": "Ana", "username": "ana", "email": "ana@example.com", "password": ANA_PASSWORD}),
        );
        self.ok(
            "POST",
            "/groups",
            &admin,
            json!({"name": "engineers", "members": ["ana"], "permissions": ["start_jit_sessions"]}),
        );
        let cu = self.ok(
            "POST",
            "/cloud-users",
            &admin,
            json!({"account_id": account, "owner": ana["id"]}),
        );
        // Provisioning runs as a job: at once, or by the scheduler when it got there first.
        let mut cu = cu;
        let deadline = Instant::now() + Duration::from_secs(30);
        while cu["status"] != "Provisioned" {
            assert!(Instant::now() < deadline, "not provisioned: {cu}");
            std::thread::sleep(Duration::from_millis(100));
            cu = self.ok(
                "GET",
                &format!("/cloud-users/{}", cu["id"].as_str().expect("id")),
                &admin,
                Value::Null,
            );
        }
        let user_arn = cu["arn"].as_str().expect("arn").to_string();
        self.ok("POST", "/credentials", &admin, json!({"cloud_user_id": cu["id"]}));
        let root = self.iam(&self.cloud, ROOT_AK, ROOT_SK, None);
        runtime().block_on(async {
            for role in roles {
                root.create_role()
                    .role_name(*role)
                    .assume_role_policy_document(format!(
                        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}}]}}"#
                    ))
                    .send()
                    .await
                    .expect("role");
                root.put_role_policy()
                    .role_name(*role)
                    .policy_name("work")
                    .policy_document(
                        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:List*","iam:Get*","s3:*","kms:*"],"Resource":"*"}]}"#,
                    )
                    .send()
                    .await
                    .expect("role policy");
            }
        });
        self.ok(
            "PUT",
            &format!("/jit/{account}"),
            &admin,
            json!({"active": true, "description": "embedded", "jit_enabled": true, "duration": 3600, "roles": roles}),
        );
        let ana = self.login("ana", ANA_PASSWORD);
        Setup {
            admin,
            ana,
            cloud_user: cu["id"].as_str().expect("id").to_string(),
            account,
        }
    }

    /// Starts a JIT session as Ana: the API gives gateway credentials, not STS ones.
    pub fn start_jit(&self, s: &Setup, role: &str, duration: i64) -> Jit {
        let started = self.ok(
            "POST",
            "/sessions",
            &s.ana,
            json!({"kind": "jit", "cloud_user_id": s.cloud_user, "role": role, "duration": duration}),
        );
        assert!(
            started["credentials"].is_null(),
            "the STS credentials stay server-side: {started}"
        );
        let g = &started["gateway"];
        Jit {
            id: started["session"]["id"].as_str().expect("id").to_string(),
            access_key_id: g["access_key_id"].as_str().expect("key").to_string(),
            secret: g["secret_access_key"].as_str().expect("secret").to_string(),
            endpoint: g["endpoint"].as_str().expect("endpoint").to_string(),
        }
    }

    /// Moves the manager's and the cloud's clocks to `offset` seconds ahead and waits until
    /// Porteiro applied it; returns when it did.
    pub fn set_clock_offset(&self, offset: i64) -> Instant {
        std::fs::write(&self.offset_file, format!("{offset}\n")).expect("offset file");
        let mut ack = self.offset_file.clone().into_os_string();
        ack.push(".applied");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::fs::read_to_string(&ack).is_ok_and(|t| t.trim() == offset.to_string()) {
                return Instant::now();
            }
            assert!(Instant::now() < deadline, "the clock offset was not applied");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs the `porteiro` binary with a CLI profile kept in the data directory.
    pub fn cli(&self, args: &[&str], stdin: &str, extra_env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_porteiro"));
        cmd.args(args)
            .env("PORTEIRO_CONFIG", self.dir.join("profiles.json"))
            .env("PORTEIRO_DATA_DIR", &self.dir)
            .env_remove("PORTEIRO_PASSWORD")
            .env_remove("PORTEIRO_PROFILE")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_CONFIG_FILE", self.dir.join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.join("no-aws-credentials"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("porteiro");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("output")
    }

    pub fn recordings(&self) -> PathBuf {
        self.dir.join("recordings")
    }

    pub fn iam(&self, endpoint: &str, ak: &str, sk: &str, token: Option<&str>) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                ak,
                sk,
                token.map(str::to_string),
                None,
                "t",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }
}

pub fn sts(endpoint: &str, ak: &str, sk: &str) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(ak, sk, None, None, "t"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

pub fn s3(endpoint: &str, ak: &str, sk: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(ak, sk, None, None, "t"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The events of a recording, one JSON value per line.
pub fn events(dir: &Path, id: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(id).join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits until a recording has its manifest (the session ended and the recorder closed it).
pub fn wait_closed(dir: &Path, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join(id).join("manifest.json").exists() {
        assert!(Instant::now() < deadline, "recording {id} was not closed");
        std::thread::sleep(Duration::from_millis(20));
    }
}
