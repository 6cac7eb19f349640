//! Alembic: the revision graph and each revision's SQL come from Alembic itself, run once with the
//! project's Python in offline mode (`upgrade base:heads --sql`, `downgrade HEAD:base --sql`); the
//! output is cut at Alembic's `-- Running upgrade A -> B` lines. No Python is read by Godwit.
//!
//! This runs the project's `env.py` and revision files, which may be a stranger's code: it runs only
//! once a person has seen what runs (`code_to_run`: the interpreter and the files) and said yes,
//! and a virtualenv's interpreter is used only from folders that are theirs. The child gets a
//! database URL with the dialect only (no host, user or password) and no other environment than it
//! needs to find its Python.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::{Foreign, Note, NoteKind, ReadOptions};
use crate::error::{Error, Result};
use crate::syntax::Dialect;

/// Asks Alembic for the graph and the offline SQL, and prints them as JSON after a marker (the
/// project's env.py may print too).
const DRIVER: &str = r#"
import io, json, sys
import alembic
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ini, location, url = sys.argv[1], sys.argv[2], sys.argv[3]

def config(buffer=None):
    cfg = Config(ini or None, output_buffer=buffer)
    if location:
        cfg.set_main_option("script_location", location)
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg

script = ScriptDirectory.from_config(config())
revisions = []
for r in script.walk_revisions():
    down = r.down_revision
    parents = [] if down is None else [down] if isinstance(down, str) else list(down)
    revisions.append({"revision": r.revision, "parents": parents, "doc": r.doc or "", "longdoc": r.longdoc or ""})
heads = list(script.get_heads())

def offline(fn, spec):
    buf = io.StringIO()
    fn(config(buf), spec, sql=True)
    return buf.getvalue()

up = offline(command.upgrade, "base:heads")
downs = [offline(command.downgrade, h + ":base") for h in heads]
sys.stdout.write("\n@@godwit-import@@\n" + json.dumps(
    {"alembic": alembic.__version__, "revisions": revisions, "heads": heads, "upgrade": up, "downgrade": downs}))
"#;

const MARKER: &str = "\n@@godwit-import@@\n";

#[derive(Deserialize)]
struct Output {
    revisions: Vec<Revision>,
    heads: Vec<String>,
    upgrade: String,
    downgrade: Vec<String>,
}

#[derive(Deserialize)]
struct Revision {
    revision: String,
    parents: Vec<String>,
    doc: String,
    longdoc: String,
}

/// What reading an Alembic project runs: shown to a person, who says yes before it runs.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[ts(export)]
pub struct CodeToRun {
    /// The Python interpreter.
    pub python: String,
    /// The project's files it runs: env.py, and the revision files it loads.
    pub files: Vec<String>,
}

/// What `read` would run for the project in `dir` (the interpreter `python`, else the project's
/// own virtualenv's, else `python3`). Runs nothing.
pub fn code_to_run(dir: &Path, python: Option<&Path>) -> Result<CodeToRun> {
    let dir = &std::fs::canonicalize(dir).map_err(|e| Error::io("cannot open", dir, &e))?;
    let (_, location) = locate(dir)?;
    let python = interpreter(dir, python)?;
    let mut files = vec![format!("{} (and what it imports)", location.join("env.py").display())];
    let versions = location.join("versions");
    let count = std::fs::read_dir(&versions)
        .map(|d| d.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "py")).count())
        .unwrap_or(0);
    files.push(format!("{}/*.py ({count} files)", versions.display()));
    Ok(CodeToRun { python: python.display().to_string(), files })
}

fn interpreter(dir: &Path, python: Option<&Path>) -> Result<PathBuf> {
    Ok(match python {
        // A relative --python is the person's, from where they typed it (the child runs elsewhere).
        Some(p) if p.components().count() > 1 => {
            std::path::absolute(p).map_err(|e| Error::input(format!("cannot find {}: {e}", p.display())))?
        }
        Some(p) => p.to_path_buf(),
        None => find_python(dir),
    })
}

pub(super) fn read(dir: &Path, opts: &ReadOptions) -> Result<(Vec<Foreign>, Vec<Note>)> {
    let (ini, location) = locate(dir)?;
    let dialect = opts.dialect.ok_or_else(|| {
        Error::input(
            "say which database Alembic renders its SQL for (postgres, mysql or sqlite), or import into an \
             environment, whose database says it",
        )
    })?;
    let code = code_to_run(dir, opts.python.as_deref())?;
    if opts.run_code.as_ref() != Some(&code) {
        return Err(Error::new(
            crate::error::Problem::CodeNotAllowed,
            format!(
                "reading this Alembic project runs its code: {} with {}. Nothing was run: say yes to running it \
                 first.",
                code.python,
                code.files.join(" and ")
            ),
        )
        .with_remedy(crate::error::Remedy::RunCode { code }));
    }
    let python = PathBuf::from(&code.python);
    let out = run(&python, ini.as_deref(), &location, dialect)?;
    let ups = chunks(&out.upgrade, "upgrade", dialect)?;
    let mut downs: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for text in &out.downgrade {
        for (id, sql, outside) in chunks(text, "downgrade", dialect)? {
            downs.entry(id).or_insert((sql, outside));
        }
    }
    let by_id: BTreeMap<&str, &Revision> = out.revisions.iter().map(|r| (r.revision.as_str(), r)).collect();
    let mut notes = Vec::new();
    let mut found = Vec::new();
    for (id, up, up_outside) in ups {
        let Some(r) = by_id.get(id.as_str()) else {
            return Err(Error::input(format!(
                "Alembic ran revision {id}, which it did not list; nothing was imported"
            )));
        };
        if r.parents.len() > 1 {
            let written = crate::migration::new::has_statement(&up);
            notes.push(Note {
                kind: NoteKind::Merge,
                subject: id.clone(),
                message: format!(
                    "merges {}{}",
                    r.parents.join(", "),
                    if written { "; written as one migration after both" } else { "; no SQL of its own, so no file" }
                ),
            });
        }
        let (down, down_outside) = downs.remove(&id).map_or((None, false), |(d, o)| (Some(d), o));
        let no_transaction = up_outside || down_outside;
        if no_transaction {
            notes.push(Note {
                kind: NoteKind::NoTransaction,
                subject: id.clone(),
                message: "it commits part way (an autocommit_block), so it runs outside a transaction".into(),
            });
        }
        found.push(Foreign {
            id: id.clone(),
            parents: r.parents.clone(),
            description: r.doc.lines().next().unwrap_or_default().trim().to_string(),
            up,
            down,
            no_transaction,
            created: created(&r.longdoc),
            files: vec![format!("revision {id}")],
        });
    }
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &out.revisions {
        for p in &r.parents {
            children.entry(p.as_str()).or_default().push(r.revision.as_str());
        }
    }
    for (parent, kids) in children.into_iter().filter(|(_, k)| k.len() > 1) {
        notes.push(Note {
            kind: NoteKind::Branch,
            subject: parent.to_string(),
            message: format!(
                "branches into {}: imported in one line, in the order Alembic runs them",
                kids.into_iter().collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    if out.heads.len() > 1 {
        notes.push(Note {
            kind: NoteKind::Branch,
            subject: out.heads.join(", "),
            message: "several heads that no merge revision joins: imported in one line, in the order Alembic runs \
                      them"
                .into(),
        });
    }
    Ok((found, notes))
}

/// The `alembic.ini` (when there is one) and the script folder (holding env.py and versions/).
fn locate(dir: &Path) -> Result<(Option<PathBuf>, PathBuf)> {
    let ini = dir.join("alembic.ini");
    if ini.is_file() {
        let location = script_location(&ini)?;
        return Ok((Some(ini), location));
    }
    if dir.join("env.py").is_file() {
        let ini = near(dir).into_iter().skip(1).map(|d| d.join("alembic.ini")).find(|p| p.is_file());
        return Ok((ini, dir.to_path_buf()));
    }
    Err(Error::input(format!(
        "{} has neither alembic.ini nor env.py: give the folder that holds alembic.ini, or the one with env.py and \
         versions/",
        dir.display()
    )))
}

/// `script_location` from an alembic.ini, relative to it (`%(here)s` is its folder).
fn script_location(ini: &Path) -> Result<PathBuf> {
    let text = std::fs::read_to_string(ini).map_err(|e| Error::io("cannot read", ini, &e))?;
    let here = ini.parent().unwrap_or(Path::new("."));
    let value = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "script_location")
        .map(|(_, v)| v.trim().replace("%(here)s", &here.display().to_string()))
        .ok_or_else(|| Error::input(format!("{} has no script_location", ini.display())))?;
    Ok(here.join(value))
}

/// The project's own Python: a virtualenv beside the folder or a few levels up, else `python3`.
/// A virtualenv in a folder that is not the person's (another user's, or one others may write
/// in) is passed over: its interpreter could be anything.
fn find_python(dir: &Path) -> PathBuf {
    near(dir)
        .into_iter()
        .flat_map(|d| [".venv", "venv", "env"].map(|v| (d.clone(), d.join(v))))
        .find(|(d, venv)| {
            let python = venv.join("bin").join("python");
            // The interpreter a link leads to counts too: it could be another user's file.
            let real = python.canonicalize().unwrap_or_else(|_| python.clone());
            python.is_file()
                && [d.as_path(), venv, &venv.join("bin"), &python, &real].iter().all(|f| crate::project::is_theirs(f))
        })
        .map(|(_, venv)| venv.join("bin").join("python"))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// `dir`, then the folders above it (at most three) that are inside the current folder: where a
/// project keeps its virtualenv or alembic.ini. Never above where the person works: a shared
/// parent such as /tmp is anyone's to write into.
fn near(dir: &Path) -> Vec<PathBuf> {
    let cwd = std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok());
    dir.ancestors()
        .take(4)
        .enumerate()
        .filter(|(i, d)| *i == 0 || cwd.as_ref().is_some_and(|c| d.starts_with(c)))
        .map(|(_, d)| d.to_path_buf())
        .collect()
}

/// How long Alembic may take to render the SQL: an env.py that waits for a server or for input
/// does not hold the import forever.
const ALEMBIC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

fn run(python: &Path, ini: Option<&Path>, location: &Path, dialect: Dialect) -> Result<Output> {
    let url = match dialect {
        Dialect::Postgres => "postgresql://",
        Dialect::MySql => "mysql://",
        Dialect::Sqlite => "sqlite://",
    };
    let cwd = ini.and_then(Path::parent).unwrap_or(location);
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(DRIVER)
        .arg(ini.map(|p| p.display().to_string()).unwrap_or_default())
        .arg(location)
        .arg(url)
        .current_dir(cwd)
        .env_clear()
        // An env.py that reads DATABASE_URL gets the dialect too; bytecode is not written into the project.
        .env("DATABASE_URL", url)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for key in ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        Error::input(format!(
            "cannot run {}: {e}. Name the Python that runs this project's Alembic (its virtualenv's bin/python)",
            python.display()
        ))
    })?;
    let output = wait(&mut child, ALEMBIC_TIMEOUT).ok_or_else(|| {
        Error::input(format!(
            "Alembic did not finish within {} s, so it was stopped; nothing was imported. Does env.py connect to a \
             database or wait for input in offline mode?",
            ALEMBIC_TIMEOUT.as_secs()
        ))
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim();
        if stderr.contains("No module named 'alembic'") {
            return Err(Error::input(format!(
                "{} has no Alembic installed. Name the Python that runs this project's Alembic (its virtualenv's \
                 bin/python)",
                python.display()
            )));
        }
        return Err(Error::input(format!(
            "Alembic could not render the project's SQL offline ({} said: {last}); nothing was imported. Its env.py \
             must support offline mode (`alembic upgrade head --sql`)",
            python.display()
        )));
    }
    let json = stdout
        .rsplit_once(MARKER)
        .map(|(_, j)| j)
        .ok_or_else(|| Error::input("Alembic finished without listing the revisions; nothing was imported"))?;
    serde_json::from_str(json).map_err(|e| Error::input(format!("cannot read what Alembic listed: {e}")))
}

/// The child's output, read while it runs; `None` (and the child killed) after `limit`.
fn wait(child: &mut std::process::Child, limit: std::time::Duration) -> Option<std::process::Output> {
    use std::io::Read;
    let mut out = child.stdout.take()?;
    let mut err = child.stderr.take()?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < limit => std::thread::sleep(std::time::Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let stdout = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Some(std::process::Output { status, stdout, stderr })
}

/// `Create Date: 2024-02-01 14:57:45.123456` from a revision's docstring.
fn created(longdoc: &str) -> Option<NaiveDateTime> {
    let line = longdoc.lines().find_map(|l| l.trim().strip_prefix("Create Date:"))?.trim();
    NaiveDateTime::parse_from_str(line.get(..19)?, "%Y-%m-%d %H:%M:%S").ok()
}

/// Each revision's SQL from Alembic's offline output, in order, without its version-table
/// bookkeeping and transaction statements (Godwit keeps both itself), and whether it must run
/// outside a transaction: a `COMMIT` between two of its statements is Alembic's `autocommit_block`.
fn chunks(text: &str, verb: &str, dialect: Dialect) -> Result<Vec<(String, String, bool)>> {
    let marker = format!("-- Running {verb} ");
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut preamble = String::new();
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(&marker) {
            let (from, to) = rest.trim().split_once("->").unwrap_or((rest.trim(), ""));
            let id = if verb == "upgrade" { to } else { from };
            parts.push((id.trim().to_string(), String::new()));
        } else if let Some((_, sql)) = parts.last_mut() {
            sql.push_str(line);
        } else {
            preamble.push_str(line);
        }
    }
    let table = version_table(&preamble).unwrap_or_else(|| "alembic_version".into());
    parts
        .into_iter()
        .map(|(id, sql)| {
            let statements: Vec<(Role, &str)> = crate::syntax::split::split(&sql, dialect)
                .map_err(|e| Error::input(format!("Alembic's SQL for {id} does not end cleanly: {}", e.what)))?
                .into_iter()
                .map(|s| (role(s.sql, &table), s.sql))
                .collect();
            let work = |r: &[(Role, &str)]| r.iter().any(|(role, _)| *role == Role::Work);
            let outside = (0..statements.len())
                .any(|i| statements[i].0 == Role::Transaction && work(&statements[..i]) && work(&statements[i + 1..]));
            let kept = statements
                .iter()
                .filter(|(role, _)| *role == Role::Work)
                .map(|(_, s)| format!("{};", s.trim()))
                .collect::<Vec<_>>()
                .join("\n\n");
            Ok((id, kept, outside))
        })
        .collect()
}

/// The table Alembic creates first: its version table.
fn version_table(preamble: &str) -> Option<String> {
    let at = preamble.find("CREATE TABLE ")? + "CREATE TABLE ".len();
    let name: String = preamble[at..].chars().take_while(|c| !c.is_whitespace() && *c != '(').collect();
    (!name.is_empty()).then_some(name)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `BEGIN`, `COMMIT`: Godwit opens and ends its own transactions.
    Transaction,
    /// Alembic's own version table.
    Bookkeeping,
    Work,
}

fn role(statement: &str, table: &str) -> Role {
    let words = crate::syntax::words::leading(statement, 3);
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or_default();
    let on_table = |i: usize| words.get(i).is_some_and(|n| n.eq_ignore_ascii_case(table));
    if matches!(w(0), "BEGIN" | "COMMIT") || (w(0) == "START" && w(1) == "TRANSACTION") {
        Role::Transaction
    } else if (w(0) == "UPDATE" && on_table(1))
        || (matches!((w(0), w(1)), ("INSERT", "INTO") | ("DELETE", "FROM") | ("CREATE", "TABLE") | ("DROP", "TABLE"))
            && on_table(2))
    {
        Role::Bookkeeping
    } else {
        Role::Work
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_output_is_cut_per_revision_without_bookkeeping() {
        let text = "BEGIN;\n\nCREATE TABLE alembic_version (\n    version_num VARCHAR(32) NOT NULL\n);\n\n\
                    -- Running upgrade  -> a1\n\nCREATE TABLE todos (id SERIAL NOT NULL);\n\n\
                    INSERT INTO alembic_version (version_num) VALUES ('a1') RETURNING alembic_version.version_num;\n\n\
                    -- Running upgrade c3, d4 -> e5\n\nDELETE FROM alembic_version WHERE alembic_version.version_num = 'c3';\n\n\
                    UPDATE alembic_version SET version_num='e5' WHERE alembic_version.version_num = 'd4';\n\nCOMMIT;\n";
        let parts = chunks(text, "upgrade", Dialect::Postgres).unwrap();
        assert_eq!(
            parts,
            vec![
                ("a1".into(), "CREATE TABLE todos (id SERIAL NOT NULL);".into(), false),
                ("e5".into(), String::new(), false)
            ]
        );
        let down = "-- Running downgrade a1 -> \n\nDROP TABLE todos;\n\nDELETE FROM alembic_version WHERE x = 'a1';\n";
        assert_eq!(
            chunks(down, "downgrade", Dialect::Postgres).unwrap(),
            vec![("a1".into(), "DROP TABLE todos;".into(), false)]
        );
        let autocommit = "-- Running upgrade a1 -> b2\n\nALTER TYPE mood ADD VALUE 'meh';\n\nCOMMIT;\n\nCREATE INDEX \
                          CONCURRENTLY i ON t (c);\n\nBEGIN;\n\nUPDATE alembic_version SET version_num='b2';\n\nCOMMIT;\n";
        let parts = chunks(autocommit, "upgrade", Dialect::Postgres).unwrap();
        assert!(parts[0].2, "a COMMIT between two statements: outside a transaction");
        assert_eq!(parts[0].1, "ALTER TYPE mood ADD VALUE 'meh';\n\nCREATE INDEX CONCURRENTLY i ON t (c);");
    }

    #[test]
    fn create_dates_are_read_to_the_second() {
        let d = created("create todos\n\nRevision ID: a1\nCreate Date: 2024-02-01 14:57:45.123456\n").unwrap();
        assert_eq!(d.format("%Y%m%d%H%M%S").to_string(), "20240201145745");
        assert!(created("no date").is_none());
    }
}
