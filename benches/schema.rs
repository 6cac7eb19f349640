//! `make bench`: how long a schema snapshot takes on 500 PostgreSQL tables (with their keys,
//! foreign keys and indexes), and `verify` of 300 migrations beside applying them once. Numbers to
//! read, not assertions; medians of several rounds, whole operations as a person waits for them.

use std::path::Path;
use std::time::{Duration, Instant};

use godwit::db::{self, ConnectOptions, Database, Target};
use godwit::migration::runner::{self, Cancel, RunOptions};
use godwit::migration::source::Source;
use godwit::migration::verify;
use sqlx::{AssertSqlSafe, Connection, Executor};

const TABLES: usize = 500;
const MIGRATIONS: usize = 300;
const ROUNDS: usize = 7;

fn pg_admin() -> String {
    std::env::var("GODWIT_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_db(admin: &str, name: &str) -> String {
    let mut u = url::Url::parse(admin).unwrap();
    u.set_path(&format!("/{name}"));
    u.to_string()
}

async fn admin(sql: &str) {
    sqlx::PgConnection::connect(&pg_admin()).await.unwrap().execute(AssertSqlSafe(sql.to_string())).await.unwrap();
}

async fn fresh(name: &str) -> String {
    admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    admin(&format!("CREATE DATABASE {name}")).await;
    with_db(&pg_admin(), name)
}

async fn connect(url: &str) -> Box<dyn Database> {
    db::connect(&Target::parse(url, Path::new(".")).unwrap(), &ConnectOptions::default()).await.unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn write_migrations(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 1..=MIGRATIONS {
        let v = 20240000000000i64 + i as i64;
        let up = match i {
            1 => "CREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT);\n".to_string(),
            _ => format!(
                "CREATE TABLE t{i} (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES t{} (id), name TEXT);\n\
                 CREATE INDEX t{i}_name ON t{i} (name);\n",
                i - 1
            ),
        };
        std::fs::write(dir.join(format!("{v}_step_{i}.up.sql")), up).unwrap();
        std::fs::write(dir.join(format!("{v}_step_{i}.down.sql")), format!("DROP TABLE t{i};\n")).unwrap();
    }
}

#[tokio::main]
async fn main() {
    // A snapshot of 500 tables, each with a primary key, a foreign key and an index.
    let url = fresh("godwit_bench_snapshot").await;
    let mut ddl = String::new();
    for i in 1..=TABLES {
        let fk = if i > 1 { format!(", parent INTEGER REFERENCES s{} (id)", i - 1) } else { String::new() };
        ddl.push_str(&format!("CREATE TABLE s{i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT ''{fk});\n"));
        ddl.push_str(&format!("CREATE INDEX s{i}_name ON s{i} (name);\n"));
    }
    sqlx::PgConnection::connect(&url).await.unwrap().execute(AssertSqlSafe(ddl)).await.unwrap();
    let mut db = connect(&url).await;
    let objects = db.inspect().await.unwrap().objects.len();
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        db.inspect().await.unwrap();
        times.push(t.elapsed());
    }
    db.close().await;
    println!(
        "snapshot of {TABLES} PostgreSQL tables ({objects} objects): median {:.0} ms of {ROUNDS}",
        median(times).as_secs_f64() * 1000.0
    );
    admin("DROP DATABASE godwit_bench_snapshot WITH (FORCE)").await;

    // Verify of 300 migrations beside applying them once, on fresh databases each round.
    let dir = tempfile::tempdir().unwrap();
    write_migrations(dir.path());
    let source = Source::load(dir.path()).unwrap();
    let (mut apply, mut check) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let url = fresh("godwit_bench_apply").await;
        let mut db = connect(&url).await;
        let t = Instant::now();
        runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {})
            .await
            .unwrap()
            .into_result()
            .unwrap();
        apply.push(t.elapsed());
        db.close().await;

        let url = fresh("godwit_bench_verify").await;
        let mut db = connect(&url).await;
        let t = Instant::now();
        let r =
            verify::verify(&mut db, &source, None, None, &Cancel::default(), &Default::default(), &mut |_, _, _| {})
                .await
                .unwrap();
        check.push(t.elapsed());
        assert!(r.checked.iter().all(|c| !c.is_problem()));
        db.close().await;
    }
    let (apply, check) = (median(apply), median(check));
    println!(
        "{MIGRATIONS} migrations on PostgreSQL: applied once in {:.2} s, verified (each up, down, compare, up again) in \
         {:.2} s: {:.1}x (median of 3)",
        apply.as_secs_f64(),
        check.as_secs_f64(),
        check.as_secs_f64() / apply.as_secs_f64()
    );
    admin("DROP DATABASE godwit_bench_apply WITH (FORCE)").await;
    admin("DROP DATABASE godwit_bench_verify WITH (FORCE)").await;
}
