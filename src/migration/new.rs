//! `godwit new`: a new migration file pair with the guide's header, at a version nobody has.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::migration::source::{Source, SourceProblem};
use crate::sqlx_config::{MigrationType, SqlxConfig, Versioning};

/// What to write into a new migration.
#[derive(Debug, Clone, Default)]
pub struct NewMigration {
    pub name: String,
    /// Write a reversible pair (`.up.sql` + `.down.sql`); otherwise one irreversible `.sql`.
    pub reversible: bool,
    pub up: String,
    pub down: String,
    pub no_transaction: bool,
    /// Write it though its up has no statement yet (a file to fill in). Otherwise such an up is
    /// refused: once applied it would be recorded as done and change nothing.
    pub allow_empty: bool,
    /// How to number it, as sqlx.toml's `migration-versioning` says; `None`: a timestamp.
    pub versioning: Option<Versioning>,
    /// Downs of other databases than the one `down` is for, where theirs differ (`mysql/…`).
    pub own_downs: Vec<crate::template::OwnDown>,
}

/// Whether a new migration is an up/down pair when the person did not say: sqlx.toml's
/// `migration-type`, as `sqlx migrate add` reads it (inferred: as the newest migration is, a single
/// file when there is none). Without an sqlx.toml, a pair.
pub fn reversible_by_default(dir: &Path, sqlx: Option<&SqlxConfig>) -> bool {
    match sqlx.map(|c| c.migration_type) {
        None | Some(MigrationType::Reversible) => true,
        Some(MigrationType::Simple) => false,
        Some(MigrationType::Inferred) => Source::load(dir)
            .ok()
            .and_then(|s| s.migrations.last().map(|m| m.kind == crate::migration::source::Kind::Reversible))
            .unwrap_or(false),
    }
}

/// The version and how it is written in the file name: sqlx's sequential numbers are written with
/// four digits at least (`0002`), timestamps as they are.
fn numbered(versioning: Option<Versioning>, newest: &[i64], after_taken: i64, stamp: i64) -> (i64, String) {
    let sequential = match versioning {
        None | Some(Versioning::Timestamp) => false,
        Some(Versioning::Sequential) => true,
        Some(Versioning::Inferred) => match newest {
            [.., previous, latest] => latest - previous == 1,
            [latest] => matches!(latest, 0 | 1),
            [] => false,
        },
    };
    if sequential {
        let v = after_taken.max(1);
        (v, format!("{v:04}"))
    } else {
        let v = stamp.max(after_taken);
        (v, v.to_string())
    }
}

/// Whether SQL holds a statement (not only blanks and comments). Unclosed text counts as one: the
/// run reports it.
pub fn has_statement(sql: &str) -> bool {
    crate::syntax::split::split(sql, crate::syntax::Dialect::Postgres).map_or(true, |s| !s.is_empty())
}

/// Turns what a person typed into the file-name part: `Add email column` -> `add_email_column`.
pub fn slug(name: &str) -> Result<String> {
    let s: String =
        name.trim().chars().map(|c| if c.is_whitespace() || c == '-' { '_' } else { c.to_ascii_lowercase() }).collect();
    if s.is_empty() {
        return Err(Error::input("a migration needs a name, e.g. add_email_column"));
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::input(format!(
            "`{name}` is not a usable migration name: use letters, digits, spaces, - and _, e.g. add_email_column"
        )));
    }
    Ok(s)
}

/// Writes a new repeatable file, `<name>.sql` in `dir` (made when missing), with `sql` under a
/// comment that says how it runs. Refuses a name another file has.
pub fn create_repeatable(dir: &Path, name: &str, sql: &str) -> Result<PathBuf> {
    let slug = slug(name)?;
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, &e))?;
    let path = dir.join(format!("{slug}.sql"));
    let text = format!(
        "-- {name}\n--\n-- Repeatable: applied after the versioned migrations whenever this file changes, and\n\
         -- rebuilt after a rollback. Write it so that it can run again over itself\n\
         -- (CREATE OR REPLACE VIEW ..., or DROP ... IF EXISTS, then CREATE).\n\n{}",
        sql.trim_start()
    );
    let mut f = OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            Error::input(format!("{} exists already: edit it, or give the new file another name.", path.display()))
        }
        _ => Error::io("cannot create", &path, &e),
    })?;
    f.write_all(text.as_bytes()).map_err(|e| Error::io("cannot write", &path, &e))?;
    Ok(path)
}

/// Writes the files and returns their paths. Holds a lock on the folder while it picks the version,
/// so two `new` at the same second get different versions.
pub fn create(dir: &Path, spec: &NewMigration, now: DateTime<Utc>) -> Result<Vec<PathBuf>> {
    let slug = slug(&spec.name)?;
    if !spec.allow_empty && !has_statement(&spec.up) {
        return Err(Error::input(format!(
            "the up of `{}` has no statement, so nothing was written: once applied it would be recorded as \
             done and change nothing. Write its SQL (or fill it from its template) first.",
            spec.name
        ))
        .with_remedy(crate::error::Remedy::CreateEmpty));
    }
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, &e))?;
    let _guard = crate::fslock::lock(&crate::fslock::private_path(dir, "new")?)?;
    let source = Source::load(dir)?;
    // Two files at one version (a merge) are still the newest: the new file follows them.
    let duplicated = source.problems.iter().filter_map(|p| match p {
        SourceProblem::DuplicateVersion { version, .. } => Some(*version),
        _ => None,
    });
    let newest = source.migrations.iter().map(|m| m.version).chain(duplicated).max();
    // Any version taken by any file, including broken ones, counts as taken.
    let taken = fs::read_dir(dir)
        .map_err(|e| Error::input(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.split('_').next()?.parse::<i64>().ok())
        .max();
    let stamp: i64 = now.format("%Y%m%d%H%M%S").to_string().parse().expect("digits");
    let after_taken = match taken {
        None => 0,
        Some(t) => t.checked_add(1).ok_or_else(|| {
            Error::input(format!(
                "{} has a migration with version {t}, the largest there is: no version is left after it. \
                 Renumber that migration (a timestamp such as {stamp}) and try again.",
                dir.display()
            ))
        })?,
    };
    let versions: Vec<i64> = source.migrations.iter().map(|m| m.version).collect();
    let (version, prefix) = numbered(spec.versioning, &versions, after_taken, stamp);

    let description = slug.replace('_', " ");
    let mut header = String::new();
    if spec.no_transaction {
        header.push_str("-- no-transaction\n");
    }
    header.push_str(&format!(
        "-- {description}\n--\n-- Revision ID: {version}\n-- Revises: {}\n-- Create Date: {}\n\n",
        newest.map(|v| v.to_string()).unwrap_or_default(),
        now.format("%Y-%m-%d %H:%M:%S")
    ));
    let revert = |sql: &str| {
        format!("{}-- Revert: {description}\n\n{sql}", if spec.no_transaction { "-- no-transaction\n" } else { "" })
    };
    let files: Vec<(PathBuf, String)> = if spec.reversible {
        let down = format!("{prefix}_{slug}.down.sql");
        let mut files = vec![
            (dir.join(format!("{prefix}_{slug}.up.sql")), format!("{header}{}", spec.up)),
            (dir.join(&down), revert(&spec.down)),
        ];
        for own in &spec.own_downs {
            let folder = dir.join(own.dialect.key());
            fs::create_dir_all(&folder).map_err(|e| Error::io("cannot create", &folder, &e))?;
            files.push((folder.join(&down), revert(&own.sql)));
        }
        files
    } else {
        vec![(dir.join(format!("{prefix}_{slug}.sql")), format!("{header}{}", spec.up))]
    };
    for (path, body) in &files {
        // A file ends with a newline, as editors and diffs expect (a typed one may lack it).
        let body = if body.ends_with('\n') { body.clone() } else { format!("{body}\n") };
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io("cannot create", path, &e))?;
        f.write_all(body.as_bytes()).map_err(|e| Error::io("cannot write", path, &e))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn same_second_gets_distinct_versions_and_a_chain() {
        let d = tempfile::tempdir().unwrap();
        let now = Utc.with_ymd_and_hms(2024, 2, 1, 14, 57, 45).unwrap();
        let spec = |n: &str| NewMigration { name: n.into(), reversible: true, allow_empty: true, ..Default::default() };
        let a = create(d.path(), &spec("create todos table"), now).unwrap();
        let b = create(d.path(), &spec("add-email"), now).unwrap();
        assert!(a[0].ends_with("20240201145745_create_todos_table.up.sql"));
        assert!(b[0].ends_with("20240201145746_add_email.up.sql"));
        let s = Source::load(d.path()).unwrap();
        assert!(s.problems.is_empty());
        assert_eq!(s.migrations[0].header.revises.as_deref(), Some(""));
        assert_eq!(s.migrations[1].header.revises.as_deref(), Some("20240201145745"));
        assert_eq!(s.migrations[1].header.revision_id.as_deref(), Some("20240201145746"));
        assert!(s.migrations[1].sql.starts_with("-- add email\n"));
    }

    #[test]
    fn a_version_two_files_share_is_what_a_new_one_revises() {
        let d = tempfile::tempdir().unwrap();
        for f in ["1_a.sql", "5_ours.sql", "5_theirs.sql"] {
            fs::write(d.path().join(f), "SELECT 1;").unwrap();
        }
        let spec = NewMigration { name: "next".into(), allow_empty: true, ..Default::default() };
        let made = create(d.path(), &spec, Utc::now()).unwrap();
        let sql = fs::read_to_string(&made[0]).unwrap();
        assert!(sql.contains("-- Revises: 5\n"), "{sql}");
    }

    #[test]
    fn an_up_without_a_statement_is_written_only_when_asked_for() {
        let d = tempfile::tempdir().unwrap();
        let empty = NewMigration { name: "later".into(), up: "-- to do\n".into(), ..Default::default() };
        let e = create(d.path(), &empty, Utc::now()).unwrap_err();
        assert_eq!(e.remedies, [crate::error::Remedy::CreateEmpty]);
        assert!(Source::load(d.path()).unwrap().migrations.is_empty(), "nothing written");
        create(d.path(), &NewMigration { allow_empty: true, ..empty }, Utc::now()).unwrap();
        assert_eq!(Source::load(d.path()).unwrap().migrations.len(), 1);
    }

    #[test]
    fn concurrent_news_never_collide() {
        let d = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let dir = d.path().to_path_buf();
                std::thread::spawn(move || {
                    let spec = NewMigration { name: format!("m{i}"), up: "SELECT 1;".into(), ..Default::default() };
                    create(&dir, &spec, now).unwrap()
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let s = Source::load(d.path()).unwrap();
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.migrations.len(), 8);
    }

    #[test]
    fn numbering_and_shape_follow_sqlx_toml_as_sqlx_migrate_add_does() {
        let d = tempfile::tempdir().unwrap();
        let now = Utc.with_ymd_and_hms(2024, 2, 1, 14, 57, 45).unwrap();
        let spec = |name: &str, v: Option<Versioning>| NewMigration {
            name: name.into(),
            up: "SELECT 1;".into(),
            versioning: v,
            ..Default::default()
        };
        let names = || {
            let mut n: Vec<String> =
                fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            n.sort();
            n
        };
        // Inferred on an empty folder: a timestamp, as sqlx writes.
        create(d.path(), &spec("a", Some(Versioning::Inferred)), now).unwrap();
        assert_eq!(names(), ["20240201145745_a.sql"]);
        let d2 = tempfile::tempdir().unwrap();
        create(d2.path(), &spec("first", Some(Versioning::Sequential)), now).unwrap();
        create(d2.path(), &spec("second", Some(Versioning::Inferred)), now).unwrap();
        create(d2.path(), &spec("third", Some(Versioning::Inferred)), now).unwrap();
        let mut got: Vec<String> =
            fs::read_dir(d2.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        got.sort();
        assert_eq!(got, ["0001_first.sql", "0002_second.sql", "0003_third.sql"]);
        // Asked for a timestamp, after sequential ones: the timestamp.
        create(d2.path(), &spec("fourth", Some(Versioning::Timestamp)), now).unwrap();
        assert_eq!(Source::load(d2.path()).unwrap().migrations.last().unwrap().version, 20240201145745);

        let sqlx = |t: &str| crate::sqlx_config::SqlxConfig {
            migration_type: toml::Value::String(t.into()).try_into().unwrap(),
            ..Default::default()
        };
        assert!(reversible_by_default(d.path(), None), "Godwit's own default: a pair");
        assert!(reversible_by_default(d.path(), Some(&sqlx("reversible"))));
        assert!(!reversible_by_default(d.path(), Some(&sqlx("simple"))));
        assert!(!reversible_by_default(d.path(), Some(&sqlx("inferred"))), "the newest is one file");
        create(d.path(), &NewMigration { reversible: true, ..spec("b", None) }, now).unwrap();
        assert!(reversible_by_default(d.path(), Some(&sqlx("inferred"))), "the newest is a pair");
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(slug(" Add email-column ").unwrap(), "add_email_column");
        assert!(slug("drop; table").is_err());
        assert!(slug("  ").is_err());
    }
}
