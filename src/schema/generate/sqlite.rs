//! SQLite's statements. `ALTER TABLE` only adds, renames and drops columns, so any other change to
//! a table makes it again whole, as SQLite's documentation says to: the new table made from the
//! wanted SQL, the rows copied, the old one dropped, the new one renamed, and its indexes and
//! triggers made again (the views and other triggers that name it are dropped first and made
//! after, as the rename checks them). Where a foreign key names a table made again or dropped,
//! that must run with foreign keys off, which SQLite only allows outside a transaction: the
//! migration then holds its own transaction and checks the foreign keys before it commits.

use super::{Change, Context, Out, RefusalKind, Writer, again, mentions, widens, with_dependent_views};
use crate::schema::{ObjectKind, Schema};

pub(super) struct Sqlite;

/// The name a table is made under before it takes the old one's place.
const NEW: &str = "__godwit_new";

impl Writer for Sqlite {
    fn rank(&self, kind: ObjectKind, _foreign_key: bool) -> u8 {
        match kind {
            ObjectKind::Table | ObjectKind::Constraint => 2,
            ObjectKind::Index => 5,
            ObjectKind::View | ObjectKind::MaterializedView => 7,
            ObjectKind::Trigger => 8,
            _ => 0,
        }
    }

    fn prepare(&self, changes: &mut Vec<Change>, cx: &mut Context<'_>) {
        let (from, to) = (cx.from.schema, cx.to.schema);
        // A table whose constraints change is made again, as is one whose columns change other
        // than by being added at the end.
        let mut rebuilt: Vec<String> = changes
            .iter()
            .filter(|c| c.kind == ObjectKind::Constraint)
            .map(|c| c.name.split(' ').next().unwrap_or_default().to_string())
            .filter(|t| table(from, t).is_some() && table(to, t).is_some())
            .collect();
        for c in changes.iter().filter(|c| c.kind == ObjectKind::Table) {
            if let (Some(a), Some(b)) = (&c.before, &c.after)
                && added_at_end(cx, &c.name, a, b).is_none()
                && renamed_only(cx, &c.name, a, b).is_none()
            {
                rebuilt.push(c.name.clone());
            }
        }
        rebuilt.sort();
        rebuilt.dedup();
        // A table only its constraints change on is made again too (they are its SQL).
        for t in &rebuilt {
            if !changes.iter().any(|c| c.kind == ObjectKind::Table && c.name == *t)
                && let Some(o) = from.objects.iter().find(|o| o.kind == ObjectKind::Table && o.name == *t)
            {
                changes.push(again(o));
            }
        }
        with_dependent_views(changes, from, &|t| rebuilt.iter().any(|r| r == t));
        // Its indexes and triggers go with the old table: made again. Triggers elsewhere that
        // name it are dropped before and made after.
        for o in &from.objects {
            let on_rebuilt = |name: &str| rebuilt.iter().any(|t| name.split_once('.').is_some_and(|(on, _)| on == t));
            let names_one = o.kind == ObjectKind::Trigger && rebuilt.iter().any(|t| mentions(&o.definition, t));
            if !matches!(o.kind, ObjectKind::Index | ObjectKind::Trigger) || !(on_rebuilt(&o.name) || names_one) {
                continue;
            }
            if let Some(c) = changes.iter_mut().find(|c| c.kind == o.kind && c.name == o.name) {
                // Dropped with the table where it is on it.
                if on_rebuilt(&o.name) {
                    c.before = None;
                }
            } else if on_rebuilt(&o.name) {
                if let Some(kept) = to.objects.iter().find(|k| k.kind == o.kind && k.name == o.name) {
                    changes.push(Change {
                        kind: o.kind,
                        name: o.name.clone(),
                        before: None,
                        after: Some(kept.definition.clone()),
                        lines: Vec::new(),
                    });
                }
            } else {
                changes.push(again(o));
            }
        }
        changes.retain(|c| c.before.is_some() || c.after.is_some());
        cx.rebuilt = rebuilt;
    }

    fn rename_table(&self, from: &str, to: &str) -> String {
        format!("ALTER TABLE {} RENAME TO {}", quote(from), quote(to))
    }

    fn follows_rename(&self, kind: ObjectKind) -> bool {
        // Foreign keys are read from the pragmas; the SQL kept for the rest gets the name quoted.
        kind == ObjectKind::Constraint
    }

    fn step(&self, c: &Change, cx: &Context<'_>, out: &mut Out) {
        let r = cx.key(self, c);
        let (before, after) = (c.before.as_deref(), c.after.as_deref());
        let last = |name: &str| name.split_once('.').map_or(name, |(_, n)| n).to_string();
        match c.kind {
            ObjectKind::Table => {
                if !out.table_made_or_dropped(c, cx, r, &quote(&c.name))
                    && let (Some(a), Some(b)) = (before, after)
                {
                    let altered = || renamed_only(cx, &c.name, a, b).or_else(|| added_at_end(cx, &c.name, a, b));
                    match (!cx.rebuilt.contains(&c.name)).then(altered).flatten() {
                        Some(statements) => out.makes.extend(statements.into_iter().map(|s| (r, s))),
                        None => rebuild(c, a, b, cx, out, r),
                    }
                }
            }
            // Made with its table (a table that stays and whose constraints change is made again).
            ObjectKind::Constraint => {
                let (on, def) = c.name.split_once(' ').unwrap_or((&c.name, ""));
                if after.is_none() && def.starts_with("UNIQUE") && table(cx.to.schema, on).is_some() {
                    out.refuse(c, RefusalKind::Destructive, format!("drops {def} on {on}, which the data may rely on"));
                }
            }
            ObjectKind::Index | ObjectKind::Trigger | ObjectKind::View => {
                let what = match c.kind {
                    ObjectKind::Index => "INDEX",
                    ObjectKind::Trigger => "TRIGGER",
                    _ => "VIEW",
                };
                let name = if c.kind == ObjectKind::View { c.name.clone() } else { last(&c.name) };
                let on = c.name.split_once('.').map(|(t, _)| t).unwrap_or_default();
                let table_dropped = c.kind != ObjectKind::View && table(cx.to.schema, on).is_none();
                if before.is_some() && !table_dropped {
                    out.drops.push((r, format!("DROP {what} {}", quote(&name))));
                }
                let unique = |d: Option<&str>| d.is_some_and(|d| d.to_ascii_uppercase().starts_with("CREATE UNIQUE"));
                if unique(before) && !unique(after) && !table_dropped {
                    let why = format!("drops unique index {name} on {on}, which the data may rely on");
                    out.refuse(c, RefusalKind::Destructive, why);
                }
                if let Some(def) = after {
                    out.makes.push((r, def.trim_end().trim_end_matches(';').to_string()));
                }
            }
            _ => out.refuse(c, RefusalKind::Unsupported, format!("{} {}", c.kind.as_str(), c.name)),
        }
    }

    fn finish(&self, cx: &Context<'_>, g: &mut super::Generated) {
        // Foreign keys naming a table dropped or made again would act on its rows (a cascade, or
        // an error): off for the while, outside the runner's transaction. Those of either side:
        // a table made again first may already have its new ones.
        let gone = |t: &str| cx.rebuilt.iter().any(|r| r == t) || table(cx.to.schema, t).is_none();
        let named = [cx.from.schema, cx.to.schema].iter().flat_map(|s| s.objects.iter()).any(|o| {
            o.kind == ObjectKind::Constraint
                && o.definition.starts_with("FOREIGN KEY")
                && o.definition.split(" REFERENCES ").nth(1).and_then(|r| r.split(' ').next()).is_some_and(gone)
        });
        if !named || g.statements.is_empty() {
            return;
        }
        g.no_transaction = true;
        let mut all = vec!["PRAGMA foreign_keys = 0".to_string(), "BEGIN IMMEDIATE".to_string()];
        all.append(&mut g.statements);
        // What a row no longer finds, in or naming a table made again, fails the migration before
        // it commits (a violation elsewhere, older than this migration, is not its business).
        let tables: Vec<String> = cx.rebuilt.iter().map(|t| format!("'{}'", t.replace('\'', "''"))).collect();
        let within = if tables.is_empty() {
            String::new()
        } else {
            format!(" WHERE \"table\" IN ({0}) OR parent IN ({0})", tables.join(", "))
        };
        all.extend([
            "CREATE TEMP TABLE godwit_foreign_keys_broken (rows_without_parent integer CHECK (rows_without_parent = 0))"
                .to_string(),
            format!("INSERT INTO godwit_foreign_keys_broken SELECT count(*) FROM pragma_foreign_key_check{within}"),
            "DROP TABLE godwit_foreign_keys_broken".to_string(),
            "COMMIT".to_string(),
            "PRAGMA foreign_keys = 1".to_string(),
        ]);
        g.statements = all;
    }
}

fn table<'a>(s: &'a Schema, name: &str) -> Option<&'a crate::schema::Object> {
    s.objects.iter().find(|o| o.kind == ObjectKind::Table && o.name == name)
}

fn quote(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
        && name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// The model's column lines of a table (its collations and options, after them, left out).
fn columns(def: &str) -> Vec<&str> {
    let extra = |l: &str| {
        l == "STRICT" || l == "WITHOUT ROWID" || l.split(' ').nth(1) == Some("COLLATE") && l.split(' ').count() == 3
    };
    def.lines().filter(|l| !l.is_empty() && !extra(l)).collect()
}

fn name_of(line: &str) -> &str {
    line.split(' ').next().unwrap_or(line)
}

/// Each column's clause in a table's SQL, by name (SQLite keeps the SQL a table was made with).
fn clauses(sql: &str) -> Vec<(String, String)> {
    use sqlparser::ast::Statement;
    let Ok(mut parsed) = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::SQLiteDialect {}, sql) else {
        return Vec::new();
    };
    let Some(Statement::CreateTable(t)) = parsed.pop() else { return Vec::new() };
    t.columns.iter().map(|c| (c.name.value.clone(), c.to_string())).collect()
}

/// `ALTER TABLE … ADD COLUMN` for columns added at the end, where that is all that changes and
/// SQLite can add each (no key, reference, stored expression or default it cannot fill rows with).
fn added_at_end(cx: &Context<'_>, table: &str, before: &str, after: &str) -> Option<Vec<String>> {
    let (old, new) = (columns(before), columns(after));
    let extras = |def: &str| def.lines().filter(|l| !columns(def).contains(l)).map(str::to_string).collect::<Vec<_>>();
    if new.len() <= old.len() || new[..old.len()] != old[..] {
        return None;
    }
    let added: Vec<&str> = new[old.len()..].iter().map(|l| name_of(l)).collect();
    if extras(after).iter().filter(|l| !added.contains(&name_of(l))).ne(extras(before).iter()) {
        return None;
    }
    let sql = cx.to.catalog.statement(ObjectKind::Table, table)?;
    let all = clauses(sql);
    added
        .iter()
        .map(|n| {
            let clause = &all.iter().find(|(c, _)| c == n)?.1;
            let upper = clause.to_ascii_uppercase();
            let refused = ["PRIMARY KEY", "UNIQUE", "REFERENCES", "STORED", "CURRENT_", "DEFAULT ("]
                .iter()
                .any(|w| upper.contains(w))
                || upper.contains("NOT NULL") && !upper.contains("DEFAULT");
            (!refused).then(|| format!("ALTER TABLE {} ADD COLUMN {clause}", quote(table)))
        })
        .collect()
}

/// `ALTER TABLE … RENAME COLUMN` where the schema file says columns were renamed and that is all.
fn renamed_only(cx: &Context<'_>, table: &str, before: &str, after: &str) -> Option<Vec<String>> {
    let renames: Vec<_> = cx.renames.iter().filter(|r| r.of_column_in(table)).collect();
    if renames.is_empty() {
        return None;
    }
    let mut old: Vec<String> = before.lines().map(str::to_string).collect();
    for r in &renames {
        for l in old.iter_mut().filter(|l| name_of(l) == r.from) {
            *l = format!("{}{}", r.to, &l[r.from.len()..]);
        }
    }
    (old.join("\n") == after).then(|| {
        renames
            .iter()
            .map(|r| format!("ALTER TABLE {} RENAME COLUMN {} TO {}", quote(table), quote(&r.from), quote(&r.to)))
            .collect()
    })
}

/// The table made again: the wanted table under another name, the rows copied (renamed columns
/// by their old names), the old one dropped and the new one renamed.
fn rebuild(c: &Change, before: &str, after: &str, cx: &Context<'_>, out: &mut Out, r: u32) {
    let name = c.name.as_str();
    let Some(sql) = cx.to.catalog.statement(ObjectKind::Table, name) else {
        out.refuse(c, RefusalKind::Unsupported, format!("table {name} (its SQL is not known)"));
        return;
    };
    let Some(open) = sql.find('(') else {
        out.refuse(c, RefusalKind::Unsupported, format!("table {name} (its SQL is not known)"));
        return;
    };
    let (old, new) = (columns(before), columns(after));
    let generated = |l: &str| l.contains(" GENERATED ");
    // A rename the file still says once it is done (the old name gone) is no rename.
    let renamed = |n: &str| {
        cx.renames
            .iter()
            .find(|rn| rn.of_column_in(name) && rn.to == n && old.iter().any(|o| name_of(o) == rn.from))
            .map(|rn| rn.from.as_str())
    };
    let mut copied: Vec<(String, String)> = Vec::new();
    for n in &new {
        let to = name_of(n);
        let from = renamed(to).filter(|f| !new.iter().any(|x| name_of(x) == *f)).unwrap_or(to);
        match old.iter().find(|o| name_of(o) == from) {
            Some(o) if !generated(n) && !generated(o) => {
                let kind = |l: &str| l.split(' ').nth(1).unwrap_or_default().to_string();
                if kind(o) != kind(n) && !widens(&kind(o), &kind(n)) {
                    out.refuse(
                        c,
                        RefusalKind::Destructive,
                        format!("changes {name}.{to} from {} to {}, which may not hold every value", kind(o), kind(n)),
                    );
                }
                copied.push((quote(to), quote(from)));
            }
            Some(_) => {}
            None if n.contains(" NOT NULL")
                && !n.contains(" DEFAULT ")
                && !generated(n)
                && !n.contains(" PRIMARY KEY") =>
            {
                out.refuse(
                    c,
                    RefusalKind::NeedsDefault,
                    format!("adds {name}.{to} NOT NULL without a default, which fails on a table with rows: give it a DEFAULT"),
                );
            }
            None => {}
        }
    }
    for o in &old {
        let gone = name_of(o);
        let kept = new.iter().any(|n| name_of(n) == gone || renamed(name_of(n)) == Some(gone));
        if !kept {
            let successor =
                new.iter().map(|n| name_of(n)).find(|n| !old.iter().any(|x| name_of(x) == *n) && renamed(n).is_none());
            out.column_dropped(c, name, gone, successor);
        }
    }
    let t = quote(name);
    let temp = quote(&format!("{name}{NEW}"));
    let (to, from): (Vec<String>, Vec<String>) = copied.into_iter().unzip();
    let mut statements = vec![
        format!("CREATE TABLE {temp} {}", &sql[open..]),
        format!("INSERT INTO {temp} ({}) SELECT {} FROM {t}", to.join(", "), from.join(", ")),
    ];
    // An AUTOINCREMENT table's counter goes on from where it was (ids of deleted rows stay unused).
    let counted = |sql: Option<&str>| sql.is_some_and(|q| q.to_ascii_uppercase().contains("AUTOINCREMENT"));
    if counted(Some(sql)) && counted(cx.from.catalog.statement(ObjectKind::Table, name)) {
        let (old, new) = (name.replace('\'', "''"), format!("{name}{NEW}").replace('\'', "''"));
        statements.push(format!("DELETE FROM sqlite_sequence WHERE name = '{new}'"));
        statements.push(format!(
            "INSERT INTO sqlite_sequence (name, seq) SELECT '{new}', seq FROM sqlite_sequence WHERE name = '{old}'"
        ));
    }
    statements.push(format!("DROP TABLE {t}"));
    statements.push(format!("ALTER TABLE {temp} RENAME TO {t}"));
    out.makes.extend(statements.into_iter().map(|s| (r, s)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_clauses_come_from_the_tables_sql() {
        let all = clauses("CREATE TABLE t (id INTEGER PRIMARY KEY, \"a b\" TEXT NOT NULL DEFAULT 'x', CHECK (id > 0))");
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].0, "a b");
        assert!(all[1].1.contains("DEFAULT 'x'"));
        assert_eq!(columns("id INTEGER\nname TEXT\nname COLLATE NOCASE\nSTRICT"), vec!["id INTEGER", "name TEXT"]);
    }
}
