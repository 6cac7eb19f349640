//! A change to a table that a view reads: MariaDB and MySQL keep the view, which then no longer
//! reads (and `mariadb-dump` cannot back the database up until it is fixed); PostgreSQL refuses the
//! drop, or drops the view with `CASCADE`; SQLite refuses to drop a column a view reads, and keeps
//! a view whose table is dropped. The views are those the earlier migrations make, followed through
//! the files linted in their order.

use std::collections::{BTreeMap, BTreeSet};

use sqlparser::ast::{AlterTableOperation, DropBehavior, ObjectName, ObjectType, RenameTableNameKind, Statement};
use sqlparser::tokenizer::{Token, Tokenizer};

use super::whole::{parse_one, sql_dialect};
use super::{Raw, Severity};
use crate::syntax::Dialect;
use crate::syntax::{split, words};

pub(super) const RULE: &str = "breaks-view";

/// What a view reads, as far as its query's words tell.
#[derive(Debug, Clone)]
struct View {
    tables: BTreeSet<String>,
    words: BTreeSet<String>,
    /// `SELECT *` (or `t.*`): the server fixed its columns when the view was made, every one.
    star: bool,
}

/// The views made so far, by name (lower case, without a schema).
#[derive(Debug, Clone, Default)]
pub(crate) struct Views(BTreeMap<String, View>);

/// A change to a table, as it touches views.
enum Change {
    DropColumn { table: String, column: String, cascade: bool },
    RenameColumn { table: String, column: String },
    DropTable { table: String, cascade: bool },
    RenameTable { table: String },
}

impl Views {
    /// The views an applied (or earlier) file leaves, without linting it.
    pub(crate) fn follow(&mut self, sql: &str, d: Dialect) {
        if let Ok(pieces) = split::split(sql, d) {
            for p in &pieces {
                let _ = self.read(p.sql, d);
            }
        }
    }

    /// Reads a statement that makes or drops views: the views it names, `None` when it is not one.
    fn read(&mut self, sql: &str, d: Dialect) -> Option<Vec<String>> {
        // Most statements are neither: told by their first words, without reading them whole.
        let first = words::leading(sql, 24);
        if !first.iter().any(|w| w == "VIEW") {
            return None;
        }
        if let Some((name, view)) = created_view(sql, d) {
            self.0.insert(name.clone(), view);
            return Some(vec![name]);
        }
        match parse_one(sql, d) {
            Some(Statement::Drop { object_type: ObjectType::View | ObjectType::MaterializedView, names, .. }) => {
                let names: Vec<String> = names.iter().map(last).collect();
                for n in &names {
                    self.0.remove(n);
                }
                Some(names)
            }
            _ => None,
        }
    }

    /// One up's findings, its views then followed. A view it re-creates or drops after the change
    /// that broke it is mended in the same file: no finding (where the change itself succeeds).
    pub(super) fn lint(&mut self, sql: &str, d: Dialect) -> Vec<Raw> {
        let Ok(pieces) = split::split(sql, d) else { return Vec::new() };
        let mut out: Vec<(String, bool, Raw)> = Vec::new();
        for p in &pieces {
            if let Some(named) = self.read(p.sql, d) {
                out.retain(|(view, mendable, _)| !(*mendable && named.contains(view)));
                continue;
            }
            for change in changes(p.sql, d) {
                out.extend(self.findings(&change, d, p.offset));
                self.after(&change);
            }
        }
        out.into_iter().map(|(_, _, r)| r).collect()
    }

    /// For each view a change breaks: its name, whether re-creating it later in the file mends it,
    /// and the finding.
    fn findings(&self, change: &Change, d: Dialect, offset: usize) -> Vec<(String, bool, Raw)> {
        let (table, column) = match change {
            Change::DropColumn { table, column, .. } | Change::RenameColumn { table, column } => (table, Some(column)),
            Change::DropTable { table, .. } | Change::RenameTable { table } => (table, None),
        };
        let what = match column {
            Some(c) => format!("{table}.{c}"),
            None => format!("table {table}"),
        };
        let mut out = Vec::new();
        for (name, v) in &self.0 {
            let reads = v.tables.contains(table) && column.is_none_or(|c| v.star || v.words.contains(c));
            if !reads {
                continue;
            }
            let Some((severity, fixable, effect)) = effect(change, d) else { continue };
            out.push((
                name.clone(),
                fixable,
                Raw {
                    rule: RULE.into(),
                    severity,
                    offset,
                    message: format!("view {name} reads {what}: {effect}"),
                    advice: format!(
                        "drop the view first and make it again after (DROP VIEW {name}; … CREATE VIEW {name} AS …), \
                         without what is gone, in this migration"
                    ),
                    table: None,
                },
            ));
        }
        out
    }

    /// The views after a change: a dropped table's views are gone on PostgreSQL with CASCADE, and
    /// a renamed table's or column's views follow it where the database rewrites them.
    fn after(&mut self, change: &Change) {
        match change {
            Change::DropTable { table, cascade: true } => self.0.retain(|_, v| !v.tables.contains(table)),
            Change::DropColumn { table, column, cascade: true } => {
                self.0.retain(|_, v| !(v.tables.contains(table) && (v.star || v.words.contains(column))))
            }
            _ => {}
        }
    }
}

/// What a change does to a view that reads it, on each database: the severity, whether re-making
/// the view later in the same file mends it, and the words. `None`: the database keeps it working.
fn effect(change: &Change, d: Dialect) -> Option<(Severity, bool, &'static str)> {
    const BROKEN: &str = "the view stays but no longer reads, and mariadb-dump cannot back the database up (so no \
                          protected run can start) until the view is made again or dropped";
    Some(match (d, change) {
        (Dialect::MySql, _) => (Severity::Error, true, BROKEN),
        (Dialect::Postgres, Change::DropColumn { cascade: false, .. } | Change::DropTable { cascade: false, .. }) => {
            (Severity::Error, false, "PostgreSQL refuses to drop what a view reads, so the migration fails")
        }
        (Dialect::Postgres, Change::DropColumn { .. } | Change::DropTable { .. }) => {
            (Severity::Warning, false, "CASCADE drops the view with it")
        }
        (Dialect::Sqlite, Change::DropColumn { .. }) => {
            (Severity::Error, false, "SQLite refuses to drop a column a view reads, so the migration fails")
        }
        (Dialect::Sqlite, Change::DropTable { .. }) => (
            Severity::Warning,
            true,
            "SQLite keeps the view, which no longer reads (and every later ALTER TABLE … RENAME fails on it)",
        ),
        // PostgreSQL and SQLite rewrite the view to follow a rename.
        (Dialect::Postgres | Dialect::Sqlite, Change::RenameColumn { .. } | Change::RenameTable { .. }) => return None,
    })
}

/// A name as views are matched: its last part, lower case, unquoted.
fn last(n: &ObjectName) -> String {
    n.0.last().map(|p| p.to_string().trim_matches(['"', '`', '[', ']']).to_lowercase()).unwrap_or_default()
}

/// What a statement changes about tables that views may read.
fn changes(sql: &str, d: Dialect) -> Vec<Change> {
    if !words::leading(sql, 1).first().is_some_and(|w| ["ALTER", "DROP", "RENAME"].contains(&w.as_str())) {
        return Vec::new();
    }
    let Some(statement) = parse_one(sql, d) else { return Vec::new() };
    let cascade_of = |b: &Option<DropBehavior>| matches!(b, Some(DropBehavior::Cascade));
    match statement {
        Statement::AlterTable(a) => {
            let table = last(&a.name);
            a.operations
                .iter()
                .flat_map(|op| match op {
                    AlterTableOperation::DropColumn { column_names, drop_behavior, .. } => column_names
                        .iter()
                        .map(|c| Change::DropColumn {
                            table: table.clone(),
                            column: c.value.to_lowercase(),
                            cascade: cascade_of(drop_behavior),
                        })
                        .collect(),
                    AlterTableOperation::RenameColumn { old_column_name, new_column_name }
                        if old_column_name.value.to_lowercase() != new_column_name.value.to_lowercase() =>
                    {
                        vec![Change::RenameColumn {
                            table: table.clone(),
                            column: old_column_name.value.to_lowercase(),
                        }]
                    }
                    AlterTableOperation::ChangeColumn { old_name, new_name, .. }
                        if old_name.value.to_lowercase() != new_name.value.to_lowercase() =>
                    {
                        vec![Change::RenameColumn { table: table.clone(), column: old_name.value.to_lowercase() }]
                    }
                    AlterTableOperation::RenameTable {
                        table_name: RenameTableNameKind::To(_) | RenameTableNameKind::As(_),
                    } => vec![Change::RenameTable { table: table.clone() }],
                    _ => Vec::new(),
                })
                .collect()
        }
        Statement::Drop { object_type: ObjectType::Table, names, cascade, .. } => {
            names.iter().map(|n| Change::DropTable { table: last(n), cascade }).collect()
        }
        Statement::RenameTable(renames) => {
            renames.iter().map(|r| Change::RenameTable { table: last(&r.old_name) }).collect()
        }
        _ => Vec::new(),
    }
}

/// A `CREATE [OR REPLACE] … VIEW name … AS query` read from its tokens (MariaDB's `ALGORITHM=` and
/// `DEFINER=` included, which `sqlparser` does not read): its name and what the query reads.
fn created_view(sql: &str, d: Dialect) -> Option<(String, View)> {
    let tokens: Vec<Token> = Tokenizer::new(sql_dialect(d).as_ref(), sql)
        .tokenize()
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let is =
        |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    if !tokens.first().is_some_and(|t| is(t, "create")) {
        return None;
    }
    // The word VIEW among the options before the name; any other object's word first: not a view.
    let mut i = 1;
    while i < tokens.len().min(24) && !is(&tokens[i], "view") {
        if ["table", "index", "function", "procedure", "trigger", "event", "schema", "database", "sequence", "type"]
            .iter()
            .any(|w| is(&tokens[i], w))
        {
            return None;
        }
        i += 1;
    }
    if !tokens.get(i).is_some_and(|t| is(t, "view")) {
        return None;
    }
    i += 1;
    if tokens.get(i).is_some_and(|t| is(t, "if")) {
        i += 3;
    }
    // The name: words joined by periods, the last part kept.
    let mut name = None;
    while let Some(Token::Word(w)) = tokens.get(i) {
        name = Some(w.value.to_lowercase());
        i += 1;
        if tokens.get(i) != Some(&Token::Period) {
            break;
        }
        i += 1;
    }
    let name = name?;
    // The query: after the first AS outside the column list.
    let mut depth = 0i32;
    while let Some(t) = tokens.get(i) {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            t if depth == 0 && is(t, "as") => break,
            _ => {}
        }
        i += 1;
    }
    let body = tokens.get(i + 1..)?;
    let mut view = View { tables: BTreeSet::new(), words: BTreeSet::new(), star: false };
    // In a FROM list (at its depth) a comma starts another table.
    let mut from_at: Vec<i32> = Vec::new();
    let mut depth = 0i32;
    let mut prev: Option<&Token> = None;
    let mut k = 0;
    while k < body.len() {
        let t = &body[k];
        match t {
            Token::LParen => depth += 1,
            Token::RParen => {
                from_at.retain(|d| *d < depth);
                depth -= 1;
            }
            Token::Mul
                if matches!(prev, Some(Token::Comma | Token::Period)) || prev.is_some_and(|p| is(p, "select")) =>
            {
                view.star = true
            }
            Token::Word(w) => {
                let starts_table = is(t, "from") || is(t, "join");
                if is(t, "from") && !from_at.contains(&depth) {
                    from_at.push(depth);
                } else if !starts_table
                    && ["where", "group", "order", "having", "limit", "union", "window"].iter().any(|x| is(t, x))
                {
                    from_at.retain(|d| *d != depth);
                }
                let follows_comma = matches!(prev, Some(Token::Comma)) && from_at.contains(&depth);
                if starts_table || follows_comma {
                    // The table's name: its words joined by periods (the last part kept).
                    let mut j = if starts_table { k + 1 } else { k };
                    let mut table = None;
                    while let Some(Token::Word(n)) = body.get(j) {
                        table = Some(n.value.to_lowercase());
                        if body.get(j + 1) != Some(&Token::Period) {
                            break;
                        }
                        j += 2;
                    }
                    if let Some(t) = table {
                        view.tables.insert(t);
                    }
                }
                view.words.insert(w.value.to_lowercase());
            }
            _ => {}
        }
        prev = Some(t);
        k += 1;
    }
    Some((name, view))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(before: &[&str], up: &str, d: Dialect) -> Vec<(Severity, String)> {
        let mut views = Views::default();
        for sql in before {
            views.follow(sql, d);
        }
        views.lint(up, d).into_iter().map(|r| (r.severity, r.message)).collect()
    }

    const VIEW: &str = "CREATE TABLE items (id INT, name TEXT, price INT);\n\
                        CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v_items` AS \
                        SELECT i.id, i.name FROM `items` i WHERE i.id > 0;";

    #[test]
    fn a_dropped_or_renamed_column_a_view_reads_breaks_it_on_mariadb() {
        let d = Dialect::MySql;
        let found = lint(&[VIEW], "ALTER TABLE items DROP COLUMN name;", d);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Severity::Error);
        assert!(found[0].1.starts_with("view v_items reads items.name"), "{}", found[0].1);
        assert_eq!(lint(&[VIEW], "ALTER TABLE items CHANGE name title TEXT;", d).len(), 1);
        assert_eq!(lint(&[VIEW], "RENAME TABLE items TO goods;", d).len(), 1);
        // A column the view does not read, a view dropped first, or re-made after: nothing.
        assert!(lint(&[VIEW], "ALTER TABLE items DROP COLUMN price;", d).is_empty());
        assert!(lint(&[VIEW], "DROP VIEW v_items;\nALTER TABLE items DROP COLUMN name;", d).is_empty());
        let remade = "ALTER TABLE items DROP COLUMN name;\nCREATE OR REPLACE VIEW v_items AS SELECT id FROM items;";
        assert!(lint(&[VIEW], remade, d).is_empty());
        // A view dropped by a later migration is gone for the ones after it.
        assert!(lint(&[VIEW, "DROP VIEW IF EXISTS v_items;"], "ALTER TABLE items DROP name;", d).is_empty());
    }

    #[test]
    fn select_star_fixes_every_column_and_joins_name_each_table() {
        let d = Dialect::MySql;
        let star = "CREATE VIEW v AS SELECT * FROM items;";
        assert_eq!(lint(&[star], "ALTER TABLE items DROP COLUMN price;", d).len(), 1);
        let joined = "CREATE VIEW v AS SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id, \
                      extras x;";
        assert_eq!(lint(&[joined], "ALTER TABLE customers DROP COLUMN email;", d).len(), 1);
        assert_eq!(lint(&[joined], "DROP TABLE extras;", d).len(), 1);
        assert!(lint(&[joined], "ALTER TABLE customers DROP COLUMN phone;", d).is_empty());
        assert!(lint(&[joined], "DROP TABLE other;", d).is_empty());
    }

    #[test]
    fn postgres_refuses_or_cascades_and_sqlite_refuses_or_keeps_a_broken_view() {
        let view = "CREATE VIEW v_items AS SELECT id, name FROM public.items;";
        let pg = lint(&[view], "ALTER TABLE items DROP COLUMN name;", Dialect::Postgres);
        assert_eq!(pg.iter().map(|f| f.0).collect::<Vec<_>>(), [Severity::Error]);
        let pg = lint(&[view], "DROP TABLE items CASCADE;", Dialect::Postgres);
        assert_eq!(pg.iter().map(|f| f.0).collect::<Vec<_>>(), [Severity::Warning]);
        assert!(lint(&[view], "ALTER TABLE items RENAME COLUMN name TO title;", Dialect::Postgres).is_empty());
        let lite = "CREATE VIEW v_items AS SELECT id, name FROM items;";
        assert_eq!(lint(&[lite], "ALTER TABLE items DROP COLUMN name;", Dialect::Sqlite)[0].0, Severity::Error);
        assert_eq!(lint(&[lite], "DROP TABLE items;", Dialect::Sqlite)[0].0, Severity::Warning);
        assert!(lint(&[lite], "ALTER TABLE items RENAME TO goods;", Dialect::Sqlite).is_empty());
    }
}
