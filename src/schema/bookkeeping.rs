//! Other migration tools' own tables: a project that switched to Godwit keeps the old tool's
//! history table until someone drops it. It is not the schema the migrations make, so comparing
//! schemas sets it apart (with its key and index) and says once what it is.

use serde::Serialize;

use super::{Change, ObjectKind};

/// Another tool's history table found where two schemas were compared.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export)]
pub struct OtherTool {
    pub tool: String,
    pub table: String,
}

/// Changes between two schemas, with other tools' history tables set apart.
#[derive(ts_rs::TS, Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[ts(export, rename = "SchemaComparison")]
pub struct Compared {
    pub changes: Vec<Change>,
    pub other_tools: Vec<OtherTool>,
    /// Between databases of different kinds: objects alike in what they do that each database
    /// spells its own way (`integer` and `int(11)`), with what each states.
    pub spelt: Vec<Spelt>,
}

/// An object two databases of different kinds state differently, alike in what it does.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export)]
pub struct Spelt {
    pub kind: ObjectKind,
    /// Its name in shared words (an index by its table and columns).
    pub name: String,
    /// What each side's database states (`kind name: definition`, one per object read).
    pub a: Vec<String>,
    pub b: Vec<String>,
}

/// The tool whose history table this is, told by its name and its columns; `None` for a table of
/// the project's own.
fn tool_of(table: &str, columns: &str) -> Option<&'static str> {
    let bare = table.rsplit('.').next().unwrap_or(table);
    let has = |c: &str| columns.lines().any(|l| l.split_whitespace().next() == Some(c));
    match bare {
        "alembic_version" if has("version_num") => Some("Alembic"),
        "flyway_schema_history" if has("installed_rank") && has("success") => Some("Flyway"),
        "schema_migrations" if has("version") && has("dirty") => Some("golang-migrate"),
        "schema_migrations" if has("version") && columns.lines().count() == 1 => Some("dbmate"),
        _ => None,
    }
}

/// The table a constraint or index belongs to, as the inspectors name and define them.
fn table_of(c: &Change) -> Option<String> {
    let def = c.before.as_deref().or(c.after.as_deref()).unwrap_or_default();
    match c.kind {
        ObjectKind::Table => Some(c.name.clone()),
        ObjectKind::Constraint => c.name.split_whitespace().next().map(str::to_string),
        // PostgreSQL and SQLite define an index `… ON table …`; MySQL names it `table.index`.
        ObjectKind::Index => {
            let words: Vec<&str> = def.split_whitespace().collect();
            match words.iter().position(|w| w.eq_ignore_ascii_case("ON")).and_then(|on| words.get(on + 1)) {
                Some(table) => Some(table.split('(').next().unwrap_or(table).replace(['"', '`'], "")),
                None => c.name.rsplit_once('.').map(|(t, _)| t.to_string()),
            }
        }
        _ => None,
    }
}

/// `changes` with other tools' history tables, and what belongs to them, set apart.
pub fn set_apart(changes: Vec<Change>) -> Compared {
    // Only a table one side lacks: where both have it, it is the project's own.
    let other_tools: Vec<OtherTool> = changes
        .iter()
        .filter(|c| c.kind == ObjectKind::Table && (c.before.is_none() || c.after.is_none()))
        .filter_map(|c| {
            let columns = c.before.as_deref().or(c.after.as_deref()).unwrap_or_default();
            tool_of(&c.name, columns).map(|tool| OtherTool { tool: tool.into(), table: c.name.clone() })
        })
        .collect();
    let theirs = |c: &Change| {
        table_of(c)
            .is_some_and(|t| other_tools.iter().any(|o| o.table == t || o.table.rsplit('.').next() == Some(t.as_str())))
    };
    let changes = changes.into_iter().filter(|c| !theirs(c)).collect();
    Compared { changes, other_tools, spelt: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(kind: ObjectKind, name: &str, def: &str) -> Change {
        Change { kind, name: name.into(), before: None, after: Some(def.into()), lines: Vec::new() }
    }

    #[test]
    fn history_tables_are_told_apart_by_name_and_columns() {
        let changes = vec![
            added(ObjectKind::Table, "alembic_version", "version_num character varying(32) NOT NULL"),
            added(ObjectKind::Constraint, "alembic_version PRIMARY KEY (version_num)", "PRIMARY KEY (version_num)"),
            added(
                ObjectKind::Table,
                "flyway_schema_history",
                "installed_rank integer NOT NULL\nsuccess boolean NOT NULL",
            ),
            added(
                ObjectKind::Index,
                "flyway_schema_history_s_idx",
                "CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history USING btree (success)",
            ),
            added(ObjectKind::Table, "audit.schema_migrations", "version bigint NOT NULL\ndirty boolean NOT NULL"),
            added(ObjectKind::Table, "orders", "id integer NOT NULL"),
            added(ObjectKind::Index, "orders_id", "CREATE INDEX orders_id ON orders USING btree (id)"),
            // A table of the project's own that happens to have the name.
            added(ObjectKind::Table, "alembic_version2", "version_num text"),
        ];
        let c = set_apart(changes);
        let tools: Vec<(&str, &str)> = c.other_tools.iter().map(|o| (o.tool.as_str(), o.table.as_str())).collect();
        assert_eq!(
            tools,
            [
                ("Alembic", "alembic_version"),
                ("Flyway", "flyway_schema_history"),
                ("golang-migrate", "audit.schema_migrations")
            ]
        );
        let left: Vec<&str> = c.changes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(left, ["orders", "orders_id", "alembic_version2"]);
        let dbmate =
            set_apart(vec![added(ObjectKind::Table, "schema_migrations", "version character varying(128) NOT NULL")]);
        assert_eq!(dbmate.other_tools[0].tool, "dbmate");
        let own = set_apart(vec![added(ObjectKind::Table, "schema_migrations", "version text\nnote text")]);
        assert!(own.other_tools.is_empty() && own.changes.len() == 1);
    }
}
