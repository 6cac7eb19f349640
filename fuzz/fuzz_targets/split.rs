//! The statement splitter on any text, in each dialect: the promises of tests/support/split_props.rs.
#![no_main]

#[path = "../../tests/support/split_props.rs"]
mod split_props;

use godwit::syntax::Dialect;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|sql: &str| {
    for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
        split_props::check(sql, dialect);
    }
});
