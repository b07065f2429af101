//! S3 object storage: object data in files, object and multipart metadata in SQLite.
//!
//! Layout under `DATA_DIR/s3/`:
//!
//! | path | what |
//! | --- | --- |
//! | `meta.sqlite3` | tables `objects`, `uploads`, `parts` (own `PRAGMA user_version` migrations) |
//! | `data/XX/<id>` | object and part data, one file per object version written, named by a random id |
//! | `tmp/<id>` | bodies being received |
//!
//! Buckets are entities of the cloud's state (few, rarely changed); objects are not (many,
//! often changed), so they have their own database beside it.
//!
//! Durability: a body is written to `tmp/`, fsynced, renamed into `data/`, and the directory
//! fsynced; only then is the metadata row committed (SQLite, `synchronous = FULL`). A crash
//! before the commit leaves an unreferenced file, removed at the next start; never a half
//! object visible under its key. The file an overwritten or deleted object used is removed
//! after the commit.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::CloudError;
use crate::store::StoreError;

/// Server-side encryption recorded with an object (applied by the KMS integration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sse {
    /// `AES256` or `aws:kms`.
    pub algorithm: String,
    /// The KMS key (ARN) for `aws:kms`.
    pub kms_key_id: Option<String>,
    /// The encryption context given with `x-amz-server-side-encryption-context`, if any.
    #[serde(default)]
    pub context: Option<String>,
    /// The wrapped data key (base64 ciphertext blob), once the KMS integration stores one.
    #[serde(default)]
    pub encrypted_data_key: Option<String>,
}

/// What is stored about an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The data file id.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// The ETag without quotes (hex MD5, or `md5-of-md5s-N` for multipart).
    pub etag: String,
    /// Last modified, epoch seconds.
    pub last_modified: i64,
    /// The account that wrote it.
    pub owner: String,
    /// Standard headers stored with the object: `content-type`, `content-encoding`,
    /// `content-disposition`, `content-language`, `cache-control`, `expires`.
    pub headers: Vec<(String, String)>,
    /// User metadata (`x-amz-meta-*`), names lower case without the prefix.
    pub user_meta: Vec<(String, String)>,
    /// The checksum sent with the object (algorithm header name, base64 value), if any.
    pub checksum: Option<(String, String)>,
    /// Server-side encryption.
    pub sse: Option<Sse>,
    /// Parts of a multipart object.
    pub parts_count: Option<u32>,
    /// Object tags (`x-amz-tagging`).
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The upload id.
    pub id: String,
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Initiated, epoch seconds.
    pub initiated: i64,
    /// The initiator's principal ARN.
    pub initiator: String,
    /// The metadata the completed object gets (file, size and etag are filled on completion).
    pub meta: ObjectMeta,
}

/// An uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// 1 to 10 000.
    pub number: u32,
    /// The data file id.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// Hex MD5 (the part's ETag without quotes).
    pub etag: String,
    /// Last modified.
    pub last_modified: i64,
    /// Checksum sent with the part (header name, value).
    pub checksum: Option<(String, String)>,
}

/// One listed object.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Key.
    pub key: String,
    /// Metadata.
    pub meta: ObjectMeta,
}

const MIGRATIONS: [&str; 1] = ["CREATE TABLE objects (
        bucket TEXT NOT NULL,
        key    TEXT NOT NULL,
        data   TEXT NOT NULL,
        PRIMARY KEY (bucket, key)
    ) WITHOUT ROWID;
    CREATE TABLE uploads (
        id     TEXT NOT NULL PRIMARY KEY,
        bucket TEXT NOT NULL,
        key    TEXT NOT NULL,
        data   TEXT NOT NULL
    );
    CREATE INDEX uploads_by_key ON uploads (bucket, key, id);
    CREATE TABLE parts (
        upload TEXT NOT NULL,
        number INTEGER NOT NULL,
        data   TEXT NOT NULL,
        PRIMARY KEY (upload, number)
    ) WITHOUT ROWID;"];

/// The S3 object store of one cloud.
#[derive(Debug)]
pub struct ObjectStore {
    root: PathBuf,
    conn: Mutex<Connection>,
}

fn dir_err(path: &Path) -> impl Fn(std::io::Error) -> CloudError + '_ {
    move |source| CloudError::DataDir {
        path: path.display().to_string(),
        source,
    }
}

impl ObjectStore {
    /// Opens (creating) the store in `root`, applies migrations and removes leftovers of
    /// interrupted writes.
    pub fn open(root: &Path) -> Result<ObjectStore, CloudError> {
        for sub in ["", "data", "tmp"] {
            let p = root.join(sub);
            std::fs::create_dir_all(&p).map_err(dir_err(&p))?;
        }
        let db = root.join("meta.sqlite3");
        let display = db.display().to_string();
        let err = |source| StoreError::Sqlite {
            path: display.clone(),
            source,
        };
        let conn = Connection::open(&db).map_err(err)?;
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
            }
            .into());
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
        let store = ObjectStore {
            root: root.to_path_buf(),
            conn: Mutex::new(conn),
        };
        store.sweep()?;
        Ok(store)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.root.join("meta.sqlite3").display().to_string(),
            source,
        }
    }

    /// Removes temp files and data files no row refers to (left by a crash).
    fn sweep(&self) -> Result<(), CloudError> {
        let tmp = self.root.join("tmp");
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let mut referenced = std::collections::HashSet::new();
        {
            let conn = self.conn();
            for table in ["objects", "parts"] {
                let mut stmt = conn
                    .prepare(&format!("SELECT data FROM {table}"))
                    .map_err(|e| self.sqlite(e))?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(|e| self.sqlite(e))?;
                for data in rows.flatten() {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&data)
                        && let Some(f) = v.get("file").and_then(|f| f.as_str())
                    {
                        referenced.insert(f.to_string());
                    }
                }
            }
        }
        let data = self.root.join("data");
        if let Ok(dirs) = std::fs::read_dir(&data) {
            for d in dirs.flatten() {
                if let Ok(files) = std::fs::read_dir(d.path()) {
                    for f in files.flatten() {
                        let name = f.file_name().to_string_lossy().into_owned();
                        if !referenced.contains(&name) {
                            let _ = std::fs::remove_file(f.path());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A new temp file path for a body being received.
    pub fn temp_path(&self) -> (String, PathBuf) {
        let id = new_file_id();
        let path = self.root.join("tmp").join(&id);
        (id, path)
    }

    /// Where data file `id` lives.
    pub fn data_path(&self, id: &str) -> PathBuf {
        let fan = id.get(..2).unwrap_or("00");
        self.root.join("data").join(fan).join(id)
    }

    /// Moves a fully written and fsynced temp file into place (rename, then fsync the
    /// directory). The caller commits the metadata afterwards.
    pub fn install(&self, id: &str, temp: &Path) -> std::io::Result<()> {
        let dest = self.data_path(id);
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&dir)?;
        std::fs::rename(temp, &dest)?;
        sync_dir(&dir)
    }

    /// Removes a data file (after the row that used it is gone).
    pub fn remove_file(&self, id: &str) {
        let _ = std::fs::remove_file(self.data_path(id));
    }

    /// An object's metadata.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let conn = self.conn();
        let data: Option<String> = conn
            .query_row(
                "SELECT data FROM objects WHERE bucket = ?1 AND key = ?2",
                params![bucket, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        data.map(|d| decode("object", key, &d)).transpose()
    }

    /// Stores an object's metadata (its file already installed); the replaced object's
    /// file is removed.
    pub fn put(&self, bucket: &str, key: &str, meta: &ObjectMeta) -> Result<(), StoreError> {
        let old = {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
            let old: Option<String> = tx
                .query_row(
                    "SELECT data FROM objects WHERE bucket = ?1 AND key = ?2",
                    params![bucket, key],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.sqlite(e))?;
            tx.execute(
                "INSERT INTO objects (bucket, key, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (bucket, key) DO UPDATE SET data = excluded.data",
                params![bucket, key, encode(meta)],
            )
            .map_err(|e| self.sqlite(e))?;
            tx.commit().map_err(|e| self.sqlite(e))?;
            old
        };
        if let Some(old) = old.and_then(|d| decode::<ObjectMeta>("object", key, &d).ok())
            && old.file != meta.file
        {
            self.remove_file(&old.file);
        }
        Ok(())
    }

    /// Replaces an object's metadata only (same data file), such as its tags.
    pub fn update_meta(&self, bucket: &str, key: &str, meta: &ObjectMeta) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "UPDATE objects SET data = ?3 WHERE bucket = ?1 AND key = ?2",
                params![bucket, key, encode(meta)],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(n > 0)
    }

    /// Deletes an object; returns whether it existed.
    pub fn delete(&self, bucket: &str, key: &str) -> Result<bool, StoreError> {
        let old: Option<String> = {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
            let old = tx
                .query_row(
                    "SELECT data FROM objects WHERE bucket = ?1 AND key = ?2",
                    params![bucket, key],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.sqlite(e))?;
            tx.execute(
                "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
                params![bucket, key],
            )
            .map_err(|e| self.sqlite(e))?;
            tx.commit().map_err(|e| self.sqlite(e))?;
            old
        };
        match old {
            Some(d) => {
                if let Ok(m) = decode::<ObjectMeta>("object", key, &d) {
                    self.remove_file(&m.file);
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Whether the bucket holds any object or upload.
    pub fn bucket_is_empty(&self, bucket: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        let objects: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM (SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1)",
                params![bucket],
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(objects == 0)
    }

    /// Objects of `bucket` whose key starts with `prefix` and sorts after `after`, in key
    /// order, at most `limit`.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Listed>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT key, data FROM objects WHERE bucket = ?1 AND key > ?2 AND key >= ?3
                 AND substr(key, 1, length(?3)) = ?3 ORDER BY key LIMIT ?4",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(params![bucket, after, prefix, limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, data) = row.map_err(|e| self.sqlite(e))?;
            let meta: ObjectMeta = decode("object", &key, &data)?;
            out.push(Listed { key, meta });
        }
        Ok(out)
    }

    /// Records a new multipart upload.
    pub fn create_upload(&self, upload: &Upload) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO uploads (id, bucket, key, data) VALUES (?1, ?2, ?3, ?4)",
                params![upload.id, upload.bucket, upload.key, encode(upload)],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// A multipart upload by id.
    pub fn upload(&self, id: &str) -> Result<Option<Upload>, StoreError> {
        let data: Option<String> = self
            .conn()
            .query_row("SELECT data FROM uploads WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sqlite(e))?;
        data.map(|d| decode("upload", id, &d)).transpose()
    }

    /// Uploads of a bucket in (key, id) order, after the markers.
    pub fn uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        id_marker: &str,
        limit: usize,
    ) -> Result<Vec<Upload>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, data FROM uploads WHERE bucket = ?1 AND substr(key, 1, length(?2)) = ?2
                 AND (key > ?3 OR (key = ?3 AND id > ?4)) ORDER BY key, id LIMIT ?5",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(
                params![bucket, prefix, key_marker, id_marker, limit as i64],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, data) = row.map_err(|e| self.sqlite(e))?;
            out.push(decode("upload", &id, &data)?);
        }
        Ok(out)
    }

    /// Stores a part (its file installed); the replaced part's file is removed. Fails with
    /// `Ok(false)` when the upload no longer exists (the new file is then removed too).
    pub fn put_part(&self, upload: &str, part: &Part) -> Result<bool, StoreError> {
        let (exists, old) = {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM uploads WHERE id = ?1", params![upload], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| self.sqlite(e))?;
            if exists.is_none() {
                (false, None)
            } else {
                let old: Option<String> = tx
                    .query_row(
                        "SELECT data FROM parts WHERE upload = ?1 AND number = ?2",
                        params![upload, part.number],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| self.sqlite(e))?;
                tx.execute(
                    "INSERT INTO parts (upload, number, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (upload, number) DO UPDATE SET data = excluded.data",
                    params![upload, part.number, encode(part)],
                )
                .map_err(|e| self.sqlite(e))?;
                tx.commit().map_err(|e| self.sqlite(e))?;
                (true, old)
            }
        };
        if !exists {
            self.remove_file(&part.file);
            return Ok(false);
        }
        if let Some(old) = old.and_then(|d| decode::<Part>("part", upload, &d).ok()) {
            self.remove_file(&old.file);
        }
        Ok(true)
    }

    /// The parts of an upload in part-number order.
    pub fn parts(&self, upload: &str) -> Result<Vec<Part>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT data FROM parts WHERE upload = ?1 ORDER BY number")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(params![upload], |r| r.get::<_, String>(0))
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for row in rows {
            let data = row.map_err(|e| self.sqlite(e))?;
            out.push(decode("part", upload, &data)?);
        }
        Ok(out)
    }

    /// Ends an upload: removes it and its parts (rows, then files), and when `complete`
    /// stores the completed object in the same transaction. Returns `Ok(false)` if the
    /// upload was already gone.
    pub fn finish_upload(&self, upload: &Upload, complete: Option<&ObjectMeta>) -> Result<bool, StoreError> {
        let (parts, old) = {
            let mut conn = self.conn();
            let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
            let n = tx
                .execute("DELETE FROM uploads WHERE id = ?1", params![upload.id])
                .map_err(|e| self.sqlite(e))?;
            if n == 0 {
                return Ok(false);
            }
            let parts: Vec<String> = {
                let mut stmt = tx
                    .prepare("SELECT data FROM parts WHERE upload = ?1")
                    .map_err(|e| self.sqlite(e))?;
                let rows = stmt
                    .query_map(params![upload.id], |r| r.get::<_, String>(0))
                    .map_err(|e| self.sqlite(e))?;
                rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))?
            };
            tx.execute("DELETE FROM parts WHERE upload = ?1", params![upload.id])
                .map_err(|e| self.sqlite(e))?;
            let mut old = None;
            if let Some(meta) = complete {
                old = tx
                    .query_row(
                        "SELECT data FROM objects WHERE bucket = ?1 AND key = ?2",
                        params![upload.bucket, upload.key],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()
                    .map_err(|e| self.sqlite(e))?;
                tx.execute(
                    "INSERT INTO objects (bucket, key, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (bucket, key) DO UPDATE SET data = excluded.data",
                    params![upload.bucket, upload.key, encode(meta)],
                )
                .map_err(|e| self.sqlite(e))?;
            }
            tx.commit().map_err(|e| self.sqlite(e))?;
            (parts, old)
        };
        for p in parts {
            if let Ok(p) = decode::<Part>("part", &upload.id, &p) {
                self.remove_file(&p.file);
            }
        }
        if let Some(old) = old.and_then(|d| decode::<ObjectMeta>("object", &upload.key, &d).ok()) {
            self.remove_file(&old.file);
        }
        Ok(true)
    }
}

fn encode<T: Serialize>(v: &T) -> String {
    // Serializing plain data structures cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(kind: &str, key: &str, data: &str) -> Result<T, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::Corrupt {
        kind: kind.to_string(),
        key: key.to_string(),
        message: e.to_string(),
    })
}

/// A random 32-hex-digit file id.
pub fn new_file_id() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// fsyncs a directory (so a rename in it is durable).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(file: &str) -> ObjectMeta {
        ObjectMeta {
            file: file.into(),
            size: 3,
            etag: "x".into(),
            last_modified: 1,
            owner: "123456789012".into(),
            headers: vec![],
            user_meta: vec![],
            checksum: None,
            sse: None,
            parts_count: None,
            tags: vec![],
        }
    }

    #[test]
    fn objects_persist_and_orphans_are_swept() {
        let dir = std::env::temp_dir().join(format!("porteiro-s3store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = ObjectStore::open(&dir).unwrap();
        let (id, tmp) = store.temp_path();
        std::fs::write(&tmp, b"abc").unwrap();
        store.install(&id, &tmp).unwrap();
        store.put("b", "k", &meta(&id)).unwrap();
        // An installed file no row refers to (a crash before the commit).
        let (orphan, tmp2) = store.temp_path();
        std::fs::write(&tmp2, b"zzz").unwrap();
        store.install(&orphan, &tmp2).unwrap();
        let (_, leftover) = store.temp_path();
        std::fs::write(&leftover, b"half").unwrap();
        drop(store);
        let store = ObjectStore::open(&dir).unwrap();
        assert_eq!(store.get("b", "k").unwrap().unwrap().file, id);
        assert!(store.data_path(&id).exists());
        assert!(!store.data_path(&orphan).exists());
        assert!(!leftover.exists());
        let listed = store.list("b", "", "", 10).unwrap();
        assert_eq!(listed.len(), 1);
        assert!(store.delete("b", "k").unwrap());
        assert!(!store.data_path(&id).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
