//! A first migration written from a database's schema, proven on a scratch database.

use super::squash::built_by;
use super::*;

/// Writes the project's first migration from the environment's schema and records it as applied
/// there; with the project's baseline already written, records it on another database whose schema
/// it makes. Either way the file is proven first: run on a scratch database, it must make the live
/// schema exactly.
pub async fn baseline(
    s: &Session,
    version: Option<i64>,
    dry_run: bool,
    confirm: Option<&str>,
    cancel: &Cancel,
) -> Result<crate::import::baseline::BaselineOutcome> {
    use crate::import::baseline;
    if !dry_run {
        Guard::for_history(&s.ws).enforce(&Confirmation::typed(confirm))?;
    }
    // No folder yet is a project with no migrations yet.
    let source = match s.ws.migrations.exists() {
        true => s.source()?,
        false => Source { dir: s.ws.migrations.clone(), migrations: Vec::new(), problems: Vec::new() },
    };
    let label = s.ws.confirm_name();
    let mut db = s.read().await?.ok_or_else(|| {
        Error::new(
            Problem::NoDatabase,
            format!("{} does not exist yet: there is no schema to baseline.", s.ws.target.display()),
        )
    })?;
    let live = async {
        let applied = db.applied().await?;
        if !applied.is_empty() {
            return Err(Error::input(format!(
                "{label} already has {} migration(s) recorded: baseline is for a database no migrations made.",
                applied.len()
            ))
            .with_remedy(Remedy::Status));
        }
        if let Some((tool, table)) = baseline::other_tool(db.as_mut()).await? {
            let whose = match tool {
                crate::import::Tool::Dbmate => "dbmate's or golang-migrate's".to_string(),
                t => format!("{}'s", t.name()),
            };
            return Err(Error::input(format!(
                "{label} has {table}, {whose} history table: bring that tool's migrations in with `import`, which \
                 also records what ran here, rather than a baseline."
            )));
        }
        db.inspect().await
    }
    .await;
    db.close().await;
    let live = live?;
    if live.objects.is_empty() {
        return Err(Error::input(format!(
            "{label} holds no tables, views or other objects: there is nothing to baseline. Start with `godwit new`."
        )));
    }

    let now = chrono::Utc::now();
    let (file, sql, written) = match baseline::existing(&source) {
        Some(m) => {
            if version.is_some_and(|v| v != m.version) {
                return Err(Error::input(format!(
                    "the project's baseline is {} already: leave out --version to record it here.",
                    m.file_name()
                )));
            }
            (m.file_name(), m.sql.clone(), false)
        }
        None if !source.migrations.is_empty() => {
            return Err(Error::input(format!(
                "{} already holds {} migration(s) and none is a baseline: baseline writes a project's first migration.",
                s.ws.migrations.display(),
                source.migrations.len()
            )));
        }
        None => {
            let stamp: i64 = now.format("%Y%m%d%H%M%S").to_string().parse().expect("digits");
            let version = version.unwrap_or(stamp);
            if version <= 0 {
                return Err(Error::input("a version is a positive number, such as a timestamp (20240201145745)."));
            }
            let dump = backup::tool::as_migration_sql(&schema_sql(s).await?, &s.connect.tables);
            let sql = baseline::render(&dump, s.ws.target.dialect(), version, &label, now);
            (baseline::file_name(version), sql, true)
        }
    };

    // The proof: the file run on a scratch database beside the environment makes its schema.
    let (made, version, _) = built_by(s, &file, &sql, false, cancel).await?;
    let changes = crate::schema::diff(&made, &live);
    if !changes.is_empty() {
        let listed: Vec<String> = changes
            .iter()
            .take(5)
            .map(|c| {
                let here = match c.what() {
                    "added" => "only here",
                    "removed" => "missing here",
                    _ => "different here",
                };
                format!("{} {}: {here}", c.kind.as_str(), c.name)
            })
            .collect();
        let more = if changes.len() > 5 { "; …" } else { "" };
        return Err(Error::new(
            Problem::SchemaMismatch,
            if written {
                format!(
                    "the baseline written from {label}'s schema does not make it again on a scratch database \
                 ({}{more}): nothing was written or recorded.",
                    listed.join("; ")
                )
            } else {
                format!(
                    "{label}'s schema is not what {file} makes ({}{more}): nothing was recorded. Bring it in line by \
                 hand first.",
                    listed.join("; ")
                )
            },
        ));
    }
    let outcome = baseline::BaselineOutcome {
        file: file.clone(),
        version,
        written,
        recorded: !dry_run,
        dry_run,
        objects: live.objects.len(),
        sql: sql.clone(),
    };
    if dry_run {
        return Ok(outcome);
    }
    let path = s.ws.migrations.join(&file);
    if written {
        std::fs::create_dir_all(&s.ws.migrations).map_err(|e| Error::io("cannot create", &s.ws.migrations, &e))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, sql.as_bytes()))
            .map_err(|e| Error::io("cannot write", &path, &e).and("nothing was recorded"))?;
    }
    let source = s.ws.source()?;
    let m = baseline::existing(&source)
        .ok_or_else(|| Error::failed(format!("{} is gone from {}", file, s.ws.migrations.display())))?;
    let mut db = s.open(false).await?;
    let recorded = async {
        db.lock(s.lock_timeout).await?;
        let r = async {
            if !db.applied().await?.is_empty() {
                return Err(Error::new(
                    Problem::PlanChanged,
                    "a migration was recorded here meanwhile: nothing was recorded",
                ));
            }
            db.ensure_tables().await?;
            let change = db::Amend::Adopt {
                version: m.version,
                description: m.description.clone(),
                checksum: m.checksum.clone(),
            };
            let event = db::NewEvent {
                kind: db::EventKind::Baseline,
                version: Some(m.version),
                description: m.description.clone(),
                duration: None,
                outcome: db::Outcome::Ok,
                error: None,
                detail: Some(format!(
                    "recorded as applied, not run: the schema was already there ({} objects)",
                    live.objects.len()
                )),
            };
            db.amend(&[(change, event)], &db::actor()).await
        }
        .await;
        let _ = db.unlock().await;
        r
    }
    .await;
    db.close().await;
    if let Err(e) = recorded {
        return Err(match written {
            true => e
                .context(format!("{} was written, but recording it failed", path.display()))
                .and("Running baseline again records it."),
            false => e,
        });
    }
    Ok(outcome)
}
