//! The one error type of the core. Each error carries a kind the CLI maps to an exit code and the
//! desktop app branches on, and a message a person can act on: what went wrong, where, what to do.

/// What kind of failure, as scripts and the UI need to tell them apart.
/// The exit codes are part of the CLI contract (DESIGN.md).
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorKind {
    /// A migration or a check failed (exit 1).
    Failed,
    /// Bad usage or bad input: files, configuration, arguments (exit 2).
    Input,
    /// Cannot connect or authenticate (exit 3).
    Connect,
    /// The migration lock was held past `--lock-timeout` (exit 4).
    Lock,
    /// Refused by a protection rule (exit 5).
    Protected,
    /// The database's history and the files disagree in a way only a person can settle: an applied
    /// file edited or deleted, pending migrations older than applied ones, one left part way (exit 6).
    Decision,
    /// A person stopped the work (Ctrl-C, SIGTERM, Cancel): exit 130, as a shell reports an interrupt.
    Cancelled,
}

impl ErrorKind {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Failed => 1,
            ErrorKind::Cancelled => 130,
            ErrorKind::Input => 2,
            ErrorKind::Connect => 3,
            ErrorKind::Lock => 4,
            ErrorKind::Protected => 5,
            ErrorKind::Decision => 6,
        }
    }
}

/// The situation an error names. Tests, the CLI's exit code and the app's branches follow from it;
/// the message says the same in words.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[ts(export)]
pub enum Problem {
    /// Bad usage or configuration: arguments, `godwit.toml`, an environment, a template's values.
    #[error("bad input")]
    Input,
    /// A migration file that cannot be used as it is (name, encoding, header, statements).
    #[error("a migration file cannot be used")]
    BadFile,
    /// Something named does not exist: an environment, a migration's version, a backup, a template.
    #[error("no such {what}")]
    NotFound { what: Named },
    /// A file, a backup or an environment is for another kind of database than the work needs.
    #[error("made for another kind of database")]
    WrongDialect,
    /// A schema built from migrations is not the schema it had to be (a baseline or a squash proven
    /// on a scratch database, a down that does not undo its up).
    #[error("the schemas differ")]
    SchemaMismatch,
    /// The file system refused to read or write `path`.
    #[error("cannot read or write {path}")]
    Io { path: String },
    /// An applied migration's file changed after it ran.
    #[error("migration {version} changed after it was applied")]
    Drift { version: i64 },
    /// An applied migration's file is not in the folder.
    #[error("migration {version} is applied but its file is missing")]
    MissingFile { version: i64 },
    /// Pending migrations older than applied ones, not allowed to run out of order.
    #[error("pending migrations are older than applied ones")]
    OutOfOrder,
    /// A migration failed in an earlier run and left the database partly changed.
    #[error("migration {version} failed part way earlier")]
    Dirty { version: i64 },
    /// A restore stopped part way (its tool is not atomic): the database may be partly the backup's.
    #[error("restoring backup {backup} stopped part way")]
    PartlyRestored { backup: String },
    /// Views that no longer read stop the dump tool: no backup until they are fixed or dropped.
    #[error("views no longer read: {}", views.join(", "))]
    BrokenViews { views: Vec<String> },
    /// Two files revise the same migration, and run here `file` would go before the other, which
    /// another environment applied first.
    #[error("{file} would run in another order than elsewhere")]
    RevisionConflict { file: String },
    /// A person said how a migration left part way ended (`resolve`), and the live schema is not
    /// what the applied migrations make that way.
    #[error("the schema is not what resolving {version} says")]
    NotAsResolved { version: i64 },
    /// An applied migration's file was edited so that it makes something else than the database
    /// has (`repair` refused).
    #[error("the edited migration {version} makes another schema")]
    EditChangesSchema { version: i64 },
    /// A migration failed in this run.
    #[error("migration {version} failed")]
    MigrationFailed { version: i64 },
    /// A repeatable file failed in this run (`file`, its name): the next `up` runs it again.
    #[error("repeatable {file} failed")]
    RepeatableFailed { file: String },
    /// What would run now differs from the plan that was previewed.
    #[error("the plan changed since it was previewed")]
    PlanChanged,
    /// Another run holds the migration lock (or a SQLite file's write lock).
    #[error("the migration lock is held")]
    LockHeld {
        /// Who holds it, when the server says.
        holder: Option<String>,
    },
    /// Another run recorded this migration in the history first (a run that took no lock, or one
    /// on another node of a cluster whose locks are each node's own): nothing of it ran here.
    #[error("another run recorded migration {version} first")]
    Raced { version: i64 },
    /// A migration gave up waiting for a lock another session held (or was picked to end a
    /// deadlock), every try; it changed nothing.
    #[error("migration {version} could not get a lock")]
    LockWait { version: i64 },
    /// A statement ran longer than the statement timeout and was stopped.
    #[error("migration {version} ran past the statement timeout")]
    StatementTimeout { version: i64 },
    /// Migrations to run use placeholders the environment gives no value for (`names`).
    #[error("placeholders have no value: {}", names.join(", "))]
    UnsetPlaceholders { names: Vec<String> },
    /// The server cannot be reached.
    #[error("cannot connect")]
    CannotConnect,
    /// The connection goes through a pooler that hands each transaction (or statement) to another
    /// server session (PgBouncer's transaction or statement mode): a lock or a setting made on one
    /// does not hold on the next.
    #[error("the connection goes through a transaction-mode pooler")]
    Pooled,
    /// The server is a read-only standby (in recovery): changes go to its primary.
    #[error("the server is a read-only standby")]
    Standby,
    /// The server answered, and has no database of that name.
    #[error("the database does not exist")]
    NoDatabase,
    /// The server refused the user or its password.
    #[error("authentication refused")]
    AuthRefused,
    /// The stored password is bound to another server than the environment names now.
    #[error("the stored password belongs to another server")]
    ServerChanged,
    /// The OS keyring is missing, locked or did not answer.
    #[error("the OS keyring is not available")]
    Keyring,
    /// The connection went away in the middle of work.
    #[error("the connection was lost")]
    ConnectionLost,
    /// Refused by a protection rule (a protected environment's name not typed).
    #[error("refused by protection")]
    Protected,
    /// Reading a project would run its code (an Alembic env.py), and a person has not said yes.
    #[error("running the project's code was not agreed to")]
    CodeNotAllowed,
    /// A person stopped the work.
    #[error("cancelled")]
    Cancelled,
    /// Anything else that failed: a dump tool, the file system, a check.
    #[error("failed")]
    Failed,
}

impl Problem {
    /// The kind, and so the exit code, each situation has in the CLI contract.
    pub fn kind(&self) -> ErrorKind {
        use Problem::*;
        match self {
            Input | BadFile | NotFound { .. } | WrongDialect | UnsetPlaceholders { .. } | Pooled => ErrorKind::Input,
            Drift { .. }
            | MissingFile { .. }
            | OutOfOrder
            | Dirty { .. }
            | PartlyRestored { .. }
            | BrokenViews { .. }
            | RevisionConflict { .. }
            | NotAsResolved { .. }
            | EditChangesSchema { .. } => ErrorKind::Decision,
            MigrationFailed { .. }
            | RepeatableFailed { .. }
            | StatementTimeout { .. }
            | PlanChanged
            | SchemaMismatch
            | Io { .. }
            | Failed => ErrorKind::Failed,
            LockHeld { .. } | LockWait { .. } | Raced { .. } => ErrorKind::Lock,
            CannotConnect | Standby | NoDatabase | AuthRefused | ServerChanged | Keyring | ConnectionLost => {
                ErrorKind::Connect
            }
            Protected | CodeNotAllowed => ErrorKind::Protected,
            Cancelled => ErrorKind::Cancelled,
        }
    }
}

/// What kind of thing a [`Problem::NotFound`] names.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Named {
    Environment,
    Fleet,
    Migration,
    Backup,
    Template,
    /// A database the environment names, or a SQLite file.
    Database,
    /// A file or folder a person named.
    Path,
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Named::Environment => "environment",
            Named::Fleet => "fleet",
            Named::Migration => "migration",
            Named::Backup => "backup",
            Named::Template => "template",
            Named::Database => "database",
            Named::Path => "file or folder",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub problem: Problem,
    pub message: String,
    /// Where in a migration file a database error points, when it says.
    pub location: Option<Location>,
    /// What a person can do about it: the CLI words each as a command, the app offers each as a button.
    pub remedies: Vec<Remedy>,
}

/// A way out of an error that the CLI and the app each offer in their own terms.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "remedy", rename_all = "snake_case")]
#[ts(export)]
pub enum Remedy {
    /// The keyring's password for `env` was stored for another server than the one the
    /// environment names now, and was not sent: a person confirms the new server once.
    TrustServer {
        env: String,
        /// `None`: stored before passwords were bound to a server.
        stored_for: Option<String>,
        now: String,
    },
    /// A folder of migrations with no godwit.toml: making it a project writes `config`, adopting
    /// the migrations in `migrations` (a person says yes first).
    CreateProject { root: String, config: String, migrations: String },
    /// A migration was left part way (or its file is gone): once a person has finished or undone it
    /// by hand, mark it so, with one of `outcomes`.
    Resolve {
        version: i64,
        outcomes: Vec<Resolution>,
        /// It was left part way by its down (a rollback): "finished" then means rolled back.
        #[serde(default)]
        in_down: bool,
    },
    /// The live schema is not what resolving `version` as `outcome` says (or could not be compared):
    /// a person who knows the differences are not the migration's marks it all the same.
    ResolveUnchecked { version: i64, outcome: Resolution, in_down: bool },
    /// An applied migration's file was edited on purpose: accept its new checksum, with a reason.
    Repair { version: i64 },
    /// The edited file makes something else than the database has (or could not be compared): a
    /// person who knows accepts it all the same.
    RepairUnchecked {
        version: i64,
        /// Why it was edited, as the person gave it.
        reason: String,
    },
    /// Pending migrations are older than applied ones (two branches merged): run them as they are.
    AllowOutOfOrder,
    /// A migration failed and changed nothing: fix its file and apply again; the `kept` migrations
    /// applied before it in the same run stay applied (a restore would undo them too).
    FixAndApply { file: String, kept: usize },
    /// A down failed and changed nothing: fix the down file the database ran and roll back again;
    /// the `kept` migrations rolled back before it in the same run stay rolled back, `left` (it
    /// among them) are still to go. In a `redo`, redo again.
    FixAndRollBack { file: String, kept: usize, left: usize, redo: bool },
    /// A run failed after a backup was taken: restoring it brings the database back.
    Restore { backup: String },
    /// The server wants a password that is not stored, or refused the one stored: store it.
    SetPassword { env: String },
    /// A placeholder the migrations use has no value in `env` (`secret`: it is declared secret and
    /// none is stored): give it one.
    SetPlaceholder { env: String, name: String, secret: bool },
    /// A protected environment's name, typed to confirm a change (asked for where there is a place to type).
    Confirm { name: String },
    /// Lint errors in what would run on a protected environment (in `files`): run only once
    /// someone who read them says so.
    AcknowledgeLint { files: Vec<String> },
    /// Another run held the migration lock (or a SQLite file's write lock) longer than the wait: wait
    /// longer, or try again.
    WaitForLock,
    /// The server did not answer in time: wait longer, or try again.
    WaitForServer,
    /// A migration gave up waiting (`waited_ms`) for a lock other sessions held: try again when
    /// they are done (it changed nothing), or let it wait longer.
    WaitLongerForLocks { waited_ms: u64 },
    /// A statement ran past the statement timeout (`ms`): run it with a longer one.
    LongerStatementTimeout { ms: u64 },
    /// The environment's backups, listed (or the first one made).
    Backups,
    /// What would run changed since it was seen: look at the plan as it is now.
    Preview,
    /// The environment's database does not exist on its server: create it (empty).
    CreateDatabase,
    /// A new migration's up has no statement: write it anyway, as a file to fill in.
    CreateEmpty,
    /// The migrations and their versions, as the status lists them.
    Status,
    /// An environment of that name already exists: remove it first.
    RemoveEnv { env: String },
    /// Migrations in the way of a revision conflict or out of order: renumber them after the newest.
    Rebase,
    /// A folder holding another tool's project: import it into `migrations` and make it a project.
    ImportProject { root: String, tool: crate::import::Tool, from: String, migrations: String },
    /// `rebase` (or `squash`, with the version it squashes to) could not read an environment: leave
    /// it out, if a person knows it has none of them.
    SkipEnv { env: String, squash_to: Option<i64> },
    /// A squash up to `to` would lose rows or privileges some files make: squash the schema only,
    /// knowing they are not in the squashed file.
    SquashSchemaOnly { to: i64 },
    /// `init` in a folder inside another project: naming the folder makes a second project there.
    NestedProject { root: String, migrations: Option<String> },
    /// Reading a project runs its code (`code`): a person agrees to run it, having seen what.
    RunCode { code: crate::import::CodeToRun },
    /// A project's code failed, and it sees none of the person's environment variables but the few
    /// named: one it reads its settings from can be passed to it by name.
    PassEnv,
    /// A template's parameter was left out: give it a value (the app's form asks for each).
    GiveParam { names: Vec<String> },
    /// The person's own `PGPASSWORD` or `~/.pgpass` was not sent to `env`: their own settings may
    /// allow it for that environment.
    AllowAmbient { env: String },
}

/// What a person says they did to a migration left part way.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Resolution {
    /// Finished it: it counts as applied.
    Applied,
    /// Undid it: it counts as never run.
    RolledBack,
}

impl Remedy {
    /// Fixing a migration's file is the way on (not a cancel's, whose file is not what went wrong).
    pub fn fixes_a_file(&self) -> bool {
        matches!(self, Remedy::FixAndApply { .. } | Remedy::FixAndRollBack { .. })
    }

    /// Forgetting an applied migration whose file was removed on purpose (resolved as rolled back).
    pub fn forget(version: i64) -> Remedy {
        Remedy::Resolve { version, outcomes: vec![Resolution::RolledBack], in_down: false }
    }

    /// Resolving a migration left part way: finished or undone.
    pub fn resolve(version: i64) -> Remedy {
        Remedy::Resolve { version, outcomes: vec![Resolution::Applied, Resolution::RolledBack], in_down: false }
    }

    /// `resolve` for a migration its down left part way.
    pub fn resolve_rollback(version: i64) -> Remedy {
        Remedy::Resolve { version, outcomes: vec![Resolution::RolledBack, Resolution::Applied], in_down: true }
    }
}

/// A place in a migration file, for "the line of the file" in messages and the app.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[ts(export)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl Error {
    pub fn new(problem: Problem, message: impl Into<String>) -> Self {
        Error { problem, message: message.into(), location: None, remedies: Vec::new() }
    }
    pub fn with_remedy(mut self, remedy: Remedy) -> Self {
        self.remedies.push(remedy);
        self
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(Problem::Input, message)
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Problem::Failed, message)
    }
    pub fn connect(message: impl Into<String>) -> Self {
        Self::new(Problem::CannotConnect, message)
    }
    pub fn not_found(what: Named, message: impl Into<String>) -> Self {
        Self::new(Problem::NotFound { what }, message)
    }
    /// The file system refused `doing` ("cannot write", "cannot read") at `path`.
    pub fn io(doing: &str, path: &std::path::Path, e: &std::io::Error) -> Self {
        Self::new(Problem::Io { path: path.display().to_string() }, format!("{doing} {}: {e}", path.display()))
    }
    /// What was being done when this went wrong, said first; the problem and remedies stay.
    pub fn context(mut self, before: impl std::fmt::Display) -> Self {
        self.message = format!("{before}: {}", self.message);
        self
    }
    /// What else a person must know (what was or was not changed), said after.
    pub fn and(mut self, after: impl std::fmt::Display) -> Self {
        let sep = if self.message.ends_with(['.', '!', '?']) { " " } else { "; " };
        self.message = format!("{}{sep}{after}", self.message);
        self
    }
    pub fn kind(&self) -> ErrorKind {
        self.problem.kind()
    }
    pub fn exit_code(&self) -> i32 {
        self.kind().exit_code()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
