//! The PostgreSQL adapter against a real PostgreSQL (a throwaway cluster, see `pg/mod.rs`):
//! the store's own suite, migrations, the shared write lock, and two managers over one
//! database that must not lose each other's updates.

mod pg;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use pg::PgCluster;
use porteiro_manager::clock::SystemClock;
use porteiro_manager::connector::AwsConnector;
use porteiro_manager::manager::{GroupInput, NewUser};
use porteiro_manager::model::{AccessGroup, Job, JobKind, JobState};
use porteiro_manager::postgres_store::PostgresStore;
use porteiro_manager::store::{AuditFilter, Batch, Store, StoreError, StoreExt, conformance};
use porteiro_manager::vault::{Secret, Vault};
use porteiro_manager::{Actor, Manager};

#[test]
fn the_postgres_adapter_passes_the_store_suite() {
    let Some(pg) = PgCluster::start() else { return };
    let n = AtomicU32::new(0);
    let pg = &pg;
    conformance::run_all(&|| {
        let db = format!("suite{}", n.fetch_add(1, Ordering::Relaxed));
        let store = PostgresStore::connect(&pg.database(&db)).expect("store");
        assert_eq!(store.schema_version().expect("version"), 2);
        let fail = move || {
            pg.psql(
                &db,
                "CREATE FUNCTION no_j2() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$;
                 CREATE TRIGGER no_j2 BEFORE INSERT ON documents FOR EACH ROW WHEN (NEW.id = 'j-2') EXECUTE FUNCTION no_j2();",
            );
        };
        (
            Box::new(store) as Box<dyn Store>,
            Box::new(fail) as Box<dyn Fn() + '_>,
        )
    });
}

#[test]
fn migrations_are_versioned_and_errors_are_clear() {
    let Some(pg) = PgCluster::start() else { return };
    let url = pg.database("migrations");
    let store = PostgresStore::connect(&url).expect("store");
    let mut b = Batch::new();
    b.put(&job("j-1")).expect("put");
    store.commit(&b).expect("commit");
    drop(store);
    // Opening again keeps the data and the version.
    let store = PostgresStore::connect(&url).expect("again");
    assert_eq!(store.schema_version().expect("version"), 2);
    assert!(store.get::<Job>("j-1").expect("get").is_some());
    assert!(
        store.target().contains("/migrations as porteiro"),
        "{}",
        store.target()
    );
    drop(store);
    pg.psql("migrations", "UPDATE porteiro_schema SET version = 99");
    let e = PostgresStore::connect(&url).expect_err("too new");
    assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("upgrade Porteiro"), "{e}");

    let e = PostgresStore::connect("postgres://x:y@127.0.0.1:notaport/db").expect_err("bad url");
    assert!(e.to_string().contains("database URL is not valid"), "{e}");
    // Nothing listens there: the message names the server, never the password.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let e = PostgresStore::connect(&format!("postgres://porteiro:hunter2-secret@127.0.0.1:{port}/db"))
        .expect_err("unreachable");
    let msg = e.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}/db as porteiro")), "{msg}");
    assert!(msg.contains("PORTEIRO_DATABASE_URL"), "{msg}");
    assert!(!msg.contains("hunter2"), "no password in errors: {msg}");
}

fn job(id: &str) -> Job {
    Job {
        id: id.into(),
        // A credential that does not exist: the job has nothing to do and succeeds at once.
        kind: JobKind::ExpireCredential {
            credential_id: format!("cr-gone-{id}"),
        },
        state: JobState::Pending,
        due_at: 0,
        attempts: 0,
        max_attempts: 3,
        history: vec![],
        created: 0,
    }
}

#[test]
fn the_write_lock_is_shared_by_every_store_over_the_database() {
    let Some(pg) = PgCluster::start() else { return };
    let url = pg.database("locks");
    let a = PostgresStore::connect(&url).expect("a");
    let b = PostgresStore::connect(&url).expect("b");
    assert!(a.try_lock_writes().expect("a locks"));
    assert!(a.try_lock_writes().expect("a again"), "held already");
    assert!(!b.try_lock_writes().expect("b tries"), "a holds it");
    a.unlock_writes().expect("a unlocks");
    assert!(b.try_lock_writes().expect("b locks"));
    assert!(!a.try_lock_writes().expect("a tries"));
    // A store that goes away (a Porteiro that dies) releases the lock with its connection.
    drop(b);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !a.try_lock_writes().expect("a tries") {
        assert!(std::time::Instant::now() < deadline, "the lock was not released");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn manager(url: &str) -> (Arc<Manager>, Arc<PostgresStore>) {
    let store = Arc::new(PostgresStore::connect(url).expect("store"));
    let clock = Arc::new(SystemClock);
    let m = Manager::new(
        store.clone(),
        Vault::from_key(&[7u8; 32]),
        Arc::new(AwsConnector::with_clock(clock.clone())),
        clock,
    );
    (Arc::new(m), store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_managers_over_one_database_lose_no_update() {
    let Some(pg) = PgCluster::start() else { return };
    let url = pg.database("shared");
    let (one, store) = manager(&url);
    let (two, _) = manager(&url);
    assert!(
        one.bootstrap_admin("admin", &Secret::new("admin-password-1"))
            .await
            .expect("bootstrap")
    );
    assert!(
        !two.bootstrap_admin("admin", &Secret::new("admin-password-1"))
            .await
            .expect("bootstrap"),
        "the second instance sees the first one's administrator"
    );
    let token = one
        .login("admin", "admin-password-1", None)
        .await
        .expect("login")
        .0;
    // A token from one instance works on the other.
    let admin: Actor = two.authenticate(token.expose(), None).expect("auth");

    // Many users in one group; each instance deletes half of them at the same time. Each
    // deletion rewrites the group without its member (read-modify-write): without the shared
    // lock, one instance's write would bring back a member the other just removed.
    const USERS: usize = 16;
    let mut ids = Vec::new();
    for i in 0..USERS {
        let u = one
            .create_user(
                &admin,
                NewUser {
                    name: format!("User {i}"),
                    username: format!("user{i}"),
                    email: None,
                    password: format!("user-{i}-password"),
                    admin: false,
                },
            )
            .await
            .expect("user");
        ids.push(u.id);
    }
    let group = two
        .create_group(
            &admin,
            GroupInput {
                name: "everyone".into(),
                description: String::new(),
                members: ids.clone(),
                permissions: vec![],
            },
        )
        .await
        .expect("group");
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let m = if i % 2 == 0 { one.clone() } else { two.clone() };
        let (admin, id) = (admin.clone(), id.clone());
        tasks.push(tokio::spawn(async move { m.delete_user(&admin, &id).await }));
    }
    for t in tasks {
        t.await.expect("task").expect("delete");
    }
    let g: AccessGroup = store.get(&group.id).expect("get").expect("group");
    assert!(g.members.is_empty(), "lost updates: {:?}", g.members);
    let deletes = store
        .audit(&AuditFilter {
            action_prefix: Some("user.delete".into()),
            ..AuditFilter::default()
        })
        .expect("audit");
    assert_eq!(deletes.len(), USERS);

    // Due jobs seen by both schedulers run once: one instance claims each.
    let mut b = Batch::new();
    for i in 0..8 {
        b.put(&job(&format!("j-{i}"))).expect("put");
    }
    store.commit(&b).expect("jobs");
    let (r1, r2) = tokio::join!(one.run_due_jobs(), two.run_due_jobs());
    assert_eq!(r1.expect("one") + r2.expect("two"), 8, "each job ran once");
    for i in 0..8 {
        let j: Job = store.get(&format!("j-{i}")).expect("get").expect("job");
        assert_eq!(j.state, JobState::Done);
        assert_eq!(j.history.len(), 1, "one attempt: {:?}", j.history);
        assert_eq!(j.due_at, 0, "the claim's lease is undone once it ran");
    }
}
