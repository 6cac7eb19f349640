//! The engine against real PostgreSQL, MariaDB and SQLite.

mod common;

use std::time::Duration;

use common::TestDb;
use godwit::db::Dialect;
use godwit::event::RunEvent;
use godwit::migration::plan::DownTarget;
use godwit::migration::runner::{self, RunOptions};
use godwit::migration::source::Source;
use godwit::{ErrorKind, Problem};

fn opts() -> RunOptions {
    RunOptions { lock_timeout: Duration::from_secs(10), ..Default::default() }
}

fn three(t: &TestDb) {
    t.write(
        "1_create_users.up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100));\n-- trailing comment",
    );
    t.write("1_create_users.down.sql", "DROP TABLE users;");
    t.write("2_create_posts.up.sql", "CREATE TABLE posts (id INTEGER PRIMARY KEY, title VARCHAR(100) DEFAULT 'a;b');\nINSERT INTO posts (id) VALUES (1);");
    t.write("2_create_posts.down.sql", "DROP TABLE posts;\n");
    t.write("3_nothing.up.sql", "-- only a comment: recorded, never sent\n");
    t.write("3_nothing.down.sql", "-- nothing to undo\n");
}

async fn up_then_down(d: Dialect) {
    let t = TestDb::new(d).await;
    three(&t);
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let mut events = Vec::new();
    let report = runner::up(db.as_mut(), &source, None, &opts(), &mut |e| events.push(e.clone())).await.unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.done.len(), 3);
    assert_eq!(t.tables().await, vec!["posts", "users"]);
    assert_eq!(t.history().await, vec!["1:true", "2:true", "3:true"]);
    assert_eq!(t.log().await, vec!["apply:ok:1", "apply:ok:2", "apply:ok:3"]);
    assert!(matches!(events.first(), Some(RunEvent::Started { total: 3, .. })));
    assert!(matches!(events.last(), Some(RunEvent::Finished { done: 3, cancelled: false, .. })));
    // execution_time is measured, not left at sqlx's -1.
    let applied = db.applied().await.unwrap();
    assert!(applied[..2].iter().all(|a| a.execution_time > 0), "{applied:?}");
    // One measured time: what the run showed is what the history and the log hold.
    let shown: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::MigrationFinished { duration_ns, .. } => Some(*duration_ns),
            _ => None,
        })
        .collect();
    assert_eq!(shown, report.done.iter().map(|d| d.duration_ns).collect::<Vec<_>>());
    assert_eq!(shown, applied.iter().map(|a| a.execution_time).collect::<Vec<_>>());
    let mut logged: Vec<i64> = db.events(None, 10).await.unwrap().iter().filter_map(|e| e.duration_ns).collect();
    logged.reverse();
    assert_eq!(shown, logged);
    // Status names who applied each one.
    let me = godwit::db::actor();
    assert_eq!(db.appliers().await.unwrap(), vec![(1, me.clone()), (2, me.clone()), (3, me.clone())]);

    // Nothing left to do.
    let again = runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap();
    assert!(again.planned.is_empty());

    let r = runner::down(db.as_mut(), &source, DownTarget::Steps(2), &opts(), &mut |_| {}).await.unwrap();
    assert_eq!(r.done.iter().map(|d| d.version).collect::<Vec<_>>(), vec![3, 2]);
    let logged: Vec<i64> = db.events(None, 2).await.unwrap().iter().rev().filter_map(|e| e.duration_ns).collect();
    assert_eq!(r.done.iter().map(|d| d.duration_ns).collect::<Vec<_>>(), logged);
    assert_eq!(t.tables().await, vec!["users"]);
    assert_eq!(t.history().await, vec!["1:true"]);
    // Rolled back: nobody is named for 2 and 3 until they are applied again.
    assert_eq!(db.appliers().await.unwrap(), vec![(1, me.clone())]);
    runner::down(db.as_mut(), &source, DownTarget::To(0), &opts(), &mut |_| {}).await.unwrap().into_result().unwrap();
    assert!(t.tables().await.is_empty());
    assert!(t.log().await.ends_with(&["rollback:ok:3".into(), "rollback:ok:2".into(), "rollback:ok:1".into()]));
    db.close().await;
}

/// A failing migration: PostgreSQL and SQLite are left exactly as before it; MariaDB, whose DDL
/// commits itself, is marked failed and refuses to go on until `resolve`.
async fn failing_migration(d: Dialect) {
    let t = TestDb::new(d).await;
    t.write("1_ok.up.sql", "CREATE TABLE a (id INTEGER);");
    t.write("1_ok.down.sql", "DROP TABLE a;");
    t.write(
        "2_bad.up.sql",
        "-- a header line\nCREATE TABLE b (id INTEGER);\nINSERT INTO b VALUES (1);\nINSERT INTO nowhere VALUES (1);\n",
    );
    t.write("2_bad.down.sql", "DROP TABLE b;");
    t.write("3_later.up.sql", "CREATE TABLE c (id INTEGER);");
    t.write("3_later.down.sql", "DROP TABLE c;");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let mut failed = None;
    let report = runner::up(db.as_mut(), &source, None, &opts(), &mut |e| {
        if let RunEvent::MigrationFailed { dirty, .. } = e {
            failed = Some(*dirty);
        }
    })
    .await
    .unwrap();
    let err = report.failure.as_ref().expect("migration 2 fails");
    assert_eq!(err.problem, Problem::MigrationFailed { version: 2 });
    assert!(err.message.contains("2_bad.up.sql") && err.message.contains("nowhere"), "{}", err.message);
    assert!(err.message.contains("1 of 3"), "{}", err.message);
    // The history keeps the migration's own error; the run's account ("1 of 3 …") is not its.
    let logged = db.events(Some(2), 1).await.unwrap().remove(0).error.unwrap();
    assert!(logged.contains("nowhere") && !logged.contains("1 of 3"), "{logged}");
    // The database says where: the failing statement is on line 4.
    assert_eq!(err.location.as_ref().map(|l| l.line), Some(4), "{:?}", err.location);
    assert_eq!(report.done.len(), 1);

    if d == Dialect::MySql {
        assert_eq!(failed, Some(true));
        // What ran before the failure, so a person knows what to fix by hand.
        assert!(err.message.contains("2 statement(s) before it (lines 2–3) ran"), "{}", err.message);
        assert_eq!(t.tables().await, vec!["a", "b"]);
        assert_eq!(t.history().await, vec!["1:true", "2:false"]);
        assert_eq!(t.log().await, vec!["apply:ok:1", "apply:partial:2"]);
        let e = runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap_err();
        assert_eq!(e.remedies, [godwit::error::Remedy::resolve(2)]);
        assert_eq!(t.tables().await, vec!["a", "b"], "nothing ran after the refusal");
    } else {
        assert_eq!(failed, Some(false));
        assert_eq!(t.tables().await, vec!["a"], "the failed migration left nothing");
        assert_eq!(t.history().await, vec!["1:true"]);
        assert_eq!(t.log().await, vec!["apply:ok:1", "apply:failed:2"]);
    }
    db.close().await;
}

/// A failure in the first statement changes nothing, even on MariaDB.
async fn failing_first_statement_is_clean(d: Dialect) {
    let t = TestDb::new(d).await;
    t.write("1_bad.up.sql", "CREATE TABLE a (id INTEGER);\nCREATE TABLE a (id INTEGER);");
    t.write("1_bad.down.sql", "DROP TABLE a;");
    t.write("2_bad.up.sql", "ALTER TABLE nowhere ADD COLUMN x INTEGER;");
    t.write("2_bad.down.sql", "");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let r = runner::up(db.as_mut(), &source, Some(1), &opts(), &mut |_| {}).await.unwrap();
    assert!(r.failure.is_some());
    if d == Dialect::MySql {
        // The first CREATE committed; the second failed: part way.
        assert_eq!(t.history().await, vec!["1:false"]);
        return;
    }
    assert!(t.history().await.is_empty());
    let t2 = TestDb::new(d).await;
    t2.write("2_bad.up.sql", "ALTER TABLE nowhere ADD COLUMN x INTEGER;");
    let source = Source::load(&t2.migrations()).unwrap();
    let mut db = t2.connect().await;
    let r = runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap();
    assert!(r.failure.is_some());
    assert!(t2.history().await.is_empty(), "a first statement that fails leaves no history row");
}

async fn mariadb_first_ddl_failure_is_clean() {
    let t = TestDb::new(Dialect::MySql).await;
    t.write("1_bad.up.sql", "ALTER TABLE nowhere ADD COLUMN x INTEGER;\nCREATE TABLE z (id INTEGER);");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let r = runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap();
    let e = r.failure.unwrap();
    assert_eq!(e.problem, Problem::MigrationFailed { version: 1 });
    assert!(t.history().await.is_empty());
    assert_eq!(t.log().await, vec!["apply:failed:1"]);
    db.close().await;
}

#[tokio::test]
async fn mariadb_failure_in_first_ddl_statement_leaves_no_marker() {
    mariadb_first_ddl_failure_is_clean().await;
}

/// Both ways: a database migrated by Godwit reads as fully applied to sqlx's own Migrator over the
/// same folder, and one migrated by sqlx reads as fully applied to Godwit.
async fn interop_with_sqlx(d: Dialect) {
    let t = TestDb::new(d).await;
    three(&t);
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap().into_result().unwrap();
    let before = t.history().await;
    let migrator = sqlx::migrate::Migrator::new(t.migrations()).await.unwrap();
    sqlx_run(&t, &migrator).await;
    assert_eq!(t.history().await, before, "sqlx found nothing to do");

    let t2 = TestDb::new(d).await;
    three(&t2);
    sqlx_run(&t2, &migrator).await;
    let mut db2 = t2.connect().await;
    let applied = db2.applied().await.unwrap();
    let rows = godwit::migration::status::rows(&source, &applied);
    assert!(rows.iter().all(|r| r.state == godwit::migration::status::State::Applied && !r.drift), "{rows:?}");
    let r = runner::up(db2.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap();
    assert!(r.planned.is_empty());
    // And Godwit can roll back what sqlx applied.
    runner::down(db2.as_mut(), &source, DownTarget::To(0), &opts(), &mut |_| {}).await.unwrap().into_result().unwrap();
    assert!(t2.tables().await.is_empty());
    db.close().await;
    db2.close().await;
}

async fn sqlx_run(t: &TestDb, m: &sqlx::migrate::Migrator) {
    use sqlx::{ConnectOptions, Connection};
    match t.dialect {
        Dialect::Postgres => m.run(&mut sqlx::PgConnection::connect(&t.url).await.unwrap()).await.unwrap(),
        Dialect::MySql => m.run(&mut sqlx::MySqlConnection::connect(&t.url).await.unwrap()).await.unwrap(),
        Dialect::Sqlite => {
            let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(t.sqlite_path())
                .create_if_missing(true)
                .connect()
                .await
                .unwrap();
            m.run(&mut c).await.unwrap()
        }
    }
}

/// Drift, missing files and out-of-order pendings stop a run before anything is sent.
async fn refusals(d: Dialect) {
    let t = TestDb::new(d).await;
    three(&t);
    let mut db = t.connect().await;
    let source = Source::load(&t.migrations()).unwrap();
    runner::up(db.as_mut(), &source, Some(2), &opts(), &mut |_| {}).await.unwrap().into_result().unwrap();

    t.write("1_create_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY); -- edited");
    let edited = Source::load(&t.migrations()).unwrap();
    let e = runner::up(db.as_mut(), &edited, None, &opts(), &mut |_| {}).await.unwrap_err();
    assert_eq!(e.problem, Problem::Drift { version: 1 });
    assert_eq!((e.kind(), e.exit_code()), (ErrorKind::Decision, 6));
    assert_eq!(e.remedies, [godwit::error::Remedy::Repair { version: 1 }]);
    assert_eq!(t.history().await, vec!["1:true", "2:true"]);

    three(&t);
    std::fs::remove_file(t.migrations().join("2_create_posts.up.sql")).unwrap();
    std::fs::remove_file(t.migrations().join("2_create_posts.down.sql")).unwrap();
    let gone = Source::load(&t.migrations()).unwrap();
    let e = runner::up(db.as_mut(), &gone, None, &opts(), &mut |_| {}).await.unwrap_err();
    assert_eq!((e.kind(), e.problem), (ErrorKind::Decision, Problem::MissingFile { version: 2 }));
    db.close().await;
}

/// Two runners on the same database: one waits for the other; neither applies anything twice.
async fn lock_serialises_runners(d: Dialect) {
    let t = TestDb::new(d).await;
    for i in 1..=15 {
        t.write(&format!("{i}_t{i}.up.sql"), &format!("CREATE TABLE t{i} (id INTEGER);"));
        t.write(&format!("{i}_t{i}.down.sql"), &format!("DROP TABLE t{i};"));
    }
    let source = Source::load(&t.migrations()).unwrap();
    let (mut a, mut b) = (t.connect().await, t.connect().await);
    let (oa, ob) = (opts(), opts());
    let (mut fa, mut fb) = (|_: &RunEvent| {}, |_: &RunEvent| {});
    let (ra, rb) = tokio::join!(
        runner::up(a.as_mut(), &source, None, &oa, &mut fa),
        runner::up(b.as_mut(), &source, None, &ob, &mut fb),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra.failure.is_none() && rb.failure.is_none(), "{:?} {:?}", ra.failure, rb.failure);
    assert_eq!(ra.done.len() + rb.done.len(), 15, "each migration ran exactly once");
    assert_eq!(t.history().await.len(), 15);

    // A held lock past the timeout is an error of its own kind.
    {
        a.lock(Duration::from_secs(5)).await.unwrap();
        let short = RunOptions { lock_timeout: Duration::from_secs(1), ..Default::default() };
        let e = runner::up(b.as_mut(), &source, None, &short, &mut |_| {}).await.unwrap_err();
        assert!(matches!(e.problem, Problem::LockHeld { .. }), "{}", e.message);
        assert_eq!(e.exit_code(), 4);
        assert_eq!(e.remedies, [godwit::error::Remedy::WaitForLock]);
        a.unlock().await.unwrap();
    }
}

/// Godwit takes sqlx's own lock: a sqlx migrator waits while Godwit holds it.
#[tokio::test]
async fn postgres_sqlx_waits_for_godwits_lock() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let mut db = t.connect().await;
    db.lock(Duration::from_secs(5)).await.unwrap();
    let url = t.url.clone();
    let dir = t.migrations();
    let sqlx_run = tokio::spawn(async move {
        let m = sqlx::migrate::Migrator::new(dir).await.unwrap();
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        m.run(&pool).await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!sqlx_run.is_finished(), "sqlx must wait for the lock Godwit holds");
    assert!(t.tables().await.is_empty());
    db.unlock().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), sqlx_run).await.unwrap().unwrap();
    assert_eq!(t.tables().await, vec!["a"]);
}

/// And on MariaDB, where sqlx's own GET_LOCK(name, -1) does nothing: Godwit's lock uses sqlx's
/// name, so a second Godwit runner waits, and the name is the one sqlx computes.
#[tokio::test]
async fn mariadb_lock_uses_sqlx_name() {
    use sqlx::Connection;
    let t = TestDb::new(Dialect::MySql).await;
    let mut db = t.connect().await;
    db.lock(Duration::from_secs(5)).await.unwrap();
    let mut c = sqlx::MySqlConnection::connect(&t.url).await.unwrap();
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let name = format!("{:x}", 0x3d32ad9e_i64 * CRC.checksum(t.name.as_bytes()) as i64);
    let free: i64 = sqlx::query_scalar("SELECT IS_FREE_LOCK(?)").bind(&name).fetch_one(&mut c).await.unwrap();
    assert_eq!(free, 0, "the lock named as sqlx names it is held");
    db.unlock().await.unwrap();
    let free: i64 = sqlx::query_scalar("SELECT IS_FREE_LOCK(?)").bind(&name).fetch_one(&mut c).await.unwrap();
    assert_eq!(free, 1);
}

/// `-- no-transaction` on PostgreSQL: each statement is sent alone, so two
/// `CREATE INDEX CONCURRENTLY` in one file work (they fail when sent as one query, as sqlx does).
#[tokio::test]
async fn postgres_no_transaction_runs_statement_by_statement() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write("1_t.up.sql", "CREATE TABLE t (a INTEGER, b TEXT);");
    t.write("1_t.down.sql", "DROP TABLE t;");
    t.write(
        "2_idx.up.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n-- a comment; with a semicolon\nCREATE INDEX CONCURRENTLY t_b ON t (b);\n",
    );
    t.write("2_idx.down.sql", "-- no-transaction\nDROP INDEX CONCURRENTLY t_b;\nDROP INDEX CONCURRENTLY t_a;\n");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap().into_result().unwrap();
    let idx = t.strings("SELECT indexname::text FROM pg_indexes WHERE tablename = 't' ORDER BY 1").await;
    assert_eq!(idx, vec!["t_a", "t_b"]);
    assert_eq!(t.history().await, vec!["1:true", "2:true"]);
    runner::down(db.as_mut(), &source, DownTarget::Steps(1), &opts(), &mut |_| {})
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert!(t.strings("SELECT indexname::text FROM pg_indexes WHERE tablename = 't'").await.is_empty());

    // sqlx's migrator sends the file as one query, which PostgreSQL refuses.
    let t2 = TestDb::new(Dialect::Postgres).await;
    t2.write("1_t.up.sql", "CREATE TABLE t (a INTEGER, b TEXT);");
    t2.write(
        "2_idx.up.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE INDEX CONCURRENTLY t_b ON t (b);\n",
    );
    let m = sqlx::migrate::Migrator::new(t2.migrations()).await.unwrap();
    use sqlx::Connection;
    let r = m.run(&mut sqlx::PgConnection::connect(&t2.url).await.unwrap()).await;
    assert!(r.is_err(), "sqlx cannot run this file; Godwit can");

    // A no-transaction file that fails after its first statement is left marked failed.
    t.write(
        "3_half.up.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY t_c ON t (a);\nCREATE INDEX CONCURRENTLY t_d ON nowhere (a);\n",
    );
    let source = Source::load(&t.migrations()).unwrap();
    let r = runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap();
    let e = r.failure.unwrap();
    assert_eq!(e.problem, Problem::MigrationFailed { version: 3 });
    assert_eq!(e.remedies, [godwit::error::Remedy::resolve(3)], "left part way: resolve it");
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(3));
    // What ran before it, so a person knows what to finish or undo.
    assert!(e.message.contains("1 statement(s) before it (line 2) ran"), "{}", e.message);
    assert_eq!(t.history().await, vec!["1:true", "2:true", "3:false"]);
    // Later runs refuse, changing nothing, until a person resolves it.
    let again = runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await;
    let e = again.and_then(|r| r.into_result()).expect_err("refused");
    assert!(e.remedies.contains(&godwit::error::Remedy::resolve(3)), "{:?}", e.remedies);
    assert_eq!(t.history().await, vec!["1:true", "2:true", "3:false"]);
    db.close().await;
}

/// Unreachable, refusing and missing databases: bounded, distinct, actionable.
#[tokio::test]
async fn connect_failures_are_bounded_and_named() {
    use godwit::db::{ConnectOptions, Target, connect};
    let opts = ConnectOptions { connect_timeout: Duration::from_secs(1), ..Default::default() };
    let here = std::path::Path::new("/");

    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e =
        connect(&Target::parse(&format!("postgres://u@127.0.0.1:{port}/x"), here).unwrap(), &opts).await.err().unwrap();
    assert_eq!(e.problem, Problem::CannotConnect);

    // A listener that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let e =
        connect(&Target::parse(&format!("mysql://u:pw@127.0.0.1:{port}/x"), here).unwrap(), &opts).await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!((e.problem, e.remedies.clone()), (Problem::CannotConnect, vec![godwit::error::Remedy::WaitForServer]));
    assert!(!e.message.contains("pw@"), "{}", e.message);

    // Databases that do not exist.
    for admin in [common::pg_admin_url(), common::mysql_admin_url()] {
        let mut u = url::Url::parse(&admin).unwrap();
        u.set_path("/godwit_no_such_db");
        let e = connect(&Target::parse(u.as_str(), here).unwrap(), &opts).await.err().unwrap();
        assert_eq!(e.problem, Problem::NoDatabase);
        assert_eq!(e.remedies, [godwit::error::Remedy::CreateDatabase]);
    }
    drop(silent);
}

/// Cancelling stops between migrations and the history says exactly what ran.
async fn cancel_between_migrations(d: Dialect) {
    let t = TestDb::new(d).await;
    for i in 1..=10 {
        t.write(&format!("{i}_t{i}.sql"), &format!("CREATE TABLE t{i} (id INTEGER);"));
    }
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let o = opts();
    let cancel = o.cancel.clone();
    let r = runner::up(db.as_mut(), &source, None, &o, &mut |e| {
        if let RunEvent::MigrationFinished { version: 4, .. } = e {
            cancel.cancel();
        }
    })
    .await
    .unwrap();
    assert!(r.cancelled);
    assert_eq!(r.done.len(), 4);
    assert_eq!(t.history().await.len(), 4);
    db.close().await;
}

/// A history row another run wrote first (here the run's own first migration plays the other
/// run, one that takes no lock) is never taken back: the second migration says another run
/// recorded it, runs nothing, and logs no failure of its own.
async fn a_row_another_run_wrote_is_never_taken_back(d: Dialect) {
    let t = TestDb::new(d).await;
    let checksum = if d == Dialect::Postgres { "decode('00', 'hex')" } else { "X'00'" };
    t.write(
        "1_sneak.up.sql",
        &format!(
            "CREATE TABLE a (id INTEGER);\nINSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (2, 'b', TRUE, {checksum}, 7);"
        ),
    );
    t.write("2_b.up.sql", "CREATE TABLE b (id INTEGER);");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let r = runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap();
    let e = r.failure.expect("migration 2 was recorded by another run");
    assert_eq!(e.problem, Problem::Raced { version: 2 }, "{}", e.message);
    assert_eq!(e.kind(), ErrorKind::Lock);
    assert_eq!(t.history().await, ["1:true", "2:true"], "the other run's row stays");
    assert_eq!(
        t.strings("SELECT TRIM(CAST(execution_time AS CHAR(20))) FROM _sqlx_migrations WHERE version = 2").await,
        ["7"]
    );
    assert_eq!(t.tables().await, ["a"], "nothing of 2 ran");
    assert_eq!(t.log().await, ["apply:ok:1"], "no failure of 2 is logged");
    db.close().await;
}

/// MariaDB commits an applied migration's history row on its own after DDL: when only the log
/// line after it fails, the migration is applied and recorded, and said so, never "another run".
#[tokio::test]
async fn mariadb_a_log_line_that_fails_after_the_history_row_leaves_it_applied() {
    let t = TestDb::new(Dialect::MySql).await;
    t.write("1_a.up.sql", "CREATE TABLE a (id INTEGER);");
    t.write("2_b.up.sql", "CREATE TABLE b (id INTEGER);");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let r = runner::up(db.as_mut(), &source, Some(1), &opts(), &mut |_| {}).await.unwrap();
    assert!(r.failure.is_none());
    t.exec("CREATE TRIGGER no_log BEFORE INSERT ON _godwit_log FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no log'")
        .await;
    let r = runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap();
    assert!(r.failure.is_none(), "{:?}", r.failure.map(|f| f.message));
    assert_eq!(t.history().await, ["1:true", "2:true"]);
    assert_eq!(t.tables().await, ["a", "b"]);
    db.close().await;
}

on_each_db!(
    a_row_another_run_wrote_is_never_taken_back,
    up_then_down,
    failing_migration,
    failing_first_statement_is_clean,
    interop_with_sqlx,
    refusals,
    lock_serialises_runners,
    cancel_between_migrations
);

/// PostgreSQL's refusal says what is in the way (its DETAIL), not only that something is.
#[tokio::test]
async fn a_postgres_refusal_names_what_depends_on_it() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write(
        "1_items.sql",
        "CREATE TABLE items (id INT, name TEXT);\nCREATE VIEW v_items AS SELECT id, name FROM items;",
    );
    t.write("2_drop.sql", "ALTER TABLE items DROP COLUMN name;");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let report = runner::up(db.as_mut(), &source, None, &opts(), &mut |_| {}).await.unwrap();
    let e = report.failure.expect("the drop is refused");
    assert!(e.message.contains("view v_items depends on column name of table items"), "{}", e.message);
    assert_eq!(t.history().await, vec!["1:true"]);
    db.close().await;
}
