//! `-- godwit:lint-ignore RULE[,RULE…] [reason]`: on the comment lines just above a statement it
//! silences the rules for that statement; at the top of a file, with a blank line between it and
//! the first statement, for the whole file.

use crate::syntax::Dialect;

const DIRECTIVE: &str = "godwit:lint-ignore";

pub(super) struct Ignores {
    /// Rules silenced in the whole file.
    file: Vec<String>,
    /// Each statement's start and end offsets, with the rules silenced on it.
    statements: Vec<(usize, usize, Vec<String>)>,
}

impl Ignores {
    pub(super) fn read(sql: &str, dialect: Dialect) -> Ignores {
        let statements = crate::syntax::split::split(sql, dialect).unwrap_or_default();
        let mut out = Ignores { file: Vec::new(), statements: Vec::new() };
        let mut prev_end = 0;
        for (i, s) in statements.iter().enumerate() {
            let between = &sql[prev_end..s.offset];
            // The comment block touching the statement is the statement's; above a blank line at
            // the top, the file's.
            let split = blank_line_end(between);
            if i == 0 {
                out.file = rules_in(&between[..split]);
            }
            out.statements.push((s.offset, s.offset + s.sql.len(), rules_in(&between[split..])));
            prev_end = s.offset + s.sql.len();
        }
        if statements.is_empty() {
            out.file = rules_in(sql);
        }
        out
    }

    pub(super) fn silences(&self, rule: &str, offset: usize) -> bool {
        let named = |rules: &Vec<String>| rules.iter().any(|r| r == rule || r == "all");
        named(&self.file)
            || self.statements.iter().any(|(start, end, rules)| offset >= *start && offset <= *end && named(rules))
    }
}

/// Where the last blank line (spaces and `\r` count as blank) in `text` ends; 0 when none.
fn blank_line_end(text: &str) -> usize {
    let mut end = 0;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        at += line.len();
        if line.trim().is_empty() && line.ends_with('\n') && at > line.len() {
            end = at;
        }
    }
    end
}

/// The rule names in ignore comments that Godwit does not know, with where each comment is: a typo
/// would silence nothing.
pub(super) fn unknown(sql: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in sql.split_inclusive('\n') {
        for name in rules_in(line) {
            if name != "all" && !super::known_rule(&name) {
                out.push((at + line.len() - line.trim_start().len(), name));
            }
        }
        at += line.len();
    }
    out
}

/// The rules the ignore comments in `text` (the comments between two statements) name.
fn rules_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("--"))
        .filter_map(|c| c.trim().strip_prefix(DIRECTIVE))
        .filter_map(|rest| rest.split_whitespace().next())
        .flat_map(|names| names.split(',').map(|n| n.trim().to_string()).collect::<Vec<_>>())
        .filter(|n| !n.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_of_file_silences_the_file_and_a_comment_above_a_statement_silences_it() {
        let sql = "-- godwit:lint-ignore ban-drop-table old data\n\nDROP TABLE a;\n\
                   -- godwit:lint-ignore ban-drop-column,renaming-column\nALTER TABLE b DROP COLUMN c;\nDROP TABLE d;\n";
        let ig = Ignores::read(sql, Dialect::Postgres);
        let d = sql.find("DROP TABLE d").unwrap();
        let b = sql.find("ALTER TABLE b").unwrap();
        assert!(ig.silences("ban-drop-table", d));
        assert!(ig.silences("ban-drop-column", b));
        assert!(!ig.silences("ban-drop-column", d));
        assert!(ig.silences("renaming-column", b));
        let first =
            Ignores::read("-- godwit:lint-ignore ban-drop-table\nDROP TABLE a;\nDROP TABLE b;\n", Dialect::Postgres);
        assert!(first.silences("ban-drop-table", 37));
        assert!(!first.silences("ban-drop-table", 51), "touching the first statement: that statement only");
        // A blank line with spaces, in a file with CRLF line ends, still sets the file's comment apart.
        let crlf = "-- godwit:lint-ignore ban-drop-table\r\n  \r\nDROP TABLE a;\r\nDROP TABLE b;\r\n";
        assert!(Ignores::read(crlf, Dialect::Postgres).silences("ban-drop-table", crlf.find("DROP TABLE b").unwrap()));
        // A MySQL `#` comment with an apostrophe does not open a string.
        let my = "# don't forget\n-- godwit:lint-ignore ban-drop-column\nALTER TABLE u DROP COLUMN a;\nALTER TABLE u DROP COLUMN b;\n";
        assert!(
            !Ignores::read(my, Dialect::MySql)
                .silences("ban-drop-column", my.find("ALTER TABLE u DROP COLUMN b").unwrap())
        );
        assert_eq!(unknown("-- godwit:lint-ignore ban-drop-tabel typo\n"), vec![(0, "ban-drop-tabel".to_string())]);
    }
}
