//! What Godwit knows of SQL text without a database: the dialects, where statements end, and the
//! line and column of an offset. A leaf: it uses nothing of `db` or `migration`, and both use it.

pub mod split;

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
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL/MariaDB",
            Dialect::Sqlite => "SQLite",
        }
    }
}
