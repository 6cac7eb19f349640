//! SQLite: SQLite's online backup API, no external tool. It copies page by page while the
//! database stays usable, which gives progress and a place to stop between steps.

use std::ffi::CString;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use libsqlite3_sys as ffi;

use super::tool::{Progress, Tool};
use crate::db::Target;
use crate::error::{Error, Problem, Result};
use crate::migration::runner::Cancel;

pub struct SqliteBackup {
    pub(crate) tables: crate::db::Tables,
}

/// An open database handle, closed when dropped.
struct Handle(*mut ffi::sqlite3);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from sqlite3_open_v2 and is closed once.
        unsafe { ffi::sqlite3_close(self.0) };
    }
}

fn message(db: *mut ffi::sqlite3) -> String {
    // SAFETY: sqlite3_errmsg returns a NUL-terminated string owned by the handle.
    unsafe { std::ffi::CStr::from_ptr(ffi::sqlite3_errmsg(db)).to_string_lossy().into_owned() }
}

fn open(path: &Path, flags: i32) -> Result<Handle> {
    // The bytes as they are on Unix; Windows paths go to SQLite as UTF-8.
    #[cfg(unix)]
    let name = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let name = path
        .to_str()
        .ok_or_else(|| Error::input(format!("{} is not a UTF-8 path", path.display())))?
        .as_bytes()
        .to_vec();
    let c = CString::new(name).map_err(|_| Error::input("a path with a NUL byte"))?;
    let mut db = std::ptr::null_mut();
    // SAFETY: valid C string, out pointer, default VFS.
    let rc = unsafe { ffi::sqlite3_open_v2(c.as_ptr(), &mut db, flags, std::ptr::null()) };
    let handle = Handle(db);
    if rc != ffi::SQLITE_OK {
        return Err(Error::failed(format!("cannot open {}: {}", path.display(), message(db))));
    }
    // SAFETY: open handle. Short: `copy` waits between steps itself, watching for a cancel.
    unsafe { ffi::sqlite3_busy_timeout(db, 1_000) };
    Ok(handle)
}

/// Copies database `from` into `to` with the backup API, `STEP` pages at a time.
/// How long a copy waits for another connection to let go of a file.
const BUSY_WAIT: Duration = Duration::from_secs(15);

fn copy(from: &Path, to: &Path, create: bool, progress: &(dyn Fn(u64) + Send + Sync), cancel: &Cancel) -> Result<()> {
    const STEP: i32 = 1024;
    let src = open(from, ffi::SQLITE_OPEN_READONLY)?;
    let flags = ffi::SQLITE_OPEN_READWRITE | if create { ffi::SQLITE_OPEN_CREATE } else { 0 };
    let dst = open(to, flags)?;
    let main = CString::new("main").expect("no NUL");
    // SAFETY: both handles are open; the backup object is finished below on every path.
    let b = unsafe { ffi::sqlite3_backup_init(dst.0, main.as_ptr(), src.0, main.as_ptr()) };
    if b.is_null() {
        return Err(Error::failed(format!("cannot copy into {}: {}", to.display(), message(dst.0))));
    }
    let size = std::fs::metadata(from).map(|m| m.len()).unwrap_or(0);
    let mut busy_since: Option<std::time::Instant> = None;
    let result = loop {
        if cancel.is_cancelled() {
            break Err(Error::new(Problem::Cancelled, "cancelled"));
        }
        // SAFETY: b is a live backup object.
        let rc = unsafe { ffi::sqlite3_backup_step(b, STEP) };
        let (total, left) = unsafe { (ffi::sqlite3_backup_pagecount(b), ffi::sqlite3_backup_remaining(b)) };
        if total > 0 {
            progress(size * (total - left) as u64 / total as u64);
        }
        match rc {
            ffi::SQLITE_DONE => break Ok(()),
            ffi::SQLITE_OK => busy_since = None,
            // Another connection reading or writing the file: waited for, but not for ever.
            ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED
                if busy_since.get_or_insert_with(std::time::Instant::now).elapsed() > BUSY_WAIT =>
            {
                break Err(Error::new(
                    Problem::LockHeld { holder: None },
                    format!(
                        "copying {} to {} waited {} s for another connection to let go of it (an open transaction, \
                         in an app or a shell): close it and try again",
                        from.display(),
                        to.display(),
                        BUSY_WAIT.as_secs()
                    ),
                ));
            }
            ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                break Err(Error::failed(format!(
                    "copying {} to {} failed: {}",
                    from.display(),
                    to.display(),
                    message(dst.0)
                )));
            }
        }
    };
    // SAFETY: finishes the backup object created above.
    let rc = unsafe { ffi::sqlite3_backup_finish(b) };
    result?;
    if rc != ffi::SQLITE_OK {
        return Err(Error::failed(format!("copying into {} failed: {}", to.display(), message(dst.0))));
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::failed(format!("backup task failed: {e}")))?
}

/// The event log's rows, kept across a restore (the backup holds the log as it was then).
#[derive(sqlx::FromRow)]
struct LogRow {
    id: i64,
    event_at: String,
    event: String,
    version: Option<i64>,
    description: Option<String>,
    actor: String,
    duration_ns: Option<i64>,
    outcome: String,
    error: Option<String>,
    detail: Option<String>,
}

async fn connect(path: &Path) -> Result<sqlx::SqliteConnection> {
    use sqlx::ConnectOptions;
    crate::db::quiet(sqlx::sqlite::SqliteConnectOptions::new().filename(path))
        .connect()
        .await
        .map_err(|e| Error::failed(format!("cannot open {}: {e}", path.display())))
}

async fn read_log(path: &Path, tables: &crate::db::Tables) -> Result<Vec<LogRow>> {
    let mut c = connect(path).await?;
    let q = tables.fill("SELECT * FROM {log} ORDER BY id", crate::db::Dialect::Sqlite);
    let rows = sqlx::query_as::<_, LogRow>(sqlx::AssertSqlSafe(q)).fetch_all(&mut c).await.unwrap_or_default();
    Ok(rows)
}

async fn put_back_log(path: &Path, tables: &crate::db::Tables, rows: Vec<LogRow>) -> Result<()> {
    use sqlx::{Connection, Executor};
    let mut c = connect(path).await?;
    let newest: Option<i64> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(tables.fill("SELECT MAX(id) FROM {log}", crate::db::Dialect::Sqlite)))
            .fetch_one(&mut c)
            .await
            .unwrap_or(None);
    let insert = tables.fill(
        "INSERT INTO {log} (id, event_at, event, version, description, actor, duration_ns, outcome, error, detail) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        crate::db::Dialect::Sqlite,
    );
    let mut tx = c.begin().await?;
    for r in rows.into_iter().filter(|r| Some(r.id) > newest) {
        tx.execute(
            sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                .bind(r.id)
                .bind(r.event_at)
                .bind(r.event)
                .bind(r.version)
                .bind(r.description)
                .bind(r.actor)
                .bind(r.duration_ns)
                .bind(r.outcome)
                .bind(r.error)
                .bind(r.detail),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[async_trait]
impl Tool for SqliteBackup {
    async fn check(&self, server_version: &str) -> Result<(String, String)> {
        Ok(("sqlite backup API".into(), server_version.to_string()))
    }

    fn extension(&self) -> &'static str {
        "db"
    }

    /// SQLite's online backup writes the file in one transaction: stopped before it is done, it is
    /// rolled back.
    fn restore_is_atomic(&self) -> bool {
        true
    }

    fn scratch(&self, dir: &Path, _id: &str) -> String {
        dir.join("verify.db").display().to_string()
    }

    async fn dump(
        &self,
        target: &Target,
        _snapshot: Option<&str>,
        out: &Path,
        progress: Progress<'_>,
        cancel: &Cancel,
    ) -> Result<Option<String>> {
        let (from, to, cancel) = (target.sqlite_path().to_path_buf(), out.to_path_buf(), cancel.clone());
        // The progress callback is borrowed; report the end here instead of from the thread.
        blocking(move || copy(&from, &to, true, &|_| {}, &cancel)).await?;
        progress(std::fs::metadata(out).map(|m| m.len()).unwrap_or(0));
        Ok(None)
    }

    async fn schema_sql(&self, target: &Target) -> Result<String> {
        use sqlx::{ConnectOptions, sqlite::SqliteConnectOptions};
        let mut conn = SqliteConnectOptions::new().filename(target.sqlite_path()).read_only(true).connect().await?;
        // SQLite keeps each object's own CREATE statement: tables first, then what hangs off them.
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(self.tables.fill(
            "SELECT sql || ';' FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND tbl_name NOT IN ({history_name}, {log_name}) \
             ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, name",
            crate::db::Dialect::Sqlite,
        )))
        .fetch_all(&mut conn)
        .await?;
        Ok(rows.iter().map(|s| format!("{s}\n\n")).collect())
    }

    async fn restore(&self, target: &Target, file: &Path, fresh: bool, cancel: &Cancel) -> Result<()> {
        let live = target.sqlite_path().to_path_buf();
        let log = if fresh { vec![] } else { read_log(&live, &self.tables).await? };
        let (from, to, c) = (file.to_path_buf(), live.clone(), cancel.clone());
        blocking(move || copy(&from, &to, fresh, &|_| {}, &c)).await?;
        // The restore is done: a log that cannot be put back is said, not made its failure (which
        // would claim the database is as it was).
        if !log.is_empty()
            && let Err(e) = put_back_log(&live, &self.tables, log).await
        {
            tracing::warn!("restored, but the history recorded since the backup could not be put back: {e}");
        }
        Ok(())
    }
}
