//! Placeholders: `${name}` in a migration file marked `-- godwit:placeholders`, filled with the
//! environment's value when it runs. The file's checksum is of the file as written, the same in
//! every environment and the same as sqlx-cli's. A value inside quotes is escaped for them; a secret
//! value (from the OS keyring) goes only inside a string, is shown as `${name}` wherever the SQL
//! is shown, and is taken out of whatever the server says back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Problem, Remedy, Result};
use crate::syntax::Dialect;
use crate::syntax::placeholders::{Use, Within};

/// The comment that asks for a file's placeholders to be filled. Without it `${...}` is sent as
/// written, as sqlx-cli sends it: a file that predates placeholders is not changed by them.
pub const MARK: &str = "godwit:placeholders";

/// Whether a file's leading comments hold the mark (`-- godwit:placeholders` on a line of its own).
pub fn marked(sql: &str) -> bool {
    for line in sql.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.strip_prefix("--") {
            Some(comment) if comment.trim() == MARK => return true,
            Some(_) => {}
            None => return false,
        }
    }
    false
}

/// The placeholders a text uses (not those it writes literally as `$${name}`).
pub fn names(sql: &str, dialect: Option<Dialect>) -> BTreeSet<String> {
    crate::syntax::placeholders::uses(sql, dialect).into_iter().filter(|u| !u.escaped).map(|u| u.name).collect()
}

/// A placeholder's value as an environment gives it: the text, or `{ secret = true }` for one kept
/// in the OS keyring (never in a file).
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged, deny_unknown_fields)]
#[ts(export, rename = "PlaceholderSetting")]
pub enum Setting {
    Text(String),
    Secret { secret: bool },
}

/// Checks what a file says of an environment's placeholders (the file may be a stranger's).
pub fn check_settings(env: &str, settings: &BTreeMap<String, Setting>) -> Result<()> {
    for (name, setting) in settings {
        let key = format!("env.{env}.placeholders.{name}");
        if !crate::syntax::placeholders::is_name(name) {
            return Err(Error::input(format!(
                "{key}: `{name}` is not a usable placeholder name: a letter or _, then letters, digits and _"
            )));
        }
        match setting {
            Setting::Text(t) => check_value(&key, t)?,
            Setting::Secret { secret: false } => {
                return Err(Error::input(format!("{key}: give the value as text, or `{{ secret = true }}`")));
            }
            Setting::Secret { .. } => {}
        }
    }
    Ok(())
}

/// A value is one line: a newline or NUL would change what the lines of the file are, or end it.
pub fn check_value(key: &str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(Error::input(format!("{key}: a placeholder's value is one line, without a NUL")));
    }
    Ok(())
}

/// What a placeholder is, looked up for a run.
#[derive(Clone)]
enum Value {
    Text(String),
    Secret(Arc<SecretString>),
    /// Declared secret, and none is stored.
    Unstored,
    Unset,
    /// Left as written (`Values::as_written`).
    Keep,
}

type SecretLookup = dyn Fn(&str) -> Result<Option<SecretString>> + Send + Sync;

/// An environment's placeholders for a run. Secrets are read only when a file uses them, once.
#[derive(Clone, Default)]
pub struct Values {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    env: Option<String>,
    settings: BTreeMap<String, Setting>,
    secret: Option<Box<SecretLookup>>,
    read: Mutex<BTreeMap<String, Value>>,
    keep: bool,
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Values").field("env", &self.inner.env).field("names", &self.inner.settings.keys()).finish()
    }
}

impl Values {
    /// `env`'s settings, with `secret` to read a secret one by name.
    pub fn new(
        env: Option<String>,
        settings: BTreeMap<String, Setting>,
        secret: impl Fn(&str) -> Result<Option<SecretString>> + Send + Sync + 'static,
    ) -> Values {
        let secret: Box<SecretLookup> = Box::new(secret);
        Values { inner: Arc::new(Inner { env, settings, secret: Some(secret), read: Default::default(), keep: false }) }
    }

    /// Every placeholder left as written: the files as they are, for a preview of many environments.
    pub fn as_written() -> Values {
        Values { inner: Arc::new(Inner { keep: true, ..Default::default() }) }
    }

    /// Whether the environment gives `name` a value (a secret one may still be missing from the
    /// keyring: that is known only once it is read).
    pub fn has(&self, name: &str) -> bool {
        self.inner.keep || self.inner.settings.contains_key(name)
    }

    /// The environment they are of.
    pub fn env(&self) -> Option<&str> {
        self.inner.env.as_deref()
    }

    fn get(&self, name: &str) -> Result<Value> {
        let mut read = self.inner.read.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = read.get(name) {
            return Ok(v.clone());
        }
        let v = match self.inner.settings.get(name) {
            _ if self.inner.keep => Value::Keep,
            None => Value::Unset,
            Some(Setting::Text(t)) => Value::Text(t.clone()),
            Some(Setting::Secret { .. }) => match self.inner.secret.as_ref().map(|f| f(name)).transpose()?.flatten() {
                Some(s) => {
                    check_value(&format!("the secret placeholder {name}"), s.expose_secret())?;
                    Value::Secret(Arc::new(s))
                }
                None => Value::Unstored,
            },
        };
        read.insert(name.to_string(), v.clone());
        Ok(v)
    }
}

/// A file's text with its placeholders filled.
#[derive(Debug, Clone)]
pub struct Filled {
    /// As shown: plain values filled, secret ones left as `${name}`.
    pub shown: String,
    /// What is sent, when it differs from `shown` (a secret is in it).
    pub hidden: Option<Arc<Hidden>>,
}

/// The text sent, with the secrets in it, and how to take them out of what a server says.
pub struct Hidden {
    sent: SecretString,
    /// Each secret's name and the forms it was sent in (as is, escaped), longest first.
    secrets: Vec<(String, Vec<SecretString>)>,
}

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hidden").field("secrets", &self.secrets.iter().map(|(n, _)| n).collect::<Vec<_>>()).finish()
    }
}

impl Hidden {
    pub fn sent(&self) -> &str {
        self.sent.expose_secret()
    }

    /// Whether `text` holds a secret.
    pub fn holds(&self, text: &str) -> bool {
        self.secrets.iter().flat_map(|(_, forms)| forms).any(|f| text.contains(f.expose_secret()))
    }

    /// `text` with every secret (and any part of one at least 6 characters long: a server may cut
    /// what it quotes) written `${name}`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        let forms = || {
            self.secrets.iter().flat_map(|(name, forms)| {
                forms.iter().map(move |f| (format!("${{{name}}}"), f.expose_secret())).filter(|(_, f)| !f.is_empty())
            })
        };
        // Whole values first: a part of one must not break up another form of it.
        for (shown, form) in forms() {
            out = replace_any_case(&out, form, &shown);
        }
        for (shown, form) in forms() {
            let cuts: Vec<usize> = form.char_indices().map(|(i, _)| i).filter(|i| *i > 0).collect();
            for &cut in cuts.iter().rev().filter(|c| **c >= 6) {
                out = replace_any_case(&out, &form[..cut], &shown);
            }
            for &cut in cuts.iter().filter(|c| form.len() - **c >= 6) {
                out = replace_any_case(&out, &form[cut..], &shown);
            }
        }
        out
    }
}

/// `text` with every occurrence of `what`, in any ASCII case (a server may quote `upper(...)` of
/// it), written `with`.
fn replace_any_case(text: &str, what: &str, with: &str) -> String {
    let (hay, needle) = (text.to_ascii_lowercase(), what.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in hay.match_indices(&needle) {
        if at < last {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

/// Why a file could not be filled.
pub enum Refusal {
    /// Names with no value here (`true`: declared secret, none stored).
    Unset(Vec<(String, bool)>),
    Error(Error),
}

/// Fills `sql` (from `file`), escaping each value for the quotes it sits in.
pub fn fill(file: &str, sql: &str, dialect: Option<Dialect>, values: &Values) -> std::result::Result<Filled, Refusal> {
    let uses = crate::syntax::placeholders::uses(sql, dialect);
    let (mut shown, mut sent) = (String::with_capacity(sql.len()), String::with_capacity(sql.len()));
    let mut secrets: Vec<(String, Vec<SecretString>)> = Vec::new();
    let mut unset: Vec<(String, bool)> = Vec::new();
    let mut last = 0;
    for u in &uses {
        let written = &sql[u.start..u.end];
        shown.push_str(&sql[last..u.start]);
        sent.push_str(&sql[last..u.start]);
        last = u.end;
        if u.escaped {
            shown.push_str(&written[1..]);
            sent.push_str(&written[1..]);
            continue;
        }
        let value = values.get(&u.name).map_err(Refusal::Error)?;
        let text = match &value {
            Value::Text(v) => Some(v.as_str()),
            Value::Secret(s) => Some(s.expose_secret()),
            _ => None,
        };
        // Whether PostgreSQL reads a backslash in '...' as an escape is a server setting
        // (standard_conforming_strings): no escaping is right for both.
        if text.is_some_and(|v| v.contains('\\'))
            && dialect == Some(Dialect::Postgres)
            && u.within == (Within::Text { quote: b'\'', backslash: false })
        {
            return Err(Refusal::Error(backslash_in_plain_string(file, sql, u)));
        }
        match value {
            Value::Text(v) => {
                let v = escape(&v, u.within);
                shown.push_str(&v);
                sent.push_str(&v);
            }
            Value::Secret(s) => {
                if !matches!(u.within, Within::Text { .. }) {
                    return Err(Refusal::Error(misplaced(file, sql, u)));
                }
                let v = escape(s.expose_secret(), u.within);
                shown.push_str(written);
                sent.push_str(&v);
                let mut forms = vec![v, s.expose_secret().to_string()];
                forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
                forms.dedup();
                secrets.push((u.name.clone(), forms.into_iter().map(SecretString::from).collect()));
            }
            Value::Keep => {
                shown.push_str(written);
                sent.push_str(written);
            }
            missing @ (Value::Unset | Value::Unstored) => {
                if !unset.iter().any(|(n, _)| *n == u.name) {
                    unset.push((u.name.clone(), matches!(missing, Value::Unstored)));
                }
                shown.push_str(written);
                sent.push_str(written);
            }
        }
    }
    if !unset.is_empty() {
        return Err(Refusal::Unset(unset));
    }
    shown.push_str(&sql[last..]);
    sent.push_str(&sql[last..]);
    let hidden = (!secrets.is_empty()).then(|| Arc::new(Hidden { sent: SecretString::from(sent), secrets }));
    Ok(Filled { shown, hidden })
}

/// A value as it must be written where it sits: inside quotes, each quote doubled (and a backslash
/// doubled where it escapes), so the value stays one string or name; elsewhere as it is.
fn escape(value: &str, within: Within) -> String {
    match within {
        Within::Code => value.to_string(),
        Within::Text { quote, backslash } => {
            let v = if backslash { value.replace('\\', "\\\\") } else { value.to_string() };
            let q = quote as char;
            v.replace(q, &format!("{q}{q}"))
        }
        Within::Quoted(q) => {
            let q = q as char;
            value.replace(q, &format!("{q}{q}"))
        }
    }
}

fn misplaced(file: &str, sql: &str, u: &Use) -> Error {
    let (line, column) = crate::syntax::split::line_col(sql, u.start);
    let mut e = Error::new(
        Problem::BadFile,
        format!(
            "{file} line {line}: the secret placeholder ${{{}}} is not inside a '...' string. A secret goes only into \
             a string, where it cannot become SQL; nothing was run.",
            u.name
        ),
    );
    e.location = Some(Location { file: file.to_string(), line, column });
    e
}

fn backslash_in_plain_string(file: &str, sql: &str, u: &Use) -> Error {
    let (line, column) = crate::syntax::split::line_col(sql, u.start);
    let mut e = Error::new(
        Problem::Input,
        format!(
            "{file} line {line}: the value of ${{{}}} holds a backslash, and PostgreSQL reads one in a '...' string \
             as the server's standard_conforming_strings says: write the string as E'...' (Godwit then escapes it), \
             or give a value without one. Nothing was run.",
            u.name
        ),
    );
    e.location = Some(Location { file: file.to_string(), line, column });
    e
}

/// The refusal of a run whose files use placeholders `env` gives no value (each file with its names).
pub fn unset_error(env: Option<&str>, missing: &[(String, Vec<(String, bool)>)]) -> Error {
    let mut names: Vec<(String, bool)> = Vec::new();
    for (_, ns) in missing {
        for n in ns {
            if !names.iter().any(|(m, _)| *m == n.0) {
                names.push(n.clone());
            }
        }
    }
    let files: Vec<String> = missing
        .iter()
        .map(|(file, ns)| {
            let list: Vec<String> = ns.iter().map(|(n, _)| format!("${{{n}}}")).collect();
            format!("  - {file}: {}", list.join(", "))
        })
        .collect();
    let whose = match env {
        Some(env) => format!("`{env}` gives no value for"),
        None => "a database given by its URL has no values for".into(),
    };
    let stored: Vec<&str> = names.iter().filter(|(_, s)| *s).map(|(n, _)| n.as_str()).collect();
    let secret = match stored.is_empty() {
        true => String::new(),
        false => format!(" ({} is secret, and none is stored in the OS keyring)", stored.join(", ")),
    };
    let set = match env {
        Some(_) => "Set each for this environment",
        None => "Run it on an environment that sets them",
    };
    let mut e = Error::new(
        Problem::UnsetPlaceholders { names: names.iter().map(|(n, _)| n.clone()).collect() },
        format!(
            "{whose} placeholders these migrations use{secret}, so nothing was run:\n{}\n{set}, or write $${{name}} \
             where the text ${{name}} itself is meant.",
            files.join("\n")
        ),
    );
    if let Some(env) = env {
        for (name, secret) in names {
            e = e.with_remedy(Remedy::SetPlaceholder { env: env.to_string(), name, secret });
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)], secrets: &[(&'static str, &'static str)]) -> Values {
        let mut settings: BTreeMap<String, Setting> =
            pairs.iter().map(|(k, v)| (k.to_string(), Setting::Text(v.to_string()))).collect();
        for (k, _) in secrets {
            settings.insert(k.to_string(), Setting::Secret { secret: true });
        }
        let secrets = secrets.to_vec();
        Values::new(Some("dev".into()), settings, move |name| {
            Ok(secrets.iter().find(|(k, _)| *k == name).map(|(_, v)| SecretString::from(v.to_string())))
        })
    }

    fn fill_ok(sql: &str, d: Dialect, v: &Values) -> Filled {
        fill("1_x.sql", sql, Some(d), v).unwrap_or_else(|_| panic!("refused: {sql}"))
    }

    #[test]
    fn the_mark_is_a_leading_comment() {
        assert!(marked("-- no-transaction\n-- godwit:placeholders\nSELECT 1;"));
        assert!(marked("\n--   godwit:placeholders  \n"));
        assert!(!marked("SELECT 1;\n-- godwit:placeholders\n"));
        assert!(!marked("-- godwit:placeholders please\nSELECT 1;"));
    }

    #[test]
    fn values_are_escaped_for_their_quotes() {
        let v = values(
            &[("schema", "my\"s"), ("tenant", "O'Brien"), ("n", "42"), ("path", "a\\b\"); DROP TABLE x; --")],
            &[],
        );
        let sql = "CREATE SCHEMA \"${schema}\"; INSERT INTO t VALUES ('${tenant}', ${n}, '$${n}'); -- ${gone}";
        let f = fill_ok(sql, Dialect::Postgres, &v);
        assert_eq!(f.shown, "CREATE SCHEMA \"my\"\"s\"; INSERT INTO t VALUES ('O''Brien', 42, '${n}'); -- ${gone}");
        assert!(f.hidden.is_none());
        // MySQL reads a backslash in a string as an escape, and "..." as a string: both stay one string.
        let f = fill_ok("SELECT '${path}', \"${path}\"", Dialect::MySql, &v);
        assert_eq!(f.shown, "SELECT 'a\\\\b\"); DROP TABLE x; --', \"a\\\\b\"\"); DROP TABLE x; --\"");
        // PostgreSQL's E'...' escapes it; a plain '...' depends on a server setting: refused.
        let f = fill_ok("SELECT E'${path}'", Dialect::Postgres, &v);
        assert_eq!(f.shown, "SELECT E'a\\\\b\"); DROP TABLE x; --'");
        let Err(Refusal::Error(e)) = fill("1_x.sql", "SELECT '${path}'", Some(Dialect::Postgres), &v) else {
            panic!("a backslash in a plain PostgreSQL string was not refused")
        };
        assert_eq!(e.problem, Problem::Input);
    }

    #[test]
    fn unset_names_are_all_reported_and_secrets_stay_hidden() {
        let v = values(&[("a", "1")], &[("pw", "s3cr'et-value-long")]);
        let Err(Refusal::Unset(names)) = fill("1_x.sql", "SELECT ${a}, ${b}, ${c}, ${b}", Some(Dialect::Sqlite), &v)
        else {
            panic!("not refused")
        };
        assert_eq!(names, [("b".to_string(), false), ("c".to_string(), false)]);
        let e = unset_error(Some("dev"), &[("1_x.sql".into(), names)]);
        assert_eq!(e.problem, Problem::UnsetPlaceholders { names: vec!["b".into(), "c".into()] });
        assert_eq!(e.remedies.len(), 2);

        let f = fill_ok("CREATE USER app WITH PASSWORD '${pw}';", Dialect::Postgres, &v);
        assert_eq!(f.shown, "CREATE USER app WITH PASSWORD '${pw}';");
        let h = f.hidden.unwrap();
        assert_eq!(h.sent(), "CREATE USER app WITH PASSWORD 's3cr''et-value-long';");
        let said = "syntax error near 's3cr''et-value-long' and near \"S3CR'ET-VALUE-LONG\" and 's3cr''et-v and \"et-value-long\"";
        let scrubbed = h.scrub(said);
        assert!(!scrubbed.contains("s3cr") && !scrubbed.contains("value-long"), "{scrubbed}");
        assert!(h.holds("x s3cr'et-value-long"));
        // Outside a string a secret would be SQL: refused, naming the line.
        let Err(Refusal::Error(e)) = fill("1_x.sql", "SELECT 1;\nSELECT ${pw};", Some(Dialect::Postgres), &v) else {
            panic!("not refused")
        };
        assert_eq!((e.problem, e.location.map(|l| l.line)), (Problem::BadFile, Some(2)));
        // Declared secret, none stored.
        let v = values(&[], &[]);
        let v2 =
            Values::new(None, [("pw".to_string(), Setting::Secret { secret: true })].into_iter().collect(), |_| {
                Ok(None)
            });
        assert!(
            matches!(fill("f", "SELECT '${pw}'", None, &v2), Err(Refusal::Unset(n)) if n == [("pw".to_string(), true)])
        );
        assert!(matches!(fill("f", "SELECT '${pw}'", None, &v), Err(Refusal::Unset(_))));
    }

    #[test]
    fn settings_from_a_file_are_checked() {
        let read = |t: &str| toml::from_str::<BTreeMap<String, Setting>>(t);
        let s = read("a = \"x\"\nb = { secret = true }").unwrap();
        check_settings("dev", &s).unwrap();
        assert!(read("c = { secret = true, value = \"x\" }").is_err());
        assert!(check_settings("dev", &read("\"a-b\" = \"x\"").unwrap()).is_err());
        assert!(check_settings("dev", &read("a = \"x\\ny\"").unwrap()).is_err());
        assert!(check_settings("dev", &read("a = { secret = false }").unwrap()).is_err());
    }
}
