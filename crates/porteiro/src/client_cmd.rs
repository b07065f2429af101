//! The access manager's CLI: `porteiro login|logout` and `porteiro users|groups|accounts|
//! cloud-users|credentials|jit|sessions|audit|jobs …`, thin faces over the REST API of a
//! running `porteiro serve`.
//!
//! Profiles (`--profile`, default `default`) keep the API URL and token in
//! `$PORTEIRO_CONFIG` or `~/.config/porteiro/profiles.json` (mode 0600). Secrets are never
//! taken as arguments (they would show in `ps`): passwords come from the environment or
//! standard input. `--json` prints the API's JSON as it is.
//!
//! Lists are paged by the API (at most 1000 items a page): `--limit N` asks for one page of N,
//! `--all` follows the pages to the end. `https://` URLs are spoken with rustls; a private CA
//! (or a self-signed certificate) is trusted with `--ca-file` / `PORTEIRO_CA_FILE`, which
//! `login` keeps in the profile.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

/// Options every client command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// The profile (API URL and token) to use.
    #[arg(long, global = true, env = "PORTEIRO_PROFILE", default_value = "default")]
    profile: String,
    /// Print the API's JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Lists: at most this many items (1–1000; one page).
    #[arg(long, global = true)]
    limit: Option<usize>,
    /// Lists: every item, following the API's pages (of `--limit` items each).
    #[arg(long, global = true)]
    all: bool,
    /// HTTPS: trust the certificates (PEM) in this file instead of the system's roots (a
    /// private CA, or the server's self-signed certificate). `login` keeps it in the profile.
    #[arg(long, global = true, env = "PORTEIRO_CA_FILE")]
    ca_file: Option<PathBuf>,
}

impl Common {
    /// The profile's name.
    pub(crate) fn profile(&self) -> &str {
        &self.profile
    }

    /// `--ca-file` / `PORTEIRO_CA_FILE`, if given.
    pub(crate) fn ca_file(&self) -> Option<&PathBuf> {
        self.ca_file.as_ref()
    }
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The API's base URL (`http://HOST:PORT`).
    #[arg(long, env = "PORTEIRO_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Username.
    #[arg(long)]
    username: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// List platform users.
    List,
    /// Create a platform user; the password is read from PORTEIRO_NEW_PASSWORD or stdin.
    Create {
        /// Full name.
        #[arg(long)]
        name: String,
        /// Username.
        #[arg(long)]
        username: String,
        /// E-mail (required to start sessions).
        #[arg(long)]
        email: Option<String>,
        /// Make an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's e-mail or name.
    Update {
        /// Id or username.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New e-mail.
        #[arg(long)]
        email: Option<String>,
    },
    /// Delete a platform user.
    Delete {
        /// Id or username.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum GroupsCommand {
    /// List access groups.
    List,
    /// Create an access group.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// A member (id or username); repeat for more.
        #[arg(long = "member")]
        members: Vec<String>,
        /// A permission (create_edit_users, delete_users, create_edit_accounts,
        /// delete_accounts, create_credentials, delete_credentials, start_sessions,
        /// start_jit_sessions, view_recordings, drop_sessions); repeat for more.
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Delete an access group.
    Delete {
        /// Id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCommand {
    /// List cloud accounts.
    List,
    /// Add an AWS account; the secret key is read from AWS_SECRET_ACCESS_KEY or stdin.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Endpoint URL (omit for AWS itself).
        #[arg(long)]
        endpoint: Option<String>,
        /// Region.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Management access key id.
        #[arg(long)]
        access_key_id: String,
    },
    /// Check an account again with GetCallerIdentity.
    Check {
        /// Id.
        id: String,
    },
    /// The account's roles.
    Roles {
        /// Id.
        id: String,
    },
    /// Import the account's IAM users (they can never start sessions).
    Import {
        /// Id.
        id: String,
    },
    /// Delete an account.
    Delete {
        /// Id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CloudUsersCommand {
    /// List cloud IAM users.
    List,
    /// Create a cloud IAM user for a platform user.
    Create {
        /// Account id.
        #[arg(long)]
        account: String,
        /// Platform user (id or username).
        #[arg(long)]
        owner: String,
        /// IAM user name (default: the owner's username).
        #[arg(long)]
        name: Option<String>,
        /// A managed policy ARN; repeat for more (at most 10).
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// Time to live in seconds (300–86400).
        #[arg(long)]
        ttl: Option<i64>,
    },
    /// Its provisioning and removal jobs, with every attempt.
    Jobs {
        /// Id.
        id: String,
    },
    /// Remove a cloud IAM user from the cloud (an imported one is only forgotten).
    Delete {
        /// Id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CredentialsCommand {
    /// List credentials (no secrets).
    List,
    /// Create an access key; its secret is printed this once.
    Create {
        /// Cloud IAM user id.
        #[arg(long)]
        cloud_user: String,
        /// Time to live in seconds (300–86400).
        #[arg(long)]
        ttl: Option<i64>,
    },
    /// Delete an access key.
    Delete {
        /// Id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum JitCommand {
    /// Every account's JIT settings.
    List,
    /// One account's JIT settings.
    Show {
        /// Account id.
        account: String,
    },
    /// Save an account's JIT settings.
    Set {
        /// Account id.
        account: String,
        /// Active.
        #[arg(long, default_value = "yes", value_parser = yes_no)]
        active: bool,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// JIT Enabled.
        #[arg(long, default_value = "yes", value_parser = yes_no)]
        jit_enabled: bool,
        /// Maximum session duration in seconds (900 or more).
        #[arg(long)]
        duration: i64,
        /// A role users may impersonate; repeat for more.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
}

fn yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("`{s}`: use yes or no")),
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum SessionsCommand {
    /// Sessions (yours, or all for admins and holders of drop_sessions).
    List,
    /// One session.
    Show {
        /// Id.
        id: String,
    },
    /// Start a session as one of your cloud IAM users.
    Start {
        /// console or jit.
        #[arg(long, default_value = "jit")]
        kind: String,
        /// Cloud IAM user id.
        #[arg(long)]
        cloud_user: String,
        /// The role (JIT).
        #[arg(long)]
        role: Option<String>,
        /// Duration in seconds (default: the configured Duration).
        #[arg(long)]
        duration: Option<i64>,
    },
    /// Drop a session: it ends now and its credentials are revoked.
    Drop {
        /// Id.
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Only this entity kind (user, group, account, cloud_user, credential, jit_settings, session).
    #[arg(long)]
    entity: Option<String>,
    /// Only this entity id.
    #[arg(long)]
    entity_id: Option<String>,
    /// Only this actor (username).
    #[arg(long)]
    actor: Option<String>,
    /// Only actions starting with this (such as `session.`).
    #[arg(long)]
    action: Option<String>,
}

/// A client command with its common options.
#[derive(Debug)]
pub(crate) enum Client {
    Login(LoginArgs),
    Logout(Common),
    Users(UsersCommand, Common),
    Groups(GroupsCommand, Common),
    Accounts(AccountsCommand, Common),
    CloudUsers(CloudUsersCommand, Common),
    Credentials(CredentialsCommand, Common),
    Jit(JitCommand, Common),
    Sessions(SessionsCommand, Common),
    Audit(AuditArgs, Common),
    Jobs(Common),
}

pub(crate) fn run(cmd: Client) -> ExitCode {
    match exec(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

// ---- profiles ----

fn config_path() -> PathBuf {
    if let Ok(p) = std::env::var("PORTEIRO_CONFIG")
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    PathBuf::from(home).join(".config/porteiro/profiles.json")
}

fn load_profiles() -> Map<String, Value> {
    std::fs::read_to_string(config_path())
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| v.get("profiles").and_then(Value::as_object).cloned())
        .unwrap_or_default()
}

fn save_profiles(profiles: Map<String, Value>) -> Result<(), String> {
    let path = config_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&json!({ "profiles": profiles })).map_err(|e| e.to_string())?;
    porteiro_cloud::write_private(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub(crate) struct Session {
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) ca_file: Option<PathBuf>,
}

pub(crate) fn profile(name: &str, ca_file: Option<&PathBuf>) -> Result<Session, String> {
    let p = load_profiles();
    let entry = p.get(name).ok_or_else(|| {
        format!("no profile `{name}`: run `porteiro login --url URL --username NAME` first")
    })?;
    Ok(Session {
        url: entry["url"].as_str().unwrap_or_default().to_string(),
        token: entry["token"].as_str().unwrap_or_default().to_string(),
        ca_file: ca_file
            .cloned()
            .or_else(|| entry["ca_file"].as_str().map(PathBuf::from)),
    })
}

// ---- HTTP ----

/// Where the API is: plain TCP or TLS, host:port, and the name TLS checks.
struct Endpoint {
    tls: bool,
    host: String,
    name: String,
}

fn endpoint(url: &str) -> Result<Endpoint, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("`{url}`: use http://HOST:PORT or https://HOST:PORT"));
    };
    let host = rest.trim_end_matches('/').to_string();
    if host.is_empty() || host.contains('/') {
        return Err(format!(
            "`{url}`: give only the scheme, host and port (http(s)://HOST:PORT)"
        ));
    }
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !host.ends_with(']');
    let name = if has_port {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(&host).to_string()
    } else {
        host.clone()
    };
    let name = name.trim_start_matches('[').trim_end_matches(']').to_string();
    let host = if has_port {
        host
    } else {
        format!("{host}:{}", if tls { 443 } else { 80 })
    };
    Ok(Endpoint { tls, host, name })
}

/// The TLS client configuration: the CA file's certificates, or the system's roots.
fn tls_client(ca_file: Option<&PathBuf>) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| {
                    format!(
                        "cannot read the CA file {}: {e:?} (give PEM certificates)",
                        path.display()
                    )
                })?;
            if certs.is_empty() {
                return Err(format!("the CA file {} holds no PEM certificate", path.display()));
            }
            for c in certs {
                roots.add(c).map_err(|e| {
                    format!(
                        "the CA file {} holds a certificate rustls refuses: {e}",
                        path.display()
                    )
                })?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// Sends one request and reads the whole answer (the server closes after it).
fn exchange(url: &str, ca_file: Option<&PathBuf>, req: &[u8]) -> Result<Vec<u8>, String> {
    let ep = endpoint(url)?;
    let stream = TcpStream::connect(&ep.host).map_err(|e| format!("cannot reach Porteiro at {url}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let mut raw = Vec::new();
    if ep.tls {
        let name = rustls_pki_types::ServerName::try_from(ep.name.clone())
            .map_err(|e| format!("`{}` is not a TLS server name: {e}", ep.name))?;
        let conn = rustls::ClientConnection::new(tls_client(ca_file)?, name)
            .map_err(|e| format!("cannot start TLS to {url}: {e}"))?;
        let mut tls = rustls::StreamOwned::new(conn, stream);
        tls.write_all(req).map_err(|e| tls_failure(url, ca_file, e))?;
        match tls.read_to_end(&mut raw) {
            Ok(_) => {}
            // A server that closes without close_notify after a complete answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
            Err(e) => return Err(tls_failure(url, ca_file, e)),
        }
    } else {
        let mut stream = stream;
        stream
            .write_all(req)
            .map_err(|e| format!("cannot send to {url}: {e}"))?;
        stream
            .read_to_end(&mut raw)
            .map_err(|e| format!("cannot read from {url}: {e}"))?;
    }
    Ok(raw)
}

fn tls_failure(url: &str, ca_file: Option<&PathBuf>, e: std::io::Error) -> String {
    let hint = match ca_file {
        Some(f) => format!("is the server's certificate issued by a CA in {}?", f.display()),
        None => {
            "for a private CA or a self-signed certificate, pass --ca-file FILE (or PORTEIRO_CA_FILE)".into()
        }
    };
    format!("TLS with {url} failed: {e} ({hint})")
}

/// One request to the API; the JSON answer, or the API's error message.
pub(crate) fn request(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    ca_file: Option<&PathBuf>,
) -> Result<Value, String> {
    request_page(url, method, path, token, body, ca_file).map(|(v, _)| v)
}

/// One request; the JSON answer and the next page's cursor (`X-Next-Cursor`), if any.
fn request_page(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    ca_file: Option<&PathBuf>,
) -> Result<(Value, Option<String>), String> {
    let host = endpoint(url)?.host;
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} /api/v1{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let raw = exchange(url, ca_file, req.as_bytes())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or("Porteiro sent no HTTP answer")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("bad HTTP status")?;
    let next = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("x-next-cursor")
            .then(|| v.trim().to_string())
    });
    let v: Value = serde_json::from_str(rest).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok((v, next));
    }
    let mut msg = v["error"]["message"]
        .as_str()
        .unwrap_or("the API failed")
        .to_string();
    if let Some(reqs) = v["error"]["requirements"].as_array() {
        msg = String::from("the session cannot start:");
        for r in reqs {
            msg.push_str(&format!("\n  - {}", r.as_str().unwrap_or_default()));
        }
    }
    Err(format!("{msg} (HTTP {status})"))
}

fn secret_input(env: &str, what: &str) -> Result<String, String> {
    if let Ok(v) = std::env::var(env)
        && !v.is_empty()
    {
        return Ok(v);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the {what} from stdin: {e}"))?;
    let v = line.trim_end_matches(['\r', '\n']).to_string();
    if v.is_empty() {
        return Err(format!("no {what}: set {env} or write it on stdin"));
    }
    Ok(v)
}

// ---- output ----

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Prints a value: JSON with `--json`, else one line per item of `keys`.
fn print(v: &Value, json_out: bool, keys: &[&str]) {
    if json_out {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    let line = |o: &Value| {
        keys.iter()
            .filter(|k| !o[**k].is_null() || **k == "id")
            .map(|k| format!("{k}={}", scalar(&o[*k])))
            .collect::<Vec<_>>()
            .join("  ")
    };
    match v {
        Value::Array(items) if items.is_empty() => println!("(none)"),
        Value::Array(items) => items.iter().for_each(|i| println!("{}", line(i))),
        other => println!("{}", line(other)),
    }
}

const USER_KEYS: &[&str] = &["id", "username", "name", "email", "admin", "permissions"];
const GROUP_KEYS: &[&str] = &["id", "name", "members", "permissions"];
const ACCOUNT_KEYS: &[&str] = &[
    "id",
    "name",
    "endpoint",
    "region",
    "aws_account_id",
    "status",
    "status_message",
];
const CLOUD_USER_KEYS: &[&str] = &[
    "id",
    "name",
    "account_id",
    "owner",
    "arn",
    "origin",
    "status",
    "expires_at",
    "last_error",
];
const CREDENTIAL_KEYS: &[&str] = &["id", "cloud_user_id", "access_key_id", "expires_at"];
const JIT_KEYS: &[&str] = &["id", "active", "jit_enabled", "duration", "roles", "description"];
const SESSION_KEYS: &[&str] = &[
    "id",
    "kind",
    "username",
    "cloud_user_id",
    "role_arn",
    "status",
    "started",
    "expires_at",
];
const ROLE_KEYS: &[&str] = &["name", "arn", "max_session_duration"];
const AUDIT_KEYS: &[&str] = &["seq", "at", "actor", "source", "action", "entity", "entity_id"];
const JOB_KEYS: &[&str] = &["id", "state", "due_at", "attempts"];

fn exec(cmd: Client) -> Result<(), String> {
    if let Client::Login(args) = &cmd {
        let password = secret_input("PORTEIRO_PASSWORD", "password")?;
        let ca_file = args.common.ca_file.as_ref();
        let v = request(
            &args.url,
            "POST",
            "/login",
            None,
            Some(&json!({"username": args.username, "password": password})),
            ca_file,
        )?;
        let token = v["token"].as_str().ok_or("the API answered no token")?;
        let mut profiles = load_profiles();
        let mut entry = json!({"url": args.url, "token": token, "username": args.username});
        if let Some(ca) = ca_file {
            // An absolute path, so the profile works from any directory.
            let ca = std::fs::canonicalize(ca).unwrap_or_else(|_| ca.clone());
            entry["ca_file"] = json!(ca.display().to_string());
        }
        profiles.insert(args.common.profile.clone(), entry);
        save_profiles(profiles)?;
        if args.common.json {
            print(&v["user"], true, USER_KEYS);
        } else {
            println!(
                "logged in to {} as {} (profile {})",
                args.url, args.username, args.common.profile
            );
        }
        return Ok(());
    }
    let common = match &cmd {
        Client::Login(a) => a.common.clone(),
        Client::Logout(c) | Client::Jobs(c) => c.clone(),
        Client::Users(_, c)
        | Client::Groups(_, c)
        | Client::Accounts(_, c)
        | Client::CloudUsers(_, c)
        | Client::Credentials(_, c)
        | Client::Jit(_, c)
        | Client::Sessions(_, c)
        | Client::Audit(_, c) => c.clone(),
    };
    let s = profile(&common.profile, common.ca_file.as_ref())?;
    let call = |method: &str, path: &str, body: Option<Value>| {
        request(
            &s.url,
            method,
            path,
            Some(&s.token),
            body.as_ref(),
            s.ca_file.as_ref(),
        )
    };
    // A list: one page (`--limit`, default the API's 1000), or every page (`--all`).
    let list = |path: &str| -> Result<Value, String> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut p = path.to_string();
            let mut q = Vec::new();
            if let Some(l) = common.limit {
                q.push(format!("limit={l}"));
            }
            if let Some(n) = &next {
                q.push(format!("next={}", encode(n)));
            }
            if !q.is_empty() {
                p = format!("{p}{sep}{}", q.join("&"));
            }
            let (v, cursor) = request_page(&s.url, "GET", &p, Some(&s.token), None, s.ca_file.as_ref())?;
            items.extend(v.as_array().cloned().unwrap_or_default());
            match cursor {
                Some(c) if common.all => next = Some(c),
                Some(_) => {
                    if !common.json {
                        eprintln!("(more items follow: use --all, or --limit)");
                    }
                    break;
                }
                None => break,
            }
        }
        Ok(Value::Array(items))
    };
    let j = common.json;
    match cmd {
        Client::Login(_) => Ok(()),
        Client::Logout(_) => {
            call("POST", "/logout", None)?;
            let mut profiles = load_profiles();
            profiles.remove(&common.profile);
            save_profiles(profiles)?;
            println!("logged out (profile {})", common.profile);
            Ok(())
        }
        Client::Users(c, _) => {
            match c {
                UsersCommand::List => print(&list("/users")?, j, USER_KEYS),
                UsersCommand::Create {
                    name,
                    username,
                    email,
                    admin,
                } => {
                    let password = secret_input("PORTEIRO_NEW_PASSWORD", "new user's password")?;
                    let body = json!({"name": name, "username": username, "email": email, "password": password, "admin": admin});
                    print(&call("POST", "/users", Some(body))?, j, USER_KEYS)
                }
                UsersCommand::Update { id, name, email } => {
                    let mut body = Map::new();
                    if let Some(n) = name {
                        body.insert("name".into(), json!(n));
                    }
                    if let Some(e) = email {
                        body.insert("email".into(), if e.is_empty() { Value::Null } else { json!(e) });
                    }
                    print(
                        &call("PATCH", &format!("/users/{id}"), Some(Value::Object(body)))?,
                        j,
                        USER_KEYS,
                    )
                }
                UsersCommand::Delete { id } => {
                    call("DELETE", &format!("/users/{id}"), None)?;
                    println!("deleted user {id}");
                }
            }
            Ok(())
        }
        Client::Groups(c, _) => {
            match c {
                GroupsCommand::List => print(&list("/groups")?, j, GROUP_KEYS),
                GroupsCommand::Create {
                    name,
                    description,
                    members,
                    permissions,
                } => {
                    let body = json!({"name": name, "description": description, "members": members, "permissions": permissions});
                    print(&call("POST", "/groups", Some(body))?, j, GROUP_KEYS)
                }
                GroupsCommand::Delete { id } => {
                    call("DELETE", &format!("/groups/{id}"), None)?;
                    println!("deleted group {id}");
                }
            }
            Ok(())
        }
        Client::Accounts(c, _) => {
            match c {
                AccountsCommand::List => print(&list("/accounts")?, j, ACCOUNT_KEYS),
                AccountsCommand::Create {
                    name,
                    endpoint,
                    region,
                    access_key_id,
                } => {
                    let secret = secret_input("AWS_SECRET_ACCESS_KEY", "secret access key")?;
                    let body = json!({"name": name, "endpoint": endpoint, "region": region,
                                      "access_key_id": access_key_id, "secret_access_key": secret});
                    print(&call("POST", "/accounts", Some(body))?, j, ACCOUNT_KEYS)
                }
                AccountsCommand::Check { id } => print(
                    &call("POST", &format!("/accounts/{id}/check"), None)?,
                    j,
                    ACCOUNT_KEYS,
                ),
                AccountsCommand::Roles { id } => {
                    print(&list(&format!("/accounts/{id}/roles"))?, j, ROLE_KEYS)
                }
                AccountsCommand::Import { id } => print(
                    &call("POST", &format!("/accounts/{id}/import"), None)?,
                    j,
                    CLOUD_USER_KEYS,
                ),
                AccountsCommand::Delete { id } => {
                    call("DELETE", &format!("/accounts/{id}"), None)?;
                    println!("deleted account {id}");
                }
            }
            Ok(())
        }
        Client::CloudUsers(c, _) => {
            match c {
                CloudUsersCommand::List => print(&list("/cloud-users")?, j, CLOUD_USER_KEYS),
                CloudUsersCommand::Create {
                    account,
                    owner,
                    name,
                    policies,
                    ttl,
                } => {
                    let body = json!({"account_id": account, "owner": owner, "name": name, "policies": policies, "ttl": ttl});
                    print(&call("POST", "/cloud-users", Some(body))?, j, CLOUD_USER_KEYS)
                }
                CloudUsersCommand::Jobs { id } => {
                    let v = list(&format!("/cloud-users/{id}/jobs"))?;
                    if j {
                        print(&v, true, &[]);
                    } else {
                        for job in v.as_array().into_iter().flatten() {
                            print(job, false, JOB_KEYS);
                            for h in job["history"].as_array().into_iter().flatten() {
                                println!("  at={}  {}", scalar(&h["at"]), scalar(&h["outcome"]));
                            }
                        }
                    }
                }
                CloudUsersCommand::Delete { id } => print(
                    &call("DELETE", &format!("/cloud-users/{id}"), None)?,
                    j,
                    CLOUD_USER_KEYS,
                ),
            }
            Ok(())
        }
        Client::Credentials(c, _) => {
            match c {
                CredentialsCommand::List => print(&list("/credentials")?, j, CREDENTIAL_KEYS),
                CredentialsCommand::Create { cloud_user, ttl } => {
                    let v = call(
                        "POST",
                        "/credentials",
                        Some(json!({"cloud_user_id": cloud_user, "ttl": ttl})),
                    )?;
                    if j {
                        print(&v, true, &[]);
                    } else {
                        print(&v["credential"], false, CREDENTIAL_KEYS);
                        // Shown this once; Porteiro keeps it only in its vault.
                        println!(
                            "secret_access_key={}  (shown once)",
                            scalar(&v["secret_access_key"])
                        );
                    }
                }
                CredentialsCommand::Delete { id } => {
                    call("DELETE", &format!("/credentials/{id}"), None)?;
                    println!("deleted credential {id}");
                }
            }
            Ok(())
        }
        Client::Jit(c, _) => {
            match c {
                JitCommand::List => print(&list("/jit")?, j, JIT_KEYS),
                JitCommand::Show { account } => {
                    print(&call("GET", &format!("/jit/{account}"), None)?, j, JIT_KEYS)
                }
                JitCommand::Set {
                    account,
                    active,
                    description,
                    jit_enabled,
                    duration,
                    roles,
                } => {
                    let body = json!({"active": active, "description": description, "jit_enabled": jit_enabled,
                                      "duration": duration, "roles": roles});
                    print(&call("PUT", &format!("/jit/{account}"), Some(body))?, j, JIT_KEYS)
                }
            }
            Ok(())
        }
        Client::Sessions(c, _) => {
            match c {
                SessionsCommand::List => print(&list("/sessions")?, j, SESSION_KEYS),
                SessionsCommand::Show { id } => {
                    print(&call("GET", &format!("/sessions/{id}"), None)?, j, SESSION_KEYS)
                }
                SessionsCommand::Start {
                    kind,
                    cloud_user,
                    role,
                    duration,
                } => {
                    let body = json!({"kind": kind, "cloud_user_id": cloud_user, "role": role, "duration": duration});
                    let v = call("POST", "/sessions", Some(body))?;
                    if j {
                        print(&v, true, &[]);
                    } else {
                        print(&v["session"], false, SESSION_KEYS);
                        let g = &v["gateway"];
                        let c = &v["credentials"];
                        if !g.is_null() {
                            let id = scalar(&v["session"]["id"]);
                            println!("# through Porteiro's API gateway (every call is recorded):");
                            println!(
                                "#   eval \"$(porteiro session env {id})\"   or   porteiro session exec {id} -- aws ..."
                            );
                            print!("{}", crate::session_cmd::env_lines(g));
                        } else if !c.is_null() {
                            println!("export AWS_ACCESS_KEY_ID={}", scalar(&c["access_key_id"]));
                            println!("export AWS_SECRET_ACCESS_KEY={}", scalar(&c["secret_access_key"]));
                            println!("export AWS_SESSION_TOKEN={}", scalar(&c["session_token"]));
                        }
                    }
                }
                SessionsCommand::Drop { id } => print(
                    &call("POST", &format!("/sessions/{id}/drop"), None)?,
                    j,
                    SESSION_KEYS,
                ),
            }
            Ok(())
        }
        Client::Audit(a, _) => {
            let mut q = Vec::new();
            for (k, v) in [
                ("entity", a.entity),
                ("entity_id", a.entity_id),
                ("actor", a.actor),
                ("action", a.action),
            ] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", encode(&v)));
                }
            }
            let path = if q.is_empty() {
                "/audit".to_string()
            } else {
                format!("/audit?{}", q.join("&"))
            };
            print(&list(&path)?, j, AUDIT_KEYS);
            Ok(())
        }
        Client::Jobs(_) => {
            print(&list("/jobs")?, j, JOB_KEYS);
            Ok(())
        }
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
