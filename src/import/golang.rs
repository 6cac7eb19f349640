//! golang-migrate: `<version>_<title>.up.sql` and `.down.sql` in one folder (sqlx's naming too).
//! golang-migrate sends each file as it is, outside a transaction; a file that manages its own
//! (`BEGIN` … `COMMIT`) or cannot run inside one is written `-- no-transaction` so it runs as before.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Foreign, Note, NoteKind, files_under, read_text, words};
use crate::error::{Error, Result};

pub(super) fn read(dir: &Path) -> Result<(Vec<Foreign>, Vec<Note>)> {
    let mut found: BTreeMap<u128, Foreign> = BTreeMap::new();
    let mut downs: BTreeMap<u128, (String, String)> = BTreeMap::new();
    let mut notes = Vec::new();
    for rel in files_under(dir)?.into_iter().filter(|r| r.components().count() == 1) {
        let name = rel.display().to_string();
        let Some((stem, up)) = name
            .strip_suffix(".up.sql")
            .map(|s| (s, true))
            .or_else(|| name.strip_suffix(".down.sql").map(|s| (s, false)))
        else {
            continue;
        };
        let Some((version, title)) = stem.split_once('_') else { continue };
        let Ok(number) = version.parse::<u128>() else { continue };
        let sql = read_text(dir, &rel)?;
        if !up {
            downs.insert(number, (name, sql));
            continue;
        }
        if let Some(other) = found.get(&number) {
            return Err(Error::input(format!(
                "{} and {name} have the same version {number}; golang-migrate refuses them too",
                other.files[0]
            )));
        }
        found.insert(
            number,
            Foreign {
                id: number.to_string(),
                description: words(title),
                up: sql,
                files: vec![name],
                ..Default::default()
            },
        );
    }
    for (number, (file, sql)) in downs {
        match found.get_mut(&number) {
            Some(f) => {
                f.files.push(file);
                f.down = Some(sql);
            }
            None => notes.push(Note {
                kind: NoteKind::Unsupported,
                subject: file,
                message: "not imported: a down with no up of its version".into(),
            }),
        }
    }
    let mut out: Vec<Foreign> = found.into_values().collect();
    for f in &mut out {
        if outside_transaction(&f.up) || f.down.as_deref().is_some_and(outside_transaction) {
            f.no_transaction = true;
            notes.push(Note {
                kind: NoteKind::NoTransaction,
                subject: f.files[0].clone(),
                message: "it manages its own transaction, or holds a statement that cannot run inside one, as \
                          golang-migrate ran it"
                    .into(),
            });
        }
    }
    Ok((out, notes))
}

/// Whether a file opens or ends transactions itself, or holds a statement PostgreSQL refuses inside one.
fn outside_transaction(sql: &str) -> bool {
    let Ok(statements) = crate::syntax::split::split(sql, crate::syntax::Dialect::Postgres) else {
        return false;
    };
    statements.iter().any(|s| {
        let words = crate::syntax::words::leading(s.sql, 2);
        let w = |i: usize| words.get(i).map(String::as_str).unwrap_or_default();
        matches!(w(0), "BEGIN" | "COMMIT" | "ROLLBACK")
            || (w(0) == "START" && w(1) == "TRANSACTION")
            || crate::syntax::words::refused_statement(s.sql).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_and_runs_own_transactions_outside_one() {
        let d = tempfile::tempdir().unwrap();
        let w = |name: &str, body: &str| std::fs::write(d.path().join(name), body).unwrap();
        w("000001_create_users.up.sql", "CREATE TABLE users (id int);");
        w("000001_create_users.down.sql", "DROP TABLE users;");
        w("2_add_name.up.sql", "BEGIN;\nALTER TABLE users ADD name text;\nCOMMIT;\n");
        w("3_index.up.sql", "CREATE INDEX CONCURRENTLY users_name ON users (name);");
        w("3_index.down.sql", "DROP INDEX users_name;");
        w("9_orphan.down.sql", "SELECT 1;");
        let (found, notes) = read(d.path()).unwrap();
        let ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert_eq!(found[0].down.as_deref(), Some("DROP TABLE users;"));
        assert!(!found[0].no_transaction && found[1].no_transaction && found[2].no_transaction);
        assert!(found[1].down.is_none());
        assert!(notes.iter().any(|n| n.kind == NoteKind::Unsupported && n.subject == "9_orphan.down.sql"));
    }

    #[test]
    fn a_function_body_is_not_a_transaction() {
        assert!(!outside_transaction("CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;"));
        assert!(outside_transaction("begin;\nselect 1;\ncommit;"));
    }
}
