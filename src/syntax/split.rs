//! Splits a migration file into statements, for the cases where Godwit must know where statements
//! end: `-- no-transaction` files on PostgreSQL (sent one statement at a time, because a multi-statement
//! query is one implicit transaction there), finding that a file holds no statement at all (MySQL answers
//! an empty query with error 1065), and refusing a file that ends inside a string or comment before any of
//! it is sent.

use super::Dialect;

/// One statement of a file: its text without the terminating `;`, and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    pub sql: &'a str,
    /// Byte offset of the statement's first significant character in the file.
    pub offset: usize,
    /// 1-based line of that character.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub line: usize,
    pub what: &'static str,
}

impl SplitError {
    /// The error a person reads: which file, which line, what to do.
    pub fn into_error(self, file: &std::path::Path) -> crate::error::Error {
        let name = file.file_name().unwrap_or(file.as_os_str()).to_string_lossy().into_owned();
        let mut e = crate::error::Error::new(
            crate::error::Problem::BadFile,
            format!("{name} line {}: {}. Nothing was run; close it and try again.", self.line, self.what),
        );
        e.location = Some(crate::error::Location { file: name, line: self.line, column: 1 });
        e
    }
}

/// Splits `sql` into statements for `dialect`. Comments stay inside the statement that follows them;
/// statements with nothing but comments and whitespace are dropped.
pub fn split(sql: &str, dialect: Dialect) -> Result<Vec<Statement<'_>>, SplitError> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // Offset and line of the first character of the current statement that is not space or comment.
    let mut first: Option<(usize, usize)> = None;
    // Depth of `BEGIN ATOMIC ... END` (PostgreSQL) or `BEGIN ... END` trigger bodies (SQLite, MySQL),
    // inside which `;` does not end the statement.
    let mut block_depth = 0usize;
    let mut prev_word = String::new();
    // Nothing but blanks and comments since the previous word (`END IF`, not `END, IF(…)`).
    let mut adjacent = false;

    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'#' if dialect == Dialect::MySql => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let open_line = line;
                // MySQL's `/*! ... */` is executable: it counts as content.
                if dialect == Dialect::MySql && b.get(i + 2) == Some(&b'!') {
                    first.get_or_insert((i, line));
                }
                let mut depth = 1;
                i += 2;
                while depth > 0 {
                    match (b.get(i), b.get(i + 1)) {
                        (None, _) => {
                            return Err(SplitError { line: open_line, what: "a /* comment that is never closed" });
                        }
                        (Some(b'*'), Some(b'/')) => {
                            depth -= 1;
                            i += 2;
                        }
                        // Only PostgreSQL nests block comments.
                        (Some(b'/'), Some(b'*')) if dialect == Dialect::Postgres => {
                            depth += 1;
                            i += 2;
                        }
                        (Some(b'\n'), _) => {
                            line += 1;
                            i += 1;
                        }
                        _ => i += 1,
                    }
                }
            }
            b'\'' | b'"' | b'`' => {
                first.get_or_insert((i, line));
                adjacent = false;
                let backslash = c == b'\''
                    && (dialect == Dialect::MySql
                        || (dialect == Dialect::Postgres
                            && i > 0
                            && matches!(b[i - 1], b'e' | b'E')
                            && (i < 2 || !is_word(b[i - 2]))));
                let open_line = line;
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            return Err(SplitError {
                                line: open_line,
                                what: match c {
                                    b'\'' => "a string that is never closed",
                                    _ => "a quoted identifier that is never closed",
                                },
                            });
                        }
                        Some(b'\\') if backslash => {
                            // An escaped newline is still a line (found by tests/properties.rs).
                            if b.get(i + 1) == Some(&b'\n') {
                                line += 1;
                            }
                            i += 2;
                        }
                        Some(&q) if q == c => {
                            // A doubled quote is an escaped quote.
                            if b.get(i + 1) == Some(&c) {
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(b'\n') => {
                            line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'$' if dialect == Dialect::Postgres && (i == 0 || !is_word(b[i - 1])) => {
                first.get_or_insert((i, line));
                match dollar_tag(&b[i..]) {
                    Some(tag_len) => {
                        let tag = &sql[i..i + tag_len];
                        let open_line = line;
                        let body = i + tag_len;
                        match sql[body..].find(tag) {
                            Some(end) => {
                                line += sql[body..body + end].matches('\n').count();
                                i = body + end + tag_len;
                            }
                            None => {
                                return Err(SplitError {
                                    line: open_line,
                                    what: "a $$ quoted body that is never closed",
                                });
                            }
                        }
                    }
                    None => i += 1,
                }
            }
            b';' if block_depth == 0 => {
                if let Some((offset, l)) = first.take() {
                    out.push(Statement { sql: &sql[offset..i], offset, line: l });
                }
                i += 1;
                prev_word.clear();
            }
            c if is_space(c) => i += 1,
            c if is_word(c) => {
                first.get_or_insert((i, line));
                let w0 = i;
                while i < b.len() && is_word(b[i]) {
                    i += 1;
                }
                let word = sql[w0..i].to_ascii_uppercase();
                let after_end = adjacent && prev_word == "END";
                block_depth = track_block(dialect, &prev_word, after_end, &word, block_depth);
                prev_word = word;
                adjacent = true;
            }
            _ => {
                first.get_or_insert((i, line));
                i += 1;
                adjacent = false;
            }
        }
    }
    if let Some((offset, l)) = first {
        out.push(Statement {
            sql: sql[offset..].trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8)),
            offset,
            line: l,
        });
    }
    Ok(out)
}

/// Tracks bodies whose inner `;` do not end the statement.
fn track_block(dialect: Dialect, prev: &str, after_end: bool, word: &str, depth: usize) -> usize {
    match (dialect, word) {
        // PostgreSQL: only SQL-standard function bodies (`BEGIN ATOMIC`); PL/pgSQL lives in $$.
        (Dialect::Postgres, "ATOMIC") if prev == "BEGIN" => depth + 1,
        (Dialect::Postgres, "CASE") if depth > 0 => depth + 1,
        // SQLite and MySQL: trigger and routine bodies. A statement's first word `BEGIN` starts a
        // transaction instead (`BEGIN;`, `BEGIN IMMEDIATE`), but for MariaDB's `BEGIN NOT ATOMIC`.
        (Dialect::Sqlite | Dialect::MySql, "BEGIN") if !prev.is_empty() => depth + 1,
        (Dialect::MySql, "NOT") if prev == "BEGIN" && depth == 0 => depth + 1,
        // `END IF`, `END LOOP`, `END WHILE`, `END REPEAT` close what was not counted open: the
        // `END` before them took one off that was not theirs. `END CASE` closes a counted `CASE`.
        (Dialect::Sqlite | Dialect::MySql, "IF" | "LOOP" | "WHILE" | "REPEAT") if after_end => depth + 1,
        (Dialect::Sqlite | Dialect::MySql, "CASE") if after_end => depth,
        (Dialect::Sqlite | Dialect::MySql, "CASE") if depth > 0 => depth + 1,
        (_, "END") if depth > 0 => depth - 1,
        _ => depth,
    }
}

/// The servers' own whitespace, vertical tab included (Rust's ASCII whitespace leaves it out, and
/// Unicode's takes in characters the servers read as text). Found by `make fuzz`.
fn is_space(c: u8) -> bool {
    c.is_ascii_whitespace() || c == 0x0b
}

pub(super) fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Length of a dollar-quote tag (`$$` or `$name$`) at the start of `b`, if there is one.
pub(super) fn dollar_tag(b: &[u8]) -> Option<usize> {
    let mut j = 1;
    while j < b.len() && b[j] != b'$' {
        let ok = b[j].is_ascii_alphabetic() || b[j] == b'_' || b[j] >= 0x80 || (j > 1 && b[j].is_ascii_digit());
        if !ok {
            return None;
        }
        j += 1;
    }
    (j < b.len()).then_some(j + 1)
}

/// 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |nl| before[nl + 1..].chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, d: Dialect) -> Vec<&str> {
        split(sql, d).unwrap().into_iter().map(|s| s.sql).collect()
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let sql = "-- a comment; still comment\nCREATE TABLE a (x text default 'a;b');\n/* c; */ INSERT INTO a VALUES ('it''s; fine');\n";
        assert_eq!(
            texts(sql, Dialect::Postgres),
            vec!["CREATE TABLE a (x text default 'a;b')", "INSERT INTO a VALUES ('it''s; fine')"]
        );
    }

    #[test]
    fn only_the_servers_whitespace_is_trimmed() {
        assert_eq!(texts("SELECT 2\x0b;\x0b", Dialect::Postgres), ["SELECT 2\x0b"]);
        assert_eq!(texts("SELECT 2\x0b", Dialect::Postgres), ["SELECT 2"]);
        assert_eq!(texts("SELECT 'a'\u{a0}", Dialect::Sqlite), ["SELECT 'a'\u{a0}"]);
    }

    #[test]
    fn a_newline_escaped_in_a_mysql_string_still_counts_as_a_line() {
        let s = split("SELECT 'a\\\nb';\nSELECT 2;", Dialect::MySql).unwrap();
        assert_eq!(s[1].line, 3);
    }

    #[test]
    fn dollar_quotes_keep_function_bodies_whole() {
        let sql = "CREATE FUNCTION f() RETURNS trigger AS $body$\nBEGIN\n  NEW.x := 'a;'; RETURN NEW;\nEND;\n$body$ LANGUAGE plpgsql;\nSELECT $$;$$;";
        let s = split(sql, Dialect::Postgres).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].sql.ends_with("LANGUAGE plpgsql"));
        assert_eq!(s[1].sql, "SELECT $$;$$");
        assert_eq!(s[1].line, 6);
    }

    #[test]
    fn begin_atomic_bodies_are_one_statement() {
        let sql = "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END; SELECT 2; END;\nCREATE INDEX CONCURRENTLY i ON t (x);";
        let s = texts(sql, Dialect::Postgres);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].ends_with("SELECT 2; END"));
    }

    #[test]
    fn sqlite_trigger_bodies_are_one_statement() {
        let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 1; UPDATE a SET y = 2; END;\nSELECT 1;";
        assert_eq!(texts(sql, Dialect::Sqlite).len(), 2);
    }

    #[test]
    fn a_routine_body_with_ifs_loops_and_cases_is_one_statement() {
        let sql = "CREATE FUNCTION f(x int) RETURNS int DETERMINISTIC BEGIN\n\
                   IF x > 0 THEN SET x = 1; ELSE SET x = 2; END IF;\n\
                   WHILE x < 3 DO SET x = x + 1; END WHILE;\n\
                   l: LOOP LEAVE l; END LOOP l;\n\
                   REPEAT SET x = x - 1; UNTIL x < 0 END REPEAT;\n\
                   CASE x WHEN 1 THEN SET x = 2; ELSE SET x = 3; END CASE;\n\
                   RETURN IF(x > 1, CASE WHEN x > 2 THEN 1 ELSE 0 END, 2);\nEND;\nSELECT 1;";
        assert_eq!(texts(sql, Dialect::MySql).len(), 2);
        // An END closing a CASE expression, then another CASE or an IF(): not `END CASE`/`END IF`.
        let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO log VALUES (CASE WHEN new.x THEN 1 END, \
                   CASE WHEN new.y THEN 2 END); END;\nSELECT 1;";
        assert_eq!(texts(sql, Dialect::Sqlite).len(), 2);
        let sql = "CREATE FUNCTION f(a int) RETURNS int BEGIN SET a = CASE WHEN a THEN 1 END + IF(a, 1, 0); RETURN a; END;\nSELECT 1;";
        assert_eq!(texts(sql, Dialect::MySql).len(), 2);
    }

    #[test]
    fn a_transaction_begun_by_hand_is_not_a_body() {
        let sql = "BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;";
        assert_eq!(texts(sql, Dialect::Sqlite), ["BEGIN", "CREATE TABLE t (id int)", "COMMIT"]);
        assert_eq!(texts("BEGIN IMMEDIATE; SELECT 1; COMMIT;", Dialect::Sqlite).len(), 3);
        assert_eq!(texts("BEGIN; SELECT 1; COMMIT;", Dialect::MySql).len(), 3);
        // MariaDB's anonymous block is one statement.
        assert_eq!(texts("BEGIN NOT ATOMIC SELECT 1; SELECT 2; END;\nSELECT 3;", Dialect::MySql).len(), 2);
    }

    #[test]
    fn comment_only_files_have_no_statements() {
        assert!(texts("-- nothing here\n/* nor here */\n;\n  ;", Dialect::MySql).is_empty());
        assert!(texts("", Dialect::Sqlite).is_empty());
        assert!(texts("# mysql comment\n", Dialect::MySql).is_empty());
    }

    #[test]
    fn mysql_backslash_escapes_and_backticks() {
        let sql = "INSERT INTO `a;b` VALUES ('x\\';y');\nSELECT 1";
        assert_eq!(texts(sql, Dialect::MySql), vec!["INSERT INTO `a;b` VALUES ('x\\';y')", "SELECT 1"]);
    }

    #[test]
    fn postgres_escape_strings_only_with_e_prefix() {
        // In a standard string a backslash is a plain character.
        assert_eq!(texts("SELECT 'a\\'; SELECT 2", Dialect::Postgres).len(), 2);
        assert_eq!(texts("SELECT E'a\\'; b'; SELECT 2", Dialect::Postgres).len(), 2);
    }

    #[test]
    fn nested_block_comments_on_postgres() {
        assert_eq!(texts("/* a /* b; */ c; */ SELECT 1; SELECT 2", Dialect::Postgres).len(), 2);
    }

    #[test]
    fn unterminated_constructs_name_their_line() {
        let e = split("SELECT 1;\nSELECT 'abc;\n", Dialect::Postgres).unwrap_err();
        assert_eq!(e, SplitError { line: 2, what: "a string that is never closed" });
        let e = split("SELECT 1;\n\n/* open", Dialect::Sqlite).unwrap_err();
        assert_eq!(e.line, 3);
        let e = split("DO $x$ BEGIN END", Dialect::Postgres).unwrap_err();
        assert_eq!(e.what, "a $$ quoted body that is never closed");
    }

    #[test]
    fn positional_dollars_are_not_quotes() {
        assert_eq!(texts("SELECT a$1; SELECT $1;", Dialect::Postgres).len(), 2);
    }

    #[test]
    fn line_and_column_of_offsets() {
        let t = "ab\ncdé\nf";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 4), (2, 2));
        assert_eq!(line_col(t, t.len()), (3, 2));
    }
}
