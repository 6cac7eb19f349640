//! The one loop that applies and reverts migrations: lock, read history, plan, run each (reporting
//! events, stopping between migrations when cancelled), record failures, unlock. The CLI and the
//! desktop app both drive it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::db::{self, Database, EventKind, NewEvent, Outcome};
use crate::error::{Error, ErrorKind, Problem, Result};
use crate::event::{Direction, RunEvent};
use crate::migration::placeholders::{self, Values};
use crate::migration::plan::{self, DownTarget};
use crate::migration::repeatable;
use crate::migration::source::{MigrationFile, Source};

/// Asks a run to stop: `cancel` before its next migration, `abort` now, by stopping the running
/// statement on the server (its transaction then rolls back).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    stop: Arc<AtomicBool>,
    abort: Arc<AtomicBool>,
}

impl Cancel {
    pub fn cancel(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
    pub fn abort(&self) {
        self.cancel();
        self.abort.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
    pub fn is_aborted(&self) -> bool {
        self.abort.load(Ordering::SeqCst)
    }
    /// Resolves once `abort` is asked for.
    async fn aborted(&self) {
        while !self.is_aborted() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    /// Resolves once a stop (or an abort) is asked for.
    pub async fn cancelled(&self) {
        while !self.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub lock_timeout: Duration,
    pub allow_out_of_order: bool,
    pub cancel: Cancel,
    /// The plan a person previewed: the run refuses, changing nothing, when the plan it makes
    /// under the lock is not this one (a file edited, a teammate's run, a new file).
    pub expect: Option<Vec<Seen>>,
    /// See `ConnectOptions::stall_timeout`.
    pub stall_timeout: Duration,
    /// How long each statement waits for other sessions' locks, how often a migration that could
    /// not get one is tried again, and how long a statement may run.
    pub waits: crate::migration::waits::Waits,
    /// The environment's placeholders, for the files marked to have them filled.
    pub placeholders: Values,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            stall_timeout: crate::db::ConnectOptions::default().stall_timeout,
            lock_timeout: Duration::from_secs(30),
            allow_out_of_order: false,
            cancel: Cancel::default(),
            expect: None,
            waits: Default::default(),
            placeholders: Values::default(),
        }
    }
}

/// One migration of a plan, with exactly the SQL that will be sent.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Step {
    pub version: i64,
    pub description: String,
    pub file: String,
    pub sql: String,
    pub no_transaction: bool,
    /// A repeatable file (`version` is its negative place), applied whenever it changed, or rebuilt
    /// after a rollback.
    #[serde(default)]
    pub repeatable: bool,
    /// SHA-256 of `sql`: what a run given this step as seen (`Seen`) checks.
    pub checksum: String,
    /// The file the SQL was read from (a database's own down, where the project keeps one).
    #[serde(skip)]
    #[ts(skip)]
    pub path: std::path::PathBuf,
    /// What is sent when a secret placeholder is filled in (`sql` shows it as `${name}`).
    #[serde(skip)]
    #[ts(skip)]
    pub hidden: Option<std::sync::Arc<placeholders::Hidden>>,
}

impl Step {
    /// The step in words: `3 (3_add.up.sql)`, or `repeatable views.sql`.
    pub fn label(&self) -> String {
        match self.repeatable {
            true => format!("repeatable {}", self.file),
            false => format!("{} ({})", self.version, self.file),
        }
    }

    /// The SQL sent.
    pub fn sent(&self) -> &str {
        self.hidden.as_ref().map_or(&self.sql, |h| h.sent())
    }

    /// `text` without the secrets this step sends.
    pub fn scrub(&self, text: String) -> String {
        match &self.hidden {
            Some(h) => h.scrub(&text),
            None => text,
        }
    }
}

/// A step as a person saw it in a preview (a `Step` read back from `up --dry-run --json` reads as one).
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[ts(export)]
pub struct Seen {
    pub version: i64,
    pub checksum: String,
}

impl From<&Step> for Seen {
    fn from(s: &Step) -> Seen {
        Seen { version: s.version, checksum: s.checksum.clone() }
    }
}

/// What differs between a previewed plan and the one made now, in words; empty when they agree.
fn plan_changes(seen: &[Seen], now: &[Step]) -> Vec<String> {
    let mut out = Vec::new();
    for s in seen {
        match now.iter().find(|n| n.version == s.version) {
            None => out.push(format!(
                "{} is no longer in the plan (applied or rolled back by another run meanwhile, or its file is gone)",
                s.version
            )),
            Some(n) if n.checksum != s.checksum => out.push(format!("{} was edited after the preview", n.label())),
            Some(_) => {}
        }
    }
    for n in now.iter().filter(|n| !seen.iter().any(|s| s.version == n.version)) {
        out.push(format!("{} would run too: it was not in the preview", n.label()));
    }
    if out.is_empty() && !seen.iter().map(|s| s.version).eq(now.iter().map(|n| n.version)) {
        out.push("the same migrations would run in another order".into());
    }
    out
}

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Done {
    pub version: i64,
    pub description: String,
    pub duration_ns: i64,
    #[serde(default)]
    pub repeatable: bool,
}

/// What a run did: the plan, what completed, and the failure that stopped it, if any
/// ("3 of 5 applied, failed at 4").
#[derive(ts_rs::TS, Debug, Serialize)]
#[ts(export)]
pub struct RunReport {
    /// The database it is for, as shown (never with a password); a saved plan runs only there.
    #[serde(default)]
    pub database: String,
    /// The id of the backup taken just before the run, when one was.
    #[serde(default)]
    pub backup: Option<String>,
    /// What a person should know before it runs (revision conflicts among the files).
    #[serde(default)]
    pub warnings: Vec<crate::event::Warning>,
    /// What `lint` finds in the migrations a preview of `up` shows.
    #[serde(default)]
    pub findings: Vec<crate::lint::Finding>,
    /// What the person must confirm before it runs (a preview's; the run enforces it again).
    #[serde(default)]
    pub guard: crate::migration::guard::Guard,
    /// How its statements wait for locks and how long they may run.
    #[serde(default)]
    pub waits: crate::migration::waits::Waits,
    /// The same in words, for a preview; `None` when nothing is limited.
    #[serde(default)]
    pub waits_said: Option<String>,
    pub direction: Direction,
    pub dry_run: bool,
    pub planned: Vec<Step>,
    pub done: Vec<Done>,
    pub cancelled: bool,
    #[serde(skip)]
    pub failure: Option<Error>,
}

impl RunReport {
    pub fn into_result(self) -> Result<RunReport> {
        match self.failure {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }
}

/// A migration's step on a database of `dialect` (`None`: any; a down is then the shared file).
pub(crate) fn step(
    m: &MigrationFile,
    direction: Direction,
    dialect: Option<db::Dialect>,
    values: &Values,
) -> Result<Step> {
    Ok(steps(&[m], direction, dialect, values)?.remove(0))
}

/// Each migration's step: every script read and its placeholders filled, so a missing or unreadable
/// script, or a placeholder with no value (all of them named), stops the run before anything is sent.
fn steps(
    plan: &[&MigrationFile],
    direction: Direction,
    dialect: Option<db::Dialect>,
    values: &Values,
) -> Result<Vec<Step>> {
    let mut out = Vec::with_capacity(plan.len());
    let mut unset = Vec::new();
    for m in plan {
        // A repeatable file is its own text, in a rollback too (it is rebuilt).
        let (file, written, path) = match direction {
            _ if m.repeatable => (m.file_name(), m.sql.clone(), m.path.clone()),
            Direction::Up => (m.file_name(), m.sql.clone(), m.path.clone()),
            Direction::Down => match m.down_path_for(dialect) {
                Some(path) => (m.down_name(&path), m.read_down(&path)?, path),
                // Irreversible: its error says so.
                None => (String::new(), m.down_sql()?, m.path.clone()),
            },
        };
        // The down file's own first line says how it runs, not the up file's.
        let no_transaction = crate::migration::source::no_transaction(&written);
        // A down is filled when it or its up asks.
        let (sql, hidden) = match placeholders::marked(&written) || placeholders::marked(&m.sql) {
            false => (written, None),
            true => match placeholders::fill(&file, &written, dialect, values) {
                Ok(f) => (f.shown, f.hidden),
                Err(placeholders::Refusal::Unset(names)) => {
                    unset.push((file, names));
                    continue;
                }
                Err(placeholders::Refusal::Error(e)) => return Err(e),
            },
        };
        // Of the SQL as shown: a secret's value is not in it, nor in its hash.
        let checksum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(sql.as_bytes()));
        out.push(Step {
            version: m.version,
            description: m.description.clone(),
            file,
            sql,
            no_transaction,
            repeatable: m.repeatable,
            checksum,
            path,
            hidden,
        });
    }
    if !unset.is_empty() {
        return Err(placeholders::unset_error(values.env(), &unset));
    }
    Ok(out)
}

/// Applies pending migrations up to `to`.
pub async fn up(
    db: &mut dyn Database,
    source: &Source,
    to: Option<i64>,
    opts: &RunOptions,
    on_event: &mut (dyn FnMut(&RunEvent) + Send),
) -> Result<RunReport> {
    execute(db, source, Work::Up(to), opts, &mut (), on_event).await.map(|(r, _)| r)
}

/// Reverts applied migrations, newest first.
pub async fn down(
    db: &mut dyn Database,
    source: &Source,
    target: DownTarget,
    opts: &RunOptions,
    on_event: &mut (dyn FnMut(&RunEvent) + Send),
) -> Result<RunReport> {
    execute(db, source, Work::Down(target), opts, &mut (), on_event).await.map(|(r, _)| r)
}

/// Reverts the newest applied migration and applies it again: "test both upgrade and downgrade".
pub async fn redo(
    db: &mut dyn Database,
    source: &Source,
    opts: &RunOptions,
    on_event: &mut (dyn FnMut(&RunEvent) + Send),
) -> Result<(RunReport, Option<RunReport>)> {
    execute(db, source, Work::Redo, opts, &mut (), on_event).await
}

/// Work done under a run's lock once its plan is known, before its first migration (a backup).
#[async_trait::async_trait]
pub trait BeforeRun: Send {
    /// `planned`: how many migrations will run.
    async fn before(&mut self, db: &mut dyn Database, planned: usize) -> Result<()>;
}

/// Nothing before the run.
#[async_trait::async_trait]
impl BeforeRun for () {
    async fn before(&mut self, _: &mut dyn Database, _: usize) -> Result<()> {
        Ok(())
    }
}

/// What a run does.
#[derive(Debug, Clone, Copy)]
pub enum Work {
    Up(Option<i64>),
    Down(DownTarget),
    Redo,
}

impl Work {
    /// What a person asked for, with the defaults in one place: up runs everything pending (or up
    /// to `to`); down goes back to `to`, or rolls back `steps`, one when neither is given.
    pub fn asked(direction: Direction, to: Option<i64>, steps: Option<usize>) -> Result<Work> {
        Ok(match (direction, to, steps) {
            (Direction::Up, to, _) => Work::Up(to),
            (Direction::Down, Some(v), _) => Work::Down(DownTarget::To(v)),
            (Direction::Down, None, Some(0)) => {
                return Err(Error::input("rolling back 0 migrations does nothing: ask for 1 or more."));
            }
            (Direction::Down, None, n) => Work::Down(DownTarget::Steps(n.unwrap_or(1))),
        })
    }
}

/// Runs the work under the migration lock, creating the history tables first, and always unlocks.
/// The history is read and the plan made only under the lock (another runner's migration in flight
/// is never seen half-done). `before` runs there too, once the plan is known and before its first
/// migration, with how many will run: the backup a run asks for.
pub async fn execute(
    db: &mut dyn Database,
    source: &Source,
    work: Work,
    opts: &RunOptions,
    before: &mut dyn BeforeRun,
    on_event: &mut (dyn FnMut(&RunEvent) + Send),
) -> Result<(RunReport, Option<RunReport>)> {
    db.lock(opts.lock_timeout).await?;
    let result = locked_work(db, source, work, opts, before, on_event).await;
    let lost =
        result.as_ref().is_ok_and(|(r, _)| r.failure.as_ref().is_some_and(|f| f.problem == Problem::ConnectionLost));
    if lost {
        // A lost connection took its session's lock with it, or (a server gone silent) keeps it
        // until this process ends: an unlock sent there would wait for ever. The report says
        // what happened.
        let _ = tokio::time::timeout(Duration::from_secs(5), db.unlock()).await;
        return result;
    }
    let unlocked = db.unlock().await;
    let (mut report, redo) = result?;
    if let Err(e) = unlocked {
        // What ran stands and is reported; the lock going wrong after it is said with it.
        match &mut report.failure {
            Some(f) => f.message += &format!("\nThen: {}", e.message),
            None => report.failure = Some(e),
        }
    }
    Ok((report, redo))
}

async fn locked_work(
    db: &mut dyn Database,
    source: &Source,
    work: Work,
    opts: &RunOptions,
    before: &mut dyn BeforeRun,
    on_event: &mut (dyn FnMut(&RunEvent) + Send),
) -> Result<(RunReport, Option<RunReport>)> {
    db.ensure_tables().await?;
    crate::backup::ensure_restored(db).await?;
    let applied = db.applied().await?;
    let planned = match work {
        Work::Up(to) => plan::plan_up(source, &applied, to, opts.allow_out_of_order).map(|p| (Direction::Up, p)),
        Work::Down(target) => plan::plan_down(source, &applied, target).map(|p| (Direction::Down, p)),
        Work::Redo => plan::plan_down(source, &applied, DownTarget::Steps(1)).map(|p| (Direction::Down, p)),
    };
    let (direction, plan) = match planned {
        Ok(p) => p,
        // Left part way by its down: say so, and name the down file.
        Err(e) => {
            let dirty = match e.problem {
                Problem::Dirty { version } => applied.iter().find(|a| a.version == version),
                _ => None,
            };
            return Err(match dirty {
                Some(d) if crate::migration::status::failed_rolling_back(db, d.version).await => {
                    plan::dirty_error(source, d, Some(db.dialect()))
                }
                _ => e,
            });
        }
    };
    let records = recorded_repeatables(db, !source.repeatables.is_empty()).await?;
    let plan = match work {
        Work::Redo => plan,
        _ => with_repeatables(work, plan, source, &records),
    };
    let planned = steps(&plan, direction, Some(db.dialect()), &opts.placeholders)?;
    if let Some(seen) = &opts.expect {
        expect_plan(seen, &planned)?;
    }
    match work {
        Work::Up(_) | Work::Down(_) => Ok((run(db, direction, &plan, planned, opts, before, on_event).await?, None)),
        Work::Redo => {
            if plan.is_empty() {
                return Err(Error::input("nothing to redo: no migration is applied to this database."));
            }
            let mut down = run(db, Direction::Down, &plan, planned, opts, before, on_event).await?;
            for r in down.failure.iter_mut().flat_map(|e| e.remedies.iter_mut()) {
                if let crate::error::Remedy::FixAndRollBack { redo, .. } = r {
                    *redo = true;
                }
            }
            if down.failure.is_some() || down.cancelled {
                return Ok((down, None));
            }
            // The repeatable files are rebuilt once, after the migration is applied again.
            let plan: Vec<&MigrationFile> = plan.into_iter().chain(&source.repeatables).collect();
            let ups = steps(&plan, Direction::Up, Some(db.dialect()), &opts.placeholders)?;
            let mut up = run(db, Direction::Up, &plan, ups, opts, &mut (), on_event).await?;
            if let Some(e) = up.failure.as_mut() {
                // "Changed nothing" is the up's: the run as a whole did change something.
                e.message.push_str("\nThe redo's down ran first, and what it undid stays undone.");
            }
            Ok((down, Some(up)))
        }
    }
}

/// What the log says of the repeatable files (nothing asked when there are `any` none).
pub async fn recorded_repeatables(
    db: &mut dyn Database,
    any: bool,
) -> Result<std::collections::BTreeMap<String, repeatable::Record>> {
    if !any {
        return Ok(Default::default());
    }
    let restored = db.newest_event(EventKind::Restore).await?.map(|e| e.id);
    Ok(repeatable::records(&db.events_of(EventKind::Repeatable).await?, restored))
}

/// A plan with the repeatable files that go after it: on an `up` that reaches the newest migration,
/// those due (new, changed, or failed last); after a rollback that rolled something back, all of
/// them, rebuilt over what it left. An `up` that stops short of the newest leaves them: they are
/// written for the newest schema.
pub fn with_repeatables<'a>(
    work: Work,
    mut plan: Vec<&'a MigrationFile>,
    source: &'a Source,
    records: &std::collections::BTreeMap<String, repeatable::Record>,
) -> Vec<&'a MigrationFile> {
    match work {
        Work::Up(to) => {
            let newest = source.migrations.last().map(|m| m.version);
            if to.is_none() || to >= newest {
                plan.extend(repeatable::due_files(source, records));
            }
        }
        Work::Down(_) | Work::Redo if !plan.is_empty() => plan.extend(&source.repeatables),
        _ => {}
    }
    plan
}

/// Refuses a run whose steps are not the ones a person saw.
pub fn expect_plan(seen: &[Seen], planned: &[Step]) -> Result<()> {
    let changes = plan_changes(seen, planned);
    if changes.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        Problem::PlanChanged,
        format!(
            "the plan changed since it was previewed, so nothing was run:\n{}\nLook at the plan as it is now.",
            changes.iter().map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n")
        ),
    )
    .with_remedy(crate::error::Remedy::Preview))
}

/// What `up` would run, with its SQL, given the history; runs nothing.
#[allow(clippy::too_many_arguments)]
pub fn preview_up(
    source: &Source,
    applied: &[db::Applied],
    records: &std::collections::BTreeMap<String, repeatable::Record>,
    to: Option<i64>,
    allow_out_of_order: bool,
    dialect: Option<db::Dialect>,
    values: &Values,
) -> Result<RunReport> {
    let plan = plan::plan_up(source, applied, to, allow_out_of_order)?;
    let plan = with_repeatables(Work::Up(to), plan, source, records);
    let planned = steps(&plan, Direction::Up, dialect, values)?;
    Ok(preview(Direction::Up, planned))
}

/// What `down` would run on a database of `dialect`, with its SQL; runs nothing.
pub fn preview_down(
    source: &Source,
    applied: &[db::Applied],
    target: DownTarget,
    dialect: db::Dialect,
    values: &Values,
) -> Result<RunReport> {
    let plan =
        with_repeatables(Work::Down(target), plan::plan_down(source, applied, target)?, source, &Default::default());
    let planned = steps(&plan, Direction::Down, Some(dialect), values)?;
    Ok(preview(Direction::Down, planned))
}

fn preview(direction: Direction, planned: Vec<Step>) -> RunReport {
    RunReport {
        database: String::new(),
        backup: None,
        guard: Default::default(),
        waits: Default::default(),
        waits_said: None,
        warnings: Vec::new(),
        findings: Vec::new(),
        direction,
        dry_run: true,
        planned,
        done: vec![],
        cancelled: false,
        failure: None,
    }
}

/// Each step's script (as sent), split; a malformed one is an error naming its file and line. A
/// secret may not go through pt-online-schema-change: it would be on the tool's command line.
pub(crate) fn scripts(planned: &[Step], dialect: db::Dialect) -> Result<Vec<db::Script<'_>>> {
    let mut out = Vec::with_capacity(planned.len());
    for s in planned {
        let script = db::Script::new(&s.path, s.sent(), dialect)?;
        if let Some(h) = &s.hidden
            && let Some(st) = script.online.iter().map(|i| &script.statements[*i]).find(|st| h.holds(st.sql))
        {
            let mut e = Error::new(
                Problem::BadFile,
                format!(
                    "{} line {}: a secret placeholder cannot go through an online ALTER (it would be on the tool's \
                     command line); nothing was run.",
                    s.file, st.line
                ),
            );
            e.location = Some(crate::error::Location { file: s.file.clone(), line: st.line, column: 1 });
            return Err(e);
        }
        out.push(script);
    }
    Ok(out)
}

/// Runs `planned` (the steps of `plan`), with `before` (a backup) once every script is split: a
/// malformed one is refused before anything is backed up or run.
async fn run(
    db: &mut dyn Database,
    direction: Direction,
    plan: &[&MigrationFile],
    planned: Vec<Step>,
    opts: &RunOptions,
    before: &mut dyn BeforeRun,
    on_event: &mut (dyn FnMut(&RunEvent) + Send),
) -> Result<RunReport> {
    let scripts = scripts(&planned, db.dialect())?;
    // A limit the database cannot set, or a statement it cannot run as marked, is refused before
    // anything is backed up or run.
    if opts.waits.is_set() && !plan.is_empty() {
        db.limit(&opts.waits).await?;
    }
    for s in &scripts {
        db.ready(s).await?;
    }
    let (narrate, mut lines) = tokio::sync::mpsc::unbounded_channel();
    db.narrate(narrate);
    before.before(db, plan.len()).await?;
    let actor = db::actor();
    // Asked for before the first migration, so an abort needs no round trip to set it up.
    let interrupter = match plan.is_empty() {
        true => None,
        false => {
            db.interrupter().await.map_err(|e| tracing::warn!("a second Ctrl-C could not stop a statement: {e}")).ok()
        }
    };
    // A down with no statement changes nothing but the history: say so before it runs.
    let mut warnings = Vec::new();
    if direction == Direction::Down {
        for (m, s) in plan.iter().zip(&scripts).filter(|(m, s)| s.statements.is_empty() && !m.repeatable) {
            let file = crate::migration::source::file_name(s.file);
            warnings.push(crate::event::Warning {
                kind: crate::event::WarningKind::EmptyDown,
                message: format!("{file} has no statement: rolling back {} changes nothing but the history", m.version),
            });
        }
    }
    for w in &warnings {
        on_event(&RunEvent::Warning { warning: w.clone() });
    }
    let total = plan.len();
    // What a failure says of the run counts its migrations, not the repeatable files after them.
    let migrations = plan.iter().filter(|m| !m.repeatable).count();
    let (mut done, mut cancelled, mut failure) = (Vec::new(), false, None);
    // Repeatable files that failed (each is tried again on the next up); the others still run.
    let mut repeatables_failed: Vec<Error> = Vec::new();
    on_event(&RunEvent::Started { direction, total });
    for (index, m) in plan.iter().enumerate() {
        if opts.cancel.is_cancelled() {
            cancelled = true;
            break;
        }
        on_event(&RunEvent::MigrationStarted {
            direction,
            index,
            total,
            version: m.version,
            description: m.description.clone(),
            repeatable: m.repeatable,
        });
        let script = &scripts[index];
        let empty = script.statements.is_empty();
        let (mut tries, mut in_the_way) = (0, Vec::new());
        let result = loop {
            let work = async {
                match (direction, empty) {
                    _ if m.repeatable && empty => db
                        .log(&db::repeatable_event(m, Outcome::Ok, None), &actor)
                        .await
                        .map(|_| Duration::ZERO)
                        .map_err(|error| db::Failure { error, dirty: false }),
                    _ if m.repeatable => db.apply_repeatable(m, script, &actor).await,
                    // An empty or comment-only up file is recorded without being sent (MySQL refuses
                    // an empty query).
                    (Direction::Up, true) => db
                        .record_empty(m, &actor)
                        .await
                        .map(|_| Duration::ZERO)
                        .map_err(|error| db::Failure { error, dirty: false }),
                    (Direction::Up, false) => db.apply(m, script, &actor).await,
                    (Direction::Down, _) => db.revert(m, script, &actor).await,
                }
            };
            let work = stoppable(work, interrupter.as_deref(), &opts.cancel, opts.stall_timeout);
            let result = watched(work, interrupter.as_deref(), &mut in_the_way, &mut lines, &mut |seen| match seen {
                Watch::Blockers(blockers) => {
                    let said = crate::event::held_by(blockers);
                    on_event(&RunEvent::Waiting { direction, version: m.version, blockers: blockers.to_vec(), said })
                }
                Watch::Line(line) => {
                    on_event(&RunEvent::Output { direction, version: m.version, line: planned[index].scrub(line) })
                }
            })
            .await;
            // What the server says back may quote a secret placeholder's value: never passed on.
            let result = result.map_err(|mut f| {
                f.error.message = planned[index].scrub(std::mem::take(&mut f.error.message));
                f
            });
            match result {
                Err(mut f) if retry(&f, tries, &opts.waits, &opts.cancel) => {
                    tries += 1;
                    let after = crate::migration::waits::Waits::backoff(tries);
                    said_who(&mut f.error, &in_the_way, &opts.waits);
                    on_event(&RunEvent::Retrying {
                        direction,
                        version: m.version,
                        attempt: tries,
                        retries: opts.waits.retries,
                        waited_ms: opts.waits.lock_wait.map(|w| w.as_millis() as u64),
                        after_ms: after.as_millis() as u64,
                        message: f.error.message,
                    });
                    in_the_way.clear();
                    tokio::select! {
                        _ = tokio::time::sleep(after) => {}
                        _ = opts.cancel.cancelled() => break Err(stopped_between_tries(m)),
                    }
                }
                // A stop is said as a stop, not as the timeout that looks like it.
                Err(mut f) if !opts.cancel.is_aborted() => {
                    waited_in_vain(&mut f, &in_the_way, &opts.waits, tries);
                    break Err(f);
                }
                r => break r,
            }
        };
        match result {
            Ok(d) => {
                let recorded = match m.repeatable {
                    true => None,
                    false => recorded_ns(db, m.version).await,
                };
                let duration_ns = recorded.unwrap_or_else(|| crate::db::ns(d));
                on_event(&RunEvent::MigrationFinished {
                    direction,
                    version: m.version,
                    description: m.description.clone(),
                    duration_ns,
                    repeatable: m.repeatable,
                });
                let repeatable = m.repeatable;
                done.push(Done { version: m.version, description: m.description.clone(), duration_ns, repeatable });
            }
            // Whether it finished is not known, and no history row can say: the next `up` looks at
            // the log, and applies it again unless it finished.
            Err(db::Failure { error, .. }) if error.kind() == ErrorKind::Connect && m.repeatable => {
                let error = Error::new(
                    Problem::ConnectionLost,
                    format!(
                        "{}\nWhether {} finished is not known; the next up applies it again unless it did.",
                        error.message,
                        m.what()
                    ),
                );
                on_event(&RunEvent::MigrationFailed {
                    direction,
                    version: m.version,
                    message: error.message.clone(),
                    location: None,
                    dirty: false,
                });
                failure = Some(error);
                break;
            }
            Err(db::Failure { error, .. }) if error.kind() == ErrorKind::Connect => {
                // The connection went away mid-migration: what the database holds now, read over a
                // new connection, decides what is said.
                let state = after_lost_connection(db, m.version, direction, opts.lock_timeout).await;
                let version = m.version;
                if state == Lost::Finished {
                    on_event(&RunEvent::MigrationFinished {
                        direction,
                        version,
                        description: m.description.clone(),
                        duration_ns: 0,
                        repeatable: false,
                    });
                    done.push(Done { version, description: m.description.clone(), duration_ns: 0, repeatable: false });
                }
                let error = lost_connection(error, version, direction, state, done.len(), migrations);
                if state != Lost::Finished {
                    on_event(&RunEvent::MigrationFailed {
                        direction,
                        version,
                        message: error.message.clone(),
                        location: None,
                        dirty: state == Lost::PartWay,
                    });
                }
                failure = Some(error);
                break;
            }
            // Another run is applying it: nothing of this run's to record or take back.
            Err(db::Failure { mut error, .. }) if matches!(error.problem, Problem::Raced { .. }) => {
                let verb = if direction == Direction::Up { "applied" } else { "rolled back" };
                error.message +=
                    &format!("\n{} of {migrations} migration(s) {verb} by this run before it.", done.len());
                on_event(&RunEvent::MigrationFailed {
                    direction,
                    version: m.version,
                    message: error.message.clone(),
                    location: None,
                    dirty: false,
                });
                failure = Some(error);
                break;
            }
            // A repeatable file's failure stops none of the others: each is logged, and tried again
            // on the next up. One rebuilt after a rollback may need what the rollback removed: the
            // rollback stands, and that is said, not counted as the run's failure.
            Err(db::Failure { error, dirty }) if m.repeatable && !opts.cancel.is_aborted() => {
                let why = part_way_because(script);
                let outcome = if dirty { Outcome::Partial } else { Outcome::Failed };
                let logged = db.log(&db::repeatable_event(m, outcome, Some(error.message.clone())), &actor).await;
                let mut error = explain_repeatable(error, m, dirty.then_some(why), &done);
                if let Err(e) = logged {
                    error.message += &format!("\nThe failure could not be recorded in the history ({}).", e.message);
                }
                on_event(&RunEvent::MigrationFailed {
                    direction,
                    version: m.version,
                    message: error.message.clone(),
                    location: error.location.clone(),
                    dirty,
                });
                match direction {
                    Direction::Up => repeatables_failed.push(error),
                    Direction::Down => {
                        let first = error.message.lines().next().unwrap_or_default().to_string();
                        let warning = crate::event::Warning {
                            kind: crate::event::WarningKind::NotRebuilt,
                            message: format!(
                                "{first}: it was not rebuilt over the rolled-back schema (it may need what the rollback \
                                 removed); the next up applies it again"
                            ),
                        };
                        on_event(&RunEvent::Warning { warning: warning.clone() });
                        warnings.push(warning);
                    }
                }
            }
            Err(db::Failure { error, dirty }) => {
                let why = part_way_because(script);
                // The history keeps the migration's own error, not the run's account around it.
                let own = error.message.clone();
                let mut error = match m.repeatable {
                    true => explain_repeatable(error, m, dirty.then_some(why), &done),
                    false => {
                        explain_failure(error, m, direction, db.dialect(), dirty.then_some(why), done.len(), migrations)
                    }
                };
                if opts.cancel.is_aborted() {
                    error.problem = Problem::Cancelled;
                    // Its file is not what went wrong.
                    error.remedies.retain(|r| !r.fixes_a_file());
                    let on = if db.dialect() == crate::db::Dialect::Sqlite { "" } else { " on the server" };
                    error.message = format!("stopped{on} at your request: {}", error.message);
                    cancelled = true;
                } else if error.problem == Problem::Cancelled && opts.cancel.is_cancelled() {
                    // Stopped while it paused before trying again: that try never started.
                    cancelled = true;
                }
                on_event(&RunEvent::MigrationFailed {
                    direction,
                    version: m.version,
                    message: error.message.clone(),
                    location: error.location.clone(),
                    dirty,
                });
                let outcome = if dirty { Outcome::Partial } else { Outcome::Failed };
                let event = match m.repeatable {
                    true => db::repeatable_event(m, outcome, Some(own)),
                    false => NewEvent {
                        kind: match direction {
                            Direction::Up => EventKind::Apply,
                            Direction::Down => EventKind::Rollback,
                        },
                        version: Some(m.version),
                        description: m.description.clone(),
                        duration: None,
                        outcome,
                        error: Some(own),
                        detail: None,
                    },
                };
                if let Err(e) = db.log(&event, &actor).await {
                    let why = match e.kind() {
                        ErrorKind::Lock => "whoever holds the lock keeps it from being written too".to_string(),
                        _ => e.message,
                    };
                    error.message += &format!("\nThe failure could not be recorded in the history ({why}).");
                }
                failure = Some(error);
                break;
            }
        }
    }
    if failure.is_none() && !repeatables_failed.is_empty() {
        let others: Vec<String> = repeatables_failed[1..]
            .iter()
            .filter_map(|e| match &e.problem {
                Problem::RepeatableFailed { file } => Some(file.clone()),
                _ => None,
            })
            .collect();
        let mut first = repeatables_failed.remove(0);
        if !others.is_empty() {
            first.message +=
                &format!("\n{} failed too (see above); each runs again on the next up.", others.join(", "));
        }
        failure = Some(first);
    }
    on_event(&RunEvent::Finished { direction, done: done.len(), total, cancelled });
    Ok(RunReport {
        database: String::new(),
        backup: None,
        guard: Default::default(),
        waits: opts.waits,
        waits_said: opts.waits.describe(),
        warnings,
        findings: Vec::new(),
        direction,
        dry_run: false,
        planned,
        done,
        cancelled,
        failure,
    })
}

/// Whether a failed migration is tried again: it only could not get a lock, changed nothing, and
/// retries are left (and nobody asked the run to stop).
fn retry(f: &db::Failure, tries: u32, waits: &crate::migration::waits::Waits, cancel: &Cancel) -> bool {
    matches!(f.error.problem, Problem::LockWait { .. }) && !f.dirty && tries < waits.retries && !cancel.is_cancelled()
}

/// A run stopped while it paused before trying a migration again: that try never started.
fn stopped_between_tries(m: &MigrationFile) -> db::Failure {
    db::Failure {
        error: Error::new(
            Problem::Cancelled,
            format!(
                "stopped at your request before trying migration {} ({}) again: it could not get a lock and \
                 changed nothing",
                m.version, m.description
            ),
        ),
        dirty: false,
    }
}

/// Adds to a lock wait's message how long it waited and who was in the way (as last seen while it
/// waited).
fn said_who(e: &mut Error, in_the_way: &[crate::event::Blocker], waits: &crate::migration::waits::Waits) {
    let waited = waits.lock_wait.map(|w| format!(" {}", crate::migration::waits::short(w))).unwrap_or_default();
    let who = crate::event::held_by(in_the_way);
    if !who.is_empty() {
        e.message = format!("{}\nIt waited{waited} for a lock {who}.", e.message);
    } else if !waited.is_empty() && !e.message.contains(" held") {
        e.message = format!("{}\nIt waited{waited} for a lock another session held.", e.message);
    }
}

/// Words a lock wait or a statement timeout that ends the run: who was in the way, how often it
/// was tried, and how to go on. Its timeout is what stopped it only where one was set.
fn waited_in_vain(
    f: &mut db::Failure,
    in_the_way: &[crate::event::Blocker],
    waits: &crate::migration::waits::Waits,
    tries: u32,
) {
    use crate::migration::waits::short;
    match f.error.problem {
        Problem::LockWait { .. } => {
            said_who(&mut f.error, in_the_way, waits);
            if tries > 0 {
                f.error.message = format!("{}\nIt was tried {} times, pausing between.", f.error.message, tries + 1);
            }
            // Part way, it is a migration to finish by hand first, not one to try again.
            if let (Some(w), false) = (waits.lock_wait, f.dirty) {
                f.error.remedies.push(crate::error::Remedy::WaitLongerForLocks { waited_ms: w.as_millis() as u64 });
            }
        }
        Problem::StatementTimeout { version } => match waits.statement_timeout {
            Some(t) => {
                f.error.message =
                    format!("{}\nIt ran longer than the statement timeout ({}).", f.error.message, short(t));
                // Part way, it is a migration to finish by hand first, not one to run again.
                if !f.dirty {
                    f.error.remedies.push(crate::error::Remedy::LongerStatementTimeout { ms: t.as_millis() as u64 });
                }
            }
            // Stopped by someone else (or by this run, which says so itself).
            None => f.error.problem = Problem::MigrationFailed { version },
        },
        _ => {}
    }
}

/// What `watched` sees while a migration runs.
enum Watch<'a> {
    /// Who is in its way, when that changed.
    Blockers(&'a [crate::event::Blocker]),
    /// A line from a tool that runs one of its statements.
    Line(String),
}

/// Runs `work`, asking (soon after it starts, then every second) who is in its way, and passing on
/// the lines a tool running its statements prints; `seen` keeps the last sessions seen in the way.
async fn watched<T>(
    work: impl std::future::Future<Output = T>,
    interrupter: Option<&dyn db::Interrupt>,
    seen: &mut Vec<crate::event::Blocker>,
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    tell: &mut (dyn FnMut(Watch<'_>) + Send),
) -> T {
    tokio::pin!(work);
    // Soon enough to see who is in the way of a short lock wait; most migrations are done by then.
    let mut every = Duration::from_millis(300);
    loop {
        tokio::select! {
            biased;
            r = &mut work => {
                while let Ok(line) = lines.try_recv() {
                    tell(Watch::Line(line));
                }
                return r;
            }
            Some(line) = lines.recv() => tell(Watch::Line(line)),
            _ = tokio::time::sleep(every), if interrupter.is_some() => {
                every = Duration::from_secs(1);
                let Some(i) = interrupter else { continue };
                let now = match tokio::time::timeout(Duration::from_secs(2), i.blockers()).await {
                    Ok(Ok(b)) => b,
                    Ok(Err(e)) => {
                        tracing::debug!("could not ask who is in the migration's way: {e}");
                        continue;
                    }
                    Err(_) => continue,
                };
                // Told when who is in the way changes, not each time their transaction ages.
                let who = |b: &[crate::event::Blocker]| b.iter().map(|b| b.session.clone()).collect::<Vec<_>>();
                if !now.is_empty() && who(&now) != who(seen) {
                    tell(Watch::Blockers(&now));
                }
                if !now.is_empty() {
                    *seen = now;
                }
            }
        }
    }
}

/// The time the database recorded for the migration just run. The run, status and history all show
/// this one: a driver's own clock also counts the commit and the round trip, which the history does
/// not (PostgreSQL and MySQL measure on the server, inside the transaction).
async fn recorded_ns(db: &mut dyn Database, version: i64) -> Option<i64> {
    let events = db.events(Some(version), 1).await.ok()?;
    events.into_iter().next().filter(|e| e.outcome == crate::db::Outcome::Ok)?.duration_ns.filter(|n| *n >= 0)
}

/// Returns (the error to report) only once the server has not confirmed for `stall` that the
/// session still runs its statement: it said no, or could not be asked.
async fn stalled(interrupter: Option<&dyn db::Interrupt>, stall: Duration) -> Error {
    let Some(i) = interrupter else { return std::future::pending().await };
    let every = (stall / 4).max(Duration::from_millis(250));
    let mut confirmed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(every).await;
        if let Ok(Ok(true)) = tokio::time::timeout(every.max(Duration::from_secs(5)), i.running()).await {
            confirmed = tokio::time::Instant::now();
        } else if confirmed.elapsed() >= stall {
            return Error::new(
                Problem::ConnectionLost,
                format!(
                    "the server has not confirmed for {} s that it is still running the migration, and its answer \
                     has not come (the network or the server stopped answering); the run stopped waiting",
                    stall.as_secs()
                ),
            );
        }
    }
}

/// What a migration did when the connection was lost during it, as the database tells afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lost {
    Finished,
    Unchanged,
    PartWay,
    /// The lost session is still running it on the server (it holds the migration lock).
    StillRunning,
    /// The database cannot be reached again to ask.
    Unknown,
}

/// Connects again (within 10 s), waits for the migration lock, and reads the migration's history row.
async fn after_lost_connection(db: &mut dyn Database, version: i64, direction: Direction, wait: Duration) -> Lost {
    let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(10), db.reconnect()).await else { return Lost::Unknown };
    // The lost session may still be running the migration on the server (MariaDB finishes the batch
    // it was sent), holding the lock: its history row is final only once it lets go. SQLite's lock
    // is this process's own.
    if db.dialect() != crate::db::Dialect::Sqlite {
        match db.lock(wait).await {
            Ok(()) => {}
            Err(e) if matches!(e.problem, Problem::LockHeld { .. }) => return Lost::StillRunning,
            Err(_) => return Lost::Unknown,
        }
    }
    let Ok(Ok(applied)) = tokio::time::timeout(Duration::from_secs(10), db.applied()).await else {
        return Lost::Unknown;
    };
    match (direction, applied.iter().find(|a| a.version == version)) {
        (Direction::Up, Some(a)) if a.success => Lost::Finished,
        (Direction::Up, None) => Lost::Unchanged,
        (Direction::Down, None) => Lost::Finished,
        (Direction::Down, Some(a)) if a.success => Lost::Unchanged,
        (_, Some(_)) => Lost::PartWay,
    }
}

/// The account of a run whose connection was lost: cannot connect (exit 3), and what is true now.
fn lost_connection(mut error: Error, v: i64, direction: Direction, state: Lost, done: usize, total: usize) -> Error {
    let verb = match direction {
        Direction::Up => "applied",
        Direction::Down => "rolled back",
    };
    let now = match state {
        Lost::Finished => format!("Connected again: migration {v} is {verb} (the server finished it)."),
        Lost::Unchanged => {
            format!("Connected again: migration {v} changed nothing; the database is as it was before it.")
        }
        Lost::PartWay => format!(
            "Connected again: migration {v} was left part way (it is marked failed). Fix the database by hand, \
             then mark it resolved."
        ),
        Lost::StillRunning => format!(
            "Connected again: the server is still running migration {v} in the lost session (it holds the \
             migration lock); how it ends shows in its status once it lets go."
        ),
        Lost::Unknown => format!(
            "The database cannot be reached now, so whether migration {v} was {verb} is not known: its status \
             tells once it is back."
        ),
    };
    if state == Lost::PartWay {
        error = error.with_remedy(crate::error::Remedy::resolve(v));
    }
    error.problem = Problem::ConnectionLost;
    error.message = format!("{}\n{now}\n{done} of {total} migration(s) {verb}; the rest did not run.", error.message);
    error
}

/// Waits for a migration's work. Once an abort is asked for, stops its statement on the server
/// (again each second, in case a request came before the statement reached the server) and still
/// waits for the answer, so what the run reports is what the database did.
///
/// A server that stops answering mid-statement (the connection still up, nothing coming back)
/// would keep the run waiting for ever: while the work runs, the server is asked over another
/// connection whether it still runs it, and with no yes for `stall`, the run stops waiting as if
/// the connection were lost (the caller then says what the database holds, if it can be reached).
pub(crate) async fn stoppable<T>(
    work: impl Future<Output = std::result::Result<T, db::Failure>>,
    interrupter: Option<&dyn db::Interrupt>,
    cancel: &Cancel,
    stall: Duration,
) -> std::result::Result<T, db::Failure> {
    tokio::pin!(work);
    tokio::select! {
        biased;
        r = &mut work => return r,
        _ = cancel.aborted() => {}
        error = stalled(interrupter, stall) => return Err(db::Failure { error, dirty: false }),
    }
    loop {
        if let Some(i) = interrupter
            && let Err(e) = i.interrupt().await
        {
            tracing::warn!("could not stop the running migration on the server ({e}); waiting for it to finish");
        }
        if let Ok(r) = tokio::time::timeout(Duration::from_secs(1), &mut work).await {
            return r;
        }
    }
}

/// Why a script that failed may have left some of its statements done.
fn part_way_because(script: &db::Script<'_>) -> &'static str {
    match script.no_transaction {
        true => "it runs outside a transaction (-- no-transaction)",
        false => "DDL commits itself on MySQL/MariaDB",
    }
}

/// A repeatable file's failure in words: what it left, and that the next `up` runs it again. The
/// migrations of the run before it stay done.
fn explain_repeatable(mut error: Error, r: &MigrationFile, dirty: Option<&str>, done: &[Done]) -> Error {
    let state = match dirty {
        Some(why) => format!(
            "It was left part way ({why}): the statements before the failing one stay. The next up runs it \
             whole again, over what they left."
        ),
        None => "It changed nothing: what it makes is as it was before it. The next up runs it again.".to_string(),
    };
    let migrations = done.iter().filter(|d| !d.repeatable).count();
    let before = match (migrations, done.len() - migrations) {
        (0, 0) => String::new(),
        (m, 0) => format!("\nThe {m} migration(s) before it in this run stay done."),
        (0, r) => format!("\nThe {r} repeatable file(s) before it in this run stay done."),
        (m, r) => format!("\nThe {m} migration(s) and {r} repeatable file(s) before it in this run stay done."),
    };
    error.message = format!("{}\n{state}{before}", error.message);
    if error.problem == (Problem::MigrationFailed { version: r.version }) {
        error.problem = Problem::RepeatableFailed { file: r.file_name() };
    }
    if matches!(error.problem, Problem::RepeatableFailed { .. }) {
        // What stays is said above; the remedy counts the migrations.
        error = error.with_remedy(crate::error::Remedy::FixAndApply { file: r.file_name(), kept: 0 });
    }
    error
}

fn explain_failure(
    mut error: Error,
    m: &MigrationFile,
    direction: Direction,
    dialect: crate::db::Dialect,
    // Why the database was left part way, when it was.
    dirty: Option<&str>,
    done: usize,
    total: usize,
) -> Error {
    let verb = match direction {
        Direction::Up => "applied",
        Direction::Down => "rolled back",
    };
    let state = if let Some(why) = dirty {
        error = error.with_remedy(match direction {
            Direction::Up => crate::error::Remedy::resolve(m.version),
            Direction::Down => crate::error::Remedy::resolve_rollback(m.version),
        });
        format!(
            "\nThe database was left part way through migration {v} ({why}, so its finished statements \
             stay). It is marked failed and later runs will stop until you fix it by hand and mark it resolved.",
            v = m.version
        )
    } else {
        // The database refused its SQL (not a lost connection or a cancel): the file is what to fix.
        if error.kind() == ErrorKind::Failed
            && !matches!(error.problem, Problem::Io { .. } | Problem::StatementTimeout { .. })
        {
            error = error.with_remedy(match direction {
                Direction::Up => crate::error::Remedy::FixAndApply { file: m.file_name(), kept: done },
                // The down this database ran: its own, where the project keeps one.
                Direction::Down => {
                    let file = m.down_name_for(Some(dialect));
                    crate::error::Remedy::FixAndRollBack { file, kept: done, left: total - done, redo: false }
                }
            });
        }
        format!("\nMigration {} changed nothing: the database is as it was before it.", m.version)
    };
    error.message = format!("{}{state}\n{done} of {total} migration(s) {verb} before the failure.", error.message);
    // A full disk stays what it is: nothing in the migration needs fixing.
    // A lock wait or a timeout that left it part way is a migration to finish by hand.
    let kept = match error.problem {
        Problem::Io { .. } => true,
        Problem::LockWait { .. } | Problem::StatementTimeout { .. } => dirty.is_none(),
        _ => matches!(error.kind(), ErrorKind::Input | ErrorKind::Lock | ErrorKind::Cancelled),
    };
    if !kept {
        error.problem = Problem::MigrationFailed { version: m.version };
    }
    error
}
