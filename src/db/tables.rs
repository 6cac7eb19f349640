//! Where a database's history lives: sqlx's table (`_sqlx_migrations`, or what `sqlx.toml` names in
//! `[migrate] table-name`) and Godwit's log beside it, in the same schema. sqlx pastes the setting
//! into its SQL as written, so it may be schema-qualified and quoted; Godwit reads it into parts and
//! quotes them itself.

use crate::syntax::Dialect;

pub const SQLX_TABLE: &str = "_sqlx_migrations";
pub const LOG_TABLE: &str = "_godwit_log";
/// The migration lock's row on a Galera cluster, where a server's own locks are each node's.
pub const LOCK_TABLE: &str = "_godwit_lock";

/// One part of a name as written: quoted parts keep their case, bare ones fold as the database does.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    text: String,
    quoted: bool,
}

impl Part {
    /// The name the catalogs hold. PostgreSQL folds a bare name to lower case; MySQL and SQLite
    /// keep it as written.
    fn stored(&self, d: Dialect) -> String {
        match (self.quoted, d) {
            (false, Dialect::Postgres) => self.text.to_lowercase(),
            _ => self.text.clone(),
        }
    }
}

/// A table name, maybe in a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    schema: Option<Part>,
    name: Part,
}

impl TableName {
    fn bare(name: &str) -> TableName {
        TableName { schema: None, name: Part { text: name.into(), quoted: false } }
    }

    /// Reads sqlx's `table-name`: `name`, `schema.name`, either part in `"…"` or `` `…` `` quotes
    /// (a doubled quote inside stands for one).
    pub fn parse(raw: &str) -> Result<TableName, String> {
        let mut parts = Vec::new();
        let mut chars = raw.trim().chars().peekable();
        loop {
            let part = match chars.peek().copied() {
                Some(q @ ('"' | '`')) => {
                    chars.next();
                    let mut text = String::new();
                    loop {
                        match chars.next() {
                            Some(c) if c == q && chars.peek() == Some(&q) => {
                                chars.next();
                                text.push(q);
                            }
                            Some(c) if c == q => break,
                            Some(c) => text.push(c),
                            None => return Err(format!("`{raw}` has a quote that is not closed")),
                        }
                    }
                    Part { text, quoted: true }
                }
                _ => {
                    let mut text = String::new();
                    while let Some(&c) = chars.peek() {
                        if c == '.' {
                            break;
                        }
                        if !(c.is_alphanumeric() || c == '_' || c == '$') {
                            return Err(format!(
                                "`{raw}` has `{c}` outside quotes: write the name in double quotes to use it"
                            ));
                        }
                        text.push(c);
                        chars.next();
                    }
                    Part { text, quoted: false }
                }
            };
            if part.text.is_empty() {
                return Err(format!("`{raw}` has an empty name"));
            }
            // Catalog lookups carry the name as a string literal: keep those plain.
            if part.text.contains(['\'', '\\', '\0']) {
                return Err(format!("`{raw}`: Godwit does not use names with quotes, backslashes or NUL in them"));
            }
            parts.push(part);
            match chars.next() {
                None => break,
                Some('.') => continue,
                Some(c) => return Err(format!("`{raw}` has `{c}` after a quoted name")),
            }
        }
        match parts.len() {
            1 => Ok(TableName { schema: None, name: parts.remove(0) }),
            2 => {
                let name = parts.pop().expect("two parts");
                Ok(TableName { schema: parts.pop(), name })
            }
            _ => Err(format!("`{raw}` has more than a schema and a table name")),
        }
    }

    /// The table beside this one, in the same schema.
    fn beside(&self, name: &str) -> TableName {
        TableName { schema: self.schema.clone(), name: Part { text: name.into(), quoted: false } }
    }

    /// The name as SQL, quoted for `d`.
    pub fn sql(&self, d: Dialect) -> String {
        let q = |p: &Part| quote(&p.stored(d), d);
        match &self.schema {
            Some(s) => format!("{}.{}", q(s), q(&self.name)),
            None => q(&self.name),
        }
    }

    /// The table's own name, as the catalogs hold it.
    pub fn stored_name(&self, d: Dialect) -> String {
        self.name.stored(d)
    }

    /// The schema, as the catalogs hold it; `None` for the connection's own.
    pub fn stored_schema(&self, d: Dialect) -> Option<String> {
        self.schema.as_ref().map(|s| s.stored(d))
    }
}

/// An identifier quoted for `d`.
pub fn quote(name: &str, d: Dialect) -> String {
    match d {
        Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// The history tables of a project's databases, and the schemas made before them
/// (`[migrate] create-schemas`, sent as written, as sqlx does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub history: TableName,
    pub log: TableName,
    pub create_schemas: Vec<String>,
}

impl Default for Tables {
    fn default() -> Self {
        Tables { history: TableName::bare(SQLX_TABLE), log: TableName::bare(LOG_TABLE), create_schemas: Vec::new() }
    }
}

impl Tables {
    /// sqlx's table as `table-name` says, the log beside it.
    pub fn new(history: TableName, create_schemas: Vec<String>) -> Tables {
        let log = history.beside(LOG_TABLE);
        Tables { history, log, create_schemas }
    }

    /// What a scratch database beside one of the project's uses. A MySQL "schema" is another
    /// database on the server: a scratch database writing there would write into the environment's
    /// own history. So there, a scratch keeps its history inside itself.
    pub fn for_scratch(&self, d: Dialect) -> Tables {
        match (d, &self.history.schema) {
            (Dialect::MySql, Some(_)) => {
                let history = TableName { schema: None, name: self.history.name.clone() };
                Tables::new(history, Vec::new())
            }
            _ => self.clone(),
        }
    }

    /// Where a Galera cluster's migration lock row goes: beside the log.
    pub fn lock(&self) -> TableName {
        self.history.beside(LOCK_TABLE)
    }

    /// Whether these are sqlx's and Godwit's usual tables.
    pub fn is_default(&self) -> bool {
        *self == Tables::default()
    }

    /// Fills `{history}`, `{log}` (quoted names), `{history_name}`, `{log_name}` (the tables' own
    /// names as string literals, for the catalogs) and `{log_sql}` (the quoted name as a literal, for
    /// `to_regclass`) into one of Godwit's own queries; `{lock}` and `{lock_name}` likewise.
    pub fn fill(&self, sql: &str, d: Dialect) -> String {
        let lock = self.lock();
        sql.replace("{history}", &self.history.sql(d))
            .replace("{log}", &self.log.sql(d))
            .replace("{lock}", &lock.sql(d))
            .replace("{lock_name}", &format!("'{}'", lock.stored_name(d)))
            .replace("{history_name}", &format!("'{}'", self.history.stored_name(d)))
            .replace("{log_name}", &format!("'{}'", self.log.stored_name(d)))
            .replace("{log_sql}", &format!("'{}'", self.log.sql(d)))
    }

    /// The SQL that makes the schemas `create-schemas` names, as sqlx sends it; SQLite cannot make
    /// one (sqlx checks that it is attached), so nothing there.
    pub fn create_schemas_sql(&self, d: Dialect) -> String {
        if d == Dialect::Sqlite {
            return String::new();
        }
        self.create_schemas.iter().map(|s| format!("CREATE SCHEMA IF NOT EXISTS {s};\n")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_as_sqlx_would_paste_them() {
        let t = TableName::parse("meta.schema_history").unwrap();
        assert_eq!(t.sql(Dialect::Postgres), "\"meta\".\"schema_history\"");
        assert_eq!(t.sql(Dialect::MySql), "`meta`.`schema_history`");
        assert_eq!(t.stored_schema(Dialect::Postgres).as_deref(), Some("meta"));

        // Bare names fold on PostgreSQL only; quoted ones keep their case and may hold dots.
        let t = TableName::parse("Meta.\"Schema.History\"").unwrap();
        assert_eq!(t.sql(Dialect::Postgres), "\"meta\".\"Schema.History\"");
        assert_eq!(t.sql(Dialect::Sqlite), "\"Meta\".\"Schema.History\"");
        assert_eq!(t.stored_name(Dialect::Postgres), "Schema.History");

        let t = TableName::parse("`my db`.`a``b`").unwrap();
        assert_eq!(t.sql(Dialect::MySql), "`my db`.`a``b`");
        assert_eq!(TableName::parse("\"a\"\"b\"").unwrap().stored_name(Dialect::Postgres), "a\"b");

        for bad in ["", "a.", ".a", "a.b.c", "\"open", "a b", "a;drop table x", "\"it's\"", "\"a\"b"] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_log_goes_beside_the_history_and_a_mysql_scratch_keeps_its_own() {
        let t = Tables::new(TableName::parse("meta.h").unwrap(), vec!["meta".into()]);
        assert_eq!(t.log.sql(Dialect::Postgres), "\"meta\".\"_godwit_log\"");
        assert_eq!(t.for_scratch(Dialect::Postgres), t);
        let s = t.for_scratch(Dialect::MySql);
        assert_eq!(s.history.sql(Dialect::MySql), "`h`");
        assert_eq!(s.log.sql(Dialect::MySql), "`_godwit_log`");
        assert!(s.create_schemas.is_empty());
        assert_eq!(
            t.fill("SELECT * FROM {history} JOIN {log} WHERE n IN ({history_name}, {log_name})", Dialect::Postgres),
            "SELECT * FROM \"meta\".\"h\" JOIN \"meta\".\"_godwit_log\" WHERE n IN ('h', '_godwit_log')"
        );
        assert!(Tables::default().is_default());
        assert_eq!(Tables::default().history.sql(Dialect::Sqlite), "\"_sqlx_migrations\"");
    }
}
