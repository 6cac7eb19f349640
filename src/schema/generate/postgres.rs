//! PostgreSQL's statements: DDL in a transaction, columns changed in place, constraints named as
//! the catalogs name them, enums given values or made again, dependent views made again.

use super::{Change, Context, Out, RefusalKind, Writer, widens, with_dependent_views};
use crate::schema::desired::Rename;
use crate::schema::{ObjectKind, Schema};

pub(super) struct Postgres;

impl Writer for Postgres {
    fn rank(&self, kind: ObjectKind, foreign_key: bool) -> u8 {
        match kind {
            ObjectKind::Extension => 0,
            ObjectKind::Schema => 1,
            ObjectKind::Type => 2,
            ObjectKind::Sequence => 3,
            ObjectKind::Table => 4,
            // Before what may call one: a check, an index's expression, a view, a trigger.
            ObjectKind::Function => 5,
            ObjectKind::Constraint if foreign_key => 7,
            ObjectKind::Constraint => 6,
            ObjectKind::Index => 8,
            // Views of both kinds read each other: ordered among themselves by depth.
            ObjectKind::View | ObjectKind::MaterializedView => 9,
            ObjectKind::Trigger => 10,
        }
    }

    fn prepare(&self, changes: &mut Vec<Change>, cx: &mut Context<'_>) {
        // Any change to a table's columns: PostgreSQL refuses it under a view that reads them.
        with_dependent_views(changes, cx.from.schema, &|_| true);
        with_view_indexes(changes, cx.to.schema);
    }

    fn step(&self, c: &Change, cx: &Context<'_>, out: &mut Out) {
        step(self, c, cx, out)
    }

    fn rename_table(&self, from: &str, to: &str) -> String {
        format!("ALTER TABLE {} RENAME TO {}", ident(from), ident(to.rsplit('.').next().unwrap_or(to)))
    }
}

/// Names of the objects of a kind on either side.
fn named<'a>(cx: &'a Context<'_>, pick: impl Fn(&crate::schema::Object) -> bool) -> Vec<&'a str> {
    [cx.from.schema, cx.to.schema]
        .into_iter()
        .flat_map(|s| s.objects.iter())
        .filter(|o| pick(o))
        .map(|o| o.name.as_str())
        .collect()
}

fn step(w: &Postgres, c: &Change, cx: &Context<'_>, out: &mut Out) {
    let matviews = named(cx, |o| o.kind == ObjectKind::MaterializedView);
    let on_view = c.kind == ObjectKind::Index
        && [&c.before, &c.after].iter().any(|d| d.as_deref().is_some_and(|d| matviews.iter().any(|v| index_on(d, v))));
    let r = match on_view {
        // An index of a materialized view: after every view is made.
        true => u32::from(w.rank(ObjectKind::MaterializedView, false)) * 1000 + 999,
        false => cx.key(w, c),
    };
    let (before, after) = (c.before.as_deref(), c.after.as_deref());
    match c.kind {
        ObjectKind::Table => match (before, after) {
            (None, Some(def)) => match create_table(&c.name, def) {
                Some(sql) => out.makes.push((r, sql)),
                None => out.refuse(c, RefusalKind::Unsupported, format!("partitioned table {}", c.name)),
            },
            (Some(_), None) => {
                out.table_dropped(c, cx);
                out.drops.push((r, format!("DROP TABLE {}", ident(&c.name))));
            }
            (Some(a), Some(b)) => alter_table(&c.name, a, b, out, c, cx.renames),
            (None, None) => {}
        },
        ObjectKind::Constraint => {
            let (table, _) = c.name.split_once(' ').unwrap_or((&c.name, ""));
            let domains = named(cx, |o| o.kind == ObjectKind::Type && o.definition.starts_with("domain "));
            let owner = if domains.contains(&table) { "DOMAIN" } else { "TABLE" };
            if let Some(def) = before {
                match cx.from.catalog.constraint_names.get(&(table.to_string(), def.to_string())) {
                    Some(name) => {
                        out.drops.push((r, format!("ALTER {owner} {} DROP CONSTRAINT {}", ident(table), ident(name))))
                    }
                    None => out.refuse(c, RefusalKind::Unsupported, format!("the name of {} is not known", c.name)),
                }
                if after.is_none() && !def.starts_with("CHECK") && !def.starts_with("FOREIGN KEY") {
                    out.refuse(
                        c,
                        RefusalKind::Destructive,
                        format!("drops {def} on {table}, which the data may rely on"),
                    );
                }
            }
            if let Some(def) = after {
                let named = cx
                    .to
                    .catalog
                    .constraint_names
                    .get(&(table.to_string(), def.to_string()))
                    .map(|n| format!("CONSTRAINT {} ", ident(n)))
                    .unwrap_or_default();
                out.makes.push((r, format!("ALTER {owner} {} ADD {named}{def}", ident(table))));
            }
        }
        ObjectKind::Index => {
            if before.is_some() {
                out.drops.push((r, format!("DROP INDEX {}", ident(&c.name))));
            }
            if let Some(def) = after {
                out.makes.push((r, def.to_string()));
            }
        }
        ObjectKind::View | ObjectKind::MaterializedView => {
            let what = if c.kind == ObjectKind::View { "VIEW" } else { "MATERIALIZED VIEW" };
            if before.is_some() {
                out.drops.push((r, format!("DROP {what} {}", ident(&c.name))));
            }
            if let Some(def) = after {
                out.makes.push((
                    r,
                    format!("CREATE {what} {} AS\n{}", ident(&c.name), def.trim_end().trim_end_matches(';')),
                ));
            }
        }
        ObjectKind::Function => {
            // One that stays is replaced in place (a trigger may depend on it).
            if before.is_some() && after.is_none() {
                out.drops.push((r, format!("DROP FUNCTION {}", c.name)));
            }
            if let Some(def) = after {
                out.makes.push((r, def.to_string()));
            }
        }
        ObjectKind::Trigger => {
            let (table, trigger) = c.name.rsplit_once('.').unwrap_or(("", &c.name));
            if before.is_some() {
                out.drops.push((r, format!("DROP TRIGGER {} ON {}", ident(trigger), ident(table))));
            }
            if let Some(def) = after {
                out.makes.push((r, def.to_string()));
            }
        }
        ObjectKind::Extension => {
            let name = c.name.as_str();
            if before.is_some() && after.is_none() {
                out.drops.push((r, format!("DROP EXTENSION {}", ident(name))));
            }
            if after.is_some() && before.is_none() {
                out.makes.push((r, format!("CREATE EXTENSION IF NOT EXISTS {}", ident(name))));
            }
            if before.is_some() && after.is_some() {
                out.refuse(c, RefusalKind::Unsupported, format!("extension {name} at another version"));
            }
        }
        ObjectKind::Schema => {
            if before.is_some() {
                out.drops.push((r, format!("DROP SCHEMA {}", ident(&c.name))));
            }
            if after.is_some() {
                out.makes.push((r, format!("CREATE SCHEMA {}", ident(&c.name))));
            }
        }
        ObjectKind::Type => {
            if let (Some(a), Some(b)) = (before, after)
                && a.starts_with("enum ")
                && b.starts_with("enum ")
            {
                match enum_values_added(a, b) {
                    Some(added) => {
                        for v in added {
                            out.makes.push((r, format!("ALTER TYPE {} ADD VALUE {v}", ident(&c.name))));
                        }
                    }
                    None => match enum_swapped(&c.name, b, cx.from.schema, cx.to.schema) {
                        Some(statements) => out.makes.extend(statements.into_iter().map(|st| (r, st))),
                        None => out.refuse(
                            c,
                            RefusalKind::Unsupported,
                            format!("enum {}: values taken out or reordered, and a column of it has a default", c.name),
                        ),
                    },
                }
                return;
            }
            if before.is_some() {
                out.drops.push((r, format!("DROP TYPE {}", ident(&c.name))));
            }
            if let Some(def) = after {
                match create_type(&c.name, def) {
                    Some(s) => out.makes.push((r, s)),
                    None => out.refuse(c, RefusalKind::Unsupported, format!("type {} ({def})", c.name)),
                }
            }
        }
        ObjectKind::Sequence => {
            out.refuse(c, RefusalKind::Unsupported, format!("sequence {} (a sequence of its own)", c.name));
        }
    }
}

/// A materialized view dropped takes its indexes with it: they are not dropped again, and where
/// it is made again, so are they.
fn with_view_indexes(changes: &mut Vec<Change>, to: &Schema) {
    let gone: Vec<(String, bool)> = changes
        .iter()
        .filter(|c| c.kind == ObjectKind::MaterializedView && c.before.is_some())
        .map(|c| (c.name.clone(), c.after.is_some()))
        .collect();
    for (view, remade) in gone {
        for c in changes.iter_mut().filter(|c| c.kind == ObjectKind::Index) {
            if c.before.as_deref().is_some_and(|d| index_on(d, &view)) {
                c.before = None;
            }
        }
        if !remade {
            continue;
        }
        for index in to.objects.iter().filter(|o| o.kind == ObjectKind::Index && index_on(&o.definition, &view)) {
            if !changes.iter().any(|c| c.kind == ObjectKind::Index && c.name == index.name) {
                changes.push(Change {
                    kind: ObjectKind::Index,
                    name: index.name.clone(),
                    before: None,
                    after: Some(index.definition.clone()),
                    lines: Vec::new(),
                });
            }
        }
    }
    changes.retain(|c| c.before.is_some() || c.after.is_some());
}

/// Whether a PostgreSQL index definition is on `relation`.
fn index_on(def: &str, relation: &str) -> bool {
    def.contains(&format!(" ON {relation} ")) || def.contains(&format!(" ON public.{relation} "))
}

/// A collation as the catalogs name it, quoted where it must be (`"C"`, `"en_US"`).
fn collation(name: &str) -> String {
    if name.starts_with('"') { name.to_string() } else { ident(name) }
}

/// `name` quoted where the server would not read it as written.
fn ident(name: &str) -> String {
    name.split('.')
        .map(|part| {
            let plain = part.chars().next().is_some_and(|ch| ch.is_ascii_lowercase() || ch == '_')
                && part.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '$')
                && !RESERVED.contains(&part);
            if plain { part.to_string() } else { format!("\"{}\"", part.replace('"', "\"\"")) }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Words PostgreSQL reserves that make likely table or column names.
const RESERVED: [&str; 24] = [
    "all",
    "analyse",
    "analyze",
    "and",
    "check",
    "column",
    "constraint",
    "default",
    "desc",
    "do",
    "end",
    "from",
    "grant",
    "group",
    "limit",
    "offset",
    "order",
    "primary",
    "references",
    "select",
    "table",
    "to",
    "user",
    "where",
];

/// A column line as the schema states it: `name type[ NOT NULL][ DEFAULT e][ GENERATED …][ COLLATE c]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    kind: String,
    not_null: bool,
    default: Option<String>,
    /// Identity or a stored generated expression, as stated.
    generated: Option<String>,
    collate: Option<String>,
}

fn column(line: &str) -> Column {
    let (name, mut rest) = line.split_once(' ').unwrap_or((line, ""));
    let mut collate = None;
    if let Some((r, c)) = rest.rsplit_once(" COLLATE ")
        && !c.contains(' ')
    {
        collate = Some(c.to_string());
        rest = r;
    }
    let mut generated = None;
    for marker in [" GENERATED ALWAYS AS IDENTITY", " GENERATED BY DEFAULT AS IDENTITY", " GENERATED ALWAYS AS ("] {
        if let Some(at) = rest.find(marker) {
            generated = Some(rest[at + 1..].to_string());
            rest = &rest[..at];
            break;
        }
    }
    let mut default = None;
    if let Some(at) = rest.find(" DEFAULT ") {
        default = Some(rest[at + 9..].to_string());
        rest = &rest[..at];
    }
    let not_null = rest.ends_with(" NOT NULL");
    let kind = rest.trim_end_matches(" NOT NULL").to_string();
    Column { name: name.to_string(), kind, not_null, default, generated, collate }
}

/// A column as `CREATE TABLE` or `ADD COLUMN` states it; a serial column's sequence default made
/// `serial` again (the sequence comes with it).
fn column_sql(c: &Column) -> String {
    let serial = c.default.as_deref().is_some_and(|d| d.starts_with("nextval("));
    let kind = match (serial, c.kind.as_str()) {
        (true, "integer") => "serial".to_string(),
        (true, "bigint") => "bigserial".to_string(),
        (true, "smallint") => "smallserial".to_string(),
        _ => c.kind.clone(),
    };
    let mut s = format!("{} {kind}", ident(&c.name));
    if let Some(co) = &c.collate {
        s.push_str(&format!(" COLLATE {}", collation(co)));
    }
    if c.not_null && !serial {
        s.push_str(" NOT NULL");
    }
    if let (Some(d), false) = (&c.default, serial) {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    if let Some(g) = &c.generated {
        s.push_str(&format!(" {g}"));
    }
    s
}

/// A new table; `None` for a partitioned one (its partitions are not in the schema as such).
fn create_table(name: &str, def: &str) -> Option<String> {
    if def.lines().any(|l| l.starts_with("PARTITION BY")) {
        return None;
    }
    let cols: Vec<String> =
        def.lines().filter(|l| !l.is_empty()).map(|l| format!("    {}", column_sql(&column(l)))).collect();
    Some(format!("CREATE TABLE {} (\n{}\n)", ident(name), cols.join(",\n")))
}

/// A table's column changes: drops with the other drops (after what depends on the columns, before
/// the types they use), the rest with the other changes.
fn alter_table(name: &str, before: &str, after: &str, out: &mut Out, c: &Change, renames: &[Rename]) {
    let t = ident(name);
    let cols = |def: &str| {
        def.lines().filter(|l| !l.is_empty() && !l.starts_with("PARTITION BY")).map(column).collect::<Vec<_>>()
    };
    let (mut old, new) = (cols(before), cols(after));
    let r = u32::from(Postgres.rank(ObjectKind::Table, false)) * 1000;
    // Renamed first, then compared under the new name.
    for rn in renames.iter().filter(|rn| rn.of_column_in(name)) {
        if new.iter().any(|n| n.name == rn.to)
            && !new.iter().any(|n| n.name == rn.from)
            && let Some(o) = old.iter_mut().find(|o| o.name == rn.from)
        {
            out.makes.push((r, format!("ALTER TABLE {t} RENAME COLUMN {} TO {}", ident(&rn.from), ident(&rn.to))));
            o.name = rn.to.clone();
        }
    }
    for (at, o) in old.iter().enumerate() {
        if !new.iter().any(|n| n.name == o.name) {
            // A column added where this one was, of its type, may be it renamed.
            let successor = new
                .get(at)
                .filter(|n| n.kind == o.kind && !old.iter().any(|x| x.name == n.name))
                .map(|n| n.name.as_str());
            out.column_dropped(c, name, &o.name, successor);
            out.drops.push((r, format!("ALTER TABLE {t} DROP COLUMN {}", ident(&o.name))));
        }
    }
    for n in &new {
        let Some(o) = old.iter().find(|o| o.name == n.name) else {
            if n.not_null && n.default.is_none() && n.generated.is_none() {
                out.refuse(
                    c,
                    RefusalKind::NeedsDefault,
                    format!(
                        "adds {}.{} NOT NULL without a default, which fails on a table with rows: give it a DEFAULT",
                        name, n.name
                    ),
                );
            }
            out.makes.push((r, format!("ALTER TABLE {t} ADD COLUMN {}", column_sql(n))));
            continue;
        };
        let col = ident(&n.name);
        let identity = |g: &Option<String>| match g.as_deref() {
            Some("GENERATED ALWAYS AS IDENTITY") => Some("ALWAYS"),
            Some("GENERATED BY DEFAULT AS IDENTITY") => Some("BY DEFAULT"),
            _ => None,
        };
        let computed = |g: &Option<String>| g.is_some() && identity(g).is_none();
        if o.generated != n.generated {
            match (identity(&o.generated), identity(&n.generated)) {
                _ if computed(&o.generated) || computed(&n.generated) => {
                    out.refuse(
                        c,
                        RefusalKind::Unsupported,
                        format!("{name}.{}: a generated expression changed (PostgreSQL 15 makes it only anew)", n.name),
                    );
                    continue;
                }
                (None, Some(how)) => {
                    out.makes.push((r, format!("ALTER TABLE {t} ALTER COLUMN {col} ADD GENERATED {how} AS IDENTITY")));
                    // Numbered on from the rows there, not from 1 again.
                    out.makes.push((
                        r,
                        format!(
                            "SELECT setval(pg_get_serial_sequence('{}', '{}'), coalesce(max({col}), 0) + 1, false) FROM {t}",
                            t.replace('\'', "''"),
                            n.name.replace('\'', "''")
                        ),
                    ));
                }
                (Some(_), None) => out.makes.push((r, format!("ALTER TABLE {t} ALTER COLUMN {col} DROP IDENTITY"))),
                (Some(_), Some(how)) => {
                    out.makes.push((r, format!("ALTER TABLE {t} ALTER COLUMN {col} SET GENERATED {how}")))
                }
                (None, None) => {}
            }
        }
        if o.kind == n.kind && o.collate != n.collate {
            let collate = n.collate.as_deref().map(|co| format!(" COLLATE {}", collation(co))).unwrap_or_default();
            out.makes.push((r, format!("ALTER TABLE {t} ALTER COLUMN {col} TYPE {}{collate}", n.kind)));
        }
        if o.kind != n.kind {
            if !widens(&o.kind, &n.kind) {
                out.refuse(
                    c,
                    RefusalKind::Destructive,
                    format!(
                        "changes {}.{} from {} to {}, which may not hold every value",
                        name, n.name, o.kind, n.kind
                    ),
                );
            }
            let collate = n.collate.as_deref().map(|co| format!(" COLLATE {}", collation(co))).unwrap_or_default();
            out.makes.push((
                r,
                format!("ALTER TABLE {t} ALTER COLUMN {col} TYPE {}{collate} USING {col}::{}", n.kind, n.kind),
            ));
        }
        if o.default != n.default {
            out.makes.push((
                r,
                match &n.default {
                    Some(d) => format!("ALTER TABLE {t} ALTER COLUMN {col} SET DEFAULT {d}"),
                    None => format!("ALTER TABLE {t} ALTER COLUMN {col} DROP DEFAULT"),
                },
            ));
        }
        if o.not_null != n.not_null {
            let what = if n.not_null { "SET" } else { "DROP" };
            out.makes.push((r, format!("ALTER TABLE {t} ALTER COLUMN {col} {what} NOT NULL")));
        }
    }
    if let Some(pos) = new.iter().position(|n| !old.iter().any(|o| o.name == n.name))
        && let Some(after) = new[pos..].iter().find(|n| old.iter().any(|o| o.name == n.name))
    {
        out.refuse(
            c,
            RefusalKind::ColumnOrder,
            format!(
                "{name}: {} is added before {}, but PostgreSQL adds a column at the end: put it last",
                new[pos].name, after.name
            ),
        );
    }
    if old
        .iter()
        .filter(|o| new.iter().any(|n| n.name == o.name))
        .map(|o| &o.name)
        .ne(new.iter().filter(|n| old.iter().any(|o| o.name == n.name)).map(|n| &n.name))
    {
        out.refuse(c, RefusalKind::ColumnOrder, format!("{name}: its columns in another order"));
    }
}

/// `enum ('a', 'b')` to `enum ('a', 'b', 'c')`: the values added at the end, if that is all.
fn enum_values_added(a: &str, b: &str) -> Option<Vec<String>> {
    let values = |d: &str| -> Option<Vec<String>> {
        let inner = d.strip_prefix("enum (")?.strip_suffix(')')?;
        Some(inner.split(", ").map(String::from).collect())
    };
    let (x, y) = (values(a)?, values(b)?);
    (y.len() > x.len() && y[..x.len()] == x[..]).then(|| y[x.len()..].to_vec())
}

/// An enum whose values are taken out or reordered, made again: PostgreSQL cannot drop a value.
/// The old type is renamed, the new one made, each column of it cast over by its text, and the
/// old one dropped. The columns are those there before that stay (the others are dropped before
/// or made after). `None` where such a column has a default (it would need taking off and back).
fn enum_swapped(name: &str, def: &str, from: &Schema, to: &Schema) -> Option<Vec<String>> {
    let old = format!("{name}__godwit_old");
    let bare = old.rsplit('.').next().unwrap_or(&old);
    let mut out = vec![format!("ALTER TYPE {} RENAME TO {}", ident(name), ident(bare)), create_type(name, def)?];
    let tables = |s: &'_ Schema| -> Vec<(String, Vec<Column>)> {
        s.objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Table)
            .map(|o| (o.name.clone(), o.definition.lines().map(column).collect()))
            .collect()
    };
    let after = tables(to);
    for (table, cols) in tables(from) {
        let Some((_, kept)) = after.iter().find(|(t, _)| *t == table) else { continue };
        for c in cols.iter().filter(|c| c.kind == name && kept.iter().any(|k| k.name == c.name)) {
            if c.default.is_some() {
                return None;
            }
            let col = ident(&c.name);
            out.push(format!(
                "ALTER TABLE {} ALTER COLUMN {col} TYPE {} USING {col}::text::{}",
                ident(&table),
                ident(name),
                ident(name)
            ));
        }
    }
    out.push(format!("DROP TYPE {}", ident(&old)));
    Some(out)
}

fn create_type(name: &str, def: &str) -> Option<String> {
    if let Some(values) = def.strip_prefix("enum ") {
        return Some(format!("CREATE TYPE {} AS ENUM {values}", ident(name)));
    }
    if let Some(rest) = def.strip_prefix("domain ") {
        return Some(format!("CREATE DOMAIN {} AS {rest}", ident(name)));
    }
    if let Some(fields) = def.strip_prefix("composite ") {
        return Some(format!("CREATE TYPE {} AS {fields}", ident(name)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_back_as_stated() {
        let c = column("title character varying(200) NOT NULL DEFAULT 'x'::character varying COLLATE \"C\"");
        assert_eq!(
            (c.kind.as_str(), c.not_null, c.default.as_deref()),
            ("character varying(200)", true, Some("'x'::character varying"))
        );
        assert_eq!(c.collate.as_deref(), Some("\"C\""));
        let id = column("id integer NOT NULL DEFAULT nextval('a_id_seq'::regclass)");
        assert_eq!(column_sql(&id), "id serial");
        let ident_col = column("id bigint NOT NULL GENERATED ALWAYS AS IDENTITY");
        assert_eq!(column_sql(&ident_col), "id bigint NOT NULL GENERATED ALWAYS AS IDENTITY");
    }

    #[test]
    fn names_are_quoted_where_needed() {
        assert_eq!(ident("todos"), "todos");
        assert_eq!(ident("app.Todos"), "app.\"Todos\"");
        assert_eq!(ident("user"), "\"user\"");
    }

    #[test]
    fn enum_values_added_at_the_end() {
        assert_eq!(enum_values_added("enum ('a', 'b')", "enum ('a', 'b', 'c')"), Some(vec!["'c'".to_string()]));
        assert_eq!(enum_values_added("enum ('a', 'b')", "enum ('b', 'a')"), None);
    }
}
