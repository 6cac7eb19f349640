//! Schema verbs: `verify` (every down, on a scratch database), `schema` and `diff`.

use super::*;
use crate::migration::verify::{Outcome, Step};
use crate::schema::Change;

pub(super) async fn verify(ctx: &Ctx, from: Option<i64>, seed: Option<&std::path::Path>, json: bool) -> Result<()> {
    let s = ctx.session()?;
    let label = label(&s.ws);
    if !json {
        eprintln!("Verifying each migration's down on a scratch database beside {label} ...");
    }
    let cancel = ctx.cancel_on_signals();
    let mut shown = |i: usize, total: usize, c: &crate::migration::verify::Checked| {
        if !json {
            eprintln!("  [{}/{total}] {} {}", i + 1, c.file, word(&c.outcome));
        }
    };
    let report = ops::verify(&s, from, seed, &cancel, &mut shown).await?;
    if json {
        print_json(Some(&s.ws), "verify", &report);
    }
    let problems: Vec<_> = report.checked.iter().filter(|c| c.is_problem()).collect();
    if !json {
        for c in &problems {
            match &c.outcome {
                Outcome::Leaves { changes, rows } => {
                    println!("{}: its down does not bring the schema back:", c.file);
                    print_changes(changes, "before its up", "after its down");
                    for r in rows {
                        println!("  rows of {}: {} before its up, {} after its down", r.table, r.before, r.after);
                    }
                }
                Outcome::Fails { step, message, .. } => {
                    let when = match step {
                        Step::Up => "its up failed",
                        Step::Down => "its down failed",
                        Step::UpAgain => {
                            "its up failed when run again after its down (the down left something behind, or the up cannot run twice)"
                        }
                        Step::Rebuild => "it failed when rebuilt after a rollback",
                    };
                    println!("{}: {when}:\n  {}", c.file, message.replace('\n', "\n  "));
                }
                _ => {}
            }
        }
        println!("{}", verify_summary(&report));
        print_repeatables(&report.repeatables);
    }
    let problems: Vec<_> = problems.into_iter().chain(report.repeatables.iter().filter(|c| c.is_problem())).collect();
    if report.cancelled {
        return Err(Error::new(Problem::Cancelled, "verifying was stopped; the scratch database was dropped"));
    }
    match problems.len() {
        0 => Ok(()),
        n => Err(Error::failed(format!("{n} migration(s) or repeatable file(s) failed verification"))),
    }
}

/// The counts, as the app says them too.
fn verify_summary(r: &crate::migration::verify::VerifyReport) -> String {
    let n = &r.summary;
    let mut line = format!(
        "{} of {} migration(s) verified restore the schema with their down; {} problem(s).",
        n.restore, n.verified, n.problems
    );
    if n.irreversible > 0 {
        line += &format!(" {} without a down (applied only).", n.irreversible);
    }
    if n.applied_only > 0 {
        line += &format!(" {} older than --from (applied only).", n.applied_only);
    }
    if r.rebuilt > 0 {
        line += &format!(
            " The scratch database was built again {} time(s), after each down that failed or left something.",
            r.rebuilt
        );
    }
    if !r.unchecked.is_empty() {
        let why = r.stopped.as_deref().unwrap_or("stopped");
        line += &format!("\n{} not verified ({why}): {}", n.unchecked, r.unchecked.join(", "));
    }
    line
}

/// How the repeatable files fared over the newest schema.
fn print_repeatables(checked: &[crate::migration::verify::Checked]) {
    for c in checked {
        match &c.outcome {
            Outcome::Restores => {}
            Outcome::Leaves { changes, .. } => {
                println!("repeatable {}: applied again (or rebuilt), the files make another schema:", c.file);
                print_changes(changes, "first", "after");
            }
            Outcome::Fails { step, message, .. } => {
                let when = match step {
                    Step::Up => "it failed over the newest schema",
                    Step::UpAgain => "it failed when applied again over itself (write it so it can run again)",
                    Step::Rebuild => "it failed when rebuilt after the newest migration was rolled back",
                    Step::Down => "its down failed with the repeatable files in place (drop what they make first)",
                };
                let what = if c.version < 0 { format!("repeatable {}", c.file) } else { c.file.clone() };
                println!("{what}: {when}:\n  {}", message.replace('\n', "\n  "));
            }
            _ => {}
        }
    }
    let ok = checked.iter().filter(|c| matches!(c.outcome, Outcome::Restores)).count();
    if !checked.is_empty() && ok == checked.len() {
        println!("{ok} repeatable file(s) apply over the newest schema, again over themselves, and after a rollback.");
    }
}

fn word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Restores => "ok",
        Outcome::Leaves { .. } => "LEAVES SOMETHING",
        Outcome::Fails { .. } => "FAILS",
        Outcome::Irreversible => "irreversible (applied, no down to check)",
        Outcome::Applied => "applied (older than --from)",
    }
}

/// Other tools' history tables, said once each and not counted as differences.
fn print_other_tools(others: &[crate::schema::OtherTool]) {
    for o in others {
        println!(
            "{} is {}'s history table, not part of the schema: left out. Drop it once {} no longer runs on this \
             database.",
            o.table, o.tool, o.tool
        );
    }
}

/// Each object that differs, with its definition on each side.
fn print_changes(changes: &[Change], a: &str, b: &str) {
    for c in changes {
        let what = match (&c.before, &c.after) {
            (None, _) => format!("only {b}"),
            (_, None) => format!("only {a}"),
            _ => "differs".to_string(),
        };
        println!("  {} {} ({what})", c.kind.as_str(), c.name);
        match (&c.before, &c.after) {
            // Changed: its lines, each marked as only in A (-), only in B (+) or in both.
            (Some(_), Some(_)) => {
                println!("    --- {a}\n    +++ {b}");
                for l in &c.lines {
                    println!("    {} {}", l.mark, l.text);
                }
            }
            (before, after) => {
                for (side, def) in [(a, before), (b, after)] {
                    if let Some(def) = def {
                        println!("    {side}:");
                        for l in def.lines() {
                            println!("      {l}");
                        }
                    }
                }
            }
        }
    }
}

/// `drift`, or `diff ENV --to-migrations` (`env` names the environment).
pub(super) async fn drift(ctx: &Ctx, env: Option<&str>, json: bool) -> Result<()> {
    let s = match env {
        Some(e) => ctx.session_of(project_of(ctx)?.workspace(Some(e))?)?,
        None => ctx.session()?,
    };
    let label = label(&s.ws);
    let cancel = ctx.stop_on_signals();
    let compared = ops::drift(&s, &cancel).await?;
    let changes = &compared.changes;
    if json {
        print_json(Some(&s.ws), "drift", &compared);
    } else {
        print_other_tools(&compared.other_tools);
        if changes.is_empty() {
            println!("{label} has the schema its applied migrations make.");
        } else {
            print_changes(changes, "as the migrations make it", "as it is");
            println!("{label}: {} object(s) differ from what its applied migrations make.", changes.len());
        }
    }
    match changes.len() {
        0 => Ok(()),
        n => Err(Error::failed(format!("{n} object(s) drifted"))),
    }
}

/// `diff [ENV] --to-schema FILE`: what the migrations make beside the schema FILE describes.
pub(super) async fn to_schema(ctx: &Ctx, env: Option<&str>, file: Option<&std::path::Path>, json: bool) -> Result<()> {
    let s = match env {
        Some(e) => ctx.session_of(project_of(ctx)?.workspace(Some(e))?)?,
        None => ctx.session()?,
    };
    let cancel = ctx.stop_on_signals();
    let file = &ops::desired_schema_path(&s, file)?;
    let compared = ops::to_schema(&s, file, &cancel).await?;
    let changes = &compared.changes;
    let shown = file.display();
    if json {
        print_json(Some(&s.ws), "diff", &compared);
    } else if changes.is_empty() {
        println!("The migrations make the schema {shown} describes.");
    } else {
        print_changes(changes, "as the migrations make it", &format!("as {shown} has it"));
        println!("{} object(s) differ between what the migrations make and {shown}.", changes.len());
    }
    match changes.len() {
        0 => Ok(()),
        n => Err(Error::failed(format!("{n} object(s) differ from {shown}"))),
    }
}

/// `new NAME --from-schema FILE`: the migration to FILE's schema, shown, proven, then written.
pub(super) async fn from_schema(
    ctx: &Ctx,
    name: &str,
    file: Option<&std::path::Path>,
    allow_destructive: bool,
    dry_run: bool,
) -> Result<()> {
    let s = ctx.session()?;
    let cancel = ctx.stop_on_signals();
    let file = &ops::desired_schema_path(&s, file)?;
    let plan = ops::plan_from_schema(&s, file, &cancel).await?;
    if plan.changes.is_empty() {
        println!("The migrations already make the schema {} describes: nothing to write.", file.display());
        return Ok(());
    }
    print_changes(&plan.changes, "as the migrations make it", &format!("as {} has it", file.display()));
    for (what, statements) in [("Up", &plan.up), ("Down", &plan.down)] {
        println!("{what}:");
        for st in statements {
            for line in st.lines() {
                println!("    {line}");
            }
        }
    }
    if plan.no_transaction {
        println!(
            "  It holds its own transaction (-- no-transaction): foreign keys are off while tables are made again."
        );
    }
    for r in &plan.refusals {
        println!("  ! {}", r.message);
    }
    for n in &plan.notes {
        println!("  Note: {n}");
    }
    for f in &plan.lint {
        let severity = format!("{:?}", f.severity).to_lowercase();
        println!("  lint {severity} ({}, {} line {}): {}", f.rule, f.file, f.line, crate::lint::sentence(f));
    }
    if plan.proven {
        let but = if plan.notes.is_empty() { "" } else { " (but for what is noted)" };
        println!(
            "Proven on a scratch database: the up makes {}'s schema and the down the migrations' again{but}.",
            file.display()
        );
    }
    if dry_run {
        plan.writable(allow_destructive)?;
        println!("Dry run: nothing was written.");
        return Ok(());
    }
    for path in ops::write_from_schema(&s, name, &plan, allow_destructive)? {
        println!("Created {}", path.display());
    }
    Ok(())
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SchemaFormat {
    Text,
    Json,
    Sql,
}

pub(super) async fn schema(ctx: &Ctx, format: SchemaFormat) -> Result<()> {
    let s = ctx.session()?;
    if format == SchemaFormat::Sql {
        print!("{}", ops::schema_sql(&s).await?);
        return Ok(());
    }
    let schema = ops::schema(&s).await?;
    if format == SchemaFormat::Json {
        print_json(Some(&s.ws), "schema", &schema);
        return Ok(());
    }
    println!("{} · {}", label(&s.ws), s.ws.target.dialect().name());
    for o in &schema.objects {
        println!("{} {}", o.kind.as_str(), o.name);
        for l in o.definition.lines() {
            println!("    {l}");
        }
    }
    Ok(())
}

pub(super) async fn diff(ctx: &Ctx, a: &str, b: &str, json: bool, verbose: bool) -> Result<()> {
    let p = project_of(ctx)?;
    let (sa, sb) = (ctx.session_of(p.workspace(Some(a))?)?, ctx.session_of(p.workspace(Some(b))?)?);
    let compared = ops::compare(&sa, &sb).await?;
    let changes = &compared.changes;
    if json {
        print_json(None, "diff", &compared);
    } else {
        print_other_tools(&compared.other_tools);
        if verbose {
            for s in &compared.spelt {
                println!("  {} {} (alike, spelt differently)", s.kind.as_str(), s.name);
                for (side, said) in [(a, &s.a), (b, &s.b)] {
                    for line in said {
                        println!("    {side}: {line}");
                    }
                }
            }
        }
        let spelt = match (compared.spelt.len(), verbose) {
            (0, _) => String::new(),
            (n, true) => format!(" ({n} object(s) alike, spelt differently by each database, above)"),
            (n, false) => format!(" ({n} object(s) alike, spelt differently by each database: --verbose lists them)"),
        };
        if changes.is_empty() {
            println!("{a} and {b} have the same schema{spelt}.");
        } else {
            print_changes(changes, a, b);
            println!("{} object(s) differ between {a} and {b}{spelt}.", changes.len());
        }
    }
    match changes.len() {
        0 => Ok(()),
        n => Err(Error::failed(format!("{n} object(s) differ"))),
    }
}
