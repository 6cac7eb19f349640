//! Repeatable migrations on the three databases, through the CLI, with sqlx-cli 0.9 running the
//! same project's versioned migrations before and after: a changed file is applied once, an
//! unchanged one never; a failing one is reported and (PostgreSQL, SQLite) leaves the old
//! definition; a rollback rebuilds them; `verify` proves them.

mod common;

use common::TestDb;
use common::sqlx_cli::{godwit, ok, sqlx};
use godwit::db::Dialect;
use serde_json::json;

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
    // The views use the column on the way down: they go first, and the rollback rebuilds them.
    t.write(
        "2_email.down.sql",
        "DROP VIEW IF EXISTS v_names;\nDROP VIEW IF EXISTS v_emails;\nALTER TABLE t DROP COLUMN email;\n",
    );
    view(&t, "SELECT id, name FROM t");
    // Sorted first, and it needs migration 2's column: a rollback of 2 cannot rebuild it.
    std::fs::write(
        t.dir.path().join("repeatable/a_emails.sql"),
        "DROP VIEW IF EXISTS v_emails;\nCREATE VIEW v_emails AS SELECT email FROM t;\n",
    )
    .unwrap();
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
    assert_eq!(applies(&t).await, ["a_emails.sql:ok", "views.sql:ok"]);

    // Changed: applied once.
    view(&t, "SELECT id, name, email FROM t");
    ok(godwit(&t, &["up"]));
    ok(godwit(&t, &["up"]));
    assert_eq!(applies(&t).await, ["a_emails.sql:ok", "views.sql:ok", "views.sql:ok"]);
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
    assert_eq!(
        (&doc["repeatables"][0]["state"], &doc["repeatables"][1]["state"]),
        (&json!("applied"), &json!("failed"))
    );

    // Fixed: the next up applies it. A rollback then rebuilds them over what the down left: the one
    // that needs what the down removed is said, and the others are rebuilt all the same.
    view(&t, "SELECT id, name FROM t");
    ok(godwit(&t, &["up"]));
    let down = ok(godwit(&t, &["down"]));
    assert_eq!(columns(&t).await, ["id", "name"]);
    let doc: serde_json::Value = serde_json::from_str(&ok(godwit(&t, &["status", "--json"])).stdout).unwrap();
    if d == Dialect::Sqlite {
        // SQLite makes a view over a column that is not there, and only fails reading it: said as the
        // run ends, as for any view a run leaves unreadable.
        assert!(down.stdout.contains("rebuilt 2 repeatable file(s)"), "{}", down.stdout);
        assert!(down.stderr.contains("v_emails"), "{}", down.stderr);
    } else {
        assert!(down.stdout.contains("rebuilt 1 repeatable file(s)"), "{}", down.stdout);
        assert!(down.stderr.contains("a_emails.sql") && down.stderr.contains("not rebuilt"), "{}", down.stderr);
        assert_eq!(doc["repeatables"][0]["state"], "failed", "{doc}");
    }

    // sqlx-cli after Godwit: it applies the versioned migration Godwit rolled back, and agrees on
    // every checksum; Godwit sees the project as sqlx-cli left it.
    let info = sqlx(t.dir.path(), &t.url, &["migrate", "info"]);
    assert!(info.stdout.contains("pending") && !info.stdout.contains("checksum"), "{}", info.stdout);
    sqlx(t.dir.path(), &t.url, &["migrate", "run"]);
    // The one not rebuilt is applied on the next up, and only it.
    let up = ok(godwit(&t, &["up"]));
    if d != Dialect::Sqlite {
        assert!(up.stdout.contains("Applied 1 repeatable file(s)"), "{}", up.stdout);
    }
    ok(godwit(&t, &["check"]));
    let doc: serde_json::Value = serde_json::from_str(&ok(godwit(&t, &["status", "--json"])).stdout).unwrap();
    assert_eq!(
        (doc["summary"]["pending"].as_i64(), doc["repeatables"][0]["state"].as_str()),
        (Some(0), Some("applied"))
    );

    // drift replays the migrations and the repeatable files applied here: no hand change.
    let drift = ok(godwit(&t, &["drift"]));
    assert!(drift.stdout.contains("has the schema"), "{}", drift.stdout);

    // verify proves them over the newest schema, again over themselves, and after a rollback.
    let verify = ok(godwit(&t, &["verify", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap();
    assert_eq!(doc["repeatables"][0]["outcome"]["outcome"], "restores", "{doc}");
    assert_eq!(doc["repeatables"][1]["outcome"]["outcome"], "restores", "{doc}");

    // A down that fails says to roll back again, counting migrations, not the repeatable files.
    t.write("2_email.down.sql", "SELECT nope FROM t;\n");
    let failed = godwit(&t, &["down"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("0 of 1 migration(s) rolled back"), "{}", failed.stderr);
    assert!(failed.stderr.contains("roll back again: `godwit down`"), "{}", failed.stderr);
}

on_each_db!(applied_when_changed_and_rebuilt_after_a_rollback);
