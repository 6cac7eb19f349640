//! A statement's words, for telling what kind of statement it is (`CREATE TABLE`, `GRANT … ON
//! DATABASE`, `BEGIN`): comments left out (`--` to the end of the line, `/* … */`, nested as
//! PostgreSQL nests them), words split at whitespace and at `;`, `,`, `(` and `)`. Quoted names and
//! strings are not looked into: a word is read as written.

/// The words of one statement (from `split::split`), as written.
pub fn words(statement: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = statement.as_bytes();
    let (mut i, mut start) = (0, None::<usize>);
    fn end<'a>(statement: &'a str, start: &mut Option<usize>, at: usize, out: &mut Vec<&'a str>) {
        if let Some(s) = start.take() {
            out.push(&statement[s..at]);
        }
    }
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                end(statement, &mut start, i, &mut out);
                i = statement[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                end(statement, &mut start, i, &mut out);
                let mut depth = 0usize;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b if b.is_ascii_whitespace() || matches!(b, b';' | b',' | b'(' | b')') => {
                end(statement, &mut start, i, &mut out);
                i += 1;
            }
            _ => {
                start.get_or_insert(i);
                i += 1;
            }
        }
    }
    end(statement, &mut start, bytes.len(), &mut out);
    out
}

/// The first `n` words, upper-cased: the statement's kind, compared as keywords.
pub fn leading(statement: &str, n: usize) -> Vec<String> {
    words(statement).into_iter().take(n).map(str::to_ascii_uppercase).collect()
}

/// The first statement of `sql` that PostgreSQL refuses inside a transaction block: Flyway's list
/// (`CREATE`/`DROP` `DATABASE`, `TABLESPACE`, `SUBSCRIPTION`; `ALTER SYSTEM`; `VACUUM`; `DISCARD
/// ALL`; `REINDEX` of a schema, database or system) and anything `CONCURRENTLY`. `ALTER TYPE … ADD
/// VALUE` is left out: PostgreSQL 12 and later run it inside one. `None` when `sql` cannot be split.
pub fn refused_in_transaction(sql: &str) -> Option<String> {
    let statements = super::split::split(sql, super::Dialect::Postgres).ok()?;
    statements.into_iter().find_map(|s| refused_statement(s.sql))
}

/// `statement`'s first words when it is one `refused_in_transaction` looks for.
pub fn refused_statement(statement: &str) -> Option<String> {
    let w = leading(statement, 5);
    let at = |i: usize| w.get(i).map(String::as_str).unwrap_or_default();
    let refused = (matches!(at(0), "CREATE" | "DROP") && matches!(at(1), "DATABASE" | "TABLESPACE" | "SUBSCRIPTION"))
        || (at(0) == "ALTER" && at(1) == "SYSTEM")
        || at(0) == "VACUUM"
        || (at(0) == "DISCARD" && at(1) == "ALL")
        || (at(0) == "REINDEX" && [at(1), at(2)].iter().any(|x| matches!(*x, "SCHEMA" | "DATABASE" | "SYSTEM")))
        || (matches!(at(0), "CREATE" | "DROP" | "REINDEX") && w.iter().any(|x| x == "CONCURRENTLY"))
        || (at(0) == "ALTER" && {
            let more = leading(statement, 12);
            more.iter().any(|x| x == "DETACH") && more.iter().any(|x| x == "CONCURRENTLY")
        });
    refused.then(|| w.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_postgres_refuses_in_a_transaction_are_found() {
        for sql in [
            "CREATE TABLE t (x int);\n create unique index concurrently t_x on t (x);",
            "DROP INDEX CONCURRENTLY IF EXISTS t_x;",
            "REINDEX TABLE CONCURRENTLY t;",
            "REINDEX VERBOSE DATABASE app;",
            "VACUUM ANALYZE t;",
            "CREATE DATABASE other;",
            "ALTER SYSTEM SET work_mem = '8MB';",
            "ALTER TABLE measurements DETACH PARTITION measurements_2024 CONCURRENTLY;",
        ] {
            assert!(refused_in_transaction(sql).is_some(), "{sql}");
        }
        for sql in [
            "CREATE TABLE concurrently_log (x int);",
            "ALTER TYPE mood ADD VALUE 'meh';",
            "CREATE FUNCTION f() RETURNS int AS $$ BEGIN VACUUM; RETURN 1; END $$ LANGUAGE plpgsql;",
            "-- CREATE INDEX CONCURRENTLY i ON t (x);\nSELECT 1;",
            "INSERT INTO notes VALUES ('VACUUM');",
        ] {
            assert_eq!(refused_in_transaction(sql), None, "{sql}");
        }
    }

    #[test]
    fn comments_and_punctuation_are_not_words() {
        assert_eq!(
            leading("-- a note\n/* a /* nested */ one */ create\tINDEX concurrently i ON t(a);", 5),
            ["CREATE", "INDEX", "CONCURRENTLY", "I", "ON"]
        );
        assert_eq!(
            words("INSERT INTO alembic_version(version_num) VALUES ('1')"),
            ["INSERT", "INTO", "alembic_version", "version_num", "VALUES", "'1'"]
        );
        assert_eq!(
            words("grant select on public.t to app; -- why"),
            ["grant", "select", "on", "public.t", "to", "app"]
        );
        assert_eq!(leading("BEGIN;", 2), ["BEGIN"]);
        assert!(words("/* only a comment */ -- and a line").is_empty());
        assert!(words("/* never closed").is_empty());
        assert_eq!(leading("SELECT 1 /**/ + 2", 9), ["SELECT", "1", "+", "2"]);
    }
}
