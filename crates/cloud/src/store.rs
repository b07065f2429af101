//! SQLite persistence: one row per entity (JSON), written in one transaction per change set.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, params};

/// Persistence failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or written.
    #[error("database error in {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The database was written by a newer Porteiro.
    #[error(
        "the database {path} has schema version {found}, newer than this porteiro understands ({supported}): upgrade porteiro"
    )]
    TooNew {
        /// The database file.
        path: String,
        /// Its version.
        found: i64,
        /// The newest this build understands.
        supported: i64,
    },
    /// A stored row could not be decoded.
    #[error("corrupt {kind} row `{key}` in the database: {message}")]
    Corrupt {
        /// The entity kind.
        kind: String,
        /// Its key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// One change to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Insert or replace an entity.
    Put {
        /// Entity kind.
        kind: &'static str,
        /// Entity key.
        key: String,
        /// JSON data.
        data: String,
    },
    /// Delete an entity.
    Delete {
        /// Entity kind.
        kind: &'static str,
        /// Entity key.
        key: String,
    },
}

/// Versioned migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: [&str; 1] = ["CREATE TABLE entities (
        kind TEXT NOT NULL,
        key  TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;"];

/// The SQLite database of one cloud.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: String,
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let display = path.display().to_string();
        let err = |source| StoreError::Sqlite {
            path: display.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )
        .map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::TooNew {
                path: display,
                found: version,
                supported,
            });
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            let next = i as i64 + 1;
            conn.execute_batch(&format!("BEGIN; {sql} PRAGMA user_version = {next}; COMMIT;"))
                .map_err(err)?;
        }
        Ok(Store {
            conn: Mutex::new(conn),
            path: display,
        })
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// SQLite's `data_version`: it changes when another connection (another process) commits.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        conn.query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.sqlite(e))
    }

    /// Every stored row: (kind, key, data).
    pub fn load_all(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stmt = conn
            .prepare("SELECT kind, key, data FROM entities ORDER BY kind, key")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sqlite(e))
    }

    /// Applies a change set atomically: all of it, or none of it.
    pub fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        for change in changes {
            match change {
                Change::Put { kind, key, data } => tx.execute(
                    "INSERT INTO entities (kind, key, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data",
                    params![kind, key, data],
                ),
                Change::Delete { kind, key } => tx.execute(
                    "DELETE FROM entities WHERE kind = ?1 AND key = ?2",
                    params![kind, key],
                ),
            }
            .map_err(|e| self.sqlite(e))?;
        }
        tx.commit().map_err(|e| self.sqlite(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_and_migrates() {
        let dir = std::env::temp_dir().join(format!("porteiro-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cloud.db");
        let _ = std::fs::remove_file(&path);
        {
            let store = Store::open(&path).unwrap();
            store
                .apply(&[
                    Change::Put {
                        kind: "user",
                        key: "a".into(),
                        data: "{}".into(),
                    },
                    Change::Put {
                        kind: "user",
                        key: "b".into(),
                        data: "{}".into(),
                    },
                ])
                .unwrap();
            store
                .apply(&[Change::Delete {
                    kind: "user",
                    key: "a".into(),
                }])
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let rows = store.load_all().unwrap();
        assert_eq!(rows, vec![("user".into(), "b".into(), "{}".into())]);
    }
}
