//! Backups: `backup`, `backups` (list, verify) and `restore`.

use super::*;
use crate::backup::BackupEntry;

pub(super) async fn backup_verb(ctx: &Ctx) -> Result<()> {
    let s = ctx.session()?;
    let shown = BackupProgress::new();
    let result = ops::backup(&s, &ctx.stop_on_signals(), &|e| shown.on_event(e)).await;
    shown.finish();
    let e = result?;
    println!(
        "Backed up {} to {} ({}, {:.1} s, {}): {}",
        label(&s.ws),
        e.id,
        bytes(e.size),
        e.duration_ms as f64 / 1000.0,
        e.tool,
        s.store()?.file(&e).display()
    );
    Ok(())
}

pub(super) fn list(ctx: &Ctx, json: bool) -> Result<()> {
    let ws = ctx.workspace()?;
    let store = crate::backup::Store::for_workspace(ctx.project.as_ref().map(|p| p.id()), &ws)?;
    let all = store.list()?;
    if json {
        print_json(Some(&ws), "backups", &all);
        return Ok(());
    }
    if all.is_empty() {
        println!("No backups of {} yet: `{} backup` makes one.", label(&ws), ctx.again.clone());
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

pub(super) async fn verify(ctx: &Ctx, id: Option<&str>, json: bool) -> Result<()> {
    let s = ctx.session()?;
    let shown = BackupProgress::new();
    let result = ops::verify_backup(&s, id, &ctx.stop_on_signals(), &|e| shown.on_event(e)).await;
    shown.finish();
    let c = result?;
    match (json, c.matches()) {
        (true, _) => print_json(Some(&s.ws), "verified", &c),
        (false, true) => println!(
            "Backup {} is good: restored into a scratch database, {} table(s) and {} row(s) and the schema match.",
            c.id, c.tables, c.rows
        ),
        (false, false) => c.differences.iter().for_each(|d| println!("- {d}")),
    }
    match c.matches() {
        true => Ok(()),
        false => Err(Error::failed(format!("backup {} does not match what was recorded when it was made", c.id))),
    }
}

pub(super) async fn restore(ctx: &Ctx, id: Option<&str>) -> Result<()> {
    let s = ctx.session()?;
    // Show which backup before asking for the confirmation.
    let entry: BackupEntry = s.store()?.get(id)?;
    eprintln!(
        "Restoring backup {} of {} (made {}, {}) replaces its data: its tables go back to what they \
         held then, its migration history too (a repair or resolve since is undone), and what was made \
         since (tables, views, routines) is dropped. Godwit's own event log is kept.",
        entry.id,
        label(&s.ws),
        entry.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        entry.migration_version.map_or_else(|| "before any migration".into(), |v| format!("at migration {v}"))
    );
    let typed = ctx.typed(&Guard::for_restore(&s.ws))?;
    let shown = BackupProgress::new();
    let cancel = ctx.stop_on_signals();
    let result = ops::restore(&s, Some(&entry.id), typed.as_deref(), &cancel, &|e| shown.on_event(e)).await;
    shown.finish();
    let r = result?;
    println!("Restored {} from backup {}.", label(&s.ws), r.entry.id);
    if let Some(b) = &r.safety {
        println!(
            "What it held before is backup {b}, taken first (it is protected): `{} restore {b}` brings it back.",
            ctx.again_to_change()
        );
    }
    if !r.dropped.is_empty() {
        println!("Dropped tables made after the backup: {}.", r.dropped.join(", "));
    }
    if let Some(first) = r.pending.first().filter(|_| r.comparison.matches()) {
        println!(
            "{} migration(s) are pending again (from {first}): the next `{} up` runs them, and one that dropped \
             data drops it again. `{} status` lists them.",
            r.pending.len(),
            ctx.again_to_change(),
            ctx.again_to_read()
        );
    }
    if r.comparison.matches() {
        println!(
            "Checked: {} table(s), {} row(s) and the schema are as they were at backup time.",
            r.comparison.tables, r.comparison.rows
        );
        Ok(())
    } else {
        for d in &r.comparison.differences {
            println!("- {d}");
        }
        println!("`{} drift` lists what differs from what the applied migrations make.", ctx.again_to_read());
        Err(Error::failed("the restored database differs from what the backup recorded (see above)"))
    }
}
