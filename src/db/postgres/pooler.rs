//! Telling a connection pooler in transaction (or statement) mode from a server. Behind one
//! (PgBouncer's `pool_mode = transaction`), each transaction may run on another server session: a
//! session's advisory lock is taken on one and released (or not) on another, a second runner can
//! be handed the very session that holds it (advisory locks are re-entrant), and sqlx's prepared
//! statements go missing or collide. Migrations cannot run safely there, so they are refused.
//!
//! No SQL asks a pooler what it is. Where the server says it is at the address and port connected
//! to, nothing stands between. Otherwise what a pooler does gives it away: a server session that
//! answered this connection is handed, once idle, to a transaction on another client connection
//! (PgBouncer reuses the last idle one first), or this connection's statements land on another
//! session. With a server or a session-mode pool neither can happen, so nothing is refused there.
//! Everything here uses the simple query protocol: nothing prepared, nothing to go missing.

use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};

use crate::db::Target;
use crate::error::{Error, Problem, Result};

async fn backend(conn: &mut PgConnection, sql: &'static str) -> std::result::Result<i32, sqlx::Error> {
    let rows: Vec<sqlx::postgres::PgRow> = sqlx::raw_sql(sql).fetch(&mut *conn).try_collect().await?;
    match rows.last() {
        Some(row) => row.try_get(0),
        None => Err(sqlx::Error::RowNotFound),
    }
}

/// Whether the server session says it is at the address and port this connection was made to:
/// then nothing stands between (a pooler in between answers with the server's own). Over a Unix
/// socket, the port names the socket file: a pooler listens on its own.
async fn direct(target: &Target, addr: Option<String>, port: Option<i32>, socket_port: i32) -> bool {
    let Some(e) = target.endpoint() else { return false };
    match (e.socket, addr, port) {
        (Some(_), None, None) => socket_port == i32::from(e.port),
        (None, Some(addr), Some(port)) if port == i32::from(e.port) => {
            let Ok(addr) = addr.parse::<std::net::IpAddr>() else { return false };
            let host = e.hostaddr.unwrap_or(e.host);
            match host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
                Ok(ip) => ip == addr,
                Err(_) => tokio::net::lookup_host((host.as_str(), e.port))
                    .await
                    .is_ok_and(|mut found| found.any(|a| a.ip() == addr)),
            }
        }
        _ => false,
    }
}

/// How long one probe may wait. A server answers `pg_backend_pid()` at once; a pooler whose server
/// sessions are all taken makes it wait.
const PATIENCE: Duration = Duration::from_secs(5);

/// `Err(Problem::Pooled)` when statements of `conn` may reach other server sessions.
pub(super) async fn refuse_pooled(conn: &mut PgConnection, options: &PgConnectOptions, target: &Target) -> Result<()> {
    let rows: Vec<sqlx::postgres::PgRow> = sqlx::raw_sql(
        "SELECT host(inet_server_addr()), inet_server_port(), pg_backend_pid(), current_setting('port')::int",
    )
    .fetch(&mut *conn)
    .try_collect()
    .await?;
    let row = rows.first().ok_or(sqlx::Error::RowNotFound)?;
    let (addr, port, first, socket_port): (Option<String>, Option<i32>, i32, i32) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
    if direct(target, addr, port, socket_port).await {
        return Ok(());
    }
    // Something in between: a pooler, or a forwarded port. Transactions on other connections,
    // each kept open, take idle server sessions; this connection's one among them, or this
    // connection moved to another (or left waiting for one), is a pooler's doing.
    let mut pins = Vec::new();
    let mut pooled = false;
    for _ in 0..3 {
        let Ok(Ok(mut pin)) = tokio::time::timeout(PATIENCE, super::super::quiet(options.clone()).connect()).await
        else {
            // A server at its connection limit: no reason to refuse what worked before.
            tracing::warn!("could not open another connection to tell a pooler from the server");
            break;
        };
        let theirs = tokio::time::timeout(PATIENCE, backend(&mut pin, "BEGIN; SELECT pg_backend_pid()")).await;
        pins.push(pin);
        pooled = match theirs {
            Ok(Ok(theirs)) => theirs == first,
            // A statement-mode pool refuses the transaction itself.
            Ok(Err(e)) if e.as_database_error().is_some_and(|d| d.message().contains("pooling mode")) => true,
            // No server session free for it (a full session-mode pool, say): nothing shown.
            Ok(Err(_)) | Err(_) => {
                tracing::warn!("could not hold a transaction open to tell a pooler from the server");
                break;
            }
        };
        if pooled {
            break;
        }
        pooled = match tokio::time::timeout(PATIENCE, backend(conn, "SELECT pg_backend_pid()")).await {
            Ok(again) => again? != first,
            // Its own server session would answer at once: it waits for one the pins hold.
            Err(_) => true,
        };
        if pooled {
            break;
        }
    }
    for pin in pins {
        let _ = pin.close().await;
    }
    match pooled {
        true => Err(pooled_error(target)),
        false => Ok(()),
    }
}

/// The refusal: what the pooler breaks, and where to point the environment instead.
pub(crate) fn pooled_error(target: &Target) -> Error {
    Error::new(
        Problem::Pooled,
        format!(
            "{} goes through a connection pooler in transaction or statement mode (PgBouncer's pool_mode = \
             transaction): each transaction may run on another server session, so the migration lock and the \
             session's settings do not hold there; nothing was run. Point this environment at the server itself, or \
             at a pool in session mode (pool_mode = session), for migrations.",
            target.display()
        ),
    )
}
