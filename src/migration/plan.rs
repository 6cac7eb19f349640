//! The pure planner: given the files and the history table, what runs, in what order, or why not.
//! No I/O here, so every rule is a table-driven unit test.

use crate::db::Applied;
use crate::error::{Error, Problem, Remedy, Result};
use crate::migration::source::{Kind, MigrationFile, Source};

/// How far `down` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownTarget {
    Steps(usize),
    /// Revert everything above this version (which stays applied).
    To(i64),
}

/// A migration left part way by an earlier run, in its up or (`in_down`) in its down.
/// `in_down` names the database whose down ran, for its own down file where the project keeps one.
pub fn dirty_error(source: &Source, dirty: &Applied, in_down: Option<crate::syntax::Dialect>) -> Error {
    let m = source.get(dirty.version);
    let (v, d) = (dirty.version, &dirty.description);
    let message = if let Some(dialect) = in_down {
        let down = m.map(|m| m.down_name_for(Some(dialect))).filter(|n| !n.is_empty());
        let down = down.unwrap_or_else(|| "its down file".into());
        format!(
            "rolling back migration {v} ({d}) failed part way in an earlier run: {down} left the database partly \
             changed; nothing was run. Look at the database and {down}: finish the rollback by hand and mark it \
             resolved as rolled back, or put back what it removed and mark it resolved as applied."
        )
    } else {
        let file = m.map(|m| m.file_name()).unwrap_or_else(|| "its file".into());
        format!(
            "migration {v} ({d}) failed part way in an earlier run and left the database partly changed; nothing \
             was run. Look at the database and {file}, finish or undo that change by hand, then mark it resolved."
        )
    };
    let remedy = if in_down.is_some() { Remedy::resolve_rollback(v) } else { Remedy::resolve(v) };
    Error::new(Problem::Dirty { version: v }, message).with_remedy(remedy)
}

/// Refuses to run while the history table and the files disagree: a failed migration waiting for a
/// person, an applied migration whose file is gone, or one whose file changed after it ran.
pub fn validate(source: &Source, applied: &[Applied]) -> Result<()> {
    source.ensure_valid()?;
    if let Some(dirty) = applied.iter().find(|a| !a.success) {
        return Err(dirty_error(source, dirty, None));
    }
    for a in applied {
        match source.get(a.version) {
            None => {
                return Err(Error::new(
                    Problem::MissingFile { version: a.version },
                    format!(
                        "migration {} ({}) is applied to this database but its file is not in {}; nothing was \
                         run. Restore the file (e.g. from version control), or check out the branch that has it. \
                         If it was removed on purpose and its changes are undone, resolving it as rolled back \
                         forgets it.",
                        a.version,
                        a.description,
                        source.dir.display()
                    ),
                )
                .with_remedy(Remedy::forget(a.version)));
            }
            Some(m) if m.checksum != a.checksum => {
                return Err(Error::new(
                    Problem::Drift { version: a.version },
                    format!(
                        "{} was edited after it was applied (its checksum changed); nothing was run. Undo the edit, \
                     or if the change is intended and the database already matches it, accept it (repair it, \
                     saying why).",
                        m.file_name()
                    ),
                )
                .with_remedy(Remedy::Repair { version: a.version }));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A `--to` target must name a migration (a typo must not mean "all of them").
fn known_version(source: &Source, applied: &[Applied], v: i64, down: bool) -> Result<()> {
    if source.get(v).is_some() || applied.iter().any(|a| a.version == v) {
        return Ok(());
    }
    let hint = if down { " (rolling back to version 0 rolls back everything)" } else { "" };
    Err(Error::not_found(crate::Named::Migration, format!("no migration has version {v}; nothing was run{hint}."))
        .with_remedy(Remedy::Status))
}

/// Pending migrations up to `to` (inclusive), in version order. A pending migration older than the
/// newest applied one (two branches merged) is refused unless `allow_out_of_order`.
pub fn plan_up<'a>(
    source: &'a Source,
    applied: &[Applied],
    to: Option<i64>,
    allow_out_of_order: bool,
) -> Result<Vec<&'a MigrationFile>> {
    validate(source, applied)?;
    if let Some(v) = to {
        known_version(source, applied, v, false)?;
    }
    let newest = applied.iter().map(|a| a.version).max();
    let is_applied = |v: i64| applied.binary_search_by_key(&v, |a| a.version).is_ok();
    let pending: Vec<&MigrationFile> = source
        .migrations
        .iter()
        .filter(|m| !is_applied(m.version))
        .filter(|m| to.is_none_or(|t| m.version <= t))
        .collect();
    if !allow_out_of_order && let Some(newest) = newest {
        let late: Vec<String> = pending.iter().filter(|m| m.version < newest).map(|m| m.file_name()).collect();
        if !late.is_empty() {
            return Err(Error::new(
                Problem::OutOfOrder,
                format!(
                    "pending migration(s) older than the newest applied one ({newest}): {}. This usually comes \
                 from merging two branches; nothing was run. Give them new versions after {newest} (rename \
                 the files) if they depend on newer ones, or apply them as they are, out of order.",
                    late.join(", ")
                ),
            )
            .with_remedy(Remedy::AllowOutOfOrder)
            .with_remedy(Remedy::Rebase));
        }
    }
    Ok(pending)
}

/// Applied migrations to revert, newest first. Every one must be reversible with its down file present.
pub fn plan_down<'a>(source: &'a Source, applied: &[Applied], target: DownTarget) -> Result<Vec<&'a MigrationFile>> {
    validate(source, applied)?;
    if let DownTarget::To(v) = target
        && v != 0
    {
        known_version(source, applied, v, true)?;
    }
    let chosen: Vec<&Applied> = match target {
        DownTarget::Steps(n) => applied.iter().rev().take(n).collect(),
        DownTarget::To(v) => applied.iter().rev().take_while(|a| a.version > v).collect(),
    };
    let mut out = Vec::with_capacity(chosen.len());
    for a in chosen {
        let m = source.get(a.version).expect("validated: every applied version has a file");
        if m.kind == Kind::Simple {
            return Err(Error::input(format!(
                "migration {} ({}) is irreversible: {} has no down script; nothing was rolled back. To undo \
                 it, write a new migration that reverses it, or restore a backup taken before it.",
                m.version,
                m.description,
                m.file_name(),
            )));
        }
        if !m.has_down {
            let expected = m.down_path.as_ref().map(|p| crate::migration::source::file_name(p)).unwrap_or_default();
            return Err(Error::new(
                Problem::BadFile,
                format!(
                    "migration {} cannot be rolled back: its down file {expected} is missing; nothing was rolled back. \
                 Write it (the SQL that undoes {}) and try again.",
                    m.version,
                    m.file_name()
                ),
            ));
        }
        out.push(m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::source::Header;
    use chrono::Utc;
    use std::path::PathBuf;

    fn file(v: i64, kind: Kind, sql: &str) -> MigrationFile {
        use sha2::Digest;
        MigrationFile {
            version: v,
            description: format!("m{v}"),
            kind,
            path: PathBuf::from(format!("/x/{v}_m{v}.up.sql")),
            sql: sql.into(),
            checksum: sha2::Sha384::digest(sql.as_bytes()).to_vec(),
            no_transaction: false,
            bom: false,
            down_path: (kind == Kind::Reversible).then(|| PathBuf::from(format!("/x/{v}_m{v}.down.sql"))),
            has_down: kind == Kind::Reversible,
            header: Header::default(),
            repeatable: false,
        }
    }

    fn applied(m: &MigrationFile) -> Applied {
        Applied {
            version: m.version,
            description: m.description.clone(),
            installed_on: Utc::now(),
            success: true,
            checksum: m.checksum.clone(),
            execution_time: 1,
        }
    }

    fn source(files: Vec<MigrationFile>) -> Source {
        Source { dir: "/x".into(), migrations: files, ..Default::default() }
    }

    fn versions(ms: &[&MigrationFile]) -> Vec<i64> {
        ms.iter().map(|m| m.version).collect()
    }

    #[test]
    fn up_plans() {
        let s =
            source(vec![file(1, Kind::Reversible, "a"), file(2, Kind::Reversible, "b"), file(3, Kind::Simple, "c")]);
        let a1 = applied(&s.migrations[0]);
        let cases: Vec<(Vec<Applied>, Option<i64>, Vec<i64>)> = vec![
            (vec![], None, vec![1, 2, 3]),
            (vec![a1.clone()], None, vec![2, 3]),
            (vec![a1.clone()], Some(2), vec![2]),
            (vec![], Some(1), vec![1]),
        ];
        for (applied, to, want) in cases {
            assert_eq!(versions(&plan_up(&s, &applied, to, false).unwrap()), want, "to {to:?}");
        }
    }

    #[test]
    fn up_refusals() {
        let s = source(vec![file(1, Kind::Reversible, "a"), file(2, Kind::Reversible, "b")]);
        let mut drift = applied(&s.migrations[0]);
        drift.checksum = vec![0; 48];
        let e = plan_up(&s, &[drift], None, false).unwrap_err();
        assert_eq!(e.remedies, [Remedy::Repair { version: 1 }]);

        let mut dirty = applied(&s.migrations[0]);
        dirty.success = false;
        let e = plan_up(&s, &[dirty], None, false).unwrap_err();
        assert!(matches!(e.problem, crate::Problem::Dirty { .. }));
        assert_eq!(e.remedies, [Remedy::resolve(1)]);

        let mut gone = applied(&s.migrations[0]);
        gone.version = 9;
        let e = plan_up(&s, &[gone], None, false).unwrap_err();
        assert_eq!(e.problem, Problem::MissingFile { version: 9 });

        let late = applied(&s.migrations[1]);
        let e = plan_up(&s, std::slice::from_ref(&late), None, false).unwrap_err();
        assert_eq!(e.problem, Problem::OutOfOrder);
        assert_eq!(e.remedies, [Remedy::AllowOutOfOrder, Remedy::Rebase]);
        assert_eq!(versions(&plan_up(&s, &[late], None, true).unwrap()), vec![1]);
    }

    #[test]
    fn down_plans() {
        let s = source(vec![
            file(1, Kind::Reversible, "a"),
            file(2, Kind::Reversible, "b"),
            file(3, Kind::Reversible, "c"),
        ]);
        let all: Vec<Applied> = s.migrations.iter().map(applied).collect();
        assert_eq!(versions(&plan_down(&s, &all, DownTarget::Steps(1)).unwrap()), vec![3]);
        assert_eq!(versions(&plan_down(&s, &all, DownTarget::Steps(9)).unwrap()), vec![3, 2, 1]);
        assert_eq!(versions(&plan_down(&s, &all, DownTarget::To(1)).unwrap()), vec![3, 2]);
        assert!(plan_down(&s, &[], DownTarget::Steps(1)).unwrap().is_empty());
        assert_eq!(versions(&plan_down(&s, &all, DownTarget::To(0)).unwrap()), vec![3, 2, 1]);
        let e = plan_down(&s, &all, DownTarget::To(5)).unwrap_err();
        assert_eq!(e.problem, Problem::NotFound { what: crate::Named::Migration });
        assert_eq!(e.remedies, [Remedy::Status]);
        let e = plan_up(&s, &[], Some(99), false).unwrap_err();
        assert_eq!(e.problem, Problem::NotFound { what: crate::Named::Migration });
    }

    #[test]
    fn down_refuses_irreversible_and_missing_down_files() {
        let mut missing = file(2, Kind::Reversible, "b");
        missing.has_down = false;
        let s = source(vec![file(1, Kind::Simple, "a"), missing]);
        let all: Vec<Applied> = s.migrations.iter().map(applied).collect();
        let e = plan_down(&s, &all, DownTarget::Steps(1)).unwrap_err();
        assert_eq!(e.problem, Problem::BadFile, "{}", e.message);
        let e = plan_down(&s, &all[..1], DownTarget::Steps(1)).unwrap_err();
        assert_eq!(e.problem, Problem::Input, "an irreversible migration: {}", e.message);
    }
}
