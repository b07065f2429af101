//! Export and import of self-contained archives.
//!
//! An export is a plain POSIX tar (`ustar`) holding exactly three files under one directory
//! named after the session: `<id>/events.jsonl`, `<id>/manifest.json`, `<id>/public-key.hex`.
//! Entries have mode 0644, uid/gid 0 and the manifest's end time as mtime, so the same
//! recording always exports to the same bytes. Only closed recordings (with a manifest) are
//! exported. Reading an archive never writes its paths to disk: the three files are read into
//! memory by name, anything else is refused.

use std::io::{Cursor, Read, Write};

use crate::error::RecordingError;
use crate::event::SessionId;
use crate::manifest::{Manifest, PublicKey};
use crate::store::{EVENTS_FILE, MANIFEST_FILE, PUBLIC_KEY_FILE, RecordingStore};
use crate::verify::{Expect, Report, verify};

/// The largest archive member read (events included): 4 GiB.
const MAX_MEMBER: u64 = 4 << 30;

/// The three files of a recording, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// The session id (the archive's directory).
    pub session_id: SessionId,
    /// `events.jsonl`.
    pub events: Vec<u8>,
    /// `manifest.json`.
    pub manifest: Vec<u8>,
    /// `public-key.hex`.
    pub public_key: Vec<u8>,
}

impl Contents {
    /// Reads a closed recording from a store.
    pub fn from_store(store: &dyn RecordingStore, id: &SessionId) -> Result<Contents, RecordingError> {
        let manifest = store
            .manifest(id)?
            .ok_or_else(|| RecordingError::Open(id.to_string()))?;
        let public_key = store.public_key(id)?.ok_or_else(|| RecordingError::Manifest {
            id: id.to_string(),
            why: format!("{PUBLIC_KEY_FILE} is missing beside the manifest"),
        })?;
        let mut events = Vec::new();
        store
            .events(id)?
            .read_to_end(&mut events)
            .map_err(|source| RecordingError::Stream {
                action: "cannot read the event log",
                source,
            })?;
        Ok(Contents {
            session_id: id.clone(),
            events,
            manifest,
            public_key,
        })
    }

    /// Verifies the contents offline; `trusted_key`, when given, must have signed it.
    pub fn verify(&self, trusted_key: Option<&PublicKey>) -> Result<Report, RecordingError> {
        verify(
            self.session_id.as_str(),
            Cursor::new(&self.events),
            Some(&self.manifest),
            Expect {
                public_key_file: Some(&self.public_key),
                trusted_key,
            },
        )
        .map_err(|source| RecordingError::Stream {
            action: "cannot read the events",
            source,
        })
    }

    /// Writes the archive.
    pub fn write_archive<W: Write>(&self, out: W) -> Result<W, RecordingError> {
        let mtime = Manifest::from_json(&self.manifest)
            .map(|m| m.ended_at / 1000)
            .unwrap_or(0);
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Deterministic);
        for (name, bytes) in [
            (EVENTS_FILE, &self.events),
            (MANIFEST_FILE, &self.manifest),
            (PUBLIC_KEY_FILE, &self.public_key),
        ] {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(mtime);
            header.set_entry_type(tar::EntryType::Regular);
            let path = format!("{}/{name}", self.session_id);
            builder
                .append_data(&mut header, &path, bytes.as_slice())
                .map_err(|source| RecordingError::Stream {
                    action: "cannot write the archive",
                    source,
                })?;
        }
        builder.into_inner().map_err(|source| RecordingError::Stream {
            action: "cannot finish the archive",
            source,
        })
    }

    /// Reads an archive written by [`Contents::write_archive`].
    pub fn read_archive<R: Read>(input: R) -> Result<Contents, RecordingError> {
        let bad = |why: String| RecordingError::Archive(why);
        let io = |source| RecordingError::Stream {
            action: "cannot read the archive",
            source,
        };
        let mut archive = tar::Archive::new(input);
        let mut session: Option<String> = None;
        let (mut events, mut manifest, mut public_key) = (None, None, None);
        for entry in archive.entries().map_err(io)? {
            let mut entry = entry.map_err(io)?;
            let path = entry.path().map_err(io)?.to_string_lossy().into_owned();
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                continue;
            }
            if !kind.is_file() {
                return Err(bad(format!("{path}: only regular files are expected")));
            }
            let Some((dir, name)) = path.split_once('/') else {
                return Err(bad(format!(
                    "{path}: files are expected inside one directory named after the session"
                )));
            };
            match &session {
                Some(s) if s != dir => {
                    return Err(bad(format!(
                        "{path}: a second session directory (the first was {s})"
                    )));
                }
                Some(_) => {}
                None => session = Some(dir.to_owned()),
            }
            let slot = match name {
                EVENTS_FILE => &mut events,
                MANIFEST_FILE => &mut manifest,
                PUBLIC_KEY_FILE => &mut public_key,
                _ => return Err(bad(format!("{path}: unexpected file"))),
            };
            if slot.is_some() {
                return Err(bad(format!("{path}: appears twice")));
            }
            let size = entry.header().size().map_err(io)?;
            if size > MAX_MEMBER {
                return Err(bad(format!("{path}: larger than 4 GiB")));
            }
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            entry.read_to_end(&mut bytes).map_err(io)?;
            *slot = Some(bytes);
        }
        let session = session.ok_or_else(|| bad("the archive is empty".to_owned()))?;
        let missing = |name: &str| bad(format!("{session}/{name} is missing"));
        Ok(Contents {
            session_id: SessionId::new(&session)?,
            events: events.ok_or_else(|| missing(EVENTS_FILE))?,
            manifest: manifest.ok_or_else(|| missing(MANIFEST_FILE))?,
            public_key: public_key.ok_or_else(|| missing(PUBLIC_KEY_FILE))?,
        })
    }

    /// Stores the contents as a new recording.
    pub fn import_into(&self, store: &dyn RecordingStore) -> Result<(), RecordingError> {
        store.import(&self.session_id, &self.events, &self.manifest, &self.public_key)
    }
}
