//! What the window can ask for, as plain functions over the core (no Tauri types, so the shell's
//! tests call them directly against real databases). The `#[tauri::command]`s in `lib.rs` are
//! one-line wrappers. No SQL here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use godwit::backup::{BackupEntry, BackupEvent, Comparison, Restored, Store};
use godwit::db::{ConnectOptions, Event, Probe};
use godwit::event::{Direction, RunEvent};
use godwit::migration::check::Finding;
use godwit::migration::new::{self, NewMigration};
use godwit::migration::runner::{RunReport, Seen, Work};
use godwit::migration::source::Source;
use godwit::migration::status::StatusReport;
use godwit::ops;
use godwit::profile::{EnvConfig, EnvInfo};
use godwit::project::{self, Project};
use godwit::template::{self, Rendered, TemplateInfo};
use godwit::{Error, Result};
use serde::Serialize;

use crate::state::AppState;

/// What the window shows of a project.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ProjectView {
    pub root: String,
    pub id: String,
    pub migrations: String,
    pub default_env: Option<String>,
    pub envs: Vec<EnvInfo>,
    pub fleets: Vec<godwit::fleet::FleetInfo>,
    /// The colour names an environment can take (or `#rrggbb`).
    pub colors: Vec<String>,
}

/// One typed stream for every long job: its id first (for Cancel), then its progress.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum AppEvent {
    Job {
        id: u32,
    },
    Run {
        event: RunEvent,
    },
    Backup {
        event: BackupEvent,
    },
    /// A fleet's database changed state (`index` in the fleet's order).
    Fleet {
        index: usize,
        #[ts(as = "godwit::fleet::MemberRow")]
        row: Box<godwit::fleet::MemberRow>,
    },
    /// One migration verified (`index` of `total`).
    Verify {
        index: usize,
        total: usize,
        checked: godwit::migration::verify::Checked,
    },
}

/// Sends an event to the window; `false` when the window is gone (the job then stops).
pub type Sink<'a> = &'a (dyn Fn(AppEvent) -> bool + Send + Sync);

const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

fn project(state: &AppState) -> Result<Project> {
    state
        .project
        .lock()
        .expect("not poisoned")
        .clone()
        .ok_or_else(|| Error::input("no project is open: open a folder with godwit.toml or a migrations folder"))
}

fn view(p: &Project) -> ProjectView {
    ProjectView {
        root: p.root.display().to_string(),
        id: p.id(),
        migrations: p.migrations_dir().display().to_string(),
        default_env: p.env_name(None).ok(),
        envs: p.envs(),
        fleets: godwit::fleet::infos(p),
        colors: godwit::profile::color_names(),
    }
}

fn recent_file() -> Option<PathBuf> {
    Some(godwit::folders::config_dir()?.join("recent.json"))
}

pub fn recent_projects() -> Vec<String> {
    recent_file()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn remember(root: &Path) {
    let Some(file) = recent_file() else { return };
    let root = root.display().to_string();
    let mut all = recent_projects();
    all.retain(|r| r != &root);
    all.insert(0, root);
    all.truncate(10);
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(file, serde_json::to_string_pretty(&all).unwrap_or_default());
}

/// Opens a folder: a project (godwit.toml in it or above). A sqlx-style migrations folder (or a
/// folder holding one) is not adopted without asking: the error offers `Remedy::CreateProject`,
/// naming the file it would write, and `create_project` does it.
pub fn open_project(state: &AppState, path: &Path) -> Result<ProjectView> {
    Ok(opened(state, find_project(path)?))
}

/// Opens a folder as `open_project` does, without listing its environments (which asks the keyring).
pub fn load_project(state: &AppState, path: &Path) -> Result<()> {
    keep(state, find_project(path)?);
    Ok(())
}

fn find_project(path: &Path) -> Result<Project> {
    let path = path.canonicalize().map_err(|e| Error::input(format!("cannot open {}: {e}", path.display())))?;
    let Some(p) = Project::find(&path)? else {
        if let Some((tool, from)) = godwit::import::detect(&path) {
            return Err(Error::input(format!(
                "{} has no godwit.toml, and holds {} migrations in {}: importing them makes it a project, with Godwit's \
                 files in {}/.",
                path.display(),
                tool.name(),
                from.display(),
                godwit::import::folder_for(&path)
            ))
            .with_remedy(godwit::error::Remedy::ImportProject {
                root: path.display().to_string(),
                tool,
                from: from.display().to_string(),
                migrations: godwit::import::folder_for(&path).into(),
            }));
        }
        let (root, folder) = adoptable(&path)?;
        let config = root.join(project::CONFIG_FILE);
        let what = match Source::load(&root.join(&folder)) {
            Ok(s) => format!("adopting the {} migration(s) in {folder}/", s.migrations.len()),
            Err(_) => format!("with an empty {folder}/ folder and a SQLite `dev` environment"),
        };
        return Err(Error::input(format!(
            "{} has no godwit.toml. Opening it as a project writes {}, {what}.",
            path.display(),
            config.display()
        ))
        .with_remedy(godwit::error::Remedy::CreateProject {
            root: root.display().to_string(),
            config: config.display().to_string(),
            migrations: folder,
        }));
    };
    Ok(p)
}

/// What reading another tool's project would run (Alembic's Python, `python` or the one found beside
/// it, and the project's files), to be shown before anything runs; `None` for the tools whose files
/// are only read.
pub fn import_code(
    tool: godwit::import::Tool,
    from: &Path,
    python: Option<&Path>,
) -> Result<Option<godwit::import::CodeToRun>> {
    match tool {
        godwit::import::Tool::Alembic => Ok(Some(godwit::import::code_to_run(from, python, None, &[])?)),
        _ => Ok(None),
    }
}

/// What importing another tool's project would write (`Remedy::ImportProject`), or, once a person
/// said yes, the import done and the project opened. `run_code` is what the person agreed to run.
pub async fn import_project(
    state: &AppState,
    root: &Path,
    tool: godwit::import::Tool,
    from: &Path,
    dialect: godwit::db::Dialect,
    run_code: Option<godwit::import::CodeToRun>,
    dry_run: bool,
) -> Result<(ops::ImportOutcome, Option<ProjectView>)> {
    // The interpreter is the one the person agreed to run.
    let python = run_code.as_ref().map(|c| std::path::PathBuf::from(&c.python));
    let req =
        ops::ImportRequest { tool, dir: from.to_path_buf(), python, run_code, offline: true, env: Vec::new(), dry_run };
    let out = ops::import_project(root, &req, Some(dialect)).await?;
    let view = if dry_run { None } else { Some(opened(state, Project::load(root)?)) };
    Ok((out, view))
}

/// The demo project (a SQLite environment: nothing to install), copied into the data folder the
/// first time and opened from there; a copy already there is opened as it is.
pub fn try_demo(state: &AppState) -> Result<ProjectView> {
    const FILES: [(&str, &str); 3] = [
        ("godwit.toml", include_str!("../../godwit.toml")),
        (
            "migrations/20240201145745_create_todos_table.up.sql",
            include_str!("../../migrations/20240201145745_create_todos_table.up.sql"),
        ),
        (
            "migrations/20240201145745_create_todos_table.down.sql",
            include_str!("../../migrations/20240201145745_create_todos_table.down.sql"),
        ),
    ];
    let root = godwit::folders::data_dir()
        .ok_or_else(|| Error::input("this system has no data folder for the demo; set GODWIT_DATA_DIR"))?
        .join("demo");
    if !root.join(project::CONFIG_FILE).exists() {
        for (name, text) in FILES {
            let path = root.join(name);
            let write = || {
                std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
                // Its own id: backups of this copy are not mixed with a clone's demo project.
                std::fs::write(&path, text.replace("id = \"godwit-demo\"", "id = \"godwit-demo-copy\""))
            };
            write().map_err(|e| Error::failed(format!("cannot write the demo project to {}: {e}", path.display())))?;
        }
    }
    Ok(opened(state, Project::load(&root)?))
}

/// A person said yes to `Remedy::CreateProject`: writes its godwit.toml and opens it.
pub fn create_project(state: &AppState, root: &Path, migrations: &str) -> Result<ProjectView> {
    // The folder was chosen in the window: named on purpose.
    project::init(root, Some(migrations), true, None)?;
    Ok(opened(state, Project::load(root)?))
}

/// Where a folder without godwit.toml would become a project: the folder itself when it holds
/// `migrations/` or is empty, its parent when it is a folder of `.sql` files.
fn adoptable(path: &Path) -> Result<(PathBuf, String)> {
    let has_sql = |d: &Path| {
        std::fs::read_dir(d)
            .map(|e| e.flatten().any(|f| f.path().extension().is_some_and(|x| x == "sql")))
            .unwrap_or(false)
    };
    // An sqlx project's sqlx.toml says where its migrations are.
    let theirs = godwit::sqlx_config::in_folder(path)?.and_then(|c| c.migrations_dir);
    if let Some(dir) = theirs.filter(|d| path.join(d).is_dir()) {
        Ok((path.to_path_buf(), dir))
    } else if path.join("migrations").is_dir() {
        Ok((path.to_path_buf(), "migrations".to_string()))
    } else if has_sql(path) {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok((path.parent().unwrap_or(path).to_path_buf(), name))
    } else if std::fs::read_dir(path).is_ok_and(|mut e| e.next().is_none()) {
        // An empty folder: offered as a new project (the remedy says the file it would write).
        Ok((path.to_path_buf(), "migrations".to_string()))
    } else {
        Err(Error::input(format!(
            "{} has no godwit.toml and no migrations folder: open a project, a folder of migrations, or an empty \
             folder to start a new project in.",
            path.display()
        )))
    }
}

fn opened(state: &AppState, p: Project) -> ProjectView {
    let v = view(&p);
    keep(state, p);
    v
}

/// The open project from now on, and first among the recent ones.
fn keep(state: &AppState, p: Project) {
    remember(&p.root);
    *state.project.lock().expect("not poisoned") = Some(p);
}

pub fn current_project(state: &AppState) -> Option<ProjectView> {
    state.project.lock().expect("not poisoned").as_ref().map(view)
}

/// What saving an environment did.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SavedEnv {
    pub project: ProjectView,
    /// The URL held a password: it went to the keyring, and the URL was saved without it.
    pub password_moved: bool,
}

/// Saves an environment from the form. A URL pasted with its password is split: the password goes
/// to the keyring (unless one was typed in its own field), the URL to the file without it.
pub fn save_env(
    state: &AppState,
    name: &str,
    env: EnvConfig,
    personal: bool,
    password: Option<String>,
) -> Result<SavedEnv> {
    let _one_at_a_time = state.editing.lock().expect("not poisoned");
    let mut p = project(state)?;
    let password = password.filter(|p| !p.is_empty()).map(secrecy::SecretString::from);
    let password_moved = ops::save_env(&mut p, name, env, personal, password)?;
    let project = view(&p);
    *state.project.lock().expect("not poisoned") = Some(p);
    Ok(SavedEnv { project, password_moved })
}

/// Lets `env` use the person's own PGPASSWORD and pass file (`Remedy::AllowAmbient`), in their own
/// settings for this project folder.
pub fn allow_ambient(state: &AppState, env: &str) -> Result<()> {
    let _one_at_a_time = state.editing.lock().expect("not poisoned");
    let mut p = project(state)?;
    p.allow_ambient(env, true)?;
    *state.project.lock().expect("not poisoned") = Some(p);
    Ok(())
}

pub fn remove_env(state: &AppState, name: &str) -> Result<ProjectView> {
    let _one_at_a_time = state.editing.lock().expect("not poisoned");
    let mut p = project(state)?;
    p.remove_env(name)?;
    let v = view(&p);
    *state.project.lock().expect("not poisoned") = Some(p);
    Ok(v)
}

/// An environment's placeholders, and those the marked migration files use without a value there
/// (never a secret's value).
pub fn placeholders(state: &AppState, env: &str) -> Result<Vec<project::PlaceholderInfo>> {
    let p = project(state)?;
    let source = p.workspace(Some(env))?.source()?;
    p.placeholders(env, &source)
}

/// Gives an environment's placeholder a value: `secret`, to the OS keyring; else `value`, to the
/// file the environment is in.
pub fn set_placeholder(
    state: &AppState,
    env: &str,
    name: &str,
    value: Option<String>,
    secret: Option<String>,
) -> Result<Vec<project::PlaceholderInfo>> {
    let _one_at_a_time = state.editing.lock().expect("not poisoned");
    let mut p = project(state)?;
    let value = match (secret.filter(|s| !s.is_empty()), value) {
        (Some(s), _) => project::NewValue::Secret(secrecy::SecretString::from(s)),
        (None, Some(v)) => project::NewValue::Text(v),
        (None, None) => return Err(Error::input(format!("give {name} a value, or a secret one"))),
    };
    p.set_placeholder(env, name, value)?;
    *state.project.lock().expect("not poisoned") = Some(p);
    placeholders(state, env)
}

/// Takes a placeholder away from an environment (a secret one's value from the OS keyring too).
pub fn remove_placeholder(state: &AppState, env: &str, name: &str) -> Result<Vec<project::PlaceholderInfo>> {
    let _one_at_a_time = state.editing.lock().expect("not poisoned");
    let mut p = project(state)?;
    p.remove_placeholder(env, name)?;
    *state.project.lock().expect("not poisoned") = Some(p);
    placeholders(state, env)
}

/// A new repeatable file in the project's repeatable folder; its path.
pub fn create_repeatable(state: &AppState, name: &str, sql: &str) -> Result<String> {
    let p = project(state)?;
    Ok(new::create_repeatable(&p.repeatable_dir(), name, sql)?.display().to_string())
}

/// The environment's configuration, for the edit form (never a password).
pub fn env_config(state: &AppState, name: &str) -> Result<(EnvConfig, bool)> {
    let p = project(state)?;
    p.env(name)
        .map(|(e, personal)| (e.clone(), personal))
        .ok_or_else(|| Error::input(format!("there is no environment `{name}`")))
}

/// The environment as `ops` works on it, its password resolved (never on the window's thread:
/// every command that gets here is async).
fn session(state: &AppState, env: &str) -> Result<ops::Session> {
    let p = project(state)?;
    let mut ws = p.workspace(Some(env))?;
    ws.resolve_password(false)?;
    ops::Session::new(ws, Some(&p), ConnectOptions::default(), LOCK_TIMEOUT)
}

/// A person confirmed that the environment's stored password may go to the server it names now
/// (the answer to `Remedy::TrustServer`): binds the password to that server.
pub fn trust_server(state: &AppState, env: &str) -> Result<()> {
    let mut ws = project(state)?.workspace(Some(env))?;
    ws.resolve_password(true).map(|_| ())
}

pub async fn test_env(state: &AppState, env: &str) -> Result<Probe> {
    ops::test_env(&session(state, env)?, None).await
}

pub async fn create_database(state: &AppState, env: &str) -> Result<bool> {
    ops::create_database(&session(state, env)?).await
}

pub fn files_status(state: &AppState, env: &str) -> Result<StatusReport> {
    ops::files_status(&session(state, env)?)
}

pub async fn migration(
    state: &AppState,
    env: &str,
    version: i64,
) -> Result<godwit::migration::detail::MigrationDetail> {
    ops::migration(&session(state, env)?, version).await
}

pub async fn status(state: &AppState, env: &str) -> Result<StatusReport> {
    ops::status(&session(state, env)?, || every_session(state)).await
}

pub async fn history(state: &AppState, env: &str, limit: i64) -> Result<Vec<Event>> {
    ops::history(&session(state, env)?, limit).await
}

pub async fn check(state: &AppState, env: &str) -> Result<Vec<Finding>> {
    ops::check(&session(state, env)?, || every_session(state)).await
}

/// Exactly the SQL a run would send, without running it.
pub async fn plan(
    state: &AppState,
    env: &str,
    direction: Direction,
    to: Option<i64>,
    steps: Option<usize>,
    allow_out_of_order: bool,
) -> Result<RunReport> {
    let work = Work::asked(direction, to, steps)?;
    ops::preview(&session(state, env)?, work, allow_out_of_order, || every_session(state)).await
}
/// What a run asks for.
#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RunRequest {
    pub env: String,
    pub direction: Option<Direction>,
    /// Up: the last version to apply. Down: the version to go back to (it stays applied).
    pub to: Option<i64>,
    /// Down: how many to roll back (default 1).
    pub steps: Option<usize>,
    /// What the person typed to confirm a protected environment.
    pub confirm: Option<String>,
    /// Back up first (protected environments always do).
    pub backup: bool,
    /// Verify that backup in a scratch database first.
    pub verify: bool,
    /// Also apply pending migrations older than applied ones (the person chose to).
    pub allow_out_of_order: bool,
    /// The plan the person previewed: if the run would now do anything else, it does nothing.
    pub expect: Option<Vec<Seen>>,
    /// The person read the lint errors the preview's guard counts, and wants it to run anyway.
    #[serde(default)]
    pub acknowledge_lint: bool,
}

/// Applies or rolls back, streaming progress; stops between migrations when cancelled.
pub async fn run(state: &AppState, req: RunRequest, sink: Sink<'_>) -> Result<RunReport> {
    let s = session(state, &req.env)?;
    let job = state.start_job();
    sink(AppEvent::Job { id: job.id });
    let on_backup = forward(sink, &job);
    let mut on_run = |e: &RunEvent| {
        if !sink(AppEvent::Run { event: e.clone() }) {
            job.cancel.cancel();
        }
    };
    let request = ops::RunRequest {
        backup: req.backup,
        verify: req.verify,
        allow_out_of_order: req.allow_out_of_order,
        expect: req.expect,
        confirm: req.confirm,
        acknowledge_lint: req.acknowledge_lint,
        ..ops::RunRequest::new(Work::asked(req.direction.unwrap_or(Direction::Up), req.to, req.steps)?)
    };
    let (report, _) = ops::run(&s, request, &job.cancel, &mut on_run, &on_backup, || every_session(state)).await?;
    report.into_result()
}

/// What a fleet run does on each database.
#[derive(Debug, Clone, Copy, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FleetAction {
    Status,
    Check,
    /// Everything pending.
    Up,
    /// One step back.
    Down,
    /// The newest backup of each.
    VerifyBackups,
}

#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct FleetRunRequest {
    pub fleet: String,
    pub action: FleetAction,
    /// Databases at once (default 4).
    pub jobs: Option<usize>,
    /// Start no more once this many failed or were not reached.
    pub max_failures: Option<usize>,
    /// Work on this many first; go on only if all of them passed.
    pub canary: Option<usize>,
    /// The fleet's name, typed, when it is protected.
    pub confirm: Option<String>,
    /// The person read the lint errors a protected database's run refused, and wants them run.
    pub acknowledge_lint: bool,
}

/// The SQL a fleet's `up` or `down` would send, given where its members stand (`newest`, from its
/// status); the other actions send none.
pub fn fleet_preview(
    state: &AppState,
    action: FleetAction,
    newest: &[Option<i64>],
) -> Result<Vec<godwit::migration::runner::Step>> {
    let direction = match action {
        FleetAction::Up => Direction::Up,
        FleetAction::Down => Direction::Down,
        _ => return Ok(Vec::new()),
    };
    let p = project(state)?;
    let source = godwit::migration::source::Source::load_with(&p.migrations_dir(), &p.checksums())?;
    godwit::fleet::preview(&source, direction, newest)
}

/// Works on every database of a fleet, streaming each one's row as it changes; a cancel stops
/// starting databases, and the running ones stop after their current migration.
pub async fn fleet_run(state: &AppState, req: FleetRunRequest, sink: Sink<'_>) -> Result<godwit::fleet::FleetReport> {
    use godwit::fleet::{Operation, Policy, Settings};
    let p = project(state)?;
    let operation = match req.action {
        FleetAction::Status => Operation::Status,
        FleetAction::Check => Operation::Check,
        FleetAction::Up => {
            Operation::Run { work: Work::Up(None), allow_out_of_order: false, acknowledge_lint: req.acknowledge_lint }
        }
        FleetAction::Down => Operation::Run {
            work: Work::asked(Direction::Down, None, None)?,
            allow_out_of_order: false,
            acknowledge_lint: false,
        },
        FleetAction::VerifyBackups => Operation::VerifyBackups,
    };
    let request = godwit::fleet::FleetRequest {
        fleet: req.fleet,
        operation,
        policy: Policy {
            jobs: req.jobs.unwrap_or(godwit::fleet::JOBS),
            per_server: None,
            max_failures: req.max_failures,
            canary: req.canary.unwrap_or(0),
        },
        confirm: req.confirm,
        trust_host: false,
        settings: Settings::of(&p, ConnectOptions::default(), LOCK_TIMEOUT)?,
    };
    let job = state.start_job();
    sink(AppEvent::Job { id: job.id });
    // The fleet's members run on tasks of their own; their rows come back here to be sent.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let on: godwit::fleet::OnRow = std::sync::Arc::new(move |i, row| {
        let _ = tx.send((i, row.clone()));
    });
    let run = godwit::fleet::start(&p, request, &job.cancel, on);
    let forward = async {
        while let Some((index, row)) = rx.recv().await {
            if !sink(AppEvent::Fleet { index, row: Box::new(row) }) {
                job.cancel.cancel();
            }
        }
    };
    let (report, ()) = tokio::join!(run, forward);
    report
}

pub fn cancel(state: &AppState, job: u32) -> bool {
    state.cancel(job)
}

pub async fn repair(
    state: &AppState,
    env: &str,
    version: i64,
    reason: &str,
    unchecked: bool,
    confirm: Option<String>,
) -> Result<String> {
    let s = session(state, env)?;
    let job = state.start_job();
    let r = ops::Repairing { version, reason, unchecked };
    ops::repair(&s, r, ops::Amending::Confirmed(confirm.as_deref()), &job.cancel).await
}

pub async fn resolve(
    state: &AppState,
    env: &str,
    version: i64,
    applied: bool,
    unchecked: bool,
    confirm: Option<String>,
) -> Result<String> {
    let s = session(state, env)?;
    let job = state.start_job();
    let r = ops::Resolving { version, applied, unchecked };
    ops::resolve(&s, r, ops::Amending::Confirmed(confirm.as_deref()), &job.cancel).await
}

/// Every environment of the open project, each a session or why not (a missing password makes
/// one unreadable), for the verbs that read every history.
fn every_session(state: &AppState) -> Result<Vec<(String, Result<ops::Session>)>> {
    let p = project(state)?;
    Ok(p.envs().into_iter().map(|e| (e.name.clone(), session(state, &e.name))).chain(ops::unread_fleets(&p)).collect())
}

/// The environment's schema as the project's first migration (`dry_run`: shown, not written). A
/// job: closing the window stops its proof and drops its scratch database before it closes.
pub async fn baseline(
    state: &AppState,
    env: &str,
    dry_run: bool,
    confirm: Option<String>,
) -> Result<godwit::import::baseline::BaselineOutcome> {
    let s = session(state, env)?;
    let job = state.start_job();
    ops::baseline(&s, None, dry_run, confirm.as_deref(), &job.cancel).await
}

/// The migrations up to `to` squashed into one, made on scratch databases beside `env`'s server;
/// every environment's history is read (and rewritten when not a dry run), but those a person
/// leaves out (`skip`, from `Remedy::SkipEnv`). A job, as `baseline` is.
pub async fn squash(
    state: &AppState,
    env: &str,
    to: i64,
    dry_run: bool,
    schema_only: bool,
    skip: Vec<String>,
) -> Result<godwit::migration::squash::SquashOutcome> {
    let s = session(state, env)?;
    let envs = every_session(state)?;
    let req = ops::SquashRequest { to, dry_run, skip, schema_only };
    let job = state.start_job();
    ops::squash(&s, envs, &req, &job.cancel).await
}

/// Renumbers the pending migrations in a conflict, after reading every environment but those a
/// person leaves out (`skip`, from `Remedy::SkipEnv`).
pub async fn rebase(state: &AppState, dry_run: bool, skip: &[String]) -> Result<ops::RebaseOutcome> {
    let migrations = project(state)?.migrations_dir();
    ops::rebase(&migrations, every_session(state)?, skip, dry_run).await
}

pub fn templates(state: &AppState) -> Result<Vec<TemplateInfo>> {
    let p = project(state)?;
    template::list(Some(&p.templates_dir()))
}

pub fn render_template(state: &AppState, env: &str, name: &str, params: BTreeMap<String, String>) -> Result<Rendered> {
    let p = project(state)?;
    let dialect = p.workspace(Some(env))?.target.dialect();
    ops::render_template(&p, dialect, name, &params)
}

/// Writes a new migration (the header is added here, as `godwit new` does).
pub fn create_migration(
    state: &AppState,
    name: &str,
    up: &str,
    down: Option<&str>,
    no_transaction: bool,
    allow_empty: bool,
    own_downs: Vec<godwit::template::OwnDown>,
) -> Result<Vec<String>> {
    let p = project(state)?;
    let spec = NewMigration {
        name: name.into(),
        reversible: down.is_some(),
        up: up.into(),
        down: down.unwrap_or_default().into(),
        no_transaction,
        allow_empty,
        versioning: p.sqlx.as_ref().map(|c| c.versioning),
        own_downs: if down.is_some() { own_downs } else { Vec::new() },
    };
    Ok(new::create(&p.migrations_dir(), &spec, chrono::Utc::now())?
        .into_iter()
        .map(|f| f.display().to_string())
        .collect())
}

pub fn backups(state: &AppState, env: &str) -> Result<Vec<BackupEntry>> {
    let p = project(state)?;
    Store::for_workspace(Some(p.id()), &p.workspace(Some(env))?)?.list()
}

/// Forwards backup progress to the window; cancels the job when the window is gone.
fn forward<'a>(sink: Sink<'a>, job: &'a crate::state::Job<'_>) -> impl Fn(&BackupEvent) + Send + Sync + 'a {
    move |e| {
        if !sink(AppEvent::Backup { event: e.clone() }) {
            job.cancel.cancel();
        }
    }
}

pub async fn backup_now(state: &AppState, env: &str, sink: Sink<'_>) -> Result<BackupEntry> {
    let s = session(state, env)?;
    let job = state.start_job();
    sink(AppEvent::Job { id: job.id });
    ops::backup(&s, &job.cancel, &forward(sink, &job)).await
}

pub async fn verify_backup(state: &AppState, env: &str, id: &str, sink: Sink<'_>) -> Result<Comparison> {
    let s = session(state, env)?;
    let job = state.start_job();
    sink(AppEvent::Job { id: job.id });
    ops::verify_backup(&s, Some(id), &job.cancel, &forward(sink, &job)).await
}

/// Proves every migration's down on a scratch database, streaming each migration's outcome.
pub async fn verify_migrations(
    state: &AppState,
    env: &str,
    from: Option<i64>,
    sink: Sink<'_>,
) -> Result<godwit::migration::verify::VerifyReport> {
    let s = session(state, env)?;
    let job = state.start_job();
    sink(AppEvent::Job { id: job.id });
    let mut on = |index: usize, total: usize, checked: &godwit::migration::verify::Checked| {
        if !sink(AppEvent::Verify { index, total, checked: checked.clone() }) {
            job.cancel.cancel();
        }
    };
    ops::verify(&s, from, None, &job.cancel, &mut on).await
}

/// What was changed by hand on an environment: its applied migrations replayed on a scratch
/// database and compared with the live schema.
pub async fn drift(state: &AppState, env: &str) -> Result<godwit::schema::Compared> {
    let s = session(state, env)?;
    let job = state.start_job();
    ops::drift(&s, &job.cancel).await
}

/// The findings of `godwit lint` on the environment's pending migrations.
pub async fn lint_pending(state: &AppState, env: &str) -> Result<godwit::lint::LintReport> {
    let p = project(state)?;
    ops::lint_pending(&session(state, env)?, &p.root).await
}

/// A migration as the editor holds it, linted for the environment's database (no connection).
pub fn lint_draft(
    state: &AppState,
    env: &str,
    up: &str,
    down: Option<&str>,
    no_transaction: bool,
) -> Result<Vec<godwit::lint::Finding>> {
    let p = project(state)?;
    let ws = p.workspace(Some(env))?;
    // The views the project's migrations make; a folder that cannot be read leaves none known.
    let source = godwit::migration::source::Source::load(&ws.migrations).unwrap_or_default();
    let before: Vec<_> = source.migrations.iter().collect();
    let config = ops::lint_config(Some(&p))?;
    Ok(godwit::lint::lint_draft(up, down, no_transaction, &before, ws.target.dialect(), &config))
}

/// The project's desired schema as one text to edit; `None` where godwit.toml names none.
pub fn desired_schema(state: &AppState, env: &str) -> Result<Option<String>> {
    ops::desired_schema_text(&session(state, env)?)
}

/// The migration from what the project's migrations make to the schema `sql` describes, proven
/// on scratch databases beside the environment's. Writes nothing.
pub async fn plan_from_schema(state: &AppState, env: &str, sql: &str) -> Result<ops::FromSchema> {
    let s = session(state, env)?;
    let job = state.start_job();
    ops::plan_from_text(&s, "the schema", sql, &job.cancel).await
}

/// Plans again and writes the migration, if it may be written (proven, with consent for what
/// loses data) and is the one shown (`shown`: its up and down).
pub async fn write_from_schema(
    state: &AppState,
    env: &str,
    name: &str,
    sql: &str,
    shown: (&[String], &[String]),
    allow_destructive: bool,
) -> Result<Vec<String>> {
    let s = session(state, env)?;
    let job = state.start_job();
    let plan = ops::plan_from_text(&s, "the schema", sql, &job.cancel).await?;
    ops::as_shown(&plan, shown.0, shown.1)?;
    Ok(ops::write_from_schema(&s, name, &plan, allow_destructive)?
        .into_iter()
        .map(|f| f.display().to_string())
        .collect())
}

/// An environment's schema, as Godwit compares it.
pub async fn schema(state: &AppState, env: &str) -> Result<godwit::schema::Schema> {
    ops::schema(&session(state, env)?).await
}

/// Two environments' schemas, object by object.
pub async fn compare(state: &AppState, a: &str, b: &str) -> Result<godwit::schema::Compared> {
    let (sa, sb) = (session(state, a)?, session(state, b)?);
    ops::compare(&sa, &sb).await
}

/// Restores a backup: always asks for the environment's name to be typed.
pub async fn restore_backup(
    state: &AppState,
    env: &str,
    id: &str,
    confirm: Option<String>,
    sink: Sink<'_>,
) -> Result<Restored> {
    let s = session(state, env)?;
    let job = state.start_job();
    sink(AppEvent::Job { id: job.id });
    ops::restore(&s, Some(id), confirm.as_deref(), &job.cancel, &forward(sink, &job)).await
}
