//! `godwit verify`: every migration's down, proven on a scratch database. For each migration in
//! order: read the schema, apply the up, roll it back with the down, read the schema again and
//! compare, then apply the up again (a non-idempotent up, or a down that left something behind,
//! fails there).

use serde::Serialize;

use crate::db::{self, Database};
use crate::error::{Error, Location, Result};
use crate::event::Direction;
use crate::migration::placeholders::Values;
use crate::migration::runner::{self, Cancel};
use crate::migration::source::{Kind, MigrationFile, Source};
use crate::schema::{self, Change};

/// What verifying one migration found.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[ts(export, rename = "VerifyOutcome")]
pub enum Outcome {
    /// Its down brings the schema back to what it was before its up, and its up runs again.
    Restores,
    /// Its down leaves the schema otherwise than before its up (each object that differs), or tables
    /// with other row counts than before its up (rows its up inserted, or `--seed` data it lost).
    Leaves { changes: Vec<Change>, rows: Vec<Rows> },
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
    /// A repeatable file rebuilt after a rollback, or after the migration is applied again.
    Rebuild,
}

/// A table whose row count a migration's up and down did not bring back.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export)]
pub struct Rows {
    pub table: String,
    pub before: i64,
    pub after: i64,
}

/// Data loaded on the scratch database before the first migration verified (`--seed`), so that
/// each down is also held to the rows it must keep.
pub struct Seed<'a> {
    pub file: &'a std::path::Path,
    pub sql: &'a str,
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
    /// The repeatable files, proven over the newest schema once every migration is (`Restores`:
    /// each applies, applies again leaving the schema as it was, and is rebuilt after the newest
    /// migration is rolled back and applied again). A migration's down that fails with them in
    /// place is here too, under its own version.
    pub repeatables: Vec<Checked>,
    /// Stopped by a person before every migration was verified.
    pub cancelled: bool,
    /// The migrations not verified, in order, when verifying had to stop before them (`stopped`
    /// says why); empty when every one was.
    pub unchecked: Vec<String>,
    /// Why verifying stopped before the end (an up that fails, which every later migration needs).
    pub stopped: Option<String>,
    /// The counts the CLI, `--json` and the app all say.
    pub summary: Summary,
    /// How many times the scratch database was built again from nothing, after a migration whose
    /// down (or up run again) failed or left something, so that the ones after it start from what
    /// the migrations make.
    pub rebuilt: usize,
}

/// What a verify run found, counted once for everyone who says it.
#[derive(ts_rs::TS, Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[ts(export, rename = "VerifySummary")]
pub struct Summary {
    /// Migrations in the folder.
    pub total: usize,
    /// Those whose down was run (not older than `--from`, not without a down, not with a failing up).
    pub verified: usize,
    /// Of those, the ones whose down restores the schema.
    pub restore: usize,
    /// Downs that leave something or fail, and ups that fail.
    pub problems: usize,
    /// Applied with no down to check.
    pub irreversible: usize,
    /// Older than `--from`: applied only.
    pub applied_only: usize,
    /// Not verified: after an up that failed, or after a stop.
    pub unchecked: usize,
}

impl VerifyReport {
    fn counted(mut self, total: usize) -> VerifyReport {
        let count = |f: &dyn Fn(&Outcome) -> bool| self.checked.iter().filter(|c| f(&c.outcome)).count();
        self.summary = Summary {
            total,
            // Those whose down was run: an up that failed never got there.
            verified: count(&|o| {
                matches!(o, Outcome::Restores | Outcome::Leaves { .. })
                    || matches!(o, Outcome::Fails { step, .. } if *step != Step::Up)
            }),
            restore: count(&|o| matches!(o, Outcome::Restores)),
            problems: count(&|o| matches!(o, Outcome::Leaves { .. } | Outcome::Fails { .. })),
            irreversible: count(&|o| matches!(o, Outcome::Irreversible)),
            applied_only: count(&|o| matches!(o, Outcome::Applied)),
            unchecked: self.unchecked.len(),
        };
        self
    }
}

/// Where verify works: a scratch database it changes, and a way to start over on an empty one.
#[async_trait::async_trait]
pub trait Workbench: Send {
    fn db(&mut self) -> &mut dyn Database;
    /// Drops the database and puts an empty one in its place; `Err` where that cannot be done (then
    /// verifying stops where it would need it).
    async fn fresh(&mut self) -> Result<()>;
    /// A second scratch database that follows behind the first, and how many migrations' ups it
    /// holds, where the working one can be made again as a copy of it (`copy_checkpoint`); `None`
    /// where it cannot, and building again means replaying from nothing.
    async fn checkpoint(&mut self) -> Result<Option<(&mut dyn Database, &mut usize)>> {
        Ok(None)
    }
    /// Replaces the working database with a copy of the checkpoint.
    async fn copy_checkpoint(&mut self) -> Result<()> {
        Err(Error::failed("no checkpoint to copy".to_string()))
    }
}

/// A database verify may change but cannot make again (a test's own): it stops where it would.
#[async_trait::async_trait]
impl Workbench for Box<dyn Database> {
    fn db(&mut self) -> &mut dyn Database {
        self.as_mut()
    }
    async fn fresh(&mut self) -> Result<()> {
        Err(Error::failed("this database cannot be made again from nothing".to_string()))
    }
}

/// Verifies on the workbench's scratch database, migration by migration. After a migration whose
/// down (or its up run again) fails or leaves something, the scratch database is built again from
/// nothing up to that migration's up, so the ones after it start from what the migrations make and
/// each is judged alone. Only an up that fails stops it (every later migration needs what it makes).
pub async fn verify(
    bench: &mut dyn Workbench,
    source: &Source,
    from: Option<i64>,
    seed: Option<Seed<'_>>,
    cancel: &Cancel,
    values: &Values,
    on: &mut (dyn FnMut(usize, usize, &Checked) + Send),
) -> Result<VerifyReport> {
    source.ensure_valid()?;
    bench.db().ensure_tables().await?;
    let actor = db::actor();
    let total = source.migrations.len();
    let mut report = VerifyReport::default();
    let seeded = seed.is_some();
    let seed_first = source.migrations.iter().position(|m| from.is_none_or(|f| m.version >= f));
    let mut seed_pending = seed.is_some();
    let mut rebuild = false;
    for (i, m) in source.migrations.iter().enumerate() {
        if cancel.is_cancelled() {
            report.cancelled = true;
            break;
        }
        if rebuild {
            if let Err(e) = start_over(bench, source, i, seed_first.zip(seed.as_ref()), cancel, values, &actor).await {
                if e.problem == crate::error::Problem::Cancelled {
                    report.cancelled = true;
                    break;
                }
                report.stopped = Some(format!("the scratch database could not be built again: {}", e.message));
                report.unchecked = source.migrations[i..].iter().map(|m| m.file_name()).collect();
                return Ok(report.counted(total));
            }
            report.rebuilt += 1;
            rebuild = false;
        }
        // An abort (a second Ctrl-C, SIGTERM, closing the window) stops the running statement, so
        // the scratch database is dropped before the process ends.
        let db = bench.db();
        let interrupter = db.interrupter().await.ok();
        let stop = Stop { interrupter: interrupter.as_deref(), cancel, values };
        if seed_pending
            && Some(i) == seed_first
            && let Some(s) = &seed
        {
            load_seed(db, s).await?;
            seed_pending = false;
        }
        let outcome = match from.is_some_and(|f| m.version < f) {
            true => match up(db, m, &actor, &stop).await {
                Ok(()) => (Outcome::Applied, None),
                Err(e) => (fails(Step::Up, e), Some(After::Stop)),
            },
            false => check_one(db, m, &actor, &stop, seeded).await?,
        };
        let (outcome, after) = outcome;
        let checked = Checked { version: m.version, file: m.file_name(), outcome };
        on(i, total, &checked);
        report.checked.push(checked);
        match after {
            None => {}
            Some(After::Rebuild) => rebuild = true,
            Some(After::Stop) => {
                report.stopped =
                    Some(format!("{}'s up fails, and every migration after it needs what it makes", m.file_name()));
                report.unchecked = source.migrations[i + 1..].iter().map(|m| m.file_name()).collect();
                return Ok(report.counted(total));
            }
        }
    }
    if report.cancelled {
        let done = report.checked.len();
        report.unchecked = source.migrations[done..].iter().map(|m| m.file_name()).collect();
        return Ok(report.counted(total));
    }
    if rebuild && !source.repeatables.is_empty() {
        // The last one left the scratch database otherwise than its up: the repeatable files need
        // it as the migrations make it.
        let n = source.migrations.len();
        if let Err(e) = start_over(bench, source, n, seed_first.zip(seed.as_ref()), cancel, values, &actor).await {
            report.cancelled = e.problem == crate::error::Problem::Cancelled;
            report.stopped =
                Some(format!("the scratch database could not be built again for the repeatable files: {}", e.message));
            report.unchecked = source.repeatables.iter().map(|r| r.file_name()).collect();
            return Ok(report.counted(total));
        }
        report.rebuilt += 1;
    }
    if !source.repeatables.is_empty() {
        let db = bench.db();
        let interrupter = db.interrupter().await.ok();
        let stop = Stop { interrupter: interrupter.as_deref(), cancel, values };
        report.repeatables = check_repeatables(db, source, &actor, &stop).await?;
    }
    Ok(report.counted(total))
}

/// Where a history is worth verifying in two parts at once: from this many migrations to verify.
pub const TWO_PARTS_FROM: usize = 40;

/// `verify` in two parts at once, each on its own scratch database: the first verifies the older
/// migrations, the second applies those (without checking them) and verifies the rest. Each part
/// waits mostly on its server, so the two overlap; the report is the one `verify` gives, in order.
/// The second part's progress is said once the first's is. No seed: a seed loaded before the
/// first migration would have to reach the second part through the older ones.
pub async fn verify_in_two(
    first: &mut dyn Workbench,
    second: &mut dyn Workbench,
    source: &Source,
    from: Option<i64>,
    cancel: &Cancel,
    values: &Values,
    on: &mut (dyn FnMut(usize, usize, &Checked) + Send),
) -> Result<VerifyReport> {
    let total = source.migrations.len();
    let start = source.migrations.iter().position(|m| from.is_none_or(|f| m.version >= f)).unwrap_or(total);
    if total - start < 2 {
        return verify(first, source, from, None, cancel, values, on).await;
    }
    // The second part also applies the first part's ups (about a third of verifying them), so it
    // takes fewer migrations to verify.
    let split = start + (total - start) * 7 / 12;
    let head = Source { migrations: source.migrations[..split].to_vec(), repeatables: Vec::new(), ..source.clone() };
    let later = std::sync::Mutex::new(Vec::new());
    let (a, b) = {
        let mut on_first = |i: usize, _: usize, c: &Checked| on(i, total, c);
        let mut on_second = |i: usize, _: usize, c: &Checked| {
            if i >= split {
                later.lock().unwrap_or_else(|p| p.into_inner()).push((i, c.clone()));
            }
        };
        tokio::join!(
            verify(first, &head, from, None, cancel, values, &mut on_first),
            verify(second, source, Some(source.migrations[split].version), None, cancel, values, &mut on_second),
        )
    };
    let (mut a, b) = (a?, b?);
    let names = |r: std::ops::Range<usize>| source.migrations[r].iter().map(|m| m.file_name()).collect::<Vec<_>>();
    a.rebuilt += b.rebuilt;
    // The first part ended early (an up that fails, a stop): nothing after it counts.
    if a.stopped.is_some() || a.cancelled {
        a.unchecked.extend(names(split..total));
        return Ok(a.counted(total));
    }
    let reached = b.checked.len();
    if reached <= split {
        // The second part could not build what the first part's migrations make.
        a.stopped = b.stopped.or_else(|| b.cancelled.then(|| "stopped".to_string()));
        a.cancelled = b.cancelled;
        a.unchecked = names(split..total);
        return Ok(a.counted(total));
    }
    for (i, c) in later.into_inner().unwrap_or_else(|p| p.into_inner()) {
        on(i, total, &c);
    }
    a.checked.extend(b.checked.into_iter().skip(split));
    a.repeatables = b.repeatables;
    a.cancelled = b.cancelled;
    a.unchecked = b.unchecked;
    a.stopped = b.stopped;
    Ok(a.counted(total))
}

/// What must happen after a migration's check before the next.
enum After {
    /// The scratch database is not as this migration's up leaves it: build it again.
    Rebuild,
    /// Its up fails: nothing after it can be verified.
    Stop,
}

/// An empty scratch database with the ups of the first `upto` migrations applied (and the seed
/// loaded where verifying loaded it).
async fn start_over(
    bench: &mut dyn Workbench,
    source: &Source,
    upto: usize,
    seed: Option<(usize, &Seed<'_>)>,
    cancel: &Cancel,
    values: &Values,
    actor: &str,
) -> Result<()> {
    // Each migration's up runs once in all on the checkpoint, however often the working database is
    // built again from it; without one, each build replays from nothing.
    match bench.checkpoint().await? {
        Some((db, at)) => {
            apply_ups(db, source, *at..upto, seed, cancel, values, actor).await?;
            *at = upto;
            bench.copy_checkpoint().await
        }
        None => {
            bench.fresh().await?;
            apply_ups(bench.db(), source, 0..upto, seed, cancel, values, actor).await
        }
    }
}

/// The ups of `range`'s migrations on `db` (and the seed where verifying loaded it).
async fn apply_ups(
    db: &mut dyn Database,
    source: &Source,
    range: std::ops::Range<usize>,
    seed: Option<(usize, &Seed<'_>)>,
    cancel: &Cancel,
    values: &Values,
    actor: &str,
) -> Result<()> {
    db.ensure_tables().await?;
    let interrupter = db.interrupter().await.ok();
    let stop = Stop { interrupter: interrupter.as_deref(), cancel, values };
    for i in range {
        if cancel.is_cancelled() {
            return Err(Error::new(crate::error::Problem::Cancelled, "stopped while building the scratch database"));
        }
        if let Some((at, s)) = seed
            && at == i
        {
            load_seed(db, s).await?;
        }
        up(db, &source.migrations[i], actor, &stop).await?;
    }
    Ok(())
}

/// Whether a script may change the rows of a table it does not create: anything but schema
/// statements (a `CREATE TABLE … AS` fills only the table it makes), and MySQL's `ALTER IGNORE`,
/// which deletes duplicates.
fn may_change_rows(sql: &str, dialect: crate::syntax::Dialect) -> bool {
    match crate::syntax::split::split(sql, dialect) {
        Ok(statements) => statements.iter().any(|s| writes_rows(s.sql)),
        Err(_) => true,
    }
}

/// The lines of the statements in `sql` that may write rows (all of them where it cannot be split).
pub fn row_writing_lines(sql: &str, dialect: crate::syntax::Dialect) -> Vec<usize> {
    match crate::syntax::split::split(sql, dialect) {
        Ok(statements) => statements.iter().filter(|s| writes_rows(s.sql)).map(|s| s.line).collect(),
        Err(_) => vec![1],
    }
}

/// Whether a statement may write rows: anything but schema changes and session settings.
fn writes_rows(sql: &str) -> bool {
    let words = crate::syntax::words::leading(sql, 2);
    let first = words.first().map(String::as_str).unwrap_or_default();
    let schema_only = matches!(
        first,
        "CREATE"
            | "ALTER"
            | "DROP"
            | "COMMENT"
            | "GRANT"
            | "REVOKE"
            | "SET"
            | "RESET"
            | "BEGIN"
            | "COMMIT"
            | "START"
            | "END"
            | "ANALYZE"
            | "REINDEX"
            | "RENAME"
    );
    !schema_only || (first == "ALTER" && words.get(1).is_some_and(|w| w == "IGNORE"))
}

/// One migration's outcome, and what must happen before the next: its up failing stops verifying;
/// a down (or an up run again) that fails or leaves something means the scratch database is not as
/// the migrations make it, unless the failure went back with its transaction.
async fn check_one(
    db: &mut dyn Database,
    m: &MigrationFile,
    actor: &str,
    stop: &Stop<'_>,
    seeded: bool,
) -> Result<(Outcome, Option<After>)> {
    if m.kind == Kind::Simple {
        return Ok(match up(db, m, actor, stop).await {
            Ok(()) => (Outcome::Irreversible, None),
            Err(e) => (fails(Step::Up, e), Some(After::Stop)),
        });
    }
    let down = runner::step(m, Direction::Down, Some(db.dialect()), stop.values)?;
    let sql = down.sent();
    // Rows are counted when they may change: with a seed, or when the up or the down holds a
    // statement other than schema changes. DDL alone cannot change a surviving table's rows (an
    // event trigger that writes on DDL is the exception this leaves out).
    let counts = seeded || may_change_rows(&m.sql, db.dialect()) || may_change_rows(sql, db.dialect());
    let (before, counts_before) = db.snapshot(counts).await?;
    if let Err(e) = up(db, m, actor, stop).await {
        return Ok((fails(Step::Up, e), Some(After::Stop)));
    }
    let script = db::Script::new(&down.path, sql, db.dialect())?;
    // Where the down and the up run in transactions and DDL is transactional, the down and the up
    // again are tried in one transaction that is then rolled back: the database is as the up left
    // it whatever they do, and nothing needs building again.
    let up_script = db::Script::new(&m.path, &m.sql, db.dialect())?;
    if db.dialect() != crate::syntax::Dialect::MySql
        && !script.no_transaction
        && !m.no_transaction
        && !ends_transactions(&script)
        && !ends_transactions(&up_script)
    {
        return trial(db, m, &script, &down, (before, counts_before, counts), actor, stop).await;
    }
    if let Err(f) = runner::stoppable(db.revert(m, &script, actor), stop.interrupter, stop.cancel, stop.stall()).await {
        let mut e = f.error;
        e.message = down.scrub(e.message);
        // A down that failed in its transaction took itself back, and one outside a transaction
        // whose first statement failed changed nothing (`dirty` says which, for a statement's own
        // failure; a stall or a stop says nothing of what ran): the database is as after the up.
        // MySQL's DDL commits as it goes, so there it is built again regardless.
        let told = matches!(e.problem, crate::error::Problem::MigrationFailed { .. });
        let after = if f.dirty || (script.no_transaction && !told) || db.dialect() == crate::syntax::Dialect::MySql {
            Some(After::Rebuild)
        } else {
            None
        };
        return Ok((fails(Step::Down, e), after));
    }
    let (after, counts_after) = db.snapshot(counts).await?;
    let changes = schema::diff(&before, &after);
    let rows = rows_changed(&counts_before, &counts_after);
    let again = up(db, m, actor, stop).await;
    Ok(match (changes.is_empty() && rows.is_empty(), again) {
        (true, Ok(())) => (Outcome::Restores, None),
        // What the down left behind says more than the up's failure it causes. Applied again over
        // it, the schema is not quite what the up makes either.
        (false, _) => (Outcome::Leaves { changes, rows }, Some(After::Rebuild)),
        (true, Err(e)) => (fails(Step::UpAgain, e), Some(After::Rebuild)),
    })
}

/// The tables whose row count differs from `before` to `after`.
fn rows_changed(before: &[db::TableCount], after: &[db::TableCount]) -> Vec<Rows> {
    before
        .iter()
        .filter_map(|b| {
            let a = after.iter().find(|a| a.table == b.table)?;
            (a.rows != b.rows).then(|| Rows { table: b.table.clone(), before: b.rows, after: a.rows })
        })
        .collect()
}

/// Whether a script has statements of its own that end or begin a transaction (a file written
/// with `BEGIN; … COMMIT;`): tried inside one, it would commit what must be rolled back.
fn ends_transactions(script: &db::Script<'_>) -> bool {
    script.statements.iter().any(|s| {
        let w = crate::syntax::words::leading(s.sql, 1);
        matches!(
            w.first().map(String::as_str),
            Some("BEGIN" | "COMMIT" | "ROLLBACK" | "END" | "START" | "SAVEPOINT" | "RELEASE" | "ABORT")
        )
    })
}

/// The down, then the up again, in a transaction rolled back after: the schema after the down
/// is read inside it. The database ends as the up left it.
async fn trial(
    db: &mut dyn Database,
    m: &MigrationFile,
    script: &db::Script<'_>,
    down: &runner::Step,
    (before, counts_before, counts): (schema::Schema, Vec<db::TableCount>, bool),
    actor: &str,
    stop: &Stop<'_>,
) -> Result<(Outcome, Option<After>)> {
    let dialect = db.dialect();
    db.execute_script(&db::Script::own("BEGIN", dialect)?).await?;
    let tried = tried(db, m, script, down, (before, counts_before, counts), actor, stop).await;
    // Whatever happened inside, nothing of it stays (a rollback outside a transaction is harmless).
    let _ = db.execute_script(&db::Script::own("ROLLBACK", dialect)?).await;
    tried
}

/// The inside of `trial`; every way out of it is followed by the rollback.
async fn tried(
    db: &mut dyn Database,
    m: &MigrationFile,
    script: &db::Script<'_>,
    down: &runner::Step,
    (before, counts_before, counts): (schema::Schema, Vec<db::TableCount>, bool),
    actor: &str,
    stop: &Stop<'_>,
) -> Result<(Outcome, Option<After>)> {
    let dialect = db.dialect();
    if let Err(f) = without_bookkeeping(db, script, stop).await {
        db.execute_script(&db::Script::own("ROLLBACK", dialect)?).await?;
        let mut first = f.error;
        first.message = down.scrub(first.message);
        if stop.cancel.is_aborted() {
            return Ok((fails(Step::Down, first), None));
        }
        // Run as a rollback is, for its error's words and line: it fails again in its own
        // transaction, and the database is as the up left it.
        let again = runner::stoppable(db.revert(m, script, actor), stop.interrupter, stop.cancel, stop.stall()).await;
        return Ok(match again {
            Err(f) => {
                let mut e = f.error;
                e.message = down.scrub(e.message);
                (fails(Step::Down, e), if f.dirty { Some(After::Rebuild) } else { None })
            }
            // It went through this time: its first failure is what is said, and what it did stays,
            // so the database is built again.
            Ok(_) => (fails(Step::Down, first), Some(After::Rebuild)),
        });
    }
    let (after, counts_after) = db.snapshot(counts).await?;
    let up = runner::step(m, Direction::Up, Some(dialect), stop.values)?;
    let up_script = db::Script::new(&m.path, up.sent(), dialect)?;
    let again = without_bookkeeping(db, &up_script, stop).await;
    let changes = schema::diff(&before, &after);
    // The history row the up wrote stays in the trial (the down ran without its bookkeeping).
    let tables = db.history_tables();
    let ours = [tables.history.stored_name(dialect), tables.log.stored_name(dialect)];
    let rows: Vec<Rows> = rows_changed(&counts_before, &counts_after)
        .into_iter()
        .filter(|r| !ours.iter().any(|t| r.table.rsplit('.').next() == Some(t.as_str())))
        .collect();
    Ok(match (changes.is_empty() && rows.is_empty(), again) {
        (true, Ok(())) => (Outcome::Restores, None),
        (false, _) => (Outcome::Leaves { changes, rows }, None),
        (true, Err(f)) => {
            let mut e = f.error;
            e.message = format!("{} failed when run again after its down: {}", m.file_name(), up.scrub(e.message));
            (fails(Step::UpAgain, e), None)
        }
    })
}

/// A script's statements alone, stoppable as a migration is.
async fn without_bookkeeping(
    db: &mut dyn Database,
    script: &db::Script<'_>,
    stop: &Stop<'_>,
) -> std::result::Result<(), db::Failure> {
    let ran = async { db.execute_script(script).await.map_err(|error| db::Failure { error, dirty: false }) };
    runner::stoppable(ran, stop.interrupter, stop.cancel, stop.stall()).await
}

/// The repeatable files over the newest schema: each applied, all applied again (the schema must
/// not change), then the newest reversible migration rolled back with them in place, each rebuilt,
/// the migration applied again and each rebuilt: the schema must be as it was.
async fn check_repeatables(
    db: &mut dyn Database,
    source: &Source,
    actor: &str,
    stop: &Stop<'_>,
) -> Result<Vec<Checked>> {
    let mut out: Vec<Checked> = Vec::new();
    let entry = |r: &MigrationFile, outcome| Checked { version: r.version, file: r.file_name(), outcome };
    // Applies each; the first that fails is said, under `step`.
    async fn apply_all(
        db: &mut dyn Database,
        source: &Source,
        actor: &str,
        stop: &Stop<'_>,
    ) -> Result<Option<(usize, Error)>> {
        for (i, r) in source.repeatables.iter().enumerate() {
            if let Err(e) = repeatable(db, r, actor, stop).await {
                return Ok(Some((i, e)));
            }
        }
        Ok(None)
    }
    let failed = |out: &mut Vec<Checked>, i: usize, step: Step, e: Error| {
        let r = &source.repeatables[i];
        out.push(entry(r, fails(step, e)));
    };
    if let Some((i, e)) = apply_all(db, source, actor, stop).await? {
        failed(&mut out, i, Step::Up, e);
        return Ok(out);
    }
    let first = db.inspect().await?;
    if let Some((i, e)) = apply_all(db, source, actor, stop).await? {
        failed(&mut out, i, Step::UpAgain, e);
        return Ok(out);
    }
    let changes = schema::diff(&first, &db.inspect().await?);
    if !changes.is_empty() {
        // Applied again over themselves, they made something else: said of them all.
        for r in &source.repeatables {
            out.push(entry(r, Outcome::Leaves { changes: changes.clone(), rows: Vec::new() }));
        }
        return Ok(out);
    }
    if let Some(m) = source.migrations.iter().rev().find(|m| m.kind == Kind::Reversible && m.has_down) {
        let down = runner::step(m, Direction::Down, Some(db.dialect()), stop.values)?;
        let script = db::Script::new(&down.path, down.sent(), db.dialect())?;
        if let Err(f) =
            runner::stoppable(db.revert(m, &script, actor), stop.interrupter, stop.cancel, stop.stall()).await
        {
            let mut e = f.error;
            e.message = format!("with the repeatable files in place: {}", down.scrub(e.message));
            out.push(Checked { version: m.version, file: m.file_name(), outcome: fails(Step::Down, e) });
            return Ok(out);
        }
        // Rebuilt over the rolled-back schema, a file may need what the down removed (as after a
        // `down`, that is not a failure); once the migration is applied again, each must build.
        for r in &source.repeatables {
            let _ = repeatable(db, r, actor, stop).await;
        }
        for step in [Step::Up, Step::Rebuild] {
            let failure = match step {
                Step::Up => up(db, m, actor, stop).await.err().map(|e| (None, e)),
                _ => apply_all(db, source, actor, stop).await?.map(|(i, e)| (Some(i), e)),
            };
            match failure {
                Some((Some(i), e)) => {
                    failed(&mut out, i, Step::Rebuild, e);
                    return Ok(out);
                }
                Some((None, e)) => {
                    out.push(Checked { version: m.version, file: m.file_name(), outcome: fails(Step::UpAgain, e) });
                    return Ok(out);
                }
                None => {}
            }
        }
        let changes = schema::diff(&first, &db.inspect().await?);
        if !changes.is_empty() {
            for r in &source.repeatables {
                out.push(entry(r, Outcome::Leaves { changes: changes.clone(), rows: Vec::new() }));
            }
            return Ok(out);
        }
    }
    out.extend(source.repeatables.iter().map(|r| entry(r, Outcome::Restores)));
    Ok(out)
}

/// Applies `files` (repeatable files), in order, on `db` (a scratch database): what a replay of the
/// migrations leaves out of an environment's schema.
pub async fn apply_repeatables(
    db: &mut dyn Database,
    files: &[&MigrationFile],
    cancel: &Cancel,
    values: &Values,
) -> Result<()> {
    let actor = db::actor();
    let interrupter = db.interrupter().await.ok();
    let stop = Stop { interrupter: interrupter.as_deref(), cancel, values };
    for r in files {
        repeatable(db, r, &actor, &stop)
            .await
            .map_err(|e| Error::failed(format!("applying {} on a scratch database failed: {}", r.what(), e.message)))?;
    }
    Ok(())
}

/// Applies a repeatable file, as a run does.
async fn repeatable(db: &mut dyn Database, r: &MigrationFile, actor: &str, stop: &Stop<'_>) -> Result<()> {
    let step = runner::step(r, Direction::Up, Some(db.dialect()), stop.values)?;
    let script = db::Script::new(&r.path, step.sent(), db.dialect())?;
    runner::stoppable(db.apply_repeatable(r, &script, actor), stop.interrupter, stop.cancel, stop.stall())
        .await
        .map(|_| ())
        .map_err(|f| {
            let mut e = f.error;
            e.message = step.scrub(e.message);
            e
        })
}

/// Runs the seed file's statements, outside the migrations' history.
async fn load_seed(db: &mut dyn Database, seed: &Seed<'_>) -> Result<()> {
    let script = db::Script::new(seed.file, seed.sql, db.dialect())?;
    db.execute_script(&script).await.map_err(|e| {
        Error::input(format!(
            "the seed {} could not be loaded on the scratch database: {}",
            seed.file.display(),
            e.message
        ))
    })
}

/// What stops a statement on the scratch database when a person aborts.
struct Stop<'a> {
    interrupter: Option<&'a dyn db::Interrupt>,
    cancel: &'a Cancel,
    /// The environment's placeholders, for the marked files.
    values: &'a Values,
}

impl Stop<'_> {
    fn stall(&self) -> std::time::Duration {
        db::ConnectOptions::default().stall_timeout
    }
}

async fn up(db: &mut dyn Database, m: &MigrationFile, actor: &str, stop: &Stop<'_>) -> Result<()> {
    let step = runner::step(m, Direction::Up, Some(db.dialect()), stop.values)?;
    let script = db::Script::new(&m.path, step.sent(), db.dialect())?;
    match script.statements.is_empty() {
        true => db.record_empty(m, actor).await,
        false => runner::stoppable(db.apply(m, &script, actor), stop.interrupter, stop.cancel, stop.stall())
            .await
            .map(|_| ())
            .map_err(|f| {
                let mut e = f.error;
                e.message = step.scrub(e.message);
                e
            }),
    }
}

fn fails(step: Step, e: Error) -> Outcome {
    Outcome::Fails { step, message: e.message, location: e.location }
}

/// Applies, on `db` (a scratch database), the migrations `versions` names, in order: the schema
/// the environment's applied migrations make. Refuses when one of them has no file.
pub async fn replay(
    db: &mut dyn Database,
    source: &Source,
    versions: &[i64],
    cancel: &Cancel,
    values: &Values,
) -> Result<()> {
    replay_as(db, source, versions, cancel, values, |m, e| {
        Error::failed(format!(
            "replaying {} on a scratch database failed: {}\nThe applied migrations must build the schema from \
             nothing. If this one was finished by hand (resolved as applied), make its file what was applied \
             there, then accept the edit with `repair`",
            m.file_name(),
            db::without_ran_before(&e.message)
        ))
    })
    .await
}

/// `replay`, a migration's failure said by `failed`.
pub async fn replay_as(
    db: &mut dyn Database,
    source: &Source,
    versions: &[i64],
    cancel: &Cancel,
    values: &Values,
    failed: impl Fn(&MigrationFile, Error) -> Error,
) -> Result<()> {
    db.ensure_tables().await?;
    let actor = db::actor();
    let interrupter = db.interrupter().await.ok();
    let stop = Stop { interrupter: interrupter.as_deref(), cancel, values };
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
        up(db, m, &actor, &stop).await.map_err(|e| match cancel.is_aborted() {
            // Stopped on the server because a person asked: not a fault of the migration.
            true => Error::new(crate::error::Problem::Cancelled, format!("stopped while replaying {}", m.file_name())),
            false => failed(m, e),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::may_change_rows;

    #[test]
    fn a_scratch_replay_does_not_say_what_stays() {
        let e = "migration 2 (x) failed in 2_x.up.sql (line 3, column 1): boom\nThe 1 statement(s) before it (line 2) \
                 ran, and what they changed stays: it runs outside a transaction.\nDETAIL: more";
        assert_eq!(
            crate::db::without_ran_before(e),
            "migration 2 (x) failed in 2_x.up.sql (line 3, column 1): boom\nDETAIL: more"
        );
    }
    use crate::syntax::Dialect;

    #[test]
    fn rows_are_counted_unless_a_script_only_changes_the_schema() {
        let pg = Dialect::Postgres;
        assert!(!may_change_rows("CREATE TABLE t (id int);\n-- note\nCREATE INDEX i ON t (id);\nDROP VIEW v;", pg));
        assert!(!may_change_rows("ALTER TABLE t ADD c int DEFAULT 0;\nCREATE TABLE u AS SELECT * FROM t;", pg));
        assert!(may_change_rows("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);", pg));
        assert!(may_change_rows("UPDATE t SET c = 1;", pg));
        assert!(may_change_rows("TRUNCATE t;", pg));
        assert!(may_change_rows("SELECT backfill();", pg));
        assert!(may_change_rows("ALTER IGNORE TABLE t ADD UNIQUE (c);", Dialect::MySql));
    }
}
