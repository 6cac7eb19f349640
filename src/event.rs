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
    /// A repeatable file could not be rebuilt after a rollback; the next `up` applies it again.
    NotRebuilt,
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
    /// A migration starts; or a repeatable file (`repeatable`, its version its negative place).
    MigrationStarted {
        direction: Direction,
        index: usize,
        total: usize,
        version: i64,
        description: String,
        repeatable: bool,
    },
    MigrationFinished {
        direction: Direction,
        version: i64,
        description: String,
        duration_ns: i64,
        repeatable: bool,
    },
    MigrationFailed {
        direction: Direction,
        version: i64,
        message: String,
        location: Option<Location>,
        dirty: bool,
    },
    /// A migration waits for a lock these sessions hold (said when who is in the way changes).
    Waiting {
        direction: Direction,
        version: i64,
        blockers: Vec<Blocker>,
        /// Who, in words (`held by server process 4242 (…)`).
        said: String,
    },
    /// A migration gave up waiting for a lock, changed nothing, and is tried again after a pause.
    Retrying {
        direction: Direction,
        version: i64,
        /// 1 for the first retry.
        attempt: u32,
        retries: u32,
        /// How long it waited for the lock.
        waited_ms: Option<u64>,
        after_ms: u64,
        /// What the database said, and who was in the way.
        message: String,
    },
    /// A line from a tool that runs a statement of the migration (pt-online-schema-change's progress).
    Output {
        direction: Direction,
        version: i64,
        line: String,
    },
    Finished {
        direction: Direction,
        done: usize,
        total: usize,
        cancelled: bool,
    },
}

/// A session in a migration's way: it holds (or, where the server cannot say exactly, may hold) a
/// lock the migration waits for.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[ts(export)]
pub struct Blocker {
    /// Which it is, as the server numbers it (`server process 4242` on PostgreSQL, `connection 42`
    /// on MySQL/MariaDB), or a process on this machine for a SQLite file.
    pub session: String,
    pub user: Option<String>,
    /// The program, as it named itself (or the host it came from).
    pub program: Option<String>,
    /// What it is doing (`idle in transaction`, `active`).
    pub state: Option<String>,
    /// Its running or last statement, shortened.
    pub query: Option<String>,
    /// Seconds its transaction has been open.
    pub open_secs: Option<i64>,
    /// `false`: the server cannot say which session holds the lock; this one has a transaction open
    /// and may.
    pub sure: bool,
}

impl Blocker {
    /// In a line: `server process 4242 (user app, psql; idle in transaction, transaction open 12s: UPDATE …)`.
    pub fn describe(&self) -> String {
        let mut who: Vec<String> = Vec::new();
        if let Some(u) = self.user.as_deref().filter(|u| !u.is_empty()) {
            who.push(format!("user {u}"));
        }
        if let Some(p) = self.program.as_deref().filter(|p| !p.is_empty()) {
            who.push(p.to_string());
        }
        let mut doing = self.state.clone().filter(|s| !s.is_empty()).unwrap_or_default();
        if let Some(s) = self.open_secs.filter(|s| *s > 0) {
            doing = format!("{doing}{}transaction open {s}s", if doing.is_empty() { "" } else { ", " });
        }
        if let Some(q) = self.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let q: String = q.split_whitespace().collect::<Vec<_>>().join(" ");
            let q = match q.char_indices().nth(80) {
                Some((i, _)) => format!("{}…", &q[..i]),
                None => q,
            };
            doing = format!("{doing}{}{q}", if doing.is_empty() { "" } else { ": " });
        }
        let mut out = self.session.clone();
        let inner: Vec<String> = [who.join(", "), doing].into_iter().filter(|s| !s.is_empty()).collect();
        if !inner.is_empty() {
            out = format!("{out} ({})", inner.join("; "));
        }
        out
    }
}

/// Who is in the way, in a sentence's tail: `held by session 1 (…) and session 2 (…)`.
pub fn held_by(blockers: &[Blocker]) -> String {
    if blockers.is_empty() {
        return String::new();
    }
    let each: Vec<String> = blockers.iter().map(Blocker::describe).collect();
    match (blockers.iter().all(|b| b.sure), blockers.len()) {
        (true, _) => format!("held by {}", each.join(" and ")),
        // The server cannot say which: these are the ones that can.
        (false, 1) => format!("held, it seems, by {}", each[0]),
        (false, _) => format!("held by one of: {}", each.join("; ")),
    }
}
