//! PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists`, with a client at
//! least as new as the server. The event log is left out of the dump, so a restore keeps it.

use std::path::Path;

use async_trait::async_trait;
use tokio::process::Command;

use super::tool::{self, Progress, Tool};
use crate::db::{Dialect, Target};
use crate::error::{Error, Result};
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
    let url = target.url();
    let mut c = tool::command(program);
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
        let mut c = base(&tool::find(&["pg_restore"], INSTALL)?, target);
        // One transaction: a restore that fails leaves the database as it was.
        c.args(["--single-transaction", "--no-owner"]).arg(format!("--dbname={}", conninfo(target)));
        if !fresh {
            c.args(["--clean", "--if-exists"]);
        }
        c.arg(file);
        tool::run(c, None, None, false, &|_| {}, cancel).await.map(|_| ())
    }
}
