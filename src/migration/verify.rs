//! `godwit verify`: every migration's down, proven on a scratch database. For each migration in
//! order: read the schema, apply the up, roll it back with the down, read the schema again and
//! compare, then apply the up again (a non-idempotent up, or a down that left something behind,
//! fails there).

use serde::Serialize;

use crate::db::{self, Database};
use crate::error::{Error, Location, Result};
use crate::migration::runner::Cancel;
use crate::migration::source::{Kind, MigrationFile, Source};
use crate::schema::{self, Change};

/// What verifying one migration found.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[ts(export, rename = "VerifyOutcome")]
pub enum Outcome {
    /// Its down brings the schema back to what it was before its up, and its up runs again.
    Restores,
    /// Its down leaves the schema otherwise than before its up: each object that differs.
    Leaves { changes: Vec<Change> },
    /// Its up, its down, or its up run again failed (`step` says which).
    Fails { step: Step, message: String, location: Option<Location> },
    /// It has no down: applied, not rolled back.
    Irreversible,
    /// Older than `--from`: applied only, to build the schema the newer ones start from.
    Applied,
}

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "VerifyStep")]
pub enum Step {
    Up,
    Down,
    UpAgain,
}

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export, rename = "VerifyChecked")]
pub struct Checked {
    pub version: i64,
    pub file: String,
    pub outcome: Outcome,
}

impl Checked {
    /// A down that leaves something behind, or a step that fails.
    pub fn is_problem(&self) -> bool {
        matches!(self.outcome, Outcome::Leaves { .. } | Outcome::Fails { .. })
    }
}

#[derive(ts_rs::TS, Debug, Clone, Default, Serialize)]
#[ts(export)]
pub struct VerifyReport {
    pub checked: Vec<Checked>,
    /// Stopped by a person before every migration was verified.
    pub cancelled: bool,
}

/// Verifies on `db` (a scratch database: it is changed), migration by migration; stops at the first
/// that fails, since the ones after it would start from a schema no environment has.
pub async fn verify(
    db: &mut dyn Database,
    source: &Source,
    from: Option<i64>,
    cancel: &Cancel,
    on: &mut (dyn FnMut(usize, usize, &Checked) + Send),
) -> Result<VerifyReport> {
    source.ensure_valid()?;
    db.ensure_tables().await?;
    let actor = db::actor();
    let total = source.migrations.len();
    let mut report = VerifyReport::default();
    for (i, m) in source.migrations.iter().enumerate() {
        if cancel.is_cancelled() {
            report.cancelled = true;
            break;
        }
        let outcome = match from.is_some_and(|f| m.version < f) {
            true => match up(db, m, &actor).await {
                Ok(()) => (Outcome::Applied, false),
                Err(e) => (fails(Step::Up, e), true),
            },
            false => check_one(db, m, &actor).await?,
        };
        let (outcome, stop) = outcome;
        let checked = Checked { version: m.version, file: m.file_name(), outcome };
        on(i, total, &checked);
        report.checked.push(checked);
        if stop {
            break;
        }
    }
    Ok(report)
}

/// One migration's outcome, and whether verifying must stop there (the schema the next one would
/// start from is not one any environment has).
async fn check_one(db: &mut dyn Database, m: &MigrationFile, actor: &str) -> Result<(Outcome, bool)> {
    let before = db.inspect().await?;
    if let Err(e) = up(db, m, actor).await {
        return Ok((fails(Step::Up, e), true));
    }
    if m.kind == Kind::Simple {
        return Ok((Outcome::Irreversible, false));
    }
    let sql = m.down_sql()?;
    let path = m.down_path.as_deref().unwrap_or(&m.path);
    let script = db::Script::new(path, &sql, db.dialect())?;
    if let Err(f) = db.revert(m, &script, actor).await {
        return Ok((fails(Step::Down, f.error), true));
    }
    let changes = schema::diff(&before, &db.inspect().await?);
    let again = up(db, m, actor).await;
    Ok(match (changes.is_empty(), again) {
        (true, Ok(())) => (Outcome::Restores, false),
        // What the down left behind says more than the up's failure it causes.
        (false, again) => (Outcome::Leaves { changes }, again.is_err()),
        (true, Err(e)) => (fails(Step::UpAgain, e), true),
    })
}

async fn up(db: &mut dyn Database, m: &MigrationFile, actor: &str) -> Result<()> {
    let script = db::Script::new(&m.path, &m.sql, db.dialect())?;
    match script.statements.is_empty() {
        true => db.record_empty(m, actor).await,
        false => db.apply(m, &script, actor).await.map(|_| ()).map_err(|f| f.error),
    }
}

fn fails(step: Step, e: Error) -> Outcome {
    Outcome::Fails { step, message: e.message, location: e.location }
}

/// Applies, on `db` (a scratch database), the migrations `versions` names, in order: the schema
/// the environment's applied migrations make. Refuses when one of them has no file.
pub async fn replay(db: &mut dyn Database, source: &Source, versions: &[i64], cancel: &Cancel) -> Result<()> {
    db.ensure_tables().await?;
    let actor = db::actor();
    for v in versions {
        if cancel.is_cancelled() {
            return Err(Error::new(crate::error::Problem::Cancelled, "stopped while replaying the migrations"));
        }
        let m = source.get(*v).ok_or_else(|| {
            Error::new(
                crate::error::Problem::MissingFile { version: *v },
                format!("migration {v} is applied but its file is gone: what the migrations make cannot be rebuilt"),
            )
        })?;
        up(db, m, &actor).await.map_err(|e| {
            Error::failed(format!("replaying {} on a scratch database failed: {}", m.file_name(), e.message))
        })?;
    }
    Ok(())
}
