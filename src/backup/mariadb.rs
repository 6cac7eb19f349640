//! MySQL and MariaDB: `mariadb-dump` (or `mysqldump`) `--single-transaction --routines --triggers`,
//! restored with the `mariadb` (or `mysql`) client. The password reaches them in an option file
//! read from a pipe (`/dev/fd/3`): nothing on disk to leave behind if Godwit is killed. Windows
//! has no `/dev/fd`: there it is in the tool's own environment (`MYSQL_PWD`), which only the same
//! user can read.

use std::path::Path;

use async_trait::async_trait;
use tokio::process::Command;

use super::tool::{self, Progress, Tool};
use crate::db::Target;
#[cfg(unix)]
use crate::db::my_options::options_text;
use crate::db::my_options::tls_options;
use crate::error::Result;
use crate::migration::runner::Cancel;

pub struct MariaDbDump {
    pub(crate) tables: crate::db::Tables,
}

const INSTALL: &str = "Debian: apt install mariadb-client";

/// The tool's command with the password passed as the module's comment says.
#[cfg(unix)]
fn with_password(program: &Path, target: &Target) -> Result<Command> {
    use crate::error::Error;
    use std::os::fd::AsRawFd;
    let (reader, mut writer) =
        std::io::pipe().map_err(|e| Error::failed(format!("cannot make a pipe for the password: {e}")))?;
    // A few hundred bytes: far below a pipe's buffer, so this never waits for the reader.
    std::io::Write::write_all(&mut writer, options_text(target).as_bytes())
        .map_err(|e| Error::failed(format!("cannot write the password to a pipe: {e}")))?;
    drop(writer);
    let mut c = tool::command(program);
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec. The closure owns
    // the read end, so it stays open until the command is gone.
    unsafe {
        c.pre_exec(move || {
            let fd = reader.as_raw_fd();
            let r = if fd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(fd, 3) };
            if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
        });
    }
    // Must be the first option. Only this file: `--defaults-extra-file` would still read the
    // person's ~/.my.cnf, and send its password to whatever server a project names. MySQL's own
    // clients read ~/.mylogin.cnf even so, unless pointed at a file that is not there.
    c.arg("--defaults-file=/dev/fd/3");
    c.env("MYSQL_TEST_LOGIN_FILE", "/nonexistent/godwit-no-login-file");
    Ok(c)
}
#[cfg(not(unix))]
fn with_password(program: &Path, target: &Target) -> Result<Command> {
    let mut c = tool::command(program);
    // The person's own option files are not read (see the Unix one).
    c.arg("--no-defaults");
    c.env("MYSQL_TEST_LOGIN_FILE", "NUL");
    if let Some(p) = target.password() {
        c.env("MYSQL_PWD", p);
    }
    Ok(c)
}

fn base(program: &Path, target: &Target) -> Result<Command> {
    let e = target.endpoint().expect("server targets have an endpoint");
    let mut c = with_password(program, target)?;
    match &e.socket {
        Some(socket) => c.arg("--protocol=SOCKET").arg(format!("--socket={socket}")),
        // The URL means TCP even for `localhost` (the client would pick the socket).
        None => c.arg("--protocol=TCP").arg(format!("--host={}", e.host)).arg(format!("--port={}", e.port)),
    };
    if !e.user.is_empty() {
        c.arg(format!("--user={}", e.user));
    }
    c.args(tls_options(target));
    Ok(c)
}

impl MariaDbDump {
    /// `--ignore-table` for the log, a Galera cluster's lock row and, with `history`, the history
    /// table: those in the dumped database (a history kept in another database is not in its dump
    /// anyway). A restored lock row would be a run's that is not running.
    fn ignored(&self, db: &str, history: bool) -> Vec<String> {
        let d = crate::db::Dialect::MySql;
        let lock = self.tables.lock();
        [Some(&self.tables.log), Some(&lock), history.then_some(&self.tables.history)]
            .into_iter()
            .flatten()
            .filter(|t| t.stored_schema(d).is_none_or(|s| s == db))
            .map(|t| format!("--ignore-table={db}.{}", t.stored_name(d)))
            .collect()
    }
}

#[async_trait]
impl Tool for MariaDbDump {
    async fn check(&self, _server_version: &str) -> Result<(String, String)> {
        let dump = tool::find(&["mariadb-dump", "mysqldump"], INSTALL)?;
        tool::find(&["mariadb", "mysql"], INSTALL)?;
        let name = dump.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok((name, tool::version_of(&dump).await?))
    }

    fn extension(&self) -> &'static str {
        "sql.zst"
    }

    async fn dump(
        &self,
        target: &Target,
        _snapshot: Option<&str>,
        out: &Path,
        progress: Progress<'_>,
        cancel: &Cancel,
    ) -> Result<Option<String>> {
        let db = target.database();
        let mut c = base(&tool::find(&["mariadb-dump", "mysqldump"], INSTALL)?, target)?;
        c.args(["--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--skip-dump-date"])
            .args(self.ignored(&db, false))
            // The name comes from a project file: never read as an option.
            .arg("--")
            .arg(&db);
        tool::run(c, Some(out), None, true, progress, cancel).await
    }

    async fn schema_sql(&self, target: &Target) -> Result<String> {
        let db = target.database();
        let mut c = base(&tool::find(&["mariadb-dump", "mysqldump"], INSTALL)?, target)?;
        // No DROP TABLE: run as a baseline or a squashed migration, the SQL must never empty a table.
        c.args([
            "--no-data",
            "--skip-add-drop-table",
            "--routines",
            "--triggers",
            "--events",
            "--skip-dump-date",
            "--skip-comments",
        ])
        .args(self.ignored(&db, true))
        .arg("--")
        .arg(&db);
        let text = tool::run_to_text(c).await?;
        // A table's next AUTO_INCREMENT value is data, not schema.
        Ok(text
            .split(" AUTO_INCREMENT=")
            .enumerate()
            .map(|(i, part)| match i {
                0 => part,
                _ => part.trim_start_matches(|c: char| c.is_ascii_digit()),
            })
            .collect())
    }

    async fn restore(&self, target: &Target, file: &Path, _fresh: bool, cancel: &Cancel) -> Result<()> {
        let mut c = base(&tool::find(&["mariadb", "mysql"], INSTALL)?, target)?;
        c.arg("--binary-mode").arg("--").arg(target.database());
        tool::run(c, None, Some(file), false, &|_| {}, cancel).await.map(|_| ()).map_err(|mut e| {
            e.message = without_echo(&e.message);
            e
        })
    }
}

/// The client's error without the failed statement it echoes first between dashed lines (from a
/// dump, a multi-megabyte INSERT): the `ERROR … at line N` lines say what and where.
fn without_echo(message: &str) -> String {
    let Some(echo) = message.find("--------------\n") else { return message.to_string() };
    match message[echo..].find("\nERROR ") {
        Some(at) => format!("{}{}", &message[..echo], &message[echo + at + 1..]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_statement_echoed_by_the_client_is_left_out() {
        let m = "mariadb failed (exit status: 1): --------------\nINSERT INTO `big` VALUES\n(1,'a'),\n(2,'b\n\
                 --------------\n\nERROR 1064 (42000) at line 68: You have an error near ''b' at line 3";
        assert_eq!(
            without_echo(m),
            "mariadb failed (exit status: 1): ERROR 1064 (42000) at line 68: You have an error near ''b' at line 3"
        );
        let plain = "mariadb failed (exit status: 1): ERROR 2002 (HY000): Can't connect";
        assert_eq!(without_echo(plain), plain);
    }

    #[test]
    fn the_tools_reach_the_server_with_the_urls_tls() {
        let t = |u: &str| tls_options(&Target::parse(u, Path::new("/p")).unwrap());
        assert_eq!(
            t("mysql://app@db/app?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/ca.pem"),
            ["--ssl", "--ssl-verify-server-cert", "--ssl-ca=/etc/ca.pem"]
        );
        assert_eq!(t("mysql://app@db/app?ssl-mode=disabled"), ["--skip-ssl"]);
        assert!(t("mysql://app@db/app").is_empty());
    }
}
