//! Errors cross the bridge as `{kind, problem, message, location, remedies}`: the front end branches
//! on `kind` (or the `problem` it names), shows `message`, points at `location` in a migration file,
//! and offers each remedy.

use godwit::error::{ErrorKind, Location, Problem, Remedy};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub problem: Problem,
    pub message: String,
    pub location: Option<Location>,
    pub remedies: Vec<Remedy>,
}

impl From<godwit::Error> for CommandError {
    fn from(e: godwit::Error) -> Self {
        CommandError {
            kind: e.kind(),
            problem: e.problem,
            message: e.message,
            location: e.location,
            remedies: e.remedies,
        }
    }
}

pub type CommandResult<T> = Result<T, CommandError>;
