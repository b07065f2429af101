//! Store adapters side by side: one-document commits (a put and an audit event, as a small
//! change), reads by id, and (PostgreSQL) a write-lock round trip.
//!
//! `cargo run --release -p porteiro-manager --example store_bench [-- N]` measures SQLite in a
//! temporary file; with `PORTEIRO_DATABASE_URL=postgres://…` also that (empty) database.

use std::time::Instant;

use porteiro_manager::model::{AuditEvent, Job, JobKind, JobState};
use porteiro_manager::store::{Batch, SqliteStore, Store, StoreExt};

fn job(i: usize) -> Job {
    Job {
        id: format!("j-{i:08}"),
        kind: JobKind::EndSession {
            session_id: format!("ps-{i}"),
        },
        state: JobState::Pending,
        due_at: i as i64,
        attempts: 0,
        max_attempts: 8,
        history: vec![],
        created: 0,
    }
}

fn measure(name: &str, s: &dyn Store, n: usize) {
    let t = Instant::now();
    for i in 0..n {
        let mut b = Batch::new();
        b.put(&job(i)).expect("put");
        b.audit(AuditEvent {
            seq: 0,
            at: i as i64,
            actor: "bench".into(),
            source: None,
            action: "job.create".into(),
            entity: "job".into(),
            entity_id: format!("j-{i:08}"),
            old: None,
            new: None,
        });
        s.commit(&b).expect("commit");
    }
    let commit = t.elapsed();
    let t = Instant::now();
    for i in 0..n {
        assert!(s.get::<Job>(&format!("j-{i:08}")).expect("get").is_some());
    }
    let get = t.elapsed();
    let t = Instant::now();
    for _ in 0..n {
        assert!(s.try_lock_writes().expect("lock"));
        s.unlock_writes().expect("unlock");
    }
    let lock = t.elapsed();
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{name}: {n} commits {:.0} µs each ({:.0}/s); gets {:.0} µs each; lock+unlock {:.0} µs each",
        per(commit),
        n as f64 / commit.as_secs_f64(),
        per(get),
        per(lock)
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = std::env::temp_dir().join(format!("porteiro-store-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sqlite = SqliteStore::open(&dir.join("bench.sqlite3")).expect("sqlite");
    measure("SQLite (WAL, synchronous=FULL)", &sqlite, n);
    let _ = std::fs::remove_dir_all(&dir);
    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("PORTEIRO_DATABASE_URL") {
        let pg = porteiro_manager::postgres_store::PostgresStore::connect(&url).expect("postgres");
        measure(&format!("PostgreSQL {}", pg.target()), &pg, n);
    }
}
