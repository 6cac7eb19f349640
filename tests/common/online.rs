//! pt-online-schema-change in tests: what it leaves behind, and a run stopped while it copies.

use godwit::db::Database;
use godwit::event::RunEvent;
use godwit::migration::runner::{self, Cancel, RunOptions, RunReport};
use godwit::migration::source::Source;

use super::TestDb;

/// The tool's leftovers around `table`: its copy (`_TABLE_new`) and its triggers.
pub async fn leftovers(t: &TestDb, table: &str) -> Vec<String> {
    let mut out = t
        .strings(&format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE '\\_{table}%'"
        ))
        .await;
    out.extend(
        t.strings("SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()").await,
    );
    out
}

/// `up`, stopped (as a second Ctrl-C would) once the tool says it is copying rows.
pub async fn up_stopped_while_copying(db: &mut dyn Database, source: &Source) -> RunReport {
    let cancel = Cancel::default();
    let opts = RunOptions { cancel: cancel.clone(), ..Default::default() };
    runner::up(db, source, None, &opts, &mut |e| {
        if let RunEvent::Output { line, .. } = e
            && line.contains("Copying")
        {
            cancel.abort();
        }
    })
    .await
    .unwrap()
}
