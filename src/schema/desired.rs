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
            Ok(DesiredFile { path: p, sql: sql.trim_start_matches('\u{feff}').to_string() })
        })
        .collect()
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
        assert_eq!(files[0].sql, "CREATE TABLE t (id int);");
        assert_eq!(read(&d.path().join("01_tables.sql")).unwrap().len(), 1);
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(read(empty.path()).unwrap_err().problem, crate::error::Problem::Input);
        assert_eq!(read(&empty.path().join("nope.sql")).unwrap_err().problem, crate::error::Problem::Input);
    }
}
