//! The state of running processes kept in the store, so that a restarted Porteiro (or a second
//! one over the same PostgreSQL database) keeps serving the browsers of the first: the web
//! UI's sign-ins and the console gateway's launches, browsers and cloud cookie jars.
//!
//! Each row is a JSON body under (kind, id) with an expiry (table `runtime_state`, see
//! [`Store::put_state`]); rows past their expiry are never read and the scheduler purges them.
//! Secrets in a body are sealed with the vault ([`Manager::seal_state`]) by the caller, and
//! browser cookies are keys only as their SHA-256.

use super::*;

/// How often the scheduler purges expired state rows (seconds).
pub(crate) const PURGE_SECONDS: i64 = 60;

impl Manager {
    /// Keeps one row of state until `expires` (epoch seconds), replacing any earlier one.
    pub fn keep_state<T: Serialize>(&self, kind: &str, id: &str, expires: i64, body: &T) -> Result<()> {
        let body = serde_json::to_string(body).map_err(|e| StoreError::Corrupt {
            kind: kind.into(),
            id: String::new(),
            message: e.to_string(),
        })?;
        self.store.put_state(kind, id, expires, &body)?;
        Ok(())
    }

    /// One row of state, unless it expired or does not read back (a row written by another
    /// version of Porteiro is dropped rather than trusted).
    pub fn kept_state<T: for<'de> Deserialize<'de>>(&self, kind: &str, id: &str) -> Result<Option<T>> {
        let Some(body) = self.store.get_state(kind, id, self.now())? else {
            return Ok(None);
        };
        match serde_json::from_str(&body) {
            Ok(v) => Ok(Some(v)),
            Err(_) => {
                self.store.delete_state(kind, id)?;
                Ok(None)
            }
        }
    }

    /// Every unexpired row of a kind: (id, body); rows that do not read back are skipped.
    pub fn kept_states<T: for<'de> Deserialize<'de>>(&self, kind: &str) -> Result<Vec<(String, T)>> {
        Ok(self
            .store
            .list_state(kind, self.now())?
            .into_iter()
            .filter_map(|(id, body)| serde_json::from_str(&body).ok().map(|v| (id, v)))
            .collect())
    }

    /// Forgets one row of state; `true` when this call removed it (a one-time row is taken by
    /// one caller only, even across instances).
    pub fn forget_state(&self, kind: &str, id: &str) -> Result<bool> {
        Ok(self.store.delete_state(kind, id)?)
    }

    /// Removes every expired row of state; how many.
    pub fn purge_state(&self) -> Result<usize> {
        Ok(self.store.purge_state(self.now())?)
    }

    /// Seals a secret of a state row with the vault (AES-256-GCM under the master key).
    pub fn seal_state(&self, secret: &str) -> Result<Sealed> {
        Ok(self.vault.seal(secret)?)
    }

    /// Opens a secret sealed by [`Manager::seal_state`].
    pub fn open_state(&self, sealed: &Sealed) -> Result<Secret> {
        Ok(self.vault.open(sealed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    #[derive(Debug)]
    struct At(std::sync::atomic::AtomicI64);
    impl Clock for At {
        fn now(&self) -> i64 {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Row {
        token: Sealed,
        n: u32,
    }

    #[tokio::test]
    async fn state_rows_keep_sealed_secrets_and_expire() {
        let store = Arc::new(crate::store::SqliteStore::in_memory().expect("store"));
        let clock = Arc::new(At(std::sync::atomic::AtomicI64::new(1000)));
        let m = Manager::new(
            store.clone(),
            Vault::from_key(&[3u8; 32]),
            Arc::new(crate::connector::AwsConnector::new()),
            clock.clone(),
        );
        let token = m.seal_state("the-manager-token").expect("seal");
        m.keep_state("web.session", "h", 1010, &Row { token, n: 1 })
            .expect("keep");
        let raw = store.get_state("web.session", "h", 0).expect("raw").expect("row");
        assert!(!raw.contains("the-manager-token"), "sealed at rest: {raw}");
        let back: Row = m.kept_state("web.session", "h").expect("read").expect("row");
        assert_eq!(
            m.open_state(&back.token).expect("open").expose(),
            "the-manager-token"
        );
        assert_eq!(m.kept_states::<Row>("web.session").expect("list").len(), 1);
        // A row that does not read back is dropped.
        store.put_state("web.session", "bad", 2000, "{").expect("put");
        assert!(m.kept_state::<Row>("web.session", "bad").expect("read").is_none());
        assert!(!m.forget_state("web.session", "bad").expect("gone"));
        clock.0.store(1010, std::sync::atomic::Ordering::SeqCst);
        assert!(
            m.kept_state::<Row>("web.session", "h").expect("read").is_none(),
            "expired"
        );
        assert_eq!(m.purge_state().expect("purge"), 1);
    }
}
