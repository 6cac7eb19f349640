//! The `godwit` command line: parse, call the core, print. Results go to stdout, progress and
//! errors to stderr; exit codes are the contract's (DESIGN.md).

mod progress;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::db::{self, Amend, ConnectOptions, Database, EventKind, NewEvent, Outcome, Target};
use crate::error::{Error, ErrorKind, Result};
use crate::migration::plan::DownTarget;
use crate::migration::runner::{self, Cancel, RunOptions, RunReport};
use crate::migration::source::Source;
use crate::migration::status::{self, State};
use crate::migration::{check, new};
use crate::project::{self, Project, Workspace};
use crate::secret;
use crate::template;
use progress::{Progress, ms};
use std::collections::BTreeMap;

#[derive(Parser, Debug)]
#[command(
    name = "godwit",
    version,
    about = "Database migrations for PostgreSQL, MySQL/MariaDB and SQLite, sqlx-compatible"
)]
pub struct Cli {
    /// Project folder holding godwit.toml (default: look upwards from the current folder).
    #[arg(long, global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Environment from godwit.toml (default: default_env, else `dev`).
    #[arg(long, short, global = true, value_name = "ENV", env = "GODWIT_ENV")]
    env: Option<String>,
    /// Ad hoc database URL instead of an environment (DATABASE_URL is read when neither is given).
    #[arg(long, global = true, value_name = "URL", conflicts_with = "env")]
    url: Option<String>,
    /// Migrations folder for --url (default: ./migrations).
    #[arg(long, global = true, value_name = "DIR")]
    source: Option<PathBuf>,
    /// Seconds to wait for the database to answer when connecting (default 10; 5 for `env test`).
    #[arg(long, global = true, value_name = "SECS")]
    connect_timeout: Option<u64>,
    /// The name of a protected environment, to change it where there is no terminal to type it at.
    #[arg(long, global = true, value_name = "ENV")]
    confirm: Option<String>,
    /// Seconds to wait for another run's migration lock.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    lock_timeout: u64,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Make this folder a Godwit project (adopts an existing sqlx migrations folder).
    Init {
        #[arg(long, default_value = "migrations")]
        migrations: String,
    },
    /// Create a migration (asks for the name on a terminal).
    New {
        /// What the migration does, e.g. add_email_column (asked for on a terminal when left out).
        name: Option<String>,
        /// One irreversible VERSION_name.sql instead of an up/down pair.
        #[arg(long)]
        simple: bool,
        /// Fill the migration from a template (`godwit templates` lists them).
        #[arg(long, short)]
        template: Option<String>,
        /// A template parameter, KEY=VALUE (repeat for each).
        #[arg(long = "param", short, value_name = "KEY=VALUE")]
        params: Vec<String>,
        #[command(flatten)]
        dialect: DialectFlag,
    },
    /// Connection profiles: add, list, test, remove environments.
    Env {
        #[command(subcommand)]
        cmd: EnvCmd,
    },
    /// Passwords in the OS keyring: set or remove an environment's.
    Secret {
        #[command(subcommand)]
        cmd: SecretCmd,
    },
    /// The templates `new --template` can use, with their parameters.
    Templates {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Apply pending migrations.
    Up {
        /// Stop after this version.
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Show what would run, with its SQL, and run nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also apply pending migrations older than the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
    },
    /// Roll back the newest applied migration (or more).
    Down {
        /// How many of the newest applied migrations to roll back (default 1).
        #[arg(long, conflicts_with = "to", value_name = "N")]
        steps: Option<usize>,
        /// Roll back everything after this version (0: everything).
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Show what would run, with its SQL, and run nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Roll back the newest applied migration and apply it again.
    Redo,
    /// Applied and pending migrations.
    Status(JsonFlag),
    /// The event log: applies, rollbacks, failures, repairs, resolves.
    History {
        /// How many of the newest events to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Everything that would stop or surprise a run, each with its way out.
    Check {
        /// Check the files only, without connecting.
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Compare applied migrations' checksums with their files.
    Verify,
    /// Accept the edited file of an applied migration (records the new checksum).
    Repair {
        /// The applied migration whose edited file to accept.
        version: i64,
        /// Why, for the log.
        #[arg(long)]
        reason: String,
    },
    /// Clear a failed migration after fixing the database by hand.
    #[command(group(clap::ArgGroup::new("how").required(true).args(["applied", "rolled_back"])))]
    Resolve {
        /// The failed migration's version.
        version: i64,
        /// You finished the migration's changes by hand.
        #[arg(long)]
        applied: bool,
        /// You undid the migration's changes by hand (also forgets an applied migration whose file was removed).
        #[arg(long)]
        rolled_back: bool,
    },
}

#[derive(Subcommand, Debug)]
enum EnvCmd {
    /// Add an environment to godwit.toml (or, with --personal, to your own settings):
    /// `--url URL` (without a password), or --driver with --host, --port, --database, --user.
    Add {
        name: String,
        /// Instead of --url: postgres, mysql or sqlite.
        #[arg(long, requires = "database")]
        driver: Option<String>,
        #[arg(long, requires = "driver")]
        host: Option<String>,
        #[arg(long, requires = "driver")]
        port: Option<u16>,
        #[arg(long)]
        database: Option<String>,
        #[arg(long, requires = "driver")]
        user: Option<String>,
        /// A colour for the app (e.g. amber, red, #3b82f6).
        #[arg(long)]
        color: Option<String>,
        /// Ask for the environment's name before changing it, and back up before every run.
        #[arg(long)]
        protected: bool,
        /// Keep it in your own settings, not in the committed godwit.toml.
        #[arg(long)]
        personal: bool,
    },
    /// The environments, with where each one's password comes from.
    List(JsonFlag),
    /// Connect and report the server version, round trip and migration history.
    Test { name: Option<String> },
    /// Remove an environment and its stored password.
    Remove { name: String },
}

#[derive(Subcommand, Debug)]
enum SecretCmd {
    /// Store an environment's password in the OS keyring (typed without echo, or read from stdin).
    Set {
        env: String,
        /// Read the password from standard input instead of asking.
        #[arg(long)]
        stdin: bool,
    },
    /// Remove an environment's password from the OS keyring.
    Remove { env: String },
}

#[derive(Args, Debug)]
struct DialectFlag {
    /// Write SQL for this database instead of the environment's: postgres, mysql or sqlite.
    #[arg(long, value_name = "DB")]
    dialect: Option<String>,
}

#[derive(Args, Debug)]
struct JsonFlag {
    /// One JSON document on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    // As sqlx-cli does: DATABASE_URL and friends may come from a .env file.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GODWIT_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", e.message);
            e.exit_code()
        }
    }
}

struct Ctx {
    cli: Cli,
    project: Option<Project>,
}

impl Ctx {
    fn workspace(&self) -> Result<Workspace> {
        if let Some(url) =
            self.cli.url.as_ref().filter(|_| !matches!(self.cli.verb, Verb::Env { .. } | Verb::Secret { .. }))
        {
            return adhoc(url, self.cli.source.clone());
        }
        if let Some(p) = &self.project {
            let mut w = p.workspace(self.cli.env.as_deref())?;
            if let Some(s) = &self.cli.source {
                w.migrations = s.clone();
            }
            return Ok(w);
        }
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return adhoc(&url, self.cli.source.clone());
        }
        Err(Error::input(
            "no godwit.toml here or in any parent folder, and no --url or DATABASE_URL: run `godwit init` to make \
             this folder a project, or pass --url.",
        ))
    }

    fn templates_dir(&self) -> Option<PathBuf> {
        self.project.as_ref().map(|p| p.templates_dir())
    }

    /// The SQL dialect to write: `--dialect`, else the environment's database.
    fn dialect(&self, flag: Option<&str>) -> Result<db::Dialect> {
        match flag.map(str::to_ascii_lowercase).as_deref() {
            Some("postgres" | "postgresql" | "pg") => Ok(db::Dialect::Postgres),
            Some("mysql" | "mariadb") => Ok(db::Dialect::MySql),
            Some("sqlite") => Ok(db::Dialect::Sqlite),
            Some(other) => Err(Error::input(format!("--dialect is postgres, mysql or sqlite, not `{other}`"))),
            None => self.workspace().map(|w| w.target.dialect()).map_err(|e| {
                Error::input(format!(
                    "{} (or say which database to write SQL for with --dialect postgres|mysql|sqlite)",
                    e.message
                ))
            }),
        }
    }

    fn source_dir(&self) -> Result<PathBuf> {
        match (&self.cli.source, &self.project) {
            (Some(s), _) => Ok(s.clone()),
            (None, Some(p)) => Ok(p.migrations_dir()),
            (None, None) => Ok(PathBuf::from("migrations")),
        }
    }

    fn connect_options(&self, create_sqlite: bool) -> ConnectOptions {
        ConnectOptions {
            connect_timeout: Duration::from_secs(self.cli.connect_timeout.unwrap_or(10)),
            create_sqlite,
            lock_timeout: Duration::from_secs(self.cli.lock_timeout),
        }
    }

    fn run_options(&self, allow_out_of_order: bool) -> RunOptions {
        let cancel = Cancel::default();
        let c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping after the current migration (Ctrl-C again to abort it)...");
                c.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        RunOptions { lock_timeout: Duration::from_secs(self.cli.lock_timeout), allow_out_of_order, cancel }
    }

    /// Connects to change the database: a protected environment asks for its name first.
    async fn open(&self, create_sqlite: bool) -> Result<(Box<dyn Database>, Source, String)> {
        let w = self.workspace()?;
        if w.protected {
            let typed = match &self.cli.confirm {
                Some(c) => Some(c.clone()),
                None if std::io::stdin().is_terminal() => Some(prompt(&format!(
                    "{} is protected. Type its name to go on: ",
                    w.env.as_deref().unwrap_or_default()
                ))?),
                None => None,
            };
            project::check_confirmation(&w, typed.as_deref())?;
        }
        let (db, source, label) = self.open_for_reading(create_sqlite).await?;
        let db = db.ok_or_else(|| Error::connect(format!("{label} does not exist yet: `godwit up` creates it.")))?;
        Ok((db, source, label))
    }

    /// Like `open`, but a SQLite file that does not exist yet reads as an empty database (`None`)
    /// instead of being created.
    async fn open_for_reading(&self, create_sqlite: bool) -> Result<(Option<Box<dyn Database>>, Source, String)> {
        let mut w = self.workspace()?;
        let source = Source::load(&w.migrations)?;
        let label = match &w.env {
            Some(e) => format!("{e} ({})", w.target.display()),
            None => w.target.display(),
        };
        if !create_sqlite && w.target.is_unborn() {
            return Ok((None, source, label));
        }
        w.resolve_password();
        let db = db::connect(&w.target, &self.connect_options(create_sqlite)).await?;
        Ok((Some(db), source, label))
    }
}

fn adhoc(url: &str, source: Option<PathBuf>) -> Result<Workspace> {
    let cwd = std::env::current_dir().map_err(|e| Error::input(format!("no current folder: {e}")))?;
    Ok(Workspace::adhoc(Target::parse(url, &cwd)?, source.unwrap_or_else(|| cwd.join("migrations"))))
}

async fn run(cli: Cli) -> Result<()> {
    let start = match &cli.project {
        Some(p) => p.clone(),
        None => std::env::current_dir().map_err(|e| Error::input(format!("no current folder: {e}")))?,
    };
    if let Verb::Init { migrations } = &cli.verb {
        let (path, adopted) = project::init(&start, migrations)?;
        println!("Created {} with a `dev` environment (SQLite file dev.db).", path.display());
        if adopted > 0 {
            println!("Adopted {adopted} existing migration(s) in {migrations}/.");
        }
        println!("Next: `godwit new create_first_table`, then `godwit up`.");
        return Ok(());
    }
    let adhoc =
        cli.url.is_some() && cli.project.is_none() && !matches!(cli.verb, Verb::Env { .. } | Verb::Secret { .. });
    let project = if adhoc { None } else { Project::find(&start)? };
    if cli.project.is_some() && project.is_none() {
        return Err(Error::input(format!("no {} in {}", project::CONFIG_FILE, start.display())));
    }
    let ctx = Ctx { cli, project };
    match &ctx.cli.verb {
        Verb::Init { .. } => unreachable!("handled above"),
        Verb::New { name, simple, template, params, dialect } => {
            new_verb(&ctx, name.clone(), *simple, template.as_deref(), params, dialect.dialect.as_deref())
        }
        Verb::Templates { json } => templates(&ctx, json.json),
        Verb::Env { cmd } => env_verb(&ctx, cmd).await,
        Verb::Secret { cmd } => secret_verb(&ctx, cmd),
        Verb::Up { to, dry_run, allow_out_of_order } => up(&ctx, *to, *dry_run, *allow_out_of_order).await,
        Verb::Down { steps, to, dry_run } => {
            let target = match (steps, to) {
                (_, Some(v)) => DownTarget::To(*v),
                (Some(n), None) => DownTarget::Steps(*n),
                (None, None) => DownTarget::Steps(1),
            };
            down(&ctx, target, *dry_run).await
        }
        Verb::Redo => redo(&ctx).await,
        Verb::Status(j) => status_verb(&ctx, j.json).await,
        Verb::History { limit, json } => history(&ctx, *limit, json.json).await,
        Verb::Check { offline, json } => check_verb(&ctx, *offline, json.json).await,
        Verb::Verify => verify(&ctx).await,
        Verb::Repair { version, reason } => repair(&ctx, *version, reason).await,
        Verb::Resolve { version, applied, .. } => resolve(&ctx, *version, *applied).await,
    }
}

/// Reads from a database that may not exist yet (nothing to read) and closes it.
async fn read<T: Default>(
    db: Option<Box<dyn Database>>,
    f: impl AsyncFnOnce(&mut dyn Database) -> Result<T>,
) -> Result<T> {
    let Some(mut db) = db else {
        return Ok(T::default());
    };
    let result = f(db.as_mut()).await;
    db.close().await;
    result
}

fn print_json(v: &impl Serialize) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

fn prompt(question: &str) -> Result<String> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| Error::input(format!("cannot read the answer: {e}")))?;
    Ok(line.trim().to_string())
}

fn new_verb(
    ctx: &Ctx,
    name: Option<String>,
    simple: bool,
    template: Option<&str>,
    params: &[String],
    dialect: Option<&str>,
) -> Result<()> {
    let tty = std::io::stdin().is_terminal();
    let name = match name {
        Some(n) => n,
        None if tty => prompt("Migration name (e.g. create_todos_table): ")?,
        None => return Err(Error::input("give the migration a name: `godwit new create_todos_table`")),
    };
    let mut spec = new::NewMigration { name, reversible: !simple, ..Default::default() };
    if let Some(t) = template {
        let mut values = parse_params(params)?;
        let dir = ctx.templates_dir();
        if values.is_empty() && tty {
            let info = template::list(dir.as_deref())?.into_iter().find(|i| i.name == t);
            for p in info.map(|i| i.params).unwrap_or_default() {
                let help = p.help.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
                let default =
                    p.default.as_deref().filter(|d| !d.is_empty()).map(|d| format!(" [{d}]")).unwrap_or_default();
                let answer =
                    prompt(&format!("{}{help}{default}: ", if p.label.is_empty() { &p.name } else { &p.label }))?;
                if !answer.is_empty() {
                    values.insert(p.name, answer);
                }
            }
        }
        let rendered = template::render(t, &values, ctx.dialect(dialect)?, dir.as_deref())?;
        spec.reversible = rendered.down.is_some() && !simple;
        spec.up = rendered.up;
        spec.down = rendered.down.unwrap_or_default();
        spec.no_transaction = rendered.no_transaction;
    }
    let files = new::create(&ctx.source_dir()?, &spec, chrono::Utc::now())?;
    for f in files {
        println!("Created {}", f.display());
    }
    Ok(())
}

fn parse_params(params: &[String]) -> Result<BTreeMap<String, String>> {
    params
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| Error::input(format!("--param takes KEY=VALUE, not `{kv}`")))
        })
        .collect()
}

fn templates(ctx: &Ctx, json: bool) -> Result<()> {
    let all = template::list(ctx.templates_dir().as_deref())?;
    if json {
        print_json(&all);
        return Ok(());
    }
    for t in &all {
        let origin = match t.origin {
            template::Origin::BuiltIn => "built in",
            template::Origin::Project => "project",
        };
        println!("{} ({origin}): {}", t.name, t.description);
        for p in &t.params {
            let default =
                p.default.as_deref().filter(|d| !d.is_empty()).map(|d| format!(", default {d}")).unwrap_or_default();
            let req = if p.required && p.default.is_none() { ", required" } else { "" };
            let help = p.help.as_deref().map(|h| format!(": {h}")).unwrap_or_default();
            println!("    {:<20} {:?}{default}{req}{help}", p.name, p.kind);
        }
    }
    Ok(())
}

fn finish_run(report: RunReport, label: &str, started: Instant) -> Result<()> {
    let verb = match report.direction {
        crate::event::Direction::Up => "Applied",
        crate::event::Direction::Down => "Rolled back",
    };
    if report.dry_run {
        if report.planned.is_empty() {
            println!("Nothing to run on {label}.");
        }
        for s in &report.planned {
            let tx = if s.no_transaction { " (no transaction)" } else { "" };
            println!("-- {} {}{tx}\n{}\n", s.version, s.file, s.sql.trim_end());
        }
        if !report.planned.is_empty() {
            println!("Dry run: {} migration(s) would run on {label}; nothing was run.", report.planned.len());
        }
        return Ok(());
    }
    let total = report.planned.len();
    let done = report.done.len();
    if report.cancelled {
        println!(
            "Stopped after {done} of {total} migration(s) on {label}: cancelled. The database has the first {done}."
        );
        return Err(Error::new(ErrorKind::Cancelled, "cancelled"));
    }
    if total == 0 && report.failure.is_none() {
        match report.direction {
            crate::event::Direction::Up => println!("Nothing to do: {label} is up to date."),
            crate::event::Direction::Down => println!("Nothing to roll back on {label}."),
        }
        return Ok(());
    }
    let report = report.into_result()?;
    println!("{verb} {} migration(s) on {label} in {}.", report.done.len(), ms(started.elapsed().as_nanos() as i64));
    Ok(())
}

async fn up(ctx: &Ctx, to: Option<i64>, dry_run: bool, allow_out_of_order: bool) -> Result<()> {
    if dry_run {
        let (db, source, label) = ctx.open_for_reading(false).await?;
        let applied = read(db, async |db| db.applied().await).await?;
        return finish_run(runner::preview_up(&source, &applied, to, allow_out_of_order)?, &label, Instant::now());
    }
    let (mut db, source, label) = ctx.open(true).await?;
    let opts = ctx.run_options(allow_out_of_order);
    let mut progress = Progress::new();
    let started = Instant::now();
    let report = runner::up(db.as_mut(), &source, to, &opts, &mut |e| progress.on_event(e)).await;
    db.close().await;
    finish_run(report?, &label, started)
}

async fn down(ctx: &Ctx, target: DownTarget, dry_run: bool) -> Result<()> {
    if dry_run {
        let (db, source, label) = ctx.open_for_reading(false).await?;
        let applied = read(db, async |db| db.applied().await).await?;
        return finish_run(runner::preview_down(&source, &applied, target)?, &label, Instant::now());
    }
    let (mut db, source, label) = ctx.open(false).await?;
    let opts = ctx.run_options(false);
    let mut progress = Progress::new();
    let started = Instant::now();
    let report = runner::down(db.as_mut(), &source, target, &opts, &mut |e| progress.on_event(e)).await;
    db.close().await;
    finish_run(report?, &label, started)
}

async fn redo(ctx: &Ctx) -> Result<()> {
    let (mut db, source, label) = ctx.open(false).await?;
    let opts = ctx.run_options(false);
    let mut progress = Progress::new();
    let started = Instant::now();
    let result = runner::redo(db.as_mut(), &source, &opts, &mut |e| progress.on_event(e)).await;
    db.close().await;
    let (down, up) = result?;
    let version = down.planned.first().map(|s| s.version).unwrap_or_default();
    finish_run(down, &label, started)?;
    if let Some(up) = up {
        finish_run(up, &label, started)?;
        println!("Redo of {version} passed: its down and up both ran.");
    }
    Ok(())
}

#[derive(Serialize)]
struct StatusDoc<'a> {
    env: Option<String>,
    database: String,
    dialect: db::Dialect,
    summary: status::Summary,
    migrations: &'a [status::StatusRow],
}

async fn status_verb(ctx: &Ctx, json: bool) -> Result<()> {
    let w = ctx.workspace()?;
    let (db, source, label) = ctx.open_for_reading(false).await?;
    let applied = read(db, async |db| db.applied().await).await?;
    let rows = status::rows(&source, &applied);
    let summary = status::summary(&rows);
    if json {
        print_json(&StatusDoc {
            env: w.env,
            database: w.target.display(),
            dialect: w.target.dialect(),
            summary,
            migrations: &rows,
        });
        return Ok(());
    }
    println!("{label} · {}", w.target.dialect().name());
    if rows.is_empty() {
        println!("No migrations in {} yet: `godwit new NAME` creates one.", source.dir.display());
    } else {
        println!("{:<16} {:<8} {:<20} {:>9}  DESCRIPTION", "VERSION", "STATE", "APPLIED AT (UTC)", "TIME");
    }
    for r in &rows {
        let mut notes = Vec::new();
        if r.drift {
            notes.push(format!("edited after apply: `godwit repair {} --reason \"...\"`", r.version));
        }
        if r.out_of_order {
            notes.push("older than applied ones".to_string());
        }
        if r.missing_down {
            notes.push("no down file".to_string());
        }
        match r.state {
            State::Failed => notes.push(format!("failed part way: `godwit resolve {}`", r.version)),
            State::Missing => notes.push("file missing".to_string()),
            _ => {}
        }
        let notes = if notes.is_empty() { String::new() } else { format!("  [{}]", notes.join("; ")) };
        println!(
            "{:<16} {:<8} {:<20} {:>9}  {}{notes}",
            r.version,
            format!("{:?}", r.state).to_lowercase(),
            r.applied_at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
            r.execution_time_ns.map(ms).unwrap_or_default(),
            r.description,
        );
    }
    if !source.problems.is_empty() {
        println!("{} problem(s) in {}: see `godwit check`.", source.problems.len(), source.dir.display());
    }
    let current = summary.current.map(|c| format!(" · current {c}")).unwrap_or_default();
    let mut line = format!("{} applied, {} pending{current}", summary.applied, summary.pending);
    if summary.failed + summary.missing + summary.drift > 0 {
        line.push_str(&format!(
            " · {} failed, {} missing, {} edited: see `godwit check`",
            summary.failed, summary.missing, summary.drift
        ));
    }
    println!("{line}");
    Ok(())
}

async fn history(ctx: &Ctx, limit: i64, json: bool) -> Result<()> {
    let (db, _source, label) = ctx.open_for_reading(false).await?;
    let events = read(db, async |db| db.events(limit).await).await?;
    if json {
        print_json(&events);
        return Ok(());
    }
    if events.is_empty() {
        println!("No events recorded on {label} yet.");
        return Ok(());
    }
    println!(
        "{:<19} {:<8} {:<7} {:<16} {:>9}  {:<20} DESCRIPTION",
        "WHEN (UTC)", "EVENT", "OUTCOME", "VERSION", "TIME", "WHO"
    );
    for e in &events {
        println!(
            "{:<19} {:<8} {:<7} {:<16} {:>9}  {:<20} {}",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.kind.as_str(),
            e.outcome.as_str(),
            e.version.map(|v| v.to_string()).unwrap_or_default(),
            e.duration_ns.map(ms).unwrap_or_default(),
            e.actor,
            e.description.as_deref().unwrap_or_default(),
        );
        for extra in [&e.detail, &e.error].into_iter().flatten() {
            for l in extra.lines() {
                println!("    {l}");
            }
        }
    }
    Ok(())
}

async fn check_verb(ctx: &Ctx, offline: bool, json: bool) -> Result<()> {
    let mut findings;
    if offline {
        let source = Source::load(&ctx.source_dir()?)?;
        let dialect = ctx.workspace().ok().map(|w| w.target.dialect());
        findings = check::check_files(&source, dialect, &[]);
    } else {
        let (db, source, _) = ctx.open_for_reading(false).await?;
        let applied = read(db, async |db| db.applied().await).await?;
        let versions: Vec<i64> = applied.iter().map(|a| a.version).collect();
        findings = check::check_files(&source, Some(ctx.workspace()?.target.dialect()), &versions);
        findings.extend(check::check_history(&status::rows(&source, &applied)));
    }
    if json {
        print_json(&serde_json::json!({ "findings": findings }));
    } else if findings.is_empty() {
        println!("No problems found.");
    } else {
        for f in &findings {
            println!("- {}\n  fix: {}", f.message, f.fix);
        }
    }
    if findings.is_empty() { Ok(()) } else { Err(Error::failed(format!("{} problem(s) found", findings.len()))) }
}

async fn verify(ctx: &Ctx) -> Result<()> {
    let (db, source, label) = ctx.open_for_reading(false).await?;
    let applied = read(db, async |db| db.applied().await).await?;
    let findings: Vec<check::Finding> = check::check_history(&status::rows(&source, &applied))
        .into_iter()
        .filter(|f| matches!(f.kind, check::FindingKind::Drift | check::FindingKind::MissingFile))
        .collect();
    for f in &findings {
        println!("- {}\n  fix: {}", f.message, f.fix);
    }
    if findings.is_empty() {
        println!("All {} applied migration(s) on {label} match their files.", applied.len());
        Ok(())
    } else {
        Err(Error::failed(format!("{} applied migration(s) do not match their files", findings.len())))
    }
}

/// Runs a history change under the migration lock.
async fn amend(
    ctx: &Ctx,
    version: i64,
    build: impl FnOnce(&db::Applied, &Source) -> Result<(Amend, NewEvent, String)>,
) -> Result<()> {
    let (mut db, source, label) = ctx.open(false).await?;
    let result = async {
        db.lock(Duration::from_secs(ctx.cli.lock_timeout)).await?;
        let result = async {
            let applied = db.applied().await?;
            let row = applied.iter().find(|a| a.version == version).ok_or_else(|| {
                Error::input(format!(
                    "migration {version} is not in the history of {label}; `godwit status` lists what is."
                ))
            })?;
            let (change, event, done) = build(row, &source)?;
            db.ensure_tables().await?;
            db.amend(&change, &event, &db::actor()).await?;
            println!("{done}");
            Ok(())
        }
        .await;
        let _ = db.unlock().await;
        result
    }
    .await;
    db.close().await;
    result
}

async fn repair(ctx: &Ctx, version: i64, reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(Error::input(
            "say why with --reason \"...\": it goes to the log beside the old and new checksums.",
        ));
    }
    amend(ctx, version, |row, source| {
        let m = source.get(version).ok_or_else(|| {
            Error::input(format!(
                "migration {version} has no file in {}: there is nothing to accept.",
                source.dir.display()
            ))
        })?;
        if m.checksum == row.checksum {
            return Err(Error::input(format!(
                "{} matches what was applied; there is nothing to repair.",
                m.file_name()
            )));
        }
        let event = NewEvent {
            kind: EventKind::Repair,
            version: Some(version),
            description: m.description.clone(),
            duration: None,
            outcome: Outcome::Ok,
            error: None,
            detail: Some(format!(
                "checksum {} -> {}; reason: {reason}",
                hex::encode(&row.checksum),
                hex::encode(&m.checksum)
            )),
        };
        let done = format!("Accepted the edited {}: its new checksum is recorded.", m.file_name());
        Ok((Amend::Checksum { version, checksum: m.checksum.clone() }, event, done))
    })
    .await
}

async fn resolve(ctx: &Ctx, version: i64, applied: bool) -> Result<()> {
    amend(ctx, version, |row, source| {
        // A migration whose file was removed on purpose can be forgotten the same way.
        let removed = row.success && !applied && source.get(version).is_none();
        if row.success && !removed {
            return Err(Error::input(format!(
                "migration {version} is not marked failed; there is nothing to resolve."
            )));
        }
        let (change, detail, done) = if applied {
            let checksum = source.get(version).map_or_else(|| row.checksum.clone(), |m| m.checksum.clone());
            (
                Amend::Succeeded { version, checksum },
                "finished by hand: marked applied",
                format!("Marked {version} applied."),
            )
        } else {
            (
                Amend::Forget { version },
                "undone by hand: marked rolled back",
                format!("Marked {version} rolled back; `godwit up` will run it again."),
            )
        };
        let event = NewEvent {
            kind: EventKind::Resolve,
            version: Some(version),
            description: row.description.clone(),
            duration: None,
            outcome: Outcome::Ok,
            error: None,
            detail: Some(detail.into()),
        };
        Ok((change, event, done))
    })
    .await
}

fn project_of(ctx: &Ctx) -> Result<Project> {
    ctx.project.clone().ok_or_else(|| {
        Error::input("environments live in godwit.toml: run this inside a project (or `godwit init` to make one).")
    })
}

async fn env_verb(ctx: &Ctx, cmd: &EnvCmd) -> Result<()> {
    match cmd {
        EnvCmd::Add { name, driver, host, port, database, user, color, protected, personal } => {
            let mut p = project_of(ctx)?;
            // `--url` is the global flag; here it is the new environment's URL.
            let url = ctx.cli.url.clone();
            if url.is_some() == driver.is_some() {
                return Err(Error::input(
                    "give the environment's database as --url URL, or as --driver with --database (and --host, --port, --user)",
                ));
            }
            let env = crate::profile::EnvConfig {
                url,
                driver: driver.clone(),
                host: host.clone(),
                port: *port,
                database: database.clone(),
                user: user.clone(),
                color: color.clone(),
                protected: *protected,
            };
            let path = p.add_env(name, env, *personal)?;
            println!("Added environment `{name}` to {}.", path.display());
            let w = p.workspace(Some(name))?;
            if w.target.dialect() != db::Dialect::Sqlite {
                println!(
                    "Store its password with `godwit secret set {name}`, then check it with `godwit env test {name}`."
                );
            }
            Ok(())
        }
        EnvCmd::List(json) => {
            let envs = project_of(ctx)?.envs();
            if json.json {
                print_json(&envs);
                return Ok(());
            }
            if envs.is_empty() {
                println!("No environments yet: `godwit env add NAME --url URL`.");
            }
            for e in envs {
                let mut tags = Vec::new();
                if e.protected {
                    tags.push("protected".to_string());
                }
                if e.personal {
                    tags.push("personal".to_string());
                }
                if let Some(c) = &e.color {
                    tags.push(c.clone());
                }
                tags.push(format!("password: {}", e.password));
                println!("{:<12} {}  [{}]", e.name, e.url, tags.join(", "));
            }
            Ok(())
        }
        EnvCmd::Test { name } => {
            let p = project_of(ctx)?;
            let mut w = p.workspace(name.as_deref().or(ctx.cli.env.as_deref()))?;
            w.resolve_password();
            let timeout = Duration::from_secs(ctx.cli.connect_timeout.unwrap_or(5));
            let opts = ConnectOptions { connect_timeout: timeout, ..ctx.connect_options(false) };
            let probe = db::probe(&w.target, &opts).await?;
            let env = w.env.unwrap_or_default();
            println!("{env}: connected to {} {} at {}", probe.dialect.name(), probe.server_version, w.target.display());
            let history = if probe.history_table {
                format!(
                    "{} migration(s) applied{}",
                    probe.applied,
                    if probe.failed > 0 { format!(", {} failed part way", probe.failed) } else { String::new() }
                )
            } else {
                "no history table yet (nothing applied)".to_string()
            };
            println!("  round trip {:.1} ms · {history}", probe.round_trip_ms);
            Ok(())
        }
        EnvCmd::Remove { name } => {
            let mut p = project_of(ctx)?;
            p.remove_env(name)?;
            println!("Removed environment `{name}` and its stored password.");
            Ok(())
        }
    }
}

fn secret_verb(ctx: &Ctx, cmd: &SecretCmd) -> Result<()> {
    let p = project_of(ctx)?;
    match cmd {
        SecretCmd::Set { env, stdin } => {
            let w = p.workspace(Some(env))?;
            if w.target.dialect() == db::Dialect::Sqlite {
                return Err(Error::input(format!("`{env}` is a SQLite file: it has no password.")));
            }
            let password = if *stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| Error::input(format!("cannot read stdin: {e}")))?;
                line.trim_end_matches(['\n', '\r']).to_string()
            } else if std::io::stdin().is_terminal() {
                rpassword::prompt_password(format!("Password for {env} ({}): ", w.target.display()))
                    .map_err(|e| Error::input(format!("cannot read the password: {e}")))?
            } else {
                return Err(Error::input("no terminal to type the password at: pipe it in with --stdin."));
            };
            if password.is_empty() {
                return Err(Error::input("the password is empty; nothing was stored."));
            }
            secret::set(&p.secret_key(env), &secrecy::SecretString::from(password))?;
            println!("Stored the password of `{env}` in the OS keyring.");
            Ok(())
        }
        SecretCmd::Remove { env } => {
            p.workspace(Some(env))?;
            if secret::remove(&p.secret_key(env))? {
                println!("Removed the password of `{env}` from the OS keyring.");
            } else {
                println!("No password was stored for `{env}`.");
            }
            Ok(())
        }
    }
}
