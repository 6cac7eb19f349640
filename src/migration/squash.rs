//! `godwit squash --to V`: the migrations up to V become one file made from what they build
//! (replayed on a scratch database and written by the database's own dump tool), proven to build
//! the identical schema, and each environment's history rewritten to match, in one transaction
//! each. The squashed file's header names the versions it replaced, so a squash interrupted
//! between environments finishes when run again.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::db::Applied;
use crate::error::{Error, Result};
use crate::migration::source::{MigrationFile, Source};
use crate::syntax::Dialect;

const SQUASHES: &str = "-- Squashes: ";

/// What squashing does to one environment's history.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum EnvSquash {
    /// It has every squashed migration applied: its rows become the squashed one's.
    Rewrite,
    /// It has none of them: it runs the squashed file.
    Fresh,
    /// Its history already names the squashed file.
    Done,
    /// Left out on purpose (`--skip`).
    Skipped,
}

/// The squashed migration, and what happens where.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct SquashOutcome {
    pub version: i64,
    pub file: String,
    /// The versions it replaces.
    pub squashed: Vec<i64>,
    /// The files removed (written already, when the squash is finished on another run).
    pub removed: Vec<String>,
    /// Squashed files whose statements change rows: the squashed file makes the schema only.
    pub data: Vec<String>,
    pub envs: Vec<(String, EnvSquash)>,
    pub dry_run: bool,
    /// The squashed file's content (empty when it was written before).
    pub sql: String,
}

/// A squashed file already in the folder, and the versions its header says it replaced.
pub fn existing(source: &Source, version: i64) -> Option<(&MigrationFile, Vec<i64>)> {
    let m = source.get(version)?;
    let versions = replaced(&m.sql)?;
    (!versions.is_empty()).then_some((m, versions))
}

/// The versions a squashed file's header says it replaced; `None` when it has no such header.
fn replaced(sql: &str) -> Option<Vec<i64>> {
    let line = sql.lines().take_while(|l| l.starts_with("--")).find_map(|l| l.strip_prefix(SQUASHES))?;
    Some(line.split(',').filter_map(|v| v.trim().parse().ok()).collect())
}

/// What a migration does to privileges, as far as a squashed file can keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Privileges {
    None,
    /// Grants or revokes on the database's own objects: kept where the dump tool writes them.
    OnObjects,
    /// Roles, role membership, or the database itself (`CREATE ROLE`, `GRANT a TO b`, `GRANT
    /// CONNECT ON DATABASE`, `ALTER DATABASE`): no dump of one database holds them.
    BeyondTheDatabase,
}

/// A statement's words, upper-cased, without its comments.
fn words(statement: &str) -> Vec<String> {
    crate::syntax::words::leading(statement, usize::MAX)
}

/// What `sql` does to privileges (the most of its statements).
pub fn privileges_of(sql: &str, dialect: Dialect) -> Privileges {
    let Ok(statements) = crate::syntax::split::split(sql, dialect) else { return Privileges::None };
    let each = statements.iter().map(|s| {
        let words = words(s.sql);
        let (first, second) = (words.first().map_or("", String::as_str), words.get(1).map_or("", String::as_str));
        let has_on = words.iter().any(|w| w == "ON");
        let on_database = words.windows(2).any(|p| p[0] == "ON" && p[1] == "DATABASE");
        match first {
            "CREATE" | "ALTER" | "DROP" if matches!(second, "ROLE" | "USER" | "GROUP") => Privileges::BeyondTheDatabase,
            "ALTER" if second == "DATABASE" => Privileges::BeyondTheDatabase,
            "GRANT" | "REVOKE" if !has_on || on_database => Privileges::BeyondTheDatabase,
            "GRANT" | "REVOKE" => Privileges::OnObjects,
            _ => Privileges::None,
        }
    });
    each.max().unwrap_or(Privileges::None)
}

/// A dump's privilege statements, sorted: what the squashed file must grant as the migrations did.
pub fn privileges(dump: &str) -> Vec<String> {
    let mut out: Vec<String> = dump
        .lines()
        .filter(|l| l.starts_with("GRANT ") || l.starts_with("REVOKE ") || l.starts_with("ALTER DEFAULT PRIVILEGES"))
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

/// Finishes a squash that stopped after putting its file (`VERSION_squashed.sql`) in place and
/// before removing the files it replaces: those are removed now, as the file's header lists them.
/// Nothing happens when there is no such file, or it replaces nothing still there.
pub fn finish_interrupted(dir: &std::path::Path, version: i64) -> Result<()> {
    let name = format!("{version}_squashed.sql");
    let Ok(text) = std::fs::read_to_string(dir.join(&name)) else { return Ok(()) };
    let Some(versions) = replaced(&text) else { return Ok(()) };
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let of = file.split('_').next().and_then(|v| v.parse::<i64>().ok());
        let migration = file.ends_with(".sql") && entry.file_type().is_ok_and(|t| t.is_file());
        if file != name && migration && of.is_some_and(|v| versions.contains(&v)) {
            std::fs::remove_file(entry.path()).map_err(|e| {
                Error::input(format!(
                    "{file} is replaced by {name}, left by a squash that stopped part way, and cannot be removed: {e}"
                ))
            })?;
        }
    }
    Ok(())
}

/// The squashed file: a header naming what it replaced, then the dump tool's schema made runnable
/// as a migration (as a baseline's is).
pub fn render(
    dump: &str,
    dialect: Dialect,
    version: i64,
    squashed: &[i64],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let list: Vec<String> = squashed.iter().map(i64::to_string).collect();
    format!(
        "-- squashed\n--\n-- Revision ID: {version}\n-- Revises: \n-- Create Date: {}\n{SQUASHES}{}\n-- What they built, \
         written by `godwit squash`; their files are in version control.\n\n{}\n",
        now.format("%Y-%m-%d %H:%M:%S"),
        list.join(", "),
        crate::import::baseline::runnable(dump, dialect)
    )
}

/// What squashing `squashed` (into `version`, with checksum `checksum`) does to a history.
pub fn classify(applied: &[Applied], squashed: &[i64], version: i64, checksum: &[u8]) -> Result<EnvSquash> {
    let ok: BTreeSet<i64> = applied.iter().filter(|a| a.success).map(|a| a.version).collect();
    let failed: Vec<i64> =
        applied.iter().filter(|a| !a.success && squashed.contains(&a.version)).map(|a| a.version).collect();
    let others: Vec<i64> = squashed.iter().copied().filter(|v| *v != version).collect();
    let row = applied.iter().find(|a| a.version == version);
    if failed.is_empty() {
        if row.is_some_and(|r| r.checksum == checksum) && others.iter().all(|v| !ok.contains(v)) {
            return Ok(EnvSquash::Done);
        }
        if squashed.iter().all(|v| ok.contains(v)) {
            return Ok(EnvSquash::Rewrite);
        }
        if squashed.iter().all(|v| !ok.contains(v)) {
            return Ok(EnvSquash::Fresh);
        }
    }
    let has: Vec<String> = squashed.iter().filter(|v| ok.contains(v)).map(i64::to_string).collect();
    Err(Error::input(format!(
        "is behind {version}: it has {} of the {} migrations squashed{}; apply the rest up to {version} there first",
        if has.is_empty() { "none".to_string() } else { has.join(", ") },
        squashed.len(),
        if failed.is_empty() { String::new() } else { format!(", and {} failed part way", list(&failed)) }
    )))
}

fn list(v: &[i64]) -> String {
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// Whether a file's statements change rows (the squashed file keeps only the schema).
/// Statements that may (a procedure call, an anonymous block, a `WITH … INSERT`) count too.
pub fn changes_rows(sql: &str, dialect: Dialect) -> bool {
    let Ok(statements) = crate::syntax::split::split(sql, dialect) else { return true };
    const WRITES: [&str; 6] = ["INSERT", "UPDATE", "DELETE", "COPY", "MERGE", "REPLACE"];
    statements.iter().any(|s| {
        let words = words(s.sql);
        let first = words.first().map(String::as_str).unwrap_or_default();
        let has = |w: &str| words.iter().any(|x| x == w);
        // A table made from a query, with its rows: `CREATE [modifiers] TABLE name AS …` (not a
        // function that `RETURNS TABLE … AS $$ SELECT`).
        let modifiers = ["GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED", "OR", "REPLACE"];
        let table_at = words.iter().skip(1).position(|w| !modifiers.contains(&w.as_str())).map(|i| i + 1);
        let from_query = first == "CREATE"
            && table_at.is_some_and(|i| words[i] == "TABLE")
            && words
                .windows(2)
                .any(|p| p[0] == "AS" && matches!(p[1].as_str(), "SELECT" | "WITH" | "VALUES" | "TABLE"));
        WRITES.contains(&first)
            || (first == "LOAD" && words.get(1).is_some_and(|w| w == "DATA" || w == "XML"))
            || matches!(first, "CALL" | "DO" | "EXEC" | "EXECUTE")
            || (first == "WITH" && words.iter().any(|w| WRITES.contains(&w.as_str())))
            || from_query
            // `SELECT … INTO new_table`, and a top-level `SELECT` that calls a function
            // (`setval`, a procedure's work): run for what they leave behind.
            || (first == "SELECT" && (has("INTO") || s.sql.contains('(')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(v: i64, success: bool, checksum: u8) -> Applied {
        Applied {
            version: v,
            description: String::new(),
            installed_on: chrono::Utc::now(),
            success,
            checksum: vec![checksum],
            execution_time: 0,
        }
    }

    #[test]
    fn a_squash_stopped_between_its_two_steps_is_finished() {
        let d = tempfile::tempdir().unwrap();
        for (name, body) in [
            ("1_a.up.sql", "CREATE TABLE a (id INT);"),
            ("1_a.down.sql", "DROP TABLE a;"),
            ("2_b.sql", "CREATE TABLE b (id INT);"),
            ("3_c.sql", "CREATE TABLE c (id INT);"),
            (
                "2_squashed.sql",
                "-- squashed\n-- Squashes: 1, 2\n\nCREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n",
            ),
        ] {
            std::fs::write(d.path().join(name), body).unwrap();
        }
        finish_interrupted(d.path(), 2).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["2_squashed.sql", "3_c.sql"]);
        let source = Source::load(d.path()).unwrap();
        source.ensure_valid().unwrap();
        assert_eq!(existing(&source, 2).unwrap().1, [1, 2]);
    }

    #[test]
    fn privileges_beyond_the_database_are_told_apart() {
        let pg = Dialect::Postgres;
        assert_eq!(privileges_of("CREATE TABLE t (id INT);", pg), Privileges::None);
        assert_eq!(privileges_of("GRANT SELECT ON t TO reader;", pg), Privileges::OnObjects);
        for sql in [
            "CREATE ROLE reader;",
            "GRANT reader TO app;",
            "GRANT CONNECT ON DATABASE app TO reader;",
            "ALTER DATABASE app SET search_path = x;",
            "GRANT SELECT ON t TO r;\nALTER ROLE r LOGIN;",
        ] {
            assert_eq!(privileges_of(sql, pg), Privileges::BeyondTheDatabase, "{sql}");
        }
    }

    #[test]
    fn statements_that_leave_rows_behind_are_data() {
        for sql in [
            "INSERT INTO t VALUES (1);",
            "CREATE TABLE archive AS SELECT * FROM orders;",
            "CREATE TABLE copy AS (SELECT 1 AS x);",
            "SELECT * INTO backup_t FROM t;",
            "SELECT setval('t_id_seq', 1000);",
            "SELECT create_hypertable('m', 'at');",
            "LOAD DATA INFILE 'x.csv' INTO TABLE t;",
            "CREATE UNLOGGED TABLE u AS SELECT 1 AS x;",
        ] {
            assert!(changes_rows(sql, Dialect::Postgres), "{sql}");
        }
        for sql in [
            "CREATE TABLE t (id INT);",
            "SELECT 1;",
            "CREATE VIEW v AS SELECT 1;",
            "CREATE INDEX i ON t (a);",
            "CREATE FUNCTION f() RETURNS TABLE (x int) AS $$ SELECT 1 $$ LANGUAGE sql;",
            "LOAD 'auto_explain';",
        ] {
            assert!(!changes_rows(sql, Dialect::Postgres), "{sql}");
        }
    }

    #[test]
    fn each_history_is_rewritten_fresh_done_or_behind() {
        let s = [1, 2, 3];
        let all = [applied(1, true, 0), applied(2, true, 0), applied(3, true, 0), applied(4, true, 0)];
        assert_eq!(classify(&all, &s, 3, &[9]).unwrap(), EnvSquash::Rewrite);
        assert_eq!(classify(&[], &s, 3, &[9]).unwrap(), EnvSquash::Fresh);
        assert_eq!(classify(&[applied(3, true, 9), applied(4, true, 0)], &s, 3, &[9]).unwrap(), EnvSquash::Done);
        assert!(classify(&all[..2], &s, 3, &[9]).is_err());
        assert!(classify(&[applied(1, true, 0), applied(2, true, 0), applied(3, false, 0)], &s, 3, &[9]).is_err());
    }

    #[test]
    fn the_header_names_what_it_replaced() {
        let now = chrono::Utc::now();
        let text = render("CREATE TABLE t (id int);\n", Dialect::Sqlite, 3, &[1, 2, 3], now);
        assert!(text.starts_with("-- squashed\n--\n-- Revision ID: 3\n"), "{text}");
        assert!(text.contains("\n-- Squashes: 1, 2, 3\n") && text.ends_with("CREATE TABLE t (id int);\n"), "{text}");
        assert!(changes_rows("CREATE TABLE t (id int);\n-- seed\ninsert into t values (1);", Dialect::Sqlite));
        assert!(!changes_rows("CREATE TABLE t (id int);", Dialect::Sqlite));
        assert!(changes_rows("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x;", Dialect::Postgres));
        assert!(changes_rows("DO $$ BEGIN PERFORM 1; END $$;", Dialect::Postgres));
    }
}
