//! Errors cross the bridge as `{kind, message, location, remedies}`: the front end branches on
//! `kind`, shows `message`, points at `location` in a migration file, and offers each remedy.

use godwit::error::{ErrorKind, Location, Remedy};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
    pub location: Option<Location>,
    pub remedies: Vec<Remedy>,
}

impl From<godwit::Error> for CommandError {
    fn from(e: godwit::Error) -> Self {
        CommandError { kind: e.kind, message: e.message, location: e.location, remedies: e.remedies }
    }
}

pub type CommandResult<T> = Result<T, CommandError>;
