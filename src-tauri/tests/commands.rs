//! The shell's commands (their plain functions) over real SQLite, PostgreSQL and MariaDB: what the window
//! gets back, what streams while it runs, and what the database holds afterwards.

use std::path::Path;
use std::sync::Mutex;

use godwit::event::Direction;
use godwit::profile::EnvConfig;
use godwit_app::api::{self, AppEvent, RunRequest};
use godwit_app::state::AppState;
use sqlx::{Connection, Executor};

// The engine tests' own PostgreSQL cluster (this test uses its standby, not its restart).
#[allow(dead_code)]
#[path = "../../tests/common/cluster.rs"]
mod cluster;

fn project(dir: &Path, envs: &str) {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(dir.join("godwit.toml"), format!("id = \"app-test\"\n{envs}")).unwrap();
    for i in 1..=3 {
        std::fs::write(dir.join(format!("migrations/{i}_t{i}.up.sql")), format!("CREATE TABLE t{i} (id INTEGER);"))
            .unwrap();
        std::fs::write(dir.join(format!("migrations/{i}_t{i}.down.sql")), format!("DROP TABLE t{i};")).unwrap();
    }
}

/// A folder for the project, with config and data dirs of its own.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("GODWIT_CONFIG_DIR", dir.path().join("config")) };
    unsafe { std::env::set_var("GODWIT_DATA_DIR", dir.path().join("data")) };
    dir
}

/// What the window would have received.
#[derive(Default)]
struct Log(Mutex<Vec<AppEvent>>);

impl Log {
    fn push(&self, e: AppEvent) -> bool {
        self.0.lock().unwrap().push(e);
        true
    }
    fn events(&self) -> Vec<AppEvent> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn sqlite_open_status_apply_history_and_protection() {
    let dir = folder();
    project(
        dir.path(),
        "[env.dev]\nurl = \"sqlite://dev.db\"\n[env.prod]\nurl = \"sqlite://prod.db\"\nprotected = true\n",
    );
    let state = AppState::default();
    let view = api::open_project(&state, dir.path()).unwrap();
    assert_eq!(view.default_env.as_deref(), Some("dev"));
    assert_eq!(view.envs.len(), 2);
    assert!(api::recent_projects().contains(&dir.path().canonicalize().unwrap().display().to_string()));

    let s = api::status(&state, "dev").await.unwrap();
    assert_eq!((s.summary.applied, s.summary.pending), (0, 3));
    assert!(!dir.path().join("dev.db").exists(), "reading does not create the file");

    let plan = api::plan(&state, "dev", Direction::Up, Some(2), None, false).await.unwrap();
    assert_eq!(
        plan.planned.iter().map(|p| p.sql.as_str()).collect::<Vec<_>>(),
        ["CREATE TABLE t1 (id INTEGER);", "CREATE TABLE t2 (id INTEGER);"]
    );

    // The plan the window showed, then an edit to a file in it: the run refuses and runs nothing.
    let seen: Vec<godwit::migration::runner::Seen> = plan.planned.iter().map(Into::into).collect();
    let t2 = dir.path().join("migrations/2_t2.up.sql");
    std::fs::write(&t2, "CREATE TABLE t2 (id INTEGER, edited INTEGER);").unwrap();
    let stale = RunRequest { env: "dev".into(), to: Some(2), expect: Some(seen), ..Default::default() };
    let e = api::run(&state, stale, &|_| true).await.unwrap_err();
    assert_eq!(e.problem, godwit::Problem::PlanChanged);
    assert_eq!(api::status(&state, "dev").await.unwrap().summary.applied, 0, "nothing ran");
    std::fs::write(&t2, "CREATE TABLE t2 (id INTEGER);").unwrap();

    let log = Log::default();
    let sink = |e| log.push(e);
    let report =
        api::run(&state, RunRequest { env: "dev".into(), to: Some(2), ..Default::default() }, &sink).await.unwrap();
    assert_eq!(report.done.len(), 2);
    let events = log.events();
    assert!(matches!(events.first(), Some(AppEvent::Job { .. })), "the job id comes first, for Cancel");
    assert_eq!(
        events.iter().filter(|e| matches!(e, AppEvent::Run { .. })).count(),
        6,
        "started, 2 x (started, finished), finished"
    );
    let s = api::status(&state, "dev").await.unwrap();
    assert_eq!((s.summary.applied, s.summary.pending, s.summary.current), (2, 1, Some(2)));
    let h = api::history(&state, "dev", 10).await.unwrap();
    assert_eq!(h.len(), 2);

    // Roll back the newest.
    let sink = |_e| true;
    api::run(&state, RunRequest { env: "dev".into(), direction: Some(Direction::Down), ..Default::default() }, &sink)
        .await
        .unwrap();
    assert_eq!(api::status(&state, "dev").await.unwrap().summary.applied, 1);

    // Protected: refused without the typed name, and nothing happens.
    let e =
        api::run(&state, RunRequest { env: "prod".into(), confirm: Some("prdo".into()), ..Default::default() }, &sink)
            .await
            .unwrap_err();
    assert_eq!(e.problem, godwit::Problem::Protected);
    assert!(!dir.path().join("prod.db").exists());
    let r =
        api::run(&state, RunRequest { env: "prod".into(), confirm: Some("prod".into()), ..Default::default() }, &sink)
            .await
            .unwrap();
    assert_eq!(r.done.len(), 3);

    // New migration from a template, as the form does it.
    let mut params = std::collections::BTreeMap::new();
    for (k, v) in [("table", "t1"), ("column", "email"), ("type", "string")] {
        params.insert(k.to_string(), v.to_string());
    }
    let rendered = api::render_template(&state, "dev", "add_column", params).unwrap();
    let files = api::create_migration(
        &state,
        "add email",
        &rendered.up,
        rendered.down.as_deref(),
        false,
        false,
        rendered.own_downs,
    )
    .unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(api::status(&state, "dev").await.unwrap().summary.pending, 3);
    assert!(api::templates(&state).unwrap().iter().any(|t| t.name == "create_table"));
}

#[tokio::test]
async fn postgres_failure_with_its_line_cancel_backups_and_environments() {
    let admin =
        std::env::var("GODWIT_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("godwit_app_{}", std::process::id());
    let mut admin_conn =
        sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin}: {e}"));
    admin_conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).await.unwrap();
    admin_conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));

    let dir = folder();
    project(dir.path(), "");
    std::fs::write(dir.path().join("migrations/4_bad.up.sql"), "-- bad\nINSERT INTO t1 VALUES ('x');\n").unwrap();
    std::fs::write(dir.path().join("migrations/4_bad.down.sql"), "").unwrap();
    let state = AppState::default();
    api::open_project(&state, dir.path()).unwrap();

    // The environment form: the password goes nowhere on disk (trust auth here: no keyring needed).
    let env = EnvConfig { url: Some(url.to_string()), color: Some("amber".into()), ..Default::default() };
    let view = api::save_env(&state, "pg", env, false, None).unwrap().project;
    assert_eq!(view.envs.iter().find(|e| e.name == "pg").unwrap().color.as_deref(), Some("amber"));
    let probe = api::test_env(&state, "pg").await.unwrap();
    assert!(probe.server_version.starts_with("15") && !probe.history_table);

    let sink = |_e| true;
    let e = api::run(&state, RunRequest { env: "pg".into(), ..Default::default() }, &sink).await.unwrap_err();
    assert_eq!(e.problem, godwit::Problem::MigrationFailed { version: 4 });
    assert!(e.message.contains("4_bad.up.sql") && e.message.contains("invalid input syntax"), "{}", e.message);
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(2));
    let s = api::status(&state, "pg").await.unwrap();
    assert_eq!(s.summary.applied, 3, "the earlier ones stay applied");
    let h = api::history(&state, "pg", 10).await.unwrap();
    assert_eq!(h[0].outcome, godwit::db::Outcome::Failed);
    std::fs::remove_file(dir.path().join("migrations/4_bad.up.sql")).unwrap();
    std::fs::remove_file(dir.path().join("migrations/4_bad.down.sql")).unwrap();

    // Cancel from the window: stop after the first migration of a long run.
    for i in 5..=40 {
        std::fs::write(dir.path().join(format!("migrations/{i}_x{i}.sql")), format!("CREATE TABLE x{i} (id INTEGER);"))
            .unwrap();
    }
    let state_ref = &state;
    let sink = move |e: AppEvent| {
        if let AppEvent::Run { event: godwit::event::RunEvent::MigrationFinished { .. } } = e {
            // The job id is 2: the failed run above was job 1.
            state_ref.cancel(2);
        }
        true
    };
    let r = api::run(&state, RunRequest { env: "pg".into(), ..Default::default() }, &sink).await.unwrap();
    assert!(r.cancelled);
    assert_eq!(r.done.len(), 1);
    assert_eq!(api::status(&state, "pg").await.unwrap().summary.applied, 4, "the status says what the database holds");

    // Backups from the window.
    let log = Log::default();
    let sink = |e| log.push(e);
    let b = api::backup_now(&state, "pg", &sink).await.unwrap();
    assert!(log.events().iter().any(|e| matches!(e, AppEvent::Backup { .. })));
    assert_eq!(api::backups(&state, "pg").unwrap()[0].id, b.id);
    let c = api::verify_backup(&state, "pg", &b.id, &sink).await.unwrap();
    assert!(c.differences.is_empty(), "{:?}", c.differences);
    let e = api::restore_backup(&state, "pg", &b.id, None, &sink).await.unwrap_err();
    assert_eq!(e.problem, godwit::Problem::Protected, "a restore needs the name typed");
    let r = api::restore_backup(&state, "pg", &b.id, Some("pg".into()), &sink).await.unwrap();
    assert!(r.comparison.differences.is_empty());

    let checks = api::check(&state, "pg").await.unwrap();
    assert!(checks.is_empty(), "{checks:?}");
    api::remove_env(&state, "pg").unwrap();
    assert!(!std::fs::read_to_string(dir.path().join("godwit.toml")).unwrap().contains("[env.pg]"));
    admin_conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await.unwrap();
}

/// Every screen's commands on MariaDB: status (with who applied), plan, run, history, check and its
/// repair, a template in MySQL's SQL, and backups.
#[tokio::test]
async fn mariadb_every_screen() {
    let admin = std::env::var("GODWIT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into());
    let name = format!("godwit_app_{}", std::process::id());
    let mut admin_conn =
        sqlx::MySqlConnection::connect(&admin).await.unwrap_or_else(|e| panic!("cannot reach MariaDB at {admin}: {e}"));
    admin_conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).await.unwrap();
    admin_conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));

    let dir = folder();
    project(dir.path(), &format!("[env.maria]\nurl = \"{url}\"\n"));
    let state = AppState::default();
    api::open_project(&state, dir.path()).unwrap();
    assert!(api::test_env(&state, "maria").await.unwrap().server_version.contains("MariaDB"));

    let plan = api::plan(&state, "maria", Direction::Up, None, None, false).await.unwrap();
    assert_eq!(plan.planned.len(), 3);
    let sink = |_e| true;
    api::run(&state, RunRequest { env: "maria".into(), ..Default::default() }, &sink).await.unwrap();
    let s = api::status(&state, "maria").await.unwrap();
    assert_eq!(s.summary.applied, 3);
    assert_eq!(s.migrations[0].applied_by.as_deref(), Some(godwit::db::actor().as_str()));
    assert_eq!(api::history(&state, "maria", 10).await.unwrap().len(), 3);

    // Check finds an edited file. Its repair (as the Check screen does it) is refused while the
    // edit changes what the file makes; accepted on the person's word, it clears it.
    std::fs::write(dir.path().join("migrations/2_t2.up.sql"), "CREATE TABLE t2 (id BIGINT);").unwrap();
    let checks = api::check(&state, "maria").await.unwrap();
    assert_eq!(checks.len(), 1, "{checks:?}");
    let e = api::repair(&state, "maria", 2, "widened on purpose", false, None).await.unwrap_err();
    assert_eq!(e.problem, godwit::error::Problem::EditChangesSchema { version: 2 });
    assert_eq!(
        e.remedies,
        [godwit::error::Remedy::RepairUnchecked { version: 2, reason: "widened on purpose".into() }]
    );
    assert_eq!(api::check(&state, "maria").await.unwrap().len(), 1, "nothing was accepted");
    api::repair(&state, "maria", 2, "widened on purpose", true, None).await.unwrap();
    assert!(api::check(&state, "maria").await.unwrap().is_empty());

    let mut params = std::collections::BTreeMap::new();
    for (k, v) in [("table", "t1"), ("column", "at"), ("type", "timestamp")] {
        params.insert(k.to_string(), v.to_string());
    }
    let rendered = api::render_template(&state, "maria", "add_column", params).unwrap();
    assert!(rendered.up.contains("ADD COLUMN") && rendered.up.contains("DATETIME(6)"), "MySQL's type: {}", rendered.up);

    let b = api::backup_now(&state, "maria", &sink).await.unwrap();
    assert!(b.file.ends_with(".sql.zst"));
    assert!(api::verify_backup(&state, "maria", &b.id, &sink).await.unwrap().differences.is_empty());
    api::run(&state, RunRequest { env: "maria".into(), direction: Some(Direction::Down), ..Default::default() }, &sink)
        .await
        .unwrap();
    let r = api::restore_backup(&state, "maria", &b.id, Some("maria".into()), &sink).await.unwrap();
    assert!(r.comparison.differences.is_empty(), "{:?}", r.comparison.differences);
    assert_eq!(api::status(&state, "maria").await.unwrap().summary.applied, 3, "the rolled-back one is back");
    admin_conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).await.unwrap();
}

/// A folder of `.sql` files is not made a project behind the person's back: opening it says
/// which file it would write, and only `create_project` writes it.
#[test]
fn a_folder_of_migrations_is_adopted_only_when_asked() {
    let dir = folder();
    let sql = dir.path().join("db");
    std::fs::create_dir(&sql).unwrap();
    std::fs::write(sql.join("1_t.up.sql"), "CREATE TABLE t (id INTEGER);").unwrap();
    let state = AppState::default();
    let e = api::open_project(&state, &sql).unwrap_err();
    let Some(godwit::error::Remedy::CreateProject { root, config, migrations }) = e.remedies.first().cloned() else {
        panic!("no CreateProject remedy: {e:?}")
    };
    let canonical = dir.path().canonicalize().unwrap();
    assert_eq!((root.as_str(), migrations.as_str()), (canonical.to_str().unwrap(), "db"));
    assert_eq!(config, canonical.join("godwit.toml").display().to_string());
    assert!(!dir.path().join("godwit.toml").exists(), "written without asking");
    let view = api::create_project(&state, std::path::Path::new(&root), &migrations).unwrap();
    assert_eq!(view.migrations, canonical.join("db").display().to_string());
    assert!(dir.path().join("godwit.toml").exists());
}

/// What closing the window mid-run does (`AppState::stop_for_close`, then waiting for the jobs):
/// once, the running migration goes on (tests/e2e/close.test.mjs shows it finish); again, the
/// running statement is stopped on the server and the run reports it; nothing finishes afterwards.
#[tokio::test]
async fn closing_twice_mid_run_stops_the_statement_on_the_server() {
    let (dir, _url, db) = pg_project("close").await;
    let (admin, name) = (db.admin.clone(), db.name.clone());
    let mut admin_conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    std::fs::write(dir.path().join("migrations/1_sleep.up.sql"), "SELECT pg_sleep(600);").unwrap();
    std::fs::write(dir.path().join("migrations/1_sleep.down.sql"), "SELECT 1;").unwrap();
    let state = AppState::default();
    api::open_project(&state, dir.path()).unwrap();

    let running = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND state = 'active' AND query LIKE '%pg_sleep(600)%'"
    );
    let sink = |_e| true;
    let run = api::run(&state, RunRequest { env: "pg".into(), ..Default::default() }, &sink);
    let close = async {
        let mut watch = until_counted(&admin, &running).await;
        assert_eq!(state.stop_for_close(), Some(1), "the run is a job");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let still: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(running.clone())).fetch_one(&mut watch).await.unwrap();
        assert_eq!(still, 1, "closing once stopped the running migration");
        assert_eq!(state.stop_for_close(), Some(2));
    };
    let (result, ()) = tokio::join!(run, close);
    assert_eq!(result.unwrap_err().problem, godwit::Problem::Cancelled);
    assert!(!state.has_jobs());
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(running)).fetch_one(&mut admin_conn).await.unwrap();
    assert_eq!(n, 0, "the statement still runs on the server");
    let s = api::status(&state, "pg").await.unwrap();
    assert_eq!((s.summary.applied, s.summary.pending), (0, 1));
}

/// A fleet whose databases are not environments stops a squash, with the remedy the window offers
/// as a button; leaving it out, as that button does, lets the squash go on.
#[tokio::test]
async fn a_squash_stopped_by_a_fleet_goes_on_once_it_is_left_out() {
    let dir = folder();
    project(dir.path(), "[env.dev]\nurl = \"sqlite://dev.db\"\n[fleet.t]\nfile = \"t.txt\"\n");
    std::fs::write(dir.path().join("t.txt"), "sqlite://tenant.db\n").unwrap();
    let state = AppState::default();
    api::open_project(&state, dir.path()).unwrap();
    let e = api::squash(&state, "dev", 2, true, false, Vec::new()).await.unwrap_err();
    assert!(
        matches!(&e.remedies[..], [godwit::error::Remedy::SkipEnv { env, squash_to: Some(2) }] if env == "fleet t"),
        "{e:?}"
    );
    let dry = api::squash(&state, "dev", 2, true, false, vec!["fleet t".into()]).await.unwrap();
    assert_eq!(dry.squashed, [1, 2]);
}

/// Squash is a job: closing the window while it proves its file stops the proof on the server and
/// drops its scratch database before the window closes.
#[tokio::test]
async fn closing_mid_squash_leaves_no_scratch_database() {
    let (dir, _url, db) = pg_project("squash").await;
    let admin = db.admin.clone();
    std::fs::write(dir.path().join("migrations/1_slow.sql"), "SELECT pg_sleep(600);").unwrap();
    std::fs::write(dir.path().join("migrations/2_t.sql"), "CREATE TABLE t (id INT);").unwrap();
    let state = AppState::default();
    api::open_project(&state, dir.path()).unwrap();
    let scratch = format!("godwit\\_scratch\\_{}\\_%", std::process::id());
    let sleeping = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE '{scratch}' AND state = 'active' AND query LIKE '%pg_sleep(600)%'"
    );
    let squash = api::squash(&state, "pg", 2, false, true, Vec::new());
    let close = async {
        until_counted(&admin, &sleeping).await;
        assert_eq!(state.stop_for_close(), Some(1), "the squash is a job");
        assert_eq!(state.stop_for_close(), Some(2));
    };
    let (result, ()) = tokio::join!(squash, close);
    let e = result.unwrap_err();
    assert_eq!(e.problem, godwit::Problem::Cancelled, "{e:?}");
    assert!(!state.has_jobs());
    let mut watch = sqlx::PgConnection::connect(&admin).await.unwrap();
    let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM pg_database WHERE datname LIKE '{scratch}'"
    )))
    .fetch_one(&mut watch)
    .await
    .unwrap();
    assert_eq!(left, 0, "a scratch database was left behind");
    assert!(dir.path().join("migrations/1_slow.sql").exists(), "nothing was changed");
}

/// A pending migration older than applied ones (two branches merged): the run is refused with the
/// remedy the window offers as a button, and the person's choice to include it is honoured.
#[tokio::test]
async fn out_of_order_is_offered_then_honoured() {
    let dir = folder();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("godwit.toml"), "id = \"app-test\"\n[env.dev]\nurl = \"sqlite://dev.db\"\n")
        .unwrap();
    std::fs::write(dir.path().join("migrations/1_a.sql"), "CREATE TABLE a (id INTEGER);").unwrap();
    std::fs::write(dir.path().join("migrations/3_c.sql"), "CREATE TABLE c (id INTEGER);").unwrap();
    let state = AppState::default();
    api::open_project(&state, dir.path()).unwrap();
    let sink = |_e| true;
    api::run(&state, RunRequest { env: "dev".into(), ..Default::default() }, &sink).await.unwrap();
    // Another branch's migration, merged after 3 was applied.
    std::fs::write(dir.path().join("migrations/2_late.sql"), "CREATE TABLE late (id INTEGER);").unwrap();
    let late = RunRequest { env: "dev".into(), ..Default::default() };
    let e = api::plan(&state, "dev", Direction::Up, None, None, false).await.unwrap_err();
    let offered = [godwit::error::Remedy::AllowOutOfOrder, godwit::error::Remedy::Rebase];
    assert_eq!(e.remedies, offered);
    assert_eq!(api::run(&state, late.clone(), &sink).await.unwrap_err().remedies, offered);
    let plan = api::plan(&state, "dev", Direction::Up, None, None, true).await.unwrap();
    assert_eq!(plan.planned.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
    let r = api::run(&state, RunRequest { allow_out_of_order: true, ..late }, &sink).await.unwrap();
    assert_eq!(r.done.len(), 1);
}

/// sqlx-cli as `bench/setup.sh` and `scripts/setup-test.sh` install it.
fn sqlx_cli() -> std::path::PathBuf {
    let p = dirs::home_dir().unwrap().join(".cache/godwit/tools/sqlx-cli-0.9.0-default/bin/sqlx");
    assert!(p.exists(), "{} is missing: run scripts/setup-test.sh", p.display());
    p
}

/// The godwit CLI built beside this test (`cargo nextest run --workspace` builds it).
fn godwit_cli() -> std::path::PathBuf {
    let p = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("godwit");
    assert!(p.exists(), "{} is missing: cargo build --bin godwit", p.display());
    p
}

/// Waits until `count` (a `SELECT count(*)`) finds something on the server at `admin`; returns
/// the connection it watched with.
async fn until_counted(admin: &str, count: &str) -> sqlx::PgConnection {
    let mut watch = sqlx::PgConnection::connect(admin).await.unwrap();
    while sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count.to_string())).fetch_one(&mut watch).await.unwrap() == 0
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    watch
}

/// A fresh PostgreSQL database and a project (environment `pg`) on it, with no migration yet;
/// the database is dropped with the returned guard.
async fn pg_project(tag: &str) -> (tempfile::TempDir, String, DropDb) {
    let admin =
        std::env::var("GODWIT_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("godwit_app_{tag}_{}", std::process::id());
    let mut admin_conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    admin_conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).await.unwrap();
    admin_conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    let dir = folder();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("godwit.toml"), format!("id = \"app-test\"\n[env.pg]\nurl = \"{url}\"\n")).unwrap();
    (dir, url.to_string(), DropDb { admin, name })
}

/// `pg_project` with five slow migrations (slow enough that runners overlap).
async fn racing_project(tag: &str) -> (tempfile::TempDir, String, DropDb) {
    let (dir, url, db) = pg_project(tag).await;
    for v in 1..=5 {
        std::fs::write(
            dir.path().join(format!("migrations/{v}_t{v}.sql")),
            format!("CREATE TABLE t{v} (id INT);\nSELECT pg_sleep(0.2);"),
        )
        .unwrap();
    }
    (dir, url, db)
}

struct DropDb {
    admin: String,
    name: String,
}

impl Drop for DropDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Its own runtime: drop runs inside the test's.
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
                let _ = c.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
            })
        })
        .join()
        .unwrap();
    }
}

/// `cli` copies of `godwit up`, `sqlx` of `sqlx migrate run` and `apps` runs through the app's
/// command layer (each with the state of a window of its own), all at once: each one's outcome.
async fn race(dir: &Path, url: &str, cli: usize, sqlx: usize, apps: usize) -> Vec<(String, bool, String)> {
    let spawn = |program: std::path::PathBuf, args: Vec<String>| {
        let mut c = tokio::process::Command::new(program);
        c.current_dir(dir).args(args).env_remove("DATABASE_URL").stdin(std::process::Stdio::null());
        async move { c.output().await.unwrap() }
    };
    let godwit_args = || ["--lock-timeout", "120", "--env", "pg", "up"].map(String::from).to_vec();
    let sqlx_args = || ["migrate", "run", "--source", "migrations", "--database-url", url].map(String::from).to_vec();
    let processes = futures_util::future::join_all(
        (0..cli)
            .map(|_| ("godwit", spawn(godwit_cli(), godwit_args())))
            .chain((0..sqlx).map(|_| ("sqlx-cli", spawn(sqlx_cli(), sqlx_args()))))
            .map(|(who, f)| async move {
                let o = f.await;
                let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
                (who.to_string(), o.status.success(), said)
            }),
    );
    let states: Vec<AppState> = (0..apps).map(|_| AppState::default()).collect();
    for state in &states {
        api::open_project(state, dir).unwrap();
    }
    let sink = |_e| true;
    let runs = futures_util::future::join_all(states.iter().map(|state| async {
        let r = api::run(state, RunRequest { env: "pg".into(), ..Default::default() }, &sink).await;
        ("app".to_string(), r.is_ok(), r.err().map(|e| e.message).unwrap_or_default())
    }));
    let (mut outcomes, runs) = tokio::join!(processes, runs);
    outcomes.extend(runs);
    outcomes
}

/// The history and how many of the migrations' tables exist.
async fn applied(url: &str) -> (Vec<String>, i64) {
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let history =
        sqlx::query_scalar("SELECT version::text || ':' || success::text FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let tables = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename ~ '^t[0-9]$'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    (history, tables)
}

const AT_HEAD: [&str; 5] = ["1:true", "2:true", "3:true", "4:true", "5:true"];

/// Eight runners at once on one PostgreSQL database, the app's command layer (four windows' worth
/// of state) and the CLI (four processes) mixed: they take one advisory lock (sqlx's key) and plan
/// under it, so every one succeeds and every migration is applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_runners_mixing_the_app_and_the_cli_apply_each_migration_once() {
    let (dir, url, _drop) = racing_project("mixed").await;
    for (who, ok, said) in race(dir.path(), &url, 4, 0, 4).await {
        assert!(ok, "{who}: {said}");
    }
    assert_eq!(applied(&url).await, (AT_HEAD.map(String::from).to_vec(), 5));
}

/// The same with sqlx-cli among them. `sqlx migrate run` takes no lock (sqlx's library Migrator
/// does; the CLI does not), so it can collide with a run in progress: whoever loses fails, and on
/// PostgreSQL its transaction is rolled back. Nothing is applied twice or left half done, and one
/// more `godwit up` finishes what is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_cli_among_the_runners_collides_without_harm() {
    let (dir, url, _drop) = racing_project("with_sqlx").await;
    race(dir.path(), &url, 3, 2, 3).await;
    let (history, tables) = applied(&url).await;
    assert!(history.iter().all(|h| h.ends_with(":true")), "{history:?}");
    assert_eq!(history.len() as i64, tables, "a table for each recorded migration and no other");
    let o =
        std::process::Command::new(godwit_cli()).current_dir(dir.path()).args(["--env", "pg", "up"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(applied(&url).await, (AT_HEAD.map(String::from).to_vec(), 5));
}

/// An sqlx project whose sqlx.toml moves the history (`table-name`, `create-schemas`) and its
/// migrations (`migrations-dir`): what sqlx-cli applied there is what the app shows applied, the
/// app's run goes there too, and sqlx-cli then finds nothing to apply.
#[tokio::test]
async fn the_app_follows_sqlx_toml_as_sqlx_cli_does() {
    let (dir, url, _drop) = pg_project("sqlx_toml").await;
    std::fs::write(
        dir.path().join("sqlx.toml"),
        "[migrate]\ntable-name = \"meta.schema_history\"\ncreate-schemas = [\"meta\"]\nmigrations-dir = \"db/migrations\"\n",
    )
    .unwrap();
    let m = dir.path().join("db/migrations");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
    let migrate_run = || {
        let o = std::process::Command::new(sqlx_cli())
            .current_dir(dir.path())
            .env("DATABASE_URL", &url)
            .args(["migrate", "run"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    migrate_run();
    std::fs::write(m.join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();

    let state = AppState::default();
    api::open_project(&state, dir.path()).unwrap();
    let s = api::status(&state, "pg").await.unwrap();
    assert_eq!((s.summary.applied, s.summary.pending), (1, 1), "{:?}", s.migrations);
    let r = api::run(&state, RunRequest { env: "pg".into(), ..Default::default() }, &|_e| true).await.unwrap();
    assert_eq!(r.done.len(), 1);
    assert_eq!(api::history(&state, "pg", 10).await.unwrap().len(), 1, "the app's apply, logged beside the history");

    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM meta.schema_history ORDER BY 1").fetch_all(&mut c).await.unwrap();
    assert_eq!(versions, [1, 2]);
    let default: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text").fetch_one(&mut c).await.unwrap();
    assert_eq!(default, None, "no history apart from sqlx-cli's");
    assert!(!migrate_run().contains("Applied"), "sqlx-cli finds nothing to apply");
}

/// The app's run of a protected environment goes through the core's guard, as the CLI's does: the
/// plan says what to confirm, and the run refuses lint errors not acknowledged, whatever the window
/// sent.
#[tokio::test]
async fn a_protected_run_with_lint_errors_needs_them_acknowledged_in_the_app_too() {
    let (dir, url, _drop) = pg_project("guard").await;
    std::fs::write(
        dir.path().join("godwit.toml"),
        format!("id = \"app-test\"\n[env.pg]\nurl = \"{url}\"\nprotected = true\n"),
    )
    .unwrap();
    // A table made before (by hand): a required column added to it is a lint error.
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    c.execute("CREATE TABLE items (id BIGINT PRIMARY KEY)").await.unwrap();
    std::fs::write(dir.path().join("migrations/1_sku.sql"), "ALTER TABLE items ADD COLUMN sku TEXT NOT NULL;\n")
        .unwrap();
    let state = AppState::default();
    let view = api::open_project(&state, dir.path()).unwrap();
    // What any change to it needs, for the fixes and the squash to draw.
    assert_eq!(view.envs[0].changes.confirm.as_deref(), Some("pg"));
    let plan = api::plan(&state, "pg", Direction::Up, None, None, false).await.unwrap();
    assert_eq!(plan.guard.confirm.as_deref(), Some("pg"));
    assert!(plan.guard.lint_errors >= 1);

    let req = RunRequest { env: "pg".into(), confirm: Some("pg".into()), ..Default::default() };
    let e = api::run(&state, req.clone(), &|_e| true).await.unwrap_err();
    assert_eq!(e.problem, godwit::error::Problem::Protected);
    assert!(matches!(&e.remedies[..], [godwit::error::Remedy::AcknowledgeLint { files }] if files.len() == 1), "{e:?}");
    let r = api::run(&state, RunRequest { acknowledge_lint: true, ..req }, &|_e| true).await.unwrap();
    assert_eq!(r.done.len(), 1);

    // A fleet of it: the member's run guard refuses the same way, and says how to go on; the
    // fleet's run sends the acknowledgement on.
    std::fs::write(
        dir.path().join("godwit.toml"),
        format!("id = \"app-test\"\n[env.pg]\nurl = \"{url}\"\nprotected = true\n[fleet.f]\nenvs = [\"pg\"]\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("migrations/2_code.sql"), "ALTER TABLE items ADD COLUMN code TEXT NOT NULL;\n")
        .unwrap();
    let view = api::open_project(&state, dir.path()).unwrap();
    assert_eq!(view.fleets[0].changes.confirm.as_deref(), Some("f"));
    let fleet = |acknowledge_lint| api::FleetRunRequest {
        fleet: "f".into(),
        action: api::FleetAction::Up,
        jobs: None,
        max_failures: None,
        canary: None,
        confirm: Some("f".into()),
        acknowledge_lint,
    };
    let report = api::fleet_run(&state, fleet(false), &|_e| true).await.unwrap();
    let e = report.members[0].error.as_ref().expect("refused");
    assert_eq!(e.problem, godwit::error::Problem::Protected);
    assert!(matches!(&e.remedies[..], [godwit::error::Remedy::AcknowledgeLint { .. }]), "{e:?}");
    let report = api::fleet_run(&state, fleet(true), &|_e| true).await.unwrap();
    assert_eq!((report.members[0].done, report.summary.failed), (1, 0), "{:?}", report.members[0].error);
}

/// A standby (a cluster and its `pg_basebackup -R` copy of the test's own): the app's status says
/// it is one, and a run is refused before anything is written, as the CLI refuses it.
#[tokio::test]
async fn a_standby_is_named_and_refused_in_the_app_too() {
    let primary = cluster::Cluster::start(None);
    let standby = primary.standby();
    let dir = folder();
    project(dir.path(), &format!("[env.replica]\nurl = \"{}\"\n", standby.url()));
    let state = AppState::default();
    api::open_project(&state, dir.path()).unwrap();
    let s = api::status(&state, "replica").await.unwrap();
    assert!(s.standby.as_ref().is_some_and(|s| !s.paused), "{:?}", s.standby);
    assert!(s.findings.iter().any(|f| f.kind == godwit::migration::check::FindingKind::Standby));
    let e = api::run(&state, RunRequest { env: "replica".into(), ..Default::default() }, &|_| true).await.unwrap_err();
    assert_eq!(e.problem, godwit::Problem::Standby, "{}", e.message);
    let mut c = sqlx::PgConnection::connect(&primary.url()).await.unwrap();
    let made: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(made, 0, "nothing was written");
}
