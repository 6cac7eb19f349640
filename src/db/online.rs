//! Online ALTER on MySQL/MariaDB: an `ALTER TABLE` marked `-- godwit:online` runs through Percona's
//! `pt-online-schema-change`, which copies the table into an altered one in small chunks while
//! triggers keep the copy current, then swaps the two in one short rename: writers wait only for
//! that rename, not for the whole copy. The tool gets the connection without the password in its
//! arguments or environment (an option file in memory, as the dump tools get theirs), its output
//! becomes the run's progress, and a stop asks it to clean up after itself.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncBufReadExt;

use super::Target;
use crate::error::{Error, Problem, Result};

/// The line above a statement that runs it online.
pub const MARK: &str = "-- godwit:online";

const TOOL: &str = "pt-online-schema-change";
const INSTALL: &str = "Debian: apt install percona-toolkit";

/// A marked statement, read: the table it alters (and its database, if named) and what to do to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alter<'a> {
    pub database: Option<String>,
    pub table: String,
    pub spec: &'a str,
}

/// Whether the text before a statement (since the one before it) marks it.
fn marks(before: &str) -> bool {
    before.lines().any(|l| l.trim() == MARK || l.trim().strip_prefix(MARK).is_some_and(|r| r.starts_with([' ', ':'])))
}

/// The statements of `sql` (split into `statements`) that are marked, by index.
pub fn marked(sql: &str, statements: &[crate::syntax::split::Statement<'_>]) -> Vec<usize> {
    let mut since = 0;
    let mut out = Vec::new();
    for (i, st) in statements.iter().enumerate() {
        if marks(&sql[since..st.offset]) {
            out.push(i);
        }
        since = (st.offset + st.sql.len()).min(sql.len());
    }
    out
}

/// Reads `ALTER [ONLINE] [IGNORE] TABLE name spec`; an error says what a marked statement must be.
pub fn parse(statement: &str) -> std::result::Result<Alter<'_>, String> {
    let not = || format!("`{MARK}` marks an ALTER TABLE of one table, which {TOOL} runs; this is not one");
    let mut rest = statement.trim_start();
    let word = |rest: &mut &str| -> String {
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let w = rest[..end].to_ascii_uppercase();
        *rest = rest[end..].trim_start();
        w
    };
    if word(&mut rest) != "ALTER" {
        return Err(not());
    }
    let mut w = word(&mut rest);
    while matches!(w.as_str(), "ONLINE" | "IGNORE") {
        w = word(&mut rest);
    }
    if w != "TABLE" {
        return Err(not());
    }
    let (mut parts, mut i) = (Vec::new(), 0);
    let b = rest.as_bytes();
    loop {
        let part = if b.get(i) == Some(&b'`') {
            let close = rest[i + 1..].find('`').ok_or_else(not)? + i + 1;
            let name = rest[i + 1..close].to_string();
            i = close + 1;
            name
        } else {
            let end =
                rest[i..].find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).map_or(rest.len(), |n| i + n);
            let name = rest[i..end].to_string();
            i = end;
            name
        };
        if part.is_empty() {
            return Err(not());
        }
        parts.push(part);
        if b.get(i) == Some(&b'.') {
            i += 1;
            continue;
        }
        break;
    }
    let spec = rest[i..].trim();
    if spec.is_empty() {
        return Err(not());
    }
    if spec.contains("--") || spec.contains("/*") || spec.contains('#') {
        return Err(format!("a statement {TOOL} runs is given to it as text: write it without comments inside it"));
    }
    let table = parts.pop().ok_or_else(not)?;
    Ok(Alter { database: parts.pop(), table, spec })
}

/// Whether the tool is installed; an error says how to install it.
pub fn find() -> Result<std::path::PathBuf> {
    crate::process::find(&[TOOL], INSTALL).map_err(|e| {
        Error::input(format!("{} A migration with `{MARK}` statements needs it; nothing was run.", e.message))
    })
}

/// The running tool's process id, for a stop from elsewhere (`Interrupt`).
pub type Running = Arc<Mutex<Option<u32>>>;

/// Runs one marked statement through the tool against `target`'s database, each line it prints
/// sent to `narrate`. `lock_wait`: how long its own statements wait for a lock (its default is 1s).
/// A failure says whether the table may have been altered, and what the tool left behind.
pub async fn run(
    target: &Target,
    alter: &Alter<'_>,
    lock_wait: Option<std::time::Duration>,
    narrate: Option<&tokio::sync::mpsc::UnboundedSender<String>>,
    running: &Running,
) -> std::result::Result<(), Failed> {
    let unchanged = |error: Error| Failed { error, changed: false, left: Vec::new() };
    let program = find().map_err(unchanged)?;
    let database = alter.database.clone().unwrap_or_else(|| target.database());
    let e = target.endpoint().expect("a MySQL target has an endpoint");
    // The DSN's values are separated by commas: a name with one cannot be given.
    // The DSN's values are separated by commas, and a value can hold no other key.
    let plain = |v: &str| !v.contains(',') && !v.contains('=') && !v.chars().any(char::is_control);
    let socket = e.socket.clone().unwrap_or_default();
    if ![&database, &alter.table, &e.user, &e.host, &socket].iter().all(|v| plain(v)) {
        return Err(unchanged(Error::input(format!(
            "{TOOL} cannot be given a database, table, user, host or socket with a comma or `=` in its name; nothing \
             was run."
        ))));
    }
    let mut dsn = vec!["F=/dev/fd/3".to_string()];
    match &e.socket {
        Some(s) => dsn.push(format!("S={s}")),
        None => dsn.extend([format!("h={}", e.host), format!("P={}", e.port)]),
    }
    if !e.user.is_empty() {
        dsn.push(format!("u={}", e.user));
    }
    dsn.extend([format!("D={database}"), format!("t={}", alter.table)]);
    let mut c = super::my_options::with_options_in_memory(&program, target).map_err(unchanged)?;
    // Only these options: no configuration file of the system's or the person's (it must come
    // first), no call to Percona's server for a version check.
    c.args(["--config", "/dev/null", "--noversion-check"]);
    c.args(["--execute", "--recursion-method=none", "--progress=time,1", "--alter", alter.spec]);
    if let Some(w) = lock_wait {
        // Whole seconds (the driver's `limit` refuses others).
        let secs = w.as_secs().max(1);
        c.arg(format!("--set-vars=lock_wait_timeout={secs},innodb_lock_wait_timeout={secs}"));
    }
    // Its own process group: the terminal's Ctrl-C is Godwit's to pass on (a first one lets the
    // migration finish), not the tool's.
    #[cfg(unix)]
    c.process_group(0);
    c.arg(dsn.join(","));
    c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().map_err(|e| unchanged(Error::failed(format!("cannot start {TOOL}: {e}"))))?;
    *running.lock().expect("not poisoned") = child.id();
    let said = Arc::new(Mutex::new(Vec::<String>::new()));
    // The only step that changes the table itself: before it, the table is as it was.
    let swap = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follow = |out: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
        let (narrate, said, swapping) = (narrate.cloned(), said.clone(), swap.clone());
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut line = line.trim_end().to_string();
                // Its lines start with the time in full (`2026-12-04T16:22:50 `): the run shows its own.
                if line.len() > 20 && line.as_bytes()[10] == b'T' && line.as_bytes()[19] == b' ' {
                    line = line[20..].to_string();
                }
                if line.is_empty() {
                    continue;
                }
                // Its table of retry settings and its word on replicas (none are looked for) are noise
                // in a run's progress.
                if line.contains("Swapping tables") || line.contains("Swapped original") {
                    swapping.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                if let Some(n) = narrate.as_ref().filter(|_| !noise(&line)) {
                    let _ = n.send(format!("{TOOL}: {line}"));
                }
                let mut s = said.lock().expect("not poisoned");
                s.push(line);
                let over = s.len().saturating_sub(40);
                s.drain(..over);
            }
        })
    };
    let out = follow(Box::new(child.stdout.take().expect("piped")));
    let err = follow(Box::new(child.stderr.take().expect("piped")));
    let status = child.wait().await;
    *running.lock().expect("not poisoned") = None;
    let _ = (out.await, err.await);
    let status = status.map_err(|e| Failed {
        error: Error::failed(format!("{TOOL} did not finish: {e}")),
        changed: true,
        left: Vec::new(),
    })?;
    if status.success() {
        return Ok(());
    }
    let said = said.lock().expect("not poisoned").clone();
    let left = leftovers(&said, &database, &alter.table);
    // What went wrong, without its usage banner, the steps that went well and its cleanup SQL.
    let why: Vec<&String> = said
        .iter()
        .filter(|l| !l.contains(" OK") && !noise(l))
        .filter(|l| !l.starts_with("DROP ") && !l.starts_with("Not dropping") && !l.contains("was not altered"))
        .collect();
    let tail: Vec<&str> = why.iter().rev().take(6).rev().map(|s| s.as_str()).collect();
    let stopped = said.iter().any(|l| l.starts_with("# Exiting on SIG"));
    // The tool's last word on the table: it says whether the swap happened.
    // The tool's last word on the table says whether the swap happened; without it, whether the
    // swap began (a check it refused at, before it made anything, never does).
    let untouched =
        said.iter().any(|l| l.contains("was not altered")) || !swap.load(std::sync::atomic::Ordering::SeqCst);
    let state = match (untouched, left.is_empty()) {
        (true, _) => "The table was not altered.",
        (false, _) => "It may have altered the table: look at it (SHOW CREATE TABLE) before going on.",
    };
    let error = Error::new(
        if stopped { Problem::Cancelled } else { Problem::Failed },
        format!("{TOOL} {} ({status}): {}\n{state}", if stopped { "was stopped" } else { "failed" }, tail.join("\n")),
    );
    Err(Failed { error, changed: !untouched, left: if untouched { left } else { Vec::new() } })
}

/// Lines of the tool's that say nothing about this run: its table of retry settings, its word on
/// replicas (none are looked for).
fn noise(line: &str) -> bool {
    line.starts_with("  ")
        || line.starts_with("Operation, tries")
        || line.starts_with("No slaves found")
        || line.starts_with("Not checking slave lag")
}

/// A run of the tool that failed or was stopped.
#[derive(Debug)]
pub struct Failed {
    pub error: Error,
    /// The table may have been altered (the tool did not say it was not).
    pub changed: bool,
    /// What the tool left for a person to drop (stopped, it leaves its triggers and its copy), as
    /// the statements it printed for that: only its own objects in the table's database.
    pub left: Vec<String>,
}

/// The tool's own cleanup statements in what it printed after it was stopped (the lines after its
/// "To drop … execute:"): its triggers (`pt_osc_DB_TABLE_ins`, `_upd`, `_del`) and its copy
/// (`_TABLE_new`, with more leading underscores if that was taken) in the table's database, named
/// exactly, nothing else.
fn leftovers(said: &[String], database: &str, table: &str) -> Vec<String> {
    let triggers: Vec<String> =
        ["ins", "upd", "del"].iter().map(|k| format!("pt_osc_{database}_{table}_{k}")).collect();
    let copy = |name: &str| name.trim_start_matches('_') == format!("{table}_new") && name.starts_with('_');
    let mut after = false;
    let mut out = Vec::new();
    for l in said {
        if l.contains("To drop") && l.contains("execute:") {
            after = true;
            continue;
        }
        let l = l.trim().trim_end_matches(';');
        let named = |prefix: &str| l.strip_prefix(prefix)?.strip_prefix(&format!("`{database}`.`"))?.strip_suffix('`');
        let ours = match (named("DROP TRIGGER IF EXISTS "), named("DROP TABLE IF EXISTS ")) {
            (Some(t), _) => triggers.iter().any(|x| x == t),
            (_, Some(t)) => copy(t),
            _ => false,
        };
        if after && ours && !out.iter().any(|o: &String| o == l) {
            out.push(l.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_statement_is_read_as_its_table_and_what_to_do() {
        let a = parse("ALTER TABLE todos ADD COLUMN done INT NOT NULL DEFAULT 0").unwrap();
        assert_eq!((a.database, a.table.as_str(), a.spec), (None, "todos", "ADD COLUMN done INT NOT NULL DEFAULT 0"));
        let a = parse("alter online table `app`.`my todos` DROP INDEX i").unwrap();
        assert_eq!((a.database.as_deref(), a.table.as_str(), a.spec), (Some("app"), "my todos", "DROP INDEX i"));
        for not in
            ["CREATE INDEX i ON t (a)", "ALTER TABLE t", "ALTER VIEW v AS SELECT 1", "ALTER TABLE t ADD c INT -- why"]
        {
            assert!(parse(not).is_err(), "{not}");
        }
    }

    #[test]
    fn only_the_tools_own_leftovers_it_names_after_a_stop_are_dropped() {
        let said: Vec<String> = [
            "DROP TABLE IF EXISTS `app`.`_big_new`;",
            "Not dropping triggers because the tool was interrupted.  To drop the triggers, execute:",
            "DROP TRIGGER IF EXISTS `app`.`pt_osc_app_big_del`",
            "DROP TRIGGER IF EXISTS `app`.`audit`",
            "Not dropping the new table `app`.`_big_new` because the tool was interrupted.  To drop the new table, execute:",
            "DROP TABLE IF EXISTS `app`.`_big_new`;",
            "DROP TABLE IF EXISTS `app`.`big`;",
            "DROP TABLE IF EXISTS `app`.`_other_new`;",
            "DROP TABLE IF EXISTS `other`.`_big_new`;",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            leftovers(&said, "app", "big"),
            ["DROP TRIGGER IF EXISTS `app`.`pt_osc_app_big_del`", "DROP TABLE IF EXISTS `app`.`_big_new`"]
        );
    }

    #[test]
    fn the_mark_is_a_line_of_its_own() {
        assert!(marks("\n-- godwit:online\n"));
        assert!(marks("-- godwit:online: the big table\n"));
        assert!(!marks("-- godwit:onlinex\n"));
        assert!(!marks("-- see godwit:online\n"));
    }
}
