//! Errors cross the bridge as `{kind, message, location}`: the front end branches on `kind`,
//! shows `message`, and points at `location` in a migration file.

use godwit::error::{ErrorKind, Location};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
    pub location: Option<Location>,
}

impl From<godwit::Error> for CommandError {
    fn from(e: godwit::Error) -> Self {
        CommandError { kind: e.kind, message: e.message, location: e.location }
    }
}

pub type CommandResult<T> = Result<T, CommandError>;
