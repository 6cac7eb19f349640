//! Flyway: `V<version>__<name>.sql` ups, `U<version>__<name>.sql` undos, anywhere under the
//! configured locations (the folder itself without a configuration); `R__` repeatables and baseline
//! (`B`) migrations have no Godwit equivalent and are named, not imported. Placeholders are
//! replaced as Flyway replaces them. A script runs outside a transaction when Flyway would run it
//! so: its `<file>.conf` says `executeInTransaction=false`, or it holds a statement PostgreSQL
//! refuses inside one.

mod config;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{Foreign, Note, NoteKind, files_under, read_text, words};
use crate::error::{Error, Result};

pub(super) fn read(dir: &Path) -> Result<(Vec<Foreign>, Vec<Note>)> {
    let config = config::Config::find(dir)?;
    let mut ups: BTreeMap<Version, Foreign> = BTreeMap::new();
    let mut undos: BTreeMap<Version, (String, String)> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut unset: Vec<(String, Vec<String>)> = Vec::new();
    let mut all: BTreeSet<PathBuf> = BTreeSet::new();
    for folder in config.folders(dir)? {
        let under = folder.strip_prefix(dir).unwrap_or(Path::new("")).to_path_buf();
        all.extend(files_under(&folder)?.into_iter().map(|rel| under.join(rel)));
    }
    for rel in all {
        let name = rel.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let shown = rel.display().to_string();
        let Some(stem) = name.strip_suffix(".sql") else {
            if name.ends_with(".java") || name.ends_with(".kt") {
                notes.push(unsupported(&shown, "a Java migration: Godwit runs SQL files only"));
            }
            continue;
        };
        let (prefix, rest) = stem.split_at(stem.chars().next().map_or(0, char::len_utf8));
        let Some((version, description)) = rest.split_once("__") else {
            continue;
        };
        match prefix {
            "R" if version.is_empty() => {
                notes.push(unsupported(&shown, "a repeatable migration (run again whenever it changes)"));
            }
            "B" => notes.push(unsupported(&shown, "a baseline migration: import the V files it stands for")),
            "V" | "U" => {
                let Some(v) = Version::parse(version) else {
                    notes.push(unsupported(&shown, "its version is not numbers separated by dots or _"));
                    continue;
                };
                let text = read_text(dir, &rel)?;
                let (sql, missing) = config.substitute(&text, &name);
                if !missing.is_empty() {
                    unset.push((shown, missing));
                    continue;
                }
                if sql != text {
                    notes.push(Note {
                        kind: NoteKind::Placeholder,
                        subject: shown.clone(),
                        message: format!(
                            "its placeholders were replaced with the values in {}, as Flyway replaces them",
                            config.file.as_deref().unwrap_or("Flyway's configuration")
                        ),
                    });
                }
                if prefix == "U" {
                    undos.insert(v, (shown, sql));
                    continue;
                }
                if let Some(other) = ups.get(&v) {
                    return Err(Error::input(format!(
                        "{} and {shown} have the same Flyway version {}; Flyway refuses them too",
                        other.files[0], v.text
                    )));
                }
                let refused = crate::syntax::words::refused_in_transaction(&sql);
                let no_transaction = in_transaction_false(dir, &rel) || refused.is_some();
                if no_transaction {
                    notes.push(Note {
                        kind: NoteKind::NoTransaction,
                        subject: shown.clone(),
                        message: match refused {
                            Some(what) => format!("it holds {what}…, which Flyway runs outside a transaction"),
                            None => "its .conf says executeInTransaction=false".into(),
                        },
                    });
                }
                ups.insert(
                    v.clone(),
                    Foreign {
                        id: v.text.clone(),
                        description: words(description),
                        up: sql,
                        no_transaction,
                        files: vec![shown],
                        ..Default::default()
                    },
                );
            }
            _ => {}
        }
    }
    if !unset.is_empty() {
        let each: Vec<String> = unset
            .iter()
            .map(|(file, names)| {
                let names: Vec<String> =
                    names.iter().map(|n| format!("{}{n}{}", config.prefix, config.suffix)).collect();
                format!("{file} uses {}", names.join(", "))
            })
            .collect();
        return Err(Error::input(format!(
            "Flyway would replace placeholders that have no value here: {}. Nothing was imported. Set each in {} \
             (flyway.placeholders.NAME=value), as Flyway reads them, and import again",
            each.join("; "),
            config.file.as_deref().unwrap_or("a flyway.conf beside the scripts")
        )));
    }
    for (v, (file, sql)) in undos {
        match ups.get_mut(&v) {
            Some(up) => {
                up.files.push(file);
                up.down = Some(sql);
            }
            None => notes.push(unsupported(&file, "an undo with no V file of its version")),
        }
    }
    Ok((ups.into_values().collect(), notes))
}

fn unsupported(file: &str, why: &str) -> Note {
    Note { kind: NoteKind::Unsupported, subject: file.into(), message: format!("not imported: {why}") }
}

/// `V1_1__x.sql.conf` beside the script, saying `executeInTransaction=false`.
fn in_transaction_false(dir: &Path, rel: &Path) -> bool {
    let conf = dir.join(format!("{}.conf", rel.display()));
    // Only a plain file, and only its start: a link or a pipe there is not Flyway's.
    if !std::fs::symlink_metadata(&conf).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(file) = std::fs::File::open(&conf) else { return false };
    let mut text = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::Read::take(file, 64 * 1024), &mut text);
    text.lines().any(|l| {
        let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
        l.eq_ignore_ascii_case("executeInTransaction=false")
    })
}

/// A Flyway version: numbers compared one by one, `_` read as `.`, trailing zeros not counted
/// (`1.0` is `1`), as Flyway compares them.
#[derive(Debug, Clone)]
pub(super) struct Version {
    parts: Vec<String>,
    /// As the file name writes it, with `.` for `_` (as Flyway's history table records it).
    pub text: String,
}

impl Version {
    pub(super) fn parse(s: &str) -> Option<Version> {
        let text = s.replace('_', ".");
        let mut parts: Vec<String> = text
            .split('.')
            .map(|p| {
                (!p.is_empty() && p.chars().all(|c| c.is_ascii_digit())).then(|| p.trim_start_matches('0').to_string())
            })
            .collect::<Option<_>>()?;
        while parts.last().is_some_and(|p| p.is_empty()) && parts.len() > 1 {
            parts.pop();
        }
        Some(Version { parts, text })
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let n = self.parts.len().max(other.parts.len());
        let part = |v: &Version, i: usize| v.parts.get(i).cloned().unwrap_or_default();
        (0..n)
            .map(|i| {
                let (a, b) = (part(self, i), part(other, i));
                a.len().cmp(&b.len()).then(a.cmp(&b))
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_flyway_does() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("1.1") < v("1.10"));
        assert!(v("2") > v("1.9.9"));
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("1_1"), v("1.01"));
        assert_eq!(v("1_1").text, "1.1");
        assert!(Version::parse("1.a").is_none());
        assert!(Version::parse("").is_none());
    }

    #[test]
    fn reads_ups_undos_and_names_what_it_leaves() {
        let d = tempfile::tempdir().unwrap();
        let w = |name: &str, body: &str| crate::import::put(d.path(), name, body);
        w("V1__Create_person.sql", "CREATE TABLE person (id int);");
        w("U1__Create_person.sql", "DROP TABLE person;");
        w("sub/V1_1__Add_name.sql", "ALTER TABLE person ADD name text;");
        w("sub/V1_1__Add_name.sql.conf", "executeInTransaction = false\n");
        w("R__people_view.sql", "CREATE OR REPLACE VIEW people AS SELECT * FROM person;");
        w("V2__uses_placeholders.sql", "SELECT '${schema}';");
        w("README.md", "notes");
        let e = read(d.path()).unwrap_err();
        assert_eq!(e.problem, crate::error::Problem::Input, "an unset placeholder: {}", e.message);
        w("flyway.conf", "flyway.placeholders.schema=shop\n");
        let (found, notes) = read(d.path()).unwrap();
        assert_eq!(found[2].up, "SELECT 'shop';");
        let ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["1", "1.1", "2"]);
        assert_eq!(found[0].description, "Create person");
        assert_eq!(found[0].down.as_deref(), Some("DROP TABLE person;"));
        assert!(found[1].no_transaction && found[1].down.is_none());
        assert!(!found[0].no_transaction);
        let kinds: Vec<NoteKind> = notes.iter().map(|n| n.kind).collect();
        assert!(kinds.contains(&NoteKind::Unsupported) && kinds.contains(&NoteKind::Placeholder));
        assert!(notes.iter().any(|n| n.subject == "R__people_view.sql"));
    }

    #[test]
    fn locations_are_read_and_stay_inside_the_folder() {
        let d = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(d.path()).unwrap();
        let w = |name: &str, body: &str| crate::import::put(&dir, name, body);
        w("flyway.toml", "[flyway]\nlocations = [\"filesystem:db/sql\", \"classpath:db/migration\"]\n");
        w("db/sql/V1__t.sql", "CREATE TABLE t (x int);");
        w("src/main/resources/db/migration/V2__i.sql", "CREATE INDEX CONCURRENTLY t_x ON t (x);");
        w("elsewhere/V3__not_a_location.sql", "SELECT 1;");
        let (found, notes) = read(&dir).unwrap();
        let files: Vec<&str> = found.iter().map(|f| f.files[0].as_str()).collect();
        assert_eq!(files, ["db/sql/V1__t.sql", "src/main/resources/db/migration/V2__i.sql"]);
        assert!(found[1].no_transaction && !found[0].no_transaction);
        assert!(notes.iter().any(|n| n.kind == NoteKind::NoTransaction));
        for elsewhere in ["filesystem:../", "filesystem:db/**/sql", "s3:bucket/migrations"] {
            w("flyway.toml", &format!("[flyway]\nlocations = [\"{elsewhere}\"]\n"));
            assert_eq!(read(&dir).unwrap_err().problem, crate::error::Problem::Input, "{elsewhere}");
        }
    }
}
