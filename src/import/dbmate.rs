//! dbmate: one `<version>_<name>.sql` per migration holding a `-- migrate:up` and a
//! `-- migrate:down` block; `transaction:false` after a marker runs that block outside a transaction.

use std::path::Path;

use super::{Foreign, Note, NoteKind, files_under, read_text, words};
use crate::error::{Error, Result};

pub(super) fn read(dir: &Path) -> Result<(Vec<Foreign>, Vec<Note>)> {
    let mut out: Vec<Foreign> = Vec::new();
    let mut notes = Vec::new();
    // dbmate reads one folder, not its subfolders.
    for rel in files_under(dir)?.into_iter().filter(|r| r.components().count() == 1) {
        let name = rel.display().to_string();
        let Some(stem) = name.strip_suffix(".sql") else { continue };
        let digits = stem.find(|c: char| !c.is_ascii_digit()).unwrap_or(stem.len());
        if digits == 0 {
            continue;
        }
        let (version, rest) = stem.split_at(digits);
        let text = read_text(dir, &rel)?;
        let blocks = blocks(&text).map_err(|why| Error::input(format!("{name}: {why}")))?;
        let (up, down) = sections(&blocks);
        for b in &blocks {
            if let Some(option) = b.options.iter().find(|o| !o.eq_ignore_ascii_case("transaction:false")) {
                notes.push(Note {
                    kind: NoteKind::Placeholder,
                    subject: name.clone(),
                    message: format!(
                        "`{option}` after its migrate marker is a dbmate option Godwit does not carry out"
                    ),
                });
            }
        }
        let no_transaction = blocks.iter().any(|b| b.no_transaction);
        if no_transaction {
            notes.push(Note {
                kind: NoteKind::NoTransaction,
                subject: name.clone(),
                message: "dbmate ran it with transaction:false".into(),
            });
        }
        if let Some(other) = out.iter().find(|f| f.id == version) {
            return Err(Error::input(format!(
                "{} and {name} have the same dbmate version {version}; rename one",
                other.files[0]
            )));
        }
        out.push(Foreign {
            id: version.to_string(),
            description: words(rest),
            up,
            down,
            no_transaction,
            files: vec![name],
            ..Default::default()
        });
    }
    out.sort_by_key(|f| f.id.parse::<u128>().unwrap_or(u128::MAX));
    Ok((out, notes))
}

struct Block {
    up: bool,
    options: Vec<String>,
    no_transaction: bool,
    sql: String,
}

/// A `-- migrate:up` / `-- migrate:down` marker line, as dbmate matches it: at the very start of
/// the line, then its options.
fn marker(line: &str) -> Option<(bool, Vec<String>)> {
    let l = line.strip_prefix("--")?.trim_start();
    let (word, options) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
    let up = match word.trim_end() {
        "migrate:up" => true,
        "migrate:down" => false,
        _ => return None,
    };
    Some((up, options.split_whitespace().map(String::from).collect()))
}

/// The blocks under each marker line, as dbmate (2.x) reads them, or why dbmate refuses the file:
/// statements above the first up (dbmate 1 left them out unrun), a down before its up or twice
/// after one, or a down marker indented into a statement (dbmate takes it for part of the SQL).
fn blocks(text: &str) -> std::result::Result<Vec<Block>, String> {
    let mut out: Vec<Block> = Vec::new();
    let mut indented = None;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if let Some((up, options)) = marker(line) {
            match out.last() {
                None if !up => return Err(format!("line {}: a `-- migrate:down` before any `-- migrate:up`", n + 1)),
                Some(b) if !up && !b.up => {
                    return Err(format!("line {}: a second `-- migrate:down` after one `-- migrate:up`", n + 1));
                }
                _ => {}
            }
            let no_transaction = options.iter().any(|o| o.eq_ignore_ascii_case("transaction:false"));
            out.push(Block { up, options, no_transaction, sql: String::new() });
            continue;
        }
        if indented.is_none() && line.trim_start() != line && marker(line.trim_start()).is_some() {
            indented = Some((n + 1, line.trim()));
        }
        match out.last_mut() {
            Some(b) => b.sql.push_str(line),
            None if line.trim().is_empty() || line.trim_start().starts_with("--") => {}
            None => {
                return Err(format!(
                    "line {}: SQL above the first `-- migrate:up` line, which dbmate refuses too (dbmate 1 left it \
                     out unrun); move it under the marker or delete it",
                    n + 1
                ));
            }
        }
    }
    if out.is_empty() {
        return Err("no `-- migrate:up` line, which dbmate needs too; add it above the up's SQL".into());
    }
    // Only where it leaves the file without a down (which dbmate refuses) is it taken for a mistake.
    if let Some((n, text)) = indented.filter(|_| out.iter().all(|b| b.up)) {
        return Err(format!(
            "line {n}: `{text}` is indented, so dbmate reads it as part of the SQL around it, not as a marker, and \
             finds no down; move it to the start of its line"
        ));
    }
    for b in &mut out {
        b.sql = b.sql.trim().to_string();
    }
    Ok(out)
}

/// The up and down of a file's up/down sections (dbmate 2.28 runs several in one file, each
/// section's up in turn, and on rollback each down in file order): one migration. No down when a
/// section has none.
fn sections(blocks: &[Block]) -> (String, Option<String>) {
    let of = |up: bool| blocks.iter().filter(|b| b.up == up).map(|b| b.sql.as_str()).collect::<Vec<_>>();
    let joined = |parts: &[&str]| parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join("\n\n");
    let (ups, downs) = (of(true), of(false));
    (joined(&ups), (downs.len() == ups.len()).then(|| joined(&downs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_blocks_and_their_options() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("20240101000000_create_users.sql"),
            "-- migrate:up\ncreate table users (id int);\n\n-- migrate:down\ndrop table users;\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("20240102000000_index_users.sql"),
            "-- migrate:up transaction:false\ncreate index concurrently u on users (id);\n-- migrate:down\n",
        )
        .unwrap();
        std::fs::write(d.path().join("schema.sql"), "create table users (id int);").unwrap();
        let (found, notes) = read(d.path()).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].id.as_str(), found[0].description.as_str()), ("20240101000000", "create users"));
        assert_eq!(found[0].up, "create table users (id int);");
        assert_eq!(found[0].down.as_deref(), Some("drop table users;"));
        assert!(found[1].no_transaction);
        assert_eq!(found[1].down.as_deref(), Some(""));
        assert_eq!(notes[0].kind, NoteKind::NoTransaction);
    }

    #[test]
    fn what_dbmate_refuses_is_refused() {
        for text in [
            "create table x (id int);\n",
            "create type t as enum ('a');\n-- migrate:up\ncreate table x (id t);\n-- migrate:down\n",
            "-- migrate:down\ndrop table x;\n-- migrate:up\ncreate table x (id int);\n",
            "-- migrate:up\ncreate table x (id int);\n-- migrate:down\ndrop table x;\n-- migrate:down\n",
            // UPchieve's formatter indented the marker into the statement above it.
            "-- migrate:up\nALTER TABLE x\n    ADD COLUMN y text\n    -- migrate:down\n        ALTER TABLE x DROP COLUMN y\n",
        ] {
            let d = tempfile::tempdir().unwrap();
            std::fs::write(d.path().join("1_x.sql"), text).unwrap();
            assert_eq!(read(d.path()).unwrap_err().problem, crate::error::Problem::Input, "{text}");
        }
    }

    #[test]
    fn sections_run_as_one_migration_and_a_comment_may_lead() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("1_x.sql"),
            "-- why this exists\n\n-- migrate:up\ncreate table x (id int);\n-- migrate:down\ndrop table x;\n\
             -- migrate:up transaction:false\nupdate x set id = 1;\n--migrate:down\nupdate x set id = 0;\n\
             -- migrate:upgrade is not a marker\n",
        )
        .unwrap();
        let (found, _) = read(d.path()).unwrap();
        assert_eq!(found[0].up, "create table x (id int);\n\nupdate x set id = 1;");
        assert_eq!(
            found[0].down.as_deref(),
            Some("drop table x;\n\nupdate x set id = 0;\n-- migrate:upgrade is not a marker")
        );
        assert!(found[0].no_transaction);
    }
}
