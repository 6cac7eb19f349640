//! Godwit's desktop shell: a window over the core. Each command is a line or two over `api`;
//! long jobs stream typed events over a channel and can be cancelled.

// A command's error crosses to the front end once per call, serialized: its size on the stack
// costs nothing worth boxing it for.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod error;
pub mod state;

use std::collections::BTreeMap;
use std::path::PathBuf;

use godwit::backup::{BackupEntry, Comparison, Restored};
use godwit::db::Dialect;
use godwit::db::{Event, Probe};
use godwit::event::Direction;
use godwit::folders::About;
use godwit::import::CodeToRun;
use godwit::import::Tool as ImportTool;
use godwit::import::baseline::BaselineOutcome;
use godwit::lint::{Finding as LintFinding, LintReport};
use godwit::migration::check::Finding;
use godwit::migration::detail::MigrationDetail;
use godwit::migration::runner::RunReport;
use godwit::migration::squash::SquashOutcome;
use godwit::migration::status::StatusReport;
use godwit::migration::verify::VerifyReport;
use godwit::ops::{FromSchema, ImportOutcome, RebaseOutcome};
use godwit::profile::EnvConfig;
use godwit::project::PlaceholderInfo;
// As the window knows it (ts-rs names it SchemaComparison).
use godwit::schema::Compared as SchemaComparison;
use godwit::schema::Schema;
use godwit::template::{Rendered, TemplateInfo};
use tauri::ipc::Channel;
use tauri::{Emitter, Manager, State};

use api::{AppEvent, ProjectView, RunRequest, SavedEnv};
use error::CommandResult;
use state::AppState;

/// Adapts a channel to the API's sink: a failed send means the window is gone.
fn sink(ch: &Channel<AppEvent>) -> impl Fn(AppEvent) -> bool + Send + Sync + '_ {
    move |e| ch.send(e).is_ok()
}

// `async`: off the window's thread, since listing environments asks the keyring (up to its timeout).
#[tauri::command(async)]
fn open_project(state: State<'_, AppState>, path: PathBuf) -> CommandResult<ProjectView> {
    Ok(api::open_project(&state, &path)?)
}

#[tauri::command(async)]
fn create_project(state: State<'_, AppState>, root: PathBuf, migrations: String) -> CommandResult<ProjectView> {
    Ok(api::create_project(&state, &root, &migrations)?)
}

/// The system's folder chooser; `None` when the person closed it.
#[tauri::command]
async fn pick_folder(app: tauri::AppHandle) -> Option<String> {
    use tauri_plugin_dialog::DialogExt;
    // A callback, not the blocking call: no worker thread waits while the dialog is open.
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_title("Open a Godwit project or a folder of migrations").pick_folder(move |p| {
        let _ = tx.send(p);
    });
    rx.await.ok().flatten().and_then(|p| p.into_path().ok()).map(|p| p.display().to_string())
}

#[tauri::command(async)]
fn current_project(state: State<'_, AppState>) -> Option<ProjectView> {
    api::current_project(&state)
}

#[tauri::command]
fn recent_projects() -> Vec<String> {
    api::recent_projects()
}

#[tauri::command(async)]
fn try_demo(state: State<'_, AppState>) -> CommandResult<ProjectView> {
    Ok(api::try_demo(&state)?)
}

#[tauri::command]
fn about() -> About {
    godwit::folders::about()
}

#[tauri::command]
fn env_config(state: State<'_, AppState>, name: String) -> CommandResult<(EnvConfig, bool)> {
    Ok(api::env_config(&state, &name)?)
}

// Async so the keyring's D-Bus round trips run off the window's thread.
#[tauri::command]
async fn save_env(
    state: State<'_, AppState>,
    name: String,
    env: EnvConfig,
    personal: bool,
    password: Option<String>,
) -> CommandResult<SavedEnv> {
    Ok(api::save_env(&state, &name, env, personal, password)?)
}

// Async: it reads and writes the keyring.
#[tauri::command]
async fn trust_server(state: State<'_, AppState>, env: String) -> CommandResult<()> {
    Ok(api::trust_server(&state, &env)?)
}

/// Lets an environment use the person's own PGPASSWORD and pass file.
#[tauri::command]
fn allow_ambient(state: State<'_, AppState>, env: String) -> CommandResult<()> {
    Ok(api::allow_ambient(&state, &env)?)
}

#[tauri::command]
async fn remove_env(state: State<'_, AppState>, name: String) -> CommandResult<ProjectView> {
    Ok(api::remove_env(&state, &name)?)
}

#[tauri::command]
async fn test_env(state: State<'_, AppState>, env: String) -> CommandResult<Probe> {
    Ok(api::test_env(&state, &env).await?)
}

/// Creates the environment's database, empty; `false` when it existed.
#[tauri::command]
async fn create_database(state: State<'_, AppState>, env: String) -> CommandResult<bool> {
    Ok(api::create_database(&state, &env).await?)
}

#[tauri::command]
async fn status(state: State<'_, AppState>, env: String) -> CommandResult<StatusReport> {
    Ok(api::status(&state, &env).await?)
}

/// The migrations as the folder has them, when the database cannot be read.
#[tauri::command(async)]
fn files_status(state: State<'_, AppState>, env: String) -> CommandResult<StatusReport> {
    Ok(api::files_status(&state, &env)?)
}

/// One migration's page.
#[tauri::command]
async fn migration(state: State<'_, AppState>, env: String, version: i64) -> CommandResult<MigrationDetail> {
    Ok(api::migration(&state, &env, version).await?)
}

#[tauri::command]
async fn history(state: State<'_, AppState>, env: String, limit: i64) -> CommandResult<Vec<Event>> {
    Ok(api::history(&state, &env, limit).await?)
}

#[tauri::command]
async fn check(state: State<'_, AppState>, env: String) -> CommandResult<Vec<Finding>> {
    Ok(api::check(&state, &env).await?)
}

#[tauri::command]
async fn plan(
    state: State<'_, AppState>,
    env: String,
    direction: Direction,
    to: Option<i64>,
    steps: Option<usize>,
    allow_out_of_order: bool,
) -> CommandResult<RunReport> {
    Ok(api::plan(&state, &env, direction, to, steps, allow_out_of_order).await?)
}

#[tauri::command]
async fn run_migrations(
    state: State<'_, AppState>,
    req: RunRequest,
    events: Channel<AppEvent>,
) -> CommandResult<RunReport> {
    Ok(api::run(&state, req, &sink(&events)).await?)
}

#[tauri::command]
async fn fleet_run(
    state: State<'_, AppState>,
    req: api::FleetRunRequest,
    events: Channel<AppEvent>,
) -> CommandResult<godwit::fleet::FleetReport> {
    Ok(api::fleet_run(&state, req, &sink(&events)).await?)
}

#[tauri::command]
fn cancel(state: State<'_, AppState>, job: u32) -> bool {
    api::cancel(&state, job)
}

#[tauri::command]
async fn repair(
    state: State<'_, AppState>,
    env: String,
    version: i64,
    reason: String,
    unchecked: bool,
    confirm: Option<String>,
) -> CommandResult<String> {
    Ok(api::repair(&state, &env, version, &reason, unchecked, confirm).await?)
}

#[tauri::command]
async fn resolve(
    state: State<'_, AppState>,
    env: String,
    version: i64,
    applied: bool,
    unchecked: bool,
    confirm: Option<String>,
) -> CommandResult<String> {
    Ok(api::resolve(&state, &env, version, applied, unchecked, confirm).await?)
}

/// The environment's schema as the project's first migration; `dry_run` shows it only.
#[tauri::command]
async fn baseline(
    state: State<'_, AppState>,
    env: String,
    dry_run: bool,
    confirm: Option<String>,
) -> CommandResult<BaselineOutcome> {
    Ok(api::baseline(&state, &env, dry_run, confirm).await?)
}

/// The migrations up to `to` replaced by one; `dry_run` shows what happens where.
#[tauri::command]
async fn squash(
    state: State<'_, AppState>,
    env: String,
    to: i64,
    dry_run: bool,
    schema_only: bool,
    skip: Vec<String>,
) -> CommandResult<SquashOutcome> {
    Ok(api::squash(&state, &env, to, dry_run, schema_only, skip).await?)
}

/// What reading another tool's project runs (Alembic's), shown before it runs; nothing runs.
#[tauri::command]
fn import_code(tool: ImportTool, from: PathBuf, python: Option<PathBuf>) -> CommandResult<Option<CodeToRun>> {
    Ok(api::import_code(tool, &from, python.as_deref())?)
}

/// What importing another tool's project writes (nothing is written); Alembic's runs only the
/// code the person agreed to (`run_code`).
#[tauri::command]
async fn import_preview(
    state: State<'_, AppState>,
    root: PathBuf,
    tool: ImportTool,
    from: PathBuf,
    dialect: Dialect,
    run_code: Option<CodeToRun>,
) -> CommandResult<ImportOutcome> {
    Ok(api::import_project(&state, &root, tool, &from, dialect, run_code, true).await?.0)
}

/// Imports another tool's project and opens it.
#[tauri::command]
async fn import_project(
    state: State<'_, AppState>,
    root: PathBuf,
    tool: ImportTool,
    from: PathBuf,
    dialect: Dialect,
    run_code: Option<CodeToRun>,
) -> CommandResult<ProjectView> {
    let (_, view) = api::import_project(&state, &root, tool, &from, dialect, run_code, false).await?;
    Ok(view.ok_or_else(|| godwit::Error::failed("the project did not open"))?)
}

/// Renumbers the pending migrations in a revision conflict or out of order, after reading every
/// environment; `dry_run` only lists the renames.
#[tauri::command]
async fn rebase(state: State<'_, AppState>, dry_run: bool, skip: Vec<String>) -> CommandResult<RebaseOutcome> {
    Ok(api::rebase(&state, dry_run, &skip).await?)
}

#[tauri::command]
fn templates(state: State<'_, AppState>) -> CommandResult<Vec<TemplateInfo>> {
    Ok(api::templates(&state)?)
}

#[tauri::command]
fn render_template(
    state: State<'_, AppState>,
    env: String,
    name: String,
    params: BTreeMap<String, String>,
) -> CommandResult<Rendered> {
    Ok(api::render_template(&state, &env, &name, params)?)
}

#[tauri::command]
fn create_migration(
    state: State<'_, AppState>,
    name: String,
    up: String,
    down: Option<String>,
    no_transaction: bool,
    allow_empty: bool,
    own_downs: Vec<godwit::template::OwnDown>,
) -> CommandResult<Vec<String>> {
    Ok(api::create_migration(&state, &name, &up, down.as_deref(), no_transaction, allow_empty, own_downs)?)
}

#[tauri::command]
fn create_repeatable(state: State<'_, AppState>, name: String, sql: String) -> CommandResult<String> {
    Ok(api::create_repeatable(&state, &name, &sql)?)
}

// Async: they read the keyring.
#[tauri::command]
async fn placeholders(state: State<'_, AppState>, env: String) -> CommandResult<Vec<PlaceholderInfo>> {
    Ok(api::placeholders(&state, &env)?)
}

#[tauri::command]
async fn set_placeholder(
    state: State<'_, AppState>,
    env: String,
    name: String,
    value: Option<String>,
    secret: Option<String>,
) -> CommandResult<Vec<PlaceholderInfo>> {
    Ok(api::set_placeholder(&state, &env, &name, value, secret)?)
}

#[tauri::command]
async fn remove_placeholder(
    state: State<'_, AppState>,
    env: String,
    name: String,
) -> CommandResult<Vec<PlaceholderInfo>> {
    Ok(api::remove_placeholder(&state, &env, &name)?)
}

#[tauri::command]
fn backups(state: State<'_, AppState>, env: String) -> CommandResult<Vec<BackupEntry>> {
    Ok(api::backups(&state, &env)?)
}

#[tauri::command]
async fn backup_now(state: State<'_, AppState>, env: String, events: Channel<AppEvent>) -> CommandResult<BackupEntry> {
    Ok(api::backup_now(&state, &env, &sink(&events)).await?)
}

#[tauri::command]
async fn verify_backup(
    state: State<'_, AppState>,
    env: String,
    id: String,
    events: Channel<AppEvent>,
) -> CommandResult<Comparison> {
    Ok(api::verify_backup(&state, &env, &id, &sink(&events)).await?)
}

#[tauri::command]
async fn verify_migrations(
    state: State<'_, AppState>,
    env: String,
    from: Option<i64>,
    events: Channel<AppEvent>,
) -> CommandResult<VerifyReport> {
    Ok(api::verify_migrations(&state, &env, from, &sink(&events)).await?)
}

#[tauri::command]
fn fleet_preview(
    state: State<'_, AppState>,
    action: api::FleetAction,
    newest: Vec<Option<i64>>,
) -> CommandResult<Vec<godwit::migration::runner::Step>> {
    Ok(api::fleet_preview(&state, action, &newest)?)
}

#[tauri::command]
async fn drift(state: State<'_, AppState>, env: String) -> CommandResult<SchemaComparison> {
    Ok(api::drift(&state, &env).await?)
}

#[tauri::command]
async fn lint_pending(state: State<'_, AppState>, env: String) -> CommandResult<LintReport> {
    Ok(api::lint_pending(&state, &env).await?)
}

#[tauri::command]
async fn lint_draft(
    state: State<'_, AppState>,
    env: String,
    up: String,
    down: Option<String>,
    no_transaction: bool,
) -> CommandResult<Vec<LintFinding>> {
    Ok(api::lint_draft(&state, &env, &up, down.as_deref(), no_transaction)?)
}

#[tauri::command]
fn desired_schema(state: State<'_, AppState>, env: String) -> CommandResult<Option<String>> {
    Ok(api::desired_schema(&state, &env)?)
}

#[tauri::command]
async fn plan_from_schema(state: State<'_, AppState>, env: String, sql: String) -> CommandResult<FromSchema> {
    Ok(api::plan_from_schema(&state, &env, &sql).await?)
}

#[tauri::command]
async fn write_from_schema(
    state: State<'_, AppState>,
    env: String,
    name: String,
    sql: String,
    up: Vec<String>,
    down: Vec<String>,
    allow_destructive: bool,
) -> CommandResult<Vec<String>> {
    Ok(api::write_from_schema(&state, &env, &name, &sql, (&up, &down), allow_destructive).await?)
}

#[tauri::command]
async fn schema(state: State<'_, AppState>, env: String) -> CommandResult<Schema> {
    Ok(api::schema(&state, &env).await?)
}

#[tauri::command]
async fn compare(state: State<'_, AppState>, a: String, b: String) -> CommandResult<SchemaComparison> {
    Ok(api::compare(&state, &a, &b).await?)
}

#[tauri::command]
async fn restore_backup(
    state: State<'_, AppState>,
    env: String,
    id: String,
    confirm: Option<String>,
    events: Channel<AppEvent>,
) -> CommandResult<Restored> {
    Ok(api::restore_backup(&state, &env, &id, confirm, &sink(&events)).await?)
}

/// Starts the app. The project to open comes from the first argument or GODWIT_PROJECT
/// (`make run` opens the demo project this way); otherwise the window shows recent projects.
pub fn run() {
    godwit::secret::report_panics();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        // The window's size and place, as the person left them (the official plugin).
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .manage(AppState::default())
        .setup(|app| {
            let path = std::env::args().nth(1).or_else(|| std::env::var("GODWIT_PROJECT").ok());
            if let Some(path) = path {
                let state = app.state::<AppState>();
                // Loaded here, listed (with the keyring) when the window asks.
                if let Err(e) = api::load_project(&state, std::path::Path::new(&path)) {
                    tracing::warn!("could not open {path}: {}", e.message);
                }
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window mid-run lets the running migration finish and be recorded, and
            // starts no other; the window goes when the run has stopped. Closing it again stops
            // the running statement on the server (the process must still not end before the
            // server has answered, or the server could go on to finish what was reported stopped).
            if let tauri::WindowEvent::CloseRequested { api, .. } = event
                && let Some(n) = window.state::<AppState>().stop_for_close()
            {
                api.prevent_close();
                let _ = window.emit("godwit://closing", n);
                if n == 1 {
                    let window = window.clone();
                    tauri::async_runtime::spawn(async move {
                        while window.state::<AppState>().has_jobs() {
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                        let _ = window.destroy();
                    });
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            open_project,
            create_project,
            pick_folder,
            current_project,
            recent_projects,
            try_demo,
            about,
            env_config,
            save_env,
            remove_env,
            trust_server,
            test_env,
            create_database,
            status,
            files_status,
            migration,
            history,
            check,
            plan,
            run_migrations,
            fleet_run,
            fleet_preview,
            cancel,
            repair,
            resolve,
            rebase,
            baseline,
            squash,
            import_code,
            allow_ambient,
            import_preview,
            import_project,
            templates,
            render_template,
            create_migration,
            create_repeatable,
            placeholders,
            set_placeholder,
            remove_placeholder,
            backups,
            backup_now,
            verify_backup,
            restore_backup,
            verify_migrations,
            compare,
            drift,
            schema,
            desired_schema,
            plan_from_schema,
            write_from_schema,
            lint_pending,
            lint_draft,
        ])
        .run(tauri::generate_context!())
        .expect("the window could not start");
}
