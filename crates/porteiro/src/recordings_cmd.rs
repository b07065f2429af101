//! `porteiro recordings list|show|verify|export|import|play`: session recordings in a local
//! directory or an S3-compatible bucket (`--store s3://BUCKET/PREFIX?endpoint=URL`).
//!
//! Exit codes: 0 when everything asked for verified (or the command did its job), 1 when a
//! recording is broken (or still open, without a signed manifest), 2 for a usage error or a
//! recording or file that cannot be read.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Cursor, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use porteiro_recording::archive::Contents;
use porteiro_recording::manifest::PublicKey;
use porteiro_recording::play::{format_offset, read_events, text_replay, web_replay};
use porteiro_recording::{
    LocalDir, Manifest, RecordingError, RecordingStore, Report, SessionId, Verdict, open_store, verify_stored,
};
use serde_json::{Value as Json, json};

#[derive(Debug, Args)]
pub(crate) struct RecordingsArgs {
    /// The recordings directory (default: the data directory's `recordings` folder).
    #[arg(long, global = true, env = "PORTEIRO_RECORDINGS_DIR")]
    dir: Option<PathBuf>,
    /// The recordings store: a directory, or `s3://BUCKET/PREFIX[?endpoint=URL&region=R&spool=DIR]`
    /// (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN).
    /// Takes precedence over --dir.
    #[arg(long, global = true, env = "PORTEIRO_RECORDINGS_STORE", value_name = "SPEC")]
    store: Option<String>,
    /// Porteiro's data directory.
    #[arg(
        long,
        global = true,
        env = "PORTEIRO_DATA_DIR",
        default_value = "porteiro-data"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: RecordingsCommand,
}

#[derive(Debug, Subcommand)]
enum RecordingsCommand {
    /// List the recordings (status, events, start and end) without verifying them.
    List(JsonArg),
    /// Show one recording: its manifest, its events by kind, and whether it verifies.
    Show(IdArgs),
    /// Recompute hash chains and check signed manifests; name the first broken event.
    Verify(VerifyArgs),
    /// Write a self-contained archive (events, manifest, public key) that verifies offline.
    Export(ExportArgs),
    /// Verify an exported archive and add it to the recordings directory.
    Import(ImportArgs),
    /// Replay a recording as text: events in order, at their pace.
    Play(PlayArgs),
}

#[derive(Debug, Args)]
struct JsonArg {
    /// Structured output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct IdArgs {
    /// The session id.
    id: String,
    /// Structured output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct KeyArg {
    /// Require manifests signed by this ed25519 public key (64 hex digits), e.g. the vault's.
    #[arg(long, value_name = "HEX")]
    public_key: Option<String>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The session id.
    #[arg(required_unless_present_any = ["all", "archive"], conflicts_with_all = ["all", "archive"])]
    id: Option<String>,
    /// Verify every recording of the directory.
    #[arg(long, conflicts_with = "archive")]
    all: bool,
    /// Verify an exported archive instead (offline).
    #[arg(long, value_name = "FILE")]
    archive: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArg,
    /// Structured output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// The session id.
    id: String,
    /// Where to write the archive (a .tar).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The archive (as written by `export`).
    archive: PathBuf,
    #[command(flatten)]
    key: KeyArg,
}

#[derive(Debug, Args)]
struct PlayArgs {
    /// The session id.
    id: String,
    /// Playback speed: 1 is real time, 10 ten times faster, 0 without pauses.
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    speed: f64,
    /// One JSON object per event instead of text (no pauses).
    #[arg(long, conflicts_with = "frames")]
    json: bool,
    /// Print the web replay's data (the console pages with their timing) as JSON.
    #[arg(long)]
    frames: bool,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err(format!(
            "`{text}` is not a speed: use a number ≥ 0 (1 real time, 0 no pauses)"
        )),
    }
}

/// A command's failure: broken recordings (exit 1) or something that could not be done (2).
enum Failure {
    Broken,
    Usage(String),
}

impl From<RecordingError> for Failure {
    fn from(e: RecordingError) -> Self {
        Failure::Usage(e.to_string())
    }
}

pub(crate) fn run(args: RecordingsArgs) -> ExitCode {
    // Verifying an archive is offline: it needs no store (nor its credentials).
    if let RecordingsCommand::Verify(a) = &args.command
        && a.archive.is_some()
    {
        let RecordingsCommand::Verify(a) = args.command else {
            return ExitCode::from(2);
        };
        return finish(verify(None, a));
    }
    let result = open(&args).and_then(|store| {
        let store = &store;
        match args.command {
            RecordingsCommand::List(a) => list(store, a.json),
            RecordingsCommand::Show(a) => show(store, &a.id, a.json),
            RecordingsCommand::Verify(a) => verify(Some(store), a),
            RecordingsCommand::Export(a) => export(store, &a.id, &a.out),
            RecordingsCommand::Import(a) => import(store, &a.archive, &a.key),
            RecordingsCommand::Play(a) => play(store, a),
        }
    });
    finish(result)
}

fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Broken) => ExitCode::from(1),
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// The store and its name for messages.
struct Store {
    store: Arc<dyn RecordingStore>,
    name: String,
}

impl std::ops::Deref for Store {
    type Target = dyn RecordingStore;

    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// Opens `--store SPEC`, else `--dir DIR`, else `<data-dir>/recordings`. An S3 store spools
/// live recordings in `<data-dir>/recordings-spool/<bucket>/<prefix>` unless the spec says
/// `spool=DIR`.
fn open(args: &RecordingsArgs) -> Result<Store, Failure> {
    let Some(spec) = &args.store else {
        let dir = args
            .dir
            .clone()
            .unwrap_or_else(|| args.data_dir.join("recordings"));
        return Ok(Store {
            name: dir.display().to_string(),
            store: Arc::new(LocalDir::new(dir)),
        });
    };
    let store = open_store(spec, &args.data_dir.join("recordings-spool"))?;
    // The name shown in messages: the spec without its options.
    let name = spec.split_once('?').map_or(spec.as_str(), |(s, _)| s).to_owned();
    Ok(Store { store, name })
}

fn session_id(text: &str) -> Result<SessionId, Failure> {
    Ok(SessionId::new(text)?)
}

fn trusted_key(arg: &KeyArg) -> Result<Option<PublicKey>, Failure> {
    arg.public_key
        .as_deref()
        .map(|hex| PublicKey::from_hex(hex).map_err(|e| Failure::Usage(format!("--public-key: {e}"))))
        .transpose()
}

fn print_json(value: &Json) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// `2026-11-23T12:00:00.000Z` from milliseconds since the Unix epoch.
fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

fn read_manifest(store: &Store, id: &SessionId) -> Result<Option<Manifest>, Failure> {
    match store.manifest(id)? {
        None => Ok(None),
        Some(bytes) => Manifest::from_json(&bytes)
            .map(Some)
            .map_err(|e| Failure::Usage(format!("recording {id}: manifest.json cannot be read: {e}"))),
    }
}

fn list(store: &Store, json: bool) -> Result<(), Failure> {
    let ids = store.list()?;
    let mut rows = Vec::new();
    for id in &ids {
        let manifest = read_manifest(store, id).unwrap_or(None);
        rows.push(match manifest {
            Some(m) => json!({
                "sessionId": id.as_str(),
                "status": m.status.to_string(),
                "events": m.event_count,
                "startedAt": format_time(m.started_at),
                "endedAt": format_time(m.ended_at),
            }),
            None => json!({ "sessionId": id.as_str(), "status": "open" }),
        });
    }
    if json {
        print_json(&Json::Array(rows));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no recordings in {}", store.name);
        return Ok(());
    }
    println!(
        "{:<40} {:<12} {:>8}  {:<24}  {:<24}",
        "SESSION", "STATUS", "EVENTS", "STARTED", "ENDED"
    );
    for r in rows {
        let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
        let events = r["events"].as_u64().map_or("-".to_owned(), |n| n.to_string());
        println!(
            "{:<40} {:<12} {:>8}  {:<24}  {:<24}",
            s("sessionId"),
            s("status"),
            events,
            s("startedAt"),
            s("endedAt")
        );
    }
    Ok(())
}

fn verdict_line(report: &Report) -> String {
    match &report.verdict {
        Verdict::Verified { status } => format!(
            "{}: verified ({status}, {} events, chain head {})",
            report.session_id, report.verified_events, report.chain_head
        ),
        Verdict::Open => format!(
            "{}: open: {} events verify, but there is no signed manifest yet",
            report.session_id, report.verified_events
        ),
        Verdict::Broken { problem } => format!(
            "{}: BROKEN: {problem} ({} events verify before it)",
            report.session_id, report.verified_events
        ),
    }
}

fn show(store: &Store, id: &str, json: bool) -> Result<(), Failure> {
    let id = session_id(id)?;
    let report = verify_stored(&**store, &id, None)?;
    let events = read_events(store.events(&id)?)
        .map_err(|e| Failure::Usage(format!("recording {id}: cannot read events: {e}")))?;
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &events {
        *kinds.entry(e.kind.name()).or_default() += 1;
    }
    if json {
        print_json(&json!({
            "sessionId": id.as_str(),
            "manifest": report.manifest,
            "eventsByKind": kinds,
            "verification": report,
        }));
        return Ok(());
    }
    println!("session:   {id}");
    if let Some(m) = &report.manifest {
        println!("status:    {}", m.status);
        println!("started:   {}", format_time(m.started_at));
        println!("ended:     {}", format_time(m.ended_at));
        println!("events:    {}", m.event_count);
        println!("head:      {}", m.chain_head);
        println!("signed by: {}", m.public_key);
    } else {
        println!("status:    open (no manifest)");
    }
    if let Some(first) = events.first()
        && let porteiro_recording::EventKind::SessionStart(s) = &first.kind
    {
        println!(
            "session:   {} session of {} on account {}",
            s.session_kind, s.user, s.account
        );
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("by kind:   {}", kinds.join(", "));
    println!("{}", verdict_line(&report));
    Ok(())
}

fn verify(store: Option<&Store>, args: VerifyArgs) -> Result<(), Failure> {
    let trusted = trusted_key(&args.key)?;
    let store = || store.ok_or_else(|| Failure::Usage("no recordings store was opened".into()));
    let reports: Vec<Report> = if let Some(path) = &args.archive {
        let bytes =
            fs::read(path).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
        let contents = Contents::read_archive(Cursor::new(bytes))?;
        vec![contents.verify(trusted.as_ref())?]
    } else if args.all {
        let store = store()?;
        let ids = store.list()?;
        if ids.is_empty() {
            return Err(Failure::Usage(format!("no recordings in {}", store.name)));
        }
        ids.iter()
            .map(|id| verify_stored(&**store, id, trusted.as_ref()))
            .collect::<Result<_, _>>()?
    } else {
        let id = session_id(args.id.as_deref().unwrap_or_default())?;
        vec![verify_stored(&**store()?, &id, trusted.as_ref())?]
    };
    if args.json {
        print_json(&json!(reports));
    } else {
        for r in &reports {
            println!("{}", verdict_line(r));
        }
        if reports.len() > 1 {
            let ok = reports.iter().filter(|r| r.is_verified()).count();
            println!("{ok} verified, {} not", reports.len() - ok);
        }
    }
    if reports.iter().all(Report::is_verified) {
        Ok(())
    } else {
        Err(Failure::Broken)
    }
}

fn export(store: &Store, id: &str, out: &PathBuf) -> Result<(), Failure> {
    let id = session_id(id)?;
    let contents = Contents::from_store(&**store, &id)?;
    let report = contents.verify(None)?;
    let tmp = out.with_extension("tar.partial");
    let file = fs::File::create(&tmp)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", tmp.display())))?;
    let mut writer = contents.write_archive(BufWriter::new(file))?;
    writer
        .flush()
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", tmp.display())))?;
    drop(writer);
    fs::rename(&tmp, out).map_err(|e| Failure::Usage(format!("cannot write {}: {e}", out.display())))?;
    println!("exported {id} to {}", out.display());
    println!("{}", verdict_line(&report));
    if report.is_verified() {
        Ok(())
    } else {
        Err(Failure::Broken)
    }
}

fn import(store: &Store, archive: &PathBuf, key: &KeyArg) -> Result<(), Failure> {
    let trusted = trusted_key(key)?;
    let bytes =
        fs::read(archive).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", archive.display())))?;
    let contents = Contents::read_archive(Cursor::new(bytes))?;
    let report = contents.verify(trusted.as_ref())?;
    println!("{}", verdict_line(&report));
    if !report.is_verified() {
        eprintln!("not imported: the archive does not verify");
        return Err(Failure::Broken);
    }
    contents.import_into(&**store)?;
    println!("imported {} into {}", contents.session_id, store.name);
    Ok(())
}

fn play(store: &Store, args: PlayArgs) -> Result<(), Failure> {
    let id = session_id(&args.id)?;
    let events = read_events(store.events(&id)?)
        .map_err(|e| Failure::Usage(format!("recording {id}: cannot read events: {e}")))?;
    if args.frames {
        print_json(&json!(web_replay(&events)));
        return Ok(());
    }
    let steps = text_replay(&events);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut last = 0u64;
    for step in steps {
        if args.json {
            let _ = writeln!(out, "{}", json!(step));
            continue;
        }
        if args.speed > 0.0 && step.offset_ms > last {
            let _ = out.flush();
            let wait = (step.offset_ms - last) as f64 / args.speed;
            std::thread::sleep(Duration::from_secs_f64(wait / 1000.0));
        }
        last = step.offset_ms;
        let _ = writeln!(
            out,
            "{} #{:<4} {}",
            format_offset(step.offset_ms),
            step.seq,
            step.text
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
