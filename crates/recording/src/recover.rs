//! Recovery: closing recordings that a crash left without a manifest.
//!
//! For each recording without a manifest that no writer holds: walk the chain; if everything
//! after the events that verify is a crash's leftover (a torn last line, or unreadable bytes
//! with no event after them), cut it; then sign a manifest with status `interrupted` over the
//! events that verify. A break followed by later events is not a crash's doing: nothing is cut,
//! and `verify` reports the break.

use std::io::{self, BufRead, Read};

use serde::Serialize;

use crate::error::RecordingError;
use crate::event::SessionId;
use crate::manifest::{Manifest, RecordingKey, Status, Unsigned};
use crate::store::RecordingStore;
use crate::verify::{Problem, scan};

/// What recovery did to one recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovered {
    /// The session id.
    pub session_id: String,
    /// Events covered by the manifest.
    pub events: u64,
    /// Bytes cut from the end of the log (a torn last line).
    pub cut_bytes: u64,
    /// A break that recovery did not cut (tampering, not a crash), if any.
    pub unresolved: Option<Problem>,
}

/// Counts the bytes a reader yields.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.count += amount as u64;
        self.inner.consume(amount);
    }
}

/// Closes one recording as interrupted, if it has no manifest and no writer holds it.
/// Returns `None` when there is nothing to do.
pub fn recover(
    store: &dyn RecordingStore,
    id: &SessionId,
    key: &RecordingKey,
) -> Result<Option<Recovered>, RecordingError> {
    if store.manifest(id)?.is_some() {
        return Ok(None);
    }
    let Some(mut claim) = store.claim(id)? else {
        return Ok(None);
    };
    // A writer may have closed it between the first look and the claim.
    if store.manifest(id)?.is_some() {
        return Ok(None);
    }
    let mut reader = Counting {
        inner: store.events(id)?,
        count: 0,
    };
    let scan = scan(id.as_str(), &mut reader, None).map_err(|source| RecordingError::Stream {
        action: "cannot read the event log",
        source,
    })?;
    let total = reader.count;
    let mut cut_bytes = 0;
    let mut unresolved = None;
    if scan.tail_is_crash_debris() {
        cut_bytes = total - scan.good_bytes;
        claim.truncate(scan.good_bytes)?;
    } else if let Some(problem) = scan.problem.clone() {
        unresolved = Some(problem);
    }
    let manifest = Manifest::sign(
        Unsigned {
            session_id: id.to_string(),
            started_at: scan.first_time.unwrap_or(0),
            ended_at: scan.last_time.unwrap_or(0),
            event_count: scan.good_events,
            chain_head: scan.chain_head.clone(),
            status: Status::Interrupted,
        },
        key,
    )?;
    let public_key = format!("{}\n", key.public_key().to_hex());
    store.close(id, &manifest.to_json()?, public_key.as_bytes())?;
    drop(claim);
    Ok(Some(Recovered {
        session_id: id.to_string(),
        events: scan.good_events,
        cut_bytes,
        unresolved,
    }))
}

/// Recovers every recording of the store (on start-up). A recording that fails is reported
/// with its error and the others go on.
pub fn recover_all(
    store: &dyn RecordingStore,
    key: &RecordingKey,
) -> Result<Vec<Result<Recovered, RecordingError>>, RecordingError> {
    let mut out = Vec::new();
    for id in store.list()? {
        match recover(store, &id, key) {
            Ok(Some(r)) => out.push(Ok(r)),
            Ok(None) => {}
            Err(e) => out.push(Err(e)),
        }
    }
    Ok(out)
}
