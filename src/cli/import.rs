//! `godwit import`: another tool's migrations as Godwit files, and with a database, its history.

use super::*;
use crate::import::{NoteKind, Tool};

/// How `import` was asked to run.
pub(super) struct How<'a> {
    pub(super) dry_run: bool,
    pub(super) offline: bool,
    pub(super) python: Option<&'a std::path::Path>,
    /// `--run-code`: the project's code may run without asking.
    pub(super) run_code: bool,
    /// `--pass-env`: the person's variables the project's code sees.
    pub(super) pass_env: &'a [String],
    pub(super) json: bool,
}

pub(super) async fn import_verb(
    ctx: &Ctx,
    tool: &str,
    dir: &std::path::Path,
    how: How<'_>,
    dialect: Option<&str>,
) -> Result<()> {
    let How { dry_run, offline, python, json, .. } = how;
    let tool = Tool::from_name(tool).ok_or_else(|| {
        Error::input(format!(
            "`{tool}` is not a tool Godwit imports from: alembic, flyway, dbmate, golang-migrate or diesel"
        ))
    })?;
    // The history is read only from a database named on purpose on the command line, not from the
    // default environment or GODWIT_ENV.
    let flagged = std::env::args().skip(1).any(|a| a == "--env" || a.starts_with("--env=") || a.starts_with("-e"));
    let named = (flagged && ctx.cli.env.is_some()) || ctx.cli.url.is_some();
    let session = if named { Some(ctx.session()?) } else { None };
    let mut req = ops::ImportRequest {
        tool,
        dir: dir.to_path_buf(),
        python: python.map(PathBuf::from),
        run_code: None,
        offline,
        env: how.pass_env.to_vec(),
        dry_run,
    };
    if tool == Tool::Alembic {
        let against = req.scratch_server(session.as_ref());
        req.run_code = code_consent(dir, python, against, &req.env, how.run_code)?;
    }
    let dialect = match (dialect, &session) {
        (Some(_), _) | (None, None) if tool == Tool::Alembic => Some(ctx.dialect(dialect)?),
        (Some(name), _) => Some(ctx.dialect(Some(name))?),
        _ => None,
    };
    let migrations = match &session {
        Some(s) => s.ws.migrations.clone(),
        None => ctx.source_dir()?,
    };
    let confirm = match &session {
        Some(s) if !dry_run => ctx.typed(&Guard::for_history(&s.ws))?,
        _ => None,
    };
    let out = ops::import(&req, &migrations, dialect, session.as_ref().map(|s| (s, confirm.as_deref()))).await?;
    if json {
        print_json(session.as_ref().map(|s| &s.ws), "import", &out);
        return Ok(());
    }
    let n = out.import.migrations.len();
    let (verb, files) = if dry_run { ("Would import", "to write") } else { ("Imported", "written") };
    println!(
        "{verb} {n} {} migration{} from {} into {} ({} file{} {files}{}).",
        tool.name(),
        if n == 1 { "" } else { "s" },
        out.import.from,
        migrations.display(),
        out.files.written.len(),
        if out.files.written.len() == 1 { "" } else { "s" },
        if out.files.unchanged.is_empty() {
            String::new()
        } else {
            format!("; {} already there, left as they are", out.files.unchanged.len())
        }
    );
    let what = if tool == Tool::Alembic { "revision" } else { "version" };
    for m in &out.import.migrations {
        let kind = if m.files.len() == 2 { "" } else { "  (irreversible)" };
        println!("  {}_{}  from {what} {}{kind}", m.version, m.description.replace(' ', "_"), m.id);
    }
    if !out.import.notes.is_empty() {
        println!("Notes:");
        for n in &out.import.notes {
            let mark = if n.kind == NoteKind::Unsupported { "!" } else { "-" };
            println!("  {mark} {}: {}", n.subject, n.message);
        }
    }
    if let (Some(h), Some(s)) = (&out.history, &session) {
        let label = label(&s.ws);
        let record = if dry_run { "would record" } else { "recorded" };
        println!(
            "History in {label}: {} says {} of them ran; {record} {} as applied (not run){}.",
            h.table,
            h.record.len() + h.already.len(),
            h.record.len(),
            if h.already.is_empty() { String::new() } else { format!(", {} were already recorded", h.already.len()) }
        );
        if !h.pending.is_empty() {
            // What ran may have gaps (a branch, an undo, a file added late): those pending run out of order.
            let newest = h.record.iter().chain(&h.already).max().copied().unwrap_or_default();
            let order = if h.pending.iter().any(|v| *v < newest) { " --allow-out-of-order" } else { "" };
            println!("{} pending there: `{} up{order}` runs the rest.", h.pending.len(), ctx.again);
            if ctx.cli.url.as_deref().is_some_and(|u| {
                Target::parse(u, &std::env::current_dir().unwrap_or_default()).is_ok_and(|t| t.has_password())
            }) {
                println!(
                    "(That command leaves out --url, which holds a password: it reads DATABASE_URL. Set it first.)"
                );
            }
        }
    } else if !dry_run {
        println!(
            "Next: on a database the old tool already migrated, import again with --env ENV (or --url) to record \
             what ran there, so `godwit up` runs only the rest."
        );
    }
    if dry_run {
        println!("Dry run: nothing was written or recorded.");
    }
    Ok(())
}

pub(super) async fn baseline_verb(ctx: &Ctx, version: Option<i64>, dry_run: bool, json: bool) -> Result<()> {
    let s = ctx.session()?;
    let confirm = if dry_run { None } else { ctx.typed(&Guard::for_history(&s.ws))? };
    let cancel = ctx.stop_on_signals();
    let out = ops::baseline(&s, version, dry_run, confirm.as_deref(), &cancel).await?;
    if json {
        print_json(Some(&s.ws), "baseline", &out);
        return Ok(());
    }
    let label = s.ws.confirm_name();
    let folder = s.ws.migrations.display();
    match (out.dry_run, out.written) {
        (true, true) => {
            println!("{}", out.sql.trim_end());
            println!(
                "\nWould write {folder}/{} ({} objects; run on a scratch database, it makes {label}'s schema exactly) \
                 and record it as applied there. Dry run: nothing was written or recorded.",
                out.file, out.objects
            );
        }
        (true, false) => println!(
            "{label}'s schema is what {} makes: would record it as applied there. Dry run: nothing was recorded.",
            out.file
        ),
        (false, true) => println!(
            "Wrote {folder}/{} from {label}'s schema ({} objects; run on a scratch database, it makes that schema \
             exactly) and recorded it as applied there. Commit it; `{} new` starts the next migration.",
            out.file, out.objects, ctx.again
        ),
        (false, false) => println!(
            "{label}'s schema is what {} makes: recorded it as applied there; `{} up` runs only what is newer.",
            out.file, ctx.again
        ),
    }
    if out.written {
        println!("It holds the schema only: a new database gets the tables, not their rows.");
    }
    Ok(())
}

/// Every environment of the project (or the one --url names), each with its password resolved or
/// why not.
pub(super) fn every_env(ctx: &Ctx) -> Result<Vec<(String, Result<ops::Session>)>> {
    Ok(match (&ctx.project, &ctx.cli.url) {
        (Some(p), None) => p
            .envs()
            .into_iter()
            .map(|e| {
                let session = p.workspace(Some(&e.name)).and_then(|ws| ctx.session_of(ws));
                (e.name, session)
            })
            .chain(ops::unread_fleets(p))
            .collect(),
        _ => {
            let s = ctx.session()?;
            vec![(s.ws.confirm_name(), Ok(s))]
        }
    })
}

pub(super) async fn squash_verb(ctx: &Ctx, req: &ops::SquashRequest, json: bool) -> Result<()> {
    use crate::migration::squash::EnvSquash;
    let s = ctx.session()?;
    let cancel = ctx.stop_on_signals();
    let out = ops::squash(&s, every_env(ctx)?, req, &cancel).await?;
    if json {
        print_json(Some(&s.ws), "squash", &out);
        return Ok(());
    }
    let list: Vec<String> = out.squashed.iter().map(i64::to_string).collect();
    if req.dry_run {
        println!("{}", out.sql.trim_end());
        println!();
    }
    let (write, rewrite) =
        if req.dry_run { ("Would replace", "would be rewritten") } else { ("Replaced", "rewritten") };
    if out.removed.is_empty() {
        println!("{} replaces {} (written before).", out.file, list.join(", "));
    } else {
        println!("{write} {} migration(s) ({}) with {}.", out.squashed.len(), list.join(", "), out.file);
    }
    for (name, state) in &out.envs {
        let what = match state {
            EnvSquash::Rewrite => format!("history {rewrite} (one transaction)"),
            EnvSquash::Fresh => "has none of them: runs the squashed file".into(),
            EnvSquash::Done => "already names the squashed file".into(),
            EnvSquash::Skipped => "skipped: its history still names the squashed migrations".into(),
        };
        println!("  {name}: {what}");
    }
    if !out.data.is_empty() {
        println!("! {} changed rows: the squashed file makes the schema only.", out.data.join(", "));
    }
    if req.dry_run {
        println!("Dry run: nothing was changed.");
    } else if !out.removed.is_empty() {
        println!("The removed files are in version control; commit the change.");
    }
    Ok(())
}

pub(super) async fn rebase_verb(ctx: &Ctx, dry_run: bool, skip: &[String], json: bool) -> Result<()> {
    let migrations = match (&ctx.project, &ctx.cli.url) {
        (Some(_), None) => ctx.source_dir()?,
        _ => ctx.session()?.ws.migrations.clone(),
    };
    let out = ops::rebase(&migrations, every_env(ctx)?, skip, dry_run).await?;
    if json {
        print_json(None, "rebase", &out);
        return Ok(());
    }
    if out.plan.renames.is_empty() && !out.plan.settled.is_empty() {
        println!(
            "Nothing to rebase: {} are sides of revision conflicts, each applied in an environment (checked {}), so \
             none can be renumbered: the order they ran in is history there. A new migration revises the newest.",
            out.plan.settled.join(", "),
            out.checked.join(", "),
        );
        for p in &out.settled_pending {
            let how = match p.out_of_order {
                false => "`up` applies them in version order".to_string(),
                true => "a newer migration is applied there, so only `up --allow-out-of-order` applies them".into(),
            };
            println!("  {}: {} pending; {how} (check that the order does not matter).", p.env, p.files.join(", "));
        }
        return Ok(());
    }
    if out.plan.renames.is_empty() {
        println!("Nothing to rebase: no pending migration is in a revision conflict or out of order.");
        return Ok(());
    }
    let verb = if dry_run { "Would rename" } else { "Renamed" };
    println!(
        "{verb} {} migration(s) to follow {} (checked {}{}):",
        out.plan.renames.len(),
        out.plan.after.map_or_else(|| "nothing".to_string(), |v| v.to_string()),
        if out.checked.is_empty() { "no environment".to_string() } else { out.checked.join(", ") },
        if out.skipped.is_empty() { String::new() } else { format!("; skipped {}", out.skipped.join(", ")) }
    );
    for r in &out.plan.renames {
        for (from, to) in r.from.iter().zip(&r.to) {
            println!("  {from} -> {to}");
        }
        println!("    ({})", r.why);
    }
    if dry_run {
        println!("Dry run: nothing was renamed.");
    } else {
        let relinked = out.plan.renames.iter().filter(|r| r.relinked).count();
        match relinked {
            0 => println!("Commit the renames."),
            n => println!("The `Revision ID:` and `Revises:` lines of {n} follow the new order. Commit the renames."),
        }
    }
    Ok(())
}

/// What the person agreed to run to read an Alembic project: with `--run-code`, what would run;
/// at a terminal, what they said yes to once shown it; otherwise nothing (and `ops` refuses).
fn code_consent(
    dir: &std::path::Path,
    python: Option<&std::path::Path>,
    against: Option<String>,
    env: &[String],
    given: bool,
) -> Result<Option<crate::import::CodeToRun>> {
    let code = crate::import::code_to_run(dir, python, against, env)?;
    if given {
        return Ok(Some(code));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    eprintln!("Reading this Alembic project runs its code as you, with your privileges:");
    eprintln!("  interpreter: {}", code.python);
    for f in &code.files {
        eprintln!("  runs: {f}");
    }
    if let Some(server) = &code.against {
        eprintln!(
            "  against: a scratch database made on {server}, with that server's login, and dropped afterwards \
             (--offline: no database)"
        );
    }
    if !code.env.is_empty() {
        eprintln!("  sees from your environment: {}", code.env.join(", "));
    }
    let answer = prompt("Run it? Only if you trust that code [y/N]: ")?;
    match answer.trim() {
        "y" | "Y" | "yes" => Ok(Some(code)),
        _ => Err(Error::new(crate::error::Problem::CodeNotAllowed, "nothing was run, written or recorded.")),
    }
}
