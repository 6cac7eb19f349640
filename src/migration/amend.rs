//! `repair` and `resolve`: changes to the history a person asks for, each recorded with why.

use std::time::Duration;

use crate::db::{self, Amend, Applied, Database, EventKind, NewEvent, Outcome};
use crate::error::{Error, Result};
use crate::migration::source::Source;

/// Changes the history under the migration lock, the one way every change to it is made: the
/// history is read afresh under the lock, `decide` works out the changes from what it holds now
/// (and refuses if it moved since it was planned), and they are recorded in one transaction.
pub async fn under_lock<T>(
    db: &mut dyn Database,
    lock_timeout: Duration,
    decide: impl FnOnce(&[Applied]) -> Result<(Vec<(Amend, NewEvent)>, T)>,
) -> Result<T> {
    db.lock(lock_timeout).await?;
    let result = async {
        crate::backup::ensure_restored(db).await?;
        let applied = db.applied().await?;
        let (changes, done) = decide(&applied)?;
        db.ensure_tables().await?;
        db.amend(&changes, &db::actor()).await?;
        Ok(done)
    }
    .await;
    let _ = db.unlock().await;
    result
}

/// One applied migration's row changed under the lock; returns what was done, in words. With
/// `dry_run`, only decided from the history as it is (no lock, nothing written): what would be
/// done, or why not, before a person is asked to confirm it.
async fn amend(
    db: &mut dyn Database,
    source: &Source,
    version: i64,
    lock_timeout: Duration,
    dry_run: bool,
    build: impl FnOnce(&Applied, &Source) -> Result<(Amend, NewEvent, String)>,
) -> Result<String> {
    let decide = |applied: &[Applied]| {
        let row = applied.iter().find(|a| a.version == version).ok_or_else(|| {
            Error::input(format!("migration {version} is not in this database's history."))
                .with_remedy(crate::error::Remedy::Status)
        })?;
        build(row, source)
    };
    if dry_run {
        crate::backup::ensure_restored(db).await?;
        return decide(&db.applied().await?).map(|(_, _, done)| done);
    }
    under_lock(db, lock_timeout, |applied| {
        let (change, event, done) = decide(applied)?;
        Ok((vec![(change, event)], done))
    })
    .await
}

/// Accepts the edited file of an applied migration: records its new checksum, and the old and new
/// checksums with the reason in `_godwit_log`.
pub async fn repair(
    db: &mut dyn Database,
    source: &Source,
    version: i64,
    reason: &str,
    lock_timeout: Duration,
    dry_run: bool,
) -> Result<String> {
    if reason.trim().is_empty() {
        return Err(Error::input(
            "say why it was edited: the reason goes to the log beside the old and new checksums.",
        ));
    }
    amend(db, source, version, lock_timeout, dry_run, |row, source| {
        let m = source.get(version).ok_or_else(|| {
            Error::input(format!(
                "migration {version} has no file in {}: there is nothing to accept.",
                source.dir.display()
            ))
        })?;
        if m.checksum == row.checksum {
            return Err(Error::input(format!(
                "{} matches what was applied; there is nothing to repair.",
                m.file_name()
            )));
        }
        let event = NewEvent {
            kind: EventKind::Repair,
            version: Some(version),
            description: m.description.clone(),
            duration: None,
            outcome: Outcome::Ok,
            error: None,
            detail: Some(format!(
                "checksum {} -> {}; reason: {reason}",
                hex::encode(&row.checksum),
                hex::encode(&m.checksum)
            )),
        };
        let done = format!("Accepted the edited {}: its new checksum is recorded.", m.file_name());
        Ok((Amend::Checksum { version, checksum: m.checksum.clone() }, event, done))
    })
    .await
}

/// How a resolve's log detail ends when the migration was marked rolled back (a later failure of
/// the same migration looks for it).
pub const MARKED_ROLLED_BACK: &str = "marked rolled back";

/// Clears a migration that failed part way, after a person finished (`applied`) or undid it by
/// hand; also forgets an applied migration whose file was removed on purpose.
pub async fn resolve(
    db: &mut dyn Database,
    source: &Source,
    version: i64,
    applied: bool,
    lock_timeout: Duration,
    dry_run: bool,
) -> Result<String> {
    // Which half failed: the history then says what the person did by hand.
    let in_down = crate::migration::status::failed_rolling_back(db, version).await;
    amend(db, source, version, lock_timeout, dry_run, |row, source| {
        let removed = row.success && !applied && source.get(version).is_none();
        if row.success && !removed {
            return Err(Error::input(format!(
                "migration {version} is not marked failed; there is nothing to resolve."
            )));
        }
        let (change, detail, done) = if applied {
            let checksum = source.get(version).map_or_else(|| row.checksum.clone(), |m| m.checksum.clone());
            (
                Amend::Succeeded { version, checksum },
                if in_down { "rollback undone by hand: marked applied" } else { "finished by hand: marked applied" }
                    .to_string(),
                format!("Marked {version} applied."),
            )
        } else {
            (
                Amend::Forget { version },
                if in_down {
                    format!("rollback finished by hand: {MARKED_ROLLED_BACK}")
                } else {
                    format!("undone by hand: {MARKED_ROLLED_BACK}")
                },
                match removed {
                    true => format!("Marked {version} rolled back; its file is gone, so nothing runs it again."),
                    false => format!("Marked {version} rolled back; the next apply runs it again."),
                },
            )
        };
        let event = NewEvent {
            kind: EventKind::Resolve,
            version: Some(version),
            description: row.description.clone(),
            duration: None,
            outcome: Outcome::Ok,
            error: None,
            detail: Some(detail),
        };
        Ok((change, event, done))
    })
    .await
}
