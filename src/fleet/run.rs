//! A fleet run: one operation on each member, a few at a time and never more than a server's
//! budget on one server, each database under its own migration lock. A member that fails or cannot
//! be reached is reported and the others go on, unless a policy says stop; cancelling stops
//! starting members, and the running ones stop after their current migration.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::Member;
use crate::db::ConnectOptions;
use crate::error::{Error, ErrorKind, Problem};
use crate::event::RunEvent;
use crate::migration::guard::Confirmation;
use crate::migration::runner::{Cancel, Work};
use crate::ops::{self, RunRequest, Session};
use crate::project::MAX_AT_ONCE;

/// What a fleet run does on each member.
#[derive(Debug, Clone, Copy)]
pub enum Operation {
    /// Reads where each stands.
    Status,
    /// Reads where each stands, and fails a member with anything `check` finds.
    Check,
    /// Applies or rolls back, as `up`, `down` and `redo` do on one database. `acknowledge_lint`:
    /// the person read the lint errors that a protected member's guard asks about.
    Run { work: Work, allow_out_of_order: bool, acknowledge_lint: bool },
    /// Restores each member's newest backup into a scratch database and compares it.
    VerifyBackups,
}

impl Operation {
    /// Whether it changes the databases (a protected fleet's name is then asked for).
    pub fn changes(&self) -> bool {
        matches!(self, Operation::Run { .. })
    }
}

/// Databases worked on at once unless asked otherwise.
pub const JOBS: usize = 4;

/// How many at a time, and when to stop early.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Members worked on at once.
    pub jobs: usize,
    /// Members worked on at once on one server (`None`: the fleet's `per_server`, else
    /// `PER_SERVER`).
    pub per_server: Option<usize>,
    /// Stop starting members once this many failed or could not be reached.
    pub max_failures: Option<usize>,
    /// Work on this many first, and go on only if every one of them passed.
    pub canary: usize,
}

/// Where a member stands.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MemberState {
    Waiting,
    Running,
    /// Every migration in the folder is applied.
    AtHead,
    /// Some are pending.
    Behind,
    /// The operation failed on it, or it needs a person (a migration failed part way).
    Failed,
    /// It could not be connected to (or its password could not be sent).
    Unreachable,
    /// A policy or a cancel stopped the run before it was started.
    Skipped,
}

impl MemberState {
    /// Counts against `max_failures` and fails a canary.
    pub fn is_failure(self) -> bool {
        matches!(self, MemberState::Failed | MemberState::Unreachable)
    }
}

/// One member's row: the table's line, and its detail.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct MemberRow {
    pub name: String,
    /// The database, as shown (never with a password).
    pub database: String,
    pub server: String,
    pub state: MemberState,
    /// The newest applied migration, once read.
    pub version: Option<i64>,
    pub pending: usize,
    /// Migrations this run applied or rolled back.
    pub done: usize,
    /// The migration running now.
    pub running: Option<i64>,
    /// How long its work took, once finished.
    #[ts(type = "number | null")]
    pub ms: Option<u64>,
    /// The backup taken before its run.
    pub backup: Option<String>,
    /// What it did, in words, when it did something (migrations run, a backup verified).
    pub detail: Option<String>,
    pub error: Option<MemberError>,
}

/// Why a member failed or was not reached.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct MemberError {
    pub kind: ErrorKind,
    pub problem: Problem,
    pub message: String,
    /// The file, line and column it failed at, as one environment's error gives them.
    pub location: Option<crate::error::Location>,
    /// The ways out, as one environment's error offers them (lint errors to acknowledge, a
    /// migration to resolve).
    pub remedies: Vec<crate::error::Remedy>,
}

impl From<&Error> for MemberError {
    fn from(e: &Error) -> Self {
        MemberError {
            kind: e.kind(),
            problem: e.problem.clone(),
            message: e.message.clone(),
            location: e.location.clone(),
            remedies: e.remedies.clone(),
        }
    }
}

/// Why a run stopped starting members.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Stopped {
    /// A canary failed.
    Canary,
    /// `max_failures` were reached.
    MaxFailures,
    /// A person stopped it.
    Cancelled,
}

#[derive(ts_rs::TS, Debug, Clone, Default, Serialize)]
#[ts(export)]
pub struct FleetSummary {
    pub total: usize,
    pub at_head: usize,
    pub behind: usize,
    pub failed: usize,
    pub unreachable: usize,
    pub skipped: usize,
}

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct FleetReport {
    pub fleet: String,
    pub members: Vec<MemberRow>,
    pub summary: FleetSummary,
    pub stopped: Option<Stopped>,
    #[ts(type = "number")]
    pub ms: u64,
}

impl FleetReport {
    /// The error a run's outcome amounts to: any failed member fails it; otherwise any unreachable
    /// one is a connection failure; otherwise a cancel is a cancel.
    pub fn outcome(&self) -> crate::Result<()> {
        let s = &self.summary;
        let of = |n: usize, what: &str| format!("{n} of {} databases of fleet `{}` {what}", s.total, self.fleet);
        if s.failed > 0 {
            return Err(Error::new(Problem::Failed, of(s.failed, "failed")));
        }
        if s.unreachable > 0 {
            return Err(Error::new(Problem::CannotConnect, of(s.unreachable, "could not be reached")));
        }
        if self.stopped == Some(Stopped::Cancelled) {
            return Err(Error::new(Problem::Cancelled, of(s.skipped, "were not started: the run was stopped")));
        }
        Ok(())
    }
}

/// What every member's session shares.
#[derive(Clone)]
pub struct Settings {
    pub project_id: Option<String>,
    pub keep: usize,
    pub connect: ConnectOptions,
    pub lock_timeout: Duration,
    pub lint: crate::lint::LintConfig,
    /// A run's own lock waits and statement timeout, over each member's.
    pub waits: crate::migration::waits::Asked,
}

impl Settings {
    /// A project's settings: its backups, its `[lint]`; how long to wait is the caller's.
    pub fn of(p: &crate::project::Project, connect: ConnectOptions, lock_timeout: Duration) -> crate::Result<Settings> {
        Ok(Settings {
            project_id: Some(p.id()),
            keep: p.backups_keep(),
            connect: ConnectOptions { tables: p.tables(), ..connect },
            lock_timeout,
            lint: ops::lint_config(Some(p))?,
            waits: Default::default(),
        })
    }

    fn session(&self, ws: crate::project::Workspace) -> Session {
        let waits = ws.waits.clone().over(&self.waits).resolve(ws.protected);
        Session {
            waits,
            ws,
            project_id: self.project_id.clone(),
            keep: self.keep,
            connect: self.connect.clone(),
            lock_timeout: self.lock_timeout,
            schema_file: None,
            desired_schema: None,
            lint: self.lint.clone(),
        }
    }
}

/// Told of every change to a member's row, by its index.
pub type OnRow = Arc<dyn Fn(usize, &MemberRow) + Send + Sync>;

/// Works on every member as the policy allows and says where each one stands. Never fails as a
/// whole: each member's failure is in its row.
pub async fn run(
    fleet: &str,
    members: Vec<Member>,
    op: Operation,
    policy: &Policy,
    settings: &Settings,
    cancel: &Cancel,
    on: OnRow,
) -> FleetReport {
    let start = Instant::now();
    let rows: Vec<MemberRow> = members
        .iter()
        .map(|m| MemberRow {
            name: m.name.clone(),
            database: m.ws.target.display(),
            server: m.server.clone(),
            state: MemberState::Waiting,
            version: None,
            pending: 0,
            done: 0,
            running: None,
            ms: None,
            backup: None,
            detail: None,
            error: None,
        })
        .collect();
    for (i, r) in rows.iter().enumerate() {
        on(i, r);
    }
    let order = start_order(&members);
    let mut board = Board { rows, failures: 0, stopped: None, on, policy: policy.clone() };
    let mut members: Vec<Option<Member>> = members.into_iter().map(Some).collect();
    let canaries = policy.canary.min(order.len());
    let (first, rest) = order.split_at(canaries);
    board.phase(first, &mut members, op, settings, cancel).await;
    if board.stopped.is_none() && first.iter().any(|i| board.rows[*i].state.is_failure()) {
        board.stopped = Some(Stopped::Canary);
    }
    board.phase(rest, &mut members, op, settings, cancel).await;
    if board.stopped.is_none() && cancel.is_cancelled() {
        board.stopped = Some(Stopped::Cancelled);
    }
    let mut summary = FleetSummary { total: board.rows.len(), ..FleetSummary::default() };
    for r in &board.rows {
        match r.state {
            MemberState::AtHead => summary.at_head += 1,
            MemberState::Behind => summary.behind += 1,
            MemberState::Failed => summary.failed += 1,
            MemberState::Unreachable => summary.unreachable += 1,
            MemberState::Skipped | MemberState::Waiting | MemberState::Running => summary.skipped += 1,
        }
    }
    FleetReport {
        fleet: fleet.to_string(),
        members: board.rows,
        summary,
        stopped: board.stopped,
        ms: start.elapsed().as_millis() as u64,
    }
}

/// The order members are started in: the servers taken in turn, so that a server's budget being
/// full does not hold up the members of the others.
fn start_order(members: &[Member]) -> Vec<usize> {
    let mut by_server: Vec<(&str, VecDeque<usize>)> = Vec::new();
    for (i, m) in members.iter().enumerate() {
        match by_server.iter_mut().find(|(s, _)| *s == m.server) {
            Some((_, q)) => q.push_back(i),
            None => by_server.push((&m.server, VecDeque::from([i]))),
        }
    }
    let mut out = Vec::with_capacity(members.len());
    while out.len() < members.len() {
        for (_, q) in by_server.iter_mut() {
            if let Some(i) = q.pop_front() {
                out.push(i);
            }
        }
    }
    out
}

type Permits = (tokio::sync::OwnedSemaphorePermit, tokio::sync::OwnedSemaphorePermit);

struct Board {
    rows: Vec<MemberRow>,
    failures: usize,
    stopped: Option<Stopped>,
    on: OnRow,
    policy: Policy,
}

impl Board {
    /// Starts `order`'s members as the budgets allow, until a policy or a cancel stops it; waits
    /// for every started one.
    async fn phase(
        &mut self,
        order: &[usize],
        members: &mut [Option<Member>],
        op: Operation,
        settings: &Settings,
        cancel: &Cancel,
    ) {
        let jobs = Arc::new(Semaphore::new(self.policy.jobs.clamp(1, MAX_AT_ONCE)));
        let mut servers: HashMap<String, Arc<Semaphore>> = HashMap::new();
        // A member's permits come back with its row: its slot is free only once its outcome is
        // counted, so a policy stops the next start in time.
        let mut running: JoinSet<(usize, MemberRow, Permits)> = JoinSet::new();
        let mut tasks: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut queue: VecDeque<usize> = order.iter().copied().collect();
        while let Some(i) = queue.front().copied() {
            let server = servers
                .entry(self.rows[i].server.clone())
                .or_insert_with(|| {
                    let budget = self.policy.per_server.unwrap_or(super::PER_SERVER);
                    Arc::new(Semaphore::new(budget.clamp(1, MAX_AT_ONCE)))
                })
                .clone();
            let permits = loop {
                if cancel.is_cancelled() && self.stopped.is_none() {
                    self.stopped = Some(Stopped::Cancelled);
                }
                if self.stopped.is_some() {
                    break None;
                }
                let room = async {
                    let s = server.clone().acquire_owned().await.expect("never closed");
                    let j = jobs.clone().acquire_owned().await.expect("never closed");
                    (s, j)
                };
                tokio::select! {
                    biased;
                    Some(done) = running.join_next(), if !running.is_empty() => self.finished(done, &tasks),
                    p = room => break Some(p),
                    _ = cancel.cancelled() => {}
                }
            };
            let Some(permits) = permits else { break };
            queue.pop_front();
            let member = members[i].take().expect("each member starts once");
            let (row, on, settings, cancel) = (self.rows[i].clone(), self.on.clone(), settings.clone(), cancel.clone());
            let task = running.spawn(async move {
                let row = one(member, row, op, &settings, &cancel, &|r| on(i, r)).await;
                (i, row, permits)
            });
            tasks.insert(task.id(), i);
        }
        for i in queue {
            self.rows[i].state = MemberState::Skipped;
            (self.on)(i, &self.rows[i]);
        }
        while let Some(done) = running.join_next().await {
            self.finished(done, &tasks);
        }
    }

    fn finished(
        &mut self,
        done: std::result::Result<(usize, MemberRow, Permits), tokio::task::JoinError>,
        tasks: &HashMap<tokio::task::Id, usize>,
    ) {
        let (i, row) = match done {
            Ok((i, row, _permits)) => (i, row),
            // A bug (the panic hook reported it): the member's outcome is not known.
            Err(e) => {
                let Some(&i) = tasks.get(&e.id()) else { return };
                let mut row = self.rows[i].clone();
                row.state = MemberState::Failed;
                let e = Error::failed("Godwit stopped working on this database (an internal error, reported above)");
                row.error = Some((&e).into());
                (i, row)
            }
        };
        if row.state.is_failure() {
            self.failures += 1;
            if self.policy.max_failures.is_some_and(|k| self.failures >= k) && self.stopped.is_none() {
                self.stopped = Some(Stopped::MaxFailures);
            }
        }
        self.rows[i] = row;
        (self.on)(i, &self.rows[i]);
    }
}

/// One member's work, and where it stands after it (read again from its database).
async fn one(
    m: Member,
    mut row: MemberRow,
    op: Operation,
    settings: &Settings,
    cancel: &Cancel,
    on: &(dyn Fn(&MemberRow) + Send + Sync),
) -> MemberRow {
    let start = Instant::now();
    row.state = MemberState::Running;
    on(&row);
    let s = settings.session(m.ws);
    let (failure, at_head) = match m.problem {
        Some(e) => (Some(e), false),
        None => work(&s, op, cancel, &mut row, on).await,
    };
    // Not reached: it could not be connected to. A connection lost mid-run reached it (and may have
    // changed it), so it is read again like any failure.
    let reached =
        failure.as_ref().is_none_or(|e| e.kind() != ErrorKind::Connect || e.problem == Problem::ConnectionLost);
    row.running = None;
    if at_head {
        // Every file applied, as the run just said: the folder's newest version is the database's.
        row.state = MemberState::AtHead;
        row.version = s.ws.source().ok().and_then(|src| src.migrations.last().map(|m| m.version));
        row.ms = Some(start.elapsed().as_millis() as u64);
        return row;
    }
    // Where it stands now, whatever happened (a failed run may have applied some first).
    let read = if reached { Some(ops::status(&s, || Ok(Vec::new())).await) } else { None };
    let found: Vec<&crate::migration::check::Finding> = match &read {
        Some(Ok(st)) => st.findings.iter().filter(|f| !f.hint).collect(),
        _ => Vec::new(),
    };
    row.state = match (&failure, &read) {
        // Stopped by a person: where it stands is what it is (the error still says why).
        (Some(e), Some(Ok(st))) if e.kind() == ErrorKind::Cancelled && st.summary.failed == 0 => {
            if st.summary.pending > 0 { MemberState::Behind } else { MemberState::AtHead }
        }
        (Some(e), _) if e.kind() == ErrorKind::Cancelled => MemberState::Skipped,
        (Some(e), _) => unreached_or_failed(e),
        (None, Some(Err(e))) => unreached_or_failed(e),
        (None, Some(Ok(_))) if op_fails_on_findings(op) && !found.is_empty() => MemberState::Failed,
        (None, Some(Ok(st))) if st.summary.failed > 0 => MemberState::Failed,
        (None, Some(Ok(st))) if st.summary.pending > 0 => MemberState::Behind,
        _ => MemberState::AtHead,
    };
    if let Some(Ok(st)) = &read {
        row.version = st.summary.current;
        row.pending = st.summary.pending;
    }
    row.error = match (&failure, &read) {
        (Some(e), _) | (None, Some(Err(e))) => Some(e.into()),
        (None, Some(Ok(st))) if row.state == MemberState::Failed => {
            let message = match found.as_slice() {
                [] => format!("{} migration(s) failed part way and need a person", st.summary.failed),
                [one] => one.message.clone(),
                [first, ..] => format!("{} (and {} more)", first.message, found.len() - 1),
            };
            Some(MemberError {
                kind: ErrorKind::Failed,
                problem: Problem::Failed,
                message,
                location: None,
                remedies: Vec::new(),
            })
        }
        _ => None,
    };
    row.ms = Some(start.elapsed().as_millis() as u64);
    row
}

fn op_fails_on_findings(op: Operation) -> bool {
    matches!(op, Operation::Check)
}

fn unreached_or_failed(e: &Error) -> MemberState {
    // A standby answered: it is there, and refused.
    if e.kind() == ErrorKind::Connect && !matches!(e.problem, Problem::ConnectionLost | Problem::Standby) {
        MemberState::Unreachable
    } else {
        MemberState::Failed
    }
}

/// The operation itself: its failure, if any, and whether it leaves the database at head for
/// certain (an `up` to the end that went through: no need to read it again).
async fn work(
    s: &Session,
    op: Operation,
    cancel: &Cancel,
    row: &mut MemberRow,
    on: &(dyn Fn(&MemberRow) + Send + Sync),
) -> (Option<Error>, bool) {
    match op {
        Operation::Status | Operation::Check => (None, false),
        Operation::VerifyBackups => match ops::verify_backup(s, None, cancel, &|_| {}).await {
            Ok(c) if c.matches() => {
                row.detail =
                    Some(format!("backup {} matches: {} table(s), {} row(s) and the schema", c.id, c.tables, c.rows));
                (None, false)
            }
            Ok(c) => {
                (Some(Error::failed(format!("backup {} does not match: {}", c.id, c.differences.join("; ")))), false)
            }
            Err(e) => (Some(e), false),
        },
        Operation::Run { work, allow_out_of_order, acknowledge_lint } => {
            let req = RunRequest {
                allow_out_of_order,
                acknowledge_lint,
                // The fleet's name was confirmed for all of its members.
                confirm: Some(s.ws.confirm_name()),
                ..RunRequest::new(work)
            };
            let mut live = row.clone();
            let mut on_run = |e: &RunEvent| {
                if let RunEvent::MigrationStarted { version, .. } = e {
                    live.running = Some(*version);
                    on(&live);
                }
            };
            // A fleet's databases are not environments: there are none other to read.
            match ops::run(s, req, cancel, &mut on_run, &|_| {}, || Ok(Vec::new())).await {
                Ok((report, then)) => {
                    row.done = report.done.len() + then.as_ref().map_or(0, |t| t.done.len());
                    row.detail = (row.done > 0).then(|| format!("{} migration(s) run", row.done));
                    row.backup = report.backup.clone();
                    let whole = !report.cancelled && report.failure.is_none();
                    let at_head = whole && matches!(work, Work::Up(None));
                    (report.failure.or(then.and_then(|t| t.failure)), at_head)
                }
                Err(e) => (Some(e), false),
            }
        }
    }
}

/// A run over a fleet a person asked for.
pub struct FleetRequest {
    pub fleet: String,
    pub operation: Operation,
    pub policy: Policy,
    /// What the person typed to confirm a protected fleet (its name).
    pub confirm: Option<String>,
    /// Send the environments' stored passwords to the servers they name now (see `--trust-host`).
    pub trust_host: bool,
    pub settings: Settings,
}

/// Works on every database of a fleet. A fleet that changes a protected database (the fleet, or
/// one of its environments) needs the fleet's name typed first, and each such database is backed
/// up before its run. Only a fleet that cannot be listed fails as a whole; each member's outcome is
/// in the report.
pub async fn start(
    p: &crate::project::Project,
    mut req: FleetRequest,
    cancel: &Cancel,
    on: OnRow,
) -> crate::Result<FleetReport> {
    let cfg = p.fleet(&req.fleet)?;
    req.policy.per_server = req.policy.per_server.or(cfg.per_server);
    if req.operation.changes() {
        super::guard(p, &req.fleet).enforce(&Confirmation::typed(req.confirm.as_deref()))?;
    }
    let members = super::members(p, &req.fleet, &req.settings.connect, req.trust_host).await?;
    Ok(run(&req.fleet, members, req.operation, &req.policy, &req.settings, cancel, on).await)
}
