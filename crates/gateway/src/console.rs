//! The console gateway: Cloud console and JIT console sessions reached only through Porteiro,
//! at `/sessions/ID/…` on the `porteiro serve` HTTP listener.
//!
//! - **Launch.** The session's owner asks for a one-time launch URL
//!   (`POST /api/v1/sessions/ID/launch`, with their API token); opening it (within 60 s, once)
//!   gives the browser a Porteiro cookie bound to the session and the Porteiro user
//!   (`porteiro_session`, `Path=/sessions/ID`, `HttpOnly`, `SameSite=Strict`), and Porteiro
//!   signs in to the cloud console on the person's behalf: with the cloud IAM user's vaulted
//!   password (Cloud console sessions), or with the JIT session's temporary credentials through
//!   the cloud's federation endpoint (`getSigninToken`, then `login`).
//! - **Proxy.** The cloud's console cookie stays in Porteiro (a server-side jar per session).
//!   Requests under `/sessions/ID/console/…` are forwarded to the cloud's `/console/…` with that
//!   cookie; links, forms, scripts and redirects in the answers are rewritten to stay under
//!   `/sessions/ID/` ([`rewrite`]), cookies from the cloud are never passed on, and every known
//!   secret of the session (the password, the secret key, the session token, sign-in tokens,
//!   the cloud cookie) is scrubbed from whatever reaches the browser.
//! - **Recording.** Every exchange is recorded as a `consoleExchange` event: method, path,
//!   query, status, timing, the form fields posted and the HTML the person saw (the recording
//!   crate masks secrets before anything is written).
//! - **Cut.** Every request checks the session in the manager; a session dropped or past its
//!   expiry answers "You have been disconnected" (session, reason, time), and the cloud
//!   console session is signed out — at once on a drop or an end the manager reports, and
//!   within 250 ms of the expiry by the watcher otherwise.
//! - **Restarts.** What a browser needs survives a restart of Porteiro (and is seen by a second
//!   Porteiro over the same PostgreSQL store): one-time launches, the browsers bound to a
//!   session (under the SHA-256 of their cookie) and each open console (the cloud's cookie jar
//!   and the secrets to scrub, sealed with the vault) are kept in the manager's store
//!   (`runtime_state`, kinds `console.launch`, `console.browser`, `console.live`), with a
//!   cache in memory in front. After a restart the same cookie keeps using the console without
//!   a new launch; its recording continues as `ID.1` ([`crate::recorder`]).
//! - **Real AWS.** An account without an endpoint is on AWS, whose console cannot be proxied:
//!   a JIT console session is handed over with a `302` to AWS's federation login URL
//!   ([`aws`]); the page before says plainly what is not captured.

pub mod aws;
pub mod pages;
pub mod rewrite;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use porteiro_manager::gateway::SessionObserver;
use porteiro_manager::manager::{ConsoleSignIn, ConsoleSignInMethod, SessionView};
use porteiro_manager::model::{Sealed, SessionKind, SessionStatus};
use porteiro_manager::{Actor, Manager};
use porteiro_recording::{ConsoleExchange, EventKind, Html, Note};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest;

use crate::recorder::{Recorder, SessionInfo};
use rewrite::Rewriter;

/// The browser's cookie: bound to one session and one Porteiro user.
pub const COOKIE: &str = "porteiro_session";
/// How long a launch URL may be used (once).
pub const LAUNCH_SECONDS: i64 = 60;
/// The largest request body forwarded to the console (the S3 upload form takes 1 MiB files).
pub const MAX_CONSOLE_BODY: usize = 8 * 1024 * 1024;
/// How often the watcher looks for sessions that ended.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// How long one request to the cloud may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// The store's kinds of the gateway's state (see the module's documentation).
pub const LAUNCH_KIND: &str = "console.launch";
/// Browsers bound to a session.
pub const BROWSER_KIND: &str = "console.browser";
/// Open consoles (cookie jar and secrets sealed).
pub const LIVE_KIND: &str = "console.live";
/// How long after a session's expiry its browsers and console stay in the store (seconds):
/// long enough to tell a browser "You have been disconnected" after a restart.
const KEEP_AFTER_EXPIRY: i64 = 3600;

/// What went wrong talking to the cloud console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The cloud could not be reached or did not answer in time.
    #[error("cannot reach the cloud console at {url}: {why} (is the account's endpoint up?)")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        why: String,
    },
    /// The cloud refused Porteiro's sign-in.
    #[error("the cloud console refused Porteiro's sign-in for session {session}: {why}")]
    SignIn {
        /// The session.
        session: String,
        /// What the cloud said.
        why: String,
    },
    /// The manager refused (the session ended, the vault failed).
    #[error("{0}")]
    Manager(#[from] porteiro_manager::Error),
    /// No random source, or no TLS roots for an HTTPS endpoint.
    #[error("{0}")]
    Setup(String),
}

type HttpClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;
type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// Plain HTTP for embedded clouds; HTTPS (rustls, the system's roots) for AWS and TLS
/// endpoints, when the system has root certificates.
struct Clients {
    http: HttpClient,
    https: Option<HttpsClient>,
}

fn new_clients() -> Clients {
    let executor = hyper_util::rt::TokioExecutor::new();
    let http = hyper_util::client::legacy::Client::builder(executor.clone()).build_http();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .ok()
        .map(|b| {
            hyper_util::client::legacy::Client::builder(executor)
                .build(b.https_or_http().enable_http1().build())
        });
    Clients { http, https }
}

/// Why a console launch is refused.
#[derive(Debug, thiserror::Error)]
pub enum LaunchRefused {
    /// No such session.
    #[error("session {0} does not exist")]
    NotFound(String),
    /// Someone else's session.
    #[error("session {0} belongs to another user: only its owner may open its console")]
    NotYours(String),
    /// The session has ended.
    #[error("session {0} has ended ({1}): start a new session")]
    Ended(String, String),
    /// Randomness failed.
    #[error("a launch could not be made: {0}")]
    Internal(String),
}

/// A one-time launch URL, before it is used.
#[derive(Serialize, Deserialize)]
struct Launch {
    session_id: String,
    user_id: String,
    expires: i64,
}

/// A browser allowed into a session.
#[derive(Clone, Serialize, Deserialize)]
struct Browser {
    session_id: String,
    user_id: String,
}

/// Where a session's console is.
enum Target {
    /// An embedded (or other proxied) cloud: `base` is its origin, `http://host:port`.
    Proxied {
        base: String,
        authority: String,
        rewriter: Rewriter,
    },
    /// Real AWS: handed over to AWS's console.
    Aws { region: String },
}

/// A session whose console Porteiro has opened.
struct Live {
    session_id: String,
    target: Target,
    /// The cloud's cookies (name → value): they never leave the server.
    jar: Mutex<BTreeMap<String, String>>,
    /// Every secret of this session that must never reach the browser.
    secrets: Mutex<Vec<String>>,
    /// Set once the session ended and the cloud console was signed out.
    closed: AtomicBool,
    /// The jar or the secrets changed since the store last had them.
    dirty: AtomicBool,
    /// This process has continued the session's recording (the recorder's `open`).
    recording: AtomicBool,
    /// Until when the store keeps it.
    keep_until: i64,
}

/// An open console as the store keeps it: the jar and the secrets sealed.
#[derive(Serialize, Deserialize)]
struct KeptLive {
    /// `Some((base, authority))` for a proxied cloud.
    proxied: Option<(String, String)>,
    /// The region (real AWS).
    region: String,
    /// The jar, as JSON, sealed.
    jar: Sealed,
    /// The secrets to scrub, as JSON, sealed.
    secrets: Sealed,
}

impl Live {
    fn cookie_header(&self) -> Option<String> {
        let jar = self.jar.lock().ok()?;
        if jar.is_empty() {
            return None;
        }
        Some(
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// Takes the cloud's `Set-Cookie`s into the jar (a `Max-Age=0` deletes).
    fn store_cookies(&self, headers: &HeaderMap) {
        let Ok(mut jar) = self.jar.lock() else { return };
        let mut secrets = self.secrets.lock().ok();
        for v in headers.get_all(hyper::header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let gone = value.is_empty()
                || parts.any(|p| {
                    let p = p.trim().to_ascii_lowercase();
                    p == "max-age=0" || p.starts_with("max-age=-")
                });
            if gone {
                if jar.remove(name).is_some() {
                    self.dirty.store(true, Ordering::SeqCst);
                }
            } else if jar.get(name).map(String::as_str) != Some(value) {
                jar.insert(name.to_string(), value.to_string());
                self.dirty.store(true, Ordering::SeqCst);
                if let Some(s) = secrets.as_mut()
                    && !s.iter().any(|k| k == value)
                {
                    s.push(value.to_string());
                }
            }
        }
    }

    fn add_secret(&self, secret: &str) {
        if let Ok(mut s) = self.secrets.lock()
            && !s.iter().any(|k| k == secret)
        {
            s.push(secret.to_string());
            self.dirty.store(true, Ordering::SeqCst);
        }
    }

    fn scrub(&self, text: &str) -> Option<String> {
        let secrets = self.secrets.lock().ok()?;
        rewrite::scrub(text, &secrets)
    }
}

#[derive(Default)]
struct State {
    browsers: HashMap<String, Browser>,
    live: HashMap<String, Arc<Live>>,
}

/// The console gateway.
pub struct ConsoleGateway {
    manager: Arc<Manager>,
    recorder: Recorder,
    clients: Clients,
    state: Mutex<State>,
    /// Held while a console is being opened, so that one session signs in once.
    opening: tokio::sync::Mutex<()>,
    /// Itself, for the tasks the session observer spawns.
    me: std::sync::OnceLock<std::sync::Weak<ConsoleGateway>>,
}

impl std::fmt::Debug for ConsoleGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleGateway").finish_non_exhaustive()
    }
}

/// A response from the cloud, read whole.
struct Upstream {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

fn random_hex() -> Result<String, ConsoleError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)
        .map_err(|e| ConsoleError::Setup(format!("the operating system gave no random bytes: {e}")))?;
    Ok(hex(&b))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(text: &str) -> String {
    hex(&sha2::Sha256::digest(text.as_bytes()))
}

/// A session id as the manager makes them (`ps-` and hex); anything else is refused early.
fn valid_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The value of a cookie, every one of that name (a browser may send several).
fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| percent_decode(&v.replace('+', " ")))
    })
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_value(b[i + 1]), hex_value(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// A form body's fields, in order.
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    std::str::from_utf8(body)
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", aws::enc(k), aws::enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the hidden `csrf` field of a form in a page (the first, or the first after
/// `after` when given).
fn hidden_csrf(page: &str, after: Option<&str>) -> Option<String> {
    let from = match after {
        Some(marker) => page.find(marker)?,
        None => 0,
    };
    let rest = &page[from..];
    let at = rest.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = rest[at..].find('"')?;
    Some(rest[at..at + end].to_string())
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(
        json!({"error": {"code": code, "message": message}}).to_string(),
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(hyper::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The reason a session ended, for the person.
fn end_reason(s: &SessionView, now: i64) -> Option<(String, i64)> {
    match s.status {
        SessionStatus::Active if now < s.expires_at => None,
        SessionStatus::Active | SessionStatus::Expired => {
            Some(("expired".into(), s.ended_at.unwrap_or(s.expires_at)))
        }
        SessionStatus::Dropped => Some((
            format!(
                "dropped by {}",
                s.ended_by.as_deref().unwrap_or("an administrator")
            ),
            s.ended_at.unwrap_or(now),
        )),
    }
}

impl ConsoleGateway {
    /// A console gateway over the manager, recording through `recorder`.
    pub fn new(manager: Arc<Manager>, recorder: Recorder) -> Arc<ConsoleGateway> {
        let gw = Arc::new(ConsoleGateway {
            manager,
            recorder,
            clients: new_clients(),
            state: Mutex::new(State::default()),
            opening: tokio::sync::Mutex::new(()),
            me: std::sync::OnceLock::new(),
        });
        let _ = gw.me.set(Arc::downgrade(&gw));
        gw.restore_all();
        gw
    }

    /// Loads the consoles the store keeps (open before a restart), so that the watcher signs
    /// out those whose session ended meanwhile.
    fn restore_all(&self) {
        let kept = match self.manager.kept_states::<KeptLive>(LIVE_KIND) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("porteiro: console gateway: cannot read the kept consoles: {e}");
                return;
            }
        };
        for (id, k) in kept {
            if let Some(live) = self.unseal_live(&id, k)
                && let Ok(mut state) = self.state.lock()
            {
                state.live.entry(id).or_insert(live);
            }
        }
    }

    fn unseal_live(&self, id: &str, k: KeptLive) -> Option<Arc<Live>> {
        let open = |s: &Sealed| self.manager.open_state(s).ok();
        let (Some(jar), Some(secrets)) = (open(&k.jar), open(&k.secrets)) else {
            eprintln!(
                "porteiro: console gateway: the kept console of session {id} does not open with this master key: it is dropped"
            );
            let _ = self.manager.forget_state(LIVE_KIND, id);
            return None;
        };
        let jar: BTreeMap<String, String> = serde_json::from_str(jar.expose()).ok()?;
        let secrets: Vec<String> = serde_json::from_str(secrets.expose()).ok()?;
        let target = match k.proxied {
            Some((base, authority)) => Target::Proxied {
                rewriter: Rewriter::new(id, &authority),
                base,
                authority,
            },
            None => Target::Aws { region: k.region },
        };
        Some(Arc::new(Live {
            session_id: id.to_string(),
            target,
            jar: Mutex::new(jar),
            secrets: Mutex::new(secrets),
            closed: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            recording: AtomicBool::new(false),
            keep_until: 0,
        }))
    }

    /// Writes a console's jar and secrets (sealed) to the store.
    fn keep_live(&self, live: &Live) {
        live.dirty.store(false, Ordering::SeqCst);
        let sealed = (|| -> Result<KeptLive, String> {
            let jar = serde_json::to_string(&*live.jar.lock().map_err(|_| "poisoned")?)
                .map_err(|e| e.to_string())?;
            let secrets = serde_json::to_string(&*live.secrets.lock().map_err(|_| "poisoned")?)
                .map_err(|e| e.to_string())?;
            let (proxied, region) = match &live.target {
                Target::Proxied { base, authority, .. } => {
                    (Some((base.clone(), authority.clone())), String::new())
                }
                Target::Aws { region } => (None, region.clone()),
            };
            Ok(KeptLive {
                proxied,
                region,
                jar: self.manager.seal_state(&jar).map_err(|e| e.to_string())?,
                secrets: self.manager.seal_state(&secrets).map_err(|e| e.to_string())?,
            })
        })();
        let result = sealed.and_then(|k| {
            self.manager
                .keep_state(LIVE_KIND, &live.session_id, live.keep_until, &k)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = result {
            live.dirty.store(true, Ordering::SeqCst);
            eprintln!(
                "porteiro: console gateway: cannot keep the console of session {} in the store: {e}",
                live.session_id
            );
        }
    }

    /// The session's open console: in memory, or kept in the store by this process before a
    /// restart or by another Porteiro over the same store.
    fn live_or_kept(&self, session: &SessionView) -> Option<Arc<Live>> {
        if let Some(l) = self.live(&session.id) {
            return Some(l);
        }
        let k = self
            .manager
            .kept_state::<KeptLive>(LIVE_KIND, &session.id)
            .ok()??;
        let live = self.unseal_live(&session.id, k)?;
        let mut state = self.state.lock().ok()?;
        Some(state.live.entry(session.id.clone()).or_insert(live).clone())
    }

    /// Continues the session's recording in this process (once per console): after a restart
    /// the first recording was closed as interrupted and this one is `ID.1`.
    async fn continue_recording(&self, live: &Live, session: &SessionView) {
        if !live.recording.swap(true, Ordering::SeqCst)
            && let Err(e) = self.recorder.open(SessionInfo::from_view(session, None)).await
        {
            eprintln!("porteiro: console gateway: {e}");
        }
    }

    /// The browser bound to this session among the request's cookies (memory, then store).
    fn browser(&self, headers: &HeaderMap, id: &str) -> Result<Option<Browser>, ()> {
        let digests: Vec<String> = cookies(headers, COOKIE).map(digest).collect();
        {
            let state = self.state.lock().map_err(|_| ())?;
            if let Some(b) = digests
                .iter()
                .filter_map(|d| state.browsers.get(d))
                .find(|b| b.session_id == id)
            {
                return Ok(Some(b.clone()));
            }
        }
        for d in digests {
            if let Ok(Some(b)) = self.manager.kept_state::<Browser>(BROWSER_KIND, &d)
                && b.session_id == id
            {
                if let Ok(mut state) = self.state.lock() {
                    state.browsers.insert(d, b.clone());
                }
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    /// Whether this gateway serves a request: `/sessions/…`, and the launch endpoint
    /// `POST /api/v1/sessions/ID/launch`.
    pub fn serves(method: &Method, path: &str) -> bool {
        path.starts_with("/sessions/")
            || (method == Method::POST && {
                let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
                matches!(segs.as_slice(), ["", "api", "v1", "sessions", _, "launch"])
            })
    }

    fn record(&self, session_id: &str, kind: EventKind) {
        self.recorder.append(session_id, kind);
    }

    fn note(&self, session_id: &str, text: String) {
        self.record(session_id, EventKind::Note(Note { text }));
    }

    /// Reads the body of a request this gateway [`serves`](Self::serves) (at most
    /// [`MAX_CONSOLE_BODY`]) and handles it.
    pub async fn receive(&self, req: Request<Incoming>, remote: SocketAddr) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        match Limited::new(body, MAX_CONSOLE_BODY).collect().await {
            Ok(c) => {
                self.handle(Request::from_parts(parts, c.to_bytes()), remote)
                    .await
            }
            Err(_) => json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &format!("the request body is larger than {MAX_CONSOLE_BODY} bytes"),
            ),
        }
    }

    /// Handles one request this gateway [`serves`](Self::serves).
    pub async fn handle(&self, req: Request<Bytes>, remote: SocketAddr) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let lang = pages::Lang::of(req.headers());
        if path.starts_with("/api/") {
            return self.launch_api(&req, remote).await;
        }
        let rest = path.strip_prefix("/sessions/").unwrap_or("");
        let (id, sub) = rest.split_once('/').unwrap_or((rest, ""));
        if !valid_session_id(id) {
            return pages::error(
                lang,
                StatusCode::NOT_FOUND,
                "No such session",
                "This is not a session's address: console sessions are at /sessions/ID/ (open them from Porteiro).",
            );
        }
        if sub.is_empty() {
            return pages::redirect(StatusCode::SEE_OTHER, &format!("/sessions/{id}/console/"));
        }
        if sub == "launch" && req.method() == Method::GET {
            return self.launch_browser(&req, id).await;
        }
        // The browser must hold the cookie of this very session.
        let user_id = match self.browser(req.headers(), id) {
            Ok(b) => b.map(|b| b.user_id),
            Err(()) => {
                return pages::error(
                    lang,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "the gateway's state is poisoned: restart Porteiro",
                );
            }
        };
        let Some(user_id) = user_id else {
            return pages::error(
                lang,
                StatusCode::UNAUTHORIZED,
                "Not signed in to this session",
                &match lang {
                    pages::Lang::En => format!(
                        "This browser may not use session {id}. Only the session's owner can open it, from Porteiro (the web UI, or POST /api/v1/sessions/{id}/launch gives a one-time launch URL)."
                    ),
                    pages::Lang::Pt => format!(
                        "Este navegador não pode usar a sessão {id}. Só o dono da sessão pode abri-la, pelo Porteiro (a interface web, ou POST /api/v1/sessions/{id}/launch, que dá uma URL de abertura de uso único)."
                    ),
                },
            );
        };
        // Same-site only for anything that changes state.
        if req.method() != Method::GET && req.method() != Method::HEAD && !same_origin(req.headers()) {
            return pages::error(
                lang,
                StatusCode::FORBIDDEN,
                "Request refused",
                "The request came from another site: reload the console page and try again.",
            );
        }
        let session = match self.manager.session_for_gateway(id) {
            Ok(s) if s.user_id == user_id => s,
            Ok(_) => {
                return pages::error(
                    lang,
                    StatusCode::FORBIDDEN,
                    "Not your session",
                    "This session belongs to another Porteiro user.",
                );
            }
            Err(e) => return pages::error(lang, StatusCode::NOT_FOUND, "No such session", &e.to_string()),
        };
        if let Some((reason, at)) = end_reason(&session, self.manager.now()) {
            self.close(id, &reason).await;
            let mut resp = pages::disconnected(lang, id, &reason, at);
            clear_cookie(&mut resp, id);
            return resp;
        }
        let live = match self.live_or_kept(&session) {
            Some(l) => {
                self.continue_recording(&l, &session).await;
                l
            }
            None => match self.open(&session).await {
                Ok(l) => l,
                Err(e) => {
                    return pages::error(
                        lang,
                        StatusCode::BAD_GATEWAY,
                        "The console could not be opened",
                        &e.to_string(),
                    );
                }
            },
        };
        match &live.target {
            Target::Aws { region } => {
                let region = region.clone();
                self.aws(&live, &session, &region, sub, &req).await
            }
            Target::Proxied { .. } => self.proxied(&live, &session, sub, req).await,
        }
    }

    fn live(&self, id: &str) -> Option<Arc<Live>> {
        self.state.lock().ok()?.live.get(id).cloned()
    }

    /// A one-time launch path (`/sessions/ID/launch?token=…`, valid once for a minute) of
    /// session `id` for `actor`, its owner; with its expiry and the session's kind. The REST
    /// endpoint and the web UI both mint launches here.
    pub fn launch_for(&self, actor: &Actor, id: &str) -> Result<(String, i64, SessionKind), LaunchRefused> {
        let session = self
            .manager
            .session_for_gateway(id)
            .map_err(|_| LaunchRefused::NotFound(id.to_string()))?;
        if session.user_id != actor.user_id {
            return Err(LaunchRefused::NotYours(id.to_string()));
        }
        if let Some((reason, _)) = end_reason(&session, self.manager.now()) {
            return Err(LaunchRefused::Ended(id.to_string(), reason));
        }
        let token = random_hex().map_err(|e| LaunchRefused::Internal(e.to_string()))?;
        let now = self.manager.now();
        let expires = now + LAUNCH_SECONDS;
        // In the store only: the launch may be opened on another Porteiro over the same store.
        self.manager
            .keep_state(
                LAUNCH_KIND,
                &digest(&token),
                expires,
                &Launch {
                    session_id: id.to_string(),
                    user_id: actor.user_id.clone(),
                    expires,
                },
            )
            .map_err(|e| LaunchRefused::Internal(e.to_string()))?;
        Ok((
            format!("/sessions/{id}/launch?token={token}"),
            expires,
            session.kind,
        ))
    }

    /// `POST /api/v1/sessions/ID/launch` (API token of the session's owner): a one-time URL.
    async fn launch_api(&self, req: &Request<Bytes>, remote: SocketAddr) -> Response<Full<Bytes>> {
        let segs: Vec<&str> = req.uri().path().trim_end_matches('/').split('/').collect();
        let id = segs.get(4).copied().unwrap_or("");
        let Some(token) = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
        else {
            return json_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "no API token: send `Authorization: Bearer TOKEN` (POST /api/v1/login gives one)",
            );
        };
        let actor: Actor = match self.manager.authenticate(token, Some(remote.ip().to_string())) {
            Ok(a) => a,
            Err(e) => return json_error(StatusCode::UNAUTHORIZED, "unauthenticated", &e.to_string()),
        };
        let (path, expires, kind) = match self.launch_for(&actor, id) {
            Ok(l) => l,
            Err(e) => {
                let (status, code) = match &e {
                    LaunchRefused::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                    LaunchRefused::NotYours(_) => (StatusCode::FORBIDDEN, "forbidden"),
                    LaunchRefused::Ended(..) => (StatusCode::CONFLICT, "conflict"),
                    LaunchRefused::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
                };
                return json_error(status, code, &e.to_string());
            }
        };
        let url = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| format!("http://{h}{path}"));
        let mut r = json_error(StatusCode::CREATED, "", "");
        *r.body_mut() = Full::new(Bytes::from(
            json!({"path": path, "url": url, "expires_at": expires, "kind": kind}).to_string(),
        ));
        r
    }

    /// `GET /sessions/ID/launch?token=…`: the one-time URL sets the browser's cookie and opens
    /// the console.
    async fn launch_browser(&self, req: &Request<Bytes>, id: &str) -> Response<Full<Bytes>> {
        let lang = pages::Lang::of(req.headers());
        let token = query_param(req.uri().query(), "token").unwrap_or_default();
        let key = digest(&token);
        // Taken once: only the caller whose delete removed the row may use it.
        let launch = self
            .manager
            .kept_state::<Launch>(LAUNCH_KIND, &key)
            .ok()
            .flatten()
            .filter(|_| self.manager.forget_state(LAUNCH_KIND, &key).unwrap_or(false));
        let now = self.manager.now();
        let Some(launch) = launch.filter(|l| l.session_id == id && l.expires > now) else {
            return pages::error(
                lang,
                StatusCode::FORBIDDEN,
                "This launch link does not work",
                "The link was already used, is older than a minute, or belongs to another session: open the session again from Porteiro.",
            );
        };
        let session = match self.manager.session_for_gateway(id) {
            Ok(s) if s.user_id == launch.user_id => s,
            _ => {
                return pages::error(
                    lang,
                    StatusCode::FORBIDDEN,
                    "Not your session",
                    "This session belongs to another Porteiro user.",
                );
            }
        };
        if let Some((reason, at)) = end_reason(&session, now) {
            return pages::disconnected(lang, id, &reason, at);
        }
        let cookie = match random_hex() {
            Ok(c) => c,
            Err(e) => {
                return pages::error(
                    lang,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    &e.to_string(),
                );
            }
        };
        let browser = Browser {
            session_id: id.to_string(),
            user_id: launch.user_id.clone(),
        };
        if let Err(e) = self.manager.keep_state(
            BROWSER_KIND,
            &digest(&cookie),
            session.expires_at + KEEP_AFTER_EXPIRY,
            &browser,
        ) {
            return pages::error(
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                "The console could not be opened",
                &format!("the browser could not be registered: {e}"),
            );
        }
        if let Ok(mut state) = self.state.lock() {
            state.browsers.insert(digest(&cookie), browser);
        }
        if let Some(live) = self.live_or_kept(&session) {
            self.continue_recording(&live, &session).await;
        } else if let Err(e) = self.open(&session).await {
            return pages::error(
                lang,
                StatusCode::BAD_GATEWAY,
                "The console could not be opened",
                &e.to_string(),
            );
        }
        let mut resp = pages::launching(lang, &format!("/sessions/{id}/console/"));
        let max_age = (session.expires_at - now).max(0);
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{COOKIE}={cookie}; Path=/sessions/{id}; HttpOnly; SameSite=Strict; Max-Age={max_age}"
        )) {
            resp.headers_mut().append(hyper::header::SET_COOKIE, v);
        }
        resp
    }

    /// Opens the session's console: signs in to the cloud on the person's behalf (proxied
    /// clouds), or prepares the hand-over (real AWS).
    async fn open(&self, session: &SessionView) -> Result<Arc<Live>, ConsoleError> {
        let id = session.id.as_str();
        let _one = self.opening.lock().await;
        if let Some(live) = self.live_or_kept(session) {
            self.continue_recording(&live, session).await;
            return Ok(live);
        }
        let info = self.manager.console_sign_in(id)?;
        let target = match &info.endpoint {
            Some(endpoint) => {
                let base = endpoint.trim_end_matches('/').to_string();
                let authority = base
                    .split_once("://")
                    .map(|(_, r)| r.split('/').next().unwrap_or(r))
                    .unwrap_or(&base)
                    .to_string();
                Target::Proxied {
                    rewriter: Rewriter::new(id, &authority),
                    base,
                    authority,
                }
            }
            None => Target::Aws {
                region: info.region.clone(),
            },
        };
        let live = Arc::new(Live {
            session_id: id.to_string(),
            target,
            jar: Mutex::new(BTreeMap::new()),
            secrets: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            dirty: AtomicBool::new(true),
            recording: AtomicBool::new(false),
            keep_until: session.expires_at + KEEP_AFTER_EXPIRY,
        });
        self.continue_recording(&live, session).await;
        match &info.method {
            ConsoleSignInMethod::Password { password, .. } => live.add_secret(password.expose()),
            ConsoleSignInMethod::Federation {
                secret_access_key,
                session_token,
                ..
            } => {
                live.add_secret(secret_access_key.expose());
                live.add_secret(session_token.expose());
            }
        }
        match &live.target {
            Target::Proxied { .. } => self.sign_in(&live, &info).await?,
            Target::Aws { .. } => {
                if matches!(info.method, ConsoleSignInMethod::Password { .. }) {
                    return Err(ConsoleError::SignIn {
                        session: id.to_string(),
                        why: "a Cloud console session on real AWS would need the IAM user's password in the browser, which Porteiro never gives out: start a JIT session with a role, whose console Porteiro hands over through AWS's federation endpoint".into(),
                    });
                }
            }
        }
        self.keep_live(&live);
        if let Ok(mut state) = self.state.lock() {
            state.live.insert(id.to_string(), live.clone());
        }
        Ok(live)
    }

    /// Sends one request to the cloud and reads the whole answer.
    async fn send(&self, req: Request<Full<Bytes>>) -> Result<Upstream, ConsoleError> {
        let url = format!(
            "{}://{}{}",
            req.uri().scheme_str().unwrap_or("http"),
            req.uri().authority().map(|a| a.as_str()).unwrap_or(""),
            req.uri().path()
        );
        let unreachable = |why: String| ConsoleError::Unreachable {
            url: url.clone(),
            why,
        };
        let pending = if req.uri().scheme_str() == Some("https") {
            match &self.clients.https {
                Some(c) => c.request(req),
                None => {
                    return Err(ConsoleError::Setup(format!(
                        "cannot reach {url}: this system has no root certificates for HTTPS (install ca-certificates)"
                    )));
                }
            }
        } else {
            self.clients.http.request(req)
        };
        let resp = tokio::time::timeout(UPSTREAM_TIMEOUT, pending)
            .await
            .map_err(|_| unreachable("no answer within 30 s".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let body = tokio::time::timeout(UPSTREAM_TIMEOUT, body.collect())
            .await
            .map_err(|_| unreachable("the answer did not finish within 30 s".into()))?
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        Ok(Upstream {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// A request to the cloud console with the session's cookies.
    fn upstream_request(
        live: &Live,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, ConsoleError> {
        let Target::Proxied { base, authority, .. } = &live.target else {
            return Err(ConsoleError::SignIn {
                session: live.session_id.clone(),
                why: "this session's console is on AWS and is not proxied".into(),
            });
        };
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{base}{path_and_query}"))
            .header(hyper::header::HOST, authority.as_str());
        if let Some(ct) = content_type {
            b = b.header(hyper::header::CONTENT_TYPE, ct);
        }
        if let Some(c) = live.cookie_header() {
            b = b.header(hyper::header::COOKIE, c);
        }
        b.body(Full::new(body)).map_err(|e| ConsoleError::Unreachable {
            url: format!("{base}{path_and_query}"),
            why: e.to_string(),
        })
    }

    /// Signs in to the cloud console for the session: the IAM user's sign-in form with the
    /// vaulted password, or the federation endpoint with the session's credentials.
    async fn sign_in(&self, live: &Live, info: &ConsoleSignIn) -> Result<(), ConsoleError> {
        let id = &live.session_id;
        let refused = |why: String| ConsoleError::SignIn {
            session: id.clone(),
            why,
        };
        if let Ok(mut jar) = live.jar.lock() {
            jar.clear();
        }
        let form = "application/x-www-form-urlencoded";
        match &info.method {
            ConsoleSignInMethod::Password { user_name, password } => {
                let page = self
                    .send(Self::upstream_request(
                        live,
                        Method::GET,
                        "/signin",
                        None,
                        Bytes::new(),
                    )?)
                    .await?;
                live.store_cookies(&page.headers);
                let csrf = hidden_csrf(&String::from_utf8_lossy(&page.body), None).ok_or_else(|| {
                    refused(format!("its sign-in page (status {}) has no form", page.status))
                })?;
                let body = form_body(&[
                    ("csrf", &csrf),
                    ("account", &info.aws_account_id),
                    ("username", user_name),
                    ("password", password.expose()),
                ]);
                let resp = self
                    .send(Self::upstream_request(
                        live,
                        Method::POST,
                        "/signin",
                        Some(form),
                        Bytes::from(body),
                    )?)
                    .await?;
                live.store_cookies(&resp.headers);
                if !resp.status.is_redirection() {
                    return Err(refused(format!(
                        "status {} for IAM user {user_name} (its password may have been changed outside Porteiro, or it must be reset)",
                        resp.status
                    )));
                }
                self.note(
                    id,
                    format!(
                        "Porteiro signed in to the cloud console as IAM user {user_name} (account {}) with the vaulted password",
                        info.aws_account_id
                    ),
                );
            }
            ConsoleSignInMethod::Federation {
                access_key_id,
                secret_access_key,
                session_token,
                ..
            } => {
                let Target::Proxied { base, .. } = &live.target else {
                    return Err(refused("not a proxied console".into()));
                };
                let federation = format!("{base}/federation");
                let url = aws::signin_token_url(
                    &federation,
                    access_key_id,
                    secret_access_key.expose(),
                    session_token.expose(),
                    None,
                );
                let path = url.strip_prefix(base.as_str()).unwrap_or(&url).to_string();
                let resp = self
                    .send(Self::upstream_request(
                        live,
                        Method::GET,
                        &path,
                        None,
                        Bytes::new(),
                    )?)
                    .await?;
                let token = aws::parse_signin_token(&resp.body).ok_or_else(|| {
                    refused(format!(
                        "getSigninToken answered {}: {}",
                        resp.status,
                        String::from_utf8_lossy(&resp.body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    ))
                })?;
                live.add_secret(&token);
                let issuer = format!("http://porteiro.invalid/sessions/{id}/");
                let login = aws::login_url(&federation, &issuer, "/console/", &token);
                let path = login.strip_prefix(base.as_str()).unwrap_or(&login).to_string();
                let resp = self
                    .send(Self::upstream_request(
                        live,
                        Method::GET,
                        &path,
                        None,
                        Bytes::new(),
                    )?)
                    .await?;
                live.store_cookies(&resp.headers);
                if !resp.status.is_redirection() {
                    return Err(refused(format!("the federation login answered {}", resp.status)));
                }
                self.note(
                    id,
                    format!(
                        "Porteiro signed in to the cloud console as {} through the federation endpoint with the session's temporary credentials ({access_key_id})",
                        info.principal.as_deref().unwrap_or("the session's role")
                    ),
                );
            }
        }
        Ok(())
    }

    /// Forwards one browser request to the cloud console and records the exchange.
    async fn proxied(
        &self,
        live: &Arc<Live>,
        session: &SessionView,
        sub: &str,
        req: Request<Bytes>,
    ) -> Response<Full<Bytes>> {
        let lang = pages::Lang::of(req.headers());
        let id = session.id.as_str();
        let Target::Proxied { rewriter, .. } = &live.target else {
            return pages::error(
                lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                "not a proxied console",
            );
        };
        // `/sessions/ID/signin`: the console's "sign in again": Porteiro signs in again.
        if sub == "signin" || sub.starts_with("signin/") {
            return match self.manager.console_sign_in(id) {
                Ok(info) => match self.sign_in(live, &info).await {
                    Ok(()) => {
                        self.keep_live(live);
                        pages::redirect(StatusCode::SEE_OTHER, &format!("/sessions/{id}/console/"))
                    }
                    Err(e) => pages::error(
                        lang,
                        StatusCode::BAD_GATEWAY,
                        "The console could not be opened",
                        &e.to_string(),
                    ),
                },
                Err(e) => pages::error(
                    lang,
                    StatusCode::CONFLICT,
                    "The console could not be opened",
                    &e.to_string(),
                ),
            };
        }
        if !(sub == "console" || sub.starts_with("console/")) {
            return pages::error(
                lang,
                StatusCode::NOT_FOUND,
                "Not part of the console",
                "Only the console's pages (/sessions/ID/console/…) are reachable through Porteiro.",
            );
        }
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let upstream_path = format!("/{sub}");
        let path_and_query = match parts.uri.query() {
            Some(q) => format!("{upstream_path}?{q}"),
            None => upstream_path.clone(),
        };
        let content_type = parts
            .headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let is_form = content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let form = (parts.method == Method::POST).then(|| {
            if is_form {
                let mut fields = form_fields(&body);
                for (k, v) in &mut fields {
                    // The console's CSRF token is bound to the cloud cookie: not for the record.
                    if k.eq_ignore_ascii_case("csrf") {
                        *v = "********".into();
                    }
                }
                fields
            } else {
                vec![(
                    "(body)".to_string(),
                    format!(
                        "{} bytes of {}",
                        body.len(),
                        content_type.as_deref().unwrap_or("unknown type")
                    ),
                )]
            }
        });
        let mut upstream = match Self::upstream_request(
            live,
            parts.method.clone(),
            &path_and_query,
            content_type.as_deref(),
            body,
        ) {
            Ok(r) => r,
            Err(e) => {
                return pages::error(
                    lang,
                    StatusCode::BAD_GATEWAY,
                    "The console could not be reached",
                    &e.to_string(),
                );
            }
        };
        {
            let h = upstream.headers_mut();
            for name in [
                hyper::header::ACCEPT,
                hyper::header::ACCEPT_LANGUAGE,
                hyper::header::USER_AGENT,
            ] {
                if let Some(v) = parts.headers.get(&name) {
                    h.insert(name, v.clone());
                }
            }
            // The browser's origin was checked above; the cloud checks its own.
            if parts.headers.contains_key(hyper::header::ORIGIN)
                && let Target::Proxied { base, .. } = &live.target
                && let Ok(v) = HeaderValue::from_str(base)
            {
                h.insert(hyper::header::ORIGIN, v);
            }
        }
        let resp = match self.send(upstream).await {
            Ok(r) => r,
            Err(e) => {
                return pages::error(
                    lang,
                    StatusCode::BAD_GATEWAY,
                    "The console could not be reached",
                    &e.to_string(),
                );
            }
        };
        live.store_cookies(&resp.headers);
        if live.dirty.load(Ordering::SeqCst) {
            self.keep_live(live);
        }
        let signed_out = parts.method == Method::POST && upstream_path == "/console/logout";
        let upstream_type = resp
            .headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let is_html = upstream_type.starts_with("text/html");
        let mut out_headers = HeaderMap::new();
        for (name, value) in &resp.headers {
            if is_hop_or_private(name) {
                continue;
            }
            out_headers.append(name.clone(), value.clone());
        }
        if let Some(loc) = resp
            .headers
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        {
            let mut new = rewriter.location(loc);
            if let Some(s) = live.scrub(&new) {
                new = s;
            }
            if let Ok(v) = HeaderValue::from_str(&new) {
                out_headers.insert(hyper::header::LOCATION, v);
            }
        }
        let (body, html) = if is_html
            || upstream_type.starts_with("text/")
            || upstream_type.contains("json")
            || upstream_type.contains("javascript")
        {
            let text = String::from_utf8_lossy(&resp.body).into_owned();
            let text = if is_html { rewriter.html(&text) } else { text };
            let text = live.scrub(&text).unwrap_or(text);
            let html = is_html.then(|| Html::new(text.clone()));
            (Bytes::from(text), html)
        } else {
            (resp.body.clone(), None)
        };
        let (status, body, html, mut out_headers) = if signed_out {
            let page = pages::signed_out(lang, id, &format!("/sessions/{id}/signin"), session.expires_at);
            let mut headers = HeaderMap::new();
            headers.insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            (
                StatusCode::OK,
                Bytes::from(page.clone()),
                Some(Html::new(page)),
                headers,
            )
        } else {
            (resp.status, body, html, out_headers)
        };
        let keep = |h: &HeaderMap, names: &[HeaderName]| -> Vec<(String, String)> {
            names
                .iter()
                .filter_map(|n| {
                    h.get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(|v| (n.to_string(), v.to_string()))
                })
                .collect()
        };
        self.record(
            id,
            EventKind::ConsoleExchange(ConsoleExchange {
                method: parts.method.to_string(),
                path: upstream_path,
                query: parts.uri.query().map(str::to_string),
                status: status.as_u16(),
                duration_ms: started.elapsed().as_millis() as u64,
                request_headers: keep(
                    &parts.headers,
                    &[hyper::header::CONTENT_TYPE, hyper::header::USER_AGENT],
                ),
                response_headers: keep(
                    &out_headers,
                    &[hyper::header::CONTENT_TYPE, hyper::header::LOCATION],
                ),
                form,
                html,
            }),
        );
        if signed_out {
            self.note(id, "the person signed out of the cloud console".into());
        }
        pages::secure(&mut out_headers);
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = status;
        *r.headers_mut() = out_headers;
        r
    }

    /// Real AWS: the hand-over page, then (`/sessions/ID/aws-console`) a 302 to AWS's
    /// federation login URL.
    async fn aws(
        &self,
        live: &Arc<Live>,
        session: &SessionView,
        region: &str,
        sub: &str,
        req: &Request<Bytes>,
    ) -> Response<Full<Bytes>> {
        let lang = pages::Lang::of(req.headers());
        let id = session.id.as_str();
        if sub != "aws-console" {
            return pages::aws_handover(
                lang,
                id,
                &format!("/sessions/{id}/aws-console"),
                session.expires_at,
            );
        }
        let info = match self.manager.console_sign_in(id) {
            Ok(i) => i,
            Err(e) => {
                return pages::error(
                    lang,
                    StatusCode::CONFLICT,
                    "The console could not be opened",
                    &e.to_string(),
                );
            }
        };
        let ConsoleSignInMethod::Federation {
            access_key_id,
            secret_access_key,
            session_token,
            ..
        } = &info.method
        else {
            return pages::error(
                lang,
                StatusCode::CONFLICT,
                "Not available",
                "Cloud console sessions on AWS are not proxied: use a JIT session.",
            );
        };
        let partition = aws::partition(region);
        let url = aws::signin_token_url(
            partition.federation,
            access_key_id,
            secret_access_key.expose(),
            session_token.expose(),
            None,
        );
        let token = async {
            let r = Request::builder()
                .method(Method::GET)
                .uri(&url)
                .body(Full::new(Bytes::new()))
                .map_err(|e| ConsoleError::Unreachable {
                    url: partition.federation.to_string(),
                    why: e.to_string(),
                })?;
            let resp = self.send(r).await?;
            aws::parse_signin_token(&resp.body).ok_or_else(|| ConsoleError::SignIn {
                session: id.to_string(),
                why: format!("AWS's getSigninToken answered {}", resp.status),
            })
        }
        .await;
        let token = match token {
            Ok(t) => t,
            Err(e) => {
                return pages::error(
                    lang,
                    StatusCode::BAD_GATEWAY,
                    "The AWS console could not be opened",
                    &e.to_string(),
                );
            }
        };
        let host = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let issuer = format!("http://{host}/sessions/{id}/");
        let login = aws::login_url(partition.federation, &issuer, &aws::console_home(region), &token);
        self.note(
            id,
            format!(
                "handed over to AWS's console at {} through AWS's federation endpoint as {}: the console's pages are not captured; the session's end and API calls through the gateway are",
                pages::utc(self.manager.now()),
                info.principal.as_deref().unwrap_or("the session's role")
            ),
        );
        let _ = live;
        pages::redirect(StatusCode::FOUND, &login)
    }

    /// Ends a session's console: the browser is cut off at once (every later request gets
    /// "You have been disconnected") and the cloud console is signed out (once).
    pub async fn close(&self, id: &str, reason: &str) {
        if let Some(live) = self.begin_close(id, reason) {
            self.finish_close(&live, reason).await;
        }
    }

    /// The synchronous half of [`close`](Self::close): marks the console closed and records
    /// it (so that the note lands before the recording's end). `None` when there is nothing
    /// to close.
    fn begin_close(&self, id: &str, reason: &str) -> Option<Arc<Live>> {
        let live = self.live(id)?;
        if live.closed.swap(true, Ordering::SeqCst) {
            return None;
        }
        // The browsers stay known, so that they are told "You have been disconnected"; a launch
        // left is refused by the session's end.
        self.note(
            id,
            match live.target {
                Target::Proxied { .. } => format!(
                    "the session ended ({reason}): Porteiro disconnected the browser and signed the cloud console session out"
                ),
                Target::Aws { .. } => format!(
                    "the session ended ({reason}): AWS's console was not proxied and cannot be signed out by Porteiro; the manager's revocation denies the session's credentials"
                ),
            },
        );
        Some(live)
    }

    async fn finish_close(&self, live: &Live, reason: &str) {
        if matches!(live.target, Target::Proxied { .. })
            && live.cookie_header().is_some()
            && let Err(e) = self.sign_out(live).await
        {
            eprintln!(
                "porteiro: console gateway: session {} ended ({reason}) but signing its cloud console out failed: {e}",
                live.session_id
            );
        }
        if let Ok(mut jar) = live.jar.lock() {
            jar.clear();
        }
        if let Err(e) = self.manager.forget_state(LIVE_KIND, &live.session_id) {
            eprintln!(
                "porteiro: console gateway: cannot remove the closed console of session {} from the store: {e}",
                live.session_id
            );
        }
    }

    async fn sign_out(&self, live: &Live) -> Result<(), ConsoleError> {
        let page = self
            .send(Self::upstream_request(
                live,
                Method::GET,
                "/console/",
                None,
                Bytes::new(),
            )?)
            .await?;
        let Some(csrf) = hidden_csrf(
            &String::from_utf8_lossy(&page.body),
            Some("action=\"/console/logout\""),
        ) else {
            // No sign-out form: the cloud's session has already ended.
            return Ok(());
        };
        let Target::Proxied { base, .. } = &live.target else {
            return Ok(());
        };
        let mut r = Self::upstream_request(
            live,
            Method::POST,
            "/console/logout",
            Some("application/x-www-form-urlencoded"),
            Bytes::from(form_body(&[("csrf", &csrf)])),
        )?;
        if let Ok(v) = HeaderValue::from_str(base) {
            r.headers_mut().insert(hyper::header::ORIGIN, v);
        }
        let resp = self.send(r).await?;
        live.store_cookies(&resp.headers);
        Ok(())
    }

    /// Closes the consoles of sessions that ended: every [`WATCH_INTERVAL`], so that the cloud
    /// console is signed out within a second of an expiry even when nobody asks for a page.
    pub async fn watch(self: Arc<Self>) {
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            let ids: Vec<String> = match self.state.lock() {
                Ok(s) => s
                    .live
                    .values()
                    .filter(|l| !l.closed.load(Ordering::SeqCst))
                    .map(|l| l.session_id.clone())
                    .collect(),
                Err(_) => continue,
            };
            for id in ids {
                let ended = match self.manager.session_for_gateway(&id) {
                    Ok(s) => end_reason(&s, self.manager.now()).map(|(r, _)| r),
                    Err(_) => Some("the session no longer exists".into()),
                };
                if let Some(reason) = ended {
                    self.close(&id, &reason).await;
                }
            }
        }
    }

    /// Whether the session's console is open and not yet closed (for tests and status).
    pub fn is_open(&self, id: &str) -> bool {
        self.live(id).is_some_and(|l| !l.closed.load(Ordering::SeqCst))
    }

    /// The kind of session, for callers that only need to know whether a console exists.
    pub fn supports(kind: SessionKind) -> bool {
        matches!(kind, SessionKind::Console | SessionKind::Jit)
    }
}

/// Headers never passed from the cloud to the browser: hop-by-hop ones, lengths (recomputed),
/// and cookies (the cloud's cookie stays in Porteiro).
fn is_hop_or_private(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "set-cookie"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "content-length"
            | "location"
            | "upgrade"
            | "proxy-authenticate"
            | "trailer"
            | "te"
    )
}

fn clear_cookie(resp: &mut Response<Full<Bytes>>, id: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/sessions/{id}; HttpOnly; SameSite=Strict; Max-Age=0"
    )) {
        resp.headers_mut().append(hyper::header::SET_COOKIE, v);
    }
}

/// When the browser sends an `Origin`, its authority must be the `Host` it talks to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(hyper::header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    headers
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

/// Serves the access manager's API and the console gateway on one listener: `/sessions/…`
/// and `POST /api/v1/sessions/ID/launch` go to the console gateway, everything else to the
/// API.
pub async fn serve(
    manager: Arc<Manager>,
    console: Arc<ConsoleGateway>,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    loop {
        let (stream, remote) = porteiro_manager::api::accept(&listener).await?;
        let manager = manager.clone();
        let console = console.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let manager = manager.clone();
                let console = console.clone();
                async move { Ok::<_, Infallible>(dispatch(&manager, &console, req, remote).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, service)
                .await;
        });
    }
}

/// The manager tells the gateway when a session ends (a drop, an expiry, a removed user):
/// the console is cut at once, before the recording's end. Register it before the recorder.
impl SessionObserver for ConsoleGateway {
    fn started(&self, _session: &SessionView, _origin: Option<&str>) {}

    fn ended(&self, session: &SessionView, reason: &str) {
        let Some(live) = self.begin_close(&session.id, reason) else {
            return;
        };
        let Some(me) = self.me.get().and_then(std::sync::Weak::upgrade) else {
            return;
        };
        let reason = reason.to_string();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { me.finish_close(&live, &reason).await });
        }
    }
}

async fn dispatch(
    manager: &Manager,
    console: &ConsoleGateway,
    req: Request<Incoming>,
    remote: SocketAddr,
) -> Response<Full<Bytes>> {
    let ours = ConsoleGateway::serves(req.method(), req.uri().path());
    let limit = if ours {
        MAX_CONSOLE_BODY
    } else {
        porteiro_manager::api::MAX_BODY
    };
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &format!("the request body is larger than {limit} bytes"),
            );
        }
    };
    let req = Request::from_parts(parts, body);
    if ours {
        console.handle(req, remote).await
    } else {
        porteiro_manager::api::handle(manager, req, remote).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_serves_sessions_and_launch_only() {
        assert!(ConsoleGateway::serves(&Method::GET, "/sessions/ps-1/console/"));
        assert!(ConsoleGateway::serves(
            &Method::POST,
            "/api/v1/sessions/ps-1/launch"
        ));
        assert!(!ConsoleGateway::serves(
            &Method::GET,
            "/api/v1/sessions/ps-1/launch"
        ));
        assert!(!ConsoleGateway::serves(
            &Method::POST,
            "/api/v1/sessions/ps-1/drop"
        ));
        assert!(!ConsoleGateway::serves(&Method::GET, "/api/v1/sessions"));
        assert!(!ConsoleGateway::serves(&Method::GET, "/sessionsX"));
    }

    #[test]
    fn forms_and_cookies_are_read() {
        assert_eq!(
            form_fields(b"csrf=a%2Bb&name=carol+x&empty="),
            vec![
                ("csrf".to_string(), "a+b".to_string()),
                ("name".to_string(), "carol x".to_string()),
                ("empty".to_string(), String::new())
            ]
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        let mut h = HeaderMap::new();
        h.append(
            hyper::header::COOKIE,
            HeaderValue::from_static("a=1; porteiro_session=x"),
        );
        h.append(
            hyper::header::COOKIE,
            HeaderValue::from_static("porteiro_session=y"),
        );
        assert_eq!(cookies(&h, COOKIE).collect::<Vec<_>>(), vec!["x", "y"]);
        assert_eq!(
            hidden_csrf(
                r#"<form action="/a"><input type="hidden" name="csrf" value="one"></form><form method="post" action="/console/logout" class="inline"><input type="hidden" name="csrf" value="two">"#,
                Some("action=\"/console/logout\"")
            )
            .as_deref(),
            Some("two")
        );
        assert_eq!(hidden_csrf("<p>none</p>", None), None);
    }

    #[test]
    fn the_cloud_cookies_stay_in_the_jar_and_count_as_secrets() {
        let live = Live {
            session_id: "ps-1".into(),
            target: Target::Aws {
                region: "us-east-1".into(),
            },
            jar: Mutex::new(BTreeMap::new()),
            secrets: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            recording: AtomicBool::new(false),
            keep_until: 0,
        };
        let mut h = HeaderMap::new();
        h.append(
            hyper::header::SET_COOKIE,
            HeaderValue::from_static(
                "porteiro_console=c0ffee0123456789; HttpOnly; SameSite=Lax; Path=/; Max-Age=43200",
            ),
        );
        h.append(
            hyper::header::SET_COOKIE,
            HeaderValue::from_static("porteiro_signin=abcdef0123456789; Path=/"),
        );
        live.store_cookies(&h);
        assert!(
            live.dirty.swap(false, Ordering::SeqCst),
            "a new cookie is to be kept"
        );
        live.store_cookies(&h);
        assert!(
            !live.dirty.load(Ordering::SeqCst),
            "the same cookies again change nothing"
        );
        assert_eq!(
            live.secrets.lock().map(|s| s.len()).unwrap_or(0),
            2,
            "each secret once"
        );
        assert_eq!(
            live.cookie_header().as_deref(),
            Some("porteiro_console=c0ffee0123456789; porteiro_signin=abcdef0123456789")
        );
        assert_eq!(
            live.scrub("x c0ffee0123456789 y").as_deref(),
            Some("x ******** y")
        );
        let mut gone = HeaderMap::new();
        gone.append(
            hyper::header::SET_COOKIE,
            HeaderValue::from_static("porteiro_console=; Path=/; Max-Age=0"),
        );
        gone.append(
            hyper::header::SET_COOKIE,
            HeaderValue::from_static("porteiro_signin=x; Max-Age=0"),
        );
        live.store_cookies(&gone);
        assert_eq!(live.cookie_header(), None);
    }

    #[test]
    fn origins_must_match_the_host() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h));
        h.insert(hyper::header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(
            hyper::header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            hyper::header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(hyper::header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn session_ids_are_checked() {
        assert!(valid_session_id("ps-0123456789abcdef"));
        for bad in ["", "a/b", "..", "a b", "x%2F"] {
            assert!(!valid_session_id(bad), "{bad}");
        }
    }

    #[test]
    fn ended_sessions_say_why() {
        let mut s = SessionView {
            id: "ps-1".into(),
            kind: SessionKind::Console,
            user_id: "u".into(),
            username: "ana".into(),
            cloud_user_id: "cu".into(),
            account_id: "a".into(),
            role_arn: None,
            duration: 900,
            started: 100,
            expires_at: 1000,
            status: SessionStatus::Active,
            ended_at: None,
            ended_by: None,
            access_key_id: None,
            gateway_access_key_id: None,
        };
        assert_eq!(end_reason(&s, 999), None);
        assert_eq!(end_reason(&s, 1000), Some(("expired".into(), 1000)));
        s.status = SessionStatus::Dropped;
        s.ended_by = Some("admin".into());
        s.ended_at = Some(500);
        assert_eq!(end_reason(&s, 501), Some(("dropped by admin".into(), 500)));
    }
}
