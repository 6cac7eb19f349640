//! Backups on real servers: a round trip through a destructive migration, and the ways a backup
//! can go wrong (no tool, an old tool, a full disk, a damaged file, a cancel).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::TestDb;
use godwit::ErrorKind;
use godwit::backup::{self, BackupEvent, Store};
use godwit::db::Dialect;
use godwit::migration::runner::Cancel;

/// Representative data: tables with many rows, an index, a view, and a trigger (with a function
/// on PostgreSQL).
fn seed_sql(d: Dialect) -> String {
    let mut s = String::from(
        "CREATE TABLE authors (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n\
         CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, title VARCHAR(200), pages INTEGER);\n\
         CREATE INDEX books_author ON books (author_id);\n\
         CREATE TABLE audit (id INTEGER, note VARCHAR(100));\n\
         CREATE VIEW long_books AS SELECT id, title FROM books WHERE pages > 300;\n",
    );
    s.push_str(match d {
        Dialect::Postgres => {
            "CREATE FUNCTION note_book() RETURNS trigger AS $$ BEGIN INSERT INTO audit VALUES (NEW.id, 'added'); RETURN NEW; END $$ LANGUAGE plpgsql;\n\
             CREATE TRIGGER books_audit AFTER INSERT ON books FOR EACH ROW EXECUTE FUNCTION note_book();\n\
             INSERT INTO authors SELECT g, 'author ' || g FROM generate_series(1, 500) g;\n\
             INSERT INTO books SELECT g, 1 + g % 500, 'title ' || md5(g::text), g % 900 FROM generate_series(1, 20000) g;\n"
        }
        Dialect::MySql => {
            "CREATE TRIGGER books_audit AFTER INSERT ON books FOR EACH ROW INSERT INTO audit VALUES (NEW.id, 'added');\n\
             SET SESSION max_recursive_iterations = 100000;\n\
             INSERT INTO authors WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 500) SELECT n, CONCAT('author ', n) FROM g;\n\
             INSERT INTO books WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) SELECT n, 1 + n % 500, CONCAT('title ', MD5(n)), n % 900 FROM g;\n"
        }
        Dialect::Sqlite => {
            "CREATE TRIGGER books_audit AFTER INSERT ON books BEGIN INSERT INTO audit VALUES (NEW.id, 'added'); END;\n\
             INSERT INTO authors WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 500) SELECT n, 'author ' || n FROM g;\n\
             INSERT INTO books WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) SELECT n, 1 + n % 500, 'title ' || hex(n * 7919), n % 900 FROM g;\n"
        }
    });
    s
}

fn row_text(d: Dialect, table: &str, cols: &str) -> String {
    let cols: Vec<&str> = cols.split(',').collect();
    let expr = match d {
        Dialect::MySql => format!("CONCAT_WS('|', {})", cols.join(", ")),
        Dialect::Postgres => {
            cols.iter().map(|c| format!("coalesce({c}::text, '')")).collect::<Vec<_>>().join(" || '|' || ")
        }
        Dialect::Sqlite => cols.iter().map(|c| format!("coalesce({c}, '')")).collect::<Vec<_>>().join(" || '|' || "),
    };
    format!("SELECT {expr} FROM {table} ORDER BY 1")
}

/// Every row of every seeded table, as text.
async fn data(t: &TestDb) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (table, cols) in [("authors", "id,name"), ("books", "id,author_id,title,pages"), ("audit", "id,note")] {
        out.push(t.strings(&row_text(t.dialect, table, cols)).await);
    }
    out
}

fn godwit(t: &TestDb, data_dir: &Path, args: &[&str]) -> Output {
    godwit_command(t, data_dir, args).output().unwrap()
}

/// `godwit` on the test's database, for a test to add to (a tool of its own first on PATH).
fn godwit_command(t: &TestDb, data_dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_godwit"));
    c.current_dir(t.dir.path()).env("GODWIT_DATA_DIR", data_dir).args(["--url", &t.url, "--source", "migrations"]);
    c.args(args);
    c
}

/// PATH with `dir` first: a fake tool there stands in for the real one.
fn first_on_path(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(files(&e.path()));
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}

async fn round_trip(d: Dialect) {
    let t = TestDb::new(d).await;
    t.write("1_seed.sql", &seed_sql(d));
    // Foreign keys made after the backup, from a newer table and from an old one, onto a key the
    // backup holds: the restore must drop them to put that key back.
    let mut destroy = String::from(
        "DROP VIEW long_books;\nDROP TABLE audit;\nDELETE FROM books WHERE id % 2 = 0;\n\
         ALTER TABLE authors ADD COLUMN email VARCHAR(100);\nUPDATE authors SET name = 'gone';\n\
         CREATE TABLE newer (id INTEGER PRIMARY KEY, author_id INTEGER, FOREIGN KEY (author_id) REFERENCES authors (id));\n\
         INSERT INTO newer VALUES (1, 1);\n",
    );
    if d != Dialect::Sqlite {
        destroy.push_str(
            "ALTER TABLE books ADD CONSTRAINT books_author_fk FOREIGN KEY (author_id) REFERENCES authors (id);\n",
        );
    }
    t.write("2_destroy.sql", &destroy);
    let data_dir = tempfile::tempdir().unwrap();
    let o = godwit(&t, data_dir.path(), &["up", "--to", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let (schema, rows, history) = (t.schema().await, data(&t).await, t.history().await);
    assert_eq!(rows[1].len(), 20000);
    assert_eq!(rows[2].len(), 20000, "the trigger fired for every book");

    // Backup then migrate, destructively.
    let o = godwit(&t, data_dir.path(), &["up", "--backup", "--verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("verified backup"), "{}", text(&o));
    assert!(!t.tables().await.contains(&"audit".to_string()), "the destructive migration ran");
    assert_ne!(t.schema().await, schema);

    let o = godwit(&t, data_dir.path(), &["backups", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entry = &list["backups"][0];
    assert_eq!(entry["migration_version"], 1);
    assert!(entry["sha256"].as_str().unwrap().len() == 64 && entry["size"].as_u64().unwrap() > 0);
    let books =
        entry["tables"].as_array().unwrap().iter().find(|t| t["table"].as_str().unwrap().ends_with("books")).unwrap();
    assert_eq!(books["rows"], 20000);
    // What a verify found, for a script.
    let o = godwit(&t, data_dir.path(), &["backups", "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((o.status.code(), &v["id"], &v["differences"]), (Some(0), &entry["id"], &serde_json::json!([])), "{v}");
    assert_eq!(
        v["rows"].as_i64(),
        entry["tables"].as_array().map(|t| t.iter().map(|t| t["rows"].as_i64().unwrap()).sum())
    );
    // The file is the tool's own dump (a MariaDB one zstd-compressed): restorable by hand.
    if d != Dialect::Sqlite {
        let file = walk(data_dir.path())
            .into_iter()
            .find(|p| p.to_string_lossy().contains(entry["id"].as_str().unwrap()))
            .unwrap();
        let bytes = std::fs::read(&file).unwrap();
        let plain = if d == Dialect::MySql { zstd::decode_all(&bytes[..]).unwrap() } else { bytes };
        let head = String::from_utf8_lossy(&plain[..300]).into_owned();
        assert!(
            if d == Dialect::Postgres {
                head.starts_with("PGDMP")
            } else {
                head.contains("MariaDB dump") || head.contains("MySQL dump")
            },
            "{head}"
        );
    }

    let db_name = t.target().database();
    // Never applied: not "again".
    t.write("9_never.sql", "CREATE TABLE never (id INTEGER);");
    let o = godwit(&t, data_dir.path(), &["restore", "--confirm", &db_name]);
    assert!(o.status.success(), "{}", text(&o));
    // The destructive migration is pending again, and the restore says so.
    assert!(text(&o).contains("1 migration(s) are pending again (from 2)"), "{}", text(&o));
    assert!(!t.tables().await.contains(&"newer".to_string()), "the table made after the backup is gone");
    assert_eq!(t.schema().await, schema, "schema back");
    assert_eq!(data(&t).await, rows, "every row back");
    assert_eq!(t.history().await, history, "history as at backup time");
    // The log kept what happened, including the run that was undone, and the restore.
    let log = t.log().await;
    for needle in ["backup:ok:1", "apply:ok:2", "restore:ok:1"] {
        assert!(log.iter().any(|l| l == needle), "{needle} missing from {log:?}");
    }
}

/// `backup` takes the migration lock: while a run holds it, the backup waits, and gives up after
/// `--lock-timeout` with nothing taken (exit 4); once it is free, the backup goes.
async fn a_backup_waits_for_a_migration_run(d: Dialect) {
    let t = TestDb::new(d).await;
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    let mut run = t.connect().await;
    run.lock(std::time::Duration::from_secs(5)).await.unwrap();
    let o = godwit(&t, data_dir.path(), &["--lock-timeout", "1", "backup"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(files(data_dir.path()).iter().all(|f| !f.ends_with(".partial")), "nothing left half-written");
    let o = godwit(&t, data_dir.path(), &["backups", "--json"]);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["backups"], serde_json::json!([]));
    run.unlock().await.unwrap();
    let o = godwit(&t, data_dir.path(), &["--lock-timeout", "1", "backup"]);
    assert!(o.status.success(), "{}", text(&o));
    run.close().await;
}

on_each_db!(round_trip, a_backup_waits_for_a_migration_run, objects_made_after_the_backup);

#[tokio::test]
async fn missing_and_too_old_tools_stop_before_anything_runs() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let data_dir = tempfile::tempdir().unwrap();
    // No pg_dump on PATH.
    let empty = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(t.dir.path())
        .env("GODWIT_DATA_DIR", data_dir.path())
        .env("PATH", empty.path())
        .args(["--url", &t.url, "up", "--backup"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("pg_dump was not found on PATH") && text(&o).contains("Nothing was migrated"),
        "{}",
        text(&o)
    );
    assert!(t.tables().await.is_empty());
    // A pg_dump older than the server.
    let fake = tempfile::tempdir().unwrap();
    for tool in ["pg_dump", "pg_restore"] {
        let p = fake.path().join(tool);
        std::fs::write(&p, format!("#!/bin/sh\necho '{tool} (PostgreSQL) 12.9'\n")).unwrap();
        Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    }
    let o = Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(t.dir.path())
        .env("GODWIT_DATA_DIR", data_dir.path())
        .env("PATH", format!("{}:{}", fake.path().display(), std::env::var("PATH").unwrap()))
        .args(["--url", &t.url, "backup"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("older than the server") && text(&o).contains("postgresql-client-15"), "{}", text(&o));
    assert!(files(data_dir.path()).is_empty(), "{:?}", files(data_dir.path()));
}

/// A 256 kB tmpfs, unmounted when dropped: a disk that fills up.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount() -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let ok =
            Command::new("mount").args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"]).arg(dir.path()).status().unwrap();
        assert!(ok.success(), "this test needs to mount a small tmpfs (run as root)");
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// A small tmpfs as the data dir: the dump cannot fit.
#[tokio::test]
async fn a_full_disk_leaves_no_backup_and_migrates_nothing() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write(
        "1_big.sql",
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 60000) g;",
    );
    t.write("2_next.sql", "CREATE TABLE next (id INTEGER);");
    let mount = SmallDisk::mount();
    assert!(godwit(&t, mount.0.path(), &["up", "--to", "1"]).status.success());
    let o = godwit(&t, mount.0.path(), &["up", "--backup"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("the disk is full") && text(&o).contains("Nothing was migrated"), "{}", text(&o));
    assert_eq!(t.history().await, vec!["1:true"], "nothing migrated");
    assert!(files(mount.0.path()).is_empty(), "no half file left: {:?}", files(mount.0.path()));
}

/// A SQLite database on a full disk: the run says it is the disk (not the file), changes nothing,
/// and goes through once there is room.
#[tokio::test]
async fn a_full_disk_under_sqlite_is_named_and_changes_nothing() {
    let mount = SmallDisk::mount();
    let migrations = mount.0.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(migrations.join("1_a.sql"), "CREATE TABLE a (id INTEGER);").unwrap();
    std::fs::write(
        migrations.join("2_big.sql"),
        "CREATE TABLE big AS WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) \
         SELECT n, hex(randomblob(40)) AS v FROM g;",
    )
    .unwrap();
    let godwit = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(mount.0.path())
            .args(["--url", "sqlite://dev.db", "--source", "migrations", "--errors", "json"])
            .args(args)
            .output()
            .unwrap()
    };
    assert!(godwit(&["up", "--to", "1"]).status.success());
    let o = godwit(&["up"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stderr).lines().last().unwrap()).unwrap();
    assert_eq!(doc["problem"]["problem"], "io", "{doc}");
    let remedies: Vec<&str> =
        doc["remedies"].as_array().unwrap().iter().map(|r| r["remedy"].as_str().unwrap()).collect();
    assert!(!remedies.contains(&"fix_and_apply"), "the file is not what to fix: {doc}");
    let o = godwit(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((&v["summary"]["applied"], &v["summary"]["pending"]), (&serde_json::json!(1), &serde_json::json!(1)));
    // Room made: the same file goes through.
    let ok = Command::new("mount").args(["-o", "remount,size=16m"]).arg(mount.0.path()).status().unwrap();
    assert!(ok.success());
    let o = godwit(&["up"]);
    assert!(o.status.success(), "{}", text(&o));
}

#[tokio::test]
async fn a_damaged_or_truncated_backup_is_refused() {
    let t = TestDb::new(Dialect::MySql).await;
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (1), (2);");
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    assert!(godwit(&t, data_dir.path(), &["backup"]).status.success());
    let store_file = walk(data_dir.path()).into_iter().find(|p| p.to_string_lossy().ends_with(".sql.zst")).unwrap();
    let original = std::fs::read(&store_file).unwrap();
    let mut bytes = original.clone();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x20;
    std::fs::write(&store_file, bytes).unwrap();
    t.strings("SELECT 'x' FROM DUAL WHERE 0").await;
    let o = godwit(&t, data_dir.path(), &["restore", "--confirm", &t.name]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is damaged") && text(&o).contains("nothing was changed"), "{}", text(&o));
    let id = store_file.file_name().unwrap().to_string_lossy().split('.').next().unwrap().to_string();
    let o = godwit(&t, data_dir.path(), &["backups", "verify", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is damaged"));
    assert_eq!(t.strings("SELECT CAST(COUNT(*) AS CHAR) FROM a").await, vec!["2"]);

    // Truncated (a copy cut short, a disk that filled after the fact): refused the same way.
    std::fs::write(&store_file, &original[..original.len() / 3]).unwrap();
    let o = godwit(&t, data_dir.path(), &["restore", "--confirm", &t.name]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(t.strings("SELECT CAST(COUNT(*) AS CHAR) FROM a").await, vec!["2"]);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[tokio::test]
async fn a_cancelled_backup_leaves_nothing_that_looks_complete() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write("1_big.sql", "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 3)::text) || md5((g * 5)::text) AS v FROM generate_series(1, 600000) g;");
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    let store = Store { dir: data_dir.path().join("store") };
    let mut db = t.connect().await;
    let cancel = Cancel::default();
    let c = cancel.clone();
    let on = move |e: &BackupEvent| {
        if matches!(e, BackupEvent::Bytes { bytes, .. } if *bytes > 0) {
            c.cancel();
        }
    };
    let r = backup::backup(db.as_mut(), &t.target(), &store, "test", 10, &cancel, &on).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{}", e.message);
    assert!(files(&store.dir).is_empty(), "{:?}", files(&store.dir));
    assert!(store.list().unwrap().is_empty());

    // A restore stops too, though pg_restore reads its file itself, and changes nothing.
    let entry =
        backup::backup(db.as_mut(), &t.target(), &store, "test", 10, &Cancel::default(), &|_| {}).await.unwrap();
    t.strings("DELETE FROM big WHERE id > 10").await;
    let cancel = Cancel::default();
    let c = cancel.clone();
    let on = move |e: &BackupEvent| {
        if matches!(e, BackupEvent::Phase { message } if message.starts_with("restoring")) {
            let c = c.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                c.cancel();
            });
        }
    };
    let lock = std::time::Duration::from_secs(10);
    let e = backup::restore(db.as_mut(), &t.target(), &store, Some(&entry.id), lock, &cancel, &on).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{}", e.message);
    assert_eq!(t.strings("SELECT count(*)::text FROM big").await, vec!["10"], "the restore's transaction was undone");
    db.close().await;
}

/// A SQLite restore stopped while it writes the file (its journal is there) leaves the database as
/// it was: the online backup's transaction is rolled back. Nothing is recorded as left part way, so
/// the next run is not refused.
#[tokio::test]
async fn a_cancelled_sqlite_restore_changes_nothing() {
    let t = TestDb::new(Dialect::Sqlite).await;
    t.write(
        "1_big.sql",
        "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT);\n\
         INSERT INTO big WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 400000) \
         SELECT n, hex(randomblob(100)) FROM g;\n",
    );
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    let store = Store { dir: data_dir.path().join("store") };
    let mut db = t.connect().await;
    let entry =
        backup::backup(db.as_mut(), &t.target(), &store, "test", 10, &Cancel::default(), &|_| {}).await.unwrap();
    t.exec("DELETE FROM big WHERE id > 10").await;
    let cancel = Cancel::default();
    let c = cancel.clone();
    let journal = ["-journal", "-wal"].map(|s| PathBuf::from(format!("{}{s}", t.sqlite_path().display())));
    let watcher = tokio::spawn(async move {
        // Stopped once the copy is writing the file.
        while !journal.iter().any(|j| j.exists()) {
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        }
        c.cancel();
    });
    let lock = std::time::Duration::from_secs(10);
    let e =
        backup::restore(db.as_mut(), &t.target(), &store, Some(&entry.id), lock, &cancel, &|_| {}).await.unwrap_err();
    watcher.abort();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{}", e.message);
    assert!(e.message.contains("as it was"), "{}", e.message);
    assert_eq!(t.strings("SELECT CAST(count(*) AS TEXT) FROM big").await, vec!["10"]);
    db.close().await;
    assert!(t.log().await.contains(&"restore:failed:1".to_string()), "{:?}", t.log().await);
    t.write("2_more.sql", "CREATE TABLE more (id INTEGER);");
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
}

#[tokio::test]
async fn retention_and_the_restore_hint_after_a_failed_run() {
    let t = TestDb::new(Dialect::Sqlite).await;
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        t.dir.path().join("godwit.toml"),
        format!("[env.dev]\nurl = \"{}\"\nprotected = true\n[backups]\nkeep = 2\n", t.url),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .env("GODWIT_DATA_DIR", data_dir.path())
            .env("HOME", data_dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    // Protected, and no terminal: refused, with the whole command to paste that names it.
    let o = run(&["up"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let printed: Vec<&str> = stderr.split('`').skip(1).step_by(2).filter(|c| c.starts_with("godwit ")).collect();
    assert!(printed.contains(&"godwit up --confirm dev"), "{stderr}");
    // Protected: a backup is made before the run without being asked.
    let o = run(&["up", "--confirm", "dev"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("backed up to"), "{}", text(&o));
    // The backup's id is in the result, on stdout.
    assert!(String::from_utf8_lossy(&o.stdout).contains("taken first"), "{}", text(&o));
    for _ in 0..2 {
        assert!(run(&["backup"]).status.success());
    }
    let o = run(&["backups", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list["backups"].as_array().unwrap().len(), 2, "keep = 2");
    let dbs = walk(data_dir.path()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "db")).count();
    assert_eq!(dbs, 2, "the oldest file went with its entry");
    // A file that cannot be split: bad input, before any backup, and nothing to acknowledge.
    t.write("2_open.sql", "INSERT INTO a VALUES (1);\nSELECT 'never closed;");
    let ids =
        || serde_json::from_slice::<serde_json::Value>(&run(&["backups", "--json"]).stdout).unwrap()["backups"].clone();
    let before = ids();
    let o = run(&["--errors", "json", "up", "--confirm", "dev"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!text(&o).contains("acknowledge"), "{}", text(&o));
    assert_eq!(ids(), before, "no backup for a run that cannot start");
    std::fs::remove_file(t.migrations().join("2_open.sql")).unwrap();
    // A failing migration that changed nothing: no restore is offered (it would only lose writes).
    let bad = "CREATE TABLE b (id INTEGER);\nINSERT INTO nowhere VALUES (1);";
    t.write("2_bad.sql", bad);
    let o = run(&["up", "--confirm", "dev"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!text(&o).contains("restore"), "{}", text(&o));
    // One applied, then a failure: the backup from before the run is pointed at.
    std::fs::remove_file(t.migrations().join("2_bad.sql")).unwrap();
    t.write("2_b.sql", "CREATE TABLE c (id INTEGER);");
    t.write("3_bad.sql", bad);
    let o = run(&["up", "--confirm", "dev"]);
    assert_eq!(o.status.code(), Some(1));
    let newest = serde_json::from_slice::<serde_json::Value>(&run(&["backups", "--json"]).stdout).unwrap()["backups"]
        [0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The command keeps the `--confirm dev` the run was given, so it can be pasted as printed.
    assert!(text(&o).contains(&format!("--confirm dev restore {newest}`")), "{}", text(&o));

    // A restore there backs up what the database holds first, outside the retention (the oldest
    // backup, restored here, would otherwise go), and says how to bring it back.
    let list = |o: &Output| -> Vec<String> {
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["backups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    };
    let kept = list(&run(&["backups", "--json"]));
    let oldest = kept.last().unwrap().clone();
    t.exec("INSERT INTO c VALUES (42)").await;
    let o = run(&["--confirm", "dev", "restore", &oldest]);
    assert!(o.status.success(), "{}", text(&o));
    let after = list(&run(&["backups", "--json"]));
    assert_eq!(after.len(), kept.len() + 1, "{after:?}");
    assert!(after.contains(&oldest));
    let back = String::from_utf8_lossy(&o.stdout)
        .split('`')
        .find(|c| c.contains(" restore ") && c.contains(&after[0]))
        .map(str::to_string)
        .expect("the command that brings it back");
    assert_eq!(t.strings("SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE name = 'c'").await, ["0"]);
    let pasted = Command::new("sh")
        .arg("-c")
        .arg(&back)
        .current_dir(t.dir.path())
        .env("GODWIT_DATA_DIR", data_dir.path())
        .env("HOME", data_dir.path())
        .env("PATH", first_on_path(Path::new(env!("CARGO_BIN_EXE_godwit")).parent().unwrap()))
        .output()
        .unwrap();
    assert!(pasted.status.success(), "{back}: {}", text(&pasted));
    assert_eq!(t.strings("SELECT CAST(id AS TEXT) FROM c").await, ["42"], "what it held came back");
}

#[tokio::test]
async fn restore_needs_the_name_typed() {
    let t = TestDb::new(Dialect::Sqlite).await;
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);");
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    assert!(godwit(&t, data_dir.path(), &["backup"]).status.success());
    let o = godwit(&t, data_dir.path(), &["restore"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("this replaces the data of"), "{}", text(&o));
}

/// A MariaDB backup made before dumps were compressed (a plain `.sql`) still restores.
#[tokio::test]
async fn a_plain_backup_from_before_compression_restores() {
    let t = TestDb::new(Dialect::MySql).await;
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (1), (2), (3);");
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    assert!(godwit(&t, data_dir.path(), &["backup"]).status.success());

    // Turn the stored backup into what an older Godwit wrote: the plain dump, named .sql.
    let packed = walk(data_dir.path()).into_iter().find(|p| p.to_string_lossy().ends_with(".sql.zst")).unwrap();
    let plain = zstd::decode_all(&std::fs::read(&packed).unwrap()[..]).unwrap();
    let plain_path = packed.with_extension("");
    std::fs::write(&plain_path, &plain).unwrap();
    std::fs::remove_file(&packed).unwrap();
    let manifest = packed.parent().unwrap().join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let entry = &mut m[0];
    entry["file"] = plain_path.file_name().unwrap().to_string_lossy().into_owned().into();
    entry["sha256"] = backup::tool::sha256_of(&plain_path).unwrap().into();
    entry["size"] = plain.len().into();
    std::fs::write(&manifest, serde_json::to_string(&m).unwrap()).unwrap();

    t.strings("DELETE FROM a").await;
    let o = godwit(&t, data_dir.path(), &["restore", "--confirm", &t.name]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(t.strings("SELECT CAST(COUNT(*) AS CHAR) FROM a").await, vec!["3"]);
}

/// A restore over a live PostgreSQL database commits only a script pg_restore wrote whole, and only
/// one opened with its `\restrict` guard: a pg_restore that fails part way, or one too old to guard
/// psql, leaves every table and row as it was.
#[tokio::test]
async fn a_restore_commits_only_a_whole_guarded_script() {
    let t = TestDb::new(Dialect::Postgres).await;
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\nINSERT INTO a VALUES (1), (2), (3);");
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    assert!(godwit(&t, data_dir.path(), &["backup"]).status.success());
    t.strings("DELETE FROM a WHERE id > 1").await;
    let before = (t.tables().await, t.strings("SELECT count(*)::text FROM a").await);

    let fake = tempfile::tempdir().unwrap();
    let restore_with = |script: &str, status: i32, more: bool| {
        let p = fake.path().join("pg_restore");
        // `more` writes 20 MB after the script: psql has stopped reading long before the end.
        let body = format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_restore (PostgreSQL) 15.19'; exit 0; fi\n\
             printf '%s' '{script}'\nif [ -n \"$MORE\" ]; then yes 'SELECT 1;' | head -c 20000000; fi\nexit {status}\n"
        );
        std::fs::write(&p, body).unwrap();
        Command::new("chmod").arg("+x").arg(&p).status().unwrap();
        godwit_command(&t, data_dir.path(), &["restore", "--confirm", &t.name])
            .env("PATH", first_on_path(fake.path()))
            .env("MORE", if more { "1" } else { "" })
            .output()
            .unwrap()
    };
    // Guarded, but pg_restore fails after writing part of its script.
    let o = restore_with("--\n\\restrict k1\nCREATE TABLE half (id INTEGER);\n", 1, false);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!((t.tables().await, t.strings("SELECT count(*)::text FROM a").await), before, "{}", text(&o));
    // psql stops at an error while the script still streams: reported, not Godwit's death by SIGPIPE.
    let o = restore_with("--\n\\restrict k1\nDROP TABLE nowhere;\n", 0, true);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("psql failed") && text(&o).contains("nowhere"), "{}", text(&o));
    assert_eq!((t.tables().await, t.strings("SELECT count(*)::text FROM a").await), before, "{}", text(&o));
    // Whole, but without the guard.
    let o = restore_with("--\nCREATE TABLE half (id INTEGER);\n", 0, false);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!((t.tables().await, t.strings("SELECT count(*)::text FROM a").await), before, "{}", text(&o));
    // History has the failed restore; the refused one never ran.
    let restores: Vec<String> = t.log().await.into_iter().filter(|l| l.starts_with("restore:")).collect();
    assert_eq!(restores, ["restore:failed:1", "restore:failed:1"]);
}

/// A MariaDB restore whose client stops part way (killed by a Ctrl-C sent to the terminal's whole
/// process group, say): Godwit outlives the closed pipe, says the database may be partly restored,
/// and history records the restore as left part way. The dump loads the history table first, so
/// what it then says applied is the backup's: `status` and `check` say the restore stopped, and
/// runs are refused (exit 6) until the restore they name is run again.
#[tokio::test]
async fn a_mariadb_restore_whose_client_dies_is_reported() {
    let t = TestDb::new(Dialect::MySql).await;
    t.write(
        "1_big.sql",
        "CREATE TABLE big (id INTEGER PRIMARY KEY, v VARCHAR(100));\n\
         SET SESSION max_recursive_iterations = 100000;\n\
         INSERT INTO big WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50000) \
         SELECT n, CONCAT(MD5(n), MD5(n + 1)) FROM g;\n",
    );
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    assert!(godwit(&t, data_dir.path(), &["backup"]).status.success());
    t.write("2_later.sql", "CREATE TABLE later (id INTEGER);");
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    // The real client, given only the start of the dump: it loads the history table and part of
    // `big`, then stops.
    let o = restore_cut_short(&t, data_dir.path(), 300_000);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("may be partly restored"), "{}", text(&o));
    assert!(t.log().await.contains(&"restore:partial:1".to_string()), "{:?} {}", t.log().await, text(&o));
    let finish = printed(&o, " restore ").expect("the restore names the command that finishes it");

    let status = godwit(&t, data_dir.path(), &["status"]);
    let restore = printed(&status, " restore ").expect("status names the restore to run again");
    assert_eq!(restore.rsplit(' ').next(), finish.rsplit(' ').next(), "the same backup");
    let check = godwit(&t, data_dir.path(), &["check", "--json"]);
    assert_ne!(check.status.code(), Some(0), "{}", text(&check));
    let findings: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(findings["findings"][0]["kind"], "partly_restored", "{findings}");
    // A backup too: it would pass for a good one, and its retention could remove the one to restore.
    for run in [&["up"][..], &["down"], &["up", "--dry-run"], &["backup"]] {
        let o = godwit(&t, data_dir.path(), run);
        assert_eq!(o.status.code(), Some(6), "{run:?} is refused: {}", text(&o));
        assert_eq!(printed(&o, " restore ").as_deref(), Some(restore.as_str()), "{}", text(&o));
    }
    assert!(t.tables().await.contains(&"later".to_string()), "nothing ran: {:?}", t.tables().await);

    // The command printed, run to the end with the real client, ends it.
    let pasted = Command::new("sh")
        .arg("-c")
        .arg(format!("{restore} --confirm {}", t.name))
        .current_dir(t.dir.path())
        .env("GODWIT_DATA_DIR", data_dir.path())
        .env("PATH", first_on_path(Path::new(env!("CARGO_BIN_EXE_godwit")).parent().unwrap()))
        .output()
        .unwrap();
    assert!(pasted.status.success(), "{restore}: {}", text(&pasted));
    assert!(godwit(&t, data_dir.path(), &["check"]).status.success());
    let o = godwit(&t, data_dir.path(), &["up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(t.tables().await.contains(&"later".to_string()));
}

/// The same where the backup was taken before any migration, so its database has no history table
/// to keep the log beside: the restore left part way is recorded all the same, and so is the one that
/// finishes it, which lets runs go again.
#[tokio::test]
async fn a_restore_finishing_one_left_part_way_clears_it_without_a_history_table() {
    let t = TestDb::new(Dialect::MySql).await;
    t.exec("CREATE TABLE big (id INTEGER PRIMARY KEY, v VARCHAR(100))").await;
    t.exec("INSERT INTO big SELECT seq, CONCAT(MD5(seq), MD5(seq + 1)) FROM seq_1_to_20000").await;
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["backup"]).status.success());
    let o = restore_cut_short(&t, data_dir.path(), 200_000);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(godwit(&t, data_dir.path(), &["up"]).status.code(), Some(6), "refused until restored");
    let o = godwit(&t, data_dir.path(), &["restore", "--confirm", &t.name]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(t.log().await.last().map(String::as_str), Some("restore:ok:"), "{:?}", t.log().await);
    let o = godwit(&t, data_dir.path(), &["check"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
}

/// A SQLite restore waits for another connection's transaction on the file, but not for ever: it
/// gives up (exit 4), and the database is as it was.
#[tokio::test]
async fn a_sqlite_restore_held_up_by_an_open_transaction_gives_up() {
    let t = TestDb::new(Dialect::Sqlite).await;
    t.write("1_a.sql", "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (1);");
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    assert!(godwit(&t, data_dir.path(), &["backup"]).status.success());
    t.exec("DELETE FROM a").await;
    use sqlx::{Connection, Executor};
    let mut reader = sqlx::SqliteConnection::connect(&t.url).await.unwrap();
    reader.execute("BEGIN; SELECT count(*) FROM a;").await.unwrap();
    let o = godwit(&t, data_dir.path(), &["restore", "--confirm", &t.target().database()]);
    reader.execute("COMMIT").await.unwrap();
    reader.close().await.unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(t.strings("SELECT CAST(count(*) AS TEXT) FROM a").await, ["0"], "as it was");
    assert!(godwit(&t, data_dir.path(), &["restore", "--confirm", &t.target().database()]).status.success());
    assert_eq!(t.strings("SELECT CAST(count(*) AS TEXT) FROM a").await, ["1"]);
}

/// `restore` of the newest backup with the real MariaDB client given only the first `bytes` of the
/// dump (as when it is killed part way).
fn restore_cut_short(t: &TestDb, data_dir: &Path, bytes: usize) -> Output {
    let fake = tempfile::tempdir().unwrap();
    let p = fake.path().join("mariadb");
    let real = which("mariadb");
    let script = format!("#!/bin/sh\nhead -c {bytes} | {} \"$@\"\ncat >/dev/null\nexit 1\n", real.display());
    std::fs::write(&p, script).unwrap();
    Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    godwit_command(t, data_dir, &["restore", "--confirm", &t.name])
        .env("PATH", first_on_path(fake.path()))
        .output()
        .unwrap()
}

/// The first command in backquotes that `o` printed containing `part`.
fn printed(o: &Output, part: &str) -> Option<String> {
    text(o).split('`').skip(1).step_by(2).find(|c| c.contains(part)).map(str::to_string)
}

/// Where `tool` is on PATH.
fn which(tool: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} is not on PATH"))
}

/// What a migration made after the backup besides tables (a type, a function, a sequence, a view,
/// a procedure) goes with a restore, on every database, and what the backup had comes back: the
/// next `up` runs that migration again cleanly. A restore that does not come out as the backup
/// recorded (here, a manifest edited to say so) says it differs, records that in history, and
/// prints how to see what differs, rather than promising that the next `up` runs the migrations
/// again.
async fn objects_made_after_the_backup(d: Dialect) {
    let t = TestDb::new(d).await;
    let (own, later) = match d {
        Dialect::Postgres => (
            "CREATE TABLE a (id INTEGER);\nCREATE VIEW kept AS SELECT id FROM a;",
            "CREATE TYPE mood AS ENUM ('ok', 'sad');\nALTER TABLE a ADD COLUMN m mood;\nCREATE SEQUENCE tickets;\n\
             CREATE FUNCTION answer() RETURNS integer AS 'SELECT 42' LANGUAGE sql;\nCREATE VIEW one AS SELECT 1 AS x;\n\
             CREATE DOMAIN positive AS integer CHECK (VALUE > 0);\nCREATE TYPE span AS RANGE (subtype = integer);\n",
        ),
        Dialect::MySql => (
            "CREATE TABLE a (id INTEGER);\nCREATE VIEW kept AS SELECT id FROM a;\n\
             CREATE FUNCTION kept_f() RETURNS INTEGER DETERMINISTIC RETURN 1;",
            "CREATE VIEW one AS SELECT 1 AS x;\nCREATE FUNCTION answer() RETURNS INTEGER DETERMINISTIC RETURN 42;\n\
             CREATE PROCEDURE nothing() BEGIN END;\n",
        ),
        _ => (
            "CREATE TABLE a (id INTEGER);\nCREATE VIEW kept AS SELECT id FROM a;",
            "CREATE VIEW one AS SELECT 1 AS x;\n",
        ),
    };
    t.write("1_a.sql", own);
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    assert!(godwit(&t, data_dir.path(), &["backup"]).status.success());
    let before = t.schema().await;
    t.write("2_later.sql", later);
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    let o = godwit(&t, data_dir.path(), &["restore", "--confirm", &t.target().database()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(t.schema().await, before, "the schema as the backup had it");
    let o = godwit(&t, data_dir.path(), &["up"]);
    assert!(o.status.success(), "the migration runs again: {}", text(&o));

    // The backup's record says `a` had a row it never had.
    let manifest = walk(data_dir.path()).into_iter().find(|p| p.ends_with("manifest.json")).unwrap();
    let mut entries: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    for table in entries[0]["tables"].as_array_mut().unwrap() {
        if table["table"].as_str().is_some_and(|n| n == "a" || n.ends_with(".a")) {
            table["rows"] = serde_json::json!(1);
        }
    }
    std::fs::write(&manifest, serde_json::to_vec(&entries).unwrap()).unwrap();
    let o = godwit(&t, data_dir.path(), &["restore", "--confirm", &t.target().database()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!text(&o).contains("pending again"), "{}", text(&o));
    assert!(!text(&o).contains("may remain"), "{}", text(&o));
    let drift = printed(&o, " drift").expect("a drift command");
    assert!(t.log().await.contains(&"restore:failed:1".to_string()), "{:?}", t.log().await);
    let pasted = Command::new("sh")
        .arg("-c")
        .arg(&drift)
        .current_dir(t.dir.path())
        .env("GODWIT_DATA_DIR", data_dir.path())
        .env("PATH", first_on_path(Path::new(env!("CARGO_BIN_EXE_godwit")).parent().unwrap()))
        .output()
        .unwrap();
    assert!(pasted.status.success(), "{drift}: {}", text(&pasted));
}

/// A migration that drops a column a view reads leaves MariaDB's view unreadable, and mariadb-dump
/// then cannot back the database up. Lint says so before the run, the run says so when it ends,
/// `check` reports the view, and a backup is refused with its name and the way out (and leaves no
/// file); once it is dropped by hand, backups work again.
#[tokio::test]
async fn a_view_a_migration_breaks_is_said_before_during_and_after() {
    let t = TestDb::new(Dialect::MySql).await;
    t.write(
        "1_items.up.sql",
        "CREATE TABLE items (id INT PRIMARY KEY, name TEXT);\nCREATE VIEW v_items AS SELECT id, name FROM items;",
    );
    t.write("1_items.down.sql", "DROP VIEW v_items;\nDROP TABLE items;");
    let data_dir = tempfile::tempdir().unwrap();
    assert!(godwit(&t, data_dir.path(), &["up"]).status.success());
    t.write("2_drop_name.up.sql", "ALTER TABLE items DROP COLUMN name;");
    t.write("2_drop_name.down.sql", "ALTER TABLE items ADD COLUMN name TEXT;");

    let o = godwit(&t, data_dir.path(), &["lint", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let errors: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(errors, ["breaks-view"], "{v}");
    // The file named alone (as a protected run's remedy names it) knows the views before it.
    let o = godwit(&t, data_dir.path(), &["lint", "--dialect", "mysql", "migrations/2_drop_name.up.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("[breaks-view]"), "{}", text(&o));

    let o = godwit(&t, data_dir.path(), &["up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("warning: this run left view v_items unreadable"), "{}", text(&o));

    let o = godwit(&t, data_dir.path(), &["check", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["kind"], "broken_view", "{v}");

    let o = godwit(&t, data_dir.path(), &["--errors", "json", "backup"]);
    assert_eq!(o.status.code(), Some(ErrorKind::Decision.exit_code()), "{}", text(&o));
    let problem = common::problem_in(&o.stderr);
    assert_eq!(problem, "broken_views", "{}", text(&o));
    assert!(files(data_dir.path()).iter().all(|f| !f.contains(".sql")), "no backup file: {:?}", files(data_dir.path()));

    t.exec("DROP VIEW v_items").await;
    let o = godwit(&t, data_dir.path(), &["backup"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(godwit(&t, data_dir.path(), &["check"]).status.success());
}

/// SQLite keeps a view whose table is dropped: `check` names it (a backup of the file still works).
#[tokio::test]
async fn a_sqlite_view_whose_table_is_gone_is_reported() {
    let t = TestDb::new(Dialect::Sqlite).await;
    t.write("1_items.sql", "CREATE TABLE items (id INT);\nCREATE VIEW v_items AS SELECT id FROM items;");
    t.write("2_gone.sql", "DROP TABLE items;");
    let data_dir = tempfile::tempdir().unwrap();
    let o = godwit(&t, data_dir.path(), &["up"]);
    assert!(text(&o).contains("this run left view v_items unreadable"), "{}", text(&o));
    let o = godwit(&t, data_dir.path(), &["check", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["kind"], "broken_view", "{v}");
    assert!(godwit(&t, data_dir.path(), &["backup"]).status.success());
}
