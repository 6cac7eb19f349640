//! Repeatable migrations on the three databases, through the CLI, with sqlx-cli 0.9 running the
//! same project's versioned migrations before and after: a changed file is applied once, an
//! unchanged one never; a failing one is reported and (PostgreSQL, SQLite) leaves the old
//! definition; a rollback rebuilds them; `verify` proves them.

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

fn sqlx(dir: &Path, url: &str, args: &[&str]) -> Out {
    let o = output(Command::new(sqlx_cli()).current_dir(dir).args(args).args(["--database-url", url]));
    assert_eq!(o.code, 0, "sqlx {args:?}: {}{}", o.stdout, o.stderr);
    o
}

fn godwit(t: &TestDb, args: &[&str]) -> Out {
    output(
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .env("HOME", t.dir.path().join("home"))
            .env_remove("XDG_CONFIG_HOME")
            .args(["--errors", "json"])
            .args(args),
    )
}

fn ok(o: Out) -> Out {
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    o
}

/// `outcome` of each `repeatable` event in the log, oldest first.
async fn applies(t: &TestDb) -> Vec<String> {
    let q = match t.dialect {
        Dialect::MySql => {
            "SELECT CONCAT(description, ':', outcome) FROM _godwit_log WHERE event = 'repeatable' ORDER BY id"
        }
        _ => "SELECT description || ':' || outcome FROM _godwit_log WHERE event = 'repeatable' ORDER BY id",
    };
    t.strings(q).await
}

/// The view's columns, as the database has them.
async fn columns(t: &TestDb) -> Vec<String> {
    let q = match t.dialect {
        Dialect::Sqlite => "SELECT name FROM pragma_table_info('v_names') ORDER BY cid".to_string(),
        Dialect::Postgres => "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'v_names' \
                              ORDER BY ordinal_position"
            .to_string(),
        Dialect::MySql => format!(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = '{}' AND \
             table_name = 'v_names' ORDER BY ordinal_position",
            t.name
        ),
    };
    t.strings(&q).await
}

fn view(t: &TestDb, select: &str) {
    let dir = t.dir.path().join("repeatable");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("views.sql"), format!("DROP VIEW IF EXISTS v_names;\nCREATE VIEW v_names AS {select};\n"))
        .unwrap();
}

async fn applied_when_changed_and_rebuilt_after_a_rollback(d: Dialect) {
    let t = TestDb::new(d).await;
    std::fs::write(
        t.dir.path().join("godwit.toml"),
        format!("id = \"rp-{}\"\nmigrations = \"migrations\"\n\n[env.dev]\nurl = \"{}\"\n", t.name, t.url),
    )
    .unwrap();
    t.write("1_t.up.sql", "CREATE TABLE t (id INTEGER, name VARCHAR(50));\nINSERT INTO t VALUES (1, 'ada');\n");
    t.write("1_t.down.sql", "DROP VIEW IF EXISTS v_names;\nDROP TABLE t;\n");
    t.write("2_email.up.sql", "ALTER TABLE t ADD COLUMN email VARCHAR(50);\n");
    // The view uses the column on the way down: it goes first, and the rollback rebuilds it.
    t.write("2_email.down.sql", "DROP VIEW IF EXISTS v_names;\nALTER TABLE t DROP COLUMN email;\n");
    view(&t, "SELECT id, name FROM t");
    if d == Dialect::Sqlite {
        sqlx(t.dir.path(), &t.url, &["database", "create"]);
    }

    // sqlx-cli runs the versioned migrations and never sees the repeatable folder.
    sqlx(t.dir.path(), &t.url, &["migrate", "run"]);
    assert_eq!(columns(&t).await, Vec::<String>::new(), "sqlx-cli made no view");

    let plan = ok(godwit(&t, &["up", "--dry-run"]));
    assert!(plan.stdout.contains("-- repeatable views.sql"), "{}", plan.stdout);
    ok(godwit(&t, &["up"]));
    assert_eq!(columns(&t).await, ["id", "name"]);
    assert_eq!(t.strings("SELECT name FROM v_names").await, ["ada"]);
    // Unchanged: never applied again.
    let again = ok(godwit(&t, &["up"]));
    assert!(again.stdout.contains("Nothing to apply"), "{}", again.stdout);
    assert_eq!(applies(&t).await, ["views.sql:ok"]);

    // Changed: applied once.
    view(&t, "SELECT id, name, email FROM t");
    ok(godwit(&t, &["up"]));
    ok(godwit(&t, &["up"]));
    assert_eq!(applies(&t).await, ["views.sql:ok", "views.sql:ok"]);
    assert_eq!(columns(&t).await, ["id", "name", "email"]);

    // A failing one is reported; in a transaction (PostgreSQL, SQLite) the old view stays.
    std::fs::write(
        t.dir.path().join("repeatable/views.sql"),
        "DROP VIEW IF EXISTS v_names;\nCREATE VIEW v_names AS SELECT id FROM t;\nSELECT nope FROM t;\n",
    )
    .unwrap();
    let failed = godwit(&t, &["up"]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    assert_eq!(failed.problem_is(), "repeatable_failed");
    match d {
        Dialect::MySql => {
            assert_eq!(columns(&t).await, ["id"], "MariaDB commits each DDL statement");
            assert!(failed.stderr.contains("left part way"), "{}", failed.stderr);
            assert_eq!(applies(&t).await.last().unwrap(), "views.sql:partial");
        }
        _ => {
            assert_eq!(columns(&t).await, ["id", "name", "email"], "the old definition stays");
            assert!(failed.stderr.contains("changed nothing"), "{}", failed.stderr);
            assert_eq!(applies(&t).await.last().unwrap(), "views.sql:failed");
        }
    }
    let check = godwit(&t, &["check", "--json"]);
    assert_ne!(check.code, 0);
    assert!(check.stdout.contains("\"repeatable_failed\""), "{}", check.stdout);
    let status = ok(godwit(&t, &["status", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["repeatables"][0]["state"], "failed", "{doc}");

    // Fixed: the next up applies it. A rollback then rebuilds it over what the down left.
    view(&t, "SELECT id, name FROM t");
    ok(godwit(&t, &["up"]));
    let down = ok(godwit(&t, &["down"]));
    assert!(down.stdout.contains("rebuilt 1 repeatable file(s)"), "{}", down.stdout);
    assert_eq!(columns(&t).await, ["id", "name"]);
    assert_eq!(applies(&t).await.len(), 5);

    // sqlx-cli after Godwit: it applies the versioned migration Godwit rolled back, and agrees on
    // every checksum; Godwit sees the project as sqlx-cli left it.
    let info = sqlx(t.dir.path(), &t.url, &["migrate", "info"]);
    assert!(info.stdout.contains("pending") && !info.stdout.contains("checksum"), "{}", info.stdout);
    sqlx(t.dir.path(), &t.url, &["migrate", "run"]);
    ok(godwit(&t, &["check"]));
    let doc: serde_json::Value = serde_json::from_str(&ok(godwit(&t, &["status", "--json"])).stdout).unwrap();
    assert_eq!(
        (doc["summary"]["pending"].as_i64(), doc["repeatables"][0]["state"].as_str()),
        (Some(0), Some("applied"))
    );

    // verify proves them over the newest schema, again over themselves, and after a rollback.
    let verify = ok(godwit(&t, &["verify", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap();
    assert_eq!(doc["repeatables"][0]["outcome"]["outcome"], "restores", "{doc}");
}

on_each_db!(applied_when_changed_and_rebuilt_after_a_rollback);
