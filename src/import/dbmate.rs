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
        let blocks = blocks(&text);
        let Some(up) = blocks.iter().find(|b| b.up) else {
            return Err(Error::input(format!(
                "{name} has no `-- migrate:up` line, which dbmate needs too; add it above the up's SQL"
            )));
        };
        let down = blocks.iter().find(|b| !b.up);
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
        let no_transaction = up.no_transaction || down.is_some_and(|d| d.no_transaction);
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
            up: up.sql.clone(),
            down: down.map(|d| d.sql.clone()),
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

/// The blocks under each `-- migrate:up` / `-- migrate:down` line, as dbmate finds them.
fn blocks(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for line in text.split_inclusive('\n') {
        let marker = line.trim().strip_prefix("--").map(str::trim_start).and_then(|l| {
            let (word, options) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            let up = match word {
                "migrate:up" => true,
                "migrate:down" => false,
                _ => return None,
            };
            Some((up, options.split_whitespace().map(String::from).collect::<Vec<_>>()))
        });
        match (marker, out.last_mut()) {
            (Some((up, options)), _) => {
                let no_transaction = options.iter().any(|o| o.eq_ignore_ascii_case("transaction:false"));
                out.push(Block { up, options, no_transaction, sql: String::new() });
            }
            (None, Some(b)) => b.sql.push_str(line),
            (None, None) => {}
        }
    }
    for b in &mut out {
        b.sql = b.sql.trim().to_string();
    }
    out
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
    fn a_file_without_an_up_block_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("1_x.sql"), "create table x (id int);\n").unwrap();
        assert_eq!(read(d.path()).unwrap_err().problem, crate::error::Problem::Input);
    }
}
