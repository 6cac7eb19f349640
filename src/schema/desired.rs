//! The schema a person wants, written as SQL in the database's own dialect: one file, or a folder
//! of `.sql` files loaded in the order of their paths. `ops::to_schema` loads it on a scratch
//! database and compares it with what the migrations make.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One file of the desired schema: where it is, and its SQL.
#[derive(Debug, Clone)]
pub struct DesiredFile {
    pub path: PathBuf,
    pub sql: String,
}

/// The files at `path`: the file itself, or every `.sql` file under the folder, by path (links
/// are not followed). Refuses a folder with none, and a file that is not UTF-8.
pub fn read(path: &Path) -> Result<Vec<DesiredFile>> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::input(format!("{} does not exist: name the schema file or folder", path.display()))
        }
        _ => Error::io("cannot open", path, &e),
    })?;
    let mut paths = Vec::new();
    if meta.is_dir() {
        collect(path, &mut paths)?;
        paths.sort();
        if paths.is_empty() {
            return Err(Error::input(format!("{} holds no .sql files to load as the schema", path.display())));
        }
    } else {
        paths.push(path.to_path_buf());
    }
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).map_err(|e| Error::io("cannot read", &p, &e))?;
            let sql = String::from_utf8(bytes)
                .map_err(|_| Error::input(format!("{} is not UTF-8 text; save it as UTF-8", p.display())))?;
            from_text(p, &sql)
        })
        .collect()
}

/// A desired schema's file from its text (an editor's, or a file read): a dump tool's client
/// commands taken out as for a file read.
pub fn from_text(path: PathBuf, sql: &str) -> Result<DesiredFile> {
    let sql = without_client_delimiters(&without_psql_guard(&path, sql.trim_start_matches('\u{feff}'))?);
    Ok(DesiredFile { path, sql })
}

/// What the desired schema says was renamed: a column, `-- godwit:rename TABLE.OLD TO NEW` (the
/// table named as the schema names it), or a table, `-- godwit:rename-table OLD TO NEW`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// The column's table; `None` where the table itself is renamed.
    pub table: Option<String>,
    pub from: String,
    pub to: String,
}

impl Rename {
    /// Whether this renames column `from` of `table`.
    pub fn of_column_in(&self, table: &str) -> bool {
        self.table.as_deref() == Some(table)
    }
}

/// The renames undone, for the down: a column's table named as it is there, before its table
/// is renamed back.
pub fn back(renames: &[Rename]) -> Vec<Rename> {
    renames
        .iter()
        .map(|r| Rename {
            table: r.table.as_ref().map(|t| {
                renames.iter().find(|x| x.table.is_none() && x.to == *t).map_or_else(|| t.clone(), |x| x.from.clone())
            }),
            from: r.to.clone(),
            to: r.from.clone(),
        })
        .collect()
}

/// The renames the files' annotations say; a malformed one is refused.
pub fn renames(files: &[DesiredFile]) -> Result<Vec<Rename>> {
    let mut out = Vec::new();
    for f in files {
        for (i, line) in f.sql.lines().enumerate() {
            let line = line.trim();
            let (said, table) =
                match (line.strip_prefix("-- godwit:rename "), line.strip_prefix("-- godwit:rename-table ")) {
                    (Some(said), _) => (said, false),
                    (_, Some(said)) => (said, true),
                    _ => continue,
                };
            let words: Vec<&str> = said.split_whitespace().collect();
            let parsed =
                match words.as_slice() {
                    [old, to, new] if to.eq_ignore_ascii_case("to") && table => {
                        // The new name in the old one's schema, where it names none.
                        let new = match (old.rsplit_once('.'), new.contains('.')) {
                            (Some((schema, _)), false) => format!("{schema}.{new}"),
                            _ => (*new).to_string(),
                        };
                        Some(Rename { table: None, from: (*old).into(), to: new })
                    }
                    [old, to, new] if to.eq_ignore_ascii_case("to") => old.rsplit_once('.').map(|(table, from)| {
                        Rename { table: Some(table.into()), from: from.into(), to: (*new).into() }
                    }),
                    _ => None,
                };
            out.push(parsed.ok_or_else(|| {
                Error::input(format!(
                    "{} (line {}): a rename reads `-- godwit:rename TABLE.OLD_COLUMN TO NEW_COLUMN` (a column) or \
                     `-- godwit:rename-table OLD TO NEW` (a table)",
                    f.path.display(),
                    i + 1
                ))
            })?);
        }
    }
    Ok(out)
}

/// The mysql client's `DELIMITER X` lines (as `mariadb-dump` writes them around routines and
/// triggers) left out, as blank lines, and each statement they end with X ended with `;`, which
/// the statement splitter reads around routine bodies as the server does.
fn without_client_delimiters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut delimiter = ";".to_string();
    for line in sql.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        // The client's delimiters are marks (`;;`, `$$`, `//`): a line `delimiter text,` is a column.
        if let [first, d] = words.as_slice()
            && first.eq_ignore_ascii_case("delimiter")
            && !d.chars().any(char::is_alphanumeric)
        {
            delimiter = d.to_string();
            out.push('\n');
            continue;
        }
        match line.trim_end().strip_suffix(delimiter.as_str()) {
            Some(statement) if delimiter != ";" => {
                out.push_str(statement);
                out.push(';');
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// `pg_dump`'s `\restrict KEY` and `\unrestrict KEY` lines (psql's guard) left out, as blank lines
/// so the others keep their numbers; any other psql command is refused, as it is not SQL.
fn without_psql_guard(path: &Path, sql: &str) -> Result<String> {
    let mut out = String::with_capacity(sql.len());
    for (i, line) in sql.lines().enumerate() {
        if line.starts_with("\\restrict ") || line.starts_with("\\unrestrict ") {
            out.push('\n');
            continue;
        }
        if line.starts_with('\\') {
            return Err(Error::input(format!(
                "{} (line {}) holds a psql command ({}), which is not SQL: take it out",
                path.display(),
                i + 1,
                line.split_whitespace().next().unwrap_or_default()
            )));
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list", dir, &e))?;
    for entry in entries.flatten() {
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        match entry.file_type() {
            Ok(t) if t.is_dir() && !hidden => collect(&entry.path(), out)?,
            Ok(t) if t.is_file() && !hidden && entry.path().extension().is_some_and(|e| e == "sql") => {
                out.push(entry.path())
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_loads_its_sql_files_in_path_order() {
        let d = tempfile::tempdir().unwrap();
        let put = |rel: &str, body: &str| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        };
        put("02_views/v.sql", "CREATE VIEW v AS SELECT 1;");
        put("01_tables.sql", "\u{feff}CREATE TABLE t (id int);");
        put("README.md", "not SQL");
        put(".hidden/x.sql", "DROP TABLE t;");
        let files = read(d.path()).unwrap();
        let names: Vec<String> =
            files.iter().map(|f| f.path.strip_prefix(d.path()).unwrap().display().to_string()).collect();
        assert_eq!(names, ["01_tables.sql", "02_views/v.sql"]);
        assert_eq!(files[0].sql, "CREATE TABLE t (id int);\n");
        assert_eq!(read(&d.path().join("01_tables.sql")).unwrap().len(), 1);
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(read(empty.path()).unwrap_err().problem, crate::error::Problem::Input);
        assert_eq!(read(&empty.path().join("nope.sql")).unwrap_err().problem, crate::error::Problem::Input);
        // pg_dump's guard lines go; another psql command is refused.
        put("dump/a.sql", "\\restrict abc\nCREATE TABLE t (id int);\n\\unrestrict abc\n");
        assert_eq!(read(&d.path().join("dump")).unwrap()[0].sql, "\nCREATE TABLE t (id int);\n\n");
        // mariadb-dump's DELIMITER lines go; what they end is ended with `;`.
        put(
            "my.sql",
            "DELIMITER ;;\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.x = 1; END ;;\nDELIMITER ;\nSELECT 1;\n",
        );
        assert_eq!(
            read(&d.path().join("my.sql")).unwrap()[0].sql,
            "\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.x = 1; END ;\n\nSELECT 1;\n"
        );
        put("col.sql", "CREATE TABLE t (\n  delimiter text,\n  id int\n);\n");
        assert!(read(&d.path().join("col.sql")).unwrap()[0].sql.contains("delimiter text,"));
        put("shell.sql", "\\! rm -rf /\n");
        assert_eq!(read(&d.path().join("shell.sql")).unwrap_err().problem, crate::error::Problem::Input);
    }
}
