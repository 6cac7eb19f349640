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
        false => Source { dir: s.ws.migrations.clone(), ..Default::default() },
    };
    let label = s.ws.confirm_name();
    let mut db = s.read().await?.ok_or_else(|| {
        Error::new(
            Problem::NoDatabase,
            format!("{} does not exist yet: there is no schema to baseline.", s.ws.target.display()),
        )
    })?;
    let live = async {
        let applied = db.applied().await?.len();
        let other = baseline::other_tool(db.as_mut()).await?;
        refuse_history(&label, applied, other)?;
        let live = db.inspect().await?;
        refuse_empty(&label, live.objects.len())?;
        Ok::<_, Error>(live)
    }
    .await;
    db.close().await;
    let live = live?;

    let now = chrono::Utc::now();
    let (file, sql, written) = match plan_file(&source, version, now, &s.ws.migrations)? {
        Some(m) => (m.file_name(), m.sql.clone(), false),
        None => {
            let version = version.unwrap_or_else(|| stamp(now));
            let dump = backup::tool::as_migration_sql(&schema_sql(s).await?, &s.connect.tables);
            let sql = baseline::render(&dump, s.ws.target.dialect(), version, &label, now);
            (baseline::file_name(version), sql, true)
        }
    };

    // The proof: the file run on a scratch database beside the environment makes its schema.
    let (made, version, _) = built_by(s, &file, &sql, false, cancel).await?;
    let changes = crate::schema::diff(&made, &live);
    if !changes.is_empty() {
        let listed = crate::schema::listed(&changes);
        return Err(Error::new(
            Problem::SchemaMismatch,
            if written {
                format!(
                    "the baseline written from {label}'s schema does not make it again on a scratch database \
                 ({listed}): nothing was written or recorded."
                )
            } else {
                format!(
                    "{label}'s schema is not what {file} makes ({listed}): nothing was recorded. Bring it in line by \
                 hand first."
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
    let objects = live.objects.len();
    let recorded = crate::migration::amend::under_lock(db.as_mut(), s.lock_timeout, |applied| {
        if !applied.is_empty() {
            return Err(Error::new(
                Problem::PlanChanged,
                "a migration was recorded here meanwhile: nothing was recorded",
            ));
        }
        let change =
            db::Amend::Adopt { version: m.version, description: m.description.clone(), checksum: m.checksum.clone() };
        let event = db::NewEvent {
            kind: db::EventKind::Baseline,
            version: Some(m.version),
            description: m.description.clone(),
            duration: None,
            outcome: db::Outcome::Ok,
            error: None,
            detail: Some(format!("recorded as applied, not run: the schema was already there ({objects} objects)")),
        };
        Ok((vec![(change, event)], ()))
    })
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

/// A version made of the time, as `new` names files.
fn stamp(now: chrono::DateTime<chrono::Utc>) -> i64 {
    now.format("%Y%m%d%H%M%S").to_string().parse().expect("digits")
}

/// A database with a history cannot be baselined: migrations already recorded there, or another
/// tool's history table.
fn refuse_history(label: &str, applied: usize, other: Option<(crate::import::Tool, &str)>) -> Result<()> {
    if applied > 0 {
        return Err(Error::input(format!(
            "{label} already has {applied} migration(s) recorded: baseline is for a database no migrations made."
        ))
        .with_remedy(Remedy::Status));
    }
    if let Some((tool, table)) = other {
        let whose = match tool {
            crate::import::Tool::Dbmate => "dbmate's or golang-migrate's".to_string(),
            t => format!("{}'s", t.name()),
        };
        return Err(Error::input(format!(
            "{label} has {table}, {whose} history table: bring that tool's migrations in with an import, which also \
             records what ran here, rather than a baseline."
        )));
    }
    Ok(())
}

/// Nor can one with nothing in it.
fn refuse_empty(label: &str, objects: usize) -> Result<()> {
    match objects {
        0 => Err(Error::input(format!(
            "{label} holds no tables, views or other objects: there is nothing to baseline. Start with a new \
             migration instead."
        ))),
        _ => Ok(()),
    }
}

/// The baseline file: the project's own when it has one (`Some`, to record elsewhere), else none
/// yet (`None`: written from the schema). Refused when the folder holds other migrations, or
/// `version` is not the existing baseline's or not a positive number.
fn plan_file<'a>(
    source: &'a Source,
    version: Option<i64>,
    now: chrono::DateTime<chrono::Utc>,
    folder: &Path,
) -> Result<Option<&'a MigrationFile>> {
    use crate::import::baseline;
    match baseline::existing(source) {
        Some(m) if version.is_some_and(|v| v != m.version) => Err(Error::input(format!(
            "the project's baseline is {} already: record it here without another version.",
            m.file_name()
        ))),
        Some(m) => Ok(Some(m)),
        None if !source.migrations.is_empty() => Err(Error::input(format!(
            "{} already holds {} migration(s) and none is a baseline: baseline writes a project's first migration.",
            folder.display(),
            source.migrations.len()
        ))),
        None if version.unwrap_or_else(|| stamp(now)) <= 0 => {
            Err(Error::input("a version is a positive number, such as a timestamp (20240201145745)."))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::folder;
    use super::*;

    #[test]
    fn a_database_with_history_another_tools_table_or_nothing_in_it_is_refused() {
        assert!(refuse_history("prod", 0, None).is_ok());
        assert!(refuse_empty("prod", 3).is_ok());
        let e = refuse_history("prod", 2, None).unwrap_err();
        assert_eq!((e.problem, e.remedies), (Problem::Input, vec![Remedy::Status]));
        let flyway = Some((crate::import::Tool::Flyway, "flyway_schema_history"));
        assert_eq!(refuse_history("prod", 0, flyway).unwrap_err().problem, Problem::Input);
        assert_eq!(refuse_empty("prod", 0).unwrap_err().problem, Problem::Input);
    }

    #[test]
    fn the_projects_baseline_is_recorded_elsewhere_and_a_new_one_needs_an_empty_folder() {
        let now = chrono::Utc::now();
        let (d, empty) = folder(&[]);
        assert!(plan_file(&empty, None, now, d.path()).unwrap().is_none(), "written now");
        assert!(plan_file(&empty, Some(7), now, d.path()).unwrap().is_none());
        assert_eq!(plan_file(&empty, Some(0), now, d.path()).unwrap_err().problem, Problem::Input);

        let (d, has) = folder(&[("5_baseline.sql", "CREATE TABLE a (id INT);"), ("6_b.sql", "SELECT 1;")]);
        assert_eq!(plan_file(&has, None, now, d.path()).unwrap().map(|m| m.version), Some(5));
        assert_eq!(plan_file(&has, Some(5), now, d.path()).unwrap().map(|m| m.version), Some(5));
        assert_eq!(plan_file(&has, Some(9), now, d.path()).unwrap_err().problem, Problem::Input);

        let (d, other) = folder(&[("1_a.sql", "CREATE TABLE a (id INT);")]);
        assert_eq!(plan_file(&other, None, now, d.path()).unwrap_err().problem, Problem::Input);
    }
}
