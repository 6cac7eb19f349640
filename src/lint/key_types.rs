//! A foreign key whose column's integer type is not the referenced column's: MySQL and MariaDB
//! refuse it (errno 150, "Foreign key constraint is incorrectly formed"), where PostgreSQL and
//! SQLite accept it. A project whose SQLite `dev` wrote `id INTEGER` and `user_id BIGINT` meets it
//! first on its MariaDB `prod`. The tables' column types are followed through the earlier
//! migrations and the files linted, in order.

use std::collections::BTreeMap;

use sqlparser::ast::{AlterTableOperation, ColumnDef, ColumnOption, ObjectType, Statement, TableConstraint};

use super::whole::{name, parse_one};
use super::{Raw, Severity};
use crate::syntax::{Dialect, split, words};

pub(super) const RULE: &str = "mysql-foreign-key-type";

/// Each table's integer columns as MySQL compares them for a key (`INT`, `BIGINT UNSIGNED`, …).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyTypes(BTreeMap<String, BTreeMap<String, String>>);

/// A foreign key: its table's columns and the ones they reference.
struct Key {
    table: String,
    columns: Vec<String>,
    referenced: String,
    referred: Vec<String>,
}

impl KeyTypes {
    /// The types an applied (or earlier) file leaves, without linting it.
    pub(crate) fn follow(&mut self, sql: &str, d: Dialect) {
        if let Ok(pieces) = split::split(sql, d) {
            for p in &pieces {
                if let Some(s) = table_statement(p.sql, d) {
                    self.read(&s);
                }
            }
        }
    }

    /// One up's findings (on MySQL only), its types then followed.
    pub(super) fn lint(&mut self, sql: &str, d: Dialect) -> Vec<Raw> {
        let Ok(pieces) = split::split(sql, d) else { return Vec::new() };
        let mut out = Vec::new();
        for p in &pieces {
            let Some(s) = table_statement(p.sql, d) else { continue };
            // A table's own keys may reference the table itself: its columns are known first.
            self.read(&s);
            if d != Dialect::MySql {
                continue;
            }
            for k in keys(&s) {
                for (c, r) in k.columns.iter().zip(&k.referred) {
                    let (Some(mine), Some(theirs)) = (self.type_of(&k.table, c), self.type_of(&k.referenced, r)) else {
                        continue;
                    };
                    if mine != theirs {
                        out.push(Raw {
                            rule: RULE.into(),
                            severity: Severity::Error,
                            offset: p.offset,
                            message: format!(
                                "{}.{c} is {mine} but references {}.{r}, which is {theirs}: MySQL and MariaDB refuse a \
                                 foreign key whose types differ (errno 150), so this statement fails there",
                                k.table, k.referenced
                            ),
                            advice: format!(
                                "give {c} the type {r} has ({theirs}); where a SQLite file wrote {r} as INTEGER, \
                                 write the referencing column INTEGER too (create_table's `key` type does)"
                            ),
                            table: None,
                        });
                    }
                }
            }
        }
        out
    }

    fn type_of(&self, table: &str, column: &str) -> Option<&String> {
        self.0.get(table)?.get(column)
    }

    fn read(&mut self, s: &Statement) {
        match s {
            Statement::CreateTable(t) => {
                let columns = t.columns.iter().filter_map(|c| Some((c.name.value.to_lowercase(), int_type(c)?)));
                self.0.insert(name(&t.name), columns.collect());
            }
            Statement::AlterTable(a) => {
                let table = name(&a.name);
                for op in &a.operations {
                    let columns = self.0.entry(table.clone()).or_default();
                    match op {
                        AlterTableOperation::AddColumn { column_def, .. } => set(columns, column_def),
                        AlterTableOperation::ModifyColumn { col_name, data_type, .. } => {
                            let c = ColumnDef { name: col_name.clone(), data_type: data_type.clone(), options: vec![] };
                            set(columns, &c);
                        }
                        AlterTableOperation::ChangeColumn { old_name, new_name, data_type, .. } => {
                            columns.remove(&old_name.value.to_lowercase());
                            let c = ColumnDef { name: new_name.clone(), data_type: data_type.clone(), options: vec![] };
                            set(columns, &c);
                        }
                        AlterTableOperation::DropColumn { column_names, .. } => {
                            for c in column_names {
                                columns.remove(&c.value.to_lowercase());
                            }
                        }
                        _ => {}
                    }
                }
            }
            Statement::Drop { object_type: ObjectType::Table, names, .. } => {
                for n in names {
                    self.0.remove(&name(n));
                }
            }
            _ => {}
        }
    }
}

fn set(columns: &mut BTreeMap<String, String>, c: &ColumnDef) {
    let key = c.name.value.to_lowercase();
    match int_type(c) {
        Some(t) => columns.insert(key, t),
        None => columns.remove(&key),
    };
}

/// A statement that makes, changes or drops a table, parsed; told by its first words first.
fn table_statement(sql: &str, d: Dialect) -> Option<Statement> {
    let first = words::leading(sql, 3);
    if !first.iter().any(|w| w == "TABLE") {
        return None;
    }
    parse_one(sql, d)
}

/// The foreign keys a statement makes (on its columns, as table constraints, or added later).
fn keys(s: &Statement) -> Vec<Key> {
    let key = |table: &str, columns: Vec<String>, fk: &sqlparser::ast::ForeignKeyConstraint| Key {
        table: table.to_string(),
        columns,
        referenced: name(&fk.foreign_table),
        referred: fk.referred_columns.iter().map(|c| c.value.to_lowercase()).collect(),
    };
    let own = |fk: &sqlparser::ast::ForeignKeyConstraint| fk.columns.iter().map(|c| c.value.to_lowercase()).collect();
    match s {
        Statement::CreateTable(t) => {
            let table = name(&t.name);
            let on_columns = t.columns.iter().flat_map(|c| {
                c.options.iter().filter_map(|o| match &o.option {
                    ColumnOption::ForeignKey(fk) => Some(key(&table, vec![c.name.value.to_lowercase()], fk)),
                    _ => None,
                })
            });
            let constraints = t.constraints.iter().filter_map(|c| match c {
                TableConstraint::ForeignKey(fk) => Some(key(&table, own(fk), fk)),
                _ => None,
            });
            on_columns.chain(constraints).collect()
        }
        Statement::AlterTable(a) => a
            .operations
            .iter()
            .filter_map(|op| match op {
                AlterTableOperation::AddConstraint { constraint: TableConstraint::ForeignKey(fk), .. } => {
                    Some(key(&name(&a.name), own(fk), fk))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The integer type MySQL keys compare (`BIGINT`, `INT UNSIGNED`); `None` for any other type, or
/// one whose width is not told by its name.
fn int_type(c: &ColumnDef) -> Option<String> {
    let text = c.data_type.to_string().to_uppercase();
    let base: String = text.split('(').next().unwrap_or_default().trim().to_string();
    let unsigned = text.contains("UNSIGNED");
    let width = match base.trim_end_matches(" UNSIGNED") {
        "TINYINT" => "TINYINT",
        "SMALLINT" => "SMALLINT",
        "MEDIUMINT" => "MEDIUMINT",
        "INT" | "INTEGER" => "INT",
        "BIGINT" => "BIGINT",
        _ => return None,
    };
    Some(if unsigned { format!("{width} UNSIGNED") } else { width.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(before: &[&str], sql: &str, d: Dialect) -> Vec<String> {
        let mut k = KeyTypes::default();
        for b in before {
            k.follow(b, d);
        }
        k.lint(sql, d).into_iter().map(|r| r.message).collect()
    }

    #[test]
    fn a_key_of_another_integer_type_is_an_error_on_mysql_only() {
        let users = "CREATE TABLE users (\n    id INTEGER PRIMARY KEY\n);";
        let orders = "CREATE TABLE orders (\n    id INTEGER PRIMARY KEY,\n    user_id BIGINT,\n    FOREIGN KEY (user_id) REFERENCES users (id)\n);";
        let m = found(&[users], orders, Dialect::MySql);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("orders.user_id is BIGINT but references users.id, which is INT"), "{m:?}");
        assert!(found(&[users], orders, Dialect::Sqlite).is_empty());
        // The same type (INT(11) is INT), on the column or added later: no finding.
        let same = "CREATE TABLE orders (id INT, user_id INT(11) REFERENCES users (id));";
        assert!(found(&[users], same, Dialect::MySql).is_empty());
        let later = "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);";
        assert_eq!(found(&[users, orders], later, Dialect::MySql).len(), 1);
        // Followed through a change of type; unknown tables say nothing.
        let widened = "ALTER TABLE users MODIFY COLUMN id BIGINT;";
        assert!(found(&[users, widened, orders], later, Dialect::MySql).is_empty());
        assert!(found(&[], later, Dialect::MySql).is_empty());
        let unsigned = "CREATE TABLE t (id INT UNSIGNED, u_id INT, FOREIGN KEY (u_id) REFERENCES t (id));";
        assert_eq!(found(&[], unsigned, Dialect::MySql).len(), 1);
    }
}
