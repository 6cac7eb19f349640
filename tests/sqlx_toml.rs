//! sqlx projects as they are configured: with a `sqlx.toml` that sets every `[migrate]` key and the
//! URL's variable, sqlx-cli 0.9 (built with its default features, as people install it; the setup
//! script installs it) and Godwit take turns on one database on each of the three, and each sees
//! what the other did. The files have CRLF line endings and `ignored-chars` drops `\r`, so a
//! checksum computed any other way would make either tool call the other's history edited.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Out, TestDb, output};
use godwit::db::Dialect;

fn sqlx_cli() -> PathBuf {
    let p = dirs::home_dir().unwrap().join(".cache/godwit/tools/sqlx-cli-0.9.0-default/bin/sqlx");
    assert!(p.is_file(), "sqlx-cli is not at {} (scripts/setup-test.sh installs it)", p.display());
    p
}

/// sqlx-cli in the project folder, the URL in `APP_DB` as sqlx.toml says.
fn sqlx(dir: &Path, url: &str, args: &[&str]) -> Out {
    let o = output(Command::new(sqlx_cli()).current_dir(dir).env("APP_DB", url).args(args));
    assert_eq!(o.code, 0, "sqlx {args:?}: {}{}", o.stdout, o.stderr);
    o
}

/// Godwit in the same folder, the same way: no --url, no --source.
fn godwit(dir: &Path, url: &str, args: &[&str]) -> Out {
    output(Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(dir).env("APP_DB", url).args(args))
}

fn ok(o: Out) -> Out {
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    o
}

/// What `sqlx migrate info` says of each version: `installed`, `pending`, or with a checksum that
/// differs.
fn sqlx_sees(dir: &Path, url: &str) -> Vec<String> {
    let o = sqlx(dir, url, &["migrate", "info"]);
    o.stdout.lines().filter(|l| l.contains('/')).map(|l| l.split(' ').next().unwrap().to_string()).collect()
}

fn godwit_pending(dir: &Path, url: &str) -> Vec<i64> {
    let o = ok(godwit(dir, url, &["status", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["summary"]["drift"], 0, "no checksum differs: {v}");
    v["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == "pending")
        .map(|m| m["version"].as_i64().unwrap())
        .collect()
}

/// The history table sqlx.toml names, for each database, and the schema made for it.
struct Layout {
    toml: String,
    history: String,
    /// A MariaDB "schema" is a database of its own: dropped when the test ends.
    drop: Option<String>,
}

fn layout(t: &TestDb) -> Layout {
    let (table, schemas, history, drop) = match t.dialect {
        Dialect::Postgres => {
            ("meta.schema_history".to_string(), "\"meta\"".to_string(), "meta.schema_history".into(), None)
        }
        Dialect::MySql => {
            let meta = format!("{}_meta", t.name);
            (format!("{meta}.schema_history"), format!("\"{meta}\""), format!("{meta}.schema_history"), Some(meta))
        }
        // A SQLite schema is an attached file: `main` is the one there is. Quoted, with a space.
        Dialect::Sqlite => {
            ("main.\\\"Schema History\\\"".into(), "\"main\"".into(), "main.\"Schema History\"".into(), None)
        }
    };
    let toml = format!(
        "[common]\ndatabase-url-var = \"APP_DB\"\n\n[migrate]\ntable-name = \"{table}\"\n\
         migrations-dir = \"db/migrations\"\ncreate-schemas = [{schemas}]\nignored-chars = [\"\\r\"]\n\n\
         [migrate.defaults]\nmigration-type = \"reversible\"\nmigration-versioning = \"sequential\"\n"
    );
    Layout { toml, history, drop }
}

fn project(t: &TestDb, l: &Layout) -> PathBuf {
    let dir = t.dir.path().to_path_buf();
    std::fs::write(dir.join("sqlx.toml"), &l.toml).unwrap();
    let m = dir.join("db/migrations");
    std::fs::create_dir_all(&m).unwrap();
    let crlf = |s: &str| s.replace('\n', "\r\n");
    std::fs::write(
        m.join("0001_items.up.sql"),
        crlf("CREATE TABLE items (id INT PRIMARY KEY);\nINSERT INTO items VALUES (1);\n"),
    )
    .unwrap();
    std::fs::write(m.join("0001_items.down.sql"), crlf("DROP TABLE items;\n")).unwrap();
    std::fs::write(m.join("0002_tags.up.sql"), crlf("CREATE TABLE tags (id INT PRIMARY KEY);\n")).unwrap();
    std::fs::write(m.join("0002_tags.down.sql"), crlf("DROP TABLE tags;\n")).unwrap();
    dir
}

async fn versions(t: &TestDb, history: &str) -> Vec<String> {
    let text = if t.dialect == Dialect::MySql { "CHAR" } else { "TEXT" };
    t.strings(&format!("SELECT CAST(version AS {text}) FROM {history} ORDER BY version")).await
}

/// Neither tool made sqlx's default table: both followed `table-name`.
async fn no_default_table(t: &TestDb) {
    let q = match t.dialect {
        Dialect::Postgres => {
            "SELECT table_schema::text FROM information_schema.tables WHERE table_name = '_sqlx_migrations'"
        }
        Dialect::MySql => {
            "SELECT CAST(table_schema AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = '_sqlx_migrations'"
        }
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE name = '_sqlx_migrations'",
    };
    assert_eq!(t.strings(q).await, Vec::<String>::new());
}

async fn sqlx_cli_and_godwit_take_turns(d: Dialect) {
    let t = TestDb::new(d).await;
    let l = layout(&t);
    let dir = project(&t, &l);
    let url = t.url.clone();
    if d == Dialect::Sqlite {
        sqlx(&dir, &url, &["database", "create"]);
    }

    // sqlx-cli applies the set; Godwit sees it at head, finds no drift and applies nothing.
    sqlx(&dir, &url, &["migrate", "run"]);
    assert!(godwit_pending(&dir, &url).is_empty());
    let drift = ok(godwit(&dir, &url, &["drift"]));
    assert!(drift.stdout.contains("has the schema"), "{}", drift.stdout);
    ok(godwit(&dir, &url, &["check"]));
    let up = ok(godwit(&dir, &url, &["up"]));
    assert!(up.stdout.contains("Nothing to apply"), "{}", up.stdout);
    assert_eq!(versions(&t, &l.history).await, ["1", "2"]);

    // A rollback by sqlx-cli is pending to Godwit; Godwit applies it again, and sqlx-cli sees it
    // installed with the same checksum (a differing one would stop `migrate run`).
    sqlx(&dir, &url, &["migrate", "revert"]);
    assert_eq!(godwit_pending(&dir, &url), [2]);
    ok(godwit(&dir, &url, &["up"]));
    assert_eq!(sqlx_sees(&dir, &url), ["1/installed", "2/installed"]);
    let again = sqlx(&dir, &url, &["migrate", "run"]);
    assert!(!again.stdout.contains("Applied"), "{}", again.stdout);

    // A rollback by Godwit is pending to sqlx-cli.
    ok(godwit(&dir, &url, &["down"]));
    assert_eq!(sqlx_sees(&dir, &url), ["1/installed", "2/pending"]);
    assert_eq!(versions(&t, &l.history).await, ["1"]);
    // verify replays every down on a scratch database beside this one: its history stays there.
    ok(godwit(&dir, &url, &["verify"]));
    assert_eq!(versions(&t, &l.history).await, ["1"]);
    no_default_table(&t).await;

    // `new` numbers and shapes the next one as `sqlx migrate add` would.
    let made = ok(godwit(&dir, &url, &["new", "add_notes"]));
    assert!(
        made.stdout.contains("0003_add_notes.up.sql") && made.stdout.contains("0003_add_notes.down.sql"),
        "{}",
        made.stdout
    );

    // Godwit first, on an empty database: sqlx-cli finds it at head and applies nothing.
    let fresh = TestDb::new(d).await;
    let l2 = layout(&fresh);
    let dir2 = project(&fresh, &l2);
    ok(godwit(&dir2, &fresh.url, &["up"]));
    assert_eq!(versions(&fresh, &l2.history).await, ["1", "2"]);
    assert_eq!(sqlx_sees(&dir2, &fresh.url), ["1/installed", "2/installed"]);
    let none = sqlx(&dir2, &fresh.url, &["migrate", "run"]);
    assert!(!none.stdout.contains("Applied"), "{}", none.stdout);
    sqlx(&dir2, &fresh.url, &["migrate", "revert"]);
    assert_eq!(godwit_pending(&dir2, &fresh.url), [2]);
    no_default_table(&fresh).await;

    for meta in [l.drop, l2.drop].into_iter().flatten() {
        t.exec(&format!("DROP DATABASE {meta}")).await;
    }
}

on_each_db!(sqlx_cli_and_godwit_take_turns);
