//! `sqlx.toml`, as sqlx-cli 0.9 reads it from the project folder. Its `[migrate]` section can move
//! the history table, strip characters before checksums, or move the migrations folder. Godwit does
//! not follow those yet: a folder that sets them would get a history apart from sqlx-cli's, and each
//! tool would run the other's migrations again. So they are refused, naming the file and the key,
//! before anything connects. A `migrations-dir` that says what Godwit uses anyway is fine.

use std::path::Path;

use crate::error::{Error, Result};

pub const FILE: &str = "sqlx.toml";

/// Refuses a `sqlx.toml` in `dir` whose `[migrate]` settings Godwit would not follow, for a project
/// whose migrations are in `migrations` (relative to `dir`).
pub fn check(dir: &Path, migrations: &str) -> Result<()> {
    let path = dir.join(FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let doc: toml::Table =
        toml::from_str(&text).map_err(|e| Error::input(format!("{} is not valid TOML: {e}", path.display())))?;
    let Some(migrate) = doc.get("migrate").and_then(toml::Value::as_table) else { return Ok(()) };
    let refuse = |key: &str, why: &str| {
        Err(Error::input(format!(
            "{} sets `[migrate] {key}`, which Godwit does not follow yet: {why} Nothing was read or run. Use \
             sqlx-cli for this folder, or remove the setting if no migration was applied with it.",
            path.display()
        )))
    };
    for key in migrate.keys() {
        match key.as_str() {
            "table-name" | "create-schemas" => {
                return refuse(
                    key,
                    "Godwit would keep its history in `_sqlx_migrations`, where sqlx-cli does not look, \
                                    and each would run the other's migrations again.",
                );
            }
            "ignored-chars" => {
                return refuse(key, "the checksums would differ, and each tool would call the other's history edited.");
            }
            "migrations-dir" => {
                let theirs = migrate[key].as_str().unwrap_or_default();
                let same = Path::new(theirs.trim_end_matches('/')).components().eq(Path::new(migrations).components());
                if !same {
                    return Err(Error::input(format!(
                        "{} says the migrations are in `{theirs}`, and Godwit reads `{migrations}`: the two tools would \
                         apply different folders. Make them the same (`migrations = \"{theirs}\"` in godwit.toml, or \
                         --source {theirs} without one). Nothing was read or run.",
                        path.display()
                    )));
                }
            }
            // What `sqlx migrate add` writes next: no bearing on what runs.
            "defaults" => {}
            other => return refuse(other, "Godwit does not know what it changes."),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_would_split_the_history_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let with = |text: &str| {
            std::fs::write(d.path().join(FILE), text).unwrap();
            check(d.path(), "migrations")
        };
        assert!(check(d.path(), "migrations").is_ok(), "no sqlx.toml");
        assert!(with("[common]\ndatabase-url-var = \"APP_DB\"\n").is_ok());
        assert!(
            with("[migrate]\nmigrations-dir = \"migrations/\"\n[migrate.defaults]\nmigration-type = \"reversible\"\n")
                .is_ok()
        );
        for bad in [
            "[migrate]\ntable-name = \"meta.schema_history\"\n",
            "[migrate]\ncreate-schemas = [\"meta\"]\n",
            "[migrate]\nignored-chars = [\"\\r\"]\n",
            "[migrate]\nmigrations-dir = \"db/migrations\"\n",
            "[migrate]\nsomething-new = 1\n",
            "not toml",
        ] {
            assert!(with(bad).is_err(), "{bad}");
        }
    }
}
