//! One migration as its own page shows it: its files and SQL, its header, whether the file still
//! matches what was applied, its events, and what can be done about it.

use serde::Serialize;

use crate::db::Event;
use crate::error::{Error, Remedy, Result};
use crate::migration::check;
use crate::migration::source::Source;
use crate::migration::status::{self, StatusRow};

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct MigrationDetail {
    /// Its status row: state, when and by whom it was applied, what is wrong with it.
    pub row: StatusRow,
    pub up_sql: Option<String>,
    pub down_file: Option<String>,
    /// `None` for an irreversible migration, or when its down file is missing (`down_error` says).
    pub down_sql: Option<String>,
    pub down_error: Option<String>,
    /// The guide's header: which migration this one follows.
    pub revision_id: Option<String>,
    pub revises: Option<String>,
    pub create_date: Option<String>,
    /// The file's checksum and the one recorded when it was applied (hex).
    pub checksum: Option<String>,
    pub applied_checksum: Option<String>,
    /// What the two checksums say.
    pub file_state: FileState,
    /// Newest first.
    pub events: Vec<Event>,
    /// What `check` reports about it.
    pub findings: Vec<check::Finding>,
    /// What can be done about it (repair, resolve), from those findings.
    pub remedies: Vec<Remedy>,
    /// Applied: the version a rollback of it (and of any newer one) goes back to.
    pub undo_to: Option<i64>,
}

/// Whether a migration's file is still what was applied.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FileState {
    NotApplied,
    Gone,
    Matches,
    /// It matches the checksum a repair accepted: what ran was the file as it was before.
    Repaired,
    Edited,
}

/// The page of migration `version`, from the folder, the history and its events.
pub fn detail(
    source: &Source,
    recorded: &status::Recorded,
    version: i64,
    events: Vec<Event>,
    dialect: crate::syntax::Dialect,
) -> Result<MigrationDetail> {
    let applied = &recorded.applied;
    let rows = status::recorded_rows(source, recorded);
    let row = rows.iter().find(|r| r.version == version).cloned().ok_or_else(|| {
        Error::not_found(crate::Named::Migration, format!("no migration has version {version}"))
            .with_remedy(Remedy::Status)
    })?;
    let file = source.get(version);
    let recorded = applied.iter().find(|a| a.version == version);
    // The down this environment's database runs.
    let (down_sql, down_error) = match file.filter(|m| m.down_path.is_some()).map(|m| m.down_sql_for(Some(dialect))) {
        Some(Ok(sql)) => (Some(sql), None),
        Some(Err(e)) => (None, Some(e.message)),
        None => (None, None),
    };
    let findings: Vec<check::Finding> = check::all(source, None, applied, &rows, &Default::default())
        .into_iter()
        .filter(|f| f.version == Some(version))
        .collect();
    let mut remedies: Vec<Remedy> = findings.iter().flat_map(|f| f.remedies.iter().cloned()).collect();
    remedies.dedup();
    let undo_to = recorded.map(|_| applied.iter().map(|a| a.version).filter(|v| *v < version).max().unwrap_or(0));
    Ok(MigrationDetail {
        row,
        up_sql: file.map(|m| m.sql.clone()),
        down_file: file.filter(|m| m.down_path.is_some()).map(|m| m.down_name_for(Some(dialect))),
        down_sql,
        down_error,
        revision_id: file.and_then(|m| m.header.revision_id.clone()),
        revises: file.and_then(|m| m.header.revises.clone()),
        create_date: file.and_then(|m| m.header.create_date.clone()),
        file_state: match (file, recorded) {
            (_, None) => FileState::NotApplied,
            (None, Some(_)) => FileState::Gone,
            (Some(f), Some(a)) if f.checksum == a.checksum => {
                use crate::db::EventKind as K;
                match events.iter().find(|e| matches!(e.kind, K::Apply | K::Repair | K::Resolve)).map(|e| e.kind) {
                    Some(K::Repair) => FileState::Repaired,
                    _ => FileState::Matches,
                }
            }
            _ => FileState::Edited,
        },
        checksum: file.map(|m| hex::encode(&m.checksum)),
        applied_checksum: recorded.map(|a| hex::encode(&a.checksum)),
        events,
        findings,
        remedies,
        undo_to,
    })
}
