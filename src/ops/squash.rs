//! Many migrations replaced by one, proven to build the same schema, histories rewritten.

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
    let dumps_privileges = crate::backup::tool::for_dialect(dialect, &s.connect.tables).dumps_privileges();
    let SquashFiles { squashed, file, sql, removed, data } = plan_files(&source, req, dialect, dumps_privileges)?;

    // Every environment's history, before anything is made or changed.
    let reads = Reads::histories(envs, &req.skip).await?;
    if let Some((name, e)) = reads.unread.into_iter().next() {
        return Err(cannot_read(&name, e, req.to));
    }
    // The squashed file is one database's SQL: every environment must speak it.
    if let Some((name, (session, _))) = reads.read.iter().find(|(_, (s, _))| s.ws.target.dialect() != dialect) {
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
    let histories: Vec<(&str, &[db::Applied])> = reads.read.iter().map(|(n, (_, a))| (n.as_str(), &a[..])).collect();
    no_edits_lost(&source, &histories, &squashed, &removed)?;
    let mut states: Vec<(String, Option<Session>, EnvSquash)> =
        reads.skipped.into_iter().map(|n| (n, None, EnvSquash::Skipped)).collect();
    let reads: Vec<(String, Session, Vec<db::Applied>)> = reads.read.into_iter().map(|(n, (s, a))| (n, s, a)).collect();

    // Made now: replayed on one scratch database, dumped, and run on another to prove it.
    let sql = if sql.is_empty() {
        let (scratch, mut sdb) = open_scratch(s).await?;
        let built = match verify::replay(sdb.as_mut(), &source, &squashed, cancel, &s.ws.placeholders).await {
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

/// The files of a squash, decided from the folder alone.
#[derive(Debug, PartialEq)]
struct SquashFiles {
    /// The versions the squashed file replaces.
    squashed: Vec<i64>,
    file: String,
    /// The squashed file's SQL when an earlier run wrote it; empty: made now.
    sql: String,
    /// The files it replaces (ups and downs); none when an earlier run removed them.
    removed: Vec<String>,
    /// Those that change rows (left out of a schema-only squash).
    data: Vec<String>,
}

/// What squashing up to `req.to` replaces, or why it cannot: no such version, nothing to squash,
/// rows or privileges the squashed file would lose (unless `schema_only`). `dumps_privileges`: the
/// dump tool keeps grants on objects.
fn plan_files(source: &Source, req: &SquashRequest, dialect: Dialect, dumps_privileges: bool) -> Result<SquashFiles> {
    use crate::migration::squash;
    if let Some((m, squashed)) = squash::existing(source, req.to) {
        let file = m.file_name();
        return Ok(SquashFiles { squashed, file, sql: m.sql.clone(), removed: Vec::new(), data: Vec::new() });
    }
    if source.get(req.to).is_none() {
        return Err(Error::not_found(Named::Migration, format!("no migration has version {}", req.to))
            .with_remedy(Remedy::Status));
    }
    let ms: Vec<&MigrationFile> = source.migrations.iter().filter(|m| m.version <= req.to).collect();
    if ms.len() < 2 {
        return Err(Error::input(format!(
            "{} is the only migration up to {}: there is nothing to squash",
            ms[0].file_name(),
            req.to
        )));
    }
    // A squashed file is one database's dump: its placeholders would be one environment's values.
    let filled: Vec<String> =
        ms.iter().filter(|m| crate::migration::placeholders::marked(&m.sql)).map(|m| m.file_name()).collect();
    if !filled.is_empty() {
        return Err(Error::input(format!(
            "{} fill placeholders, which differ by environment: a squashed file, dumped from one database, would hold \
             one environment's values. Squash only the migrations before them",
            filled.join(", ")
        )));
    }
    let data: Vec<String> =
        ms.iter().filter(|m| squash::changes_rows(&m.sql, dialect)).map(|m| m.file_name()).collect();
    // Privileges the squashed file cannot keep: any beyond the database, and any at all where the
    // dump tool writes none.
    let kept = if dumps_privileges { squash::Privileges::OnObjects } else { squash::Privileges::None };
    let lost: Vec<String> =
        ms.iter().filter(|m| squash::privileges_of(&m.sql, dialect) > kept).map(|m| m.file_name()).collect();
    if !lost.is_empty() && !req.schema_only {
        return Err(Error::input(format!(
            "{} grant, revoke or change roles or privileges that a dump of {}'s database does not hold: the squashed \
             file would lose them. Keep those statements in a migration after the squashed ones, or squash the schema \
             only",
            lost.join(", "),
            dialect.name()
        ))
        .with_remedy(Remedy::SquashSchemaOnly { to: req.to }));
    }
    if !data.is_empty() && !req.schema_only {
        return Err(Error::input(format!(
            "{} change rows, and the squashed file makes the schema only: a new database would lack those rows. Move \
             that data elsewhere (a seed), or squash the schema only",
            data.join(", ")
        ))
        .with_remedy(Remedy::SquashSchemaOnly { to: req.to }));
    }
    let removed = ms
        .iter()
        .flat_map(|m| {
            let down = m.down_path.as_ref().filter(|_| m.has_down).map(|p| crate::migration::source::file_name(p));
            std::iter::once(m.file_name()).chain(down).chain(m.own_downs())
        })
        .collect();
    let squashed = ms.iter().map(|m| m.version).collect();
    Ok(SquashFiles { squashed, file: format!("{}_squashed.sql", req.to), sql: String::new(), removed, data })
}

/// Refuses a squash that would swallow an applied file edited since it ran (the edit would vanish
/// into the squashed file unreported), naming the environment.
fn no_edits_lost(
    source: &Source,
    histories: &[(&str, &[db::Applied])],
    squashed: &[i64],
    removed: &[String],
) -> Result<()> {
    for (name, applied) in histories {
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
    Ok(())
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
    let made = match verify::replay(db.as_mut(), &tried, &[version], cancel, &s.ws.placeholders).await {
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
    crate::migration::amend::under_lock(db, lock_timeout, |applied| {
        // A run may have changed it since it was read: it must still have every one applied.
        let now = crate::migration::squash::classify(applied, squashed, m.version, &m.checksum)?;
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
        let replaced = squashed.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        changes.push((
            db::Amend::Adopt { version: m.version, description: m.description.clone(), checksum: m.checksum.clone() },
            event(m.version, format!("recorded as applied: it replaces {replaced}")),
        ));
        Ok((changes, ()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::super::folder;
    use super::*;

    fn req(to: i64, schema_only: bool) -> SquashRequest {
        SquashRequest { to, dry_run: true, skip: Vec::new(), schema_only }
    }

    fn applied(version: i64, checksum: &[u8]) -> db::Applied {
        db::Applied {
            version,
            description: String::new(),
            installed_on: chrono::Utc::now(),
            success: true,
            checksum: checksum.to_vec(),
            execution_time: 0,
        }
    }

    #[test]
    fn the_files_up_to_the_version_are_replaced_by_one() {
        let (_d, source) = folder(&[
            ("1_a.up.sql", "CREATE TABLE a (id INT);"),
            ("1_a.down.sql", "DROP TABLE a;"),
            ("2_b.sql", "CREATE TABLE b (id INT);"),
            ("3_c.sql", "CREATE TABLE c (id INT);"),
        ]);
        let f = plan_files(&source, &req(2, false), Dialect::Postgres, true).unwrap();
        assert_eq!(f.squashed, [1, 2]);
        assert_eq!(f.file, "2_squashed.sql");
        assert_eq!(f.removed, ["1_a.up.sql", "1_a.down.sql", "2_b.sql"], "downs go with their ups");
        assert!(f.sql.is_empty() && f.data.is_empty());
    }

    #[test]
    fn nothing_to_squash_or_no_such_version_is_refused() {
        let (_d, source) = folder(&[("1_a.sql", "CREATE TABLE a (id INT);"), ("3_c.sql", "SELECT 1;")]);
        let e = plan_files(&source, &req(2, false), Dialect::Sqlite, false).unwrap_err();
        assert_eq!((e.problem, e.remedies), (Problem::NotFound { what: Named::Migration }, vec![Remedy::Status]));
        assert_eq!(plan_files(&source, &req(1, false), Dialect::Sqlite, false).unwrap_err().problem, Problem::Input);
    }

    #[test]
    fn rows_and_privileges_the_squashed_file_would_lose_need_schema_only() {
        let (_d, source) = folder(&[
            ("1_a.sql", "CREATE TABLE a (id INT);"),
            ("2_seed.sql", "INSERT INTO a VALUES (1);"),
            ("3_grant.sql", "GRANT SELECT ON a TO reader;"),
        ]);
        let e = plan_files(&source, &req(2, false), Dialect::Postgres, true).unwrap_err();
        assert_eq!((e.problem, e.remedies), (Problem::Input, vec![Remedy::SquashSchemaOnly { to: 2 }]));
        let f = plan_files(&source, &req(2, true), Dialect::Postgres, true).unwrap();
        assert_eq!(f.data, ["2_seed.sql"]);
        // A grant on an object: kept where the dump tool writes grants, lost where it writes none.
        assert!(plan_files(&source, &req(3, true), Dialect::Postgres, true).is_ok());
        let (_d, grants) = folder(&[("1_a.sql", "CREATE TABLE a (id INT);"), ("2_g.sql", "GRANT SELECT ON a TO r;")]);
        assert!(plan_files(&grants, &req(2, false), Dialect::Postgres, true).is_ok());
        let e = plan_files(&grants, &req(2, false), Dialect::Sqlite, false).unwrap_err();
        assert_eq!(e.remedies, vec![Remedy::SquashSchemaOnly { to: 2 }]);
    }

    #[test]
    fn a_squashed_file_written_earlier_is_taken_as_it_is() {
        let now = chrono::Utc::now();
        let text = crate::migration::squash::render("CREATE TABLE a (id INT);", Dialect::Sqlite, 2, &[1, 2], now);
        let (_d, source) = folder(&[("2_squashed.sql", &text), ("3_c.sql", "SELECT 1;")]);
        let f = plan_files(&source, &req(2, false), Dialect::Sqlite, false).unwrap();
        assert_eq!((f.squashed, f.file.as_str(), f.removed.len()), (vec![1, 2], "2_squashed.sql", 0));
        assert_eq!(f.sql, text);
    }

    #[test]
    fn an_applied_file_edited_since_is_not_swallowed() {
        let (_d, source) = folder(&[("1_a.sql", "CREATE TABLE a (id INT);"), ("2_b.sql", "SELECT 1;")]);
        let removed = vec!["1_a.sql".to_string(), "2_b.sql".to_string()];
        let same = [applied(1, &source.migrations[0].checksum)];
        let edited = [applied(1, b"other")];
        assert!(no_edits_lost(&source, &[("dev", &same)], &[1, 2], &removed).is_ok());
        let e = no_edits_lost(&source, &[("dev", &same), ("prod", &edited)], &[1, 2], &removed).unwrap_err();
        assert_eq!((e.problem, e.remedies), (Problem::Drift { version: 1 }, vec![Remedy::Repair { version: 1 }]));
        assert!(no_edits_lost(&source, &[("prod", &edited)], &[2], &removed).is_ok(), "not squashed: not lost");
    }
}
