//! Faults, each against the real servers: a runner killed with SIGKILL in the middle of a
//! migration. The next run finds the lock free and the database consistent with its history, and
//! goes on, applying nothing twice. (docs/RELIABILITY.md lists each fault and its test.)

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::project::{Project, signal, start_up, text};
use common::proxy::Proxy;
use godwit::db::Dialect;

/// Waits until `probe` (a query giving one text) answers "1".
async fn until(p: &Project, probe: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.t.strings(probe).await != ["1"] {
        assert!(Instant::now() < deadline, "never: {probe}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `godwit up` running a PostgreSQL migration that sleeps ten minutes on its first run only (the
/// test makes `go_on` before the next), with a second migration after it.
async fn pg_slow_run(p: &Project) -> (Child, std::thread::JoinHandle<String>) {
    p.t.write(
        "1_slow.sql",
        "CREATE TABLE made (id INT);\n\
         SELECT pg_sleep(CASE WHEN to_regclass('go_on') IS NULL THEN 600 ELSE 0 END);",
    );
    p.t.write("2_after.sql", "CREATE TABLE after_it (id INT);");
    let run = start_up(p);
    until(
        p,
        "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(CASE%' \
         AND pid <> pg_backend_pid()",
    )
    .await;
    run
}

/// `godwit up` on MariaDB, inside a migration of three statements (the second sleeps two seconds).
async fn mariadb_batch_run(p: &Project) -> (Child, std::thread::JoinHandle<String>) {
    p.t.write("1_half.sql", "CREATE TABLE made (id INT);\nDO SLEEP(2);\nCREATE TABLE second (id INT);");
    p.t.write("2_after.sql", "CREATE TABLE after_it (id INT);");
    let run = start_up(p);
    until(
        p,
        "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE 'DO SLEEP(2)%' \
         AND ID <> CONNECTION_ID()",
    )
    .await;
    run
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
    let (child, said) = pg_slow_run(&p).await;
    kill(child);
    drop(said);
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
    let (child, said) = start_up(&p);
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill(child);
    drop(said);
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
    let (child, said) = mariadb_batch_run(&p).await;
    kill(child);
    drop(said);

    let o = p.godwit(&["--lock-timeout", "20", "up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(p.t.history().await, ["1:true", "2:true"]);
    assert_eq!(p.t.tables().await, ["after_it", "made", "second"]);
    // Applied once each: one ok event per migration.
    assert_eq!(p.t.log().await.iter().filter(|l| l.starts_with("apply:ok:")).count(), 2, "{:?}", p.t.log().await);
}

/// Points the project's `dev` at a proxy in front of its server.
async fn through_proxy(p: &Project) -> Proxy {
    let url = url::Url::parse(&p.t.url).unwrap();
    let proxy = Proxy::start(format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())).await;
    let mut via = url.clone();
    via.set_port(Some(proxy.port)).unwrap();
    std::fs::write(p.t.dir.path().join("godwit.toml"), format!("id = \"trust-test\"\n[env.dev]\nurl = \"{via}\"\n"))
        .unwrap();
    proxy
}

/// The connection cut mid-migration: exit 3, the migration rolled back on the server (which ends
/// the session once it sees the client gone), a true status, and the next run applies it once.
// The proxy runs on the test's runtime while the test blocks on the child: two worker threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_cut_mid_migration_exits_3_and_the_next_run_goes_on() {
    let p = Project::new(Dialect::Postgres).await;
    let proxy = through_proxy(&p).await;
    let (child, said) = pg_slow_run(&p).await;
    proxy.cut();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", said.join().unwrap());

    let o = p.godwit(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((status["summary"]["applied"].as_i64(), status["summary"]["pending"].as_i64()), (Some(0), Some(2)));
    p.t.exec("CREATE TABLE go_on (id INT)").await;
    let o = p.godwit(&["--lock-timeout", "20", "up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(p.t.history().await, ["1:true", "2:true"]);
}

/// MariaDB with the connection cut mid-migration: exit 3; the server finishes the batch it has, so
/// the next run finds it applied and goes on, nothing applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_connection_cut_mid_migration_exits_3_and_nothing_runs_twice() {
    let p = Project::new(Dialect::MySql).await;
    let proxy = through_proxy(&p).await;
    let (child, said) = mariadb_batch_run(&p).await;
    proxy.cut();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", said.join().unwrap());
    let o = p.godwit(&["--lock-timeout", "20", "up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(p.t.history().await, ["1:true", "2:true"]);
    assert_eq!(p.t.log().await.iter().filter(|l| l.starts_with("apply:ok:")).count(), 2, "{:?}", p.t.log().await);
}

/// A server that answers nothing: connecting gives up after --connect-timeout, exit 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_server_times_out_with_exit_3() {
    for d in [Dialect::Postgres, Dialect::MySql] {
        let p = Project::new(d).await;
        let proxy = through_proxy(&p).await;
        proxy.black_hole();
        let started = Instant::now();
        let o = p.godwit(&["--connect-timeout", "2", "status"]);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        // Bounded: the timeout fired (generously, on a loaded machine), not a TCP default.
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    }
}

/// A server that stops answering in the middle of a migration (the proxy turns into a black hole
/// while the statement runs; the connection stays up, nothing comes back): the run asks the server
/// over other connections whether it still runs it, gets no yes, and stops waiting after
/// `--stall-timeout` with exit 3. Once the server is reachable again the next run goes on, and
/// nothing was applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_silent_mid_migration_stops_the_wait_after_the_stall_timeout() {
    for d in [Dialect::Postgres, Dialect::MySql] {
        let p = Project::new(d).await;
        let proxy = through_proxy(&p).await;
        let (sleep, running) = match d {
            Dialect::Postgres => (
                "SELECT pg_sleep(1);",
                "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1)%' AND pid <> pg_backend_pid()",
            ),
            _ => (
                "DO SLEEP(1);",
                "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DO SLEEP(1)%'",
            ),
        };
        p.t.write("1_slow.sql", &format!("CREATE TABLE made (id INT);\n{sleep}"));
        p.t.write("2_after.sql", "CREATE TABLE after_it (id INT);");
        let child = p
            .command(&["--stall-timeout", "2", "--connect-timeout", "2", "up"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        until(&p, running).await;
        proxy.black_hole();
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));

        // Straight to the server now: the next run applies what is left, each migration once.
        std::fs::write(
            p.t.dir.path().join("godwit.toml"),
            format!("id = \"trust-test\"\n[env.dev]\nurl = \"{}\"\n", p.t.url),
        )
        .unwrap();
        let o = p.godwit(&["up"]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(p.t.history().await, ["1:true", "2:true"]);
        assert_eq!(p.t.tables().await, ["after_it", "made"]);
        assert_eq!(p.t.log().await.iter().filter(|l| l.starts_with("apply:ok:")).count(), 2, "{:?}", p.t.log().await);
    }
}

fn bytes_of(p: &std::path::Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// SQLite files that cannot be written: corrupt, or locked by another process. Each gives a clear
/// error (no panic: never exit 101) and leaves the file as it was.
#[tokio::test]
async fn sqlite_files_that_cannot_be_written_are_refused_and_left_as_they_were() {
    let p = Project::new(Dialect::Sqlite).await;
    p.t.write("1_a.sql", "CREATE TABLE a (id INT);");
    assert!(p.godwit(&["up"]).status.success());
    p.t.write("2_b.sql", "CREATE TABLE b (id INT);");
    let file = p.t.sqlite_path();

    // Locked by another process: a writer that holds its transaction open.
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); \
             c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(30)",
        ])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()), &mut line).unwrap();
    let before = bytes_of(&file);
    let o = p.godwit(&["--lock-timeout", "2", "up"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(matches!(o.status.code(), Some(1..=4)), "{}", text(&o));
    assert_eq!(bytes_of(&file), before);
    assert_eq!(p.t.history().await, ["1:true"]);

    // Corrupt: its header overwritten.
    let mut corrupt = bytes_of(&file);
    corrupt[..16].copy_from_slice(b"not a sqlite db!");
    std::fs::write(&file, &corrupt).unwrap();
    let o = p.godwit(&["up"]);
    assert!(matches!(o.status.code(), Some(1..=3)), "{}", text(&o));
    assert_eq!(bytes_of(&file), corrupt);
}

/// A SQLite file on a read-only file system (a tmpfs remounted read-only: the tests run as root,
/// whom file permissions do not stop): `status` still reads it, `up` is refused with a clear error,
/// and the file is left as it was.
#[tokio::test]
async fn a_read_only_sqlite_file_is_refused_and_left_as_it_was() {
    let p = Project::new(Dialect::Sqlite).await;
    p.t.write("1_a.sql", "CREATE TABLE a (id INT);");
    assert!(p.godwit(&["up"]).status.success());
    p.t.write("2_b.sql", "CREATE TABLE b (id INT);");
    let mount = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(mount.path())
        .status()
        .unwrap();
    assert!(mounted.success(), "this test needs to mount a tmpfs (run as root)");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.path().to_path_buf());
    let file = mount.path().join("ro.db");
    std::fs::copy(p.t.sqlite_path(), &file).unwrap();
    let remounted = std::process::Command::new("mount").args(["-o", "remount,ro"]).arg(mount.path()).status().unwrap();
    assert!(remounted.success());
    std::fs::write(
        p.t.dir.path().join("godwit.toml"),
        format!("id = \"trust-test\"\n[env.dev]\nurl = \"sqlite://{}\"\n", file.display()),
    )
    .unwrap();
    let before = bytes_of(&file);

    let o = p.godwit(&["status", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((status["summary"]["applied"].as_u64(), status["summary"]["pending"].as_u64()), (Some(1), Some(1)));
    let o = p.godwit(&["up"]);
    assert!(matches!(o.status.code(), Some(1..=3)), "{}", text(&o));
    assert_eq!(bytes_of(&file), before);
}

/// SQLite on a full disk (the file size limit of the process, as a filling disk gives it): the
/// run fails with an error, and the database still holds exactly what it held.
#[tokio::test]
async fn sqlite_on_a_full_disk_fails_cleanly() {
    use std::os::unix::process::CommandExt;
    let p = Project::new(Dialect::Sqlite).await;
    p.t.write("1_a.sql", "CREATE TABLE a (id INT);");
    assert!(p.godwit(&["up"]).status.success());
    let big = "INSERT INTO big SELECT randomblob(1000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 \
               FROM c WHERE x < 20000) SELECT x FROM c);";
    p.t.write("2_big.sql", &format!("CREATE TABLE big (b BLOB);\n{big}"));
    let mut c = p.command(&["up"]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: 1 << 20, rlim_max: 1 << 20 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(p.t.history().await, ["1:true"]);
    assert_eq!(p.t.tables().await, ["a"]);
    assert_eq!(p.t.strings("PRAGMA integrity_check").await, ["ok"]);
}

/// A project on a server of the test's own: a slow first migration (`slow`) and a second one after it.
fn own_server_project(url: &str, slow: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("godwit.toml"), format!("id = \"restart\"\n[env.dev]\nurl = \"{url}\"\n")).unwrap();
    std::fs::write(dir.path().join("migrations/1_slow.sql"), slow).unwrap();
    std::fs::write(dir.path().join("migrations/2_after.sql"), "CREATE TABLE after_it (id INT);").unwrap();
    dir
}

/// `godwit ARGS` started in `dir`, with config and data folders there.
fn start_godwit(dir: &std::path::Path, args: &[&str]) -> Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env("GODWIT_DATA_DIR", dir.join("data"))
        .env("GODWIT_CONFIG_DIR", dir.join("config"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The server restarted during a run, on a cluster of the test's own: exit 3 with what is true
/// once it is back (the migration rolled back), and the next run applies it once.
#[tokio::test]
async fn postgres_restarted_mid_migration_exits_3_and_the_next_run_goes_on() {
    let cluster = common::cluster::Cluster::start(None);
    let dir = own_server_project(
        &cluster.url(),
        "CREATE TABLE made (id INT);\nSELECT pg_sleep(CASE WHEN to_regclass('go_on') IS NULL THEN 600 ELSE 0 END);",
    );
    let godwit = |args: &[&str]| start_godwit(dir.path(), args);
    let query = |sql: &'static str| {
        let url = cluster.url();
        async move {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, String>(sql).fetch_all(&mut c).await.unwrap()
        }
    };
    let child = godwit(&["up"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while query(
        "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(CASE%' AND pid <> pg_backend_pid()",
    )
    .await
        != ["1"]
    {
        assert!(Instant::now() < deadline, "the migration never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.restart();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(query("SELECT count(*)::text FROM pg_tables WHERE tablename = 'made'").await, ["0"], "rolled back");

    {
        use sqlx::{Connection, Executor};
        sqlx::PgConnection::connect(&cluster.url())
            .await
            .unwrap()
            .execute("CREATE TABLE go_on (id INT)")
            .await
            .unwrap();
    }
    let o = godwit(&["up"]).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        query("SELECT string_agg(version::text || ':' || success::text, ',' ORDER BY version) FROM _sqlx_migrations")
            .await,
        ["1:true,2:true"]
    );
}

/// The MariaDB server restarted during a run (a server of the test's own, stopped with SIGTERM and
/// started again, as a service manager restarts it) while the migration's second statement waits:
/// the first one's DDL stayed (MariaDB cannot roll DDL back), so the migration is part way. Exit 3;
/// it is recorded failed, and later runs refuse, changing nothing, until a person resolves it.
#[tokio::test]
async fn mariadb_restarted_mid_migration_exits_3_and_is_left_for_a_person() {
    let mut server = common::mariadb_server::MariaDbServer::start();
    let admin = server.url("mysql");
    let query = |url: String, sql: &'static str| async move {
        use sqlx::Connection;
        let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
        sqlx::query_scalar::<_, String>(sql).fetch_all(&mut c).await.unwrap()
    };
    query(admin.clone(), "SELECT 'x' FROM DUAL WHERE 0").await;
    {
        use sqlx::{Connection, Executor};
        sqlx::MySqlConnection::connect(&admin).await.unwrap().execute("CREATE DATABASE app").await.unwrap();
    }
    let url = server.url("app");
    let dir = own_server_project(
        &url,
        "CREATE TABLE made (id INT);\n\
         DO SLEEP(IF((SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'go_on') = 0, 600, 0));\n\
         CREATE TABLE second (id INT);",
    );
    let godwit = |args: &[&str]| start_godwit(dir.path(), args);
    let child = godwit(&["up"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while query(
        url.clone(),
        "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DO SLEEP(IF%'",
    )
    .await
        != ["1"]
    {
        assert!(Instant::now() < deadline, "the migration never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.restart();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let history = || query(url.clone(), "SELECT CONCAT(version, ':', success) FROM _sqlx_migrations ORDER BY version");
    assert_eq!(history().await, ["1:0"]);
    let tables = || {
        query(
            url.clone(),
            "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME NOT LIKE '\\_%'",
        )
    };
    assert_eq!(tables().await, ["made"], "part way: the statement before the wait stayed");

    let o = godwit(&["up"]).wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(6), "a decision for a person: {}", text(&o));
    assert_eq!(tables().await, ["made"], "the refusal changed nothing");

    // The person undoes the part that ran and says so; then the run goes on.
    query(url.clone(), "DROP TABLE made").await;
    query(url.clone(), "CREATE TABLE go_on (id INT)").await;
    let o = godwit(&["resolve", "1", "--rolled-back"]).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = godwit(&["up"]).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(history().await, ["1:1", "2:1"]);
}

/// Godwit killed with SIGKILL while its dump tool works, then while its restore tool works (each
/// held at a table lock another session keeps, so the kill lands inside): the tool ends with
/// Godwit rather than going on unwatched, no backup is listed for the killed one, the restore's
/// single transaction is rolled back, and the next runs find the lock free and go on.
#[tokio::test]
async fn postgres_killed_mid_backup_and_mid_restore_leaves_nothing_half_done() {
    use sqlx::{Connection, Executor};
    let p = Project::new(Dialect::Postgres).await;
    p.t.write("1_t.sql", "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);");
    assert!(p.godwit(&["up"]).status.success());
    // Godwit names its tools' sessions `godwit` (PGAPPNAME), as its own.
    let gone = "SELECT (count(*) = 0)::int::text FROM pg_stat_activity WHERE application_name = 'godwit'";
    let waiting = |query: &str| {
        format!(
            "SELECT count(*)::text FROM pg_stat_activity WHERE application_name = 'godwit' \
             AND wait_event_type = 'Lock' AND query LIKE '{query}%'"
        )
    };
    let spawn = |args: &[&str]| {
        p.command(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    };
    let listed = || {
        let o = p.godwit(&["backups", "--json"]);
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["backups"].as_array().map_or(0, Vec::len)
    };

    // Mid-backup: pg_dump waits for a table another session has locked.
    let mut holder = sqlx::PgConnection::connect(&p.t.url).await.unwrap();
    holder.execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let child = spawn(&["backup"]);
    until(&p, &waiting("LOCK TABLE")).await;
    kill(child);
    until(&p, gone).await;
    holder.execute("ROLLBACK").await.unwrap();
    assert_eq!(listed(), 0, "a killed backup is not listed");
    let o = p.godwit(&["--lock-timeout", "10", "backup"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(listed(), 1);

    // Mid-restore: its transaction waits to drop a table another session reads (psql runs it).
    p.t.exec("INSERT INTO t VALUES (2)").await;
    holder.execute("BEGIN; LOCK TABLE t IN ACCESS SHARE MODE").await.unwrap();
    let child = spawn(&["restore", "--confirm", "dev"]);
    until(&p, &waiting("DO $godwit$")).await;
    kill(child);
    until(&p, gone).await;
    holder.execute("ROLLBACK").await.unwrap();
    assert_eq!(p.t.strings("SELECT count(*)::text FROM t").await, ["2"], "the restore was rolled back");
    let o = p.godwit(&["--lock-timeout", "10", "restore", "--confirm", "dev"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(p.t.strings("SELECT count(*)::text FROM t").await, ["1"]);
}
