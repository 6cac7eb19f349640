//! What Godwit knows of SQL text without a database: the dialects, where statements end, and the
//! line and column of an offset. A leaf: it uses nothing of `db` or `migration`, and both use it.

pub mod placeholders;
pub mod split;
pub mod words;

use serde::Serialize;

/// The SQL a database speaks.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Dialect {
    Postgres,
    #[serde(rename = "mysql")]
    MySql,
    Sqlite,
}

impl Dialect {
    /// A dialect by one of the names people type (`--dialect pg`, `mariadb`, ...).
    pub fn from_name(name: &str) -> Option<Dialect> {
        match name.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            "sqlite" => Some(Dialect::Sqlite),
            _ => None,
        }
    }

    /// Whether its databases are servers that may ask for a password (a SQLite file has none).
    pub fn has_passwords(self) -> bool {
        self != Dialect::Sqlite
    }

    /// Whether its clients read a person's own ambient password (`PGPASSWORD`, a pass file):
    /// PostgreSQL's do; sqlx's MySQL driver reads no option file.
    pub fn has_ambient_passwords(self) -> bool {
        self == Dialect::Postgres
    }

    /// As written in URLs' schemes, JSON and folder names: `postgres`, `mysql`, `sqlite`.
    pub fn key(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL/MariaDB",
            Dialect::Sqlite => "SQLite",
        }
    }
}
