//! `godwit check`: everything that would stop or surprise a run, each with its file and a way out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::Dialect;
use crate::error::Remedy;
use crate::event::{Warning, WarningKind};
use crate::migration::source::Source;
use crate::migration::status::{State, StatusRow};
use crate::syntax::split;

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FindingKind {
    BadFile,
    DuplicateVersion,
    RevisionConflict,
    UnknownRevision,
    /// A file's `Revision ID:` is not its version (it was renamed): the chain names the old one.
    RevisionIdMismatch,
    MissingDown,
    Unterminated,
    OutOfOrder,
    MissingFile,
    Drift,
    Failed,
    /// A byte order mark at the start of a file: harmless to Godwit, a hint only.
    ByteOrderMark,
    /// Two files revise the same migration and both are applied: the order they ran in is history
    /// (editing either would change an applied file). A hint only.
    SettledConflict,
    /// The live schema differs from what the applied migrations make (changed by hand).
    SchemaDrift,
    /// A restore stopped part way: the database may be partly the backup's, history too.
    PartlyRestored,
    /// Another run holds the migration lock: what is recorded is changing. A hint only.
    RunInProgress,
    /// A pending file's `Revises:` names a newer version: it would run before the one it follows.
    RevisesNewer,
    /// A view no longer reads: something it uses was dropped or renamed (on MariaDB its dump tool
    /// then cannot back the database up).
    BrokenView,
    /// A file marked `-- godwit:placeholders` was applied by a tool that does not fill them (no
    /// apply of it is in Godwit's log): its `${name}` went to the database as written.
    NotFilled,
    /// A repeatable file failed on its last run (the next `up` runs it again).
    RepeatableFailed,
    /// What the next `up` runs uses placeholders the environment gives no value (it would refuse).
    UnsetPlaceholders,
    /// The server is a read-only standby: runs are refused there. A hint while it is caught up; a
    /// problem while replay is paused or behind, since what is read may not be its primary's.
    Standby,
}

impl FindingKind {
    /// A hint does not make `check` fail.
    pub fn is_hint(self) -> bool {
        matches!(self, FindingKind::ByteOrderMark | FindingKind::SettledConflict | FindingKind::RunInProgress)
    }
}

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct Finding {
    pub kind: FindingKind,
    /// It does not make `check` fail ([`FindingKind::is_hint`]).
    pub hint: bool,
    pub version: Option<i64>,
    pub files: Vec<String>,
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// What can be done about it: the CLI words each as a command, the app offers each as a button.
    pub remedies: Vec<Remedy>,
}

/// Everything `check` reports for a folder and a database's history (`rows`: the status rows of
/// the two, as the caller has them already).
pub fn all(
    source: &Source,
    dialect: Option<Dialect>,
    applied: &[crate::db::Applied],
    rows: &[StatusRow],
    elsewhere: &Elsewhere,
) -> Vec<Finding> {
    let versions: Vec<i64> = applied.iter().map(|a| a.version).collect();
    let mut findings = check_files_seen(source, dialect, &versions, elsewhere);
    findings.extend(check_history(rows, source, dialect));
    findings
}

/// Everything `check` reports for a folder and what a database recorded: [`all`], after a
/// restore left part way (which comes first: the rest reads a history that may be the backup's).
pub fn recorded(
    source: &Source,
    dialect: Dialect,
    recorded: &crate::migration::status::Recorded,
    rows: &[StatusRow],
    elsewhere: &Elsewhere,
) -> Vec<Finding> {
    let partly = recorded.partly_restored.iter().map(|backup| Finding {
        kind: FindingKind::PartlyRestored,
        hint: FindingKind::PartlyRestored.is_hint(),
        version: None,
        files: Vec::new(),
        message: format!(
            "restoring backup {backup} stopped part way: the database may be partly restored, and the history \
             read here may be the backup's"
        ),
        fix: "restore the backup again to finish (or restore another one); runs are refused until then".into(),
        remedies: vec![Remedy::Restore { backup: backup.clone() }],
    });
    let running = recorded.running.iter().map(|holder| Finding {
        kind: FindingKind::RunInProgress,
        hint: FindingKind::RunInProgress.is_hint(),
        version: None,
        files: Vec::new(),
        message: format!("a run is in progress on this database (the migration lock is held by {holder})"),
        fix: "what is recorded changes as it goes: look again once it is done".into(),
        remedies: Vec::new(),
    });
    let standby = recorded.standby.iter().map(|s| Finding {
        kind: FindingKind::Standby,
        hint: !s.behind(),
        version: None,
        files: Vec::new(),
        message: match s.behind() {
            true => format!("the server is {}: the history read here may be behind its primary's", s.describe()),
            false => format!("the server is {}: runs are refused here", s.describe()),
        },
        fix: "read status and run migrations against the primary".into(),
        remedies: Vec::new(),
    });
    let views = recorded.broken_views.iter().map(broken_view);
    let unfilled = not_filled(source, recorded, rows);
    let repeatables = crate::migration::repeatable::rows(source, recorded.repeatables());
    let failed = repeatables.into_iter().filter(|r| r.state == crate::migration::repeatable::State::Failed).map(|r| {
        // Its error's first line names it and says why.
        let said = r.error.as_deref().and_then(|e| e.lines().next());
        Finding {
            kind: FindingKind::RepeatableFailed,
            hint: FindingKind::RepeatableFailed.is_hint(),
            version: None,
            files: vec![r.file.clone()],
            message: match said {
                Some(line) => format!("{line} (its last run)"),
                None => format!("repeatable {} failed on its last run (`history` says why)", r.file),
            },
            fix: "fix it; the next up runs it again".into(),
            remedies: vec![Remedy::FixAndApply { file: r.file, kept: 0 }],
        }
    });
    partly
        .chain(running)
        .chain(standby)
        .chain(views)
        .chain(unfilled)
        .chain(failed)
        .chain(all(source, Some(dialect), &recorded.applied, rows, elsewhere))
        .collect()
}

/// The placeholders that what the next `up` runs (pending migrations, due repeatable files) uses and
/// `values` has no setting for: the run would refuse before sending anything.
pub fn unset_placeholders(
    source: &Source,
    recorded: &crate::migration::status::Recorded,
    rows: &[StatusRow],
    values: &crate::migration::placeholders::Values,
) -> Vec<Finding> {
    use crate::migration::placeholders::{marked, names};
    let pending = rows
        .iter()
        .filter(|r| r.state == crate::migration::status::State::Pending)
        .filter_map(|r| source.get(r.version));
    let due = crate::migration::repeatable::due_files(source, &recorded.repeatables);
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in pending.chain(due).filter(|m| marked(&m.sql)) {
        for n in names(&m.sql, None).into_iter().filter(|n| !values.has(n)) {
            missing.entry(n).or_default().push(m.file_name());
        }
    }
    if missing.is_empty() {
        return Vec::new();
    }
    let env = values.env().map(str::to_string);
    let said: Vec<String> = missing.iter().map(|(n, files)| format!("${{{n}}} ({})", files.join(", "))).collect();
    vec![Finding {
        kind: FindingKind::UnsetPlaceholders,
        hint: FindingKind::UnsetPlaceholders.is_hint(),
        version: None,
        files: missing.values().flatten().cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect(),
        message: format!("what the next up runs uses placeholders with no value here: {}", said.join(", ")),
        fix: "give each a value for this environment; the run refuses until then".into(),
        remedies: match env {
            Some(env) => missing
                .keys()
                .map(|n| Remedy::SetPlaceholder { env: env.clone(), name: n.clone(), secret: false })
                .collect(),
            None => Vec::new(),
        },
    }]
}

/// Marked files applied with no apply of theirs in Godwit's log (nor a person's word, `resolve`):
/// another tool ran them, and sent `${name}` as written. Not said when the log could not be read.
fn not_filled(source: &Source, recorded: &crate::migration::status::Recorded, rows: &[StatusRow]) -> Vec<Finding> {
    if !recorded.log_read {
        return Vec::new();
    }
    let by_godwit: std::collections::HashSet<i64> = recorded.appliers.iter().map(|(v, _)| *v).collect();
    rows.iter()
        .filter(|r| r.state == crate::migration::status::State::Applied && !by_godwit.contains(&r.version))
        .filter_map(|r| source.get(r.version))
        .filter(|m| crate::migration::placeholders::marked(&m.sql))
        .map(|m| {
            let names: Vec<String> =
                crate::migration::placeholders::names(&m.sql, None).iter().map(|n| format!("${{{n}}}")).collect();
            Finding {
                kind: FindingKind::NotFilled,
                hint: FindingKind::NotFilled.is_hint(),
                version: Some(m.version),
                files: vec![m.file_name()],
                message: format!(
                    "{} was applied by a tool that does not fill placeholders: {} went to the database as written",
                    m.file_name(),
                    if names.is_empty() { "its text".to_string() } else { names.join(", ") }
                ),
                fix: "undo by hand what it made with them written as is; if it is the newest, `sqlx migrate revert` \
                      takes its history row away, and Godwit then applies it filled"
                    .into(),
                remedies: Vec::new(),
            }
        })
        .collect()
}

fn broken_view(v: &crate::db::BrokenView) -> Finding {
    let fix = if v.blocks_backup {
        format!(
            "backups of this database fail while it is so (the dump tool stops at it), and so does every run on a \
             protected environment, which backs up first. Re-create the view without what is gone, or drop it, by \
             hand here. {}",
            crate::db::VIEW_FIX_ELSEWHERE
        )
    } else {
        "write a migration that re-creates the view without what is gone (DROP VIEW IF EXISTS, then CREATE VIEW), or \
         drops it"
            .into()
    };
    Finding {
        kind: FindingKind::BrokenView,
        hint: FindingKind::BrokenView.is_hint(),
        version: None,
        files: Vec::new(),
        message: format!("view {} no longer reads: {}", v.name, v.why),
        fix,
        remedies: Vec::new(),
    }
}

/// What a run should warn about before it starts, in words: revision conflicts among the files, and
/// pending migrations whose up has no statement (recorded as applied, changing nothing).
pub fn warnings(source: &Source, applied: &[crate::db::Applied], elsewhere: &Elsewhere) -> Vec<Warning> {
    let versions: Vec<i64> = applied.iter().map(|a| a.version).collect();
    let set: std::collections::HashSet<i64> = versions.iter().copied().collect();
    // A conflict every side of which is applied somewhere is settled: no warning.
    let mut out: Vec<Warning> = check_files_seen(source, None, &versions, elsewhere)
        .into_iter()
        .filter(|f| f.kind == FindingKind::RevisionConflict)
        // Which side may move depends on every environment's history, which a run does not read.
        .map(|f| Warning {
            kind: WarningKind::RevisionConflict,
            message: format!("{}: `check` reads every environment and says what to do", f.message),
        })
        .collect();
    for m in source.migrations.iter().filter(|m| !set.contains(&m.version)) {
        if !crate::migration::new::has_statement(&m.sql) {
            out.push(Warning {
                kind: WarningKind::EmptyUp,
                message: format!(
                    "{} has no statement: it will be recorded as applied and change nothing",
                    m.file_name()
                ),
            });
        }
    }
    out
}

/// A pending file (applied nowhere) whose sibling in a revision conflict is newer and applied in
/// another environment: run here in version order, the two would go the other way round from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderConflict {
    pub file: String,
    pub newer: String,
    /// Where the newer one is applied.
    pub envs: Vec<String>,
}

/// The pending files a run here would put in another order than an environment that applied their
/// newer sibling (`rebase` moves them after it).
pub fn order_conflicts(source: &Source, applied: &[i64], elsewhere: &Elsewhere) -> Vec<OrderConflict> {
    let mut out = Vec::new();
    for kids in source.siblings() {
        let nowhere = |v: i64| !applied.contains(&v) && !elsewhere.applied.contains_key(&v);
        for m in kids.iter().filter(|m| nowhere(m.version)) {
            let newer = kids.iter().filter(|k| k.version > m.version && !applied.contains(&k.version));
            if let Some((n, envs)) = newer.filter_map(|k| Some((k, elsewhere.applied.get(&k.version)?))).next() {
                out.push(OrderConflict { file: m.file_name(), newer: n.file_name(), envs: envs.clone() });
            }
        }
    }
    out
}

/// Schema drift as findings: one per object changed by hand.
pub fn drift_findings(changes: &[crate::schema::Change]) -> Vec<Finding> {
    changes
        .iter()
        .map(|c| {
            // A migration that makes what is here already fails here: the advice says how it runs.
            let (how, fix) = match (&c.before, &c.after) {
                (None, _) => (
                    "exists, but no applied migration makes it",
                    "drop it by hand; or, to keep it, write a migration that makes it with IF NOT EXISTS (it is \
                     here already, so a plain CREATE fails here), or drop it here before that migration runs",
                ),
                (_, None) => (
                    "is made by the applied migrations, but is gone",
                    "make it again by hand (`drift` shows how the migrations make it); or, if it should go, write a \
                     migration that drops it with IF EXISTS",
                ),
                _ => (
                    "differs from what the applied migrations make",
                    "put it back as the migrations make it (`drift` shows both sides); to keep the change, put it \
                     back here all the same and write a migration that makes it",
                ),
            };
            Finding {
                kind: FindingKind::SchemaDrift,
                hint: FindingKind::SchemaDrift.is_hint(),
                version: None,
                files: Vec::new(),
                message: format!("{} {} {how}", c.kind.as_str(), c.name),
                fix: fix.into(),
                remedies: Vec::new(),
            }
        })
        .collect()
}

/// Findings about the folder; `applied` (the history's versions, empty offline) keeps a parent that
/// is applied but whose file is gone from being reported twice (`check_history` reports it).
pub fn check_files(source: &Source, dialect: Option<Dialect>, applied: &[i64]) -> Vec<Finding> {
    check_files_seen(source, dialect, applied, &Elsewhere::default())
}

/// What the project's other environments have applied, read when this one's files are in a
/// revision conflict: a side applied in one of them cannot be renumbered (`rebase` leaves it).
#[derive(Debug, Default)]
pub struct Elsewhere {
    /// Each version applied elsewhere, with the environments that applied it.
    pub applied: BTreeMap<i64, Vec<String>>,
    /// The environments read.
    pub read: Vec<String>,
    /// Those that could not be read.
    pub unread: Vec<String>,
}

/// [`check_files`], with what other environments applied.
pub fn check_files_seen(
    source: &Source,
    dialect: Option<Dialect>,
    applied: &[i64],
    elsewhere: &Elsewhere,
) -> Vec<Finding> {
    use crate::migration::source::SourceProblem as P;
    let applied: std::collections::HashSet<i64> = applied.iter().copied().collect();
    let mut out: Vec<Finding> = source
        .problems
        .iter()
        .map(|p| {
            let (kind, version, files) = match p {
                P::DuplicateVersion { version, files } => {
                    (FindingKind::DuplicateVersion, Some(*version), files.clone())
                }
                P::BadName { file }
                | P::BadSeparator { file, .. }
                | P::BadCase { file, .. }
                | P::NotUtf8 { file }
                | P::Unreadable { file, .. } => (FindingKind::BadFile, None, vec![file.clone()]),
                P::DownWithoutUp { version, file } => (FindingKind::BadFile, Some(*version), vec![file.clone()]),
            };
            Finding {
                kind,
                hint: kind.is_hint(),
                version,
                files,
                message: p.what(),
                fix: p.fix(),
                remedies: match kind {
                    FindingKind::DuplicateVersion => vec![Remedy::Rebase],
                    _ => Vec::new(),
                },
            }
        })
        .collect();

    out.extend(conflicts(source, &applied, elsewhere));

    for m in &source.migrations {
        if let Some(id) = m.header.revision_id.as_deref().filter(|id| id.parse::<i64>().ok() != Some(m.version)) {
            let fix = if applied.contains(&m.version) {
                format!(
                    "it is applied, so leave it; a `Revises: {id}` in another file should name {} instead",
                    m.version
                )
            } else {
                format!("edit its `Revision ID:` to {} (and any `Revises: {id}` to {})", m.version, m.version)
            };
            out.push(Finding {
                kind: FindingKind::RevisionIdMismatch,
                hint: FindingKind::RevisionIdMismatch.is_hint(),
                version: Some(m.version),
                files: vec![m.file_name()],
                message: format!(
                    "{} says `Revision ID: {id}`, but its version is {} (renamed?)",
                    m.file_name(),
                    m.version
                ),
                fix,
                remedies: Vec::new(),
            });
        }
        if m.bom {
            out.push(Finding {
                kind: FindingKind::ByteOrderMark,
                hint: FindingKind::ByteOrderMark.is_hint(),
                version: Some(m.version),
                files: vec![m.file_name()],
                message: format!(
                    "{} starts with a byte order mark (an invisible character): Godwit leaves it out when it \
                     reads and sends the file, other tools may not",
                    m.file_name()
                ),
                fix: "save the file as UTF-8 without a BOM (the checksum then changes: only for a pending migration)"
                    .into(),
                remedies: Vec::new(),
            });
        }
        if m.kind == crate::migration::source::Kind::Reversible && !m.has_down {
            let down = m.down_path.as_deref().map(crate::migration::source::file_name).unwrap_or_default();
            out.push(Finding {
                kind: FindingKind::MissingDown,
                hint: FindingKind::MissingDown.is_hint(),
                version: Some(m.version),
                files: vec![m.file_name()],
                message: format!("{} has no down file {down}", m.file_name()),
                fix: format!("write {down} with the SQL that undoes it, or rename the up file to {}_....sql if it is irreversible", m.version),
                remedies: Vec::new(),
            });
        }
        // An applied file ran as it is (or its drift is reported): only what is still to run is split.
        if let Some(d) = dialect
            && !applied.contains(&m.version)
            && let Err(e) = split::split(&m.sql, d)
        {
            out.push(Finding {
                kind: FindingKind::Unterminated,
                hint: FindingKind::Unterminated.is_hint(),
                version: Some(m.version),
                files: vec![m.file_name()],
                message: format!("{} line {}: {}", m.file_name(), e.line, e.what),
                fix: "close it".into(),
                remedies: Vec::new(),
            });
        }
    }
    out
}

/// Findings that need the database's history.
pub fn check_history(rows: &[StatusRow], source: &Source, dialect: Option<Dialect>) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in rows {
        let files: Vec<String> = r.file.iter().cloned().collect();
        let v = r.version;
        let finding = |kind: FindingKind, message: String, fix: String, remedy: Remedy| Finding {
            kind,
            hint: kind.is_hint(),
            version: Some(v),
            files: files.clone(),
            message,
            fix,
            remedies: vec![remedy],
        };
        match r.state {
            State::Failed if r.failed_in_down => out.push(Finding {
                // The down this database ran: its own, where the project keeps one.
                files: match source.get(v).map(|m| m.down_name_for(dialect)) {
                    Some(down) if !down.is_empty() => vec![down],
                    _ => r.file.iter().map(|f| f.replace(".up.sql", ".down.sql")).collect(),
                },
                ..finding(
                    FindingKind::Failed,
                    format!(
                        "rolling back migration {v} ({}) failed part way and left the database partly changed",
                        r.description
                    ),
                    "finish the rollback by hand and mark it resolved as rolled back, or put back what its down \
                     removed and mark it resolved as applied"
                        .into(),
                    Remedy::resolve_rollback(v),
                )
            }),
            State::Failed => out.push(finding(
                FindingKind::Failed,
                format!("migration {v} ({}) failed part way and left the database partly changed", r.description),
                "fix the database by hand, then mark it resolved (finished, or undone)".into(),
                Remedy::resolve(v),
            )),
            State::Missing => out.push(finding(
                FindingKind::MissingFile,
                format!("migration {v} ({}) is applied but its file is gone", r.description),
                "restore the file from version control, or check out the branch that has it; if it was removed \
                 on purpose and its changes are undone, resolving it as rolled back forgets it"
                    .into(),
                Remedy::forget(v),
            )),
            State::Pending if r.out_of_order => out.push(finding(
                FindingKind::OutOfOrder,
                format!(
                    "{} is pending but older than the newest applied migration",
                    r.file.as_deref().unwrap_or_default()
                ),
                "give it a version after the newest applied one (rebase renames the files), or apply it as it is, out \
                 of order"
                    .into(),
                Remedy::AllowOutOfOrder,
            )),
            _ => {}
        }
        if let Some(f) = out.last_mut().filter(|f| f.kind == FindingKind::OutOfOrder && f.version == Some(v)) {
            f.remedies.push(Remedy::Rebase);
        }
        if r.drift {
            out.push(finding(
                FindingKind::Drift,
                format!("{} was edited after it was applied (checksum changed)", r.file.as_deref().unwrap_or_default()),
                "undo the edit, or accept it (repair it, saying why)".into(),
                Remedy::Repair { version: v },
            ));
        }
    }
    out
}

/// Revision conflicts: two files revising the same parent, or a parent that names no file. Files
/// without a header (sqlx's own) are not part of the chain.
fn conflicts(source: &Source, applied: &std::collections::HashSet<i64>, elsewhere: &Elsewhere) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut children: BTreeMap<&str, Vec<&crate::migration::source::MigrationFile>> = BTreeMap::new();
    for m in &source.migrations {
        let Some(parent) = m.header.revises.as_deref() else {
            continue;
        };
        // An empty `Revises:` starts the chain; two such files are two chains.
        if parent.is_empty() {
            children.entry("").or_default().push(m);
            continue;
        }
        let version = parent.parse::<i64>().ok();
        match version.and_then(|v| source.get(v)) {
            Some(p) if p.version > m.version && !applied.contains(&m.version) => {
                children.entry(parent).or_default().push(m);
                out.push(Finding {
                    kind: FindingKind::RevisesNewer,
                    hint: FindingKind::RevisesNewer.is_hint(),
                    version: Some(m.version),
                    files: vec![m.file_name()],
                    message: format!(
                        "{} says `Revises: {parent}`, a newer migration: runs go in version order, so it would run \
                         first",
                        m.file_name()
                    ),
                    fix: format!("give it a version after {parent}: `rebase` renumbers it and keeps its header"),
                    remedies: vec![Remedy::Rebase],
                });
            }
            Some(_) => children.entry(parent).or_default().push(m),
            None if version.is_some_and(|v| applied.contains(&v)) => {}
            None => out.push(Finding {
                kind: FindingKind::UnknownRevision,
                hint: FindingKind::UnknownRevision.is_hint(),
                version: Some(m.version),
                files: vec![m.file_name()],
                message: format!("{} says `Revises: {parent}`, but no migration has that version", m.file_name()),
                fix: "edit its `Revises:` line to name the migration it follows".into(),
                remedies: Vec::new(),
            }),
        }
    }
    for (parent, kids) in children {
        if kids.len() > 1 {
            let files: Vec<String> = kids.iter().map(|m| m.file_name()).collect();
            let what = match parent {
                "" => "start the chain (empty `Revises:`)".to_string(),
                p => format!("revise {p}"),
            };
            let message = format!("{} {} {what}", list(&files), if files.len() == 2 { "both" } else { "all" });
            let pending: Vec<_> = kids.iter().filter(|m| !applied.contains(&m.version)).collect();
            if pending.is_empty() {
                out.push(Finding {
                    kind: FindingKind::SettledConflict,
                    hint: FindingKind::SettledConflict.is_hint(),
                    version: kids.iter().map(|m| m.version).max(),
                    message: format!("{message}; all are applied (the order they ran in is history)"),
                    fix: "nothing to do: the order they ran in is history; a new migration revises the newest".into(),
                    files,
                    remedies: Vec::new(),
                });
                continue;
            }
            // Only a file no environment has applied may be edited: an applied one would then differ
            // from what ran, and every run there would stop until it is repaired (rebase moves the
            // same ones).
            let movable = pending.iter().filter(|m| !elsewhere.applied.contains_key(&m.version));
            let Some(edit) = movable.max_by_key(|m| m.version) else {
                // Grouped by where: "2 and 3 in dev", "2 here, 3 in dev".
                let mut by_place: Vec<(String, Vec<String>)> = Vec::new();
                for m in &kids {
                    let place = match elsewhere.applied.get(&m.version) {
                        Some(envs) if !applied.contains(&m.version) => format!("in {}", envs.join(", ")),
                        _ => "here".into(),
                    };
                    match by_place.iter_mut().find(|(p, _)| *p == place) {
                        Some((_, vs)) => vs.push(m.version.to_string()),
                        None => by_place.push((place, vec![m.version.to_string()])),
                    }
                }
                let wheres: Vec<String> = by_place.iter().map(|(place, vs)| format!("{} {place}", list(vs))).collect();
                let waiting: Vec<String> = pending.iter().map(|m| m.file_name()).collect();
                let newest_here = applied.iter().max().copied();
                let behind = pending.iter().any(|m| newest_here.is_some_and(|n| m.version < n));
                out.push(Finding {
                    kind: FindingKind::SettledConflict,
                    hint: FindingKind::SettledConflict.is_hint(),
                    version: kids.iter().map(|m| m.version).max(),
                    message: format!(
                        "{message}; each is applied in an environment ({}), so none can be renumbered",
                        wheres.join(", ")
                    ),
                    fix: format!(
                        "nothing to edit: the order they ran in is history there. {}; a new migration revises the \
                         newest",
                        if behind {
                            format!(
                                "{} {} older than a migration applied here, so only a run out of order applies {} \
                                 (check that the order does not matter)",
                                list(&waiting),
                                if waiting.len() == 1 { "is" } else { "are" },
                                if waiting.len() == 1 { "it" } else { "them" }
                            )
                        } else {
                            format!(
                                "`up` applies {} here in version order (check that the order does not matter)",
                                list(&waiting)
                            )
                        }
                    ),
                    files,
                    remedies: if behind { vec![Remedy::AllowOutOfOrder] } else { Vec::new() },
                });
                continue;
            };
            let after = kids.iter().filter(|m| m.version != edit.version).map(|m| m.version).max().unwrap_or_default();
            let (not_applied, caveat) = if elsewhere.read.is_empty() {
                (
                    "not applied here",
                    "; if another environment has applied it, leave it: `rebase` reads every environment and says \
                     what can move",
                )
            } else if elsewhere.unread.is_empty() {
                ("applied in no environment", "")
            } else {
                ("applied in no environment read", "; `rebase` says whether it can move")
            };
            let fix = if edit.version < after {
                // A header edit alone would chain it after a newer version that runs after it.
                format!(
                    "two branches each added a migration after the same one. {} ({}) must follow {after}, which is \
                     newer: `rebase` gives it a version after it and re-links its header (editing `Revises:` alone \
                     would leave it running first)",
                    edit.file_name(),
                    if elsewhere.read.is_empty() { "not applied here" } else { "applied in no environment read" },
                )
            } else {
                format!(
                    "two branches each added a migration after the same one. Put them in a line: edit the \
                     `Revises:` of {} ({not_applied}) to {after}, and check that it does not depend on running \
                     first{caveat}",
                    edit.file_name()
                )
            };
            out.push(Finding {
                kind: FindingKind::RevisionConflict,
                hint: FindingKind::RevisionConflict.is_hint(),
                version: Some(edit.version),
                message: format!("revision conflict: {message}"),
                fix,
                files,
                remedies: vec![Remedy::Rebase],
            });
        }
    }

    out
}

fn list(files: &[String]) -> String {
    match files {
        [a, b] => format!("{a} and {b}"),
        _ => files.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(v: i64, parent: &str) -> String {
        format!("-- m{v}\n--\n-- Revision ID: {v}\n-- Revises: {parent}\n\nSELECT {v};\n")
    }

    /// The older side of a conflict, applied nowhere, against a newer side applied elsewhere: a
    /// header edit would chain it after a migration that runs after it, so the advice is `rebase`;
    /// and a file whose header was edited so anyway is a problem `rebase` fixes.
    #[test]
    fn an_older_side_is_renumbered_not_relinked() {
        let d = tempfile::tempdir().unwrap();
        for (v, parent) in [(1, ""), (2, "1"), (3, "1")] {
            std::fs::write(d.path().join(format!("{v}_m.sql")), header(v, parent)).unwrap();
        }
        let source = Source::load(d.path()).unwrap();
        let elsewhere = Elsewhere {
            applied: BTreeMap::from([(1, vec!["staging".into()]), (3, vec!["staging".into()])]),
            read: vec!["staging".into()],
            unread: Vec::new(),
        };
        let f = check_files_seen(&source, None, &[1], &elsewhere);
        let conflict = f.iter().find(|f| f.kind == FindingKind::RevisionConflict).unwrap();
        assert_eq!(conflict.version, Some(2));
        assert!(conflict.fix.contains("`rebase` gives it a version after it"), "{}", conflict.fix);
        assert_eq!(conflict.remedies, [Remedy::Rebase]);

        std::fs::write(d.path().join("2_m.sql"), header(2, "3")).unwrap();
        let source = Source::load(d.path()).unwrap();
        let kinds: Vec<_> = check_files_seen(&source, None, &[1], &elsewhere).iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FindingKind::RevisesNewer]);
        let moved = |applied: std::collections::BTreeSet<i64>| {
            let p = crate::migration::rebase::plan(&source, &applied, &Default::default(), chrono::Utc::now()).unwrap();
            p.renames.iter().map(|r| (r.version, r.why.clone())).collect::<Vec<_>>()
        };
        assert_eq!(moved([1, 3].into()), [(2, "out of order".to_string())]);
        assert_eq!(moved([1].into()), [(2, "revises a newer migration".to_string())], "3 applied nowhere");
        // Applied here, it ran where it ran: history, not advice.
        assert!(check_files_seen(&source, None, &[1, 2, 3], &elsewhere).is_empty());

        // Each side applied somewhere, the older pending here behind the newer: settled, and only a
        // run out of order applies it here (a plain `up` would refuse).
        std::fs::write(d.path().join("2_m.sql"), header(2, "1")).unwrap();
        let source = Source::load(d.path()).unwrap();
        let both = Elsewhere { applied: BTreeMap::from([(2, vec!["dev".into()])]), ..Default::default() };
        let f = check_files_seen(&source, None, &[1, 3], &both);
        let settled = f.iter().find(|f| f.kind == FindingKind::SettledConflict).unwrap();
        assert!(settled.hint);
        assert_eq!(settled.remedies, [Remedy::AllowOutOfOrder]);
    }
}
