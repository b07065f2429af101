//! Load generator for Porteiro's embedded cloud (and any AWS Query endpoint, such as
//! moto's server): N concurrent keep-alive HTTP/1.1 connections, each request freshly
//! SigV4-signed with `porteiro-sigv4`, for a fixed duration. Reports requests/s, latency
//! percentiles, errors and a status histogram.
//!
//! Without arguments (as `cargo bench` runs it) it is self-contained: it opens a cloud in a
//! temporary directory, serves it on 127.0.0.1:0 in this process (its own 2-thread runtime,
//! as `porteiro cloud serve` has), creates an IAM user without policies through the API, and
//! runs both operations for 3 s each.
//!
//! Against a running server:
//!
//! ```text
//! cargo bench -p porteiro-loadgen --bench load -- --endpoint http://127.0.0.1:4566 \
//!     --access-key AKIA... --secret ... --op get-caller-identity|denied-list-users \
//!     --concurrency 32 --duration 10 [--warmup 1] [--threads 2] [--label porteiro]
//! cargo bench -p porteiro-loadgen --bench load -- --endpoint http://127.0.0.1:4566 \
//!     --access-key ROOT --secret ... --op setup-denied-user [--user-name bench-denied]
//! ```
//!
//! `setup-denied-user` creates an IAM user with no policies and an access key for it and
//! prints `ACCESS_KEY_ID=...` and `SECRET_ACCESS_KEY=...` (and `SESSION_TOKEN=...` when the
//! server cannot create access keys and temporary credentials were used instead).
//!
//! Latency is measured from sending a signed request to having read the whole response
//! (signing happens just before and is client CPU, not latency). Only requests that complete
//! inside the measured window (after the warm-up) count.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use porteiro_sigv4::{Credentials, SigningParams};

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const ACCOUNT: &str = "123456789012";
const ROOT_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const ROOT_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    GetCallerIdentity,
    DeniedListUsers,
    SetupDeniedUser,
}

impl Op {
    fn parse(s: &str) -> Result<Op, String> {
        match s {
            "get-caller-identity" => Ok(Op::GetCallerIdentity),
            "denied-list-users" => Ok(Op::DeniedListUsers),
            "setup-denied-user" => Ok(Op::SetupDeniedUser),
            other => Err(format!(
                "unknown --op `{other}`: use get-caller-identity, denied-list-users or setup-denied-user"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::GetCallerIdentity => "get-caller-identity",
            Op::DeniedListUsers => "denied-list-users",
            Op::SetupDeniedUser => "setup-denied-user",
        }
    }

    fn service(self) -> &'static str {
        match self {
            Op::GetCallerIdentity => "sts",
            Op::DeniedListUsers | Op::SetupDeniedUser => "iam",
        }
    }

    fn body(self) -> &'static [u8] {
        match self {
            Op::GetCallerIdentity => b"Action=GetCallerIdentity&Version=2011-06-15",
            Op::DeniedListUsers | Op::SetupDeniedUser => b"Action=ListUsers&Version=2010-05-08",
        }
    }

    /// Whether a response is the one this operation must get.
    fn expected(self, status: u16, body: &[u8]) -> bool {
        let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        match self {
            Op::GetCallerIdentity => status == 200 && has(b"<GetCallerIdentityResult>"),
            Op::DeniedListUsers => status == 403 && has(b"AccessDenied"),
            Op::SetupDeniedUser => status == 200,
        }
    }
}

/// Credentials owned by the generator.
#[derive(Debug, Clone)]
struct Creds {
    access_key_id: String,
    secret: String,
    session_token: Option<String>,
}

impl Creds {
    fn sigv4(&self) -> Credentials<'_> {
        Credentials::new(&self.access_key_id, &self.secret, self.session_token.as_deref())
    }
}

/// Where and how to send requests.
#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    host: String,
    region: String,
    creds: Creds,
}

#[derive(Debug, Clone)]
struct LoadConfig {
    op: Op,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
}

#[derive(Debug)]
struct Args {
    endpoint: Option<String>,
    access_key: Option<String>,
    secret: Option<String>,
    session_token: Option<String>,
    op: Option<Op>,
    concurrency: usize,
    duration: f64,
    warmup: f64,
    threads: usize,
    region: String,
    label: String,
    user_name: String,
}

const USAGE: &str =
    "usage: load [--endpoint http://127.0.0.1:PORT --access-key ID --secret KEY [--session-token T]
            --op get-caller-identity|denied-list-users|setup-denied-user
            [--concurrency 32] [--duration 10] [--warmup 1] [--threads N] [--region us-east-1]
            [--label NAME] [--user-name bench-denied]]
Without --endpoint: a self-contained 3 s run of both operations against an in-process cloud.";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        endpoint: None,
        access_key: None,
        secret: None,
        session_token: None,
        op: None,
        concurrency: 32,
        duration: 10.0,
        warmup: 1.0,
        threads: std::thread::available_parallelism().map_or(2, usize::from),
        region: "us-east-1".into(),
        label: "server".into(),
        user_name: "bench-denied".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        let number = |v: String| -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| format!("{a}: `{v}` is not a non-negative number"))
        };
        match a.as_str() {
            // `cargo bench` appends `--bench`; filters (positional) are ignored.
            "--bench" => {}
            "--endpoint" => args.endpoint = Some(value()?),
            "--access-key" => args.access_key = Some(value()?),
            "--secret" => args.secret = Some(value()?),
            "--session-token" => args.session_token = Some(value()?).filter(|s| !s.is_empty()),
            "--op" => args.op = Some(Op::parse(&value()?)?),
            "--concurrency" => args.concurrency = (number(value()?)? as usize).max(1),
            "--duration" => args.duration = number(value()?)?,
            "--warmup" => args.warmup = number(value()?)?,
            "--threads" => args.threads = (number(value()?)? as usize).max(1),
            "--region" => args.region = value()?,
            "--label" => args.label = value()?,
            "--user-name" => args.user_name = value()?,
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}\n{USAGE}")),
            _ => {}
        }
    }
    Ok(args)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A request for `op`, signed now.
fn signed_request(
    target: &Target,
    service: &str,
    body: &'static [u8],
) -> Result<hyper::Request<Full<Bytes>>, String> {
    let headers = [("host", target.host.as_str()), ("content-type", FORM)];
    let request = porteiro_sigv4::Request::new("POST", "/", "", &headers).with_body(body);
    let params = SigningParams::new(target.creds.sigv4(), &target.region, service, unix_now());
    let signed = porteiro_sigv4::sign(&request, &params).map_err(|e| format!("cannot sign: {e}"))?;
    let mut builder = hyper::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", target.host.as_str())
        .header("content-type", FORM)
        .header("x-amz-date", signed.x_amz_date.as_str())
        .header("authorization", signed.authorization.as_str());
    if let Some(token) = &signed.x_amz_security_token {
        builder = builder.header("x-amz-security-token", token.as_str());
    }
    builder
        .body(Full::new(Bytes::from_static(body)))
        .map_err(|e| e.to_string())
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {addr} failed: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request on a connection; returns the status, whether the server closes the
/// connection, and the body.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<(u16, bool, Bytes), String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection not ready: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
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
        .map_err(|e| format!("reading the response failed: {e}"))?
        .to_bytes();
    Ok((status, close, body))
}

/// One request on a fresh connection (setup calls).
async fn call(target: &Target, service: &str, body: &'static [u8]) -> Result<(u16, String), String> {
    let mut sender = connect(target.addr).await?;
    let (status, _, body) = send(&mut sender, signed_request(target, service, body)?).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

fn leak(s: String) -> &'static [u8] {
    // The setup bodies live for the whole (short) run.
    Box::leak(s.into_boxed_str()).as_bytes()
}

/// Creates IAM user `name` with no policies and an access key for it, calling the API with
/// `target`'s (root or admin) credentials. Falls back to temporary credentials from
/// sts:GetFederationToken (no policy passed, so no permissions) when the server does not
/// implement iam:CreateAccessKey.
async fn setup_denied_user(target: &Target, name: &str) -> Result<Creds, String> {
    let (status, body) = call(
        target,
        "iam",
        leak(format!("Action=CreateUser&Version=2010-05-08&UserName={name}")),
    )
    .await?;
    if status != 200 && !body.contains("EntityAlreadyExists") {
        return Err(format!("CreateUser {name} failed: HTTP {status}: {body}"));
    }
    let (status, body) = call(
        target,
        "iam",
        leak(format!(
            "Action=CreateAccessKey&Version=2010-05-08&UserName={name}"
        )),
    )
    .await?;
    if status == 200 {
        let id = xml_text(&body, "AccessKeyId").ok_or_else(|| format!("no AccessKeyId in {body}"))?;
        let secret =
            xml_text(&body, "SecretAccessKey").ok_or_else(|| format!("no SecretAccessKey in {body}"))?;
        return Ok(Creds {
            access_key_id: id.to_string(),
            secret: secret.to_string(),
            session_token: None,
        });
    }
    if !body.contains("InvalidAction") {
        return Err(format!(
            "CreateAccessKey for {name} failed: HTTP {status}: {body}"
        ));
    }
    eprintln!(
        "warning: the server does not implement iam:CreateAccessKey; using temporary credentials of a federated user without policies (sts:GetFederationToken) instead"
    );
    let (status, body) = call(
        target,
        "sts",
        leak(format!(
            "Action=GetFederationToken&Version=2011-06-15&Name={name}"
        )),
    )
    .await?;
    if status != 200 {
        return Err(format!("GetFederationToken failed: HTTP {status}: {body}"));
    }
    let field = |tag: &str| {
        xml_text(&body, tag)
            .map(str::to_string)
            .ok_or_else(|| format!("no {tag} in {body}"))
    };
    Ok(Creds {
        access_key_id: field("AccessKeyId")?,
        secret: field("SecretAccessKey")?,
        session_token: Some(field("SessionToken")?),
    })
}

/// What one connection saw.
#[derive(Debug, Default)]
struct Stats {
    latencies_ns: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    unexpected: u64,
    connects: u64,
    first_error: Option<String>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.latencies_ns.extend(other.latencies_ns);
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        self.unexpected += other.unexpected;
        self.connects += other.connects;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn connection_loop(target: Arc<Target>, op: Op, measure_from: Instant, end: Instant) -> Stats {
    let mut stats = Stats::default();
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    let note = |stats: &mut Stats, e: String| {
        stats.transport_errors += 1;
        if stats.first_error.is_none() {
            stats.first_error = Some(e);
        }
    };
    while Instant::now() < end {
        let conn = match &mut sender {
            Some(s) if !s.is_closed() => s,
            _ => match connect(target.addr).await {
                Ok(s) => {
                    stats.connects += 1;
                    sender.insert(s)
                }
                Err(e) => {
                    note(&mut stats, e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let req = match signed_request(&target, op.service(), op.body()) {
            Ok(r) => r,
            Err(e) => {
                note(&mut stats, e);
                break;
            }
        };
        let start = Instant::now();
        let result = send(conn, req).await;
        let done = Instant::now();
        let counted = start >= measure_from && done <= end;
        match result {
            Ok((status, close, body)) => {
                if close {
                    sender = None;
                }
                if counted {
                    stats.latencies_ns.push((done - start).as_nanos() as u64);
                    *stats.statuses.entry(status).or_default() += 1;
                    if !op.expected(status, &body) {
                        stats.unexpected += 1;
                        if stats.first_error.is_none() {
                            stats.first_error = Some(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&body)
                                    .chars()
                                    .take(400)
                                    .collect::<String>()
                            ));
                        }
                    }
                }
            }
            Err(e) => {
                sender = None;
                if counted {
                    note(&mut stats, e);
                }
            }
        }
    }
    stats
}

/// The outcome of a run.
#[derive(Debug)]
struct Report {
    stats: Stats,
    seconds: f64,
}

async fn run_load(target: Arc<Target>, cfg: &LoadConfig) -> Report {
    let begin = Instant::now();
    let measure_from = begin + cfg.warmup;
    let end = measure_from + cfg.duration;
    let tasks: Vec<_> = (0..cfg.concurrency)
        .map(|_| tokio::spawn(connection_loop(target.clone(), cfg.op, measure_from, end)))
        .collect();
    let mut stats = Stats::default();
    for t in tasks {
        match t.await {
            Ok(s) => stats.merge(s),
            Err(e) => {
                stats.transport_errors += 1;
                stats
                    .first_error
                    .get_or_insert_with(|| format!("a connection task failed: {e}"));
            }
        }
    }
    stats.latencies_ns.sort_unstable();
    Report {
        stats,
        seconds: cfg.duration.as_secs_f64(),
    }
}

fn percentile_ms(sorted_ns: &[u64], q: f64) -> f64 {
    if sorted_ns.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_ns.len() as f64).ceil() as usize).clamp(1, sorted_ns.len());
    sorted_ns[rank - 1] as f64 / 1e6
}

fn print_report(label: &str, cfg: &LoadConfig, threads: usize, r: &Report) {
    let s = &r.stats;
    let n = s.latencies_ns.len();
    let rps = if r.seconds > 0.0 {
        n as f64 / r.seconds
    } else {
        0.0
    };
    let (p50, p99, p999) = (
        percentile_ms(&s.latencies_ns, 0.50),
        percentile_ms(&s.latencies_ns, 0.99),
        percentile_ms(&s.latencies_ns, 0.999),
    );
    let max = s.latencies_ns.last().map_or(0.0, |&v| v as f64 / 1e6);
    let mean = if n > 0 {
        s.latencies_ns.iter().sum::<u64>() as f64 / n as f64 / 1e6
    } else {
        0.0
    };
    let statuses: Vec<String> = s.statuses.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    println!(
        "{label} {}: {} connections, {:.1} s measured after {:.1} s warm-up, {threads} client threads",
        cfg.op.name(),
        cfg.concurrency,
        r.seconds,
        cfg.warmup.as_secs_f64()
    );
    println!(
        "  requests/s  {rps:>10.1}   ({n} requests, {} connections opened)",
        s.connects
    );
    println!("  latency ms  p50 {p50:.3}  p99 {p99:.3}  p99.9 {p999:.3}  max {max:.3}  mean {mean:.3}");
    println!(
        "  errors      {} transport, {} unexpected responses   statuses {}",
        s.transport_errors,
        s.unexpected,
        statuses.join(" ")
    );
    if let Some(e) = &s.first_error {
        println!("  first error {e}");
    }
    println!(
        "RESULT label={label} op={} concurrency={} duration={:.1} requests={n} rps={rps:.1} p50_ms={p50:.3} p99_ms={p99:.3} p999_ms={p999:.3} max_ms={max:.3} errors={} unexpected={} statuses={}",
        cfg.op.name(),
        cfg.concurrency,
        r.seconds,
        s.transport_errors,
        s.unexpected,
        statuses.join(",")
    );
}

fn parse_endpoint(endpoint: &str) -> Result<(SocketAddr, String), String> {
    let hostport = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("--endpoint {endpoint}: use http://HOST:PORT"))?
        .trim_end_matches('/');
    let addr: SocketAddr = hostport.parse().map_err(|_| {
        format!("--endpoint {endpoint}: use an IP address and port, such as http://127.0.0.1:4566")
    })?;
    Ok((addr, hostport.to_string()))
}

fn client_runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the client runtime: {e}"))
}

fn run_external(args: &Args, endpoint: &str) -> Result<(), String> {
    let (addr, host) = parse_endpoint(endpoint)?;
    let creds = Creds {
        access_key_id: args
            .access_key
            .clone()
            .ok_or("--access-key is required with --endpoint")?,
        secret: args
            .secret
            .clone()
            .ok_or("--secret is required with --endpoint")?,
        session_token: args.session_token.clone(),
    };
    let op = args.op.ok_or("--op is required with --endpoint")?;
    let target = Arc::new(Target {
        addr,
        host,
        region: args.region.clone(),
        creds,
    });
    let rt = client_runtime(args.threads)?;
    if op == Op::SetupDeniedUser {
        let creds = rt.block_on(setup_denied_user(&target, &args.user_name))?;
        println!("ACCESS_KEY_ID={}", creds.access_key_id);
        println!("SECRET_ACCESS_KEY={}", creds.secret);
        println!("SESSION_TOKEN={}", creds.session_token.unwrap_or_default());
        return Ok(());
    }
    let cfg = LoadConfig {
        op,
        concurrency: args.concurrency,
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
    };
    let report = rt.block_on(run_load(target, &cfg));
    print_report(&args.label, &cfg, args.threads, &report);
    Ok(())
}

/// Starts an in-process cloud on 127.0.0.1:0 in its own thread and runtime.
fn start_cloud(dir: &std::path::Path) -> Result<SocketAddr, String> {
    use porteiro_cloud::{Cloud, CloudConfig, RootCredentials};
    let config = CloudConfig {
        data_dir: dir.to_path_buf(),
        account_id: Some(ACCOUNT.into()),
        root_credentials: Some(RootCredentials {
            access_key_id: ROOT_KEY.into(),
            secret_access_key: ROOT_SECRET.into(),
        }),
    };
    let (cloud, _) = Cloud::open(&config).map_err(|e| format!("cannot open the cloud: {e}"))?;
    let (tx, rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
    std::thread::spawn(move || {
        // Like `porteiro cloud serve`: a multi-thread runtime with one worker per core.
        let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        };
        rt.block_on(async move {
            let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = tx.send(listener.local_addr().map_err(|e| e.to_string()));
            if let Err(e) = cloud.serve(listener).await {
                eprintln!("the in-process cloud stopped: {e}");
            }
        });
    });
    rx.recv().map_err(|e| e.to_string())?
}

fn run_self_contained(args: &Args) -> Result<(), String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("porteiro-load-{}-{nanos}", std::process::id()));
    let result = (|| {
        let addr = start_cloud(&dir)?;
        let root = Target {
            addr,
            host: addr.to_string(),
            region: args.region.clone(),
            creds: Creds {
                access_key_id: ROOT_KEY.into(),
                secret: ROOT_SECRET.into(),
                session_token: None,
            },
        };
        let rt = client_runtime(args.threads)?;
        let creds = rt.block_on(setup_denied_user(&root, &args.user_name))?;
        let target = Arc::new(Target { creds, ..root });
        println!(
            "self-contained run: in-process cloud on http://{addr} (server and load generator share this machine's {} cores)",
            std::thread::available_parallelism().map_or(0, usize::from)
        );
        for op in [Op::GetCallerIdentity, Op::DeniedListUsers] {
            let cfg = LoadConfig {
                op,
                concurrency: args.concurrency,
                duration: Duration::from_secs(3),
                warmup: Duration::from_millis(500),
            };
            let report = rt.block_on(run_load(target.clone(), &cfg));
            print_report("in-process", &cfg, args.threads, &report);
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| match args.endpoint.clone() {
        Some(endpoint) => run_external(&args, &endpoint),
        None => run_self_contained(&args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
