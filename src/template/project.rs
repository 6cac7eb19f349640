//! The project's own templates: `templates/NAME.up.sql` (+ `NAME.down.sql`), rendered with
//! minijinja, parameters declared in `NAME.toml`:
//!
//! ```toml
//! description = "Soft-delete a table"
//! no_transaction = false
//! [[params]]
//! name = "table"
//! label = "Table"
//! kind = "identifier"
//! ```
//!
//! In the SQL, `{{ table | ident }}` quotes a name for the target database and `dialect` is
//! `postgres`, `mysql` or `sqlite`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Deserialize;

use super::{Origin, Param, ParamKind, Rendered, TemplateInfo, Values};
use crate::db::Dialect;
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sidecar {
    #[serde(default)]
    description: String,
    #[serde(default)]
    no_transaction: bool,
    #[serde(default)]
    params: Vec<Param>,
}

pub(super) struct ProjectTemplate {
    pub info: TemplateInfo,
    up: (PathBuf, String),
    down: Option<(PathBuf, String)>,
    no_transaction: bool,
}

pub(super) fn load_all(dir: &Path) -> Result<Vec<ProjectTemplate>> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(vec![]) };
    let mut names = BTreeSet::new();
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = n.strip_suffix(".up.sql") {
            names.insert(stem.to_string());
        }
    }
    names.into_iter().map(|n| load(dir, &n)).collect()
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, &e))
}

fn load(dir: &Path, name: &str) -> Result<ProjectTemplate> {
    let up_path = dir.join(format!("{name}.up.sql"));
    let down_path = dir.join(format!("{name}.down.sql"));
    let side_path = dir.join(format!("{name}.toml"));
    let up = read(&up_path)?;
    let down = down_path.exists().then(|| read(&down_path)).transpose()?;
    let sidecar: Sidecar = if side_path.exists() {
        toml::from_str(&read(&side_path)?)
            .map_err(|e| Error::input(format!("{} is not valid: {e}", side_path.display())))?
    } else {
        Sidecar::default()
    };

    // Every variable the SQL uses must be declared (or be `dialect`); point at where it is used.
    let mut env = environment(Dialect::Postgres);
    let mut declared: BTreeSet<String> = sidecar.params.iter().map(|p| p.name.clone()).collect();
    declared.insert("dialect".into());
    let mut params = sidecar.params.clone();
    for (path, text) in std::iter::once((&up_path, &up)).chain(down.as_ref().map(|d| (&down_path, d))) {
        let key = path.display().to_string();
        env.add_template_owned(key.clone(), text.clone()).map_err(|e| syntax_error(path, &e))?;
        let used = env.get_template(&key).expect("just added").undeclared_variables(false);
        let mut used: Vec<String> = used.into_iter().collect();
        used.sort();
        for var in used {
            if declared.contains(&var) {
                continue;
            }
            if side_path.exists() {
                let line = line_of(text, &var);
                return Err(Error::input(format!(
                    "{} line {line}: the template uses parameter `{var}`, which {} does not declare. Add a [[params]] \
                     entry with name = \"{var}\", or fix the name.",
                    path.display(),
                    side_path.display()
                )));
            }
            // No sidecar: every variable is a required text parameter.
            declared.insert(var.clone());
            params.push(Param {
                name: var.clone(),
                label: var.clone(),
                kind: ParamKind::Text,
                default: None,
                required: true,
                choices: vec![],
                help: None,
            });
        }
    }
    Ok(ProjectTemplate {
        info: TemplateInfo {
            name: name.to_string(),
            description: if sidecar.description.is_empty() {
                format!("Project template {}", up_path.display())
            } else {
                sidecar.description
            },
            origin: Origin::Project,
            params,
        },
        up: (up_path, up),
        down: down.map(|d| (down_path, d)),
        no_transaction: sidecar.no_transaction,
    })
}

fn environment(dialect: Dialect) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // SQL, not HTML: no escaping.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_filter("ident", move |v: String| super::dialect::ident(dialect, &v));
    env
}

fn syntax_error(path: &Path, e: &minijinja::Error) -> Error {
    Error::input(format!(
        "{} line {}: {}",
        path.display(),
        e.line().unwrap_or(0),
        e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string())
    ))
}

/// The first line where `{{ var` or `{% ... var` appears, for messages.
fn line_of(text: &str, var: &str) -> usize {
    text.lines()
        .position(|l| {
            l.match_indices(var).any(|(i, _)| {
                let before = l[..i].chars().last();
                let after = l[i + var.len()..].chars().next();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    && (l.contains("{{") || l.contains("{%"))
            })
        })
        .map_or(1, |i| i + 1)
}

impl ProjectTemplate {
    pub(super) fn render(&self, v: &Values, dialect: Dialect) -> Result<Rendered> {
        let mut env = environment(dialect);
        let mut ctx = std::collections::BTreeMap::new();
        ctx.insert(
            "dialect".to_string(),
            Value::from(match dialect {
                Dialect::Postgres => "postgres",
                Dialect::MySql => "mysql",
                Dialect::Sqlite => "sqlite",
            }),
        );
        for (k, val) in v.iter() {
            let value = match v.kind(k) {
                ParamKind::Bool => Value::from(super::parse_bool(val).unwrap_or(false)),
                ParamKind::Identifiers => Value::from(super::split_list(val)),
                _ => Value::from(val.clone()),
            };
            ctx.insert(k.clone(), value);
        }
        let ctx = Value::from(ctx);
        let mut render = |(path, text): &(PathBuf, String)| -> Result<String> {
            let key = path.display().to_string();
            env.add_template_owned(key.clone(), text.clone()).map_err(|e| syntax_error(path, &e))?;
            let mut out = env.get_template(&key).expect("added").render(&ctx).map_err(|e| syntax_error(path, &e))?;
            if !out.ends_with('\n') {
                out.push('\n');
            }
            Ok(out)
        };
        Ok(Rendered {
            up: render(&self.up)?,
            down: self.down.as_ref().map(&mut render).transpose()?,
            no_transaction: self.no_transaction,
            dialect,
            warnings: Vec::new(),
            own_downs: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{list, render};
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn renders_a_declared_template_per_dialect() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join("soft_delete.up.sql"),
            "ALTER TABLE {{ table | ident }} ADD COLUMN deleted_at {% if dialect == 'postgres' %}TIMESTAMPTZ{% else %}TIMESTAMP{% endif %};",
        )
        .unwrap();
        fs::write(d.path().join("soft_delete.down.sql"), "ALTER TABLE {{ table | ident }} DROP COLUMN deleted_at;")
            .unwrap();
        fs::write(
            d.path().join("soft_delete.toml"),
            "description = \"Soft delete\"\n[[params]]\nname = \"table\"\nlabel = \"Table\"\nkind = \"identifier\"\n",
        )
        .unwrap();
        let all = list(Some(d.path())).unwrap();
        let t = all.iter().find(|t| t.name == "soft_delete").unwrap();
        assert_eq!(t.params[0].kind, ParamKind::Identifier);
        let mut v = BTreeMap::new();
        v.insert("table".to_string(), "order".to_string());
        let r = render("soft_delete", &v, Dialect::MySql, Some(d.path())).unwrap();
        assert_eq!(r.up, "ALTER TABLE `order` ADD COLUMN deleted_at TIMESTAMP;\n");
        assert_eq!(r.down.unwrap(), "ALTER TABLE `order` DROP COLUMN deleted_at;\n");
    }

    #[test]
    fn broken_templates_name_file_line_and_parameter() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("x.up.sql"), "SELECT 1;\nSELECT {{ colum }};\n").unwrap();
        fs::write(d.path().join("x.toml"), "[[params]]\nname = \"column\"\n").unwrap();
        let e = list(Some(d.path())).unwrap_err();
        assert!(e.message.contains("x.up.sql line 2") && e.message.contains("`colum`"), "{}", e.message);

        fs::write(d.path().join("x.up.sql"), "SELECT 1;\n{% if column %}\nSELECT 2;\n").unwrap();
        let e = list(Some(d.path())).unwrap_err();
        assert!(e.message.contains("x.up.sql line"), "{}", e.message);
        assert!(e.message.contains("endif") || e.message.contains("end of input"), "{}", e.message);
    }
}
