//! `godwit lint`: the core's findings, worded for a terminal, or as JSON or SARIF.

use super::*;
use crate::lint::{LintReport, Severity};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LintFormat {
    Text,
    Json,
    Sarif,
}

pub(super) async fn lint_verb(
    ctx: &Ctx,
    files: &[PathBuf],
    all: bool,
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
    let config = ops::lint_config(ctx.project.as_ref())?;
    let root = ctx.project.as_ref().map(|p| p.root.clone()).unwrap_or_else(|| PathBuf::from("."));
    let report = if !files.is_empty() {
        ops::lint_files(files, ctx.dialect(dialect)?, &config)?
    } else if all || dialect.is_some() {
        ops::lint_all(&ctx.source_dir()?, &root, ctx.dialect(dialect)?, &config)?
    } else {
        ops::lint_pending(&ctx.session()?, &root).await?
    };
    match format {
        LintFormat::Json => print_json(&report),
        LintFormat::Sarif => print_json(&crate::lint::to_sarif(&report)),
        LintFormat::Text => print_findings(&report, !files.is_empty() || all || dialect.is_some()),
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
    let what = if offline { "file(s)" } else { "pending file(s)" };
    match report.findings.len() {
        0 => println!("{} {what} read as {}: nothing to report.", report.files, report.dialect),
        n => println!(
            "{n} finding(s) ({} error, {} warning, {} hint) in {} {what}, read as {}. Silence one with \
             `-- godwit:lint-ignore RULE reason` above its statement.",
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Hint),
            report.files,
            report.dialect
        ),
    }
}
