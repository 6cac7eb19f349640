//! `godwit baseline`: a database that no migrations made gets a first migration written from its
//! schema (as its own dump tool writes it), proven on a scratch database to make that schema, and
//! recorded as applied there, so the next `up` runs only what is new. Another environment with the
//! same schema then records the same file.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Tool;
use crate::db::Database;
use crate::error::Result;
use crate::migration::source::{MigrationFile, Source};
use crate::syntax::Dialect;

/// What `baseline` wrote and recorded (or would, in a dry run).
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct BaselineOutcome {
    pub file: String,
    pub version: i64,
    /// Written now; `false` when the project's baseline file was there already.
    pub written: bool,
    /// Recorded as applied in the database (`false` in a dry run).
    pub recorded: bool,
    pub dry_run: bool,
    /// How many objects (tables, indexes, views, …) the schema holds.
    pub objects: usize,
    /// The file's content.
    pub sql: String,
}

/// A baseline's file name.
pub fn file_name(version: i64) -> String {
    format!("{version}_baseline.sql")
}

/// The project's baseline: its first migration, when it is one `baseline` wrote.
pub fn existing(source: &Source) -> Option<&MigrationFile> {
    source.migrations.first().filter(|m| m.file_name().ends_with("_baseline.sql"))
}

/// The dump tool's schema as a migration file. PostgreSQL's session settings become local to the
/// migration's transaction (so the migrations after it in the same run see the usual ones), and
/// its empty `search_path` is left out: every name in the dump is qualified, and Godwit's own
/// bookkeeping in the same transaction is not. A MariaDB dump's `DELIMITER` lines, which only its
/// command-line client reads, are taken out.
pub fn render(dump: &str, dialect: Dialect, version: i64, of: &str, now: DateTime<Utc>) -> String {
    format!(
        "-- baseline\n--\n-- Revision ID: {version}\n-- Revises: \n-- Create Date: {}\n-- The schema of {of} as it was, \
         written by `godwit baseline`.\n\n{}\n",
        now.format("%Y-%m-%d %H:%M:%S"),
        runnable(dump, dialect)
    )
}

/// A dump tool's schema made runnable as a migration (see `render`), without its header.
pub fn runnable(dump: &str, dialect: Dialect) -> String {
    let mut body = String::new();
    for line in dump.lines() {
        let line = match dialect {
            Dialect::Postgres => {
                if let Some(rest) = line.strip_prefix("SET ") {
                    body.push_str(&format!("SET LOCAL {rest}\n"));
                    continue;
                }
                if line.starts_with("SELECT pg_catalog.set_config('search_path'") {
                    continue;
                }
                line
            }
            Dialect::MySql => {
                if line.trim().to_ascii_uppercase().starts_with("DELIMITER ") {
                    continue;
                }
                match line.strip_suffix(";;") {
                    Some(l) => {
                        body.push_str(l);
                        body.push_str(";\n");
                        continue;
                    }
                    None => line,
                }
            }
            Dialect::Sqlite => line,
        };
        body.push_str(line);
        body.push('\n');
    }
    body.trim().to_string()
}

/// Another tool's history table in the database: it is imported from, not baselined.
pub async fn other_tool(db: &mut dyn Database) -> Result<Option<(Tool, &'static str)>> {
    for tool in [Tool::Alembic, Tool::Flyway, Tool::Dbmate, Tool::Diesel] {
        let (table, query) = super::history::query_for(tool, db.dialect());
        // A table of that name that reads otherwise is not that tool's.
        if let Ok(Some(_)) = db.foreign_rows(&query).await {
            return Ok(Some((tool, table)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_settings_stay_in_the_migration() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z").unwrap().with_timezone(&Utc);
        let pg = render(
            "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.t (id int);\n",
            Dialect::Postgres,
            7,
            "dev",
            now,
        );
        assert!(pg.contains("\nSET LOCAL statement_timeout = 0;\nCREATE TABLE public.t (id int);"), "{pg}");
        assert!(pg.starts_with("-- baseline\n--\n-- Revision ID: 7\n"));
        let my = render(
            "DELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.x = 1; END */;;\nDELIMITER ;\n",
            Dialect::MySql,
            7,
            "dev",
            now,
        );
        assert!(!my.contains("DELIMITER") && my.contains("END */;\n"), "{my}");
    }
}
