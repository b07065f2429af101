//! A tiny browser for in-process tests: a cookie jar and requests through `Web::handle`.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use porteiro_web::Web;

fn remote() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

/// A browser's cookie jar, just enough for these tests.
#[derive(Default)]
pub struct Jar(pub Vec<(String, String)>);

impl Jar {
    pub fn take(&mut self, resp: &Response<Full<Bytes>>) {
        for v in resp.headers().get_all(hyper::header::SET_COOKIE) {
            let v = v.to_str().expect("ascii cookie");
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').expect("name=value");
            self.0.retain(|(n, _)| n != k);
            if !v.contains("Max-Age=0") {
                self.0.push((k.to_string(), val.to_string()));
            }
        }
    }
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub async fn send(
    web: &Web,
    jar: &mut Jar,
    method: &str,
    uri: &str,
    form: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Option<String>, String, Response<Full<Bytes>>) {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8080");
    if !jar.0.is_empty() {
        b = b.header("cookie", jar.header());
    }
    if method == "POST" {
        b = b.header("content-type", "application/x-www-form-urlencoded");
    }
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let req = b.body(Bytes::from(form.to_string())).expect("request");
    let resp = web.handle(req, remote()).await;
    jar.take(&resp);
    let status = resp.status();
    let location = resp
        .headers()
        .get(hyper::header::LOCATION)
        .map(|l| l.to_str().expect("location").to_string());
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    (
        status,
        location,
        text.clone(),
        Response::from_parts(parts, Full::new(bytes)),
    )
}

/// The value of `<input type="hidden" name="csrf" value="…">` in a page.
pub fn csrf(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a csrf field");
    page[at + 19..].split('"').next().expect("value").to_string()
}
