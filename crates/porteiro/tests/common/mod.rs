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
