//! Dump tools as child processes, with an allow-listed environment: the password reaches them
//! through their environment or a pipe, never their argument list; their output streams into the backup file while it is hashed
//! and counted; a cancel kills them.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::db::{Dialect, Target};
use crate::error::{Error, Problem, Result};
use crate::migration::runner::Cancel;

/// Bytes written so far, for progress.
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);

#[async_trait]
pub trait Tool: Send + Sync {
    /// The tool's name and version; refuses a client older than the server.
    async fn check(&self, server_version: &str) -> Result<(String, String)>;

    /// The backup file's extension.
    fn extension(&self) -> &'static str;

    /// Writes a backup of `target` to `out`; returns the file's SHA-256 when it was computed on the way.
    async fn dump(
        &self,
        target: &Target,
        snapshot: Option<&str>,
        out: &Path,
        progress: Progress<'_>,
        cancel: &Cancel,
    ) -> Result<Option<String>>;

    /// Loads a backup file into `target` (replacing what the backup holds).
    async fn restore(&self, target: &Target, file: &Path, fresh: bool, cancel: &Cancel) -> Result<()>;

    /// The schema as SQL, without data or Godwit's and sqlx's tables, as the database's own dump
    /// tool writes it (`godwit schema --format sql`).
    async fn schema_sql(&self, target: &Target) -> Result<String>;

    /// `schema_sql` with the privileges granted on the schema's objects, where the dump tool
    /// writes them (PostgreSQL's `GRANT`/`REVOKE`; the others' tools keep no privileges in a
    /// database's dump).
    async fn schema_sql_with_privileges(&self, target: &Target) -> Result<String> {
        self.schema_sql(target).await
    }

    /// Whether `schema_sql_with_privileges` holds the privileges.
    fn dumps_privileges(&self) -> bool {
        false
    }

    /// Where a backup is verified: a database on the same server named after `id`, or a file in
    /// the scratch folder `dir`.
    fn scratch(&self, dir: &Path, id: &str) -> String {
        let _ = dir;
        format!("godwit_verify_{}", id.replace('-', "_"))
    }

    /// Whether a restore stopped part way leaves the database as it was (one transaction).
    fn restore_is_atomic(&self) -> bool {
        false
    }
}

/// The tool for `d`'s databases, whose history is in `tables` (left out of schema dumps, and the
/// log out of backups).
pub fn for_dialect(d: Dialect, tables: &crate::db::Tables) -> Box<dyn Tool> {
    let tables = tables.clone();
    match d {
        Dialect::Postgres => Box::new(super::postgres::PgDump { tables }),
        Dialect::MySql => Box::new(super::mariadb::MariaDbDump { tables }),
        Dialect::Sqlite => Box::new(super::sqlite::SqliteBackup { tables }),
    }
}

pub(crate) use crate::process::{command, command_ended_by, find};

/// Runs a dump tool that writes SQL, and gives its output as text.
pub(crate) async fn run_to_text(cmd: Command) -> Result<String> {
    let dir = tempfile::tempdir().map_err(|e| Error::failed(format!("cannot make a temporary folder: {e}")))?;
    let out = dir.path().join("schema.sql");
    run(cmd, Some(&out), None, false, &|_| {}, &Cancel::default()).await?;
    std::fs::read_to_string(&out).map_err(|e| Error::failed(format!("cannot read the schema the dump tool wrote: {e}")))
}

/// A dump tool's schema as a migration's SQL, which the driver runs: without pg_dump's psql-only
/// `\restrict` and `\unrestrict` lines (psql's guard, meaningless to a driver, and random in each
/// dump). A schema that sqlx.toml's `create-schemas` makes before any migration runs is made only
/// if it is not there yet: the migration must not fail on it.
pub fn as_migration_sql(dump: &str, tables: &crate::db::Tables) -> String {
    let made_first = |line: &str| {
        let name = line.strip_prefix("CREATE SCHEMA ")?.strip_suffix(';')?;
        tables
            .create_schemas
            .iter()
            .any(|s| if s.starts_with('"') { s == name } else { s.eq_ignore_ascii_case(name) })
            .then(|| format!("CREATE SCHEMA IF NOT EXISTS {name};"))
    };
    dump.lines().filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict")).fold(
        String::new(),
        |mut s, l| {
            s.push_str(&made_first(l).unwrap_or_else(|| l.to_string()));
            s.push('\n');
            s
        },
    )
}

/// `tool --version`, first line.
pub(crate) async fn version_of(tool: &Path) -> Result<String> {
    let o = command(tool)
        .arg("--version")
        .output()
        .await
        .map_err(|e| Error::input(format!("cannot run {}: {e}", tool.display())))?;
    let v = String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().trim().to_string();
    #[cfg(unix)]
    if std::os::unix::process::ExitStatusExt::signal(&o.status) == Some(libc::SIGINT) {
        // A Ctrl-C at the terminal reached it: no version is not an old version.
        return Err(Error::new(Problem::Cancelled, "cancelled"));
    }
    if !o.status.success() || v.is_empty() {
        return Err(Error::failed(format!("`{} --version` did not say its version ({})", tool.display(), o.status)));
    }
    Ok(v)
}

/// The first number in a version text: `pg_dump (PostgreSQL) 15.20` -> 15.
pub(crate) fn major(version: &str) -> Option<u32> {
    version.split(|c: char| !c.is_ascii_digit()).find(|s| !s.is_empty())?.parse().ok()
}

pub(crate) fn tool_name(cmd: &Command) -> String {
    Path::new(cmd.as_std().get_program()).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Runs a dump tool, streaming its stdout into `out` (hashing and counting), or feeding `input`
/// to its stdin. Kills it on cancel. Its stderr becomes the error message when it fails.
pub(crate) async fn run(
    mut cmd: Command,
    out: Option<&Path>,
    input: Option<&Path>,
    compress: bool,
    progress: Progress<'_>,
    cancel: &Cancel,
) -> Result<Option<String>> {
    let name = tool_name(&cmd);
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(if out.is_some() { Stdio::piped() } else { Stdio::null() })
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| Error::input(format!("cannot start {name}: {e}")))?;
    let err_task = read_stderr(child.stderr.take().expect("piped"));

    let (stdout, stdin) = (child.stdout.take(), child.stdin.take());
    let io = async {
        if let (Some(out), Some(mut stdout)) = (out, stdout) {
            let file = super::private_file(out).map_err(|e| Error::io("cannot create", out, &e))?;
            // Compression runs on its own thread, so the dump keeps streaming while a chunk is packed.
            let written = Arc::new(AtomicU64::new(0));
            let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(32);
            // Raised when the dump ends badly, or this future is dropped by a cancel (it is declared
            // after `tx`, so it drops first): the writer then stops without finishing a file that is
            // about to be deleted.
            let abort = Abort(Arc::new(AtomicBool::new(false)));
            let writer = tokio::task::spawn_blocking({
                let (out, written, aborted) = (out.to_path_buf(), written.clone(), abort.0.clone());
                move || pack(rx, file, compress, &written, &aborted).map_err(|e| disk_error(&out, e))
            });
            let mut buf = vec![0u8; 1 << 20];
            let read = loop {
                let n = match stdout.read(&mut buf).await {
                    Ok(n) => n,
                    Err(e) => break Err(Error::failed(format!("reading from {name}: {e}"))),
                };
                // A closed channel means the writer failed: its error is the one to report.
                if n == 0 || tx.send(buf[..n].to_vec()).await.is_err() {
                    break Ok(());
                }
                progress(written.load(Ordering::Relaxed));
            };
            if read.is_err() {
                abort.0.store(true, Ordering::Relaxed);
            }
            drop(tx);
            let packed = writer.await.map_err(|e| Error::failed(format!("the backup writer stopped: {e}")))?;
            read?;
            let hash = packed?;
            progress(written.load(Ordering::Relaxed));
            return Ok(Some(hash));
        }
        if let (Some(input), Some(stdin)) = (input, stdin) {
            let cannot_read = |e: std::io::Error| Error::io("cannot read", input, &e);
            let file = std::fs::File::open(input).map_err(cannot_read)?;
            // Backups made before compression are plain files.
            let reader: Box<dyn std::io::Read + Send> = if is_compressed(input) {
                Box::new(zstd::stream::read::Decoder::new(file).map_err(cannot_read)?)
            } else {
                Box::new(file)
            };
            #[cfg(unix)]
            let stdin = stdin.into_owned_fd();
            #[cfg(windows)]
            let stdin = stdin.into_owned_handle();
            let stdin = std::fs::File::from(stdin.map_err(|e| Error::failed(format!("cannot feed {name}: {e}")))?);
            // Its own thread: reading and unpacking overlap with the tool's work.
            let fed = tokio::task::spawn_blocking(move || feed(reader, stdin))
                .await
                .map_err(|e| Error::failed(format!("the restore reader stopped: {e}")))?
                .map_err(cannot_read)?;
            progress(fed);
        }
        Ok(None)
    };
    let watch_cancel = async {
        while !cancel.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    // Cancel is watched until the tool exits, not only while data flows: pg_restore reads its file
    // itself, and a restore's long part comes after the last byte was fed.
    let finished = async {
        let hash: Result<Option<String>> = io.await;
        if hash.is_err() {
            let _ = child.kill().await;
        }
        let status = child.wait().await.map_err(|e| Error::failed(format!("{name}: {e}")));
        (hash, status)
    };
    let (hash, status) = tokio::select! {
        r = finished => r,
        // Dropping the child at return kills it (`kill_on_drop`).
        _ = watch_cancel => return Err(Error::new(Problem::Cancelled, format!("cancelled; {name} was stopped"))),
    };
    let hash = hash?;
    let status = status?;
    let stderr = err_task.await.unwrap_or_default();
    if !status.success() {
        return Err(failed(&name, &status, &stderr));
    }
    Ok(hash)
}

/// A tool that exited badly, with what it said (if anything).
pub(crate) fn failed(name: &str, status: &std::process::ExitStatus, stderr: &str) -> Error {
    match stderr.trim() {
        "" => Error::failed(format!("{name} failed ({status}) and said nothing")),
        said => Error::failed(format!("{name} failed ({status}): {said}")),
    }
}

/// A tool's stderr, for its error message: its start and its end, where the error is (a client
/// may first echo a whole failed statement), reading it all (a closed pipe would kill a chatty tool).
pub(crate) fn read_stderr(mut stderr: tokio::process::ChildStderr) -> tokio::task::JoinHandle<String> {
    const HEAD: usize = 2 * 1024;
    const TAIL: usize = 6 * 1024;
    tokio::spawn(async move {
        let (mut head, mut tail, mut skipped) = (Vec::new(), std::collections::VecDeque::new(), 0u64);
        let mut chunk = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut chunk).await
            && n > 0
        {
            let mut rest = &chunk[..n];
            let room = HEAD - head.len();
            head.extend_from_slice(&rest[..room.min(rest.len())]);
            rest = &rest[room.min(rest.len())..];
            tail.extend(rest);
            let over = tail.len().saturating_sub(TAIL);
            tail.drain(..over);
            skipped += over as u64;
        }
        let tail: Vec<u8> = tail.into();
        match skipped {
            0 => String::from_utf8_lossy(&[head, tail].concat()).into_owned(),
            n => format!(
                "{}\n… ({n} bytes left out) …\n{}",
                String::from_utf8_lossy(&head),
                String::from_utf8_lossy(&tail)
            ),
        }
    })
}

/// Writes the dump's chunks into `file` (zstd-compressed if asked), hashing and counting what is written.
fn pack(
    mut chunks: tokio::sync::mpsc::Receiver<Vec<u8>>,
    file: std::fs::File,
    compress: bool,
    written: &AtomicU64,
    aborted: &AtomicBool,
) -> std::io::Result<String> {
    struct Hashing<'a> {
        file: std::fs::File,
        hasher: Sha256,
        written: &'a AtomicU64,
    }
    impl std::io::Write for Hashing<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.file.write(buf)?;
            self.hasher.update(&buf[..n]);
            self.written.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.file.flush()
        }
    }
    let hashing = Hashing { file, hasher: Sha256::new(), written };
    let done = if compress {
        let mut zstd = zstd::stream::write::Encoder::new(hashing, ZSTD_LEVEL)?;
        drain(&mut chunks, &mut zstd, aborted)?;
        zstd.finish()?
    } else {
        let mut plain = hashing;
        drain(&mut chunks, &mut plain, aborted)?;
        plain
    };
    done.file.sync_all()?;
    Ok(hex::encode(done.hasher.finalize()))
}

/// Writes the chunks until the channel closes; an error if the dump was abandoned meanwhile.
fn drain(
    chunks: &mut tokio::sync::mpsc::Receiver<Vec<u8>>,
    to: &mut impl std::io::Write,
    aborted: &AtomicBool,
) -> std::io::Result<()> {
    while let Some(chunk) = chunks.blocking_recv() {
        if aborted.load(Ordering::Relaxed) {
            break;
        }
        to.write_all(&chunk)?;
    }
    if aborted.load(Ordering::Relaxed) {
        return Err(std::io::Error::other("the dump was abandoned"));
    }
    Ok(())
}

struct Abort(Arc<AtomicBool>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Copies a backup into a tool's stdin; stops early when the tool stops reading (its exit status
/// and stderr then say why).
fn feed(mut from: Box<dyn std::io::Read + Send>, mut to: std::fs::File) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 || std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// zstd's level 1: fast enough to keep up with a dump tool, and it packs SQL text tightly.
const ZSTD_LEVEL: i32 = 1;

/// Plain-SQL dumps (MariaDB/MySQL) are stored as `*.zst`; older backups are plain files.
pub(crate) fn is_compressed(file: &Path) -> bool {
    file.extension().is_some_and(|e| e == "zst")
}

fn disk_error(path: &Path, e: std::io::Error) -> Error {
    // ENOSPC, or EDQUOT: a full quota is a full disk to the person reading this.
    let why = if matches!(e.raw_os_error(), Some(28 | 122)) { "the disk is full".to_string() } else { e.to_string() };
    Error::failed(format!("cannot write the backup {}: {why}", path.display()))
}

/// Hashes a file (for tools that write it themselves, and to check a backup before restoring it).
pub fn sha256_of(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, &e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io("cannot read", path, &e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_made_before_the_migrations_is_made_only_if_missing() {
        let tables = crate::db::Tables::new(crate::db::TableName::parse("meta.h").unwrap(), vec!["Meta".into()]);
        let dump = "\\restrict abc\nCREATE SCHEMA meta;\nCREATE SCHEMA app;\nCREATE TABLE meta.t (id int);\n\\unrestrict abc\n";
        assert_eq!(
            as_migration_sql(dump, &tables),
            "CREATE SCHEMA IF NOT EXISTS meta;\nCREATE SCHEMA app;\nCREATE TABLE meta.t (id int);\n"
        );
        assert!(as_migration_sql(dump, &Default::default()).contains("CREATE SCHEMA meta;\n"));
    }
}
