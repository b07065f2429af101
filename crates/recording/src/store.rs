//! Storage of recordings, behind [`RecordingStore`]. [`LocalDir`] keeps them in a directory:
//!
//! ```text
//! DIR/<session-id>/events.jsonl     the event log (append-only)
//! DIR/<session-id>/public-key.hex   the signing key's public half (written at close)
//! DIR/<session-id>/manifest.json    the signed manifest (written last, atomically)
//! ```
//!
//! The S3-compatible store (`crate::s3`, feature `s3`) implements the same trait: it spools
//! the log in a [`LocalDir`] and uploads it at close.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::error::RecordingError;
use crate::event::SessionId;

/// The event log's file name.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The manifest's file name.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The public key's file name.
pub const PUBLIC_KEY_FILE: &str = "public-key.hex";

/// Where recordings live.
pub trait RecordingStore: Send + Sync {
    /// The session ids of every recording, sorted.
    fn list(&self) -> Result<Vec<SessionId>, RecordingError>;
    /// Creates a new recording and returns its append-only sink. Fails when it exists. The sink
    /// holds the recording exclusively until it is dropped.
    fn create(&self, id: &SessionId) -> Result<Box<dyn EventSink>, RecordingError>;
    /// Reads the event log.
    fn events(&self, id: &SessionId) -> Result<Box<dyn BufRead + Send>, RecordingError>;
    /// Reads the manifest, if the recording was closed.
    fn manifest(&self, id: &SessionId) -> Result<Option<Vec<u8>>, RecordingError>;
    /// Reads the stored public key, if any.
    fn public_key(&self, id: &SessionId) -> Result<Option<Vec<u8>>, RecordingError>;
    /// Writes the public key, then the manifest, each atomically: a recording has a manifest
    /// only once it is complete.
    fn close(&self, id: &SessionId, manifest: &[u8], public_key: &[u8]) -> Result<(), RecordingError>;
    /// Takes a recording that no writer holds, for recovery; `None` when a writer holds it.
    fn claim(&self, id: &SessionId) -> Result<Option<Box<dyn Claim>>, RecordingError>;
    /// Stores a whole recording (from an archive). Fails when it exists.
    fn import(
        &self,
        id: &SessionId,
        events: &[u8],
        manifest: &[u8],
        public_key: &[u8],
    ) -> Result<(), RecordingError>;
}

/// The append side of one recording.
pub trait EventSink: Send {
    /// Appends bytes (whole lines) at the end of the log.
    fn append(&mut self, bytes: &[u8]) -> Result<(), RecordingError>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> Result<(), RecordingError>;
}

/// Exclusive hold of a recording during recovery.
pub trait Claim: Send {
    /// Cuts the event log to `len` bytes, durably.
    fn truncate(&mut self, len: u64) -> Result<(), RecordingError>;
}

/// Recordings in a local directory, one subdirectory per session.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of one recording.
    pub fn dir(&self, id: &SessionId) -> PathBuf {
        self.root.join(id.as_str())
    }

    fn read_optional(&self, path: PathBuf) -> Result<Option<Vec<u8>>, RecordingError> {
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RecordingError::io("cannot read", path, e)),
        }
    }

    fn make_dir(&self, id: &SessionId) -> Result<PathBuf, RecordingError> {
        fs::create_dir_all(&self.root).map_err(|e| RecordingError::io("cannot create", &self.root, e))?;
        let dir = self.dir(id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(RecordingError::AlreadyExists(id.to_string()));
            }
            Err(e) => return Err(RecordingError::io("cannot create", dir, e)),
        }
        sync_dir(&self.root)?;
        Ok(dir)
    }
}

/// Writes `bytes` to `dir/name` atomically: a temporary file, fsync, rename, fsync of `dir`.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), RecordingError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let mut file = File::create(&tmp).map_err(|e| RecordingError::io("cannot create", &tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| RecordingError::io("cannot write", &tmp, e))?;
    file.sync_all()
        .map_err(|e| RecordingError::io("cannot fsync", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| RecordingError::io("cannot rename into", &path, e))?;
    sync_dir(dir)
}

/// Makes a directory's entries durable (a no-op where directories cannot be opened).
fn sync_dir(dir: &Path) -> Result<(), RecordingError> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| RecordingError::io("cannot open", dir, e))?;
        d.sync_all()
            .map_err(|e| RecordingError::io("cannot fsync", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

impl RecordingStore for LocalDir {
    fn list(&self) -> Result<Vec<SessionId>, RecordingError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RecordingError::io("cannot list", &self.root, e)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| RecordingError::io("cannot list", &self.root, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if let Ok(id) = SessionId::new(&name)
                && entry.path().join(EVENTS_FILE).is_file()
            {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn create(&self, id: &SessionId) -> Result<Box<dyn EventSink>, RecordingError> {
        let dir = self.make_dir(id)?;
        let path = dir.join(EVENTS_FILE);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| RecordingError::io("cannot create", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(RecordingError::Busy(id.to_string())),
            Err(TryLockError::Error(e)) => return Err(RecordingError::io("cannot lock", path, e)),
        }
        sync_dir(&dir)?;
        Ok(Box::new(FileSink { file, path }))
    }

    fn events(&self, id: &SessionId) -> Result<Box<dyn BufRead + Send>, RecordingError> {
        let path = self.dir(id).join(EVENTS_FILE);
        match File::open(&path) {
            Ok(f) => Ok(Box::new(BufReader::with_capacity(1 << 16, f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(RecordingError::NotFound(id.to_string())),
            Err(e) => Err(RecordingError::io("cannot read", path, e)),
        }
    }

    fn manifest(&self, id: &SessionId) -> Result<Option<Vec<u8>>, RecordingError> {
        self.read_optional(self.dir(id).join(MANIFEST_FILE))
    }

    fn public_key(&self, id: &SessionId) -> Result<Option<Vec<u8>>, RecordingError> {
        self.read_optional(self.dir(id).join(PUBLIC_KEY_FILE))
    }

    fn close(&self, id: &SessionId, manifest: &[u8], public_key: &[u8]) -> Result<(), RecordingError> {
        let dir = self.dir(id);
        write_atomic(&dir, PUBLIC_KEY_FILE, public_key)?;
        write_atomic(&dir, MANIFEST_FILE, manifest)
    }

    fn claim(&self, id: &SessionId) -> Result<Option<Box<dyn Claim>>, RecordingError> {
        let path = self.dir(id).join(EVENTS_FILE);
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| RecordingError::io("cannot open", &path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(FileClaim { file, path }))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(RecordingError::io("cannot lock", path, e)),
        }
    }

    fn import(
        &self,
        id: &SessionId,
        events: &[u8],
        manifest: &[u8],
        public_key: &[u8],
    ) -> Result<(), RecordingError> {
        let dir = self.make_dir(id)?;
        write_atomic(&dir, EVENTS_FILE, events)?;
        self.close(id, manifest, public_key)
    }
}

/// The append-only event log file, locked while the writer lives.
struct FileSink {
    file: File,
    path: PathBuf,
}

impl EventSink for FileSink {
    fn append(&mut self, bytes: &[u8]) -> Result<(), RecordingError> {
        self.file
            .write_all(bytes)
            .map_err(|e| RecordingError::io("cannot append to", &self.path, e))
    }

    fn sync(&mut self) -> Result<(), RecordingError> {
        self.file
            .sync_data()
            .map_err(|e| RecordingError::io("cannot fsync", &self.path, e))
    }
}

struct FileClaim {
    file: File,
    path: PathBuf,
}

impl Claim for FileClaim {
    fn truncate(&mut self, len: u64) -> Result<(), RecordingError> {
        self.file
            .set_len(len)
            .map_err(|e| RecordingError::io("cannot truncate", &self.path, e))?;
        self.file
            .sync_all()
            .map_err(|e| RecordingError::io("cannot fsync", &self.path, e))
    }
}

/// Verifies a stored recording (see [`crate::verify::verify`]); `trusted_key`, when given,
/// must have signed its manifest. A recording that a writer holds right now is reported open
/// even when its last line is torn (the writer may be in the middle of writing it).
pub fn verify_stored(
    store: &dyn RecordingStore,
    id: &SessionId,
    trusted_key: Option<&crate::manifest::PublicKey>,
) -> Result<crate::verify::Report, RecordingError> {
    let manifest = store.manifest(id)?;
    let public_key = store.public_key(id)?;
    let mut report = crate::verify::verify(
        id.as_str(),
        store.events(id)?,
        manifest.as_deref(),
        crate::verify::Expect {
            public_key_file: public_key.as_deref(),
            trusted_key,
        },
    )
    .map_err(|source| RecordingError::Stream {
        action: "cannot read the event log",
        source,
    })?;
    if let crate::verify::Verdict::Broken { problem } = &report.verdict
        && problem.reason == crate::verify::Reason::TornLine
        && manifest.is_none()
        && matches!(store.claim(id), Ok(None))
    {
        report.verdict = crate::verify::Verdict::Open;
    }
    Ok(report)
}
