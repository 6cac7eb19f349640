//! SQLite: transactional DDL in-process. A migration runs inside `BEGIN IMMEDIATE` (which also
//! keeps a second writer out), its bookkeeping is added before the commit. sqlx takes no lock on
//! SQLite; the immediate transaction and the history table's primary key keep runs apart.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, Executor as _};

use super::history::Bookkeeper;
use super::sql::{self, Syntax};
use super::{ConnectOptions, Dialect, EventKind, Failure, Inspect, Migrate, Script, TableCount, Target};
use super::{migration_error, run_counted};
use crate::error::{Error, Problem, Result};
use crate::migration::source::MigrationFile;
use crate::syntax::split::Statement;

pub struct Sqlite {
    /// The connection's handle for `sqlite3_interrupt`. Declared first: dropped (and cleared)
    /// before the connection.
    handle: SharedHandle,
    conn: SqliteConnection,
    path: std::path::PathBuf,
    lock: Option<crate::fslock::FileLock>,
    tables: super::Tables,
    /// A lock wait was set (`limit`); else the busy timeout is the migration lock's wait.
    limited: bool,
}

#[derive(Default)]
struct SharedHandle(Arc<Mutex<Option<RawHandle>>>);

impl Drop for SharedHandle {
    fn drop(&mut self) {
        self.0.lock().expect("not poisoned").take();
    }
}

struct RawHandle(std::ptr::NonNull<libsqlite3_sys::sqlite3>);

// SAFETY: sqlite3_interrupt is documented as safe to call from any thread while the connection is
// open; the handle is only used under the mutex, and taken out of it before the connection closes.
unsafe impl Send for RawHandle {}

struct LiteInterrupt(Arc<Mutex<Option<RawHandle>>>);

#[async_trait]
impl super::Interrupt for LiteInterrupt {
    async fn interrupt(&self) -> Result<()> {
        if let Some(h) = self.0.lock().expect("not poisoned").as_ref() {
            // SAFETY: the connection is open while the handle is in the mutex (see `RawHandle`).
            unsafe { libsqlite3_sys::sqlite3_interrupt(h.0.as_ptr()) };
        }
        Ok(())
    }

    /// A file in this process: nothing between to stop answering.
    async fn running(&self) -> Result<bool> {
        Ok(true)
    }
}

#[derive(Default)]
pub(crate) struct Lite;

impl Syntax for Lite {
    fn text(&self, s: &str) -> String {
        format!("CAST(X'{}' AS TEXT)", hex::encode(s))
    }
    fn bytes(&self, b: &[u8]) -> String {
        format!("X'{}'", hex::encode(b))
    }
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn begin(&self) -> &'static str {
        "BEGIN IMMEDIATE"
    }
}

const CREATE_TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS {history} (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS {log} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    event TEXT NOT NULL,
    version BIGINT,
    description TEXT,
    actor TEXT NOT NULL,
    duration_ns BIGINT,
    outcome TEXT NOT NULL,
    error TEXT,
    detail TEXT
);
"#;

impl Sqlite {
    pub async fn connect(target: &Target, opts: &ConnectOptions) -> Result<Self> {
        let path = target.sqlite_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
            return Err(Error::new(
                Problem::NoDatabase,
                format!(
                    "the folder of the SQLite database {} does not exist: create {} first, or fix the path in the URL.",
                    path.display(),
                    dir.display()
                ),
            ));
        }
        if !opts.create_sqlite && !path.exists() && !target.is_memory() {
            return Err(Error::new(
                Problem::NoDatabase,
                format!(
                    "the SQLite database {} does not exist yet: applying migrations creates it, or fix the path in the URL.",
                    path.display()
                ),
            ));
        }
        let o = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(opts.create_sqlite)
            .busy_timeout(opts.lock_timeout);
        let conn = super::quiet(o)
            .connect()
            .await
            .map_err(|e| Error::connect(format!("cannot open the SQLite database {}: {e}", path.display())))?;
        Ok(Sqlite {
            conn,
            path: path.to_path_buf(),
            lock: None,
            limited: false,
            handle: Default::default(),
            tables: opts.tables.clone(),
        })
    }

    /// A write that failed because of the disk, not the SQL: SQLITE_FULL, or an I/O error on a file
    /// system with next to nothing left.
    fn out_of_space(&self, e: &sqlx::Error) -> Option<Error> {
        let folder = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let free = free_bytes(folder);
        let full = match primary_code(e) {
            Some(13) => true,
            Some(10) => free.is_some_and(|f| f < 1 << 20),
            _ => false,
        };
        full.then(|| {
            let left = free.map(|f| format!(" ({f} bytes free)")).unwrap_or_default();
            Error::new(
                crate::error::Problem::Io { path: self.path.display().to_string() },
                format!(
                    "the disk holding {} is full{left}. Free space there, then run again: the migration's file \
                     needs no change.",
                    folder.display()
                ),
            )
        })
    }

    /// A SQLite error, naming the file. Busy or locked (another connection kept the write lock
    /// past the lock timeout) is a lock wait, exit 4; a damaged file says so; a full disk is the disk.
    fn lite(&self, e: sqlx::Error) -> Error {
        if let Some(full) = self.out_of_space(&e) {
            return full;
        }
        let file = self.path.display();
        if is_busy(&e) {
            return Error::new(
                crate::error::Problem::LockHeld { holder: None },
                format!(
                    "the SQLite database {file} is locked by another connection (waited for it as long as the lock \
                     timeout): let it finish (another program, or a `sqlite3` shell in a transaction), or wait \
                     longer. Nothing was changed."
                ),
            )
            .with_remedy(crate::error::Remedy::WaitForLock);
        }
        match primary_code(&e) {
            Some(11 | 26) => Error::failed(format!(
                "the SQLite database {file} is damaged or is not a SQLite database ({}): restore it from a backup, \
                 or fix the path in the URL.",
                e.as_database_error().map(|d| d.message().to_string()).unwrap_or_default()
            ))
            .with_remedy(crate::error::Remedy::Backups),
            _ => Error::failed(format!("the SQLite database {file}: {e}")),
        }
    }

    /// A migration that could not get the file's write lock within the busy timeout: nothing of it
    /// ran. Who has the file open is named, where this system says.
    fn lock_wait(&self, m: &MigrationFile) -> Error {
        let holders = holders(&self.path);
        let who = match holders.is_empty() {
            true => "held by another connection (another program, or a `sqlite3` shell in a transaction)".to_string(),
            false => crate::event::held_by(&holders),
        };
        let e = Error::new(
            Problem::LockWait { version: m.version },
            format!(
                "{} could not get the write lock on {}: nothing of it ran.\nThe lock is {who}.",
                m.what(),
                self.path.display()
            ),
        );
        // Without a lock wait of its own, it waited as long as the lock timeout.
        if self.limited { e } else { e.with_remedy(crate::error::Remedy::WaitForLock) }
    }

    async fn batch(&mut self, text: String) -> std::result::Result<(), sqlx::Error> {
        self.conn.execute(sqlx::raw_sql(AssertSqlSafe(text))).await.map(|_| ())
    }

    /// Runs a file's SQL, then `finish(elapsed)` (its bookkeeping). In a transaction everything is
    /// rolled back on failure; without one (`-- no-transaction`), `mark` goes in first and a failure
    /// after the first statement leaves it, as on the other databases.
    async fn run(
        &mut self,
        m: &MigrationFile,
        script: &Script<'_>,
        mark: String,
        unmark: String,
        finish: impl FnOnce(Duration) -> Vec<String>,
    ) -> Result<Duration, Failure> {
        let (file, sql_text, stmts, in_tx) = (script.file, script.sql, &script.statements, !script.no_transaction);
        let before = if in_tx { Lite.begin().to_string() } else { mark };
        let start = Instant::now();
        if let Err(e) = self.batch(before).await {
            // The write lock (or the marker) was never had: nothing ran.
            if super::lost_the_race(&e) {
                return Err(super::raced(m, &self.lite(e)));
            }
            let error = if waited(&e) { self.lock_wait(m) } else { self.lite(e) };
            return Err(Failure { error, dirty: false });
        }
        // A few statements at a time: SQLite copies the rest of the text it is given at every
        // statement, so one batch of the whole file takes time that grows with its square.
        let mut done = 0;
        let mut result = Ok(());
        for chunk in chunks(stmts, CHUNK_BYTES) {
            let (first, last) = (&chunk[0], &chunk[chunk.len() - 1]);
            let text = &sql_text[first.offset..last.offset + last.sql.len()];
            if let Err((e, ran)) = run_counted(&mut self.conn, format!("{text};")).await {
                result = Err((e, done + ran));
                break;
            }
            done += chunk.len();
        }
        let elapsed = start.elapsed();
        if let Err((e, failed)) = result {
            let error = match self.out_of_space(&e) {
                Some(full) => full.context(format!("{} could not be written", m.what())),
                None if waited(&e) && (in_tx || failed == 0) => self.lock_wait(m),
                None => migration_error(m, file, sql_text, &e, stmts.get(failed).map(|s| s.offset)),
            };
            if in_tx {
                let _ = self.batch("ROLLBACK".into()).await;
                return Err(Failure { error, dirty: false });
            }
            if failed == 0 {
                return Err(super::unmarked(error, self.batch(unmark).await.err()));
            }
            let mut error = error;
            // A transaction the file opened itself (`BEGIN`, as a generated table rebuild does) is
            // still open: rolled back, so only what ran before its `BEGIN` stays.
            let mut ran = &stmts[..failed];
            if self.batch("ROLLBACK".into()).await.is_ok() {
                let _ = self.batch("PRAGMA foreign_keys = ON".into()).await;
                let first = |st: &Statement<'_>| {
                    crate::syntax::words::words(st.sql)
                        .into_iter()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ")
                        .to_ascii_lowercase()
                };
                let begun = ran.iter().rposition(|st| first(st).starts_with("begin")).unwrap_or(0);
                ran = &ran[..begun];
                error.message += "\nThe transaction it opened itself was rolled back: what ran in it did not stay.";
                if ran.iter().all(|st| first(st).starts_with("pragma foreign_keys")) {
                    return Err(super::unmarked(error, self.batch(unmark).await.err()));
                }
            }
            error.message += &super::ran_before(sql_text, ran, "it runs outside a transaction");
            return Err(Failure { error, dirty: true });
        }
        let mut tail = finish(elapsed).join(";\n");
        tail = if in_tx { format!("{tail};\nCOMMIT;") } else { format!("BEGIN;\n{tail};\nCOMMIT;") };
        if let Err(e) = self.batch(tail).await {
            let _ = self.batch("ROLLBACK".into()).await;
            // The history row goes in last in a transaction, and another run's was there first.
            if in_tx && super::lost_the_race(&e) {
                return Err(super::raced(m, &self.lite(e)));
            }
            // A reader kept the commit from writing the file (a rollback journal): in a transaction
            // nothing stays, and it may be tried again.
            let error = if waited(&e) && in_tx { self.lock_wait(m) } else { self.lite(e) };
            return Err(Failure { error, dirty: !in_tx });
        }
        Ok(elapsed)
    }
}

#[async_trait]
impl Migrate for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn history_exists(&mut self) -> Result<bool> {
        let h = &self.tables.history;
        let master = h.stored_schema(Dialect::Sqlite).map(|s| format!("{}.", quote(&s))).unwrap_or_default();
        sqlx::query_scalar::<_, bool>(AssertSqlSafe(format!(
            "SELECT COUNT(*) > 0 FROM {master}sqlite_master WHERE type = 'table' AND name = ?"
        )))
        .bind(h.stored_name(Dialect::Sqlite))
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| self.lite(e))
    }

    async fn ensure_tables(&mut self) -> Result<()> {
        // SQLite makes no schemas: one is a database file attached to the connection, which sqlx
        // checks for, and so does Godwit (it attaches none).
        for schema in self.tables.create_schemas.clone() {
            let there: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!("PRAGMA {schema}.schema_version")))
                .fetch_optional(&mut self.conn)
                .await
                .unwrap_or(None);
            if there.is_none() {
                return Err(Error::input(format!(
                    "sqlx.toml's `create-schemas` names {schema}, which SQLite cannot make: a schema there is another \
                     database file attached to the connection. Remove it from `create-schemas` (and from `table-name`)."
                )));
            }
        }
        let create = self.tables.fill(CREATE_TABLES, Dialect::Sqlite);
        self.batch(create).await.map_err(|e| self.lite(e))?;
        let h = &self.tables.history;
        let cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?, ?)")
            .bind(h.stored_name(Dialect::Sqlite))
            .bind(h.stored_schema(Dialect::Sqlite).unwrap_or_else(|| "main".into()))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| self.lite(e))?;
        sql::check_columns(&self.tables, Dialect::Sqlite, &cols)
    }

    /// sqlx takes no lock on SQLite. Godwit's runners exclude each other with a lock file beside
    /// the database (`FILE-godwit-lock`, removed when the run ends), so every process that can reach
    /// the file sees the same lock, whoever runs it and whatever its temp folder; the OS drops it
    /// if the process dies.
    async fn lock(&mut self, timeout: Duration) -> Result<()> {
        // An in-memory database is this connection's alone.
        if self.path.as_os_str() == ":memory:" {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let mut path = self.path.clone().into_os_string();
        path.push("-godwit-lock");
        loop {
            if let Some(f) = crate::fslock::try_lock(std::path::Path::new(&path), true)? {
                self.lock = Some(f);
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::new(
                    crate::error::Problem::LockHeld { holder: None },
                    format!(
                        "another migration run holds the lock on {} (waited {timeout:?}). \
                         Wait for it to finish, or wait longer.",
                        self.path.display()
                    ),
                )
                .with_remedy(crate::error::Remedy::WaitForLock));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn unlock(&mut self) -> Result<()> {
        self.lock = None;
        Ok(())
    }

    async fn limit(&mut self, waits: &crate::migration::waits::Waits) -> Result<()> {
        if let Some(e) = super::refused_waits(Dialect::Sqlite, waits, &self.path.display().to_string()) {
            return Err(e);
        }
        if let Some(w) = waits.lock_wait {
            self.batch(format!("PRAGMA busy_timeout = {}", w.as_millis())).await.map_err(|e| self.lite(e))?;
            self.limited = true;
        }
        Ok(())
    }

    async fn apply(&mut self, m: &MigrationFile, up: &Script<'_>, actor: &str) -> Result<Duration, Failure> {
        let tb = self.tables.clone();
        let ev = sql::ok_event(EventKind::Apply, m);
        let in_tx = !up.no_transaction;
        let marker = sql::marker();
        let mark = sql::insert_history(&Lite, &tb, m, false, &marker.to_string());
        self.run(m, up, mark, sql::delete_marked(&Lite, &tb, m.version, marker), |d| {
            let t = sql::ns(d).to_string();
            let history = if in_tx {
                sql::insert_history(&Lite, &tb, m, true, &t)
            } else {
                sql::set_success(&Lite, &tb, m.version, true, Some(&t))
            };
            vec![history, sql::insert_log(&Lite, &tb, &ev, actor, &t)]
        })
        .await
    }

    async fn revert(&mut self, m: &MigrationFile, down: &Script<'_>, actor: &str) -> Result<Duration, Failure> {
        let tb = self.tables.clone();
        let ev = sql::ok_event(EventKind::Rollback, m);
        let mark = sql::set_success(&Lite, &tb, m.version, false, None);
        let unmark = sql::set_success(&Lite, &tb, m.version, true, None);
        self.run(m, down, mark, unmark, |d| {
            vec![
                sql::delete_history(&Lite, &tb, m.version),
                sql::insert_log(&Lite, &tb, &ev, actor, &sql::ns(d).to_string()),
            ]
        })
        .await
    }

    async fn apply_repeatable(
        &mut self,
        r: &MigrationFile,
        script: &Script<'_>,
        actor: &str,
    ) -> Result<Duration, Failure> {
        let tb = self.tables.clone();
        let ev = sql::repeatable_event(r, super::Outcome::Ok, None);
        // No history row marks it: nothing to put in first or take back.
        self.run(r, script, "SELECT 1".into(), "SELECT 1".into(), |d| {
            vec![sql::insert_log(&Lite, &tb, &ev, actor, &sql::ns(d).to_string())]
        })
        .await
    }

    /// A file in this process: there is no connection to lose.
    async fn reconnect(&mut self) -> Result<()> {
        Ok(())
    }

    async fn interrupter(&mut self) -> Result<Box<dyn super::Interrupt>> {
        let raw = self.conn.lock_handle().await?.as_raw_handle();
        *self.handle.0.lock().expect("not poisoned") = Some(RawHandle(raw));
        Ok(Box::new(LiteInterrupt(self.handle.0.clone())))
    }

    async fn close(self: Box<Self>) {
        let Sqlite { handle, conn, .. } = *self;
        drop(handle);
        let _ = conn.close().await;
    }
}

#[async_trait]
impl Inspect for Sqlite {
    async fn server_version(&mut self) -> Result<String> {
        let v: String =
            sqlx::query_scalar("SELECT sqlite_version()").fetch_one(&mut self.conn).await.map_err(|e| self.lite(e))?;
        Ok(v)
    }

    async fn ping(&mut self) -> Result<()> {
        self.conn.ping().await.map_err(Error::from)
    }

    async fn begin_snapshot(&mut self) -> Result<Option<String>> {
        Ok(None)
    }

    async fn end_snapshot(&mut self) -> Result<()> {
        Ok(())
    }

    async fn tables(&mut self) -> Result<Vec<String>> {
        let q = self.tables.fill(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> {log_name} ORDER BY 1",
            Dialect::Sqlite,
        );
        Ok(sqlx::query_scalar(AssertSqlSafe(q)).fetch_all(&mut self.conn).await?)
    }

    async fn broken_views(&mut self) -> Result<Vec<super::BrokenView>> {
        let views: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY 1")
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| self.lite(e))?;
        let mut out = Vec::new();
        for name in views {
            // Preparing a read of it is enough: SQLite resolves the view's tables and columns then.
            let read = format!("SELECT * FROM {} LIMIT 0", quote(&name));
            if let Err(sqlx::Error::Database(e)) = sqlx::query(AssertSqlSafe(read)).fetch_optional(&mut self.conn).await
            {
                out.push(super::BrokenView { name, why: e.message().to_string(), blocks_backup: false });
            }
        }
        Ok(out)
    }

    async fn table_counts(&mut self) -> Result<Vec<TableCount>> {
        let tables = self.tables().await?;
        super::count_tables::<sqlx::Sqlite>(&mut self.conn, tables, quote).await
    }

    async fn schema_lines(&mut self) -> Result<Vec<String>> {
        let q = self.tables.fill(
            "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> {log_name}",
            Dialect::Sqlite,
        );
        let mut out: Vec<String> = sqlx::query_scalar(AssertSqlSafe(q)).fetch_all(&mut self.conn).await?;
        out.sort();
        Ok(out)
    }

    async fn drop_tables(&mut self, names: &[String]) -> Result<()> {
        for n in names {
            self.batch(format!("DROP TABLE IF EXISTS {}", quote(n))).await?;
        }
        Ok(())
    }

    async fn inspect(&mut self) -> Result<crate::schema::Schema> {
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for q in LITE_INSPECT {
            let q = self.tables.fill(q, Dialect::Sqlite);
            rows.extend(sqlx::query_as(AssertSqlSafe(q)).fetch_all(&mut self.conn).await.map_err(|e| self.lite(e))?);
        }
        // CHECK constraints live only in a table's SQL text.
        let tables: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(self.tables.fill(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL \
             AND name NOT IN ({history_name}, {log_name})",
            Dialect::Sqlite,
        )))
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| self.lite(e))?;
        // Table options and column collations are not in the pragmas' columns: STRICT and WITHOUT
        // ROWID come from pragma_table_list, collations from the table's own SQL.
        let options: Vec<(String, bool, bool)> =
            sqlx::query_as("SELECT name, strict, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table'")
                .fetch_all(&mut self.conn)
                .await
                .map_err(|e| self.lite(e))?;
        for (table, sql) in tables {
            for check in checks(&sql) {
                rows.push(("constraint".into(), format!("{table} {check}"), check));
            }
            let mut extra: Vec<String> = collations(&sql);
            if let Some((_, strict, without_rowid)) = options.iter().find(|(n, _, _)| *n == table) {
                extra.extend(strict.then(|| "STRICT".to_string()));
                extra.extend(without_rowid.then(|| "WITHOUT ROWID".to_string()));
            }
            if let Some(row) = rows.iter_mut().find(|(kind, name, _)| kind == "table" && *name == table) {
                for line in extra {
                    row.2.push('\n');
                    row.2.push_str(&line);
                }
            }
        }
        Ok(crate::schema::Schema::from_rows(rows))
    }

    async fn catalog(&mut self) -> Result<crate::schema::generate::Catalog> {
        // A table's SQL as it was made: a rebuild makes the new one from it.
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| self.lite(e))?;
        Ok(crate::schema::generate::Catalog {
            constraint_names: Default::default(),
            statements: tables.into_iter().map(|(n, sql)| ((crate::schema::ObjectKind::Table, n), sql)).collect(),
        })
    }

    async fn create_database(&mut self, _name: &str) -> Result<()> {
        Ok(())
    }

    async fn drop_database(&mut self, name: &str) -> Result<bool> {
        remove_file(std::path::Path::new(name))
    }

    async fn databases(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    async fn drop_scratch(&mut self, name: &str) -> Result<()> {
        let _ = std::fs::remove_file(name);
        Ok(())
    }
}

#[async_trait]
impl Bookkeeper for Sqlite {
    type Db = sqlx::Sqlite;
    type Words = Lite;

    fn conn(&mut self) -> &mut <Self::Db as sqlx::Database>::Connection {
        &mut self.conn
    }

    fn tables(&self) -> &super::Tables {
        &self.tables
    }

    fn undefined_table(e: &sqlx::Error) -> bool {
        undefined_table(e)
    }

    fn db_error(&self, e: sqlx::Error) -> Error {
        self.lite(e)
    }
}

/// How much SQL goes to SQLite at once (see `Sqlite::run`).
const CHUNK_BYTES: usize = 16 * 1024;

/// Consecutive statements of at most about `bytes` of SQL each (a longer statement alone).
fn chunks<'a, 's>(stmts: &'a [Statement<'s>], bytes: usize) -> impl Iterator<Item = &'a [Statement<'s>]> {
    let mut rest = stmts;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut size = 0;
        let n = rest.iter().take_while(|s| {
            size += s.sql.len();
            size <= bytes
        });
        let n = n.count().max(1);
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// SQLite's primary result code (the extended code's low byte).
fn primary_code(e: &sqlx::Error) -> Option<i32> {
    super::error_code(e)?.parse::<i32>().ok().map(|c| c & 0xff)
}

/// The bytes a folder's file system has left, where the system says.
#[cfg(not(unix))]
fn free_bytes(_: &Path) -> Option<u64> {
    None
}

/// The bytes a folder's file system has left, where the system says.
#[cfg(unix)]
fn free_bytes(folder: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(folder.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` is written by statvfs before it is read.
    if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    let st = unsafe { st.assume_init() };
    // The field types differ between systems (32 bits on some).
    #[allow(clippy::unnecessary_cast)]
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// The other processes on this machine with the database file (or its journal) open, as far as
/// the system lets this one see (Linux's /proc); one of them holds the write lock.
fn holders(path: &Path) -> Vec<crate::event::Blocker> {
    let Ok(file) = path.canonicalize() else { return Vec::new() };
    let ours: Vec<std::path::PathBuf> = ["", "-wal", "-journal"]
        .iter()
        .map(|ext| {
            let mut p = file.clone().into_os_string();
            p.push(ext);
            p.into()
        })
        .collect();
    let me = std::process::id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut out = Vec::new();
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        let open = fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| ours.contains(&l)));
        if open {
            let comm = std::fs::read_to_string(p.path().join("comm")).ok().map(|c| c.trim().to_string());
            out.push(crate::event::Blocker {
                session: format!("process {pid}"),
                user: None,
                program: comm,
                state: Some("has the file open".into()),
                query: None,
                open_secs: None,
                sure: false,
            });
        }
    }
    out
}

/// SQLITE_BUSY: another connection kept the lock past the busy timeout (SQLITE_LOCKED is a
/// conflict within one connection, which waiting cannot end).
fn waited(e: &sqlx::Error) -> bool {
    primary_code(e) == Some(5)
}

/// SQLITE_BUSY or SQLITE_LOCKED.
fn is_busy(e: &sqlx::Error) -> bool {
    matches!(primary_code(e), Some(5 | 6))
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Removes a SQLite database file and its journal files; `false` when there was none.
pub(crate) fn remove_file(path: &std::path::Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            // Its journal files go with it; they may not exist.
            for ext in ["-wal", "-shm", "-journal"] {
                let mut side = path.as_os_str().to_owned();
                side.push(ext);
                let _ = std::fs::remove_file(side);
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("cannot remove", path, &e)),
    }
}

/// One query per kind of object, each giving `(kind, name, definition)` rows: tables and their
/// foreign keys and unique constraints from the pragmas (a column added and dropped again reads
/// the same), indexes, views and triggers as written. SQLite's own objects and Godwit's and sqlx's
/// tables are left out.
const LITE_INSPECT: [&str; 4] = [
    "SELECT 'table', t, group_concat(col, char(10)) FROM (SELECT m.name AS t, p.name || ' ' || p.type || \
     CASE WHEN p.\"notnull\" THEN ' NOT NULL' ELSE '' END || coalesce(' DEFAULT ' || p.dflt_value, '') || \
     CASE WHEN p.pk = 0 THEN '' WHEN (SELECT count(*) FROM pragma_table_info(m.name) k WHERE k.pk > 0) = 1 \
     THEN ' PRIMARY KEY' ELSE ' PRIMARY KEY (key column ' || p.pk || ')' END || CASE p.hidden WHEN 2 THEN ' GENERATED VIRTUAL' \
     WHEN 3 THEN ' GENERATED STORED' ELSE '' END AS col FROM sqlite_master m \
     JOIN pragma_table_xinfo(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
     AND m.name NOT IN ({history_name}, {log_name}) ORDER BY m.name, p.cid) GROUP BY t",
    "SELECT 'constraint', t || ' ' || def, def FROM (SELECT m.name AS t, 'FOREIGN KEY (' || group_concat(f.\"from\") || \
     ') REFERENCES ' || f.\"table\" || ' (' || group_concat(coalesce(f.\"to\", '')) || ') ON DELETE ' || f.on_delete || \
     ' ON UPDATE ' || f.on_update AS def FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
     WHERE m.type = 'table' AND m.name NOT IN ({history_name}, {log_name}) GROUP BY m.name, f.id)",
    "SELECT 'constraint', t || ' ' || def, def FROM (SELECT m.name AS t, 'UNIQUE (' || group_concat(ii.name) || ')' AS def \
     FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii \
     WHERE m.type = 'table' AND il.origin = 'u' AND m.name NOT IN ({history_name}, {log_name}) \
     GROUP BY m.name, il.name)",
    "SELECT type, CASE WHEN type IN ('index', 'trigger') THEN tbl_name || '.' || name ELSE name END, sql \
     FROM sqlite_master WHERE type IN ('index', 'view', 'trigger') AND sql IS NOT NULL \
     AND tbl_name NOT IN ({history_name}, {log_name}) AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
];

/// `column COLLATE name` for each column a table's SQL gives a collation (none when it cannot be read).
fn collations(sql: &str) -> Vec<String> {
    use sqlparser::ast::{ColumnOption, Statement};
    let Ok(mut parsed) = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::SQLiteDialect {}, sql) else {
        return Vec::new();
    };
    let Some(Statement::CreateTable(t)) = parsed.pop() else { return Vec::new() };
    t.columns
        .iter()
        .flat_map(|c| {
            c.options.iter().filter_map(move |o| match &o.option {
                ColumnOption::Collation(n) => {
                    Some(format!("{} COLLATE {}", c.name.value, n.to_string().to_uppercase()))
                }
                _ => None,
            })
        })
        .collect()
}

/// The `CHECK (...)` clauses of a table's SQL, outside quotes and comments, blanks made one.
fn checks(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ if b.len() - i >= 5
                && b[i..i + 5].eq_ignore_ascii_case(b"check")
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let mut j = i + 5;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if b.get(j) != Some(&b'(') {
                    i += 5;
                    continue;
                }
                let (start, mut depth) = (j, 0);
                while j < b.len() {
                    match b[j] {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let expr = sql[start..(j + 1).min(sql.len())].split_whitespace().collect::<Vec<_>>().join(" ");
                out.push(format!("CHECK {expr}"));
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn undefined_table(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.message().starts_with("no such table"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn checks_are_read_from_a_tables_sql() {
        let sql = "CREATE TABLE t (a INT CHECK (a > 0), b TEXT DEFAULT 'check (x)', -- check (y)\n\
                   é TEXT, CONSTRAINT c CHECK(length(b) < (10 + 1)))";
        assert_eq!(super::checks(sql), ["CHECK (a > 0)", "CHECK (length(b) < (10 + 1))"]);
    }
}
