//! Another tool's migrations brought in, with the history it left.

use super::*;

/// What to import, and from where.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub tool: crate::import::Tool,
    pub dir: PathBuf,
    /// The Python that runs an Alembic project (found beside it when `None`).
    pub python: Option<PathBuf>,
    /// What a person agreed to run to read the project (`import::code_to_run`); Alembic's is run
    /// only when it is still exactly that.
    pub run_code: Option<crate::import::CodeToRun>,
    /// Alembic's SQL rendered offline even where a database is given (where it is, the revisions
    /// run on a scratch database beside it and what they send is recorded).
    pub offline: bool,
    /// The person's environment variables an Alembic project's code sees, by name
    /// (`import::CodeToRun::env`).
    pub env: Vec<String>,
    pub dry_run: bool,
}

impl ImportRequest {
    /// The server Alembic's revisions run on, in a scratch database beside `history`'s database;
    /// `None` when they are rendered offline. What the person agrees to names it.
    pub fn scratch_server(&self, history: Option<&Session>) -> Option<String> {
        history.filter(|_| self.tool == crate::import::Tool::Alembic && !self.offline).map(|s| s.ws.target.server())
    }
}

/// What `import` wrote and recorded (or would, in a dry run).
#[derive(ts_rs::TS, Debug, Clone, serde::Serialize)]
#[ts(export)]
pub struct ImportOutcome {
    pub import: crate::import::Import,
    pub files: crate::import::Written,
    /// What the other tool's history table said, when a database was given.
    pub history: Option<crate::import::history::Adoption>,
    pub dry_run: bool,
}

/// Writes another tool's migrations into `migrations` as Godwit files (Alembic's rendered for
/// `dialect`, else the database's); given a database, records what that tool ran there as applied
/// (not run). Everything that can refuse does so before anything is written.
pub async fn import(
    req: &ImportRequest,
    migrations: &Path,
    dialect: Option<Dialect>,
    history: Option<(&Session, Option<&str>)>,
) -> Result<ImportOutcome> {
    let dialect = rendered_for(dialect, history.map(|(s, _)| s.ws.target.dialect()))?;
    // golang-migrate's files are Godwit's and are used where they are; another tool's folder would
    // end up holding both.
    if req.tool != crate::import::Tool::GolangMigrate && crate::import::same_folder(&req.dir, migrations) {
        return Err(Error::input(format!(
            "{} holds the {} migrations and is also this project's migrations folder, where the Godwit files \
             would go: make the project's migrations folder another one (godwit-migrations, say) and import again. \
             Nothing was written",
            req.dir.display(),
            req.tool.name()
        )));
    }
    let (tool, dir, into) = (req.tool, req.dir.clone(), migrations.to_path_buf());
    // Capturing needs a scratch database, made only once the person agreed to what runs there.
    let against = req.scratch_server(history.map(|(s, _)| s));
    let agreed = req.run_code.as_ref().is_some_and(|c| c.against.is_some());
    let scratch = match history {
        Some((s, _)) if against.is_some() && agreed => {
            // Running every revision takes a while: a history that would be refused is refused first.
            let mut conn = s.open(false).await?;
            let readable = crate::import::history::rows(conn.as_mut(), tool).await;
            conn.close().await;
            readable?;
            Some(db::Scratch::new(&s.ws.target, &s.connect).await?)
        }
        _ => None,
    };
    let opts = crate::import::ReadOptions {
        dialect,
        python: req.python.clone(),
        run_code: req.run_code.clone(),
        against,
        capture: scratch.as_ref().map(|sc| crate::import::Capture { target: sc.target.clone() }),
        env: req.env.clone(),
    };
    // Alembic runs a Python process: off the async workers.
    let read = tokio::task::spawn_blocking(move || crate::import::read(tool, &dir, &opts, &into))
        .await
        .map_err(|e| Error::new(Problem::Failed, format!("reading the project stopped: {e}")));
    let read = match scratch {
        Some(sc) => match (read, sc.remove().await) {
            (Ok(r), Ok(())) => r,
            (Ok(Ok(_)), Err(r)) => {
                return Err(Error::failed(format!(
                    "the revisions ran, but the scratch database was not dropped: {}; nothing was imported",
                    r.message
                )));
            }
            (Ok(Err(e)), Err(r)) | (Err(e), Err(r)) => return Err(not_dropped_either(e, r)),
            (Err(e), Ok(())) => return Err(e),
        },
        None => read?,
    };
    let mut found = read?;
    if tool == crate::import::Tool::GolangMigrate && crate::import::same_folder(&req.dir, migrations) {
        crate::import::use_in_place(&mut found, migrations)?;
    }
    let mut db = None;
    let mut adoption = None;
    if let Some((s, confirm)) = history {
        if !req.dry_run {
            Guard::for_history(&s.ws).enforce(&Confirmation::typed(confirm))?;
        }
        let mut conn = s.open(false).await?;
        match crate::import::history::plan(conn.as_mut(), &found, &s.ws.checksums).await {
            Ok(a) => adoption = Some(a),
            Err(e) => {
                conn.close().await;
                return Err(e);
            }
        }
        db = Some((conn, s.lock_timeout));
    }
    // The files are checked against the folder, then written; a refusal here writes none.
    let files = match crate::import::write(&mut found, migrations, req.dry_run) {
        Ok(f) => f,
        Err(e) => {
            if let Some((conn, _)) = db {
                conn.close().await;
            }
            return Err(e);
        }
    };
    if let (Some((mut conn, lock_timeout)), Some(a), Some((s, _))) = (db, adoption.as_ref(), history) {
        let recorded = if req.dry_run {
            Ok(())
        } else {
            crate::import::history::record(conn.as_mut(), &found, a, &s.ws.checksums, lock_timeout).await
        };
        conn.close().await;
        if let Err(e) = recorded {
            return Err(match files.written.is_empty() {
                true => e,
                false => e
                    .context(format!(
                        "{} file(s) were written to {}, but recording the history failed",
                        files.written.len(),
                        files.dir
                    ))
                    .and("Importing again records it (the files already there are left as they are)."),
            });
        }
    }
    Ok(ImportOutcome { import: found, files, history: adoption, dry_run: req.dry_run })
}

/// A folder holding another tool's project made a Godwit project: its migrations imported into a
/// new folder beside them (`import::folder_for`), then godwit.toml written with a `dev` SQLite
/// environment. Nothing is written in a dry run, or when the folder is a project already.
pub async fn import_project(root: &Path, req: &ImportRequest, dialect: Option<Dialect>) -> Result<ImportOutcome> {
    let config = root.join(project::CONFIG_FILE);
    if config.exists() {
        return Err(Error::input(format!("{} exists already: open the project and import there", config.display())));
    }
    let folder = crate::import::folder_for(root);
    let out = import(req, &root.join(folder), dialect, None).await?;
    if !req.dry_run {
        // The window's folder, chosen on purpose.
        project::init(root, Some(folder), true, None)?;
    }
    Ok(out)
}

/// The database the files are rendered for: the one their history is recorded in, which a
/// `--dialect` asked for must agree with; else the one asked for, if any.
fn rendered_for(asked: Option<Dialect>, recorded_in: Option<Dialect>) -> Result<Option<Dialect>> {
    match (asked, recorded_in) {
        (Some(asked), Some(own)) if asked != own => Err(Error::new(
            Problem::WrongDialect,
            format!(
                "the files were asked for {}, and the database they are recorded in is {}: they are rendered for \
                 the database they are recorded in",
                asked.name(),
                own.name()
            ),
        )),
        (asked, own) => Ok(own.or(asked)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_recorded_in_a_database_are_rendered_for_it() {
        use Dialect::*;
        assert_eq!(rendered_for(None, None).unwrap(), None);
        assert_eq!(rendered_for(Some(MySql), None).unwrap(), Some(MySql));
        assert_eq!(rendered_for(None, Some(Postgres)).unwrap(), Some(Postgres));
        assert_eq!(rendered_for(Some(Postgres), Some(Postgres)).unwrap(), Some(Postgres));
        assert_eq!(rendered_for(Some(Sqlite), Some(Postgres)).unwrap_err().problem, Problem::WrongDialect);
    }
}
