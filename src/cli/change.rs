//! Verbs that change a database: up, down, redo, repair, resolve.

use super::*;

fn finish_run(report: RunReport, label: &str, started: Instant) -> Result<()> {
    let verb = match report.direction {
        crate::event::Direction::Up => "Applied",
        crate::event::Direction::Down => "Rolled back",
    };
    if report.dry_run {
        if report.planned.is_empty() {
            println!("Nothing to run on {label}.");
        }
        for s in &report.planned {
            let tx = if s.no_transaction { " (no transaction)" } else { "" };
            println!("-- {} {}{tx}\n{}\n", s.version, s.file, s.sql.trim_end());
        }
        if !report.planned.is_empty() {
            println!("Dry run: {} migration(s) would run on {label}; nothing was run.", report.planned.len());
        }
        return Ok(());
    }
    let total = report.planned.len();
    let done = report.done.len();
    if report.cancelled {
        println!(
            "Stopped after {done} of {total} migration(s) on {label}: cancelled. The database has the first {done}."
        );
        return Err(Error::new(ErrorKind::Cancelled, "cancelled"));
    }
    if total == 0 && report.failure.is_none() {
        match report.direction {
            crate::event::Direction::Up => println!("Nothing to do: {label} is up to date."),
            crate::event::Direction::Down => println!("Nothing to roll back on {label}."),
        }
        return Ok(());
    }
    let report = report.into_result()?;
    println!("{verb} {} migration(s) on {label} in {}.", report.done.len(), ms(started.elapsed().as_nanos() as i64));
    Ok(())
}

/// What `up --backup` and protected environments ask for before a run.
pub(super) struct BackupFirst {
    pub(super) wanted: bool,
    pub(super) verify: bool,
}

/// Backs up before a run (see `backup::before_run`). On failure the connection is dropped unused.
async fn backup_first(ctx: &Ctx, o: &mut Opened, first: &BackupFirst, has_work: bool) -> Result<Option<String>> {
    let store = ctx.store(&o.ws)?;
    let shown = BackupProgress::new();
    let r = crate::backup::before_run(
        o.db.as_mut(),
        &o.ws,
        &store,
        ctx.keep(),
        first.wanted,
        first.verify,
        has_work,
        &Cancel::default(),
        &|e| shown.on_event(e),
    )
    .await;
    shown.finish();
    Ok(r?.map(|e| e.id))
}

/// Points a failed run at the backup taken just before it.
fn with_restore_hint(result: Result<()>, backup: Option<String>) -> Result<()> {
    result.map_err(|e| crate::backup::restore_hint(e, backup.as_deref()))
}

pub(super) async fn up(
    ctx: &Ctx,
    to: Option<i64>,
    dry_run: bool,
    allow_out_of_order: bool,
    first: BackupFirst,
) -> Result<()> {
    if dry_run {
        let (db, source, label) = ctx.open_for_reading().await?;
        let applied = read(db, async |db| db.applied().await).await?;
        return finish_run(runner::preview_up(&source, &applied, to, allow_out_of_order)?, &label, Instant::now());
    }
    let mut o = ctx.open(true).await?;
    let applied = o.db.applied().await?;
    let has_work = !runner::preview_up(&o.source, &applied, to, allow_out_of_order)?.planned.is_empty();
    let backup = backup_first(ctx, &mut o, &first, has_work).await?;
    let opts = ctx.run_options(allow_out_of_order);
    let mut progress = Progress::new();
    let started = Instant::now();
    let report = runner::up(o.db.as_mut(), &o.source, to, &opts, &mut |e| progress.on_event(e)).await;
    o.db.close().await;
    with_restore_hint(report.and_then(|r| finish_run(r, &o.label, started)), backup)
}

pub(super) async fn down(ctx: &Ctx, target: DownTarget, dry_run: bool) -> Result<()> {
    if dry_run {
        let (db, source, label) = ctx.open_for_reading().await?;
        let applied = read(db, async |db| db.applied().await).await?;
        return finish_run(runner::preview_down(&source, &applied, target)?, &label, Instant::now());
    }
    let mut o = ctx.open(false).await?;
    let applied = o.db.applied().await?;
    let has_work = !runner::preview_down(&o.source, &applied, target)?.planned.is_empty();
    let backup = backup_first(ctx, &mut o, &BackupFirst { wanted: false, verify: false }, has_work).await?;
    let opts = ctx.run_options(false);
    let mut progress = Progress::new();
    let started = Instant::now();
    let report = runner::down(o.db.as_mut(), &o.source, target, &opts, &mut |e| progress.on_event(e)).await;
    o.db.close().await;
    with_restore_hint(report.and_then(|r| finish_run(r, &o.label, started)), backup)
}

pub(super) async fn redo(ctx: &Ctx) -> Result<()> {
    let mut o = ctx.open(false).await?;
    let backup = backup_first(ctx, &mut o, &BackupFirst { wanted: false, verify: false }, true).await?;
    let opts = ctx.run_options(false);
    let mut progress = Progress::new();
    let started = Instant::now();
    let result = runner::redo(o.db.as_mut(), &o.source, &opts, &mut |e| progress.on_event(e)).await;
    o.db.close().await;
    let outcome = async {
        let (down, up) = result?;
        let version = down.planned.first().map(|s| s.version).unwrap_or_default();
        finish_run(down, &o.label, started)?;
        if let Some(up) = up {
            finish_run(up, &o.label, started)?;
            println!("Redo of {version} passed: its down and up both ran.");
        }
        Ok(())
    }
    .await;
    with_restore_hint(outcome, backup)
}

pub(super) async fn repair(ctx: &Ctx, version: i64, reason: &str) -> Result<()> {
    let Opened { mut db, source, .. } = ctx.open(false).await?;
    let r = crate::migration::amend::repair(
        db.as_mut(),
        &source,
        version,
        reason,
        Duration::from_secs(ctx.cli.lock_timeout),
    )
    .await;
    db.close().await;
    println!("{}", r?);
    Ok(())
}

pub(super) async fn resolve(ctx: &Ctx, version: i64, applied: bool) -> Result<()> {
    let Opened { mut db, source, .. } = ctx.open(false).await?;
    let r = crate::migration::amend::resolve(
        db.as_mut(),
        &source,
        version,
        applied,
        Duration::from_secs(ctx.cli.lock_timeout),
    )
    .await;
    db.close().await;
    println!("{}", r?);
    Ok(())
}
