//! MySQL and MariaDB: `mariadb-dump` (or `mysqldump`) `--single-transaction --routines --triggers`,
//! restored with the `mariadb` (or `mysql`) client. The password goes in a 0600 option file.

use std::path::Path;

use async_trait::async_trait;
use tokio::process::Command;

use super::tool::{self, Progress, SecretFile, Tool};
use crate::db::Target;
use crate::error::Result;
use crate::migration::runner::Cancel;

pub struct MariaDbDump;

const INSTALL: &str = "Debian: apt install mariadb-client";

/// The client's options file: `[client]` with the password, if any. It must come first.
fn options(target: &Target) -> Result<SecretFile> {
    let mut text = String::from("[client]\n");
    if let Some(p) = target.password() {
        text.push_str(&format!("password=\"{}\"\n", p.replace('\\', "\\\\").replace('"', "\\\"")));
    }
    SecretFile::new(&text)
}

fn base(program: &Path, target: &Target, opts: &SecretFile) -> Command {
    let url = target.url();
    let mut c = Command::new(program);
    c.arg(format!("--defaults-extra-file={}", opts.path().display()))
        // The URL means TCP even for `localhost` (the client would pick the socket).
        .arg("--protocol=TCP")
        .args(["--host", url.host_str().unwrap_or("localhost")])
        .args(["--port", &url.port().unwrap_or(3306).to_string()]);
    if !url.username().is_empty() {
        c.args(["--user", url.username()]);
    }
    c
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
        let opts = options(target)?;
        let db = target.database();
        let mut c = base(&tool::find(&["mariadb-dump", "mysqldump"], INSTALL)?, target, &opts);
        c.args(["--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--skip-dump-date"])
            .arg(format!("--ignore-table={db}._godwit_log"))
            .arg(&db);
        tool::run(c, Some(out), None, true, progress, cancel).await
    }

    async fn restore(&self, target: &Target, file: &Path, _fresh: bool, cancel: &Cancel) -> Result<()> {
        let opts = options(target)?;
        let mut c = base(&tool::find(&["mariadb", "mysql"], INSTALL)?, target, &opts);
        c.arg("--binary-mode").arg(target.database());
        tool::run(c, None, Some(file), false, &|_| {}, cancel).await.map(|_| ())
    }
}
