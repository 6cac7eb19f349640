//! `godwit import`: another tool's migrations written as Godwit files, and that tool's history
//! table read so what ran there is recorded as applied instead of running again.
//!
//! Reading never writes: `read` builds the whole import in memory (each tool in its own module),
//! `write` checks every file against the folder before it writes one, and `history::adopt` records
//! the applied ones in one transaction.

mod alembic;
pub use alembic::{Capture, CodeToRun, code_to_run};
pub mod baseline;
mod dbmate;
mod diesel;
mod flyway;
mod golang;
pub mod history;

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::syntax::Dialect;

/// The tools Godwit imports from.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[ts(export, rename = "ImportTool")]
pub enum Tool {
    Alembic,
    Flyway,
    Dbmate,
    GolangMigrate,
    Diesel,
}

impl Tool {
    pub fn from_name(name: &str) -> Option<Tool> {
        match name.to_ascii_lowercase().as_str() {
            "alembic" => Some(Tool::Alembic),
            "flyway" => Some(Tool::Flyway),
            "dbmate" => Some(Tool::Dbmate),
            "golang-migrate" | "migrate" => Some(Tool::GolangMigrate),
            "diesel" => Some(Tool::Diesel),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::Alembic => "Alembic",
            Tool::Flyway => "Flyway",
            Tool::Dbmate => "dbmate",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Diesel => "Diesel",
        }
    }
}

/// One migration as the other tool has it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Foreign {
    /// Its version or revision as that tool names it (`1.1`, `20151129054053`, `ae1027a6acf`).
    pub id: String,
    /// Alembic's `down_revision`s; the others are a line, ordered by `id`.
    pub parents: Vec<String>,
    pub description: String,
    pub up: String,
    /// `None`: the tool has no down for it.
    pub down: Option<String>,
    pub no_transaction: bool,
    /// Why the down could not be had (Alembic's downgrade failed when it ran): kept without one.
    pub down_error: Option<String>,
    pub created: Option<NaiveDateTime>,
    /// The files it came from, relative to the folder imported.
    pub files: Vec<String>,
}

/// Something the import did not carry over as it was, said by name.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export, rename = "ImportNote")]
pub struct Note {
    pub kind: NoteKind,
    /// The file or revision it is about.
    pub subject: String,
    pub message: String,
}

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "ImportNoteKind")]
pub enum NoteKind {
    /// A file Godwit cannot run (Flyway's repeatable and Java migrations): not imported.
    Unsupported,
    /// A revision two lines of work branched from or met at (Alembic).
    Branch,
    /// A merge revision with no SQL of its own: no file is written for it.
    Merge,
    /// No down: imported as irreversible.
    Irreversible,
    /// A down with nothing in it: imported as one that undoes nothing.
    EmptyDown,
    /// Written with `-- no-transaction`, as the other tool ran it.
    NoTransaction,
    /// Versions that are not whole numbers, numbered in the tool's order.
    Renumbered,
    /// Placeholders replaced with their configured values, as the other tool replaces them.
    Placeholder,
    /// An Alembic revision that read the database as it ran: its SQL is what it sent then.
    ReadsDatabase,
    /// Alembic's env.py could not run by itself (it needs its application): the revisions ran without it.
    EnvSkipped,
}

/// A file the import writes.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct NewFile {
    pub name: String,
    pub content: String,
    /// Already in the folder with this content (an import run again): left as it is.
    pub exists: bool,
}

/// One imported migration.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Imported {
    /// Its version or revision in the other tool.
    pub id: String,
    pub version: i64,
    pub description: String,
    pub files: Vec<NewFile>,
    /// Its other-tool parents, when it has a graph (Alembic).
    pub parents: Vec<String>,
    /// The other tool's files it comes from.
    pub sources: Vec<String>,
}

impl Imported {
    /// The up file's checksum, as the history records it.
    pub fn checksum(&self, sums: &crate::migration::source::Checksums) -> Vec<u8> {
        sums.of(&self.files[0].content)
    }
}

/// What `import` reads from a folder and would write.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Import {
    pub tool: Tool,
    pub from: String,
    pub migrations: Vec<Imported>,
    pub notes: Vec<Note>,
    /// Other-tool ids without a file of their own (Alembic merges), so history can place them.
    #[serde(skip)]
    #[ts(skip)]
    pub(crate) graph: Vec<(String, Vec<String>)>,
}

/// How to read the other tool's project.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The SQL Alembic renders its operations in (the other tools' files are SQL already).
    pub dialect: Option<Dialect>,
    /// The Python that runs Alembic; found beside the project when `None`.
    pub python: Option<PathBuf>,
    /// What a person agreed to run (`code_to_run`): Alembic is run only when it is what would run.
    pub run_code: Option<CodeToRun>,
    /// The server Alembic's revisions are to run on, in a scratch database (what the person agrees
    /// to); `None`: rendered offline.
    pub against: Option<String>,
    /// That scratch database, once made.
    pub capture: Option<Capture>,
    /// The person's environment variables the project's code sees, by name (`CodeToRun::env`).
    pub env: Vec<String>,
}

impl Tool {
    /// How the command line and the files' `-- Imported from` line name the tool.
    pub fn key(self) -> &'static str {
        match self {
            Tool::Alembic => "alembic",
            Tool::Flyway => "flyway",
            Tool::Dbmate => "dbmate",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Diesel => "diesel",
        }
    }
}

/// Reads `dir` as `tool`'s project, for the migrations folder `into`: migrations imported there
/// before keep their files and versions, new ones come after them. Runs nothing but the Alembic
/// project's revisions (offline, or on `opts.capture`'s scratch database), and writes nothing.
pub fn read(tool: Tool, dir: &Path, opts: &ReadOptions, into: &Path) -> Result<Import> {
    let dir = &fs::canonicalize(dir).map_err(|e| Error::io("cannot open", dir, &e))?;
    if !dir.is_dir() {
        return Err(Error::input(format!("{} is not a folder", dir.display())));
    }
    let (mut foreign, mut notes) = match tool {
        Tool::Alembic => alembic::read(dir, opts)?,
        Tool::Flyway => flyway::read(dir)?,
        Tool::Dbmate => dbmate::read(dir)?,
        Tool::GolangMigrate => golang::read(dir)?,
        Tool::Diesel => diesel::read(dir)?,
    };
    if foreign.is_empty() {
        return Err(Error::input(format!(
            "{} holds no {} migrations (looked for {})",
            dir.display(),
            tool.name(),
            match tool {
                Tool::Alembic => "versions/*.py",
                Tool::Flyway => "V<version>__<name>.sql",
                Tool::Dbmate => "<version>_<name>.sql with -- migrate:up",
                Tool::GolangMigrate => "<version>_<name>.up.sql",
                Tool::Diesel => "<version>_<name>/up.sql",
            }
        )));
    }
    // Names and ids come from a stranger's folder and go into comment lines: one line each.
    for f in &mut foreign {
        f.id = one_line(&f.id);
        f.parents.iter_mut().for_each(|p| *p = one_line(p));
        f.files.iter_mut().for_each(|p| *p = one_line(p));
    }
    for n in &mut notes {
        n.subject = one_line(&n.subject);
    }
    let graph = foreign.iter().map(|f| (f.id.clone(), f.parents.clone())).collect();
    let earlier = imported_before(tool, into)?;
    let versions = versions(tool, &foreign, &earlier, &mut notes)?;
    let mut known: Vec<i64> = earlier.values().map(|(v, _)| *v).chain(versions.iter().flatten().copied()).collect();
    known.sort_unstable();
    let mut migrations = Vec::new();
    for (f, version) in foreign.iter().zip(versions) {
        let Some(version) = version else { continue };
        migrations.push(match earlier.get(&f.id) {
            Some((_, names)) => as_they_are(f, version, names, into)?,
            None => {
                let previous = known.iter().copied().filter(|v| *v < version).max();
                render(tool, f, version, previous, &mut notes)
            }
        });
    }
    Ok(Import { tool, from: dir.display().to_string(), migrations, notes, graph })
}

/// Control characters (a newline in a file name) shown as `?`.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Migrations an earlier import of `tool` wrote into `into`: other-tool id -> (version, files).
fn imported_before(tool: Tool, into: &Path) -> Result<std::collections::BTreeMap<String, (i64, Vec<String>)>> {
    let mut out = std::collections::BTreeMap::new();
    let entries = match fs::read_dir(into) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::input(format!("cannot list {}: {e}", into.display()))),
    };
    let prefix = format!("-- Imported from {} ", tool.key());
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") || name.ends_with(".down.sql") || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Some(version) = name.split('_').next().and_then(|v| v.parse::<i64>().ok()) else { continue };
        let Ok(text) = fs::read_to_string(entry.path()) else { continue };
        let id = text
            .lines()
            .take_while(|l| l.starts_with("--") || l.trim().is_empty())
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split_whitespace().next());
        if let Some(id) = id {
            let mut names = vec![name.clone()];
            if let Some(stem) = name.strip_suffix(".up.sql") {
                let down = format!("{stem}.down.sql");
                if into.join(&down).is_file() {
                    names.push(down);
                }
            }
            out.insert(id.to_string(), (version, names));
        }
    }
    Ok(out)
}

/// A migration an earlier import wrote, as it is in the folder now.
fn as_they_are(f: &Foreign, version: i64, names: &[String], into: &Path) -> Result<Imported> {
    let files = names
        .iter()
        .map(|name| {
            let path = into.join(name);
            let content = fs::read_to_string(&path).map_err(|e| Error::io("cannot read", &path, &e))?;
            Ok(NewFile { name: name.clone(), content, exists: true })
        })
        .collect::<Result<Vec<_>>>()?;
    let description = names[0].split_once('_').map_or("", |(_, rest)| rest);
    let description = description.trim_end_matches(".sql").trim_end_matches(".up").replace('_', " ");
    Ok(Imported { id: f.id.clone(), version, description, files, parents: f.parents.clone(), sources: f.files.clone() })
}

/// Godwit versions in the tool's order. Migrations imported before keep theirs. Otherwise the
/// tool's own when they are whole numbers; Alembic's create dates, each after every version
/// already there; Flyway's dotted versions numbered on from the last. `None` for a revision that
/// gets no file (an Alembic merge with no SQL).
fn versions(
    tool: Tool,
    foreign: &[Foreign],
    earlier: &std::collections::BTreeMap<String, (i64, Vec<String>)>,
    notes: &mut Vec<Note>,
) -> Result<Vec<Option<i64>>> {
    let mut last = earlier.values().map(|(v, _)| *v).max().unwrap_or(0);
    if tool == Tool::Alembic {
        return Ok(foreign
            .iter()
            .map(|f| {
                if let Some((v, _)) = earlier.get(&f.id) {
                    return Some(*v);
                }
                if f.parents.len() > 1 && !crate::migration::new::has_statement(&f.up) {
                    return None;
                }
                let stamp = f.created.map_or(0, |d| d.format("%Y%m%d%H%M%S").to_string().parse().unwrap_or(0));
                last = stamp.max(last + 1);
                Some(last)
            })
            .collect());
    }
    if tool == Tool::Diesel {
        let (versions, changed) = diesel::versions(foreign, &|id| earlier.get(id).map(|e| e.0), last)?;
        if !changed.is_empty() {
            notes.push(Note {
                kind: NoteKind::Renumbered,
                subject: changed.join(", "),
                message: "Godwit versions are whole numbers above the one before: numbered on from the last, in \
                          Diesel's order; each file's header keeps its Diesel version"
                    .into(),
            });
        }
        return Ok(versions.into_iter().map(Some).collect());
    }
    let own: Vec<Option<i64>> = foreign.iter().map(|f| f.id.parse::<i64>().ok().filter(|v| *v > 0)).collect();
    if tool != Tool::Flyway {
        if let Some(bad) = foreign.iter().zip(&own).find(|(_, v)| v.is_none()).map(|(f, _)| f) {
            return Err(Error::input(format!(
                "{} has version {}, which Godwit cannot use (a version is a whole number from 1 to {}); rename it",
                bad.files[0],
                bad.id,
                i64::MAX
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = own.iter().flatten().find(|v| !seen.insert(**v)) {
            return Err(Error::input(format!("two {} migrations have version {dup}; rename one", tool.name())));
        }
        return Ok(own);
    }
    if own.iter().all(Option::is_some) && earlier.keys().all(|id| id.parse::<i64>().is_ok()) {
        return Ok(foreign.iter().zip(own).map(|(f, v)| earlier.get(&f.id).map(|e| e.0).or(v)).collect());
    }
    let renumbered: Vec<&str> =
        foreign.iter().filter(|f| !earlier.contains_key(&f.id)).map(|f| f.id.as_str()).collect();
    if !renumbered.is_empty() {
        notes.push(Note {
            kind: NoteKind::Renumbered,
            subject: renumbered.join(", "),
            message: "Godwit versions are whole numbers: numbered on from the last, in Flyway's order; each file's \
                      header keeps its Flyway version"
                .into(),
        });
    }
    Ok(foreign
        .iter()
        .map(|f| match earlier.get(&f.id) {
            Some((v, _)) => Some(*v),
            None => {
                last += 1;
                Some(last)
            }
        })
        .collect())
}

/// The file-name part of a description: `Add e-mail column!` -> `add_e_mail_column`.
fn slug(description: &str, fallback: &str) -> String {
    let mut s = String::new();
    for c in description.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('_') && !s.is_empty() {
            s.push('_');
        }
    }
    let s: String = s.trim_end_matches('_').chars().take(60).collect();
    let s = s.trim_end_matches('_').to_string();
    if s.is_empty() { slug(fallback, "migration") } else { s }
}

fn render(tool: Tool, f: &Foreign, version: i64, previous: Option<i64>, notes: &mut Vec<Note>) -> Imported {
    let slug = slug(&f.description, &format!("{} {}", tool.name(), f.id));
    let description = slug.replace('_', " ");
    // `key id (…)`: an import run again finds what it wrote by this line.
    let origin = match tool {
        Tool::Alembic => format!(
            "{} {} (revision; revises {})",
            tool.key(),
            f.id,
            if f.parents.is_empty() { "nothing".to_string() } else { f.parents.join(", ") }
        ),
        _ => format!("{} {} ({})", tool.key(), f.id, f.files.join(", ")),
    };
    let directive = if f.no_transaction { "-- no-transaction\n" } else { "" };
    // Why there is no down, in the file, for whoever looks for one.
    let no_down = f
        .down_error
        .as_deref()
        .map(|why| format!("-- No down: its downgrade failed when Godwit ran it ({})\n", one_line(why)))
        .unwrap_or_default();
    let header = format!(
        "{directive}-- {description}\n--\n-- Revision ID: {version}\n-- Revises: {}\n{}-- Imported from {origin}\n{no_down}\n",
        previous.map(|v| v.to_string()).unwrap_or_default(),
        f.created.map(|d| format!("-- Create Date: {}\n", d.format("%Y-%m-%d %H:%M:%S"))).unwrap_or_default(),
    );
    let up = format!("{header}{}\n", f.up.trim_end());
    let mut files = Vec::new();
    match f.down.as_deref() {
        Some(down) => {
            // An empty down stays one: the tool stepped over it, and so does `down`.
            let body = if crate::migration::new::has_statement(down) {
                down.trim_end().to_string()
            } else {
                notes.push(Note {
                    kind: NoteKind::EmptyDown,
                    subject: f.files.first().cloned().unwrap_or_else(|| f.id.clone()),
                    message: format!("its down is empty in {}: imported as a down that undoes nothing", tool.name()),
                });
                format!("-- Empty in {}: rolling back past it changes nothing.", tool.name())
            };
            files.push(NewFile { name: format!("{version}_{slug}.up.sql"), content: up, exists: false });
            files.push(NewFile {
                name: format!("{version}_{slug}.down.sql"),
                content: format!("{directive}-- Revert: {description}\n\n{body}\n"),
                exists: false,
            });
        }
        None => {
            if crate::migration::new::has_statement(&f.up) {
                notes.push(Note {
                    kind: NoteKind::Irreversible,
                    subject: f.files.first().cloned().unwrap_or_else(|| f.id.clone()),
                    message: match &f.down_error {
                        Some(why) => format!("its downgrade failed when it ran ({why}): imported as irreversible"),
                        None => format!("{} has no down for it: imported as irreversible", tool.name()),
                    },
                });
            }
            files.push(NewFile { name: format!("{version}_{slug}.sql"), content: up, exists: false });
        }
    }
    Imported { id: f.id.clone(), version, description, files, parents: f.parents.clone(), sources: f.files.clone() }
}

/// Another tool's project in a folder without godwit.toml: the tool and the folder to import from
/// (the folder itself, or one or two levels down for Alembic's alembic.ini, Flyway's usual
/// `sql/` or `db/migration`, and dbmate's `db/migrations`).
pub fn detect(root: &Path) -> Option<(Tool, PathBuf)> {
    let alembic = [PathBuf::new()]
        .into_iter()
        .chain(subfolders(root))
        .chain(
            subfolders(root)
                .iter()
                .flat_map(|d| subfolders(&root.join(d)).into_iter().map(|s| d.join(s)))
                .collect::<Vec<_>>(),
        )
        .find(|d| root.join(d).join("alembic.ini").is_file());
    if let Some(d) = alembic {
        return Some((Tool::Alembic, if d.as_os_str().is_empty() { root.to_path_buf() } else { root.join(d) }));
    }
    let holds = |dir: &Path, want: &dyn Fn(&str, &Path) -> bool| {
        fs::read_dir(dir).is_ok_and(|e| {
            e.flatten()
                .any(|f| f.file_type().is_ok_and(|t| t.is_file()) && want(&f.file_name().to_string_lossy(), &f.path()))
        })
    };
    if ["flyway.toml", "flyway.conf"].iter().any(|f| root.join(f).is_file()) {
        return Some((Tool::Flyway, root.to_path_buf()));
    }
    let flyway = |name: &str, _: &Path| name.starts_with('V') && name.contains("__") && name.ends_with(".sql");
    for d in ["sql", "db/migration", "src/main/resources/db/migration", ""] {
        if holds(&root.join(d), &flyway) {
            return Some((Tool::Flyway, if d.is_empty() { root.to_path_buf() } else { root.join(d) }));
        }
    }
    let dbmate = |name: &str, path: &Path| {
        name.ends_with(".sql") && fs::read_to_string(path).is_ok_and(|t| t.lines().any(|l| l.trim() == "-- migrate:up"))
    };
    if holds(&root.join("db/migrations"), &dbmate) {
        return Some((Tool::Dbmate, root.join("db/migrations")));
    }
    let diesel = |dir: &Path| subfolders(dir).iter().any(|s| dir.join(s).join("up.sql").is_file());
    [diesel::folder(root), root.join("migrations"), root.to_path_buf()]
        .into_iter()
        .find(|d| diesel(d))
        .map(|d| (Tool::Diesel, d))
}

fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| PathBuf::from(e.file_name()))
        .collect();
    out.sort();
    out
}

/// Where a new project's Godwit migrations go: `migrations`, unless the other tool uses that name.
pub fn folder_for(root: &Path) -> &'static str {
    if root.join("migrations").exists() { "godwit-migrations" } else { "migrations" }
}

/// A golang-migrate folder that is the project's migrations folder, used as it is (its naming is
/// sqlx's): nothing is written, and history is recorded with the files' own checksums.
pub fn use_in_place(import: &mut Import, dir: &Path) -> Result<()> {
    // The files stay as they are: say what that means rather than what rendering them would do.
    for n in &mut import.notes {
        match n.kind {
            NoteKind::NoTransaction => {
                n.message = "it manages its own transaction: add `-- no-transaction` as its first line before Godwit \
                             runs it (Godwit runs a file inside a transaction otherwise)"
                    .into();
            }
            NoteKind::Irreversible => n.message = "it has no down: `check` reports it".into(),
            _ => {}
        }
    }
    for m in &mut import.migrations {
        m.files = m
            .sources
            .iter()
            .map(|name| {
                let path = dir.join(name);
                let bytes = fs::read(&path).map_err(|e| Error::io("cannot read", &path, &e))?;
                let content = String::from_utf8(bytes)
                    .map_err(|_| Error::input(format!("{} is not UTF-8 text", path.display())))?;
                Ok(NewFile { name: name.clone(), content, exists: true })
            })
            .collect::<Result<_>>()?;
    }
    Ok(())
}

/// Whether two paths name the same folder.
pub fn same_folder(a: &Path, b: &Path) -> bool {
    matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}

/// What `write` did with each file.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Written {
    pub dir: String,
    /// Files written now (or that would be, in a dry run).
    pub written: Vec<String>,
    /// Files already there with the same content.
    pub unchanged: Vec<String>,
}

/// Compares the import with `dir` and writes the files that are not there yet. Refuses before
/// writing any when a file there differs, or another migration there has one of the versions.
pub fn write(import: &mut Import, dir: &Path, dry_run: bool) -> Result<Written> {
    let taken: Vec<(i64, String)> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().to_str()?.to_string();
                Some((name.split('_').next()?.parse::<i64>().ok()?, name))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::input(format!("cannot list {}: {e}", dir.display()))),
    };
    for m in &mut import.migrations {
        for f in &mut m.files {
            let path = dir.join(&f.name);
            match fs::read(&path) {
                Ok(bytes) if bytes == f.content.as_bytes() => f.exists = true,
                Ok(_) => {
                    return Err(Error::input(format!(
                        "{} is already there and differs from what the import writes: nothing was written. Move \
                         it away (or import into an empty migrations folder) and try again.",
                        path.display()
                    )));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("cannot read", &path, &e)),
            }
        }
        if let Some((_, other)) =
            taken.iter().find(|(v, name)| *v == m.version && !m.files.iter().any(|f| &f.name == name))
        {
            return Err(Error::input(format!(
                "{} in {} already has version {}, which the import gives {}: nothing was written. Import into an \
                 empty migrations folder, or move {other} away.",
                other,
                dir.display(),
                m.version,
                m.files[0].name
            )));
        }
    }
    let (mut written, mut unchanged) = (Vec::new(), Vec::new());
    for f in import.migrations.iter().flat_map(|m| &m.files) {
        if f.exists { unchanged.push(f.name.clone()) } else { written.push(f.name.clone()) }
    }
    if !dry_run && !written.is_empty() {
        fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, &e))?;
        let mut done: Vec<PathBuf> = Vec::new();
        for f in import.migrations.iter().flat_map(|m| &m.files).filter(|f| !f.exists) {
            let path = dir.join(&f.name);
            let result = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut file| std::io::Write::write_all(&mut file, f.content.as_bytes()));
            if let Err(e) = result {
                // Take back what this run wrote, so a failed import leaves the folder as it was.
                for p in &done {
                    let _ = fs::remove_file(p);
                }
                if done.iter().all(|p| p != &path) && e.kind() != std::io::ErrorKind::AlreadyExists {
                    let _ = fs::remove_file(&path);
                }
                return Err(Error::io("cannot write", &path, &e).and("nothing was left written"));
            }
            done.push(path);
        }
    }
    Ok(Written { dir: dir.display().to_string(), written, unchanged })
}

/// The files of `dir` and its subfolders, sorted, as paths relative to it.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let entries = fs::read_dir(dir.join(&rel))
            .map_err(|e| Error::input(format!("cannot list {}: {e}", dir.join(&rel).display())))?;
        for entry in entries.flatten() {
            let name = rel.join(entry.file_name());
            // A link could lead outside the folder; the tools' own folders do not need them.
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(name),
                Ok(t) if t.is_file() => out.push(name),
                _ => {}
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_text(dir: &Path, rel: &Path) -> Result<String> {
    let path = dir.join(rel);
    let bytes = fs::read(&path).map_err(|e| Error::io("cannot read", &path, &e))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::input(format!("{} is not UTF-8 text; save it as UTF-8 and import again", path.display()))
    })?;
    Ok(text.trim_start_matches('\u{feff}').to_string())
}

/// `Create_users_table` -> `create users table`.
fn words(name: &str) -> String {
    name.replace('_', " ").trim().to_string()
}

/// Writes `body` to `rel` under `dir`, making the folders on the way: a tool's project in a test.
#[cfg(test)]
pub(crate) fn put(dir: &Path, rel: &str, body: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, body).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_tools_projects_are_recognised() {
        let d = tempfile::tempdir().unwrap();
        let at = |rel: &str, body: &str| put(d.path(), rel, body);
        assert_eq!(detect(d.path()), None);
        at("db/migrations/20240101_a.sql", "-- migrate:up\nSELECT 1;\n");
        assert_eq!(detect(d.path()), Some((Tool::Dbmate, d.path().join("db/migrations"))));
        at("sql/V1__a.sql", "SELECT 1;");
        assert_eq!(detect(d.path()), Some((Tool::Flyway, d.path().join("sql"))));
        at("docker/postgres/alembic.ini", "[alembic]\n");
        assert_eq!(detect(d.path()), Some((Tool::Alembic, d.path().join("docker/postgres"))));
        assert_eq!(folder_for(d.path()), "migrations");
        fs::create_dir(d.path().join("migrations")).unwrap();
        assert_eq!(folder_for(d.path()), "godwit-migrations");
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("Add e-mail column!", "x"), "add_e_mail_column");
        assert_eq!(slug("  ", "Alembic ab12"), "alembic_ab12");
        assert_eq!(slug("émoji ☃", "x"), "moji");
    }

    #[test]
    fn own_versions_are_kept_and_others_numbered() {
        let f = |id: &str| Foreign {
            id: id.into(),
            up: "SELECT 1;".into(),
            files: vec![format!("{id}_x.up.sql")],
            ..Default::default()
        };
        let none = std::collections::BTreeMap::new();
        let mut notes = Vec::new();
        let v = versions(Tool::Flyway, &[f("1"), f("2"), f("10")], &none, &mut notes).unwrap();
        assert_eq!(v, vec![Some(1), Some(2), Some(10)]);
        assert!(notes.is_empty());
        let v = versions(Tool::Flyway, &[f("1"), f("1.1"), f("2")], &none, &mut notes).unwrap();
        assert_eq!(v, vec![Some(1), Some(2), Some(3)]);
        assert_eq!(notes[0].kind, NoteKind::Renumbered);
        // Imported before as 1, 2, 3: a new 1.2 comes after them, the others keep theirs.
        let earlier = [("1", 1), ("1.1", 2), ("2", 3)].map(|(id, v)| (id.to_string(), (v, Vec::new()))).into();
        let v = versions(Tool::Flyway, &[f("1"), f("1.1"), f("1.2"), f("2")], &earlier, &mut notes).unwrap();
        assert_eq!(v, vec![Some(1), Some(2), Some(4), Some(3)]);
        for bad in [&[f("1"), f("01")][..], &[f("0")], &[f("99999999999999999999")]] {
            let e = versions(Tool::GolangMigrate, bad, &none, &mut notes).unwrap_err();
            assert_eq!(e.problem, crate::error::Problem::Input);
        }
    }

    #[test]
    fn alembic_versions_follow_create_dates_and_rise() {
        let at = |s: &str| Some(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap());
        let f = |created, parents: &[&str], up: &str| Foreign {
            created,
            parents: parents.iter().map(|p| p.to_string()).collect(),
            up: up.into(),
            ..Default::default()
        };
        let v = versions(
            Tool::Alembic,
            &[
                f(at("2024-02-01 14:57:45"), &[], "CREATE TABLE a ();"),
                f(at("2024-02-01 14:57:45"), &["a"], "CREATE TABLE b ();"),
                f(None, &["b"], "CREATE TABLE c ();"),
                f(at("2024-01-01 00:00:00"), &["c", "x"], "\n"),
            ],
            &std::collections::BTreeMap::new(),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(v, vec![Some(20240201145745), Some(20240201145746), Some(20240201145747), None]);
    }
}
