//! The store port and its SQLite adapter.
//!
//! The domain sees documents: every entity is a JSON document under (kind, id), and a change
//! is a [`Batch`] of puts, deletes and audit events committed all or nothing. A PostgreSQL
//! adapter implements the same [`Store`] trait (one table of documents, one of audit events)
//! without touching the domain. The SQLite schema is versioned (`PRAGMA user_version`), each
//! migration applied in its own transaction.

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
               AND (?5 IS NULL OR at >= ?5)
             ORDER BY seq DESC LIMIT ?6",
        )?;
        let limit = if f.limit == 0 { 1000 } else { f.limit } as i64;
        let rows = st.query_map(
            params![f.entity, f.entity_id, f.actor, f.action_prefix, f.since, limit],
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
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn batches_commit_and_due_documents_come_soonest_first() {
        let s = SqliteStore::in_memory().expect("store");
        assert_eq!(s.schema_version().expect("version"), 1);
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
        assert_eq!(s.list::<Job>().expect("list").len(), 3);
        let mut b = Batch::new();
        b.delete::<Job>("j-1");
        s.commit(&b).expect("delete");
        assert!(s.get::<Job>("j-1").expect("get").is_none());
    }

    #[test]
    fn a_failed_batch_leaves_nothing_behind() {
        let s = SqliteStore::in_memory().expect("store");
        let mut b = Batch::new();
        b.put(&job("j-1", 1, JobState::Pending)).expect("put");
        // A row of an impossible kind breaks the transaction midway (NOT NULL body).
        b.puts.push(Row {
            kind: "job",
            id: "j-2".into(),
            due: None,
            body: String::new(),
        });
        s.conn().expect("conn").execute_batch("CREATE TRIGGER no_j2 BEFORE INSERT ON documents WHEN NEW.id = 'j-2' BEGIN SELECT RAISE(ABORT, 'boom'); END;").expect("trigger");
        assert!(s.commit(&b).is_err());
        assert!(
            s.get::<Job>("j-1").expect("get").is_none(),
            "nothing half-written"
        );
    }

    #[test]
    fn audit_events_filter() {
        let s = SqliteStore::in_memory().expect("store");
        let mut b = Batch::new();
        for (i, action) in ["user.create", "user.update", "session.start"].iter().enumerate() {
            b.audit(AuditEvent {
                seq: 0,
                at: i as i64,
                actor: "admin".into(),
                source: Some("127.0.0.1".into()),
                action: action.to_string(),
                entity: action.split('.').next().unwrap_or("").into(),
                entity_id: "x".into(),
                old: None,
                new: Some(serde_json::json!({"a": i})),
            });
        }
        s.commit(&b).expect("commit");
        let all = s.audit(&AuditFilter::default()).expect("audit");
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].action, "session.start");
        let users = s
            .audit(&AuditFilter {
                action_prefix: Some("user.".into()),
                ..AuditFilter::default()
            })
            .expect("audit");
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].new, Some(serde_json::json!({"a": 0})));
    }
}
