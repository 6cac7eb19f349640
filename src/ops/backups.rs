//! Backups of an environment, their checks, and restores.

use std::collections::BTreeSet;

use super::*;

/// Backs up the environment's database; a database not made yet has nothing to back up.
pub async fn backup(s: &Session, cancel: &Cancel, on: &(dyn Fn(&BackupEvent) + Send + Sync)) -> Result<BackupEntry> {
    let store = s.store()?;
    let mut db = s.read().await?.ok_or_else(|| {
        crate::Error::new(
            Problem::NoDatabase,
            format!("{} does not exist yet: there is nothing to back up.", s.ws.target.display()),
        )
    })?;
    // Under the migration lock, as a run's own backup is: a dump taken while another run migrates
    // would hold half its change, and its manifest would name the wrong version.
    if let Err(e) = db.lock(s.lock_timeout).await {
        db.close().await;
        return Err(e.and("no backup was taken"));
    }
    // Nor of a database a restore left part way: it would pass for a good backup, and its
    // retention could remove the backup that finishes the restore.
    // (A log that cannot be read does not stop a backup.)
    if let Err(e) = backup::ensure_restored(db.as_mut()).await
        && matches!(e.problem, Problem::PartlyRestored { .. })
    {
        let _ = db.unlock().await;
        db.close().await;
        return Err(e.and("No backup was taken."));
    }
    let r = backup::backup(db.as_mut(), &s.ws.target, &store, &s.ws.confirm_name(), s.keep, cancel, on).await;
    let _ = db.unlock().await;
    db.close().await;
    r
}

/// The backup a restore on a protected environment takes first, under the migration lock.
async fn safety_backup(
    s: &Session,
    db: &mut dyn Database,
    store: &backup::Store,
    cancel: &Cancel,
    on: &(dyn Fn(&BackupEvent) + Send + Sync),
) -> Result<BackupEntry> {
    db.lock(s.lock_timeout).await.map_err(|e| e.and("Nothing was backed up or restored."))?;
    let r = backup::backup(db, &s.ws.target, store, &s.ws.confirm_name(), usize::MAX, cancel, on).await;
    let _ = db.unlock().await;
    r.map_err(|e| match e.problem {
        Problem::Cancelled => e,
        _ => e
            .context("backing up what the protected environment holds before restoring over it")
            .and("Nothing was restored."),
    })
}

/// Restores a backup into a scratch database and compares it with its manifest.
pub async fn verify_backup(
    s: &Session,
    id: Option<&str>,
    cancel: &Cancel,
    on: &(dyn Fn(&BackupEvent) + Send + Sync),
) -> Result<Comparison> {
    let store = s.store()?;
    let mut db = s.open(false).await?;
    let r = backup::verify(db.as_mut(), &s.ws.target, &store, id, &s.connect, cancel, on).await;
    db.close().await;
    r
}

/// Restores a backup over the environment's database: its name must always be typed.
pub async fn restore(
    s: &Session,
    id: Option<&str>,
    confirm: Option<&str>,
    cancel: &Cancel,
    on: &(dyn Fn(&BackupEvent) + Send + Sync),
) -> Result<Restored> {
    let guard = Guard::for_restore(&s.ws);
    guard.enforce(&Confirmation::typed(confirm))?;
    let store = s.store()?;
    // Which backup, before a new one is taken: "the newest" is the one the person was shown.
    let entry = store.get(id)?;
    let mut db = s.open(false).await?;
    // A protected environment keeps what it held: backed up first, outside its retention (which
    // could otherwise remove the very backup being restored).
    // (Not of a database a restore left part way: there is nothing whole to keep.)
    let partly = matches!(backup::left_partly(db.as_mut()).await, Ok(Some(_)));
    let safety = match guard.backup.filter(|_| !partly) {
        Some(_) => match safety_backup(s, db.as_mut(), &store, cancel, on).await {
            Ok(b) => Some(b.id),
            Err(e) => {
                db.close().await;
                return Err(e);
            }
        },
        None => None,
    };
    let versions = |a: Vec<crate::db::Applied>| a.into_iter().map(|a| a.version).collect::<BTreeSet<i64>>();
    // Pending again: applied before the restore, not after it (one never applied is no news).
    let before = db.applied().await.map(versions);
    let mut r = backup::restore(db.as_mut(), &s.ws.target, &store, Some(&entry.id), s.lock_timeout, cancel, on)
        .await
        .map(|restored| backup::Restored { safety: safety.clone(), ..restored });
    if let Ok(restored) = &mut r
        && let (Ok(source), Ok(before), Ok(after)) = (s.source(), before, db.applied().await.map(versions))
    {
        restored.pending =
            source.migrations.iter().map(|m| m.version).filter(|v| before.contains(v) && !after.contains(v)).collect();
    }
    db.close().await;
    r
}
