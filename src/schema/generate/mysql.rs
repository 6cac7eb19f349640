//! MySQL/MariaDB's statements: tables made and columns changed with the server's own clauses
//! (`SHOW CREATE TABLE`), columns placed where the schema has them (`FIRST`/`AFTER`), one
//! `ALTER TABLE` per table for its column changes (each may copy the table), keys before the
//! foreign keys that need them, routines and triggers dropped and made again whole.

use super::{Change, Context, Out, RefusalKind, Writer, widens};
use crate::schema::ObjectKind;

pub(super) struct MySql;

impl Writer for MySql {
    fn rank(&self, kind: ObjectKind, foreign_key: bool) -> u8 {
        match kind {
            ObjectKind::Extension | ObjectKind::Schema => 0,
            ObjectKind::Type | ObjectKind::Sequence => 1,
            ObjectKind::Table => 2,
            ObjectKind::Function => 3,
            // A foreign key needs a key on its columns: made after the keys, dropped before them.
            ObjectKind::Constraint if foreign_key => 6,
            ObjectKind::Constraint => 4,
            ObjectKind::Index => 5,
            ObjectKind::View | ObjectKind::MaterializedView => 7,
            ObjectKind::Trigger => 8,
        }
    }

    fn rename_table(&self, from: &str, to: &str) -> String {
        format!("RENAME TABLE {} TO {}", quote(from), quote(to))
    }

    fn follows_rename(&self, kind: ObjectKind) -> bool {
        matches!(kind, ObjectKind::Constraint | ObjectKind::Index | ObjectKind::Trigger)
    }

    fn step(&self, c: &Change, cx: &Context<'_>, out: &mut Out) {
        let r = cx.key(self, c);
        let (before, after) = (c.before.as_deref(), c.after.as_deref());
        let table_of = |name: &str| name.split([' ', '.']).next().unwrap_or_default().to_string();
        // What a table made or dropped whole takes with it.
        let made_whole = |t: &str| table_change(cx, t).is_some_and(|(b, _)| !b);
        let dropped_whole = |t: &str| table_change(cx, t).is_some_and(|(_, a)| !a);
        match c.kind {
            ObjectKind::Table => {
                if !out.table_made_or_dropped(c, cx, r, &quote(&c.name))
                    && let (Some(a), Some(b)) = (before, after)
                {
                    alter_table(c, a, b, cx, out, r);
                }
            }
            ObjectKind::Constraint => {
                let table = table_of(&c.name);
                let foreign = c.before.as_deref().or(after).is_some_and(|d| d.starts_with("FOREIGN KEY"));
                // A dropped table's foreign keys are dropped first: another dropped table may be
                // the one they name.
                if let Some(def) = before
                    && (foreign || !dropped_whole(&table))
                {
                    match cx.from.catalog.constraint_names.get(&(table.clone(), def.to_string())) {
                        Some(name) => {
                            let what = if foreign { "FOREIGN KEY" } else { "CONSTRAINT" };
                            out.drops.push((r, format!("ALTER TABLE {} DROP {what} {}", quote(&table), quote(name))));
                        }
                        None => out.refuse(c, RefusalKind::Unsupported, format!("the name of {} is not known", c.name)),
                    }
                }
                // A new table's checks are made with it.
                if after.is_some() && (foreign || !made_whole(&table)) {
                    match cx.to.catalog.statement(ObjectKind::Constraint, &c.name) {
                        Some(clause) => out.makes.push((r, format!("ALTER TABLE {} ADD {clause}", quote(&table)))),
                        None => out.refuse(c, RefusalKind::Unsupported, format!("{} (its SQL is not known)", c.name)),
                    }
                }
            }
            ObjectKind::Index => {
                let (table, key) = c.name.split_once('.').unwrap_or(("", &c.name));
                let unique = |d: Option<&str>| d.is_some_and(|d| d.starts_with("UNIQUE"));
                if before.is_some() && !dropped_whole(table) {
                    if unique(before) && !unique(after) {
                        out.refuse(
                            c,
                            RefusalKind::Destructive,
                            format!("drops unique key {key} on {table}, which the data may rely on"),
                        );
                    }
                    let what =
                        if key == "PRIMARY" { "PRIMARY KEY".to_string() } else { format!("INDEX {}", quote(key)) };
                    out.drops.push((r, format!("ALTER TABLE {} DROP {what}", quote(table))));
                }
                // A new table's keys are made with it.
                if after.is_some() && !made_whole(table) {
                    match cx.to.catalog.statement(ObjectKind::Index, &c.name) {
                        Some(clause) => out.makes.push((r, format!("ALTER TABLE {} ADD {clause}", quote(table)))),
                        None => {
                            out.refuse(c, RefusalKind::Unsupported, format!("index {} (its SQL is not known)", c.name))
                        }
                    }
                }
            }
            ObjectKind::View => {
                if before.is_some() {
                    out.drops.push((r, format!("DROP VIEW {}", quote(&c.name))));
                }
                if let Some(def) = after {
                    out.makes.push((r, format!("CREATE VIEW {} AS {def}", quote(&c.name))));
                }
            }
            ObjectKind::Function => {
                let (kind, name) = c.name.split_once(' ').unwrap_or(("function", &c.name));
                if before.is_some() {
                    out.drops.push((r, format!("DROP {} {}", kind.to_uppercase(), quote(name))));
                }
                if after.is_some() {
                    match cx.to.catalog.statement(ObjectKind::Function, &c.name) {
                        Some(create) => out.makes.push((r, create.to_string())),
                        None => out.refuse(c, RefusalKind::Unsupported, format!("{} (its SQL is not known)", c.name)),
                    }
                }
            }
            ObjectKind::Trigger => {
                let (table, trigger) = c.name.split_once('.').unwrap_or(("", &c.name));
                if before.is_some() && !dropped_whole(table) {
                    out.drops.push((r, format!("DROP TRIGGER {}", quote(trigger))));
                }
                if let Some(def) = after {
                    // `BEFORE INSERT body`, as the model states it.
                    let mut words = def.splitn(3, ' ');
                    let (timing, event, body) =
                        (words.next().unwrap_or(""), words.next().unwrap_or(""), words.next().unwrap_or(""));
                    out.makes.push((
                        r,
                        format!(
                            "CREATE TRIGGER {} {timing} {event} ON {} FOR EACH ROW {body}",
                            quote(trigger),
                            quote(table)
                        ),
                    ));
                }
            }
            ObjectKind::Extension
            | ObjectKind::Schema
            | ObjectKind::Type
            | ObjectKind::Sequence
            | ObjectKind::MaterializedView => {
                out.refuse(c, RefusalKind::Unsupported, format!("{} {}", c.kind.as_str(), c.name));
            }
        }
    }
}

/// Whether table `t` is there before and after, where it changes.
fn table_change(cx: &Context<'_>, t: &str) -> Option<(bool, bool)> {
    let has = |s: &crate::schema::Schema| s.objects.iter().any(|o| o.kind == ObjectKind::Table && o.name == t);
    let (b, a) = (has(cx.from.schema), has(cx.to.schema));
    (b != a).then_some((b, a))
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A column line of the model: its name and the rest.
fn column(line: &str) -> (&str, &str) {
    line.split_once(' ').unwrap_or((line, ""))
}

/// The model's type of a column line (what follows the name, up to the first attribute).
fn kind(rest: &str) -> &str {
    let end = [" NOT NULL", " DEFAULT ", " auto_increment", " AS (", " COLLATE ", " on update", " STORED", " VIRTUAL"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

/// A table's changes: its columns dropped with the drops (after the keys that use them); added,
/// changed, renamed and moved in one statement, each where the schema puts it; table options.
fn alter_table(c: &Change, before: &str, after: &str, cx: &Context<'_>, out: &mut Out, r: u32) {
    let name = c.name.as_str();
    let t = quote(name);
    let cols = |def: &'_ str| -> Vec<(String, String)> {
        def.lines()
            .filter(|l| !l.is_empty() && !l.starts_with("ENGINE="))
            .map(|l| {
                let (n, rest) = column(l);
                (n.to_string(), rest.to_string())
            })
            .collect()
    };
    let options = |def: &'_ str| def.lines().find(|l| l.starts_with("ENGINE=")).unwrap_or_default().to_string();
    let (mut old, new) = (cols(before), cols(after));
    let clause = |col: &str| cx.to.catalog.statement(ObjectKind::Table, &format!("{name}.{col}"));
    let mut clauses: Vec<String> = Vec::new();
    for rn in cx.renames.iter().filter(|rn| rn.of_column_in(name)) {
        if new.iter().any(|(n, _)| *n == rn.to)
            && !new.iter().any(|(n, _)| *n == rn.from)
            && let Some(o) = old.iter_mut().find(|(n, _)| *n == rn.from)
            && let Some(cl) = clause(&rn.to)
        {
            clauses.push(format!("CHANGE COLUMN {} {cl}", quote(&rn.from)));
            o.0 = rn.to.clone();
            // Changed with its new clause: compared as that from here on, once its type is.
            if let Some((_, rest)) = new.iter().find(|(n, _)| *n == rn.to) {
                if kind(&o.1) != kind(rest) && !widens(kind(&o.1), kind(rest)) {
                    let why = format!(
                        "changes {name}.{} from {} to {}, which may not hold every value",
                        rn.to,
                        kind(&o.1),
                        kind(rest)
                    );
                    out.refuse(c, RefusalKind::Destructive, why);
                }
                o.1 = rest.clone();
            }
        }
    }
    for (at, (o, rest)) in old.iter().enumerate() {
        if !new.iter().any(|(n, _)| n == o) {
            let successor = new
                .get(at)
                .filter(|(n, nrest)| kind(nrest) == kind(rest) && !old.iter().any(|(x, _)| x == n))
                .map(|(n, _)| n.as_str());
            out.column_dropped(c, name, o, successor);
            out.drops.push((r, format!("ALTER TABLE {t} DROP COLUMN {}", quote(o))));
        }
    }
    // Columns in the order wanted: what is not where it must be is added or moved there.
    let mut order: Vec<String> =
        old.iter().filter(|(o, _)| new.iter().any(|(n, _)| n == o)).map(|(o, _)| o.clone()).collect();
    for (i, (n, rest)) in new.iter().enumerate() {
        let place = match i {
            0 => "FIRST".to_string(),
            _ => format!("AFTER {}", quote(&new[i - 1].0)),
        };
        let Some(cl) = clause(n) else {
            out.refuse(c, RefusalKind::Unsupported, format!("{name}.{n} (its SQL is not known)"));
            continue;
        };
        let Some((_, was)) = old.iter().find(|(o, _)| o == n) else {
            let fills = rest.contains(" DEFAULT ") || rest.contains("auto_increment") || rest.contains(" AS (");
            if rest.contains(" NOT NULL") && !fills {
                out.refuse(
                    c,
                    RefusalKind::NeedsDefault,
                    format!(
                        "adds {name}.{n} NOT NULL without a default, which fills rows with an empty value: give it a DEFAULT"
                    ),
                );
            }
            let last = i + 1 == new.len() && order.len() == i;
            clauses.push(if last { format!("ADD COLUMN {cl}") } else { format!("ADD COLUMN {cl} {place}") });
            order.insert(i.min(order.len()), n.clone());
            continue;
        };
        let moved = order.get(i) != Some(n);
        if was != rest {
            if kind(was) != kind(rest) && !widens(kind(was), kind(rest)) {
                out.refuse(
                    c,
                    RefusalKind::Destructive,
                    format!("changes {name}.{n} from {} to {}, which may not hold every value", kind(was), kind(rest)),
                );
            }
        } else if !moved {
            continue;
        }
        clauses.push(if moved { format!("MODIFY COLUMN {cl} {place}") } else { format!("MODIFY COLUMN {cl}") });
        if moved {
            order.retain(|o| o != n);
            order.insert(i.min(order.len()), n.clone());
        }
    }
    let (was, wanted) = (options(before), options(after));
    if was != wanted {
        clauses.extend(wanted.split(' ').filter(|w| !was.split(' ').any(|x| x == *w)).map(str::to_string));
    }
    if !clauses.is_empty() {
        out.makes.push((r, format!("ALTER TABLE {t} {}", clauses.join(", "))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_line_reads_back_its_type() {
        assert_eq!(kind("varchar(100) NOT NULL DEFAULT 'x' COLLATE utf8mb4_general_ci"), "varchar(100)");
        assert_eq!(kind("int(11) unsigned NOT NULL auto_increment"), "int(11) unsigned");
        assert_eq!(kind("bigint(20)"), "bigint(20)");
    }
}
