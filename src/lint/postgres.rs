//! PostgreSQL: Squawk's rules (`squawk-linter`, from the Squawk project) over its own parser, told
//! whether the file runs in a transaction, with Godwit's severities and its knowledge of which
//! tables are new.

use squawk_linter::{Linter, Rule};
use squawk_syntax::SourceFile;
use squawk_syntax::ast::{self, AstNode};

use super::{Input, Raw, Severity};
use crate::syntax::Dialect;

pub(super) fn known(name: &str) -> bool {
    Rule::try_from(name).is_ok()
}

/// Squawk's rules as Godwit runs them (its defaults).
pub(super) fn rules() -> Vec<String> {
    Linter::with_default_rules().rules.iter().map(|r| r.to_string()).collect()
}

pub(super) fn lint(input: &Input<'_>) -> Vec<Raw> {
    let parse = SourceFile::parse(input.sql);
    let mut linter = Linter::with_default_rules();
    linter.settings.assume_in_transaction = input.in_transaction;
    let mut out: Vec<Raw> = Vec::new();
    for e in parse.errors() {
        out.push(Raw {
            rule: "unparseable".into(),
            severity: Severity::Warning,
            offset: usize::from(e.range().start()),
            message: format!("Squawk's parser cannot read this statement ({}); it was not linted", e.message()),
            advice: "check the statement runs (a dry run shows it); if it does, silence this with \
                     `-- godwit:lint-ignore unparseable`"
                .into(),
            table: None,
        });
    }
    let violations = linter.lint(&parse, input.sql);
    // Squawk lets a lone CONCURRENTLY statement pass (its tools run those outside a transaction);
    // Godwit runs every file without `-- no-transaction` in one, where it fails.
    if input.in_transaction && !violations.iter().any(|v| v.code == Rule::BanConcurrentIndexCreationInTransaction) {
        for stmt in parse.tree().stmts() {
            let concurrently = match &stmt {
                ast::Stmt::CreateIndex(c) => c.concurrently_token(),
                ast::Stmt::DropIndex(d) => d.concurrently_token(),
                _ => None,
            };
            if concurrently.is_some() {
                out.push(Raw {
                    rule: Rule::BanConcurrentIndexCreationInTransaction.to_string(),
                    severity: Severity::Error,
                    offset: usize::from(stmt.syntax().text_range().start()),
                    message: "CONCURRENTLY cannot run inside a transaction, and this file runs in one".into(),
                    advice: advice(Rule::BanConcurrentIndexCreationInTransaction).unwrap_or_default().into(),
                    table: None,
                });
            }
        }
    }
    // The tables the file's statements change: a timeout protects the queries queued behind a lock
    // on one of them, so a file that changes none (or only tables new in the set) needs none. Read
    // only when Squawk asks for a timeout.
    let timeouts = |r: Rule| matches!(r, Rule::RequireLockTimeout | Rule::RequireStatementTimeout);
    let touched: Vec<String> = match violations.iter().any(|v| timeouts(v.code)) {
        false => Vec::new(),
        true => {
            let made = super::whole::created_tables(input.statements, Dialect::Postgres);
            input
                .statements
                .iter()
                .filter_map(|s| super::whole::target_table(s.sql, Dialect::Postgres))
                .filter(|t| !made.iter().any(|(_, m)| m == t))
                .collect()
        }
    };
    for v in violations {
        let severity = severity(v.code);
        // A down undoes its up: only what stops it from running is reported there.
        if input.down && severity != Severity::Error {
            continue;
        }
        let offset = usize::from(v.text_range.start());
        let advice = advice(v.code)
            .map(str::to_string)
            .or(v.help)
            .unwrap_or_else(|| format!("see https://squawkhq.com/docs/{}", v.code));
        let mut message = v.message;
        if v.code == Rule::BanDropSchema && statement_at(input, offset).is_some_and(cascades) {
            message = "DROP SCHEMA … CASCADE drops every table in the schema with its rows, and every view, \
                       function and type in it, for good"
                .into();
        }
        if timeouts(v.code) {
            // One for each table changed; those on new tables are dropped, the rest are one finding.
            for t in &touched {
                let (rule, message, advice) = (v.code.to_string(), message.clone(), advice.clone());
                out.push(Raw { rule, severity, offset, message, advice, table: Some(t.clone()) });
            }
            continue;
        }
        let table = locks_table(v.code).then(|| statement_table(input, offset)).flatten();
        out.push(Raw { rule: v.code.to_string(), severity, offset, message, advice, table });
    }
    out
}

fn statement_at<'a>(input: &'a Input<'_>, offset: usize) -> Option<&'a str> {
    input.statements.iter().rev().find(|s| s.offset <= offset).map(|s| s.sql)
}

fn cascades(sql: &str) -> bool {
    crate::syntax::words::words(sql).iter().any(|w| w.eq_ignore_ascii_case("cascade"))
}

/// The table the statement at `offset` changes.
fn statement_table(input: &Input<'_>, offset: usize) -> Option<String> {
    super::whole::target_table(statement_at(input, offset)?, Dialect::Postgres)
}

fn severity(rule: Rule) -> Severity {
    match rule {
        // It cannot run as written, or it fails on any table with rows.
        Rule::BanConcurrentIndexCreationInTransaction
        | Rule::TransactionNesting
        | Rule::BanUncommittedTransaction
        | Rule::BanDropDatabase
        | Rule::AddingRequiredField => Severity::Error,
        Rule::PreferBigintOverInt
        | Rule::PreferBigintOverSmallint
        | Rule::PreferIdentity
        | Rule::PreferTextField
        | Rule::PreferTimestampTz
        | Rule::PreferRobustStmts
        | Rule::PreferRepack
        | Rule::BanCharField
        | Rule::RequireLockTimeout
        | Rule::RequireStatementTimeout
        | Rule::RequireTableSchema
        | Rule::UnusedIgnore => Severity::Hint,
        _ => Severity::Warning,
    }
}

/// Rules about locking or rewriting a table people are using: moot for a table created earlier in
/// the same set of migrations, which nothing uses yet.
fn locks_table(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::RequireConcurrentIndexCreation
            | Rule::ConstraintMissingNotValid
            | Rule::AddingFieldWithDefault
            | Rule::AddingForeignKeyConstraint
            | Rule::ChangingColumnType
            | Rule::AddingNotNullableField
            | Rule::AddingSerialPrimaryKeyField
            | Rule::AddingRequiredField
            | Rule::DisallowedUniqueConstraint
            | Rule::RenamingColumn
            | Rule::RenamingTable
            | Rule::BanDropColumn
            | Rule::BanDropNotNull
            | Rule::BanDropTable
            | Rule::RequireLockTimeout
            | Rule::RequireStatementTimeout
    )
}

/// Godwit's advice where it knows the migration runs in a transaction it opens itself.
fn advice(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::BanConcurrentIndexCreationInTransaction => {
            "put this statement in a migration of its own whose first line is `-- no-transaction`"
        }
        Rule::TransactionNesting => {
            "Godwit runs each migration in a transaction already: remove BEGIN/COMMIT, or make the file \
             `-- no-transaction` if it manages its own"
        }
        Rule::RequireConcurrentIndexCreation => {
            "use CREATE INDEX CONCURRENTLY, in a migration of its own whose first line is `-- no-transaction`"
        }
        Rule::AddingRequiredField => {
            "add the column nullable (or with a default), backfill it, then SET NOT NULL in a later migration"
        }
        Rule::BanDropColumn => "stop the application reading the column first, then drop it in a later release",
        Rule::BanDropSchema => "back up first, and drop the tables by name so a review sees each one",
        Rule::BanDropTable => {
            "stop the application using the table, back up first, and drop it in a \
             later release"
        }
        Rule::RenamingColumn => "add the new column, write both, move readers over, then drop the old one",
        Rule::RenamingTable => "create a view with the old name while the application moves over",
        Rule::ChangingColumnType => {
            "most type changes rewrite the table under an ACCESS EXCLUSIVE lock: add a new column, backfill it in \
             batches, move readers over, then drop the old one"
        }
        Rule::AddingForeignKeyConstraint | Rule::ConstraintMissingNotValid => {
            "add the constraint NOT VALID here, and VALIDATE CONSTRAINT in a later migration (it does not block \
             writes)"
        }
        Rule::AddingFieldWithDefault => {
            "a volatile default rewrites the table: add the column without it, set the default, then backfill in \
             batches"
        }
        Rule::AddingNotNullableField => {
            "add CHECK (column IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT NULL (no \
             table scan on PostgreSQL 12 and later)"
        }
        Rule::DisallowedUniqueConstraint => {
            "CREATE UNIQUE INDEX CONCURRENTLY in a `-- no-transaction` migration, then ADD CONSTRAINT … UNIQUE USING \
             INDEX"
        }
        Rule::AddingSerialPrimaryKeyField => {
            "build a unique index CONCURRENTLY first, then ADD PRIMARY KEY USING INDEX"
        }
        Rule::BanDropNotNull => "make sure no running code relies on the column never being NULL",
        Rule::RequireStatementTimeout => {
            "start the migration with `SET statement_timeout = '…';`, sized for it, so a runaway statement stops"
        }
        Rule::PreferRobustStmts => {
            "use IF NOT EXISTS / IF EXISTS, so that running the file again after it stopped part way succeeds"
        }
        Rule::RequireLockTimeout => {
            "give the environment a `lock_wait` (`lock_wait = \"2s\"` in godwit.toml, or `--lock-wait 2s`), or start \
             the migration with `SET lock_timeout = '2s';`, so it gives up instead of queueing every query behind it \
             (with `lock_wait`, Godwit also tries it again)"
        }
        _ => return None,
    })
}
