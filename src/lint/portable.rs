//! MySQL/MariaDB and SQLite: Godwit's rules over `sqlparser`, statement by statement. The rule ids
//! are Squawk's where the risk is the same one (`ban-drop-column`, `renaming-table`, …).

use sqlparser::ast::{
    AlterColumnOperation, AlterTableAlgorithm, AlterTableLock, AlterTableOperation, ColumnDef, ColumnOption, Expr,
    RenameTableNameKind, Statement, TableConstraint,
};

use super::whole::{name, parse_one};
use super::{Input, Raw, Severity};
use crate::syntax::Dialect;

pub(super) const RULES: &[&str] = &[
    "adding-required-field",
    "changing-column-type",
    "ban-drop-column",
    "ban-drop-table",
    "renaming-column",
    "renaming-table",
    "foreign-key-without-index",
    "sqlite-unsupported-alter",
    "mysql-ddl-not-transactional",
    "mysql-table-rebuild",
    "ban-truncate",
    "ban-drop-database",
    "mysql-drop-index-needs-table",
    "mysql-partial-index",
    "sqlite-drop-index-on-table",
    "postgres-only",
];

struct Out<'a> {
    dialect: Dialect,
    offset: usize,
    raws: &'a mut Vec<Raw>,
}

impl Out<'_> {
    fn push(&mut self, rule: &'static str, severity: Severity, table: Option<&str>, message: String, advice: &str) {
        self.raws.push(Raw {
            rule: rule.into(),
            severity,
            offset: self.offset,
            message,
            advice: advice.into(),
            table: table.map(str::to_string),
        });
    }
}

/// The PostgreSQL-only statement a statement is, told by its first words: what the other databases
/// refuse outright (sqlparser reads some of them in every dialect).
fn postgres_only(sql: &str) -> Option<&'static str> {
    let w = crate::syntax::words::leading(sql, 4);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["CREATE", "INDEX", "CONCURRENTLY", ..] | ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"] => {
            Some("CREATE INDEX CONCURRENTLY")
        }
        ["DROP", "INDEX", "CONCURRENTLY", ..] => Some("DROP INDEX CONCURRENTLY"),
        ["REINDEX", ..] => Some("REINDEX"),
        ["CREATE", "EXTENSION", ..] => Some("CREATE EXTENSION"),
        _ => None,
    }
}

/// The indexes a file's statements create, as (table, first column): a foreign key's column is
/// covered by one, in the same file or another of the migrations linted together.
pub(super) fn indexes(sql: &str, dialect: Dialect) -> Vec<(String, String)> {
    let Ok(statements) = crate::syntax::split::split(sql, dialect) else { return Vec::new() };
    let parsed: Vec<_> = statements.iter().map(|s| (s, parse_one(s.sql, dialect))).collect();
    indexes_in(&parsed)
}

fn indexes_in(parsed: &[(&crate::syntax::split::Statement<'_>, Option<Statement>)]) -> Vec<(String, String)> {
    let mut indexed: Vec<(String, String)> = Vec::new();
    for (_, s) in parsed {
        match s {
            Some(Statement::CreateIndex(i)) => {
                if let Some(c) = i.columns.first().and_then(|c| column_of(&c.column.expr)) {
                    indexed.push((name(&i.table_name), c));
                }
            }
            Some(Statement::CreateTable(t)) => {
                indexed.extend(key_columns(&t.columns, &t.constraints).map(|c| (name(&t.name), c)))
            }
            _ => {}
        }
    }
    // A table renamed in the file (a rebuild's `posts_new` to `posts`) has the indexes made on its new name.
    for (_, s) in parsed {
        if let Some(Statement::AlterTable(a)) = s {
            for op in &a.operations {
                if let AlterTableOperation::RenameTable {
                    table_name: RenameTableNameKind::To(to) | RenameTableNameKind::As(to),
                } = op
                {
                    let (from, to) = (name(&a.name), name(to));
                    let more: Vec<_> =
                        indexed.iter().filter(|(t, _)| *t == to).map(|(_, c)| (from.clone(), c.clone())).collect();
                    indexed.extend(more);
                }
            }
        }
    }
    indexed
}

pub(super) fn lint(input: &Input<'_>, dialect: Dialect) -> Vec<Raw> {
    let mut raws = Vec::new();
    let parsed: Vec<_> = input.statements.iter().map(|s| (s, parse_one(s.sql, dialect))).collect();
    let mut indexed = indexes_in(&parsed);
    indexed.extend_from_slice(input.indexed_elsewhere);
    let mut ddl = 0;
    for (piece, s) in &parsed {
        let mut out = Out { dialect, offset: piece.offset, raws: &mut raws };
        if let Some(what) = postgres_only(piece.sql) {
            out.push(
                "postgres-only",
                Severity::Error,
                None,
                format!("{what} is PostgreSQL's: {} cannot run it, so the migration fails here", dialect.name()),
                "write what this database runs instead (CREATE INDEX without CONCURRENTLY, for one), or keep the \
                 statement to a project whose environments are all PostgreSQL",
            );
            continue;
        }
        let Some(s) = s else {
            if !input.down {
                out.push(
                    "unparseable",
                    Severity::Hint,
                    None,
                    "Godwit's SQL parser (sqlparser) cannot read this statement; it was not linted".into(),
                    "check the statement runs (a dry run shows it); if it does, silence this with \
                     `-- godwit:lint-ignore unparseable`",
                );
            }
            continue;
        };
        if matches!(
            s,
            Statement::CreateTable(_) | Statement::AlterTable(_) | Statement::CreateIndex(_) | Statement::Drop { .. }
        ) {
            ddl += 1;
            if ddl == 2 && dialect == Dialect::MySql && !input.down {
                out.push(
                    "mysql-ddl-not-transactional",
                    Severity::Hint,
                    None,
                    "MySQL commits each schema change at once: if a later statement fails, the ones before it stay \
                     applied and the migration is marked failed"
                        .into(),
                    "one schema change per migration makes a failure leave nothing half done",
                );
            }
        }
        match s {
            Statement::AlterTable(a) => alter(&mut out, &name(&a.name), &a.operations, input.down),
            Statement::CreateTable(t) if !input.down => {
                foreign_keys(&mut out, &name(&t.name), &t.columns, &t.constraints, &indexed);
            }
            Statement::Truncate(t) if !input.down => {
                let tables: Vec<String> = t.table_names.iter().map(|n| name(&n.name)).collect();
                out.push(
                    "ban-truncate",
                    Severity::Warning,
                    tables.first().map(String::as_str),
                    format!("TRUNCATE empties {} for good: a down cannot bring the rows back", tables.join(", ")),
                    "back up first, or delete in batches where the rows matter",
                );
            }
            Statement::Drop { object_type: sqlparser::ast::ObjectType::Table, names, .. } if !input.down => {
                for n in names {
                    let t = name(n);
                    out.push(
                        "ban-drop-table",
                        Severity::Warning,
                        Some(&t),
                        format!("dropping table {t} loses its rows, and the application may still read it"),
                        "stop the application using it, back up first, and drop it in a \
                         later release",
                    );
                }
            }
            // MySQL's form: SQLite names indexes schema-wide and refuses `ON table`.
            Statement::Drop { object_type: sqlparser::ast::ObjectType::Index, table: Some(_), .. }
                if dialect == Dialect::Sqlite =>
            {
                out.push(
                    "sqlite-drop-index-on-table",
                    Severity::Error,
                    None,
                    "SQLite's DROP INDEX takes no `ON table` (that is MySQL's form): this statement fails".into(),
                    "write `DROP INDEX name`; where MySQL runs the same file, give MySQL its own down in the \
                     migrations folder's mysql/ folder",
                )
            }
            // MySQL has no partial indexes: the statement fails there.
            Statement::CreateIndex(i) if dialect == Dialect::MySql && i.predicate.is_some() => out.push(
                "mysql-partial-index",
                Severity::Error,
                // Fails on a table made in the same set too: not a lock finding to drop there.
                None,
                "MySQL has no partial indexes (CREATE INDEX … WHERE): this statement fails".into(),
                "index the whole column (an up runs on every environment), or keep partial indexes to projects whose \
                 environments are all PostgreSQL or SQLite",
            ),
            // MySQL names an index within its table: without `ON table` the statement fails (in a
            // down too, where it would stop a rollback).
            Statement::Drop { object_type: sqlparser::ast::ObjectType::Index, names, table: None, .. }
                if dialect == Dialect::MySql =>
            {
                for n in names {
                    out.push(
                        "mysql-drop-index-needs-table",
                        Severity::Error,
                        None,
                        format!("MySQL cannot drop index {} without its table: this statement fails", name(n)),
                        if input.down {
                            "write `DROP INDEX name ON table`; where another database runs the same file, give \
                             MySQL its own down in the migrations folder's mysql/ folder"
                        } else {
                            "write `DROP INDEX name ON table`. An up runs on every environment and SQLite refuses \
                             `ON table`: a project with both has no one statement for this, so drop the index \
                             with its table (or a rebuild of it)"
                        },
                    );
                }
            }
            // On MySQL a schema is a database: every table in it goes, with its rows.
            Statement::Drop {
                object_type: sqlparser::ast::ObjectType::Schema | sqlparser::ast::ObjectType::Database,
                names,
                ..
            } if !input.down && dialect == Dialect::MySql => {
                for n in names {
                    out.push(
                        "ban-drop-database",
                        Severity::Error,
                        None,
                        format!("this drops the database {} and every table in it, with their rows, for good", name(n)),
                        "back up first, and drop the tables by name so a review sees each one",
                    );
                }
            }
            _ => {}
        }
    }
    raws
}

fn alter(out: &mut Out<'_>, table: &str, ops: &[AlterTableOperation], down: bool) {
    let sqlite = out.dialect == Dialect::Sqlite;
    // Asking for an online algorithm or no lock makes MySQL refuse rather than copy the table.
    let online = ops.iter().any(|op| {
        matches!(
            op,
            AlterTableOperation::Algorithm {
                algorithm: AlterTableAlgorithm::Inplace | AlterTableAlgorithm::Instant,
                ..
            } | AlterTableOperation::Lock { lock: AlterTableLock::None, .. }
        )
    });
    for op in ops {
        if sqlite && !sqlite_can(op) {
            out.push(
                "sqlite-unsupported-alter",
                Severity::Error,
                None,
                format!("SQLite cannot alter a table this way ({})", op_name(op)),
                "rebuild the table: create the new table, copy the rows (INSERT INTO new SELECT … FROM old), drop the \
                 old one, rename the new one, and recreate its indexes, triggers and views (SQLite's 12-step \
                 procedure, https://www.sqlite.org/lang_altertable.html#otheralter)",
            );
            continue;
        }
        if down {
            continue;
        }
        match op {
            AlterTableOperation::AddColumn { column_def, .. } => add_column(out, table, column_def),
            AlterTableOperation::DropColumn { column_names, .. } => {
                for c in column_names {
                    out.push(
                        "ban-drop-column",
                        Severity::Warning,
                        Some(table),
                        format!(
                            "dropping column {table}.{} loses its values, and running code may still use it",
                            c.value
                        ),
                        "stop the application using the column first, then drop it in a later release",
                    );
                }
            }
            AlterTableOperation::RenameColumn { old_column_name, .. }
            | AlterTableOperation::ChangeColumn { old_name: old_column_name, .. }
                if renames(op) =>
            {
                out.push(
                    "renaming-column",
                    Severity::Warning,
                    Some(table),
                    format!(
                        "renaming column {table}.{} breaks the running application's queries",
                        old_column_name.value
                    ),
                    "add the new column, write both, move readers over, then drop the old one",
                );
            }
            AlterTableOperation::RenameTable { .. } => out.push(
                "renaming-table",
                Severity::Warning,
                Some(table),
                format!("renaming table {table} breaks the running application's queries"),
                "create a view with the old name while the application moves over, or release both together",
            ),
            _ => {}
        }
        let rebuild = match op {
            AlterTableOperation::AddConstraint { constraint: TableConstraint::ForeignKey(_), .. } => {
                Some("adding a foreign key with foreign_key_checks on")
            }
            AlterTableOperation::DropPrimaryKey { .. } => Some("dropping the primary key"),
            // Checked against every row by a copy (MariaDB and MySQL refuse ALGORITHM=INPLACE).
            AlterTableOperation::AddConstraint { constraint: TableConstraint::Check(_), .. } => {
                Some("adding a CHECK constraint")
            }
            AlterTableOperation::AddConstraint { constraint: TableConstraint::PrimaryKey(_), .. } => {
                Some("adding a primary key")
            }
            _ => None,
        };
        if let (false, false, Some(what)) = (sqlite, online, rebuild) {
            out.push(
                "mysql-table-rebuild",
                Severity::Warning,
                Some(table),
                format!("{what} rebuilds {table}, blocking writes to it while MySQL copies it"),
                "on a large table, mark it `-- godwit:online` (the line above it) to run it through \
                 pt-online-schema-change, or add `, ALGORITHM=INPLACE, LOCK=NONE` so MySQL refuses instead of copying",
            );
        }
        // Built under a shared lock (MySQL refuses LOCK=NONE for it); a table's first one also rebuilds it.
        if !sqlite
            && let AlterTableOperation::AddConstraint { constraint: TableConstraint::FulltextOrSpatial(_), .. } = op
        {
            out.push(
                "mysql-table-rebuild",
                Severity::Warning,
                Some(table),
                format!("adding a FULLTEXT or SPATIAL index blocks writes to {table} while MySQL builds it"),
                "on a large table build it when writes can wait, or mark the statement `-- godwit:online` (the line \
                 above it) to run it through pt-online-schema-change",
            );
        }
        if !sqlite && !online && changes_type(op) {
            out.push(
                "changing-column-type",
                Severity::Warning,
                Some(table),
                format!(
                    "changing a column's type on {table} makes MySQL copy the table, blocking writes while it does"
                ),
                "add `, ALGORITHM=INPLACE, LOCK=NONE` so MySQL refuses instead of copying, or, on a large table, \
                 mark it `-- godwit:online` (the line above it) to run it through pt-online-schema-change",
            );
        }
    }
}

fn add_column(out: &mut Out<'_>, table: &str, c: &ColumnDef) {
    let has = |f: fn(&ColumnOption) -> bool| c.options.iter().any(|o| f(&o.option));
    let not_null = has(|o| matches!(o, ColumnOption::NotNull | ColumnOption::PrimaryKey(_)));
    let filled = has(|o| {
        matches!(o, ColumnOption::Default(_) | ColumnOption::Generated { .. } | ColumnOption::DialectSpecific(_))
    });
    if out.dialect == Dialect::Sqlite && has(|o| matches!(o, ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_))) {
        out.push(
            "sqlite-unsupported-alter",
            Severity::Error,
            None,
            format!("SQLite cannot add a PRIMARY KEY or UNIQUE column ({table}.{})", c.name.value),
            "add the column plain, then CREATE UNIQUE INDEX on it; or rebuild the table (SQLite's 12-step procedure)",
        );
        return;
    }
    // SQLite adds a column to a table with rows only with a constant default.
    let computed = c.options.iter().any(|o| match &o.option {
        ColumnOption::Default(e) => !matches!(e, Expr::Value(_) | Expr::UnaryOp { .. }),
        _ => false,
    });
    if out.dialect == Dialect::Sqlite && computed {
        out.push(
            "sqlite-unsupported-alter",
            Severity::Error,
            Some(table),
            format!(
                "SQLite refuses a column with a default that is not a constant ({table}.{}) on a table with rows",
                c.name.value
            ),
            "add the column with a constant default (or none), then UPDATE the rows; or rebuild the table (SQLite's \
             12-step procedure)",
        );
        return;
    }
    if not_null && !filled {
        let (severity, message) = match out.dialect {
            Dialect::Sqlite => (
                Severity::Error,
                format!(
                    "SQLite refuses a NOT NULL column without a default ({table}.{}) on a table with rows",
                    c.name.value
                ),
            ),
            _ => (
                Severity::Warning,
                format!(
                    "NOT NULL column {table}.{} without a default: MySQL fills the existing rows with the type's implicit \
                     value ('' or 0), rarely the one meant",
                    c.name.value
                ),
            ),
        };
        out.push(
            "adding-required-field",
            severity,
            Some(table),
            message,
            "give it a DEFAULT, or add it nullable, backfill it, then make it NOT NULL",
        );
    }
}

/// SQLite's ALTER TABLE does these four; anything else needs the table rebuilt.
fn sqlite_can(op: &AlterTableOperation) -> bool {
    matches!(
        op,
        AlterTableOperation::AddColumn { .. }
            | AlterTableOperation::DropColumn { .. }
            | AlterTableOperation::RenameColumn { .. }
            | AlterTableOperation::RenameTable { .. }
    )
}

fn renames(op: &AlterTableOperation) -> bool {
    match op {
        AlterTableOperation::RenameColumn { .. } => true,
        AlterTableOperation::ChangeColumn { old_name, new_name, .. } => old_name.value != new_name.value,
        _ => false,
    }
}

/// A column's type set anew. A CHANGE that renames is reported as a rename: its type may well be the same.
fn changes_type(op: &AlterTableOperation) -> bool {
    match op {
        AlterTableOperation::ChangeColumn { .. } => !renames(op),
        _ => matches!(
            op,
            AlterTableOperation::ModifyColumn { .. }
                | AlterTableOperation::AlterColumn { op: AlterColumnOperation::SetDataType { .. }, .. }
        ),
    }
}

fn op_name(op: &AlterTableOperation) -> String {
    let text = op.to_string();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn column_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(i.value.to_lowercase()),
        _ => None,
    }
}

/// The first column of each primary key and unique key a table is created with.
fn key_columns<'a>(columns: &'a [ColumnDef], constraints: &'a [TableConstraint]) -> impl Iterator<Item = String> + 'a {
    let inline = columns.iter().filter(|c| {
        c.options.iter().any(|o| matches!(o.option, ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_)))
    });
    let table = constraints.iter().filter_map(|k| match k {
        TableConstraint::PrimaryKey(p) => p.columns.first().and_then(|c| column_of(&c.column.expr)),
        TableConstraint::Unique(u) => u.columns.first().and_then(|c| column_of(&c.column.expr)),
        TableConstraint::Index(i) => i.columns.first().and_then(|c| column_of(&c.column.expr)),
        _ => None,
    });
    inline.map(|c| c.name.value.to_lowercase()).chain(table)
}

fn foreign_keys(
    out: &mut Out<'_>,
    table: &str,
    columns: &[ColumnDef],
    constraints: &[TableConstraint],
    indexed: &[(String, String)],
) {
    let inline = columns.iter().filter(|c| c.options.iter().any(|o| matches!(o.option, ColumnOption::ForeignKey(_))));
    let mut fk_columns: Vec<String> = inline.map(|c| c.name.value.to_lowercase()).collect();
    fk_columns.extend(constraints.iter().filter_map(|k| match k {
        TableConstraint::ForeignKey(f) => f.columns.first().map(|c| c.value.to_lowercase()),
        _ => None,
    }));
    for c in fk_columns {
        if indexed.iter().any(|(t, col)| t == table && *col == c) {
            continue;
        }
        let (severity, message) = match out.dialect {
            Dialect::Sqlite => (
                Severity::Warning,
                format!(
                    "foreign key column {table}.{c} has no index: SQLite never makes one, so every delete or key change \
                     in the parent table scans {table}"
                ),
            ),
            _ => (
                Severity::Hint,
                format!(
                    "foreign key column {table}.{c} has no index of its own: MySQL adds one silently, under a name it picks"
                ),
            ),
        };
        out.push(
            "foreign-key-without-index",
            severity,
            None,
            message,
            &format!("add `CREATE INDEX {table}_{c} ON {table} ({c});`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::split::split;

    fn rules(sql: &str, d: Dialect) -> Vec<(String, Severity)> {
        let statements = split(sql, d).unwrap();
        let input = Input { sql, statements: &statements, in_transaction: true, down: false, indexed_elsewhere: &[] };
        lint(&input, d).into_iter().map(|r| (r.rule, r.severity)).collect()
    }

    fn has(sql: &str, d: Dialect, rule: &str) -> bool {
        rules(sql, d).iter().any(|(r, _)| r == rule)
    }

    #[test]
    fn mysqls_drop_index_on_table_is_an_error_on_sqlite() {
        let sql = "DROP INDEX orders_notes_idx ON orders;";
        assert_eq!(rules(sql, Dialect::Sqlite), [("sqlite-drop-index-on-table".to_string(), Severity::Error)]);
        assert!(!has(sql, Dialect::MySql, "sqlite-drop-index-on-table"));
        assert!(!has("DROP INDEX orders_notes_idx;", Dialect::Sqlite, "sqlite-drop-index-on-table"));
    }

    #[test]
    fn a_partial_index_is_an_error_on_mysql_only() {
        let sql = "CREATE INDEX posts_published ON posts (user_id) WHERE published;";
        assert_eq!(rules(sql, Dialect::MySql), [("mysql-partial-index".to_string(), Severity::Error)]);
        assert!(!has(sql, Dialect::Sqlite, "mysql-partial-index"));
        assert!(!has("CREATE INDEX i ON t (a);", Dialect::MySql, "mysql-partial-index"));
    }

    #[test]
    fn postgres_only_statements_are_errors_elsewhere() {
        for d in [Dialect::MySql, Dialect::Sqlite] {
            let found = rules("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a);", d);
            assert_eq!(found, [("postgres-only".to_string(), Severity::Error)], "{d:?}");
            assert!(has("DROP INDEX CONCURRENTLY i;", d, "postgres-only"));
            assert!(!has("CREATE INDEX i ON t (a);", d, "postgres-only"));
        }
    }

    #[test]
    fn sqlite_alters_it_cannot_do_are_errors_and_the_ones_it_can_are_not() {
        assert!(
            rules("ALTER TABLE a ALTER COLUMN b SET NOT NULL;", Dialect::Sqlite)
                .contains(&("sqlite-unsupported-alter".into(), Severity::Error))
        );
        assert!(!has("ALTER TABLE a ADD COLUMN b TEXT;", Dialect::Sqlite, "sqlite-unsupported-alter"));
        assert!(has("ALTER TABLE a ADD COLUMN b TEXT UNIQUE;", Dialect::Sqlite, "sqlite-unsupported-alter"));
    }

    #[test]
    fn a_required_column_without_a_default_is_found_by_dialect() {
        assert!(
            rules("ALTER TABLE a ADD COLUMN b TEXT NOT NULL;", Dialect::Sqlite)
                .contains(&("adding-required-field".into(), Severity::Error))
        );
        assert!(
            rules("ALTER TABLE a ADD COLUMN b TEXT NOT NULL;", Dialect::MySql)
                .contains(&("adding-required-field".into(), Severity::Warning))
        );
        assert!(!has("ALTER TABLE a ADD COLUMN b TEXT NOT NULL DEFAULT 'x';", Dialect::MySql, "adding-required-field"));
    }

    #[test]
    fn mysql_type_changes_copy_unless_an_online_algorithm_is_asked_for() {
        assert!(has("ALTER TABLE a MODIFY COLUMN b BIGINT;", Dialect::MySql, "changing-column-type"));
        assert!(!has(
            "ALTER TABLE a MODIFY COLUMN b BIGINT, ALGORITHM=INPLACE, LOCK=NONE;",
            Dialect::MySql,
            "changing-column-type"
        ));
    }

    #[test]
    fn drops_renames_and_unindexed_foreign_keys() {
        assert!(has("ALTER TABLE a DROP COLUMN b;", Dialect::MySql, "ban-drop-column"));
        assert!(has("DROP TABLE a;", Dialect::Sqlite, "ban-drop-table"));
        assert!(has("ALTER TABLE a RENAME COLUMN b TO c;", Dialect::Sqlite, "renaming-column"));
        assert!(has("ALTER TABLE a RENAME TO b;", Dialect::MySql, "renaming-table"));
        let fk = "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p (id));";
        assert!(rules(fk, Dialect::Sqlite).contains(&("foreign-key-without-index".into(), Severity::Warning)));
        let covered = format!("{fk}\nCREATE INDEX c_p ON c (p);");
        assert!(!has(&covered, Dialect::Sqlite, "foreign-key-without-index"));
    }

    #[test]
    fn online_mysql_alters_rebuilds_truncates_and_sqlite_computed_defaults() {
        assert!(!has(
            "ALTER TABLE a MODIFY COLUMN b VARCHAR(64) NULL, LOCK=NONE;",
            Dialect::MySql,
            "changing-column-type"
        ));
        assert!(!has("ALTER TABLE a CHANGE COLUMN b c VARCHAR(50);", Dialect::MySql, "changing-column-type"));
        assert!(has("ALTER TABLE a CHANGE COLUMN b c VARCHAR(50);", Dialect::MySql, "renaming-column"));
        assert!(has(
            "ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES c (id);",
            Dialect::MySql,
            "mysql-table-rebuild"
        ));
        assert!(has("ALTER TABLE a DROP PRIMARY KEY, ADD PRIMARY KEY (id, b);", Dialect::MySql, "mysql-table-rebuild"));
        assert!(has("ALTER TABLE a ADD CONSTRAINT ck CHECK (id > 0);", Dialect::MySql, "mysql-table-rebuild"));
        assert!(has("ALTER TABLE a ADD FULLTEXT INDEX ft (body);", Dialect::MySql, "mysql-table-rebuild"));
        assert!(!has("ALTER TABLE a ADD INDEX i (b);", Dialect::MySql, "mysql-table-rebuild"));
        assert!(has("TRUNCATE TABLE sessions;", Dialect::MySql, "ban-truncate"));
        assert!(rules("DROP SCHEMA legacy;", Dialect::MySql).contains(&("ban-drop-database".into(), Severity::Error)));
        assert!(has("DROP INDEX i;", Dialect::MySql, "mysql-drop-index-needs-table"));
        assert!(!has("DROP INDEX i ON t;", Dialect::MySql, "mysql-drop-index-needs-table"));
        assert!(!has("DROP INDEX i;", Dialect::Sqlite, "mysql-drop-index-needs-table"));
        assert!(
            rules("ALTER TABLE a ADD COLUMN t TEXT DEFAULT CURRENT_TIMESTAMP;", Dialect::Sqlite)
                .contains(&("sqlite-unsupported-alter".into(), Severity::Error))
        );
        assert!(!has("ALTER TABLE a ADD COLUMN t TEXT DEFAULT 'x';", Dialect::Sqlite, "sqlite-unsupported-alter"));
        // A rebuild: the index made after the rename covers the new table's foreign key.
        let rebuild = "CREATE TABLE posts_new (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));\n\
                       DROP TABLE posts;\nALTER TABLE posts_new RENAME TO posts;\nCREATE INDEX posts_user ON posts (user_id);";
        assert!(!has(rebuild, Dialect::Sqlite, "foreign-key-without-index"));
    }

    #[test]
    fn what_the_parser_cannot_read_is_reported_not_a_crash() {
        assert!(has("CREATE TABEL a (id INT);", Dialect::MySql, "unparseable"));
        assert!(has(
            "ALTER TABLE a ADD x INT; ALTER TABLE a ADD y INT;",
            Dialect::MySql,
            "mysql-ddl-not-transactional"
        ));
    }
}
