//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Why a recording operation failed. Messages are for people: they name the recording or file
/// and what to do.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// A session id that cannot name a recording.
    #[error(
        "invalid session id {id:?}: {why} (use 1 to 128 letters, digits, '-', '_' or '.', not starting with '.')"
    )]
    InvalidSessionId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A recording with this id exists already.
    #[error("recording {0} already exists: each session is recorded once, by one writer")]
    AlreadyExists(String),
    /// No recording with this id.
    #[error("recording {0} not found")]
    NotFound(String),
    /// A writer holds the recording.
    #[error("recording {0} is being written by a running session")]
    Busy(String),
    /// The recording has no manifest yet.
    #[error("recording {0} has no manifest: it is still open, or was left by a crash and needs recovery")]
    Open(String),
    /// A file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("cannot read", "cannot fsync", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// An I/O error on a stream without a path (an archive being read or written).
    #[error("{action}: {source}")]
    Stream {
        /// What was being done.
        action: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An event could not be encoded as JSON.
    #[error("cannot encode event: {0}")]
    Encode(#[from] serde_json::Error),
    /// The writer failed earlier and refuses to go on.
    #[error(
        "the writer of recording {0} failed earlier and stopped; recovery will close the recording as interrupted"
    )]
    Poisoned(String),
    /// An archive that is not a recording export.
    #[error("invalid recording archive: {0}")]
    Archive(String),
    /// A key that cannot be used.
    #[error("invalid key: {0}")]
    Key(String),
    /// The operating system's random source failed.
    #[error("cannot generate a signing key: the operating system's random source failed: {0}")]
    Random(String),
    /// A store specification (`--store SPEC`) that cannot be used.
    #[error("invalid recordings store {spec:?}: {why}")]
    Spec {
        /// The specification as given.
        spec: String,
        /// What is wrong and how to fix it.
        why: String,
    },
    /// An S3 request failed; `hint` says what to fix.
    #[error("{action} s3://{bucket}/{key}: {message}{hint}")]
    S3 {
        /// What was being done ("cannot read", "cannot upload", ...).
        action: &'static str,
        /// The bucket.
        bucket: String,
        /// The object key (or prefix).
        key: String,
        /// The endpoint's error code and message, or why it could not be reached.
        message: String,
        /// What to fix, starting with "; " (empty when there is no advice).
        hint: String,
    },
    /// A manifest that cannot be read.
    #[error("invalid manifest of recording {id}: {why}")]
    Manifest {
        /// The recording.
        id: String,
        /// What is wrong.
        why: String,
    },
}

impl RecordingError {
    /// An I/O error on a path.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        RecordingError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
