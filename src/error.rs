//! The one error type of the core. Each error carries a kind the CLI maps to an exit code and the
//! desktop app branches on, and a message a person can act on: what went wrong, where, what to do.

use std::fmt;

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
    /// The run was cancelled between migrations (exit 1: the work asked for was not done).
    Cancelled,
}

impl ErrorKind {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Failed | ErrorKind::Cancelled => 1,
            ErrorKind::Input => 2,
            ErrorKind::Connect => 3,
            ErrorKind::Lock => 4,
            ErrorKind::Protected => 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub struct Error {
    pub kind: ErrorKind,
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
    /// A migration was left part way: once a person has finished or undone it by hand, mark it so.
    Resolve { version: i64 },
    /// An applied migration's file was edited on purpose: accept its new checksum, with a reason.
    Repair { version: i64 },
    /// Pending migrations are older than applied ones (two branches merged): run them as they are.
    AllowOutOfOrder,
    /// A run failed after a backup was taken: restoring it brings the database back.
    Restore { backup: String },
    /// The server wants a password that is not stored, or refused the one stored: store it.
    SetPassword { env: String },
    /// A protected environment's name, typed to confirm a change (asked for where there is a place to type).
    Confirm { name: String },
    /// Another run held the migration lock (or a SQLite file's write lock) longer than the wait: wait
    /// longer, or try again.
    WaitForLock,
    /// The server did not answer in time: wait longer, or try again.
    WaitForServer,
    /// The environment's backups, listed (or the first one made).
    Backups,
    /// The migrations and their versions, as the status lists them.
    Status,
    /// An environment of that name already exists: remove it first.
    RemoveEnv { env: String },
}

/// A place in a migration file, for "the line of the file" in messages and the app.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[ts(export)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), location: None, remedies: Vec::new() }
    }
    pub fn with_remedy(mut self, remedy: Remedy) -> Self {
        self.remedies.push(remedy);
        self
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }
    pub fn connect(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Connect, message)
    }
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
