//! The statements that take one PostgreSQL schema to another (`new --from-schema`): from the two
//! schemas as Godwit reads them, drops first (what depends on others before what they depend on),
//! then creations and changes in dependency order. The down is the same, the other way. Nothing
//! here runs: `ops::from_schema` proves both on scratch databases before anything is written.

use std::collections::BTreeMap;

use serde::Serialize;

use super::desired::Rename;
use super::{Change, ObjectKind, Schema};

/// Statements with the key that orders them (a kind's rank, then a view's depth among views).
type Ranked = Vec<(u32, String)>;

/// Constraint names by `(table, definition)`: the model names a constraint by its definition, but
/// dropping one takes its name.
pub type ConstraintNames = BTreeMap<(String, String), String>;

/// What the generated up would do that a person must agree to, or what cannot be generated.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export, rename = "GeneratedRefusal")]
pub struct Refusal {
    pub kind: ObjectKind,
    pub name: String,
    pub why: RefusalKind,
    pub message: String,
}

impl Refusal {
    fn of(c: &Change, why: RefusalKind, message: String) -> Refusal {
        Refusal { kind: c.kind, name: c.name.clone(), why, message }
    }
}

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "GeneratedRefusalKind")]
pub enum RefusalKind {
    /// Drops a table, a column or something data relies on, or narrows a type: only with consent.
    Destructive,
    /// A column that must hold a value added without a default to a table that may have rows.
    NeedsDefault,
    /// A change Godwit cannot write (yet): named, never left out.
    Unsupported,
    /// A column wanted before others: PostgreSQL adds one only at the end of its table.
    ColumnOrder,
}

/// One direction's statements and what stands in their way.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub statements: Vec<String>,
    pub refusals: Vec<Refusal>,
}

/// The statements that take `from` to `to`, given each side's constraint names.
pub fn generate(
    from: &Schema,
    to: &Schema,
    from_names: &ConstraintNames,
    to_names: &ConstraintNames,
    renames: &[Rename],
) -> Generated {
    let mut changes = super::diff(from, to);
    with_dependent_views(&mut changes, from);
    with_view_indexes(&mut changes, to);
    let depths = view_depths(&changes);
    let mut g = Generated::default();
    let mut drops: Ranked = Vec::new();
    let mut makes: Ranked = Vec::new();
    // A domain's constraints are named by the domain, as a table's by the table.
    let named = |pick: &dyn Fn(&super::Object) -> bool| -> Vec<&str> {
        [from, to].iter().flat_map(|s| s.objects.iter()).filter(|o| pick(o)).map(|o| o.name.as_str()).collect()
    };
    let domains = named(&|o| o.kind == ObjectKind::Type && o.definition.starts_with("domain "));
    let matviews = named(&|o| o.kind == ObjectKind::MaterializedView);
    let names = Names {
        from: from_names,
        to: to_names,
        domains: &domains,
        matviews: &matviews,
        from_schema: from,
        to_schema: to,
        renames,
        depths: &depths,
    };
    for c in &changes {
        step(c, &names, &mut drops, &mut makes, &mut g.refusals);
    }
    // Drops in the reverse of the order things are made in; each group keeps the schemas' order.
    drops.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
    makes.sort_by_key(|(rank, _)| *rank);
    g.statements = drops.into_iter().chain(makes).map(|(_, s)| s).collect();
    g
}

fn is_view(kind: ObjectKind) -> bool {
    matches!(kind, ObjectKind::View | ObjectKind::MaterializedView)
}

/// Whether `def` names `name` as a whole word (bare, or its last part where it is qualified).
fn mentions(def: &str, name: &str) -> bool {
    let word = |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric() || ch == '_');
    [name, name.rsplit('.').next().unwrap_or(name)].iter().any(|n| {
        def.match_indices(n)
            .any(|(at, _)| !word(def[..at].chars().next_back()) && !word(def[at + n.len()..].chars().next()))
    })
}

/// Views the server would not let be dropped or changed under: those reading a view that is made
/// again or dropped, or a table whose columns change. They are made again too (with their new
/// definition, or the same one).
fn with_dependent_views(changes: &mut Vec<Change>, from: &Schema) {
    loop {
        let touched: Vec<String> = changes
            .iter()
            .filter(|c| (is_view(c.kind) && c.before.is_some()) || (c.kind == ObjectKind::Table && c.before.is_some()))
            .map(|c| c.name.clone())
            .collect();
        let more: Vec<Change> = from
            .objects
            .iter()
            .filter(|v| is_view(v.kind) && !changes.iter().any(|c| c.kind == v.kind && c.name == v.name))
            .filter(|v| touched.iter().any(|t| *t != v.name && mentions(&v.definition, t)))
            .map(|v| Change {
                kind: v.kind,
                name: v.name.clone(),
                before: Some(v.definition.clone()),
                after: Some(v.definition.clone()),
                lines: Vec::new(),
            })
            .collect();
        if more.is_empty() {
            return;
        }
        changes.extend(more);
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
    let on =
        |def: &str, view: &str| def.contains(&format!(" ON {view} ")) || def.contains(&format!(" ON public.{view} "));
    for (view, remade) in gone {
        for c in changes.iter_mut().filter(|c| c.kind == ObjectKind::Index) {
            if c.before.as_deref().is_some_and(|d| on(d, &view)) {
                c.before = None;
            }
        }
        if !remade {
            continue;
        }
        for index in to.objects.iter().filter(|o| o.kind == ObjectKind::Index && on(&o.definition, &view)) {
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

/// Each changed view's depth: one more than the deepest changed view it reads.
fn view_depths(changes: &[Change]) -> std::collections::HashMap<String, u32> {
    let views: Vec<(&str, &str)> = changes
        .iter()
        .filter(|c| is_view(c.kind))
        .map(|c| (c.name.as_str(), c.after.as_deref().or(c.before.as_deref()).unwrap_or_default()))
        .collect();
    let mut depth: std::collections::HashMap<String, u32> = views.iter().map(|(n, _)| (n.to_string(), 0)).collect();
    // Longest paths by relaxation; a cycle cannot go deeper than there are views.
    for _ in 0..views.len() {
        let mut changed = false;
        for (name, def) in &views {
            let want = views
                .iter()
                .filter(|(other, _)| other != name && mentions(def, other))
                .map(|(other, _)| depth[*other] + 1)
                .max()
                .unwrap_or(0)
                .min(views.len() as u32);
            if want > depth[*name] {
                depth.insert(name.to_string(), want);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

/// Where a kind's statements go: made in this order, dropped in the reverse.
fn rank(kind: ObjectKind, foreign_key: bool) -> u8 {
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

/// What a constraint's statements need to name it and its owner.
struct Names<'a> {
    from: &'a ConstraintNames,
    to: &'a ConstraintNames,
    domains: &'a [&'a str],
    /// Materialized views, whose indexes are made after them.
    matviews: &'a [&'a str],
    /// The schemas before and after, for the columns of a type made again.
    from_schema: &'a Schema,
    to_schema: &'a Schema,
    /// Columns the desired schema says were renamed.
    renames: &'a [Rename],
    /// How many views made again each view reads, through others: made after them, dropped before.
    depths: &'a std::collections::HashMap<String, u32>,
}

fn step(c: &Change, names: &Names<'_>, drops: &mut Ranked, makes: &mut Ranked, refusals: &mut Vec<Refusal>) {
    let refuse = |refusals: &mut Vec<Refusal>, why, message| refusals.push(Refusal::of(c, why, message));
    let fk = c.kind == ObjectKind::Constraint
        && [&c.before, &c.after].iter().any(|d| d.as_deref().is_some_and(|d| d.starts_with("FOREIGN KEY")));
    let depth = if is_view(c.kind) { names.depths.get(&c.name).copied().unwrap_or(0) } else { 0 };
    let on_view = c.kind == ObjectKind::Index
        && [&c.before, &c.after]
            .iter()
            .any(|d| d.as_deref().is_some_and(|d| names.matviews.iter().any(|v| d.contains(&format!(" ON {v} ")))));
    let r = match on_view {
        // An index of a materialized view: after every view is made.
        true => u32::from(rank(ObjectKind::MaterializedView, false)) * 1000 + 999,
        false => u32::from(rank(c.kind, fk)) * 1000 + depth,
    };
    let (before, after) = (c.before.as_deref(), c.after.as_deref());
    match c.kind {
        ObjectKind::Table => match (before, after) {
            (None, Some(def)) => match create_table(&c.name, def) {
                Some(sql) => makes.push((r, sql)),
                None => refuse(refusals, RefusalKind::Unsupported, format!("partitioned table {}", c.name)),
            },
            (Some(_), None) => {
                refuse(refusals, RefusalKind::Destructive, format!("drops table {} and its rows", c.name));
                drops.push((r, format!("DROP TABLE {}", ident(&c.name))));
            }
            (Some(a), Some(b)) => alter_table(&c.name, a, b, (drops, makes), refusals, c, names.renames),
            (None, None) => {}
        },
        ObjectKind::Constraint => {
            let (table, _) = c.name.split_once(' ').unwrap_or((&c.name, ""));
            let owner = if names.domains.contains(&table) { "DOMAIN" } else { "TABLE" };
            if let Some(def) = before {
                match names.from.get(&(table.to_string(), def.to_string())) {
                    Some(name) => {
                        drops.push((r, format!("ALTER {owner} {} DROP CONSTRAINT {}", ident(table), ident(name))))
                    }
                    None => refuse(refusals, RefusalKind::Unsupported, format!("the name of {} is not known", c.name)),
                }
                if after.is_none() && !def.starts_with("CHECK") && !def.starts_with("FOREIGN KEY") {
                    refuse(
                        refusals,
                        RefusalKind::Destructive,
                        format!("drops {def} on {table}, which the data may rely on"),
                    );
                }
            }
            if let Some(def) = after {
                let named = names
                    .to
                    .get(&(table.to_string(), def.to_string()))
                    .map(|n| format!("CONSTRAINT {} ", ident(n)))
                    .unwrap_or_default();
                makes.push((r, format!("ALTER {owner} {} ADD {named}{def}", ident(table))));
            }
        }
        ObjectKind::Index => {
            if before.is_some() {
                drops.push((r, format!("DROP INDEX {}", ident(&c.name))));
            }
            if let Some(def) = after {
                makes.push((r, def.to_string()));
            }
        }
        ObjectKind::View | ObjectKind::MaterializedView => {
            let what = if c.kind == ObjectKind::View { "VIEW" } else { "MATERIALIZED VIEW" };
            if before.is_some() {
                drops.push((r, format!("DROP {what} {}", ident(&c.name))));
            }
            if let Some(def) = after {
                makes.push((
                    r,
                    format!("CREATE {what} {} AS\n{}", ident(&c.name), def.trim_end().trim_end_matches(';')),
                ));
            }
        }
        ObjectKind::Function => {
            // One that stays is replaced in place (a trigger may depend on it).
            if before.is_some() && after.is_none() {
                drops.push((r, format!("DROP FUNCTION {}", c.name)));
            }
            if let Some(def) = after {
                makes.push((r, def.to_string()));
            }
        }
        ObjectKind::Trigger => {
            let (table, trigger) = c.name.rsplit_once('.').unwrap_or(("", &c.name));
            if before.is_some() {
                drops.push((r, format!("DROP TRIGGER {} ON {}", ident(trigger), ident(table))));
            }
            if let Some(def) = after {
                makes.push((r, def.to_string()));
            }
        }
        ObjectKind::Extension => {
            let name = c.name.as_str();
            if before.is_some() && after.is_none() {
                drops.push((r, format!("DROP EXTENSION {}", ident(name))));
            }
            if after.is_some() && before.is_none() {
                makes.push((r, format!("CREATE EXTENSION IF NOT EXISTS {}", ident(name))));
            }
            if before.is_some() && after.is_some() {
                refuse(refusals, RefusalKind::Unsupported, format!("extension {name} at another version"));
            }
        }
        ObjectKind::Schema => {
            if before.is_some() {
                drops.push((r, format!("DROP SCHEMA {}", ident(&c.name))));
            }
            if after.is_some() {
                makes.push((r, format!("CREATE SCHEMA {}", ident(&c.name))));
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
                            makes.push((r, format!("ALTER TYPE {} ADD VALUE {v}", ident(&c.name))));
                        }
                    }
                    None => match enum_swapped(&c.name, b, names.from_schema, names.to_schema) {
                        Some(statements) => makes.extend(statements.into_iter().map(|st| (r, st))),
                        None => refuse(
                            refusals,
                            RefusalKind::Unsupported,
                            format!("enum {}: values taken out or reordered, and a column of it has a default", c.name),
                        ),
                    },
                }
                return;
            }
            if before.is_some() {
                drops.push((r, format!("DROP TYPE {}", ident(&c.name))));
            }
            if let Some(def) = after {
                match create_type(&c.name, def) {
                    Some(s) => makes.push((r, s)),
                    None => refuse(refusals, RefusalKind::Unsupported, format!("type {} ({def})", c.name)),
                }
            }
        }
        ObjectKind::Sequence => {
            refuse(refusals, RefusalKind::Unsupported, format!("sequence {} (a sequence of its own)", c.name));
        }
    }
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
        s.push_str(&format!(" COLLATE {co}"));
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
fn alter_table(
    name: &str,
    before: &str,
    after: &str,
    (drops, makes): (&mut Ranked, &mut Ranked),
    refusals: &mut Vec<Refusal>,
    c: &Change,
    renames: &[Rename],
) {
    let t = ident(name);
    let cols = |def: &str| {
        def.lines().filter(|l| !l.is_empty() && !l.starts_with("PARTITION BY")).map(column).collect::<Vec<_>>()
    };
    let (mut old, new) = (cols(before), cols(after));
    let r = u32::from(rank(ObjectKind::Table, false)) * 1000;
    // Renamed first, then compared under the new name.
    for rn in renames.iter().filter(|rn| rn.table == name) {
        if new.iter().any(|n| n.name == rn.to)
            && !new.iter().any(|n| n.name == rn.from)
            && let Some(o) = old.iter_mut().find(|o| o.name == rn.from)
        {
            makes.push((r, format!("ALTER TABLE {t} RENAME COLUMN {} TO {}", ident(&rn.from), ident(&rn.to))));
            o.name = rn.to.clone();
        }
    }
    let refuse = |refusals: &mut Vec<Refusal>, why, message| refusals.push(Refusal::of(c, why, message));
    for (at, o) in old.iter().enumerate() {
        if !new.iter().any(|n| n.name == o.name) {
            // A column added where this one was, of its type, may be it renamed.
            let hint = new
                .get(at)
                .filter(|n| n.kind == o.kind && !old.iter().any(|x| x.name == n.name))
                .map(|n| {
                    format!(
                        " (if {} is {} renamed, say so in the schema file: -- godwit:rename {name}.{} TO {})",
                        n.name, o.name, o.name, n.name
                    )
                })
                .unwrap_or_default();
            refuse(
                refusals,
                RefusalKind::Destructive,
                format!("drops column {}.{} and what it holds{hint}", name, o.name),
            );
            drops.push((r, format!("ALTER TABLE {t} DROP COLUMN {}", ident(&o.name))));
        }
    }
    for n in &new {
        let Some(o) = old.iter().find(|o| o.name == n.name) else {
            if n.not_null && n.default.is_none() && n.generated.is_none() {
                refuse(
                    refusals,
                    RefusalKind::NeedsDefault,
                    format!(
                        "adds {}.{} NOT NULL without a default, which fails on a table with rows: give it a DEFAULT",
                        name, n.name
                    ),
                );
            }
            makes.push((r, format!("ALTER TABLE {t} ADD COLUMN {}", column_sql(n))));
            continue;
        };
        let col = ident(&n.name);
        if o.generated != n.generated || o.collate != n.collate {
            refuse(
                refusals,
                RefusalKind::Unsupported,
                format!("{}.{}: a generated, identity or collation change", name, n.name),
            );
            continue;
        }
        if o.kind != n.kind {
            if !widens(&o.kind, &n.kind) {
                refuse(
                    refusals,
                    RefusalKind::Destructive,
                    format!(
                        "changes {}.{} from {} to {}, which may not hold every value",
                        name, n.name, o.kind, n.kind
                    ),
                );
            }
            makes.push((r, format!("ALTER TABLE {t} ALTER COLUMN {col} TYPE {} USING {col}::{}", n.kind, n.kind)));
        }
        if o.default != n.default {
            makes.push((
                r,
                match &n.default {
                    Some(d) => format!("ALTER TABLE {t} ALTER COLUMN {col} SET DEFAULT {d}"),
                    None => format!("ALTER TABLE {t} ALTER COLUMN {col} DROP DEFAULT"),
                },
            ));
        }
        if o.not_null != n.not_null {
            let what = if n.not_null { "SET" } else { "DROP" };
            makes.push((r, format!("ALTER TABLE {t} ALTER COLUMN {col} {what} NOT NULL")));
        }
    }
    if let Some(pos) = new.iter().position(|n| !old.iter().any(|o| o.name == n.name))
        && let Some(after) = new[pos..].iter().find(|n| old.iter().any(|o| o.name == n.name))
    {
        refuse(
            refusals,
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
        refuse(refusals, RefusalKind::ColumnOrder, format!("{name}: its columns in another order"));
    }
}

/// Whether every value of type `a` fits in type `b`.
fn widens(a: &str, b: &str) -> bool {
    let size = |t: &str, base: &str| -> Option<u32> {
        t.strip_prefix(base)?.strip_prefix('(')?.strip_suffix(')')?.parse().ok()
    };
    let ints = ["smallint", "integer", "bigint"];
    let int_rank = |t: &str| ints.iter().position(|i| *i == t);
    if let (Some(x), Some(y)) = (int_rank(a), int_rank(b)) {
        return x <= y;
    }
    for base in ["character varying", "character", "varchar"] {
        if let (Some(x), Some(y)) = (size(a, base), size(b, base)) {
            return x <= y;
        }
    }
    (a.starts_with("character varying") || a.starts_with("character(") || a == "text")
        && (b == "text" || b == "character varying")
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
    fn a_view_is_named_as_a_whole_word() {
        assert!(mentions("SELECT c.id FROM comment_view c", "comment_view"));
        assert!(!mentions("SELECT c.id FROM comment_view_2 c", "comment_view"));
        assert!(mentions("SELECT * FROM app.v", "app.v") && mentions("SELECT * FROM v", "app.v"));
    }

    #[test]
    fn names_are_quoted_where_needed() {
        assert_eq!(ident("todos"), "todos");
        assert_eq!(ident("app.Todos"), "app.\"Todos\"");
        assert_eq!(ident("user"), "\"user\"");
    }

    #[test]
    fn widening_and_enums() {
        assert!(widens("integer", "bigint") && !widens("bigint", "integer"));
        assert!(
            widens("character varying(100)", "character varying(200)")
                && !widens("character varying(200)", "character varying(100)")
        );
        assert!(widens("character varying(100)", "text") && !widens("text", "integer"));
        assert_eq!(enum_values_added("enum ('a', 'b')", "enum ('a', 'b', 'c')"), Some(vec!["'c'".to_string()]));
        assert_eq!(enum_values_added("enum ('a', 'b')", "enum ('b', 'a')"), None);
    }
}
