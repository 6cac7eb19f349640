//! What a verb works on: the project, the environment, the connection.

use super::*;
use std::path::Path;

pub(super) struct Ctx {
    pub(super) cli: Cli,
    pub(super) project: Option<Project>,
    /// The sqlx.toml followed: the project's, or without one the current folder's (or `--config`).
    pub(super) sqlx: Option<crate::sqlx_config::SqlxConfig>,
    /// `DATABASE_URL`, from the environment or a `.env` file.
    pub(super) database_url: Option<DatabaseUrl>,
    /// `godwit` with the flags that chose this environment, for commands printed as remedies.
    pub(super) again: String,
}

impl Ctx {
    pub(super) fn workspace(&self) -> Result<Workspace> {
        if let Some(url) =
            self.cli.url.as_ref().filter(|_| !matches!(self.cli.verb, Verb::Env { .. } | Verb::Secret { .. }))
        {
            // Typed by the person: their own PGPASSWORD and ~/.pgpass may go with it, as with psql.
            return adhoc(url, self.cli.source.clone(), self.sqlx.as_ref(), true);
        }
        if let Some(p) = &self.project {
            let mut w = p.workspace(self.cli.env.as_deref())?;
            if let Some(s) = &self.cli.source {
                w.migrations = folder_here(s)?;
            }
            return Ok(w);
        }
        if let Some(d) = &self.database_url {
            if let Some(why) = &d.refused {
                return Err(Error::input(why.clone()));
            }
            return adhoc(&d.url, self.cli.source.clone(), self.sqlx.as_ref(), d.theirs);
        }
        let cwd = std::env::current_dir().unwrap_or_default();
        let passed = Project::passed_over(self.cli.project.as_deref().unwrap_or(&cwd))
            .map(|f| {
                format!(
                    " ({} was not read: others may write in that folder; if it is yours, pass --project {})",
                    f.display(),
                    shell_quote(&f.parent().unwrap_or(&f).display().to_string())
                )
            })
            .unwrap_or_default();
        Err(Error::input(format!(
            "no godwit.toml here or in any parent folder of yours{passed}, and no --url or DATABASE_URL: run \
             `godwit init` to make this folder a project, or pass --url."
        )))
    }

    /// `again` for a command that changes the environment: on a protected one, with `--confirm
    /// NAME` (a remedy printed by a verb that only reads works pasted where there is no terminal).
    pub(super) fn again_to_change(&self) -> String {
        match self.workspace() {
            Ok(w) if w.protected && self.cli.confirm.is_none() => {
                format!("{} --confirm {}", self.again, shell_quote(&w.confirm_name()))
            }
            Ok(w) if !w.protected => self.again_to_read(),
            _ => self.again.clone(),
        }
    }

    /// `again` without the `--confirm NAME` typed for this run, which a command that only reads
    /// (or an environment that is not protected) has no use for.
    pub(super) fn again_to_read(&self) -> String {
        let typed = self.cli.confirm.as_ref().map(|c| format!(" --confirm {}", shell_quote(c)));
        typed.and_then(|t| self.again.strip_suffix(&t).map(str::to_string)).unwrap_or_else(|| self.again.clone())
    }

    pub(super) fn templates_dir(&self) -> Option<PathBuf> {
        self.project.as_ref().map(|p| p.templates_dir())
    }

    /// The SQL dialect to write: `--dialect`, else the environment's database.
    pub(super) fn dialect(&self, flag: Option<&str>) -> Result<db::Dialect> {
        match flag {
            Some(name) => db::Dialect::from_name(name)
                .ok_or_else(|| Error::input(format!("--dialect is postgres, mysql or sqlite, not `{name}`"))),
            None => self.workspace().map(|w| w.target.dialect()).map_err(|e| {
                Error::input(format!(
                    "{} (or say which database to write SQL for with --dialect postgres|mysql|sqlite)",
                    e.message
                ))
            }),
        }
    }

    pub(super) fn source_dir(&self) -> Result<PathBuf> {
        match (&self.cli.source, &self.project) {
            (Some(s), _) => folder_here(s),
            (None, Some(p)) => Ok(p.migrations_dir()),
            (None, None) => adhoc_migrations(self.sqlx.as_ref()),
        }
    }

    /// The repeatable migrations' folder: the project's, else `repeatable` beside the migrations.
    pub(super) fn repeatable_dir(&self) -> Result<PathBuf> {
        match (&self.cli.source, &self.project) {
            (None, Some(p)) => Ok(p.repeatable_dir()),
            _ => Ok(crate::migration::source::repeatable_beside(&self.source_dir()?)),
        }
    }

    /// How long to wait for the server and for the lock (`ops` makes a missing SQLite file where a
    /// verb writes).
    pub(super) fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            connect_timeout: Duration::from_secs(self.cli.connect_timeout.unwrap_or(10)),
            create_sqlite: false,
            lock_timeout: Duration::from_secs(self.cli.lock_timeout),
            stall_timeout: Duration::from_secs(self.cli.stall_timeout.max(1)),
            tables: crate::sqlx_config::tables(self.sqlx.as_ref()),
        }
    }

    /// A cancel token driven by signals, for a run of migrations: Ctrl-C stops after the current
    /// migration; a second Ctrl-C, or SIGTERM, stops the running statement on the server; a third
    /// exits at once.
    pub(super) fn cancel_on_signals(&self) -> Cancel {
        self.on_signals(false)
    }

    /// As [`Ctx::cancel_on_signals`], for work that is not a run of migrations (a backup, a
    /// restore, a comparison): the first Ctrl-C or SIGTERM stops it at once (and its tool), the
    /// next exits without waiting.
    pub(super) fn stop_on_signals(&self) -> Cancel {
        self.on_signals(true)
    }

    fn on_signals(&self, at_once: bool) -> Cancel {
        let cancel = Cancel::default();
        let c = cancel.clone();
        let status = format!("{} status", again(&self.cli));
        tokio::spawn(async move {
            // A supervisor's SIGTERM is a second Ctrl-C at once: its SIGKILL may follow within
            // seconds, so the running statement is stopped rather than waited for.
            #[cfg(unix)]
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            // Windows services stop a console program with Ctrl-Break or by closing it: no SIGTERM.
            #[cfg(not(unix))]
            let mut term: Option<tokio::sync::mpsc::Receiver<()>> = None;
            let mut presses = 0;
            loop {
                let terminated = async {
                    match term.as_mut() {
                        Some(t) => t.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    r = tokio::signal::ctrl_c() => { if r.is_err() { return; } presses += 1; }
                    _ = terminated => presses = presses.max(1) + 1,
                }
                if at_once {
                    if !c.is_cancelled() {
                        eprintln!("\nstopping (Ctrl-C again to exit without waiting)...");
                        c.abort();
                        continue;
                    }
                    eprintln!("\nexiting without waiting: `{status}` shows what the database holds.");
                    std::process::exit(130);
                }
                match presses {
                    1 => {
                        eprintln!("\nstopping after the current migration (Ctrl-C again to stop it now)...");
                        c.cancel();
                    }
                    2 => {
                        eprintln!(
                            "\nstopping the running migration on the server (Ctrl-C again to exit without waiting)..."
                        );
                        c.abort();
                    }
                    _ => {
                        eprintln!(
                            "\nexiting without waiting for the server: the running migration may still finish there. \
                             `{status}` shows what it did."
                        );
                        std::process::exit(130);
                    }
                }
            }
        });
        cancel
    }

    /// What the person typed to confirm a change, where its guard asks for a name (`--confirm`,
    /// or asked on a terminal); the operation enforces the same guard.
    pub(super) fn typed(&self, guard: &Guard) -> Result<Option<String>> {
        // Passed on where nothing is asked too: the guard refuses a name typed for another environment.
        let Some(why) = guard.why() else { return Ok(self.cli.confirm.clone()) };
        match &self.cli.confirm {
            Some(c) => Ok(Some(c.clone())),
            None if std::io::stdin().is_terminal() => Ok(Some(prompt(&format!("{why}. Type its name to go on: "))?)),
            None => Ok(None),
        }
    }

    /// The environment, its password resolved, ready for `ops`.
    pub(super) fn session(&self) -> Result<ops::Session> {
        self.session_of(self.workspace()?)
    }

    /// A workspace with its password resolved, saying so when `--trust-host` bound it to a new
    /// server.
    pub(super) fn session_of(&self, mut ws: Workspace) -> Result<ops::Session> {
        if let Some(was) = ws.resolve_password(self.cli.trust_host)? {
            eprintln!(
                "The password of `{}` is now bound to {} (it was for {was}).",
                ws.env.as_deref().unwrap_or_default(),
                ws.target.binding()
            );
        }
        let lock_timeout = Duration::from_secs(self.cli.lock_timeout);
        Ok(ops::Session::new(ws, self.project.as_ref(), self.connect_options(), lock_timeout)?
            .with_waits(&self.asked_waits()))
    }

    /// The run's own `--lock-wait`, `--lock-retries` and `--statement-timeout`.
    pub(super) fn asked_waits(&self) -> crate::migration::waits::Asked {
        crate::migration::waits::Asked {
            lock_wait: self.cli.lock_wait,
            retries: self.cli.lock_retries,
            statement_timeout: self.cli.statement_timeout,
        }
    }
}

/// How a database is named in output: `env (url)`.
pub(super) fn label(w: &Workspace) -> String {
    match &w.env {
        Some(e) => format!("{e} ({})", w.target.display()),
        None => w.target.display(),
    }
}

/// `DATABASE_URL` and where it came from.
pub(super) struct DatabaseUrl {
    pub(super) url: String,
    /// From the person's own environment, not a folder's `.env`.
    pub(super) theirs: bool,
    /// Why the variable's value is not used (it is not a URL), said when a verb needs it.
    pub(super) refused: Option<String>,
}

/// A database named by a URL; `theirs` when the person gave it (`--url`, their own `DATABASE_URL`),
/// so their ambient passwords may go with it.
pub(super) fn adhoc(
    url: &str,
    source: Option<PathBuf>,
    sqlx: Option<&crate::sqlx_config::SqlxConfig>,
    theirs: bool,
) -> Result<Workspace> {
    let cwd = std::env::current_dir().map_err(|e| Error::input(format!("no current folder: {e}")))?;
    let target = Target::parse(url, &cwd)?.with_ambient(theirs);
    let migrations = match source {
        Some(s) => folder_here(&s)?,
        None => adhoc_migrations(sqlx)?,
    };
    Ok(Workspace::adhoc(target, cwd.join(migrations)).with_checksums(crate::sqlx_config::checksums(sqlx)))
}

/// The migrations folder without a project or --source: sqlx.toml's, as sqlx-cli reads it. The file
/// may be a stranger's: its folder must be inside the current one.
fn adhoc_migrations(sqlx: Option<&crate::sqlx_config::SqlxConfig>) -> Result<PathBuf> {
    let Some((dir, file)) = sqlx.and_then(|c| c.migrations_dir.as_deref().map(|d| (d, &c.path))) else {
        return folder_here(Path::new("migrations"));
    };
    let cwd = std::env::current_dir().map_err(|e| Error::input(format!("no current folder: {e}")))?;
    project::inside(&cwd, dir).map_err(|why| {
        Error::input(format!(
            "{}: `migrations-dir = \"{dir}\"` {why}; nothing was read or written. Pass --source with the folder's \
             own path if you mean it.",
            file.display(),
            why = why.replace("the project", "the current folder")
        ))
    })?;
    Ok(PathBuf::from(dir))
}

/// A migrations folder named from the current one (`--source`, or `migrations` without a
/// project): one that a cloned folder's link leads elsewhere (`migrations -> ~/.ssh`) is refused,
/// as godwit.toml's is. A path the person spells out (absolute, or with `..`) is theirs.
fn folder_here(rel: &Path) -> Result<PathBuf> {
    let cwd = std::env::current_dir().map_err(|e| Error::input(format!("no current folder: {e}")))?;
    let spelled_out = rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir));
    if spelled_out {
        return Ok(rel.to_path_buf());
    }
    project::inside(&cwd, &rel.to_string_lossy()).map_err(|why| {
        Error::input(format!(
            "the migrations folder {} {}, through a link; nothing was read or written. Give the folder's own \
             path if you mean it.",
            rel.display(),
            why.replace("the project", "the current folder")
        ))
    })?;
    Ok(rel.to_path_buf())
}
