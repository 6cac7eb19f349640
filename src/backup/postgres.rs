//! PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists` (its script run by
//! psql in one transaction), with a client at least as new as the server. The event log is left out
//! of the dump, so a restore keeps it.

use std::path::Path;
use std::process::Stdio;

use async_trait::async_trait;
use tokio::process::Command;

use super::tool::{self, Progress, Tool};
use crate::db::{Dialect, Target};
use crate::error::{Error, Problem, Result};
use crate::migration::runner::Cancel;

pub struct PgDump {
    pub(crate) tables: crate::db::Tables,
}

const INSTALL: &str = "Debian: apt install postgresql-client";

/// The target as one libpq connection string for `--dbname`, each value quoted: a database named
/// `x port=1` stays a name, and a socket folder or `hostaddr` is used as sqlx uses it.
fn conninfo(target: &Target) -> String {
    let e = target.endpoint().expect("server targets have an endpoint");
    let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut parts = vec![
        format!("host={}", quote(e.socket.as_deref().unwrap_or(&e.host))),
        format!("port={}", e.port),
        format!("dbname={}", quote(&e.database)),
    ];
    if !e.user.is_empty() {
        parts.push(format!("user={}", quote(&e.user)));
    }
    if let Some(a) = &e.hostaddr {
        parts.push(format!("hostaddr={}", quote(a)));
    }
    parts.join(" ")
}

fn base(program: &Path, target: &Target) -> Command {
    with_target(tool::command(program), target)
}

/// A libpq tool's command with what reaches `target`: its password, TLS settings and name.
fn with_target(mut c: Command, target: &Target) -> Command {
    let url = target.url();
    c.arg("--no-password");
    // The password travels in the child's environment, not its argument list.
    if let Some(p) = target.password() {
        c.env("PGPASSWORD", p);
    }
    if target.ambient() {
        // The person allowed their own for this target: what sqlx read, libpq reads too.
        for k in ["PGPASSWORD", "PGPASSFILE"] {
            if let (Some(v), None) = (std::env::var_os(k), target.password()) {
                c.env(k, v);
            }
        }
    } else {
        // libpq reads the person's ~/.pgpass, ~/.postgresql/postgresql.crt and key, and a Kerberos
        // ticket by itself (HOME is passed on); sqlx reads none of them, and neither goes to a
        // server a project names. A file that is not there, in the person's own folder, reads as
        // none (`/dev/null` draws a warning that it is not a plain file). The URL's own client
        // certificate, below, still counts.
        let none = crate::folders::config_dir().map_or_else(|| "/dev/null".into(), |d| d.join("godwit-none"));
        for k in ["PGPASSFILE", "PGSSLCERT", "PGSSLKEY"] {
            c.env(k, &none);
        }
        c.env("PGGSSENCMODE", "disable");
    }
    use crate::db::target::{SSL_MODE, SSL_ROOT_CERT};
    for (k, v) in url.query_pairs() {
        let var = match k.as_ref() {
            k if SSL_MODE.contains(&k) => "PGSSLMODE",
            k if SSL_ROOT_CERT.contains(&k) => "PGSSLROOTCERT",
            "sslcert" | "ssl-cert" => "PGSSLCERT",
            "sslkey" | "ssl-key" => "PGSSLKEY",
            _ => continue,
        };
        c.env(var, v.as_ref());
    }
    c.env("PGAPPNAME", "godwit").env("PGCONNECT_TIMEOUT", "10");
    c
}

/// pg_dump's `--exclude-table` options for the log (and its sequence) and, with `history`, the
/// history table. Each is a quoted pattern: matched as written, never as a pattern.
fn excluded(tables: &crate::db::Tables, history: bool) -> Vec<String> {
    let d = Dialect::Postgres;
    let pattern = |t: &crate::db::TableName, suffix: &str| {
        let name = format!("\"{}{suffix}\"", t.stored_name(d).replace('"', "\"\""));
        match t.stored_schema(d) {
            Some(s) => format!("--exclude-table=\"{}\".{name}", s.replace('"', "\"\"")),
            None => format!("--exclude-table={name}"),
        }
    };
    let mut out = vec![pattern(&tables.log, ""), pattern(&tables.log, "_id_seq")];
    if history {
        out.push(pattern(&tables.history, ""));
    }
    out
}

/// `pg_dump --schema-only`, with or without the privileges granted.
async fn schema(target: &Target, tables: &crate::db::Tables, privileges: bool) -> Result<String> {
    let mut c = base(&tool::find(&["pg_dump"], INSTALL)?, target);
    c.args(["--schema-only", "--no-owner"]).args(excluded(tables, true));
    if !privileges {
        c.arg("--no-privileges");
    }
    c.arg(format!("--dbname={}", conninfo(target)));
    // As pg_dump wrote it: newer ones bracket the output with a random key (`\restrict KEY`),
    // which keeps a hostile server from slipping psql commands into it when psql reads it.
    tool::run_to_text(c).await
}

#[async_trait]
impl Tool for PgDump {
    async fn check(&self, server_version: &str) -> Result<(String, String)> {
        let server = tool::major(server_version).unwrap_or(0);
        let mut dump_version = String::new();
        for name in ["pg_dump", "pg_restore"] {
            let path = tool::find(&[name], INSTALL)?;
            let v = tool::version_of(&path).await?;
            let client = tool::major(v.rsplit(' ').next().unwrap_or(&v)).unwrap_or(0);
            if client < server {
                return Err(Error::input(format!(
                    "{} is {v}, older than the server (PostgreSQL {server_version}): it cannot back up or restore \
                     this server. Install the PostgreSQL {server} client (Debian: apt install postgresql-client-{server}) \
                     or put a newer {name} first on PATH. Nothing was run.",
                    path.display()
                )));
            }
            if name == "pg_dump" {
                dump_version = v;
            }
        }
        Ok(("pg_dump".into(), dump_version))
    }

    fn extension(&self) -> &'static str {
        "dump"
    }

    /// `pg_restore --single-transaction`.
    fn restore_is_atomic(&self) -> bool {
        true
    }

    async fn dump(
        &self,
        target: &Target,
        snapshot: Option<&str>,
        out: &Path,
        progress: Progress<'_>,
        cancel: &Cancel,
    ) -> Result<Option<String>> {
        let mut c = base(&tool::find(&["pg_dump"], INSTALL)?, target);
        // zlib level 1: a third faster than the default level for a file a few percent larger, and
        // still an archive pg_restore reads quickly (an uncompressed one restores slower).
        c.args(["--format=custom", "--compress=1"]).args(excluded(&self.tables, false));
        if let Some(s) = snapshot {
            c.arg(format!("--snapshot={s}"));
        }
        c.arg(format!("--dbname={}", conninfo(target)));
        tool::run(c, Some(out), None, false, progress, cancel).await
    }

    async fn schema_sql(&self, target: &Target) -> Result<String> {
        schema(target, &self.tables, false).await
    }

    async fn schema_sql_with_privileges(&self, target: &Target) -> Result<String> {
        schema(target, &self.tables, true).await
    }

    fn dumps_privileges(&self) -> bool {
        true
    }

    async fn restore(&self, target: &Target, file: &Path, fresh: bool, cancel: &Cancel) -> Result<()> {
        if !fresh {
            return self.restore_over(target, file, cancel).await;
        }
        let mut c = base(&tool::find(&["pg_restore"], INSTALL)?, target);
        // One transaction: a restore that fails leaves the database as it was.
        c.args(["--single-transaction", "--no-owner"]).arg(format!("--dbname={}", conninfo(target))).arg(file);
        tool::run(c, None, None, false, &|_| {}, cancel).await.map(|_| ())
    }
}

#[cfg(unix)]
const SIGINT: i32 = libc::SIGINT;
#[cfg(not(unix))]
const SIGINT: i32 = 2;

/// Drops what the database's own schemas hold (but the event log and what extensions own) before
/// a restore over a live database, in its transaction: `pg_restore --clean` drops only what the
/// backup holds, so a foreign key made after the backup (in a newer table, or added to an old one)
/// keeps it from dropping the key it references, and a view, sequence, function or type made after
/// it would stay, and stop the next run of the migration that makes it. Views go first, then
/// tables (partitions with their parent, owned sequences with their table), sequences, routines and
/// types; what an object makes for itself (a range's constructor) goes with it. The list is made
/// whole before anything is dropped.
const DROP_OBJECTS: &str = "DO $godwit$ DECLARE stmts text[]; s text; BEGIN \
     SELECT array_agg(format('DROP %s IF EXISTS %s CASCADE', kind, name) ORDER BY ord) INTO stmts FROM ( \
     SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' \
     WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind, format('%I.%I', n.nspname, c.relname) AS name, \
     CASE c.relkind WHEN 'v' THEN 1 WHEN 'm' THEN 1 WHEN 'S' THEN 3 ELSE 2 END AS ord \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT c.relispartition AND {USER} \
     AND c.relname <> {log_name} AND NOT EXISTS (SELECT 1 FROM pg_depend d \
     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'i', 'a')) \
     UNION ALL SELECT CASE p.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END, p.oid::regprocedure::text, 4 \
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER} AND NOT EXISTS (SELECT 1 \
     FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i')) \
     UNION ALL SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%I.%I', n.nspname, t.typname), 5 \
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER} \
     AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) \
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid \
     AND d.deptype IN ('e', 'i'))) o; \
     FOREACH s IN ARRAY coalesce(stmts, '{}') LOOP EXECUTE s; END LOOP; END $godwit$;";

impl PgDump {
    /// Restores over a live database in one transaction that also drops its objects first
    /// ([`DROP_OBJECTS`]): pg_restore writes the backup as SQL, Godwit feeds it to psql after
    /// `BEGIN` and the drop, and sends `COMMIT` only once pg_restore has finished well. A plain pipe
    /// would not do: psql would run a script cut short by a failing pg_restore, then commit it.
    async fn restore_over(&self, target: &Target, file: &Path, cancel: &Cancel) -> Result<()> {
        // Writing a script needs no connection, so no password either.
        let mut script = tool::command(&tool::find(&["pg_restore"], INSTALL)?);
        script.args(["--clean", "--if-exists", "--no-owner", "--file=-"]).arg(file);
        let mut psql = with_target(tool::command_ended_by(&tool::find(&["psql"], INSTALL)?, SIGINT), target);
        // No ~/.psqlrc; stop at the first error (the transaction then rolls back when psql exits).
        psql.args(["--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1"]).arg(format!("--dbname={}", conninfo(target)));
        let drop =
            self.tables.fill(&DROP_OBJECTS.replace("{USER}", crate::db::POSTGRES_USER_SCHEMAS), Dialect::Postgres);
        let begin = format!("BEGIN;\n{drop}\n");
        feed_script(script, psql, &begin, cancel).await
    }
}

/// Streams `script`'s stdout into `psql`'s stdin between `begin` and a `COMMIT` sent only when
/// `script` exited well. The script must open with pg_restore's `\restrict` guard: without it
/// (pg_restore before 15.14, 16.10 and 17.6), a hostile server's object names could carry psql
/// commands, which psql would run on this machine.
async fn feed_script(mut script: Command, mut psql: Command, begin: &str, cancel: &Cancel) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (from, to) = (tool::tool_name(&script), tool::tool_name(&psql));
    script.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    psql.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut writer = script.spawn().map_err(|e| Error::input(format!("cannot start {from}: {e}")))?;
    let mut reader = psql.spawn().map_err(|e| Error::input(format!("cannot start {to}: {e}")))?;
    let writer_err = tool::read_stderr(writer.stderr.take().expect("piped"));
    let reader_err = tool::read_stderr(reader.stderr.take().expect("piped"));
    let (mut out, mut input) = (writer.stdout.take().expect("piped"), reader.stdin.take().expect("piped"));

    let copy = async {
        // Ok(false): psql closed its input.
        let wrote = |r: std::io::Result<()>| match r {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(Error::failed(format!("cannot feed {to}: {e}"))),
        };
        if !wrote(input.write_all(begin.as_bytes()).await)? {
            return Ok(false);
        }
        let (mut buf, mut head, mut guarded) = (vec![0u8; 1 << 20], Vec::new(), false);
        loop {
            let n = out.read(&mut buf).await.map_err(|e| Error::failed(format!("reading from {from}: {e}")))?;
            let mut chunk = &buf[..n];
            if !guarded {
                // Hold the script back until its first statement shows the guard.
                head.extend_from_slice(chunk);
                match first_statement(&head) {
                    Some(line) if line.starts_with(b"\\restrict ") => guarded = true,
                    Some(_) => {
                        return Err(Error::input(format!(
                            "{from} is too old to guard psql against commands hidden in a backup (\\restrict): \
                             install the PostgreSQL client's latest minor release (13.22, 14.19, 15.14, 16.10, 17.6 or newer) \
                             and restore again. Nothing was restored."
                        )));
                    }
                    // Ended before a statement: its exit status says why, below.
                    None if n == 0 => break,
                    None => continue,
                }
                chunk = &head;
            }
            if n == 0 {
                break;
            }
            if !wrote(input.write_all(chunk).await)? {
                return Ok(false);
            }
            head.clear();
        }
        let status = writer.wait().await.map_err(|e| Error::failed(format!("{from}: {e}")))?;
        if !status.success() {
            return Err(tool::failed(&from, &status, &take(writer_err).await));
        }
        if !guarded {
            return Err(Error::failed(format!("{from} wrote no script")));
        }
        wrote(input.write_all(b"COMMIT;\n").await)
    };
    let watch_cancel = async {
        while !cancel.is_cancelled() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let fed = tokio::select! {
        r = copy => Some(r),
        _ = watch_cancel => None,
    };
    let Some(fed) = fed else {
        // psql cancels its statement on the server on SIGINT (a kill would leave the session
        // waiting on a lock, to run it later); both are killed when dropped, without a COMMIT.
        #[cfg(unix)]
        if let Some(pid) = reader.id() {
            // SAFETY: a signal to the child this function started and has not yet reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), reader.wait()).await;
        }
        return Err(Error::new(Problem::Cancelled, format!("cancelled; {from} and {to} were stopped")));
    };
    let whole = match fed {
        Ok(whole) => whole,
        Err(e) => {
            // Before psql reads end of input: it must not see one and stop as if the script had ended.
            let _ = reader.kill().await;
            return Err(e);
        }
    };
    drop(input);
    let status = reader.wait().await.map_err(|e| Error::failed(format!("{to}: {e}")))?;
    if !status.success() {
        return Err(tool::failed(&to, &status, &take(reader_err).await));
    }
    if !whole {
        return Err(Error::failed(format!("{to} stopped reading before the end; nothing was committed")));
    }
    Ok(())
}

async fn take(task: tokio::task::JoinHandle<String>) -> String {
    task.await.unwrap_or_default().trim().to_string()
}

/// The script's first line that is neither blank nor a comment, once it has been read whole.
fn first_statement(head: &[u8]) -> Option<&[u8]> {
    let complete = &head[..head.iter().rposition(|&b| b == b'\n')? + 1];
    complete.split(|&b| b == b'\n').find(|l| !l.is_empty() && !l.starts_with(b"--"))
}
