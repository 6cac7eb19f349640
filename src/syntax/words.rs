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

#[cfg(test)]
mod tests {
    use super::*;

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
