//! Real databases for tests: each test gets its own uniquely named database, dropped afterwards.
//! Servers come from GODWIT_TEST_PG_URL / GODWIT_TEST_MYSQL_URL or the local defaults; a server
//! that cannot be reached fails the test loudly.
#![allow(dead_code)]

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
