//! The migration lock on a Galera cluster. `GET_LOCK` is each node's own: two runs on two nodes
//! both get it, without an error. So there the lock is also a row in `_godwit_lock` (beside the
//! history table), put in with the cluster's certification: of two nodes inserting it at once, one
//! commits and the other is refused (a duplicate key, or a deadlock when both were in flight). A
//! run that ends takes its row out; one that is killed leaves it, and the next run on the same node
//! sees that its connection is gone and takes it over; from other nodes it is named as the holder.

use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Executor as _};

use crate::db::{Dialect, Tables, error_code};
use crate::error::{Error, Result};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS {lock} (
    name VARCHAR(64) PRIMARY KEY,
    node VARCHAR(255) NOT NULL,
    connection BIGINT NOT NULL,
    holder VARCHAR(255) NOT NULL,
    taken_at DATETIME(6) NOT NULL
)";

/// Whether this server is a node of a Galera cluster (MariaDB's `wsrep_on`).
pub(super) async fn is_node(conn: &mut MySqlConnection) -> Result<bool> {
    let row: Option<(String, String)> =
        sqlx::query_as("SHOW VARIABLES LIKE 'wsrep_on'").fetch_optional(&mut *conn).await?;
    Ok(row.is_some_and(|(_, v)| v.eq_ignore_ascii_case("ON")))
}

/// Who holds the lock row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Holder {
    pub node: String,
    pub connection: i64,
    pub holder: String,
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (connection {} on cluster node {}, since {} UTC)",
            self.holder, self.connection, self.node, self.since
        )
    }
}

/// Reads after this one in the session wait until the node has applied what the cluster committed
/// before it: a run that follows another on another node reads that run's history, not older.
pub(super) async fn read_causally(conn: &mut MySqlConnection) -> Result<()> {
    conn.execute("SET SESSION wsrep_sync_wait = 1").await?;
    Ok(())
}

/// Puts in the lock row for `name`, trying until `deadline`. `Err(Some(holder))` when another run
/// holds it still at the deadline.
pub(super) async fn take(
    conn: &mut MySqlConnection,
    tables: &Tables,
    name: &str,
    deadline: Instant,
) -> Result<std::result::Result<(), Option<Holder>>> {
    let d = Dialect::MySql;
    if !table_exists(conn, tables).await? {
        let create = format!("{}{}", tables.create_schemas_sql(d), tables.fill(CREATE, d));
        sqlx::raw_sql(AssertSqlSafe(create)).execute(&mut *conn).await?;
    }
    let insert = tables.fill(
        "INSERT INTO {lock} (name, node, connection, holder, taken_at) \
         VALUES (?, @@wsrep_node_name, CONNECTION_ID(), CONCAT(CURRENT_USER(), ' from ', \
         SUBSTRING_INDEX(USER(), '@', -1)), UTC_TIMESTAMP(6))",
        d,
    );
    loop {
        let tried = sqlx::query(AssertSqlSafe(insert.clone())).bind(name).execute(&mut *conn).await;
        match tried {
            Ok(_) => return Ok(Ok(())),
            // Held (replicated already), or inserted on two nodes at once and this one lost.
            Err(e) if matches!(error_code(&e).as_deref(), Some("1062" | "1213")) => {}
            Err(e) => return Err(e.into()),
        }
        let held = holder(conn, tables, name).await?;
        if let Some(h) = &held
            && gone(conn, h).await?
        {
            // Its run was killed on this node: its connection is no more. Only that row goes.
            let q = tables.fill("DELETE FROM {lock} WHERE name = ? AND node = ? AND connection = ?", d);
            sqlx::query(AssertSqlSafe(q)).bind(name).bind(&h.node).bind(h.connection).execute(&mut *conn).await?;
            tracing::warn!("took over the migration lock left by {h}, whose connection is gone");
            continue;
        }
        if Instant::now() >= deadline {
            return Ok(Err(held));
        }
        tokio::time::sleep(Duration::from_millis(200).min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// Who holds the lock row for `name`, if anyone (this session included).
pub(super) async fn holder(conn: &mut MySqlConnection, tables: &Tables, name: &str) -> Result<Option<Holder>> {
    if !table_exists(conn, tables).await? {
        return Ok(None);
    }
    let q = tables.fill(
        "SELECT node, connection, holder, DATE_FORMAT(taken_at, '%Y-%m-%d %H:%i:%s') FROM {lock} WHERE name = ?",
        Dialect::MySql,
    );
    let row: Option<(String, i64, String, String)> =
        sqlx::query_as(AssertSqlSafe(q)).bind(name).fetch_optional(&mut *conn).await?;
    Ok(row.map(|(node, connection, holder, since)| Holder { node, connection, holder, since }))
}

/// Whether the holder ran on this node and its connection has ended.
pub(super) async fn gone(conn: &mut MySqlConnection, h: &Holder) -> Result<bool> {
    let (node, alive): (String, bool) =
        sqlx::query_as("SELECT @@wsrep_node_name, EXISTS (SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?)")
            .bind(h.connection)
            .fetch_one(&mut *conn)
            .await?;
    Ok(node == h.node && !alive)
}

/// Takes out this session's lock row. A row that is not there any more is an error: someone took
/// it out while this run held it, and another run may have gone in.
pub(super) async fn release(conn: &mut MySqlConnection, tables: &Tables, name: &str) -> Result<()> {
    let q = tables.fill(
        "DELETE FROM {lock} WHERE name = ? AND node = @@wsrep_node_name AND connection = CONNECTION_ID()",
        Dialect::MySql,
    );
    let done = sqlx::query(AssertSqlSafe(q)).bind(name).execute(&mut *conn).await?;
    if done.rows_affected() != 1 {
        return Err(Error::failed(
            "this run's migration lock row was gone when it finished: someone removed it while the run held it, so \
             another run may have run at the same time: look at its status and history."
                .to_string(),
        ));
    }
    Ok(())
}

async fn table_exists(conn: &mut MySqlConnection, tables: &Tables) -> Result<bool> {
    let lock = tables.lock();
    Ok(sqlx::query_scalar::<_, bool>(
        "SELECT COUNT(*) > 0 FROM information_schema.tables WHERE table_schema = COALESCE(?, DATABASE()) \
         AND table_name = ?",
    )
    .bind(lock.stored_schema(Dialect::MySql))
    .bind(lock.stored_name(Dialect::MySql))
    .fetch_one(&mut *conn)
    .await?)
}
