//! The recording service both gateways use.
//!
//! A [`Recorder`] owns the recordings store (a [`LocalDir`], `DATA_DIR/recordings`, by
//! default; any [`RecordingStore`] works), the ed25519 key that signs manifests (kept sealed in
//! the access manager's vault: [`porteiro_manager::Manager::recording_key`]) and a registry of
//! open per-session writers. All writing happens on one dedicated thread that receives
//! commands over a channel: the gateways never block on the disk. The thread appends every
//! command it has received, then fsyncs each recording it touched once (group commit), so a
//! burst of calls from many sessions costs one fsync per session, not one per event.
//!
//! - [`Recorder::open`]: starts a session's recording (`sessionStart`). Idempotent while the
//!   session is open. After a restart the session's first recording was closed as
//!   interrupted by recovery; the next one is named `ID.1` (then `ID.2`, …) and begins with a
//!   note naming the one it continues.
//! - [`Recorder::append`]: one event (masked by the writer before it is written).
//! - [`Recorder::end`]: `sessionEnd`, then the manifest signed with the key.
//! - [`Recorder::flush`]: waits until everything sent before is written and fsynced.
//!
//! The recorder is a [`SessionObserver`] of the manager: a session's recording opens when it
//! starts and ends when the manager ends or drops it. At start-up, [`Recorder::start`] closes
//! recordings a crash left open (`porteiro_recording::recover::recover_all`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use porteiro_manager::gateway::SessionObserver;
use porteiro_manager::manager::SessionView;
use porteiro_manager::model::SessionKind;
use porteiro_recording::recover::{Recovered, recover_all};
use porteiro_recording::{
    Durability, EventKind, LocalDir, Manifest, Note, PublicKey, RecordingError, RecordingKey, RecordingStore,
    SessionEnd, SessionId, SessionStart, SessionWriter,
};
use tokio::sync::oneshot;

/// A source of the current time in milliseconds since the Unix epoch.
pub type Millis = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock in milliseconds since the Unix epoch.
pub fn system_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The most continuations (`ID.1` … `ID.99`) of one session's recording.
const MAX_CONTINUATIONS: u32 = 99;

/// A recorder failure.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The recordings library failed (I/O, a bad session id, ...).
    #[error("recording of session {session}: {source}")]
    Recording {
        /// The session.
        session: String,
        /// The cause.
        source: Box<RecordingError>,
    },
    /// The recordings store could not be read at start-up.
    #[error("cannot recover the recordings left open: {0}")]
    Recovery(Box<RecordingError>),
    /// The recorder's thread could not start.
    #[error("cannot start the recorder's thread: {0}")]
    Thread(std::io::Error),
    /// The recorder's thread ended (it only does when the process stops).
    #[error("the recorder has stopped: restart Porteiro")]
    Stopped,
    /// Every continuation name of the session is taken.
    #[error(
        "session {0} already has {MAX_CONTINUATIONS} continued recordings: remove old ones from the recordings directory"
    )]
    TooManyContinuations(String),
}

/// What a session's recording starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id (`ps-…`); the recording's name.
    pub session_id: String,
    /// `console` or `jit`.
    pub session_kind: String,
    /// The platform user.
    pub user: String,
    /// The cloud account.
    pub account: String,
    /// The cloud principal (role ARN, IAM user).
    pub principal: Option<String>,
    /// The person's address.
    pub origin_ip: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

impl SessionInfo {
    /// The start of a manager session.
    pub fn from_view(s: &SessionView, origin: Option<&str>) -> SessionInfo {
        SessionInfo {
            session_id: s.id.clone(),
            session_kind: match s.kind {
                SessionKind::Console => "console",
                SessionKind::Jit => "jit",
            }
            .into(),
            user: s.username.clone(),
            account: s.account_id.clone(),
            principal: s.role_arn.clone().or_else(|| Some(s.cloud_user_id.clone())),
            origin_ip: origin.map(str::to_owned),
            description: None,
        }
    }
}

/// Counters of the recorder's work.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events written (start and end included).
    pub events: AtomicU64,
    /// Events that could not be written (no open recording, or an I/O failure).
    pub failed: AtomicU64,
    /// Recordings closed with a signed manifest.
    pub closed: AtomicU64,
}

type OpenReply = oneshot::Sender<Result<String, RecorderError>>;
type EndReply = oneshot::Sender<Result<Option<Manifest>, RecorderError>>;

enum Cmd {
    Open(SessionInfo, u64, Option<OpenReply>),
    Append(String, u64, EventKind),
    End(String, u64, SessionEnd, Option<EndReply>),
    Flush(oneshot::Sender<()>),
}

/// The recording service (cheap to clone: a handle to its thread).
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Cmd>,
    store: Arc<dyn RecordingStore>,
    public_key: PublicKey,
    now: Millis,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("public_key", &self.public_key.to_hex())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Recordings in a local directory (`DATA_DIR/recordings`).
    pub fn local(
        dir: impl Into<std::path::PathBuf>,
        key: &[u8; 32],
        now: Millis,
    ) -> Result<(Recorder, Vec<Result<Recovered, RecordingError>>), RecorderError> {
        Recorder::start(Arc::new(LocalDir::new(dir)), key, now)
    }

    /// Closes the recordings a crash left open (as interrupted, signed with `key`), then
    /// starts the writing thread. Returns what recovery did.
    pub fn start(
        store: Arc<dyn RecordingStore>,
        key: &[u8; 32],
        now: Millis,
    ) -> Result<(Recorder, Vec<Result<Recovered, RecordingError>>), RecorderError> {
        let key = RecordingKey::from_bytes(key);
        let recovered =
            recover_all(store.as_ref(), &key).map_err(|e| RecorderError::Recovery(Box::new(e)))?;
        let public_key = key.public_key();
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let mut worker = Worker {
            store: store.clone(),
            key,
            open: HashMap::new(),
            stats: stats.clone(),
        };
        std::thread::Builder::new()
            .name("porteiro-recorder".into())
            .spawn(move || worker.run(rx))
            .map_err(RecorderError::Thread)?;
        Ok((
            Recorder {
                tx,
                store,
                public_key,
                now,
                stats,
            },
            recovered,
        ))
    }

    /// The store the recordings are in.
    pub fn store(&self) -> &Arc<dyn RecordingStore> {
        &self.store
    }

    /// The public half of the signing key (64 hex digits with `to_hex`).
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The recorder's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Now, in milliseconds.
    pub fn now(&self) -> u64 {
        (self.now)()
    }

    /// Starts a session's recording (idempotent while it is open) and waits until its
    /// `sessionStart` is durable. Returns the recording's id.
    pub async fn open(&self, info: SessionInfo) -> Result<String, RecorderError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Open(info, self.now(), Some(reply)))?;
        rx.await.map_err(|_| RecorderError::Stopped)?
    }

    /// Starts a session's recording without waiting.
    pub fn open_nowait(&self, info: SessionInfo) {
        let _ = self.send(Cmd::Open(info, self.now(), None));
    }

    /// Appends one event to a session's open recording, without waiting (it is written and
    /// fsynced with the next group). An event for a session without an open recording is
    /// counted in [`Stats::failed`] and reported on stderr.
    pub fn append(&self, session_id: &str, kind: EventKind) {
        self.append_at(session_id, self.now(), kind);
    }

    /// [`Recorder::append`] with the event's time given.
    pub fn append_at(&self, session_id: &str, time: u64, kind: EventKind) {
        if self.send(Cmd::Append(session_id.to_owned(), time, kind)).is_err() {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Ends a session's recording (`sessionEnd` and the signed manifest) and waits for it.
    /// `None` when the session had no open recording.
    pub async fn end(&self, session_id: &str, end: SessionEnd) -> Result<Option<Manifest>, RecorderError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::End(session_id.to_owned(), self.now(), end, Some(reply)))?;
        rx.await.map_err(|_| RecorderError::Stopped)?
    }

    /// Ends a session's recording without waiting.
    pub fn end_nowait(&self, session_id: &str, end: SessionEnd) {
        let _ = self.send(Cmd::End(session_id.to_owned(), self.now(), end, None));
    }

    /// Waits until every command sent before is written and fsynced.
    pub async fn flush(&self) -> Result<(), RecorderError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Flush(reply))?;
        rx.await.map_err(|_| RecorderError::Stopped)
    }

    fn send(&self, cmd: Cmd) -> Result<(), RecorderError> {
        self.tx.send(cmd).map_err(|_| RecorderError::Stopped)
    }
}

impl SessionObserver for Recorder {
    fn started(&self, session: &SessionView, origin: Option<&str>) {
        self.open_nowait(SessionInfo::from_view(session, origin));
    }

    fn ended(&self, session: &SessionView, reason: &str) {
        self.end_nowait(
            &session.id,
            SessionEnd {
                reason: reason.to_owned(),
            },
        );
    }
}

struct Writing {
    writer: SessionWriter,
    dirty: bool,
}

struct Worker {
    store: Arc<dyn RecordingStore>,
    key: RecordingKey,
    open: HashMap<String, Writing>,
    stats: Arc<Stats>,
}

/// How many commands one group handles before it fsyncs.
const GROUP: usize = 4096;

/// After a group of more than one command (the gateways are busy), the thread waits this long
/// before it takes the next group, so that a busy gateway wakes it (and fsyncs) at most about
/// once per interval instead of once per call. A lone command is still written at once.
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);

impl Worker {
    fn run(&mut self, rx: mpsc::Receiver<Cmd>) {
        while let Ok(first) = rx.recv() {
            let mut flushes = Vec::new();
            let mut next = Some(first);
            let mut handled = 0;
            while let Some(cmd) = next.take() {
                match cmd {
                    Cmd::Flush(reply) => flushes.push(reply),
                    cmd => self.handle(cmd),
                }
                handled += 1;
                if handled < GROUP {
                    next = rx.try_recv().ok();
                }
            }
            self.sync_dirty();
            for reply in flushes {
                let _ = reply.send(());
            }
            if handled > 1 {
                // Commands sent meanwhile queue without waking this thread.
                std::thread::sleep(LINGER);
            }
        }
        // Every handle is gone (the process is stopping): flush what is buffered; the
        // recordings stay open and recovery closes them as interrupted on the next start.
        self.sync_dirty();
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Open(info, time, reply) => {
                let result = self.open(info, time);
                if let Err(e) = &result
                    && reply.is_none()
                {
                    eprintln!("porteiro: recorder: {e}");
                }
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Cmd::Append(session, time, kind) => match self.open.get_mut(&session) {
                Some(w) => match w.writer.append(time, kind) {
                    Ok(_) => {
                        w.dirty = true;
                        self.stats.events.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        self.stats.failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("porteiro: recorder: session {session}: {e}");
                    }
                },
                None => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "porteiro: recorder: session {session} has no open recording: an event was not recorded"
                    );
                }
            },
            Cmd::End(session, time, end, reply) => {
                let result = match self.open.remove(&session) {
                    None => Ok(None),
                    Some(w) => match w.writer.end(time, end, &self.key) {
                        Ok(m) => {
                            self.stats.events.fetch_add(1, Ordering::Relaxed);
                            self.stats.closed.fetch_add(1, Ordering::Relaxed);
                            Ok(Some(m))
                        }
                        Err(source) => Err(RecorderError::Recording {
                            session: session.clone(),
                            source: Box::new(source),
                        }),
                    },
                };
                if let Err(e) = &result
                    && reply.is_none()
                {
                    eprintln!("porteiro: recorder: {e}");
                }
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Cmd::Flush(reply) => {
                let _ = reply.send(());
            }
        }
    }

    fn open(&mut self, info: SessionInfo, time: u64) -> Result<String, RecorderError> {
        let err = |source| RecorderError::Recording {
            session: info.session_id.clone(),
            source: Box::new(source),
        };
        if let Some(w) = self.open.get(&info.session_id) {
            return Ok(w.writer.id().to_string());
        }
        let base = SessionId::new(&info.session_id).map_err(err)?;
        let start = SessionStart {
            session_kind: info.session_kind.clone(),
            user: info.user.clone(),
            account: info.account.clone(),
            principal: info.principal.clone(),
            origin_ip: info.origin_ip.clone(),
            description: info.description.clone(),
        };
        let mut n = 0;
        let writer = loop {
            let id = if n == 0 {
                base.clone()
            } else {
                SessionId::new(&format!("{base}.{n}")).map_err(err)?
            };
            match SessionWriter::start(
                self.store.clone(),
                id,
                time,
                start.clone(),
                Durability::Batch(u32::MAX),
            ) {
                Ok(mut w) => {
                    if n > 0 {
                        let previous = if n == 1 {
                            base.to_string()
                        } else {
                            format!("{base}.{}", n - 1)
                        };
                        w.append(
                            time,
                            EventKind::Note(Note {
                                text: format!(
                                    "continues recording {previous} of session {base} after a restart of Porteiro"
                                ),
                            }),
                        )
                        .map_err(err)?;
                        w.sync().map_err(err)?;
                    }
                    break w;
                }
                Err(RecordingError::AlreadyExists(_)) if n < MAX_CONTINUATIONS => n += 1,
                Err(RecordingError::AlreadyExists(_)) => {
                    return Err(RecorderError::TooManyContinuations(base.to_string()));
                }
                Err(e) => return Err(err(e)),
            }
        };
        self.stats.events.fetch_add(writer.events(), Ordering::Relaxed);
        let id = writer.id().to_string();
        self.open
            .insert(info.session_id, Writing { writer, dirty: false });
        Ok(id)
    }

    fn sync_dirty(&mut self) {
        for (session, w) in self.open.iter_mut().filter(|(_, w)| w.dirty) {
            w.dirty = false;
            if let Err(e) = w.writer.sync() {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("porteiro: recorder: session {session}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use porteiro_recording::{ApiCall, Status, Verdict, verify_stored};

    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "porteiro-recorder-{name}-{}-{}",
            std::process::id(),
            system_millis()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn info(id: &str) -> SessionInfo {
        SessionInfo {
            session_id: id.into(),
            session_kind: "jit".into(),
            user: "ana".into(),
            account: "a-1".into(),
            principal: Some("arn:aws:iam::123456789012:role/Admin".into()),
            origin_ip: Some("127.0.0.1".into()),
            description: None,
        }
    }

    fn call(action: &str) -> EventKind {
        EventKind::ApiCall(ApiCall {
            service: "s3".into(),
            action: action.into(),
            status: 200,
            ..ApiCall::default()
        })
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    #[test]
    fn a_session_is_recorded_and_closed_with_a_manifest_that_verifies() {
        let dir = temp_dir("closed");
        let key = [7u8; 32];
        let (rec, recovered) = Recorder::local(&dir, &key, Arc::new(system_millis)).expect("starts");
        assert!(recovered.is_empty());
        rt().block_on(async {
            assert_eq!(rec.open(info("ps-1")).await.expect("opens"), "ps-1");
            assert_eq!(rec.open(info("ps-1")).await.expect("idempotent"), "ps-1");
            for a in ["ListBuckets", "PutObject", "GetObject"] {
                rec.append("ps-1", call(a));
            }
            let m = rec
                .end(
                    "ps-1",
                    SessionEnd {
                        reason: "expired".into(),
                    },
                )
                .await
                .expect("ends")
                .expect("was open");
            assert_eq!(m.event_count, 5);
            assert_eq!(m.status, Status::Completed);
            assert!(
                rec.end("ps-1", SessionEnd::default())
                    .await
                    .expect("no-op")
                    .is_none()
            );
        });
        let id = SessionId::new("ps-1").expect("id");
        let report = verify_stored(rec.store().as_ref(), &id, Some(rec.public_key())).expect("verifies");
        assert!(matches!(report.verdict, Verdict::Verified { .. }), "{report:?}");
        assert_eq!(rec.stats().failed.load(Ordering::Relaxed), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn events_for_a_session_without_a_recording_are_counted_as_failed() {
        let dir = temp_dir("unknown");
        let (rec, _) = Recorder::local(&dir, &[1u8; 32], Arc::new(system_millis)).expect("starts");
        rec.append("ps-nobody", call("ListBuckets"));
        rt().block_on(rec.flush()).expect("flushes");
        assert_eq!(rec.stats().failed.load(Ordering::Relaxed), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_recording_left_open_is_recovered_as_interrupted_and_continued_under_a_new_name() {
        let dir = temp_dir("restart");
        let key = [9u8; 32];
        {
            let (rec, _) = Recorder::local(&dir, &key, Arc::new(system_millis)).expect("starts");
            rt().block_on(async {
                rec.open(info("ps-2")).await.expect("opens");
                rec.append("ps-2", call("ListBuckets"));
                rec.flush().await.expect("flushes");
            });
            // The recorder is dropped without ending the session: a crash, for the recording.
        }
        // The writer thread releases the lock once it sees the channel closed.
        let mut attempt = 0;
        let (rec, recovered) = loop {
            let (rec, recovered) = Recorder::local(&dir, &key, Arc::new(system_millis)).expect("restarts");
            attempt += 1;
            if !recovered.is_empty() || attempt == 50 {
                break (rec, recovered);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(recovered.len(), 1);
        let r = recovered[0].as_ref().expect("recovered");
        assert_eq!((r.session_id.as_str(), r.events), ("ps-2", 2));
        let id = SessionId::new("ps-2").expect("id");
        let report = verify_stored(rec.store().as_ref(), &id, Some(rec.public_key())).expect("verifies");
        assert!(matches!(report.verdict, Verdict::Verified { .. }), "{report:?}");
        rt().block_on(async {
            assert_eq!(rec.open(info("ps-2")).await.expect("continues"), "ps-2.1");
            rec.append("ps-2", call("GetObject"));
            let m = rec
                .end("ps-2", SessionEnd::default())
                .await
                .expect("ends")
                .expect("open");
            assert_eq!(m.session_id, "ps-2.1");
            assert_eq!(m.event_count, 4, "start, note, call, end");
        });
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn many_sessions_write_in_parallel_without_losing_events() {
        let dir = temp_dir("many");
        let (rec, _) = Recorder::local(&dir, &[3u8; 32], Arc::new(system_millis)).expect("starts");
        rt().block_on(async {
            for s in 0..20 {
                rec.open(info(&format!("ps-m{s}"))).await.expect("opens");
            }
            for i in 0..50 {
                for s in 0..20 {
                    rec.append(&format!("ps-m{s}"), call(&format!("A{i}")));
                }
            }
            for s in 0..20 {
                let m = rec
                    .end(&format!("ps-m{s}"), SessionEnd::default())
                    .await
                    .expect("ends")
                    .expect("open");
                assert_eq!(m.event_count, 52);
            }
        });
        assert_eq!(rec.stats().events.load(Ordering::Relaxed), 20 * 52);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
