//! PostgreSQL: transactional DDL, so a migration, its history row and its log row travel as one
//! batch in one round trip and stand or fall together. `-- no-transaction` files are sent a
//! statement at a time, because PostgreSQL runs a multi-statement query as one implicit transaction
//! (where `CREATE INDEX CONCURRENTLY` is refused).

mod inspect;
mod pooler;
/// The database's own schemas, as a condition on `n.nspname` (the backup's restore drops what they hold).
pub(crate) use inspect::USER as USER_SCHEMAS;

use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, Executor as _};

use super::history::Bookkeeper;
use super::sql::{self, Syntax};
use super::{ConnectOptions, Target};
use super::{Dialect, EventKind, Failure, Inspect, Migrate, Script, TableCount, connect_error, migration_error};
use crate::error::{Error, Problem, Result};
use crate::migration::source::MigrationFile;

pub struct Postgres {
    conn: PgConnection,
    /// How `conn` was made, for the second connection that tells a pooler from the server.
    options: PgConnectOptions,
    target: Target,
    lock_id: Option<i64>,
    /// What `limit` set, for the statements that run without it.
    waits: crate::migration::waits::Waits,
    tables: super::Tables,
    /// What earlier snapshots on this connection read, so the next deparses only what changed.
    inspected: inspect::Inspected,
}

/// Cancels a backend's running statement from a connection of its own.
struct PgInterrupt {
    target: Target,
    pid: i32,
    /// Asks who is in the way while a migration waits, over one connection kept for it (made the
    /// first time it is needed: most migrations end before anyone asks).
    watcher: tokio::sync::Mutex<Option<PgConnection>>,
}

#[async_trait]
impl super::Interrupt for PgInterrupt {
    async fn interrupt(&self) -> Result<()> {
        let mut other = Postgres::connect(&self.target, &ConnectOptions::default()).await?;
        let r = sqlx::query("SELECT pg_cancel_backend($1)").bind(self.pid).execute(&mut other.conn).await;
        let _ = other.conn.close().await;
        r.map(|_| ()).map_err(Error::from)
    }

    async fn running(&self) -> Result<bool> {
        let mut other = Postgres::connect(&self.target, &ConnectOptions::default()).await?;
        let r = sqlx::query_scalar::<_, bool>(
            "SELECT coalesce(state = 'active', false) FROM pg_stat_activity WHERE pid = $1",
        )
        .bind(self.pid)
        .fetch_optional(&mut other.conn)
        .await;
        let _ = other.conn.close().await;
        Ok(r.map_err(Error::from)?.unwrap_or(false))
    }

    async fn blockers(&self) -> Result<Vec<crate::event::Blocker>> {
        let mut watcher = self.watcher.lock().await;
        if watcher.is_none() {
            *watcher = Some(Postgres::connect(&self.target, &ConnectOptions::default()).await?.conn);
        }
        let conn = watcher.as_mut().expect("made above");
        type Row = (i32, Option<String>, Option<String>, Option<String>, Option<String>, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT a.pid, a.usename::text, a.application_name, a.state, left(a.query, 200), \
             extract(epoch from now() - a.xact_start)::bigint \
             FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids($1)) ORDER BY a.pid",
        )
        .bind(self.pid)
        .fetch_all(conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(pid, user, app, state, query, open)| crate::event::Blocker {
                session: format!("server process {pid}"),
                user,
                program: app,
                state,
                query,
                open_secs: open,
                sure: true,
            })
            .collect())
    }
}

#[derive(Default)]
pub(crate) struct Pg;

impl Syntax for Pg {
    fn text(&self, s: &str) -> String {
        // NUL cannot be stored in PostgreSQL text.
        format!("convert_from(decode('{}', 'hex'), 'UTF8')", hex::encode(s.replace('\0', "")))
    }
    fn bytes(&self, b: &[u8]) -> String {
        format!("decode('{}', 'hex')", hex::encode(b))
    }
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn begin(&self) -> &'static str {
        "BEGIN"
    }
}

/// Nanoseconds since the batch arrived: `statement_timestamp()` is the time the server received the
/// query message, for every statement in a multi-statement message.
const ELAPSED: &str = "(extract(epoch from clock_timestamp() - statement_timestamp()) * 1000000000)::bigint";

const CREATE_TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS {history} (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS {log} (
    id BIGSERIAL PRIMARY KEY,
    event_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
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

impl Postgres {
    pub async fn connect(target: &Target, opts: &ConnectOptions) -> Result<Self> {
        let mut o = PgConnectOptions::from_str(target.url().as_str())
            .map_err(|e| Error::input(format!("bad PostgreSQL URL {}: {e}", target.display())))?
            .application_name("godwit");
        // sqlx fills what the URL leaves out from the person's own PGPASSWORD and ~/.pgpass
        // (and the port from PGPORT): a project's URL may name any server, so those go only where
        // the person allowed them. The port is the one the binding and the dump tools use.
        match target.password() {
            Some(p) => o = o.password(p),
            None if !target.ambient() => o = o.password(""),
            None => {}
        }
        if let Some(e) = target.endpoint().filter(|e| e.socket.is_none()) {
            o = o.port(e.port);
        }
        // PgBouncer refuses a startup parameter it does not know, as sqlx's `extra_float_digits` is
        // unless it is told to ignore it; PostgreSQL 12 and later print floats exactly without it.
        o = o.extra_float_digits(None);
        let options = o.clone();
        let mut conn = super::quiet(o).connect().await.map_err(|e| connect_error(target, e))?;
        // A runner killed mid-migration leaves its session on the server, holding the migration
        // lock until its statement ends; PostgreSQL 14 and later can notice the client is gone
        // and end it. (Where the server cannot, it refuses the setting: the run goes on without.)
        if conn.server_version_num().is_some_and(|v| v >= 140000) {
            let _ = conn.execute("SET client_connection_check_interval = '1s'").await;
        }
        Ok(Postgres {
            conn,
            options,
            target: target.clone(),
            lock_id: None,
            waits: Default::default(),
            tables: opts.tables.clone(),
            inspected: Default::default(),
        })
    }

    async fn batch(&mut self, text: String) -> std::result::Result<(), sqlx::Error> {
        self.conn.execute(sqlx::raw_sql(AssertSqlSafe(text))).await.map(|_| ())
    }

    /// Ends the transaction a failed batch left open. A batch refused at parse time never opened
    /// one, and a ROLLBACK then draws a server warning: ask first.
    async fn rollback(&mut self) {
        if let Err(e) = self.batch("SELECT 1".into()).await
            && e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "25P02")
        {
            let _ = self.batch("ROLLBACK".into()).await;
        }
    }

    /// Runs `body` (a file's SQL) wrapped with bookkeeping in one transaction and one round trip.
    async fn run_in_tx(
        &mut self,
        m: &MigrationFile,
        file: &std::path::Path,
        body: &str,
        after: &[String],
    ) -> Result<Duration, Failure> {
        const PREFIX: &str = "BEGIN;\n";
        let text = format!("{PREFIX}{body}\n;\n{};\nCOMMIT;", after.join(";\n"));
        let start = Instant::now();
        match self.batch(text).await {
            Ok(()) => Ok(start.elapsed()),
            Err(e) => {
                self.rollback().await;
                let offset = error_position(&e).and_then(|p| char_to_byte(body, p.checked_sub(1 + PREFIX.len())?));
                let error = migration_error(m, file, body, &e, offset);
                // The history row went in after the file ran, and another run's was there first
                // (one that takes no lock): the transaction took this run's statements back.
                let history = self.tables.history.stored_name(crate::syntax::Dialect::Postgres);
                let pg = e.as_database_error().and_then(|d| d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>());
                if super::lost_the_race(&e) && pg.and_then(|p| p.table()) == Some(history.as_str()) {
                    return Err(super::raced(m, &error));
                }
                Err(Failure { error, dirty: false })
            }
        }
    }

    /// `-- no-transaction`: the history row goes in first with `success = false`, so a failure
    /// part way (or a crash) leaves a row that says so; it is flipped when every statement ran.
    async fn run_each(
        &mut self,
        m: &MigrationFile,
        script: &Script<'_>,
        begin: String,
        done: impl FnOnce(Duration) -> Vec<String>,
        undo_begin: String,
    ) -> Result<Duration, Failure> {
        let (file, body) = (script.file, script.sql);
        let start = Instant::now();
        self.batch(begin).await.map_err(|e| match super::lost_the_race(&e) {
            true => super::raced(m, &e.into()),
            false => Failure { error: e.into(), dirty: false },
        })?;
        for (i, st) in script.statements.iter().enumerate() {
            // CREATE INDEX CONCURRENTLY waits for older transactions without blocking anyone, and a
            // lock or statement timeout there leaves an invalid index behind: it runs without them
            // (each SET its own query: a query of several statements is one transaction, where
            // CONCURRENTLY is refused).
            let concurrent = self.waits.is_set()
                && crate::syntax::words::words(st.sql).iter().any(|w| w.eq_ignore_ascii_case("CONCURRENTLY"));
            if concurrent {
                let _ = self.batch(limits_sql(&self.waits, true)).await;
            }
            let ran = self.batch(st.sql.to_string()).await;
            if concurrent && let Err(e) = self.batch(limits_sql(&self.waits, false)).await {
                tracing::warn!("could not set the lock wait again after a CONCURRENTLY statement: {e}");
            }
            if let Err(e) = ran {
                let offset = error_position(&e)
                    .and_then(|p| char_to_byte(st.sql, p.checked_sub(1)?))
                    .map(|o| st.offset + o)
                    .or(Some(st.offset));
                let mut error = migration_error(m, file, body, &e, offset);
                // Nothing ran but settings of the session (a file's own `SET lock_timeout`): take the
                // marker back so the database reads as before.
                if script.statements[..i].iter().all(|s| session_only(s.sql)) {
                    return Err(super::unmarked(error, self.batch(undo_begin).await.err()));
                }
                error.message += &super::ran_before(body, &script.statements[..i], "it runs outside a transaction");
                return Err(Failure { error, dirty: true });
            }
        }
        let elapsed = start.elapsed();
        let finish = done(elapsed);
        self.batch(format!("BEGIN;\n{};\nCOMMIT;", finish.join(";\n"))).await.map_err(|e| Failure {
            error: Error::failed(format!("{} ran, but recording it failed: {}", m.what(), super::server_says(&e))),
            dirty: true,
        })?;
        Ok(elapsed)
    }

    async fn lock_holder(&mut self, id: i64) -> Option<String> {
        let row: Option<(i32, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT a.pid, a.application_name, a.usename::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = ($1 >> 32) & 4294967295 \
             AND l.objid::bigint = $1 & 4294967295 LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut self.conn)
        .await
        .ok()
        .flatten();
        row.map(|(pid, app, user)| {
            format!(
                "server process {pid} (user {}, application {})",
                user.unwrap_or_default(),
                app.filter(|a| !a.is_empty()).unwrap_or_else(|| "unknown".into())
            )
        })
    }
}

/// The SETs for what `waits` limits (`off`: each set to no limit), and only those: a role's own
/// settings (ALTER ROLE … SET) stand otherwise.
fn limits_sql(waits: &crate::migration::waits::Waits, off: bool) -> String {
    let ms = |d: Duration| if off { 0 } else { d.as_millis() };
    let mut set = Vec::new();
    if let Some(w) = waits.lock_wait {
        set.push(format!("SET lock_timeout = {}", ms(w)));
    }
    if let Some(t) = waits.statement_timeout {
        set.push(format!("SET statement_timeout = {}", ms(t)));
    }
    set.join("; ")
}

/// A statement that changes only this session's settings (`SET lock_timeout = '2s'`), not the database.
fn session_only(sql: &str) -> bool {
    let w = crate::syntax::words::leading(sql, 2);
    match w.first().map(String::as_str) {
        Some("RESET") => true,
        // SET ROLE and SET SESSION AUTHORIZATION change who runs what follows: not a setting alone.
        Some("SET") => {
            !matches!(w.get(1).map(String::as_str), Some("ROLE" | "SESSION" | "CONSTRAINTS" | "TRANSACTION"))
        }
        _ => false,
    }
}

fn error_position(e: &sqlx::Error) -> Option<usize> {
    let pg = e.as_database_error()?.try_downcast_ref::<PgDatabaseError>()?;
    match pg.position()? {
        PgErrorPosition::Original(p) => Some(p),
        PgErrorPosition::Internal { .. } => None,
    }
}

/// PostgreSQL counts positions in characters; files are indexed in bytes.
fn char_to_byte(s: &str, chars: usize) -> Option<usize> {
    s.char_indices().nth(chars).map(|(b, _)| b)
}

/// sqlx's advisory lock key for a database (sqlx-postgres `generate_lock_id`), so Godwit and sqlx
/// runners exclude each other.
pub(crate) fn sqlx_lock_id(database: &str) -> i64 {
    const CRC_IEEE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    0x3d32ad9e * (CRC_IEEE.checksum(database.as_bytes()) as i64)
}

#[async_trait]
impl Migrate for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn history_exists(&mut self) -> Result<bool> {
        Ok(sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
            .bind(self.tables.history.sql(Dialect::Postgres))
            .fetch_one(&mut self.conn)
            .await?)
    }

    async fn ensure_tables(&mut self) -> Result<()> {
        let create = format!(
            "SET client_min_messages = warning;{}{}RESET client_min_messages;",
            self.tables.create_schemas_sql(Dialect::Postgres),
            self.tables.fill(CREATE_TABLES, Dialect::Postgres)
        );
        if let Err(e) = self.batch(create.clone()).await {
            // Another tool creating the same table at the same moment without taking the lock
            // (`sqlx migrate run` takes none): IF NOT EXISTS does not cover that race; once it is
            // over, the table is there.
            let raced = e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "23505" || c == "42P07");
            if !raced {
                return Err(e.into());
            }
            self.batch(create).await?;
        }
        let cols: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2",
        )
        .bind(self.tables.history.stored_schema(Dialect::Postgres))
        .bind(self.tables.history.stored_name(Dialect::Postgres))
        .fetch_all(&mut self.conn)
        .await?;
        sql::check_columns(&self.tables, Dialect::Postgres, &cols)
    }

    async fn run_in_progress(&mut self) -> Result<Option<String>> {
        if self.lock_id.is_some() {
            return Ok(None);
        }
        let db: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&mut self.conn).await?;
        Ok(self.lock_holder(sqlx_lock_id(&db)).await)
    }

    async fn standby(&mut self) -> Result<Option<super::Standby>> {
        let recovering: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()").fetch_one(&mut self.conn).await?;
        if !recovering {
            return Ok(None);
        }
        // The functions that read replay have these names from PostgreSQL 10; older ones are not asked.
        if self.conn.server_version_num().is_none_or(|v| v < 100000) {
            return Ok(Some(super::Standby { paused: false, unreplayed_bytes: None, replayed_age_ms: None }));
        }
        let (paused, unreplayed_bytes, replayed_age_ms): (bool, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT pg_is_wal_replay_paused(), \
             pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint, \
             (EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::bigint",
        )
        .fetch_one(&mut self.conn)
        .await?;
        Ok(Some(super::Standby { paused, unreplayed_bytes: unreplayed_bytes.map(|b| b.max(0)), replayed_age_ms }))
    }

    async fn lock(&mut self, timeout: Duration) -> Result<()> {
        // First, and in the simple protocol: behind a transaction-mode pooler the lock cannot hold.
        pooler::refuse_pooled(&mut self.conn, &self.options, &self.target).await?;
        // Everything that takes the lock goes on to write: a standby refuses that part way, in the
        // words of a read-only transaction. Said here, before anything.
        if let Some(standby) = self.standby().await? {
            return Err(Error::new(
                Problem::Standby,
                format!(
                    "{} is {}: it takes no changes. Run this against its primary; nothing was changed.",
                    self.target.display(),
                    standby.describe()
                ),
            ));
        }
        let db: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&mut self.conn).await?;
        let id = sqlx_lock_id(&db);
        let deadline = Instant::now() + timeout;
        loop {
            let got: bool =
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(id).fetch_one(&mut self.conn).await?;
            if got {
                self.lock_id = Some(id);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let holder = self.lock_holder(id).await;
                return Err(Error::new(
                    Problem::LockHeld { holder: holder.clone() },
                    format!(
                        "another migration run holds the migration lock on {} (waited {timeout:?}).{} \
                         Wait for it to finish, or wait longer.",
                        self.target.display(),
                        holder.map(|h| format!(" It is held by {h}.")).unwrap_or_default()
                    ),
                )
                .with_remedy(crate::error::Remedy::WaitForLock));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn unlock(&mut self) -> Result<()> {
        let Some(id) = self.lock_id.take() else { return Ok(()) };
        // False: this session did not hold it (behind a pooler that hands each transaction to
        // another server session, the lock was taken on one and is now left on it).
        let released: bool =
            sqlx::query_scalar("SELECT pg_advisory_unlock($1)").bind(id).fetch_one(&mut self.conn).await?;
        if !released {
            return Err(Error::failed(
                "the migration lock was not this session's when the run finished: the server session that took it \
                 is not this one (a connection pooler in transaction mode hands statements to other sessions), so it \
                 may still be held, and other runs may not have been kept out. Connect to the server directly, or \
                 through a session-mode pool."
                    .to_string(),
            ));
        }
        Ok(())
    }

    async fn limit(&mut self, waits: &crate::migration::waits::Waits) -> Result<()> {
        if waits.is_set() {
            self.batch(limits_sql(waits, false)).await?;
        }
        self.waits = *waits;
        Ok(())
    }

    async fn apply(&mut self, m: &MigrationFile, up: &Script<'_>, actor: &str) -> Result<Duration, Failure> {
        let tb = self.tables.clone();
        let ev = sql::ok_event(EventKind::Apply, m);
        if up.no_transaction {
            let marker = sql::marker();
            let undo = sql::delete_marked(&Pg, &tb, m.version, marker);
            return self
                .run_each(
                    m,
                    up,
                    sql::insert_history(&Pg, &tb, m, false, &marker.to_string()),
                    |d| {
                        let t = sql::ns(d).to_string();
                        vec![
                            sql::set_success(&Pg, &tb, m.version, true, Some(&t)),
                            sql::insert_log(&Pg, &tb, &ev, actor, &t),
                        ]
                    },
                    undo,
                )
                .await;
        }
        let after = [
            sql::insert_history(&Pg, &tb, m, true, ELAPSED),
            sql::insert_log(&Pg, &tb, &ev, actor, &sql::recorded_time(&Pg, &tb, m.version)),
        ];
        self.run_in_tx(m, up.file, up.sql, &after).await
    }

    async fn revert(&mut self, m: &MigrationFile, down: &Script<'_>, actor: &str) -> Result<Duration, Failure> {
        let tb = self.tables.clone();
        let ev = sql::ok_event(EventKind::Rollback, m);
        if down.no_transaction {
            return self
                .run_each(
                    m,
                    down,
                    sql::set_success(&Pg, &tb, m.version, false, None),
                    |d| {
                        vec![
                            sql::delete_history(&Pg, &tb, m.version),
                            sql::insert_log(&Pg, &tb, &ev, actor, &sql::ns(d).to_string()),
                        ]
                    },
                    sql::set_success(&Pg, &tb, m.version, true, None),
                )
                .await;
        }
        let after = [sql::delete_history(&Pg, &tb, m.version), sql::insert_log(&Pg, &tb, &ev, actor, ELAPSED)];
        self.run_in_tx(m, down.file, down.sql, &after).await
    }

    async fn apply_repeatable(
        &mut self,
        r: &MigrationFile,
        script: &Script<'_>,
        actor: &str,
    ) -> Result<Duration, Failure> {
        let tb = self.tables.clone();
        let ev = sql::repeatable_event(r, crate::db::Outcome::Ok, None);
        if script.no_transaction {
            // No history row marks it: nothing to put in first or take back.
            let log = |d: Duration| vec![sql::insert_log(&Pg, &tb, &ev, actor, &sql::ns(d).to_string())];
            return self.run_each(r, script, "SELECT 1".into(), log, "SELECT 1".into()).await;
        }
        self.run_in_tx(r, script.file, script.sql, &[sql::insert_log(&Pg, &tb, &ev, actor, ELAPSED)]).await
    }

    async fn reconnect(&mut self) -> Result<()> {
        self.conn = Postgres::connect(&self.target, &ConnectOptions::default()).await?.conn;
        self.lock_id = None;
        Ok(())
    }

    async fn interrupter(&mut self) -> Result<Box<dyn super::Interrupt>> {
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut self.conn).await?;
        Ok(Box::new(PgInterrupt { target: self.target.clone(), pid, watcher: Default::default() }))
    }

    async fn close(self: Box<Self>) {
        let _ = self.conn.close().await;
    }
}

#[async_trait]
impl Inspect for Postgres {
    async fn server_version(&mut self) -> Result<String> {
        let v: String = sqlx::query_scalar("SHOW server_version").fetch_one(&mut self.conn).await?;
        Ok(v)
    }

    async fn ping(&mut self) -> Result<()> {
        self.conn.ping().await.map_err(Error::from)
    }

    async fn begin_snapshot(&mut self) -> Result<Option<String>> {
        self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".into()).await?;
        let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()").fetch_one(&mut self.conn).await?;
        Ok(Some(id))
    }

    async fn end_snapshot(&mut self) -> Result<()> {
        self.batch("COMMIT".into()).await.map_err(Error::from)
    }

    async fn tables(&mut self) -> Result<Vec<String>> {
        let q = self.tables.fill(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg\\_%' \
             AND tablename <> {log_name} ORDER BY 1",
            Dialect::Postgres,
        );
        Ok(sqlx::query_scalar(AssertSqlSafe(q)).fetch_all(&mut self.conn).await?)
    }

    async fn table_counts(&mut self) -> Result<Vec<TableCount>> {
        let tables = inspect::tables(&mut self.conn, &self.tables).await?;
        counted(&mut self.conn, tables).await
    }

    async fn schema_lines(&mut self) -> Result<Vec<String>> {
        const USER: &str = "NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";
        let queries = [
            format!(
                "SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type || ' ' \
                 || is_nullable || ' ' || coalesce(column_default, '') FROM information_schema.columns \
                 WHERE table_schema {USER} AND table_name <> {{log_name}}"
            ),
            format!(
                "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname {USER} AND tablename <> {{log_name}}"
            ),
            format!(
                "SELECT 'constraint ' || n.nspname || ' ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || \
                 pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
                 WHERE n.nspname {USER} AND c.conrelid IS DISTINCT FROM to_regclass({{log_sql}})"
            ),
            format!(
                "SELECT 'view ' || schemaname || '.' || viewname || ' ' || definition FROM pg_views WHERE schemaname {USER}"
            ),
            format!(
                "SELECT 'trigger ' || event_object_schema || '.' || event_object_table || ' ' || trigger_name || ' ' || \
                 action_timing || ' ' || event_manipulation || ' ' || action_statement FROM information_schema.triggers \
                 WHERE trigger_schema {USER}"
            ),
            format!(
                "SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname {USER} AND n.nspname NOT LIKE 'pg\\_%'"
            ),
        ];
        let mut out = Vec::new();
        for q in queries {
            let q = self.tables.fill(&q, Dialect::Postgres);
            out.extend(sqlx::query_scalar::<_, String>(AssertSqlSafe(q)).fetch_all(&mut self.conn).await?);
        }
        out.sort();
        Ok(out)
    }

    async fn inspect(&mut self) -> Result<crate::schema::Schema> {
        Ok(inspect::inspect(&mut self.conn, &self.tables, &mut self.inspected, false).await?.0)
    }

    async fn catalog(&mut self) -> Result<crate::schema::generate::Catalog> {
        Ok(inspect::catalog(&mut self.conn).await?)
    }

    async fn snapshot(&mut self, counts: bool) -> Result<(crate::schema::Schema, Vec<TableCount>)> {
        let (schema, tables) = inspect::inspect(&mut self.conn, &self.tables, &mut self.inspected, counts).await?;
        Ok((schema, if counts { counted(&mut self.conn, tables).await? } else { Vec::new() }))
    }

    async fn drop_tables(&mut self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        self.batch(format!("DROP TABLE IF EXISTS {} CASCADE", names.join(", "))).await.map_err(Error::from)
    }

    async fn create_database(&mut self, name: &str) -> Result<()> {
        self.batch(format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""))).await.map_err(|e| {
            match super::error_code(&e).as_deref() {
                // A read-only transaction: the server is a standby, whatever the user may do.
                Some("25006") => Error::new(
                    Problem::Standby,
                    format!(
                        "cannot create the database {name}: {} is a read-only standby. Run this against its primary.",
                        self.target.display()
                    ),
                ),
                _ => Error::failed(format!(
                    "cannot create the database {name} (may this user CREATEDB?): {}",
                    super::server_says(&e)
                )),
            }
        })
    }

    async fn create_database_from(&mut self, name: &str, template: &str) -> Result<()> {
        let q = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
        self.batch(format!("CREATE DATABASE {} TEMPLATE {}", q(name), q(template)))
            .await
            .map_err(|e| Error::failed(format!("cannot copy the database {template}: {}", super::server_says(&e))))
    }

    async fn databases(&mut self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE datallowconn AND NOT datistemplate \
             AND has_database_privilege(datname, 'CONNECT') ORDER BY 1",
        )
        .fetch_all(&mut self.conn)
        .await?)
    }

    async fn drop_database(&mut self, name: &str) -> Result<bool> {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut self.conn)
            .await?;
        if exists {
            self.batch(format!("DROP DATABASE \"{}\"", name.replace('"', "\"\"")))
                .await
                .map_err(|e| super::drop_refused(name, &e))?;
        }
        Ok(exists)
    }

    async fn drop_scratch(&mut self, name: &str) -> Result<()> {
        self.batch(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.replace('"', "\"\"")))
            .await
            .map_err(Error::from)
    }
}

#[async_trait]
impl Bookkeeper for Postgres {
    type Db = sqlx::Postgres;
    type Words = Pg;

    fn conn(&mut self) -> &mut <Self::Db as sqlx::Database>::Connection {
        &mut self.conn
    }

    fn tables(&self) -> &super::Tables {
        &self.tables
    }

    fn undefined_table(e: &sqlx::Error) -> bool {
        undefined_table(e)
    }

    async fn rollback(&mut self) {
        Postgres::rollback(self).await
    }
}

/// Each table's rows, from its name and whether it has storage: a table whose file is empty has no
/// rows and is not counted (verify reads the counts twice per migration, on a schema of mostly
/// empty tables).
async fn counted(conn: &mut PgConnection, tables: Vec<(String, bool)>) -> Result<Vec<TableCount>> {
    let stored = tables.iter().filter(|(_, stored)| *stored).map(|(t, _)| t.clone()).collect();
    let mut counted = super::count_tables::<sqlx::Postgres>(conn, stored, |t| t.to_string()).await?;
    counted.extend(tables.into_iter().filter(|(_, stored)| !stored).map(|(table, _)| TableCount { table, rows: 0 }));
    counted.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(counted)
}

fn undefined_table(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "42P01")
}
