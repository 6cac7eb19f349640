//! `godwit lint`: the core's findings, worded for a terminal, or as JSON or SARIF.

use super::*;
use crate::lint::{LintReport, Severity};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LintFormat {
    Text,
    Json,
    Sarif,
}

/// What `lint` reads.
pub(super) enum LintScope<'a> {
    Files(&'a [PathBuf]),
    /// The whole folder, from a version on.
    All(Option<i64>),
    Pending,
}

pub(super) async fn lint_verb(
    ctx: &Ctx,
    scope: LintScope<'_>,
    dialect: Option<&str>,
    format: LintFormat,
    rules: bool,
) -> Result<()> {
    if rules {
        for (rule, dbs) in crate::lint::rules() {
            println!("{rule:<48} {dbs}");
        }
        return Ok(());
    }
    let root = ctx.project.as_ref().map(|p| p.root.clone()).unwrap_or_else(|| PathBuf::from("."));
    let offline = !matches!(scope, LintScope::Pending);
    // The pending migrations are read through a session, which carries the project's settings.
    let config = || ops::lint_config(ctx.project.as_ref());
    let report = match scope {
        LintScope::Files(files) => {
            // The project's folder (or --source), for the views its migrations make.
            ops::lint_files(files, ctx.source_dir().ok().as_deref(), ctx.dialect(dialect)?, &config()?)?
        }
        LintScope::All(from) => {
            let (dir, repeatable) = (ctx.source_dir()?, ctx.repeatable_dir()?);
            ops::lint_all(&dir, &repeatable, &root, from, ctx.dialect(dialect)?, &config()?)?
        }
        LintScope::Pending if dialect.is_some() => {
            return Err(Error::input(
                "--dialect is for --all and named files; the pending migrations are read as the environment's \
                 database. Add --all to read the whole folder without a database.",
            ));
        }
        LintScope::Pending => ops::lint_pending(&ctx.session()?, &root).await?,
    };
    // Pending migrations are an environment's; files and --all are read without one.
    let about = if offline { None } else { ctx.workspace().ok() };
    match format {
        LintFormat::Json => print_json(about.as_ref(), "lint", &report),
        LintFormat::Sarif => print_raw(&crate::lint::to_sarif(&report)),
        LintFormat::Text => print_findings(&report, offline),
    }
    match report.errors() {
        0 => Ok(()),
        n => Err(Error::failed(format!("{n} error-level lint finding(s)"))),
    }
}

fn print_findings(report: &LintReport, offline: bool) {
    for f in &report.findings {
        println!("{}:{}:{}: {} [{}]", f.file, f.line, f.column, f.severity.as_str(), f.rule);
        println!("    {}", f.message);
        if !f.advice.is_empty() {
            println!("    instead: {}", f.advice);
        }
    }
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let what = if offline { "file(s)" } else { "file(s) of the pending migrations (ups and downs)" };
    match report.findings.len() {
        0 => println!("{} {what} read as {}: nothing to report.", report.files, report.dialect_name),
        n => println!(
            "{n} finding(s) ({} error, {} warning, {} hint) in {} {what}, read as {}. Silence one with \
             `-- godwit:lint-ignore RULE reason` above its statement.",
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Hint),
            report.files,
            report.dialect_name
        ),
    }
}
