//! Backups: `backup`, `backups` (list, verify) and `restore`.

use super::*;
use crate::backup::{self, BackupEntry};

pub(super) async fn backup_verb(ctx: &Ctx) -> Result<()> {
    let (db, _source, label) = ctx.open_for_reading().await?;
    let mut db = db.ok_or_else(|| Error::input(format!("{label} does not exist yet: there is nothing to back up.")))?;
    let ws = ctx.workspace()?;
    let mut target = ws.clone();
    ctx.password(&mut target)?;
    let store = ctx.store(&ws)?;
    let cancel = cancel_on_ctrl_c();
    let shown = BackupProgress::new();
    let result = backup::backup(db.as_mut(), &target.target, &store, &ws.confirm_name(), ctx.keep(), &cancel, &|e| {
        shown.on_event(e)
    })
    .await;
    shown.finish();
    db.close().await;
    let e = result?;
    println!(
        "Backed up {label} to {} ({}, {:.1} s, {}): {}",
        e.id,
        bytes(e.size),
        e.duration_ms as f64 / 1000.0,
        e.tool,
        store.file(&e).display()
    );
    Ok(())
}

pub(super) fn list(ctx: &Ctx, json: bool) -> Result<()> {
    let ws = ctx.workspace()?;
    let store = ctx.store(&ws)?;
    let all = store.list()?;
    if json {
        print_json(&all);
        return Ok(());
    }
    if all.is_empty() {
        println!("No backups of {} yet: `godwit backup` makes one.", label(&ws));
        return Ok(());
    }
    println!("{:<21} {:<19} {:>9} {:<16} {:>7}  TOOL", "ID", "CREATED (UTC)", "SIZE", "AT VERSION", "ROWS");
    for e in &all {
        println!(
            "{:<21} {:<19} {:>9} {:<16} {:>7}  {}",
            e.id,
            e.created_at.format("%Y-%m-%d %H:%M:%S"),
            bytes(e.size),
            e.migration_version.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            e.tables.iter().map(|t| t.rows).sum::<i64>(),
            e.tool
        );
    }
    println!("{} backup(s) in {}", all.len(), store.dir.display());
    Ok(())
}

pub(super) async fn verify(ctx: &Ctx, id: &str) -> Result<()> {
    let (db, _source, label) = ctx.open_for_reading().await?;
    let mut db = db.ok_or_else(|| Error::input(format!("{label} does not exist; its server is needed to verify.")))?;
    let mut ws = ctx.workspace()?;
    ctx.password(&mut ws)?;
    let store = ctx.store(&ws)?;
    let shown = BackupProgress::new();
    let result = backup::verify(
        db.as_mut(),
        &ws.target,
        &store,
        Some(id),
        &ctx.connect_options(false),
        &cancel_on_ctrl_c(),
        &|e| shown.on_event(e),
    )
    .await;
    shown.finish();
    db.close().await;
    let c = result?;
    if c.matches() {
        println!(
            "Backup {} is good: restored into a scratch database, {} tables and {} rows and the schema match.",
            c.id, c.tables, c.rows
        );
        Ok(())
    } else {
        for d in &c.differences {
            println!("- {d}");
        }
        Err(Error::failed(format!("backup {} does not match what was recorded when it was made", c.id)))
    }
}

pub(super) async fn restore(ctx: &Ctx, id: Option<&str>) -> Result<()> {
    // Show which backup before asking for the confirmation.
    let ws = ctx.workspace()?;
    let entry: BackupEntry = ctx.store(&ws)?.get(id)?;
    eprintln!(
        "Restoring backup {} of {} (made {}, at migration {}) replaces its data.",
        entry.id,
        label(&ws),
        entry.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        entry.migration_version.map(|v| v.to_string()).unwrap_or_else(|| "none".into())
    );
    let mut o = ctx.open_confirmed(false, true).await?;
    let store = ctx.store(&o.ws)?;
    let shown = BackupProgress::new();
    let result = backup::restore(
        o.db.as_mut(),
        &o.ws.target,
        &store,
        Some(&entry.id),
        Duration::from_secs(ctx.cli.lock_timeout),
        &cancel_on_ctrl_c(),
        &|e| shown.on_event(e),
    )
    .await;
    shown.finish();
    o.db.close().await;
    let r = result?;
    println!("Restored {} from backup {}.", o.label, r.entry.id);
    if !r.dropped.is_empty() {
        println!("Dropped tables made after the backup: {}.", r.dropped.join(", "));
    }
    if r.comparison.matches() {
        println!(
            "Checked: {} tables, {} rows and the schema are as they were at backup time.",
            r.comparison.tables, r.comparison.rows
        );
        Ok(())
    } else {
        for d in &r.comparison.differences {
            println!("- {d}");
        }
        Err(Error::failed("the restored database differs from what the backup recorded (see above)"))
    }
}

/// A cancel token that Ctrl-C sets.
fn cancel_on_ctrl_c() -> Cancel {
    let cancel = Cancel::default();
    let c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ncancelling...");
            c.cancel();
        }
    });
    cancel
}
