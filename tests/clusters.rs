//! Godwit on replicated and pooled servers, each started by the test on free loopback ports from
//! Debian's packages: a PostgreSQL primary with a streaming standby (`pg_basebackup -R`), and a
//! three-node Galera cluster (galera-4), PgBouncer in each pool mode.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::galera::Galera;
use common::pgbouncer::PgBouncer;
use common::{Out, output};
use serde_json::Value;

/// `godwit --errors json ARGS` in `dir`, with its own data and config folders.
fn godwit(dir: &Path, args: &[&str]) -> Out {
    output(
        std::process::Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(dir)
            .args(["--errors", "json"])
            .args(args)
            .env("GODWIT_DATA_DIR", dir.join(".data"))
            .env("GODWIT_CONFIG_DIR", dir.join(".config")),
    )
}

fn json(o: &Out) -> Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", o.stdout, o.stderr))
}

async fn query(url: &str, sql: &str) -> Vec<String> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(&mut c).await.unwrap()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn finding<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["findings"].as_array().unwrap().iter().find(|f| f["kind"] == kind)
}

/// Runs that change anything refuse on a standby before writing, naming it; status and check say
/// it is a standby, and that it is behind while its replay is paused.
#[tokio::test]
async fn a_standby_refuses_runs_before_writing_and_says_when_it_is_behind() {
    let primary = Cluster::start(None);
    let standby = primary.standby();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("migrations")).unwrap();
    std::fs::write(
        d.join("godwit.toml"),
        format!(
            "id = \"standby\"\n[env.primary]\nurl = \"{}\"\n[env.replica]\nurl = \"{}\"\n",
            primary.url(),
            standby.url()
        ),
    )
    .unwrap();
    std::fs::write(d.join("migrations/1_a.up.sql"), "CREATE TABLE a (id INT);").unwrap();
    std::fs::write(d.join("migrations/1_a.down.sql"), "DROP TABLE a;").unwrap();
    let o = godwit(d, &["up", "--env", "primary"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let history = "SELECT coalesce(string_agg(version::text, ',' ORDER BY version), '') FROM _sqlx_migrations";
    until("the standby replays the first migration", async || {
        query(&standby.url(), "SELECT count(*)::text FROM pg_tables WHERE tablename = '_godwit_log'").await == ["1"]
            && query(&standby.url(), history).await == ["1"]
    })
    .await;
    std::fs::write(d.join("migrations/2_b.up.sql"), "CREATE TABLE b (id INT);").unwrap();
    std::fs::write(d.join("migrations/2_b.down.sql"), "DROP TABLE b;").unwrap();

    for args in [&["up"][..], &["down"], &["up", "--backup"], &["redo"]] {
        let o = godwit(d, &[args, &["--env", "replica"]].concat());
        assert_eq!(o.code, 3, "{args:?}: {}{}", o.stdout, o.stderr);
        assert_eq!(o.problem_is(), "standby", "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(&standby.port.to_string()), "names the standby: {}", o.stderr);
        assert!(!o.stderr.contains(" at line "), "no line of the server's source: {}", o.stderr);
    }
    assert_eq!(query(&primary.url(), history).await, ["1"], "the primary is as it was");
    assert!(!d.join(".data/backups").exists() || walk(&d.join(".data/backups")) == 0, "no backup was taken");

    let status = json(&godwit(d, &["status", "--json", "--env", "replica"]));
    assert_eq!(status["standby"]["paused"], false, "{status}");
    let f = finding(&status, "standby").expect("status names the standby");
    assert_eq!(f["hint"], true, "caught up: a hint only: {f}");
    assert_eq!(godwit(d, &["check", "--env", "replica"]).code, 0);
    let primary_status = json(&godwit(d, &["status", "--json", "--env", "primary"]));
    assert!(primary_status["standby"].is_null(), "{primary_status}");

    // Replay paused, and the primary moves on: the standby shows 2 pending, and says why.
    query(&standby.url(), "SELECT pg_wal_replay_pause()::text").await;
    until("replay pauses", async || query(&standby.url(), "SELECT pg_is_wal_replay_paused()::text").await == ["true"])
        .await;
    let o = godwit(d, &["up", "--env", "primary"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    until("the standby receives what it does not replay", async || {
        json(&godwit(d, &["status", "--json", "--env", "replica"]))["standby"]["unreplayed_bytes"]
            .as_i64()
            .is_some_and(|b| b > 0)
    })
    .await;
    let status = json(&godwit(d, &["status", "--json", "--env", "replica"]));
    assert_eq!(status["standby"]["paused"], true, "{status}");
    let f = finding(&status, "standby").expect("status names the standby");
    assert_eq!(f["hint"], false, "behind: {f}");
    assert!(f["message"].as_str().unwrap().contains("replay paused"), "{f}");
    let o = godwit(d, &["check", "--env", "replica"]);
    assert_ne!(o.code, 0, "check fails on a standby that is behind: {}", o.stdout);
    assert!(o.stdout.contains("replay paused"), "{}", o.stdout);

    query(&standby.url(), "SELECT pg_wal_replay_resume()::text").await;
    until("the standby catches up", async || query(&standby.url(), history).await == ["1,2"]).await;
    assert_eq!(godwit(d, &["check", "--env", "replica"]).code, 0);

    // A fleet that lists the standby too: it fails there, named, and the primary goes on.
    std::fs::write(d.join("migrations/3_c.up.sql"), "CREATE TABLE c (id INT);").unwrap();
    std::fs::write(d.join("migrations/3_c.down.sql"), "DROP TABLE c;").unwrap();
    std::fs::write(d.join("members.txt"), format!("{}\n{}\n", primary.url(), standby.url())).unwrap();
    let toml = std::fs::read_to_string(d.join("godwit.toml")).unwrap();
    std::fs::write(d.join("godwit.toml"), format!("{toml}[fleet.both]\nfile = \"members.txt\"\n")).unwrap();
    let o = godwit(d, &["--fleet", "both", "up", "--json"]);
    let report = json(&o);
    assert_eq!(o.code, 1, "{report}");
    let members = report["members"].as_array().unwrap();
    let failed: Vec<&Value> = members.iter().filter(|m| m["state"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0]["error"]["problem"]["problem"], "standby", "{report}");
    assert_eq!(members.iter().filter(|m| m["state"] == "at_head").count(), 1, "{report}");
    assert_eq!(query(&primary.url(), history).await, ["1,2,3"]);
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

async fn my(url: &str, sql: &str) -> Vec<String> {
    use sqlx::{Connection, Executor};
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    // Reads wait until this node has applied what the cluster committed.
    c.execute("SET SESSION wsrep_sync_wait = 1").await.unwrap();
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(&mut c).await.unwrap()
}

/// A project whose environments n1, n2, n3 are the cluster's nodes, on database `db`.
fn galera_project(g: &Galera, db: &str, migrations: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    let envs: String = (0..3).map(|i| format!("[env.n{}]\nurl = \"{}\"\n", i + 1, g.url(i, db))).collect();
    std::fs::write(dir.path().join("godwit.toml"), format!("id = \"galera\"\n{envs}")).unwrap();
    for (name, sql) in migrations {
        std::fs::write(dir.path().join("migrations").join(name), sql).unwrap();
    }
    dir
}

fn spawn(dir: &Path, args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(dir)
        .args(["--errors", "json"])
        .args(args)
        .env_remove("DATABASE_URL")
        .env("GODWIT_DATA_DIR", dir.join(".data"))
        .env("GODWIT_CONFIG_DIR", dir.join(".config"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Two runs started at once on two nodes of a Galera cluster, 20 times: one applies every
/// migration, the other waits for it (and finds nothing to do) or exits 4; every node keeps each
/// migration's table and history row exactly once, no failure is logged, and no lock row stays.
#[tokio::test]
async fn two_runs_on_two_galera_nodes_never_both_run_and_lose_nothing() {
    let g = Galera::start();
    let migrations: Vec<(String, String)> = (1..=5)
        .map(|v| (format!("{v}_t{v}.sql"), format!("CREATE TABLE t{v} (id INT PRIMARY KEY);\nDO SLEEP(0.1);")))
        .collect();
    let migrations: Vec<(&str, &str)> = migrations.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    for race in 0..20 {
        let db = format!("race{race}");
        my(&g.url(0, "mysql"), &format!("CREATE DATABASE {db}")).await;
        until("every node has the database", async || {
            for i in 0..3 {
                if my(&g.url(i, "mysql"), &format!("SHOW DATABASES LIKE '{db}'")).await.is_empty() {
                    return false;
                }
            }
            true
        })
        .await;
        let dir = galera_project(&g, &db, &migrations);
        let a = spawn(dir.path(), &["up", "--env", "n1"]);
        let b = spawn(dir.path(), &["up", "--env", "n2"]);
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let said = |o: &std::process::Output| {
            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
        };
        for o in [&a, &b] {
            assert!(matches!(o.status.code(), Some(0 | 4)), "race {race}: {}", said(o));
        }
        assert!(a.status.success() || b.status.success(), "race {race}: one run applies them all");
        for i in 0..3 {
            let url = g.url(i, &db);
            let history = my(
                &url,
                "SELECT CONCAT(version, ':', IF(success, 'true', 'false')) FROM _sqlx_migrations ORDER BY version",
            )
            .await;
            assert_eq!(history, ["1:true", "2:true", "3:true", "4:true", "5:true"], "race {race}, node {}", i + 1);
            let tables = my(
                &url,
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() \
                 AND table_name LIKE 't_' ORDER BY 1",
            )
            .await;
            assert_eq!(tables, ["t1", "t2", "t3", "t4", "t5"], "race {race}, node {}", i + 1);
            let log = my(&url, "SELECT CONCAT(event, ':', outcome, ':', version) FROM _godwit_log ORDER BY id").await;
            assert_eq!(log, ["apply:ok:1", "apply:ok:2", "apply:ok:3", "apply:ok:4", "apply:ok:5"], "race {race}");
            assert_eq!(my(&url, "SELECT CAST(COUNT(*) AS CHAR) FROM _godwit_lock").await, ["0"], "race {race}");
        }
        let status = json(&godwit(dir.path(), &["status", "--json", "--env", "n3"]));
        assert_eq!(status["summary"]["pending"], 0, "{status}");
    }
}

/// Two of three nodes killed while a migration runs on the third: the run cannot tell what it
/// left (the node stops answering until a quorum is back), so it says it is not known and that
/// status will tell, never that it changed nothing.
#[tokio::test]
async fn a_galera_quorum_lost_mid_migration_is_reported_as_not_known() {
    let mut g = Galera::start();
    my(&g.url(0, "mysql"), "CREATE DATABASE app").await;
    let dir = galera_project(
        &g,
        "app",
        &[("1_slow.sql", "CREATE TABLE a (id INT PRIMARY KEY);\nDO SLEEP(3);\nCREATE TABLE b (id INT PRIMARY KEY);")],
    );
    let run = spawn(dir.path(), &["up", "--env", "n1"]);
    until("the migration sleeps", async || {
        my(
            &g.url(0, "mysql"),
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DO SLEEP%'",
        )
        .await
            == ["1"]
    })
    .await;
    g.kill(1);
    g.kill(2);
    let o = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert_eq!(common::problem_in(&o.stderr), "connection_lost", "{stderr}");
    assert!(stderr.contains("not known"), "{stderr}");
    assert!(!stderr.contains("changed nothing"), "{stderr}");
}

/// A project with three slow migrations whose environment `pooled` goes through PgBouncer.
async fn pooled_project(cluster: &Cluster, bouncer: &PgBouncer) -> tempfile::TempDir {
    query(&cluster.url(), "CREATE DATABASE app").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("godwit.toml"),
        format!("id = \"pooled\"\n[env.pooled]\nurl = \"{}\"\n", bouncer.url("app")),
    )
    .unwrap();
    for v in 1..=3 {
        std::fs::write(
            dir.path().join(format!("migrations/{v}_t{v}.up.sql")),
            format!("CREATE TABLE t{v} (id INT);\nSELECT pg_sleep(0.1);"),
        )
        .unwrap();
        std::fs::write(dir.path().join(format!("migrations/{v}_t{v}.down.sql")), format!("DROP TABLE t{v};")).unwrap();
    }
    dir
}

fn app_url(cluster: &Cluster) -> String {
    format!("postgres://postgres@127.0.0.1:{}/app", cluster.port)
}

async fn advisory_locks(cluster: &Cluster) -> Vec<String> {
    query(&cluster.url(), "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory'").await
}

/// Through PgBouncer in transaction mode (as people configure it, without
/// `ignore_startup_parameters`): two runs started at once, ten times, are each refused before
/// anything is written, naming the pooler; no advisory lock is left on the server; status reads.
#[tokio::test]
async fn through_pgbouncer_in_transaction_mode_runs_are_refused_each_time() {
    let cluster = Cluster::start(None);
    let bouncer = PgBouncer::start(cluster.port, "transaction");
    let dir = pooled_project(&cluster, &bouncer).await;
    for race in 0..10 {
        let a = spawn(dir.path(), &["up", "--env", "pooled"]);
        let b = spawn(dir.path(), &["up", "--env", "pooled"]);
        for o in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "race {race}: {stderr}");
            assert_eq!(common::problem_in(&o.stderr), "pooled", "race {race}: {stderr}");
        }
        assert_eq!(advisory_locks(&cluster).await, ["0"], "race {race}");
        assert_eq!(
            query(&app_url(&cluster), "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'").await,
            ["0"],
            "race {race}: nothing was written"
        );
    }
    let o = godwit(dir.path(), &["status", "--json", "--env", "pooled"]);
    assert!(o.code == 0 || o.problem_is() == "pooled", "{}{}", o.stdout, o.stderr);
}

/// A statement-mode pool is refused the same way.
#[tokio::test]
async fn through_pgbouncer_in_statement_mode_runs_are_refused() {
    let cluster = Cluster::start(None);
    let bouncer = PgBouncer::start(cluster.port, "statement");
    let dir = pooled_project(&cluster, &bouncer).await;
    let o = godwit(dir.path(), &["up", "--env", "pooled"]);
    assert_eq!((o.code, o.problem_is()), (2, "pooled".to_string()), "{}", o.stderr);
    assert_eq!(advisory_locks(&cluster).await, ["0"]);

    // A startup parameter PgBouncer does not pass on is named, with where to let it through.
    let url = format!("{}?options=-c%20search_path%3Dpublic", bouncer.url("app"));
    let o = godwit(dir.path(), &["--url", &url, "--source", "migrations", "status"]);
    assert_eq!((o.code, o.problem_is()), (3, "cannot_connect".to_string()), "{}", o.stderr);
    assert!(o.stderr.contains("ignore_startup_parameters"), "{}", o.stderr);
}

/// Through a session-mode pool everything works, the lock included: of two runs started at once
/// one applies the migrations and the other waits for it, ten times.
#[tokio::test]
async fn through_pgbouncer_in_session_mode_runs_work_and_exclude_each_other() {
    let cluster = Cluster::start(None);
    let bouncer = PgBouncer::start(cluster.port, "session");
    let dir = pooled_project(&cluster, &bouncer).await;
    for race in 0..10 {
        let a = spawn(dir.path(), &["up", "--env", "pooled"]);
        let b = spawn(dir.path(), &["up", "--env", "pooled"]);
        for o in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
            assert_eq!(o.status.code(), Some(0), "race {race}: {}", String::from_utf8_lossy(&o.stderr));
        }
        let history =
            "SELECT string_agg(version::text || ':' || success::text, ',' ORDER BY version) FROM _sqlx_migrations";
        assert_eq!(query(&app_url(&cluster), history).await, ["1:true,2:true,3:true"], "race {race}");
        let log = "SELECT string_agg(event || ':' || outcome, ',' ORDER BY id) FROM _godwit_log";
        assert_eq!(query(&app_url(&cluster), log).await, ["apply:ok,apply:ok,apply:ok"], "race {race}");
        assert_eq!(advisory_locks(&cluster).await, ["0"], "race {race}");
        let o = godwit(dir.path(), &["down", "--to", "0", "--env", "pooled"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        query(&app_url(&cluster), "DELETE FROM _godwit_log RETURNING ''").await;
    }
}
