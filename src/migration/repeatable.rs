//! Repeatable migrations: files in their own folder (sqlx-cli never sees them), applied after the
//! versioned ones whenever their checksum differs from the one last applied, in name order, and
//! rebuilt after a rollback. What ran is in Godwit's log (`repeatable` events with the checksum), never
//! in `_sqlx_migrations`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{Event, EventKind, Outcome};
use crate::migration::source::{MigrationFile, Source};

/// What the log says of one repeatable file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The checksum (hex) of its newest successful apply, and when.
    pub applied: Option<(String, DateTime<Utc>)>,
    /// Who applied it then.
    pub by: Option<String>,
    /// Its newest event's outcome, and the error of a failed one.
    pub last: Outcome,
    pub error: Option<String>,
}

/// Each file's record, from its `repeatable` events (newest first, as the log reads them). Those
/// before the newest restore (`restored`, its event's id) say nothing of the database now: what the
/// backup held is not known, so every file is applied again.
pub fn records(events: &[Event], restored: Option<i64>) -> BTreeMap<String, Record> {
    let mut out: BTreeMap<String, Record> = BTreeMap::new();
    let since = |e: &&Event| restored.is_none_or(|r| e.id > r);
    for e in events.iter().filter(|e| e.kind == EventKind::Repeatable).filter(since) {
        let Some(name) = &e.description else { continue };
        let r = out.entry(name.clone()).or_insert_with(|| Record {
            applied: None,
            by: None,
            last: e.outcome,
            error: e.error.clone(),
        });
        if r.applied.is_none() && e.outcome == Outcome::Ok {
            r.applied = e.detail.clone().map(|sum| (sum, e.at));
            r.by = Some(e.actor.clone());
        }
    }
    out
}

/// Whether a repeatable file runs on the next `up`: never applied, changed since, or failed last.
pub fn due(r: &MigrationFile, record: Option<&Record>) -> bool {
    state(r, record) != State::Applied
}

/// The repeatable files the next `up` applies, in name order.
pub fn due_files<'a>(source: &'a Source, records: &BTreeMap<String, Record>) -> Vec<&'a MigrationFile> {
    source.repeatables.iter().filter(|r| due(r, records.get(&r.file_name()))).collect()
}

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "RepeatableState")]
pub enum State {
    /// Applied as it is now.
    Applied,
    /// Never applied here.
    Pending,
    /// Edited since it was applied: the next `up` applies it again.
    Changed,
    /// Its last run failed: the next `up` tries again.
    Failed,
    /// The database could not be read.
    Unknown,
}

fn state(r: &MigrationFile, record: Option<&Record>) -> State {
    let Some(rec) = record else { return State::Pending };
    if rec.last != Outcome::Ok {
        return State::Failed;
    }
    match &rec.applied {
        Some((sum, _)) if *sum == hex::encode(&r.checksum) => State::Applied,
        Some(_) => State::Changed,
        None => State::Pending,
    }
}

/// A repeatable file as `status` lists it.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export, rename = "RepeatableRow")]
pub struct Row {
    pub file: String,
    pub state: State,
    /// When the version applied last was applied (it may be an older text of the file).
    #[serde(serialize_with = "crate::timestamp::opt_millis")]
    pub applied_at: Option<DateTime<Utc>>,
    pub applied_by: Option<String>,
    /// The error of its last run, when that failed.
    pub error: Option<String>,
}

/// Every repeatable file with its state (`None`: the database could not be read).
pub fn rows(source: &Source, records: Option<&BTreeMap<String, Record>>) -> Vec<Row> {
    source
        .repeatables
        .iter()
        .map(|r| {
            let rec = records.and_then(|all| all.get(&r.file_name()));
            Row {
                file: r.file_name(),
                state: if records.is_none() { State::Unknown } else { state(r, rec) },
                applied_at: rec.and_then(|x| x.applied.as_ref().map(|(_, at)| *at)),
                applied_by: rec.and_then(|x| x.by.clone()),
                error: rec.filter(|x| x.last != Outcome::Ok).and_then(|x| x.error.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, name: &str, outcome: Outcome, sum: &str) -> Event {
        Event {
            id,
            at: Utc::now(),
            kind: EventKind::Repeatable,
            version: None,
            description: Some(name.into()),
            actor: "me@host".into(),
            duration_ns: Some(1),
            outcome,
            error: (outcome != Outcome::Ok).then(|| "boom".into()),
            detail: Some(sum.into()),
        }
    }

    fn file(name: &str, sql: &str) -> MigrationFile {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("m")).unwrap();
        std::fs::create_dir(d.path().join("repeatable")).unwrap();
        std::fs::write(d.path().join("repeatable").join(name), sql).unwrap();
        let s = Source::load(&d.path().join("m"))
            .unwrap()
            .with_repeatables(&d.path().join("repeatable"), &Default::default())
            .unwrap();
        s.repeatables[0].clone()
    }

    #[test]
    fn a_link_out_of_the_folder_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("m")).unwrap();
        std::fs::create_dir_all(d.path().join("repeatable")).unwrap();
        std::fs::write(d.path().join("secret.txt"), "SELECT 'not yours';").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret.txt"), d.path().join("repeatable/a.sql")).unwrap();
        std::fs::write(d.path().join("repeatable/b.sql"), "SELECT 1;").unwrap();
        let s = Source::load(&d.path().join("m"))
            .unwrap()
            .with_repeatables(&d.path().join("repeatable"), &Default::default())
            .unwrap();
        assert_eq!(s.repeatables.iter().map(|r| r.file_name()).collect::<Vec<_>>(), ["b.sql"]);
        assert!(
            matches!(&s.problems[..], [crate::migration::source::SourceProblem::Unreadable { file, .. }] if file == "repeatable/a.sql")
        );
        assert!(s.ensure_valid().is_err(), "a run refuses it");
    }

    #[test]
    fn a_file_is_due_when_new_changed_or_failed_last() {
        let v = file("views.sql", "CREATE VIEW v AS SELECT 1;");
        let sum = hex::encode(&v.checksum);
        let at = |events: Vec<Event>| state(&v, records(&events, None).get("views.sql"));
        assert_eq!(at(vec![]), State::Pending);
        assert_eq!(at(vec![event(1, "views.sql", Outcome::Ok, &sum)]), State::Applied);
        assert_eq!(
            at(vec![event(2, "views.sql", Outcome::Ok, "00"), event(1, "views.sql", Outcome::Ok, &sum)]),
            State::Changed
        );
        // Failed after it was applied as it is: tried again.
        assert_eq!(
            at(vec![event(2, "views.sql", Outcome::Failed, &sum), event(1, "views.sql", Outcome::Ok, &sum)]),
            State::Failed
        );
        // A restore since: the backup's views are not known, it is applied again.
        assert_eq!(
            state(&v, records(&[event(1, "views.sql", Outcome::Ok, &sum)], Some(1)).get("views.sql")),
            State::Pending
        );
        assert_eq!((v.version, v.repeatable, v.description.as_str()), (-1, true, "views.sql"));
    }
}
