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

pub(super) async fn up(ctx: &Ctx, to: Option<i64>, dry_run: bool, allow_out_of_order: bool) -> Result<()> {
    if dry_run {
        let (db, source, label) = ctx.open_for_reading(false).await?;
        let applied = read(db, async |db| db.applied().await).await?;
        return finish_run(runner::preview_up(&source, &applied, to, allow_out_of_order)?, &label, Instant::now());
    }
    let (mut db, source, label) = ctx.open(true).await?;
    let opts = ctx.run_options(allow_out_of_order);
    let mut progress = Progress::new();
    let started = Instant::now();
    let report = runner::up(db.as_mut(), &source, to, &opts, &mut |e| progress.on_event(e)).await;
    db.close().await;
    finish_run(report?, &label, started)
}

pub(super) async fn down(ctx: &Ctx, target: DownTarget, dry_run: bool) -> Result<()> {
    if dry_run {
        let (db, source, label) = ctx.open_for_reading(false).await?;
        let applied = read(db, async |db| db.applied().await).await?;
        return finish_run(runner::preview_down(&source, &applied, target)?, &label, Instant::now());
    }
    let (mut db, source, label) = ctx.open(false).await?;
    let opts = ctx.run_options(false);
    let mut progress = Progress::new();
    let started = Instant::now();
    let report = runner::down(db.as_mut(), &source, target, &opts, &mut |e| progress.on_event(e)).await;
    db.close().await;
    finish_run(report?, &label, started)
}

pub(super) async fn redo(ctx: &Ctx) -> Result<()> {
    let (mut db, source, label) = ctx.open(false).await?;
    let opts = ctx.run_options(false);
    let mut progress = Progress::new();
    let started = Instant::now();
    let result = runner::redo(db.as_mut(), &source, &opts, &mut |e| progress.on_event(e)).await;
    db.close().await;
    let (down, up) = result?;
    let version = down.planned.first().map(|s| s.version).unwrap_or_default();
    finish_run(down, &label, started)?;
    if let Some(up) = up {
        finish_run(up, &label, started)?;
        println!("Redo of {version} passed: its down and up both ran.");
    }
    Ok(())
}

/// Runs a history change under the migration lock.
pub(super) async fn amend(
    ctx: &Ctx,
    version: i64,
    build: impl FnOnce(&db::Applied, &Source) -> Result<(Amend, NewEvent, String)>,
) -> Result<()> {
    let (mut db, source, label) = ctx.open(false).await?;
    let result = async {
        db.lock(Duration::from_secs(ctx.cli.lock_timeout)).await?;
        let result = async {
            let applied = db.applied().await?;
            let row = applied.iter().find(|a| a.version == version).ok_or_else(|| {
                Error::input(format!(
                    "migration {version} is not in the history of {label}; `godwit status` lists what is."
                ))
            })?;
            let (change, event, done) = build(row, &source)?;
            db.ensure_tables().await?;
            db.amend(&change, &event, &db::actor()).await?;
            println!("{done}");
            Ok(())
        }
        .await;
        let _ = db.unlock().await;
        result
    }
    .await;
    db.close().await;
    result
}

pub(super) async fn repair(ctx: &Ctx, version: i64, reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(Error::input(
            "say why with --reason \"...\": it goes to the log beside the old and new checksums.",
        ));
    }
    amend(ctx, version, |row, source| {
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

pub(super) async fn resolve(ctx: &Ctx, version: i64, applied: bool) -> Result<()> {
    amend(ctx, version, |row, source| {
        // A migration whose file was removed on purpose can be forgotten the same way.
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
                "finished by hand: marked applied",
                format!("Marked {version} applied."),
            )
        } else {
            (
                Amend::Forget { version },
                "undone by hand: marked rolled back",
                format!("Marked {version} rolled back; `godwit up` will run it again."),
            )
        };
        let event = NewEvent {
            kind: EventKind::Resolve,
            version: Some(version),
            description: row.description.clone(),
            duration: None,
            outcome: Outcome::Ok,
            error: None,
            detail: Some(detail.into()),
        };
        Ok((change, event, done))
    })
    .await
}
