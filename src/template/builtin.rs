//! The built-in templates: each writes an up and the down that undoes it exactly, in the dialect of
//! the environment it targets.

use super::dialect::{column_type, default_value, derived_name, ident, idents};
use super::{Origin, Param, ParamKind, Rendered, TemplateInfo, Values};
use crate::db::Dialect;
use crate::error::{Error, Result};

fn p(name: &str, label: &str, kind: ParamKind, default: Option<&str>, required: bool, help: &str) -> Param {
    Param {
        name: name.into(),
        label: label.into(),
        kind,
        default: default.map(Into::into),
        required,
        choices: vec![],
        help: (!help.is_empty()).then(|| help.into()),
    }
}

fn info(name: &str, description: &str, params: Vec<Param>) -> TemplateInfo {
    TemplateInfo { name: name.into(), description: description.into(), origin: Origin::BuiltIn, params }
}

pub(super) fn infos() -> Vec<TemplateInfo> {
    use ParamKind::*;
    let mut on_delete =
        p("on_delete", "On delete", Choice, Some(""), false, "what happens to rows that refer to a deleted row");
    on_delete.choices = ["", "cascade", "set null", "restrict", "no action"].map(String::from).to_vec();
    vec![
        info(
            "create_table",
            "Create a table; the down drops it.",
            vec![
                p("table", "Table", Identifier, None, true, ""),
                p(
                    "columns",
                    "Columns",
                    Columns,
                    Some("id id"),
                    true,
                    "comma-separated: NAME TYPE [not null] [unique] [default VALUE] [primary key] [references TABLE(COLUMN)]; \
                     type `id` is an auto-incrementing primary key, type `key` an integer key to one (`user_id key \
                     references users(id)`)",
                ),
                p("timestamps", "Add created_at and updated_at", Bool, Some("false"), false, ""),
            ],
        ),
        info(
            "add_column",
            "Add a column to a table; the down drops it.",
            vec![
                p("table", "Table", Identifier, None, true, ""),
                p("column", "Column", Identifier, None, true, ""),
                p(
                    "type",
                    "Type",
                    Type,
                    Some("text"),
                    true,
                    "text, string, integer, bigint, boolean, timestamp, json, uuid, or any type of the database",
                ),
                p("nullable", "Nullable", Bool, Some("true"), false, ""),
                p("default", "Default", Text, None, false, "an SQL value: 0, 'draft', now"),
            ],
        ),
        info(
            "add_index",
            "Add an index; the down drops it.",
            vec![
                p("table", "Table", Identifier, None, true, ""),
                p("columns", "Columns", Identifiers, None, true, "comma-separated"),
                p("unique", "Unique", Bool, Some("false"), false, ""),
                p("name", "Index name", Identifier, None, false, "derived from the table and columns when empty"),
                p(
                    "concurrently",
                    "Build without locking writes (PostgreSQL)",
                    Bool,
                    Some("false"),
                    false,
                    "CREATE INDEX CONCURRENTLY; the migration runs outside a transaction",
                ),
            ],
        ),
        info(
            "rename_column",
            "Rename a column; the down renames it back.",
            vec![
                p("table", "Table", Identifier, None, true, ""),
                p("from", "Current name", Identifier, None, true, ""),
                p("to", "New name", Identifier, None, true, ""),
            ],
        ),
        info(
            "rename_table",
            "Rename a table; the down renames it back.",
            vec![
                p("from", "Current name", Identifier, None, true, ""),
                p("to", "New name", Identifier, None, true, ""),
            ],
        ),
        info(
            "add_foreign_key",
            "Add a foreign key constraint; the down drops it (PostgreSQL, MySQL/MariaDB).",
            vec![
                p("table", "Table", Identifier, None, true, ""),
                p("columns", "Columns", Identifiers, None, true, "the referring columns, comma-separated"),
                p("references", "Referenced table", Identifier, None, true, ""),
                p("referenced_columns", "Referenced columns", Identifiers, Some("id"), true, ""),
                on_delete,
                p("name", "Constraint name", Identifier, None, false, "derived when empty"),
            ],
        ),
        info(super::RAW, "An empty up and down to write yourself.", vec![]),
    ]
}

pub(super) fn render(name: &str, v: &Values, d: Dialect) -> Result<Rendered> {
    let q = |s: &str| ident(d, s);
    let (up, down, no_transaction) = match name {
        "create_table" => create_table(v, d)?,
        "add_column" => {
            let (t, c) = (q(v.str("table")), q(v.str("column")));
            let nullable = v.bool("nullable");
            let default = v.str("default");
            if d == Dialect::Sqlite && !nullable && default.is_empty() {
                return Err(Error::input(
                    "SQLite cannot add a NOT NULL column without a default: give it a default (default=VALUE), or make it nullable (nullable=true)",
                ));
            }
            let mut col = format!("{c} {}", column_type(d, v.str("type")));
            if !nullable {
                col.push_str(" NOT NULL");
            }
            if !default.is_empty() {
                col.push_str(&format!(" DEFAULT {}", default_value(d, default)));
            }
            let note = match d {
                Dialect::Sqlite => {
                    "-- SQLite drops a column only when no index, key or view uses it: drop those first.\n"
                }
                _ => "",
            };
            (format!("ALTER TABLE {t} ADD COLUMN {col};\n"), format!("{note}ALTER TABLE {t} DROP COLUMN {c};\n"), false)
        }
        "add_index" => {
            let (table, cols) = (v.str("table"), v.list("columns"));
            let unique = v.bool("unique");
            let name = match v.str("name") {
                "" => {
                    let mut parts = vec![table];
                    parts.extend(cols.iter().map(String::as_str));
                    derived_name(&parts, if unique { "key" } else { "idx" })
                }
                n => n.to_string(),
            };
            let concurrently = v.bool("concurrently") && d == Dialect::Postgres;
            let (kw, note) = match (v.bool("concurrently"), d) {
                (true, Dialect::Postgres) => (" CONCURRENTLY", ""),
                (true, _) => ("", "-- CONCURRENTLY is PostgreSQL's; this database builds the index in place.\n"),
                _ => ("", ""),
            };
            let up = format!(
                "{note}CREATE {}INDEX{kw} {} ON {} ({});\n",
                if unique { "UNIQUE " } else { "" },
                q(&name),
                q(table),
                idents(d, &cols)
            );
            let down = match d {
                Dialect::MySql => mysql_drop_index(table, &name),
                _ => format!("DROP INDEX{kw} {};\n", q(&name)),
            };
            (up, down, concurrently)
        }
        "rename_column" => {
            let (t, from, to) = (q(v.str("table")), q(v.str("from")), q(v.str("to")));
            (
                format!("ALTER TABLE {t} RENAME COLUMN {from} TO {to};\n"),
                format!("ALTER TABLE {t} RENAME COLUMN {to} TO {from};\n"),
                false,
            )
        }
        "rename_table" => {
            let (from, to) = (q(v.str("from")), q(v.str("to")));
            let stmt = |a: &str, b: &str| match d {
                Dialect::MySql => format!("RENAME TABLE {a} TO {b};\n"),
                _ => format!("ALTER TABLE {a} RENAME TO {b};\n"),
            };
            (stmt(&from, &to), stmt(&to, &from), false)
        }
        "add_foreign_key" => add_foreign_key(v, d)?,
        super::RAW => ("-- Write the change here.\n".into(), "-- Write what undoes it here.\n".into(), false),
        other => return Err(Error::input(format!("there is no built-in template `{other}`"))),
    };
    Ok(Rendered { up, down: Some(down), no_transaction, dialect: d, warnings: Vec::new(), own_downs: Vec::new() })
}

/// MySQL's down for an index on `column` first: a bare `DROP INDEX`, unless a foreign key on the
/// column has no other index to use. MySQL and MariaDB drop the index they made for a foreign key
/// once another can serve it, and refuse to drop that one ("needed in a foreign key constraint");
/// the down then puts theirs back, under the name MySQL gave it, in the same statement. Which case holds is known only when the
/// down runs (the key may come from a later migration), so the down asks the database.
fn mysql_drop_index(table: &str, index: &str) -> String {
    let q = |s: &str| ident(Dialect::MySql, s);
    let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let (t, i) = (lit(table), lit(index));
    let plain = lit(&format!("DROP INDEX {} ON {}", q(index), q(table)));
    let keep = lit(&format!("ALTER TABLE {} DROP INDEX {}, ADD INDEX ", q(table), q(index)));
    // An index serves a foreign key whose columns are its first ones, in order.
    format!(
        "-- A foreign key of {table} may have only this index to use (the one MySQL made for it was dropped\n\
         -- when this one was made): then this index is swapped for one as MySQL would make for the key\n\
         -- (named after it, or after its first column when the key's name is MySQL's own). MySQL keeps\n\
         -- that one from then on, as any index made by hand: running the up again leaves both.\n\
         SET @godwit_fk = (SELECT fk.name FROM\n  \
         (SELECT CONSTRAINT_NAME AS name, GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) AS cols\n    \
         FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {t}\n    \
         AND REFERENCED_TABLE_NAME IS NOT NULL GROUP BY CONSTRAINT_NAME) fk\n  \
         JOIN (SELECT INDEX_NAME AS name, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols\n    \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {t} GROUP BY INDEX_NAME) ix\n  \
         ON LEFT(CONCAT(ix.cols, ','), CHAR_LENGTH(fk.cols) + 1) = CONCAT(fk.cols, ',')\n  \
         GROUP BY fk.name, fk.cols HAVING SUM(ix.name = {i}) > 0 AND SUM(ix.name <> {i}) = 0\n  \
         ORDER BY CHAR_LENGTH(fk.cols) DESC LIMIT 1);\n\
         SET @godwit_columns = (SELECT GROUP_CONCAT(CONCAT('`', REPLACE(COLUMN_NAME, '`', '``'), '`') ORDER BY ORDINAL_POSITION)\n  \
         FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {t}\n  \
         AND CONSTRAINT_NAME = @godwit_fk);\n\
         SET @godwit_index = IF(LEFT(@godwit_fk, CHAR_LENGTH({t}) + 6) = CONCAT({t}, '_ibfk_'),\n  \
         (SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE()\n    \
         AND TABLE_NAME = {t} AND CONSTRAINT_NAME = @godwit_fk AND ORDINAL_POSITION = 1), @godwit_fk);\n\
         SET @godwit_down = IF(@godwit_fk IS NULL, {plain},\n  \
         CONCAT({keep}, '`', REPLACE(@godwit_index, '`', '``'), '` (', @godwit_columns, ')'));\n\
         PREPARE godwit_down FROM @godwit_down;\n\
         EXECUTE godwit_down;\n\
         DEALLOCATE PREPARE godwit_down;\n"
    )
}

fn add_foreign_key(v: &Values, d: Dialect) -> Result<(String, String, bool)> {
    if d == Dialect::Sqlite {
        return Err(Error::input(
            "SQLite cannot add a foreign key to an existing table (ALTER TABLE has no ADD CONSTRAINT). Declare it \
             when you create the table (create_table: `user_id integer references users(id)`), or rebuild the table \
             by hand from the `raw` template: create the new table, copy the rows, drop the old one, rename.",
        ));
    }
    let (table, cols, refs) = (v.str("table"), v.list("columns"), v.list("referenced_columns"));
    let name = match v.str("name") {
        "" => {
            let mut parts = vec![table];
            parts.extend(cols.iter().map(String::as_str));
            derived_name(&parts, "fkey")
        }
        n => n.to_string(),
    };
    let on_delete = match v.str("on_delete").trim() {
        "" => String::new(),
        a => format!(" ON DELETE {}", a.to_ascii_uppercase()),
    };
    let (t, n) = (ident(d, table), ident(d, &name));
    let add = format!(
        "ALTER TABLE {t} ADD CONSTRAINT {n} FOREIGN KEY ({}) REFERENCES {} ({}){on_delete};\n",
        idents(d, &cols),
        ident(d, v.str("references")),
        idents(d, &refs)
    );
    Ok(match d {
        // MySQL adds an index for the constraint when none fits, and keeps it when the constraint is
        // dropped: make that index explicit so the down removes exactly what the up added.
        Dialect::MySql => (
            format!("CREATE INDEX {n} ON {t} ({});\n{add}", idents(d, &cols)),
            format!("ALTER TABLE {t} DROP FOREIGN KEY {n};\nDROP INDEX {n} ON {t};\n"),
            false,
        ),
        _ => (add, format!("ALTER TABLE {t} DROP CONSTRAINT {n};\n"), false),
    })
}

/// `create_table`'s columns: `NAME TYPE [not null|null] [unique] [default VALUE] [primary key|pk]
/// [references TABLE[(COL)] [on delete ACTION]]`, comma-separated.
fn create_table(v: &Values, d: Dialect) -> Result<(String, String, bool)> {
    let table = ident(d, v.str("table"));
    let mut lines = Vec::new();
    let mut pks = Vec::new();
    let mut fks = Vec::new();
    let mut id_columns = 0;
    for def in v.list("columns") {
        let words = words(&def);
        let (Some(name), Some(ty)) = (words.first(), words.get(1)) else {
            return Err(Error::input(format!(
                "template `{}`: column `{def}` needs a name and a type, e.g. `title string not null`",
                v.template()
            )));
        };
        let is_id = ty.eq_ignore_ascii_case("id");
        let mut sql = format!("{} {}", ident(d, name), column_type(d, ty));
        let mut i = 2;
        let mut pk = is_id;
        while i < words.len() {
            let w = words[i].to_ascii_lowercase();
            let next = words.get(i + 1).map(|s| s.to_ascii_lowercase());
            match (w.as_str(), next.as_deref()) {
                ("not", Some("null")) => {
                    sql.push_str(" NOT NULL");
                    i += 1;
                }
                ("null", _) => sql.push_str(" NULL"),
                ("required", _) => sql.push_str(" NOT NULL"),
                ("unique", _) => sql.push_str(" UNIQUE"),
                ("primary", Some("key")) => {
                    pk = true;
                    i += 1;
                }
                ("pk", _) => pk = true,
                ("default", Some(_)) => {
                    sql.push_str(&format!(" DEFAULT {}", default_value(d, &words[i + 1])));
                    i += 1;
                }
                ("references", Some(_)) => {
                    let target = &words[i + 1];
                    let (rt, rc) = match target.split_once('(') {
                        Some((t, c)) => (t.to_string(), c.trim_end_matches(')').to_string()),
                        None => (target.to_string(), "id".to_string()),
                    };
                    // A table-level constraint: MySQL ignores REFERENCES written on the column.
                    let mut fk = format!(
                        "FOREIGN KEY ({}) REFERENCES {} ({})",
                        ident(d, name),
                        ident(d, &rt),
                        idents(d, &super::split_list(&rc))
                    );
                    i += 1;
                    if words.get(i + 1).is_some_and(|w| w.eq_ignore_ascii_case("on"))
                        && words.get(i + 2).is_some_and(|w| w.eq_ignore_ascii_case("delete"))
                    {
                        let action: Vec<&str> = words[i + 3..].iter().map(String::as_str).collect();
                        fk.push_str(&format!(" ON DELETE {}", action.join(" ").to_ascii_uppercase()));
                        i = words.len();
                    }
                    fks.push(fk);
                }
                _ => {
                    return Err(Error::input(format!(
                        "template `{}`: in column `{def}`, `{}` is not understood; use not null, null, unique, \
                         default VALUE, primary key, references TABLE(COLUMN)",
                        v.template(),
                        words[i]
                    )));
                }
            }
            i += 1;
        }
        if pk {
            pks.push(ident(d, name));
        }
        if is_id {
            id_columns += 1;
        }
        lines.push(sql);
    }
    if lines.is_empty() {
        return Err(Error::input(format!("template `{}` needs at least one column", v.template())));
    }
    if v.bool("timestamps") {
        let ts = column_type(d, "timestamp");
        let now = default_value(d, "now");
        lines.push(format!("created_at {ts} NOT NULL DEFAULT {now}"));
        lines.push(format!("updated_at {ts} NOT NULL DEFAULT {now}"));
    }
    // SQLite makes an INTEGER PRIMARY KEY the row id (auto-incrementing) only when declared on the column.
    if d == Dialect::Sqlite && id_columns == 1 && pks.len() == 1 {
        let col = lines.iter_mut().find(|l| l.starts_with(&format!("{} INTEGER", pks[0]))).expect("the id column");
        col.push_str(" PRIMARY KEY");
    } else if !pks.is_empty() {
        lines.push(format!("PRIMARY KEY ({})", pks.join(", ")));
    }
    lines.extend(fks);
    let up = format!("CREATE TABLE {table} (\n    {}\n);\n", lines.join(",\n    "));
    Ok((up, format!("DROP TABLE {table};\n"), false))
}

/// Words of a column definition, keeping `(...)` and quoted values together.
fn words(def: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut depth, mut quote) = (String::new(), 0i32, None::<char>);
    for c in def.chars() {
        match (c, quote) {
            (q, Some(open)) if q == open => quote = None,
            (_, Some(_)) => {}
            ('\'' | '"', None) => quote = Some(c),
            ('(', None) => depth += 1,
            (')', None) => depth -= 1,
            (c, None) if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;
    use std::collections::BTreeMap;

    fn vals(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn add_column_per_dialect() {
        let v = vals(&[
            ("table", "users"),
            ("column", "email"),
            ("type", "string"),
            ("nullable", "false"),
            ("default", "''"),
        ]);
        let r = render("add_column", &v, Dialect::MySql, None).unwrap();
        assert_eq!(r.up, "ALTER TABLE users ADD COLUMN email VARCHAR(255) NOT NULL DEFAULT '';\n");
        assert_eq!(r.down.unwrap(), "ALTER TABLE users DROP COLUMN email;\n");
        let v = vals(&[("table", "user"), ("column", "email"), ("nullable", "false")]);
        assert!(render("add_column", &v, Dialect::Sqlite, None).unwrap_err().message.contains("NOT NULL column"));
        let r = render("add_column", &v, Dialect::Postgres, None).unwrap();
        assert_eq!(r.up, "ALTER TABLE \"user\" ADD COLUMN email TEXT NOT NULL;\n");
    }

    #[test]
    fn a_key_has_the_integer_type_of_the_id_it_references() {
        let v = vals(&[("table", "orders"), ("columns", "id id, user_id key references users(id)")]);
        for (d, key) in [(Dialect::Sqlite, "INTEGER"), (Dialect::MySql, "BIGINT"), (Dialect::Postgres, "BIGINT")] {
            let users = render("create_table", &vals(&[("table", "users"), ("columns", "id id")]), d, None).unwrap();
            let orders = render("create_table", &v, d, None).unwrap();
            assert!(orders.up.contains(&format!("user_id {key},")), "{d:?}: {}", orders.up);
            assert!(users.up.contains(&format!("id {key}")), "{d:?}: {}", users.up);
        }
    }

    #[test]
    fn create_table_columns() {
        let v = vals(&[
            ("table", "todos"),
            (
                "columns",
                "id id, title string not null, status string not null default 'new', owner_id bigint references users(id) on delete cascade, price numeric(10,2)",
            ),
            ("timestamps", "true"),
        ]);
        let r = render("create_table", &v, Dialect::Postgres, None).unwrap();
        assert!(r.up.contains("id BIGINT GENERATED BY DEFAULT AS IDENTITY,"), "{}", r.up);
        assert!(r.up.contains("status VARCHAR(255) NOT NULL DEFAULT 'new',"), "{}", r.up);
        assert!(r.up.contains("owner_id BIGINT,"), "{}", r.up);
        assert!(r.up.contains("FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE\n"), "{}", r.up);
        assert!(r.up.contains("price NUMERIC(10,2),"), "{}", r.up);
        assert!(r.up.contains("created_at TIMESTAMPTZ NOT NULL DEFAULT now(),"), "{}", r.up);
        assert!(r.up.contains("PRIMARY KEY (id)"), "{}", r.up);
        let r = render("create_table", &v, Dialect::Sqlite, None).unwrap();
        assert!(r.up.contains("id INTEGER PRIMARY KEY,"), "{}", r.up);
        let bad = vals(&[("table", "t"), ("columns", "x text maybe")]);
        assert!(render("create_table", &bad, Dialect::Sqlite, None).unwrap_err().message.contains("`maybe`"));
    }

    #[test]
    fn add_index_concurrently_only_on_postgres() {
        let v = vals(&[("table", "users"), ("columns", "email, name"), ("unique", "true"), ("concurrently", "true")]);
        let r = render("add_index", &v, Dialect::Postgres, None).unwrap();
        assert!(r.no_transaction);
        assert_eq!(r.up, "CREATE UNIQUE INDEX CONCURRENTLY users_email_name_key ON users (email, name);\n");
        assert_eq!(r.down.unwrap(), "DROP INDEX CONCURRENTLY users_email_name_key;\n");
        let r = render("add_index", &v, Dialect::MySql, None).unwrap();
        assert!(!r.no_transaction);
        assert!(r.up.starts_with("-- CONCURRENTLY is PostgreSQL's"));
        // The plain drop, unless a foreign key needs the index when the down runs (tests/templates.rs).
        let down = r.down.unwrap();
        assert!(down.contains("IF(@godwit_fk IS NULL, 'DROP INDEX users_email_name_key ON users',"), "{down}");
    }
}
