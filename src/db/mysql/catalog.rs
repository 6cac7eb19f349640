//! What MySQL/MariaDB says of its objects beyond the schema model, for writing statements about
//! them: each table's `SHOW CREATE TABLE` taken apart into its columns, keys and constraints, each
//! routine's `SHOW CREATE`, and constraints' names keyed as the model names them.

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row as _};

use super::quote;
use crate::error::Result;
use crate::schema::generate::Catalog;
use crate::schema::{ObjectKind, Schema};

/// The catalog of the objects in `schema` (as `inspect` read it on this connection).
pub(super) async fn catalog(conn: &mut MySqlConnection, schema: &Schema, same_table: &str) -> Result<Catalog> {
    let mut c = Catalog::default();
    // Constraint names by the model's `(table, definition)`.
    let q = format!(
        "SELECT CAST(x.t AS CHAR), CAST(x.def AS CHAR), CAST(x.name AS CHAR) FROM ({}) x",
        super::CONSTRAINTS.replace("{SAME_TABLE}", same_table)
    );
    let rows: Vec<(String, String, String)> = sqlx::query_as(AssertSqlSafe(q)).fetch_all(&mut *conn).await?;
    c.constraint_names.extend(rows.into_iter().map(|(table, def, name)| ((table, def), name)));
    for o in &schema.objects {
        match o.kind {
            ObjectKind::Table => {
                let row = sqlx::query(AssertSqlSafe(format!("SHOW CREATE TABLE {}", quote(&o.name))))
                    .fetch_one(&mut *conn)
                    .await?;
                table_parts(&mut c, &o.name, &text(&row, 1));
            }
            ObjectKind::Function => {
                let (kind, name) = o.name.split_once(' ').unwrap_or(("function", &o.name));
                let what = if kind == "procedure" { "PROCEDURE" } else { "FUNCTION" };
                let row = sqlx::query(AssertSqlSafe(format!("SHOW CREATE {what} {}", quote(name))))
                    .fetch_one(&mut *conn)
                    .await?;
                let create = text(&row, 2);
                if !create.is_empty() {
                    c.statements.insert((ObjectKind::Function, o.name.clone()), without_definer(&create));
                }
            }
            _ => {}
        }
    }
    // A constraint's clause by the model's name for it.
    let named: Vec<((String, String), String)> =
        c.constraint_names.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for ((table, def), name) in named {
        if let Some(clause) = c.statements.get(&(ObjectKind::Constraint, format!("{table}.{name}"))).cloned() {
            c.statements.insert((ObjectKind::Constraint, format!("{table} {def}")), clause);
        }
    }
    Ok(c)
}

/// A column of a `SHOW` row as text (the server may send it as bytes).
fn text(row: &sqlx::mysql::MySqlRow, at: usize) -> String {
    row.try_get::<Option<String>, _>(at)
        .ok()
        .flatten()
        .or_else(|| row.try_get::<Option<Vec<u8>>, _>(at).ok().flatten().map(|b| String::from_utf8_lossy(&b).into()))
        .unwrap_or_default()
}

/// `SHOW CREATE TABLE`'s text taken apart: the table made without its foreign keys (added once
/// every table is there) or its next auto-increment value, each column's clause (`table.column`),
/// each key's (`table.KEY`, `PRIMARY` for the primary key) and each constraint's by name.
fn table_parts(c: &mut Catalog, table: &str, create: &str) {
    let lines: Vec<&str> = create.lines().collect();
    let (Some(head), Some(foot)) = (lines.first(), lines.last()) else { return };
    let mut kept = Vec::new();
    for line in &lines[1..lines.len() - 1] {
        let clause = line.trim().trim_end_matches(',');
        let named = |rest: &str| first_name(rest).unwrap_or_default();
        if clause.starts_with('`') {
            let col = named(clause);
            c.statements.insert((ObjectKind::Table, format!("{table}.{col}")), clause.to_string());
        } else if clause.starts_with("PRIMARY KEY") {
            c.statements.insert((ObjectKind::Index, format!("{table}.PRIMARY")), clause.to_string());
        } else if let Some(at) = clause.find("KEY `") {
            let key = named(&clause[at + 4..]);
            c.statements.insert((ObjectKind::Index, format!("{table}.{key}")), clause.to_string());
        } else if let Some(rest) = clause.strip_prefix("CONSTRAINT ") {
            let name = named(rest);
            c.statements.insert((ObjectKind::Constraint, format!("{table}.{name}")), clause.to_string());
            if clause.contains(" FOREIGN KEY ") {
                continue;
            }
        }
        kept.push(clause);
    }
    let foot: String = foot.split(' ').filter(|w| !w.starts_with("AUTO_INCREMENT=")).collect::<Vec<_>>().join(" ");
    c.statements.insert((ObjectKind::Table, table.to_string()), format!("{head}\n  {}\n{foot}", kept.join(",\n  ")));
}

/// The identifier a clause starts with, unquoted.
fn first_name(clause: &str) -> Option<String> {
    let rest = clause.strip_prefix('`')?;
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '`' {
            if chars.peek() == Some(&'`') {
                chars.next();
            } else {
                return Some(name);
            }
        }
        name.push(ch);
    }
    None
}

/// A routine as its own user would make it: without `DEFINER=` (the scratch database's user,
/// who may not be the one running the migration).
fn without_definer(create: &str) -> String {
    let Some(at) = create.find("DEFINER=") else { return create.to_string() };
    let end = create[at..].find(' ').map_or(create.len(), |e| at + e + 1);
    format!("{}{}", &create[..at], &create[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_taken_apart() {
        let mut c = Catalog::default();
        table_parts(
            &mut c,
            "t",
            "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `a``b` int(11) DEFAULT NULL,\n  \
             PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`a``b`),\n  CONSTRAINT `fk` FOREIGN KEY (`a``b`) REFERENCES `p` (`id`),\n  \
             CONSTRAINT `CONSTRAINT_1` CHECK (`id` > 0)\n) ENGINE=InnoDB AUTO_INCREMENT=3 DEFAULT CHARSET=utf8mb4",
        );
        assert_eq!(c.statement(ObjectKind::Table, "t.a`b"), Some("`a``b` int(11) DEFAULT NULL"));
        assert_eq!(c.statement(ObjectKind::Index, "t.PRIMARY"), Some("PRIMARY KEY (`id`)"));
        assert_eq!(c.statement(ObjectKind::Index, "t.u"), Some("UNIQUE KEY `u` (`a``b`)"));
        assert!(c.statement(ObjectKind::Constraint, "t.fk").is_some_and(|s| s.contains("REFERENCES `p`")));
        let made = c.statement(ObjectKind::Table, "t").unwrap();
        assert!(!made.contains("FOREIGN KEY") && !made.contains("AUTO_INCREMENT=") && made.contains("CHECK"));
        assert!(made.ends_with(") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"));
        assert_eq!(
            without_definer("CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()\nBEGIN END"),
            "CREATE PROCEDURE `p`()\nBEGIN END"
        );
    }
}
