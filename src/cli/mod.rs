//! The `godwit` command line: parse, call the core, print. Results go to stdout, progress and
//! errors to stderr; exit codes are the contract's (DESIGN.md).

mod author;
mod backups;
mod change;
mod ctx;
mod database;
mod env;
mod fleet;
mod import;
mod lint;
mod progress;
mod schema;
mod shell;
mod show;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::db::{self, ConnectOptions, Target};
use crate::error::{Error, Problem, Result};
use crate::event::Direction;
use crate::migration::runner::{self, Cancel, RunReport, Work};
use crate::migration::source::Source;
use crate::ops;
use crate::project::{self, Project, Workspace};
use crate::secret;
use crate::template;
use author::*;
use change::*;
use ctx::*;
use database::*;
use env::*;
use import::*;
use lint::*;
use progress::{BackupProgress, Progress, bytes, ms};
use schema::*;
use show::*;
use std::collections::BTreeMap;

#[derive(Parser, Debug)]
#[command(
    name = "godwit",
    version,
    about = "Database migrations for PostgreSQL, MySQL/MariaDB and SQLite, sqlx-compatible",
    // Under every verb's own options, not mixed with them.
    next_help_heading = "Global options"
)]
pub struct Cli {
    /// Project folder holding godwit.toml (default: look upwards from the current folder).
    #[arg(long, global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Environment from godwit.toml (default: default_env, else `dev`).
    #[arg(long, short, global = true, value_name = "ENV", env = "GODWIT_ENV")]
    env: Option<String>,
    /// A database URL to work on instead of an environment (DATABASE_URL is read when neither is
    /// given); with `env add`, the new environment's URL (without its password).
    #[arg(long, global = true, value_name = "URL", conflicts_with = "env")]
    url: Option<String>,
    /// Migrations folder for --url (default: sqlx.toml's `migrations-dir`, else ./migrations).
    #[arg(long, global = true, value_name = "DIR")]
    source: Option<PathBuf>,
    /// An sqlx config file to follow instead of the project's sqlx.toml (as sqlx-cli's --config).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Seconds to wait for the database to answer when connecting (default 10; 5 for `env test`).
    #[arg(long, global = true, value_name = "SECS")]
    connect_timeout: Option<u64>,
    /// The name of a protected environment, to change it where there is no terminal to type it at.
    #[arg(long, global = true, value_name = "ENV")]
    confirm: Option<String>,
    /// Seconds to wait for another run's migration lock.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    lock_timeout: u64,
    /// Seconds a running migration may go without the server confirming (asked over another
    /// connection) that it still runs it; then the run stops waiting and says what it can tell.
    #[arg(long, global = true, default_value_t = 300, value_name = "SECS")]
    stall_timeout: u64,
    /// Send the environment's stored password to the server it names now, though it was stored for
    /// another one (a changed godwit.toml), and bind it to the new server from then on.
    #[arg(long, global = true)]
    trust_host: bool,
    #[command(flatten)]
    fleet: fleet::FleetFlags,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Make this folder a Godwit project (adopts an existing sqlx migrations folder).
    Init {
        /// The migrations folder (default: sqlx.toml's `migrations-dir`, else `migrations`).
        #[arg(long)]
        migrations: Option<String>,
    },
    /// Create a migration (asks for the name on a terminal).
    New {
        /// What the migration does, e.g. add_email_column (asked for on a terminal when left out).
        name: Option<String>,
        /// An up/down pair (the default, unless sqlx.toml's `migration-type` says otherwise).
        #[arg(long, short, conflicts_with = "simple")]
        reversible: bool,
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
    /// Back up the environment's database (kept in your data folder, with a manifest).
    Backup,
    /// The environment's backups; `backups verify ID` restores one into a scratch database and checks it.
    Backups {
        #[command(subcommand)]
        cmd: Option<BackupsCmd>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// `backups verify` for the newest backup (with --fleet: of each database).
    #[command(hide = true)]
    VerifyBackups {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Restore a backup (the newest when no id is given) over the environment's database.
    Restore {
        /// The backup's id, from `godwit backups`.
        id: Option<String>,
    },
    /// The environment's database itself: create it empty, or drop it.
    Db {
        #[command(subcommand)]
        cmd: DbCmd,
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
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell, e.g.
    /// `godwit completions bash > ~/.local/share/bash-completion/completions/godwit`.
    Completions { shell: clap_complete::Shell },
    /// Write the man pages (godwit.1 and one per verb) into DIR; for packagers.
    #[command(hide = true)]
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
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
        /// Back up first (protected environments always do); nothing is migrated if the backup fails.
        #[arg(long)]
        backup: bool,
        /// With --backup: restore the backup into a scratch database and check it before migrating.
        #[arg(long, requires = "backup")]
        verify: bool,
        /// With --dry-run: the plan as one JSON document (for --plan); with --fleet, the fleet's
        /// report.
        #[arg(long)]
        json: bool,
        /// Run exactly the plan in FILE (from `up --dry-run --json`); if it changed since (a file
        /// edited, another run, a new file), nothing runs.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["dry_run", "to"])]
        plan: Option<PathBuf>,
        /// On a protected environment: run migrations that lint finds errors in, once you have read
        /// them (at a terminal, you are asked instead).
        #[arg(long)]
        acknowledge_lint: bool,
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
        /// With --dry-run: the plan as one JSON document; with --fleet, the fleet's report.
        #[arg(long)]
        json: bool,
    },
    /// Roll back the newest applied migration and apply it again.
    Redo,
    /// Applied and pending migrations. At a terminal, a long list shows what needs attention and
    /// the newest applied ones; piped, or with --all, every migration.
    Status {
        /// Every migration, at a terminal too.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// One migration: its files and SQL, its header, whether its file matches what was applied, its
    /// events, and what can be done about it.
    Show {
        version: i64,
        #[command(flatten)]
        json: JsonFlag,
    },
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
        #[arg(long, conflicts_with = "schema")]
        offline: bool,
        /// Also compare the live schema with what the applied migrations make (on a scratch database).
        #[arg(long)]
        schema: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Prove every migration's down on a scratch database: for each, apply, roll back, compare the
    /// schema with before, apply again. Exit 1 when a down leaves something or a step fails.
    Verify {
        /// Verify only this version and newer (the older ones are applied to start from).
        #[arg(long, value_name = "VERSION")]
        from: Option<i64>,
        /// SQL that loads data before the first migration verified; each down must then also bring
        /// back every table's row count.
        #[arg(long, value_name = "FILE.sql")]
        seed: Option<PathBuf>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// What was changed by hand: replay the applied migrations on a scratch database and compare
    /// with the live schema. Exit 1 when they differ.
    Drift {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Risky statements before they run: locks on tables in use, lost data, SQL the database
    /// cannot run, downs that do not undo their up. Default: the environment's pending migrations.
    /// Exit 1 when an error-level finding remains.
    Lint {
        /// Files to lint instead, in this order (no connection is made).
        files: Vec<PathBuf>,
        /// Every migration in the folder, without a database.
        #[arg(long, conflicts_with = "files")]
        all: bool,
        /// With --all: only this version and newer; the tables older files create count as
        /// existing (for CI on a branch).
        #[arg(long, value_name = "VERSION", requires = "all")]
        from: Option<i64>,
        /// With --all or files: the SQL dialect, postgres, mysql or sqlite (default: the
        /// environment's database).
        #[arg(long, value_name = "DIALECT")]
        dialect: Option<String>,
        /// text, json or sarif (for code review tools).
        #[arg(long, value_enum, default_value_t = LintFormat::Text)]
        format: LintFormat,
        #[command(flatten)]
        json: JsonFlag,
        /// List the rules and the databases each is checked on.
        #[arg(long)]
        rules: bool,
    },
    /// The environment's schema as Godwit compares it (tables, constraints, indexes, views, ...);
    /// `--format sql` gives it as SQL, written by the database's own dump tool.
    Schema {
        /// text, json, or sql (pg_dump --schema-only, mariadb-dump --no-data, SQLite's own CREATE
        /// statements).
        #[arg(long, value_enum, default_value_t = SchemaFormat::Text)]
        format: SchemaFormat,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// The differences between two environments' schemas, object by object.
    Diff {
        /// The environment to compare from.
        a: String,
        /// The environment to compare with.
        #[arg(required_unless_present = "to_migrations", conflicts_with = "to_migrations")]
        b: Option<String>,
        /// Compare A with what its applied migrations make (as `drift` does).
        #[arg(long)]
        to_migrations: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Bring in another tool's migrations as Godwit files. With --env or --url, also record what
    /// that tool ran on the database as applied (without running it), so `up` runs only the rest.
    Import {
        /// alembic, flyway, dbmate or golang-migrate.
        #[arg(value_parser = ["alembic", "flyway", "dbmate", "golang-migrate"])]
        tool: String,
        /// The other tool's migrations folder (Alembic: the folder with alembic.ini, or with env.py).
        dir: PathBuf,
        /// Show what would be written and recorded; change nothing. For Alembic, the project's
        /// Python (env.py and its revisions, in offline mode) still runs to render the SQL, once
        /// agreed to.
        #[arg(long)]
        dry_run: bool,
        /// The Python that runs the project's Alembic (default: a virtualenv beside it that is
        /// yours, else python3).
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
        /// Alembic: run the project's code (its env.py and revisions) without asking. Without a
        /// terminal to ask at, nothing runs unless this is given.
        #[arg(long)]
        run_code: bool,
        /// The SQL dialect Alembic renders for, postgres, mysql or sqlite (default: the environment's
        /// database).
        #[arg(long, value_name = "DIALECT")]
        dialect: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// For a database no migrations made: write the project's first migration from its schema,
    /// proven on a scratch database, and record it as applied there. With the project's baseline
    /// already written, record it on another database whose schema it makes.
    Baseline {
        /// The baseline's version (default: now, as YYYYMMDDHHMMSS).
        #[arg(long, value_name = "VERSION")]
        version: Option<i64>,
        /// Show the file it would write; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Replace the migrations up to VERSION with one file made from what they build (proven on
    /// scratch databases to build the same schema), and rewrite every environment's history to
    /// match. Every environment is read first; one behind VERSION refuses it.
    Squash {
        /// The newest migration to squash; it and all older ones become one.
        #[arg(long, value_name = "VERSION")]
        to: i64,
        /// Show what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave out an environment that cannot be read (its history then names files that are gone);
        /// a fleet whose databases are not environments is named "fleet NAME".
        #[arg(long, value_name = "ENV")]
        skip: Vec<String>,
        /// Squash though some files change rows: the squashed file makes the schema only.
        #[arg(long)]
        schema_only: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Fix a revision conflict or out-of-order pending migrations: renumber the ones no environment
    /// has applied to follow the newest, re-linking their headers. Every environment is read first.
    Rebase {
        /// Show the renames; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave out an environment that cannot be read (only when you know it has none of them); a
        /// fleet whose databases are not environments is named "fleet NAME".
        #[arg(long, value_name = "ENV")]
        skip: Vec<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
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
enum BackupsCmd {
    /// Restore a backup (the newest when no id is given) into a scratch database and compare
    /// tables, rows and schema with its manifest.
    Verify { id: Option<String> },
}

#[derive(Subcommand, Debug)]
enum DbCmd {
    /// Create the environment's database, empty (nothing is done when it exists).
    Create,
    /// Drop the environment's database and everything in it (its name is asked for first).
    Drop,
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
        /// With --driver: the server's host (default localhost).
        #[arg(long, requires = "driver")]
        host: Option<String>,
        /// With --driver: the server's port (default the driver's).
        #[arg(long, requires = "driver")]
        port: Option<u16>,
        /// With --driver: the database's name (for sqlite, the file).
        #[arg(long)]
        database: Option<String>,
        /// With --driver: the user to connect as.
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
        /// The environment (leave out with --fleet: the fleet's password for each of its servers).
        env: Option<String>,
        /// Read the password from standard input instead of asking.
        #[arg(long)]
        stdin: bool,
    },
    /// Remove an environment's password from the OS keyring.
    Remove { env: String },
    /// Let an environment use your own PGPASSWORD and ~/.pgpass (or PGPASSFILE) when no password
    /// is stored for it. Kept in your own settings for this project folder, never in godwit.toml.
    Ambient {
        env: String,
        /// Stop sending them to it.
        #[arg(long)]
        off: bool,
    },
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
    crate::secret::report_panics();
    let cli = Cli::parse();
    let again = again(&cli);
    // A `--url` with a password is shown without it in the commands printed below.
    let hidden = cli.url.as_ref().is_some_and(|u| {
        !matches!(cli.verb, Verb::Env { .. } | Verb::Secret { .. })
            && Target::parse(u, &std::env::current_dir().unwrap_or_default()).is_ok_and(|t| t.has_password())
    });
    let shown = again.clone();
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GODWIT_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    match rt.block_on(run(cli, shown)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", e.message);
            for r in &e.remedies {
                eprintln!("{}", remedy(r, &again));
            }
            if hidden && !e.remedies.is_empty() {
                eprintln!(
                    "(These commands leave out --url, which holds a password: they read the URL from DATABASE_URL. \
                     Set it first, e.g. in a .env file here.)"
                );
            }
            e.exit_code()
        }
    }
}

async fn run(cli: Cli, again: String) -> Result<()> {
    let start = match &cli.project {
        Some(p) => p.clone(),
        None => std::env::current_dir().map_err(|e| Error::input(format!("no current folder: {e}")))?,
    };
    // Neither needs a project.
    match &cli.verb {
        Verb::Completions { shell } => return shell::completions(*shell),
        Verb::Manpages { dir } => return shell::manpages(dir),
        _ => {}
    }
    if let Verb::Init { migrations } = &cli.verb {
        let made = project::init(&start, migrations.as_deref())?;
        let migrations = &made.migrations;
        println!("Created {} with a `dev` environment (SQLite file dev.db).", made.config.display());
        if made.adopted > 0 {
            println!("Adopted {} existing migration(s) in {migrations}/.", made.adopted);
        }
        if made.problems > 0 {
            println!(
                "{} file(s) in {migrations}/ cannot be used as they are: `{again} check` lists them with their fixes.",
                made.problems
            );
        }
        println!("Next: `godwit new create_first_table`, then `godwit up`.");
        return Ok(());
    }
    let adhoc =
        cli.url.is_some() && cli.project.is_none() && !matches!(cli.verb, Verb::Env { .. } | Verb::Secret { .. });
    let project = if adhoc { None } else { Project::find_with(&start, cli.config.as_deref())? };
    if cli.project.is_some() && project.is_none() {
        return Err(Error::input(format!("no {} in {}", project::CONFIG_FILE, start.display())));
    }
    // sqlx.toml: the project's (or the file --config names); without a project, the current
    // folder's, as sqlx-cli reads it.
    let sqlx = match (&project, &cli.config) {
        (Some(p), _) => p.sqlx.clone(),
        (None, Some(file)) => Some(crate::sqlx_config::read(file)?),
        (None, None) => crate::sqlx_config::in_folder(&start)?,
    };
    let database_url = database_url(&start, sqlx.as_ref());
    let ctx = Ctx { cli, project, sqlx, database_url, again };
    if let Some(name) = ctx.cli.fleet.fleet.clone() {
        return fleet::fleet_verb(&ctx, &name).await;
    }
    match &ctx.cli.verb {
        Verb::Up { json: true, dry_run: false, .. } | Verb::Down { json: true, dry_run: false, .. } => {
            return Err(Error::input("--json shows a plan: add --dry-run (or, with --fleet, the fleet's report)"));
        }
        Verb::Secret { cmd: SecretCmd::Set { env: None, .. } } => {
            return Err(Error::input(
                "name the environment: `godwit secret set ENV` (or a fleet's, with --fleet NAME)",
            ));
        }
        _ => {}
    }
    match &ctx.cli.verb {
        Verb::Init { .. } | Verb::Completions { .. } | Verb::Manpages { .. } => unreachable!("handled above"),
        Verb::New { name, reversible, simple, template, params, dialect } => {
            let shape = (*reversible).then_some(true).or((*simple).then_some(false));
            new_verb(&ctx, name.clone(), shape, template.as_deref(), params, dialect.dialect.as_deref())
        }
        Verb::Templates { json } => templates(&ctx, json.json),
        Verb::Env { cmd } => env_verb(&ctx, cmd).await,
        Verb::Db { cmd } => db_verb(&ctx, cmd).await,
        Verb::Backup => backups::backup_verb(&ctx).await,
        Verb::Backups { cmd: None, json } => backups::list(&ctx, json.json),
        Verb::Backups { cmd: Some(BackupsCmd::Verify { id }), .. } => backups::verify(&ctx, id.as_deref()).await,
        Verb::VerifyBackups { .. } => backups::verify(&ctx, None).await,
        Verb::Restore { id } => backups::restore(&ctx, id.as_deref()).await,
        Verb::Secret { cmd } => secret_verb(&ctx, cmd),
        Verb::Up { to, dry_run, allow_out_of_order, backup, verify, json, plan, acknowledge_lint } => {
            let how = Preview { dry_run: *dry_run, json: *json, plan: plan.clone() };
            let first = BackupFirst { wanted: *backup, verify: *verify };
            up(&ctx, *to, how, *allow_out_of_order, first, *acknowledge_lint).await
        }
        Verb::Down { steps, to, dry_run, json } => {
            let work = Work::asked(Direction::Down, *to, *steps)?;
            down(&ctx, work, Preview { dry_run: *dry_run, json: *json, plan: None }).await
        }
        Verb::Redo => redo(&ctx).await,
        Verb::Status { all, json } => status_verb(&ctx, json.json, *all || !std::io::stdout().is_terminal()).await,
        Verb::History { limit, json } => history(&ctx, *limit, json.json).await,
        Verb::Show { version, json } => show_migration(&ctx, *version, json.json).await,
        Verb::Check { offline, schema, json } => check_verb(&ctx, *offline, *schema, json.json).await,
        Verb::Verify { from, seed, json } => verify(&ctx, *from, seed.as_deref(), json.json).await,
        Verb::Schema { format, json } => schema(&ctx, if json.json { SchemaFormat::Json } else { *format }).await,
        Verb::Lint { files, all, from, dialect, format, json, rules } => {
            let format = if json.json { LintFormat::Json } else { *format };
            let scope = match (files.is_empty(), *all) {
                (false, _) => LintScope::Files(files),
                (true, true) => LintScope::All(*from),
                (true, false) => LintScope::Pending,
            };
            lint_verb(&ctx, scope, dialect.as_deref(), format, *rules).await
        }
        Verb::Drift { json } => drift(&ctx, None, json.json).await,
        Verb::Diff { a, b: Some(b), json, .. } => diff(&ctx, a, b, json.json).await,
        Verb::Diff { a, b: None, json, .. } => drift(&ctx, Some(a), json.json).await,
        Verb::Repair { version, reason } => repair(&ctx, *version, reason).await,
        Verb::Squash { to, dry_run, skip, schema_only, json } => {
            let req = ops::SquashRequest { to: *to, dry_run: *dry_run, skip: skip.clone(), schema_only: *schema_only };
            squash_verb(&ctx, &req, json.json).await
        }
        Verb::Rebase { dry_run, skip, json } => rebase_verb(&ctx, *dry_run, skip, json.json).await,
        Verb::Baseline { version, dry_run, json } => baseline_verb(&ctx, *version, *dry_run, json.json).await,
        Verb::Import { tool, dir, dry_run, python, run_code, dialect, json } => {
            let how =
                import::How { dry_run: *dry_run, python: python.as_deref(), run_code: *run_code, json: json.json };
            import_verb(&ctx, tool, dir, how, dialect.as_deref()).await
        }
        Verb::Resolve { version, applied, .. } => resolve(&ctx, *version, *applied).await,
    }
}

/// `DATABASE_URL` from the person's environment (theirs: their own passwords may go with it), else
/// from a `.env` file in `dir` (a folder's: they may not). Only that one key is read, literally,
/// and nothing is exported: a `.env` from a cloned project must not reach the dump tools
/// (`LD_PRELOAD`, …), set anything else, or put the person's other variables (`${SECRET}`) into a URL.
/// Parent folders are not searched: a `.env` in a shared parent is anyone's.
///
/// sqlx.toml's `database-url-var` names another variable, as sqlx-cli reads it. The file may be a
/// stranger's, and the variable one of the person's secrets: its value is taken only when it is a
/// database URL, and never echoed; otherwise the refusal is kept for a verb that needs the URL.
fn database_url(dir: &std::path::Path, sqlx: Option<&crate::sqlx_config::SqlxConfig>) -> Option<DatabaseUrl> {
    let named = sqlx.and_then(|c| c.database_url_var.as_deref().map(|v| (v, c.path.as_path())));
    let var = named.map_or("DATABASE_URL", |(v, _)| v);
    let found = match std::env::var(var) {
        Ok(url) => Some(DatabaseUrl { url, theirs: true, refused: None }),
        Err(_) => std::fs::read_to_string(dir.join(".env")).ok().and_then(|text| {
            text.lines().find_map(|line| {
                let line = line.trim();
                let line = line.strip_prefix("export ").unwrap_or(line);
                let (key, value) = line.split_once('=')?;
                (key.trim() == var).then(|| DatabaseUrl {
                    url: dotenv_value(value.trim()),
                    theirs: false,
                    refused: None,
                })
            })
        }),
    };
    if let (Some(d), Some((var, file))) = (&found, named) {
        let scheme = d.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("postgres" | "postgresql" | "mysql" | "mariadb" | "sqlite")) {
            let why = format!(
                "{} says the database URL is in `{var}` (`[common] database-url-var`), and `{var}` does not hold a \
                 postgres://, mysql:// or sqlite:// URL; its value was not used or shown. Set `{var}` to the \
                 database's URL, or pass --url.",
                file.display()
            );
            return Some(DatabaseUrl { url: String::new(), theirs: false, refused: Some(why) });
        }
    }
    found
}

/// A `.env` value as written: quotes removed, an unquoted value's ` #` comment dropped, nothing
/// expanded.
fn dotenv_value(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return inner.to_string();
    }
    // A quoted value ends at its closing quote; a comment may follow it.
    if let Some(inner) = v.strip_prefix('"').and_then(|r| r.rsplit_once('"')).map(|(inner, _)| inner) {
        return inner.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    v.split(" #").next().unwrap_or_default().trim_end().to_string()
}

/// `godwit` with the flags that chose this project and database, for the commands printed as
/// remedies: pasted as printed, they act on the same environment (never with a password: a URL is
/// shown as `Target::display` shows it).
fn again(cli: &Cli) -> String {
    let mut s = String::from("godwit");
    if let Some(p) = &cli.project {
        s.push_str(&format!(" --project {}", shell_quote(&p.display().to_string())));
    }
    // For `env` and `secret`, --url is an environment's new URL, not the database worked on.
    if let Some(u) = cli.url.as_ref().filter(|_| !matches!(cli.verb, Verb::Env { .. } | Verb::Secret { .. })) {
        let cwd = std::env::current_dir().unwrap_or_default();
        // A URL with a password is left out (it must not be printed, and without it the command
        // would fail to log in): the printed commands then read DATABASE_URL, and say so.
        if let Some(t) = Target::parse(u, &cwd).ok().filter(|t| !t.has_password()) {
            s.push_str(&format!(" --url {}", shell_quote(&t.display())));
        }
    }
    if let Some(src) = &cli.source {
        s.push_str(&format!(" --source {}", shell_quote(&src.display().to_string())));
    }
    // `env test NAME` names its environment as an argument: a remedy must act on that one.
    let tested = match &cli.verb {
        Verb::Env { cmd: EnvCmd::Test { name: Some(n) } } => Some(n),
        Verb::Diff { a, b: None, .. } => Some(a),
        _ => None,
    };
    if let Some(e) = tested.or(cli.env.as_ref()) {
        s.push_str(&format!(" --env {}", shell_quote(e)));
    }
    s
}

/// A remedy in the CLI's words: the command to type, as it can be pasted.
fn remedy(r: &crate::error::Remedy, godwit: &str) -> String {
    use crate::error::{Remedy, Resolution};
    match r {
        Remedy::TrustServer { env, .. } => format!(
            "To confirm the new server: `{godwit} --trust-host env test {env}` (connects, and binds the password to \
             it), or store the password again with `{godwit} secret set {env}`."
        ),
        Remedy::CreateProject { root, migrations, .. } => format!(
            "To make it a project: `godwit --project {} init --migrations {}`.",
            shell_quote(root),
            shell_quote(migrations)
        ),
        Remedy::Resolve { version, outcomes } => {
            let each: Vec<String> = outcomes
                .iter()
                .map(|o| match o {
                    Resolution::Applied => {
                        format!("`{godwit} resolve {version} --applied` (you finished the migration)")
                    }
                    Resolution::RolledBack => format!("`{godwit} resolve {version} --rolled-back` (you undid it)"),
                })
                .collect();
            format!("Once the database is fixed by hand: {}.", each.join(" or "))
        }
        Remedy::Repair { version } => {
            format!("To accept the edit: `{godwit} repair {version} --reason \"why it was edited\"`.")
        }
        Remedy::AllowOutOfOrder => format!("To apply them as they are: `{godwit} up --allow-out-of-order`."),
        Remedy::Restore { backup } => format!("To bring the database back: `{godwit} restore {backup}`."),
        Remedy::SetPassword { env } => format!("To store the password: `{godwit} secret set {env}`."),
        Remedy::Confirm { name } => format!("Where there is no terminal, add `--confirm {name}` to the command."),
        Remedy::AcknowledgeLint => format!(
            "`{godwit} up --dry-run` shows them; once you have read them, add `--acknowledge-lint` to the command \
             (at a terminal, you are asked)."
        ),
        Remedy::WaitForLock => format!("To wait longer (seconds): `{}`.", retry_with("--lock-timeout", 300)),
        Remedy::WaitForServer => format!("To wait longer (seconds): `{}`.", retry_with("--connect-timeout", 30)),
        Remedy::CreateDatabase => format!("To create it, empty: `{godwit} db create`."),
        Remedy::CreateEmpty => {
            "Without a template, `new` writes the files with an empty up, to fill in before `up`.".into()
        }
        Remedy::Preview => format!(
            "To save the plan as it is now: `{godwit} up --dry-run --json > plan.json`; once it is reviewed, \
             `{godwit} up --plan plan.json`."
        ),
        Remedy::Backups => format!("`{godwit} backups` lists the backups; `{godwit} backup` makes one."),
        Remedy::Status => format!("`{godwit} status` lists the migrations and their versions."),
        Remedy::RemoveEnv { env } => format!("`{godwit} env remove {env}` removes it (and its stored password)."),
        Remedy::ImportProject { root, tool, from, migrations } => format!(
            "To bring it in: `godwit --project {} init --migrations {}`, then `godwit --project {} import {} {}`.",
            shell_quote(root),
            shell_quote(migrations),
            shell_quote(root),
            tool.key(),
            shell_quote(from)
        ),
        Remedy::Rebase => format!(
            "To renumber the pending ones after the newest: `{godwit} rebase --dry-run` shows the renames, \
             `{godwit} rebase` does them."
        ),
        Remedy::RunCode { .. } => {
            "Once you have read that code and trust it, add `--run-code` to the command (or run it at a terminal, \
             which asks)."
                .into()
        }
        Remedy::AllowAmbient { env } => format!(
            "To let `{env}` use your own PGPASSWORD and ~/.pgpass (only do this if you trust its server): \
             `{godwit} secret ambient {env}`."
        ),
        Remedy::SkipEnv { env, squash_to } => {
            let verb = squash_to.map_or_else(|| "rebase".to_string(), |to| format!("squash --to {to}"));
            format!("If you know {env} has none of them applied: `{godwit} {verb} --skip {}`.", shell_quote(env))
        }
    }
}

/// The command as it was typed, with `flag` set to `value` (an earlier value of it left out) and any
/// URL shown without its password: pasted, it runs the same thing, waiting longer.
fn retry_with(flag: &str, at_least: u64) -> String {
    let (mut out, given) = typed(Some(flag));
    // Longer than what was waited: twice the value given, at least `at_least`.
    let value = given.iter().fold(at_least, |v, g| v.max(g.parse::<u64>().unwrap_or(0).saturating_mul(2)));
    out.push(format!("{flag} {value}"));
    out.join(" ")
}

/// The command as it was typed, quoted for a shell, without `flag` (its values returned apart); a
/// URL is shown without its password, and one that holds a password is left out, as `again` leaves
/// it out (the command then reads DATABASE_URL).
fn typed(flag: Option<&str>) -> (Vec<String>, Vec<String>) {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut out = vec!["godwit".to_string()];
    let mut values = Vec::new();
    let mut args = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = args.next() {
        let given = match flag {
            Some(f) if a == f => args.next(),
            Some(f) => a.strip_prefix(&format!("{f}=")).map(str::to_string),
            None => None,
        };
        if let Some(v) = given {
            values.push(v);
            continue;
        }
        let url = match a.strip_prefix("--url=") {
            Some(u) => Some(u.to_string()),
            None if a == "--url" => args.next(),
            None => None,
        };
        if let Some(u) = url {
            if let Ok(t) = Target::parse(&u, &cwd)
                && !t.has_password()
            {
                out.push(format!("--url {}", shell_quote(&t.display())));
            }
            continue;
        }
        out.push(shell_quote(&a));
    }
    (out, values)
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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
