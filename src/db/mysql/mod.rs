//! MySQL and MariaDB: DDL commits itself, so a migration cannot be undone by a rollback once a
//! DDL statement ran. As sqlx does, the history row goes in first with `success = false` and is
//! flipped at the end; a failure part way leaves that row, and later runs refuse to go on until a
//! person has looked (`resolve`). The whole of it still travels as one multi-statement batch.

use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, Executor as _};

use super::history::Bookkeeper;
use super::sql::{self, Syntax};
use super::{ConnectOptions, Dialect, EventKind, Failure, Inspect, Migrate, TableCount, Target};
use super::{Script, connect_error, error_code, migration_error, run_counted};
use crate::error::{Error, Problem, Result};
use crate::migration::source::MigrationFile;

mod catalog;
mod galera;

pub struct MySql {
    conn: MySqlConnection,
    target: Target,
    lock_name: Option<String>,
    /// This run holds the lock row of a Galera cluster too (`galera`).
    lock_row: bool,
    tables: super::Tables,
    /// What `limit` set, for the statements pt-online-schema-change runs.
    lock_wait: Option<std::time::Duration>,
    /// Where the lines of a tool that runs a statement go (the run's progress).
    narrate: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    /// pt-online-schema-change while it runs, for a stop from elsewhere.
    running: super::online::Running,
}

/// Kills a connection's running statement (not the connection) from a connection of its own.
struct MyInterrupt {
    target: Target,
    id: u64,
    /// pt-online-schema-change, while it runs a statement of the migration.
    tool: super::online::Running,
    /// Asks who is in the way while a migration waits, over one connection kept for it.
    watcher: tokio::sync::Mutex<Option<MySqlConnection>>,
}

/// A session in the way: its id, user, host, command, state, statement, and how long its
/// transaction has been open.
type BlockerRow = (u64, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<i64>);

/// The sessions whose InnoDB transactions hold the row locks `?` (a connection id) waits for.
const ROW_LOCK_HOLDERS: &str = "SELECT b.trx_mysql_thread_id, p.USER, p.HOST, p.COMMAND, p.STATE, LEFT(p.INFO, 200), \
     TIMESTAMPDIFF(SECOND, b.trx_started, NOW()) FROM information_schema.INNODB_TRX r \
     JOIN information_schema.INNODB_LOCK_WAITS w ON w.requesting_trx_id = r.trx_id \
     JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
     LEFT JOIN information_schema.PROCESSLIST p ON p.ID = b.trx_mysql_thread_id \
     WHERE r.trx_mysql_thread_id = ? ORDER BY b.trx_started";

/// The other sessions with a transaction open: a table's metadata lock is held until the
/// transaction that used the table ends, and the server does not say by which one.
const OPEN_TRANSACTIONS: &str = "SELECT t.trx_mysql_thread_id, p.USER, p.HOST, p.COMMAND, p.STATE, LEFT(p.INFO, 200), \
     TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) FROM information_schema.INNODB_TRX t \
     LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
     WHERE t.trx_mysql_thread_id <> ? ORDER BY t.trx_started";

fn blocker(row: BlockerRow, sure: bool) -> crate::event::Blocker {
    let (id, user, host, command, state, query, open) = row;
    // An idle session's state is empty and its command `Sleep`: say it plainly.
    let state = match (command.as_deref(), state.filter(|s| !s.is_empty())) {
        (Some("Sleep"), None) => Some("idle in transaction".to_string()),
        (_, s) => s,
    };
    crate::event::Blocker {
        session: format!("connection {id}"),
        user,
        program: host.map(|h| format!("from {h}")),
        state,
        query,
        open_secs: open,
        sure,
    }
}

#[async_trait]
impl super::Interrupt for MyInterrupt {
    async fn interrupt(&self) -> Result<()> {
        // The tool cleans up (its triggers, its copy) when asked to stop.
        #[cfg(unix)]
        if let Some(pid) = *self.tool.lock().expect("not poisoned") {
            // SAFETY: a plain system call on the tool's own process id.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            return Ok(());
        }
        let mut other = MySql::connect(&self.target, &ConnectOptions::default()).await?;
        let r = other.batch(format!("KILL QUERY {}", self.id)).await;
        let _ = other.conn.close().await;
        r.map_err(Error::from)
    }

    async fn running(&self) -> Result<bool> {
        // The tool works over connections of its own, while this one waits.
        if self.tool.lock().expect("not poisoned").is_some() {
            return Ok(true);
        }
        let mut other = MySql::connect(&self.target, &ConnectOptions::default()).await?;
        let r = sqlx::query_scalar::<_, String>("SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = ?")
            .bind(self.id)
            .fetch_optional(&mut other.conn)
            .await;
        let _ = other.conn.close().await;
        Ok(r.map_err(Error::from)?.is_some_and(|c| c == "Query"))
    }

    async fn blockers(&self) -> Result<Vec<crate::event::Blocker>> {
        let mut watcher = self.watcher.lock().await;
        if watcher.is_none() {
            *watcher = Some(MySql::connect(&self.target, &ConnectOptions::default()).await?.conn);
        }
        let conn = watcher.as_mut().expect("made above");
        let rows: Vec<BlockerRow> =
            sqlx::query_as(ROW_LOCK_HOLDERS).bind(self.id).fetch_all(&mut *conn).await.unwrap_or_default();
        if !rows.is_empty() {
            return Ok(rows.into_iter().map(|r| blocker(r, true)).collect());
        }
        // A metadata lock (ALTER TABLE behind a transaction that read the table) or a table lock.
        let state: Option<String> = sqlx::query_scalar("SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = ?")
            .bind(self.id)
            .fetch_optional(&mut *conn)
            .await?
            .flatten();
        if !state.is_some_and(|s| s.starts_with("Waiting for") && s.contains("lock")) {
            return Ok(Vec::new());
        }
        let rows: Vec<BlockerRow> = sqlx::query_as(OPEN_TRANSACTIONS).bind(self.id).fetch_all(&mut *conn).await?;
        Ok(rows.into_iter().map(|r| blocker(r, false)).collect())
    }
}

#[derive(Default)]
pub(crate) struct My;

impl Syntax for My {
    fn text(&self, s: &str) -> String {
        if s.is_empty() {
            return "''".into();
        }
        format!("CONVERT(X'{}' USING utf8mb4)", hex::encode(s))
    }
    fn bytes(&self, b: &[u8]) -> String {
        format!("X'{}'", hex::encode(b))
    }
    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }
    fn begin(&self) -> &'static str {
        "START TRANSACTION"
    }
}

/// Nanoseconds since the batch's first statement set `@godwit_t0`.
const ELAPSED: &str = "TIMESTAMPDIFF(MICROSECOND, @godwit_t0, SYSDATE(6)) * 1000";

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
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    event_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    event VARCHAR(16) NOT NULL,
    version BIGINT NULL,
    description TEXT NULL,
    actor VARCHAR(255) NOT NULL,
    duration_ns BIGINT NULL,
    outcome VARCHAR(16) NOT NULL,
    error TEXT NULL,
    detail TEXT NULL
);
"#;

/// sqlx's lock name for a database (sqlx-mysql `generate_lock_id`).
fn sqlx_lock_name(database: &str) -> String {
    format!("{:x}", super::postgres::sqlx_lock_id(database))
}

impl MySql {
    pub async fn connect(target: &Target, opts: &ConnectOptions) -> Result<Self> {
        // sqlx's options set the session (sql_mode, time zone, utf8mb4) as sqlx's migrator has it,
        // so schemas come out the same.
        let mut o = MySqlConnectOptions::from_str(target.url().as_str())
            .map_err(|e| Error::input(format!("bad MySQL URL {}: {e}", target.display())))?;
        if let Some(p) = target.password() {
            o = o.password(p);
        }
        let conn = super::quiet(o).connect().await.map_err(|e| connect_error(target, e))?;
        Ok(MySql {
            conn,
            target: target.clone(),
            lock_name: None,
            lock_row: false,
            tables: opts.tables.clone(),
            lock_wait: None,
            narrate: None,
            running: Default::default(),
        })
    }

    async fn batch(&mut self, text: String) -> std::result::Result<(), sqlx::Error> {
        self.conn.execute(sqlx::raw_sql(AssertSqlSafe(text))).await.map(|_| ())
    }

    /// Runs `before`, the file's statements and `after` as one batch. `mark` is the history change
    /// made first (committed by the first DDL statement if there is one); `unmark` undoes it when the
    /// first statement of the file fails, which changed nothing. An up's mark carries `marker`, so a
    /// failure can tell its own row from another run's.
    async fn run(
        &mut self,
        m: &MigrationFile,
        script: &Script<'_>,
        (mark, unmark, marker): (String, String, Option<i64>),
        after: &[String],
    ) -> Result<Duration, Failure> {
        if !script.online.is_empty() {
            return self.run_online(m, script, mark, unmark, after).await;
        }
        let (file, sql_text, in_tx) = (script.file, script.sql, !script.no_transaction);
        let (body, offsets) = script.body();
        let mut before = vec!["SET @godwit_t0 = SYSDATE(6)".to_string()];
        if in_tx {
            before.push(My.begin().into());
        }
        before.push(mark);
        let mut parts = before.clone();
        if !body.is_empty() {
            parts.push(body.to_string());
        }
        parts.extend_from_slice(after);
        if in_tx {
            parts.push("COMMIT".into());
        }
        let text = parts.join(";\n");
        self.fits_in_a_packet(m, file, text.len()).await.map_err(|error| Failure { error, dirty: false })?;
        let start = Instant::now();
        let Err((e, done)) = run_counted(&mut self.conn, text).await else {
            return Ok(start.elapsed());
        };
        let _ = self.batch("ROLLBACK".into()).await;
        let failed_stmt = done.checked_sub(before.len()).filter(|k| *k < offsets.len());
        let mut error = migration_error(m, file, sql_text, &e, failed_stmt.map(|k| offsets[k]));
        if done + 1 == before.len() && marker.is_some() && super::lost_the_race(&e) {
            // The mark itself was refused: the row is another run's.
            return Err(super::raced(m, &error));
        }
        // Every statement of the file ran: what failed is the bookkeeping after them.
        let body_ran = done >= before.len() + offsets.len();
        let marked = match (m.repeatable, marker) {
            // No history row says how far it got: the statements before the failing one that can
            // change anything did (DDL commits itself).
            (true, _) => failed_stmt.is_some_and(|k| !script.statements[..k].iter().all(|s| changes_nothing(s.sql))),
            (false, marker) => {
                let q =
                    self.tables.fill("SELECT success, execution_time FROM {history} WHERE version = ?", Dialect::MySql);
                let row =
                    sqlx::query_as::<_, (bool, i64)>(AssertSqlSafe(q)).bind(m.version).fetch_optional(&mut self.conn);
                match (row.await, marker) {
                    (Err(why), _) => return Err(super::unknown(error, &why.into())),
                    (Ok(row), Some(marker)) if body_ran => {
                        return match row {
                            // Applied and recorded (its success committed on its own); only the
                            // log's line is missing.
                            Some((true, _)) => {
                                tracing::warn!("{} is applied, but its log entry could not be written: {e}", m.what());
                                Ok(start.elapsed())
                            }
                            Some((false, t)) if t == marker => Err(Failure {
                                error: Error::failed(format!(
                                    "{} ran, but recording it failed: {}",
                                    m.what(),
                                    super::server_says(&e)
                                )),
                                dirty: true,
                            }),
                            // In a transaction, all of it went back.
                            _ => Err(Failure { error, dirty: false }),
                        };
                    }
                    (Ok(row), Some(marker)) => match sql::Mark::of(row, marker) {
                        sql::Mark::Ours => true,
                        sql::Mark::None => false,
                        // Its commit lost to another node's (Galera reports a deadlock): the mark
                        // and what ran before it went back.
                        sql::Mark::Theirs => return Err(super::raced(m, &error)),
                    },
                    // A down marks the row that is there.
                    (Ok(row), None) => row.is_some_and(|(success, _)| !success),
                }
            }
        };
        if marked && failed_stmt.is_some_and(|k| script.statements[..k].iter().all(|s| changes_nothing(s.sql))) {
            // The first statement that could change anything failed: only the marker was committed
            // (by that statement's implicit commit). Take it back so the database reads as before.
            return Err(super::unmarked(error, self.batch(unmark).await.err()));
        }
        if marked && let Some(k) = failed_stmt.filter(|k| *k > 0) {
            // Said so that a person knows what to finish or undo by hand.
            error.message += &super::ran_before(
                sql_text,
                &script.statements[..k],
                "MySQL/MariaDB commits each DDL statement as it runs (with what ran before it), and each \
                 statement after one on its own",
            );
        }
        Err(Failure { error, dirty: marked })
    }

    /// A migration with statements marked online: one statement at a time, the marked ones through
    /// pt-online-schema-change, outside a transaction (as MySQL runs DDL). The history row goes in
    /// first (`mark`), so a run stopped part way leaves a row that says so.
    async fn run_online(
        &mut self,
        m: &MigrationFile,
        script: &Script<'_>,
        mark: String,
        unmark: String,
        after: &[String],
    ) -> Result<Duration, Failure> {
        let (file, sql_text) = (script.file, script.sql);
        let name = crate::migration::source::file_name(file);
        let start = Instant::now();
        // This session holds the migration lock and waits, idle, while the tool copies the table:
        // the server's wait_timeout must not end it meanwhile.
        self.batch(format!("SET SESSION wait_timeout = 31536000;\nSET @godwit_t0 = SYSDATE(6);\n{mark}"))
            .await
            .map_err(|e| match !m.repeatable && super::lost_the_race(&e) {
                true => super::raced(m, &e.into()),
                false => Failure { error: e.into(), dirty: false },
            })?;
        for (i, st) in script.statements.iter().enumerate() {
            // Whether the failing statement may have changed something (the tool says when not).
            let failed = if script.online.contains(&i) {
                let alter = super::online::parse(st.sql).expect("checked when the file was split");
                let ran =
                    super::online::run(&self.target, &alter, self.lock_wait, self.narrate.as_ref(), &self.running);
                match ran.await {
                    Ok(()) => None,
                    Err(f) => {
                        let (mut error, changed) = self.clear_after_tool(f).await;
                        error.message = format!("{} failed in {name} (line {}): {}", m.what(), st.line, error.message);
                        error.location = Some(crate::error::Location { file: name.clone(), line: st.line, column: 1 });
                        Some((error, changed))
                    }
                }
            } else {
                let done = self.batch(st.sql.to_string()).await;
                done.err().map(|e| (migration_error(m, file, sql_text, &e, Some(st.offset)), false))
            };
            let Some((mut error, changed)) = failed else { continue };
            if i == 0 && !changed {
                return Err(super::unmarked(error, self.batch(unmark).await.err()));
            }
            error.message += &super::ran_before(
                sql_text,
                &script.statements[..i],
                "MySQL/MariaDB commits each DDL statement as it runs, and a statement run online is its own",
            );
            return Err(Failure { error, dirty: true });
        }
        let elapsed = start.elapsed();
        self.batch(after.join(";\n")).await.map_err(|e| Failure {
            error: Error::failed(format!("{} ran, but recording it failed: {e}", m.what())),
            dirty: true,
        })?;
        Ok(elapsed)
    }

    /// Refuses to start pt-online-schema-change on a table where an earlier run of it left its
    /// triggers or its copy (it was killed, or Godwit was): they go on copying every write, and the
    /// tool would refuse anyway. Says what to drop.
    async fn no_leftovers(&mut self, alter: &super::online::Alter<'_>) -> Result<()> {
        let db = match &alter.database {
            Some(d) => d.clone(),
            None => sqlx::query_scalar::<_, Option<String>>("SELECT DATABASE()")
                .fetch_one(&mut self.conn)
                .await?
                .unwrap_or_default(),
        };
        let t = &alter.table;
        let found: Vec<(String, String)> = sqlx::query_as(
            "SELECT 'TRIGGER', trigger_name FROM information_schema.TRIGGERS WHERE trigger_schema = ? \
             AND trigger_name IN (?, ?, ?) \
             UNION ALL SELECT 'TABLE', table_name FROM information_schema.TABLES WHERE table_schema = ? \
             AND table_name = ? ORDER BY 1 DESC, 2",
        )
        .bind(&db)
        .bind(format!("pt_osc_{db}_{t}_ins"))
        .bind(format!("pt_osc_{db}_{t}_upd"))
        .bind(format!("pt_osc_{db}_{t}_del"))
        .bind(&db)
        .bind(format!("_{t}_new"))
        .fetch_all(&mut self.conn)
        .await?;
        if found.is_empty() {
            return Ok(());
        }
        let drops: Vec<String> =
            found.iter().map(|(kind, name)| format!("DROP {kind} IF EXISTS `{db}`.`{name}`;")).collect();
        Err(Error::failed(format!(
            "an earlier run of pt-online-schema-change on `{db}`.`{t}` left {} behind (it was stopped without \
             cleaning up, or killed with Godwit): its triggers copy every write to the table into its copy. Once you \
             know no such run is going on, drop them:\n{}\nNothing was run.",
            found.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", "),
            drops.join("\n")
        )))
    }

    /// Drops what pt-online-schema-change left when it was stopped (its triggers, which would go on
    /// copying every write, and its copy), and says so in the error; with whether the database may be
    /// other than before.
    async fn clear_after_tool(&mut self, f: super::online::Failed) -> (Error, bool) {
        let super::online::Failed { mut error, changed, left } = f;
        if left.is_empty() {
            return (error, changed);
        }
        let what = match (
            left.iter().any(|l| l.starts_with("DROP TRIGGER")),
            left.iter().any(|l| l.starts_with("DROP TABLE")),
        ) {
            (true, true) => "its triggers and its copy of the table",
            (true, false) => "its triggers",
            _ => "its copy of the table",
        };
        let (said, changed) = match self.batch(left.join(";\n")).await {
            Ok(()) => (format!("It left {what} when it stopped: Godwit dropped them."), changed),
            Err(e) => (format!("It left {what}, and dropping them failed ({e}): run\n{};", left.join(";\n")), true),
        };
        error.message = format!("{}\n{said}", error.message);
        (error, changed)
    }

    /// A query longer than the server's `max_allowed_packet` makes it close the connection (the
    /// client sees a broken pipe): refuse it before anything is sent, saying how to go on. Asked
    /// only for large files.
    async fn fits_in_a_packet(&mut self, m: &MigrationFile, file: &std::path::Path, len: usize) -> Result<()> {
        if len < 1 << 20 {
            return Ok(());
        }
        let max: u64 = sqlx::query_scalar("SELECT @@max_allowed_packet").fetch_one(&mut self.conn).await?;
        if len as u64 <= max {
            return Ok(());
        }
        let mb = |n: u64| format!("{:.1} MB", n as f64 / 1e6);
        Err(Error::input(format!(
            "migration {} ({}) is {} to send, more than the server's max_allowed_packet ({}), so the server would \
             drop the connection. Nothing was sent. Raise the limit on the server (`SET GLOBAL max_allowed_packet = \
             {};` and max_allowed_packet under [mysqld] in its configuration, to keep it after a restart), or split \
             the file into smaller migrations.",
            m.version,
            crate::migration::source::file_name(file),
            mb(len as u64),
            mb(max),
            (len as u64 + (1 << 20)).next_multiple_of(1 << 20),
        )))
    }

    fn lock_held(&self, timeout: Duration, holder: Option<String>) -> Error {
        Error::new(
            Problem::LockHeld { holder: holder.clone() },
            format!(
                "another migration run holds the migration lock on {} (waited {timeout:?}).{} \
                 Wait for it to finish, or wait longer.",
                self.target.display(),
                holder.map(|h| format!(" It is held by {h}.")).unwrap_or_default()
            ),
        )
        .with_remedy(crate::error::Remedy::WaitForLock)
    }

    async fn lock_holder(&mut self, name: &str) -> Option<String> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT CAST(USER AS CHAR), CAST(HOST AS CHAR) FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK(?)",
        )
        .bind(name)
        .fetch_optional(&mut self.conn)
        .await
        .ok()
        .flatten();
        row.map(|(u, h)| format!("{u} from {h}"))
    }
}

#[async_trait]
impl Migrate for MySql {
    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    async fn history_exists(&mut self) -> Result<bool> {
        let h = &self.tables.history;
        Ok(sqlx::query_scalar::<_, bool>(
            "SELECT COUNT(*) > 0 FROM information_schema.tables \
             WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?",
        )
        .bind(h.stored_schema(Dialect::MySql))
        .bind(h.stored_name(Dialect::MySql))
        .fetch_one(&mut self.conn)
        .await?)
    }

    async fn ensure_tables(&mut self) -> Result<()> {
        let t = &self.tables;
        let create = format!("{}{}", t.create_schemas_sql(Dialect::MySql), t.fill(CREATE_TABLES, Dialect::MySql));
        self.batch(create).await?;
        let cols: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
             WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?",
        )
        .bind(self.tables.history.stored_schema(Dialect::MySql))
        .bind(self.tables.history.stored_name(Dialect::MySql))
        .fetch_all(&mut self.conn)
        .await?;
        sql::check_columns(&self.tables, Dialect::MySql, &cols)
    }

    async fn lock(&mut self, timeout: Duration) -> Result<()> {
        let db: Option<String> = sqlx::query_scalar("SELECT DATABASE()").fetch_one(&mut self.conn).await?;
        let name = sqlx_lock_name(&db.unwrap_or_default());
        let deadline = Instant::now() + timeout;
        // sqlx asks for GET_LOCK(name, -1), which MariaDB refuses (NULL, warning 1411) and sqlx does
        // not check. A non-negative timeout works on both servers; the result is checked.
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(&name)
            .bind(timeout.as_secs_f64().ceil() as i64)
            .fetch_one(&mut self.conn)
            .await?;
        match got {
            Some(1) => {}
            Some(_) => {
                let holder = self.lock_holder(&name).await;
                return Err(self.lock_held(timeout, holder));
            }
            None => {
                return Err(Error::failed(format!(
                    "the server refused the migration lock {name} (GET_LOCK returned NULL)"
                )));
            }
        }
        // GET_LOCK holds on this node only: on a Galera cluster the row in `_godwit_lock` is the lock.
        let cluster = async {
            if !galera::is_node(&mut self.conn).await? {
                return Ok(Ok(false));
            }
            galera::read_causally(&mut self.conn).await?;
            Ok(galera::take(&mut self.conn, &self.tables, &name, deadline).await?.map(|()| true))
        };
        match cluster.await {
            Ok(Ok(row)) => {
                self.lock_row = row;
                self.lock_name = Some(name);
                Ok(())
            }
            failed => {
                let _ = sqlx::query("SELECT RELEASE_LOCK(?)").bind(&name).execute(&mut self.conn).await;
                match failed {
                    Ok(Err(holder)) => Err(self.lock_held(
                        timeout,
                        holder.map(|h| {
                            format!(
                                "{h}; a run that was killed leaves it until the next run on node {} takes it over",
                                h.node
                            )
                        }),
                    )),
                    Err(e) => Err(e),
                    Ok(Ok(_)) => unreachable!("matched above"),
                }
            }
        }
    }

    async fn run_in_progress(&mut self) -> Result<Option<String>> {
        let db: Option<String> = sqlx::query_scalar("SELECT DATABASE()").fetch_one(&mut self.conn).await?;
        let name = sqlx_lock_name(&db.unwrap_or_default());
        if self.lock_name.is_none() && galera::is_node(&mut self.conn).await? {
            return Ok(match galera::holder(&mut self.conn, &self.tables, &name).await? {
                // Left by a run killed on this node: no run is in progress (the next takes it over).
                Some(h) if galera::gone(&mut self.conn, &h).await? => None,
                h => h.map(|h| h.to_string()),
            });
        }
        let (held_by, me): (Option<i64>, i64) =
            sqlx::query_as("SELECT CAST(IS_USED_LOCK(?) AS SIGNED), CAST(CONNECTION_ID() AS SIGNED)")
                .bind(&name)
                .fetch_one(&mut self.conn)
                .await?;
        Ok(match held_by.filter(|id| *id != me) {
            Some(id) => Some(self.lock_holder(&name).await.unwrap_or_else(|| format!("connection {id}"))),
            None => None,
        })
    }

    async fn unlock(&mut self) -> Result<()> {
        let Some(name) = self.lock_name.take() else { return Ok(()) };
        let row = match std::mem::take(&mut self.lock_row) {
            true => galera::release(&mut self.conn, &self.tables, &name).await,
            false => Ok(()),
        };
        let released: Option<i64> =
            sqlx::query_scalar("SELECT RELEASE_LOCK(?)").bind(&name).fetch_one(&mut self.conn).await?;
        row?;
        if released != Some(1) {
            return Err(Error::failed(format!(
                "the migration lock was not this session's when the run finished (RELEASE_LOCK returned {}): \
                 another run may have run at the same time: look at its status and history.",
                released.map_or("NULL".into(), |r| r.to_string())
            )));
        }
        Ok(())
    }

    fn narrate(&mut self, to: tokio::sync::mpsc::UnboundedSender<String>) {
        self.narrate = Some(to);
    }

    async fn ready(&mut self, script: &Script<'_>) -> Result<()> {
        if script.online.is_empty() {
            return Ok(());
        }
        super::online::find()?;
        for i in &script.online {
            let alter = super::online::parse(script.statements[*i].sql).expect("checked when the file was split");
            self.no_leftovers(&alter).await?;
        }
        Ok(())
    }

    async fn limit(&mut self, waits: &crate::migration::waits::Waits) -> Result<()> {
        if let Some(e) = super::refused_waits(Dialect::MySql, waits, &self.target.display()) {
            return Err(e);
        }
        self.lock_wait = waits.lock_wait;
        let mut set = Vec::new();
        if let Some(w) = waits.lock_wait {
            // A metadata lock (DDL) and a row lock (InnoDB) each wait this long.
            let secs = w.as_secs();
            set.push(format!("lock_wait_timeout = {secs}, innodb_lock_wait_timeout = {secs}"));
        }
        if let Some(t) = waits.statement_timeout {
            let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(&mut self.conn).await?;
            if !version.contains("MariaDB") {
                return Err(Error::input(format!(
                    "statement_timeout cannot be set on {} (MySQL {version}): MySQL limits only SELECT statements' \
                     time. Leave statement_timeout off for it; nothing was run.",
                    self.target.display()
                )));
            }
            set.push(format!("max_statement_time = {}", t.as_secs_f64()));
        }
        if !set.is_empty() {
            self.batch(format!("SET SESSION {}", set.join(", "))).await?;
        }
        Ok(())
    }

    async fn apply(&mut self, m: &MigrationFile, up: &Script<'_>, actor: &str) -> Result<Duration, Failure> {
        let tb = self.tables.clone();
        let ev = sql::ok_event(EventKind::Apply, m);
        let after = [
            sql::set_success(&My, &tb, m.version, true, Some(ELAPSED)),
            sql::insert_log(&My, &tb, &ev, actor, &sql::recorded_time(&My, &tb, m.version)),
        ];
        let marker = sql::marker();
        let mark = sql::insert_history(&My, &tb, m, false, &marker.to_string());
        self.run(m, up, (mark, sql::delete_marked(&My, &tb, m.version, marker), Some(marker)), &after).await
    }

    async fn revert(&mut self, m: &MigrationFile, down: &Script<'_>, actor: &str) -> Result<Duration, Failure> {
        let tb = self.tables.clone();
        let ev = sql::ok_event(EventKind::Rollback, m);
        let after = [sql::delete_history(&My, &tb, m.version), sql::insert_log(&My, &tb, &ev, actor, ELAPSED)];
        let mark = sql::set_success(&My, &tb, m.version, false, None);
        let unmark = sql::set_success(&My, &tb, m.version, true, None);
        self.run(m, down, (mark, unmark, None), &after).await
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
        self.run(r, script, ("DO 0".into(), "DO 0".into(), None), &[sql::insert_log(&My, &tb, &ev, actor, ELAPSED)])
            .await
    }

    async fn reconnect(&mut self) -> Result<()> {
        self.conn = MySql::connect(&self.target, &ConnectOptions::default()).await?.conn;
        self.lock_name = None;
        self.lock_row = false;
        Ok(())
    }

    async fn interrupter(&mut self) -> Result<Box<dyn super::Interrupt>> {
        let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()").fetch_one(&mut self.conn).await?;
        Ok(Box::new(MyInterrupt {
            target: self.target.clone(),
            id,
            tool: self.running.clone(),
            watcher: Default::default(),
        }))
    }

    async fn close(self: Box<Self>) {
        let _ = self.conn.close().await;
    }
}

#[async_trait]
impl Inspect for MySql {
    async fn inspect(&mut self) -> Result<crate::schema::Schema> {
        // GROUP_CONCAT stops at 1 KiB unless told otherwise: a table of many columns would be cut.
        self.batch("SET SESSION group_concat_max_len = 16777216".into()).await?;
        let (db, version): (String, String) =
            sqlx::query_as("SELECT CAST(DATABASE() AS CHAR), CAST(VERSION() AS CHAR)")
                .fetch_one(&mut self.conn)
                .await?;
        let same_table = checks_by_table(&version);
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for q in MY_INSPECT {
            let q = self
                .tables
                .fill(&q.replace("{CONSTRAINTS}", CONSTRAINTS).replace("{SAME_TABLE}", same_table), Dialect::MySql);
            rows.extend(sqlx::query_as(AssertSqlSafe(q)).fetch_all(&mut self.conn).await?);
        }
        // Views and routines name the database they were made in: another database (a scratch
        // copy) holding the same objects must read the same.
        let own = format!("{}.", quote(&db));
        Ok(crate::schema::Schema::from_rows(rows.into_iter().map(|(k, n, d)| (k, n, d.replace(&own, "")))))
    }

    async fn catalog(&mut self) -> Result<crate::schema::generate::Catalog> {
        let schema = self.inspect().await?;
        let version = self.server_version().await?;
        catalog::catalog(&mut self.conn, &schema, checks_by_table(&version)).await
    }

    async fn server_version(&mut self) -> Result<String> {
        let v: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(&mut self.conn).await?;
        Ok(v)
    }

    async fn ping(&mut self) -> Result<()> {
        self.conn.ping().await.map_err(Error::from)
    }

    async fn begin_snapshot(&mut self) -> Result<Option<String>> {
        self.batch("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY".into()).await?;
        Ok(None)
    }

    async fn end_snapshot(&mut self) -> Result<()> {
        self.batch("COMMIT".into()).await.map_err(Error::from)
    }

    async fn tables(&mut self) -> Result<Vec<String>> {
        let q = self.tables.fill(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_type = 'BASE TABLE' AND table_name NOT IN ({log_name}, {lock_name}) ORDER BY 1",
            Dialect::MySql,
        );
        Ok(sqlx::query_scalar(AssertSqlSafe(q)).fetch_all(&mut self.conn).await?)
    }

    async fn table_counts(&mut self) -> Result<Vec<TableCount>> {
        let tables = self.tables().await?;
        super::count_tables::<sqlx::MySql>(&mut self.conn, tables, quote).await
    }

    async fn schema_lines(&mut self) -> Result<Vec<String>> {
        // Names are compared without the database's own name, so a restored copy in a scratch
        // database has the same fingerprint.
        let queries = [
            "SELECT CAST(CONCAT_WS(' ', 'column', table_name, column_name, column_type, is_nullable, COALESCE(column_default, 'NULL'), extra) AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name NOT IN ({log_name}, {lock_name})",
            "SELECT CAST(CONCAT_WS(' ', 'index', table_name, index_name, non_unique, seq_in_index, column_name) AS CHAR) \
             FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name NOT IN ({log_name}, {lock_name})",
            "SELECT CAST(CONCAT_WS(' ', 'fk', k.table_name, k.constraint_name, k.column_name, k.referenced_table_name, k.referenced_column_name, r.delete_rule) AS CHAR) \
             FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r \
             ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name \
             WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL",
            "SELECT CAST(CONCAT('view ', table_name, ' ', REPLACE(view_definition, CONCAT('`', DATABASE(), '`.'), '')) AS CHAR) \
             FROM information_schema.views WHERE table_schema = DATABASE()",
            "SELECT CAST(CONCAT_WS(' ', 'trigger', event_object_table, trigger_name, action_timing, event_manipulation) AS CHAR) \
             FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
            "SELECT CAST(CONCAT_WS(' ', 'routine', routine_type, routine_name) AS CHAR) FROM information_schema.routines \
             WHERE routine_schema = DATABASE()",
        ];
        let mut out = Vec::new();
        for q in queries {
            let q = self.tables.fill(q, Dialect::MySql);
            out.extend(sqlx::query_scalar::<_, String>(AssertSqlSafe(q)).fetch_all(&mut self.conn).await?);
        }
        out.sort();
        Ok(out)
    }

    async fn broken_views(&mut self) -> Result<Vec<super::BrokenView>> {
        let views: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.views WHERE table_schema = DATABASE() \
             ORDER BY table_name",
        )
        .fetch_all(&mut self.conn)
        .await?;
        if views.is_empty() {
            return Ok(Vec::new());
        }
        // CHECK TABLE opens each view as a query would, and says why one cannot be (one statement
        // for them all); the catalog's own tables say nothing of it.
        let list: Vec<String> = views.iter().map(|v| quote(v)).collect();
        let rows =
            self.conn.fetch_all(sqlx::raw_sql(AssertSqlSafe(format!("CHECK TABLE {}", list.join(", "))))).await?;
        let mut out: Vec<super::BrokenView> = Vec::new();
        for row in rows {
            use sqlx::Row as _;
            let (table, kind, text): (String, String, String) = (
                row.try_get_unchecked(0).unwrap_or_default(),
                row.try_get_unchecked(2).unwrap_or_default(),
                row.try_get_unchecked(3).unwrap_or_default(),
            );
            let name = table.split_once('.').map_or(table.as_str(), |(_, n)| n).to_string();
            if !kind.eq_ignore_ascii_case("error") || out.last().is_some_and(|b| b.name == name) {
                continue;
            }
            out.push(super::BrokenView { name, why: text, blocks_backup: true });
        }
        Ok(out)
    }

    async fn clear_for_restore(&mut self) -> Result<()> {
        // Names and kinds as the catalog has them: quoted as identifiers, never as text.
        let objects: Vec<(String, String)> = sqlx::query_as(
            "SELECT 'VIEW', CAST(table_name AS CHAR) FROM information_schema.views WHERE table_schema = DATABASE() \
             UNION ALL SELECT CAST(routine_type AS CHAR), CAST(routine_name AS CHAR) FROM information_schema.routines \
             WHERE routine_schema = DATABASE() AND routine_type IN ('FUNCTION', 'PROCEDURE') \
             UNION ALL SELECT 'EVENT', CAST(event_name AS CHAR) FROM information_schema.events WHERE event_schema = DATABASE()",
        )
        .fetch_all(&mut self.conn)
        .await?;
        let drops: Vec<String> =
            objects.iter().map(|(kind, name)| format!("DROP {kind} IF EXISTS {}", quote(name))).collect();
        if drops.is_empty() {
            return Ok(());
        }
        self.batch(drops.join(";\n")).await.map_err(Error::from)
    }

    async fn drop_tables(&mut self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = names.iter().map(|n| quote(n)).collect();
        self.batch(format!(
            "SET FOREIGN_KEY_CHECKS = 0; DROP TABLE IF EXISTS {}; SET FOREIGN_KEY_CHECKS = 1",
            list.join(", ")
        ))
        .await
        .map_err(Error::from)
    }

    async fn create_database(&mut self, name: &str) -> Result<()> {
        self.batch(format!("CREATE DATABASE {}", quote(name)))
            .await
            .map_err(|e| Error::failed(format!("cannot create the database {name} (may this user CREATE?): {e}")))
    }

    async fn create_database_like(&mut self, name: &str, like: &str) -> Result<()> {
        let defaults: Option<(String, String)> = sqlx::query_as(
            "SELECT CAST(DEFAULT_CHARACTER_SET_NAME AS CHAR), CAST(DEFAULT_COLLATION_NAME AS CHAR) \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
        )
        .bind(like)
        .fetch_optional(&mut self.conn)
        .await?;
        let with = defaults
            .map(|(cs, co)| format!(" CHARACTER SET {} COLLATE {}", quote(&cs), quote(&co)))
            .unwrap_or_default();
        self.batch(format!("CREATE DATABASE {}{with}", quote(name)))
            .await
            .map_err(|e| Error::failed(format!("cannot create the database {name} (may this user CREATE?): {e}")))
    }

    async fn databases(&mut self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1",
        )
        .fetch_all(&mut self.conn)
        .await?)
    }

    async fn drop_database(&mut self, name: &str) -> Result<bool> {
        let exists: Option<String> =
            sqlx::query_scalar("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")
                .bind(name)
                .fetch_optional(&mut self.conn)
                .await?;
        if exists.is_some() {
            self.batch(format!("DROP DATABASE {}", quote(name))).await.map_err(|e| super::drop_refused(name, &e))?;
        }
        Ok(exists.is_some())
    }

    async fn drop_scratch(&mut self, name: &str) -> Result<()> {
        self.batch(format!("DROP DATABASE IF EXISTS {}", quote(name))).await.map_err(Error::from)
    }
}

#[async_trait]
impl Bookkeeper for MySql {
    type Db = sqlx::MySql;
    type Words = My;

    fn conn(&mut self) -> &mut <Self::Db as sqlx::Database>::Connection {
        &mut self.conn
    }

    fn tables(&self) -> &super::Tables {
        &self.tables
    }

    fn undefined_table(e: &sqlx::Error) -> bool {
        undefined_table(e)
    }
}

/// Foreign keys and checks, `(t, def, name)`: the one place their definitions are written, as the
/// schema keys constraints by them (`inspect`) and the catalog names them (`catalog`).
pub(super) const CONSTRAINTS: &str = "SELECT k.TABLE_NAME AS t, CONCAT('FOREIGN KEY (', GROUP_CONCAT(k.COLUMN_NAME \
     ORDER BY k.ORDINAL_POSITION), ') REFERENCES ', k.REFERENCED_TABLE_NAME, ' (', GROUP_CONCAT(k.REFERENCED_COLUMN_NAME \
     ORDER BY k.ORDINAL_POSITION), ') ON DELETE ', r.DELETE_RULE, ' ON UPDATE ', r.UPDATE_RULE) AS def, \
     k.CONSTRAINT_NAME AS name FROM information_schema.KEY_COLUMN_USAGE k \
     JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA \
     AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME WHERE k.TABLE_SCHEMA = DATABASE() \
     AND k.REFERENCED_TABLE_NAME IS NOT NULL \
     GROUP BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.REFERENCED_TABLE_NAME, r.DELETE_RULE, r.UPDATE_RULE \
     UNION ALL SELECT tc.TABLE_NAME, CONCAT('CHECK (', cc.CHECK_CLAUSE, ')'), tc.CONSTRAINT_NAME \
     FROM information_schema.TABLE_CONSTRAINTS tc \
     JOIN information_schema.CHECK_CONSTRAINTS cc ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA \
     AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME{SAME_TABLE} WHERE tc.TABLE_SCHEMA = DATABASE() \
     AND tc.CONSTRAINT_TYPE = 'CHECK'";

/// One query per kind of object, each giving `(kind, name, definition)` rows; Godwit's and sqlx's
/// tables left out. Every column is cast to text (information_schema mixes binary and text).
const MY_INSPECT: [&str; 5] = [
    "SELECT 'table', CAST(t.TABLE_NAME AS CHAR), CAST(CONCAT(GROUP_CONCAT(CONCAT(c.COLUMN_NAME, ' ', c.COLUMN_TYPE, \
     IF(c.IS_NULLABLE = 'NO', ' NOT NULL', ''), IFNULL(CONCAT(' DEFAULT ', c.COLUMN_DEFAULT), ''), \
     IF(c.EXTRA <> '', CONCAT(' ', c.EXTRA), ''), IF(IFNULL(c.GENERATION_EXPRESSION, '') <> '', \
     CONCAT(' AS (', c.GENERATION_EXPRESSION, ')'), ''), IFNULL(CONCAT(' COLLATE ', c.COLLATION_NAME), '')) \
     ORDER BY c.ORDINAL_POSITION SEPARATOR '\\n'), '\\nENGINE=', IFNULL(t.ENGINE, ''), ' COLLATE=', \
     IFNULL(t.TABLE_COLLATION, '')) AS CHAR) FROM information_schema.TABLES t JOIN information_schema.COLUMNS c \
     ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME WHERE t.TABLE_SCHEMA = DATABASE() \
     AND t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_NAME NOT IN ({history_name}, {log_name}, {lock_name}) \
     GROUP BY t.TABLE_NAME, t.ENGINE, t.TABLE_COLLATION",
    "SELECT 'constraint', CAST(CONCAT(x.t, ' ', x.def) AS CHAR), CAST(x.def AS CHAR) FROM ({CONSTRAINTS}) x",
    "SELECT 'index', CAST(CONCAT(TABLE_NAME, '.', INDEX_NAME) AS CHAR), CAST(CONCAT(IF(NON_UNIQUE = 0, 'UNIQUE ', ''), \
     INDEX_TYPE, ' (', GROUP_CONCAT(CONCAT(IFNULL(COLUMN_NAME, ''), IFNULL(CONCAT('(', SUB_PART, ')'), '')) \
     ORDER BY SEQ_IN_INDEX), ')') AS CHAR) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
     AND TABLE_NAME NOT IN ({history_name}, {log_name}, {lock_name}) GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE",
    "SELECT 'function', CAST(CONCAT(LOWER(ROUTINE_TYPE), ' ', ROUTINE_NAME) AS CHAR), \
     CAST(CONCAT(ROUTINE_TYPE, ' ', IFNULL(DTD_IDENTIFIER, ''), '\\n', IFNULL(ROUTINE_DEFINITION, '')) AS CHAR) \
     FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() \
     UNION ALL SELECT 'view', CAST(TABLE_NAME AS CHAR), CAST(VIEW_DEFINITION AS CHAR) FROM information_schema.VIEWS \
     WHERE TABLE_SCHEMA = DATABASE()",
    "SELECT 'trigger', CAST(CONCAT(EVENT_OBJECT_TABLE, '.', TRIGGER_NAME) AS CHAR), CAST(CONCAT(ACTION_TIMING, ' ', \
     EVENT_MANIPULATION, ' ', ACTION_STATEMENT) AS CHAR) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
];

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The join that keeps a check with its table: MariaDB names checks per table, MySQL per schema.
fn checks_by_table(version: &str) -> &'static str {
    if version.contains("MariaDB") { " AND cc.TABLE_NAME = tc.TABLE_NAME" } else { "" }
}

fn undefined_table(e: &sqlx::Error) -> bool {
    error_code(e).as_deref() == Some("1146")
}

/// A statement that changes nothing in the database: a user variable set, a statement prepared or
/// let go (as a down that asks the database before it acts runs them first).
fn changes_nothing(sql: &str) -> bool {
    let w = crate::syntax::words::words(sql);
    let first = w.first().map(|s| s.to_ascii_lowercase());
    match first.as_deref() {
        Some("prepare" | "deallocate") => true,
        Some("set") => {
            w[1..].first().is_some_and(|v| v.starts_with('@') && !v.starts_with("@@")) && !sql.contains("@@")
        }
        _ => false,
    }
}
