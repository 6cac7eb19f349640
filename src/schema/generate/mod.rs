//! The statements that take one schema to another (`new --from-schema`): from the two schemas as
//! Godwit reads them, drops first (what depends on others before what they depend on), then
//! creations and changes in dependency order. The down is the same, the other way. How each
//! database says it is its [`Writer`]; nothing here runs: `ops::plan_from_schema` proves both on
//! scratch databases before anything is written.

mod mysql;
mod postgres;
mod sqlite;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::desired::Rename;
use super::{Change, ObjectKind, Schema};
use crate::syntax::Dialect;

/// What a database says of its objects beyond the schema model, read beside it
/// (`db::Inspect::catalog`) for writing statements.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Constraint names by `(table, definition)`: the model names a constraint by its definition,
    /// but dropping one takes its name.
    pub constraint_names: BTreeMap<(String, String), String>,
    /// Each object's own statement or clause as the server keeps it, by kind and model name, where
    /// the model's definition cannot be run as it is (MySQL's `SHOW CREATE`, SQLite's stored SQL).
    pub statements: BTreeMap<(ObjectKind, String), String>,
}

impl Catalog {
    pub fn statement(&self, kind: ObjectKind, name: &str) -> Option<&str> {
        self.statements.get(&(kind, name.to_string())).map(String::as_str)
    }
}

/// One side of a generation: a schema and its catalog.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub schema: &'a Schema,
    pub catalog: &'a Catalog,
}

/// What the generated up would do that a person must agree to, or what cannot be generated.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export, rename = "GeneratedRefusal")]
pub struct Refusal {
    pub kind: ObjectKind,
    pub name: String,
    pub why: RefusalKind,
    pub message: String,
    /// For a column dropped where a new one of its type took its place: the line that says, in
    /// the schema file, that it was renamed instead.
    pub rename: Option<String>,
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
    /// A column wanted before others where the database adds one only at the end of its table.
    ColumnOrder,
}

/// One direction's statements and what stands in their way.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub statements: Vec<String>,
    pub refusals: Vec<Refusal>,
    /// The statements hold their own transaction and must run outside the runner's (SQLite's
    /// table rebuilds with foreign keys off, which only works outside a transaction).
    pub no_transaction: bool,
}

/// How one database writes each change. Statements are ranked: made in rank order, dropped in the
/// reverse.
trait Writer {
    /// Where a kind's statements go.
    fn rank(&self, kind: ObjectKind, foreign_key: bool) -> u8;

    /// Changes the database needs besides those the schemas show (what a table rebuild takes
    /// with it and must make again).
    fn prepare(&self, _changes: &mut Vec<Change>, _cx: &mut Context<'_>) {}

    fn step(&self, c: &Change, cx: &Context<'_>, out: &mut Out);

    /// The statement that renames table `from` to `to`.
    fn rename_table(&self, from: &str, to: &str) -> String;

    /// Whether the server's own statement of an object of `kind` names a table by its new name
    /// once it is renamed, as the schema file would (MySQL's views break instead; SQLite rewrites
    /// its stored SQL with the name quoted): others are made again from the file.
    fn follows_rename(&self, kind: ObjectKind) -> bool {
        matches!(kind, ObjectKind::Constraint | ObjectKind::Index | ObjectKind::Trigger) || is_view(kind)
    }

    /// The statements in order, wrapped where the database needs it.
    fn finish(&self, _cx: &Context<'_>, _g: &mut Generated) {}
}

/// What a writer knows while it writes.
struct Context<'a> {
    from: Side<'a>,
    to: Side<'a>,
    /// Columns the desired schema says were renamed.
    renames: &'a [Rename],
    /// How many views made again each view reads, through others: made after them, dropped before.
    depths: HashMap<String, u32>,
    /// Tables made again whole (SQLite), with what they take with them.
    rebuilt: Vec<String>,
}

/// The statements written so far, with the keys that order them, and the refusals.
#[derive(Default)]
struct Out {
    drops: Vec<(u32, String)>,
    makes: Vec<(u32, String)>,
    refusals: Vec<Refusal>,
}

impl Out {
    fn refuse(&mut self, c: &Change, why: RefusalKind, message: String) {
        self.refusals.push(Refusal { kind: c.kind, name: c.name.clone(), why, message, rename: None });
    }

    /// A table made whole from the wanted side's own SQL for it (MySQL's, SQLite's), or dropped
    /// (`quoted`: its name as the database reads it); `false` for a table on both sides.
    fn table_made_or_dropped(&mut self, c: &Change, cx: &Context<'_>, r: u32, quoted: &str) -> bool {
        match (c.before.is_some(), c.after.is_some()) {
            (false, true) => match cx.to.catalog.statement(ObjectKind::Table, &c.name) {
                Some(create) => self.makes.push((r, create.to_string())),
                None => self.refuse(c, RefusalKind::Unsupported, format!("table {} (its SQL is not known)", c.name)),
            },
            (true, false) => {
                self.table_dropped(c, cx);
                self.drops.push((r, format!("DROP TABLE {quoted}")));
            }
            _ => return false,
        }
        true
    }

    /// A table dropped, with its rows: refused without consent. Where a new table of the same
    /// columns takes its place, the line saying it was renamed is offered.
    fn table_dropped(&mut self, c: &Change, cx: &Context<'_>) {
        let def = c.before.as_deref().unwrap_or_default();
        let successor = cx
            .to
            .schema
            .objects
            .iter()
            .find(|o| o.kind == ObjectKind::Table && o.definition == def && !has_table(cx.from.schema, &o.name));
        let renamed = successor.map(|n| (n.name.as_str(), format!("-- godwit:rename-table {} TO {}", c.name, n.name)));
        self.dropped(c, &c.name, format!("drops table {} and its rows", c.name), renamed);
    }

    /// A column dropped, with what it holds: refused without consent. Where `successor`, a new
    /// column of its type, took its place, the line saying it was renamed is offered.
    fn column_dropped(&mut self, c: &Change, table: &str, column: &str, successor: Option<&str>) {
        let renamed = successor.map(|n| (n, format!("-- godwit:rename {table}.{column} TO {n}")));
        self.dropped(c, column, format!("drops column {table}.{column} and what it holds"), renamed);
    }

    /// Something dropped with what it holds (`what`, said): refused without consent; where
    /// `renamed` names what may be `old` renamed, with the line saying so, that line is offered.
    fn dropped(&mut self, c: &Change, old: &str, what: String, renamed: Option<(&str, String)>) {
        let hint = renamed
            .as_ref()
            .map(|(new, line)| format!(" (if {new} is {old} renamed, say so in the schema file: {line})"))
            .unwrap_or_default();
        self.refusals.push(Refusal {
            kind: c.kind,
            name: c.name.clone(),
            why: RefusalKind::Destructive,
            message: format!("{what}{hint}"),
            rename: renamed.map(|(_, line)| line),
        });
    }
}

/// The statements that take `from` to `to` on `dialect`.
pub fn generate(dialect: Dialect, from: Side<'_>, to: Side<'_>, renames: &[Rename]) -> Generated {
    let writer: &dyn Writer = match dialect {
        Dialect::Postgres => &postgres::Postgres,
        Dialect::MySql => &mysql::MySql,
        Dialect::Sqlite => &sqlite::Sqlite,
    };
    // Tables renamed first: everything after names them as the wanted schema does.
    let tables: Vec<&Rename> = renames
        .iter()
        .filter(|r| r.table.is_none() && has_table(from.schema, &r.from) && !has_table(from.schema, &r.to))
        .filter(|r| has_table(to.schema, &r.to))
        .collect();
    let (schema, catalog) = renamed_tables(from, &tables, &|k| writer.follows_rename(k));
    let from = Side { schema: &schema, catalog: &catalog };
    let first: Vec<String> = tables.iter().map(|r| writer.rename_table(&r.from, &r.to)).collect();
    let mut changes = super::diff(from.schema, to.schema);
    let mut cx = Context { from, to, renames, depths: HashMap::new(), rebuilt: Vec::new() };
    writer.prepare(&mut changes, &mut cx);
    cx.depths = view_depths(&changes);
    let mut out = Out::default();
    for c in &changes {
        writer.step(c, &cx, &mut out);
    }
    // Drops in the reverse of the order things are made in; each group keeps the schemas' order.
    out.drops.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
    out.makes.sort_by_key(|(rank, _)| *rank);
    let mut g = Generated {
        statements: first.into_iter().chain(out.drops.into_iter().chain(out.makes).map(|(_, s)| s)).collect(),
        refusals: out.refusals,
        no_transaction: false,
    };
    writer.finish(&cx, &mut g);
    g
}

fn has_table(s: &Schema, name: &str) -> bool {
    s.objects.iter().any(|o| o.kind == ObjectKind::Table && o.name == name)
}

/// `side` as it is once `tables` are renamed: the tables and what is named by them (constraints,
/// indexes, triggers) under the new names, and the definitions the server rewrites (`follows`: a
/// function's body is only text) naming them so.
fn renamed_tables(side: Side<'_>, tables: &[&Rename], follows: &dyn Fn(ObjectKind) -> bool) -> (Schema, Catalog) {
    let bare = |n: &str| n.rsplit('.').next().unwrap_or(n).to_string();
    let rename_in =
        |def: &str| tables.iter().fold(def.to_string(), |d, r| replace_word(&d, &bare(&r.from), &bare(&r.to)));
    let table = |t: &str| tables.iter().find(|r| r.from == t).map_or_else(|| t.to_string(), |r| r.to.clone());
    // `table.rest`, the table part renamed.
    let owned = |name: &str| -> String {
        match tables.iter().find(|r| name.strip_prefix(&r.from).is_some_and(|rest| rest.starts_with('.'))) {
            Some(r) => format!("{}{}", r.to, &name[r.from.len()..]),
            None => name.to_string(),
        }
    };
    let objects = side.schema.objects.iter().map(|o| {
        let definition = if follows(o.kind) { rename_in(&o.definition) } else { o.definition.clone() };
        let name = match o.kind {
            ObjectKind::Table => table(&o.name),
            // Named by table and definition: both as they now read.
            ObjectKind::Constraint => match o.name.split_once(' ') {
                Some((t, _)) => format!("{} {definition}", table(t)),
                None => o.name.clone(),
            },
            ObjectKind::Index | ObjectKind::Trigger => owned(&o.name),
            _ => o.name.clone(),
        };
        super::Object { kind: o.kind, name, definition }
    });
    let catalog = Catalog {
        constraint_names: side
            .catalog
            .constraint_names
            .iter()
            .map(|((t, def), n)| ((table(t), rename_in(def)), n.clone()))
            .collect(),
        statements: side
            .catalog
            .statements
            .iter()
            .map(|((kind, name), sql)| {
                let name = match kind {
                    ObjectKind::Constraint if name.contains(' ') => match name.split_once(' ') {
                        Some((t, def)) => format!("{} {}", table(t), rename_in(def)),
                        None => name.clone(),
                    },
                    _ => owned(&table(name)),
                };
                ((*kind, name), sql.clone())
            })
            .collect(),
    };
    (Schema::from_objects(objects), catalog)
}

/// `def` with every whole-word `from` made `to`.
fn replace_word(def: &str, from: &str, to: &str) -> String {
    let word = |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric() || ch == '_');
    let mut out = String::with_capacity(def.len());
    let mut last = 0;
    for (at, _) in def.match_indices(from) {
        if at < last || word(def[..at].chars().next_back()) || word(def[at + from.len()..].chars().next()) {
            continue;
        }
        out.push_str(&def[last..at]);
        out.push_str(to);
        last = at + from.len();
    }
    out.push_str(&def[last..]);
    out
}

impl Context<'_> {
    /// The key that orders `c`'s statements: its kind's rank, then a view's depth among views.
    fn key(&self, w: &dyn Writer, c: &Change) -> u32 {
        let depth = if is_view(c.kind) { self.depths.get(&c.name).copied().unwrap_or(0) } else { 0 };
        u32::from(w.rank(c.kind, is_foreign_key(c))) * 1000 + depth
    }
}

fn is_foreign_key(c: &Change) -> bool {
    c.kind == ObjectKind::Constraint
        && [&c.before, &c.after].iter().any(|d| d.as_deref().is_some_and(|d| d.starts_with("FOREIGN KEY")))
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

/// An unchanged object made again: dropped and made with the same definition.
fn again(o: &super::Object) -> Change {
    Change {
        kind: o.kind,
        name: o.name.clone(),
        before: Some(o.definition.clone()),
        after: Some(o.definition.clone()),
        lines: Vec::new(),
    }
}

/// Views the server would not let be dropped or changed under: those reading a view that is made
/// again or dropped, or a table `touched` says changes under them. They are made again too (with
/// their new definition, or the same one).
fn with_dependent_views(changes: &mut Vec<Change>, from: &Schema, touched: &dyn Fn(&str) -> bool) {
    loop {
        let touched: Vec<String> = changes
            .iter()
            .filter(|c| c.before.is_some() && (is_view(c.kind) || c.kind == ObjectKind::Table && touched(&c.name)))
            .map(|c| c.name.clone())
            .collect();
        let more: Vec<Change> = from
            .objects
            .iter()
            .filter(|v| is_view(v.kind) && !changes.iter().any(|c| c.kind == v.kind && c.name == v.name))
            .filter(|v| touched.iter().any(|t| *t != v.name && mentions(&v.definition, t)))
            .map(again)
            .collect();
        if more.is_empty() {
            return;
        }
        changes.extend(more);
    }
}

/// Each changed view's depth: one more than the deepest changed view it reads.
fn view_depths(changes: &[Change]) -> HashMap<String, u32> {
    let views: Vec<(&str, &str)> = changes
        .iter()
        .filter(|c| is_view(c.kind))
        .map(|c| (c.name.as_str(), c.after.as_deref().or(c.before.as_deref()).unwrap_or_default()))
        .collect();
    let mut depth: HashMap<String, u32> = views.iter().map(|(n, _)| (n.to_string(), 0)).collect();
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

/// Whether every value of type `a` fits in type `b`, for the types all three databases share
/// (a length or size in parentheses, integers by size).
fn widens(a: &str, b: &str) -> bool {
    // MySQL's enum and set: values added at the end.
    for list in ["enum(", "set("] {
        if let (Some(x), Some(y)) = (a.strip_prefix(list), b.strip_prefix(list)) {
            let (x, y) = (x.trim_end_matches(')'), y.trim_end_matches(')'));
            return y == x || y.strip_prefix(x).is_some_and(|rest| rest.starts_with(','));
        }
    }
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    let base = |t: &str| t.split('(').next().unwrap_or(t).trim().to_string();
    let size = |t: &str| -> Option<u32> { t.split_once('(')?.1.split(')').next()?.trim().parse().ok() };
    let ints = ["tinyint", "smallint", "mediumint", "integer", "int", "bigint"];
    let int_rank = |t: &str| ints.iter().position(|i| *i == base(t)).map(|p| if p == 4 { 3 } else { p });
    let unsigned = |t: &str| t.contains("unsigned");
    if let (Some(x), Some(y)) = (int_rank(&a), int_rank(&b)) {
        return x <= y && unsigned(&a) == unsigned(&b);
    }
    let texts = ["character varying", "varchar", "character", "char"];
    let text = |t: &str| texts.contains(&base(t).as_str());
    if text(&a) && text(&b) {
        return match (size(&a), size(&b)) {
            (Some(x), Some(y)) => x <= y,
            (_, None) => true,
            (None, Some(_)) => false,
        };
    }
    let long = |t: &str| ["text", "mediumtext", "longtext"].iter().position(|l| *l == t);
    match (long(&a), long(&b)) {
        (Some(x), Some(y)) => x <= y,
        (None, Some(_)) => text(&a),
        (Some(_), None) => text(&b) && size(&b).is_none(),
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_named_as_a_whole_word() {
        assert!(mentions("SELECT c.id FROM comment_view c", "comment_view"));
        assert!(!mentions("SELECT c.id FROM comment_view_2 c", "comment_view"));
        assert!(mentions("SELECT * FROM app.v", "app.v") && mentions("SELECT * FROM v", "app.v"));
    }

    #[test]
    fn a_renamed_table_is_named_anew_where_the_server_follows_it() {
        assert_eq!(replace_word("REFERENCES todo(id) ON todo_x", "todo", "task"), "REFERENCES task(id) ON todo_x");
        let schema = Schema::from_rows([
            ("table".to_string(), "todo".to_string(), "id integer".to_string()),
            ("index".into(), "todo.todo_pkey".into(), "CREATE UNIQUE INDEX todo_pkey ON public.todo (id)".into()),
            (
                "constraint".into(),
                "c FOREIGN KEY (t) REFERENCES todo(id)".into(),
                "FOREIGN KEY (t) REFERENCES todo(id)".into(),
            ),
            ("view".into(), "v".into(), "SELECT todo.id FROM todo".into()),
            ("function".into(), "f()".into(), "SELECT 1 FROM todo".into()),
        ]);
        let r = Rename { table: None, from: "todo".into(), to: "task".into() };
        let follows = |k: ObjectKind| matches!(k, ObjectKind::Constraint | ObjectKind::Index | ObjectKind::Trigger);
        let (s, _) = renamed_tables(Side { schema: &schema, catalog: &Catalog::default() }, &[&r], &follows);
        let names: Vec<(&str, &str)> = s.objects.iter().map(|o| (o.name.as_str(), o.definition.as_str())).collect();
        assert!(names.contains(&("task", "id integer")));
        assert!(names.contains(&("task.todo_pkey", "CREATE UNIQUE INDEX todo_pkey ON public.task (id)")));
        assert!(names.contains(&("c FOREIGN KEY (t) REFERENCES task(id)", "FOREIGN KEY (t) REFERENCES task(id)")));
        assert!(names.contains(&("v", "SELECT todo.id FROM todo")), "views stay where the server does not follow");
        assert!(names.contains(&("f()", "SELECT 1 FROM todo")));
    }

    #[test]
    fn widening() {
        assert!(widens("integer", "bigint") && !widens("bigint", "integer"));
        assert!(widens("int(11)", "bigint(20)") && !widens("int(11) unsigned", "int(11)"));
        assert!(
            widens("character varying(100)", "character varying(200)")
                && !widens("character varying(200)", "character varying(100)")
        );
        assert!(widens("character varying(100)", "text") && !widens("text", "integer"));
        assert!(widens("varchar(10)", "text") && widens("text", "longtext") && !widens("longtext", "text"));
        assert!(!widens("text", "varchar(10)"));
        assert!(widens("enum('a','b')", "enum('a','b','c')") && !widens("enum('a','b')", "enum('a')"));
    }
}
