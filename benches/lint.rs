//! `make bench`: `lint` of 1,000 PostgreSQL migration files (2,000 with their downs), in process, as
//! `godwit lint --all` does it. Numbers to read, not assertions; the median of several rounds.

use std::path::Path;
use std::time::{Duration, Instant};

use godwit::lint::{self, LintConfig};
use godwit::migration::source::Source;
use godwit::syntax::Dialect;

const FILES: usize = 1000;
const ROUNDS: usize = 5;

fn write_migrations(dir: &Path) {
    for i in 1..=FILES {
        let v = 20240000000000i64 + i as i64;
        let (up, down) = match i % 4 {
            0 => (
                format!(
                    "ALTER TABLE t{p} ADD COLUMN c{i} TEXT NOT NULL;\nCREATE INDEX t{p}_c{i} ON t{p} (c{i});\n",
                    p = i - 1
                ),
                format!("DROP INDEX t{p}_c{i};\nALTER TABLE t{p} DROP COLUMN c{i};\n", p = i - 1),
            ),
            _ => (
                format!(
                    "CREATE TABLE t{i} (id BIGINT PRIMARY KEY, parent BIGINT REFERENCES t{p} (id), name TEXT NOT NULL \
                     DEFAULT '', created_at TIMESTAMPTZ NOT NULL DEFAULT now());\nCREATE INDEX t{i}_name ON t{i} (name);\n\
                     INSERT INTO t{i} (id, name) VALUES (1, 'first');\n",
                    p = (i - 1).max(1)
                ),
                format!("DROP TABLE t{i};\n"),
            ),
        };
        std::fs::write(dir.join(format!("{v}_step_{i}.up.sql")), up).unwrap();
        std::fs::write(dir.join(format!("{v}_step_{i}.down.sql")), down).unwrap();
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    write_migrations(dir.path());
    let mut times: Vec<Duration> = Vec::new();
    let mut findings = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let source = Source::load(dir.path()).unwrap();
        let all: Vec<_> = source.migrations.iter().collect();
        findings = lint::lint(&all, &[], dir.path(), Dialect::Postgres, &LintConfig::default()).findings.len();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "lint of {FILES} PostgreSQL migrations ({} files with their downs, {findings} findings): median {:.0} ms of {ROUNDS} \
         (min {:.0}, max {:.0})",
        FILES * 2,
        times[ROUNDS / 2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[ROUNDS - 1].as_secs_f64() * 1000.0
    );
}
