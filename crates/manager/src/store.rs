//! The store port and its SQLite adapter.
//!
//! The domain sees documents: every entity is a JSON document under (kind, id), and a change
//! is a [`Batch`] of puts, deletes and audit events committed all or nothing. The PostgreSQL
//! adapter (`crate::postgres_store`, cargo feature `postgres`) implements the same [`Store`]
//! trait (one table of documents, one of audit events, one of the running processes' state
//! with expiries: `runtime_state`) without touching the domain. The SQLite
//! schema is versioned (`PRAGMA user_version`), each migration applied in its own transaction.
//!
//! Several Porteiro instances may share one PostgreSQL database: the manager's
//! read-modify-write sections then also hold the store's write lock
//! ([`Store::try_lock_writes`], a PostgreSQL advisory lock), so no instance loses another's
//! update. SQLite is one process's, and its adapter's lock is always free.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{AuditEvent, Entity};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Db(String),
    /// A stored document does not read back.
    #[error("stored {kind} {id} is not readable: {message}")]
    Corrupt {
        /// Kind.
        kind: String,
        /// Id.
        id: String,
        /// Parser message.
        message: String,
    },
    /// The database is newer than this program.
    #[error("the database schema version {found} is newer than this Porteiro ({known}): upgrade Porteiro")]
    TooNew {
        /// Found.
        found: i64,
        /// Known.
        known: i64,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Db(e.to_string())
    }
}

/// One document to write.
#[derive(Debug, Clone)]
pub struct Row {
    /// Kind.
    pub kind: &'static str,
    /// Id.
    pub id: String,
    /// When the scheduler should look at it.
    pub due: Option<i64>,
    /// The JSON document.
    pub body: String,
}

/// A change written in one transaction.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// Documents to insert or replace.
    pub puts: Vec<Row>,
    /// Documents to delete.
    pub deletes: Vec<(&'static str, String)>,
    /// Audit events to append.
    pub audit: Vec<AuditEvent>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Puts an entity.
    pub fn put<T: Entity>(&mut self, e: &T) -> Result<&mut Batch, StoreError> {
        let body = serde_json::to_string(e).map_err(|err| StoreError::Corrupt {
            kind: T::KIND.into(),
            id: e.id().into(),
            message: err.to_string(),
        })?;
        self.puts.push(Row {
            kind: T::KIND,
            id: e.id().to_string(),
            due: e.due(),
            body,
        });
        Ok(self)
    }

    /// Deletes an entity.
    pub fn delete<T: Entity>(&mut self, id: &str) -> &mut Batch {
        self.deletes.push((T::KIND, id.to_string()));
        self
    }

    /// Appends an audit event.
    pub fn audit(&mut self, e: AuditEvent) -> &mut Batch {
        self.audit.push(e);
        self
    }
}

/// Which audit events to list.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Only this entity kind.
    pub entity: Option<String>,
    /// Only this entity id.
    pub entity_id: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only actions starting with this.
    pub action_prefix: Option<String>,
    /// Only at or after.
    pub since: Option<i64>,
    /// At most this many (newest first); 0 = 1000.
    pub limit: usize,
    /// Only events older than this sequence number (the next page after an event).
    pub before: Option<i64>,
}

/// The store port.
pub trait Store: Send + Sync {
    /// One document.
    fn get_raw(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError>;
    /// Every document of a kind, by id.
    fn list_raw(&self, kind: &str) -> Result<Vec<String>, StoreError>;
    /// Documents of a kind due at or before `now`, soonest first.
    fn due_raw(&self, kind: &str, now: i64) -> Result<Vec<String>, StoreError>;
    /// Writes a batch in one transaction.
    fn commit(&self, batch: &Batch) -> Result<(), StoreError>;
    /// Audit events, newest first.
    fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError>;
    /// Tries to take the write lock shared by every Porteiro over this store; `true` = taken,
    /// held until [`Store::unlock_writes`]. A store only one process uses needs none (the
    /// manager's own lock serializes its writers): the default is always `true`.
    fn try_lock_writes(&self) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Releases the write lock taken by [`Store::try_lock_writes`].
    fn unlock_writes(&self) -> Result<(), StoreError> {
        Ok(())
    }

    // ---- the state of running processes (table `runtime_state`) ----
    //
    // What a restarted (or a second) Porteiro needs to keep serving the browsers of the first
    // one: web sign-ins, the console gateway's launches, browsers and cloud cookie jars.
    // Apart from the domain's documents (no audit, no write lock: each row is one browser's
    // or one console's own), every row has an expiry and is gone once it passes. Secrets in
    // bodies are sealed by the caller.

    /// Inserts or replaces one row of state, valid until `expires` (epoch seconds).
    fn put_state(&self, kind: &str, id: &str, expires: i64, body: &str) -> Result<(), StoreError>;
    /// One row of state, when it has not expired at `now`.
    fn get_state(&self, kind: &str, id: &str, now: i64) -> Result<Option<String>, StoreError>;
    /// Every row of a kind not expired at `now`: (id, body), by id.
    fn list_state(&self, kind: &str, now: i64) -> Result<Vec<(String, String)>, StoreError>;
    /// Deletes one row; `true` when there was one (so that one caller only takes a one-time
    /// row).
    fn delete_state(&self, kind: &str, id: &str) -> Result<bool, StoreError>;
    /// Deletes every row expired at `now`; how many.
    fn purge_state(&self, now: i64) -> Result<usize, StoreError>;
}

fn parse<T: Entity>(kind: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        kind: kind.into(),
        id: String::new(),
        message: e.to_string(),
    })
}

/// Typed reads over any store.
pub trait StoreExt {
    /// One entity.
    fn get<T: Entity>(&self, id: &str) -> Result<Option<T>, StoreError>;
    /// Every entity of a kind.
    fn list<T: Entity>(&self) -> Result<Vec<T>, StoreError>;
    /// Entities due at or before `now`.
    fn due<T: Entity>(&self, now: i64) -> Result<Vec<T>, StoreError>;
}

impl<S: Store + ?Sized> StoreExt for S {
    fn get<T: Entity>(&self, id: &str) -> Result<Option<T>, StoreError> {
        self.get_raw(T::KIND, id)?.map(|b| parse(T::KIND, &b)).transpose()
    }
    fn list<T: Entity>(&self) -> Result<Vec<T>, StoreError> {
        self.list_raw(T::KIND)?
            .iter()
            .map(|b| parse(T::KIND, b))
            .collect()
    }
    fn due<T: Entity>(&self, now: i64) -> Result<Vec<T>, StoreError> {
        self.due_raw(T::KIND, now)?
            .iter()
            .map(|b| parse(T::KIND, b))
            .collect()
    }
}

/// The schema, one migration per version.
const MIGRATIONS: &[&str] = &[
    // 1: documents and the audit trail.
    "CREATE TABLE documents (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        due INTEGER,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX documents_due ON documents (kind, due) WHERE due IS NOT NULL;
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        source TEXT,
        action TEXT NOT NULL,
        entity TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        old TEXT,
        new TEXT
    );
    CREATE INDEX audit_entity ON audit (entity, entity_id);",
    // 2: the state of running processes (web sign-ins, the console gateway's).
    "CREATE TABLE runtime_state (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        expires INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX runtime_state_expires ON runtime_state (expires);",
];

/// The SQLite adapter (WAL, `synchronous = FULL`).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        SqliteStore::init(conn)
    }

    /// An in-memory database (tests).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Db("the connection lock is poisoned".into()))
    }

    /// The schema version.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()?
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

impl Store for SqliteStore {
    fn get_raw(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT body FROM documents WHERE kind = ?1 AND id = ?2",
                params![kind, id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn list_raw(&self, kind: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn.prepare("SELECT body FROM documents WHERE kind = ?1 ORDER BY id")?;
        let rows = st.query_map(params![kind], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<String>, _>>()?)
    }

    fn due_raw(&self, kind: &str, now: i64) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn.prepare(
            "SELECT body FROM documents WHERE kind = ?1 AND due IS NOT NULL AND due <= ?2 ORDER BY due, id",
        )?;
        let rows = st.query_map(params![kind, now], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<String>, _>>()?)
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for r in &batch.puts {
            tx.execute(
                "INSERT INTO documents (kind, id, due, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, id) DO UPDATE SET due = excluded.due, body = excluded.body",
                params![r.kind, r.id, r.due, r.body],
            )?;
        }
        for (kind, id) in &batch.deletes {
            tx.execute(
                "DELETE FROM documents WHERE kind = ?1 AND id = ?2",
                params![kind, id],
            )?;
        }
        for e in &batch.audit {
            tx.execute(
                "INSERT INTO audit (at, actor, source, action, entity, entity_id, old, new)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    e.at,
                    e.actor,
                    e.source,
                    e.action,
                    e.entity,
                    e.entity_id,
                    e.old.as_ref().map(|v| v.to_string()),
                    e.new.as_ref().map(|v| v.to_string()),
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn.prepare(
            "SELECT seq, at, actor, source, action, entity, entity_id, old, new FROM audit
             WHERE (?1 IS NULL OR entity = ?1) AND (?2 IS NULL OR entity_id = ?2)
               AND (?3 IS NULL OR actor = ?3) AND (?4 IS NULL OR substr(action, 1, length(?4)) = ?4)
               AND (?5 IS NULL OR at >= ?5) AND (?7 IS NULL OR seq < ?7)
             ORDER BY seq DESC LIMIT ?6",
        )?;
        let limit = if f.limit == 0 { 1000 } else { f.limit } as i64;
        let rows = st.query_map(
            params![
                f.entity,
                f.entity_id,
                f.actor,
                f.action_prefix,
                f.since,
                limit,
                f.before
            ],
            |r| {
                let old: Option<String> = r.get(7)?;
                let new: Option<String> = r.get(8)?;
                Ok(AuditEvent {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    source: r.get(3)?,
                    action: r.get(4)?,
                    entity: r.get(5)?,
                    entity_id: r.get(6)?,
                    old: old.and_then(|s: String| serde_json::from_str(&s).ok()),
                    new: new.and_then(|s: String| serde_json::from_str(&s).ok()),
                })
            },
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn put_state(&self, kind: &str, id: &str, expires: i64, body: &str) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO runtime_state (kind, id, expires, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, id) DO UPDATE SET expires = excluded.expires, body = excluded.body",
            params![kind, id, expires, body],
        )?;
        Ok(())
    }

    fn get_state(&self, kind: &str, id: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT body FROM runtime_state WHERE kind = ?1 AND id = ?2 AND expires > ?3",
                params![kind, id, now],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn list_state(&self, kind: &str, now: i64) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn()?;
        let mut st =
            conn.prepare("SELECT id, body FROM runtime_state WHERE kind = ?1 AND expires > ?2 ORDER BY id")?;
        let rows = st.query_map(params![kind, now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<(String, String)>, _>>()?)
    }

    fn delete_state(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.conn()?.execute(
            "DELETE FROM runtime_state WHERE kind = ?1 AND id = ?2",
            params![kind, id],
        )? > 0)
    }

    fn purge_state(&self, now: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn()?
            .execute("DELETE FROM runtime_state WHERE expires <= ?1", params![now])?)
    }
}

/// The store's test suite, run against every adapter (SQLite in this crate's unit tests,
/// PostgreSQL in `tests/store_postgres.rs`). Each check wants an empty store.
#[doc(hidden)]
pub mod conformance {
    use super::*;
    use crate::model::{Job, JobKind, JobState};

    fn job(id: &str, due: i64, state: JobState) -> Job {
        Job {
            id: id.into(),
            kind: JobKind::EndSession {
                session_id: "ps-1".into(),
            },
            state,
            due_at: due,
            attempts: 0,
            max_attempts: 3,
            history: vec![],
            created: 0,
        }
    }

    /// Batches commit; due documents come soonest first; replace and delete work.
    pub fn batches_commit_and_due_documents_come_soonest_first(s: &dyn Store) {
        let mut b = Batch::new();
        b.put(&job("j-2", 20, JobState::Pending)).expect("put");
        b.put(&job("j-1", 10, JobState::Pending)).expect("put");
        b.put(&job("j-3", 5, JobState::Done)).expect("put");
        s.commit(&b).expect("commit");
        let due: Vec<Job> = s.due(20).expect("due");
        assert_eq!(
            due.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            ["j-1", "j-2"]
        );
        assert_eq!(s.due::<Job>(15).expect("due").len(), 1);
        let all: Vec<Job> = s.list().expect("list");
        assert_eq!(
            all.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            ["j-1", "j-2", "j-3"],
            "listed by id"
        );
        // A put replaces the document and its due time.
        let mut b = Batch::new();
        b.put(&job("j-2", 30, JobState::Pending)).expect("put");
        s.commit(&b).expect("replace");
        assert_eq!(s.due::<Job>(20).expect("due").len(), 1);
        assert_eq!(s.get::<Job>("j-2").expect("get").map(|j| j.due_at), Some(30));
        let mut b = Batch::new();
        b.delete::<Job>("j-1");
        s.commit(&b).expect("delete");
        assert!(s.get::<Job>("j-1").expect("get").is_none());
        assert!(
            s.get_raw("other-kind", "j-2").expect("get").is_none(),
            "kinds are apart"
        );
    }

    /// A batch that fails midway leaves nothing behind. `make_j2_fail` makes the adapter
    /// refuse to write a document with id `j-2` (a trigger).
    pub fn a_failed_batch_leaves_nothing_behind(s: &dyn Store, make_j2_fail: &dyn Fn()) {
        make_j2_fail();
        let mut b = Batch::new();
        b.put(&job("j-1", 1, JobState::Pending)).expect("put");
        b.put(&job("j-2", 1, JobState::Pending)).expect("put");
        b.audit(event(0, "job.create"));
        assert!(s.commit(&b).is_err());
        assert!(
            s.get::<Job>("j-1").expect("get").is_none(),
            "nothing half-written"
        );
        assert!(s.audit(&AuditFilter::default()).expect("audit").is_empty());
    }

    fn event(i: i64, action: &str) -> AuditEvent {
        AuditEvent {
            seq: 0,
            at: i,
            actor: "admin".into(),
            source: Some("127.0.0.1".into()),
            action: action.to_string(),
            entity: action.split('.').next().unwrap_or("").into(),
            entity_id: "x".into(),
            old: None,
            new: Some(serde_json::json!({"a": i})),
        }
    }

    /// Audit events filter, come newest first, and page with `before`.
    pub fn audit_events_filter_and_page(s: &dyn Store) {
        let mut b = Batch::new();
        for (i, action) in ["user.create", "user.update", "session.start"].iter().enumerate() {
            b.audit(event(i as i64, action));
        }
        s.commit(&b).expect("commit");
        let all = s.audit(&AuditFilter::default()).expect("audit");
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].action, "session.start");
        assert!(all[0].seq > all[1].seq && all[1].seq > all[2].seq);
        let users = s
            .audit(&AuditFilter {
                action_prefix: Some("user.".into()),
                ..AuditFilter::default()
            })
            .expect("audit");
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].new, Some(serde_json::json!({"a": 0})));
        assert_eq!(users[1].source.as_deref(), Some("127.0.0.1"));
        let since = s
            .audit(&AuditFilter {
                since: Some(1),
                entity: Some("user".into()),
                ..AuditFilter::default()
            })
            .expect("audit");
        assert_eq!(since.len(), 1);
        // Pages: one at a time, each older than the last.
        let first = s
            .audit(&AuditFilter {
                limit: 2,
                ..AuditFilter::default()
            })
            .expect("audit");
        assert_eq!(first.len(), 2);
        let rest = s
            .audit(&AuditFilter {
                limit: 2,
                before: Some(first[1].seq),
                ..AuditFilter::default()
            })
            .expect("audit");
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].action, "user.create");
    }

    /// Runtime state: put replaces, reads skip expired rows, delete says whether it took a
    /// row (once), purge removes exactly the expired rows; kinds are apart.
    pub fn runtime_state_expires_and_is_taken_once(s: &dyn Store) {
        s.put_state("web.session", "h-1", 100, "one").expect("put");
        s.put_state("web.session", "h-2", 50, "two").expect("put");
        s.put_state("console.browser", "h-1", 100, "browser")
            .expect("put");
        assert_eq!(
            s.get_state("web.session", "h-1", 99).expect("get").as_deref(),
            Some("one")
        );
        assert_eq!(
            s.get_state("web.session", "h-1", 100).expect("get"),
            None,
            "expired at its deadline"
        );
        assert_eq!(
            s.get_state("console.browser", "h-1", 0).expect("get").as_deref(),
            Some("browser"),
            "kinds are apart"
        );
        s.put_state("web.session", "h-1", 200, "one again")
            .expect("replace");
        assert_eq!(
            s.get_state("web.session", "h-1", 150).expect("get").as_deref(),
            Some("one again")
        );
        assert_eq!(
            s.list_state("web.session", 10).expect("list"),
            vec![
                ("h-1".to_string(), "one again".to_string()),
                ("h-2".to_string(), "two".to_string())
            ]
        );
        assert_eq!(s.list_state("web.session", 60).expect("list").len(), 1);
        assert!(s.delete_state("console.browser", "h-1").expect("delete"));
        assert!(
            !s.delete_state("console.browser", "h-1").expect("delete"),
            "taken once"
        );
        assert_eq!(s.purge_state(60).expect("purge"), 1, "only h-2 had expired");
        assert_eq!(s.list_state("web.session", 0).expect("list").len(), 1);
        assert_eq!(s.get_state("web.session", "h-2", 0).expect("get"), None, "purged");
        assert_eq!(s.purge_state(200).expect("purge"), 1);
        assert!(s.list_state("web.session", 0).expect("list").is_empty());
    }

    /// A fresh empty store, and what makes it refuse documents with id `j-2`.
    pub type Fresh<'a> = (Box<dyn Store>, Box<dyn Fn() + 'a>);

    /// Every check on a fresh store from `fresh`; `make_j2_fail` as above, for its store.
    pub fn run_all<'a>(fresh: &dyn Fn() -> Fresh<'a>) {
        let (s, _) = fresh();
        batches_commit_and_due_documents_come_soonest_first(&*s);
        let (s, fail) = fresh();
        a_failed_batch_leaves_nothing_behind(&*s, &*fail);
        let (s, _) = fresh();
        audit_events_filter_and_page(&*s);
        let (s, _) = fresh();
        runtime_state_expires_and_is_taken_once(&*s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_adapter_passes_the_store_suite() {
        conformance::run_all(&|| {
            let s = std::sync::Arc::new(SqliteStore::in_memory().expect("store"));
            assert_eq!(s.schema_version().expect("version"), 2);
            let t = s.clone();
            let fail = move || {
                t.conn()
                    .expect("conn")
                    .execute_batch("CREATE TRIGGER no_j2 BEFORE INSERT ON documents WHEN NEW.id = 'j-2' BEGIN SELECT RAISE(ABORT, 'boom'); END;")
                    .expect("trigger")
            };
            (
                Box::new(ArcStore(s)) as Box<dyn Store>,
                Box::new(fail) as Box<dyn Fn()>,
            )
        });
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = std::env::temp_dir().join(format!("porteiro-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("m.sqlite3");
        drop(SqliteStore::open(&path).expect("store"));
        Connection::open(&path)
            .expect("open")
            .pragma_update(None, "user_version", 99)
            .expect("version");
        let e = SqliteStore::open(&path).expect_err("too new");
        assert!(e.to_string().contains("upgrade Porteiro"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_version_1_database_is_migrated_keeping_its_documents() {
        let dir = std::env::temp_dir().join(format!("porteiro-store-v1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("m.sqlite3");
        let _ = std::fs::remove_file(&path);
        {
            let c = Connection::open(&path).expect("open");
            c.execute_batch(MIGRATIONS[0]).expect("v1");
            c.pragma_update(None, "user_version", 1).expect("version");
            c.execute(
                "INSERT INTO documents (kind, id, due, body) VALUES ('k', 'a', NULL, '{}')",
                [],
            )
            .expect("doc");
        }
        let s = SqliteStore::open(&path).expect("migrates");
        assert_eq!(s.schema_version().expect("version"), 2);
        assert_eq!(s.get_raw("k", "a").expect("get").as_deref(), Some("{}"));
        s.put_state("web.session", "h", 10, "x").expect("state");
        drop(s);
        let s = SqliteStore::open(&path).expect("reopen");
        assert_eq!(
            s.get_state("web.session", "h", 0).expect("get").as_deref(),
            Some("x")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    struct ArcStore(std::sync::Arc<SqliteStore>);
    impl Store for ArcStore {
        fn get_raw(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
            self.0.get_raw(kind, id)
        }
        fn list_raw(&self, kind: &str) -> Result<Vec<String>, StoreError> {
            self.0.list_raw(kind)
        }
        fn due_raw(&self, kind: &str, now: i64) -> Result<Vec<String>, StoreError> {
            self.0.due_raw(kind, now)
        }
        fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
            self.0.commit(batch)
        }
        fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
            self.0.audit(filter)
        }
        fn put_state(&self, kind: &str, id: &str, expires: i64, body: &str) -> Result<(), StoreError> {
            self.0.put_state(kind, id, expires, body)
        }
        fn get_state(&self, kind: &str, id: &str, now: i64) -> Result<Option<String>, StoreError> {
            self.0.get_state(kind, id, now)
        }
        fn list_state(&self, kind: &str, now: i64) -> Result<Vec<(String, String)>, StoreError> {
            self.0.list_state(kind, now)
        }
        fn delete_state(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
            self.0.delete_state(kind, id)
        }
        fn purge_state(&self, now: i64) -> Result<usize, StoreError> {
            self.0.purge_state(now)
        }
    }
}
