//! Migration templates: the built-in ones (a correct up and down per dialect for common changes)
//! and the project's own (`templates/NAME.up.sql` + `.down.sql`, minijinja, parameters declared in
//! `NAME.toml`). What a template writes is an ordinary migration file.

/// The template that is only files to write: an up and a down with a comment each.
pub const RAW: &str = "raw";

mod builtin;
pub mod dialect;
mod project;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::db::Dialect;
use crate::error::{Error, Result};

/// What kind of value a parameter takes; the desktop app draws its form from this.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ParamKind {
    /// Free text.
    Text,
    /// A table, column or index name.
    Identifier,
    /// Names separated by commas.
    Identifiers,
    /// A column type (`text`, `string`, `integer`, `id`, `timestamp`, `numeric(10,2)`, ...).
    Type,
    /// Column definitions separated by commas: `id id, title string not null, done boolean default false`.
    Columns,
    Bool,
    /// One of `choices`.
    Choice,
}

#[derive(ts_rs::TS, Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Param {
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(default = "text_kind")]
    pub kind: ParamKind,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub help: Option<String>,
}

fn text_kind() -> ParamKind {
    ParamKind::Text
}
fn yes() -> bool {
    true
}

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Origin {
    BuiltIn,
    Project,
}

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct TemplateInfo {
    pub name: String,
    pub description: String,
    pub origin: Origin,
    pub params: Vec<Param>,
}

/// A rendered template: the bodies of the up and down files (the header is added by `new`).
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export)]
pub struct Rendered {
    pub up: String,
    /// `None`: the change cannot be undone; the migration is written as one irreversible file.
    pub down: Option<String>,
    pub no_transaction: bool,
    /// The database it was written for.
    pub dialect: Dialect,
    /// Where the project's other databases need other SQL than this (the migration runs on them too).
    pub warnings: Vec<String>,
    /// The downs of the project's other databases where theirs differ: each is written as that
    /// database's own down (`mysql/V_name.down.sql`), so every environment can roll it back.
    pub own_downs: Vec<OwnDown>,
}

/// A database's own down, written beside the shared one (see `MigrationFile::down_path_for`).
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[ts(export)]
pub struct OwnDown {
    pub dialect: Dialect,
    pub sql: String,
}

/// Renders a template for `dialect`, and says where the project's environments on other databases
/// (`others`: each database with its environments' names) would need other SQL: a migration is
/// written once and runs on all of them.
pub fn render_for_project(
    name: &str,
    values: &BTreeMap<String, String>,
    dialect: Dialect,
    others: &[(Dialect, Vec<String>)],
    templates_dir: Option<&Path>,
) -> Result<Rendered> {
    let mut r = render(name, values, dialect, templates_dir)?;
    for (d, envs) in others.iter().filter(|(d, _)| *d != dialect) {
        let on = format!("{} ({})", d.name(), envs.join(", "));
        match render(name, values, *d, templates_dir) {
            Err(e) => r.warnings.push(format!("{on} cannot take this migration as written: {}", e.message)),
            Ok(o) => {
                // An up is one file for every database (its checksum is in each history); a down
                // can be a database's own.
                let theirs: Vec<&str> = o.up.lines().collect();
                if let Some(line) = r.up.lines().filter(|l| !theirs.contains(l)).find(|l| !l.trim().is_empty()) {
                    r.warnings.push(format!(
                        "written for {}; for {on} this template writes another up (this line differs: `{}`). \
                         The migration runs there too: check it on {}, or write SQL both accept.",
                        dialect.name(),
                        line.trim(),
                        d.name()
                    ));
                }
                match (&r.down, o.down) {
                    (Some(ours), Some(sql)) if *ours != sql => r.own_downs.push(OwnDown { dialect: *d, sql }),
                    (Some(_), None) => r
                        .warnings
                        .push(format!("{on} cannot roll this migration back: the template has no down for it")),
                    _ => {}
                }
            }
        }
    }
    Ok(r)
}

/// Every template: built-ins first, then the project's (a project template may not reuse a built-in name).
pub fn list(templates_dir: Option<&Path>) -> Result<Vec<TemplateInfo>> {
    let mut all = builtin::infos();
    if let Some(dir) = templates_dir {
        for t in project::load_all(dir)? {
            if all.iter().any(|b| b.name == t.info.name) {
                return Err(Error::input(format!(
                    "{}: `{}` is the name of a built-in template; rename the project's files.",
                    dir.display(),
                    t.info.name
                )));
            }
            all.push(t.info);
        }
    }
    Ok(all)
}

/// Renders template `name` with `values` (parameter name to value, as typed) for `dialect`.
pub fn render(
    name: &str,
    values: &BTreeMap<String, String>,
    dialect: Dialect,
    templates_dir: Option<&Path>,
) -> Result<Rendered> {
    if let Some(info) = builtin::infos().into_iter().find(|t| t.name == name) {
        let v = Values::new(&info, values)?;
        return builtin::render(name, &v, dialect);
    }
    if let Some(dir) = templates_dir
        && let Some(t) = project::load_all(dir)?.into_iter().find(|t| t.info.name == name)
    {
        let v = Values::new(&t.info, values)?;
        return t.render(&v, dialect);
    }
    let names: Vec<String> = list(templates_dir)?.into_iter().map(|t| t.name).collect();
    Err(Error::not_found(crate::Named::Template, format!("there is no template `{name}`; known: {}", names.join(", "))))
}

/// Parameter values checked against the declarations: unknown names refused, defaults filled in,
/// required ones present, kinds parsed.
pub(crate) struct Values<'a> {
    info: &'a TemplateInfo,
    map: BTreeMap<String, String>,
}

impl<'a> Values<'a> {
    fn new(info: &'a TemplateInfo, given: &BTreeMap<String, String>) -> Result<Values<'a>> {
        for k in given.keys() {
            if !info.params.iter().any(|p| &p.name == k) {
                let known: Vec<&str> = info.params.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::input(format!(
                    "template `{}` has no parameter `{k}`; its parameters: {}",
                    info.name,
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                )));
            }
        }
        // Every missing one at once: a person fixing the command fixes it once.
        let value = |p: &Param| given.get(&p.name).cloned().or_else(|| p.default.clone()).unwrap_or_default();
        let missing: Vec<&Param> = info.params.iter().filter(|p| p.required && value(p).trim().is_empty()).collect();
        if !missing.is_empty() {
            let named: Vec<String> = missing
                .iter()
                .map(|p| format!("`{}` ({})", p.name, if p.label.is_empty() { &p.name } else { &p.label }))
                .collect();
            return Err(Error::input(format!(
                "template `{}` needs {}: give {} a value",
                info.name,
                named.join(", "),
                if missing.len() == 1 { "it" } else { "each" }
            ))
            .with_remedy(crate::error::Remedy::GiveParam { names: missing.iter().map(|p| p.name.clone()).collect() }));
        }
        let mut map = BTreeMap::new();
        for p in &info.params {
            let v = value(p);
            match p.kind {
                ParamKind::Identifier if !v.is_empty() => check_name(&info.name, &p.name, &v)?,
                ParamKind::Identifiers => {
                    for n in split_list(&v) {
                        check_name(&info.name, &p.name, &n)?;
                    }
                }
                ParamKind::Type if !v.is_empty() && !is_type(&v) => {
                    return Err(Error::input(format!(
                        "parameter `{}` of `{}`: `{v}` is not a column type. Give a type name with optional \
                         parameters and array brackets, e.g. text, numeric(10,2), double precision, text[]",
                        p.name, info.name
                    )));
                }
                ParamKind::Bool if !v.is_empty() => {
                    parse_bool(&v).ok_or_else(|| {
                        Error::input(format!("parameter `{}` of `{}` is true or false, not `{v}`", p.name, info.name))
                    })?;
                }
                ParamKind::Choice if !v.is_empty() && !p.choices.iter().any(|c| c.eq_ignore_ascii_case(&v)) => {
                    return Err(Error::input(format!(
                        "parameter `{}` of `{}` is one of {}, not `{v}`",
                        p.name,
                        info.name,
                        p.choices.join(", ")
                    )));
                }
                _ => {}
            }
            map.insert(p.name.clone(), v);
        }
        Ok(Values { info, map })
    }

    pub(crate) fn str(&self, name: &str) -> &str {
        self.map.get(name).map(String::as_str).unwrap_or_default()
    }

    pub(crate) fn bool(&self, name: &str) -> bool {
        parse_bool(self.str(name)).unwrap_or(false)
    }

    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        split_list(self.str(name))
    }

    pub(crate) fn template(&self) -> &str {
        &self.info.name
    }

    pub(crate) fn kind(&self, name: &str) -> ParamKind {
        self.info.params.iter().find(|p| p.name == name).map_or(ParamKind::Text, |p| p.kind)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.map.iter()
    }
}

fn check_name(template: &str, param: &str, v: &str) -> Result<()> {
    if v.trim().is_empty() || v.chars().any(|c| c.is_control() || c == '\0') || v.len() > 63 {
        return Err(Error::input(format!("parameter `{param}` of `{template}`: `{v}` is not a usable name")));
    }
    Ok(())
}

/// Whether `v` reads as a column type and nothing more (it is pasted into SQL): words
/// (`double precision`, `public.mood`), one list of numbers or quoted values in parentheses
/// (`numeric(10, 2)`, `enum('a', 'b')`), more words after it (`unsigned`), array brackets (`text[]`).
pub(crate) fn is_type(v: &str) -> bool {
    let v = v.trim();
    if !v.starts_with(|c: char| c.is_ascii_alphabetic()) || v.len() > 200 {
        return false;
    }
    let mut chars = v.chars().peekable();
    let mut params = false;
    while let Some(c) = chars.next() {
        match c {
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ' ') => {}
            '(' if !params => {
                params = true;
                let mut empty = true;
                loop {
                    match chars.next() {
                        // No type takes an empty list: `now()` is a call.
                        Some(')') if empty => return false,
                        Some(')') => break,
                        Some(' ') => {}
                        Some(c) if c.is_ascii_digit() || c == ',' => empty = false,
                        Some('\'') => {
                            if !chars.by_ref().any(|c| c == '\'') {
                                return false;
                            }
                            empty = false;
                        }
                        _ => return false,
                    }
                }
            }
            '[' => {
                while chars.next_if(|c| c.is_ascii_digit()).is_some() {}
                if chars.next() != Some(']') {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" => Some(true),
        "false" | "no" | "n" | "0" | "off" | "" => Some(false),
        _ => None,
    }
}

/// Splits on commas outside parentheses and quotes: `a, b` and `x numeric(10,2), y text default 'a,b'`.
pub(crate) fn split_list(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut cur) = (0i32, None::<char>, String::new());
    for c in v.chars() {
        match (c, quote) {
            (q, Some(open)) if q == open => quote = None,
            (_, Some(_)) => {}
            ('\'' | '"' | '`', None) => quote = Some(c),
            ('(', None) => depth += 1,
            (')', None) => depth -= 1,
            (',', None) if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_outside_parens_and_quotes() {
        assert_eq!(split_list("a, b ,c"), vec!["a", "b", "c"]);
        assert_eq!(
            split_list("x numeric(10,2), y text default 'a,b'"),
            vec!["x numeric(10,2)", "y text default 'a,b'"]
        );
        assert!(split_list(" , ").is_empty());
    }

    #[test]
    fn a_type_is_a_type_and_nothing_more() {
        for ok in [
            "text",
            "numeric(10, 2)",
            "double precision",
            "text[]",
            "int[3][]",
            "public.mood",
            "enum('a', 'b')",
            "int(10) unsigned",
            "timestamp with time zone",
            "varchar(255)",
        ] {
            assert!(is_type(ok), "{ok}");
        }
        for bad in [
            "text; DROP TABLE users",
            "text default now()",
            "int) ; --",
            "text -- x",
            "(1)",
            "enum('a'",
            "x'y",
            "text /* */",
            "",
        ] {
            assert!(!is_type(bad), "{bad}");
        }
        let mut v = BTreeMap::new();
        for (k, val) in [("table", "users"), ("column", "email"), ("type", "text; DROP TABLE users")] {
            v.insert(k.to_string(), val.to_string());
        }
        assert_eq!(render("add_column", &v, Dialect::Postgres, None).unwrap_err().kind(), crate::ErrorKind::Input);
    }

    #[test]
    fn values_are_checked() {
        let none = BTreeMap::new();
        let e = render("add_column", &none, Dialect::Postgres, None).unwrap_err();
        assert!(e.message.contains("needs `table`"), "{}", e.message);
        // Every required one missing is named at once.
        assert!(
            matches!(&e.remedies[..], [crate::error::Remedy::GiveParam { names }] if names.len() > 1 && names[0] == "table"),
            "{:?}",
            e.remedies
        );
        let mut v = BTreeMap::new();
        v.insert("tabel".to_string(), "x".to_string());
        let e = render("add_column", &v, Dialect::Postgres, None).unwrap_err();
        assert!(e.message.contains("no parameter `tabel`"), "{}", e.message);
        let e = render("nope", &none, Dialect::Postgres, None).unwrap_err();
        assert!(e.message.contains("create_table"), "{}", e.message);
    }
}
