//! Rules over a migration as a whole, on every database: a down that does not undo what its up
//! creates, an empty down, schema changes mixed with data backfills. Statements are read with
//! `sqlparser` one by one; one it cannot read is left out here (the dialect's rules report it), so
//! these rules never guess.

use sqlparser::ast::{AlterTableOperation, ObjectName, ObjectType, SetExpr, Statement};
use sqlparser::dialect::{self, Dialect as SqlDialect};
use sqlparser::parser::Parser;

use super::{Raw, Severity};
use crate::syntax::Dialect;
use crate::syntax::split::{self, Statement as Piece};

pub(super) const RULES: &[&str] =
    &["down-does-not-undo", "empty-down", "mixed-ddl-and-data", "unparseable", "unknown-ignore", super::UNSPLITTABLE];

pub(super) fn sql_dialect(d: Dialect) -> Box<dyn SqlDialect> {
    match d {
        Dialect::Postgres => Box::new(dialect::PostgreSqlDialect {}),
        Dialect::MySql => Box::new(dialect::MySqlDialect {}),
        Dialect::Sqlite => Box::new(dialect::SQLiteDialect {}),
    }
}

/// One statement, parsed; `None` when sqlparser cannot read it.
pub(super) fn parse_one(sql: &str, d: Dialect) -> Option<Statement> {
    let mut v = Parser::parse_sql(sql_dialect(d).as_ref(), sql).ok()?;
    (v.len() == 1).then(|| v.remove(0))
}

/// An object's name as it is compared: lower case, with its schema when the statement gives one
/// (`audit.users` and `users` are not taken for the same table).
pub(super) fn name(n: &ObjectName) -> String {
    let parts: Vec<String> =
        n.0.iter().map(|p| p.to_string().trim_matches(['"', '`', '[', ']']).to_lowercase()).collect();
    parts[parts.len().saturating_sub(2)..].join(".")
}

/// The table a `CREATE TABLE` names, read from its first words: for the statements `sqlparser`
/// cannot read (MariaDB's `WITH SYSTEM VERSIONING`, PostgreSQL's `LIKE … INCLUDING ALL`, …), so
/// that the table still counts as new.
fn created_by_words(sql: &str) -> Option<String> {
    let words: Vec<&str> = crate::syntax::words::words(sql).into_iter().take(9).collect();
    let mut i = 0;
    let next =
        |i: &mut usize, w: &str| words.get(*i).is_some_and(|x| x.eq_ignore_ascii_case(w)).then(|| *i += 1).is_some();
    if !next(&mut i, "create") {
        return None;
    }
    for opt in ["or", "replace", "temporary", "temp", "unlogged"] {
        next(&mut i, opt);
    }
    if !next(&mut i, "table") {
        return None;
    }
    if next(&mut i, "if") {
        next(&mut i, "not");
        next(&mut i, "exists");
    }
    let raw = words.get(i)?.split('(').next()?;
    let parts: Vec<String> =
        raw.split('.').map(|p| p.trim_matches(['"', '`', '[', ']']).to_lowercase()).filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts[parts.len().saturating_sub(2)..].join("."))
}

/// The table a statement changes (ALTER TABLE, CREATE INDEX, DROP TABLE, …).
pub(super) fn target_table(sql: &str, d: Dialect) -> Option<String> {
    match parse_one(sql, d)? {
        Statement::AlterTable(a) => Some(name(&a.name)),
        Statement::CreateIndex(i) => Some(name(&i.table_name)),
        Statement::Drop { object_type: ObjectType::Table, names, .. } => names.first().map(name),
        _ => None,
    }
}

/// The tables the statements create, with each creating statement's offset.
pub(super) fn created_tables(statements: &[Piece<'_>], d: Dialect) -> Vec<(usize, String)> {
    created_in(&parsed(statements, d))
}

/// The tables statements already parsed create, with each creating statement's offset.
fn created_in(parsed: &[(&Piece<'_>, Option<Statement>)]) -> Vec<(usize, String)> {
    parsed
        .iter()
        .filter_map(|(p, s)| match s {
            Some(Statement::CreateTable(t)) => Some((p.offset, name(&t.name))),
            Some(_) => None,
            None => created_by_words(p.sql).map(|n| (p.offset, n)),
        })
        .collect()
}

/// What an up creates, that its down must take away.
#[derive(Debug, PartialEq, Eq)]
enum Made {
    Table(String),
    Index { name: String, table: String, columns: Vec<String> },
    Column { table: String, column: String },
    Object { kind: ObjectType, name: String },
    Function(String),
    Extension(String),
}

fn made(s: &Statement) -> Vec<Made> {
    match s {
        // IF NOT EXISTS and OR REPLACE may meet an object that was there before: the down must not
        // be told to drop it.
        Statement::CreateTable(t) if !t.if_not_exists && !t.or_replace => vec![Made::Table(name(&t.name))],
        Statement::CreateIndex(i) if !i.if_not_exists => match &i.name {
            Some(n) => vec![Made::Index {
                name: name(n),
                table: name(&i.table_name),
                columns: i.columns.iter().map(|c| c.column.expr.to_string().to_lowercase()).collect(),
            }],
            None => Vec::new(),
        },
        Statement::AlterTable(a) => a
            .operations
            .iter()
            .filter_map(|op| match op {
                AlterTableOperation::AddColumn { column_def, .. } => {
                    Some(Made::Column { table: name(&a.name), column: column_def.name.value.to_lowercase() })
                }
                _ => None,
            })
            .collect(),
        Statement::CreateView(v) if !v.or_replace && !v.if_not_exists => {
            let kind = if v.materialized { ObjectType::MaterializedView } else { ObjectType::View };
            vec![Made::Object { kind, name: name(&v.name) }]
        }
        Statement::CreateType { name: n, .. } => vec![Made::Object { kind: ObjectType::Type, name: name(n) }],
        Statement::CreateSequence { name: n, .. } => vec![Made::Object { kind: ObjectType::Sequence, name: name(n) }],
        Statement::CreateFunction(f) if !f.or_replace => vec![Made::Function(name(&f.name))],
        Statement::CreateExtension(e) if !e.if_not_exists => vec![Made::Extension(e.name.value.to_lowercase())],
        _ => Vec::new(),
    }
}

/// Whether the down's statements take `m` away.
fn undone(m: &Made, down: &[Statement]) -> bool {
    let drops = |kind: ObjectType, n: &str| {
        down.iter().any(|s| {
            matches!(s, Statement::Drop { object_type, names, .. } if *object_type == kind && names.iter().any(|x| name(x) == n))
        })
    };
    match m {
        Made::Table(t) => drops(ObjectType::Table, t),
        Made::Index { name: i, table, columns } => {
            drops(ObjectType::Index, i)
                || drops(ObjectType::Table, table)
                || down.iter().any(|s| match s {
                    // MySQL's `ALTER TABLE t DROP INDEX i`, or the index's column dropped with it.
                    Statement::AlterTable(a) if name(&a.name) == *table => a.operations.iter().any(|op| match op {
                        AlterTableOperation::DropIndex { name: n } => n.value.to_lowercase() == *i,
                        AlterTableOperation::DropColumn { column_names, .. } => {
                            column_names.iter().any(|c| columns.contains(&c.value.to_lowercase()))
                        }
                        _ => false,
                    }),
                    _ => false,
                })
        }
        Made::Column { table, column } => {
            drops(ObjectType::Table, table)
                || down.iter().any(|s| match s {
                    Statement::AlterTable(a) if name(&a.name) == *table => a.operations.iter().any(|op| {
                        matches!(op, AlterTableOperation::DropColumn { column_names, .. }
                            if column_names.iter().any(|c| c.value.to_lowercase() == *column))
                    }),
                    _ => false,
                })
        }
        Made::Object { kind, name: n } => drops(*kind, n),
        Made::Function(f) => down.iter().any(|s| match s {
            Statement::DropFunction(d) => d.func_desc.iter().any(|x| name(&x.name) == *f),
            _ => false,
        }),
        Made::Extension(e) => down.iter().any(|s| match s {
            Statement::DropExtension(d) => d.names.iter().any(|x| x.value.to_lowercase() == *e),
            _ => false,
        }),
    }
}

fn describe(m: &Made, d: Dialect) -> (String, String) {
    match m {
        Made::Table(t) => (format!("table {t}"), format!("DROP TABLE {t};")),
        Made::Index { name, table, .. } if d == Dialect::MySql => {
            (format!("index {name}"), format!("DROP INDEX {name} ON {table};"))
        }
        Made::Index { name, .. } => (format!("index {name}"), format!("DROP INDEX {name};")),
        Made::Column { table, column } => {
            (format!("column {table}.{column}"), format!("ALTER TABLE {table} DROP COLUMN {column};"))
        }
        Made::Object { kind, name } => {
            (format!("{} {name}", kind.to_string().to_lowercase()), format!("DROP {kind} {name};"))
        }
        Made::Function(f) => (format!("function {f}"), format!("DROP FUNCTION {f};")),
        Made::Extension(e) => (format!("extension {e}"), format!("DROP EXTENSION {e};")),
    }
}

fn is_ddl(s: &Statement) -> bool {
    matches!(
        s,
        Statement::CreateTable(_)
            | Statement::CreateIndex(_)
            | Statement::AlterTable(_)
            | Statement::Drop { .. }
            | Statement::CreateView(_)
            | Statement::CreateType { .. }
    )
}

/// An UPDATE, a DELETE, or an INSERT … SELECT into a table that was there before: rows changed by a
/// query, not a few listed ones (filling a table the same migration creates locks nothing in use).
fn is_backfill(s: &Statement, created: &[String]) -> bool {
    match s {
        Statement::Update(_) | Statement::Delete(_) => true,
        Statement::Insert(i) => {
            let into_new = matches!(&i.table, sqlparser::ast::TableObject::TableName(n) if created.contains(&name(n)));
            !into_new && i.source.as_ref().is_some_and(|q| !matches!(*q.body, SetExpr::Values(_)))
        }
        _ => false,
    }
}

fn parsed<'a>(pieces: &'a [Piece<'a>], d: Dialect) -> Vec<(&'a Piece<'a>, Option<Statement>)> {
    pieces.iter().map(|p| (p, parse_one(p.sql, d))).collect()
}

/// The whole-migration rules for one up (and its down, for a reversible migration).
pub(super) fn migration(up: &str, down: Option<&str>, d: Dialect, reversible: bool) -> Vec<Raw> {
    let mut out = Vec::new();
    let Ok(up_pieces) = split::split(up, d) else { return out };
    let ups = parsed(&up_pieces, d);
    let created: Vec<String> = created_in(&ups).into_iter().map(|(_, n)| n).collect();

    if let Some(first) = ups.iter().find(|(_, s)| s.as_ref().is_some_and(|s| is_backfill(s, &created)))
        && ups.iter().any(|(_, s)| s.as_ref().is_some_and(is_ddl))
    {
        // Only PostgreSQL and SQLite hold DDL in the migration's transaction; MySQL commits each.
        let one_tx = d != Dialect::MySql && !crate::migration::source::no_transaction(up);
        let message = match one_tx {
            true => {
                "this migration changes the schema and rewrites rows in one transaction: the locks its DDL takes \
                     are held while every row is updated"
            }
            false => {
                "this migration changes the schema and rewrites rows: if the backfill fails, the schema change \
                      stays without its data"
            }
        };
        out.push(Raw {
            rule: "mixed-ddl-and-data".into(),
            severity: Severity::Warning,
            offset: first.0.offset,
            message: message.into(),
            advice: "move the backfill into a migration of its own (in batches on a large table)".into(),
            table: None,
        });
    }

    let (Some(down), true) = (down, reversible) else { return out };
    let Ok(down_pieces) = split::split(down, d) else { return out };
    if down_pieces.is_empty() && !up_pieces.is_empty() {
        out.push(Raw {
            rule: "empty-down".into(),
            severity: Severity::Warning,
            offset: up_pieces[0].offset,
            message: "the down file has no statements: rolling this migration back changes nothing".into(),
            advice: "write the statements that undo the up in the down file, or make the migration simple \
                     (one file) if it cannot be undone"
                .into(),
            table: None,
        });
        return out;
    }
    let downs: Vec<Statement> = match parsed(&down_pieces, d).into_iter().map(|(_, s)| s).collect::<Option<Vec<_>>>() {
        Some(v) => v,
        // A down statement it cannot read might be the one that undoes it: no guessing.
        None => return out,
    };
    let tables_made = created;
    // What the up itself drops or renames away (a table rebuild's `_new` table) is not the down's.
    let gone: Vec<String> = ups
        .iter()
        .filter_map(|(_, s)| s.as_ref())
        .flat_map(|s| match s {
            Statement::Drop { object_type: ObjectType::Table, names, .. } => names.iter().map(name).collect(),
            Statement::AlterTable(a)
                if a.operations.iter().any(|op| matches!(op, AlterTableOperation::RenameTable { .. })) =>
            {
                vec![name(&a.name)]
            }
            _ => Vec::new(),
        })
        .collect();
    // Objects the up drops before it makes them again: replaced, so the down has the old one to
    // put back, not a new one to remove.
    let mut dropped: Vec<(ObjectType, String)> = Vec::new();
    for (piece, s) in &ups {
        let Some(s) = s else { continue };
        if let Statement::Drop { object_type, names, .. } = s {
            dropped.extend(names.iter().map(|n| (*object_type, name(n))));
        }
        for m in made(s) {
            if matches!(&m, Made::Table(t) | Made::Index { table: t, .. } | Made::Column { table: t, .. } if gone.contains(t))
            {
                continue;
            }
            if matches!(&m, Made::Object { kind, name } if dropped.contains(&(*kind, name.clone()))) {
                continue;
            }
            // An index or a column on a table this up creates goes with the table.
            let with_table = match &m {
                Made::Index { table, .. } | Made::Column { table, .. } => tables_made.contains(table),
                _ => false,
            };
            if with_table || undone(&m, &downs) {
                continue;
            }
            let (what, fix) = describe(&m, d);
            out.push(Raw {
                rule: "down-does-not-undo".into(),
                severity: Severity::Warning,
                offset: piece.offset,
                message: format!("the up creates {what}; the down does not remove it"),
                advice: format!("add `{fix}` to the down (verifying proves a down on a scratch database)"),
                table: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(up: &str, down: &str, d: Dialect) -> Vec<String> {
        migration(up, Some(down), d, true).into_iter().map(|r| r.rule).collect()
    }

    #[test]
    fn a_down_that_forgets_what_the_up_made_is_found_and_a_good_one_is_not() {
        let up = "CREATE TABLE a (id INT);\nCREATE INDEX a_id ON a (id);\nALTER TABLE b ADD COLUMN c INT;\nCREATE INDEX b_c ON b (c);";
        // Dropping the column takes its index with it.
        assert!(rules(up, "DROP TABLE a;\nALTER TABLE b DROP COLUMN c;", Dialect::Postgres).is_empty());
        let on_old = "CREATE INDEX b_d ON b (d);";
        assert_eq!(rules(on_old, "SELECT 1;", Dialect::Postgres), vec!["down-does-not-undo".to_string()]);
        assert!(
            rules(up, "DROP INDEX b_c;\nDROP TABLE a;\nALTER TABLE b DROP COLUMN c;", Dialect::Postgres).is_empty()
        );
        assert_eq!(rules(up, "DROP TABLE a;", Dialect::Sqlite).len(), 2);
    }

    #[test]
    fn an_empty_down_and_a_backfill_beside_ddl_are_found() {
        assert_eq!(rules("CREATE TABLE a (id INT);", "-- nothing\n", Dialect::MySql), vec!["empty-down"]);
        let up = "ALTER TABLE a ADD COLUMN b INT;\nUPDATE a SET b = id;";
        assert!(
            rules(up, "ALTER TABLE a DROP COLUMN b;", Dialect::Postgres).contains(&"mixed-ddl-and-data".to_string())
        );
        let seed = "CREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);";
        assert!(rules(seed, "DROP TABLE a;", Dialect::Postgres).is_empty());
    }

    #[test]
    fn what_may_have_been_there_before_or_leaves_with_the_up_is_not_asked_of_the_down() {
        let pg = Dialect::Postgres;
        // A view dropped and made again is replaced: the down puts the old one back.
        assert!(
            rules("DROP VIEW v;\nCREATE VIEW v AS SELECT 2;", "DROP VIEW v;\nCREATE VIEW v AS SELECT 1;", pg)
                .is_empty()
        );
        // OR REPLACE and IF NOT EXISTS may meet an object that was there already.
        assert!(rules("CREATE OR REPLACE VIEW v AS SELECT 1;", "CREATE OR REPLACE VIEW v AS SELECT 2;", pg).is_empty());
        assert!(rules("CREATE EXTENSION IF NOT EXISTS pgcrypto;", "SELECT 1;", pg).is_empty());
        // An index goes with the column the down drops.
        let up = "ALTER TABLE u ADD COLUMN n text;\nCREATE INDEX u_n ON u (n);";
        assert!(rules(up, "ALTER TABLE u DROP COLUMN n;", pg).is_empty());
        // A SQLite rebuild: the new table is renamed away, and filling it is not a backfill.
        let rebuild = "CREATE TABLE p_new (id INTEGER PRIMARY KEY);\nINSERT INTO p_new (id) SELECT id FROM p;\n\
                       DROP TABLE p;\nALTER TABLE p_new RENAME TO p;";
        assert!(
            rules(rebuild, "SELECT 1;", Dialect::Sqlite).is_empty(),
            "{:?}",
            rules(rebuild, "SELECT 1;", Dialect::Sqlite)
        );
        // MySQL's DROP INDEX names its table; ALTER TABLE … DROP INDEX undoes it too.
        let my = migration("CREATE INDEX u_n ON u (n);", Some("SELECT 1;"), Dialect::MySql, true);
        assert!(my[0].advice.contains("DROP INDEX u_n ON u;"), "{}", my[0].advice);
        assert!(rules("CREATE INDEX u_n ON u (n);", "ALTER TABLE u DROP INDEX u_n;", Dialect::MySql).is_empty());
        // A schema is part of the name.
        let m = migration("CREATE TABLE billing.invoices (id int);", Some("SELECT 1;"), pg, true);
        assert!(m[0].advice.contains("DROP TABLE billing.invoices;"));
    }

    #[test]
    fn a_down_it_cannot_read_is_not_guessed_at() {
        assert!(rules("CREATE TABLE a (id INT);", "DROP TABLE a WITH SOMETHING ODD ((;", Dialect::Postgres).is_empty());
    }
}
