//! `godwit rebase`: the fix for the revision conflicts and out-of-order migrations `check` reports.
//! The migrations no environment has applied that are in the way (the later side of a conflict,
//! pending files older than an applied one, and whatever revises them) get new versions after the
//! newest that stays, in their order, with their `Revision ID:` and `Revises:` re-linked in a line.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::migration::source::{MigrationFile, Source};

/// One migration's new version and file names.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export)]
pub struct Rename {
    pub version: i64,
    pub new_version: i64,
    /// The files as they are named now, the up first.
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// Why it moves: "revision conflict", "out of order", "revises a newer migration", "revises a
    /// moved migration" or "shares its version".
    pub why: String,
    /// Its up file has a `Revision ID:` or `Revises:` line, rewritten to follow the new order.
    pub relinked: bool,
}

/// The renames, in order; empty when nothing is in the way.
#[derive(ts_rs::TS, Debug, Clone, Default, Serialize)]
#[ts(export)]
pub struct RebasePlan {
    pub renames: Vec<Rename>,
    /// The newest migration that stays: the first renamed one follows it.
    pub after: Option<i64>,
    /// Files that revise the same migration and are each applied in some environment: none can
    /// be renumbered, and their order is history there.
    pub settled: Vec<String>,
}

/// What to move, given the versions applied in any environment reachable and, for files that share
/// a version, the checksums applied (`sums`) that tell which one ran.
pub fn plan(
    source: &Source,
    applied: &BTreeSet<i64>,
    sums: &BTreeSet<(i64, Vec<u8>)>,
    now: DateTime<Utc>,
) -> Result<RebasePlan> {
    let pending = |m: &&MigrationFile| !applied.contains(&m.version);
    let mut why: BTreeMap<i64, &'static str> = BTreeMap::new();

    // The later side of each conflict (two files revising the same parent); the oldest child, or
    // one already applied, stays.
    let mut settled = Vec::new();
    for kids in source.siblings() {
        if kids.iter().all(|m| applied.contains(&m.version)) {
            settled.extend(kids.iter().map(|m| m.file_name()));
        }
        let stays = kids.iter().find(|m| applied.contains(&m.version)).unwrap_or(&kids[0]).version;
        for m in kids.iter().filter(|m| !applied.contains(&m.version) && m.version != stays) {
            why.insert(m.version, "revision conflict");
        }
    }
    // Pending files older than one applied somewhere.
    if let Some(newest) = applied.iter().max() {
        for m in source.migrations.iter().filter(pending).filter(|m| m.version < *newest) {
            why.entry(m.version).or_insert("out of order");
        }
    }
    // Pending files chained after a newer one: they would run before it.
    for m in source.migrations.iter().filter(pending) {
        if m.header
            .revises
            .as_deref()
            .and_then(|p| p.parse::<i64>().ok())
            .is_some_and(|p| p > m.version && source.get(p).is_some())
        {
            why.entry(m.version).or_insert("revises a newer migration");
        }
    }
    // And what revises a moved one, to the end of its line.
    loop {
        let moved: BTreeSet<String> = why.keys().map(|v| v.to_string()).collect();
        let more: Vec<i64> = source
            .migrations
            .iter()
            .filter(|m| !why.contains_key(&m.version))
            .filter(|m| m.header.revises.as_deref().is_some_and(|p| moved.contains(p)))
            .map(|m| m.version)
            .collect();
        if more.is_empty() {
            break;
        }
        for v in more {
            why.insert(v, "revises a moved migration");
        }
    }
    let shared = sharing_a_version(source, applied, sums)?;
    if why.is_empty() && shared.is_empty() {
        return Ok(RebasePlan { settled, ..RebasePlan::default() });
    }
    let applied_moved: Vec<String> = source
        .migrations
        .iter()
        .filter(|m| why.contains_key(&m.version) && applied.contains(&m.version))
        .map(|m| m.file_name())
        .collect();
    if !applied_moved.is_empty() {
        return Err(Error::input(format!(
            "{} would have to move, but {} applied in an environment: renaming it would run it again there. \
             Nothing was renamed",
            applied_moved.join(", "),
            if applied_moved.len() == 1 { "it is" } else { "they are" }
        )));
    }
    let after = source
        .migrations
        .iter()
        .map(|m| m.version)
        .filter(|v| !why.contains_key(v))
        .chain(applied.iter().copied())
        .chain(source.clashes.iter().filter_map(|files| files.first()).map(|m| m.version))
        .max();
    let stamp: i64 = now.format("%Y%m%d%H%M%S").to_string().parse().expect("digits");
    let mut movers: Vec<(&MigrationFile, &str)> =
        source.migrations.iter().filter_map(|m| Some((m, *why.get(&m.version)?))).collect();
    movers.extend(shared.into_iter().map(|m| (m, "shares its version")));
    movers.sort_by_key(|(m, _)| (m.version, m.file_name()));
    let last = i64::MAX - movers.len() as i64;
    let first = match after {
        Some(a) if a >= last => {
            return Err(Error::input(format!(
                "{a} is the newest version, and no {} version(s) are left after it: renumber it (a timestamp such as \
                 {stamp}) first",
                movers.len()
            )));
        }
        Some(a) => stamp.max(a + 1),
        None => stamp,
    };
    let mut renames = Vec::new();
    for (next, (m, why)) in (first..).zip(movers) {
        let mut from = vec![m.file_name()];
        let mut to = vec![renamed(&m.file_name(), next)];
        if m.has_down
            && let Some(down) = &m.down_path
        {
            let name = crate::migration::source::file_name(down);
            to.push(renamed(&name, next));
            from.push(name);
        }
        for own in m.own_downs() {
            let (db, name) = own.split_once('/').expect("a database's folder and a file");
            to.push(format!("{db}/{}", renamed(name, next)));
            from.push(own);
        }
        let relinked = m.header.revision_id.is_some() || m.header.revises.is_some();
        renames.push(Rename { version: m.version, new_version: next, from, to, why: why.into(), relinked });
    }
    Ok(RebasePlan { renames, after, settled })
}

/// Of the files that share a version, those to renumber: all but the one an environment applied
/// (its checksum tells which), or all but the first by name where none is applied. Refused where
/// which one ran cannot be told.
fn sharing_a_version<'a>(
    source: &'a Source,
    applied: &BTreeSet<i64>,
    sums: &BTreeSet<(i64, Vec<u8>)>,
) -> Result<Vec<&'a MigrationFile>> {
    let mut out = Vec::new();
    for files in &source.clashes {
        let Some(first) = files.first() else { continue };
        let v = first.version;
        let ran: Vec<&MigrationFile> = files.iter().filter(|m| sums.contains(&(v, m.checksum.clone()))).collect();
        let stays = match ran.as_slice() {
            // Files alike to the byte are one migration, whichever stays.
            [one, more @ ..] if more.iter().all(|m| m.checksum == one.checksum) => *one,
            [] if !applied.contains(&v) => first,
            _ => {
                let names: Vec<String> = files.iter().map(|m| m.file_name()).collect();
                return Err(Error::input(format!(
                    "{} share version {v}, which an environment applied, and {}: rebase cannot tell which one ran \
                     there. Give the others new versions by hand (`new` picks a free one). Nothing was renamed",
                    names.join(", "),
                    if ran.is_empty() {
                        "none of them is the file that ran (it was edited)"
                    } else {
                        "each ran somewhere"
                    }
                )));
            }
        };
        out.extend(files.iter().filter(|m| m.path != stays.path));
    }
    Ok(out)
}

/// `20240101_add_x.up.sql` as version `v`.
fn renamed(name: &str, v: i64) -> String {
    format!("{v}_{}", name.split_once('_').map_or("", |(_, rest)| rest))
}

/// The up file's header with its new `Revision ID:` and `Revises:` (lines it lacks stay absent).
fn relinked(sql: &str, version: i64, parent: Option<i64>) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_header = true;
    for line in sql.split_inclusive('\n') {
        let text = line.trim_start_matches('\u{feff}');
        in_header &= text.starts_with("--");
        let key = text.trim_start_matches('-').trim_start();
        let eol = if line.ends_with('\n') { "\n" } else { "" };
        if in_header && key.to_ascii_lowercase().starts_with("revision id:") {
            out.push_str(&format!("-- Revision ID: {version}{eol}"));
        } else if in_header && key.to_ascii_lowercase().starts_with("revises:") {
            out.push_str(&format!("-- Revises: {}{eol}", parent.map(|p| p.to_string()).unwrap_or_default()));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Does the renames: every new file is written before any old one is removed, and a failure takes
/// back what this run wrote.
pub fn apply(plan: &RebasePlan, dir: &Path) -> Result<()> {
    let mut written: Vec<PathBuf> = Vec::new();
    let undo = |written: &[PathBuf]| {
        for p in written {
            let _ = fs::remove_file(p);
        }
    };
    let mut parent = plan.after;
    for r in &plan.renames {
        for (i, (from, to)) in r.from.iter().zip(&r.to).enumerate() {
            let old = dir.join(from);
            let result = fs::read_to_string(&old).and_then(|text| {
                let text = if i == 0 { relinked(&text, r.new_version, parent) } else { text };
                let new = dir.join(to);
                let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&new)?;
                written.push(new);
                std::io::Write::write_all(&mut f, text.as_bytes())
            });
            if let Err(e) = result {
                undo(&written);
                return Err(Error::input(format!("cannot rename {from} to {to}: {e}; nothing was renamed")));
            }
        }
        parent = Some(r.new_version);
    }
    let mut left = Vec::new();
    for name in plan.renames.iter().flat_map(|r| &r.from) {
        if let Err(e) = fs::remove_file(dir.join(name)) {
            left.push(format!("{name} ({e})"));
        }
    }
    if !left.is_empty() {
        return Err(Error::failed(format!(
            "the renamed files are written, but these old ones could not be removed: {}. Remove them by hand",
            left.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::source::SourceProblem;

    fn write(dir: &Path, name: &str, body: &str) {
        fs::write(dir.join(name), body).unwrap();
    }

    fn header(v: i64, parent: &str) -> String {
        format!("-- m{v}\n--\n-- Revision ID: {v}\n-- Revises: {parent}\n\nSELECT {v};\n")
    }

    #[test]
    fn the_later_side_of_a_conflict_moves_after_the_head_with_what_revises_it() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "1_base.up.sql", &header(1, ""));
        write(d.path(), "1_base.down.sql", "SELECT 0;");
        write(d.path(), "2_ours.up.sql", &header(2, "1"));
        write(d.path(), "3_theirs.up.sql", &header(3, "1"));
        write(d.path(), "3_theirs.down.sql", "SELECT 0;");
        write(d.path(), "4_theirs_more.sql", &header(4, "3"));
        write(d.path(), "5_ours_more.sql", &header(5, "2"));
        let source = Source::load(d.path()).unwrap();
        let now = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let applied = BTreeSet::from([1, 2]);
        let p = plan(&source, &applied, &BTreeSet::new(), now).unwrap();
        let moved: Vec<(i64, i64, &str)> =
            p.renames.iter().map(|r| (r.version, r.new_version, r.why.as_str())).collect();
        assert_eq!(moved, [(3, 20240101000000, "revision conflict"), (4, 20240101000001, "revises a moved migration")]);
        assert_eq!(p.after, Some(5));
        assert!(p.renames.iter().all(|r| r.relinked), "their headers are rewritten");
        assert_eq!(p.renames[0].to, ["20240101000000_theirs.up.sql", "20240101000000_theirs.down.sql"]);
        apply(&p, d.path()).unwrap();
        let after = Source::load(d.path()).unwrap();
        assert!(after.problems.is_empty());
        let v: Vec<i64> = after.migrations.iter().map(|m| m.version).collect();
        assert_eq!(v, [1, 2, 5, 20240101000000, 20240101000001]);
        let m = after.get(20240101000001).unwrap();
        assert_eq!(m.header.revision_id.as_deref(), Some("20240101000001"));
        assert_eq!(m.header.revises.as_deref(), Some("20240101000000"));
        assert_eq!(after.get(20240101000000).unwrap().header.revises.as_deref(), Some("5"));
        use crate::migration::check::FindingKind as K;
        let chain: Vec<_> = crate::migration::check::check_files(&after, None, &[1, 2])
            .into_iter()
            .filter(|f| matches!(f.kind, K::RevisionConflict | K::UnknownRevision | K::RevisionIdMismatch))
            .collect();
        assert!(chain.is_empty(), "{chain:?}");
    }

    #[test]
    fn a_databases_own_down_moves_with_its_migration_and_a_stray_one_is_a_problem() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "1_a.up.sql", "SELECT 1;");
        write(d.path(), "2_b.up.sql", "SELECT 2;");
        write(d.path(), "2_b.down.sql", "DROP INDEX i;");
        fs::create_dir(d.path().join("mysql")).unwrap();
        write(d.path(), "mysql/2_b.down.sql", "DROP INDEX i ON t;");
        let source = Source::load(d.path()).unwrap();
        assert!(source.problems.is_empty(), "{:?}", source.problems);
        let m = source.get(2).unwrap();
        assert_eq!(m.down_sql_for(Some(crate::syntax::Dialect::MySql)).unwrap(), "DROP INDEX i ON t;");
        assert_eq!(m.down_sql_for(Some(crate::syntax::Dialect::Sqlite)).unwrap(), "DROP INDEX i;");
        assert_eq!(m.down_name_for(Some(crate::syntax::Dialect::MySql)), "mysql/2_b.down.sql");
        let now = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let p =
            plan(&source, &BTreeSet::from([1, 3]), &BTreeSet::new(), now).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(p.renames[0].from, ["2_b.up.sql", "2_b.down.sql", "mysql/2_b.down.sql"]);
        apply(&p, d.path()).unwrap();
        let after = Source::load(d.path()).unwrap();
        assert!(after.problems.is_empty(), "{:?}", after.problems);
        let moved = after.migrations.last().unwrap();
        assert_eq!(moved.down_sql_for(Some(crate::syntax::Dialect::MySql)).unwrap(), "DROP INDEX i ON t;");
        // One left behind by a rename made by hand would no longer run: the folder says so.
        write(d.path(), "mysql/7_gone.down.sql", "SELECT 0;");
        let stray = Source::load(d.path()).unwrap();
        assert!(
            matches!(&stray.problems[..], [SourceProblem::DownWithoutUp { file, .. }] if file == "mysql/7_gone.down.sql"),
            "{:?}",
            stray.problems
        );
    }

    #[test]
    fn out_of_order_files_move_and_applied_ones_are_refused() {
        let d = tempfile::tempdir().unwrap();
        for v in 1..=3 {
            write(d.path(), &format!("{v}_m.sql"), &format!("SELECT {v};"));
        }
        let source = Source::load(d.path()).unwrap();
        let now = Utc::now();
        let p = plan(&source, &BTreeSet::from([1, 3]), &BTreeSet::new(), now).unwrap();
        assert_eq!(p.renames.iter().map(|r| r.version).collect::<Vec<_>>(), [2]);
        assert!(!p.renames[0].relinked, "a file without a header has none to rewrite");
        assert!(plan(&source, &BTreeSet::from([1, 2, 3]), &BTreeSet::new(), now).unwrap().renames.is_empty());
        write(d.path(), "4_x.sql", &header(4, "1"));
        write(d.path(), "5_y.sql", &header(5, "1"));
        let source = Source::load(d.path()).unwrap();
        // Two children of 1: the applied one (5) stays, though 4 is older.
        let p = plan(&source, &BTreeSet::from([1, 2, 3, 5]), &BTreeSet::new(), now).unwrap();
        assert_eq!(p.renames.iter().map(|r| r.version).collect::<Vec<_>>(), [4]);
        write(d.path(), "6_z.sql", &header(6, "4"));
        let source = Source::load(d.path()).unwrap();
        let e = plan(&source, &BTreeSet::from([1, 2, 3, 5, 6]), &BTreeSet::new(), now).unwrap_err();
        assert_eq!(e.problem, crate::error::Problem::Input);
    }

    #[test]
    fn a_conflict_applied_on_both_sides_somewhere_is_settled_not_moved() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "1_base.sql", &header(1, ""));
        write(d.path(), "2_ours.sql", &header(2, "1"));
        write(d.path(), "3_theirs.sql", &header(3, "1"));
        let source = Source::load(d.path()).unwrap();
        // Applied in some environment each (the union of every environment's history).
        let p = plan(&source, &BTreeSet::from([1, 2, 3]), &BTreeSet::new(), Utc::now()).unwrap();
        assert!(p.renames.is_empty());
        assert_eq!(p.settled, ["2_ours.sql", "3_theirs.sql"]);
        let p = plan(&source, &BTreeSet::from([1, 2]), &BTreeSet::new(), Utc::now()).unwrap();
        assert_eq!((p.renames.len(), p.settled.len()), (1, 0), "one side pending everywhere: it moves");
    }

    #[test]
    fn no_version_left_after_the_newest_is_an_error_not_an_overflow() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), &format!("{}_c.sql", i64::MAX - 1), "SELECT 1;");
        write(d.path(), "2_b.sql", "SELECT 2;");
        let source = Source::load(d.path()).unwrap();
        let e = plan(&source, &BTreeSet::from([i64::MAX - 1]), &BTreeSet::new(), Utc::now()).unwrap_err();
        assert_eq!(e.problem, crate::error::Problem::Input);
    }

    #[test]
    fn files_that_share_a_version_keep_the_applied_one_and_the_others_move() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "1_base.up.sql", &header(1, ""));
        write(d.path(), "1_base.down.sql", "SELECT 0;");
        write(d.path(), "2_ours.up.sql", &header(2, "1"));
        write(d.path(), "2_ours.down.sql", "SELECT 0;");
        write(d.path(), "2_theirs.up.sql", &format!("{}SELECT 'theirs';\n", header(2, "1")));
        write(d.path(), "2_theirs.down.sql", "SELECT 0;");
        let source = Source::load(d.path()).unwrap();
        let now = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let theirs = source.clashes[0].iter().find(|m| m.file_name() == "2_theirs.up.sql").unwrap().checksum.clone();

        // Applied nowhere: the first by name stays.
        let p = plan(&source, &BTreeSet::from([1]), &BTreeSet::new(), now).unwrap();
        let moved: Vec<(&str, &str)> = p.renames.iter().map(|r| (r.from[0].as_str(), r.why.as_str())).collect();
        assert_eq!(moved, [("2_theirs.up.sql", "shares its version")]);
        // `theirs` applied somewhere: it stays, `ours` moves, with its down, after 2.
        let p = plan(&source, &BTreeSet::from([1, 2]), &BTreeSet::from([(2, theirs.clone())]), now).unwrap();
        assert_eq!(p.renames[0].from, ["2_ours.up.sql", "2_ours.down.sql"]);
        assert_eq!(p.after, Some(2));
        // Applied, and neither file is what ran: refused.
        assert!(plan(&source, &BTreeSet::from([1, 2]), &BTreeSet::new(), now).is_err());

        let p = plan(&source, &BTreeSet::from([1, 2]), &BTreeSet::from([(2, theirs)]), now).unwrap();
        apply(&p, d.path()).unwrap();
        let after = Source::load(d.path()).unwrap();
        assert!(after.problems.is_empty(), "{:?}", after.problems);
        let m = after.get(20240101000000).unwrap();
        assert_eq!((m.description.as_str(), m.has_down), ("ours", true));
        assert_eq!(m.header.revises.as_deref(), Some("2"), "it follows the one that stayed");
    }
}
