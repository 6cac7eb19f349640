//! Verbs that change a database: up, down, redo, repair, resolve.

use super::*;
use crate::migration::runner::Work;

/// How a run was asked for: a preview (`--dry-run`, as JSON with `--json`), or a run of a plan
/// previewed before (`--plan FILE`).
pub(super) struct Preview {
    pub(super) dry_run: bool,
    pub(super) json: bool,
    pub(super) plan: Option<PathBuf>,
}

impl Preview {
    /// The steps of a saved plan, as seen, and the last version to run; `None` without `--plan`.
    fn seen(&self) -> Result<Option<(Vec<runner::Seen>, i64)>> {
        #[derive(serde::Deserialize)]
        struct Saved {
            direction: crate::event::Direction,
            planned: Vec<runner::Seen>,
        }
        let Some(path) = &self.plan else { return Ok(None) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::input(format!("cannot read the plan {}: {e}", path.display())))?;
        let saved: Saved = serde_json::from_str(&text).map_err(|e| {
            Error::input(format!("{} is not a plan from `godwit up --dry-run --json`: {e}", path.display()))
        })?;
        if saved.direction != crate::event::Direction::Up {
            return Err(Error::input(format!("{} is a plan to roll back, not to apply.", path.display())));
        }
        let last = saved.planned.last().map(|s| s.version).ok_or_else(|| {
            Error::input(format!("the plan in {} runs nothing: there was nothing to apply.", path.display()))
        })?;
        Ok(Some((saved.planned, last)))
    }
}

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
async fn run_and_finish(
    ctx: &Ctx,
    o: Opened,
    work: Work,
    allow_out_of_order: bool,
    first: BackupFirst,
    expect: Option<Vec<runner::Seen>>,
) -> Result<()> {
    let opts = RunOptions { expect, ..ctx.run_options(allow_out_of_order) };
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

/// Prints a preview, as text or as the JSON `up --plan` reads.
fn show_preview(report: RunReport, label: &str, json: bool) -> Result<()> {
    if json {
        print_json(&report);
        return Ok(());
    }
    finish_run(report, label, Instant::now())
}

pub(super) async fn up(
    ctx: &Ctx,
    to: Option<i64>,
    how: Preview,
    allow_out_of_order: bool,
    first: BackupFirst,
) -> Result<()> {
    if how.dry_run {
        let (db, source, label) = ctx.open_for_reading().await?;
        let applied = read(db, async |db| db.applied().await).await?;
        return show_preview(runner::preview_up(&source, &applied, to, allow_out_of_order)?, &label, how.json);
    }
    let (expect, to) = match how.seen()? {
        Some((seen, last)) => (Some(seen), Some(last)),
        None => (None, to),
    };
    let o = ctx.open(true).await?;
    run_and_finish(ctx, o, Work::Up(to), allow_out_of_order, first, expect).await
}

pub(super) async fn down(ctx: &Ctx, target: DownTarget, how: Preview) -> Result<()> {
    if how.dry_run {
        let (db, source, label) = ctx.open_for_reading().await?;
        let applied = read(db, async |db| db.applied().await).await?;
        return show_preview(runner::preview_down(&source, &applied, target)?, &label, how.json);
    }
    let o = ctx.open(false).await?;
    run_and_finish(ctx, o, Work::Down(target), false, BackupFirst { wanted: false, verify: false }, None).await
}

pub(super) async fn redo(ctx: &Ctx) -> Result<()> {
    let o = ctx.open(false).await?;
    run_and_finish(ctx, o, Work::Redo, false, BackupFirst { wanted: false, verify: false }, None).await
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
