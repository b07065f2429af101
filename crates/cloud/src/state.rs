//! The cloud's state: every entity in memory, persisted write-through.
//!
//! Readers take an immutable snapshot (`Arc<State>`) and never wait for writers. A writer
//! clones the state, applies its change to the clone, persists exactly the rows it touched in
//! one SQLite transaction, and only then publishes the clone. A failed change (a validation
//! error or a database error) leaves both memory and disk as they were.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{
    AccessKey, Account, Bucket, Group, KmsAlias, KmsKey, LoginProfile, ManagedPolicy, Role, Session, User,
};
use crate::store::{Change, Store, StoreError};

/// Every entity of the cloud.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Accounts by id.
    pub accounts: BTreeMap<String, Account>,
    /// Users by `account/lower-case name`.
    pub users: BTreeMap<String, User>,
    /// Groups by `account/lower-case name`.
    pub groups: BTreeMap<String, Group>,
    /// Roles by `account/lower-case name`.
    pub roles: BTreeMap<String, Role>,
    /// Managed policies by `account/lower-case name` (`aws/...` for AWS managed policies).
    pub policies: BTreeMap<String, ManagedPolicy>,
    /// Long-term access keys by id.
    pub keys: BTreeMap<String, AccessKey>,
    /// Login profiles by `account/lower-case user name`.
    pub login_profiles: BTreeMap<String, LoginProfile>,
    /// Temporary credentials by access key id.
    pub sessions: BTreeMap<String, Session>,
    /// S3 buckets by name.
    pub buckets: BTreeMap<String, Bucket>,
    /// Web console sessions by the SHA-256 (hex) of their cookie.
    pub console_sessions: BTreeMap<String, crate::console::ConsoleSession>,
    /// Console sign-in tokens (federation, password reset) by the SHA-256 (hex) of the token.
    pub signin_tokens: BTreeMap<String, crate::console::SigninToken>,
    /// KMS keys by key id.
    pub kms_keys: BTreeMap<String, KmsKey>,
    /// KMS aliases by `account/region/alias/NAME`.
    pub kms_aliases: BTreeMap<String, KmsAlias>,
    /// Incremented by every change; caches compare it.
    pub generation: u64,
}

/// The key of a named entity: `account/lower-case name` (IAM names are case-insensitive).
pub fn name_key(account: &str, name: &str) -> String {
    format!("{account}/{}", name.to_lowercase())
}

/// A stored kind of entity.
pub trait Entity: Serialize + DeserializeOwned + Clone {
    /// The kind name in the database.
    const KIND: &'static str;
    /// The entity's key.
    fn key(&self) -> String;
    /// The map that holds this kind.
    fn map(state: &mut State) -> &mut BTreeMap<String, Self>;
}

macro_rules! entity {
    ($ty:ty, $kind:literal, $field:ident, |$e:ident| $key:expr) => {
        impl Entity for $ty {
            const KIND: &'static str = $kind;
            fn key(&self) -> String {
                let $e = self;
                $key
            }
            fn map(state: &mut State) -> &mut BTreeMap<String, Self> {
                &mut state.$field
            }
        }
    };
}

entity!(Account, "account", accounts, |e| e.id.clone());
entity!(User, "user", users, |e| name_key(&e.account, &e.name));
entity!(Group, "group", groups, |e| name_key(&e.account, &e.name));
entity!(Role, "role", roles, |e| name_key(&e.account, &e.name));
entity!(ManagedPolicy, "policy", policies, |e| name_key(
    &e.account, &e.name
));
entity!(AccessKey, "access_key", keys, |e| e.id.clone());
entity!(LoginProfile, "login_profile", login_profiles, |e| name_key(
    &e.account, &e.user
));
entity!(Session, "session", sessions, |e| e.access_key_id.clone());
entity!(Bucket, "bucket", buckets, |e| e.name.clone());
entity!(KmsKey, "kms_key", kms_keys, |e| e.id.clone());
entity!(KmsAlias, "kms_alias", kms_aliases, |e| alias_key(
    &e.account, &e.region, &e.name
));

/// The key of a KMS alias: `account/region/alias/NAME` (alias names are case-sensitive).
pub fn alias_key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

/// A change in progress: mutations of the (cloned) state, recorded for persistence.
#[derive(Debug)]
pub struct Tx<'a> {
    /// The state being changed.
    pub state: &'a mut State,
    changes: Vec<Change>,
}

impl Tx<'_> {
    /// Inserts or replaces an entity.
    pub fn put<T: Entity>(&mut self, entity: T) {
        let key = entity.key();
        // Serializing plain data structures cannot fail.
        let data = serde_json::to_string(&entity).unwrap_or_default();
        self.changes.push(Change::Put {
            kind: T::KIND,
            key: key.clone(),
            data,
        });
        T::map(self.state).insert(key, entity);
    }

    /// Removes an entity by key.
    pub fn delete<T: Entity>(&mut self, key: &str) -> Option<T> {
        self.changes.push(Change::Delete {
            kind: T::KIND,
            key: key.to_string(),
        });
        T::map(self.state).remove(key)
    }
}

/// The shared, persisted state.
#[derive(Debug)]
pub struct Shared {
    current: RwLock<Arc<State>>,
    writer: Mutex<()>,
    store: Store,
    seen_version: Mutex<i64>,
}

impl Shared {
    /// Loads the state from the store.
    pub fn load(store: Store) -> Result<Shared, StoreError> {
        let state = read_all(&store)?;
        let version = store.data_version()?;
        Ok(Shared {
            current: RwLock::new(Arc::new(state)),
            writer: Mutex::new(()),
            store,
            seen_version: Mutex::new(version),
        })
    }

    /// Reloads the state when another process (such as `porteiro cloud account create`)
    /// changed the database. Returns whether it reloaded.
    pub fn reload_if_changed(&self) -> Result<bool, StoreError> {
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let version = self.store.data_version()?;
        let mut seen = self
            .seen_version
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if version == *seen {
            return Ok(false);
        }
        let mut state = read_all(&self.store)?;
        state.generation = self.snapshot().generation + 1;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(state);
        *seen = version;
        Ok(true)
    }
}

fn read_all(store: &Store) -> Result<State, StoreError> {
    {
        let mut state = State::default();
        for (kind, key, data) in store.load_all()? {
            let corrupt = |e: serde_json::Error| StoreError::Corrupt {
                kind: kind.clone(),
                key: key.clone(),
                message: e.to_string(),
            };
            match kind.as_str() {
                "account" => insert::<Account>(&mut state, &data).map_err(corrupt)?,
                "user" => insert::<User>(&mut state, &data).map_err(corrupt)?,
                "group" => insert::<Group>(&mut state, &data).map_err(corrupt)?,
                "role" => insert::<Role>(&mut state, &data).map_err(corrupt)?,
                "policy" => insert::<ManagedPolicy>(&mut state, &data).map_err(corrupt)?,
                "access_key" => insert::<AccessKey>(&mut state, &data).map_err(corrupt)?,
                "login_profile" => insert::<LoginProfile>(&mut state, &data).map_err(corrupt)?,
                "session" => insert::<Session>(&mut state, &data).map_err(corrupt)?,
                "bucket" => insert::<Bucket>(&mut state, &data).map_err(corrupt)?,
                "console_session" => {
                    insert::<crate::console::ConsoleSession>(&mut state, &data).map_err(corrupt)?
                }
                "signin_token" => {
                    insert::<crate::console::SigninToken>(&mut state, &data).map_err(corrupt)?
                }
                "kms_key" => insert::<KmsKey>(&mut state, &data).map_err(corrupt)?,
                "kms_alias" => insert::<KmsAlias>(&mut state, &data).map_err(corrupt)?,
                _ => {}
            }
        }
        Ok(state)
    }
}

impl Shared {
    /// The current state (a cheap, immutable snapshot).
    pub fn snapshot(&self) -> Arc<State> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Applies a change atomically. `f` returns an error to abandon the change.
    pub fn mutate<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = (*self.snapshot()).clone();
        let mut tx = Tx {
            state: &mut next,
            changes: Vec::new(),
        };
        let result = f(&mut tx)?;
        let changes = std::mem::take(&mut tx.changes);
        if changes.is_empty() {
            return Ok(result);
        }
        self.store.apply(&changes)?;
        next.generation += 1;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        Ok(result)
    }
}

fn insert<T: Entity>(state: &mut State, data: &str) -> Result<(), serde_json::Error> {
    let entity: T = serde_json::from_str(data)?;
    T::map(state).insert(entity.key(), entity);
    Ok(())
}
