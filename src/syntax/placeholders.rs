//! `${name}` in SQL text: where each one is and what it sits in (code, a string, a quoted name), so
//! a value can be escaped for the quotes around it. Comments are left alone: they are never run. `$${name}`
//! is the way to write `${name}` itself.

use super::Dialect;
use super::split::{dollar_tag, is_word};

/// What a placeholder sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// Plain SQL (a PostgreSQL `$$` body counts as SQL: its strings are found inside it).
    Code,
    /// A string in `quote`s (`'`, or `"` on MySQL/MariaDB); `backslash`: a backslash escapes in it
    /// (MySQL/MariaDB, PostgreSQL's `E'...'`).
    Text { quote: u8, backslash: bool },
    /// A name quoted with `"` or `` ` ``.
    Quoted(u8),
}

/// One `${name}` (or `$${name}`) in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// Byte range of the whole of it, `$${...}` included.
    pub start: usize,
    pub end: usize,
    pub name: String,
    pub within: Within,
    /// Written `$${name}`: it stands for the text `${name}`.
    pub escaped: bool,
}

/// Every placeholder in `sql`, in order. A text that ends inside a string is read to its end (the
/// splitter refuses it later, naming its line).
pub fn uses(sql: &str, dialect: Option<Dialect>) -> Vec<Use> {
    let mut out = Vec::new();
    scan(sql, 0, sql.len(), dialect, &mut out);
    out
}

fn scan(sql: &str, from: usize, to: usize, dialect: Option<Dialect>, out: &mut Vec<Use>) {
    let b = &sql.as_bytes()[..to];
    let mut i = from;
    while i < to {
        match b[i] {
            b'$' => {
                if let Some(u) = at(sql, i, to, Within::Code) {
                    i = u.end;
                    out.push(u);
                    continue;
                }
                let tag = (dialect == Some(Dialect::Postgres) && (i == 0 || !is_word(b[i - 1])))
                    .then(|| dollar_tag(&b[i..]))
                    .flatten();
                match tag {
                    Some(len) => {
                        let body = i + len;
                        let end = sql[body..to].find(&sql[i..i + len]).map_or(to, |e| body + e);
                        scan(sql, body, end, dialect, out);
                        i = (end + len).min(to);
                    }
                    None => i += 1,
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => i = line_end(b, i),
            b'#' if dialect == Some(Dialect::MySql) => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 1;
                i += 2;
                while depth > 0 && i < to {
                    match (b[i], b.get(i + 1)) {
                        (b'*', Some(b'/')) => {
                            depth -= 1;
                            i += 2;
                        }
                        (b'/', Some(b'*')) if dialect == Some(Dialect::Postgres) => {
                            depth += 1;
                            i += 2;
                        }
                        _ => i += 1,
                    }
                }
            }
            q @ (b'\'' | b'"' | b'`') => {
                // MySQL/MariaDB read `"..."` as a string too, backslashes and all.
                let mysql = dialect == Some(Dialect::MySql);
                let string = q == b'\'' || (q == b'"' && mysql);
                let backslash = string
                    && (mysql
                        || (dialect == Some(Dialect::Postgres)
                            && i > 0
                            && matches!(b[i - 1], b'e' | b'E')
                            && (i < 2 || !is_word(b[i - 2]))));
                let within = if string { Within::Text { quote: q, backslash } } else { Within::Quoted(q) };
                i += 1;
                while i < to {
                    match b[i] {
                        b'\\' if backslash => i += 2,
                        c if c == q => {
                            if b.get(i + 1) == Some(&q) {
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        b'$' => match at(sql, i, to, within) {
                            Some(u) => {
                                i = u.end;
                                out.push(u);
                            }
                            None => i += 1,
                        },
                        _ => i += 1,
                    }
                }
            }
            _ => i += 1,
        }
    }
}

/// The placeholder starting at `i`, if one does.
fn at(sql: &str, i: usize, to: usize, within: Within) -> Option<Use> {
    let rest = &sql[i..to];
    let (escaped, after) = match rest.strip_prefix("$${") {
        Some(after) => (true, after),
        None => (false, rest.strip_prefix("${")?),
    };
    let len = after.bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
    let name = &after[..len];
    let starts_well = name.bytes().next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_');
    if !starts_well || len > 64 || after.as_bytes().get(len) != Some(&b'}') {
        return None;
    }
    let end = i + (rest.len() - after.len()) + len + 1;
    Some(Use { start: i, end, name: name.to_string(), within, escaped })
}

/// Whether `name` can be a placeholder's name: a letter or `_`, then letters, digits and `_`.
pub fn is_name(name: &str) -> bool {
    at(&format!("${{{name}}}"), 0, name.len() + 3, Within::Code).is_some_and(|u| u.name == name)
}

fn line_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(sql: &str, d: Dialect) -> Vec<(String, Within, bool)> {
        uses(sql, Some(d)).into_iter().map(|u| (u.name, u.within, u.escaped)).collect()
    }

    #[test]
    fn placeholders_are_found_with_what_they_sit_in() {
        let sql = "CREATE SCHEMA \"${schema}\"; -- ${not_this}\nINSERT INTO t VALUES ('${tenant}', ${n}); /* ${nor} */";
        assert_eq!(
            found(sql, Dialect::Postgres),
            [
                ("schema".into(), Within::Quoted(b'"'), false),
                ("tenant".into(), Within::Text { quote: b'\'', backslash: false }, false),
                ("n".into(), Within::Code, false),
            ]
        );
        let text = |quote, backslash| Within::Text { quote, backslash };
        assert_eq!(found("SELECT '${a}'", Dialect::MySql), [("a".into(), text(b'\'', true), false)]);
        assert_eq!(found("SELECT \"${a}\"", Dialect::MySql), [("a".into(), text(b'"', true), false)]);
        assert_eq!(found("SELECT E'${a}'", Dialect::Postgres), [("a".into(), text(b'\'', true), false)]);
        assert_eq!(found("# ${a}\nSELECT `${b}`", Dialect::MySql), [("b".into(), Within::Quoted(b'`'), false)]);
    }

    #[test]
    fn dollar_bodies_are_sql_and_the_escape_is_not_a_dollar_quote() {
        let sql = "DO $$ BEGIN EXECUTE 'GRANT USAGE ON SCHEMA s TO ${role}'; PERFORM ${n}; END $$;\nSELECT '$${kept}'";
        assert_eq!(
            found(sql, Dialect::Postgres),
            [
                ("role".into(), Within::Text { quote: b'\'', backslash: false }, false),
                ("n".into(), Within::Code, false),
                ("kept".into(), Within::Text { quote: b'\'', backslash: false }, true),
            ]
        );
        // `$${x}` in code is the escape, not the start of a `$$` body.
        assert_eq!(found("SELECT $${x}; SELECT ${y}", Dialect::Postgres).len(), 2);
    }

    #[test]
    fn near_misses_are_not_placeholders() {
        for sql in
            ["SELECT '${}'", "SELECT '${1a}'", "SELECT '${a-b}'", "SELECT '${a'", "SELECT $1", "SELECT 'it''s ${'"]
        {
            assert!(uses(sql, Some(Dialect::Postgres)).is_empty(), "{sql}");
        }
        assert!(is_name("tenant_1") && is_name("_x") && !is_name("1x") && !is_name("a-b") && !is_name(""));
    }

    #[test]
    fn doubled_quotes_and_backslashes_do_not_end_a_string() {
        assert_eq!(
            found("SELECT 'it''s ${a}'", Dialect::Sqlite),
            [("a".into(), Within::Text { quote: b'\'', backslash: false }, false)]
        );
        assert_eq!(
            found("SELECT 'a\\'${b}'", Dialect::MySql),
            [("b".into(), Within::Text { quote: b'\'', backslash: true }, false)]
        );
    }
}
