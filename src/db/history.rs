//! The history tables, read and amended the same way on every database. A driver gives its
//! connection, its SQL words and how it tells a missing table; `History` follows for all three.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Executor as _};

use super::sql::{self, Syntax};
use super::{Amend, Applied, Event, EventKind, History, NewEvent, Script, Tables};
use crate::error::{Error, Result};
use crate::migration::source::MigrationFile;

/// What a driver lends the shared history code.
#[async_trait]
pub(crate) trait Bookkeeper: Send {
    type Db: sqlx::Database;
    type Words: Syntax + Default + Send;

    fn conn(&mut self) -> &mut <Self::Db as sqlx::Database>::Connection;

    /// Where the history lives on this connection.
    fn tables(&self) -> &Tables;

    /// Whether an error says a history table does not exist yet (reads then find nothing).
    fn undefined_table(e: &sqlx::Error) -> bool;

    /// A database error in words; SQLite names its busy file here.
    fn db_error(&self, e: sqlx::Error) -> Error {
        e.into()
    }

    /// Ends the transaction a failed batch left open.
    async fn rollback(&mut self)
    where
        for<'e> &'e mut <Self::Db as sqlx::Database>::Connection: sqlx::Executor<'e, Database = Self::Db>,
    {
        let _ = self.conn().execute(sqlx::raw_sql(AssertSqlSafe("ROLLBACK"))).await;
    }
}

#[async_trait]
impl<T> History for T
where
    T: Bookkeeper,
    for<'e> &'e mut <T::Db as sqlx::Database>::Connection: sqlx::Executor<'e, Database = T::Db>,
    <T::Db as sqlx::Database>::Arguments: sqlx::IntoArguments<T::Db>,
    Applied: for<'r> sqlx::FromRow<'r, <T::Db as sqlx::Database>::Row>,
    Event: for<'r> sqlx::FromRow<'r, <T::Db as sqlx::Database>::Row>,
    (i64, i64, String, String): for<'r> sqlx::FromRow<'r, <T::Db as sqlx::Database>::Row>,
    (String, String, String): for<'r> sqlx::FromRow<'r, <T::Db as sqlx::Database>::Row>,
{
    fn history_tables(&self) -> &Tables {
        Bookkeeper::tables(self)
    }

    async fn applied(&mut self) -> Result<Vec<Applied>> {
        let text = self.fill(sql::SELECT_APPLIED);
        let rows = sqlx::query_as::<T::Db, Applied>(AssertSqlSafe(text)).fetch_all(self.conn()).await;
        self.rows(rows)
    }

    async fn record_empty(&mut self, m: &MigrationFile, actor: &str) -> Result<()> {
        let w = T::Words::default();
        let ev = sql::ok_event(EventKind::Apply, m);
        let text = format!(
            "{};\n{};\n{};\nCOMMIT;",
            w.begin(),
            sql::insert_history(&w, self.tables(), m, true, "0"),
            sql::insert_log(&w, self.tables(), &ev, actor, "0")
        );
        self.in_transaction(text).await
    }

    async fn log(&mut self, event: &NewEvent, actor: &str) -> Result<()> {
        let text =
            sql::insert_log(&T::Words::default(), self.tables(), event, actor, &sql::duration_literal(event.duration));
        self.conn().execute(sqlx::raw_sql(AssertSqlSafe(text))).await.map(|_| ()).map_err(|e| self.db_error(e))
    }

    async fn appliers(&mut self) -> Result<Vec<(i64, String)>> {
        let text = self.fill(sql::SELECT_APPLIES);
        let rows =
            sqlx::query_as::<T::Db, (i64, i64, String, String)>(AssertSqlSafe(text)).fetch_all(self.conn()).await;
        // Each version's newest event, in version order.
        let mut last = std::collections::BTreeMap::<i64, (i64, String, String)>::new();
        for (id, version, event, actor) in self.rows(rows)? {
            if last.get(&version).is_none_or(|(newer, ..)| *newer < id) {
                last.insert(version, (id, event, actor));
            }
        }
        // A migration applied now whose newest event is a resolve was marked applied by its actor.
        Ok(last
            .into_iter()
            .filter(|(_, (_, event, _))| event == "apply" || event == "resolve")
            .map(|(v, (_, _, actor))| (v, actor))
            .collect())
    }

    async fn events(&mut self, version: Option<i64>, limit: i64) -> Result<Vec<Event>> {
        let which = version.map_or(sql::Events::All, sql::Events::Of);
        let text = sql::select_events(&T::Words::default(), self.tables(), which, limit);
        let rows = sqlx::query_as::<T::Db, Event>(AssertSqlSafe(text)).fetch_all(self.conn()).await;
        self.rows(rows)
    }

    async fn events_of(&mut self, kind: EventKind) -> Result<Vec<Event>> {
        let text =
            sql::select_events(&T::Words::default(), self.tables(), sql::Events::Kind(kind), i64::from(i32::MAX));
        let rows = sqlx::query_as::<T::Db, Event>(AssertSqlSafe(text)).fetch_all(self.conn()).await;
        self.rows(rows)
    }

    async fn newest_event(&mut self, kind: EventKind) -> Result<Option<Event>> {
        let text = sql::select_events(&T::Words::default(), self.tables(), sql::Events::Kind(kind), 1);
        let rows = sqlx::query_as::<T::Db, Event>(AssertSqlSafe(text)).fetch_all(self.conn()).await;
        Ok(self.rows(rows)?.into_iter().next())
    }

    async fn execute_script(&mut self, script: &Script<'_>) -> Result<()> {
        let (body, _) = script.body();
        if body.trim().is_empty() {
            return Ok(());
        }
        let text = body.to_string();
        self.conn().execute(sqlx::raw_sql(AssertSqlSafe(text))).await.map(|_| ()).map_err(|e| self.db_error(e))
    }

    async fn amend(&mut self, changes: &[(Amend, NewEvent)], actor: &str) -> Result<()> {
        let w = T::Words::default();
        let mut text = format!("{};\n", w.begin());
        for (change, event) in changes {
            let t = self.tables();
            text.push_str(&format!(
                "{};\n{};\n",
                sql::amend(&w, t, change),
                sql::insert_log(&w, t, event, actor, "NULL")
            ));
        }
        text.push_str("COMMIT;");
        self.in_transaction(text).await
    }

    async fn foreign_rows(&mut self, query: &str) -> Result<Option<Vec<(String, String, String)>>> {
        let rows = sqlx::query_as::<T::Db, (String, String, String)>(AssertSqlSafe(query.to_string()))
            .fetch_all(self.conn())
            .await;
        match rows {
            Ok(rows) => Ok(Some(rows)),
            Err(e) if T::undefined_table(&e) => Ok(None),
            Err(e) => Err(self.db_error(e)),
        }
    }
}

/// The shared steps behind `History`.
#[async_trait]
trait Steps: Bookkeeper {
    /// One of Godwit's queries with this connection's table names in it.
    fn fill(&self, sql: &str) -> String {
        self.tables().fill(sql, Self::Words::default().dialect())
    }

    /// Rows read from a history table; none while it does not exist.
    fn rows<R: Send>(&self, rows: std::result::Result<Vec<R>, sqlx::Error>) -> Result<Vec<R>> {
        match rows {
            Ok(rows) => Ok(rows),
            Err(e) if Self::undefined_table(&e) => Ok(Vec::new()),
            Err(e) => Err(self.db_error(e)),
        }
    }

    /// Runs a `BEGIN … COMMIT` batch; on failure, ends the transaction it may have left open.
    async fn in_transaction(&mut self, text: String) -> Result<()>
    where
        for<'e> &'e mut <Self::Db as sqlx::Database>::Connection: sqlx::Executor<'e, Database = Self::Db>,
    {
        if let Err(e) = self.conn().execute(sqlx::raw_sql(AssertSqlSafe(text))).await {
            self.rollback().await;
            return Err(self.db_error(e));
        }
        Ok(())
    }
}

impl<T: Bookkeeper> Steps for T {}
