//! A database's schema as a normalised model (objects by kind and name, each with its definition as
//! the server states it), and the difference between two. `verify`, `drift` and `diff` all read
//! schemas through `db::Inspect::inspect` and compare them here.

mod bookkeeping;
pub mod desired;
pub mod generate;
pub mod portable;
pub use bookkeeping::{Compared, OtherTool, Spelt};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kinds of objects Godwit compares, in the order a schema lists them.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ObjectKind {
    Extension,
    Schema,
    Type,
    Sequence,
    /// Its columns (name, type, nullability, default, collation, identity) and table options.
    Table,
    /// Primary key, unique, check and foreign key constraints, named by their definition (the
    /// server's generated names are noise).
    Constraint,
    Index,
    View,
    MaterializedView,
    Function,
    Trigger,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Extension => "extension",
            ObjectKind::Schema => "schema",
            ObjectKind::Type => "type",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Table => "table",
            ObjectKind::Constraint => "constraint",
            ObjectKind::Index => "index",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Function => "function",
            ObjectKind::Trigger => "trigger",
        }
    }

    /// The kind a catalog query names in its first column.
    pub fn from_name(s: &str) -> Option<ObjectKind> {
        Some(match s {
            "extension" => ObjectKind::Extension,
            "schema" => ObjectKind::Schema,
            "type" => ObjectKind::Type,
            "sequence" => ObjectKind::Sequence,
            "table" => ObjectKind::Table,
            "constraint" => ObjectKind::Constraint,
            "index" => ObjectKind::Index,
            "view" => ObjectKind::View,
            "materialized view" => ObjectKind::MaterializedView,
            "function" => ObjectKind::Function,
            "trigger" => ObjectKind::Trigger,
            _ => return None,
        })
    }
}

/// One object: what it is, its name (qualified by its table for constraints, indexes and
/// triggers), and its definition.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[ts(export, rename = "SchemaObject")]
pub struct Object {
    pub kind: ObjectKind,
    pub name: String,
    pub definition: String,
}

/// A schema: its objects, sorted by kind and name.
#[derive(ts_rs::TS, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[ts(export)]
pub struct Schema {
    pub objects: Vec<Object>,
}

impl Object {
    /// An object from a catalog row, its definition trimmed and runs of blanks made one; none for
    /// a kind Godwit does not know.
    pub fn from_row(kind: &str, name: String, definition: &str) -> Option<Object> {
        Some(Object { kind: ObjectKind::from_name(kind)?, name, definition: normalise(definition) })
    }
}

impl Schema {
    /// Builds a schema from catalog rows `(kind, name, definition)` (see [`Object::from_row`]).
    pub fn from_rows(rows: impl IntoIterator<Item = (String, String, String)>) -> Schema {
        Schema::from_objects(
            rows.into_iter().filter_map(|(kind, name, definition)| Object::from_row(&kind, name, &definition)),
        )
    }

    /// Builds a schema from objects: sorted by kind and name, the last of two alike kept.
    pub fn from_objects(objects: impl IntoIterator<Item = Object>) -> Schema {
        let mut sorted: Vec<Object> = objects.into_iter().collect();
        sorted.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        let mut kept: Vec<Object> = Vec::with_capacity(sorted.len());
        for o in sorted {
            if kept.last().is_some_and(|l| l.kind == o.kind && l.name == o.name) {
                kept.pop();
            }
            kept.push(o);
        }
        Schema { objects: kept }
    }
}

impl Schema {
    /// The schema as a text file for a pull request to show: each object, its kind and name, then
    /// its definition. It is read, not run.
    pub fn to_text(&self, dialect: &str) -> String {
        let mut out = format!(
            "-- The {dialect} schema as Godwit reads it, written after each run (schema_file in godwit.toml).\n\
             -- For reading and review: it is not a script to run.\n"
        );
        for o in &self.objects {
            out.push_str(&format!("\n-- {} {}\n{}\n", o.kind.as_str(), o.name, o.definition));
        }
        out
    }
}

/// Whitespace as a person would not mind it: each line trimmed of trailing blanks, blank lines and
/// runs of spaces inside a line made one.
fn normalise(definition: &str) -> String {
    definition
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What differs for one object between two schemas: added (no `before`), removed (no `after`), or
/// changed (both).
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[ts(export, rename = "SchemaChange")]
pub struct Change {
    pub kind: ObjectKind,
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// A changed object's lines, each marked: only before (`-`), only after (`+`), both (` `).
    pub lines: Vec<MarkedLine>,
}

/// One line of a changed object's definition, and which side has it.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[ts(export)]
pub struct MarkedLine {
    /// `-` only before, `+` only after, ` ` both.
    pub mark: String,
    pub text: String,
}

impl Change {
    pub fn what(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        }
    }
}

/// Every object that differs from `a` to `b`, in schema order.
pub fn diff(a: &Schema, b: &Schema) -> Vec<Change> {
    let index = |s: &Schema| -> BTreeMap<(ObjectKind, String), String> {
        s.objects.iter().map(|o| ((o.kind, o.name.clone()), o.definition.clone())).collect()
    };
    let (a, b) = (index(a), index(b));
    let mut keys: Vec<&(ObjectKind, String)> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (before, after) = (a.get(k), b.get(k));
            (before != after).then(|| Change {
                kind: k.0,
                name: k.1.clone(),
                before: before.cloned(),
                after: after.cloned(),
                lines: match (before, after) {
                    (Some(b), Some(a)) => line_diff(b, a)
                        .into_iter()
                        .map(|(mark, text)| MarkedLine { mark: mark.to_string(), text })
                        .collect(),
                    _ => Vec::new(),
                },
            })
        })
        .collect()
}

/// The first few of `changes` in words, seen from their `after` side ("only here": in it alone),
/// for a message; a changed object names the lines that differ (a table's columns, say).
pub fn listed(changes: &[Change]) -> String {
    let mut each: Vec<String> = changes
        .iter()
        .take(5)
        .map(|c| {
            let here = match (&c.before, &c.after) {
                (None, _) => "only here".to_string(),
                (_, None) => "missing here".to_string(),
                (Some(made), Some(here)) => match (only_in(here, made), only_in(made, here)) {
                    (h, m) if h.is_empty() && m.is_empty() => "different here".to_string(),
                    (h, m) if m.is_empty() => format!("here also `{h}`"),
                    (h, m) if h.is_empty() => format!("here without `{m}`"),
                    (h, m) => format!("`{h}` here, not `{m}`"),
                },
            };
            format!("{} {}: {here}", c.kind.as_str(), c.name)
        })
        .collect();
    if changes.len() > 5 {
        each.push("…".into());
    }
    each.join("; ")
}

/// The first lines of `a` that `b` does not have, shortened, for `listed`.
fn only_in(a: &str, b: &str) -> String {
    let theirs: Vec<&str> = b.lines().map(str::trim).collect();
    let mine: Vec<&str> = a.lines().map(str::trim).filter(|l| !l.is_empty() && !theirs.contains(l)).collect();
    let mut text = mine.iter().take(2).copied().collect::<Vec<_>>().join(", ");
    if text.chars().count() > 100 {
        text = text.chars().take(99).collect::<String>() + "…";
    } else if mine.len() > 2 {
        text.push_str(", …");
    }
    text
}

/// `diff`, with other migration tools' history tables (and their keys and indexes) set apart.
pub fn compare(a: &Schema, b: &Schema) -> Compared {
    bookkeeping::set_apart(diff(a, b))
}

/// Two databases' schemas compared: as stated where both are of one kind, in shared words
/// ([`portable`]) where they are not, with what is only spelt differently set apart.
pub fn compare_databases(a: &Schema, da: crate::syntax::Dialect, b: &Schema, db: crate::syntax::Dialect) -> Compared {
    if da == db {
        return compare(a, b);
    }
    let (pa, pb) = (portable::portable(a, da), portable::portable(b, db));
    let mut compared = compare(&pa.schema, &pb.schema);
    compared.spelt = pa
        .schema
        .objects
        .iter()
        .filter(|o| pb.schema.objects.contains(o))
        .filter_map(|o| {
            let key = (o.kind, o.name.clone());
            let (sa, sb) = (pa.sources.get(&key)?, pb.sources.get(&key)?);
            (sa != sb).then(|| Spelt { kind: o.kind, name: o.name.clone(), a: sa.clone(), b: sb.clone() })
        })
        .collect();
    compared
}

/// Which lines of `after` are new, which of `before` are gone, and which both have, in order (the
/// longest run of lines in common kept): `-`, `+` or ` ` before each line.
pub fn line_diff(before: &str, after: &str) -> Vec<(char, String)> {
    let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    // Longest common subsequence, from the end; definitions are short.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push((' ', a[i].to_string()));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(('-', a[i].to_string()));
            i += 1;
        } else {
            out.push(('+', b[j].to_string()));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(rows: &[(&str, &str, &str)]) -> Schema {
        Schema::from_rows(rows.iter().map(|(k, n, d)| (k.to_string(), n.to_string(), d.to_string())))
    }

    #[test]
    fn differences_are_per_object_and_blank_space_is_not_one() {
        let a = schema(&[
            ("table", "t", "id integer NOT NULL\nname text"),
            ("index", "t.t_name", "CREATE INDEX t_name ON t (name)"),
            ("view", "v", "SELECT 1"),
            ("mystery", "x", "left out"),
        ]);
        let b = schema(&[
            ("table", "t", "id  integer NOT NULL \nname text\n"),
            ("view", "v", "SELECT 2"),
            ("function", "f()", "BEGIN END"),
        ]);
        let d = diff(&a, &b);
        let seen: Vec<(&str, &str, &str)> = d.iter().map(|c| (c.kind.as_str(), c.name.as_str(), c.what())).collect();
        assert_eq!(seen, [("index", "t.t_name", "removed"), ("view", "v", "changed"), ("function", "f()", "added")]);
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn a_line_diff_marks_what_each_side_has_alone() {
        let d =
            line_diff("id integer\nname varchar(50)\nnote text", "id integer\nname varchar(100)\nnote text\nextra int");
        let marked: Vec<String> = d.iter().map(|(m, l)| format!("{m}{l}")).collect();
        assert_eq!(marked, [" id integer", "-name varchar(50)", "+name varchar(100)", " note text", "+extra int"]);
    }

    #[test]
    fn a_changed_object_is_listed_with_its_lines_that_differ() {
        let made = schema(&[("table", "t", "id integer\nname varchar(50)"), ("table", "u", "id integer")]);
        let here = schema(&[("table", "t", "id integer\nname varchar(100)"), ("table", "u", "id integer\nextra text")]);
        assert_eq!(
            listed(&diff(&made, &here)),
            "table t: `name varchar(100)` here, not `name varchar(50)`; table u: here also `extra text`"
        );
    }
}
