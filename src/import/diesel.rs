//! Diesel: a folder per migration, `<version>_<name>/up.sql` and `down.sql`, beside an optional
//! `metadata.toml`. Diesel's version is the folder name up to the first `_` without its dashes
//! (`2019-02-26-002946_create_user` is `20190226002946`), ordered as text; each migration runs in a
//! transaction unless its `metadata.toml` says otherwise.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::{Foreign, Note, NoteKind, read_text, words};
use crate::error::{Error, Result};

pub(super) fn read(dir: &Path) -> Result<(Vec<Foreign>, Vec<Note>)> {
    let mut found: BTreeMap<String, Foreign> = BTreeMap::new();
    let mut notes = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list", dir, &e))?;
    for entry in entries.flatten() {
        let folder = entry.file_name().to_string_lossy().into_owned();
        // As Diesel: hidden entries are skipped, and so are links (they could lead outside the folder).
        if folder.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let here = Path::new(&folder);
        // Files only, not links (a link could lead outside the project).
        let file = |name: &str| std::fs::symlink_metadata(dir.join(here).join(name)).is_ok_and(|m| m.is_file());
        if !file("up.sql") {
            if std::fs::read_dir(entry.path()).is_ok_and(|mut e| e.next().is_some()) {
                notes.push(Note {
                    kind: NoteKind::Unsupported,
                    subject: folder,
                    message: "not imported: a folder without up.sql (Diesel refuses it too)".into(),
                });
            }
            continue;
        }
        let version = folder.split('_').next().unwrap_or_default().replace('-', "");
        let title = folder.split_once('_').map_or("", |(_, t)| t);
        let up = read_text(dir, &here.join("up.sql"))?;
        let mut files = vec![format!("{folder}/up.sql")];
        // Diesel refuses to revert with a down that is missing or has nothing in it at all.
        let down = match file("down.sql") {
            true => Some(read_text(dir, &here.join("down.sql"))?).filter(|d| !d.is_empty()),
            false => None,
        };
        if down.is_some() {
            files.push(format!("{folder}/down.sql"));
        }
        let no_transaction = file("metadata.toml") && !runs_in_transaction(&dir.join(here).join("metadata.toml"));
        if no_transaction {
            notes.push(Note {
                kind: NoteKind::NoTransaction,
                subject: files[0].clone(),
                message: "its metadata.toml has Diesel run it outside a transaction".into(),
            });
        }
        if let Some(other) = found.get(&version) {
            return Err(Error::input(format!(
                "{} and {folder} have the same Diesel version {version}; rename one",
                other.files[0].split('/').next().unwrap_or_default()
            )));
        }
        found.insert(
            version.clone(),
            Foreign { id: version, description: words(title), up, down, no_transaction, files, ..Default::default() },
        );
    }
    Ok((found.into_values().collect(), notes))
}

/// The migrations folder `diesel.toml` names (`[migrations_directory] dir`), where it is one inside
/// `root`; else `root/migrations`, Diesel's default.
pub(super) fn folder(root: &Path) -> PathBuf {
    let named = std::fs::read_to_string(root.join("diesel.toml"))
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        .and_then(|t| t.get("migrations_directory")?.get("dir")?.as_str().map(PathBuf::from));
    // A stranger's diesel.toml does not get to point the import outside the project.
    let inside =
        |p: &PathBuf| p.is_relative() && p.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let named = named.filter(inside).map(|n| root.join(n)).filter(|p| {
        // Nor through a link inside it.
        matches!((std::fs::canonicalize(p), std::fs::canonicalize(root)), (Ok(p), Ok(r)) if p.starts_with(&r))
    });
    named.unwrap_or_else(|| root.join("migrations"))
}

/// Diesel's reading of `metadata.toml`: no file (or one it cannot read) runs in a transaction; a
/// file that says nothing of it does not.
fn runs_in_transaction(path: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Metadata {
        #[serde(default)]
        run_in_transaction: bool,
    }
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| toml::from_str::<Metadata>(&t).ok())
        .is_none_or(|m| m.run_in_transaction)
}

/// Godwit versions for Diesel's, in Diesel's order: the one an earlier import gave it; else its
/// own where that is a whole number above the one before, else the next number after that one.
/// The ids that did not keep their number.
pub(super) fn versions(
    foreign: &[Foreign],
    earlier: &dyn Fn(&str) -> Option<i64>,
    mut last: i64,
) -> Result<(Vec<i64>, Vec<String>)> {
    let mut changed = Vec::new();
    let mut versions = Vec::new();
    for f in foreign {
        if let Some(v) = earlier(&f.id) {
            versions.push(v);
            continue;
        }
        let own = f.id.parse::<i64>().ok().filter(|v| *v > last);
        last = match own {
            Some(v) => v,
            None => last.checked_add(1).ok_or_else(|| {
                Error::input(format!("no Godwit version is left after {last} for Diesel's {}; rename it", f.id))
            })?,
        };
        if own.is_none() {
            changed.push(f.id.clone());
        }
        versions.push(last);
    }
    Ok((versions, changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::put;

    #[test]
    fn reads_folders_in_text_order_with_their_metadata() {
        let d = tempfile::tempdir().unwrap();
        put(
            d.path(),
            "00000000000000_diesel_initial_setup/up.sql",
            "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql;",
        );
        put(d.path(), "00000000000000_diesel_initial_setup/down.sql", "DROP FUNCTION f();");
        put(d.path(), "2019-02-26-002946_create_user/up.sql", "CREATE TABLE u (id int);");
        put(d.path(), "2019-02-26-002946_create_user/down.sql", "DROP TABLE u;");
        put(d.path(), "2026-06-03-220228-0000_index/up.sql", "CREATE INDEX CONCURRENTLY ui ON u (id);");
        put(d.path(), "2026-06-03-220228-0000_index/down.sql", "");
        put(d.path(), "2026-06-03-220228-0000_index/metadata.toml", "run_in_transaction = false\n");
        put(d.path(), "2020-01-01-000000_meta_says_nothing/up.sql", "SELECT 1;");
        put(d.path(), "2020-01-01-000000_meta_says_nothing/metadata.toml", "");
        put(d.path(), "notes/readme.txt", "x");
        let (found, notes) = read(d.path()).unwrap();
        let ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["00000000000000", "20190226002946", "20200101000000", "202606032202280000"]);
        assert_eq!(found[1].description, "create user");
        assert_eq!(found[1].files, ["2019-02-26-002946_create_user/up.sql", "2019-02-26-002946_create_user/down.sql"]);
        assert_eq!(found[1].down.as_deref(), Some("DROP TABLE u;"));
        assert!(found[2].down.is_none() && found[2].no_transaction);
        assert!(found[3].down.is_none() && found[3].no_transaction && !found[1].no_transaction);
        assert!(notes.iter().any(|n| n.kind == NoteKind::Unsupported && n.subject == "notes"));
        assert_eq!(
            versions(&found, &|_| None, 0).unwrap(),
            (vec![1, 20190226002946, 20200101000000, 202606032202280000], vec!["00000000000000".to_string()])
        );
    }

    #[test]
    fn diesel_toml_names_the_folder_only_inside_the_project() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), "db/changes/2019-02-26-002946_a/up.sql", "SELECT 1;");
        put(d.path(), "diesel.toml", "[migrations_directory]\ndir = \"db/changes\"\n");
        assert_eq!(crate::import::detect(d.path()), Some((crate::import::Tool::Diesel, d.path().join("db/changes"))));
        put(d.path(), "diesel.toml", "[migrations_directory]\ndir = \"../elsewhere\"\n");
        assert_eq!(folder(d.path()), d.path().join("migrations"));
        put(d.path(), "diesel.toml", "[migrations_directory]\ndir = \"/etc\"\n");
        assert_eq!(folder(d.path()), d.path().join("migrations"));
    }

    #[cfg(unix)]
    #[test]
    fn files_linked_from_elsewhere_are_not_read() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "hunter2").unwrap();
        put(d.path(), "2019-02-26-002946_a/down.sql", "SELECT 1;");
        std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("2019-02-26-002946_a/up.sql")).unwrap();
        put(d.path(), "2019-02-27-000000_b/up.sql", "SELECT 2;");
        std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("2019-02-27-000000_b/down.sql"))
            .unwrap();
        let (found, _) = read(d.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].down.is_none() && found[0].up == "SELECT 2;");
        std::os::unix::fs::symlink(outside.path(), d.path().join("linked")).unwrap();
        put(d.path(), "diesel.toml", "[migrations_directory]\ndir = \"linked\"\n");
        assert_eq!(folder(d.path()), d.path().join("migrations"));
    }

    #[test]
    fn the_same_version_twice_is_refused() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), "2019-02-26-002946_a/up.sql", "SELECT 1;");
        put(d.path(), "20190226002946_b/up.sql", "SELECT 2;");
        assert_eq!(read(d.path()).unwrap_err().problem, crate::error::Problem::Input);
    }
}
