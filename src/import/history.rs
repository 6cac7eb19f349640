//! The other tool's history table: which imported migrations ran on a database, recorded in
//! `_sqlx_migrations` as applied without running them. The old table is only read. A failed or
//! dirty state there stops the import: a person must settle it with that tool first.

use crate::migration::source::Checksums;
use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use super::flyway::Version;
use super::{Import, Tool};
use crate::db::{Amend, Database, EventKind, NewEvent, Outcome};
use crate::error::{Error, Problem, Result};
use crate::syntax::Dialect;

/// What the other tool's table says, and what recording it does.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Adoption {
    /// The table read, e.g. `flyway_schema_history`.
    pub table: String,
    /// Versions to record as applied now.
    pub record: Vec<i64>,
    /// Versions `_sqlx_migrations` already holds with the same checksum.
    pub already: Vec<i64>,
    /// Imported versions the other tool had not run: the next `up` runs them.
    pub pending: Vec<i64>,
}

fn table(tool: Tool) -> &'static str {
    match tool {
        Tool::Alembic => "alembic_version",
        Tool::Flyway => "flyway_schema_history",
        Tool::Dbmate | Tool::GolangMigrate => "schema_migrations",
        Tool::Diesel => "__diesel_schema_migrations",
    }
}

/// The tool's table, and a query of its rows as (version, kind, state) text in the order the tool
/// wrote them.
pub(super) fn query_for(tool: Tool, dialect: Dialect) -> (&'static str, String) {
    (table(tool), query(tool, dialect))
}

fn query(tool: Tool, dialect: Dialect) -> String {
    let as_text = |e: &str| match dialect {
        Dialect::MySql => format!("CAST({e} AS CHAR)"),
        _ => format!("CAST({e} AS TEXT)"),
    };
    match tool {
        Tool::Alembic => "SELECT version_num, '', 'ok' FROM alembic_version".into(),
        Tool::Flyway => "SELECT COALESCE(version, ''), type, CASE WHEN success THEN 'ok' ELSE 'failed' END \
                         FROM flyway_schema_history ORDER BY installed_rank"
            .into(),
        Tool::Dbmate => format!("SELECT {}, '', 'ok' FROM schema_migrations", as_text("version")),
        Tool::Diesel => format!("SELECT {}, '', 'ok' FROM __diesel_schema_migrations", as_text("version")),
        Tool::GolangMigrate => format!(
            "SELECT {}, '', CASE WHEN dirty THEN 'dirty' ELSE 'ok' END FROM schema_migrations",
            as_text("version")
        ),
    }
}

/// The rows of `tool`'s history table here, in the order the tool wrote them; none in a database
/// with nothing in it (a new environment: nothing ran there). Refuses a table it cannot read, and a
/// database with tables but not that one.
pub async fn rows(db: &mut dyn Database, tool: Tool) -> Result<Vec<(String, String, String)>> {
    let name = table(tool);
    let rows = db.foreign_rows(&query(tool, db.dialect())).await.map_err(|e| {
        if e.problem.kind() == crate::ErrorKind::Connect {
            return e;
        }
        Error::input(format!(
            "cannot read {name} as {}'s history table here ({}); nothing was recorded",
            tool.name(),
            e.message
        ))
    })?;
    match rows {
        Some(rows) => Ok(rows),
        None if db.inspect().await?.objects.is_empty() => Ok(Vec::new()),
        None => Err(Error::input(format!(
            "this database has no {name} table: {} has not run here (or keeps its history elsewhere). Nothing was \
             recorded; import without a database to write only the files",
            tool.name()
        ))),
    }
}

/// Reads the other tool's table and works out what to record. Changes nothing.
pub async fn plan(db: &mut dyn Database, import: &Import, sums: &Checksums) -> Result<Adoption> {
    let name = table(import.tool);
    let rows = rows(db, import.tool).await?;
    let ran = ran(import, &rows)?;
    let applied = db.applied().await?;
    let mut out = Adoption { table: name.into(), record: Vec::new(), already: Vec::new(), pending: Vec::new() };
    for m in &import.migrations {
        if !ran.contains(&m.id) {
            out.pending.push(m.version);
            continue;
        }
        match applied.iter().find(|a| a.version == m.version) {
            None => out.record.push(m.version),
            Some(a) if a.success && a.checksum == m.checksum(sums) => out.already.push(m.version),
            Some(_) => {
                return Err(Error::input(format!(
                    "the history already has version {} with another checksum (or marked failed): this database \
                     was migrated from other files. Nothing was recorded",
                    m.version
                )));
            }
        }
    }
    Ok(out)
}

/// The other-tool ids that ran, from its table's rows.
fn ran(import: &Import, rows: &[(String, String, String)]) -> Result<BTreeSet<String>> {
    let tool = import.tool;
    let known = |id: &str| import.graph.iter().any(|(i, _)| i == id);
    let unknown = |ids: Vec<String>| {
        Error::input(format!(
            "{} says {} ran here, but {} has no such migration: this database was migrated from other files (or \
             some were deleted). Nothing was recorded",
            table(tool),
            ids.join(", "),
            import.from
        ))
    };
    match tool {
        Tool::Alembic => {
            let heads: Vec<String> = rows.iter().map(|r| r.0.trim().to_string()).collect();
            let missing: Vec<String> = heads.iter().filter(|h| !known(h)).cloned().collect();
            if !missing.is_empty() {
                return Err(unknown(missing));
            }
            // Everything a recorded head stands on ran.
            let mut ran = BTreeSet::new();
            let mut stack = heads;
            while let Some(id) = stack.pop() {
                if ran.insert(id.clone()) {
                    let parents = import.graph.iter().find(|(i, _)| *i == id).map(|(_, p)| p.clone());
                    stack.extend(parents.unwrap_or_default());
                }
            }
            Ok(ran)
        }
        Tool::Dbmate | Tool::Diesel => {
            let ids: Vec<String> = rows.iter().map(|r| r.0.trim().to_string()).collect();
            let missing: Vec<String> = ids.iter().filter(|i| !known(i)).cloned().collect();
            if !missing.is_empty() {
                return Err(unknown(missing));
            }
            Ok(ids.into_iter().collect())
        }
        Tool::GolangMigrate => {
            let Some((version, _, state)) = rows.first() else { return Ok(BTreeSet::new()) };
            if state == "dirty" {
                return Err(dirty(import, version.trim(), "golang-migrate marked it dirty: it failed part way"));
            }
            let n: u128 = version.trim().parse().map_err(|_| unknown(vec![version.clone()]))?;
            if !known(&n.to_string()) {
                return Err(unknown(vec![n.to_string()]));
            }
            Ok(import
                .graph
                .iter()
                .filter(|(i, _)| i.parse::<u128>().is_ok_and(|v| v <= n))
                .map(|(i, _)| i.clone())
                .collect())
        }
        Tool::Flyway => {
            let mut ran: Vec<Version> = Vec::new();
            let mut baseline: Option<Version> = None;
            for (version, kind, state) in rows {
                let kind = kind.to_ascii_uppercase();
                if version.is_empty() || kind == "SCHEMA" {
                    continue;
                }
                let Some(v) = Version::parse(version.trim()) else { continue };
                if state != "ok" {
                    return Err(dirty(import, version, "Flyway recorded it as failed"));
                }
                match kind.as_str() {
                    "JDBC" | "SPRING_JDBC" => {
                        return Err(Error::input(format!(
                            "Flyway ran Java migration {version} here, which Godwit cannot import (it runs SQL files); \
                             nothing was recorded"
                        )));
                    }
                    "BASELINE" | "SQL_BASELINE" => baseline = Some(v),
                    "DELETE" | "UNDO_SQL" | "UNDO_JDBC" | "UNDO_SCRIPT" => ran.retain(|r| r != &v),
                    _ => ran.push(v),
                }
            }
            let files: Vec<(Version, &String)> =
                import.graph.iter().filter_map(|(i, _)| Some((Version::parse(i)?, i))).collect();
            let missing: Vec<String> =
                ran.iter().filter(|v| !files.iter().any(|(f, _)| f == *v)).map(|v| v.text.clone()).collect();
            if !missing.is_empty() {
                return Err(unknown(missing));
            }
            Ok(files
                .into_iter()
                .filter(|(f, _)| baseline.as_ref().is_some_and(|b| f <= b) || ran.contains(f))
                .map(|(_, i)| i.clone())
                .collect())
        }
    }
}

fn dirty(import: &Import, id: &str, what: &str) -> Error {
    let version = import.migrations.iter().find(|m| m.id == id).map_or(0, |m| m.version);
    Error::new(
        Problem::Dirty { version },
        format!(
            "{} version {id}: {what}, and the database may be part way through it. Settle it with {} first (finish or \
             undo it by hand, then mark it so there), and import again. Nothing was recorded",
            table(import.tool),
            import.tool.name()
        ),
    )
}

/// Records `plan.record` as applied, in one transaction under the migration lock, each with an
/// `import` event in `_godwit_log`.
pub async fn record(
    db: &mut dyn Database,
    import: &Import,
    plan: &Adoption,
    sums: &Checksums,
    lock_timeout: Duration,
) -> Result<()> {
    if plan.record.is_empty() {
        return Ok(());
    }
    crate::migration::amend::under_lock(db, lock_timeout, |applied| {
        // Another run may have applied some since the plan was made.
        if let Some(a) = applied.iter().find(|a| plan.record.contains(&a.version)) {
            return Err(Error::new(
                Problem::PlanChanged,
                format!("version {} was recorded here meanwhile; import again to see what is left", a.version),
            ));
        }
        let changes: Vec<(Amend, NewEvent)> = import
            .migrations
            .iter()
            .filter(|m| plan.record.contains(&m.version))
            .map(|m| {
                let change =
                    Amend::Adopt { version: m.version, description: m.description.clone(), checksum: m.checksum(sums) };
                let event = NewEvent {
                    kind: EventKind::Import,
                    version: Some(m.version),
                    description: m.description.clone(),
                    duration: None,
                    outcome: Outcome::Ok,
                    error: None,
                    detail: Some(format!(
                        "recorded as applied, not run: {} ran {} here ({})",
                        import.tool.name(),
                        m.id,
                        plan.table
                    )),
                };
                (change, event)
            })
            .collect();
        Ok((changes, ()))
    })
    .await
}
