//! Faults, each against the real servers: a runner killed with SIGKILL in the middle of a
//! migration. The next run finds the lock free and the database consistent with its history, and
//! goes on, applying nothing twice. (docs/RELIABILITY.md lists each fault and its test.)

mod common;

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::project::{Project, signal, text};
use godwit::db::Dialect;

/// Starts `godwit up` and returns once it has said which migration it is applying.
fn start(p: &Project) -> Child {
    let mut child = p.command(&["up"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 256];
    while !seen.contains("applying") {
        assert!(Instant::now() < deadline, "the run did not start: {seen}");
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "godwit ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    child
}

/// Waits until `probe` (a query giving one text) answers "1".
async fn until(p: &Project, probe: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.t.strings(probe).await != ["1"] {
        assert!(Instant::now() < deadline, "never: {probe}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kill(child: Child) {
    signal(&child, libc::SIGKILL);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), None, "killed by a signal: {}", text(&o));
}

/// PostgreSQL: the killed runner's session would hold the lock for as long as its statement runs
/// (here ten minutes); the server ends it once it notices the client is gone, the transaction is
/// rolled back, and the next run applies the migration once.
#[tokio::test]
async fn postgres_killed_mid_migration_rolls_back_and_the_next_run_goes_on() {
    let p = Project::new(Dialect::Postgres).await;
    // Long on the first run only: the test makes `go_on` before the second.
    p.t.write(
        "1_slow.sql",
        "CREATE TABLE made (id INT);\n\
         SELECT pg_sleep(CASE WHEN to_regclass('go_on') IS NULL THEN 600 ELSE 0 END);",
    );
    p.t.write("2_after.sql", "CREATE TABLE after_it (id INT);");
    let child = start(&p);
    until(
        &p,
        "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(CASE%' AND pid <> pg_backend_pid()",
    )
    .await;
    kill(child);
    p.t.exec("CREATE TABLE go_on (id INT)").await;

    let o = p.godwit(&["--lock-timeout", "20", "up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(p.t.history().await, ["1:true", "2:true"]);
    assert_eq!(p.t.strings("SELECT count(*)::text FROM pg_tables WHERE tablename = 'made'").await, ["1"]);
}

/// SQLite: the file's lock dies with the process and its journal rolls the transaction back.
#[tokio::test]
async fn sqlite_killed_mid_migration_rolls_back_and_the_next_run_goes_on() {
    let p = Project::new(Dialect::Sqlite).await;
    p.t.write(
        "1_slow.sql",
        "CREATE TABLE made (id INT);\n\
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < (SELECT CASE WHEN EXISTS \
         (SELECT 1 FROM sqlite_master WHERE name = 'go_on') THEN 1 ELSE 5000000000 END)) SELECT count(*) FROM c;",
    );
    let child = start(&p);
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill(child);
    p.t.exec("CREATE TABLE go_on (id INT)").await;

    let o = p.godwit(&["--lock-timeout", "20", "up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(p.t.history().await, ["1:true"]);
}

/// MariaDB: a migration goes to the server as one batch, which the server finishes without its
/// client, history row included; the next run waits for the lock, finds it applied, and goes on.
/// Nothing runs twice and nothing is left half done.
#[tokio::test]
async fn mariadb_killed_mid_migration_is_finished_by_the_server_and_the_next_run_goes_on() {
    let p = Project::new(Dialect::MySql).await;
    p.t.write("1_half.sql", "CREATE TABLE made (id INT);\nDO SLEEP(2);\nCREATE TABLE second (id INT);");
    p.t.write("2_after.sql", "CREATE TABLE after_it (id INT);");
    let child = start(&p);
    until(
        &p,
        "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DO SLEEP(2)%' \
         AND ID <> CONNECTION_ID()",
    )
    .await;
    kill(child);

    let o = p.godwit(&["--lock-timeout", "20", "up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(p.t.history().await, ["1:true", "2:true"]);
    assert_eq!(p.t.tables().await, ["after_it", "made", "second"]);
    // Applied once each: one ok event per migration.
    assert_eq!(p.t.log().await.iter().filter(|l| l.starts_with("apply:ok:")).count(), 2, "{:?}", p.t.log().await);
}
