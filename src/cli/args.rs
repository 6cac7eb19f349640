//! The command line as clap reads it: verbs, their flags and the global options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::fleet;
use super::lint::LintFormat;
use super::schema::SchemaFormat;

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
    pub(super) project: Option<PathBuf>,
    /// Environment from godwit.toml (default: default_env, else `dev`).
    #[arg(long, short, global = true, value_name = "ENV", env = "GODWIT_ENV")]
    pub(super) env: Option<String>,
    /// A database URL to work on instead of an environment (DATABASE_URL is read when neither is
    /// given); with `env add`, the new environment's URL (without its password).
    #[arg(long, global = true, value_name = "URL", conflicts_with = "env")]
    pub(super) url: Option<String>,
    /// Migrations folder for --url (default: sqlx.toml's `migrations-dir`, else ./migrations).
    #[arg(long, global = true, value_name = "DIR")]
    pub(super) source: Option<PathBuf>,
    /// An sqlx config file to follow instead of the project's sqlx.toml (as sqlx-cli's --config).
    #[arg(long, global = true, value_name = "FILE")]
    pub(super) config: Option<PathBuf>,
    /// Seconds to wait for the database to answer when connecting (default 10; 5 for `env test`).
    #[arg(long, global = true, value_name = "SECS")]
    pub(super) connect_timeout: Option<u64>,
    /// The name of a protected environment, to change it where there is no terminal to type it at.
    #[arg(long, global = true, value_name = "ENV")]
    pub(super) confirm: Option<String>,
    /// Seconds to wait for another run's migration lock.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    pub(super) lock_timeout: u64,
    /// The longest each statement of a migration waits for a lock other sessions hold (`5s`,
    /// `500ms`, `off`), over the environment's `lock_wait` (a protected environment's default: 5s).
    #[arg(long, global = true, value_name = "DURATION", value_parser = wait_setting)]
    pub(super) lock_wait: Option<crate::migration::waits::Setting>,
    /// How many times a migration that could not get a lock, and changed nothing, is tried again
    /// (over the environment's `lock_retries`; a protected environment's default: 3).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=20))]
    pub(super) lock_retries: Option<u32>,
    /// The longest a statement of a migration may run (`10m`, `off`), over the environment's
    /// `statement_timeout` (PostgreSQL and MariaDB).
    #[arg(long, global = true, value_name = "DURATION", value_parser = timeout_setting)]
    pub(super) statement_timeout: Option<crate::migration::waits::Setting>,
    /// Seconds a running migration may go without the server confirming (asked over another
    /// connection) that it still runs it; then the run stops waiting and says what it can tell.
    #[arg(long, global = true, default_value_t = 300, value_name = "SECS")]
    pub(super) stall_timeout: u64,
    /// Send the environment's stored password to the server it names now, though it was stored for
    /// another one (a changed godwit.toml), and bind it to the new server from then on.
    #[arg(long, global = true)]
    pub(super) trust_host: bool,
    /// How an error is written to stderr: `text` for people, or `json` for scripts (one object: the
    /// problem, the exit code, the message and the remedies, each also worded as a command).
    #[arg(long, global = true, value_enum, default_value_t = ErrorFormat::Text, value_name = "FORMAT", env = "GODWIT_ERRORS")]
    pub(super) errors: ErrorFormat,
    #[command(flatten)]
    pub(super) fleet: fleet::FleetFlags,
    #[command(subcommand)]
    pub(super) verb: Verb,
}

fn wait_setting(text: &str) -> Result<crate::migration::waits::Setting, String> {
    crate::migration::waits::Setting::parse("--lock-wait", text).map_err(|e| e.message)
}

fn timeout_setting(text: &str) -> Result<crate::migration::waits::Setting, String> {
    crate::migration::waits::Setting::parse("--statement-timeout", text).map_err(|e| e.message)
}

#[derive(Subcommand, Debug)]
pub(super) enum Verb {
    /// Make this folder a Godwit project (adopts an existing sqlx migrations folder). Its `dev`
    /// environment is a SQLite file, dev.db, or the database `--url` names (without a password).
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
        /// A repeatable file (NAME.sql in the repeatable folder), applied again whenever it changes.
        #[arg(long, conflicts_with_all = ["reversible", "simple"])]
        repeatable: bool,
        /// Fill the migration from a template (`godwit templates` lists them).
        #[arg(long, short)]
        template: Option<String>,
        /// A template parameter, KEY=VALUE (repeat for each).
        #[arg(long = "param", short, value_name = "KEY=VALUE")]
        params: Vec<String>,
        #[command(flatten)]
        dialect: DialectFlag,
        /// Write the migration that takes what the migrations make to the schema FILE describes
        /// (in the database's own SQL: a file, or a folder of .sql files; without FILE, godwit.toml's
        /// `desired_schema`), and its down; both are proven on scratch databases beside the
        /// environment's first.
        #[arg(long, value_name = "FILE", num_args = 0..=1, conflicts_with_all = ["simple", "repeatable", "template"])]
        from_schema: Option<Option<PathBuf>>,
        /// With --from-schema: write it though it drops tables or columns or narrows a type.
        #[arg(long, requires = "from_schema")]
        allow_destructive: bool,
        /// With --from-schema: show the migration and what stands in its way; write nothing.
        #[arg(long, requires = "from_schema")]
        dry_run: bool,
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
    /// Placeholders: the values `${name}` takes in migration files marked `-- godwit:placeholders`.
    Placeholder {
        #[command(subcommand)]
        cmd: PlaceholderCmd,
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
    Redo {
        /// On a protected environment: apply it again though lint finds errors in it, once you
        /// have read them (at a terminal, you are asked instead).
        #[arg(long)]
        acknowledge_lint: bool,
    },
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
        /// The environment to compare from (with --to-schema: the one whose server holds the
        /// scratch databases; the default environment when left out).
        #[arg(required_unless_present = "to_schema")]
        a: Option<String>,
        /// The environment to compare with.
        #[arg(required_unless_present_any = ["to_migrations", "to_schema"], conflicts_with_all = ["to_migrations", "to_schema"])]
        b: Option<String>,
        /// Compare A with what its applied migrations make (as `drift` does).
        #[arg(long, conflicts_with = "to_schema")]
        to_migrations: bool,
        /// Compare what the project's migrations make with the schema FILE describes, in the
        /// database's own SQL (a file, or a folder of .sql files loaded in path order), each
        /// built on a scratch database beside the environment's (without FILE, godwit.toml's
        /// `desired_schema`; name ENV before the flag). Exits 1 when they differ.
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        to_schema: Option<Option<PathBuf>>,
        /// Between databases of different kinds, also list what each spells its own way but
        /// does alike (`integer` and `int(11)`).
        #[arg(long)]
        verbose: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Bring in another tool's migrations as Godwit files. With --env or --url, also record what
    /// that tool ran on the database as applied (without running it), so `up` runs only the rest.
    Import {
        /// alembic, flyway, dbmate, golang-migrate or diesel.
        #[arg(value_parser = ["alembic", "flyway", "dbmate", "golang-migrate", "diesel"])]
        tool: String,
        /// The other tool's migrations folder (Alembic: the folder with alembic.ini, or with env.py).
        dir: PathBuf,
        /// Show what would be written and recorded; change nothing. For Alembic, the project's
        /// Python (env.py and its revisions) still runs to get the SQL, once agreed to.
        #[arg(long)]
        dry_run: bool,
        /// Alembic, with --env or --url: render the SQL offline (`alembic upgrade --sql`) instead
        /// of running the revisions on a scratch database beside that database and recording what
        /// they send. Offline cannot render a revision that reads the database.
        #[arg(long)]
        offline: bool,
        /// The Python that runs the project's Alembic (default: a virtualenv beside it that is
        /// yours, else python3).
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
        /// Alembic: run the project's code (its env.py and revisions) without asking. Without a
        /// terminal to ask at, nothing runs unless this is given.
        #[arg(long)]
        run_code: bool,
        /// Alembic: let the project's code see this variable of your environment, which it needs
        /// for its settings (repeatable). It sees none of yours otherwise but PATH, HOME and the
        /// locale's.
        #[arg(long = "pass-env", value_name = "NAME")]
        pass_env: Vec<String>,
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
        /// Why it was edited, for the log (asked for at a terminal when left out).
        #[arg(long)]
        reason: Option<String>,
        /// Accept it on your word, without comparing what the edited file makes with the database
        /// (an edit you know changes it, or no scratch database can be made).
        #[arg(long)]
        unchecked: bool,
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
        /// Mark it on your word, without comparing the schema with what the migrations make
        /// (differences you know are not the migration's, or no scratch database can be made).
        #[arg(long)]
        unchecked: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum BackupsCmd {
    /// Restore a backup (the newest when no id is given) into a scratch database and compare
    /// tables, rows and schema with its manifest.
    Verify {
        id: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum DbCmd {
    /// Create the environment's database, empty (nothing is done when it exists).
    Create,
    /// Drop the environment's database and everything in it (its name is asked for first).
    Drop,
}

#[derive(Subcommand, Debug)]
pub(super) enum EnvCmd {
    /// Add an environment to godwit.toml (or, with --personal, to your own settings):
    /// `--url URL` (without a password), or --driver with --host, --port, --database, --user.
    Add {
        name: String,
        /// Instead of --url: postgres, mysql or sqlite.
        #[arg(long, requires = "database", conflicts_with = "url")]
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
pub(super) enum SecretCmd {
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

#[derive(Subcommand, Debug)]
pub(super) enum PlaceholderCmd {
    /// Give an environment's placeholder a value (asked for when left out), kept in the file the
    /// environment is in; with --secret, in the OS keyring, typed without echo.
    Set {
        env: String,
        name: String,
        value: Option<String>,
        /// Keep it in the OS keyring: it is never shown, logged or written to a file.
        #[arg(long, conflicts_with = "value")]
        secret: bool,
        /// Read the value from standard input instead of asking.
        #[arg(long, conflicts_with = "value")]
        stdin: bool,
    },
    /// The placeholders an environment has and those the migration files use.
    List {
        env: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Take a placeholder away from an environment (a secret one from the OS keyring too).
    Remove { env: String, name: String },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ErrorFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub(super) struct DialectFlag {
    /// Write SQL for this database instead of the environment's: postgres, mysql or sqlite.
    #[arg(long, value_name = "DB")]
    pub(super) dialect: Option<String>,
}

impl Verb {
    /// Whether one JSON document was asked for on stdout: a failure is then written there too.
    pub(super) fn json(&self) -> bool {
        match self {
            Verb::Backups { cmd: Some(BackupsCmd::Verify { json: v, .. }), json } => json.json || v.json,
            Verb::Backups { json, .. }
            | Verb::VerifyBackups { json }
            | Verb::Templates { json, .. }
            | Verb::Status { json, .. }
            | Verb::Show { json, .. }
            | Verb::History { json, .. }
            | Verb::Check { json, .. }
            | Verb::Verify { json, .. }
            | Verb::Drift { json, .. }
            | Verb::Diff { json, .. }
            | Verb::Import { json, .. }
            | Verb::Baseline { json, .. }
            | Verb::Squash { json, .. }
            | Verb::Rebase { json, .. }
            | Verb::Env { cmd: EnvCmd::List(json) } => json.json,
            Verb::Lint { json, format, .. } => json.json || *format != LintFormat::Text,
            Verb::Schema { json, format } => json.json || *format == SchemaFormat::Json,
            Verb::Up { json, .. } | Verb::Down { json, .. } => *json,
            _ => false,
        }
    }
}

#[derive(Args, Debug)]
pub(super) struct JsonFlag {
    /// One JSON document on stdout.
    #[arg(long)]
    pub(super) json: bool,
}
