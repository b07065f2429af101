//! The session writer: appends events durably and closes the recording with a signed manifest.
//!
//! One writer per session (the store's sink holds the recording exclusively); many sessions
//! write in parallel, each to its own log. Every event is masked ([`EventKind::sanitize`]),
//! chained to the one before and appended as one line. With [`Durability::EachEvent`] each
//! line is written and fsynced before `append` returns; with [`Durability::Batch`] lines are
//! written and fsynced together every `n` events (and on [`SessionWriter::sync`], on end and on
//! drop). A crash can only leave a torn last line, which recovery cuts.

use std::sync::Arc;

use crate::chain::{encode_into, genesis, line_hash};
use crate::error::RecordingError;
use crate::event::{EventKind, SessionEnd, SessionId, SessionStart};
use crate::manifest::{Manifest, RecordingKey, Status, Unsigned};
use crate::store::{EventSink, RecordingStore};

/// When appended events become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Write and fsync each event before `append` returns.
    #[default]
    EachEvent,
    /// Buffer up to this many events, then write and fsync them together. A crash loses at
    /// most the buffered events.
    Batch(u32),
}

/// Records one session.
pub struct SessionWriter {
    store: Arc<dyn RecordingStore>,
    id: SessionId,
    sink: Option<Box<dyn EventSink>>,
    durability: Durability,
    next_seq: u64,
    head: String,
    started_at: u64,
    last_time: u64,
    buffer: Vec<u8>,
    buffered: u32,
    failed: bool,
}

impl std::fmt::Debug for SessionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWriter")
            .field("id", &self.id)
            .field("next_seq", &self.next_seq)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl SessionWriter {
    /// Creates the recording and writes its first event, `SessionStart`, durably.
    pub fn start(
        store: Arc<dyn RecordingStore>,
        id: SessionId,
        time: u64,
        start: SessionStart,
        durability: Durability,
    ) -> Result<SessionWriter, RecordingError> {
        let sink = store.create(&id)?;
        let mut writer = SessionWriter {
            head: genesis(id.as_str()),
            store,
            id,
            sink: Some(sink),
            durability,
            next_seq: 0,
            started_at: time,
            last_time: time,
            buffer: Vec::with_capacity(4096),
            buffered: 0,
            failed: false,
        };
        writer.append(time, EventKind::SessionStart(start))?;
        writer.sync()?;
        Ok(writer)
    }

    /// The session id.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// How many events were appended.
    pub fn events(&self) -> u64 {
        self.next_seq
    }

    /// Masks, chains and appends one event; returns its `seq`. Durable on return with
    /// [`Durability::EachEvent`].
    pub fn append(&mut self, time: u64, mut kind: EventKind) -> Result<u64, RecordingError> {
        if self.failed {
            return Err(RecordingError::Poisoned(self.id.to_string()));
        }
        kind.sanitize();
        let seq = self.next_seq;
        let start = self.buffer.len();
        if let Err(e) = encode_into(&mut self.buffer, seq, time, &self.head, &kind) {
            // Nothing of a half-encoded event may reach the log.
            self.buffer.truncate(start);
            return Err(e);
        }
        self.head = line_hash(&self.buffer[start..]);
        self.next_seq += 1;
        self.last_time = time;
        self.buffered += 1;
        let limit = match self.durability {
            Durability::EachEvent => 1,
            Durability::Batch(n) => n.max(1),
        };
        if self.buffered >= limit {
            self.sync()?;
        }
        Ok(seq)
    }

    /// Writes and fsyncs everything buffered.
    pub fn sync(&mut self) -> Result<(), RecordingError> {
        if self.failed {
            return Err(RecordingError::Poisoned(self.id.to_string()));
        }
        if self.buffer.is_empty() {
            return Ok(());
        }
        let Some(sink) = self.sink.as_mut() else {
            return Err(RecordingError::Poisoned(self.id.to_string()));
        };
        let result = sink.append(&self.buffer).and_then(|()| sink.sync());
        if result.is_err() {
            // The log may now end with a torn line: stop, and let recovery close it.
            self.failed = true;
        }
        result?;
        self.buffer.clear();
        self.buffered = 0;
        Ok(())
    }

    /// Appends `SessionEnd`, makes the log durable, and closes the recording with a manifest
    /// signed by `key` (status completed). Returns the manifest.
    pub fn end(mut self, time: u64, end: SessionEnd, key: &RecordingKey) -> Result<Manifest, RecordingError> {
        self.append(time, EventKind::SessionEnd(end))?;
        self.sync()?;
        let manifest = Manifest::sign(
            Unsigned {
                session_id: self.id.to_string(),
                started_at: self.started_at,
                ended_at: self.last_time,
                event_count: self.next_seq,
                chain_head: self.head.clone(),
                status: Status::Completed,
            },
            key,
        )?;
        let public_key = format!("{}\n", key.public_key().to_hex());
        // Release the lock before the manifest appears, so readers never see a closed
        // recording still held.
        self.sink = None;
        self.store
            .close(&self.id, &manifest.to_json()?, public_key.as_bytes())?;
        Ok(manifest)
    }
}

impl Drop for SessionWriter {
    /// A writer dropped without `end` flushes what it buffered (best effort) and leaves the
    /// recording open; recovery closes it as interrupted.
    fn drop(&mut self) {
        if self.sink.is_some() && !self.failed {
            let _ = self.sync();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufRead;
    use std::sync::Mutex;

    use super::*;
    use crate::event::Note;
    use crate::store::Claim;

    /// A store whose sink fails after `ok_writes` appends, keeping what it was given.
    struct Flaky {
        ok_writes: u32,
        written: Arc<Mutex<Vec<u8>>>,
    }

    struct FlakySink {
        left: u32,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl EventSink for FlakySink {
        fn append(&mut self, bytes: &[u8]) -> Result<(), RecordingError> {
            if self.left == 0 {
                // A torn write: half the bytes, then an error.
                if let Ok(mut w) = self.written.lock() {
                    w.extend_from_slice(&bytes[..bytes.len() / 2]);
                }
                return Err(RecordingError::Stream {
                    action: "cannot append",
                    source: std::io::Error::other("disk full"),
                });
            }
            self.left -= 1;
            if let Ok(mut w) = self.written.lock() {
                w.extend_from_slice(bytes);
            }
            Ok(())
        }

        fn sync(&mut self) -> Result<(), RecordingError> {
            Ok(())
        }
    }

    impl RecordingStore for Flaky {
        fn list(&self) -> Result<Vec<SessionId>, RecordingError> {
            Ok(Vec::new())
        }
        fn create(&self, _: &SessionId) -> Result<Box<dyn EventSink>, RecordingError> {
            Ok(Box::new(FlakySink {
                left: self.ok_writes,
                written: self.written.clone(),
            }))
        }
        fn events(&self, id: &SessionId) -> Result<Box<dyn BufRead + Send>, RecordingError> {
            Err(RecordingError::NotFound(id.to_string()))
        }
        fn manifest(&self, _: &SessionId) -> Result<Option<Vec<u8>>, RecordingError> {
            Ok(None)
        }
        fn public_key(&self, _: &SessionId) -> Result<Option<Vec<u8>>, RecordingError> {
            Ok(None)
        }
        fn close(&self, _: &SessionId, _: &[u8], _: &[u8]) -> Result<(), RecordingError> {
            Ok(())
        }
        fn claim(&self, _: &SessionId) -> Result<Option<Box<dyn Claim>>, RecordingError> {
            Ok(None)
        }
        fn import(&self, _: &SessionId, _: &[u8], _: &[u8], _: &[u8]) -> Result<(), RecordingError> {
            Ok(())
        }
    }

    fn note(text: &str) -> EventKind {
        EventKind::Note(Note { text: text.into() })
    }

    #[test]
    fn a_failed_write_stops_the_writer_and_leaves_only_a_torn_tail() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::new(Flaky {
            ok_writes: 3,
            written: written.clone(),
        });
        let id = SessionId::new("flaky").expect("id");
        let mut w = SessionWriter::start(store, id, 0, SessionStart::default(), Durability::EachEvent)
            .expect("starts");
        w.append(1, note("a")).expect("second write");
        w.append(2, note("b")).expect("third write");
        assert!(w.append(3, note("c")).is_err());
        assert!(matches!(w.append(4, note("d")), Err(RecordingError::Poisoned(_))));
        let key = RecordingKey::from_bytes(&[1; 32]);
        assert!(matches!(
            w.end(5, SessionEnd::default(), &key),
            Err(RecordingError::Poisoned(_))
        ));
        let bytes = written.lock().map(|w| w.clone()).unwrap_or_default();
        let scan = crate::verify::scan("flaky", std::io::Cursor::new(&bytes), None).expect("scans");
        assert_eq!(scan.good_events, 3);
        assert!(scan.tail_is_crash_debris());
    }

    #[test]
    fn batches_are_written_together_and_flushed_on_drop() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::new(Flaky {
            ok_writes: u32::MAX,
            written: written.clone(),
        });
        let lines = || {
            written
                .lock()
                .map(|w| w.iter().filter(|&&b| b == b'\n').count())
                .unwrap_or(0)
        };
        let mut w = SessionWriter::start(
            store,
            SessionId::new("batch").expect("id"),
            0,
            SessionStart::default(),
            Durability::Batch(4),
        )
        .expect("starts");
        assert_eq!(lines(), 1, "the start is written at once");
        for i in 1..=3 {
            w.append(i, note("x")).expect("appends");
        }
        assert_eq!(lines(), 1, "three events wait for the fourth");
        w.append(4, note("x")).expect("appends");
        assert_eq!(lines(), 5);
        w.append(5, note("x")).expect("appends");
        drop(w);
        assert_eq!(lines(), 6, "dropping the writer flushes");
    }
}
