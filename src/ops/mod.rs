//! What a person does with an environment, one function each, for the CLI and the app alike: a
//! request in, an outcome out. Every rule lives here or below (confirmations, backing up first,
//! the plan that was seen, the restore hint); the CLI and the app only build requests and word or
//! draw what comes back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::backup::{self, BackupEntry, BackupEvent, BackupFirst, Comparison, Restored, Store};
use crate::db::{self, ConnectOptions, Database, Event};
use crate::error::{Error, Named, Problem, Remedy, Result};
use crate::event::RunEvent;
use crate::lint;
use crate::migration::check::{self, Finding};
use crate::migration::detail;
use crate::migration::guard::{Confirmation, Guard};
use crate::migration::plan::DownTarget;
use crate::migration::runner::{self, Cancel, RunOptions, RunReport, Seen, Work};
use crate::migration::source::{MigrationFile, Source};
use crate::migration::status::{self, StatusReport};
use crate::migration::verify;
use crate::project::{self, Workspace};
use crate::syntax::Dialect;

mod amend;
mod backups;
mod baseline;
mod desired;
mod import;
mod rebase;
mod run;
mod squash;

pub use amend::*;
pub use backups::*;
pub use baseline::*;
pub use desired::*;
pub use import::*;
pub use rebase::*;
pub use run::*;
pub use squash::*;

/// An environment ready to be worked on: its workspace with the password resolved, where its
/// backups go, and how long to wait.
pub struct Session {
    pub ws: Workspace,
    /// The project's id, for the backup store (`None` for an ad hoc URL).
    pub project_id: Option<String>,
    /// How many backups to keep.
    pub keep: usize,
    pub connect: ConnectOptions,
    pub lock_timeout: Duration,
    /// Where a successful run writes the schema (`schema_file`, for the schema environment).
    pub schema_file: Option<std::path::PathBuf>,
    /// The schema the project wants (`desired_schema`), for `--from-schema`/`--to-schema` without a file.
    pub desired_schema: Option<std::path::PathBuf>,
    /// The project's `[lint]` settings, for the findings a preview shows.
    pub lint: lint::LintConfig,
    /// How a run's statements wait for locks and how long they may run: the environment's
    /// settings, a run's own over them, else a protected environment's defaults.
    pub waits: crate::migration::waits::Waits,
}

impl Session {
    /// A workspace of `p` (none for an ad hoc URL) made ready: its backups, its `[lint]`, its
    /// schema file, and its history where sqlx.toml says.
    pub fn new(
        ws: Workspace,
        p: Option<&project::Project>,
        connect: ConnectOptions,
        lock_timeout: Duration,
    ) -> Result<Session> {
        Ok(Session {
            schema_file: p.and_then(|p| p.schema_file_for(ws.env.as_deref())),
            desired_schema: p.and_then(project::Project::desired_schema),
            // An ad hoc `--url`'s backups are kept apart from the project's, as they always were.
            project_id: p.filter(|_| ws.env.is_some()).map(|p| p.id()),
            keep: p.map_or(10, project::Project::backups_keep),
            connect: match p {
                Some(p) => ConnectOptions { tables: p.tables(), ..connect },
                None => connect,
            },
            lock_timeout,
            lint: lint_config(p)?,
            waits: ws.waits.resolve(ws.protected),
            ws,
        })
    }

    /// With a run's own settings (`asked`) over the environment's.
    pub fn with_waits(self, asked: &crate::migration::waits::Asked) -> Session {
        Session { waits: self.ws.waits.clone().over(asked).resolve(self.ws.protected), ..self }
    }

    pub fn store(&self) -> Result<Store> {
        Store::for_workspace(self.project_id.clone(), &self.ws)
    }

    /// A connection that changes the database (`create`: a missing SQLite file is made).
    pub async fn open(&self, create: bool) -> Result<Box<dyn Database>> {
        db::connect(&self.ws.target, &ConnectOptions { create_sqlite: create, ..self.connect.clone() }).await
    }

    /// A connection for reading; `None` when a SQLite file does not exist yet (it reads as empty).
    async fn read(&self) -> Result<Option<Box<dyn Database>>> {
        db::connect_existing(&self.ws.target, &self.connect).await
    }

    /// Runs `f` on a connection for reading, or gives `T::default()` for a database not made yet.
    /// (A boxed future rather than an async closure: the app's commands must be `Send`.)
    async fn reading<T: Default>(
        &self,
        f: impl for<'d> FnOnce(&'d mut dyn Database) -> BoxFuture<'d, Result<T>>,
    ) -> Result<T> {
        let Some(mut db) = self.read().await? else { return Ok(T::default()) };
        let r = f(db.as_mut()).await;
        db.close().await;
        r
    }

    fn source(&self) -> Result<Source> {
        self.ws.source()
    }
}

/// Each environment's history as read: read, left out on purpose (`--skip`, only when it cannot
/// be read: one that can is always checked), or not read, with why.
struct Reads<T> {
    read: Vec<(String, T)>,
    skipped: Vec<String>,
    unread: Vec<(String, Error)>,
}

impl Reads<(Session, Vec<db::Applied>)> {
    /// Every environment's history, read one after the other; `skip` must name environments.
    async fn histories(envs: Vec<(String, Result<Session>)>, skip: &[String]) -> Result<Self> {
        unknown_skips(&envs, skip)?;
        let mut read = Vec::new();
        for (name, session) in envs {
            let r = match session {
                Ok(session) => session.reading(|db| db.applied()).await.map(|applied| (session, applied)),
                Err(e) => Err(e),
            };
            read.push((name, r));
        }
        Ok(Reads::sort(read, skip))
    }
}

impl<T> Reads<T> {
    fn sort(reads: Vec<(String, Result<T>)>, skip: &[String]) -> Reads<T> {
        let mut out = Reads { read: Vec::new(), skipped: Vec::new(), unread: Vec::new() };
        for (name, r) in reads {
            match r {
                Ok(t) => out.read.push((name, t)),
                Err(_) if skip.contains(&name) => out.skipped.push(name),
                Err(e) => out.unread.push((name, e)),
            }
        }
        out
    }
}

/// `--skip` names that are not environments (a typo would leave out nothing, silently).
fn unknown_skips<T>(envs: &[(String, T)], skip: &[String]) -> Result<()> {
    match skip.iter().find(|n| !envs.iter().any(|(e, _)| e == *n)) {
        Some(n) => Err(Error::not_found(Named::Environment, format!("there is no environment `{n}` to skip"))),
        None => Ok(()),
    }
}

/// Applied and pending migrations, with what is wrong with each (a revision conflict read as
/// `check` reads it, with the other environments).
pub async fn status(s: &Session, others: impl FnOnce() -> Result<Envs>) -> Result<StatusReport> {
    // The files are read on other threads while the database answers: the two waits overlap.
    let (dir, repeatable, sums) = (s.ws.migrations.clone(), s.ws.repeatable.clone(), s.ws.checksums.clone());
    let files =
        tokio::task::spawn_blocking(move || Source::load_with(&dir, &sums)?.with_repeatables(&repeatable, &sums));
    // Read beside the files, so whether there are repeatable files is told by their folder.
    let any = s.ws.repeatable.is_dir();
    let recorded = s.reading(|db| Box::pin(status::Recorded::read(db, any))).await;
    let source = files.await.expect("migrations reader")?;
    let recorded = recorded?;
    let mut report = status::report(&s.ws, &source, &recorded);
    let findings = std::mem::take(&mut report.findings);
    report.findings = settled_elsewhere(s, findings, others, |elsewhere| {
        check::recorded(&source, s.ws.target.dialect(), &recorded, &report.migrations, elsewhere)
    })
    .await?;
    report.findings.extend(check::unset_placeholders(&source, &recorded, &report.migrations, &s.ws.placeholders));
    Ok(report)
}

/// The migrations as the folder has them, without the database (when it cannot be read): which
/// are applied is not known.
pub fn files_status(s: &Session) -> Result<StatusReport> {
    Ok(status::unread(&s.ws, &s.source()?))
}

/// One migration's page: its files, header, checksums, events and what can be done about it.
pub async fn migration(s: &Session, version: i64) -> Result<detail::MigrationDetail> {
    let source = s.source()?;
    let any = !source.repeatables.is_empty();
    let (recorded, events) = s
        .reading(|db| {
            Box::pin(async move {
                let recorded = status::Recorded::read(db, any).await?;
                Ok((recorded, db.events(Some(version), 200).await?))
            })
        })
        .await?;
    detail::detail(&source, &recorded, version, events, s.ws.target.dialect())
}

/// The newest `limit` events of `_godwit_log`.
pub async fn history(s: &Session, limit: i64) -> Result<Vec<Event>> {
    s.reading(|db| db.events(None, limit)).await
}

/// Everything that would stop or surprise a run. A revision conflict is read again with the other
/// environments' histories (`others`, asked for only then): a side one of them applied cannot be
/// renumbered, so where every side is applied somewhere the conflict is settled, not a problem.
pub async fn check(s: &Session, others: impl FnOnce() -> Result<Envs>) -> Result<Vec<Finding>> {
    let source = s.source()?;
    let any = !source.repeatables.is_empty();
    let recorded = s.reading(|db| Box::pin(status::Recorded::read(db, any))).await?;
    let rows = status::recorded_rows(&source, &recorded);
    let findings = check::recorded(&source, s.ws.target.dialect(), &recorded, &rows, &Default::default());
    let mut findings = settled_elsewhere(s, findings, others, |elsewhere| {
        check::recorded(&source, s.ws.target.dialect(), &recorded, &rows, elsewhere)
    })
    .await?;
    findings.extend(check::unset_placeholders(&source, &recorded, &rows, &s.ws.placeholders));
    Ok(findings)
}

/// Each environment's name and session (or why there is none), as `check`, `rebase` and `squash`
/// read them.
pub type Envs = Vec<(String, Result<Session>)>;

/// `findings` again (`again`), with what the other environments applied, when they hold a revision
/// conflict; as they are otherwise, without reading any other environment.
async fn settled_elsewhere(
    s: &Session,
    findings: Vec<Finding>,
    others: impl FnOnce() -> Result<Envs>,
    again: impl FnOnce(&check::Elsewhere) -> Vec<Finding>,
) -> Result<Vec<Finding>> {
    if !findings.iter().any(|f| f.kind == check::FindingKind::RevisionConflict) {
        return Ok(findings);
    }
    Ok(again(&read_elsewhere(s, others).await?))
}

/// What the environments other than `s`'s have applied (those that cannot be read, named).
async fn read_elsewhere(s: &Session, others: impl FnOnce() -> Result<Envs>) -> Result<check::Elsewhere> {
    let here = s.ws.confirm_name();
    let others: Envs = others()?.into_iter().filter(|(name, _)| *name != here).collect();
    let reads = Reads::histories(others, &[]).await?;
    let mut elsewhere =
        check::Elsewhere { unread: reads.unread.into_iter().map(|(name, _)| name).collect(), ..Default::default() };
    for (name, (_, applied)) in reads.read {
        for a in applied {
            elsewhere.applied.entry(a.version).or_default().push(name.clone());
        }
        elsewhere.read.push(name);
    }
    Ok(elsewhere)
}

/// Refuses an up that would run two sides of a revision conflict in another order than an
/// environment that applied the newer side first (`rebase` renumbers the older; out of order, a
/// person may run them as they are). The others are read only when a side is pending here; what
/// they applied is returned (nothing, where they were not read), so a settled conflict is no warning.
pub(crate) async fn refuse_order_conflicts(
    s: &Session,
    source: &Source,
    applied: &[db::Applied],
    others: impl FnOnce() -> Result<Envs>,
) -> Result<check::Elsewhere> {
    let here: Vec<i64> = applied.iter().map(|a| a.version).collect();
    if !source.siblings().iter().any(|kids| kids.iter().any(|m| !here.contains(&m.version))) {
        return Ok(check::Elsewhere::default());
    }
    let elsewhere = read_elsewhere(s, others).await?;
    let Some(c) = check::order_conflicts(source, &here, &elsewhere).into_iter().next() else {
        return Ok(elsewhere);
    };
    Err(Error::new(
        Problem::RevisionConflict { file: c.file.clone() },
        format!(
            "{} and {} revise the same migration, and {} is applied in {} first: run here in version order, {} \
             would go before it, the other way round from there. Nothing was run. `rebase` gives {} a version after \
             it; or apply them as they are, in another order than there",
            c.file,
            c.newer,
            c.newer,
            c.envs.join(", "),
            c.file,
            c.file
        ),
    )
    .with_remedy(Remedy::Rebase)
    .with_remedy(Remedy::AllowOutOfOrder))
}

/// Proves every migration's down (from `from` on) on a scratch database beside the environment's,
/// made for it and always dropped (also when verifying fails or is cancelled).
pub async fn verify(
    s: &Session,
    from: Option<i64>,
    seed: Option<&std::path::Path>,
    cancel: &Cancel,
    on: &mut (dyn FnMut(usize, usize, &verify::Checked) + Send),
) -> Result<verify::VerifyReport> {
    let source = s.source()?;
    source.ensure_valid()?;
    let seed_sql = match seed {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| Error::input(format!("cannot read the seed {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let seed = seed.zip(seed_sql.as_deref()).map(|(file, sql)| verify::Seed { file, sql });
    let to_verify = source.migrations.iter().filter(|m| from.is_none_or(|f| m.version >= f)).count();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let values = &s.ws.placeholders;
    if seed.is_some() || to_verify < verify::TWO_PARTS_FROM || cores < 2 {
        let mut bench = ScratchBench::open(s).await?;
        let r = verify::verify(&mut bench, &source, from, seed, cancel, values, on).await;
        return bench.finish(r).await;
    }
    // Two scratch databases, made and dropped at once.
    let (first, second) = match tokio::join!(ScratchBench::open(s), ScratchBench::open(s)) {
        (Ok(a), Ok(b)) => (a, b),
        (Ok(a), Err(e)) | (Err(e), Ok(a)) => return a.finish(Err(e)).await,
        (Err(e), Err(_)) => return Err(e),
    };
    let (mut first, mut second) = (first, second);
    let r = verify::verify_in_two(&mut first, &mut second, &source, from, cancel, values, on).await;
    let (r, closed) = tokio::join!(first.finish(r), second.close());
    match (r, closed) {
        (r, Ok(())) => r,
        (Ok(_), Err(d)) => Err(not_dropped(d)),
        (Err(e), Err(d)) => Err(not_dropped_either(e, d)),
    }
}

/// A scratch database beside the session's, made again when verify asks: as a copy of a second
/// one that follows behind (PostgreSQL's template databases, SQLite's files), or from nothing.
struct ScratchBench<'a> {
    session: &'a Session,
    scratch: db::Scratch,
    db: Box<dyn Database>,
    checkpoint: Option<Checkpoint>,
}

struct Checkpoint {
    scratch: db::Scratch,
    /// Closed while it is copied (a template may have no session).
    db: Option<Box<dyn Database>>,
    /// How many migrations' ups it holds.
    at: usize,
}

impl<'a> ScratchBench<'a> {
    async fn open(session: &'a Session) -> Result<ScratchBench<'a>> {
        let (scratch, db) = open_scratch(session).await?;
        Ok(ScratchBench { session, scratch, db, checkpoint: None })
    }

    /// Drops its scratch databases, after `result` (which a failed drop is added to).
    async fn finish<T>(self, result: Result<T>) -> Result<T> {
        match (result, self.close().await) {
            (r, Ok(())) => r,
            (Ok(_), Err(r)) => Err(not_dropped(r)),
            (Err(e), Err(r)) => Err(not_dropped_either(e, r)),
        }
    }

    /// Drops its scratch databases; the first that could not be dropped is the error.
    async fn close(mut self) -> Result<()> {
        let checkpoint = match self.checkpoint.take() {
            Some(c) => {
                if let Some(db) = c.db {
                    db.close().await;
                }
                c.scratch.remove().await
            }
            None => Ok(()),
        };
        self.db.close().await;
        let own = self.scratch.remove().await;
        checkpoint.and(own)
    }
}

#[async_trait::async_trait]
impl verify::Workbench for ScratchBench<'_> {
    fn db(&mut self) -> &mut dyn Database {
        self.db.as_mut()
    }

    async fn fresh(&mut self) -> Result<()> {
        // The new one first: if it cannot be made, the old one is still there to be dropped.
        let (scratch, db) = open_scratch(self.session).await?;
        let old = std::mem::replace(&mut self.db, db);
        let old_scratch = std::mem::replace(&mut self.scratch, scratch);
        close_scratch(old_scratch, old, Ok(())).await
    }

    async fn checkpoint(&mut self) -> Result<Option<(&mut dyn Database, &mut usize)>> {
        if self.session.ws.target.dialect() == Dialect::MySql {
            return Ok(None);
        }
        if self.checkpoint.is_none() {
            let (scratch, db) = open_scratch(self.session).await?;
            self.checkpoint = Some(Checkpoint { scratch, db: Some(db), at: 0 });
        }
        let c = self.checkpoint.as_mut().expect("made above");
        if c.db.is_none() {
            c.db = Some(db::connect(&c.scratch.target, c.scratch.options()).await?);
        }
        let db = c.db.as_mut().expect("connected above");
        Ok(Some((db.as_mut(), &mut c.at)))
    }

    async fn copy_checkpoint(&mut self) -> Result<()> {
        let Some(c) = self.checkpoint.as_mut() else { return Err(Error::failed("no checkpoint to copy")) };
        if let Some(db) = c.db.take() {
            db.close().await;
        }
        let Some(copy) = c.scratch.copy().await? else { return Err(Error::failed("this database cannot be copied")) };
        let db = match db::connect(&copy.target, copy.options()).await {
            Ok(db) => db,
            Err(e) => {
                let _ = copy.remove().await;
                return Err(e);
            }
        };
        let old = std::mem::replace(&mut self.db, db);
        let old_scratch = std::mem::replace(&mut self.scratch, copy);
        close_scratch(old_scratch, old, Ok(())).await
    }
}

/// A scratch database made beside the environment's, and a connection to it. Whatever is done
/// there, `close_scratch` ends: it drops the database.
async fn open_scratch(s: &Session) -> Result<(db::Scratch, Box<dyn Database>)> {
    let scratch = db::Scratch::new(&s.ws.target, &s.connect).await?;
    match db::connect(&scratch.target, scratch.options()).await {
        Ok(db) => Ok((scratch, db)),
        Err(e) => Err(match scratch.remove().await {
            Ok(()) => e,
            Err(r) => not_dropped_either(e, r),
        }),
    }
}

async fn close_scratch<T>(scratch: db::Scratch, db: Box<dyn Database>, result: Result<T>) -> Result<T> {
    db.close().await;
    drop_scratch(scratch, result).await
}

/// Drops a scratch database no longer connected to, saying so with `result` if it cannot.
async fn drop_scratch<T>(scratch: db::Scratch, result: Result<T>) -> Result<T> {
    match (result, scratch.remove().await) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(r)) => Err(not_dropped(r)),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(r)) => Err(not_dropped_either(e, r)),
    }
}

/// The work was done, but the scratch database could not be dropped (`r`).
fn not_dropped(r: Error) -> Error {
    Error::failed(format!("done, but the scratch database was not dropped: {}", r.message))
}

/// `e`, saying too that the scratch database could not be dropped (`r`).
fn not_dropped_either(mut e: Error, r: Error) -> Error {
    e.message = format!("{}\nThe scratch database was not dropped either: {}", e.message, r.message);
    e
}

/// What was changed by hand: the environment's applied migrations replayed on a scratch database
/// beside it, and the live schema compared with what they made (`before`: the migrations', `after`:
/// the live one). Another tool's history table left there is set apart, not drift.
pub async fn drift(s: &Session, cancel: &Cancel) -> Result<crate::schema::Compared> {
    let source = s.source()?;
    let any = !source.repeatables.is_empty();
    let (applied, live, records) = s
        .reading(|db| {
            Box::pin(async move {
                let applied = db.applied().await?;
                let records = runner::recorded_repeatables(db, any).await?;
                Ok((applied, db.inspect().await?, records))
            })
        })
        .await?;
    let versions = ran_here(&applied, None);
    // The repeatable files applied here as they are now make part of its schema too (one changed
    // since, or failed last, is the next run's to apply, and its objects are left to show).
    let repeatables: Vec<&MigrationFile> = source
        .repeatables
        .iter()
        .filter(|r| !crate::migration::repeatable::due(r, records.get(&r.file_name())))
        .collect();
    let (scratch, mut db) = open_scratch(s).await?;
    let made = match verify::replay(db.as_mut(), &source, &versions, cancel, &s.ws.placeholders).await {
        Ok(()) => match verify::apply_repeatables(db.as_mut(), &repeatables, cancel, &s.ws.placeholders).await {
            Ok(()) => db.inspect().await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let made = close_scratch(scratch, db, made).await?;
    Ok(crate::schema::compare(&made, &live))
}

/// The migrations applied here (and `also`, one left part way), in the order they ran: one applied
/// out of order made its columns in that order, so a replay follows it.
fn ran_here(applied: &[db::Applied], also: Option<i64>) -> Vec<i64> {
    let mut ran: Vec<&db::Applied> = applied.iter().filter(|a| a.success || Some(a.version) == also).collect();
    ran.sort_by_key(|a| (a.installed_on, a.version));
    ran.iter().map(|a| a.version).collect()
}

/// A database's schema, as Godwit compares it.
pub async fn schema(s: &Session) -> Result<crate::schema::Schema> {
    s.reading(|db| db.inspect()).await
}

/// Two databases' schemas, object by object, with other tools' history tables set apart; in shared
/// words where the two are of different kinds.
pub async fn compare(a: &Session, b: &Session) -> Result<crate::schema::Compared> {
    let (da, db) = (a.ws.target.dialect(), b.ws.target.dialect());
    Ok(crate::schema::compare_databases(&schema(a).await?, da, &schema(b).await?, db))
}

/// The schema as SQL, as the database's own dump tool writes it (`schema --format sql`); empty for
/// a SQLite file not made yet.
pub async fn schema_sql(s: &Session) -> Result<String> {
    let tool = backup::tool::for_dialect(s.ws.target.dialect(), &s.connect.tables);
    match s.ws.target.dialect() {
        Dialect::Sqlite if !s.ws.target.sqlite_path().exists() => return Ok(String::new()),
        Dialect::Sqlite => {}
        _ => {
            let version = s.reading(|db| db.server_version()).await?;
            tool.check(&version).await?;
        }
    }
    tool.schema_sql(&s.ws.target).await
}

/// Creates the environment's database, empty; `false` when it existed (nothing was done).
pub async fn create_database(s: &Session) -> Result<bool> {
    db::create_database(&s.ws.target, &s.connect).await
}

/// Drops the environment's database, its name typed first whatever its protection; `false` when it
/// did not exist.
pub async fn drop_database(s: &Session, confirm: Option<&str>) -> Result<bool> {
    Guard::for_drop(&s.ws).enforce(&Confirmation::typed(confirm))?;
    db::drop_database(&s.ws.target, &s.connect).await
}

/// A template rendered for `dialect`, with warnings where the project's environments on other
/// databases would need other SQL.
pub fn render_template(
    p: &project::Project,
    dialect: db::Dialect,
    name: &str,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<crate::template::Rendered> {
    crate::template::render_for_project(name, values, dialect, &p.dialects(), Some(&p.templates_dir()))
}

/// How long testing an environment waits for its server unless told otherwise: a test should
/// answer fast.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects and reports on the server and its migration history.
pub async fn test_env(s: &Session, timeout: Option<Duration>) -> Result<db::Probe> {
    let opts = ConnectOptions { connect_timeout: timeout.unwrap_or(TEST_TIMEOUT), ..s.connect.clone() };
    db::probe(&s.ws.target, &opts).await
}

/// Saves an environment (new or edited) and, when given, its password in the OS keyring, bound to
/// the server it names. A URL pasted with its password in it is split: the URL is saved without
/// it, and the password stored. Says whether a password was moved out of the URL.
pub fn save_env(
    p: &mut project::Project,
    name: &str,
    mut env: crate::profile::EnvConfig,
    personal: bool,
    password: Option<secrecy::SecretString>,
) -> Result<bool> {
    let mut password = password;
    let pasted = env.url.as_deref().and_then(crate::profile::split_password);
    let moved = pasted.is_some();
    if let Some((url, pw)) = pasted {
        env.url = Some(url);
        password = password.or(Some(pw));
    }
    let before = p.env(name).map(|(e, was_personal)| (e.clone(), was_personal));
    p.save_env(name, env, personal)?;
    if let Ok(w) = p.workspace(Some(name)) {
        project::ignore_local_db(&p.root, name, &w.target);
    }
    if let Some(pw) = password
        && let Err(e) = p.workspace(Some(name)).and_then(|w| w.store_password(&pw))
    {
        // The password was not stored: the environment is left as it was, not half-saved.
        let _ = match before {
            Some((old, was_personal)) => p.save_env(name, old, was_personal).map(|_| ()),
            None => p.remove_env(name).map(|_| ()),
        };
        return Err(e);
    }
    Ok(moved)
}

/// The project's `[lint]` settings, refused when they name a rule Godwit does not know (a typo
/// would switch nothing off, silently).
pub fn lint_config(project: Option<&crate::project::Project>) -> Result<lint::LintConfig> {
    let config = project.and_then(|p| p.config.lint.clone()).unwrap_or_default();
    match config.unknown_rules().as_slice() {
        [] => Ok(config),
        unknown => Err(Error::input(format!(
            "godwit.toml [lint] names rules Godwit does not know: {}. The list of lint rules names them all.",
            unknown.join(", ")
        ))),
    }
}

/// Lints without a database: every migration in `dir` (`lint --all`), with paths shown from `root`.
/// From `from` on only, when given: the tables older files create count as existing.
pub fn lint_all(
    dir: &Path,
    repeatable: &Path,
    root: &Path,
    from: Option<i64>,
    dialect: Dialect,
    config: &lint::LintConfig,
) -> Result<lint::LintReport> {
    let source = Source::load(dir)?.with_repeatables(repeatable, &Default::default())?;
    let (mut all, before): (Vec<&MigrationFile>, Vec<&MigrationFile>) =
        source.migrations.iter().partition(|m| from.is_none_or(|f| m.version >= f));
    // The repeatable files run after every migration.
    all.extend(&source.repeatables);
    Ok(lint::lint(&all, &before, root, dialect, config))
}

/// Lints the files a person named, in the order given, as the `dialect` reads them. The views of
/// the project's migrations (`migrations`, when there is a project) older than the first named are
/// known; a file outside the folder comes after all of them.
pub fn lint_files(
    files: &[PathBuf],
    migrations: Option<&Path>,
    dialect: Dialect,
    config: &lint::LintConfig,
) -> Result<lint::LintReport> {
    let texts = files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                // A byte order mark is not SQL (migrations are read without it too).
                .map(|sql| (f.display().to_string(), sql.strip_prefix('\u{feff}').unwrap_or(&sql).to_string()))
                .map_err(|e| Error::io("cannot read", f, &e))
        })
        .collect::<Result<Vec<_>>>()?;
    // A folder that cannot be read only leaves its views unknown: the files named are still linted.
    let source = migrations.and_then(|dir| Source::load(dir).ok()).unwrap_or_default();
    let named: Vec<i64> =
        source.migrations.iter().filter(|m| files.iter().any(|f| same_file(f, &m.path))).map(|m| m.version).collect();
    let first = named.iter().min().copied().unwrap_or(i64::MAX);
    let before: Vec<&str> = source.migrations.iter().filter(|m| m.version < first).map(|m| m.sql.as_str()).collect();
    Ok(lint::lint_files(&texts, &before, dialect, config))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Lints what `up` would run on the environment: the migrations not applied there (all of them
/// when its database does not exist yet), each table they create new for the ones after it.
pub async fn lint_pending(s: &Session, root: &Path) -> Result<lint::LintReport> {
    let source = s.source()?;
    let applied = s.reading(|db| db.applied()).await?;
    let done: std::collections::HashSet<i64> = applied.iter().filter(|a| a.success).map(|a| a.version).collect();
    let (applied, mut pending): (Vec<&MigrationFile>, Vec<&MigrationFile>) =
        source.migrations.iter().partition(|m| done.contains(&m.version));
    // The repeatable files the next run applies (new, changed, or failed last).
    let any = !source.repeatables.is_empty();
    let records = s.reading(|db| Box::pin(runner::recorded_repeatables(db, any))).await?;
    pending.extend(crate::migration::repeatable::due_files(&source, &records));
    Ok(lint::lint(&pending, &applied, root, s.ws.target.dialect(), &s.lint))
}

/// A migrations folder written from `(file, sql)` pairs, for the plans' tests.
#[cfg(test)]
fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, Source) {
    let d = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(d.path().join(name), sql).unwrap();
    }
    let source = Source::load(d.path()).unwrap();
    (d, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_that_cannot_be_read_is_left_out_only_when_asked() {
        let reads: Vec<(String, Result<u8>)> = vec![
            ("dev".into(), Ok(1)),
            ("staging".into(), Err(Error::connect("down"))),
            ("prod".into(), Err(Error::connect("down"))),
            ("qa".into(), Ok(2)),
        ];
        let r = Reads::sort(reads, &["prod".into(), "qa".into()]);
        assert_eq!(r.read, [("dev".to_string(), 1), ("qa".to_string(), 2)], "one that can be read is always read");
        assert_eq!(r.skipped, ["prod"]);
        let unread: Vec<(&str, &Problem)> = r.unread.iter().map(|(n, e)| (n.as_str(), &e.problem)).collect();
        assert_eq!(unread, [("staging", &Problem::CannotConnect)]);
    }

    #[test]
    fn a_skip_that_names_no_environment_is_refused() {
        let envs = [("dev".to_string(), ()), ("prod".to_string(), ())];
        assert!(unknown_skips(&envs, &["prod".into()]).is_ok());
        let e = unknown_skips(&envs, &["prdo".into()]).unwrap_err();
        assert_eq!(e.problem, Problem::NotFound { what: Named::Environment });
    }
}
