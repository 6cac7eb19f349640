//! Verbs that change a database: up, down, redo, repair, resolve.

use super::*;
use crate::migration::runner::Work;

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
        return Err(report.failure.unwrap_or_else(|| Error::new(ErrorKind::Cancelled, "cancelled")));
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

/// Runs the work on the opened database, with the backup asked for (or required) taken under the
/// run's lock once the plan is known; a failure after a backup names it.
async fn run_and_finish(ctx: &Ctx, o: Opened, work: Work, allow_out_of_order: bool, first: BackupFirst) -> Result<()> {
    let opts = ctx.run_options(allow_out_of_order);
    let shown = BackupProgress::new();
    let on_backup = |e: &crate::backup::BackupEvent| shown.on_event(e);
    let mut backup = crate::backup::BackupFirst {
        ws: &o.ws,
        store: ctx.store(&o.ws)?,
        keep: ctx.keep(),
        wanted: first.wanted,
        verify: first.verify,
        cancel: &opts.cancel,
        on: &on_backup,
        taken: None,
    };
    let mut progress = Progress::new();
    let started = Instant::now();
    let mut db = o.db;
    let result = runner::execute(db.as_mut(), &o.source, work, &opts, &mut backup, &mut |e| {
        shown.finish();
        progress.on_event(e)
    })
    .await;
    shown.finish();
    db.close().await;
    let outcome = async {
        let (report, then) = result?;
        let version = report.planned.first().map(|s| s.version).unwrap_or_default();
        finish_run(report, &o.label, started)?;
        if let Some(up) = then {
            finish_run(up, &o.label, started)?;
            println!("Redo of {version} passed: its down and up both ran.");
        }
        Ok(())
    }
    .await;
    outcome.map_err(|e| backup.hint(e))
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
    let o = ctx.open(true).await?;
    run_and_finish(ctx, o, Work::Up(to), allow_out_of_order, first).await
}

pub(super) async fn down(ctx: &Ctx, target: DownTarget, dry_run: bool) -> Result<()> {
    if dry_run {
        let (db, source, label) = ctx.open_for_reading().await?;
        let applied = read(db, async |db| db.applied().await).await?;
        return finish_run(runner::preview_down(&source, &applied, target)?, &label, Instant::now());
    }
    let o = ctx.open(false).await?;
    run_and_finish(ctx, o, Work::Down(target), false, BackupFirst { wanted: false, verify: false }).await
}

pub(super) async fn redo(ctx: &Ctx) -> Result<()> {
    let o = ctx.open(false).await?;
    run_and_finish(ctx, o, Work::Redo, false, BackupFirst { wanted: false, verify: false }).await
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
