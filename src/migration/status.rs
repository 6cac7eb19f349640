//! Status rows: every migration of the folder and of the history table, side by side, with what is
//! wrong with each. Pure: a merge of two sorted lists, fast on tens of thousands.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::Applied;
use crate::migration::source::{Kind, MigrationFile, Source};

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum State {
    Applied,
    Pending,
    /// Failed part way (sqlx's `success = false`): `resolve`.
    Failed,
    /// Being applied or rolled back by a run in progress (MySQL marks it `success = false` first).
    Running,
    /// Applied, but its file is gone.
    Missing,
    /// The database could not be read: whether it is applied is not known.
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Failed => "failed",
            State::Running => "running",
            State::Missing => "missing",
            State::Unknown => "unknown",
        }
    }
}

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct StatusRow {
    pub version: i64,
    pub description: String,
    pub state: State,
    pub file: Option<String>,
    pub kind: Option<Kind>,
    pub no_transaction: bool,
    #[serde(serialize_with = "crate::timestamp::opt_millis")]
    pub applied_at: Option<DateTime<Utc>>,
    /// OS user@host of the last apply (`_godwit_log`); none for migrations applied by other tools.
    pub applied_by: Option<String>,
    /// Nanoseconds; `None` when not known (sqlx did not record it, or it never finished).
    pub execution_time_ns: Option<i64>,
    /// The file changed after it was applied: `repair`.
    pub drift: bool,
    /// Pending but older than the newest applied migration.
    pub out_of_order: bool,
    /// Reversible, but the down file is not there.
    pub missing_down: bool,
    /// Failed part way while rolling back (its down), not while applying.
    pub failed_in_down: bool,
}

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Summary {
    pub applied: usize,
    pub pending: usize,
    pub failed: usize,
    pub missing: usize,
    pub drift: usize,
    /// The newest applied version.
    pub current: Option<i64>,
}

pub fn rows(source: &Source, applied: &[Applied]) -> Vec<StatusRow> {
    let newest = applied.iter().map(|a| a.version).max();
    let mut out = Vec::with_capacity(source.migrations.len().max(applied.len()));
    let (mut i, mut j) = (0, 0);
    // Of files that share a version, the one that ran here (or the first) stands for it: the
    // version is not "missing" (a forget would be the wrong fix), and the clash is a finding.
    let mut files: Vec<&MigrationFile> = source.migrations.iter().collect();
    for clash in &source.clashes {
        let ran = applied.iter().find(|a| clash.first().is_some_and(|m| m.version == a.version));
        let standing = clash.iter().find(|m| ran.is_some_and(|a| a.checksum == m.checksum)).or(clash.first());
        files.extend(standing);
    }
    files.sort_by_key(|m| m.version);
    while i < files.len() || j < applied.len() {
        let f = files.get(i).copied();
        let a = applied.get(j);
        let (f, a) = match (f, a) {
            (Some(f), Some(a)) if f.version == a.version => {
                i += 1;
                j += 1;
                (Some(f), Some(a))
            }
            (Some(f), Some(a)) if f.version < a.version => {
                i += 1;
                (Some(f), None)
            }
            (Some(f), None) => {
                i += 1;
                (Some(f), None)
            }
            (_, a) => {
                j += 1;
                (None, a)
            }
        };
        let version = f.map(|f| f.version).or(a.map(|a| a.version)).expect("one side");
        let state = match (f, a) {
            (_, Some(a)) if !a.success => State::Failed,
            (Some(_), Some(_)) => State::Applied,
            (None, Some(_)) => State::Missing,
            _ => State::Pending,
        };
        out.push(StatusRow {
            version,
            description: f.map(|f| f.description.clone()).or(a.map(|a| a.description.clone())).unwrap_or_default(),
            state,
            file: f.map(|f| f.file_name()),
            kind: f.map(|f| f.kind),
            no_transaction: f.is_some_and(|f| f.no_transaction),
            applied_at: a.map(|a| a.installed_on),
            applied_by: None,
            // Negative: not known (sqlx's -1, or the mark of a run that did not finish).
            execution_time_ns: a.map(|a| a.execution_time).filter(|t| *t >= 0),
            // One that failed part way never finished: its file is fixed before it is resolved.
            drift: matches!((f, a), (Some(f), Some(a)) if a.success && f.checksum != a.checksum),
            out_of_order: state == State::Pending && newest.is_some_and(|n| version < n),
            missing_down: f.is_some_and(|f| f.kind == Kind::Reversible && !f.has_down),
            failed_in_down: false,
        });
    }
    out
}

/// Everything `status` shows: the document of `status --json` and the app's Status screen.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct StatusReport {
    pub env: Option<String>,
    /// The database, as shown (never with a password).
    pub database: String,
    pub dialect: crate::db::Dialect,
    pub summary: Summary,
    pub migrations: Vec<StatusRow>,
    /// Problems with the migrations folder (`check` lists them with their fixes).
    pub problems: Vec<String>,
    /// What `check` reports, the same findings: a count shown here is the count shown there.
    pub findings: Vec<crate::migration::check::Finding>,
    /// The repeatable files, in name order, each with its state.
    pub repeatables: Vec<crate::migration::repeatable::Row>,
    /// Whether the database was read; `false`: the files only, every one's state unknown.
    pub database_read: bool,
    /// The version a plain rollback (one step) goes back to: the newest applied but one, 0 when one
    /// is applied, `None` when none is.
    pub rollback_to: Option<i64>,
    /// The server is a read-only standby: what is read here is as far as it has replayed.
    pub standby: Option<crate::db::Standby>,
}

/// What status reads from a database: the history table, and who applied what.
#[derive(Default)]
pub struct Recorded {
    pub applied: Vec<Applied>,
    pub appliers: Vec<(i64, String)>,
    /// Who applied what could be read from the log (`appliers` is then the whole truth).
    pub log_read: bool,
    /// The failed migrations whose failure was in their down (MySQL/MariaDB, or `-- no-transaction`).
    pub failed_in_down: Vec<i64>,
    /// The backup whose restore stopped part way: what the history says may be the backup's.
    pub partly_restored: Option<String>,
    /// Who holds the migration lock, when another session does: a run in progress.
    pub running: Option<String>,
    /// The server is a read-only standby (its history may be behind its primary's).
    pub standby: Option<crate::db::Standby>,
    /// The rows marked failed that the run in progress is working on (no failure recorded for them).
    pub in_progress: Vec<i64>,
    /// Views that no longer read (a migration dropped what they use).
    pub broken_views: Vec<crate::db::BrokenView>,
    /// What the log says of the repeatable files.
    pub repeatables: std::collections::BTreeMap<String, crate::migration::repeatable::Record>,
    /// The log's repeatable events could not be read: their states are not known.
    pub repeatables_unread: bool,
}

impl Recorded {
    /// What the log says of the repeatable files, when it could be read.
    pub fn repeatables(&self) -> Option<&std::collections::BTreeMap<String, crate::migration::repeatable::Record>> {
        (!self.repeatables_unread).then_some(&self.repeatables)
    }

    /// Reads it; the log's repeatable events only where the project has `repeatables` (each status
    /// would otherwise scan the log for them).
    pub async fn read(db: &mut dyn crate::db::Database, repeatables: bool) -> crate::Result<Recorded> {
        let applied = db.applied().await?;
        // Who applied what is a nicety: a role that cannot read the log still gets its status.
        let (appliers, log_read) = match db.appliers().await {
            Ok(a) => (a, true),
            Err(e) => {
                tracing::warn!("cannot read who applied the migrations: {}", e.message);
                (Vec::new(), false)
            }
        };
        // Read before the rows' events: a row the run marks while they are read is then its.
        let running = db.run_in_progress().await.unwrap_or_else(|e| {
            tracing::warn!("cannot tell whether a run holds the migration lock: {}", e.message);
            None
        });
        let standby = db.standby().await.unwrap_or_else(|e| {
            tracing::warn!("cannot tell whether the server is a standby: {}", e.message);
            None
        });
        let (mut failed_in_down, mut in_progress) = (Vec::new(), Vec::new());
        for a in applied.iter().filter(|a| !a.success) {
            match left_part_way_by(db, a.version).await {
                Some(crate::db::EventKind::Rollback) => failed_in_down.push(a.version),
                // Marked, and no failure recorded: the run holding the lock is working on it.
                None if running.is_some() => in_progress.push(a.version),
                _ => {}
            }
        }
        // Read as strictly as history itself: a run would refuse on it.
        let partly_restored = crate::backup::left_partly(db).await?;
        let broken_views = db.broken_views().await.unwrap_or_else(|e| {
            tracing::warn!("cannot tell whether every view still reads: {}", e.message);
            Vec::new()
        });
        let (repeatables, repeatables_unread) =
            match crate::migration::runner::recorded_repeatables(db, repeatables).await {
                Ok(records) => (records, false),
                Err(e) => {
                    tracing::warn!("cannot read which repeatable files were applied: {}", e.message);
                    (Default::default(), true)
                }
            };
        Ok(Recorded {
            applied,
            appliers,
            log_read,
            failed_in_down,
            partly_restored,
            running,
            standby,
            in_progress,
            broken_views,
            repeatables,
            repeatables_unread,
        })
    }
}

/// Whether a failed migration's failure was its down's: its newest event is a rollback left part way.
pub async fn failed_rolling_back(db: &mut dyn crate::db::Database, version: i64) -> bool {
    left_part_way_by(db, version).await == Some(crate::db::EventKind::Rollback)
}

/// What left a migration part way (an apply or a rollback), when its newest event says it was.
async fn left_part_way_by(db: &mut dyn crate::db::Database, version: i64) -> Option<crate::db::EventKind> {
    let newest = db.events(Some(version), 1).await.ok()?.into_iter().next()?;
    (newest.outcome == crate::db::Outcome::Partial).then_some(newest.kind)
}

pub fn report(ws: &crate::project::Workspace, source: &Source, recorded: &Recorded) -> StatusReport {
    let migrations = recorded_rows(source, recorded);
    let findings =
        crate::migration::check::recorded(source, ws.target.dialect(), recorded, &migrations, &Default::default());
    let applied: Vec<i64> = recorded.applied.iter().map(|a| a.version).collect();
    StatusReport {
        database_read: true,
        rollback_to: applied.len().checked_sub(1).map(|i| if i == 0 { 0 } else { applied[i - 1] }),
        env: ws.env.clone(),
        database: ws.target.display(),
        dialect: ws.target.dialect(),
        summary: summary(&migrations),
        migrations,
        problems: source.problems.iter().map(|p| p.message()).collect(),
        findings,
        repeatables: crate::migration::repeatable::rows(source, recorded.repeatables()),
        standby: recorded.standby.clone(),
    }
}

/// The folder's migrations when the database could not be read: each one's state unknown (not
/// pending: it may well be applied), with what the folder alone shows wrong.
pub fn unread(ws: &crate::project::Workspace, source: &Source) -> StatusReport {
    let mut report = report(ws, source, &Recorded::default());
    for r in &mut report.migrations {
        r.state = State::Unknown;
    }
    report.summary = summary(&report.migrations);
    report.repeatables = crate::migration::repeatable::rows(source, None);
    report.database_read = false;
    report.rollback_to = None;
    report
}

/// The status rows, with who applied each (from the event log).
pub fn recorded_rows(source: &Source, recorded: &Recorded) -> Vec<StatusRow> {
    let mut migrations = rows(source, &recorded.applied);
    let by: std::collections::HashMap<i64, &String> = recorded.appliers.iter().map(|(v, a)| (*v, a)).collect();
    for r in migrations.iter_mut().filter(|r| r.applied_at.is_some()) {
        r.applied_by = by.get(&r.version).map(|a| a.to_string());
        r.failed_in_down = r.state == State::Failed && recorded.failed_in_down.contains(&r.version);
        if r.state == State::Failed && recorded.in_progress.contains(&r.version) {
            r.state = State::Running;
        }
    }
    migrations
}

pub fn summary(rows: &[StatusRow]) -> Summary {
    let count = |s: State| rows.iter().filter(|r| r.state == s).count();
    Summary {
        applied: count(State::Applied),
        pending: count(State::Pending),
        failed: count(State::Failed),
        missing: count(State::Missing),
        drift: rows.iter().filter(|r| r.drift).count(),
        current: rows.iter().filter(|r| r.state == State::Applied).map(|r| r.version).max(),
    }
}
