//! `godwit --fleet`: one migration set on 50 real tenant databases per server (PostgreSQL and
//! MariaDB), run as a person runs it: failures and unreachable tenants reported while the others
//! go on, the canary policy, Ctrl-C, and reruns that finish the rest.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use godwit::db::Dialect;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// `n` tenant databases on one server, a project whose fleet `t` lists them in `tenants.txt`, and
/// the person's own data folder.
struct Tenants {
    dialect: Dialect,
    names: Vec<String>,
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

fn admin(dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => common::pg_admin_url(),
        _ => common::mysql_admin_url(),
    }
}

fn url_of(dialect: Dialect, db: &str) -> String {
    let mut u = url::Url::parse(&admin(dialect)).unwrap();
    u.set_path(&format!("/{db}"));
    u.to_string()
}

async fn exec(dialect: Dialect, db: &str, sql: &str) {
    let url = url_of(dialect, db);
    match dialect {
        Dialect::Postgres => {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
            c.execute(AssertSqlSafe(sql.to_string())).await.unwrap();
        }
        _ => {
            let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
            c.execute(AssertSqlSafe(sql.to_string())).await.unwrap();
        }
    }
}

fn maintenance(dialect: Dialect) -> &'static str {
    if dialect == Dialect::Postgres { "postgres" } else { "mysql" }
}

impl Tenants {
    async fn new(dialect: Dialect, n: usize, slow: bool) -> Tenants {
        let prefix = format!("gwf_{}_{}_", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i:02}")).collect();
        for name in &names {
            exec(dialect, maintenance(dialect), &format!("CREATE DATABASE {name}")).await;
        }
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("migrations");
        std::fs::create_dir(&m).unwrap();
        let sleep = match dialect {
            Dialect::Postgres => "SELECT pg_sleep(0.3);",
            _ => "SELECT SLEEP(0.3);",
        };
        for (file, sql) in [
            ("1_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY);".to_string()),
            ("1_users.down.sql", "DROP TABLE users;".into()),
            ("2_email.up.sql", format!("{}ALTER TABLE users ADD email varchar(200);", if slow { sleep } else { "" })),
            ("2_email.down.sql", "ALTER TABLE users DROP COLUMN email;".into()),
            ("3_notes.up.sql", "CREATE TABLE notes (id int PRIMARY KEY, body varchar(100));".into()),
            ("3_notes.down.sql", "DROP TABLE notes;".into()),
        ] {
            std::fs::write(m.join(file), sql).unwrap();
        }
        std::fs::write(
            dir.path().join("godwit.toml"),
            "id = \"fleet-test\"\n[env.dev]\nurl = \"sqlite://dev.db\"\n\n[fleet.t]\nfile = \"tenants.txt\"\n",
        )
        .unwrap();
        let t = Tenants { dialect, names, dir, home: tempfile::tempdir().unwrap() };
        t.list(&[]);
        t
    }

    /// Writes `tenants.txt`: every tenant, then `extra` URLs.
    fn list(&self, extra: &[String]) {
        let mut text = String::from("# one tenant database per line\n");
        for name in &self.names {
            text.push_str(&url_of(self.dialect, name));
            text.push('\n');
        }
        for e in extra {
            text.push_str(e);
            text.push('\n');
        }
        std::fs::write(self.dir.path().join("tenants.txt"), text).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_godwit"));
        c.current_dir(self.dir.path())
            .args(args)
            .env_remove("DATABASE_URL")
            .env("GODWIT_DATA_DIR", self.home.path().join("data"))
            .env("GODWIT_CONFIG_DIR", self.home.path().join("config"))
            .stdin(Stdio::null());
        c
    }

    /// Runs `godwit --fleet t ARGS --json`: the exit code and the report.
    fn fleet(&self, args: &[&str]) -> (i32, Value) {
        let o =
            self.command(&[&["--fleet", "t", "--connect-timeout", "3"], args, &["--json"]].concat()).output().unwrap();
        (o.status.code().unwrap_or(-1), report(&o))
    }

    /// How many migrations each tenant has recorded as applied.
    async fn applied(&self, name: &str) -> i64 {
        let url = url_of(self.dialect, name);
        let q = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
        let r = match self.dialect {
            Dialect::Postgres => {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query_scalar::<_, i64>(q).fetch_one(&mut c).await
            }
            _ => {
                let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
                sqlx::query_scalar::<_, i64>(q).fetch_one(&mut c).await
            }
        };
        r.unwrap_or(0)
    }

    /// Starts `godwit --fleet t ARGS --json` in the background.
    fn start(&self, args: &[&str]) -> std::process::Child {
        let mut c = self.command(&[&["--fleet", "t"], args, &["--json"]].concat());
        c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    fn data(&self) -> PathBuf {
        self.home.path().join("data")
    }
}

impl Drop for Tenants {
    fn drop(&mut self) {
        let (dialect, names) = (self.dialect, self.names.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                for name in names {
                    let force = if dialect == Dialect::Postgres { " WITH (FORCE)" } else { "" };
                    exec(dialect, maintenance(dialect), &format!("DROP DATABASE IF EXISTS {name}{force}")).await;
                }
            })
        })
        .join()
        .ok();
    }
}

fn report(o: &Output) -> Value {
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("not a report ({e}): {out}\n{}", String::from_utf8_lossy(&o.stderr)))
}

/// Presses Ctrl-C on a fleet run: it ends as stopped (130), and its report.
fn interrupted(child: std::process::Child) -> Value {
    // SAFETY: a plain kill(2) to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let o = child.wait_with_output().unwrap();
    let r = report(&o);
    assert_eq!(o.status.code(), Some(130), "{r}");
    assert_eq!(r["stopped"], "cancelled");
    r
}

fn state<'a>(r: &'a Value, name: &str) -> &'a str {
    r["members"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()["state"].as_str().unwrap()
}

fn count(r: &Value, key: &str) -> u64 {
    r["summary"][key].as_u64().unwrap()
}

/// A URL on loopback where nothing listens.
fn closed_port_url(dialect: Dialect) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let scheme = if dialect == Dialect::Postgres { "postgres" } else { "mysql" };
    format!("{scheme}://root@127.0.0.1:{port}/gone")
}

async fn a_clean_run_brings_every_tenant_to_head(d: Dialect) {
    let t = Tenants::new(d, 50, false).await;
    let (code, r) = t.fleet(&["status"]);
    assert_eq!((code, count(&r, "behind")), (0, 50), "{r}");
    let (code, r) = t.fleet(&["up", "--jobs", "8"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!((count(&r, "at_head"), count(&r, "total")), (50, 50), "{r}");
    assert!(r["members"].as_array().unwrap().iter().all(|m| m["done"] == 3 && m["version"] == 3), "{r}");
    for name in &t.names {
        assert_eq!(t.applied(name).await, 3, "{name}");
    }
    let (code, r) = t.fleet(&["check"]);
    assert_eq!((code, count(&r, "at_head")), (0, 50), "{r}");
    // And back: one step down everywhere.
    let (code, r) = t.fleet(&["down"]);
    assert_eq!((code, count(&r, "behind")), (0, 50), "{r}");
    assert_eq!(t.applied(&t.names[20]).await, 2);
}

async fn a_failing_and_an_unreachable_tenant_leave_the_others_at_head(d: Dialect) {
    let t = Tenants::new(d, 50, false).await;
    let bad = t.names[7].clone();
    exec(d, &bad, "CREATE TABLE users (id int)").await;
    let gone = closed_port_url(d);
    t.list(std::slice::from_ref(&gone));

    let (code, r) = t.fleet(&["up", "--jobs", "4"]);
    assert_eq!(code, 1, "a failed tenant fails the run: {r}");
    assert_eq!((count(&r, "total"), count(&r, "at_head")), (51, 49), "{r}");
    assert_eq!((count(&r, "failed"), count(&r, "unreachable"), count(&r, "skipped")), (1, 1, 0), "{r}");
    assert_eq!(state(&r, &bad), "failed");
    let failed = r["members"].as_array().unwrap().iter().find(|m| m["name"] == bad.as_str()).unwrap();
    assert_eq!(failed["error"]["problem"]["problem"], "migration_failed", "{failed}");
    // Where it failed, as one environment's error says it (PostgreSQL gives no position for a
    // table that exists; MariaDB's statement is counted).
    if d == Dialect::MySql {
        let at = &failed["error"]["location"];
        assert_eq!((&at["file"], &at["line"]), (&json!("1_users.up.sql"), &json!(1)), "{failed}");
    }
    let fine = r["members"].as_array().unwrap().iter().find(|m| m["name"] == t.names[0].as_str()).unwrap();
    assert_eq!(fine["detail"], "3 migration(s) run", "{fine}");
    assert_eq!(state(&r, "gone"), "unreachable");
    assert_eq!(t.applied(&t.names[0]).await, 3);
    assert_eq!(t.applied(&t.names[49]).await, 3);
    assert_eq!(t.applied(&bad).await, 0);

    // Status alone: the unreachable one makes it exit 3; the failed one is simply behind.
    let (code, r) = t.fleet(&["status"]);
    assert_eq!(code, 3, "{r}");
    assert_eq!(state(&r, &bad), "behind");

    // Fixed by hand, and the unreachable one taken out: a rerun does exactly the one still behind.
    exec(d, &bad, "DROP TABLE users").await;
    let (_, st) = t.fleet(&["status"]);
    if state(&st, &bad) == "failed" {
        // MariaDB's DDL is not transactional: the failure was recorded as part way, for a person.
        let o = t.command(&["--url", &url_of(d, &bad), "resolve", "1", "--rolled-back"]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    t.list(&[]);
    let (code, r) = t.fleet(&["up", "--jobs", "4"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(count(&r, "at_head"), 50, "{r}");
    let ran: Vec<&str> = r["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["done"].as_u64().unwrap() > 0)
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(ran, [bad.as_str()], "only the tenant still behind ran anything");
    assert_eq!(t.applied(&bad).await, 3);
}

async fn a_failing_canary_stops_the_fleet_and_a_rerun_finishes_it(d: Dialect) {
    let t = Tenants::new(d, 50, false).await;
    let first = t.names[0].clone();
    exec(d, &first, "CREATE TABLE notes (x int)").await;

    let (code, r) = t.fleet(&["up", "--canary", "3", "--jobs", "4"]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["stopped"], "canary", "{r}");
    assert_eq!(state(&r, &first), "failed");
    assert_eq!(count(&r, "skipped"), 47, "only the canaries ran: {r}");
    assert_eq!(t.applied(&t.names[10]).await, 0, "a database after the canaries was not touched");

    // --stop-on-failure, one at a time: nothing is started after the first failure.
    let (code, r) = t.fleet(&["up", "--stop-on-failure", "--jobs", "1"]);
    assert_eq!(code, 1, "{r}");
    assert_eq!((r["stopped"].as_str(), count(&r, "failed"), count(&r, "skipped")), (Some("max_failures"), 1, 49));
    assert_eq!(t.applied(&t.names[10]).await, 0);

    exec(d, &first, "DROP TABLE notes").await;
    let (_, st) = t.fleet(&["status"]);
    if state(&st, &first) == "failed" {
        let o = t.command(&["--url", &url_of(d, &first), "resolve", "3", "--rolled-back"]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (code, r) = t.fleet(&["up", "--canary", "3", "--jobs", "4"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!((count(&r, "at_head"), r["stopped"].clone()), (50, Value::Null), "{r}");
    assert_eq!(t.applied(&t.names[10]).await, 3);
}

async fn ctrl_c_stops_starting_tenants_and_a_rerun_finishes(d: Dialect) {
    let t = Tenants::new(d, 50, true).await;
    let child = t.start(&["up", "--jobs", "2"]);
    // Once a few tenants are done, as a person would press it.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut done = 0;
        for name in &t.names[..8] {
            done += (t.applied(name).await == 3) as usize;
        }
        if done >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the fleet run made no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = interrupted(child);
    assert_eq!(count(&r, "failed") + count(&r, "unreachable"), 0, "the running ones finished cleanly: {r}");
    assert!(count(&r, "skipped") > 0, "{r}");
    assert!(count(&r, "at_head") >= 3, "{r}");
    // Every tenant is whole: each finished its current migration, none left part way.
    let (code, st) = t.fleet(&["status"]);
    assert_eq!(code, 0, "{st}");
    assert_eq!(count(&st, "failed"), 0);

    let (code, r) = t.fleet(&["up", "--jobs", "8"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(count(&r, "at_head"), 50);
    for name in &t.names {
        assert_eq!(t.applied(name).await, 3, "{name}");
    }
}

async fn ctrl_c_once_every_tenant_has_started_is_still_a_stop(d: Dialect) {
    let t = Tenants::new(d, 3, true).await;
    let child = t.start(&["up", "--jobs", "8"]);
    // Every tenant started at once; pressed while they run their slow second migration.
    let deadline = Instant::now() + Duration::from_secs(60);
    while t.applied(&t.names[0]).await < 1 {
        assert!(Instant::now() < deadline, "the fleet run made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = interrupted(child);
    assert_eq!(count(&r, "failed"), 0, "{r}");
}

async fn a_pattern_fleet_lists_the_servers_matching_databases_and_a_protected_one_asks_and_backs_up(d: Dialect) {
    let t = Tenants::new(d, 5, false).await;
    let prefix = t.names[0].trim_end_matches("00").to_string();
    let pattern = url_of(d, &format!("{prefix}%"));
    std::fs::write(
        t.dir.path().join("godwit.toml"),
        format!("id = \"fleet-test\"\n[fleet.t]\npattern = \"{pattern}\"\nprotected = true\n"),
    )
    .unwrap();
    let (code, r) = t.fleet(&["status"]);
    assert_eq!(code, 0, "{r}");
    let names: Vec<&str> = r["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, t.names.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(count(&r, "behind"), 5);

    // Protected: nothing runs until the fleet's name is given.
    let o = t.command(&["--fleet", "t", "up"]).output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(t.applied(&t.names[0]).await, 0);
    let (code, r) = t.fleet(&["up", "--confirm", "t"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(count(&r, "at_head"), 5);
    // Each database was backed up before its run, in the project's store.
    let backups = r["members"].as_array().unwrap().iter().filter(|m| m["backup"].is_string()).count();
    assert_eq!(backups, 5, "{r}");
    assert!(t.data().join("backups/fleet-test").is_dir());
    // Each backup verified, and the row says what was found (`--json` after `verify` too).
    let (code, r) = t.fleet(&["backups", "verify"]);
    assert_eq!(code, 0, "{r}");
    for m in r["members"].as_array().unwrap() {
        let detail = m["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("backup ") && detail.contains(" matches: "), "{m}");
    }

    // A migration with a lint error (made one on every database by the project's `[lint]`): each
    // protected member's run guard asks for it to be acknowledged, as one environment's does; the
    // fleet's `--acknowledge-lint` gives it.
    let config = t.dir.path().join("godwit.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[lint]\nseverity = {{ adding-required-field = \"error\" }}\n")).unwrap();
    let m = t.dir.path().join("migrations");
    std::fs::write(m.join("4_sku.up.sql"), "ALTER TABLE users ADD COLUMN sku varchar(20) NOT NULL;").unwrap();
    std::fs::write(m.join("4_sku.down.sql"), "ALTER TABLE users DROP COLUMN sku;").unwrap();
    let (code, r) = t.fleet(&["up", "--confirm", "t"]);
    assert_ne!(code, 0, "{r}");
    let refused: Vec<&Value> = r["members"].as_array().unwrap().iter().map(|m| &m["error"]["problem"]).collect();
    assert!(refused.iter().all(|p| p["problem"] == "protected"), "{r}");
    assert_eq!(t.applied(&t.names[0]).await, 3, "nothing ran");
    let (code, r) = t.fleet(&["up", "--confirm", "t", "--acknowledge-lint"]);
    assert_eq!((code, count(&r, "at_head")), (0, 5), "{r}");
}

/// One test per server for each scenario (fleets are for servers; SQLite files are in the app's test).
macro_rules! on_each_server {
    ($($name:ident),* $(,)?) => {
        mod postgres { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name(godwit::db::Dialect::Postgres).await } )* }
        mod mariadb { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name(godwit::db::Dialect::MySql).await } )* }
    };
}

on_each_server!(
    a_clean_run_brings_every_tenant_to_head,
    a_failing_and_an_unreachable_tenant_leave_the_others_at_head,
    a_failing_canary_stops_the_fleet_and_a_rerun_finishes_it,
    ctrl_c_stops_starting_tenants_and_a_rerun_finishes,
    ctrl_c_once_every_tenant_has_started_is_still_a_stop,
    a_pattern_fleet_lists_the_servers_matching_databases_and_a_protected_one_asks_and_backs_up,
);
