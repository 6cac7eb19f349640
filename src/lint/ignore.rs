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
    pub(super) fn read(sql: &str) -> Ignores {
        // Any dialect splits comments alike; PostgreSQL's is the most permissive.
        let statements = crate::syntax::split::split(sql, Dialect::Postgres).unwrap_or_default();
        let mut out = Ignores { file: Vec::new(), statements: Vec::new() };
        let mut prev_end = 0;
        for (i, s) in statements.iter().enumerate() {
            let between = &sql[prev_end..s.offset];
            // The comment block touching the statement is the statement's; above a blank line at
            // the top, the file's.
            let split = between.rfind("\n\n").map_or(0, |p| p + 2);
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
        let ig = Ignores::read(sql);
        let d = sql.find("DROP TABLE d").unwrap();
        let b = sql.find("ALTER TABLE b").unwrap();
        assert!(ig.silences("ban-drop-table", d));
        assert!(ig.silences("ban-drop-column", b));
        assert!(!ig.silences("ban-drop-column", d));
        assert!(ig.silences("renaming-column", b));
        let first = Ignores::read("-- godwit:lint-ignore ban-drop-table\nDROP TABLE a;\nDROP TABLE b;\n");
        assert!(first.silences("ban-drop-table", 37));
        assert!(!first.silences("ban-drop-table", 51), "touching the first statement: that statement only");
    }
}
