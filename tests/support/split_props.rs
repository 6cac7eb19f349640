//! What the statement splitter promises for any text, shared by the property tests and the fuzz
//! target: it never panics; the statements are slices of the text in order, not overlapping, each
//! at the line it says; and what lies between them is only space, `;` and comments (splitting it
//! again gives no statement), so the statements and the gaps, joined, give back the text.

use godwit::syntax::Dialect;
use godwit::syntax::split::{line_col, split};

pub fn check(sql: &str, dialect: Dialect) {
    let Ok(statements) = split(sql, dialect) else { return };
    let mut end = 0;
    let mut joined = String::new();
    for s in &statements {
        assert!(s.offset >= end, "{dialect:?}: statements overlap in {sql:?}");
        assert_eq!(&sql[s.offset..s.offset + s.sql.len()], s.sql, "{dialect:?}: not a slice at its offset");
        let space = |c: char| c.is_ascii_whitespace() || c == '\x0b';
        assert!(!s.sql.trim_matches(space).is_empty(), "{dialect:?}: an empty statement in {sql:?}");
        assert_eq!(s.line, line_col(sql, s.offset).0, "{dialect:?}: wrong line in {sql:?}");
        gap(&sql[end..s.offset], dialect, sql);
        joined.push_str(&sql[end..s.offset]);
        joined.push_str(s.sql);
        end = s.offset + s.sql.len();
    }
    gap(&sql[end..], dialect, sql);
    joined.push_str(&sql[end..]);
    assert_eq!(joined, sql);
}

fn gap(text: &str, dialect: Dialect, whole: &str) {
    match split(text, dialect) {
        Ok(s) => assert!(s.is_empty(), "{dialect:?}: {text:?} between statements of {whole:?} holds {s:?}"),
        Err(e) => panic!("{dialect:?}: {text:?} between statements of {whole:?} does not split: {e:?}"),
    }
}
