//! `make bench`: backup and restore throughput on a PostgreSQL database of about 1 GB, Godwit beside
//! `pg_dump -Fc` / `pg_restore` run by hand on the same database. Godwit's goal: within 1.05x.
//! GODWIT_BENCH_SCALE sets pgbench's scale (default 70, about 1 GB).

use std::process::Command;
use std::time::{Duration, Instant};

use godwit::backup::{self, Store};
use godwit::db::{self, ConnectOptions, Target};
use godwit::migration::runner::Cancel;

fn sh(cmd: &mut Command) {
    let o = cmd.output().expect("run");
    assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let admin =
        std::env::var("GODWIT_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let u = url::Url::parse(&admin).unwrap();
    let (host, port, user) =
        (u.host_str().unwrap().to_string(), u.port().unwrap_or(5432).to_string(), u.username().to_string());
    let scale = std::env::var("GODWIT_BENCH_SCALE").unwrap_or_else(|_| "70".into());
    let name = format!("godwit_bench_backup_{}", std::process::id());
    let conn = ["-h", host.as_str(), "-p", port.as_str(), "-U", user.as_str()];
    let psql = |sql: &str| {
        sh(Command::new("psql").arg("-q").args(conn).args(["-d", "postgres", "-c", sql]));
    };
    psql(&format!("DROP DATABASE IF EXISTS {name}"));
    psql(&format!("CREATE DATABASE {name}"));
    println!("== filling {name} with pgbench -i -s {scale}");
    let t = Instant::now();
    sh(Command::new("pgbench").args(["-q", "-i", "-s", &scale]).args(conn).arg(&name));
    let size = Command::new("psql")
        .arg("-Atq")
        .args(conn)
        .args(["-d", &name, "-c", "SELECT pg_database_size(current_database())"])
        .output()
        .unwrap()
        .stdout;
    let size = String::from_utf8(size).unwrap();
    let bytes: f64 = size.trim().parse().unwrap();
    println!("   {:.0} MB in {:.0} s", bytes / 1e6, secs(t.elapsed()));

    let tmp = tempfile::tempdir().unwrap();
    let mut u = u.clone();
    u.set_path(&format!("/{name}"));
    let target = Target::parse(u.as_str(), tmp.path()).unwrap();
    let store = Store { dir: tmp.path().join("store") };
    let opts = ConnectOptions { create_sqlite: false, ..Default::default() };
    let plain_file = tmp.path().join("plain.dump");

    let (mut plain_dump, mut plain_restore, mut ours_dump, mut ours_restore) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    let (mut plain_size, mut ours_size) = (0, 0);
    for round in 1..=3 {
        let t = Instant::now();
        sh(Command::new("pg_dump").arg("-Fc").args(conn).arg("-f").arg(&plain_file).arg(&name));
        plain_dump = plain_dump.min(secs(t.elapsed()));

        let mut db = db::connect(&target, &opts).await.unwrap();
        let t = Instant::now();
        let entry =
            backup::backup(db.as_mut(), &target, &store, "bench", 3, &Cancel::default(), &|_| {}).await.unwrap();
        ours_dump = ours_dump.min(secs(t.elapsed()));
        (plain_size, ours_size) = (std::fs::metadata(&plain_file).unwrap().len(), entry.size);

        let t = Instant::now();
        sh(Command::new("pg_restore")
            .args(["--clean", "--if-exists", "--single-transaction", "--no-owner"])
            .args(conn)
            .args(["-d", &name])
            .arg(&plain_file));
        plain_restore = plain_restore.min(secs(t.elapsed()));

        let t = Instant::now();
        let r = backup::restore(
            db.as_mut(),
            &target,
            &store,
            Some(&entry.id),
            Duration::from_secs(30),
            &Cancel::default(),
            &|_| {},
        )
        .await
        .unwrap();
        ours_restore = ours_restore.min(secs(t.elapsed()));
        assert!(r.comparison.matches(), "{:?}", r.comparison.differences);
        db.close().await;
        println!("   round {round} done");
    }
    let mb = bytes / 1e6;
    println!("== PostgreSQL, {mb:.0} MB database (best of 3)");
    println!(
        "backup   pg_dump -Fc   {plain_dump:>6.2} s  {:>6.1} MB/s  file {:.1} MB (zlib default)",
        mb / plain_dump,
        plain_size as f64 / 1e6
    );
    println!(
        "backup   godwit        {ours_dump:>6.2} s  {:>6.1} MB/s  file {:.1} MB (zlib level 1)  ({:.3}x; with row counts, schema fingerprint, SHA-256)",
        mb / ours_dump,
        ours_size as f64 / 1e6,
        ours_dump / plain_dump
    );
    println!("restore  pg_restore    {plain_restore:>6.2} s  {:>6.1} MB/s", mb / plain_restore);
    println!(
        "restore  godwit        {ours_restore:>6.2} s  {:>6.1} MB/s  ({:.3}x; with checksum check and verification)",
        mb / ours_restore,
        ours_restore / plain_restore
    );
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}
