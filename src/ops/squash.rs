//! Many migrations replaced by one, proven to build the same schema, histories rewritten.

use super::rebase::unknown_skips;
use super::*;

/// What to squash: everything up to `to`.
#[derive(Debug, Clone)]
pub struct SquashRequest {
    pub to: i64,
    pub dry_run: bool,
    /// Environments left out on purpose when they cannot be read.
    pub skip: Vec<String>,
    /// Squash though some of the files change rows (the squashed file makes the schema only).
    pub schema_only: bool,
}

/// Replaces the migrations up to `req.to` with one file, made on scratch databases beside `s`'s
/// server and proven to build the same schema, and rewrites the history of every environment in
/// `envs` that has them applied, one transaction each. Every environment is read, and every check
/// made, before anything changes; one behind `to`, or one that cannot be read (unless skipped),
/// refuses it by name.
pub async fn squash(
    s: &Session,
    envs: Vec<(String, Result<Session>)>,
    req: &SquashRequest,
    cancel: &Cancel,
) -> Result<crate::migration::squash::SquashOutcome> {
    use crate::migration::squash::{self, EnvSquash};
    let dialect = s.ws.target.dialect();
    if !req.dry_run {
        squash::finish_interrupted(&s.ws.migrations, req.to)?;
    }
    let source = s.source()?;
    source.ensure_valid()?;
    let now = chrono::Utc::now();

    // The squashed file: written by an earlier run, or made now.
    let (squashed, file, sql, removed, data) = match squash::existing(&source, req.to) {
        Some((m, versions)) => (versions, m.file_name(), m.sql.clone(), Vec::new(), Vec::new()),
        None => {
            let ms: Vec<&MigrationFile> = source.migrations.iter().filter(|m| m.version <= req.to).collect();
            if source.get(req.to).is_none() {
                return Err(Error::not_found(Named::Migration, format!("no migration has version {}", req.to))
                    .with_remedy(Remedy::Status));
            }
            if ms.len() < 2 {
                return Err(Error::input(format!(
                    "{} is the only migration up to {}: there is nothing to squash",
                    ms[0].file_name(),
                    req.to
                )));
            }
            let data: Vec<String> =
                ms.iter().filter(|m| squash::changes_rows(&m.sql, dialect)).map(|m| m.file_name()).collect();
            // Privileges the squashed file cannot keep: any beyond the database, and any at all
            // where the dump tool writes none.
            let kept = if crate::backup::tool::for_dialect(dialect, &s.connect.tables).dumps_privileges() {
                squash::Privileges::OnObjects
            } else {
                squash::Privileges::None
            };
            let lost: Vec<String> =
                ms.iter().filter(|m| squash::privileges_of(&m.sql, dialect) > kept).map(|m| m.file_name()).collect();
            if !lost.is_empty() && !req.schema_only {
                return Err(Error::input(format!(
                    "{} grant, revoke or change roles or privileges that a dump of {}'s database does not hold: the \
                     squashed file would lose them. Keep those statements in a migration after the squashed ones, or \
                     squash anyway with --schema-only",
                    lost.join(", "),
                    dialect.name()
                )));
            }
            if !data.is_empty() && !req.schema_only {
                return Err(Error::input(format!(
                    "{} change rows, and the squashed file makes the schema only: a new database would lack those rows. \
                     Move that data elsewhere (a seed), or squash anyway with --schema-only",
                    data.join(", ")
                )));
            }
            let removed: Vec<String> = ms
                .iter()
                .flat_map(|m| {
                    let down =
                        m.down_path.as_ref().filter(|_| m.has_down).map(|p| crate::migration::source::file_name(p));
                    std::iter::once(m.file_name()).chain(down)
                })
                .collect();
            let versions: Vec<i64> = ms.iter().map(|m| m.version).collect();
            let file = format!("{}_squashed.sql", req.to);
            (versions, file, String::new(), removed, data)
        }
    };

    // Every environment's history, before anything is made or changed.
    unknown_skips(&envs, &req.skip)?;
    let mut states: Vec<(String, Option<Session>, EnvSquash)> = Vec::new();
    let mut reads: Vec<(String, Session, Vec<db::Applied>)> = Vec::new();
    for (name, session) in envs {
        let read = match session {
            Ok(session) => match session.reading(|db| db.applied()).await {
                Ok(applied) => Ok((session, applied)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match read {
            // The squashed file is one database's SQL: every environment must speak it.
            Ok((session, _)) if session.ws.target.dialect() != dialect => {
                return Err(Error::new(
                    Problem::WrongDialect,
                    format!(
                        "{name} is {}, and the squashed file would be {}'s SQL: squash needs every environment on one kind \
                     of database. Nothing was changed",
                        session.ws.target.dialect().name(),
                        dialect.name()
                    ),
                ));
            }
            Ok((session, applied)) => reads.push((name, session, applied)),
            // Left out only when it cannot be read: one that can is always checked.
            Err(_) if req.skip.contains(&name) => states.push((name, None, EnvSquash::Skipped)),
            Err(e) => return Err(cannot_read(&name, e, req.to)),
        }
    }
    // An applied file edited since: its edit would vanish into the squashed file unreported.
    for (name, _, applied) in &reads {
        for a in applied.iter().filter(|a| squashed.contains(&a.version)) {
            if let Some(m) =
                source.get(a.version).filter(|m| removed.contains(&m.file_name()) && m.checksum != a.checksum)
            {
                return Err(Error::new(
                    Problem::Drift { version: a.version },
                    format!(
                        "{} was edited after it was applied on {name}: undo the edit, or accept it (repair), before \
                         squashing. Nothing was changed",
                        m.file_name()
                    ),
                )
                .with_remedy(Remedy::Repair { version: a.version }));
            }
        }
    }

    // Made now: replayed on one scratch database, dumped, and run on another to prove it.
    let sql = if sql.is_empty() {
        let (scratch, mut sdb) = open_scratch(s).await?;
        let built = match verify::replay(sdb.as_mut(), &source, &squashed, cancel).await {
            Ok(()) => sdb.inspect().await,
            Err(e) => Err(e),
        };
        let version = match &built {
            Ok(_) => sdb.server_version().await,
            Err(_) => Ok(String::new()),
        };
        let target = scratch.target.clone();
        let dumped = match (&built, version) {
            (Ok(_), Ok(v)) => {
                let tool = crate::backup::tool::for_dialect(dialect, &scratch.options().tables);
                match if dialect == Dialect::Sqlite { Ok(Default::default()) } else { tool.check(&v).await } {
                    // With the privileges the migrations granted, where the tool writes them.
                    Ok(_) => tool
                        .schema_sql_with_privileges(&target)
                        .await
                        .map(|d| crate::backup::tool::as_migration_sql(&d, &s.connect.tables)),
                    Err(e) => Err(e),
                }
            }
            (Err(_), _) => Ok(String::new()),
            (_, Err(e)) => Err(e),
        };
        let built = close_scratch(scratch, sdb, built.and_then(|b| dumped.map(|d| (b, d)))).await?;
        let (schema, dump) = built;
        let text = squash::render(&dump, dialect, req.to, &squashed, now);
        let (made, _, granted) = built_by(s, &file, &text, true, cancel).await?;
        let changes = crate::schema::diff(&schema, &made);
        let (wanted, granted) = (squash::privileges(&dump), granted.map(|g| squash::privileges(&g)));
        if granted.as_ref().is_some_and(|g| *g != wanted) {
            return Err(Error::new(
                Problem::SchemaMismatch,
                "the squashed file does not grant the privileges the migrations grant: nothing was changed",
            ));
        }
        if !changes.is_empty() {
            let listed: Vec<String> =
                changes.iter().take(5).map(|c| format!("{} {} {}", c.kind.as_str(), c.name, c.what())).collect();
            return Err(Error::new(
                Problem::SchemaMismatch,
                format!(
                    "the squashed file does not build what the migrations build ({}): nothing was changed",
                    listed.join("; ")
                ),
            ));
        }
        text
    } else {
        sql
    };
    let checksum = s.ws.checksums.of(&sql);
    for (name, session, applied) in reads {
        let state = squash::classify(&applied, &squashed, req.to, &checksum)
            .map_err(|e| e.context(&name).and("Nothing was changed."))?;
        states.push((name, Some(session), state));
    }
    let envs_out: Vec<(String, EnvSquash)> = states.iter().map(|(n, _, st)| (n.clone(), *st)).collect();
    let outcome = |sql: String| squash::SquashOutcome {
        version: req.to,
        file: file.clone(),
        squashed: squashed.clone(),
        removed: removed.clone(),
        data: data.clone(),
        envs: envs_out.clone(),
        dry_run: req.dry_run,
        sql,
    };
    if req.dry_run {
        return Ok(outcome(sql));
    }

    // The files: the squashed one staged (never through a planted link) and put in place, then the
    // ones it replaces removed. A file that cannot be removed puts back those that were and takes
    // the new one away, so the folder is as it was; a squash stopped between the two (a crash)
    // is finished by the next (`finish_interrupted`): at no point is the project left with neither.
    if !removed.is_empty() {
        let dir = &s.ws.migrations;
        let path = dir.join(&file);
        let staged = dir.join(format!(".{file}.new"));
        // Left by a squash that died while writing it; a link planted there is refused below.
        if std::fs::symlink_metadata(&staged).is_ok_and(|m| m.file_type().is_file()) {
            let _ = std::fs::remove_file(&staged);
        }
        // On disk before any old file goes, so a power loss cannot leave neither.
        let write = std::fs::OpenOptions::new().write(true).create_new(true).open(&staged).and_then(|mut f| {
            std::io::Write::write_all(&mut f, sql.as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = write {
            return Err(Error::io("cannot write", &staged, &e).and("nothing was changed"));
        }
        if let Err(e) = std::fs::rename(&staged, &path) {
            let _ = std::fs::remove_file(&staged);
            return Err(Error::failed(format!("cannot put {file} in place: {e}; nothing was changed")));
        }
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        let mut kept: Vec<(std::path::PathBuf, Vec<u8>)> = Vec::new();
        for name in &removed {
            let old = dir.join(name);
            let gone = std::fs::read(&old).and_then(|bytes| std::fs::remove_file(&old).map(|()| bytes));
            match gone {
                Ok(bytes) => kept.push((old, bytes)),
                Err(e) => {
                    for (old, bytes) in &kept {
                        let _ = std::fs::write(old, bytes);
                    }
                    let _ = std::fs::remove_file(&path);
                    return Err(Error::failed(format!(
                        "cannot remove {name}: {e}; the files are as they were and no history was changed"
                    )));
                }
            }
        }
    }

    // Each history, in one transaction each.
    let m = s.ws.source()?;
    let m = m
        .get(req.to)
        .ok_or_else(|| Error::failed(format!("{file} is gone from {}", s.ws.migrations.display())))?
        .clone();
    let mut failed = Vec::new();
    for (name, session, state) in &states {
        let (Some(session), EnvSquash::Rewrite) = (session, state) else { continue };
        let r = async {
            let mut db = session.open(false).await?;
            let r = rewrite(db.as_mut(), &m, &squashed, session.lock_timeout).await;
            db.close().await;
            r
        }
        .await;
        if let Err(e) = r {
            failed.push(format!("{name}: {}", e.message));
        }
    }
    if !failed.is_empty() {
        return Err(Error::failed(format!(
            "{file} replaces the squashed files, but these histories were not rewritten: {}. Running the same squash again \
             rewrites them",
            failed.join("; ")
        )));
    }
    Ok(outcome(String::new()))
}

/// The schema one migration file (`file`, holding `sql`) builds on a scratch database beside `s`,
/// and its version: the proof a baseline or a squashed file gets before it is written. With
/// `privileges`, also the dump with its privileges, where the dump tool writes them.
pub(super) async fn built_by(
    s: &Session,
    file: &str,
    sql: &str,
    privileges: bool,
    cancel: &Cancel,
) -> Result<(crate::schema::Schema, i64, Option<String>)> {
    let proof = tempfile::tempdir().map_err(|e| Error::failed(format!("cannot make a temporary folder: {e}")))?;
    std::fs::write(proof.path().join(file), sql)
        .map_err(|e| Error::failed(format!("cannot write a temporary file: {e}")))?;
    let tried = Source::load_with(proof.path(), &s.ws.checksums)?;
    let version = tried
        .migrations
        .first()
        .map(|m| m.version)
        .ok_or_else(|| Error::failed(format!("{file} does not read as a migration")))?;
    let (scratch, mut db) = open_scratch(s).await?;
    let made = match verify::replay(db.as_mut(), &tried, &[version], cancel).await {
        Ok(()) => db.inspect().await,
        Err(e) => Err(e),
    };
    let tool = crate::backup::tool::for_dialect(s.ws.target.dialect(), &scratch.options().tables);
    let granted = match (&made, privileges && tool.dumps_privileges()) {
        (Ok(_), true) => match db.server_version().await {
            Ok(v) => match tool.check(&v).await {
                Ok(_) => tool.schema_sql_with_privileges(&scratch.target).await.map(Some),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        _ => Ok(None),
    };
    let made = made.and_then(|m| granted.map(|g| (m, g)));
    let (made, granted) = close_scratch(scratch, db, made).await?;
    Ok((made, version, granted))
}

/// Why an environment's history could not be read, as the refusal of the whole run: a setting
/// (a fleet these verbs cannot read, a bad URL) is bad input, anything else a connection's fault.
pub(super) fn read_problem(p: Problem) -> Problem {
    match p {
        Problem::Input => Problem::Input,
        _ => Problem::CannotConnect,
    }
}

fn cannot_read(name: &str, e: Error, to: i64) -> Error {
    Error::new(
        read_problem(e.problem.clone()),
        format!(
            "cannot read the history of {name} ({}): squash reads every environment first, since one it does not \
             rewrite would report the squashed migrations missing. Nothing was changed.",
            e.message
        ),
    )
    .with_remedy(Remedy::SkipEnv { env: name.to_string(), squash_to: Some(to) })
}

/// One history's squashed rows replaced by the squashed migration's, under the lock.
async fn rewrite(db: &mut dyn Database, m: &MigrationFile, squashed: &[i64], lock_timeout: Duration) -> Result<()> {
    db.lock(lock_timeout).await?;
    let r = async {
        // A run may have changed it since it was read: it must still have every one applied.
        let now = crate::migration::squash::classify(&db.applied().await?, squashed, m.version, &m.checksum)?;
        if now != crate::migration::squash::EnvSquash::Rewrite {
            return Err(Error::new(Problem::PlanChanged, "its history changed while squashing"));
        }
        let event = |version: i64, detail: String| db::NewEvent {
            kind: db::EventKind::Squash,
            version: Some(version),
            description: m.description.clone(),
            duration: None,
            outcome: db::Outcome::Ok,
            error: None,
            detail: Some(detail),
        };
        let mut changes: Vec<(db::Amend, db::NewEvent)> = squashed
            .iter()
            .map(|v| (db::Amend::Forget { version: *v }, event(*v, format!("squashed into {}", m.file_name()))))
            .collect();
        changes.push((
            db::Amend::Adopt { version: m.version, description: m.description.clone(), checksum: m.checksum.clone() },
            event(
                m.version,
                format!(
                    "recorded as applied: it replaces {}",
                    squashed.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
                ),
            ),
        ));
        db.amend(&changes, &db::actor()).await
    }
    .await;
    let _ = db.unlock().await;
    r
}
