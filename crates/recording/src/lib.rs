//! Tamper-evident session recordings.
//!
//! A recording is an append-only log of events, one JSON line each, where every line carries the
//! SHA-256 of the line before (`prev`); the first line's `prev` is a hash of the session id. When
//! the session ends, a manifest (event count, chain head, status) is signed with ed25519. The
//! format is specified in `docs/recordings.md`.
//!
//! The format and its logic are pure: [`event`] (the schema), [`mask`] (secrets are masked
//! before anything is written), [`chain`] (hashing and line encoding), [`manifest`] (signing),
//! [`verify`] (recomputing the chain over any reader) and [`play`] (text and web replay). The
//! storage sits at the edge, behind the [`store::RecordingStore`] trait: [`store::LocalDir`] is
//! the local-directory store and, with the `s3` feature, [`s3::S3Store`] keeps them in any
//! S3-compatible bucket (spooled locally while written); [`open_store`] opens either from a
//! specification (a path or `s3://BUCKET/PREFIX?...`). [`writer::SessionWriter`] appends durably, [`recover`] closes
//! recordings left open by a crash, and [`archive`] exports and imports self-contained
//! archives.
//!
//! Nothing here reads a clock: every time is given by the caller, in milliseconds since the
//! Unix epoch.

pub mod archive;
pub mod chain;
pub mod error;
pub mod event;
pub mod manifest;
pub mod mask;
pub mod open;
pub mod play;
pub mod recover;
#[cfg(feature = "s3")]
pub mod s3;
pub mod store;
pub mod verify;
pub mod writer;

pub use error::RecordingError;
pub use event::{
    ApiCall, ConsoleExchange, Event, EventKind, Html, Note, SessionEnd, SessionId, SessionStart,
};
pub use manifest::{Manifest, PublicKey, RecordingKey, Status};
pub use open::{StoreSpec, default_spool_of, open_store};
pub use store::{LocalDir, RecordingStore, verify_stored};
pub use verify::{Problem, Reason, Report, Verdict};
pub use writer::{Durability, SessionWriter};

/// The format's name and version, written in every manifest.
pub const FORMAT: &str = "porteiro-recording/1";
