//! Migration files on disk, read the way sqlx reads them so both agree on versions, descriptions,
//! checksums and `-- no-transaction`; plus the guide's header, read when present.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha384};

use crate::error::{Error, Problem, Result};

/// Reversible (`.up.sql` + `.down.sql`) or simple (`.sql`, cannot be rolled back).
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Kind {
    Simple,
    Reversible,
}

/// The guide's header: `-- description`, `-- Revision ID:`, `-- Revises:`, `-- Create Date:`.
#[derive(ts_rs::TS, Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[ts(export)]
pub struct Header {
    pub revision_id: Option<String>,
    /// `Some("")` for the first migration of a chain (`Revises:` left empty).
    pub revises: Option<String>,
    pub create_date: Option<String>,
}

#[derive(Debug, Clone)]
pub struct MigrationFile {
    pub version: i64,
    pub description: String,
    pub kind: Kind,
    /// The up file (or the only file of a simple migration).
    pub path: PathBuf,
    pub sql: String,
    /// SHA-384 of the up file's bytes, as sqlx computes it.
    pub checksum: Vec<u8>,
    pub no_transaction: bool,
    /// The file starts with a UTF-8 byte order mark: hashed with it (as sqlx does), sent and read
    /// without it (a server would fail on the invisible character, and it would hide a directive).
    pub bom: bool,
    /// Down file of a reversible migration (the expected name when there is none).
    pub down_path: Option<PathBuf>,
    /// The down file was there when the folder was read; `check` reports reversible ones without.
    pub has_down: bool,
    pub header: Header,
    /// A repeatable file (the repeatable folder's): applied again whenever it changes, after the
    /// versioned ones; its `version` is its place among them, negative (-1 first), never a history row.
    pub repeatable: bool,
}

impl MigrationFile {
    /// What it is, in a message: `migration 3 (add users)` or `repeatable views.sql`.
    pub fn what(&self) -> String {
        match self.repeatable {
            true => format!("repeatable {}", self.file_name()),
            false => format!("migration {} ({})", self.version, self.description),
        }
    }

    pub fn file_name(&self) -> String {
        file_name(&self.path)
    }

    /// The down file a database runs: `DB/<down file>` in the migrations folder (`mysql/`,
    /// `postgres/`, `sqlite/`) where the project keeps one for that database, because its
    /// environments are on different databases and no one down runs on all of them; else the down
    /// file. sqlx-cli reads no folder inside the migrations folder, and keeps no down's checksum.
    pub fn down_path_for(&self, dialect: Option<crate::syntax::Dialect>) -> Option<PathBuf> {
        let main = self.down_path.as_ref()?;
        let own = dialect.and_then(|d| Some(main.parent()?.join(d.key()).join(main.file_name()?)));
        Some(own.filter(|p| p.is_file()).unwrap_or_else(|| main.clone()))
    }

    /// The databases' own downs this migration has, as paths in the migrations folder
    /// (`mysql/3_index.down.sql`): a rename or a squash moves or removes them with the rest.
    pub fn own_downs(&self) -> Vec<String> {
        [crate::syntax::Dialect::Postgres, crate::syntax::Dialect::MySql, crate::syntax::Dialect::Sqlite]
            .into_iter()
            .filter_map(|d| self.down_path_for(Some(d)).filter(|p| Some(p) != self.down_path.as_ref()))
            .map(|p| self.down_name(&p))
            .collect()
    }

    /// The down file's name as shown: `mysql/3_index.down.sql` for a database's own.
    pub fn down_name_for(&self, dialect: Option<crate::syntax::Dialect>) -> String {
        self.down_path_for(dialect).map(|p| self.down_name(&p)).unwrap_or_default()
    }

    /// A down file's name as shown, given its path (from `down_path_for`).
    pub(crate) fn down_name(&self, path: &Path) -> String {
        match path.parent().and_then(Path::file_name) {
            Some(folder) if Some(path) != self.down_path.as_deref() => {
                format!("{}/{}", folder.to_string_lossy(), file_name(path))
            }
            _ => file_name(path),
        }
    }

    /// The down script a database runs (see `down_path_for`), read when needed.
    pub fn down_sql_for(&self, dialect: Option<crate::syntax::Dialect>) -> Result<String> {
        match self.down_path_for(dialect) {
            Some(path) => self.read_down(&path),
            None => self.down_sql(),
        }
    }

    /// The down script, read when needed (status on thousands of files never reads them).
    pub fn down_sql(&self) -> Result<String> {
        let Some(path) = &self.down_path else {
            return Err(Error::input(format!(
                "migration {} ({}) is irreversible: {} has no .down.sql. Write a reversible pair \
                 (VERSION_name.up.sql + VERSION_name.down.sql) to be able to roll it back.",
                self.version,
                self.description,
                self.file_name()
            )));
        };
        self.read_down(path)
    }

    pub(crate) fn read_down(&self, path: &Path) -> Result<String> {
        match fs::read(path) {
            Ok(bytes) => String::from_utf8(bytes).map(|s| without_bom(s).0).map_err(|_| {
                Error::new(Problem::BadFile, format!("{} is not valid UTF-8; save it as UTF-8.", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::new(
                Problem::BadFile,
                format!(
                    "migration {} cannot be rolled back: its down file {} is missing. Write it (the SQL \
                 that undoes {}) and try again.",
                    self.version,
                    path.display(),
                    self.file_name()
                ),
            )),
            Err(e) => Err(Error::io("cannot read", path, &e)),
        }
    }
}

/// Something wrong with the folder that stops Godwit from trusting it; `check` lists them all,
/// a run refuses to start while any is there.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[ts(export)]
pub enum SourceProblem {
    /// A `.sql` file whose name does not start with an integer version.
    BadName { file: String },
    /// A version followed by something other than `_` (`20240101-add.up.sql`).
    BadSeparator { file: String, rename: String },
    /// A `.SQL` (or `.UP.SQL`, ...) extension: sqlx reads lower-case ones only.
    BadCase { file: String, rename: String },
    /// Two files claim the same version.
    DuplicateVersion { version: i64, files: Vec<String> },
    /// A `.down.sql` with no `.up.sql` of the same version.
    DownWithoutUp { version: i64, file: String },
    /// A file that is not UTF-8 (sqlx cannot read it either).
    NotUtf8 { file: String },
    /// A file that cannot be read at all.
    Unreadable { file: String, error: String },
}

impl SourceProblem {
    /// What is wrong.
    pub fn what(&self) -> String {
        match self {
            SourceProblem::BadName { file } => format!("{file}: the name does not start with a version"),
            SourceProblem::BadSeparator { file, .. } => {
                format!("{file}: the version must be followed by `_`")
            }
            SourceProblem::BadCase { file, .. } => {
                format!("{file}: the extension is not lower-case, so it is not read")
            }
            SourceProblem::DuplicateVersion { version, files } => {
                format!("version {version} is used by more than one migration: {}", files.join(", "))
            }
            SourceProblem::DownWithoutUp { file, .. } => format!("{file} has no matching .up.sql"),
            SourceProblem::NotUtf8 { file } => format!("{file} is not valid UTF-8"),
            SourceProblem::Unreadable { file, error } => format!("cannot read {file}: {error}"),
        }
    }

    /// What to do about it.
    pub fn fix(&self) -> String {
        match self {
            SourceProblem::BadName { .. } => "rename it VERSION_description.sql (or .up.sql/.down.sql), e.g. \
                                             20240201145745_create_todos_table.up.sql"
                .into(),
            SourceProblem::BadSeparator { rename, .. } | SourceProblem::BadCase { rename, .. } => {
                format!("rename it {rename}")
            }
            SourceProblem::DuplicateVersion { .. } => {
                "give all but one a new version: `rebase` renumbers those no environment applied".into()
            }
            SourceProblem::DownWithoutUp { .. } => "add the up file or remove the stray down file".into(),
            SourceProblem::NotUtf8 { .. } => {
                "save it as UTF-8 (in an editor: reopen with its encoding, save as UTF-8)".into()
            }
            SourceProblem::Unreadable { .. } => "check its permissions".into(),
        }
    }

    pub fn message(&self) -> String {
        let fix = self.fix();
        let mut first = fix.chars();
        let fix = first.next().map(|c| c.to_uppercase().chain(first).collect::<String>()).unwrap_or_default();
        format!("{}. {fix}.", self.what())
    }
}

/// Names that look like migrations but that sqlx would not read as they are: a `.SQL` extension in
/// another case, or a version followed by `-` (or another character) instead of `_`.
fn misnamed(name: &str) -> Option<SourceProblem> {
    let lower = name.to_ascii_lowercase();
    if let Some(ext) = [".up.sql", ".down.sql", ".sql"].into_iter().find(|e| lower.ends_with(e))
        && !name.ends_with(ext)
    {
        let rename = format!("{}{ext}", &name[..name.len() - ext.len()]);
        return Some(SourceProblem::BadCase { file: name.to_string(), rename });
    }
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    let sep = name[digits..].chars().next()?;
    if digits > 0 && sep != '_' && !sep.is_ascii_alphanumeric() && sep != '.' {
        let rename = format!("{}_{}", &name[..digits], &name[digits + sep.len_utf8()..]);
        return Some(SourceProblem::BadSeparator { file: name.to_string(), rename });
    }
    None
}

/// A migrations folder: its migrations in version order, and whatever is wrong with it.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub dir: PathBuf,
    pub migrations: Vec<MigrationFile>,
    pub problems: Vec<SourceProblem>,
    /// The up files that share a version (a `DuplicateVersion` problem each), by name, each with
    /// its own down where one has its description: for `rebase` to renumber all but one.
    pub clashes: Vec<Vec<MigrationFile>>,
    /// The repeatable folder's files, in name order (empty without one).
    pub repeatables: Vec<MigrationFile>,
}

/// How a migration's checksum is computed: SHA-384 of the file, as sqlx does, leaving out the
/// characters sqlx.toml's `[migrate] ignored-chars` names (a file with CRLF line endings and one
/// with LF then agree when `\r` is left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checksums {
    ignored: std::collections::BTreeSet<char>,
}

impl Checksums {
    pub fn ignoring(ignored: std::collections::BTreeSet<char>) -> Checksums {
        Checksums { ignored }
    }

    pub fn of(&self, text: &str) -> Vec<u8> {
        self.of_bytes(text.as_bytes())
    }

    /// Of a file's bytes. A file that is not UTF-8 is refused before its checksum matters.
    fn of_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match std::str::from_utf8(bytes) {
            Ok(text) if !self.ignored.is_empty() => {
                let mut digest = Sha384::new();
                for part in text.split(|c| self.ignored.contains(&c)) {
                    digest.update(part.as_bytes());
                }
                digest.finalize().to_vec()
            }
            _ => Sha384::digest(bytes).to_vec(),
        }
    }
}

impl Source {
    /// Reads a folder. A missing folder is an error; a folder with problems is not (see `ensure_valid`).
    pub fn load(dir: &Path) -> Result<Source> {
        Source::load_with(dir, &Checksums::default())
    }

    /// Reads a folder, with checksums computed as `sums` says.
    pub fn load_with(dir: &Path, sums: &Checksums) -> Result<Source> {
        let entries = fs::read_dir(dir).map_err(|e| {
            Error::input(format!(
                "cannot read the migrations folder {}: {e}. Create it, or point `migrations` in \
                 godwit.toml at the right folder.",
                dir.display()
            ))
        })?;

        // List first (the file type comes with the directory entry: no extra stat per file), then
        // read and hash the up files on every core: status on thousands of files stays fast.
        let mut listed = Vec::new();
        let mut downs: BTreeMap<i64, Vec<PathBuf>> = BTreeMap::new();
        let mut problems = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::input(format!("cannot list {}: {e}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.to_ascii_lowercase().ends_with(".sql") {
                continue;
            }
            let is_file = match entry.file_type() {
                Ok(t) if t.is_symlink() => entry.path().is_file(),
                Ok(t) => t.is_file(),
                Err(_) => false,
            };
            if !is_file {
                continue;
            }
            if let Some(p) = misnamed(&name) {
                problems.push(p);
                continue;
            }
            let Some((version, rest)) = name.split_once('_').and_then(|(v, rest)| Some((v.parse::<i64>().ok()?, rest)))
            else {
                problems.push(SourceProblem::BadName { file: name });
                continue;
            };
            if rest.ends_with(".down.sql") {
                downs.entry(version).or_default().push(entry.path());
                continue;
            }
            let kind = if rest.ends_with(".up.sql") { Kind::Reversible } else { Kind::Simple };
            listed.push((version, kind, entry.path(), name));
        }

        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let chunk = listed.len().div_ceil(threads).max(1);
        let read: Vec<std::result::Result<MigrationFile, SourceProblem>> = std::thread::scope(|scope| {
            let handles: Vec<_> = listed
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|(v, k, p, n)| read_up(*v, *k, p, n, sums)).collect::<Vec<_>>())
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("reader thread")).collect()
        });
        let mut ups: BTreeMap<i64, Vec<MigrationFile>> = BTreeMap::new();
        for r in read {
            match r {
                Ok(m) => ups.entry(m.version).or_default().push(m),
                Err(p) => problems.push(p),
            }
        }

        let mut migrations = Vec::with_capacity(ups.len());
        let mut clashes = Vec::new();
        for (version, mut files) in ups {
            if files.len() > 1 {
                files.sort_by_key(MigrationFile::file_name);
                let names: Vec<String> = files.iter().map(MigrationFile::file_name).collect();
                // Their down files are part of the same clash, not strays; each up keeps its own.
                let d = downs.remove(&version).unwrap_or_default();
                for m in &mut files {
                    m.has_down = m.down_path.as_ref().is_some_and(|p| d.contains(p));
                }
                problems.push(SourceProblem::DuplicateVersion { version, files: names });
                clashes.push(files);
                continue;
            }
            let mut m = files.pop().expect("one file");
            if let Some(mut d) = downs.remove(&version) {
                d.sort();
                // Pair with the down file of the same version even if its description differs.
                if m.kind == Kind::Reversible {
                    let exact = d.iter().position(|p| Some(p) == m.down_path.as_ref()).unwrap_or(0);
                    m.down_path = Some(d.remove(exact));
                    m.has_down = true;
                } else if m.kind == Kind::Simple {
                    d.insert(0, m.path.clone());
                    problems.push(SourceProblem::DuplicateVersion {
                        version,
                        files: d.iter().map(|p| file_name(p)).collect(),
                    });
                    continue;
                }
            }
            migrations.push(m);
        }
        // An up file that could not be read is reported itself; its down file is not a stray.
        let listed_ups: std::collections::HashSet<i64> = listed.iter().map(|(v, ..)| *v).collect();
        for (version, files) in downs.into_iter().filter(|(v, _)| !listed_ups.contains(v)) {
            for f in files {
                problems.push(SourceProblem::DownWithoutUp { version, file: file_name(&f) });
            }
        }
        // A database's own down (`mysql/V_name.down.sql`) with no migration to go with: renamed
        // without it, it would no longer be run, and the shared down would run in its place.
        for d in [crate::syntax::Dialect::Postgres, crate::syntax::Dialect::MySql, crate::syntax::Dialect::Sqlite] {
            let Ok(entries) = fs::read_dir(dir.join(d.key())) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".sql") {
                    continue;
                }
                let owned = migrations
                    .iter()
                    .any(|m| m.down_path.as_deref().and_then(Path::file_name).is_some_and(|f| *f == *name));
                if !owned {
                    let version = name.split('_').next().and_then(|v| v.parse().ok()).unwrap_or_default();
                    problems.push(SourceProblem::DownWithoutUp { version, file: format!("{}/{name}", d.key()) });
                }
            }
        }
        problems.sort_by_key(|p| format!("{p:?}"));
        Ok(Source { dir: dir.to_path_buf(), migrations, problems, clashes, repeatables: Vec::new() })
    }

    /// Adds the repeatable files of `dir` (none when it does not exist): every `*.sql` in it, in
    /// name order, each applied again whenever its checksum changes. Its problems join the folder's.
    pub fn with_repeatables(mut self, dir: &Path, sums: &Checksums) -> Result<Source> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(self),
            Err(e) => return Err(Error::io("cannot read", dir, &e)),
        };
        let mut names = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let lower = name.to_ascii_lowercase();
            if !lower.ends_with(".sql") || !entry.path().is_file() {
                continue;
            }
            if !name.ends_with(".sql") {
                let rename = format!("{}.sql", &name[..name.len() - 4]);
                self.problems.push(SourceProblem::BadCase { file: format!("{}/{name}", folder_name(dir)), rename });
                continue;
            }
            names.push(name);
        }
        names.sort();
        // A file is run: a link in it that leads out of the folder is refused.
        let real_dir = dir.canonicalize().map_err(|e| Error::io("cannot read", dir, &e))?;
        let (inside, outside): (Vec<String>, Vec<String>) = names
            .into_iter()
            .partition(|n| dir.join(n).canonicalize().is_ok_and(|p| p.parent() == Some(real_dir.as_path())));
        for name in outside {
            self.problems.push(SourceProblem::Unreadable {
                file: format!("{}/{name}", folder_name(dir)),
                error: "it is a link that leads out of the repeatable folder; put the file itself there".into(),
            });
        }
        for (i, name) in inside.into_iter().enumerate() {
            let path = dir.join(&name);
            match read_up(-(i as i64) - 1, Kind::Simple, &path, &name, sums) {
                Ok(mut m) => {
                    m.repeatable = true;
                    m.description = name.clone();
                    self.repeatables.push(m);
                }
                Err(p) => self.problems.push(p),
            }
        }
        Ok(self)
    }

    /// The repeatable file of that name.
    pub fn repeatable(&self, name: &str) -> Option<&MigrationFile> {
        self.repeatables.iter().find(|r| r.file_name() == name)
    }

    /// Refuses to go on while the folder has problems, naming every one.
    pub fn ensure_valid(&self) -> Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = self.problems.iter().map(|p| format!("  - {}", p.message())).collect();
        Err(Error::new(
            Problem::BadFile,
            format!(
                "the migrations folder {} has {} problem(s); nothing was run:\n{}",
                self.dir.display(),
                self.problems.len(),
                lines.join("\n")
            ),
        ))
    }

    pub fn get(&self, version: i64) -> Option<&MigrationFile> {
        self.migrations.binary_search_by_key(&version, |m| m.version).ok().map(|i| &self.migrations[i])
    }

    /// The files that revise the same migration (their header's `Revises:`), where there are two
    /// or more: each a revision conflict, in version order.
    pub fn siblings(&self) -> Vec<Vec<&MigrationFile>> {
        let mut children: std::collections::BTreeMap<&str, Vec<&MigrationFile>> = Default::default();
        for m in &self.migrations {
            if let Some(parent) = m.header.revises.as_deref() {
                children.entry(parent).or_default().push(m);
            }
        }
        children.into_values().filter(|kids| kids.len() > 1).collect()
    }
}

fn read_up(
    version: i64,
    kind: Kind,
    path: &Path,
    name: &str,
    sums: &Checksums,
) -> std::result::Result<MigrationFile, SourceProblem> {
    let bytes = fs::read(path).map_err(|e| SourceProblem::Unreadable { file: name.into(), error: e.to_string() })?;
    let checksum = sums.of_bytes(&bytes);
    let sql = String::from_utf8(bytes).map_err(|_| SourceProblem::NotUtf8 { file: name.into() })?;
    let (sql, bom) = without_bom(sql);
    let suffix = if kind == Kind::Reversible { ".up.sql" } else { ".sql" };
    let stem = name.split_once('_').map_or("", |(_, rest)| rest).trim_end_matches(suffix);
    Ok(MigrationFile {
        version,
        description: stem.replace('_', " "),
        kind,
        checksum,
        no_transaction: no_transaction(&sql),
        bom,
        header: parse_header(&sql),
        down_path: (kind == Kind::Reversible).then(|| path.with_file_name(format!("{version}_{stem}.down.sql"))),
        has_down: false,
        repeatable: false,
        path: path.to_path_buf(),
        sql,
    })
}

/// Whether a script runs outside a transaction: a first line `-- no-transaction`, as sqlx reads it.
/// An up file and its down file each say so for themselves.
pub fn no_transaction(sql: &str) -> bool {
    sql.starts_with("-- no-transaction")
}

/// A file's text without a leading byte order mark, and whether it had one.
fn without_bom(mut text: String) -> (String, bool) {
    match text.strip_prefix('\u{feff}') {
        Some(_) => {
            text.drain(..'\u{feff}'.len_utf8());
            (text, true)
        }
        None => (text, false),
    }
}

/// Where a project keeps its repeatable migrations unless it says: `repeatable` beside the
/// migrations folder (outside it: sqlx-cli reads that folder).
pub fn repeatable_beside(migrations: &Path) -> PathBuf {
    migrations.parent().unwrap_or(Path::new("")).join("repeatable")
}

fn folder_name(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Reads the guide's header from the comment block at the top of a file.
pub fn parse_header(sql: &str) -> Header {
    let mut h = Header::default();
    for line in sql.lines() {
        let Some(text) = line.trim_start_matches('\u{feff}').strip_prefix("--") else {
            break;
        };
        let text = text.trim();
        let value = |key: &str| {
            text.len()
                .ge(&key.len())
                .then(|| &text[..key.len()])
                .filter(|k| k.eq_ignore_ascii_case(key))
                .map(|_| text[key.len()..].trim().to_string())
        };
        if let Some(v) = value("Revision ID:") {
            h.revision_id = Some(v);
        } else if let Some(v) = value("Revises:") {
            h.revises = Some(v);
        } else if let Some(v) = value("Create Date:") {
            h.create_date = Some(v);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn reads_like_sqlx() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "1_create_users.up.sql", "-- no-transaction\nCREATE TABLE users (id int);\n");
        write(d.path(), "1_create_users.down.sql", "DROP TABLE users;\n");
        write(d.path(), "2_seed.sql", "INSERT INTO users VALUES (1);\n");
        write(d.path(), "README.md", "not a migration");
        let s = Source::load(d.path()).unwrap();
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.migrations.len(), 2);
        let m = &s.migrations[0];
        assert_eq!((m.version, m.description.as_str(), m.kind), (1, "create users", Kind::Reversible));
        assert!(m.no_transaction);
        assert_eq!(m.down_sql().unwrap(), "DROP TABLE users;\n");
        assert_eq!(s.migrations[1].kind, Kind::Simple);
        assert!(s.migrations[1].down_sql().unwrap_err().message.contains("irreversible"));
        // Checksums equal sqlx's own, byte for byte, including BOM, CRLF and tabs.
        write(d.path(), "3_odd.sql", "\u{feff}create table t (\r\n\tx int\r\n);\r\n");
        let s = Source::load(d.path()).unwrap();
        let ours: Vec<Vec<u8>> = s.migrations.iter().map(|m| m.checksum.clone()).collect();
        let theirs: Vec<Vec<u8>> = sqlx::migrate::resolve_blocking(d.path())
            .unwrap()
            .into_iter()
            .filter(|(m, _)| !m.migration_type.is_down_migration())
            .map(|(m, _)| m.checksum.to_vec())
            .collect();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn reports_bad_names_duplicates_and_stray_downs() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "abc_x.sql", "");
        write(d.path(), "nounderscore.sql", "");
        write(d.path(), "5_a.sql", "");
        write(d.path(), "5_b.up.sql", "");
        write(d.path(), "5_b.down.sql", "");
        write(d.path(), "7_gone.down.sql", "");
        fs::write(d.path().join("8_bin.up.sql"), [0xff, 0xfe, 0x00]).unwrap();
        write(d.path(), "8_bin.down.sql", "");
        let s = Source::load(d.path()).unwrap();
        assert!(s.migrations.is_empty());
        let msg = s.ensure_valid().unwrap_err();
        assert_eq!(msg.kind(), crate::error::ErrorKind::Input);
        for needle in ["abc_x.sql", "nounderscore.sql", "5_a.sql, 5_b.up.sql", "7_gone.down.sql", "8_bin.up.sql"] {
            assert!(msg.message.contains(needle), "{needle} missing from: {}", msg.message);
        }
        assert!(!msg.message.contains("5_b.down.sql has no matching"), "{}", msg.message);
        assert_eq!(s.problems.len(), 5, "{:?}", s.problems);
    }

    #[test]
    fn near_miss_names_are_reported_with_the_name_to_use() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "20261129000001-dash.up.sql", "SELECT 1;");
        write(d.path(), "2_SHOUT.UP.SQL", "SELECT 1;");
        write(d.path(), "3_plain.Sql", "SELECT 1;");
        write(d.path(), "4_mixed.Up.sql", "SELECT 1;");
        let s = Source::load(d.path()).unwrap();
        assert!(s.migrations.is_empty());
        let mut p = s.problems.clone();
        p.sort_by_key(SourceProblem::what);
        assert_eq!(
            p,
            [
                SourceProblem::BadSeparator {
                    file: "20261129000001-dash.up.sql".into(),
                    rename: "20261129000001_dash.up.sql".into()
                },
                SourceProblem::BadCase { file: "2_SHOUT.UP.SQL".into(), rename: "2_SHOUT.up.sql".into() },
                SourceProblem::BadCase { file: "3_plain.Sql".into(), rename: "3_plain.sql".into() },
                SourceProblem::BadCase { file: "4_mixed.Up.sql".into(), rename: "4_mixed.up.sql".into() },
            ]
        );
        let f = crate::migration::check::check_files(&s, None, &[]);
        assert!(f.iter().all(|f| !f.fix.is_empty()));
    }

    #[test]
    fn missing_down_file_is_named() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "3_add.up.sql", "SELECT 1;");
        let s = Source::load(d.path()).unwrap();
        let e = s.migrations[0].down_sql().unwrap_err();
        assert!(e.message.contains("3_add.down.sql") && e.message.contains("missing"), "{}", e.message);
    }

    #[test]
    fn header_is_read_when_present() {
        let h = parse_header(
            "-- no-transaction\n-- create todos table\n--\n-- Revision ID: 20240201145745\n-- Revises: 20240131120000\n-- Create Date: 2024-02-01 14:57:45\n\nCREATE TABLE todos ();\n-- Revises: ignored\n",
        );
        assert_eq!(h.revision_id.as_deref(), Some("20240201145745"));
        assert_eq!(h.revises.as_deref(), Some("20240131120000"));
        assert_eq!(h.create_date.as_deref(), Some("2024-02-01 14:57:45"));
        assert_eq!(parse_header("CREATE TABLE x ();"), Header::default());
    }
}
