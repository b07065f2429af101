//! Shared helpers of the end-to-end tests: raw HTTP/1.1 requests to `porteiro serve`'s
//! listener with cookies (what a browser sends), and signing in to the web UI.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first header of that name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Everything the client got (headers and body), for checks that nothing secret is there.
    pub fn everything(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\n"));
        }
        s.push_str(&self.body);
        s
    }

    /// The value of the cookie `name` the answer sets (`Some("")` when it clears it).
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next()?.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.to_string())
    }
}

fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&rest[start..(start + size).min(rest.len())]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
    out
}

/// One HTTP/1.1 request to `addr` (`host:port`), the connection closed after the answer.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A GET as a browser sends it, with one cookie.
pub fn get_with_cookie(addr: &str, path: &str, cookie: &str) -> Answer {
    let cookie = format!("porteiro_session={cookie}");
    http(
        addr,
        "GET",
        path,
        &[
            ("Accept", "text/html"),
            ("User-Agent", "porteiro-e2e"),
            ("Cookie", &cookie),
        ],
        "",
    )
}

/// Signs in to the web UI (the sign-in form with its double-submit token); the value of the
/// `porteiro_session` cookie the browser gets.
pub fn web_sign_in(addr: &str, username: &str, password: &str) -> String {
    let page = http(addr, "GET", "/signin", &[("Accept", "text/html")], "");
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page.set_cookie("porteiro_signin").expect("the sign-in cookie");
    let cookie = format!("porteiro_signin={token}");
    let origin = format!("http://{addr}");
    let form = format!("csrf={token}&username={username}&password={password}");
    let a = http(
        addr,
        "POST",
        "/signin?next=%2F",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
            ("Origin", &origin),
        ],
        &form,
    );
    assert_eq!(a.status, 303, "signed in: {}", a.body);
    a.set_cookie("porteiro_session")
        .filter(|v| !v.is_empty())
        .expect("the web sign-in cookie")
}

/// The embedded cloud's first account (AWS's documentation example).
pub const ACCOUNT: &str = "123456789012";
/// Its root access key.
pub const ROOT_AK: &str = "AKIAIOSFODNN7EXAMPLE";
/// Its root secret.
pub const ROOT_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// A directory removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A new empty directory under the system's temporary directory; `tag` names it.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("porteiro-e2e-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) when dropped.
pub struct ChildGuard(pub std::process::Child);

impl ChildGuard {
    /// Kills the process and waits for it.
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port free on 127.0.0.1 when asked (callers retry when another process takes it first).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// `porteiro cloud serve` on 127.0.0.1 with a data directory (account [`ACCOUNT`] with the
/// example root key).
pub struct CloudServer {
    pub child: ChildGuard,
    pub port: u16,
    log: std::path::PathBuf,
}

impl CloudServer {
    /// Starts the server on a free port (retrying when another process takes the port
    /// between choosing it and binding it) and waits until it accepts connections.
    pub fn start(data_dir: &std::path::Path) -> CloudServer {
        use std::process::{Command, Stdio};
        let mut last_log = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let log = data_dir.with_extension(format!("serve-{port}-{attempt}.log"));
            let log_file = std::fs::File::create(&log).expect("server log file");
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
                .stdout(log_file.try_clone().expect("log file"))
                .stderr(log_file)
                .spawn()
                .expect("start `porteiro cloud serve`");
            let mut server = CloudServer {
                child: ChildGuard(child),
                port,
                log,
            };
            if server.wait_ready() {
                return server;
            }
            last_log = server.log_text();
            server.child.stop();
        }
        panic!("`porteiro cloud serve` did not start; its last output:\n{last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        use std::net::SocketAddr;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_status)) = self.child.0.try_wait() {
                return false;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// What the server printed.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
