//! Lock waits with retries, on the real databases: another session holds a lock the migration
//! needs; the run waits at most the lock wait, says who is in the way, tries again, and applies once
//! the lock is released, or stops after its retries having changed nothing and naming the holder.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestDb;
use godwit::db::Dialect;
use godwit::error::Problem;
use godwit::event::RunEvent;
use godwit::migration::runner::{self, RunOptions};
use godwit::migration::source::Source;
use godwit::migration::waits::Waits;
use sqlx::{Connection, Executor};

/// Another session holding a lock on `todos` that an ALTER TABLE must wait for: a transaction that
/// read it (PostgreSQL, MariaDB), or a write transaction on the file from another process (SQLite).
enum Holder {
    Pg(sqlx::PgConnection),
    My(sqlx::MySqlConnection),
    Process(std::process::Child),
}

impl Holder {
    /// The holder and how the run should name it.
    async fn start(t: &TestDb) -> (Holder, String) {
        match t.dialect {
            Dialect::Postgres => {
                let mut c = sqlx::PgConnection::connect(&t.url).await.unwrap();
                let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut c).await.unwrap();
                c.execute("BEGIN; SELECT count(*) FROM todos").await.unwrap();
                (Holder::Pg(c), format!("server process {pid}"))
            }
            Dialect::MySql => {
                let mut c = sqlx::MySqlConnection::connect(&t.url).await.unwrap();
                let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()").fetch_one(&mut c).await.unwrap();
                c.execute("START TRANSACTION").await.unwrap();
                c.execute("SELECT count(*) FROM todos").await.unwrap();
                (Holder::My(c), format!("connection {id}"))
            }
            Dialect::Sqlite => {
                // Another program with a write transaction open; it says when it has the lock.
                let script = "import sqlite3, sys, time\n\
                              c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
                              c.execute('BEGIN IMMEDIATE')\n\
                              c.execute('INSERT INTO todos (id, title) VALUES (99, \"held\")')\n\
                              print('locked', flush=True)\n\
                              time.sleep(120)\n";
                let mut child = std::process::Command::new("python3")
                    .args(["-c", script])
                    .arg(t.sqlite_path())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("python3 runs the holder");
                let mut line = String::new();
                std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line)
                    .unwrap();
                assert_eq!(line.trim(), "locked");
                let pid = child.id();
                (Holder::Process(child), format!("process {pid}"))
            }
        }
    }

    /// Ends the holder's transaction (a process holding a SQLite file ends).
    fn release(self) {
        match self {
            // Closing the connection ends its transaction on the server.
            Holder::Pg(c) => drop(c),
            Holder::My(c) => drop(c),
            Holder::Process(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

async fn project(d: Dialect) -> TestDb {
    let t = TestDb::new(d).await;
    if d == Dialect::Sqlite {
        t.connect().await.close().await;
    }
    t.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, title VARCHAR(50))").await;
    t.write("1_add_done.up.sql", "ALTER TABLE todos ADD COLUMN done INTEGER;\n");
    t.write("1_add_done.down.sql", "ALTER TABLE todos DROP COLUMN done;\n");
    // The history tables exist before the lock is held: the run's own bookkeeping is not what waits.
    let mut db = t.connect().await;
    db.ensure_tables().await.unwrap();
    db.close().await;
    t
}

fn waits(retries: u32) -> RunOptions {
    RunOptions {
        waits: Waits { lock_wait: Some(Duration::from_secs(1)), retries, statement_timeout: None },
        ..Default::default()
    }
}

async fn columns(t: &TestDb) -> Vec<String> {
    t.schema().await.into_iter().filter(|l| l.contains("todos") && l.contains("done")).collect()
}

async fn waits_retries_and_applies_once_the_lock_is_released(d: Dialect) {
    let t = project(d).await;
    let (holder, named) = Holder::start(&t).await;
    let holder = Arc::new(Mutex::new(Some(holder)));
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let mut events = Vec::new();
    let release = holder.clone();
    let report = runner::up(db.as_mut(), &source, None, &waits(3), &mut |e| {
        // The holder lets go once the run has given up once and said it tries again.
        if matches!(e, RunEvent::Retrying { attempt: 1, .. })
            && let Some(h) = release.lock().unwrap().take()
        {
            h.release();
        }
        events.push(e.clone());
    })
    .await
    .unwrap();
    db.close().await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.done.len(), 1);
    assert_eq!(t.history().await, ["1:true"]);
    assert!(!columns(&t).await.is_empty(), "the column was added");
    let retried: Vec<&RunEvent> = events.iter().filter(|e| matches!(e, RunEvent::Retrying { .. })).collect();
    assert!(!retried.is_empty(), "{events:?}");
    // Who was in the way: said while it waited (the servers), or when it gave up (SQLite's file).
    let said = |e: &RunEvent| match e {
        RunEvent::Waiting { blockers, .. } => blockers.iter().any(|b| b.session == named),
        RunEvent::Retrying { message, .. } => message.contains(&named),
        _ => false,
    };
    assert!(events.iter().any(said), "{named} is named in {events:?}");
    // A wait that ended well leaves no failure in the log.
    assert_eq!(t.log().await, ["apply:ok:1"]);
}

async fn stops_after_its_retries_having_changed_nothing_and_names_the_holder(d: Dialect) {
    let t = project(d).await;
    let (holder, named) = Holder::start(&t).await;
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let mut retries = 0;
    let report = runner::up(db.as_mut(), &source, None, &waits(1), &mut |e| {
        if matches!(e, RunEvent::Retrying { .. }) {
            retries += 1;
        }
    })
    .await
    .unwrap();
    db.close().await;
    holder.release();
    assert_eq!(retries, 1);
    let e = report.failure.expect("it gave up");
    assert_eq!(e.problem, Problem::LockWait { version: 1 });
    assert!(e.message.contains(&named), "the holder is named: {}", e.message);
    assert!(e.remedies.iter().any(|r| matches!(r, godwit::error::Remedy::WaitLongerForLocks { waited_ms: 1000 })));
    assert!(report.done.is_empty());
    assert!(t.history().await.is_empty(), "nothing recorded");
    assert!(columns(&t).await.is_empty(), "nothing changed");
    // The failure is logged where the holder lets the run write; a SQLite file it keeps locked
    // takes no log row either.
    let logged: &[&str] = if d == Dialect::Sqlite { &[] } else { &["apply:failed:1"] };
    assert_eq!(t.log().await, logged);
}

/// Without a lock wait set, nothing gives up: the run waits for the holder, however long.
async fn without_a_lock_wait_it_waits_for_the_holder(d: Dialect) {
    let t = project(d).await;
    let (holder, _) = Holder::start(&t).await;
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        holder.release();
    });
    let report = runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {}).await.unwrap();
    db.close().await;
    release.await.unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(t.history().await, ["1:true"]);
}

on_each_db!(
    waits_retries_and_applies_once_the_lock_is_released,
    stops_after_its_retries_having_changed_nothing_and_names_the_holder,
    without_a_lock_wait_it_waits_for_the_holder,
);

/// A statement timeout stops a statement that runs too long; the migration changed nothing, and
/// a longer one is offered. SQLite has none: it is refused before anything runs.
async fn a_statement_timeout_stops_a_long_statement(d: Dialect) {
    let t = project(d).await;
    let slow = match d {
        Dialect::Postgres => "SELECT pg_sleep(5);",
        Dialect::MySql => "SELECT SLEEP(5);",
        Dialect::Sqlite => "SELECT 1;",
    };
    t.write("1_add_done.up.sql", &format!("ALTER TABLE todos ADD COLUMN done INTEGER;\n{slow}\n"));
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let opts = RunOptions {
        waits: Waits { lock_wait: None, retries: 0, statement_timeout: Some(Duration::from_millis(500)) },
        ..Default::default()
    };
    let r = runner::up(db.as_mut(), &source, None, &opts, &mut |_| {}).await;
    db.close().await;
    if d == Dialect::Sqlite {
        let e = r.expect_err("refused");
        assert_eq!(e.problem, Problem::Input, "{}", e.message);
        assert!(t.history().await.is_empty());
        return;
    }
    let e = r.unwrap().failure.expect("stopped");
    let dirty = d == Dialect::MySql; // its ALTER committed itself before the long statement
    match dirty {
        false => {
            assert_eq!(e.problem, Problem::StatementTimeout { version: 1 }, "{}", e.message);
            assert!(e.remedies.iter().any(|r| matches!(r, godwit::error::Remedy::LongerStatementTimeout { ms: 500 })));
            assert!(t.history().await.is_empty());
            assert!(columns(&t).await.is_empty(), "rolled back");
        }
        true => {
            assert_eq!(e.problem, Problem::MigrationFailed { version: 1 }, "part way: {}", e.message);
            // To be finished by hand first: running it again, longer, is no way out.
            assert!(!e.remedies.iter().any(|r| matches!(r, godwit::error::Remedy::LongerStatementTimeout { .. })));
            assert_eq!(t.history().await, ["1:false"]);
        }
    }
}

mod timeouts {
    use super::*;
    #[tokio::test]
    async fn postgres() {
        a_statement_timeout_stops_a_long_statement(Dialect::Postgres).await
    }
    #[tokio::test]
    async fn mariadb() {
        a_statement_timeout_stops_a_long_statement(Dialect::MySql).await
    }
    #[tokio::test]
    async fn sqlite() {
        a_statement_timeout_stops_a_long_statement(Dialect::Sqlite).await
    }
}

/// `CREATE INDEX CONCURRENTLY` runs without the lock wait and the statement timeout (each its own
/// query: a query of several statements is a transaction, where it is refused), and the limits are
/// back for what follows.
#[tokio::test]
async fn a_concurrent_index_runs_without_the_limits_and_they_come_back() {
    let t = project(Dialect::Postgres).await;
    t.write(
        "2_index.up.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY todos_title ON todos (title);\nSELECT current_setting('lock_timeout')::text;\n",
    );
    t.write("2_index.down.sql", "-- no-transaction\nDROP INDEX CONCURRENTLY todos_title;\n");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let mut opts = waits(1);
    opts.waits.statement_timeout = Some(Duration::from_secs(30));
    let report = runner::up(db.as_mut(), &source, None, &opts, &mut |_| {}).await.unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(t.history().await, ["1:true", "2:true"]);
    let steps = godwit::migration::plan::DownTarget::Steps(1);
    let back = runner::down(db.as_mut(), &source, steps, &opts, &mut |_| {}).await.unwrap();
    assert!(back.failure.is_none(), "{:?}", back.failure);
    db.close().await;
}

/// A `-- no-transaction` file that sets its own lock timeout first: a wait on the statement after
/// that SET changed nothing, so it is a lock wait (tried again), not a migration left part way.
#[tokio::test]
async fn a_files_own_set_before_the_wait_still_changed_nothing() {
    let t = project(Dialect::Postgres).await;
    t.write(
        "1_add_done.up.sql",
        "-- no-transaction\nSET lock_timeout = '1s';\nALTER TABLE todos ADD COLUMN done INTEGER;\n",
    );
    let (holder, named) = Holder::start(&t).await;
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let report = runner::up(db.as_mut(), &source, None, &waits(1), &mut |_| {}).await.unwrap();
    db.close().await;
    holder.release();
    let e = report.failure.expect("it gave up");
    assert_eq!(e.problem, Problem::LockWait { version: 1 }, "{}", e.message);
    assert!(e.message.contains(&named), "{}", e.message);
    assert!(t.history().await.is_empty(), "no row left saying it failed part way");
}

/// A stop asked for while the run pauses before trying again: the try never starts, and the run
/// says it was stopped, not that the migration failed.
#[tokio::test]
async fn a_stop_between_tries_is_a_stop() {
    let t = project(Dialect::Postgres).await;
    let (holder, _) = Holder::start(&t).await;
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let opts = waits(3);
    let cancel = opts.cancel.clone();
    let report = runner::up(db.as_mut(), &source, None, &opts, &mut |e| {
        if matches!(e, RunEvent::Retrying { .. }) {
            cancel.cancel();
        }
    })
    .await
    .unwrap();
    db.close().await;
    holder.release();
    assert!(report.cancelled);
    assert_eq!(report.failure.expect("stopped").problem, Problem::Cancelled);
    assert!(t.history().await.is_empty());
}
