//! What a person does with an environment, one function each, for the CLI and the app alike: a
//! request in, an outcome out. Every rule lives here or below (confirmations, backing up first,
//! the plan that was seen, the restore hint); the CLI and the app only build requests and word or
//! draw what comes back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::backup::{self, BackupEntry, BackupEvent, BackupFirst, Comparison, Restored, Store};
use crate::db::{self, ConnectOptions, Database, Event};
use crate::error::{Error, Problem, Remedy, Result};
use crate::event::RunEvent;
use crate::fleet;
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
    /// The project's `[lint]` settings, for the findings a preview shows.
    pub lint: lint::LintConfig,
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
            // An ad hoc `--url`'s backups are kept apart from the project's, as they always were.
            project_id: p.filter(|_| ws.env.is_some()).map(|p| p.id()),
            keep: p.map_or(10, project::Project::backups_keep),
            connect: match p {
                Some(p) => ConnectOptions { tables: p.tables(), ..connect },
                None => connect,
            },
            lock_timeout,
            lint: lint_config(p)?,
            ws,
        })
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

/// Applied and pending migrations, with what is wrong with each.
pub async fn status(s: &Session) -> Result<StatusReport> {
    // The files are read on other threads while the database answers: the two waits overlap.
    let (dir, sums) = (s.ws.migrations.clone(), s.ws.checksums.clone());
    let files = tokio::task::spawn_blocking(move || Source::load_with(&dir, &sums));
    let recorded = s.reading(|db| Box::pin(status::Recorded::read(db))).await;
    let source = files.await.expect("migrations reader")?;
    Ok(status::report(&s.ws, &source, &recorded?))
}

/// The migrations as the folder has them, without the database (when it cannot be read): every
/// one pending, as far as the files say.
pub fn files_status(s: &Session) -> Result<StatusReport> {
    let source = s.source()?;
    let mut report = status::report(&s.ws, &source, &status::Recorded::default());
    report.database_read = false;
    Ok(report)
}

/// One migration's page: its files, header, checksums, events and what can be done about it.
pub async fn migration(s: &Session, version: i64) -> Result<detail::MigrationDetail> {
    let source = s.source()?;
    let (recorded, events) = s
        .reading(|db| {
            Box::pin(async move {
                let recorded = status::Recorded::read(db).await?;
                Ok((recorded, db.events(Some(version), 200).await?))
            })
        })
        .await?;
    detail::detail(&source, &recorded, version, events)
}

/// The newest `limit` events of `_godwit_log`.
pub async fn history(s: &Session, limit: i64) -> Result<Vec<Event>> {
    s.reading(|db| db.events(None, limit)).await
}

/// Everything that would stop or surprise a run.
pub async fn check(s: &Session) -> Result<Vec<Finding>> {
    let source = s.source()?;
    let applied = s.reading(|db| db.applied()).await?;
    Ok(check::all(&source, Some(s.ws.target.dialect()), &applied, &status::rows(&source, &applied)))
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
    let (scratch, mut db) = open_scratch(s).await?;
    let r = verify::verify(db.as_mut(), &source, from, seed, cancel, on).await;
    close_scratch(scratch, db, r).await
}

/// A scratch database made beside the environment's, and a connection to it. Whatever is done
/// there, `close_scratch` ends: it drops the database.
async fn open_scratch(s: &Session) -> Result<(db::Scratch, Box<dyn Database>)> {
    let scratch = db::Scratch::new(&s.ws.target, &s.connect).await?;
    match db::connect(&scratch.target, scratch.options()).await {
        Ok(db) => Ok((scratch, db)),
        Err(mut e) => {
            if let Err(r) = scratch.remove().await {
                e.message = format!("{}\nThe scratch database was not dropped either: {}", e.message, r.message);
            }
            Err(e)
        }
    }
}

async fn close_scratch<T>(scratch: db::Scratch, db: Box<dyn Database>, result: Result<T>) -> Result<T> {
    db.close().await;
    match (result, scratch.remove().await) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(r)) => Err(Error::failed(format!("done, but the scratch database was not dropped: {}", r.message))),
        (Err(e), Ok(())) => Err(e),
        (Err(mut e), Err(r)) => {
            e.message = format!("{}\nThe scratch database was not dropped either: {}", e.message, r.message);
            Err(e)
        }
    }
}

/// What was changed by hand: the environment's applied migrations replayed on a scratch database
/// beside it, and the live schema compared with what they made (`before`: the migrations', `after`:
/// the live one).
pub async fn drift(s: &Session, cancel: &Cancel) -> Result<Vec<crate::schema::Change>> {
    let source = s.source()?;
    let (applied, live) = s
        .reading(|db| {
            Box::pin(async move {
                let applied = db.applied().await?;
                Ok((applied, db.inspect().await?))
            })
        })
        .await?;
    let versions: Vec<i64> = applied.iter().filter(|a| a.success).map(|a| a.version).collect();
    let (scratch, mut db) = open_scratch(s).await?;
    let made = match verify::replay(db.as_mut(), &source, &versions, cancel).await {
        Ok(()) => db.inspect().await,
        Err(e) => Err(e),
    };
    let made = close_scratch(scratch, db, made).await?;
    Ok(crate::schema::diff(&made, &live))
}

/// A database's schema, as Godwit compares it.
pub async fn schema(s: &Session) -> Result<crate::schema::Schema> {
    s.reading(|db| db.inspect()).await
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

/// Exactly the SQL a run would send, without running it. (A redo previews its rollback.)
pub async fn preview(s: &Session, work: Work, allow_out_of_order: bool) -> Result<RunReport> {
    let source = s.source()?;
    let applied = s.reading(|db| db.applied()).await?;
    let up = matches!(work, Work::Up(_));
    let mut report = match work {
        Work::Up(to) => runner::preview_up(&source, &applied, to, allow_out_of_order),
        Work::Down(target) => runner::preview_down(&source, &applied, target),
        Work::Redo => runner::preview_down(&source, &applied, DownTarget::Steps(1)),
    }?;
    report.database = s.ws.target.display();
    if up {
        report.warnings = check::warnings(&source, &applied);
        report.findings = findings_of(s, &source, &report.planned);
    }
    report.guard = Guard::for_run(&s.ws, &report.findings);
    Ok(report)
}

/// What `lint` finds in the ups a run would apply (their downs are not part of it).
fn findings_of(s: &Session, source: &Source, planned: &[runner::Step]) -> Vec<lint::Finding> {
    let files: Vec<&MigrationFile> = planned.iter().filter_map(|p| source.get(p.version)).collect();
    let names: Vec<&str> = planned.iter().map(|p| p.file.as_str()).collect();
    lint::lint(&files, &s.ws.migrations, s.ws.target.dialect(), &s.lint)
        .findings
        .into_iter()
        .filter(|f| names.contains(&f.file.as_str()))
        .collect()
}

/// A run a person asked for.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub work: Work,
    pub allow_out_of_order: bool,
    /// Back up first (a protected environment always does).
    pub backup: bool,
    /// Verify that backup in a scratch database first.
    pub verify: bool,
    /// The plan the person saw: anything else and nothing runs.
    pub expect: Option<Vec<Seen>>,
    /// The database that plan was made for (a saved plan says): any other and nothing runs.
    pub expect_database: Option<String>,
    /// What the person typed to confirm a protected environment.
    pub confirm: Option<String>,
    /// The person read the lint errors in what would run, and wants it to run anyway.
    pub acknowledge_lint: bool,
}

impl RunRequest {
    pub fn new(work: Work) -> RunRequest {
        RunRequest {
            work,
            allow_out_of_order: false,
            backup: false,
            verify: false,
            expect: None,
            expect_database: None,
            confirm: None,
            acknowledge_lint: false,
        }
    }
}

/// Applies, rolls back or redoes, under the lock, with the backup asked for (or required) taken
/// once the plan is known. A failure after a backup names it (in the error, or in the report's
/// failure). A redo returns its rollback and, when that went through, its apply.
pub async fn run(
    s: &Session,
    req: RunRequest,
    cancel: &Cancel,
    on_run: &mut (dyn FnMut(&RunEvent) + Send),
    on_backup: &(dyn Fn(&BackupEvent) + Send + Sync),
) -> Result<(RunReport, Option<RunReport>)> {
    let confirmed = Confirmation { typed: req.confirm.clone(), lint_acknowledged: req.acknowledge_lint };
    // The name first, before anything connects; the lint errors once it is known what would run.
    Guard::for_run(&s.ws, &[]).enforce(&confirmed)?;
    let here = s.ws.target.display();
    if let Some(there) = req.expect_database.as_ref().filter(|d| !d.is_empty() && **d != here) {
        return Err(Error::new(
            Problem::PlanChanged,
            format!("the plan was made for {there}, not for {here}, so nothing was run."),
        )
        .with_remedy(Remedy::Preview));
    }
    let source = s.source()?;
    let opts = RunOptions {
        lock_timeout: s.lock_timeout,
        stall_timeout: s.connect.stall_timeout,
        allow_out_of_order: req.allow_out_of_order,
        cancel: cancel.clone(),
        expect: req.expect,
    };
    let mut first = BackupFirst {
        ws: &s.ws,
        store: s.store()?,
        keep: s.keep,
        wanted: req.backup,
        verify: req.verify,
        cancel,
        on: on_backup,
        taken: None,
    };
    let mut db = s.open(matches!(req.work, Work::Up(_))).await?;
    if let (Work::Up(to), true) = (req.work, s.ws.protected) {
        let guarded = async {
            let applied = db.applied().await?;
            // A plan that cannot be made is the run's to report, with its remedies.
            let planned = runner::preview_up(&source, &applied, to, req.allow_out_of_order).map(|r| r.planned);
            Guard::for_run(&s.ws, &findings_of(s, &source, &planned.unwrap_or_default())).enforce(&confirmed)
        };
        if let Err(e) = guarded.await {
            db.close().await;
            return Err(e);
        }
    }
    let result = run_on(s, db.as_mut(), &source, req.work, &opts, &mut first, on_run).await;
    // Bounded: over a connection the server stopped answering, a polite close would wait for ever.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), db.close()).await;
    let (mut report, mut then) = result?;
    // The backup is offered only once the database changed: a failure that changed nothing needs
    // no restore, and a restore would lose what was written since the backup.
    let mut changed = false;
    for r in std::iter::once(&mut report).chain(then.as_mut()) {
        let part_way =
            r.failure.as_ref().is_some_and(|e| e.remedies.iter().any(|x| matches!(x, Remedy::Resolve { .. })));
        changed |= !r.done.is_empty() || part_way;
        if changed {
            r.failure = r.failure.take().map(|e| first.hint(e));
        }
        r.database = s.ws.target.display();
        r.backup = first.taken.as_ref().map(|b| b.id.clone());
    }
    Ok((report, then))
}

/// The run itself on an open connection: the warnings before it, the migrations, and the schema
/// file after it.
async fn run_on(
    s: &Session,
    db: &mut dyn Database,
    source: &Source,
    work: Work,
    opts: &RunOptions,
    first: &mut BackupFirst<'_>,
    on_run: &mut (dyn FnMut(&RunEvent) + Send),
) -> Result<(RunReport, Option<RunReport>)> {
    let warnings = match work {
        Work::Up(_) => check::warnings(source, &db.applied().await?),
        _ => Vec::new(),
    };
    for w in &warnings {
        on_run(&RunEvent::Warning { warning: w.clone() });
    }
    let (mut report, mut then) = runner::execute(db, source, work, opts, first, on_run).await?;
    for r in std::iter::once(&mut report).chain(then.as_mut()) {
        r.warnings.splice(0..0, warnings.iter().cloned());
    }
    let last = then.as_mut().unwrap_or(&mut report);
    if let Some(file) = &s.schema_file
        && last.failure.is_none()
        && !last.done.is_empty()
        && let Err(e) = write_schema_file(db, file).await
    {
        last.warnings.push(crate::event::Warning { kind: crate::event::WarningKind::SchemaFile, message: e.message });
    }
    Ok((report, then))
}

/// Rewrites the schema file (never through a link: the project's files are untrusted input).
async fn write_schema_file(db: &mut dyn Database, file: &std::path::Path) -> Result<()> {
    let text = db.inspect().await?.to_text(db.dialect().name());
    if std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::input(format!("{} is a link: the schema file was not written", file.display())));
    }
    std::fs::write(file, text)
        .map_err(|e| Error::input(format!("cannot write the schema file {}: {e}", file.display())))
}

/// A run over a fleet a person asked for.
pub struct FleetRequest {
    pub fleet: String,
    pub operation: fleet::Operation,
    pub policy: fleet::Policy,
    /// What the person typed to confirm a protected fleet (its name).
    pub confirm: Option<String>,
    /// Send the environments' stored passwords to the servers they name now (see `--trust-host`).
    pub trust_host: bool,
    pub settings: fleet::Settings,
}

/// Works on every database of a fleet. A fleet that changes a protected database (the fleet, or
/// one of its environments) needs the fleet's name typed first, and each such database is backed
/// up before its run. Only a fleet that cannot be listed fails as a whole; each member's outcome is
/// in the report.
pub async fn fleet(
    p: &project::Project,
    mut req: FleetRequest,
    cancel: &Cancel,
    on: fleet::OnRow,
) -> Result<fleet::FleetReport> {
    let cfg = p.fleet(&req.fleet)?;
    req.policy.per_server = req.policy.per_server.or(cfg.per_server);
    if req.operation.changes() && fleet::protected(p, &req.fleet) {
        let why = format!("fleet {} is protected", req.fleet);
        project::check_typed(&req.fleet, &why, req.confirm.as_deref())?;
    }
    let members = fleet::members(p, &req.fleet, &req.settings.connect, req.trust_host).await?;
    Ok(fleet::run(&req.fleet, members, req.operation, &req.policy, &req.settings, cancel, on).await)
}

/// Accepts the edited file of an applied migration (a protected environment asks for its name).
pub async fn repair(s: &Session, version: i64, reason: &str, confirm: Option<&str>) -> Result<String> {
    project::check_confirmation(&s.ws, confirm, false)?;
    let source = s.source()?;
    let mut db = s.open(false).await?;
    let r = crate::migration::amend::repair(db.as_mut(), &source, version, reason, s.lock_timeout).await;
    db.close().await;
    r
}

/// Clears a failed migration after a person fixed the database by hand.
pub async fn resolve(s: &Session, version: i64, applied: bool, confirm: Option<&str>) -> Result<String> {
    project::check_confirmation(&s.ws, confirm, false)?;
    let source = s.source()?;
    let mut db = s.open(false).await?;
    let r = crate::migration::amend::resolve(db.as_mut(), &source, version, applied, s.lock_timeout).await;
    db.close().await;
    r
}

/// Backs up the environment's database; a database not made yet has nothing to back up.
pub async fn backup(s: &Session, cancel: &Cancel, on: &(dyn Fn(&BackupEvent) + Send + Sync)) -> Result<BackupEntry> {
    let store = s.store()?;
    let mut db = s.read().await?.ok_or_else(|| {
        crate::Error::input(format!("{} does not exist yet: there is nothing to back up.", s.ws.target.display()))
    })?;
    let r = backup::backup(db.as_mut(), &s.ws.target, &store, &s.ws.confirm_name(), s.keep, cancel, on).await;
    db.close().await;
    r
}

/// Restores a backup into a scratch database and compares it with its manifest.
pub async fn verify_backup(
    s: &Session,
    id: Option<&str>,
    cancel: &Cancel,
    on: &(dyn Fn(&BackupEvent) + Send + Sync),
) -> Result<Comparison> {
    let store = s.store()?;
    let mut db = s.open(false).await?;
    let r = backup::verify(db.as_mut(), &s.ws.target, &store, id, &s.connect, cancel, on).await;
    db.close().await;
    r
}

/// Restores a backup over the environment's database: its name must always be typed.
pub async fn restore(
    s: &Session,
    id: Option<&str>,
    confirm: Option<&str>,
    cancel: &Cancel,
    on: &(dyn Fn(&BackupEvent) + Send + Sync),
) -> Result<Restored> {
    project::check_confirmation(&s.ws, confirm, true)?;
    let store = s.store()?;
    let mut db = s.open(false).await?;
    let r = backup::restore(db.as_mut(), &s.ws.target, &store, id, s.lock_timeout, cancel, on).await;
    db.close().await;
    r
}

/// Creates the environment's database, empty; `false` when it existed (nothing was done).
pub async fn create_database(s: &Session) -> Result<bool> {
    db::create_database(&s.ws.target, &s.connect).await
}

/// Drops the environment's database, its name typed first whatever its protection; `false` when it
/// did not exist.
pub async fn drop_database(s: &Session, confirm: Option<&str>) -> Result<bool> {
    project::check_confirmation_because(&s.ws, confirm, true, "this drops, with everything in it,")?;
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
            "godwit.toml [lint] names rules Godwit does not know: {}. `godwit lint --rules` lists them.",
            unknown.join(", ")
        ))),
    }
}

/// Lints without a database: every migration in `dir` (`lint --all`), with paths shown from `root`.
/// From `from` on only, when given: the tables older files create count as existing.
pub fn lint_all(
    dir: &Path,
    root: &Path,
    from: Option<i64>,
    dialect: Dialect,
    config: &lint::LintConfig,
) -> Result<lint::LintReport> {
    let source = Source::load(dir)?;
    let all: Vec<&MigrationFile> = source.migrations.iter().filter(|m| from.is_none_or(|f| m.version >= f)).collect();
    Ok(lint::lint(&all, root, dialect, config))
}

/// Lints the files a person named, in the order given, as the `dialect` reads them.
pub fn lint_files(files: &[PathBuf], dialect: Dialect, config: &lint::LintConfig) -> Result<lint::LintReport> {
    let texts = files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                // A byte order mark is not SQL (migrations are read without it too).
                .map(|sql| (f.display().to_string(), sql.strip_prefix('\u{feff}').unwrap_or(&sql).to_string()))
                .map_err(|e| Error::input(format!("cannot read {}: {e}", f.display())))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(lint::lint_files(&texts, dialect, config))
}

/// Lints what `up` would run on the environment: the migrations not applied there (all of them
/// when its database does not exist yet), each table they create new for the ones after it.
pub async fn lint_pending(s: &Session, root: &Path) -> Result<lint::LintReport> {
    let source = s.source()?;
    let applied = s.reading(|db| db.applied()).await?;
    let done: std::collections::HashSet<i64> = applied.iter().filter(|a| a.success).map(|a| a.version).collect();
    let pending: Vec<&MigrationFile> = source.migrations.iter().filter(|m| !done.contains(&m.version)).collect();
    Ok(lint::lint(&pending, root, s.ws.target.dialect(), &s.lint))
}

/// What to import, and from where.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub tool: crate::import::Tool,
    pub dir: PathBuf,
    /// The Python that runs an Alembic project (found beside it when `None`).
    pub python: Option<PathBuf>,
    /// What a person agreed to run to read the project (`import::code_to_run`); Alembic's is run
    /// only when it is still exactly that.
    pub run_code: Option<crate::import::CodeToRun>,
    pub dry_run: bool,
}

/// What `import` wrote and recorded (or would, in a dry run).
#[derive(ts_rs::TS, Debug, Clone, serde::Serialize)]
#[ts(export)]
pub struct ImportOutcome {
    pub import: crate::import::Import,
    pub files: crate::import::Written,
    /// What the other tool's history table said, when a database was given.
    pub history: Option<crate::import::history::Adoption>,
    pub dry_run: bool,
}

/// Writes another tool's migrations into `migrations` as Godwit files (Alembic's rendered for
/// `dialect`, else the database's); given a database, records what that tool ran there as applied
/// (not run). Everything that can refuse does so before anything is written.
pub async fn import(
    req: &ImportRequest,
    migrations: &Path,
    dialect: Option<Dialect>,
    history: Option<(&Session, Option<&str>)>,
) -> Result<ImportOutcome> {
    let own = history.map(|(s, _)| s.ws.target.dialect());
    if let (Some(asked), Some(own)) = (dialect, own)
        && asked != own
    {
        return Err(Error::input(format!(
            "--dialect {} is not the database's ({}): the files are rendered for the database they are recorded in",
            asked.name(),
            own.name()
        )));
    }
    let (tool, dir, into) = (req.tool, req.dir.clone(), migrations.to_path_buf());
    let opts = crate::import::ReadOptions {
        dialect: dialect.or(own),
        python: req.python.clone(),
        run_code: req.run_code.clone(),
    };
    // Alembic runs a Python process: off the async workers.
    let mut found = tokio::task::spawn_blocking(move || crate::import::read(tool, &dir, &opts, &into))
        .await
        .map_err(|e| Error::new(Problem::Failed, format!("reading the project stopped: {e}")))??;
    if tool == crate::import::Tool::GolangMigrate && crate::import::same_folder(&req.dir, migrations) {
        crate::import::use_in_place(&mut found, migrations)?;
    }
    let mut db = None;
    let mut adoption = None;
    if let Some((s, confirm)) = history {
        if !req.dry_run {
            project::check_confirmation(&s.ws, confirm, false)?;
        }
        let mut conn = s.open(false).await?;
        match crate::import::history::plan(conn.as_mut(), &found, &s.ws.checksums).await {
            Ok(a) => adoption = Some(a),
            Err(e) => {
                conn.close().await;
                return Err(e);
            }
        }
        db = Some((conn, s.lock_timeout));
    }
    // The files are checked against the folder, then written; a refusal here writes none.
    let files = match crate::import::write(&mut found, migrations, req.dry_run) {
        Ok(f) => f,
        Err(e) => {
            if let Some((conn, _)) = db {
                conn.close().await;
            }
            return Err(e);
        }
    };
    if let (Some((mut conn, lock_timeout)), Some(a), Some((s, _))) = (db, adoption.as_ref(), history) {
        let recorded = if req.dry_run {
            Ok(())
        } else {
            crate::import::history::record(conn.as_mut(), &found, a, &s.ws.checksums, lock_timeout).await
        };
        conn.close().await;
        if let Err(mut e) = recorded {
            if !files.written.is_empty() {
                e.message = format!(
                    "{} file(s) were written to {}, but recording the history failed: {}. Importing again with the \
                     same command records it (the files already there are left as they are).",
                    files.written.len(),
                    files.dir,
                    e.message
                );
            }
            return Err(e);
        }
    }
    Ok(ImportOutcome { import: found, files, history: adoption, dry_run: req.dry_run })
}

/// Writes the project's first migration from the environment's schema and records it as applied
/// there; with the project's baseline already written, records it on another database whose schema
/// it makes. Either way the file is proven first: run on a scratch database, it must make the live
/// schema exactly.
pub async fn baseline(
    s: &Session,
    version: Option<i64>,
    dry_run: bool,
    confirm: Option<&str>,
    cancel: &Cancel,
) -> Result<crate::import::baseline::BaselineOutcome> {
    use crate::import::baseline;
    if !dry_run {
        project::check_confirmation(&s.ws, confirm, false)?;
    }
    // No folder yet is a project with no migrations yet.
    let source = match s.ws.migrations.exists() {
        true => s.source()?,
        false => Source { dir: s.ws.migrations.clone(), migrations: Vec::new(), problems: Vec::new() },
    };
    let label = s.ws.confirm_name();
    let mut db = s.read().await?.ok_or_else(|| {
        Error::input(format!("{} does not exist yet: there is no schema to baseline.", s.ws.target.display()))
    })?;
    let live = async {
        let applied = db.applied().await?;
        if !applied.is_empty() {
            return Err(Error::input(format!(
                "{label} already has {} migration(s) recorded: baseline is for a database no migrations made.",
                applied.len()
            ))
            .with_remedy(Remedy::Status));
        }
        if let Some((tool, table)) = baseline::other_tool(db.as_mut()).await? {
            let whose = match tool {
                crate::import::Tool::Dbmate => "dbmate's or golang-migrate's".to_string(),
                t => format!("{}'s", t.name()),
            };
            return Err(Error::input(format!(
                "{label} has {table}, {whose} history table: bring that tool's migrations in with `import`, which \
                 also records what ran here, rather than a baseline."
            )));
        }
        db.inspect().await
    }
    .await;
    db.close().await;
    let live = live?;
    if live.objects.is_empty() {
        return Err(Error::input(format!(
            "{label} holds no tables, views or other objects: there is nothing to baseline. Start with `godwit new`."
        )));
    }

    let now = chrono::Utc::now();
    let (file, sql, written) = match baseline::existing(&source) {
        Some(m) => {
            if version.is_some_and(|v| v != m.version) {
                return Err(Error::input(format!(
                    "the project's baseline is {} already: leave out --version to record it here.",
                    m.file_name()
                )));
            }
            (m.file_name(), m.sql.clone(), false)
        }
        None if !source.migrations.is_empty() => {
            return Err(Error::input(format!(
                "{} already holds {} migration(s) and none is a baseline: baseline writes a project's first migration.",
                s.ws.migrations.display(),
                source.migrations.len()
            )));
        }
        None => {
            let stamp: i64 = now.format("%Y%m%d%H%M%S").to_string().parse().expect("digits");
            let version = version.unwrap_or(stamp);
            if version <= 0 {
                return Err(Error::input("a version is a positive number, such as a timestamp (20240201145745)."));
            }
            let dump = backup::tool::as_migration_sql(&schema_sql(s).await?, &s.connect.tables);
            let sql = baseline::render(&dump, s.ws.target.dialect(), version, &label, now);
            (baseline::file_name(version), sql, true)
        }
    };

    // The proof: the file run on a scratch database beside the environment makes its schema.
    let (made, version, _) = built_by(s, &file, &sql, false, cancel).await?;
    let changes = crate::schema::diff(&made, &live);
    if !changes.is_empty() {
        let listed: Vec<String> = changes
            .iter()
            .take(5)
            .map(|c| {
                let here = match c.what() {
                    "added" => "only here",
                    "removed" => "missing here",
                    _ => "different here",
                };
                format!("{} {}: {here}", c.kind.as_str(), c.name)
            })
            .collect();
        let more = if changes.len() > 5 { "; …" } else { "" };
        return Err(Error::failed(if written {
            format!(
                "the baseline written from {label}'s schema does not make it again on a scratch database \
                 ({}{more}): nothing was written or recorded.",
                listed.join("; ")
            )
        } else {
            format!(
                "{label}'s schema is not what {file} makes ({}{more}): nothing was recorded. Bring it in line by \
                 hand first.",
                listed.join("; ")
            )
        }));
    }
    let outcome = baseline::BaselineOutcome {
        file: file.clone(),
        version,
        written,
        recorded: !dry_run,
        dry_run,
        objects: live.objects.len(),
        sql: sql.clone(),
    };
    if dry_run {
        return Ok(outcome);
    }
    let path = s.ws.migrations.join(&file);
    if written {
        std::fs::create_dir_all(&s.ws.migrations)
            .map_err(|e| Error::input(format!("cannot create {}: {e}", s.ws.migrations.display())))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, sql.as_bytes()))
            .map_err(|e| Error::input(format!("cannot write {}: {e}; nothing was recorded", path.display())))?;
    }
    let source = s.ws.source()?;
    let m = baseline::existing(&source)
        .ok_or_else(|| Error::failed(format!("{} is gone from {}", file, s.ws.migrations.display())))?;
    let mut db = s.open(false).await?;
    let recorded = async {
        db.lock(s.lock_timeout).await?;
        let r = async {
            if !db.applied().await?.is_empty() {
                return Err(Error::new(
                    Problem::PlanChanged,
                    "a migration was recorded here meanwhile: nothing was recorded",
                ));
            }
            db.ensure_tables().await?;
            let change = db::Amend::Adopt {
                version: m.version,
                description: m.description.clone(),
                checksum: m.checksum.clone(),
            };
            let event = db::NewEvent {
                kind: db::EventKind::Baseline,
                version: Some(m.version),
                description: m.description.clone(),
                duration: None,
                outcome: db::Outcome::Ok,
                error: None,
                detail: Some(format!(
                    "recorded as applied, not run: the schema was already there ({} objects)",
                    live.objects.len()
                )),
            };
            db.amend(&[(change, event)], &db::actor()).await
        }
        .await;
        let _ = db.unlock().await;
        r
    }
    .await;
    db.close().await;
    if let Err(mut e) = recorded {
        if written {
            e.message = format!(
                "{} was written, but recording it failed: {}. Running baseline again records it.",
                path.display(),
                e.message
            );
        }
        return Err(e);
    }
    Ok(outcome)
}

/// What `squash` and `rebase` must read besides the environments: each fleet whose databases are
/// not environments (a pattern's or a file's). They cannot be read here, so each stands as an
/// environment that cannot be read: the run refuses, unless a person who knows that fleet has none
/// of the migrations applied leaves it out (`--skip "fleet NAME"`). Otherwise a member that applied
/// a renamed file would later fail, and be told to run it again.
pub fn unread_fleets(p: &project::Project) -> Vec<(String, Result<Session>)> {
    p.config
        .fleet
        .iter()
        .filter(|(_, f)| f.envs.is_none())
        .map(|(name, _)| {
            let why = Error::input(format!(
                "fleet {name}'s databases are not environments, and squash and rebase read environments only"
            ));
            (format!("fleet {name}"), Err(why))
        })
        .collect()
}

/// `--skip` names that are not environments (a typo would leave out nothing, silently).
fn unknown_skips<T>(envs: &[(String, T)], skip: &[String]) -> Result<()> {
    match skip.iter().find(|n| !envs.iter().any(|(e, _)| e == *n)) {
        Some(n) => Err(Error::input(format!("there is no environment `{n}` to skip"))),
        None => Ok(()),
    }
}

/// What `rebase` did (or would), and which environments it checked.
#[derive(ts_rs::TS, Debug, Clone, serde::Serialize)]
#[ts(export)]
pub struct RebaseOutcome {
    pub plan: crate::migration::rebase::RebasePlan,
    /// The environments whose history was read.
    pub checked: Vec<String>,
    /// Environments left out on purpose (`--skip`) because they could not be read.
    pub skipped: Vec<String>,
    pub dry_run: bool,
}

/// Renumbers the migrations in the way of a conflict or out of order to follow the newest one,
/// after reading every environment's history: one that has any of them applied refuses it, and
/// one that cannot be read refuses it too unless it is in `skip`.
pub async fn rebase(
    migrations: &Path,
    envs: Vec<(String, Result<Session>)>,
    skip: &[String],
    dry_run: bool,
) -> Result<RebaseOutcome> {
    use crate::migration::rebase;
    let source = Source::load(migrations)?;
    let mut applied = std::collections::BTreeSet::new();
    let (mut checked, mut unreachable, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    unknown_skips(&envs, skip)?;
    for (name, session) in envs {
        let read = match session {
            Ok(s) => s.reading(|db| db.applied()).await,
            Err(e) => Err(e),
        };
        match read {
            Ok(rows) => {
                applied.extend(rows.iter().map(|a| a.version));
                checked.push(name);
            }
            // Left out only when it cannot be read: one that can is always checked.
            Err(_) if skip.contains(&name) => skipped.push(name),
            Err(e) => unreachable.push((name, e.problem, e.message)),
        }
    }
    let plan = rebase::plan(&source, &applied, chrono::Utc::now())?;
    if !plan.renames.is_empty()
        && let Some((name, problem, why)) = unreachable.first()
    {
        return Err(Error::new(
            read_problem(problem.clone()),
            format!(
                "cannot read the history of {name} ({why}): rebase reads every environment first, since renaming a \
                 migration {name} has applied would run it again there. Nothing was renamed."
            ),
        )
        .with_remedy(Remedy::SkipEnv { env: name.clone(), squash_to: None }));
    }
    if !dry_run {
        rebase::apply(&plan, migrations)?;
    }
    Ok(RebaseOutcome { plan, checked, skipped, dry_run })
}

/// What to squash: everything up to `to`.
#[derive(Debug, Clone)]
pub struct SquashRequest {
    pub to: i64,
    pub dry_run: bool,
    /// Environments left out on purpose when they cannot be read.
    pub skip: Vec<String>,
    /// Squash though some of the files change rows (the squashed file makes the schema only).
    pub schema_only: bool,
}

/// Replaces the migrations up to `req.to` with one file, made on scratch databases beside `s`'s
/// server and proven to build the same schema, and rewrites the history of every environment in
/// `envs` that has them applied, one transaction each. Every environment is read, and every check
/// made, before anything changes; one behind `to`, or one that cannot be read (unless skipped),
/// refuses it by name.
pub async fn squash(
    s: &Session,
    envs: Vec<(String, Result<Session>)>,
    req: &SquashRequest,
    cancel: &Cancel,
) -> Result<crate::migration::squash::SquashOutcome> {
    use crate::migration::squash::{self, EnvSquash};
    let dialect = s.ws.target.dialect();
    if !req.dry_run {
        squash::finish_interrupted(&s.ws.migrations, req.to)?;
    }
    let source = s.source()?;
    source.ensure_valid()?;
    let now = chrono::Utc::now();

    // The squashed file: written by an earlier run, or made now.
    let (squashed, file, sql, removed, data) = match squash::existing(&source, req.to) {
        Some((m, versions)) => (versions, m.file_name(), m.sql.clone(), Vec::new(), Vec::new()),
        None => {
            let ms: Vec<&MigrationFile> = source.migrations.iter().filter(|m| m.version <= req.to).collect();
            if source.get(req.to).is_none() {
                return Err(Error::input(format!("no migration has version {}", req.to)).with_remedy(Remedy::Status));
            }
            if ms.len() < 2 {
                return Err(Error::input(format!(
                    "{} is the only migration up to {}: there is nothing to squash",
                    ms[0].file_name(),
                    req.to
                )));
            }
            let data: Vec<String> =
                ms.iter().filter(|m| squash::changes_rows(&m.sql, dialect)).map(|m| m.file_name()).collect();
            // Privileges the squashed file cannot keep: any beyond the database, and any at all
            // where the dump tool writes none.
            let kept = if crate::backup::tool::for_dialect(dialect, &s.connect.tables).dumps_privileges() {
                squash::Privileges::OnObjects
            } else {
                squash::Privileges::None
            };
            let lost: Vec<String> =
                ms.iter().filter(|m| squash::privileges_of(&m.sql, dialect) > kept).map(|m| m.file_name()).collect();
            if !lost.is_empty() && !req.schema_only {
                return Err(Error::input(format!(
                    "{} grant, revoke or change roles or privileges that a dump of {}'s database does not hold: the \
                     squashed file would lose them. Keep those statements in a migration after the squashed ones, or \
                     squash anyway with --schema-only",
                    lost.join(", "),
                    dialect.name()
                )));
            }
            if !data.is_empty() && !req.schema_only {
                return Err(Error::input(format!(
                    "{} change rows, and the squashed file makes the schema only: a new database would lack those rows. \
                     Move that data elsewhere (a seed), or squash anyway with --schema-only",
                    data.join(", ")
                )));
            }
            let removed: Vec<String> = ms
                .iter()
                .flat_map(|m| {
                    let down =
                        m.down_path.as_ref().filter(|_| m.has_down).map(|p| crate::migration::source::file_name(p));
                    std::iter::once(m.file_name()).chain(down)
                })
                .collect();
            let versions: Vec<i64> = ms.iter().map(|m| m.version).collect();
            let file = format!("{}_squashed.sql", req.to);
            (versions, file, String::new(), removed, data)
        }
    };

    // Every environment's history, before anything is made or changed.
    unknown_skips(&envs, &req.skip)?;
    let mut states: Vec<(String, Option<Session>, EnvSquash)> = Vec::new();
    let mut reads: Vec<(String, Session, Vec<db::Applied>)> = Vec::new();
    for (name, session) in envs {
        let read = match session {
            Ok(session) => match session.reading(|db| db.applied()).await {
                Ok(applied) => Ok((session, applied)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match read {
            // The squashed file is one database's SQL: every environment must speak it.
            Ok((session, _)) if session.ws.target.dialect() != dialect => {
                return Err(Error::input(format!(
                    "{name} is {}, and the squashed file would be {}'s SQL: squash needs every environment on one kind \
                     of database. Nothing was changed",
                    session.ws.target.dialect().name(),
                    dialect.name()
                )));
            }
            Ok((session, applied)) => reads.push((name, session, applied)),
            // Left out only when it cannot be read: one that can is always checked.
            Err(_) if req.skip.contains(&name) => states.push((name, None, EnvSquash::Skipped)),
            Err(e) => return Err(cannot_read(&name, e, req.to)),
        }
    }
    // An applied file edited since: its edit would vanish into the squashed file unreported.
    for (name, _, applied) in &reads {
        for a in applied.iter().filter(|a| squashed.contains(&a.version)) {
            if let Some(m) =
                source.get(a.version).filter(|m| removed.contains(&m.file_name()) && m.checksum != a.checksum)
            {
                return Err(Error::new(
                    Problem::Drift { version: a.version },
                    format!(
                        "{} was edited after it was applied on {name}: undo the edit, or accept it (repair), before \
                         squashing. Nothing was changed",
                        m.file_name()
                    ),
                )
                .with_remedy(Remedy::Repair { version: a.version }));
            }
        }
    }

    // Made now: replayed on one scratch database, dumped, and run on another to prove it.
    let sql = if sql.is_empty() {
        let (scratch, mut sdb) = open_scratch(s).await?;
        let built = match verify::replay(sdb.as_mut(), &source, &squashed, cancel).await {
            Ok(()) => sdb.inspect().await,
            Err(e) => Err(e),
        };
        let version = match &built {
            Ok(_) => sdb.server_version().await,
            Err(_) => Ok(String::new()),
        };
        let target = scratch.target.clone();
        let dumped = match (&built, version) {
            (Ok(_), Ok(v)) => {
                let tool = crate::backup::tool::for_dialect(dialect, &scratch.options().tables);
                match if dialect == Dialect::Sqlite { Ok(Default::default()) } else { tool.check(&v).await } {
                    // With the privileges the migrations granted, where the tool writes them.
                    Ok(_) => tool
                        .schema_sql_with_privileges(&target)
                        .await
                        .map(|d| crate::backup::tool::as_migration_sql(&d, &s.connect.tables)),
                    Err(e) => Err(e),
                }
            }
            (Err(_), _) => Ok(String::new()),
            (_, Err(e)) => Err(e),
        };
        let built = close_scratch(scratch, sdb, built.and_then(|b| dumped.map(|d| (b, d)))).await?;
        let (schema, dump) = built;
        let text = squash::render(&dump, dialect, req.to, &squashed, now);
        let (made, _, granted) = built_by(s, &file, &text, true, cancel).await?;
        let changes = crate::schema::diff(&schema, &made);
        let (wanted, granted) = (squash::privileges(&dump), granted.map(|g| squash::privileges(&g)));
        if granted.as_ref().is_some_and(|g| *g != wanted) {
            return Err(Error::failed(
                "the squashed file does not grant the privileges the migrations grant: nothing was changed",
            ));
        }
        if !changes.is_empty() {
            let listed: Vec<String> =
                changes.iter().take(5).map(|c| format!("{} {} {}", c.kind.as_str(), c.name, c.what())).collect();
            return Err(Error::failed(format!(
                "the squashed file does not build what the migrations build ({}): nothing was changed",
                listed.join("; ")
            )));
        }
        text
    } else {
        sql
    };
    let checksum = s.ws.checksums.of(&sql);
    for (name, session, applied) in reads {
        let state = squash::classify(&applied, &squashed, req.to, &checksum).map_err(|e| {
            let mut e = e;
            e.message = format!("{name} {}. Nothing was changed", e.message);
            e
        })?;
        states.push((name, Some(session), state));
    }
    let envs_out: Vec<(String, EnvSquash)> = states.iter().map(|(n, _, st)| (n.clone(), *st)).collect();
    let outcome = |sql: String| squash::SquashOutcome {
        version: req.to,
        file: file.clone(),
        squashed: squashed.clone(),
        removed: removed.clone(),
        data: data.clone(),
        envs: envs_out.clone(),
        dry_run: req.dry_run,
        sql,
    };
    if req.dry_run {
        return Ok(outcome(sql));
    }

    // The files: the squashed one staged (never through a planted link) and put in place, then the
    // ones it replaces removed. A file that cannot be removed puts back those that were and takes
    // the new one away, so the folder is as it was; a squash stopped between the two (a crash)
    // is finished by the next (`finish_interrupted`): at no point is the project left with neither.
    if !removed.is_empty() {
        let dir = &s.ws.migrations;
        let path = dir.join(&file);
        let staged = dir.join(format!(".{file}.new"));
        // Left by a squash that died while writing it; a link planted there is refused below.
        if std::fs::symlink_metadata(&staged).is_ok_and(|m| m.file_type().is_file()) {
            let _ = std::fs::remove_file(&staged);
        }
        // On disk before any old file goes, so a power loss cannot leave neither.
        let write = std::fs::OpenOptions::new().write(true).create_new(true).open(&staged).and_then(|mut f| {
            std::io::Write::write_all(&mut f, sql.as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = write {
            return Err(Error::input(format!("cannot write {}: {e}; nothing was changed", staged.display())));
        }
        if let Err(e) = std::fs::rename(&staged, &path) {
            let _ = std::fs::remove_file(&staged);
            return Err(Error::failed(format!("cannot put {file} in place: {e}; nothing was changed")));
        }
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        let mut kept: Vec<(std::path::PathBuf, Vec<u8>)> = Vec::new();
        for name in &removed {
            let old = dir.join(name);
            let gone = std::fs::read(&old).and_then(|bytes| std::fs::remove_file(&old).map(|()| bytes));
            match gone {
                Ok(bytes) => kept.push((old, bytes)),
                Err(e) => {
                    for (old, bytes) in &kept {
                        let _ = std::fs::write(old, bytes);
                    }
                    let _ = std::fs::remove_file(&path);
                    return Err(Error::failed(format!(
                        "cannot remove {name}: {e}; the files are as they were and no history was changed"
                    )));
                }
            }
        }
    }

    // Each history, in one transaction each.
    let m = s.ws.source()?;
    let m = m
        .get(req.to)
        .ok_or_else(|| Error::failed(format!("{file} is gone from {}", s.ws.migrations.display())))?
        .clone();
    let mut failed = Vec::new();
    for (name, session, state) in &states {
        let (Some(session), EnvSquash::Rewrite) = (session, state) else { continue };
        let r = async {
            let mut db = session.open(false).await?;
            let r = rewrite(db.as_mut(), &m, &squashed, session.lock_timeout).await;
            db.close().await;
            r
        }
        .await;
        if let Err(e) = r {
            failed.push(format!("{name}: {}", e.message));
        }
    }
    if !failed.is_empty() {
        return Err(Error::failed(format!(
            "{file} replaces the squashed files, but these histories were not rewritten: {}. Running the same squash again \
             rewrites them",
            failed.join("; ")
        )));
    }
    Ok(outcome(String::new()))
}

/// The schema one migration file (`file`, holding `sql`) builds on a scratch database beside `s`,
/// and its version: the proof a baseline or a squashed file gets before it is written. With
/// `privileges`, also the dump with its privileges, where the dump tool writes them.
async fn built_by(
    s: &Session,
    file: &str,
    sql: &str,
    privileges: bool,
    cancel: &Cancel,
) -> Result<(crate::schema::Schema, i64, Option<String>)> {
    let proof = tempfile::tempdir().map_err(|e| Error::failed(format!("cannot make a temporary folder: {e}")))?;
    std::fs::write(proof.path().join(file), sql)
        .map_err(|e| Error::failed(format!("cannot write a temporary file: {e}")))?;
    let tried = Source::load_with(proof.path(), &s.ws.checksums)?;
    let version = tried
        .migrations
        .first()
        .map(|m| m.version)
        .ok_or_else(|| Error::failed(format!("{file} does not read as a migration")))?;
    let (scratch, mut db) = open_scratch(s).await?;
    let made = match verify::replay(db.as_mut(), &tried, &[version], cancel).await {
        Ok(()) => db.inspect().await,
        Err(e) => Err(e),
    };
    let tool = crate::backup::tool::for_dialect(s.ws.target.dialect(), &scratch.options().tables);
    let granted = match (&made, privileges && tool.dumps_privileges()) {
        (Ok(_), true) => match db.server_version().await {
            Ok(v) => match tool.check(&v).await {
                Ok(_) => tool.schema_sql_with_privileges(&scratch.target).await.map(Some),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        _ => Ok(None),
    };
    let made = made.and_then(|m| granted.map(|g| (m, g)));
    let (made, granted) = close_scratch(scratch, db, made).await?;
    Ok((made, version, granted))
}

/// Why an environment's history could not be read, as the refusal of the whole run: a setting
/// (a fleet these verbs cannot read, a bad URL) is bad input, anything else a connection's fault.
fn read_problem(p: Problem) -> Problem {
    match p {
        Problem::Input => Problem::Input,
        _ => Problem::CannotConnect,
    }
}

fn cannot_read(name: &str, e: Error, to: i64) -> Error {
    Error::new(
        read_problem(e.problem.clone()),
        format!(
            "cannot read the history of {name} ({}): squash reads every environment first, since one it does not \
             rewrite would report the squashed migrations missing. Nothing was changed.",
            e.message
        ),
    )
    .with_remedy(Remedy::SkipEnv { env: name.to_string(), squash_to: Some(to) })
}

/// One history's squashed rows replaced by the squashed migration's, under the lock.
async fn rewrite(db: &mut dyn Database, m: &MigrationFile, squashed: &[i64], lock_timeout: Duration) -> Result<()> {
    db.lock(lock_timeout).await?;
    let r = async {
        // A run may have changed it since it was read: it must still have every one applied.
        let now = crate::migration::squash::classify(&db.applied().await?, squashed, m.version, &m.checksum)?;
        if now != crate::migration::squash::EnvSquash::Rewrite {
            return Err(Error::new(Problem::PlanChanged, "its history changed while squashing"));
        }
        let event = |version: i64, detail: String| db::NewEvent {
            kind: db::EventKind::Squash,
            version: Some(version),
            description: m.description.clone(),
            duration: None,
            outcome: db::Outcome::Ok,
            error: None,
            detail: Some(detail),
        };
        let mut changes: Vec<(db::Amend, db::NewEvent)> = squashed
            .iter()
            .map(|v| (db::Amend::Forget { version: *v }, event(*v, format!("squashed into {}", m.file_name()))))
            .collect();
        changes.push((
            db::Amend::Adopt { version: m.version, description: m.description.clone(), checksum: m.checksum.clone() },
            event(
                m.version,
                format!(
                    "recorded as applied: it replaces {}",
                    squashed.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
                ),
            ),
        ));
        db.amend(&changes, &db::actor()).await
    }
    .await;
    let _ = db.unlock().await;
    r
}

/// A folder holding another tool's project made a Godwit project: its migrations imported into a
/// new folder beside them (`import::folder_for`), then godwit.toml written with a `dev` SQLite
/// environment. Nothing is written in a dry run, or when the folder is a project already.
pub async fn import_project(root: &Path, req: &ImportRequest, dialect: Option<Dialect>) -> Result<ImportOutcome> {
    let config = root.join(project::CONFIG_FILE);
    if config.exists() {
        return Err(Error::input(format!("{} exists already: open the project and import there", config.display())));
    }
    let folder = crate::import::folder_for(root);
    let out = import(req, &root.join(folder), dialect, None).await?;
    if !req.dry_run {
        project::init(root, Some(folder))?;
    }
    Ok(out)
}
