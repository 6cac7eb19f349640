//! The schema a person wants (`diff --to-schema`, `new --from-schema`): loaded and compared with
//! what the migrations make, and the migration between the two proven before it is written.

use std::path::{Path, PathBuf};

use super::{Session, close_scratch, open_scratch};
use crate::db::{self, Database};
use crate::error::{Error, Result};
use crate::migration::runner::Cancel;
use crate::migration::source::{MigrationFile, Source};
use crate::migration::verify;
use crate::syntax::Dialect;

/// The desired schema's file or folder: the one given, else the project's `desired_schema`.
pub fn desired_schema_path(s: &Session, given: Option<&Path>) -> Result<PathBuf> {
    given.map(Path::to_path_buf).or_else(|| s.desired_schema.clone()).ok_or_else(|| {
        Error::input(
            "name the schema file (or folder of .sql files), or say where the project keeps it: desired_schema = \
             \"schema.sql\" in godwit.toml",
        )
    })
}

/// What the project's migrations make beside the schema the files at `path` describe (a `.sql`
/// file, or a folder of them loaded by path), each built on a scratch database beside the
/// session's (`before`: the migrations', `after`: the files'). Changes nothing else.
pub async fn to_schema(s: &Session, path: &Path, cancel: &Cancel) -> Result<crate::schema::Compared> {
    let files = crate::schema::desired::read(path)?;
    let source = s.source()?;
    source.ensure_valid()?;
    let (made, _) = migrations_made(s, &source, cancel).await?;
    let (wanted, _) = desired_loaded(s, &files).await?;
    Ok(crate::schema::compare(&made, &wanted))
}

/// The schema every migration (and repeatable file) makes, on a scratch database, with its
/// constraints' names.
async fn migrations_made(
    s: &Session,
    source: &Source,
    cancel: &Cancel,
) -> Result<(crate::schema::Schema, crate::schema::generate::Catalog)> {
    let (scratch, mut db) = open_scratch(s).await?;
    let made = async {
        replay_all(db.as_mut(), source, cancel, &s.ws.placeholders).await?;
        Ok((db.inspect().await?, db.catalog().await?))
    }
    .await;
    close_scratch(scratch, db, made).await
}

/// Every migration's up and every repeatable file, on a scratch database.
async fn replay_all(
    db: &mut dyn Database,
    source: &Source,
    cancel: &Cancel,
    values: &crate::migration::placeholders::Values,
) -> Result<()> {
    let versions: Vec<i64> = source.migrations.iter().map(|m| m.version).collect();
    verify::replay_as(db, source, &versions, cancel, values, |m, e| {
        Error::failed(format!(
            "{} failed on a scratch database, so what the migrations make is not known: {}",
            m.file_name(),
            db::without_ran_before(&e.message)
        ))
    })
    .await?;
    let repeatables: Vec<&MigrationFile> = source.repeatables.iter().collect();
    verify::apply_repeatables(db, &repeatables, cancel, values).await
}

/// The desired schema's files loaded on a scratch database, read back with its constraints' names.
async fn desired_loaded(
    s: &Session,
    files: &[crate::schema::desired::DesiredFile],
) -> Result<(crate::schema::Schema, crate::schema::generate::Catalog)> {
    let (scratch, mut db) = open_scratch(s).await?;
    let wanted = async {
        for f in files {
            // Statement by statement, so a failure names its line.
            let script = db::Script::new(&f.path, &f.sql, db.dialect())?;
            for st in &script.statements {
                let one = db::Script::new(&f.path, st.sql, db.dialect())?;
                db.execute_script(&one).await.map_err(|e| {
                    Error::input(format!(
                        "{} (line {}) could not be loaded on a scratch database: {}",
                        f.path.display(),
                        st.line,
                        e.message
                    ))
                })?;
            }
        }
        // A dump empties the search path for its session (pg_dump's set_config): read back as
        // the migrations' schema is, with the server's.
        if db.dialect() == Dialect::Postgres {
            db.execute_script(&db::Script::own("RESET search_path", Dialect::Postgres)?).await?;
        }
        Ok((db.inspect().await?, db.catalog().await?))
    }
    .await;
    close_scratch(scratch, db, wanted).await
}

/// A migration that takes what the migrations make to the schema a file describes, and back.
#[derive(ts_rs::TS, Debug, Clone, serde::Serialize)]
#[ts(export)]
pub struct FromSchema {
    /// The objects that differ (`before`: the migrations', `after`: the file's).
    pub changes: Vec<crate::schema::Change>,
    pub up: Vec<String>,
    pub down: Vec<String>,
    /// The up and the down hold their own transactions (`-- no-transaction`): SQLite's table
    /// rebuilds with foreign keys off, which only works outside the runner's transaction.
    pub no_transaction: bool,
    /// What the up would do that needs consent, or what cannot be generated.
    pub refusals: Vec<crate::schema::generate::Refusal>,
    /// Both were run on a scratch database and made what they must.
    pub proven: bool,
    /// Why the up or the down did not prove out on a scratch database.
    pub unproven: Option<String>,
    /// What the proof let pass and a person should know: a table whose columns the down puts
    /// back in another order (PostgreSQL adds a column at the end).
    pub notes: Vec<String>,
    /// The migration's files linted as any other (files `up` and `down`).
    pub lint: Vec<crate::lint::Finding>,
}

impl FromSchema {
    /// Whether it may be written: proven, nothing left out, and consent for what loses data.
    pub fn writable(&self, allow_destructive: bool) -> Result<()> {
        use crate::schema::generate::RefusalKind;
        let said = |k: RefusalKind| {
            self.refusals.iter().filter(|r| r.why == k).map(|r| r.message.clone()).collect::<Vec<_>>().join("; ")
        };
        if self.changes.is_empty() {
            return Err(Error::input("the migrations already make that schema: there is nothing to write"));
        }
        if self.refusals.iter().any(|r| matches!(r.why, RefusalKind::Unsupported | RefusalKind::ColumnOrder)) {
            let what: Vec<String> = [said(RefusalKind::Unsupported), said(RefusalKind::ColumnOrder)]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            return Err(Error::input(format!(
                "cannot be generated: {}. Nothing was written; write this migration by hand",
                what.join("; ")
            )));
        }
        if self.refusals.iter().any(|r| r.why == RefusalKind::NeedsDefault) {
            return Err(Error::input(format!("{}. Nothing was written", said(RefusalKind::NeedsDefault))));
        }
        if !allow_destructive && self.refusals.iter().any(|r| r.why == RefusalKind::Destructive) {
            return Err(Error::input(format!(
                "the migration would lose data: {}. Nothing was written; allow destructive changes to write it",
                said(RefusalKind::Destructive)
            )));
        }
        if let Some(why) = &self.unproven {
            return Err(Error::failed(format!(
                "the generated migration did not prove out: {why}. Nothing was written"
            )));
        }
        if !self.proven {
            return Err(Error::failed("the generated migration was not proven. Nothing was written"));
        }
        Ok(())
    }
}

/// Plans `new --from-schema`: the up and down that take what the migrations make to the schema
/// the files at `path` describe and back, each proven on a scratch database where the migrations
/// were replayed (after the up, the file's schema; after the down, the migrations'). Writes nothing.
pub async fn plan_from_schema(s: &Session, path: &Path, cancel: &Cancel) -> Result<FromSchema> {
    plan_from_files(s, &crate::schema::desired::read(path)?, cancel).await
}

/// [`plan_from_schema`] for SQL as a person edits it (the app's editor), named `name` in messages.
pub async fn plan_from_text(s: &Session, name: &str, sql: &str, cancel: &Cancel) -> Result<FromSchema> {
    let file = crate::schema::desired::from_text(PathBuf::from(name), sql)?;
    plan_from_files(s, &[file], cancel).await
}

/// The project's desired schema as one text to edit (a folder's files one after the other, each
/// headed by its name); `None` where the project keeps none.
pub fn desired_schema_text(s: &Session) -> Result<Option<String>> {
    let Some(path) = &s.desired_schema else { return Ok(None) };
    let files = crate::schema::desired::read(path)?;
    Ok(Some(match files.as_slice() {
        [one] => one.sql.clone(),
        many => many.iter().map(|f| format!("-- {}\n{}\n", f.path.display(), f.sql.trim_end())).collect(),
    }))
}

async fn plan_from_files(
    s: &Session,
    files: &[crate::schema::desired::DesiredFile],
    cancel: &Cancel,
) -> Result<FromSchema> {
    let renames = crate::schema::desired::renames(files)?;
    let back = crate::schema::desired::back(&renames);
    let source = s.source()?;
    source.ensure_valid()?;
    let (made, made_catalog) = migrations_made(s, &source, cancel).await?;
    let (wanted, wanted_catalog) = desired_loaded(s, files).await?;
    use crate::schema::generate::{Side, generate};
    let (before, after) =
        (Side { schema: &made, catalog: &made_catalog }, Side { schema: &wanted, catalog: &wanted_catalog });
    let dialect = s.ws.target.dialect();
    let up = generate(dialect, before, after, &renames);
    let down = generate(dialect, after, before, &back);
    // What the down cannot take back stops it too; what it drops is what the up made.
    let mut refusals = up.refusals;
    // (A column the down puts back at the end of its table is said by the proof instead.)
    refusals.extend(
        down.refusals.into_iter().filter(|r| r.why == crate::schema::generate::RefusalKind::Unsupported).map(
            |mut r| {
                r.message = format!("its down: {}", r.message);
                r
            },
        ),
    );
    let mut plan = FromSchema {
        changes: crate::schema::diff(&made, &wanted),
        no_transaction: up.no_transaction || down.no_transaction,
        up: own_transaction(up.statements, !up.no_transaction && down.no_transaction),
        down: own_transaction(down.statements, !down.no_transaction && up.no_transaction),
        refusals,
        proven: false,
        unproven: None,
        notes: Vec::new(),
        lint: Vec::new(),
    };
    if plan.changes.is_empty()
        || plan.refusals.iter().any(|r| {
            matches!(
                r.why,
                crate::schema::generate::RefusalKind::Unsupported | crate::schema::generate::RefusalKind::ColumnOrder
            )
        })
    {
        return Ok(plan);
    }
    // The proof: on the migrations' schema, the up makes the file's, and the down the migrations' again.
    let (scratch, mut db) = open_scratch(s).await?;
    let proof = async {
        replay_all(db.as_mut(), &source, cancel, &s.ws.placeholders).await?;
        for (what, statements, want) in [("up", &plan.up, &wanted), ("down", &plan.down, &made)] {
            // MySQL's DDL commits as it goes: a scratch database needs no transaction to be left as it was.
            let sql = match plan.no_transaction || db.dialect() == Dialect::MySql {
                true => format!("{};", statements.join(";\n")),
                false => format!("BEGIN;\n{};\nCOMMIT;", statements.join(";\n")),
            };
            let script = db::Script::new(Path::new(what), &sql, db.dialect())?;
            if let Err(e) = db.execute_script(&script).await {
                let _ = db.execute_script(&db::Script::own("ROLLBACK", db.dialect())?).await;
                return Ok((Some(format!("its {what} failed: {}", db::without_ran_before(&e.message))), Vec::new()));
            }
            let (reordered, left): (Vec<_>, Vec<_>) = crate::schema::diff(&db.inspect().await?, want)
                .into_iter()
                .partition(|c| what == "down" && only_reordered(c));
            if !left.is_empty() {
                let names: Vec<String> = left.iter().map(|c| format!("{} {}", c.kind.as_str(), c.name)).collect();
                return Ok((Some(format!("after its {what}, {} still differ", names.join(", "))), Vec::new()));
            }
            if !reordered.is_empty() {
                let names: Vec<String> = reordered.iter().map(|c| c.name.clone()).collect();
                return Ok((
                    None,
                    vec![format!(
                        "the down puts columns of {} back at the end of the table, where the database adds them",
                        names.join(", ")
                    )],
                ));
            }
        }
        Ok((None, Vec::new()))
    }
    .await;
    (plan.unproven, plan.notes) = close_scratch(scratch, db, proof).await?;
    plan.proven = plan.unproven.is_none();
    let before: Vec<&MigrationFile> = source.migrations.iter().collect();
    plan.lint = crate::lint::lint_draft(
        &sql_file(&plan.up, plan.no_transaction),
        Some(&sql_file(&plan.down, plan.no_transaction)),
        false,
        &before,
        s.ws.target.dialect(),
        &s.lint,
    );
    Ok(plan)
}

/// A table whose columns are the same, in another order.
fn only_reordered(c: &crate::schema::Change) -> bool {
    fn sorted(d: &Option<String>) -> Vec<&str> {
        let mut lines: Vec<&str> = d.as_deref().unwrap_or_default().lines().collect();
        lines.sort_unstable();
        lines
    }
    c.kind == crate::schema::ObjectKind::Table
        && c.before.is_some()
        && c.after.is_some()
        && sorted(&c.before) == sorted(&c.after)
}

/// Refuses `plan` unless its up and down are those a person was shown (planned again to be
/// written, the migrations or the file may have changed since).
pub fn as_shown(plan: &FromSchema, up: &[String], down: &[String]) -> Result<()> {
    if plan.up != up || plan.down != down {
        return Err(Error::input(
            "the migration would differ from the one shown (the migrations or the schema changed since): compare \
             again, and create it once you have read it",
        ));
    }
    Ok(())
}

/// Writes `plan` as migration `name` in the project's folder, once it may be written.
pub fn write_from_schema(s: &Session, name: &str, plan: &FromSchema, allow_destructive: bool) -> Result<Vec<PathBuf>> {
    plan.writable(allow_destructive)?;
    let spec = crate::migration::new::NewMigration {
        name: name.to_string(),
        reversible: true,
        up: sql_file(&plan.up, false),
        down: sql_file(&plan.down, false),
        no_transaction: plan.no_transaction,
        ..Default::default()
    };
    crate::migration::new::create(&s.ws.migrations, &spec, chrono::Utc::now())
}

/// One direction's statements in a transaction of their own, where the other direction's must hold
/// theirs (a file's `-- no-transaction` is for both).
fn own_transaction(statements: Vec<String>, wrap: bool) -> Vec<String> {
    if !wrap || statements.is_empty() {
        return statements;
    }
    std::iter::once("BEGIN".to_string()).chain(statements).chain(std::iter::once("COMMIT".to_string())).collect()
}

/// Statements as a migration file holds them (its first line saying where it runs).
fn sql_file(statements: &[String], no_transaction: bool) -> String {
    let head = if no_transaction { "-- no-transaction\n" } else { "" };
    format!("{head}{};\n", statements.join(";\n\n"))
}
