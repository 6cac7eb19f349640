//! The `godwit` command line: parse, call the core, print. Results go to stdout, progress and
//! errors to stderr; exit codes are the contract's (DESIGN.md).

mod args;
mod author;
mod backups;
mod change;
mod ctx;
mod database;
mod env;
mod fleet;
mod import;
mod lint;
mod progress;
mod schema;
mod shell;
mod show;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};
use serde::Serialize;

use crate::db::{self, ConnectOptions, Target};
use crate::error::{Error, Problem, Result};
use crate::event::Direction;
use crate::migration::guard::Guard;
use crate::migration::runner::{self, Cancel, RunReport, Work};
use crate::migration::source::Source;
use crate::ops;
use crate::project::{self, Project, Workspace};
use crate::secret;
use crate::template;
pub use args::Cli;
use args::*;
use author::*;
use change::*;
use ctx::*;
use database::*;
use env::*;
use import::*;
use lint::*;
use progress::{BackupProgress, Progress, bytes, ms};
use schema::*;
use show::*;
use std::collections::BTreeMap;

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    crate::secret::report_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let again = again(&cli);
    // A `--url` with a password is shown without it in the commands printed below.
    let hidden = cli.url.as_ref().is_some_and(|u| {
        !matches!(cli.verb, Verb::Env { .. } | Verb::Secret { .. })
            && Target::parse(u, &std::env::current_dir().unwrap_or_default()).is_ok_and(|t| t.has_password())
    });
    let shown = again.clone();
    let errors = cli.errors;
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GODWIT_LOG")
                .unwrap_or_else(|_| "warn".into())
                .add_directive(crate::db::UNLOGGED.parse().expect("a valid directive")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let json = cli.verb.json();
    let result = rt.block_on(run(cli, shown));
    let error_doc = |e: &Error| {
        let advice: Vec<String> = e.remedies.iter().map(|r| remedy(r, &again)).collect();
        serde_json::json!({
            "problem": e.problem,
            "kind": e.kind(),
            "exit_code": e.exit_code(),
            "message": e.message,
            "location": e.location,
            "remedies": e.remedies,
            "advice": advice,
        })
    };
    // Asked for JSON, a script reads stdout: a failure is a document there too.
    if let Err(e) = &result
        && json
        && !DOCUMENT_WRITTEN.load(std::sync::atomic::Ordering::SeqCst)
    {
        print_raw(&serde_json::json!({ "error": error_doc(e) }));
    }
    match result {
        Ok(()) => 0,
        Err(e) if errors == ErrorFormat::Json => {
            eprintln!("{}", error_doc(&e));
            e.exit_code()
        }
        Err(e) => {
            eprintln!("error: {}", e.message);
            for r in &e.remedies {
                eprintln!("{}", remedy(r, &again));
            }
            if hidden && !e.remedies.is_empty() {
                eprintln!(
                    "(These commands leave out --url, which holds a password: they read the URL from DATABASE_URL. \
                     Set it first, e.g. in a .env file here.)"
                );
            }
            e.exit_code()
        }
    }
}

/// Other tools' words for Godwit's verbs (Alembic's, Rails', a Makefile's), for the hint when one is
/// typed here.
const OTHER_WORDS: [(&str, &str); 10] = [
    ("migrate", "up"),
    ("upgrade", "up"),
    ("apply", "up"),
    ("rollback", "down"),
    ("downgrade", "down"),
    ("log", "history"),
    ("logs", "history"),
    ("current", "status"),
    ("heads", "status"),
    ("migrate-check", "check"),
];

/// Clap's refusal of the command line, with Godwit's verb when another tool's word was typed.
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::{ContextKind, ContextValue};
    let typed = match e.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let _ = e.print();
    if let Some((word, ours)) = typed.and_then(|t| OTHER_WORDS.iter().find(|(w, _)| *w == t)) {
        eprintln!("\nGodwit's word for `{word}` is `{ours}`: `godwit {ours} --help` says what it takes.");
    }
    e.exit_code()
}

async fn run(cli: Cli, again: String) -> Result<()> {
    let start = match &cli.project {
        Some(p) => p.clone(),
        None => std::env::current_dir().map_err(|e| Error::input(format!("no current folder: {e}")))?,
    };
    // Neither needs a project.
    match &cli.verb {
        Verb::Completions { shell } => return shell::completions(*shell),
        Verb::Manpages { dir } => return shell::manpages(dir),
        _ => {}
    }
    if let Verb::Init { migrations } = &cli.verb {
        let made = project::init(&start, migrations.as_deref(), cli.project.is_some(), cli.url.as_deref())?;
        let migrations = &made.migrations;
        let dev = if cli.url.is_some() { made.dev.clone() } else { "SQLite file dev.db".into() };
        println!("Created {} with a `dev` environment ({dev}).", made.config.display());
        if made.adopted > 0 {
            println!("Adopted {} existing migration(s) in {migrations}/.", made.adopted);
        }
        if made.ignored {
            println!("Added dev.db to .gitignore: a database file in git would change under its history.");
        }
        if made.problems > 0 {
            println!(
                "{} file(s) in {migrations}/ cannot be used as they are: `{again} check` lists them with their fixes.",
                made.problems
            );
        }
        println!("Next: `godwit new create_first_table`, then `godwit up`.");
        return Ok(());
    }
    let adhoc =
        cli.url.is_some() && cli.project.is_none() && !matches!(cli.verb, Verb::Env { .. } | Verb::Secret { .. });
    let project = if adhoc { None } else { Project::find_with(&start, cli.config.as_deref())? };
    if cli.project.is_some() && project.is_none() {
        return Err(Error::input(format!("no {} in {}", project::CONFIG_FILE, start.display())));
    }
    // sqlx.toml: the project's (or the file --config names); without a project, the current
    // folder's, as sqlx-cli reads it.
    let sqlx = match (&project, &cli.config) {
        (Some(p), _) => p.sqlx.clone(),
        (None, Some(file)) => Some(crate::sqlx_config::read(file)?),
        (None, None) => crate::sqlx_config::in_folder(&start)?,
    };
    let database_url = database_url(&start, sqlx.as_ref());
    let ctx = Ctx { cli, project, sqlx, database_url, again };
    if let Some(name) = ctx.cli.fleet.fleet.clone() {
        return fleet::fleet_verb(&ctx, &name).await;
    }
    match &ctx.cli.verb {
        Verb::Up { json: true, dry_run: false, .. } | Verb::Down { json: true, dry_run: false, .. } => {
            return Err(Error::input("--json shows a plan: add --dry-run (or, with --fleet, the fleet's report)"));
        }
        Verb::Secret { cmd: SecretCmd::Set { env: None, .. } } => {
            return Err(Error::input(
                "name the environment: `godwit secret set ENV` (or a fleet's, with --fleet NAME)",
            ));
        }
        _ => {}
    }
    match &ctx.cli.verb {
        Verb::Init { .. } | Verb::Completions { .. } | Verb::Manpages { .. } => unreachable!("handled above"),
        Verb::New { name: Some(name), from_schema: Some(file), allow_destructive, dry_run, .. } => {
            from_schema(&ctx, name, file.as_deref(), *allow_destructive, *dry_run).await
        }
        Verb::New { name: None, from_schema: Some(_), .. } => {
            Err(Error::input("name the migration to write from the schema file"))
        }
        Verb::New { name, reversible, simple, repeatable, template, params, dialect, .. } => {
            let shape = match (*repeatable, *reversible, *simple) {
                (true, ..) => Shape::Repeatable,
                (_, true, _) => Shape::Pair,
                (_, _, true) => Shape::Simple,
                _ => Shape::Default,
            };
            new_verb(&ctx, name.clone(), shape, template.as_deref(), params, dialect.dialect.as_deref())
        }
        Verb::Templates { json } => templates(&ctx, json.json),
        Verb::Env { cmd } => env_verb(&ctx, cmd).await,
        Verb::Db { cmd } => db_verb(&ctx, cmd).await,
        Verb::Backup => backups::backup_verb(&ctx).await,
        Verb::Backups { cmd: None, json } => backups::list(&ctx, json.json),
        Verb::Backups { cmd: Some(BackupsCmd::Verify { id, json: v }), json } => {
            backups::verify(&ctx, id.as_deref(), json.json || v.json).await
        }
        Verb::VerifyBackups { json } => backups::verify(&ctx, None, json.json).await,
        Verb::Restore { id } => backups::restore(&ctx, id.as_deref()).await,
        Verb::Secret { cmd } => secret_verb(&ctx, cmd),
        Verb::Placeholder { cmd } => placeholder_verb(&ctx, cmd),
        Verb::Up { to, dry_run, allow_out_of_order, backup, verify, json, plan, acknowledge_lint } => {
            let how = Preview { dry_run: *dry_run, json: *json, plan: plan.clone() };
            let first = BackupFirst { wanted: *backup, verify: *verify };
            up(&ctx, *to, how, *allow_out_of_order, first, *acknowledge_lint).await
        }
        Verb::Down { steps, to, dry_run, json } => {
            let work = Work::asked(Direction::Down, *to, *steps)?;
            down(&ctx, work, Preview { dry_run: *dry_run, json: *json, plan: None }).await
        }
        Verb::Redo { acknowledge_lint } => redo(&ctx, *acknowledge_lint).await,
        Verb::Status { all, json } => status_verb(&ctx, json.json, *all || !std::io::stdout().is_terminal()).await,
        Verb::History { limit, json } => history(&ctx, *limit, json.json).await,
        Verb::Show { version, json } => show_migration(&ctx, *version, json.json).await,
        Verb::Check { offline, schema, json } => check_verb(&ctx, *offline, *schema, json.json).await,
        Verb::Verify { from, seed, json } => verify(&ctx, *from, seed.as_deref(), json.json).await,
        Verb::Schema { format, json } => schema(&ctx, if json.json { SchemaFormat::Json } else { *format }).await,
        Verb::Lint { files, all, from, dialect, format, json, rules } => {
            let format = if json.json { LintFormat::Json } else { *format };
            let scope = match (files.is_empty(), *all) {
                (false, _) => LintScope::Files(files),
                (true, true) => LintScope::All(*from),
                (true, false) => LintScope::Pending,
            };
            lint_verb(&ctx, scope, dialect.as_deref(), format, *rules).await
        }
        Verb::Drift { json } => drift(&ctx, None, json.json).await,
        Verb::Diff { a, to_schema: Some(file), json, .. } => {
            to_schema(&ctx, a.as_deref(), file.as_deref(), json.json).await
        }
        Verb::Diff { a: Some(a), b: Some(b), json, verbose, .. } => diff(&ctx, a, b, json.json, *verbose).await,
        Verb::Diff { a, b: None, json, .. } => drift(&ctx, a.as_deref(), json.json).await,
        Verb::Diff { a: None, b: Some(_), .. } => Err(Error::input("name the environment to compare from")),
        Verb::Repair { version, reason, unchecked } => repair(&ctx, *version, reason.as_deref(), *unchecked).await,
        Verb::Squash { to, dry_run, skip, schema_only, json } => {
            let req = ops::SquashRequest { to: *to, dry_run: *dry_run, skip: skip.clone(), schema_only: *schema_only };
            squash_verb(&ctx, &req, json.json).await
        }
        Verb::Rebase { dry_run, skip, json } => rebase_verb(&ctx, *dry_run, skip, json.json).await,
        Verb::Baseline { version, dry_run, json } => baseline_verb(&ctx, *version, *dry_run, json.json).await,
        Verb::Import { tool, dir, dry_run, offline, python, run_code, pass_env, dialect, json } => {
            let how = import::How {
                dry_run: *dry_run,
                offline: *offline,
                python: python.as_deref(),
                run_code: *run_code,
                pass_env,
                json: json.json,
            };
            import_verb(&ctx, tool, dir, how, dialect.as_deref()).await
        }
        Verb::Resolve { version, applied, unchecked, .. } => {
            resolve(&ctx, ops::Resolving { version: *version, applied: *applied, unchecked: *unchecked }).await
        }
    }
}

/// `DATABASE_URL` from the person's environment (theirs: their own passwords may go with it), else
/// from a `.env` file in `dir` (a folder's: they may not). Only that one key is read, literally,
/// and nothing is exported: a `.env` from a cloned project must not reach the dump tools
/// (`LD_PRELOAD`, …), set anything else, or put the person's other variables (`${SECRET}`) into a URL.
/// Parent folders are not searched: a `.env` in a shared parent is anyone's.
///
/// sqlx.toml's `database-url-var` names another variable, as sqlx-cli reads it. The file may be a
/// stranger's, and the variable one of the person's secrets: its value is taken only when it is a
/// database URL, and never echoed; otherwise the refusal is kept for a verb that needs the URL.
fn database_url(dir: &std::path::Path, sqlx: Option<&crate::sqlx_config::SqlxConfig>) -> Option<DatabaseUrl> {
    let named = sqlx.and_then(|c| c.database_url_var.as_deref().map(|v| (v, c.path.as_path())));
    let var = named.map_or("DATABASE_URL", |(v, _)| v);
    let found = match std::env::var(var) {
        Ok(url) => Some(DatabaseUrl { url, theirs: true, refused: None }),
        Err(_) => std::fs::read_to_string(dir.join(".env")).ok().and_then(|text| {
            text.lines().find_map(|line| {
                let line = line.trim();
                let line = line.strip_prefix("export ").unwrap_or(line);
                let (key, value) = line.split_once('=')?;
                (key.trim() == var).then(|| DatabaseUrl {
                    url: dotenv_value(value.trim()),
                    theirs: false,
                    refused: None,
                })
            })
        }),
    };
    if let (Some(d), Some((var, file))) = (&found, named) {
        let scheme = d.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("postgres" | "postgresql" | "mysql" | "mariadb" | "sqlite")) {
            let why = format!(
                "{} says the database URL is in `{var}` (`[common] database-url-var`), and `{var}` does not hold a \
                 postgres://, mysql:// or sqlite:// URL; its value was not used or shown. Set `{var}` to the \
                 database's URL, or pass --url.",
                file.display()
            );
            return Some(DatabaseUrl { url: String::new(), theirs: false, refused: Some(why) });
        }
    }
    found
}

/// A `.env` value as written: quotes removed, an unquoted value's ` #` comment dropped, nothing
/// expanded.
fn dotenv_value(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return inner.to_string();
    }
    // A quoted value ends at its closing quote; a comment may follow it.
    if let Some(inner) = v.strip_prefix('"').and_then(|r| r.rsplit_once('"')).map(|(inner, _)| inner) {
        return inner.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    v.split(" #").next().unwrap_or_default().trim_end().to_string()
}

/// `godwit` with the flags that chose this project and database, for the commands printed as
/// remedies: pasted as printed, they act on the same environment (never with a password: a URL is
/// shown as `Target::display` shows it).
fn again(cli: &Cli) -> String {
    let mut s = String::from("godwit");
    if let Some(p) = &cli.project {
        s.push_str(&format!(" --project {}", shell_quote(&p.display().to_string())));
    }
    // For `env` and `secret`, --url is an environment's new URL, not the database worked on.
    if let Some(u) = cli.url.as_ref().filter(|_| !matches!(cli.verb, Verb::Env { .. } | Verb::Secret { .. })) {
        let cwd = std::env::current_dir().unwrap_or_default();
        // A URL with a password is left out (it must not be printed, and without it the command
        // would fail to log in): the printed commands then read DATABASE_URL, and say so.
        if let Some(t) = Target::parse(u, &cwd).ok().filter(|t| !t.has_password()) {
            s.push_str(&format!(" --url {}", shell_quote(&t.display())));
        }
    }
    if let Some(src) = &cli.source {
        s.push_str(&format!(" --source {}", shell_quote(&src.display().to_string())));
    }
    // `env test NAME` names its environment as an argument: a remedy must act on that one.
    let tested = match &cli.verb {
        Verb::Env { cmd: EnvCmd::Test { name: Some(n) } } => Some(n),
        Verb::Diff { a: Some(a), b: None, .. } => Some(a),
        _ => None,
    };
    if let Some(e) = tested.or(cli.env.as_ref()) {
        s.push_str(&format!(" --env {}", shell_quote(e)));
    }
    // A protected environment's name, as typed for this run: the remedy changes the same one, and
    // where there is no terminal to ask at it would refuse without it (commands that change nothing
    // ignore it).
    if let Some(c) = &cli.confirm {
        s.push_str(&format!(" --confirm {}", shell_quote(c)));
    }
    s
}

/// A remedy in the CLI's words: the command to type, as it can be pasted.
fn remedy(r: &crate::error::Remedy, godwit: &str) -> String {
    use crate::error::{Remedy, Resolution};
    match r {
        Remedy::TrustServer { env, .. } => format!(
            "To confirm the new server: `{godwit} --trust-host env test {env}` (connects, and binds the password to \
             it), or store the password again with `{godwit} secret set {env}`."
        ),
        Remedy::CreateProject { root, migrations, .. } => format!(
            "To make it a project: `godwit --project {} init --migrations {}`.",
            shell_quote(root),
            shell_quote(migrations)
        ),
        Remedy::NestedProject { root, migrations } => format!(
            "To make a second project there all the same: `godwit --project {} init{}`.",
            shell_quote(root),
            migrations.as_deref().map(|m| format!(" --migrations {}", shell_quote(m))).unwrap_or_default()
        ),
        Remedy::Resolve { version, outcomes, in_down } => {
            let each: Vec<String> = outcomes
                .iter()
                .map(|o| match (o, in_down) {
                    (Resolution::Applied, false) => {
                        format!("`{godwit} resolve {version} --applied` (you finished the migration)")
                    }
                    (Resolution::RolledBack, false) => {
                        format!("`{godwit} resolve {version} --rolled-back` (you undid it)")
                    }
                    (Resolution::RolledBack, true) => {
                        format!("`{godwit} resolve {version} --rolled-back` (you finished the rollback)")
                    }
                    (Resolution::Applied, true) => {
                        format!("`{godwit} resolve {version} --applied` (you put back what the down removed)")
                    }
                })
                .collect();
            format!("Once the database is fixed by hand: {}.", each.join(" or "))
        }
        Remedy::RepairUnchecked { version, reason } => format!(
            "To accept it all the same, on your word: `{godwit} repair {version} --reason {} --unchecked`.",
            shell_quote(reason)
        ),
        Remedy::ResolveUnchecked { version, outcome, .. } => format!(
            "To mark it all the same, on your word: `{godwit} resolve {version} {} --unchecked`.",
            match outcome {
                Resolution::Applied => "--applied",
                Resolution::RolledBack => "--rolled-back",
            }
        ),
        Remedy::Repair { version } => {
            format!("To accept the edit (it asks why, for the log): `{godwit} repair {version}`.")
        }
        Remedy::AllowOutOfOrder => format!("To apply them as they are: `{godwit} up --allow-out-of-order`."),
        Remedy::FixAndApply { file, kept } => format!(
            "Fix {file}, then apply again: `{godwit} up`{}.",
            match kept {
                0 => String::new(),
                n => format!(" (the {n} migration(s) applied before it stay applied)"),
            }
        ),
        Remedy::FixAndRollBack { file, kept, left, redo } => format!(
            "Fix {file}, then {}{}.",
            match (redo, left) {
                (true, _) => format!("redo again: `{godwit} redo`"),
                (false, 0 | 1) => format!("roll back again: `{godwit} down`"),
                (false, n) => format!("roll back the {n} left: `{godwit} down --steps {n}`"),
            },
            match kept {
                0 => String::new(),
                n => format!(" (the {n} migration(s) rolled back before it stay rolled back)"),
            }
        ),
        Remedy::Restore { backup } => format!("To bring the database back: `{godwit} restore {backup}`."),
        Remedy::SetPassword { env } => format!("To store the password: `{godwit} secret set {env}`."),
        Remedy::SetPlaceholder { env, name, secret } => format!(
            "To give {name} a value for `{env}`: `{godwit} placeholder set {env} {name}{}` (it asks for it).",
            if *secret { " --secret" } else { "" }
        ),
        Remedy::Confirm { name } => {
            format!("Where there is no terminal, name it: `{}`.", with_flag("--confirm", Some(&shell_quote(name))))
        }
        Remedy::AcknowledgeLint { files } => format!(
            "`{godwit} lint {}` shows them; once you have read them: `{}` (at a terminal, you are asked).",
            files.iter().map(|f| shell_quote(f)).collect::<Vec<_>>().join(" "),
            with_flag("--acknowledge-lint", None)
        ),
        Remedy::WaitForLock => format!("To wait longer (seconds): `{}`.", retry_with("--lock-timeout", 300)),
        Remedy::WaitForServer => format!("To wait longer (seconds): `{}`.", retry_with("--connect-timeout", 30)),
        Remedy::WaitLongerForLocks { waited_ms } => format!(
            "Run it again once the sessions in its way are done (it changed nothing), or let each statement wait \
             longer, holding up the queries queued behind it meanwhile: `{}`.",
            retry_with_duration("--lock-wait", *waited_ms)
        ),
        // How long it needs is not known: doubling may still be too short.
        Remedy::LongerStatementTimeout { ms } => format!(
            "It ran past {}. To let its statements run as long as they take: `{}` (or give a longer \
             --statement-timeout).",
            crate::migration::waits::short(std::time::Duration::from_millis(*ms)),
            retry_with_text("--statement-timeout", "off")
        ),
        Remedy::CreateDatabase => format!("To create it, empty: `{godwit} db create`."),
        Remedy::CreateEmpty => {
            "Without a template, `new` writes the files with an empty up, to fill in before `up`.".into()
        }
        Remedy::Preview => format!(
            "To save the plan as it is now: `{godwit} up --dry-run --json > plan.json`; once it is reviewed, \
             `{godwit} up --plan plan.json`."
        ),
        Remedy::Backups => format!("`{godwit} backups` lists the backups; `{godwit} backup` makes one."),
        Remedy::Status => format!("`{godwit} status` lists the migrations and their versions."),
        Remedy::RemoveEnv { env } => format!("`{godwit} env remove {env}` removes it (and its stored password)."),
        Remedy::ImportProject { root, tool, from, migrations } => format!(
            "To bring it in: `godwit --project {} init --migrations {}`, then `godwit --project {} import {} {}`.",
            shell_quote(root),
            shell_quote(migrations),
            shell_quote(root),
            tool.key(),
            shell_quote(from)
        ),
        Remedy::Rebase => format!(
            "To renumber the pending ones after the newest: `{godwit} rebase --dry-run` shows the renames, \
             `{godwit} rebase` does them."
        ),
        Remedy::RunCode { .. } => {
            "Once you have read that code and trust it, add `--run-code` to the command (or run it at a terminal, \
             which asks)."
                .into()
        }
        Remedy::GiveParam { names } => {
            let mut command = typed(None).0;
            command.extend(names.iter().map(|n| format!("--param {n}=VALUE")));
            format!("To give them (each VALUE replaced): `{}`.", command.join(" "))
        }
        Remedy::PassEnv => "If the project's code reads its settings from your environment, let it see each \
                            variable it needs: add `--pass-env NAME` to the command, once per variable."
            .into(),
        Remedy::AllowAmbient { env } => format!(
            "To let `{env}` use your own PGPASSWORD and ~/.pgpass (only do this if you trust its server): \
             `{godwit} secret ambient {env}`."
        ),
        Remedy::SquashSchemaOnly { to } => {
            format!("To squash the schema without them: `{godwit} squash --to {to} --schema-only`.")
        }
        Remedy::SkipEnv { env, squash_to } => {
            let verb = squash_to.map_or_else(|| "rebase".to_string(), |to| format!("squash --to {to}"));
            format!("If you know {env} has none of them applied: `{godwit} {verb} --skip {}`.", shell_quote(env))
        }
    }
}

/// The command as it was typed, with `flag` (and its value) added once at its end.
fn with_flag(flag: &str, value: Option<&str>) -> String {
    let mut out = match value {
        Some(_) => typed(Some(flag)).0,
        // A switch takes no value: only its own word is left out.
        None => typed(None).0.into_iter().filter(|a| a != flag).collect(),
    };
    out.push(value.map_or_else(|| flag.to_string(), |v| format!("{flag} {v}")));
    out.join(" ")
}

/// The command as it was typed, with `flag` set to `value` (an earlier value of it left out) and any
/// URL shown without its password: pasted, it runs the same thing, waiting longer.
fn retry_with(flag: &str, at_least: u64) -> String {
    let (mut out, given) = typed(Some(flag));
    // Longer than what was waited: twice the value given, at least `at_least`.
    let value = given.iter().fold(at_least, |v, g| v.max(g.parse::<u64>().unwrap_or(0).saturating_mul(2)));
    out.push(format!("{flag} {value}"));
    out.join(" ")
}

/// The command as it was typed with `flag` set to `value`.
fn retry_with_text(flag: &str, value: &str) -> String {
    let (mut out, _) = typed(Some(flag));
    out.push(format!("{flag} {value}"));
    out.join(" ")
}

/// The command as it was typed with `flag` set to twice `ms` (or what was typed, twice).
fn retry_with_duration(flag: &str, ms: u64) -> String {
    let (mut out, given) = typed(Some(flag));
    let was = given
        .iter()
        .filter_map(|g| match crate::migration::waits::Setting::parse(flag, g) {
            Ok(crate::migration::waits::Setting::Limit(d)) => Some(d.as_millis() as u64),
            _ => None,
        })
        .fold(ms, u64::max);
    let doubled = std::time::Duration::from_millis(was.saturating_mul(2));
    out.push(format!("{flag} {}", crate::migration::waits::short(doubled)));
    out.join(" ")
}

/// The command as it was typed, quoted for a shell, without `flag` (its values returned apart); a
/// URL is shown without its password, and one that holds a password is left out, as `again` leaves
/// it out (the command then reads DATABASE_URL).
fn typed(flag: Option<&str>) -> (Vec<String>, Vec<String>) {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut out = vec!["godwit".to_string()];
    let mut values = Vec::new();
    let mut args = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = args.next() {
        let given = match flag {
            Some(f) if a == f => args.next(),
            Some(f) => a.strip_prefix(&format!("{f}=")).map(str::to_string),
            None => None,
        };
        if let Some(v) = given {
            values.push(v);
            continue;
        }
        let url = match a.strip_prefix("--url=") {
            Some(u) => Some(u.to_string()),
            None if a == "--url" => args.next(),
            None => None,
        };
        if let Some(u) = url {
            if let Ok(t) = Target::parse(&u, &cwd)
                && !t.has_password()
            {
                out.push(format!("--url {}", shell_quote(&t.display())));
            }
            continue;
        }
        out.push(shell_quote(&a));
    }
    // An environment chosen by GODWIT_ENV is named: pasted where it is not set, the command would
    // change the default environment instead.
    let named = std::env::args_os().skip(1).any(|a| {
        let a = a.to_string_lossy();
        a == "--env" || a.starts_with("--env=") || (a.starts_with("-e") && !a.starts_with("--"))
    });
    if let Some(env) = std::env::var("GODWIT_ENV").ok().filter(|e| !e.is_empty() && !named) {
        out.insert(1, format!("--env {}", shell_quote(&env)));
    }
    (out, values)
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Whether this process has written its JSON document: an error after it is not written again.
static DOCUMENT_WRITTEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Every `--json` document is one object (the README's "JSON output"). A document about one
/// environment names it (`env`, `database`, `dialect`, `dialect_name`); a list goes under `key`.
fn print_json(about: Option<&Workspace>, key: &str, v: &impl Serialize) {
    let value = serde_json::to_value(v).expect("serializable");
    let mut doc = serde_json::Map::new();
    if let Some(w) = about {
        doc.insert("env".into(), serde_json::json!(w.env));
        doc.insert("database".into(), serde_json::json!(w.target.display()));
        doc.insert("dialect".into(), serde_json::json!(w.target.dialect()));
        doc.insert("dialect_name".into(), serde_json::json!(w.target.dialect().name()));
    }
    match value {
        // The document's own fields win: a report may name its database more exactly.
        serde_json::Value::Object(fields) => doc.extend(fields),
        other => {
            doc.insert(key.into(), other);
        }
    }
    print_raw(&doc);
}

/// A document in a format of its own (SARIF), written as it is.
fn print_raw(v: &impl Serialize) {
    DOCUMENT_WRITTEN.store(true, std::sync::atomic::Ordering::SeqCst);
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

fn prompt(question: &str) -> Result<String> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| Error::input(format!("cannot read the answer: {e}")))?;
    Ok(line.trim().to_string())
}
