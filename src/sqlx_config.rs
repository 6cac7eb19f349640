//! `sqlx.toml`, as sqlx-cli 0.9 reads it from the folder it runs in (or `--config FILE`). Its
//! `[migrate]` section says where the history table is, which schemas to make first, which
//! characters checksums leave out, where the migrations are and what `migrate add` writes next;
//! `[common] database-url-var` names the URL's variable. Godwit follows every one of them, so the
//! two tools keep one history. Keys are read as sqlx reads them: one it does not know is an error
//! here too, never skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::db::{TableName, Tables};
use crate::error::{Error, Result};

pub const FILE: &str = "sqlx.toml";

/// The settings Godwit follows, as read from one file.
#[derive(Debug, Clone, Default)]
pub struct SqlxConfig {
    /// The file they came from.
    pub path: PathBuf,
    pub database_url_var: Option<String>,
    pub migrations_dir: Option<String>,
    pub tables: Tables,
    pub ignored_chars: BTreeSet<char>,
    pub migration_type: MigrationType,
    pub versioning: Versioning,
}

/// `[migrate.defaults] migration-type`: what `new` writes when not told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationType {
    /// As the newest migration is (up and down files, or one file); one file when there is none.
    #[default]
    Inferred,
    Simple,
    Reversible,
}

/// `[migrate.defaults] migration-versioning`: how `new` numbers a migration when not told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Versioning {
    /// Sequential when the newest two differ by one (or the only one is 0 or 1), else a timestamp.
    #[default]
    Inferred,
    Timestamp,
    Sequential,
}

// The file's shape, as sqlx 0.9 declares it: unknown keys are refused in the sections that bear on
// migrations and on the URL; `[macros]` and external drivers are for sqlx's compile-time macros.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct File {
    common: Common,
    drivers: Drivers,
    #[allow(dead_code)]
    macros: toml::Table,
    migrate: Migrate,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct Common {
    database_url_var: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct Drivers {
    #[allow(dead_code)]
    mysql: Empty,
    #[allow(dead_code)]
    postgres: Empty,
    sqlite: Sqlite,
    #[allow(dead_code)]
    external: toml::Table,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct Sqlite {
    unsafe_load_extensions: Vec<toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct Migrate {
    create_schemas: BTreeSet<String>,
    table_name: Option<String>,
    migrations_dir: Option<String>,
    ignored_chars: BTreeSet<char>,
    defaults: Defaults,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct Defaults {
    migration_type: MigrationType,
    migration_versioning: Versioning,
}

/// Reads `sqlx.toml` in `dir`; `None` when there is none.
pub fn in_folder(dir: &Path) -> Result<Option<SqlxConfig>> {
    let path = dir.join(FILE);
    if !path.is_file() {
        return Ok(None);
    }
    read(&path).map(Some)
}

/// Reads a config file (sqlx-cli's `--config FILE`).
pub fn read(path: &Path) -> Result<SqlxConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, &e))?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<SqlxConfig> {
    let bad = |why: String| Error::input(format!("{}: {why} Nothing was read or run.", path.display()));
    let file: File = toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
    // sqlx-cli loads these into its own process: a project's file must not make Godwit load a
    // library from wherever it points.
    if !file.drivers.sqlite.unsafe_load_extensions.is_empty() {
        return Err(bad(
            "`[drivers.sqlite] unsafe-load-extensions` asks to load SQLite extensions (native code) when \
             migrating; Godwit does not load code a project's file names."
                .into(),
        ));
    }
    if let Some(var) = &file.common.database_url_var
        && (var.is_empty() || var.contains(['=', '\0']))
    {
        return Err(bad(format!("`[common] database-url-var = \"{var}\"` is not a variable name.")));
    }
    let m = file.migrate;
    let history = match &m.table_name {
        Some(raw) => TableName::parse(raw).map_err(|why| bad(format!("`[migrate] table-name`: {why}.")))?,
        None => Tables::default().history,
    };
    // Sent as written, as sqlx sends them: they must be one name each, nothing more.
    for s in &m.create_schemas {
        TableName::parse(s)
            .ok()
            .filter(|n| n.stored_schema(crate::syntax::Dialect::Postgres).is_none())
            .ok_or_else(|| bad(format!("`[migrate] create-schemas` has `{s}`, which is not a schema name.")))?;
    }
    Ok(SqlxConfig {
        path: path.to_path_buf(),
        database_url_var: file.common.database_url_var,
        migrations_dir: m.migrations_dir.map(|d| d.trim_end_matches('/').to_string()).filter(|d| !d.is_empty()),
        tables: Tables::new(history, m.create_schemas.into_iter().collect()),
        ignored_chars: m.ignored_chars,
        migration_type: m.defaults.migration_type,
        versioning: m.defaults.migration_versioning,
    })
}

/// Where the history is, as `sqlx` says (sqlx's own tables without a file).
pub fn tables(sqlx: Option<&SqlxConfig>) -> Tables {
    sqlx.map(|c| c.tables.clone()).unwrap_or_default()
}

/// How checksums are computed, as `sqlx` says (of every character without a file).
pub fn checksums(sqlx: Option<&SqlxConfig>) -> crate::migration::source::Checksums {
    crate::migration::source::Checksums::ignoring(sqlx.map(|c| c.ignored_chars.clone()).unwrap_or_default())
}

/// The migrations folder when godwit.toml and sqlx.toml may both name one: the one that does, or
/// `migrations`. Both naming different folders is an error that names both files.
pub fn migrations_dir(godwit: Option<(&Path, &str)>, sqlx: Option<&SqlxConfig>) -> Result<String> {
    let theirs = sqlx.and_then(|c| c.migrations_dir.as_deref().map(|d| (c.path.as_path(), d)));
    match (godwit, theirs) {
        (Some((gpath, ours)), Some((spath, theirs))) if !same_folder(ours, theirs) => Err(Error::input(format!(
            "{} says the migrations are in `{ours}` and {} says `{theirs}`: the two tools would apply different \
             folders. Say it in one place (remove `migrations` from {}, and sqlx-cli and Godwit both read {}), or \
             make them the same. Nothing was read or run.",
            gpath.display(),
            spath.display(),
            gpath.display(),
            spath.display()
        ))),
        (Some((_, ours)), _) => Ok(ours.to_string()),
        (None, Some((_, theirs))) => Ok(theirs.to_string()),
        (None, None) => Ok("migrations".into()),
    }
}

pub(crate) fn same_folder(a: &str, b: &str) -> bool {
    let parts = |p: &str| -> Vec<std::ffi::OsString> {
        Path::new(p).iter().filter(|c| *c != ".").map(|c| c.to_os_string()).collect()
    };
    parts(a) == parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::Dialect;

    fn parsed(text: &str) -> Result<SqlxConfig> {
        parse(Path::new("sqlx.toml"), text)
    }

    #[test]
    fn every_migrate_key_is_read() {
        let c = parsed(
            "[common]\ndatabase-url-var = \"APP_DB\"\n\
             [migrate]\ntable-name = \"meta.schema_history\"\nmigrations-dir = \"db/migrations/\"\n\
             create-schemas = [\"meta\"]\nignored-chars = [\"\\r\", \"\\uFEFF\"]\n\
             [migrate.defaults]\nmigration-type = \"reversible\"\nmigration-versioning = \"sequential\"\n\
             [macros.preferred-crates]\ndate-time = \"chrono\"\n[drivers.postgres]\n",
        )
        .unwrap();
        assert_eq!(c.database_url_var.as_deref(), Some("APP_DB"));
        assert_eq!(c.migrations_dir.as_deref(), Some("db/migrations"));
        assert_eq!(c.tables.history.sql(Dialect::Postgres), "\"meta\".\"schema_history\"");
        assert_eq!(c.tables.log.sql(Dialect::Postgres), "\"meta\".\"_godwit_log\"");
        assert_eq!(c.tables.create_schemas, ["meta"]);
        assert_eq!(c.ignored_chars, BTreeSet::from(['\r', '\u{feff}']));
        assert_eq!((c.migration_type, c.versioning), (MigrationType::Reversible, Versioning::Sequential));

        let empty = parsed("").unwrap();
        assert!(empty.tables.is_default() && empty.ignored_chars.is_empty());
        assert_eq!((empty.migration_type, empty.versioning), (MigrationType::Inferred, Versioning::Inferred));
    }

    #[test]
    fn what_godwit_cannot_follow_is_refused() {
        for bad in [
            "[migrate]\nsomething-new = 1\n",
            "[migrate.defaults]\nmigration-type = \"sometimes\"\n",
            "[common]\nother = 1\n",
            "[elsewhere]\n",
            "[migrate]\ntable-name = \"a.b.c\"\n",
            "[migrate]\ncreate-schemas = [\"meta; DROP TABLE users\"]\n",
            "[drivers.sqlite]\nunsafe-load-extensions = [\"./evil\"]\n",
            "not toml",
        ] {
            assert!(parsed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_migrations_folder_is_said_in_one_place_or_the_same_in_both() {
        let g = Path::new("godwit.toml");
        let s = parsed("[migrate]\nmigrations-dir = \"db/migrations\"\n").unwrap();
        assert_eq!(migrations_dir(None, None).unwrap(), "migrations");
        assert_eq!(migrations_dir(Some((g, "m")), None).unwrap(), "m");
        assert_eq!(migrations_dir(None, Some(&s)).unwrap(), "db/migrations");
        assert_eq!(migrations_dir(Some((g, "./db/migrations")), Some(&s)).unwrap(), "./db/migrations");
        assert!(migrations_dir(Some((g, "migrations")), Some(&s)).is_err());
        assert_eq!(migrations_dir(Some((g, "m")), Some(&parsed("").unwrap())).unwrap(), "m");
    }
}
