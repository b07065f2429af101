//! Verification: recompute the chain and check the manifest, naming the first broken event.
//!
//! Pure: it reads from any [`BufRead`] and byte slices. How a single change is located: a
//! changed line breaks the link to the next line (whose `prev` no longer matches), or, for the
//! last line, the manifest's chain head. If the change is in the line's own `prev`, its link
//! from the line before breaks too. So when the link into line *n* breaks, the verifier looks
//! at the link out of line *n*: intact means line *n − 1* was changed, broken means line *n*
//! was. Removed and reordered events show as `seq` gaps.

use std::fmt;
use std::io::{self, BufRead};

use serde::{Deserialize, Serialize};

use crate::chain::{genesis, line_hash};
use crate::manifest::{Manifest, PublicKey, Status};

/// Why a recording does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum Reason {
    /// The last line has no newline: a write cut short (a crash).
    TornLine,
    /// The line is not an event's JSON.
    BadJson {
        /// The parser's message.
        message: String,
    },
    /// The line's `seq` is not the next one: an event was removed, added or moved.
    SeqGap {
        /// The `seq` this line should have.
        expected: u64,
        /// The `seq` it has.
        found: u64,
    },
    /// The line was changed after it was written: its hash does not match the `prev` of the
    /// next event (or the manifest's chain head).
    HashMismatch,
    /// The line's `prev` does not match the hash of the line before it.
    PrevMismatch,
    /// The first event's `prev` is not the hash of the session id.
    GenesisMismatch,
    /// There is no manifest: the recording is still open or needs recovery.
    ManifestMissing,
    /// The manifest cannot be read.
    ManifestInvalid {
        /// What is wrong.
        message: String,
    },
    /// The manifest's signature is invalid.
    SignatureInvalid {
        /// What is wrong.
        message: String,
    },
    /// The manifest was signed by another key than the expected one.
    KeyMismatch {
        /// The key expected (from `public-key.hex` or the verifier's trusted key).
        expected: String,
        /// The manifest's key.
        found: String,
    },
    /// The manifest names another session.
    SessionMismatch {
        /// The session id in the manifest.
        manifest: String,
    },
    /// The manifest counts another number of events.
    CountMismatch {
        /// The manifest's count.
        manifest: u64,
        /// The events found.
        found: u64,
    },
    /// The last event's hash is not the manifest's chain head.
    HeadMismatch,
}

/// The first problem found, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The event's position (its expected `seq`), when the problem is an event's.
    pub seq: Option<u64>,
    /// The line number in `events.jsonl` (from 1), when the problem is an event's.
    pub line: Option<u64>,
    /// Why.
    #[serde(flatten)]
    pub reason: Reason,
}

impl Problem {
    fn at(index: u64, reason: Reason) -> Problem {
        Problem {
            seq: Some(index),
            line: Some(index + 1),
            reason,
        }
    }

    fn manifest(reason: Reason) -> Problem {
        Problem {
            seq: None,
            line: None,
            reason,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.seq, self.line) {
            (Some(seq), Some(line)) => write!(f, "event seq {seq} (line {line}): ")?,
            _ => f.write_str("manifest: ")?,
        }
        match &self.reason {
            Reason::TornLine => f.write_str("the line is cut short (no newline): a torn write"),
            Reason::BadJson { message } => write!(f, "the line is not an event's JSON: {message}"),
            Reason::SeqGap { expected, found } => write!(
                f,
                "expected seq {expected}, found {found}: an event was removed, added or moved"
            ),
            Reason::HashMismatch => {
                f.write_str("the event was changed: its hash does not match the prev recorded after it")
            }
            Reason::PrevMismatch => f.write_str("its prev does not match the hash of the event before it"),
            Reason::GenesisMismatch => {
                f.write_str("the first event's prev is not the hash of the session id")
            }
            Reason::ManifestMissing => {
                f.write_str("there is no manifest: the recording is still open, or needs recovery")
            }
            Reason::ManifestInvalid { message } => write!(f, "cannot be read: {message}"),
            Reason::SignatureInvalid { message } => write!(f, "signature invalid: {message}"),
            Reason::KeyMismatch { expected, found } => {
                write!(f, "signed by key {found}, but the expected key is {expected}")
            }
            Reason::SessionMismatch { manifest } => {
                write!(f, "it names another session ({manifest})")
            }
            Reason::CountMismatch { manifest, found } => write!(
                f,
                "it counts {manifest} events but {found} verify: events were removed or added"
            ),
            Reason::HeadMismatch => {
                f.write_str("the last event was changed: its hash is not the manifest's chain head")
            }
        }
    }
}

/// The outcome of verifying one recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "camelCase")]
pub enum Verdict {
    /// The chain and the signed manifest agree.
    Verified {
        /// How the recording was closed.
        status: Status,
    },
    /// The chain verifies but there is no manifest yet.
    Open,
    /// Something does not verify.
    Broken {
        /// The first problem.
        problem: Problem,
    },
}

/// A verification report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The recording's session id.
    pub session_id: String,
    /// How many events verify, from the first.
    pub verified_events: u64,
    /// The hash of the last event that verifies.
    pub chain_head: String,
    /// The manifest, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    /// The outcome.
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl Report {
    /// Whether the recording verified (chain and signed manifest).
    pub fn is_verified(&self) -> bool {
        matches!(self.verdict, Verdict::Verified { .. })
    }
}

/// The minimal part of a line the chain needs.
#[derive(Deserialize)]
struct Head {
    seq: u64,
    time: u64,
    prev: String,
    #[allow(dead_code)]
    kind: String,
}

fn parse_head(line: &[u8]) -> Result<Head, serde_json::Error> {
    serde_json::from_slice(line.strip_suffix(b"\n").unwrap_or(line))
}

/// The result of walking a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Events that verify, from the first.
    pub good_events: u64,
    /// Bytes of the lines that verify (where a recovery cut would go).
    pub good_bytes: u64,
    /// Hash of the last line that verifies (the genesis hash when none does).
    pub chain_head: String,
    /// Time of the first event that verifies.
    pub first_time: Option<u64>,
    /// Time of the last event that verifies.
    pub last_time: Option<u64>,
    /// The first problem of the chain itself.
    pub problem: Option<Problem>,
    /// Whether a line after the problem parses as an event (so the problem is not only a torn
    /// or garbled tail left by a crash).
    pub event_after_problem: bool,
}

impl Scan {
    /// Whether everything after the verified events is a crash's leftover (a torn or
    /// unreadable tail with no event after it), which recovery may cut.
    pub fn tail_is_crash_debris(&self) -> bool {
        matches!(
            self.problem.as_ref().map(|p| &p.reason),
            Some(Reason::TornLine | Reason::BadJson { .. })
        ) && !self.event_after_problem
    }
}

struct Pending {
    index: u64,
    hash: String,
}

struct Scanner {
    index: u64,
    head: String,
    head_before: String,
    good_events: u64,
    good_bytes: u64,
    bytes_before: u64,
    first_time: Option<u64>,
    last_time: Option<u64>,
    time_before: Option<u64>,
    pending: Option<Pending>,
    problem: Option<Problem>,
    event_after_problem: bool,
}

impl Scanner {
    fn new(session_id: &str) -> Scanner {
        let g = genesis(session_id);
        Scanner {
            index: 0,
            head: g.clone(),
            head_before: g,
            good_events: 0,
            good_bytes: 0,
            bytes_before: 0,
            first_time: None,
            last_time: None,
            time_before: None,
            pending: None,
            problem: None,
            event_after_problem: false,
        }
    }

    fn line(&mut self, line: &[u8]) {
        let i = self.index;
        self.index += 1;
        let complete = line.ends_with(b"\n");
        if let Some(p) = self.pending.take() {
            let intact = complete && parse_head(line).is_ok_and(|h| h.prev == p.hash);
            self.resolve(p.index, intact);
            self.event_after_problem = true;
            return;
        }
        if self.problem.is_some() {
            if complete && parse_head(line).is_ok() {
                self.event_after_problem = true;
            }
            return;
        }
        if !complete {
            self.problem = Some(Problem::at(i, Reason::TornLine));
            return;
        }
        let head = match parse_head(line) {
            Ok(h) => h,
            Err(e) => {
                self.problem = Some(Problem::at(
                    i,
                    Reason::BadJson {
                        message: e.to_string(),
                    },
                ));
                return;
            }
        };
        if head.seq != i {
            self.problem = Some(Problem::at(
                i,
                Reason::SeqGap {
                    expected: i,
                    found: head.seq,
                },
            ));
            return;
        }
        if head.prev != self.head {
            if i == 0 {
                self.problem = Some(Problem::at(0, Reason::GenesisMismatch));
            } else {
                self.pending = Some(Pending {
                    index: i,
                    hash: line_hash(line),
                });
            }
            return;
        }
        self.head_before = std::mem::replace(&mut self.head, line_hash(line));
        self.bytes_before = self.good_bytes;
        self.good_bytes += line.len() as u64;
        self.good_events += 1;
        self.time_before = self.last_time;
        self.last_time = Some(head.time);
        self.first_time.get_or_insert(head.time);
    }

    /// The link into line `index` is broken; `next_intact` says whether line `index`'s own
    /// hash is what comes after it records. Intact: line `index - 1` was changed.
    fn resolve(&mut self, index: u64, next_intact: bool) {
        if next_intact {
            // Line index-1 was counted good; take it back.
            self.good_events -= 1;
            self.good_bytes = self.bytes_before;
            self.head = std::mem::take(&mut self.head_before);
            self.last_time = self.time_before;
            if self.good_events == 0 {
                self.first_time = None;
            }
            self.problem = Some(Problem::at(index - 1, Reason::HashMismatch));
        } else {
            self.problem = Some(Problem::at(index, Reason::PrevMismatch));
        }
    }

    fn finish(mut self, manifest_head: Option<&str>) -> Scan {
        if let Some(p) = self.pending.take() {
            // The broken link is into the last line: the manifest's head decides; without one,
            // the line before is taken as changed (the larger target), which is the cautious
            // choice for recovery too.
            let intact = manifest_head.is_none_or(|h| h == p.hash);
            self.resolve(p.index, intact);
            self.event_after_problem = true;
        }
        Scan {
            good_events: self.good_events,
            good_bytes: self.good_bytes,
            chain_head: self.head,
            first_time: self.first_time,
            last_time: self.last_time,
            problem: self.problem,
            event_after_problem: self.event_after_problem,
        }
    }
}

/// Walks the chain of `events` (the bytes of `events.jsonl`). `manifest_head`, when known,
/// locates a change to the last lines.
pub fn scan<R: BufRead>(session_id: &str, mut events: R, manifest_head: Option<&str>) -> io::Result<Scan> {
    let mut scanner = Scanner::new(session_id);
    let mut line = Vec::new();
    loop {
        line.clear();
        if events.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        scanner.line(&line);
    }
    Ok(scanner.finish(manifest_head))
}

/// What to verify a recording against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// The content of `public-key.hex` stored beside the manifest, if any.
    pub public_key_file: Option<&'a [u8]>,
    /// A key the verifier trusts (the vault's); when given, the manifest must be signed by it.
    pub trusted_key: Option<&'a PublicKey>,
}

/// Verifies a recording: the chain of `events`, then the manifest (when there is one): its
/// signature, its key, its session id, its count and chain head.
pub fn verify<R: BufRead>(
    session_id: &str,
    events: R,
    manifest: Option<&[u8]>,
    expect: Expect<'_>,
) -> io::Result<Report> {
    let parsed = manifest.map(Manifest::from_json);
    let manifest_head = match &parsed {
        Some(Ok(m)) => Some(m.chain_head.as_str()),
        _ => None,
    };
    let scan = scan(session_id, events, manifest_head)?;
    let manifest_ok = match &parsed {
        Some(Ok(m)) => Some(m.clone()),
        _ => None,
    };
    let report = |verdict: Verdict| Report {
        session_id: session_id.to_owned(),
        verified_events: scan.good_events,
        chain_head: scan.chain_head.clone(),
        manifest: manifest_ok.clone(),
        verdict,
    };
    let broken = |problem: Problem| report(Verdict::Broken { problem });

    if let Some(problem) = scan.problem.clone() {
        return Ok(broken(problem));
    }
    let manifest = match parsed {
        None => return Ok(report(Verdict::Open)),
        Some(Err(e)) => {
            return Ok(broken(Problem::manifest(Reason::ManifestInvalid {
                message: e.to_string(),
            })));
        }
        Some(Ok(m)) => m,
    };
    if manifest.format != crate::FORMAT {
        return Ok(broken(Problem::manifest(Reason::ManifestInvalid {
            message: format!(
                "unknown format {:?} (this verifier reads {})",
                manifest.format,
                crate::FORMAT
            ),
        })));
    }
    let key = match manifest.check_signature() {
        Ok(key) => key,
        Err(message) => {
            return Ok(broken(Problem::manifest(Reason::SignatureInvalid { message })));
        }
    };
    if let Some(file) = expect.public_key_file {
        let text = String::from_utf8_lossy(file);
        let expected = PublicKey::from_hex(&text).map(|k| k.to_hex());
        if expected.as_deref().ok() != Some(key.to_hex().as_str()) {
            return Ok(broken(Problem::manifest(Reason::KeyMismatch {
                expected: text.trim().to_owned(),
                found: key.to_hex(),
            })));
        }
    }
    if let Some(trusted) = expect.trusted_key
        && *trusted != key
    {
        return Ok(broken(Problem::manifest(Reason::KeyMismatch {
            expected: trusted.to_hex(),
            found: key.to_hex(),
        })));
    }
    if manifest.session_id != session_id {
        return Ok(broken(Problem::manifest(Reason::SessionMismatch {
            manifest: manifest.session_id.clone(),
        })));
    }
    if manifest.event_count != scan.good_events {
        let found = scan.good_events;
        // Missing events: the first missing one; extra events: the first extra one.
        let at = found.min(manifest.event_count);
        return Ok(broken(Problem::at(
            at,
            Reason::CountMismatch {
                manifest: manifest.event_count,
                found,
            },
        )));
    }
    if manifest.chain_head != scan.chain_head {
        return Ok(broken(Problem::at(
            scan.good_events.saturating_sub(1),
            Reason::HeadMismatch,
        )));
    }
    Ok(report(Verdict::Verified {
        status: manifest.status,
    }))
}
