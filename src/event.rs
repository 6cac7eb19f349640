//! The closed set of things a run reports while it works. The CLI draws them as a progress bar or
//! plain lines; the desktop app forwards them to the window over a channel.

use serde::Serialize;

use crate::error::Location;

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Direction {
    Up,
    Down,
}

/// Something a person should know before a run starts, in words, with what it is about.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[ts(export)]
pub struct Warning {
    pub kind: WarningKind,
    pub message: String,
}

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum WarningKind {
    /// Two files revise the same migration.
    RevisionConflict,
    /// A pending up with no statement: applied, it changes nothing.
    EmptyUp,
    /// A down with no statement: rolled back, it changes nothing but the history.
    EmptyDown,
    /// The run went well, but the schema file could not be written.
    SchemaFile,
    /// The run left a view that no longer reads (it used what a migration dropped or renamed).
    BrokenView,
}

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[ts(export)]
pub enum RunEvent {
    /// Something a person should know before the run starts.
    Warning {
        warning: Warning,
    },
    Started {
        direction: Direction,
        total: usize,
    },
    MigrationStarted {
        direction: Direction,
        index: usize,
        total: usize,
        version: i64,
        description: String,
    },
    MigrationFinished {
        direction: Direction,
        version: i64,
        description: String,
        duration_ns: i64,
    },
    MigrationFailed {
        direction: Direction,
        version: i64,
        message: String,
        location: Option<Location>,
        dirty: bool,
    },
    Finished {
        direction: Direction,
        done: usize,
        total: usize,
        cancelled: bool,
    },
}
