//! The PostgreSQL adapter of the [`Store`] port (cargo feature `postgres`, on by default).
//!
//! The same documents as SQLite (`documents`: kind, id, due time, JSON body; `audit`: the
//! trail; `runtime_state`: the running processes' state with expiries), with versioned migrations recorded in `porteiro_schema` and applied under a
//! transaction-scoped advisory lock, so instances starting together migrate once.
//!
//! The client is the synchronous `postgres` crate on a worker thread of its own: the port is
//! synchronous, and the crate must not run inside the caller's async runtime. One connection,
//! reconnected when lost. Several Porteiro instances may share the database: the manager's
//! write sections hold a session-level advisory lock ([`Store::try_lock_writes`]), so
//! concurrent read-modify-write never loses an update; if the connection drops while the lock
//! is held, the next commit of that section fails instead of writing unprotected.
//!
//! No TLS to the database yet: use it on a trusted network or a local socket forwarder.

use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use std::collections::HashMap;

use postgres::{Client, Config, NoTls, Statement};

use crate::model::AuditEvent;
use crate::store::{AuditFilter, Batch, Store, StoreError};

/// The advisory lock key of the write sections ("porteiro" in ASCII, first 8 bytes).
const WRITE_LOCK: i64 = 0x706f_7274_6569_726f;
/// The advisory lock key of migrations.
const MIGRATE_LOCK: i64 = WRITE_LOCK ^ 1;

/// The schema, one migration per version.
const MIGRATIONS: &[&str] = &[
    // 1: documents and the audit trail.
    "CREATE TABLE documents (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        due BIGINT,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX documents_due ON documents (kind, due) WHERE due IS NOT NULL;
    CREATE TABLE audit (
        seq BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
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
        expires BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX runtime_state_expires ON runtime_state (expires);",
];

fn pg_err(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Db(format!("PostgreSQL: {} ({})", db.message(), db.code().code())),
        None => StoreError::Db(format!("PostgreSQL: {e}")),
    }
}

type Task = Box<dyn FnOnce(&mut Worker) + Send>;

/// The connection, owned by the worker thread.
struct Worker {
    config: Config,
    client: Option<Client>,
    /// The write lock is held on this connection.
    locked: bool,
    /// The connection was lost while the write lock was held: the section is unprotected.
    lost_lock: bool,
    /// Statements prepared on this connection (one round trip per query instead of two).
    prepared: HashMap<&'static str, Statement>,
}

impl Worker {
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
            self.prepared.clear();
            if self.locked {
                self.locked = false;
                self.lost_lock = true;
            }
        }
        if self.client.is_none() {
            let c = self.config.connect(NoTls).map_err(|e| {
                StoreError::Db(format!(
                    "cannot connect to PostgreSQL at {}: {} (check --database / PORTEIRO_DATABASE_URL and that the server runs)",
                    describe(&self.config),
                    pg_err(e)
                ))
            })?;
            self.client = Some(c);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Db("no PostgreSQL connection".into()))
    }

    /// The connection and `sql` prepared on it.
    fn prepared(&mut self, sql: &'static str) -> Result<(&mut Client, Statement), StoreError> {
        self.client()?;
        let stmt = match self.prepared.get(sql) {
            Some(st) => st.clone(),
            None => {
                let st = self.client()?.prepare(sql).map_err(pg_err)?;
                self.prepared.insert(sql, st.clone());
                st
            }
        };
        Ok((self.client()?, stmt))
    }
}

/// host:port/dbname as user (never the password).
fn describe(c: &Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{} as {}",
        c.get_dbname().unwrap_or("(default database)"),
        c.get_user().unwrap_or("(default user)")
    )
}

/// The PostgreSQL adapter.
#[derive(Debug)]
pub struct PostgresStore {
    tasks: mpsc::Sender<Task>,
    target: String,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/dbname`), creating and migrating
    /// the schema.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config = Config::from_str(url).map_err(|e| {
            StoreError::Db(format!(
                "the database URL is not valid: {e} (use postgres://USER:PASSWORD@HOST:PORT/DBNAME)"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("porteiro");
        let target = describe(&config);
        let (tasks, rx) = mpsc::channel::<Task>();
        let mut worker = Worker {
            config,
            client: None,
            locked: false,
            lost_lock: false,
            prepared: HashMap::new(),
        };
        std::thread::Builder::new()
            .name("porteiro-postgres".into())
            .spawn(move || {
                while let Ok(task) = rx.recv() {
                    task(&mut worker);
                }
            })
            .map_err(|e| StoreError::Db(format!("cannot start the PostgreSQL worker thread: {e}")))?;
        let store = PostgresStore { tasks, target };
        store.call(|w| migrate(w.client()?))?;
        Ok(store)
    }

    /// Where the store is (host:port/dbname as user; no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The schema version.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.call(|w| {
            let row = w
                .client()?
                .query_one("SELECT version FROM porteiro_schema", &[])
                .map_err(pg_err)?;
            Ok(row.get(0))
        })
    }

    /// Runs `f` on the worker thread and waits for its answer.
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tasks
            .send(Box::new(move |w: &mut Worker| {
                let r = f(w);
                if r.is_err() {
                    // A failure may come from a schema changed under a prepared statement.
                    w.prepared.clear();
                }
                let _ = tx.send(r);
            }))
            .map_err(|_| StoreError::Db("the PostgreSQL worker thread stopped".into()))?;
        rx.recv()
            .map_err(|_| StoreError::Db("the PostgreSQL worker thread stopped".into()))?
    }
}

fn migrate(c: &mut Client) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let mut tx = c.transaction().map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .map_err(pg_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS porteiro_schema (version BIGINT NOT NULL);
         INSERT INTO porteiro_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM porteiro_schema);",
    )
    .map_err(pg_err)?;
    let version: i64 = tx
        .query_one("SELECT version FROM porteiro_schema", &[])
        .map_err(pg_err)?
        .get(0);
    if version > known {
        return Err(StoreError::TooNew {
            found: version,
            known,
        });
    }
    // All pending migrations in this one transaction: a failure leaves the old version whole.
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).map_err(pg_err)?;
        tx.execute("UPDATE porteiro_schema SET version = $1", &[&(i as i64 + 1)])
            .map_err(pg_err)?;
    }
    tx.commit().map_err(pg_err)
}

fn audit_row(r: &postgres::Row) -> AuditEvent {
    let old: Option<String> = r.get(7);
    let new: Option<String> = r.get(8);
    AuditEvent {
        seq: r.get(0),
        at: r.get(1),
        actor: r.get(2),
        source: r.get(3),
        action: r.get(4),
        entity: r.get(5),
        entity_id: r.get(6),
        old: old.and_then(|s| serde_json::from_str(&s).ok()),
        new: new.and_then(|s| serde_json::from_str(&s).ok()),
    }
}

impl Store for PostgresStore {
    fn get_raw(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        let (kind, id) = (kind.to_string(), id.to_string());
        self.call(move |w| {
            let (c, st) = w.prepared("SELECT body FROM documents WHERE kind = $1 AND id = $2")?;
            let row = c.query_opt(&st, &[&kind, &id]).map_err(pg_err)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn list_raw(&self, kind: &str) -> Result<Vec<String>, StoreError> {
        let kind = kind.to_string();
        self.call(move |w| {
            let (c, st) =
                w.prepared("SELECT body FROM documents WHERE kind = $1 ORDER BY id COLLATE \"C\"")?;
            let rows = c.query(&st, &[&kind]).map_err(pg_err)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn due_raw(&self, kind: &str, now: i64) -> Result<Vec<String>, StoreError> {
        let kind = kind.to_string();
        self.call(move |w| {
            let (c, st) = w.prepared(
                "SELECT body FROM documents WHERE kind = $1 AND due IS NOT NULL AND due <= $2
                 ORDER BY due, id COLLATE \"C\"",
            )?;
            let rows = c.query(&st, &[&kind, &now]).map_err(pg_err)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let batch = batch.clone();
        self.call(move |w| {
            // Reconnecting drops the write lock: a section that had it must not write now.
            w.client()?;
            if w.lost_lock {
                return Err(StoreError::Db(
                    "the connection to PostgreSQL was lost inside a write section (its lock with it): nothing was written, try again".into(),
                ));
            }
            let put = w
                .prepared(
                    "INSERT INTO documents (kind, id, due, body) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (kind, id) DO UPDATE SET due = EXCLUDED.due, body = EXCLUDED.body",
                )?
                .1;
            let delete = w
                .prepared("DELETE FROM documents WHERE kind = $1 AND id = $2")?
                .1;
            let audit = w
                .prepared(
                    "INSERT INTO audit (at, actor, source, action, entity, entity_id, old, new)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )?
                .1;
            let mut tx = w.client()?.transaction().map_err(pg_err)?;
            for r in &batch.puts {
                tx.execute(&put, &[&r.kind, &r.id, &r.due, &r.body])
                    .map_err(pg_err)?;
            }
            for (kind, id) in &batch.deletes {
                tx.execute(&delete, &[kind, id]).map_err(pg_err)?;
            }
            for e in &batch.audit {
                tx.execute(
                    &audit,
                    &[
                        &e.at,
                        &e.actor,
                        &e.source,
                        &e.action,
                        &e.entity,
                        &e.entity_id,
                        &e.old.as_ref().map(|v| v.to_string()),
                        &e.new.as_ref().map(|v| v.to_string()),
                    ],
                )
                .map_err(pg_err)?;
            }
            tx.commit().map_err(pg_err)
        })
    }

    fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let f = f.clone();
        self.call(move |w| {
            let limit = if f.limit == 0 { 1000 } else { f.limit } as i64;
            let rows = w
                .client()?
                .query(
                    "SELECT seq, at, actor, source, action, entity, entity_id, old, new FROM audit
                     WHERE ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR entity_id = $2)
                       AND ($3::text IS NULL OR actor = $3)
                       AND ($4::text IS NULL OR left(action, char_length($4)) = $4)
                       AND ($5::bigint IS NULL OR at >= $5) AND ($7::bigint IS NULL OR seq < $7)
                     ORDER BY seq DESC LIMIT $6",
                    &[
                        &f.entity,
                        &f.entity_id,
                        &f.actor,
                        &f.action_prefix,
                        &f.since,
                        &limit,
                        &f.before,
                    ],
                )
                .map_err(pg_err)?;
            Ok(rows.iter().map(audit_row).collect())
        })
    }

    fn put_state(&self, kind: &str, id: &str, expires: i64, body: &str) -> Result<(), StoreError> {
        let (kind, id, body) = (kind.to_string(), id.to_string(), body.to_string());
        self.call(move |w| {
            let (c, st) = w.prepared(
                "INSERT INTO runtime_state (kind, id, expires, body) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (kind, id) DO UPDATE SET expires = EXCLUDED.expires, body = EXCLUDED.body",
            )?;
            c.execute(&st, &[&kind, &id, &expires, &body]).map_err(pg_err)?;
            Ok(())
        })
    }

    fn get_state(&self, kind: &str, id: &str, now: i64) -> Result<Option<String>, StoreError> {
        let (kind, id) = (kind.to_string(), id.to_string());
        self.call(move |w| {
            let (c, st) =
                w.prepared("SELECT body FROM runtime_state WHERE kind = $1 AND id = $2 AND expires > $3")?;
            let row = c.query_opt(&st, &[&kind, &id, &now]).map_err(pg_err)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn list_state(&self, kind: &str, now: i64) -> Result<Vec<(String, String)>, StoreError> {
        let kind = kind.to_string();
        self.call(move |w| {
            let (c, st) = w.prepared(
                "SELECT id, body FROM runtime_state WHERE kind = $1 AND expires > $2 ORDER BY id COLLATE \"C\"",
            )?;
            let rows = c.query(&st, &[&kind, &now]).map_err(pg_err)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn delete_state(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        let (kind, id) = (kind.to_string(), id.to_string());
        self.call(move |w| {
            let (c, st) = w.prepared("DELETE FROM runtime_state WHERE kind = $1 AND id = $2")?;
            Ok(c.execute(&st, &[&kind, &id]).map_err(pg_err)? > 0)
        })
    }

    fn purge_state(&self, now: i64) -> Result<usize, StoreError> {
        self.call(move |w| {
            let (c, st) = w.prepared("DELETE FROM runtime_state WHERE expires <= $1")?;
            Ok(c.execute(&st, &[&now]).map_err(pg_err)? as usize)
        })
    }

    fn try_lock_writes(&self) -> Result<bool, StoreError> {
        self.call(|w| {
            if w.locked {
                return Ok(true);
            }
            let (c, st) = w.prepared("SELECT pg_try_advisory_lock($1)")?;
            let taken: bool = c.query_one(&st, &[&WRITE_LOCK]).map_err(pg_err)?.get(0);
            if taken {
                w.locked = true;
                w.lost_lock = false;
            }
            Ok(taken)
        })
    }

    fn unlock_writes(&self) -> Result<(), StoreError> {
        self.call(|w| {
            w.lost_lock = false;
            if !w.locked {
                return Ok(());
            }
            w.locked = false;
            let (c, st) = w.prepared("SELECT pg_advisory_unlock($1)")?;
            c.execute(&st, &[&WRITE_LOCK]).map_err(pg_err)?;
            Ok(())
        })
    }
}
