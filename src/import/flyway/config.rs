//! Flyway's configuration, as far as it changes what the scripts are: `flyway.toml` or
//! `flyway.conf` (also under `conf/`) in the folder imported, for `locations` and placeholders.
//! Values that name environment variables (`${env.X}`, `${X}`) are not read: the folder is
//! somebody else's, and an environment's secrets must not end up in a migration file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub(super) struct Config {
    /// The file it came from, relative to the folder imported.
    pub file: Option<String>,
    /// `locations`, as written (`filesystem:sql`, `classpath:db/migration`, `sql`).
    pub locations: Vec<String>,
    /// Lower-cased names: Flyway matches them without regard to case.
    pub placeholders: BTreeMap<String, String>,
    pub prefix: String,
    pub suffix: String,
    pub replace: bool,
    pub table: String,
    pub default_schema: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            file: None,
            locations: Vec::new(),
            placeholders: BTreeMap::new(),
            prefix: "${".into(),
            suffix: "}".into(),
            replace: true,
            table: "flyway_schema_history".into(),
            default_schema: None,
        }
    }
}

const FILES: [&str; 4] = ["flyway.toml", "flyway.conf", "conf/flyway.toml", "conf/flyway.conf"];

impl Config {
    /// The first configuration file of `dir`, read; the defaults when there is none.
    pub fn find(dir: &Path) -> Result<Config> {
        for rel in FILES {
            let path = dir.join(rel);
            // Only a plain file: a link could lead anywhere.
            if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let text = super::super::read_text(dir, Path::new(rel))?;
            let mut config =
                if rel.ends_with(".toml") { Config::from_toml(&text, &path)? } else { Config::from_properties(&text) };
            config.file = Some(rel.to_string());
            if let Some((name, value)) = config.placeholders.iter().find(|(_, v)| v.contains("${")) {
                return Err(Error::input(format!(
                    "{} gives placeholder {name} the value {value}, which Flyway reads from the environment; the \
                     import does not read environment variables into migration files. Write the value itself \
                     there and import again",
                    path.display()
                )));
            }
            return Ok(config);
        }
        Ok(Config::default())
    }

    /// `flyway.key=value` lines (Java properties: `=` or `:`, `#` and `!` comments).
    fn from_properties(text: &str) -> Config {
        let mut c = Config::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with(['#', '!'])) {
            let Some(at) = line.find(['=', ':']) else { continue };
            let (key, value) = (line[..at].trim(), line[at + 1..].trim());
            let Some(key) = key.strip_prefix("flyway.") else { continue };
            c.set(key, Value::Text(value.to_string()));
        }
        c
    }

    fn from_toml(text: &str, path: &Path) -> Result<Config> {
        let doc: toml::Table =
            text.parse().map_err(|e| Error::input(format!("{} is not TOML Flyway reads: {e}", path.display())))?;
        let mut c = Config::default();
        if let Some(toml::Value::Table(flyway)) = doc.get("flyway") {
            let mut flat = Vec::new();
            flatten("", flyway, &mut flat);
            for (key, value) in flat {
                c.set(&key, value);
            }
        }
        Ok(c)
    }

    fn set(&mut self, key: &str, value: Value) {
        let text = || match &value {
            Value::Text(t) => t.clone(),
            Value::List(l) => l.join(","),
        };
        if let Some(name) = key.strip_prefix("placeholders.") {
            self.placeholders.insert(name.to_lowercase(), text());
            return;
        }
        match key {
            "locations" => {
                self.locations = match &value {
                    Value::List(l) => l.clone(),
                    Value::Text(t) => t.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
                }
            }
            "placeholderPrefix" => self.prefix = text(),
            "placeholderSuffix" => self.suffix = text(),
            "placeholderReplacement" => self.replace = !text().eq_ignore_ascii_case("false"),
            "table" => self.table = text(),
            "defaultSchema" => self.default_schema = Some(text()),
            "schemas" if self.default_schema.is_none() => {
                self.default_schema = text().split(',').next().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
            }
            _ => {}
        }
    }

    /// The folders the scripts are in, inside `dir`; `dir` itself when no location is set.
    /// `classpath:` is read as a Maven or Gradle project's `src/main/resources`.
    pub fn folders(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        if self.locations.is_empty() {
            return Ok(vec![dir.to_path_buf()]);
        }
        let mut out = Vec::new();
        for location in &self.locations {
            let rel = if let Some(rest) = location.strip_prefix("classpath:") {
                Path::new("src/main/resources").join(rest.trim_start_matches('/'))
            } else {
                PathBuf::from(location.strip_prefix("filesystem:").unwrap_or(location))
            };
            let path = dir.join(&rel);
            // A location Flyway would find elsewhere (a wildcard, cloud storage, a jar) is not left
            // out quietly: the import would lack its versions.
            let Ok(real) = std::fs::canonicalize(&path) else {
                return Err(Error::input(format!(
                    "{} sets location {location}, which is not a folder under {}; nothing was imported. Import \
                     from the folder that holds those scripts",
                    self.file.as_deref().unwrap_or("Flyway's configuration"),
                    dir.display()
                )));
            };
            if !real.starts_with(dir) {
                return Err(Error::input(format!(
                    "{} sets location {location}, which is outside {}; nothing was imported. Import from the \
                     folder that holds it",
                    self.file.as_deref().unwrap_or("Flyway's configuration"),
                    dir.display()
                )));
            }
            if real.is_dir() && !out.contains(&real) {
                out.push(real);
            }
        }
        Ok(out)
    }

    /// `sql` with its placeholders replaced, as Flyway runs it; the names it has no value for.
    pub fn substitute(&self, sql: &str, file_name: &str) -> (String, Vec<String>) {
        if !self.replace || self.prefix.is_empty() || self.suffix.is_empty() {
            return (sql.to_string(), Vec::new());
        }
        let (mut out, mut unset, mut rest) = (String::new(), Vec::new(), sql);
        while let Some(at) = rest.find(&self.prefix) {
            out.push_str(&rest[..at]);
            let after = &rest[at + self.prefix.len()..];
            let name_len = after
                .find(&self.suffix)
                .filter(|n| *n > 0 && after[..*n].chars().all(|c| c.is_alphanumeric() || "_.:-".contains(c)));
            let Some(n) = name_len else {
                out.push_str(&self.prefix);
                rest = after;
                continue;
            };
            let name = &after[..n];
            match self.value(name, file_name) {
                Some(v) => out.push_str(&v),
                None => {
                    if !unset.iter().any(|u: &String| u == name) {
                        unset.push(name.to_string());
                    }
                    out.push_str(&rest[at..at + self.prefix.len() + n + self.suffix.len()]);
                }
            }
            rest = &after[n + self.suffix.len()..];
        }
        out.push_str(rest);
        (out, unset)
    }

    /// A placeholder's value: the configuration's, or one of Flyway's own that does not depend on the
    /// database it runs against.
    fn value(&self, name: &str, file_name: &str) -> Option<String> {
        if let Some(v) = self.placeholders.get(&name.to_lowercase()) {
            return Some(v.clone());
        }
        match name.strip_prefix("flyway:")? {
            "filename" => Some(file_name.to_string()),
            "table" => Some(self.table.clone()),
            "defaultSchema" => self.default_schema.clone(),
            _ => None,
        }
    }
}

enum Value {
    Text(String),
    List(Vec<String>),
}

/// `[flyway] placeholders.a = "x"` and `[flyway.placeholders] a = "x"` alike: dotted keys.
fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            toml::Value::Array(a) => out.push((
                key,
                Value::List(a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect()),
            )),
            toml::Value::String(s) => out.push((key, Value::Text(s.clone()))),
            other => out.push((key, Value::Text(other.to_string()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_give_locations_and_placeholders() {
        let c = Config::from_properties(
            "# comment\nflyway.locations=filesystem:sql, classpath:db/migration\nflyway.placeholders.Owner = app\n\
             flyway.schemas=shop,audit\n",
        );
        assert_eq!(c.locations, ["filesystem:sql", "classpath:db/migration"]);
        assert_eq!(c.placeholders["owner"], "app");
        assert_eq!(c.default_schema.as_deref(), Some("shop"));
        let c = Config::from_toml(
            "[flyway]\nlocations = [\"filesystem:db\"]\nplaceholderPrefix = \"#[\"\nplaceholderSuffix = \"]\"\n\
             [flyway.placeholders]\nowner = \"app\"\n",
            Path::new("flyway.toml"),
        )
        .unwrap();
        assert_eq!(c.locations, ["filesystem:db"]);
        assert_eq!(
            c.substitute("GRANT ALL ON t TO #[owner]; -- #[flyway:filename]", "V1__a.sql").0,
            "GRANT ALL ON t TO app; -- V1__a.sql"
        );
    }

    #[test]
    fn unset_placeholders_are_named_and_left_alone() {
        let mut c = Config::default();
        c.placeholders.insert("owner".into(), "app".into());
        let (sql, unset) = c.substitute(
            "ALTER TABLE ${flyway:table} OWNER TO ${OWNER}; SELECT '${x}', '${x}', '${ not one }', '${';",
            "f",
        );
        assert_eq!(sql, "ALTER TABLE flyway_schema_history OWNER TO app; SELECT '${x}', '${x}', '${ not one }', '${';");
        assert_eq!(unset, ["x"]);
        assert_eq!(c.substitute("${flyway:user}", "f").1, ["flyway:user"]);
        c.replace = false;
        assert_eq!(c.substitute("${x}", "f"), ("${x}".into(), Vec::new()));
    }
}
