//! The databases Godwit migrates: one `Database` trait, one implementation per database.
//! Each implementation owns its history tables, its lock, its transaction rules and how it
//! batches a migration with its bookkeeping; the engine above never asks which one it has.

mod history;
pub(crate) mod my_options;
mod mysql;
pub mod online;
mod postgres;
mod sql;
pub(crate) use sql::repeatable_event;
mod sqlite;
pub mod tables;
pub mod target;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Location, Problem, Result};
use crate::migration::source::MigrationFile;
pub use crate::syntax::Dialect;
pub(crate) use postgres::USER_SCHEMAS as POSTGRES_USER_SCHEMAS;
pub(crate) use sql::ns;
pub use tables::{TableName, Tables};
pub use target::{ConnectOptions, Target};

/// A row of `_sqlx_migrations`, with sqlx's meaning.
#[derive(ts_rs::TS, Debug, Clone, Serialize, sqlx::FromRow)]
#[ts(export)]
pub struct Applied {
    pub version: i64,
    pub description: String,
    #[serde(serialize_with = "crate::timestamp::millis")]
    pub installed_on: DateTime<Utc>,
    /// `false`: the migration failed part way outside a transaction and the database needs a person.
    pub success: bool,
    #[serde(with = "hex::serde")]
    #[ts(type = "string")]
    pub checksum: Vec<u8>,
    /// Nanoseconds; -1 when unknown (sqlx writes -1 first and may never update it).
    pub execution_time: i64,
}

/// What happened, in `_godwit_log`.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum EventKind {
    Apply,
    Rollback,
    Repair,
    Resolve,
    Backup,
    Restore,
    /// Recorded as applied by `import`: another tool ran it.
    Import,
    /// A first migration written from the schema by `baseline`, recorded as applied.
    Baseline,
    /// History rewritten by `squash`: the squashed rows removed, the squashed file's recorded.
    Squash,
    /// A repeatable file applied (`description` its name, `detail` its checksum in hex).
    Repeatable,
}

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Outcome {
    Ok,
    /// Failed and left nothing behind.
    Failed,
    /// Failed part way: some statements stayed applied (`success = false` in `_sqlx_migrations`).
    Partial,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Apply => "apply",
            EventKind::Rollback => "rollback",
            EventKind::Repair => "repair",
            EventKind::Resolve => "resolve",
            EventKind::Backup => "backup",
            EventKind::Restore => "restore",
            EventKind::Import => "import",
            EventKind::Baseline => "baseline",
            EventKind::Squash => "squash",
            EventKind::Repeatable => "repeatable",
        }
    }
}

impl TryFrom<String> for EventKind {
    type Error = serde_json::Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(s))
    }
}

impl TryFrom<String> for Outcome {
    type Error = serde_json::Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(s))
    }
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Partial => "partial",
        }
    }
}

/// An event to record. `actor` is filled in by the database layer from the OS.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub version: Option<i64>,
    pub description: String,
    pub duration: Option<Duration>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub detail: Option<String>,
}

/// A row of `_godwit_log`.
#[derive(ts_rs::TS, Debug, Clone, Serialize, sqlx::FromRow)]
#[ts(export)]
pub struct Event {
    pub id: i64,
    #[serde(serialize_with = "crate::timestamp::millis")]
    pub at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub kind: EventKind,
    pub version: Option<i64>,
    pub description: Option<String>,
    /// OS user@host that ran it.
    pub actor: String,
    pub duration_ns: Option<i64>,
    #[sqlx(try_from = "String")]
    pub outcome: Outcome,
    pub error: Option<String>,
    pub detail: Option<String>,
}

/// A table and its rows at backup time.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::FromRow)]
#[ts(export)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

/// What a migration left part way says of the statements that ran before the failing one
/// (`ran`: them, in the file `sql`): which lines, so a person knows what to finish or undo.
pub(crate) fn ran_before(sql: &str, ran: &[crate::syntax::split::Statement<'_>], why: &str) -> String {
    let line = |o: usize| crate::syntax::split::line_col(sql, o).0;
    let lines = match (ran.first(), ran.last()) {
        (Some(a), Some(b)) if line(a.offset) == line(b.offset) => format!("line {}", line(a.offset)),
        (Some(a), Some(b)) => format!("lines {}–{}", line(a.offset), line(b.offset)),
        _ => return String::new(),
    };
    format!("\nThe {} statement(s) before it ({lines}) ran, and what they changed stays: {why}.", ran.len())
}

/// What of `waits` a database of `dialect` cannot set, said before anything runs (the dry run says
/// it too): MySQL/MariaDB wait for locks in whole seconds; SQLite has no statement timeout.
pub fn refused_waits(dialect: Dialect, waits: &crate::migration::waits::Waits, on: &str) -> Option<Error> {
    use crate::migration::waits::short;
    match dialect {
        Dialect::MySql => waits.lock_wait.filter(|w| w.subsec_nanos() != 0).map(|w| {
            Error::input(format!(
                "MySQL/MariaDB wait for a lock in whole seconds: a lock wait of {} cannot be set on {on}. Give it in \
                 whole seconds (1s or more); nothing was run.",
                short(w)
            ))
        }),
        Dialect::Sqlite => waits.statement_timeout.map(|_| {
            Error::input(format!(
                "statement_timeout cannot be set on a SQLite file ({on}): leave it off for this environment; nothing \
                 was run."
            ))
        }),
        Dialect::Postgres => None,
    }
}

/// Another run recorded `m` first, so this run's mark never went in and nothing of its file ran
/// here: said as such (exit 4), not as the file's failure, and nothing is taken back.
pub(crate) fn raced(m: &MigrationFile, error: &Error) -> Failure {
    let error = Error::new(
        Problem::Raced { version: m.version },
        format!(
            "another run recorded migration {} in the history first ({}): nothing of {} ran in this run. Its status \
             tells how that run ends; runs that take Godwit's or sqlx's lock wait for each other instead.",
            m.version,
            error.message.lines().next().unwrap_or_default(),
            crate::migration::source::file_name(&m.path),
        ),
    )
    .with_remedy(crate::error::Remedy::WaitForLock);
    Failure { error, dirty: false }
}

/// A migration failed and what it left could not be read back (`why`): never "changed nothing".
/// Said as a lost connection, so the runner connects again and reads the history, and says "not
/// known" if it cannot.
pub(crate) fn unknown(mut error: Error, why: &Error) -> Failure {
    error.problem = Problem::ConnectionLost;
    error.message += &format!("\nWhat it left could not be read back ({}).", why.message);
    Failure { error, dirty: false }
}

/// Whether a failed statement wrote a history row another run had written first: a duplicate key.
/// (Two Galera nodes inserting it at once: the loser's deadlock is told by reading the row.)
pub(crate) fn lost_the_race(e: &sqlx::Error) -> bool {
    matches!(error_code(e).as_deref(), Some("1062" | "23505" | "2067" | "1555"))
}

/// A migration's first statement failed, so nothing of it ran, and the history mark made before it
/// was taken back; if taking it back failed (`undo`), the history still says it failed part way,
/// and the failure must say so rather than that nothing changed.
pub(crate) fn unmarked(mut error: Error, undo: Option<sqlx::Error>) -> Failure {
    match undo {
        None => Failure { error, dirty: false },
        Some(e) => {
            error.message += &format!(
                "\nNothing of it ran, but taking back the history's mark that it had started failed ({}): the history \
                 says it failed part way. Mark it rolled back once you have checked.",
                server_says(&e)
            );
            Failure { error, dirty: true }
        }
    }
}

/// `message` without what `ran_before` said: on a scratch database that is dropped after, nothing
/// that ran stays, and saying so would read as about the real one.
pub(crate) fn without_ran_before(message: &str) -> String {
    message
        .split('\n')
        .filter(|l| !(l.starts_with("The ") && l.contains(" statement(s) before it (") && l.contains(" stays: ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How the other environments get the fix of a view made by hand on one: the migration that broke
/// it may be pending (and refused) there, and the SQL must run on every database.
pub const VIEW_FIX_ELSEWHERE: &str = "For the other environments: where the migration that dropped what the view \
     read is still pending, make the view's change in that migration, before the drop (then accept the edit here \
     with `repair`); where it is applied, write a new migration (DROP VIEW IF EXISTS, then CREATE VIEW, which every \
     database runs)";

/// A view the database can no longer read: a table, column or function it uses is gone.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export)]
pub struct BrokenView {
    pub name: String,
    /// What the database says when it reads the view.
    pub why: String,
    /// The database's dump tool cannot back it up while it is so (MariaDB's).
    pub blocks_backup: bool,
}

/// SHA-256 of a schema's lines.
pub fn fingerprint(lines: &[String]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(lines.join("\n").as_bytes()))
}

/// Counts tables in one round trip per 500: one row, one column per table, in the given order.
pub(crate) fn count_queries(tables: &[String], quote: impl Fn(&str) -> String) -> Vec<String> {
    tables
        .chunks(500)
        .map(|chunk| {
            let cols: Vec<String> = chunk.iter().map(|t| format!("(SELECT COUNT(*) FROM {})", quote(t))).collect();
            format!("SELECT {}", cols.join(", "))
        })
        .collect()
}

/// Runs `count_queries` and pairs the counts with the names.
pub(crate) async fn count_tables<'c, DB>(
    conn: &'c mut <DB as sqlx::Database>::Connection,
    tables: Vec<String>,
    quote: impl Fn(&str) -> String,
) -> Result<Vec<TableCount>>
where
    DB: sqlx::Database,
    for<'e> &'e mut <DB as sqlx::Database>::Connection: sqlx::Executor<'e, Database = DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    usize: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
    <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    use sqlx::Row;
    let mut out = Vec::with_capacity(tables.len());
    let mut names = tables.iter();
    for q in count_queries(&tables, quote) {
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).fetch_one(&mut *conn).await?;
        for i in 0..row.len() {
            let rows: i64 = row.try_get(i)?;
            out.push(TableCount { table: names.next().expect("one name per column").clone(), rows });
        }
    }
    Ok(out)
}

/// A change to a history row that a person asked for.
#[derive(Debug, Clone)]
pub enum Amend {
    /// `repair`: accept the edited file of an applied migration.
    Checksum { version: i64, checksum: Vec<u8> },
    /// `resolve --applied`: a person finished a failed migration by hand.
    Succeeded { version: i64, checksum: Vec<u8> },
    /// `resolve --rolled-back`: a person undid a failed migration by hand.
    Forget { version: i64 },
    /// `import`: another tool ran it; recorded as applied without running it.
    Adopt { version: i64, description: String, checksum: Vec<u8> },
}

/// Why a migration or its rollback failed, and whether it left the database part way.
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    pub dirty: bool,
}

/// What `env test` and `status` report about a server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub dialect: Dialect,
    pub version: String,
}

/// A PostgreSQL server in recovery: a streaming (or log-shipping) standby, read-only, replaying
/// what its primary writes.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Serialize)]
#[ts(export)]
pub struct Standby {
    /// Replay is paused (`pg_wal_replay_pause()`): it stays behind for as long as it is.
    pub paused: bool,
    /// Bytes of the primary's log received and not replayed yet; `None` when none streams in.
    pub unreplayed_bytes: Option<i64>,
    /// How long ago the newest replayed transaction committed on the primary, in milliseconds (a
    /// quiet primary makes it grow too).
    pub replayed_age_ms: Option<i64>,
}

impl Standby {
    /// What it has read of its primary is not all the primary has: replay is paused, or what it
    /// received waits and the newest change it replayed is more than ten seconds old (a busy,
    /// healthy standby always has a little in flight).
    pub fn behind(&self) -> bool {
        self.paused
            || (self.unreplayed_bytes.is_some_and(|b| b > 0) && self.replayed_age_ms.is_some_and(|ms| ms > 10_000))
    }

    /// "a read-only standby (replay paused; …)".
    pub fn describe(&self) -> String {
        let mut said = Vec::new();
        if self.paused {
            said.push("replay paused".to_string());
        }
        if let Some(b) = self.unreplayed_bytes.filter(|b| *b > 0) {
            said.push(format!("{b} bytes received not replayed yet"));
        }
        if let Some(ms) = self.replayed_age_ms.filter(|ms| self.behind() && *ms >= 1000) {
            let ago = crate::migration::waits::short(Duration::from_secs(ms as u64 / 1000));
            said.push(format!("the newest change it replayed was committed {ago} ago"));
        }
        match said.is_empty() {
            true => "a read-only standby, caught up with its primary".into(),
            false => format!("a read-only standby ({})", said.join("; ")),
        }
    }
}

/// A connection to one database: what runs migrations, what reads and amends their history, and
/// what looks at the schema and data (backups; schema work). Each driver implements the three.
pub trait Database: Migrate + History + Inspect {}
impl<T: Migrate + History + Inspect + ?Sized> Database for T {}

/// Running migrations: the lock, the history tables, a script and its bookkeeping, and stopping it.
#[async_trait]
pub trait Migrate: Send {
    fn dialect(&self) -> Dialect;

    /// Whether `_sqlx_migrations` exists.
    async fn history_exists(&mut self) -> Result<bool>;

    /// Creates `_sqlx_migrations` (sqlx's columns) and `_godwit_log` when missing, and refuses a
    /// `_sqlx_migrations` that some other tool made with other columns.
    async fn ensure_tables(&mut self) -> Result<()>;

    /// Takes sqlx's migration lock, waiting at most `timeout`.
    async fn lock(&mut self, timeout: Duration) -> Result<()>;

    /// Who holds the migration lock, when another session does: a run in progress, whose history
    /// rows are changing. `None` when it is free, or where the lock cannot be seen from outside
    /// (SQLite's is its write lock).
    async fn run_in_progress(&mut self) -> Result<Option<String>> {
        Ok(None)
    }
    async fn unlock(&mut self) -> Result<()>;

    /// What this server is if it is a standby (in recovery), which takes no writes; `None` for a
    /// primary and where there is no such thing.
    async fn standby(&mut self) -> Result<Option<Standby>> {
        Ok(None)
    }

    /// How long the migrations that follow wait for other sessions' locks and may run, set on this
    /// session. A limit this database cannot set is refused, before anything runs.
    async fn limit(&mut self, waits: &crate::migration::waits::Waits) -> Result<()>;

    /// Where a tool that runs a statement for this database (pt-online-schema-change) sends its
    /// lines while it works.
    fn narrate(&mut self, to: tokio::sync::mpsc::UnboundedSender<String>) {
        let _ = to;
    }

    /// Refuses, before anything runs, a script this database cannot run as written here (a
    /// statement marked online without the tool that runs it).
    async fn ready(&mut self, script: &Script<'_>) -> Result<()> {
        let _ = script;
        Ok(())
    }

    /// Runs an up migration's script and records it (history and log) in as few round trips as the
    /// database allows (the script has at least one statement).
    async fn apply(&mut self, m: &MigrationFile, up: &Script<'_>, actor: &str) -> Result<Duration, Failure>;

    /// Runs a down script and removes the history row, recording a rollback event.
    async fn revert(&mut self, m: &MigrationFile, down: &Script<'_>, actor: &str) -> Result<Duration, Failure>;

    /// Runs a repeatable file (in a transaction where the database allows, unless it says
    /// `-- no-transaction`) and logs it as applied, with its checksum, in the same transaction.
    async fn apply_repeatable(
        &mut self,
        r: &MigrationFile,
        script: &Script<'_>,
        actor: &str,
    ) -> Result<Duration, Failure>;

    /// What stops the statement this connection is running, from elsewhere (a second Ctrl-C, a
    /// window closing): asked for once before a run.
    async fn interrupter(&mut self) -> Result<Box<dyn Interrupt>>;

    /// Connects again after the connection was lost, to find out what the database holds. The
    /// session's lock went with the old connection.
    async fn reconnect(&mut self) -> Result<()>;

    async fn close(self: Box<Self>);
}

/// The history tables, read and amended. One implementation for all three databases
/// (`history.rs`), over what each driver's `Bookkeeper` gives it.
#[async_trait]
pub trait History: Send {
    /// Where the history lives on this connection.
    fn history_tables(&self) -> &Tables;

    /// `_sqlx_migrations` in version order; empty when the table does not exist yet.
    async fn applied(&mut self) -> Result<Vec<Applied>>;

    /// Records an empty (comment-only) migration as applied without sending it.
    async fn record_empty(&mut self, m: &MigrationFile, actor: &str) -> Result<()>;

    async fn log(&mut self, event: &NewEvent, actor: &str) -> Result<()>;

    /// Who last applied each version (or marked it applied, resolving it), from `_godwit_log`; empty
    /// when it does not exist yet.
    async fn appliers(&mut self) -> Result<Vec<(i64, String)>>;

    /// Newest first (of one version, when given); empty when `_godwit_log` does not exist yet.
    async fn events(&mut self, version: Option<i64>, limit: i64) -> Result<Vec<Event>>;

    /// Every event of `kind`, newest first; empty when there is none (or no `_godwit_log` yet).
    async fn events_of(&mut self, kind: EventKind) -> Result<Vec<Event>>;

    /// The newest event of `kind`; `None` when there is none (or no `_godwit_log` yet).
    async fn newest_event(&mut self, kind: EventKind) -> Result<Option<Event>>;

    /// Changes a history row and records the event, in one transaction (`repair`, `resolve`).
    async fn amend(&mut self, changes: &[(Amend, NewEvent)], actor: &str) -> Result<()>;

    /// Rows of another tool's history table, each column read as text; `None` when there is no
    /// such table.
    async fn foreign_rows(&mut self, query: &str) -> Result<Option<Vec<(String, String, String)>>>;

    /// Runs a script's statements with no bookkeeping at all (seed data for `verify`): written once
    /// here, over each driver's connection, with the history code.
    async fn execute_script(&mut self, script: &Script<'_>) -> Result<()>;
}

/// Looking at the server, its schema and its data, for backups and their checks.
#[async_trait]
pub trait Inspect: Send {
    async fn server_version(&mut self) -> Result<String>;

    /// One round trip to the server.
    async fn ping(&mut self) -> Result<()>;

    /// Opens a read-only snapshot for a backup: the counts and schema read next see the same data
    /// as the dump. PostgreSQL returns the snapshot's id for `pg_dump --snapshot`.
    async fn begin_snapshot(&mut self) -> Result<Option<String>>;
    async fn end_snapshot(&mut self) -> Result<()>;

    /// Rows in each table (the event log left out: backups do not carry it), by name.
    async fn table_counts(&mut self) -> Result<Vec<TableCount>>;

    /// The schema as sorted lines from the catalogs (tables, columns, indexes, constraints,
    /// views, triggers, routines), for a fingerprint that is equal when the schema is.
    async fn schema_lines(&mut self) -> Result<Vec<String>>;

    /// The schema as a normalised model (tables with their columns, constraints, indexes, views,
    /// sequences, types, functions, triggers, extensions), Godwit's and sqlx's tables left out, in a
    /// fixed number of queries.
    async fn inspect(&mut self) -> Result<crate::schema::Schema>;

    /// What the server says of its objects beyond the model, for writing statements about them
    /// (constraint names, each object's own statement where the model's cannot be run).
    async fn catalog(&mut self) -> Result<crate::schema::generate::Catalog>;

    /// The schema and each table's rows, as `verify` reads them around each down.
    /// `counts: false` leaves the rows out (none are returned).
    async fn snapshot(&mut self, counts: bool) -> Result<(crate::schema::Schema, Vec<TableCount>)> {
        let schema = self.inspect().await?;
        Ok((schema, if counts { self.table_counts().await? } else { Vec::new() }))
    }

    /// The user tables, for finding what a restore must drop (tables made after the backup).
    async fn tables(&mut self) -> Result<Vec<String>>;

    /// Drops tables (and what depends on them).
    async fn drop_tables(&mut self, names: &[String]) -> Result<()>;

    /// Before a restore over this database: drops what the backup's tool would leave as it is
    /// (made since the backup) and does not drop itself; the backup re-creates its own.
    /// PostgreSQL's restore drops everything in its own transaction and SQLite's replaces the file,
    /// so only MySQL/MariaDB has anything to do here: its dump drops and re-creates its own tables,
    /// views and routines, but not those made since.
    async fn clear_for_restore(&mut self) -> Result<()> {
        Ok(())
    }

    /// Views that no longer read (MariaDB and SQLite keep a view whose table or column is dropped;
    /// PostgreSQL refuses the drop, or drops the view with it).
    async fn broken_views(&mut self) -> Result<Vec<BrokenView>> {
        Ok(Vec::new())
    }

    /// Makes an empty database on the same server (for verifying a backup; `db create`).
    async fn create_database(&mut self, name: &str) -> Result<()>;

    /// Makes an empty database with the defaults of database `like` (MySQL's character set and
    /// collation, which every table made without its own takes): a scratch copy compares equal.
    async fn create_database_like(&mut self, name: &str, like: &str) -> Result<()> {
        let _ = like;
        self.create_database(name).await
    }
    /// Creates database `name` as a copy of `template`, which no session may be connected to
    /// (PostgreSQL's template databases); refused where the server has no such copy.
    async fn create_database_from(&mut self, name: &str, template: &str) -> Result<()> {
        let _ = (name, template);
        Err(Error::failed("this database cannot be copied by the server".to_string()))
    }
    /// Drops a scratch database, ending any session still in it.
    async fn drop_scratch(&mut self, name: &str) -> Result<()>;
    /// Drops a database a person asked to drop; `false` when it did not exist. A database in use is
    /// refused by the server, not forced.
    async fn drop_database(&mut self, name: &str) -> Result<bool>;

    /// The server's databases this user may connect to, sorted (a fleet's pattern is matched
    /// against them); the server's own catalogs left out.
    async fn databases(&mut self) -> Result<Vec<String>>;
}

/// Stops a connection's running statement on the server (PostgreSQL's `pg_cancel_backend` and
/// MariaDB's `KILL QUERY` from a second connection, `sqlite3_interrupt`), so that "aborted" is true
/// when Godwit says it: the statement fails as cancelled, and its transaction rolls back.
#[async_trait]
pub trait Interrupt: Send + Sync {
    async fn interrupt(&self) -> Result<()>;
    /// Whether the server says, over a new connection, that the session is running a statement.
    async fn running(&self) -> Result<bool>;
    /// The sessions holding a lock the session waits for; empty when it waits for none (or where
    /// the database cannot tell while it waits: SQLite says when it gives up).
    async fn blockers(&self) -> Result<Vec<crate::event::Blocker>> {
        Ok(Vec::new())
    }
}

/// Opens a connection to `target` within the connect timeout.
pub async fn connect(target: &Target, opts: &ConnectOptions) -> Result<Box<dyn Database>> {
    let fut = async {
        Ok::<Box<dyn Database>, Error>(match target.dialect() {
            Dialect::Postgres => Box::new(postgres::Postgres::connect(target, opts).await?),
            Dialect::MySql => Box::new(mysql::MySql::connect(target, opts).await?),
            Dialect::Sqlite => Box::new(sqlite::Sqlite::connect(target, opts).await?),
        })
    };
    match tokio::time::timeout(opts.connect_timeout, fut).await {
        Ok(r) => r,
        Err(_) => {
            // A MySQL client waits for the server to speak first and a PostgreSQL server for the
            // client: a MySQL URL at PostgreSQL's port hangs rather than fails.
            let other = match (target.dialect(), target.endpoint().map(|e| e.port)) {
                (Dialect::MySql, Some(5432)) => " Port 5432 is usually PostgreSQL's: check the URL's scheme and port.",
                (Dialect::Postgres, Some(3306)) => " Port 3306 is usually MySQL's: check the URL's scheme and port.",
                _ => "",
            };
            let e = Error::connect(format!(
                "no answer from {} within {:?}: check the host and port, firewalls and VPN, or wait longer.{other}",
                target.display(),
                opts.connect_timeout
            ));
            // Waiting longer cannot help a client and a server that each wait for the other.
            Err(if other.is_empty() { e.with_remedy(crate::error::Remedy::WaitForServer) } else { e })
        }
    }
}

/// Creates the target's database, empty, on its server (a SQLite file: the file). `false` when it
/// already existed: nothing was done.
pub async fn create_database(target: &Target, opts: &ConnectOptions) -> Result<bool> {
    if target.dialect() == Dialect::Sqlite {
        // A missing folder is said by connecting (it is not created).
        if target.sqlite_path().exists() {
            return Ok(false);
        }
        connect(target, &ConnectOptions { create_sqlite: true, ..opts.clone() }).await?.close().await;
        return Ok(true);
    }
    match connect(target, opts).await {
        Ok(db) => {
            db.close().await;
            return Ok(false);
        }
        Err(e) if e.problem == Problem::NoDatabase => {}
        Err(e) => return Err(e),
    }
    let mut admin = connect(&maintenance(target), opts).await?;
    let made = admin.create_database(&target.database()).await;
    admin.close().await;
    made.map(|()| true)
}

/// The databases on the target's server (see `Inspect::databases`).
pub async fn list_databases(target: &Target, opts: &ConnectOptions) -> Result<Vec<String>> {
    if target.dialect() == Dialect::Sqlite {
        return Err(Error::input("a SQLite file is not a server: it has no databases to list"));
    }
    let mut admin = connect(&maintenance(target), opts).await?;
    let names = admin.databases().await;
    admin.close().await;
    names
}

/// Drops the target's database (a SQLite file: removes it). `false` when it did not exist.
pub async fn drop_database(target: &Target, opts: &ConnectOptions) -> Result<bool> {
    // A SQLite file needs no connection to go.
    if target.dialect() == Dialect::Sqlite {
        return sqlite::remove_file(target.sqlite_path());
    }
    let mut admin = connect(&maintenance(target), opts).await?;
    let dropped = admin.drop_database(&target.database()).await;
    admin.close().await;
    dropped
}

/// A database made for Godwit's own work beside an environment's: a new, uniquely named database on
/// the same server (for SQLite, a file in a private folder of its own: the shared temp folder is
/// everyone's). Never the environment's own; `remove` drops it, and every path that made one calls it.
pub struct Scratch {
    pub target: Target,
    opts: ConnectOptions,
    /// SQLite's folder (0700), removed with the scratch.
    _folder: Option<tempfile::TempDir>,
}

impl Scratch {
    pub async fn new(beside: &Target, opts: &ConnectOptions) -> Result<Scratch> {
        Scratch::made(beside, opts, true).await
    }

    /// A scratch's name and folder beside `beside`, the database itself not made yet (PostgreSQL)
    /// or made empty (SQLite's file): what `copy` fills.
    async fn new_empty(beside: &Target, opts: &ConnectOptions) -> Result<Scratch> {
        Scratch::made(beside, opts, false).await
    }

    async fn made(beside: &Target, opts: &ConnectOptions, make: bool) -> Result<Scratch> {
        // The app runs several jobs in one process: a counter keeps their names apart.
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("godwit_scratch_{}_{n}_{nanos}", std::process::id());
        let folder =
            match beside.dialect() {
                Dialect::Sqlite => {
                    let mut b = tempfile::Builder::new();
                    b.prefix("godwit-scratch-");
                    #[cfg(unix)]
                    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
                    Some(b.tempdir().map_err(|e| {
                        Error::failed(format!("cannot make a private folder for a scratch database: {e}"))
                    })?)
                }
                _ => None,
            };
        let target = match &folder {
            Some(dir) => beside.with_database(&dir.path().join(format!("{name}.db")).display().to_string()),
            None => beside.with_database(&name),
        };
        if target.database() == beside.database() {
            return Err(Error::failed("the scratch database would be the environment's own: nothing was done"));
        }
        // Not the environment's `NoDatabase` (its remedy would offer to create it): the scratch's.
        let cannot = |e: Error| {
            Error::failed(format!("cannot make a scratch database beside {}: {}", beside.display(), e.message))
        };
        let made = match beside.dialect() {
            Dialect::Sqlite if !make => true,
            _ if !make => {
                // Made by `copy`, which creates it from its template: only the name is taken here.
                let tables = opts.tables.for_scratch(beside.dialect());
                return Ok(Scratch {
                    target,
                    opts: ConnectOptions { tables, create_sqlite: true, ..opts.clone() },
                    _folder: folder,
                });
            }
            Dialect::Sqlite => create_database(&target, opts).await.map_err(cannot)?,
            _ => {
                let mut admin = connect(&maintenance(beside), opts).await.map_err(cannot)?;
                let r = admin.create_database_like(&target.database(), &beside.database()).await;
                admin.close().await;
                r.map(|()| true).map_err(cannot)?
            }
        };
        if !made {
            return Err(Error::failed(format!(
                "a database named {} already exists beside {}: it is not Godwit's to use or drop; nothing was done",
                target.database(),
                beside.display()
            )));
        }
        // Its history where a scratch's own is (`Tables::for_scratch`); a missing SQLite file is made.
        let tables = opts.tables.for_scratch(beside.dialect());
        Ok(Scratch { target, opts: ConnectOptions { tables, create_sqlite: true, ..opts.clone() }, _folder: folder })
    }

    /// How to connect to it: where its history goes, among the rest.
    pub fn options(&self) -> &ConnectOptions {
        &self.opts
    }

    /// A new scratch database beside this one holding a copy of it (PostgreSQL copies it as a
    /// template, so nothing may be connected to this one meanwhile; SQLite copies its file); `None`
    /// where the database has no such copy (MySQL/MariaDB).
    pub async fn copy(&self) -> Result<Option<Scratch>> {
        let dialect = self.target.dialect();
        if dialect == Dialect::MySql {
            return Ok(None);
        }
        let beside = self.target.clone();
        let copy = Scratch::new_empty(&beside, &self.opts).await?;
        let copied = match dialect {
            Dialect::Sqlite => std::fs::copy(self.target.sqlite_path(), copy.target.sqlite_path())
                .map(|_| ())
                .map_err(|e| Error::failed(format!("cannot copy the scratch database: {e}"))),
            _ => {
                let mut admin = connect(&maintenance(&self.target), &self.opts).await?;
                let r = admin.create_database_from(&copy.target.database(), &self.target.database()).await;
                admin.close().await;
                r
            }
        };
        match copied {
            Ok(()) => Ok(Some(copy)),
            Err(e) => {
                let _ = copy.remove().await;
                Err(e)
            }
        }
    }

    /// Drops it, ending any session still in it.
    pub async fn remove(self) -> Result<()> {
        if self.target.dialect() == Dialect::Sqlite {
            return drop_database(&self.target, &self.opts).await.map(|_| ());
        }
        let mut admin = connect(&maintenance(&self.target), &self.opts).await?;
        let r = admin.drop_scratch(&self.target.database()).await;
        admin.close().await;
        r
    }
}

/// Why a server refused to drop a database, in words (not the driver's).
pub(crate) fn drop_refused(name: &str, e: &sqlx::Error) -> Error {
    match error_code(e).as_deref() {
        Some("55006") => Error::failed(format!(
            "the database {name} was not dropped: other sessions are connected to it. Close them (or wait for them), \
             then drop it again."
        )),
        _ => Error::failed(format!(
            "the database {name} was not dropped: {}",
            e.as_database_error().map_or_else(|| e.to_string(), |d| d.message().to_string())
        )),
    }
}

/// The database on the same server to connect to while the target's own does not exist (or is being
/// dropped): PostgreSQL's `postgres`, none for MySQL.
fn maintenance(target: &Target) -> Target {
    match target.dialect() {
        Dialect::Postgres => target.with_database("postgres"),
        _ => target.with_database(""),
    }
}

/// Connects for reading: a SQLite file that does not exist yet is an empty database (`None`), and
/// is not created by looking at it.
pub async fn connect_existing(target: &Target, opts: &ConnectOptions) -> Result<Option<Box<dyn Database>>> {
    if target.is_unborn() {
        return Ok(None);
    }
    connect(target, &ConnectOptions { create_sqlite: false, ..opts.clone() }).await.map(Some)
}

/// sqlx logs every statement (and slow ones at WARN) through `log`: that would print whole
/// migration batches on a user's terminal. Godwit reports what it runs itself.
pub(crate) fn quiet<O: sqlx::ConnectOptions>(o: O) -> O {
    o.log_statements(log::LevelFilter::Off).log_slow_statements(log::LevelFilter::Off, Duration::ZERO)
}

/// What `env test` reports.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Probe {
    pub dialect: Dialect,
    pub server_version: String,
    pub round_trip_ms: f64,
    pub history_table: bool,
    pub applied: usize,
    pub failed: usize,
}

/// Connects within the timeout and reports on the server and its migration history.
pub async fn probe(target: &Target, opts: &ConnectOptions) -> Result<Probe> {
    let mut db = connect(target, opts).await?;
    let result = async {
        let server_version = db.server_version().await?;
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            db.ping().await?;
            best = best.min(t.elapsed());
        }
        let history_table = db.history_exists().await?;
        let applied = if history_table { db.applied().await? } else { vec![] };
        Ok(Probe {
            dialect: db.dialect(),
            server_version,
            round_trip_ms: best.as_secs_f64() * 1e3,
            history_table,
            failed: applied.iter().filter(|a| !a.success).count(),
            applied: applied.iter().filter(|a| a.success).count(),
        })
    }
    .await;
    db.close().await;
    result
}

/// What the driver's own logging must never write, as a log filter directive: the server's notices
/// (a migration's `RAISE`), which may quote a secret placeholder's value.
pub const UNLOGGED: &str = "sqlx::postgres::notice=off";

/// The OS user and host that run a migration, for `_godwit_log`.
pub fn actor() -> String {
    let user = whoami::username().unwrap_or_else(|_| "unknown".into());
    let host = whoami::hostname().unwrap_or_else(|_| "unknown".into());
    format!("{user}@{host}")
}

/// Turns a connect-time sqlx error into a message a person can act on. Never includes a password:
/// the target prints itself without one, and sqlx's errors do not carry connect options.
pub(crate) fn connect_error(target: &Target, e: sqlx::Error) -> Error {
    use std::io::ErrorKind as Io;
    let at = target.display();
    let msg = match &e {
        sqlx::Error::Io(io) if io.kind() == Io::ConnectionRefused => {
            format!("connection refused by {at}: is the server running and listening on that host and port?")
        }
        sqlx::Error::Io(io) if io.to_string().contains("lookup") || io.to_string().contains("resolve") => {
            format!("cannot resolve the host of {at}: check the host name.")
        }
        sqlx::Error::Database(_) => {
            let db = e.as_database_error().expect("database error");
            match error_code(&e).as_deref().unwrap_or_default() {
                "28P01" | "1045" if target.has_password() => {
                    format!("the server at {at} refused the password for this user: {}.", target.auth_hint())
                }
                "28P01" if target.ambient() && !target::ambient_sources().is_empty() => {
                    // sqlx sends PGPASSWORD when it is set, else a pass file's matching line if any.
                    let sources = target::ambient_sources();
                    let sent = match sources.first().map(String::as_str) {
                        Some("PGPASSWORD") => "your own PGPASSWORD was sent".to_string(),
                        _ => format!("a matching line of your own {} was sent, if it has one", sources.join("")),
                    };
                    format!("the server at {at} refused the login for this user ({sent}): {}.", target.auth_hint())
                }
                "28P01" | "1045" => format!(
                    "the server at {at} wants a password for this user, and none was sent: {}.",
                    target.auth_hint()
                ),
                "28000" | "1044" | "1698" => format!("the server at {at} does not let this user in: {}", db.message()),
                "3D000" | "1049" => {
                    format!("the database of {at} does not exist on its server: create it (empty), or fix the URL.")
                }
                // PgBouncer's words for a startup parameter (an `options=` in the URL, say) it does
                // not pass on.
                "08P01" if db.message().starts_with("unsupported startup parameter") => format!(
                    "cannot connect to {at}: {}. That is PgBouncer, which refuses parameters it does not know: leave \
                     it out of the URL, or name it in ignore_startup_parameters in pgbouncer.ini.",
                    db.message()
                ),
                _ => format!("cannot connect to {at}: {}", db.message()),
            }
        }
        sqlx::Error::Tls(t) => format!("TLS with {at} failed: {t}"),
        // Another server on that port (e.g. a PostgreSQL URL at MariaDB's 3306) answers in words the
        // driver cannot read.
        sqlx::Error::Protocol(_) => format!(
            "the server at {at} did not answer as {} does: check the port (PostgreSQL usually listens on 5432, \
             MySQL and MariaDB on 3306) and the URL's scheme.",
            target.dialect().name()
        ),
        other => format!("cannot connect to {at}: {other}"),
    };
    let refused = matches!(error_code(&e).as_deref(), Some("28P01" | "1045"));
    let (problem, remedy) = match error_code(&e).as_deref() {
        Some("28P01" | "1045" | "28000" | "1044" | "1698") => (Problem::AuthRefused, None),
        Some("3D000" | "1049") => (Problem::NoDatabase, Some(crate::error::Remedy::CreateDatabase)),
        _ => (Problem::CannotConnect, None),
    };
    let err = Error::new(problem, msg);
    let err = match remedy {
        Some(r) => err.with_remedy(r),
        None => err,
    };
    let remedies = if refused { target.auth_remedies() } else { &[] };
    remedies.iter().fold(err, |err, r| err.with_remedy(r.clone()))
}

/// MySQL quotes the text after the error ("near '...' at line N", the line counted within the
/// statement): keep the first line of the quote, which is the user's SQL, not the bookkeeping
/// that follows it in the batch; Godwit gives the file's line itself.
fn tidy_message(db: &dyn sqlx::error::DatabaseError) -> String {
    let msg = db.message();
    if db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().is_some()
        && let Some(start) = msg.find("near '")
        && let Some(end) = msg.rfind("' at line ")
        && end > start + 6
    {
        let quoted = &msg[start + 6..end];
        let first = quoted.lines().next().unwrap_or_default();
        return format!("{}near '{first}'", &msg[..start]);
    }
    // PostgreSQL's DETAIL says what is in the way ("view v depends on column c of table t"); its
    // HINT (often "use CASCADE") is left out: that is a decision, not an explanation.
    if let Some(detail) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().and_then(|pg| pg.detail()) {
        return format!("{msg} ({})", detail.lines().collect::<Vec<_>>().join("; "));
    }
    msg.to_string()
}

/// The code that tells database errors apart: MySQL's error number (its SQLSTATEs are too coarse),
/// SQLSTATE elsewhere.
pub(crate) fn error_code(e: &sqlx::Error) -> Option<String> {
    let db = e.as_database_error()?;
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return Some(my.number().to_string());
    }
    db.code().map(|c| c.into_owned())
}

/// Runs a multi-statement batch and, on failure, says how many statements completed before it:
/// MySQL and SQLite do not say which statement of a batch failed, but each finished statement yields
/// one result, so the count points at the failing one.
pub(crate) async fn run_counted<'e, E, DB>(executor: E, text: String) -> std::result::Result<(), (sqlx::Error, usize)>
where
    DB: sqlx::Database,
    E: sqlx::Executor<'e, Database = DB>,
{
    use futures_util::StreamExt;
    let mut done = 0;
    let mut stream = sqlx::raw_sql(sqlx::AssertSqlSafe(text)).fetch_many(executor);
    while let Some(item) = stream.next().await {
        match item {
            Ok(sqlx::Either::Left(_)) => done += 1,
            Ok(sqlx::Either::Right(_)) => {}
            Err(e) => return Err((e, done)),
        }
    }
    Ok(())
}

/// A script as it is sent: its file, its text split into statements once (before a run starts),
/// and whether it runs outside a transaction (its own first line says).
pub struct Script<'a> {
    pub file: &'a std::path::Path,
    pub sql: &'a str,
    pub statements: Vec<crate::syntax::split::Statement<'a>>,
    pub no_transaction: bool,
    /// The statements marked `-- godwit:online`, by index: on MySQL/MariaDB they run through
    /// pt-online-schema-change (elsewhere, as written).
    pub online: Vec<usize>,
}

impl<'a> Script<'a> {
    /// Splits `sql`; a file that ends inside a string or comment is refused, naming its line, and so
    /// is a statement marked online that is not an ALTER TABLE (on every database, so a mistake is
    /// found where it is made).
    /// A statement of Godwit's own (`BEGIN`, `ROLLBACK`, a session setting), from no file.
    pub fn own(sql: &'a str, dialect: Dialect) -> Result<Script<'a>> {
        Script::new(std::path::Path::new("-"), sql, dialect)
    }

    pub fn new(file: &'a std::path::Path, sql: &'a str, dialect: Dialect) -> Result<Script<'a>> {
        let statements = crate::syntax::split::split(sql, dialect).map_err(|e| e.into_error(file))?;
        let online = online::marked(sql, &statements);
        for st in online.iter().map(|i| &statements[*i]) {
            if let Err(why) = online::parse(st.sql) {
                let name = crate::migration::source::file_name(file);
                let mut e = Error::new(Problem::BadFile, format!("{name} line {}: {why}. Nothing was run.", st.line));
                e.location = Some(Location { file: name, line: st.line, column: 1 });
                return Err(e);
            }
        }
        Ok(Script { file, sql, statements, no_transaction: crate::migration::source::no_transaction(sql), online })
    }

    /// The text up to the end of its last statement, so appended bookkeeping never makes an empty
    /// statement (MySQL refuses those), and the start offset of each statement.
    pub(crate) fn body(&self) -> (&'a str, Vec<usize>) {
        let end = self.statements.last().map_or(0, |s| s.offset + s.sql.len());
        (&self.sql[..end], self.statements.iter().map(|s| s.offset).collect())
    }
}

/// A database error raised by migration SQL, with the file's line where the database says.
pub(crate) fn migration_error(
    m: &MigrationFile,
    file: &std::path::Path,
    text: &str,
    e: &sqlx::Error,
    offset: Option<usize>,
) -> Error {
    let name = crate::migration::source::file_name(file);
    let (detail, location) = match e.as_database_error() {
        Some(db) => (
            tidy_message(db),
            offset.map(|o| {
                let (line, column) = crate::syntax::split::line_col(text, o);
                Location { file: name.clone(), line, column }
            }),
        ),
        None => (e.to_string(), None),
    };
    let at = location.as_ref().map(|l| format!(" (line {}, column {})", l.line, l.column)).unwrap_or_default();
    if connection_lost(e) {
        return Error::new(
            Problem::ConnectionLost,
            format!("the connection to the database was lost during {} in {name}: {detail}", m.what()),
        );
    }
    // Lock not available, deadlock (PostgreSQL; MySQL/MariaDB): it waited and gave up, the
    // runner may try again. Cancelled (PostgreSQL) or past max_statement_time (MariaDB): the runner
    // knows whether it stopped it or a statement timeout did.
    let problem = match error_code(e).as_deref() {
        Some("55P03" | "40P01" | "1205" | "1213") => Problem::LockWait { version: m.version },
        Some("1969" | "3024") => Problem::StatementTimeout { version: m.version },
        // PostgreSQL's code is also a cancel's (a stop, or another session's pg_cancel_backend).
        Some("57014") if detail.contains("statement timeout") => Problem::StatementTimeout { version: m.version },
        _ => Problem::MigrationFailed { version: m.version },
    };
    let message = match m.repeatable {
        true => format!("{} failed{at}: {detail}", m.what()),
        false => format!("{} failed in {name}{at}: {detail}", m.what()),
    };
    let mut err = Error::new(problem, message);
    err.location = location;
    err
}

/// Whether an error means the connection is gone (the network, a server restart, a killed
/// session), as opposed to the SQL failing.
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL's admin shutdown, crash shutdown, cannot connect now, connection failure;
        // MariaDB's "connection was killed", "server has gone away", "lost connection".
        _ => matches!(
            error_code(e).as_deref(),
            Some("57P01" | "57P02" | "57P03" | "08006" | "08003" | "1927" | "2006" | "2013")
        ),
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if connection_lost(&e) {
            return Error::new(
                Problem::ConnectionLost,
                format!("the connection to the database was lost: {}", server_says(&e)),
            );
        }
        // A statement sqlx prepared on this connection is gone, or one of its names is taken: the
        // server session is not this connection's own.
        if matches!(error_code(&e).as_deref(), Some("26000" | "42P05"))
            && e.as_database_error().is_some_and(|d| d.message().contains("\"sqlx_s_"))
        {
            return Error::new(
                Problem::Pooled,
                format!(
                    "the server session changed under this connection ({}): it goes through a connection pooler in \
                     transaction or statement mode (PgBouncer's pool_mode = transaction), where migrations cannot run \
                     safely. Point this environment at the server itself, or at a pool in session mode.",
                    server_says(&e)
                ),
            );
        }
        Error::failed(format!("database error: {}", server_says(&e)))
    }
}

/// What the server said, without what sqlx's wording adds: PostgreSQL's `at line N` there is a
/// line of the server's own source code, not of anything the user wrote.
pub(crate) fn server_says(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => tidy_message(db),
        None => e.to_string(),
    }
}
