//! Real databases for tests: each test gets its own uniquely named database, dropped afterwards.
//! Servers come from GODWIT_TEST_PG_URL / GODWIT_TEST_MYSQL_URL or the local defaults; a server
//! that cannot be reached fails the test loudly.
#![allow(dead_code)]

pub mod cluster;
pub mod from_schema;
pub mod galera;
pub mod mariadb_server;
pub mod online;
pub mod pgbouncer;
pub mod pgtrap;
pub mod project;
pub mod proxy;
pub mod sqlx_cli;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use godwit::db::{self, ConnectOptions, Database, Dialect, Target};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection, Executor};

pub fn pg_admin_url() -> String {
    std::env::var("GODWIT_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn mysql_admin_url() -> String {
    std::env::var("GODWIT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh database (or SQLite file) and a migrations folder beside it.
pub struct TestDb {
    pub dialect: Dialect,
    pub url: String,
    pub name: String,
    pub dir: tempfile::TempDir,
}

fn with_db(admin: &str, name: &str) -> String {
    let mut u = url::Url::parse(admin).unwrap();
    u.set_path(&format!("/{name}"));
    u.to_string()
}

async fn admin_exec(dialect: Dialect, sql: String) {
    match dialect {
        Dialect::Postgres => {
            let mut c = sqlx::PgConnection::connect(&pg_admin_url())
                .await
                .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {}: {e}", pg_admin_url()));
            c.execute(AssertSqlSafe(sql)).await.unwrap();
        }
        Dialect::MySql => {
            let mut c = sqlx::MySqlConnection::connect(&mysql_admin_url())
                .await
                .unwrap_or_else(|e| panic!("cannot reach the test MariaDB at {}: {e}", mysql_admin_url()));
            c.execute(AssertSqlSafe(sql)).await.unwrap();
        }
        Dialect::Sqlite => {}
    }
}

impl TestDb {
    pub async fn new(dialect: Dialect) -> TestDb {
        let name = format!(
            "godwit_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            chrono::Utc::now().timestamp_subsec_nanos() % 100_000
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        let url = match dialect {
            Dialect::Postgres => {
                admin_exec(dialect, format!("CREATE DATABASE {name}")).await;
                with_db(&pg_admin_url(), &name)
            }
            Dialect::MySql => {
                admin_exec(dialect, format!("CREATE DATABASE {name}")).await;
                with_db(&mysql_admin_url(), &name)
            }
            Dialect::Sqlite => format!("sqlite://{}", dir.path().join("test.db").display()),
        };
        TestDb { dialect, url, name, dir }
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    pub fn write(&self, name: &str, sql: &str) {
        std::fs::write(self.migrations().join(name), sql).unwrap();
    }

    pub fn target(&self) -> Target {
        Target::parse(&self.url, self.dir.path()).unwrap()
    }

    /// The test database as `ops` works on it, with its migrations folder.
    pub fn session(&self) -> godwit::ops::Session {
        godwit::ops::Session {
            ws: godwit::project::Workspace::adhoc(self.target(), self.migrations()),
            project_id: None,
            keep: 1,
            connect: Default::default(),
            lock_timeout: std::time::Duration::from_secs(5),
            schema_file: None,
            desired_schema: None,
            lint: Default::default(),
            waits: Default::default(),
        }
    }

    pub async fn connect(&self) -> Box<dyn Database> {
        let opts = ConnectOptions { create_sqlite: true, ..Default::default() };
        db::connect(&self.target(), &opts).await.unwrap_or_else(|e| panic!("connect {}: {e}", self.url))
    }

    /// Runs a query on a plain sqlx connection and returns the first column of each row as text.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let sql = AssertSqlSafe(sql.to_string());
        match self.dialect {
            Dialect::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar::<_, String>(sql).fetch_all(&mut c).await.unwrap()
            }
            Dialect::MySql => {
                let mut c = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar::<_, String>(sql).fetch_all(&mut c).await.unwrap()
            }
            Dialect::Sqlite => {
                let mut c =
                    sqlx::sqlite::SqliteConnectOptions::new().filename(self.sqlite_path()).connect().await.unwrap();
                sqlx::query_scalar::<_, String>(sql).fetch_all(&mut c).await.unwrap()
            }
        }
    }

    /// Runs statements on a plain sqlx connection (a person's change, not Godwit's).
    pub async fn exec(&self, sql: &str) {
        let sql = AssertSqlSafe(sql.to_string());
        match self.dialect {
            Dialect::Postgres => {
                sqlx::PgConnection::connect(&self.url).await.unwrap().execute(sql).await.unwrap();
            }
            Dialect::MySql => {
                sqlx::MySqlConnection::connect(&self.url).await.unwrap().execute(sql).await.unwrap();
            }
            Dialect::Sqlite => {
                let mut c =
                    sqlx::sqlite::SqliteConnectOptions::new().filename(self.sqlite_path()).connect().await.unwrap();
                c.execute(sql).await.unwrap();
            }
        }
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("test.db")
    }

    /// The names of the user tables, sorted (history tables excluded).
    pub async fn tables(&self) -> Vec<String> {
        let q = match self.dialect {
            Dialect::Postgres => {
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
            }
            Dialect::MySql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
            }
            Dialect::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            }
        };
        self.strings(q).await.into_iter().filter(|t| !t.starts_with('_')).collect()
    }

    /// The user schema as sorted lines (columns, indexes, constraints), from the catalogs; the
    /// history tables are left out. Two equal snapshots mean the same schema.
    pub async fn schema(&self) -> Vec<String> {
        let queries: &[&str] = match self.dialect {
            Dialect::Postgres => &[
                "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' '                  || coalesce(column_default, '') || ' ' || coalesce(character_maximum_length::text, '')                  FROM information_schema.columns WHERE table_schema = 'public' AND left(table_name, 1) <> '_'",
                "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND left(tablename, 1) <> '_'",
                "SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)                  FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND left(conrelid::regclass::text, 1) <> '_'",
                "SELECT 'table ' || table_name FROM information_schema.tables WHERE table_schema = 'public' AND left(table_name, 1) <> '_'",
            ],
            Dialect::MySql => &[
                "SELECT CONCAT_WS(' ', 'column', table_name, column_name, column_type, is_nullable, COALESCE(column_default, 'NULL'), extra)                  FROM information_schema.columns WHERE table_schema = DATABASE() AND LEFT(table_name, 1) <> '_'",
                "SELECT CONCAT_WS(' ', 'index', table_name, index_name, non_unique, seq_in_index, column_name)                  FROM information_schema.statistics WHERE table_schema = DATABASE() AND LEFT(table_name, 1) <> '_'",
                "SELECT CONCAT_WS(' ', 'fk', k.table_name, k.constraint_name, k.column_name, k.referenced_table_name, k.referenced_column_name, r.delete_rule)                  FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r                  ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name                  WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL",
            ],
            Dialect::Sqlite => &[
                "SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' || coalesce(p.dflt_value, '') || ' ' || p.pk                  FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND substr(m.name, 1, 1) <> '_'",
                "SELECT 'index ' || m.name || ' ' || il.name || ' ' || il.\"unique\" || ' ' || ii.name FROM sqlite_master m, pragma_index_list(m.name) il,                  pragma_index_info(il.name) ii WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND substr(m.name, 1, 1) <> '_'",
                "SELECT 'fk ' || m.name || ' ' || f.\"table\" || ' ' || f.\"from\" || ' ' || f.\"to\" || ' ' || f.on_delete FROM sqlite_master m,                  pragma_foreign_key_list(m.name) f WHERE m.type = 'table' AND substr(m.name, 1, 1) <> '_'",
            ],
        };
        let mut out = Vec::new();
        for q in queries {
            out.extend(self.strings(q).await);
        }
        out.sort();
        out
    }

    /// `version:success` of each history row.
    pub async fn history(&self) -> Vec<String> {
        let q = match self.dialect {
            Dialect::Postgres => "SELECT version::text || ':' || success::text FROM _sqlx_migrations ORDER BY version",
            Dialect::MySql => {
                "SELECT CONCAT(version, ':', IF(success, 'true', 'false')) FROM _sqlx_migrations ORDER BY version"
            }
            Dialect::Sqlite => {
                "SELECT version || ':' || CASE WHEN success THEN 'true' ELSE 'false' END FROM _sqlx_migrations ORDER BY version"
            }
        };
        self.strings(q).await
    }

    /// `event:outcome:version` of each log row, oldest first.
    pub async fn log(&self) -> Vec<String> {
        let q = match self.dialect {
            Dialect::MySql => {
                "SELECT CONCAT(event, ':', outcome, ':', COALESCE(version, '')) FROM _godwit_log ORDER BY id"
            }
            Dialect::Postgres => {
                "SELECT event || ':' || outcome || ':' || COALESCE(version::text, '') FROM _godwit_log ORDER BY id"
            }
            Dialect::Sqlite => {
                "SELECT event || ':' || outcome || ':' || COALESCE(version, '') FROM _godwit_log ORDER BY id"
            }
        };
        self.strings(q).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (dialect, name) = (self.dialect, self.name.clone());
        if dialect == Dialect::Sqlite {
            return;
        }
        // Drop runs outside async: use a thread with its own runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let sql = match dialect {
                    Dialect::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    _ => format!("DROP DATABASE IF EXISTS {name}"),
                };
                admin_exec(dialect, sql).await;
            })
        })
        .join()
        .ok();
    }
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Generates one test per database from an async fn taking a `Dialect`.
#[macro_export]
macro_rules! on_each_db {
    ($($name:ident),* $(,)?) => {
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(godwit::db::Dialect::Postgres).await } )* }
        mod mariadb { $( #[tokio::test] async fn $name() { super::$name(godwit::db::Dialect::MySql).await } )* }
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(godwit::db::Dialect::Sqlite).await } )* }
    };
}

/// What a command printed and how it ended.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The JSON error `--errors json` wrote last on `stderr`, if any.
fn json_error(stderr: &str) -> Option<serde_json::Value> {
    let last = stderr.lines().rev().find(|l| l.starts_with('{'))?;
    Some(serde_json::from_str(last).expect("--errors json writes one JSON object"))
}

/// The problem's name an error written with `--errors json` names on `stderr`.
pub fn problem_in(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let doc = json_error(&text).unwrap_or_else(|| panic!("no JSON error in: {text}"));
    doc["problem"]["problem"].as_str().unwrap_or_default().to_string()
}

impl Out {
    /// The problem an error names, from a run with `--errors json` (`None` when it succeeded).
    pub fn problem(&self) -> Option<serde_json::Value> {
        json_error(&self.stderr).map(|doc| doc["problem"].clone())
    }
    /// The whole JSON error (`problem`, `remedies`, `advice`…), from a run with `--errors json`.
    pub fn problem_doc(&self) -> serde_json::Value {
        json_error(&self.stderr).expect("a JSON error on stderr")
    }
    /// The problem's name (`not_found`, `drift`, …), from a run with `--errors json`.
    pub fn problem_is(&self) -> String {
        problem_in(self.stderr.as_bytes())
    }
}

/// A command's outcome, without DATABASE_URL or a terminal.
pub fn output(c: &mut std::process::Command) -> Out {
    let o = c.env_remove("DATABASE_URL").stdin(std::process::Stdio::null()).output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}
