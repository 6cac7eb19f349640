//! Alembic: the revision graph and each revision's SQL come from Alembic itself, run once with the
//! project's Python by `alembic_driver.py`: offline (`--sql`), or captured, every upgrade and
//! downgrade run on a scratch database and what each sends recorded. No Python is read by Godwit.
//!
//! This runs the project's `env.py` and revision files, which may be a stranger's code: it runs only
//! once a person has seen what runs (`code_to_run`: the interpreter, the files, the server of the
//! scratch database) and said yes, and a virtualenv's interpreter is used only from folders that
//! are theirs. The child gets no other environment than it needs to find its Python; the scratch
//! database's URL and password come on its standard input, and the driver refuses any other
//! connection.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::{Foreign, Note, NoteKind, ReadOptions};
use crate::error::{Error, Result};
use crate::syntax::Dialect;

/// Runs the revisions through Alembic, offline or on a scratch database, and prints each one's SQL
/// as JSON after a marker.
const DRIVER: &str = include_str!("alembic_driver.py");

const MARKER: &str = "\n@@godwit-import@@\n";

#[derive(Deserialize)]
struct Output {
    revisions: Vec<Revision>,
    heads: Vec<String>,
    steps: Vec<Step>,
    /// Why env.py could not run (it needs its application, say): the revisions ran without it.
    env_error: Option<String>,
}

/// One revision's upgrade or downgrade as it ran.
#[derive(Deserialize)]
struct Step {
    id: String,
    upgrade: bool,
    /// Offline: what Alembic wrote for it.
    #[serde(default)]
    text: Option<String>,
    /// Captured: each statement it sent, as sent.
    #[serde(default)]
    statements: Option<Vec<String>>,
    /// It ran an `autocommit_block`.
    outside: bool,
    /// Statements that returned rows.
    reads: u32,
    /// A downgrade that failed, and why.
    error: Option<String>,
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
    /// The server a scratch database is made on for the revisions to run against (captured), with
    /// the environment's login, which the project's code can then use; `None`: rendered offline.
    pub against: Option<String>,
    /// Variables of the person's own environment the code sees, by name; it sees none of theirs
    /// but these, PATH, HOME and the locale's.
    pub env: Vec<String>,
}

/// What Godwit sets for the project's Python itself: a variable of the same name from the
/// person's environment would point the code at a real database or at their passwords.
const OWN_VARIABLES: &[&str] =
    &["DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "MYSQL_PWD", "PYTHONDONTWRITEBYTECODE"];

/// What `read` would run for the project in `dir` (the interpreter `python`, else the project's
/// own virtualenv's, else `python3`), against which server's scratch database, seeing which of the
/// person's environment variables (`env`, each set and none Godwit's own). Runs nothing.
pub fn code_to_run(dir: &Path, python: Option<&Path>, against: Option<String>, env: &[String]) -> Result<CodeToRun> {
    for name in env {
        if OWN_VARIABLES.contains(&name.as_str()) {
            return Err(Error::input(format!(
                "{name} is set by Godwit for the project's code (a scratch database, or none): it is not passed from \
                 your environment"
            )));
        }
        if name.is_empty() || name.contains('=') || std::env::var_os(name).is_none() {
            return Err(Error::input(format!(
                "`{name}` is not a variable set in your environment, so it cannot be passed to the project's code"
            )));
        }
    }
    let dir = &std::fs::canonicalize(dir).map_err(|e| Error::io("cannot open", dir, &e))?;
    let (_, location) = locate(dir)?;
    let python = interpreter(dir, python)?;
    let mut files = vec![format!("{} (and what it imports)", location.join("env.py").display())];
    let versions = location.join("versions");
    let count = std::fs::read_dir(&versions)
        .map(|d| d.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "py")).count())
        .unwrap_or(0);
    files.push(format!("{}/*.py ({count} files)", versions.display()));
    Ok(CodeToRun { python: python.display().to_string(), files, against, env: env.to_vec() })
}

/// Where the revisions run when they are captured: a scratch database, made and dropped by the
/// caller. The password goes to the child on its standard input only.
#[derive(Debug, Clone)]
pub struct Capture {
    pub target: crate::db::Target,
}

impl Capture {
    /// Refuses a connection the driver could not make as Godwit makes it: a MySQL URL's TLS settings.
    fn check(&self) -> Result<()> {
        let t = &self.target;
        if t.dialect() == Dialect::MySql
            && t.url().query_pairs().any(|(k, _)| {
                let k = k.as_ref();
                crate::db::target::SSL_MODE.contains(&k) || crate::db::target::SSL_ROOT_CERT.contains(&k)
            })
        {
            return Err(Error::input(
                "this MySQL URL sets TLS, which Godwit cannot hand on to the project's Python driver; nothing was \
                 run. Have Alembic render the SQL offline instead, with no database",
            ));
        }
        Ok(())
    }

    /// The request's `scratch` part: SQLAlchemy's URL pieces.
    fn json(&self) -> serde_json::Value {
        let t = &self.target;
        if t.dialect() == Dialect::Sqlite {
            return serde_json::json!({ "driver": "sqlite", "database": t.sqlite_path() });
        }
        let url = t.url();
        let decode = crate::db::target::percent_decode;
        // libpq's names for what Godwit reads under either spelling; MySQL's drivers take TLS
        // another way, so a MySQL URL with TLS settings is refused before anything runs (`check`).
        let setting =
            |names: &[&str]| url.query_pairs().find(|(k, _)| names.contains(&k.as_ref())).map(|(_, v)| v.into_owned());
        let mut query = BTreeMap::new();
        if t.dialect() == Dialect::Postgres {
            for (name, names) in [
                ("sslmode", crate::db::target::SSL_MODE),
                ("sslrootcert", crate::db::target::SSL_ROOT_CERT),
                ("host", &["host"][..]),
                ("hostaddr", &["hostaddr"][..]),
            ] {
                if let Some(v) = setting(names) {
                    query.insert(name.to_string(), v);
                }
            }
        }
        serde_json::json!({
            "driver": if t.dialect() == Dialect::Postgres { "postgresql" } else { "mysql" },
            "host": url.host_str().map(decode),
            "port": url.port(),
            "user": (!url.username().is_empty()).then(|| decode(url.username())),
            "password": t.password(),
            "database": t.database(),
            "query": query,
        })
    }
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
    let code = code_to_run(dir, opts.python.as_deref(), opts.against.clone(), &opts.env)?;
    if opts.run_code.as_ref() != Some(&code) {
        return Err(Error::new(
            crate::error::Problem::CodeNotAllowed,
            format!(
                "reading this Alembic project runs its code: {} with {}{}. Nothing was run: say yes to running it \
                 first.",
                code.python,
                code.files.join(" and "),
                code.against.as_deref().map(|s| format!(", on a scratch database made on {s}")).unwrap_or_default()
            ),
        )
        .with_remedy(crate::error::Remedy::RunCode { code }));
    }
    if code.against.is_some() != opts.capture.is_some() {
        return Err(Error::failed("the scratch database to run the revisions on was not made; nothing was run"));
    }
    if let Some(c) = &opts.capture {
        c.check()?;
    }
    let python = PathBuf::from(&code.python);
    // Flask-Migrate's revisions import the application, which `flask db` finds in the folder above
    // migrations/ (when that folder is the person's, as for the virtualenv).
    let flask = ini.as_deref().is_some_and(|i| script_location(i).is_err());
    let paths: Vec<PathBuf> = if flask { near(&location).into_iter().skip(1).take(1).collect() } else { Vec::new() };
    let out = run(&python, ini.as_deref(), &location, &paths, &code.env, dialect, opts.capture.as_ref())?;
    let by_id: BTreeMap<&str, &Revision> = out.revisions.iter().map(|r| (r.revision.as_str(), r)).collect();
    let mut notes = Vec::new();
    if let Some(why) = &out.env_error {
        notes.push(Note {
            kind: NoteKind::EnvSkipped,
            subject: "env.py".into(),
            message: format!(
                "it could not run on its own ({}): the revisions ran without it",
                crate::db::target::redact_text(why)
            ),
        });
    }
    // Each revision's downgrade, with the first downgrade that failed before it ran: downgrades run
    // from the heads down, and one that fails after another failed may fail for want of what that
    // one would have put back (Alembic itself stops at the first).
    let mut downs: BTreeMap<&str, (&Step, Option<&str>)> = BTreeMap::new();
    let mut failed_above: Option<&str> = None;
    for s in out.steps.iter().filter(|s| !s.upgrade) {
        downs.entry(s.id.as_str()).or_insert((s, failed_above));
        if s.error.is_some() {
            failed_above = failed_above.or(Some(s.id.as_str()));
        }
    }
    let mut found = Vec::new();
    for up in out.steps.iter().filter(|s| s.upgrade) {
        let id = &up.id;
        let Some(r) = by_id.get(id.as_str()) else {
            return Err(Error::input(format!(
                "Alembic ran revision {id}, which it did not list; nothing was imported"
            )));
        };
        let (up_sql, up_outside) = sql_of(up, dialect)?;
        if r.parents.len() > 1 {
            let written = crate::migration::new::has_statement(&up_sql);
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
        if up.reads > 0 {
            notes.push(Note {
                kind: NoteKind::ReadsDatabase,
                subject: id.clone(),
                message: format!(
                    "it read the database as it ran ({} quer{}): its SQL is what it sent to a database made by the \
                     revisions before it, which holds no rows but theirs; check it against your data",
                    up.reads,
                    if up.reads == 1 { "y" } else { "ies" }
                ),
            });
        }
        let (down_sql, down_outside, down_error) = match downs.get(id.as_str()) {
            None => (None, false, None),
            Some((d, above)) => match (&d.error, above) {
                (Some(e), Some(first)) => {
                    (None, false, Some(format!("{}; it ran after the downgrade of {first} had failed", reason(e))))
                }
                (Some(e), None) => (None, false, Some(reason(e))),
                (None, _) => {
                    let (sql, outside) = sql_of(d, dialect)?;
                    (Some(sql), outside, None)
                }
            },
        };
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
            up: up_sql,
            down: down_sql,
            down_error,
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
        // Flask-Migrate's alembic.ini has no script_location: it sits beside env.py and versions/.
        let location = match script_location(&ini) {
            Err(_) if dir.join("env.py").is_file() => dir.to_path_buf(),
            other => other?,
        };
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

fn run(
    python: &Path,
    ini: Option<&Path>,
    location: &Path,
    paths: &[PathBuf],
    env: &[String],
    dialect: Dialect,
    capture: Option<&Capture>,
) -> Result<Output> {
    let url = match dialect {
        Dialect::Postgres => "postgresql://",
        Dialect::MySql => "mysql://",
        Dialect::Sqlite => "sqlite://",
    };
    let request = serde_json::json!({
        "mode": if capture.is_some() { "capture" } else { "offline" },
        "ini": ini.map(|p| p.display().to_string()).unwrap_or_default(),
        "location": location,
        "paths": paths,
        "dialect_url": url,
        "scratch": capture.map(Capture::json),
    });
    let cwd = ini.and_then(Path::parent).unwrap_or(location);
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(DRIVER)
        .current_dir(cwd)
        .env_clear()
        // An env.py that reads DATABASE_URL gets the dialect too; bytecode is not written into the project.
        .env("DATABASE_URL", url)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for key in
        ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR"].into_iter().chain(env.iter().map(String::as_str))
    {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    // The scratch database's password, when it has one, comes on stdin; the person's own pass file
    // is read only where their own password may be used (libpq reads ~/.pgpass by itself).
    match capture {
        Some(c) if c.target.ambient() => {
            if let Some(v) = std::env::var_os("PGPASSWORD") {
                cmd.env("PGPASSWORD", v);
            }
        }
        _ => {
            cmd.env("PGPASSFILE", "/dev/null");
        }
    }
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        Error::input(format!(
            "cannot run {}: {e}. Name the Python that runs this project's Alembic (its virtualenv's bin/python)",
            python.display()
        ))
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A child that exits before reading says why on stderr, which is read below.
        let _ = std::io::Write::write_all(&mut stdin, request.to_string().as_bytes());
    }
    let limit = if capture.is_some() { CAPTURE_TIMEOUT } else { ALEMBIC_TIMEOUT };
    let output = wait(&mut child, limit).ok_or_else(|| {
        Error::input(format!(
            "Alembic did not finish within {} s, so it was stopped; nothing was imported. Does env.py wait for a \
             server or for input?",
            limit.as_secs()
        ))
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let last = failure(&stderr);
        if stderr.contains("No module named 'alembic'") {
            return Err(Error::input(format!(
                "{} has no Alembic installed. Name the Python that runs this project's Alembic (its virtualenv's \
                 bin/python)",
                python.display()
            )));
        }
        if let Some(driver) = stderr.lines().find_map(|l| l.split("@@godwit-no-driver@@ ").nth(1)) {
            return Err(Error::input(format!(
                "{} has no {} driver for SQLAlchemy ({}), which running the revisions on a scratch database needs. \
                 Install one into that Python, or import without a database to render the SQL offline",
                python.display(),
                driver.trim(),
                if driver.trim() == "postgresql" { "psycopg2 or psycopg" } else { "pymysql or mysqlclient" }
            )));
        }
        return Err(Error::input(match capture {
            Some(_) => format!(
                "Alembic's revisions failed on the scratch database ({} said: {last}); nothing was imported",
                python.display()
            ),
            None => format!(
                "Alembic could not render the project's SQL offline ({} said: {last}); nothing was imported. A \
                 revision that reads the database cannot be rendered offline: import into an environment, and \
                 Godwit runs the revisions on a scratch database beside it and records what they send",
                python.display()
            ),
        })
        .with_remedy(crate::error::Remedy::PassEnv));
    }
    let json = stdout
        .rsplit_once(MARKER)
        .map(|(_, j)| j)
        .ok_or_else(|| Error::input("Alembic finished without listing the revisions; nothing was imported"))?;
    serde_json::from_str(json).map_err(|e| Error::input(format!("cannot read what Alembic listed: {e}")))
}

/// Running every revision up and down on a scratch database takes longer than rendering them.
const CAPTURE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1800);

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

/// What a failed Python said: its exception's line and the unindented lines that carry on its
/// message (pydantic names the missing setting there), rather than the last line of its stderr.
fn failure(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let said = match lines.iter().rposition(|l| l.starts_with("Traceback (most recent call last)")) {
        Some(at) => lines[at + 1..]
            .iter()
            .skip_while(|l| l.starts_with(' ') || l.trim().is_empty())
            .take_while(|l| !l.starts_with(' ') && !l.trim().is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
            .trim()
            .to_string(),
        None => lines.iter().rev().find(|l| !l.trim().is_empty()).map_or("no message", |l| l.trim()).to_string(),
    };
    reason(&said)
}

/// A downgrade's failure as the file and the notes say it: without secrets, and the same on every
/// run (Python prints objects with their memory address), so an import run again finds its files
/// unchanged.
fn reason(error: &str) -> String {
    let text = crate::db::target::redact_text(error);
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(" at 0x") {
        out.push_str(&rest[..at]);
        rest = rest[at + " at 0x".len()..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    match out.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

/// One revision's SQL, without the statements Godwit does itself (transactions, savepoints) and
/// the catalog reads SQLAlchemy's inspector made; and whether it must run outside a transaction:
/// it entered an `autocommit_block` (offline, a `COMMIT` between two of its statements).
fn sql_of(step: &Step, dialect: Dialect) -> Result<(String, bool)> {
    let sent: Vec<String> = match (&step.statements, &step.text) {
        (Some(statements), _) => {
            statements.iter().map(|s| s.trim().trim_end_matches(';').trim_end().to_string()).collect()
        }
        (None, Some(text)) => crate::syntax::split::split(text, dialect)
            .map_err(|e| Error::input(format!("Alembic's SQL for {} does not end cleanly: {}", step.id, e.what)))?
            .into_iter()
            .map(|s| s.sql.trim().to_string())
            .collect(),
        (None, None) => Vec::new(),
    };
    let roles: Vec<(Role, &str)> = sent.iter().map(|s| (role(s), s.as_str())).collect();
    let work = |r: &[(Role, &str)]| r.iter().any(|(role, _)| *role == Role::Work);
    let outside = step.outside
        || (0..roles.len()).any(|i| roles[i].0 == Role::Transaction && work(&roles[..i]) && work(&roles[i + 1..]));
    let kept = roles
        .iter()
        .filter(|(role, s)| *role == Role::Work && !s.is_empty())
        .map(|(_, s)| format!("{s};"))
        .collect::<Vec<_>>()
        .join("\n\n");
    Ok((kept, outside))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `BEGIN`, `COMMIT`, savepoints: Godwit opens and ends its own transactions.
    Transaction,
    /// A read of the system catalogs (an inspector's): not part of the migration.
    Inspection,
    Work,
}

fn role(statement: &str) -> Role {
    let words = crate::syntax::words::leading(statement, 2);
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or_default();
    // Reads from the catalogs, not a `SELECT pg_catalog.set_config(…)` or a `PRAGMA x = y` that changes something.
    let from_catalog = || {
        let lower = statement.to_ascii_lowercase();
        ["pg_catalog.", "information_schema.", "sqlite_master", "sqlite_schema", "pg_class", "pg_namespace"]
            .iter()
            .any(|c| lower.contains(&format!("from {c}")) || lower.contains(&format!("join {c}")))
    };
    if matches!(w(0), "BEGIN" | "COMMIT" | "SAVEPOINT" | "RELEASE")
        || (w(0) == "START" && w(1) == "TRANSACTION")
        || (w(0) == "ROLLBACK" && w(1) == "TO")
    {
        Role::Transaction
    } else if matches!(w(0), "SHOW" | "DESCRIBE" | "EXPLAIN")
        || (w(0) == "PRAGMA" && !statement.contains('='))
        || (w(0) == "SELECT" && from_catalog())
    {
        Role::Inspection
    } else {
        Role::Work
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(text: Option<&str>, statements: Option<&[&str]>) -> Step {
        Step {
            id: "a1".into(),
            upgrade: true,
            text: text.map(str::to_string),
            statements: statements.map(|s| s.iter().map(|x| x.to_string()).collect()),
            outside: false,
            reads: 0,
            error: None,
        }
    }

    #[test]
    fn a_revisions_sql_is_kept_without_transactions_and_catalog_reads() {
        let offline =
            step(Some("\nCREATE TABLE todos (id SERIAL NOT NULL);\n\nCREATE INDEX i ON todos (id);\n\n"), None);
        assert_eq!(
            sql_of(&offline, Dialect::Postgres).unwrap(),
            ("CREATE TABLE todos (id SERIAL NOT NULL);\n\nCREATE INDEX i ON todos (id);".into(), false)
        );
        let autocommit = step(
            Some("ALTER TYPE mood ADD VALUE 'meh';\n\nCOMMIT;\n\nCREATE INDEX CONCURRENTLY i ON t (c);\n\nBEGIN;\n"),
            None,
        );
        let (sql, outside) = sql_of(&autocommit, Dialect::Postgres).unwrap();
        assert!(outside, "a COMMIT between two statements: outside a transaction");
        assert_eq!(sql, "ALTER TYPE mood ADD VALUE 'meh';\n\nCREATE INDEX CONCURRENTLY i ON t (c);");
        let captured = step(
            None,
            Some(&[
                "SAVEPOINT sa_savepoint_1",
                "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relname = 't'",
                "SELECT count(*) FROM t",
                "UPDATE t SET x = 1;",
                "RELEASE SAVEPOINT sa_savepoint_1",
            ]),
        );
        assert_eq!(
            sql_of(&captured, Dialect::Postgres).unwrap(),
            ("SELECT count(*) FROM t;\n\nUPDATE t SET x = 1;".into(), false)
        );
    }

    #[test]
    fn a_failures_reason_is_the_same_on_every_run() {
        let e = "CompileError: Can't emit DROP CONSTRAINT for ForeignKeyConstraint(<Dedupe object at 0x7fdfc93320d0>, None)";
        assert_eq!(
            reason(e),
            "CompileError: Can't emit DROP CONSTRAINT for ForeignKeyConstraint(<Dedupe object>, None)"
        );
        assert_eq!(reason(&"x".repeat(400)).chars().count(), 301);
    }

    #[test]
    fn only_catalog_reads_are_left_out() {
        assert!(role("SELECT c.relname FROM pg_catalog.pg_class c") == Role::Inspection);
        assert!(role("PRAGMA table_info(t)") == Role::Inspection);
        assert!(role("PRAGMA foreign_keys = OFF") == Role::Work);
        assert!(role("SELECT pg_catalog.set_config('search_path', 'app', false)") == Role::Work);
    }

    #[test]
    fn create_dates_are_read_to_the_second() {
        let d = created("create todos\n\nRevision ID: a1\nCreate Date: 2024-02-01 14:57:45.123456\n").unwrap();
        assert_eq!(d.format("%Y%m%d%H%M%S").to_string(), "20240201145745");
        assert!(created("no date").is_none());
    }

    #[test]
    fn a_failed_python_is_quoted_by_its_exception_not_its_last_line() {
        let pydantic = "WARNING - Secrets directory '/run/secrets' does not exist\n\
            Traceback (most recent call last):\n  File \"env.py\", line 26, in <module>\n    settings = get()\n\
            pydantic_core._pydantic_core.ValidationError: 1 validation error for AppSettings\nPRODUCTION\n\
            \x20 Field required [type=missing, input_value={'SECRET': 'x'}]\n\
            \x20   For further information visit https://errors.pydantic.dev/2.9/v/missing\n";
        assert_eq!(
            failure(pydantic),
            "pydantic_core._pydantic_core.ValidationError: 1 validation error for AppSettings PRODUCTION"
        );
        let chained = "Traceback (most recent call last):\n  File \"a\"\nKeyError: 'A'\n\nDuring handling of the \
            above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"b\"\n\
            RuntimeError: at <object at 0xdeadbeef> it stopped\n";
        assert_eq!(failure(chained), "RuntimeError: at <object> it stopped");
        assert_eq!(failure("no traceback here\n\n"), "no traceback here");
        assert_eq!(failure(""), "no message");
    }
}
