//! S3 throughput of the embedded cloud (or any S3 endpoint, such as moto's server):
//! small-object PutObject and GetObject requests per second over N concurrent keep-alive
//! connections, then one 64 MiB PutObject and GetObject (MiB/s). Every request is freshly
//! SigV4-signed with `porteiro-sigv4` (payload hash signed, as awscli does over http).
//!
//! Without arguments (as `cargo bench` runs it) it opens a cloud in a temporary directory and
//! serves it on 127.0.0.1:0 in this process (a 2-thread runtime, as `porteiro cloud serve`).
//!
//! ```text
//! cargo bench -p porteiro-loadgen --bench s3 -- [--endpoint http://127.0.0.1:5000 \
//!     --access-key AK --secret SK] [--concurrency 16] [--duration 3] [--size 4096] \
//!     [--big-mib 64] [--label porteiro]
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use porteiro_sigv4::{Credentials, SigningParams};

const ROOT_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const ROOT_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const BUCKET: &str = "bench-bucket";

struct Target {
    addr: SocketAddr,
    host: String,
    ak: String,
    sk: String,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn request(
    t: &Target,
    method: &str,
    path: &str,
    body: Bytes,
    sha: Option<&str>,
) -> Result<hyper::Request<Full<Bytes>>, String> {
    let owned_sha;
    let sha = match sha {
        Some(s) => s,
        None => {
            owned_sha = porteiro_sigv4::sha256_hex(&body);
            &owned_sha
        }
    };
    let headers = vec![("host", t.host.as_str()), ("x-amz-content-sha256", sha)];
    let params = SigningParams::new(Credentials::new(&t.ak, &t.sk, None), "us-east-1", "s3", now());
    let signed = porteiro_sigv4::sign(&porteiro_sigv4::Request::new(method, path, "", &headers), &params)
        .map_err(|e| format!("signing failed: {e}"))?;
    let mut b = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", &t.host)
        .header("content-length", body.len());
    for (k, v) in signed.headers() {
        b = b.header(k, v);
    }
    b.body(Full::new(body)).map_err(|e| e.to_string())
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<(u16, Bytes, bool), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let close = resp
        .headers()
        .get(hyper::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body, close))
}

/// One request on a fresh connection (servers such as moto close after every response).
async fn once(t: &Target, req: hyper::Request<Full<Bytes>>) -> Result<(u16, Bytes), String> {
    let mut s = connect(t.addr).await?;
    send(&mut s, req).await.map(|(status, body, _)| (status, body))
}

/// Runs `op` on `concurrency` connections for `duration`; returns (ok requests, errors, first error).
async fn run_rps(
    t: Arc<Target>,
    get: bool,
    concurrency: usize,
    duration: Duration,
    size: usize,
) -> (u64, u64, Option<String>) {
    let end = Instant::now() + duration;
    let body = Bytes::from(vec![b'x'; size]);
    let sha: Arc<str> = porteiro_sigv4::sha256_hex(&body).into();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let t = t.clone();
        let body = body.clone();
        let sha = sha.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut err, mut first) = (0u64, 0u64, None);
            let mut sender = match connect(t.addr).await {
                Ok(s) => s,
                Err(e) => return (0, 1, Some(e)),
            };
            let mut i = 0u64;
            while Instant::now() < end {
                let key = format!("/{BUCKET}/small/{c}/{}", if get { 0 } else { i });
                let req = if get {
                    request(&t, "GET", &key, Bytes::new(), None)
                } else {
                    request(&t, "PUT", &key, body.clone(), Some(&sha))
                };
                let result = match req {
                    Ok(r) => send(&mut sender, r).await,
                    Err(e) => Err(e),
                };
                let close = matches!(result, Ok((_, _, true)));
                match result {
                    Ok((200, _, _)) => ok += 1,
                    Ok((s, b, _)) => {
                        err += 1;
                        first.get_or_insert_with(|| format!("status {s}: {}", String::from_utf8_lossy(&b)));
                    }
                    Err(e) => {
                        err += 1;
                        first.get_or_insert(e);
                        match connect(t.addr).await {
                            Ok(s) => sender = s,
                            Err(_) => break,
                        }
                    }
                }
                if close {
                    match connect(t.addr).await {
                        Ok(s) => sender = s,
                        Err(_) => break,
                    }
                }
                i += 1;
            }
            (ok, err, first)
        }));
    }
    let mut total = (0, 0, None);
    for task in tasks {
        if let Ok((ok, err, first)) = task.await {
            total.0 += ok;
            total.1 += err;
            if total.2.is_none() {
                total.2 = first;
            }
        }
    }
    total
}

async fn bench(
    t: Arc<Target>,
    concurrency: usize,
    duration: Duration,
    size: usize,
    big_mib: usize,
    label: &str,
) -> Result<(), String> {
    let (status, body) = once(&t, request(&t, "PUT", &format!("/{BUCKET}"), Bytes::new(), None)?).await?;
    if status != 200 && !String::from_utf8_lossy(&body).contains("BucketAlreadyOwnedByYou") {
        return Err(format!(
            "CreateBucket: status {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    // Objects for the GET phase.
    for c in 0..concurrency {
        let (status, body) = once(
            &t,
            request(
                &t,
                "PUT",
                &format!("/{BUCKET}/small/{c}/0"),
                Bytes::from(vec![b'x'; size]),
                None,
            )?,
        )
        .await?;
        if status != 200 {
            return Err(format!(
                "PutObject: status {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
    }
    for (name, get) in [("PutObject", false), ("GetObject", true)] {
        let (ok, err, first) = run_rps(t.clone(), get, concurrency, duration, size).await;
        println!(
            "{label:<10} {name:<10} {size} B x {concurrency} conns: {:>8.0} req/s ({ok} ok, {err} errors){}",
            ok as f64 / duration.as_secs_f64(),
            first
                .map(|e| format!("; first error: {}", e.chars().take(200).collect::<String>()))
                .unwrap_or_default()
        );
    }
    let big: Bytes = (0..big_mib * 1024 * 1024)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let sha = porteiro_sigv4::sha256_hex(&big);
    let path = format!("/{BUCKET}/big.bin");
    let started = Instant::now();
    let (status, body) = once(&t, request(&t, "PUT", &path, big.clone(), Some(&sha))?).await?;
    let put = started.elapsed();
    if status != 200 {
        return Err(format!(
            "big PutObject: status {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let started = Instant::now();
    let (status, body) = once(&t, request(&t, "GET", &path, Bytes::new(), None)?).await?;
    let get = started.elapsed();
    if status != 200 || body.len() != big.len() {
        return Err(format!("big GetObject: status {status}, {} bytes", body.len()));
    }
    let mib = big_mib as f64;
    println!(
        "{label:<10} {big_mib} MiB PutObject: {:>7.1} MiB/s ({:.2} s); GetObject: {:>7.1} MiB/s ({:.2} s)",
        mib / put.as_secs_f64(),
        put.as_secs_f64(),
        mib / get.as_secs_f64(),
        get.as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: usize| arg(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let concurrency = num("--concurrency", 16);
    let duration = Duration::from_secs(num("--duration", 3) as u64);
    let size = num("--size", 4096);
    let big_mib = num("--big-mib", 64);
    let label = arg("--label").unwrap_or_else(|| "porteiro".into());
    let client = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut _server_rt = None;
    let mut _dir = None;
    let target = if let Some(endpoint) = arg("--endpoint") {
        let hostport = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let addr = match std::net::ToSocketAddrs::to_socket_addrs(&hostport)
            .ok()
            .and_then(|mut a| a.next())
        {
            Some(a) => a,
            None => {
                eprintln!("cannot resolve {hostport}");
                return ExitCode::FAILURE;
            }
        };
        Target {
            addr,
            host: hostport,
            ak: arg("--access-key").unwrap_or_else(|| ROOT_KEY.into()),
            sk: arg("--secret").unwrap_or_else(|| ROOT_SECRET.into()),
        }
    } else {
        let dir = std::env::temp_dir().join(format!("porteiro-s3-bench-{}", std::process::id()));
        let config = porteiro_cloud::CloudConfig {
            data_dir: dir.clone(),
            account_id: Some("123456789012".into()),
            root_credentials: Some(porteiro_cloud::RootCredentials {
                access_key_id: ROOT_KEY.into(),
                secret_access_key: ROOT_SECRET.into(),
            }),
        };
        let cloud = match porteiro_cloud::Cloud::open(&config) {
            Ok((c, _)) => c,
            Err(e) => {
                eprintln!("cannot open the cloud: {e}");
                return ExitCode::FAILURE;
            }
        };
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("cannot start a runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        let listener = match std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
        {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot listen: {e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        rt.spawn(async move {
            if let Ok(l) = tokio::net::TcpListener::from_std(listener) {
                let _ = cloud.serve(l).await;
            }
        });
        _server_rt = Some(rt);
        _dir = Some(dir);
        Target {
            addr,
            host: addr.to_string(),
            ak: ROOT_KEY.into(),
            sk: ROOT_SECRET.into(),
        }
    };
    let result = client.block_on(bench(
        Arc::new(target),
        concurrency,
        duration,
        size,
        big_mib,
        &label,
    ));
    if let Some(rt) = _server_rt.take() {
        rt.shutdown_background();
    }
    if let Some(dir) = &_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}
