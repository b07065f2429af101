//! `porteiro serve`: the access manager with embedded defaults — SQLite and the master key
//! in a data directory, the embedded cloud on its own listener registered as the first
//! account, the first administrator, the durable scheduler, the REST API, the web UI, and the
//! session gateway (the console gateway on the same listener, the API gateway for JIT sessions,
//! recordings in `DATA_DIR/recordings`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use porteiro_cloud::{Cloud, CloudConfig};
use porteiro_gateway::api::{ApiGateway, ApiGatewayConfig, LocalUpstream, upstream_base};
use porteiro_gateway::recorder::{Recorder, system_millis};
use porteiro_manager::clock::{Clock, OffsetClock, SystemClock};
use porteiro_manager::connector::AwsConnector;
use porteiro_manager::manager::{NewAccount, strong_password};
use porteiro_manager::store::{SqliteStore, Store};
use porteiro_manager::vault::{KeySource, Secret, Vault};
use porteiro_manager::{Actor, Manager};

use crate::cloud_cmd::RootArgs;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where Porteiro keeps its state: `manager.sqlite3`, `master.key`, and `cloud/`.
    #[arg(long, env = "PORTEIRO_DATA_DIR", default_value = "porteiro-data")]
    data_dir: PathBuf,
    /// Address of the REST API (`/api/v1`) and the web UI (`/`).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Address of the embedded cloud (default: the API's port + 1).
    #[arg(long)]
    cloud_listen: Option<SocketAddr>,
    /// Address of the API gateway for JIT sessions (default: the API's port + 2).
    #[arg(long)]
    gateway_listen: Option<SocketAddr>,
    /// Where session recordings go: a directory, or an S3-compatible bucket
    /// `s3://BUCKET/PREFIX[?endpoint=URL&region=R]` (credentials from AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY; live recordings are spooled under DATA_DIR/recordings-spool and
    /// uploaded when they close). Default: DATA_DIR/recordings.
    #[arg(long, env = "PORTEIRO_RECORDINGS_STORE", value_name = "SPEC")]
    recordings_store: Option<String>,
    /// A file holding the master key (32 bytes, base64). Default: `master.key` in the data
    /// directory, generated (mode 0600) on first start. `PORTEIRO_MASTER_KEY` may hold the
    /// key itself.
    #[arg(long, env = "PORTEIRO_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Username of the first administrator (created on first start; its password comes from
    /// `PORTEIRO_ADMIN_PASSWORD` or is generated and printed once).
    #[arg(long, default_value = "admin")]
    admin_username: String,
    /// Id of the embedded cloud's first account (first start; generated when absent).
    #[arg(long, env = "PORTEIRO_CLOUD_ACCOUNT_ID")]
    cloud_account_id: Option<String>,
    /// The database: a PostgreSQL URL (`postgres://USER:PASSWORD@HOST:PORT/DBNAME`, no TLS to
    /// the database yet); absent: SQLite in the data directory.
    #[arg(long = "database", env = "PORTEIRO_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// Serve the API over HTTPS with this certificate chain (PEM, leaf first).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    root: RootArgs,
    /// TEST ONLY: the manager's and the embedded cloud's clocks follow the offset (seconds) in
    /// this file, for end-to-end tests of expiry.
    #[arg(
        long,
        env = "PORTEIRO_TEST_CLOCK_OFFSET_FILE",
        hide = true,
        value_name = "FILE"
    )]
    test_clock_offset_file: Option<PathBuf>,
}

/// The store `--database` names: PostgreSQL, or SQLite in the data directory.
fn open_store(args: &ServeArgs) -> Result<(Arc<dyn Store>, String), String> {
    match args.database.as_deref().filter(|d| !d.is_empty()) {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            #[cfg(feature = "postgres")]
            {
                let s = porteiro_manager::postgres_store::PostgresStore::connect(url).map_err(|e| e.to_string())?;
                let what = format!("PostgreSQL {}", s.target());
                Ok((Arc::new(s), what))
            }
            #[cfg(not(feature = "postgres"))]
            Err("this porteiro was built without PostgreSQL (cargo feature `postgres`)".to_string())
        }
        Some(_) => Err("--database / PORTEIRO_DATABASE_URL: use postgres://USER:PASSWORD@HOST:PORT/DBNAME, or leave it out for SQLite in the data directory".into()),
        None => {
            let path = args.data_dir.join("manager.sqlite3");
            let s = SqliteStore::open(&path).map_err(|e| e.to_string())?;
            Ok((Arc::new(s), format!("SQLite {}", path.display())))
        }
    }
}

pub(crate) fn run(args: ServeArgs) -> ExitCode {
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn serve(args: ServeArgs) -> Result<(), String> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", args.data_dir.display()))?;
    // The database holds sealed secrets and password hashes: the directory is the owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&args.data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot restrict data directory {}: {e}", args.data_dir.display()))?;
    }
    let key_source = match (std::env::var("PORTEIRO_MASTER_KEY").ok(), &args.master_key_file) {
        (Some(v), _) if !v.is_empty() => KeySource::Value(Secret::new(v)),
        (_, Some(f)) => KeySource::File(f.clone()),
        _ => KeySource::DataDir(args.data_dir.clone()),
    };
    let vault = Vault::load(&key_source).map_err(|e| e.to_string())?;
    let (cloud, bootstrap) = Cloud::open(&CloudConfig {
        data_dir: args.data_dir.join("cloud"),
        account_id: args.cloud_account_id.clone(),
        root_credentials: args.root.credentials(),
    })
    .map_err(|e| e.to_string())?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(porteiro_manager::api::tls_config(cert, key).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let (store, store_name) = open_store(&args)?;
    let offset_clock = args
        .test_clock_offset_file
        .as_ref()
        .map(|_| Arc::new(OffsetClock::new()));
    let clock: Arc<dyn Clock> = match &offset_clock {
        Some(c) => c.clone(),
        None => Arc::new(SystemClock),
    };
    let manager = Arc::new(Manager::new(
        store,
        vault,
        Arc::new(AwsConnector::with_clock(clock.clone())),
        clock,
    ));
    let cloud_listen = args
        .cloud_listen
        .unwrap_or_else(|| SocketAddr::new(args.listen.ip(), args.listen.port().wrapping_add(1)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let cloud_listener = tokio::net::TcpListener::bind(cloud_listen)
            .await
            .map_err(|e| format!("cannot listen on {cloud_listen} for the embedded cloud: {e} (choose another with --cloud-listen)"))?;
        let cloud_addr = cloud_listener.local_addr().map_err(|e| e.to_string())?;
        let api_listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e} (is another process using the port?)", args.listen))?;
        let api_addr = api_listener.local_addr().map_err(|e| e.to_string())?;
        say(&format!(
            "porteiro: embedded cloud on http://{cloud_addr} (accounts: {})",
            cloud.accounts().join(", ")
        ));
        if let (Some(file), Some(offset)) = (args.test_clock_offset_file.clone(), offset_clock.clone()) {
            say(&format!("porteiro: TEST ONLY: the clocks follow the offset in {}", file.display()));
            tokio::spawn(follow_clock_offset(cloud.clone(), offset, file));
        }
        let serving = cloud.clone();
        tokio::spawn(async move {
            if let Err(e) = serving.serve(cloud_listener).await {
                eprintln!("porteiro: the embedded cloud stopped: {e}");
            }
        });

        // First start: the administrator, then the embedded cloud as the first account.
        let (password, generated) = match std::env::var("PORTEIRO_ADMIN_PASSWORD") {
            Ok(p) if !p.is_empty() => (Secret::new(p), false),
            _ => (strong_password().map_err(|e| e.to_string())?, true),
        };
        let first = manager
            .bootstrap_admin(&args.admin_username, &password)
            .await
            .map_err(|e| e.to_string())?;
        if first {
            if generated {
                // Printed once; only its Argon2id hash is kept.
                say(&format!(
                    "porteiro: created administrator {} with password {} (shown once: keep it)",
                    args.admin_username,
                    password.expose()
                ));
            } else {
                say(&format!(
                    "porteiro: created administrator {} (password from PORTEIRO_ADMIN_PASSWORD)",
                    args.admin_username
                ));
            }
            let root = bootstrap.as_ref().and_then(|b| b.generated.clone()).or_else(|| args.root.credentials());
            match root {
                Some(root) => {
                    let account = manager
                        .create_account(
                            &Actor::system(),
                            NewAccount {
                                name: "embedded".into(),
                                endpoint: Some(format!("http://{cloud_addr}")),
                                region: "us-east-1".into(),
                                access_key_id: root.access_key_id.clone(),
                                secret_access_key: Secret::new(root.secret_access_key.clone()),
                            },
                        )
                        .await
                        .map_err(|e| format!("cannot register the embedded cloud: {e}"))?;
                    say(&format!(
                        "porteiro: registered the embedded cloud as account {} ({}, AWS account {}, {:?})",
                        account.name,
                        account.id,
                        account.aws_account_id.as_deref().unwrap_or("?"),
                        account.status
                    ));
                }
                None => say(
                    "porteiro: the embedded cloud existed before and its root key is not known here: add it with POST /api/v1/accounts",
                ),
            }
        }
        // Recordings and the API gateway for JIT sessions.
        let gateway_listen = args
            .gateway_listen
            .unwrap_or_else(|| SocketAddr::new(args.listen.ip(), args.listen.port().wrapping_add(2)));
        let gateway_listener = tokio::net::TcpListener::bind(gateway_listen)
            .await
            .map_err(|e| format!("cannot listen on {gateway_listen} for the API gateway: {e} (choose another with --gateway-listen)"))?;
        let gateway_addr = gateway_listener.local_addr().map_err(|e| e.to_string())?;
        let key = manager
            .recording_key()
            .await
            .map_err(|e| format!("cannot load the recording key: {e}"))?;
        let recordings = args
            .recordings_store
            .clone()
            .unwrap_or_else(|| args.data_dir.join("recordings").display().to_string());
        let recordings_store = porteiro_recording::open_store(&recordings, &args.data_dir.join("recordings-spool"))
            .map_err(|e| format!("cannot open the recordings store {recordings}: {e}"))?;
        let (recorder, recovered) = Recorder::start(recordings_store.clone(), &key, Arc::new(system_millis))
            .map_err(|e| e.to_string())?;
        for r in recovered {
            match r {
                Ok(r) => say(&format!(
                    "porteiro: recording {} was left open: closed as interrupted ({} events)",
                    r.session_id, r.events
                )),
                Err(e) => eprintln!("porteiro: a recording left open could not be closed: {e}"),
            }
        }
        // The console gateway (`/sessions/ID/…` on the API's listener) observes before the
        // recorder: its cut is noted in the recording before the recording's end.
        let console = porteiro_gateway::console::ConsoleGateway::new(manager.clone(), recorder.clone());
        manager.add_observer(console.clone());
        tokio::spawn(console.clone().watch());
        manager.add_observer(Arc::new(recorder.clone()));
        manager.set_gateway_endpoint(format!("http://{gateway_addr}"));
        let gateway = ApiGateway::new(manager.clone(), recorder.clone(), ApiGatewayConfig::default())
            .map_err(|e| e.to_string())?;
        // Calls for the embedded cloud (IAM, STS, KMS) go to it in-process: no second hop.
        gateway.serve_locally(Arc::new(EmbeddedUpstream {
            base: upstream_base(Some(&format!("http://{cloud_addr}")), "sts", "us-east-1"),
            cloud: cloud.clone(),
            // What the cloud would see over a connection to itself.
            remote: SocketAddr::new(cloud_addr.ip(), 0),
        }));
        tokio::spawn(async move {
            if let Err(e) = gateway.serve(gateway_listener).await {
                eprintln!("porteiro: the API gateway stopped: {e}");
            }
        });
        say(&format!(
            "porteiro: API gateway for JIT sessions on http://{gateway_addr} (recordings: {}, public key {})",
            recordings,
            recorder.public_key().to_hex()
        ));
        let scheme = if tls.is_some() { "https" } else { "http" };
        say(&format!("porteiro: console sessions at {scheme}://{api_addr}/sessions/ID/ (POST /api/v1/sessions/ID/launch)"));
        tokio::spawn(manager.clone().run_scheduler());
        say(&format!("porteiro: access manager API on {scheme}://{api_addr}/api/v1 (data: {}, store: {store_name})", args.data_dir.display()));
        // One listener: the console gateway takes `/sessions/…` and the launch endpoint, the REST
        // API the rest of `/api/v1`, the web UI every other path.
        let web = Arc::new(porteiro_web::Web::new(
            manager.clone(),
            porteiro_web::WebConfig {
                recordings: Some(recordings_store),
                console_launcher: Some({
                    let console = console.clone();
                    Arc::new(move |actor: &porteiro_manager::Actor, id: &str| {
                        console.launch_for(actor, id).map(|(path, _, _)| path).map_err(|e| e.to_string())
                    })
                }),
                secure_cookies: tls.is_some(),
                ..porteiro_web::WebConfig::default()
            },
        ));
        let front: porteiro_manager::api::Fallback = Arc::new(move |req, remote| {
            let web = web.clone();
            let console = console.clone();
            Box::pin(async move {
                if porteiro_gateway::console::ConsoleGateway::serves(req.method(), req.uri().path()) {
                    console.receive(req, remote).await
                } else {
                    web.receive(req, remote).await
                }
            })
        });
        say(&format!("porteiro: web UI on {scheme}://{api_addr}/"));
        tokio::select! {
            r = porteiro_manager::api::serve_with(manager, api_listener, tls, Some(front), Some(porteiro_gateway::console::ConsoleGateway::serves)) => r.map_err(|e| format!("the API server stopped: {e}")),
            _ = tokio::signal::ctrl_c() => {
                say("porteiro: shutting down");
                Ok(())
            }
        }
    })
}

/// TEST ONLY: keeps the manager's and the cloud's clock offsets equal to the number of seconds
/// in `file` (absent or unreadable: unchanged), and acknowledges each applied value in
/// `FILE.applied`.
async fn follow_clock_offset(cloud: Cloud, clock: Arc<OffsetClock>, file: PathBuf) {
    let mut applied = 0i64;
    let mut ack = file.clone().into_os_string();
    ack.push(".applied");
    let ack = PathBuf::from(ack);
    loop {
        let wanted = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok());
        if let Some(wanted) = wanted.filter(|w| *w != applied) {
            cloud.advance_clock(wanted - applied);
            clock.advance(wanted - applied);
            applied = wanted;
            if let Err(e) = porteiro_cloud::write_private(&ack, &format!("{applied}\n")) {
                eprintln!("TEST ONLY: cannot write {}: {e}", ack.display());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The embedded cloud as the API gateway's in-process upstream.
struct EmbeddedUpstream {
    base: String,
    cloud: Cloud,
    remote: SocketAddr,
}

impl LocalUpstream for EmbeddedUpstream {
    fn base(&self) -> &str {
        &self.base
    }

    fn call(
        &self,
        req: hyper::Request<bytes::Bytes>,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = hyper::Response<http_body_util::Full<bytes::Bytes>>> + Send + '_,
        >,
    > {
        Box::pin(self.cloud.handle(req, self.remote))
    }
}
