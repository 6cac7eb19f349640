//! Trust boundaries: a project folder is a stranger's input, a run can be killed, other people's
//! processes share the machine. Each test here failed before the rule it checks was kept.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;
use common::pgtrap::PasswordTrap;
use common::project::{Project, signal, start_up, text};
use godwit::db::Dialect;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn dotenv_gives_database_url_only_and_dump_tools_get_an_allow_listed_environment() {
    let p = Project::new(Dialect::Postgres).await;
    p.t.write("1_t.up.sql", "CREATE TABLE t (id INT);");
    // A cloned project's .env: it must not reach a child process.
    std::fs::write(
        p.t.dir.path().join(".env"),
        "LD_PRELOAD=/nonexistent/godwit-test-preload.so\nFOO_FROM_DOTENV=1\nPGOPTIONS=-c statement_timeout=1\n",
    )
    .unwrap();
    // pg_dump first on PATH is a wrapper that records its environment and runs the real one.
    let bin = p.home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let seen = p.home.path().join("env-seen");
    let real = Command::new("sh").args(["-c", "command -v pg_dump"]).output().unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let wrapper = bin.join("pg_dump");
    std::fs::write(&wrapper, format!("#!/bin/sh\nenv >> '{}'\nexec '{real}' \"$@\"\n", seen.display())).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());

    let o = p
        .command(&["up", "--backup"])
        .env("PATH", &path)
        .env("GODWIT_PASSWORD_OTHER", "not-for-children")
        .env("DATABASE_URL", "postgres://someone:secret@elsewhere/db")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let env = std::fs::read_to_string(&seen).unwrap();
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    for leaked in ["LD_PRELOAD", "FOO_FROM_DOTENV", "PGOPTIONS", "GODWIT_PASSWORD_OTHER", "DATABASE_URL"] {
        assert!(!env.lines().any(|l| l.starts_with(&format!("{leaked}="))), "{leaked} reached pg_dump:\n{env}");
    }
    assert_eq!(p.t.history().await, ["1:true"]);

    // Without a project, .env's DATABASE_URL is still read (as sqlx-cli does).
    std::fs::remove_file(p.t.dir.path().join("godwit.toml")).unwrap();
    std::fs::write(p.t.dir.path().join(".env"), format!("DATABASE_URL={}\n", p.t.url)).unwrap();
    let o = p.godwit(&["--source", "migrations", "status", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["summary"]["applied"], 1, "{status}");
}

#[tokio::test]
async fn backups_are_private_and_killed_ones_leave_nothing() {
    let p = Project::new(Dialect::Sqlite).await;
    p.t.write("1_t.up.sql", "CREATE TABLE t (id INT);");
    assert!(p.godwit(&["up"]).status.success());
    // What a killed backup left: a .partial nobody holds, in a store an older Godwit made open.
    std::fs::create_dir_all(p.store()).unwrap();
    std::fs::set_permissions(p.store(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let stale = p.store().join("20200101-000000-dead.db.partial");
    std::fs::write(&stale, "half a backup").unwrap();

    let o = p.godwit(&["backup"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!stale.exists(), "the stale .partial was not swept");
    assert_eq!(mode(&p.store()), 0o700);
    let files: Vec<PathBuf> = std::fs::read_dir(p.store()).unwrap().flatten().map(|e| e.path()).collect();
    assert!(files.iter().any(|f| f.extension().is_some_and(|x| x == "db")), "{files:?}");
    for f in files.iter().filter(|f| f.is_file()) {
        if f.file_name().unwrap() != ".lock" {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
    }
}

#[tokio::test]
async fn names_in_a_cloned_godwit_toml_never_become_paths() {
    let p = Project::new(Dialect::Sqlite).await;
    let toml = p.t.dir.path().join("godwit.toml");
    for bad in [
        format!("id = \"../../../escaped\"\n[env.dev]\nurl = \"{}\"\n", p.t.url),
        format!("id = \"trust-test\"\n[env.\"../../x\"]\nurl = \"{}\"\n", p.t.url),
    ] {
        std::fs::write(&toml, bad).unwrap();
        let o = p.godwit(&["backup"]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
    assert!(!p.data().exists(), "a folder was written: {:?}", p.data());

    // A planted manifest entry naming a file elsewhere is refused, and the file is not removed.
    std::fs::write(&toml, format!("id = \"trust-test\"\n[backups]\nkeep = 1\n[env.dev]\nurl = \"{}\"\n", p.t.url))
        .unwrap();
    p.t.write("1_t.up.sql", "CREATE TABLE t (id INT);");
    assert!(p.godwit(&["up"]).status.success());
    let victim = p.home.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::fs::create_dir_all(p.store()).unwrap();
    let entry = serde_json::json!([{
        "id": "20200101-000000-aaaa", "env": "dev", "database": "x", "dialect": "sqlite", "server_version": "3",
        "migration_version": null, "created_at": "2020-01-01T00:00:00Z", "file": victim.display().to_string(),
        "size": 7, "sha256": "00", "duration_ms": 1, "tool": "x", "tool_version": "1", "tables": [],
        "schema_fingerprint": "00"
    }]);
    std::fs::write(p.store().join("manifest.json"), entry.to_string()).unwrap();
    let o = p.godwit(&["backup"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(victim.exists());
    assert_eq!(p.godwit(&["backups"]).status.code(), Some(2));
}

/// Starts `godwit up` on a migration that runs long, and returns once the server (or, for SQLite,
/// the runner) has it running.
fn start_long_run(p: &Project, sql: &str) -> Child {
    p.t.write("1_long.up.sql", sql);
    p.t.write("1_long.down.sql", "SELECT 1;");
    start_up(p).0
}

async fn wait_until_running(t: &TestDb, probe: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.strings(probe).await != ["1"] {
        assert!(Instant::now() < deadline, "the long statement never showed on the server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A second Ctrl-C (or one SIGTERM) stops the statement on the server, and the process reports
/// what the database then holds: nothing applied, and it stays so.
async fn abort_stops_the_statement_on_the_server(d: Dialect, sql: &str, running: Option<&str>, term: bool) {
    let p = Project::new(d).await;
    let child = start_long_run(&p, sql);
    match running {
        Some(probe) => wait_until_running(&p.t, probe).await,
        None => tokio::time::sleep(Duration::from_millis(300)).await,
    }
    if term {
        signal(&child, libc::SIGTERM);
    } else {
        signal(&child, libc::SIGINT);
        tokio::time::sleep(Duration::from_millis(200)).await;
        signal(&child, libc::SIGINT);
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    // The server is not still running it, and the history says what the process said.
    if let Some(probe) = running {
        assert_eq!(p.t.strings(probe).await, ["0"]);
    }
    assert!(p.t.history().await.is_empty(), "{:?}", p.t.history().await);
    assert_eq!(p.t.log().await, ["apply:failed:1"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(p.t.history().await.is_empty(), "applied after the process said it was stopped");
    let o = p.godwit(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((status["summary"]["applied"].as_i64(), status["summary"]["pending"].as_i64()), (Some(0), Some(1)));
}

/// One Ctrl-C lets the running migration finish, runs no more, and exits 130.
#[tokio::test]
async fn one_ctrl_c_stops_after_the_current_migration() {
    let p = Project::new(Dialect::Postgres).await;
    p.t.write("2_after.up.sql", "CREATE TABLE after_stop (id INTEGER);");
    let child = start_long_run(&p, "SELECT pg_sleep(1);");
    signal(&child, libc::SIGINT);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert_eq!(p.t.history().await, ["1:true"]);
}

const PG_RUNNING: &str = "SELECT count(*)::text FROM pg_stat_activity \
     WHERE datname = current_database() AND state = 'active' AND query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()";
const MY_RUNNING: &str = "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST \
     WHERE DB = DATABASE() AND INFO LIKE '%SLEEP(600)%' AND ID <> CONNECTION_ID()";

#[tokio::test]
async fn second_ctrl_c_stops_pg_sleep_on_the_server() {
    abort_stops_the_statement_on_the_server(Dialect::Postgres, "SELECT pg_sleep(600);", Some(PG_RUNNING), false).await;
}

#[tokio::test]
async fn sigterm_stops_pg_sleep_on_the_server() {
    abort_stops_the_statement_on_the_server(Dialect::Postgres, "SELECT pg_sleep(600);", Some(PG_RUNNING), true).await;
}

#[tokio::test]
async fn second_ctrl_c_stops_mariadb_sleep_on_the_server() {
    abort_stops_the_statement_on_the_server(Dialect::MySql, "SELECT SLEEP(600);", Some(MY_RUNNING), false).await;
}

/// On MariaDB a statement before the one stopped stays (DDL commits itself): the summary does not
/// say that nothing was applied, and the error says what was left part way.
#[tokio::test]
async fn a_mariadb_migration_stopped_after_its_ddl_is_not_said_to_have_changed_nothing() {
    let p = Project::new(Dialect::MySql).await;
    let child = start_long_run(&p, "CREATE TABLE made (id INTEGER);\nSELECT SLEEP(600);");
    wait_until_running(&p.t, MY_RUNNING).await;
    signal(&child, libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, libc::SIGINT);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(!text(&o).contains("nothing was applied"), "{}", text(&o));
    assert!(text(&o).contains("left part way"), "{}", text(&o));
    assert_eq!(p.t.history().await, ["1:false"]);
}

#[tokio::test]
async fn second_ctrl_c_interrupts_a_long_sqlite_statement() {
    let count = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000000) \
                 SELECT count(*) FROM c;";
    abort_stops_the_statement_on_the_server(Dialect::Sqlite, count, None, false).await;
}

/// Runs `n` copies of `godwit up` at once, each with its own temp folder, and returns their outputs.
fn race(p: &Project, n: usize) -> Vec<Output> {
    let tmps: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let children: Vec<Child> = tmps
        .iter()
        .map(|tmp| {
            p.command(&["--lock-timeout", "120", "up"])
                .env("TMPDIR", tmp.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()
}

async fn racing_runners_all_succeed(d: Dialect) {
    let p = Project::new(d).await;
    for v in 1..=5 {
        // Slow enough that the runners overlap; on MariaDB the DDL commits the history row first,
        // so a runner that planned before taking the lock would see it in flight.
        let sleep = match d {
            Dialect::MySql => "DO SLEEP(0.2);",
            _ => "",
        };
        p.t.write(&format!("{v}_t{v}.up.sql"), &format!("CREATE TABLE t{v} (id INT);\n{sleep}"));
    }
    for o in race(&p, 8) {
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(p.t.history().await, ["1:true", "2:true", "3:true", "4:true", "5:true"]);
    assert!(p.t.log().await.iter().all(|l| l.starts_with("apply:ok:")), "{:?}", p.t.log().await);
}

#[tokio::test]
async fn mariadb_racing_runners_plan_under_the_lock() {
    racing_runners_all_succeed(Dialect::MySql).await;
}

#[tokio::test]
async fn sqlite_racing_runners_with_their_own_temp_folders_exclude_each_other() {
    racing_runners_all_succeed(Dialect::Sqlite).await;
}

#[tokio::test]
async fn a_planted_symlink_is_never_followed_to_take_the_lock() {
    let p = Project::new(Dialect::Sqlite).await;
    p.t.write("1_t.up.sql", "CREATE TABLE t (id INT);");
    let target = p.home.path().join("not-yours");
    std::fs::write(&target, "precious").unwrap();
    let mut lock = p.t.sqlite_path().into_os_string();
    lock.push("-godwit-lock");
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let o = p.godwit(&["up"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    assert!(p.t.tables().await.is_empty());
}

#[tokio::test]
async fn mariadb_passwords_with_quotes_newlines_and_non_ascii_reach_the_dump_tools() {
    let p = Project::new(Dialect::MySql).await;
    p.t.write("1_t.up.sql", "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1), (2);");
    let user = format!("u{}", p.t.name.trim_start_matches("godwit_t_"));
    let password = "q\"uo'te\\back#hash\nnew line é";
    let admin = |sql: String| {
        let o = Command::new("mariadb").args(["--protocol=TCP", "-h127.0.0.1", "-uroot", "-e", &sql]).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    };
    let quoted = password.replace('\\', "\\\\").replace('\'', "\\'").replace('\n', "\\n");
    admin(format!("CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{quoted}'"));
    admin(format!("GRANT ALL ON {}.* TO '{user}'@'127.0.0.1'", p.t.name));
    let url = format!("mysql://{user}@127.0.0.1:3306/{}", p.t.name);
    std::fs::write(p.t.dir.path().join("godwit.toml"), format!("id = \"trust-test\"\n[env.dev]\nurl = \"{url}\"\n"))
        .unwrap();
    let with_pw = |args: &[&str]| p.command(args).env("GODWIT_PASSWORD_DEV", password).output().unwrap();
    let tmp_before: Vec<_> = std::fs::read_dir(std::env::temp_dir()).unwrap().flatten().map(|e| e.path()).collect();

    assert!(with_pw(&["up"]).status.success());
    let o = with_pw(&["backup"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("new line"), "{}", text(&o));
    p.t.strings("DELETE FROM t").await;
    let o = with_pw(&["restore", "--confirm", "dev"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(p.t.strings("SELECT CAST(COUNT(*) AS CHAR) FROM t").await, ["2"]);
    // No option file was left anywhere in the temp folder.
    let new: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|f| !tmp_before.contains(f) && f.file_name().unwrap().to_string_lossy().starts_with("godwit-"))
        .collect();
    assert!(new.is_empty(), "{new:?}");
    admin(format!("DROP USER '{user}'@'127.0.0.1'"));
}

/// A database whose name needs percent-encoding in the URL, and reads like options or a
/// connection string to the dump tools, is backed up and restored as itself.
async fn odd_database_names_reach_the_dump_tools_as_names(d: Dialect) {
    use sqlx::{Connection, Executor};
    let name = format!("gw café x port=1 {}", std::process::id());
    let (admin, quoted) = match d {
        Dialect::Postgres => (common::pg_admin_url(), format!("\"{name}\"")),
        _ => (common::mysql_admin_url(), format!("`{name}`")),
    };
    let exec = async |sql: String| match d {
        Dialect::Postgres => {
            sqlx::PgConnection::connect(&admin).await.unwrap().execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        }
        _ => {
            sqlx::MySqlConnection::connect(&admin).await.unwrap().execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        }
    };
    exec(format!("DROP DATABASE IF EXISTS {quoted}")).await;
    exec(format!("CREATE DATABASE {quoted}")).await;
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!(
        "/{}",
        url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>().replace('+', "%20")
    ));
    let p = Project::new(Dialect::Sqlite).await;
    std::fs::write(p.t.dir.path().join("godwit.toml"), format!("id = \"trust-test\"\n[env.dev]\nurl = \"{url}\"\n"))
        .unwrap();
    p.t.write("1_t.up.sql", "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1), (2), (3);");
    for args in [&["up"][..], &["backup"]] {
        let o = p.godwit(args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    let o = p.godwit(&["backups", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = list["backups"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        list["backups"][0]["tables"].as_array().unwrap().iter().map(|t| t["rows"].as_i64().unwrap()).sum::<i64>(),
        4
    );
    let o = p.godwit(&["backups", "verify", &id]);
    assert!(o.status.success(), "{}", text(&o));
    let o = p.godwit(&["restore", &id, "--confirm", "dev"]);
    assert!(o.status.success(), "{}", text(&o));
    exec(format!("DROP DATABASE {quoted}")).await;
}

#[tokio::test]
async fn odd_postgres_database_names_are_names() {
    odd_database_names_reach_the_dump_tools_as_names(Dialect::Postgres).await;
}

#[tokio::test]
async fn odd_mariadb_database_names_are_names() {
    odd_database_names_reach_the_dump_tools_as_names(Dialect::MySql).await;
}

#[tokio::test]
async fn a_syntax_error_on_a_url_line_does_not_print_its_password() {
    let p = Project::new(Dialect::Sqlite).await;
    std::fs::write(
        p.t.dir.path().join("godwit.toml"),
        "id = \"trust-test\"\n[env.prod]\nurl = \"postgres://app:Sy-Pw-88@db/app?sslpassword=Key-Pw-77\" oops\n",
    )
    .unwrap();
    let o = p.godwit(&["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("godwit.toml"), "{}", text(&o));
    assert!(!text(&o).contains("Sy-Pw-88") && !text(&o).contains("Key-Pw-77"), "{}", text(&o));
}

#[tokio::test]
async fn a_colour_from_godwit_toml_is_a_colour() {
    let p = Project::new(Dialect::Sqlite).await;
    let toml = p.t.dir.path().join("godwit.toml");
    let with = |c: &str| format!("id = \"trust-test\"\n[env.dev]\nurl = \"{}\"\ncolor = \"{c}\"\n", p.t.url);
    std::fs::write(&toml, with("red; position: fixed; inset: 0; background: url(x)")).unwrap();
    assert_eq!(p.godwit(&["env", "list"]).status.code(), Some(2));
    for ok in ["amber", "#3b82f6"] {
        std::fs::write(&toml, with(ok)).unwrap();
        assert!(p.godwit(&["env", "list"]).status.success());
    }
}

/// A HOME of the test's own holding a `~/.pgpass` line and a `~/.my.cnf` for every server: the
/// person's own passwords, which a project's file must not be able to send anywhere.
fn home_with_own_passwords(p: &Project) -> PathBuf {
    let home = p.home.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".pgpass"), "*:*:*:*:Pgpass-Secret-1\n").unwrap();
    std::fs::set_permissions(home.join(".pgpass"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(home.join(".my.cnf"), "[client]\npassword=MyCnf-Secret-4\n").unwrap();
    home
}

#[tokio::test(flavor = "multi_thread")]
async fn the_persons_own_postgres_passwords_go_only_where_they_allow_them() {
    let p = Project::new(Dialect::Postgres).await;
    p.t.write("1_t.up.sql", "CREATE TABLE t (id INT);");
    // A stranger's server that asks for a password and then lets the client in.
    let trap = PasswordTrap::start(Some("127.0.0.1:5432".into())).await;
    let toml = |extra: &str| {
        std::fs::write(
            p.t.dir.path().join("godwit.toml"),
            format!(
                "id = \"trust-test\"\n[env.dev]\nurl = \"postgres://postgres@127.0.0.1:{}/{}{extra}\"\n",
                trap.port, p.t.name
            ),
        )
        .unwrap()
    };
    toml("");
    let home = home_with_own_passwords(&p);
    let run = |args: &[&str], pgpassword: bool| {
        let mut c = p.command(args);
        c.env("HOME", &home).env_remove("PGPASSFILE");
        match pgpassword {
            true => c.env("PGPASSWORD", "Ambient-Secret-2"),
            false => c.env_remove("PGPASSWORD"),
        };
        c.output().unwrap()
    };
    // The driver sends none of the person's own; the dump tool, with none to send, does not log in.
    for args in [&["status"][..], &["up"]] {
        let o = run(args, true);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    assert_eq!(run(&["backup"], true).status.code(), Some(1));
    let sent = trap.passwords();
    assert!(sent.len() >= 3 && sent.iter().all(String::is_empty), "{sent:?}");

    // Their own settings allow it for this environment: then it goes, to the driver and the tool.
    let o = p.godwit(&["secret", "ambient", "dev"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!std::fs::read_to_string(p.t.dir.path().join("godwit.toml")).unwrap().contains("ambient"));
    let before = trap.passwords().len();
    assert!(run(&["backup"], true).status.success());
    let sent = trap.passwords()[before..].to_vec();
    assert!(sent.len() >= 2 && sent.iter().all(|s| s == "Ambient-Secret-2"), "{sent:?}");
    let before = trap.passwords().len();
    assert!(run(&["backup"], false).status.success());
    let sent = trap.passwords()[before..].to_vec();
    assert!(sent.len() >= 2 && sent.iter().all(|s| s == "Pgpass-Secret-1"), "{sent:?}");

    // Allowed for that server, not for whatever the environment names later (a pulled edit).
    let other = PasswordTrap::start(Some("127.0.0.1:5432".into())).await;
    let moved = std::fs::read_to_string(p.t.dir.path().join("godwit.toml"))
        .unwrap()
        .replace(&format!(":{}/", trap.port), &format!(":{}/", other.port));
    std::fs::write(p.t.dir.path().join("godwit.toml"), &moved).unwrap();
    assert!(run(&["status"], true).status.success());
    assert_eq!(other.passwords(), [""]);
    let back = moved.replace(&format!(":{}/", other.port), &format!(":{}/", trap.port));
    std::fs::write(p.t.dir.path().join("godwit.toml"), back).unwrap();

    // A fork of the project (the same id in another folder) has its own settings: nothing is sent.
    let fork = tempfile::tempdir().unwrap();
    std::fs::copy(p.t.dir.path().join("godwit.toml"), fork.path().join("godwit.toml")).unwrap();
    std::fs::create_dir(fork.path().join("migrations")).unwrap();
    let before = trap.passwords().len();
    let o = p
        .command(&["status"])
        .current_dir(fork.path())
        .env("HOME", &home)
        .env("PGPASSWORD", "Ambient-Secret-2")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(trap.passwords()[before..].iter().all(String::is_empty), "{:?}", trap.passwords());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_login_says_truthfully_that_the_persons_own_password_was_not_sent() {
    let p = Project::new(Dialect::Postgres).await;
    let trap = PasswordTrap::start(None).await;
    std::fs::write(
        p.t.dir.path().join("godwit.toml"),
        format!("id = \"trust-test\"\n[env.dev]\nurl = \"postgres://app@127.0.0.1:{}/appdb\"\n", trap.port),
    )
    .unwrap();
    let home = home_with_own_passwords(&p);
    let o = p.command(&["status"]).env("HOME", &home).env("PGPASSWORD", "Ambient-Secret-2").output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(trap.passwords(), [""]);
    // The remedy offered is the command that allows it, as it can be pasted.
    assert!(text(&o).contains("`godwit secret ambient dev`"), "{}", text(&o));
    assert!(!text(&o).contains("Ambient-Secret-2") && !text(&o).contains("Pgpass-Secret-1"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dotenv_is_read_literally_and_only_in_its_own_folder() {
    let p = Project::new(Dialect::Postgres).await;
    std::fs::remove_file(p.t.dir.path().join("godwit.toml")).unwrap();
    let trap = PasswordTrap::start(None).await;
    let dotenv = format!("DATABASE_URL=postgres://app:${{SECRET_TOKEN}}@127.0.0.1:{}/appdb\n", trap.port);
    std::fs::write(p.t.dir.path().join(".env"), &dotenv).unwrap();
    let o = p.command(&["status"]).env("SECRET_TOKEN", "Token-Secret-3").output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(trap.passwords(), ["${SECRET_TOKEN}"]);
    // A .env in a parent folder (a shared one, say) is not read at all.
    let sub = p.t.dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let o = p.command(&["status"]).current_dir(&sub).env("SECRET_TOKEN", "Token-Secret-3").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(trap.passwords().len(), 1);
}

#[tokio::test]
async fn mariadb_dump_tools_never_read_the_persons_own_option_files() {
    let p = Project::new(Dialect::MySql).await;
    p.t.write("1_t.up.sql", "CREATE TABLE t (id INT);");
    // A server that lets this user in without a password, and turns away one that sends any.
    let user = format!("n{}", p.t.name.trim_start_matches("godwit_t_"));
    let admin = |sql: String| {
        let o = Command::new("mariadb").args(["--protocol=TCP", "-h127.0.0.1", "-uroot", "-e", &sql]).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    };
    admin(format!("CREATE USER '{user}'@'127.0.0.1'"));
    admin(format!("GRANT ALL ON {}.* TO '{user}'@'127.0.0.1'", p.t.name));
    let url = format!("mysql://{user}@127.0.0.1:3306/{}", p.t.name);
    std::fs::write(p.t.dir.path().join("godwit.toml"), format!("id = \"trust-test\"\n[env.dev]\nurl = \"{url}\"\n"))
        .unwrap();
    let home = home_with_own_passwords(&p);
    for args in [&["up", "--backup"][..], &["schema", "--format", "sql"]] {
        let o = p.command(args).env("HOME", &home).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    admin(format!("DROP USER '{user}'@'127.0.0.1'"));
}

/// A cloned folder without godwit.toml whose `migrations` is a link to elsewhere (or `--source`
/// naming such a link): `new` and `import` write nothing through it.
#[tokio::test]
async fn a_migrations_link_leading_outside_is_never_written_through() {
    let p = Project::new(Dialect::Sqlite).await;
    let dir = p.t.dir.path();
    std::fs::remove_file(dir.join("godwit.toml")).unwrap();
    std::fs::remove_dir(dir.join("migrations")).unwrap();
    let outside = p.home.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("migrations")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("other")).unwrap();
    std::fs::create_dir_all(dir.join("db")).unwrap();
    std::fs::write(
        dir.join("db/20200101000000_x.sql"),
        "-- migrate:up\ncreate table x (id int);\n-- migrate:down\ndrop table x;\n",
    )
    .unwrap();
    for args in [
        &["new", "x", "--simple"][..],
        &["--source", "other", "new", "x", "--simple"],
        &["import", "dbmate", "db", "--dialect", "sqlite"],
    ] {
        let o = p.godwit(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // The real path, spelled out, is the person's choice.
    let o = p.godwit(&["--source", outside.to_str().unwrap(), "new", "x", "--simple"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Two projects with one committed id and the same environment names (a fork, or a stranger's
/// copy) on other databases: neither's retention, restore or verify reaches the other's backups.
#[tokio::test]
async fn forks_with_one_id_keep_their_backups_apart() {
    let first = Project::new(Dialect::Sqlite).await;
    first.t.write("1_t.up.sql", "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1), (2);");
    for args in
        [&["up"][..], &["backup"], &["backup"], &["env", "add", "mine", "--url", "sqlite://mine.db", "--personal"]]
    {
        let o = first.godwit(args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    // The fork: the same id and environment, its own database, the same person's data folder.
    let fork = Project::new(Dialect::Sqlite).await;
    std::fs::write(
        fork.t.dir.path().join("godwit.toml"),
        format!("id = \"trust-test\"\n[backups]\nkeep = 1\n[env.dev]\nurl = \"{}\"\n", fork.t.url),
    )
    .unwrap();
    fork.t.write("1_t.up.sql", "CREATE TABLE t (id INT);");
    let run = |args: &[&str]| {
        let config = first.home.path().join("config");
        fork.command(args).env("GODWIT_DATA_DIR", first.data()).env("GODWIT_CONFIG_DIR", config).output().unwrap()
    };
    // The first's personal environment is the first's.
    let o = run(&["env", "list", "--json"]);
    let envs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(envs["environments"].as_array().unwrap().len(), 1, "{envs}");
    let o = run(&["backups", "--json"]);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["backups"], serde_json::json!([]));
    assert!(run(&["up"]).status.success());
    for args in [&["restore", "--confirm", "dev"][..], &["backups", "verify"]] {
        assert_eq!(run(args).status.code(), Some(2), "{args:?}");
    }
    assert!(run(&["backup"]).status.success());
    // The first's two backups are still there, and still its own.
    let o = first.godwit(&["backups", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list["backups"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(fork.t.strings("SELECT CAST(COUNT(*) AS TEXT) FROM t").await, ["0"]);
}

/// `squash` and `rebase` read every environment's history before they change files; a fleet whose
/// databases are not environments cannot be read there, so it stops them (a member that applied a
/// squashed or renamed file would fail later) unless a person leaves it out on purpose.
#[tokio::test]
async fn squash_and_rebase_do_not_pass_over_a_fleets_databases() {
    let p = Project::new(Dialect::Sqlite).await;
    let dir = p.t.dir.path();
    std::fs::write(
        dir.join("godwit.toml"),
        format!("id = \"trust-test\"\n[env.dev]\nurl = \"{}\"\n[fleet.tenants]\nfile = \"tenants.txt\"\n", p.t.url),
    )
    .unwrap();
    std::fs::write(dir.join("tenants.txt"), "sqlite://tenant1.db\n").unwrap();
    p.t.write("10_a.sql", "CREATE TABLE a (id INT);");
    p.t.write("20_b.sql", "CREATE TABLE b (id INT);");
    p.t.write("30_c.sql", "CREATE TABLE c (id INT);");
    assert!(p.godwit(&["up"]).status.success());
    // Out of order once it is there: rebase would rename it.
    p.t.write("15_x.sql", "CREATE TABLE x (id INT);");
    let files = || {
        let mut f: Vec<String> = std::fs::read_dir(dir.join("migrations"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        f.sort();
        f
    };
    let before = files();
    for (args, remedy) in [
        (&["rebase"][..], "`godwit rebase --skip 'fleet tenants'`"),
        (&["squash", "--to", "30"], "`godwit squash --to 30 --skip 'fleet tenants'`"),
    ] {
        let o = p.godwit(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(remedy), "{}", text(&o));
    }
    assert_eq!(files(), before);
    let o = p.godwit(&["rebase", "--skip", "fleet tenants"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!files().contains(&"15_x.sql".to_string()) && files().len() == 4, "{:?}", files());
    let o = p.godwit(&["squash", "--to", "20", "--skip", "fleet tenants"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(files().contains(&"20_squashed.sql".to_string()) && files().len() == 3, "{:?}", files());
}
