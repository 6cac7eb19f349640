//! Backups: made with each database's own tool, kept in the user's data dir with a manifest
//! (checksum, row counts, schema fingerprint), verified by restoring into a scratch database,
//! and restored only when their checksum still matches.

mod mariadb;
mod postgres;
mod sqlite;
pub mod tool;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{self, ConnectOptions, Database, Dialect, EventKind, NewEvent, Outcome, TableCount, Target};
use crate::error::{Error, ErrorKind, Problem, Result};
use crate::migration::runner::Cancel;

/// One backup in the manifest.
#[derive(ts_rs::TS, Debug, Clone, Serialize, Deserialize)]
#[ts(export)]
pub struct BackupEntry {
    pub id: String,
    pub env: String,
    /// The database, as shown (never with a password).
    pub database: String,
    pub dialect: Dialect,
    pub server_version: String,
    /// The newest applied migration when the backup was made.
    pub migration_version: Option<i64>,
    #[serde(serialize_with = "crate::timestamp::millis")]
    pub created_at: DateTime<Utc>,
    /// The file's name in the store's folder.
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub duration_ms: u64,
    pub tool: String,
    pub tool_version: String,
    pub tables: Vec<TableCount>,
    pub schema_fingerprint: String,
}

/// What a backup or restore reports while it works.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[ts(export)]
pub enum BackupEvent {
    Phase { message: String },
    Bytes { bytes: u64, elapsed_ms: u64 },
}

/// The backups of one environment: `<data dir>/godwit/backups/<project id>/<env>/`.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

const MANIFEST: &str = "manifest.json";

impl Store {
    pub fn new(project_id: &str, env: &str) -> Result<Store> {
        // Both come from godwit.toml, which may be a stranger's: each must stay one folder name.
        crate::profile::check_id(project_id)?;
        crate::profile::check_name(env)?;
        let base = crate::folders::backups_dir()
            .ok_or_else(|| Error::input("this system has no data folder for backups; set GODWIT_DATA_DIR"))?;
        Ok(Store { dir: base.join(project_id).join(env) })
    }

    /// Creates the store's folders, readable by their owner only (backups hold the data).
    fn create(&self) -> Result<()> {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&self.dir).map_err(|e| Error::io("cannot create", &self.dir, &e))?;
        // A store made by an older Godwit was open to all.
        #[cfg(unix)]
        std::fs::set_permissions(&self.dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(|e| Error::failed(format!("cannot make {} private: {e}", self.dir.display())))?;
        Ok(())
    }

    /// Removes `.partial` files left by backups that were killed: a running backup holds a lock
    /// on its own, so only abandoned ones can be locked here.
    fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for path in entries.flatten().map(|e| e.path()) {
            if path.extension().is_some_and(|x| x == "partial")
                && let Ok(f) = std::fs::File::open(&path)
                && f.try_lock().is_ok()
            {
                tracing::info!("removing {}, left by a backup that did not finish", path.display());
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// The store of a workspace: its project and environment, or for a database that is no
    /// environment (a fleet's, an ad hoc URL), one named after the database, in its project if any.
    /// Each is keyed by what its backups are of (the server and database, or the SQLite file) as
    /// well: a fork with the same project id and environment names, or an edit that points an
    /// environment elsewhere, gets a store of its own. Its retention never deletes, and its restore
    /// and verify never read, another database's backups.
    pub fn for_workspace(project_id: Option<String>, ws: &crate::project::Workspace) -> Result<Store> {
        let named =
            || format!("{}-{}", sanitize(&ws.target.database()), crate::profile::short_hash(&ws.target.display()));
        match (project_id, &ws.env) {
            (Some(p), Some(e)) => {
                let store = Store::new(&p, &Store::folder(e, &ws.target))?;
                store.adopt_legacy(&Store::new(&p, e)?, &ws.target);
                Ok(store)
            }
            // A fleet's database that is not an environment: in its project, by its URL.
            (Some(p), None) => Store::new(&p, &named()),
            (None, _) => Store::new("adhoc", &named()),
        }
    }

    /// An environment's store folder: its name and a hash of what it is of.
    pub fn folder(env: &str, target: &Target) -> String {
        format!("{env}-{}", crate::profile::short_hash(&target.identity()))
    }

    /// Takes over a store from before stores were keyed by database (`<project>/<env>`), when
    /// every backup in it says it is of this database; otherwise it stays where it is, unread.
    fn adopt_legacy(&self, legacy: &Store, target: &Target) {
        if self.dir.exists() || !legacy.dir.join(MANIFEST).is_file() {
            return;
        }
        let Ok(entries) = legacy.list() else { return };
        if entries.iter().all(|e| e.database == target.display() && e.dialect == target.dialect()) {
            let _ = std::fs::rename(&legacy.dir, &self.dir);
        }
    }

    /// Newest first.
    pub fn list(&self) -> Result<Vec<BackupEntry>> {
        let path = self.dir.join(MANIFEST);
        if !path.exists() {
            return Ok(vec![]);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read", &path, &e))?;
        let mut all: Vec<BackupEntry> =
            serde_json::from_str(&text).map_err(|e| Error::input(format!("{} is damaged: {e}", path.display())))?;
        // Entries name files in this folder only: retention deletes them, restore reads them.
        if let Some(bad) = all.iter().find(|e| !is_plain_name(&e.file)) {
            return Err(Error::input(format!(
                "{} is damaged: backup {} names the file `{}`, which is not a file in {}. Nothing was read or removed.",
                path.display(),
                bad.id,
                bad.file,
                self.dir.display()
            )));
        }
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(all)
    }

    /// A backup by id, or the newest.
    pub fn get(&self, id: Option<&str>) -> Result<BackupEntry> {
        let all = self.list()?;
        match id {
            None => all.into_iter().next().ok_or_else(|| {
                Error::not_found(crate::Named::Backup, "there is no backup of this environment yet: make one first.")
                    .with_remedy(crate::error::Remedy::Backups)
            }),
            Some(id) => all.into_iter().find(|e| e.id == id).ok_or_else(|| {
                Error::not_found(crate::Named::Backup, format!("there is no backup `{id}` of this environment."))
                    .with_remedy(crate::error::Remedy::Backups)
            }),
        }
    }

    pub fn file(&self, e: &BackupEntry) -> PathBuf {
        self.dir.join(&e.file)
    }

    fn write(&self, entries: &[BackupEntry]) -> Result<()> {
        let tmp = self.dir.join(format!("{MANIFEST}.tmp"));
        let text = serde_json::to_string_pretty(entries).expect("serializable");
        private_file(&tmp)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|e| Error::io("cannot write", &tmp, &e))?;
        std::fs::rename(&tmp, self.dir.join(MANIFEST))
            .map_err(|e| Error::failed(format!("cannot write the manifest: {e}")))
    }

    /// Adds an entry and removes the oldest beyond `keep`; returns the ids removed.
    fn add(&self, entry: BackupEntry, keep: usize) -> Result<Vec<String>> {
        let _guard = crate::fslock::lock(&self.dir.join(".lock"))?;
        let mut all = self.list()?;
        all.insert(0, entry);
        let removed: Vec<BackupEntry> = if all.len() > keep.max(1) { all.split_off(keep.max(1)) } else { vec![] };
        self.write(&all)?;
        for r in &removed {
            let _ = std::fs::remove_file(self.file(r));
        }
        Ok(removed.into_iter().map(|r| r.id).collect())
    }
}

/// A file name with no folder in it.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Creates (or truncates) a file only its owner can read. (On Windows the data folder under the
/// person's profile is theirs alone already.)
pub(crate) fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let f = o.open(path)?;
    // An existing file keeps its mode on open.
    #[cfg(unix)]
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(f)
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn new_id(now: DateTime<Utc>) -> String {
    use sha2::Digest;
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    let h = sha2::Sha256::digest(seed.as_bytes());
    format!("{}-{}", now.format("%Y%m%d-%H%M%S"), hex::encode(&h[..2]))
}

/// Throttles byte counts to a few events a second.
fn throttled(on: &(dyn Fn(&BackupEvent) + Send + Sync), started: Instant) -> impl Fn(u64) + Send + Sync + '_ {
    let last = Mutex::new(Instant::now() - Duration::from_secs(1));
    move |bytes| {
        let mut l = last.lock().expect("not poisoned");
        if l.elapsed() >= Duration::from_millis(200) {
            *l = Instant::now();
            on(&BackupEvent::Bytes { bytes, elapsed_ms: started.elapsed().as_millis() as u64 });
        }
    }
}

/// Backs up the database behind `db` (connected to `target`) into `store`, keeping the newest `keep`.
/// A failed or cancelled backup leaves no file and no manifest entry.
pub async fn backup(
    db: &mut dyn Database,
    target: &Target,
    store: &Store,
    env: &str,
    keep: usize,
    cancel: &Cancel,
    on: &(dyn Fn(&BackupEvent) + Send + Sync),
) -> Result<BackupEntry> {
    let tool = tool::for_dialect(db.dialect(), db.history_tables());
    let server_version = db.server_version().await?;
    let (tool_name, tool_version) = tool.check(&server_version).await?;
    refuse_broken_views(db).await?;
    store.create()?;
    store.sweep();
    let applied = db.applied().await?;
    let migration_version = applied.iter().filter(|a| a.success).map(|a| a.version).max();
    let now = Utc::now();
    let id = new_id(now);
    let file = format!("{id}.{}", tool.extension());
    let partial = store.dir.join(format!("{file}.partial"));
    // Held until the backup ends, so a sweep by another run leaves this one's file alone.
    let partial_lock = private_file(&partial)
        .and_then(|f| f.try_lock().map_err(std::io::Error::other).map(|_| f))
        .map_err(|e| Error::io("cannot create", &partial, &e))?;
    on(&BackupEvent::Phase { message: format!("backing up {} with {tool_name}", target.display()) });

    let started = Instant::now();
    let progress = throttled(on, started);
    let snapshot = db.begin_snapshot().await?;
    let (dumped, measured) = tokio::join!(tool.dump(target, snapshot.as_deref(), &partial, &progress, cancel), async {
        Ok::<_, Error>((db.table_counts().await?, db.schema_lines().await?))
    });
    let _ = db.end_snapshot().await;
    let dumped = cancelled_if_stopped(dumped, cancel).await;
    let finished = async {
        let hash = dumped?;
        let (tables, lines) = measured?;
        let sha256 = match hash {
            Some(h) => h,
            None => tool::sha256_of(&partial)?,
        };
        let path = store.dir.join(&file);
        std::fs::rename(&partial, &path)
            .map_err(|e| Error::failed(format!("cannot finish {}: {e}", path.display())))?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok::<_, Error>((tables, lines, sha256, size))
    }
    .await;
    let (tables, lines, sha256, size) = match finished {
        Ok(v) => v,
        Err(e) => {
            // Nothing that looks like a finished backup stays behind.
            let _ = std::fs::remove_file(&partial);
            return Err(match e.problem {
                Problem::Cancelled => e,
                _ => e.context("the backup failed, and nothing was changed"),
            });
        }
    };
    drop(partial_lock);
    progress(size);
    let entry = BackupEntry {
        id: id.clone(),
        env: env.to_string(),
        database: target.display(),
        dialect: db.dialect(),
        server_version,
        migration_version,
        created_at: now,
        file,
        size,
        sha256,
        duration_ms: started.elapsed().as_millis() as u64,
        tool: tool_name,
        tool_version,
        tables,
        schema_fingerprint: db::fingerprint(&lines),
    };
    for old in store.add(entry.clone(), keep)? {
        on(&BackupEvent::Phase { message: format!("removed backup {old} (keeping the newest {keep})") });
    }
    log(db, EventKind::Backup, &entry, started.elapsed(), format!("{} bytes, {}", entry.size, entry.tool)).await;
    Ok(entry)
}

/// MariaDB's dump tool stops at a view that no longer reads: said before it starts, with the view,
/// why, and the way out (by hand: a protected run backs up before it runs a migration that would fix it).
async fn refuse_broken_views(db: &mut dyn Database) -> Result<()> {
    let broken: Vec<db::BrokenView> = db.broken_views().await?.into_iter().filter(|v| v.blocks_backup).collect();
    let Some(first) = broken.first() else {
        return Ok(());
    };
    let names: Vec<String> = broken.iter().map(|v| v.name.clone()).collect();
    let drops: Vec<String> = names.iter().map(|n| format!("DROP VIEW `{}`;", n.replace('`', "``"))).collect();
    let (views, reads, it) = match names.len() {
        1 => (format!("view {}", names[0]), "reads", "it"),
        _ => (format!("views {}", names.join(", ")), "read", "them"),
    };
    Err(Error::new(
        Problem::BrokenViews { views: names.clone() },
        format!(
            "cannot back up: {views} no longer {reads} ({}), and the dump tool stops at such a view. No backup was \
             made and nothing was changed. Re-create {it} without what is gone, or drop {it} ({}), by hand in a \
             MariaDB client: a protected run backs up before any migration that would fix it. {}",
            first.why,
            drops.join(" "),
            db::VIEW_FIX_ELSEWHERE,
        ),
    ))
}

/// Records a backup or restore in `_godwit_log` when the database has one (a database never
/// migrated has none, and a backup does not create it).
async fn log(db: &mut dyn Database, kind: EventKind, e: &BackupEntry, took: Duration, detail: String) {
    log_event(db, event(kind, e, took, detail, None, false), false).await;
}

/// How a backup's or restore's event names its backup: `backup ID`.
const DESCRIBED: &str = "backup ";

/// The backup whose restore stopped part way, when the newest restore did: until a restore
/// finishes, the database may hold some tables as the backup had them and some as they were, and
/// its history table may be the backup's (a MariaDB dump loads it first), so what it says applied
/// is not to be trusted. Runs are refused; `check` and `status` say so.
pub async fn left_partly(db: &mut dyn Database) -> Result<Option<String>> {
    let newest = db.newest_event(EventKind::Restore).await?;
    Ok(newest.filter(|e| e.outcome == Outcome::Partial).map(|e| {
        let d = e.description.unwrap_or_default();
        d.strip_prefix(DESCRIBED).map(str::to_string).unwrap_or(d)
    }))
}

/// Refuses what must not run on a database a restore left part way (runs, history changes,
/// backups), with the restore that finishes it.
pub async fn ensure_restored(db: &mut dyn Database) -> Result<()> {
    match left_partly(db).await? {
        Some(backup) => Err(partly_restored(&backup)),
        None => Ok(()),
    }
}

/// Why a run is refused after a restore of `backup` stopped part way.
fn partly_restored(backup: &str) -> Error {
    Error::new(
        Problem::PartlyRestored { backup: backup.to_string() },
        format!(
            "restoring backup {backup} stopped part way, so the database may be partly restored and its history \
             may be the backup's; nothing was run. Restore the backup again to finish (or restore another one)."
        ),
    )
    .with_remedy(crate::error::Remedy::Restore { backup: backup.to_string() })
}

/// A backup's or restore's event: failed with `error`, if it did (`partly`: and left the
/// database part way).
fn event(
    kind: EventKind,
    e: &BackupEntry,
    took: Duration,
    detail: String,
    error: Option<&Error>,
    partly: bool,
) -> NewEvent {
    NewEvent {
        kind,
        version: e.migration_version,
        description: format!("{DESCRIBED}{}", e.id),
        duration: Some(took),
        outcome: match (error, partly) {
            (None, _) => Outcome::Ok,
            (Some(_), false) => Outcome::Failed,
            (Some(_), true) => Outcome::Partial,
        },
        error: error.map(|e| e.message.clone()),
        detail: Some(detail),
    }
}

/// Records `event` where the database has a history table, or anyway (`must`: a restore left part
/// way, which the next run must find even if it took the history table with it, and the restore
/// after it, which clears it). Whether it was recorded.
async fn log_event(db: &mut dyn Database, event: NewEvent, must: bool) -> bool {
    if must || matches!(db.history_exists().await, Ok(true)) {
        let _ = db.ensure_tables().await;
        match db.log(&event, &db::actor()).await {
            Ok(()) => return true,
            Err(err) => tracing::warn!("could not record the {} in _godwit_log: {err}", event.kind.as_str()),
        }
    }
    false
}

/// Checks a backup's file against its checksum.
fn check_file(store: &Store, e: &BackupEntry) -> Result<PathBuf> {
    let path = store.file(e);
    if !path.exists() {
        return Err(Error::input(format!("the file of backup {} is missing ({}).", e.id, path.display())));
    }
    let sha = tool::sha256_of(&path)?;
    if sha != e.sha256 {
        return Err(Error::new(
            Problem::Failed,
            format!(
                "backup {} is damaged: its file's checksum is {sha}, the manifest says {}. It was refused and \
                 nothing was changed; use another backup.",
                e.id, e.sha256
            ),
        )
        .with_remedy(crate::error::Remedy::Backups));
    }
    Ok(path)
}

/// What a verify or a restore found when it compared the data with the manifest.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Comparison {
    pub id: String,
    pub tables: usize,
    pub rows: i64,
    /// Empty when everything matched.
    pub differences: Vec<String>,
}

impl Comparison {
    pub fn matches(&self) -> bool {
        self.differences.is_empty()
    }
}

async fn compare(db: &mut dyn Database, e: &BackupEntry) -> Result<Comparison> {
    let counts = db.table_counts().await?;
    let fingerprint = db::fingerprint(&db.schema_lines().await?);
    let mut differences = Vec::new();
    for want in &e.tables {
        match counts.iter().find(|c| c.table == want.table) {
            None => differences.push(format!("table {} is missing", want.table)),
            Some(c) if c.rows != want.rows => {
                differences.push(format!("table {} has {} rows, {} at backup time", want.table, c.rows, want.rows))
            }
            Some(_) => {}
        }
    }
    for c in &counts {
        if !e.tables.iter().any(|t| t.table == c.table) {
            differences.push(format!("table {} was not in the backup", c.table));
        }
    }
    if fingerprint != e.schema_fingerprint && differences.is_empty() {
        differences.push("the schema differs from the one at backup time".into());
    }
    Ok(Comparison {
        id: e.id.clone(),
        tables: e.tables.len(),
        rows: e.tables.iter().map(|t| t.rows).sum(),
        differences,
    })
}

/// Restores a backup into a scratch database on the same server (a temporary file for SQLite),
/// compares its tables, rows and schema with the manifest, and drops it.
pub async fn verify(
    db: &mut dyn Database,
    target: &Target,
    store: &Store,
    id: Option<&str>,
    opts: &ConnectOptions,
    cancel: &Cancel,
    on: &(dyn Fn(&BackupEvent) + Send + Sync),
) -> Result<Comparison> {
    let e = store.get(id)?;
    on(&BackupEvent::Phase { message: format!("checking the file of backup {}", e.id) });
    let file = check_file(store, &e)?;
    let tool = tool::for_dialect(db.dialect(), db.history_tables());
    tool.check(&db.server_version().await?).await?;
    let tmp = tempfile::tempdir().map_err(|e| Error::failed(format!("cannot make a scratch folder: {e}")))?;
    let scratch_name = tool.scratch(tmp.path(), &new_id(Utc::now()));
    let scratch = target.with_database(&scratch_name);
    on(&BackupEvent::Phase { message: format!("restoring backup {} into scratch database {scratch_name}", e.id) });
    db.create_database(&scratch_name).await?;
    let result = async {
        tool.restore(&scratch, &file, true, cancel).await?;
        let mut s = db::connect(&scratch, opts).await?;
        let r = compare(s.as_mut(), &e).await;
        s.close().await;
        r
    }
    .await;
    let dropped = db.drop_scratch(&scratch_name).await;
    let c = result?;
    dropped?;
    Ok(c)
}

/// What a restore did.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Restored {
    pub entry: BackupEntry,
    /// Tables made after the backup, dropped so the database is as it was.
    pub dropped: Vec<String>,
    pub comparison: Comparison,
    /// Migrations in the folder applied before the restore and not after it: the next `up` runs
    /// them again (one that dropped data would drop it again).
    pub pending: Vec<i64>,
    /// The backup of what the database held before, taken first (a protected environment).
    pub safety: Option<String>,
}

/// Restores a backup over the database, after checking the file's checksum. Tables created after
/// the backup are dropped; the event log is kept. Runs under the migration lock.
pub async fn restore(
    db: &mut dyn Database,
    target: &Target,
    store: &Store,
    id: Option<&str>,
    lock_timeout: Duration,
    cancel: &Cancel,
    on: &(dyn Fn(&BackupEvent) + Send + Sync),
) -> Result<Restored> {
    let e = store.get(id)?;
    on(&BackupEvent::Phase { message: format!("checking the file of backup {}", e.id) });
    let file = check_file(store, &e)?;
    let tool = tool::for_dialect(db.dialect(), db.history_tables());
    tool.check(&db.server_version().await?).await?;
    let started = Instant::now();
    db.lock(lock_timeout).await?;
    // A restore after one left part way is recorded however it ends: it is what clears that (or
    // says it is not cleared), also where the backup had no history table to keep the log beside.
    let after_partial = matches!(left_partly(db).await, Ok(Some(_)));
    // Set when the tool failed in a way that may have left some of the backup loaded.
    let mut partly = false;
    let result = async {
        // Listed before the restore: PostgreSQL's drops them in its own transaction.
        let extra: Vec<String> =
            db.tables().await?.into_iter().filter(|t| !e.tables.iter().any(|k| &k.table == t)).collect();
        on(&BackupEvent::Phase { message: format!("restoring backup {} into {}", e.id, target.display()) });
        let restored = clear_then_restore(db, tool.as_ref(), target, &file, cancel).await;
        cancelled_if_stopped(restored, cancel).await.map_err(|err| {
            partly = !tool.restore_is_atomic() && err.problem != Problem::Input;
            let state = match tool.restore_is_atomic() {
                true => "The restore's transaction was rolled back: the database is as it was",
                false => "The database may be partly restored: restore again to finish (runs are refused until then)",
            };
            match err.problem {
                Problem::Cancelled => Error::new(Problem::Cancelled, format!("{}. {state}.", err.message)),
                // Refused before anything ran (a tool too old): its message says so.
                Problem::Input => Error::input(format!("restoring backup {} failed: {}", e.id, err.message)),
                problem => Error::new(problem, format!("restoring backup {} failed: {}\n{state}.", e.id, err.message)),
            }
        })?;
        let left: Vec<String> = db.tables().await?.into_iter().filter(|t| extra.contains(t)).collect();
        if !left.is_empty() {
            on(&BackupEvent::Phase { message: format!("dropping tables made after the backup: {}", left.join(", ")) });
            db.drop_tables(&left).await?;
        }
        let comparison = compare(db, &e).await?;
        Ok::<_, Error>((extra, comparison))
    }
    .await;
    let (dropped, comparison) = match result {
        Ok(r) => {
            let _ = db.unlock().await;
            r
        }
        Err(mut err) => {
            // One refused before it ran, or that could not get at the database, changed nothing
            // worth a line in history. One left part way is recorded before the lock goes, so no
            // run starts on it in between.
            if !matches!(err.kind(), crate::error::ErrorKind::Input | crate::error::ErrorKind::Lock) {
                let detail = format!("restoring {}", e.file);
                let failed = event(EventKind::Restore, &e, started.elapsed(), detail, Some(&err), partly);
                let logged = log_event(db, failed, partly || after_partial).await;
                if partly {
                    // Restoring it again finishes it (runs are refused until then).
                    err = err.with_remedy(crate::error::Remedy::Restore { backup: e.id.clone() });
                }
                if partly && !logged {
                    err.message.push_str(
                        "\nThis could not be recorded in the database's history, so runs will not be refused: \
                         restore again before running anything.",
                    );
                }
            }
            let _ = db.unlock().await;
            return Err(err);
        }
    };
    let detail = format!("restored {}", e.file);
    match comparison.matches() {
        true => {
            log_event(db, event(EventKind::Restore, &e, started.elapsed(), detail, None, false), after_partial).await;
        }
        // Restored, but not to what the backup recorded: history says so, as the command does.
        false => {
            let differs = Error::failed(format!(
                "the restored database differs from what the backup recorded: {}",
                comparison.differences.join("; ")
            ));
            let differed = event(EventKind::Restore, &e, started.elapsed(), detail, Some(&differs), false);
            log_event(db, differed, after_partial).await;
        }
    }
    Ok(Restored { entry: e, dropped, comparison, pending: Vec::new(), safety: None })
}

/// What the tool leaves alone dropped first (MariaDB's views and routines made since), then the
/// backup restored by its tool. A failure of either is the restore's: it may have changed something.
async fn clear_then_restore(
    db: &mut dyn Database,
    tool: &dyn tool::Tool,
    target: &Target,
    file: &std::path::Path,
    cancel: &Cancel,
) -> Result<()> {
    db.clear_for_restore().await.map_err(|e| e.context("dropping the views and routines made since the backup"))?;
    tool.restore(target, file, false, cancel).await
}

/// A tool's failure as a cancel when a stop is asked for within a moment: a Ctrl-C at a terminal
/// reaches the tools too, and one may die of it just before Godwit hears of it.
async fn cancelled_if_stopped<T>(r: Result<T>, cancel: &Cancel) -> Result<T> {
    match r {
        Err(e) if !matches!(e.problem, Problem::Input | Problem::Cancelled) => {
            match tokio::time::timeout(Duration::from_millis(300), cancel.cancelled()).await {
                Ok(()) => {
                    tracing::debug!("stopped by the cancel: {}", e.message);
                    Err(Error::new(Problem::Cancelled, "cancelled"))
                }
                Err(_) => Err(e),
            }
        }
        r => r,
    }
}

/// The backup a run asks for (`wanted`) or its protected environment requires, taken under the
/// run's lock once the plan is known and only if the run has work, and verified when asked. A
/// backup that fails or does not verify stops the run before anything is migrated. A failed run
/// names it (`hint`).
pub struct BackupFirst<'a> {
    pub ws: &'a crate::project::Workspace,
    pub store: Store,
    pub keep: usize,
    pub wanted: bool,
    pub verify: bool,
    pub cancel: &'a Cancel,
    pub on: &'a (dyn Fn(&BackupEvent) + Send + Sync),
    pub taken: Option<BackupEntry>,
}

#[async_trait::async_trait]
impl crate::migration::runner::BeforeRun for BackupFirst<'_> {
    async fn before(&mut self, db: &mut dyn Database, planned: usize) -> Result<()> {
        let (ws, store, cancel, on) = (self.ws, &self.store, self.cancel, self.on);
        if !(self.wanted || ws.protected) || planned == 0 {
            return Ok(());
        }
        let entry =
            backup(db, &ws.target, store, &ws.confirm_name(), self.keep, cancel, on).await.map_err(|mut e| {
                e.message = format!("{}\nNothing was migrated.", e.message);
                e
            })?;
        on(&BackupEvent::Phase { message: format!("backed up to {} ({} bytes)", entry.id, entry.size) });
        if self.verify {
            let opts = ConnectOptions { create_sqlite: false, ..Default::default() };
            let c = verify(db, &ws.target, store, Some(&entry.id), &opts, cancel, on).await?;
            if !c.matches() {
                return Err(Error::failed(format!(
                    "backup {} did not verify: {}. Nothing was migrated.",
                    entry.id,
                    c.differences.join("; ")
                )));
            }
            on(&BackupEvent::Phase {
                message: format!(
                    "verified backup {}: {} tables, {} rows, schema as recorded",
                    entry.id, c.tables, c.rows
                ),
            });
        }
        // Only now does a failure name it: nothing was migrated before this point.
        self.taken = Some(entry);
        Ok(())
    }
}

impl BackupFirst<'_> {
    /// Points a failed run at the backup taken just before it.
    pub fn hint(&self, e: Error) -> Error {
        restore_hint(e, self.taken.as_ref().map(|b| b.id.as_str()))
    }
}

/// Points a failed run at the backup taken just before it.
fn restore_hint(mut e: Error, backup_id: Option<&str>) -> Error {
    if let Some(id) = backup_id
        && e.kind() == ErrorKind::Failed
    {
        // Where the failed migration changed nothing, a restore is the heavy way back: it also undoes
        // what the run applied before it.
        let kept = e.remedies.iter().find_map(|r| match r {
            crate::error::Remedy::FixAndApply { kept, .. } => Some((*kept, "undo", "applied")),
            crate::error::Remedy::FixAndRollBack { kept, .. } => Some((*kept, "reapply", "rolled back")),
            _ => None,
        });
        let restore = match kept {
            Some((0, ..)) | None => "restoring it brings the database back".to_string(),
            Some((n, undo, did)) => {
                format!("restoring it would also {undo} the {n} migration(s) this run {did} before the failure")
            }
        };
        e.message = format!("{}\nA backup from just before this run is {id}: {restore}.", e.message);
        e = e.with_remedy(crate::error::Remedy::Restore { backup: id.to_string() });
    }
    e
}
