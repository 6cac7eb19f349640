//! Verbs that change a database: up, down, redo, repair, resolve.

use super::*;
use crate::migration::runner::Work;

/// A plan saved by `up --dry-run --json`, as read back.
#[derive(serde::Deserialize)]
struct Saved {
    direction: crate::event::Direction,
    planned: Vec<runner::Seen>,
    database: Option<String>,
}

/// How a run was asked for: a preview (`--dry-run`, as JSON with `--json`), or a run of a plan
/// previewed before (`--plan FILE`).
pub(super) struct Preview {
    pub(super) dry_run: bool,
    pub(super) json: bool,
    pub(super) plan: Option<PathBuf>,
}

impl Preview {
    /// The steps of a saved plan, as seen, and the database it was made for; `None` without `--plan`.
    fn seen(&self) -> Result<Option<Saved>> {
        let Some(path) = &self.plan else { return Ok(None) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::input(format!("cannot read the plan {}: {e}", path.display())))?;
        let saved: Saved = serde_json::from_str(&text).map_err(|e| {
            Error::input(format!("{} is not a plan from `godwit up --dry-run --json`: {e}", path.display()))
        })?;
        if saved.direction != crate::event::Direction::Up {
            return Err(Error::input(format!("{} is a plan to roll back, not to apply.", path.display())));
        }
        if saved.planned.is_empty() {
            return Err(Error::input(format!(
                "the plan in {} runs nothing: there was nothing to apply.",
                path.display()
            )));
        }
        Ok(Some(saved))
    }
}

fn finish_run(report: RunReport, label: &str) -> Result<()> {
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
            let what = match s.repeatable {
                true => format!("repeatable {}", s.file),
                false => format!("{} {}", s.version, s.file),
            };
            println!("-- {what}{tx}\n{}\n", s.sql.trim_end());
        }
        if !report.planned.is_empty() {
            println!(
                "Dry run: {} would run on {label}; nothing was run.",
                counted(report.planned.iter().map(|s| s.repeatable))
            );
            if let Some(w) = &report.waits_said {
                println!("Waits: {w}.");
            }
            // What the run itself will ask for, said where the person reads the plan.
            let g = &report.guard;
            let mut asks = Vec::new();
            if g.backup.is_some() {
                asks.push("takes a backup first".to_string());
            }
            if let Some(name) = &g.confirm {
                asks.push(format!("asks for its name ({name})"));
            }
            if g.lint_errors > 0 {
                asks.push(format!("asks for the {} lint error(s) shown to be acknowledged", g.lint_errors));
            }
            if let Some((last, rest)) = asks.split_last() {
                let all = if rest.is_empty() { last.clone() } else { format!("{} and {last}", rest.join(", ")) };
                println!("{label} is protected: the run {all}.");
            }
        }
        return Ok(());
    }
    let total = report.planned.len();
    let done = report.done.len();
    if report.cancelled {
        // Stopped on the server mid-migration, MariaDB may keep part of it: the error says which.
        let part_way = report
            .failure
            .as_ref()
            .is_some_and(|e| e.remedies.iter().any(|r| matches!(r, crate::error::Remedy::Resolve { .. })));
        match done {
            0 if part_way => {
                println!("Stopped on {label} before any migration finished (one was left part way: see below).")
            }
            0 => println!("Stopped on {label} before any migration finished: nothing was applied or rolled back."),
            _ => println!(
                "Stopped after {done} of {total} migration(s) on {label}: cancelled. The database has the first {done}."
            ),
        }
        return Err(report.failure.unwrap_or_else(|| Error::new(Problem::Cancelled, "cancelled")));
    }
    if total == 0 && report.failure.is_none() {
        match report.direction {
            crate::event::Direction::Up => println!("Nothing to apply on {label}."),
            crate::event::Direction::Down => println!("Nothing to roll back on {label}."),
        }
        return Ok(());
    }
    let report = report.into_result()?;
    let backup = report.backup.as_ref().map(|id| format!(" (backup {id} taken first)")).unwrap_or_default();
    // The migrations' own times, as recorded: the sum of the lines above and of `status`.
    let rebuilt = report.direction == crate::event::Direction::Down && report.done.iter().any(|d| d.repeatable);
    let done = match rebuilt {
        // After a rollback the repeatable files were rebuilt, not rolled back.
        true => format!(
            "{} (and rebuilt {} repeatable file(s))",
            counted(report.done.iter().filter(|d| !d.repeatable).map(|_| false)),
            report.done.iter().filter(|d| d.repeatable).count()
        ),
        false => counted(report.done.iter().map(|d| d.repeatable)),
    };
    println!("{verb} {done} on {label} in {}{backup}.", ms(total_ns(&report)));
    Ok(())
}

/// `3 migration(s)`, `1 repeatable file(s)`, or `3 migration(s) and 1 repeatable file(s)`, of
/// steps told apart by whether each is repeatable.
fn counted(steps: impl Iterator<Item = bool>) -> String {
    let (mut migrations, mut repeatables) = (0, 0);
    for repeatable in steps {
        if repeatable { repeatables += 1 } else { migrations += 1 }
    }
    match (migrations, repeatables) {
        (m, 0) => format!("{m} migration(s)"),
        (0, r) => format!("{r} repeatable file(s)"),
        (m, r) => format!("{m} migration(s) and {r} repeatable file(s)"),
    }
}

fn total_ns(report: &RunReport) -> i64 {
    report.done.iter().map(|d| d.duration_ns.max(0)).sum()
}

/// What `up --backup` and protected environments ask for before a run.
pub(super) struct BackupFirst {
    pub(super) wanted: bool,
    pub(super) verify: bool,
}

/// Runs the work (see `ops::run`), showing its progress, and words what it did.
async fn run_and_finish(ctx: &Ctx, mut req: ops::RunRequest) -> Result<()> {
    let s = ctx.session()?;
    let guard = Guard::for_run(&s.ws, &[]);
    // At a terminal, a protected run reads what would run before it asks for the name: a file that
    // cannot run is said first, and its lint errors are shown before the question about them.
    let at_terminal = guard.confirm.is_some() && std::io::stdin().is_terminal();
    let preview = match at_terminal {
        true => match ops::preview(&s, req.work, req.allow_out_of_order, || super::import::every_env(ctx)).await {
            Err(e) if e.kind() == crate::error::ErrorKind::Input => return Err(e),
            // Anything else, the run itself reports.
            r => r.ok(),
        },
        false => None,
    };
    req.confirm = ctx.typed(&guard)?;
    // Only where the guard asks for a name does it ask about lint errors: see what they are first.
    if let (Work::Up(_) | Work::Redo, Some(report)) = (req.work, &preview)
        && !req.acknowledge_lint
    {
        req.acknowledge_lint = ask_about_lint_errors(report, &s.ws)?;
    }
    let label = label(&s.ws);
    let cancel = ctx.cancel_on_signals();
    let shown = BackupProgress::new();
    let mut progress = Progress::new();
    let result = ops::run(
        &s,
        req,
        &cancel,
        &mut |e| {
            shown.finish();
            progress.on_event(e)
        },
        &|e| shown.on_event(e),
        || super::import::every_env(ctx),
    )
    .await;
    shown.finish();
    let (report, then) = result?;
    if s.ws.target.is_memory() {
        println!("{label} is in memory: what ran is gone when this command ends.");
    }
    let version = report.planned.first().map(|s| s.version).unwrap_or_default();
    let empty_down = report.warnings.iter().any(|w| w.kind == crate::event::WarningKind::EmptyDown);
    let down_ns = total_ns(&report);
    finish_run(report, &label)?;
    if let Some(up) = then {
        let up_ns = total_ns(&up);
        finish_run(up, &label)?;
        match empty_down {
            false => println!("Redo of {version} passed: its down ({}) and up ({}) both ran.", ms(down_ns), ms(up_ns)),
            true => println!("Redo of {version} ran, but its down has no statement: the down was not tested."),
        }
    }
    Ok(())
}

/// At a terminal, before a protected run: the lint errors in what would run, and whether the
/// person wants it to run anyway (the run's guard refuses them otherwise).
fn ask_about_lint_errors(report: &crate::migration::runner::RunReport, ws: &Workspace) -> Result<bool> {
    if report.guard.lint_errors == 0 {
        return Ok(false);
    }
    for f in report.findings.iter().filter(|f| f.severity == crate::lint::Severity::Error) {
        eprintln!("lint error: {}:{}: [{}] {}", f.file, f.line, f.rule, crate::lint::sentence(f));
    }
    let answer = prompt(&format!(
        "{} lint error(s) above in what would run on {}, which is protected. Type `run` to run it anyway: ",
        report.guard.lint_errors,
        ws.confirm_name()
    ))?;
    Ok(answer.trim() == "run")
}

/// Prints a preview, as text or as the JSON `up --plan` reads.
async fn show_preview(ctx: &Ctx, work: Work, allow_out_of_order: bool, json: bool) -> Result<()> {
    let s = ctx.session()?;
    let report = ops::preview(&s, work, allow_out_of_order, || super::import::every_env(ctx)).await?;
    if json {
        print_json(Some(&s.ws), "plan", &report);
        return Ok(());
    }
    for w in &report.warnings {
        eprintln!("warning: {}", w.message);
    }
    let hints = report.findings.iter().filter(|f| f.severity == crate::lint::Severity::Hint).count();
    for f in report.findings.iter().filter(|f| f.severity != crate::lint::Severity::Hint) {
        eprintln!("lint {}: {}:{}: [{}] {}", f.severity.as_str(), f.file, f.line, f.rule, crate::lint::sentence(f));
    }
    if hints > 0 {
        eprintln!("lint: {hints} hint(s) more; `{} lint` shows them.", ctx.again);
    }
    finish_run(report, &label(&s.ws))
}

pub(super) async fn up(
    ctx: &Ctx,
    to: Option<i64>,
    how: Preview,
    allow_out_of_order: bool,
    first: BackupFirst,
    acknowledge_lint: bool,
) -> Result<()> {
    if how.dry_run {
        return show_preview(ctx, Work::Up(to), allow_out_of_order, how.json).await;
    }
    let (expect, to, expect_database) = match how.seen()? {
        // Up to the plan's last version: a file added after it waits.
        // (A repeatable file's version is its negative place: not a migration's.)
        Some(s) => (Some(s.planned.clone()), s.planned.iter().rev().map(|s| s.version).find(|v| *v >= 0), s.database),
        None => (None, to, None),
    };
    let req = ops::RunRequest {
        allow_out_of_order,
        backup: first.wanted,
        verify: first.verify,
        expect,
        expect_database,
        acknowledge_lint,
        ..ops::RunRequest::new(Work::Up(to))
    };
    run_and_finish(ctx, req).await
}

pub(super) async fn down(ctx: &Ctx, work: Work, how: Preview) -> Result<()> {
    if how.dry_run {
        return show_preview(ctx, work, false, how.json).await;
    }
    run_and_finish(ctx, ops::RunRequest::new(work)).await
}

pub(super) async fn redo(ctx: &Ctx, acknowledge_lint: bool) -> Result<()> {
    run_and_finish(ctx, ops::RunRequest { acknowledge_lint, ..ops::RunRequest::new(Work::Redo) }).await
}

pub(super) async fn repair(ctx: &Ctx, version: i64, reason: Option<&str>, unchecked: bool) -> Result<()> {
    let s = ctx.session()?;
    let reason = match reason {
        Some(r) => r.to_string(),
        None if std::io::stdin().is_terminal() => {
            super::prompt(&format!("Why was migration {version} edited? (for the log) "))?
        }
        None => {
            return Err(Error::input(format!(
                "say why migration {version} was edited, for the log: --reason TEXT (there is no terminal to ask at)"
            )));
        }
    };
    let r = ops::Repairing { version, reason: &reason, unchecked };
    let cancel = ctx.stop_on_signals();
    // Where a name would be asked, what is wrong with the request is said first.
    if asks(ctx, &s) {
        ops::repair(&s, r, ops::Amending::Preview, &cancel).await?;
    }
    let typed = ctx.typed(&Guard::for_history(&s.ws))?;
    println!("{}", ops::repair(&s, r, ops::Amending::Confirmed(typed.as_deref()), &cancel).await?);
    if unchecked {
        println!("`{} check --schema` compares it with what the applied migrations make.", ctx.again_to_read());
    }
    Ok(())
}

pub(super) async fn resolve(ctx: &Ctx, r: ops::Resolving) -> Result<()> {
    let s = ctx.session()?;
    let cancel = ctx.stop_on_signals();
    if asks(ctx, &s) {
        ops::resolve(&s, r, ops::Amending::Preview, &cancel).await?;
    }
    let typed = ctx.typed(&Guard::for_history(&s.ws))?;
    println!("{}", ops::resolve(&s, r, ops::Amending::Confirmed(typed.as_deref()), &cancel).await?);
    if r.unchecked {
        println!("`{} check --schema` compares it with what the applied migrations make.", ctx.again_to_read());
    }
    Ok(())
}

/// Whether changing the history here asks for the environment's name at the terminal.
fn asks(ctx: &Ctx, s: &ops::Session) -> bool {
    Guard::for_history(&s.ws).why().is_some() && ctx.cli.confirm.is_none() && std::io::stdin().is_terminal()
}
