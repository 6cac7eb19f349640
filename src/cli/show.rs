//! Verbs that read: status, history, check, verify.

use std::fmt::Write as _;

use super::*;
use crate::migration::check;
use crate::migration::repeatable;
use crate::migration::status::State;

/// How many of the newest applied migrations a terminal is shown when the list is long.
const NEWEST_SHOWN: usize = 5;

/// `all`: every migration (piped output, or --all); otherwise those that need attention and the
/// newest applied, when there are more than fit a screen.
pub(super) async fn status_verb(ctx: &Ctx, json: bool, all: bool) -> Result<()> {
    let s = ctx.session()?;
    let report = ops::status(&s, || super::import::every_env(ctx)).await?;
    let (w, label) = (&s.ws, label(&s.ws));
    // Files Godwit cannot read are not "0 pending": the status is not the whole truth, and says so.
    let unread = || match report.problems.len() {
        0 => Ok(()),
        n => Err(Error::input(format!(
            "{n} problem(s) in {}, so this status may be incomplete:\n{}",
            w.migrations.display(),
            report.problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
        ))),
    };
    if json {
        print_json(Some(&s.ws), "status", &report);
        return unread();
    }
    let (rows, summary) = (&report.migrations, &report.summary);
    println!("{label} · {}", w.target.dialect().name());
    // Said before the table: the table may be the backup's history.
    let first = [check::FindingKind::PartlyRestored, check::FindingKind::RunInProgress, check::FindingKind::Standby];
    for f in report.findings.iter().filter(|f| first.contains(&f.kind)) {
        println!("{}; {}.", f.message, f.fix);
        for r in &f.remedies {
            println!("{}", remedy(r, &ctx.again_to_change()));
        }
    }
    if rows.is_empty() {
        println!("No migrations in {} yet: `godwit new NAME` creates one.", w.migrations.display());
    } else {
        println!("{:<16} {:<8} {:<20} {:>9}  DESCRIPTION", "VERSION", "STATE", "APPLIED AT (UTC)", "TIME");
    }
    let conflicted: Vec<&String> = report
        .findings
        .iter()
        .filter(|f| f.kind == crate::migration::check::FindingKind::RevisionConflict)
        .flat_map(|f| &f.files)
        .collect();
    // A clean applied row is history; the rest needs a look.
    let quiet = |r: &&crate::migration::status::StatusRow| {
        r.state == State::Applied
            && !r.drift
            && !r.out_of_order
            && !r.file.as_ref().is_some_and(|f| conflicted.contains(&f))
    };
    let newest: Vec<i64> = rows.iter().rev().filter(quiet).take(NEWEST_SHOWN).map(|r| r.version).collect();
    let short = !all && rows.len() > 40;
    let hidden = if short { rows.iter().filter(quiet).count().saturating_sub(newest.len()) } else { 0 };
    if hidden > 0 {
        println!("… {hidden} older applied migration(s) not shown (`{} status --all` lists every one)", ctx.again);
    }
    // One write for the table, and the time format parsed once: 10,000 rows to a pipe stay quick.
    let when = chrono::format::StrftimeItems::new("%Y-%m-%d %H:%M:%S").parse_to_owned().expect("a valid format");
    let mut table = String::new();
    for r in rows.iter().filter(|r| !short || !quiet(r) || newest.contains(&r.version)) {
        let mut notes = Vec::new();
        if r.file.as_ref().is_some_and(|f| conflicted.contains(&f)) {
            notes.push("revision conflict".to_string());
        }
        if r.drift {
            notes.push("edited after apply".to_string());
        }
        if r.out_of_order {
            notes.push("older than applied ones".to_string());
        }
        if r.missing_down {
            notes.push("no down file".to_string());
        }
        match r.state {
            State::Failed if r.failed_in_down => notes.push("rollback failed part way".to_string()),
            State::Failed => notes.push("failed part way".to_string()),
            State::Running => notes.push("a run is applying or rolling it back".to_string()),
            State::Missing => notes.push("file missing".to_string()),
            _ => {}
        }
        let notes = if notes.is_empty() { String::new() } else { format!("  [{}]", notes.join("; ")) };
        let _ = writeln!(
            table,
            "{:<16} {:<8} {:<20} {:>9}  {}{notes}",
            r.version,
            r.state.as_str(),
            r.applied_at.map(|t| t.format_with_items(when.iter()).to_string()).unwrap_or_default(),
            r.execution_time_ns.map(ms).unwrap_or_default(),
            r.description,
        );
    }
    print!("{table}");
    if !report.repeatables.is_empty() {
        println!("{:<38} {:<20}  REPEATABLE", "STATE", "APPLIED AT (UTC)");
        for r in &report.repeatables {
            let state = match r.state {
                repeatable::State::Applied => "applied",
                repeatable::State::Pending => "pending",
                repeatable::State::Changed => "changed (the next up applies it again)",
                repeatable::State::Failed => "failed (the next up tries again)",
                repeatable::State::Unknown => "unknown",
            };
            let at = r.applied_at.map(|t| t.format_with_items(when.iter()).to_string()).unwrap_or_default();
            println!("{state:<38} {at:<20}  {}", r.file);
        }
    }
    let current = summary.current.map(|c| format!(" · current {c}")).unwrap_or_default();
    let mut line = format!("{} applied, {} pending{current}", summary.applied, summary.pending);
    let due = report
        .repeatables
        .iter()
        .filter(|r| {
            matches!(r.state, repeatable::State::Pending | repeatable::State::Changed | repeatable::State::Failed)
        })
        .count();
    if due > 0 {
        line.push_str(&format!(" · {due} repeatable file(s) to apply"));
    }
    match report.findings.iter().filter(|f| !f.hint).count() {
        0 => {}
        n => line.push_str(&format!(" · {n} problem(s): `{} check` says what to do", ctx.again)),
    }
    println!("{line}");
    unread()
}

pub(super) async fn history(ctx: &Ctx, limit: i64, json: bool) -> Result<()> {
    let s = ctx.session()?;
    let events = ops::history(&s, limit).await?;
    let label = label(&s.ws);
    if json {
        print_json(Some(&s.ws), "events", &events);
        return Ok(());
    }
    if events.is_empty() {
        println!("No events recorded on {label} yet.");
        return Ok(());
    }
    println!("{label} · {}", s.ws.target.dialect().name());
    println!(
        "{:<19} {:<10} {:<7} {:<16} {:>9}  {:<20} DESCRIPTION",
        "WHEN (UTC)", "EVENT", "OUTCOME", "VERSION", "TIME", "WHO"
    );
    for e in &events {
        println!(
            "{:<19} {:<10} {:<7} {:<16} {:>9}  {:<20} {}",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.kind.as_str(),
            e.outcome.as_str(),
            e.version.map(|v| v.to_string()).unwrap_or_default(),
            e.duration_ns.map(ms).unwrap_or_default(),
            e.actor,
            e.description.as_deref().unwrap_or_default(),
        );
        // A repeatable file's detail is its checksum: its start tells versions apart.
        let detail = match e.kind {
            crate::db::EventKind::Repeatable => {
                e.detail.as_ref().map(|d| format!("checksum {}…", &d[..d.len().min(12)]))
            }
            _ => e.detail.clone(),
        };
        for extra in [&detail, &e.error].into_iter().flatten() {
            for l in extra.lines() {
                println!("    {l}");
            }
        }
    }
    Ok(())
}

pub(super) async fn check_verb(ctx: &Ctx, offline: bool, schema: bool, json: bool) -> Result<()> {
    let mut findings = if offline {
        // Without a connection the environment may not even resolve: the files are enough.
        let source = Source::load(&ctx.source_dir()?)?;
        let dialect = ctx.workspace().ok().map(|w| w.target.dialect());
        check::check_files(&source, dialect, &[])
    } else {
        ops::check(&ctx.session()?, || super::import::every_env(ctx)).await?
    };
    if schema {
        let changes = ops::drift(&ctx.session()?, &ctx.stop_on_signals()).await?;
        findings.extend(check::drift_findings(&changes.changes));
    }
    if json {
        let about = if offline { None } else { ctx.workspace().ok() };
        print_json(about.as_ref(), "findings", &findings);
    } else if findings.is_empty() {
        println!("No problems found.");
    } else {
        for f in &findings {
            println!("- {}\n  fix: {}", f.message, f.fix);
            let godwit = ctx.again_to_change();
            for r in &f.remedies {
                println!("  {}", remedy(r, &godwit));
            }
        }
    }
    match findings.iter().filter(|f| !f.hint).count() {
        0 => Ok(()),
        n => Err(Error::failed(format!("{n} problem(s) found"))),
    }
}

pub(super) async fn show_migration(ctx: &Ctx, version: i64, json: bool) -> Result<()> {
    let s = ctx.session()?;
    let d = ops::migration(&s, version).await?;
    if json {
        print_json(Some(&s.ws), "migration", &d);
        return Ok(());
    }
    let r = &d.row;
    println!("{} {} · {} · {}", r.version, r.description, r.state.as_str(), label(&s.ws));
    let files = match (&r.file, &d.down_file) {
        (Some(up), Some(down)) => format!("{up} and {down}"),
        (Some(up), None) => format!("{up} (irreversible)"),
        (None, _) => "(missing)".into(),
    };
    println!("{:<10}{files}", "Files");
    if let Some(p) = &d.revises {
        println!("{:<10}{}", "Revises", if p.is_empty() { "(the start of the chain)" } else { p });
    }
    use crate::migration::detail::FileState;
    let matches = match d.file_state {
        FileState::NotApplied => "not applied here",
        FileState::Gone => "its file is gone",
        FileState::Matches => "the file matches what was applied",
        FileState::Repaired => "the file matches the checksum a repair accepted (what ran was the file before it)",
        FileState::Edited => "the file was edited after it was applied",
    };
    println!("{:<10}{matches}", "Checksum");
    if let Some(at) = r.applied_at {
        let by = r.applied_by.as_ref().map(|b| format!(" by {b}")).unwrap_or_default();
        let when = if r.state == crate::migration::status::State::Failed { "Failed" } else { "Applied" };
        println!("{:<10}{}{by}", when, at.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    for f in &d.findings {
        println!("{:<10}{}: {}", "Problem", f.message, f.fix);
    }
    let godwit = ctx.again_to_change();
    for rem in &d.remedies {
        println!("  {}", remedy(rem, &godwit));
    }
    if let Some(sql) = &d.up_sql {
        println!("\n-- up\n{}", sql.trim_end());
    }
    match (&d.down_sql, &d.down_error) {
        (Some(sql), _) => println!("\n-- down\n{}", sql.trim_end()),
        (None, Some(e)) => println!("\n-- down: {e}"),
        (None, None) => {}
    }
    if !d.events.is_empty() {
        println!("\nEvents (newest first):");
        for e in &d.events {
            let extra = e.detail.as_deref().or(e.error.as_deref()).unwrap_or_default();
            println!(
                "  {} {:<8} {:<7} {}  {}",
                e.at.format("%Y-%m-%d %H:%M:%S"),
                e.kind.as_str(),
                e.outcome.as_str(),
                e.actor,
                extra.lines().next().unwrap_or_default()
            );
        }
    }
    Ok(())
}
