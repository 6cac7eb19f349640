//! Bookkeeping SQL shared by the three databases. Values are written as hex literals in each
//! database's own syntax, so a description, an error text or a user name never needs escaping and
//! the bookkeeping can travel in the same batch as the migration.

use std::time::Duration;

use crate::db::{Amend, EventKind, NewEvent, Outcome, Tables};
use crate::migration::source::MigrationFile;
use crate::syntax::Dialect;

/// The bits of syntax that differ between databases.
pub(crate) trait Syntax {
    /// A UTF-8 text literal from its bytes in hex.
    fn text(&self, s: &str) -> String;
    /// A binary literal.
    fn bytes(&self, b: &[u8]) -> String;
    /// The statement that opens a transaction.
    fn begin(&self) -> &'static str;
    fn dialect(&self) -> Dialect;

    fn opt_text(&self, s: Option<&str>) -> String {
        s.map_or_else(|| "NULL".into(), |s| self.text(s))
    }
}

pub(crate) fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

pub(crate) fn insert_history(
    s: &impl Syntax,
    t: &Tables,
    m: &MigrationFile,
    success: bool,
    execution_time: &str,
) -> String {
    format!(
        "INSERT INTO {} (version, description, success, checksum, execution_time) \
         VALUES ({}, {}, {}, {}, {execution_time})",
        t.history.sql(s.dialect()),
        m.version,
        s.text(&m.description),
        if success { "TRUE" } else { "FALSE" },
        s.bytes(&m.checksum)
    )
}

pub(crate) fn set_success(
    s: &impl Syntax,
    t: &Tables,
    version: i64,
    success: bool,
    execution_time: Option<&str>,
) -> String {
    let time = execution_time.map(|t| format!(", execution_time = {t}")).unwrap_or_default();
    format!(
        "UPDATE {} SET success = {}{time} WHERE version = {version}",
        t.history.sql(s.dialect()),
        if success { "TRUE" } else { "FALSE" }
    )
}

pub(crate) fn delete_history(s: &impl Syntax, t: &Tables, version: i64) -> String {
    format!("DELETE FROM {} WHERE version = {version}", t.history.sql(s.dialect()))
}

/// The `execution_time` an up writes into the history row it puts in before its statements (sqlx
/// writes -1 there: not known yet): negative like sqlx's, and this run's alone, so that what a
/// failure finds in that row tells whether this run wrote it or another one did (a run on another
/// Galera node, or a tool that takes no lock).
pub(crate) fn marker() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    // Below -1, so never sqlx's own mark.
    -2 - (h.finish() >> 2) as i64
}

/// Takes back the row `marker` put in, and only that row.
pub(crate) fn delete_marked(s: &impl Syntax, t: &Tables, version: i64, marker: i64) -> String {
    format!(
        "DELETE FROM {} WHERE version = {version} AND success = FALSE AND execution_time = {marker}",
        t.history.sql(s.dialect())
    )
}

/// Who wrote a version's history row, as a failed migration finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// No row: this run's mark (if it made one) went with its transaction.
    None,
    /// This run's mark, still `success = false`.
    Ours,
    /// A row this run did not write: another run recorded the version first.
    Theirs,
}

impl Mark {
    /// From the row found (`success`, `execution_time`), for an up that marked it with `marker`.
    pub(crate) fn of(row: Option<(bool, i64)>, marker: i64) -> Mark {
        match row {
            None => Mark::None,
            Some((false, t)) if t == marker => Mark::Ours,
            Some(_) => Mark::Theirs,
        }
    }
}

pub(crate) fn amend(s: &impl Syntax, t: &Tables, a: &Amend) -> String {
    let history = t.history.sql(s.dialect());
    match a {
        Amend::Checksum { version, checksum } => {
            format!("UPDATE {history} SET checksum = {} WHERE version = {version}", s.bytes(checksum))
        }
        Amend::Succeeded { version, checksum } => {
            format!("UPDATE {history} SET checksum = {}, success = TRUE WHERE version = {version}", s.bytes(checksum))
        }
        Amend::Forget { version } => delete_history(s, t, *version),
        // sqlx's -1: the time it took is not known.
        Amend::Adopt { version, description, checksum } => format!(
            "INSERT INTO {history} (version, description, success, checksum, execution_time) \
             VALUES ({version}, {}, TRUE, {}, -1)",
            s.text(description),
            s.bytes(checksum)
        ),
    }
}

/// An event row; `duration` is an SQL expression so a batch can measure itself on the server.
pub(crate) fn insert_log(s: &impl Syntax, t: &Tables, e: &NewEvent, actor: &str, duration: &str) -> String {
    format!(
        "INSERT INTO {} (event, version, description, actor, duration_ns, outcome, error, detail) \
         VALUES ({}, {}, {}, {}, {duration}, {}, {}, {})",
        t.log.sql(s.dialect()),
        s.text(e.kind.as_str()),
        e.version.map_or_else(|| "NULL".into(), |v| v.to_string()),
        s.text(&e.description),
        s.text(actor),
        s.text(e.outcome.as_str()),
        s.opt_text(e.error.as_deref().map(clip).as_deref()),
        s.opt_text(e.detail.as_deref().map(clip).as_deref()),
    )
}

/// A text that fits the log's columns (MySQL's TEXT holds 64 KiB): its start and its end, where
/// an error says what failed.
fn clip(s: &str) -> std::borrow::Cow<'_, str> {
    const KEEP: usize = 8 * 1024;
    if s.len() <= 2 * KEEP {
        return s.into();
    }
    let head = s.floor_char_boundary(KEEP);
    let tail = s.ceil_char_boundary(s.len() - KEEP);
    format!("{}\n… ({} bytes left out) …\n{}", &s[..head], tail - head, &s[tail..]).into()
}

pub(crate) fn ok_event(kind: EventKind, m: &MigrationFile) -> NewEvent {
    NewEvent {
        kind,
        version: Some(m.version),
        description: m.description.clone(),
        duration: None,
        outcome: Outcome::Ok,
        error: None,
        detail: None,
    }
}

/// A repeatable file's event: its name, and its checksum (what a later run compares).
pub(crate) fn repeatable_event(r: &MigrationFile, outcome: Outcome, error: Option<String>) -> NewEvent {
    NewEvent {
        kind: EventKind::Repeatable,
        version: None,
        description: r.file_name(),
        duration: None,
        outcome,
        error,
        detail: Some(hex::encode(&r.checksum)),
    }
}

/// The execution time the history row holds, so the log says the same.
pub(crate) fn recorded_time(s: &impl Syntax, t: &Tables, version: i64) -> String {
    format!("(SELECT execution_time FROM {} WHERE version = {version})", t.history.sql(s.dialect()))
}

pub(crate) fn duration_literal(d: Option<Duration>) -> String {
    d.map_or_else(|| "NULL".into(), |d| ns(d).to_string())
}

pub(crate) const HISTORY_COLUMNS: [&str; 6] =
    ["version", "description", "installed_on", "success", "checksum", "execution_time"];

/// Refuses a history table whose columns are not sqlx's (another tool made it).
pub(crate) fn check_columns(t: &Tables, d: Dialect, found: &[String]) -> crate::error::Result<()> {
    let missing: Vec<&str> =
        HISTORY_COLUMNS.iter().copied().filter(|c| !found.iter().any(|f| f.eq_ignore_ascii_case(c))).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(crate::error::Error::input(format!(
        "this database has a table named {} that is not sqlx's: it lacks {} (it has {}). \
         Another tool made it; Godwit will not write to it. Rename that table, or point Godwit at \
         another database or schema.",
        t.history.sql(d),
        missing.join(", "),
        found.join(", ")
    )))
}

pub(crate) const SELECT_APPLIED: &str = "SELECT version, description, installed_on, success, checksum, execution_time \
     FROM {history} ORDER BY version";

/// The log's successful applies and rollbacks, for who applied each version (its last such event,
/// when that was an apply: after a rollback it is not known who applied it again, with another
/// tool). A plain scan, the newest picked in Rust: grouping on the server sorted the whole log.
pub(crate) const SELECT_APPLIES: &str = "SELECT id, version, event, actor FROM {log} \
     WHERE event IN ('apply', 'rollback', 'resolve') AND outcome = 'ok' AND version IS NOT NULL";

/// Which events a read of `_godwit_log` wants.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Events {
    All,
    Of(i64),
    Kind(super::EventKind),
}

/// The newest events (of one version or kind, when given), at most `limit`.
pub(crate) fn select_events(s: &impl Syntax, t: &Tables, which: Events, limit: i64) -> String {
    let only = match which {
        Events::All => String::new(),
        Events::Of(v) => format!("WHERE version = {v} "),
        // A fixed word of ours, never a person's text.
        Events::Kind(k) => format!("WHERE event = '{}' ", k.as_str()),
    };
    format!(
        "SELECT id, event_at AS at, event AS kind, version, description, actor, duration_ns, outcome, error, detail \
         FROM {} {only}ORDER BY id DESC LIMIT {limit}",
        t.log.sql(s.dialect())
    )
}
