//! `make bench`: what a run's bookkeeping costs per migration, beside sqlx's own migrator and the
//! server's round-trip time, and how fast `status` answers on 10,000 migrations. Numbers to read,
//! not assertions. Uses the same servers as the tests (GODWIT_TEST_PG_URL / GODWIT_TEST_MYSQL_URL).

use std::path::Path;
use std::time::{Duration, Instant};

use godwit::db::{self, ConnectOptions, Database, Target};
use godwit::migration::runner::{self, RunOptions};
use godwit::migration::source::Source;
use godwit::migration::status;
use sqlx::{AssertSqlSafe, Connection, Executor};

const RUN: usize = 300;
const STATUS: usize = 10_000;

fn admin(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.into())
}

fn with_db(admin: &str, name: &str) -> String {
    let mut u = url::Url::parse(admin).unwrap();
    u.set_path(&format!("/{name}"));
    u.to_string()
}

async fn exec_admin(url: &str, sql: &str) {
    if url.starts_with("postgres") {
        sqlx::PgConnection::connect(url).await.unwrap().execute(AssertSqlSafe(sql.to_string())).await.unwrap();
    } else {
        sqlx::MySqlConnection::connect(url).await.unwrap().execute(AssertSqlSafe(sql.to_string())).await.unwrap();
    }
}

fn write_migrations(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 1..=n {
        let v = 20240000000000i64 + i as i64;
        std::fs::write(
            dir.join(format!("{v}_step_{i}.up.sql")),
            format!("-- step {i}\n--\n-- Revision ID: {v}\n-- Revises: {}\n\nCREATE TABLE t{i} (id INTEGER);\n", v - 1),
        )
        .unwrap();
        std::fs::write(dir.join(format!("{v}_step_{i}.down.sql")), format!("DROP TABLE t{i};\n")).unwrap();
    }
}

async fn connect(url: &str, base: &Path) -> Box<dyn Database> {
    let opts = ConnectOptions { create_sqlite: true, connect_timeout: Duration::from_secs(10), ..Default::default() };
    db::connect(&Target::parse(url, base).unwrap(), &opts).await.unwrap()
}

/// Median time of `SELECT 1` on one connection: the round trip.
async fn rtt(url: &str) -> Duration {
    let mut times = Vec::new();
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        for _ in 0..200 {
            let t = Instant::now();
            c.execute("SELECT 1").await.unwrap();
            times.push(t.elapsed());
        }
    } else {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        for _ in 0..200 {
            let t = Instant::now();
            c.execute("SELECT 1").await.unwrap();
            times.push(t.elapsed());
        }
    }
    times.sort();
    times[times.len() / 2]
}

async fn bench_server(label: &str, admin_url: &str, dir: &Path) {
    let (a, b) = (format!("godwit_bench_a_{}", std::process::id()), format!("godwit_bench_b_{}", std::process::id()));
    for n in [&a, &b] {
        exec_admin(admin_url, &format!("DROP DATABASE IF EXISTS {n}")).await;
        exec_admin(admin_url, &format!("CREATE DATABASE {n}")).await;
    }
    let (url_a, url_b) = (with_db(admin_url, &a), with_db(admin_url, &b));
    let source = Source::load(dir).unwrap();
    let rtt = rtt(&url_a).await;

    let mut db = connect(&url_a, dir).await;
    let t = Instant::now();
    runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {}).await.unwrap().into_result().unwrap();
    let godwit = t.elapsed() / RUN as u32;

    let migrator = sqlx::migrate::Migrator::new(dir.to_path_buf()).await.unwrap();
    let t = Instant::now();
    if url_b.starts_with("postgres") {
        migrator.run(&mut sqlx::PgConnection::connect(&url_b).await.unwrap()).await.unwrap();
    } else {
        migrator.run(&mut sqlx::MySqlConnection::connect(&url_b).await.unwrap()).await.unwrap();
    }
    let sqlx = t.elapsed() / RUN as u32;

    println!(
        "{label:<10} round trip {:>7.3} ms | per migration (CREATE TABLE): godwit {:>7.3} ms, sqlx {:>7.3} ms ({:.2}x)",
        ms(rtt),
        ms(godwit),
        ms(sqlx),
        sqlx.as_secs_f64() / godwit.as_secs_f64()
    );
    db.close().await;
    for n in [&a, &b] {
        exec_admin(admin_url, &format!("DROP DATABASE IF EXISTS {n}")).await;
    }
}

async fn bench_status(label: &str, url: &str, dir: &Path, base: &Path) {
    let source = Source::load(dir).unwrap();
    let mut db = connect(url, base).await;
    runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {}).await.unwrap().into_result().unwrap();
    let mut times = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let source = Source::load(dir).unwrap();
        let applied = db.applied().await.unwrap();
        let rows = status::rows(&source, &applied);
        assert_eq!(rows.len(), STATUS);
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{label:<10} status on {STATUS} applied migrations (read folder + history + merge): {:.1} ms (median of 7)",
        ms(times[3])
    );
    db.close().await;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let pg = admin("GODWIT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres");
    let my = admin("GODWIT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql");
    let tmp = tempfile::tempdir().unwrap();

    println!("== apply {RUN} migrations, one connection, loopback");
    let run_dir = tmp.path().join("run");
    write_migrations(&run_dir, RUN);
    bench_server("PostgreSQL", &pg, &run_dir).await;
    bench_server("MariaDB", &my, &run_dir).await;

    println!("== status");
    let status_dir = tmp.path().join("status");
    write_migrations(&status_dir, STATUS);
    let sqlite = format!("sqlite://{}", tmp.path().join("status.db").display());
    bench_status("SQLite", &sqlite, &status_dir, tmp.path()).await;
    let name = format!("godwit_bench_s_{}", std::process::id());
    exec_admin(&pg, &format!("DROP DATABASE IF EXISTS {name}")).await;
    exec_admin(&pg, &format!("CREATE DATABASE {name}")).await;
    bench_status("PostgreSQL", &with_db(&pg, &name), &status_dir, tmp.path()).await;
    exec_admin(&pg, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}
